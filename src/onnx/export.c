/* Export of clgrad modules to ONNX (opset 17): a walk over the module tree that writes each
 * layer as the ONNX nodes computing the same function in eval mode, with its parameters and
 * buffers as initializers under their clgrad names ("0.weight"). The static shape of the
 * value between layers is followed along (open dimensions as -1), so the layers that need
 * it (Linear on a matrix or not, Flatten, adaptive pooling) pick their form, and the graph
 * output gets a declared shape.
 *
 * Layers and their ONNX form:
 *   linear            Gemm(transB=1) on a matrix, else MatMul with the transposed weight + Add
 *   conv2d            Conv;  conv_transpose2d: ConvTranspose
 *   max/avg_pool2d    MaxPool / AveragePool(count_include_pad=1)
 *   adaptive_avg      GlobalAveragePool for 1x1, else AveragePool with equal windows
 *   batch_norm1d/2d   BatchNormalization (running statistics);  layer_norm: LayerNormalization
 *   dropout           Identity;  flatten: Flatten or Reshape;  embedding: Gather
 *   activations       Relu, LeakyRelu, Elu, Sigmoid, Tanh, Softplus, Clip, Softmax,
 *                     LogSoftmax; GELU and SiLU written out (opset 17 has no Gelu)
 *   rnn/lstm/gru      one RNN / LSTM / GRU node per layer, weights in ONNX's gate order
 *                     (LSTM i, o, f, c; GRU z, r, h with linear_before_reset=1), Transpose
 *                     around them for batch_first (export_rnn.c). */
#include "onnx/export.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT_OPSET 17

/* d = a followed by b, cut to cap bytes with the NUL (names stay short in practice). */
void clgrad__oxe_cat2(char *d, size_t cap, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > cap - 1) la = cap - 1;
    if (lb > cap - 1 - la) lb = cap - 1 - la;
    memcpy(d, a, la);
    memcpy(d + la, b, lb);
    d[la + lb] = 0;
}

clgrad_status clgrad__oxe_unsupported(const char *path, const char *kind, const char *why)
{
    return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "clgrad_onnx_export: module '%s' (%s): %s",
                        path[0] ? path : "<root>", kind, why);
}

/* A fresh value name for the output of op in module path. */
const char *clgrad__oxe_fresh(clgrad__oxe *e, const char *path, const char *op, char *buf, size_t cap)
{
    snprintf(buf, cap, "/%s/%s_%d", path, op, e->k++);
    return buf;
}

/* Adds node op with inputs in[] and one new output, which becomes e->cur. */
clgrad_status clgrad__oxe_step(clgrad__oxe *e, const char *path, const char *op, int n_in, const char *const *in,
                               Onnx__NodeProto **node)
{
    char out[256], name[300];
    clgrad__oxe_fresh(e, path, op, out, sizeof out);
    snprintf(name, sizeof name, "%s/%s_%d", path, op, e->k);
    const char *outs[1] = {out};
    CLGRAD_TRY(clgrad__oxb_node(e->b, op, name, n_in, in, 1, outs, node));
    snprintf(e->cur, sizeof e->cur, "%s", out);
    return CLGRAD_OK;
}

clgrad_status clgrad__oxe_unary(clgrad__oxe *e, const char *path, const char *op, Onnx__NodeProto **node)
{
    char x[256];
    snprintf(x, sizeof x, "%s", e->cur);
    const char *in[1] = {x};
    return clgrad__oxe_step(e, path, op, 1, in, node);
}

/* A scalar f32 initializer; its name in buf. */
static clgrad_status scalar(clgrad__oxe *e, float v, char *buf, size_t cap)
{
    snprintf(buf, cap, "/const_%d", e->k++);
    return clgrad__oxb_init_f32(e->b, buf, 0, NULL, &v);
}

clgrad_status clgrad__oxe_ints_init(clgrad__oxe *e, int n, const int64_t *v, char *buf, size_t cap)
{
    int64_t len = n;
    snprintf(buf, cap, "/const_%d", e->k++);
    return clgrad__oxb_init_i64(e->b, buf, 1, &len, v);
}

/* cur = cur op scalar */
static clgrad_status with_scalar(clgrad__oxe *e, const char *path, const char *op, float v)
{
    char c[64], x[256];
    snprintf(x, sizeof x, "%s", e->cur);
    CLGRAD_TRY(scalar(e, v, c, sizeof c));
    const char *in[2] = {x, c};
    return clgrad__oxe_step(e, path, op, 2, in, NULL);
}

