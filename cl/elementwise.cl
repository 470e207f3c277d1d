/* Elementwise kernels: binary arithmetic with numpy broadcasting, comparisons, where, and
 * the unary ops (neg, exp, log, ..., and the tensor-scalar forms, which are unary ops with
 * the scalar as parameter p0), forward and backward.
 *
 * Kernel variants, generated per op by the macros below:
 *   <op>_fwd_f32         contiguous operands of one shape; each work-item handles EW_VW
 *                        consecutive elements with vector loads, the last one the scalar tail.
 *                        NDRange: 1-D >= ceil(n / EW_VW).
 *   <op>_bcast3_f32      output contiguous, inputs strided views broadcast to it (stride 0 on
 *                        broadcast dims), at most 3 dims after the host merged what it could.
 *                        shape/strides as long4 (.x innermost, .y, .z outermost; .w unused).
 *                        NDRange: 3-D >= (shape.x, shape.y, shape.z).
 *   <op>_bcast8_f32      the same for any rank: geometries as long8 for clgrad_offset8.
 *                        NDRange: 1-D >= n.
 *   <op>_bwd_bcast3_f32  binary backward: from gy (contiguous, output shape) and the strided
 *   <op>_bwd_bcast8_f32  inputs, writes the elementwise gradients da and db at the output shape
 *                        (contiguous; either may be NULL). The host sums broadcast dims away.
 *   <op>_bwd_f32         unary backward: dx = dy * f'(x), all contiguous, vectorised as _fwd.
 *
 * -D values: EW_VW  vector width of the contiguous kernels (2, 4, 8 or 16; default 8).
 */
#ifndef EW_VW
#define EW_VW 8
#endif

#define EW_CAT_(a, b) a##b
#define EW_CAT(a, b) EW_CAT_(a, b)
#define floatV EW_CAT(float, EW_VW)
#define VLOAD EW_CAT(vload, EW_VW)
#define VSTORE EW_CAT(vstore, EW_VW)

/* --- binary ops: F(T, a, b) valid for T = float and T = floatV ------------------------------ */

#define OP_add(T, a, b) ((a) + (b))
#define OP_sub(T, a, b) ((a) - (b))
#define OP_mul(T, a, b) ((a) * (b))
#define OP_div(T, a, b) ((a) / (b))
#define OP_pow(T, a, b) pow((a), (b))
/* NaN in either operand gives NaN (torch.maximum), unlike fmax */
#define OP_maximum(T, a, b) select((b), (a), isgreater((a), (b)) | isnan(a))
#define OP_minimum(T, a, b) select((b), (a), isless((a), (b)) | isnan(a))
#define OP_eq(T, a, b) select((T)(0.0f), (T)(1.0f), (a) == (b))
#define OP_ne(T, a, b) select((T)(0.0f), (T)(1.0f), (a) != (b))
#define OP_lt(T, a, b) select((T)(0.0f), (T)(1.0f), (a) < (b))
#define OP_le(T, a, b) select((T)(0.0f), (T)(1.0f), (a) <= (b))
#define OP_gt(T, a, b) select((T)(0.0f), (T)(1.0f), (a) > (b))
#define OP_ge(T, a, b) select((T)(0.0f), (T)(1.0f), (a) >= (b))

