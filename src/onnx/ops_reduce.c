/* Operators over an axis or axes: Softmax and LogSoftmax, the reductions (ReduceMean,
 * ReduceSum, ReduceMax, ReduceMin) and ArgMax, on the device through clgrad's public ops. */
#include "onnx/onnx.h"

#include <string.h>

/* --- Softmax and LogSoftmax ------------------------------------------------------------------------ */

static clgrad_status softmax_run(clgrad__ox_exec *e)
{
    clgrad_tensor *x, *y = NULL;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    int log = e->n->op[0] == 'L', r = clgrad_tensor_ndim(x), axis;
    int64_t s[CLGRAD_MAX_DIMS];
    clgrad_tensor_shape(x, s);
    if (r == 0) return clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_SHAPE, "a scalar input");
    if (e->g->opset >= 13) {
        CLGRAD_TRY(clgrad__ox_axis(e->g, e->n, clgrad__ox_attr_int(e->n, "axis", -1), r, &axis));
        CLGRAD_TRY(log ? clgrad_log_softmax(x, axis, &y) : clgrad_softmax(x, axis, &y));
        clgrad__ox_set_out(e, 0, y);
        return CLGRAD_OK;
    }
    /* before opset 13: the input is seen as 2-D (dims before axis, dims from axis on) */
    int64_t a = clgrad__ox_attr_int(e->n, "axis", 1);
    if (a < -r || a > r) return clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_SHAPE, "axis %lld out of range", (long long)a);
    axis = (int)(a < 0 ? a + r : a);
    int64_t two[2] = {1, 1};
    for (int d = 0; d < r; d++) two[d < axis ? 0 : 1] *= s[d];
    clgrad_tensor *x2 = NULL, *y2 = NULL;
    clgrad_status st = clgrad_reshape(x, 2, two, &x2);
    if (st == CLGRAD_OK) st = log ? clgrad_log_softmax(x2, 1, &y2) : clgrad_softmax(x2, 1, &y2);
    if (st == CLGRAD_OK) st = clgrad_reshape(y2, r, s, &y);
    clgrad_tensor_release(x2);
    clgrad_tensor_release(y2);
    if (st == CLGRAD_OK) clgrad__ox_set_out(e, 0, y);
    return st;
}

static clgrad_status float_same_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    const clgrad__ox_value *x = clgrad__ox_in(g, n, 0);
    if (x->type && x->type != OX_FLOAT)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "%s of integer data is not supported", n->op);
    clgrad__ox_same_shape(g, n);
    return CLGRAD_OK;
}

/* --- reductions and ArgMax -------------------------------------------------------------------------- */

/* Axes of a reduction: the attribute, or input 1 for ReduceSum from opset 13. */
static clgrad_status reduce_axes(const clgrad__ox_graph *g, const clgrad__ox_node *n, const clgrad__ox_host *in1,
                                 int r, int *axes, int *na)
{
    int64_t a[CLGRAD_MAX_DIMS];
    int c = 0;
    if (!strcmp(n->op, "ReduceSum") && g->opset >= 13) {
        if (in1) {
            if (in1->n > CLGRAD_MAX_DIMS) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "too many axes");
            for (int64_t k = 0; k < in1->n; k++) a[c++] = clgrad__ox_host_geti(in1, k);
        }
    } else {
        const int64_t *p = clgrad__ox_attr_ints(n, "axes", &c);
        if (c > CLGRAD_MAX_DIMS) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "too many axes");
        for (int i = 0; i < c; i++) a[i] = p[i];
    }
    if (c == 0 && clgrad__ox_attr_int(n, "noop_with_empty_axes", 0)) {
        *na = -1; /* identity */
        return CLGRAD_OK;
    }
    if (c == 0) {
        for (int d = 0; d < r; d++) axes[d] = d;
        *na = r;
        return CLGRAD_OK;
    }
    int seen[CLGRAD_MAX_DIMS] = {0};
    for (int i = 0; i < c; i++) {
        CLGRAD_TRY(clgrad__ox_axis(g, n, a[i], r, &axes[i]));
        if (seen[axes[i]]) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "axis %d is repeated", axes[i]);
        seen[axes[i]] = 1;
    }
    *na = c;
    return CLGRAD_OK;
}

