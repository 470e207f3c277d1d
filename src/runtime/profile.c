/* Profiling (include/clgrad/profile.h): per-kernel device times from OpenCL profiling
 * events, grouped by kernel, op family and phase, and host time by phase.
 *
 * Recording costs nothing when off: the launch helper (src/ops/launch.c) and the blocking
 * calls test ctx->prof, which is NULL unless a profile is being recorded. While recording,
 * each launch hands its event here; events are kept in launch order and resolved from the
 * oldest while they have completed (the queue is in order, so the first incomplete one ends
 * the scan) at every step mark, and all of them at the end. Kernel entries are found by
 * (kernel object, phase) through a small open-addressing index. */
#include "runtime/runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PENDING_MAX 16384 /* events kept before the oldest are waited for */

typedef struct pending {
    cl_event ev;
    int entry;
} pending;

struct clgrad__profile {
    int phase;
    double t_begin, t_phase, seconds;
    uint64_t steps;
    int device_times, event_errors;
    clgrad_profile_host host[CLGRAD_PROFILE_PHASES];
    clgrad_profile_kernel *k; /* entries */
    const void **key;         /* the kernel object of each entry (NULL: matched by name) */
    int n, cap;
    int *index, index_cap;    /* entry + 1 per slot, 0 empty; index_cap a power of two */
    pending *p;
    int np, pcap;
};

static void free_profile(struct clgrad__profile *pr)
{
    if (!pr) return;
    for (int i = 0; i < pr->np; i++) clReleaseEvent(pr->p[i].ev);
    free(pr->k);
    free(pr->key);
    free(pr->index);
    free(pr->p);
    free(pr);
}

void clgrad__prof_release(clgrad_context *ctx)
{
    if (!ctx) return;
    if (ctx->prof_kept != ctx->prof) free_profile(ctx->prof_kept);
    free_profile(ctx->prof);
    ctx->prof = ctx->prof_kept = NULL;
}

/* --- the record ----------------------------------------------------------------------------- */

static size_t slot_of(const void *key, int phase, const char *kernel, int mask)
{
    uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull ^ (uint64_t)phase * 0xBF58476D1CE4E5B9ull;
    if (!key)
        for (const char *c = kernel; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001B3ull;
    return (size_t)((h ^ (h >> 29)) & (uint64_t)mask);
}

static int rebuild_index(struct clgrad__profile *pr, int cap)
{
    int *ix = calloc((size_t)cap, sizeof *ix);
    if (!ix) return 0;
    for (int e = 0; e < pr->n; e++) {
        size_t s = slot_of(pr->key[e], (int)pr->k[e].phase, pr->k[e].name, cap - 1);
        while (ix[s]) s = (s + 1) & (size_t)(cap - 1);
        ix[s] = e + 1;
    }
    free(pr->index);
    pr->index = ix;
    pr->index_cap = cap;
    return 1;
}

/* The entry of (key, phase), created on first use; -1 when out of host memory. */
static int entry_of(struct clgrad__profile *pr, const char *family, const char *kernel, const void *key)
{
    int phase = pr->phase;
    if (pr->index_cap) {
        size_t s = slot_of(key, phase, kernel, pr->index_cap - 1);
        for (; pr->index[s]; s = (s + 1) & (size_t)(pr->index_cap - 1)) {
            int e = pr->index[s] - 1;
            if (pr->key[e] == key && (int)pr->k[e].phase == phase &&
                (key || (!strcmp(pr->k[e].name, kernel) && !strcmp(pr->k[e].family, family))))
                return e;
        }
    }
    if (pr->n == pr->cap) {
        int cap = pr->cap ? 2 * pr->cap : 64;
        clgrad_profile_kernel *k = realloc(pr->k, (size_t)cap * sizeof *k);
        if (!k) return -1;
        pr->k = k;
        const void **kk = realloc(pr->key, (size_t)cap * sizeof *kk);
        if (!kk) return -1;
        pr->key = kk;
        pr->cap = cap;
    }
    if (2 * (pr->n + 1) > pr->index_cap && !rebuild_index(pr, pr->index_cap ? 2 * pr->index_cap : 256)) return -1;
    int e = pr->n++;
    clgrad_profile_kernel *k = &pr->k[e];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", kernel);
    snprintf(k->family, sizeof k->family, "%s", family);
    k->phase = (clgrad_profile_phase)phase;
    pr->key[e] = key;
    size_t s = slot_of(key, phase, kernel, pr->index_cap - 1);
    while (pr->index[s]) s = (s + 1) & (size_t)(pr->index_cap - 1);
    pr->index[s] = e + 1;
    return e;
}

/* Adds the times of the completed events at the front of the list (all of them when wait)
 * and releases them. */
static void resolve(struct clgrad__profile *pr, int wait)
{
    int i = 0;
    for (; i < pr->np; i++) {
        cl_event ev = pr->p[i].ev;
        cl_int status = CL_COMPLETE;
        if (wait) {
            if (clWaitForEvents(1, &ev) != CL_SUCCESS) pr->event_errors++;
        } else if (clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL) != CL_SUCCESS) {
            status = CL_COMPLETE; /* unreadable: count it as done without a time */
        }
        if (status > CL_COMPLETE) break; /* in order: the later ones have not finished either */
        cl_ulong t0 = 0, t1 = 0;
        if (status == CL_COMPLETE &&
            clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL) == CL_SUCCESS &&
            clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL) == CL_SUCCESS && t1 >= t0) {
            pr->k[pr->p[i].entry].device_seconds += (double)(t1 - t0) * 1e-9;
            pr->device_times = 1;
        } else {
            pr->event_errors++;
        }
        clReleaseEvent(ev);
    }
    if (i > 0) memmove(pr->p, pr->p + i, (size_t)(pr->np - i) * sizeof *pr->p);
    pr->np -= i;
}

