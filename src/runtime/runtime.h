/* Internal header of the runtime layer: the context, the composition root of the library.
 * A context is built in layers, each part starting with the part of the layer below:
 * struct clgrad_context starts with the device part (src/device/device.h), which starts
 * with the head (src/core/core.h), so each lower layer reaches its part by a cast without
 * knowing this struct. The state of the program, memory and tensor layers and of the ops
 * layer above lives in slots those layers define (clgrad__ctx_slot); this layer creates
 * the eager ones when a context is created and releases them all with it. */
#ifndef CLGRAD_SRC_RUNTIME_H
#define CLGRAD_SRC_RUNTIME_H

#include "device/device.h"

struct clgrad_context {
    clgrad__ctx_device dev; /* the device part; must stay first */
    uint32_t flags;         /* clgrad_context_desc.flags (CLGRAD_CONTEXT_*) */
    int is_default;         /* the context clgrad_context_default made */
    struct clgrad__profile *prof;      /* the profile being recorded; NULL when none is */
    struct clgrad__profile *prof_kept; /* the last profile's record (src/runtime/profile.c) */
};

/* --- profiling hooks (src/runtime/profile.c): each does work only while ctx->prof is set,
 * and callers test that first so that nothing is timed when no profile is recorded --- */

/* A kernel (or CLBlast call: key NULL) was enqueued with event ev (taken over; NULL when the
 * enqueue gave none) after host_s seconds on the host. family and kernel are copied. */
void clgrad__prof_launch(clgrad_context *ctx, const char *family, const char *kernel, const void *key, cl_event ev,
                         double host_s);
/* The host was blocked host_s seconds on the device; bytes > 0 for a blocking transfer. */
void clgrad__prof_wait(clgrad_context *ctx, double host_s, size_t bytes);
/* A transfer of bytes was enqueued without waiting, in host_s seconds (counted as other). */
void clgrad__prof_transfer(clgrad_context *ctx, double host_s, size_t bytes);
/* Frees the profile records of ctx (the runtime calls it when releasing ctx). */
void clgrad__prof_release(clgrad_context *ctx);

#endif
