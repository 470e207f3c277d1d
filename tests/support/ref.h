/* Plain-C reference implementations of every clgrad op, forward and backward.
 *
 * The op tests compare the OpenCL kernels against these functions. They are written for
 * clarity, not speed: naive loops, no OpenCL, no clgrad headers. Conventions shared by all:
 *
 *  - Arrays are contiguous and row-major (last index fastest). Values are float, indices and
 *    labels int32_t. Shapes are int64_t (as in the public API), flat counts size_t.
 *  - Every sum, product and transcendental is evaluated in double; each output is rounded to
 *    float once at the end. Inputs are float.
 *  - Backward functions take the forward inputs plus the upstream gradient `dy` (same shape as
 *    the forward output) and OVERWRITE the gradient outputs (they never accumulate into them).
 *    A gradient output passed as NULL is not computed.
 *  - Semantics follow PyTorch (torch 1.13 / 2.x) wherever PyTorch has the op; each comment says
 *    where a choice had to be made. Edge-case derivatives (relu at 0, ties of max, ...) are
 *    those of PyTorch's autograd formulas.
 *  - Functions that can reject their arguments return int: 0 on success, -1 on a bad shape or
 *    parameter (nothing is written then). The others return void and expect valid arguments.
 *
 * Implemented in ref.c (GEMM, element-wise, reductions, softmax), ref_conv.c (convolution,
 * pooling), ref_nn.c (normalisation, losses, embedding), ref_optim.c, ref_rng.c and ref_rnn.c
 * (recurrent layers). They build into a static library of their own that needs nothing but
 * libm, so clgrad-probe's self-test uses them too.
 */
#ifndef CLGRAD_TESTS_REF_H
#define CLGRAD_TESTS_REF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define REF_MAX_DIMS 8

/* ======================================================================== GEMM (ref.c) */

/* C = alpha * op(A) * op(B) + beta * C, single precision BLAS sgemm semantics, row-major.
 * op(A) is M x K: A[i*lda + k] when trans_a == 0 (lda >= K), A[k*lda + i] when trans_a != 0
 * (A stored K x M, lda >= M). op(B) is K x N: B[k*ldb + j] (ldb >= N) or B[j*ldb + k] (B
 * stored N x K, ldb >= K). C is M x N at C[i*ldc + j] (ldc >= N). When beta == 0, C is not
 * read (NaN/Inf already in C do not propagate), as in BLAS. K == 0 gives beta * C.
 * Batched GEMM is a loop over this function by the caller. */
void ref_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc);

/* Gradients of ref_gemm given dC (M x N, row stride lddc):
 *   d op(A) = alpha * dC * op(B)^T   written into dA in A's own storage layout (trans_a, lda),
 *   d op(B) = alpha * op(A)^T * dC   written into dB in B's own storage layout (trans_b, ldb),
 *   d C_in  = beta * dC              written into dC_in (M x N, row stride ldc_in).
 * Only the M x K (resp. K x N) logical elements of dA (dB) are written; padding between rows is
 * left alone. Any of dA, dB, dC_in may be NULL. */
void ref_gemm_backward(int trans_a, int trans_b, int M, int N, int K, float alpha,
                       const float *A, int lda, const float *B, int ldb,
                       const float *dC, int lddc, float *dA, float *dB,
                       float beta, float *dC_in, int ldc_in);

/* ============================================ unary ops and activations (ref.c) */