static void switch_phase(struct clgrad__profile *pr, int phase)
{
    double t = clgrad__now();
    pr->host[pr->phase].wall_seconds += t - pr->t_phase;
    pr->t_phase = t;
    pr->phase = phase;
}

void clgrad__prof_launch(clgrad_context *ctx, const char *family, const char *kernel, const void *key, cl_event ev,
                         double host_s)
{
    struct clgrad__profile *pr = ctx->prof;
    if (!pr) {
        if (ev) clReleaseEvent(ev);
        return;
    }
    clgrad_profile_host *h = &pr->host[pr->phase];
    h->launches++;
    h->launch_seconds += host_s;
    int e = entry_of(pr, family, kernel, key);
    if (e < 0) { /* out of host memory: this launch goes uncounted */
        if (ev) clReleaseEvent(ev);
        return;
    }
    pr->k[e].launches++;
    pr->k[e].host_seconds += host_s;
    if (!ev) return;
    if (pr->np == PENDING_MAX) resolve(pr, 0);
    if (pr->np == PENDING_MAX) {
        /* the device is far behind: wait for the older half (the profiler's time, not the
         * caller's) */
        double t = clgrad__now();
        if (clWaitForEvents(1, &pr->p[PENDING_MAX / 2 - 1].ev) != CL_SUCCESS) pr->event_errors++;
        resolve(pr, 0);
        pr->t_phase += clgrad__now() - t;
    }
    if (pr->np == pr->pcap) {
        int cap = pr->pcap ? 2 * pr->pcap : 1024;
        pending *p = realloc(pr->p, (size_t)cap * sizeof *p);
        if (!p) {
            clReleaseEvent(ev);
            return;
        }
        pr->p = p;
        pr->pcap = cap;
    }
    pr->p[pr->np++] = (pending){ev, e};
}

void clgrad__prof_wait(clgrad_context *ctx, double host_s, size_t bytes)
{
    struct clgrad__profile *pr = ctx->prof;
    if (!pr) return;
    clgrad_profile_host *h = &pr->host[pr->phase];
    h->waits++;
    h->wait_seconds += host_s;
    if (bytes) {
        h->transfers++;
        h->transfer_bytes += bytes;
    }
}

