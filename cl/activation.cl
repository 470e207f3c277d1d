/* Activation kernels, forward and backward: relu, leaky_relu, elu, gelu (erf and tanh forms),
 * silu, sigmoid, tanh, softplus, hardtanh.
 *
 *   <op>_fwd_f32  y = f(x).  Args: y, yoff, x, xoff, n, p0, p1.
 *   <op>_bwd_f32  dx = dy * f'(x).  Args: dx, dxoff, x, xoff, dy, dyoff, n, p0, p1.
 * All operands contiguous (the host makes strided inputs contiguous first). Each work-item
 * handles AC_VW consecutive elements with vector loads; the last one also the scalar tail.
 * NDRange: 1-D >= ceil(n / AC_VW). p0, p1: the op's parameters (slope, alpha, beta and
 * threshold, min and max), ignored by the others.
 *
 * -D values: AC_VW  vector width (2, 4, 8 or 16; default 8).
 */
#ifndef AC_VW
#define AC_VW 8
#endif

#define AC_CAT_(a, b) a##b
#define AC_CAT(a, b) AC_CAT_(a, b)
#define floatV AC_CAT(float, AC_VW)
#define VLOAD AC_CAT(vload, AC_VW)
#define VSTORE AC_CAT(vstore, AC_VW)

/* F(T, x, p0, p1) and its derivative D(T, x, p0, p1), valid for T = float and T = floatV.
 * Comparisons go through select so that the same text serves scalars and vectors. */

/* relu keeps NaN (as torch.relu); relu'(0) = 0 */
#define F_relu(T, x, p0, p1) CLGRAD_RELU(T, x)
#define D_relu(T, x, p0, p1) select((T)(0.0f), (T)(1.0f), (x) > (T)(0.0f))
#define F_leaky_relu(T, x, p0, p1) select((x) * (T)(p0), (x), (x) > (T)(0.0f))
#define D_leaky_relu(T, x, p0, p1) select((T)(p0), (T)(1.0f), (x) > (T)(0.0f))
#define F_elu(T, x, p0, p1) select((T)(p0) * expm1(x), (x), (x) > (T)(0.0f))
#define D_elu(T, x, p0, p1) select((T)(p0) * exp(x), (T)(1.0f), (x) > (T)(0.0f))

/* x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2 = erfc(-x / sqrt 2) / 2, the erfc form
 * keeping its accuracy for negative x; Phi'(x) = exp(-x^2/2) / sqrt(2 pi). erfc is our own
 * (ac_erfc below): the built-in is not vectorised on some CPU implementations and runs
 * 20x slower than the rest of the kernel. */
