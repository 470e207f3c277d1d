/* Batch and layer normalisation, forward and backward.
 *
 * Every reduction sees its (contiguous) input as (A, C, B) and reduces, for each c < C, the
 * M = A*B elements (a*C + c)*B + b. The M elements are cut into chunks of a fixed length
 * chosen by the host from M alone; one work-item reduces one chunk in order and a second
 * kernel combines the chunks of each c in order. No local memory, no atomics: the result
 * bits do not depend on the work-group size or the device's limits.
 *   batch norm statistics  (N, C, S)          layer norm statistics  (1, rows, inner)
 * Element-wise kernels find an element's statistics at (e / sdiv) % smod and its affine
 * parameters at (e / adiv) % amod. */

/* Products and sums stay separate operations (no fused multiply-add contraction), so that
 * twin kernels and other devices round the same way. */
#pragma OPENCL FP_CONTRACT OFF

/* (e / d) % m, in 32-bit arithmetic when everything fits (64-bit division is slow on GPUs
 * and CPUs alike); the same value either way. */
static inline long norm_at(long e, long d, long m)
{
    if (e < 4294967296L && d < 4294967296L && m < 4294967296L) return (long)(((uint)e / (uint)d) % (uint)m);
    return (e / d) % m;
}

/* Declares a, b: the (a, b) coordinates of flat reduction position m0 (m = a*B + b). */
#define CHUNK_BEGIN(m0, a, b)                                                                      \
    long a = (m0) / B, b = (m0) - ((m0) / B) * B

/* norm_stats_partial_f32: mean and M2 (sum of squared deviations) of chunk k of index c,
 * written at c*nchunks + k.  Args: x, xoff, A, C, B, chunk, nchunks, pmean, pm2.
 * NDRange: 1-D >= C*nchunks. */
kernel void norm_stats_partial_f32(global const float *x, long xoff, long A, long C, long B, long chunk,
                                   long nchunks, global float *pmean, global float *pm2)
{
    long gid = get_global_id(0);
    if (gid >= C * nchunks) return;
    long c = gid / nchunks, k = gid - c * nchunks;
    long M = A * B, m0 = k * chunk, m1 = min(M, m0 + chunk);
    float s = 0.0f;
    {
        CHUNK_BEGIN(m0, a, b);
        for (long m = m0; m < m1; m++) {
            s += x[xoff + (a * C + c) * B + b];
            if (++b == B) { b = 0; a++; }
        }
    }
    float mean = s / (float)(m1 - m0), q = 0.0f;
    {
        CHUNK_BEGIN(m0, a, b);
        for (long m = m0; m < m1; m++) {
            float d = x[xoff + (a * C + c) * B + b] - mean;
            q += d * d;
            if (++b == B) { b = 0; a++; }
        }
    }
    pmean[gid] = mean;
    pm2[gid] = q;
}

/* norm_stats_merge_f32: combines the chunks of each c in order (Chan et al.'s pairwise
 * update) into mean[c] and invstd[c] = 1/sqrt(var + eps), var the biased variance. When
 * upd_mean / upd_var are set, updates running statistics in place (PyTorch):
 *   rm = (1 - momentum) rm + momentum mean,  rv = (1 - momentum) rv + momentum var M/(M-1).
 * Args: pmean, pm2, C, M, chunk, nchunks, eps, mean, invstd, rm, rmoff, rmstride, rv, rvoff,
 * rvstride, momentum, upd_mean, upd_var.  NDRange: 1-D >= C. */
kernel void norm_stats_merge_f32(global const float *pmean, global const float *pm2, long C, long M, long chunk,
                                 long nchunks, float eps, global float *mean_out, global float *invstd_out,
                                 global float *rm, long rmoff, long rmstride, global float *rv, long rvoff,
                                 long rvstride, float momentum, int upd_mean, int upd_var)
{
    long c = get_global_id(0);
    if (c >= C) return;
    float mean = 0.0f, m2 = 0.0f, cnt = 0.0f;
    for (long k = 0; k < nchunks; k++) {
        float nb = (float)(min(M, (k + 1) * chunk) - k * chunk);
        float mb = pmean[c * nchunks + k], qb = pm2[c * nchunks + k];
        float tot = cnt + nb, delta = mb - mean;
        mean += delta * (nb / tot);
        m2 += qb + delta * delta * (cnt * nb / tot);
        cnt = tot;
    }
    float var = m2 / (float)M;
    mean_out[c] = mean;
    invstd_out[c] = 1.0f / sqrt(var + eps);
    if (upd_mean) rm[rmoff + c * rmstride] = (1.0f - momentum) * rm[rmoff + c * rmstride] + momentum * mean;
    if (upd_var)
        rv[rvoff + c * rvstride] = (1.0f - momentum) * rv[rvoff + c * rvstride] + momentum * (m2 / (float)(M - 1));
}

