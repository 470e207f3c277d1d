/* Dropout with a counter-based mask: element i is kept when the Philox uniform of (seed, i)
 * is >= p, so a seed fixes the mask on every device and launch shape. Backward applies the
 * same mask to the incoming gradient; nothing but the seed and p is saved. */
#include "ops/rng.h"
#include "ops/op_table.h"

typedef struct dropout_state {
    float p;
    uint64_t seed;
} dropout_state;

static clgrad_status dropout_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    const dropout_state *s = CLGRAD__NODE_STATE(n, dropout_state);
    if (!n->needs_grad[0]) return CLGRAD_OK;
    clgrad_tensor *dx;
    CLGRAD_TRY(clgrad__tensor_new(gy->ctx, CLGRAD_DTYPE_F32, gy->ndim, gy->shape, &dx));
    clgrad_status st = clgrad__dropout_apply(dx, gy, s->p, s->seed);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(dx);
        return st;
    }
    gx[0] = dx;
    return CLGRAD_OK;
}

CLGRAD__OP_DEFINE(dropout, "clgrad_dropout", dropout_backward, dropout_state);

clgrad_status clgrad_dropout(clgrad_tensor *x, float p, uint64_t seed, int training, clgrad_tensor **out)
{
    static const char fn[] = "clgrad_dropout";
    if (out) *out = NULL;
    if (!out) return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    CLGRAD_TRY(clgrad__check_tensor(NULL, fn, "x", x, CLGRAD_DTYPE_F32));
    if (!(p >= 0.0f && p <= 1.0f))
        return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "%s: p = %g is not in [0, 1]", fn, (double)p);
    if (!training || p == 0.0f) {
        *out = clgrad_tensor_retain(x);
        return CLGRAD_OK;
    }
    clgrad_tensor *y;
    CLGRAD_TRY(clgrad__tensor_new(x->ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &y));
    clgrad_status st = clgrad__dropout_apply(y, x, p, seed);
    if (st == CLGRAD_OK) {
        dropout_state s = {p, seed};
        st = clgrad__record(y, &clgrad__op_dropout, 1, &x, &s, 0, NULL);
    }
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}
