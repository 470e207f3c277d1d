/* Shape operators: Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze and Expand. Each has
 * a host form (constant folding at load, shape arithmetic at run time) and, where data can
 * be large, a device form through clgrad's views; the value operators (Constant, Cast,
 * Identity, ConstantOfShape, Range) are in ops_value.c, the selection operators (Transpose,
 * Concat, Split, Slice, Gather) in ops_select.c. */
#include "onnx/onnx.h"

#include <string.h>

/* --- helpers ---------------------------------------------------------------------------------- */

/* Axes from the attribute (opsets before 13) or input 1 (13 on) of Squeeze / Unsqueeze. */
static clgrad_status axes_of(const clgrad__ox_graph *g, const clgrad__ox_node *n, const clgrad__ox_host *in1,
                             int64_t *axes, int *count)
{
    if (g->opset < 13) {
        int c;
        const int64_t *a = clgrad__ox_attr_ints(n, "axes", &c);
        if (c > CLGRAD_MAX_DIMS) return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "too many axes");
        for (int i = 0; i < c; i++) axes[i] = a[i];
        *count = c;
        return CLGRAD_OK;
    }
    if (!in1) {
        *count = 0;
        return CLGRAD_OK;
    }
    return clgrad__ox_int_list(g, n, in1, "axes", axes, CLGRAD_MAX_DIMS, count);
}

/* The output shape of Squeeze (unsqueeze 0) or Unsqueeze (1) for input shape (r, s). */
static clgrad_status squeeze_shape(const clgrad__ox_graph *g, const clgrad__ox_node *n, int unsqueeze, int r,
                                   const int64_t *s, const int64_t *axes, int na, int *ro, int64_t *so)
{
    int mark[2 * CLGRAD_MAX_DIMS] = {0};
    if (unsqueeze) {
        int out_r = r + na;
        if (out_r > CLGRAD_MAX_DIMS)
            return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "the result would have %d dimensions", out_r);
        for (int i = 0; i < na; i++) {
            int a;
            CLGRAD_TRY(clgrad__ox_axis(g, n, axes[i], out_r, &a));
            if (mark[a]) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "axis %lld is repeated", (long long)axes[i]);
            mark[a] = 1;
        }
        for (int d = 0, j = 0; d < out_r; d++) so[d] = mark[d] ? 1 : s[j++];
        *ro = out_r;
        return CLGRAD_OK;
    }
    for (int i = 0; i < na; i++) {
        int a;
        CLGRAD_TRY(clgrad__ox_axis(g, n, axes[i], r, &a));
        if (s[a] != 1 && s[a] >= 0)
            return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "cannot squeeze axis %d of size %lld", a, (long long)s[a]);
        mark[a] = 1;
    }
    int k = 0;
    for (int d = 0; d < r; d++)
        if (!(na ? mark[d] : s[d] == 1)) so[k++] = s[d];
    *ro = k;
    return CLGRAD_OK;
}

/* ONNX Reshape's target (0 copies the input's dim unless allowzero, -1 is inferred) for an
 * input of shape (r, s) with unknown dims as -1 (static: the inferred dim may stay -1). */
static clgrad_status reshape_target(const clgrad__ox_graph *g, const clgrad__ox_node *n, int r, const int64_t *s,
                                    const clgrad__ox_host *t, int static_pass, int *ro, int64_t *so)
{
    int64_t want[CLGRAD_MAX_DIMS];
    int c;
    CLGRAD_TRY(clgrad__ox_int_list(g, n, t, "the target shape", want, CLGRAD_MAX_DIMS, &c));
    int allowzero = (int)clgrad__ox_attr_int(n, "allowzero", 0), infer = -1;
    int64_t known = 1, total = 1;
    int unknown_in = 0;
    for (int d = 0; d < r; d++) {
        total = clgrad__ox_dim_mul(total, s[d]);
        if (total < 0) unknown_in = 1;
    }
    for (int d = 0; d < c; d++) {
        int64_t v = want[d];
        if (v == 0 && !allowzero) {
            if (d >= r) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "target dim %d is 0 (copy) but the input has "
                                               "rank %d", d, r);
            v = s[d];
        } else if (v == -1) {
            if (infer >= 0) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "more than one -1 in the target shape");
            infer = d;
        } else if (v < 0) {
            return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "invalid target dimension %lld", (long long)v);
        }
        so[d] = v;
        if (d != infer) {
            known = clgrad__ox_dim_mul(known, v);
            if (known < 0) unknown_in = 1;
        }
    }
    if (infer >= 0) {
        if (unknown_in) so[infer] = -1;
        else if (known == 0 || total % known)
            return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "cannot infer the -1 of the target: %lld elements do "
                                   "not divide by %lld", (long long)total, (long long)known);
        else so[infer] = total / known;
    } else if (!unknown_in && known != total) {
        char a[200], b[200];
        return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "cannot reshape %s to %s", clgrad__shape_str(a, sizeof a, r, s),
                               clgrad__shape_str(b, sizeof b, c, so));
    }
    if (!static_pass)
        for (int d = 0; d < c; d++)
            if (so[d] < 0) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "the target shape is not resolved");
    *ro = c;
    return CLGRAD_OK;
}

