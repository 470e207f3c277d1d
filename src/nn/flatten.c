/* The Flatten layer: merges the dims start_dim..end_dim (negative: from the end) into one. */
#include "nn/nn.h"

typedef struct flatten_impl {
    int start, end;
} flatten_impl;

static clgrad_status flatten_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    const flatten_impl *F = m->impl;
    int nd = clgrad_tensor_ndim(x);
    int a = F->start < 0 ? F->start + nd : F->start, b = F->end < 0 ? F->end + nd : F->end;
    if (nd == 0) {
        int64_t one = 1;
        return clgrad_reshape(x, 1, &one, out);
    }
    if (a < 0 || a >= nd || b < 0 || b >= nd || a > b) {
        int64_t shape[CLGRAD_MAX_DIMS];
        char buf[160];
        clgrad_tensor_shape(x, shape);
        return clgrad__fail(m->ctx, CLGRAD_ERR_SHAPE, "flatten: dims %d..%d do not fit an input of shape %s",
                            F->start, F->end, clgrad__shape_str(buf, sizeof buf, nd, shape));
    }
    int64_t in[CLGRAD_MAX_DIMS], shape[CLGRAD_MAX_DIMS];
    int k = 0;
    clgrad_tensor_shape(x, in);
    for (int i = 0; i < a; i++) shape[k++] = in[i];
    int64_t prod = 1;
    for (int i = a; i <= b; i++) prod *= in[i];
    shape[k++] = prod;
    for (int i = b + 1; i < nd; i++) shape[k++] = in[i];
    return clgrad_reshape(x, k, shape, out);
}

static void flatten_describe(const clgrad_module *m, clgrad__layer_desc *d)
{
    d->start_dim = ((const flatten_impl *)m->impl)->start;
    d->end_dim = ((const flatten_impl *)m->impl)->end;
}

static const clgrad__module_vtable flatten_vt = {"flatten", flatten_forward, clgrad__module_free_impl,
                                                 flatten_describe};

CLGRAD_API clgrad_status clgrad_flatten_create(clgrad_context *ctx, int start_dim, int end_dim, clgrad_module **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && out != NULL, "ctx and out must not be NULL");
    if (start_dim >= 0 && end_dim >= 0 && start_dim > end_dim)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_flatten_create: start_dim %d > end_dim %d",
                            start_dim, end_dim);
    clgrad_module *m = NULL;
    CLGRAD_TRY(clgrad__module_new_impl(ctx, &flatten_vt, sizeof(flatten_impl), &m));
    ((flatten_impl *)m->impl)->start = start_dim;
    ((flatten_impl *)m->impl)->end = end_dim;
    *out = m;
    return CLGRAD_OK;
}
