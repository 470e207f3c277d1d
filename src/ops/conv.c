/* Convolution engine: the forward product and both gradients of a 2-d NCHW convolution,
 * shared by clgrad_conv2d (at the end of this file) and clgrad_conv_transpose2d; the
 * algorithms live in conv_im2col.c and conv_direct.c, their helpers in conv_common.c.
 *
 * Algorithms, picked per geometry below: general im2col + GEMM (conv_im2col.c); for
 * 1x1 stride-1 convolutions plain GEMMs on NCHW, for depthwise and one-input-channel-per-
 * output convolutions direct kernels (conv_direct.c). The automatic choice takes the
 * direct kernels only for groups > 1 (a single input channel measured faster on the
 * general path).
 * Chunks keep every temporary under clgrad__conv_temp_bound(). Every reduction has a fixed
 * order, so results are bit-identical run after run. */
#include "ops/conv_impl.h"
#include "ops/elementwise.h"
#include "ops/fused.h"
#include "ops/op_table.h"

#define FAMILY "conv"

enum {
    ALGO_AUTO = CLGRAD__CONV_AUTO,
    ALGO_IM2COL = CLGRAD__CONV_IM2COL,
    ALGO_1X1 = CLGRAD__CONV_1X1,
    ALGO_DEPTHWISE = CLGRAD__CONV_DEPTHWISE,
    ALGO_DIRECT = CLGRAD__CONV_DIRECT
};

/* The fixed-window direct kernels take one input channel per output channel. */
static int direct_fits(const clgrad__conv_geom *g)
{
    return g->groups == g->c_in && g->kh <= 7 && g->kw <= 7 && g->sh <= 4 && g->sw <= 4;
}

static int pick_algo(const clgrad_context *ctx, const clgrad__conv_geom *g)
{
    /* a single input channel (groups == C_in == 1) goes to im2col + GEMM unless the tuning
     * says conv_direct_c1: measured faster on a CPU device, and the forward keeps its
     * columns for the weight gradient */
    if (direct_fits(g) && (g->groups > 1 || clgrad__ops_tuning(ctx)->conv_direct_c1)) return ALGO_DIRECT;
    if (g->groups > 1 && g->groups == g->c_in && g->groups == g->c_out) return ALGO_DEPTHWISE;
    /* Per-image GEMMs only pay off when an image gives a reasonably wide matrix. */
    if (g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 && g->ho == g->h &&
        g->wo == g->w && (int64_t)g->h * g->w >= 256)
        return ALGO_1X1;
    return ALGO_IM2COL;
}

static int algo_of(const clgrad_context *ctx, const clgrad__conv_geom *g, int forced)
{
    if (forced == ALGO_DEPTHWISE && !(g->groups == g->c_in && g->groups == g->c_out)) forced = ALGO_AUTO;
    if (forced == ALGO_DIRECT && !direct_fits(g)) forced = ALGO_AUTO;
    if (forced == ALGO_1X1 && !(g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 &&
                                g->ho == g->h && g->wo == g->w))
        forced = ALGO_AUTO;
    return forced ? forced : pick_algo(ctx, g);
}

/* --- entry points ------------------------------------------------------------------------- */

