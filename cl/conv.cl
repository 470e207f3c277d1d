/* 2-d convolution helpers (NCHW): im2col / col2im around the shared GEMM, layout swaps
 * between the GEMM's channel-major (C, N, H*W) layout and NCHW, direct depthwise kernels
 * and deterministic bias / weight reductions.
 *
 * Conventions shared by the kernels below. A "conv geometry" is that of a forward
 * convolution: input (N, C, H, W), output (N, K, Ho, Wo), window kh x kw with stride
 * (sh, sw), zero padding (ph, pw) and dilation (dh, dw). Input pixel (ih, iw) feeds output
 * (oh, ow) through tap (a, b) when ih = oh*sh - ph + a*dh and iw = ow*sw - pw + b*dw.
 * Strided tensors come as a buffer, an element offset and a long4 of (n, c, h, w) strides.
 * A column matrix covers images n0 .. n0+nb-1: row r = c*kh*kw + a*kw + b, column
 * j = (n - n0)*Ho*Wo + oh*Wo + ow, stored row-major with nb*Ho*Wo columns.
 * No build options are needed. Every kernel checks its index against its extent. */

/* Products and sums stay separate operations (no fused multiply-add contraction), so that
 * twin kernels and other devices round the same way. */
#pragma OPENCL FP_CONTRACT OFF

/* Plane index of the 2-D (pixel, plane) launches: planes are folded over dims 1 and 2 so no
 * dimension exceeds what every device accepts; the host keeps local sizes 1 there. */
static inline long conv_plane(void)
{
    return (long)get_global_id(1) + (long)get_global_id(2) * (long)get_global_size(1);
}

static inline long conv_at4(long4 s, long n, long c, long h, long w)
{
    return n * s.s0 + c * s.s1 + h * s.s2 + w * s.s3;
}

/* The kernels below run on (pixel of a plane, plane) NDRanges with work-groups inside one
 * plane, so the plane index and everything derived from it (channel, tap) is
 * uniform across a work-group. Each work-item loops over `per` consecutive images (plane z
 * covers images s*per .. s*per+per-1, s = z % nsplit), which amortises its index arithmetic
 * and gives work-groups enough work on CPUs. */

/* conv_im2col_f32: col[r, (nl*Ho + oh)*Wo + ow] = x[n0 + nl, c, ih, iw], or 0 outside the
 * input, for row r = c*kh*kw + a*kw + b.  Args: x, x_off, xs (strides), col, col_off, n0,
 * nb, per, C, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw.
 * NDRange: (>= Ho*Wo, planes C*kh*kw*nsplit folded as in conv_plane), nsplit = ceil(nb / per), z = r*nsplit + s. */
kernel void conv_im2col_f32(global const float *x, long x_off, long4 xs, global float *col, long col_off,
                            int n0, int nb, int per, int C, int H, int W, int Ho, int Wo, int kh, int kw,
                            int sh, int sw, int ph, int pw, int dh, int dw)
{
    int p = get_global_id(0);
    long z = conv_plane();
    int nsplit = (nb + per - 1) / per;
    int kk = kh * kw;
    if (p >= Ho * Wo || z >= (long)C * kk * nsplit) return;
    int oh = p / Wo, ow = p - oh * Wo;
    int r = (int)z / nsplit, s = (int)z - r * nsplit;
    int c = r / kk, t = r - c * kk;
    int a = t / kw, b = t - a * kw;
    long ohw = (long)Ho * Wo, ncols = nb * ohw;
    int ih = oh * sh - ph + a * dh, iw = ow * sw - pw + b * dw;
    int inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
    int nl0 = s * per, nl1 = min(nb, nl0 + per);
    global const float *xp = x + x_off + (long)c * xs.s1 + (inside ? ih * xs.s2 + iw * xs.s3 : 0);
    global float *cp = col + col_off + r * ncols + oh * Wo + ow;
    for (int nl = nl0; nl < nl1; nl++) cp[nl * ohw] = inside ? xp[(n0 + nl) * xs.s0] : 0.0f;
}

/* conv_im2col_rows_f32: conv_im2col_f32 for column stride 1 when x's rows are contiguous
 * (xs.s3 == 1): one work-item per (row r, image nl) writes that image's Ho output rows of
 * Wo columns, each a shifted copy of one input row (zeros outside the input), with 4-wide
 * loads and stores.  Args: x, x_off, xs, col, col_off, n0, nb, C, H, W, Ho, Wo, kh, kw,
 * sh, ph, pw, dh, dw, total (= C*kh*kw*nb).  NDRange: 1-D >= total, item i = r*nb + nl. */
