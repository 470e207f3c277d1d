/* Reference GEMM, element-wise ops (unary, activations, broadcasting binary, where),
 * reductions over axis sets, argmax and softmax. Semantics are documented in ref.h; this file
 * keeps the loops naive and accumulates in double. */
#include "ref.h"

#include <math.h>

/* ------------------------------------------------------------------ GEMM */

static double op_at(const float *M, int ld, int trans, int r, int c)
{
    return trans ? (double)M[(size_t)c * (size_t)ld + (size_t)r]
                 : (double)M[(size_t)r * (size_t)ld + (size_t)c];
}

void ref_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc)
{
    for (int i = 0; i < M; ++i) {
        for (int j = 0; j < N; ++j) {
            double acc = 0.0;
            for (int k = 0; k < K; ++k)
                acc += op_at(A, lda, trans_a, i, k) * op_at(B, ldb, trans_b, k, j);
            float *c = &C[(size_t)i * (size_t)ldc + (size_t)j];
            double r = (double)alpha * acc;
            if (beta != 0.0f) /* BLAS: beta == 0 must not read C */
                r += (double)beta * (double)*c;
            *c = (float)r;
        }
    }
}

void ref_gemm_backward(int trans_a, int trans_b, int M, int N, int K, float alpha,
                       const float *A, int lda, const float *B, int ldb,
                       const float *dC, int lddc, float *dA, float *dB,
                       float beta, float *dC_in, int ldc_in)
{
    if (dA) {
        for (int i = 0; i < M; ++i) {
            for (int k = 0; k < K; ++k) {
                double acc = 0.0;
                for (int j = 0; j < N; ++j)
                    acc += (double)dC[(size_t)i * (size_t)lddc + (size_t)j] *
                           op_at(B, ldb, trans_b, k, j);
                size_t at = trans_a ? (size_t)k * (size_t)lda + (size_t)i
                                    : (size_t)i * (size_t)lda + (size_t)k;
                dA[at] = (float)((double)alpha * acc);
            }
        }
    }
    if (dB) {
        for (int k = 0; k < K; ++k) {
            for (int j = 0; j < N; ++j) {
                double acc = 0.0;
                for (int i = 0; i < M; ++i)
                    acc += op_at(A, lda, trans_a, i, k) *
                           (double)dC[(size_t)i * (size_t)lddc + (size_t)j];
                size_t at = trans_b ? (size_t)j * (size_t)ldb + (size_t)k
                                    : (size_t)k * (size_t)ldb + (size_t)j;
                dB[at] = (float)((double)alpha * acc);
            }
        }
    }
    if (dC_in) {
        for (int i = 0; i < M; ++i)
            for (int j = 0; j < N; ++j)
                dC_in[(size_t)i * (size_t)ldc_in + (size_t)j] =
                    (float)((double)beta * (double)dC[(size_t)i * (size_t)lddc + (size_t)j]);
    }
}

/* ----------------------------------------------------- unary and activations */

#define REF_PI 3.14159265358979323846
#define GELU_KAPPA 0.044715

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static double clamp(double x, double lo, double hi)
{
    if (isnan(x))
        return x;
    return fmin(fmax(x, lo), hi);
}

static double unary_f(ref_unary_op op, double p0, double p1, double x)
{
    switch (op) {
    case REF_UNARY_NEG:        return -x;
    case REF_UNARY_EXP:        return exp(x);
    case REF_UNARY_LOG:        return log(x);
    case REF_UNARY_SQRT:       return sqrt(x);
    case REF_UNARY_RSQRT:      return 1.0 / sqrt(x);
    case REF_UNARY_ABS:        return fabs(x);
    case REF_UNARY_ERF:        return erf(x);
    case REF_UNARY_CLAMP:      return clamp(x, p0, p1);
    case REF_UNARY_RELU:       return (x > 0.0 || isnan(x)) ? x : 0.0;
    case REF_UNARY_LEAKY_RELU: return x > 0.0 ? x : p0 * x;
    case REF_UNARY_ELU:        return x > 0.0 ? x : p0 * expm1(x);
    case REF_UNARY_GELU:       return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case REF_UNARY_GELU_TANH: {
        double u = sqrt(2.0 / REF_PI) * (x + GELU_KAPPA * x * x * x);
        return 0.5 * x * (1.0 + tanh(u));
    }
    case REF_UNARY_SILU:       return x * sigmoid(x);
    case REF_UNARY_SIGMOID:    return sigmoid(x);
    case REF_UNARY_TANH:       return tanh(x);
    case REF_UNARY_SOFTPLUS:   return p0 * x > p1 ? x : log1p(exp(p0 * x)) / p0;
    case REF_UNARY_HARDTANH:   return clamp(x, p0, p1);
    }
    return NAN;
}

