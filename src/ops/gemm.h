/* Internal GEMM interface of the ops layer (the providers in src/ops/gemm.c), used by
 * clgrad_matmul (src/ops/matmul_api.c), convolution and anything else that needs a matrix
 * product on raw buffers. */
#ifndef CLGRAD_SRC_OPS_GEMM_H
#define CLGRAD_SRC_OPS_GEMM_H

#include "ops/ops.h"
#include "program/tuning.h"

/* Batched row-major GEMM on buffers: for b < batch,
 *   C_b = alpha * op(A_b) * op(B_b) + beta * C_b
 * op(A_b) is m x k, op(B_b) is k x n; X_b starts at x_off + b * x_bstride elements;
 * ld* are row strides in elements of the stored (untransposed) matrices. beta == 0 means
 * C is not read. */
typedef struct clgrad__gemm_args {
    int trans_a, trans_b;
    int64_t m, n, k, batch;
    float alpha, beta;
    cl_mem a, b, c;
    int64_t a_off, lda, a_bstride;
    int64_t b_off, ldb, b_bstride;
    int64_t c_off, ldc, c_bstride;
} clgrad__gemm_args;

/* Runs a GEMM with the provider chosen for ctx (CLGRAD_GEMM=auto|own|clblast). */
clgrad_status clgrad__gemm(clgrad_context *ctx, const clgrad__gemm_args *g);

/* Our own kernels only, and CLBlast only (CLGRAD_ERR_UNSUPPORTED when not built with it). */
clgrad_status clgrad__gemm_own(clgrad_context *ctx, const clgrad__gemm_args *g);
clgrad_status clgrad__gemm_clblast(clgrad_context *ctx, const clgrad__gemm_args *g);

typedef enum clgrad__gemm_provider {
    CLGRAD__GEMM_AUTO = 0,
    CLGRAD__GEMM_OWN = 1,
    CLGRAD__GEMM_CLBLAST = 2,
} clgrad__gemm_provider;
/* Forces a provider for ctx (tests and benchmarks); AUTO restores the default choice. */
clgrad_status clgrad__gemm_set_provider(clgrad_context *ctx, clgrad__gemm_provider p);
int clgrad__gemm_have_clblast(void);
/* The provider forced on ctx (AUTO when none), to restore after forcing another. */
clgrad__gemm_provider clgrad__gemm_forced_provider(clgrad_context *ctx);
/* Forces our kernels' variant for ctx: "cpu" (packing + work-group size 1), "tiled"
 * (local-memory tiles), or NULL for the device's default (clgrad__gemm_default_tiled).
 * For tests, which run the GPU variant on CPU devices too. */
clgrad_status clgrad__gemm_set_variant(clgrad_context *ctx, const char *variant);
/* Whether our kernels default to the tiled variant on d: on every GPU (some, like Mali,
 * report local memory in global memory yet want work-groups), never on CPUs, and on other
 * devices when their local memory is on-chip. */
int clgrad__gemm_default_tiled(const clgrad_device_info *d);
/* Forces our kernels' parameters for ctx (tests, tuners): the CPU variant with *cpu, or
 * the tiled variant with *tiled (shrunk like a table row when it exceeds the device's
 * limits). Both NULL: back to the tables. CLGRAD_ERR_INVALID_ARG for inconsistent values. */
clgrad_status clgrad__gemm_set_params(clgrad_context *ctx, const clgrad__gemm_cpu_params *cpu,
                                      const clgrad__gemm_tiled_params *tiled);

#endif