/* Element-wise ops y = f(x) on n elements. p0/p1 are the op's parameters (unused ones are
 * ignored). Forward formulas and the derivative used by ref_unary_backward, all PyTorch's:
 *
 *  NEG        -x                                       -1
 *  EXP        e^x                                      e^x
 *  LOG        ln x  (x<0: NaN, 0: -inf)                1/x
 *  SQRT       sqrt x                                   1/(2 sqrt x)     (x=0: +inf)
 *  RSQRT      1/sqrt x                                 -1/(2 x^1.5)
 *  ABS        |x|                                      sign(x), with abs'(0) = 0
 *  ERF        erf x                                    2/sqrt(pi) e^(-x^2)
 *  CLAMP      min(max(x, p0), p1); NaN stays NaN;      1 where p0 <= x <= p1 (bounds
 *             p0 > p1 gives p1 (torch.clamp)              included, torch.clamp), else 0
 *  RELU       max(x, 0)                                1 if x > 0 else 0 (relu'(0) = 0)
 *  LEAKY_RELU x > 0 ? x : p0*x        (p0 = slope)     1 if x > 0 else p0 (so p0 at 0)
 *  ELU        x > 0 ? x : p0*(e^x - 1) (p0 = alpha)    1 if x > 0 else p0*e^x (so p0 at 0)
 *  GELU       x/2 * (1 + erf(x/sqrt 2))  (exact)       (1+erf(x/sqrt2))/2 + x*phi(x),
 *                                                      phi = standard normal density
 *  GELU_TANH  x/2 * (1 + tanh(u)),                     (1+t)/2 + x/2*(1-t^2)*sqrt(2/pi)*
 *             u = sqrt(2/pi)*(x + 0.044715 x^3)           (1 + 3*0.044715 x^2), t = tanh(u)
 *  SILU       x * sigmoid(x)                           s * (1 + x*(1-s)), s = sigmoid(x)
 *  SIGMOID    1/(1+e^-x)                               s*(1-s)
 *  TANH       tanh x                                   1 - tanh^2 x
 *  SOFTPLUS   p0*x > p1 ? x : log1p(e^(p0*x))/p0       p0*x > p1 ? 1 : sigmoid(p0*x)
 *             (p0 = beta, p1 = threshold; torch default beta 1, threshold 20)
 *  HARDTANH   min(max(x, p0), p1) (p0 = min, p1 = max) 1 if p0 < x < p1 else 0: unlike CLAMP,
 *                                                      the bounds themselves get 0 (PyTorch)
 */
typedef enum ref_unary_op {
    REF_UNARY_NEG, REF_UNARY_EXP, REF_UNARY_LOG, REF_UNARY_SQRT, REF_UNARY_RSQRT,
    REF_UNARY_ABS, REF_UNARY_ERF, REF_UNARY_CLAMP,
    REF_UNARY_RELU, REF_UNARY_LEAKY_RELU, REF_UNARY_ELU, REF_UNARY_GELU, REF_UNARY_GELU_TANH,
    REF_UNARY_SILU, REF_UNARY_SIGMOID, REF_UNARY_TANH, REF_UNARY_SOFTPLUS, REF_UNARY_HARDTANH
} ref_unary_op;

/* y[i] = f(x[i]) for i < n. x and y may be the same array. */
void ref_unary_forward(ref_unary_op op, float p0, float p1, size_t n, const float *x, float *y);
/* dx[i] = dy[i] * f'(x[i]) for i < n, with f' from the table above (computed from x, the
 * forward input). */
void ref_unary_backward(ref_unary_op op, float p0, float p1, size_t n, const float *x,
                        const float *dy, float *dx);

/* ========================================== broadcasting binary ops (ref.c) */

/* Binary ops out = f(a, b) with numpy/PyTorch broadcasting. The comparisons produce 1.0f for
 * true and 0.0f for false with IEEE semantics (any comparison with NaN is false, except NE).
 *  ADD a+b   SUB a-b   MUL a*b   DIV a/b (IEEE: x/0 = +-inf, 0/0 = NaN)   POW pow(a, b) (C pow)
 *  MAXIMUM / MINIMUM  the larger / smaller; NaN if either is NaN (torch.maximum/minimum)
 *  EQ NE LT LE GT GE  a==b a!=b a<b a<=b a>b a>=b */
typedef enum ref_binary_op {
    REF_BINARY_ADD, REF_BINARY_SUB, REF_BINARY_MUL, REF_BINARY_DIV, REF_BINARY_POW,
    REF_BINARY_MAXIMUM, REF_BINARY_MINIMUM,
    REF_BINARY_EQ, REF_BINARY_NE, REF_BINARY_LT, REF_BINARY_LE, REF_BINARY_GT, REF_BINARY_GE
} ref_binary_op;

/* Broadcast shape of two shapes by numpy's rules: shapes are aligned on the right, a missing
 * leading dim counts as 1, and two dims are compatible when equal or when one is 1 (a 0-size
 * dim broadcasts only with 0 or 1). Writes max(a_ndim, b_ndim) dims to out_shape and that count
 * to *out_ndim. Returns -1 if incompatible or a rank exceeds REF_MAX_DIMS. A 0-d (scalar)
 * operand has ndim 0 and one element. */
int ref_broadcast_shape(int a_ndim, const int64_t *a_shape, int b_ndim, const int64_t *b_shape,
                        int *out_ndim, int64_t *out_shape);

/* out = f(a, b), elementwise over the output shape (ndim dims, out_shape), where each input's
 * shape (x_ndim <= ndim dims) is right-aligned against out_shape and each of its dims equals the
 * output dim or is 1 (broadcast). Note out_shape is given, not inferred: it must be exactly
 * ref_broadcast_shape(a, b) or a shape both broadcast to. Returns -1 on a mismatch. */
