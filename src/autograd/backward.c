/* The backward pass: topological order from the output, gradient accumulation into
 * non-leaf scratch slots and leaf .grad tensors, graph freeing, and no-grad scopes.
 * Only the public ops API and graph metadata are used here; no OpenCL. */
#include "autograd/autograd.h"

#include <stdlib.h>
#include <string.h>

void clgrad_no_grad_begin(clgrad_context *ctx)
{
    if (ctx) clgrad__no_grad_enter(ctx);
}

void clgrad_no_grad_end(clgrad_context *ctx)
{
    if (ctx) clgrad__no_grad_exit(ctx);
}

int clgrad_grad_enabled(const clgrad_context *ctx) { return ctx ? clgrad__grad_enabled(ctx) : 0; }

clgrad_status clgrad_tensor_set_requires_grad(clgrad_tensor *t, int requires_grad)
{
    if (!t) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_tensor_set_requires_grad: t is NULL");
    if (t->node)
        return clgrad__fail(t->ctx, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_tensor_set_requires_grad: only leaf tensors can be marked; this one comes from %s "
                            "(use clgrad_detach first)", t->node->name);
    if (requires_grad && t->dtype != CLGRAD_DTYPE_F32)
        return clgrad__fail(t->ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_tensor_set_requires_grad: only f32 tensors have gradients");
    t->requires_grad = requires_grad ? 1 : 0;
    return CLGRAD_OK;
}

int clgrad_tensor_requires_grad(const clgrad_tensor *t) { return t ? t->requires_grad : 0; }
clgrad_tensor *clgrad_tensor_grad(const clgrad_tensor *t) { return t ? t->grad : NULL; }

void clgrad_tensor_zero_grad(clgrad_tensor *t)
{
    if (!t) return;
    clgrad_tensor_release(t->grad);
    t->grad = NULL;
}

clgrad_status clgrad_detach(clgrad_tensor *x, clgrad_tensor **out)
{
    if (out) *out = NULL;
    if (!x || !out) return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_detach: x and out must not be NULL");
    return clgrad__tensor_view(x, x->ndim, x->shape, x->strides, x->offset, out);
}

/* The leaf hook of a context (autograd.h): this layer's slot, made when a hook is set. */
typedef struct leaf_hook {
    clgrad__leaf_hook_fn fn;
    void *user;
} leaf_hook;

static const clgrad__slot_key leaf_hook_key = {"autograd leaf hook", sizeof(leaf_hook), NULL};

clgrad_status clgrad__autograd_set_leaf_hook(clgrad_context *ctx, clgrad__leaf_hook_fn fn, void *user)
{
    if (!ctx) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad__autograd_set_leaf_hook: ctx is NULL");
    leaf_hook *h = fn ? clgrad__ctx_slot(ctx, &leaf_hook_key) : clgrad__ctx_slot_find(ctx, &leaf_hook_key);
    if (fn && !h) return CLGRAD_ERR_HOST_MEMORY; /* recorded by clgrad__ctx_slot */
    if (h) {
        h->fn = fn;
        h->user = fn ? user : NULL;
    }
    return CLGRAD_OK;
}

clgrad__leaf_hook_fn clgrad__autograd_leaf_hook(const clgrad_context *ctx, void **user)
{
    const leaf_hook *h = ctx ? clgrad__ctx_slot_find(ctx, &leaf_hook_key) : NULL;
    if (user) *user = h && h->fn ? h->user : NULL;
    return h ? h->fn : NULL;
}

/* A leaf whose gradient the hook waits for: an input of a node that wants its gradient. */
static int hooked_leaf(const clgrad__node *nd, int i)
{
    const clgrad_tensor *in = nd->inputs[i];
    return in && !in->node && in->requires_grad && nd->needs_grad[i];
}

/* Adds g into *slot (creating it when empty); g is consumed. */
static clgrad_status accumulate(clgrad_tensor **slot, clgrad_tensor *g)
{
    if (!*slot) {
        *slot = g;
        return CLGRAD_OK;
    }
    clgrad_tensor *sum = NULL;
    clgrad_status st = clgrad_add(*slot, g, &sum);
    clgrad_tensor_release(g);
    if (st != CLGRAD_OK) return st;
    clgrad_tensor_release(*slot);
    *slot = sum;
    return CLGRAD_OK;
}

typedef struct order {
    clgrad_tensor **v;
    size_t n, cap;
} order;

static int push(order *o, clgrad_tensor *t)
{
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 64;
        void *p = realloc(o->v, nc * sizeof *o->v);
        if (!p) return 0;
        o->v = p;
        o->cap = nc;
    }
    o->v[o->n++] = t;
    return 1;
}

/* Post-order of the graph below root (tensors with a node), iteratively, so a chain of any
 * length needs no C stack. A tensor is marked when first reached (topo_mark), so each node
 * and edge is handled once: linear in the size of the graph. The marks are cleared before
 * returning; every marked tensor is on the stack or already in post. */
