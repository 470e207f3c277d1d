/* Tensor creation and data movement: empty/zeros/full/ones/arange, host transfers (reads
 * are the only synchronisation points), fills, strided copies, clone and contiguous(). Kernels in
 * cl/copy.cl (the "copy" family). */
#include "ops/ops.h"
#include "ops/collective.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAMILY "copy"

/* One build of the family per device: the vector width of copy_vec_f32 (the tuning row's
 * vw) is its only option. */
typedef struct copy_options {
    char s[24];
} copy_options;

static copy_options family_opts(const clgrad_context *ctx)
{
    copy_options o;
    snprintf(o.s, sizeof o.s, "-DCOPY_VW=%d", clgrad__ops_tuning(ctx)->vw);
    return o;
}

clgrad_status clgrad__fill(clgrad_tensor *dst, double value)
{
    int64_t n = clgrad__numel(dst->ndim, dst->shape);
    if (n == 0) return CLGRAD_OK;
    if (clgrad__is_contiguous(dst)) {
        if (dst->dtype == CLGRAD_DTYPE_I32) {
            cl_int v = (cl_int)value;
            clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(dst), CLGRAD_KARG(n), CLGRAD_KARG(v));
            return clgrad__launch_1d(dst->ctx, FAMILY, family_opts(dst->ctx).s, "fill_i32", (size_t)n, a);
        }
        cl_float v = (cl_float)value;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(dst), CLGRAD_KARG(n), CLGRAD_KARG(v));
        return clgrad__launch_1d(dst->ctx, FAMILY, family_opts(dst->ctx).s, "fill_f32", (size_t)n, a);
    }
    if (dst->dtype == CLGRAD_DTYPE_I32) {
        /* int views: fill a contiguous temporary and copy it in */
        clgrad_tensor *tmp;
        CLGRAD_TRY(clgrad__tensor_new(dst->ctx, dst->dtype, dst->ndim, dst->shape, &tmp));
        clgrad_status st = clgrad__fill(tmp, value);
        if (st == CLGRAD_OK) st = clgrad__copy(dst, tmp);
        clgrad_tensor_release(tmp);
        return st;
    }
    clgrad__geom g;
    clgrad__geom_of(dst, &g);
    cl_float v = (cl_float)value;
    clgrad__kargs a =
        CLGRAD_ARGS(CLGRAD_KARG_T(dst), CLGRAD_KARG(g.shape), CLGRAD_KARG(g.stride), CLGRAD_KARG(n), CLGRAD_KARG(v));
    return clgrad__launch_1d(dst->ctx, FAMILY, family_opts(dst->ctx).s, "fill_strided_f32", (size_t)n, a);
}

static clgrad_status copy_of(clgrad_tensor *x, clgrad_tensor **out);

clgrad_status clgrad__check_writable(const char *fn, const char *arg, const clgrad_tensor *dst)
{
    if (!clgrad__internal_overlap(dst)) return CLGRAD_OK;
    char a[256], b[256];
    return clgrad__fail(dst->ctx, CLGRAD_ERR_INVALID_ARG,
                        "%s: more than one element of %s (shape %s, strides %s) refers to the same memory, so a write "
                        "there has no single result; write to a contiguous copy (clgrad_clone) instead",
                        fn, arg, clgrad__shape_str(a, sizeof a, dst->ndim, dst->shape),
                        clgrad__shape_str(b, sizeof b, dst->ndim, dst->strides));
}

