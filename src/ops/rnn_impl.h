/* Internal to the fused recurrent ops (rnn.c: the shared pieces, the input projection, GRU
 * and Elman RNN; rnn_lstm.c: LSTM): matrices in buffers, the GEMM and cell-kernel launches,
 * the checks, the record and the end of the backward passes that every sequence op uses. */
#ifndef CLGRAD_SRC_OPS_RNN_IMPL_H
#define CLGRAD_SRC_OPS_RNN_IMPL_H

#include "ops/ops.h"
#include "ops/rnn.h"
#include "tensor/node.h"

/* A contiguous matrix in a buffer: memory and element offset. */
typedef struct clgrad__rnn_mat {
    cl_mem m;
    cl_long off;
} clgrad__rnn_mat;

static inline clgrad__rnn_mat clgrad__rnn_at(const clgrad_tensor *t, int64_t off)
{
    return (clgrad__rnn_mat){t->buf->mem, (cl_long)(t->offset + off)};
}

/* The saved parameters of every sequence op: the sizes, and for the Elman RNN relu (else
 * tanh). */
typedef struct clgrad__rnn_seq_state {
    int64_t T, B, H;
    int relu;
} clgrad__rnn_seq_state;

/* C (m x n, ldc) = op(A) op(B) + beta C for one product. */
clgrad_status clgrad__rnn_mm(clgrad_context *ctx, int ta, int tb, int64_t m, int64_t n, int64_t k, float beta,
                             clgrad__rnn_mat a, int64_t lda, clgrad__rnn_mat b, int64_t ldb, clgrad__rnn_mat c,
                             int64_t ldc);
/* A cell kernel over (j < H, b < B), vw units j per work-item (options: its -D values). */
clgrad_status clgrad__rnn_cell_vw(clgrad_context *ctx, const char *kernel, const char *options, int64_t H, int vw,
                                  int64_t B, clgrad__kargs a);
/* The same with one unit per work-item (the scalar kernels). */
static inline clgrad_status clgrad__rnn_cell(clgrad_context *ctx, const char *kernel, int64_t H, int64_t B,
                                             clgrad__kargs a)
{
    return clgrad__rnn_cell_vw(ctx, kernel, NULL, H, 1, B, a);
}
/* The vector width of the vectorised cell kernels for H units: the device's elementwise
 * width when it divides H (its -D value into opts), else 1 (the scalar kernels). */
int clgrad__rnn_cell_width(clgrad_context *ctx, int64_t H, char *opts, size_t cap);
/* Releases v[0..n) and sets them to NULL. */
void clgrad__rnn_release_n(clgrad_tensor **v, int n);
/* Checks xp (T, B, G*H), w (G*H, H), bias ((2,) G*H; two rows when bias2), state ((2,) B, H;
 * two when state2); sets dims T, B, H. */
clgrad_status clgrad__rnn_check(const char *fn, int gates, clgrad_tensor *xp, clgrad_tensor *w, clgrad_tensor *bias,
                                int bias2, clgrad_tensor *state, int state2, clgrad_tensor **out, int64_t dims[3]);
/* Contiguous copies (or new references) of the non-NULL tensors in v. */
clgrad_status clgrad__rnn_contig_all(clgrad_tensor **in, clgrad_tensor **out, int n);
/* Records a sequence op: a second handle on y's buffer (the node must not hold its own
 * output) in saved slot 0, then sv[0..n) in slots 1..n. */
clgrad_status clgrad__rnn_record_seq(clgrad_tensor *y, const clgrad__op *op, clgrad_tensor **in, clgrad_tensor **sv,
                                     int n, clgrad__rnn_seq_state s);
/* The end of the LSTM and RNN backward passes: the bias gradient (column sums of the gate
 * gradients dg, (T, B, GH)) into t[2], dW_hh into t[3], then t handed out to gx in the
 * node's input order. Releases t on failure. */
clgrad_status clgrad__rnn_finish_backward(clgrad_context *ctx, clgrad__node *nd, clgrad_status st, int64_t T,
                                          int64_t B, int64_t H, int64_t GH, clgrad_tensor *dg, clgrad_tensor *y,
                                          const clgrad__rnn_mat *h0, clgrad_tensor **t, clgrad_tensor **gx);
/* h_{t-1}: y's row t-1, h0, or absent (zeros) at t = 0. */
clgrad__rnn_mat clgrad__rnn_h_prev(clgrad_tensor *y, const clgrad__rnn_mat *h0, int64_t t, int64_t BH, cl_int *has);

#endif
