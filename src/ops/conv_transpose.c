/* Transposed 2-d convolution (PyTorch's ConvTranspose2d): the adjoint of a forward
 * convolution whose input has the transposed output's shape. Its forward is that
 * convolution's input gradient (with the bias folded into the gather), its input gradient
 * is that convolution's forward, and its weight gradient is that convolution's weight
 * gradient with the roles of input and output gradient swapped. Also holds the argument
 * checks both public convolutions share. */
#include "ops/conv.h"
#include "ops/op_table.h"

/* --- argument checks shared with clgrad_conv2d ------------------------------------------- */

static int param_or(int v, int dflt) { return v == 0 ? dflt : v; }

clgrad_status clgrad__conv_setup(const char *fn, int transposed, clgrad_tensor *x, clgrad_tensor *w,
                                 clgrad_tensor *bias, const clgrad_conv2d_params *p, clgrad__conv_geom *g,
                                 int64_t out_shape[4])
{
    clgrad_context *ctx = x ? x->ctx : w ? w->ctx : NULL;
    CLGRAD_TRY(clgrad__check_tensor(ctx, fn, "x", x, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_tensor(ctx, fn, "weight", w, CLGRAD_DTYPE_F32));
    if (bias) CLGRAD_TRY(clgrad__check_tensor(ctx, fn, "bias", bias, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_same_ctx(fn, x, w));
    CLGRAD_TRY(clgrad__check_same_ctx(fn, x, bias));
    char a[128], b[128], c[128];
    if (x->ndim != 4 || w->ndim != 4)
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: x %s and weight %s must both be 4-D (NCHW and %s)", fn,
                            clgrad__shape_str(a, sizeof a, x->ndim, x->shape),
                            clgrad__shape_str(b, sizeof b, w->ndim, w->shape),
                            transposed ? "C_in, C_out/groups, kH, kW" : "C_out, C_in/groups, kH, kW");
    clgrad_conv2d_params zero = {{0, 0}, {0, 0}, {0, 0}, 0, {0, 0}};
    if (!p) p = &zero;
    int groups = param_or(p->groups, 1);
    int sh = param_or(p->stride[0], 1), sw = param_or(p->stride[1], 1);
    int dh = param_or(p->dilation[0], 1), dw = param_or(p->dilation[1], 1);
    int ph = p->padding[0], pw = p->padding[1];
    int oph = transposed ? p->output_padding[0] : 0, opw = transposed ? p->output_padding[1] : 0;
    const int big = 1 << 20;
    if (groups < 0 || sh < 0 || sw < 0 || dh < 0 || dw < 0 || ph < 0 || pw < 0 || oph < 0 || opw < 0 ||
        sh > big || sw > big || dh > big || dw > big || ph > big || pw > big)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "%s: stride (%d, %d), padding (%d, %d), dilation (%d, %d), output_padding (%d, %d) and "
                            "groups %d must be non-negative and at most 2^20",
                            fn, sh, sw, ph, pw, dh, dw, oph, opw, groups);
    if (transposed && (oph >= (sh > dh ? sh : dh) || opw >= (sw > dw ? sw : dw)))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "%s: output_padding (%d, %d) must be smaller than stride (%d, %d) or dilation (%d, %d)", fn,
                            oph, opw, sh, sw, dh, dw);
    const int64_t lim = 1 << 30;
    for (int i = 0; i < 4; i++)
        if (x->shape[i] >= lim || w->shape[i] >= lim)
            return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: x %s or weight %s has a dimension too large", fn,
                                clgrad__shape_str(a, sizeof a, 4, x->shape),
                                clgrad__shape_str(b, sizeof b, 4, w->shape));
    int64_t n = x->shape[0], cx = x->shape[1], h = x->shape[2], wd = x->shape[3];
    int64_t kh = w->shape[2], kw = w->shape[3];
    /* channels: conv2d  w (C_out, C_in/g, ..), x has C_in;  transposed  w (C_in, C_out/g, ..) */
    int64_t c_in = cx, c_out = transposed ? w->shape[1] * groups : w->shape[0];
    int64_t w_in_ch = transposed ? w->shape[0] : w->shape[1] * groups;
    if (cx < 1 || h < 1 || wd < 1 || kh < 1 || kw < 1 || w->shape[0] < 1 || w->shape[1] < 1)
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: x %s and weight %s must have non-zero channels and sizes", fn,
                            clgrad__shape_str(a, sizeof a, 4, x->shape), clgrad__shape_str(b, sizeof b, 4, w->shape));
    if (c_in % groups || w->shape[0] % groups)
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE,
                            "%s: groups %d must divide the input channels (x %s) and the %s channels (weight %s)", fn,
                            groups, clgrad__shape_str(a, sizeof a, 4, x->shape), transposed ? "input" : "output",
                            clgrad__shape_str(b, sizeof b, 4, w->shape));
    if (w_in_ch != c_in)
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE,
                            "%s: x %s has %lld channels but weight %s expects %lld input channels (groups %d)", fn,
                            clgrad__shape_str(a, sizeof a, 4, x->shape), (long long)c_in,
                            clgrad__shape_str(b, sizeof b, 4, w->shape), (long long)w_in_ch, groups);
    if (bias && (bias->ndim != 1 || bias->shape[0] != c_out))
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: bias %s must have shape [%lld] (weight %s)", fn,
                            clgrad__shape_str(c, sizeof c, bias->ndim, bias->shape), (long long)c_out,
                            clgrad__shape_str(b, sizeof b, 4, w->shape));
    int64_t ho, wo;
    if (transposed) {
        ho = (h - 1) * sh - 2 * (int64_t)ph + (int64_t)dh * (kh - 1) + oph + 1;
        wo = (wd - 1) * sw - 2 * (int64_t)pw + (int64_t)dw * (kw - 1) + opw + 1;
    } else {
        int64_t eh = h + 2 * (int64_t)ph - (int64_t)dh * (kh - 1) - 1;
        int64_t ew = wd + 2 * (int64_t)pw - (int64_t)dw * (kw - 1) - 1;
        ho = eh < 0 ? 0 : eh / sh + 1;
        wo = ew < 0 ? 0 : ew / sw + 1;
    }
    if (ho < 1 || wo < 1 || ho >= lim || wo >= lim || ho * wo >= ((int64_t)1 << 31) || h * wd >= ((int64_t)1 << 31))
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE,
                            "%s: x %s with weight %s, stride (%d, %d), padding (%d, %d), dilation (%d, %d) gives an "
                            "output of %lld x %lld",
                            fn, clgrad__shape_str(a, sizeof a, 4, x->shape),
                            clgrad__shape_str(b, sizeof b, 4, w->shape),
                            sh, sw, ph, pw, dh, dw, (long long)ho, (long long)wo);
    out_shape[0] = n, out_shape[1] = c_out, out_shape[2] = ho, out_shape[3] = wo;
    /* g is always the forward convolution; a transposed one runs it backwards */
    g->n = (int)n, g->kh = (int)kh, g->kw = (int)kw;
    g->sh = sh, g->sw = sw, g->ph = ph, g->pw = pw, g->dh = dh, g->dw = dw, g->groups = groups;
    if (transposed) {
        g->c_in = (int)c_out, g->h = (int)ho, g->w = (int)wo;
        g->c_out = (int)c_in, g->ho = (int)h, g->wo = (int)wd;
    } else {
        g->c_in = (int)c_in, g->h = (int)h, g->w = (int)wd;
        g->c_out = (int)c_out, g->ho = (int)ho, g->wo = (int)wo;
    }
    return CLGRAD_OK;
}