int ref_binary_forward(ref_binary_op op, int ndim, const int64_t *out_shape,
                       int a_ndim, const int64_t *a_shape, const float *a,
                       int b_ndim, const int64_t *b_shape, const float *b, float *out);

/* Gradients of ref_binary_forward for ADD SUB MUL DIV POW MAXIMUM MINIMUM (returns -1 for the
 * comparisons, which have no gradient). dy has the output shape; da/db (NULL allowed) have the
 * shapes of a/b: the elementwise gradient summed over every broadcast dim (PyTorch's
 * sum_to_size). Elementwise rules, PyTorch's autograd formulas:
 *   ADD  da = dy,            db = dy
 *   SUB  da = dy,            db = -dy
 *   MUL  da = dy*b,          db = dy*a
 *   DIV  da = dy/b,          db = -dy*a/b^2
 *   POW  da = b == 0 ? 0 : dy*b*a^(b-1)
 *        db = (a == 0 && b >= 0) ? 0 : dy*a^b*ln(a)       (NaN for a < 0, as PyTorch)
 *   MAXIMUM  a > b: da = dy, db = 0;  a < b: da = 0, db = dy;  a == b: da = db = dy/2 (the tie
 *            is split evenly, like PyTorch); unordered (NaN): da = db = dy (PyTorch's masks).
 *   MINIMUM  mirror image: a < b gives da = dy; ties split dy/2 each. */
int ref_binary_backward(ref_binary_op op, int ndim, const int64_t *out_shape,
                        int a_ndim, const int64_t *a_shape, const float *a,
                        int b_ndim, const int64_t *b_shape, const float *b,
                        const float *dy, float *da, float *db);

/* out = cond != 0 ? a : b (torch.where with a float condition: any nonzero value, NaN included,
 * is true), all three inputs broadcast to out_shape as in ref_binary_forward. */
int ref_where_forward(int ndim, const int64_t *out_shape,
                      int c_ndim, const int64_t *c_shape, const float *cond,
                      int a_ndim, const int64_t *a_shape, const float *a,
                      int b_ndim, const int64_t *b_shape, const float *b, float *out);
/* da = sum_to_size(cond ? dy : 0), db = sum_to_size(cond ? 0 : dy). cond gets no gradient. */
int ref_where_backward(int ndim, const int64_t *out_shape,
                       int c_ndim, const int64_t *c_shape, const float *cond,
                       int a_ndim, const int64_t *a_shape, int b_ndim, const int64_t *b_shape,
                       const float *dy, float *da, float *db);

/* ======================================================= reductions (ref.c) */

/* Reductions of an N-d tensor (ndim <= REF_MAX_DIMS, shape) over the axes whose bit is set in
 * `axes` (bit d = axis d, axis 0 outermost; axes == 0 reduces nothing). The output is the
 * input with the reduced axes removed (equivalently kept as 1: the flat layout is the same),
 * row-major over the kept axes. R below is the number of reduced elements per output, R >= 1.
 *  SUM   sum                                   MEAN  sum / R
 *  MAX   largest value, NaN if any is NaN      MIN   smallest value, NaN if any is NaN
 *        (torch.amax / amin)
 *  VAR   sum((x - mean)^2) / (R - correction), torch.var(correction=...): correction 0 is the
 *        biased variance, 1 the unbiased one; R <= correction gives 0/0 = NaN or x/0 = inf
 *        like PyTorch. `correction` is ignored by the other ops.
 * Returns -1 if ndim is out of range, a bit >= ndim is set, or MAX/MIN has R == 0. */
typedef enum ref_reduce_op {
    REF_REDUCE_SUM, REF_REDUCE_MEAN, REF_REDUCE_MAX, REF_REDUCE_MIN, REF_REDUCE_VAR
} ref_reduce_op;

int ref_reduce_forward(ref_reduce_op op, int ndim, const int64_t *shape, uint32_t axes,
                       int correction, const float *x, float *y);

/* dx (input shape) from dy (output shape):
 *  SUM   dx = dy            MEAN  dx = dy / R
 *  VAR   dx = dy * 2 * (x - mean) / (R - correction)
 *  MAX/MIN  dx = dy / k on the k elements equal to the extreme value of their group, 0 elsewhere:
 *        ties share the gradient evenly, like PyTorch's amax/amin backward. (The gradient of
 *        torch.max(dim) with indices instead goes to the one index; that is not this op.)
 *        A group whose result is NaN gets dx = NaN everywhere (as PyTorch). */
int ref_reduce_backward(ref_reduce_op op, int ndim, const int64_t *shape, uint32_t axes,
                        int correction, const float *x, const float *dy, float *dx);

