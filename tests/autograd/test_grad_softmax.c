/* Finite-difference gradient checks of softmax and log-softmax along every axis, on
 * contiguous and strided inputs. */
#include "harness.h"

typedef struct { int axis, log; } sm_args;

static clgrad_status sm_fn(clgrad_tensor **in, void *u, clgrad_tensor **out)
{
    sm_args *a = u;
    return (a->log ? clgrad_log_softmax : clgrad_softmax)(in[0], a->axis, out);
}

START_TEST(softmax_passes_gradcheck)
{
    int64_t sh[] = {3, 4, 5}, s1[] = {7};
    for (int log = 0; log < 2; log++) {
        for (int axis = -1; axis < 3; axis++)
            for (int nc = 0; nc < 2; nc++) {
                clgrad_tensor *x0 = th_rand(3, sh, (uint64_t)(axis + 5), -2, 2);
                clgrad_tensor *x = nc ? th_noncontig(x0) : clgrad_tensor_retain(x0);
                clgrad_tensor_release(x0);
                TH_OK(clgrad_tensor_set_requires_grad(x, 1));
                sm_args a = {axis, log};
                th_gradcheck(log ? "log_softmax" : "softmax", sm_fn, 1, &x, &a, 1e-2, 1e-3, 3e-3);
                clgrad_tensor_release(x);
            }
        clgrad_tensor *x = th_rand(1, s1, 9, -3, 3);
        TH_OK(clgrad_tensor_set_requires_grad(x, 1));
        sm_args a = {0, log};
        th_gradcheck("softmax 1-d", sm_fn, 1, &x, &a, 1e-2, 1e-3, 3e-3);
        clgrad_tensor_release(x);
    }
}
END_TEST

static Suite *suite_autograd_grad_softmax(void)
{
    Suite *s = suite_create("autograd_grad_softmax");
    TCase *tc = tcase_create("grad_softmax");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, softmax_passes_gradcheck);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_autograd_grad_softmax(), 1); }
