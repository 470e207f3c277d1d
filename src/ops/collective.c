/* The collective op: y = fn(x) for a self-adjoint linear fn supplied by the caller (a sum
 * over the ranks of a data-parallel group), whose backward applies fn to the gradient; and
 * flushing a context's queue. See collective.h. */
#include "ops/collective.h"
#include "ops/op_table.h"
#include "ops/ops.h"

#include <string.h>

typedef struct collective_state {
    clgrad__collective_fn fn;
    void *user;
} collective_state;

/* fn on a contiguous x, checked: a new tensor of x's shape that shares nothing with x. */
static clgrad_status apply(clgrad__collective_fn fn, void *user, clgrad_tensor *x, clgrad_tensor **out)
{
    clgrad_tensor *c = NULL, *y = NULL;
    clgrad_status st = clgrad_contiguous(x, &c);
    if (st == CLGRAD_OK) st = fn(user, c, &y);
    if (st == CLGRAD_OK && (!y || y->ctx != x->ctx || y->dtype != CLGRAD_DTYPE_F32 || y->ndim != x->ndim ||
                            memcmp(y->shape, x->shape, sizeof(int64_t) * (size_t)x->ndim) != 0 ||
                            clgrad__tensor_overlap(y, c) != CLGRAD__OVERLAP_NONE))
        st = clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG,
                          "collective: the reduction returned no tensor, or one of another shape, context or "
                          "dtype, or one sharing its input's storage");
    clgrad_tensor_release(c);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

static clgrad_status collective_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    const collective_state *s = CLGRAD__NODE_STATE(n, collective_state);
    return apply(s->fn, s->user, gy, &gx[0]);
}

CLGRAD__OP_DEFINE(collective, "clgrad__collective", collective_backward, collective_state);

clgrad_status clgrad__collective(clgrad_tensor *x, clgrad__collective_fn fn, void *user, clgrad_tensor **out)
{
    if (out) *out = NULL;
    if (!x || !fn || !out)
        return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "clgrad__collective: x, fn and out must not be NULL");
    if (x->dtype != CLGRAD_DTYPE_F32)
        return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "clgrad__collective: x must be f32");
    clgrad_tensor *y = NULL;
    clgrad__no_grad_enter(x->ctx);
    clgrad_status st = apply(fn, user, x, &y);
    clgrad__no_grad_exit(x->ctx);
    if (st != CLGRAD_OK) return st;
    collective_state s = {fn, user};
    st = clgrad__record(y, &clgrad__op_collective, 1, &x, &s, 0, NULL);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

clgrad_status clgrad__queue_flush(clgrad_context *ctx)
{
    if (!ctx) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad__queue_flush: ctx is NULL");
    CLGRAD_CL(ctx, clFlush(ctx->dev.queue));
    return CLGRAD_OK;
}
