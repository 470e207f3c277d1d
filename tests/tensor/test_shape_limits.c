/* Hostile shapes: every tensor the library makes (creation, every view, every op's output)
 * passes one overflow-checked validation, so sizes that overflow int64 or size_t, negative
 * sizes and views reaching outside their buffer are errors, never wrapped counts. */
#include "harness.h"

#include "tensor/tensor.h"

#include <stdlib.h>
#include <string.h>

#define P31 ((int64_t)1 << 31)

START_TEST(numel_never_wraps)
{
    int64_t a[2] = {7378697629483820648LL, 5}; /* the product wraps to 8 in 64 bits */
    int64_t b[3] = {P31, P31, P31};            /* wraps to 0 */
    int64_t c[2] = {3, -1};
    int64_t d[1] = {INT64_MAX};
    int64_t e[3] = {0, INT64_MAX, INT64_MAX};
    ck_assert_int_eq(clgrad__numel(2, a), -1);
    ck_assert_int_eq(clgrad__numel(3, b), -1);
    ck_assert_int_eq(clgrad__numel(2, c), -1);
    ck_assert_int_eq(clgrad__numel(1, d), INT64_MAX);
    ck_assert_int_eq(clgrad__numel(3, e), 0);
    ck_assert_int_eq(clgrad__numel(0, NULL), 1);
}
END_TEST

/* The repro: 8 elements viewed as [7378697629483820648, 5] (the count wraps to 8). */
START_TEST(reshape_to_a_wrapping_shape_fails)
{
    int64_t eight[1] = {8};
    clgrad_tensor *x = NULL, *r = (clgrad_tensor *)&x;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, eight, &x));
    int64_t bad[2] = {7378697629483820648LL, 5};
    ck_assert_int_eq(clgrad_reshape(x, 2, bad, &r), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "7378697629483820648"));
    /* with an inferred dim the wrapped count would divide 8 evenly */
    int64_t inferred[3] = {-1, 7378697629483820648LL, 5};
    ck_assert_int_eq(clgrad_reshape(x, 3, inferred, &r), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad__reshape_view(x, 2, bad, &r), CLGRAD_ERR_SHAPE);
    int64_t neg[2] = {-2, -4};
    ck_assert_int_eq(clgrad_reshape(x, 2, neg, &r), CLGRAD_ERR_SHAPE);
    int64_t two_inferred[3] = {-1, -1, 2};
    ck_assert_int_eq(clgrad_reshape(x, 3, two_inferred, &r), CLGRAD_ERR_SHAPE);
    clgrad_tensor_release(x);
}
END_TEST

/* The repro: [2^31, 2^31, 2^31] had numel 0, so sum() gave 0 with CLGRAD_OK. */
START_TEST(expand_past_int64_fails)
{
    int64_t one[3] = {1, 1, 1};
    clgrad_tensor *x = NULL, *e = NULL, *s = NULL;
    TH_OK(clgrad_tensor_ones(th_ctx, 3, one, &x));
    int64_t huge[3] = {P31, P31, P31};
    clgrad_status st = clgrad_expand(x, 3, huge, &e);
    if (st == CLGRAD_OK) { /* before the fix: show what the caller got */
        clgrad_status ss = clgrad_sum(e, 0, NULL, 0, &s);
        float v = -1;
        if (ss == CLGRAD_OK) clgrad_tensor_item(s, &v);
        ck_abort_msg("expand to [2^31]^3 returned OK with numel %lld; sum -> %s, %g",
                     (long long)clgrad_tensor_numel(e), clgrad_status_name(ss), (double)v);
    }
    ck_assert_int_eq(st, CLGRAD_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "too many elements"));
    /* numel fits int64, but its bytes do not (2^62 floats) */
    int64_t big[2] = {P31, P31};
    ck_assert_int_eq(clgrad_expand(x, 2, big, &e), CLGRAD_ERR_SHAPE);
    /* a large expansion that does fit is a view like any other */
    int64_t fits[3] = {P31, 1024, 1};
    TH_OK(clgrad_expand(x, 3, fits, &e));
    ck_assert_int_eq(clgrad_tensor_numel(e), P31 * 1024);
    clgrad_tensor_release(e);
    int64_t negative[3] = {-5, 1, 1};
    ck_assert_int_eq(clgrad_expand(x, 3, negative, &e), CLGRAD_ERR_SHAPE);
    int64_t lead_neg[4] = {-1, 1, 1, 1};
    ck_assert_int_eq(clgrad_expand(x, 4, lead_neg, &e), CLGRAD_ERR_SHAPE);
    clgrad_tensor_release(x);
}
END_TEST

