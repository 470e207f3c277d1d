/* Reference 2-d convolution, transposed convolution and pooling (NCHW), forward and backward.
 * Every output element is computed by gathering its terms into a double accumulator, which
 * keeps the backward passes free of scratch buffers. Semantics are documented in ref.h. */
#include "ref.h"

#include <math.h>

static size_t at4(int a, int b, int c, int d, int B, int C, int D)
{
    return (((size_t)a * (size_t)B + (size_t)b) * (size_t)C + (size_t)c) * (size_t)D + (size_t)d;
}

/* Output index o such that o*stride == t, or -1 when there is none in [0, out). */
static int exact_div(int t, int stride, int out)
{
    if (t < 0 || t % stride != 0 || t / stride >= out)
        return -1;
    return t / stride;
}

int ref_conv2d_out_dim(int in, int k, int stride, int pad, int dil)
{
    int span = in + 2 * pad - dil * (k - 1) - 1;
    if (span < 0 || stride < 1)
        return 0;
    return span / stride + 1;
}

int ref_conv_transpose2d_out_dim(int in, int k, int stride, int pad, int dil, int out_pad)
{
    return (in - 1) * stride - 2 * pad + dil * (k - 1) + out_pad + 1;
}

/* Validates the geometry; writes the output size. */
static int conv_check(const ref_conv2d_params *p, int transpose, int *ho, int *wo)
{
    if (p->n < 0 || p->c_in < 1 || p->c_out < 1 || p->h_in < 1 || p->w_in < 1 ||
        p->k_h < 1 || p->k_w < 1 || p->stride_h < 1 || p->stride_w < 1 ||
        p->pad_h < 0 || p->pad_w < 0 || p->dil_h < 1 || p->dil_w < 1 || p->groups < 1 ||
        p->c_in % p->groups != 0 || p->c_out % p->groups != 0)
        return -1;
    if (transpose) {
        int mh = p->stride_h > p->dil_h ? p->stride_h : p->dil_h;
        int mw = p->stride_w > p->dil_w ? p->stride_w : p->dil_w;
        if (p->out_pad_h < 0 || p->out_pad_w < 0 || p->out_pad_h >= mh || p->out_pad_w >= mw)
            return -1;
        *ho = ref_conv_transpose2d_out_dim(p->h_in, p->k_h, p->stride_h, p->pad_h, p->dil_h,
                                           p->out_pad_h);
        *wo = ref_conv_transpose2d_out_dim(p->w_in, p->k_w, p->stride_w, p->pad_w, p->dil_w,
                                           p->out_pad_w);
    } else {
        *ho = ref_conv2d_out_dim(p->h_in, p->k_h, p->stride_h, p->pad_h, p->dil_h);
        *wo = ref_conv2d_out_dim(p->w_in, p->k_w, p->stride_w, p->pad_w, p->dil_w);
    }
    return (*ho < 1 || *wo < 1) ? -1 : 0;
}

static void bias_grad(int n, int c, int ho, int wo, const float *dy, float *db)
{
    for (int co = 0; co < c; ++co) {
        double acc = 0.0;
        for (int b = 0; b < n; ++b)
            for (int oh = 0; oh < ho; ++oh)
                for (int ow = 0; ow < wo; ++ow)
                    acc += dy[at4(b, co, oh, ow, c, ho, wo)];
        db[co] = (float)acc;
    }
}

/* ---------------------------------------------------------------- conv2d */

