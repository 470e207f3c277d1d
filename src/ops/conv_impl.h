/* Internal to the convolution family (src/ops/conv*.c): the helpers every algorithm shares
 * and the algorithms the engine in conv.c dispatches to. Each algorithm computes the same
 * products as clgrad__conv_forward / clgrad__conv_backward (conv.h) for the geometries it
 * accepts. */
#ifndef CLGRAD_SRC_OPS_CONV_IMPL_H
#define CLGRAD_SRC_OPS_CONV_IMPL_H

#include "ops/conv.h"

/* Bias arguments: buffer, offset, stride, flag (a dummy buffer when there is none). */
typedef struct clgrad__conv_bias_args {
    cl_mem mem;
    cl_long off, stride;
    cl_int has;
} clgrad__conv_bias_args;

/* conv_common.c: helpers every algorithm shares */
cl_long4 clgrad__conv_strides4(const clgrad_tensor *t);
/* Images per chunk so that a temporary of per_image elements per image stays under the
 * bound; chunks are evened out so the last one is not a sliver. */
clgrad_status clgrad__conv_chunk_images(clgrad_context *ctx, const clgrad__conv_geom *g, int64_t per_image, int *nb);
clgrad_status clgrad__conv_new_temp(clgrad_context *ctx, int64_t n, clgrad_tensor **out);
/* A (pixels, planes) launch with work-groups inside one plane; planes fold over dims 1 and
 * 2 (see conv_plane() in cl/conv.cl) so no dimension gets huge. */
clgrad_status clgrad__conv_launch2(clgrad_context *ctx, const char *kernel, size_t pixels, size_t planes, clgrad__kargs args);
/* A (column, row, plane) launch of a loop-free kernel whose plane0 argument is *p0: planes
 * go in launches of at most clgrad__fold_limit(), work-groups of lx x ly inside one plane. */
clgrad_status clgrad__conv_launch3(clgrad_context *ctx, const char *opts, const char *kernel, size_t cols, size_t rows,
                             int64_t planes, size_t lx, size_t ly, cl_long *p0, clgrad__kargs args);
clgrad__conv_bias_args clgrad__conv_bias_of(clgrad_tensor *b, clgrad_tensor *fallback);
clgrad_status clgrad__conv_bias_fill(clgrad_context *ctx, clgrad_tensor *y, clgrad_tensor *bias);
/* out[m] (strided 1-D view or contiguous) = sum over r < R of part[r*M + m]. */
clgrad_status clgrad__conv_sum_rows(clgrad_context *ctx, clgrad_tensor *part, int R, int M, clgrad_tensor *out);

/* conv_im2col.c: the general path, im2col + GEMM */
/* Bytes of the column matrix of all of g's images when they fit one chunk and a quarter of
 * the temporary bound, else 0: the forward may then keep its columns for the backward. */
size_t clgrad__conv_keepable_cols(clgrad_context *ctx, const clgrad__conv_geom *g);
/* keep: when not NULL and every image went in one chunk, *keep gets the column matrix
 * (rows, n*Ho*Wo) of x, which clgrad__conv_backward_im2col can take instead of recomputing it. */
/* With g->pool, y is the pooled output (n, c_out, ho/2, wo/2) and idx its indices (i32, the
 * same shape; clgrad__conv_relu_pool_write); idx is NULL otherwise. */
clgrad_status clgrad__conv_forward_im2col(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                    clgrad_tensor *wc, clgrad_tensor *bias, clgrad_tensor *y, clgrad_tensor *idx,
                                    clgrad_tensor **keep);
/* cols: NULL, or the column matrix of all of x kept by clgrad__conv_forward_im2col (read, never written). */
clgrad_status clgrad__conv_backward_im2col_cols(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                          clgrad_tensor *wc, clgrad_tensor *dy, clgrad_tensor *dx_bias,
                                          clgrad_tensor *dx, clgrad_tensor *dw, clgrad_tensor *cols);
clgrad_status clgrad__conv_backward_im2col(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                     clgrad_tensor *wc, clgrad_tensor *dy, clgrad_tensor *dx_bias, clgrad_tensor *dx,
                                     clgrad_tensor *dw);

/* conv_pool.c: a ReLU and 2x2 max pooling with stride 2 after the GEMM (ho, wo even) */
/* t (K, nb, ho*wo), the GEMM's result for images n0 .. n0+nb -> y (N, K, ho/2, wo/2) = the
 * pooling of relu(t + bias) and idx (i32, y's shape) the flat oh*wo+ow of each maximum. */
clgrad_status clgrad__conv_relu_pool_write(clgrad_context *ctx, clgrad_tensor *t, clgrad_tensor *y, clgrad_tensor *idx,
                                           clgrad_tensor *bias, int n0, int nb, int K, int ho, int wo);
/* *out (n, c_out, ho, wo), new and contiguous: gy (the pooled shape, any strides) times
 * (y > 0) at each window's maximum idx, 0 elsewhere (y, idx: the forward's). */
clgrad_status clgrad__conv_relu_unpool(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *gy,
                                       clgrad_tensor *idx, clgrad_tensor *y, clgrad_tensor **out);

/* conv_direct.c: 1x1 GEMMs, depthwise and fixed-window direct kernels */
clgrad_status clgrad__conv_forward_1x1(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                 clgrad_tensor *wc, clgrad_tensor *bias, clgrad_tensor *y);
clgrad_status clgrad__conv_backward_data_1x1(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *wc,
                                       clgrad_tensor *dy, clgrad_tensor *dx_bias, clgrad_tensor *dx);
clgrad_status clgrad__conv_forward_dw(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                clgrad_tensor *wc, clgrad_tensor *bias, clgrad_tensor *y);
clgrad_status clgrad__conv_backward_dw(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                 clgrad_tensor *wc, clgrad_tensor *dy, clgrad_tensor *dx_bias, clgrad_tensor *dx,
                                 clgrad_tensor *dw);
clgrad_status clgrad__conv_forward_direct(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                    clgrad_tensor *wc, clgrad_tensor *bias, clgrad_tensor *y);
clgrad_status clgrad__conv_backward_direct(clgrad_context *ctx, const clgrad__conv_geom *g, clgrad_tensor *x,
                                     clgrad_tensor *wc, clgrad_tensor *dy, clgrad_tensor *dx_bias, clgrad_tensor *dx,
                                     clgrad_tensor *dw);

#endif
