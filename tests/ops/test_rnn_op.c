/* The fused recurrent ops of src/ops/rnn.h: the input projection and the LSTM, GRU and Elman
 * sequence ops against the plain-C references ref_gemm and ref_rnn_forward (with and without bias
 * and initial state, hidden sizes that are primes and not multiples of any block), the
 * projection on a non-contiguous input, finite-difference gradients of every input,
 * bit-identical backward results run after run, and error paths; forward and gradients with
 * both GEMM variants (the CPU one fuses the LSTM step into one launch). */
#include "harness.h"
#include "ops/gemm.h"
#include "ops/rnn.h"
#include "ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K_LSTM, K_GRU, K_TANH, K_RELU };

static const ref_rnn_kind REF_KIND[4] = {REF_RNN_LSTM, REF_RNN_GRU, REF_RNN_TANH, REF_RNN_RELU};

static int gates(int kind) { return ref_rnn_gates(REF_KIND[kind]); }

/* The reference: xp (T, B, G), w (G, H), bias (G; 2 x G for the GRU: input then hidden) or
 * NULL, state (B, H; 2 x B x H for the LSTM: h0 then c0) or NULL. out: the op's result
 * layout, every step's h (T, B, H) and, for the LSTM, the last c (B, H). */
static void ref_seq(int kind, int T, int B, int H, const float *xp, const float *w, const float *bias,
                    const float *state, float *out)
{
    int G = gates(kind) * H, lstm = kind == K_LSTM;
    ref_rnn_forward(REF_KIND[kind], T, B, G, H, xp, NULL, w, bias, kind == K_GRU && bias ? bias + G : NULL, state,
                    lstm && state ? state + (size_t)B * H : NULL, out, NULL, lstm ? out + (size_t)T * B * H : NULL);
}

static clgrad_status run_seq(int kind, clgrad_tensor *xp, clgrad_tensor *w, clgrad_tensor *bias,
                             clgrad_tensor *state, clgrad_tensor **out)
{
    switch (kind) {
    case K_LSTM: return clgrad__lstm_seq(xp, w, bias, state, out);
    case K_GRU: return clgrad__gru_seq(xp, w, bias, state, out);
    default: return clgrad__rnn_seq(xp, w, bias, state, kind == K_RELU, out);
    }
}

/* Shapes of the optional inputs of a kind. */
static int bias_shape(int kind, int H, int64_t *s)
{
    if (kind == K_GRU) {
        s[0] = 2, s[1] = 3 * H;
        return 2;
    }
    s[0] = gates(kind) * H;
    return 1;
}

static int state_shape(int kind, int B, int H, int64_t *s)
{
    if (kind == K_LSTM) {
        s[0] = 2, s[1] = B, s[2] = H;
        return 3;
    }
    s[0] = B, s[1] = H;
    return 2;
}

static void check_forward(int kind, int T, int B, int H, int with_bias, int with_state)
{
    int G = gates(kind) * H;
    int64_t xs[3] = {T, B, G}, ws[2] = {G, H}, bs[2], ss[3];
    int nb = bias_shape(kind, H, bs), ns = state_shape(kind, B, H, ss);
    clgrad_tensor *xp = th_rand(3, xs, 11, -1.5f, 1.5f), *w = th_rand(2, ws, 12, -0.4f, 0.4f);
    clgrad_tensor *bias = with_bias ? th_rand(nb, bs, 13, -0.5f, 0.5f) : NULL;
    clgrad_tensor *state = with_state ? th_rand(ns, ss, 14, -0.9f, 0.9f) : NULL, *out = NULL;
    TH_OK(run_seq(kind, xp, w, bias, state, &out));
    int rows = kind == K_LSTM ? T + 1 : T;
    ck_assert_int_eq(clgrad_tensor_ndim(out), 3);
    ck_assert_int_eq(clgrad_tensor_dim(out, 0), rows);
    ck_assert_int_eq(clgrad_tensor_dim(out, 1), B);
    ck_assert_int_eq(clgrad_tensor_dim(out, 2), H);
    float *hx = th_read(xp), *hw = th_read(w), *hb = bias ? th_read(bias) : NULL, *hs = state ? th_read(state) : NULL;
    float *got = th_read(out);
    size_t n = (size_t)rows * B * H;
    float *want = malloc(n * sizeof *want);
    ref_seq(kind, T, B, H, hx, hw, hb, hs, want);
    char what[96];
    snprintf(what, sizeof what, "kind %d T %d B %d H %d bias %d state %d", kind, T, B, H, with_bias, with_state);
    th_allclose(what, got, want, n, 1e-5, 1e-4);
    free(hx), free(hw), free(hb), free(hs), free(got), free(want);
    clgrad_tensor *rel[] = {xp, w, bias, state, out};
    for (int i = 0; i < 5; i++) clgrad_tensor_release(rel[i]);
}

