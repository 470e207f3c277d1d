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
