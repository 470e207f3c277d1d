/* Embedding lookup (rows of a (V, D) table picked by i32 indices) and its backward, a
 * deterministic scatter-add: positions are sorted by row on the device and each row sums
 * its gradient rows in position order (see cl/embedding.cl). */
#include "ops/ops.h"
#include "ops/op_table.h"

#define FAMILY "embedding"

/* A (D, rows) launch with rows folded over dims 1 and 2 (see emb_row() in cl/embedding.cl):
 * at most clgrad__fold_limit() work-groups of height 1 in dim 1, the rest in dim 2. */
static void rows_fold(const clgrad_context *ctx, size_t global[3], int64_t D, int64_t rows)
{
    size_t fold = clgrad__fold_limit(ctx), y = (size_t)rows < fold ? (size_t)rows : fold;
    global[0] = D > 0 ? (size_t)D : 0;
    global[1] = y;
    global[2] = y ? ((size_t)rows + y - 1) / y : 0;
}

/* n indices into a (V, D) table; saved: 0 the indices (contiguous). */
typedef struct embedding_state {
    int64_t n, V, D;
} embedding_state;

static clgrad_status embedding_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    if (!nd->needs_grad[0]) return CLGRAD_OK;
    clgrad_context *ctx = gy->ctx;
    clgrad_tensor *idx = nd->saved[0], *w = nd->inputs[0];
    const embedding_state *s = CLGRAD__NODE_STATE(nd, embedding_state);
    int64_t n = s->n, V = s->V, D = s->D, npow2 = 1;
    while (npow2 < n) npow2 *= 2;
    clgrad_tensor *keys = NULL, *seg = NULL, *dw = NULL;
    clgrad_status st;
    int64_t kshape = 2 * npow2, sshape = 2 * V;
    if ((st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_I32, 1, &kshape, &keys)) != CLGRAD_OK) goto fail;
    if ((st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_I32, 1, &sshape, &seg)) != CLGRAD_OK) goto fail;
    if ((st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, w->ndim, w->shape, &dw)) != CLGRAD_OK) goto fail;
    if ((st = clgrad__fill(seg, 0.0)) != CLGRAD_OK) goto fail;
    if (n > 0) {
        /* keys and seg are fresh allocations: element offset 0 */
        clgrad__kargs ka = CLGRAD_ARGS(CLGRAD_KARG(keys->buf->mem), CLGRAD_KARG_T(idx), CLGRAD_KARG(n),
                                       CLGRAD_KARG(npow2), CLGRAD_KARG(V));
        if ((st = clgrad__launch_1d(ctx, FAMILY, NULL, "embedding_keys", (size_t)npow2, ka)) != CLGRAD_OK)
            goto fail;
        for (int64_t k = 2; k <= npow2; k *= 2)
            for (int64_t j = k / 2; j > 0; j /= 2) {
                clgrad__kargs ba =
                    CLGRAD_ARGS(CLGRAD_KARG(keys->buf->mem), CLGRAD_KARG(npow2), CLGRAD_KARG(k), CLGRAD_KARG(j));
                if ((st = clgrad__launch_1d(ctx, FAMILY, NULL, "bitonic_step", (size_t)npow2, ba)) != CLGRAD_OK)
                    goto fail;
            }
        clgrad__kargs sa =
            CLGRAD_ARGS(CLGRAD_KARG(seg->buf->mem), CLGRAD_KARG(keys->buf->mem), CLGRAD_KARG(n), CLGRAD_KARG(V));
        if ((st = clgrad__launch_1d(ctx, FAMILY, NULL, "embedding_segments", (size_t)n, sa)) != CLGRAD_OK)
            goto fail;
    }
    {
        size_t local[3] = {clgrad__wg_1d(ctx), 1, 1};
        size_t global[3];
        rows_fold(ctx, global, D, V);
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(dw->buf->mem), CLGRAD_KARG(keys->buf->mem),
                                      CLGRAD_KARG(seg->buf->mem), CLGRAD_KARG_T(gy), CLGRAD_KARG(V), CLGRAD_KARG(D));
        if (D < (int64_t)local[0]) local[0] = (size_t)D;
        if ((st = clgrad__launch(ctx, FAMILY, NULL, "embedding_bwd_f32", 3, global, local, a)) != CLGRAD_OK)
            goto fail;
    }
    clgrad_tensor_release(keys);
    clgrad_tensor_release(seg);
    gx[0] = dw;
    return CLGRAD_OK;
fail:
    clgrad_tensor_release(keys);
    clgrad_tensor_release(seg);
    clgrad_tensor_release(dw);
    return st;
}

CLGRAD__OP_DEFINE(embedding, "clgrad_embedding", embedding_backward, embedding_state);

clgrad_status clgrad_embedding(clgrad_tensor *weight, clgrad_tensor *indices, clgrad_tensor **out)
{
    static const char fn[] = "clgrad_embedding";
    if (out) *out = NULL;
    if (!out) return clgrad__fail(weight ? weight->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    CLGRAD_TRY(clgrad__check_tensor(NULL, fn, "weight", weight, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_tensor(weight->ctx, fn, "indices", indices, CLGRAD_DTYPE_I32));
    CLGRAD_TRY(clgrad__check_same_ctx(fn, weight, indices));
    clgrad_context *ctx = weight->ctx;
    if (weight->ndim != 2 || indices->ndim >= CLGRAD_MAX_DIMS) {
        char a[256], b[256];
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: weight %s must be 2-D (V, D) and indices %s at most %d-D", fn,
                            clgrad__shape_str(a, sizeof a, weight->ndim, weight->shape),
                            clgrad__shape_str(b, sizeof b, indices->ndim, indices->shape), CLGRAD_MAX_DIMS - 1);
    }
    int64_t V = weight->shape[0], D = weight->shape[1], n = clgrad__numel(indices->ndim, indices->shape);
    if (n > INT32_MAX / 2 || V > INT32_MAX / 2)
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: %lld indices into %lld rows is too many", fn, (long long)n,
                            (long long)V);
    int64_t oshape[CLGRAD_MAX_DIMS];
    for (int i = 0; i < indices->ndim; i++) oshape[i] = indices->shape[i];
    oshape[indices->ndim] = D;
    clgrad_tensor *w = NULL, *idx = NULL, *y = NULL;
    clgrad_status st;
    if ((st = clgrad__contiguous(weight, &w)) != CLGRAD_OK) goto done;
    if ((st = clgrad__contiguous(indices, &idx)) != CLGRAD_OK) goto done;
    if ((st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, indices->ndim + 1, oshape, &y)) != CLGRAD_OK) goto done;
    {
        size_t local[3] = {clgrad__wg_1d(ctx), 1, 1};
        size_t global[3];
        rows_fold(ctx, global, D, n);
        if (D < (int64_t)local[0]) local[0] = D > 0 ? (size_t)D : 1;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG_T(w), CLGRAD_KARG_T(idx), CLGRAD_KARG(n),
                                      CLGRAD_KARG(V), CLGRAD_KARG(D));
        if ((st = clgrad__launch(ctx, FAMILY, NULL, "embedding_fwd_f32", 3, global, local, a)) != CLGRAD_OK)
            goto done;
    }
    clgrad_tensor *in[2] = {weight, indices};
    embedding_state s = {n, V, D};
    st = clgrad__record(y, &clgrad__op_embedding, 2, in, &s, 1, &idx);
done:
    clgrad_tensor_release(w);
    clgrad_tensor_release(idx);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}
