/* 2-d pooling on NCHW tensors: max pooling (with the argmax indices its backward needs),
 * average pooling (padding counted in the divisor) and global average pooling, each with
 * its autograd rule. Backward kernels gather per input pixel, so they are deterministic. */
#include "ops/ops.h"
#include "ops/op_table.h"

#include <stdio.h>
#include <string.h>


#define FAMILY "pool"

typedef struct pool_geom {
    int n, c, h, w, ho, wo, kh, kw, sh, sw, ph, pw;
} pool_geom;

static cl_long4 strides4(const clgrad_tensor *t)
{
    cl_long4 s;
    for (int i = 0; i < 4; i++) s.s[i] = t->strides[i];
    return s;
}

static clgrad_status check_x4(const char *fn, clgrad_tensor *x)
{
    CLGRAD_TRY(clgrad__check_tensor(NULL, fn, "x", x, CLGRAD_DTYPE_F32));
    char a[128];
    if (x->ndim != 4)
        return clgrad__fail(x->ctx, CLGRAD_ERR_SHAPE, "%s: x %s must be 4-D (N, C, H, W)", fn,
                            clgrad__shape_str(a, sizeof a, x->ndim, x->shape));
    for (int i = 0; i < 4; i++)
        if (x->shape[i] >= ((int64_t)1 << 30))
            return clgrad__fail(x->ctx, CLGRAD_ERR_SHAPE, "%s: x %s has a dimension too large", fn,
                                clgrad__shape_str(a, sizeof a, 4, x->shape));
    if (x->shape[2] * x->shape[3] >= ((int64_t)1 << 31))
        return clgrad__fail(x->ctx, CLGRAD_ERR_SHAPE, "%s: x %s has planes too large", fn,
                            clgrad__shape_str(a, sizeof a, 4, x->shape));
    if (x->shape[2] < 1 || x->shape[3] < 1)
        return clgrad__fail(x->ctx, CLGRAD_ERR_SHAPE, "%s: x %s has an empty plane", fn,
                            clgrad__shape_str(a, sizeof a, 4, x->shape));
    return CLGRAD_OK;
}

static clgrad_status pool_setup(const char *fn, clgrad_tensor *x, const clgrad_pool2d_params *p, pool_geom *g)
{
    CLGRAD_TRY(check_x4(fn, x));
    if (!p) return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "%s: params is NULL", fn);
    int kh = p->kernel[0], kw = p->kernel[1];
    int sh = p->stride[0] ? p->stride[0] : kh, sw = p->stride[1] ? p->stride[1] : kw;
    int ph = p->padding[0], pw = p->padding[1];
    const int big = 1 << 20;
    if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || kh > big || kw > big || sh > big || sw > big)
        return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG,
                            "%s: kernel (%d, %d) must be positive, stride (%d, %d) non-negative, padding (%d, %d) "
                            "non-negative",
                            fn, kh, kw, p->stride[0], p->stride[1], ph, pw);
    if (ph > kh / 2 || pw > kw / 2)
        return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG,
                            "%s: padding (%d, %d) must be at most half the kernel (%d, %d)", fn, ph, pw, kh, kw);
    int64_t eh = x->shape[2] + 2 * (int64_t)ph - kh, ew = x->shape[3] + 2 * (int64_t)pw - kw;
    int64_t ho = eh < 0 ? 0 : eh / sh + 1, wo = ew < 0 ? 0 : ew / sw + 1;
    if (ho < 1 || wo < 1) {
        char a[128];
        return clgrad__fail(x->ctx, CLGRAD_ERR_SHAPE,
                            "%s: x %s with kernel (%d, %d), stride (%d, %d), padding (%d, %d) gives an output of "
                            "%lld x %lld",
                            fn, clgrad__shape_str(a, sizeof a, 4, x->shape), kh, kw, sh, sw, ph, pw, (long long)ho,
                            (long long)wo);
    }
    g->n = (int)x->shape[0], g->c = (int)x->shape[1], g->h = (int)x->shape[2], g->w = (int)x->shape[3];
    g->ho = (int)ho, g->wo = (int)wo, g->kh = kh, g->kw = kw, g->sh = sh, g->sw = sw, g->ph = ph, g->pw = pw;
    return CLGRAD_OK;
}

