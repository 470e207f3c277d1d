/* Optimizers (src/optim): several steps of SGD (momentum, dampening, Nesterov, weight
 * decay), Adam and AdamW against the references, state names and step counts, gradient
 * clipping, learning-rate schedules, and errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref.h"

#define NP 2
static const int64_t sizes[NP] = {7, 12};

/* Gives each parameter the gradient gh[i] (host) through a backward of sum(p * g). */
static void set_grads(clgrad_tensor **p, float **gh)
{
    for (int i = 0; i < NP; i++) {
        clgrad_tensor *g = th_tensor(1, &sizes[i], gh[i]), *pg = NULL, *l = NULL;
        TH_OK(clgrad_mul(p[i], g, &pg));
        TH_OK(clgrad_sum(pg, 0, NULL, 0, &l));
        TH_OK(clgrad_backward(l));
        clgrad_tensor_release(l);
        clgrad_tensor_release(pg);
        clgrad_tensor_release(g);
    }
}

static void run_against_reference(const clgrad_optim_options *o, int steps)
{
    clgrad_tensor *p[NP];
    float *ph[NP], *gh[NP], *s1[NP], *s2[NP];
    for (int i = 0; i < NP; i++) {
        p[i] = th_rand(1, &sizes[i], 100 + i, -1.0f, 1.0f);
        TH_OK(clgrad_tensor_set_requires_grad(p[i], 1));
        ph[i] = th_read(p[i]);
        gh[i] = malloc((size_t)sizes[i] * sizeof(float));
        s1[i] = calloc((size_t)sizes[i], sizeof(float));
        s2[i] = calloc((size_t)sizes[i], sizeof(float));
    }
    const char *names[NP] = {"w", "b"};
    clgrad_optim *opt = NULL;
    TH_OK(clgrad_optim_create_params(th_ctx, NP, p, names, o, &opt));
    for (int t = 1; t <= steps; t++) {
        float lr = o->lr * (t % 2 ? 1.0f : 0.5f); /* the lr may change between steps */
        clgrad_optim_set_lr(opt, lr);
        ck_assert(clgrad_optim_get_lr(opt) == lr);
        for (int i = 0; i < NP; i++) th_fill_uniform(gh[i], (size_t)sizes[i], 1000 * t + i, -1.0f, 1.0f);
        set_grads(p, gh);
        TH_OK(clgrad_optim_step(opt));
        clgrad_optim_zero_grad(opt);
        for (int i = 0; i < NP; i++) {
            size_t n = (size_t)sizes[i];
            if (o->kind == CLGRAD_OPTIM_SGD)
                ref_sgd_step(n, ph[i], gh[i], s1[i], lr, o->momentum, o->dampening, o->nesterov, o->weight_decay,
                             t == 1);
            else if (o->kind == CLGRAD_OPTIM_ADAM)
                ref_adam_step(n, ph[i], gh[i], s1[i], s2[i], lr, o->beta1, o->beta2, o->eps, o->weight_decay, t);
            else
                ref_adamw_step(n, ph[i], gh[i], s1[i], s2[i], lr, o->beta1, o->beta2, o->eps, o->weight_decay, t);
            float *got = th_read(p[i]);
            th_allclose("param after step", got, ph[i], n, 1e-6, 1e-5);
            free(got);
            ck_assert_ptr_null(clgrad_tensor_grad(p[i]));
        }
    }
    /* State: names, values, step counts. */
    int per = o->kind == CLGRAD_OPTIM_SGD ? (o->momentum != 0.0f) : 2;
    ck_assert_int_eq(clgrad_optim_state_count(opt), NP * per);
    for (int i = 0; i < NP; i++) {
        const char *name = NULL;
        ck_assert_int_eq(clgrad_optim_step_count(opt, i, &name), steps);
        ck_assert_str_eq(name, i ? "b.step" : "w.step");
        for (int k = 0; k < per; k++) {
            clgrad_tensor *st = clgrad_optim_state(opt, i * per + k, &name);
            char want[32];
            strcpy(want, names[i]);
            strcat(want, o->kind == CLGRAD_OPTIM_SGD ? ".momentum_buffer" : k ? ".exp_avg_sq" : ".exp_avg");
            ck_assert_str_eq(name, want);
            float *got = th_read(st);
            th_allclose("optimizer state", got, k ? s2[i] : s1[i], (size_t)sizes[i], 1e-6, 1e-5);
            free(got);
        }
    }
    ck_assert_ptr_null(clgrad_optim_state(opt, NP * per, NULL));
    clgrad_optim_release(opt);
    for (int i = 0; i < NP; i++) {
        clgrad_tensor_release(p[i]);
        free(ph[i]);
        free(gh[i]);
        free(s1[i]);
        free(s2[i]);
    }
}

