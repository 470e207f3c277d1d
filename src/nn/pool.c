/* Pooling layers: MaxPool2d, AvgPool2d and AdaptiveAvgPool2d (global, or any output size
 * that divides the input). */
#include "nn/nn.h"


typedef struct pool_impl {
    clgrad_pool2d_params p;
    int out_h, out_w; /* adaptive only */
} pool_impl;

static clgrad_status check_nchw(clgrad_module *m, clgrad_tensor *x)
{
    if (clgrad_tensor_ndim(x) == 4) return CLGRAD_OK;
    int64_t shape[CLGRAD_MAX_DIMS];
    char buf[160];
    clgrad_tensor_shape(x, shape);
    return clgrad__fail(m->ctx, CLGRAD_ERR_SHAPE, "%s: input of shape %s is not (N, C, H, W)", m->vt->kind,
                        clgrad__shape_str(buf, sizeof buf, clgrad_tensor_ndim(x), shape));
}

static clgrad_status max_pool_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    CLGRAD_TRY(check_nchw(m, x));
    return clgrad_max_pool2d(x, &((pool_impl *)m->impl)->p, out, NULL);
}

static clgrad_status avg_pool_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    CLGRAD_TRY(check_nchw(m, x));
    return clgrad_avg_pool2d(x, &((pool_impl *)m->impl)->p, out);
}

static clgrad_status adaptive_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    const pool_impl *P = m->impl;
    CLGRAD_TRY(check_nchw(m, x));
    if (P->out_h == 1 && P->out_w == 1) return clgrad_global_avg_pool2d(x, out);
    int64_t h = clgrad_tensor_dim(x, 2), w = clgrad_tensor_dim(x, 3);
    if (h % P->out_h || w % P->out_w)
        return clgrad__fail(m->ctx, CLGRAD_ERR_UNSUPPORTED,
                            "adaptive_avg_pool2d: input %lldx%lld is not divisible by the output size %dx%d",
                            (long long)h, (long long)w, P->out_h, P->out_w);
    /* Equal windows: a plain average pool with kernel = stride = input / output. */
    clgrad_pool2d_params q = {{(int)(h / P->out_h), (int)(w / P->out_w)},
                              {(int)(h / P->out_h), (int)(w / P->out_w)},
                              {0, 0}};
    return clgrad_avg_pool2d(x, &q, out);
}

static void pool_describe(const clgrad_module *m, clgrad__layer_desc *d)
{
    const pool_impl *P = m->impl;
    d->pool = P->p;
    d->out_hw[0] = P->out_h;
    d->out_hw[1] = P->out_w;
}

static const clgrad__module_vtable max_pool_vt = {"max_pool2d", max_pool_forward, clgrad__module_free_impl, pool_describe};

int clgrad__module_is_max_pool_2x2(const clgrad_module *m)
{
    if (!m || m->vt != &max_pool_vt) return 0;
    const clgrad_pool2d_params *p = &((const pool_impl *)m->impl)->p;
    int sh = p->stride[0] ? p->stride[0] : p->kernel[0], sw = p->stride[1] ? p->stride[1] : p->kernel[1];
    return p->kernel[0] == 2 && p->kernel[1] == 2 && sh == 2 && sw == 2 && p->padding[0] == 0 && p->padding[1] == 0;
}
static const clgrad__module_vtable avg_pool_vt = {"avg_pool2d", avg_pool_forward, clgrad__module_free_impl, pool_describe};
static const clgrad__module_vtable adaptive_vt = {"adaptive_avg_pool2d", adaptive_forward, clgrad__module_free_impl,
                                                  pool_describe};

static clgrad_status pool_create(clgrad_context *ctx, const clgrad__module_vtable *vt, const clgrad_pool2d_params *p,
                                 int out_h, int out_w, clgrad_module **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && out != NULL, "ctx and out must not be NULL");
    if (vt != &adaptive_vt) {
        CLGRAD_CHECK_ARG(ctx, p != NULL, "pool parameters are NULL");
        if (p->kernel[0] <= 0 || p->kernel[1] <= 0 || p->stride[0] < 0 || p->stride[1] < 0 || p->padding[0] < 0 ||
            p->padding[1] < 0 || 2 * p->padding[0] > p->kernel[0] || 2 * p->padding[1] > p->kernel[1])
            return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                                "%s: kernel %dx%d, stride %dx%d, padding %dx%d: kernel must be positive, stride and "
                                "padding non-negative, padding at most half the kernel",
                                vt->kind, p->kernel[0], p->kernel[1], p->stride[0], p->stride[1], p->padding[0],
                                p->padding[1]);
    } else if (out_h <= 0 || out_w <= 0) {
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "adaptive_avg_pool2d: output size %dx%d must be positive",
                            out_h, out_w);
    }
    clgrad_module *m = NULL;
    CLGRAD_TRY(clgrad__module_new_impl(ctx, vt, sizeof(pool_impl), &m));
    pool_impl *P = m->impl;
    if (p) P->p = *p;
    P->out_h = out_h;
    P->out_w = out_w;
    *out = m;
    return CLGRAD_OK;
}

CLGRAD_API clgrad_status clgrad_max_pool2d_create(clgrad_context *ctx, const clgrad_pool2d_params *p,
                                                  clgrad_module **out)
{
    return pool_create(ctx, &max_pool_vt, p, 0, 0, out);
}

CLGRAD_API clgrad_status clgrad_avg_pool2d_create(clgrad_context *ctx, const clgrad_pool2d_params *p,
                                                  clgrad_module **out)
{
    return pool_create(ctx, &avg_pool_vt, p, 0, 0, out);
}

CLGRAD_API clgrad_status clgrad_adaptive_avg_pool2d_create(clgrad_context *ctx, int out_h, int out_w,
                                                           clgrad_module **out)
{
    return pool_create(ctx, &adaptive_vt, NULL, out_h, out_w, out);
}
