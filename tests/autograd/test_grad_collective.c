/* Gradient of the collective op (src/ops/collective.c) by finite differences: the map is
 * a self-adjoint linear one standing in for a sum over ranks (y = 2x via clgrad_mul_scalar,
 * a new tensor), alone and inside a graph that uses its result twice. */
#include "harness.h"
#include "ops/collective.h"

static clgrad_status twice(void *user, clgrad_tensor *x, clgrad_tensor **out)
{
    (void)user;
    return clgrad_mul_scalar(x, 2.0f, out);
}

static clgrad_status call_collective(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    (void)user;
    return clgrad__collective(in[0], twice, NULL, out);
}

/* (collective(x) - x)^2 * x: the collective's result used beside its input */
static clgrad_status in_a_graph(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    (void)user;
    clgrad_tensor *c = NULL, *d = NULL, *e = NULL;
    clgrad_status st = clgrad__collective(in[0], twice, NULL, &c);
    if (st == CLGRAD_OK) st = clgrad_sub(c, in[0], &d);
    if (st == CLGRAD_OK) st = clgrad_mul(d, d, &e);
    if (st == CLGRAD_OK) st = clgrad_mul(e, in[0], out);
    clgrad_tensor_release(c);
    clgrad_tensor_release(d);
    clgrad_tensor_release(e);
    return st;
}

START_TEST(collective_gradcheck)
{
    int64_t s[2] = {3, 5};
    clgrad_tensor *x = th_rand(2, s, 7, -1.5f, 1.5f);
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    th_gradcheck("collective", call_collective, 1, &x, NULL, 1e-3, 2e-3, 1e-2);
    th_gradcheck("collective in a graph", in_a_graph, 1, &x, NULL, 1e-3, 2e-3, 1e-2);
    clgrad_tensor_release(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("autograd_grad_collective");
    TCase *tc = tcase_create("collective");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, collective_gradcheck);
    suite_add_tcase(s, tc);
    return th_run(s, 1);
}