/* A (pixels, planes) launch: work-groups inside one plane, so the plane's image and channel
 * are uniform across a work-group; planes fold over dims 1 and 2 (pool_plane in cl/pool.cl). */
static clgrad_status launch2(clgrad_context *ctx, const char *kernel, int64_t pixels, int64_t planes, clgrad__kargs args)
{
    size_t fold = clgrad__fold_limit(ctx), ydim = (size_t)planes < fold ? (size_t)planes : fold;
    size_t global[3] = {(size_t)pixels, ydim, ydim ? ((size_t)planes + ydim - 1) / ydim : 0};
    size_t maxwg = ctx->dev.info.max_work_group_size ? ctx->dev.info.max_work_group_size : 1;
    size_t l0 = global[0] < maxwg ? global[0] : maxwg;
    if (l0 > 256) l0 = 256;
    size_t local[3] = {l0 ? l0 : 1, 1, 1};
    return clgrad__launch(ctx, FAMILY, NULL, kernel, 3, global, local, args);
}

/* Small windows get the loop-free kernels of cl/pool.cl, specialised by -D values. */
static int fixed_window(const pool_geom *g, char *opts, size_t cap)
{
    if (g->kh * g->kw > 16 || g->sh > 8 || g->sw > 8) return 0;
    snprintf(opts, cap, "-DPOOL_KH=%d -DPOOL_KW=%d -DPOOL_SH=%d -DPOOL_SW=%d", g->kh, g->kw, g->sh, g->sw);
    return 1;
}

/* A (column, row, plane) launch of a fixed-window kernel; *p0 is its plane0 argument.
 * Planes go in launches of at most clgrad__fold_limit(). */
static clgrad_status launch_planes(clgrad_context *ctx, const char *opts, const char *kernel, int64_t cols,
                                   int64_t rows, int64_t planes, cl_long *p0, clgrad__kargs args)
{
    size_t lx = cols > 8 ? 16 : 8, ly = 4;
    const int64_t fold = (int64_t)clgrad__fold_limit(ctx);
    for (*p0 = 0; *p0 < planes; *p0 += fold) {
        int64_t np = planes - *p0 < fold ? planes - *p0 : fold;
        size_t global[3] = {(size_t)cols, (size_t)rows, (size_t)np};
        size_t local[3] = {lx, ly, 1};
        CLGRAD_TRY(clgrad__launch(ctx, FAMILY, opts, kernel, 3, global, local, args));
    }
    return CLGRAD_OK;
}

#define POOL_KARGS(g)                                                                              \
    CLGRAD_KARG((g)->c), CLGRAD_KARG((g)->h), CLGRAD_KARG((g)->w), CLGRAD_KARG((g)->ho),           \
        CLGRAD_KARG((g)->wo), CLGRAD_KARG((g)->kh), CLGRAD_KARG((g)->kw), CLGRAD_KARG((g)->sh),    \
        CLGRAD_KARG((g)->sw), CLGRAD_KARG((g)->ph), CLGRAD_KARG((g)->pw)

