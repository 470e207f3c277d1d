/* Reference recurrent layers: the Elman (tanh, relu), LSTM and GRU cells stepped over a
 * sequence in double, one layer and one direction at a time. Semantics are documented in
 * ref.h. */
#include "ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ref_rnn_gates(ref_rnn_kind kind) { return kind == REF_RNN_LSTM ? 4 : kind == REF_RNN_GRU ? 3 : 1; }

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

/* s[g] = bias[g] + sum_k w[g, k] * v[k] for g < G (w row-major G x K; bias NULL is 0). */
static void affine(int G, int K, const float *w, const double *v, const float *bias, double *s)
{
    for (int g = 0; g < G; g++) {
        double acc = bias ? bias[g] : 0.0;
        for (int k = 0; k < K; k++) acc += (double)w[(size_t)g * K + k] * v[k];
        s[g] = acc;
    }
}

void ref_rnn_forward(ref_rnn_kind kind, int T, int B, int I, int H, const float *x,
                     const float *w_ih, const float *w_hh, const float *b_ih, const float *b_hh,
                     const float *h0, const float *c0, float *y, float *hn, float *cn)
{
    int G = ref_rnn_gates(kind) * H, In = w_ih ? I : G;
    double *h = calloc((size_t)B * H, sizeof *h), *c = calloc((size_t)B * H, sizeof *c);
    double *xt = malloc(sizeof(double) * (size_t)In), *gi = malloc(sizeof(double) * (size_t)G);
    double *gh = malloc(sizeof(double) * (size_t)G), *hv = malloc(sizeof(double) * (size_t)H);
    for (int i = 0; i < B * H; i++) {
        h[i] = h0 ? h0[i] : 0.0;
        c[i] = c0 && kind == REF_RNN_LSTM ? c0[i] : 0.0;
    }
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < B; b++) {
            const float *xr = x + ((size_t)t * B + b) * In;
            double *hb = h + (size_t)b * H, *cb = c + (size_t)b * H;
            for (int k = 0; k < In; k++) xt[k] = xr[k];
            if (w_ih) {
                affine(G, I, w_ih, xt, b_ih, gi);
            } else {
                for (int g = 0; g < G; g++) gi[g] = xt[g] + (b_ih ? b_ih[g] : 0.0);
            }
            affine(G, H, w_hh, hb, b_hh, gh);
            for (int j = 0; j < H; j++) {
                if (kind == REF_RNN_TANH) {
                    hv[j] = tanh(gi[j] + gh[j]);
                } else if (kind == REF_RNN_RELU) {
                    double v = gi[j] + gh[j];
                    hv[j] = v > 0 ? v : 0;
                } else if (kind == REF_RNN_LSTM) {
                    double ig = sigmoid(gi[j] + gh[j]), fg = sigmoid(gi[H + j] + gh[H + j]);
                    double gg = tanh(gi[2 * H + j] + gh[2 * H + j]), og = sigmoid(gi[3 * H + j] + gh[3 * H + j]);
                    cb[j] = fg * cb[j] + ig * gg;
                    hv[j] = og * tanh(cb[j]);
                } else {
                    double r = sigmoid(gi[j] + gh[j]), z = sigmoid(gi[H + j] + gh[H + j]);
                    double n = tanh(gi[2 * H + j] + r * gh[2 * H + j]);
                    hv[j] = (1 - z) * n + z * hb[j];
                }
            }
            /* every unit of this sample read the old h: update it only now */
            memcpy(hb, hv, sizeof(double) * (size_t)H);
            if (y)
                for (int j = 0; j < H; j++) y[((size_t)t * B + b) * H + j] = (float)hv[j];
        }
    }
    for (int i = 0; i < B * H; i++) {
        if (hn) hn[i] = (float)h[i];
        if (cn) cn[i] = (float)c[i];
    }
    free(h);
    free(c);
    free(xt);
    free(gi);
    free(gh);
    free(hv);
}

/* Backpropagation through time, in double: the forward is recomputed keeping every step's
 * pre-activations, then the steps are walked backwards. */