static double unary_df(ref_unary_op op, double p0, double p1, double x)
{
    switch (op) {
    case REF_UNARY_NEG:        return -1.0;
    case REF_UNARY_EXP:        return exp(x);
    case REF_UNARY_LOG:        return 1.0 / x;
    case REF_UNARY_SQRT:       return 0.5 / sqrt(x);
    case REF_UNARY_RSQRT:      return -0.5 / (x * sqrt(x));
    case REF_UNARY_ABS:        return x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : 0.0);
    case REF_UNARY_ERF:        return 2.0 / sqrt(REF_PI) * exp(-x * x);
    case REF_UNARY_CLAMP:      return (x >= p0 && x <= p1) ? 1.0 : 0.0;
    case REF_UNARY_RELU:       return x > 0.0 ? 1.0 : 0.0;
    case REF_UNARY_LEAKY_RELU: return x > 0.0 ? 1.0 : p0;
    case REF_UNARY_ELU:        return x > 0.0 ? 1.0 : p0 * exp(x);
    case REF_UNARY_GELU:
        return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * REF_PI);
    case REF_UNARY_GELU_TANH: {
        double k = sqrt(2.0 / REF_PI);
        double t = tanh(k * (x + GELU_KAPPA * x * x * x));
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * GELU_KAPPA * x * x);
    }
    case REF_UNARY_SILU: {
        double s = sigmoid(x);
        return s * (1.0 + x * (1.0 - s));
    }
    case REF_UNARY_SIGMOID: {
        double s = sigmoid(x);
        return s * (1.0 - s);
    }
    case REF_UNARY_TANH: {
        double t = tanh(x);
        return 1.0 - t * t;
    }
    case REF_UNARY_SOFTPLUS:   return p0 * x > p1 ? 1.0 : sigmoid(p0 * x);
    case REF_UNARY_HARDTANH:   return (x > p0 && x < p1) ? 1.0 : 0.0;
    }
    return NAN;
}

void ref_unary_forward(ref_unary_op op, float p0, float p1, size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; ++i)
        y[i] = (float)unary_f(op, p0, p1, x[i]);
}

void ref_unary_backward(ref_unary_op op, float p0, float p1, size_t n, const float *x,
                        const float *dy, float *dx)
{
    for (size_t i = 0; i < n; ++i)
        dx[i] = (float)((double)dy[i] * unary_df(op, p0, p1, x[i]));
}

/* ------------------------------------------------------- shape helpers */

/* A subset of a tensor's axes: extents and element strides, in row-major order. */
typedef struct axes_view {
    int n;
    int64_t ext[REF_MAX_DIMS];
    int64_t str[REF_MAX_DIMS];
} axes_view;

static size_t view_numel(const axes_view *v)
{
    size_t n = 1;
    for (int d = 0; d < v->n; ++d)
        n *= (size_t)v->ext[d];
    return n;
}

/* Element offset of the lin-th position (row-major) of the view. */
static size_t view_offset(const axes_view *v, size_t lin)
{
    size_t off = 0;
    for (int d = v->n - 1; d >= 0; --d) {
        size_t e = (size_t)v->ext[d];
        off += (lin % e) * (size_t)v->str[d];
        lin /= e;
    }
    return off;
}

