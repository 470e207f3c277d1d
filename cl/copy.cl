/* Data movement: fills and strided copies (contiguous(), writes to and reads from views). */

/* fill_f32: x[off + i] = value for i < n.  Args: x, off, n, value.  NDRange: 1-D >= n. */
kernel void fill_f32(global float *x, long off, long n, float value)
{
    long i = get_global_id(0);
    if (i < n) x[off + i] = value;
}

/* fill_i32: as fill_f32 for int tensors. */
kernel void fill_i32(global int *x, long off, long n, int value)
{
    long i = get_global_id(0);
    if (i < n) x[off + i] = value;
}

/* fill_strided_f32: fills a view.  Args: x, off, geometry (shape, stride), n, value. */
kernel void fill_strided_f32(global float *x, long off, long8 shape, long8 stride, long n, float value)
{
    long i = get_global_id(0);
    if (i < n) x[off + clgrad_offset8(i, shape, stride)] = value;
}

/* copy_strided_f32: dst view <- src view of the same shape (n elements), row-major order.
 * Args: dst, doff, dshape, dstride, src, soff, sshape, sstride, n.  NDRange: 1-D >= n.
 * Moves 32-bit words, so it serves i32 tensors too. */
kernel void copy_strided_f32(global float *dst, long doff, long8 dshape, long8 dstride,
                             global const float *src, long soff, long8 sshape, long8 sstride, long n)
{
    long i = get_global_id(0);
    if (i < n) dst[doff + clgrad_offset8(i, dshape, dstride)] = src[soff + clgrad_offset8(i, sshape, sstride)];
}

/* copy_vec_f32: contiguous copy of n 32-bit words, COPY_VW words per work-item through
 * vector loads (any offsets: vloadn/vstoren need only element alignment).
 * Args: dst, doff, src, soff, n.  NDRange: 1-D >= ceil(n / COPY_VW).  -D COPY_VW: 4 or 8. */
#ifndef COPY_VW
#define COPY_VW 8
#endif
#define CLGRAD_CAT_(a, b) a##b
#define CLGRAD_CAT(a, b) CLGRAD_CAT_(a, b)
kernel void copy_vec_f32(global float *dst, long doff, global const float *src, long soff, long n)
{
    long i = get_global_id(0) * COPY_VW;
    if (i + COPY_VW <= n) {
        CLGRAD_CAT(vstore, COPY_VW)(CLGRAD_CAT(vload, COPY_VW)(0, src + soff + i), 0, dst + doff + i);
    } else {
        for (; i < n; i++) dst[doff + i] = src[soff + i];
    }
}
