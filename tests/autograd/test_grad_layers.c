/* Finite-difference gradient checks through every layer: the input and each parameter of
 * the module are checked (th_gradcheck perturbs the parameter tensors in place, and the
 * module reads them on every forward). */
#include <stdlib.h>

#include "harness.h"

typedef struct layer_case {
    clgrad_module *m;
    int reset_counter; /* dropout: replay the same mask on every forward */
} layer_case;

static clgrad_status layer_fn(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    layer_case *c = user;
    if (c->reset_counter) {
        clgrad_status s = clgrad_module_set_counter(c->m, 0, 0);
        if (s != CLGRAD_OK) return s;
    }
    return clgrad_module_forward(c->m, in[0], out);
}

/* Checks d/dx and d/dparam for every parameter of m (x requires grad unless it is i32). */
static void check_layer(const char *what, clgrad_module *m, clgrad_tensor *x, int reset_counter, double eps,
                        double tol)
{
    int np = clgrad_module_param_count(m);
    clgrad_tensor **in = calloc((size_t)np + 1, sizeof *in);
    in[0] = x;
    if (clgrad_tensor_dtype(x) == CLGRAD_DTYPE_F32) TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    for (int i = 0; i < np; i++) in[i + 1] = clgrad_module_param(m, i, NULL);
    layer_case c = {m, reset_counter};
    th_gradcheck(what, layer_fn, np + 1, in, &c, eps, tol, tol);
    free(in);
    clgrad_tensor_release(x);
    clgrad_module_release(m);
}

START_TEST(linear_gradients)
{
    clgrad_module *m = NULL;
    int64_t xs[3] = {2, 3, 4};
    TH_OK(clgrad_linear_create(th_ctx, 4, 3, 1, 1, &m));
    check_layer("linear", m, th_rand(3, xs, 1, -1.0f, 1.0f), 0, 1e-2, 1e-2);
    TH_OK(clgrad_linear_create(th_ctx, 4, 2, 0, 2, &m));
    check_layer("linear no bias", m, th_rand(2, xs + 1, 2, -1.0f, 1.0f), 0, 1e-2, 1e-2);
}
END_TEST

START_TEST(conv_gradients)
{
    clgrad_module *m = NULL;
    clgrad_conv2d_params p = {{2, 1}, {1, 1}, {1, 2}, 2, {0, 0}};
    int64_t xs[4] = {2, 4, 5, 5};
    TH_OK(clgrad_conv2d_create(th_ctx, 4, 2, 3, 2, &p, 1, 3, &m));
    check_layer("conv2d", m, th_rand(4, xs, 3, -1.0f, 1.0f), 0, 1e-2, 2e-2);
    clgrad_conv2d_params q = {{2, 2}, {1, 0}, {1, 1}, 1, {1, 0}};
    int64_t ts[4] = {1, 2, 3, 3};
    TH_OK(clgrad_conv_transpose2d_create(th_ctx, 2, 3, 3, 2, &q, 1, 4, &m));
    check_layer("conv_transpose2d", m, th_rand(4, ts, 4, -1.0f, 1.0f), 0, 1e-2, 2e-2);
}
END_TEST

START_TEST(pool_gradients)
{
    clgrad_module *m = NULL;
    clgrad_pool2d_params p = {{2, 3}, {2, 1}, {1, 1}};
    int64_t xs[4] = {1, 2, 5, 4};
    TH_OK(clgrad_max_pool2d_create(th_ctx, &p, &m));
    check_layer("max_pool2d", m, th_rand(4, xs, 5, -1.0f, 1.0f), 0, 1e-3, 1e-2);
    TH_OK(clgrad_avg_pool2d_create(th_ctx, &p, &m));
    check_layer("avg_pool2d", m, th_rand(4, xs, 6, -1.0f, 1.0f), 0, 1e-2, 1e-2);
    TH_OK(clgrad_adaptive_avg_pool2d_create(th_ctx, 1, 1, &m));
    check_layer("adaptive_avg_pool2d 1x1", m, th_rand(4, xs, 7, -1.0f, 1.0f), 0, 1e-2, 1e-2);
    TH_OK(clgrad_adaptive_avg_pool2d_create(th_ctx, 5, 2, &m));
    check_layer("adaptive_avg_pool2d 5x2", m, th_rand(4, xs, 8, -1.0f, 1.0f), 0, 1e-2, 1e-2);
}
END_TEST

