/* Shape operators: Constant, Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Expand,
 * Cast, Identity, Dropout, ConstantOfShape and Range. Each has a host form (constant folding
 * at load, shape arithmetic at run time) and, where data can be large, a device form through
 * clgrad's views; the selection operators (Transpose, Concat, Split, Slice, Gather) are in
 * ops_select.c. */
#include "onnx/onnx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* --- Constant ---------------------------------------------------------------------------------- */

static clgrad_status constant_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                                   const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    (void)in;
    if (n->n_attrs != 1)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "a Constant needs exactly one attribute (has %d)", n->n_attrs);
    const clgrad__ox_attr *a = &n->attrs[0];
    int64_t one = 1;
    if (!strcmp(a->name, "value") && a->type == OX_ATTR_TENSOR && a->t) return clgrad__ox_host_copy(a->t, &out[0]);
    if (!strcmp(a->name, "value_float") && a->type == OX_ATTR_FLOAT) {
        CLGRAD_TRY(clgrad__ox_mk(g, n, OX_FLOAT, 0, NULL, &out[0]));
        out[0]->f[0] = (float)a->f;
        return CLGRAD_OK;
    }
    if (!strcmp(a->name, "value_int") && a->type == OX_ATTR_INT) {
        CLGRAD_TRY(clgrad__ox_mk(g, n, OX_INT64, 0, NULL, &out[0]));
        out[0]->i[0] = a->i;
        return CLGRAD_OK;
    }
    if (!strcmp(a->name, "value_floats") && a->type == OX_ATTR_FLOATS) {
        one = a->n;
        CLGRAD_TRY(clgrad__ox_mk(g, n, OX_FLOAT, 1, &one, &out[0]));
        if (a->n) memcpy(out[0]->f, a->floats, (size_t)a->n * sizeof(float));
        return CLGRAD_OK;
    }
    if (!strcmp(a->name, "value_ints") && a->type == OX_ATTR_INTS) {
        one = a->n;
        CLGRAD_TRY(clgrad__ox_mk(g, n, OX_INT64, 1, &one, &out[0]));
        if (a->n) memcpy(out[0]->i, a->ints, (size_t)a->n * sizeof(int64_t));
        return CLGRAD_OK;
    }
    return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "attribute '%s' of this type is not supported (value, "
                           "value_float(s) and value_int(s) are)", a->name);
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

/* --- Cast, Identity, Dropout ---------------------------------------------------------------------- */

static clgrad_status cast_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    int64_t to = clgrad__ox_attr_int(n, "to", 0);
    char tb[32];
    if (!clgrad__ox_type_ok((int)to))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "casting to %s is not supported",
                               clgrad__ox_type_name((int)to, tb, sizeof tb));
    clgrad__ox_same_shape(g, n);
    clgrad__ox_out(g, n, 0)->type = (int)to;
    return CLGRAD_OK;
}

static clgrad_status cast_host(const clgrad__ox_graph *g, const clgrad__ox_node *n, const clgrad__ox_host *const *in,
                               clgrad__ox_host **out)
{
    int to = (int)clgrad__ox_attr_int(n, "to", 0);
    const clgrad__ox_host *x = in[0];
    CLGRAD_TRY(clgrad__ox_mk(g, n, to, x->ndim, x->shape, out));
    for (int64_t k = 0; k < x->n; k++) {
        if (to == OX_FLOAT) {
            out[0]->f[k] = x->f ? x->f[k] : (float)x->i[k];
            continue;
        }
        int64_t v = clgrad__ox_host_geti(x, k);
        switch (to) {
        case OX_BOOL: v = x->f ? x->f[k] != 0.0f : v != 0; break;
        case OX_INT8: v = (int8_t)v; break;
        case OX_UINT8: v = (uint8_t)v; break;
        case OX_INT16: v = (int16_t)v; break;
        case OX_UINT16: v = (uint16_t)v; break;
        case OX_INT32: v = (int32_t)v; break;
        case OX_UINT32: v = (uint32_t)v; break;
        default: break;
        }
        out[0]->i[k] = v;
    }
    return CLGRAD_OK;
}