/* Both GEMM variants: on a CPU device the default one runs the LSTM step as one fused
 * product-and-cell launch (cl/matmul.cl), or the whole sequence as one launch with a
 * work-item per row panel; the tiled one as a GEMM and the cell kernel per step. */
enum { N_CONFIGS = 3 };
static const char *const variants[N_CONFIGS] = {NULL, NULL, "tiled"};
static const int whole_modes[N_CONFIGS] = {2, 1, 0}; /* per step, whole sequence, by the rule */

static void set_config(int v)
{
    TH_OK(clgrad__gemm_set_variant(th_ctx, variants[v]));
    TH_OK(clgrad__gemm_set_whole_sequence(th_ctx, whole_modes[v]));
}

START_TEST(sequence_forward)
{
    for (int v = 0; v < N_CONFIGS; v++) {
        set_config(v);
        for (int kind = K_LSTM; kind <= K_RELU; kind++) {
            check_forward(kind, 5, 3, 17, 1, 1);
            check_forward(kind, 5, 3, 17, 0, 0);
            check_forward(kind, 1, 1, 1, 1, 0);
            check_forward(kind, 7, 2, 5, 0, 1);
            check_forward(kind, 4, 9, 16, 1, 1);  /* whole panels of units, vector cells */
            check_forward(kind, 3, 20, 24, 1, 0); /* several panels, a partial row panel */
            if (v == 0) check_forward(kind, 2, 33001, 1, 1, 1); /* batch rows fold over NDRange dims 1 and 2 */
            if (v == 1) check_forward(kind, 3, 33, 9, 1, 1);    /* row panels, the last one partial */
        }
        check_forward(K_LSTM, 3, 11, 300, 1, 1); /* K past one cache block, a partial panel */
    }
    /* other micro-tiles of the CPU variant: 3 and 4 units per panel of the fused step */
    static const clgrad__gemm_cpu_params rows[2] = {{4, 4, 3, 64, 0, 0, 0}, {6, 8, 2, 64, 0, 0, 0}};
    for (int r = 0; r < 4; r++) {
        TH_OK(clgrad__gemm_set_params(th_ctx, &rows[r % 2], NULL));
        TH_OK(clgrad__gemm_set_whole_sequence(th_ctx, 1 + r / 2));
        check_forward(K_LSTM, 4, 9, 16, 1, 1);
        check_forward(K_LSTM, 3, 7, 13, 0, 1);
    }
    TH_OK(clgrad__gemm_set_whole_sequence(th_ctx, 0));
}
END_TEST

/* A non-contiguous x with more steps and rows than one launch's dims 1 and 2 hold is
 * gathered in blocks. */
START_TEST(projection_of_many_rows)
{
    enum { I = 2, G = 3 };
    const int64_t cases[2][2] = {{2, 33001}, {33001, 2}};
    for (int c = 0; c < 2; c++) {
        int64_t T = cases[c][0], B = cases[c][1], xs[3] = {T, B, I}, ws[2] = {G, I};
        clgrad_tensor *x = th_rand(3, xs, 31, -1, 1), *w = th_rand(2, ws, 32, -1, 1), *xn = th_noncontig(x);
        clgrad_tensor *y = NULL, *yn = NULL;
        TH_OK(clgrad__rnn_proj(x, w, &y));
        TH_OK(clgrad__rnn_proj(xn, w, &yn));
        float *gy = th_read(y), *gyn = th_read(yn);
        ck_assert_msg(memcmp(gy, gyn, (size_t)(T * B * G) * sizeof *gy) == 0, "T %lld B %lld: views differ",
                      (long long)T, (long long)B);
        free(gy), free(gyn);
        clgrad_tensor *rel[] = {x, w, xn, y, yn};
        for (int i = 0; i < 5; i++) clgrad_tensor_release(rel[i]);
    }
}
END_TEST

