/* Transposed 2-d convolution (PyTorch's ConvTranspose2d): the adjoint of a forward
 * convolution whose input has the transposed output's shape. Its forward is that
 * convolution's input gradient (with the bias folded into the gather), its input gradient
 * is that convolution's forward, and its weight gradient is that convolution's weight
 * gradient with the roles of input and output gradient swapped: it calls the engine of
 * conv.c (conv.h) and nothing else of the family. */
#include "ops/conv.h"
#include "ops/op_table.h"

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