kernel void conv_im2col_rows_f32(global const float *x, long x_off, long4 xs, global float *col, long col_off,
                                 int n0, int nb, int C, int H, int W, int Ho, int Wo, int kh, int kw, int sh,
                                 int ph, int pw, int dh, int dw, long total)
{
    long i = get_global_id(0);
    if (i >= total) return;
    int r = (int)(i / nb), nl = (int)(i - (long)r * nb);
    int kk = kh * kw;
    int c = r / kk, t = r - c * kk;
    int a = t / kw, b = t - a * kw;
    int off = b * dw - pw;
    int lo = min(max(0, -off), Wo);
    int hi = max(min(Wo, W - off), lo); /* columns [lo, hi) read the input */
    global float *dst = col + col_off + i * Ho * Wo;
    global const float *src = x + x_off + (long)(n0 + nl) * xs.s0 + (long)c * xs.s1 + off;
    for (int oh = 0; oh < Ho; oh++, dst += Wo) {
        int ih = oh * sh - ph + a * dh;
        int in = ih >= 0 && ih < H;
        int l = in ? lo : Wo, h = in ? hi : Wo;
        global const float *sp = src + (long)ih * xs.s2;
        int ow = 0;
        for (; ow < l; ow++) dst[ow] = 0.0f;
        for (; ow + 4 <= h; ow += 4) vstore4(vload4(0, sp + ow), 0, dst + ow);
        for (; ow < h; ow++) dst[ow] = sp[ow];
        for (; ow < Wo; ow++) dst[ow] = 0.0f;
    }
}

/* conv_planes_copy_f32: dst plane j = src plane j (+ bias[k]) for whole contiguous planes
 * of HW elements, 4 at a time: the NCHW <-> (K, nb, HW) layout swaps when every plane is
 * contiguous.  Plane j = k*nb + nl of the (K, nb, HW) side is plane (n0 + nl)*K + k of
 * the NCHW side; to_nchw 1: src is the (K, nb, HW) side, 0: dst is.  Planes of the NCHW
 * side start at nchw_off + plane * nchw_ps. relu: then max(v, 0) as relu_fwd_f32 (a fused
 * ReLU).  Args: src, src_off, dst, dst_off, nchw_ps, bias, bias_off, bias_stride, has_bias,
 * relu, to_nchw, n0, nb, K, HW, planes (= K*nb).
 * NDRange: 1-D >= planes. */
kernel void conv_planes_copy_f32(global const float *src, long src_off, global float *dst, long dst_off,
                                 long nchw_ps, global const float *bias, long bias_off, long bias_stride,
                                 int has_bias, int relu, int to_nchw, int n0, int nb, int K, int HW, long planes)
{
    long j = get_global_id(0);
    if (j >= planes) return;
    int k = (int)(j / nb), nl = (int)(j - (long)k * nb);
    long other = ((long)(n0 + nl) * K + k) * nchw_ps;
    global const float *s = src + src_off + (to_nchw ? j * HW : other);
    global float *d = dst + dst_off + (to_nchw ? other : j * HW);
    int p = 0;
    if (relu) {
        float add = has_bias ? bias[bias_off + k * bias_stride] : 0.0f;
        for (; p + 4 <= HW; p += 4) {
            float4 v = has_bias ? vload4(0, s + p) + add : vload4(0, s + p);
            vstore4(CLGRAD_RELU(float4, v), 0, d + p);
        }
        for (; p < HW; p++) {
            float v = has_bias ? s[p] + add : s[p];
            d[p] = v < 0.0f ? 0.0f : v;
        }
    } else if (has_bias) {
        float add = bias[bias_off + k * bias_stride];
        for (; p + 4 <= HW; p += 4) vstore4(vload4(0, s + p) + add, 0, d + p);
        for (; p < HW; p++) d[p] = s[p] + add;
    } else {
        for (; p + 4 <= HW; p += 4) vstore4(vload4(0, s + p), 0, d + p);
        for (; p < HW; p++) d[p] = s[p];
    }
}

/* conv_col2im_f32: gather form of the adjoint of im2col, for images n0 .. n0+nb-1:
 * dx[n, c, ih, iw] = init + sum over taps (a, b) in row-major order of col[r, j] for the
 * output (oh, ow) the tap connects to, where init = bias[c] when has_bias, else 0. dx is
 * contiguous NCHW; each element is written by one work-item in a fixed order (no atomics).
 * Args: col, col_off, dx, dx_off, bias, bias_off, bias_stride, has_bias, n0, nb, per, C, H,
 * W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw.
 * NDRange: (>= H*W, planes C*nsplit folded as in conv_plane), z = c*nsplit + s. */
kernel void conv_col2im_f32(global const float *col, long col_off, global float *dx, long dx_off,
                            global const float *bias, long bias_off, long bias_stride, int has_bias,
                            int n0, int nb, int per, int C, int H, int W, int Ho, int Wo, int kh, int kw,
                            int sh, int sw, int ph, int pw, int dh, int dw)
{
    int p = get_global_id(0);
    long z = conv_plane();
    int nsplit = (nb + per - 1) / per;
    if (p >= H * W || z >= (long)C * nsplit) return;
    int ih = p / W, iw = p - ih * W;
    int c = (int)z / nsplit, s = (int)z - c * nsplit;
    long ohw = (long)Ho * Wo, ncols = nb * ohw, hw = (long)H * W;
    global const float *cp = col + col_off + (long)c * kh * kw * ncols;
    float init = has_bias ? bias[bias_off + c * bias_stride] : 0.0f;
    int nl0 = s * per, nl1 = min(nb, nl0 + per);
    global float *dp = dx + dx_off + ((long)n0 * C + c) * hw + (long)ih * W + iw;
    /* Branch-free taps (clamped address, select) so the loop vectorises across work-items. */
    if (sh == 1 && sw == 1) {
        for (int nl = nl0; nl < nl1; nl++) {
            global const float *cn = cp + nl * ohw;
            float acc = init;
            for (int a = 0; a < kh; a++) {
                int oh = ih + ph - a * dh;
                int okh = oh >= 0 && oh < Ho;
                int ohc = clamp(oh, 0, Ho - 1);
                for (int b = 0; b < kw; b++) {
                    int ow = iw + pw - b * dw;
                    int ok = okh && ow >= 0 && ow < Wo;
                    float v = cn[(a * kw + b) * ncols + ohc * Wo + clamp(ow, 0, Wo - 1)];
                    acc += ok ? v : 0.0f;
                }
            }
            dp[nl * C * hw] = acc;
        }
        return;
    }
    for (int nl = nl0; nl < nl1; nl++) {
        global const float *cn = cp + nl * ohw;
        float acc = init;
        for (int a = 0; a < kh; a++) {
            int th = ih + ph - a * dh;
            int oh = th / sh;
            int okh = th >= 0 && oh * sh == th && oh < Ho;
            int ohc = clamp(oh, 0, Ho - 1);
            for (int b = 0; b < kw; b++) {
                int tw = iw + pw - b * dw;
                int ow = tw / sw;
                int ok = okh && tw >= 0 && ow * sw == tw && ow < Wo;
                float v = cn[(a * kw + b) * ncols + ohc * Wo + clamp(ow, 0, Wo - 1)];
                acc += ok ? v : 0.0f;
            }
        }
        dp[nl * C * hw] = acc;
    }
}

