/* clgrad-probe internals shared by its source files. Uses the public API only. */
#ifndef CLGRAD_PROBE_H
#define CLGRAD_PROBE_H

#include "clgrad.h"

#include <cjson/cJSON.h>

/* One failed check: which kernel family/op, and how far off it was. */
typedef struct probe_failure {
    char what[128];
    char detail[512];
} probe_failure;

typedef struct probe_selftest {
    int passed, failed;
    probe_failure failures[64];
} probe_selftest;

/* Runs every check on ctx; never stops at the first failure. */
void probe_selftest_run(clgrad_context *ctx, probe_selftest *r);

typedef struct probe_bench {
    double bandwidth_gbs;  /* device copy bandwidth (read + write) */
    double launch_us;      /* per queued launch */
    double launch_sync_us; /* one launch + wait */
    double sgemm_own, sgemm_clblast; /* GFLOP/s at 1024^3; < 0 when unavailable */
} probe_bench;

void probe_bench_run(clgrad_context *ctx, probe_bench *b);

double probe_now(void);

#endif
