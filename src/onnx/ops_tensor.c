/* Shape and layout operators: Constant, Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze,
 * Transpose, Concat, Split, Slice, Gather, Expand, Cast, ConstantOfShape, Range, Identity and
 * Dropout. Each has a host form (constant folding at load, shape arithmetic at run time) and,
 * where data can be large, a device form through clgrad's views and copies. */
#include "onnx/onnx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- helpers ---------------------------------------------------------------------------------- */

static clgrad_status mk(const clgrad__ox_graph *g, const clgrad__ox_node *n, int type, int ndim,
                        const int64_t *shape, clgrad__ox_host **out)
{
    char what[300];
    snprintf(what, sizeof what, "%s: node '%s' (%s)", g->name, n->name, n->op);
    return clgrad__ox_host_new(type, ndim, shape, what, out);
}

/* dst[k] = src[j], converting between storages */
static void put(clgrad__ox_host *dst, int64_t k, const clgrad__ox_host *src, int64_t j)
{
    if (dst->f) dst->f[k] = src->f ? src->f[j] : (float)src->i[j];
    else dst->i[k] = src->i ? src->i[j] : clgrad__ox_host_geti(src, j);
}

static void strides_of(int ndim, const int64_t *shape, int64_t *st)
{
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        st[d] = s;
        s *= shape[d];
    }
}

/* A host tensor of integers as a list (at most max entries); fails naming the input. */
static clgrad_status int_list(const clgrad__ox_graph *g, const clgrad__ox_node *n, const clgrad__ox_host *h,
                              const char *what, int64_t *buf, int max, int *count)
{
    if (!h) return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "%s is not known", what);
    if (h->ndim > 1 || h->n > max)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "%s must be a list of at most %d integers", what, max);
    for (int64_t k = 0; k < h->n; k++) buf[k] = clgrad__ox_host_geti(h, k);
    *count = (int)h->n;
    return CLGRAD_OK;
}

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
    return int_list(g, n, in1, "axes", axes, CLGRAD_MAX_DIMS, count);
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
    CLGRAD_TRY(int_list(g, n, t, "the target shape", want, CLGRAD_MAX_DIMS, &c));
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
        CLGRAD_TRY(mk(g, n, OX_FLOAT, 0, NULL, &out[0]));
        out[0]->f[0] = (float)a->f;
        return CLGRAD_OK;
    }
    if (!strcmp(a->name, "value_int") && a->type == OX_ATTR_INT) {
        CLGRAD_TRY(mk(g, n, OX_INT64, 0, NULL, &out[0]));
        out[0]->i[0] = a->i;
        return CLGRAD_OK;
    }
    if (!strcmp(a->name, "value_floats") && a->type == OX_ATTR_FLOATS) {
        one = a->n;
        CLGRAD_TRY(mk(g, n, OX_FLOAT, 1, &one, &out[0]));
        if (a->n) memcpy(out[0]->f, a->floats, (size_t)a->n * sizeof(float));
        return CLGRAD_OK;
    }
    if (!strcmp(a->name, "value_ints") && a->type == OX_ATTR_INTS) {
        one = a->n;
        CLGRAD_TRY(mk(g, n, OX_INT64, 1, &one, &out[0]));
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
    CLGRAD_TRY(mk(g, n, OX_INT64, 1, &len, &out[0]));
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
    CLGRAD_TRY(mk(g, n, OX_INT64, 0, NULL, &out[0]));
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
    CLGRAD_TRY(mk(g, n, x->type, ndim, shape, out));
    for (int64_t k = 0; k < x->n; k++) put(*out, k, x, k);
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

/* --- Transpose ---------------------------------------------------------------------------------- */

static clgrad_status perm_of(const clgrad__ox_graph *g, const clgrad__ox_node *n, int r, int *perm)
{
    int c;
    const int64_t *p = clgrad__ox_attr_ints(n, "perm", &c);
    if (!p) {
        for (int d = 0; d < r; d++) perm[d] = r - 1 - d;
        return CLGRAD_OK;
    }
    if (c != r) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "perm has %d entries for rank %d", c, r);
    int seen[CLGRAD_MAX_DIMS] = {0};
    for (int d = 0; d < r; d++) {
        if (p[d] < 0 || p[d] >= r || seen[p[d]])
            return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "perm is not a permutation of 0..%d", r - 1);
        seen[p[d]] = 1;
        perm[d] = (int)p[d];
    }
    return CLGRAD_OK;
}

