/* Profiling (include/clgrad/profile.h, src/runtime/profile.c): kernels are counted by
 * family, kernel and phase with device times from the events, clgrad_backward and the
 * optimizer mark their phases, host time and blocking transfers are counted per phase, the
 * report names what was recorded, and nothing is recorded outside begin .. end. */
#include "harness.h"
#include "runtime/runtime.h"

#include <stdlib.h>
#include <string.h>

static clgrad_context *pctx;

static void setup(void)
{
    th_setup();
    clgrad_context_desc d = {.flags = CLGRAD_CONTEXT_PROFILING};
    TH_OK(clgrad_context_create(&d, &pctx));
}

static void teardown(void)
{
    clgrad_context_release(pctx);
    pctx = NULL;
    th_teardown();
}

static clgrad_tensor *rand_in(clgrad_context *ctx, int64_t r, int64_t c, uint64_t seed, int grad)
{
    int64_t shape[2] = {r, c};
    float *h = malloc(sizeof(float) * (size_t)(r * c));
    th_fill_uniform(h, (size_t)(r * c), seed, -1, 1);
    clgrad_tensor *t = NULL;
    TH_OK(clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_F32, 2, shape, h, &t));
    free(h);
    if (grad) TH_OK(clgrad_tensor_set_requires_grad(t, 1));
    return t;
}

/* One "training step": forward (matmul, relu, sum), backward, an SGD step, the loss read. */
static void step(clgrad_optim *opt, clgrad_tensor *x, clgrad_tensor *w)
{
    clgrad_tensor *y = NULL, *r = NULL, *l = NULL;
    float v;
    TH_OK(clgrad_profile_set_phase(pctx, CLGRAD_PROFILE_FORWARD));
    TH_OK(clgrad_matmul(x, w, &y));
    TH_OK(clgrad_relu(y, &r));
    TH_OK(clgrad_sum(r, 0, NULL, 0, &l));
    TH_OK(clgrad_backward(l));
    if (pctx->prof) ck_assert_int_eq(clgrad_profile_get_phase(pctx), CLGRAD_PROFILE_FORWARD); /* restored */
    TH_OK(clgrad_optim_step(opt));
    clgrad_optim_zero_grad(opt);
    TH_OK(clgrad_profile_set_phase(pctx, CLGRAD_PROFILE_DATA));
    TH_OK(clgrad_tensor_item(l, &v));
    TH_OK(clgrad_profile_step(pctx));
    clgrad_tensor_release(l);
    clgrad_tensor_release(r);
    clgrad_tensor_release(y);
}

static const clgrad_profile_kernel *find(const clgrad_profile_summary *s, const char *family, const char *prefix,
                                         clgrad_profile_phase ph)
{
    for (int i = 0; i < s->n_kernels; i++)
        if (!strcmp(s->kernels[i].family, family) && !strncmp(s->kernels[i].name, prefix, strlen(prefix)) &&
            s->kernels[i].phase == ph)
            return &s->kernels[i];
    return NULL;
}