/* idx[o*inner + i] = the smallest k in [0, axis_len) maximising x[(o*axis_len + k)*inner + i]
 * (torch.argmax: first index of the maximum; a NaN counts as the maximum, so the first NaN wins).
 * The tensor is viewed as (outer, axis_len, inner); axis_len >= 1. */
void ref_argmax(size_t outer, size_t axis_len, size_t inner, const float *x, int32_t *idx);

/* ===================================================== softmax (ref.c) */

/* Softmax along one axis of a tensor viewed as (outer, axis_len, inner): for each (o, i),
 *   y[o,k,i] = exp(x[o,k,i] - m) / sum_j exp(x[o,j,i] - m),  m = max_j x[o,j,i]
 * (torch.softmax). log_softmax: y = x - m - log(sum_j exp(x - m)) (torch.log_softmax). */
void ref_softmax_forward(size_t outer, size_t axis_len, size_t inner, const float *x, float *y);
void ref_log_softmax_forward(size_t outer, size_t axis_len, size_t inner, const float *x, float *y);
/* Backward from the forward OUTPUT y and dy (as PyTorch's _softmax_backward_data):
 *   softmax:      dx = y * (dy - sum_k(dy * y))
 *   log_softmax:  dx = dy - exp(y) * sum_k(dy) */
void ref_softmax_backward(size_t outer, size_t axis_len, size_t inner, const float *y,
                          const float *dy, float *dx);
void ref_log_softmax_backward(size_t outer, size_t axis_len, size_t inner, const float *y,
                              const float *dy, float *dx);

/* ============================================= convolution (ref_conv.c) */

/* Geometry of a 2-d convolution, shared by conv2d and conv_transpose2d. All NCHW.
 * For conv2d:  x (n, c_in, h_in, w_in), weight (c_out, c_in/groups, k_h, k_w),
 *              y (n, c_out, h_out, w_out), h_out = ref_conv2d_out_dim(h_in, k_h, ...).
 * For conv_transpose2d (torch.nn.ConvTranspose2d): x (n, c_in, h_in, w_in),
 *              weight (c_in, c_out/groups, k_h, k_w), y (n, c_out, h_out, w_out),
 *              h_out = ref_conv_transpose2d_out_dim(h_in, k_h, ...).
 * bias, when given, has c_out elements. groups divides c_in and c_out. Zero padding.
 * out_pad_h/w are read by conv_transpose2d only and must be < max(stride, dilation) (PyTorch). */
typedef struct ref_conv2d_params {
    int n, c_in, h_in, w_in;
    int c_out, k_h, k_w;
    int stride_h, stride_w;   /* >= 1 */
    int pad_h, pad_w;         /* >= 0 */
    int dil_h, dil_w;         /* >= 1 */
    int groups;               /* >= 1 */
    int out_pad_h, out_pad_w; /* conv_transpose2d only; >= 0 */
} ref_conv2d_params;

/* floor((in + 2*pad - dil*(k-1) - 1) / stride) + 1; <= 0 means no valid output. */
int ref_conv2d_out_dim(int in, int k, int stride, int pad, int dil);
/* (in - 1)*stride - 2*pad + dil*(k-1) + out_pad + 1. */
int ref_conv_transpose2d_out_dim(int in, int k, int stride, int pad, int dil, int out_pad);

/* y[n,co,oh,ow] = bias[co] + sum over ci in co's group, kh, kw of
 *   x[n,ci,oh*stride_h - pad_h + kh*dil_h, ow*stride_w - pad_w + kw*dil_w] * w[co,ci_local,kh,kw]
 * (torch.nn.functional.conv2d; taps outside the input read 0). bias may be NULL.
 * Returns -1 on a bad geometry (groups not dividing, non-positive sizes or output). */
int ref_conv2d_forward(const ref_conv2d_params *p, const float *x, const float *w,
                       const float *bias, float *y);
/* Gradients of ref_conv2d_forward: dx (x's shape), dw (w's shape), db (c_out) = sum of dy over
 * n, h, w. Any may be NULL. Input positions no output reads (e.g. stride > kernel) get 0. */
int ref_conv2d_backward(const ref_conv2d_params *p, const float *x, const float *w,
                        const float *dy, float *dx, float *dw, float *db);

/* The adjoint of conv2d (torch.nn.functional.conv_transpose2d): each input element scatters
 *   y[n, g*cog + co_local, ih*stride_h - pad_h + kh*dil_h, iw*stride_w - pad_w + kw*dil_w]
 *     += x[n,ci,ih,iw] * w[ci, co_local, kh, kw]          (g = group of ci, cog = c_out/groups)
 * dropping targets outside [0,h_out) x [0,w_out), then bias[co] is added. bias may be NULL. */