static clgrad_status transpose_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0), *y = clgrad__ox_out(g, n, 0);
    clgrad__ox_set_shape(y, x->type, -1, NULL);
    if (x->ndim < 0) return CLGRAD_OK;
    int perm[CLGRAD_MAX_DIMS];
    int64_t s[CLGRAD_MAX_DIMS];
    CLGRAD_TRY(perm_of(g, n, x->ndim, perm));
    for (int d = 0; d < x->ndim; d++) s[d] = x->shape[perm[d]];
    clgrad__ox_set_shape(y, x->type, x->ndim, s);
    return CLGRAD_OK;
}

static clgrad_status transpose_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                                    const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    const clgrad__ox_host *x = in[0];
    int perm[CLGRAD_MAX_DIMS], r = x->ndim;
    int64_t s[CLGRAD_MAX_DIMS], st[CLGRAD_MAX_DIMS], idx[CLGRAD_MAX_DIMS] = {0};
    CLGRAD_TRY(perm_of(g, n, r, perm));
    for (int d = 0; d < r; d++) s[d] = x->shape[perm[d]];
    strides_of(r, x->shape, st);
    CLGRAD_TRY(mk(g, n, x->type, r, s, out));
    for (int64_t k = 0; k < x->n; k++) {
        int64_t j = 0;
        for (int d = 0; d < r; d++) j += idx[d] * st[perm[d]];
        put(out[0], k, x, j);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < s[d]) break;
            idx[d] = 0;
        }
    }
    return CLGRAD_OK;
}

static clgrad_status transpose_run(clgrad__ox_exec *e)
{
    clgrad_tensor *x, *y = NULL;
    int perm[CLGRAD_MAX_DIMS];
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    CLGRAD_TRY(perm_of(e->g, e->n, clgrad_tensor_ndim(x), perm));
    CLGRAD_TRY(clgrad_permute(x, perm, &y));
    clgrad__ox_set_out(e, 0, y);
    return CLGRAD_OK;
}

/* --- Concat and Split --------------------------------------------------------------------------- */

static clgrad_status concat_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0), *y = clgrad__ox_out(g, n, 0);
    if (!clgrad__ox_attr_find(n, "axis")) return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "Concat needs an axis");
    clgrad__ox_set_shape(y, x ? x->type : 0, -1, NULL);
    if (!x || x->ndim < 0) return CLGRAD_OK;
    int r = x->ndim, axis;
    CLGRAD_TRY(clgrad__ox_axis(g, n, clgrad__ox_attr_int(n, "axis", 0), r, &axis));
    int64_t s[CLGRAD_MAX_DIMS];
    memcpy(s, x->shape, sizeof s);
    s[axis] = 0;
    for (int i = 0; i < n->n_in; i++) {
        const clgrad__ox_value *v = clgrad__ox_in(g, n, i);
        if (!v || v->ndim != r) {
            if (v && v->ndim >= 0)
                return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "input %d has rank %d, input 0 rank %d", i, v->ndim, r);
            return CLGRAD_OK;
        }
        s[axis] = clgrad__ox_dim_add(s[axis], v->shape[axis]);
        for (int d = 0; d < r; d++)
            if (d != axis && s[d] < 0) s[d] = v->shape[d];
    }
    clgrad__ox_set_shape(y, x->type, r, s);
    return CLGRAD_OK;
}

