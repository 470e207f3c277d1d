/* Internal to the GEMM providers (gemm.c: our kernels, their parameters and launches, and
 * CLBlast's; gemm_provider.c: the choice between them): the state each context keeps. */
#ifndef CLGRAD_SRC_OPS_GEMM_IMPL_H
#define CLGRAD_SRC_OPS_GEMM_IMPL_H

#include "ops/gemm.h"

#define CLGRAD__GEMM_FAMILY "matmul"

typedef struct clgrad__gemm_state {
    clgrad__gemm_provider forced; /* AUTO: not forced ($CLGRAD_GEMM, else measured) */
    clgrad__gemm_provider chosen; /* the measured winner; AUTO until measured */
    unsigned chosen_generation;   /* the parameters it was measured with */
    int variant_forced;           /* 0: by device, 1: CPU variant, 2: tiled variant */
    int params_forced;            /* cpu / tp below hold forced values to start from */
    int seq_forced;               /* 0: by row panels, 1: whole-sequence launches, 2: per step */
    int ready;                    /* kernel parameters resolved ... */
    unsigned generation;          /* ... for this generation of the parameters in use */
    int tiled;
    clgrad__gemm_cpu_params cpu;
    clgrad__gemm_tiled_params tp;
    char opts[192];
} clgrad__gemm_state;

/* ctx's GEMM state (its slot, created on first use); NULL when out of host memory. */
clgrad__gemm_state *clgrad__gemm_state_of(clgrad_context *ctx);

#define CLGRAD__GEMM_STATE_OR_FAIL(ctx, s)                                                         \
    clgrad__gemm_state *s = clgrad__gemm_state_of(ctx);                                            \
    if (!s) return clgrad__fail((ctx), CLGRAD_ERR_HOST_MEMORY, "out of host memory")

/* Resolves our kernels' variant, parameters and build options for the parameters in use on
 * ctx (src/ops/tuned.c) and the forced values; again only when those have changed. */
clgrad_status clgrad__gemm_resolve(clgrad_context *ctx, clgrad__gemm_state *s);

#endif
