/* Finite-difference gradient check of dropout: with a fixed seed the mask is fixed, so the
 * op is linear in x. */
#include "harness.h"

static clgrad_status drop_fn(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    return clgrad_dropout(in[0], *(float *)user, 1234, 1, out);
}

START_TEST(dropout_gradients)
{
    int64_t s[3] = {2, 3, 7};
    static float ps[] = {0.3f, 0.7f};
    for (int k = 0; k < 2; k++) {
        clgrad_tensor *in[1] = {th_rand(3, s, 1, -1.0f, 1.0f)};
        TH_OK(clgrad_tensor_set_requires_grad(in[0], 1));
        th_gradcheck("dropout", drop_fn, 1, in, &ps[k], 1e-2, 1e-3, 1e-3);
        clgrad_tensor_release(in[0]);
    }
}
END_TEST

static Suite *suite_autograd_grad_dropout(void)
{
    Suite *s = suite_create("autograd_grad_dropout");
    TCase *tc = tcase_create("grad_dropout");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, dropout_gradients);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_autograd_grad_dropout(), 1); }
