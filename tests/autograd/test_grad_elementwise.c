/* Gradients of the elementwise ops: finite-difference checks (th_gradcheck) of every
 * differentiable op, with broadcasting of several kinds, strided inputs and 0-d operands, and
 * exact comparisons of the backward kernels against the references, including the points a
 * finite difference cannot check (ties of maximum/minimum, abs at 0, clamp at its bounds). */
#include "harness.h"
#include "ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef clgrad_status (*bin_fn)(clgrad_tensor *, clgrad_tensor *, clgrad_tensor **);

/* Values on a grid of 0.1 plus shift: operands with different shifts never tie. */
static clgrad_tensor *grid(int nd, const int64_t *s, uint64_t seed, float shift)
{
    int64_t n = th_numel(nd, s);
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    th_fill_uniform(h, (size_t)n, seed, -1.0f, 1.0f);
    for (int64_t i = 0; i < n; i++) h[i] = roundf(h[i] * 10.0f) / 10.0f + shift;
    clgrad_tensor *t = th_tensor(nd, s, h);
    free(h);
    return t;
}

static clgrad_tensor *leaf(clgrad_tensor *t)
{
    TH_OK(clgrad_tensor_set_requires_grad(t, 1));
    return t;
}

static clgrad_status call_bin(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    return ((bin_fn)user)(in[0], in[1], out);
}

static const struct {
    const char *name;
    bin_fn fn;
    ref_binary_op op;
    float alo, ahi, blo, bhi;
} BIN[] = {
    {"add", clgrad_add, REF_BINARY_ADD, -2, 2, -2, 2},
    {"sub", clgrad_sub, REF_BINARY_SUB, -2, 2, -2, 2},
    {"mul", clgrad_mul, REF_BINARY_MUL, -2, 2, -2, 2},
    {"div", clgrad_div, REF_BINARY_DIV, -2, 2, 0.5f, 2},
    {"pow", clgrad_pow, REF_BINARY_POW, 0.5f, 2, -2, 2},
    {"maximum", clgrad_maximum, REF_BINARY_MAXIMUM, 0, 0, 0, 0}, /* grid data */
    {"minimum", clgrad_minimum, REF_BINARY_MINIMUM, 0, 0, 0, 0},
};
#define N_BIN ((int)(sizeof BIN / sizeof BIN[0]))

static const struct {
    int an;
    int64_t a[5];
    int bn;
    int64_t b[5];
} CASES[] = {
    {2, {3, 4}, 2, {3, 4}},
    {2, {3, 4}, 1, {4}},          /* trailing broadcast */
    {1, {4}, 2, {3, 4}},
    {2, {3, 1}, 2, {1, 5}},       /* both expand */
    {3, {2, 1, 3}, 2, {4, 1}},    /* leading dims */
    {2, {2, 3}, 0, {0}},          /* 0-d operand */
    {0, {0}, 1, {5}},
    {5, {2, 1, 2, 1, 3}, 4, {2, 1, 2, 3}}, /* rank > 3 after merging */
};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

static clgrad_tensor *operand(int o, int which, int nd, const int64_t *s, uint64_t seed)
{
    if (BIN[o].alo == BIN[o].ahi) return grid(nd, s, seed, which ? 0.08f : 0.03f);
    return th_rand(nd, s, seed, which ? BIN[o].blo : BIN[o].alo, which ? BIN[o].bhi : BIN[o].ahi);
}

START_TEST(binary_ops_gradcheck)
{
    for (int o = 0; o < N_BIN; o++)
        for (int c = 0; c < N_CASES; c++)
            for (int layout = 0; layout < 2; layout++) {
                clgrad_tensor *in[2] = {operand(o, 0, CASES[c].an, CASES[c].a, (uint64_t)(o * 10 + c)),
                                        operand(o, 1, CASES[c].bn, CASES[c].b, (uint64_t)(o * 10 + c + 5))};
                if (layout)
                    for (int i = 0; i < 2; i++) {
                        th_make_noncontig(&in[i]);
                    }
                leaf(in[0]);
                leaf(in[1]);
                char what[64];
                snprintf(what, sizeof what, "%s case %d layout %d", BIN[o].name, c, layout);
                th_gradcheck(what, call_bin, 2, in, (void *)BIN[o].fn, 1e-3, 2e-3, 1e-2);
                clgrad_tensor_release(in[0]);
                clgrad_tensor_release(in[1]);
            }
}
END_TEST

