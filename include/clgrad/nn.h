/* clgrad layers (modules). A module owns its parameters (leaf tensors that require grad)
 * and any child modules; clgrad_module_forward runs it on a borrowed input and hands back
 * a new reference. Parameters are enumerable with stable dotted names ("0.weight",
 * "features.3.bias", "lstm.weight_ih_l0"), the names checkpoints use. Initialisation
 * follows PyTorch's defaults, drawn from the seed given at creation. Included by clgrad.h. */
#ifndef CLGRAD_NN_H
#define CLGRAD_NN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clgrad_module clgrad_module;

/* --- every module ------------------------------------------------------------------------ */

/* Runs m on x (borrowed, of m's context); *out is a new reference (NULL on failure). In train
 * mode the result is recorded for clgrad_backward like any op. */
CLGRAD_API clgrad_status clgrad_module_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out);
CLGRAD_API void clgrad_module_release(clgrad_module *m); /* NULL: no-op; releases children */
/* The module's kind ("linear", "conv2d", "sequential", "lstm", ...); static string. */
CLGRAD_API const char *clgrad_module_kind(const clgrad_module *m);
/* The context the module's tensors live on (borrowed). */
CLGRAD_API clgrad_context *clgrad_module_context(const clgrad_module *m);
/* Train (non-zero) or eval mode, for this module and all below it. Modules start in train
 * mode; a child added to a container takes the container's mode. */
CLGRAD_API void clgrad_module_train(clgrad_module *m, int training);
CLGRAD_API int clgrad_module_is_training(const clgrad_module *m);

/* Direct children in order (borrowed; *name, optional, is the child's local name: "0",
 * "features"). NULL when i is out of range. */
CLGRAD_API int clgrad_module_child_count(const clgrad_module *m);
CLGRAD_API clgrad_module *clgrad_module_child(const clgrad_module *m, int i, const char **name);

/* Trainable parameters of m and its children, depth first in creation order (a module's
 * own entries before its children's). i in [0, count); the tensor is borrowed, NULL when i
 * is out of range. *name (optional) is the dotted name relative to m ("0.weight"), owned
 * by m and valid until m or a module below it gains an entry or m is released. */
CLGRAD_API int clgrad_module_param_count(const clgrad_module *m);
CLGRAD_API clgrad_tensor *clgrad_module_param(const clgrad_module *m, int i, const char **name);
/* Non-trainable tensors saved in checkpoints (batch norm running statistics, ...), named
 * and ordered as parameters. */
CLGRAD_API int clgrad_module_buffer_count(const clgrad_module *m);
CLGRAD_API clgrad_tensor *clgrad_module_buffer(const clgrad_module *m, int i, const char **name);
/* Host-side integer state saved in checkpoints, named and ordered as parameters: a
 * dropout's forward-call counter ("2.calls", which picks each call's mask, so restoring it
 * resumes the same mask sequence) and batch norm's "num_batches_tracked". The getter returns
 * 0 (and *name NULL) when i is out of range; the setter fails with INVALID_ARG then. */
CLGRAD_API int clgrad_module_counter_count(const clgrad_module *m);
CLGRAD_API uint64_t clgrad_module_counter(const clgrad_module *m, int i, const char **name);
CLGRAD_API clgrad_status clgrad_module_set_counter(clgrad_module *m, int i, uint64_t value);
/* Drops the gradients of every parameter (the next backward starts from zero). */
CLGRAD_API void clgrad_module_zero_grad(clgrad_module *m);

/* --- layers ----------------------------------------------------------------------------------
 * Every constructor hands back a new module through *out (NULL on failure) that the caller
 * releases (or gives to a container). seed picks the initial weights: the same seed gives
 * the same weights on every device. Weights and biases of Linear and the convolutions are
 * drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default (kaiming_uniform with
 * a = sqrt(5) for the weight, its bias rule for the bias), fan_in = in_features or
 * in_channels / groups * kH * kW (out_channels / groups * kH * kW for the transposed
 * convolution, as PyTorch computes it); weight and bias use two streams derived from seed. */

/* y = x W^T + b: x (..., in_features) -> (..., out_features); weight (out, in), bias (out). */
CLGRAD_API clgrad_status clgrad_linear_create(clgrad_context *ctx, int64_t in_features, int64_t out_features,
                                              int has_bias, uint64_t seed, clgrad_module **out);

