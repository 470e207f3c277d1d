/* Layer ops with a fused epilogue, for the modules of src/nn (which pass relu when a ReLU
 * follows the layer in a Sequential):
 *   - the linear layer as one op (src/ops/linear.c): y = act(x W^T + b), the product with the
 *     bias and the activation as its epilogue (one GEMM launch, no pass of its own for either);
 *     the weight gradient comes out in W's own layout;
 *   - conv2d followed by a ReLU, and by a ReLU and 2x2 max pooling (src/ops/conv.c,
 *     src/ops/conv_pool.c). */
#ifndef CLGRAD_SRC_OPS_FUSED_H
#define CLGRAD_SRC_OPS_FUSED_H

/* Only public types here: the nn layer includes this header and stays free of OpenCL. */
#include "core/core.h"

/* y (..., out) = x (..., in) W^T + bias, then relu when relu != 0; w (out, in), bias (out)
 * or NULL; f32, any strides. Recorded for backward when an input requires grad: dx = dz W,
 * dW = dz^T x and db = the column sums of dz (in row order), dz being dy masked by y > 0
 * with relu, else dy. The same bits as clgrad_matmul of x and W's transpose followed by
 * clgrad_add of the bias and clgrad_relu. */
clgrad_status clgrad__linear(clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *bias, int relu, clgrad_tensor **out);

/* relu(clgrad_conv2d(x, w, bias, p)): one op with the ReLU in the forward's last pass (with
 * the bias, in the layout swap after the GEMM) where the general im2col path runs, else the
 * two ops. The same bits as the two ops. */
clgrad_status clgrad__conv2d_relu(clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *bias,
                                  const clgrad_conv2d_params *p, clgrad_tensor **out);

/* clgrad_max_pool2d(relu(clgrad_conv2d(x, w, bias, p))) with 2x2 windows and stride 2: one op
 * where a CPU-style device runs the general path on an output of even height and width
 * (the pooled output and the maxima's indices written from the GEMM's result; backward,
 * one pass from the pooled gradient to the convolution output's), else as much of it fused
 * as clgrad__conv2d_relu and the pooling op. The same bits as the three ops. */
clgrad_status clgrad__conv2d_relu_pool(clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *bias,
                                       const clgrad_conv2d_params *p, clgrad_tensor **out);

#endif
