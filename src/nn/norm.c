/* Normalisation layers: BatchNorm1d / BatchNorm2d (running statistics as buffers) and
 * LayerNorm. */
#include "nn/nn.h"

#include <stdio.h>
#include <string.h>

typedef struct norm_impl {
    int64_t features;      /* batch norm: C */
    int min_ndim, max_ndim; /* accepted input ranks (batch norm) */
    float eps, momentum;
    int n_norm;            /* layer norm: trailing dims */
    int64_t norm_shape[CLGRAD_MAX_DIMS];
    int tracked;           /* index of the num_batches_tracked counter */
} norm_impl;

static clgrad_status shape_error(clgrad_module *m, clgrad_tensor *x, const char *want)
{
    int64_t shape[CLGRAD_MAX_DIMS];
    char buf[160];
    clgrad_tensor_shape(x, shape);
    return clgrad__fail(m->ctx, CLGRAD_ERR_SHAPE, "%s: input of shape %s is not %s", m->vt->kind,
                        clgrad__shape_str(buf, sizeof buf, clgrad_tensor_ndim(x), shape), want);
}

static clgrad_status batch_norm_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    norm_impl *N = m->impl;
    int nd = clgrad_tensor_ndim(x);
    if (nd < N->min_ndim || nd > N->max_ndim || clgrad_tensor_dim(x, 1) != N->features) {
        char want[96];
        if (N->min_ndim == 4)
            snprintf(want, sizeof want, "(N, %lld, H, W)", (long long)N->features);
        else
            snprintf(want, sizeof want, "(N, %lld) or (N, %lld, L)", (long long)N->features,
                     (long long)N->features);
        return shape_error(m, x, want);
    }
    int64_t per_channel = clgrad_tensor_numel(x) / N->features;
    if (m->training && per_channel <= 1) {
        int64_t shape[CLGRAD_MAX_DIMS];
        char buf[160];
        clgrad_tensor_shape(x, shape);
        return clgrad__fail(m->ctx, CLGRAD_ERR_SHAPE,
                            "%s: training needs more than one value per channel, got input of shape %s",
                            m->vt->kind, clgrad__shape_str(buf, sizeof buf, nd, shape));
    }
    clgrad_status s = clgrad_batch_norm(x, clgrad__module_get(m, "weight"), clgrad__module_get(m, "bias"),
                                        clgrad__module_get(m, "running_mean"), clgrad__module_get(m, "running_var"),
                                        m->training, N->momentum, N->eps, out);
    if (s == CLGRAD_OK && m->training) m->counters[N->tracked].value++;
    return s;
}

static clgrad_status layer_norm_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    norm_impl *N = m->impl;
    int nd = clgrad_tensor_ndim(x);
    int ok = nd >= N->n_norm;
    for (int i = 0; ok && i < N->n_norm; i++) ok = clgrad_tensor_dim(x, nd - N->n_norm + i) == N->norm_shape[i];
    if (!ok) {
        char want[200], buf[160];
        snprintf(want, sizeof want, "(..., %s)", clgrad__shape_str(buf, sizeof buf, N->n_norm, N->norm_shape));
        return shape_error(m, x, want);
    }
    return clgrad_layer_norm(x, N->n_norm, clgrad__module_get(m, "weight"), clgrad__module_get(m, "bias"), N->eps,
                             out);
}

static void norm_describe(const clgrad_module *m, clgrad__layer_desc *d)
{
    const norm_impl *N = m->impl;
    d->in = N->features;
    d->eps = N->eps;
    d->momentum = N->momentum;
    d->affine = clgrad__module_get(m, "weight") != NULL;
    d->norm_ndim = N->n_norm;
    memcpy(d->norm_shape, N->norm_shape, sizeof d->norm_shape);
}

static const clgrad__module_vtable bn1d_vt = {"batch_norm1d", batch_norm_forward, clgrad__module_free_impl, norm_describe};
static const clgrad__module_vtable bn2d_vt = {"batch_norm2d", batch_norm_forward, clgrad__module_free_impl, norm_describe};
static const clgrad__module_vtable ln_vt = {"layer_norm", layer_norm_forward, clgrad__module_free_impl, norm_describe};

