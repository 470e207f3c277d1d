/* Contexts: the device chosen through src/device, the OpenCL context and in-order queue,
 * the slots of the layers below created in order (buffer pool, programs and the disk cache
 * folder, gradient mode) and, on release, every slot destroyed newest first (those the ops
 * layer made on first use, then programs, then the pool) before the queue and the OpenCL
 * context go. Also the default context and clgrad_shutdown. */
#include "runtime/runtime.h"

#include "memory/memory.h"
#include "program/program.h"
#include "tensor/node.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void release(clgrad_context *ctx);

/* The OpenCL context and in-order queue on the chosen device. */
static clgrad_status open_device(clgrad_context *ctx)
{
    clgrad__ctx_device *dev = &ctx->dev;
    cl_int e;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)dev->platform, 0};
    dev->cl = clCreateContext(props, 1, &dev->device, NULL, NULL, &e);
    if (e != CL_SUCCESS) return clgrad__cl_fail(NULL, e, "clCreateContext");
    cl_command_queue_properties qp = (ctx->flags & CLGRAD_CONTEXT_PROFILING) ? CL_QUEUE_PROFILING_ENABLE : 0;
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    dev->queue = clCreateCommandQueue(dev->cl, dev->device, qp, &e); /* the OpenCL 1.2 call */
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    if (e != CL_SUCCESS) return clgrad__cl_fail(NULL, e, "clCreateCommandQueue");
    return CLGRAD_OK;
}

/* The slots the layers below need from the start, in layer order. The ops layer creates its
 * own (GEMM provider state, test hooks) on first use. */
static clgrad_status create_slots(clgrad_context *ctx, const clgrad_context_desc *desc)
{
    CLGRAD_TRY(clgrad__pool_create(ctx));
    CLGRAD_TRY(clgrad__programs_create(ctx, desc ? desc->cache_dir : NULL));
    return clgrad__grad_mode_create(ctx);
}

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
    if (st == CLGRAD_OK && (ctx = calloc(1, sizeof *ctx)) == NULL)
        st = clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "out of host memory creating a context");
    if (st == CLGRAD_OK) {
        ctx->dev.info = list[idx];
        ctx->dev.platform = pids[idx];
        ctx->dev.device = dids[idx];
        ctx->flags = desc ? desc->flags : 0;
        st = open_device(ctx);
    }
    if (st == CLGRAD_OK) st = create_slots(ctx, desc);
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
    if (!ctx || ctx->is_default) return; /* the default context is the library's: clgrad_shutdown */
    release(ctx);
}

static void release(clgrad_context *ctx)
{
    if (ctx->dev.queue) clFinish(ctx->dev.queue);
    clgrad__prof_release(ctx);
    clgrad__ctx_slots_release(ctx);
    if (ctx->dev.queue) clReleaseCommandQueue(ctx->dev.queue);
    if (ctx->dev.cl) clReleaseContext(ctx->dev.cl);
    free(ctx);
}

const clgrad_device_info *clgrad_context_device(const clgrad_context *ctx) { return ctx ? &ctx->dev.info : NULL; }

clgrad_status clgrad_context_finish(clgrad_context *ctx)
{
    if (!ctx) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_context_finish: ctx is NULL");
    double t0 = ctx->prof ? clgrad__now() : 0;
    CLGRAD_CL(ctx, clFinish(ctx->dev.queue));
    if (ctx->prof) clgrad__prof_wait(ctx, clgrad__now() - t0, 0);
    clgrad__programs_save(ctx);
    return CLGRAD_OK;
}

clgrad_status clgrad_context_get_stats(const clgrad_context *ctx, clgrad_context_stats *out)
{
    if (!ctx || !out) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_context_get_stats: ctx and out must not be NULL");
    *out = ctx->dev.head.stats;
    return CLGRAD_OK;
}

const char *clgrad_context_diagnostics(const clgrad_context *ctx)
{
    return ctx ? ctx->dev.head.notes : NULL;
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
    if (default_ctx) release(default_ctx);
    default_ctx = NULL;
    default_tried = 0;
    pthread_mutex_unlock(&default_lock);
}
