/* Reductions (sum, max, min, squared deviations for var, argmax) and the elementwise helpers
 * of their backward rules.
 *
 * Every reduction follows one canonical order, so results are bit-identical run after run
 * and do not depend on the work-group size or on which of the two kernels ran:
 *   - the reduced range is split into chunks of RED_CHUNK elements (the host reduces the
 *     per-chunk results again with the same rules when there is more than one chunk);
 *   - inside a chunk, lane t (0 <= t < RED_LANES) combines elements t, t + RED_LANES, ...
 *     in increasing order;
 *   - the RED_LANES lane results are combined by a fixed pairwise tree:
 *     p[t] = op(p[t], p[t + s]) for s = RED_LANES/2, ..., 1.
 * reduce_wg_* runs the lanes on a work-group (any size), reduce_item_* in one work-item,
 * reduce_cols_* a vector of adjacent columns per work-item, reduce_rows_* the 64 lanes of
 * one row as four float16 per work-item.
 *
 * The input is viewed as (O, R, I) with element strides (so, sr, si): output q = o*I + i
 * reduces r over [0, R). Partial results are written at q * nchunk + c.
 *
 * -D values: RED_OP_<op>, the reduction (one of RED_OP_SUM, RED_OP_MAX, RED_OP_MIN,
 * RED_OP_SQDEV: sum of squared deviations from mean[q], RED_OP_ARGMAX; written by the host
 * from its enum clgrad__red_op; none given means sum), RED_LANES (a power of two), RED_VW
 * (columns per work-item of reduce_cols). */

#pragma OPENCL FP_CONTRACT OFF

#ifndef RED_LANES
#define RED_LANES 64
#endif

#if defined(RED_OP_MAX) || defined(RED_OP_ARGMAX)
#define RED_ID (-INFINITY)
#define RED_COMB(a, b) (((a) >= (b) || isnan(a)) ? (a) : (b))
#elif defined(RED_OP_MIN)
#define RED_ID INFINITY
#define RED_COMB(a, b) (((a) <= (b) || isnan(a)) ? (a) : (b))
#else
#define RED_ID 0.0f
#define RED_COMB(a, b) ((a) + (b))
#endif

/* argmax order: a NaN beats any number, then larger values, then the smaller index. */
static inline int red_arg_better(float va, int ia, float vb, int ib)
{
    if (isnan(va)) return !isnan(vb) || ia < ib;
    if (isnan(vb)) return 0;
    if (va != vb) return va > vb;
    return ia < ib;
}

/* reduce_wg_f32: one work-group per partial result.
 * Args: x, xoff, O, R, I, so, sr, si, chunk, nchunk, mean (RED_OP_SQDEV), iin (argmax input
 * indices of a later pass, same addressing as x, or NULL), has_iin, out, ooff, oidx (argmax),
 * oioff, div (the result is divided by it), lv, li (local, RED_LANES floats / ints).
 * NDRange: 1-D, (O*I*nchunk) groups of any size. */
