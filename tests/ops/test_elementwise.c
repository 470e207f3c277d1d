/* Elementwise ops against the plain-C references: binary arithmetic adim comparisons with
 * broadcasting of several kinds (same shape, trailing adim leading dims, size-1 dims on both
 * sides, 0-d operands, ranks that need the general strided kernel, empty tensors), strided
 * adim expanded inputs, the tensor-scalar forms, the unary ops with special values, where, adim
 * the error paths. */
#include "harness.h"
#include "ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef clgrad_status (*bin_fn)(clgrad_tensor *, clgrad_tensor *, clgrad_tensor **);

#define CMP_WRAP(name, op)                                                                         \
    static clgrad_status name(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **o)              \
    {                                                                                              \
        return clgrad_compare(a, op, b, o);                                                        \
    }
CMP_WRAP(cmp_eq, CLGRAD_CMP_EQ)
CMP_WRAP(cmp_ne, CLGRAD_CMP_NE)
CMP_WRAP(cmp_lt, CLGRAD_CMP_LT)
CMP_WRAP(cmp_le, CLGRAD_CMP_LE)
CMP_WRAP(cmp_gt, CLGRAD_CMP_GT)
CMP_WRAP(cmp_ge, CLGRAD_CMP_GE)

/* Operand ranges per op; quant: small integers so that ties adim equalities occur. */
static const struct {
    const char *name;
    bin_fn fn;
    ref_binary_op op;
    float alo, ahi, blo, bhi;
    int quant;
    double rtol;
} BIN[] = {
    {"add", clgrad_add, REF_BINARY_ADD, -2, 2, -2, 2, 0, 1e-6},
    {"sub", clgrad_sub, REF_BINARY_SUB, -2, 2, -2, 2, 0, 1e-6},
    {"mul", clgrad_mul, REF_BINARY_MUL, -2, 2, -2, 2, 0, 1e-6},
    {"div", clgrad_div, REF_BINARY_DIV, -2, 2, 0.25f, 2, 0, 2e-6},
    {"pow", clgrad_pow, REF_BINARY_POW, 0.1f, 3, -2.5f, 2.5f, 0, 1e-5},
    {"maximum", clgrad_maximum, REF_BINARY_MAXIMUM, 0, 0, 0, 0, 1, 0},
    {"minimum", clgrad_minimum, REF_BINARY_MINIMUM, 0, 0, 0, 0, 1, 0},
    {"eq", cmp_eq, REF_BINARY_EQ, 0, 0, 0, 0, 1, 0},
    {"ne", cmp_ne, REF_BINARY_NE, 0, 0, 0, 0, 1, 0},
    {"lt", cmp_lt, REF_BINARY_LT, 0, 0, 0, 0, 1, 0},
    {"le", cmp_le, REF_BINARY_LE, 0, 0, 0, 0, 1, 0},
    {"gt", cmp_gt, REF_BINARY_GT, 0, 0, 0, 0, 1, 0},
    {"ge", cmp_ge, REF_BINARY_GE, 0, 0, 0, 0, 1, 0},
};
#define N_BIN ((int)(sizeof BIN / sizeof BIN[0]))

/* n values in [lo, hi), or integers in {-1, 0, 1, 2} when quant. */
static float *gen(int64_t n, uint64_t seed, float lo, float hi, int quant)
{
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    th_fill_uniform(h, (size_t)n, seed, quant ? -1.0f : lo, quant ? 3.0f : hi);
    if (quant)
        for (int64_t i = 0; i < n; i++) h[i] = floorf(h[i]);
    return h;
}

static void check_out_shape(clgrad_tensor *y, int nd, const int64_t *shape)
{
    ck_assert_int_eq(clgrad_tensor_ndim(y), nd);
    int64_t s[CLGRAD_MAX_DIMS];
    clgrad_tensor_shape(y, s);
    for (int i = 0; i < nd; i++) ck_assert_int_eq(s[i], shape[i]);
    ck_assert_int_eq(clgrad_tensor_dtype(y), CLGRAD_DTYPE_F32);
}

