/* Convolution engine: the forward product and both gradients of a 2-d NCHW convolution,
 * shared by clgrad_conv2d (at the end of this file) and clgrad_conv_transpose2d.
 *
 * Algorithms:
 *  - general (any stride, padding, dilation, groups): im2col of a chunk of images into a
 *    (C_in*kh*kw, images*Ho*Wo) matrix, then one GEMM per chunk batched over groups, so the
 *    GEMM's N dimension is images*Ho*Wo (large and well shaped even for small images). The
 *    GEMM writes channel-major (C_out, images, Ho*Wo); a layout swap (fused with the bias)
 *    gives NCHW. The input gradient runs the same GEMM transposed into a column matrix and
 *    folds it back with a gather col2im (each input pixel sums its taps in a fixed order).
 *    clgrad_conv2d keeps the forward's columns for the weight gradient when all images fit
 *    one chunk and the matrix stays under a quarter of the bound (no second im2col). With
 *    no input gradient to compute (a first layer), the weight gradient is one GEMM per
 *    image on dy's NCHW planes, summed over images in order (no CNHW copy of dy).
 *  - 1x1, stride 1, no padding: the NCHW tensor already is a (C_in, H*W) matrix per image,
 *    so forward and input gradient are plain GEMMs batched over images, no im2col.
 *  - direct, for groups == C_in (depthwise, channel multipliers, a single input channel;
 *    the automatic choice takes it only for groups > 1, a single input channel measured
 *    faster on the general path) with windows up to 7x7 and strides up to 4: kernels
 *    specialised on the window and stride, loop-free so they vectorise across work-items.
 *    Forward: one work-item per output pixel and a few output channels; input gradient
 *    (depthwise): one per input pixel; weight gradient: per (column, block of rows, plane)
 *    partial sums of every tap, then one ordered sum per weight.
 *  - depthwise (groups == C_in == C_out > 1) with other windows: general direct kernels,
 *    one work-item per output (or per input pixel for the gradient, or per weight tap and
 *    image for the weight gradient).
 * Chunks keep every temporary under clgrad__conv_temp_bound(). Every reduction has a fixed
 * order, so results are bit-identical run after run. */
#include "ops/conv.h"
#include "ops/matmul.h"
#include "ops/op_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define FAMILY "conv"

enum {
    ALGO_AUTO = CLGRAD__CONV_AUTO,
    ALGO_IM2COL = CLGRAD__CONV_IM2COL,
    ALGO_1X1 = CLGRAD__CONV_1X1,
    ALGO_DEPTHWISE = CLGRAD__CONV_DEPTHWISE,
    ALGO_DIRECT = CLGRAD__CONV_DIRECT
};

size_t clgrad__conv_temp_bound(const clgrad_context *ctx)
{
    size_t cap = (size_t)256 << 20;
    uint64_t ma = ctx->info.max_alloc_bytes;
    size_t b = ma ? (size_t)(ma / 2) : cap;
    if (b > cap) b = cap;
    /* developer override, only ever lowering the bound (exercises the chunked paths) */
    const char *env = clgrad__getenv("CLGRAD_CONV_TEMP_BYTES");
    if (env) {
        unsigned long long v = strtoull(env, NULL, 10);
        if (v > 0 && v < b) b = (size_t)v;
    }
    return b;
}

/* The fixed-window direct kernels take one input channel per output channel. */
static int direct_fits(const clgrad__conv_geom *g)
{
    return g->groups == g->c_in && g->kh <= 7 && g->kw <= 7 && g->sh <= 4 && g->sw <= 4;
}

static int pick_algo(const clgrad__conv_geom *g)
{
    /* a single input channel (groups == C_in == 1) goes to im2col + GEMM: measured faster
     * on a CPU device, and the forward keeps its columns for the weight gradient */
    if (direct_fits(g) && g->groups > 1) return ALGO_DIRECT;
    if (g->groups > 1 && g->groups == g->c_in && g->groups == g->c_out) return ALGO_DEPTHWISE;
    /* Per-image GEMMs only pay off when an image gives a reasonably wide matrix. */
    if (g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 && g->ho == g->h &&
        g->wo == g->w && (int64_t)g->h * g->w >= 256)
        return ALGO_1X1;
    return ALGO_IM2COL;
}

static int algo_of(const clgrad__conv_geom *g, int forced)
{
    if (forced == ALGO_DEPTHWISE && !(g->groups == g->c_in && g->groups == g->c_out)) forced = ALGO_AUTO;
    if (forced == ALGO_DIRECT && !direct_fits(g)) forced = ALGO_AUTO;
    if (forced == ALGO_1X1 && !(g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 &&
                                g->ho == g->h && g->wo == g->w))
        forced = ALGO_AUTO;
    return forced ? forced : pick_algo(g);
}

static cl_long4 strides4(const clgrad_tensor *t)
{
    cl_long4 s;
    for (int i = 0; i < 4; i++) s.s[i] = t->strides[i];
    return s;
}

/* Images per chunk so that a temporary of per_image elements per image stays under the
 * bound; chunks are evened out so the last one is not a sliver. */