/* Shared tail of the windowed ops: record op (state: the geometry) when needed, hand out y. */
static clgrad_status finish(clgrad_tensor *x, clgrad_tensor *y, const clgrad__op *op, const pool_geom *g,
                            clgrad_tensor *saved, clgrad_status st, clgrad_tensor **out)
{
    if (st == CLGRAD_OK) st = clgrad__record(y, op, 1, &x, g, 1, &saved);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

/* --- max pooling ---------------------------------------------------------------------------- */

static clgrad_status max_pool_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    pool_geom g = *CLGRAD__NODE_STATE(nd, pool_geom);
    clgrad_tensor *idx = nd->saved[0], *dx;
    int64_t shape[4] = {g.n, g.c, g.h, g.w};
    CLGRAD_TRY(clgrad__tensor_new(gy->ctx, CLGRAD_DTYPE_F32, 4, shape, &dx));
    cl_long4 dys = strides4(gy);
    cl_long planes = (cl_long)g.n * g.c;
    char opts[96];
    clgrad_status st;
    if (fixed_window(&g, opts, sizeof opts)) {
        cl_long p0 = 0;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(gy), CLGRAD_KARG(dys), CLGRAD_KARG_T(idx), CLGRAD_KARG_T(dx),
                                      CLGRAD_KARG(g.c),  CLGRAD_KARG(g.h), CLGRAD_KARG(g.w),   CLGRAD_KARG(g.ho),
                                      CLGRAD_KARG(g.wo), CLGRAD_KARG(g.ph), CLGRAD_KARG(g.pw), CLGRAD_KARG(p0),
                                      CLGRAD_KARG(planes));
        if (g.kh == g.sh && g.kw == g.sw && g.ph == 0 && g.pw == 0 && g.h == g.ho * g.kh && g.w == g.wo * g.kw) {
            clgrad_tensor *gc = NULL;
            st = clgrad__contiguous(gy, &gc);
            cl_long rows = planes * g.ho;
            if (st == CLGRAD_OK && g.kh == 2 && g.kw == 2 && clgrad__ops_tuning(gy->ctx)->row_kernels) {
                clgrad__kargs b =
                    CLGRAD_ARGS(CLGRAD_KARG_T(gc), CLGRAD_KARG_T(idx), CLGRAD_KARG_T(dx), CLGRAD_KARG(g.h),
                                CLGRAD_KARG(g.w), CLGRAD_KARG(g.ho), CLGRAD_KARG(g.wo), CLGRAD_KARG(rows));
                st = clgrad__launch_1d(gy->ctx, FAMILY, NULL, "maxpool_2x2_bwd_f32", (size_t)rows, b);
            } else if (st == CLGRAD_OK) {
                clgrad__kargs b = CLGRAD_ARGS(CLGRAD_KARG_T(gc), CLGRAD_KARG_T(idx), CLGRAD_KARG_T(dx),
                                              CLGRAD_KARG(g.h), CLGRAD_KARG(g.w), CLGRAD_KARG(g.ho), CLGRAD_KARG(g.wo),
                                              CLGRAD_KARG(p0), CLGRAD_KARG(planes));
                st = launch_planes(gy->ctx, opts, "maxpool_tile_bwd_f32", g.wo, g.ho, planes, &p0, b);
            }
            clgrad_tensor_release(gc);
        } else {
            st = launch_planes(gy->ctx, opts, "maxpool_fix_bwd_f32", g.w, g.h, planes, &p0, a);
        }
    } else {
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(gy), CLGRAD_KARG(dys), CLGRAD_KARG_T(idx), CLGRAD_KARG_T(dx),
                                      POOL_KARGS(&g), CLGRAD_KARG(planes));
        st = launch2(gy->ctx, "maxpool_bwd_f32", (int64_t)g.h * g.w, (int64_t)g.n * g.c, a);
    }
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(dx);
        return st;
    }
    gx[0] = dx;
    return CLGRAD_OK;
}

