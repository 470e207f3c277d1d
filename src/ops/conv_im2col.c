/* The general convolution path (any stride, padding, dilation, groups): im2col of a chunk
 * of images into a (C_in*kh*kw, images*Ho*Wo) matrix, then one GEMM per chunk batched over
 * groups, so the GEMM's N dimension is images*Ho*Wo (large and well shaped even for small
 * images). The GEMM writes channel-major (C_out, images, Ho*Wo); a layout swap (fused with
 * the bias) gives NCHW. The input gradient runs the same GEMM transposed into a column
 * matrix and folds it back with a gather col2im (each input pixel sums its taps in a fixed
 * order). The forward can keep its columns for the weight gradient (one chunk, under a
 * quarter of the bound); with no input gradient to compute (a first layer) the weight
 * gradient is one GEMM per image on dy's NCHW planes, summed over images in order. */
#include "ops/conv_impl.h"
#include "ops/gemm.h"

#include <stdio.h>

#define FAMILY "conv"

/* Images per work-item for the layout kernels: enough work-groups (of one plane each) to
 * keep the device busy, few enough that each has real work. */
static int images_per_item(const clgrad_context *ctx, int nb, int64_t planes, int64_t plane_items)
{
    int64_t want_items = (int64_t)(ctx->dev.info.compute_units > 0 ? ctx->dev.info.compute_units : 1) * 4096;
    if (want_items < 65536) want_items = 65536;
    int64_t want_planes = want_items / (plane_items > 0 ? plane_items : 1);
    if (want_planes < 1) want_planes = 1;
    int64_t nsplit = want_planes / (planes > 0 ? planes : 1);
    if (nsplit < 1) nsplit = 1;
    if (nsplit > nb) nsplit = nb;
    return (int)((nb + nsplit - 1) / nsplit);
}

/* Work-group width for a (column, row, plane) launch over rows of `cols` elements. */
static size_t width_of(int64_t cols) { return cols > 8 ? 16 : 8; }

static clgrad_status im2col(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x, int n0, int nb,
                            clgrad_tensor *col)
{
    cl_long4 xs = clgrad__conv_strides4(x);
    if (clgrad__ops_tuning(ctx)->row_kernels && g->sw == 1 && (x->strides[3] == 1 || g->w == 1)) {
        /* column stride 1, rows contiguous: a work-item per (row, image) copies whole output
         * rows 4 elements at a time (the tuning row's row_kernels: CPUs; GPUs keep the coalesced kernel below) */
        cl_int n0_ = n0, nb_ = nb;
        cl_long total = (cl_long)g->c_in * g->kh * g->kw * nb;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(x), CLGRAD_KARG(xs), CLGRAD_KARG_T(col), CLGRAD_KARG(n0_),
                                      CLGRAD_KARG(nb_), CLGRAD_KARG(g->c_in), CLGRAD_KARG(g->h), CLGRAD_KARG(g->w),
                                      CLGRAD_KARG(g->ho), CLGRAD_KARG(g->wo), CLGRAD_KARG(g->kh), CLGRAD_KARG(g->kw),
                                      CLGRAD_KARG(g->sh), CLGRAD_KARG(g->ph), CLGRAD_KARG(g->pw), CLGRAD_KARG(g->dh),
                                      CLGRAD_KARG(g->dw), CLGRAD_KARG(total));
        return clgrad__launch_1d(ctx, FAMILY, NULL, "conv_im2col_rows_f32", (size_t)total, a);
    }
    int64_t rows = (int64_t)g->c_in * g->kh * g->kw;
    cl_int n0_ = n0, nb_ = nb, per = images_per_item(ctx, nb, rows, (int64_t)g->ho * g->wo);
    clgrad__kargs a =
        CLGRAD_ARGS(CLGRAD_KARG_T(x), CLGRAD_KARG(xs), CLGRAD_KARG_T(col), CLGRAD_KARG(n0_), CLGRAD_KARG(nb_),
                    CLGRAD_KARG(per), CLGRAD_KARG(g->c_in), CLGRAD_KARG(g->h), CLGRAD_KARG(g->w), CLGRAD_KARG(g->ho),
                    CLGRAD_KARG(g->wo), CLGRAD_KARG(g->kh), CLGRAD_KARG(g->kw), CLGRAD_KARG(g->sh), CLGRAD_KARG(g->sw),
                    CLGRAD_KARG(g->ph), CLGRAD_KARG(g->pw), CLGRAD_KARG(g->dh), CLGRAD_KARG(g->dw));
    size_t nsplit = (size_t)((nb + per - 1) / per);
    return clgrad__conv_launch2(ctx, "conv_im2col_f32", (size_t)g->ho * (size_t)g->wo, (size_t)rows * nsplit, a);
}