/* weight 1 and bias 0 of shape (ndim, shape). */
static clgrad_status add_affine(clgrad_module *m, int ndim, const int64_t *shape)
{
    clgrad_tensor *t = NULL;
    CLGRAD_TRY(clgrad_tensor_ones(m->ctx, ndim, shape, &t));
    CLGRAD_TRY(clgrad__module_add_param(m, "weight", t));
    t = NULL;
    CLGRAD_TRY(clgrad_tensor_zeros(m->ctx, CLGRAD_DTYPE_F32, ndim, shape, &t));
    return clgrad__module_add_param(m, "bias", t);
}

static clgrad_status batch_norm_create(clgrad_context *ctx, const clgrad__module_vtable *vt, int64_t features,
                                       float eps, float momentum, int affine, clgrad_module **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && out != NULL, "ctx and out must not be NULL");
    if (features <= 0 || !(eps > 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "%s: num_features %lld must be positive, eps %g positive, momentum %g in [0, 1]", vt->kind,
                            (long long)features, (double)eps, (double)momentum);
    clgrad_module *m = NULL;
    clgrad_tensor *t = NULL;
    clgrad_status s;
    CLGRAD_TRY(clgrad__module_new_impl(ctx, vt, sizeof(norm_impl), &m));
    norm_impl *N = m->impl;
    N->features = features;
    N->eps = eps;
    N->momentum = momentum;
    N->min_ndim = vt == &bn2d_vt ? 4 : 2;
    N->max_ndim = vt == &bn2d_vt ? 4 : 3;
    if (affine && (s = add_affine(m, 1, &features)) != CLGRAD_OK) goto fail;
    if ((s = clgrad_tensor_zeros(ctx, CLGRAD_DTYPE_F32, 1, &features, &t)) != CLGRAD_OK) goto fail;
    if ((s = clgrad__module_add_buffer(m, "running_mean", t)) != CLGRAD_OK) goto fail;
    t = NULL;
    if ((s = clgrad_tensor_ones(ctx, 1, &features, &t)) != CLGRAD_OK) goto fail;
    if ((s = clgrad__module_add_buffer(m, "running_var", t)) != CLGRAD_OK) goto fail;
    if ((s = clgrad__module_add_counter(m, "num_batches_tracked", &N->tracked)) != CLGRAD_OK) goto fail;
    *out = m;
    return CLGRAD_OK;
fail:
    clgrad_module_release(m);
    return s;
}

CLGRAD_API clgrad_status clgrad_batch_norm2d_create(clgrad_context *ctx, int64_t num_features, float eps,
                                                    float momentum, int affine, clgrad_module **out)
{
    return batch_norm_create(ctx, &bn2d_vt, num_features, eps, momentum, affine, out);
}

CLGRAD_API clgrad_status clgrad_batch_norm1d_create(clgrad_context *ctx, int64_t num_features, float eps,
                                                    float momentum, int affine, clgrad_module **out)
{
    return batch_norm_create(ctx, &bn1d_vt, num_features, eps, momentum, affine, out);
}

CLGRAD_API clgrad_status clgrad_layer_norm_create(clgrad_context *ctx, int ndim, const int64_t *normalized_shape,
                                                  float eps, int affine, clgrad_module **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && out != NULL, "ctx and out must not be NULL");
    int ok = ndim >= 1 && ndim <= CLGRAD_MAX_DIMS && normalized_shape != NULL && eps > 0.0f;
    for (int i = 0; ok && i < ndim; i++) ok = normalized_shape[i] > 0;
    if (!ok)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_layer_norm_create: normalized_shape needs 1 to %d positive dims (got %d) and "
                            "eps > 0 (got %g)", CLGRAD_MAX_DIMS, ndim, (double)eps);
    clgrad_module *m = NULL;
    clgrad_status s;
    CLGRAD_TRY(clgrad__module_new_impl(ctx, &ln_vt, sizeof(norm_impl), &m));
    norm_impl *N = m->impl;
    N->eps = eps;
    N->n_norm = ndim;
    memcpy(N->norm_shape, normalized_shape, (size_t)ndim * sizeof *normalized_shape);
    if (affine && (s = add_affine(m, ndim, normalized_shape)) != CLGRAD_OK) goto fail;
    *out = m;
    return CLGRAD_OK;
fail:
    clgrad_module_release(m);
    return s;
}
