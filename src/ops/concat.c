/* Concatenation: clgrad_cat joins tensors along an existing dim, clgrad_stack along a new
 * one. The forward pass copies each input into its part of a new contiguous tensor; the
 * backward rule hands each input a view of its part of the output gradient (no copy). A
 * graph node holds at most CLGRAD__NODE_MAX_INPUTS inputs, so a recorded join of more
 * tensors is built as a tree of joins (depth log4 n, each level copying the data once). */
#include "ops/ops.h"
#include "ops/op_table.h"

#include <stdlib.h>
#include <string.h>

/* The part of t (the joined tensor or its gradient) that input i fills: start..start+len
 * along dim; for a stack (len 1) the dim is dropped so the view has the input's shape. */
static clgrad_status part_view(clgrad_tensor *t, int dim, int64_t start, int64_t len, int stack, clgrad_tensor **out)
{
    if (!stack) return clgrad__slice_view(t, dim, start, start + len, 1, out);
    int64_t sh[CLGRAD_MAX_DIMS], st[CLGRAD_MAX_DIMS];
    int k = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (d == dim) continue;
        sh[k] = t->shape[d];
        st[k] = t->strides[d];
        k++;
    }
    return clgrad__tensor_view(t, k, sh, st, t->offset + start * t->strides[dim], out);
}

/* Where each input sits in the result; stack or cat is the descriptor. */
typedef struct join_state {
    int dim; /* normalised */
    int64_t start[CLGRAD__NODE_MAX_INPUTS];
} join_state;

static clgrad_status join_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    const join_state *s = CLGRAD__NODE_STATE(n, join_state);
    int dim = s->dim, stack = n->op == &clgrad__op_stack;
    for (int k = 0; k < n->n_inputs; k++) {
        if (!n->needs_grad[k]) continue;
        int64_t start = s->start[k], len = stack ? 1 : n->inputs[k]->shape[dim];
        CLGRAD_TRY(part_view(gy, dim, start, len, stack, &gx[k]));
    }
    return CLGRAD_OK;
}

/* Checks the inputs; fills the output shape. dim is already normalised against the
 * output's rank. */
static clgrad_status check_inputs(const char *fn, int n, clgrad_tensor *const *ts, int dim, int stack, int *ondim,
                                  int64_t *oshape)
{
    clgrad_tensor *t0 = ts[0];
    for (int k = 0; k < n; k++) {
        if (!ts[k]) return clgrad__fail(t0 ? t0->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "%s: tensor %d is NULL", fn, k);
        if (ts[k]->ctx != ts[0]->ctx)
            return clgrad__fail(ts[0]->ctx, CLGRAD_ERR_INVALID_ARG, "%s: tensor %d belongs to another context", fn, k);
        if (ts[k]->dtype != ts[0]->dtype)
            return clgrad__fail(ts[0]->ctx, CLGRAD_ERR_INVALID_ARG, "%s: tensor %d has another dtype than tensor 0",
                                fn, k);
    }
    if (!stack && t0->ndim == 0)
        return clgrad__fail(t0->ctx, CLGRAD_ERR_SHAPE, "%s: cannot concatenate 0-d tensors (use clgrad_stack)", fn);
    int nd = t0->ndim + (stack ? 1 : 0);
    if (nd > CLGRAD_MAX_DIMS)
        return clgrad__fail(t0->ctx, CLGRAD_ERR_SHAPE, "%s: the result would have %d dims (at most %d)", fn, nd,
                            CLGRAD_MAX_DIMS);
    if (dim < -nd || dim >= nd)
        return clgrad__fail(t0->ctx, CLGRAD_ERR_INVALID_ARG, "%s: dim %d is out of range for a %d-d result", fn, dim,
                            nd);
    int d = dim < 0 ? dim + nd : dim;
    int64_t total = 0;
    for (int k = 0; k < n; k++) {
        const clgrad_tensor *t = ts[k];
        int ok = t->ndim == t0->ndim;
        for (int j = 0; ok && j < t0->ndim; j++)
            if (j != d || stack) ok = t->shape[j] == t0->shape[j];
        if (!ok) {
            char a[256], b[256];
            return clgrad__fail(t0->ctx, CLGRAD_ERR_SHAPE, "%s: tensor %d has shape %s, tensor 0 has %s (%s)", fn, k,
                                clgrad__shape_str(a, sizeof a, t->ndim, t->shape),
                                clgrad__shape_str(b, sizeof b, t0->ndim, t0->shape),
                                stack ? "all shapes must be equal" : "all dims but dim must match");
        }
        int64_t len = stack ? 1 : t->shape[d];
        if (total > CLGRAD__MAX_ELEMS - len)
            return clgrad__fail(t0->ctx, CLGRAD_ERR_SHAPE, "%s: the sizes along dim %d add up to more than %lld", fn, d,
                                (long long)CLGRAD__MAX_ELEMS);
        total += len;
    }
    for (int j = 0, k = 0; j < nd; j++) {
        if (j == d) oshape[j] = total;
        else oshape[j] = t0->shape[k];
        if (j != d || !stack) k++;
    }
    *ondim = nd;
    return clgrad__check_shape(t0->ctx, fn, nd, oshape);
}

