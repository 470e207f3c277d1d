/* Counter-based random numbers: Philox4x32-10 keyed by the 64-bit seed, counter = element
 * index / 4. Element i of a stream takes word i % 4 of block i / 4, so every value depends
 * only on (seed, i) and not on the launch shape. Also dropout, which draws its keep mask from
 * the same stream.
 *
 * Value definitions (the test references implement the same):
 *   uniform u(i) = (word >> 8) * 2^-24 in [0, 1)
 *   normal  n(i) by Box-Muller on the pair (2*(i/2), 2*(i/2) + 1): u1 = 1 - u(even) in (0, 1],
 *           u2 = u(odd), r = sqrt(-2 ln u1), value r cos(2 pi u2) (even i) or r sin(2 pi u2). */

/* Products and sums stay separate operations (no fused multiply-add contraction), so that
 * twin kernels and other devices round the same way. */
#pragma OPENCL FP_CONTRACT OFF

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline uint4 philox4x32_10(uint4 c, uint2 k)
{
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k.x += PHILOX_W0;
            k.y += PHILOX_W1;
        }
        uint hi0 = mul_hi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
        uint hi1 = mul_hi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

/* The four 24-bit integers of block `block` (element indices 4*block .. 4*block + 3). */
static inline uint4 philox_bits24(ulong seed, ulong block)
{
    uint4 ctr = (uint4)((uint)block, (uint)(block >> 32), 0u, 0u);
    uint2 key = (uint2)((uint)seed, (uint)(seed >> 32));
    return philox4x32_10(ctr, key) >> (uint4)(8u);
}

static inline float bits_to_uniform(uint b) { return (float)b * 0x1p-24f; }

/* uniform_f32: y[yoff + k] = lo + (hi - lo) * u(start + k) for k < n (the result is kept
 * below hi when hi > lo).  Args: y, yoff, n, seed, start, lo, hi.
 * NDRange: 1-D over blocks, >= (n + (start % 4) + 3) / 4; work-item q handles block
 * start / 4 + q, i.e. the up to four elements of that block that fall in [start, start + n). */
kernel void uniform_f32(global float *y, long yoff, long n, ulong seed, ulong start, float lo, float hi)
{
    ulong q = get_global_id(0);
    ulong block = start / 4 + q;
    ulong first = block * 4;
    if (first >= start + (ulong)n) return;
    uint4 b = philox_bits24(seed, block);
    uint w[4] = {b.x, b.y, b.z, b.w};
    float top = hi > lo ? nextafter(hi, lo) : hi;
    for (int j = 0; j < 4; j++) {
        ulong i = first + (ulong)j;
        if (i < start || i >= start + (ulong)n) continue;
        float v = lo + (hi - lo) * bits_to_uniform(w[j]);
        y[yoff + (long)(i - start)] = fmin(v, top);
    }
}

/* normal_f32: y[yoff + k] = mean + std * n(start + k) for k < n.  Args: y, yoff, n, seed,
 * start, mean, std.  NDRange: as uniform_f32. */
kernel void normal_f32(global float *y, long yoff, long n, ulong seed, ulong start, float mean, float std)
{
    ulong q = get_global_id(0);
    ulong block = start / 4 + q;
    ulong first = block * 4;
    if (first >= start + (ulong)n) return;
    uint4 b = philox_bits24(seed, block);
    float v[4];
    for (int p = 0; p < 2; p++) {
        uint be = p ? b.z : b.x, bo = p ? b.w : b.y;
        float u1 = (float)((1u << 24) - be) * 0x1p-24f; /* (0, 1], exact */
        float r = sqrt(-2.0f * log(u1));
        float t = 2.0f * bits_to_uniform(bo); /* angle / pi, exact */
        v[2 * p] = r * cospi(t);
        v[2 * p + 1] = r * sinpi(t);
    }
    for (int j = 0; j < 4; j++) {
        ulong i = first + (ulong)j;
        if (i < start || i >= start + (ulong)n) continue;
        y[yoff + (long)(i - start)] = mean + std * v[j];
    }
}

/* dropout_f32: y[yoff + k] = u(k) >= p ? x[k] * scale : 0 for k < n, where x[k] is element k
 * (row-major) of the view (xoff, shape, stride) and scale = 1 / (1 - p). The same kernel is
 * the backward (x = dy).  Args: y, yoff, x, xoff, shape, stride, n, seed, p, scale.
 * NDRange: 1-D >= n. */
kernel void dropout_f32(global float *y, long yoff, global const float *x, long xoff, long8 shape, long8 stride,
                        long n, ulong seed, float p, float scale)
{
    long k = get_global_id(0);
    if (k >= n) return;
    uint4 b = philox_bits24(seed, (ulong)k / 4);
    uint w[4] = {b.x, b.y, b.z, b.w};
    float u = bits_to_uniform(w[k % 4]);
    y[yoff + k] = u >= p ? x[xoff + clgrad_offset8(k, shape, stride)] * scale : 0.0f;
}