static clgrad_status chunk_images(clgrad_context *ctx, const clgrad__conv_geom *g, int64_t per_image, int *nb)
{
    uint64_t bytes = (uint64_t)per_image * sizeof(float);
    if (ctx->info.max_alloc_bytes && bytes > ctx->info.max_alloc_bytes)
        return clgrad__fail(ctx, CLGRAD_ERR_DEVICE_MEMORY,
                            "convolution of a %dx%dx%d image with a %dx%d kernel needs a %llu-byte buffer per image, "
                            "more than the device's largest allocation (%llu bytes)",
                            g->c_in, g->h, g->w, g->kh, g->kw, (unsigned long long)bytes,
                            (unsigned long long)ctx->info.max_alloc_bytes);
    int64_t k = bytes ? (int64_t)(clgrad__conv_temp_bound(ctx) / bytes) : g->n;
    if (k < 1) k = 1;
    if (k > g->n) k = g->n;
    int64_t chunks = (g->n + k - 1) / k;
    *nb = (int)((g->n + chunks - 1) / chunks);
    return CLGRAD_OK;
}

static clgrad_status new_temp(clgrad_context *ctx, int64_t n, clgrad_tensor **out)
{
    return clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 1, &n, out);
}

/* Images per work-item for the layout kernels: enough work-groups (of one plane each) to
 * keep the device busy, few enough that each has real work. */
static int images_per_item(const clgrad_context *ctx, int nb, int64_t planes, int64_t plane_items)
{
    int64_t want_items = (int64_t)(ctx->info.compute_units > 0 ? ctx->info.compute_units : 1) * 4096;
    if (want_items < 65536) want_items = 65536;
    int64_t want_planes = want_items / (plane_items > 0 ? plane_items : 1);
    if (want_planes < 1) want_planes = 1;
    int64_t nsplit = want_planes / (planes > 0 ? planes : 1);
    if (nsplit < 1) nsplit = 1;
    if (nsplit > nb) nsplit = nb;
    return (int)((nb + nsplit - 1) / nsplit);
}

/* A (pixels, planes) launch with work-groups inside one plane; planes fold over dims 1 and
 * 2 (see conv_plane() in cl/conv.cl) so no dimension gets huge. */
static clgrad_status launch2(clgrad_context *ctx, const char *kernel, size_t pixels, size_t planes, clgrad__kargs args)
{
    size_t ydim = planes < 32768 ? planes : 32768;
    size_t global[3] = {pixels, ydim, ydim ? (planes + ydim - 1) / ydim : 0};
    size_t maxwg = ctx->info.max_work_group_size ? ctx->info.max_work_group_size : 1;
    size_t l0 = pixels < maxwg ? pixels : maxwg;
    if (l0 > 256) l0 = 256;
    size_t local[3] = {l0 ? l0 : 1, 1, 1};
    return clgrad__launch(ctx, FAMILY, NULL, kernel, 3, global, local, args);
}

/* --- kernel wrappers ------------------------------------------------------------------- */

/* A (column, row, plane) launch of a loop-free kernel whose plane0 argument is *p0: planes
 * go in launches of at most 32768, work-groups of lx x ly inside one plane. */
static clgrad_status launch3(clgrad_context *ctx, const char *opts, const char *kernel, size_t cols, size_t rows,
                             int64_t planes, size_t lx, size_t ly, cl_long *p0, clgrad__kargs args)
{
    for (*p0 = 0; *p0 < planes; *p0 += 32768) {
        int64_t np = planes - *p0 < 32768 ? planes - *p0 : 32768;
        size_t global[3] = {cols, rows, (size_t)np};
        size_t local[3] = {lx, ly, 1};
        CLGRAD_TRY(clgrad__launch(ctx, FAMILY, opts, kernel, 3, global, local, args));
    }
    return CLGRAD_OK;
}

/* Work-group width for a (column, row, plane) launch over rows of `cols` elements. */
static size_t width_of(int64_t cols) { return cols > 8 ? 16 : 8; }

static clgrad_status im2col(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x, int n0, int nb,
                            clgrad_tensor *col)
{
    cl_long4 xs = strides4(x);
    if (clgrad__ops_tuning(ctx)->row_kernels && g->sw == 1 && (x->strides[3] == 1 || g->w == 1)) {
        /* column stride 1, rows contiguous: a work-item per (row, image) copies whole output
         * rows 4 elements at a time (the tuning row's row_kernels: CPUs; GPUs keep the coalesced kernel below) */
        cl_int n0_ = n0, nb_ = nb;
        cl_long total = (cl_long)g->c_in * g->kh * g->kw * nb;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(x), CLGRAD_KARG(xs), CLGRAD_KARG_T(col), CLGRAD_KARG(n0_), CLGRAD_KARG(nb_),
                                      CLGRAD_KARG(g->c_in), CLGRAD_KARG(g->h), CLGRAD_KARG(g->w), CLGRAD_KARG(g->ho),
                                      CLGRAD_KARG(g->wo), CLGRAD_KARG(g->kh), CLGRAD_KARG(g->kw), CLGRAD_KARG(g->sh),
                                      CLGRAD_KARG(g->ph), CLGRAD_KARG(g->pw), CLGRAD_KARG(g->dh), CLGRAD_KARG(g->dw),
                                      CLGRAD_KARG(total));
        return clgrad__launch_1d(ctx, FAMILY, NULL, "conv_im2col_rows_f32", (size_t)total, a);
    }
    int64_t rows = (int64_t)g->c_in * g->kh * g->kw;
    cl_int n0_ = n0, nb_ = nb, per = images_per_item(ctx, nb, rows, (int64_t)g->ho * g->wo);
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(x), CLGRAD_KARG(xs), CLGRAD_KARG_T(col), CLGRAD_KARG(n0_), CLGRAD_KARG(nb_),
                                  CLGRAD_KARG(per), CLGRAD_KARG(g->c_in), CLGRAD_KARG(g->h), CLGRAD_KARG(g->w),
                                  CLGRAD_KARG(g->ho),
                                  CLGRAD_KARG(g->wo), CLGRAD_KARG(g->kh), CLGRAD_KARG(g->kw), CLGRAD_KARG(g->sh),
                                  CLGRAD_KARG(g->sw), CLGRAD_KARG(g->ph), CLGRAD_KARG(g->pw), CLGRAD_KARG(g->dh),
                                  CLGRAD_KARG(g->dw));
    size_t nsplit = (size_t)((nb + per - 1) / per);
    return launch2(ctx, "conv_im2col_f32", (size_t)g->ho * (size_t)g->wo, (size_t)rows * nsplit, a);
}