int ref_conv_transpose2d_forward(const ref_conv2d_params *p, const float *x, const float *w,
                                 const float *bias, float *y);
/* Gradients of ref_conv_transpose2d_forward: dx (x's shape), dw (c_in, c_out/groups, k_h, k_w),
 * db (c_out). Any may be NULL. */
int ref_conv_transpose2d_backward(const ref_conv2d_params *p, const float *x, const float *w,
                                  const float *dy, float *dx, float *dw, float *db);

/* ================================================= pooling (ref_conv.c) */

/* 2-d pooling over `planes` = N*C independent planes of h_in x w_in (NCHW flattened), output
 * planes of h_out x w_out with h_out = floor((h_in + 2*pad_h - k_h) / stride_h) + 1 (ceil_mode
 * false, dilation 1). PyTorch requires pad <= k/2; so do these functions (else -1). */
typedef struct ref_pool2d_params {
    int planes, h_in, w_in;
    int k_h, k_w;
    int stride_h, stride_w;
    int pad_h, pad_w;
} ref_pool2d_params;

int ref_pool2d_out_dim(int in, int k, int stride, int pad);

/* torch.nn.functional.max_pool2d(return_indices=True): y is the maximum of the window's taps
 * that lie inside the input (padding never wins), idx its position in the input plane as
 * ih*w_in + iw. Exactly PyTorch's CPU loop: start from best = -inf at the first in-input tap,
 * scan the in-input taps row-major and take a tap when `v > best || isnan(v)`. So the first
 * maximum wins ties, and if NaNs are present the LAST NaN wins (y = NaN). idx may be NULL. */
int ref_max_pool2d_forward(const ref_pool2d_params *p, const float *x, float *y, int32_t *idx);
/* dx = 0, then dx[plane, idx] += dy for every output element (overlapping windows add up). */
int ref_max_pool2d_backward(const ref_pool2d_params *p, const int32_t *idx, const float *dy,
                            float *dx);

/* torch.nn.functional.avg_pool2d with count_include_pad=True (the default), ceil_mode=False,
 * no divisor_override: y = (sum of the window's taps inside the input) / D, where D is the
 * window size clipped to the padded input, (min(hs+k_h, h_in+pad_h) - hs) * (same for w),
 * hs = oh*stride_h - pad_h. With ceil_mode false D is always k_h*k_w. */
int ref_avg_pool2d_forward(const ref_pool2d_params *p, const float *x, float *y);
/* dx[tap] = sum over windows containing the tap of dy / D. */
int ref_avg_pool2d_backward(const ref_pool2d_params *p, const float *dy, float *dx);

/* Global average pooling: y[p] = mean of x[p*hw .. p*hw + hw - 1] for p < planes
 * (adaptive_avg_pool2d to 1x1). Backward: dx[p*hw + j] = dy[p] / hw. */
void ref_global_avg_pool_forward(size_t planes, size_t hw, const float *x, float *y);
void ref_global_avg_pool_backward(size_t planes, size_t hw, const float *dy, float *dx);

/* ============================================== normalisation (ref_nn.c) */

/* Batch normalisation of x viewed as (n, c, s), s = product of the spatial dims (1 for (N, C)
 * input), statistics per channel over M = n*s values (torch.nn.functional.batch_norm).
 * Training mode: mean and the biased variance var_b of the batch normalise x,
 *   y = (x - mean) / sqrt(var_b + eps) * weight[c] + bias[c],
 * and, when running_mean/running_var are non-NULL, they are updated in place as
 *   running_mean = (1 - momentum) * running_mean + momentum * mean
 *   running_var  = (1 - momentum) * running_var  + momentum * var_b * M / (M - 1)
 * (the unbiased variance, PyTorch; M == 1 makes it inf/NaN where PyTorch raises an error).
 * weight/bias NULL means 1/0. save_mean and save_invstd (c each, NULL allowed) receive mean
 * and 1/sqrt(var_b + eps), what PyTorch saves for backward. */
void ref_batch_norm_train_forward(size_t n, size_t c, size_t s, const float *x,
                                  const float *weight, const float *bias, float eps,
                                  float momentum, float *running_mean, float *running_var,
                                  float *y, float *save_mean, float *save_invstd);
/* Eval mode: y = (x - running_mean[c]) / sqrt(running_var[c] + eps) * weight[c] + bias[c]. */
void ref_batch_norm_eval_forward(size_t n, size_t c, size_t s, const float *x,
                                 const float *weight, const float *bias,
                                 const float *running_mean, const float *running_var, float eps,
                                 float *y);
