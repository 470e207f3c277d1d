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

clgrad_status clgrad__sgd_step(clgrad_tensor *param, clgrad_tensor *grad, clgrad_tensor *momentum_buf,
                               const clgrad__sgd_hparams *h, int first_step)
{
    static const char fn[] = "sgd_step";
    CLGRAD_TRY(check_param(fn, param, h));
    CLGRAD_TRY(check_state(fn, "grad", param, grad));
    cl_int use_m = h->momentum != 0.0f;
    if (use_m) CLGRAD_TRY(check_state(fn, "momentum buffer", param, momentum_buf));
    clgrad_tensor *buf = use_m ? momentum_buf : param; /* any valid buffer when unused */
    int64_t n = clgrad__numel(param->ndim, param->shape);
    cl_float lr = h->lr, mom = h->momentum, damp = h->dampening, wd = h->weight_decay;
    cl_int nest = h->nesterov != 0, first = first_step != 0;
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(param), CLGRAD_KARG_T(grad), CLGRAD_KARG_T(buf), CLGRAD_KARG(n),
                                  CLGRAD_KARG(lr),      CLGRAD_KARG(mom),    CLGRAD_KARG(damp), CLGRAD_KARG(wd),
                                  CLGRAD_KARG(use_m),   CLGRAD_KARG(nest),   CLGRAD_KARG(first));
    param->version++;
    if (use_m) momentum_buf->version++;
    return clgrad__launch_1d(param->ctx, FAMILY, NULL, "sgd_step_f32", (size_t)n, a);
}

clgrad_status clgrad__adam_step(clgrad_tensor *param, clgrad_tensor *grad, clgrad_tensor *m, clgrad_tensor *v,
                                const clgrad__adam_hparams *h, int64_t t, int decoupled)
{
    static const char fn[] = "adam_step";
    CLGRAD_TRY(check_param(fn, param, h));
    CLGRAD_TRY(check_state(fn, "grad", param, grad));
    CLGRAD_TRY(check_state(fn, "m", param, m));
    CLGRAD_TRY(check_state(fn, "v", param, v));
    if (t < 1) return clgrad__fail(param->ctx, CLGRAD_ERR_INVALID_ARG, "%s: step %lld must be >= 1", fn, (long long)t);
    double bc1 = 1.0 - pow((double)h->beta1, (double)t);
    double bc2 = 1.0 - pow((double)h->beta2, (double)t);
    int64_t n = clgrad__numel(param->ndim, param->shape);
    cl_float lr = h->lr, b1 = h->beta1, b2 = h->beta2, eps = h->eps, wd = h->weight_decay;
    cl_float step_size = (cl_float)((double)h->lr / bc1), bc2_sqrt = (cl_float)sqrt(bc2);
    cl_int dec = decoupled != 0;
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(param), CLGRAD_KARG_T(grad), CLGRAD_KARG_T(m), CLGRAD_KARG_T(v),
                                  CLGRAD_KARG(n), CLGRAD_KARG(lr), CLGRAD_KARG(b1), CLGRAD_KARG(b2), CLGRAD_KARG(eps),
                                  CLGRAD_KARG(wd), CLGRAD_KARG(step_size), CLGRAD_KARG(bc2_sqrt), CLGRAD_KARG(dec));
    param->version++;
    m->version++;
    v->version++;
    return clgrad__launch_1d(param->ctx, FAMILY, NULL, "adam_step_f32", (size_t)n, a);
}
