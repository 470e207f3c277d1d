/* Contexts: device selection, the OpenCL context and in-order queue, and the lifetime of
 * everything a context owns (programs, buffer pool, GEMM provider state). */
#include "device/device.h"
#include "memory/memory.h"
#include "program/program.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

char *clgrad__context_errbuf(const clgrad_context *ctx) { return (char *)ctx->err; }

clgrad_status clgrad_context_create(const clgrad_context_desc *desc, clgrad_context **out)
{
    if (!out) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_context_create: out must not be NULL");
    *out = NULL;
    clgrad_device_info *list = NULL;
    cl_platform_id *pids = NULL;
    cl_device_id *dids = NULL;
    int n = 0, idx = -1;
    CLGRAD_TRY(clgrad__devices_enumerate(&list, &pids, &dids, &n));
    const char *sel = desc && desc->device ? desc->device : clgrad__getenv("CLGRAD_DEVICE");
    clgrad_status st = clgrad_devices_select(list, n, sel, &idx);
    clgrad_context *ctx = NULL;
    if (st != CLGRAD_OK) goto done;

    ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        st = clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "out of host memory creating a context");
        goto done;
    }
    ctx->info = list[idx];
    ctx->platform = pids[idx];
    ctx->device = dids[idx];
    ctx->flags = desc ? desc->flags : 0;
    cl_int e;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform, 0};
    ctx->cl = clCreateContext(props, 1, &ctx->device, NULL, NULL, &e);
    if (e != CL_SUCCESS) {
        st = clgrad__cl_fail(NULL, e, "clCreateContext");
        goto done;
    }
    cl_command_queue_properties qp = (ctx->flags & CLGRAD_CONTEXT_PROFILING) ? CL_QUEUE_PROFILING_ENABLE : 0;
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    ctx->queue = clCreateCommandQueue(ctx->cl, ctx->device, qp, &e); /* the OpenCL 1.2 call */
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    if (e != CL_SUCCESS) {
        st = clgrad__cl_fail(NULL, e, "clCreateCommandQueue");
        goto done;
    }
    st = clgrad__pool_create(ctx);
    if (st != CLGRAD_OK) goto done;
    ctx->cache_dir = clgrad__cache_dir_resolve(desc ? desc->cache_dir : NULL);
done:
    free(list);
    free(pids);
    free(dids);
    if (st != CLGRAD_OK) {
        clgrad_context_release(ctx);
        return st;
    }
    *out = ctx;
    return CLGRAD_OK;
}

void clgrad_context_release(clgrad_context *ctx)
{
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue);
    if (ctx->gemm_free) ctx->gemm_free(ctx->gemm);
    clgrad__programs_release(ctx);
    if (ctx->pool) clgrad__pool_destroy(ctx);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->cl) clReleaseContext(ctx->cl);
    free(ctx->cache_dir);
    free(ctx);
}

const clgrad_device_info *clgrad_context_device(const clgrad_context *ctx) { return ctx ? &ctx->info : NULL; }

clgrad_status clgrad_context_finish(clgrad_context *ctx)
{
    if (!ctx) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_context_finish: ctx is NULL");
    CLGRAD_CL(ctx, clFinish(ctx->queue));
    clgrad__programs_save(ctx);
    return CLGRAD_OK;
}

clgrad_status clgrad_context_get_stats(const clgrad_context *ctx, clgrad_context_stats *out)
{
    if (!ctx || !out) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_context_get_stats: ctx and out must not be NULL");
    *out = ctx->stats;
    return CLGRAD_OK;
}

clgrad_status clgrad_context_build_all(clgrad_context *ctx)
{
    if (!ctx) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_context_build_all: ctx is NULL");
    for (size_t i = 0; i < clgrad__family_count(); i++) {
        clgrad__program_entry *pe;
        CLGRAD_TRY(clgrad__program_get(ctx, clgrad__family_name(i), "", &pe));
    }
    return CLGRAD_OK;
}

void clgrad_context_trim(clgrad_context *ctx)
{
    if (ctx) clgrad__pool_trim(ctx);
}

/* The default context: created on first use under a statically initialised lock, the
 * library's only global besides the per-thread error buffers. */
static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static clgrad_context *default_ctx;
static int default_tried;

clgrad_context *clgrad_context_default(void)
{
    pthread_mutex_lock(&default_lock);
    if (!default_ctx && !default_tried) {
        default_tried = 1;
        if (clgrad_context_create(NULL, &default_ctx) == CLGRAD_OK) default_ctx->is_default = 1;
    }
    clgrad_context *c = default_ctx;
    pthread_mutex_unlock(&default_lock);
    return c;
}

void clgrad_shutdown(void)
{
    pthread_mutex_lock(&default_lock);
    clgrad_context_release(default_ctx);
    default_ctx = NULL;
    default_tried = 0;
    pthread_mutex_unlock(&default_lock);
}
