/* The choice between the GEMM providers: our own kernels (gemm.c) and CLBlast when the build
 * has it (CLGRAD_GEMM=auto|own|clblast, per-context overrides), and the one-time
 * measurement behind "auto", whose verdict is kept in the cache folder. */
#include "ops/gemm_impl.h"

#include "clgrad_config.h"
#include "core/file.h"
#include "memory/memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAMILY CLGRAD__GEMM_FAMILY

int clgrad__gemm_have_clblast(void) { return CLGRAD_HAVE_CLBLAST; }

static int clblast_usable(const clgrad_context *ctx)
{
    return CLGRAD_HAVE_CLBLAST && !(ctx->flags & CLGRAD_CONTEXT_NO_CLBLAST);
}

clgrad_status clgrad__gemm_set_provider(clgrad_context *ctx, clgrad__gemm_provider p)
{
    CLGRAD__GEMM_STATE_OR_FAIL(ctx, s);
    if (p == CLGRAD__GEMM_CLBLAST && !clblast_usable(ctx))
        return clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED, "CLBlast is not available in this build or context");
    s->forced = p;
    return CLGRAD_OK;
}

clgrad__gemm_provider clgrad__gemm_forced_provider(clgrad_context *ctx)
{
    clgrad__gemm_state *s = clgrad__gemm_state_of(ctx);
    return s ? s->forced : CLGRAD__GEMM_AUTO;
}

/* --- provider choice ---------------------------------------------------------------------- */

static const char *provider_name(clgrad__gemm_provider p) { return p == CLGRAD__GEMM_CLBLAST ? "clblast" : "own"; }

typedef clgrad_status (*gemm_fn)(clgrad_context *, const clgrad__gemm_args *);

/* Best of a few timed runs after a warm-up run (which compiles); < 0 when the provider fails. */
static double time_gemm(clgrad_context *ctx, gemm_fn fn, const clgrad__gemm_args *g, int reps)
{
    if (fn(ctx, g) != CLGRAD_OK || clFinish(ctx->dev.queue) != CL_SUCCESS) return -1.0;
    double best = -1.0;
    for (int r = 0; r < reps; r++) {
        double t0 = clgrad__now();
        if (fn(ctx, g) != CLGRAD_OK || clFinish(ctx->dev.queue) != CL_SUCCESS) return -1.0;
        double t = clgrad__now() - t0;
        if (best < 0 || t < best) best = t;
    }
    return best;
}

/* Times both providers on a square product and a skinny convolution-like one (64 output
 * channels, 56 x 56 pixels, 3 x 3 x 64 inputs). Every call waits: this runs once per
 * device (the verdict is cached) or, without a cache folder, once per context. */
static clgrad__gemm_provider measure(clgrad_context *ctx, double *t_own, double *t_clb)
{
    static const int64_t shapes[2][3] = {{512, 512, 512}, {64, 3136, 576}};
    size_t na = 0, nb = 0, nc = 0;
    for (int i = 0; i < 2; i++) {
        size_t m = (size_t)shapes[i][0], n = (size_t)shapes[i][1], k = (size_t)shapes[i][2];
        if (m * k > na) na = m * k;
        if (k * n > nb) nb = k * n;
        if (m * n > nc) nc = m * n;
    }
    clgrad__buffer *a = NULL, *b = NULL, *c = NULL;
    const cl_float zero = 0.0f;
    *t_own = *t_clb = 0.0;
    int ok = clgrad__buffer_alloc(ctx, na * sizeof(float), &a) == CLGRAD_OK &&
             clgrad__buffer_alloc(ctx, nb * sizeof(float), &b) == CLGRAD_OK &&
             clgrad__buffer_alloc(ctx, nc * sizeof(float), &c) == CLGRAD_OK &&
             clEnqueueFillBuffer(ctx->dev.queue, a->mem, &zero, sizeof zero, 0, na * sizeof(float), 0, NULL, NULL) == CL_SUCCESS &&
             clEnqueueFillBuffer(ctx->dev.queue, b->mem, &zero, sizeof zero, 0, nb * sizeof(float), 0, NULL, NULL) == CL_SUCCESS;
    for (int i = 0; ok && i < 2; i++) {
        clgrad__gemm_args g = {.m = shapes[i][0], .n = shapes[i][1], .k = shapes[i][2], .batch = 1,
                               .alpha = 1.0f, .beta = 0.0f, .a = a->mem, .b = b->mem, .c = c->mem,
                               .lda = shapes[i][2], .ldb = shapes[i][1], .ldc = shapes[i][1]};
        double to = time_gemm(ctx, clgrad__gemm_own, &g, 3), tc = time_gemm(ctx, clgrad__gemm_clblast, &g, 3);
        ok = to > 0 && tc > 0;
        *t_own += to;
        *t_clb += tc;
    }
    if (a) clgrad__buffer_release(a);
    if (b) clgrad__buffer_release(b);
    if (c) clgrad__buffer_release(c);
    /* CLBlast wins only when everything ran and it was faster; a failure means our kernels
     * (whose own errors then surface on the real call) */
    return ok && *t_clb < *t_own ? CLGRAD__GEMM_CLBLAST : CLGRAD__GEMM_OWN;
}

