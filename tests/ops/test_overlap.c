/* In-place writes and memory overlap: a copy whose source and destination overlap goes
 * through a temporary (the result is as if the source had been read first, as memmove);
 * a destination in which several elements share memory (an expanded view) is refused with
 * a clear error and left unchanged. Every in-place entry point is covered: clgrad_copy_,
 * clgrad_tensor_write, clgrad_fill_, clgrad_gemm's c and clgrad_batch_norm's running
 * statistics. Results are checked against host references. */
#include "harness.h"
#include "ref.h"

#include "tensor/tensor.h"

#include <stdlib.h>
#include <string.h>

static clgrad_tensor *arange(int64_t n)
{
    clgrad_tensor *t = NULL;
    TH_OK(clgrad_tensor_arange(th_ctx, 0.0, (double)n, 1.0, &t));
    return t;
}

static void expect_values(const char *what, const clgrad_tensor *t, const float *want, size_t n)
{
    float *got = th_read(t);
    th_allclose(what, got, want, n, 0, 0);
    free(got);
}

/* The repro: x[1:] <- x[:-1] over 2^20 elements left 131,077 of them wrong. */
START_TEST(copy_between_overlapping_views_is_a_memmove)
{
    enum { N = 1 << 20 };
    float *want = malloc(N * sizeof *want);
    for (int dir = 0; dir < 2; dir++) {
        clgrad_tensor *x = arange(N), *hi = NULL, *lo = NULL;
        TH_OK(clgrad_slice(x, 0, 1, N, 1, &hi));
        TH_OK(clgrad_slice(x, 0, 0, N - 1, 1, &lo));
        for (int i = 0; i < N; i++) want[i] = (float)i;
        if (dir == 0) {
            TH_OK(clgrad_copy_(hi, lo)); /* x[1:] = x[:-1] */
            memmove(want + 1, want, (N - 1) * sizeof *want);
        } else {
            TH_OK(clgrad_copy_(lo, hi)); /* x[:-1] = x[1:] */
            memmove(want, want + 1, (N - 1) * sizeof *want);
        }
        expect_values(dir == 0 ? "x[1:] <- x[:-1]" : "x[:-1] <- x[1:]", x, want, N);
        clgrad_tensor_release(hi);
        clgrad_tensor_release(lo);
        clgrad_tensor_release(x);
    }
    free(want);
}
END_TEST

/* Strided overlaps: a square matrix copied onto its own transpose, every other element
 * onto its neighbour, and a copy onto itself (nothing to do). */
START_TEST(strided_overlapping_copies)
{
    enum { S = 67 };
    int64_t sq[2] = {S, S};
    float want[S * S], orig[S * S];
    for (int i = 0; i < S * S; i++) orig[i] = (float)i;
    clgrad_tensor *x = th_tensor(2, sq, orig), *xt = NULL;
    TH_OK(clgrad_transpose(x, 0, 1, &xt));
    TH_OK(clgrad_copy_(x, xt));
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++) want[i * S + j] = orig[j * S + i];
    expect_values("x <- x^T", x, want, S * S);
    clgrad_tensor_release(xt);
    TH_OK(clgrad_copy_(x, x));
    expect_values("x <- x", x, want, S * S);
    clgrad_tensor_release(x);

    clgrad_tensor *y = arange(1000), *even = NULL, *odd = NULL;
    TH_OK(clgrad_slice(y, 0, 0, 1000, 2, &even));
    TH_OK(clgrad_slice(y, 0, 1, 1000, 2, &odd));
    TH_OK(clgrad_copy_(odd, even));
    float w2[1000];
    for (int i = 0; i < 1000; i++) w2[i] = (float)(i - (i & 1));
    expect_values("x[1::2] <- x[::2]", y, w2, 1000);
    clgrad_tensor_release(even);
    clgrad_tensor_release(odd);
    clgrad_tensor_release(y);
}
END_TEST

/* A destination with internal overlap (stride 0 on a dim of size > 1): each of its
 * elements would take one of several values, in whatever order the device ran. */