/* Python's rule for x[start:stop:step] along a dim of n (step >= 1), in exact arithmetic. */
static int64_t py_slice(int64_t n, int64_t start, int64_t stop, int64_t step, int64_t *first)
{
    if (start < 0) start = start < -n ? 0 : start + n;
    if (stop < 0) stop = stop < -n ? 0 : stop + n;
    if (start > n) start = n;
    if (stop > n) stop = n;
    *first = start;
    if (stop <= start) return 0;
    return (stop - start - 1) / step + 1;
}

/* The repro: slice(x, 1, 0, 10, INT64_MAX - 5) gave shape [10, -1]. Huge starts,
 * stops and steps clamp as in Python and PyTorch. */
START_TEST(slice_with_huge_bounds_clamps)
{
    float v[100];
    for (int i = 0; i < 100; i++) v[i] = (float)i;
    int64_t shape[2] = {10, 10};
    clgrad_tensor *x = th_tensor(2, shape, v);
    static const int64_t cases[][3] = {
        {0, 10, INT64_MAX - 5}, {0, 10, INT64_MAX},     {INT64_MIN, INT64_MAX, 1}, {INT64_MAX, INT64_MIN, 1},
        {-INT64_MAX, 3, INT64_MAX}, {INT64_MIN, INT64_MAX, 3}, {9, INT64_MAX, INT64_MAX}, {-1, INT64_MAX, 2},
        {INT64_MIN, -1, 4},     {2, 9, 3},               {10, 10, 1},               {-11, -10, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int64_t first, len = py_slice(10, cases[k][0], cases[k][1], cases[k][2], &first);
        clgrad_tensor *s = NULL;
        TH_OK(clgrad_slice(x, 1, cases[k][0], cases[k][1], cases[k][2], &s));
        ck_assert_msg(clgrad_tensor_dim(s, 1) == len, "case %zu: dim 1 is %lld, want %lld", k,
                      (long long)clgrad_tensor_dim(s, 1), (long long)len);
        ck_assert_int_eq(clgrad_tensor_dim(s, 0), 10);
        if (len > 0) {
            float *h = th_read(s);
            for (int64_t i = 0; i < 10; i++)
                for (int64_t j = 0; j < len; j++)
                    ck_assert_float_eq(h[i * len + j], v[i * 10 + first + j * cases[k][2]]);
            free(h);
        }
        clgrad_tensor_release(s);
    }
    clgrad_tensor_release(x);
}
END_TEST

/* Nine inputs whose sizes along dim 0 sum to 2^64 + 8: the total wrapped to 8 and the
 * copies wrote 2^61 elements each into an 8-element buffer. */
START_TEST(concat_sizes_are_checked)
{
    int64_t one[1] = {1}, sixteen[1] = {16}, big[1] = {((int64_t)1 << 61) - 1};
    clgrad_tensor *x = NULL, *small = NULL, *ins[9] = {0}, *y = (clgrad_tensor *)&x;
    TH_OK(clgrad_tensor_ones(th_ctx, 1, one, &x));
    TH_OK(clgrad_tensor_ones(th_ctx, 1, sixteen, &small));
    for (int k = 0; k < 8; k++) TH_OK(clgrad_expand(x, 1, big, &ins[k]));
    ins[8] = clgrad_tensor_retain(small);
    ck_assert_int_eq(clgrad_cat(9, ins, 0, &y), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(y);
    ck_assert_int_eq(clgrad_cat(5, ins, 0, &y), CLGRAD_ERR_SHAPE); /* 5 * 2^61 > INT64_MAX */
    ck_assert_int_eq(clgrad_cat(4, ins, 0, &y), CLGRAD_ERR_SHAPE); /* fits int64, but not in bytes */
    /* a stack of the same views: one new dim of 9, but 9 * 2^61 elements */
    ck_assert_int_eq(clgrad_stack(8, ins, 0, &y), CLGRAD_ERR_SHAPE);
    for (int k = 0; k < 9; k++) clgrad_tensor_release(ins[k]);
    /* empty inputs: the parts of an empty result sit at offsets past its (empty) buffer */
    int64_t empty[4] = {0, 2, 0, 1}, want[5] = {4, 0, 2, 0, 1}, got[5];
    clgrad_tensor *e = NULL, *es[4];
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 4, empty, &e));
    for (int k = 0; k < 4; k++) es[k] = e;
    TH_OK(clgrad_stack(4, es, 0, &y));
    clgrad_tensor_shape(y, got);
    ck_assert_int_eq(clgrad_tensor_ndim(y), 5);
    ck_assert_mem_eq(got, want, sizeof want);
    clgrad_tensor_release(y);
    TH_OK(clgrad_cat(4, es, 1, &y));
    ck_assert_int_eq(clgrad_tensor_dim(y, 1), 8);
    clgrad_tensor_release(y);
    clgrad_tensor_release(e);
    clgrad_tensor_release(small);
    clgrad_tensor_release(x);
}
END_TEST