static clgrad_status concat_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                                 const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    int r = in[0]->ndim, axis;
    CLGRAD_TRY(clgrad__ox_axis(g, n, clgrad__ox_attr_int(n, "axis", 0), r, &axis));
    int64_t s[CLGRAD_MAX_DIMS];
    memcpy(s, in[0]->shape, sizeof s);
    s[axis] = 0;
    for (int i = 0; i < n->n_in; i++) {
        if (!in[i]) return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "input %d is empty", i);
        if (in[i]->ndim != r) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "input %d has rank %d, input 0 rank %d",
                                                     i, in[i]->ndim, r);
        for (int d = 0; d < r; d++)
            if (d != axis && in[i]->shape[d] != in[0]->shape[d])
                return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "input %d differs from input 0 in dimension %d", i, d);
        s[axis] += in[i]->shape[axis];
    }
    int type = in[0]->type;
    for (int i = 1; i < n->n_in; i++)
        if ((in[i]->type == OX_FLOAT) != (type == OX_FLOAT))
            return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "inputs of different data types");
    CLGRAD_TRY(mk(g, n, type, r, s, out));
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= s[d];
    for (int d = axis + 1; d < r; d++) inner *= s[d];
    int64_t k = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < n->n_in; i++) {
            int64_t len = in[i]->shape[axis] * inner;
            for (int64_t j = 0; j < len; j++) put(out[0], k++, in[i], o * len + j);
        }
    return CLGRAD_OK;
}

static clgrad_status concat_run(clgrad__ox_exec *e)
{
    clgrad_tensor *ts[64], *y = NULL;
    for (int i = 0; i < e->n->n_in; i++) CLGRAD_TRY(clgrad__ox_dev(e, i, &ts[i]));
    int axis;
    CLGRAD_TRY(clgrad__ox_axis(e->g, e->n, clgrad__ox_attr_int(e->n, "axis", 0), clgrad_tensor_ndim(ts[0]), &axis));
    CLGRAD_TRY(clgrad_cat(e->n->n_in, ts, axis, &y));
    clgrad__ox_set_out(e, 0, y);
    return CLGRAD_OK;
}

/* Split sizes of Split for an axis of length len: the 'split' attribute (before 13), input 1
 * (13 on) or equal parts. */
static clgrad_status split_sizes(const clgrad__ox_graph *g, const clgrad__ox_node *n, const clgrad__ox_host *in1,
                                 int64_t len, int64_t *sizes)
{
    int c = 0;
    if (g->opset < 13) {
        const int64_t *a = clgrad__ox_attr_ints(n, "split", &c);
        for (int i = 0; i < c && i < 64; i++) sizes[i] = a[i];
    } else if (in1) {
        CLGRAD_TRY(int_list(g, n, in1, "split", sizes, 64, &c));
    }
    if (c == 0) {
        if (len < 0) {
            for (int i = 0; i < n->n_out; i++) sizes[i] = -1;
            return CLGRAD_OK;
        }
        if (len % n->n_out)
            return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "an axis of %lld does not split into %d equal parts",
                                   (long long)len, n->n_out);
        for (int i = 0; i < n->n_out; i++) sizes[i] = len / n->n_out;
        return CLGRAD_OK;
    }
    if (c != n->n_out) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "%d split sizes for %d outputs", c, n->n_out);
    int64_t sum = 0;
    for (int i = 0; i < c; i++) {
        if (sizes[i] < 0) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "negative split size");
        sum = clgrad__ox_dim_add(sum, sizes[i]);
    }
    if (len >= 0 && (sum < 0 || sum != len))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "split sizes add up to %lld, the axis has %lld",
                               (long long)sum, (long long)len);
    return CLGRAD_OK;
}

static clgrad_status split_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0);
    const clgrad__ox_value *a1 = clgrad__ox_in(g, n, 1);
    for (int i = 0; i < n->n_out; i++) clgrad__ox_set_shape(clgrad__ox_out(g, n, i), x->type, -1, NULL);
    if (x->ndim < 0 || (a1 && !a1->konst)) return CLGRAD_OK;
    int axis;
    int64_t sizes[64];
    CLGRAD_TRY(clgrad__ox_axis(g, n, clgrad__ox_attr_int(n, "axis", 0), x->ndim, &axis));
    CLGRAD_TRY(split_sizes(g, n, a1 ? a1->konst : NULL, x->shape[axis], sizes));
    for (int i = 0; i < n->n_out; i++) {
        int64_t s[CLGRAD_MAX_DIMS];
        memcpy(s, x->shape, sizeof s);
        s[axis] = sizes[i];
        clgrad__ox_set_shape(clgrad__ox_out(g, n, i), x->type, x->ndim, s);
    }
    return CLGRAD_OK;
}