START_TEST(sgd_matches_reference)
{
    clgrad_optim_options o = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.1f);
    run_against_reference(&o, 4);
    o.momentum = 0.9f;
    run_against_reference(&o, 4);
    o.dampening = 0.2f;
    o.weight_decay = 0.01f;
    run_against_reference(&o, 4);
    o.dampening = 0.0f;
    o.nesterov = 1;
    run_against_reference(&o, 4);
}
END_TEST

START_TEST(adam_and_adamw_match_reference)
{
    clgrad_optim_options o = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM, 0.01f);
    ck_assert(o.beta1 == 0.9f && o.beta2 == 0.999f && o.eps == 1e-8f && o.weight_decay == 0.0f);
    run_against_reference(&o, 5);
    o.weight_decay = 0.1f;
    run_against_reference(&o, 5);
    o = clgrad_optim_defaults(CLGRAD_OPTIM_ADAMW, 0.01f);
    ck_assert(o.weight_decay == 0.01f);
    run_against_reference(&o, 5);
}
END_TEST

START_TEST(params_without_grad_are_skipped)
{
    clgrad_module *m = NULL;
    TH_OK(clgrad_linear_create(th_ctx, 3, 2, 1, 1, &m));
    clgrad_optim_options o = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM, 0.1f);
    clgrad_optim *opt = NULL;
    TH_OK(clgrad_optim_create(m, &o, &opt));
    ck_assert_int_eq(clgrad_optim_param_count(opt), 2);
    const char *name = NULL;
    clgrad_optim_state(opt, 3, &name);
    ck_assert_str_eq(name, "bias.exp_avg_sq");
    clgrad_optim_param(opt, 0, &name);
    ck_assert_str_eq(name, "weight");
    /* Only the weight gets a gradient. */
    clgrad_tensor *w = clgrad_module_param(m, 0, NULL), *b = clgrad_module_param(m, 1, NULL), *l = NULL;
    float *b0 = th_read(b), *w0 = th_read(w);
    TH_OK(clgrad_sum(w, 0, NULL, 0, &l));
    TH_OK(clgrad_backward(l));
    clgrad_tensor_release(l);
    TH_OK(clgrad_optim_step(opt));
    float *b1 = th_read(b), *w1 = th_read(w);
    ck_assert(memcmp(b0, b1, 2 * sizeof(float)) == 0);
    ck_assert(memcmp(w0, w1, 6 * sizeof(float)) != 0);
    ck_assert_int_eq(clgrad_optim_step_count(opt, 0, NULL), 1);
    ck_assert_int_eq(clgrad_optim_step_count(opt, 1, NULL), 0);
    TH_OK(clgrad_optim_set_step_count(opt, 1, 7));
    ck_assert_int_eq(clgrad_optim_step_count(opt, 1, NULL), 7);
    ck_assert_int_eq(clgrad_optim_set_step_count(opt, 2, 7), CLGRAD_ERR_INVALID_ARG);
    /* The module's zero_grad drops it too. */
    clgrad_module_zero_grad(m);
    ck_assert_ptr_null(clgrad_tensor_grad(w));
    free(b0);
    free(b1);
    free(w0);
    free(w1);
    clgrad_optim_release(opt);
    clgrad_module_release(m);
}
END_TEST

