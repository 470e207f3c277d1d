/* Value operators: Constant, Cast, Identity, Dropout (at inference, an identity),
 * ConstantOfShape and Range. Each has a host form (constant folding at load, shape
 * arithmetic at run time) and, where data can be large, a device form. */
#include "onnx/onnx.h"

#include <math.h>
#include <string.h>

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

const clgrad__ox_op clgrad__ox_ops_value[] = {
    /* name, inputs, outputs, host inputs, check, host, run, int inputs */
    {"Constant", 0, 0, 1, 1, 0, NULL, constant_host, NULL, 0},
    {"Cast", 1, 1, 1, 1, 0, cast_check, cast_host, cast_run, 0},
    {"Identity", 1, 1, 1, 1, 0, identity_check, identity_host, identity_run, 0},
    {"Dropout", 1, 3, 1, 2, 0, identity_check, identity_host, identity_run, 0},
    {"ConstantOfShape", 1, 1, 1, 1, 1, cos_check, cos_host, cos_run, 0},
    {"Range", 3, 3, 1, 1, 0, range_check, range_host, NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0},
};
