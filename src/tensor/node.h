/* Graph nodes: what an op records so autograd can run it backwards. Ops (src/ops) create
 * nodes through this header; the backward walk, no-grad scopes and gradient accumulation
 * live in src/autograd. Kept in the tensor layer because a node is part of a tensor's
 * metadata and ops must be able to create one without calling upward. */
#ifndef CLGRAD_SRC_TENSOR_NODE_H
#define CLGRAD_SRC_TENSOR_NODE_H

#include "tensor/tensor.h"

#define CLGRAD__NODE_MAX_INPUTS 4
#define CLGRAD__NODE_MAX_SAVED 8

typedef struct clgrad__node clgrad__node;

/* Backward rule. gy is the gradient of the node's output (f32, the output's shape;
 * contiguous unless the node set gy_strided). For each input i with needs_grad[i] set,
 * store in gx[i] a new reference to a tensor of exactly inputs[i]'s shape (any strides);
 * leave gx[i] NULL otherwise. Called with gradient recording disabled, so rules may use
 * public ops freely. */
typedef clgrad_status (*clgrad__backward_fn)(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx);

struct clgrad__node {
    struct clgrad__node_head head; /* destroy hook; must stay first */
    const char *name;              /* static string: the op's name, for messages */
    clgrad__backward_fn backward;
    int n_inputs;
    clgrad_tensor *inputs[CLGRAD__NODE_MAX_INPUTS]; /* retained */
    int needs_grad[CLGRAD__NODE_MAX_INPUTS];        /* input requires grad */
    clgrad_tensor *saved[CLGRAD__NODE_MAX_SAVED];   /* retained; what backward needs */
    int saved_version[CLGRAD__NODE_MAX_SAVED];
    double f[8];   /* op parameters (scalars) */
    int64_t i[16]; /* op parameters (integers, axes, strides) */
    int out_ndim;  /* the output's geometry (the node must not hold its output: a cycle) */
    int64_t out_shape[CLGRAD_MAX_DIMS];
    void *extra; /* anything else; freed with free_extra when set */
    void (*free_extra)(void *);
    int freed;   /* backward ran without keep_graph: saved tensors are gone */
    int gy_strided; /* backward accepts gy with any strides (views), saving a copy */
};

/* 1 when an op on these inputs must be recorded: gradient mode is on for their context
 * and at least one non-NULL input requires grad. */
int clgrad__grad_needed(int n, clgrad_tensor *const *inputs);

/* Records that out was produced from inputs by backward rule fn: creates a node, retains
 * the inputs, sets out->node and out->requires_grad. *node (optional) lets the caller save
 * tensors and parameters. Call only when clgrad__grad_needed() said so. NULL inputs are
 * allowed (optional operands such as a bias). */
clgrad_status clgrad__node_attach(clgrad_tensor *out, const char *name, clgrad__backward_fn fn, int n,
                                  clgrad_tensor *const *inputs, clgrad__node **node);

/* Saves t (retained) in slot. */
void clgrad__node_save(clgrad__node *n, int slot, clgrad_tensor *t);

/* Drops what backward needed (after a backward pass without keep_graph). */
void clgrad__node_free_saved(clgrad__node *n);

/* Gradient mode of a context: enabled unless inside a no-grad scope. The depth of nested
 * no-grad scopes is this layer's slot in the context, because recording (above) reads it;
 * src/autograd's scopes and the backward walk change it through enter/exit. */
int clgrad__grad_enabled(const clgrad_context *ctx);
void clgrad__no_grad_enter(clgrad_context *ctx);
void clgrad__no_grad_exit(clgrad_context *ctx); /* never below 0 */

/* Creates the gradient-mode slot (src/runtime calls it when creating ctx, so entering a
 * scope never allocates). */
clgrad_status clgrad__grad_mode_create(clgrad_context *ctx);

#endif
