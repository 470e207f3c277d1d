/* Elementwise operators with numpy broadcasting, comparisons and Where, activations
 * (Softmax and LogSoftmax, reductions and ArgMax are in ops_reduce.c). Device forms go through clgrad's public
 * ops (a one-element constant operand through the tensor-scalar forms, without a
 * broadcast); host forms evaluate small integer and float tensors for constant folding and
 * shape arithmetic. Masks (BOOL) are f32 0 / 1 on the device. */
#include "onnx/onnx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- binary ops ---------------------------------------------------------------------------------- */

typedef enum bop { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_EQ, B_LT, B_GT, B_LE, B_GE, B_AND, B_OR,
                   B_XOR } bop;

static const struct {
    const char *name;
    bop op;
} BOPS[] = {{"Add", B_ADD}, {"Sub", B_SUB}, {"Mul", B_MUL}, {"Div", B_DIV}, {"Pow", B_POW},
            {"Max", B_MAX}, {"Min", B_MIN}, {"Sum", B_ADD}, {"Mean", B_ADD}, {"Equal", B_EQ},
            {"Less", B_LT}, {"Greater", B_GT}, {"LessOrEqual", B_LE}, {"GreaterOrEqual", B_GE},
            {"And", B_AND}, {"Or", B_OR}, {"Xor", B_XOR}};

static bop bop_of(const char *name)
{
    for (size_t i = 0; i < sizeof BOPS / sizeof BOPS[0]; i++)
        if (!strcmp(BOPS[i].name, name)) return BOPS[i].op;
    return B_ADD;
}

static int is_cmp(bop o) { return o >= B_EQ; }

static clgrad_status binary_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    bop o = bop_of(n->op);
    clgrad__ox_value *y = clgrad__ox_out(g, n, 0), *acc = clgrad__ox_in(g, n, 0);
    if (!acc) return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "input 0 is missing");
    clgrad__ox_value tmp = *acc;
    for (int i = 1; i < n->n_in; i++) {
        clgrad__ox_value *b = clgrad__ox_in(g, n, i), r = tmp;
        if (!b) return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "input %d is missing", i);
        if (tmp.type && b->type && (tmp.type == OX_FLOAT) != (b->type == OX_FLOAT) && o != B_POW)
            return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "inputs of different data types");
        clgrad__ox_bcast_static(&tmp, b, &r);
        tmp.ndim = r.ndim;
        memcpy(tmp.shape, r.shape, sizeof r.shape);
    }
    clgrad__ox_set_shape(y, is_cmp(o) ? OX_BOOL : acc->type, tmp.ndim, tmp.ndim >= 0 ? tmp.shape : NULL);
    return CLGRAD_OK;
}

static double bop_f(bop o, double a, double b)
{
    switch (o) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_POW: return pow(a, b);
    case B_MAX: return a > b || a != a ? a : b;
    case B_MIN: return a < b || a != a ? a : b;
    case B_EQ: return a == b;
    case B_LT: return a < b;
    case B_GT: return a > b;
    case B_LE: return a <= b;
    case B_GE: return a >= b;
    case B_AND: return a != 0 && b != 0;
    case B_OR: return a != 0 || b != 0;
    case B_XOR: return (a != 0) != (b != 0);
    }
    return 0;
}

static int64_t ipow(int64_t a, int64_t b)
{
    int64_t r = 1;
    if (b < 0) return a == 1 ? 1 : a == -1 ? (b & 1 ? -1 : 1) : 0;
    for (int k = 0; k < 64 && b; k++, b >>= 1) {
        if (b & 1) r = (int64_t)((uint64_t)r * (uint64_t)a);
        a = (int64_t)((uint64_t)a * (uint64_t)a);
    }
    return r;
}

/* Integer arithmetic as ONNX defines it (Div truncates); 0 for a division by zero. */
static int64_t bop_i(bop o, int64_t a, int64_t b)
{
    switch (o) {
    case B_ADD: return (int64_t)((uint64_t)a + (uint64_t)b);
    case B_SUB: return (int64_t)((uint64_t)a - (uint64_t)b);
    case B_MUL: return (int64_t)((uint64_t)a * (uint64_t)b);
    case B_DIV: return b == 0 || (a == INT64_MIN && b == -1) ? 0 : a / b;
    case B_POW: return ipow(a, b);
    case B_MAX: return a > b ? a : b;
    case B_MIN: return a < b ? a : b;
    default: return (int64_t)bop_f(o, (double)a, (double)b);
    }
}

