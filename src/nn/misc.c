/* Small layers: Dropout (a fresh mask per call, from the seed and a call counter),
 * Embedding, Flatten and the activations as layers. */
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>

/* --- dropout --------------------------------------------------------------------------------- */

typedef struct dropout_impl {
    float p;
    uint64_t seed;
    int calls; /* index of the "calls" counter */
} dropout_impl;

static clgrad_status dropout_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    dropout_impl *D = m->impl;
    if (!m->training || D->p == 0.0f) return clgrad_dropout(x, D->p, D->seed, 0, out);
    uint64_t *k = &m->counters[D->calls].value;
    clgrad_status s = clgrad_dropout(x, D->p, clgrad__seed_derive(D->seed, *k), 1, out);
    if (s == CLGRAD_OK) (*k)++;
    return s;
}

static void free_impl(clgrad_module *m)
{
    free(m->impl);
}

static void dropout_describe(const clgrad_module *m, clgrad__layer_desc *d) { d->p = ((dropout_impl *)m->impl)->p; }

static const clgrad__module_vtable dropout_vt = {"dropout", dropout_forward, free_impl, dropout_describe};

static clgrad_status new_with_impl(clgrad_context *ctx, const clgrad__module_vtable *vt, size_t size,
                                   clgrad_module **out)
{
    CLGRAD_TRY(clgrad__module_new(ctx, vt, out));
    (*out)->impl = calloc(1, size);
    if (!(*out)->impl) {
        clgrad_module_release(*out);
        *out = NULL;
        return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", vt->kind);
    }
    return CLGRAD_OK;
}

CLGRAD_API clgrad_status clgrad_dropout_create(clgrad_context *ctx, float p, uint64_t seed, clgrad_module **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && out != NULL, "ctx and out must not be NULL");
    if (!(p >= 0.0f && p < 1.0f))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_dropout_create: p = %g is not in [0, 1)", (double)p);
    clgrad_module *m = NULL;
    CLGRAD_TRY(new_with_impl(ctx, &dropout_vt, sizeof(dropout_impl), &m));
    dropout_impl *D = m->impl;
    D->p = p;
    D->seed = seed;
    clgrad_status s = clgrad__module_add_counter(m, "calls", &D->calls);
    if (s != CLGRAD_OK) {
        clgrad_module_release(m);
        return s;
    }
    *out = m;
    return CLGRAD_OK;
}

/* --- embedding ------------------------------------------------------------------------------- */

static clgrad_status embedding_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    if (clgrad_tensor_dtype(x) != CLGRAD_DTYPE_I32)
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "embedding: indices must be i32 (got dtype %d)",
                            (int)clgrad_tensor_dtype(x));
    return clgrad_embedding(clgrad__module_get(m, "weight"), x, out);
}

static const clgrad__module_vtable embedding_vt = {"embedding", embedding_forward, NULL, NULL};

CLGRAD_API clgrad_status clgrad_embedding_create(clgrad_context *ctx, int64_t num_embeddings, int64_t dim,
                                                 uint64_t seed, clgrad_module **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && out != NULL, "ctx and out must not be NULL");
    if (num_embeddings <= 0 || dim <= 0)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_embedding_create: num_embeddings %lld and dim %lld must be positive",
                            (long long)num_embeddings, (long long)dim);
    clgrad_module *m = NULL;
    clgrad_tensor *w = NULL;
    int64_t ws[2] = {num_embeddings, dim};
    CLGRAD_TRY(clgrad__module_new(ctx, &embedding_vt, &m));
    clgrad_status s = clgrad_tensor_normal(ctx, 2, ws, clgrad__seed_derive(seed, 0), 0.0f, 1.0f, &w);
    if (s == CLGRAD_OK) s = clgrad__module_add_param(m, "weight", w);
    if (s != CLGRAD_OK) {
        clgrad_module_release(m);
        return s;
    }
    *out = m;
    return CLGRAD_OK;
}

/* --- flatten --------------------------------------------------------------------------------- */

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
    d->start_dim = ((flatten_impl *)m->impl)->start;
    d->end_dim = ((flatten_impl *)m->impl)->end;
}

