/* Selection operators: Transpose, Concat, Split, Slice and Gather, on the host (folding and
 * shape arithmetic) and on the device through clgrad's views, concatenation and embedding
 * lookup. Negative Slice steps run on the host only. */
#include "onnx/onnx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    clgrad__ox_strides(r, x->shape, st);
    CLGRAD_TRY(clgrad__ox_mk(g, n, x->type, r, s, out));
    for (int64_t k = 0; k < x->n; k++) {
        int64_t j = 0;
        for (int d = 0; d < r; d++) j += idx[d] * st[perm[d]];
        clgrad__ox_put(out[0], k, x, j);
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
    CLGRAD_TRY(clgrad__ox_mk(g, n, type, r, s, out));
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= s[d];
    for (int d = axis + 1; d < r; d++) inner *= s[d];
    int64_t k = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < n->n_in; i++) {
            int64_t len = in[i]->shape[axis] * inner;
            for (int64_t j = 0; j < len; j++) clgrad__ox_put(out[0], k++, in[i], o * len + j);
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
        CLGRAD_TRY(clgrad__ox_int_list(g, n, in1, "split", sizes, 64, &c));
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
        CLGRAD_TRY(clgrad__ox_mk(g, n, x->type, x->ndim, s, &out[i]));
        int64_t k = 0;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < sizes[i] * inner; j++) clgrad__ox_put(out[i], k++, x, (o * x->shape[axis] + at) * inner + j);
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
    CLGRAD_TRY(clgrad__ox_int_list(g, n, in[1], "starts", st, CLGRAD_MAX_DIMS, &ns));
    CLGRAD_TRY(clgrad__ox_int_list(g, n, in[2], "ends", en, CLGRAD_MAX_DIMS, &ne));
    if (n->n_in > 3 && in[3]) CLGRAD_TRY(clgrad__ox_int_list(g, n, in[3], "axes", ax, CLGRAD_MAX_DIMS, &na));
    if (n->n_in > 4 && in[4]) CLGRAD_TRY(clgrad__ox_int_list(g, n, in[4], "steps", sp, CLGRAD_MAX_DIMS, &nsp));
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
    clgrad__ox_strides(r, x->shape, st);
    CLGRAD_TRY(clgrad__ox_mk(g, n, x->type, r, s, out));
    for (int64_t k = 0; k < out[0]->n; k++) {
        int64_t j = 0;
        for (int d = 0; d < r; d++) j += (b[d] + idx[d] * stp[d]) * st[d];
        clgrad__ox_put(out[0], k, x, j);
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
    CLGRAD_TRY(clgrad__ox_mk(g, n, x->type, r, s, out));
    int64_t at = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t q = 0; q < ix->n; q++) {
            int64_t j;
            CLGRAD_TRY(index_at(g, n, ix, q, dim, &j));
            for (int64_t c = 0; c < inner; c++) clgrad__ox_put(out[0], at++, x, (o * dim + j) * inner + c);
        }
    return CLGRAD_OK;
}

/* Device indices t read back into a new host tensor (int64 storage). */
static clgrad_status indices_to_host(const clgrad__ox_exec *e, clgrad_tensor *t, clgrad__ox_host **out)
{
    *out = NULL;
    if (clgrad_tensor_dtype(t) != CLGRAD_DTYPE_I32)
        return clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_UNSUPPORTED, "indices must be integers");
    int64_t s[CLGRAD_MAX_DIMS];
    clgrad_tensor_shape(t, s);
    clgrad__ox_host *h = NULL;
    CLGRAD_TRY(clgrad__ox_host_new(OX_INT64, clgrad_tensor_ndim(t), s, "indices", &h));
    int32_t *v = malloc((size_t)(h->n ? h->n : 1) * sizeof *v);
    clgrad_status st = v ? clgrad_tensor_read(t, v, (size_t)h->n * sizeof *v)
                         : clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_HOST_MEMORY, "out of host memory for the indices");
    for (int64_t k = 0; st == CLGRAD_OK && k < h->n; k++) h->i[k] = v[k];
    free(v);
    if (st != CLGRAD_OK) {
        clgrad__ox_host_free(h);
        return st;
    }
    *out = h;
    return CLGRAD_OK;
}