clgrad_status clgrad__copy(clgrad_tensor *dst, clgrad_tensor *src)
{
    int64_t n = clgrad__numel(dst->ndim, dst->shape);
    if (n == 0) return CLGRAD_OK;
    clgrad__overlap ov = clgrad__tensor_overlap(dst, src);
    if (ov == CLGRAD__OVERLAP_SAME) return CLGRAD_OK; /* every element onto itself */
    if (ov == CLGRAD__OVERLAP_PARTIAL) {
        /* the kernels read and write in no fixed order: read all of src first */
        clgrad_tensor *tmp = NULL;
        CLGRAD_TRY(copy_of(src, &tmp));
        clgrad_status st = clgrad__copy(dst, tmp);
        clgrad_tensor_release(tmp);
        return st;
    }
    if (clgrad__is_contiguous(dst) && clgrad__is_contiguous(src)) {
        /* a vectorised kernel: on CPU devices clEnqueueCopyBuffer is often one thread's memcpy */
        int vw = clgrad__ops_tuning(dst->ctx)->vw;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(dst), CLGRAD_KARG_T(src), CLGRAD_KARG(n));
        return clgrad__launch_1d(dst->ctx, FAMILY, family_opts(dst->ctx).s, "copy_vec_f32",
                                 (size_t)((n + vw - 1) / vw), a);
    }
    clgrad__geom gd, gs;
    clgrad__geom_of(dst, &gd);
    clgrad__geom_of(src, &gs);
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(dst), CLGRAD_KARG(gd.shape), CLGRAD_KARG(gd.stride),
                                  CLGRAD_KARG_T(src), CLGRAD_KARG(gs.shape), CLGRAD_KARG(gs.stride), CLGRAD_KARG(n));
    return clgrad__launch_1d(dst->ctx, FAMILY, family_opts(dst->ctx).s, "copy_strided_f32", (size_t)n, a);
}

/* A new contiguous tensor holding x's values. */
static clgrad_status copy_of(clgrad_tensor *x, clgrad_tensor **out)
{
    clgrad_tensor *y;
    CLGRAD_TRY(clgrad__tensor_new(x->ctx, x->dtype, x->ndim, x->shape, &y));
    clgrad_status st = clgrad__copy(y, x);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

clgrad_status clgrad__contiguous(clgrad_tensor *x, clgrad_tensor **out)
{
    if (clgrad__is_contiguous(x)) {
        *out = clgrad_tensor_retain(x);
        return CLGRAD_OK;
    }
    return copy_of(x, out);
}

/* --- public creation ------------------------------------------------------------------- */

#define CHECK_CTX_OUT(fn)                                                                          \
    do {                                                                                           \
        if (out) *out = NULL;                                                                      \
        if (!ctx || !out) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: ctx and out must not be NULL", fn); \
    } while (0)

clgrad_status clgrad_tensor_empty(clgrad_context *ctx, clgrad_dtype dt, int ndim, const int64_t *shape,
                                  clgrad_tensor **out)
{
    CHECK_CTX_OUT("clgrad_tensor_empty");
    CLGRAD_TRY(clgrad__check_shape(ctx, "clgrad_tensor_empty", ndim, shape));
    return clgrad__tensor_new(ctx, dt, ndim, shape, out);
}

static clgrad_status filled(clgrad_context *ctx, const char *fn, clgrad_dtype dt, int ndim, const int64_t *shape,
                            double v, clgrad_tensor **out)
{
    CHECK_CTX_OUT(fn);
    CLGRAD_TRY(clgrad__check_shape(ctx, fn, ndim, shape));
    clgrad_tensor *t;
    CLGRAD_TRY(clgrad__tensor_new(ctx, dt, ndim, shape, &t));
    clgrad_status st = clgrad__fill(t, v);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(t);
        return st;
    }
    *out = t;
    return CLGRAD_OK;
}

clgrad_status clgrad_tensor_zeros(clgrad_context *ctx, clgrad_dtype dt, int ndim, const int64_t *shape,
                                  clgrad_tensor **out)
{
    return filled(ctx, "clgrad_tensor_zeros", dt, ndim, shape, 0.0, out);
}

clgrad_status clgrad_tensor_full(clgrad_context *ctx, int ndim, const int64_t *shape, float value, clgrad_tensor **out)
{
    return filled(ctx, "clgrad_tensor_full", CLGRAD_DTYPE_F32, ndim, shape, value, out);
}

clgrad_status clgrad_tensor_ones(clgrad_context *ctx, int ndim, const int64_t *shape, clgrad_tensor **out)
{
    return filled(ctx, "clgrad_tensor_ones", CLGRAD_DTYPE_F32, ndim, shape, 1.0, out);
}

clgrad_status clgrad_tensor_arange(clgrad_context *ctx, double start, double stop, double step, clgrad_tensor **out)
{
    CHECK_CTX_OUT("clgrad_tensor_arange");
    if (step == 0 || !isfinite(start) || !isfinite(stop) || !isfinite(step))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_tensor_arange: step must be non-zero and all values finite");
    double len = ceil((stop - start) / step);
    int64_t n = len > 0 ? (int64_t)len : 0;
    if (len > 1e10) return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "clgrad_tensor_arange: %.0f elements is too many", len);
    float *host = malloc((size_t)(n ? n : 1) * sizeof *host);
    if (!host) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad_tensor_arange: out of host memory");
    for (int64_t i = 0; i < n; i++) host[i] = (float)(start + (double)i * step);
    clgrad_status st = clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_F32, 1, &n, host, out);
    free(host);
    return st;
}

