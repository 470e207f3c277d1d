/* Activations against the plain-C references, forward and backward (the backward kernels
 * through clgrad_backward_ex, including the points where PyTorch picks a one-sided
 * derivative: relu at 0, hardtanh at its bounds), on contiguous and strided inputs of shapes
 * with 1, primes and tails of the vector width; special values; the error paths. */
#include "harness.h"
#include "ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef clgrad_status (*act_fn)(clgrad_tensor *, float, float, clgrad_tensor **);

static clgrad_status a_relu(clgrad_tensor *x, float p0, float p1, clgrad_tensor **o) { (void)p0, (void)p1; return clgrad_relu(x, o); }
static clgrad_status a_leaky(clgrad_tensor *x, float p0, float p1, clgrad_tensor **o) { (void)p1; return clgrad_leaky_relu(x, p0, o); }
static clgrad_status a_elu(clgrad_tensor *x, float p0, float p1, clgrad_tensor **o) { (void)p1; return clgrad_elu(x, p0, o); }
static clgrad_status a_gelu(clgrad_tensor *x, float p0, float p1, clgrad_tensor **o) { (void)p0, (void)p1; return clgrad_gelu(x, 0, o); }
static clgrad_status a_gelu_t(clgrad_tensor *x, float p0, float p1, clgrad_tensor **o) { (void)p0, (void)p1; return clgrad_gelu(x, 1, o); }
static clgrad_status a_silu(clgrad_tensor *x, float p0, float p1, clgrad_tensor **o) { (void)p0, (void)p1; return clgrad_silu(x, o); }
static clgrad_status a_sigmoid(clgrad_tensor *x, float p0, float p1, clgrad_tensor **o) { (void)p0, (void)p1; return clgrad_sigmoid(x, o); }
static clgrad_status a_tanh(clgrad_tensor *x, float p0, float p1, clgrad_tensor **o) { (void)p0, (void)p1; return clgrad_tanh(x, o); }
static clgrad_status a_softplus(clgrad_tensor *x, float p0, float p1, clgrad_tensor **o) { return clgrad_softplus(x, p0, p1, o); }
static clgrad_status a_hardtanh(clgrad_tensor *x, float p0, float p1, clgrad_tensor **o) { return clgrad_hardtanh(x, p0, p1, o); }

static const struct {
    const char *name;
    act_fn fn;
    ref_unary_op op;
    float p0, p1;
} ACT[] = {
    {"relu", a_relu, REF_UNARY_RELU, 0, 0},
    {"leaky_relu", a_leaky, REF_UNARY_LEAKY_RELU, 0.07f, 0},
    {"elu", a_elu, REF_UNARY_ELU, 1.3f, 0},
    {"gelu", a_gelu, REF_UNARY_GELU, 0, 0},
    {"gelu_tanh", a_gelu_t, REF_UNARY_GELU_TANH, 0, 0},
    {"silu", a_silu, REF_UNARY_SILU, 0, 0},
    {"sigmoid", a_sigmoid, REF_UNARY_SIGMOID, 0, 0},
    {"tanh", a_tanh, REF_UNARY_TANH, 0, 0},
    {"softplus", a_softplus, REF_UNARY_SOFTPLUS, 1.0f, 20.0f},
    {"softplus beta 2 threshold 5", a_softplus, REF_UNARY_SOFTPLUS, 2.0f, 5.0f},
    {"hardtanh", a_hardtanh, REF_UNARY_HARDTANH, -0.75f, 1.25f},
};
#define N_ACT ((int)(sizeof ACT / sizeof ACT[0]))

static const struct {
    int nd;
    int64_t s[4];
} SHAPES[] = {{0, {0}}, {1, {1}}, {1, {7}}, {1, {37}}, {3, {5, 7, 3}}, {2, {6, 11}}, {1, {10007}}, {2, {0, 3}}};
#define N_SHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

/* Inputs in [-6, 6) with the special points 0 and the hardtanh bounds sprinkled in. */
static float *inputs(int64_t n, uint64_t seed)
{
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    th_fill_uniform(h, (size_t)n, seed, -6.0f, 6.0f);
    for (int64_t i = 0; i < n; i += 5) h[i] = (i / 5) % 3 == 0 ? 0.0f : (i / 5) % 3 == 1 ? -0.75f : 1.25f;
    return h;
}