/* <op>_fwd_f32: y = F(a, b), contiguous.  Args: y, yoff, a, aoff, b, boff, n. */
/* <op>_bcast3_f32: Args: y, yoff, a, aoff, astride, b, boff, bstride, shape (long4). */
/* <op>_bcast8_f32: Args: y, yoff, a, aoff, ashape, astride, b, boff, bshape, bstride, n. */
#define EW_BINARY(name, F)                                                                          \
kernel void name##_fwd_f32(global float *y, long yoff, global const float *a, long aoff,            \
                           global const float *b, long boff, long n)                                \
{                                                                                                   \
    long i = (long)get_global_id(0) * EW_VW;                                                        \
    if (i + EW_VW <= n) {                                                                           \
        floatV va = VLOAD(0, a + aoff + i), vb = VLOAD(0, b + boff + i);                            \
        VSTORE(F(floatV, va, vb), 0, y + yoff + i);                                                 \
    } else {                                                                                        \
        for (; i < n; i++) {                                                                        \
            float sa = a[aoff + i], sb = b[boff + i];                                               \
            y[yoff + i] = F(float, sa, sb);                                                         \
        }                                                                                           \
    }                                                                                               \
}                                                                                                   \
kernel void name##_bcast3_f32(global float *y, long yoff, global const float *a, long aoff,         \
                              long4 as, global const float *b, long boff, long4 bs, long4 shape)    \
{                                                                                                   \
    long i0 = get_global_id(0), i1 = get_global_id(1), i2 = get_global_id(2);                       \
    if (i0 < shape.x && i1 < shape.y && i2 < shape.z) {                                             \
        float sa = a[aoff + i0 * as.x + i1 * as.y + i2 * as.z];                                     \
        float sb = b[boff + i0 * bs.x + i1 * bs.y + i2 * bs.z];                                     \
        y[yoff + (i2 * shape.y + i1) * shape.x + i0] = F(float, sa, sb);                            \
    }                                                                                               \
}                                                                                                   \
kernel void name##_bcast8_f32(global float *y, long yoff, global const float *a, long aoff,         \
                              long8 ashape, long8 as, global const float *b, long boff,             \
                              long8 bshape, long8 bs, long n)                                       \
{                                                                                                   \
    long i = get_global_id(0);                                                                      \
    if (i < n) {                                                                                    \
        float sa = a[aoff + clgrad_offset8(i, ashape, as)];                                         \
        float sb = b[boff + clgrad_offset8(i, bshape, bs)];                                         \
        y[yoff + i] = F(float, sa, sb);                                                             \
    }                                                                                               \
}

EW_BINARY(add, OP_add)
EW_BINARY(sub, OP_sub)
EW_BINARY(mul, OP_mul)
EW_BINARY(div, OP_div)
EW_BINARY(pow, OP_pow)
EW_BINARY(maximum, OP_maximum)
EW_BINARY(minimum, OP_minimum)
EW_BINARY(eq, OP_eq)
EW_BINARY(ne, OP_ne)
EW_BINARY(lt, OP_lt)
EW_BINARY(le, OP_le)
EW_BINARY(gt, OP_gt)
EW_BINARY(ge, OP_ge)

/* --- binary backward: GA/GB(a, b, g) give da and db for one element (scalar code) ----------- */

#define GA_mul(a, b, g) ((g) * (b))
#define GB_mul(a, b, g) ((g) * (a))
#define GA_div(a, b, g) ((g) / (b))
#define GB_div(a, b, g) (-(g) * (a) / ((b) * (b)))
/* PyTorch's pow formulas: da is 0 where b == 0; db is 0 where a == 0 and b >= 0, else
 * g * a^b * log(a), which is NaN for a < 0 */
#define GA_pow(a, b, g) ((b) == 0.0f ? 0.0f : (g) * (b) * pow((a), (b) - 1.0f))
#define GB_pow(a, b, g) (((a) == 0.0f && (b) >= 0.0f) ? 0.0f : (g) * pow((a), (b)) * log(a))
/* ties split the gradient evenly; unordered (NaN) pairs give it to both (PyTorch's masks) */
#define GA_maximum(a, b, g) ((a) > (b) ? (g) : (a) < (b) ? 0.0f : (a) == (b) ? 0.5f * (g) : (g))
#define GB_maximum(a, b, g) ((b) > (a) ? (g) : (b) < (a) ? 0.0f : (a) == (b) ? 0.5f * (g) : (g))
#define GA_minimum(a, b, g) ((a) < (b) ? (g) : (a) > (b) ? 0.0f : (a) == (b) ? 0.5f * (g) : (g))
#define GB_minimum(a, b, g) ((b) < (a) ? (g) : (b) > (a) ? 0.0f : (a) == (b) ? 0.5f * (g) : (g))

/* <op>_bwd_bcast3_f32: Args: da, daoff, db, dboff, gy, gyoff, a, aoff, astride, b, boff,
 *   bstride, shape (long4).  da/db NULL: not written.
 * <op>_bwd_bcast8_f32: Args: da, daoff, db, dboff, gy, gyoff, a, aoff, ashape, astride, b, boff,
 *   bshape, bstride, n. */