CLGRAD__OP_DEFINE(max_pool2d, "clgrad_max_pool2d", max_pool_backward, pool_geom);
clgrad_status clgrad_max_pool2d(clgrad_tensor *x, const clgrad_pool2d_params *p, clgrad_tensor **out,
                                clgrad_tensor **indices)
{
    const char *fn = "clgrad_max_pool2d";
    if (out) *out = NULL;
    if (indices) *indices = NULL;
    if (!out) return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    pool_geom g;
    CLGRAD_TRY(pool_setup(fn, x, p, &g));
    int64_t shape[4] = {g.n, g.c, g.ho, g.wo};
    clgrad_tensor *y = NULL, *idx = NULL;
    CLGRAD_TRY(clgrad__tensor_new(x->ctx, CLGRAD_DTYPE_F32, 4, shape, &y));
    clgrad_status st = clgrad__tensor_new(x->ctx, CLGRAD_DTYPE_I32, 4, shape, &idx);
    if (st == CLGRAD_OK) {
        cl_long4 xs = strides4(x);
        cl_long planes = (cl_long)g.n * g.c;
        char opts[96];
        if (fixed_window(&g, opts, sizeof opts)) {
            cl_long p0 = 0;
            clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(x), CLGRAD_KARG(xs), CLGRAD_KARG_T(y), CLGRAD_KARG_T(idx),
                                          CLGRAD_KARG(g.c), CLGRAD_KARG(g.h), CLGRAD_KARG(g.w), CLGRAD_KARG(g.ho),
                                          CLGRAD_KARG(g.wo), CLGRAD_KARG(g.ph), CLGRAD_KARG(g.pw), CLGRAD_KARG(p0),
                                          CLGRAD_KARG(planes));
            cl_long rows = planes * g.ho;
            if (clgrad__ops_tuning(x->ctx)->row_kernels && g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 &&
                g.ph == 0 && g.pw == 0 && clgrad__is_contiguous(x)) {
                /* the common 2x2 window on a CPU: a work-item per output row, four outputs at a time */
                clgrad__kargs b =
                    CLGRAD_ARGS(CLGRAD_KARG_T(x), CLGRAD_KARG_T(y), CLGRAD_KARG_T(idx), CLGRAD_KARG(g.h),
                                CLGRAD_KARG(g.w), CLGRAD_KARG(g.ho), CLGRAD_KARG(g.wo), CLGRAD_KARG(rows));
                st = clgrad__launch_1d(x->ctx, FAMILY, NULL, "maxpool_2x2_fwd_f32", (size_t)rows, b);
            } else if (g.kh == g.sh && g.kw == g.sw && g.ph == 0 && g.pw == 0 && clgrad__is_contiguous(x)) {
                /* windows tile the inside of the input: the kernel without per-tap bounds */
                clgrad__kargs b = CLGRAD_ARGS(CLGRAD_KARG_T(x), CLGRAD_KARG_T(y), CLGRAD_KARG_T(idx), CLGRAD_KARG(g.h),
                                              CLGRAD_KARG(g.w), CLGRAD_KARG(g.ho), CLGRAD_KARG(g.wo), CLGRAD_KARG(p0),
                                              CLGRAD_KARG(planes));
                st = launch_planes(x->ctx, opts, "maxpool_tile_fwd_f32", g.wo, g.ho, planes, &p0, b);
            } else {
                st = launch_planes(x->ctx, opts, "maxpool_fix_fwd_f32", g.wo, g.ho, planes, &p0, a);
            }
        } else {
            clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(x), CLGRAD_KARG(xs), CLGRAD_KARG_T(y), CLGRAD_KARG_T(idx),
                                          POOL_KARGS(&g), CLGRAD_KARG(planes));
            st = launch2(x->ctx, "maxpool_fwd_f32", (int64_t)g.ho * g.wo, (int64_t)g.n * g.c, a);
        }
    }
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        clgrad_tensor_release(idx);
        return st;
    }
    st = finish(x, y, &clgrad__op_max_pool2d, &g, idx, st, out);
    if (st == CLGRAD_OK && indices) *indices = idx;
    else clgrad_tensor_release(idx);
    return st;
}

/* --- average pooling ---------------------------------------------------------------------- */

static clgrad_status avg_pool_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    pool_geom g = *CLGRAD__NODE_STATE(nd, pool_geom);
    clgrad_tensor *dx;
    int64_t shape[4] = {g.n, g.c, g.h, g.w};
    CLGRAD_TRY(clgrad__tensor_new(gy->ctx, CLGRAD_DTYPE_F32, 4, shape, &dx));
    cl_long4 dys = strides4(gy);
    cl_long planes = (cl_long)g.n * g.c;
    clgrad__kargs a =
        CLGRAD_ARGS(CLGRAD_KARG_T(gy), CLGRAD_KARG(dys), CLGRAD_KARG_T(dx), POOL_KARGS(&g), CLGRAD_KARG(planes));
    clgrad_status st = launch2(gy->ctx, "avgpool_bwd_f32", (int64_t)g.h * g.w, (int64_t)g.n * g.c, a);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(dx);
        return st;
    }
    gx[0] = dx;
    return CLGRAD_OK;
}