#define F_gelu(T, x, p0, p1) ((T)(0.5f) * (x) * ac_erfc_##T(-(x) * (T)(M_SQRT1_2_F)))
#define D_gelu(T, x, p0, p1) \
    ((T)(0.5f) * ac_erfc_##T(-(x) * (T)(M_SQRT1_2_F)) + (x) * (T)(0.3989422804014327f) * exp((T)(-0.5f) * (x) * (x)))

/* x/2 * (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), evaluated as x * s with
 * s = sigmoid(2u) = (1 + tanh(u)) / 2, which avoids the cancellation in 1 + tanh(u) for
 * negative x; the derivative is s + 2 x s (1 - s) u'. */
#define AC_GK0 0.7978845608028654f
#define AC_GK1 0.044715f
#define F_gelu_tanh(T, x, p0, p1) \
    ((x) / ((T)(1.0f) + exp((T)(-2.0f * AC_GK0) * ((x) + (T)(AC_GK1) * (x) * (x) * (x)))))
#define D_gelu_tanh(T, x, p0, p1) gelu_tanh_d_##T(x)

#define F_sigmoid(T, x, p0, p1) ((T)(1.0f) / ((T)(1.0f) + exp(-(x))))
#define D_sigmoid(T, x, p0, p1) sigmoid_d_##T(x)
#define F_silu(T, x, p0, p1) ((x) / ((T)(1.0f) + exp(-(x))))
#define D_silu(T, x, p0, p1) silu_d_##T(x)
#define F_tanh(T, x, p0, p1) tanh(x)
#define D_tanh(T, x, p0, p1) tanh_d_##T(x)

/* log(1 + exp(beta x)) / beta, x itself where beta x > threshold (PyTorch) */
#define F_softplus(T, x, p0, p1) \
    select(log1p(exp((x) * (T)(p0))) / (T)(p0), (x), (x) * (T)(p0) > (T)(p1))
#define D_softplus(T, x, p0, p1) \
    select((T)(1.0f) / ((T)(1.0f) + exp(-(x) * (T)(p0))), (T)(1.0f), (x) * (T)(p0) > (T)(p1))

/* clamp to [p0, p1]; the gradient is 0 at the bounds themselves (PyTorch) */
#define F_hardtanh(T, x, p0, p1) ac_hi(T, select((x), (T)(p0), (x) < (T)(p0)), p1)
#define ac_hi(T, t, p1) select((t), (T)(p1), (t) > (T)(p1))
#define D_hardtanh(T, x, p0, p1) select((T)(0.0f), (T)(1.0f), ((x) > (T)(p0)) & ((x) < (T)(p1)))

/* Derivatives that reuse an intermediate, written once per type. */
#define AC_HELPERS(T)                                                                               \
/* erfc by the classic Chebyshev fit erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2) for z >= 0,  \
 * fractional error below 1.2e-7; erfc(-z) = 2 - erfc(z). */                                        \
static inline T ac_erfc_##T(T x)                                                                    \
{                                                                                                   \
    T z = fabs(x);                                                                                  \
    T t = (T)(1.0f) / ((T)(1.0f) + (T)(0.5f) * z);                                                  \
    T p = (T)(0.17087277f);                                                                         \
    p = mad(p, t, (T)(-0.82215223f));                                                               \
    p = mad(p, t, (T)(1.48851587f));                                                                \
    p = mad(p, t, (T)(-1.13520398f));                                                               \
    p = mad(p, t, (T)(0.27886807f));                                                                \
    p = mad(p, t, (T)(-0.18628806f));                                                               \
    p = mad(p, t, (T)(0.09678418f));                                                                \
    p = mad(p, t, (T)(0.37409196f));                                                                \
    p = mad(p, t, (T)(1.00002368f));                                                                \
    p = mad(p, t, (T)(-1.26551223f));                                                               \
    T r = t * exp(p - z * z);                                                                       \
    return select(r, (T)(2.0f) - r, x < (T)(0.0f));                                                 \
}                                                                                                   \
static inline T gelu_tanh_d_##T(T x)                                                                \
{                                                                                                   \
    T x2 = x * x;                                                                                   \
    T s = (T)(1.0f) / ((T)(1.0f) + exp((T)(-2.0f * AC_GK0) * (x + (T)(AC_GK1) * x2 * x)));          \
    return s + (T)(2.0f * AC_GK0) * x * s * ((T)(1.0f) - s) * ((T)(1.0f) + (T)(3.0f * AC_GK1) * x2); \
}                                                                                                   \
static inline T sigmoid_d_##T(T x)                                                                  \
{                                                                                                   \
    T s = (T)(1.0f) / ((T)(1.0f) + exp(-x));                                                        \
    return s * ((T)(1.0f) - s);                                                                     \
}                                                                                                   \
static inline T silu_d_##T(T x)                                                                     \
{                                                                                                   \
    T s = (T)(1.0f) / ((T)(1.0f) + exp(-x));                                                        \
    return s * ((T)(1.0f) + x * ((T)(1.0f) - s));                                                   \
}                                                                                                   \
static inline T tanh_d_##T(T x)                                                                     \
{                                                                                                   \
    T t = tanh(x);                                                                                  \
    return (T)(1.0f) - t * t;                                                                       \
}

AC_HELPERS(float)
AC_HELPERS(floatV)

#define AC_KERNELS(name)                                                                            \
    CLGRAD_MAP_FWD_KERNEL(name##_fwd_f32, F_##name, AC_VW)                                          \
    CLGRAD_MAP_BWD_KERNEL(name##_bwd_f32, D_##name, AC_VW)

AC_KERNELS(relu)
AC_KERNELS(leaky_relu)
AC_KERNELS(elu)
AC_KERNELS(gelu)
AC_KERNELS(gelu_tanh)
AC_KERNELS(silu)
AC_KERNELS(sigmoid)
AC_KERNELS(tanh)
AC_KERNELS(softplus)
AC_KERNELS(hardtanh)
