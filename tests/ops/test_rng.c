/* Counter-based random tensors: the same numbers as the Philox reference for every seed and
 * shape, independent of how the stream is cut into launches, and sane statistics. */
#include "harness.h"
#include "ref.h"

#include "ops/rng.h"

#include <math.h>
#include <stdlib.h>

static const uint64_t seeds[] = {0, 1, 42, 0x123456789abcdef0ull, 0xffffffffffffffffull};
#define N_SEEDS (sizeof seeds / sizeof seeds[0])

START_TEST(philox_known_answer)
{
    /* Random123's published answer for ctr = 0, key = 0; the library's u(0, i) uses it. */
    uint32_t ctr[4] = {0, 0, 0, 0}, key[2] = {0, 0}, out[4];
    ref_philox4x32_10(ctr, key, out);
    ck_assert_uint_eq(out[0], 0x6627e8d5u);
    int64_t shape[1] = {4};
    clgrad_tensor *t = NULL;
    TH_OK(clgrad_tensor_uniform(th_ctx, 1, shape, 0, 0.0f, 1.0f, &t));
    float *h = th_read(t);
    for (int i = 0; i < 4; i++) ck_assert_float_eq(h[i], (float)(out[i] >> 8) * 0x1p-24f);
    free(h);
    clgrad_tensor_release(t);
}
END_TEST

START_TEST(uniform_matches_reference)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {1, 1, 7}, {3, 5, 2}, {2, 13, 17}, {1, 1, 1031}};
    for (size_t s = 0; s < N_SEEDS; s++)
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
            clgrad_tensor *t = NULL;
            float lo = s % 2 ? -2.0f : 0.0f, hi = s % 2 ? 3.0f : 1.0f;
            TH_OK(clgrad_tensor_uniform(th_ctx, 3, shapes[k], seeds[s], lo, hi, &t));
            size_t n = (size_t)clgrad_tensor_numel(t);
            float *h = th_read(t), *want = malloc(n * sizeof *want);
            for (size_t i = 0; i < n; i++) want[i] = lo + (hi - lo) * ref_uniform(seeds[s], i);
            th_allclose("uniform", h, want, n, 1e-6, 1e-6);
            for (size_t i = 0; i < n; i++) ck_assert(h[i] >= lo && h[i] < hi);
            free(h);
            free(want);
            clgrad_tensor_release(t);
        }
}
END_TEST

START_TEST(normal_matches_reference)
{
    static const int64_t shapes[][2] = {{1, 1}, {1, 3}, {7, 11}, {4, 257}};
    for (size_t s = 0; s < N_SEEDS; s++)
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
            clgrad_tensor *t = NULL;
            float mean = s % 2 ? 1.5f : 0.0f, std = s % 2 ? 0.5f : 1.0f;
            TH_OK(clgrad_tensor_normal(th_ctx, 2, shapes[k], seeds[s], mean, std, &t));
            size_t n = (size_t)clgrad_tensor_numel(t);
            float *h = th_read(t), *want = malloc(n * sizeof *want);
            for (size_t i = 0; i < n; i++) want[i] = mean + std * ref_normal(seeds[s], i);
            th_allclose("normal", h, want, n, 2e-5, 2e-5);
            free(h);
            free(want);
            clgrad_tensor_release(t);
        }
}
END_TEST

/* Cutting the stream into pieces at any offset (odd, not a multiple of 4) gives the same
 * values as one launch over the whole range. */
START_TEST(independent_of_launch_shape)
{
    const int64_t total = 1000;
    clgrad_tensor *whole = NULL, *whole_n = NULL;
    TH_OK(clgrad_tensor_uniform(th_ctx, 1, &total, 99, 0.0f, 1.0f, &whole));
    TH_OK(clgrad_tensor_normal(th_ctx, 1, &total, 99, 0.0f, 1.0f, &whole_n));
    float *w = th_read(whole), *wn = th_read(whole_n);
    static const int64_t cuts[] = {0, 1, 3, 6, 7, 250, 251, 513, 998, 1000};
    float *got = malloc((size_t)total * sizeof *got), *got_n = malloc((size_t)total * sizeof *got_n);
    for (size_t c = 0; c + 1 < sizeof cuts / sizeof cuts[0]; c++) {
        int64_t len = cuts[c + 1] - cuts[c];
        clgrad_tensor *p = NULL, *q = NULL;
        TH_OK(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 1, &len, &p));
        TH_OK(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 1, &len, &q));
        TH_OK(clgrad__philox_uniform(p, 99, (uint64_t)cuts[c], 0.0f, 1.0f));
        TH_OK(clgrad__philox_normal(q, 99, (uint64_t)cuts[c], 0.0f, 1.0f));
        TH_OK(clgrad_tensor_read(p, got + cuts[c], (size_t)len * sizeof *got));
        TH_OK(clgrad_tensor_read(q, got_n + cuts[c], (size_t)len * sizeof *got));
        clgrad_tensor_release(p);
        clgrad_tensor_release(q);
    }
    for (int64_t i = 0; i < total; i++) {
        ck_assert_msg(got[i] == w[i], "uniform [%lld]: %g vs %g", (long long)i, got[i], w[i]);
        ck_assert_msg(got_n[i] == wn[i], "normal [%lld]: %g vs %g", (long long)i, got_n[i], wn[i]);
    }
    /* the shape is irrelevant: (10, 100) holds the same row-major stream */
    int64_t shape2[2] = {10, 100};
    clgrad_tensor *t2 = NULL;
    TH_OK(clgrad_tensor_uniform(th_ctx, 2, shape2, 99, 0.0f, 1.0f, &t2));
    float *h2 = th_read(t2);
    for (int64_t i = 0; i < total; i++) ck_assert(h2[i] == w[i]);
    free(h2);
    clgrad_tensor_release(t2);
    free(got);
    free(got_n);
    free(w);
    free(wn);
    clgrad_tensor_release(whole);
    clgrad_tensor_release(whole_n);
}
END_TEST