/* <cache_dir>/gemm-<key>.txt, keyed by device, driver, library version, our kernel source
 * and its build options; NULL without a cache folder. */
static char *verdict_path(clgrad_context *ctx, clgrad__gemm_state *s)
{
    const char *dir = clgrad__cache_dir(ctx);
    if (!dir) return NULL;
    char *src = NULL, key[33], what[320];
    size_t len = 0;
    if (clgrad__source_get(ctx, FAMILY, &src, &len) != CLGRAD_OK) return NULL;
    snprintf(what, sizeof what, "gemm provider verdict 1; clgrad %s; clblast %d; %s", clgrad_version_string(),
             CLGRAD_HAVE_CLBLAST, s->opts);
    clgrad__cache_key(ctx, src, len, what, key);
    free(src);
    size_t n = strlen(dir) + 48;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/gemm-%s.txt", dir, key);
    return p;
}

/* The verdict file: "clgrad-gemm-provider 1" then "provider own|clblast", then
 * informational lines. Anything else is ignored (and measured again). */
static clgrad__gemm_provider verdict_load(const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (clgrad__file_read(path, 4096, CLGRAD__FILE_QUIET | CLGRAD__FILE_NOFOLLOW | CLGRAD__FILE_OWNED, &buf, &len) !=
        CLGRAD_OK)
        return CLGRAD__GEMM_AUTO;
    char name[32];
    const char *head = "clgrad-gemm-provider 1\n";
    clgrad__gemm_provider p = CLGRAD__GEMM_AUTO;
    /* the reader NUL-terminates what it returns */
    if (len > strlen(head) && memcmp(buf, head, strlen(head)) == 0 &&
        sscanf((const char *)buf + strlen(head), "provider %31s", name) == 1)
        p = !strcmp(name, "own") ? CLGRAD__GEMM_OWN : !strcmp(name, "clblast") ? CLGRAD__GEMM_CLBLAST : CLGRAD__GEMM_AUTO;
    free(buf);
    return p;
}

static void verdict_store(const clgrad_context *ctx, const char *path, clgrad__gemm_provider p, double t_own,
                          double t_clb)
{
    char text[640]; /* the two names are below 128 bytes each */
    int n = snprintf(text, sizeof text,
                     "clgrad-gemm-provider 1\nprovider %s\ndevice %s\ndriver %s\nseconds own %.6f clblast %.6f\n",
                     provider_name(p), ctx->dev.info.name, ctx->dev.info.driver_version, t_own, t_clb);
    /* best effort: without the file the next run measures again */
    if (n > 0 && (size_t)n < sizeof text) clgrad__file_write_atomic(path, CLGRAD__FILE_QUIET, text, (size_t)n);
}