clgrad_status clgrad_tensor_from_host(clgrad_context *ctx, clgrad_dtype dt, int ndim, const int64_t *shape,
                                      const void *data, clgrad_tensor **out)
{
    CHECK_CTX_OUT("clgrad_tensor_from_host");
    CLGRAD_TRY(clgrad__check_shape(ctx, "clgrad_tensor_from_host", ndim, shape));
    int64_t n = clgrad__numel(ndim, shape);
    if (!data && n > 0) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_tensor_from_host: data is NULL");
    clgrad_tensor *t;
    CLGRAD_TRY(clgrad__tensor_new(ctx, dt, ndim, shape, &t));
    clgrad_status st = clgrad_tensor_write(t, data, (size_t)n * clgrad_dtype_size(dt));
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(t);
        return st;
    }
    *out = t;
    return CLGRAD_OK;
}

/* --- transfers -------------------------------------------------------------------------- */

static clgrad_status check_nbytes(const clgrad_tensor *t, const char *fn, const void *p, size_t nbytes)
{
    size_t want = (size_t)clgrad__numel(t->ndim, t->shape) * clgrad_dtype_size(t->dtype);
    if (nbytes != want)
        return clgrad__fail(t->ctx, CLGRAD_ERR_INVALID_ARG, "%s: nbytes is %zu but the tensor holds %zu bytes", fn,
                            nbytes, want);
    if (!p && nbytes) return clgrad__fail(t->ctx, CLGRAD_ERR_INVALID_ARG, "%s: host pointer is NULL", fn);
    return CLGRAD_OK;
}

/* Writes up to this size are staged in a host copy and enqueued without waiting; bigger ones
 * (checkpoints, datasets) block rather than double their memory for a moment. */
#define STAGE_MAX ((size_t)16 << 20)

static void CL_CALLBACK free_stage(cl_event ev, cl_int status, void *p)
{
    (void)ev;
    (void)status;
    free(p);
}

clgrad_status clgrad_tensor_write(clgrad_tensor *t, const void *src, size_t nbytes)
{
    if (!t) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_tensor_write: t is NULL");
    CLGRAD_TRY(check_nbytes(t, "clgrad_tensor_write", src, nbytes));
    if (nbytes == 0) return CLGRAD_OK;
    CLGRAD_TRY(clgrad__check_writable("clgrad_tensor_write", "the tensor", t));
    clgrad_context *ctx = t->ctx;
    size_t es = clgrad_dtype_size(t->dtype);
    if (clgrad__is_contiguous(t)) {
        /* the caller may reuse src as soon as we return: a staged copy is freed when the
         * device copy completes, else the write blocks */
        double t0 = ctx->prof ? clgrad__now() : 0;
        void *stage = nbytes <= STAGE_MAX ? malloc(nbytes) : NULL;
        if (stage) {
            memcpy(stage, src, nbytes);
            cl_event ev = NULL;
            cl_int e = clEnqueueWriteBuffer(ctx->dev.queue, t->buf->mem, CL_FALSE, (size_t)t->offset * es, nbytes,
                                            stage, 0, NULL, &ev);
            if (e != CL_SUCCESS) {
                free(stage);
                return clgrad__cl_fail(ctx, e, "clEnqueueWriteBuffer");
            }
            if (clSetEventCallback(ev, CL_COMPLETE, free_stage, stage) != CL_SUCCESS) {
                clWaitForEvents(1, &ev); /* no callback: keep the copy until it is done */
                free(stage);
            }
            clReleaseEvent(ev);
            if (ctx->prof) clgrad__prof_transfer(ctx, clgrad__now() - t0, nbytes);
            return CLGRAD_OK;
        }
        CLGRAD_CL(ctx, clEnqueueWriteBuffer(ctx->dev.queue, t->buf->mem, CL_TRUE, (size_t)t->offset * es, nbytes, src, 0,
                                            NULL, NULL));
        if (ctx->prof) clgrad__prof_wait(ctx, clgrad__now() - t0, nbytes);
        return CLGRAD_OK;
    }
    clgrad_tensor *tmp;
    CLGRAD_TRY(clgrad__tensor_new(ctx, t->dtype, t->ndim, t->shape, &tmp));
    clgrad_status st = clgrad_tensor_write(tmp, src, nbytes);
    if (st == CLGRAD_OK) st = clgrad__copy(t, tmp);
    clgrad_tensor_release(tmp);
    return st;
}

