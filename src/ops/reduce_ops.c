/* The public reductions (sum, mean, max, min, var, argmax) over any set of axes, with keepdim,
 * and their backward rules; they run on the engine of reduce.c. */
#include "ops/ops.h"
#include "ops/reduce.h"

#include "ops/op_table.h"

#define FAMILY "reduce"

/* --- public reductions and their backward rules ---------------------------------------- */

/* The keepdim view of a contiguous result t (x's rank, reduced axes as 1): new handle. */
static clgrad_status keepdim_view(clgrad_tensor *t, const clgrad_tensor *x, uint32_t mask, clgrad_tensor **out)
{
    int64_t sh[CLGRAD_MAX_DIMS], st[CLGRAD_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) sh[d] = (mask >> d & 1u) ? 1 : x->shape[d];
    clgrad__contiguous_strides(x->ndim, sh, st);
    return clgrad__tensor_view(t, x->ndim, sh, st, t->offset, out);
}

/* gx (x's shape, contiguous) from gy broadcast back over the reduced axes, divided by div. */
static clgrad_status bcast_back(clgrad_tensor *x, uint32_t mask, clgrad_tensor *gy, double div, clgrad_tensor **gx)
{
    clgrad_tensor *g = NULL, *gk = NULL, *r = NULL;
    clgrad_status st = clgrad__contiguous(gy, &g);
    if (st == CLGRAD_OK) st = keepdim_view(g, x, mask, &gk);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(x->ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &r);
    if (st == CLGRAD_OK) {
        clgrad__geom gg;
        clgrad__geom_broadcast(gk, x->ndim, x->shape, &gg);
        cl_long n = clgrad__numel(x->ndim, x->shape);
        cl_float d = (cl_float)div;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(r->buf->mem), CLGRAD_KARG(n), CLGRAD_KARG_T(gk),
                                      CLGRAD_KARG(gg.shape), CLGRAD_KARG(gg.stride), CLGRAD_KARG(d));
        st = clgrad__launch_1d(x->ctx, FAMILY, clgrad__reduce_plain_options(x->ctx).s, "reduce_bcast_f32", (size_t)n, a);
    }
    clgrad_tensor_release(g);
    clgrad_tensor_release(gk);
    if (st != CLGRAD_OK) clgrad_tensor_release(r);
    else *gx = r;
    return st;
}

/* What every reduction's backward needs: the reduced axes and the divisor of the result. */
typedef struct reduce_state {
    uint32_t mask;
    double div;
} reduce_state;

static clgrad_status sum_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    const reduce_state *s = CLGRAD__NODE_STATE(n, reduce_state);
    return bcast_back(n->inputs[0], s->mask, gy, s->div, &gx[0]);
}

static clgrad_status extreme_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_tensor *x = n->inputs[0], *y = NULL, *g = NULL, *gk = NULL, *m = NULL, *cnt = NULL;
    uint32_t mask = CLGRAD__NODE_STATE(n, reduce_state)->mask;
    clgrad_context *ctx = x->ctx;
    cl_long nx = clgrad__numel(x->ndim, x->shape);
    clgrad__geom gx_, gyg;
    clgrad_status st = keepdim_view(n->saved[0], x, mask, &y);
    if (st == CLGRAD_OK) st = clgrad__contiguous(gy, &g);
    if (st == CLGRAD_OK) st = keepdim_view(g, x, mask, &gk);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &m);
    if (st == CLGRAD_OK) {
        clgrad__geom_of(x, &gx_);
        clgrad__geom_broadcast(y, x->ndim, x->shape, &gyg);
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(m->buf->mem), CLGRAD_KARG(nx),         CLGRAD_KARG_T(x),
                                      CLGRAD_KARG(gx_.shape),   CLGRAD_KARG(gx_.stride), CLGRAD_KARG_T(y),
                                      CLGRAD_KARG(gyg.shape),   CLGRAD_KARG(gyg.stride));
        st = clgrad__launch_1d(ctx, FAMILY, clgrad__reduce_plain_options(ctx).s, "reduce_eqmask_f32", (size_t)nx, a);
    }
    if (st == CLGRAD_OK) st = clgrad__reduce(m, mask, CLGRAD__RED_SUM, NULL, 1.0, y->ndim, y->shape, &cnt);
    if (st == CLGRAD_OK) {
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(m->buf->mem), CLGRAD_KARG(nx),        CLGRAD_KARG_T(y),
                                      CLGRAD_KARG_T(gk),        CLGRAD_KARG_T(cnt),     CLGRAD_KARG(gyg.shape),
                                      CLGRAD_KARG(gyg.stride));
        st = clgrad__launch_1d(ctx, FAMILY, clgrad__reduce_plain_options(ctx).s, "reduce_extreme_bwd_f32", (size_t)nx, a);
    }
    clgrad_tensor_release(y);
    clgrad_tensor_release(g);
    clgrad_tensor_release(gk);
    clgrad_tensor_release(cnt);
    if (st != CLGRAD_OK) clgrad_tensor_release(m);
    else gx[0] = m;
    return st;
}

