/* The tuner behind clgrad_context_tune: a search, per device, for the kernel parameters of
 * the GEMM variants (tile sizes, work per item, vector width, local size, packing depth),
 * the convolution paths (direct or im2col for one input channel, row kernels, work-group
 * width) and the reductions (work-group sizes, lanes of the column kernel, the ordered
 * sum's block width). Each stage starts from the table values of the device and changes
 * one parameter at a time (coordinate descent) while its share of the time budget lasts.
 * A candidate is first run on small shapes against a plain-C reference computed here in
 * double; only a candidate that passes is timed. A stage's winner is kept only when, timed
 * again against the table values on every shape of the stage (interleaved, best of a few),
 * it is not slower on any shape; otherwise that stage keeps the table values. The winners
 * go to the tuned file (src/ops/tuned.c), with the measurements as information. This file
 * holds the run and what the stages share (timing, reference data, report rows); each stage
 * has its own file: tune_gemm.c, tune_conv.c, tune_reduce.c. */
#include "ops/gemm.h"
#include "ops/tune.h"

#include <math.h>
#include <stdlib.h>

/* --- time and progress ----------------------------------------------------------------------- */

void clgrad__tune_progress(clgrad__tuner *T)
{
    if (!T->o || !T->o->progress) return;
    double span = T->stage_end - T->stage_start, f = span > 0 ? (clgrad__now() - T->stage_start) / span : 1.0;
    if (f > 1.0) f = 1.0;
    if (f < 0.0) f = 0.0;
    f = T->frac_lo + (T->frac_hi - T->frac_lo) * f;
    if (f < T->reported) f = T->reported;
    T->reported = f;
    T->o->progress(T->o->user, f, T->stage);
}

static void stage_begin(clgrad__tuner *T, const char *name, double lo, double hi)
{
    T->stage = name;
    T->stage_start = clgrad__now();
    T->stage_end = T->t0 + T->budget * hi;
    T->frac_lo = lo;
    T->frac_hi = hi;
    clgrad__tune_progress(T);
}

int clgrad__tune_time_left(const clgrad__tuner *T) { return clgrad__now() < T->stage_end; }

double clgrad__tune_once(clgrad__tuner *T, clgrad__tune_work fn, void *arg)
{
    double t = clgrad__now();
    if (fn(T, arg) != CLGRAD_OK || clFinish(T->ctx->dev.queue) != CL_SUCCESS) return -1.0;
    return clgrad__now() - t;
}

double clgrad__tune_best_of(clgrad__tuner *T, clgrad__tune_work fn, void *arg, int reps)
{
    if (clgrad__tune_once(T, fn, arg) < 0) return -1.0;
    double best = -1.0;
    for (int r = 0; r < reps; r++) {
        double t = clgrad__tune_once(T, fn, arg);
        if (t < 0) return -1.0;
        if (best < 0 || t < best) best = t;
    }
    T->timed++;
    return best;
}

/* A warm-up run, then a timed one, for the first round; one timed run after. */
static double round_time(clgrad__tuner *T, clgrad__tune_work fn, void *arg, int r)
{
    return r ? clgrad__tune_once(T, fn, arg) : (clgrad__tune_once(T, fn, arg), clgrad__tune_once(T, fn, arg));
}

void clgrad__tune_interleave(clgrad__tuner *T, clgrad__tune_work fn, void *arg, const clgrad__ops_params *def_ops,
                             const clgrad__gemm_choice *def_gemm, const clgrad__ops_params *win_ops,
                             const clgrad__gemm_choice *win_gemm, double *td, double *tw)
{
    *td = *tw = -1;
    for (int r = 0; r < FINAL_ROUNDS; r++) {
        clgrad__tuned_trial(T->ctx, def_ops, def_gemm);
        double t = round_time(T, fn, arg, r);
        if (t > 0 && (*td < 0 || t < *td)) *td = t;
        clgrad__tuned_trial(T->ctx, win_ops, win_gemm);
        t = round_time(T, fn, arg, r);
        if (t > 0 && (*tw < 0 || t < *tw)) *tw = t;
    }
}

/* --- data and report --------------------------------------------------------------------------- */

void clgrad__tune_fill(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = (float)((double)(s >> 40) / 8388608.0 - 1.0);
    }
}

