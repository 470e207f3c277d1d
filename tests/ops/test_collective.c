/* The collective op of src/ops/collective.c (what synchronised batch norm sums its
 * statistics with) against a plain-C reference: with a linear self-adjoint map standing in
 * for the sum over ranks (here y = 3x, computed on the host), forward and backward on
 * contiguous and strided inputs; and the checks of what the map hands back. */
#include "harness.h"
#include "ops/collective.h"

#include <stdlib.h>

/* y = 3 x through host memory, as the data-parallel layer's reduction goes. */
static clgrad_status triple(void *user, clgrad_tensor *x, clgrad_tensor **out)
{
    int *calls = user;
    int64_t n = clgrad_tensor_numel(x), shape[CLGRAD_MAX_DIMS];
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    clgrad_status st = clgrad_tensor_read(x, h, (size_t)n * sizeof *h);
    for (int64_t i = 0; i < n; i++) h[i] *= 3.0f;
    clgrad_tensor_shape(x, shape);
    if (st == CLGRAD_OK)
        st = clgrad_tensor_from_host(clgrad_tensor_context(x), CLGRAD_DTYPE_F32, clgrad_tensor_ndim(x), shape, h, out);
    free(h);
    if (calls) ++*calls;
    return st;
}

static clgrad_status same_tensor(void *user, clgrad_tensor *x, clgrad_tensor **out)
{
    (void)user;
    *out = clgrad_tensor_retain(x);
    return CLGRAD_OK;
}

START_TEST(collective_matches_reference)
{
    int64_t s[2] = {5, 7};
    float h[35], dy[35];
    th_fill_uniform(h, 35, 3, -2, 2);
    th_fill_uniform(dy, 35, 4, -1, 1);
    for (int layout = 0; layout < 2; layout++) {
        int calls = 0;
        clgrad_tensor *x = th_tensor(2, s, h), *y = NULL, *g = th_tensor(2, s, dy);
        if (layout) th_make_noncontig(&x);
        TH_OK(clgrad_tensor_set_requires_grad(x, 1));
        TH_OK(clgrad__collective(x, triple, &calls, &y));
        ck_assert_int_eq(calls, 1);
        float *got = th_read(y), want[35];
        for (int i = 0; i < 35; i++) want[i] = 3.0f * h[i];
        th_allclose("collective forward", got, want, 35, 0, 0);
        TH_OK(clgrad_backward_ex(y, g, 0));
        ck_assert_int_eq(calls, 2); /* the backward ran the map on the gradient */
        float *gx = th_read(clgrad_tensor_grad(x));
        for (int i = 0; i < 35; i++) want[i] = 3.0f * dy[i];
        th_allclose("collective backward", gx, want, 35, 0, 0);
        free(got);
        free(gx);
        clgrad_tensor_release(y);
        clgrad_tensor_release(g);
        clgrad_tensor_release(x);
    }
}
END_TEST

START_TEST(collective_checks_the_map)
{
    int64_t s[1] = {4};
    clgrad_tensor *x = th_rand(1, s, 1, 0, 1), *y = (clgrad_tensor *)1;
    ck_assert_int_eq(clgrad__collective(x, same_tensor, NULL, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(y);
    ck_assert_int_eq(clgrad__collective(x, NULL, NULL, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad__collective(NULL, triple, NULL, &y), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ops_collective");
    TCase *tc = tcase_create("collective");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, collective_matches_reference);
    tcase_add_test(tc, collective_checks_the_map);
    suite_add_tcase(s, tc);
    return th_run(s, 1);
}