int ref_conv2d_forward(const ref_conv2d_params *p, const float *x, const float *w,
                       const float *bias, float *y)
{
    int ho, wo;
    if (conv_check(p, 0, &ho, &wo))
        return -1;
    int cig = p->c_in / p->groups, cog = p->c_out / p->groups;
    for (int b = 0; b < p->n; ++b)
    for (int co = 0; co < p->c_out; ++co)
    for (int oh = 0; oh < ho; ++oh)
    for (int ow = 0; ow < wo; ++ow) {
        int g = co / cog;
        double acc = bias ? (double)bias[co] : 0.0;
        for (int cl = 0; cl < cig; ++cl)
        for (int kh = 0; kh < p->k_h; ++kh) {
            int ih = oh * p->stride_h - p->pad_h + kh * p->dil_h;
            if (ih < 0 || ih >= p->h_in)
                continue;
            for (int kw = 0; kw < p->k_w; ++kw) {
                int iw = ow * p->stride_w - p->pad_w + kw * p->dil_w;
                if (iw < 0 || iw >= p->w_in)
                    continue;
                acc += (double)x[at4(b, g * cig + cl, ih, iw, p->c_in, p->h_in, p->w_in)] *
                       (double)w[at4(co, cl, kh, kw, cig, p->k_h, p->k_w)];
            }
        }
        y[at4(b, co, oh, ow, p->c_out, ho, wo)] = (float)acc;
    }
    return 0;
}

int ref_conv2d_backward(const ref_conv2d_params *p, const float *x, const float *w,
                        const float *dy, float *dx, float *dw, float *db)
{
    int ho, wo;
    if (conv_check(p, 0, &ho, &wo))
        return -1;
    int cig = p->c_in / p->groups, cog = p->c_out / p->groups;
    if (dx) {
        /* dx[ih] gathers every output oh with oh*stride - pad + kh*dil == ih. */
        for (int b = 0; b < p->n; ++b)
        for (int ci = 0; ci < p->c_in; ++ci)
        for (int ih = 0; ih < p->h_in; ++ih)
        for (int iw = 0; iw < p->w_in; ++iw) {
            int g = ci / cig, cl = ci % cig;
            double acc = 0.0;
            for (int col = 0; col < cog; ++col)
            for (int kh = 0; kh < p->k_h; ++kh) {
                int oh = exact_div(ih + p->pad_h - kh * p->dil_h, p->stride_h, ho);
                if (oh < 0)
                    continue;
                for (int kw = 0; kw < p->k_w; ++kw) {
                    int ow = exact_div(iw + p->pad_w - kw * p->dil_w, p->stride_w, wo);
                    if (ow < 0)
                        continue;
                    int co = g * cog + col;
                    acc += (double)dy[at4(b, co, oh, ow, p->c_out, ho, wo)] *
                           (double)w[at4(co, cl, kh, kw, cig, p->k_h, p->k_w)];
                }
            }
            dx[at4(b, ci, ih, iw, p->c_in, p->h_in, p->w_in)] = (float)acc;
        }
    }
    if (dw) {
        for (int co = 0; co < p->c_out; ++co)
        for (int cl = 0; cl < cig; ++cl)
        for (int kh = 0; kh < p->k_h; ++kh)
        for (int kw = 0; kw < p->k_w; ++kw) {
            int ci = (co / cog) * cig + cl;
            double acc = 0.0;
            for (int b = 0; b < p->n; ++b)
            for (int oh = 0; oh < ho; ++oh) {
                int ih = oh * p->stride_h - p->pad_h + kh * p->dil_h;
                if (ih < 0 || ih >= p->h_in)
                    continue;
                for (int ow = 0; ow < wo; ++ow) {
                    int iw = ow * p->stride_w - p->pad_w + kw * p->dil_w;
                    if (iw < 0 || iw >= p->w_in)
                        continue;
                    acc += (double)dy[at4(b, co, oh, ow, p->c_out, ho, wo)] *
                           (double)x[at4(b, ci, ih, iw, p->c_in, p->h_in, p->w_in)];
                }
            }
            dw[at4(co, cl, kh, kw, cig, p->k_h, p->k_w)] = (float)acc;
        }
    }
    if (db)
        bias_grad(p->n, p->c_out, ho, wo, dy, db);
    return 0;
}

/* ------------------------------------------------------ conv_transpose2d */