/* A module tensor read to the host (malloc'd), NULL for an absent one. */
clgrad_status clgrad__oxe_host_of(const clgrad_tensor *t, float **out)
{
    *out = NULL;
    if (!t) return CLGRAD_OK;
    int64_t n = clgrad_tensor_numel(t);
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    if (!h) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "clgrad_onnx_export: out of host memory");
    clgrad_status st = clgrad_tensor_read(t, h, (size_t)n * sizeof *h);
    if (st != CLGRAD_OK) {
        free(h);
        return st;
    }
    *out = h;
    return CLGRAD_OK;
}

/* The module tensor local (a parameter or buffer) as an initializer named prefix + local. */
static clgrad_status init_of(clgrad__oxe *e, const clgrad_module *m, const char *prefix, const char *local, char *name,
                             size_t cap)
{
    const clgrad_tensor *t = clgrad__module_get(m, local);
    clgrad__oxe_cat2(name, cap, prefix, local);
    float *h = NULL;
    CLGRAD_TRY(clgrad__oxe_host_of(t, &h));
    int64_t s[CLGRAD_MAX_DIMS];
    clgrad_tensor_shape(t, s);
    clgrad_status st = clgrad__oxb_init_f32(e->b, name, clgrad_tensor_ndim(t), s, h);
    free(h);
    return st;
}

/* A constant filled with v of n elements, named name. */
static clgrad_status fill_init(clgrad__oxe *e, const char *name, int64_t n, float v)
{
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    if (!h) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "clgrad_onnx_export: out of host memory");
    for (int64_t i = 0; i < n; i++) h[i] = v;
    clgrad_status st = clgrad__oxb_init_f32(e->b, name, 1, &n, h);
    free(h);
    return st;
}

static int64_t window_out(int64_t len, int k, int s, int p, int d)
{
    if (len < 0) return -1;
    int64_t span = len + 2 * p - (int64_t)d * (k - 1) - 1;
    return span < 0 ? 0 : span / s + 1;
}

/* --- layers ------------------------------------------------------------------------------------------ */

static clgrad_status linear(clgrad__oxe *e, const clgrad_module *m, const char *path, const char *prefix,
                            const clgrad__layer_desc *d)
{
    char w[300], bn[300];
    int has_b = clgrad__module_get(m, "bias") != NULL;
    if (e->nd < 1 || (e->shape[e->nd - 1] >= 0 && e->shape[e->nd - 1] != d->in))
        return clgrad__oxe_unsupported(path, "linear", "the input does not end in in_features");
    CLGRAD_TRY(init_of(e, m, prefix, "weight", w, sizeof w));
    if (has_b) CLGRAD_TRY(init_of(e, m, prefix, "bias", bn, sizeof bn));
    char x[256];
    snprintf(x, sizeof x, "%s", e->cur);
    if (e->nd == 2) {
        Onnx__NodeProto *n;
        const char *in[3] = {x, w, bn};
        CLGRAD_TRY(clgrad__oxe_step(e, path, "Gemm", has_b ? 3 : 2, in, &n));
        CLGRAD_TRY(clgrad__oxb_attr_int(e->b, n, "transB", 1));
    } else {
        Onnx__NodeProto *n;
        const char *tin[1] = {w};
        CLGRAD_TRY(clgrad__oxe_step(e, path, "Transpose", 1, tin, &n));
        int64_t perm[2] = {1, 0};
        CLGRAD_TRY(clgrad__oxb_attr_ints(e->b, n, "perm", 2, perm));
        char wt[256];
        snprintf(wt, sizeof wt, "%s", e->cur);
        const char *in[2] = {x, wt};
        CLGRAD_TRY(clgrad__oxe_step(e, path, "MatMul", 2, in, NULL));
        if (has_b) {
            char y[256];
            snprintf(y, sizeof y, "%s", e->cur);
            const char *ain[2] = {y, bn};
            CLGRAD_TRY(clgrad__oxe_step(e, path, "Add", 2, ain, NULL));
        }
    }
    e->shape[e->nd - 1] = d->out;
    return CLGRAD_OK;
}