/* Every binary op on operands of shapes a adim b; layout bit 0: a strided, bit 1: b strided. */
static void check_binary_case(int adim, const int64_t *ash, int bnd, const int64_t *bsh, int layout)
{
    int ond;
    int64_t osh[REF_MAX_DIMS];
    ck_assert_int_eq(ref_broadcast_shape(adim, ash, bnd, bsh, &ond, osh), 0);
    int64_t na = th_numel(adim, ash), nb = th_numel(bnd, bsh), no = th_numel(ond, osh);
    float *want = malloc((size_t)(no ? no : 1) * sizeof *want);
    for (int o = 0; o < N_BIN; o++) {
        uint64_t seed = (uint64_t)(o * 1000 + na * 7 + nb * 3 + layout);
        float *ha = gen(na, seed, BIN[o].alo, BIN[o].ahi, BIN[o].quant);
        float *hb = gen(nb, seed + 1, BIN[o].blo, BIN[o].bhi, BIN[o].quant);
        clgrad_tensor *a = th_tensor(adim, ash, ha), *b = th_tensor(bnd, bsh, hb);
        if (layout & 1) {
            th_make_noncontig(&a);
        }
        if (layout & 2) {
            th_make_noncontig(&b);
        }
        clgrad_tensor *y = NULL;
        TH_OK(BIN[o].fn(a, b, &y));
        check_out_shape(y, ond, osh);
        ck_assert_int_eq(ref_binary_forward(BIN[o].op, ond, osh, adim, ash, ha, bnd, bsh, hb, want), 0);
        float *got = th_read(y);
        char what[128];
        snprintf(what, sizeof what, "%s (a %lld elems, b %lld elems, layout %d)", BIN[o].name, (long long)na,
                 (long long)nb, layout);
        th_allclose(what, got, want, (size_t)no, 1e-6, BIN[o].rtol);
        free(got);
        free(ha);
        free(hb);
        clgrad_tensor_release(y);
        clgrad_tensor_release(a);
        clgrad_tensor_release(b);
    }
    free(want);
}

static const struct {
    int adim;
    int64_t a[6];
    int bnd;
    int64_t b[6];
} CASES[] = {
    {1, {1}, 1, {1}},
    {1, {37}, 1, {37}},           /* a prime: the vector kernel's tail */
    {2, {13, 17}, 2, {13, 17}},
    {1, {100003}, 1, {100003}},   /* many work-groups */
    {2, {4, 5}, 1, {5}},          /* trailing broadcast (bias) */
    {2, {4, 1}, 2, {1, 5}},       /* both sides expand */
    {3, {2, 3, 4}, 2, {3, 1}},    /* per-channel scale */
    {0, {0}, 2, {3, 4}},          /* 0-d operand */
    {2, {3, 4}, 0, {0}},
    {1, {1}, 2, {7, 3}},          /* one element, shape (1) */
    {3, {6, 1, 1}, 3, {1, 1, 9}},
    {4, {2, 3, 1, 5}, 1, {1}},
    {5, {2, 1, 3, 1, 5}, 4, {7, 1, 4, 5}}, /* alternating: needs more than 3 dims */
    {6, {2, 1, 2, 1, 2, 3}, 6, {1, 3, 1, 2, 1, 3}},
    {2, {0, 3}, 1, {3}},          /* empty */
};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

START_TEST(binary_ops_match_reference)
{
    for (int c = 0; c < N_CASES; c++)
        check_binary_case(CASES[c].adim, CASES[c].a, CASES[c].bnd, CASES[c].b, 0);
}
END_TEST

START_TEST(binary_ops_on_strided_inputs)
{
    for (int c = 0; c < N_CASES; c++) {
        if (th_numel(CASES[c].adim, CASES[c].a) > 5000) continue;
        for (int layout = 1; layout < 4; layout++)
            check_binary_case(CASES[c].adim, CASES[c].a, CASES[c].bnd, CASES[c].b, layout);
    }
}
END_TEST

