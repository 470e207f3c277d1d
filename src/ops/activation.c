/* Activation functions: relu, leaky_relu, elu, gelu (erf and tanh forms), silu, sigmoid, tanh,
 * softplus and hardtanh. Each is a unary op of the elementwise machinery (src/ops/
 * elementwise.h) with its fused forward and backward kernels in cl/activation.cl; the
 * backward rules recompute f'(x) from the saved input. */
#include "ops/elementwise.h"

#include <math.h>

#define ACT_DESCRIPTOR(op) CLGRAD__OP_DEFINE(op, "clgrad_" #op, clgrad__unary_backward, clgrad__unary_state)
ACT_DESCRIPTOR(relu);
ACT_DESCRIPTOR(leaky_relu);
ACT_DESCRIPTOR(elu);
ACT_DESCRIPTOR(gelu);
CLGRAD__OP_DEFINE(gelu_tanh, "clgrad_gelu", clgrad__unary_backward, clgrad__unary_state);
ACT_DESCRIPTOR(silu);
ACT_DESCRIPTOR(sigmoid);
ACT_DESCRIPTOR(tanh);
ACT_DESCRIPTOR(softplus);
ACT_DESCRIPTOR(hardtanh);

#define ACT(fn, op, x, p0, p1, out) clgrad__unary(CLGRAD__UNARY_ACTIVATION, fn, #op, x, p0, p1, &clgrad__op_##op, out)

clgrad_status clgrad_relu(clgrad_tensor *x, clgrad_tensor **out)
{
    return ACT("clgrad_relu", relu, x, 0, 0, out);
}

clgrad_status clgrad_leaky_relu(clgrad_tensor *x, float slope, clgrad_tensor **out)
{
    return ACT("clgrad_leaky_relu", leaky_relu, x, slope, 0, out);
}

clgrad_status clgrad_elu(clgrad_tensor *x, float alpha, clgrad_tensor **out)
{
    return ACT("clgrad_elu", elu, x, alpha, 0, out);
}

clgrad_status clgrad_gelu(clgrad_tensor *x, int approximate_tanh, clgrad_tensor **out)
{
    return approximate_tanh ? ACT("clgrad_gelu", gelu_tanh, x, 0, 0, out) : ACT("clgrad_gelu", gelu, x, 0, 0, out);
}

clgrad_status clgrad_silu(clgrad_tensor *x, clgrad_tensor **out)
{
    return ACT("clgrad_silu", silu, x, 0, 0, out);
}

clgrad_status clgrad_sigmoid(clgrad_tensor *x, clgrad_tensor **out)
{
    return ACT("clgrad_sigmoid", sigmoid, x, 0, 0, out);
}

clgrad_status clgrad_tanh(clgrad_tensor *x, clgrad_tensor **out)
{
    return ACT("clgrad_tanh", tanh, x, 0, 0, out);
}

clgrad_status clgrad_softplus(clgrad_tensor *x, float beta, float threshold, clgrad_tensor **out)
{
    if (!(beta != 0.0f) || !isfinite(beta)) {
        if (out) *out = NULL;
        return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_softplus: beta must be finite and non-zero (got %g)", (double)beta);
    }
    return ACT("clgrad_softplus", softplus, x, beta, threshold, out);
}

clgrad_status clgrad_hardtanh(clgrad_tensor *x, float min_val, float max_val, clgrad_tensor **out)
{
    if (!(min_val <= max_val)) {
        if (out) *out = NULL;
        return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_hardtanh: min_val %g is greater than max_val %g", (double)min_val,
                            (double)max_val);
    }
    return ACT("clgrad_hardtanh", hardtanh, x, min_val, max_val, out);
}