START_TEST(projection_forward)
{
    enum { T = 6, B = 5, I = 7, G = 19 };
    int64_t xs[3] = {T, B, I}, ws[2] = {G, I};
    clgrad_tensor *x = th_rand(3, xs, 21, -1, 1), *w = th_rand(2, ws, 22, -1, 1), *xn = th_noncontig(x);
    clgrad_tensor *y = NULL, *yn = NULL;
    TH_OK(clgrad__rnn_proj(x, w, &y));
    TH_OK(clgrad__rnn_proj(xn, w, &yn));
    float *hx = th_read(x), *hw = th_read(w), *gy = th_read(y), *gyn = th_read(yn), want[T * B * G];
    ref_gemm(0, 1, T * B, G, I, 1.0f, hx, I, hw, I, 0.0f, want, G); /* x w^T */
    th_allclose("projection", gy, want, T * B * G, 1e-5, 1e-5);
    th_allclose("projection of a non-contiguous x", gyn, want, T * B * G, 1e-5, 1e-5);
    free(hx), free(hw), free(gy), free(gyn);
    clgrad_tensor *rel[] = {x, w, xn, y, yn};
    for (int i = 0; i < 5; i++) clgrad_tensor_release(rel[i]);
}
END_TEST

/* --- gradients ------------------------------------------------------------------------------- */

typedef struct gcase {
    int kind, with_bias, with_state;
} gcase;

/* in: xp, w, [bias], [state]. */
static clgrad_status seq_fn(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    gcase *c = user;
    int i = 2;
    clgrad_tensor *bias = c->with_bias ? in[i++] : NULL, *state = c->with_state ? in[i] : NULL;
    return run_seq(c->kind, in[0], in[1], bias, state, out);
}

static void check_grad(int kind, int T, int B, int H, int with_bias, int with_state)
{
    int G = gates(kind) * H, n = 2;
    int64_t xs[3] = {T, B, G}, ws[2] = {G, H}, bs[2], ss[3];
    int nb = bias_shape(kind, H, bs), ns = state_shape(kind, B, H, ss);
    clgrad_tensor *in[4] = {th_rand(3, xs, 31, -1, 1), th_rand(2, ws, 32, -0.6f, 0.6f)};
    if (with_bias) in[n++] = th_rand(nb, bs, 33, -0.5f, 0.5f);
    if (with_state) in[n++] = th_rand(ns, ss, 34, -0.8f, 0.8f);
    for (int i = 0; i < n; i++) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1));
    gcase c = {kind, with_bias, with_state};
    char what[64];
    snprintf(what, sizeof what, "kind %d bias %d state %d", kind, with_bias, with_state);
    /* relu: a small step, so that no pre-activation crosses the kink */
    th_gradcheck(what, seq_fn, n, in, &c, kind == K_RELU ? 1e-3 : 1e-2, kind == K_RELU ? 5e-3 : 2e-3, 1e-2);
    for (int i = 0; i < n; i++) clgrad_tensor_release(in[i]);
}

START_TEST(sequence_gradients)
{
    for (int v = 0; v < N_CONFIGS; v++) {
        set_config(v);
        for (int kind = K_LSTM; kind <= K_RELU; kind++) {
            check_grad(kind, 3, 2, 5, 1, 1);
            check_grad(kind, 2, 3, 4, 0, 0);
            check_grad(kind, 1, 2, 3, 1, 0);
        }
        check_grad(K_LSTM, 3, 2, 8, 1, 1); /* vector cells */
        check_grad(K_LSTM, 2, 3, 16, 0, 1);
        check_grad(K_LSTM, 2, 11, 9, 1, 1); /* more rows than a micro-tile, a partial one */
    }
    /* other micro-tiles of the CPU variant (the fused backward step's units per vector) */
    static const clgrad__gemm_cpu_params rows[2] = {{4, 4, 3, 64, 0, 0, 0}, {6, 8, 2, 64, 0, 0, 0}};
    for (int r = 0; r < 4; r++) {
        TH_OK(clgrad__gemm_set_params(th_ctx, &rows[r % 2], NULL));
        TH_OK(clgrad__gemm_set_whole_sequence(th_ctx, 1 + r / 2));
        check_grad(K_LSTM, 3, 7, 8, 1, 1);
        check_grad(K_LSTM, 2, 9, 8, 0, 0); /* no initial state, a partial row panel */
    }
    TH_OK(clgrad__gemm_set_whole_sequence(th_ctx, 0));
}
END_TEST