START_TEST(binary_ops_on_expanded_views)
{
    /* a stride-0 view of (1, 5) expanded to (4, 5), adim a transposed (5, 4) view */
    int64_t s15[2] = {1, 5}, s45[2] = {4, 5}, s54[2] = {5, 4};
    float h15[5], h54[20], want[20], got[20];
    th_fill_uniform(h15, 5, 11, -1, 1);
    th_fill_uniform(h54, 20, 12, -1, 1);
    clgrad_tensor *a = th_tensor(2, s15, h15), *b = th_tensor(2, s54, h54), *ae = NULL, *bt = NULL, *y = NULL;
    TH_OK(clgrad_expand(a, 2, s45, &ae));
    TH_OK(clgrad_transpose(b, 0, 1, &bt));
    TH_OK(clgrad_mul(ae, bt, &y));
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 5; j++) want[i * 5 + j] = h15[j] * h54[j * 4 + i];
    TH_OK(clgrad_tensor_read(y, got, sizeof got));
    th_allclose("expanded * transposed", got, want, 20, 0, 0);
    clgrad_tensor_release(y);
    clgrad_tensor_release(ae);
    clgrad_tensor_release(bt);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
}
END_TEST

/* --- tensor-scalar forms ---------------------------------------------------------------------- */

typedef clgrad_status (*scal_fn)(clgrad_tensor *, float, clgrad_tensor **);
#define CMPS_WRAP(name, op)                                                                        \
    static clgrad_status name(clgrad_tensor *a, float s, clgrad_tensor **o)                       \
    {                                                                                              \
        return clgrad_compare_scalar(a, op, s, o);                                                 \
    }
CMPS_WRAP(cmps_eq, CLGRAD_CMP_EQ)
CMPS_WRAP(cmps_ne, CLGRAD_CMP_NE)
CMPS_WRAP(cmps_lt, CLGRAD_CMP_LT)
CMPS_WRAP(cmps_le, CLGRAD_CMP_LE)
CMPS_WRAP(cmps_gt, CLGRAD_CMP_GT)
CMPS_WRAP(cmps_ge, CLGRAD_CMP_GE)

static const struct {
    const char *name;
    scal_fn fn;
    ref_binary_op op;
    int swap; /* s op a */
    float lo, hi, s;
    int quant;
    double rtol;
} SCAL[] = {
    {"add_scalar", clgrad_add_scalar, REF_BINARY_ADD, 0, -2, 2, 0.75f, 0, 1e-6},
    {"mul_scalar", clgrad_mul_scalar, REF_BINARY_MUL, 0, -2, 2, -1.5f, 0, 1e-6},
    {"pow_scalar", clgrad_pow_scalar, REF_BINARY_POW, 0, 0.1f, 3, 2.5f, 0, 1e-5},
    {"pow_scalar int", clgrad_pow_scalar, REF_BINARY_POW, 0, -3, 3, 3.0f, 0, 1e-5},
    {"rsub_scalar", clgrad_rsub_scalar, REF_BINARY_SUB, 1, -2, 2, 0.5f, 0, 1e-6},
    {"rdiv_scalar", clgrad_rdiv_scalar, REF_BINARY_DIV, 1, 0.25f, 2, -3.0f, 0, 2e-6},
    {"maximum_scalar", clgrad_maximum_scalar, REF_BINARY_MAXIMUM, 0, 0, 0, 1.0f, 1, 0},
    {"minimum_scalar", clgrad_minimum_scalar, REF_BINARY_MINIMUM, 0, 0, 0, 0.0f, 1, 0},
    {"eq_scalar", cmps_eq, REF_BINARY_EQ, 0, 0, 0, 1.0f, 1, 0},
    {"ne_scalar", cmps_ne, REF_BINARY_NE, 0, 0, 0, 1.0f, 1, 0},
    {"lt_scalar", cmps_lt, REF_BINARY_LT, 0, 0, 0, 1.0f, 1, 0},
    {"le_scalar", cmps_le, REF_BINARY_LE, 0, 0, 0, 1.0f, 1, 0},
    {"gt_scalar", cmps_gt, REF_BINARY_GT, 0, 0, 0, 1.0f, 1, 0},
    {"ge_scalar", cmps_ge, REF_BINARY_GE, 0, 0, 0, 1.0f, 1, 0},
};
#define N_SCAL ((int)(sizeof SCAL / sizeof SCAL[0]))