/* conv_nchw_to_cnhw_f32: t[k, nl, h*W + w] = y[n0 + nl, k, h, w] for a strided y; t is
 * (K, nb, H*W) contiguous.  Args: y, y_off, ys (strides), t, t_off, n0, nb, per, K, H, W.
 * NDRange: (>= H*W, planes K*nsplit folded as in conv_plane), z = k*nsplit + s (images as in conv_im2col_f32). */
kernel void conv_nchw_to_cnhw_f32(global const float *y, long y_off, long4 ys, global float *t, long t_off,
                                  int n0, int nb, int per, int K, int H, int W)
{
    int p = get_global_id(0);
    long z = conv_plane();
    int nsplit = (nb + per - 1) / per;
    if (p >= H * W || z >= (long)K * nsplit) return;
    int h = p / W, w = p - h * W;
    int k = (int)z / nsplit, s = (int)z - k * nsplit;
    long hw = (long)H * W;
    int nl0 = s * per, nl1 = min(nb, nl0 + per);
    global const float *yp = y + y_off + k * ys.s1 + h * ys.s2 + w * ys.s3;
    global float *tp = t + t_off + (long)k * nb * hw + (long)h * W + w;
    for (int nl = nl0; nl < nl1; nl++) tp[nl * hw] = yp[(n0 + nl) * ys.s0];
}

/* conv_bias_fill_f32: y[n, k, p] = bias[k] for contiguous y (N, K, HW) (the GEMM then adds
 * into it).  Args: y, y_off, bias, bias_off, bias_stride, N, K, HW.
 * NDRange: (>= HW, planes N*K folded as in conv_plane). */
kernel void conv_bias_fill_f32(global float *y, long y_off, global const float *bias, long bias_off,
                               long bias_stride, int N, int K, long HW)
{
    long p = get_global_id(0);
    long z = conv_plane();
    if (p >= HW || z >= (long)N * K) return;
    int k = (int)(z % K);
    y[y_off + z * HW + p] = bias[bias_off + k * bias_stride];
}

/* conv_plane_sum_f32: part[n*K + k] = sum over p < HW, in order, of y[n, k, p] for a
 * strided y seen as (N, K, H, W).  Args: y, y_off, ys, part, N, K, H, W.
 * NDRange: 1-D >= N*K. */
kernel void conv_plane_sum_f32(global const float *y, long y_off, long4 ys, global float *part, int N, int K,
                               int H, int W)
{
    long i = get_global_id(0);
    if (i >= (long)N * K) return;
    int n = (int)(i / K), k = (int)(i - (long)n * K);
    global const float *src = y + y_off + n * ys.s0 + k * ys.s1;
    float acc = 0.0f;
    for (int h = 0; h < H; h++)
        for (int w = 0; w < W; w++) acc += src[h * ys.s2 + w * ys.s3];
    part[i] = acc;
}

/* conv_plane_sum4_f32: conv_plane_sum_f32 for planes stored contiguously (ys.s3 == 1,
 * ys.s2 == W): two float4 lanes over blocks of 8 (lane j sums elements j, j+8, ...), then
 * ((l0.x + l0.y) + (l0.z + l0.w)) + ((l1.x + l1.y) + (l1.z + l1.w)) and the tail in order.
 * A fixed order that depends only on H*W.  Args: y, y_off, ys, part, N, K, HW.
 * NDRange: 1-D >= N*K. */
kernel void conv_plane_sum4_f32(global const float *y, long y_off, long4 ys, global float *part, int N, int K,
                                int HW)
{
    long i = get_global_id(0);
    if (i >= (long)N * K) return;
    int n = (int)(i / K), k = (int)(i - (long)n * K);
    global const float *src = y + y_off + n * ys.s0 + k * ys.s1;
    float4 l0 = (float4)(0.0f), l1 = (float4)(0.0f);
    int p = 0;
    for (; p + 8 <= HW; p += 8) {
        l0 += vload4(0, src + p);
        l1 += vload4(0, src + p + 4);
    }
    float acc = ((l0.x + l0.y) + (l0.z + l0.w)) + ((l1.x + l1.y) + (l1.z + l1.w));
    for (; p < HW; p++) acc += src[p];
    part[i] = acc;
}

