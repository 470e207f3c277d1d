/* Batch and layer normalisation against the reference: training statistics with the
 * running-statistics update, eval mode, optional affine parameters, non-contiguous inputs,
 * bit-identical repeat runs, gradients of every input through clgrad_backward_ex, and
 * argument errors. */
#include "harness.h"
#include "ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *rnd(size_t n, uint64_t seed, float lo, float hi)
{
    float *p = malloc(n * sizeof *p + 4);
    th_fill_uniform(p, n, seed, lo, hi);
    return p;
}

/* flags: 1 weight, 2 bias, 4 running stats, 8 non-contiguous x, 16 eval mode */
static void bn_case(int ndim, const int64_t *shape, int flags)
{
    int64_t N = shape[0], C = shape[1], S = 1;
    for (int i = 2; i < ndim; i++) S *= shape[i];
    size_t n = (size_t)(N * C * S);
    int eval = flags & 16;
    float eps = 1e-5f, momentum = 0.1f;
    float *hx = rnd(n, 1, -2.0f, 3.0f), *hw = rnd((size_t)C, 2, 0.5f, 1.5f), *hb = rnd((size_t)C, 3, -1.0f, 1.0f);
    float *hrm = rnd((size_t)C, 4, -0.5f, 0.5f), *hrv = rnd((size_t)C, 5, 0.5f, 2.0f);
    float *hdy = rnd(n, 6, -1.0f, 1.0f);
    clgrad_tensor *x = th_tensor(ndim, shape, hx), *w = NULL, *b = NULL, *rm = NULL, *rv = NULL, *y = NULL;
    int64_t cs[1] = {C};
    if (flags & 1) w = th_tensor(1, cs, hw);
    if (flags & 2) b = th_tensor(1, cs, hb);
    if ((flags & 4) || eval) {
        rm = th_tensor(1, cs, hrm);
        rv = th_tensor(1, cs, hrv);
    }
    if (flags & 8) {
        th_make_noncontig(&x);
    }
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    if (w) TH_OK(clgrad_tensor_set_requires_grad(w, 1));
    if (b) TH_OK(clgrad_tensor_set_requires_grad(b, 1));
    TH_OK(clgrad_batch_norm(x, w, b, rm, rv, !eval, momentum, eps, &y));

    float *want = malloc(n * sizeof *want), *got = th_read(y);
    double tol = 1e-5 * (1.0 + sqrt((double)(N * S)) / 8.0);
    if (eval) {
        ref_batch_norm_eval_forward((size_t)N, (size_t)C, (size_t)S, hx, w ? hw : NULL, b ? hb : NULL, hrm, hrv, eps,
                                    want);
    } else {
        ref_batch_norm_train_forward((size_t)N, (size_t)C, (size_t)S, hx, w ? hw : NULL, b ? hb : NULL, eps, momentum,
                                     rm ? hrm : NULL, rm ? hrv : NULL, want, NULL, NULL);
    }
    th_allclose("batch_norm y", got, want, n, tol, tol);
    free(got);
    if (rm) {
        got = th_read(rm);
        th_allclose("running_mean", got, hrm, (size_t)C, tol, tol);
        free(got);
        got = th_read(rv);
        th_allclose("running_var", got, hrv, (size_t)C, tol, tol);
        free(got);
    }

    /* gradients */
    clgrad_tensor *dy = th_tensor(ndim, shape, hdy);
    TH_OK(clgrad_backward_ex(y, dy, 0));
    float *wdx = malloc(n * sizeof *wdx), *wdw = malloc((size_t)C * sizeof *wdw), *wdb = malloc((size_t)C * sizeof *wdb);
    if (eval) {
        /* hrm / hrv still hold the inputs in eval mode */
        ref_batch_norm_eval_backward((size_t)N, (size_t)C, (size_t)S, hx, w ? hw : NULL, hrm, hrv, eps, hdy, wdx, wdw,
                                     wdb);
    } else {
        ref_batch_norm_train_backward((size_t)N, (size_t)C, (size_t)S, hx, w ? hw : NULL, eps, hdy, wdx, wdw, wdb);
    }
    double gtol = 1e-4 * (1.0 + sqrt((double)(N * S)) / 8.0);
    got = th_read(clgrad_tensor_grad(x));
    th_allclose("batch_norm dx", got, wdx, n, gtol, gtol);
    free(got);
    if (w) {
        got = th_read(clgrad_tensor_grad(w));
        th_allclose("batch_norm dweight", got, wdw, (size_t)C, gtol, gtol);
        free(got);
    }
    if (b) {
        got = th_read(clgrad_tensor_grad(b));
        th_allclose("batch_norm dbias", got, wdb, (size_t)C, gtol, gtol);
        free(got);
    }
    free(wdx);
    free(wdw);
    free(wdb);
    clgrad_tensor_release(dy);
    free(want);
    free(hx);
    free(hw);
    free(hb);
    free(hrm);
    free(hrv);
    free(hdy);
    clgrad_tensor_release(x);
    clgrad_tensor_release(w);
    clgrad_tensor_release(b);
    clgrad_tensor_release(rm);
    clgrad_tensor_release(rv);
    clgrad_tensor_release(y);
}

