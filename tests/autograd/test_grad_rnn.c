/* Finite-difference gradient checks of the recurrent layers: every parameter, the input
 * and the initial states, through the output sequence and the final states, for each
 * kind, with two layers and both batch layouts. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct grad_case {
    clgrad_module *m;
    int lstm;
} grad_case;

/* in[0] x, in[1] h0 (or NULL), in[2] c0 (or NULL), in[3..] the parameters (used through
 * the module). out = [out, h_n, c_n] flattened and joined. */
static clgrad_status run(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    grad_case *c = user;
    clgrad_tensor *o = NULL, *hn = NULL, *cn = NULL, *parts[3] = {0};
    clgrad_status st = clgrad_rnn_forward(c->m, in[0], in[1], in[2], &o, &hn, c->lstm ? &cn : NULL);
    int64_t flat[1] = {-1};
    if (st == CLGRAD_OK) st = clgrad_reshape(o, 1, flat, &parts[0]);
    if (st == CLGRAD_OK) st = clgrad_reshape(hn, 1, flat, &parts[1]);
    if (st == CLGRAD_OK && cn) st = clgrad_reshape(cn, 1, flat, &parts[2]);
    if (st == CLGRAD_OK) st = clgrad_cat(cn ? 3 : 2, parts, 0, out);
    clgrad_tensor *rel[] = {o, hn, cn, parts[0], parts[1], parts[2]};
    for (int i = 0; i < 6; i++) clgrad_tensor_release(rel[i]);
    return st;
}

static void check(clgrad_rnn_kind kind, int layers, int bias, int batch_first, int with_state, double eps,
                  double atol, double rtol)
{
    enum { T = 3, B = 2, I = 2, H = 3 };
    clgrad_module *m = NULL;
    TH_OK(clgrad_rnn_create(th_ctx, kind, I, H, layers, bias, batch_first, 31 + (uint64_t)kind, &m));
    grad_case c = {m, kind == CLGRAD_LSTM};
    int64_t xs[3] = {batch_first ? B : T, batch_first ? T : B, I}, ss[3] = {layers, B, H};
    clgrad_tensor *in[16] = {0};
    in[0] = th_rand(3, xs, 1, -1.0f, 1.0f);
    if (with_state) {
        in[1] = th_rand(3, ss, 2, -0.8f, 0.8f);
        if (kind == CLGRAD_LSTM) in[2] = th_rand(3, ss, 3, -0.8f, 0.8f);
    }
    for (int i = 0; i < 3; i++)
        if (in[i]) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1));
    int np = clgrad_module_param_count(m);
    for (int i = 0; i < np; i++) in[3 + i] = clgrad_module_param(m, i, NULL);
    char what[96];
    snprintf(what, sizeof what, "%s kind %d layers %d bias %d batch_first %d state %d", clgrad_module_kind(m),
             (int)kind, layers, bias, batch_first, with_state);
    th_gradcheck(what, run, 3 + np, in, &c, eps, atol, rtol);
    for (int i = 0; i < 3; i++) clgrad_tensor_release(in[i]);
    clgrad_module_release(m);
}

START_TEST(rnn_tanh_gradients)
{
    check(CLGRAD_RNN_TANH, 2, 1, 0, 1, 1e-2, 2e-3, 1e-2);
    check(CLGRAD_RNN_TANH, 1, 0, 1, 0, 1e-2, 2e-3, 1e-2);
}
END_TEST

START_TEST(rnn_relu_gradients)
{
    /* a small step: a pre-activation within eps of the kink would spoil the difference */
    check(CLGRAD_RNN_RELU, 2, 1, 1, 1, 1e-3, 5e-3, 1e-2);
}
END_TEST

START_TEST(lstm_gradients)
{
    check(CLGRAD_LSTM, 2, 1, 0, 1, 1e-2, 2e-3, 1e-2);
    check(CLGRAD_LSTM, 2, 1, 1, 0, 1e-2, 2e-3, 1e-2);
    check(CLGRAD_LSTM, 1, 0, 1, 1, 1e-2, 2e-3, 1e-2);
}
END_TEST

START_TEST(gru_gradients)
{
    check(CLGRAD_GRU, 2, 1, 1, 1, 1e-2, 2e-3, 1e-2);
    check(CLGRAD_GRU, 2, 1, 0, 0, 1e-2, 2e-3, 1e-2);
    check(CLGRAD_GRU, 1, 0, 0, 1, 1e-2, 2e-3, 1e-2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("autograd_grad_rnn");
    TCase *tc = tcase_create("grad_rnn");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, rnn_tanh_gradients);
    tcase_add_test(tc, rnn_relu_gradients);
    tcase_add_test(tc, lstm_gradients);
    tcase_add_test(tc, gru_gradients);
    suite_add_tcase(s, tc);
    return th_run(s, 1);
}