/* One index: a slice of x along axis, without the axis. */
static clgrad_status gather_one(clgrad__ox_exec *e, clgrad_tensor *x, int axis, const int64_t *s, int64_t j)
{
    int nd = clgrad_tensor_ndim(x);
    int64_t so[CLGRAD_MAX_DIMS];
    clgrad_tensor *v = NULL, *y = NULL;
    CLGRAD_TRY(clgrad_slice(x, axis, j, j + 1, 1, &v));
    for (int d = 0, k = 0; d < nd; d++)
        if (d != axis) so[k++] = s[d];
    clgrad_status st = clgrad_reshape(v, nd - 1, so, &y);
    clgrad_tensor_release(v);
    if (st == CLGRAD_OK) clgrad__ox_set_out(e, 0, y);
    return st;
}

/* The indices ix, each normalised against size (negative ones count from the end), uploaded. */
static clgrad_status gather_indices(clgrad__ox_exec *e, const clgrad__ox_host *ix, int64_t size, clgrad_tensor **ixt)
{
    clgrad__ox_host *c = NULL;
    clgrad_status st = clgrad__ox_host_copy(ix, &c);
    for (int64_t k = 0; st == CLGRAD_OK && k < c->n; k++) {
        int64_t j;
        st = index_at(e->g, e->n, ix, k, size, &j);
        c->i[k] = j;
    }
    if (st == CLGRAD_OK) st = clgrad__ox_upload(e->ctx, c, 1, "indices", ixt);
    clgrad__ox_host_free(c);
    return st;
}

/* The general case: move the axis first, look rows up as an embedding table with the device
 * indices ixt, move the index dims to where the axis was. */
static clgrad_status gather_rows(clgrad__ox_exec *e, clgrad_tensor *x, int axis, const int64_t *s, clgrad_tensor *ixt)
{
    int nd = clgrad_tensor_ndim(x), perm[CLGRAD_MAX_DIMS], q = clgrad_tensor_ndim(ixt);
    if (clgrad_tensor_dtype(x) != CLGRAD_DTYPE_F32 || nd - 1 + q > CLGRAD_MAX_DIMS)
        return clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_UNSUPPORTED, "%s",
                               nd - 1 + q > CLGRAD_MAX_DIMS ? "the result has too many dims"
                                                             : "gathering from integer data on the device");
    perm[0] = axis;
    for (int d = 0, k = 1; d < nd; d++)
        if (d != axis) perm[k++] = d;
    clgrad_tensor *p = NULL, *t = NULL, *emb = NULL, *r = NULL, *y = NULL;
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
    if (st == CLGRAD_OK) clgrad__ox_set_out(e, 0, y);
    return st;
}

static clgrad_status gather_run(clgrad__ox_exec *e)
{
    clgrad_tensor *x;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    int nd = clgrad_tensor_ndim(x), axis;
    int64_t s[CLGRAD_MAX_DIMS];
    clgrad_tensor_shape(x, s);
    CLGRAD_TRY(clgrad__ox_axis(e->g, e->n, clgrad__ox_attr_int(e->n, "axis", 0), nd, &axis));
    const clgrad__ox_host *ix = e->in[1].h;
    /* Indices made at run time (a graph input, token ids say) are read back: ONNX counts a
     * negative index from the end and makes one out of range an error, and the device lookup
     * (clgrad_embedding) would give a zero row for either. */
    clgrad__ox_host *fetched = NULL;
    if (!ix) {
        clgrad_tensor *dev;
        CLGRAD_TRY(clgrad__ox_dev(e, 1, &dev));
        CLGRAD_TRY(indices_to_host(e, dev, &fetched));
        ix = fetched;
    }
    clgrad_status st;
    if (ix->ndim == 0) {
        int64_t j;
        st = index_at(e->g, e->n, ix, 0, s[axis], &j);
        clgrad__ox_host_free(fetched);
        CLGRAD_TRY(st);
        return gather_one(e, x, axis, s, j);
    }
    clgrad_tensor *ixt = NULL;
    st = gather_indices(e, ix, s[axis], &ixt);
    clgrad__ox_host_free(fetched);
    CLGRAD_TRY(st);
    st = gather_rows(e, x, axis, s, ixt);
    clgrad_tensor_release(ixt);
    return st;
}

const clgrad__ox_op clgrad__ox_ops_select[] = {
    /* name, inputs, outputs, host inputs, check, host, run, int inputs */
    {"Transpose", 1, 1, 1, 1, 0, transpose_check, transpose_host, transpose_run, 0},
    {"Concat", 1, 64, 1, 1, 0, concat_check, concat_host, concat_run, 0},
    {"Split", 1, 2, 1, 64, 2, split_check, split_host, split_run, 0},
    {"Slice", 3, 5, 1, 1, 0x1e, slice_check, slice_host, slice_run, 0},
    {"Gather", 2, 2, 1, 1, 0, gather_check, gather_host, gather_run, 2},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0},
};