#define EW_BINARY_BWD(name, GA, GB)                                                                 \
kernel void name##_bwd_bcast3_f32(global float *da, long daoff, global float *db, long dboff,       \
                                  global const float *gy, long gyoff, global const float *a,        \
                                  long aoff, long4 as, global const float *b, long boff, long4 bs,  \
                                  long4 shape)                                                      \
{                                                                                                   \
    long i0 = get_global_id(0), i1 = get_global_id(1), i2 = get_global_id(2);                       \
    if (i0 < shape.x && i1 < shape.y && i2 < shape.z) {                                             \
        float sa = a[aoff + i0 * as.x + i1 * as.y + i2 * as.z];                                     \
        float sb = b[boff + i0 * bs.x + i1 * bs.y + i2 * bs.z];                                     \
        long o = (i2 * shape.y + i1) * shape.x + i0;                                                \
        float g = gy[gyoff + o];                                                                    \
        if (da) da[daoff + o] = GA(sa, sb, g);                                                      \
        if (db) db[dboff + o] = GB(sa, sb, g);                                                      \
    }                                                                                               \
}                                                                                                   \
kernel void name##_bwd_bcast8_f32(global float *da, long daoff, global float *db, long dboff,       \
                                  global const float *gy, long gyoff, global const float *a,        \
                                  long aoff, long8 ashape, long8 as, global const float *b,         \
                                  long boff, long8 bshape, long8 bs, long n)                        \
{                                                                                                   \
    long i = get_global_id(0);                                                                      \
    if (i < n) {                                                                                    \
        float sa = a[aoff + clgrad_offset8(i, ashape, as)];                                         \
        float sb = b[boff + clgrad_offset8(i, bshape, bs)];                                         \
        float g = gy[gyoff + i];                                                                    \
        if (da) da[daoff + i] = GA(sa, sb, g);                                                      \
        if (db) db[dboff + i] = GB(sa, sb, g);                                                      \
    }                                                                                               \
}

EW_BINARY_BWD(mul, GA_mul, GB_mul)
EW_BINARY_BWD(div, GA_div, GB_div)
EW_BINARY_BWD(pow, GA_pow, GB_pow)
EW_BINARY_BWD(maximum, GA_maximum, GB_maximum)
EW_BINARY_BWD(minimum, GA_minimum, GB_minimum)

/* --- where: y = c != 0 ? a : b (NaN counts as true) ----------------------------------------- */

/* where_fwd_f32: contiguous.  Args: y, yoff, c, coff, a, aoff, b, boff, n.  NDRange as _fwd. */
kernel void where_fwd_f32(global float *y, long yoff, global const float *c, long coff,
                          global const float *a, long aoff, global const float *b, long boff, long n)
{
    long i = (long)get_global_id(0) * EW_VW;
    if (i + EW_VW <= n) {
        floatV vc = VLOAD(0, c + coff + i);
        VSTORE(select(VLOAD(0, b + boff + i), VLOAD(0, a + aoff + i), vc != (floatV)(0.0f)), 0, y + yoff + i);
    } else {
        for (; i < n; i++) y[yoff + i] = c[coff + i] != 0.0f ? a[aoff + i] : b[boff + i];
    }
}

/* where_bcast3_f32: Args: y, yoff, c, coff, cstride, a, aoff, astride, b, boff, bstride, shape. */
kernel void where_bcast3_f32(global float *y, long yoff, global const float *c, long coff, long4 cs,
                             global const float *a, long aoff, long4 as, global const float *b, long boff,
                             long4 bs, long4 shape)
{
    long i0 = get_global_id(0), i1 = get_global_id(1), i2 = get_global_id(2);
    if (i0 < shape.x && i1 < shape.y && i2 < shape.z) {
        float sc = c[coff + i0 * cs.x + i1 * cs.y + i2 * cs.z];
        float v = sc != 0.0f ? a[aoff + i0 * as.x + i1 * as.y + i2 * as.z]
                             : b[boff + i0 * bs.x + i1 * bs.y + i2 * bs.z];
        y[yoff + (i2 * shape.y + i1) * shape.x + i0] = v;
    }
}

/* where_bcast8_f32: Args: y, yoff, c, coff, cshape, cstride, a, aoff, ashape, astride, b, boff,
 *   bshape, bstride, n. */
kernel void where_bcast8_f32(global float *y, long yoff, global const float *c, long coff, long8 cshape,
                             long8 cs, global const float *a, long aoff, long8 ashape, long8 as,
                             global const float *b, long boff, long8 bshape, long8 bs, long n)
{
    long i = get_global_id(0);
    if (i < n) {
        float sc = c[coff + clgrad_offset8(i, cshape, cs)];
        y[yoff + i] = sc != 0.0f ? a[aoff + clgrad_offset8(i, ashape, as)] : b[boff + clgrad_offset8(i, bshape, bs)];
    }
}