START_TEST(scalar_forms_match_reference)
{
    static const struct {
        int nd;
        int64_t s[4];
    } shapes[] = {{0, {0}}, {1, {1}}, {1, {37}}, {3, {5, 7, 3}}, {2, {6, 11}}};
    for (int k = 0; k < N_SCAL; k++)
        for (int c = 0; c < 5; c++)
            for (int layout = 0; layout < 2; layout++) {
                int nd = shapes[c].nd;
                const int64_t *sh = shapes[c].s;
                int64_t n = th_numel(nd, sh);
                float *h = gen(n, (uint64_t)(k * 100 + c), SCAL[k].lo, SCAL[k].hi, SCAL[k].quant);
                float *want = malloc((size_t)n * sizeof *want);
                float s = SCAL[k].s;
                if (SCAL[k].swap)
                    ck_assert_int_eq(ref_binary_forward(SCAL[k].op, nd, sh, 0, NULL, &s, nd, sh, h, want), 0);
                else
                    ck_assert_int_eq(ref_binary_forward(SCAL[k].op, nd, sh, nd, sh, h, 0, NULL, &s, want), 0);
                clgrad_tensor *x = th_tensor(nd, sh, h), *y = NULL;
                if (layout) {
                    th_make_noncontig(&x);
                }
                TH_OK(SCAL[k].fn(x, s, &y));
                check_out_shape(y, nd, sh);
                float *got = th_read(y);
                char what[96];
                snprintf(what, sizeof what, "%s (shape %d, layout %d)", SCAL[k].name, c, layout);
                th_allclose(what, got, want, (size_t)n, 1e-6, SCAL[k].rtol);
                free(got);
                free(want);
                free(h);
                clgrad_tensor_release(x);
                clgrad_tensor_release(y);
            }
}
END_TEST

/* --- unary ops ------------------------------------------------------------------------------ */

typedef clgrad_status (*un_fn)(clgrad_tensor *, clgrad_tensor **);
static clgrad_status clamp_a(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_clamp(x, -0.5f, 0.7f, o); }
static clgrad_status clamp_b(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_clamp(x, 1.0f, -1.0f, o); }

static const struct {
    const char *name;
    un_fn fn;
    ref_unary_op op;
    float p0, p1, lo, hi;
    double rtol;
} UN[] = {
    {"neg", clgrad_neg, REF_UNARY_NEG, 0, 0, -3, 3, 0},
    {"exp", clgrad_exp, REF_UNARY_EXP, 0, 0, -8, 8, 4e-6},
    {"log", clgrad_log, REF_UNARY_LOG, 0, 0, 0.01f, 50, 4e-6},
    {"sqrt", clgrad_sqrt, REF_UNARY_SQRT, 0, 0, 0, 50, 4e-6},
    {"rsqrt", clgrad_rsqrt, REF_UNARY_RSQRT, 0, 0, 0.01f, 50, 4e-6},
    {"abs", clgrad_abs, REF_UNARY_ABS, 0, 0, -3, 3, 0},
    {"clamp", clamp_a, REF_UNARY_CLAMP, -0.5f, 0.7f, -2, 2, 0},
    {"clamp lo > hi", clamp_b, REF_UNARY_CLAMP, 1.0f, -1.0f, -2, 2, 0},
};
#define N_UN ((int)(sizeof UN / sizeof UN[0]))

START_TEST(unary_ops_match_reference)
{
    static const struct {
        int nd;
        int64_t s[4];
    } shapes[] = {{0, {0}}, {1, {1}}, {1, {37}}, {3, {5, 7, 3}}, {2, {6, 11}}, {1, {10007}}, {2, {0, 4}}};
    for (int k = 0; k < N_UN; k++)
        for (int c = 0; c < 7; c++)
            for (int layout = 0; layout < 2; layout++) {
                int nd = shapes[c].nd;
                const int64_t *sh = shapes[c].s;
                int64_t n = th_numel(nd, sh);
                float *h = gen(n, (uint64_t)(k * 100 + c), UN[k].lo, UN[k].hi, 0);
                float *want = malloc((size_t)(n ? n : 1) * sizeof *want);
                ref_unary_forward(UN[k].op, UN[k].p0, UN[k].p1, (size_t)n, h, want);
                clgrad_tensor *x = th_tensor(nd, sh, h), *y = NULL;
                if (layout) {
                    th_make_noncontig(&x);
                }
                TH_OK(UN[k].fn(x, &y));
                check_out_shape(y, nd, sh);
                float *got = th_read(y);
                char what[96];
                snprintf(what, sizeof what, "%s (shape %d, layout %d)", UN[k].name, c, layout);
                th_allclose(what, got, want, (size_t)n, 1e-6, UN[k].rtol);
                free(got);
                free(want);
                free(h);
                clgrad_tensor_release(x);
                clgrad_tensor_release(y);
            }
}
END_TEST