void ref_rnn_backward(ref_rnn_kind kind, int T, int B, int H, const float *xp, const float *w_hh,
                      const float *b_ih, const float *b_hh, const float *h0, const float *c0, const float *dy,
                      const float *dcn, float *dxp, float *dw_hh, float *db_ih, float *db_hh, float *dh0,
                      float *dc0)
{
    const int G = ref_rnn_gates(kind) * H, lstm = kind == REF_RNN_LSTM;
    const size_t BH = (size_t)B * H, BG = (size_t)B * G;
    /* hs[t] is the state before step t (hs[0] = h0), cs likewise; ai, ah the step's two
     * affine parts (gi = xp + b_ih, gh = w_hh h + b_hh) */
    double *hs = calloc((size_t)(T + 1) * BH, sizeof *hs), *cs = calloc((size_t)(T + 1) * BH, sizeof *cs);
    double *ai = malloc(sizeof(double) * (size_t)T * BG), *ah = malloc(sizeof(double) * (size_t)T * BG);
    double *dw = calloc((size_t)G * H, sizeof *dw), *dbi = calloc((size_t)G, sizeof *dbi);
    double *dbh = calloc((size_t)G, sizeof *dbh), *dh = calloc(BH, sizeof *dh), *dc = calloc(BH, sizeof *dc);
    double *dgi = malloc(sizeof(double) * (size_t)G), *dgh = malloc(sizeof(double) * (size_t)G);
    double *dhp = malloc(sizeof(double) * (size_t)H);
    for (size_t i = 0; i < BH; i++) {
        hs[i] = h0 ? h0[i] : 0.0;
        cs[i] = lstm && c0 ? c0[i] : 0.0;
    }
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            const double *hp = hs + (size_t)t * BH + (size_t)b * H, *cp = cs + (size_t)t * BH + (size_t)b * H;
            double *hn = hs + (size_t)(t + 1) * BH + (size_t)b * H, *cn = cs + (size_t)(t + 1) * BH + (size_t)b * H;
            double *gi = ai + (size_t)t * BG + (size_t)b * G, *gh = ah + (size_t)t * BG + (size_t)b * G;
            for (int g = 0; g < G; g++) gi[g] = (double)xp[((size_t)t * B + b) * G + g] + (b_ih ? b_ih[g] : 0.0);
            affine(G, H, w_hh, hp, b_hh, gh);
            for (int j = 0; j < H; j++) {
                if (kind == REF_RNN_TANH) {
                    hn[j] = tanh(gi[j] + gh[j]);
                } else if (kind == REF_RNN_RELU) {
                    double v = gi[j] + gh[j];
                    hn[j] = v > 0 ? v : 0;
                } else if (lstm) {
                    double ig = sigmoid(gi[j] + gh[j]), fg = sigmoid(gi[H + j] + gh[H + j]);
                    double gg = tanh(gi[2 * H + j] + gh[2 * H + j]), og = sigmoid(gi[3 * H + j] + gh[3 * H + j]);
                    cn[j] = fg * cp[j] + ig * gg;
                    hn[j] = og * tanh(cn[j]);
                } else {
                    double r = sigmoid(gi[j] + gh[j]), z = sigmoid(gi[H + j] + gh[H + j]);
                    double n = tanh(gi[2 * H + j] + r * gh[2 * H + j]);
                    hn[j] = (1 - z) * n + z * hp[j];
                }
            }
        }
    for (size_t i = 0; i < BH; i++) dc[i] = lstm && dcn ? dcn[i] : 0.0;
    for (int t = T - 1; t >= 0; t--)
        for (int b = 0; b < B; b++) {
            const double *hp = hs + (size_t)t * BH + (size_t)b * H, *cp = cs + (size_t)t * BH + (size_t)b * H;
            const double *hn = hs + (size_t)(t + 1) * BH + (size_t)b * H, *cn = cs + (size_t)(t + 1) * BH + (size_t)b * H;
            const double *gi = ai + (size_t)t * BG + (size_t)b * G, *gh = ah + (size_t)t * BG + (size_t)b * G;
            double *dhb = dh + (size_t)b * H, *dcb = dc + (size_t)b * H;
            for (int j = 0; j < H; j++) dhp[j] = 0.0;
            for (int j = 0; j < H; j++) {
                double d = dhb[j] + (dy ? (double)dy[((size_t)t * B + b) * H + j] : 0.0);
                if (kind == REF_RNN_TANH) {
                    dgi[j] = dgh[j] = d * (1 - hn[j] * hn[j]);
                } else if (kind == REF_RNN_RELU) {
                    dgi[j] = dgh[j] = gi[j] + gh[j] > 0 ? d : 0.0;
                } else if (lstm) {
                    double ig = sigmoid(gi[j] + gh[j]), fg = sigmoid(gi[H + j] + gh[H + j]);
                    double gg = tanh(gi[2 * H + j] + gh[2 * H + j]), og = sigmoid(gi[3 * H + j] + gh[3 * H + j]);
                    double tc = tanh(cn[j]), dcell = dcb[j] + d * og * (1 - tc * tc);
                    dgi[j] = dcell * gg * ig * (1 - ig);
                    dgi[H + j] = dcell * cp[j] * fg * (1 - fg);
                    dgi[2 * H + j] = dcell * ig * (1 - gg * gg);
                    dgi[3 * H + j] = d * tc * og * (1 - og);
                    for (int q = 0; q < 4; q++) dgh[q * H + j] = dgi[q * H + j];
                    dcb[j] = dcell * fg; /* to the previous step's cell */
                } else {
                    double r = sigmoid(gi[j] + gh[j]), z = sigmoid(gi[H + j] + gh[H + j]);
                    double n = tanh(gi[2 * H + j] + r * gh[2 * H + j]);
                    double dan = d * (1 - z) * (1 - n * n), daz = d * (hp[j] - n) * z * (1 - z);
                    double dar = dan * gh[2 * H + j] * r * (1 - r);
                    dgi[j] = dgh[j] = dar;
                    dgi[H + j] = dgh[H + j] = daz;
                    dgi[2 * H + j] = dan;
                    dgh[2 * H + j] = dan * r;
                    dhp[j] += d * z; /* h = ... + z * h_prev */
                }
            }
            for (int g = 0; g < G; g++) {
                if (dxp) dxp[((size_t)t * B + b) * G + g] = (float)dgi[g];
                dbi[g] += dgi[g];
                dbh[g] += dgh[g];
                for (int k = 0; k < H; k++) {
                    dw[(size_t)g * H + k] += dgh[g] * hp[k];
                    dhp[k] += dgh[g] * (double)w_hh[(size_t)g * H + k];
                }
            }
            memcpy(dhb, dhp, sizeof(double) * (size_t)H);
        }
    for (size_t i = 0; i < (size_t)G * H; i++)
        if (dw_hh) dw_hh[i] = (float)dw[i];
    for (int g = 0; g < G; g++) {
        if (db_ih) db_ih[g] = (float)dbi[g];
        if (db_hh) db_hh[g] = (float)dbh[g];
    }
    for (size_t i = 0; i < BH; i++) {
        if (dh0) dh0[i] = (float)dh[i];
        if (dc0) dc0[i] = (float)dc[i];
    }
    free(hs), free(cs), free(ai), free(ah), free(dw), free(dbi), free(dbh), free(dh), free(dc);
    free(dgi), free(dgh), free(dhp);
}