/* where_bwd_bcast3_f32: da = c ? g : 0, db = c ? 0 : g at the output shape (contiguous; either
 * may be NULL).  Args: da, daoff, db, dboff, gy, gyoff, c, coff, cstride, shape (long4). */
kernel void where_bwd_bcast3_f32(global float *da, long daoff, global float *db, long dboff,
                                 global const float *gy, long gyoff, global const float *c, long coff,
                                 long4 cs, long4 shape)
{
    long i0 = get_global_id(0), i1 = get_global_id(1), i2 = get_global_id(2);
    if (i0 < shape.x && i1 < shape.y && i2 < shape.z) {
        int t = c[coff + i0 * cs.x + i1 * cs.y + i2 * cs.z] != 0.0f;
        long o = (i2 * shape.y + i1) * shape.x + i0;
        float g = gy[gyoff + o];
        if (da) da[daoff + o] = t ? g : 0.0f;
        if (db) db[dboff + o] = t ? 0.0f : g;
    }
}

/* where_bwd_bcast8_f32: as above for any rank.  Args: da, daoff, db, dboff, gy, gyoff, c, coff,
 *   cshape, cstride, n. */
kernel void where_bwd_bcast8_f32(global float *da, long daoff, global float *db, long dboff,
                                 global const float *gy, long gyoff, global const float *c, long coff,
                                 long8 cshape, long8 cs, long n)
{
    long i = get_global_id(0);
    if (i < n) {
        int t = c[coff + clgrad_offset8(i, cshape, cs)] != 0.0f;
        float g = gy[gyoff + i];
        if (da) da[daoff + i] = t ? g : 0.0f;
        if (db) db[dboff + i] = t ? 0.0f : g;
    }
}

/* --- unary ops: F(T, x, p0, p1) and the derivative D(T, x, p0, p1), both valid for T = float
 * and T = floatV (p0, p1 are float parameters) -------------------------------------------------- */

#define U_neg(T, x, p0, p1) (-(x))
#define D_neg(T, x, p0, p1) ((T)(-1.0f))
#define U_exp(T, x, p0, p1) exp(x)
#define D_exp(T, x, p0, p1) exp(x)
#define U_log(T, x, p0, p1) log(x)
#define D_log(T, x, p0, p1) ((T)(1.0f) / (x))
#define U_sqrt(T, x, p0, p1) sqrt(x)
#define D_sqrt(T, x, p0, p1) ((T)(0.5f) / sqrt(x))
#define U_rsqrt(T, x, p0, p1) rsqrt(x)
#define D_rsqrt(T, x, p0, p1) ((T)(-0.5f) * rsqrt(x) / (x))
/* the built-in erf as it is: OpenCL C bounds its error (16 ulp), which keeps the relative
 * accuracy near 0 that a 1 - erfc(x) form would lose; erf'(x) = 2/sqrt(pi) exp(-x^2) */
#define U_erf(T, x, p0, p1) erf(x)
#define D_erf(T, x, p0, p1) ((T)(1.1283791670955126f) * exp(-(x) * (x)))
#define U_abs(T, x, p0, p1) fabs(x)
/* sign(x), 0 at 0 (and NaN) */
#define D_abs(T, x, p0, p1) select(select((T)(0.0f), (T)(-1.0f), (x) < (T)(0.0f)), (T)(1.0f), (x) > (T)(0.0f))
/* torch.clamp: NaN stays NaN; p0 > p1 gives p1 everywhere */
#define U_clamp(T, x, p0, p1) ew_clamp_hi(T, select((x), (T)(p0), (x) < (T)(p0)), p1)
#define ew_clamp_hi(T, t, p1) select((t), (T)(p1), (t) > (T)(p1))
/* 1 on [p0, p1], bounds included (torch.clamp's backward) */
#define D_clamp(T, x, p0, p1) select((T)(0.0f), (T)(1.0f), ((x) >= (T)(p0)) & ((x) <= (T)(p1)))

