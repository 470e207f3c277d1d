/* clgrad-bench tuned: the device's tuned kernel parameters (clgrad-probe --tune) against
 * the built-in tables, in the same run: a second context on the same device is created
 * with CLGRAD_CONTEXT_NO_TUNED, and every measurement alternates between the two, best of
 * several runs each. GEMM (our kernels) at square sizes 256 to 2048 and the reference
 * CNN's shapes (an im2col product 64x3136x576, its second convolution's forward product
 * and its 3136 -> 128 linear layer with both gradients), then the CNN's two convolution
 * layers at batch 64, forward and backward. --sizes replaces the GEMM shapes. */
#include "bench.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gshape {
    const char *name;
    int ta, tb;
    int64_t m, n, k;
} gshape;

static const gshape default_gemm[] = {
    {"256^3", 0, 0, 256, 256, 256},
    {"512^3", 0, 0, 512, 512, 512},
    {"1024^3", 0, 0, 1024, 1024, 1024},
    {"2048^3", 0, 0, 2048, 2048, 2048},
    {"im2col 64x3136x576", 0, 0, 64, 3136, 576},
    {"conv2 64x12544x288", 0, 0, 64, 12544, 288},
    {"linear 64x128x3136 (B^T)", 0, 1, 64, 128, 3136},
    {"linear dW 128x3136x64 (A^T)", 1, 0, 128, 3136, 64},
    {"linear dX 64x3136x128", 0, 0, 64, 3136, 128},
};

typedef struct side {
    clgrad_context *ctx;
    clgrad_tensor *a, *b, *c;
    int ta, tb;
} side;

static int run_gemm(void *p)
{
    side *s = p;
    return clgrad_gemm(s->ta, s->tb, 1.0f, s->a, s->b, 0.0f, s->c) != CLGRAD_OK;
}

typedef struct conv_side {
    clgrad_context *ctx;
    clgrad_tensor *x, *w, *b, *gy;
    clgrad_conv2d_params p;
} conv_side;

static int run_conv(void *p)
{
    conv_side *s = p;
    clgrad_tensor *y = NULL;
    clgrad_status st = clgrad_conv2d(s->x, s->w, s->b, &s->p, &y);
    if (st == CLGRAD_OK) {
        clgrad_tensor_zero_grad(s->x), clgrad_tensor_zero_grad(s->w), clgrad_tensor_zero_grad(s->b);
        st = clgrad_backward_ex(y, s->gy, 0);
    }
    clgrad_tensor_release(y);
    return st != CLGRAD_OK;
}

/* Best of reps runs of each side, alternating (after a warm-up of each). */
static int alternate(clgrad_context *c0, int (*fn)(void *), void *a0, clgrad_context *c1, void *a1, int reps,
                     double t[2])
{
    t[0] = t[1] = -1;
    clgrad_context *cs[2] = {c0, c1};
    void *as[2] = {a0, a1};
    bench_settle();
    for (int i = 0; i < 2; i++)
        if (fn(as[i]) || clgrad_context_finish(cs[i]) != CLGRAD_OK) return 1;
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < 2; i++) {
            double t0 = bench_now();
            if (fn(as[i]) || clgrad_context_finish(cs[i]) != CLGRAD_OK) return 1;
            double dt = bench_now() - t0;
            if (t[i] < 0 || dt < t[i]) t[i] = dt;
        }
    return 0;
}

static int make(clgrad_context *ctx, int ndim, const int64_t *shape, uint64_t seed, clgrad_tensor **t)
{
    return clgrad_tensor_uniform(ctx, ndim, shape, seed, -1, 1, t) != CLGRAD_OK;
}

static void report(FILE *out, const bench_opts *o, bench_results *r, const char *op, const char *name, double flops,
                   const double t[2])
{
    bench_add(r, op, name, "default", flops / t[0] / 1e9, t[0] * 1e3);
    bench_add(r, op, name, "tuned", flops / t[1] / 1e9, t[1] * 1e3);
    if (!o->json)
        fprintf(out, "%-14s %-30s %10.3f %10.3f %8.2fx\n", op, name, t[0] * 1e3, t[1] * 1e3, t[0] / t[1]);
}

