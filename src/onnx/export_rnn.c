/* Export of the recurrent layers (RNN, LSTM, GRU) to ONNX: one RNN / LSTM / GRU node per
 * layer with the weights reordered into ONNX's gate order (LSTM i, o, f, c; GRU z, r, h
 * with linear_before_reset=1), Transposes around them for batch_first, and the last step's
 * state alone when the options ask for it. */
#include "onnx/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ONNX gate block j holds clgrad's gate DST[j]. */
static const int LSTM_DST[4] = {0, 3, 1, 2}; /* i, o, f, c <- i, f, g, o */
static const int GRU_DST[3] = {1, 0, 2};     /* z, r, h <- r, z, n */
static const int RNN_DST[1] = {0};

/* w (G*H, cols) reordered into ONNX's gate order as a (1, G*H, cols) initializer. */
static clgrad_status gate_init(clgrad__oxe *e, const clgrad_tensor *t, const int *dst, int G, int64_t H,
                               const char *name)
{
    float *h = NULL;
    CLGRAD_TRY(clgrad__oxe_host_of(t, &h));
    int64_t cols = clgrad_tensor_ndim(t) == 2 ? clgrad_tensor_dim(t, 1) : 1;
    float *r = malloc((size_t)(G * H * cols) * sizeof *r);
    clgrad_status st = CLGRAD_ERR_HOST_MEMORY;
    if (r) {
        for (int j = 0; j < G; j++)
            memcpy(r + (size_t)(j * H * cols), h + (size_t)(dst[j] * H * cols), (size_t)(H * cols) * sizeof *r);
        int64_t s[3] = {1, G * H, cols};
        st = clgrad__oxb_init_f32(e->b, name, clgrad_tensor_ndim(t) == 2 ? 3 : 2, s, r);
    } else {
        clgrad__fail(NULL, st, "clgrad_onnx_export: out of host memory");
    }
    free(h);
    free(r);
    return st;
}

/* Layer l's bias [b_ih, b_hh], each in ONNX's gate order, as the (1, 2*G*H) initializer bn. */
static clgrad_status bias_init(clgrad__oxe *e, const clgrad_module *m, int l, const int *dst, int G, int64_t H,
                               const char *bn)
{
    char nm[64];
    float *bi = NULL, *bh = NULL, *bb = malloc((size_t)(2 * G * H) * sizeof *bb);
    snprintf(nm, sizeof nm, "bias_ih_l%d", l);
    clgrad_status st = bb ? clgrad__oxe_host_of(clgrad__module_get(m, nm), &bi) : CLGRAD_ERR_HOST_MEMORY;
    snprintf(nm, sizeof nm, "bias_hh_l%d", l);
    if (st == CLGRAD_OK) st = clgrad__oxe_host_of(clgrad__module_get(m, nm), &bh);
    if (st == CLGRAD_OK) {
        for (int j = 0; j < G; j++) {
            memcpy(bb + j * H, bi + dst[j] * H, (size_t)H * sizeof *bb);
            memcpy(bb + G * H + j * H, bh + dst[j] * H, (size_t)H * sizeof *bb);
        }
        int64_t s[2] = {1, 2 * G * H};
        st = clgrad__oxb_init_f32(e->b, bn, 2, s, bb);
    } else if (st == CLGRAD_ERR_HOST_MEMORY) {
        clgrad__fail(NULL, st, "clgrad_onnx_export: out of host memory");
    }
    free(bi);
    free(bh);
    free(bb);
    return st;
}

/* Layer l: its initializers (W, R and B under prefix), its node on e->cur, and the Squeeze
 * of Y (T, 1, N, H) to (T, N, H) for the next layer; the final state's name into yh. */
