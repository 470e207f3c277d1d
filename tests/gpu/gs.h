/* Support for the kernel-variant matrix (tests/gpu): every case runs once per style (the
 * table rows of a CPU, then of a GPU, whatever the device is), with the fold limit and the
 * reduction chunk lowered so that small shapes reach the folded launches and the
 * multi-pass reductions, and compares the forward result and every input gradient with the
 * plain-C references. The same executables run in two suites: `gpu-semantics` on
 * Oclgrind (work-group, barrier and local-memory semantics, with its race, bounds and API
 * checks; tests/gpu/run_oclgrind.py fails on any diagnostic) and `variants` on the default
 * device. Shapes stay small: Oclgrind interprets every work-item. */
#ifndef CLGRAD_TEST_GS_H
#define CLGRAD_TEST_GS_H

#include "harness.h"
#include "ref.h"

#include "ops/tuned.h"

#define GS_N_STYLES 2
/* Fold limit and reduction chunk of every case (small, so that small shapes fold). */
#define GS_FOLD 3
#define GS_RED_CHUNK 64

/* Forces style i (0: CPU, 1: GPU) and the small limits on th_ctx; the GEMM provider is ours. */
void gs_style(int i);
const char *gs_style_name(int i);

/* A device tensor of uniform values in [lo, hi) and its host copy (*host, malloc'd). */
clgrad_tensor *gs_rand(int ndim, const int64_t *shape, uint64_t seed, float lo, float hi, float **host);

/* A forward op of n inputs. */
typedef clgrad_status (*gs_fn)(clgrad_tensor **in, void *user, clgrad_tensor **out);

/* Runs fn on in[] (their requires_grad as set by the caller), compares the output with
 * want_y (when not NULL), runs backward from dy (host, the output's shape; NULL: no
 * backward) and compares the gradient of each input i with want_dx[i] (NULL: not
 * checked, e.g. an input without requires_grad). Tolerance |got - want| <= atol + rtol*|want|. */
void gs_check_op(const char *what, gs_fn fn, void *user, int n, clgrad_tensor **in, const float *want_y,
                 const float *dy, const float *const *want_dx, double atol, double rtol);

#endif
