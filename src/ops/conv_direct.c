/* The convolution algorithms without im2col:
 *  - 1x1, stride 1, no padding: the NCHW tensor already is a (C_in, H*W) matrix per image,
 *    so forward and input gradient are plain GEMMs batched over images;
 *  - depthwise (groups == C_in == C_out > 1), any window: general direct kernels, one
 *    work-item per output (per input pixel for the gradient, per weight tap and image for
 *    the weight gradient);
 *  - direct, for groups == C_in with windows up to 7x7 and strides up to 4: kernels
 *    specialised on the window and stride, loop-free so they vectorise across work-items.
 *    Forward: one work-item per output pixel and a few output channels; input gradient
 *    (depthwise): one per input pixel; weight gradient: per (column, block of rows, plane)
 *    partial sums of every tap, then one ordered sum per weight. */
#include "ops/conv_impl.h"
#include "ops/gemm.h"

#include <stdio.h>

#define FAMILY "conv"

/* --- 1x1 stride 1: GEMMs straight on NCHW --------------------------------------------------- */

clgrad_status clgrad__conv_forward_1x1(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                 clgrad_tensor *wc, clgrad_tensor *bias, clgrad_tensor *y)
{
    int64_t hw = (int64_t)g->h * g->w, cig = g->c_in / g->groups, cog = g->c_out / g->groups;
    clgrad_tensor *xc;
    CLGRAD_TRY(clgrad__contiguous(x, &xc));
    clgrad_status st = bias ? clgrad__conv_bias_fill(ctx, y, bias) : CLGRAD_OK;
    for (int grp = 0; st == CLGRAD_OK && grp < g->groups; grp++) {
        clgrad__gemm_args ga = {0};
        ga.m = cog, ga.n = hw, ga.k = cig, ga.batch = g->n, ga.alpha = 1.0f, ga.beta = bias ? 1.0f : 0.0f;
        ga.a = wc->buf->mem, ga.a_off = wc->offset + grp * cog * cig, ga.lda = cig, ga.a_bstride = 0;
        ga.b = xc->buf->mem, ga.b_off = xc->offset + grp * cig * hw, ga.ldb = hw, ga.b_bstride = g->c_in * hw;
        ga.c = y->buf->mem, ga.c_off = y->offset + grp * cog * hw, ga.ldc = hw, ga.c_bstride = g->c_out * hw;
        st = clgrad__gemm(ctx, &ga);
    }
    clgrad_tensor_release(xc);
    return st;
}

clgrad_status clgrad__conv_backward_data_1x1(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *wc,
                                       clgrad_tensor *dy, clgrad_tensor *dx_bias, clgrad_tensor *dx)
{
    int64_t hw = (int64_t)g->h * g->w, cig = g->c_in / g->groups, cog = g->c_out / g->groups;
    clgrad_tensor *dyc;
    CLGRAD_TRY(clgrad__contiguous(dy, &dyc));
    clgrad_status st = dx_bias ? clgrad__conv_bias_fill(ctx, dx, dx_bias) : CLGRAD_OK;
    for (int grp = 0; st == CLGRAD_OK && grp < g->groups; grp++) {
        clgrad__gemm_args ga = {0};
        ga.trans_a = 1;
        ga.m = cig, ga.n = hw, ga.k = cog, ga.batch = g->n, ga.alpha = 1.0f, ga.beta = dx_bias ? 1.0f : 0.0f;
        ga.a = wc->buf->mem, ga.a_off = wc->offset + grp * cog * cig, ga.lda = cig, ga.a_bstride = 0;
        ga.b = dyc->buf->mem, ga.b_off = dyc->offset + grp * cog * hw, ga.ldb = hw, ga.b_bstride = g->c_out * hw;
        ga.c = dx->buf->mem, ga.c_off = dx->offset + grp * cig * hw, ga.ldc = hw, ga.c_bstride = g->c_in * hw;
        st = clgrad__gemm(ctx, &ga);
    }
    clgrad_tensor_release(dyc);
    return st;
}

/* --- depthwise: direct kernels -------------------------------------------------------------- */