static clgrad_status cast_run(clgrad__ox_exec *e)
{
    int to = (int)clgrad__ox_attr_int(e->n, "to", 0);
    clgrad_tensor *x, *y = NULL;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    const clgrad__ox_value *v = clgrad__ox_in(e->g, e->n, 0);
    int from_float = clgrad_tensor_dtype(x) == CLGRAD_DTYPE_F32;
    if (from_float && (to == OX_FLOAT || (to == OX_BOOL && v && v->type == OX_BOOL))) {
        clgrad__ox_set_out(e, 0, clgrad_tensor_retain(x)); /* masks are f32 0 / 1 already */
        return CLGRAD_OK;
    }
    if (from_float && to == OX_BOOL) {
        CLGRAD_TRY(clgrad_compare_scalar(x, CLGRAD_CMP_NE, 0.0f, &y));
        clgrad__ox_set_out(e, 0, y);
        return CLGRAD_OK;
    }
    if (!from_float && to != OX_FLOAT && to != OX_BOOL) {
        clgrad__ox_set_out(e, 0, clgrad_tensor_retain(x)); /* integers stay i32 */
        return CLGRAD_OK;
    }
    char tb[32];
    return clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_UNSUPPORTED, "casting device data of dtype %s to %s is not "
                           "supported", from_float ? "f32" : "i32", clgrad__ox_type_name(to, tb, sizeof tb));
}

static clgrad_status identity_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_same_shape(g, n);
    if (!strcmp(n->op, "Dropout")) {
        clgrad__ox_value *x = clgrad__ox_in(g, n, 0);
        clgrad__ox_set_shape(clgrad__ox_out(g, n, 1), OX_BOOL, x->ndim, x->shape); /* all kept: ones */
        const clgrad__ox_value *tm = clgrad__ox_in(g, n, 2);
        if (tm && (!tm->konst || clgrad__ox_host_geti(tm->konst, 0)))
            return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "Dropout in training mode (inference only)");
    }
    return CLGRAD_OK;
}

static clgrad_status identity_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                                   const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    CLGRAD_TRY(clgrad__ox_host_copy(in[0], &out[0]));
    if (n->n_out > 1 && n->out[1] >= 0) { /* Dropout's mask: everything kept */
        CLGRAD_TRY(clgrad__ox_mk(g, n, OX_BOOL, in[0]->ndim, in[0]->shape, &out[1]));
        for (int64_t k = 0; k < out[1]->n; k++) out[1]->i[k] = 1;
    }
    return CLGRAD_OK;
}

static clgrad_status identity_run(clgrad__ox_exec *e)
{
    clgrad_tensor *x;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    clgrad__ox_set_out(e, 0, clgrad_tensor_retain(x));
    if (e->n->n_out > 1 && e->n->out[1] >= 0) { /* Dropout's mask: everything kept */
        clgrad_tensor *m = NULL;
        int64_t s[CLGRAD_MAX_DIMS];
        clgrad_tensor_shape(x, s);
        CLGRAD_TRY(clgrad_tensor_full(e->ctx, clgrad_tensor_ndim(x), s, 1.0f, &m));
        clgrad__ox_set_out(e, 1, m);
    }
    return CLGRAD_OK;
}

/* --- ConstantOfShape and Range ------------------------------------------------------------------ */

static clgrad_status cos_value(const clgrad__ox_graph *g, const clgrad__ox_node *n, int *type, double *v)
{
    const clgrad__ox_attr *a = clgrad__ox_attr_find(n, "value");
    *type = OX_FLOAT;
    *v = 0;
    if (!a) return CLGRAD_OK;
    if (a->type != OX_ATTR_TENSOR || !a->t || a->t->n != 1)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "value must be a one-element tensor");
    *type = a->t->type;
    *v = clgrad__ox_host_get(a->t, 0);
    return CLGRAD_OK;
}

static clgrad_status cos_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    int type;
    double v;
    CLGRAD_TRY(cos_value(g, n, &type, &v));
    clgrad__ox_value *y = clgrad__ox_out(g, n, 0);
    clgrad__ox_set_shape(y, type, -1, NULL);
    const clgrad__ox_value *sv = clgrad__ox_in(g, n, 0);
    if (sv->konst) {
        int64_t s[CLGRAD_MAX_DIMS];
        int c;
        CLGRAD_TRY(clgrad__ox_int_list(g, n, sv->konst, "the shape", s, CLGRAD_MAX_DIMS, &c));
        clgrad__ox_set_shape(y, type, c, s);
    } else if (sv->ndim == 1 && sv->shape[0] >= 0 && sv->shape[0] <= CLGRAD_MAX_DIMS) {
        y->ndim = (int)sv->shape[0];
    }
    return CLGRAD_OK;
}