/* x (N, C_in, H, W) -> (N, C_out, H_out, W_out); weight (C_out, C_in/groups, kH, kW), bias
 * (C_out). p (NULL: stride 1, no padding, dilation 1, groups 1) as for clgrad_conv2d;
 * channels must divide by groups. */
CLGRAD_API clgrad_status clgrad_conv2d_create(clgrad_context *ctx, int64_t in_channels, int64_t out_channels,
                                              int kernel_h, int kernel_w, const clgrad_conv2d_params *p,
                                              int has_bias, uint64_t seed, clgrad_module **out);
/* PyTorch's ConvTranspose2d: weight (C_in, C_out/groups, kH, kW), bias (C_out); p as for
 * clgrad_conv_transpose2d (output_padding included). */
CLGRAD_API clgrad_status clgrad_conv_transpose2d_create(clgrad_context *ctx, int64_t in_channels,
                                                        int64_t out_channels, int kernel_h, int kernel_w,
                                                        const clgrad_conv2d_params *p, int has_bias,
                                                        uint64_t seed, clgrad_module **out);

/* Pooling over (N, C, H, W) with the parameters of clgrad_max_pool2d / clgrad_avg_pool2d. */
CLGRAD_API clgrad_status clgrad_max_pool2d_create(clgrad_context *ctx, const clgrad_pool2d_params *p,
                                                  clgrad_module **out);
CLGRAD_API clgrad_status clgrad_avg_pool2d_create(clgrad_context *ctx, const clgrad_pool2d_params *p,
                                                  clgrad_module **out);
/* Adaptive average pooling to (out_h, out_w): (1, 1) is global average pooling; other sizes
 * need H and W divisible by them (UNSUPPORTED at forward otherwise). */
CLGRAD_API clgrad_status clgrad_adaptive_avg_pool2d_create(clgrad_context *ctx, int out_h, int out_w,
                                                           clgrad_module **out);

/* Batch normalisation over C of (N, C, H, W) (2d) or (N, C) / (N, C, L) (1d). weight 1 and
 * bias 0 when affine; buffers running_mean 0 and running_var 1, updated in train mode
 * (momentum as PyTorch: new = (1 - momentum) old + momentum batch, unbiased variance) and
 * used in eval mode; counter num_batches_tracked. PyTorch's defaults: eps 1e-5, momentum
 * 0.1. */
CLGRAD_API clgrad_status clgrad_batch_norm2d_create(clgrad_context *ctx, int64_t num_features, float eps,
                                                    float momentum, int affine, clgrad_module **out);
CLGRAD_API clgrad_status clgrad_batch_norm1d_create(clgrad_context *ctx, int64_t num_features, float eps,
                                                    float momentum, int affine, clgrad_module **out);
/* Normalises over the trailing dims given by normalized_shape (ndim of them); weight 1 and
 * bias 0 of that shape when affine. */
CLGRAD_API clgrad_status clgrad_layer_norm_create(clgrad_context *ctx, int ndim, const int64_t *normalized_shape,
                                                  float eps, int affine, clgrad_module **out);

/* Dropout with probability p in [0, 1): in train mode each forward call k (counted from 0;
 * the counter "calls") draws a fresh mask from the seed derived from (seed, k); in eval mode
 * it returns its input. */
CLGRAD_API clgrad_status clgrad_dropout_create(clgrad_context *ctx, float p, uint64_t seed, clgrad_module **out);

/* Lookup table: i32 indices of any shape -> (..., dim); weight (num_embeddings, dim) drawn
 * from N(0, 1) as PyTorch. */
CLGRAD_API clgrad_status clgrad_embedding_create(clgrad_context *ctx, int64_t num_embeddings, int64_t dim,
                                                 uint64_t seed, clgrad_module **out);

/* Flattens dims start_dim..end_dim (negative counts from the end) into one; PyTorch's
 * nn.Flatten defaults are 1, -1. */
CLGRAD_API clgrad_status clgrad_flatten_create(clgrad_context *ctx, int start_dim, int end_dim, clgrad_module **out);

/* Activations as layers. p0 and p1 are the kind's parameters (others ignore them):
 * LEAKY_RELU p0 = negative slope (PyTorch: 0.01); ELU p0 = alpha (1); SOFTPLUS p0 = beta
 * (1), p1 = threshold (20); HARDTANH p0 = min (-1), p1 = max (1); SOFTMAX and LOG_SOFTMAX
 * p0 = the axis (an integer value, e.g. -1 or 1). */