static clgrad_status col2im(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *col, int n0, int nb,
                            clgrad_tensor *bias, clgrad_tensor *dx)
{
    clgrad__conv_bias_args ba = clgrad__conv_bias_of(bias, col);
    cl_int n0_ = n0, nb_ = nb;
    if (g->sh == 1 && g->sw == 1 && g->kh <= 7 && g->kw <= 7) {
        /* stride 1, small window: the loop-free kernel, specialised on the window */
        char opts[64];
        snprintf(opts, sizeof opts, "-DCONV_KH=%d -DCONV_KW=%d", g->kh, g->kw);
        cl_long p0 = 0, planes = (cl_long)g->c_in * nb;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(col), CLGRAD_KARG_T(dx), CLGRAD_KARG(ba.mem), CLGRAD_KARG(ba.off),
                                      CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has), CLGRAD_KARG(n0_), CLGRAD_KARG(nb_),
                                      CLGRAD_KARG(g->c_in), CLGRAD_KARG(g->h), CLGRAD_KARG(g->w), CLGRAD_KARG(g->ho),
                                      CLGRAD_KARG(g->wo), CLGRAD_KARG(g->ph), CLGRAD_KARG(g->pw), CLGRAD_KARG(g->dh),
                                      CLGRAD_KARG(g->dw), CLGRAD_KARG(p0), CLGRAD_KARG(planes));
        return clgrad__conv_launch3(ctx, opts, "conv_col2im1_f32", (size_t)g->w, (size_t)g->h, planes, width_of(g->w), 4, &p0,
                       a);
    }
    cl_int per = images_per_item(ctx, nb, g->c_in, (int64_t)g->h * g->w);
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(col), CLGRAD_KARG_T(dx), CLGRAD_KARG(ba.mem), CLGRAD_KARG(ba.off),
                                  CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has), CLGRAD_KARG(n0_), CLGRAD_KARG(nb_),
                                  CLGRAD_KARG(per), CLGRAD_KARG(g->c_in), CLGRAD_KARG(g->h), CLGRAD_KARG(g->w),
                                  CLGRAD_KARG(g->ho),
                                  CLGRAD_KARG(g->wo), CLGRAD_KARG(g->kh), CLGRAD_KARG(g->kw), CLGRAD_KARG(g->sh),
                                  CLGRAD_KARG(g->sw), CLGRAD_KARG(g->ph), CLGRAD_KARG(g->pw), CLGRAD_KARG(g->dh),
                                  CLGRAD_KARG(g->dw));
    size_t nsplit = (size_t)((nb + per - 1) / per);
    return clgrad__conv_launch2(ctx, "conv_col2im_f32", (size_t)g->h * (size_t)g->w, (size_t)g->c_in * nsplit, a);
}

