/* The remaining families under both styles: embedding forward and its sorted scatter-add
 * backward (a bitonic sort of a length that is no power of two, rows folded over NDRange
 * dims 1 and 2), the Philox generators and dropout (bit-exact against the reference), the
 * fused SGD and Adam/AdamW updates, and the recurrent ops: the input projection (a strided
 * input gathered in blocks of the lowered fold limit) and the LSTM, GRU and Elman sequences
 * with bias and initial state, batches beyond the fold limit, forward and backward against
 * the reference forward and its backpropagation through time. */
#include "gs.h"

#include "ops/gemm.h"
#include "ops/optim.h"
#include "ops/rnn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- embedding ------------------------------------------------------------------------------- */

typedef struct emb_args {
    clgrad_tensor *idx;
} emb_args;

static clgrad_status emb_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    return clgrad_embedding(in[0], ((emb_args *)user)->idx, out);
}

START_TEST(embedding_forward_and_backward)
{
    gs_style(_i);
    const int V = 7, D = 5, N = 11; /* 11 indices: the sort pads to 16; repeated rows add up */
    int32_t idx[11];
    for (int i = 0; i < N; i++) idx[i] = (i * 5 + 3) % V;
    int64_t sw[2] = {V, D}, si[1] = {N};
    float *hw;
    emb_args a = {th_tensor_i32(1, si, idx)};
    clgrad_tensor *w = gs_rand(2, sw, 1, -1, 1, &hw);
    TH_OK(clgrad_tensor_set_requires_grad(w, 1));
    float y[55], dy[55], dw[35];
    th_fill_uniform(dy, 55, 2, -1, 1);
    ck_assert_int_eq(ref_embedding_forward((size_t)N, (size_t)D, (size_t)V, hw, idx, y), 0);
    ck_assert_int_eq(ref_embedding_backward((size_t)N, (size_t)D, (size_t)V, idx, dy, dw), 0);
    char what[64];
    snprintf(what, sizeof what, "%s embedding", gs_style_name(_i));
    const float *wd[1] = {dw};
    gs_check_op(what, emb_op, &a, 1, &w, y, dy, wd, 1e-6, 1e-5);
    free(hw);
    clgrad_tensor_release(w);
    clgrad_tensor_release(a.idx);
}
END_TEST

/* --- random numbers and dropout --------------------------------------------------------------- */

typedef struct drop_args {
    float p;
    uint64_t seed;
} drop_args;

static clgrad_status drop_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    const drop_args *a = user;
    return clgrad_dropout(in[0], a->p, a->seed, 1, out);
}

START_TEST(random_numbers_and_dropout)
{
    gs_style(_i);
    int64_t n = 45;
    clgrad_tensor *u = NULL, *g = NULL;
    TH_OK(clgrad_tensor_uniform(th_ctx, 1, &n, 77, -1.0f, 3.0f, &u));
    TH_OK(clgrad_tensor_normal(th_ctx, 1, &n, 78, 0.5f, 2.0f, &g));
    float *hu = th_read(u), *hg = th_read(g), wu[45], wg[45];
    for (int i = 0; i < 45; i++) {
        wu[i] = -1.0f + 4.0f * ref_uniform(77, (uint64_t)i);
        wg[i] = 0.5f + 2.0f * ref_normal(78, (uint64_t)i);
    }
    th_allclose("uniform", hu, wu, 45, 1e-6, 0);
    th_allclose("normal", hg, wg, 45, 1e-4, 0);
    free(hu), free(hg);
    clgrad_tensor_release(u);
    clgrad_tensor_release(g);
    float *hx, y[45], dy[45], dx[45];
    clgrad_tensor *x = gs_rand(1, &n, 3, -1, 1, &hx);
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    drop_args a = {0.3f, 99};
    th_fill_uniform(dy, 45, 4, -1, 1);
    ref_dropout_forward(45, 99, 0, 0.3f, hx, y, NULL);
    ref_dropout_backward(45, 99, 0, 0.3f, dy, dx);
    const float *wd[1] = {dx};
    gs_check_op("dropout", drop_op, &a, 1, &x, y, dy, wd, 1e-6, 1e-6);
    free(hx);
    clgrad_tensor_release(x);
}
END_TEST

/* --- optimizer updates ----------------------------------------------------------------------- */

