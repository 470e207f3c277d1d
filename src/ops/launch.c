/* Kernel launches and the argument helpers shared by every op family. */
#include "ops/ops.h"

#include <stdio.h>
#include <string.h>

size_t clgrad__wg_1d(const clgrad_context *ctx)
{
    size_t want = (size_t)clgrad__ops_tuning(ctx)->wg_1d;
    size_t max = ctx->dev.info.max_work_group_size ? ctx->dev.info.max_work_group_size : 1;
    size_t cap0 = ctx->dev.info.max_work_item_sizes[0];
    if (cap0 && cap0 < max) max = cap0;
    return want < max ? want : max;
}

/* Conservative grid limits: OpenCL 1.2 has no query for them. NVIDIA allows at most 65535
 * work-groups in dims 1 and 2, and 32-bit sizes per dimension are the common denominator;
 * launches beyond either fail here with a message instead of in the driver (kernels fold
 * large extents into dim 0 or into several axes so they stay under these). */
#define CLGRAD_MAX_GROUPS_DIM12 ((size_t)65535)
#define CLGRAD_MAX_GLOBAL_DIM ((uint64_t)0xffffffffu)

clgrad_status clgrad__launch(clgrad_context *ctx, const char *family, const char *options, const char *kernel,
                             cl_uint dim, const size_t *global, const size_t *local, clgrad__kargs args)
{
    clgrad__program_entry *pe;
    cl_kernel k;
    size_t wg_max;
    const double t0 = ctx->prof ? clgrad__now() : 0; /* profiling: nothing is timed when off */
    CLGRAD_TRY(clgrad__program_get(ctx, family, options, &pe));
    CLGRAD_TRY(clgrad__kernel_get(ctx, pe, kernel, &k, &wg_max));
    size_t g[3], l[3];
    for (cl_uint d = 0; d < dim; d++) {
        if (global[d] == 0) return CLGRAD_OK; /* nothing to do */
        g[d] = global[d];
    }
    if (local) {
        size_t total = 1;
        for (cl_uint d = 0; d < dim; d++) {
            l[d] = local[d] ? local[d] : 1;
            /* each dimension must also fit the device's per-dimension work-item limit */
            size_t cap = d < 3 ? ctx->dev.info.max_work_item_sizes[d] : 0;
            while (cap && l[d] > cap) l[d] = (l[d] + 1) / 2;
            total *= l[d];
        }
        /* shrink the first dims until the group fits what the compiled kernel allows */
        for (cl_uint d = 0; total > wg_max && d < dim; d++)
            while (total > wg_max && l[d] > 1) {
                total /= l[d];
                l[d] = (l[d] + 1) / 2;
                total *= l[d];
            }
        for (cl_uint d = 0; d < dim; d++) g[d] = (g[d] + l[d] - 1) / l[d] * l[d];
    }
    for (cl_uint d = 0; d < dim; d++) {
        size_t groups = g[d] / (local ? l[d] : 1); /* no local: the driver may pick 1 */
        if ((uint64_t)g[d] > CLGRAD_MAX_GLOBAL_DIM || (d > 0 && groups > CLGRAD_MAX_GROUPS_DIM12))
            return clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED,
                                "%s: launch too large in dimension %u (global %zu, %zu work-groups; at most "
                                "%llu work-items per dimension and %zu work-groups in dimensions 1 and 2)",
                                kernel, (unsigned)d, g[d], groups, (unsigned long long)CLGRAD_MAX_GLOBAL_DIM,
                                CLGRAD_MAX_GROUPS_DIM12);
    }
    cl_int e;
    for (int i = 0; i < args.n; i++) {
        e = clSetKernelArg(k, (cl_uint)i, args.v[i].size, args.v[i].ptr);
        if (e != CL_SUCCESS)
            return clgrad__fail(ctx, CLGRAD_ERR_OPENCL, "%s: setting argument %d (%zu bytes): %s (%d)", kernel, i,
                                args.v[i].size, clgrad__cl_error_name(e), (int)e);
    }
    cl_event ev = NULL;
    e = clEnqueueNDRangeKernel(ctx->dev.queue, k, dim, NULL, g, local ? l : NULL, 0, NULL, ctx->prof ? &ev : NULL);
    if (e != CL_SUCCESS) {
        char what[256];
        snprintf(what, sizeof what, "launching %s (global %zu, local %zu)", kernel, g[0], local ? l[0] : 0);
        return clgrad__cl_fail(ctx, e, what);
    }
    clgrad__program_note_launch(pe, g, local ? l : NULL, (int)dim);
    if (ctx->prof) clgrad__prof_launch(ctx, family, kernel, k, ev, clgrad__now() - t0);
    return CLGRAD_OK;
}

clgrad_status clgrad__launch_1d(clgrad_context *ctx, const char *family, const char *options, const char *kernel,
                                size_t n, clgrad__kargs args)
{
    size_t local = clgrad__wg_1d(ctx);
    return clgrad__launch(ctx, family, options, kernel, 1, &n, &local, args);
}

void clgrad__op_code_option(char *buf, size_t cap, const char *prefix, const char *const *names, size_t n, int v)
{
    /* an out-of-range value is a bug in the caller: name it so the kernel build fails loudly */
    const char *name = v >= 0 && (size_t)v < n && names[v] ? names[v] : "INVALID";
    snprintf(buf, cap, "-D%s_%s", prefix, name);
}

void clgrad__geom_broadcast(const clgrad_tensor *t, int ndim, const int64_t *out_shape, clgrad__geom *g)
{
    for (int s = 0; s < 8; s++) {
        g->shape.s[s] = 1;
        g->stride.s[s] = 0;
    }
    for (int i = 0; i < ndim; i++) {
        int slot = 8 - ndim + i;
        int ti = i - (ndim - t->ndim);
        g->shape.s[slot] = out_shape[i];
        g->stride.s[slot] = (ti >= 0 && t->shape[ti] != 1) ? t->strides[ti] : 0;
    }
}

void clgrad__geom_of(const clgrad_tensor *t, clgrad__geom *g) { clgrad__geom_broadcast(t, t->ndim, t->shape, g); }

clgrad_status clgrad__check_tensor(const clgrad_context *ctx, const char *fn, const char *arg, const clgrad_tensor *t,
                                   clgrad_dtype dt)
{
    if (!t) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: %s is NULL", fn, arg);
    if (t->dtype != dt)
        return clgrad__fail(t->ctx, CLGRAD_ERR_INVALID_ARG, "%s: %s has dtype %s, expected %s", fn, arg,
                            t->dtype == CLGRAD_DTYPE_I32 ? "i32" : t->dtype == CLGRAD_DTYPE_F16 ? "f16" : "f32",
                            dt == CLGRAD_DTYPE_I32 ? "i32" : dt == CLGRAD_DTYPE_F16 ? "f16" : "f32");
    return CLGRAD_OK;
}

clgrad_status clgrad__check_same_ctx(const char *fn, const clgrad_tensor *a, const clgrad_tensor *b)
{
    if (a && b && a->ctx != b->ctx)
        return clgrad__fail(a->ctx, CLGRAD_ERR_INVALID_ARG, "%s: tensors belong to different contexts", fn);
    return CLGRAD_OK;
}
