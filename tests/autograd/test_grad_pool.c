/* Finite-difference gradient checks of max, average and global average pooling. Max
 * pooling gets well separated input values so a finite-difference step never changes
 * which tap wins. */
#include "harness.h"

#include <stdlib.h>

static clgrad_status run_max(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    return clgrad_max_pool2d(in[0], user, out, NULL);
}

static clgrad_status run_avg(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    return clgrad_avg_pool2d(in[0], user, out);
}

static clgrad_status run_global(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    (void)user;
    return clgrad_global_avg_pool2d(in[0], out);
}

/* Distinct values 0.05 apart in a scrambled order. */
static clgrad_tensor *separated(int64_t n, int64_t c, int64_t h, int64_t w)
{
    int64_t s[4] = {n, c, h, w}, m = n * c * h * w;
    float *v = malloc((size_t)m * sizeof *v);
    for (int64_t i = 0; i < m; i++) v[i] = 0.05f * (float)((i * 7919) % m) - 1.0f;
    clgrad_tensor *t = th_tensor(4, s, v);
    free(v);
    return t;
}

static void check(const char *what, th_fn fn, clgrad_pool2d_params *p, int64_t n, int64_t c, int64_t h, int64_t w)
{
    clgrad_tensor *x = separated(n, c, h, w);
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    th_gradcheck(what, fn, 1, &x, p, 1e-3, 2e-3, 1e-2);
    clgrad_tensor_release(x);
}

START_TEST(max_pool_grad)
{
    clgrad_pool2d_params a = {{2, 2}, {0, 0}, {0, 0}};
    check("max 2x2", run_max, &a, 2, 2, 5, 6);
    clgrad_pool2d_params b = {{3, 3}, {2, 1}, {1, 1}};
    check("max 3x3 overlapping, padded", run_max, &b, 1, 2, 7, 5);
}
END_TEST

START_TEST(avg_pool_grad)
{
    clgrad_pool2d_params a = {{2, 2}, {0, 0}, {0, 0}};
    check("avg 2x2", run_avg, &a, 2, 2, 5, 6);
    clgrad_pool2d_params b = {{3, 2}, {2, 1}, {1, 1}};
    check("avg 3x2 overlapping, padded", run_avg, &b, 1, 2, 7, 5);
}
END_TEST

START_TEST(global_avg_pool_grad) { check("global avg", run_global, NULL, 2, 3, 4, 5); }
END_TEST

static Suite *suite_autograd_grad_pool(void)
{
    Suite *s = suite_create("autograd_grad_pool");
    TCase *tc = tcase_create("gradcheck");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, max_pool_grad);
    tcase_add_test(tc, avg_pool_grad);
    tcase_add_test(tc, global_avg_pool_grad);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_autograd_grad_pool(), 1); }
