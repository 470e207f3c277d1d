/* Batch normalisation and layer normalisation: forward (training with batch statistics and
 * running-statistics update, or eval with running statistics) and backward rules for the
 * input, weight and bias. The statistics and the gradient sums are fixed-order chunked
 * reductions (cl/norm.cl), so results are bit-identical run after run on a device. */
#include "ops/ops.h"
#include "ops/op_table.h"

#include <string.h>

#define FAMILY "norm"

/* Chunk length of a reduction over M elements: depends on M only (never on the device). */
static void chunking(int64_t M, int64_t *chunk, int64_t *nchunks)
{
    int64_t c = (M + 1023) / 1024;
    if (c < 64) c = 64;
    *chunk = c;
    *nchunks = M > 0 ? (M + c - 1) / c : 1;
}

static clgrad_status temp(clgrad_context *ctx, int64_t n, clgrad_tensor **out)
{
    return clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 1, &n, out);
}

/* mean and invstd (C each) of x seen as (A, C, B); optionally updates running statistics
 * (1-D views, NULL to skip). */
static clgrad_status stats(clgrad_tensor *x, int64_t A, int64_t C, int64_t B, float eps, clgrad_tensor *mean,
                           clgrad_tensor *invstd, clgrad_tensor *rm, clgrad_tensor *rv, float momentum)
{
    clgrad_context *ctx = x->ctx;
    int64_t M = A * B, chunk, nch;
    chunking(M, &chunk, &nch);
    clgrad_tensor *pm = NULL, *pq = NULL;
    clgrad_status st = temp(ctx, C * nch, &pm);
    if (st == CLGRAD_OK) st = temp(ctx, C * nch, &pq);
    if (st == CLGRAD_OK) {
        clgrad__kargs a =
            CLGRAD_ARGS(CLGRAD_KARG_T(x), CLGRAD_KARG(A), CLGRAD_KARG(C), CLGRAD_KARG(B), CLGRAD_KARG(chunk),
                        CLGRAD_KARG(nch), CLGRAD_KARG(pm->buf->mem), CLGRAD_KARG(pq->buf->mem));
        st = clgrad__launch_1d(ctx, FAMILY, NULL, "norm_stats_partial_f32", (size_t)(C * nch), a);
    }
    if (st == CLGRAD_OK) {
        clgrad_tensor *rmt = rm ? rm : mean, *rvt = rv ? rv : mean;
        cl_long rms = rm ? rm->strides[0] : 0, rvs = rv ? rv->strides[0] : 0;
        cl_int um = rm != NULL, uv = rv != NULL;
        cl_float e = eps, mo = momentum;
        clgrad__kargs a =
            CLGRAD_ARGS(CLGRAD_KARG(pm->buf->mem), CLGRAD_KARG(pq->buf->mem), CLGRAD_KARG(C), CLGRAD_KARG(M),
                        CLGRAD_KARG(chunk), CLGRAD_KARG(nch), CLGRAD_KARG(e), CLGRAD_KARG(mean->buf->mem),
                        CLGRAD_KARG(invstd->buf->mem), CLGRAD_KARG_T(rmt), CLGRAD_KARG(rms), CLGRAD_KARG_T(rvt),
                        CLGRAD_KARG(rvs), CLGRAD_KARG(mo), CLGRAD_KARG(um), CLGRAD_KARG(uv));
        st = clgrad__launch_1d(ctx, FAMILY, NULL, "norm_stats_merge_f32", (size_t)C, a);
    }
    clgrad_tensor_release(pm);
    clgrad_tensor_release(pq);
    return st;
}

/* y = (x - mean[s]) * invstd[s] * w[a] + b[a] over x's n elements (see cl/norm.cl). */
static clgrad_status apply(clgrad_tensor *y, clgrad_tensor *x, clgrad_tensor *mean, clgrad_tensor *invstd,
                           int64_t sdiv, int64_t smod, clgrad_tensor *w, clgrad_tensor *b, int64_t adiv, int64_t amod)
{
    int64_t n = clgrad__numel(x->ndim, x->shape);
    clgrad_tensor *wt = w ? w : x, *bt = b ? b : x;
    cl_int hw = w != NULL, hb = b != NULL;
    clgrad__kargs a =
        CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG_T(x), CLGRAD_KARG(n), CLGRAD_KARG(mean->buf->mem),
                    CLGRAD_KARG(invstd->buf->mem), CLGRAD_KARG(sdiv), CLGRAD_KARG(smod), CLGRAD_KARG_T(wt),
                    CLGRAD_KARG_T(bt), CLGRAD_KARG(adiv), CLGRAD_KARG(amod), CLGRAD_KARG(hw), CLGRAD_KARG(hb));
    return clgrad__launch_1d(x->ctx, FAMILY, NULL, "norm_apply_f32", (size_t)n, a);
}

