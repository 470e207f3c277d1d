/* Internal header of the memory layer: reference-counted device buffers drawn from a
 * per-context pool of size classes, so steady-state training makes no clCreateBuffer
 * calls. */
#ifndef CLGRAD_SRC_MEMORY_H
#define CLGRAD_SRC_MEMORY_H

#include "device/device.h"

typedef struct clgrad__buffer {
    cl_mem mem;
    size_t size;   /* bytes actually allocated (the size class) */
    size_t nbytes; /* bytes asked for: what tensors on it may address */
    int refs;
    clgrad_context *ctx;
    struct clgrad__buffer *next_free;
} clgrad__buffer;

/* A buffer of at least nbytes (1 if nbytes is 0), with one reference; its nbytes field is
 * the nbytes asked for. Reuses a pooled
 * buffer of the same size class; on device out-of-memory empties the pool and retries
 * once, then fails with CLGRAD_ERR_DEVICE_MEMORY naming the size. */
clgrad_status clgrad__buffer_alloc(clgrad_context *ctx, size_t nbytes, clgrad__buffer **out);
void clgrad__buffer_retain(clgrad__buffer *b);
void clgrad__buffer_release(clgrad__buffer *b); /* last reference: back to the pool */

/* The size class for a request (exposed for tests). */
size_t clgrad__size_class(size_t nbytes);

/* Creates the pool, this layer's slot in ctx (src/runtime calls it when creating ctx); the
 * pool is destroyed with the context's slots, freeing every pooled buffer. */
clgrad_status clgrad__pool_create(clgrad_context *ctx);
void clgrad__pool_trim(clgrad_context *ctx); /* frees pooled (unused) buffers */
/* Test hook: from now on buffers have the requested size (rounded up to 4 bytes) instead of
 * their size class, so that a device checker (Oclgrind) sees every access past a buffer's
 * end; frees the pooled buffers first. */
void clgrad__pool_set_exact(clgrad_context *ctx, int exact);

#endif
