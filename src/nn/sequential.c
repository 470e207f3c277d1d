/* Sequential container: runs its children in order, each child's output feeding the next; a
 * layer that can take a following ReLU into its own last pass runs the pair as one op, and a
 * convolution followed by a ReLU and 2x2 max pooling the three. */
#include "nn/nn.h"

#include <stdio.h>

static clgrad_status sequential_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    clgrad_tensor *cur = clgrad_tensor_retain(x);
    for (int i = 0; i < m->n_children; i++) {
        clgrad_tensor *next = NULL;
        clgrad_module *c = m->children[i].m;
        clgrad_status s;
        clgrad__forward_relu_fn fused = clgrad__linear_forward_relu_of(c);
        if (!fused) fused = clgrad__conv_forward_relu_of(c);
        clgrad__forward_relu_fn fused_pool = clgrad__conv_forward_relu_pool_of(c);
        int relu_next = i + 1 < m->n_children && clgrad__module_is_relu(m->children[i + 1].m);
        if (fused_pool && relu_next && i + 2 < m->n_children && clgrad__module_is_max_pool_2x2(m->children[i + 2].m)) {
            s = fused_pool(c, cur, &next);
            if (s == CLGRAD_OK) i += 2;
        } else if (fused && relu_next) {
            s = fused(c, cur, &next);
            if (s == CLGRAD_OK) i++;
        } else {
            s = clgrad_module_forward(c, cur, &next);
        }
        clgrad_tensor_release(cur);
        if (s != CLGRAD_OK) {
            char where[96];
            snprintf(where, sizeof where, " (in child %s, a %s module, of a sequential module)",
                     m->children[i].name, m->children[i].m->vt->kind);
            clgrad__fail_append(m->ctx, where);
            return s;
        }
        cur = next;
    }
    *out = cur;
    return CLGRAD_OK;
}

static const clgrad__module_vtable sequential_vt = {"sequential", sequential_forward, NULL, NULL};

CLGRAD_API clgrad_status clgrad_sequential_create(clgrad_context *ctx, clgrad_module **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && out != NULL, "ctx and out must not be NULL");
    return clgrad__module_new(ctx, &sequential_vt, out);
}

CLGRAD_API clgrad_status clgrad_sequential_add_named(clgrad_module *seq, const char *name, clgrad_module *child)
{
    if (!seq || seq->vt != &sequential_vt) {
        clgrad_context *ctx = seq ? seq->ctx : NULL;
        clgrad_module_release(child);
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_sequential_add: %s",
                            seq ? "the container is not a sequential module" : "the container is NULL");
    }
    if (!child)
        return clgrad__fail(seq->ctx, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_sequential_add: child is NULL (did its constructor fail?)");
    return clgrad__module_add_child(seq, name, child);
}

CLGRAD_API clgrad_status clgrad_sequential_add(clgrad_module *seq, clgrad_module *child)
{
    char name[24];
    snprintf(name, sizeof name, "%d", seq ? seq->n_children : 0);
    return clgrad_sequential_add_named(seq, name, child);
}
