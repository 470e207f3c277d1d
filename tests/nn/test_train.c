/* Training end to end: an MLP learns XOR, a small CNN fits a fixed batch of random images,
 * the same seed gives bit-identical losses for 20 steps, and training leaks no tensor or
 * buffer (context counters back to their starting values). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Runs a constructor that writes m, then appends m to seq. */
#define ADD(seq, call)                                                                             \
    do {                                                                                           \
        TH_OK(call);                                                                               \
        TH_OK(clgrad_sequential_add((seq), m));                                                    \
    } while (0)

/* One step: forward, cross entropy, backward, optional clipping, update. Returns the loss. */
static float train_step(clgrad_module *net, clgrad_optim *opt, clgrad_tensor *x, clgrad_tensor *labels,
                        float clip)
{
    clgrad_tensor *logits = NULL, *loss = NULL;
    float value;
    TH_OK(clgrad_module_forward(net, x, &logits));
    TH_OK(clgrad_cross_entropy(logits, labels, 0.0f, CLGRAD_REDUCTION_MEAN, &loss));
    TH_OK(clgrad_backward(loss));
    if (clip > 0) TH_OK(clgrad_optim_clip_grad_norm(opt, clip, NULL));
    TH_OK(clgrad_optim_step(opt));
    clgrad_optim_zero_grad(opt);
    TH_OK(clgrad_tensor_item(loss, &value));
    clgrad_tensor_release(loss);
    clgrad_tensor_release(logits);
    return value;
}

static clgrad_tensor *labels_tensor(int64_t n, const int32_t *lab) { return th_tensor_i32(1, &n, lab); }

START_TEST(mlp_learns_xor)
{
    static const float xh[8] = {0, 0, 0, 1, 1, 0, 1, 1};
    static const int32_t yh[4] = {0, 1, 1, 0};
    int64_t xs[2] = {4, 2};
    clgrad_tensor *x = th_tensor(2, xs, xh), *y = labels_tensor(4, yh);
    clgrad_module *net = NULL, *m = NULL;
    TH_OK(clgrad_sequential_create(th_ctx, &net));
    ADD(net, clgrad_linear_create(th_ctx, 2, 8, 1, 1, &m));
    ADD(net, clgrad_activation_create(th_ctx, CLGRAD_ACT_TANH, 0, 0, &m));
    ADD(net, clgrad_linear_create(th_ctx, 8, 2, 1, 2, &m));
    clgrad_optim_options o = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM, 0.05f);
    clgrad_optim *opt = NULL;
    TH_OK(clgrad_optim_create(net, &o, &opt));
    float first = 0, loss = 0;
    for (int step = 0; step < 300; step++) {
        loss = train_step(net, opt, x, y, 0);
        if (step == 0) first = loss;
    }
    ck_assert_msg(loss < 0.02f, "XOR loss %g after 300 steps (first %g)", (double)loss, (double)first);

    /* The trained network classifies all four points. */
    clgrad_tensor *logits = NULL, *pred = NULL;
    TH_OK(clgrad_module_forward(net, x, &logits));
    TH_OK(clgrad_argmax(logits, 1, 0, &pred));
    int32_t p[4];
    TH_OK(clgrad_tensor_read(pred, p, sizeof p));
    for (int i = 0; i < 4; i++) ck_assert_int_eq(p[i], yh[i]);
    clgrad_tensor_release(pred);
    clgrad_tensor_release(logits);
    clgrad_optim_release(opt);
    clgrad_module_release(net);
    clgrad_tensor_release(x);
    clgrad_tensor_release(y);
}
END_TEST

/* conv-bn-relu-pool, conv-relu, global pool... small enough for the CPU device. */
static clgrad_module *small_cnn(uint64_t seed, float dropout)
{
    clgrad_module *net = NULL, *m = NULL;
    clgrad_conv2d_params c1 = {{1, 1}, {1, 1}, {1, 1}, 1, {0, 0}};
    clgrad_pool2d_params pp = {{2, 2}, {2, 2}, {0, 0}};
    TH_OK(clgrad_sequential_create(th_ctx, &net));
    ADD(net, clgrad_conv2d_create(th_ctx, 1, 8, 3, 3, &c1, 1, seed, &m));
    ADD(net, clgrad_batch_norm2d_create(th_ctx, 8, 1e-5f, 0.1f, 1, &m));
    ADD(net, clgrad_activation_create(th_ctx, CLGRAD_ACT_RELU, 0, 0, &m));
    ADD(net, clgrad_max_pool2d_create(th_ctx, &pp, &m));
    ADD(net, clgrad_flatten_create(th_ctx, 1, -1, &m));
    if (dropout > 0) ADD(net, clgrad_dropout_create(th_ctx, dropout, seed + 1, &m));
    ADD(net, clgrad_linear_create(th_ctx, 8 * 4 * 4, 4, 1, seed + 2, &m));
    return net;
}

START_TEST(cnn_fits_a_fixed_batch)
{
    int64_t xs[4] = {8, 1, 8, 8};
    clgrad_tensor *x = th_rand(4, xs, 5, -1.0f, 1.0f);
    static const int32_t yh[8] = {0, 3, 1, 2, 2, 0, 3, 1};
    clgrad_tensor *y = labels_tensor(8, yh);
    clgrad_module *net = small_cnn(7, 0.0f);
    clgrad_optim_options o = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM, 0.01f);
    clgrad_optim *opt = NULL;
    TH_OK(clgrad_optim_create(net, &o, &opt));
    float first = 0, loss = 0;
    for (int step = 0; step < 80; step++) {
        loss = train_step(net, opt, x, y, 0);
        if (step == 0) first = loss;
    }
    ck_assert_msg(loss < 0.05f, "CNN loss %g after 80 steps (first %g)", (double)loss, (double)first);
    clgrad_optim_release(opt);
    clgrad_module_release(net);
    clgrad_tensor_release(x);
    clgrad_tensor_release(y);
}
END_TEST

