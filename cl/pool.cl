/* 2-d pooling (NCHW): max pooling with indices, average pooling (padding counted in the
 * divisor) and global average pooling, forward and backward. Backward kernels gather: one
 * work-item per input pixel sums, in a fixed order, over the windows that can contain it,
 * so results are deterministic without atomics.
 *
 * Inputs are strided: buffer, element offset and a long4 of (n, c, h, w) strides. Outputs
 * and gradients are contiguous. Windows: output (oh, ow) covers input rows
 * oh*sh - ph .. oh*sh - ph + kh - 1 and the matching columns. No build options. */

/* Products and sums stay separate operations (no fused multiply-add contraction), so that
 * twin kernels and other devices round the same way. */
#pragma OPENCL FP_CONTRACT OFF

/* Plane index: planes fold over NDRange dims 1 and 2 (local size 1 there). */
static inline long pool_plane(void)
{
    return (long)get_global_id(1) + (long)get_global_id(2) * (long)get_global_size(1);
}

/* Image n and channel c of plane nc (= n*C + c), in 32-bit arithmetic when nc fits (64-bit
 * division is slow on GPUs); the same values either way. */
static inline void pool_split_nc(long nc, int C, int *n, int *c)
{
    if (nc < 4294967296L) {
        uint q = (uint)nc / (uint)C;
        *n = (int)q;
        *c = (int)((uint)nc - q * (uint)C);
    } else {
        *n = (int)(nc / C);
        *c = (int)(nc - (long)*n * C);
    }
}

static inline long pool_at4(long4 s, long n, long c, long h, long w)
{
    return n * s.s0 + c * s.s1 + h * s.s2 + w * s.s3;
}

/* First and last output index (lo..hi, maybe empty) whose window holds input index i. */
static inline int2 pool_windows(int i, int k, int s, int p, int out)
{
    int first = i + p - k + 1;
    int lo = first <= 0 ? 0 : (first + s - 1) / s;
    int hi = (i + p) / s;
    if (hi > out - 1) hi = out - 1;
    return (int2)(lo, hi);
}

/* maxpool_fwd_f32: y = maximum over the window's taps inside the input, idx = its position
 * ih*W + iw. Taps are scanned row-major and taken when v > best or v is NaN, starting from
 * -inf at the first in-input tap (so the first maximum wins ties, and a NaN propagates).
 * Args: x, x_off, xs, y, y_off, idx, idx_off, C, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, planes
 * (= N*C).  NDRange: (>= Ho*Wo, planes folded as in pool_plane). */
kernel void maxpool_fwd_f32(global const float *x, long x_off, long4 xs, global float *y, long y_off,
                            global int *idx, long idx_off, int C, int H, int W, int Ho, int Wo, int kh, int kw,
                            int sh, int sw, int ph, int pw, long planes)
{
    int p = get_global_id(0);
    long nc = pool_plane();
    if (p >= Ho * Wo || nc >= planes) return;
    long i = nc * Ho * Wo + p;
    int oh = p / Wo, ow = p - oh * Wo;
    int n, c;
    pool_split_nc(nc, C, &n, &c);
    global const float *xp = x + x_off + pool_at4(xs, n, c, 0, 0);
    int hs = oh * sh - ph, ws = ow * sw - pw;
    int h0 = max(hs, 0), w0 = max(ws, 0);
    int h1 = min(hs + kh, H), w1 = min(ws + kw, W);
    float best = -INFINITY;
    int at = h0 * W + w0;
    for (int ih = h0; ih < h1; ih++)
        for (int iw = w0; iw < w1; iw++) {
            float v = xp[ih * xs.s2 + iw * xs.s3];
            if (v > best || isnan(v)) {
                best = v;
                at = ih * W + iw;
            }
        }
    y[y_off + i] = best;
    idx[idx_off + i] = at;
}

/* maxpool_bwd_f32: dx[n, c, ih, iw] = sum of dy over the windows (row-major) whose recorded
 * maximum is this pixel.  Args: dy, dy_off, dys (strides), idx, idx_off, dx, dx_off, C, H,
 * W, Ho, Wo, kh, kw, sh, sw, ph, pw, planes (= N*C).
 * NDRange: (>= H*W, planes folded as in pool_plane). */