/* Only one operand requiring grad: the other gets none and nothing breaks. */
START_TEST(binary_ops_one_side)
{
    int64_t s34[2] = {3, 4}, s4[1] = {4};
    for (int o = 0; o < N_BIN; o++)
        for (int side = 0; side < 2; side++) {
            clgrad_tensor *in[2] = {operand(o, 0, 2, s34, 1), operand(o, 1, 1, s4, 2)};
            leaf(in[side]);
            th_gradcheck(BIN[o].name, call_bin, 2, in, (void *)BIN[o].fn, 1e-3, 2e-3, 1e-2);
            ck_assert_ptr_null(clgrad_tensor_grad(in[1 - side]));
            clgrad_tensor_release(in[0]);
            clgrad_tensor_release(in[1]);
        }
}
END_TEST

/* Backward kernels against ref_binary_backward, with ties (small-integer data) and broadcasting. */
START_TEST(binary_backward_matches_reference)
{
    for (int o = 0; o < N_BIN; o++)
        for (int c = 0; c < N_CASES; c++) {
            int an = CASES[c].an, bn = CASES[c].bn, on;
            const int64_t *as = CASES[c].a, *bs = CASES[c].b;
            int64_t os[REF_MAX_DIMS];
            ck_assert_int_eq(ref_broadcast_shape(an, as, bn, bs, &on, os), 0);
            int64_t na = th_numel(an, as), nb = th_numel(bn, bs), no = th_numel(on, os);
            float *ha = malloc((size_t)na * 4), *hb = malloc((size_t)nb * 4), *dy = malloc((size_t)no * 4);
            float *wa = malloc((size_t)na * 4), *wb = malloc((size_t)nb * 4);
            int ties = BIN[o].op == REF_BINARY_MAXIMUM || BIN[o].op == REF_BINARY_MINIMUM;
            th_fill_uniform(ha, (size_t)na, (uint64_t)c, ties ? -1 : BIN[o].alo, ties ? 2 : BIN[o].ahi);
            th_fill_uniform(hb, (size_t)nb, (uint64_t)c + 9, ties ? -1 : BIN[o].blo, ties ? 2 : BIN[o].bhi);
            if (ties) {
                for (int64_t i = 0; i < na; i++) ha[i] = floorf(ha[i]);
                for (int64_t i = 0; i < nb; i++) hb[i] = floorf(hb[i]);
            }
            th_fill_uniform(dy, (size_t)no, 5, -1, 1);
            ck_assert_int_eq(ref_binary_backward(BIN[o].op, on, os, an, as, ha, bn, bs, hb, dy, wa, wb), 0);
            clgrad_tensor *a = leaf(th_tensor(an, as, ha)), *b = leaf(th_tensor(bn, bs, hb));
            clgrad_tensor *y = NULL, *g = th_tensor(on, os, dy);
            TH_OK(BIN[o].fn(a, b, &y));
            TH_OK(clgrad_backward_ex(y, g, 0));
            float *ga = th_read(clgrad_tensor_grad(a)), *gb = th_read(clgrad_tensor_grad(b));
            char what[64];
            snprintf(what, sizeof what, "%s case %d: da", BIN[o].name, c);
            th_allclose(what, ga, wa, (size_t)na, 1e-5, 1e-5);
            snprintf(what, sizeof what, "%s case %d: db", BIN[o].name, c);
            th_allclose(what, gb, wb, (size_t)nb, 1e-5, 1e-5);
            free(ga);
            free(gb);
            free(ha);
            free(hb);
            free(dy);
            free(wa);
            free(wb);
            clgrad_tensor_release(y);
            clgrad_tensor_release(g);
            clgrad_tensor_release(a);
            clgrad_tensor_release(b);
        }
}
END_TEST