static clgrad_status host_binary(const clgrad__ox_graph *g, const clgrad__ox_node *n, bop o,
                                 const clgrad__ox_host *a, const clgrad__ox_host *b, clgrad__ox_host **out)
{
    int r = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t s[CLGRAD_MAX_DIMS], sa[CLGRAD_MAX_DIMS], sb[CLGRAD_MAX_DIMS], idx[CLGRAD_MAX_DIMS] = {0};
    for (int d = 0; d < r; d++) {
        int ia = d - (r - a->ndim), ib = d - (r - b->ndim);
        int64_t x = ia >= 0 ? a->shape[ia] : 1, y = ib >= 0 ? b->shape[ib] : 1;
        if (x != y && x != 1 && y != 1) {
            char p[200], q[200];
            return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "shapes %s and %s do not broadcast",
                                   clgrad__shape_str(p, sizeof p, a->ndim, a->shape),
                                   clgrad__shape_str(q, sizeof q, b->ndim, b->shape));
        }
        s[d] = x == 1 ? y : x;
    }
    /* strides of a and b at the output's shape (0 on broadcast dims) */
    int64_t ma = 1, mb = 1;
    for (int d = r - 1; d >= 0; d--) {
        int ia = d - (r - a->ndim), ib = d - (r - b->ndim);
        int64_t x = ia >= 0 ? a->shape[ia] : 1, y = ib >= 0 ? b->shape[ib] : 1;
        sa[d] = x == 1 ? 0 : ma;
        sb[d] = y == 1 ? 0 : mb;
        ma *= x;
        mb *= y;
    }
    int fl = a->type == OX_FLOAT || b->type == OX_FLOAT;
    int type = is_cmp(o) ? OX_BOOL : (o == B_POW ? a->type : fl ? OX_FLOAT : a->type);
    CLGRAD_TRY(clgrad__ox_mk(g, n, type, r, s, out));
    for (int64_t k = 0; k < out[0]->n; k++) {
        int64_t ja = 0, jb = 0;
        for (int d = 0; d < r; d++) {
            ja += idx[d] * sa[d];
            jb += idx[d] * sb[d];
        }
        if (fl || is_cmp(o)) {
            double v = bop_f(o, clgrad__ox_host_get(a, ja), clgrad__ox_host_get(b, jb));
            if (out[0]->f) out[0]->f[k] = (float)v;
            else out[0]->i[k] = clgrad__ox_d2i(v);
        } else {
            out[0]->i[k] = bop_i(o, a->i[ja], b->i[jb]);
        }
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < s[d]) break;
            idx[d] = 0;
        }
    }
    return CLGRAD_OK;
}

static clgrad_status binary_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                                 const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    bop o = bop_of(n->op);
    clgrad__ox_host *acc = NULL;
    CLGRAD_TRY(host_binary(g, n, o, in[0], n->n_in > 1 ? in[1] : in[0], &acc));
    if (n->n_in == 1) { /* a variadic op of one input is that input */
        clgrad__ox_host_free(acc);
        return clgrad__ox_host_copy(in[0], out);
    }
    for (int i = 2; i < n->n_in; i++) {
        clgrad__ox_host *next = NULL;
        clgrad_status st = host_binary(g, n, o, acc, in[i], &next);
        clgrad__ox_host_free(acc);
        CLGRAD_TRY(st);
        acc = next;
    }
    if (!strcmp(n->op, "Mean") && acc->f)
        for (int64_t k = 0; k < acc->n; k++) acc->f[k] /= (float)n->n_in;
    *out = acc;
    return CLGRAD_OK;
}

/* One-element float host value (a constant operand) that does not widen the other's rank. */
static int scalar_of(const clgrad__ox_rv *r, int other_ndim, float *v)
{
    if (!r->h || r->h->n != 1 || r->h->ndim > other_ndim) return 0;
    *v = (float)clgrad__ox_host_get(r->h, 0);
    return 1;
}