/* Enqueues the read of t into dst; *ev (when not NULL) gets its event, else it blocks. */
static clgrad_status read_enqueue(const clgrad_tensor *tc, void *dst, size_t nbytes, const char *fn, cl_event *ev)
{
    CLGRAD_TRY(check_nbytes(tc, fn, dst, nbytes));
    clgrad_tensor *t = (clgrad_tensor *)tc; /* contiguous() only adds a reference */
    clgrad_context *ctx = t->ctx;
    if (nbytes == 0) return CLGRAD_OK;
    clgrad_tensor *c;
    CLGRAD_TRY(clgrad__contiguous(t, &c));
    size_t es = clgrad_dtype_size(t->dtype);
    double t0 = ctx->prof ? clgrad__now() : 0;
    cl_int e = clEnqueueReadBuffer(ctx->dev.queue, c->buf->mem, ev ? CL_FALSE : CL_TRUE, (size_t)c->offset * es,
                                   nbytes, dst, 0, NULL, ev);
    if (ctx->prof) {
        if (ev) clgrad__prof_transfer(ctx, clgrad__now() - t0, nbytes);
        else clgrad__prof_wait(ctx, clgrad__now() - t0, nbytes);
    }
    /* in-order queue: the buffer goes back to the pool, and a later writer runs after the read */
    clgrad_tensor_release(c);
    if (e != CL_SUCCESS) return clgrad__cl_fail(ctx, e, "clEnqueueReadBuffer");
    return CLGRAD_OK;
}

clgrad_status clgrad_tensor_read(const clgrad_tensor *tc, void *dst, size_t nbytes)
{
    if (!tc) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_tensor_read: t is NULL");
    CLGRAD_TRY(read_enqueue(tc, dst, nbytes, "clgrad_tensor_read", NULL));
    clgrad__programs_save(tc->ctx); /* a sync point: keep binaries compiled for new launch shapes */
    return CLGRAD_OK;
}

struct clgrad_pending {
    clgrad_context *ctx;
    cl_event ev; /* NULL: nothing was enqueued (an empty read) */
};