START_TEST(optimizer_updates)
{
    gs_style(_i);
    int64_t n = 37;
    float *hp, *hg;
    clgrad_tensor *p = gs_rand(1, &n, 1, -1, 1, &hp), *gr = gs_rand(1, &n, 2, -1, 1, &hg), *buf = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, &n, &buf));
    float wb[37] = {0};
    clgrad__sgd_hparams sh = {0.1f, 0.9f, 0.1f, 0.01f, 1};
    for (int step = 0; step < 2; step++) {
        TH_OK(clgrad__sgd_step(p, gr, buf, &sh, step == 0));
        ref_sgd_step(37, hp, hg, wb, 0.1f, 0.9f, 0.1f, 1, 0.01f, step == 0);
    }
    float *got = th_read(p);
    th_allclose("sgd", got, hp, 37, 1e-6, 1e-5);
    free(got);
    for (int decoupled = 0; decoupled < 2; decoupled++) {
        clgrad_tensor *m = NULL, *v = NULL;
        TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, &n, &m));
        TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, &n, &v));
        float wm[37] = {0}, wv[37] = {0};
        clgrad__adam_hparams ah = {0.01f, 0.9f, 0.999f, 1e-8f, 0.05f};
        float *cur = th_read(p);
        memcpy(hp, cur, sizeof(float) * 37);
        free(cur);
        for (int64_t t = 1; t <= 2; t++) {
            TH_OK(clgrad__adam_step(p, gr, m, v, &ah, t, decoupled));
            if (decoupled) ref_adamw_step(37, hp, hg, wm, wv, 0.01f, 0.9f, 0.999f, 1e-8f, 0.05f, t);
            else ref_adam_step(37, hp, hg, wm, wv, 0.01f, 0.9f, 0.999f, 1e-8f, 0.05f, t);
        }
        got = th_read(p);
        th_allclose(decoupled ? "adamw" : "adam", got, hp, 37, 1e-6, 1e-5);
        free(got);
        clgrad_tensor_release(m);
        clgrad_tensor_release(v);
    }
    free(hp), free(hg);
    clgrad_tensor_release(p), clgrad_tensor_release(gr), clgrad_tensor_release(buf);
}
END_TEST

/* --- recurrent ops ------------------------------------------------------------------------------ */

enum { K_LSTM, K_GRU, K_TANH, K_RELU };
static const ref_rnn_kind REF_KIND[4] = {REF_RNN_LSTM, REF_RNN_GRU, REF_RNN_TANH, REF_RNN_RELU};

typedef struct seq_args {
    int kind;
} seq_args;

static clgrad_status seq_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    switch (((seq_args *)user)->kind) {
    case K_LSTM: return clgrad__lstm_seq(in[0], in[1], in[2], in[3], out);
    case K_GRU: return clgrad__gru_seq(in[0], in[1], in[2], in[3], out);
    case K_TANH: return clgrad__rnn_seq(in[0], in[1], in[2], in[3], 0, out);
    default: return clgrad__rnn_seq(in[0], in[1], in[2], in[3], 1, out);
    }
}