START_TEST(writes_through_an_expanded_view_are_refused)
{
    int64_t one[1] = {1}, three[1] = {3};
    clgrad_tensor *base = NULL, *e = NULL, *src = arange(3);
    TH_OK(clgrad_tensor_full(th_ctx, 1, one, 7.0f, &base));
    TH_OK(clgrad_expand(base, 1, three, &e));
    ck_assert_int_eq(clgrad_copy_(e, src), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "clgrad_copy_"));
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "same memory"));
    float h[3] = {1, 2, 3}, v = 0;
    ck_assert_int_eq(clgrad_tensor_write(e, h, sizeof h), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "clgrad_tensor_write"));
    TH_OK(clgrad_tensor_item(base, &v));
    ck_assert_float_eq(v, 7.0f); /* untouched */
    /* a fill writes one value everywhere: allowed, as in PyTorch */
    TH_OK(clgrad_fill_(e, 2.0f));
    TH_OK(clgrad_tensor_item(base, &v));
    ck_assert_float_eq(v, 2.0f);
    /* overlap that strides alone make: [2, 2] with strides [1, 1] */
    clgrad_tensor *x = arange(8), *w = NULL, *s4 = arange(4);
    int64_t sh[2] = {2, 2}, st[2] = {1, 1};
    TH_OK(clgrad__tensor_view(x, 2, sh, st, 0, &w));
    clgrad_tensor *s22 = NULL;
    TH_OK(clgrad_reshape(s4, 2, sh, &s22));
    ck_assert_int_eq(clgrad_copy_(w, s22), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(s22);
    clgrad_tensor_release(s4);
    clgrad_tensor_release(w);
    clgrad_tensor_release(x);
    clgrad_tensor_release(e);
    clgrad_tensor_release(base);
    clgrad_tensor_release(src);
}
END_TEST

START_TEST(internal_overlap_is_exact_for_views)
{
    int64_t sh[3] = {3, 4, 5}, one[3] = {3, 1, 5}, to[3] = {3, 4, 5};
    clgrad_tensor *x = NULL, *y = NULL, *v = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 3, sh, &x));
    ck_assert_int_eq(clgrad__internal_overlap(x), 0);
    int perm[3] = {2, 0, 1};
    TH_OK(clgrad_permute(x, perm, &v));
    ck_assert_int_eq(clgrad__internal_overlap(v), 0);
    clgrad_tensor_release(v);
    TH_OK(clgrad_slice(x, 2, 1, 5, 3, &v));
    ck_assert_int_eq(clgrad__internal_overlap(v), 0);
    clgrad_tensor_release(v);
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 3, one, &y));
    TH_OK(clgrad_expand(y, 3, to, &v));
    ck_assert_int_eq(clgrad__internal_overlap(v), 1);
    clgrad_tensor_release(v);
    /* a reshape of a strided slice keeps each stride above the span of the smaller ones */
    clgrad_tensor *s = NULL;
    int64_t flat[1] = {60}, rs[2] = {6, 5};
    TH_OK(clgrad_reshape(x, 1, flat, &v));
    TH_OK(clgrad_slice(v, 0, 0, 60, 2, &s));
    clgrad_tensor_release(v);
    TH_OK(clgrad_reshape(s, 2, rs, &v));
    ck_assert_int_eq(clgrad__internal_overlap(v), 0);
    clgrad_tensor_release(v);
    clgrad_tensor_release(s);
    /* hand-made strides (no public function makes these) */
    int64_t s3[2] = {3, 2}, st3[2] = {1, 2}; /* 0 2 1 3 2 4: element 2 twice */
    TH_OK(clgrad__tensor_view(x, 2, s3, st3, 0, &v));
    ck_assert_int_eq(clgrad__internal_overlap(v), 1);
    clgrad_tensor_release(v);
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
}
END_TEST

/* GEMM writes c in place: a c that is (or overlaps) a or b is computed into a temporary;
 * an expanded c is refused. */
