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

#endif