START_TEST(clip_grad_norm_scales_to_max_norm)
{
    clgrad_tensor *p[NP];
    float *gh[NP];
    double sq = 0;
    for (int i = 0; i < NP; i++) {
        p[i] = th_rand(1, &sizes[i], 200 + i, -1.0f, 1.0f);
        TH_OK(clgrad_tensor_set_requires_grad(p[i], 1));
        gh[i] = malloc((size_t)sizes[i] * sizeof(float));
        th_fill_uniform(gh[i], (size_t)sizes[i], 300 + i, -2.0f, 2.0f);
        for (int j = 0; j < sizes[i]; j++) sq += (double)gh[i][j] * gh[i][j];
    }
    double norm = sqrt(sq);
    set_grads(p, gh);
    clgrad_tensor *tn = NULL;
    /* Above the norm: unchanged (coefficient clamped to 1). */
    TH_OK(clgrad_clip_grad_norm(NP, p, (float)(norm * 2), &tn));
    float got;
    TH_OK(clgrad_tensor_item(tn, &got));
    ck_assert_msg(fabs(got - norm) <= 1e-5 * norm, "norm %g, want %g", (double)got, norm);
    clgrad_tensor_release(tn);
    for (int i = 0; i < NP; i++) {
        float *g = th_read(clgrad_tensor_grad(p[i]));
        th_allclose("unclipped grad", g, gh[i], (size_t)sizes[i], 0, 0);
        free(g);
    }
    /* Below: scaled by max_norm / (norm + 1e-6). */
    TH_OK(clgrad_clip_grad_norm(NP, p, 1.0f, NULL));
    double coef = 1.0 / (norm + 1e-6), sq2 = 0;
    for (int i = 0; i < NP; i++) {
        float *g = th_read(clgrad_tensor_grad(p[i])), *want = malloc((size_t)sizes[i] * sizeof(float));
        for (int j = 0; j < sizes[i]; j++) {
            want[j] = (float)(gh[i][j] * coef);
            sq2 += (double)g[j] * g[j];
        }
        th_allclose("clipped grad", g, want, (size_t)sizes[i], 1e-7, 1e-5);
        free(g);
        free(want);
    }
    ck_assert_msg(fabs(sqrt(sq2) - 1.0) < 1e-5, "norm after clipping %g", sqrt(sq2));

    /* Errors: bad max_norm, NULLs, a tensor of another context. */
    ck_assert_int_eq(clgrad_clip_grad_norm(NP, p, 0.0f, &tn), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(tn);
    ck_assert_int_eq(clgrad_clip_grad_norm(0, p, 1.0f, NULL), CLGRAD_ERR_INVALID_ARG);
    clgrad_context *other = NULL;
    TH_OK(clgrad_context_create(NULL, &other));
    clgrad_tensor *po = NULL;
    TH_OK(clgrad_tensor_zeros(other, CLGRAD_DTYPE_F32, 1, &sizes[0], &po));
    clgrad_tensor *mixed[2] = {p[0], po};
    ck_assert_int_eq(clgrad_clip_grad_norm(2, mixed, 1.0f, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "another context"));
    clgrad_tensor_release(po);
    clgrad_context_release(other);
    for (int i = 0; i < NP; i++) {
        clgrad_tensor_release(p[i]);
        free(gh[i]);
    }
}
END_TEST

static void near(float got, double want)
{
    ck_assert_msg(fabs(got - want) <= 1e-6 * fabs(want) + 1e-9, "lr %.9g, want %.9g", (double)got, want);
}

START_TEST(schedules)
{
    clgrad_lr_schedule c = clgrad_lr_constant(0.1f);
    near(clgrad_lr_at(&c, 0), 0.1f);
    near(clgrad_lr_at(&c, 1000), 0.1f);

    clgrad_lr_schedule s = clgrad_lr_step(0.1f, 3, 0.5f);
    near(clgrad_lr_at(&s, 0), 0.1f);
    near(clgrad_lr_at(&s, 2), 0.1f);
    near(clgrad_lr_at(&s, 3), 0.05f);
    near(clgrad_lr_at(&s, 7), 0.025f);

    clgrad_lr_schedule k = clgrad_lr_cosine(1.0f, 10, 0.1f);
    near(clgrad_lr_at(&k, 0), 1.0);
    near(clgrad_lr_at(&k, 5), 0.1 + 0.9 * 0.5);
    near(clgrad_lr_at(&k, 2), 0.1 + 0.9 * 0.5 * (1 + cos(3.14159265358979323846 * 0.2)));
    near(clgrad_lr_at(&k, 10), 0.1f);
    near(clgrad_lr_at(&k, 50), 0.1f);
    near(clgrad_lr_at(&k, -3), 1.0);

    /* Warm-up over 4 steps from 0.25 * base, then cosine over the remaining 6 of 10. */
    clgrad_lr_schedule w = clgrad_lr_with_warmup(clgrad_lr_cosine(1.0f, 10, 0.0f), 4, 0.25f);
    near(clgrad_lr_at(&w, 0), 0.25);
    near(clgrad_lr_at(&w, 2), 0.25 + 0.75 * 0.5);
    near(clgrad_lr_at(&w, 4), 1.0);
    near(clgrad_lr_at(&w, 7), 0.5);
    near(clgrad_lr_at(&w, 10), 0.0);
    /* Monotone rise during warm-up, fall after. */
    for (int64_t t = 1; t < 10; t++) {
        if (t <= 4) ck_assert(clgrad_lr_at(&w, t) > clgrad_lr_at(&w, t - 1));
        else ck_assert(clgrad_lr_at(&w, t) < clgrad_lr_at(&w, t - 1));
    }
    clgrad_lr_schedule ws = clgrad_lr_with_warmup(clgrad_lr_step(0.1f, 2, 0.1f), 2, 0.0f);
    near(clgrad_lr_at(&ws, 0), 0.0);
    near(clgrad_lr_at(&ws, 1), 0.05);
    near(clgrad_lr_at(&ws, 3), 0.1);
    near(clgrad_lr_at(&ws, 4), 0.01);
    ck_assert(clgrad_lr_at(NULL, 3) == 0.0f);
}
END_TEST

START_TEST(bad_options_and_params_are_errors)
{
    int64_t n = 3;
    clgrad_tensor *p = th_rand(1, &n, 1, 0.0f, 1.0f), *q = th_rand(1, &n, 2, 0.0f, 1.0f);
    TH_OK(clgrad_tensor_set_requires_grad(p, 1));
    clgrad_optim *opt = NULL;
    clgrad_optim_options o = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.1f);
    clgrad_tensor *ps[2] = {p, q};

    ck_assert_int_eq(clgrad_optim_create_params(th_ctx, 2, ps, NULL, &o, &opt), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "requires grad"));
    ps[1] = p;
    ck_assert_int_eq(clgrad_optim_create_params(th_ctx, 2, ps, NULL, &o, &opt), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "twice"));
    o.nesterov = 1;
    ck_assert_int_eq(clgrad_optim_create_params(th_ctx, 1, ps, NULL, &o, &opt), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "Nesterov"));
    o = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM, -1.0f);
    ck_assert_int_eq(clgrad_optim_create_params(th_ctx, 1, ps, NULL, &o, &opt), CLGRAD_ERR_INVALID_ARG);
    o = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM, 0.1f);
    o.beta2 = 1.0f;
    ck_assert_int_eq(clgrad_optim_create_params(th_ctx, 1, ps, NULL, &o, &opt), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_optim_create_params(th_ctx, 1, ps, NULL, NULL, &opt), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_optim_create(NULL, &o, &opt), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_optim_step(NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(opt);

    /* A parameter of another context. */
    clgrad_context *other = NULL;
    TH_OK(clgrad_context_create(NULL, &other));
    clgrad_tensor *po = NULL;
    TH_OK(clgrad_tensor_zeros(other, CLGRAD_DTYPE_F32, 1, &n, &po));
    TH_OK(clgrad_tensor_set_requires_grad(po, 1));
    ps[1] = po;
    o = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.1f);
    ck_assert_int_eq(clgrad_optim_create_params(th_ctx, 2, ps, NULL, &o, &opt), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "another context"));
    ck_assert_ptr_null(opt);

    /* An empty optimizer is valid and does nothing. */
    TH_OK(clgrad_optim_create_params(th_ctx, 0, NULL, NULL, &o, &opt));
    TH_OK(clgrad_optim_step(opt));
    clgrad_optim_release(opt);
    clgrad_optim_release(NULL);

    clgrad_tensor_release(po);
    clgrad_context_release(other);
    clgrad_tensor_release(p);
    clgrad_tensor_release(q);
}
END_TEST

static Suite *suite_optim_optim(void)
{
    Suite *s = suite_create("optim_optim");
    TCase *tc = tcase_create("optim");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sgd_matches_reference);
    tcase_add_test(tc, adam_and_adamw_match_reference);
    tcase_add_test(tc, params_without_grad_are_skipped);
    tcase_add_test(tc, clip_grad_norm_scales_to_max_norm);
    tcase_add_test(tc, schedules);
    tcase_add_test(tc, bad_options_and_params_are_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return th_run(suite_optim_optim(), 1);
}
