/* The Embedding layer: a (num_embeddings, dim) weight drawn from N(0, 1), looked up by i32
 * indices. */
#include "nn/nn.h"

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