START_TEST(recurrent_sequences)
{
    gs_style(_i);
    const int T = 3, B = 4, H = 5; /* 4 rows: beyond the fold limit */
    /* the four kinds one launch per step, then the LSTM as one launch for the whole sequence
     * (the CPU style's fused kernels; the GPU style launches per step either way) */
    for (int c = 0; c <= K_RELU + 1; c++) {
        const int kind = c <= K_RELU ? c : K_LSTM;
        TH_OK(clgrad__gemm_set_whole_sequence(th_ctx, c <= K_RELU ? 2 : 1));
        const int lstm = kind == K_LSTM, gru = kind == K_GRU, G = ref_rnn_gates(REF_KIND[kind]) * H;
        int64_t sx[3] = {T, B, G}, sw[2] = {G, H}, sb[2] = {gru ? 2 : G, 3 * H}, ss[3] = {2, B, H};
        float *hx, *hw, *hb, *hs;
        clgrad_tensor *in[4] = {gs_rand(3, sx, 1, -1.5f, 1.5f, &hx), gs_rand(2, sw, 2, -0.5f, 0.5f, &hw),
                                gs_rand(gru ? 2 : 1, gru ? sb : &sb[0], 3, -0.5f, 0.5f, &hb),
                                lstm ? gs_rand(3, ss, 4, -0.9f, 0.9f, &hs) : gs_rand(2, &ss[1], 4, -0.9f, 0.9f, &hs)};
        for (int i = 0; i < 4; i++) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1));
        const size_t BH = (size_t)B * H, rows = (size_t)(lstm ? T + 1 : T);
        float *y = malloc(rows * BH * sizeof *y), *dy = malloc(rows * BH * sizeof *dy);
        float *dx = malloc((size_t)T * B * G * sizeof *dx), *dw = malloc((size_t)G * H * sizeof *dw);
        float *db = malloc(2 * (size_t)G * sizeof *db), *ds = malloc(2 * BH * sizeof *ds);
        th_fill_uniform(dy, rows * BH, 5, -1, 1);
        const float *b_ih = hb, *b_hh = gru ? hb + G : NULL;
        ref_rnn_forward(REF_KIND[kind], T, B, G, H, hx, NULL, hw, b_ih, b_hh, hs, lstm ? hs + BH : NULL, y, NULL,
                        lstm ? y + (size_t)T * BH : NULL);
        ref_rnn_backward(REF_KIND[kind], T, B, H, hx, hw, b_ih, b_hh, hs, lstm ? hs + BH : NULL, dy,
                         lstm ? dy + (size_t)T * BH : NULL, dx, dw, db, gru ? db + G : NULL, ds,
                         lstm ? ds + BH : NULL);
        seq_args a = {kind};
        char what[64];
        snprintf(what, sizeof what, "%s recurrent kind %d%s", gs_style_name(_i), kind,
                 c > K_RELU ? " (whole sequence)" : "");
        const float *wd[4] = {dx, dw, db, ds};
        gs_check_op(what, seq_op, &a, 4, in, y, dy, wd, 1e-4, 1e-3);
        free(y), free(dy), free(dx), free(dw), free(db), free(ds), free(hx), free(hw), free(hb), free(hs);
        for (int i = 0; i < 4; i++) clgrad_tensor_release(in[i]);
    }
    TH_OK(clgrad__gemm_set_whole_sequence(th_ctx, 0));
}
END_TEST

static clgrad_status proj_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    (void)user;
    return clgrad__rnn_proj(in[0], in[1], out);
}

START_TEST(recurrent_projection)
{
    gs_style(_i);
    const int T = 4, B = 5, I = 3, G = 7;
    for (int strided = 0; strided < 2; strided++) {
        int64_t sx[3] = {T, B, I}, sw[2] = {G, I};
        float *hx, *hw;
        clgrad_tensor *in[2] = {gs_rand(3, sx, 1, -1, 1, &hx), gs_rand(2, sw, 2, -1, 1, &hw)};
        if (strided) th_make_noncontig(&in[0]); /* gathered by a kernel, in blocks of steps and rows */
        TH_OK(clgrad_tensor_set_requires_grad(in[0], 1));
        TH_OK(clgrad_tensor_set_requires_grad(in[1], 1));
        float y[140], dy[140], dx[60], dw[21];
        th_fill_uniform(dy, 140, 3, -1, 1);
        ref_gemm(0, 1, T * B, G, I, 1.0f, hx, I, hw, I, 0.0f, y, G);
        ref_gemm_backward(0, 1, T * B, G, I, 1.0f, hx, I, hw, I, dy, G, dx, dw, 0.0f, NULL, 0);
        const float *wd[2] = {dx, dw};
        char what[64];
        snprintf(what, sizeof what, "%s projection%s", gs_style_name(_i), strided ? " strided" : "");
        gs_check_op(what, proj_op, NULL, 2, in, y, dy, wd, 1e-5, 1e-4);
        free(hx), free(hw);
        clgrad_tensor_release(in[0]);
        clgrad_tensor_release(in[1]);
    }
}
END_TEST

static Suite *suite_gs_misc(void)
{
    Suite *s = suite_create("gs_misc");
    TCase *t = tcase_create("misc");
    tcase_add_checked_fixture(t, th_setup, th_teardown);
    tcase_set_timeout(t, 600);
    tcase_add_loop_test(t, embedding_forward_and_backward, 0, GS_N_STYLES);
    tcase_add_loop_test(t, random_numbers_and_dropout, 0, GS_N_STYLES);
    tcase_add_loop_test(t, optimizer_updates, 0, GS_N_STYLES);
    tcase_add_loop_test(t, recurrent_sequences, 0, GS_N_STYLES);
    tcase_add_loop_test(t, recurrent_projection, 0, GS_N_STYLES);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return th_run(suite_gs_misc(), 1); }