static clgrad_status conv(clgrad__oxe *e, const clgrad_module *m, const char *path, const char *prefix,
                          const clgrad__layer_desc *d, int transposed)
{
    const char *kind = transposed ? "conv_transpose2d" : "conv2d";
    if (e->nd != 4) return clgrad__oxe_unsupported(path, kind, "the input is not (N, C, H, W)");
    char w[300], bn[300], x[256];
    int has_b = clgrad__module_get(m, "bias") != NULL;
    CLGRAD_TRY(init_of(e, m, prefix, "weight", w, sizeof w));
    if (has_b) CLGRAD_TRY(init_of(e, m, prefix, "bias", bn, sizeof bn));
    snprintf(x, sizeof x, "%s", e->cur);
    const char *in[3] = {x, w, bn};
    Onnx__NodeProto *n;
    const clgrad_conv2d_params *p = &d->conv;
    CLGRAD_TRY(clgrad__oxe_step(e, path, transposed ? "ConvTranspose" : "Conv", has_b ? 3 : 2, in, &n));
    int64_t ks[2] = {d->kernel[0], d->kernel[1]}, st[2] = {p->stride[0], p->stride[1]},
            pads[4] = {p->padding[0], p->padding[1], p->padding[0], p->padding[1]},
            dil[2] = {p->dilation[0], p->dilation[1]}, op[2] = {p->output_padding[0], p->output_padding[1]};
    CLGRAD_TRY(clgrad__oxb_attr_ints(e->b, n, "kernel_shape", 2, ks));
    CLGRAD_TRY(clgrad__oxb_attr_ints(e->b, n, "strides", 2, st));
    CLGRAD_TRY(clgrad__oxb_attr_ints(e->b, n, "pads", 4, pads));
    CLGRAD_TRY(clgrad__oxb_attr_ints(e->b, n, "dilations", 2, dil));
    CLGRAD_TRY(clgrad__oxb_attr_int(e->b, n, "group", p->groups));
    if (transposed && (op[0] || op[1])) CLGRAD_TRY(clgrad__oxb_attr_ints(e->b, n, "output_padding", 2, op));
    e->shape[1] = d->out;
    for (int i = 0; i < 2; i++) {
        int64_t len = e->shape[2 + i];
        if (len < 0) continue;
        e->shape[2 + i] = transposed ? (len - 1) * st[i] - 2 * p->padding[i] + dil[i] * (ks[i] - 1) + op[i] + 1
                                     : window_out(len, (int)ks[i], (int)st[i], p->padding[i], (int)dil[i]);
    }
    return CLGRAD_OK;
}

static clgrad_status pool(clgrad__oxe *e, const char *path, const char *kind, const char *op,
                          const clgrad_pool2d_params *p)
{
    if (e->nd != 4) return clgrad__oxe_unsupported(path, kind, "the input is not (N, C, H, W)");
    Onnx__NodeProto *n;
    CLGRAD_TRY(clgrad__oxe_unary(e, path, op, &n));
    int64_t ks[2] = {p->kernel[0], p->kernel[1]}, st[2] = {p->stride[0] ? p->stride[0] : p->kernel[0],
                                                           p->stride[1] ? p->stride[1] : p->kernel[1]},
            pads[4] = {p->padding[0], p->padding[1], p->padding[0], p->padding[1]};
    CLGRAD_TRY(clgrad__oxb_attr_ints(e->b, n, "kernel_shape", 2, ks));
    CLGRAD_TRY(clgrad__oxb_attr_ints(e->b, n, "strides", 2, st));
    CLGRAD_TRY(clgrad__oxb_attr_ints(e->b, n, "pads", 4, pads));
    if (!strcmp(op, "AveragePool")) CLGRAD_TRY(clgrad__oxb_attr_int(e->b, n, "count_include_pad", 1));
    for (int i = 0; i < 2; i++) e->shape[2 + i] = window_out(e->shape[2 + i], (int)ks[i], (int)st[i], p->padding[i], 1);
    return CLGRAD_OK;
}