/* Bias arguments: buffer, offset, stride, flag (a dummy buffer when there is none). */
typedef struct bias_args {
    cl_mem mem;
    cl_long off, stride;
    cl_int has;
} bias_args;

static bias_args bias_of(clgrad_tensor *b, clgrad_tensor *fallback)
{
    bias_args r;
    r.mem = b ? b->buf->mem : fallback->buf->mem;
    r.off = b ? b->offset : 0;
    r.stride = b ? b->strides[0] : 0;
    r.has = b ? 1 : 0;
    return r;
}

static clgrad_status col2im(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *col, int n0, int nb,
                            clgrad_tensor *bias, clgrad_tensor *dx)
{
    bias_args ba = bias_of(bias, col);
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
        return launch3(ctx, opts, "conv_col2im1_f32", (size_t)g->w, (size_t)g->h, planes, width_of(g->w), 4, &p0,
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
    return launch2(ctx, "conv_col2im_f32", (size_t)g->h * (size_t)g->w, (size_t)g->c_in * nsplit, a);
}

/* t (K, nb, HW) -> y[n0 .. n0+nb) (N, K, HW) contiguous, plus bias. */
static clgrad_status to_nchw(clgrad_context *ctx, clgrad_tensor *t, clgrad_tensor *y, clgrad_tensor *bias, int n0,
                             int nb, int K, int64_t hw)
{
    bias_args ba = bias_of(bias, t);
    cl_int n0_ = n0, nb_ = nb, K_ = K, hw_ = (cl_int)hw;
    cl_long planes = (cl_long)K * nb;
    if (clgrad__ops_tuning(ctx)->row_kernels) {
        /* whole planes, 4 elements at a time (a work-item per plane suits CPUs) */
        cl_int to = 1;
        cl_long ps = hw;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(t), CLGRAD_KARG_T(y), CLGRAD_KARG(ps), CLGRAD_KARG(ba.mem),
                                      CLGRAD_KARG(ba.off), CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has), CLGRAD_KARG(to),
                                      CLGRAD_KARG(n0_), CLGRAD_KARG(nb_), CLGRAD_KARG(K_), CLGRAD_KARG(hw_), CLGRAD_KARG(planes));
        return clgrad__launch_1d(ctx, FAMILY, NULL, "conv_planes_copy_f32", (size_t)planes, a);
    }
    cl_long p0 = 0;
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(t), CLGRAD_KARG_T(y), CLGRAD_KARG(ba.mem), CLGRAD_KARG(ba.off),
                                  CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has), CLGRAD_KARG(n0_), CLGRAD_KARG(nb_),
                                  CLGRAD_KARG(K_), CLGRAD_KARG(hw_), CLGRAD_KARG(p0), CLGRAD_KARG(planes));
    return launch3(ctx, NULL, "conv_cnhw_to_nchw1_f32", (size_t)hw, 1, planes, 64, 1, &p0, a);
}

/* y[n0 .. n0+nb) (strided NCHW, K channels of H x W) -> t (K, nb, H*W). */
static clgrad_status to_cnhw(clgrad_context *ctx, clgrad_tensor *y, clgrad_tensor *t, int n0, int nb, int K, int H,
                             int W)
{
    cl_long4 ys = strides4(y);
    if (clgrad__ops_tuning(ctx)->row_kernels && clgrad__is_contiguous(y)) {
        /* contiguous: whole planes, 4 elements at a time (a work-item per plane suits CPUs) */
        bias_args ba = bias_of(NULL, t);
        cl_int n0_ = n0, nb_ = nb, K_ = K, hw_ = H * W, to = 0;
        cl_long ps = (cl_long)H * W, planes = (cl_long)K * nb;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG_T(t), CLGRAD_KARG(ps), CLGRAD_KARG(ba.mem),
                                      CLGRAD_KARG(ba.off), CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has), CLGRAD_KARG(to),
                                      CLGRAD_KARG(n0_), CLGRAD_KARG(nb_), CLGRAD_KARG(K_), CLGRAD_KARG(hw_), CLGRAD_KARG(planes));
        return clgrad__launch_1d(ctx, FAMILY, NULL, "conv_planes_copy_f32", (size_t)planes, a);
    }
    cl_int n0_ = n0, nb_ = nb, K_ = K, H_ = H, W_ = W, per = images_per_item(ctx, nb, K, (int64_t)H * W);
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG(ys), CLGRAD_KARG_T(t), CLGRAD_KARG(n0_),
                                  CLGRAD_KARG(nb_), CLGRAD_KARG(per), CLGRAD_KARG(K_), CLGRAD_KARG(H_), CLGRAD_KARG(W_));
    size_t nsplit = (size_t)((nb + per - 1) / per);
    return launch2(ctx, "conv_nchw_to_cnhw_f32", (size_t)H * (size_t)W, (size_t)K * nsplit, a);
}