START_TEST(batch_norm_training_matches_reference)
{
    int64_t s2[2] = {5, 3}, s2b[2] = {2, 1}, s4[4] = {2, 3, 5, 7}, s3[3] = {3, 1, 130}, s4b[4] = {1, 2, 1, 5};
    bn_case(2, s2, 7);
    bn_case(2, s2b, 0);
    bn_case(4, s4, 7);
    bn_case(4, s4, 1 | 8);
    bn_case(3, s3, 2 | 4);
    bn_case(4, s4b, 7 | 8);
}
END_TEST

START_TEST(batch_norm_large_reduction)
{
    int64_t s4[4] = {16, 3, 37, 41}; /* M = 24272 per channel: several chunks */
    bn_case(4, s4, 7);
}
END_TEST

START_TEST(batch_norm_eval_matches_reference)
{
    int64_t s2[2] = {1, 3}, s4[4] = {2, 3, 5, 7};
    bn_case(2, s2, 16 | 3);
    bn_case(4, s4, 16 | 3);
    bn_case(4, s4, 16 | 8);
}
END_TEST

/* flags: 1 weight, 2 bias, 8 non-contiguous x */
static void ln_case(int ndim, const int64_t *shape, int k, int flags)
{
    size_t n = (size_t)th_numel(ndim, shape), inner = 1;
    for (int i = ndim - k; i < ndim; i++) inner *= (size_t)shape[i];
    size_t outer = n / inner;
    float eps = 1e-5f;
    float *hx = rnd(n, 11, -2.0f, 3.0f), *hw = rnd(inner, 12, 0.5f, 1.5f), *hb = rnd(inner, 13, -1.0f, 1.0f);
    float *hdy = rnd(n, 14, -1.0f, 1.0f);
    clgrad_tensor *x = th_tensor(ndim, shape, hx), *w = NULL, *b = NULL, *y = NULL;
    if (flags & 1) w = th_tensor(k, shape + ndim - k, hw);
    if (flags & 2) b = th_tensor(k, shape + ndim - k, hb);
    if (flags & 8) {
        th_make_noncontig(&x);
    }
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    if (w) TH_OK(clgrad_tensor_set_requires_grad(w, 1));
    if (b) TH_OK(clgrad_tensor_set_requires_grad(b, 1));
    TH_OK(clgrad_layer_norm(x, k, w, b, eps, &y));
    float *want = malloc(n * sizeof *want), *got = th_read(y);
    ref_layer_norm_forward(outer, inner, hx, w ? hw : NULL, b ? hb : NULL, eps, want, NULL, NULL);
    double tol = 1e-5 * (1.0 + sqrt((double)inner) / 8.0);
    th_allclose("layer_norm y", got, want, n, tol, tol);
    free(got);

    clgrad_tensor *dy = th_tensor(ndim, shape, hdy);
    TH_OK(clgrad_backward_ex(y, dy, 0));
    float *wdx = malloc(n * sizeof *wdx), *wdw = malloc(inner * sizeof *wdw), *wdb = malloc(inner * sizeof *wdb);
    ref_layer_norm_backward(outer, inner, hx, w ? hw : NULL, eps, hdy, wdx, wdw, wdb);
    double gtol = 1e-4 * (1.0 + sqrt((double)(inner > outer ? inner : outer)) / 8.0);
    got = th_read(clgrad_tensor_grad(x));
    th_allclose("layer_norm dx", got, wdx, n, gtol, gtol);
    free(got);
    if (w) {
        got = th_read(clgrad_tensor_grad(w));
        th_allclose("layer_norm dweight", got, wdw, inner, gtol, gtol);
        free(got);
    }
    if (b) {
        got = th_read(clgrad_tensor_grad(b));
        th_allclose("layer_norm dbias", got, wdb, inner, gtol, gtol);
        free(got);
    }
    free(wdx);
    free(wdw);
    free(wdb);
    free(want);
    free(hx);
    free(hw);
    free(hb);
    free(hdy);
    clgrad_tensor_release(dy);
    clgrad_tensor_release(x);
    clgrad_tensor_release(w);
    clgrad_tensor_release(b);
    clgrad_tensor_release(y);
}

