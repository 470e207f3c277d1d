/* Argument checks of include/clgrad/optim.h: options, optimizers and their accessors,
 * explicit parameter lists, gradient clipping and LR schedules (see tests/support/args.h for
 * what a check expects). */
#include "args.h"

#include <math.h>
#include <string.h>

START_TEST(null_optim)
{
    clgrad_optim *opt;
    clgrad_tensor *o;
    const char *name;
    clgrad_optim_options oo = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.1f);
    clgrad_optim_options zero;
    memset(&zero, 0, sizeof zero);

    /* An unknown kind gives some defaults without crashing; the error comes at create. */
    (void)clgrad_optim_defaults((clgrad_optim_kind)99, 0.1f);
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, opt, clgrad_optim_create(NULL, &oo, &opt));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, opt, clgrad_optim_create_params(NULL, 0, NULL, NULL, &oo, &opt));
    clgrad_optim_release(NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_step(NULL));
    clgrad_optim_zero_grad(NULL);
    EXPECT_TRUE(clgrad_optim_get_lr(NULL) == 0.0f);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_set_lr(NULL, 1.0f));
    clgrad_optim_options got = clgrad_optim_get_options(NULL);
    EXPECT_TRUE(got.lr == 0.0f && got.kind == 0 && got.beta1 == 0.0f);
    EXPECT_TRUE(clgrad_optim_param_count(NULL) == 0);
    name = POISON;
    EXPECT_TRUE(clgrad_optim_param(NULL, 0, &name) == NULL && name == NULL);
    EXPECT_TRUE(clgrad_optim_state_count(NULL) == 0);
    name = POISON;
    EXPECT_TRUE(clgrad_optim_state(NULL, 0, &name) == NULL && name == NULL);
    name = POISON;
    EXPECT_TRUE(clgrad_optim_step_count(NULL, 0, &name) == 0 && name == NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_set_step_count(NULL, 0, 1));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_clip_grad_norm(1, NULL, 1.0f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_clip_grad_norm(NULL, 1.0f, &o));

    /* Schedules are plain values: degenerate ones must not divide by zero. */
    clgrad_lr_schedule s = clgrad_lr_step(0.1f, 0, 0.5f);
    EXPECT_TRUE(isfinite(clgrad_lr_at(&s, 5)));
    s = clgrad_lr_cosine(0.1f, 0, 0.0f);
    EXPECT_TRUE(isfinite(clgrad_lr_at(&s, 5)));
    s = clgrad_lr_with_warmup(clgrad_lr_constant(0.1f), -3, 2.0f);
    EXPECT_TRUE(isfinite(clgrad_lr_at(&s, -7)));
    EXPECT_TRUE(clgrad_lr_at(NULL, 3) == 0.0f);
    ARGS_DONE();
}
END_TEST