static const clgrad__module_vtable flatten_vt = {"flatten", flatten_forward, free_impl, flatten_describe};

CLGRAD_API clgrad_status clgrad_flatten_create(clgrad_context *ctx, int start_dim, int end_dim, clgrad_module **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && out != NULL, "ctx and out must not be NULL");
    if (start_dim >= 0 && end_dim >= 0 && start_dim > end_dim)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_flatten_create: start_dim %d > end_dim %d",
                            start_dim, end_dim);
    clgrad_module *m = NULL;
    CLGRAD_TRY(new_with_impl(ctx, &flatten_vt, sizeof(flatten_impl), &m));
    ((flatten_impl *)m->impl)->start = start_dim;
    ((flatten_impl *)m->impl)->end = end_dim;
    *out = m;
    return CLGRAD_OK;
}

/* --- activations ----------------------------------------------------------------------------- */

typedef struct act_impl {
    clgrad_activation kind;
    float p0, p1;
} act_impl;

static clgrad_status act_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    const act_impl *A = m->impl;
    switch (A->kind) {
    case CLGRAD_ACT_RELU: return clgrad_relu(x, out);
    case CLGRAD_ACT_LEAKY_RELU: return clgrad_leaky_relu(x, A->p0, out);
    case CLGRAD_ACT_ELU: return clgrad_elu(x, A->p0, out);
    case CLGRAD_ACT_GELU: return clgrad_gelu(x, 0, out);
    case CLGRAD_ACT_GELU_TANH: return clgrad_gelu(x, 1, out);
    case CLGRAD_ACT_SILU: return clgrad_silu(x, out);
    case CLGRAD_ACT_SIGMOID: return clgrad_sigmoid(x, out);
    case CLGRAD_ACT_TANH: return clgrad_tanh(x, out);
    case CLGRAD_ACT_SOFTPLUS: return clgrad_softplus(x, A->p0, A->p1, out);
    case CLGRAD_ACT_HARDTANH: return clgrad_hardtanh(x, A->p0, A->p1, out);
    case CLGRAD_ACT_SOFTMAX: return clgrad_softmax(x, (int)A->p0, out);
    case CLGRAD_ACT_LOG_SOFTMAX: return clgrad_log_softmax(x, (int)A->p0, out);
    }
    return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "activation: unknown kind %d", (int)A->kind);
}

static void act_describe(const clgrad_module *m, clgrad__layer_desc *d)
{
    const act_impl *A = m->impl;
    d->act = A->kind;
    d->p0 = A->p0;
    d->p1 = A->p1;
}

static const clgrad__module_vtable act_vt = {"activation", act_forward, free_impl, act_describe};

CLGRAD_API clgrad_status clgrad_activation_create(clgrad_context *ctx, clgrad_activation kind, float p0, float p1,
                                                  clgrad_module **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && out != NULL, "ctx and out must not be NULL");
    if ((int)kind < CLGRAD_ACT_RELU || (int)kind > CLGRAD_ACT_LOG_SOFTMAX)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_activation_create: unknown kind %d", (int)kind);
    if ((kind == CLGRAD_ACT_SOFTMAX || kind == CLGRAD_ACT_LOG_SOFTMAX) && (p0 != floorf(p0) || fabsf(p0) > 8.0f))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_activation_create: softmax axis %g is not an integer",
                            (double)p0);
    if (kind == CLGRAD_ACT_SOFTPLUS && !(p0 > 0.0f))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_activation_create: softplus beta %g must be > 0",
                            (double)p0);
    if (kind == CLGRAD_ACT_HARDTANH && !(p0 < p1))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_activation_create: hardtanh needs min %g < max %g",
                            (double)p0, (double)p1);
    clgrad_module *m = NULL;
    CLGRAD_TRY(new_with_impl(ctx, &act_vt, sizeof(act_impl), &m));
    act_impl *A = m->impl;
    A->kind = kind;
    A->p0 = p0;
    A->p1 = p1;
    *out = m;
    return CLGRAD_OK;
}
