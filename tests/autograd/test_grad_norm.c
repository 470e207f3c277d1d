/* Finite-difference gradient checks of batch norm (training and eval) and layer norm for
 * every differentiable input. */
#include "harness.h"

typedef struct bn_args {
    clgrad_tensor *rm, *rv;
    int training;
} bn_args;

static clgrad_status bn_fn(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    bn_args *a = user;
    return clgrad_batch_norm(in[0], in[1], in[2], a->rm, a->rv, a->training, 0.1f, 1e-5f, out);
}

static clgrad_status ln_fn(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    return clgrad_layer_norm(in[0], *(int *)user, in[1], in[2], 1e-5f, out);
}

static void bn_check(int ndim, const int64_t *shape, int training, int affine)
{
    int64_t c[1] = {shape[1]};
    clgrad_tensor *in[3] = {th_rand(ndim, shape, 1, -2.0f, 2.0f), NULL, NULL};
    if (affine) {
        in[1] = th_rand(1, c, 2, 0.5f, 1.5f);
        in[2] = th_rand(1, c, 3, -1.0f, 1.0f);
    }
    bn_args a = {NULL, NULL, training};
    if (!training) {
        a.rm = th_rand(1, c, 4, -0.5f, 0.5f);
        a.rv = th_rand(1, c, 5, 0.5f, 1.5f);
    }
    for (int i = 0; i < 3; i++)
        if (in[i]) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1));
    th_gradcheck(training ? "batch_norm train" : "batch_norm eval", bn_fn, 3, in, &a, 1e-2, 2e-2, 2e-2);
    for (int i = 0; i < 3; i++) clgrad_tensor_release(in[i]);
    clgrad_tensor_release(a.rm);
    clgrad_tensor_release(a.rv);
}

START_TEST(batch_norm_gradients)
{
    int64_t s2[2] = {4, 3}, s4[4] = {2, 3, 2, 3};
    bn_check(2, s2, 1, 1);
    bn_check(4, s4, 1, 1);
    bn_check(4, s4, 1, 0);
    bn_check(4, s4, 0, 1);
}
END_TEST

static void ln_check(int ndim, const int64_t *shape, int k, int affine)
{
    clgrad_tensor *in[3] = {th_rand(ndim, shape, 7, -2.0f, 2.0f), NULL, NULL};
    if (affine) {
        in[1] = th_rand(k, shape + ndim - k, 8, 0.5f, 1.5f);
        in[2] = th_rand(k, shape + ndim - k, 9, -1.0f, 1.0f);
    }
    for (int i = 0; i < 3; i++)
        if (in[i]) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1));
    th_gradcheck("layer_norm", ln_fn, 3, in, &k, 1e-2, 2e-2, 2e-2);
    for (int i = 0; i < 3; i++) clgrad_tensor_release(in[i]);
}

START_TEST(layer_norm_gradients)
{
    int64_t s2[2] = {3, 5}, s3[3] = {2, 3, 4};
    ln_check(2, s2, 1, 1);
    ln_check(3, s3, 2, 1);
    ln_check(3, s3, 1, 0);
}
END_TEST

static Suite *suite_autograd_grad_norm(void)
{
    Suite *s = suite_create("autograd_grad_norm");
    TCase *tc = tcase_create("grad_norm");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, batch_norm_gradients);
    tcase_add_test(tc, layer_norm_gradients);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_autograd_grad_norm(), 1); }