static void check(int k, int c, int layout)
{
    int nd = SHAPES[c].nd;
    const int64_t *sh = SHAPES[c].s;
    int64_t n = th_numel(nd, sh);
    float *h = inputs(n, (uint64_t)(k * 31 + c)), *dy = malloc((size_t)(n ? n : 1) * sizeof *dy);
    float *want = malloc((size_t)(n ? n : 1) * sizeof *want), *dwant = malloc((size_t)(n ? n : 1) * sizeof *dwant);
    th_fill_uniform(dy, (size_t)n, 77, -1, 1);
    ref_unary_forward(ACT[k].op, ACT[k].p0, ACT[k].p1, (size_t)n, h, want);
    ref_unary_backward(ACT[k].op, ACT[k].p0, ACT[k].p1, (size_t)n, h, dy, dwant);

    clgrad_tensor *x = th_tensor(nd, sh, h), *y = NULL;
    if (layout) {
        th_make_noncontig(&x);
    }
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    TH_OK(ACT[k].fn(x, ACT[k].p0, ACT[k].p1, &y));
    ck_assert_int_eq(clgrad_tensor_ndim(y), nd);
    ck_assert_int_eq(clgrad_tensor_numel(y), n);
    char what[128];
    float *got = th_read(y);
    snprintf(what, sizeof what, "%s forward (shape %d, layout %d)", ACT[k].name, c, layout);
    th_allclose(what, got, want, (size_t)n, 1e-6, 1e-5);
    free(got);

    clgrad_tensor *g = th_tensor(nd, sh, dy);
    TH_OK(clgrad_backward_ex(y, g, 0));
    clgrad_tensor *gx = clgrad_tensor_grad(x);
    ck_assert_ptr_nonnull(gx);
    got = th_read(gx);
    snprintf(what, sizeof what, "%s backward (shape %d, layout %d)", ACT[k].name, c, layout);
    th_allclose(what, got, dwant, (size_t)n, 1e-6, 1e-5);
    free(got);

    clgrad_tensor_release(g);
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
    free(h);
    free(dy);
    free(want);
    free(dwant);
}

START_TEST(activations_match_reference)
{
    for (int k = 0; k < N_ACT; k++)
        for (int c = 0; c < N_SHAPES; c++) check(k, c, 0);
}
END_TEST

START_TEST(activations_on_strided_inputs)
{
    for (int k = 0; k < N_ACT; k++)
        for (int c = 0; c < N_SHAPES; c++) check(k, c, 1);
}
END_TEST

START_TEST(activation_special_values)
{
    float h[18] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 88.0f, -88.0f, 1e-30f, -1e-30f};
    float want[18];
    int64_t n = 18; /* twice, for the vector body and the scalar tail */
    for (int i = 9; i < 18; i++) h[i] = h[i - 9];
    clgrad_tensor *x = th_tensor(1, &n, h);
    for (int k = 0; k < N_ACT; k++) {
        clgrad_tensor *y = NULL;
        TH_OK(ACT[k].fn(x, ACT[k].p0, ACT[k].p1, &y));
        ref_unary_forward(ACT[k].op, ACT[k].p0, ACT[k].p1, 18, h, want);
        float *got = th_read(y);
        th_allclose(ACT[k].name, got, want, 18, 1e-6, 1e-5);
        free(got);
        clgrad_tensor_release(y);
    }
    clgrad_tensor_release(x);
}
END_TEST

START_TEST(errors_are_reported)
{
    int64_t s[2] = {3, 4};
    clgrad_tensor *x = th_rand(2, s, 1, -1, 1), *i32 = NULL, *y = x;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, 2, s, &i32));
    for (int k = 0; k < N_ACT; k++) {
        y = x;
        ck_assert_int_eq(ACT[k].fn(i32, ACT[k].p0, ACT[k].p1, &y), CLGRAD_ERR_INVALID_ARG);
        ck_assert_ptr_null(y);
        ck_assert_msg(strstr(clgrad_last_error(th_ctx), "i32") != NULL, "%s", clgrad_last_error(th_ctx));
        y = x;
        ck_assert_int_eq(ACT[k].fn(NULL, ACT[k].p0, ACT[k].p1, &y), CLGRAD_ERR_INVALID_ARG);
        ck_assert_ptr_null(y);
        ck_assert_int_eq(ACT[k].fn(x, ACT[k].p0, ACT[k].p1, NULL), CLGRAD_ERR_INVALID_ARG);
    }
    y = x;
    ck_assert_int_eq(clgrad_hardtanh(x, 1.0f, -1.0f, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(y);
    ck_assert_int_eq(clgrad_softplus(x, 0.0f, 20.0f, &y), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(i32);
    clgrad_tensor_release(x);
}
END_TEST

static Suite *suite_ops_activation(void)
{
    Suite *s = suite_create("ops_activation");
    TCase *tc = tcase_create("activation");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, activations_match_reference);
    tcase_add_test(tc, activations_on_strided_inputs);
    tcase_add_test(tc, activation_special_values);
    tcase_add_test(tc, errors_are_reported);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_ops_activation(), 1); }