/* conv_dw_fwd_f32: depthwise convolution (groups == C == K):
 * y[n, c, oh, ow] = bias[c] + sum over taps (a, b) of x[n, c, ih, iw] * w[c, 0, a, b].
 * y contiguous, w contiguous (C, 1, kh, kw).  Args: x, x_off, xs, w, w_off, bias, bias_off,
 * bias_stride, has_bias, y, y_off, N, C, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw.
 * NDRange: (>= Ho*Wo, planes N*C folded as in conv_plane). */
kernel void conv_dw_fwd_f32(global const float *x, long x_off, long4 xs, global const float *w, long w_off,
                            global const float *bias, long bias_off, long bias_stride, int has_bias,
                            global float *y, long y_off, int N, int C, int H, int W, int Ho, int Wo,
                            int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw)
{
    int p = get_global_id(0);
    long nc = conv_plane();
    if (p >= Ho * Wo || nc >= (long)N * C) return;
    int oh = p / Wo, ow = p - oh * Wo;
    int n = (int)nc / C, c = (int)nc - n * C;
    global const float *xp = x + x_off + n * xs.s0 + c * xs.s1;
    global const float *wp = w + w_off + (long)c * kh * kw;
    float acc = 0.0f;
    for (int a = 0; a < kh; a++) {
        int ih = oh * sh - ph + a * dh;
        if (ih < 0 || ih >= H) continue;
        for (int b = 0; b < kw; b++) {
            int iw = ow * sw - pw + b * dw;
            if (iw < 0 || iw >= W) continue;
            acc += xp[ih * xs.s2 + iw * xs.s3] * wp[a * kw + b];
        }
    }
    if (has_bias) acc += bias[bias_off + c * bias_stride];
    y[y_off + (nc * Ho + oh) * Wo + ow] = acc;
}

/* conv_dw_bwd_data_f32: gradient of conv_dw_fwd_f32 with respect to x, gathered per input
 * pixel in tap order: dx[n, c, ih, iw] = init + sum of dy[n, c, oh, ow] * w[c, 0, a, b],
 * init = bias[c] when has_bias (so it also serves as a depthwise transposed convolution).
 * dy strided, dx contiguous.  Args: dy, dy_off, dys, w, w_off, bias, bias_off, bias_stride,
 * has_bias, dx, dx_off, N, C, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw.
 * NDRange: (>= H*W, planes N*C folded as in conv_plane). */
kernel void conv_dw_bwd_data_f32(global const float *dy, long dy_off, long4 dys, global const float *w, long w_off,
                                 global const float *bias, long bias_off, long bias_stride, int has_bias,
                                 global float *dx, long dx_off, int N, int C, int H, int W, int Ho, int Wo,
                                 int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw)
{
    int p = get_global_id(0);
    long nc = conv_plane();
    if (p >= H * W || nc >= (long)N * C) return;
    int ih = p / W, iw = p - ih * W;
    int n = (int)(nc / C), c = (int)(nc - (long)n * C);
    global const float *gp = dy + dy_off + n * dys.s0 + c * dys.s1;
    global const float *wp = w + w_off + (long)c * kh * kw;
    float acc = has_bias ? bias[bias_off + c * bias_stride] : 0.0f;
    for (int a = 0; a < kh; a++) {
        int th = ih + ph - a * dh;
        int oh = th / sh;
        int okh = th >= 0 && oh * sh == th && oh < Ho;
        for (int b = 0; b < kw; b++) {
            int tw = iw + pw - b * dw;
            int ow = tw / sw;
            if (okh && tw >= 0 && ow * sw == tw && ow < Wo) acc += gp[oh * dys.s2 + ow * dys.s3] * wp[a * kw + b];
        }
    }
    dx[dx_off + (nc * H + ih) * W + iw] = acc;
}

/* conv_dw_bwd_weight_f32: per-image partial weight gradient of the depthwise convolution:
 * part[(n*C + c)*kh*kw + a*kw + b] = sum over (oh, ow) in order of dy[n, c, oh, ow] *
 * x[n, c, ih, iw]; the ordered sum (reduce_ordered_f32) then adds the N partials in order.
 * Args: x, x_off, xs, dy, dy_off, dys, part, N, C, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw,
 * dh, dw.  NDRange: 1-D >= N*C*kh*kw. */
kernel void conv_dw_bwd_weight_f32(global const float *x, long x_off, long4 xs, global const float *dy, long dy_off,
                                   long4 dys, global float *part, int N, int C, int H, int W, int Ho, int Wo,
                                   int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw)
{
    long i = get_global_id(0);
    int kk = kh * kw;
    if (i >= (long)N * C * kk) return;
    long nc = i / kk;
    int t = (int)(i - nc * kk);
    int a = t / kw, b = t - a * kw;
    int n = (int)(nc / C), c = (int)(nc - (long)n * C);
    global const float *xp = x + x_off + n * xs.s0 + c * xs.s1;
    global const float *gp = dy + dy_off + n * dys.s0 + c * dys.s1;
    /* output rows / columns whose tap (a, b) lands inside the input */
    int oh0 = 0, ow0 = 0;
    int fh = ph - a * dh, fw = pw - b * dw; /* ih = oh*sh - fh */
    if (fh > 0) oh0 = (fh + sh - 1) / sh;
    if (fw > 0) ow0 = (fw + sw - 1) / sw;
    float acc = 0.0f;
    for (int oh = oh0; oh < Ho; oh++) {
        int ih = oh * sh - fh;
        if (ih >= H) break;
        for (int ow = ow0; ow < Wo; ow++) {
            int iw = ow * sw - fw;
            if (iw >= W) break;
            acc += gp[oh * dys.s2 + ow * dys.s3] * xp[ih * xs.s2 + iw * xs.s3];
        }
    }
    part[i] = acc;
}