/* Op outputs: a broadcast of two big (valid) views whose result overflows is refused. */
START_TEST(op_outputs_are_checked)
{
    int64_t one[2] = {1, 1}, tall[2] = {(int64_t)1 << 40, 1}, wide[2] = {1, (int64_t)1 << 40};
    clgrad_tensor *x = NULL, *a = NULL, *b = NULL, *y = (clgrad_tensor *)&x;
    TH_OK(clgrad_tensor_ones(th_ctx, 2, one, &x));
    TH_OK(clgrad_expand(x, 2, tall, &a));
    TH_OK(clgrad_expand(x, 2, wide, &b));
    ck_assert_int_eq(clgrad_add(a, b, &y), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(y);
    ck_assert_int_eq(clgrad_matmul(a, b, &y), CLGRAD_ERR_SHAPE);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
    clgrad_tensor_release(x);
    /* creation: counts whose bytes overflow int64 or size_t */
    int64_t bytes_overflow[1] = {INT64_MAX / 4 + 1}, neg[2] = {2, -3};
    clgrad_tensor *t = NULL;
    ck_assert_int_eq(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 1, bytes_overflow, &t), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, 1, bytes_overflow, &t), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 2, neg, &t), CLGRAD_ERR_SHAPE);
    /* [0, huge, huge] holds no element, but its contiguous strides would overflow */
    int64_t empty_huge[3] = {0, (int64_t)1 << 40, (int64_t)1 << 40};
    ck_assert_int_eq(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 3, empty_huge, &t), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(t);
}
END_TEST

/* The one validation every constructor runs: a view must stay inside its buffer. */
START_TEST(views_stay_inside_their_buffer)
{
    int64_t eight[1] = {8};
    clgrad_tensor *x = NULL, *v = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, eight, &x));
    int64_t s4[1] = {4}, s8[1] = {8}, s9[1] = {9}, s1[1] = {1}, s0[1] = {0};
    int64_t st1[1] = {1}, st2[1] = {2}, stneg[1] = {-1}, stbig[1] = {INT64_MAX};
    TH_OK(clgrad__tensor_view(x, 1, s4, st2, 1, &v)); /* elements 1, 3, 5, 7 */
    clgrad_tensor_release(v);
    TH_OK(clgrad__tensor_view(x, 1, s8, st1, 0, &v));
    clgrad_tensor_release(v);
    TH_OK(clgrad__tensor_view(x, 1, s0, st1, 100, &v)); /* empty: no element is addressed */
    ck_assert_int_eq(v->offset, 0);
    clgrad_tensor_release(v);
    v = NULL;
    ck_assert_int_eq(clgrad__tensor_view(x, 1, s9, st1, 0, &v), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad__tensor_view(x, 1, s4, st2, 2, &v), CLGRAD_ERR_SHAPE); /* reaches element 8 */
    ck_assert_int_eq(clgrad__tensor_view(x, 1, s1, st1, 8, &v), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad__tensor_view(x, 1, s1, st1, -1, &v), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad__tensor_view(x, 1, s4, stneg, 3, &v), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad__tensor_view(x, 1, s4, stbig, 0, &v), CLGRAD_ERR_SHAPE); /* 3 * INT64_MAX */
    ck_assert_int_eq(clgrad__tensor_view(x, 9, s4, st1, 0, &v), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(v);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "dimensions"));
    clgrad_tensor_release(x);
}
END_TEST

static Suite *suite_shape_limits(void)
{
    Suite *s = suite_create("tensor_shape_limits");
    TCase *tc = tcase_create("shape_limits");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, numel_never_wraps);
    tcase_add_test(tc, reshape_to_a_wrapping_shape_fails);
    tcase_add_test(tc, expand_past_int64_fails);
    tcase_add_test(tc, slice_with_huge_bounds_clamps);
    tcase_add_test(tc, concat_sizes_are_checked);
    tcase_add_test(tc, op_outputs_are_checked);
    tcase_add_test(tc, views_stay_inside_their_buffer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_shape_limits(), 1); }
