/* Finite-difference gradient checks of the reductions (sum, mean, max, min, var) over
 * several axis sets, with keepdim and strided inputs, plus max/min ties against the
 * reference (the gradient is split evenly among tied elements). */
#include "harness.h"
#include "ref.h"

#include <stdlib.h>

typedef struct {
    int kind, naxes, keepdim, correction;
    int axes[4];
} red_args;

static clgrad_status red_fn(clgrad_tensor **in, void *u, clgrad_tensor **out)
{
    red_args *a = u;
    switch (a->kind) {
    case 0: return clgrad_sum(in[0], a->naxes, a->axes, a->keepdim, out);
    case 1: return clgrad_mean(in[0], a->naxes, a->axes, a->keepdim, out);
    case 2: return clgrad_max(in[0], a->naxes, a->axes, a->keepdim, out);
    case 3: return clgrad_min(in[0], a->naxes, a->axes, a->keepdim, out);
    default: return clgrad_var(in[0], a->naxes, a->axes, a->correction, a->keepdim, out);
    }
}

/* distinct, well separated values so max/min are stable under the finite difference */
static clgrad_tensor *spread(int ndim, const int64_t *shape, int noncontig)
{
    int64_t n = th_numel(ndim, shape);
    float *h = malloc((size_t)n * sizeof *h);
    for (int64_t i = 0; i < n; i++) h[i] = (float)((i * 37) % n) * 0.05f - 0.6f;
    clgrad_tensor *t = th_tensor(ndim, shape, h), *r = noncontig ? th_noncontig(t) : clgrad_tensor_retain(t);
    clgrad_tensor_release(t);
    free(h);
    TH_OK(clgrad_tensor_set_requires_grad(r, 1));
    return r;
}

START_TEST(reductions_pass_gradcheck)
{
    int64_t sh[] = {3, 4, 5};
    red_args cases[] = {
        {0, 0, 0, 0, {0}},    {0, 1, 1, 0, {1}},    {0, 2, 0, 0, {0, 2}}, {1, 1, 0, 0, {-1}}, {1, 2, 1, 0, {2, 0}},
        {2, 1, 0, 0, {1}},    {2, 0, 1, 0, {0}},    {3, 2, 0, 0, {0, 1}}, {3, 1, 1, 0, {2}},  {4, 1, 0, 1, {1}},
        {4, 2, 1, 0, {0, 2}}, {4, 0, 0, 1, {0}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int nc = 0; nc < 2; nc++) {
            clgrad_tensor *x = spread(3, sh, nc);
            th_gradcheck("reduction", red_fn, 1, &x, &cases[c], 1e-2, 2e-3, 2e-3);
            clgrad_tensor_release(x);
        }
}
END_TEST

START_TEST(ties_share_the_gradient)
{
    int64_t sh[] = {2, 6};
    float h[] = {1, 3, 3, 0, 3, -1, 2, 2, 2, 2, 2, 2};
    for (int kind = 2; kind < 4; kind++) {
        clgrad_tensor *x = th_tensor(2, sh, h), *y = NULL;
        TH_OK(clgrad_tensor_set_requires_grad(x, 1));
        int ax[] = {1};
        TH_OK((kind == 2 ? clgrad_max : clgrad_min)(x, 1, ax, 0, &y));
        float dyh[] = {0.9f, -1.5f}, want[12];
        int64_t two = 2;
        clgrad_tensor *dy = th_tensor(1, &two, dyh);
        TH_OK(clgrad_backward_ex(y, dy, 0));
        ref_reduce_backward(kind == 2 ? REF_REDUCE_MAX : REF_REDUCE_MIN, 2, sh, 2u, 0, h, dyh, want);
        float *got = th_read(clgrad_tensor_grad(x));
        th_allclose(kind == 2 ? "max ties" : "min ties", got, want, 12, 1e-7, 1e-6);
        free(got);
        clgrad_tensor_release(dy);
        clgrad_tensor_release(y);
        clgrad_tensor_release(x);
    }
}
END_TEST

static Suite *suite_autograd_grad_reduce(void)
{
    Suite *s = suite_create("autograd_grad_reduce");
    TCase *tc = tcase_create("grad_reduce");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, reductions_pass_gradcheck);
    tcase_add_test(tc, ties_share_the_gradient);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_autograd_grad_reduce(), 1); }