typedef struct frame {
    clgrad_tensor *t;
    int next; /* the next input of t's node to visit */
} frame;

static clgrad_status topo(clgrad_tensor *root, order *post, size_t *work)
{
    frame *stack = NULL;
    size_t n = 0, cap = 0;
    clgrad_status st = CLGRAD_OK;
    for (clgrad_tensor *t = root; t;) {
        if (n == cap) { /* push t */
            size_t nc = cap ? cap * 2 : 64;
            void *p = realloc(stack, nc * sizeof *stack);
            if (!p) goto oom;
            stack = p;
            cap = nc;
        }
        stack[n++] = (frame){t, 0};
        t->topo_mark = 1;
        t = NULL;
        while (n > 0 && !t) { /* the next unmarked input of the top, finishing tensors on the way */
            frame *f = &stack[n - 1];
            const clgrad__node *nd = f->t->node;
            ++*work;
            if (f->next < nd->n_inputs) {
                clgrad_tensor *in = nd->inputs[f->next++];
                if (in && in->node && !in->topo_mark) t = in;
            } else {
                if (!push(post, f->t)) goto oom;
                n--;
            }
        }
    }
    goto done;
oom:
    st = clgrad__fail(root->ctx, CLGRAD_ERR_HOST_MEMORY, "backward: out of host memory ordering the graph");
done:
    for (size_t i = 0; i < n; i++) stack[i].t->topo_mark = 0;
    for (size_t i = 0; i < post->n; i++) post->v[i]->topo_mark = 0;
    free(stack);
    return st;
}

clgrad_status clgrad__topo(clgrad_tensor *root, clgrad_tensor ***out, size_t *n, size_t *work)
{
    order post = {0};
    *work = 0;
    clgrad_status st = root->node ? topo(root, &post, work) : CLGRAD_OK;
    *out = post.v;
    *n = post.n;
    return st;
}

static int same_shape(const clgrad_tensor *a, const clgrad_tensor *b)
{
    return a->ndim == b->ndim && memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim) == 0;
}

static clgrad_status run_node(clgrad_tensor *t)
{
    clgrad__node *nd = t->node;
    clgrad_tensor *g = t->grad_accum;
    t->grad_accum = NULL;
    if (!g) return CLGRAD_OK; /* no gradient reached this tensor */
    clgrad_status st = CLGRAD_OK;
    clgrad_tensor *gc = NULL;
    clgrad_tensor *gx[CLGRAD__NODE_MAX_INPUTS] = {0};
    if (nd->freed) {
        st = clgrad__fail(t->ctx, CLGRAD_ERR_INVALID_ARG,
                          "backward: the graph through %s was already freed by an earlier backward; pass keep_graph "
                          "to clgrad_backward_ex to go through it twice", nd->name);
        goto done;
    }
    for (int i = 0; i < CLGRAD__NODE_MAX_SAVED; i++)
        if (nd->saved[i] && nd->saved[i]->version != nd->saved_version[i]) {
            st = clgrad__fail(t->ctx, CLGRAD_ERR_INVALID_ARG,
                              "backward: a tensor saved by %s was modified in place after it was used", nd->name);
            goto done;
        }
    if (nd->op->gy_strided) gc = clgrad_tensor_retain(g);
    else st = clgrad_contiguous(g, &gc);
    if (st != CLGRAD_OK) goto done;
    st = nd->op->backward(nd, gc, gx);
    if (st != CLGRAD_OK) goto done;
    for (int i = 0; i < nd->n_inputs; i++) {
        clgrad_tensor *in = nd->inputs[i];
        if (!gx[i]) continue;
        if (!in || !nd->needs_grad[i] || !in->requires_grad) {
            clgrad_tensor_release(gx[i]);
            gx[i] = NULL;
            continue;
        }
        if (!same_shape(gx[i], in)) {
            char a[256], b[256];
            st = clgrad__fail(t->ctx, CLGRAD_ERR_SHAPE, "backward of %s: gradient %s for input %d of shape %s", nd->name,
                              clgrad__shape_str(a, sizeof a, gx[i]->ndim, gx[i]->shape), i,
                              clgrad__shape_str(b, sizeof b, in->ndim, in->shape));
            goto done;
        }
        clgrad_tensor *gi = gx[i];
        gx[i] = NULL;
        if (in->node) {
            st = accumulate(&in->grad_accum, gi);
        } else {
            clgrad_tensor *c = NULL;
            st = clgrad_contiguous(gi, &c);
            clgrad_tensor_release(gi);
            if (st == CLGRAD_OK && c == gi && clgrad__tensor_is_shared(c)) {
                /* never alias a gradient another tensor may still hold: copy */
                clgrad_tensor *cp = NULL;
                st = clgrad_clone(c, &cp);
                clgrad_tensor_release(c);
                c = cp;
            }
            if (st == CLGRAD_OK) st = accumulate(&in->grad, c);
        }
        if (st != CLGRAD_OK) goto done;
    }
done:
    for (int i = 0; i < CLGRAD__NODE_MAX_INPUTS; i++) clgrad_tensor_release(gx[i]);
    clgrad_tensor_release(gc);
    clgrad_tensor_release(g);
    return st;
}