/* t (K, nb, HW) -> y[n0 .. n0+nb) (N, K, HW) contiguous, plus bias, then a ReLU when relu. */
static clgrad_status to_nchw(clgrad_context *ctx, clgrad_tensor *t, clgrad_tensor *y, clgrad_tensor *bias, int n0,
                             int nb, int K, int64_t hw, cl_int relu)
{
    clgrad__conv_bias_args ba = clgrad__conv_bias_of(bias, t);
    cl_int n0_ = n0, nb_ = nb, K_ = K, hw_ = (cl_int)hw;
    cl_long planes = (cl_long)K * nb;
    if (clgrad__ops_tuning(ctx)->row_kernels) {
        /* whole planes, 4 elements at a time (a work-item per plane suits CPUs) */
        cl_int to = 1;
        cl_long ps = hw;
        clgrad__kargs a =
            CLGRAD_ARGS(CLGRAD_KARG_T(t), CLGRAD_KARG_T(y), CLGRAD_KARG(ps), CLGRAD_KARG(ba.mem), CLGRAD_KARG(ba.off),
                        CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has), CLGRAD_KARG(relu), CLGRAD_KARG(to),
                        CLGRAD_KARG(n0_), CLGRAD_KARG(nb_), CLGRAD_KARG(K_), CLGRAD_KARG(hw_), CLGRAD_KARG(planes));
        return clgrad__launch_1d(ctx, FAMILY, NULL, "conv_planes_copy_f32", (size_t)planes, a);
    }
    cl_long p0 = 0;
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(t), CLGRAD_KARG_T(y), CLGRAD_KARG(ba.mem), CLGRAD_KARG(ba.off),
                                  CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has), CLGRAD_KARG(relu), CLGRAD_KARG(n0_),
                                  CLGRAD_KARG(nb_),
                                  CLGRAD_KARG(K_), CLGRAD_KARG(hw_), CLGRAD_KARG(p0), CLGRAD_KARG(planes));
    return clgrad__conv_launch3(ctx, NULL, "conv_cnhw_to_nchw1_f32", (size_t)hw, 1, planes, 64, 1, &p0, a);
}

/* y[n0 .. n0+nb) (strided NCHW, K channels of H x W) -> t (K, nb, H*W). */
static clgrad_status to_cnhw(clgrad_context *ctx, clgrad_tensor *y, clgrad_tensor *t, int n0, int nb, int K, int H,
                             int W)
{
    cl_long4 ys = clgrad__conv_strides4(y);
    if (clgrad__ops_tuning(ctx)->row_kernels && clgrad__is_contiguous(y)) {
        /* contiguous: whole planes, 4 elements at a time (a work-item per plane suits CPUs) */
        clgrad__conv_bias_args ba = clgrad__conv_bias_of(NULL, t);
        cl_int n0_ = n0, nb_ = nb, K_ = K, hw_ = H * W, to = 0, relu = 0;
        cl_long ps = (cl_long)H * W, planes = (cl_long)K * nb;
        clgrad__kargs a =
            CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG_T(t), CLGRAD_KARG(ps), CLGRAD_KARG(ba.mem), CLGRAD_KARG(ba.off),
                        CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has), CLGRAD_KARG(relu), CLGRAD_KARG(to),
                        CLGRAD_KARG(n0_), CLGRAD_KARG(nb_), CLGRAD_KARG(K_), CLGRAD_KARG(hw_), CLGRAD_KARG(planes));
        return clgrad__launch_1d(ctx, FAMILY, NULL, "conv_planes_copy_f32", (size_t)planes, a);
    }
    cl_int n0_ = n0, nb_ = nb, K_ = K, H_ = H, W_ = W, per = images_per_item(ctx, nb, K, (int64_t)H * W);
    clgrad__kargs a =
        CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG(ys), CLGRAD_KARG_T(t), CLGRAD_KARG(n0_), CLGRAD_KARG(nb_),
                    CLGRAD_KARG(per), CLGRAD_KARG(K_), CLGRAD_KARG(H_), CLGRAD_KARG(W_));
    size_t nsplit = (size_t)((nb + per - 1) / per);
    return clgrad__conv_launch2(ctx, "conv_nchw_to_cnhw_f32", (size_t)H * (size_t)W, (size_t)K * nsplit, a);
}

/* --- general path: im2col + GEMM --------------------------------------------------------- */

/* Bytes of the column matrix of all of g's images when they fit one chunk and a quarter of
 * the temporary bound, else 0: the forward may then keep its columns for the backward. */
size_t clgrad__conv_keepable_cols(clgrad_context *ctx, const clgrad__conv_geom *g)
{
    int64_t ohw = (int64_t)g->ho * g->wo, rows = (int64_t)g->c_in * g->kh * g->kw;
    int64_t per = rows > g->c_out ? rows * ohw : (int64_t)g->c_out * ohw;
    int nb;
    if (clgrad__conv_chunk_images(ctx, g, per, &nb) != CLGRAD_OK || nb < g->n) return 0;
    uint64_t bytes = (uint64_t)rows * ohw * g->n * sizeof(float);
    return bytes <= clgrad__conv_temp_bound(ctx) / 4 ? (size_t)bytes : 0;
}

