/* The activations as layers: one module kind holding an activation and its parameters
 * (slope, alpha, beta and threshold, bounds or softmax axis). */
#include "nn/nn.h"

#include <math.h>

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

static const clgrad__module_vtable act_vt = {"activation", act_forward, clgrad__module_free_impl, act_describe};

int clgrad__module_is_relu(const clgrad_module *m)
{
    return m && m->vt == &act_vt && ((const act_impl *)m->impl)->kind == CLGRAD_ACT_RELU;
}

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
    CLGRAD_TRY(clgrad__module_new_impl(ctx, &act_vt, sizeof(act_impl), &m));
    act_impl *A = m->impl;
    A->kind = kind;
    A->p0 = p0;
    A->p1 = p1;
    *out = m;
    return CLGRAD_OK;
}
