/* clgrad ops: every op takes borrowed input tensors and hands back a new reference through
 * its last parameter (*out is NULL on failure). f32 unless stated. Ops on tensors that
 * require grad are recorded for clgrad_backward (outside a no-grad scope). Shapes follow
 * PyTorch: NCHW images, (N, C) logits, numpy broadcasting for elementwise ops. Inputs may
 * be non-contiguous views. Included by clgrad.h. */
#ifndef CLGRAD_OPS_H
#define CLGRAD_OPS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- matmul ------------------------------------------------------------------------------- */

/* a (..., M, K) x b (..., K, N) -> (..., M, N); 1-D operands as in numpy.matmul; batch
 * dims broadcast. */
CLGRAD_API clgrad_status clgrad_matmul(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out);
/* GEMM semantics in place: c = alpha * op(a) @ op(b) + beta * c, with op = transpose when
 * trans_* is non-zero; a, b, c 2-D or 3-D (batched, same batch). beta == 0 ignores c's old
 * contents. c may share memory with a or b (computed into a temporary first), but not be a
 * view in which several elements share memory (CLGRAD_ERR_INVALID_ARG). Not tracked by
 * autograd. */
CLGRAD_API clgrad_status clgrad_gemm(int trans_a, int trans_b, float alpha, clgrad_tensor *a, clgrad_tensor *b,
                                     float beta, clgrad_tensor *c);

/* --- convolution and pooling (NCHW) -------------------------------------------------------- */

typedef struct clgrad_conv2d_params {
    int stride[2];   /* h, w; 0 means 1 */
    int padding[2];  /* h, w */
    int dilation[2]; /* h, w; 0 means 1 */
    int groups;      /* 0 means 1 */
    int output_padding[2]; /* conv_transpose2d only */
} clgrad_conv2d_params;

/* x (N, C_in, H, W), w (C_out, C_in/groups, kH, kW), bias (C_out) or NULL. */
CLGRAD_API clgrad_status clgrad_conv2d(clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *bias,
                                       const clgrad_conv2d_params *p, clgrad_tensor **out);
/* x (N, C_in, H, W), w (C_in, C_out/groups, kH, kW), bias (C_out) or NULL (PyTorch's
 * ConvTranspose2d). */
CLGRAD_API clgrad_status clgrad_conv_transpose2d(clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *bias,
                                                 const clgrad_conv2d_params *p, clgrad_tensor **out);

typedef struct clgrad_pool2d_params {
    int kernel[2];  /* h, w */
    int stride[2];  /* 0 means kernel size */
    int padding[2];
} clgrad_pool2d_params;

/* indices (optional, may be NULL): i32 (N, C, H_out, W_out) flat h*W+w of each max. */
CLGRAD_API clgrad_status clgrad_max_pool2d(clgrad_tensor *x, const clgrad_pool2d_params *p, clgrad_tensor **out,
                                           clgrad_tensor **indices);
/* Padding counted in the divisor (PyTorch's count_include_pad=True). */
CLGRAD_API clgrad_status clgrad_avg_pool2d(clgrad_tensor *x, const clgrad_pool2d_params *p, clgrad_tensor **out);
/* (N, C, H, W) -> (N, C, 1, 1). */
CLGRAD_API clgrad_status clgrad_global_avg_pool2d(clgrad_tensor *x, clgrad_tensor **out);

/* --- activations ---------------------------------------------------------------------------- */