int bench_tuned(clgrad_context *ctx, const bench_opts *o, bench_results *r)
{
    FILE *out = bench_out(o);
    const clgrad_device_info *d = clgrad_context_device(ctx);
    char sel[32];
    snprintf(sel, sizeof sel, "%d:%d", d->platform_index, d->device_index);
    clgrad_context_desc dd = {.device = sel, .flags = CLGRAD_CONTEXT_NO_TUNED};
    clgrad_context *def = NULL;
    if (clgrad_context_create(&dd, &def) != CLGRAD_OK) {
        fprintf(stderr, "tuned: %s\n", clgrad_last_error(NULL));
        return 1;
    }
    const char *tuning = clgrad_context_tuning(ctx);
    fprintf(out, "kernel parameters of this device: %s\n", tuning && strstr(tuning, "\"used\"")
                                                                ? "tuned file in use"
                                                                : "no tuned file in use (both sides are the tables)");
    int reps = o->reps > 0 ? o->reps : 5, rc = 0;
    gshape custom[16];
    char names[16][32];
    const gshape *shapes = default_gemm;
    int n = (int)(sizeof default_gemm / sizeof default_gemm[0]);
    if (o->sizes) { /* "512,64x3136x576": square or MxNxK, no transposes */
        n = 0;
        for (const char *p = o->sizes; *p && n < 16;) {
            long long v[3] = {0, 0, 0};
            int k = sscanf(p, "%lldx%lldx%lld", &v[0], &v[1], &v[2]);
            if (k != 1 && k != 3) break;
            if (k == 1) v[1] = v[2] = v[0];
            snprintf(names[n], sizeof names[n], "%lldx%lldx%lld", v[0], v[1], v[2]);
            custom[n] = (gshape){names[n], 0, 0, v[0], v[1], v[2]};
            n++;
            p = strchr(p, ',');
            if (!p) break;
            p++;
        }
        shapes = custom;
    }
    if (!o->json) fprintf(out, "%-14s %-30s %10s %10s %9s\n", "op", "shape", "default ms", "tuned ms", "speedup");
    clgrad_context *cs[2] = {def, ctx};
    for (int i = 0; i < 2; i++) clgrad_context_set_gemm_provider(cs[i], "own");
    for (int i = 0; i < n && !rc; i++) {
        const gshape *s = &shapes[i];
        side sd[2] = {{0}, {0}};
        int64_t sa[2] = {s->ta ? s->k : s->m, s->ta ? s->m : s->k}, sb[2] = {s->tb ? s->n : s->k, s->tb ? s->k : s->n};
        int64_t sc[2] = {s->m, s->n};
        for (int k = 0; k < 2 && !rc; k++) {
            sd[k].ctx = cs[k], sd[k].ta = s->ta, sd[k].tb = s->tb;
            rc = make(cs[k], 2, sa, 1, &sd[k].a) || make(cs[k], 2, sb, 2, &sd[k].b) || make(cs[k], 2, sc, 3, &sd[k].c);
        }
        double t[2];
        if (!rc) rc = alternate(def, run_gemm, &sd[0], ctx, &sd[1], reps, t);
        if (!rc) report(out, o, r, "matmul", s->name, 2.0 * (double)s->m * (double)s->n * (double)s->k, t);
        for (int k = 0; k < 2; k++)
            clgrad_tensor_release(sd[k].a), clgrad_tensor_release(sd[k].b), clgrad_tensor_release(sd[k].c);
    }
    static const struct { const char *name; int cin, cout, hw, input_grad; } layers[] = {
        {"conv 1->32 3x3 28x28 b64", 1, 32, 28, 0}, {"conv 32->64 3x3 14x14 b64", 32, 64, 14, 1}};
    double total[2] = {0, 0};
    for (int i = 0; i < 2 && !rc; i++) {
        conv_side cv[2];
        memset(cv, 0, sizeof cv);
        int64_t sx[4] = {64, layers[i].cin, layers[i].hw, layers[i].hw}, sw[4] = {layers[i].cout, layers[i].cin, 3, 3};
        int64_t sb[1] = {layers[i].cout}, sy[4] = {64, layers[i].cout, layers[i].hw, layers[i].hw};
        for (int k = 0; k < 2 && !rc; k++) {
            cv[k].ctx = cs[k];
            cv[k].p = (clgrad_conv2d_params){.padding = {1, 1}};
            rc = make(cs[k], 4, sx, 4, &cv[k].x) || make(cs[k], 4, sw, 5, &cv[k].w) || make(cs[k], 1, sb, 6, &cv[k].b) ||
                 make(cs[k], 4, sy, 7, &cv[k].gy);
            if (!rc) {
                clgrad_tensor_set_requires_grad(cv[k].w, 1);
                clgrad_tensor_set_requires_grad(cv[k].b, 1);
                clgrad_tensor_set_requires_grad(cv[k].x, layers[i].input_grad);
            }
        }
        double t[2];
        if (!rc) rc = alternate(def, run_conv, &cv[0], ctx, &cv[1], reps, t);
        if (!rc) {
            double f = 2.0 * 64 * layers[i].cout * layers[i].hw * layers[i].hw * layers[i].cin * 9.0;
            report(out, o, r, "conv_fwd_bwd", layers[i].name, f * (layers[i].input_grad ? 3 : 2), t);
            total[0] += t[0], total[1] += t[1];
        }
        for (int k = 0; k < 2; k++) {
            clgrad_tensor_release(cv[k].x), clgrad_tensor_release(cv[k].w), clgrad_tensor_release(cv[k].b);
            clgrad_tensor_release(cv[k].gy);
        }
    }
    if (!rc && !o->json)
        fprintf(out, "%-14s %-30s %10.3f %10.3f %8.2fx\n", "conv_fwd_bwd", "both CNN layers", total[0] * 1e3,
                total[1] * 1e3, total[0] / total[1]);
    if (rc) fprintf(stderr, "tuned: %s\n", clgrad_last_error(NULL));
    clgrad_context_release(def);
    return rc;
}