static clgrad_status dev_binary(clgrad__ox_exec *e, bop o, int ia, clgrad_tensor *a, int ib, clgrad_tensor **out)
{
    clgrad_tensor *b = NULL;
    float s;
    int an = clgrad_tensor_ndim(a);
    if (ib >= 0 && scalar_of(&e->in[ib], an, &s)) {
        switch (o) {
        case B_ADD: return clgrad_add_scalar(a, s, out);
        case B_SUB: return clgrad_add_scalar(a, -s, out);
        case B_MUL: return clgrad_mul_scalar(a, s, out);
        case B_DIV: return clgrad_mul_scalar(a, 1.0f / s, out);
        case B_POW: return s == 1.0f ? (*out = clgrad_tensor_retain(a), CLGRAD_OK) : clgrad_pow_scalar(a, s, out);
        case B_MAX: return clgrad_maximum_scalar(a, s, out);
        case B_MIN: return clgrad_minimum_scalar(a, s, out);
        case B_EQ: return clgrad_compare_scalar(a, CLGRAD_CMP_EQ, s, out);
        case B_LT: return clgrad_compare_scalar(a, CLGRAD_CMP_LT, s, out);
        case B_GT: return clgrad_compare_scalar(a, CLGRAD_CMP_GT, s, out);
        case B_LE: return clgrad_compare_scalar(a, CLGRAD_CMP_LE, s, out);
        case B_GE: return clgrad_compare_scalar(a, CLGRAD_CMP_GE, s, out);
        default: break;
        }
    }
    if (ia >= 0 && ib >= 0 && e->in[ib].t == NULL && !e->in[ib].h) return CLGRAD_ERR_INVALID_ARG;
    CLGRAD_TRY(clgrad__ox_dev(e, ib, &b));
    /* a scalar on the left: s - b, s / b, s + b, s * b without a broadcast */
    switch (o) {
    case B_ADD: return clgrad_add(a, b, out);
    case B_SUB: return clgrad_sub(a, b, out);
    case B_MUL: return clgrad_mul(a, b, out);
    case B_DIV: return clgrad_div(a, b, out);
    case B_POW: return clgrad_pow(a, b, out);
    case B_MAX: return clgrad_maximum(a, b, out);
    case B_MIN: return clgrad_minimum(a, b, out);
    case B_EQ: return clgrad_compare(a, CLGRAD_CMP_EQ, b, out);
    case B_LT: return clgrad_compare(a, CLGRAD_CMP_LT, b, out);
    case B_GT: return clgrad_compare(a, CLGRAD_CMP_GT, b, out);
    case B_LE: return clgrad_compare(a, CLGRAD_CMP_LE, b, out);
    case B_GE: return clgrad_compare(a, CLGRAD_CMP_GE, b, out);
    case B_AND: return clgrad_mul(a, b, out);
    case B_OR: return clgrad_maximum(a, b, out);
    case B_XOR: return clgrad_compare(a, CLGRAD_CMP_NE, b, out);
    }
    return CLGRAD_ERR_INVALID_ARG;
}

static clgrad_status binary_run(clgrad__ox_exec *e)
{
    bop o = bop_of(e->n->op);
    clgrad_tensor *a = NULL, *acc = NULL;
    float s;
    if (e->n->n_in == 2 && !e->in[1].h && e->in[0].h && scalar_of(&e->in[0], e->in[1].t ? clgrad_tensor_ndim(e->in[1].t) : 0, &s)) {
        /* a constant on the left: s op b */
        clgrad_tensor *b = e->in[1].t, *y = NULL;
        clgrad_status st = CLGRAD_ERR_UNSUPPORTED;
        switch (o) {
        case B_ADD: st = clgrad_add_scalar(b, s, &y); break;
        case B_MUL: st = clgrad_mul_scalar(b, s, &y); break;
        case B_SUB: st = clgrad_rsub_scalar(b, s, &y); break;
        case B_DIV: st = clgrad_rdiv_scalar(b, s, &y); break;
        case B_MAX: st = clgrad_maximum_scalar(b, s, &y); break;
        case B_MIN: st = clgrad_minimum_scalar(b, s, &y); break;
        default: break;
        }
        if (st != CLGRAD_ERR_UNSUPPORTED) {
            if (st == CLGRAD_OK) clgrad__ox_set_out(e, 0, y);
            return st;
        }
    }
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &a));
    if (e->n->n_in == 1) {
        clgrad__ox_set_out(e, 0, clgrad_tensor_retain(a));
        return CLGRAD_OK;
    }
    CLGRAD_TRY(dev_binary(e, o, 0, a, 1, &acc));
    for (int i = 2; i < e->n->n_in; i++) {
        clgrad_tensor *next = NULL;
        clgrad_status st = dev_binary(e, o, -1, acc, i, &next);
        clgrad_tensor_release(acc);
        CLGRAD_TRY(st);
        acc = next;
    }
    if (!strcmp(e->n->op, "Mean")) {
        clgrad_tensor *m = NULL;
        clgrad_status st = clgrad_mul_scalar(acc, 1.0f / (float)e->n->n_in, &m);
        clgrad_tensor_release(acc);
        CLGRAD_TRY(st);
        acc = m;
    }
    clgrad__ox_set_out(e, 0, acc);
    return CLGRAD_OK;
}