/* Training-mode gradients, batch statistics recomputed from x in double. With
 * xhat = (x - mean) * invstd and sums over the M values of a channel:
 *   dbias = sum(dy),  dweight = sum(dy * xhat),
 *   dx = weight * invstd * (dy - dbias/M - xhat * dweight/M).
 * Any of dx, dweight, dbias may be NULL; weight NULL means 1. */
void ref_batch_norm_train_backward(size_t n, size_t c, size_t s, const float *x,
                                   const float *weight, float eps, const float *dy,
                                   float *dx, float *dweight, float *dbias);
/* Eval-mode gradients (running stats are constants):
 *   dx = dy * weight / sqrt(running_var + eps), dweight = sum(dy * xhat), dbias = sum(dy). */
void ref_batch_norm_eval_backward(size_t n, size_t c, size_t s, const float *x,
                                  const float *weight, const float *running_mean,
                                  const float *running_var, float eps, const float *dy,
                                  float *dx, float *dweight, float *dbias);

/* Layer normalisation over the last k dims (torch.nn.functional.layer_norm): x is viewed as
 * (outer, inner) with inner = product of the normalised dims; each row is normalised with its
 * own mean and biased variance, y = (x - mean) / sqrt(var + eps) * weight[j] + bias[j], with
 * weight/bias of `inner` elements or NULL (1/0). save_mean/save_rstd (outer each) may be NULL. */
void ref_layer_norm_forward(size_t outer, size_t inner, const float *x, const float *weight,
                            const float *bias, float eps, float *y, float *save_mean,
                            float *save_rstd);
/* Gradients, statistics recomputed from x. With g = dy * weight and row sums over inner values:
 *   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),
 *   dweight[j] = sum over rows of dy * xhat,  dbias[j] = sum over rows of dy.
 * Any of dx, dweight, dbias may be NULL. */
void ref_layer_norm_backward(size_t outer, size_t inner, const float *x, const float *weight,
                             float eps, const float *dy, float *dx, float *dweight,
                             float *dbias);

/* ===================================================== losses (ref_nn.c) */

/* Loss reductions, PyTorch's `reduction=`: NONE writes one value per sample (element), MEAN
 * and SUM write one float. In the backward functions `dout` points to the upstream gradient:
 * one float for MEAN and SUM, one per sample for NONE. */
typedef enum ref_reduction {
    REF_REDUCTION_NONE, REF_REDUCTION_MEAN, REF_REDUCTION_SUM
} ref_reduction;

/* torch.nn.functional.cross_entropy(logits, labels, ignore_index=, label_smoothing=eps,
 * reduction=) with logits (n, c) and labels (n). With lp = log_softmax(logits[i]):
 *   loss_i = (1 - eps) * (-lp[label_i]) + eps/c * sum_k(-lp[k])
 * Samples with label == ignore_index contribute 0 and are not counted; pass -100 for PyTorch's
 * default. MEAN divides by the number of counted samples (all ignored: 0/0 = NaN, like
 * PyTorch). Other labels must lie in [0, c) or -1 is returned. No class weights. */
int ref_cross_entropy_forward(size_t n, size_t c, const float *logits, const int32_t *labels,
                              int32_t ignore_index, float label_smoothing,
                              ref_reduction reduction, float *out);
/* dlogits[i,k] = s_i * (softmax(logits[i])[k] - (1 - eps)*[k == label_i] - eps/c), with
 * s_i = dout[0]/count (MEAN), dout[0] (SUM) or dout[i] (NONE); rows of ignored samples are 0. */
int ref_cross_entropy_backward(size_t n, size_t c, const float *logits, const int32_t *labels,
                               int32_t ignore_index, float label_smoothing,
                               ref_reduction reduction, const float *dout, float *dlogits);

/* torch.nn.functional.nll_loss(logp, labels, ignore_index=, reduction=) on log-probabilities
 * (n, c): loss_i = -logp[i, label_i], ignored samples 0 and uncounted, MEAN over counted ones. */
int ref_nll_loss_forward(size_t n, size_t c, const float *logp, const int32_t *labels,
                         int32_t ignore_index, ref_reduction reduction, float *out);
/* dlogp[i, label_i] = -s_i (s_i as for cross entropy), every other entry 0. */
int ref_nll_loss_backward(size_t n, size_t c, const int32_t *labels, int32_t ignore_index,
                          ref_reduction reduction, const float *dout, float *dlogp);

/* torch.nn.functional.mse_loss over n elements: loss_i = (x_i - t_i)^2, MEAN divides by n. */
void ref_mse_loss_forward(size_t n, const float *x, const float *target, ref_reduction reduction,
                          float *out);