/* Shapes of a value at run time: from its device tensor or host tensor. */
static void rv_shape(const clgrad__ox_rv *r, int *nd, int64_t *s)
{
    if (r->t) {
        *nd = clgrad_tensor_ndim(r->t);
        clgrad_tensor_shape(r->t, s);
    } else {
        *nd = r->h->ndim;
        memcpy(s, r->h->shape, sizeof r->h->shape);
    }
}

static clgrad_status dev_reshape(clgrad__ox_exec *e, int ndim, const int64_t *shape)
{
    clgrad_tensor *x, *y = NULL;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    CLGRAD_TRY(clgrad_reshape(x, ndim, shape, &y));
    clgrad__ox_set_out(e, 0, y);
    return CLGRAD_OK;
}

/* --- Shape and Size --------------------------------------------------------------------------- */

static void shape_range(const clgrad__ox_graph *g, const clgrad__ox_node *n, int r, int *a, int *b)
{
    int64_t s = g->opset >= 15 ? clgrad__ox_attr_int(n, "start", 0) : 0;
    int64_t e = g->opset >= 15 ? clgrad__ox_attr_int(n, "end", r) : r;
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    *a = (int)s;
    *b = (int)(e > s ? e : s);
}

static clgrad_status shape_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0);
    int64_t len = -1;
    if (x && x->ndim >= 0) {
        int a, b;
        shape_range(g, n, x->ndim, &a, &b);
        len = b - a;
    }
    clgrad__ox_set_shape(clgrad__ox_out(g, n, 0), OX_INT64, 1, &len);
    return CLGRAD_OK;
}

static clgrad_status shape_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                                const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    int a, b;
    shape_range(g, n, in[0]->ndim, &a, &b);
    int64_t len = b - a;
    CLGRAD_TRY(clgrad__ox_mk(g, n, OX_INT64, 1, &len, &out[0]));
    for (int d = a; d < b; d++) out[0]->i[d - a] = in[0]->shape[d];
    return CLGRAD_OK;
}

static clgrad_status size_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_set_shape(clgrad__ox_out(g, n, 0), OX_INT64, 0, NULL);
    return CLGRAD_OK;
}

static clgrad_status size_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                               const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    CLGRAD_TRY(clgrad__ox_mk(g, n, OX_INT64, 0, NULL, &out[0]));
    int64_t c = 1;
    for (int d = 0; d < in[0]->ndim; d++) c *= in[0]->shape[d];
    out[0]->i[0] = c;
    return CLGRAD_OK;
}

/* --- Reshape, Flatten, Squeeze, Unsqueeze ------------------------------------------------------- */

static clgrad_status host_as(const clgrad__ox_graph *g, const clgrad__ox_node *n, const clgrad__ox_host *x, int ndim,
                             const int64_t *shape, clgrad__ox_host **out)
{
    int64_t c = 1;
    for (int d = 0; d < ndim; d++) c *= shape[d];
    if (c != x->n) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "%lld elements cannot take a shape of %lld",
                                          (long long)x->n, (long long)c);
    CLGRAD_TRY(clgrad__ox_mk(g, n, x->type, ndim, shape, out));
    for (int64_t k = 0; k < x->n; k++) clgrad__ox_put(*out, k, x, k);
    return CLGRAD_OK;
}

static clgrad_status reshape_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0), *y = clgrad__ox_out(g, n, 0);
    const clgrad__ox_host *t = clgrad__ox_in_const(g, n, 1);
    clgrad__ox_set_shape(y, x->type, -1, NULL);
    if (t && x->ndim >= 0) {
        int r;
        int64_t s[CLGRAD_MAX_DIMS];
        CLGRAD_TRY(reshape_target(g, n, x->ndim, x->shape, t, 1, &r, s));
        clgrad__ox_set_shape(y, x->type, r, s);
    } else if (t && t->ndim == 1 && t->n <= CLGRAD_MAX_DIMS) {
        y->ndim = (int)t->n;
    }
    return CLGRAD_OK;
}

static clgrad_status reshape_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                                  const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    int r;
    int64_t s[CLGRAD_MAX_DIMS];
    CLGRAD_TRY(reshape_target(g, n, in[0]->ndim, in[0]->shape, in[1], 0, &r, s));
    return host_as(g, n, in[0], r, s, out);
}