static size_t shape_numel(int ndim, const int64_t *shape)
{
    size_t n = 1;
    for (int d = 0; d < ndim; ++d)
        n *= (size_t)shape[d];
    return n;
}

static void contiguous_strides(int ndim, const int64_t *shape, int64_t *str)
{
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; --d) {
        str[d] = s;
        s *= shape[d];
    }
}

/* Splits the axes of (shape, strides) into those whose bit in `mask` is clear (kept) and set
 * (red), each keeping its stride. */
static void split_axes(int ndim, const int64_t *shape, const int64_t *str, uint32_t mask,
                       axes_view *kept, axes_view *red)
{
    kept->n = red->n = 0;
    for (int d = 0; d < ndim; ++d) {
        axes_view *v = (mask >> d) & 1u ? red : kept;
        v->ext[v->n] = shape[d];
        v->str[v->n] = str[d];
        v->n++;
    }
}

/* Strides of input x (x_ndim dims, right-aligned) broadcast to out_shape: 0 along broadcast
 * axes, the contiguous stride elsewhere. -1 if x cannot be broadcast to out_shape. */
static int bcast_strides(int ndim, const int64_t *out_shape, int x_ndim, const int64_t *x_shape,
                         int64_t *str)
{
    if (ndim < 0 || ndim > REF_MAX_DIMS || x_ndim < 0 || x_ndim > ndim)
        return -1;
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; --d) {
        if (out_shape[d] < 0)
            return -1;
        int xd = d - (ndim - x_ndim);
        if (xd < 0) {
            str[d] = 0;
            continue;
        }
        int64_t e = x_shape[xd];
        if (e == out_shape[d])
            str[d] = e == 1 ? 0 : s;
        else if (e == 1)
            str[d] = 0;
        else
            return -1;
        s *= e;
    }
    return 0;
}

/* Offset in a broadcast input of the output element at linear index lin. */
static size_t bcast_offset(int ndim, const int64_t *out_shape, const int64_t *str, size_t lin)
{
    size_t off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
        size_t e = (size_t)out_shape[d];
        off += (lin % e) * (size_t)str[d];
        lin /= e;
    }
    return off;
}

/* The axes along which an input with broadcast strides `str` is broadcast (stride 0, output
 * extent other than 1; a 0 extent makes the sum empty, so the gradient is 0). Summing over
 * them maps the output onto the input; the input's flat index is then the row-major index
 * over the remaining axes. */
static uint32_t bcast_mask(int ndim, const int64_t *out_shape, const int64_t *str)
{
    uint32_t m = 0;
    for (int d = 0; d < ndim; ++d)
        if (str[d] == 0 && out_shape[d] != 1)
            m |= 1u << d;
    return m;
}

int ref_broadcast_shape(int a_ndim, const int64_t *a_shape, int b_ndim, const int64_t *b_shape,
                        int *out_ndim, int64_t *out_shape)
{
    if (a_ndim < 0 || b_ndim < 0 || a_ndim > REF_MAX_DIMS || b_ndim > REF_MAX_DIMS)
        return -1;
    int nd = a_ndim > b_ndim ? a_ndim : b_ndim;
    int64_t tmp[REF_MAX_DIMS];
    for (int d = nd - 1; d >= 0; --d) {
        int ad = d - (nd - a_ndim), bd = d - (nd - b_ndim);
        int64_t ea = ad >= 0 ? a_shape[ad] : 1, eb = bd >= 0 ? b_shape[bd] : 1;
        if (ea < 0 || eb < 0)
            return -1;
        if (ea == eb || eb == 1)
            tmp[d] = ea;
        else if (ea == 1)
            tmp[d] = eb;
        else
            return -1;
    }
    for (int d = 0; d < nd; ++d)
        out_shape[d] = tmp[d];
    *out_ndim = nd;
    return 0;
}

/* ------------------------------------------------------------ binary ops */

