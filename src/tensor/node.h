/* Graph nodes: what an op records so autograd can run it backwards. Ops (src/ops) create
 * nodes through this header; the backward walk, no-grad scopes and gradient accumulation
 * live in src/autograd. Kept in the tensor layer because a node is part of a tensor's
 * metadata and ops must be able to create one without calling upward. */
#ifndef CLGRAD_SRC_TENSOR_NODE_H
#define CLGRAD_SRC_TENSOR_NODE_H

#include "tensor/tensor.h"

#include <stddef.h>

#define CLGRAD__NODE_MAX_INPUTS 4
#define CLGRAD__NODE_MAX_SAVED 8

typedef struct clgrad__node clgrad__node;

/* Backward rule. gy is the gradient of the node's output (f32, the output's shape;
 * contiguous unless the op sets gy_strided). For each input i with needs_grad[i] set,
 * store in gx[i] a new reference to a tensor of exactly inputs[i]'s shape (any strides);
 * leave gx[i] NULL otherwise. Called with gradient recording disabled, so rules may use
 * public ops freely. */
typedef clgrad_status (*clgrad__backward_fn)(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx);

/* An op descriptor: the contract between a differentiable op's forward and its backward.
 * One static instance per op, defined with CLGRAD__OP_DEFINE next to the backward rule and
 * listed in src/ops/op_table.h, the table of every differentiable op. */
typedef struct clgrad__op {
    const char *name;             /* the node's name in messages (pointwise ops: the kernel prefix) */
    const char *forward;          /* the function that records it */
    clgrad__backward_fn backward;
    size_t state_size;            /* bytes of its saved parameters (a named struct); 0: none */
    unsigned no_grad_inputs;      /* bit i: input i never gets a gradient (a mask, indices) */
    int gy_strided;               /* backward accepts gy with any strides (views), saving a copy */
} clgrad__op;

/* Room for an op's saved parameters inside a node. */
#define CLGRAD__NODE_STATE_BYTES 128

/* Defines the descriptor clgrad__op_<sym> (name "<sym>") whose saved parameters are a
 * state_type, checking at compile time that they fit a node. Ops with other fields set
 * (no_grad_inputs, gy_strided) spell the struct out. */
#define CLGRAD__OP_DEFINE(sym, forward_, backward_, state_type)                                     \
    _Static_assert(sizeof(state_type) <= CLGRAD__NODE_STATE_BYTES, "state of " #sym " too big");   \
    const clgrad__op clgrad__op_##sym = {                                                          \
        .name = #sym, .forward = forward_, .backward = backward_, .state_size = sizeof(state_type)}
/* The same for an op that saves no parameters. */
#define CLGRAD__OP_DEFINE_STATELESS(sym, forward_, backward_)                                      \
    const clgrad__op clgrad__op_##sym = {.name = #sym, .forward = forward_, .backward = backward_}

struct clgrad__node {
    const clgrad__op *op;
    const char *name;              /* op->name */
    int n_inputs;
    clgrad_tensor *inputs[CLGRAD__NODE_MAX_INPUTS]; /* retained */
    int needs_grad[CLGRAD__NODE_MAX_INPUTS];        /* input requires grad */
    clgrad_tensor *saved[CLGRAD__NODE_MAX_SAVED];   /* retained; what backward needs */
    int saved_version[CLGRAD__NODE_MAX_SAVED];
    union {
        max_align_t align;
        unsigned char bytes[CLGRAD__NODE_STATE_BYTES];
    } state;       /* the op's saved parameters: read them with CLGRAD__NODE_STATE */
    int out_ndim;  /* the output's geometry (the node must not hold its output: a cycle) */
    int64_t out_shape[CLGRAD_MAX_DIMS];
    int freed;     /* backward ran without keep_graph: saved tensors are gone */
};

/* The saved parameters of node n as a pointer to its op's state struct. The read stays
 * inside the node whatever the type (checked at compile time: a type too big for a node
 * does not compile); a backward rule reading another op's struct is caught by that op's
 * finite-difference gradient check (src/ops/op_table.h), not at run time. */
#define CLGRAD__NODE_STATE(n, state_type)                                                            \
    ((const state_type *)((n)->state.bytes +                                                     \
                          0 * sizeof(char[sizeof(state_type) <= CLGRAD__NODE_STATE_BYTES ? 1 : -1])))

/* 1 when an op on these inputs must be recorded: gradient mode is on for their context
 * and at least one non-NULL input requires grad. */
int clgrad__grad_needed(int n, clgrad_tensor *const *inputs);

/* The one way an op records itself: when clgrad__grad_needed(n, inputs) says so, makes a
 * node for op on out (retaining the n inputs, which may include NULL for optional operands
 * such as a bias), copies op->state_size bytes from state (NULL when the op has none),
 * saves the n_saved tensors of saved in slots 0.. (retained; NULL entries skipped), and
 * sets out->node and out->requires_grad. Otherwise does nothing. */
clgrad_status clgrad__record(clgrad_tensor *out, const clgrad__op *op, int n, clgrad_tensor *const *inputs,
                             const void *state, int n_saved, clgrad_tensor *const *saved);


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
