/* The table of every differentiable op: one row per op descriptor (clgrad__op_<symbol>,
 * src/tensor/node.h), in the spirit of ATen's derivatives.yaml. A descriptor names the op,
 * the function that records it, its backward rule and its saved-state struct; it is
 * defined next to its backward rule in the family's file. Nothing else may record a node.
 *
 * tests/ops/op_table_coverage.py reads this file: every row must have a finite-difference
 * gradient check in tests/autograd/test_grad_*.c that calls its "checked through"
 * function, and a reference test in tests/ops, tests/tensor or tests/nn that calls its
 * forward. tests/ops/test_op_table.c checks every descriptor of clgrad__op_table.
 *
 * Adding a pointwise unary op takes three one-line edits: its kernel line
 * (EW_UNARY_FWD(x) EW_UNARY_BWD(x), with its U_x / D_x formulas) in cl/elementwise.cl, its
 * row X(x) in CLGRAD__OPS_UNARY below (which makes the public clgrad_x and its descriptor in
 * src/ops/elementwise.c), and its declaration in include/clgrad/ops.h. Then the coverage
 * test asks for its gradient check and reference test. */
#ifndef CLGRAD_SRC_OPS_OP_TABLE_H
#define CLGRAD_SRC_OPS_OP_TABLE_H

#include "tensor/node.h"

/* Pointwise unary ops of cl/elementwise.cl: public clgrad_<x>(x, out), kernels <x>_fwd_f32
 * and <x>_bwd_f32. X(x) */
#define CLGRAD__OPS_UNARY(X) \
    X(neg)                   \
    X(exp)                   \
    X(log)                   \
    X(sqrt)                  \
    X(rsqrt)                 \
    X(abs)                   \
    X(erf)

/* Tensor-scalar ops of cl/elementwise.cl: public clgrad_<x>(a, s, out). X(x) */
#define CLGRAD__OPS_SCALAR(X) \
    X(add_scalar)             \
    X(mul_scalar)             \
    X(pow_scalar)             \
    X(rsub_scalar)            \
    X(rdiv_scalar)            \
    X(maximum_scalar)         \
    X(minimum_scalar)