START_TEST(statistics_are_sane)
{
    const int64_t n = 200000;
    clgrad_tensor *u = NULL, *g = NULL;
    TH_OK(clgrad_tensor_uniform(th_ctx, 1, &n, 7, -1.0f, 3.0f, &u));
    TH_OK(clgrad_tensor_normal(th_ctx, 1, &n, 7, 2.0f, 0.5f, &g));
    float *hu = th_read(u), *hg = th_read(g);
    double su = 0, su2 = 0, sg = 0, sg2 = 0;
    for (int64_t i = 0; i < n; i++) {
        su += hu[i];
        su2 += (double)hu[i] * hu[i];
        sg += hg[i];
        sg2 += (double)hg[i] * hg[i];
    }
    double mu = su / n, vu = su2 / n - mu * mu, mg = sg / n, vg = sg2 / n - mg * mg;
    ck_assert_msg(fabs(mu - 1.0) < 0.02, "uniform mean %g", mu);
    ck_assert_msg(fabs(vu - 16.0 / 12.0) < 0.02, "uniform variance %g", vu);
    ck_assert_msg(fabs(mg - 2.0) < 0.01, "normal mean %g", mg);
    ck_assert_msg(fabs(vg - 0.25) < 0.01, "normal variance %g", vg);
    free(hu);
    free(hg);
    clgrad_tensor_release(u);
    clgrad_tensor_release(g);
}
END_TEST

START_TEST(different_seeds_differ)
{
    const int64_t n = 64;
    clgrad_tensor *a = NULL, *b = NULL;
    TH_OK(clgrad_tensor_uniform(th_ctx, 1, &n, 1, 0.0f, 1.0f, &a));
    TH_OK(clgrad_tensor_uniform(th_ctx, 1, &n, 1ull << 32, 0.0f, 1.0f, &b));
    float *ha = th_read(a), *hb = th_read(b);
    int same = 0;
    for (int i = 0; i < n; i++) same += ha[i] == hb[i];
    ck_assert_int_lt(same, 4);
    free(ha);
    free(hb);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
}
END_TEST

START_TEST(errors)
{
    int64_t shape[2] = {2, 3}, bad[2] = {2, -1};
    clgrad_tensor *t = (clgrad_tensor *)1;
    ck_assert_int_eq(clgrad_tensor_uniform(th_ctx, 2, bad, 1, 0.0f, 1.0f, &t), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(clgrad_tensor_uniform(th_ctx, 2, shape, 1, 1.0f, 0.0f, &t), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_tensor_normal(th_ctx, 2, shape, 1, 0.0f, -1.0f, &t), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_tensor_normal(NULL, 2, shape, 1, 0.0f, 1.0f, &t), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_tensor_normal(th_ctx, 2, shape, 1, 0.0f, 1.0f, NULL), CLGRAD_ERR_INVALID_ARG);
    /* empty tensors are fine */
    int64_t empty[2] = {0, 5};
    TH_OK(clgrad_tensor_normal(th_ctx, 2, empty, 1, 0.0f, 1.0f, &t));
    ck_assert_int_eq(clgrad_tensor_numel(t), 0);
    clgrad_tensor_release(t);
}
END_TEST

static Suite *suite_ops_rng(void)
{
    Suite *s = suite_create("ops_rng");
    TCase *tc = tcase_create("rng");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, philox_known_answer);
    tcase_add_test(tc, uniform_matches_reference);
    tcase_add_test(tc, normal_matches_reference);
    tcase_add_test(tc, independent_of_launch_shape);
    tcase_add_test(tc, statistics_are_sane);
    tcase_add_test(tc, different_seeds_differ);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_ops_rng(), 1); }
