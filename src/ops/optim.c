/* Host side of the fused optimizer updates (cl/optim.cl): argument checks and launches.
 * The optimizers in src/optim own the state tensors and the step counting. */
#include "ops/optim.h"

#include "ops/ops.h"

#include <math.h>

#define FAMILY "optim"

static clgrad_status check_state(const char *fn, const char *arg, clgrad_tensor *param, clgrad_tensor *t)
{
    clgrad_context *ctx = param->ctx;
    CLGRAD_TRY(clgrad__check_tensor(ctx, fn, arg, t, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_same_ctx(fn, param, t));
    if (!clgrad__is_contiguous(t))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: %s must be contiguous", fn, arg);
    int64_t np = clgrad__numel(param->ndim, param->shape), nt = clgrad__numel(t->ndim, t->shape);
    if (np != nt) {
        char a[256], b[256];
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: %s %s does not match param %s", fn, arg,
                            clgrad__shape_str(a, sizeof a, t->ndim, t->shape),
                            clgrad__shape_str(b, sizeof b, param->ndim, param->shape));
    }
    return CLGRAD_OK;
}

static clgrad_status check_param(const char *fn, clgrad_tensor *param, const void *h)
{
    CLGRAD_TRY(clgrad__check_tensor(NULL, fn, "param", param, CLGRAD_DTYPE_F32));
    if (!h) return clgrad__fail(param->ctx, CLGRAD_ERR_INVALID_ARG, "%s: hyper-parameters are NULL", fn);
    if (!clgrad__is_contiguous(param))
        return clgrad__fail(param->ctx, CLGRAD_ERR_INVALID_ARG, "%s: param must be contiguous", fn);
    return CLGRAD_OK;
}

/* Launches of the multi-tensor kernels (cl/optim.cl): up to SLOTS tensors per launch,
 * CHUNK elements per work-item. */
#define SLOTS 8
#define CHUNK 16

/* One launch's tensors as kernel arguments: slot k's param, grad and two state tensors
 * (buffer, offset each) and element count; slots past n repeat slot 0 with no chunks. */
typedef struct slots {
    cl_int n;
    cl_long nchunks, first[SLOTS];
    cl_mem pm[SLOTS], gm[SLOTS], am[SLOTS], bm[SLOTS];
    cl_long po[SLOTS], go[SLOTS], ao[SLOTS], bo[SLOTS], cnt[SLOTS];
} slots;

static void fill_slots(slots *sl, int n, clgrad_tensor *const *p, clgrad_tensor *const *g, clgrad_tensor *const *a,
                       clgrad_tensor *const *b)
{
    sl->n = n;
    sl->nchunks = 0;
    for (int k = 0; k < SLOTS; k++) {
        int i = k < n ? k : 0;
        clgrad_tensor *ta = a && a[i] ? a[i] : p[i], *tb = b && b[i] ? b[i] : p[i];
        sl->pm[k] = p[i]->buf->mem, sl->po[k] = p[i]->offset;
        sl->gm[k] = g[i]->buf->mem, sl->go[k] = g[i]->offset;
        sl->am[k] = ta->buf->mem, sl->ao[k] = ta->offset;
        sl->bm[k] = tb->buf->mem, sl->bo[k] = tb->offset;
        sl->cnt[k] = k < n ? clgrad__numel(p[i]->ndim, p[i]->shape) : 0;
        sl->first[k] = sl->nchunks;
        sl->nchunks += (sl->cnt[k] + CHUNK - 1) / CHUNK;
    }
}

#define SLOT_KARGS(sl, k)                                                                          \
    CLGRAD_KARG((sl).pm[k]), CLGRAD_KARG((sl).po[k]), CLGRAD_KARG((sl).gm[k]), CLGRAD_KARG((sl).go[k]), \
        CLGRAD_KARG((sl).am[k]), CLGRAD_KARG((sl).ao[k]), CLGRAD_KARG((sl).bm[k]), CLGRAD_KARG((sl).bo[k]), \
        CLGRAD_KARG((sl).cnt[k])
#define HEAD_KARGS(sl)                                                                             \
    CLGRAD_KARG((sl).n), CLGRAD_KARG((sl).nchunks), CLGRAD_KARG((sl).first[0]), CLGRAD_KARG((sl).first[1]), \
        CLGRAD_KARG((sl).first[2]), CLGRAD_KARG((sl).first[3]), CLGRAD_KARG((sl).first[4]),        \
        CLGRAD_KARG((sl).first[5]), CLGRAD_KARG((sl).first[6]), CLGRAD_KARG((sl).first[7]),        \
        SLOT_KARGS(sl, 0), SLOT_KARGS(sl, 1), SLOT_KARGS(sl, 2), SLOT_KARGS(sl, 3), SLOT_KARGS(sl, 4), \
        SLOT_KARGS(sl, 5), SLOT_KARGS(sl, 6), SLOT_KARGS(sl, 7)

