/* Dropout with a counter-based mask: element i is kept when the Philox uniform of (seed, i)
 * is >= p, so a seed fixes the mask on every device and launch shape. Backward applies the
 * same mask to the incoming gradient; nothing but the seed and p is saved. */
#include "ops/rng.h"
#include "tensor/node.h"

static clgrad_status dropout_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    if (!n->needs_grad[0]) return CLGRAD_OK;
    clgrad_tensor *dx;
    CLGRAD_TRY(clgrad__tensor_new(gy->ctx, CLGRAD_DTYPE_F32, gy->ndim, gy->shape, &dx));
    clgrad_status st = clgrad__dropout_apply(dx, gy, (float)n->f[0], (uint64_t)n->i[0]);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(dx);
        return st;
    }
    gx[0] = dx;
    return CLGRAD_OK;
}

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
    if (st == CLGRAD_OK && clgrad__grad_needed(1, &x)) {
        clgrad__node *nd;
        st = clgrad__node_attach(y, "dropout", dropout_backward, 1, &x, &nd);
        if (st == CLGRAD_OK) {
            nd->f[0] = p;
            nd->i[0] = (int64_t)seed;
        }
    }
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}
