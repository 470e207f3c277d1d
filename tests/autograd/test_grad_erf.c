/* Gradient of clgrad_erf by finite differences (th_gradcheck), on contiguous and strided
 * inputs, alone and inside a small graph (the exact GELU written out, as ONNX graphs
 * exported from PyTorch hold it: x * (1 + erf(x / sqrt 2)) / 2). */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>

static clgrad_status call_erf(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    (void)user;
    return clgrad_erf(in[0], out);
}

START_TEST(erf_gradcheck)
{
    int64_t s[2] = {4, 7};
    for (int layout = 0; layout < 2; layout++) {
        clgrad_tensor *x = th_rand(2, s, 5, -2.5f, 2.5f);
        if (layout) {
            clgrad_tensor *t = th_noncontig(x);
            clgrad_tensor_release(x);
            x = t;
        }
        TH_OK(clgrad_tensor_set_requires_grad(x, 1));
        char what[32];
        snprintf(what, sizeof what, "erf layout %d", layout);
        th_gradcheck(what, call_erf, 1, &x, NULL, 1e-3, 2e-3, 1e-2);
        clgrad_tensor_release(x);
    }
}
END_TEST

static clgrad_status gelu_by_erf(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    (void)user;
    clgrad_tensor *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    clgrad_status st = clgrad_mul_scalar(in[0], 0.70710678f, &a);
    if (st == CLGRAD_OK) st = clgrad_erf(a, &b);
    if (st == CLGRAD_OK) st = clgrad_add_scalar(b, 1.0f, &c);
    if (st == CLGRAD_OK) st = clgrad_mul(in[0], c, &d);
    if (st == CLGRAD_OK) st = clgrad_mul_scalar(d, 0.5f, out);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
    clgrad_tensor_release(c);
    clgrad_tensor_release(d);
    return st;
}

/* The composed GELU must also equal clgrad_gelu, gradient included. */
START_TEST(erf_in_a_graph)
{
    int64_t s[2] = {3, 5};
    clgrad_tensor *x = th_rand(2, s, 9, -3, 3), *y = NULL, *z = NULL;
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    th_gradcheck("gelu written with erf", gelu_by_erf, 1, &x, NULL, 1e-3, 2e-3, 1e-2);
    TH_OK(gelu_by_erf(&x, NULL, &y));
    TH_OK(clgrad_gelu(x, 0, &z));
    float *a = th_read(y), *b = th_read(z);
    th_allclose("gelu written with erf vs clgrad_gelu", a, b, 15, 1e-6, 1e-5);
    free(a);
    free(b);
    clgrad_tensor_release(y);
    clgrad_tensor_release(z);
    clgrad_tensor_release(x);
}
END_TEST

static Suite *suite_autograd_grad_erf(void)
{
    Suite *s = suite_create("autograd_grad_erf");
    TCase *tc = tcase_create("grad_erf");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, erf_gradcheck);
    tcase_add_test(tc, erf_in_a_graph);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_autograd_grad_erf(), 1); }
