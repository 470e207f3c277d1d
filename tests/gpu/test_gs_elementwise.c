/* The elementwise, activation and copy families under both styles (vector widths 8 and 4,
 * lengths that leave a scalar tail): unary ops and activations, binary ops with broadcasting
 * on the 3-D kernels, on the 1-D eight-dim kernels (more than three dims, or more work-groups
 * than the lowered grid limit allows) and on contiguous operands, where, all forward and
 * backward; strided copies, fills and the vector copy, cat and stack with their gradients.
 * Against the plain-C references. */
#include "gs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- unary ops and activations --------------------------------------------------------------- */

typedef struct unary_case {
    const char *name;
    ref_unary_op op;
    float p0, p1, lo, hi;
} unary_case;

static const unary_case unary_cases[] = {
    {"neg", REF_UNARY_NEG, 0, 0, -2, 2},          {"exp", REF_UNARY_EXP, 0, 0, -2, 2},
    {"log", REF_UNARY_LOG, 0, 0, 0.1f, 3},        {"sqrt", REF_UNARY_SQRT, 0, 0, 0.1f, 3},
    {"rsqrt", REF_UNARY_RSQRT, 0, 0, 0.2f, 3},    {"abs", REF_UNARY_ABS, 0, 0, -2, 2},          {"clamp", REF_UNARY_CLAMP, -0.5f, 0.7f, -2, 2},
    {"relu", REF_UNARY_RELU, 0, 0, -2, 2},        {"leaky_relu", REF_UNARY_LEAKY_RELU, 0.1f, 0, -2, 2},
    {"elu", REF_UNARY_ELU, 1.0f, 0, -2, 2},       {"gelu", REF_UNARY_GELU, 0, 0, -3, 3},
    {"gelu_tanh", REF_UNARY_GELU_TANH, 0, 0, -3, 3}, {"silu", REF_UNARY_SILU, 0, 0, -3, 3},
    {"sigmoid", REF_UNARY_SIGMOID, 0, 0, -3, 3},  {"tanh", REF_UNARY_TANH, 0, 0, -3, 3},
    {"softplus", REF_UNARY_SOFTPLUS, 1.0f, 20.0f, -3, 3}, {"hardtanh", REF_UNARY_HARDTANH, -1, 1, -2, 2},
};

static clgrad_status unary_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    const unary_case *c = user;
    clgrad_tensor *x = in[0];
    switch (c->op) {
    case REF_UNARY_NEG: return clgrad_neg(x, out);
    case REF_UNARY_EXP: return clgrad_exp(x, out);
    case REF_UNARY_LOG: return clgrad_log(x, out);
    case REF_UNARY_SQRT: return clgrad_sqrt(x, out);
    case REF_UNARY_RSQRT: return clgrad_rsqrt(x, out);
    case REF_UNARY_ABS: return clgrad_abs(x, out);
    case REF_UNARY_CLAMP: return clgrad_clamp(x, c->p0, c->p1, out);
    case REF_UNARY_RELU: return clgrad_relu(x, out);
    case REF_UNARY_LEAKY_RELU: return clgrad_leaky_relu(x, c->p0, out);
    case REF_UNARY_ELU: return clgrad_elu(x, c->p0, out);
    case REF_UNARY_GELU: return clgrad_gelu(x, 0, out);
    case REF_UNARY_GELU_TANH: return clgrad_gelu(x, 1, out);
    case REF_UNARY_SILU: return clgrad_silu(x, out);
    case REF_UNARY_SIGMOID: return clgrad_sigmoid(x, out);
    case REF_UNARY_TANH: return clgrad_tanh(x, out);
    case REF_UNARY_SOFTPLUS: return clgrad_softplus(x, c->p0, c->p1, out);
    case REF_UNARY_HARDTANH: return clgrad_hardtanh(x, c->p0, c->p1, out);
    default: return CLGRAD_ERR_UNSUPPORTED;
    }
}

