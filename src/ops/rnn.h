/* Fused recurrent ops, used by the recurrent layers of src/nn: per layer one input
 * projection op, xp = x W_ih^T for every step at once (one GEMM), then one sequence op that
 * runs the whole recurrence: per step one GEMM h_{t-1} W_hh^T and one fused cell kernel;
 * its backward runs per step one fused cell-backward kernel and one GEMM, then one GEMM over
 * all steps for the W_hh gradient and a column sum for the biases' (the biases are added
 * inside the cell kernels). The gradient of xp is the pre-activation gradient of every step
 * at once, from which the projection's backward makes those of W_ih and x.
 *
 * Common rules: xp is f32 (T, B, G*H) with T, B, H >= 1 (any strides); w_hh is (G*H, H).
 * Results are new contiguous tensors recorded for backward when an input requires grad.
 * A sequence op keeps what backward needs (gate activations, cell states, and the hidden
 * states through a second handle on the result's buffer), so modifying its result in place
 * before backward gives wrong gradients. */
#ifndef CLGRAD_SRC_OPS_RNN_H
#define CLGRAD_SRC_OPS_RNN_H

/* Only public types here: the nn layer includes this header and stays free of OpenCL. */
#include "core/core.h"

/* The input projection of a layer: xp = x W_ih^T for x (T, B, I) (any strides; a
 * batch-first view is gathered by one kernel) and w_ih (G, I): one GEMM over all T * B rows.
 * Backward: one GEMM each for x and w_ih. *out is (T, B, G). */
clgrad_status clgrad__rnn_proj(clgrad_tensor *x, clgrad_tensor *w_ih, clgrad_tensor **out);

/* LSTM, gates in PyTorch's order i, f, g, o (G = 4); bias (4H) = b_ih + b_hh or NULL; hc0
 * (2, B, H) = h0 then c0, or NULL (zeros). *out is (T + 1, B, H): rows 0..T-1 are
 * h_1..h_T (row T-1 is the final hidden state), row T is the final cell state c_T. */
clgrad_status clgrad__lstm_seq(clgrad_tensor *xp, clgrad_tensor *w_hh, clgrad_tensor *bias, clgrad_tensor *hc0,
                               clgrad_tensor **out);

/* GRU, gates r, z, n (G = 3); bias (2, 3H) = b_ih then b_hh, or NULL: b_hh stays inside
 * the candidate gate, n = tanh(x W_in^T + b_in + r * (W_hn h + b_hn)). h0 (B, H) or NULL.
 * *out is (T, B, H): h_1..h_T. */
clgrad_status clgrad__gru_seq(clgrad_tensor *xp, clgrad_tensor *w_hh, clgrad_tensor *bias, clgrad_tensor *h0,
                              clgrad_tensor **out);

/* Elman RNN (G = 1), h_t = act(xp_t + h_{t-1} W_hh^T + bias) with act tanh, or relu when
 * relu is non-zero; bias (H) = b_ih + b_hh or NULL; h0 (B, H) or NULL. *out is (T, B, H). */
clgrad_status clgrad__rnn_seq(clgrad_tensor *xp, clgrad_tensor *w_hh, clgrad_tensor *bias, clgrad_tensor *h0,
                              int relu, clgrad_tensor **out);

#endif