static clgrad_status split_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                                const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    const clgrad__ox_host *x = in[0];
    int axis;
    int64_t sizes[64];
    CLGRAD_TRY(clgrad__ox_axis(g, n, clgrad__ox_attr_int(n, "axis", 0), x->ndim, &axis));
    CLGRAD_TRY(split_sizes(g, n, n->n_in > 1 ? in[1] : NULL, x->shape[axis], sizes));
    int64_t outer = 1, inner = 1, at = 0;
    for (int d = 0; d < axis; d++) outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
    for (int i = 0; i < n->n_out; i++) {
        int64_t s[CLGRAD_MAX_DIMS];
        memcpy(s, x->shape, sizeof s);
        s[axis] = sizes[i];
        CLGRAD_TRY(mk(g, n, x->type, x->ndim, s, &out[i]));
        int64_t k = 0;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < sizes[i] * inner; j++) put(out[i], k++, x, (o * x->shape[axis] + at) * inner + j);
        at += sizes[i];
    }
    return CLGRAD_OK;
}

static clgrad_status split_run(clgrad__ox_exec *e)
{
    clgrad_tensor *x;
    int axis;
    int64_t sizes[64], at = 0;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    CLGRAD_TRY(clgrad__ox_axis(e->g, e->n, clgrad__ox_attr_int(e->n, "axis", 0), clgrad_tensor_ndim(x), &axis));
    CLGRAD_TRY(split_sizes(e->g, e->n, e->n->n_in > 1 ? e->in[1].h : NULL, clgrad_tensor_dim(x, axis), sizes));
    for (int i = 0; i < e->n->n_out; i++) {
        clgrad_tensor *y = NULL;
        CLGRAD_TRY(clgrad_slice(x, axis, at, at + sizes[i], 1, &y));
        clgrad__ox_set_out(e, i, y);
        at += sizes[i];
    }
    return CLGRAD_OK;
}

/* --- Slice -------------------------------------------------------------------------------------- */

typedef struct slice_plan {
    int n;
    int axis[CLGRAD_MAX_DIMS];
    int64_t start[CLGRAD_MAX_DIMS], stop[CLGRAD_MAX_DIMS], step[CLGRAD_MAX_DIMS], len[CLGRAD_MAX_DIMS];
} slice_plan;

/* Resolves starts / ends / axes / steps (inputs 1..4) against shape (r, s): clamped as ONNX
 * says; len is the result length (unknown dims give -1). */
static clgrad_status slice_resolve(const clgrad__ox_graph *g, const clgrad__ox_node *n, int r, const int64_t *s,
                                   const clgrad__ox_host *const *in, slice_plan *p)
{
    int64_t st[CLGRAD_MAX_DIMS], en[CLGRAD_MAX_DIMS], ax[CLGRAD_MAX_DIMS], sp[CLGRAD_MAX_DIMS];
    int ns, ne, na = 0, nsp = 0;
    CLGRAD_TRY(int_list(g, n, in[1], "starts", st, CLGRAD_MAX_DIMS, &ns));
    CLGRAD_TRY(int_list(g, n, in[2], "ends", en, CLGRAD_MAX_DIMS, &ne));
    if (n->n_in > 3 && in[3]) CLGRAD_TRY(int_list(g, n, in[3], "axes", ax, CLGRAD_MAX_DIMS, &na));
    if (n->n_in > 4 && in[4]) CLGRAD_TRY(int_list(g, n, in[4], "steps", sp, CLGRAD_MAX_DIMS, &nsp));
    if (ne != ns || (na && na != ns) || (nsp && nsp != ns))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "starts, ends, axes and steps differ in length");
    p->n = ns;
    int seen[CLGRAD_MAX_DIMS] = {0};
    for (int i = 0; i < ns; i++) {
        int a;
        CLGRAD_TRY(clgrad__ox_axis(g, n, na ? ax[i] : i, r, &a));
        if (seen[a]) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "axis %d is sliced twice", a);
        seen[a] = 1;
        int64_t step = nsp ? sp[i] : 1, dim = s[a];
        if (step == 0) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "a step of 0");
        p->axis[i] = a;
        p->step[i] = step;
        if (dim < 0) {
            p->len[i] = -1;
            continue;
        }
        int64_t b = st[i], e = en[i];
        if (b < 0) b = b < -dim ? 0 : b + dim; /* careful with INT64_MIN */
        if (e < 0) e = e < -dim ? -1 : e + dim;
        if (step > 0) {
            b = b > dim ? dim : b;
            e = e < 0 ? 0 : e > dim ? dim : e;
            p->len[i] = e > b ? (e - b - 1) / step + 1 : 0;
        } else {
            b = b > dim - 1 ? dim - 1 : b;
            e = e > dim - 1 ? dim - 1 : e;
            if (e < -1) e = -1;
            int64_t back = step == INT64_MIN ? INT64_MAX : -step;
            p->len[i] = b > e ? (b - e - 1) / back + 1 : 0;
        }
        p->start[i] = b;
        p->stop[i] = e;
    }
    return CLGRAD_OK;
}