typedef enum clgrad_activation {
    CLGRAD_ACT_RELU = 0,
    CLGRAD_ACT_LEAKY_RELU = 1,
    CLGRAD_ACT_ELU = 2,
    CLGRAD_ACT_GELU = 3,
    CLGRAD_ACT_GELU_TANH = 4,
    CLGRAD_ACT_SILU = 5,
    CLGRAD_ACT_SIGMOID = 6,
    CLGRAD_ACT_TANH = 7,
    CLGRAD_ACT_SOFTPLUS = 8,
    CLGRAD_ACT_HARDTANH = 9,
    CLGRAD_ACT_SOFTMAX = 10,
    CLGRAD_ACT_LOG_SOFTMAX = 11,
} clgrad_activation;
CLGRAD_API clgrad_status clgrad_activation_create(clgrad_context *ctx, clgrad_activation kind, float p0, float p1,
                                                  clgrad_module **out);

/* A container running its children in order; children are named "0", "1", ... */
CLGRAD_API clgrad_status clgrad_sequential_create(clgrad_context *ctx, clgrad_module **out);
/* Appends child, taking ownership of it: on failure (NULL or non-sequential seq, child of
 * another context, duplicate name, ...) the child is released, so a constructor's result
 * can be passed on unchecked. A NULL child is INVALID_ARG. The exceptions are a child that
 * already belongs to a container, or one that contains seq: INVALID_ARG, and the child is
 * left to its owner. */
CLGRAD_API clgrad_status clgrad_sequential_add(clgrad_module *seq, clgrad_module *child);
/* The same with an explicit name for the child (PyTorch's Sequential(OrderedDict(...)), or
 * a container of named parts: "features", "classifier"): parameter names then read
 * "features.0.weight". Names are non-empty, without '.', unique within seq. */
CLGRAD_API clgrad_status clgrad_sequential_add_named(clgrad_module *seq, const char *name, clgrad_module *child);

/* --- recurrent layers --------------------------------------------------------------------------
 * Elman RNN (tanh or relu), LSTM and GRU as PyTorch defines them, num_layers stacked, one
 * direction. Input x is (T, N, input_size), or (N, T, input_size) with batch_first, or
 * unbatched (T, input_size). Parameters per layer k, named and shaped as PyTorch's so
 * checkpoints map one to one: weight_ih_l{k} (G*H, I_k), weight_hh_l{k} (G*H, H),
 * bias_ih_l{k} (G*H), bias_hh_l{k} (G*H) (biases only with has_bias), I_0 = input_size and
 * I_k = H above, G = 1 (RNN), 4 (LSTM: gates i, f, g, o) or 3 (GRU: r, z, n with
 * n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) and h' = (1 - z) n + z h). Every parameter is
 * drawn from U(-1/sqrt(H), 1/sqrt(H)), each from its own stream derived from seed. */
typedef enum clgrad_rnn_kind {
    CLGRAD_RNN_TANH = 0,
    CLGRAD_RNN_RELU = 1,
    CLGRAD_LSTM = 2,
    CLGRAD_GRU = 3,
} clgrad_rnn_kind;
/* Module kinds "rnn", "lstm" and "gru". clgrad_module_forward(m, x, &out) returns the
 * output sequence only, from zero initial states. */
CLGRAD_API clgrad_status clgrad_rnn_create(clgrad_context *ctx, clgrad_rnn_kind kind, int64_t input_size,
                                           int64_t hidden_size, int num_layers, int has_bias, int batch_first,
                                           uint64_t seed, clgrad_module **out);
/* Runs m over x. h0 and c0 (c0 for an LSTM only) are (num_layers, N, H), or (num_layers,
 * H) for an unbatched x, whatever batch_first says; NULL means zeros. *out (required) is the last
 * layer's h at every step: (T, N, H), (N, T, H) with batch_first, or (T, H). *h_n and
 * *c_n (each optional; *c_n is set to NULL for kinds other than LSTM) are the final states,
 * shaped as h0. All results are new references, recorded for backward. */
CLGRAD_API clgrad_status clgrad_rnn_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor *h0,
                                            clgrad_tensor *c0, clgrad_tensor **out, clgrad_tensor **h_n,
                                            clgrad_tensor **c_n);

#ifdef __cplusplus
}
#endif

#endif