static clgrad_status proj_fn(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    (void)user;
    clgrad_tensor *xt = NULL;
    /* through a transposed view, as a batch-first input arrives */
    clgrad_status st = clgrad_transpose(in[0], 0, 1, &xt);
    if (st == CLGRAD_OK) st = clgrad__rnn_proj(xt, in[1], out);
    clgrad_tensor_release(xt);
    return st;
}

START_TEST(projection_gradients)
{
    int64_t xs[3] = {3, 4, 5}, ws[2] = {6, 5};
    clgrad_tensor *in[2] = {th_rand(3, xs, 41, -1, 1), th_rand(2, ws, 42, -1, 1)};
    for (int i = 0; i < 2; i++) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1));
    th_gradcheck("projection", proj_fn, 2, in, NULL, 1e-2, 2e-3, 1e-2);
    for (int i = 0; i < 2; i++) clgrad_tensor_release(in[i]);
}
END_TEST

/* Gradients of every input after one backward pass of sum(out * weights). */
static void grads_once(int kind, int H, float **g)
{
    enum { T = 9, B = 5 };
    int G = gates(kind) * H;
    int64_t xs[3] = {T, B, G}, ws[2] = {G, H}, bs[2], ss[3];
    int nb = bias_shape(kind, H, bs), ns = state_shape(kind, B, H, ss);
    clgrad_tensor *in[4] = {th_rand(3, xs, 51, -1, 1), th_rand(2, ws, 52, -0.3f, 0.3f), th_rand(nb, bs, 53, -1, 1),
                            th_rand(ns, ss, 54, -1, 1)};
    for (int i = 0; i < 4; i++) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1));
    clgrad_tensor *out = NULL, *wt = NULL, *prod = NULL, *loss = NULL;
    TH_OK(run_seq(kind, in[0], in[1], in[2], in[3], &out));
    int64_t os[3];
    clgrad_tensor_shape(out, os);
    wt = th_rand(3, os, 55, -1, 1);
    TH_OK(clgrad_mul(out, wt, &prod));
    TH_OK(clgrad_sum(prod, 0, NULL, 0, &loss));
    TH_OK(clgrad_backward(loss));
    for (int i = 0; i < 4; i++) g[i] = th_read(clgrad_tensor_grad(in[i]));
    clgrad_tensor *rel[] = {in[0], in[1], in[2], in[3], out, wt, prod, loss};
    for (int i = 0; i < 8; i++) clgrad_tensor_release(rel[i]);
}

START_TEST(backward_is_deterministic)
{
    static const int hs[2] = {33, 40}; /* scalar and vector cells */
    for (int kind = K_LSTM; kind <= K_RELU; kind++)
        for (int hi = 0; hi < 2; hi++) {
            int H = hs[hi];
            float *a[4], *b[4];
            grads_once(kind, H, a);
            grads_once(kind, H, b);
            int G = gates(kind) * H;
            size_t n[4] = {(size_t)9 * 5 * G, (size_t)G * H, (size_t)(kind == K_GRU ? 2 : 1) * G,
                           (size_t)(kind == K_LSTM ? 2 : 1) * 5 * H};
            for (int i = 0; i < 4; i++) {
                ck_assert_msg(memcmp(a[i], b[i], n[i] * sizeof(float)) == 0, "kind %d H %d input %d: gradients differ",
                              kind, H, i);
                free(a[i]);
                free(b[i]);
            }
        }
}
END_TEST

/* The whole sequence in one launch makes the same sums in the same order as one launch per
 * step: the same bits, forward and backward. */