START_TEST(unary_special_values)
{
    const float nan = NAN, inf = INFINITY;
    float h[22] = {0.0f, -0.0f, -1.0f, 1.0f, inf, -inf, nan, 4.0f, 1e-30f, -2.5f, 0.7f};
    float want[22];
    int64_t n = 22;
    for (int i = 11; i < 22; i++) h[i] = h[i - 11];
    clgrad_tensor *x = th_tensor(1, &n, h);
    for (int k = 0; k < N_UN; k++) {
        clgrad_tensor *y = NULL;
        TH_OK(UN[k].fn(x, &y));
        ref_unary_forward(UN[k].op, UN[k].p0, UN[k].p1, 22, h, want);
        float *got = th_read(y);
        th_allclose(UN[k].name, got, want, 22, 1e-6, 4e-6);
        free(got);
        clgrad_tensor_release(y);
    }
    clgrad_tensor_release(x);
}
END_TEST

START_TEST(division_and_maximum_special_values)
{
    const float nan = NAN, inf = INFINITY;
    /* 4 copies, so that both the vector body and the scalar tail see every pair */
    float ha[24] = {1.0f, -1.0f, 0.0f, nan, 2.0f, inf};
    float hb[24] = {0.0f, 0.0f, 0.0f, 1.0f, nan, 1.0f};
    float want[24], got[24];
    int64_t n = 24;
    for (int i = 6; i < 24; i++) {
        ha[i] = ha[i % 6];
        hb[i] = hb[i % 6];
    }
    clgrad_tensor *a = th_tensor(1, &n, ha), *b = th_tensor(1, &n, hb);
    for (int o = 0; o < N_BIN; o++) {
        clgrad_tensor *y = NULL;
        TH_OK(BIN[o].fn(a, b, &y));
        ref_binary_forward(BIN[o].op, 1, &n, 1, &n, ha, 1, &n, hb, want);
        TH_OK(clgrad_tensor_read(y, got, sizeof got));
        th_allclose(BIN[o].name, got, want, 24, 1e-6, 1e-5);
        clgrad_tensor_release(y);
    }
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
}
END_TEST

/* --- where ---------------------------------------------------------------------------------- */

static void check_where(int cnd, const int64_t *cs, int adim, const int64_t *as, int bnd, const int64_t *bs, int layout)
{
    int n1, ond;
    int64_t s1[REF_MAX_DIMS], os[REF_MAX_DIMS];
    ck_assert_int_eq(ref_broadcast_shape(cnd, cs, adim, as, &n1, s1), 0);
    ck_assert_int_eq(ref_broadcast_shape(n1, s1, bnd, bs, &ond, os), 0);
    int64_t nc = th_numel(cnd, cs), na = th_numel(adim, as), nb = th_numel(bnd, bs), no = th_numel(ond, os);
    float *hc = gen(nc, 1 + (uint64_t)no, 0, 0, 1), *ha = gen(na, 2, -1, 1, 0), *hb = gen(nb, 3, 5, 6, 0);
    if (nc > 1) hc[1] = NAN; /* NaN counts as true */
    float *want = malloc((size_t)(no ? no : 1) * sizeof *want);
    ck_assert_int_eq(ref_where_forward(ond, os, cnd, cs, hc, adim, as, ha, bnd, bs, hb, want), 0);
    clgrad_tensor *t[3] = {th_tensor(cnd, cs, hc), th_tensor(adim, as, ha), th_tensor(bnd, bs, hb)};
    for (int i = 0; i < 3; i++)
        if (layout >> i & 1) {
            th_make_noncontig(&t[i]);
        }
    clgrad_tensor *y = NULL;
    TH_OK(clgrad_where(t[0], t[1], t[2], &y));
    check_out_shape(y, ond, os);
    float *got = th_read(y);
    char what[64];
    snprintf(what, sizeof what, "where (%lld elems, layout %d)", (long long)no, layout);
    th_allclose(what, got, want, (size_t)no, 0, 0);
    free(got);
    free(want);
    free(hc);
    free(ha);
    free(hb);
    for (int i = 0; i < 3; i++) clgrad_tensor_release(t[i]);
    clgrad_tensor_release(y);
}