static clgrad_status slice_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0), *y = clgrad__ox_out(g, n, 0);
    clgrad__ox_set_shape(y, x->type, x->ndim, x->ndim >= 0 ? x->shape : NULL);
    if (x->ndim < 0) return CLGRAD_OK;
    const clgrad__ox_host *in[5] = {NULL};
    for (int i = 1; i < n->n_in && i < 5; i++) {
        const clgrad__ox_value *v = clgrad__ox_in(g, n, i);
        if (v && !v->konst) {
            for (int d = 0; d < x->ndim; d++) y->shape[d] = -1;
            return CLGRAD_OK;
        }
        in[i] = v ? v->konst : NULL;
    }
    if (!in[1] || !in[2]) return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "Slice needs starts and ends");
    slice_plan p;
    CLGRAD_TRY(slice_resolve(g, n, x->ndim, x->shape, in, &p));
    for (int i = 0; i < p.n; i++) y->shape[p.axis[i]] = p.len[i];
    return CLGRAD_OK;
}

static clgrad_status slice_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                                const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    const clgrad__ox_host *x = in[0];
    slice_plan p;
    CLGRAD_TRY(slice_resolve(g, n, x->ndim, x->shape, in, &p));
    int r = x->ndim;
    int64_t s[CLGRAD_MAX_DIMS], b[CLGRAD_MAX_DIMS], stp[CLGRAD_MAX_DIMS], st[CLGRAD_MAX_DIMS],
        idx[CLGRAD_MAX_DIMS] = {0};
    for (int d = 0; d < r; d++) {
        s[d] = x->shape[d];
        b[d] = 0;
        stp[d] = 1;
    }
    for (int i = 0; i < p.n; i++) {
        s[p.axis[i]] = p.len[i];
        b[p.axis[i]] = p.start[i];
        stp[p.axis[i]] = p.step[i];
    }
    strides_of(r, x->shape, st);
    CLGRAD_TRY(mk(g, n, x->type, r, s, out));
    for (int64_t k = 0; k < out[0]->n; k++) {
        int64_t j = 0;
        for (int d = 0; d < r; d++) j += (b[d] + idx[d] * stp[d]) * st[d];
        put(out[0], k, x, j);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < s[d]) break;
            idx[d] = 0;
        }
    }
    return CLGRAD_OK;
}