static clgrad_status var_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_tensor *x = n->inputs[0], *mean = NULL, *g = NULL, *gk = NULL, *r = NULL;
    const reduce_state *s = CLGRAD__NODE_STATE(n, reduce_state);
    uint32_t mask = s->mask;
    clgrad_context *ctx = x->ctx;
    cl_long nx = clgrad__numel(x->ndim, x->shape);
    clgrad_status st = keepdim_view(n->saved[0], x, mask, &mean);
    if (st == CLGRAD_OK) st = clgrad__contiguous(gy, &g);
    if (st == CLGRAD_OK) st = keepdim_view(g, x, mask, &gk);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &r);
    if (st == CLGRAD_OK) {
        clgrad__geom gxg, gk_g;
        clgrad__geom_of(x, &gxg);
        clgrad__geom_broadcast(gk, x->ndim, x->shape, &gk_g);
        cl_float d = (cl_float)s->div;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(r->buf->mem), CLGRAD_KARG(nx),       CLGRAD_KARG_T(x),
                                      CLGRAD_KARG(gxg.shape),   CLGRAD_KARG(gxg.stride), CLGRAD_KARG_T(gk),
                                      CLGRAD_KARG_T(mean),      CLGRAD_KARG(gk_g.shape), CLGRAD_KARG(gk_g.stride),
                                      CLGRAD_KARG(d));
        st = clgrad__launch_1d(ctx, FAMILY, clgrad__reduce_plain_options(ctx).s, "reduce_var_bwd_f32", (size_t)nx, a);
    }
    clgrad_tensor_release(mean);
    clgrad_tensor_release(g);
    clgrad_tensor_release(gk);
    if (st != CLGRAD_OK) clgrad_tensor_release(r);
    else gx[0] = r;
    return st;
}

CLGRAD__OP_DEFINE(sum, "clgrad_sum", sum_backward, reduce_state);
CLGRAD__OP_DEFINE(mean, "clgrad_mean", sum_backward, reduce_state);
CLGRAD__OP_DEFINE(max, "clgrad_max", extreme_backward, reduce_state);
CLGRAD__OP_DEFINE(min, "clgrad_min", extreme_backward, reduce_state);
CLGRAD__OP_DEFINE(var, "clgrad_var", var_backward, reduce_state);

enum { K_SUM, K_MEAN, K_MAX, K_MIN, K_VAR };