int ref_conv_transpose2d_forward(const ref_conv2d_params *p, const float *x, const float *w,
                                 const float *bias, float *y)
{
    int ho, wo;
    if (conv_check(p, 1, &ho, &wo))
        return -1;
    int cig = p->c_in / p->groups, cog = p->c_out / p->groups;
    for (int b = 0; b < p->n; ++b)
    for (int co = 0; co < p->c_out; ++co)
    for (int oh = 0; oh < ho; ++oh)
    for (int ow = 0; ow < wo; ++ow) {
        int g = co / cog, col = co % cog;
        double acc = bias ? (double)bias[co] : 0.0;
        for (int cl = 0; cl < cig; ++cl)
        for (int kh = 0; kh < p->k_h; ++kh) {
            int ih = exact_div(oh + p->pad_h - kh * p->dil_h, p->stride_h, p->h_in);
            if (ih < 0)
                continue;
            for (int kw = 0; kw < p->k_w; ++kw) {
                int iw = exact_div(ow + p->pad_w - kw * p->dil_w, p->stride_w, p->w_in);
                if (iw < 0)
                    continue;
                int ci = g * cig + cl;
                acc += (double)x[at4(b, ci, ih, iw, p->c_in, p->h_in, p->w_in)] *
                       (double)w[at4(ci, col, kh, kw, cog, p->k_h, p->k_w)];
            }
        }
        y[at4(b, co, oh, ow, p->c_out, ho, wo)] = (float)acc;
    }
    return 0;
}

int ref_conv_transpose2d_backward(const ref_conv2d_params *p, const float *x, const float *w,
                                  const float *dy, float *dx, float *dw, float *db)
{
    int ho, wo;
    if (conv_check(p, 1, &ho, &wo))
        return -1;
    int cig = p->c_in / p->groups, cog = p->c_out / p->groups;
    if (dx) {
        /* The adjoint of the scatter is an ordinary convolution of dy. */
        for (int b = 0; b < p->n; ++b)
        for (int ci = 0; ci < p->c_in; ++ci)
        for (int ih = 0; ih < p->h_in; ++ih)
        for (int iw = 0; iw < p->w_in; ++iw) {
            int g = ci / cig;
            double acc = 0.0;
            for (int col = 0; col < cog; ++col)
            for (int kh = 0; kh < p->k_h; ++kh) {
                int oh = ih * p->stride_h - p->pad_h + kh * p->dil_h;
                if (oh < 0 || oh >= ho)
                    continue;
                for (int kw = 0; kw < p->k_w; ++kw) {
                    int ow = iw * p->stride_w - p->pad_w + kw * p->dil_w;
                    if (ow < 0 || ow >= wo)
                        continue;
                    acc += (double)dy[at4(b, g * cog + col, oh, ow, p->c_out, ho, wo)] *
                           (double)w[at4(ci, col, kh, kw, cog, p->k_h, p->k_w)];
                }
            }
            dx[at4(b, ci, ih, iw, p->c_in, p->h_in, p->w_in)] = (float)acc;
        }
    }
    if (dw) {
        for (int ci = 0; ci < p->c_in; ++ci)
        for (int col = 0; col < cog; ++col)
        for (int kh = 0; kh < p->k_h; ++kh)
        for (int kw = 0; kw < p->k_w; ++kw) {
            int co = (ci / cig) * cog + col;
            double acc = 0.0;
            for (int b = 0; b < p->n; ++b)
            for (int ih = 0; ih < p->h_in; ++ih) {
                int oh = ih * p->stride_h - p->pad_h + kh * p->dil_h;
                if (oh < 0 || oh >= ho)
                    continue;
                for (int iw = 0; iw < p->w_in; ++iw) {
                    int ow = iw * p->stride_w - p->pad_w + kw * p->dil_w;
                    if (ow < 0 || ow >= wo)
                        continue;
                    acc += (double)x[at4(b, ci, ih, iw, p->c_in, p->h_in, p->w_in)] *
                           (double)dy[at4(b, co, oh, ow, p->c_out, ho, wo)];
                }
            }
            dw[at4(ci, col, kh, kw, cog, p->k_h, p->k_w)] = (float)acc;
        }
    }
    if (db)
        bias_grad(p->n, p->c_out, ho, wo, dy, db);
    return 0;
}