clgrad_status clgrad__sgd_steps(int n, clgrad_tensor *const *params, clgrad_tensor *const *grads,
                                clgrad_tensor *const *bufs, const clgrad__sgd_hparams *h, int first_step)
{
    static const char fn[] = "sgd_step";
    if (n < 1 || !params || !grads)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: no tensors (n %d)", fn, n);
    cl_int use_m = h && h->momentum != 0.0f;
    for (int i = 0; i < n; i++) {
        CLGRAD_TRY(check_param(fn, params[i], h));
        CLGRAD_TRY(check_state(fn, "grad", params[i], grads[i]));
        if (use_m) CLGRAD_TRY(check_state(fn, "momentum buffer", params[i], bufs ? bufs[i] : NULL));
        CLGRAD_TRY(clgrad__check_same_ctx(fn, params[0], params[i]));
    }
    cl_float lr = h->lr, mom = h->momentum, damp = h->dampening, wd = h->weight_decay;
    cl_int nest = h->nesterov != 0, first = first_step != 0;
    for (int i0 = 0; i0 < n; i0 += SLOTS) {
        slots sl;
        fill_slots(&sl, n - i0 < SLOTS ? n - i0 : SLOTS, params + i0, grads + i0, use_m ? bufs + i0 : NULL, NULL);
        clgrad__kargs a = CLGRAD_ARGS(HEAD_KARGS(sl), CLGRAD_KARG(lr), CLGRAD_KARG(mom), CLGRAD_KARG(damp),
                                      CLGRAD_KARG(wd), CLGRAD_KARG(use_m), CLGRAD_KARG(nest), CLGRAD_KARG(first));
        CLGRAD_TRY(clgrad__launch_1d(params[0]->ctx, FAMILY, NULL, "sgd_multi_f32", (size_t)sl.nchunks, a));
    }
    for (int i = 0; i < n; i++) {
        params[i]->version++;
        if (use_m) bufs[i]->version++;
    }
    return CLGRAD_OK;
}

clgrad_status clgrad__adam_steps(int n, clgrad_tensor *const *params, clgrad_tensor *const *grads,
                                 clgrad_tensor *const *m, clgrad_tensor *const *v, const clgrad__adam_hparams *h,
                                 int64_t t, int decoupled)
{
    static const char fn[] = "adam_step";
    if (n < 1 || !params || !grads || !m || !v)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: no tensors (n %d)", fn, n);
    for (int i = 0; i < n; i++) {
        CLGRAD_TRY(check_param(fn, params[i], h));
        CLGRAD_TRY(check_state(fn, "grad", params[i], grads[i]));
        CLGRAD_TRY(check_state(fn, "m", params[i], m[i]));
        CLGRAD_TRY(check_state(fn, "v", params[i], v[i]));
        CLGRAD_TRY(clgrad__check_same_ctx(fn, params[0], params[i]));
    }
    if (t < 1)
        return clgrad__fail(params[0]->ctx, CLGRAD_ERR_INVALID_ARG, "%s: step %lld must be >= 1", fn, (long long)t);
    double bc1 = 1.0 - pow((double)h->beta1, (double)t);
    double bc2 = 1.0 - pow((double)h->beta2, (double)t);
    cl_float lr = h->lr, b1 = h->beta1, b2 = h->beta2, eps = h->eps, wd = h->weight_decay;
    cl_float step_size = (cl_float)((double)h->lr / bc1), bc2_sqrt = (cl_float)sqrt(bc2);
    cl_int dec = decoupled != 0;
    for (int i0 = 0; i0 < n; i0 += SLOTS) {
        slots sl;
        fill_slots(&sl, n - i0 < SLOTS ? n - i0 : SLOTS, params + i0, grads + i0, m + i0, v + i0);
        clgrad__kargs a = CLGRAD_ARGS(HEAD_KARGS(sl), CLGRAD_KARG(lr), CLGRAD_KARG(b1), CLGRAD_KARG(b2),
                                      CLGRAD_KARG(eps), CLGRAD_KARG(wd), CLGRAD_KARG(step_size),
                                      CLGRAD_KARG(bc2_sqrt), CLGRAD_KARG(dec));
        CLGRAD_TRY(clgrad__launch_1d(params[0]->ctx, FAMILY, NULL, "adam_multi_f32", (size_t)sl.nchunks, a));
    }
    for (int i = 0; i < n; i++) params[i]->version++, m[i]->version++, v[i]->version++;
    return CLGRAD_OK;
}

clgrad_status clgrad__sgd_step(clgrad_tensor *param, clgrad_tensor *grad, clgrad_tensor *momentum_buf,
                               const clgrad__sgd_hparams *h, int first_step)
{
    return clgrad__sgd_steps(1, &param, &grad, &momentum_buf, h, first_step);
}

clgrad_status clgrad__adam_step(clgrad_tensor *param, clgrad_tensor *grad, clgrad_tensor *m, clgrad_tensor *v,
                                const clgrad__adam_hparams *h, int64_t t, int decoupled)
{
    return clgrad__adam_steps(1, &param, &grad, &m, &v, h, t, decoupled);
}
