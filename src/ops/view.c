/* Differentiable views: the public reshape, permute/transpose, slice, expand and contiguous.
 * Each makes its view with src/tensor/view.c's raw views (no copy where the strides allow)
 * and records a graph node whose backward rule maps the gradient back onto the input's
 * geometry. Ops like any other, so other op families (concat, matmul) call them sideways. */
#include "ops/ops.h"
#include "ops/reduce.h"
#include "ops/op_table.h"

#include <string.h>

#define CHECK_IN(fn)                                                                               \
    do {                                                                                           \
        if (out) *out = NULL;                                                                      \
        if (!x || !out)                                                                            \
            return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "%s: x and out must not be NULL", fn); \
    } while (0)

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

CLGRAD__OP_DEFINE_STATELESS(reshape, "clgrad_reshape", reshape_backward);

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
    return finish(clgrad__record(y, &clgrad__op_reshape, 1, &x, NULL, 0, NULL), y, out);
}

/* --- permute / transpose ---------------------------------------------------------------- */

typedef struct permute_state {
    int perm[CLGRAD_MAX_DIMS]; /* normalised */
} permute_state;

static clgrad_status permute_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    const permute_state *s = CLGRAD__NODE_STATE(n, permute_state);
    int inv[CLGRAD_MAX_DIMS];
    for (int i = 0; i < gy->ndim; i++) inv[s->perm[i]] = i;
    return clgrad__permute_view(gy, inv, &gx[0]);
}

/* the inverse permutation of a strided gradient is just a view */
_Static_assert(sizeof(permute_state) <= CLGRAD__NODE_STATE_BYTES, "permute state too big");
const clgrad__op clgrad__op_permute = {.name = "permute", .forward = "clgrad_permute", .backward = permute_backward,
                                       .state_size = sizeof(permute_state), .gy_strided = 1};

clgrad_status clgrad_permute(clgrad_tensor *x, const int *perm, clgrad_tensor **out)
{
    CHECK_IN("clgrad_permute");
    clgrad_tensor *y = NULL;
    CLGRAD_TRY(clgrad__permute_view(x, perm, &y));
    permute_state s = {{0}};
    for (int i = 0; i < x->ndim; i++) s.perm[i] = perm[i] < 0 ? perm[i] + x->ndim : perm[i];
    return finish(clgrad__record(y, &clgrad__op_permute, 1, &x, &s, 0, NULL), y, out);
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

typedef struct slice_state {
    int dim; /* normalised */
    int64_t start, stop, step;
} slice_state;

static clgrad_status slice_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    const slice_state *s = CLGRAD__NODE_STATE(n, slice_state);
    clgrad_tensor *in = n->inputs[0], *g = NULL, *view = NULL;
    CLGRAD_TRY(clgrad_tensor_zeros(in->ctx, CLGRAD_DTYPE_F32, in->ndim, in->shape, &g));
    clgrad_status st = clgrad__slice_view(g, s->dim, s->start, s->stop, s->step, &view);
    if (st == CLGRAD_OK) st = clgrad__copy(view, gy);
    clgrad_tensor_release(view);
    return finish(st, g, &gx[0]);
}

/* gy is copied into the zero gradient through a strided copy: any strides will do */
_Static_assert(sizeof(slice_state) <= CLGRAD__NODE_STATE_BYTES, "slice state too big");
const clgrad__op clgrad__op_slice = {.name = "slice", .forward = "clgrad_slice", .backward = slice_backward,
                                     .state_size = sizeof(slice_state), .gy_strided = 1};

clgrad_status clgrad_slice(clgrad_tensor *x, int dim, int64_t start, int64_t stop, int64_t step, clgrad_tensor **out)
{
    CHECK_IN("clgrad_slice");
    clgrad_tensor *y = NULL;
    CLGRAD_TRY(clgrad__slice_view(x, dim, start, stop, step, &y));
    slice_state s = {dim < 0 ? dim + x->ndim : dim, start, stop, step};
    return finish(clgrad__record(y, &clgrad__op_slice, 1, &x, &s, 0, NULL), y, out);
}

/* --- expand ------------------------------------------------------------------------------ */

static clgrad_status expand_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_tensor *in = n->inputs[0];
    return clgrad__sum_to_shape(gy, in->ndim, in->shape, &gx[0]);
}

CLGRAD__OP_DEFINE_STATELESS(expand, "clgrad_expand", expand_backward);

clgrad_status clgrad_expand(clgrad_tensor *x, int ndim, const int64_t *shape, clgrad_tensor **out)
{
    CHECK_IN("clgrad_expand");
    clgrad_tensor *y = NULL;
    CLGRAD_TRY(clgrad__expand_view(x, ndim, shape, &y));
    return finish(clgrad__record(y, &clgrad__op_expand, 1, &x, NULL, 0, NULL), y, out);
}

/* --- contiguous ---------------------------------------------------------------------------- */

static clgrad_status identity_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    (void)n;
    gx[0] = clgrad_tensor_retain(gy);
    return CLGRAD_OK;
}

CLGRAD__OP_DEFINE_STATELESS(contiguous, "clgrad_contiguous", identity_backward);

clgrad_status clgrad_contiguous(clgrad_tensor *x, clgrad_tensor **out)
{
    CHECK_IN("clgrad_contiguous");
    if (clgrad__is_contiguous(x)) {
        *out = clgrad_tensor_retain(x);
        return CLGRAD_OK;
    }
    clgrad_tensor *y = NULL;
    CLGRAD_TRY(clgrad__contiguous(x, &y));
    return finish(clgrad__record(y, &clgrad__op_contiguous, 1, &x, NULL, 0, NULL), y, out);
}