START_TEST(pow_edge_gradients)
{
    /* PyTorch's conventions: d/da 0 where b == 0; d/db 0 where a == 0 and b >= 0 */
    float ha[4] = {0.0f, 0.0f, 2.0f, 1.5f}, hb[4] = {2.0f, 0.0f, 0.0f, 3.0f}, dy[4] = {1, 1, 1, 1};
    float wa[4], wb[4];
    int64_t n = 4;
    ref_binary_backward(REF_BINARY_POW, 1, &n, 1, &n, ha, 1, &n, hb, dy, wa, wb);
    clgrad_tensor *a = leaf(th_tensor(1, &n, ha)), *b = leaf(th_tensor(1, &n, hb)), *y = NULL;
    clgrad_tensor *g = th_tensor(1, &n, dy);
    TH_OK(clgrad_pow(a, b, &y));
    TH_OK(clgrad_backward_ex(y, g, 0));
    float *ga = th_read(clgrad_tensor_grad(a)), *gb = th_read(clgrad_tensor_grad(b));
    th_allclose("pow da", ga, wa, 4, 1e-6, 1e-5);
    th_allclose("pow db", gb, wb, 4, 1e-6, 1e-5);
    free(ga);
    free(gb);
    clgrad_tensor_release(y);
    clgrad_tensor_release(g);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
}
END_TEST

/* --- scalar forms and unary ops --------------------------------------------------------------- */

typedef clgrad_status (*scal_fn)(clgrad_tensor *, float, clgrad_tensor **);
typedef struct scal_case {
    scal_fn fn;
    float s;
} scal_case;

static clgrad_status call_scal(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    const scal_case *c = user;
    return c->fn(in[0], c->s, out);
}

START_TEST(scalar_forms_gradcheck)
{
    static const struct {
        const char *name;
        scal_case c;
        float lo, hi;
    } S[] = {
        {"add_scalar", {clgrad_add_scalar, 0.5f}, -2, 2},   {"mul_scalar", {clgrad_mul_scalar, -1.5f}, -2, 2},
        {"pow_scalar", {clgrad_pow_scalar, 2.5f}, 0.5f, 2}, {"pow_scalar 3", {clgrad_pow_scalar, 3.0f}, -2, 2},
        {"pow_scalar 0", {clgrad_pow_scalar, 0.0f}, -2, 2}, {"rsub_scalar", {clgrad_rsub_scalar, 0.5f}, -2, 2},
        {"rdiv_scalar", {clgrad_rdiv_scalar, -3.0f}, 0.5f, 2},
        {"maximum_scalar", {clgrad_maximum_scalar, 0.05f}, 0, 0},
        {"minimum_scalar", {clgrad_minimum_scalar, 0.05f}, 0, 0},
    };
    int64_t shapes[2][3] = {{3, 5, 1}, {7, 1, 1}};
    for (size_t k = 0; k < sizeof S / sizeof S[0]; k++)
        for (int c = 0; c < 2; c++)
            for (int layout = 0; layout < 2; layout++) {
                int nd = c ? 1 : 3;
                clgrad_tensor *x = S[k].lo == S[k].hi ? grid(nd, shapes[c], k, 0.03f)
                                                      : th_rand(nd, shapes[c], k, S[k].lo, S[k].hi);
                if (layout) {
                    th_make_noncontig(&x);
                }
                leaf(x);
                th_gradcheck(S[k].name, call_scal, 1, &x, (void *)&S[k].c, 1e-3, 2e-3, 1e-2);
                clgrad_tensor_release(x);
            }
}
END_TEST