kernel void maxpool_bwd_f32(global const float *dy, long dy_off, long4 dys, global const int *idx, long idx_off,
                            global float *dx, long dx_off, int C, int H, int W, int Ho, int Wo, int kh, int kw,
                            int sh, int sw, int ph, int pw, long planes)
{
    int tap = get_global_id(0);
    long nc = pool_plane();
    if (tap >= H * W || nc >= planes) return;
    long i = nc * H * W + tap;
    int ih = tap / W, iw = tap - ih * W;
    int n, c;
    pool_split_nc(nc, C, &n, &c);
    int2 rh = pool_windows(ih, kh, sh, ph, Ho), rw = pool_windows(iw, kw, sw, pw, Wo);
    global const float *gp = dy + dy_off + pool_at4(dys, n, c, 0, 0);
    global const int *ip = idx + idx_off + nc * Ho * Wo;
    float acc = 0.0f;
    for (int oh = rh.x; oh <= rh.y; oh++)
        for (int ow = rw.x; ow <= rw.y; ow++)
            if (ip[oh * Wo + ow] == tap) acc += gp[oh * dys.s2 + ow * dys.s3];
    dx[dx_off + i] = acc;
}

/* avgpool_fwd_f32: y = (sum of the window's in-input taps) / (kh*kw) (count_include_pad;
 * padding never exceeds half the window, so every window lies inside the padded input).
 * Args: x, x_off, xs, y, y_off, C, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, planes.
 * NDRange: (>= Ho*Wo, N*C planes folded as in pool_plane); planes = N*C. */
kernel void avgpool_fwd_f32(global const float *x, long x_off, long4 xs, global float *y, long y_off, int C, int H,
                            int W, int Ho, int Wo, int kh, int kw, int sh, int sw, int ph, int pw, long planes)
{
    int p = get_global_id(0);
    long nc = pool_plane();
    if (p >= Ho * Wo || nc >= planes) return;
    long i = nc * Ho * Wo + p;
    int oh = p / Wo, ow = p - oh * Wo;
    int n, c;
    pool_split_nc(nc, C, &n, &c);
    global const float *xp = x + x_off + pool_at4(xs, n, c, 0, 0);
    int hs = oh * sh - ph, ws = ow * sw - pw;
    int h1 = min(hs + kh, H), w1 = min(ws + kw, W);
    float acc = 0.0f;
    for (int ih = max(hs, 0); ih < h1; ih++)
        for (int iw = max(ws, 0); iw < w1; iw++) acc += xp[ih * xs.s2 + iw * xs.s3];
    y[y_off + i] = acc / (float)(kh * kw);
}

/* avgpool_bwd_f32: dx[n, c, ih, iw] = sum over windows holding the pixel (row-major) of
 * dy / (kh*kw).  Args: dy, dy_off, dys, dx, dx_off, C, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw,
 * planes (= N*C).  NDRange: (>= H*W, N*C planes folded as in pool_plane). */
kernel void avgpool_bwd_f32(global const float *dy, long dy_off, long4 dys, global float *dx, long dx_off, int C,
                            int H, int W, int Ho, int Wo, int kh, int kw, int sh, int sw, int ph, int pw, long planes)
{
    int tap = get_global_id(0);
    long nc = pool_plane();
    if (tap >= H * W || nc >= planes) return;
    long i = nc * H * W + tap;
    int ih = tap / W, iw = tap - ih * W;
    int n, c;
    pool_split_nc(nc, C, &n, &c);
    int2 rh = pool_windows(ih, kh, sh, ph, Ho), rw = pool_windows(iw, kw, sw, pw, Wo);
    global const float *gp = dy + dy_off + pool_at4(dys, n, c, 0, 0);
    float acc = 0.0f;
    for (int oh = rh.x; oh <= rh.y; oh++)
        for (int ow = rw.x; ow <= rw.y; ow++) acc += gp[oh * dys.s2 + ow * dys.s3];
    dx[dx_off + i] = acc / (float)(kh * kw);
}

/* gavgpool_fwd_f32: y[n*C + c] = mean of the plane x[n, c], summed row-major.
 * Args: x, x_off, xs, y, y_off, C, H, W, planes (= N*C).  NDRange: 1-D >= planes. */