/* s1[c] = sum g, s2[c] = sum g * xhat over x seen as (A, C, B), g = dy * (w_in ? w : 1).
 * s1, s2: contiguous tensors of C elements. */
static clgrad_status bwd_sums(clgrad_tensor *x, clgrad_tensor *dy, clgrad_tensor *mean, clgrad_tensor *invstd,
                              int64_t sdiv, int64_t smod, clgrad_tensor *w, int64_t adiv, int64_t amod, int w_in,
                              int64_t A, int64_t C, int64_t B, clgrad_tensor *s1, clgrad_tensor *s2)
{
    clgrad_context *ctx = x->ctx;
    int64_t chunk, nch;
    chunking(A * B, &chunk, &nch);
    clgrad_tensor *p1 = NULL, *p2 = NULL;
    clgrad_status st = temp(ctx, C * nch, &p1);
    if (st == CLGRAD_OK) st = temp(ctx, C * nch, &p2);
    if (st == CLGRAD_OK) {
        clgrad_tensor *wt = w ? w : x;
        cl_int wi = w_in && w;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(x),     CLGRAD_KARG_T(dy),    CLGRAD_KARG(mean->buf->mem),
                                      CLGRAD_KARG(invstd->buf->mem), CLGRAD_KARG(sdiv), CLGRAD_KARG(smod),
                                      CLGRAD_KARG_T(wt),    CLGRAD_KARG(adiv),    CLGRAD_KARG(amod),
                                      CLGRAD_KARG(wi),      CLGRAD_KARG(A),       CLGRAD_KARG(C),
                                      CLGRAD_KARG(B),       CLGRAD_KARG(chunk),   CLGRAD_KARG(nch),
                                      CLGRAD_KARG(p1->buf->mem), CLGRAD_KARG(p2->buf->mem));
        st = clgrad__launch_1d(ctx, FAMILY, NULL, "norm_bwd_partial_f32", (size_t)(C * nch), a);
    }
    for (int i = 0; i < 2 && st == CLGRAD_OK; i++) {
        clgrad_tensor *p = i ? p2 : p1, *o = i ? s2 : s1;
        /* the nch partials of each c, in order: row c of a (C, nch) matrix */
        st = clgrad__sum_ordered(ctx, p->buf->mem, 0, C, nch, nch, 1, o->buf->mem, o->offset, 1);
    }
    clgrad_tensor_release(p1);
    clgrad_tensor_release(p2);
    return st;
}

static clgrad_status bwd_dx(clgrad_tensor *dx, clgrad_tensor *x, clgrad_tensor *dy, clgrad_tensor *mean,
                            clgrad_tensor *invstd, int64_t sdiv, int64_t smod, clgrad_tensor *s1, clgrad_tensor *s2,
                            float invM, clgrad_tensor *w, int64_t adiv, int64_t amod, int w_in, int w_out)
{
    int64_t n = clgrad__numel(x->ndim, x->shape);
    clgrad_tensor *wt = w ? w : x;
    cl_int wi = w && w_in, wo = w && w_out;
    cl_float im = invM;
    clgrad__kargs a =
        CLGRAD_ARGS(CLGRAD_KARG(dx->buf->mem), CLGRAD_KARG_T(x), CLGRAD_KARG_T(dy), CLGRAD_KARG(n),
                    CLGRAD_KARG(mean->buf->mem), CLGRAD_KARG(invstd->buf->mem), CLGRAD_KARG(sdiv), CLGRAD_KARG(smod),
                    CLGRAD_KARG(s1->buf->mem), CLGRAD_KARG(s2->buf->mem), CLGRAD_KARG(im), CLGRAD_KARG_T(wt),
                    CLGRAD_KARG(adiv), CLGRAD_KARG(amod), CLGRAD_KARG(wi), CLGRAD_KARG(wo));
    return clgrad__launch_1d(x->ctx, FAMILY, NULL, "norm_bwd_dx_f32", (size_t)n, a);
}

/* --- batch norm -------------------------------------------------------------------------- */

/* saved: 0 x (contiguous), 1 mean, 2 invstd, 3 weight (contiguous) or NULL. x is (N, C, S). */
typedef struct batch_norm_state {
    int training;
    int64_t N, C, S;
} batch_norm_state;