START_TEST(bad_optim)
{
    clgrad_module *lin = NULL;
    clgrad_optim *opt = NULL, *o;
    clgrad_tensor *tn;
    clgrad_context *c2 = ta_second_context();
    const char *name;
    TH_OK(clgrad_linear_create(th_ctx, 3, 2, 1, 1, &lin));

    clgrad_optim_options ok = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.1f);
    clgrad_optim_options b = ok;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, NULL, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_create(lin, &ok, NULL));
    b.lr = -1.0f;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, &b, &o));
    b = ok;
    b.lr = NAN;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, &b, &o));
    b = ok;
    b.nesterov = 1;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, &b, &o));
    b = ok;
    b.kind = (clgrad_optim_kind)17;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, &b, &o));
    b = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM, 1e-3f);
    b.beta1 = 1.0f;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, &b, &o));
    b = clgrad_optim_defaults(CLGRAD_OPTIM_ADAMW, 1e-3f);
    b.beta2 = -0.1f;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, &b, &o));
    b = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM, 1e-3f);
    b.eps = -1.0f;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, &b, &o));

    /* Explicit parameter lists. */
    clgrad_tensor *p = ta_f32(2, s23), *q = ta_f32(2, s23), *pi = ta_i32(2, s23), *pc2 = ta_f32_on(c2, 2, s23), *nl = NULL;
    TH_OK(clgrad_tensor_set_requires_grad(p, 1));
    TH_OK(clgrad_tensor_set_requires_grad(pc2, 1));
    TH_OK(clgrad_mul_scalar(p, 2.0f, &nl)); /* not a leaf */
    clgrad_tensor *dup[2] = {p, p}, *withq[2] = {p, q}, *withi[2] = {p, pi}, *withc2[2] = {p, pc2};
    clgrad_tensor *withnull[2] = {p, NULL}, *withnl[2] = {p, nl};
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, -1, dup, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 2, NULL, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 2, withnull, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 2, dup, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 2, withq, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 2, withi, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 2, withc2, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 2, withnl, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 1, dup, NULL, NULL, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_create_params(th_ctx, 1, dup, NULL, &ok, NULL));

    /* An optimizer's accessors out of range. */
    TH_OK(clgrad_optim_create(lin, &ok, &opt));
    name = POISON;
    EXPECT_TRUE(clgrad_optim_param(opt, 2, &name) == NULL && name == NULL);
    name = POISON;
    EXPECT_TRUE(clgrad_optim_param(opt, -1, &name) == NULL && name == NULL);
    name = POISON;
    EXPECT_TRUE(clgrad_optim_state(opt, 0, &name) == NULL && name == NULL); /* SGD without momentum */
    name = POISON;
    EXPECT_TRUE(clgrad_optim_step_count(opt, 2, &name) == 0 && name == NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_set_step_count(opt, 2, 1));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_set_step_count(opt, -1, 1));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_set_step_count(opt, 0, -5));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_set_step_count(opt, 0, INT64_MAX)); /* no room for a step */
    /* A learning rate that would make the weights NaN or climb the loss is refused, and kept. */
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_set_lr(opt, NAN));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_set_lr(opt, INFINITY));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_set_lr(opt, -5.0f));
    EXPECT_TRUE(clgrad_optim_get_lr(opt) == ok.lr);

    /* Clipping. */
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_clip_grad_norm(-1, dup, 1.0f, &tn));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_clip_grad_norm(2, withnull, 1.0f, &tn));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_clip_grad_norm(1, dup, 0.0f, &tn));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_clip_grad_norm(1, dup, -1.0f, &tn));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_clip_grad_norm(1, dup, NAN, &tn));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_clip_grad_norm(2, withc2, 1.0f, &tn));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_optim_clip_grad_norm(opt, 0.0f, &tn));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_optim_clip_grad_norm(opt, NAN, &tn));

    clgrad_optim_release(opt);
    clgrad_tensor *all[] = {p, q, pi, pc2, nl};
    for (int i = 0; i < N_OF(all); i++) clgrad_tensor_release(all[i]);
    clgrad_module_release(lin);
    clgrad_context_release(c2);
    ARGS_DONE();
}
END_TEST

/* Gradient clipping over parameters of two contexts, both with gradients. */
START_TEST(bad_clip_across_contexts)
{
    clgrad_context *c2 = ta_second_context();
    clgrad_tensor *a = ta_f32(2, s23), *a_2 = ta_f32_on(c2, 2, s23), *tn;
    clgrad_tensor *l1 = NULL, *l2 = NULL;
    TH_OK(clgrad_tensor_set_requires_grad(a, 1));
    TH_OK(clgrad_tensor_set_requires_grad(a_2, 1));
    TH_OK(clgrad_sum(a, 0, NULL, 0, &l1));
    TH_OK(clgrad_backward(l1));
    TH_OK(clgrad_sum(a_2, 0, NULL, 0, &l2));
    TH_OK(clgrad_backward(l2));
    clgrad_tensor *both[2] = {a, a_2};
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_clip_grad_norm(2, both, 1.0f, &tn));

    clgrad_tensor *all[] = {a, a_2, l1, l2};
    for (int i = 0; i < N_OF(all); i++) clgrad_tensor_release(all[i]);
    clgrad_context_release(c2);
    ARGS_DONE();
}
END_TEST

int main(void)
{
    const TTest *null_tests[] = {null_optim};
    const TTest *device_tests[] = {bad_optim, bad_clip_across_contexts};
    return ta_main("api_args_optim", null_tests, N_OF(null_tests), device_tests, N_OF(device_tests));
}