static clgrad_status reshape_run(clgrad__ox_exec *e)
{
    int nd, r;
    int64_t s[CLGRAD_MAX_DIMS], so[CLGRAD_MAX_DIMS];
    rv_shape(&e->in[0], &nd, s);
    CLGRAD_TRY(reshape_target(e->g, e->n, nd, s, e->in[1].h, 0, &r, so));
    return dev_reshape(e, r, so);
}

static void flatten_shape(int r, const int64_t *s, int axis, int64_t *so)
{
    int64_t a = 1, b = 1;
    for (int d = 0; d < r; d++) {
        int64_t *p = d < axis ? &a : &b;
        *p = clgrad__ox_dim_mul(*p, s[d]);
    }
    so[0] = a;
    so[1] = b;
}

static clgrad_status flatten_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0), *y = clgrad__ox_out(g, n, 0);
    clgrad__ox_set_shape(y, x->type, 2, NULL);
    if (x->ndim < 0) return CLGRAD_OK;
    int64_t axis = clgrad__ox_attr_int(n, "axis", 1);
    if (axis < -x->ndim || axis > x->ndim)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axis,
                               x->ndim);
    n->pi[0] = axis < 0 ? axis + x->ndim : axis;
    n->pi[1] = 1; /* resolved at load */
    int64_t so[2];
    flatten_shape(x->ndim, x->shape, (int)n->pi[0], so);
    clgrad__ox_set_shape(y, x->type, 2, so);
    return CLGRAD_OK;
}

static clgrad_status flatten_axis(const clgrad__ox_graph *g, const clgrad__ox_node *n, int r, int *axis)
{
    *axis = 0;
    if (n->pi[1]) {
        *axis = (int)n->pi[0];
        return CLGRAD_OK;
    }
    int64_t a = clgrad__ox_attr_int(n, "axis", 1);
    if (a < -r || a > r)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)a, r);
    *axis = (int)(a < 0 ? a + r : a);
    return CLGRAD_OK;
}

static clgrad_status flatten_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                                  const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    int axis;
    int64_t so[2];
    CLGRAD_TRY(flatten_axis(g, n, in[0]->ndim, &axis));
    flatten_shape(in[0]->ndim, in[0]->shape, axis, so);
    return host_as(g, n, in[0], 2, so, out);
}

static clgrad_status flatten_run(clgrad__ox_exec *e)
{
    int nd, axis;
    int64_t s[CLGRAD_MAX_DIMS], so[2];
    rv_shape(&e->in[0], &nd, s);
    CLGRAD_TRY(flatten_axis(e->g, e->n, nd, &axis));
    flatten_shape(nd, s, axis, so);
    return dev_reshape(e, 2, so);
}

static clgrad_status sq_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    int unsq = n->op[0] == 'U';
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0), *y = clgrad__ox_out(g, n, 0);
    const clgrad__ox_value *a1 = clgrad__ox_in(g, n, 1);
    clgrad__ox_set_shape(y, x->type, -1, NULL);
    int64_t axes[CLGRAD_MAX_DIMS];
    int na;
    if (g->opset >= 13 && a1 && !a1->konst) return CLGRAD_OK; /* axes known at run time */
    CLGRAD_TRY(axes_of(g, n, a1 ? a1->konst : NULL, axes, &na));
    if (unsq && na == 0) return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "Unsqueeze needs axes");
    if (x->ndim < 0) return CLGRAD_OK;
    if (!unsq && na == 0) {
        for (int d = 0; d < x->ndim; d++)
            if (x->shape[d] < 0) return CLGRAD_OK; /* which dims are 1 is known at run time only */
    }
    int r;
    int64_t s[CLGRAD_MAX_DIMS];
    CLGRAD_TRY(squeeze_shape(g, n, unsq, x->ndim, x->shape, axes, na, &r, s));
    clgrad__ox_set_shape(y, x->type, r, s);
    return CLGRAD_OK;
}

static clgrad_status sq_host(const clgrad__ox_graph *g, const clgrad__ox_node *n, const clgrad__ox_host *const *in,
                             clgrad__ox_host **out)
{
    int64_t axes[CLGRAD_MAX_DIMS], s[CLGRAD_MAX_DIMS];
    int na, r;
    CLGRAD_TRY(axes_of(g, n, n->n_in > 1 ? in[1] : NULL, axes, &na));
    CLGRAD_TRY(squeeze_shape(g, n, n->op[0] == 'U', in[0]->ndim, in[0]->shape, axes, na, &r, s));
    return host_as(g, n, in[0], r, s, out);
}