typedef clgrad_status (*un_fn)(clgrad_tensor *, clgrad_tensor **);
static clgrad_status clamp_a(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_clamp(x, -0.45f, 0.65f, o); }
static clgrad_status call_un(clgrad_tensor **in, void *user, clgrad_tensor **out) { return ((un_fn)user)(in[0], out); }

static const struct {
    const char *name;
    un_fn fn;
    ref_unary_op op;
    float p0, p1, lo, hi;
    int use_grid; /* keep away from 0 and the clamp bounds */
} UN[] = {
    {"neg", clgrad_neg, REF_UNARY_NEG, 0, 0, -2, 2, 0},
    {"exp", clgrad_exp, REF_UNARY_EXP, 0, 0, -2, 2, 0},
    {"log", clgrad_log, REF_UNARY_LOG, 0, 0, 0.3f, 3, 0},
    {"sqrt", clgrad_sqrt, REF_UNARY_SQRT, 0, 0, 0.3f, 3, 0},
    {"rsqrt", clgrad_rsqrt, REF_UNARY_RSQRT, 0, 0, 0.3f, 3, 0},
    {"abs", clgrad_abs, REF_UNARY_ABS, 0, 0, 0, 0, 1},
    {"clamp", clamp_a, REF_UNARY_CLAMP, -0.45f, 0.65f, 0, 0, 1},
};
#define N_UN ((int)(sizeof UN / sizeof UN[0]))

START_TEST(unary_ops_gradcheck)
{
    int64_t s[3] = {2, 3, 5};
    for (int k = 0; k < N_UN; k++)
        for (int layout = 0; layout < 2; layout++) {
            clgrad_tensor *x = UN[k].use_grid ? grid(3, s, (uint64_t)k, 0.03f) : th_rand(3, s, (uint64_t)k, UN[k].lo, UN[k].hi);
            if (layout) {
                th_make_noncontig(&x);
            }
            leaf(x);
            th_gradcheck(UN[k].name, call_un, 1, &x, (void *)UN[k].fn, 1e-3, 2e-3, 1e-2);
            clgrad_tensor_release(x);
        }
}
END_TEST

START_TEST(unary_backward_matches_reference)
{
    /* includes 0 (abs), the clamp bounds themselves and values past them */
    float h[12] = {0.0f, -0.45f, 0.65f, 0.3f, -0.7f, 1.9f, 0.9f, 2.5f, 0.01f, 1.0f, 0.2f, 3.0f};
    float dy[12], want[12];
    int64_t n = 12;
    th_fill_uniform(dy, 12, 3, -1, 1);
    for (int k = 0; k < N_UN; k++) {
        float hx[12];
        for (int i = 0; i < 12; i++) hx[i] = (UN[k].lo > 0 && h[i] <= 0) ? 0.5f : h[i];
        ref_unary_backward(UN[k].op, UN[k].p0, UN[k].p1, 12, hx, dy, want);
        clgrad_tensor *x = leaf(th_tensor(1, &n, hx)), *g = th_tensor(1, &n, dy), *y = NULL;
        TH_OK(UN[k].fn(x, &y));
        TH_OK(clgrad_backward_ex(y, g, 0));
        float *got = th_read(clgrad_tensor_grad(x));
        th_allclose(UN[k].name, got, want, 12, 1e-6, 1e-5);
        free(got);
        clgrad_tensor_release(y);
        clgrad_tensor_release(g);
        clgrad_tensor_release(x);
    }
}
END_TEST

/* --- where ---------------------------------------------------------------------------------- */

static clgrad_status call_where(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    (void)user;
    return clgrad_where(in[0], in[1], in[2], out);
}