static clgrad_status norm(clgrad__oxe *e, const clgrad_module *m, const char *path, const char *prefix,
                          const clgrad__layer_desc *d, const char *kind)
{
    int ln = !strcmp(kind, "layer_norm");
    int64_t c = 1;
    if (ln)
        for (int i = 0; i < d->norm_ndim; i++) c *= d->norm_shape[i];
    else
        c = d->in;
    if ((!ln && (e->nd < 2 || (e->shape[1] >= 0 && e->shape[1] != c))) || (ln && e->nd < d->norm_ndim))
        return clgrad__oxe_unsupported(path, kind, "the input does not fit the layer");
    if (ln && d->norm_ndim != 1 && !d->affine)
        return clgrad__oxe_unsupported(path, kind, "a non-affine layer norm over several dims");
    char w[300], bn[300], x[256], mean[300], var[300];
    snprintf(x, sizeof x, "%s", e->cur);
    if (d->affine) {
        CLGRAD_TRY(init_of(e, m, prefix, "weight", w, sizeof w));
        CLGRAD_TRY(init_of(e, m, prefix, "bias", bn, sizeof bn));
    } else {
        clgrad__oxe_cat2(w, sizeof w, prefix, "weight");
        clgrad__oxe_cat2(bn, sizeof bn, prefix, "bias");
        CLGRAD_TRY(fill_init(e, w, c, 1.0f));
        CLGRAD_TRY(fill_init(e, bn, c, 0.0f));
    }
    Onnx__NodeProto *n;
    if (ln) {
        const char *in[3] = {x, w, bn};
        CLGRAD_TRY(clgrad__oxe_step(e, path, "LayerNormalization", 3, in, &n));
        CLGRAD_TRY(clgrad__oxb_attr_int(e->b, n, "axis", -d->norm_ndim));
    } else {
        CLGRAD_TRY(init_of(e, m, prefix, "running_mean", mean, sizeof mean));
        CLGRAD_TRY(init_of(e, m, prefix, "running_var", var, sizeof var));
        const char *in[5] = {x, w, bn, mean, var};
        CLGRAD_TRY(clgrad__oxe_step(e, path, "BatchNormalization", 5, in, &n));
        CLGRAD_TRY(clgrad__oxb_attr_float(e->b, n, "momentum", 1.0f - d->momentum));
    }
    return clgrad__oxb_attr_float(e->b, n, "epsilon", d->eps);
}

static clgrad_status flatten(clgrad__oxe *e, const char *path, const clgrad__layer_desc *d)
{
    int a = d->start_dim < 0 ? d->start_dim + e->nd : d->start_dim;
    int z = d->end_dim < 0 ? d->end_dim + e->nd : d->end_dim;
    if (e->nd == 0 || a < 0 || z >= e->nd || a > z)
        return clgrad__oxe_unsupported(path, "flatten", "dims out of range");
    int64_t want[CLGRAD_MAX_DIMS], s[CLGRAD_MAX_DIMS], prod = 1;
    int k = 0;
    for (int i = 0; i < a; i++) want[k] = 0, s[k++] = e->shape[i];
    for (int i = a; i <= z; i++) prod = (prod < 0 || e->shape[i] < 0) ? -1 : prod * e->shape[i];
    want[k] = -1;
    s[k++] = prod;
    for (int i = z + 1; i < e->nd; i++) {
        if (e->shape[i] < 0) return clgrad__oxe_unsupported(path, "flatten", "a trailing dimension is not known");
        want[k] = e->shape[i];
        s[k++] = e->shape[i];
    }
    if (a == 1 && z == e->nd - 1) {
        Onnx__NodeProto *n;
        CLGRAD_TRY(clgrad__oxe_unary(e, path, "Flatten", &n));
        CLGRAD_TRY(clgrad__oxb_attr_int(e->b, n, "axis", 1));
    } else {
        char c[64], x[256];
        snprintf(x, sizeof x, "%s", e->cur);
        CLGRAD_TRY(clgrad__oxe_ints_init(e, k, want, c, sizeof c));
        const char *in[2] = {x, c};
        CLGRAD_TRY(clgrad__oxe_step(e, path, "Reshape", 2, in, NULL));
    }
    e->nd = k;
    memcpy(e->shape, s, sizeof s);
    return CLGRAD_OK;
}