void clgrad__prof_transfer(clgrad_context *ctx, double host_s, size_t bytes)
{
    struct clgrad__profile *pr = ctx->prof;
    (void)host_s;
    if (!pr) return;
    pr->host[pr->phase].transfers++;
    pr->host[pr->phase].transfer_bytes += bytes;
}

/* --- the public calls ------------------------------------------------------------------------ */

clgrad_status clgrad_profile_begin(clgrad_context *ctx)
{
    if (!ctx) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_profile_begin: ctx is NULL");
    if (!(ctx->flags & CLGRAD_CONTEXT_PROFILING))
        return clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED,
                            "clgrad_profile_begin: the context was created without CLGRAD_CONTEXT_PROFILING, so its "
                            "queue gives no kernel times");
    struct clgrad__profile *pr = calloc(1, sizeof *pr);
    if (!pr) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad_profile_begin: out of host memory");
    /* what was enqueued before belongs to no profile */
    CLGRAD_CL(ctx, clFinish(ctx->dev.queue));
    clgrad__prof_release(ctx);
    pr->t_begin = pr->t_phase = clgrad__now();
    pr->phase = CLGRAD_PROFILE_OTHER;
    ctx->prof = ctx->prof_kept = pr;
    return CLGRAD_OK;
}

clgrad_status clgrad_profile_set_phase(clgrad_context *ctx, clgrad_profile_phase p)
{
    if (!ctx) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_profile_set_phase: ctx is NULL");
    if ((int)p < 0 || p >= CLGRAD_PROFILE_PHASES)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_profile_set_phase: unknown phase %d", (int)p);
    if (ctx->prof && ctx->prof->phase != (int)p) switch_phase(ctx->prof, (int)p);
    return CLGRAD_OK;
}

clgrad_profile_phase clgrad_profile_get_phase(const clgrad_context *ctx)
{
    return ctx && ctx->prof ? (clgrad_profile_phase)ctx->prof->phase : CLGRAD_PROFILE_OTHER;
}

clgrad_status clgrad_profile_step(clgrad_context *ctx)
{
    if (!ctx) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_profile_step: ctx is NULL");
    struct clgrad__profile *pr = ctx->prof;
    if (!pr) return CLGRAD_OK;
    pr->steps++;
    double t = clgrad__now();
    resolve(pr, 0);
    pr->t_phase += clgrad__now() - t; /* the profiler's own time is nobody's */
    return CLGRAD_OK;
}

static int cmp_kernel(const void *a, const void *b)
{
    const clgrad_profile_kernel *x = a, *y = b;
    if (x->device_seconds != y->device_seconds) return x->device_seconds < y->device_seconds ? 1 : -1;
    int c = strcmp(x->family, y->family);
    if (c) return c;
    c = strcmp(x->name, y->name);
    return c ? c : (int)x->phase - (int)y->phase;
}

clgrad_status clgrad_profile_end(clgrad_context *ctx)
{
    if (!ctx) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_profile_end: ctx is NULL");
    struct clgrad__profile *pr = ctx->prof;
    if (!pr) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_profile_end: no profile is being recorded");
    switch_phase(pr, pr->phase);
    pr->seconds = clgrad__now() - pr->t_begin;
    ctx->prof = NULL;
    cl_int e = clFinish(ctx->dev.queue);
    resolve(pr, 1);
    /* the index is of no further use; entries are sorted for the readers */
    free(pr->index);
    pr->index = NULL;
    pr->index_cap = 0;
    if (pr->n > 1) qsort(pr->k, (size_t)pr->n, sizeof *pr->k, cmp_kernel);
    if (e != CL_SUCCESS) return clgrad__cl_fail(ctx, e, "clgrad_profile_end: clFinish");
    return CLGRAD_OK;
}

clgrad_status clgrad_profile_get(const clgrad_context *ctx, clgrad_profile_summary *out)
{
    if (!ctx || !out) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_profile_get: ctx and out must not be NULL");
    memset(out, 0, sizeof *out);
    const struct clgrad__profile *pr = ctx->prof_kept;
    if (!pr || ctx->prof == pr)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_profile_get: no ended profile (clgrad_profile_begin, then clgrad_profile_end)");
    out->steps = pr->steps;
    out->seconds = pr->seconds;
    out->device_times = pr->device_times;
    memcpy(out->host, pr->host, sizeof out->host);
    out->n_kernels = pr->n;
    out->kernels = pr->k;
    return CLGRAD_OK;
}

