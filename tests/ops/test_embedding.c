/* Embedding: lookup against the reference on assorted shapes and views, out-of-range
 * indices (no out-of-bounds access, zero rows, no gradient), the deterministic scatter-add
 * backward against the reference, and argument errors. */
#include "harness.h"
#include "ref.h"

#include <stdlib.h>
#include <string.h>

static void fill_idx(int32_t *idx, size_t n, int64_t V, uint64_t seed)
{
    float *u = malloc(n * sizeof *u + 1);
    th_fill_uniform(u, n, seed, 0.0f, (float)V);
    for (size_t i = 0; i < n; i++) idx[i] = (int32_t)u[i] < V ? (int32_t)u[i] : (int32_t)V - 1;
    free(u);
}

static void forward_case(int64_t V, int64_t D, int ndim, const int64_t *ishape, int noncontig)
{
    int64_t wshape[2] = {V, D};
    size_t n = (size_t)th_numel(ndim, ishape);
    int32_t *idx = malloc(n * sizeof *idx + 1);
    fill_idx(idx, n, V, (uint64_t)(V * 31 + D));
    clgrad_tensor *w = th_rand(2, wshape, (uint64_t)V, -1.0f, 1.0f), *it = th_tensor_i32(ndim, ishape, idx), *y = NULL;
    if (noncontig) {
        th_make_noncontig(&w);
        th_make_noncontig(&it);
    }
    TH_OK(clgrad_embedding(w, it, &y));
    ck_assert_int_eq(clgrad_tensor_ndim(y), ndim + 1);
    ck_assert_int_eq(clgrad_tensor_dim(y, -1), D);
    float *hw = th_read(w), *hy = th_read(y), *want = malloc(n * (size_t)D * sizeof *want + 1);
    ck_assert_int_eq(ref_embedding_forward(n, (size_t)D, (size_t)V, hw, idx, want), 0);
    th_allclose("embedding", hy, want, n * (size_t)D, 0.0, 0.0);
    free(hw);
    free(hy);
    free(want);
    free(idx);
    clgrad_tensor_release(w);
    clgrad_tensor_release(it);
    clgrad_tensor_release(y);
}

START_TEST(forward_matches_reference)
{
    int64_t s1[1] = {1}, s2[2] = {3, 5}, s3[3] = {2, 3, 7};
    forward_case(1, 1, 1, s1, 0);
    forward_case(7, 5, 2, s2, 0);
    forward_case(13, 67, 3, s3, 0);
    /* more rows than one NDRange dimension takes (they fold over dims 1 and 2) */
    int64_t big[1] = {70001};
    forward_case(5, 2, 1, big, 0);
    forward_case(257, 3, 2, s2, 1);
    forward_case(5, 11, 3, s3, 1);
}
END_TEST

START_TEST(out_of_range_indices_give_zero_rows)
{
    int64_t wshape[2] = {4, 3}, ishape[1] = {5};
    int32_t idx[5] = {0, -1, 4, 3, 1 << 30};
    clgrad_tensor *w = th_rand(2, wshape, 1, 1.0f, 2.0f), *it = th_tensor_i32(1, ishape, idx), *y = NULL;
    TH_OK(clgrad_embedding(w, it, &y));
    float *hw = th_read(w), *hy = th_read(y);
    for (int d = 0; d < 3; d++) {
        ck_assert_float_eq(hy[0 * 3 + d], hw[0 * 3 + d]);
        ck_assert_float_eq(hy[1 * 3 + d], 0.0f);
        ck_assert_float_eq(hy[2 * 3 + d], 0.0f);
        ck_assert_float_eq(hy[3 * 3 + d], hw[3 * 3 + d]);
        ck_assert_float_eq(hy[4 * 3 + d], 0.0f);
    }
    free(hw);
    free(hy);
    clgrad_tensor_release(w);
    clgrad_tensor_release(it);
    clgrad_tensor_release(y);
}
END_TEST