START_TEST(where_gradcheck)
{
    static const struct {
        int cn, an, bn;
        int64_t c[4], a[4], b[4];
    } W[] = {
        {2, 2, 2, {3, 4}, {3, 4}, {3, 4}},
        {2, 2, 0, {3, 1}, {1, 4}, {0}},
        {1, 3, 2, {4}, {2, 3, 1}, {3, 4}},
        {4, 4, 4, {2, 1, 2, 1}, {1, 2, 1, 3}, {2, 2, 1, 1}},
    };
    for (size_t k = 0; k < sizeof W / sizeof W[0]; k++) {
        int64_t nc = th_numel(W[k].cn, W[k].c);
        float *hc = malloc((size_t)nc * sizeof *hc);
        th_fill_uniform(hc, (size_t)nc, k, -1, 1);
        for (int64_t i = 0; i < nc; i++) hc[i] = hc[i] > 0 ? 1.0f : 0.0f;
        clgrad_tensor *in[3] = {th_tensor(W[k].cn, W[k].c, hc), leaf(th_rand(W[k].an, W[k].a, k + 1, -1, 1)),
                                leaf(th_rand(W[k].bn, W[k].b, k + 2, -1, 1))};
        char what[32];
        snprintf(what, sizeof what, "where case %zu", k);
        th_gradcheck(what, call_where, 3, in, NULL, 1e-3, 2e-3, 1e-2);
        ck_assert_ptr_null(clgrad_tensor_grad(in[0]));
        for (int i = 0; i < 3; i++) clgrad_tensor_release(in[i]);
        free(hc);
    }
}
END_TEST

START_TEST(where_backward_matches_reference)
{
    int64_t cs[2] = {3, 1}, as[2] = {1, 4}, os[2] = {3, 4};
    float hc[3] = {1.0f, 0.0f, NAN}, ha[4], dy[12], wa[4], wb[1];
    float hb = 0.5f;
    th_fill_uniform(ha, 4, 1, -1, 1);
    th_fill_uniform(dy, 12, 2, -1, 1);
    ck_assert_int_eq(ref_where_backward(2, os, 2, cs, hc, 2, as, 0, NULL, dy, wa, wb), 0);
    clgrad_tensor *c = th_tensor(2, cs, hc), *a = leaf(th_tensor(2, as, ha)), *b = leaf(th_tensor(0, NULL, &hb));
    clgrad_tensor *y = NULL, *g = th_tensor(2, os, dy);
    TH_OK(clgrad_where(c, a, b, &y));
    TH_OK(clgrad_backward_ex(y, g, 0));
    float *ga = th_read(clgrad_tensor_grad(a)), *gb = th_read(clgrad_tensor_grad(b));
    th_allclose("where da", ga, wa, 4, 1e-6, 1e-6);
    th_allclose("where db", gb, wb, 1, 1e-6, 1e-6);
    free(ga);
    free(gb);
    clgrad_tensor_release(y);
    clgrad_tensor_release(g);
    clgrad_tensor_release(c);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
}
END_TEST

/* x * x: both operand slots of one node feed the same leaf. */
START_TEST(same_tensor_on_both_sides)
{
    int64_t s[1] = {6};
    clgrad_tensor *x = leaf(th_rand(1, s, 3, -2, 2));
    clgrad_tensor *in[2] = {x, x};
    th_gradcheck("x * x", call_bin, 2, in, (void *)clgrad_mul, 1e-3, 2e-3, 1e-2);
    clgrad_tensor_release(x);
}
END_TEST

static Suite *suite_autograd_grad_elementwise(void)
{
    Suite *s = suite_create("autograd_grad_elementwise");
    TCase *tc = tcase_create("grad_elementwise");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, binary_ops_gradcheck);
    tcase_add_test(tc, binary_ops_one_side);
    tcase_add_test(tc, binary_backward_matches_reference);
    tcase_add_test(tc, pow_edge_gradients);
    tcase_add_test(tc, scalar_forms_gradcheck);
    tcase_add_test(tc, unary_ops_gradcheck);
    tcase_add_test(tc, unary_backward_matches_reference);
    tcase_add_test(tc, where_gradcheck);
    tcase_add_test(tc, where_backward_matches_reference);
    tcase_add_test(tc, same_tensor_on_both_sides);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_autograd_grad_elementwise(), 1); }
