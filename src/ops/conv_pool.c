/* A convolution followed by a ReLU and 2x2 max pooling with stride 2, the pooling's part:
 * the forward's last pass writes the pooled output and the indices of the maxima straight
 * from the GEMM's result (the full-size output is never written), and the backward turns
 * the pooled gradient into the convolution output's gradient in one pass (the ReLU's mask
 * included). Same bits as the layout swap with its ReLU, clgrad_max_pool2d and their
 * backward rules (cl/conv.cl). */
#include "ops/conv_impl.h"

#define FAMILY "conv"

clgrad_status clgrad__conv_relu_pool_write(clgrad_context *ctx, clgrad_tensor *t, clgrad_tensor *y, clgrad_tensor *idx,
                                           clgrad_tensor *bias, int n0, int nb, int K, int ho, int wo)
{
    clgrad__conv_bias_args ba = clgrad__conv_bias_of(bias, t);
    cl_int n0_ = n0, nb_ = nb, K_ = K, ho_ = ho, wo_ = wo;
    cl_long rows = (cl_long)K * nb * (ho / 2);
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(t), CLGRAD_KARG_T(y), CLGRAD_KARG_T(idx), CLGRAD_KARG(ba.mem),
                                  CLGRAD_KARG(ba.off), CLGRAD_KARG(ba.stride), CLGRAD_KARG(ba.has), CLGRAD_KARG(n0_),
                                  CLGRAD_KARG(nb_), CLGRAD_KARG(K_), CLGRAD_KARG(ho_), CLGRAD_KARG(wo_),
                                  CLGRAD_KARG(rows));
    return clgrad__launch_1d(ctx, FAMILY, NULL, "conv_relu_pool2_f32", (size_t)rows, a);
}

clgrad_status clgrad__conv_relu_unpool(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *gy,
                                       clgrad_tensor *idx, clgrad_tensor *y, clgrad_tensor **out)
{
    int64_t shape[4] = {g->n, g->c_out, g->ho, g->wo};
    clgrad_tensor *gc = NULL, *dx = NULL;
    clgrad_status st = clgrad__contiguous(gy, &gc);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 4, shape, &dx);
    if (st == CLGRAD_OK) {
        cl_int ho = g->ho, wo = g->wo;
        cl_long rows = (cl_long)g->n * g->c_out * (g->ho / 2);
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(gc), CLGRAD_KARG_T(idx), CLGRAD_KARG_T(y), CLGRAD_KARG_T(dx),
                                      CLGRAD_KARG(ho), CLGRAD_KARG(wo), CLGRAD_KARG(rows));
        st = clgrad__launch_1d(ctx, FAMILY, NULL, "conv_relu_unpool2_f32", (size_t)rows, a);
    }
    clgrad_tensor_release(gc);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(dx);
        return st;
    }
    *out = dx;
    return CLGRAD_OK;
}