static clgrad_status slice_run(clgrad__ox_exec *e)
{
    clgrad_tensor *x, *cur;
    int64_t s[CLGRAD_MAX_DIMS];
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    clgrad_tensor_shape(x, s);
    const clgrad__ox_host *in[5] = {NULL};
    for (int i = 1; i < e->n->n_in && i < 5; i++) in[i] = e->in[i].h;
    slice_plan p;
    CLGRAD_TRY(slice_resolve(e->g, e->n, clgrad_tensor_ndim(x), s, in, &p));
    cur = clgrad_tensor_retain(x);
    for (int i = 0; i < p.n; i++) {
        if (p.step[i] < 0) {
            clgrad_tensor_release(cur);
            return clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_UNSUPPORTED, "negative steps (reversing) are not supported "
                                   "on the device");
        }
        clgrad_tensor *y = NULL;
        int64_t stop = p.len[i] ? p.start[i] + (p.len[i] - 1) * p.step[i] + 1 : p.start[i];
        clgrad_status st = clgrad_slice(cur, p.axis[i], p.start[i], stop, p.len[i] > 1 ? p.step[i] : 1, &y);
        clgrad_tensor_release(cur);
        if (st != CLGRAD_OK) return st;
        cur = y;
    }
    clgrad__ox_set_out(e, 0, cur);
    return CLGRAD_OK;
}

/* --- Gather ------------------------------------------------------------------------------------- */

static clgrad_status gather_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0), *ix = clgrad__ox_in(g, n, 1), *y = clgrad__ox_out(g, n, 0);
    clgrad__ox_set_shape(y, x->type, -1, NULL);
    if (ix->type == OX_FLOAT) return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "indices must be integers");
    if (x->ndim < 0 || ix->ndim < 0) return CLGRAD_OK;
    int axis;
    CLGRAD_TRY(clgrad__ox_axis(g, n, clgrad__ox_attr_int(n, "axis", 0), x->ndim, &axis));
    int r = x->ndim - 1 + ix->ndim;
    if (r > CLGRAD_MAX_DIMS) return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "the result has %d dims", r);
    int64_t s[CLGRAD_MAX_DIMS];
    int k = 0;
    for (int d = 0; d < axis; d++) s[k++] = x->shape[d];
    for (int d = 0; d < ix->ndim; d++) s[k++] = ix->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) s[k++] = x->shape[d];
    clgrad__ox_set_shape(y, x->type, r, s);
    return CLGRAD_OK;
}

/* Normalised index k of ix along a dim of length dim; fails when out of range. */
static clgrad_status index_at(const clgrad__ox_graph *g, const clgrad__ox_node *n, const clgrad__ox_host *ix,
                              int64_t k, int64_t dim, int64_t *out)
{
    *out = 0;
    int64_t v = clgrad__ox_host_geti(ix, k);
    if (v < -dim || v >= dim)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "index %lld is out of range for a dimension of %lld",
                               (long long)v, (long long)dim);
    *out = v < 0 ? v + dim : v;
    return CLGRAD_OK;
}

static clgrad_status gather_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                                 const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    const clgrad__ox_host *x = in[0], *ix = in[1];
    int axis;
    CLGRAD_TRY(clgrad__ox_axis(g, n, clgrad__ox_attr_int(n, "axis", 0), x->ndim, &axis));
    int r = x->ndim - 1 + ix->ndim;
    if (r > CLGRAD_MAX_DIMS) return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "the result has %d dims", r);
    int64_t s[CLGRAD_MAX_DIMS], outer = 1, inner = 1, dim = x->shape[axis];
    int k = 0;
    for (int d = 0; d < axis; d++) s[k++] = x->shape[d], outer *= x->shape[d];
    for (int d = 0; d < ix->ndim; d++) s[k++] = ix->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) s[k++] = x->shape[d], inner *= x->shape[d];
    CLGRAD_TRY(mk(g, n, x->type, r, s, out));
    int64_t at = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t q = 0; q < ix->n; q++) {
            int64_t j;
            CLGRAD_TRY(index_at(g, n, ix, q, dim, &j));
            for (int64_t c = 0; c < inner; c++) put(out[0], at++, x, (o * dim + j) * inner + c);
        }
    return CLGRAD_OK;
}

