/* Threads (the rules in include/clgrad.h): two threads, each with its own context, train the
 * same small network on the same data at the same time and get bit-identical losses, equal
 * to the same training run alone; the default context is one shared context, created once
 * however many threads ask for it at once; releasing it by hand does nothing (it belongs
 * to the library). scripts/run-tests.sh also runs it built with ThreadSanitizer, which finds
 * nothing to report, in our code or in PoCL's, so no suppression file is needed. */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 25

typedef struct run {
    const char *cache_dir;
    float losses[STEPS];
    clgrad_status status;
    char error[512];
} run;

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        if (s == CLGRAD_OK) {                                                                      \
            s = (expr);                                                                            \
            if (s != CLGRAD_OK) snprintf(r->error, sizeof r->error, "%s: %s", #expr,               \
                                         clgrad_last_error(ctx ? ctx : NULL));                     \
        }                                                                                          \
    } while (0)

/* linear(6->16), ReLU, linear(16->3), cross-entropy, SGD with momentum; each step's loss. */
static void *train(void *arg)
{
    run *r = arg;
    clgrad_context *ctx = NULL;
    clgrad_module *net = NULL, *layer = NULL;
    clgrad_optim *opt = NULL;
    clgrad_status s = CLGRAD_OK;
    clgrad_context_desc desc = {.cache_dir = r->cache_dir};
    TRY(clgrad_context_create(&desc, &ctx));
    TRY(clgrad_context_set_gemm_provider(ctx, "own")); /* "auto" times both: runs could differ */
    TRY(clgrad_sequential_create(ctx, &net));
    TRY(clgrad_linear_create(ctx, 6, 16, 1, 11, &layer));
    TRY(clgrad_sequential_add(net, layer));
    TRY(clgrad_activation_create(ctx, CLGRAD_ACT_RELU, 0, 0, &layer));
    TRY(clgrad_sequential_add(net, layer));
    TRY(clgrad_linear_create(ctx, 16, 3, 1, 12, &layer));
    TRY(clgrad_sequential_add(net, layer));
    clgrad_optim_options o = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.05f);
    o.momentum = 0.9f;
    TRY(clgrad_optim_create(net, &o, &opt));
    float xh[32 * 6];
    int32_t yh[32];
    th_fill_uniform(xh, 32 * 6, 5, -1, 1);
    for (int i = 0; i < 32; i++) yh[i] = (xh[6 * i] + xh[6 * i + 1] > 0) + (xh[6 * i + 2] > 0.5f);
    int64_t xs[2] = {32, 6}, ys[1] = {32};
    clgrad_tensor *x = NULL, *y = NULL;
    TRY(clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_F32, 2, xs, xh, &x));
    TRY(clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_I32, 1, ys, yh, &y));
    for (int step = 0; step < STEPS && s == CLGRAD_OK; step++) {
        clgrad_tensor *logits = NULL, *loss = NULL;
        TRY(clgrad_module_forward(net, x, &logits));
        TRY(clgrad_cross_entropy(logits, y, 0.0f, CLGRAD_REDUCTION_MEAN, &loss));
        TRY(clgrad_backward(loss));
        TRY(clgrad_optim_step(opt));
        clgrad_optim_zero_grad(opt);
        TRY(clgrad_tensor_item(loss, &r->losses[step]));
        clgrad_tensor_release(loss);
        clgrad_tensor_release(logits);
    }
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
    clgrad_optim_release(opt);
    clgrad_module_release(net);
    clgrad_context_release(ctx);
    r->status = s;
    return NULL;
}

START_TEST(two_threads_two_contexts_train_to_identical_losses)
{
    char dir[256];
    th_tmpdir(dir, sizeof dir, "threads-cache"); /* shared: both build and store at once */
    run alone = {.cache_dir = "off"}, a = {.cache_dir = dir}, b = {.cache_dir = dir};
    train(&alone);
    ck_assert_msg(alone.status == CLGRAD_OK, "%s", alone.error);
    pthread_t ta, tb;
    ck_assert_int_eq(pthread_create(&ta, NULL, train, &a), 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, train, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ck_assert_msg(a.status == CLGRAD_OK, "thread a: %s", a.error);
    ck_assert_msg(b.status == CLGRAD_OK, "thread b: %s", b.error);
    ck_assert_msg(alone.losses[STEPS - 1] < alone.losses[0], "the loss did not fall: %g -> %g", alone.losses[0],
                  alone.losses[STEPS - 1]);
    for (int i = 0; i < STEPS; i++) {
        ck_assert_msg(memcmp(&a.losses[i], &b.losses[i], sizeof(float)) == 0, "step %d: %.9g vs %.9g", i,
                      a.losses[i], b.losses[i]);
        ck_assert_msg(memcmp(&a.losses[i], &alone.losses[i], sizeof(float)) == 0, "step %d: %.9g vs alone %.9g", i,
                      a.losses[i], alone.losses[i]);
    }
    th_rmtree(dir);
}
END_TEST

static void *get_default(void *out)
{
    *(clgrad_context **)out = clgrad_context_default();
    return NULL;
}

START_TEST(default_context_is_one_shared_context)
{
    enum { N = 4 };
    pthread_t t[N];
    clgrad_context *got[N];
    for (int i = 0; i < N; i++) ck_assert_int_eq(pthread_create(&t[i], NULL, get_default, &got[i]), 0);
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    ck_assert_ptr_nonnull(got[0]);
    for (int i = 1; i < N; i++) ck_assert_ptr_eq(got[i], got[0]);
    /* it belongs to the library: a release by hand does nothing, the next call gets it back */
    clgrad_context_release(got[0]);
    ck_assert_ptr_eq(clgrad_context_default(), got[0]);
    int64_t shape[1] = {3};
    clgrad_tensor *t1 = NULL;
    ck_assert_int_eq(clgrad_tensor_full(got[0], 1, shape, 2.0f, &t1), CLGRAD_OK);
    clgrad_tensor_release(t1);
    clgrad_shutdown(); /* no other thread uses it now, as the rule asks */
    clgrad_shutdown(); /* twice is fine */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("runtime_threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, two_threads_two_contexts_train_to_identical_losses);
    tcase_add_test(tc, default_context_is_one_shared_context);
    suite_add_tcase(s, tc);
    return th_run(s, 1);
}
