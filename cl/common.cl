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