static clgrad_status gather_run(clgrad__ox_exec *e)
{
    clgrad_tensor *x, *y = NULL;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    int nd = clgrad_tensor_ndim(x), axis;
    int64_t s[CLGRAD_MAX_DIMS];
    clgrad_tensor_shape(x, s);
    CLGRAD_TRY(clgrad__ox_axis(e->g, e->n, clgrad__ox_attr_int(e->n, "axis", 0), nd, &axis));
    const clgrad__ox_host *ix = e->in[1].h;
    if (ix && ix->ndim == 0) { /* one index: a slice without the axis */
        int64_t j, so[CLGRAD_MAX_DIMS];
        clgrad_tensor *v = NULL;
        CLGRAD_TRY(index_at(e->g, e->n, ix, 0, s[axis], &j));
        CLGRAD_TRY(clgrad_slice(x, axis, j, j + 1, 1, &v));
        for (int d = 0, k = 0; d < nd; d++)
            if (d != axis) so[k++] = s[d];
        clgrad_status st = clgrad_reshape(v, nd - 1, so, &y);
        clgrad_tensor_release(v);
        if (st == CLGRAD_OK) clgrad__ox_set_out(e, 0, y);
        return st;
    }
    /* general: move the axis first, look rows up as an embedding table, move the index dims
     * to where the axis was */
    clgrad_tensor *ixt, *own = NULL;
    if (ix) { /* host indices: normalised, then uploaded */
        clgrad__ox_host *c = NULL;
        clgrad_status st = clgrad__ox_host_copy(ix, &c);
        for (int64_t k = 0; st == CLGRAD_OK && k < c->n; k++) {
            int64_t j;
            st = index_at(e->g, e->n, ix, k, s[axis], &j);
            c->i[k] = j;
        }
        if (st == CLGRAD_OK) st = clgrad__ox_upload(e->ctx, c, 1, "indices", &own);
        clgrad__ox_host_free(c);
        CLGRAD_TRY(st);
        ixt = own;
    } else {
        CLGRAD_TRY(clgrad__ox_dev(e, 1, &ixt));
    }
    int perm[CLGRAD_MAX_DIMS], q = clgrad_tensor_ndim(ixt);
    if (clgrad_tensor_dtype(x) != CLGRAD_DTYPE_F32 || nd - 1 + q > CLGRAD_MAX_DIMS) {
        clgrad_tensor_release(own);
        return clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_UNSUPPORTED, "%s",
                               nd - 1 + q > CLGRAD_MAX_DIMS ? "the result has too many dims"
                                                             : "gathering from integer data on the device");
    }
    perm[0] = axis;
    for (int d = 0, k = 1; d < nd; d++)
        if (d != axis) perm[k++] = d;
    clgrad_tensor *p = NULL, *t = NULL, *emb = NULL, *r = NULL;
    int64_t rows[2] = {s[axis], 1};
    for (int d = 0; d < nd; d++)
        if (d != axis) rows[1] *= s[d];
    clgrad_status st = clgrad_permute(x, perm, &p);
    if (st == CLGRAD_OK) st = clgrad_reshape(p, 2, rows, &t);
    if (st == CLGRAD_OK) st = clgrad_embedding(t, ixt, &emb);
    if (st == CLGRAD_OK) { /* (idx..., pre..., post...) -> (pre..., idx..., post...) */
        int64_t sh[CLGRAD_MAX_DIMS];
        int k = 0;
        clgrad_tensor_shape(ixt, sh);
        for (int d = 0; d < nd; d++)
            if (d != axis) sh[q + k++] = s[d];
        st = clgrad_reshape(emb, q + nd - 1, sh, &r);
    }
    if (st == CLGRAD_OK) {
        int po[CLGRAD_MAX_DIMS], k = 0;
        for (int d = 0; d < axis; d++) po[k++] = q + d;
        for (int d = 0; d < q; d++) po[k++] = d;
        for (int d = axis + 1; d < nd; d++) po[k++] = q + d - 1;
        st = clgrad_permute(r, po, &y);
    }
    clgrad_tensor_release(p);
    clgrad_tensor_release(t);
    clgrad_tensor_release(emb);
    clgrad_tensor_release(r);
    clgrad_tensor_release(own);
    if (st == CLGRAD_OK) clgrad__ox_set_out(e, 0, y);
    return st;
}

/* --- Expand ------------------------------------------------------------------------------------- */