static clgrad_status bias_fill(clgrad_context *ctx, clgrad_tensor *y, clgrad_tensor *bias)
{
    cl_long bstride = bias->strides[0], hw = y->shape[2] * y->shape[3];
    cl_int N = (cl_int)y->shape[0], K = (cl_int)y->shape[1];
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG_T(bias), CLGRAD_KARG(bstride), CLGRAD_KARG(N), CLGRAD_KARG(K),
                                  CLGRAD_KARG(hw));
    return launch2(ctx, "conv_bias_fill_f32", (size_t)hw, (size_t)K * (size_t)N, a);
}

/* out[m] (strided 1-D view or contiguous) = sum over r < R of part[r*M + m]. */
static clgrad_status sum_rows(clgrad_context *ctx, clgrad_tensor *part, int R, int M, clgrad_tensor *out)
{
    return clgrad__sum_ordered(ctx, part->buf->mem, 0, M, R, 1, M, out->buf->mem, out->offset, 1);
}

/* --- general path: im2col + GEMM --------------------------------------------------------- */

/* Bytes of the column matrix of all of g's images when they fit one chunk and a quarter of
 * the temporary bound, else 0: the forward may then keep its columns for the backward. */
static size_t keepable_cols(clgrad_context *ctx, const clgrad__conv_geom *g)
{
    int64_t ohw = (int64_t)g->ho * g->wo, rows = (int64_t)g->c_in * g->kh * g->kw;
    int64_t per = rows > g->c_out ? rows * ohw : (int64_t)g->c_out * ohw;
    int nb;
    if (chunk_images(ctx, g, per, &nb) != CLGRAD_OK || nb < g->n) return 0;
    uint64_t bytes = (uint64_t)rows * ohw * g->n * sizeof(float);
    return bytes <= clgrad__conv_temp_bound(ctx) / 4 ? (size_t)bytes : 0;
}

/* keep: when not NULL and every image went in one chunk, *keep gets the column matrix
 * (rows, n*Ho*Wo) of x, which backward_im2col can take instead of recomputing it. */
