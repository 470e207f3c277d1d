/* Gradient clipping by global L2 norm, computed and applied on the device without a host
 * round trip (torch.nn.utils.clip_grad_norm_). */
#include "optim/optim.h"

static clgrad_status clip(clgrad_context *ctx, int n, clgrad_tensor *const *params, float max_norm,
                          clgrad_tensor **total_norm)
{
    clgrad_status s = CLGRAD_OK;
    clgrad_tensor *total = NULL, *t = NULL, *coef = NULL;
    for (int i = 0; i < n && s == CLGRAD_OK; i++) {
        clgrad_tensor *g = clgrad_tensor_grad(params[i]), *sq = NULL, *part = NULL;
        if (!g) continue;
        s = clgrad_mul(g, g, &sq);
        if (s == CLGRAD_OK) s = clgrad_sum(sq, 0, NULL, 0, &part);
        clgrad_tensor_release(sq);
        if (s == CLGRAD_OK && total) {
            clgrad_tensor *acc = NULL;
            s = clgrad_add(total, part, &acc);
            clgrad_tensor_release(part);
            clgrad_tensor_release(total);
            total = acc;
        } else if (s == CLGRAD_OK) {
            total = part;
        }
    }
    if (s == CLGRAD_OK && !total) s = clgrad_tensor_zeros(ctx, CLGRAD_DTYPE_F32, 0, NULL, &total);
    if (s == CLGRAD_OK) {
        clgrad_tensor *norm = NULL;
        s = clgrad_sqrt(total, &norm);
        clgrad_tensor_release(total);
        total = norm;
    }
    /* coef = min(1, max_norm / (norm + 1e-6)) */
    if (s == CLGRAD_OK) s = clgrad_add_scalar(total, 1e-6f, &t);
    if (s == CLGRAD_OK) s = clgrad_rdiv_scalar(t, max_norm, &coef);
    clgrad_tensor_release(t);
    t = NULL;
    if (s == CLGRAD_OK) s = clgrad_minimum_scalar(coef, 1.0f, &t);
    clgrad_tensor_release(coef);
    coef = t;
    for (int i = 0; i < n && s == CLGRAD_OK; i++) {
        clgrad_tensor *g = clgrad_tensor_grad(params[i]), *scaled = NULL;
        if (!g) continue;
        s = clgrad_mul(g, coef, &scaled);
        if (s == CLGRAD_OK) s = clgrad_copy_(g, scaled);
        clgrad_tensor_release(scaled);
    }
    clgrad_tensor_release(coef);
    if (s == CLGRAD_OK && total_norm) *total_norm = total;
    else clgrad_tensor_release(total);
    return s;
}

CLGRAD_API clgrad_status clgrad_clip_grad_norm(int n, clgrad_tensor *const *params, float max_norm,
                                               clgrad_tensor **total_norm)
{
    if (total_norm) *total_norm = NULL;
    CLGRAD_CHECK_ARG(NULL, n > 0 && params != NULL && params[0] != NULL, "params must hold n > 0 tensors");
    clgrad_context *ctx = clgrad_tensor_context(params[0]);
    for (int i = 1; i < n; i++) {
        if (!params[i]) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_clip_grad_norm: params[%d] is NULL", i);
        if (clgrad_tensor_context(params[i]) != ctx)
            return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                                "clgrad_clip_grad_norm: params[%d] belongs to another context than params[0]", i);
    }
    if (!(max_norm > 0.0f))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_clip_grad_norm: max_norm %g must be > 0",
                            (double)max_norm);
    clgrad_no_grad_begin(ctx);
    clgrad_status s = clip(ctx, n, params, max_norm, total_norm);
    clgrad_no_grad_end(ctx);
    return s;
}

CLGRAD_API clgrad_status clgrad_optim_clip_grad_norm(clgrad_optim *opt, float max_norm, clgrad_tensor **total_norm)
{
    if (total_norm) *total_norm = NULL;
    CLGRAD_CHECK_ARG(NULL, opt != NULL, "optimizer is NULL");
    if (opt->n == 0) /* nothing to clip: the norm is 0 */
        return total_norm ? clgrad_tensor_zeros(opt->ctx, CLGRAD_DTYPE_F32, 0, NULL, total_norm) : CLGRAD_OK;
    clgrad_profile_phase was = clgrad_profile_get_phase(opt->ctx); /* a profile counts this as the optimizer */
    clgrad_profile_set_phase(opt->ctx, CLGRAD_PROFILE_OPTIMIZER);
    clgrad_status s = clgrad_clip_grad_norm(opt->n, opt->params, max_norm, total_norm);
    clgrad_profile_set_phase(opt->ctx, was);
    return s;
}