static double binary_f(ref_binary_op op, double a, double b)
{
    switch (op) {
    case REF_BINARY_ADD: return a + b;
    case REF_BINARY_SUB: return a - b;
    case REF_BINARY_MUL: return a * b;
    case REF_BINARY_DIV: return a / b;
    case REF_BINARY_POW: return pow(a, b);
    case REF_BINARY_MAXIMUM: return (isnan(a) || isnan(b)) ? NAN : (a > b ? a : b);
    case REF_BINARY_MINIMUM: return (isnan(a) || isnan(b)) ? NAN : (a < b ? a : b);
    case REF_BINARY_EQ: return a == b;
    case REF_BINARY_NE: return a != b;
    case REF_BINARY_LT: return a < b;
    case REF_BINARY_LE: return a <= b;
    case REF_BINARY_GT: return a > b;
    case REF_BINARY_GE: return a >= b;
    }
    return NAN;
}

int ref_binary_forward(ref_binary_op op, int ndim, const int64_t *out_shape,
                       int a_ndim, const int64_t *a_shape, const float *a,
                       int b_ndim, const int64_t *b_shape, const float *b, float *out)
{
    int64_t sa[REF_MAX_DIMS], sb[REF_MAX_DIMS];
    if (bcast_strides(ndim, out_shape, a_ndim, a_shape, sa) ||
        bcast_strides(ndim, out_shape, b_ndim, b_shape, sb))
        return -1;
    size_t n = shape_numel(ndim, out_shape);
    for (size_t i = 0; i < n; ++i) {
        double x = a[bcast_offset(ndim, out_shape, sa, i)];
        double y = b[bcast_offset(ndim, out_shape, sb, i)];
        out[i] = (float)binary_f(op, x, y);
    }
    return 0;
}

/* Elementwise partial derivatives of op at (a, b): *ga = d/da, *gb = d/db. */
static void binary_df(ref_binary_op op, double a, double b, double *ga, double *gb)
{
    switch (op) {
    case REF_BINARY_ADD: *ga = 1.0; *gb = 1.0; break;
    case REF_BINARY_SUB: *ga = 1.0; *gb = -1.0; break;
    case REF_BINARY_MUL: *ga = b; *gb = a; break;
    case REF_BINARY_DIV: *ga = 1.0 / b; *gb = -a / (b * b); break;
    case REF_BINARY_POW:
        *ga = b == 0.0 ? 0.0 : b * pow(a, b - 1.0);
        *gb = (a == 0.0 && b >= 0.0) ? 0.0 : pow(a, b) * log(a);
        break;
    case REF_BINARY_MAXIMUM:
    case REF_BINARY_MINIMUM: {
        /* PyTorch: where(a == b, g/2, g), then zero the loser; NaN pairs lose nowhere. */
        double g = a == b ? 0.5 : 1.0;
        int a_loses = op == REF_BINARY_MAXIMUM ? a < b : a > b;
        int b_loses = op == REF_BINARY_MAXIMUM ? a > b : a < b;
        *ga = a_loses ? 0.0 : g;
        *gb = b_loses ? 0.0 : g;
        break;
    }
    default: *ga = *gb = NAN; break;
    }
}

/* Gradient of one broadcast operand (which = 0 for a, 1 for b): for each of its elements,
 * the sum over the broadcast axes of dy * its partial derivative. */
static void binary_grad_one(ref_binary_op op, int which, int ndim, const int64_t *out_shape,
                            const int64_t *sa, const float *a, const int64_t *sb, const float *b,
                            const float *dy, float *dx)
{
    int64_t out_str[REF_MAX_DIMS];
    axes_view kept, red;
    contiguous_strides(ndim, out_shape, out_str);
    split_axes(ndim, out_shape, out_str, bcast_mask(ndim, out_shape, which ? sb : sa),
               &kept, &red);
    size_t nk = view_numel(&kept), nr = view_numel(&red);
    for (size_t k = 0; k < nk; ++k) {
        double acc = 0.0;
        for (size_t r = 0; r < nr; ++r) {
            size_t o = view_offset(&kept, k) + view_offset(&red, r);
            double ga, gb;
            binary_df(op, a[bcast_offset(ndim, out_shape, sa, o)],
                      b[bcast_offset(ndim, out_shape, sb, o)], &ga, &gb);
            acc += (double)dy[o] * (which ? gb : ga);
        }
        dx[k] = (float)acc;
    }
}