static clgrad_status forward_im2col(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                    clgrad_tensor *wc, clgrad_tensor *bias, clgrad_tensor *y, clgrad_tensor **keep)
{
    int64_t ohw = (int64_t)g->ho * g->wo, rows = (int64_t)g->c_in * g->kh * g->kw;
    int64_t cig = g->c_in / g->groups, cog = g->c_out / g->groups, kg = cig * g->kh * g->kw;
    int64_t per = rows > g->c_out ? rows * ohw : (int64_t)g->c_out * ohw;
    int nb;
    CLGRAD_TRY(chunk_images(ctx, g, per, &nb));
    clgrad_tensor *col = NULL, *tmp = NULL;
    clgrad_status st = new_temp(ctx, rows * nb * ohw, &col);
    if (st == CLGRAD_OK) st = new_temp(ctx, (int64_t)g->c_out * nb * ohw, &tmp);
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
        if (st == CLGRAD_OK) st = to_nchw(ctx, tmp, y, bias, n0, cnt, g->c_out, ohw);
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
 * backward_im2col_cols. */
static clgrad_status backward_per_image(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                        clgrad_tensor *wc, clgrad_tensor *dy, clgrad_tensor *dx_bias,
                                        clgrad_tensor *dx, clgrad_tensor *dw, clgrad_tensor *cols, int nb)
{
    int64_t ohw = (int64_t)g->ho * g->wo, kg = (int64_t)g->c_in * g->kh * g->kw, M = (int64_t)g->c_out * kg;
    clgrad_tensor *dyc = NULL, *col = NULL, *part = NULL;
    clgrad_status st = CLGRAD_OK;
    if (!clgrad__is_contiguous(dy)) st = clgrad__contiguous(dy, &dyc);
    clgrad_tensor *du = dyc ? dyc : dy;
    if (st == CLGRAD_OK && dw) st = new_temp(ctx, (int64_t)g->n * M, &part);
    if (st == CLGRAD_OK && (dx || !cols)) st = new_temp(ctx, kg * nb * ohw, &col);
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
    if (st == CLGRAD_OK && dw) st = sum_rows(ctx, part, g->n, (int)M, dw);
    clgrad_tensor_release(part);
    clgrad_tensor_release(col);
    clgrad_tensor_release(dyc);
    return st;
}

/* cols: NULL, or the column matrix of all of x kept by forward_im2col (read, never written). */
static clgrad_status backward_im2col_cols(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                          clgrad_tensor *wc, clgrad_tensor *dy, clgrad_tensor *dx_bias,
                                          clgrad_tensor *dx, clgrad_tensor *dw, clgrad_tensor *cols)
{
    int64_t ohw = (int64_t)g->ho * g->wo, rows = (int64_t)g->c_in * g->kh * g->kw;
    int64_t cig = g->c_in / g->groups, cog = g->c_out / g->groups, kg = cig * g->kh * g->kw;
    int64_t per = rows > g->c_out ? rows * ohw : (int64_t)g->c_out * ohw;
    int nb;
    CLGRAD_TRY(chunk_images(ctx, g, per, &nb));
    if (cols && (nb < g->n || cols->ndim != 1 || cols->shape[0] != rows * g->n * ohw)) cols = NULL;
    /* weight gradient alone (a first layer): per-image GEMMs skip the CNHW copy of dy
     * (measured on a CPU device; with the input gradient too they break even) */
    if (!dx && dw && g->groups == 1 &&
        (uint64_t)g->n * g->c_out * kg * sizeof(float) <= clgrad__conv_temp_bound(ctx) / 4)
        return backward_per_image(ctx, g, x, wc, dy, dx_bias, dx, dw, cols, nb);
    clgrad_tensor *col = NULL, *dyp = NULL;
    clgrad_status st = (dx || !cols) ? new_temp(ctx, rows * nb * ohw, &col) : CLGRAD_OK;
    if (st == CLGRAD_OK) st = new_temp(ctx, (int64_t)g->c_out * nb * ohw, &dyp);
    for (int n0 = 0; st == CLGRAD_OK && n0 < g->n; n0 += nb) {
        int cnt = g->n - n0 < nb ? g->n - n0 : nb;
        int64_t ncols = cnt * ohw;
        st = to_cnhw(ctx, dy, dyp, n0, cnt, g->c_out, g->ho, g->wo);
        if (st == CLGRAD_OK && dw) {
            clgrad_tensor *src = cols ? cols : col;
            if (!cols) st = im2col(ctx, g, x, n0, cnt, col);
            clgrad__gemm_args ga = {0};
            ga.trans_b = 1;
            ga.m = cog, ga.n = kg, ga.k = ncols, ga.batch = g->groups, ga.alpha = 1.0f;
            ga.beta = n0 == 0 ? 0.0f : 1.0f;
            ga.a = dyp->buf->mem, ga.a_off = dyp->offset, ga.lda = ncols, ga.a_bstride = cog * ncols;
            ga.b = src->buf->mem, ga.b_off = src->offset, ga.ldb = ncols, ga.b_bstride = kg * ncols;
            ga.c = dw->buf->mem, ga.c_off = dw->offset, ga.ldc = kg, ga.c_bstride = cog * kg;
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
    clgrad_tensor_release(col);
    clgrad_tensor_release(dyp);
    return st;
}

static clgrad_status backward_im2col(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                     clgrad_tensor *wc, clgrad_tensor *dy, clgrad_tensor *dx_bias, clgrad_tensor *dx,
                                     clgrad_tensor *dw)
{
    return backward_im2col_cols(ctx, g, x, wc, dy, dx_bias, dx, dw, NULL);
}

/* --- 1x1 stride 1: GEMMs straight on NCHW --------------------------------------------------- */

static clgrad_status forward_1x1(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                 clgrad_tensor *wc, clgrad_tensor *bias, clgrad_tensor *y)
{
    int64_t hw = (int64_t)g->h * g->w, cig = g->c_in / g->groups, cog = g->c_out / g->groups;
    clgrad_tensor *xc;
    CLGRAD_TRY(clgrad__contiguous(x, &xc));
    clgrad_status st = bias ? bias_fill(ctx, y, bias) : CLGRAD_OK;
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

static clgrad_status backward_data_1x1(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *wc,
                                       clgrad_tensor *dy, clgrad_tensor *dx_bias, clgrad_tensor *dx)
{
    int64_t hw = (int64_t)g->h * g->w, cig = g->c_in / g->groups, cog = g->c_out / g->groups;
    clgrad_tensor *dyc;
    CLGRAD_TRY(clgrad__contiguous(dy, &dyc));
    clgrad_status st = dx_bias ? bias_fill(ctx, dx, dx_bias) : CLGRAD_OK;
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

static clgrad_status forward_dw(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                clgrad_tensor *wc, clgrad_tensor *bias, clgrad_tensor *y)
{
    cl_long4 xs = strides4(x);
    bias_args ba = bias_of(bias, wc);
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(x), CLGRAD_KARG(xs), CLGRAD_KARG_T(wc), CLGRAD_KARG(ba.mem),
                                  CLGRAD_KARG(ba.off), CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has), CLGRAD_KARG_T(y),
                                  GEOM_KARGS(g));
    return launch2(ctx, "conv_dw_fwd_f32", (size_t)g->ho * (size_t)g->wo, (size_t)g->n * (size_t)g->c_in, a);
}

static clgrad_status backward_dw(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                 clgrad_tensor *wc, clgrad_tensor *dy, clgrad_tensor *dx_bias, clgrad_tensor *dx,
                                 clgrad_tensor *dw)
{
    cl_long4 dys = strides4(dy);
    if (dx) {
        bias_args ba = bias_of(dx_bias, wc);
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(dy), CLGRAD_KARG(dys), CLGRAD_KARG_T(wc), CLGRAD_KARG(ba.mem),
                                      CLGRAD_KARG(ba.off), CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has), CLGRAD_KARG_T(dx),
                                      GEOM_KARGS(g));
        CLGRAD_TRY(launch2(ctx, "conv_dw_bwd_data_f32", (size_t)g->h * (size_t)g->w, (size_t)g->n * (size_t)g->c_in,
                           a));
    }
    if (dw) {
        int kk = g->kh * g->kw;
        clgrad_tensor *part;
        CLGRAD_TRY(new_temp(ctx, (int64_t)g->n * g->c_in * kk, &part));
        cl_long4 xs = strides4(x);
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(x), CLGRAD_KARG(xs), CLGRAD_KARG_T(dy), CLGRAD_KARG(dys),
                                      CLGRAD_KARG(part->buf->mem), GEOM_KARGS(g));
        clgrad_status st = clgrad__launch_1d(ctx, FAMILY, NULL, "conv_dw_bwd_weight_f32",
                                             (size_t)g->n * (size_t)g->c_in * (size_t)kk, a);
        if (st == CLGRAD_OK) st = sum_rows(ctx, part, g->n, g->c_in * kk, dw);
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

static clgrad_status forward_direct(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                    clgrad_tensor *wc, clgrad_tensor *bias, clgrad_tensor *y)
{
    char opts[128];
    direct_opts(g, opts, sizeof opts);
    clgrad_tensor *xc;
    CLGRAD_TRY(int_plane(x, &xc));
    clgrad_tensor *xu = xc ? xc : x;
    cl_long4 xs = strides4(xu);
    cl_int xsh = (cl_int)xu->strides[2];
    bias_args ba = bias_of(bias, wc);
    cl_long p0 = 0, planes = (cl_long)g->n * (g->c_out / direct_ko(g));
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(xu), CLGRAD_KARG(xs), CLGRAD_KARG(xsh), CLGRAD_KARG_T(wc),
                                  CLGRAD_KARG(ba.mem), CLGRAD_KARG(ba.off), CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has),
                                  CLGRAD_KARG_T(y), CLGRAD_KARG(g->c_in), CLGRAD_KARG(g->c_out), CLGRAD_KARG(g->h),
                                  CLGRAD_KARG(g->w), CLGRAD_KARG(g->ho), CLGRAD_KARG(g->wo), CLGRAD_KARG(g->ph),
                                  CLGRAD_KARG(g->pw), CLGRAD_KARG(g->dh), CLGRAD_KARG(g->dw), CLGRAD_KARG(p0),
                                  CLGRAD_KARG(planes));
    clgrad_status st = launch3(ctx, opts, "conv_direct_fwd_f32", (size_t)g->wo, (size_t)g->ho, planes, 16, 4, &p0,
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
    cl_long4 xs = strides4(xu), dys = strides4(dy);
    cl_int xsh = (cl_int)xu->strides[2];
    int rows = direct_rows(g), kk = g->kh * g->kw;
    cl_int nr = (g->ho + rows - 1) / rows, len = nr * g->wo, M = g->c_out * kk;
    int nb;
    clgrad_tensor *part = NULL;
    clgrad_status st = chunk_images(ctx, g, (int64_t)M * len, &nb);
    if (st == CLGRAD_OK) st = new_temp(ctx, (int64_t)nb * M * len, &part);
    for (int n0 = 0; st == CLGRAD_OK && n0 < g->n; n0 += nb) {
        cl_int cnt = g->n - n0 < nb ? g->n - n0 : nb, n0_ = n0, acc = n0 > 0;
        cl_long p0 = 0, planes = (cl_long)cnt * g->c_out;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(xu), CLGRAD_KARG(xs), CLGRAD_KARG(xsh),
                                      CLGRAD_KARG_T(dy), CLGRAD_KARG(dys), CLGRAD_KARG(dysh),
                                      CLGRAD_KARG(part->buf->mem), CLGRAD_KARG(n0_), CLGRAD_KARG(g->c_in),
                                      CLGRAD_KARG(g->c_out), CLGRAD_KARG(g->h), CLGRAD_KARG(g->w), CLGRAD_KARG(g->ho),
                                      CLGRAD_KARG(g->wo), CLGRAD_KARG(g->ph), CLGRAD_KARG(g->pw), CLGRAD_KARG(g->dh),
                                      CLGRAD_KARG(g->dw), CLGRAD_KARG(nr), CLGRAD_KARG(p0), CLGRAD_KARG(planes));
        st = launch3(ctx, opts, "conv_direct_wgrad_f32", (size_t)g->wo, (size_t)nr, planes, 16, 1, &p0, a);
        clgrad__kargs b = CLGRAD_ARGS(CLGRAD_KARG(part->buf->mem), CLGRAD_KARG(cnt), CLGRAD_KARG(M), CLGRAD_KARG(len),
                                      CLGRAD_KARG_T(dw), CLGRAD_KARG(acc));
        if (st == CLGRAD_OK)
            st = clgrad__launch_1d(ctx, FAMILY, NULL, "conv_direct_wsum_f32", (size_t)M, b);
    }
    clgrad_tensor_release(part);
    clgrad_tensor_release(xc);
    return st;
}

