/* Losses against the references: cross entropy (label smoothing, ignored labels, every
 * reduction), NLL, MSE, BCE with logits; forward and backward kernels; strided inputs;
 * out-of-range labels (NaN, no out-of-bounds reads); errors naming shapes. */
#include "harness.h"
#include "ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const clgrad_reduction REDS[] = {CLGRAD_REDUCTION_NONE, CLGRAD_REDUCTION_MEAN, CLGRAD_REDUCTION_SUM};
static const ref_reduction REF_REDS[] = {REF_REDUCTION_NONE, REF_REDUCTION_MEAN, REF_REDUCTION_SUM};

static clgrad_tensor *labels_tensor(int64_t n, const int32_t *lab) { return th_tensor_i32(1, &n, lab); }

/* upstream gradient for a loss output: per sample for NONE, a 0-d value otherwise */
static clgrad_tensor *grad_out(int r, int ndim, const int64_t *shape, float *host, size_t n)
{
    if (r == 0) {
        th_fill_uniform(host, n, 77, -1.0f, 1.0f);
        return th_tensor(ndim, shape, host);
    }
    host[0] = 0.7f;
    return th_tensor(0, NULL, host);
}

static void check_nll(int64_t N, int64_t C, float eps, int softmax, int noncontig)
{
    int64_t sh[] = {N, C};
    size_t nc = (size_t)(N * C);
    float *x = malloc(nc * sizeof *x), *in = malloc(nc * sizeof *in);
    th_fill_uniform(x, nc, (uint64_t)(N * 100 + C), -4.0f, 4.0f);
    if (softmax) memcpy(in, x, nc * sizeof *x);
    else ref_log_softmax_forward((size_t)N, (size_t)C, 1, x, in);
    int32_t *lab = malloc((size_t)N * sizeof *lab);
    for (int64_t i = 0; i < N; i++) lab[i] = (i % 4 == 3) ? -100 : (int32_t)((i * 7 + 3) % C);
    clgrad_tensor *labels = labels_tensor(N, lab);
    float *want = malloc((size_t)N * sizeof *want), *dwant = malloc(nc * sizeof *dwant), *dy = malloc((size_t)N * sizeof *dy);
    for (int r = 0; r < 3; r++) {
        clgrad_tensor *xt0 = th_tensor(2, sh, in), *xt = noncontig ? th_noncontig(xt0) : clgrad_tensor_retain(xt0);
        clgrad_tensor_release(xt0);
        TH_OK(clgrad_tensor_set_requires_grad(xt, 1));
        clgrad_tensor *y = NULL;
        if (softmax) {
            TH_OK(clgrad_cross_entropy(xt, labels, eps, REDS[r], &y));
            ck_assert_int_eq(ref_cross_entropy_forward((size_t)N, (size_t)C, in, lab, -100, eps, REF_REDS[r], want), 0);
        } else {
            TH_OK(clgrad_nll_loss(xt, labels, REDS[r], &y));
            ck_assert_int_eq(ref_nll_loss_forward((size_t)N, (size_t)C, in, lab, -100, REF_REDS[r], want), 0);
        }
        size_t nout = r == 0 ? (size_t)N : 1;
        ck_assert_int_eq(clgrad_tensor_ndim(y), r == 0 ? 1 : 0);
        float *got = th_read(y);
        char what[96];
        snprintf(what, sizeof what, "%s N %lld C %lld eps %g red %d", softmax ? "cross_entropy" : "nll",
                 (long long)N, (long long)C, (double)eps, r);
        th_allclose(what, got, want, nout, 2e-5, 2e-5);
        free(got);
        clgrad_tensor *g = grad_out(r, 1, &N, dy, (size_t)N);
        TH_OK(clgrad_backward_ex(y, g, 0));
        if (softmax)
            ref_cross_entropy_backward((size_t)N, (size_t)C, in, lab, -100, eps, REF_REDS[r], dy, dwant);
        else
            ref_nll_loss_backward((size_t)N, (size_t)C, lab, -100, REF_REDS[r], dy, dwant);
        float *dgot = th_read(clgrad_tensor_grad(xt));
        snprintf(what, sizeof what, "%s backward N %lld C %lld eps %g red %d", softmax ? "cross_entropy" : "nll",
                 (long long)N, (long long)C, (double)eps, r);
        th_allclose(what, dgot, dwant, nc, 1e-6, 1e-5);
        free(dgot);
        clgrad_tensor_release(g);
        clgrad_tensor_release(y);
        clgrad_tensor_release(xt);
    }
    clgrad_tensor_release(labels);
    free(x);
    free(in);
    free(lab);
    free(want);
    free(dwant);
    free(dy);
}

START_TEST(cross_entropy_matches_reference)
{
    int64_t Ns[] = {1, 7, 33}, Cs[] = {1, 5, 13, 1000};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 4; b++)
            for (int e = 0; e < 2; e++) check_nll(Ns[a], Cs[b], e ? 0.1f : 0.0f, 1, (a + b) % 2);
}
END_TEST