/* norm_eval_stats_f32: mean[c] = rm[c], invstd[c] = 1/sqrt(rv[c] + eps) from running
 * statistics (views of stride rmstride / rvstride).  Args: rm, rmoff, rmstride, rv, rvoff,
 * rvstride, C, eps, mean, invstd.  NDRange: 1-D >= C. */
kernel void norm_eval_stats_f32(global const float *rm, long rmoff, long rmstride, global const float *rv, long rvoff,
                                long rvstride, long C, float eps, global float *mean_out, global float *invstd_out)
{
    long c = get_global_id(0);
    if (c >= C) return;
    mean_out[c] = rm[rmoff + c * rmstride];
    invstd_out[c] = 1.0f / sqrt(rv[rvoff + c * rvstride] + eps);
}

/* norm_apply_f32: y[e] = (x[e] - mean[s]) * invstd[s] * w[a] + bias[a] for e < n, with
 * s = (e / sdiv) % smod, a = (e / adiv) % amod; w / bias skipped when has_w / has_b is 0.
 * Args: y, yoff, x, xoff, n, mean, invstd, sdiv, smod, w, woff, bias, boff, adiv, amod,
 * has_w, has_b.  NDRange: 1-D >= n. */
kernel void norm_apply_f32(global float *y, long yoff, global const float *x, long xoff, long n,
                           global const float *mean, global const float *invstd, long sdiv, long smod,
                           global const float *w, long woff, global const float *bias, long boff, long adiv,
                           long amod, int has_w, int has_b)
{
    long e = get_global_id(0);
    if (e >= n) return;
    long s = norm_at(e, sdiv, smod), a = norm_at(e, adiv, amod);
    float v = (x[xoff + e] - mean[s]) * invstd[s];
    if (has_w) v *= w[woff + a];
    if (has_b) v += bias[boff + a];
    y[yoff + e] = v;
}

/* norm_bwd_partial_f32: for chunk k of reduction index c (geometry (A, C, B) as above),
 * p1 = sum g and p2 = sum g * xhat, g = dy[e] * (w_in ? w[a] : 1), xhat = (x[e] - mean[s]) *
 * invstd[s]; written at c*nchunks + k.
 * Args: x, xoff, dy, dyoff, mean, invstd, sdiv, smod, w, woff, adiv, amod, w_in, A, C, B,
 * chunk, nchunks, p1, p2.  NDRange: 1-D >= C*nchunks. */
kernel void norm_bwd_partial_f32(global const float *x, long xoff, global const float *dy, long dyoff,
                                 global const float *mean, global const float *invstd, long sdiv, long smod,
                                 global const float *w, long woff, long adiv, long amod, int w_in, long A, long C,
                                 long B, long chunk, long nchunks, global float *p1, global float *p2)
{
    long gid = get_global_id(0);
    if (gid >= C * nchunks) return;
    long c = gid / nchunks, k = gid - c * nchunks;
    long M = A * B, m0 = k * chunk, m1 = min(M, m0 + chunk);
    float s1 = 0.0f, s2 = 0.0f;
    CHUNK_BEGIN(m0, a, b);
    for (long m = m0; m < m1; m++) {
        long e = (a * C + c) * B + b;
        long s = norm_at(e, sdiv, smod);
        float g = dy[dyoff + e];
        if (w_in) g *= w[woff + norm_at(e, adiv, amod)];
        s1 += g;
        s2 += g * ((x[xoff + e] - mean[s]) * invstd[s]);
        if (++b == B) { b = 0; a++; }
    }
    p1[gid] = s1;
    p2[gid] = s2;
}

/* norm_bwd_dx_f32: dx[e] = invstd[s] * (g - s1[s]*invM - xhat*s2[s]*invM) * (w_out ? w[a] : 1),
 * g = dy[e] * (w_in ? w[a] : 1), xhat as in norm_bwd_partial_f32. invM = 0 gives the
 * eval-mode (constant statistics) gradient.
 * Args: dx, x, xoff, dy, dyoff, n, mean, invstd, sdiv, smod, s1, s2, invM, w, woff, adiv,
 * amod, w_in, w_out.  NDRange: 1-D >= n. */
kernel void norm_bwd_dx_f32(global float *dx, global const float *x, long xoff, global const float *dy, long dyoff,
                            long n, global const float *mean, global const float *invstd, long sdiv, long smod,
                            global const float *s1, global const float *s2, float invM, global const float *w,
                            long woff, long adiv, long amod, int w_in, int w_out)
{
    long e = get_global_id(0);
    if (e >= n) return;
    long s = norm_at(e, sdiv, smod), a = norm_at(e, adiv, amod);
    float g = dy[dyoff + e];
    if (w_in) g *= w[woff + a];
    float is = invstd[s];
    float xhat = (x[xoff + e] - mean[s]) * is;
    float r = is * (g - s1[s] * invM - xhat * (s2[s] * invM));
    if (w_out) r *= w[woff + a];
    dx[e] = r;
}