kernel void gavgpool_fwd_f32(global const float *x, long x_off, long4 xs, global float *y, long y_off, int C, int H,
                             int W, long planes)
{
    long i = get_global_id(0);
    if (i >= planes) return;
    int n, c;
    pool_split_nc(i, C, &n, &c);
    global const float *xp = x + x_off + pool_at4(xs, n, c, 0, 0);
    float acc = 0.0f;
    for (int h = 0; h < H; h++)
        for (int w = 0; w < W; w++) acc += xp[h * xs.s2 + w * xs.s3];
    y[y_off + i] = acc / (float)((long)H * W);
}

/* gavgpool_bwd_f32: dx[p*HW + j] = dy[p] / HW for a strided dy of N*C planes seen as (N, C).
 * Args: dy, dy_off, dy_sn, dy_sc, dx, dx_off, C, HW, total (= N*C*HW).
 * NDRange: 1-D >= total. */
kernel void gavgpool_bwd_f32(global const float *dy, long dy_off, long dy_sn, long dy_sc, global float *dx,
                             long dx_off, int C, long HW, long total)
{
    long i = get_global_id(0);
    if (i >= total) return;
    long n, c;
    if (i < 4294967296L && HW < 4294967296L) { /* 32-bit division when the sizes allow */
        uint q = (uint)i / (uint)HW, qn = q / (uint)C;
        n = qn;
        c = q - qn * (uint)C;
    } else {
        long p = i / HW;
        n = p / C;
        c = p - n * C;
    }
    dx[dx_off + i] = dy[dy_off + n * dy_sn + c * dy_sc] / (float)HW;
}

/* 2x2 windows with stride 2, no padding, contiguous x: one work-item per output row, four
 * outputs at a time with vector loads and selects (the same tap order and tie/NaN rule as
 * maxpool_fwd_f32: taps (0,0), (0,1), (1,0), (1,1), the first starting the scan).
 * maxpool_2x2_fwd_f32 args: x, x_off, y, y_off, idx, idx_off, H, W, Ho, Wo, total
 * (= N*C*Ho).  NDRange: 1-D >= total, item i = plane*Ho + oh. */
kernel void maxpool_2x2_fwd_f32(global const float *x, long x_off, global float *y, long y_off, global int *idx,
                                long idx_off, int H, int W, int Ho, int Wo, long total)
{
    long i = get_global_id(0);
    if (i >= total) return;
    long nc = i / Ho;
    int oh = (int)(i - nc * Ho);
    int b0 = 2 * oh * W;
    global const float *r0 = x + x_off + nc * H * W + b0;
    global const float *r1 = r0 + W;
    global float *yp = y + y_off + i * Wo;
    global int *ip = idx + idx_off + i * Wo;
    int ow = 0;
    for (; ow + 4 <= Wo; ow += 4) {
        float4 best;
        int4 at;
        clgrad_max2x2_4(vload8(0, r0 + 2 * ow), vload8(0, r1 + 2 * ow), (int4)(b0 + 2 * ow) + (int4)(0, 2, 4, 6), W,
                        &best, &at);
        vstore4(best, 0, yp + ow);
        vstore4(at, 0, ip + ow);
    }
    for (; ow < Wo; ow++)
        clgrad_max2x2_1(r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1], b0 + 2 * ow, W, yp + ow, ip + ow);
}

/* maxpool_2x2_bwd_f32: gradient of maxpool_2x2_fwd_f32 when the windows tile the input
 * exactly (H == 2*Ho, W == 2*Wo) and dy is contiguous: one work-item per output row writes
 * its two input rows (dy at the recorded maximum, 0 elsewhere).  Args: dy, dy_off, idx,
 * idx_off, dx, dx_off, H, W, Ho, Wo, total (= N*C*Ho).  NDRange: 1-D >= total. */
kernel void maxpool_2x2_bwd_f32(global const float *dy, long dy_off, global const int *idx, long idx_off,
                                global float *dx, long dx_off, int H, int W, int Ho, int Wo, long total)
{
    long i = get_global_id(0);
    if (i >= total) return;
    long nc = i / Ho;
    int oh = (int)(i - nc * Ho);
    int b0 = 2 * oh * W;
    global float *r0 = dx + dx_off + nc * H * W + b0;
    global float *r1 = r0 + W;
    global const float *gp = dy + dy_off + i * Wo;
    global const int *ip = idx + idx_off + i * Wo;
    int ow = 0;
    for (; ow + 4 <= Wo; ow += 4)
        clgrad_unpool2x2_4(vload4(0, gp + ow), vload4(0, ip + ow), (int4)(b0 + 2 * ow) + (int4)(0, 2, 4, 6), W,
                           r0 + 2 * ow, r1 + 2 * ow);
    for (; ow < Wo; ow++) clgrad_unpool2x2_1(gp[ow], ip[ow], b0 + 2 * ow, W, r0 + 2 * ow, r1 + 2 * ow);
}