static clgrad_status reduce_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0), *y = clgrad__ox_out(g, n, 0);
    if (x->type && x->type != OX_FLOAT)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "%s of integer data is not supported", n->op);
    clgrad__ox_set_shape(y, x->type, -1, NULL);
    const clgrad__ox_value *a1 = clgrad__ox_in(g, n, 1);
    if (x->ndim < 0 || (a1 && !a1->konst)) return CLGRAD_OK;
    int axes[CLGRAD_MAX_DIMS], na;
    CLGRAD_TRY(reduce_axes(g, n, a1 ? a1->konst : NULL, x->ndim, axes, &na));
    if (na < 0) {
        clgrad__ox_same_shape(g, n);
        return CLGRAD_OK;
    }
    int keep = (int)clgrad__ox_attr_int(n, "keepdims", 1), k = 0, mark[CLGRAD_MAX_DIMS] = {0};
    int64_t s[CLGRAD_MAX_DIMS];
    for (int i = 0; i < na; i++) mark[axes[i]] = 1;
    for (int d = 0; d < x->ndim; d++)
        if (!mark[d]) s[k++] = x->shape[d];
        else if (keep) s[k++] = 1;
    clgrad__ox_set_shape(y, x->type, k, s);
    return CLGRAD_OK;
}

static clgrad_status reduce_run(clgrad__ox_exec *e)
{
    clgrad_tensor *x, *y = NULL;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    int axes[CLGRAD_MAX_DIMS], na, keep = (int)clgrad__ox_attr_int(e->n, "keepdims", 1);
    CLGRAD_TRY(reduce_axes(e->g, e->n, e->n->n_in > 1 ? e->in[1].h : NULL, clgrad_tensor_ndim(x), axes, &na));
    if (na < 0) {
        clgrad__ox_set_out(e, 0, clgrad_tensor_retain(x));
        return CLGRAD_OK;
    }
    const char *op = e->n->op + 6;
    clgrad_status st;
    if (!strcmp(op, "Mean")) st = clgrad_mean(x, na, axes, keep, &y);
    else if (!strcmp(op, "Sum")) st = clgrad_sum(x, na, axes, keep, &y);
    else if (!strcmp(op, "Max")) st = clgrad_max(x, na, axes, keep, &y);
    else st = clgrad_min(x, na, axes, keep, &y);
    if (st == CLGRAD_OK) clgrad__ox_set_out(e, 0, y);
    return st;
}

static clgrad_status argmax_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0), *y = clgrad__ox_out(g, n, 0);
    if (clgrad__ox_attr_int(n, "select_last_index", 0))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "select_last_index=1 is not supported");
    clgrad__ox_set_shape(y, OX_INT64, -1, NULL);
    if (x->ndim < 0) return CLGRAD_OK;
    int axis, keep = (int)clgrad__ox_attr_int(n, "keepdims", 1), k = 0;
    CLGRAD_TRY(clgrad__ox_axis(g, n, clgrad__ox_attr_int(n, "axis", 0), x->ndim, &axis));
    int64_t s[CLGRAD_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        if (d != axis) s[k++] = x->shape[d];
        else if (keep) s[k++] = 1;
    clgrad__ox_set_shape(y, OX_INT64, k, s);
    return CLGRAD_OK;
}

static clgrad_status argmax_run(clgrad__ox_exec *e)
{
    clgrad_tensor *x, *y = NULL;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    int axis;
    CLGRAD_TRY(clgrad__ox_axis(e->g, e->n, clgrad__ox_attr_int(e->n, "axis", 0), clgrad_tensor_ndim(x), &axis));
    CLGRAD_TRY(clgrad_argmax(x, axis, (int)clgrad__ox_attr_int(e->n, "keepdims", 1), &y));
    clgrad__ox_set_out(e, 0, y);
    return CLGRAD_OK;
}

/* --- the table -------------------------------------------------------------------------------------- */

const clgrad__ox_op clgrad__ox_ops_reduce[] = {
    /* name, inputs, outputs, host inputs, check, host, run, int inputs */
    {"Softmax", 1, 1, 1, 1, 0, float_same_check, NULL, softmax_run, 0},
    {"LogSoftmax", 1, 1, 1, 1, 0, float_same_check, NULL, softmax_run, 0},
    {"ReduceMean", 1, 1, 1, 1, 0, reduce_check, NULL, reduce_run, 0},
    {"ReduceSum", 1, 2, 1, 1, 2, reduce_check, NULL, reduce_run, 0},
    {"ReduceMax", 1, 1, 1, 1, 0, reduce_check, NULL, reduce_run, 0},
    {"ReduceMin", 1, 1, 1, 1, 0, reduce_check, NULL, reduce_run, 0},
    {"ArgMax", 1, 1, 1, 1, 0, argmax_check, NULL, argmax_run, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0},
};
