/* clgrad-bench: op benchmarks on the public API. Each op is a subcommand (a row of the
 * table in bench.c) that fills a list of results; the driver prints them as a table or as
 * JSON: {"results":[{"op":..., "shape":..., "provider":..., "gflops":..., "ms":...}, ...]}.
 * To add an op: write bench_<op>.c with a bench_fn, add it to the table in bench.c and to
 * tools/bench/meson.build. */
#ifndef CLGRAD_BENCH_H
#define CLGRAD_BENCH_H

#include <stdio.h>

#include "clgrad.h"

typedef struct bench_result {
    char op[32], shape[64], provider[32];
    double gflops, ms; /* gflops < 0: not a FLOP-counted op (printed as null) */
    double gbs, vs_copy; /* memory-bound ops: GB/s and the ratio to a device copy; < 0: unset */
    int n_extra;         /* further named figures (bench_set_extra), printed after the others */
    char extra_name[12][24];
    double extra[12];
} bench_result;

typedef struct bench_results {
    bench_result *v;
    int n, cap;
} bench_results;

/* Options shared by every subcommand. */
typedef struct bench_opts {
    int json;           /* --json: results as JSON on stdout, nothing else there */
    const char *device; /* --device SEL: selector as for clgrad_devices_select */
    const char *sizes;  /* --sizes LIST: comma separated; each subcommand reads it its way */
    int reps;           /* --reps N: timed repetitions (0: the subcommand's default) */
} bench_opts;

/* A subcommand: runs its measurements on ctx and appends to r. Returns 0 on success;
 * non-zero stops the program with status 1 (after printing what was measured). */
typedef int (*bench_fn)(clgrad_context *ctx, const bench_opts *o, bench_results *r);

/* Appends a result (exits on out of memory). */
void bench_add(bench_results *r, const char *op, const char *shape, const char *provider, double gflops, double ms);
/* Adds bandwidth figures to the last result (printed as "gbs" and "vs_copy"). */
void bench_set_bandwidth(bench_results *r, double gbs, double vs_copy);
/* Adds a named figure to the last result ("comm_ms": 1.5), printed as a JSON field (up to 12). */
void bench_set_extra(bench_results *r, const char *name, double value);
/* The JSON document for all results. */
void bench_print_json(FILE *f, const bench_results *r);

/* Monotonic seconds. */
double bench_now(void);
/* Sleeps so that other libraries' spinning worker threads (OpenBLAS keeps spinning after a
 * call) and the previous phase's load are gone before the next timed phase. */
void bench_settle(void);

/* Best time in seconds of reps calls of fn(arg), each followed by
 * clgrad_context_finish(ctx) when ctx is not NULL, after one warm-up call (compiles,
 * allocates). bench_settle() runs first. < 0 when a call fails. */
double bench_best(clgrad_context *ctx, int (*fn)(void *), void *arg, int reps);

/* Human-readable messages go to stderr in --json mode, stdout otherwise. */
FILE *bench_out(const bench_opts *o);

int bench_matmul(clgrad_context *ctx, const bench_opts *o, bench_results *r);
int bench_conv(clgrad_context *ctx, const bench_opts *o, bench_results *r);
int bench_elementwise(clgrad_context *ctx, const bench_opts *o, bench_results *r);
int bench_tuned(clgrad_context *ctx, const bench_opts *o, bench_results *r);
int bench_dist(clgrad_context *ctx, const bench_opts *o, bench_results *r);

#endif
