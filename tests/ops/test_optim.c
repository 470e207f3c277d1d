/* Fused optimizer updates: several steps of SGD (plain, momentum with dampening, Nesterov,
 * weight decay) and Adam / AdamW against the reference, on sizes that are not multiples of
 * any work-group, plus argument errors. */
#include "harness.h"
#include "ref.h"

#include "ops/optim.h"

#include <stdlib.h>
#include <string.h>

#define STEPS 5

static void sgd_case(int64_t n, const clgrad__sgd_hparams *h)
{
    float *p = malloc((size_t)n * sizeof *p), *g = malloc((size_t)n * sizeof *g), *b = calloc((size_t)n, sizeof *b);
    th_fill_uniform(p, (size_t)n, 11, -1.0f, 1.0f);
    clgrad_tensor *tp = th_tensor(1, &n, p), *tb = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, &n, &tb));
    for (int s = 0; s < STEPS; s++) {
        th_fill_uniform(g, (size_t)n, 100 + (uint64_t)s, -1.0f, 1.0f);
        clgrad_tensor *tg = th_tensor(1, &n, g);
        TH_OK(clgrad__sgd_step(tp, tg, h->momentum != 0.0f ? tb : NULL, h, s == 0));
        ref_sgd_step((size_t)n, p, g, b, h->lr, h->momentum, h->dampening, h->nesterov, h->weight_decay, s == 0);
        clgrad_tensor_release(tg);
        float *got = th_read(tp);
        th_allclose("sgd param", got, p, (size_t)n, 1e-6, 1e-5);
        free(got);
        if (h->momentum != 0.0f) {
            got = th_read(tb);
            th_allclose("sgd momentum buffer", got, b, (size_t)n, 1e-6, 1e-5);
            free(got);
        }
    }
    clgrad_tensor_release(tp);
    clgrad_tensor_release(tb);
    free(p);
    free(g);
    free(b);
}

START_TEST(sgd_matches_reference)
{
    static const clgrad__sgd_hparams hs[] = {
        {0.1f, 0.0f, 0.0f, 0.0f, 0},    /* plain */
        {0.05f, 0.9f, 0.0f, 0.0f, 0},   /* momentum */
        {0.05f, 0.9f, 0.3f, 1e-2f, 0},  /* dampening + weight decay */
        {0.02f, 0.8f, 0.0f, 5e-3f, 1},  /* Nesterov */
        {0.1f, 0.0f, 0.0f, 0.1f, 0},    /* weight decay only */
    };
    static const int64_t ns[] = {1, 7, 1031};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) sgd_case(ns[k], &hs[i]);
}
END_TEST

static void adam_case(int64_t n, const clgrad__adam_hparams *h, int decoupled)
{
    size_t sz = (size_t)n * sizeof(float);
    float *p = malloc(sz), *g = malloc(sz), *m = calloc((size_t)n, sizeof(float)), *v = calloc((size_t)n, sizeof(float));
    th_fill_uniform(p, (size_t)n, 12, -1.0f, 1.0f);
    clgrad_tensor *tp = th_tensor(1, &n, p), *tm = NULL, *tv = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, &n, &tm));
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, &n, &tv));
    for (int64_t t = 1; t <= STEPS; t++) {
        th_fill_uniform(g, (size_t)n, 200 + (uint64_t)t, -1.0f, 1.0f);
        clgrad_tensor *tg = th_tensor(1, &n, g);
        TH_OK(clgrad__adam_step(tp, tg, tm, tv, h, t, decoupled));
        if (decoupled)
            ref_adamw_step((size_t)n, p, g, m, v, h->lr, h->beta1, h->beta2, h->eps, h->weight_decay, t);
        else
            ref_adam_step((size_t)n, p, g, m, v, h->lr, h->beta1, h->beta2, h->eps, h->weight_decay, t);
        clgrad_tensor_release(tg);
        float *got = th_read(tp);
        th_allclose(decoupled ? "adamw param" : "adam param", got, p, (size_t)n, 1e-6, 1e-5);
        free(got);
        got = th_read(tm);
        th_allclose("adam m", got, m, (size_t)n, 1e-7, 1e-5);
        free(got);
        got = th_read(tv);
        th_allclose("adam v", got, v, (size_t)n, 1e-8, 1e-5);
        free(got);
    }
    clgrad_tensor_release(tp);
    clgrad_tensor_release(tm);
    clgrad_tensor_release(tv);
    free(p);
    free(g);
    free(m);
    free(v);
}

START_TEST(adam_matches_reference)
{
    static const clgrad__adam_hparams hs[] = {
        {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f},
        {1e-2f, 0.8f, 0.99f, 1e-6f, 0.1f},
    };
    static const int64_t ns[] = {1, 13, 1031};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
            adam_case(ns[k], &hs[i], 0);
            adam_case(ns[k], &hs[i], 1);
        }
}
END_TEST

/* Several tensors in one call (more than one launch holds), of sizes that fill no chunk:
 * each updated exactly as the reference updates it alone. */
