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
    clgrad__collective_fn sync_fn; /* batch norm: statistics summed over a group's ranks (or NULL) */
    void *sync_user;
} norm_impl;

static clgrad_status shape_error(clgrad_module *m, clgrad_tensor *x, const char *want)
{
    int64_t shape[CLGRAD_MAX_DIMS];
    char buf[160];
    clgrad_tensor_shape(x, shape);
    return clgrad__fail(m->ctx, CLGRAD_ERR_SHAPE, "%s: input of shape %s is not %s", m->vt->kind,
                        clgrad__shape_str(buf, sizeof buf, clgrad_tensor_ndim(x), shape), want);
}

/* Train-mode batch norm with statistics over every rank of a group (N->sync_fn sums over
 * the ranks): see clgrad__batch_norm_set_sync in nn.h. x has passed the shape check. */
static clgrad_status sync_batch_norm(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    norm_impl *N = m->impl;
    int nd = clgrad_tensor_ndim(x), axes[CLGRAD_MAX_DIMS], na = 0;
    int64_t C = N->features, bshape[CLGRAD_MAX_DIMS], one = 1;
    axes[na++] = 0;
    for (int d = 2; d < nd; d++) axes[na++] = d;
    for (int d = 0; d < nd; d++) bshape[d] = d == 1 ? C : 1;
    clgrad_tensor *w = clgrad__module_get(m, "weight"), *b = clgrad__module_get(m, "bias");
    clgrad_tensor *rm = clgrad__module_get(m, "running_mean"), *rv = clgrad__module_get(m, "running_var");
    clgrad_tensor *s1 = NULL, *cnt = NULL, *a = NULL, *A = NULL, *tot = NULL, *S1 = NULL, *mean = NULL, *mb = NULL,
                  *xc = NULL, *sq = NULL, *s2 = NULL, *S2 = NULL, *var = NULL, *ve = NULL, *inv = NULL, *ib = NULL,
                  *y = NULL, *t = NULL, *r = NULL, *r2 = NULL;
    float total = 0.0f;
    /* the element count per channel travels with the sums: [sum_0 .. sum_{C-1}, count] */
    clgrad_status s = clgrad_sum(x, na, axes, 0, &s1);
    if (s == CLGRAD_OK) s = clgrad_tensor_full(m->ctx, 1, &one, (float)(clgrad_tensor_numel(x) / C), &cnt);
    if (s == CLGRAD_OK) s = clgrad_cat(2, (clgrad_tensor *[]){s1, cnt}, 0, &a);
    if (s == CLGRAD_OK) s = clgrad__collective(a, N->sync_fn, N->sync_user, &A);
    if (s == CLGRAD_OK) s = clgrad_slice(A, 0, C, C + 1, 1, &tot);
    if (s == CLGRAD_OK) s = clgrad_tensor_item(tot, &total);
    if (s == CLGRAD_OK && !(total > 1.0f))
        s = clgrad__fail(m->ctx, CLGRAD_ERR_SHAPE,
                         "%s: training needs more than one value per channel over the group, got %g", m->vt->kind,
                         (double)total);
    if (s == CLGRAD_OK) s = clgrad_slice(A, 0, 0, C, 1, &S1);
    if (s == CLGRAD_OK) s = clgrad_mul_scalar(S1, 1.0f / total, &mean);
    if (s == CLGRAD_OK) s = clgrad_reshape(mean, nd, bshape, &mb);
    if (s == CLGRAD_OK) s = clgrad_sub(x, mb, &xc);
    if (s == CLGRAD_OK) s = clgrad_mul(xc, xc, &sq);
    if (s == CLGRAD_OK) s = clgrad_sum(sq, na, axes, 0, &s2);
    if (s == CLGRAD_OK) s = clgrad__collective(s2, N->sync_fn, N->sync_user, &S2);
    if (s == CLGRAD_OK) s = clgrad_mul_scalar(S2, 1.0f / total, &var); /* biased, for normalising */
    if (s == CLGRAD_OK) s = clgrad_add_scalar(var, N->eps, &ve);
    if (s == CLGRAD_OK) s = clgrad_rsqrt(ve, &inv);
    if (s == CLGRAD_OK) s = clgrad_reshape(inv, nd, bshape, &ib);
    if (s == CLGRAD_OK) s = clgrad_mul(xc, ib, &y);
    if (s == CLGRAD_OK && w) {
        clgrad_tensor *wb = NULL, *bb = NULL;
        s = clgrad_reshape(w, nd, bshape, &wb);
        if (s == CLGRAD_OK) s = clgrad_mul(y, wb, &t);
        if (s == CLGRAD_OK && b) s = clgrad_reshape(b, nd, bshape, &bb);
        clgrad_tensor_release(y);
        y = NULL;
        if (s == CLGRAD_OK) s = b ? clgrad_add(t, bb, &y) : (y = clgrad_tensor_retain(t), CLGRAD_OK);
        clgrad_tensor_release(wb);
        clgrad_tensor_release(bb);
    }
    if (s == CLGRAD_OK && rm && rv) { /* running statistics: the group's mean, unbiased variance */
        clgrad_no_grad_begin(m->ctx);
        clgrad_tensor *u = NULL;
        s = clgrad_mul_scalar(rm, 1.0f - N->momentum, &r);
        if (s == CLGRAD_OK) s = clgrad_mul_scalar(mean, N->momentum, &u);
        if (s == CLGRAD_OK) s = clgrad_add(r, u, &r2);
        if (s == CLGRAD_OK) s = clgrad_copy_(rm, r2);
        clgrad_tensor_release(u), u = NULL;
        clgrad_tensor_release(r), r = NULL;
        clgrad_tensor_release(r2), r2 = NULL;
        if (s == CLGRAD_OK) s = clgrad_mul_scalar(rv, 1.0f - N->momentum, &r);
        if (s == CLGRAD_OK) s = clgrad_mul_scalar(S2, N->momentum / (total - 1.0f), &u);
        if (s == CLGRAD_OK) s = clgrad_add(r, u, &r2);
        if (s == CLGRAD_OK) s = clgrad_copy_(rv, r2);
        clgrad_tensor_release(u);
        clgrad_no_grad_end(m->ctx);
    }
    clgrad_tensor *all[] = {s1, cnt, a, A, tot, S1, mean, mb, xc, sq, s2, S2, var, ve, inv, ib, t, r, r2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clgrad_tensor_release(all[i]);
    if (s != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return s;
    }
    *out = y;
    return CLGRAD_OK;
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
    if (m->training && N->sync_fn) {
        clgrad_status s = sync_batch_norm(m, x, out);
        if (s == CLGRAD_OK) m->counters[N->tracked].value++;
        return s;
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

clgrad_status clgrad__batch_norm_set_sync(clgrad_module *m, clgrad__collective_fn fn, void *user)
{
    if (!m || (m->vt != &bn1d_vt && m->vt != &bn2d_vt))
        return clgrad__fail(m ? m->ctx : NULL, CLGRAD_ERR_INVALID_ARG,
                            "clgrad__batch_norm_set_sync: not a batch norm module");
    norm_impl *N = m->impl;
    N->sync_fn = fn;
    N->sync_user = fn ? user : NULL;
    return CLGRAD_OK;
}

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
