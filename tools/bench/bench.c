/* clgrad-bench driver: argument parsing, the subcommand table, timing helpers and the
 * results printer shared by every op. */
#include "bench.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct {
    const char *name;
    bench_fn fn;
    const char *help;
} commands[] = {
    {"conv", bench_conv, "conv2d layers of typical CNNs at batch 64, forward and forward+backward"},
    {"dist", bench_dist, "data-parallel CNN steps: 1 rank vs 2 (threads, or mpirun), bucket timings (--sizes BATCH)"},
    {"elementwise", bench_elementwise, "add / relu / softmax bandwidth as a fraction of a device copy"},
    {"matmul", bench_matmul, "SGEMM: our kernels vs CLBlast vs OpenBLAS (--sizes 256,512,MxNxK,...)"},
    {"tuned", bench_tuned, "tuned kernel parameters vs the built-in tables: GEMM and the CNN's convolutions"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

void bench_add(bench_results *r, const char *op, const char *shape, const char *provider, double gflops, double ms)
{
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 16;
        bench_result *v = realloc(r->v, sizeof *v * (size_t)cap);
        if (!v) {
            fprintf(stderr, "clgrad-bench: out of memory\n");
            exit(1);
        }
        r->v = v;
        r->cap = cap;
    }
    bench_result *x = &r->v[r->n++];
    snprintf(x->op, sizeof x->op, "%s", op);
    snprintf(x->shape, sizeof x->shape, "%s", shape);
    snprintf(x->provider, sizeof x->provider, "%s", provider);
    x->gflops = gflops;
    x->ms = ms;
    x->gbs = -1;
    x->vs_copy = -1;
    x->n_extra = 0;
}

void bench_set_extra(bench_results *r, const char *name, double value)
{
    if (r->n == 0) return;
    bench_result *x = &r->v[r->n - 1];
    if (x->n_extra == (int)(sizeof x->extra / sizeof x->extra[0])) return;
    snprintf(x->extra_name[x->n_extra], sizeof x->extra_name[0], "%s", name);
    x->extra[x->n_extra++] = value;
}

void bench_set_bandwidth(bench_results *r, double gbs, double vs_copy)
{
    if (r->n == 0) return;
    r->v[r->n - 1].gbs = gbs;
    r->v[r->n - 1].vs_copy = vs_copy;
}

/* Names here are ours (ops, shapes, providers): no character needs escaping except these. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s >= 0x20) fputc(*s, f);
    }
    fputc('"', f);
}

void bench_print_json(FILE *f, const bench_results *r)
{
    fputs("{\"results\":[", f);
    for (int i = 0; i < r->n; i++) {
        const bench_result *x = &r->v[i];
        fputs(i ? ",{\"op\":" : "{\"op\":", f);
        json_str(f, x->op);
        fputs(",\"shape\":", f);
        json_str(f, x->shape);
        fputs(",\"provider\":", f);
        json_str(f, x->provider);
        if (x->gflops >= 0) fprintf(f, ",\"gflops\":%.3f", x->gflops);
        else fputs(",\"gflops\":null", f);
        fprintf(f, ",\"ms\":%.4f", x->ms);
        if (x->gbs >= 0) fprintf(f, ",\"gbs\":%.3f,\"vs_copy\":%.3f", x->gbs, x->vs_copy);
        for (int k = 0; k < x->n_extra; k++) {
            fputc(',', f);
            json_str(f, x->extra_name[k]);
            fprintf(f, ":%.6g", x->extra[k]);
        }
        fputc('}', f);
    }
    fputs("]}\n", f);
}

double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void bench_settle(void)
{
    struct timespec ts = {0, 300L * 1000 * 1000};
    nanosleep(&ts, NULL);
}

double bench_best(clgrad_context *ctx, int (*fn)(void *), void *arg, int reps)
{
    bench_settle();
    if (fn(arg) != 0 || (ctx && clgrad_context_finish(ctx) != CLGRAD_OK)) return -1.0;
    double best = -1.0;
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now();
        if (fn(arg) != 0 || (ctx && clgrad_context_finish(ctx) != CLGRAD_OK)) return -1.0;
        double t = bench_now() - t0;
        if (best < 0 || t < best) best = t;
    }
    return best;
}

FILE *bench_out(const bench_opts *o) { return o->json ? stderr : stdout; }

static void usage(FILE *f)
{
    fprintf(f, "usage: clgrad-bench COMMAND [--json] [--device SEL] [--sizes LIST] [--reps N]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n  --json        results as JSON on stdout\n"
               "  --device SEL  gpu, cpu, p:d or a name substring (default: $CLGRAD_DEVICE, else the best)\n"
               "  --sizes LIST  comma separated sizes for the command\n"
               "  --reps N      timed repetitions per measurement (best is kept)\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    size_t ci = 0;
    while (ci < N_COMMANDS && strcmp(commands[ci].name, argv[1]) != 0) ci++;
    if (ci == N_COMMANDS) {
        fprintf(stderr, "clgrad-bench: unknown command \"%s\"\n", argv[1]);
        usage(stderr);
        return 2;
    }
    bench_opts o = {0};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) o.json = 1;
        else if (!strcmp(a, "--device") && i + 1 < argc) o.device = argv[++i];
        else if (!strcmp(a, "--sizes") && i + 1 < argc) o.sizes = argv[++i];
        else if (!strcmp(a, "--reps") && i + 1 < argc) o.reps = atoi(argv[++i]);
        else if (!strncmp(a, "--device=", 9)) o.device = a + 9;
        else if (!strncmp(a, "--sizes=", 8)) o.sizes = a + 8;
        else if (!strncmp(a, "--reps=", 7)) o.reps = atoi(a + 7);
        else {
            fprintf(stderr, "clgrad-bench: unknown or incomplete option \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }
    clgrad_context_desc d = {.device = o.device};
    clgrad_context *ctx = NULL;
    clgrad_status s = clgrad_context_create(&d, &ctx);
    if (s != CLGRAD_OK) {
        fprintf(stderr, "clgrad-bench: %s: %s\n", clgrad_status_name(s), clgrad_last_error(NULL));
        return 1;
    }
    const clgrad_device_info *info = clgrad_context_device(ctx);
    fprintf(bench_out(&o), "clgrad-bench %s on %s (%s, driver %s)\n", commands[ci].name, info->name,
            info->platform_name, info->driver_version);
    bench_results r = {0};
    int rc = commands[ci].fn(ctx, &o, &r);
    if (o.json) bench_print_json(stdout, &r);
    free(r.v);
    clgrad_context_release(ctx);
    return rc ? 1 : 0;
}