START_TEST(unary_ops_and_activations)
{
    gs_style(_i);
    /* 37 elements: full vectors of 4 and 8 and a scalar tail; once contiguous, once strided */
    const int64_t shape[2] = {37, 1};
    for (size_t c = 0; c < sizeof unary_cases / sizeof unary_cases[0]; c++)
        for (int strided = 0; strided < 2; strided++) {
            const unary_case *u = &unary_cases[c];
            float *h;
            clgrad_tensor *x = gs_rand(2, shape, 3 + c, u->lo, u->hi, &h);
            if (strided) th_make_noncontig(&x);
            TH_OK(clgrad_tensor_set_requires_grad(x, 1));
            float y[37], dy[37], dx[37];
            th_fill_uniform(dy, 37, 4, -1, 1);
            ref_unary_forward(u->op, u->p0, u->p1, 37, h, y);
            ref_unary_backward(u->op, u->p0, u->p1, 37, h, dy, dx);
            char what[64];
            snprintf(what, sizeof what, "%s %s%s", gs_style_name(_i), u->name, strided ? " strided" : "");
            const float *wd[1] = {dx};
            gs_check_op(what, unary_op, (void *)u, 1, &x, y, dy, wd, 1e-5, 1e-4);
            free(h);
            clgrad_tensor_release(x);
        }
}
END_TEST

/* --- binary ops and where ---------------------------------------------------------------------- */

static const struct {
    const char *name;
    ref_binary_op op;
    clgrad_status (*fn)(clgrad_tensor *, clgrad_tensor *, clgrad_tensor **);
} binary_ops[] = {{"add", REF_BINARY_ADD, clgrad_add}, {"sub", REF_BINARY_SUB, clgrad_sub},
                  {"mul", REF_BINARY_MUL, clgrad_mul}, {"div", REF_BINARY_DIV, clgrad_div},
                  {"pow", REF_BINARY_POW, clgrad_pow}, {"maximum", REF_BINARY_MAXIMUM, clgrad_maximum},
                  {"minimum", REF_BINARY_MINIMUM, clgrad_minimum}};

static clgrad_status binary_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    return binary_ops[*(const int *)user].fn(in[0], in[1], out);
}

typedef struct bcase {
    int an, bn;
    int64_t as[5], bs[5];
} bcase;

/* same shapes (the contiguous kernels), broadcasting in 2 and 3 dims (3-D kernels; planes
 * beyond the lowered grid limit go to the 1-D kernels), and in 5 dims (1-D kernels) */
static const bcase bcases[] = {
    {2, 2, {5, 9}, {5, 9}},
    {2, 1, {7, 5}, {5}},
    {3, 3, {3, 1, 6}, {1, 5, 6}},
    {3, 2, {40, 3, 5}, {3, 1}},
    {5, 3, {2, 1, 3, 2, 4}, {3, 1, 4}},
};

START_TEST(binary_ops_broadcasting)
{
    gs_style(_i);
    for (size_t c = 0; c < sizeof bcases / sizeof bcases[0]; c++)
        for (int o = 0; o < (int)(sizeof binary_ops / sizeof binary_ops[0]); o++) {
            const bcase *b = &bcases[c];
            int on;
            int64_t os[8];
            ck_assert_int_eq(ref_broadcast_shape(b->an, b->as, b->bn, b->bs, &on, os), 0);
            float *ha, *hb;
            int pw = binary_ops[o].op == REF_BINARY_POW;
            clgrad_tensor *in[2] = {gs_rand(b->an, b->as, 5 + c, pw ? 0.5f : -2, 2, &ha),
                                    gs_rand(b->bn, b->bs, 6 + c, pw ? -1.5f : 0.5f, 2, &hb)};
            TH_OK(clgrad_tensor_set_requires_grad(in[0], 1));
            TH_OK(clgrad_tensor_set_requires_grad(in[1], 1));
            size_t ny = (size_t)th_numel(on, os);
            float *y = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy);
            float *da = malloc((size_t)th_numel(b->an, b->as) * sizeof *da);
            float *db = malloc((size_t)th_numel(b->bn, b->bs) * sizeof *db);
            th_fill_uniform(dy, ny, 7, -1, 1);
            ck_assert_int_eq(ref_binary_forward(binary_ops[o].op, on, os, b->an, b->as, ha, b->bn, b->bs, hb, y), 0);
            ck_assert_int_eq(
                ref_binary_backward(binary_ops[o].op, on, os, b->an, b->as, ha, b->bn, b->bs, hb, dy, da, db), 0);
            char what[64];
            snprintf(what, sizeof what, "%s %s case %zu", gs_style_name(_i), binary_ops[o].name, c);
            const float *wd[2] = {da, db};
            gs_check_op(what, binary_op, &o, 2, in, y, dy, wd, 1e-4, 1e-4);
            free(y), free(dy), free(da), free(db), free(ha), free(hb);
            clgrad_tensor_release(in[0]);
            clgrad_tensor_release(in[1]);
        }
}
END_TEST