int clgrad__tune_close_to(const float *got, const double *want, const double *scale, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= 1e-4 * (1.0 + scale[i]))) return 0;
    return 1;
}

cJSON *clgrad__tune_shape_row(const char *name, double t_def, double t_new)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "shape", name);
    cJSON_AddNumberToObject(o, "default_ms", t_def * 1e3);
    cJSON_AddNumberToObject(o, "tuned_ms", t_new * 1e3);
    cJSON_AddNumberToObject(o, "speedup", t_new > 0 ? t_def / t_new : 0.0);
    return o;
}

/* ============================ the run ========================================================== */

clgrad_status clgrad_context_tune(clgrad_context *ctx, const clgrad_tune_options *opts)
{
    if (!ctx) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_context_tune: ctx is NULL");
    char *path = clgrad__tuned_path(ctx);
    if (!path)
        return clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED,
                            "clgrad_context_tune: no cache folder to keep the results in (see clgrad_context_desc)");
    free(path);
    if (opts && !(opts->budget_seconds <= 1e6))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_context_tune: budget %g is not a number of seconds",
                            opts->budget_seconds);
    clgrad__tuner T = {.ctx = ctx, .o = opts, .t0 = clgrad__now()};
    T.budget = opts && opts->budget_seconds > 0 ? opts->budget_seconds : 60.0;
    CLGRAD_TRY(clgrad_context_finish(ctx));
    /* our kernels only while tuning (no provider measurement per candidate) */
    clgrad__gemm_provider saved = clgrad__gemm_forced_provider(ctx);
    CLGRAD_TRY(clgrad__gemm_set_provider(ctx, CLGRAD__GEMM_OWN));

    cJSON *report = cJSON_CreateObject(), *measured = NULL;
    if (!report) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    cJSON_AddNumberToObject(report, "budget_seconds", T.budget);
    clgrad__ops_params dops, cops, rops;
    clgrad__gemm_choice dgemm, gemm;
    clgrad__tuned_defaults(ctx, &dops, &dgemm);
    int g_ok = 0, c_ok = 0, r_ok = 0;

    stage_begin(&T, "gemm", 0.0, 0.55);
    clgrad__tune_gemm(&T, &gemm, &g_ok, report);
    stage_begin(&T, "conv", 0.55, 0.8);
    clgrad__tune_conv(&T, g_ok ? &gemm : &dgemm, &dgemm, &cops, &c_ok, report);
    stage_begin(&T, "reduce", 0.8, 1.0);
    clgrad__tune_reduce(&T, c_ok ? &cops : &dops, &rops, &r_ok, report);

    clgrad__gemm_set_provider(ctx, saved);
    cJSON_AddNumberToObject(report, "seconds", clgrad__now() - T.t0);
    cJSON_AddNumberToObject(report, "candidates_checked", T.checked);
    cJSON_AddNumberToObject(report, "candidates_rejected", T.rejected);
    /* the file keeps what was accepted; the others stay at the table values */
    unsigned groups = (g_ok ? CLGRAD__TUNED_GEMM : 0) | (c_ok ? CLGRAD__TUNED_CONV : 0) |
                      (r_ok ? CLGRAD__TUNED_REDUCE : 0);
    clgrad__ops_params ops = dops;
    if (c_ok)
        ops.conv_direct_c1 = cops.conv_direct_c1, ops.row_kernels = cops.row_kernels, ops.conv_wg = cops.conv_wg,
        ops.conv_chunk_kb = cops.conv_chunk_kb, ops.conv_per_image = cops.conv_per_image;
    if (r_ok)
        ops.red_vec_wg = rops.red_vec_wg, ops.red_colwg_items = rops.red_colwg_items, ops.sum_cw = rops.sum_cw,
        ops.red_colwg = rops.red_colwg, ops.red_rows_long = rops.red_rows_long;
    measured = cJSON_Duplicate(report, 1);
    clgrad_status st = clgrad__tuned_store(ctx, groups, &ops, g_ok ? &gemm : &dgemm, measured);
    clgrad__tuned_set_last_run(ctx, report);
    if (opts && opts->progress) opts->progress(opts->user, 1.0, "done");
    return st;
}