CLGRAD_API clgrad_status clgrad_relu(clgrad_tensor *x, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_leaky_relu(clgrad_tensor *x, float slope, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_elu(clgrad_tensor *x, float alpha, clgrad_tensor **out);
/* approximate_tanh 0: x * Phi(x) with erf; 1: the tanh approximation. */
CLGRAD_API clgrad_status clgrad_gelu(clgrad_tensor *x, int approximate_tanh, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_silu(clgrad_tensor *x, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_sigmoid(clgrad_tensor *x, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_tanh(clgrad_tensor *x, clgrad_tensor **out);
/* log(1 + exp(beta x)) / beta, linear where beta x > threshold (PyTorch defaults 1, 20). */
CLGRAD_API clgrad_status clgrad_softplus(clgrad_tensor *x, float beta, float threshold, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_hardtanh(clgrad_tensor *x, float min_val, float max_val, clgrad_tensor **out);
/* Along axis (negative counts from the end); numerically stable (the row maximum is
 * subtracted first). Deterministic: row sums use the reductions' fixed order. */
CLGRAD_API clgrad_status clgrad_softmax(clgrad_tensor *x, int axis, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_log_softmax(clgrad_tensor *x, int axis, clgrad_tensor **out);

/* --- elementwise (numpy broadcasting) ------------------------------------------------------- */

CLGRAD_API clgrad_status clgrad_add(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_sub(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_mul(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_div(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_pow(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_maximum(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_minimum(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out);
/* Tensor-scalar forms: a op s. */
CLGRAD_API clgrad_status clgrad_add_scalar(clgrad_tensor *a, float s, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_mul_scalar(clgrad_tensor *a, float s, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_pow_scalar(clgrad_tensor *a, float s, clgrad_tensor **out);
/* s - a and s / a. */
CLGRAD_API clgrad_status clgrad_rsub_scalar(clgrad_tensor *a, float s, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_rdiv_scalar(clgrad_tensor *a, float s, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_maximum_scalar(clgrad_tensor *a, float s, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_minimum_scalar(clgrad_tensor *a, float s, clgrad_tensor **out);

CLGRAD_API clgrad_status clgrad_neg(clgrad_tensor *x, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_exp(clgrad_tensor *x, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_log(clgrad_tensor *x, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_sqrt(clgrad_tensor *x, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_rsqrt(clgrad_tensor *x, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_abs(clgrad_tensor *x, clgrad_tensor **out);
/* The error function, 2/sqrt(pi) * integral of exp(-t^2) from 0 to x. */
CLGRAD_API clgrad_status clgrad_erf(clgrad_tensor *x, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_clamp(clgrad_tensor *x, float lo, float hi, clgrad_tensor **out);

typedef enum clgrad_cmp {
    CLGRAD_CMP_EQ = 0, CLGRAD_CMP_NE = 1, CLGRAD_CMP_LT = 2,
    CLGRAD_CMP_LE = 3, CLGRAD_CMP_GT = 4, CLGRAD_CMP_GE = 5,
} clgrad_cmp;
/* Mask of 1.0 where (a op b) holds, else 0.0 (f32, broadcast shape). Not differentiable. */
CLGRAD_API clgrad_status clgrad_compare(clgrad_tensor *a, clgrad_cmp op, clgrad_tensor *b, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_compare_scalar(clgrad_tensor *a, clgrad_cmp op, float s, clgrad_tensor **out);
/* cond != 0 ? a : b, all three broadcast together; differentiable in a and b. */
CLGRAD_API clgrad_status clgrad_where(clgrad_tensor *cond, clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out);

/* --- reductions ------------------------------------------------------------------------------ */

/* Over the axes listed (naxes 0 or axes NULL: all axes; negative axes count from the end;
 * a repeated or out-of-range axis is INVALID_ARG); keepdim keeps them as size 1, else they
 * are removed (all of them: a 0-d result). Results are bit-identical run after run and do
 * not depend on the device's work-group size (a fixed reduction order, no float atomics).
 * max/min propagate NaN (torch.amax/amin); their gradient is split evenly among tied
 * elements. Over zero elements sum gives 0, mean and var NaN, max/min/argmax fail (SHAPE). */
CLGRAD_API clgrad_status clgrad_sum(clgrad_tensor *x, int naxes, const int *axes, int keepdim, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_mean(clgrad_tensor *x, int naxes, const int *axes, int keepdim, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_max(clgrad_tensor *x, int naxes, const int *axes, int keepdim, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_min(clgrad_tensor *x, int naxes, const int *axes, int keepdim, clgrad_tensor **out);
/* Divides by max(0, R - correction) for R reduced elements: correction 1 is unbiased
 * (PyTorch's default), 0 the population variance; R <= correction gives NaN or inf as
 * PyTorch. correction < 0 is INVALID_ARG. */
CLGRAD_API clgrad_status clgrad_var(clgrad_tensor *x, int naxes, const int *axes, int correction, int keepdim,
                                    clgrad_tensor **out);
/* i32 index of the first maximum along axis (a NaN counts as the maximum). An axis longer
 * than INT32_MAX is CLGRAD_ERR_SHAPE. Not differentiable. */
CLGRAD_API clgrad_status clgrad_argmax(clgrad_tensor *x, int axis, int keepdim, clgrad_tensor **out);

/* --- normalization --------------------------------------------------------------------------- */

/* x (N, C, ...). training: normalise with batch statistics and update running_mean and
 * running_var in place (momentum, unbiased variance) when they are given; it needs more
 * than one value per channel (CLGRAD_ERR_SHAPE otherwise, as PyTorch). eval: use them
 * (both required). weight/bias (C) or NULL. In training, running_mean and running_var must
 * not share memory with x, with each other or among their own elements (INVALID_ARG). */
CLGRAD_API clgrad_status clgrad_batch_norm(clgrad_tensor *x, clgrad_tensor *weight, clgrad_tensor *bias,
                                           clgrad_tensor *running_mean, clgrad_tensor *running_var, int training,
                                           float momentum, float eps, clgrad_tensor **out);
/* Normalises over the last n_norm_dims dims; weight/bias of that trailing shape or NULL. */
CLGRAD_API clgrad_status clgrad_layer_norm(clgrad_tensor *x, int n_norm_dims, clgrad_tensor *weight,
                                           clgrad_tensor *bias, float eps, clgrad_tensor **out);

/* --- losses ---------------------------------------------------------------------------------- */

typedef enum clgrad_reduction {
    CLGRAD_REDUCTION_MEAN = 0, CLGRAD_REDUCTION_SUM = 1, CLGRAD_REDUCTION_NONE = 2,
} clgrad_reduction;

/* logits (N, C), labels i32 (N) in [0, C) or -100 (ignored, PyTorch's ignore_index).
 * label_smoothing in [0, 1] as PyTorch. MEAN divides by the number of labels that are not
 * ignored (all ignored: NaN, as PyTorch); NONE gives (N) with 0 for ignored samples; MEAN
 * and SUM give a 0-d tensor. Labels are checked on the device, without a host
 * synchronisation: a label outside [0, C) other than -100 is never used as an index, and it
 * makes its sample's loss (hence a MEAN or SUM) NaN and its gradient row NaN. The same holds
 * for clgrad_nll_loss. */
CLGRAD_API clgrad_status clgrad_cross_entropy(clgrad_tensor *logits, clgrad_tensor *labels, float label_smoothing,
                                              clgrad_reduction red, clgrad_tensor **out);
/* logp (N, C) log-probabilities, labels as above. */
CLGRAD_API clgrad_status clgrad_nll_loss(clgrad_tensor *logp, clgrad_tensor *labels, clgrad_reduction red,
                                         clgrad_tensor **out);
/* pred/logits and target must have the same shape (no broadcasting); NONE gives that shape,
 * MEAN and SUM a 0-d tensor. bce_with_logits uses the overflow-free form
 * max(x, 0) - x t + log1p(exp(-|x|)). Both are differentiable in both arguments. */
CLGRAD_API clgrad_status clgrad_mse_loss(clgrad_tensor *pred, clgrad_tensor *target, clgrad_reduction red,
                                         clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_bce_with_logits(clgrad_tensor *logits, clgrad_tensor *target, clgrad_reduction red,
                                                clgrad_tensor **out);

/* --- dropout and embedding ------------------------------------------------------------------- */

/* training 0 or p == 0: returns x itself (a new reference). Else keeps element i when the
 * Philox uniform for (seed, i) is >= p and scales kept elements by 1 / (1 - p): the same
 * seed gives the same mask on every device. */
CLGRAD_API clgrad_status clgrad_dropout(clgrad_tensor *x, float p, uint64_t seed, int training, clgrad_tensor **out);
/* weight (V, D), indices i32 of any shape -> (..., D). Backward is a deterministic
 * scatter-add. An index outside [0, V) is not checked on the host (that would need a
 * read-back): its output row is 0 and it receives no gradient. */
CLGRAD_API clgrad_status clgrad_embedding(clgrad_tensor *weight, clgrad_tensor *indices, clgrad_tensor **out);

/* --- concatenation --------------------------------------------------------------------------- */

/* Joins n >= 1 tensors (same dtype and context) into a new contiguous tensor. cat: along
 * the existing dim (negative counts from the end); all other dims must match. stack: along
 * a new dim inserted at dim (in [-(ndim+1), ndim]); all shapes must be equal. The
 * gradient of each input is a view of its part of the output's gradient. */
CLGRAD_API clgrad_status clgrad_cat(int n, clgrad_tensor *const *tensors, int dim, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_stack(int n, clgrad_tensor *const *tensors, int dim, clgrad_tensor **out);

#ifdef __cplusplus
}
#endif

#endif