#define GEOM_KARGS(g)                                                                              \
    CLGRAD_KARG((g)->n), CLGRAD_KARG((g)->c_in), CLGRAD_KARG((g)->h), CLGRAD_KARG((g)->w),         \
        CLGRAD_KARG((g)->ho), CLGRAD_KARG((g)->wo), CLGRAD_KARG((g)->kh), CLGRAD_KARG((g)->kw),    \
        CLGRAD_KARG((g)->sh), CLGRAD_KARG((g)->sw), CLGRAD_KARG((g)->ph), CLGRAD_KARG((g)->pw),    \
        CLGRAD_KARG((g)->dh), CLGRAD_KARG((g)->dw)

clgrad_status clgrad__conv_forward_dw(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                clgrad_tensor *wc, clgrad_tensor *bias, clgrad_tensor *y)
{
    cl_long4 xs = clgrad__conv_strides4(x);
    clgrad__conv_bias_args ba = clgrad__conv_bias_of(bias, wc);
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(x), CLGRAD_KARG(xs), CLGRAD_KARG_T(wc), CLGRAD_KARG(ba.mem),
                                  CLGRAD_KARG(ba.off), CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has), CLGRAD_KARG_T(y),
                                  GEOM_KARGS(g));
    return clgrad__conv_launch2(ctx, "conv_dw_fwd_f32", (size_t)g->ho * (size_t)g->wo, (size_t)g->n * (size_t)g->c_in, a);
}

clgrad_status clgrad__conv_backward_dw(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                 clgrad_tensor *wc, clgrad_tensor *dy, clgrad_tensor *dx_bias, clgrad_tensor *dx,
                                 clgrad_tensor *dw)
{
    cl_long4 dys = clgrad__conv_strides4(dy);
    if (dx) {
        clgrad__conv_bias_args ba = clgrad__conv_bias_of(dx_bias, wc);
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(dy), CLGRAD_KARG(dys), CLGRAD_KARG_T(wc), CLGRAD_KARG(ba.mem),
                                      CLGRAD_KARG(ba.off), CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has),
                                      CLGRAD_KARG_T(dx), GEOM_KARGS(g));
        CLGRAD_TRY(clgrad__conv_launch2(ctx, "conv_dw_bwd_data_f32", (size_t)g->h * (size_t)g->w, (size_t)g->n * (size_t)g->c_in,
                           a));
    }
    if (dw) {
        int kk = g->kh * g->kw;
        clgrad_tensor *part;
        CLGRAD_TRY(clgrad__conv_new_temp(ctx, (int64_t)g->n * g->c_in * kk, &part));
        cl_long4 xs = clgrad__conv_strides4(x);
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(x), CLGRAD_KARG(xs), CLGRAD_KARG_T(dy), CLGRAD_KARG(dys),
                                      CLGRAD_KARG(part->buf->mem), GEOM_KARGS(g));
        clgrad_status st = clgrad__launch_1d(ctx, FAMILY, NULL, "conv_dw_bwd_weight_f32",
                                             (size_t)g->n * (size_t)g->c_in * (size_t)kk, a);
        if (st == CLGRAD_OK) st = clgrad__conv_sum_rows(ctx, part, g->n, g->c_in * kk, dw);
        clgrad_tensor_release(part);
        return st;
    }
    return CLGRAD_OK;
}

/* --- direct: fixed-window kernels for one input channel per output channel ------------------ */

/* Rows of output per work-item in the weight gradient's first stage: a power of two
 * covering the output height, at most 32 and small enough to keep the unrolled body short. */
static int direct_rows(const clgrad__conv_geom *g)
{
    int cap = 512 / (g->kh * g->kw), r = 1;
    while (r < g->ho && r * 2 <= cap && r < 32) r *= 2;
    return r;
}

/* Output channels per work-item in the forward kernel (divides C_out / groups). */
static int direct_ko(const clgrad__conv_geom *g)
{
    int cog = g->c_out / g->groups;
    return cog % 8 == 0 ? 8 : cog % 4 == 0 ? 4 : cog % 2 == 0 ? 2 : 1;
}