/* --- Where and Not -------------------------------------------------------------------------------- */

static clgrad_status where_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *c = clgrad__ox_in(g, n, 0), *a = clgrad__ox_in(g, n, 1), *b = clgrad__ox_in(g, n, 2), t, u;
    t = *a;
    clgrad__ox_bcast_static(a, b, &t);
    u = t;
    clgrad__ox_bcast_static(&t, c, &u);
    clgrad__ox_set_shape(clgrad__ox_out(g, n, 0), a->type, u.ndim, u.ndim >= 0 ? u.shape : NULL);
    return CLGRAD_OK;
}

static clgrad_status where_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                                const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    /* where(c, a, b) = c * a + (1 - c) * b would lose NaN and integer precision: select
     * through two broadcasts instead */
    clgrad__ox_host *ab = NULL, *cab = NULL;
    CLGRAD_TRY(host_binary(g, n, B_ADD, in[1], in[2], &ab)); /* the shape of a and b together */
    clgrad_status st = host_binary(g, n, B_ADD, ab, in[0], &cab);
    clgrad__ox_host_free(ab);
    CLGRAD_TRY(st);
    int r = cab->ndim;
    int64_t idx[CLGRAD_MAX_DIMS] = {0};
    clgrad__ox_host *y = NULL;
    st = clgrad__ox_mk(g, n, in[1]->type, r, cab->shape, &y);
    clgrad__ox_host_free(cab);
    CLGRAD_TRY(st);
    for (int64_t k = 0; k < y->n; k++) {
        int64_t j[3] = {0, 0, 0};
        for (int q = 0; q < 3; q++) {
            const clgrad__ox_host *h = in[q];
            int64_t m = 1;
            for (int d = h->ndim - 1; d >= 0; d--) {
                int od = d + (r - h->ndim);
                if (h->shape[d] != 1) j[q] += idx[od] * m;
                m *= h->shape[d];
            }
        }
        const clgrad__ox_host *src = clgrad__ox_host_geti(in[0], j[0]) ? in[1] : in[2];
        int64_t js = src == in[1] ? j[1] : j[2];
        if (y->f) y->f[k] = (float)clgrad__ox_host_get(src, js);
        else y->i[k] = clgrad__ox_host_geti(src, js);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < y->shape[d]) break;
            idx[d] = 0;
        }
    }
    *out = y;
    return CLGRAD_OK;
}

static clgrad_status where_run(clgrad__ox_exec *e)
{
    clgrad_tensor *c, *a, *b, *y = NULL;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &c));
    CLGRAD_TRY(clgrad__ox_dev(e, 1, &a));
    CLGRAD_TRY(clgrad__ox_dev(e, 2, &b));
    CLGRAD_TRY(clgrad_where(c, a, b, &y));
    clgrad__ox_set_out(e, 0, y);
    return CLGRAD_OK;
}

/* --- unary ops ------------------------------------------------------------------------------------ */

typedef enum uop { U_RELU, U_LEAKY, U_ELU, U_SIGMOID, U_TANH, U_ERF, U_GELU, U_SOFTPLUS, U_HARDSIGMOID, U_CLIP,
                   U_EXP, U_LOG, U_SQRT, U_NEG, U_ABS, U_RECIP, U_NOT, U_FLOOR, U_CEIL, U_SIGN } uop;

static const struct {
    const char *name;
    uop op;
} UOPS[] = {{"Relu", U_RELU}, {"LeakyRelu", U_LEAKY}, {"Elu", U_ELU}, {"Sigmoid", U_SIGMOID}, {"Tanh", U_TANH},
            {"Erf", U_ERF}, {"Gelu", U_GELU}, {"Softplus", U_SOFTPLUS}, {"HardSigmoid", U_HARDSIGMOID},
            {"Clip", U_CLIP}, {"Exp", U_EXP}, {"Log", U_LOG}, {"Sqrt", U_SQRT}, {"Neg", U_NEG}, {"Abs", U_ABS},
            {"Reciprocal", U_RECIP}, {"Not", U_NOT}, {"Floor", U_FLOOR}, {"Ceil", U_CEIL}, {"Sign", U_SIGN}};