START_TEST(nll_matches_reference)
{
    int64_t Ns[] = {1, 7, 33}, Cs[] = {1, 5, 13};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) check_nll(Ns[a], Cs[b], 0.0f, 0, (a + b) % 2);
}
END_TEST

static void check_pointwise(int bce, int ndim, const int64_t *sh, int noncontig)
{
    int64_t n = th_numel(ndim, sh);
    float *x = malloc((size_t)n * sizeof *x), *t = malloc((size_t)n * sizeof *t), *want = malloc((size_t)n * sizeof *want);
    float *dx = malloc((size_t)n * sizeof *dx), *dt = malloc((size_t)n * sizeof *dt), *dy = malloc((size_t)n * sizeof *dy);
    th_fill_uniform(x, (size_t)n, 3, bce ? -30.0f : -2.0f, bce ? 30.0f : 2.0f);
    th_fill_uniform(t, (size_t)n, 4, bce ? 0.0f : -2.0f, bce ? 1.0f : 2.0f);
    for (int r = 0; r < 3; r++) {
        clgrad_tensor *x0 = th_tensor(ndim, sh, x), *t0 = th_tensor(ndim, sh, t);
        clgrad_tensor *xt = noncontig ? th_noncontig(x0) : clgrad_tensor_retain(x0);
        clgrad_tensor *tt = noncontig ? th_noncontig(t0) : clgrad_tensor_retain(t0);
        clgrad_tensor_release(x0);
        clgrad_tensor_release(t0);
        TH_OK(clgrad_tensor_set_requires_grad(xt, 1));
        TH_OK(clgrad_tensor_set_requires_grad(tt, 1));
        clgrad_tensor *y = NULL;
        TH_OK((bce ? clgrad_bce_with_logits : clgrad_mse_loss)(xt, tt, REDS[r], &y));
        if (bce) ref_bce_with_logits_forward((size_t)n, x, t, REF_REDS[r], want);
        else ref_mse_loss_forward((size_t)n, x, t, REF_REDS[r], want);
        ck_assert_int_eq(clgrad_tensor_ndim(y), r == 0 ? ndim : 0);
        float *got = th_read(y);
        char what[64];
        snprintf(what, sizeof what, "%s n %lld red %d", bce ? "bce" : "mse", (long long)n, r);
        th_allclose(what, got, want, r == 0 ? (size_t)n : 1, 1e-5, 1e-5);
        free(got);
        clgrad_tensor *g = grad_out(r, ndim, sh, dy, (size_t)n);
        TH_OK(clgrad_backward_ex(y, g, 0));
        if (bce) ref_bce_with_logits_backward((size_t)n, x, t, REF_REDS[r], dy, dx, dt);
        else ref_mse_loss_backward((size_t)n, x, t, REF_REDS[r], dy, dx, dt);
        float *gx = th_read(clgrad_tensor_grad(xt)), *gt = th_read(clgrad_tensor_grad(tt));
        th_allclose("d pred", gx, dx, (size_t)n, 1e-6, 1e-5);
        th_allclose("d target", gt, dt, (size_t)n, 1e-6, 1e-5);
        free(gx);
        free(gt);
        clgrad_tensor_release(g);
        clgrad_tensor_release(y);
        clgrad_tensor_release(xt);
        clgrad_tensor_release(tt);
    }
    free(x);
    free(t);
    free(want);
    free(dx);
    free(dt);
    free(dy);
}

START_TEST(mse_and_bce_match_reference)
{
    int64_t s1[] = {1}, s3[] = {3, 5, 7}, s2[] = {17, 13};
    for (int bce = 0; bce < 2; bce++) {
        check_pointwise(bce, 1, s1, 0);
        check_pointwise(bce, 3, s3, 0);
        check_pointwise(bce, 3, s3, 1);
        check_pointwise(bce, 2, s2, 1);
    }
}
END_TEST

START_TEST(bad_labels_give_nan)
{
    int64_t sh[] = {3, 4};
    int32_t lab[] = {1, 4, -7};
    clgrad_tensor *x = th_rand(2, sh, 1, -1, 1), *labels = labels_tensor(3, lab), *y = NULL;
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    float v[3];
    TH_OK(clgrad_cross_entropy(x, labels, 0.0f, CLGRAD_REDUCTION_NONE, &y));
    TH_OK(clgrad_tensor_read(y, v, sizeof v));
    ck_assert(isfinite(v[0]) && isnan(v[1]) && isnan(v[2]));
    clgrad_tensor_release(y);
    TH_OK(clgrad_cross_entropy(x, labels, 0.1f, CLGRAD_REDUCTION_MEAN, &y));
    TH_OK(clgrad_tensor_item(y, v));
    ck_assert(isnan(v[0]));
    TH_OK(clgrad_backward(y));
    float *g = th_read(clgrad_tensor_grad(x));
    ck_assert(isfinite(g[0])); /* a good row keeps a finite gradient */
    ck_assert(isnan(g[4]) && isnan(g[11]));
    free(g);
    clgrad_tensor_release(y);
    /* every label ignored: the mean is NaN (0/0), the sum 0 */
    int32_t ign[] = {-100, -100, -100};
    clgrad_tensor *li = labels_tensor(3, ign);
    TH_OK(clgrad_nll_loss(x, li, CLGRAD_REDUCTION_MEAN, &y));
    TH_OK(clgrad_tensor_item(y, v));
    ck_assert(isnan(v[0]));
    clgrad_tensor_release(y);
    TH_OK(clgrad_nll_loss(x, li, CLGRAD_REDUCTION_SUM, &y));
    TH_OK(clgrad_tensor_item(y, v));
    ck_assert(v[0] == 0.0f);
    clgrad_tensor_release(y);
    clgrad_tensor_release(li);
    clgrad_tensor_release(labels);
    clgrad_tensor_release(x);
}
END_TEST

