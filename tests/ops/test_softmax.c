/* Softmax and log-softmax against the references: every axis, shapes with 1, primes and a
 * long row, strided inputs, large logits (stability), backward kernels, repeat runs, every
 * kernel and vector width bit for bit, errors. */
#include "harness.h"
#include "ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ndim, const int64_t *shape, int axis, float scale)
{
    int64_t n = th_numel(ndim, shape);
    int ax = axis < 0 ? axis + ndim : axis;
    size_t outer = 1, inner = 1, L = (size_t)shape[ax];
    for (int d = 0; d < ax; d++) outer *= (size_t)shape[d];
    for (int d = ax + 1; d < ndim; d++) inner *= (size_t)shape[d];
    float *h = malloc((size_t)n * sizeof *h), *want = malloc((size_t)n * sizeof *want);
    th_fill_uniform(h, (size_t)n, (uint64_t)n + (uint64_t)ax, -scale, scale);
    clgrad_tensor *x = th_tensor(ndim, shape, h), *xs = th_noncontig(x);
    for (int log = 0; log < 2; log++) {
        if (log) ref_log_softmax_forward(outer, L, inner, h, want);
        else ref_softmax_forward(outer, L, inner, h, want);
        for (int layout = 0; layout < 2; layout++) {
            clgrad_tensor *y = NULL;
            TH_OK((log ? clgrad_log_softmax : clgrad_softmax)(layout ? xs : x, axis, &y));
            ck_assert_int_eq(clgrad_tensor_ndim(y), ndim);
            float *got = th_read(y);
            char what[96];
            snprintf(what, sizeof what, "%s ndim %d axis %d layout %d", log ? "log_softmax" : "softmax", ndim, axis,
                     layout);
            th_allclose(what, got, want, (size_t)n, log ? 2e-5 * (1 + log10((double)L)) : 1e-6, 1e-4);
            free(got);
            clgrad_tensor_release(y);
        }
    }
    clgrad_tensor_release(x);
    clgrad_tensor_release(xs);
    free(h);
    free(want);
}

START_TEST(forward_matches_reference)
{
    int64_t s1[] = {1}, s2[] = {13, 17}, s3[] = {2, 1, 7}, s4[] = {3, 5, 2, 11}, s5[] = {10};
    check(1, s1, 0, 3.0f);
    check(1, s5, -1, 3.0f);
    for (int a = -2; a < 2; a++) check(2, s2, a, 5.0f);
    for (int a = 0; a < 3; a++) check(3, s3, a, 5.0f);
    for (int a = 0; a < 4; a++) check(4, s4, a, 5.0f);
    check(2, s2, 1, 80.0f); /* exp would overflow without the max subtraction */
}
END_TEST

START_TEST(long_rows_and_repeat_runs)
{
    int64_t s[] = {2, 100003};
    check(2, s, 1, 10.0f);
    clgrad_tensor *x = th_rand(2, s, 3, -20, 20), *a = NULL, *b = NULL;
    TH_OK(clgrad_softmax(x, 1, &a));
    TH_OK(clgrad_softmax(x, 1, &b));
    float *ha = th_read(a), *hb = th_read(b);
    ck_assert(memcmp(ha, hb, (size_t)(2 * 100003) * sizeof *ha) == 0);
    free(ha);
    free(hb);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
    clgrad_tensor_release(x);
}
END_TEST

typedef struct { int axis, log; } sm_args;
static clgrad_status sm_fn(clgrad_tensor **in, void *u, clgrad_tensor **out)
{
    sm_args *a = u;
    return (a->log ? clgrad_log_softmax : clgrad_softmax)(in[0], a->axis, out);
}

START_TEST(backward_matches_reference)
{
    /* the backward kernels against the reference formulas, through clgrad_backward_ex */
    int64_t sh[] = {3, 7, 5};
    int64_t n = 3 * 7 * 5;
    for (int log = 0; log < 2; log++)
        for (int axis = 0; axis < 3; axis++) {
            size_t outer = 1, inner = 1, L = (size_t)sh[axis];
            for (int d = 0; d < axis; d++) outer *= (size_t)sh[d];
            for (int d = axis + 1; d < 3; d++) inner *= (size_t)sh[d];
            clgrad_tensor *x = th_rand(3, sh, 11, -3, 3), *dy = th_rand(3, sh, 12, -1, 1), *y = NULL;
            TH_OK(clgrad_tensor_set_requires_grad(x, 1));
            sm_args a = {axis, log};
            TH_OK(sm_fn(&x, &a, &y));
            TH_OK(clgrad_backward_ex(y, dy, 0));
            float *hy = th_read(y), *hdy = th_read(dy), *got = th_read(clgrad_tensor_grad(x));
            float *want = malloc((size_t)n * sizeof *want);
            if (log) ref_log_softmax_backward(outer, L, inner, hy, hdy, want);
            else ref_softmax_backward(outer, L, inner, hy, hdy, want);
            th_allclose(log ? "log_softmax backward" : "softmax backward", got, want, (size_t)n, 1e-6, 1e-5);
            free(hy);
            free(hdy);
            free(got);
            free(want);
            clgrad_tensor_release(y);
            clgrad_tensor_release(x);
            clgrad_tensor_release(dy);
        }
}
END_TEST