static clgrad_status sq_run(clgrad__ox_exec *e)
{
    int64_t axes[CLGRAD_MAX_DIMS], s[CLGRAD_MAX_DIMS], so[CLGRAD_MAX_DIMS];
    int na, r, nd;
    CLGRAD_TRY(axes_of(e->g, e->n, e->n->n_in > 1 ? e->in[1].h : NULL, axes, &na));
    rv_shape(&e->in[0], &nd, s);
    CLGRAD_TRY(squeeze_shape(e->g, e->n, e->n->op[0] == 'U', nd, s, axes, na, &r, so));
    return dev_reshape(e, r, so);
}

/* --- Expand ------------------------------------------------------------------------------------- */

static clgrad_status expand_shape(const clgrad__ox_graph *g, const clgrad__ox_node *n, int r, const int64_t *s,
                                  const clgrad__ox_host *t, int *ro, int64_t *so)
{
    int64_t want[CLGRAD_MAX_DIMS];
    int c;
    CLGRAD_TRY(clgrad__ox_int_list(g, n, t, "the shape", want, CLGRAD_MAX_DIMS, &c));
    int out_r = r > c ? r : c;
    for (int d = 0; d < out_r; d++) {
        int i = d - (out_r - r), j = d - (out_r - c);
        int64_t a = i >= 0 ? s[i] : 1, b = j >= 0 ? want[j] : 1;
        if (b < 0) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "negative dimension in the shape");
        if (a == 1) so[d] = b;
        else if (b == 1 || a == b || a < 0) so[d] = a;
        else return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "cannot expand size %lld to %lld", (long long)a,
                                    (long long)b);
    }
    *ro = out_r;
    return CLGRAD_OK;
}

static clgrad_status expand_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0), *y = clgrad__ox_out(g, n, 0);
    const clgrad__ox_host *t = clgrad__ox_in_const(g, n, 1);
    clgrad__ox_set_shape(y, x->type, -1, NULL);
    if (t && x->ndim >= 0) {
        int r;
        int64_t s[CLGRAD_MAX_DIMS];
        CLGRAD_TRY(expand_shape(g, n, x->ndim, x->shape, t, &r, s));
        clgrad__ox_set_shape(y, x->type, r, s);
    }
    return CLGRAD_OK;
}

static clgrad_status expand_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                                 const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    const clgrad__ox_host *x = in[0];
    int r;
    int64_t s[CLGRAD_MAX_DIMS], st[CLGRAD_MAX_DIMS], idx[CLGRAD_MAX_DIMS] = {0};
    CLGRAD_TRY(expand_shape(g, n, x->ndim, x->shape, in[1], &r, s));
    clgrad__ox_strides(x->ndim, x->shape, st);
    CLGRAD_TRY(clgrad__ox_mk(g, n, x->type, r, s, out));
    for (int64_t k = 0; k < out[0]->n; k++) {
        int64_t j = 0;
        for (int d = 0; d < x->ndim; d++) {
            int od = d + (r - x->ndim);
            if (x->shape[d] != 1) j += idx[od] * st[d];
        }
        clgrad__ox_put(out[0], k, x, j);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < s[d]) break;
            idx[d] = 0;
        }
    }
    return CLGRAD_OK;
}

static clgrad_status expand_run(clgrad__ox_exec *e)
{
    clgrad_tensor *x, *y = NULL;
    int64_t s[CLGRAD_MAX_DIMS], so[CLGRAD_MAX_DIMS];
    int r;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    clgrad_tensor_shape(x, s);
    CLGRAD_TRY(expand_shape(e->g, e->n, clgrad_tensor_ndim(x), s, e->in[1].h, &r, so));
    CLGRAD_TRY(clgrad_expand(x, r, so, &y));
    clgrad__ox_set_out(e, 0, y);
    return CLGRAD_OK;
}

/* --- the table ---------------------------------------------------------------------------------- */

const clgrad__ox_op clgrad__ox_ops_shape[] = {
    /* name, inputs, outputs, host inputs, check, host, run, int inputs */
    {"Shape", 1, 1, 1, 1, 0, shape_check, shape_host, NULL, 0},
    {"Size", 1, 1, 1, 1, 0, size_check, size_host, NULL, 0},
    {"Reshape", 2, 2, 1, 1, 2, reshape_check, reshape_host, reshape_run, 0},
    {"Flatten", 1, 1, 1, 1, 0, flatten_check, flatten_host, flatten_run, 0},
    {"Squeeze", 1, 2, 1, 1, 2, sq_check, sq_host, sq_run, 0},
    {"Unsqueeze", 1, 2, 1, 1, 2, sq_check, sq_host, sq_run, 0},
    {"Expand", 2, 2, 1, 1, 2, expand_check, expand_host, expand_run, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0},
};