static clgrad_status auto_choice(clgrad_context *ctx, clgrad__gemm_state *s)
{
    CLGRAD_TRY(clgrad__gemm_resolve(ctx, s)); /* the verdict is keyed by our build options */
    if (s->chosen != CLGRAD__GEMM_AUTO && s->chosen_generation == s->generation) return CLGRAD_OK;
    char *path = verdict_path(ctx, s);
    clgrad__gemm_provider p = path ? verdict_load(path) : CLGRAD__GEMM_AUTO;
    if (p == CLGRAD__GEMM_AUTO) {
        double t_own, t_clb;
        p = measure(ctx, &t_own, &t_clb);
        if (path) verdict_store(ctx, path, p, t_own, t_clb);
    }
    free(path);
    s->chosen = p;
    s->chosen_generation = s->generation;
    return CLGRAD_OK;
}

static clgrad__gemm_provider env_provider(void)
{
    const char *v = clgrad__getenv("CLGRAD_GEMM");
    if (!v) return CLGRAD__GEMM_AUTO;
    if (strcmp(v, "own") == 0) return CLGRAD__GEMM_OWN;
    if (strcmp(v, "clblast") == 0) return CLGRAD__GEMM_CLBLAST;
    return CLGRAD__GEMM_AUTO;
}

/* The provider a GEMM on ctx uses now (measuring once for "auto"). */
static clgrad_status current_provider(clgrad_context *ctx, clgrad__gemm_provider *out)
{
    CLGRAD__GEMM_STATE_OR_FAIL(ctx, s);
    clgrad__gemm_provider p = CLGRAD__GEMM_OWN;
    if (clblast_usable(ctx)) {
        p = s->forced != CLGRAD__GEMM_AUTO ? s->forced : env_provider();
        if (p == CLGRAD__GEMM_AUTO) {
            CLGRAD_TRY(auto_choice(ctx, s));
            p = s->chosen;
        }
    }
    *out = p;
    return CLGRAD_OK;
}

clgrad_status clgrad__gemm(clgrad_context *ctx, const clgrad__gemm_args *g)
{
    if (g->m <= 0 || g->n <= 0 || g->batch <= 0) return CLGRAD_OK;
    clgrad__gemm_provider p = CLGRAD__GEMM_OWN;
    CLGRAD_TRY(current_provider(ctx, &p));
    return p == CLGRAD__GEMM_CLBLAST ? clgrad__gemm_clblast(ctx, g) : clgrad__gemm_own(ctx, g);
}

/* --- public: provider per context --------------------------------------------------------- */

clgrad_status clgrad_context_set_gemm_provider(clgrad_context *ctx, const char *provider)
{
    if (!ctx) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_context_set_gemm_provider: ctx is NULL");
    if (!provider || !strcmp(provider, "auto")) return clgrad__gemm_set_provider(ctx, CLGRAD__GEMM_AUTO);
    if (!strcmp(provider, "own")) return clgrad__gemm_set_provider(ctx, CLGRAD__GEMM_OWN);
    if (!strcmp(provider, "clblast")) return clgrad__gemm_set_provider(ctx, CLGRAD__GEMM_CLBLAST);
    return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                        "clgrad_context_set_gemm_provider: unknown provider \"%s\" (own, clblast or auto)", provider);
}

const char *clgrad_context_gemm_provider(clgrad_context *ctx)
{
    clgrad__gemm_provider p = CLGRAD__GEMM_OWN;
    if (!ctx || current_provider(ctx, &p) != CLGRAD_OK) return NULL;
    return provider_name(p);
}

/* --- the CPU variant's plan, for the fused epilogues ------------------------------------- */

clgrad_status clgrad__gemm_cpu_plan(clgrad_context *ctx, int *cpu, clgrad__gemm_cpu_params *p, const char **opts)
{
    clgrad__gemm_provider pr = CLGRAD__GEMM_OWN;
    *cpu = 0;
    CLGRAD_TRY(current_provider(ctx, &pr));
    CLGRAD__GEMM_STATE_OR_FAIL(ctx, s);
    CLGRAD_TRY(clgrad__gemm_resolve(ctx, s));
    if (pr != CLGRAD__GEMM_OWN || s->tiled) return CLGRAD_OK;
    *cpu = 1;
    if (p) *p = s->cpu;
    if (opts) *opts = s->opts;
    return CLGRAD_OK;
}
