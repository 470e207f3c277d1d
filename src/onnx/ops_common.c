/* Helpers shared by the operator files: axes, static shapes, host tensors, device inputs and
 * outputs. */
#include "onnx/onnx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

clgrad_status clgrad__ox_axis(const clgrad__ox_graph *g, const clgrad__ox_node *n, int64_t axis, int r, int *out)
{
    *out = 0;
    if (axis < -(int64_t)r || axis >= r)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axis, r);
    *out = (int)(axis < 0 ? axis + r : axis);
    return CLGRAD_OK;
}

void clgrad__ox_set_shape(clgrad__ox_value *v, int type, int ndim, const int64_t *shape)
{
    if (!v) return;
    if (type) v->type = type;
    v->ndim = ndim;
    for (int d = 0; d < CLGRAD_MAX_DIMS; d++) v->shape[d] = d < ndim && shape ? shape[d] : -1;
}

void clgrad__ox_bcast_static(const clgrad__ox_value *a, const clgrad__ox_value *b, clgrad__ox_value *out)
{
    if (!out) return;
    if (!a || !b || a->ndim < 0 || b->ndim < 0) {
        clgrad__ox_set_shape(out, a ? a->type : 0, -1, NULL);
        return;
    }
    int r = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t s[CLGRAD_MAX_DIMS];
    for (int d = 0; d < r; d++) {
        int ia = d - (r - a->ndim), ib = d - (r - b->ndim);
        int64_t x = ia >= 0 ? a->shape[ia] : 1, y = ib >= 0 ? b->shape[ib] : 1;
        if (x == 1) s[d] = y;
        else if (y == 1) s[d] = x;
        else if (x < 0 || y < 0) s[d] = x >= 0 ? x : y; /* unknown against a known non-1: the known */
        else s[d] = x == y ? x : -1;                    /* a mismatch: left to run time to report */
    }
    clgrad__ox_set_shape(out, a->type ? a->type : b->type, r, s);
}

void clgrad__ox_same_shape(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0), *y = clgrad__ox_out(g, n, 0);
    if (x && y) clgrad__ox_set_shape(y, x->type, x->ndim, x->shape);
}

clgrad_status clgrad__ox_upload(clgrad_context *ctx, const clgrad__ox_host *h, int as_int, const char *what,
                                clgrad_tensor **out)
{
    *out = NULL;
    if (h->type == OX_FLOAT) return clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_F32, h->ndim, h->shape, h->f, out);
    if (h->type == OX_BOOL && !as_int) { /* masks live on the device as f32 0 / 1 */
        float *b = malloc((size_t)(h->n ? h->n : 1) * sizeof *b);
        if (!b) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", what);
        for (int64_t k = 0; k < h->n; k++) b[k] = h->i[k] ? 1.0f : 0.0f;
        clgrad_status st = clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_F32, h->ndim, h->shape, b, out);
        free(b);
        return st;
    }
    int32_t *b = malloc((size_t)(h->n ? h->n : 1) * sizeof *b);
    if (!b) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", what);
    for (int64_t k = 0; k < h->n; k++) {
        if (h->i[k] < INT32_MIN || h->i[k] > INT32_MAX) {
            free(b);
            return clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED, "%s: element %lld (%lld) does not fit the 32-bit "
                                "integers clgrad holds on the device", what, (long long)k, (long long)h->i[k]);
        }
        b[k] = (int32_t)h->i[k];
    }
    clgrad_status st = clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_I32, h->ndim, h->shape, b, out);
    free(b);
    return st;
}

clgrad_status clgrad__ox_dev(clgrad__ox_exec *e, int i, clgrad_tensor **t)
{
    *t = NULL;
    clgrad__ox_rv *r = &e->in[i];
    if (r->t) {
        *t = r->t;
        return CLGRAD_OK;
    }
    if (!r->h) return clgrad__fail(e->ctx, CLGRAD_ERR_INVALID_ARG, "input %d is missing", i);
    /* a host value made at this run (shape arithmetic, small constants) */
    CLGRAD_TRY(clgrad__ox_upload(e->ctx, r->h, (e->n->def->int_inputs >> i) & 1, e->g->values[e->n->in[i]].name, &r->t));
    *t = r->t;
    return CLGRAD_OK;
}

void clgrad__ox_set_out(clgrad__ox_exec *e, int i, clgrad_tensor *t)
{
    if (i >= e->n->n_out || e->n->out[i] < 0) {
        clgrad_tensor_release(t);
        return;
    }
    clgrad_tensor_release(e->out[i].t);
    e->out[i].t = t;
}

clgrad_status clgrad__ox_mk(const clgrad__ox_graph *g, const clgrad__ox_node *n, int type, int ndim,
                        const int64_t *shape, clgrad__ox_host **out)
{
    char what[300];
    snprintf(what, sizeof what, "%s: node '%s' (%s)", g->name, n->name, n->op);
    return clgrad__ox_host_new(type, ndim, shape, what, out);
}

/* dst[k] = src[j], converting between storages */
void clgrad__ox_put(clgrad__ox_host *dst, int64_t k, const clgrad__ox_host *src, int64_t j)
{
    if (dst->f) dst->f[k] = src->f ? src->f[j] : (float)src->i[j];
    else dst->i[k] = src->i ? src->i[j] : clgrad__ox_host_geti(src, j);
}

void clgrad__ox_strides(int ndim, const int64_t *shape, int64_t *st)
{
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        st[d] = s;
        s *= shape[d];
    }
}

/* A host tensor of integers as a list (at most max entries); fails naming the input. */
clgrad_status clgrad__ox_int_list(const clgrad__ox_graph *g, const clgrad__ox_node *n, const clgrad__ox_host *h,
                              const char *what, int64_t *buf, int max, int *count)
{
    if (!h) return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "%s is not known", what);
    if (h->ndim > 1 || h->n > max)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "%s must be a list of at most %d integers", what, max);
    for (int64_t k = 0; k < h->n; k++) buf[k] = clgrad__ox_host_geti(h, k);
    *count = (int)h->n;
    return CLGRAD_OK;
}

