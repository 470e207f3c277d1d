/* Data parallelism over MPI, run under mpirun with 2 processes (tests/meson.build):
 *   test_dist_mpi equivalence   the small CNN and the LSTM, 2 ranks x batch 32 against one
 *                               process with batch 64 (rank 0 trains the reference), after
 *                               20 SGD steps: relative difference <= 1e-5 (printed), the
 *                               ranks' weights bit-identical;
 *   test_dist_mpi failure       rank 1 feeds a batch of the wrong shape at step 3: rank 0
 *                               returns an error naming rank 1 and the cause within seconds;
 *   test_dist_mpi stall         rank 1 stops answering for longer than the timeout: rank 0
 *                               gives up with a timeout error, rank 1 then fails too;
 *   test_dist_mpi --no-mpirun   says that mpirun is missing and exits 77 (skipped).
 * A plain program rather than a Check suite: MPI must be initialised once per process, which
 * Check's forked test cases would break. Exit status 0 when every rank saw what it should, 77
 * without MPI, 1 otherwise (rank 0 decides for all). */
#include "dist_models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int rank_ = -1;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "rank %d: check failed at %s:%d: %s: ", rank_, __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            ok = 0;                                                                                \
        }                                                                                          \
    } while (0)

#define TRY(call)                                                                                  \
    do {                                                                                           \
        clgrad_status s_ = (call);                                                                 \
        if (s_ != CLGRAD_OK) {                                                                     \
            fprintf(stderr, "rank %d: %s -> %s: %s\n", rank_, #call, clgrad_status_name(s_),       \
                    clgrad_last_error(NULL));                                                      \
            return 0;                                                                              \
        }                                                                                          \
    } while (0)

/* A hash of the bytes as two exact doubles (to compare ranks with a sum). */
static void hash2(const void *p, size_t n, double out[2])
{
    const unsigned char *b = p;
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001B3ull;
    out[0] = (double)(h >> 32);
    out[1] = (double)(h & 0xFFFFFFFFu);
}

static dm_train plain_train(void)
{
    dm_train t = {.steps = 20, .global_batch = 64, .data_seed = 11, .fail_rank = -1, .fail_step = -1,
                  .stall_rank = -1, .stall_step = -1};
    return t;
}

/* One model kind: 2 ranks against the reference that rank 0 trains alone. 1 when it held. */
static int equivalence(dm_kind kind)
{
    int ok = 1;
    dm_data d;
    dm_data_make(&d, kind, 5);
    dm_train t = plain_train();
    clgrad_dist *g = NULL;
    clgrad_context *ctx = NULL;
    clgrad_module *m = NULL;
    clgrad_dist_options o = clgrad_dist_defaults();
    o.bucket_bytes = kind == DM_CNN ? 2048 : 0;
    o.timeout_seconds = 120;
    TRY(clgrad_dist_mpi_create(NULL, &o, &g));
    int size = clgrad_dist_size(g);
    char dev[32];
    TRY(clgrad_dist_device_selector(g, NULL, dev, sizeof dev));
    TRY(clgrad_dist_context_create(g, NULL, &ctx));
    TRY(dm_model(ctx, kind, 100 + (uint64_t)rank_, &m)); /* rank 1 starts from other weights */
    TRY(clgrad_dist_attach(g, m));
    TRY(dm_train_run(g, m, &d, &t));
    size_t n = 0;
    float *w = dm_weights(m, &n);
    double h[2], sum[2];
    hash2(w, n * sizeof *w, h);
    sum[0] = h[0], sum[1] = h[1];
    TRY(clgrad_dist_allreduce_sum(g, sum, 2));
    CHECK(sum[0] == size * h[0] && sum[1] == size * h[1], "the ranks' weights differ");
    clgrad_dist_stats st;
    clgrad_dist_get_stats(g, &st);
    clgrad_dist_release(g);
    double verdict = 1.0;
    if (rank_ == 0) { /* the reference: one process, the whole global batch, on this rank's device */
        clgrad_module *r = NULL;
        TRY(dm_model(ctx, kind, 100, &r));
        TRY(dm_train_run(NULL, r, &d, &t));
        size_t nr = 0;
        float *wr = dm_weights(r, &nr);
        CHECK(nr == n, "sizes %zu and %zu", nr, n);
        double rel = dm_rel_diff(w, wr, n), elem = dm_elem_rel_diff(w, wr, n, 1e-2);
        printf("dist_mpi %s: %d ranks (mpirun; rank 0 on device %s) x batch %lld vs 1 x %lld after %d SGD steps, "
               "%d buckets: max |difference| / max |weight| = %.3g, largest elementwise relative difference "
               "(|w| >= 0.01) = %.3g\n",
               dm_name(kind), size, dev, (long long)(t.global_batch / size), (long long)t.global_batch, t.steps,
               st.buckets, rel, elem);
        CHECK(rel <= 1e-5, "relative difference %g > 1e-5", rel);
        CHECK(dm_rel_diff(w, wr, n) < 1 && st.steps == t.steps, "steps %lld", (long long)st.steps);
        verdict = ok;
        free(wr);
        clgrad_module_release(r);
    }
    free(w);
    clgrad_module_release(m);
    clgrad_context_release(ctx);
    dm_data_free(&d);
    return ok && verdict > 0;
}

