/* Random tensors from a counter-based Philox4x32-10 stream (clgrad_tensor_uniform,
 * clgrad_tensor_normal). Element i of a tensor (row-major) takes the value of index i of the
 * stream keyed by the seed, so results do not depend on the launch shape; uniform values
 * (and dropout masks) are the same on every device, normal values within a few ulp. */
#include "ops/rng.h"

#include <math.h>

static clgrad_status launch_stream(clgrad_tensor *dst, const char *kernel, uint64_t seed, uint64_t start, float a,
                                   float b)
{
    int64_t n = clgrad__numel(dst->ndim, dst->shape);
    if (n == 0) return CLGRAD_OK;
    cl_ulong s = seed, st = start;
    cl_float fa = a, fb = b;
    size_t blocks = (size_t)(((uint64_t)n + start % 4 + 3) / 4);
    clgrad__kargs args = CLGRAD_ARGS(CLGRAD_KARG_T(dst), CLGRAD_KARG(n), CLGRAD_KARG(s), CLGRAD_KARG(st),
                                     CLGRAD_KARG(fa), CLGRAD_KARG(fb));
    return clgrad__launch_1d(dst->ctx, CLGRAD__RNG_FAMILY, NULL, kernel, blocks, args);
}

clgrad_status clgrad__philox_uniform(clgrad_tensor *dst, uint64_t seed, uint64_t start, float lo, float hi)
{
    return launch_stream(dst, "uniform_f32", seed, start, lo, hi);
}

clgrad_status clgrad__philox_normal(clgrad_tensor *dst, uint64_t seed, uint64_t start, float mean, float std)
{
    return launch_stream(dst, "normal_f32", seed, start, mean, std);
}

clgrad_status clgrad__dropout_apply(clgrad_tensor *y, clgrad_tensor *x, float p, uint64_t seed)
{
    int64_t n = clgrad__numel(x->ndim, x->shape);
    if (n == 0) return CLGRAD_OK;
    clgrad__geom g;
    clgrad__geom_of(x, &g);
    cl_ulong s = seed;
    cl_float fp = p;
    cl_float scale = p < 1.0f ? (cl_float)(1.0 / (1.0 - (double)p)) : 0.0f;
    clgrad__kargs args = CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG_T(x),   CLGRAD_KARG(g.shape), CLGRAD_KARG(g.stride),
                                     CLGRAD_KARG(n),    CLGRAD_KARG(s),    CLGRAD_KARG(fp),      CLGRAD_KARG(scale));
    return clgrad__launch_1d(y->ctx, CLGRAD__RNG_FAMILY, NULL, "dropout_f32", (size_t)n, args);
}

static clgrad_status random_tensor(clgrad_context *ctx, const char *fn, int ndim, const int64_t *shape, uint64_t seed,
                                   float a, float b, int normal, clgrad_tensor **out)
{
    if (out) *out = NULL;
    if (!ctx || !out) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: ctx and out must not be NULL", fn);
    CLGRAD_TRY(clgrad__check_shape(ctx, fn, ndim, shape));
    if (!isfinite(a) || !isfinite(b) || (normal && b < 0.0f) || (!normal && b < a))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: invalid parameters %g, %g (%s)", fn, (double)a, (double)b,
                            normal ? "std must be finite and >= 0" : "need finite lo <= hi");
    clgrad_tensor *t;
    CLGRAD_TRY(clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, ndim, shape, &t));
    clgrad_status st = normal ? clgrad__philox_normal(t, seed, 0, a, b) : clgrad__philox_uniform(t, seed, 0, a, b);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(t);
        return st;
    }
    *out = t;
    return CLGRAD_OK;
}

clgrad_status clgrad_tensor_uniform(clgrad_context *ctx, int ndim, const int64_t *shape, uint64_t seed, float lo,
                                    float hi, clgrad_tensor **out)
{
    return random_tensor(ctx, "clgrad_tensor_uniform", ndim, shape, seed, lo, hi, 0, out);
}

clgrad_status clgrad_tensor_normal(clgrad_context *ctx, int ndim, const int64_t *shape, uint64_t seed, float mean,
                                   float std, clgrad_tensor **out)
{
    return random_tensor(ctx, "clgrad_tensor_normal", ndim, shape, seed, mean, std, 1, out);
}