static clgrad_status backward_direct(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                     clgrad_tensor *wc, clgrad_tensor *dy, clgrad_tensor *dx_bias, clgrad_tensor *dx,
                                     clgrad_tensor *dw)
{
    char opts[128];
    direct_opts(g, opts, sizeof opts);
    clgrad_tensor *dyc;
    CLGRAD_TRY(int_plane(dy, &dyc));
    clgrad_tensor *du = dyc ? dyc : dy;
    cl_long4 dys = strides4(du);
    cl_int dysh = (cl_int)du->strides[2];
    clgrad_status st = CLGRAD_OK;
    if (dx && g->c_out == g->c_in) {
        bias_args ba = bias_of(dx_bias, wc);
        cl_long p0 = 0, planes = (cl_long)g->n * g->c_in;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(du), CLGRAD_KARG(dys), CLGRAD_KARG(dysh),
                                      CLGRAD_KARG_T(wc), CLGRAD_KARG(ba.mem), CLGRAD_KARG(ba.off), CLGRAD_KARG(ba.stride),
                                      CLGRAD_KARG(ba.has), CLGRAD_KARG_T(dx), CLGRAD_KARG(g->c_in), CLGRAD_KARG(g->h),
                                      CLGRAD_KARG(g->w), CLGRAD_KARG(g->ho), CLGRAD_KARG(g->wo), CLGRAD_KARG(g->ph),
                                      CLGRAD_KARG(g->pw), CLGRAD_KARG(g->dh), CLGRAD_KARG(g->dw), CLGRAD_KARG(p0),
                                      CLGRAD_KARG(planes));
        st = launch3(ctx, opts, "conv_direct_bwd_data_f32", (size_t)g->w, (size_t)g->h, planes, 16, 4, &p0,
                     a);
    } else if (dx) {
        /* several output channels per input channel: the GEMM path gathers them */
        st = backward_im2col(ctx, g, x, wc, du, dx_bias, dx, NULL);
    }
    if (st == CLGRAD_OK && dw) st = wgrad_direct(ctx, g, opts, x, du, dysh, dw);
    clgrad_tensor_release(dyc);
    return st;
}