/* --------------------------------------------------------------- pooling */

int ref_pool2d_out_dim(int in, int k, int stride, int pad)
{
    return ref_conv2d_out_dim(in, k, stride, pad, 1);
}

static int pool_check(const ref_pool2d_params *p, int *ho, int *wo)
{
    if (p->planes < 0 || p->h_in < 1 || p->w_in < 1 || p->k_h < 1 || p->k_w < 1 ||
        p->stride_h < 1 || p->stride_w < 1 || p->pad_h < 0 || p->pad_w < 0 ||
        p->pad_h > p->k_h / 2 || p->pad_w > p->k_w / 2)
        return -1;
    *ho = ref_pool2d_out_dim(p->h_in, p->k_h, p->stride_h, p->pad_h);
    *wo = ref_pool2d_out_dim(p->w_in, p->k_w, p->stride_w, p->pad_w);
    return (*ho < 1 || *wo < 1) ? -1 : 0;
}

/* The outputs o in [*lo, *hi] whose window [o*stride - pad, o*stride - pad + k) holds i. */
static void windows_of(int i, int k, int stride, int pad, int out, int *lo, int *hi)
{
    int first = i + pad - k + 1;
    *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    *hi = (i + pad) / stride;
    if (*hi > out - 1)
        *hi = out - 1;
}

int ref_max_pool2d_forward(const ref_pool2d_params *p, const float *x, float *y, int32_t *idx)
{
    int ho, wo;
    if (pool_check(p, &ho, &wo))
        return -1;
    size_t hw = (size_t)p->h_in * (size_t)p->w_in;
    for (int pl = 0; pl < p->planes; ++pl) {
        const float *xp = x + (size_t)pl * hw;
        for (int oh = 0; oh < ho; ++oh)
        for (int ow = 0; ow < wo; ++ow) {
            int hs = oh * p->stride_h - p->pad_h, ws = ow * p->stride_w - p->pad_w;
            int h0 = hs < 0 ? 0 : hs, w0 = ws < 0 ? 0 : ws;
            float best = -INFINITY;
            int best_at = h0 * p->w_in + w0; /* first valid tap, as PyTorch */
            for (int ih = h0; ih < hs + p->k_h && ih < p->h_in; ++ih)
                for (int iw = w0; iw < ws + p->k_w && iw < p->w_in; ++iw) {
                    float v = xp[ih * p->w_in + iw];
                    if (v > best || isnan(v)) {
                        best = v;
                        best_at = ih * p->w_in + iw;
                    }
                }
            size_t o = ((size_t)pl * (size_t)ho + (size_t)oh) * (size_t)wo + (size_t)ow;
            y[o] = best;
            if (idx)
                idx[o] = best_at;
        }
    }
    return 0;
}

int ref_max_pool2d_backward(const ref_pool2d_params *p, const int32_t *idx, const float *dy,
                            float *dx)
{
    int ho, wo;
    if (pool_check(p, &ho, &wo))
        return -1;
    size_t ohw = (size_t)ho * (size_t)wo;
    for (int pl = 0; pl < p->planes; ++pl)
    for (int ih = 0; ih < p->h_in; ++ih)
    for (int iw = 0; iw < p->w_in; ++iw) {
        int tap = ih * p->w_in + iw, oh0, oh1, ow0, ow1;
        windows_of(ih, p->k_h, p->stride_h, p->pad_h, ho, &oh0, &oh1);
        windows_of(iw, p->k_w, p->stride_w, p->pad_w, wo, &ow0, &ow1);
        double acc = 0.0;
        for (int oh = oh0; oh <= oh1; ++oh)
            for (int ow = ow0; ow <= ow1; ++ow) {
                size_t o = (size_t)pl * ohw + (size_t)oh * (size_t)wo + (size_t)ow;
                if (idx[o] == tap)
                    acc += dy[o];
            }
        dx[(size_t)pl * (size_t)p->h_in * (size_t)p->w_in + (size_t)tap] = (float)acc;
    }
    return 0;
}

