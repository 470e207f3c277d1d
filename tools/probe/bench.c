/* clgrad-probe measurements: copy bandwidth, launch latency, SGEMM speed. Public API only;
 * every figure is the best of a few repetitions, each ended by a host read (the only
 * synchronisation point the API has besides clgrad_context_finish). */
#include "probe.h"

#include <math.h>
#include <string.h>

static double best_of(clgrad_context *ctx, int reps, int inner, clgrad_status (*fn)(void *), void *arg)
{
    double best = INFINITY;
    if (fn(arg) != CLGRAD_OK || clgrad_context_finish(ctx) != CLGRAD_OK) return -1; /* warm-up */
    for (int r = 0; r < reps; r++) {
        double t0 = probe_now();
        for (int i = 0; i < inner; i++)
            if (fn(arg) != CLGRAD_OK) return -1;
        if (clgrad_context_finish(ctx) != CLGRAD_OK) return -1;
        double t = (probe_now() - t0) / inner;
        if (t < best) best = t;
    }
    return best;
}

typedef struct copy_arg {
    clgrad_tensor *dst, *src;
} copy_arg;
static clgrad_status do_copy(void *p)
{
    copy_arg *a = p;
    return clgrad_copy_(a->dst, a->src);
}

static clgrad_status do_fill(void *p) { return clgrad_fill_((clgrad_tensor *)p, 1.0f); }

typedef struct gemm_arg {
    clgrad_tensor *a, *b, *c;
} gemm_arg;
static clgrad_status do_gemm(void *p)
{
    gemm_arg *g = p;
    return clgrad_gemm(0, 0, 1.0f, g->a, g->b, 0.0f, g->c);
}

void probe_bench_run(clgrad_context *ctx, probe_bench *b)
{
    memset(b, 0, sizeof *b);
    b->sgemm_own = b->sgemm_clblast = -1;

    /* bandwidth: 64 MiB copies (read + write counted) */
    int64_t n = 16 << 20;
    copy_arg ca = {0};
    if (clgrad_tensor_zeros(ctx, CLGRAD_DTYPE_F32, 1, &n, &ca.src) == CLGRAD_OK &&
        clgrad_tensor_zeros(ctx, CLGRAD_DTYPE_F32, 1, &n, &ca.dst) == CLGRAD_OK) {
        double t = best_of(ctx, 5, 4, do_copy, &ca);
        if (t > 0) b->bandwidth_gbs = 2.0 * 4.0 * (double)n / t / 1e9;
    }
    clgrad_tensor_release(ca.src);
    clgrad_tensor_release(ca.dst);

    /* launch latency: tiny fills, queued and one at a time */
    int64_t one = 64;
    clgrad_tensor *t = NULL;
    if (clgrad_tensor_zeros(ctx, CLGRAD_DTYPE_F32, 1, &one, &t) == CLGRAD_OK) {
        double q = best_of(ctx, 5, 200, do_fill, t);
        if (q > 0) b->launch_us = q * 1e6;
        double s = best_of(ctx, 20, 1, do_fill, t);
        if (s > 0) b->launch_sync_us = s * 1e6;
    }
    clgrad_tensor_release(t);

    /* SGEMM 1024^3 with each provider */
    int64_t sq[2] = {1024, 1024};
    gemm_arg g = {0};
    if (clgrad_tensor_uniform(ctx, 2, sq, 1, -1, 1, &g.a) == CLGRAD_OK &&
        clgrad_tensor_uniform(ctx, 2, sq, 2, -1, 1, &g.b) == CLGRAD_OK &&
        clgrad_tensor_zeros(ctx, CLGRAD_DTYPE_F32, 2, sq, &g.c) == CLGRAD_OK) {
        const char *prov[2] = {"own", "clblast"};
        double *dst[2] = {&b->sgemm_own, &b->sgemm_clblast};
        for (int i = 0; i < 2; i++) {
            if (clgrad_context_set_gemm_provider(ctx, prov[i]) != CLGRAD_OK) continue;
            double tt = best_of(ctx, 3, 2, do_gemm, &g);
            if (tt > 0) *dst[i] = 2.0 * 1024.0 * 1024.0 * 1024.0 / tt / 1e9;
        }
        clgrad_context_set_gemm_provider(ctx, "auto");
    }
    clgrad_tensor_release(g.a);
    clgrad_tensor_release(g.b);
    clgrad_tensor_release(g.c);
}
