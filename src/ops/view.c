/* Differentiable views: the public reshape, permute/transpose, slice, expand and contiguous.
 * Each makes its view with src/tensor/view.c's raw views (no copy where the strides allow)
 * and records a graph node whose backward rule maps the gradient back onto the input's
 * geometry. Ops like any other, so other op families (concat, matmul) call them sideways. */
#include "ops/ops.h"
#include "ops/reduce.h"
#include "tensor/node.h"

#include <string.h>

#define CHECK_IN(fn)                                                                               \
    do {                                                                                           \
        if (out) *out = NULL;                                                                      \
        if (!x || !out)                                                                            \
            return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "%s: x and out must not be NULL", fn); \
    } while (0)

static clgrad_status record(clgrad_tensor *x, clgrad_tensor *y, const char *name, clgrad__backward_fn fn,
                            clgrad__node **nd)
{
    *nd = NULL;
    if (!clgrad__grad_needed(1, &x)) return CLGRAD_OK;
    return clgrad__node_attach(y, name, fn, 1, &x, nd);
}

static clgrad_status finish(clgrad_status st, clgrad_tensor *y, clgrad_tensor **out)
{
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

/* --- reshape --------------------------------------------------------------------------- */

static clgrad_status reshape_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_tensor *in = n->inputs[0];
    return clgrad__reshape_view(gy, in->ndim, in->shape, &gx[0]); /* gy is contiguous: always a view */
}

clgrad_status clgrad_reshape(clgrad_tensor *x, int ndim, const int64_t *shape, clgrad_tensor **out)
{
    CHECK_IN("clgrad_reshape");
    clgrad_tensor *y = NULL;
    clgrad_status st = clgrad__reshape_view(x, ndim, shape, &y);
    if (st == CLGRAD_ERR_UNSUPPORTED) {
        clgrad_tensor *c = NULL;
        CLGRAD_TRY(clgrad__contiguous(x, &c));
        st = clgrad__reshape_view(c, ndim, shape, &y);
        clgrad_tensor_release(c);
    }
    CLGRAD_TRY(st);
    clgrad__node *nd;
    return finish(record(x, y, "reshape", reshape_backward, &nd), y, out);
}

/* --- permute / transpose ---------------------------------------------------------------- */

static clgrad_status permute_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    int inv[CLGRAD_MAX_DIMS];
    for (int i = 0; i < gy->ndim; i++) inv[n->i[i]] = i;
    return clgrad__permute_view(gy, inv, &gx[0]);
}

clgrad_status clgrad_permute(clgrad_tensor *x, const int *perm, clgrad_tensor **out)
{
    CHECK_IN("clgrad_permute");
    clgrad_tensor *y = NULL;
    CLGRAD_TRY(clgrad__permute_view(x, perm, &y));
    clgrad__node *nd;
    clgrad_status st = record(x, y, "permute", permute_backward, &nd);
    if (nd) {
        for (int i = 0; i < x->ndim; i++) nd->i[i] = perm[i] < 0 ? perm[i] + x->ndim : perm[i];
        nd->gy_strided = 1; /* the inverse permutation of a strided gradient is just a view */
    }
    return finish(st, y, out);
}

clgrad_status clgrad_transpose(clgrad_tensor *x, int dim0, int dim1, clgrad_tensor **out)
{
    CHECK_IN("clgrad_transpose");
    int a, b, perm[CLGRAD_MAX_DIMS];
    CLGRAD_TRY(clgrad__norm_dim(x->ctx, "clgrad_transpose", dim0, x->ndim, &a));
    CLGRAD_TRY(clgrad__norm_dim(x->ctx, "clgrad_transpose", dim1, x->ndim, &b));
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    perm[a] = b;
    perm[b] = a;
    return clgrad_permute(x, perm, out);
}

/* --- slice ------------------------------------------------------------------------------- */

static clgrad_status slice_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_tensor *in = n->inputs[0], *g = NULL, *view = NULL;
    CLGRAD_TRY(clgrad_tensor_zeros(in->ctx, CLGRAD_DTYPE_F32, in->ndim, in->shape, &g));
    clgrad_status st = clgrad__slice_view(g, (int)n->i[0], n->i[1], n->i[2], n->i[3], &view);
    if (st == CLGRAD_OK) st = clgrad__copy(view, gy);
    clgrad_tensor_release(view);
    return finish(st, g, &gx[0]);
}

clgrad_status clgrad_slice(clgrad_tensor *x, int dim, int64_t start, int64_t stop, int64_t step, clgrad_tensor **out)
{
    CHECK_IN("clgrad_slice");
    clgrad_tensor *y = NULL;
    CLGRAD_TRY(clgrad__slice_view(x, dim, start, stop, step, &y));
    clgrad__node *nd;
    clgrad_status st = record(x, y, "slice", slice_backward, &nd);
    if (nd) {
        nd->gy_strided = 1; /* copied into the zero gradient through a strided copy */
        nd->i[0] = dim < 0 ? dim + x->ndim : dim;
        nd->i[1] = start;
        nd->i[2] = stop;
        nd->i[3] = step;
    }
    return finish(st, y, out);
}

/* --- expand ------------------------------------------------------------------------------ */

static clgrad_status expand_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_tensor *in = n->inputs[0];
    return clgrad__sum_to_shape(gy, in->ndim, in->shape, &gx[0]);
}

clgrad_status clgrad_expand(clgrad_tensor *x, int ndim, const int64_t *shape, clgrad_tensor **out)
{
    CHECK_IN("clgrad_expand");
    clgrad_tensor *y = NULL;
    CLGRAD_TRY(clgrad__expand_view(x, ndim, shape, &y));
    clgrad__node *nd;
    return finish(record(x, y, "expand", expand_backward, &nd), y, out);
}

/* --- contiguous ---------------------------------------------------------------------------- */

static clgrad_status identity_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    (void)n;
    gx[0] = clgrad_tensor_retain(gy);
    return CLGRAD_OK;
}

clgrad_status clgrad_contiguous(clgrad_tensor *x, clgrad_tensor **out)
{
    CHECK_IN("clgrad_contiguous");
    if (clgrad__is_contiguous(x)) {
        *out = clgrad_tensor_retain(x);
        return CLGRAD_OK;
    }
    clgrad_tensor *y = NULL;
    CLGRAD_TRY(clgrad__contiguous(x, &y));
    clgrad__node *nd;
    return finish(record(x, y, "contiguous", identity_backward, &nd), y, out);
}
