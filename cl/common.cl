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
 * 8 right-aligned slots, unused slots have size 1 and stride 0. */
inline long clgrad_offset8(long i, long8 shape, long8 stride)
{
    long off = 0, q;
    q = i / shape.s7; off += (i - q * shape.s7) * stride.s7; i = q;
    q = i / shape.s6; off += (i - q * shape.s6) * stride.s6; i = q;
    q = i / shape.s5; off += (i - q * shape.s5) * stride.s5; i = q;
    q = i / shape.s4; off += (i - q * shape.s4) * stride.s4; i = q;
    q = i / shape.s3; off += (i - q * shape.s3) * stride.s3; i = q;
    q = i / shape.s2; off += (i - q * shape.s2) * stride.s2; i = q;
    q = i / shape.s1; off += (i - q * shape.s1) * stride.s1; i = q;
    off += i * stride.s0;
    return off;
}