/* One join: copies every input into a new tensor and records a node when n fits in one. */
CLGRAD__OP_DEFINE(cat, "clgrad_cat", join_backward, join_state);
CLGRAD__OP_DEFINE(stack, "clgrad_stack", join_backward, join_state);

static clgrad_status join_once(const char *fn, int n, clgrad_tensor *const *ts, int dim, int stack,
                               clgrad_tensor **out)
{
    int nd;
    int64_t oshape[CLGRAD_MAX_DIMS];
    CLGRAD_TRY(check_inputs(fn, n, ts, dim, stack, &nd, oshape));
    int d = dim < 0 ? dim + nd : dim;
    clgrad_tensor *y = NULL;
    CLGRAD_TRY(clgrad__tensor_new(ts[0]->ctx, ts[0]->dtype, nd, oshape, &y));
    clgrad_status st = CLGRAD_OK;
    int64_t start = 0;
    for (int k = 0; k < n && st == CLGRAD_OK; k++) {
        int64_t len = stack ? 1 : ts[k]->shape[d];
        clgrad_tensor *v = NULL;
        st = part_view(y, d, start, len, stack, &v);
        if (st == CLGRAD_OK) st = clgrad__copy(v, ts[k]);
        clgrad_tensor_release(v);
        start += len;
    }
    if (st == CLGRAD_OK && n <= CLGRAD__NODE_MAX_INPUTS) {
        join_state s = {d, {0}};
        int64_t s0 = 0;
        for (int k = 0; k < n; k++) {
            s.start[k] = s0;
            s0 += stack ? 1 : ts[k]->shape[d];
        }
        st = clgrad__record(y, stack ? &clgrad__op_stack : &clgrad__op_cat, n, ts, &s, 0, NULL);
    }
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

/* A recorded cat of more inputs than a node holds: cat of (at most 4) cats of groups. */
static clgrad_status cat_tree(int n, clgrad_tensor *const *ts, int dim, clgrad_tensor **out)
{
    if (n <= CLGRAD__NODE_MAX_INPUTS) return join_once("clgrad_cat", n, ts, dim, 0, out);
    int per = (n + CLGRAD__NODE_MAX_INPUTS - 1) / CLGRAD__NODE_MAX_INPUTS, ng = 0;
    clgrad_tensor *g[CLGRAD__NODE_MAX_INPUTS] = {0};
    clgrad_status st = CLGRAD_OK;
    for (int k = 0; k < n && st == CLGRAD_OK; k += per, ng++)
        st = cat_tree(n - k < per ? n - k : per, ts + k, dim, &g[ng]);
    if (st == CLGRAD_OK) st = join_once("clgrad_cat", ng, g, dim, 0, out);
    for (int k = 0; k < ng; k++) clgrad_tensor_release(g[k]);
    return st;
}

static clgrad_status join(const char *fn, int n, clgrad_tensor *const *ts, int dim, int stack, clgrad_tensor **out)
{
    if (out) *out = NULL;
    if (!out || !ts || n < 1)
        return clgrad__fail(ts && n > 0 && ts[0] ? ts[0]->ctx : NULL, CLGRAD_ERR_INVALID_ARG,
                            "%s: needs at least one tensor, and tensors and out must not be NULL", fn);
    int nd;
    int64_t oshape[CLGRAD_MAX_DIMS];
    CLGRAD_TRY(check_inputs(fn, n, ts, dim, stack, &nd, oshape));
    if (n <= CLGRAD__NODE_MAX_INPUTS || !clgrad__grad_needed(n, ts)) return join_once(fn, n, ts, dim, stack, out);
    if (!stack) return cat_tree(n, ts, dim, out);
    /* a recorded stack of many: unsqueeze each input (a view) and concatenate */
    int d = dim < 0 ? dim + nd : dim;
    clgrad_tensor **u = calloc((size_t)n, sizeof *u);
    if (!u) return clgrad__fail(ts[0]->ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", fn);
    clgrad_status st = CLGRAD_OK;
    for (int k = 0; k < n && st == CLGRAD_OK; k++) {
        int64_t sh[CLGRAD_MAX_DIMS];
        for (int j = 0, m = 0; j < nd; j++) sh[j] = j == d ? 1 : ts[k]->shape[m++];
        st = clgrad_reshape(ts[k], nd, sh, &u[k]);
    }
    if (st == CLGRAD_OK) st = cat_tree(n, u, d, out);
    for (int k = 0; k < n; k++) clgrad_tensor_release(u[k]);
    free(u);
    return st;
}

clgrad_status clgrad_cat(int n, clgrad_tensor *const *tensors, int dim, clgrad_tensor **out)
{
    return join("clgrad_cat", n, tensors, dim, 0, out);
}

clgrad_status clgrad_stack(int n, clgrad_tensor *const *tensors, int dim, clgrad_tensor **out)
{
    return join("clgrad_stack", n, tensors, dim, 1, out);
}