static clgrad_status expand_shape(const clgrad__ox_graph *g, const clgrad__ox_node *n, int r, const int64_t *s,
                                  const clgrad__ox_host *t, int *ro, int64_t *so)
{
    int64_t want[CLGRAD_MAX_DIMS];
    int c;
    CLGRAD_TRY(int_list(g, n, t, "the shape", want, CLGRAD_MAX_DIMS, &c));
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
    strides_of(x->ndim, x->shape, st);
    CLGRAD_TRY(mk(g, n, x->type, r, s, out));
    for (int64_t k = 0; k < out[0]->n; k++) {
        int64_t j = 0;
        for (int d = 0; d < x->ndim; d++) {
            int od = d + (r - x->ndim);
            if (x->shape[d] != 1) j += idx[od] * st[d];
        }
        put(out[0], k, x, j);
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
    CLGRAD_TRY(mk(g, n, to, x->ndim, x->shape, out));
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
        CLGRAD_TRY(mk(g, n, OX_BOOL, in[0]->ndim, in[0]->shape, &out[1]));
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
        CLGRAD_TRY(int_list(g, n, sv->konst, "the shape", s, CLGRAD_MAX_DIMS, &c));
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
    CLGRAD_TRY(int_list(g, n, in[0], "the shape", s, CLGRAD_MAX_DIMS, &c));
    CLGRAD_TRY(mk(g, n, type, c, s, out));
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
    CLGRAD_TRY(int_list(e->g, e->n, e->in[0].h, "the shape", s, CLGRAD_MAX_DIMS, &c));
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
    CLGRAD_TRY(mk(g, n, in[0]->type, 1, &len, out));
    for (int64_t k = 0; k < len; k++) {
        if (out[0]->f) out[0]->f[k] = (float)(a + (double)k * d);
        else
            out[0]->i[k] = (int64_t)((uint64_t)clgrad__ox_host_geti(in[0], 0) +
                                     (uint64_t)k * (uint64_t)clgrad__ox_host_geti(in[2], 0));
    }
    return CLGRAD_OK;
}

/* --- the table ---------------------------------------------------------------------------------- */

const clgrad__ox_op clgrad__ox_ops_tensor[] = {
    /* name, inputs, outputs, host inputs, check, host, run, int inputs */
    {"Constant", 0, 0, 1, 1, 0, NULL, constant_host, NULL, 0},
    {"Shape", 1, 1, 1, 1, 0, shape_check, shape_host, NULL, 0},
    {"Size", 1, 1, 1, 1, 0, size_check, size_host, NULL, 0},
    {"Reshape", 2, 2, 1, 1, 2, reshape_check, reshape_host, reshape_run, 0},
    {"Flatten", 1, 1, 1, 1, 0, flatten_check, flatten_host, flatten_run, 0},
    {"Squeeze", 1, 2, 1, 1, 2, sq_check, sq_host, sq_run, 0},
    {"Unsqueeze", 1, 2, 1, 1, 2, sq_check, sq_host, sq_run, 0},
    {"Transpose", 1, 1, 1, 1, 0, transpose_check, transpose_host, transpose_run, 0},
    {"Concat", 1, 64, 1, 1, 0, concat_check, concat_host, concat_run, 0},
    {"Split", 1, 2, 1, 64, 2, split_check, split_host, split_run, 0},
    {"Slice", 3, 5, 1, 1, 0x1e, slice_check, slice_host, slice_run, 0},
    {"Gather", 2, 2, 1, 1, 0, gather_check, gather_host, gather_run, 2},
    {"Expand", 2, 2, 1, 1, 2, expand_check, expand_host, expand_run, 0},
    {"Cast", 1, 1, 1, 1, 0, cast_check, cast_host, cast_run, 0},
    {"Identity", 1, 1, 1, 1, 0, identity_check, identity_host, identity_run, 0},
    {"Dropout", 1, 3, 1, 2, 0, identity_check, identity_host, identity_run, 0},
    {"ConstantOfShape", 1, 1, 1, 1, 1, cos_check, cos_host, cos_run, 0},
    {"Range", 3, 3, 1, 1, 0, range_check, range_host, NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0},
};