/* Small fixed windows. With POOL_KH, POOL_KW (window) and POOL_SH, POOL_SW (stride) given
 * as -D values, the kernels below have no loops, so a CPU compiler can vectorise them
 * across work-items. Same results as maxpool_fwd_f32 / maxpool_bwd_f32 (same tap and
 * window orders). NDRange (column, row, plane - plane0): work-items along dim 0 touch
 * consecutive addresses and no index needs a division; the host splits the planes into
 * launches of at most 32768. */
#ifdef POOL_KH
#define POOL_NWH ((POOL_KH + POOL_SH - 1) / POOL_SH) /* windows holding one input row, at most */
#define POOL_NWW ((POOL_KW + POOL_SW - 1) / POOL_SW)

/* maxpool_fix_fwd_f32: as maxpool_fwd_f32 for a POOL_KH x POOL_KW window with stride
 * (POOL_SH, POOL_SW).  Args: x, x_off, xs, y, y_off, idx, idx_off, C, H, W, Ho, Wo, ph, pw,
 * plane0, planes (= N*C).  NDRange: (>= Wo, >= Ho, planes - plane0 or fewer).
 * -D: POOL_KH, POOL_KW, POOL_SH, POOL_SW. */
kernel void maxpool_fix_fwd_f32(global const float *x, long x_off, long4 xs, global float *y, long y_off,
                                global int *idx, long idx_off, int C, int H, int W, int Ho, int Wo, int ph, int pw,
                                long plane0, long planes)
{
    int ow = get_global_id(0), oh = get_global_id(1);
    long nc = plane0 + (long)get_global_id(2);
    if (ow >= Wo || oh >= Ho || nc >= planes) return;
    int n, c;
    pool_split_nc(nc, C, &n, &c);
    global const float *xp = x + x_off + pool_at4(xs, n, c, 0, 0);
    int hs = oh * POOL_SH - ph, ws = ow * POOL_SW - pw;
    float best = -INFINITY;
    int at = max(hs, 0) * W + max(ws, 0);
#pragma unroll
    for (int a = 0; a < POOL_KH; a++) {
        int ih = hs + a;
        int okh = ih >= 0 && ih < H;
        int ihc = clamp(ih, 0, H - 1);
#pragma unroll
        for (int b = 0; b < POOL_KW; b++) {
            int iw = ws + b;
            int ok = okh && iw >= 0 && iw < W;
            float v = xp[ihc * xs.s2 + clamp(iw, 0, W - 1) * xs.s3];
            int take = ok && (v > best || isnan(v));
            best = take ? v : best;
            at = take ? ih * W + iw : at;
        }
    }
    long i = (nc * Ho + oh) * Wo + ow;
    y[y_off + i] = best;
    idx[idx_off + i] = at;
}

/* maxpool_tile_fwd_f32: maxpool_fix_fwd_f32 when window == stride and there is no padding
 * (every window lies inside the input) and x is contiguous: no clamps or bounds per tap,
 * so the taps of neighbouring work-items are a fixed stride apart and a CPU compiler loads
 * them as vectors.  Same tap order and tie/NaN rule (the first tap starts the scan).
 * Args: x, x_off, y, y_off, idx, idx_off, H, W, Ho, Wo, plane0, planes (= N*C).
 * NDRange: (>= Wo, >= Ho, planes - plane0 or fewer).  -D: as maxpool_fix_fwd_f32. */
kernel void maxpool_tile_fwd_f32(global const float *x, long x_off, global float *y, long y_off, global int *idx,
                                 long idx_off, int H, int W, int Ho, int Wo, long plane0, long planes)
{
    int ow = get_global_id(0), oh = get_global_id(1);
    long nc = plane0 + (long)get_global_id(2);
    if (ow >= Wo || oh >= Ho || nc >= planes) return;
    global const float *xp = x + x_off + nc * H * W;
    int h0 = oh * POOL_KH, w0 = ow * POOL_KW;
    float best = xp[h0 * W + w0];
    int at = h0 * W + w0;
#pragma unroll
    for (int a = 0; a < POOL_KH; a++) {
#pragma unroll
        for (int b = 0; b < POOL_KW; b++) {
            int o = (h0 + a) * W + w0 + b;
            float v = xp[o];
            int take = v > best || isnan(v);
            best = take ? v : best;
            at = take ? o : at;
        }
    }
    long i = (nc * Ho + oh) * Wo + ow;
    y[y_off + i] = best;
    idx[idx_off + i] = at;
}