START_TEST(norm_gradients)
{
    clgrad_module *m = NULL;
    int64_t x4[4] = {2, 3, 2, 2}, x2[2] = {5, 3}, x3[3] = {2, 3, 4};
    TH_OK(clgrad_batch_norm2d_create(th_ctx, 3, 1e-5f, 0.1f, 1, &m));
    check_layer("batch_norm2d train", m, th_rand(4, x4, 9, -2.0f, 2.0f), 0, 1e-2, 3e-2);
    TH_OK(clgrad_batch_norm2d_create(th_ctx, 3, 1e-5f, 0.1f, 1, &m));
    clgrad_module_train(m, 0);
    check_layer("batch_norm2d eval", m, th_rand(4, x4, 10, -2.0f, 2.0f), 0, 1e-2, 2e-2);
    TH_OK(clgrad_batch_norm1d_create(th_ctx, 3, 1e-5f, 0.1f, 1, &m));
    check_layer("batch_norm1d", m, th_rand(2, x2, 11, -2.0f, 2.0f), 0, 1e-2, 3e-2);
    TH_OK(clgrad_layer_norm_create(th_ctx, 1, x3 + 2, 1e-5f, 1, &m));
    check_layer("layer_norm", m, th_rand(3, x3, 12, -2.0f, 2.0f), 0, 1e-2, 3e-2);
}
END_TEST

START_TEST(misc_gradients)
{
    clgrad_module *m = NULL;
    int64_t xs[3] = {2, 3, 4};
    TH_OK(clgrad_dropout_create(th_ctx, 0.4f, 5, &m));
    check_layer("dropout", m, th_rand(3, xs, 13, -1.0f, 1.0f), 1, 1e-2, 1e-2);
    TH_OK(clgrad_flatten_create(th_ctx, 0, 1, &m));
    check_layer("flatten", m, th_rand(3, xs, 14, -1.0f, 1.0f), 0, 1e-2, 1e-2);

    TH_OK(clgrad_embedding_create(th_ctx, 6, 3, 6, &m));
    int32_t idx[5] = {1, 4, 1, 0, 5};
    int64_t is[1] = {5};
    clgrad_tensor *ix = NULL;
    TH_OK(clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_I32, 1, is, idx, &ix));
    check_layer("embedding", m, ix, 0, 1e-2, 1e-2);

    static const clgrad_activation acts[] = {CLGRAD_ACT_LEAKY_RELU, CLGRAD_ACT_GELU, CLGRAD_ACT_SILU,
                                             CLGRAD_ACT_TANH, CLGRAD_ACT_SOFTMAX, CLGRAD_ACT_LOG_SOFTMAX};
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        TH_OK(clgrad_activation_create(th_ctx, acts[k], acts[k] == CLGRAD_ACT_LEAKY_RELU ? 0.1f : -1.0f, 0, &m));
        check_layer("activation", m, th_rand(3, xs, 15 + k, -2.0f, 2.0f), 0, 1e-2, 2e-2);
    }
}
END_TEST

START_TEST(sequential_gradients)
{
    clgrad_module *net = NULL, *m = NULL;
    clgrad_conv2d_params cp = {{1, 1}, {1, 1}, {1, 1}, 1, {0, 0}};
    TH_OK(clgrad_sequential_create(th_ctx, &net));
    TH_OK(clgrad_conv2d_create(th_ctx, 1, 2, 3, 3, &cp, 1, 1, &m));
    TH_OK(clgrad_sequential_add(net, m));
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_TANH, 0, 0, &m));
    TH_OK(clgrad_sequential_add(net, m));
    TH_OK(clgrad_flatten_create(th_ctx, 1, -1, &m));
    TH_OK(clgrad_sequential_add(net, m));
    TH_OK(clgrad_linear_create(th_ctx, 2 * 3 * 3, 2, 1, 2, &m));
    TH_OK(clgrad_sequential_add(net, m));
    int64_t xs[4] = {2, 1, 3, 3};
    check_layer("sequential", net, th_rand(4, xs, 21, -1.0f, 1.0f), 0, 1e-2, 2e-2);
}
END_TEST

static Suite *suite_autograd_grad_layers(void)
{
    Suite *s = suite_create("autograd_grad_layers");
    TCase *tc = tcase_create("grad_layers");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, linear_gradients);
    tcase_add_test(tc, conv_gradients);
    tcase_add_test(tc, pool_gradients);
    tcase_add_test(tc, norm_gradients);
    tcase_add_test(tc, misc_gradients);
    tcase_add_test(tc, sequential_gradients);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return th_run(suite_autograd_grad_layers(), 1);
}
