/* Linear layer: y = x W^T + b with PyTorch's weight layout (out_features, in_features), one
 * op of src/ops/fused.h (with a following ReLU fused in, in a Sequential). */
#include "nn/nn.h"
#include "ops/fused.h"

#include <stdlib.h>

typedef struct linear_impl {
    int64_t in, out;
} linear_impl;

static clgrad_status linear_run(clgrad_module *m, clgrad_tensor *x, int relu, clgrad_tensor **out)
{
    const linear_impl *L = m->impl;
    int nd = clgrad_tensor_ndim(x);
    if (clgrad_tensor_dtype(x) != CLGRAD_DTYPE_F32)
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "linear: input must be f32 (dtype %d)",
                            (int)clgrad_tensor_dtype(x));
    if (nd < 1 || clgrad_tensor_dim(x, -1) != L->in) {
        int64_t shape[CLGRAD_MAX_DIMS];
        char buf[160];
        clgrad_tensor_shape(x, shape);
        return clgrad__fail(m->ctx, CLGRAD_ERR_SHAPE,
                            "linear: input of shape %s (dtype %d) does not end in in_features = %lld (f32)",
                            clgrad__shape_str(buf, sizeof buf, nd, shape), (int)clgrad_tensor_dtype(x),
                            (long long)L->in);
    }
    return clgrad__linear(x, clgrad__module_get(m, "weight"), clgrad__module_get(m, "bias"), relu, out);
}

static clgrad_status linear_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    return linear_run(m, x, 0, out);
}

static clgrad_status linear_forward_relu(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    return linear_run(m, x, 1, out);
}

static void linear_describe(const clgrad_module *m, clgrad__layer_desc *d)
{
    const linear_impl *L = m->impl;
    d->in = L->in;
    d->out = L->out;
}

static const clgrad__module_vtable linear_vt = {"linear", linear_forward, clgrad__module_free_impl, linear_describe};

clgrad__forward_relu_fn clgrad__linear_forward_relu_of(const clgrad_module *m)
{
    return m && m->vt == &linear_vt ? linear_forward_relu : NULL;
}

CLGRAD_API clgrad_status clgrad_linear_create(clgrad_context *ctx, int64_t in_features, int64_t out_features,
                                              int has_bias, uint64_t seed, clgrad_module **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && out != NULL, "ctx and out must not be NULL");
    if (in_features <= 0 || out_features <= 0)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_linear_create: in_features %lld and out_features "
                            "%lld must be positive", (long long)in_features, (long long)out_features);
    clgrad_module *m = NULL;
    clgrad_tensor *w = NULL, *b = NULL;
    CLGRAD_TRY(clgrad__module_new(ctx, &linear_vt, &m));
    linear_impl *L = calloc(1, sizeof *L);
    clgrad_status s = CLGRAD_OK;
    if (!L) {
        s = clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad_linear_create: out of host memory");
        goto fail;
    }
    L->in = in_features;
    L->out = out_features;
    m->impl = L;
    int64_t ws[2] = {out_features, in_features};
    if ((s = clgrad__init_fan_in_uniform(ctx, 2, ws, in_features, clgrad__seed_derive(seed, 0), &w)) != CLGRAD_OK)
        goto fail;
    if ((s = clgrad__module_add_param(m, "weight", w)) != CLGRAD_OK) goto fail;
    if (has_bias) {
        if ((s = clgrad__init_fan_in_uniform(ctx, 1, &out_features, in_features, clgrad__seed_derive(seed, 1),
                                             &b)) != CLGRAD_OK)
            goto fail;
        if ((s = clgrad__module_add_param(m, "bias", b)) != CLGRAD_OK) goto fail;
    }
    *out = m;
    return CLGRAD_OK;
fail:
    clgrad_module_release(m);
    return s;
}