/* dx_i = 2 * (x_i - t_i) * s_i (s_i = dout[0]/n, dout[0], or dout[i]); dtarget = -dx. Either
 * output may be NULL. */
void ref_mse_loss_backward(size_t n, const float *x, const float *target, ref_reduction reduction,
                           const float *dout, float *dx, float *dtarget);

/* torch.nn.functional.binary_cross_entropy_with_logits (no weight, no pos_weight) over n
 * elements, evaluated in the overflow-free form
 *   loss_i = max(x, 0) - x*t + log1p(exp(-|x|)).  MEAN divides by n. */
void ref_bce_with_logits_forward(size_t n, const float *x, const float *target,
                                 ref_reduction reduction, float *out);
/* dx_i = (sigmoid(x_i) - t_i) * s_i; dtarget_i = -x_i * s_i (PyTorch). Either may be NULL. */
void ref_bce_with_logits_backward(size_t n, const float *x, const float *target,
                                  ref_reduction reduction, const float *dout, float *dx,
                                  float *dtarget);

/* ================================================== embedding (ref_nn.c) */

/* out[i, :] = weight[idx[i], :] for i < n_idx; weight is (num_embeddings, dim). Returns -1 if
 * an index is outside [0, num_embeddings). (torch.nn.functional.embedding, no padding_idx,
 * no max_norm.) */
int ref_embedding_forward(size_t n_idx, size_t dim, size_t num_embeddings, const float *weight,
                          const int32_t *idx, float *out);
/* dweight = 0, then dweight[idx[i], :] += dout[i, :] for every i (repeated indices add up). */
int ref_embedding_backward(size_t n_idx, size_t dim, size_t num_embeddings, const int32_t *idx,
                           const float *dout, float *dweight);

/* ================================================ optimizers (ref_optim.c) */

/* Optimizer state (buf, m, v) is float; each step rounds the new state to float and updates
 * the parameter from the rounded values, as a float implementation does. */

/* One torch.optim.SGD step on n parameters in place (maximize=False):
 *   g = grad + weight_decay * param
 *   if momentum != 0:
 *       buf = first_step ? g : momentum * buf + (1 - dampening) * g   (buf updated in place)
 *       g = nesterov ? g + momentum * buf : buf
 *   param -= lr * g
 * `buf` (n floats) is neither read on the first step nor touched when momentum == 0 (may then
 * be NULL). first_step != 0 marks the step that creates PyTorch's momentum buffer. */
void ref_sgd_step(size_t n, float *param, const float *grad, float *buf, float lr,
                  float momentum, float dampening, int nesterov, float weight_decay,
                  int first_step);

/* One torch.optim.Adam step (amsgrad=False, maximize=False) in place; t is the step number,
 * 1 for the first step; m, v (n floats each, start at 0) are updated in place:
 *   g = grad + weight_decay * param
 *   m = beta1*m + (1-beta1)*g;   v = beta2*v + (1-beta2)*g^2
 *   param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps) */
void ref_adam_step(size_t n, float *param, const float *grad, float *m, float *v, float lr,
                   float beta1, float beta2, float eps, float weight_decay, int64_t t);
/* torch.optim.AdamW: as Adam with g = grad, after first decaying param *= 1 - lr*weight_decay. */
void ref_adamw_step(size_t n, float *param, const float *grad, float *m, float *v, float lr,
                    float beta1, float beta2, float eps, float weight_decay, int64_t t);

/* ========================================================== RNG (ref_rng.c) */

/* Philox4x32-10 (Salmon et al., SC'11; Random123's philox4x32 with R = 10): multipliers
 * 0xD2511F53, 0xCD9E8D57, key increments 0x9E3779B9, 0xBB67AE85. Each round maps
 *   (c0,c1,c2,c3) -> (hi(M1*c2) ^ c1 ^ k0, lo(M1*c2), hi(M0*c0) ^ c3 ^ k1, lo(M0*c0)),
 * and the key is incremented between rounds (9 times). Known answer: ctr = 0, key = 0 gives
 * {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}. */
void ref_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* The library's generator: key = {lo32(seed), hi32(seed)}, ctr = {lo32(offset), hi32(offset),
 * 0, 0}; out = ref_philox4x32_10(ctr, key). */
void ref_philox(uint64_t seed, uint64_t offset, uint32_t out[4]);

/* Uniform float in [0, 1) for element i: w = ref_philox(seed, i / 4)[i % 4], value
 * (w >> 8) * 2^-24, i.e. one of the 2^24 multiples of 2^-24 below 1 (exact in float). */
float ref_uniform(uint64_t seed, uint64_t i);

