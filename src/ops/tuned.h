/* The kernel parameters the op families use on a context, and where each comes from: the
 * matching rows of the tables in src/program/tuning.c (the default), the values a tuner run
 * (src/ops/tune.c) stored for this platform, device and driver in the cache folder, or a
 * test hook. One slot of the ops layer holds them; clgrad__ops_tuning (ops.h) and the GEMM
 * providers read them, so no op looks at a table or a file itself. */
#ifndef CLGRAD_SRC_OPS_TUNED_H
#define CLGRAD_SRC_OPS_TUNED_H

#include "ops/ops.h"

/* The GEMM choices: variant and both variants' parameters. */
typedef struct clgrad__gemm_choice {
    int tiled;                      /* 1: the tiled variant, 0: the CPU variant */
    clgrad__gemm_cpu_params cpu;
    clgrad__gemm_tiled_params tp;
} clgrad__gemm_choice;

/* Fills *c with the GEMM choices in use on ctx (table rows, tuned values, test style). */
void clgrad__tuned_gemm(const clgrad_context *ctx, clgrad__gemm_choice *c);

/* Bumped whenever the parameters in use change (a test hook, a tuner trial, a tuner run):
 * anything that caches a choice (the GEMM provider state) resolves it again. */
unsigned clgrad__tuned_generation(const clgrad_context *ctx);

/* The device's CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT (0 if unknown), queried once. */
int clgrad__tuned_vector_width(const clgrad_context *ctx);

/* --- test hooks ------------------------------------------------------------------------------- */

/* Which table rows the families take: the device's own (DEVICE), or those of a CPU or of a
 * GPU whatever the device is, so that every variant of every family runs on every device
 * (CPU: the CPU GEMM variant, row kernels, vector-lane reductions and softmax; GPU: the
 * tiled GEMM, coalesced work-group kernels). A forced style ignores tuned values. */
typedef enum clgrad__style {
    CLGRAD__STYLE_DEVICE = 0,
    CLGRAD__STYLE_CPU = 1,
    CLGRAD__STYLE_GPU = 2,
} clgrad__style;
clgrad_status clgrad__tuning_force_style(clgrad_context *ctx, clgrad__style style);

/* Lowers the limits behind folded launches and chunked reductions so that small shapes
 * reach those paths: fold is the most planes, rows or partial results one NDRange
 * dimension takes before the rest folds into the next (or into another launch); red_chunk
 * the elements per partial result of the reduction engine's long rows. 0 restores a
 * limit's default (32768 and 16384). Every path gives the same results at any limit except
 * red_chunk, which moves the reduction's chunk boundaries (its results stay within
 * rounding of the reference). */
clgrad_status clgrad__tuning_set_limits(clgrad_context *ctx, size_t fold, int64_t red_chunk);
/* clgrad__fold_limit is in ops.h (every family folds); the reduction chunk: */
int64_t clgrad__red_chunk(const clgrad_context *ctx);

/* --- the tuner's side ------------------------------------------------------------------------- */

/* While a trial is set, ctx runs with these parameters (either may be NULL: that part as
 * before); clgrad__tuned_trial_end goes back. The tuner times candidates this way. */
void clgrad__tuned_trial(clgrad_context *ctx, const clgrad__ops_params *ops, const clgrad__gemm_choice *gemm);
void clgrad__tuned_trial_end(clgrad_context *ctx);

/* Which parameter groups a tuned file sets. */
enum {
    CLGRAD__TUNED_GEMM = 1u << 0,   /* variant and both parameter sets */
    CLGRAD__TUNED_CONV = 1u << 1,   /* conv_wg, conv_direct_c1, row_kernels */
    CLGRAD__TUNED_REDUCE = 1u << 2, /* wg_1d, red_*, sum_cw */
};

/* Writes the tuned file of ctx's device (the groups in `groups` from ops / gemm; the others
 * keep their table values) atomically into the cache folder, with `measured` (a JSON object
 * or NULL, taken over) kept as information, and makes ctx use it. CLGRAD_ERR_UNSUPPORTED
 * without a cache folder; CLGRAD_ERR_IO when the file cannot be written. */
struct cJSON;
clgrad_status clgrad__tuned_store(clgrad_context *ctx, unsigned groups, const clgrad__ops_params *ops,
                                  const clgrad__gemm_choice *gemm, struct cJSON *measured);

/* The table values of ctx's device (what the families use without a tuned file). */
void clgrad__tuned_defaults(const clgrad_context *ctx, clgrad__ops_params *ops, clgrad__gemm_choice *gemm);

/* The tuned file's path on ctx (malloc'd), or NULL without a cache folder. */
char *clgrad__tuned_path(const clgrad_context *ctx);

/* Keeps the last tuner run's report (a JSON object, taken over) for clgrad_context_tuning. */
void clgrad__tuned_set_last_run(clgrad_context *ctx, struct cJSON *report);

#endif