clgrad_status clgrad__conv_forward_algo(clgrad_context *ctx, const clgrad__conv_geom *g, int algo, clgrad_tensor *x,
                                        clgrad_tensor *w, clgrad_tensor *bias, clgrad_tensor *y)
{
    if (g->n == 0) return CLGRAD_OK;
    clgrad_tensor *wc;
    CLGRAD_TRY(clgrad__contiguous(w, &wc));
    clgrad_status st;
    switch (algo_of(ctx, g, algo)) {
    case ALGO_DIRECT: st = clgrad__conv_forward_direct(ctx, g, x, wc, bias, y); break;
    case ALGO_DEPTHWISE: st = clgrad__conv_forward_dw(ctx, g, x, wc, bias, y); break;
    case ALGO_1X1: st = clgrad__conv_forward_1x1(ctx, g, x, wc, bias, y); break;
    default: st = clgrad__conv_forward_im2col(ctx, g, x, wc, bias, y, NULL, NULL); break;
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
    switch (algo_of(ctx, g, algo)) {
    case ALGO_DIRECT:
        if (algo != ALGO_AUTO) {
            st = clgrad__conv_backward_direct(ctx, g, x, wc, dy, dx_bias, dx, dw);
        } else if (g->groups == 1 && clgrad__ops_tuning(ctx)->conv_direct_c1 == 2) {
            /* one input channel, the tuning says the direct kernels win backward too */
            st = clgrad__conv_backward_direct(ctx, g, x, wc, dy, dx_bias, dx, dw);
        } else if (g->c_out == g->c_in && g->groups > 1) {
            /* measured on a CPU device: the direct input gradient wins, the general
             * depthwise weight gradient is still faster than the two-stage one */
            st = dx ? clgrad__conv_backward_direct(ctx, g, x, wc, dy, dx_bias, dx, NULL) : CLGRAD_OK;
            if (st == CLGRAD_OK && dw) st = clgrad__conv_backward_dw(ctx, g, x, wc, dy, NULL, NULL, dw);
        } else {
            st = clgrad__conv_backward_im2col(ctx, g, x, wc, dy, dx_bias, dx, dw);
        }
        break;
    case ALGO_DEPTHWISE: st = clgrad__conv_backward_dw(ctx, g, x, wc, dy, dx_bias, dx, dw); break;
    case ALGO_1X1:
        st = dx ? clgrad__conv_backward_data_1x1(ctx, g, wc, dy, dx_bias, dx) : CLGRAD_OK;
        if (st == CLGRAD_OK && dw) st = clgrad__conv_backward_im2col(ctx, g, x, wc, dy, NULL, NULL, dw);
        break;
    default: st = clgrad__conv_backward_im2col(ctx, g, x, wc, dy, dx_bias, dx, dw); break;
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
    CLGRAD_TRY(clgrad__conv_new_temp(ctx, (int64_t)N * K, &part));
    cl_long4 ys = clgrad__conv_strides4(dy);
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
    if (st == CLGRAD_OK) st = clgrad__conv_sum_rows(ctx, part, N, K, db);
    clgrad_tensor_release(part);
    return st;
}

/* --- the public conv2d (arguments are checked by clgrad__conv_setup in conv_transpose.c) --- */

/* The gradients of clgrad_conv2d for the inputs need[] asks for: gx[0] dx, gx[1] dw, gx[2]
 * db (new tensors; NULL where not needed). cols: the forward's columns when it kept them. */
static clgrad_status conv2d_grads(clgrad_context *ctx, clgrad__conv_geom g, clgrad_tensor *x, clgrad_tensor *w,
                                  clgrad_tensor *cols, clgrad_tensor *gy, const int need[3], clgrad_tensor **gx)
{
    clgrad_tensor *dx = NULL, *dw = NULL, *db = NULL;
    clgrad_status st = CLGRAD_OK;
    if (need[0]) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 4, x->shape, &dx);
    if (st == CLGRAD_OK && need[1]) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 4, w->shape, &dw);
    if (st == CLGRAD_OK && dw && cols && g.n > 0) {
        /* the forward kept x's columns (general path, one chunk) */
        clgrad_tensor *wc = NULL;
        if (dx) st = clgrad__contiguous(w, &wc);
        if (st == CLGRAD_OK) st = clgrad__conv_backward_im2col_cols(ctx, &g, x, wc, gy, NULL, dx, dw, cols);
        clgrad_tensor_release(wc);
    } else if (st == CLGRAD_OK && (dx || dw)) {
        st = clgrad__conv_backward(ctx, &g, x, w, gy, NULL, dx, dw);
    }
    if (st == CLGRAD_OK && need[2]) {
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

/* State: the forward convolution's geometry (relu: a fused ReLU, pool: and 2x2 max pooling).
 * saved: 0 x, 1 w, 2 the forward's columns when kept, 3 the output (a second handle) when a
 * ReLU is fused: the gradient goes through its mask first, exactly as clgrad_relu's
 * backward; 4 the pooling's indices when it is fused: the gradient is first spread back to
 * the window maxima, as clgrad_max_pool2d's backward. */
static clgrad_status conv2d_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad__conv_geom g = *CLGRAD__NODE_STATE(nd, clgrad__conv_geom);
    clgrad_tensor *gm = NULL;
    if (g.pool) CLGRAD_TRY(clgrad__conv_relu_unpool(gy->ctx, &g, gy, nd->saved[4], nd->saved[3], &gm));
    else if (g.relu) CLGRAD_TRY(clgrad__activation_grad("relu", nd->saved[3], gy, 0.0f, 0.0f, &gm));
    g.relu = 0, g.pool = 0;
    clgrad_status st = conv2d_grads(gy->ctx, g, nd->saved[0], nd->saved[1], nd->saved[2], gm ? gm : gy,
                                    nd->needs_grad, gx);
    clgrad_tensor_release(gm);
    return st;
}

/* y = the forward of clgrad_conv2d, with a ReLU in its last pass when g->relu (the general
 * path only: the caller sets relu only there) and the pooling too when g->pool (y pooled,
 * idx its indices); *cols (when cols is not NULL) the column matrix the backward can reuse,
 * or NULL when the forward did not keep it. */
static clgrad_status conv2d_forward(clgrad__conv_geom *g, clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *bias,
                                    clgrad_tensor *y, clgrad_tensor *idx, clgrad_tensor **cols)
{
    clgrad_context *ctx = x->ctx;
    int im2col = g->n > 0 && algo_of(ctx, g, ALGO_AUTO) == ALGO_IM2COL;
    int keep = cols && im2col && clgrad__conv_keepable_cols(ctx, g);
    if (keep || (im2col && g->relu)) {
        /* keep the columns when they fit: the weight gradient then needs no second im2col */
        clgrad_tensor *wc;
        clgrad_status st = clgrad__contiguous(w, &wc);
        if (st == CLGRAD_OK) st = clgrad__conv_forward_im2col(ctx, g, x, wc, bias, y, idx, keep ? cols : NULL);
        clgrad_tensor_release(wc);
        return st;
    }
    return clgrad__conv_forward(ctx, g, x, w, bias, y);
}

clgrad_status clgrad__conv2d_step(const clgrad__conv_geom *g, clgrad_tensor *x, clgrad_tensor *w,
                                  clgrad_tensor *bias, clgrad_tensor *gy, int input_grad, clgrad_tensor **gx)
{
    clgrad_context *ctx = x->ctx;
    clgrad__conv_geom geo = *g;
    int64_t shape[4] = {g->n, g->c_out, g->ho, g->wo};
    int need[3] = {input_grad, 1, bias != NULL};
    clgrad_tensor *y = NULL, *cols = NULL;
    gx[0] = gx[1] = gx[2] = NULL;
    clgrad_status st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 4, shape, &y);
    if (st == CLGRAD_OK) st = conv2d_forward(&geo, x, w, bias, y, NULL, &cols);
    if (st == CLGRAD_OK) st = conv2d_grads(ctx, geo, x, w, cols, gy, need, gx);
    clgrad_tensor_release(cols);
    clgrad_tensor_release(y);
    return st;
}