START_TEST(where_matches_reference)
{
    int64_t s37[1] = {37}, s45[2] = {4, 5}, s41[2] = {4, 1}, s15[2] = {1, 5}, s5[1] = {5};
    int64_t a5[5] = {2, 1, 3, 1, 5}, b4[4] = {7, 1, 4, 5}, c3[3] = {3, 1, 1};
    for (int layout = 0; layout < 8; layout++) {
        check_where(1, s37, 1, s37, 1, s37, layout);
        check_where(2, s45, 2, s45, 2, s45, layout);
        check_where(2, s41, 2, s15, 0, NULL, layout);
        check_where(1, s5, 2, s41, 2, s45, layout);
        check_where(3, c3, 5, a5, 4, b4, layout);
    }
}
END_TEST

/* Broadcasts whose 3-D launch would need more than 65535 work-groups in dim 1 (NVIDIA's grid
 * limit) take the 1-D kernels: forward, backward and where must still be right there. */
START_TEST(many_rows_take_the_1d_kernels)
{
    int64_t ash[2] = {70001, 64}, bsh[1] = {64};
    check_binary_case(2, ash, 1, bsh, 0);
    check_where(2, ash, 2, ash, 1, bsh, 0);
    int64_t n = 70001 * 64;
    float *ha = gen(n, 77, -1, 1, 0), *hb = gen(64, 78, -1, 1, 0), *ones = malloc((size_t)n * sizeof *ones);
    for (int64_t i = 0; i < n; i++) ones[i] = 1.0f;
    clgrad_tensor *a = th_tensor(2, ash, ha), *b = th_tensor(1, bsh, hb), *g = th_tensor(2, ash, ones), *y = NULL;
    TH_OK(clgrad_tensor_set_requires_grad(a, 1));
    TH_OK(clgrad_mul(a, b, &y));
    TH_OK(clgrad_backward_ex(y, g, 0));
    float *da = th_read(clgrad_tensor_grad(a));
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(da[i] == hb[i % 64], "da[%lld] = %g, want %g", (long long)i, da[i], hb[i % 64]);
    free(da);
    free(ha);
    free(hb);
    free(ones);
    clgrad_tensor_release(y);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
    clgrad_tensor_release(g);
}
END_TEST

/* --- errors --------------------------------------------------------------------------------- */

static void expect_fail(clgrad_status got, clgrad_status want, const char *needle1, const char *needle2)
{
    ck_assert_msg(got == want, "got %s, want %s", clgrad_status_name(got), clgrad_status_name(want));
    const char *msg = clgrad_last_error(th_ctx);
    if (needle1) ck_assert_msg(strstr(msg, needle1) != NULL, "message \"%s\" lacks \"%s\"", msg, needle1);
    if (needle2) ck_assert_msg(strstr(msg, needle2) != NULL, "message \"%s\" lacks \"%s\"", msg, needle2);
}