/* --- entry points ------------------------------------------------------------------------- */

clgrad_status clgrad__conv_forward_algo(clgrad_context *ctx, const clgrad__conv_geom *g, int algo, clgrad_tensor *x,
                                        clgrad_tensor *w, clgrad_tensor *bias, clgrad_tensor *y)
{
    if (g->n == 0) return CLGRAD_OK;
    clgrad_tensor *wc;
    CLGRAD_TRY(clgrad__contiguous(w, &wc));
    clgrad_status st;
    switch (algo_of(g, algo)) {
    case ALGO_DIRECT: st = forward_direct(ctx, g, x, wc, bias, y); break;
    case ALGO_DEPTHWISE: st = forward_dw(ctx, g, x, wc, bias, y); break;
    case ALGO_1X1: st = forward_1x1(ctx, g, x, wc, bias, y); break;
    default: st = forward_im2col(ctx, g, x, wc, bias, y, NULL); break;
    }
    clgrad_tensor_release(wc);
    return st;
}

clgrad_status clgrad__conv_backward_algo(clgrad_context *ctx, const clgrad__conv_geom *g, int algo,
                                         clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *dy,
                                         clgrad_tensor *dx_bias, clgrad_tensor *dx, clgrad_tensor *dw)
{
    if (g->n == 0) return dw ? clgrad__fill(dw, 0.0) : CLGRAD_OK; /* dx is empty */
    clgrad_tensor *wc = NULL;
    if (dx) CLGRAD_TRY(clgrad__contiguous(w, &wc));
    clgrad_status st;
    switch (algo_of(g, algo)) {
    case ALGO_DIRECT:
        if (algo != ALGO_AUTO) {
            st = backward_direct(ctx, g, x, wc, dy, dx_bias, dx, dw);
        } else if (g->c_out == g->c_in && g->groups > 1) {
            /* measured on a CPU device: the direct input gradient wins, the general
             * depthwise weight gradient is still faster than the two-stage one */
            st = dx ? backward_direct(ctx, g, x, wc, dy, dx_bias, dx, NULL) : CLGRAD_OK;
            if (st == CLGRAD_OK && dw) st = backward_dw(ctx, g, x, wc, dy, NULL, NULL, dw);
        } else {
            st = backward_im2col(ctx, g, x, wc, dy, dx_bias, dx, dw);
        }
        break;
    case ALGO_DEPTHWISE: st = backward_dw(ctx, g, x, wc, dy, dx_bias, dx, dw); break;
    case ALGO_1X1:
        st = dx ? backward_data_1x1(ctx, g, wc, dy, dx_bias, dx) : CLGRAD_OK;
        if (st == CLGRAD_OK && dw) st = backward_im2col(ctx, g, x, wc, dy, NULL, NULL, dw);
        break;
    default: st = backward_im2col(ctx, g, x, wc, dy, dx_bias, dx, dw); break;
    }
    clgrad_tensor_release(wc);
    return st;
}

clgrad_status clgrad__conv_forward(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                   clgrad_tensor *w, clgrad_tensor *bias, clgrad_tensor *y)
{
    return clgrad__conv_forward_algo(ctx, g, ALGO_AUTO, x, w, bias, y);
}

clgrad_status clgrad__conv_backward(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                    clgrad_tensor *w, clgrad_tensor *dy, clgrad_tensor *dx_bias, clgrad_tensor *dx,
                                    clgrad_tensor *dw)
{
    return clgrad__conv_backward_algo(ctx, g, ALGO_AUTO, x, w, dy, dx_bias, dx, dw);
}

