/* Argument checks of include/clgrad/autograd.h: requires_grad, gradients, backward, detach
 * and no-grad scopes (see tests/support/args.h for what a check expects). */
#include "args.h"

static const ta_unary autograd_ops[] = {
    {"detach", clgrad_detach, 0},
};

START_TEST(null_autograd)
{
    clgrad_tensor *o;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_set_requires_grad(NULL, 1));
    EXPECT_TRUE(clgrad_tensor_requires_grad(NULL) == 0);
    EXPECT_TRUE(clgrad_tensor_grad(NULL) == NULL);
    clgrad_tensor_zero_grad(NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_backward(NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_backward_ex(NULL, NULL, 0));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_detach(NULL, &o));
    clgrad_no_grad_begin(NULL);
    clgrad_no_grad_end(NULL);
    EXPECT_TRUE(clgrad_grad_enabled(NULL) == 0);
    ta_unary_null(autograd_ops, N_OF(autograd_ops));
    ARGS_DONE();
}
END_TEST

START_TEST(bad_autograd)
{
    clgrad_tensor *x = ta_f32(2, s23), *xi = ta_i32(2, s23), *y = NULL, *g = ta_f32(2, s45), *o;
    clgrad_context *c2 = ta_second_context();
    int64_t one[1] = {1};
    clgrad_tensor *g2 = ta_f32_on(c2, 2, s23), *gi = ta_i32(2, s23), *s = NULL, *noreq = ta_f32(1, one);

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_set_requires_grad(xi, 1));
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    TH_OK(clgrad_mul_scalar(x, 2.0f, &y));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_set_requires_grad(y, 1));
    EXPECT(CLGRAD_ERR_SHAPE, clgrad_backward(y));
    EXPECT(CLGRAD_ERR_SHAPE, clgrad_backward_ex(y, NULL, 0));
    EXPECT_MSG(CLGRAD_ERR_SHAPE, "[4, 5]", clgrad_backward_ex(y, g, 0));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_backward_ex(y, gi, 0));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_backward_ex(y, g2, 0));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_backward(noreq));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_detach(x, NULL));
    TH_OK(clgrad_sum(y, 0, NULL, 0, &s));
    TH_OK(clgrad_backward(s));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_backward(s)); /* the graph was freed */
    clgrad_tensor_zero_grad(x);
    EXPECT_TRUE(clgrad_tensor_grad(x) == NULL);
    clgrad_no_grad_end(th_ctx); /* unbalanced end: no effect */
    EXPECT_TRUE(clgrad_grad_enabled(th_ctx) == 1);
    (void)o;

    clgrad_tensor *all[] = {x, xi, y, g, g2, gi, s, noreq};
    for (int i = 0; i < N_OF(all); i++) clgrad_tensor_release(all[i]);
    clgrad_context_release(c2);
    ta_unary_invalid(autograd_ops, N_OF(autograd_ops));
    ARGS_DONE();
}
END_TEST

int main(void)
{
    const TTest *null_tests[] = {null_autograd};
    const TTest *device_tests[] = {bad_autograd};
    return ta_main("api_args_autograd", null_tests, N_OF(null_tests), device_tests, N_OF(device_tests));
}
