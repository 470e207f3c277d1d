/* What the data-parallel layer (src/dist) needs from ops, with public types only so that
 * src/nn and src/dist stay free of OpenCL:
 *   - a differentiable op around a collective: y = fn(x) where fn sums x over the ranks of
 *     a group (synchronised batch norm); its backward is the same collective of the
 *     gradient, because a sum over ranks into every rank is its own adjoint;
 *   - waiting for a queued read from another thread (the group's communication thread);
 *   - handing the queued commands to the device, so that a read queued behind the backward
 *     pass starts as soon as its inputs are ready. */
#ifndef CLGRAD_SRC_OPS_COLLECTIVE_H
#define CLGRAD_SRC_OPS_COLLECTIVE_H

#include "core/core.h"

/* A linear map equal to its own adjoint (a sum over the ranks of a group, into every
 * rank): *out a new tensor (not x, nor sharing x's storage) of x's shape and context. x is
 * f32 and contiguous. Called with gradient recording off. */
typedef clgrad_status (*clgrad__collective_fn)(void *user, clgrad_tensor *x, clgrad_tensor **out);

/* y = fn(x), recorded for backward when x requires grad; the backward rule is
 * dx = fn(user, dy). fn and user must stay valid until that backward has run (or the graph
 * is released). x f32 of any shape and strides (a contiguous copy is handed to fn). */
clgrad_status clgrad__collective(clgrad_tensor *x, clgrad__collective_fn fn, void *user, clgrad_tensor **out);

/* Waits until the read p (clgrad_tensor_read_start) is done and frees p, from any thread:
 * unlike clgrad_pending_wait it records nothing on the context, the profile or the calling
 * thread; on failure msg (cap bytes, may be NULL) says why. NULL p: CLGRAD_OK. */
clgrad_status clgrad__pending_wait_quiet(clgrad_pending *p, char *msg, size_t cap);

/* Submits every command queued on ctx to the device without waiting (clFlush). */
clgrad_status clgrad__queue_flush(clgrad_context *ctx);

#endif