typedef struct where_args {
    clgrad_tensor *cond;
} where_args;

static clgrad_status where_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    return clgrad_where(((where_args *)user)->cond, in[0], in[1], out);
}

START_TEST(where_broadcasting)
{
    gs_style(_i);
    /* (condition, a, b) shapes: all equal; broadcast in 3 dims; in 4 dims */
    static const struct { int n; int64_t s[3][4]; } cases[] = {
        {2, {{4, 9}, {4, 9}, {4, 9}}}, {3, {{2, 1, 5}, {1, 3, 5}, {2, 3, 1}}}, {4, {{2, 1, 3, 1}, {1, 2, 3, 4}, {4}}}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int n = cases[c].n, bn = c == 2 ? 1 : n;
        const int64_t *cs = cases[c].s[0], *as = cases[c].s[1], *bs = cases[c].s[2];
        int on, tn;
        int64_t os[8], ts[8];
        ck_assert_int_eq(ref_broadcast_shape(n, cs, n, as, &tn, ts), 0);
        ck_assert_int_eq(ref_broadcast_shape(tn, ts, bn, bs, &on, os), 0);
        size_t nc = (size_t)th_numel(n, cs), ny = (size_t)th_numel(on, os);
        float *hc = malloc(nc * sizeof *hc), *ha, *hb;
        for (size_t i = 0; i < nc; i++) hc[i] = (float)((i * 7) % 3 == 0);
        where_args w = {th_tensor(n, cs, hc)};
        clgrad_tensor *in[2] = {gs_rand(n, as, 1, -1, 1, &ha), gs_rand(bn, bs, 2, -1, 1, &hb)};
        TH_OK(clgrad_tensor_set_requires_grad(in[0], 1));
        TH_OK(clgrad_tensor_set_requires_grad(in[1], 1));
        float *y = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy);
        float *da = malloc((size_t)th_numel(n, as) * sizeof *da), *db = malloc((size_t)th_numel(bn, bs) * sizeof *db);
        th_fill_uniform(dy, ny, 3, -1, 1);
        ck_assert_int_eq(ref_where_forward(on, os, n, cs, hc, n, as, ha, bn, bs, hb, y), 0);
        ck_assert_int_eq(ref_where_backward(on, os, n, cs, hc, n, as, bn, bs, dy, da, db), 0);
        char what[64];
        snprintf(what, sizeof what, "%s where case %zu", gs_style_name(_i), c);
        const float *wd[2] = {da, db};
        gs_check_op(what, where_op, &w, 2, in, y, dy, wd, 1e-5, 1e-4);
        free(hc), free(ha), free(hb), free(y), free(dy), free(da), free(db);
        clgrad_tensor_release(w.cond);
        clgrad_tensor_release(in[0]);
        clgrad_tensor_release(in[1]);
    }
}
END_TEST

/* --- copies, fills, cat and stack ------------------------------------------------------------- */

START_TEST(copies_and_fills)
{
    gs_style(_i);
    /* contiguous copies of 1 .. 19 elements (vector copy and its tail), a strided copy into a
     * slice, a fill of a strided view */
    for (int64_t n = 1; n < 20; n += 3) {
        float *h;
        clgrad_tensor *x = gs_rand(1, &n, 1 + (uint64_t)n, -1, 1, &h), *y = NULL;
        TH_OK(clgrad_clone(x, &y));
        float *got = th_read(y);
        th_allclose("clone", got, h, (size_t)n, 0, 0);
        free(got), free(h);
        clgrad_tensor_release(x);
        clgrad_tensor_release(y);
    }
    const int64_t big[2] = {5, 9}, part[2] = {5, 4};
    float *hb, *hp;
    clgrad_tensor *b = gs_rand(2, big, 3, -1, 1, &hb), *p = gs_rand(2, part, 4, -1, 1, &hp), *v = NULL, *t = NULL;
    TH_OK(clgrad_slice(b, 1, 2, 9, 2, &v)); /* columns 2, 4, 6, 8 */
    TH_OK(clgrad_copy_(v, p));
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 4; c++) hb[r * 9 + 2 + 2 * c] = hp[r * 4 + c];
    float *got = th_read(b);
    th_allclose("strided copy", got, hb, 45, 0, 0);
    free(got);
    TH_OK(clgrad_transpose(b, 0, 1, &t));
    TH_OK(clgrad_fill_(t, 0.5f));
    for (int i = 0; i < 45; i++) hb[i] = 0.5f;
    got = th_read(b);
    th_allclose("strided fill", got, hb, 45, 0, 0);
    free(got), free(hb), free(hp);
    clgrad_tensor_release(v), clgrad_tensor_release(t), clgrad_tensor_release(b), clgrad_tensor_release(p);
}
END_TEST