/* Loop-free forms of two kernels above: one work-item per element on a 3-D NDRange
 * (column, row, plane - plane0), divisions on the plane index only (uniform along dim 0),
 * so CPU compilers vectorise them across work-items. The host splits the planes into
 * launches of at most 32768. */

/* conv_cnhw_to_nchw1_f32: y[n0 + nl, k, p] = t[k, nl, p] + (has_bias ? bias[k] : 0) with t
 * of shape (K, nb, HW) contiguous and y contiguous NCHW, one element per work-item; relu:
 * then max(v, 0) as relu_fwd_f32 (a fused ReLU).
 * Args: t, t_off, y, y_off, bias, bias_off, bias_stride, has_bias, relu, n0, nb, K, HW,
 * plane0, planes (= K*nb).  NDRange: (>= HW, 1, planes - plane0 or fewer), z = k*nb + nl. */
kernel void conv_cnhw_to_nchw1_f32(global const float *t, long t_off, global float *y, long y_off,
                                   global const float *bias, long bias_off, long bias_stride, int has_bias,
                                   int relu, int n0, int nb, int K, int HW, long plane0, long planes)
{
    long z = plane0 + (long)get_global_id(2);
    int k = (int)(z / nb), nl = (int)(z - (long)k * nb);
    int p = get_global_id(0);
    if (p >= HW || z >= planes) return;
    float add = has_bias ? bias[bias_off + k * bias_stride] : 0.0f;
    float v = t[t_off + z * HW + p] + add;
    if (relu && v < 0.0f) v = 0.0f;
    y[y_off + ((long)(n0 + nl) * K + k) * HW + p] = v;
}
/* conv_col2im1_f32: conv_col2im_f32 for stride 1 and a CONV_KH x CONV_KW window (-D
 * values), taps unrolled.  Args: col, col_off, dx, dx_off, bias, bias_off, bias_stride,
 * has_bias, n0, nb, C, H, W, Ho, Wo, ph, pw, dh, dw, plane0, planes (= C*nb).
 * NDRange: (>= W, >= H, planes - plane0 or fewer), z = c*nb + nl.  -D: CONV_KH, CONV_KW. */
#ifdef CONV_KH
kernel void conv_col2im1_f32(global const float *col, long col_off, global float *dx, long dx_off,
                             global const float *bias, long bias_off, long bias_stride, int has_bias,
                             int n0, int nb, int C, int H, int W, int Ho, int Wo, int ph, int pw, int dh, int dw,
                             long plane0, long planes)
{
    long z = plane0 + (long)get_global_id(2);
    int c = (int)(z / nb), nl = (int)(z - (long)c * nb);
    int iw = get_global_id(0), ih = get_global_id(1);
    if (iw >= W || ih >= H || z >= planes) return;
    long ohw = (long)Ho * Wo, ncols = nb * ohw;
    global const float *cn = col + col_off + (long)c * (CONV_KH * CONV_KW) * ncols + nl * ohw;
    float acc = has_bias ? bias[bias_off + c * bias_stride] : 0.0f;
#pragma unroll
    for (int a = 0; a < CONV_KH; a++) {
        int oh = ih + ph - a * dh;
        int okh = oh >= 0 && oh < Ho;
#pragma unroll
        for (int b = 0; b < CONV_KW; b++) {
            int ow = iw + pw - b * dw;
            int ok = okh && ow >= 0 && ow < Wo;
            /* read only when inside: neighbouring work-items' taps stay one element apart,
             * so a CPU compiler turns them into one masked vector load */
            acc += ok ? cn[(a * CONV_KW + b) * ncols + oh * Wo + ow] : 0.0f;
        }
    }
    dx[dx_off + (((long)(n0 + nl) * C + c) * H + ih) * W + iw] = acc;
}
#endif

/* Direct kernels for convolutions where each output channel reads one input channel
 * (groups == C: depthwise, channel multipliers, and the C == 1 first layer), window
 * CONV_KH x CONV_KW and stride (CONV_SH, CONV_SW) fixed by -D values so that every loop
 * unrolls and the bodies vectorise across work-items. Output channel k reads input channel
 * k / (K / C). NDRange (column, row, plane - plane0); the host splits the planes into
 * launches of at most 32768. Rows of x and dy must be contiguous, with row strides that
 * fit an int (the host copies a tensor that is not so); loads are predicated rather than
 * clamped, so neighbouring work-items read neighbouring addresses (vector loads, not
 * gathers). */
#if defined(CONV_KH) && defined(CONV_SH)
#define CONV_KK (CONV_KH * CONV_KW)