static clgrad_status reduce_public(const char *fn, int kind, clgrad_tensor *x, int naxes, const int *axes,
                                   int correction, int keepdim, clgrad_tensor **out)
{
    if (out) *out = NULL;
    CLGRAD_TRY(clgrad__check_tensor(NULL, fn, "x", x, CLGRAD_DTYPE_F32));
    if (!out) return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    if (correction < 0)
        return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "%s: correction is %d, must be >= 0", fn, correction);
    uint32_t mask;
    int nd;
    int64_t oshape[CLGRAD_MAX_DIMS], count;
    CLGRAD_TRY(clgrad__reduce_axes(x, fn, naxes, axes, keepdim, &mask, &nd, oshape, &count));
    clgrad_tensor *y = NULL, *mean = NULL;
    clgrad_status st;
    double div = 1.0;
    static const clgrad__red_op ops[] = {CLGRAD__RED_SUM, CLGRAD__RED_SUM, CLGRAD__RED_MAX, CLGRAD__RED_MIN};
    if (kind == K_VAR) {
        div = count > correction ? (double)(count - correction) : 0.0;
        st = clgrad__reduce(x, mask, CLGRAD__RED_SUM, NULL, (double)count, nd, oshape, &mean);
        if (st == CLGRAD_OK) st = clgrad__reduce(x, mask, CLGRAD__RED_SQDEV, mean, div, nd, oshape, &y);
    } else {
        if (kind == K_MEAN) div = (double)count;
        st = clgrad__reduce(x, mask, ops[kind], NULL, div, nd, oshape, &y);
    }
    if (st == CLGRAD_OK && clgrad__grad_needed(1, &x)) {
        static const clgrad__op *const ops_of[] = {&clgrad__op_sum, &clgrad__op_mean, &clgrad__op_max,
                                                   &clgrad__op_min, &clgrad__op_var};
        reduce_state s = {mask, div};
        clgrad_tensor *saved = NULL;
        if (kind == K_MAX || kind == K_MIN) /* a second handle on y's buffer: the node must not hold y itself */
            st = clgrad__tensor_view(y, y->ndim, y->shape, y->strides, y->offset, &saved);
        else if (kind == K_VAR)
            saved = clgrad_tensor_retain(mean);
        if (st == CLGRAD_OK) st = clgrad__record(y, ops_of[kind], 1, &x, &s, 1, &saved);
        clgrad_tensor_release(saved);
    }
    clgrad_tensor_release(mean);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

clgrad_status clgrad_sum(clgrad_tensor *x, int naxes, const int *axes, int keepdim, clgrad_tensor **out)
{
    return reduce_public("clgrad_sum", K_SUM, x, naxes, axes, 0, keepdim, out);
}

clgrad_status clgrad_mean(clgrad_tensor *x, int naxes, const int *axes, int keepdim, clgrad_tensor **out)
{
    return reduce_public("clgrad_mean", K_MEAN, x, naxes, axes, 0, keepdim, out);
}

clgrad_status clgrad_max(clgrad_tensor *x, int naxes, const int *axes, int keepdim, clgrad_tensor **out)
{
    return reduce_public("clgrad_max", K_MAX, x, naxes, axes, 0, keepdim, out);
}

clgrad_status clgrad_min(clgrad_tensor *x, int naxes, const int *axes, int keepdim, clgrad_tensor **out)
{
    return reduce_public("clgrad_min", K_MIN, x, naxes, axes, 0, keepdim, out);
}

clgrad_status clgrad_var(clgrad_tensor *x, int naxes, const int *axes, int correction, int keepdim,
                         clgrad_tensor **out)
{
    return reduce_public("clgrad_var", K_VAR, x, naxes, axes, correction, keepdim, out);
}

clgrad_status clgrad_argmax(clgrad_tensor *x, int axis, int keepdim, clgrad_tensor **out)
{
    if (out) *out = NULL;
    CLGRAD_TRY(clgrad__check_tensor(NULL, "clgrad_argmax", "x", x, CLGRAD_DTYPE_F32));
    if (!out) return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_argmax: out is NULL");
    uint32_t mask;
    int nd;
    int64_t oshape[CLGRAD_MAX_DIMS];
    int64_t len;
    CLGRAD_TRY(clgrad__reduce_axes(x, "clgrad_argmax", 1, &axis, keepdim, &mask, &nd, oshape, &len));
    if (len > INT32_MAX) {
        char b[256];
        return clgrad__fail(x->ctx, CLGRAD_ERR_SHAPE,
                            "clgrad_argmax: axis %d of x %s has %lld elements; indices are 32-bit, so at most %d", axis,
                            clgrad__shape_str(b, sizeof b, x->ndim, x->shape), (long long)len, INT32_MAX);
    }
    return clgrad__reduce(x, mask, CLGRAD__RED_ARGMAX, NULL, 1.0, nd, oshape, out);
}
