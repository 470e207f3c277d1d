/* Graph node creation and lifetime (see node.h). */
#include "tensor/node.h"

#include <stdlib.h>
#include <string.h>

/* The depth of nested no-grad scopes: this layer's slot in the context (src/core/slot.c). */
static const clgrad__slot_key grad_mode_key = {"gradient mode", sizeof(int), NULL};

clgrad_status clgrad__grad_mode_create(clgrad_context *ctx)
{
    return clgrad__ctx_slot(ctx, &grad_mode_key) ? CLGRAD_OK : CLGRAD_ERR_HOST_MEMORY;
}

int clgrad__grad_enabled(const clgrad_context *ctx)
{
    const int *depth = clgrad__ctx_slot_find(ctx, &grad_mode_key);
    return !depth || *depth == 0;
}

void clgrad__no_grad_enter(clgrad_context *ctx)
{
    int *depth = clgrad__ctx_slot(ctx, &grad_mode_key);
    if (depth) (*depth)++;
}

void clgrad__no_grad_exit(clgrad_context *ctx)
{
    int *depth = clgrad__ctx_slot_find(ctx, &grad_mode_key);
    if (depth && *depth > 0) (*depth)--;
}

int clgrad__grad_needed(int n, clgrad_tensor *const *inputs)
{
    for (int i = 0; i < n; i++)
        if (inputs[i] && inputs[i]->requires_grad && clgrad__grad_enabled(inputs[i]->ctx)) return 1;
    return 0;
}

void clgrad__node_free_saved(clgrad__node *n)
{
    for (int i = 0; i < CLGRAD__NODE_MAX_SAVED; i++) {
        clgrad_tensor_release(n->saved[i]);
        n->saved[i] = NULL;
    }
    n->freed = 1;
}

void clgrad__node_drop(clgrad__node *n, clgrad_tensor **dead)
{
    for (int i = 0; i < CLGRAD__NODE_MAX_SAVED; i++) clgrad__tensor_drop(n->saved[i], dead);
    for (int i = 0; i < n->n_inputs; i++) clgrad__tensor_drop(n->inputs[i], dead);
    free(n);
}

/* Saves t (retained) in slot. */
static void node_save(clgrad__node *n, int slot, clgrad_tensor *t)
{
    if (slot < 0 || slot >= CLGRAD__NODE_MAX_SAVED) return;
    clgrad_tensor_release(n->saved[slot]);
    n->saved[slot] = clgrad_tensor_retain(t);
    n->saved_version[slot] = t ? t->version : 0;
}

clgrad_status clgrad__record(clgrad_tensor *out, const clgrad__op *op, int n, clgrad_tensor *const *inputs,
                             const void *state, int n_saved, clgrad_tensor *const *saved)
{
    if (!clgrad__grad_needed(n, inputs)) return CLGRAD_OK;
    if (n > CLGRAD__NODE_MAX_INPUTS || n_saved > CLGRAD__NODE_MAX_SAVED || op->state_size > CLGRAD__NODE_STATE_BYTES)
        return clgrad__fail(out->ctx, CLGRAD_ERR_INVALID_ARG, "%s: too many inputs for a graph node", op->name);
    clgrad__node *nd = calloc(1, sizeof *nd);
    if (!nd) return clgrad__fail(out->ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory for a graph node", op->name);
    nd->op = op;
    nd->name = op->name;
    nd->n_inputs = n;
    for (int i = 0; i < n; i++) {
        nd->inputs[i] = clgrad_tensor_retain(inputs[i]);
        nd->needs_grad[i] = inputs[i] && inputs[i]->requires_grad && !(op->no_grad_inputs >> i & 1u);
    }
    if (op->state_size) memcpy(nd->state.bytes, state, op->state_size);
    for (int i = 0; i < n_saved; i++)
        if (saved[i]) node_save(nd, i, saved[i]);
    nd->out_ndim = out->ndim;
    for (int i = 0; i < out->ndim; i++) nd->out_shape[i] = out->shape[i];
    if (out->node) {
        clgrad_tensor *dead = NULL;
        clgrad__node_drop(out->node, &dead);
        clgrad__tensor_free_dead(dead);
    }
    out->node = nd;
    out->requires_grad = 1;
    return CLGRAD_OK;
}