static clgrad_status recurrent_layer(clgrad__oxe *e, const clgrad_module *m, const char *path, const char *prefix,
                                     const clgrad__layer_desc *d, int l, const char *axes1, char *yh, size_t yh_cap)
{
    int G = d->rnn == CLGRAD_LSTM ? 4 : d->rnn == CLGRAD_GRU ? 3 : 1;
    const int *dst = d->rnn == CLGRAD_LSTM ? LSTM_DST : d->rnn == CLGRAD_GRU ? GRU_DST : RNN_DST;
    const char *op = d->rnn == CLGRAD_LSTM ? "LSTM" : d->rnn == CLGRAD_GRU ? "GRU" : "RNN";
    int64_t H = d->hidden;
    char wn[300], rn[300], bn[300], nm[64], x[256], y[256], name[300];
    char lw[32], lr[32], lb[32];
    snprintf(lw, sizeof lw, "W_l%d", l);
    snprintf(lr, sizeof lr, "R_l%d", l);
    snprintf(lb, sizeof lb, "B_l%d", l);
    clgrad__oxe_cat2(wn, sizeof wn, prefix, lw);
    clgrad__oxe_cat2(rn, sizeof rn, prefix, lr);
    clgrad__oxe_cat2(bn, sizeof bn, prefix, lb);
    snprintf(nm, sizeof nm, "weight_ih_l%d", l);
    CLGRAD_TRY(gate_init(e, clgrad__module_get(m, nm), dst, G, H, wn));
    snprintf(nm, sizeof nm, "weight_hh_l%d", l);
    CLGRAD_TRY(gate_init(e, clgrad__module_get(m, nm), dst, G, H, rn));
    if (d->bias) CLGRAD_TRY(bias_init(e, m, l, dst, G, H, bn));
    snprintf(x, sizeof x, "%s", e->cur);
    clgrad__oxe_fresh(e, path, op, y, sizeof y);
    clgrad__oxe_cat2(yh, yh_cap, y, "_h");
    snprintf(name, sizeof name, "%s/%s_l%d", path, op, l);
    const char *in[4] = {x, wn, rn, bn}, *outs[2] = {y, yh};
    Onnx__NodeProto *n;
    CLGRAD_TRY(clgrad__oxb_node(e->b, op, name, d->bias ? 4 : 3, in, 2, outs, &n));
    CLGRAD_TRY(clgrad__oxb_attr_int(e->b, n, "hidden_size", H));
    if (d->rnn == CLGRAD_GRU) CLGRAD_TRY(clgrad__oxb_attr_int(e->b, n, "linear_before_reset", 1));
    if (d->rnn == CLGRAD_RNN_RELU) {
        const char *relu[1] = {"Relu"};
        CLGRAD_TRY(clgrad__oxb_attr_strings(e->b, n, "activations", 1, relu));
    }
    snprintf(e->cur, sizeof e->cur, "%s", y);
    const char *sq[2] = {y, axes1};
    return clgrad__oxe_step(e, path, "Squeeze", 2, sq, NULL);
}

/* (N, T, I) <-> (T, N, I) */
static clgrad_status swap_batch_time(clgrad__oxe *e, const char *path)
{
    Onnx__NodeProto *n;
    CLGRAD_TRY(clgrad__oxe_unary(e, path, "Transpose", &n));
    int64_t perm[3] = {1, 0, 2};
    return clgrad__oxb_attr_ints(e->b, n, "perm", 3, perm);
}

clgrad_status clgrad__oxe_recurrent(clgrad__oxe *e, const clgrad_module *m, const char *path, const char *prefix,
                                    const clgrad__layer_desc *d)
{
    const char *kind = clgrad_module_kind(m);
    if (e->nd != 3) return clgrad__oxe_unsupported(path, kind, "the input is not a batch of sequences (rank 3)");
    int64_t H = d->hidden, N = e->shape[d->batch_first ? 0 : 1], T = e->shape[d->batch_first ? 1 : 0];
    if (d->batch_first) CLGRAD_TRY(swap_batch_time(e, path));
    char axes1[64], axes0[64], yh[256] = "";
    int64_t one = 1, zero = 0;
    CLGRAD_TRY(clgrad__oxe_ints_init(e, 1, &one, axes1, sizeof axes1));
    CLGRAD_TRY(clgrad__oxe_ints_init(e, 1, &zero, axes0, sizeof axes0));
    for (int l = 0; l < d->layers; l++) CLGRAD_TRY(recurrent_layer(e, m, path, prefix, d, l, axes1, yh, sizeof yh));
    if (e->o->rnn_last_step) { /* the last layer's final state (1, N, H) -> (N, H) */
        const char *sq[2] = {yh, axes0};
        CLGRAD_TRY(clgrad__oxe_step(e, path, "Squeeze", 2, sq, NULL));
        e->nd = 2;
        e->shape[0] = N;
        e->shape[1] = H;
        return CLGRAD_OK;
    }
    if (d->batch_first) CLGRAD_TRY(swap_batch_time(e, path));
    e->shape[d->batch_first ? 0 : 1] = N;
    e->shape[d->batch_first ? 1 : 0] = T;
    e->shape[2] = H;
    return CLGRAD_OK;
}
