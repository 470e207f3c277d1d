/* Dropout: the mask of (seed, element index) from the Philox reference, scaling, the
 * identity cases, non-contiguous inputs and argument errors. */
#include "harness.h"
#include "ref.h"

#include "ops/rng.h"

#include <stdlib.h>

static void check_dropout(int ndim, const int64_t *shape, float p, uint64_t seed, int noncontig)
{
    clgrad_tensor *x = th_rand(ndim, shape, seed + 3, -2.0f, 2.0f), *y = NULL;
    if (noncontig) {
        th_make_noncontig(&x);
    }
    TH_OK(clgrad_dropout(x, p, seed, 1, &y));
    size_t n = (size_t)clgrad_tensor_numel(x);
    float *hx = th_read(x), *hy = th_read(y), *want = malloc(n * sizeof *want + 1);
    ref_dropout_forward(n, seed, 0, p, hx, want, NULL);
    th_allclose("dropout", hy, want, n, 0.0, 1e-6);
    free(hx);
    free(hy);
    free(want);
    clgrad_tensor_release(x);
    clgrad_tensor_release(y);
}

START_TEST(matches_reference)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {1, 1, 5}, {3, 7, 11}, {2, 31, 17}};
    static const float ps[] = {0.1f, 0.5f, 0.9f};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
            check_dropout(3, shapes[s], ps[k], 1000 + s, 0);
            check_dropout(3, shapes[s], ps[k], 0xfeedface00000000ull + s, 1);
        }
}
END_TEST

START_TEST(backward_kernel_matches_reference)
{
    int64_t shape[2] = {13, 29};
    size_t n = 13 * 29;
    clgrad_tensor *dy = th_rand(2, shape, 5, -1.0f, 1.0f), *dx = NULL;
    TH_OK(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 2, shape, &dx));
    TH_OK(clgrad__dropout_apply(dx, dy, 0.3f, 77));
    float *hdy = th_read(dy), *hdx = th_read(dx), *want = malloc(n * sizeof *want);
    ref_dropout_backward(n, 77, 0, 0.3f, hdy, want);
    th_allclose("dropout backward", hdx, want, n, 0.0, 1e-6);
    free(hdy);
    free(hdx);
    free(want);
    clgrad_tensor_release(dy);
    clgrad_tensor_release(dx);
}
END_TEST

START_TEST(same_seed_same_mask)
{
    int64_t shape[1] = {4099};
    clgrad_tensor *x = NULL, *a = NULL, *b = NULL, *c = NULL;
    TH_OK(clgrad_tensor_ones(th_ctx, 1, shape, &x));
    TH_OK(clgrad_dropout(x, 0.25f, 9, 1, &a));
    TH_OK(clgrad_dropout(x, 0.25f, 9, 1, &b));
    TH_OK(clgrad_dropout(x, 0.25f, 10, 1, &c));
    float *ha = th_read(a), *hb = th_read(b), *hc = th_read(c);
    int kept = 0, differ = 0;
    for (int i = 0; i < shape[0]; i++) {
        ck_assert(ha[i] == hb[i]);
        ck_assert(ha[i] == 0.0f || ha[i] == (float)(1.0 / 0.75));
        kept += ha[i] != 0.0f;
        differ += ha[i] != hc[i];
    }
    ck_assert_msg(kept > 2900 && kept < 3250, "kept %d of 4099 at p = 0.25", kept);
    ck_assert_int_gt(differ, 100);
    free(ha);
    free(hb);
    free(hc);
    clgrad_tensor_release(x);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
    clgrad_tensor_release(c);
}
END_TEST

START_TEST(identity_and_extremes)
{
    int64_t shape[2] = {3, 4};
    clgrad_tensor *x = th_rand(2, shape, 1, 0.5f, 1.0f), *y = NULL;
    TH_OK(clgrad_dropout(x, 0.5f, 1, 0, &y));
    ck_assert_ptr_eq(y, x); /* eval mode: x itself */
    clgrad_tensor_release(y);
    TH_OK(clgrad_dropout(x, 0.0f, 1, 1, &y));
    ck_assert_ptr_eq(y, x);
    clgrad_tensor_release(y);
    TH_OK(clgrad_dropout(x, 1.0f, 1, 1, &y));
    float *h = th_read(y);
    for (int i = 0; i < 12; i++) ck_assert_float_eq(h[i], 0.0f);
    free(h);
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
}
END_TEST

START_TEST(errors)
{
    int64_t shape[1] = {4};
    clgrad_tensor *x = th_rand(1, shape, 1, 0.0f, 1.0f), *i = NULL, *y = (clgrad_tensor *)1;
    ck_assert_int_eq(clgrad_dropout(x, -0.1f, 1, 1, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(y);
    ck_assert_int_eq(clgrad_dropout(x, 1.5f, 1, 1, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_dropout(NULL, 0.5f, 1, 1, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_dropout(x, 0.5f, 1, 1, NULL), CLGRAD_ERR_INVALID_ARG);
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, 1, shape, &i));
    ck_assert_int_eq(clgrad_dropout(i, 0.5f, 1, 1, &y), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(i);
    clgrad_tensor_release(x);
}
END_TEST

static Suite *suite_ops_dropout(void)
{
    Suite *s = suite_create("ops_dropout");
    TCase *tc = tcase_create("dropout");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, matches_reference);
    tcase_add_test(tc, backward_kernel_matches_reference);
    tcase_add_test(tc, same_seed_same_mask);
    tcase_add_test(tc, identity_and_extremes);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_ops_dropout(), 1); }