/* --- the report ------------------------------------------------------------------------------ */

typedef struct text {
    char *buf;
    size_t cap, len;
} text;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *at = t->len < t->cap ? t->buf + t->len : NULL;
    int n = vsnprintf(at, at ? t->cap - t->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) t->len += (size_t)n;
}

static const char *const phase_names[CLGRAD_PROFILE_PHASES] = {"other", "data", "forward", "backward", "optimizer"};
/* The phases of a training step, in the order of the report's columns. */
static const int step_phases[4] = {CLGRAD_PROFILE_FORWARD, CLGRAD_PROFILE_BACKWARD, CLGRAD_PROFILE_OPTIMIZER,
                                   CLGRAD_PROFILE_DATA};

typedef struct group {
    char name[64], family[32];
    double dev[CLGRAD_PROFILE_PHASES];
    uint64_t launches[CLGRAD_PROFILE_PHASES];
    double step_total;
} group;

static double step_dev(const group *g)
{
    double s = 0;
    for (int i = 0; i < 4; i++) s += g->dev[step_phases[i]];
    return s;
}

static int cmp_group(const void *a, const void *b)
{
    const group *x = a, *y = b;
    if (x->step_total != y->step_total) return x->step_total < y->step_total ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* Adds kernel k to the group of the same name in g (n groups), or a new one. */
static void add_to(group *g, int *n, const char *name, const char *family, const clgrad_profile_kernel *k)
{
    int i = 0;
    while (i < *n && (strcmp(g[i].name, name) || strcmp(g[i].family, family))) i++;
    if (i == *n) {
        memset(&g[i], 0, sizeof g[i]);
        snprintf(g[i].name, sizeof g[i].name, "%s", name);
        snprintf(g[i].family, sizeof g[i].family, "%s", family);
        (*n)++;
    }
    g[i].dev[k->phase] += k->device_seconds;
    g[i].launches[k->phase] += k->launches;
    g[i].step_total = step_dev(&g[i]);
}

static void row(text *t, const char *label, const group *g, double steps, double all)
{
    put(t, "%-26s", label);
    for (int i = 0; i < 4; i++) {
        int p = step_phases[i];
        if (g->launches[p]) put(t, " %8.3f (%5.1f)", 1e3 * g->dev[p] / steps, (double)g->launches[p] / steps);
        else put(t, " %16s", "-");
    }
    put(t, " %9.3f %6.1f%%\n", 1e3 * g->step_total / steps, all > 0 ? 100 * g->step_total / all : 0.0);
}

/* The device time per step of each family (and of its kernels when it has several). */
static void device_table(text *t, const group *fam, int nf, const group *ker, int nk, const group *all,
                         double steps)
{
    put(t, "\ndevice time per step by op family and kernel: ms (launches per step)\n");
    put(t, "%-26s %16s %16s %16s %16s %9s %7s\n", "family / kernel", "forward", "backward", "optimizer", "data",
        "total", "share");
    for (int f = 0; f < nf; f++) {
        uint64_t in_steps = 0;
        for (int i = 0; i < 4; i++) in_steps += fam[f].launches[step_phases[i]];
        if (!in_steps) continue; /* launched outside the steps only */
        row(t, fam[f].name, &fam[f], steps, all->step_total);
        int kernels = 0;
        for (int k = 0; k < nk; k++) kernels += !strcmp(ker[k].family, fam[f].name);
        for (int k = 0; kernels > 1 && k < nk; k++) {
            if (strcmp(ker[k].family, fam[f].name)) continue;
            char label[40];
            snprintf(label, sizeof label, "  %.24s", ker[k].name);
            row(t, label, &ker[k], steps, all->step_total);
        }
    }
    row(t, "all", all, steps, all->step_total);
}

/* The host time per step of each phase of a step, and their sum. */
static void host_table(text *t, const struct clgrad__profile *pr, double steps)
{
    put(t, "\nhost time per step by phase: ms (counts per step)\n");
    put(t, "%-10s %9s %10s %9s %9s %9s %7s %11s\n", "phase", "wall", "enqueuing", "blocked", "other", "launches",
        "waits", "bytes moved");
    clgrad_profile_host sum;
    memset(&sum, 0, sizeof sum);
    for (int i = 0; i < 4; i++) {
        const clgrad_profile_host *h = &pr->host[step_phases[i]];
        put(t, "%-10s %9.3f %10.3f %9.3f %9.3f %9.1f %7.1f %11.0f\n", phase_names[step_phases[i]],
            1e3 * h->wall_seconds / steps, 1e3 * h->launch_seconds / steps, 1e3 * h->wait_seconds / steps,
            1e3 * (h->wall_seconds - h->launch_seconds - h->wait_seconds) / steps, (double)h->launches / steps,
            (double)h->waits / steps, (double)h->transfer_bytes / steps);
        sum.wall_seconds += h->wall_seconds;
        sum.launch_seconds += h->launch_seconds;
        sum.wait_seconds += h->wait_seconds;
        sum.launches += h->launches;
        sum.waits += h->waits;
        sum.transfer_bytes += h->transfer_bytes;
    }
    put(t, "%-10s %9.3f %10.3f %9.3f %9.3f %9.1f %7.1f %11.0f\n", "all", 1e3 * sum.wall_seconds / steps,
        1e3 * sum.launch_seconds / steps, 1e3 * sum.wait_seconds / steps,
        1e3 * (sum.wall_seconds - sum.launch_seconds - sum.wait_seconds) / steps, (double)sum.launches / steps,
        (double)sum.waits / steps, (double)sum.transfer_bytes / steps);
}

size_t clgrad_profile_report(const clgrad_context *ctx, char *buf, size_t cap)
{
    if (!ctx || (!buf && cap)) return 0;
    const struct clgrad__profile *pr = ctx->prof_kept;
    if (!pr || ctx->prof == pr) return 0;
    text t = {buf, cap, 0};
    if (cap) buf[0] = '\0';
    double steps = pr->steps ? (double)pr->steps : 1.0;
    group *fam = calloc((size_t)pr->n + 1, sizeof *fam), *ker = calloc((size_t)pr->n + 1, sizeof *ker);
    if (!fam || !ker) {
        free(fam);
        free(ker);
        return 0;
    }
    int nf = 0, nk = 0;
    group all;
    memset(&all, 0, sizeof all);
    for (int i = 0; i < pr->n; i++) {
        add_to(fam, &nf, pr->k[i].family, "", &pr->k[i]);
        add_to(ker, &nk, pr->k[i].name, pr->k[i].family, &pr->k[i]);
        all.dev[pr->k[i].phase] += pr->k[i].device_seconds;
        all.launches[pr->k[i].phase] += pr->k[i].launches;
    }
    all.step_total = step_dev(&all);
    qsort(fam, (size_t)nf, sizeof *fam, cmp_group);
    qsort(ker, (size_t)nk, sizeof *ker, cmp_group);

    double host_step = 0;
    for (int i = 0; i < 4; i++) host_step += pr->host[step_phases[i]].wall_seconds;
    put(&t, "profile: %llu steps, %.3f ms per step on the host; device busy %.3f ms per step (%.0f%% of the step)\n",
        (unsigned long long)pr->steps, 1e3 * host_step / steps, 1e3 * all.step_total / steps,
        host_step > 0 ? 100 * all.step_total / host_step : 0.0);
    if (!pr->device_times)
        put(&t, "  (the device gave no event times: device columns are zero)\n");
    device_table(&t, fam, nf, ker, nk, &all, steps);
    host_table(&t, pr, steps);
    const clgrad_profile_host *o = &pr->host[CLGRAD_PROFILE_OTHER];
    put(&t, "outside the steps (phase other: evaluation, set-up): %.3f s on the host, %llu launches, %.3f s of device "
            "time\n", o->wall_seconds, (unsigned long long)o->launches, all.dev[CLGRAD_PROFILE_OTHER]);
    free(fam);
    free(ker);
    return t.len;
}