/* tensor-scalar forms: x op p0 */
#define U_add_scalar(T, x, p0, p1) ((x) + (T)(p0))
#define D_add_scalar(T, x, p0, p1) ((T)(1.0f))
#define U_mul_scalar(T, x, p0, p1) ((x) * (T)(p0))
#define D_mul_scalar(T, x, p0, p1) ((T)(p0))
#define U_pow_scalar(T, x, p0, p1) pow((x), (T)(p0))
#define D_pow_scalar(T, x, p0, p1) select((T)(p0) * pow((x), (T)((p0) - 1.0f)), (T)(0.0f), (T)(p0) == (T)(0.0f))
#define U_rsub_scalar(T, x, p0, p1) ((T)(p0) - (x))
#define D_rsub_scalar(T, x, p0, p1) ((T)(-1.0f))
#define U_rdiv_scalar(T, x, p0, p1) ((T)(p0) / (x))
#define D_rdiv_scalar(T, x, p0, p1) (-(T)(p0) / ((x) * (x)))
#define U_maximum_scalar(T, x, p0, p1) OP_maximum(T, x, (T)(p0))
#define U_minimum_scalar(T, x, p0, p1) OP_minimum(T, x, (T)(p0))
/* 1 where x wins, 1/2 on a tie, 1 for NaN x (as the tensor form) */
#define D_maximum_scalar(T, x, p0, p1)                                                              \
    select(select((T)(1.0f), (T)(0.5f), (x) == (T)(p0)), (T)(0.0f), (x) < (T)(p0))
#define D_minimum_scalar(T, x, p0, p1)                                                              \
    select(select((T)(1.0f), (T)(0.5f), (x) == (T)(p0)), (T)(0.0f), (x) > (T)(p0))
#define U_eq_scalar(T, x, p0, p1) OP_eq(T, x, (T)(p0))
#define U_ne_scalar(T, x, p0, p1) OP_ne(T, x, (T)(p0))
#define U_lt_scalar(T, x, p0, p1) OP_lt(T, x, (T)(p0))
#define U_le_scalar(T, x, p0, p1) OP_le(T, x, (T)(p0))
#define U_gt_scalar(T, x, p0, p1) OP_gt(T, x, (T)(p0))
#define U_ge_scalar(T, x, p0, p1) OP_ge(T, x, (T)(p0))

/* <op>_fwd_f32: y = F(x) and <op>_bwd_f32: dx = dy * D(x), contiguous (see
 * CLGRAD_MAP_FWD_KERNEL in common.cl).  NDRange: 1-D >= ceil(n / EW_VW). */
#define EW_UNARY_FWD(name) CLGRAD_MAP_FWD_KERNEL(name##_fwd_f32, U_##name, EW_VW)
#define EW_UNARY_BWD(name) CLGRAD_MAP_BWD_KERNEL(name##_bwd_f32, D_##name, EW_VW)
/* The op names are passed only to ## so that names of built-ins (exp, log, ...), which an
 * implementation may define as macros, are not expanded. */
EW_UNARY_FWD(neg) EW_UNARY_BWD(neg)
EW_UNARY_FWD(exp) EW_UNARY_BWD(exp)
EW_UNARY_FWD(log) EW_UNARY_BWD(log)
EW_UNARY_FWD(sqrt) EW_UNARY_BWD(sqrt)
EW_UNARY_FWD(rsqrt) EW_UNARY_BWD(rsqrt)
EW_UNARY_FWD(abs) EW_UNARY_BWD(abs)
EW_UNARY_FWD(erf) EW_UNARY_BWD(erf)
EW_UNARY_FWD(clamp) EW_UNARY_BWD(clamp)
EW_UNARY_FWD(add_scalar) EW_UNARY_BWD(add_scalar)
EW_UNARY_FWD(mul_scalar) EW_UNARY_BWD(mul_scalar)
EW_UNARY_FWD(pow_scalar) EW_UNARY_BWD(pow_scalar)
EW_UNARY_FWD(rsub_scalar) EW_UNARY_BWD(rsub_scalar)
EW_UNARY_FWD(rdiv_scalar) EW_UNARY_BWD(rdiv_scalar)
EW_UNARY_FWD(maximum_scalar) EW_UNARY_BWD(maximum_scalar)
EW_UNARY_FWD(minimum_scalar) EW_UNARY_BWD(minimum_scalar)
EW_UNARY_FWD(eq_scalar)
EW_UNARY_FWD(ne_scalar)
EW_UNARY_FWD(lt_scalar)
EW_UNARY_FWD(le_scalar)
EW_UNARY_FWD(gt_scalar)
EW_UNARY_FWD(ge_scalar)