clgrad_status clgrad_tensor_read_start(const clgrad_tensor *t, void *dst, size_t nbytes, clgrad_pending **out)
{
    if (out) *out = NULL;
    if (!t || !out)
        return clgrad__fail(t ? t->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_tensor_read_start: t and out must not be NULL");
    clgrad_pending *p = calloc(1, sizeof *p);
    if (!p) return clgrad__fail(t->ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad_tensor_read_start: out of host memory");
    p->ctx = t->ctx;
    clgrad_status st = read_enqueue(t, dst, nbytes, "clgrad_tensor_read_start", nbytes ? &p->ev : NULL);
    if (st != CLGRAD_OK) {
        free(p);
        return st;
    }
    *out = p;
    return CLGRAD_OK;
}

clgrad_status clgrad_pending_wait(clgrad_pending *p)
{
    if (!p) return CLGRAD_OK;
    clgrad_context *ctx = p->ctx;
    cl_int e = CL_SUCCESS, status = CL_COMPLETE;
    if (p->ev) {
        double t0 = ctx->prof ? clgrad__now() : 0;
        e = clWaitForEvents(1, &p->ev);
        if (e == CL_SUCCESS)
            e = clGetEventInfo(p->ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL);
        if (ctx->prof) clgrad__prof_wait(ctx, clgrad__now() - t0, 0);
        clReleaseEvent(p->ev);
    }
    free(p);
    if (e == CL_SUCCESS && status < 0) e = status;
    if (e != CL_SUCCESS) return clgrad__cl_fail(ctx, e, "clgrad_pending_wait: the read");
    return CLGRAD_OK;
}

clgrad_status clgrad__pending_wait_quiet(clgrad_pending *p, char *msg, size_t cap)
{
    if (!p) return CLGRAD_OK;
    cl_int e = CL_SUCCESS, status = CL_COMPLETE;
    if (p->ev) {
        e = clWaitForEvents(1, &p->ev);
        if (e == CL_SUCCESS)
            e = clGetEventInfo(p->ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL);
        clReleaseEvent(p->ev);
    }
    free(p);
    if (e == CL_SUCCESS && status < 0) e = status;
    if (e == CL_SUCCESS) return CLGRAD_OK;
    if (msg && cap) snprintf(msg, cap, "a queued read of a gradient failed: %s (%d)", clgrad__cl_error_name(e), (int)e);
    return e == CL_OUT_OF_RESOURCES || e == CL_MEM_OBJECT_ALLOCATION_FAILURE ? CLGRAD_ERR_DEVICE_MEMORY
                                                                            : CLGRAD_ERR_OPENCL;
}

clgrad_status clgrad_tensor_item(const clgrad_tensor *t, float *value)
{
    if (!t || !value) return clgrad__fail(t ? t->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_tensor_item: t and value must not be NULL");
    if (clgrad__numel(t->ndim, t->shape) != 1) {
        char b[256];
        return clgrad__fail(t->ctx, CLGRAD_ERR_SHAPE, "clgrad_tensor_item: tensor of shape %s is not one element",
                            clgrad__shape_str(b, sizeof b, t->ndim, t->shape));
    }
    if (t->dtype == CLGRAD_DTYPE_I32) {
        int32_t v;
        CLGRAD_TRY(clgrad_tensor_read(t, &v, sizeof v));
        *value = (float)v;
        return CLGRAD_OK;
    }
    return clgrad_tensor_read(t, value, sizeof *value);
}

clgrad_status clgrad_clone(clgrad_tensor *x, clgrad_tensor **out)
{
    if (out) *out = NULL;
    if (!x || !out) return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_clone: x and out must not be NULL");
    return copy_of(x, out);
}

clgrad_status clgrad_copy_(clgrad_tensor *dst, clgrad_tensor *src)
{
    if (!dst || !src) return clgrad__fail(dst ? dst->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_copy_: dst and src must not be NULL");
    CLGRAD_TRY(clgrad__check_same_ctx("clgrad_copy_", dst, src));
    if (dst->dtype != src->dtype)
        return clgrad__fail(dst->ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_copy_: dst dtype %d and src dtype %d differ",
                            (int)dst->dtype, (int)src->dtype);
    if (dst->ndim != src->ndim || memcmp(dst->shape, src->shape, sizeof(int64_t) * (size_t)dst->ndim) != 0) {
        char a[256], b[256];
        return clgrad__fail(dst->ctx, CLGRAD_ERR_SHAPE, "clgrad_copy_: dst %s and src %s differ in shape",
                            clgrad__shape_str(a, sizeof a, dst->ndim, dst->shape), clgrad__shape_str(b, sizeof b, src->ndim, src->shape));
    }
    CLGRAD_TRY(clgrad__check_writable("clgrad_copy_", "dst", dst));
    dst->version++;
    return clgrad__copy(dst, src);
}

clgrad_status clgrad_fill_(clgrad_tensor *dst, float value)
{
    if (!dst) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_fill_: dst is NULL");
    dst->version++;
    return clgrad__fill(dst, value);
}