clgrad_status clgrad__conv_bias_grad(clgrad_context *ctx, clgrad_tensor *dy, clgrad_tensor *db)
{
    cl_int N = (cl_int)dy->shape[0], K = (cl_int)dy->shape[1], H = (cl_int)dy->shape[2], W = (cl_int)dy->shape[3];
    if (K == 0) return CLGRAD_OK;
    if (N == 0) return clgrad__fill(db, 0.0);
    clgrad_tensor *part;
    CLGRAD_TRY(new_temp(ctx, (int64_t)N * K, &part));
    cl_long4 ys = strides4(dy);
    clgrad_status st;
    int planes_contiguous = (dy->strides[3] == 1 || W == 1) && (dy->strides[2] == W || H == 1);
    if (clgrad__ops_tuning(ctx)->row_kernels && planes_contiguous && (int64_t)H * W <= 0x7fffffff) {
        /* contiguous planes: the vector-lane kernel (a work-item per plane suits CPUs) */
        cl_int HW = H * W;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(dy), CLGRAD_KARG(ys), CLGRAD_KARG(part->buf->mem), CLGRAD_KARG(N),
                                      CLGRAD_KARG(K), CLGRAD_KARG(HW));
        st = clgrad__launch_1d(ctx, FAMILY, NULL, "conv_plane_sum4_f32", (size_t)N * (size_t)K, a);
    } else {
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(dy), CLGRAD_KARG(ys), CLGRAD_KARG(part->buf->mem), CLGRAD_KARG(N),
                                      CLGRAD_KARG(K), CLGRAD_KARG(H), CLGRAD_KARG(W));
        st = clgrad__launch_1d(ctx, FAMILY, NULL, "conv_plane_sum_f32", (size_t)N * (size_t)K, a);
    }
    if (st == CLGRAD_OK) st = sum_rows(ctx, part, N, K, db);
    clgrad_tensor_release(part);
    return st;
}

/* --- the public conv2d (arguments are checked by clgrad__conv_setup in conv_transpose.c) --- */

/* State: the forward convolution's geometry. */
static clgrad_status conv2d_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad__conv_geom g = *CLGRAD__NODE_STATE(nd, clgrad__conv_geom);
    clgrad_tensor *x = nd->saved[0], *w = nd->saved[1];
    clgrad_context *ctx = gy->ctx;
    clgrad_tensor *dx = NULL, *dw = NULL, *db = NULL;
    clgrad_status st = CLGRAD_OK;
    if (nd->needs_grad[0]) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 4, x->shape, &dx);
    if (st == CLGRAD_OK && nd->needs_grad[1]) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 4, w->shape, &dw);
    if (st == CLGRAD_OK && dw && nd->saved[2] && g.n > 0) {
        /* the forward kept x's columns (general path, one chunk) */
        clgrad_tensor *wc = NULL;
        if (dx) st = clgrad__contiguous(w, &wc);
        if (st == CLGRAD_OK) st = backward_im2col_cols(ctx, &g, x, wc, gy, NULL, dx, dw, nd->saved[2]);
        clgrad_tensor_release(wc);
    } else if (st == CLGRAD_OK && (dx || dw)) {
        st = clgrad__conv_backward(ctx, &g, x, w, gy, NULL, dx, dw);
    }
    if (st == CLGRAD_OK && nd->needs_grad[2]) {
        int64_t k = g.c_out;
        st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 1, &k, &db);
        if (st == CLGRAD_OK) st = clgrad__conv_bias_grad(ctx, gy, db);
    }
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(dx);
        clgrad_tensor_release(dw);
        clgrad_tensor_release(db);
        return st;
    }
    gx[0] = dx, gx[1] = dw, gx[2] = db;
    return CLGRAD_OK;
}

CLGRAD__OP_DEFINE(conv2d, "clgrad_conv2d", conv2d_backward, clgrad__conv_geom);

clgrad_status clgrad_conv2d(clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *bias, const clgrad_conv2d_params *p,
                            clgrad_tensor **out)
{
    const char *fn = "clgrad_conv2d";
    if (out) *out = NULL;
    if (!out) return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    clgrad__conv_geom g = {0};
    int64_t shape[4];
    CLGRAD_TRY(clgrad__conv_setup(fn, 0, x, w, bias, p, &g, shape));
    clgrad_tensor *y, *cols = NULL;
    CLGRAD_TRY(clgrad__tensor_new(x->ctx, CLGRAD_DTYPE_F32, 4, shape, &y));
    clgrad_tensor *inputs[3] = {x, w, bias};
    int need = clgrad__grad_needed(3, inputs);
    clgrad_status st;
    if (need && w->requires_grad && g.n > 0 && algo_of(&g, ALGO_AUTO) == ALGO_IM2COL && keepable_cols(x->ctx, &g)) {
        /* keep the columns: the weight gradient then needs no second im2col */
        clgrad_tensor *wc;
        st = clgrad__contiguous(w, &wc);
        if (st == CLGRAD_OK) st = forward_im2col(x->ctx, &g, x, wc, bias, y, &cols);
        clgrad_tensor_release(wc);
    } else {
        st = clgrad__conv_forward(x->ctx, &g, x, w, bias, y);
    }
    if (st == CLGRAD_OK && need) {
        clgrad_tensor *saved[3] = {x, w, cols}; /* cols: the forward's columns when kept */
        st = clgrad__record(y, &clgrad__op_conv2d, 3, inputs, &g, 3, saved);
    }
    clgrad_tensor_release(cols);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}
