/* clgrad-bench dist: data-parallel training steps of the reference CNN (clgrad-train's cnn:
 * conv32k3p1-relu-maxpool2-conv64k3p1-relu-maxpool2-flatten-fc128-relu-fc on 28x28 images,
 * 10 classes), one rank with the whole global batch against two ranks with half of it each,
 * and the gradient averaging's bucket timings: communication per step and how much of it
 * overlapped the backward pass.
 *
 * Two ranks are two threads of this process (clgrad_dist_local_run), one device each by
 * local rank (POCL_DEVICES="pthread pthread" gives PoCL two), or, under mpirun with MPI in
 * the build, the processes of MPI_COMM_WORLD (rank 0 then also times the one-rank baseline
 * alone while the others wait, and prints; the others print nothing). --sizes B[,K] sets the
 * global batch (default 64) and the bucket size in KiB (default the library's, 4 MiB, which
 * holds this CNN's 1.6 MiB of gradients in one bucket: nothing to overlap; 256 gives three),
 * --reps N the timed steps (default 10, after 3 warm-up steps). */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

#define HW 28
#define CLASSES 10
#define WARMUP 3

typedef struct dist_run {
    int64_t batch;        /* this rank's batch */
    int steps;
    const char *device;   /* selector narrowed by local rank */
    uint32_t flags;
    double *step_s;       /* per timed step */
    clgrad_dist_stats before, after; /* stats around the timed steps */
    clgrad_dist_bucket_timing *buckets;
    int n_buckets;
    char msg[512];
} dist_run;

static clgrad_status add(clgrad_module *seq, clgrad_status s, clgrad_module *child)
{
    if (s != CLGRAD_OK) {
        clgrad_module_release(child);
        return s;
    }
    return clgrad_sequential_add(seq, child);
}

static clgrad_status reference_cnn(clgrad_context *ctx, clgrad_module **out)
{
    clgrad_module *m = NULL, *c;
    clgrad_conv2d_params p1 = {.padding = {1, 1}};
    clgrad_pool2d_params pool = {.kernel = {2, 2}};
    clgrad_status s = clgrad_sequential_create(ctx, &m);
    c = NULL, s = s ? s : clgrad_conv2d_create(ctx, 1, 32, 3, 3, &p1, 1, 1, &c), s = add(m, s, c);
    c = NULL, s = s ? s : clgrad_activation_create(ctx, CLGRAD_ACT_RELU, 0, 0, &c), s = add(m, s, c);
    c = NULL, s = s ? s : clgrad_max_pool2d_create(ctx, &pool, &c), s = add(m, s, c);
    c = NULL, s = s ? s : clgrad_conv2d_create(ctx, 32, 64, 3, 3, &p1, 1, 2, &c), s = add(m, s, c);
    c = NULL, s = s ? s : clgrad_activation_create(ctx, CLGRAD_ACT_RELU, 0, 0, &c), s = add(m, s, c);
    c = NULL, s = s ? s : clgrad_max_pool2d_create(ctx, &pool, &c), s = add(m, s, c);
    c = NULL, s = s ? s : clgrad_flatten_create(ctx, 1, -1, &c), s = add(m, s, c);
    c = NULL, s = s ? s : clgrad_linear_create(ctx, 64 * 7 * 7, 128, 1, 3, &c), s = add(m, s, c);
    c = NULL, s = s ? s : clgrad_activation_create(ctx, CLGRAD_ACT_RELU, 0, 0, &c), s = add(m, s, c);
    c = NULL, s = s ? s : clgrad_linear_create(ctx, 128, CLASSES, 1, 4, &c), s = add(m, s, c);
    if (s != CLGRAD_OK) {
        clgrad_module_release(m);
        m = NULL;
    }
    *out = m;
    return s;
}

