/* Convolution layers: Conv2d and ConvTranspose2d (stride, padding, dilation, groups), with
 * PyTorch's weight layouts and default initialisation. */
#include "nn/nn.h"
#include "ops/fused.h"

#include <stdlib.h>

typedef struct conv_impl {
    int transposed;
    int64_t in_ch, out_ch;
    clgrad_conv2d_params p;
} conv_impl;

static clgrad_status conv_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    const conv_impl *c = m->impl;
    if (clgrad_tensor_ndim(x) != 4 || clgrad_tensor_dim(x, 1) != c->in_ch) {
        int64_t shape[CLGRAD_MAX_DIMS];
        char buf[160];
        clgrad_tensor_shape(x, shape);
        return clgrad__fail(m->ctx, CLGRAD_ERR_SHAPE, "%s: input of shape %s is not (N, %lld, H, W)", m->vt->kind,
                            clgrad__shape_str(buf, sizeof buf, clgrad_tensor_ndim(x), shape), (long long)c->in_ch);
    }
    clgrad_tensor *w = clgrad__module_get(m, "weight"), *b = clgrad__module_get(m, "bias");
    return c->transposed ? clgrad_conv_transpose2d(x, w, b, &c->p, out) : clgrad_conv2d(x, w, b, &c->p, out);
}

static void conv_describe(const clgrad_module *m, clgrad__layer_desc *d)
{
    const conv_impl *c = m->impl;
    const clgrad_tensor *w = clgrad__module_get(m, "weight");
    d->in = c->in_ch;
    d->out = c->out_ch;
    d->conv = c->p;
    d->kernel[0] = (int)clgrad_tensor_dim(w, 2);
    d->kernel[1] = (int)clgrad_tensor_dim(w, 3);
}

static const clgrad__module_vtable conv2d_vt = {"conv2d", conv_forward, clgrad__module_free_impl, conv_describe};
static const clgrad__module_vtable conv_transpose2d_vt = {"conv_transpose2d", conv_forward, clgrad__module_free_impl,
                                                          conv_describe};

/* The layer through one of the fused ops (conv2d + ReLU, + 2x2 max pooling), a wrong input
 * through the plain forward for its message. */
typedef clgrad_status (*fused_conv_fn)(clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *bias,
                                       const clgrad_conv2d_params *p, clgrad_tensor **out);
static clgrad_status conv_forward_fused(clgrad_module *m, clgrad_tensor *x, fused_conv_fn op, clgrad_tensor **out)
{
    const conv_impl *c = m->impl;
    if (clgrad_tensor_ndim(x) != 4 || clgrad_tensor_dim(x, 1) != c->in_ch) return conv_forward(m, x, out);
    return op(x, clgrad__module_get(m, "weight"), clgrad__module_get(m, "bias"), &c->p, out);
}

static clgrad_status conv_forward_relu(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    return conv_forward_fused(m, x, clgrad__conv2d_relu, out);
}

clgrad__forward_relu_fn clgrad__conv_forward_relu_of(const clgrad_module *m)
{
    return m && m->vt == &conv2d_vt ? conv_forward_relu : NULL;
}

static clgrad_status conv_forward_relu_pool(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    return conv_forward_fused(m, x, clgrad__conv2d_relu_pool, out);
}

clgrad__forward_relu_fn clgrad__conv_forward_relu_pool_of(const clgrad_module *m)
{
    return m && m->vt == &conv2d_vt ? conv_forward_relu_pool : NULL;
}

static clgrad_status conv_create(clgrad_context *ctx, int transposed, int64_t in_ch, int64_t out_ch, int kh, int kw,
                                 const clgrad_conv2d_params *p, int has_bias, uint64_t seed, clgrad_module **out)
{
    const char *fn = transposed ? "clgrad_conv_transpose2d_create" : "clgrad_conv2d_create";
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && out != NULL, "ctx and out must not be NULL");
    clgrad_conv2d_params q = {{1, 1}, {0, 0}, {1, 1}, 1, {0, 0}};
    if (p) q = *p;
    for (int i = 0; i < 2; i++) {
        if (q.stride[i] == 0) q.stride[i] = 1;
        if (q.dilation[i] == 0) q.dilation[i] = 1;
    }
    if (q.groups == 0) q.groups = 1;
    if (in_ch <= 0 || out_ch <= 0 || kh <= 0 || kw <= 0 || q.groups < 0 || in_ch % q.groups || out_ch % q.groups)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "%s: in_channels %lld, out_channels %lld, kernel %dx%d, groups %d: sizes must be "
                            "positive and the channels divisible by groups",
                            fn, (long long)in_ch, (long long)out_ch, kh, kw, q.groups);
    if (q.stride[0] < 0 || q.stride[1] < 0 || q.dilation[0] < 0 || q.dilation[1] < 0 || q.padding[0] < 0 ||
        q.padding[1] < 0 || q.output_padding[0] < 0 || q.output_padding[1] < 0 ||
        (!transposed && (q.output_padding[0] || q.output_padding[1])))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "%s: stride, dilation and padding must be non-negative (output_padding only for the "
                            "transposed convolution)", fn);

    clgrad_module *m = NULL;
    clgrad_tensor *w = NULL, *b = NULL;
    clgrad_status s;
    CLGRAD_TRY(clgrad__module_new(ctx, transposed ? &conv_transpose2d_vt : &conv2d_vt, &m));
    conv_impl *c = calloc(1, sizeof *c);
    if (!c) {
        s = clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", fn);
        goto fail;
    }
    m->impl = c;
    c->transposed = transposed;
    c->in_ch = in_ch;
    c->out_ch = out_ch;
    c->p = q;
    int64_t ws[4] = {transposed ? in_ch : out_ch, (transposed ? out_ch : in_ch) / q.groups, kh, kw};
    int64_t fan_in = ws[1] * kh * kw; /* PyTorch: weight.size(1) * receptive field, both kinds */
    if ((s = clgrad__init_fan_in_uniform(ctx, 4, ws, fan_in, clgrad__seed_derive(seed, 0), &w)) != CLGRAD_OK)
        goto fail;
    if ((s = clgrad__module_add_param(m, "weight", w)) != CLGRAD_OK) goto fail;
    if (has_bias) {
        if ((s = clgrad__init_fan_in_uniform(ctx, 1, &out_ch, fan_in, clgrad__seed_derive(seed, 1), &b)) !=
            CLGRAD_OK)
            goto fail;
        if ((s = clgrad__module_add_param(m, "bias", b)) != CLGRAD_OK) goto fail;
    }
    *out = m;
    return CLGRAD_OK;
fail:
    clgrad_module_release(m);
    return s;
}

CLGRAD_API clgrad_status clgrad_conv2d_create(clgrad_context *ctx, int64_t in_channels, int64_t out_channels,
                                              int kernel_h, int kernel_w, const clgrad_conv2d_params *p,
                                              int has_bias, uint64_t seed, clgrad_module **out)
{
    return conv_create(ctx, 0, in_channels, out_channels, kernel_h, kernel_w, p, has_bias, seed, out);
}

CLGRAD_API clgrad_status clgrad_conv_transpose2d_create(clgrad_context *ctx, int64_t in_channels,
                                                        int64_t out_channels, int kernel_h, int kernel_w,
                                                        const clgrad_conv2d_params *p, int has_bias,
                                                        uint64_t seed, clgrad_module **out)
{
    return conv_create(ctx, 1, in_channels, out_channels, kernel_h, kernel_w, p, has_bias, seed, out);
}