static clgrad_status activation(clgrad__oxe *e, const char *path, const clgrad__layer_desc *d)
{
    Onnx__NodeProto *n;
    char x[256], y[256];
    snprintf(x, sizeof x, "%s", e->cur);
    switch (d->act) {
    case CLGRAD_ACT_RELU: return clgrad__oxe_unary(e, path, "Relu", NULL);
    case CLGRAD_ACT_SIGMOID: return clgrad__oxe_unary(e, path, "Sigmoid", NULL);
    case CLGRAD_ACT_TANH: return clgrad__oxe_unary(e, path, "Tanh", NULL);
    case CLGRAD_ACT_LEAKY_RELU:
    case CLGRAD_ACT_ELU:
        CLGRAD_TRY(clgrad__oxe_unary(e, path, d->act == CLGRAD_ACT_ELU ? "Elu" : "LeakyRelu", &n));
        return clgrad__oxb_attr_float(e->b, n, "alpha", d->p0);
    case CLGRAD_ACT_SOFTMAX:
    case CLGRAD_ACT_LOG_SOFTMAX:
        CLGRAD_TRY(clgrad__oxe_unary(e, path, d->act == CLGRAD_ACT_SOFTMAX ? "Softmax" : "LogSoftmax", &n));
        return clgrad__oxb_attr_int(e->b, n, "axis", (int64_t)d->p0);
    case CLGRAD_ACT_HARDTANH: {
        char lo[64], hi[64];
        CLGRAD_TRY(scalar(e, d->p0, lo, sizeof lo));
        CLGRAD_TRY(scalar(e, d->p1, hi, sizeof hi));
        const char *in[3] = {x, lo, hi};
        return clgrad__oxe_step(e, path, "Clip", 3, in, NULL);
    }
    case CLGRAD_ACT_SOFTPLUS: /* log(1 + exp(beta x)) / beta; the threshold changes < 1e-8 relative */
        if (d->p0 == 1.0f) return clgrad__oxe_unary(e, path, "Softplus", NULL);
        CLGRAD_TRY(with_scalar(e, path, "Mul", d->p0));
        CLGRAD_TRY(clgrad__oxe_unary(e, path, "Softplus", NULL));
        return with_scalar(e, path, "Div", d->p0);
    case CLGRAD_ACT_SILU: {
        CLGRAD_TRY(clgrad__oxe_unary(e, path, "Sigmoid", NULL));
        snprintf(y, sizeof y, "%s", e->cur);
        const char *in[2] = {x, y};
        return clgrad__oxe_step(e, path, "Mul", 2, in, NULL);
    }
    case CLGRAD_ACT_GELU: { /* x * (1 + erf(x / sqrt 2)) / 2 */
        CLGRAD_TRY(with_scalar(e, path, "Div", (float)M_SQRT2));
        CLGRAD_TRY(clgrad__oxe_unary(e, path, "Erf", NULL));
        CLGRAD_TRY(with_scalar(e, path, "Add", 1.0f));
        snprintf(y, sizeof y, "%s", e->cur);
        const char *in[2] = {x, y};
        CLGRAD_TRY(clgrad__oxe_step(e, path, "Mul", 2, in, NULL));
        return with_scalar(e, path, "Mul", 0.5f);
    }
    case CLGRAD_ACT_GELU_TANH: { /* x / 2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
        CLGRAD_TRY(with_scalar(e, path, "Pow", 3.0f));
        CLGRAD_TRY(with_scalar(e, path, "Mul", 0.044715f));
        snprintf(y, sizeof y, "%s", e->cur);
        const char *in[2] = {x, y};
        CLGRAD_TRY(clgrad__oxe_step(e, path, "Add", 2, in, NULL));
        CLGRAD_TRY(with_scalar(e, path, "Mul", 0.7978845608028654f));
        CLGRAD_TRY(clgrad__oxe_unary(e, path, "Tanh", NULL));
        CLGRAD_TRY(with_scalar(e, path, "Add", 1.0f));
        snprintf(y, sizeof y, "%s", e->cur);
        const char *in2[2] = {x, y};
        CLGRAD_TRY(clgrad__oxe_step(e, path, "Mul", 2, in2, NULL));
        return with_scalar(e, path, "Mul", 0.5f);
    }
    }
    return clgrad__oxe_unsupported(path, "activation", "unknown activation kind");
}

static clgrad_status emit(clgrad__oxe *e, const clgrad_module *m, const char *path)
{
    const char *kind = clgrad_module_kind(m);
    char prefix[300];
    clgrad__oxe_cat2(prefix, sizeof prefix, path, path[0] ? "." : "");
    if (!strcmp(kind, "sequential")) {
        for (int i = 0; i < clgrad_module_child_count(m); i++) {
            const char *name = NULL;
            const clgrad_module *c = clgrad_module_child(m, i, &name);
            char sub[300];
            clgrad__oxe_cat2(sub, sizeof sub, prefix, name);
            CLGRAD_TRY(emit(e, c, sub));
        }
        return CLGRAD_OK;
    }
    clgrad__layer_desc d;
    if (!clgrad__module_describe(m, &d) && strcmp(kind, "embedding"))
        return clgrad__oxe_unsupported(path, kind, "this kind of module cannot be exported");
    if (!strcmp(kind, "linear")) return linear(e, m, path, prefix, &d);
    if (!strcmp(kind, "conv2d")) return conv(e, m, path, prefix, &d, 0);
    if (!strcmp(kind, "conv_transpose2d")) return conv(e, m, path, prefix, &d, 1);
    if (!strcmp(kind, "max_pool2d")) return pool(e, path, kind, "MaxPool", &d.pool);
    if (!strcmp(kind, "avg_pool2d")) return pool(e, path, kind, "AveragePool", &d.pool);
    if (!strcmp(kind, "adaptive_avg_pool2d")) {
        if (e->nd != 4) return clgrad__oxe_unsupported(path, kind, "the input is not (N, C, H, W)");
        if (d.out_hw[0] == 1 && d.out_hw[1] == 1) {
            CLGRAD_TRY(clgrad__oxe_unary(e, path, "GlobalAveragePool", NULL));
            e->shape[2] = e->shape[3] = 1;
            return CLGRAD_OK;
        }
        int64_t h = e->shape[2], w = e->shape[3];
        if (h < 0 || w < 0 || h % d.out_hw[0] || w % d.out_hw[1])
            return clgrad__oxe_unsupported(path, kind,
                                           "the input size is not known or not a multiple of the output size");
        clgrad_pool2d_params p = {{(int)(h / d.out_hw[0]), (int)(w / d.out_hw[1])},
                                  {(int)(h / d.out_hw[0]), (int)(w / d.out_hw[1])}, {0, 0}};
        return pool(e, path, kind, "AveragePool", &p);
    }
    if (!strcmp(kind, "batch_norm1d") || !strcmp(kind, "batch_norm2d") || !strcmp(kind, "layer_norm"))
        return norm(e, m, path, prefix, &d, kind);
    if (!strcmp(kind, "dropout")) return clgrad__oxe_unary(e, path, "Identity", NULL);
    if (!strcmp(kind, "flatten")) return flatten(e, path, &d);
    if (!strcmp(kind, "activation")) return activation(e, path, &d);
    if (!strcmp(kind, "rnn") || !strcmp(kind, "lstm") || !strcmp(kind, "gru"))
        return clgrad__oxe_recurrent(e, m, path, prefix, &d);
    if (!strcmp(kind, "embedding")) {
        char w[300], x[256];
        snprintf(x, sizeof x, "%s", e->cur);
        CLGRAD_TRY(init_of(e, m, prefix, "weight", w, sizeof w));
        const char *in[2] = {w, x};
        CLGRAD_TRY(clgrad__oxe_step(e, path, "Gather", 2, in, NULL));
        if (e->nd >= CLGRAD_MAX_DIMS) return clgrad__oxe_unsupported(path, kind, "too many dims");
        e->shape[e->nd++] = clgrad_tensor_dim(clgrad__module_get(m, "weight"), 1);
        return CLGRAD_OK;
    }
    return clgrad__oxe_unsupported(path, kind, "this kind of module cannot be exported");
}

/* The first leaf module (depth first): an embedding makes the graph input integer. */
static const clgrad_module *first_leaf(const clgrad_module *m)
{
    while (m && !strcmp(clgrad_module_kind(m), "sequential") && clgrad_module_child_count(m) > 0)
        m = clgrad_module_child(m, 0, NULL);
    return m;
}

/* The name of a value the graph defines besides the graph input and the final Identity's
 * output (an initializer or a node's output) that equals name, or NULL. */
static const char *defined_elsewhere(clgrad__oxb *b, const char *name)
{
    const Onnx__GraphProto *g = clgrad__oxb_model(b)->graph;
    for (size_t i = 0; i < g->n_initializer; i++)
        if (!strcmp(g->initializer[i]->name, name)) return "a parameter or constant";
    for (size_t k = 0; k + 1 < g->n_node; k++) /* the last node is the Identity to the output */
        for (size_t j = 0; j < g->node[k]->n_output; j++)
            if (!strcmp(g->node[k]->output[j], name)) return "a layer's output";
    return NULL;
}

CLGRAD_API clgrad_status clgrad_onnx_export_memory(const clgrad_module *m, const clgrad_onnx_export_options *opts,
                                                   void **data, size_t *size)
{
    if (data) *data = NULL;
    if (size) *size = 0;
    CLGRAD_CHECK_ARG(NULL, m && opts && data && size, "m, opts, data and size must not be NULL");
    if (opts->ndim < 1 || opts->ndim > CLGRAD_MAX_DIMS)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_onnx_export: ndim %d is not in 1..%d", opts->ndim,
                            CLGRAD_MAX_DIMS);
    for (int i = 0; i < opts->ndim; i++)
        if (opts->shape[i] == 0 || opts->shape[i] < -1)
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_onnx_export: dimension %d is %lld (a size, "
                                "or -1 for an open one)", i, (long long)opts->shape[i]);
    clgrad__oxe e = {.o = opts, .root = m, .nd = opts->ndim};
    memcpy(e.shape, opts->shape, sizeof e.shape);
    const char *in_name = opts->input_name ? opts->input_name : "input";
    const char *out_name = opts->output_name ? opts->output_name : "output";
    if (!in_name[0] || !out_name[0] || !strcmp(in_name, out_name))
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_onnx_export: input_name '%s' and output_name '%s' "
                            "must be non-empty and differ", in_name, out_name);
    snprintf(e.cur, sizeof e.cur, "%s", in_name);
    CLGRAD_TRY(clgrad__oxb_new(EXPORT_OPSET, "clgrad",
                               opts->producer_version ? opts->producer_version : clgrad_version_string(), &e.b));
    const char *names[CLGRAD_MAX_DIMS] = {"batch", "d1", "d2", "d3", "d4", "d5", "d6", "d7"};
    const clgrad_module *leaf = first_leaf(m);
    int in_type = leaf && !strcmp(clgrad_module_kind(leaf), "embedding") ? OX_INT64 : OX_FLOAT;
    clgrad_status st = clgrad__oxb_input(e.b, in_name, in_type, opts->ndim, opts->shape, names);
    if (st == CLGRAD_OK) st = emit(&e, m, "");
    if (st == CLGRAD_OK) {
        char x[256];
        snprintf(x, sizeof x, "%s", e.cur);
        const char *in[1] = {x}, *out[1] = {out_name};
        st = clgrad__oxb_node(e.b, "Identity", "output", 1, in, 1, out, NULL);
    }
    if (st == CLGRAD_OK) {
        const char *onames[CLGRAD_MAX_DIMS] = {opts->shape[0] < 0 ? "batch" : "o0", "o1", "o2", "o3", "o4", "o5",
                                               "o6", "o7"};
        st = clgrad__oxb_output(e.b, out_name, OX_FLOAT, e.nd, e.shape, onames);
    }
    for (int k = 0; k < 2 && st == CLGRAD_OK; k++) {
        const char *name = k ? out_name : in_name, *what = defined_elsewhere(e.b, name);
        if (what)
            st = clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_onnx_export: %s '%s' is the name of %s in the "
                              "graph; choose another", k ? "output_name" : "input_name", name, what);
    }
    if (st == CLGRAD_OK) st = clgrad__oxb_pack(e.b, data, size);
    clgrad__oxb_free(e.b);
    return st;
}

CLGRAD_API void clgrad_onnx_free(void *data) { free(data); }

CLGRAD_API clgrad_status clgrad_onnx_export(const clgrad_module *m, const clgrad_onnx_export_options *opts,
                                            const char *path)
{
    CLGRAD_CHECK_ARG(NULL, path && path[0], "path must name a file");
    void *buf = NULL;
    size_t n = 0;
    CLGRAD_TRY(clgrad_onnx_export_memory(m, opts, &buf, &n));
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) {
        free(buf);
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "clgrad_onnx_export: out of host memory");
    }
    snprintf(tmp, plen + 32, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f != NULL, err = ok ? 0 : errno;
    if (ok && fwrite(buf, 1, n, f) != n) ok = 0, err = errno;
    if (f && fclose(f) != 0 && ok) ok = 0, err = errno;
    if (ok && rename(tmp, path) != 0) ok = 0, err = errno;
    clgrad_status st = CLGRAD_OK;
    if (!ok) {
        if (f) remove(tmp);
        st = clgrad__fail(NULL, CLGRAD_ERR_IO, "clgrad_onnx_export: %s: cannot write: %s", path,
                          err ? strerror(err) : "write failed");
    }
    free(tmp);
    free(buf);
    return st;
}