/* WARMUP + steps SGD steps of the CNN on ctx with batch b; with g, gradients averaged. */
static clgrad_status train(clgrad_dist *g, clgrad_context *ctx, dist_run *run)
{
    clgrad_module *m = NULL;
    clgrad_optim *opt = NULL;
    clgrad_tensor *x = NULL, *y = NULL;
    clgrad_optim_options oo = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.01f);
    oo.momentum = 0.9f;
    int64_t b = run->batch, xs[4] = {b, 1, HW, HW}, ys[1] = {b};
    int32_t *yh = malloc((size_t)b * sizeof *yh);
    if (!yh) return CLGRAD_ERR_HOST_MEMORY;
    for (int64_t i = 0; i < b; i++) yh[i] = (int32_t)((i * 7) % CLASSES);
    clgrad_status s = reference_cnn(ctx, &m);
    if (s == CLGRAD_OK && g) s = clgrad_dist_attach(g, m);
    if (s == CLGRAD_OK) s = clgrad_optim_create(m, &oo, &opt);
    if (s == CLGRAD_OK) s = clgrad_tensor_uniform(ctx, 4, xs, 5, -1.0f, 1.0f, &x);
    if (s == CLGRAD_OK) s = clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_I32, 1, ys, yh, &y);
    for (int step = 0; s == CLGRAD_OK && step < WARMUP + run->steps; step++) {
        if (step == WARMUP && g) clgrad_dist_get_stats(g, &run->before);
        double t0 = bench_now();
        clgrad_tensor *logits = NULL, *loss = NULL;
        s = clgrad_module_forward(m, x, &logits);
        if (s == CLGRAD_OK) s = clgrad_cross_entropy(logits, y, 0.0f, CLGRAD_REDUCTION_MEAN, &loss);
        if (s == CLGRAD_OK) s = clgrad_backward(loss);
        if (g) s = clgrad_dist_sync(g, s);
        if (s == CLGRAD_OK) s = clgrad_optim_step(opt);
        clgrad_optim_zero_grad(opt);
        if (s == CLGRAD_OK) s = clgrad_context_finish(ctx);
        if (step >= WARMUP) run->step_s[step - WARMUP] = bench_now() - t0;
        clgrad_tensor_release(loss);
        clgrad_tensor_release(logits);
    }
    if (s == CLGRAD_OK && g) {
        clgrad_dist_get_stats(g, &run->after);
        run->n_buckets = run->after.buckets;
        run->buckets = calloc((size_t)run->n_buckets + 1, sizeof *run->buckets);
        for (int i = 0; run->buckets && i < run->n_buckets; i++) clgrad_dist_get_bucket_timing(g, i, &run->buckets[i]);
    }
    if (s != CLGRAD_OK) snprintf(run->msg, sizeof run->msg, "%s", clgrad_last_error(NULL));
    if (g) clgrad_dist_release(g); /* before the module */
    clgrad_tensor_release(x);
    clgrad_tensor_release(y);
    clgrad_optim_release(opt);
    clgrad_module_release(m);
    free(yh);
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    double *c = malloc((size_t)n * sizeof *c);
    if (!c) return v[0];
    memcpy(c, v, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

typedef struct local_job {
    dist_run run[2];
} local_job;

static clgrad_status local_rank(clgrad_dist *g, void *user)
{
    local_job *j = user;
    dist_run *run = &j->run[clgrad_dist_rank(g)];
    clgrad_context *ctx = NULL;
    clgrad_context_desc d = {.device = run->device};
    clgrad_status s = clgrad_dist_context_create(g, &d, &ctx);
    if (s == CLGRAD_OK) s = train(g, ctx, run);
    else {
        snprintf(run->msg, sizeof run->msg, "%s", clgrad_last_error(NULL));
        clgrad_dist_release(g);
    }
    clgrad_context_release(ctx);
    return s;
}

static void report_two(bench_results *r, FILE *out, const char *provider, const dist_run *run, double one_ms,
                       int64_t global, int json)
{
    double ms = median(run->step_s, run->steps) * 1e3;
    int64_t steps = run->after.steps - run->before.steps;
    double comm = steps > 0 ? (run->after.total_comm_seconds - run->before.total_comm_seconds) / (double)steps : 0;
    double over = steps > 0 ? (run->after.total_overlap_seconds - run->before.total_overlap_seconds) / (double)steps : 0;
    double wait = steps > 0 ? (run->after.total_sync_wait_seconds - run->before.total_sync_wait_seconds) / (double)steps : 0;
    char shape[64];
    snprintf(shape, sizeof shape, "cnn 28x28 batch %lld (2x%lld)", (long long)global, (long long)(global / 2));
    bench_add(r, "dist_step", shape, provider, -1, ms);
    bench_set_extra(r, "samples_per_s", (double)global / (ms * 1e-3));
    bench_set_extra(r, "speedup", one_ms / ms);
    bench_set_extra(r, "comm_ms", comm * 1e3);
    bench_set_extra(r, "overlap_ms", over * 1e3);
    bench_set_extra(r, "sync_wait_ms", wait * 1e3);
    bench_set_extra(r, "buckets", run->after.buckets);
    bench_set_extra(r, "grad_mib", (double)run->after.grad_bytes / (1 << 20));
    if (!json)
        fprintf(out, "  %-26s %8.2f ms/step  %8.0f samples/s  x%.2f   communication %.2f ms/step, %.2f ms of it "
                     "during backward (%.0f%%); sync waited %.2f ms; %d buckets, %.2f MiB of gradients\n",
                provider, ms, (double)global / (ms * 1e-3), one_ms / ms, comm * 1e3, over * 1e3,
                comm > 0 ? 100.0 * over / comm : 0.0, wait * 1e3, run->after.buckets,
                (double)run->after.grad_bytes / (1 << 20));
    for (int i = 0; i < run->n_buckets; i++) {
        const clgrad_dist_bucket_timing *b = &run->buckets[i];
        char sh[64];
        snprintf(sh, sizeof sh, "bucket %d: %d params, %.1f KiB", i, b->params, (double)b->bytes / 1024);
        bench_add(r, "dist_bucket", sh, provider, -1, (b->comm_end - b->comm_start) * 1e3);
        bench_set_extra(r, "started_ms", b->started * 1e3);
        bench_set_extra(r, "ready_ms", b->ready * 1e3);
        bench_set_extra(r, "comm_start_ms", b->comm_start * 1e3);
        bench_set_extra(r, "comm_end_ms", b->comm_end * 1e3);
        bench_set_extra(r, "sync_called_ms", b->sync_called * 1e3);
        if (!json)
            fprintf(out, "    %-34s started %7.2f ms, ready %7.2f, communication %7.2f .. %7.2f ms, sync called "
                         "at %7.2f ms (last step)\n",
                    sh, b->started * 1e3, b->ready * 1e3, b->comm_start * 1e3, b->comm_end * 1e3, b->sync_called * 1e3);
    }
}

static int under_mpirun(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

int bench_dist(clgrad_context *ctx, const bench_opts *o, bench_results *r)
{
    FILE *out = bench_out(o);
    int64_t global = o->sizes ? atoll(o->sizes) : 64;
    const char *comma = o->sizes ? strchr(o->sizes, ',') : NULL;
    size_t bucket = comma ? (size_t)atoll(comma + 1) * 1024 : 0;
    int steps = o->reps > 0 ? o->reps : 10;
    if (global < 2 || global % 2) {
        fprintf(stderr, "dist: the global batch (--sizes) must be even and at least 2, not %lld\n", (long long)global);
        return 1;
    }
    double *times = calloc((size_t)steps * 5, sizeof *times);
    if (!times) return 1;
    dist_run one = {.batch = global, .steps = steps, .step_s = times};
    int rc = 0;
    clgrad_status s;

    if (under_mpirun() && clgrad_dist_mpi_available()) {
        clgrad_dist *g = NULL, *keep = NULL;
        s = clgrad_dist_mpi_create(NULL, NULL, &keep); /* keeps MPI up between the groups */
        if (s == CLGRAD_OK && clgrad_dist_rank(keep) != 0 && !freopen("/dev/null", "w", stdout)) s = CLGRAD_ERR_IO;
        if (s == CLGRAD_OK && clgrad_dist_rank(keep) == 0) s = train(NULL, ctx, &one);
        s = clgrad_dist_check(keep, s);
        double one_ms = median(times, steps) * 1e3;
        if (s == CLGRAD_OK && !o->json)
            fprintf(out, "reference CNN, global batch %lld, %d timed steps; 1 rank on %s:\n  %-26s %8.2f ms/step  %8.0f "
                         "samples/s\n", (long long)global, steps, clgrad_context_device(ctx)->name, "1 rank", one_ms,
                    (double)global / (one_ms * 1e-3));
        bench_add(r, "dist_step", "cnn 28x28 batch 1x64", "1 rank", -1, one_ms);
        bench_set_extra(r, "samples_per_s", (double)global / (one_ms * 1e-3));
        int size = clgrad_dist_size(keep);
        for (int overlap = 1; s == CLGRAD_OK && overlap >= 0; overlap--) {
            clgrad_dist_options opts = clgrad_dist_defaults();
            opts.flags = overlap ? 0 : CLGRAD_DIST_NO_OVERLAP;
            opts.bucket_bytes = bucket;
            dist_run run = {.batch = global / size, .steps = steps, .step_s = times + steps * (2 - overlap),
                            .device = o->device};
            clgrad_context *rc_ctx = NULL;
            s = clgrad_dist_mpi_create(NULL, &opts, &g);
            if (s == CLGRAD_OK) {
                clgrad_context_desc d = {.device = o->device};
                s = clgrad_dist_context_create(g, &d, &rc_ctx);
                if (s == CLGRAD_OK) s = train(g, rc_ctx, &run);
                else clgrad_dist_release(g);
            }
            char prov[48];
            snprintf(prov, sizeof prov, "%d ranks mpi%s", size, overlap ? "" : ", no overlap");
            if (s == CLGRAD_OK && size == 2) report_two(r, out, prov, &run, one_ms, global, o->json);
            free(run.buckets);
            clgrad_context_release(rc_ctx);
        }
        if (s != CLGRAD_OK) {
            fprintf(stderr, "dist: %s: %s\n", clgrad_status_name(s), clgrad_last_error(NULL));
            rc = 1;
        }
        clgrad_dist_release(keep);
        free(times);
        return rc;
    }

    /* in one process: the baseline on the driver's context, then two threads */
    s = train(NULL, ctx, &one);
    if (s != CLGRAD_OK) {
        fprintf(stderr, "dist: 1 rank: %s: %s\n", clgrad_status_name(s), one.msg);
        free(times);
        return 1;
    }
    double one_ms = median(times, steps) * 1e3;
    if (!o->json)
        fprintf(out, "reference CNN, global batch %lld, %d timed steps (median):\n  %-26s %8.2f ms/step  %8.0f samples/s\n",
                (long long)global, steps, "1 rank", one_ms, (double)global / (one_ms * 1e-3));
    char shape[64];
    snprintf(shape, sizeof shape, "cnn 28x28 batch %lld", (long long)global);
    bench_add(r, "dist_step", shape, "1 rank", -1, one_ms);
    bench_set_extra(r, "samples_per_s", (double)global / (one_ms * 1e-3));
    for (int overlap = 1; overlap >= 0; overlap--) {
        local_job j;
        memset(&j, 0, sizeof j);
        for (int k = 0; k < 2; k++)
            j.run[k] = (dist_run){.batch = global / 2, .steps = steps, .device = o->device,
                                  .step_s = times + steps * (1 + k + 2 * (1 - overlap))};
        clgrad_dist_options opts = clgrad_dist_defaults();
        opts.flags = overlap ? 0 : CLGRAD_DIST_NO_OVERLAP;
        opts.bucket_bytes = bucket;
        s = clgrad_dist_local_run(2, &opts, local_rank, &j, NULL);
        if (s != CLGRAD_OK) {
            fprintf(stderr, "dist: 2 ranks: %s: %s\n", clgrad_status_name(s), clgrad_last_error(NULL));
            rc = 1;
        } else {
            report_two(r, out, overlap ? "2 ranks local" : "2 ranks local, no overlap", &j.run[0], one_ms, global,
                       o->json);
        }
        free(j.run[0].buckets);
        free(j.run[1].buckets);
        if (rc) break;
    }
    free(times);
    return rc;
}