typedef struct cat_args {
    int stack, dim;
} cat_args;

static clgrad_status cat_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    const cat_args *a = user;
    return a->stack ? clgrad_stack(3, in, a->dim, out) : clgrad_cat(3, in, a->dim, out);
}

START_TEST(cat_and_stack)
{
    gs_style(_i);
    for (int stack = 0; stack < 2; stack++)
        for (int dim = 0; dim < 2; dim++) {
            /* cat along dim: widths 2, 3, 4 there; stack: three (3, 5) */
            int64_t s[3][2];
            for (int k = 0; k < 3; k++) s[k][0] = 3, s[k][1] = 5, s[k][dim] += stack ? 0 : k - 1;
            float *h[3];
            clgrad_tensor *in[3];
            for (int k = 0; k < 3; k++) {
                in[k] = gs_rand(2, s[k], 10 + (uint64_t)k, -1, 1, &h[k]);
                TH_OK(clgrad_tensor_set_requires_grad(in[k], 1));
            }
            size_t total = 0;
            for (int k = 0; k < 3; k++) total += (size_t)(s[k][0] * s[k][1]);
            float *y = malloc(total * sizeof *y), *dy = malloc(total * sizeof *dy), *dx[3];
            th_fill_uniform(dy, total, 5, -1, 1);
            /* the reference: rows of the output in order */
            size_t o = 0;
            if (stack || dim == 0) {
                for (int k = 0; k < 3; k++) {
                    size_t nk = (size_t)(s[k][0] * s[k][1]);
                    memcpy(y + o, h[k], nk * sizeof *y);
                    dx[k] = malloc(nk * sizeof *dy);
                    memcpy(dx[k], dy + o, nk * sizeof *dy);
                    o += nk;
                }
                if (stack && dim == 1) { /* (3, 3, 5) with the new dim in the middle */
                    for (int k = 0; k < 3; k++)
                        for (int r = 0; r < 3; r++)
                            for (int c = 0; c < 5; c++) {
                                y[(r * 3 + k) * 5 + c] = h[k][r * 5 + c];
                                dx[k][r * 5 + c] = dy[(r * 3 + k) * 5 + c];
                            }
                }
            } else {
                int64_t W = s[0][1] + s[1][1] + s[2][1];
                for (int k = 0; k < 3; k++) dx[k] = malloc((size_t)(s[k][0] * s[k][1]) * sizeof *dy);
                for (int r = 0; r < 3; r++) {
                    int64_t c0 = 0;
                    for (int k = 0; k < 3; k++) {
                        for (int64_t c = 0; c < s[k][1]; c++) {
                            y[r * W + c0 + c] = h[k][r * s[k][1] + c];
                            dx[k][r * s[k][1] + c] = dy[r * W + c0 + c];
                        }
                        c0 += s[k][1];
                    }
                }
            }
            cat_args a = {stack, dim};
            char what[64];
            snprintf(what, sizeof what, "%s %s dim %d", gs_style_name(_i), stack ? "stack" : "cat", dim);
            const float *wd[3] = {dx[0], dx[1], dx[2]};
            gs_check_op(what, cat_op, &a, 3, in, y, dy, wd, 0, 0);
            for (int k = 0; k < 3; k++) {
                free(h[k]), free(dx[k]);
                clgrad_tensor_release(in[k]);
            }
            free(y), free(dy);
        }
}
END_TEST

static Suite *suite_gs_elementwise(void)
{
    Suite *s = suite_create("gs_elementwise");
    TCase *t = tcase_create("elementwise");
    tcase_add_checked_fixture(t, th_setup, th_teardown);
    tcase_set_timeout(t, 600);
    tcase_add_loop_test(t, unary_ops_and_activations, 0, GS_N_STYLES);
    tcase_add_loop_test(t, binary_ops_broadcasting, 0, GS_N_STYLES);
    tcase_add_loop_test(t, where_broadcasting, 0, GS_N_STYLES);
    tcase_add_loop_test(t, copies_and_fills, 0, GS_N_STYLES);
    tcase_add_loop_test(t, cat_and_stack, 0, GS_N_STYLES);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return th_run(suite_gs_elementwise(), 1); }