int ref_binary_backward(ref_binary_op op, int ndim, const int64_t *out_shape,
                        int a_ndim, const int64_t *a_shape, const float *a,
                        int b_ndim, const int64_t *b_shape, const float *b,
                        const float *dy, float *da, float *db)
{
    int64_t sa[REF_MAX_DIMS], sb[REF_MAX_DIMS];
    if (op > REF_BINARY_MINIMUM || bcast_strides(ndim, out_shape, a_ndim, a_shape, sa) ||
        bcast_strides(ndim, out_shape, b_ndim, b_shape, sb))
        return -1;
    if (da)
        binary_grad_one(op, 0, ndim, out_shape, sa, a, sb, b, dy, da);
    if (db)
        binary_grad_one(op, 1, ndim, out_shape, sa, a, sb, b, dy, db);
    return 0;
}

int ref_where_forward(int ndim, const int64_t *out_shape,
                      int c_ndim, const int64_t *c_shape, const float *cond,
                      int a_ndim, const int64_t *a_shape, const float *a,
                      int b_ndim, const int64_t *b_shape, const float *b, float *out)
{
    int64_t sc[REF_MAX_DIMS], sa[REF_MAX_DIMS], sb[REF_MAX_DIMS];
    if (bcast_strides(ndim, out_shape, c_ndim, c_shape, sc) ||
        bcast_strides(ndim, out_shape, a_ndim, a_shape, sa) ||
        bcast_strides(ndim, out_shape, b_ndim, b_shape, sb))
        return -1;
    size_t n = shape_numel(ndim, out_shape);
    for (size_t i = 0; i < n; ++i)
        out[i] = cond[bcast_offset(ndim, out_shape, sc, i)] != 0.0f
                     ? a[bcast_offset(ndim, out_shape, sa, i)]
                     : b[bcast_offset(ndim, out_shape, sb, i)];
    return 0;
}

