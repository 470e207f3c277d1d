/* Softmax and log-softmax along one axis, with their backward rules. The per-row max and
 * sums come from the reduction engine (src/ops/reduce.c), so results are deterministic and
 * rows of any length are handled; the elementwise steps are in cl/softmax.cl. */
#include "ops/reduce.h"

#include "tensor/node.h"

#define FAMILY "softmax"

/* (O, L, I) around axis d of shape. */
static void split(int ndim, const int64_t *shape, int d, cl_long *L, cl_long *I, cl_long *rows)
{
    int64_t in = 1, all = clgrad__numel(ndim, shape);
    for (int k = d + 1; k < ndim; k++) in *= shape[k];
    *L = shape[d];
    *I = in;
    *rows = shape[d] ? all / shape[d] : 0;
}

clgrad_status clgrad__softmax_fwd(clgrad_tensor *x, int d, int log, clgrad_tensor **out)
{
    *out = NULL;
    clgrad_context *ctx = x->ctx;
    cl_long L, I, rows, n = clgrad__numel(x->ndim, x->shape);
    split(x->ndim, x->shape, d, &L, &I, &rows);
    clgrad_tensor *xc = NULL, *m = NULL, *e = NULL, *s = NULL, *y = NULL;
    clgrad_status st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &y);
    if (st != CLGRAD_OK || n == 0) goto done;
    int64_t r1 = rows;
    uint32_t mask = 1u << d;
    cl_long LI = L * I;
    st = clgrad__contiguous(x, &xc);
    if (st == CLGRAD_OK) st = clgrad__reduce(xc, mask, CLGRAD__RED_MAX, NULL, 1.0, 1, &r1, &m);
    /* softmax exponentiates into y and normalises in place; log-softmax needs a temporary */
    if (st == CLGRAD_OK && log) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &e);
    else if (st == CLGRAD_OK) e = clgrad_tensor_retain(y);
    if (st == CLGRAD_OK) {
        clgrad__karg a[] = {CLGRAD_KARG(e->buf->mem), CLGRAD_KARG_T(xc), CLGRAD_KARG(m->buf->mem), CLGRAD_KARG(n),
                            CLGRAD_KARG(LI), CLGRAD_KARG(I)};
        st = clgrad__launch_1d(ctx, FAMILY, NULL, "softmax_exp_f32", (size_t)n, 7, a);
    }
    if (st == CLGRAD_OK) st = clgrad__reduce(e, mask, CLGRAD__RED_SUM, NULL, 1.0, 1, &r1, &s);
    if (st == CLGRAD_OK && !log) {
        clgrad__karg a[] = {CLGRAD_KARG(y->buf->mem), CLGRAD_KARG(e->buf->mem), CLGRAD_KARG(s->buf->mem),
                            CLGRAD_KARG(n), CLGRAD_KARG(LI), CLGRAD_KARG(I)};
        st = clgrad__launch_1d(ctx, FAMILY, NULL, "softmax_div_f32", (size_t)n, 6, a);
    } else if (st == CLGRAD_OK) {
        clgrad__karg a[] = {CLGRAD_KARG(y->buf->mem), CLGRAD_KARG_T(xc), CLGRAD_KARG(m->buf->mem),
                            CLGRAD_KARG(s->buf->mem), CLGRAD_KARG(n), CLGRAD_KARG(LI), CLGRAD_KARG(I)};
        st = clgrad__launch_1d(ctx, FAMILY, NULL, "log_softmax_out_f32", (size_t)n, 8, a);
    }
done:
    clgrad_tensor_release(xc);
    clgrad_tensor_release(m);
    clgrad_tensor_release(e);
    clgrad_tensor_release(s);
    if (st != CLGRAD_OK) clgrad_tensor_release(y);
    else *out = y;
    return st;
}

