/* Finite-difference gradient checks of the losses: cross entropy (with label smoothing and
 * an ignored label), NLL, MSE and BCE with logits (both arguments), every reduction. */
#include "harness.h"

typedef struct {
    int kind; /* 0 cross entropy, 1 nll, 2 mse, 3 bce */
    clgrad_reduction red;
    float eps;
    clgrad_tensor *labels;
} loss_args;

static clgrad_status loss_fn(clgrad_tensor **in, void *u, clgrad_tensor **out)
{
    loss_args *a = u;
    switch (a->kind) {
    case 0: return clgrad_cross_entropy(in[0], a->labels, a->eps, a->red, out);
    case 1: return clgrad_nll_loss(in[0], a->labels, a->red, out);
    case 2: return clgrad_mse_loss(in[0], in[1], a->red, out);
    default: return clgrad_bce_with_logits(in[0], in[1], a->red, out);
    }
}

START_TEST(losses_pass_gradcheck)
{
    int64_t sh[] = {5, 4}, five = 5;
    int32_t lab[] = {0, 3, -100, 1, 3};
    clgrad_tensor *labels = NULL;
    TH_OK(clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_I32, 1, &five, lab, &labels));
    clgrad_reduction reds[] = {CLGRAD_REDUCTION_MEAN, CLGRAD_REDUCTION_SUM, CLGRAD_REDUCTION_NONE};
    for (int r = 0; r < 3; r++) {
        for (int kind = 0; kind < 2; kind++)
            for (int e = 0; e < 2; e++) {
                if (kind == 1 && e) continue;
                clgrad_tensor *x0 = th_rand(2, sh, 21, -2, 2);
                clgrad_tensor *x = (r + e) % 2 ? th_noncontig(x0) : clgrad_tensor_retain(x0);
                clgrad_tensor_release(x0);
                TH_OK(clgrad_tensor_set_requires_grad(x, 1));
                loss_args a = {kind, reds[r], e ? 0.2f : 0.0f, labels};
                th_gradcheck(kind ? "nll_loss" : "cross_entropy", loss_fn, 1, &x, &a, 1e-2, 1e-3, 3e-3);
                clgrad_tensor_release(x);
            }
        for (int kind = 2; kind < 4; kind++) {
            clgrad_tensor *x = th_rand(2, sh, 22, -3, 3), *t0 = th_rand(2, sh, 23, 0, 1);
            clgrad_tensor *t = r == 1 ? th_noncontig(t0) : clgrad_tensor_retain(t0);
            clgrad_tensor_release(t0);
            TH_OK(clgrad_tensor_set_requires_grad(x, 1));
            TH_OK(clgrad_tensor_set_requires_grad(t, 1));
            clgrad_tensor *in[2] = {x, t};
            loss_args a = {kind, reds[r], 0.0f, NULL};
            th_gradcheck(kind == 2 ? "mse_loss" : "bce_with_logits", loss_fn, 2, in, &a, 1e-2, 1e-3, 3e-3);
            clgrad_tensor_release(x);
            clgrad_tensor_release(t);
        }
    }
    clgrad_tensor_release(labels);
}
END_TEST

static Suite *suite_autograd_grad_loss(void)
{
    Suite *s = suite_create("autograd_grad_loss");
    TCase *tc = tcase_create("grad_loss");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, losses_pass_gradcheck);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_autograd_grad_loss(), 1); }