static clgrad_status batch_norm_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_context *ctx = gy->ctx;
    clgrad_tensor *x = nd->saved[0], *mean = nd->saved[1], *invstd = nd->saved[2], *w = nd->saved[3];
    const batch_norm_state *bs = CLGRAD__NODE_STATE(nd, batch_norm_state);
    int training = bs->training;
    int64_t N = bs->N, C = bs->C, S = bs->S;
    clgrad_tensor *s1 = NULL, *s2 = NULL, *dx = NULL;
    clgrad_status st = temp(ctx, C, &s1);
    if (st == CLGRAD_OK) st = temp(ctx, C, &s2);
    if (st == CLGRAD_OK) st = bwd_sums(x, gy, mean, invstd, S, C, NULL, S, C, 0, N, C, S, s1, s2);
    if (st == CLGRAD_OK && nd->needs_grad[0]) {
        st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &dx);
        if (st == CLGRAD_OK)
            st = bwd_dx(dx, x, gy, mean, invstd, S, C, s1, s2, training ? (float)(1.0 / (double)(N * S)) : 0.0f, w,
                        S, C, 0, 1);
    }
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(s1);
        clgrad_tensor_release(s2);
        clgrad_tensor_release(dx);
        return st;
    }
    gx[0] = dx;
    if (nd->needs_grad[1]) gx[1] = clgrad_tensor_retain(s2);
    if (nd->needs_grad[2]) gx[2] = clgrad_tensor_retain(s1);
    clgrad_tensor_release(s1);
    clgrad_tensor_release(s2);
    return CLGRAD_OK;
}

static clgrad_status check_channel_vec(const char *fn, const char *arg, clgrad_tensor *x, clgrad_tensor *t, int64_t C)
{
    if (!t) return CLGRAD_OK;
    CLGRAD_TRY(clgrad__check_tensor(x->ctx, fn, arg, t, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_same_ctx(fn, x, t));
    if (t->ndim != 1 || t->shape[0] != C) {
        char a[256], b[256];
        return clgrad__fail(x->ctx, CLGRAD_ERR_SHAPE, "%s: %s has shape %s but x %s has %lld channels", fn, arg,
                            clgrad__shape_str(a, sizeof a, t->ndim, t->shape),
                            clgrad__shape_str(b, sizeof b, x->ndim, x->shape), (long long)C);
    }
    return CLGRAD_OK;
}

/* A running statistic that training updates in place while it reads x (other: the one
 * updated before it, or NULL). */
static clgrad_status check_running(const char *fn, clgrad_tensor *x, clgrad_tensor *t, const char *arg,
                                   clgrad_tensor *other, const char *other_arg)
{
    if (!t) return CLGRAD_OK;
    CLGRAD_TRY(clgrad__check_writable(fn, arg, t));
    const char *with = clgrad__tensor_overlap(t, x) != CLGRAD__OVERLAP_NONE                  ? "x"
                       : other && clgrad__tensor_overlap(t, other) != CLGRAD__OVERLAP_NONE ? other_arg
                                                                                             : NULL;
    if (with)
        return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "%s: %s shares memory with %s; give it a tensor of its own",
                            fn, arg, with);
    return CLGRAD_OK;
}

CLGRAD__OP_DEFINE(batch_norm, "clgrad_batch_norm", batch_norm_backward, batch_norm_state);