START_TEST(errors_name_shapes)
{
    int64_t sh[] = {3, 4}, s2[] = {4, 3}, s1[] = {3};
    int32_t lab[] = {0, 1, 2, 3};
    clgrad_tensor *x = th_rand(2, sh, 1, -1, 1), *z = th_rand(2, s2, 2, -1, 1), *l4 = labels_tensor(4, lab);
    clgrad_tensor *fl = th_rand(1, s1, 3, 0, 1), *y = (clgrad_tensor *)1;
    ck_assert_int_eq(clgrad_cross_entropy(x, l4, 0.0f, CLGRAD_REDUCTION_MEAN, &y), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(y);
    const char *m = clgrad_last_error(th_ctx);
    ck_assert_msg(strstr(m, "[3, 4]") && strstr(m, "[4]"), "message: %s", m);
    ck_assert_int_eq(clgrad_cross_entropy(x, fl, 0.0f, CLGRAD_REDUCTION_MEAN, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_cross_entropy(fl, l4, 0.0f, CLGRAD_REDUCTION_MEAN, &y), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_cross_entropy(x, NULL, 0.0f, CLGRAD_REDUCTION_MEAN, &y), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor *l3 = labels_tensor(3, lab);
    ck_assert_int_eq(clgrad_cross_entropy(x, l3, 1.5f, CLGRAD_REDUCTION_MEAN, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_nll_loss(x, l3, (clgrad_reduction)7, &y), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(l3);
    ck_assert_int_eq(clgrad_mse_loss(x, z, CLGRAD_REDUCTION_MEAN, &y), CLGRAD_ERR_SHAPE);
    m = clgrad_last_error(th_ctx);
    ck_assert_msg(strstr(m, "[3, 4]") && strstr(m, "[4, 3]"), "message: %s", m);
    ck_assert_int_eq(clgrad_bce_with_logits(x, NULL, CLGRAD_REDUCTION_MEAN, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_bce_with_logits(x, x, CLGRAD_REDUCTION_MEAN, NULL), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(x);
    clgrad_tensor_release(z);
    clgrad_tensor_release(l4);
    clgrad_tensor_release(fl);
}
END_TEST

/* The fused one-launch reduced loss and the per-sample kernel followed by the reduction
 * engine give the same bits (GPUs use the fused form only without label smoothing). */
START_TEST(fused_and_unfused_reductions_agree_bitwise)
{
    static const int64_t shapes[][2] = {{1, 1}, {7, 3}, {200, 10}, {130, 77}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        int64_t N = shapes[c][0], C = shapes[c][1], sh[2] = {N, C};
        int32_t *lab = malloc((size_t)N * sizeof *lab);
        for (int64_t i = 0; i < N; i++) lab[i] = (int32_t)((i * 7 + 3) % C);
        if (N > 2) lab[1] = -100; /* ignored */
        clgrad_tensor *x = th_rand(2, sh, 60 + c, -4, 4), *lt = labels_tensor(N, lab);
        for (int e = 0; e < 2; e++)
            for (int r = 1; r < 3; r++) {
                float v[2];
                for (int f = 0; f < 2; f++) {
                    setenv("CLGRAD_NLL_FUSED", f ? "1" : "0", 1);
                    clgrad_tensor *y = NULL;
                    TH_OK(clgrad_cross_entropy(x, lt, e ? 0.1f : 0.0f, REDS[r], &y));
                    TH_OK(clgrad_tensor_read(y, &v[f], sizeof v[f]));
                    clgrad_tensor_release(y);
                }
                unsetenv("CLGRAD_NLL_FUSED");
                ck_assert_msg(memcmp(&v[0], &v[1], sizeof v[0]) == 0, "N %lld C %lld eps %d red %d: %.9g vs %.9g",
                              (long long)N, (long long)C, e, r, (double)v[0], (double)v[1]);
            }
        free(lab);
        clgrad_tensor_release(x);
        clgrad_tensor_release(lt);
    }
}
END_TEST

static Suite *suite_ops_loss(void)
{
    Suite *s = suite_create("ops_loss");
    TCase *tc = tcase_create("loss");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, cross_entropy_matches_reference);
    tcase_add_test(tc, nll_matches_reference);
    tcase_add_test(tc, mse_and_bce_match_reference);
    tcase_add_test(tc, bad_labels_give_nan);
    tcase_add_test(tc, errors_name_shapes);
    tcase_add_test(tc, fused_and_unfused_reductions_agree_bitwise);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_ops_loss(), 1); }