START_TEST(layer_norm_matches_reference)
{
    int64_t s1[1] = {7}, s2[2] = {3, 1}, s3[3] = {2, 5, 13}, s3b[3] = {4, 3, 3000};
    ln_case(1, s1, 1, 3);
    ln_case(2, s2, 1, 0);
    ln_case(3, s3, 1, 3);
    ln_case(3, s3, 2, 1);
    ln_case(3, s3, 3, 2 | 8);
    ln_case(3, s3, 1, 3 | 8);
    ln_case(3, s3b, 1, 3);
}
END_TEST

START_TEST(statistics_are_bit_identical)
{
    int64_t shape[4] = {8, 3, 33, 35};
    clgrad_tensor *x = th_rand(4, shape, 21, -1.0f, 1.0f), *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    TH_OK(clgrad_batch_norm(x, NULL, NULL, NULL, NULL, 1, 0.1f, 1e-5f, &a));
    TH_OK(clgrad_batch_norm(x, NULL, NULL, NULL, NULL, 1, 0.1f, 1e-5f, &b));
    TH_OK(clgrad_layer_norm(x, 2, NULL, NULL, 1e-5f, &c));
    TH_OK(clgrad_layer_norm(x, 2, NULL, NULL, 1e-5f, &d));
    size_t n = (size_t)clgrad_tensor_numel(x);
    float *ha = th_read(a), *hb = th_read(b), *hc = th_read(c), *hd = th_read(d);
    ck_assert(memcmp(ha, hb, n * sizeof *ha) == 0);
    ck_assert(memcmp(hc, hd, n * sizeof *hc) == 0);
    free(ha);
    free(hb);
    free(hc);
    free(hd);
    clgrad_tensor_release(x);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
    clgrad_tensor_release(c);
    clgrad_tensor_release(d);
}
END_TEST

START_TEST(errors)
{
    int64_t xs[3] = {2, 3, 4}, c3[1] = {3}, c4[1] = {4}, one[2] = {1, 3}, x1[1] = {3};
    clgrad_tensor *x = th_rand(3, xs, 1, 0.0f, 1.0f), *w3 = th_rand(1, c3, 2, 0.0f, 1.0f);
    clgrad_tensor *w4 = th_rand(1, c4, 3, 0.0f, 1.0f), *x1t = th_rand(2, one, 4, 0.0f, 1.0f);
    clgrad_tensor *v1 = th_rand(1, x1, 5, 0.0f, 1.0f), *y = (clgrad_tensor *)1;
    ck_assert_int_eq(clgrad_batch_norm(x, w4, NULL, NULL, NULL, 1, 0.1f, 1e-5f, &y), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(y);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[4]"));
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[2, 3, 4]"));
    ck_assert_int_eq(clgrad_batch_norm(x, NULL, NULL, w3, NULL, 0, 0.1f, 1e-5f, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_batch_norm(v1, NULL, NULL, NULL, NULL, 1, 0.1f, 1e-5f, &y), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_batch_norm(x1t, NULL, NULL, NULL, NULL, 1, 0.1f, 1e-5f, &y), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_batch_norm(NULL, NULL, NULL, NULL, NULL, 1, 0.1f, 1e-5f, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_layer_norm(x, 1, w3, NULL, 1e-5f, &y), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[3]"));
    ck_assert_int_eq(clgrad_layer_norm(x, 0, NULL, NULL, 1e-5f, &y), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_layer_norm(x, 4, NULL, NULL, 1e-5f, &y), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_layer_norm(x, 1, NULL, NULL, 1e-5f, NULL), CLGRAD_ERR_INVALID_ARG);
    TH_OK(clgrad_layer_norm(x, 1, w4, w4, 1e-5f, &y));
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
    clgrad_tensor_release(w3);
    clgrad_tensor_release(w4);
    clgrad_tensor_release(x1t);
    clgrad_tensor_release(v1);
}
END_TEST

static Suite *suite_ops_norm(void)
{
    Suite *s = suite_create("ops_norm");
    TCase *tc = tcase_create("norm");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, batch_norm_training_matches_reference);
    tcase_add_test(tc, batch_norm_large_reduction);
    tcase_add_test(tc, batch_norm_eval_matches_reference);
    tcase_add_test(tc, layer_norm_matches_reference);
    tcase_add_test(tc, statistics_are_bit_identical);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_ops_norm(), 1); }