/* Divisor of the avg-pool window starting at (hs, ws): count_include_pad semantics. */
static double avg_divisor(const ref_pool2d_params *p, int hs, int ws)
{
    int he = hs + p->k_h, we = ws + p->k_w;
    if (he > p->h_in + p->pad_h)
        he = p->h_in + p->pad_h;
    if (we > p->w_in + p->pad_w)
        we = p->w_in + p->pad_w;
    return (double)(he - hs) * (double)(we - ws);
}

int ref_avg_pool2d_forward(const ref_pool2d_params *p, const float *x, float *y)
{
    int ho, wo;
    if (pool_check(p, &ho, &wo))
        return -1;
    size_t hw = (size_t)p->h_in * (size_t)p->w_in;
    for (int pl = 0; pl < p->planes; ++pl) {
        const float *xp = x + (size_t)pl * hw;
        for (int oh = 0; oh < ho; ++oh)
        for (int ow = 0; ow < wo; ++ow) {
            int hs = oh * p->stride_h - p->pad_h, ws = ow * p->stride_w - p->pad_w;
            double acc = 0.0;
            for (int ih = hs < 0 ? 0 : hs; ih < hs + p->k_h && ih < p->h_in; ++ih)
                for (int iw = ws < 0 ? 0 : ws; iw < ws + p->k_w && iw < p->w_in; ++iw)
                    acc += xp[ih * p->w_in + iw];
            y[((size_t)pl * (size_t)ho + (size_t)oh) * (size_t)wo + (size_t)ow] =
                (float)(acc / avg_divisor(p, hs, ws));
        }
    }
    return 0;
}

int ref_avg_pool2d_backward(const ref_pool2d_params *p, const float *dy, float *dx)
{
    int ho, wo;
    if (pool_check(p, &ho, &wo))
        return -1;
    size_t ohw = (size_t)ho * (size_t)wo;
    for (int pl = 0; pl < p->planes; ++pl)
    for (int ih = 0; ih < p->h_in; ++ih)
    for (int iw = 0; iw < p->w_in; ++iw) {
        int oh0, oh1, ow0, ow1;
        windows_of(ih, p->k_h, p->stride_h, p->pad_h, ho, &oh0, &oh1);
        windows_of(iw, p->k_w, p->stride_w, p->pad_w, wo, &ow0, &ow1);
        double acc = 0.0;
        for (int oh = oh0; oh <= oh1; ++oh)
            for (int ow = ow0; ow <= ow1; ++ow)
                acc += dy[(size_t)pl * ohw + (size_t)oh * (size_t)wo + (size_t)ow] /
                       avg_divisor(p, oh * p->stride_h - p->pad_h, ow * p->stride_w - p->pad_w);
        dx[((size_t)pl * (size_t)p->h_in + (size_t)ih) * (size_t)p->w_in + (size_t)iw] =
            (float)acc;
    }
    return 0;
}

void ref_global_avg_pool_forward(size_t planes, size_t hw, const float *x, float *y)
{
    for (size_t pl = 0; pl < planes; ++pl) {
        double acc = 0.0;
        for (size_t j = 0; j < hw; ++j)
            acc += x[pl * hw + j];
        y[pl] = (float)(acc / (double)hw);
    }
}

void ref_global_avg_pool_backward(size_t planes, size_t hw, const float *dy, float *dx)
{
    for (size_t pl = 0; pl < planes; ++pl) {
        float g = (float)((double)dy[pl] / (double)hw);
        for (size_t j = 0; j < hw; ++j)
            dx[pl * hw + j] = g;
    }
}