CLGRAD__OP_DEFINE(avg_pool2d, "clgrad_avg_pool2d", avg_pool_backward, pool_geom);

clgrad_status clgrad_avg_pool2d(clgrad_tensor *x, const clgrad_pool2d_params *p, clgrad_tensor **out)
{
    const char *fn = "clgrad_avg_pool2d";
    if (out) *out = NULL;
    if (!out) return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    pool_geom g;
    CLGRAD_TRY(pool_setup(fn, x, p, &g));
    int64_t shape[4] = {g.n, g.c, g.ho, g.wo};
    clgrad_tensor *y;
    CLGRAD_TRY(clgrad__tensor_new(x->ctx, CLGRAD_DTYPE_F32, 4, shape, &y));
    cl_long4 xs = strides4(x);
    cl_long planes = (cl_long)g.n * g.c;
    clgrad__kargs a =
        CLGRAD_ARGS(CLGRAD_KARG_T(x), CLGRAD_KARG(xs), CLGRAD_KARG_T(y), POOL_KARGS(&g), CLGRAD_KARG(planes));
    clgrad_status st = launch2(x->ctx, "avgpool_fwd_f32", (int64_t)g.ho * g.wo, (int64_t)g.n * g.c, a);
    return finish(x, y, &clgrad__op_avg_pool2d, &g, NULL, st, out);
}

/* --- global average pooling --------------------------------------------------------------- */

static clgrad_status global_avg_pool_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    const int64_t *shape = nd->inputs[0]->shape;
    clgrad_tensor *dx;
    CLGRAD_TRY(clgrad__tensor_new(gy->ctx, CLGRAD_DTYPE_F32, 4, shape, &dx));
    cl_long sn = gy->strides[0], sc = gy->strides[1], hw = shape[2] * shape[3];
    cl_int C = (cl_int)shape[1];
    cl_long total = shape[0] * shape[1] * hw;
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(gy), CLGRAD_KARG(sn), CLGRAD_KARG(sc), CLGRAD_KARG_T(dx),
                                  CLGRAD_KARG(C), CLGRAD_KARG(hw), CLGRAD_KARG(total));
    clgrad_status st = clgrad__launch_1d(gy->ctx, FAMILY, NULL, "gavgpool_bwd_f32", (size_t)total, a);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(dx);
        return st;
    }
    gx[0] = dx;
    return CLGRAD_OK;
}

CLGRAD__OP_DEFINE_STATELESS(global_avg_pool2d, "clgrad_global_avg_pool2d", global_avg_pool_backward);

clgrad_status clgrad_global_avg_pool2d(clgrad_tensor *x, clgrad_tensor **out)
{
    const char *fn = "clgrad_global_avg_pool2d";
    if (out) *out = NULL;
    if (!out) return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    CLGRAD_TRY(check_x4(fn, x));
    int64_t shape[4] = {x->shape[0], x->shape[1], 1, 1};
    clgrad_tensor *y;
    CLGRAD_TRY(clgrad__tensor_new(x->ctx, CLGRAD_DTYPE_F32, 4, shape, &y));
    cl_long4 xs = strides4(x);
    cl_int C = (cl_int)x->shape[1], H = (cl_int)x->shape[2], W = (cl_int)x->shape[3];
    cl_long planes = x->shape[0] * x->shape[1];
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(x), CLGRAD_KARG(xs), CLGRAD_KARG_T(y), CLGRAD_KARG(C), CLGRAD_KARG(H),
                                  CLGRAD_KARG(W), CLGRAD_KARG(planes));
    clgrad_status st = clgrad__launch_1d(x->ctx, FAMILY, NULL, "gavgpool_fwd_f32", (size_t)planes, a);
    if (st == CLGRAD_OK) st = clgrad__record(y, &clgrad__op_global_avg_pool2d, 1, &x, NULL, 0, NULL);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}