/* One options string (one program) for every direct kernel of a geometry. */
static void direct_opts(const clgrad__conv_geom *g, char *opts, size_t cap)
{
    snprintf(opts, cap, "-DCONV_KH=%d -DCONV_KW=%d -DCONV_SH=%d -DCONV_SW=%d -DCONV_KO=%d -DCONV_ROWS=%d", g->kh,
             g->kw, g->sh, g->sw, direct_ko(g), direct_rows(g));
}

/* *copy = NULL when t's rows are contiguous and its row stride addresses a whole plane
 * with ints, else a contiguous copy of t (what the direct kernels take). */
static clgrad_status int_plane(clgrad_tensor *t, clgrad_tensor **copy)
{
    *copy = NULL;
    int64_t s2 = t->strides[2], s3 = t->strides[3];
    if ((s3 == 1 || t->shape[3] == 1) && s2 >= 0 && (t->shape[2] - 1) * s2 + t->shape[3] <= 0x7fffffff)
        return CLGRAD_OK;
    return clgrad__contiguous(t, copy);
}

clgrad_status clgrad__conv_forward_direct(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                    clgrad_tensor *wc, clgrad_tensor *bias, clgrad_tensor *y)
{
    char opts[128];
    direct_opts(g, opts, sizeof opts);
    clgrad_tensor *xc;
    CLGRAD_TRY(int_plane(x, &xc));
    clgrad_tensor *xu = xc ? xc : x;
    cl_long4 xs = clgrad__conv_strides4(xu);
    cl_int xsh = (cl_int)xu->strides[2];
    clgrad__conv_bias_args ba = clgrad__conv_bias_of(bias, wc);
    cl_long p0 = 0, planes = (cl_long)g->n * (g->c_out / direct_ko(g));
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(xu), CLGRAD_KARG(xs), CLGRAD_KARG(xsh), CLGRAD_KARG_T(wc),
                                  CLGRAD_KARG(ba.mem), CLGRAD_KARG(ba.off), CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has),
                                  CLGRAD_KARG_T(y), CLGRAD_KARG(g->c_in), CLGRAD_KARG(g->c_out), CLGRAD_KARG(g->h),
                                  CLGRAD_KARG(g->w), CLGRAD_KARG(g->ho), CLGRAD_KARG(g->wo), CLGRAD_KARG(g->ph),
                                  CLGRAD_KARG(g->pw), CLGRAD_KARG(g->dh), CLGRAD_KARG(g->dw), CLGRAD_KARG(p0),
                                  CLGRAD_KARG(planes));
    clgrad_status st = clgrad__conv_launch3(ctx, opts, "conv_direct_fwd_f32", (size_t)g->wo, (size_t)g->ho, planes, 16, 4, &p0,
                               a);
    clgrad_tensor_release(xc);
    return st;
}

