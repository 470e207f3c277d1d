/* 2-d pooling (NCHW): max pooling with indices, average pooling (padding counted in the
 * divisor) and global average pooling, forward and backward. Backward kernels gather: one
 * work-item per input pixel sums, in a fixed order, over the windows that can contain it,
 * so results are deterministic without atomics.
 *
 * Inputs are strided: buffer, element offset and a long4 of (n, c, h, w) strides. Outputs
 * and gradients are contiguous. Windows: output (oh, ow) covers input rows
 * oh*sh - ph .. oh*sh - ph + kh - 1 and the matching columns. No build options. */

/* Plane index: planes fold over NDRange dims 1 and 2 (local size 1 there). */
inline long pool_plane(void)
{
    return (long)get_global_id(1) + (long)get_global_id(2) * (long)get_global_size(1);
}

inline long pool_at4(long4 s, long n, long c, long h, long w)
{
    return n * s.s0 + c * s.s1 + h * s.s2 + w * s.s3;
}

/* First and last output index (lo..hi, maybe empty) whose window holds input index i. */
inline int2 pool_windows(int i, int k, int s, int p, int out)
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
    int n = (int)(nc / C), c = (int)(nc - (long)n * C);
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
    int n = (int)(nc / C), c = (int)(nc - (long)n * C);
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
    int n = (int)(nc / C), c = (int)(nc - (long)n * C);
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
    int n = (int)(nc / C), c = (int)(nc - (long)n * C);
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
    int n = (int)(i / C), c = (int)(i - (long)(i / C) * C);
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
    long p = i / HW;
    long n = p / C, c = p - n * C;
    dx[dx_off + i] = dy[dy_off + n * dy_sn + c * dy_sc] / (float)HW;
}