/* Standard normal for element i by Box-Muller on the pair j = i & ~1 (= 2*(i/2)) and j + 1:
 *   u1 = 1 - ref_uniform(seed, j)       in (0, 1]: (2^24 - (w>>8)) * 2^-24, exact in float
 *   u2 = ref_uniform(seed, j + 1)       in [0, 1)
 *   r = sqrt(-2 ln u1),  a = 2 pi u2
 *   value = r * cos(a) for even i,  r * sin(a) for odd i.
 * The reference evaluates r and a in double and rounds once. |value| <= sqrt(48 ln 2) ~ 5.77;
 * a float device evaluation differs by a few ulp of r, so compare with an absolute tolerance
 * (relative error is unbounded near the zeros of cos and sin). */
float ref_normal(uint64_t seed, uint64_t i);

/* Dropout (torch.nn.functional.dropout, training): element k of x uses the element index
 * i = offset + k; it is kept iff ref_uniform(seed, i) >= p, and y = keep ? x / (1 - p) : 0
 * (the quotient in double, rounded once; p == 1 drops everything and y = 0). y may be NULL
 * to get only the mask. mask (n floats, NULL allowed) receives 1/(1-p) for kept and 0 for
 * dropped elements, so y = x * mask up to rounding. 0 <= p <= 1. The decision depends only on
 * (seed, i), so any launch shape gives the same mask. The statistics equal PyTorch's; the
 * individual draws do not (PyTorch's CPU generator is not Philox). */
void ref_dropout_forward(size_t n, uint64_t seed, uint64_t offset, float p, const float *x,
                         float *y, float *mask);
/* dx = keep ? dy / (1 - p) : 0, with the same keep decision. */
void ref_dropout_backward(size_t n, uint64_t seed, uint64_t offset, float p, const float *dy,
                          float *dx);

/* ========================================== recurrent layers (ref_rnn.c) */

/* torch.nn.RNN (tanh or relu), LSTM and GRU cells; ref_rnn_gates gives the gates per hidden
 * unit, G = gates * H rows of each weight, in PyTorch's order (LSTM: i f g o; GRU: r z n). */
typedef enum ref_rnn_kind { REF_RNN_TANH, REF_RNN_RELU, REF_RNN_LSTM, REF_RNN_GRU } ref_rnn_kind;
int ref_rnn_gates(ref_rnn_kind kind);

/* One layer, one direction, over a time-major sequence. For each step t and sample b, with
 * gi = w_ih x[t, b] + b_ih and gh = w_hh h + b_hh (G values each; a NULL bias is 0):
 *   TANH, RELU  h = act(gi + gh)
 *   LSTM        c = sigmoid(f) * c + sigmoid(i) * tanh(g),  h = sigmoid(o) * tanh(c),
 *               with i, f, g, o the four H-blocks of gi + gh
 *   GRU         r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z),
 *               n = tanh(gi_n + r * gh_n),  h = (1 - z) * n + z * h
 * x is (T, B, I) and w_ih (G, I); w_ih NULL means x already holds the input projection
 * (T, B, G: gi = x[t, b] + b_ih, and I is ignored). w_hh is (G, H). h0 and c0 (LSTM only) are
 * (B, H), NULL for zeros. Writes y (T, B, H, every step's h) and the last hn and cn (B, H);
 * any output may be NULL. Evaluated in double, each output rounded to float once. */
void ref_rnn_forward(ref_rnn_kind kind, int T, int B, int I, int H, const float *x,
                     const float *w_ih, const float *w_hh, const float *b_ih, const float *b_hh,
                     const float *h0, const float *c0, float *y, float *hn, float *cn);

/* Gradients of ref_rnn_forward in its projection form (w_ih NULL: xp (T, B, G) holds the
 * input projection) from dy (T, B, H), the gradient of every step's h, and dcn (B, H), that
 * of the last cell state (LSTM only; NULL for zeros): dxp (T, B, G), dw_hh (G, H), db_ih and
 * db_hh (G each: the gradient of gi + b_ih and of gh = w_hh h + b_hh; equal except for the
 * GRU's candidate gate), dh0 and dc0 (B, H). Any output may be NULL. Backpropagation through
 * time in double, each output rounded to float once. */
void ref_rnn_backward(ref_rnn_kind kind, int T, int B, int H, const float *xp, const float *w_hh,
                      const float *b_ih, const float *b_hh, const float *h0, const float *c0, const float *dy,
                      const float *dcn, float *dxp, float *dw_hh, float *db_ih, float *db_hh, float *dh0,
                      float *dc0);

#ifdef __cplusplus
}
#endif

#endif /* CLGRAD_TESTS_REF_H */