/* conv_direct_fwd_f32: y[n, k, oh, ow] = sum over taps (a, b) in row-major order of
 * x[n, k / (K / C), ih, iw] * w[k, 0, a, b] (0 outside the input), + bias[k] when has_bias.
 * Each work-item computes CONV_KO consecutive output channels (CONV_KO divides K / C).
 * y contiguous, w contiguous (K, 1, kh, kw).  Args: x, x_off, xs, xsh (row stride;
 * columns contiguous), w, w_off, bias, bias_off, bias_stride, has_bias, y, y_off, C, K, H, W,
 * Ho, Wo, ph, pw, dh, dw, plane0, planes (= N*K/CONV_KO).
 * NDRange: (>= Wo, >= Ho, planes - plane0 or fewer), z = n*(K/CONV_KO) + k/CONV_KO.
 * -D: CONV_KH, CONV_KW, CONV_SH, CONV_SW, CONV_KO. */
kernel void conv_direct_fwd_f32(global const float *restrict x, long x_off, long4 xs, int xsh,
                                global const float *restrict w, long w_off, global const float *restrict bias, long bias_off,
                                long bias_stride, int has_bias, global float *restrict y, long y_off, int C, int K, int H,
                                int W, int Ho, int Wo, int ph, int pw, int dh, int dw, long plane0, long planes)
{
    size_t gx = get_global_id(0);
    int ow = (int)gx, oh = get_global_id(1);
    long z = plane0 + (long)get_global_id(2);
    if (ow >= Wo || oh >= Ho || z >= planes) return;
    int kgs = K / CONV_KO;
    long n = z / kgs;
    int k0 = (int)(z - n * kgs) * CONV_KO;
    int c = k0 / (K / C);
    global const float *xp = x + x_off + n * xs.s0 + c * xs.s1;
    int hs = oh * CONV_SH - ph, ws = ow * CONV_SW - pw;
    global const float *wp = w + w_off + (long)k0 * CONV_KK;
    float acc[CONV_KO];
#pragma unroll
    for (int j = 0; j < CONV_KO; j++) acc[j] = 0.0f;
#pragma unroll
    for (int a = 0; a < CONV_KH; a++) {
        int ih = hs + a * dh;
        int okh = ih >= 0 && ih < H;
#pragma unroll
        for (int b = 0; b < CONV_KW; b++) {
            int iw = ws + b * dw;
            int ok = okh && iw >= 0 && iw < W;
            /* uniform row pointer + the work-item index: consecutive addresses */
            global const float *xr = xp + (long)ih * xsh + (b * dw - pw);
            float v = 0.0f;
            if (ok) v = xr[gx * CONV_SW];
#pragma unroll
            for (int j = 0; j < CONV_KO; j++) acc[j] += v * wp[j * CONV_KK + a * CONV_KW + b];
        }
    }
    int ohw = Ho * Wo;
    global float *yp = y + y_off + (n * K + k0) * ohw + (long)oh * Wo;
#pragma unroll
    for (int j = 0; j < CONV_KO; j++) {
        float bv = bias[bias_off + (k0 + j) * bias_stride]; /* a dummy element without bias */
        yp[(long)j * ohw + gx] = has_bias ? acc[j] + bv : acc[j];
    }
}

/* conv_direct_bwd_data_f32: gradient of conv_direct_fwd_f32 with respect to x when K == C
 * (depthwise), gathered per input pixel in tap order: dx[n, c, ih, iw] = init + sum of
 * dy[n, c, oh, ow] * w[c, 0, a, b] over the taps that connect them, init = bias[c] when
 * has_bias (the same results as conv_dw_bwd_data_f32). dx contiguous.  Args: dy, dy_off,
 * dys, dysh, w, w_off, bias, bias_off, bias_stride, has_bias, dx, dx_off, C, H, W,
 * Ho, Wo, ph, pw, dh, dw, plane0, planes (= N*C).
 * NDRange: (>= W, >= H, planes - plane0 or fewer), z = n*C + c.  -D: CONV_KH, CONV_KW,
 * CONV_SH, CONV_SW. */
kernel void conv_direct_bwd_data_f32(global const float *restrict dy, long dy_off, long4 dys, int dysh,
                                     global const float *restrict w, long w_off, global const float *restrict bias, long bias_off,
                                     long bias_stride, int has_bias, global float *restrict dx, long dx_off, int C, int H,
                                     int W, int Ho, int Wo, int ph, int pw, int dh, int dw, long plane0, long planes)
{
    size_t gx = get_global_id(0);
    int iw = (int)gx, ih = get_global_id(1);
    long z = plane0 + (long)get_global_id(2);
    if (iw >= W || ih >= H || z >= planes) return;
    long n = z / C;
    int c = (int)(z - n * C);
    global const float *gp = dy + dy_off + n * dys.s0 + c * dys.s1;
    global const float *wp = w + w_off + (long)c * CONV_KK;
    float bv = bias[bias_off + c * bias_stride]; /* a dummy element without bias */
    float acc = has_bias ? bv : 0.0f;
#pragma unroll
    for (int a = 0; a < CONV_KH; a++) {
        int th = ih + ph - a * dh;
        int oh = max(th, 0) / CONV_SH;
        int okh = th >= 0 && oh * CONV_SH == th && oh < Ho;
#pragma unroll
        for (int b = 0; b < CONV_KW; b++) {
            int tw = iw + pw - b * dw;
            int ow = max(tw, 0) / CONV_SW;
            int ok = okh && tw >= 0 && ow * CONV_SW == tw && ow < Wo;
            float g = 0.0f;
#if CONV_SW == 1
            if (ok) g = (gp + (long)oh * dysh + (pw - b * dw))[gx];
#else
            if (ok) g = gp[oh * dysh + ow];
#endif
            acc += ok ? g * wp[a * CONV_KW + b] : 0.0f;
        }
    }
    (dx + dx_off + z * H * W + (long)ih * W)[gx] = acc;
}

