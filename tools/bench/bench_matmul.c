/* clgrad-bench matmul: C = A B (alpha 1, beta 0, contiguous f32) through clgrad_gemm with
 * each GEMM provider the library offers ("own", "clblast"), and through OpenBLAS's
 * cblas_sgemm on 2 threads when the tool was built with it, all in the same run. Each
 * figure is the best of several calls after a warm-up call; our result is checked
 * against OpenBLAS's (or CLBlast's) at every size. */
#include "bench.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if CLGRAD_BENCH_OPENBLAS
#include <cblas.h>
#endif

typedef struct shape {
    int64_t m, n, k;
} shape;

static const shape default_shapes[] = {{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048}};

/* "256,512,64x3136x576": a square size or MxNxK per item. Returns the count, -1 if bad. */
static int parse_sizes(const char *list, shape *out, int cap)
{
    int n = 0;
    const char *p = list;
    while (*p && n < cap) {
        char *end;
        long long v[3] = {0, 0, 0};
        int dims = 0;
        for (;;) {
            v[dims++] = strtoll(p, &end, 10);
            if (end == p || v[dims - 1] <= 0) return -1;
            p = end;
            if (*p != 'x' || dims == 3) break;
            p++;
        }
        if (dims == 2) return -1;
        out[n++] = dims == 1 ? (shape){v[0], v[0], v[0]} : (shape){v[0], v[1], v[2]};
        if (*p == ',') p++;
        else if (*p) return -1;
    }
    return *p ? -1 : n;
}

typedef struct run_arg {
    clgrad_tensor *a, *b, *c;
    const float *ha, *hb;
    float *hc;
    shape s;
} run_arg;

static int run_clgrad(void *p)
{
    run_arg *r = p;
    return clgrad_gemm(0, 0, 1.0f, r->a, r->b, 0.0f, r->c) != CLGRAD_OK;
}

#if CLGRAD_BENCH_OPENBLAS
static int run_openblas(void *p)
{
    run_arg *r = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r->s.m, (int)r->s.n, (int)r->s.k, 1.0f, r->ha,
                (int)r->s.k, r->hb, (int)r->s.n, 0.0f, r->hc, (int)r->s.n);
    return 0;
}
#endif

static double nmse(const float *got, const float *want, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    return den > 0 ? num / den : num;
}

static void fill(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = (float)((double)(s >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
    }
}

enum { P_OWN, P_CLBLAST, P_OPENBLAS, N_PROV };
static const char *prov_names[N_PROV] = {"own", "clblast", "openblas"};

/* Measures one shape with every provider; gflops[p] < 0 when p is unavailable or failed. */
static int bench_shape(clgrad_context *ctx, const bench_opts *o, shape s, double gflops[N_PROV], double ms[N_PROV])
{
    FILE *out = bench_out(o);
    size_t na = (size_t)(s.m * s.k), nb = (size_t)(s.k * s.n), nc = (size_t)(s.m * s.n);
    float *ha = malloc(na * sizeof(float)), *hb = malloc(nb * sizeof(float)), *hc = malloc(nc * sizeof(float));
    float *ours = malloc(nc * sizeof(float)), *other = malloc(nc * sizeof(float));
    run_arg r = {.ha = ha, .hb = hb, .hc = hc, .s = s};
    int rc = 0, have_ours = 0, have_other = 0;
    for (int p = 0; p < N_PROV; p++) gflops[p] = ms[p] = -1;
    if (!ha || !hb || !hc || !ours || !other) {
        fprintf(stderr, "clgrad-bench: out of host memory for %lldx%lldx%lld\n", (long long)s.m, (long long)s.n,
                (long long)s.k);
        rc = 1;
        goto done;
    }
    fill(ha, na, 1);
    fill(hb, nb, 2);
    int64_t sa[2] = {s.m, s.k}, sb[2] = {s.k, s.n}, sc[2] = {s.m, s.n};
    clgrad_status st = clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_F32, 2, sa, ha, &r.a);
    if (st == CLGRAD_OK) st = clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_F32, 2, sb, hb, &r.b);
    if (st == CLGRAD_OK) st = clgrad_tensor_zeros(ctx, CLGRAD_DTYPE_F32, 2, sc, &r.c);
    if (st != CLGRAD_OK) {
        fprintf(stderr, "clgrad-bench: %s: %s\n", clgrad_status_name(st), clgrad_last_error(ctx));
        rc = 1;
        goto done;
    }
    const double flop = 2.0 * (double)s.m * (double)s.n * (double)s.k;
    const int reps = o->reps > 0 ? o->reps : flop < 1e9 ? 20 : 8;
    for (int p = 0; p < N_PROV; p++) {
        double t = -1;
        if (p == P_OPENBLAS) {
#if CLGRAD_BENCH_OPENBLAS
            t = bench_best(NULL, run_openblas, &r, reps);
            memcpy(other, hc, nc * sizeof(float));
            have_other = 1;
#endif
        } else {
            if (clgrad_context_set_gemm_provider(ctx, prov_names[p]) != CLGRAD_OK) continue;
            /* CLBlast is an order of magnitude slower on CPUs: fewer repetitions */
            t = bench_best(ctx, run_clgrad, &r, p == P_CLBLAST && flop >= 1e9 && reps > 3 ? 3 : reps);
            if (t < 0) {
                fprintf(stderr, "clgrad-bench: %s failed: %s\n", prov_names[p], clgrad_last_error(ctx));
                rc = 1;
                continue;
            }
            float *dst = p == P_OWN ? ours : other;
            if ((p == P_OWN || !have_other) &&
                clgrad_tensor_read(r.c, dst, nc * sizeof(float)) == CLGRAD_OK) {
                if (p == P_OWN) have_ours = 1;
                else have_other = 1;
            }
        }
        if (t > 0) {
            gflops[p] = flop / t * 1e-9;
            ms[p] = t * 1e3;
        }
    }
    clgrad_context_set_gemm_provider(ctx, "auto");
    if (have_ours && have_other) {
        double e = nmse(ours, other, nc);
        if (!(e < 1e-10)) {
            fprintf(out, "  RESULT MISMATCH at %lldx%lldx%lld: NMSE %.3g against %s\n", (long long)s.m,
                    (long long)s.n, (long long)s.k, e, gflops[P_OPENBLAS] >= 0 ? "OpenBLAS" : "CLBlast");
            rc = 1;
        }
    }
