/* The buffer pool. Requests round up to a size class (multiples of 256 bytes below 4 KiB,
 * then four classes per power of two), so a buffer freed by one training step fits the
 * same request in the next. Free buffers wait in one list per class. */
#include "memory/memory.h"

#include <stdlib.h>
#include <string.h>

#define N_CLASSES 256

struct clgrad__pool {
    clgrad__buffer *free_lists[N_CLASSES];
    int exact; /* test hook: buffers of the requested size, so every access past the end is out of bounds */
};

size_t clgrad__size_class(size_t n)
{
    if (n == 0) n = 1;
    if (n <= 4096) return (n + 255) & ~(size_t)255;
    int b = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^b < n <= 2^(b+1) */
    size_t quarter = (size_t)1 << (b - 2);                    /* steps of 2^b / 4 */
    return (n + quarter - 1) / quarter * quarter;
}

static int class_index(size_t cls)
{
    if (cls <= 4096) return (int)(cls / 256) - 1; /* 0..15 */
    int b = 63 - __builtin_clzll((unsigned long long)(cls - 1));
    size_t quarter = (size_t)1 << (b - 2);
    int step = (int)((cls - ((size_t)1 << b)) / quarter) - 1; /* 0..3 */
    int idx = 16 + (b - 12) * 4 + step;
    return idx < N_CLASSES ? idx : N_CLASSES - 1;
}

/* Frees every pooled (unused) buffer of pool. */
static void trim(clgrad_context *ctx, struct clgrad__pool *pool)
{
    clgrad_context_stats *stats = &clgrad__head(ctx)->stats;
    for (int i = 0; i < N_CLASSES; i++) {
        clgrad__buffer *b = pool->free_lists[i];
        while (b) {
            clgrad__buffer *next = b->next_free;
            stats->device_bytes -= b->size;
            stats->pooled_buffers--;
            clReleaseMemObject(b->mem);
            free(b);
            b = next;
        }
        pool->free_lists[i] = NULL;
    }
}

static void pool_destroy(clgrad_context *ctx, void *state) { trim(ctx, state); }

/* The pool is this layer's slot in the context (src/core/slot.c). */
static const clgrad__slot_key pool_key = {"buffer pool", sizeof(struct clgrad__pool), pool_destroy};

static struct clgrad__pool *pool_of(const clgrad_context *ctx) { return clgrad__ctx_slot_find(ctx, &pool_key); }

clgrad_status clgrad__pool_create(clgrad_context *ctx)
{
    return clgrad__ctx_slot(ctx, &pool_key) ? CLGRAD_OK : CLGRAD_ERR_HOST_MEMORY;
}

void clgrad__pool_set_exact(clgrad_context *ctx, int exact)
{
    struct clgrad__pool *pool = ctx ? pool_of(ctx) : NULL;
    if (!pool) return;
    trim(ctx, pool);
    pool->exact = exact != 0;
}

void clgrad__pool_trim(clgrad_context *ctx)
{
    struct clgrad__pool *pool = ctx ? pool_of(ctx) : NULL;
    if (pool) trim(ctx, pool);
}

static cl_int create(clgrad_context *ctx, size_t size, cl_mem *mem)
{
    cl_int e = CL_SUCCESS;
    *mem = clCreateBuffer(clgrad__dev(ctx)->cl, CL_MEM_READ_WRITE, size, NULL, &e);
    return e;
}

clgrad_status clgrad__buffer_alloc(clgrad_context *ctx, size_t nbytes, clgrad__buffer **out)
{
    *out = NULL;
    const clgrad_device_info *info = &clgrad__dev(ctx)->info;
    clgrad_context_stats *stats = &clgrad__head(ctx)->stats;
    struct clgrad__pool *pool = pool_of(ctx);
    size_t cls = pool && pool->exact ? (nbytes + 3) / 4 * 4 + 4 * (nbytes == 0) : clgrad__size_class(nbytes);
    if (cls > info->max_alloc_bytes && nbytes <= info->max_alloc_bytes) cls = nbytes ? nbytes : 1;
    if (cls > info->max_alloc_bytes)
        return clgrad__fail(ctx, CLGRAD_ERR_DEVICE_MEMORY,
                            "cannot allocate %zu bytes on %s: larger than its maximum allocation of %llu bytes",
                            nbytes, info->name, (unsigned long long)info->max_alloc_bytes);
    int ci = class_index(clgrad__size_class(cls)); /* exact sizes share their class's list */
    for (clgrad__buffer **pp = pool ? &pool->free_lists[ci] : NULL; pp && *pp; pp = &(*pp)->next_free) {
        clgrad__buffer *b = *pp;
        if (b->size != cls) continue;
        *pp = b->next_free;
        b->next_free = NULL;
        b->refs = 1;
        b->nbytes = nbytes;
        stats->pool_hits++;
        stats->pooled_buffers--;
        stats->live_buffers++;
        *out = b;
        return CLGRAD_OK;
    }
    clgrad__buffer *b = calloc(1, sizeof *b);
    if (!b) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    cl_int e = create(ctx, cls, &b->mem);
    if (e == CL_MEM_OBJECT_ALLOCATION_FAILURE || e == CL_OUT_OF_RESOURCES || e == CL_OUT_OF_HOST_MEMORY) {
        clgrad__pool_trim(ctx); /* give the memory held for reuse back, then try once more */
        e = create(ctx, cls, &b->mem);
    }
    if (e != CL_SUCCESS) {
        free(b);
        if (e == CL_MEM_OBJECT_ALLOCATION_FAILURE || e == CL_OUT_OF_RESOURCES || e == CL_OUT_OF_HOST_MEMORY ||
            e == CL_INVALID_BUFFER_SIZE)
            return clgrad__fail(ctx, CLGRAD_ERR_DEVICE_MEMORY,
                                "out of device memory on %s allocating %zu bytes (%llu bytes held by clgrad): %s",
                                info->name, nbytes, (unsigned long long)stats->device_bytes,
                                clgrad__cl_error_name(e));
        return clgrad__cl_fail(ctx, e, "clCreateBuffer");
    }
    b->size = cls;
    b->nbytes = nbytes;
    b->refs = 1;
    b->ctx = ctx;
    stats->buffers_created++;
    stats->live_buffers++;
    stats->device_bytes += cls;
    if (stats->device_bytes > stats->peak_device_bytes) stats->peak_device_bytes = stats->device_bytes;
    *out = b;
    return CLGRAD_OK;
}

void clgrad__buffer_retain(clgrad__buffer *b)
{
    if (b) b->refs++;
}

void clgrad__buffer_release(clgrad__buffer *b)
{
    if (!b || --b->refs > 0) return;
    clgrad_context_stats *stats = &clgrad__head(b->ctx)->stats;
    struct clgrad__pool *pool = pool_of(b->ctx);
    stats->live_buffers--;
    if (!pool) { /* only while the context is being released: nothing to keep it for */
        stats->device_bytes -= b->size;
        clReleaseMemObject(b->mem);
        free(b);
        return;
    }
    int ci = class_index(clgrad__size_class(b->size));
    b->next_free = pool->free_lists[ci];
    pool->free_lists[ci] = b;
    stats->pooled_buffers++;
}
