/* clgrad autograd: define-by-run gradients. An op on tensors that require grad records
 * what it did; clgrad_backward walks those records in reverse topological order and
 * accumulates gradients into the leaves' .grad. Included by clgrad.h. */
#ifndef CLGRAD_AUTOGRAD_H
#define CLGRAD_AUTOGRAD_H

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a leaf tensor (one not produced by a recorded op) as a parameter whose gradient
 * is wanted. Fails with INVALID_ARG for a non-leaf or a non-f32 tensor. */
CLGRAD_API clgrad_status clgrad_tensor_set_requires_grad(clgrad_tensor *t, int requires_grad);
CLGRAD_API int clgrad_tensor_requires_grad(const clgrad_tensor *t);

/* The accumulated gradient of a leaf (borrowed; NULL before any backward or after
 * clgrad_tensor_zero_grad). Same shape as t, contiguous. */
CLGRAD_API clgrad_tensor *clgrad_tensor_grad(const clgrad_tensor *t);
/* Drops the accumulated gradient (the next backward starts from zero). */
CLGRAD_API void clgrad_tensor_zero_grad(clgrad_tensor *t);

/* Backward from a one-element loss (gradient 1). Gradients add to what leaves already
 * hold. The graph is freed afterwards: a second backward through it is an error. */
CLGRAD_API clgrad_status clgrad_backward(clgrad_tensor *loss);
/* General form: grad_out (out's shape) is the gradient of out; NULL means 1 and needs a
 * one-element out. keep_graph non-zero keeps saved tensors for another backward. */
CLGRAD_API clgrad_status clgrad_backward_ex(clgrad_tensor *out, clgrad_tensor *grad_out, int keep_graph);

/* A new handle on x's data that is not part of any graph and does not require grad. */
CLGRAD_API clgrad_status clgrad_detach(clgrad_tensor *x, clgrad_tensor **out);

/* No-grad scopes nest; ops inside record nothing (evaluation, optimizer updates). */
CLGRAD_API void clgrad_no_grad_begin(clgrad_context *ctx);
CLGRAD_API void clgrad_no_grad_end(clgrad_context *ctx);
CLGRAD_API int clgrad_grad_enabled(const clgrad_context *ctx);

#ifdef __cplusplus
}
#endif

#endif