static uop uop_of(const char *name)
{
    for (size_t i = 0; i < sizeof UOPS / sizeof UOPS[0]; i++)
        if (!strcmp(UOPS[i].name, name)) return UOPS[i].op;
    return U_RELU;
}

static clgrad_status unary_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    uop o = uop_of(n->op);
    clgrad__ox_same_shape(g, n);
    const clgrad__ox_value *x = clgrad__ox_in(g, n, 0);
    if (o == U_NOT) clgrad__ox_out(g, n, 0)->type = OX_BOOL;
    else if (x->type && x->type != OX_FLOAT && o != U_NEG && o != U_ABS && o != U_CLIP && o != U_RELU &&
             o != U_SIGN)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "%s of integer data is not supported", n->op);
    /* attribute defaults, in pf: LeakyRelu alpha; Elu alpha; HardSigmoid alpha, beta; Clip
     * bounds before opset 11; Gelu approximate (pi[0]) */
    switch (o) {
    case U_LEAKY: n->pf[0] = clgrad__ox_attr_float(n, "alpha", 0.01); break;
    case U_ELU: n->pf[0] = clgrad__ox_attr_float(n, "alpha", 1.0); break;
    case U_HARDSIGMOID:
        n->pf[0] = clgrad__ox_attr_float(n, "alpha", 0.2);
        n->pf[1] = clgrad__ox_attr_float(n, "beta", 0.5);
        break;
    case U_CLIP:
        n->pf[0] = clgrad__ox_attr_float(n, "min", -INFINITY);
        n->pf[1] = clgrad__ox_attr_float(n, "max", INFINITY);
        if (g->opset >= 11)
            for (int i = 1; i < n->n_in; i++) {
                const clgrad__ox_value *v = clgrad__ox_in(g, n, i);
                if (!v) continue;
                if (!v->konst || v->konst->n != 1)
                    return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "the bounds of Clip must be constants");
                n->pf[i - 1] = clgrad__ox_host_get(v->konst, 0);
            }
        break;
    case U_GELU: {
        const char *ap = clgrad__ox_attr_str(n, "approximate", "none");
        if (strcmp(ap, "none") && strcmp(ap, "tanh"))
            return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "approximate='%s'", ap);
        n->pi[0] = !strcmp(ap, "tanh");
        break;
    }
    default: break;
    }
    return CLGRAD_OK;
}

static double erf_d(double x) { return erf(x); }

static double uop_f(const clgrad__ox_node *n, uop o, double x)
{
    switch (o) {
    case U_RELU: return x > 0 ? x : (x != x ? x : 0);
    case U_LEAKY: return x > 0 ? x : x * n->pf[0];
    case U_ELU: return x > 0 ? x : n->pf[0] * expm1(x);
    case U_SIGMOID: return 1 / (1 + exp(-x));
    case U_TANH: return tanh(x);
    case U_ERF: return erf_d(x);
    case U_GELU:
        return n->pi[0] ? 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
                        : 0.5 * x * (1 + erf_d(x / sqrt(2.0)));
    case U_SOFTPLUS: return x > 20 ? x : log1p(exp(x));
    case U_HARDSIGMOID: return fmax(0, fmin(1, n->pf[0] * x + n->pf[1]));
    case U_CLIP: return x < n->pf[0] ? n->pf[0] : x > n->pf[1] ? n->pf[1] : x;
    case U_EXP: return exp(x);
    case U_LOG: return log(x);
    case U_SQRT: return sqrt(x);
    case U_NEG: return -x;
    case U_ABS: return fabs(x);
    case U_RECIP: return 1 / x;
    case U_NOT: return x == 0;
    case U_FLOOR: return floor(x);
    case U_CEIL: return ceil(x);
    case U_SIGN: return x > 0 ? 1 : x < 0 ? -1 : 0;
    }
    return x;
}

static clgrad_status unary_host(const clgrad__ox_graph *g, const clgrad__ox_node *n,
                                const clgrad__ox_host *const *in, clgrad__ox_host **out)
{
    uop o = uop_of(n->op);
    const clgrad__ox_host *x = in[0];
    CLGRAD_TRY(clgrad__ox_mk(g, n, o == U_NOT ? OX_BOOL : x->type, x->ndim, x->shape, out));
    for (int64_t k = 0; k < x->n; k++) {
        if (out[0]->f) out[0]->f[k] = (float)uop_f(n, o, x->f[k]);
        else if (o == U_NEG) out[0]->i[k] = (int64_t)(0 - (uint64_t)x->i[k]);
        else if (o == U_ABS) out[0]->i[k] = x->i[k] < 0 ? (int64_t)(0 - (uint64_t)x->i[k]) : x->i[k];
        else if (o == U_CLIP) {
            int64_t v = x->i[k];
            if ((double)v < n->pf[0]) v = clgrad__ox_d2i(n->pf[0]);
            if ((double)v > n->pf[1]) v = clgrad__ox_d2i(n->pf[1]);
            out[0]->i[k] = v;
        } else out[0]->i[k] = clgrad__ox_d2i(uop_f(n, o, (double)x->i[k]));
    }
    return CLGRAD_OK;
}

