/* What the stages of the tuner (tune.c: the run; tune_gemm.c, tune_conv.c, tune_reduce.c:
 * one stage each) share: the run's state, its timing and the rows of its report. */
#ifndef CLGRAD_SRC_OPS_TUNE_H
#define CLGRAD_SRC_OPS_TUNE_H

#include "ops/tuned.h"

#include <cjson/cJSON.h>

/* A candidate must beat the current best by this much to replace it, and the final
 * winner may be this much slower than the table values on no shape (timer noise). */
#define WIN_MARGIN 0.02
#define NOISE 0.01
/* Alternating runs of the table values and the winner in the final comparison (the best of
 * each kept): enough that the minimum is the machine's floor, not its noise. */
#define FINAL_ROUNDS 8

typedef struct clgrad__tuner {
    clgrad_context *ctx;
    const clgrad_tune_options *o;
    double t0, budget;
    double stage_start, stage_end, frac_lo, frac_hi;
    const char *stage;
    double reported; /* the last fraction handed to progress: it never goes back */
    int checked, rejected, timed;
} clgrad__tuner;

/* The value list of coordinate i of a variant's parameters (a stage has a setter). */
typedef struct clgrad__tune_coord {
    const char *name;
    int n;
    int v[8];
} clgrad__tune_coord;

/* Hands the stage's progress to the caller's callback (never going back). */
void clgrad__tune_progress(clgrad__tuner *T);
/* Whether the current stage has time left. */
int clgrad__tune_time_left(const clgrad__tuner *T);

typedef clgrad_status (*clgrad__tune_work)(clgrad__tuner *T, void *arg);
/* One timed run: the work, then a wait for the device. < 0 on failure. */
double clgrad__tune_once(clgrad__tuner *T, clgrad__tune_work fn, void *arg);
/* Best of reps runs after a warm-up run (which builds the kernels). */
double clgrad__tune_best_of(clgrad__tuner *T, clgrad__tune_work fn, void *arg, int reps);
/* The final comparison on one shape: FINAL_ROUNDS alternating runs of the table values
 * (the trial def_ops, def_gemm) and the winner (win_ops, win_gemm), the first of each a
 * warm-up; *td and *tw the best of each (< 0: every run failed). */
void clgrad__tune_interleave(clgrad__tuner *T, clgrad__tune_work fn, void *arg, const clgrad__ops_params *def_ops,
                             const clgrad__gemm_choice *def_gemm, const clgrad__ops_params *win_ops,
                             const clgrad__gemm_choice *win_gemm, double *td, double *tw);

/* Deterministic data in [-1, 1). */
void clgrad__tune_fill(float *x, size_t n, uint64_t seed);
/* Every got[i] within 1e-4 * (1 + scale[i]) of want[i]. */
int clgrad__tune_close_to(const float *got, const double *want, const double *scale, size_t n);
/* A report row: the shape's name, both times in ms and the speed-up. */
cJSON *clgrad__tune_shape_row(const char *name, double t_def, double t_new);

/* The stages. Each writes its part of report, sets *accepted when its winner is kept and
 * leaves no trial set. */
void clgrad__tune_gemm(clgrad__tuner *T, clgrad__gemm_choice *out, int *accepted, cJSON *report);
/* Searches with the GEMM choice gm in place (the tuned one when the GEMM stage kept one). */
void clgrad__tune_conv(clgrad__tuner *T, const clgrad__gemm_choice *gm, const clgrad__gemm_choice *gdef,
                       clgrad__ops_params *out, int *accepted, cJSON *report);
void clgrad__tune_reduce(clgrad__tuner *T, const clgrad__ops_params *base, clgrad__ops_params *out, int *accepted,
                         cJSON *report);

#endif