START_TEST(records_kernels_phases_and_host_time)
{
    clgrad_tensor *x = rand_in(pctx, 33, 70, 1, 0), *w = rand_in(pctx, 70, 45, 2, 1);
    clgrad_optim *opt = NULL;
    clgrad_optim_options o = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.1f);
    TH_OK(clgrad_optim_create_params(pctx, 1, &w, NULL, &o, &opt));
    step(opt, x, w); /* builds the kernels: not recorded */
    ck_assert_ptr_null(pctx->prof);
    TH_OK(clgrad_profile_begin(pctx));
    ck_assert_ptr_nonnull(pctx->prof);
    for (int i = 0; i < 3; i++) step(opt, x, w);
    TH_OK(clgrad_profile_end(pctx));
    ck_assert_ptr_null(pctx->prof); /* recording stopped: launches cost nothing again */
    step(opt, x, w);                /* and are not counted */

    clgrad_profile_summary s;
    TH_OK(clgrad_profile_get(pctx, &s));
    ck_assert_uint_eq(s.steps, 3);
    ck_assert_int_eq(s.device_times, 1);
    ck_assert_int_gt(s.n_kernels, 3);
    const clgrad_profile_kernel *relu_f = find(&s, "activation", "relu_fwd", CLGRAD_PROFILE_FORWARD);
    const clgrad_profile_kernel *relu_b = find(&s, "activation", "relu_bwd", CLGRAD_PROFILE_BACKWARD);
    ck_assert_ptr_nonnull(relu_f);
    ck_assert_ptr_nonnull(relu_b);
    ck_assert_uint_eq(relu_f->launches, 3);
    ck_assert_uint_eq(relu_b->launches, 3);
    ck_assert(relu_f->device_seconds > 0 && relu_f->host_seconds > 0);
    ck_assert_ptr_nonnull(find(&s, "optim", "sgd", CLGRAD_PROFILE_OPTIMIZER));
    ck_assert_ptr_null(find(&s, "activation", "relu_fwd", CLGRAD_PROFILE_BACKWARD));
    int matmul_fwd = 0;
    uint64_t launches[CLGRAD_PROFILE_PHASES] = {0};
    for (int i = 0; i < s.n_kernels; i++) {
        launches[s.kernels[i].phase] += s.kernels[i].launches;
        matmul_fwd += !strcmp(s.kernels[i].family, "matmul") && s.kernels[i].phase == CLGRAD_PROFILE_FORWARD;
        if (i) ck_assert(s.kernels[i - 1].device_seconds >= s.kernels[i].device_seconds); /* sorted */
    }
    ck_assert_int_gt(matmul_fwd, 0);
    for (int p = 0; p < CLGRAD_PROFILE_PHASES; p++) ck_assert_uint_eq(launches[p], s.host[p].launches);
    /* one blocking read of 4 bytes per step, in the data phase */
    ck_assert_uint_eq(s.host[CLGRAD_PROFILE_DATA].waits, 3);
    ck_assert_uint_eq(s.host[CLGRAD_PROFILE_DATA].transfer_bytes, 12);
    ck_assert_uint_eq(s.host[CLGRAD_PROFILE_FORWARD].waits, 0);
    ck_assert(s.host[CLGRAD_PROFILE_FORWARD].wall_seconds >= s.host[CLGRAD_PROFILE_FORWARD].launch_seconds);
    ck_assert(s.seconds > 0);

    size_t n = clgrad_profile_report(pctx, NULL, 0);
    ck_assert_uint_gt(n, 200);
    char *text = malloc(n + 1);
    ck_assert_uint_eq(clgrad_profile_report(pctx, text, n + 1), n);
    ck_assert_uint_eq(strlen(text), n);
    ck_assert_ptr_nonnull(strstr(text, "3 steps"));
    ck_assert_ptr_nonnull(strstr(text, "relu_fwd_f32"));
    ck_assert_ptr_nonnull(strstr(text, "matmul"));
    ck_assert_ptr_nonnull(strstr(text, "optimizer"));
    char small[32];
    ck_assert_uint_eq(clgrad_profile_report(pctx, small, sizeof small), n); /* cut, but says how long */
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    ck_assert(strncmp(small, text, sizeof small - 1) == 0);
    free(text);

    /* a new profile starts from nothing */
    TH_OK(clgrad_profile_begin(pctx));
    TH_OK(clgrad_profile_end(pctx));
    TH_OK(clgrad_profile_get(pctx, &s));
    ck_assert_int_eq(s.n_kernels, 0);
    ck_assert_uint_eq(s.steps, 0);
    clgrad_optim_release(opt);
    clgrad_tensor_release(w);
    clgrad_tensor_release(x);
}
END_TEST

START_TEST(many_launches_between_steps_are_all_counted)
{
    /* more events than the profiler keeps pending: the oldest are collected on the way */
    clgrad_tensor *x = rand_in(pctx, 4, 4, 3, 0), *y = NULL;
    TH_OK(clgrad_relu(x, &y));
    clgrad_tensor_release(y);
    TH_OK(clgrad_profile_begin(pctx));
    TH_OK(clgrad_profile_set_phase(pctx, CLGRAD_PROFILE_FORWARD));
    for (int i = 0; i < 20000; i++) {
        TH_OK(clgrad_relu(x, &y));
        clgrad_tensor_release(y);
    }
    TH_OK(clgrad_profile_end(pctx));
    clgrad_profile_summary s;
    TH_OK(clgrad_profile_get(pctx, &s));
    const clgrad_profile_kernel *k = find(&s, "activation", "relu_fwd", CLGRAD_PROFILE_FORWARD);
    ck_assert_ptr_nonnull(k);
    ck_assert_uint_eq(k->launches, 20000);
    ck_assert(k->device_seconds > 0);
    clgrad_tensor_release(x);
}
END_TEST

static Suite *suite_runtime_profile(void)
{
    Suite *s = suite_create("runtime_profile");
    TCase *c = tcase_create("profile");
    tcase_add_checked_fixture(c, setup, teardown);
    tcase_add_test(c, records_kernels_phases_and_host_time);
    tcase_add_test(c, many_launches_between_steps_are_all_counted);
    suite_add_tcase(s, c);
    return s;
}

int main(void) { return th_run(suite_runtime_profile(), 1); }