/* conv_direct_wgrad_f32: first stage of the weight gradient of conv_direct_fwd_f32. For
 * output column ow, row block r (rows r*CONV_ROWS .. r*CONV_ROWS + CONV_ROWS - 1) and
 * plane z = nl*K + k (image n0 + nl):
 * part[((z*KK + t)*nr + r)*Wo + ow] = sum over the block's rows in order of
 * dy[n, k, oh, ow] * x[n, k / (K / C), ih, iw] for each tap t = a*kw + b (0 outside).
 * Args: x, x_off, xs, xsh, dy, dy_off, dys, dysh, part, n0, C, K, H, W, Ho, Wo,
 * ph, pw, dh, dw, nr (row blocks), plane0, planes (= nb*K).
 * NDRange: (>= Wo, >= nr, planes - plane0 or fewer).  -D: CONV_KH, CONV_KW, CONV_SH,
 * CONV_SW, CONV_ROWS. */
kernel void conv_direct_wgrad_f32(global const float *restrict x, long x_off, long4 xs, int xsh,
                                  global const float *restrict dy, long dy_off, long4 dys, int dysh,
                                  global float *restrict part, int n0, int C, int K, int H, int W, int Ho, int Wo, int ph,
                                  int pw, int dh, int dw, int nr, long plane0, long planes)
{
    size_t gx = get_global_id(0);
    int ow = (int)gx, r = get_global_id(1);
    long z = plane0 + (long)get_global_id(2);
    if (ow >= Wo || r >= nr || z >= planes) return;
    long nl = z / K;
    int k = (int)(z - nl * K);
    int c = k / (K / C);
    global const float *xp = x + x_off + (n0 + nl) * xs.s0 + c * xs.s1;
    global const float *gp = dy + dy_off + (n0 + nl) * dys.s0 + k * dys.s1;
    float acc[CONV_KK];
#pragma unroll
    for (int t = 0; t < CONV_KK; t++) acc[t] = 0.0f;
    int ws = ow * CONV_SW - pw;
#pragma unroll
    for (int i = 0; i < CONV_ROWS; i++) {
        int oh = r * CONV_ROWS + i;
        float g = 0.0f;
        if (oh < Ho) g = (gp + (long)oh * dysh)[gx];
        int hs = oh * CONV_SH - ph;
#pragma unroll
        for (int a = 0; a < CONV_KH; a++) {
            int ih = hs + a * dh;
            int okh = ih >= 0 && ih < H;
#pragma unroll
            for (int b = 0; b < CONV_KW; b++) {
                int iw = ws + b * dw;
                int ok = okh && iw >= 0 && iw < W;
                global const float *xr = xp + (long)ih * xsh + (b * dw - pw);
                float v = 0.0f;
                if (ok) v = xr[gx * CONV_SW];
                acc[a * CONV_KW + b] += ok ? g * v : 0.0f;
            }
        }
    }
    global float *pp = part + z * CONV_KK * nr * Wo + (long)r * Wo;
#pragma unroll
    for (int t = 0; t < CONV_KK; t++) pp[(long)t * nr * Wo + gx] = acc[t];
}
#endif

/* conv_direct_wsum_f32: second stage of the direct weight gradient: for m = k*KK + t,
 * dw[m] = (accumulate ? dw[m] : 0) + sum over images nl < nb in order of (sum over
 * j < len in order of part[(nl*M + m)*len + j]), M = K*KK, len = nr*Wo. dw contiguous.
 * Args: part, nb, M, len, dw, dw_off, accumulate.  NDRange: 1-D >= M. */
kernel void conv_direct_wsum_f32(global const float *restrict part, int nb, int M, int len, global float *restrict dw, long dw_off,
                                 int accumulate)
{
    int m = get_global_id(0);
    if (m >= M) return;
    float acc = accumulate ? dw[dw_off + m] : 0.0f;
    for (int nl = 0; nl < nb; nl++) {
        global const float *pp = part + ((long)nl * M + m) * len;
        float s = 0.0f;
        for (int j = 0; j < len; j++) s += pp[j];
        acc += s;
    }
    dw[dw_off + m] = acc;
}

/* conv_weight_from_t_f32: dw (groups, cog, kg) contiguous from its transpose dwt (groups, kg,
 * cog) contiguous (the weight gradient's product runs transposed).
 * Args: dwt, dwt_off, dw, dw_off, cog, kg, total (= groups*cog*kg).
 * NDRange: 1-D >= total, item = dw's index. */
kernel void conv_weight_from_t_f32(global const float *dwt, long dwt_off, global float *dw, long dw_off, int cog,
                                   int kg, long total)
{
    long i = get_global_id(0);
    if (i >= total) return;
    long per = (long)cog * kg, gr = i / per;
    int r = (int)(i - gr * per), o = r / kg, k = r - o * kg;
    dw[dw_off + i] = dwt[dwt_off + gr * per + (long)k * cog + o];
}

