/* Internal header of the autograd layer: the graph ordering of the backward walk, exposed
 * for the test that it is linear. */
#ifndef CLGRAD_SRC_AUTOGRAD_H
#define CLGRAD_SRC_AUTOGRAD_H

#include "tensor/node.h"

/* The recorded graph below root (the tensors made by a node, root included) in post-order:
 * every tensor after the inputs it was made from, each once. *order is malloc'd with *n
 * entries (the caller frees it). *work counts the steps taken (edges followed, tensors
 * finished), for tests. Fails with HOST_MEMORY. */
clgrad_status clgrad__topo(clgrad_tensor *root, clgrad_tensor ***order, size_t *n, size_t *work);

/* A function called during clgrad_backward on ctx as soon as a leaf's gradient is final
 * for that backward pass: after the last recorded op that uses the leaf has run its backward
 * rule (so leaf->grad holds everything this pass adds to it, queued on the device). Called
 * once per leaf that requires grad and is an input of the walked graph, in the walk's order
 * (which depends only on the graph), on the thread running the backward, with recording
 * off. The data-parallel layer starts reading a bucket of gradients from it. */
typedef void (*clgrad__leaf_hook_fn)(void *user, clgrad_tensor *leaf);

/* Sets ctx's leaf hook (one per context; fn NULL removes it). Without a hook the walk does
 * no extra work. HOST_MEMORY when the slot cannot be made. */
clgrad_status clgrad__autograd_set_leaf_hook(clgrad_context *ctx, clgrad__leaf_hook_fn fn, void *user);
/* The hook set on ctx (NULL: none); *user gets its argument. */
clgrad__leaf_hook_fn clgrad__autograd_leaf_hook(const clgrad_context *ctx, void **user);

#endif