/* keep: when not NULL and every image went in one chunk, *keep gets the column matrix
 * (rows, n*Ho*Wo) of x, which clgrad__conv_backward_im2col can take instead of recomputing it. */
clgrad_status clgrad__conv_forward_im2col(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                    clgrad_tensor *wc, clgrad_tensor *bias, clgrad_tensor *y, clgrad_tensor *idx,
                                    clgrad_tensor **keep)
{
    cl_int relu = g->relu != 0; /* a fused ReLU goes with the bias into the layout swap */
    int64_t ohw = (int64_t)g->ho * g->wo, rows = (int64_t)g->c_in * g->kh * g->kw;
    int64_t cig = g->c_in / g->groups, cog = g->c_out / g->groups, kg = cig * g->kh * g->kw;
    int64_t per = rows > g->c_out ? rows * ohw : (int64_t)g->c_out * ohw;
    int nb;
    CLGRAD_TRY(clgrad__conv_chunk_images(ctx, g, per, &nb));
    clgrad_tensor *col = NULL, *tmp = NULL;
    clgrad_status st = clgrad__conv_new_temp(ctx, rows * nb * ohw, &col);
    if (st == CLGRAD_OK) st = clgrad__conv_new_temp(ctx, (int64_t)g->c_out * nb * ohw, &tmp);
    for (int n0 = 0; st == CLGRAD_OK && n0 < g->n; n0 += nb) {
        int cnt = g->n - n0 < nb ? g->n - n0 : nb;
        int64_t ncols = cnt * ohw;
        st = im2col(ctx, g, x, n0, cnt, col);
        if (st != CLGRAD_OK) break;
        clgrad__gemm_args ga = {0};
        ga.m = cog, ga.n = ncols, ga.k = kg, ga.batch = g->groups, ga.alpha = 1.0f, ga.beta = 0.0f;
        ga.a = wc->buf->mem, ga.a_off = wc->offset, ga.lda = kg, ga.a_bstride = cog * kg;
        ga.b = col->buf->mem, ga.b_off = col->offset, ga.ldb = ncols, ga.b_bstride = kg * ncols;
        ga.c = tmp->buf->mem, ga.c_off = tmp->offset, ga.ldc = ncols, ga.c_bstride = cog * ncols;
        st = clgrad__gemm(ctx, &ga);
        if (st == CLGRAD_OK)
            st = g->pool ? clgrad__conv_relu_pool_write(ctx, tmp, y, idx, bias, n0, cnt, g->c_out, g->ho, g->wo)
                         : to_nchw(ctx, tmp, y, bias, n0, cnt, g->c_out, ohw, relu);
    }
    if (st == CLGRAD_OK && keep && nb >= g->n) {
        *keep = col;
        col = NULL;
    }
    clgrad_tensor_release(col);
    clgrad_tensor_release(tmp);
    return st;
}

/* groups == 1, one GEMM per image straight on dy's NCHW planes (no CNHW copy of dy):
 * dW_n = dy_n (C_out, Ho*Wo) x col_n^T into per-image partials, summed in image order;
 * column gradient_n = W^T x dy_n written in col's layout, then col2im. cols as for
 * clgrad__conv_backward_im2col_cols. */