clgrad_status clgrad_batch_norm(clgrad_tensor *x, clgrad_tensor *weight, clgrad_tensor *bias,
                                clgrad_tensor *running_mean, clgrad_tensor *running_var, int training, float momentum,
                                float eps, clgrad_tensor **out)
{
    static const char fn[] = "clgrad_batch_norm";
    if (out) *out = NULL;
    if (!out) return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    CLGRAD_TRY(clgrad__check_tensor(NULL, fn, "x", x, CLGRAD_DTYPE_F32));
    clgrad_context *ctx = x->ctx;
    if (x->ndim < 2) {
        char a[256];
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: x %s must be (N, C, ...)", fn,
                            clgrad__shape_str(a, sizeof a, x->ndim, x->shape));
    }
    int64_t N = x->shape[0], C = x->shape[1], S = clgrad__numel(x->ndim - 2, x->shape + 2);
    CLGRAD_TRY(check_channel_vec(fn, "weight", x, weight, C));
    CLGRAD_TRY(check_channel_vec(fn, "bias", x, bias, C));
    CLGRAD_TRY(check_channel_vec(fn, "running_mean", x, running_mean, C));
    CLGRAD_TRY(check_channel_vec(fn, "running_var", x, running_var, C));
    if (training) { /* running_mean and running_var are written while x is read */
        CLGRAD_TRY(check_running(fn, x, running_mean, "running_mean", NULL, NULL));
        CLGRAD_TRY(check_running(fn, x, running_var, "running_var", running_mean, "running_mean"));
    }
    if (!(eps >= 0.0f))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: eps = %g must be >= 0", fn, (double)eps);
    if (!training && (!running_mean || !running_var))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: eval mode needs running_mean and running_var", fn);
    if (training && N * S <= 1 && C > 0) {
        char a[256];
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: training needs more than 1 value per channel, x is %s", fn,
                            clgrad__shape_str(a, sizeof a, x->ndim, x->shape));
    }
    clgrad_tensor *xc = NULL, *wc = NULL, *bc = NULL, *mean = NULL, *invstd = NULL, *y = NULL;
    clgrad_status st;
    if ((st = clgrad__contiguous(x, &xc)) != CLGRAD_OK) goto done;
    if (weight && (st = clgrad__contiguous(weight, &wc)) != CLGRAD_OK) goto done;
    if (bias && (st = clgrad__contiguous(bias, &bc)) != CLGRAD_OK) goto done;
    if ((st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &y)) != CLGRAD_OK) goto done;
    if (clgrad__numel(x->ndim, x->shape) == 0) goto done;
    if ((st = temp(ctx, C, &mean)) != CLGRAD_OK) goto done;
    if ((st = temp(ctx, C, &invstd)) != CLGRAD_OK) goto done;
    if (training) {
        if (running_mean) running_mean->version++;
        if (running_var) running_var->version++;
        st = stats(xc, N, C, S, eps, mean, invstd, running_mean, running_var, momentum);
    } else {
        cl_long rms = running_mean->strides[0], rvs = running_var->strides[0];
        cl_float e = eps;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(running_mean), CLGRAD_KARG(rms), CLGRAD_KARG_T(running_var),
                                      CLGRAD_KARG(rvs),            CLGRAD_KARG(C),   CLGRAD_KARG(e),
                                      CLGRAD_KARG(mean->buf->mem), CLGRAD_KARG(invstd->buf->mem));
        st = clgrad__launch_1d(ctx, FAMILY, NULL, "norm_eval_stats_f32", (size_t)C, a);
    }
    if (st != CLGRAD_OK) goto done;
    if ((st = apply(y, xc, mean, invstd, S, C, wc, bc, S, C)) != CLGRAD_OK) goto done;
    clgrad_tensor *in[3] = {x, weight, bias};
    batch_norm_state bs = {training != 0, N, C, S};
    clgrad_tensor *saved[4] = {xc, mean, invstd, wc};
    st = clgrad__record(y, &clgrad__op_batch_norm, 3, in, &bs, 4, saved);
done:
    clgrad_tensor_release(xc);
    clgrad_tensor_release(wc);
    clgrad_tensor_release(bc);
    clgrad_tensor_release(mean);
    clgrad_tensor_release(invstd);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

/* --- layer norm -------------------------------------------------------------------------- */

/* saved: 0 x (contiguous), 1 mean, 2 rstd, 3 weight (contiguous) or NULL. x is (outer, inner). */
typedef struct layer_norm_state {
    int64_t outer, inner;
} layer_norm_state;

static clgrad_status layer_norm_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_context *ctx = gy->ctx;
    clgrad_tensor *x = nd->saved[0], *mean = nd->saved[1], *rstd = nd->saved[2], *w = nd->saved[3];
    const layer_norm_state *ls = CLGRAD__NODE_STATE(nd, layer_norm_state);
    int64_t outer = ls->outer, inner = ls->inner;
    clgrad_tensor *s1 = NULL, *s2 = NULL, *dx = NULL, *dw = NULL, *db = NULL;
    clgrad_status st = CLGRAD_OK;
    if (nd->needs_grad[0]) {
        if (st == CLGRAD_OK) st = temp(ctx, outer, &s1);
        if (st == CLGRAD_OK) st = temp(ctx, outer, &s2);
        if (st == CLGRAD_OK) st = bwd_sums(x, gy, mean, rstd, inner, outer, w, 1, inner, 1, 1, outer, inner, s1, s2);
        if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &dx);
        if (st == CLGRAD_OK)
            st = bwd_dx(dx, x, gy, mean, rstd, inner, outer, s1, s2, (float)(1.0 / (double)inner), w, 1, inner, 1, 0);
    }
    if (st == CLGRAD_OK && (nd->needs_grad[1] || nd->needs_grad[2])) {
        /* per-column sums over the rows: geometry (outer, inner, 1) */
        clgrad_tensor *ref = nd->inputs[1] ? nd->inputs[1] : nd->inputs[2];
        st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, ref->ndim, ref->shape, &dw);
        if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, ref->ndim, ref->shape, &db);
        if (st == CLGRAD_OK) st = bwd_sums(x, gy, mean, rstd, inner, outer, NULL, 1, inner, 0, outer, inner, 1, db, dw);
    }
    clgrad_tensor_release(s1);
    clgrad_tensor_release(s2);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(dx);
        clgrad_tensor_release(dw);
        clgrad_tensor_release(db);
        return st;
    }
    gx[0] = dx;
    if (nd->needs_grad[1]) gx[1] = clgrad_tensor_retain(dw);
    if (nd->needs_grad[2]) gx[2] = clgrad_tensor_retain(db);
    clgrad_tensor_release(dw);
    clgrad_tensor_release(db);
    return CLGRAD_OK;
}