static clgrad_status backward(clgrad_tensor *out, clgrad_tensor *grad_out, int keep_graph)
{
    if (!out) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_backward: out is NULL");
    clgrad_context *ctx = out->ctx;
    if (!out->requires_grad)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_backward: the tensor does not require grad (no input of the ops that made it "
                            "requires grad, or it was made inside a no-grad scope)");
    clgrad_tensor *g = NULL;
    if (grad_out) {
        if (grad_out->ctx != ctx)
            return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_backward: grad_out belongs to another context");
        if (grad_out->dtype != CLGRAD_DTYPE_F32)
            return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_backward: grad_out must be f32 (dtype %d)",
                                (int)grad_out->dtype);
        if (!same_shape(grad_out, out)) {
            char a[256], b[256];
            return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "clgrad_backward: grad_out %s does not match the output %s",
                                clgrad__shape_str(a, sizeof a, grad_out->ndim, grad_out->shape),
                                clgrad__shape_str(b, sizeof b, out->ndim, out->shape));
        }
        g = clgrad_tensor_retain(grad_out);
    } else {
        if (clgrad__numel(out->ndim, out->shape) != 1) {
            char a[256];
            return clgrad__fail(ctx, CLGRAD_ERR_SHAPE,
                                "clgrad_backward: the output has shape %s; backward without a gradient needs a "
                                "one-element loss (use clgrad_backward_ex with grad_out)",
                                clgrad__shape_str(a, sizeof a, out->ndim, out->shape));
        }
        CLGRAD_TRY(clgrad_tensor_ones(ctx, out->ndim, out->shape, &g));
    }

    if (!out->node) { /* a leaf: its gradient is grad_out itself */
        clgrad_tensor *c = NULL;
        clgrad_status st = clgrad_clone(g, &c);
        clgrad_tensor_release(g);
        if (st == CLGRAD_OK) st = accumulate(&out->grad, c);
        return st;
    }

    order post = {0};
    size_t work = 0;
    clgrad_status st = topo(out, &post, &work);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(g);
        return st;
    }
    clgrad__no_grad_enter(ctx);
    clgrad_tensor_release(out->grad_accum);
    out->grad_accum = g;
    const leaf_hook *hook = clgrad__ctx_slot_find(ctx, &leaf_hook_key);
    if (hook && !hook->fn) hook = NULL;
    if (hook) /* count each leaf's uses, so the hook fires after the last one */
        for (size_t i = 0; i < post.n; i++)
            for (int k = 0; k < post.v[i]->node->n_inputs; k++)
                if (hooked_leaf(post.v[i]->node, k)) post.v[i]->node->inputs[k]->grad_pending++;
    for (size_t i = post.n; i-- > 0 && st == CLGRAD_OK;) {
        st = run_node(post.v[i]);
        const clgrad__node *nd = post.v[i]->node;
        if (hook && st == CLGRAD_OK)
            for (int k = 0; k < nd->n_inputs; k++)
                if (hooked_leaf(nd, k) && --nd->inputs[k]->grad_pending == 0) hook->fn(hook->user, nd->inputs[k]);
    }
    if (hook)
        for (size_t i = 0; i < post.n; i++)
            for (int k = 0; k < post.v[i]->node->n_inputs; k++)
                if (post.v[i]->node->inputs[k]) post.v[i]->node->inputs[k]->grad_pending = 0;
    for (size_t i = 0; i < post.n; i++) {
        clgrad_tensor_release(post.v[i]->grad_accum);
        post.v[i]->grad_accum = NULL;
        if (!keep_graph && st == CLGRAD_OK) clgrad__node_free_saved(post.v[i]->node);
    }
    clgrad__no_grad_exit(ctx);
    free(post.v);
    return st;
}

clgrad_status clgrad_backward_ex(clgrad_tensor *out, clgrad_tensor *grad_out, int keep_graph)
{
    /* a profile being recorded counts the walk as the backward phase */
    clgrad_context *ctx = out ? out->ctx : NULL;
    clgrad_profile_phase was = clgrad_profile_get_phase(ctx);
    if (ctx) clgrad_profile_set_phase(ctx, CLGRAD_PROFILE_BACKWARD);
    clgrad_status st = backward(out, grad_out, keep_graph);
    if (ctx) clgrad_profile_set_phase(ctx, was);
    return st;
}

clgrad_status clgrad_backward(clgrad_tensor *loss) { return clgrad_backward_ex(loss, NULL, 0); }