done:
    clgrad_tensor_release(r.a);
    clgrad_tensor_release(r.b);
    clgrad_tensor_release(r.c);
    free(ha);
    free(hb);
    free(hc);
    free(ours);
    free(other);
    return rc;
}

static void cell(FILE *f, double g, double ms)
{
    if (g < 0) fprintf(f, " %21s", "-");
    else fprintf(f, " %10.1f (%7.2f ms)", g, ms);
}

static void ratio(FILE *f, double a, double b)
{
    if (a < 0 || b <= 0) fprintf(f, " %12s", "-");
    else fprintf(f, " %12.2f", a / b);
}

int bench_matmul(clgrad_context *ctx, const bench_opts *o, bench_results *r)
{
    shape list[64];
    int n = (int)(sizeof default_shapes / sizeof default_shapes[0]);
    memcpy(list, default_shapes, sizeof default_shapes);
    if (o->sizes && (n = parse_sizes(o->sizes, list, 64)) <= 0) {
        fprintf(stderr, "clgrad-bench matmul: --sizes wants N or MxNxK items separated by commas, got \"%s\"\n",
                o->sizes);
        return 1;
    }
#if CLGRAD_BENCH_OPENBLAS
    openblas_set_num_threads(2);
#endif
    FILE *out = bench_out(o);
    fprintf(out, "GFLOP/s (best time), C = A B, f32, alpha 1, beta 0%s\n",
#if CLGRAD_BENCH_OPENBLAS
            ", OpenBLAS on 2 threads"
#else
            " (built without OpenBLAS)"
#endif
    );
    fprintf(out, "%-18s %21s %21s %21s %12s %12s\n", "MxNxK", "own", "clblast", "openblas", "own/openblas",
            "own/clblast");
    int rc = 0;
    for (int i = 0; i < n; i++) {
        double g[N_PROV], ms[N_PROV];
        rc |= bench_shape(ctx, o, list[i], g, ms);
        char name[64];
        snprintf(name, sizeof name, "%lldx%lldx%lld", (long long)list[i].m, (long long)list[i].n,
                 (long long)list[i].k);
        for (int p = 0; p < N_PROV; p++)
            if (g[p] >= 0) bench_add(r, "matmul", name, prov_names[p], g[p], ms[p]);
        fprintf(out, "%-18s", name);
        for (int p = 0; p < N_PROV; p++) cell(out, g[p], ms[p]);
        ratio(out, g[P_OWN], g[P_OPENBLAS]);
        ratio(out, g[P_OWN], g[P_CLBLAST]);
        fputc('\n', out);
        fflush(out);
    }
    return rc;
}
