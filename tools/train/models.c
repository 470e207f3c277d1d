/* The networks clgrad-train knows, built from the public nn API for 28x28 single-channel
 * images:
 *   mlp:  linear(784->256)-ReLU-linear(256->128)-ReLU-linear(128->n_classes) on flat images
 *   cnn:  conv(1->32, 3x3, pad 1)-ReLU-maxpool2-conv(32->64, 3x3, pad 1)-ReLU-maxpool2-
 *         flatten-linear(3136->128)-ReLU-linear(128->n_classes)
 *   lstm: an LSTM (hidden 128, one layer) reading the 28 rows of an image as a sequence,
 *         linear(128->n_classes) on its last hidden state.
 * Each is a Sequential, so parameters are named "0.weight", "3.bias", ... Every layer draws
 * its weights from its own seed derived from the run's seed. */
#include "train.h"

#include <string.h>

/* Layer k's seed: distinct, fixed streams per layer. */
static uint64_t layer_seed(uint64_t seed, int k) { return seed * 1000003u + (uint64_t)k * 7919u + 1; }

static clgrad_status add_linear(clgrad_context *ctx, clgrad_module *seq, int64_t in, int64_t out, uint64_t seed)
{
    clgrad_module *m = NULL;
    clgrad_status s = clgrad_linear_create(ctx, in, out, 1, seed, &m);
    return s == CLGRAD_OK ? clgrad_sequential_add(seq, m) : s;
}

static clgrad_status add_act(clgrad_context *ctx, clgrad_module *seq, clgrad_activation kind)
{
    clgrad_module *m = NULL;
    clgrad_status s = clgrad_activation_create(ctx, kind, 0, 0, &m);
    return s == CLGRAD_OK ? clgrad_sequential_add(seq, m) : s;
}

static clgrad_status add_flatten(clgrad_context *ctx, clgrad_module *seq)
{
    clgrad_module *m = NULL;
    clgrad_status s = clgrad_flatten_create(ctx, 1, -1, &m);
    return s == CLGRAD_OK ? clgrad_sequential_add(seq, m) : s;
}

static clgrad_status add_conv(clgrad_context *ctx, clgrad_module *seq, int64_t cin, int64_t cout, uint64_t seed)
{
    clgrad_conv2d_params p = {.stride = {1, 1}, .padding = {1, 1}, .dilation = {1, 1}, .groups = 1};
    clgrad_module *m = NULL;
    clgrad_status s = clgrad_conv2d_create(ctx, cin, cout, 3, 3, &p, 1, seed, &m);
    return s == CLGRAD_OK ? clgrad_sequential_add(seq, m) : s;
}

static clgrad_status add_maxpool(clgrad_context *ctx, clgrad_module *seq)
{
    clgrad_pool2d_params p = {.kernel = {2, 2}, .stride = {2, 2}};
    clgrad_module *m = NULL;
    clgrad_status s = clgrad_max_pool2d_create(ctx, &p, &m);
    return s == CLGRAD_OK ? clgrad_sequential_add(seq, m) : s;
}

clgrad_status train_model_create(clgrad_context *ctx, const char *name, int n_classes, uint64_t seed,
                                 clgrad_module **out)
{
    clgrad_module *seq = NULL;
    *out = NULL;
    clgrad_status s = clgrad_sequential_create(ctx, &seq);
    if (s != CLGRAD_OK) return s;
    if (strcmp(name, "mlp") == 0) {
        s = add_linear(ctx, seq, 784, 256, layer_seed(seed, 0));
        if (s == CLGRAD_OK) s = add_act(ctx, seq, CLGRAD_ACT_RELU);
        if (s == CLGRAD_OK) s = add_linear(ctx, seq, 256, 128, layer_seed(seed, 2));
        if (s == CLGRAD_OK) s = add_act(ctx, seq, CLGRAD_ACT_RELU);
        if (s == CLGRAD_OK) s = add_linear(ctx, seq, 128, n_classes, layer_seed(seed, 4));
    } else if (strcmp(name, "cnn") == 0) {
        s = add_conv(ctx, seq, 1, 32, layer_seed(seed, 0));
        if (s == CLGRAD_OK) s = add_act(ctx, seq, CLGRAD_ACT_RELU);
        if (s == CLGRAD_OK) s = add_maxpool(ctx, seq);
        if (s == CLGRAD_OK) s = add_conv(ctx, seq, 32, 64, layer_seed(seed, 3));
        if (s == CLGRAD_OK) s = add_act(ctx, seq, CLGRAD_ACT_RELU);
        if (s == CLGRAD_OK) s = add_maxpool(ctx, seq);
        if (s == CLGRAD_OK) s = add_flatten(ctx, seq);
        if (s == CLGRAD_OK) s = add_linear(ctx, seq, 64 * 7 * 7, 128, layer_seed(seed, 7));
        if (s == CLGRAD_OK) s = add_act(ctx, seq, CLGRAD_ACT_RELU);
        if (s == CLGRAD_OK) s = add_linear(ctx, seq, 128, n_classes, layer_seed(seed, 9));
    } else if (strcmp(name, "lstm") == 0) {
        /* Child 0 is the LSTM, child 1 the classifier; train_model_forward wires them, since
         * only the last time step feeds the classifier. */
        clgrad_module *rnn = NULL;
        s = clgrad_rnn_create(ctx, CLGRAD_LSTM, 28, 128, 1, 1, 1, layer_seed(seed, 0), &rnn);
        if (s == CLGRAD_OK) s = clgrad_sequential_add(seq, rnn);
        if (s == CLGRAD_OK) s = add_linear(ctx, seq, 128, n_classes, layer_seed(seed, 1));
    } else {
        s = CLGRAD_ERR_INVALID_ARG;
    }
    if (s != CLGRAD_OK) {
        clgrad_module_release(seq);
        return s;
    }
    *out = seq;
    return CLGRAD_OK;
}

clgrad_status train_model_forward(const char *name, clgrad_module *m, clgrad_tensor *x, clgrad_tensor **logits)
{
    *logits = NULL;
    if (strcmp(name, "lstm") != 0) return clgrad_module_forward(m, x, logits);
    clgrad_tensor *seq = NULL, *h_n = NULL, *h = NULL;
    clgrad_status s = clgrad_rnn_forward(clgrad_module_child(m, 0, NULL), x, NULL, NULL, &seq, &h_n, NULL);
    clgrad_tensor_release(seq); /* only the last step's state is used */
    if (s == CLGRAD_OK) {
        int64_t shape[2] = {clgrad_tensor_dim(h_n, 1), clgrad_tensor_dim(h_n, 2)};
        s = clgrad_reshape(h_n, 2, shape, &h); /* (1, N, H) -> (N, H) */
    }
    if (s == CLGRAD_OK) s = clgrad_module_forward(clgrad_module_child(m, 1, NULL), h, logits);
    clgrad_tensor_release(h);
    clgrad_tensor_release(h_n);
    return s;
}

int train_model_input_shape(const char *name, int64_t n, int64_t *shape)
{
    shape[0] = n;
    if (strcmp(name, "cnn") == 0) {
        shape[1] = 1, shape[2] = 28, shape[3] = 28;
        return 4;
    }
    if (strcmp(name, "lstm") == 0) {
        shape[1] = 28, shape[2] = 28;
        return 3;
    }
    shape[1] = 784;
    return 2;
}

const char *train_model_default_optim(const char *name) { return strcmp(name, "lstm") == 0 ? "adam" : "sgd"; }