START_TEST(errors_are_reported)
{
    int64_t s34[2] = {3, 4}, s5[1] = {5}, s2[1] = {2};
    clgrad_tensor *a = th_rand(2, s34, 1, -1, 1), *b = th_rand(1, s5, 2, -1, 1), *i32 = NULL;
    clgrad_tensor *sentinel = a, *y = sentinel;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, 2, s34, &i32));

    for (int o = 0; o < N_BIN; o++) {
        y = sentinel;
        expect_fail(BIN[o].fn(a, b, &y), CLGRAD_ERR_SHAPE, "[3, 4]", "[5]");
        ck_assert_ptr_null(y);
        y = sentinel;
        expect_fail(BIN[o].fn(a, i32, &y), CLGRAD_ERR_INVALID_ARG, "i32", NULL);
        ck_assert_ptr_null(y);
        y = sentinel;
        expect_fail(BIN[o].fn(NULL, a, &y), CLGRAD_ERR_INVALID_ARG, NULL, NULL);
        ck_assert_ptr_null(y);
        expect_fail(BIN[o].fn(a, NULL, &y), CLGRAD_ERR_INVALID_ARG, NULL, NULL);
        expect_fail(BIN[o].fn(a, a, NULL), CLGRAD_ERR_INVALID_ARG, NULL, NULL);
    }
    for (int k = 0; k < N_UN; k++) {
        y = sentinel;
        expect_fail(UN[k].fn(i32, &y), CLGRAD_ERR_INVALID_ARG, "i32", NULL);
        ck_assert_ptr_null(y);
        expect_fail(UN[k].fn(NULL, &y), CLGRAD_ERR_INVALID_ARG, NULL, NULL);
        expect_fail(UN[k].fn(a, NULL), CLGRAD_ERR_INVALID_ARG, NULL, NULL);
    }
    for (int k = 0; k < N_SCAL; k++) {
        expect_fail(SCAL[k].fn(i32, 1.0f, &y), CLGRAD_ERR_INVALID_ARG, "i32", NULL);
        expect_fail(SCAL[k].fn(NULL, 1.0f, &y), CLGRAD_ERR_INVALID_ARG, NULL, NULL);
        expect_fail(SCAL[k].fn(a, 1.0f, NULL), CLGRAD_ERR_INVALID_ARG, NULL, NULL);
    }
    y = sentinel;
    expect_fail(clgrad_compare(a, (clgrad_cmp)17, a, &y), CLGRAD_ERR_INVALID_ARG, "17", NULL);
    ck_assert_ptr_null(y);
    expect_fail(clgrad_compare_scalar(a, (clgrad_cmp)-1, 0.0f, &y), CLGRAD_ERR_INVALID_ARG, NULL, NULL);

    /* where: all three shapes named; i32 mask rejected */
    clgrad_tensor *c2 = th_rand(1, s2, 3, -1, 1);
    y = sentinel;
    expect_fail(clgrad_where(c2, a, a, &y), CLGRAD_ERR_SHAPE, "[2]", "[3, 4]");
    ck_assert_ptr_null(y);
    expect_fail(clgrad_where(a, a, b, &y), CLGRAD_ERR_SHAPE, "[5]", "[3, 4]");
    expect_fail(clgrad_where(i32, a, a, &y), CLGRAD_ERR_INVALID_ARG, "i32", NULL);
    expect_fail(clgrad_where(NULL, a, a, &y), CLGRAD_ERR_INVALID_ARG, NULL, NULL);
    expect_fail(clgrad_where(a, a, a, NULL), CLGRAD_ERR_INVALID_ARG, NULL, NULL);

    clgrad_tensor_release(c2);
    clgrad_tensor_release(i32);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
}
END_TEST

START_TEST(comparisons_are_not_differentiable)
{
    int64_t s[1] = {9};
    clgrad_tensor *a = th_rand(1, s, 1, -1, 1), *y = NULL, *z = NULL;
    TH_OK(clgrad_tensor_set_requires_grad(a, 1));
    TH_OK(clgrad_compare(a, CLGRAD_CMP_GT, a, &y));
    TH_OK(clgrad_compare_scalar(a, CLGRAD_CMP_LT, 0.0f, &z));
    ck_assert_int_eq(clgrad_tensor_requires_grad(y), 0);
    ck_assert_int_eq(clgrad_tensor_requires_grad(z), 0);
    clgrad_tensor_release(y);
    clgrad_tensor_release(z);
    clgrad_tensor_release(a);
}
END_TEST

static Suite *suite_ops_elementwise(void)
{
    Suite *s = suite_create("ops_elementwise");
    TCase *tc = tcase_create("elementwise");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, binary_ops_match_reference);
    tcase_add_test(tc, binary_ops_on_strided_inputs);
    tcase_add_test(tc, binary_ops_on_expanded_views);
    tcase_add_test(tc, scalar_forms_match_reference);
    tcase_add_test(tc, unary_ops_match_reference);
    tcase_add_test(tc, unary_special_values);
    tcase_add_test(tc, division_and_maximum_special_values);
    tcase_add_test(tc, where_matches_reference);
    tcase_add_test(tc, many_rows_take_the_1d_kernels);
    tcase_add_test(tc, errors_are_reported);
    tcase_add_test(tc, comparisons_are_not_differentiable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_ops_elementwise(), 1); }