int ref_where_backward(int ndim, const int64_t *out_shape,
                       int c_ndim, const int64_t *c_shape, const float *cond,
                       int a_ndim, const int64_t *a_shape, int b_ndim, const int64_t *b_shape,
                       const float *dy, float *da, float *db)
{
    int64_t sc[REF_MAX_DIMS], sx[2][REF_MAX_DIMS], out_str[REF_MAX_DIMS];
    if (bcast_strides(ndim, out_shape, c_ndim, c_shape, sc) ||
        bcast_strides(ndim, out_shape, a_ndim, a_shape, sx[0]) ||
        bcast_strides(ndim, out_shape, b_ndim, b_shape, sx[1]))
        return -1;
    contiguous_strides(ndim, out_shape, out_str);
    float *dst[2] = { da, db };
    for (int w = 0; w < 2; ++w) {
        if (!dst[w])
            continue;
        axes_view kept, red;
        split_axes(ndim, out_shape, out_str, bcast_mask(ndim, out_shape, sx[w]), &kept, &red);
        size_t nk = view_numel(&kept), nr = view_numel(&red);
        for (size_t k = 0; k < nk; ++k) {
            double acc = 0.0;
            for (size_t r = 0; r < nr; ++r) {
                size_t o = view_offset(&kept, k) + view_offset(&red, r);
                int taken = cond[bcast_offset(ndim, out_shape, sc, o)] != 0.0f;
                if (taken == (w == 0))
                    acc += dy[o];
            }
            dst[w][k] = (float)acc;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ reductions */

static int reduce_views(int ndim, const int64_t *shape, uint32_t axes, axes_view *kept,
                        axes_view *red)
{
    int64_t str[REF_MAX_DIMS];
    if (ndim < 0 || ndim > REF_MAX_DIMS || (axes >> ndim) != 0)
        return -1;
    for (int d = 0; d < ndim; ++d)
        if (shape[d] < 0)
            return -1;
    contiguous_strides(ndim, shape, str);
    split_axes(ndim, shape, str, axes, kept, red);
    return 0;
}

/* Extreme (max when want_max) of one group, NaN if any member is NaN. */
static double group_extreme(const float *x, size_t base, const axes_view *red, size_t nr,
                            int want_max)
{
    double best = x[base + view_offset(red, 0)];
    for (size_t r = 0; r < nr; ++r) {
        double v = x[base + view_offset(red, r)];
        if (isnan(v))
            return v;
        if (want_max ? v > best : v < best)
            best = v;
    }
    return best;
}

static double group_mean(const float *x, size_t base, const axes_view *red, size_t nr)
{
    double s = 0.0;
    for (size_t r = 0; r < nr; ++r)
        s += x[base + view_offset(red, r)];
    return s / (double)nr;
}

int ref_reduce_forward(ref_reduce_op op, int ndim, const int64_t *shape, uint32_t axes,
                       int correction, const float *x, float *y)
{
    axes_view kept, red;
    if (reduce_views(ndim, shape, axes, &kept, &red))
        return -1;
    size_t nk = view_numel(&kept), nr = view_numel(&red);
    if (nr == 0 && (op == REF_REDUCE_MAX || op == REF_REDUCE_MIN))
        return -1;
    for (size_t k = 0; k < nk; ++k) {
        size_t base = view_offset(&kept, k);
        double v = 0.0;
        switch (op) {
        case REF_REDUCE_SUM:
            for (size_t r = 0; r < nr; ++r)
                v += x[base + view_offset(&red, r)];
            break;
        case REF_REDUCE_MEAN:
            v = group_mean(x, base, &red, nr);
            break;
        case REF_REDUCE_MAX:
        case REF_REDUCE_MIN:
            v = group_extreme(x, base, &red, nr, op == REF_REDUCE_MAX);
            break;
        case REF_REDUCE_VAR: {
            double mean = group_mean(x, base, &red, nr), ss = 0.0;
            for (size_t r = 0; r < nr; ++r) {
                double d = x[base + view_offset(&red, r)] - mean;
                ss += d * d;
            }
            double div = (double)nr - (double)correction;
            v = ss / (div > 0.0 ? div : 0.0);
            break;
        }
        }
        y[k] = (float)v;
    }
    return 0;
}

int ref_reduce_backward(ref_reduce_op op, int ndim, const int64_t *shape, uint32_t axes,
                        int correction, const float *x, const float *dy, float *dx)
{
    axes_view kept, red;
    if (reduce_views(ndim, shape, axes, &kept, &red))
        return -1;
    size_t nk = view_numel(&kept), nr = view_numel(&red);
    if (nr == 0) /* dx is empty */
        return (op == REF_REDUCE_MAX || op == REF_REDUCE_MIN) ? -1 : 0;
    for (size_t k = 0; k < nk; ++k) {
        size_t base = view_offset(&kept, k);
        double g = dy[k];
        switch (op) {
        case REF_REDUCE_SUM:
        case REF_REDUCE_MEAN: {
            float v = (float)(op == REF_REDUCE_SUM ? g : g / (double)nr);
            for (size_t r = 0; r < nr; ++r)
                dx[base + view_offset(&red, r)] = v;
            break;
        }
        case REF_REDUCE_MAX:
        case REF_REDUCE_MIN: {
            double best = group_extreme(x, base, &red, nr, op == REF_REDUCE_MAX);
            size_t ties = 0;
            for (size_t r = 0; r < nr; ++r)
                ties += (double)x[base + view_offset(&red, r)] == best;
            for (size_t r = 0; r < nr; ++r) {
                size_t at = base + view_offset(&red, r);
                /* A NaN result matches nothing: PyTorch's (dy / 0) * mask makes it all NaN. */
                dx[at] = isnan(best) ? NAN
                         : (double)x[at] == best ? (float)(g / (double)ties) : 0.0f;
            }
            break;
        }
        case REF_REDUCE_VAR: {
            double mean = group_mean(x, base, &red, nr);
            double div = (double)nr - (double)correction;
            double scale = 2.0 * g / (div > 0.0 ? div : 0.0);
            for (size_t r = 0; r < nr; ++r) {
                size_t at = base + view_offset(&red, r);
                dx[at] = (float)(scale * ((double)x[at] - mean));
            }
            break;
        }
        }
    }
    return 0;
}

void ref_argmax(size_t outer, size_t axis_len, size_t inner, const float *x, int32_t *idx)
{
    for (size_t o = 0; o < outer; ++o) {
        for (size_t i = 0; i < inner; ++i) {
            const float *p = x + o * axis_len * inner + i;
            size_t best = 0;
            for (size_t k = 0; k < axis_len; ++k) {
                float v = p[k * inner];
                if (isnan(v)) {
                    best = k;
                    break;
                }
                if (v > p[best * inner])
                    best = k;
            }
            idx[o * inner + i] = (int32_t)best;
        }
    }
}

/* --------------------------------------------------------------- softmax */

/* Max and sum(exp(x - max)) of one softmax row. */
static void softmax_row_stats(const float *p, size_t len, size_t inner, double *m, double *s)
{
    double mx = -INFINITY, sum = 0.0;
    for (size_t k = 0; k < len; ++k)
        mx = fmax(mx, (double)p[k * inner]);
    for (size_t k = 0; k < len; ++k)
        sum += exp((double)p[k * inner] - mx);
    *m = mx;
    *s = sum;
}

void ref_softmax_forward(size_t outer, size_t axis_len, size_t inner, const float *x, float *y)
{
    for (size_t o = 0; o < outer; ++o) {
        for (size_t i = 0; i < inner; ++i) {
            size_t base = o * axis_len * inner + i;
            double m, s;
            softmax_row_stats(x + base, axis_len, inner, &m, &s);
            for (size_t k = 0; k < axis_len; ++k)
                y[base + k * inner] = (float)(exp((double)x[base + k * inner] - m) / s);
        }
    }
}

void ref_log_softmax_forward(size_t outer, size_t axis_len, size_t inner, const float *x, float *y)
{
    for (size_t o = 0; o < outer; ++o) {
        for (size_t i = 0; i < inner; ++i) {
            size_t base = o * axis_len * inner + i;
            double m, s;
            softmax_row_stats(x + base, axis_len, inner, &m, &s);
            double lse = m + log(s);
            for (size_t k = 0; k < axis_len; ++k)
                y[base + k * inner] = (float)((double)x[base + k * inner] - lse);
        }
    }
}

void ref_softmax_backward(size_t outer, size_t axis_len, size_t inner, const float *y,
                          const float *dy, float *dx)
{
    for (size_t o = 0; o < outer; ++o) {
        for (size_t i = 0; i < inner; ++i) {
            size_t base = o * axis_len * inner + i;
            double dot = 0.0;
            for (size_t k = 0; k < axis_len; ++k)
                dot += (double)dy[base + k * inner] * (double)y[base + k * inner];
            for (size_t k = 0; k < axis_len; ++k) {
                size_t at = base + k * inner;
                dx[at] = (float)((double)y[at] * ((double)dy[at] - dot));
            }
        }
    }
}

void ref_log_softmax_backward(size_t outer, size_t axis_len, size_t inner, const float *y,
                              const float *dy, float *dx)
{
    for (size_t o = 0; o < outer; ++o) {
        for (size_t i = 0; i < inner; ++i) {
            size_t base = o * axis_len * inner + i;
            double sum = 0.0;
            for (size_t k = 0; k < axis_len; ++k)
                sum += dy[base + k * inner];
            for (size_t k = 0; k < axis_len; ++k) {
                size_t at = base + k * inner;
                dx[at] = (float)((double)dy[at] - exp((double)y[at]) * sum);
            }
        }
    }
}