static clgrad_status unary_run(clgrad__ox_exec *e)
{
    const clgrad__ox_node *n = e->n;
    clgrad_tensor *x, *y = NULL, *t = NULL;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    clgrad_status st;
    switch (uop_of(n->op)) {
    case U_RELU: st = clgrad_relu(x, &y); break;
    case U_LEAKY: st = clgrad_leaky_relu(x, (float)n->pf[0], &y); break;
    case U_ELU: st = clgrad_elu(x, (float)n->pf[0], &y); break;
    case U_SIGMOID: st = clgrad_sigmoid(x, &y); break;
    case U_TANH: st = clgrad_tanh(x, &y); break;
    case U_ERF: st = clgrad_erf(x, &y); break;
    case U_GELU: st = clgrad_gelu(x, (int)n->pi[0], &y); break;
    case U_SOFTPLUS: st = clgrad_softplus(x, 1.0f, 20.0f, &y); break;
    case U_HARDSIGMOID:
        st = clgrad_mul_scalar(x, (float)n->pf[0], &t);
        if (st == CLGRAD_OK) st = clgrad_add_scalar(t, (float)n->pf[1], &y);
        clgrad_tensor_release(t);
        t = y;
        y = NULL;
        if (st == CLGRAD_OK) st = clgrad_clamp(t, 0.0f, 1.0f, &y);
        break;
    case U_CLIP: st = clgrad_clamp(x, (float)n->pf[0], (float)n->pf[1], &y); break;
    case U_EXP: st = clgrad_exp(x, &y); break;
    case U_LOG: st = clgrad_log(x, &y); break;
    case U_SQRT: st = clgrad_sqrt(x, &y); break;
    case U_NEG: st = clgrad_neg(x, &y); break;
    case U_ABS: st = clgrad_abs(x, &y); break;
    case U_RECIP: st = clgrad_rdiv_scalar(x, 1.0f, &y); break;
    case U_NOT: st = clgrad_rsub_scalar(x, 1.0f, &y); break;
    default:
        return clgrad__ox_fail(e->g, n, CLGRAD_ERR_UNSUPPORTED, "%s runs on the host only (constant data)", n->op);
    }
    clgrad_tensor_release(t);
    if (st == CLGRAD_OK) clgrad__ox_set_out(e, 0, y);
    return st;
}

/* --- the table -------------------------------------------------------------------------------------- */

#define BIN(name) {name, 2, 2, 1, 1, 0, binary_check, binary_host, binary_run, 0}
#define VAR(name) {name, 1, 64, 1, 1, 0, binary_check, binary_host, binary_run, 0}
#define UN(name) {name, 1, 1, 1, 1, 0, unary_check, unary_host, unary_run, 0}

const clgrad__ox_op clgrad__ox_ops_math[] = {
    BIN("Add"), BIN("Sub"), BIN("Mul"), BIN("Div"), BIN("Pow"), BIN("Equal"), BIN("Less"), BIN("Greater"),
    BIN("LessOrEqual"), BIN("GreaterOrEqual"), BIN("And"), BIN("Or"), BIN("Xor"),
    VAR("Max"), VAR("Min"), VAR("Sum"), VAR("Mean"),
    UN("Relu"), UN("LeakyRelu"), UN("Elu"), UN("Sigmoid"), UN("Tanh"), UN("Erf"), UN("Gelu"), UN("Softplus"),
    UN("HardSigmoid"), UN("Exp"), UN("Log"), UN("Sqrt"), UN("Neg"), UN("Abs"), UN("Reciprocal"), UN("Not"),
    UN("Floor"), UN("Ceil"), UN("Sign"),
    {"Clip", 1, 3, 1, 1, 0, unary_check, unary_host, unary_run, 0},
    {"Where", 3, 3, 1, 1, 0, where_check, where_host, where_run, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0},
};