/* Rank fail_rank feeds a bad batch at step 3 (fail) or stalls past the timeout (stall). */
static int failure(int stall)
{
    int ok = 1;
    dm_data d;
    dm_data_make(&d, DM_CNN, 5);
    dm_train t = plain_train();
    t.steps = 6;
    if (stall) t.stall_rank = 1, t.stall_step = 2, t.stall_seconds = 2.0;
    else t.fail_rank = 1, t.fail_step = 3;
    clgrad_dist *g = NULL;
    clgrad_context *ctx = NULL;
    clgrad_module *m = NULL;
    clgrad_dist_options o = clgrad_dist_defaults();
    o.timeout_seconds = stall ? 1.0 : 60; /* failing: only the notice can end it in time */
    TRY(clgrad_dist_mpi_create(NULL, &o, &g));
    TRY(clgrad_dist_context_create(g, NULL, &ctx));
    TRY(dm_model(ctx, DM_CNN, 100, &m));
    TRY(clgrad_dist_attach(g, m));
    double t0 = now();
    clgrad_status s = dm_train_run(g, m, &d, &t);
    double took = now() - t0;
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", clgrad_last_error(NULL));
    printf("dist_mpi %s: rank %d returned %s after %.2f s: %s\n", stall ? "stall" : "failure", rank_,
           clgrad_status_name(s), took, msg);
    if (stall) {
        CHECK(s != CLGRAD_OK, "no error");
        if (rank_ == 0) {
            CHECK(s == CLGRAD_ERR_IO && strstr(msg, "timed out"), "rank 0: %s", msg);
            CHECK(took < 20, "took %.1f s", took);
        }
    } else {
        CHECK(s == CLGRAD_ERR_SHAPE, "status %s", clgrad_status_name(s));
        CHECK(strstr(msg, "rank 1 of 2 failed at step 3") && strstr(msg, "CLGRAD_ERR_SHAPE"), "message: %s", msg);
        CHECK(took < 30, "took %.1f s", took);
    }
    clgrad_dist_release(g);
    clgrad_module_release(m);
    clgrad_context_release(ctx);
    dm_data_free(&d);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_dist_mpi equivalence|failure|stall|--no-mpirun\n");
        return 2;
    }
    if (strcmp(argv[1], "--no-mpirun") == 0) {
        printf("mpirun not found (Debian: openmpi-bin): the MPI tests are skipped\n");
        return 77;
    }
    if (!clgrad_dist_mpi_available()) {
        printf("this clgrad was built without MPI: skipped\n");
        return 77;
    }
    clgrad_device_info *list = NULL;
    int n = 0;
    if (clgrad_devices_list(&list, &n) != CLGRAD_OK || n == 0) {
        printf("no OpenCL device: skipped\n");
        return 77;
    }
    clgrad_devices_free(list);
    /* a group kept for the whole run: MPI stays initialised while the others come and go */
    clgrad_dist *keep = NULL;
    if (clgrad_dist_mpi_create(NULL, NULL, &keep) != CLGRAD_OK) {
        fprintf(stderr, "clgrad_dist_mpi_create: %s\n", clgrad_last_error(NULL));
        return 1;
    }
    rank_ = clgrad_dist_rank(keep);
    if (clgrad_dist_size(keep) != 2) {
        fprintf(stderr, "run with 2 processes (mpirun -np 2), not %d\n", clgrad_dist_size(keep));
        clgrad_dist_release(keep);
        return 1;
    }
    int ok = 1;
    if (strcmp(argv[1], "equivalence") == 0) {
        ok &= equivalence(DM_CNN);
        ok &= equivalence(DM_LSTM);
        double v = ok;
        if (clgrad_dist_allreduce_sum(keep, &v, 1) != CLGRAD_OK || v != 2.0) ok = 0; /* both ranks agree */
    } else if (strcmp(argv[1], "failure") == 0) {
        ok = failure(0);
    } else if (strcmp(argv[1], "stall") == 0) {
        ok = failure(1);
    } else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        ok = 0;
    }
    clgrad_dist_release(keep); /* the last group: MPI is finalised */
    clgrad_shutdown();
    fflush(stdout);
    return ok ? 0 : 1;
}