CLGRAD__OP_DEFINE(conv2d, "clgrad_conv2d", conv2d_backward, clgrad__conv_geom);

/* conv2d; with relu, a ReLU fused into the general path's last pass (*fused 1), or left to
 * the caller (*fused 0: another algorithm runs); with pool too, and where a CPU-style
 * device runs the general path on an output of even height and width, 2x2 max pooling with
 * stride 2 fused after the ReLU (*fused 2: out is pooled). */
static clgrad_status conv2d(clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *bias, const clgrad_conv2d_params *p,
                            int relu, int pool, int *fused, clgrad_tensor **out)
{
    const char *fn = "clgrad_conv2d";
    *fused = 0;
    if (out) *out = NULL;
    if (!out) return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    clgrad__conv_geom g = {0};
    int64_t shape[4];
    CLGRAD_TRY(clgrad__conv_setup(fn, 0, x, w, bias, p, &g, shape));
    g.relu = relu && g.n > 0 && algo_of(x->ctx, &g, ALGO_AUTO) == ALGO_IM2COL;
    /* the pooling's row kernels suit CPUs; elsewhere the pooling op's own kernels run */
    g.pool = g.relu && pool && g.ho % 2 == 0 && g.wo % 2 == 0 && clgrad__ops_tuning(x->ctx)->row_kernels;
    *fused = g.pool ? 2 : g.relu;
    if (g.pool) shape[2] = g.ho / 2, shape[3] = g.wo / 2;
    clgrad_tensor *y, *idx = NULL, *cols = NULL, *yh = NULL;
    CLGRAD_TRY(clgrad__tensor_new(x->ctx, CLGRAD_DTYPE_F32, 4, shape, &y));
    clgrad_tensor *inputs[3] = {x, w, bias};
    int need = clgrad__grad_needed(3, inputs);
    clgrad_status st = g.pool ? clgrad__tensor_new(x->ctx, CLGRAD_DTYPE_I32, 4, shape, &idx) : CLGRAD_OK;
    if (st == CLGRAD_OK) st = conv2d_forward(&g, x, w, bias, y, idx, need && w->requires_grad ? &cols : NULL);
    if (st == CLGRAD_OK && need && g.relu) /* the node must not hold its output: a second handle */
        st = clgrad__tensor_view(y, y->ndim, y->shape, y->strides, y->offset, &yh);
    if (st == CLGRAD_OK && need) {
        clgrad_tensor *saved[5] = {x, w, cols, yh, idx}; /* cols: the forward's columns when kept */
        st = clgrad__record(y, &clgrad__op_conv2d, 3, inputs, &g, 5, saved);
    }
    clgrad_tensor_release(cols);
    clgrad_tensor_release(yh);
    clgrad_tensor_release(idx);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

clgrad_status clgrad_conv2d(clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *bias, const clgrad_conv2d_params *p,
                            clgrad_tensor **out)
{
    int fused;
    return conv2d(x, w, bias, p, 0, 0, &fused, out);
}

/* relu(conv2d), then 2x2 max pooling with stride 2 when pool: as much of it in one op as
 * conv2d() fuses, the rest by the ops themselves. */
static clgrad_status conv2d_relu_then(clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *bias,
                                      const clgrad_conv2d_params *p, int pool, clgrad_tensor **out)
{
    int fused;
    clgrad_tensor *y = NULL, *r = NULL;
    if (out) *out = NULL;
    if (!out) return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_conv2d: out is NULL");
    CLGRAD_TRY(conv2d(x, w, bias, p, 1, pool, &fused, &y));
    if (fused == 2 || (fused == 1 && !pool)) {
        *out = y;
        return CLGRAD_OK;
    }
    clgrad_status st = CLGRAD_OK;
    if (fused == 0) {
        st = clgrad_relu(y, &r);
        clgrad_tensor_release(y);
        y = r;
    }
    if (st == CLGRAD_OK && pool) {
        const clgrad_pool2d_params pp = {{2, 2}, {2, 2}, {0, 0}};
        st = clgrad_max_pool2d(y, &pp, &r, NULL);
        clgrad_tensor_release(y);
        y = r;
    }
    if (st == CLGRAD_OK) *out = y;
    return st;
}

clgrad_status clgrad__conv2d_relu(clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *bias,
                                  const clgrad_conv2d_params *p, clgrad_tensor **out)
{
    return conv2d_relu_then(x, w, bias, p, 0, out);
}

clgrad_status clgrad__conv2d_relu_pool(clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *bias,
                                       const clgrad_conv2d_params *p, clgrad_tensor **out)
{
    return conv2d_relu_then(x, w, bias, p, 1, out);
}