/* State: the geometry of the forward convolution this op runs backwards. */
static clgrad_status conv_transpose2d_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad__conv_geom g = *CLGRAD__NODE_STATE(nd, clgrad__conv_geom);
    clgrad_tensor *x = nd->saved[0], *w = nd->saved[1];
    clgrad_context *ctx = gy->ctx;
    clgrad_tensor *dx = NULL, *dw = NULL, *db = NULL;
    clgrad_status st = CLGRAD_OK;
    if (nd->needs_grad[0]) {
        st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 4, x->shape, &dx);
        if (st == CLGRAD_OK) st = clgrad__conv_forward(ctx, &g, gy, w, NULL, dx);
    }
    if (st == CLGRAD_OK && nd->needs_grad[1]) {
        st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 4, w->shape, &dw);
        if (st == CLGRAD_OK) st = clgrad__conv_backward(ctx, &g, gy, w, x, NULL, NULL, dw);
    }
    if (st == CLGRAD_OK && nd->needs_grad[2]) {
        int64_t k = g.c_in;
        st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 1, &k, &db);
        if (st == CLGRAD_OK) st = clgrad__conv_bias_grad(ctx, gy, db);
    }
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(dx);
        clgrad_tensor_release(dw);
        clgrad_tensor_release(db);
        return st;
    }
    gx[0] = dx, gx[1] = dw, gx[2] = db;
    return CLGRAD_OK;
}

CLGRAD__OP_DEFINE(conv_transpose2d, "clgrad_conv_transpose2d", conv_transpose2d_backward, clgrad__conv_geom);

clgrad_status clgrad_conv_transpose2d(clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *bias,
                                      const clgrad_conv2d_params *p, clgrad_tensor **out)
{
    const char *fn = "clgrad_conv_transpose2d";
    if (out) *out = NULL;
    if (!out) return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    clgrad__conv_geom g = {0};
    int64_t shape[4];
    CLGRAD_TRY(clgrad__conv_setup(fn, 1, x, w, bias, p, &g, shape));
    clgrad_tensor *y;
    CLGRAD_TRY(clgrad__tensor_new(x->ctx, CLGRAD_DTYPE_F32, 4, shape, &y));
    clgrad_status st = clgrad__conv_backward(x->ctx, &g, NULL, w, x, bias, y, NULL);
    clgrad_tensor *inputs[3] = {x, w, bias};
    if (st == CLGRAD_OK) st = clgrad__record(y, &clgrad__op_conv_transpose2d, 3, inputs, &g, 2, inputs);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}