/* dweight from clgrad_backward_ex against the reference; repeated indices add up. */
static float *backward_grad(int64_t V, int64_t D, size_t n, const int32_t *idx, const float *dy, uint64_t seed)
{
    int64_t wshape[2] = {V, D}, ishape[1] = {(int64_t)n}, oshape[2] = {(int64_t)n, D};
    clgrad_tensor *w = th_rand(2, wshape, seed, -1.0f, 1.0f), *it = th_tensor_i32(1, ishape, idx), *y = NULL;
    TH_OK(clgrad_tensor_set_requires_grad(w, 1));
    TH_OK(clgrad_embedding(w, it, &y));
    clgrad_tensor *g = th_tensor(2, oshape, dy);
    TH_OK(clgrad_backward_ex(y, g, 0));
    ck_assert_ptr_nonnull(clgrad_tensor_grad(w));
    float *got = th_read(clgrad_tensor_grad(w));
    clgrad_tensor_release(g);
    clgrad_tensor_release(y);
    clgrad_tensor_release(it);
    clgrad_tensor_release(w);
    return got;
}

START_TEST(backward_matches_reference_and_is_deterministic)
{
    static const int64_t cases[][3] = {{1, 1, 1}, {5, 3, 17}, {11, 7, 300}, {97, 2, 1000}, {70001, 1, 300}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t V = cases[c][0], D = cases[c][1];
        size_t n = (size_t)cases[c][2];
        int32_t *idx = malloc(n * sizeof *idx);
        fill_idx(idx, n, V, 5 + c);
        if (n > 3) idx[3] = -7; /* out of range: no gradient anywhere */
        float *dy = malloc(n * (size_t)D * sizeof *dy), *want = malloc((size_t)(V * D) * sizeof *want);
        th_fill_uniform(dy, n * (size_t)D, 9 + c, -1.0f, 1.0f);
        int32_t *clean = malloc(n * sizeof *clean);
        memcpy(clean, idx, n * sizeof *idx);
        float *dyc = malloc(n * (size_t)D * sizeof *dyc);
        memcpy(dyc, dy, n * (size_t)D * sizeof *dy);
        if (n > 3) { /* the reference rejects bad indices: drop that position's gradient */
            clean[3] = 0;
            for (int64_t d = 0; d < D; d++) dyc[3 * D + d] = 0.0f;
        }
        ck_assert_int_eq(ref_embedding_backward(n, (size_t)D, (size_t)V, clean, dyc, want), 0);
        float *got = backward_grad(V, D, n, idx, dy, 3), *again = backward_grad(V, D, n, idx, dy, 4);
        th_allclose("embedding dweight", got, want, (size_t)(V * D), 1e-5, 1e-5);
        ck_assert_msg(memcmp(got, again, (size_t)(V * D) * sizeof *got) == 0, "backward is not bit-identical");
        free(got);
        free(again);
        free(idx);
        free(clean);
        free(dy);
        free(dyc);
        free(want);
    }
}
END_TEST

START_TEST(errors)
{
    int64_t wshape[2] = {4, 3}, w1[1] = {4}, ishape[1] = {2};
    int32_t idx[2] = {0, 1};
    clgrad_tensor *w = th_rand(2, wshape, 1, 0.0f, 1.0f), *bad = th_rand(1, w1, 1, 0.0f, 1.0f);
    clgrad_tensor *it = th_tensor_i32(1, ishape, idx), *fidx = th_rand(1, ishape, 2, 0.0f, 1.0f), *y = (clgrad_tensor *)1;
    ck_assert_int_eq(clgrad_embedding(bad, it, &y), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(y);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[4]"));
    ck_assert_int_eq(clgrad_embedding(w, fidx, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_embedding(w, NULL, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_embedding(NULL, it, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_embedding(w, it, NULL), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(w);
    clgrad_tensor_release(bad);
    clgrad_tensor_release(it);
    clgrad_tensor_release(fidx);
}
END_TEST

static Suite *suite_ops_embedding(void)
{
    Suite *s = suite_create("ops_embedding");
    TCase *tc = tcase_create("embedding");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, forward_matches_reference);
    tcase_add_test(tc, out_of_range_indices_give_zero_rows);
    tcase_add_test(tc, backward_matches_reference_and_is_deterministic);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_ops_embedding(), 1); }
