/* Internal GEMM interface of the ops layer (the providers in src/ops/gemm.c, the choice
 * between them in src/ops/gemm_provider.c), used by clgrad_matmul (src/ops/matmul_api.c),
 * convolution and anything else that needs a matrix product on raw buffers. */
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
    /* The fused epilogue (zero: none), applied once to each finished element of C: bias_mode
     * CLGRAD__GEMM_BIAS_COL adds bias[bias_off + j], CLGRAD__GEMM_BIAS_ROW bias[bias_off + i]
     * (the same bias for every batch entry); relu then clamps below at 0 as clgrad_relu
     * does. The same bits as the product followed by those ops. */
    int bias_mode, relu;
    cl_mem bias;
    int64_t bias_off;
} clgrad__gemm_args;

enum { CLGRAD__GEMM_BIAS_NONE = 0, CLGRAD__GEMM_BIAS_COL = 1, CLGRAD__GEMM_BIAS_ROW = 2 };

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

/* --- the CPU variant's products with a B packed once (the recurrent weights of a sequence)
 * and the fused epilogues that go with them (cl/matmul.cl) --- */

/* Whether GEMMs on ctx run our CPU variant now (our kernels, not the tiled variant, not
 * CLBlast): *cpu 1 or 0; when 1, *p its parameters and *opts (owned by ctx) the build
 * options of its matmul programs, for ops that launch the fused kernels. */
clgrad_status clgrad__gemm_cpu_plan(clgrad_context *ctx, int *cpu, clgrad__gemm_cpu_params *p, const char **opts);
/* Micro-tiles per work-item (tm along M, tn along N) for a launch over pm x pn micro-tiles. */
void clgrad__gemm_cpu_tiles(const clgrad_context *ctx, size_t pm, size_t pn, int *tm, int *tn);
/* Whether a recurrent sequence with row_panels panels of MM_MR batch rows and step_flops of
 * product per step runs as one launch, each work-item owning a row panel through every step
 * (rows never meet inside the recurrence), rather than one launch per step spread over the
 * unit panels too: when a step on min(row_panels, compute units) units costs no more than on
 * all of them plus a launch (measured on a 2-unit CPU: one launch wins from 8 batch rows at
 * hidden size 256 and from 16 rows at 512, and never loses by more than 2%). */
int clgrad__gemm_cpu_whole_sequence(const clgrad_context *ctx, size_t row_panels, double step_flops);
/* Forces that choice for ctx (tests): 1 whole-sequence launches, 2 per step, 0 by the rule. */
clgrad_status clgrad__gemm_set_whole_sequence(clgrad_context *ctx, int mode);
/* Packs op(B) (k x g*h: g blocks of h columns) into a new buffer for the CPU variant:
 * with g = 1 for clgrad__gemm_packed, with g = 4 gate-interleaved for the fused LSTM step
 * (matmul_pack_gates_f32). op(B)(kk, j) = b[b_off + kk*ldb + j], or b[b_off + j*ldb + kk]
 * when trans_b. Only when clgrad__gemm_cpu_plan says the CPU variant runs. */
clgrad_status clgrad__gemm_pack_gates(clgrad_context *ctx, int trans_b, int64_t k, int64_t h, int g, cl_mem b,
                                      int64_t b_off, int64_t ldb, clgrad__buffer **out);
/* C (m x n, row stride ldc) = op(A) Bp (the same sums as clgrad__gemm with beta 0) for Bp
 * packed by clgrad__gemm_pack_gates with g = 1 from a k x n op(B); one launch. */
clgrad_status clgrad__gemm_packed(clgrad_context *ctx, int trans_a, int64_t m, int64_t n, int64_t k, cl_mem a,
                                  int64_t a_off, int64_t lda, const clgrad__buffer *bp, cl_mem c, int64_t c_off,
                                  int64_t ldc);

#endif