/* A convolution followed by a ReLU and 2x2 max pooling with stride 2, the pooling's part
 * (the conv output Ho x Wo even, so the windows tile it). Same bits as conv_planes_copy_f32
 * with its ReLU followed by maxpool_2x2_fwd_f32 and, backward, maxpool_2x2_bwd_f32 followed
 * by relu_bwd_f32: each tap is CLGRAD_RELU(t + bias), then the windows of
 * clgrad_max2x2_* (cl/common.cl), and the gradient at the recorded tap is
 * dy * (y > 0 ? 1 : 0). */
/* conv_relu_pool2_f32: from the GEMM's result t (K, nb, Ho*Wo) of images n0 .. n0+nb, the
 * pooled y (N, K, Ho/2, Wo/2) contiguous and idx, the flat oh*Wo+ow of each maximum (as
 * clgrad_max_pool2d's indices). One work-item per pooled row, four outputs at a time.
 * Args: t, t_off, y, y_off, idx, idx_off, bias, bias_off, bias_stride, has_bias, n0, nb, K,
 * Ho, Wo, rows (= K*nb*Ho/2).  NDRange: 1-D >= rows, item i = (k*nb + nl)*(Ho/2) + ph. */
kernel void conv_relu_pool2_f32(global const float *t, long t_off, global float *y, long y_off, global int *idx,
                                long idx_off, global const float *bias, long bias_off, long bias_stride, int has_bias,
                                int n0, int nb, int K, int Ho, int Wo, long rows)
{
    long i = get_global_id(0);
    if (i >= rows) return;
    const int Hp = Ho / 2, Wp = Wo / 2;
    long j = i / Hp;
    int ph = (int)(i - j * Hp), k = (int)(j / nb), nl = (int)(j - (long)k * nb);
    float add = has_bias ? bias[bias_off + k * bias_stride] : 0.0f;
    int b0 = 2 * ph * Wo;
    global const float *r0 = t + t_off + j * Ho * Wo + b0;
    global const float *r1 = r0 + Wo;
    long o = (((long)(n0 + nl) * K + k) * Hp + ph) * Wp;
    global float *yp = y + y_off + o;
    global int *ip = idx + idx_off + o;
    int pw = 0;
    for (; pw + 4 <= Wp; pw += 4) {
        float8 a = vload8(0, r0 + 2 * pw), b = vload8(0, r1 + 2 * pw);
        if (has_bias) {
            a += add;
            b += add;
        }
        float4 best;
        int4 at;
        clgrad_max2x2_4(CLGRAD_RELU(float8, a), CLGRAD_RELU(float8, b), (int4)(b0 + 2 * pw) + (int4)(0, 2, 4, 6),
                        Wo, &best, &at);
        vstore4(best, 0, yp + pw);
        vstore4(at, 0, ip + pw);
    }
    for (; pw < Wp; pw++) {
        float t00 = r0[2 * pw], t01 = r0[2 * pw + 1], t10 = r1[2 * pw], t11 = r1[2 * pw + 1];
        if (has_bias) {
            t00 += add;
            t01 += add;
            t10 += add;
            t11 += add;
        }
        clgrad_max2x2_1(CLGRAD_RELU(float, t00), CLGRAD_RELU(float, t01), CLGRAD_RELU(float, t10),
                        CLGRAD_RELU(float, t11), b0 + 2 * pw, Wo, yp + pw, ip + pw);
    }
}

/* conv_relu_unpool2_f32: the gradient of the convolution's output (N, K, Ho, Wo),
 * contiguous, from dy (the pooled shape, contiguous), idx and the pooled y of
 * conv_relu_pool2_f32: dy * (y > 0 ? 1 : 0) at the recorded tap, 0 at the other three.
 * Args: dy, dy_off, idx, idx_off, y, y_off, dx, dx_off, Ho, Wo, rows (= N*K*Ho/2).
 * NDRange: 1-D >= rows, item i = (n*K + k)*(Ho/2) + ph. */
kernel void conv_relu_unpool2_f32(global const float *dy, long dy_off, global const int *idx, long idx_off,
                                  global const float *y, long y_off, global float *dx, long dx_off, int Ho, int Wo,
                                  long rows)
{
    long i = get_global_id(0);
    if (i >= rows) return;
    const int Hp = Ho / 2, Wp = Wo / 2;
    long plane = i / Hp;
    int ph = (int)(i - plane * Hp), b0 = 2 * ph * Wo;
    global float *r0 = dx + dx_off + plane * Ho * Wo + b0;
    global float *r1 = r0 + Wo;
    global const float *gp = dy + dy_off + i * Wp;
    global const float *yq = y + y_off + i * Wp;
    global const int *ip = idx + idx_off + i * Wp;
    int pw = 0;
    for (; pw + 4 <= Wp; pw += 4) {
        float4 g = vload4(0, gp + pw) * select((float4)(0.0f), (float4)(1.0f), vload4(0, yq + pw) > 0.0f);
        clgrad_unpool2x2_4(g, vload4(0, ip + pw), (int4)(b0 + 2 * pw) + (int4)(0, 2, 4, 6), Wo, r0 + 2 * pw,
                           r1 + 2 * pw);
    }
    for (; pw < Wp; pw++)
        clgrad_unpool2x2_1(gp[pw] * (yq[pw] > 0.0f ? 1.0f : 0.0f), ip[pw], b0 + 2 * pw, Wo, r0 + 2 * pw, r1 + 2 * pw);
}