static clgrad_status backward_per_image(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                        clgrad_tensor *wc, clgrad_tensor *dy, clgrad_tensor *dx_bias,
                                        clgrad_tensor *dx, clgrad_tensor *dw, clgrad_tensor *cols, int nb)
{
    int64_t ohw = (int64_t)g->ho * g->wo, kg = (int64_t)g->c_in * g->kh * g->kw, M = (int64_t)g->c_out * kg;
    clgrad_tensor *dyc = NULL, *col = NULL, *part = NULL;
    clgrad_status st = CLGRAD_OK;
    if (!clgrad__is_contiguous(dy)) st = clgrad__contiguous(dy, &dyc);
    clgrad_tensor *du = dyc ? dyc : dy;
    if (st == CLGRAD_OK && dw) st = clgrad__conv_new_temp(ctx, (int64_t)g->n * M, &part);
    if (st == CLGRAD_OK && (dx || !cols)) st = clgrad__conv_new_temp(ctx, kg * nb * ohw, &col);
    for (int n0 = 0; st == CLGRAD_OK && n0 < g->n; n0 += nb) {
        int cnt = g->n - n0 < nb ? g->n - n0 : nb;
        if (dx) {
            /* column gradient of image n: W^T (kg, C_out) x dy_n (C_out, Ho*Wo), in col's layout */
            clgrad__gemm_args ga = {0};
            ga.trans_a = 1;
            ga.m = kg, ga.n = ohw, ga.k = g->c_out, ga.batch = cnt, ga.alpha = 1.0f, ga.beta = 0.0f;
            ga.a = wc->buf->mem, ga.a_off = wc->offset, ga.lda = kg, ga.a_bstride = 0;
            ga.b = du->buf->mem, ga.b_off = du->offset + (int64_t)n0 * g->c_out * ohw, ga.ldb = ohw;
            ga.b_bstride = (int64_t)g->c_out * ohw;
            ga.c = col->buf->mem, ga.c_off = col->offset, ga.ldc = cnt * ohw, ga.c_bstride = ohw;
            st = clgrad__gemm(ctx, &ga);
            if (st == CLGRAD_OK) st = col2im(ctx, g, col, n0, cnt, dx_bias, dx);
        }
        if (st != CLGRAD_OK || !dw) continue;
        clgrad_tensor *src = cols ? cols : col;
        if (!cols) st = im2col(ctx, g, x, n0, cnt, col);
        clgrad__gemm_args ga = {0};
        ga.trans_b = 1;
        ga.m = g->c_out, ga.n = kg, ga.k = ohw, ga.batch = cnt, ga.alpha = 1.0f, ga.beta = 0.0f;
        ga.a = du->buf->mem, ga.a_off = du->offset + (int64_t)n0 * g->c_out * ohw, ga.lda = ohw;
        ga.a_bstride = (int64_t)g->c_out * ohw;
        ga.b = src->buf->mem, ga.b_off = src->offset, ga.ldb = cnt * ohw, ga.b_bstride = ohw;
        ga.c = part->buf->mem, ga.c_off = part->offset + (int64_t)n0 * M, ga.ldc = kg, ga.c_bstride = M;
        if (st == CLGRAD_OK) st = clgrad__gemm(ctx, &ga);
    }
    if (st == CLGRAD_OK && dw) st = clgrad__conv_sum_rows(ctx, part, g->n, (int)M, dw);
    clgrad_tensor_release(part);
    clgrad_tensor_release(col);
    clgrad_tensor_release(dyc);
    return st;
}