kernel void reduce_wg_f32(global const float *x, long xoff, long O, long R, long I, long so, long sr, long si,
                          long chunk, long nchunk, global const float *mean, global const int *iin, int has_iin,
                          global float *out, long ooff, global int *oidx, long oioff, float div,
                          local float *lv, local int *li)
{
    long g = get_group_id(0);
    long npart = O * I * nchunk;
    if (g >= npart) return;
    int w = (int)get_local_id(0), W = (int)get_local_size(0);
    long c = g % nchunk, q = g / nchunk;
    long i = q % I, o = q / I;
    long start = c * chunk, end = min(R, start + chunk);
    long base = xoff + o * so + i * si;
#if defined(RED_OP_SQDEV)
    float m = mean[q];
#endif
    for (int t = w; t < RED_LANES; t += W) {
        float acc = RED_ID;
        int ai = INT_MAX;
        for (long r = start + t; r < end; r += RED_LANES) {
            float v = x[base + r * sr];
#if defined(RED_OP_ARGMAX)
            int vi = has_iin ? iin[base + r * sr] : (int)r;
            if (red_arg_better(v, vi, acc, ai)) { acc = v; ai = vi; }
#elif defined(RED_OP_SQDEV)
            float d = v - m;
            acc = acc + d * d;
#else
            acc = RED_COMB(acc, v);
#endif
        }
        lv[t] = acc;
        li[t] = ai;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = RED_LANES / 2; s > 0; s >>= 1) {
        for (int t = w; t < s; t += W) {
#if defined(RED_OP_ARGMAX)
            if (red_arg_better(lv[t + s], li[t + s], lv[t], li[t])) { lv[t] = lv[t + s]; li[t] = li[t + s]; }
#else
            lv[t] = RED_COMB(lv[t], lv[t + s]);
#endif
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (w == 0) {
        out[ooff + g] = lv[0] / div;
#if defined(RED_OP_ARGMAX)
        oidx[oioff + g] = li[0];
#endif
    }
}

/* reduce_item_f32: as reduce_wg_f32 (same arguments without the local buffers, same
 * results) with one work-item per partial result.  NDRange: 1-D >= O*I*nchunk. */
kernel void reduce_item_f32(global const float *x, long xoff, long O, long R, long I, long so, long sr, long si,
                            long chunk, long nchunk, global const float *mean, global const int *iin, int has_iin,
                            global float *out, long ooff, global int *oidx, long oioff, float div)
{
    long g = get_global_id(0);
    long npart = O * I * nchunk;
    if (g >= npart) return;
    long c = g % nchunk, q = g / nchunk;
    long i = q % I, o = q / I;
    long start = c * chunk, end = min(R, start + chunk);
    long base = xoff + o * so + i * si;
    float p[RED_LANES];
#if defined(RED_OP_ARGMAX)
    int pi[RED_LANES];
    for (int t = 0; t < RED_LANES; t++) pi[t] = INT_MAX;
#endif
#if defined(RED_OP_SQDEV)
    float m = mean[q];
#endif
    for (int t = 0; t < RED_LANES; t++) p[t] = RED_ID;
    for (long r0 = start; r0 < end; r0 += RED_LANES) {
        int n = (int)min((long)RED_LANES, end - r0);
        for (int t = 0; t < n; t++) {
            long r = r0 + t;
            float v = x[base + r * sr];
#if defined(RED_OP_ARGMAX)
            int vi = has_iin ? iin[base + r * sr] : (int)r;
            if (red_arg_better(v, vi, p[t], pi[t])) { p[t] = v; pi[t] = vi; }
#elif defined(RED_OP_SQDEV)
            float d = v - m;
            p[t] = p[t] + d * d;
#else
            p[t] = RED_COMB(p[t], v);
#endif
        }
    }
    for (int s = RED_LANES / 2; s > 0; s >>= 1)
        for (int t = 0; t < s; t++) {
#if defined(RED_OP_ARGMAX)
            if (red_arg_better(p[t + s], pi[t + s], p[t], pi[t])) { p[t] = p[t + s]; pi[t] = pi[t + s]; }
#else
            p[t] = RED_COMB(p[t], p[t + s]);
#endif
        }
    out[ooff + g] = p[0] / div;
#if defined(RED_OP_ARGMAX)
    oidx[oioff + g] = pi[0];
#endif
}

/* Vector forms of the combine step (select picks per component, as RED_COMB does). */
#if defined(RED_OP_MAX) || defined(RED_OP_ARGMAX)
#define RED_VCOMB(a, b) select((b), (a), ((a) >= (b)) | isnan(a))
#elif defined(RED_OP_MIN)
#define RED_VCOMB(a, b) select((b), (a), ((a) <= (b)) | isnan(a))
#else
#define RED_VCOMB(a, b) ((a) + (b))
#endif
/* one element folded into an accumulator (mean m for RED_OP_SQDEV) */
#if defined(RED_OP_SQDEV)
#define RED_STEP(acc, v, m) ((acc) + ((v) - (m)) * ((v) - (m)))
#else
#define RED_STEP(acc, v, m) RED_VCOMB(acc, v)
#endif

#ifndef RED_VW
#define RED_VW 16
#endif
#define RED_CAT_(a, b) a##b
#define RED_CAT(a, b) RED_CAT_(a, b)
#define floatV RED_CAT(float, RED_VW)
#define vloadV RED_CAT(vload, RED_VW)
#define vstoreV RED_CAT(vstore, RED_VW)

/* Columns j0 .. j0+RED_VW-1 of x at element offset off (stride si), each clamped to the
 * last valid column jl so that lanes past the end repeat a real element. */
static inline floatV red_gather_cols(global const float *x, long off, long si, int jl)
{
    float t[RED_VW];
    for (int j = 0; j < RED_VW; j++) t[j] = x[off + (long)min(j, jl) * si];
    return vloadV(0, t);
}

/* reduce_cols_f32: any RED_OP but argmax. Work-item (v, g) computes the partial results
 * of columns i = v*RED_VW .. v*RED_VW + RED_VW-1 (those < I) and o*nchunk + c = g, one
 * column per vector component, in the canonical lane/tree order; neighbouring work-items
 * read neighbouring columns of a row. Args as reduce_item_f32 without the argmax ones:
 * x, xoff, O, R, I, so, sr, si, chunk, nchunk, mean, out, ooff, div.
 * NDRange: 3-D, (>= ceil(I/RED_VW), O*nchunk folded over dims 1 and 2 as
 * g = id(1) + id(2) * size(1)), local (any, 1, 1). -D RED_VW (4, 8 or 16). */
kernel void reduce_cols_f32(global const float *x, long xoff, long O, long R, long I, long so, long sr, long si,
                            long chunk, long nchunk, global const float *mean, global float *out, long ooff,
                            float div)
{
    long i0 = get_global_id(0) * RED_VW, g = (long)get_global_id(1) + (long)get_global_id(2) * (long)get_global_size(1);
    if (i0 >= I || g >= O * nchunk) return;
    long c = g % nchunk, o = g / nchunk;
    long start = c * chunk, end = min(R, start + chunk);
    long base = xoff + o * so + i0 * si;
    int jl = (int)min((long)RED_VW - 1, I - 1 - i0);
    int full = jl == RED_VW - 1 && si == 1;
#if defined(RED_OP_SQDEV)
    floatV m = full ? vloadV(0, mean + o * I + i0) : red_gather_cols(mean, o * I + i0, 1, jl);
#else
    floatV m = (floatV)0.0f;
#endif
    floatV p[RED_LANES];
    if (full) {
        for (int t = 0; t < RED_LANES; t++) {
            floatV acc = (floatV)RED_ID;
            for (long r = start + t; r < end; r += RED_LANES) {
                floatV v = vloadV(0, x + base + r * sr);
                acc = RED_STEP(acc, v, m);
            }
            p[t] = acc;
        }
    } else {
        for (int t = 0; t < RED_LANES; t++) {
            floatV acc = (floatV)RED_ID;
            for (long r = start + t; r < end; r += RED_LANES) {
                floatV v = red_gather_cols(x, base + r * sr, si, jl);
                acc = RED_STEP(acc, v, m);
            }
            p[t] = acc;
        }
    }
    for (int s = RED_LANES / 2; s > 0; s >>= 1)
        for (int t = 0; t < s; t++) p[t] = RED_VCOMB(p[t], p[t + s]);
    floatV res = p[0] / div;
    if (full && nchunk == 1) {
        vstoreV(res, 0, out + ooff + o * I + i0);
    } else {
        float t[RED_VW];
        vstoreV(res, 0, t);
        for (int j = 0; j <= jl; j++) out[ooff + (o * I + i0 + j) * nchunk + c] = t[j];
    }
}

/* reduce_colwg_f32: any RED_OP but argmax; the GPU form of reduce_cols_f32 (same
 * arguments and results, no per-work-item lane array). A work-group of (CW, LW) work-items
 * handles CW adjacent columns of one partial result g = o*nchunk + c: work-item (j, w)
 * accumulates lanes w, w + LW, ... of column i = group column * CW + j (neighbouring
 * work-items read neighbouring columns), then the lanes meet in the canonical tree in local
 * memory. g folds over dims 1 and 2: g = group_id(1) + group_id(2) * num_groups(1).
 * Args: x, xoff, O, R, I, so, sr, si, chunk, nchunk, mean, out, ooff, div, lv (local,
 * RED_LANES * CW floats).  NDRange: 3-D (>= I, groups in dim 1 * LW, dim 2), local
 * (CW, LW, 1), any CW and LW <= RED_LANES. */
kernel void reduce_colwg_f32(global const float *x, long xoff, long O, long R, long I, long so, long sr, long si,
                             long chunk, long nchunk, global const float *mean, global float *out, long ooff,
                             float div, local float *lv)
{
    long g = (long)get_group_id(1) + (long)get_group_id(2) * (long)get_num_groups(1);
    long i = get_global_id(0);
    int j = (int)get_local_id(0), CW = (int)get_local_size(0);
    int w = (int)get_local_id(1), LW = (int)get_local_size(1);
    int live = i < I && g < O * nchunk; /* the others still take part in the barriers */
    long c = live ? g % nchunk : 0, o = live ? g / nchunk : 0;
    long start = c * chunk, end = live ? min(R, start + chunk) : 0;
    long base = xoff + o * so + i * si;
#if defined(RED_OP_SQDEV)
    float m = live ? mean[o * I + i] : 0.0f;
#endif
    for (int t = w; t < RED_LANES; t += LW) {
        float acc = RED_ID;
        for (long r = start + t; r < end; r += RED_LANES) {
            float v = x[base + r * sr];
#if defined(RED_OP_SQDEV)
            float d = v - m;
            acc = acc + d * d;
#else
            acc = RED_COMB(acc, v);
#endif
        }
        lv[t * CW + j] = acc;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = RED_LANES / 2; s > 0; s >>= 1) {
        for (int t = w; t < s; t += LW) lv[t * CW + j] = RED_COMB(lv[t * CW + j], lv[(t + s) * CW + j]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (live && w == 0) out[ooff + (o * I + i) * nchunk + c] = lv[j] / div;
}

/* reduce_rows_f32: any RED_OP but argmax, RED_LANES 64. One work-item per partial result
 * g = q * nchunk + c, q = o * M + m; its reduced elements r in [0, R) lie at
 * xoff + o*so + m*sm + (r / R2)*s1 + (r % R2)*s2, i.e. the reduced axes may be two blocks
 * (R/R2, R2) around a kept block M (plain rows: M = 1, R2 = R). Lanes 0..63 are kept as
 * four float16, so a block of 64 consecutive contiguous elements is four vector loads.
 * Args: x, xoff, O, M, so, sm, R, R2, s1, s2, chunk, nchunk, mean, out, ooff, div.
 * NDRange: 1-D >= O*M*nchunk, any local size. */
#if RED_LANES == 64
kernel void reduce_rows_f32(global const float *x, long xoff, long O, long M, long so, long sm, long R, long R2,
                            long s1, long s2, long chunk, long nchunk, global const float *mean, global float *out,
                            long ooff, float div)
{
    long g = get_global_id(0);
    if (g >= O * M * nchunk) return;
    long c = g % nchunk, q = g / nchunk;
    long m_ = q % M, o = q / M;
    long start = c * chunk, end = min(R, start + chunk);
    long base = xoff + o * so + m_ * sm;
#if defined(RED_OP_SQDEV)
    float16 m = (float16)mean[q];
#else
    float16 m = (float16)0.0f;
#endif
    float16 p0 = (float16)RED_ID, p1 = p0, p2 = p0, p3 = p0;
    for (long r0 = start; r0 < end; r0 += 64) {
        long a = r0 / R2, b = r0 - a * R2;
        float16 v0, v1, v2, v3;
        if (s2 == 1 && r0 + 64 <= end && b + 64 <= R2) {
            global const float *px = x + base + a * s1 + b;
            v0 = vload16(0, px);
            v1 = vload16(1, px);
            v2 = vload16(2, px);
            v3 = vload16(3, px);
        } else {
            /* a partial block or one that crosses a block of R2: lanes past the end are
             * left as they are (select below) */
            float t[64];
            for (int k = 0; k < 64; k++) {
                long r = r0 + k, ar = r / R2;
                t[k] = r < end ? x[base + ar * s1 + (r - ar * R2) * s2] : 0.0f;
            }
            v0 = vload16(0, t);
            v1 = vload16(1, t);
            v2 = vload16(2, t);
            v3 = vload16(3, t);
        }
        float16 n0 = RED_STEP(p0, v0, m), n1 = RED_STEP(p1, v1, m), n2 = RED_STEP(p2, v2, m),
                n3 = RED_STEP(p3, v3, m);
        if (r0 + 64 <= end) {
            p0 = n0;
            p1 = n1;
            p2 = n2;
            p3 = n3;
        } else {
            int16 k = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            int n = (int)(end - r0);
            p0 = select(p0, n0, k < n);
            p1 = select(p1, n1, k + 16 < n);
            p2 = select(p2, n2, k + 32 < n);
            p3 = select(p3, n3, k + 48 < n);
        }
    }
    /* the tree: lanes t and t + s for s = 32, 16 (whole vectors), then 8, 4, 2, 1 */
    p0 = RED_VCOMB(p0, p2);
    p1 = RED_VCOMB(p1, p3);
    p0 = RED_VCOMB(p0, p1);
    float8 h8 = RED_VCOMB(p0.lo, p0.hi);
    float4 h4 = RED_VCOMB(h8.lo, h8.hi);
    float2 h2 = RED_VCOMB(h4.lo, h4.hi);
    out[ooff + g] = RED_COMB(h2.x, h2.y) / div;
}
#endif

/* --- backward helpers. gx is contiguous with x's shape (n elements); the other operands
 * are views given as geometry broadcast to x's shape (see clgrad__geom_broadcast). */

/* reduce_bcast_f32: gx[j] = gy[j'] / div (sum and mean backward).
 * Args: gx, n, gy, gyoff, gshape, gstride, div.  NDRange: 1-D >= n. */
kernel void reduce_bcast_f32(global float *gx, long n, global const float *gy, long gyoff, long8 gshape,
                             long8 gstride, float div)
{
    long j = get_global_id(0);
    if (j < n) gx[j] = gy[gyoff + clgrad_offset8(j, gshape, gstride)] / div;
}

/* reduce_eqmask_f32: mask[j] = x[j] == y[j'] (1 or 0), the elements that reached max/min.
 * Args: mask, n, x, xoff, xshape, xstride, y, yoff, yshape, ystride.  NDRange: 1-D >= n. */
kernel void reduce_eqmask_f32(global float *mask, long n, global const float *x, long xoff, long8 xshape,
                              long8 xstride, global const float *y, long yoff, long8 yshape, long8 ystride)
{
    long j = get_global_id(0);
    if (j >= n) return;
    mask[j] = x[xoff + clgrad_offset8(j, xshape, xstride)] == y[yoff + clgrad_offset8(j, yshape, ystride)] ? 1.0f : 0.0f;
}

/* reduce_extreme_bwd_f32: max/min backward, ties share the gradient evenly:
 * gx[j] = mask[j] ? gy[j'] / cnt[j'] : 0, NaN wherever the group's result y[j'] is NaN.
 * Args: gx (holds the mask on entry), n, y, yoff, gy, gyoff, cnt, cntoff, shape, stride
 * (one geometry: y, gy and cnt are contiguous with the same keepdim shape).
 * NDRange: 1-D >= n. */
kernel void reduce_extreme_bwd_f32(global float *gx, long n, global const float *y, long yoff,
                                   global const float *gy, long gyoff, global const float *cnt, long cntoff,
                                   long8 shape, long8 stride)
{
    long j = get_global_id(0);
    if (j >= n) return;
    long k = clgrad_offset8(j, shape, stride);
    float yv = y[yoff + k];
    gx[j] = isnan(yv) ? NAN : (gx[j] != 0.0f ? gy[gyoff + k] / cnt[cntoff + k] : 0.0f);
}

/* reduce_var_bwd_f32: gx[j] = gy[j'] * 2 * (x[j] - mean[j']) / div.
 * Args: gx, n, x, xoff, xshape, xstride, gy, gyoff, mean, meanoff, shape, stride (gy and
 * mean share one keepdim geometry), div.  NDRange: 1-D >= n. */
kernel void reduce_var_bwd_f32(global float *gx, long n, global const float *x, long xoff, long8 xshape,
                               long8 xstride, global const float *gy, long gyoff, global const float *mean,
                               long meanoff, long8 shape, long8 stride, float div)
{
    long j = get_global_id(0);
    if (j >= n) return;
    long k = clgrad_offset8(j, shape, stride);
    float d = x[xoff + clgrad_offset8(j, xshape, xstride)] - mean[meanoff + k];
    gx[j] = gy[gyoff + k] * (2.0f * d) / div;
}

#ifndef RED_CW
#define RED_CW 1
#endif

/* reduce_ordered_f32: out[ooff + m*os] = the sum over r = 0, 1, ..., R-1, in that order and
 * starting from 0, of x[xoff + r*rs + m*ms], for m < M: one accumulator per result walking
 * its rows in order (the order the backward rules of norm, conv and rnn promise). A
 * work-item sums cw adjacent results (cw = RED_CW or 1; blocks of RED_CW contiguous
 * columns per row are what CPU compilers vectorise), so the result does not depend on the
 * launch shape, cw or RED_CW.
 * Args: x, xoff, M, R, ms, rs, out, ooff, os, cw.  NDRange: 1-D >= ceil(M / cw). -D RED_CW. */
kernel void reduce_ordered_f32(global const float *x, long xoff, long M, long R, long ms, long rs,
                               global float *out, long ooff, long os, int cw)
{
    long m0 = get_global_id(0) * cw;
    if (m0 >= M) return;
    if (cw == RED_CW && m0 + RED_CW <= M) {
        global const float *p = x + xoff + m0 * ms;
        float acc[RED_CW];
        for (int k = 0; k < RED_CW; k++) acc[k] = 0.0f;
        for (long r = 0; r < R; r++, p += rs)
            for (int k = 0; k < RED_CW; k++) acc[k] += p[k * ms];
        for (int k = 0; k < RED_CW; k++) out[ooff + (m0 + k) * os] = acc[k];
        return;
    }
    long m1 = min(M, m0 + cw);
    for (long m = m0; m < m1; m++) {
        float s = 0.0f;
        for (long r = 0; r < R; r++) s += x[xoff + r * rs + m * ms];
        out[ooff + m * os] = s;
    }
}