/* maxpool_fix_bwd_f32: as maxpool_bwd_f32 for the window of maxpool_fix_fwd_f32.
 * Args: dy, dy_off, dys, idx, idx_off, dx, dx_off, C, H, W, Ho, Wo, ph, pw, plane0, planes.
 * NDRange: (>= W, >= H, planes - plane0 or fewer).  -D: as maxpool_fix_fwd_f32. */
kernel void maxpool_fix_bwd_f32(global const float *dy, long dy_off, long4 dys, global const int *idx, long idx_off,
                                global float *dx, long dx_off, int C, int H, int W, int Ho, int Wo, int ph, int pw,
                                long plane0, long planes)
{
    int iw = get_global_id(0), ih = get_global_id(1);
    long nc = plane0 + (long)get_global_id(2);
    if (iw >= W || ih >= H || nc >= planes) return;
    int n, c;
    pool_split_nc(nc, C, &n, &c);
    int tap = ih * W + iw;
    int fh = ih + ph - POOL_KH + 1, fw = iw + pw - POOL_KW + 1;
    int lh = fh <= 0 ? 0 : (fh + POOL_SH - 1) / POOL_SH, lw = fw <= 0 ? 0 : (fw + POOL_SW - 1) / POOL_SW;
    int hh = min((ih + ph) / POOL_SH, Ho - 1), hw = min((iw + pw) / POOL_SW, Wo - 1);
    global const float *gp = dy + dy_off + pool_at4(dys, n, c, 0, 0);
    global const int *ip = idx + idx_off + nc * Ho * Wo;
    float acc = 0.0f;
#pragma unroll
    for (int j = 0; j < POOL_NWH; j++) {
        int oh = lh + j;
        int okh = oh <= hh;
        int ohc = min(oh, Ho - 1);
#pragma unroll
        for (int k = 0; k < POOL_NWW; k++) {
            int ow = lw + k;
            int owc = min(ow, Wo - 1);
            int ok = okh && ow <= hw && ip[ohc * Wo + owc] == tap;
            float g = gp[ohc * dys.s2 + owc * dys.s3];
            acc += ok ? g : 0.0f;
        }
    }
    dx[dx_off + (nc * H + ih) * W + iw] = acc;
}

/* maxpool_tile_bwd_f32: maxpool_fix_bwd_f32 when the windows tile the input exactly
 * (window == stride, no padding, H == Ho*POOL_KH, W == Wo*POOL_KW), so every input pixel
 * lies in exactly one window: one work-item per window writes the window's pixels (dy at
 * the recorded maximum, 0 elsewhere).  dy is contiguous.  Args: dy, dy_off, idx, idx_off,
 * dx, dx_off, H, W, Ho, Wo, plane0, planes.  NDRange: (>= Wo, >= Ho, planes - plane0 or
 * fewer).  -D: as maxpool_fix_fwd_f32. */
kernel void maxpool_tile_bwd_f32(global const float *dy, long dy_off, global const int *idx, long idx_off,
                                 global float *dx, long dx_off, int H, int W, int Ho, int Wo, long plane0,
                                 long planes)
{
    int ow = get_global_id(0), oh = get_global_id(1);
    long nc = plane0 + (long)get_global_id(2);
    if (ow >= Wo || oh >= Ho || nc >= planes) return;
    long i = (nc * Ho + oh) * Wo + ow;
    float g = dy[dy_off + i];
    int at = idx[idx_off + i];
    global float *dp = dx + dx_off + nc * H * W;
#pragma unroll
    for (int a = 0; a < POOL_KH; a++) {
#pragma unroll
        for (int b = 0; b < POOL_KW; b++) {
            int o = (oh * POOL_KH + a) * W + ow * POOL_KW + b;
            dp[o] = at == o ? g : 0.0f;
        }
    }
}
#endif
