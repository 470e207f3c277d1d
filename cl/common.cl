/* Shared definitions, prepended to every kernel family by the program builder.
 *
 * Build options every program gets from the host (src/program/program.c):
 *   CLGRAD_LOCAL_MEM  1 when the device has dedicated local memory (GPUs), else 0
 *   CLGRAD_HAS_FP16   1 when cl_khr_fp16 is available
 *   CLGRAD_HAS_FP64   1 when doubles are available
 *   CLGRAD_MAX_WG     the device's maximum work-group size
 */
#ifndef CLGRAD_LOCAL_MEM
#define CLGRAD_LOCAL_MEM 0
#endif
#ifndef CLGRAD_MAX_WG
#define CLGRAD_MAX_WG 256
#endif

/* Element offset of row-major linear index i in a view packed by clgrad__geom_of():
 * 8 right-aligned slots, unused slots have size 1 and stride 0. Size-1 slots are skipped
 * (the test is uniform across work-items) and, when every size fits, the index arithmetic
 * is 32-bit: 64-bit division is several times slower on most devices. */
#define CLGRAD_OFF32(k)                                                                   \
    if (shape.s##k != 1) {                                                                \
        uint d_ = (uint)shape.s##k, q_ = u / d_;                                          \
        off += (long)(u - q_ * d_) * stride.s##k;                                         \
        u = q_;                                                                           \
    }
#define CLGRAD_OFF64(k)                                                                   \
    if (shape.s##k != 1) {                                                                \
        long q_ = i / shape.s##k;                                                         \
        off += (i - q_ * shape.s##k) * stride.s##k;                                       \
        i = q_;                                                                           \
    }
static inline long clgrad_offset8(long i, long8 shape, long8 stride)
{
    long off = 0;
    if (i < 4294967296L && all(shape < (long8)(4294967296L))) {
        uint u = (uint)i;
        CLGRAD_OFF32(7) CLGRAD_OFF32(6) CLGRAD_OFF32(5) CLGRAD_OFF32(4)
        CLGRAD_OFF32(3) CLGRAD_OFF32(2) CLGRAD_OFF32(1)
        return off + (long)u * stride.s0;
    }
    CLGRAD_OFF64(7) CLGRAD_OFF64(6) CLGRAD_OFF64(5) CLGRAD_OFF64(4)
    CLGRAD_OFF64(3) CLGRAD_OFF64(2) CLGRAD_OFF64(1)
    return off + i * stride.s0;
}

/* Maps over contiguous data, VW elements per work-item through the family's floatV, VLOAD
 * and VSTORE (defined from its vector-width option) with a scalar tail:
 *   kname(y, yoff, x, xoff, n, p0, p1)             y  = F(x)
 *   kname(dx, dxoff, x, xoff, dy, dyoff, n, p0, p1) dx = dy * D(x)
 * F and D are macros F(T, v, p0, p1), used with T = floatV and T = float.
 * NDRange: 1-D >= ceil(n / VW). */
#define CLGRAD_MAP_FWD_KERNEL(kname, F, VW)                                                     \
kernel void kname(global float *y, long yoff, global const float *x, long xoff, long n,        \
                  float p0, float p1)                                                           \
{                                                                                               \
    long i = (long)get_global_id(0) * (VW);                                                     \
    if (i + (VW) <= n) {                                                                        \
        floatV v = VLOAD(0, x + xoff + i);                                                      \
        VSTORE(F(floatV, v, p0, p1), 0, y + yoff + i);                                          \
    } else {                                                                                    \
        for (; i < n; i++) {                                                                    \
            float s = x[xoff + i];                                                              \
            y[yoff + i] = F(float, s, p0, p1);                                                  \
        }                                                                                       \
    }                                                                                           \
}
#define CLGRAD_MAP_BWD_KERNEL(kname, D, VW)                                                     \
kernel void kname(global float *dx, long dxoff, global const float *x, long xoff,              \
                  global const float *dy, long dyoff, long n, float p0, float p1)               \
{                                                                                               \
    long i = (long)get_global_id(0) * (VW);                                                     \
    if (i + (VW) <= n) {                                                                        \
        floatV v = VLOAD(0, x + xoff + i);                                                      \
        VSTORE(VLOAD(0, dy + dyoff + i) * D(floatV, v, p0, p1), 0, dx + dxoff + i);             \
    } else {                                                                                    \
        for (; i < n; i++) {                                                                    \
            float s = x[xoff + i];                                                              \
            dx[dxoff + i] = dy[dyoff + i] * D(float, s, p0, p1);                                \
        }                                                                                       \
    }                                                                                           \
}