static clgrad_status softmax_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_tensor *x = nd->inputs[0], *y = nd->saved[0], *g = NULL, *t = NULL, *s = NULL, *dx = NULL;
    clgrad_context *ctx = x->ctx;
    int d = (int)nd->i[0], log = (int)nd->i[1];
    cl_long L, I, rows, n = clgrad__numel(x->ndim, x->shape);
    split(x->ndim, x->shape, d, &L, &I, &rows);
    int64_t r1 = rows;
    cl_long LI = L * I;
    uint32_t mask = 1u << d;
    clgrad_status st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &dx);
    if (st != CLGRAD_OK || n == 0) goto done;
    st = clgrad__contiguous(gy, &g);
    if (st == CLGRAD_OK && !log) {
        st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &t);
        if (st == CLGRAD_OK) {
            clgrad__karg a[] = {CLGRAD_KARG(t->buf->mem), CLGRAD_KARG_T(g), CLGRAD_KARG_T(y), CLGRAD_KARG(n)};
            st = clgrad__launch_1d(ctx, FAMILY, NULL, "softmax_mul_f32", (size_t)n, 6, a);
        }
        if (st == CLGRAD_OK) st = clgrad__reduce(t, mask, CLGRAD__RED_SUM, NULL, 1.0, 1, &r1, &s);
    } else if (st == CLGRAD_OK) {
        st = clgrad__reduce(g, mask, CLGRAD__RED_SUM, NULL, 1.0, 1, &r1, &s);
    }
    if (st == CLGRAD_OK) {
        clgrad__karg a[] = {CLGRAD_KARG(dx->buf->mem), CLGRAD_KARG_T(y), CLGRAD_KARG_T(g), CLGRAD_KARG(s->buf->mem),
                            CLGRAD_KARG(n), CLGRAD_KARG(LI), CLGRAD_KARG(I)};
        st = clgrad__launch_1d(ctx, FAMILY, NULL, log ? "log_softmax_bwd_f32" : "softmax_bwd_f32", (size_t)n, 9, a);
    }
done:
    clgrad_tensor_release(g);
    clgrad_tensor_release(t);
    clgrad_tensor_release(s);
    if (st != CLGRAD_OK) clgrad_tensor_release(dx);
    else gx[0] = dx;
    return st;
}

static clgrad_status softmax_public(const char *fn, clgrad_tensor *x, int axis, int log, clgrad_tensor **out)
{
    if (out) *out = NULL;
    CLGRAD_TRY(clgrad__check_tensor(NULL, fn, "x", x, CLGRAD_DTYPE_F32));
    if (!out) return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    int d;
    if (axis < -x->ndim || axis >= x->ndim || x->ndim == 0) {
        char b[256];
        return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "%s: axis %d is out of range for shape %s", fn, axis,
                            clgrad__shape_str(b, sizeof b, x->ndim, x->shape));
    }
    d = axis < 0 ? axis + x->ndim : axis;
    clgrad_tensor *y;
    CLGRAD_TRY(clgrad__softmax_fwd(x, d, log, &y));
    clgrad_status st = CLGRAD_OK;
    if (clgrad__grad_needed(1, &x)) {
        clgrad__node *nd;
        st = clgrad__node_attach(y, log ? "log_softmax" : "softmax", softmax_backward, 1, &x, &nd);
        if (st == CLGRAD_OK) {
            nd->i[0] = d;
            nd->i[1] = log;
            /* a second handle on y's buffer: the node must not hold y itself */
            clgrad_tensor *yv;
            st = clgrad__tensor_view(y, y->ndim, y->shape, y->strides, y->offset, &yv);
            if (st == CLGRAD_OK) clgrad__node_save(nd, 0, yv);
            clgrad_tensor_release(yv);
        }
    }
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

clgrad_status clgrad_softmax(clgrad_tensor *x, int axis, clgrad_tensor **out)
{
    return softmax_public("clgrad_softmax", x, axis, 0, out);
}

clgrad_status clgrad_log_softmax(clgrad_tensor *x, int axis, clgrad_tensor **out)
{
    return softmax_public("clgrad_log_softmax", x, axis, 1, out);
}