START_TEST(whole_sequence_matches_steps)
{
    static const clgrad__gemm_cpu_params four_rows = {4, 4, 3, 64, 0, 0, 0}; /* 2 row panels of B = 5 */
    static const int hs[2] = {33, 40};
    for (int r = 0; r < 2; r++) {
        TH_OK(clgrad__gemm_set_params(th_ctx, r ? &four_rows : NULL, NULL));
        for (int hi = 0; hi < 2; hi++) {
            int H = hs[hi], G = 4 * H;
            float *a[4], *b[4];
            TH_OK(clgrad__gemm_set_whole_sequence(th_ctx, 2));
            grads_once(K_LSTM, H, a);
            TH_OK(clgrad__gemm_set_whole_sequence(th_ctx, 1));
            grads_once(K_LSTM, H, b);
            size_t n[4] = {(size_t)9 * 5 * G, (size_t)G * H, (size_t)G, (size_t)2 * 5 * H};
            for (int i = 0; i < 4; i++) {
                ck_assert_msg(memcmp(a[i], b[i], n[i] * sizeof(float)) == 0,
                              "params %d H %d input %d: whole sequence and per-step gradients differ", r, H, i);
                free(a[i]);
                free(b[i]);
            }
        }
    }
    TH_OK(clgrad__gemm_set_whole_sequence(th_ctx, 0));
}
END_TEST

START_TEST(error_paths)
{
    int64_t xs[3] = {4, 2, 12}, ws[2] = {12, 3}, bad_w[2] = {12, 4}, bad_b[1] = {11}, bad_s[3] = {2, 3, 3};
    clgrad_tensor *xp = th_rand(3, xs, 61, -1, 1), *w = th_rand(2, ws, 62, -1, 1), *w2 = th_rand(2, bad_w, 63, -1, 1);
    clgrad_tensor *b2 = th_rand(1, bad_b, 64, -1, 1), *s2 = th_rand(3, bad_s, 65, -1, 1), *out = (clgrad_tensor *)1;
    ck_assert_int_eq(clgrad__lstm_seq(xp, w2, NULL, NULL, &out), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(clgrad_last_error(th_ctx), "[12, 4]") != NULL, "%s", clgrad_last_error(th_ctx));
    ck_assert_int_eq(clgrad__lstm_seq(xp, w, b2, NULL, &out), CLGRAD_ERR_SHAPE);
    ck_assert_msg(strstr(clgrad_last_error(th_ctx), "[11]") != NULL, "%s", clgrad_last_error(th_ctx));
    ck_assert_int_eq(clgrad__lstm_seq(xp, w, NULL, s2, &out), CLGRAD_ERR_SHAPE);
    ck_assert_msg(strstr(clgrad_last_error(th_ctx), "[2, 3, 3]") != NULL, "%s", clgrad_last_error(th_ctx));
    ck_assert_int_eq(clgrad__gru_seq(xp, w, NULL, NULL, &out), CLGRAD_ERR_SHAPE); /* 12 is not 3 * 3 */
    ck_assert_int_eq(clgrad__rnn_seq(NULL, w, NULL, NULL, 0, &out), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad__lstm_seq(xp, w, NULL, NULL, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad__rnn_proj(xp, w, &out), CLGRAD_ERR_SHAPE); /* x's 12 columns against w's 3 */
    ck_assert_msg(strstr(clgrad_last_error(th_ctx), "[4, 2, 12]") != NULL, "%s", clgrad_last_error(th_ctx));
    clgrad_tensor *rel[] = {xp, w, w2, b2, s2};
    for (int i = 0; i < 5; i++) clgrad_tensor_release(rel[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ops_rnn_op");
    TCase *tc = tcase_create("rnn_op");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, sequence_forward);
    tcase_add_test(tc, projection_forward);
    tcase_add_test(tc, projection_of_many_rows);
    tcase_add_test(tc, sequence_gradients);
    tcase_add_test(tc, projection_gradients);
    tcase_add_test(tc, backward_is_deterministic);
    tcase_add_test(tc, whole_sequence_matches_steps);
    tcase_add_test(tc, error_paths);
    suite_add_tcase(s, tc);
    return th_run(s, 1);
}