/* softmax / log-softmax of x along axis, forward (bwd 0) or the gradient for dy (bwd 1) */
static float *sm_result(clgrad_tensor *x, clgrad_tensor *dy, int axis, int log, int bwd)
{
    clgrad_tensor *y = NULL;
    TH_OK((log ? clgrad_log_softmax : clgrad_softmax)(x, axis, &y));
    float *h;
    if (bwd) {
        TH_OK(clgrad_backward_ex(y, dy, 0));
        h = th_read(clgrad_tensor_grad(x));
        clgrad_tensor_zero_grad(x);
    } else {
        h = th_read(y);
    }
    clgrad_tensor_release(y);
    return h;
}

START_TEST(kernels_agree_bitwise)
{
    /* every kernel and vector width gives the same bits as the default choice, which gives
     * the same bits again on a repeat run: short, long and odd rows, last and other axes */
    static const struct { int ndim; int64_t shape[3]; int axis; } cases[] = {
        {2, {3, 100003}, 1}, {2, {37, 1000}, 1}, {2, {9, 13}, 1},    {2, {70, 5}, 0},
        {3, {5, 300, 16}, 1}, {3, {2, 129, 23}, 1}, {3, {3, 1000, 8}, 0}, {3, {4, 64, 2}, 1},
        {2, {50, 2}, 1},      {3, {7, 3, 5}, 1}, /* short rows: a work-group each on GPUs */
    };
    static const char *kernels[] = {"item", "wg", "col"}, *widths[] = {"4", "16"};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = (size_t)th_numel(cases[c].ndim, cases[c].shape);
        clgrad_tensor *x = th_rand(cases[c].ndim, cases[c].shape, 20 + c, -10, 10);
        clgrad_tensor *dy = th_rand(cases[c].ndim, cases[c].shape, 40 + c, -1, 1);
        TH_OK(clgrad_tensor_set_requires_grad(x, 1));
        for (int k = 0; k < 4; k++) {
            int log = k & 1, bwd = k >> 1;
            unsetenv("CLGRAD_SOFTMAX_KERNEL");
            unsetenv("CLGRAD_SOFTMAX_VW");
            float *want = sm_result(x, dy, cases[c].axis, log, bwd);
            float *again = sm_result(x, dy, cases[c].axis, log, bwd);
            ck_assert_msg(memcmp(want, again, n * sizeof *want) == 0, "case %zu op %d: repeat differs", c, k);
            free(again);
            for (int kk = 0; kk < 3; kk++)
                for (int w = 0; w < 2; w++) {
                    setenv("CLGRAD_SOFTMAX_KERNEL", kernels[kk], 1);
                    setenv("CLGRAD_SOFTMAX_VW", widths[w], 1);
                    float *got = sm_result(x, dy, cases[c].axis, log, bwd);
                    ck_assert_msg(memcmp(want, got, n * sizeof *want) == 0, "case %zu op %d kernel %s width %s differs",
                                  c, k, kernels[kk], widths[w]);
                    free(got);
                }
            free(want);
        }
        unsetenv("CLGRAD_SOFTMAX_KERNEL");
        unsetenv("CLGRAD_SOFTMAX_VW");
        clgrad_tensor_release(x);
        clgrad_tensor_release(dy);
    }
}
END_TEST

START_TEST(long_axis_not_last)
{
    /* a long reduced axis that is not the last, and rows of 64 and 65 */
    int64_t s1[] = {2, 1000, 17}, s2[] = {3, 64}, s3[] = {3, 65}, s4[] = {65, 3};
    check(3, s1, 1, 10.0f);
    check(2, s2, 1, 10.0f);
    check(2, s3, 1, 10.0f);
    check(2, s4, 0, 10.0f);
    setenv("CLGRAD_SOFTMAX_KERNEL", "wg", 1);
    check(3, s1, 1, 10.0f);
    unsetenv("CLGRAD_SOFTMAX_KERNEL");
}
END_TEST

START_TEST(errors)
{
    int64_t sh[] = {2, 3};
    clgrad_tensor *x = th_rand(2, sh, 1, -1, 1), *y = (clgrad_tensor *)1;
    ck_assert_int_eq(clgrad_softmax(x, 2, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(y);
    const char *m = clgrad_last_error(th_ctx);
    ck_assert_msg(strstr(m, "axis 2") && strstr(m, "[2, 3]"), "message: %s", m);
    ck_assert_int_eq(clgrad_log_softmax(x, -3, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_softmax(NULL, 0, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_softmax(x, 0, NULL), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor *xi = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, 2, sh, &xi));
    ck_assert_int_eq(clgrad_softmax(xi, 0, &y), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(xi);
    clgrad_tensor_release(x);
}
END_TEST

static Suite *suite_ops_softmax(void)
{
    Suite *s = suite_create("ops_softmax");
    TCase *tc = tcase_create("softmax");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, forward_matches_reference);
    tcase_add_test(tc, long_rows_and_repeat_runs);
    tcase_add_test(tc, backward_matches_reference);
    tcase_add_test(tc, kernels_agree_bitwise);
    tcase_add_test(tc, long_axis_not_last);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_ops_softmax(), 1); }