/* Every other differentiable op. X(symbol, forward, checked through) */
#define CLGRAD__OPS(X)                                                 \
    /* elementwise.c */                                                \
    X(clamp, clgrad_clamp, clgrad_clamp)                               \
    X(add, clgrad_add, clgrad_add)                                     \
    X(sub, clgrad_sub, clgrad_sub)                                     \
    X(mul, clgrad_mul, clgrad_mul)                                     \
    X(div, clgrad_div, clgrad_div)                                     \
    X(pow, clgrad_pow, clgrad_pow)                                     \
    X(maximum, clgrad_maximum, clgrad_maximum)                         \
    X(minimum, clgrad_minimum, clgrad_minimum)                         \
    X(where, clgrad_where, clgrad_where)                               \
    /* activation.c */                                                 \
    X(relu, clgrad_relu, clgrad_relu)                                  \
    X(leaky_relu, clgrad_leaky_relu, clgrad_leaky_relu)                \
    X(elu, clgrad_elu, clgrad_elu)                                     \
    X(gelu, clgrad_gelu, clgrad_gelu)                                  \
    X(gelu_tanh, clgrad_gelu, clgrad_gelu)                             \
    X(silu, clgrad_silu, clgrad_silu)                                  \
    X(sigmoid, clgrad_sigmoid, clgrad_sigmoid)                         \
    X(tanh, clgrad_tanh, clgrad_tanh)                                  \
    X(softplus, clgrad_softplus, clgrad_softplus)                      \
    X(hardtanh, clgrad_hardtanh, clgrad_hardtanh)                      \
    /* reduce.c */                                                     \
    X(sum, clgrad_sum, clgrad_sum)                                     \
    X(mean, clgrad_mean, clgrad_mean)                                  \
    X(max, clgrad_max, clgrad_max)                                     \
    X(min, clgrad_min, clgrad_min)                                     \
    X(var, clgrad_var, clgrad_var)                                     \
    /* softmax.c */                                                    \
    X(softmax, clgrad_softmax, clgrad_softmax)                         \
    X(log_softmax, clgrad_log_softmax, clgrad_log_softmax)             \
    /* view.c */                                                       \
    X(reshape, clgrad_reshape, clgrad_reshape)                         \
    X(permute, clgrad_permute, clgrad_permute)                         \
    X(slice, clgrad_slice, clgrad_slice)                               \
    X(expand, clgrad_expand, clgrad_expand)                            \
    X(contiguous, clgrad_contiguous, clgrad_contiguous)                \
    /* concat.c */                                                     \
    X(cat, clgrad_cat, clgrad_cat)                                     \
    X(stack, clgrad_stack, clgrad_stack)                               \
    /* matmul_api.c, linear.c */                                       \
    X(matmul, clgrad_matmul, clgrad_matmul)                            \
    X(linear, clgrad__linear, clgrad__linear)                          \
    /* conv.c, conv_transpose.c */                                     \
    X(conv2d, clgrad_conv2d, clgrad_conv2d)                            \
    X(conv_transpose2d, clgrad_conv_transpose2d, clgrad_conv_transpose2d) \
    /* pool.c */                                                       \
    X(max_pool2d, clgrad_max_pool2d, clgrad_max_pool2d)                \
    X(avg_pool2d, clgrad_avg_pool2d, clgrad_avg_pool2d)                \
    X(global_avg_pool2d, clgrad_global_avg_pool2d, clgrad_global_avg_pool2d) \
    /* norm.c */                                                       \
    X(batch_norm, clgrad_batch_norm, clgrad_batch_norm)                \
    X(layer_norm, clgrad_layer_norm, clgrad_layer_norm)                \
    /* loss.c */                                                       \
    X(cross_entropy, clgrad_cross_entropy, clgrad_cross_entropy)       \
    X(nll_loss, clgrad_nll_loss, clgrad_nll_loss)                      \
    X(mse_loss, clgrad_mse_loss, clgrad_mse_loss)                      \
    X(bce_with_logits, clgrad_bce_with_logits, clgrad_bce_with_logits) \
    /* dropout.c, embedding.c */                                       \
    X(dropout, clgrad_dropout, clgrad_dropout)                         \
    X(embedding, clgrad_embedding, clgrad_embedding)                   \
    /* rnn.c: internal ops of the recurrent layers (src/nn/rnn.c) */   \
    X(rnn_proj, clgrad__rnn_proj, clgrad_rnn_create)                   \
    X(lstm_seq, clgrad__lstm_seq, clgrad_rnn_create)                   \
    X(gru_seq, clgrad__gru_seq, clgrad_rnn_create)                     \
    X(rnn_seq, clgrad__rnn_seq, clgrad_rnn_create)                     \
    /* collective.c: a sum over the ranks of a group (src/dist) */     \
    X(collective, clgrad__collective, clgrad__collective)

#define CLGRAD__OP_DECLARE1(sym) extern const clgrad__op clgrad__op_##sym;
#define CLGRAD__OP_DECLARE3(sym, forward, checked) extern const clgrad__op clgrad__op_##sym;
CLGRAD__OPS_UNARY(CLGRAD__OP_DECLARE1)
CLGRAD__OPS_SCALAR(CLGRAD__OP_DECLARE1)
CLGRAD__OPS(CLGRAD__OP_DECLARE3)
#undef CLGRAD__OP_DECLARE1
#undef CLGRAD__OP_DECLARE3

/* Every descriptor of the rows above, in table order (src/ops/op_table.c). */
extern const clgrad__op *const clgrad__op_table[];
extern const size_t clgrad__op_table_count;

#endif
