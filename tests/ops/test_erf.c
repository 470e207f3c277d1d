/* clgrad_erf against the plain-C reference (libm's erf and its derivative in double), forward
 * and backward, on contiguous and strided inputs of shapes with 1, primes and tails of the
 * vector width; special values; the error paths. */
#include "harness.h"
#include "ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    int nd;
    int64_t s[3];
} SHAPES[] = {{0, {0}}, {1, {1}}, {1, {7}}, {1, {37}}, {3, {5, 7, 3}}, {2, {6, 11}}, {1, {10007}}, {2, {0, 3}}};
#define N_SHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

static void check(int c, int layout)
{
    int nd = SHAPES[c].nd;
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= SHAPES[c].s[i];
    size_t cap = (size_t)(n ? n : 1);
    float *h = malloc(cap * sizeof *h), *dy = malloc(cap * sizeof *dy), *want = malloc(cap * sizeof *want),
          *dwant = malloc(cap * sizeof *dwant);
    th_fill_uniform(h, (size_t)n, (uint64_t)(c + 1), -4.0f, 4.0f);
    for (int64_t i = 0; i < n; i += 9) h[i] = (i / 9) % 2 ? 1e-4f * (float)(i % 7) : -1e-3f; /* near 0 */
    th_fill_uniform(dy, (size_t)n, 77, -1, 1);
    ref_unary_forward(REF_UNARY_ERF, 0, 0, (size_t)n, h, want);
    ref_unary_backward(REF_UNARY_ERF, 0, 0, (size_t)n, h, dy, dwant);

    clgrad_tensor *x = th_tensor(nd, SHAPES[c].s, h), *y = NULL;
    if (layout) {
        clgrad_tensor *t = th_noncontig(x);
        clgrad_tensor_release(x);
        x = t;
    }
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    TH_OK(clgrad_erf(x, &y));
    ck_assert_int_eq(clgrad_tensor_ndim(y), nd);
    ck_assert_int_eq(clgrad_tensor_numel(y), n);
    char what[96];
    float *got = th_read(y);
    snprintf(what, sizeof what, "erf forward (shape %d, layout %d)", c, layout);
    /* relative: erf is odd and tiny near 0, where the reference is exact too */
    th_allclose(what, got, want, (size_t)n, 1e-7, 4e-6);
    free(got);

    clgrad_tensor *g = th_tensor(nd, SHAPES[c].s, dy);
    TH_OK(clgrad_backward_ex(y, g, 0));
    ck_assert_ptr_nonnull(clgrad_tensor_grad(x));
    got = th_read(clgrad_tensor_grad(x));
    snprintf(what, sizeof what, "erf backward (shape %d, layout %d)", c, layout);
    th_allclose(what, got, dwant, (size_t)n, 1e-7, 1e-5);
    free(got);
    clgrad_tensor_release(g);
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
    free(h);
    free(dy);
    free(want);
    free(dwant);
}

START_TEST(erf_matches_reference)
{
    for (int c = 0; c < N_SHAPES; c++) check(c, 0);
}
END_TEST

START_TEST(erf_on_strided_inputs)
{
    for (int c = 0; c < N_SHAPES; c++) check(c, 1);
}
END_TEST

START_TEST(erf_special_values)
{
    float h[20] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 9.0f, -9.0f, 1e-30f, -1e-30f, 0.5f};
    float want[20];
    int64_t n = 20; /* twice, for the vector body and the scalar tail */
    for (int i = 10; i < 20; i++) h[i] = h[i - 10];
    ref_unary_forward(REF_UNARY_ERF, 0, 0, 20, h, want);
    clgrad_tensor *x = th_tensor(1, &n, h), *y = NULL;
    TH_OK(clgrad_erf(x, &y));
    float *got = th_read(y);
    th_allclose("erf special values", got, want, 20, 1e-7, 4e-6);
    ck_assert(signbit(got[1]) && signbit(got[11])); /* erf(-0) = -0 */
    free(got);
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
}
END_TEST

START_TEST(erf_errors_are_reported)
{
    int64_t s[2] = {3, 4};
    clgrad_tensor *x = th_rand(2, s, 1, -1, 1), *i32 = NULL, *y = x;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, 2, s, &i32));
    ck_assert_int_eq(clgrad_erf(i32, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(y);
    ck_assert_msg(strstr(clgrad_last_error(th_ctx), "i32") != NULL, "%s", clgrad_last_error(th_ctx));
    y = x;
    ck_assert_int_eq(clgrad_erf(NULL, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(y);
    ck_assert_int_eq(clgrad_erf(x, NULL), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(i32);
    clgrad_tensor_release(x);
}
END_TEST

static Suite *suite_ops_erf(void)
{
    Suite *s = suite_create("ops_erf");
    TCase *tc = tcase_create("erf");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, erf_matches_reference);
    tcase_add_test(tc, erf_on_strided_inputs);
    tcase_add_test(tc, erf_special_values);
    tcase_add_test(tc, erf_errors_are_reported);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_ops_erf(), 1); }