static clgrad_status check_affine(const char *fn, const char *arg, clgrad_tensor *x, clgrad_tensor *t, int k)
{
    if (!t) return CLGRAD_OK;
    CLGRAD_TRY(clgrad__check_tensor(x->ctx, fn, arg, t, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_same_ctx(fn, x, t));
    if (t->ndim != k || memcmp(t->shape, x->shape + x->ndim - k, sizeof(int64_t) * (size_t)k) != 0) {
        char a[256], b[256];
        return clgrad__fail(x->ctx, CLGRAD_ERR_SHAPE, "%s: %s has shape %s, not the last %d dims of x %s", fn, arg,
                            clgrad__shape_str(a, sizeof a, t->ndim, t->shape), k,
                            clgrad__shape_str(b, sizeof b, x->ndim, x->shape));
    }
    return CLGRAD_OK;
}

CLGRAD__OP_DEFINE(layer_norm, "clgrad_layer_norm", layer_norm_backward, layer_norm_state);

clgrad_status clgrad_layer_norm(clgrad_tensor *x, int n_norm_dims, clgrad_tensor *weight, clgrad_tensor *bias,
                                float eps, clgrad_tensor **out)
{
    static const char fn[] = "clgrad_layer_norm";
    if (out) *out = NULL;
    if (!out) return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    CLGRAD_TRY(clgrad__check_tensor(NULL, fn, "x", x, CLGRAD_DTYPE_F32));
    clgrad_context *ctx = x->ctx;
    int k = n_norm_dims;
    if (k < 1 || k > x->ndim) {
        char a[256];
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: cannot normalise over the last %d dims of x %s", fn, k,
                            clgrad__shape_str(a, sizeof a, x->ndim, x->shape));
    }
    CLGRAD_TRY(check_affine(fn, "weight", x, weight, k));
    CLGRAD_TRY(check_affine(fn, "bias", x, bias, k));
    if (!(eps >= 0.0f))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: eps = %g must be >= 0", fn, (double)eps);
    int64_t inner = clgrad__numel(k, x->shape + x->ndim - k), outer = clgrad__numel(x->ndim - k, x->shape);
    clgrad_tensor *xc = NULL, *wc = NULL, *bc = NULL, *mean = NULL, *rstd = NULL, *y = NULL;
    clgrad_status st;
    if ((st = clgrad__contiguous(x, &xc)) != CLGRAD_OK) goto done;
    if (weight && (st = clgrad__contiguous(weight, &wc)) != CLGRAD_OK) goto done;
    if (bias && (st = clgrad__contiguous(bias, &bc)) != CLGRAD_OK) goto done;
    if ((st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &y)) != CLGRAD_OK) goto done;
    if (inner == 0 || outer == 0) goto done;
    if ((st = temp(ctx, outer, &mean)) != CLGRAD_OK) goto done;
    if ((st = temp(ctx, outer, &rstd)) != CLGRAD_OK) goto done;
    if ((st = stats(xc, 1, outer, inner, eps, mean, rstd, NULL, NULL, 0.0f)) != CLGRAD_OK) goto done;
    if ((st = apply(y, xc, mean, rstd, inner, outer, wc, bc, 1, inner)) != CLGRAD_OK) goto done;
    clgrad_tensor *in[3] = {x, weight, bias};
    layer_norm_state ls = {outer, inner};
    clgrad_tensor *saved[4] = {xc, mean, rstd, wc};
    st = clgrad__record(y, &clgrad__op_layer_norm, 3, in, &ls, 4, saved);
done:
    clgrad_tensor_release(xc);
    clgrad_tensor_release(wc);
    clgrad_tensor_release(bc);
    clgrad_tensor_release(mean);
    clgrad_tensor_release(rstd);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}
