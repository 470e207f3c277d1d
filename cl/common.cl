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

/* max(x, 0) on a float or vector type T, NaN kept (as torch.relu): the ReLU of the activation
 * kernels and of the epilogues fused into other families (cl/matmul.cl, cl/conv.cl). */
#define CLGRAD_RELU(T, x) select((x), (T)(0.0f), (x) < (T)(0.0f))

/* 2x2 max pooling with stride 2 over two input rows r0, r1 (r1 = r0 + W) of a plane, shared
 * by the pooling kernels and the convolution's fused ReLU + pooling (cl/pool.cl,
 * cl/conv.cl). The taps are scanned (0,0), (0,1), (1,0), (1,1), a tap taking over when it is
 * greater or NaN; the index is the tap's flat position in the plane, c the first tap's.
 * Four windows at once: a, b = 8 values of each row, c0 their first taps' positions. */
void clgrad_max2x2_4(float8 a, float8 b, int4 c0, int W, float4 *best, int4 *at)
{
    float4 m = a.even, v = a.odd;
    int4 i = c0;
    int4 t = isgreater(v, m) | isnan(v);
    m = select(m, v, t);
    i = select(i, c0 + 1, t);
    v = b.even;
    t = isgreater(v, m) | isnan(v);
    m = select(m, v, t);
    i = select(i, c0 + W, t);
    v = b.odd;
    t = isgreater(v, m) | isnan(v);
    *best = select(m, v, t);
    *at = select(i, c0 + W + 1, t);
}
/* One window: taps t00, t01 (row 0) and t10, t11 (row 1), stored at *best and *at. */
void clgrad_max2x2_1(float t00, float t01, float t10, float t11, int c, int W, global float *best, global int *at)
{
    float m = t00;
    int i = c;
    if (t01 > m || isnan(t01)) m = t01, i = c + 1;
    if (t10 > m || isnan(t10)) m = t10, i = c + W;
    if (t11 > m || isnan(t11)) m = t11, i = c + W + 1;
    *best = m;
    *at = i;
}
/* The backward of four windows: g at each window's recorded tap at, 0 at its other three,
 * written to the two rows r0, r1 from column 2 * the first window's. */
void clgrad_unpool2x2_4(float4 g, int4 at, int4 c0, int W, global float *r0, global float *r1)
{
    float4 z = (float4)(0.0f);
    float8 a, b;
    a.even = select(z, g, at == c0);
    a.odd = select(z, g, at == c0 + 1);
    b.even = select(z, g, at == c0 + W);
    b.odd = select(z, g, at == c0 + W + 1);
    vstore8(a, 0, r0);
    vstore8(b, 0, r1);
}
void clgrad_unpool2x2_1(float g, int at, int c, int W, global float *r0, global float *r1)
{
    r0[0] = at == c ? g : 0.0f;
    r0[1] = at == c + 1 ? g : 0.0f;
    r1[0] = at == c + W ? g : 0.0f;
    r1[1] = at == c + W + 1 ? g : 0.0f;
}