/* 20 steps of SGD with Nesterov momentum, weight decay, a warm-up + cosine schedule,
 * clipping, dropout and batch norm; the losses go to out. */
static void twenty_steps(float *out)
{
    int64_t xs[4] = {6, 1, 8, 8};
    clgrad_tensor *x = th_rand(4, xs, 11, -1.0f, 1.0f);
    static const int32_t yh[6] = {1, 0, 3, 2, 1, 3};
    clgrad_tensor *y = labels_tensor(6, yh);
    clgrad_module *net = small_cnn(21, 0.2f);
    clgrad_optim_options o = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.05f);
    o.momentum = 0.9f;
    o.nesterov = 1;
    o.weight_decay = 1e-4f;
    clgrad_optim *opt = NULL;
    TH_OK(clgrad_optim_create(net, &o, &opt));
    clgrad_lr_schedule sched = clgrad_lr_with_warmup(clgrad_lr_cosine(0.05f, 20, 0.001f), 3, 0.1f);
    for (int step = 0; step < 20; step++) {
        clgrad_optim_set_lr(opt, clgrad_lr_at(&sched, step));
        out[step] = train_step(net, opt, x, y, 1.0f);
    }
    clgrad_optim_release(opt);
    clgrad_module_release(net);
    clgrad_tensor_release(x);
    clgrad_tensor_release(y);
}

START_TEST(same_seed_gives_bit_identical_losses)
{
    float a[20], b[20];
    twenty_steps(a);
    twenty_steps(b);
    for (int i = 0; i < 20; i++)
        ck_assert_msg(memcmp(&a[i], &b[i], sizeof(float)) == 0, "step %d: loss %.9g then %.9g", i, (double)a[i],
                      (double)b[i]);
    ck_assert_msg(a[19] < a[0], "loss did not fall: %g -> %g", (double)a[0], (double)a[19]);
}
END_TEST

START_TEST(training_leaks_nothing)
{
    clgrad_context_stats s0, s1, s2, s3;
    float losses[20];
    twenty_steps(losses); /* warm up: programs built, pool filled */
    clgrad_context_trim(th_ctx);
    TH_OK(clgrad_context_get_stats(th_ctx, &s0));

    int64_t xs[4] = {6, 1, 8, 8};
    clgrad_tensor *x = th_rand(4, xs, 12, -1.0f, 1.0f);
    static const int32_t yh[6] = {1, 0, 3, 2, 1, 3};
    clgrad_tensor *y = labels_tensor(6, yh);
    clgrad_module *net = small_cnn(31, 0.2f);
    clgrad_optim_options o = clgrad_optim_defaults(CLGRAD_OPTIM_ADAMW, 0.01f);
    clgrad_optim *opt = NULL;
    TH_OK(clgrad_optim_create(net, &o, &opt));
    for (int step = 0; step < 2; step++) train_step(net, opt, x, y, 1.0f);
    /* After the first steps, a step creates no device buffers: the pool serves them all. */
    TH_OK(clgrad_context_get_stats(th_ctx, &s1));
    for (int step = 0; step < 3; step++) train_step(net, opt, x, y, 1.0f);
    TH_OK(clgrad_context_get_stats(th_ctx, &s2));
    ck_assert_msg(s2.buffers_created == s1.buffers_created, "steps 3-5 created %llu buffers",
                  (unsigned long long)(s2.buffers_created - s1.buffers_created));

    clgrad_optim_release(opt);
    clgrad_module_release(net);
    clgrad_tensor_release(x);
    clgrad_tensor_release(y);
    clgrad_context_trim(th_ctx);
    TH_OK(clgrad_context_get_stats(th_ctx, &s3));
    ck_assert_msg(s3.live_tensors == s0.live_tensors, "live tensors %llu, before %llu",
                  (unsigned long long)s3.live_tensors, (unsigned long long)s0.live_tensors);
    ck_assert_msg(s3.live_buffers == s0.live_buffers, "live buffers %llu, before %llu",
                  (unsigned long long)s3.live_buffers, (unsigned long long)s0.live_buffers);
    ck_assert_msg(s3.pooled_buffers == s0.pooled_buffers, "pooled buffers %llu, before %llu",
                  (unsigned long long)s3.pooled_buffers, (unsigned long long)s0.pooled_buffers);
    ck_assert_msg(s3.device_bytes == s0.device_bytes, "device bytes %llu, before %llu",
                  (unsigned long long)s3.device_bytes, (unsigned long long)s0.device_bytes);
}
END_TEST

static Suite *suite_nn_train(void)
{
    Suite *s = suite_create("nn_train");
    TCase *tc = tcase_create("train");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, mlp_learns_xor);
    tcase_add_test(tc, cnn_fits_a_fixed_batch);
    tcase_add_test(tc, same_seed_gives_bit_identical_losses);
    tcase_add_test(tc, training_leaks_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return th_run(suite_nn_train(), 1);
}