START_TEST(gemm_into_an_operand)
{
    enum { M = 160 }; /* many tiles, so work-groups read rows that others already wrote */
    int64_t sq[2] = {M, M};
    static float a[M * M], b[M * M], want[M * M], c0[M * M], cwant[M * M];
    th_fill_uniform(a, M * M, 1, -1, 1);
    th_fill_uniform(b, M * M, 2, -1, 1);
    clgrad_tensor *ta = th_tensor(2, sq, a), *tb = th_tensor(2, sq, b);
    TH_OK(clgrad_gemm(0, 0, 1.0f, ta, tb, 0.5f, ta)); /* a = a @ b + 0.5 a */
    memcpy(want, a, sizeof want);
    ref_gemm(0, 0, M, M, M, 1.0f, a, M, b, M, 0.5f, want, M);
    float *got = th_read(ta);
    th_allclose("a <- a @ b + 0.5 a", got, want, M * M, 1e-4, 1e-4);
    free(got);
    /* c a transposed view of b */
    clgrad_tensor *bt = NULL;
    TH_OK(clgrad_transpose(tb, 0, 1, &bt));
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) c0[i * M + j] = b[j * M + i];
    memcpy(cwant, c0, sizeof cwant);
    ref_gemm(0, 0, M, M, M, 1.0f, a, M, b, M, 0.0f, cwant, M);
    clgrad_tensor *a2 = th_tensor(2, sq, a);
    TH_OK(clgrad_gemm(0, 0, 1.0f, a2, tb, 0.0f, bt));
    got = th_read(bt);
    th_allclose("b^T <- a @ b", got, cwant, M * M, 1e-4, 1e-4);
    free(got);
    /* an expanded c */
    int64_t row[2] = {1, M};
    clgrad_tensor *r = NULL, *ce = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, row, &r));
    TH_OK(clgrad_expand(r, 2, sq, &ce));
    ck_assert_int_eq(clgrad_gemm(0, 0, 1.0f, a2, tb, 0.0f, ce), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "clgrad_gemm"));
    clgrad_tensor_release(ce);
    clgrad_tensor_release(r);
    clgrad_tensor_release(a2);
    clgrad_tensor_release(bt);
    clgrad_tensor_release(ta);
    clgrad_tensor_release(tb);
}
END_TEST

/* batch_norm updates running_mean and running_var in place while it reads x. */
START_TEST(batch_norm_running_stats_must_not_alias)
{
    int64_t xs[2] = {4, 3}, c1[1] = {1}, c3[1] = {3};
    clgrad_tensor *x = th_rand(2, xs, 3, -1, 1), *y = NULL, *one = NULL, *rm_e = NULL, *rv = NULL, *rm_x = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, c1, &one));
    TH_OK(clgrad_expand(one, 1, c3, &rm_e));
    TH_OK(clgrad_tensor_ones(th_ctx, 1, c3, &rv));
    ck_assert_int_eq(clgrad_batch_norm(x, NULL, NULL, rm_e, rv, 1, 0.1f, 1e-5f, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "running_mean"));
    TH_OK(clgrad_slice(x, 0, 0, 1, 1, &rm_x)); /* [1, 3]: the first row of x */
    clgrad_tensor *rm_row = NULL;
    TH_OK(clgrad_reshape(rm_x, 1, c3, &rm_row));
    ck_assert_int_eq(clgrad_batch_norm(x, NULL, NULL, rm_row, rv, 1, 0.1f, 1e-5f, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_batch_norm(x, NULL, NULL, rv, rv, 1, 0.1f, 1e-5f, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(y);
    clgrad_tensor_release(rm_row);
    clgrad_tensor_release(rm_x);
    clgrad_tensor_release(rv);
    clgrad_tensor_release(rm_e);
    clgrad_tensor_release(one);
    clgrad_tensor_release(x);
}
END_TEST

static Suite *suite_overlap(void)
{
    Suite *s = suite_create("ops_overlap");
    TCase *tc = tcase_create("overlap");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, copy_between_overlapping_views_is_a_memmove);
    tcase_add_test(tc, strided_overlapping_copies);
    tcase_add_test(tc, writes_through_an_expanded_view_are_refused);
    tcase_add_test(tc, internal_overlap_is_exact_for_views);
    tcase_add_test(tc, gemm_into_an_operand);
    tcase_add_test(tc, batch_norm_running_stats_must_not_alias);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_overlap(), 1); }