static clgrad_status wgrad_direct(clgrad_context *ctx, const clgrad__conv_geom *g, const char *opts, clgrad_tensor *x,
                                  clgrad_tensor *dy, cl_int dysh, clgrad_tensor *dw)
{
    clgrad_tensor *xc;
    CLGRAD_TRY(int_plane(x, &xc));
    clgrad_tensor *xu = xc ? xc : x;
    cl_long4 xs = clgrad__conv_strides4(xu), dys = clgrad__conv_strides4(dy);
    cl_int xsh = (cl_int)xu->strides[2];
    int rows = direct_rows(g), kk = g->kh * g->kw;
    cl_int nr = (g->ho + rows - 1) / rows, len = nr * g->wo, M = g->c_out * kk;
    int nb;
    clgrad_tensor *part = NULL;
    clgrad_status st = clgrad__conv_chunk_images(ctx, g, (int64_t)M * len, &nb);
    if (st == CLGRAD_OK) st = clgrad__conv_new_temp(ctx, (int64_t)nb * M * len, &part);
    for (int n0 = 0; st == CLGRAD_OK && n0 < g->n; n0 += nb) {
        cl_int cnt = g->n - n0 < nb ? g->n - n0 : nb, n0_ = n0, acc = n0 > 0;
        cl_long p0 = 0, planes = (cl_long)cnt * g->c_out;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(xu), CLGRAD_KARG(xs), CLGRAD_KARG(xsh),
                                      CLGRAD_KARG_T(dy), CLGRAD_KARG(dys), CLGRAD_KARG(dysh),
                                      CLGRAD_KARG(part->buf->mem), CLGRAD_KARG(n0_), CLGRAD_KARG(g->c_in),
                                      CLGRAD_KARG(g->c_out), CLGRAD_KARG(g->h), CLGRAD_KARG(g->w), CLGRAD_KARG(g->ho),
                                      CLGRAD_KARG(g->wo), CLGRAD_KARG(g->ph), CLGRAD_KARG(g->pw), CLGRAD_KARG(g->dh),
                                      CLGRAD_KARG(g->dw), CLGRAD_KARG(nr), CLGRAD_KARG(p0), CLGRAD_KARG(planes));
        st = clgrad__conv_launch3(ctx, opts, "conv_direct_wgrad_f32", (size_t)g->wo, (size_t)nr, planes, 16, 1, &p0, a);
        clgrad__kargs b = CLGRAD_ARGS(CLGRAD_KARG(part->buf->mem), CLGRAD_KARG(cnt), CLGRAD_KARG(M), CLGRAD_KARG(len),
                                      CLGRAD_KARG_T(dw), CLGRAD_KARG(acc));
        if (st == CLGRAD_OK)
            st = clgrad__launch_1d(ctx, FAMILY, NULL, "conv_direct_wsum_f32", (size_t)M, b);
    }
    clgrad_tensor_release(part);
    clgrad_tensor_release(xc);
    return st;
}

clgrad_status clgrad__conv_backward_direct(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                     clgrad_tensor *wc, clgrad_tensor *dy, clgrad_tensor *dx_bias, clgrad_tensor *dx,
                                     clgrad_tensor *dw)
{
    char opts[128];
    direct_opts(g, opts, sizeof opts);
    clgrad_tensor *dyc;
    CLGRAD_TRY(int_plane(dy, &dyc));
    clgrad_tensor *du = dyc ? dyc : dy;
    cl_long4 dys = clgrad__conv_strides4(du);
    cl_int dysh = (cl_int)du->strides[2];
    clgrad_status st = CLGRAD_OK;
    if (dx && g->c_out == g->c_in) {
        clgrad__conv_bias_args ba = clgrad__conv_bias_of(dx_bias, wc);
        cl_long p0 = 0, planes = (cl_long)g->n * g->c_in;
        clgrad__kargs a = CLGRAD_ARGS(
            CLGRAD_KARG_T(du), CLGRAD_KARG(dys), CLGRAD_KARG(dysh), CLGRAD_KARG_T(wc), CLGRAD_KARG(ba.mem),
            CLGRAD_KARG(ba.off), CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has), CLGRAD_KARG_T(dx), CLGRAD_KARG(g->c_in),
            CLGRAD_KARG(g->h), CLGRAD_KARG(g->w), CLGRAD_KARG(g->ho), CLGRAD_KARG(g->wo), CLGRAD_KARG(g->ph),
            CLGRAD_KARG(g->pw), CLGRAD_KARG(g->dh), CLGRAD_KARG(g->dw), CLGRAD_KARG(p0), CLGRAD_KARG(planes));
        st = clgrad__conv_launch3(ctx, opts, "conv_direct_bwd_data_f32", (size_t)g->w, (size_t)g->h, planes, 16, 4, &p0,
                     a);
    } else if (dx) {
        /* several output channels per input channel: the GEMM path gathers them */
        st = clgrad__conv_backward_im2col(ctx, g, x, wc, du, dx_bias, dx, NULL);
    }
    if (st == CLGRAD_OK && dw) st = wgrad_direct(ctx, g, opts, x, du, dysh, dw);
    clgrad_tensor_release(dyc);
    return st;
}