START_TEST(many_tensors_in_one_call_match_reference)
{
    enum { NT = 11 };
    clgrad_tensor *tp[NT], *tg[NT], *ta[NT], *tb[NT];
    float *p[NT], *g[NT], *a[NT], *b[NT];
    int64_t n[NT];
    clgrad__sgd_hparams sh = {0.05f, 0.9f, 0.1f, 1e-2f, 1};
    clgrad__adam_hparams ah = {1e-2f, 0.9f, 0.99f, 1e-8f, 1e-2f};
    for (int kind = 0; kind < 3; kind++) {
        for (int i = 0; i < NT; i++) {
            n[i] = 1 + (i * 37) % 101 + (i == 5 ? 3000 : 0);
            size_t sz = (size_t)n[i] * sizeof(float);
            p[i] = malloc(sz), g[i] = malloc(sz), a[i] = calloc((size_t)n[i], sizeof(float));
            b[i] = calloc((size_t)n[i], sizeof(float));
            th_fill_uniform(p[i], (size_t)n[i], 200 + (uint64_t)i, -1, 1);
            tp[i] = th_tensor(1, &n[i], p[i]);
            TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, &n[i], &ta[i]));
            TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, &n[i], &tb[i]));
        }
        for (int t = 1; t <= 3; t++) {
            for (int i = 0; i < NT; i++) {
                th_fill_uniform(g[i], (size_t)n[i], 300 + (uint64_t)(i * 7 + t), -1, 1);
                tg[i] = th_tensor(1, &n[i], g[i]);
                if (kind == 0)
                    ref_sgd_step((size_t)n[i], p[i], g[i], a[i], sh.lr, sh.momentum, sh.dampening, sh.nesterov,
                                 sh.weight_decay, t == 1);
                else
                    (kind == 2 ? ref_adamw_step : ref_adam_step)((size_t)n[i], p[i], g[i], a[i], b[i], ah.lr, ah.beta1,
                                                                 ah.beta2, ah.eps, ah.weight_decay, t);
            }
            if (kind == 0) TH_OK(clgrad__sgd_steps(NT, tp, tg, ta, &sh, t == 1));
            else TH_OK(clgrad__adam_steps(NT, tp, tg, ta, tb, &ah, t, kind == 2));
            for (int i = 0; i < NT; i++) clgrad_tensor_release(tg[i]);
        }
        for (int i = 0; i < NT; i++) {
            float *got = th_read(tp[i]);
            th_allclose(kind == 0 ? "sgd, many tensors" : "adam, many tensors", got, p[i], (size_t)n[i], 1e-6, 1e-5);
            free(got);
            got = th_read(ta[i]);
            th_allclose("first state, many tensors", got, a[i], (size_t)n[i], 1e-6, 1e-5);
            free(got);
            clgrad_tensor_release(tp[i]), clgrad_tensor_release(ta[i]), clgrad_tensor_release(tb[i]);
            free(p[i]), free(g[i]), free(a[i]), free(b[i]);
        }
    }
}
END_TEST

START_TEST(errors)
{
    int64_t n = 5, m = 6;
    clgrad_tensor *p = NULL, *g = NULL, *bad = NULL, *gi = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, &n, &p));
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, &n, &g));
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, &m, &bad));
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, 1, &n, &gi));
    clgrad__sgd_hparams sh = {0.1f, 0.9f, 0.0f, 0.0f, 0};
    clgrad__adam_hparams ah = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f};
    ck_assert_int_eq(clgrad__sgd_step(p, bad, NULL, &sh, 1), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[6]"));
    ck_assert_int_eq(clgrad__sgd_step(p, g, NULL, &sh, 1), CLGRAD_ERR_INVALID_ARG); /* momentum needs a buffer */
    ck_assert_int_eq(clgrad__sgd_step(p, gi, NULL, &sh, 1), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad__sgd_step(p, g, g, NULL, 1), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad__adam_step(p, g, g, bad, &ah, 1, 0), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad__adam_step(p, g, bad, g, &ah, 0, 0), CLGRAD_ERR_SHAPE);
    clgrad_tensor *m1 = NULL, *v1 = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, &n, &m1));
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, &n, &v1));
    ck_assert_int_eq(clgrad__adam_step(p, g, m1, v1, &ah, 0, 0), CLGRAD_ERR_INVALID_ARG); /* t starts at 1 */
    clgrad_tensor_release(m1);
    clgrad_tensor_release(v1);
    clgrad_tensor_release(p);
    clgrad_tensor_release(g);
    clgrad_tensor_release(bad);
    clgrad_tensor_release(gi);
}
END_TEST

static Suite *suite_ops_optim(void)
{
    Suite *s = suite_create("ops_optim");
    TCase *tc = tcase_create("optim");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, sgd_matches_reference);
    tcase_add_test(tc, adam_matches_reference);
    tcase_add_test(tc, many_tensors_in_one_call_match_reference);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_ops_optim(), 1); }
