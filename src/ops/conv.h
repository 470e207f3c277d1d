/* Internal interface of the convolution family: the geometry of a forward convolution and
 * the three products every convolution-like op is built from (forward, gradient to the
 * input, gradient to the weight). A transposed convolution is the same geometry run the
 * other way: its forward is backward-data and its backward-data is forward. */
#ifndef CLGRAD_SRC_OPS_CONV_H
#define CLGRAD_SRC_OPS_CONV_H

#include "ops/ops.h"

/* A forward convolution: input (n, c_in, h, w), weight (c_out, c_in/groups, kh, kw),
 * output (n, c_out, ho, wo). Output pixel (oh, ow) reads input (oh*sh - ph + a*dh,
 * ow*sw - pw + b*dw) for taps (a, b). ho/wo are given explicitly (a transposed convolution
 * with output_padding sees fewer outputs than the formula would give). */
typedef struct clgrad__conv_geom {
    int n, c_in, h, w;
    int c_out, kh, kw;
    int ho, wo;
    int sh, sw, ph, pw, dh, dw;
    int groups;
    int relu; /* conv2d: a ReLU fused into the general path's last pass (0 from clgrad__conv_setup) */
    int pool; /* conv2d: with relu, 2x2 max pooling with stride 2 too (ho, wo even; src/ops/conv_pool.c) */
} clgrad__conv_geom;

/* y (n, c_out, ho, wo), contiguous, allocated by the caller: y = conv(x, w) + bias.
 * x any strides; w any strides; bias (c_out) or NULL. */
clgrad_status clgrad__conv_forward(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                   clgrad_tensor *w, clgrad_tensor *bias, clgrad_tensor *y);

/* Gradients of the forward convolution from dy (n, c_out, ho, wo, any strides):
 * dx (n, c_in, h, w) contiguous = conv^T(dy, w) + dx_bias (per c_in, or NULL), and
 * dw (c_out, c_in/groups, kh, kw) contiguous. dx or dw may be NULL (not computed); x is
 * needed only for dw. Deterministic: fixed summation orders, no atomics. */
clgrad_status clgrad__conv_backward(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                    clgrad_tensor *w, clgrad_tensor *dy, clgrad_tensor *dx_bias, clgrad_tensor *dx,
                                    clgrad_tensor *dw);

/* db (k) contiguous = sum of dy (n, k, h, w, any strides) over n, h, w, in a fixed order. */
clgrad_status clgrad__conv_bias_grad(clgrad_context *ctx, clgrad_tensor *dy, clgrad_tensor *db);

/* The same with an algorithm forced (tests and benchmarks); a choice that does not fit
 * the geometry falls back to the automatic one. DEPTHWISE: the general depthwise kernels
 * (any window); DIRECT: the fixed-window direct kernels for groups == C_in (depthwise,
 * channel multipliers, a single input channel), windows up to 7x7 and strides up to 4. */
enum {
    CLGRAD__CONV_AUTO = 0,
    CLGRAD__CONV_IM2COL = 1,
    CLGRAD__CONV_1X1 = 2,
    CLGRAD__CONV_DEPTHWISE = 3,
    CLGRAD__CONV_DIRECT = 4
};
clgrad_status clgrad__conv_forward_algo(clgrad_context *ctx, const clgrad__conv_geom *g, int algo, clgrad_tensor *x,
                                        clgrad_tensor *w, clgrad_tensor *bias, clgrad_tensor *y);
clgrad_status clgrad__conv_backward_algo(clgrad_context *ctx, const clgrad__conv_geom *g, int algo,
                                         clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *dy,
                                         clgrad_tensor *dx_bias, clgrad_tensor *dx, clgrad_tensor *dw);

/* One training step of clgrad_conv2d without recording (the tuner times this): the
 * forward, keeping columns as the op does, then the gradients for w, bias (when not NULL)
 * and, with input_grad, x: gx[0] dx (or NULL), gx[1] dw, gx[2] db (or NULL), new tensors. */
clgrad_status clgrad__conv2d_step(const clgrad__conv_geom *g, clgrad_tensor *x, clgrad_tensor *w,
                                  clgrad_tensor *bias, clgrad_tensor *gy, int input_grad, clgrad_tensor **gx);

/* Byte bound for one convolution temporary on ctx's device (im2col buffers are processed
 * in chunks of images below it). */
size_t clgrad__conv_temp_bound(const clgrad_context *ctx);

/* Validates the arguments of conv2d (transposed 0) or conv_transpose2d (1), naming the
 * shapes in messages; fills g (always the forward convolution: for a transposed one its
 * input is the transposed output) and the op's output shape. p NULL means defaults. */
clgrad_status clgrad__conv_setup(const char *fn, int transposed, clgrad_tensor *x, clgrad_tensor *w,
                                 clgrad_tensor *bias, const clgrad_conv2d_params *p, clgrad__conv_geom *g,
                                 int64_t out_shape[4]);

#endif