/* cols: NULL, or the column matrix of all of x kept by clgrad__conv_forward_im2col (read, never written). */
clgrad_status clgrad__conv_backward_im2col_cols(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                          clgrad_tensor *wc, clgrad_tensor *dy, clgrad_tensor *dx_bias,
                                          clgrad_tensor *dx, clgrad_tensor *dw, clgrad_tensor *cols)
{
    int64_t ohw = (int64_t)g->ho * g->wo, rows = (int64_t)g->c_in * g->kh * g->kw;
    int64_t cig = g->c_in / g->groups, cog = g->c_out / g->groups, kg = cig * g->kh * g->kw;
    int64_t per = rows > g->c_out ? rows * ohw : (int64_t)g->c_out * ohw;
    int nb;
    CLGRAD_TRY(clgrad__conv_chunk_images(ctx, g, per, &nb));
    if (cols && (nb < g->n || cols->ndim != 1 || cols->shape[0] != rows * g->n * ohw)) cols = NULL;
    /* weight gradient alone (a first layer): per-image GEMMs skip the CNHW copy of dy
     * (measured on a CPU device; with the input gradient too they break even, so that is the
     * tuning's conv_per_image 2) */
    const int per_image = clgrad__ops_tuning(ctx)->conv_per_image;
    if ((per_image == 2 || (per_image == 1 && !dx)) && dw && g->groups == 1 &&
        (uint64_t)g->n * g->c_out * kg * sizeof(float) <= clgrad__conv_temp_bound(ctx) / 4)
        return backward_per_image(ctx, g, x, wc, dy, dx_bias, dx, dw, cols, nb);
    clgrad_tensor *col = NULL, *dyp = NULL, *dwt = NULL; /* dwt: dW^T per group (kg, cog) */
    clgrad_status st = (dx || !cols) ? clgrad__conv_new_temp(ctx, rows * nb * ohw, &col) : CLGRAD_OK;
    if (st == CLGRAD_OK) st = clgrad__conv_new_temp(ctx, (int64_t)g->c_out * nb * ohw, &dyp);
    if (st == CLGRAD_OK && dw) st = clgrad__conv_new_temp(ctx, (int64_t)g->c_out * kg, &dwt);
    for (int n0 = 0; st == CLGRAD_OK && n0 < g->n; n0 += nb) {
        int cnt = g->n - n0 < nb ? g->n - n0 : nb;
        int64_t ncols = cnt * ohw;
        st = to_cnhw(ctx, dy, dyp, n0, cnt, g->c_out, g->ho, g->wo);
        if (st == CLGRAD_OK && dw) {
            /* dW^T (kg, cog) = cols (kg, ncols) x dy^T: the product reads the big column matrix
             * in place and packs only dy's cog columns (the same sums as dy x cols^T) */
            clgrad_tensor *src = cols ? cols : col;
            if (!cols) st = im2col(ctx, g, x, n0, cnt, col);
            clgrad__gemm_args ga = {0};
            ga.trans_b = 1;
            ga.m = kg, ga.n = cog, ga.k = ncols, ga.batch = g->groups, ga.alpha = 1.0f;
            ga.beta = n0 == 0 ? 0.0f : 1.0f;
            ga.a = src->buf->mem, ga.a_off = src->offset, ga.lda = ncols, ga.a_bstride = kg * ncols;
            ga.b = dyp->buf->mem, ga.b_off = dyp->offset, ga.ldb = ncols, ga.b_bstride = cog * ncols;
            ga.c = dwt->buf->mem, ga.c_off = dwt->offset, ga.ldc = cog, ga.c_bstride = cog * kg;
            if (st == CLGRAD_OK) st = clgrad__gemm(ctx, &ga);
        }
        if (st == CLGRAD_OK && dx) {
            clgrad__gemm_args ga = {0};
            ga.trans_a = 1;
            ga.m = kg, ga.n = ncols, ga.k = cog, ga.batch = g->groups, ga.alpha = 1.0f, ga.beta = 0.0f;
            ga.a = wc->buf->mem, ga.a_off = wc->offset, ga.lda = kg, ga.a_bstride = cog * kg;
            ga.b = dyp->buf->mem, ga.b_off = dyp->offset, ga.ldb = ncols, ga.b_bstride = cog * ncols;
            ga.c = col->buf->mem, ga.c_off = col->offset, ga.ldc = ncols, ga.c_bstride = kg * ncols;
            st = clgrad__gemm(ctx, &ga);
            if (st == CLGRAD_OK) st = col2im(ctx, g, col, n0, cnt, dx_bias, dx);
        }
    }
    if (st == CLGRAD_OK && dw) {
        /* dw (groups, cog, kg) <- dwt (groups, kg, cog) */
        cl_int cog_ = (cl_int)cog, kg_ = (cl_int)kg;
        cl_long total = (cl_long)g->c_out * kg;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(dwt), CLGRAD_KARG_T(dw), CLGRAD_KARG(cog_), CLGRAD_KARG(kg_),
                                      CLGRAD_KARG(total));
        st = clgrad__launch_1d(ctx, FAMILY, NULL, "conv_weight_from_t_f32", (size_t)total, a);
    }
    clgrad_tensor_release(dwt);
    clgrad_tensor_release(col);
    clgrad_tensor_release(dyp);
    return st;
}

clgrad_status clgrad__conv_backward_im2col(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                     clgrad_tensor *wc, clgrad_tensor *dy, clgrad_tensor *dx_bias, clgrad_tensor *dx,
                                     clgrad_tensor *dw)
{
    return clgrad__conv_backward_im2col_cols(ctx, g, x, wc, dy, dx_bias, dx, dw, NULL);
}