static clgrad_status cos_host(const clgrad__ox_graph *g, const clgrad__ox_node *n, const clgrad__ox_host *const *in,
                              clgrad__ox_host **out)
{
    int type, c;
    double v;
    int64_t s[CLGRAD_MAX_DIMS];
    CLGRAD_TRY(cos_value(g, n, &type, &v));
    CLGRAD_TRY(clgrad__ox_int_list(g, n, in[0], "the shape", s, CLGRAD_MAX_DIMS, &c));
    CLGRAD_TRY(clgrad__ox_mk(g, n, type, c, s, out));
    for (int64_t k = 0; k < out[0]->n; k++) {
        if (out[0]->f) out[0]->f[k] = (float)v;
        else out[0]->i[k] = clgrad__ox_d2i(v);
    }
    return CLGRAD_OK;
}

static clgrad_status cos_run(clgrad__ox_exec *e)
{
    int type, c;
    double v;
    int64_t s[CLGRAD_MAX_DIMS];
    clgrad_tensor *y = NULL;
    CLGRAD_TRY(cos_value(e->g, e->n, &type, &v));
    CLGRAD_TRY(clgrad__ox_int_list(e->g, e->n, e->in[0].h, "the shape", s, CLGRAD_MAX_DIMS, &c));
    for (int d = 0; d < c; d++)
        if (s[d] < 0) return clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_SHAPE, "negative dimension");
    if (type == OX_FLOAT || type == OX_BOOL) {
        CLGRAD_TRY(clgrad_tensor_full(e->ctx, c, s, (float)v, &y));
    } else {
        CLGRAD_TRY(clgrad_tensor_zeros(e->ctx, CLGRAD_DTYPE_I32, c, s, &y));
        if (v != 0) {
            clgrad_tensor_release(y);
            return clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_UNSUPPORTED, "non-zero integer fill on the device");
        }
    }
    clgrad__ox_set_out(e, 0, y);
    return CLGRAD_OK;
}

static clgrad_status range_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    const clgrad__ox_value *a = clgrad__ox_in(g, n, 0);
    int64_t len = -1;
    clgrad__ox_set_shape(clgrad__ox_out(g, n, 0), a->type, 1, &len);
    return CLGRAD_OK;
}

static clgrad_status range_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                                const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    for (int i = 0; i < 3; i++)
        if (in[i]->n != 1) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "start, limit and delta must be scalars");
    double a = clgrad__ox_host_get(in[0], 0), b = clgrad__ox_host_get(in[1], 0), d = clgrad__ox_host_get(in[2], 0);
    if (d == 0 || !isfinite(a) || !isfinite(b) || !isfinite(d))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "invalid range (%g, %g, %g)", a, b, d);
    double cnt = ceil((b - a) / d);
    int64_t len = cnt > 0 ? (cnt > (double)CLGRAD__OX_HOST_MAX ? CLGRAD__OX_HOST_MAX + 1 : (int64_t)cnt) : 0;
    CLGRAD_TRY(clgrad__ox_mk(g, n, in[0]->type, 1, &len, out));
    for (int64_t k = 0; k < len; k++) {
        if (out[0]->f) out[0]->f[k] = (float)(a + (double)k * d);
        else
            out[0]->i[k] = (int64_t)((uint64_t)clgrad__ox_host_geti(in[0], 0) +
                                     (uint64_t)k * (uint64_t)clgrad__ox_host_geti(in[2], 0));
    }
    return CLGRAD_OK;
}

/* --- the table ---------------------------------------------------------------------------------- */

const clgrad__ox_op clgrad__ox_ops_shape[] = {
    /* name, inputs, outputs, host inputs, check, host, run, int inputs */
    {"Constant", 0, 0, 1, 1, 0, NULL, constant_host, NULL, 0},
    {"Shape", 1, 1, 1, 1, 0, shape_check, shape_host, NULL, 0},
    {"Size", 1, 1, 1, 1, 0, size_check, size_host, NULL, 0},
    {"Reshape", 2, 2, 1, 1, 2, reshape_check, reshape_host, reshape_run, 0},
    {"Flatten", 1, 1, 1, 1, 0, flatten_check, flatten_host, flatten_run, 0},
    {"Squeeze", 1, 2, 1, 1, 2, sq_check, sq_host, sq_run, 0},
    {"Unsqueeze", 1, 2, 1, 1, 2, sq_check, sq_host, sq_run, 0},
    {"Expand", 2, 2, 1, 1, 2, expand_check, expand_host, expand_run, 0},
    {"Cast", 1, 1, 1, 1, 0, cast_check, cast_host, cast_run, 0},
    {"Identity", 1, 1, 1, 1, 0, identity_check, identity_host, identity_run, 0},
    {"Dropout", 1, 3, 1, 2, 0, identity_check, identity_host, identity_run, 0},
    {"ConstantOfShape", 1, 1, 1, 1, 1, cos_check, cos_host, cos_run, 0},
    {"Range", 3, 3, 1, 1, 0, range_check, range_host, NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0},
};

