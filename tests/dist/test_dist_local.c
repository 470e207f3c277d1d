/* Data parallelism in one process (clgrad_dist_local_run): two ranks, each a thread with its
 * own context (two PoCL CPU devices when POCL_DEVICES="pthread pthread", as the suite sets;
 * one shared device otherwise), against one process training on the whole global batch.
 *   - equivalence: after 20 SGD steps, 2 ranks x batch 32 hold the same weights as 1 x 64
 *     (relative difference <= 1e-5, printed) for a small CNN and an LSTM; the two ranks hold
 *     bit-identical weights; overlapped and non-overlapped bucket schedules agree bit for
 *     bit; rank 0's weights reach rank 1 at attach (rank 1 starts from other ones);
 *   - the sampler: every rank's share, the union per step, the dataset's shuffled order;
 *   - failures: a rank that fails makes the other return an error naming it within
 *     seconds; a rank that stalls past the timeout makes the other give up naming it;
 *   - synchronised batch norm against one process's batch norm over the whole batch. */
#include "dist_models.h"
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RANKS 2

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct job {
    dm_kind kind;
    const dm_data *data;
    dm_train train;
    float *w[RANKS];
    size_t nw[RANKS];
    char device[RANKS][32];
    clgrad_status st[RANKS];
    char msg[RANKS][2048];
    double t_error[RANKS]; /* when each rank's training returned */
    clgrad_dist_stats stats[RANKS];
} job;

static clgrad_status rank_fn(clgrad_dist *g, void *user)
{
    job *j = user;
    int r = clgrad_dist_rank(g);
    clgrad_context *ctx = NULL;
    clgrad_module *m = NULL;
    clgrad_status s = clgrad_dist_device_selector(g, NULL, j->device[r], sizeof j->device[r]);
    if (s == CLGRAD_OK) s = clgrad_dist_context_create(g, NULL, &ctx);
    /* rank 1 starts from other weights: attach must replace them with rank 0's */
    if (s == CLGRAD_OK) s = dm_model(ctx, j->kind, 100 + (uint64_t)r, &m);
    s = clgrad_dist_check(g, s);
    if (s == CLGRAD_OK) s = clgrad_dist_attach(g, m);
    if (s == CLGRAD_OK) s = dm_train_run(g, m, j->data, &j->train);
    j->t_error[r] = now();
    j->st[r] = s;
    if (s != CLGRAD_OK) snprintf(j->msg[r], sizeof j->msg[r], "%s", clgrad_last_error(NULL));
    if (s == CLGRAD_OK) j->w[r] = dm_weights(m, &j->nw[r]);
    clgrad_dist_get_stats(g, &j->stats[r]);
    clgrad_dist_release(g); /* before the module and the context */
    clgrad_module_release(m);
    clgrad_context_release(ctx);
    return s;
}

static void job_init(job *j, dm_kind kind, const dm_data *d)
{
    memset(j, 0, sizeof *j);
    j->kind = kind;
    j->data = d;
    j->train = (dm_train){.steps = 20, .global_batch = 64, .data_seed = 11, .fail_rank = -1, .fail_step = -1,
                          .stall_rank = -1, .stall_step = -1};
}

static void job_free(job *j)
{
    for (int r = 0; r < RANKS; r++) free(j->w[r]);
}

/* One process on the whole global batch, on th_ctx. */
static float *reference(dm_kind kind, const dm_data *d, const dm_train *t, size_t *n)
{
    clgrad_module *m = NULL;
    TH_OK(dm_model(th_ctx, kind, 100, &m));
    TH_OK(dm_train_run(NULL, m, d, t));
    float *w = dm_weights(m, n);
    clgrad_module_release(m);
    return w;
}

static void equivalence(dm_kind kind, size_t bucket_bytes)
{
    dm_data d;
    dm_data_make(&d, kind, 5);
    job j, k;
    job_init(&j, kind, &d);
    clgrad_dist_options o = clgrad_dist_defaults();
    o.bucket_bytes = bucket_bytes;
    o.timeout_seconds = 120;
    clgrad_status s = clgrad_dist_local_run(RANKS, &o, rank_fn, &j, NULL);
    ck_assert_msg(s == CLGRAD_OK, "%s: %s", clgrad_status_name(s), clgrad_last_error(NULL));
    ck_assert_uint_eq(j.nw[0], j.nw[1]);
    ck_assert_msg(memcmp(j.w[0], j.w[1], j.nw[0] * sizeof(float)) == 0, "the ranks' weights differ");
    ck_assert_int_gt((int)j.stats[0].buckets, 0);
    ck_assert_int_eq((int)j.stats[0].steps, 20);

    size_t nref = 0;
    float *ref = reference(kind, &d, &j.train, &nref);
    ck_assert_uint_eq(nref, j.nw[0]);
    double rel = dm_rel_diff(j.w[0], ref, nref), elem = dm_elem_rel_diff(j.w[0], ref, nref, 1e-2);
    printf("dist_local %s: %d ranks (devices %s and %s) x batch %lld vs 1 x %lld after %d SGD steps, %d buckets: "
           "max |difference| / max |weight| = %.3g, largest elementwise relative difference (|w| >= 0.01) = %.3g\n",
           dm_name(kind), RANKS, j.device[0], j.device[1], (long long)(j.train.global_batch / RANKS),
           (long long)j.train.global_batch, j.train.steps, j.stats[0].buckets, rel, elem);
    ck_assert_msg(rel <= 1e-5, "2 ranks vs 1 process: relative difference %g > 1e-5", rel);
    /* the weights moved: a run that trained nothing would match trivially */
    float *init = NULL;
    size_t ninit = 0;
    clgrad_module *m0 = NULL;
    TH_OK(dm_model(th_ctx, kind, 100, &m0));
    init = dm_weights(m0, &ninit);
    ck_assert_double_gt(dm_rel_diff(init, ref, nref), 1e-3);
    free(init);
    clgrad_module_release(m0);

    /* the same without overlap: identical bits (the sums do not depend on when they run) */
    job_init(&k, kind, &d);
    o.flags = CLGRAD_DIST_NO_OVERLAP;
    s = clgrad_dist_local_run(RANKS, &o, rank_fn, &k, NULL);
    ck_assert_msg(s == CLGRAD_OK, "%s: %s", clgrad_status_name(s), clgrad_last_error(NULL));
    ck_assert_msg(memcmp(j.w[0], k.w[0], j.nw[0] * sizeof(float)) == 0, "overlap changed the result");
    free(ref);
    job_free(&j);
    job_free(&k);
    dm_data_free(&d);
}

START_TEST(equivalence_cnn)
{
    equivalence(DM_CNN, 2048); /* small buckets: several, started during backward */
}
END_TEST

START_TEST(equivalence_lstm)
{
    equivalence(DM_LSTM, 0);
}
END_TEST

START_TEST(sampler_shards)
{
    enum { N = 103, GB = 12 };
    clgrad_dist_sampler *one = NULL, *part[3] = {0};
    TH_OK(clgrad_dist_sampler_create(N, GB, 0, 1, 42, 1, &one));
    for (int r = 0; r < 3; r++) TH_OK(clgrad_dist_sampler_create(N, GB, r, 3, 42, 1, &part[r]));
    ck_assert_int_eq(clgrad_dist_sampler_steps(one), N / GB);
    ck_assert_int_eq(clgrad_dist_sampler_local_batch(part[2]), GB / 3);
    /* a dataset whose sample i holds i: its shuffled batches give the order */
    float xs[N];
    int32_t ys[N];
    for (int i = 0; i < N; i++) xs[i] = (float)i, ys[i] = i % 5;
    int64_t one_shape[1] = {1};
    clgrad_dataset *ds = NULL;
    TH_OK(clgrad_dataset_from_floats(N, 1, one_shape, xs, ys, 0, NULL, &ds));
    int64_t first_epoch[GB];
    for (uint64_t epoch = 0; epoch < 3; epoch++) {
        int seen[N] = {0};
        TH_OK(clgrad_dataset_shuffle(ds, 42, epoch));
        TH_OK(clgrad_dist_sampler_set_epoch(one, epoch));
        for (int r = 0; r < 3; r++) TH_OK(clgrad_dist_sampler_set_epoch(part[r], epoch));
        for (int64_t k = 0; k < N / GB; k++) {
            int64_t all[GB], n = 0, got[GB / 3];
            TH_OK(clgrad_dist_sampler_indices(one, k, all, GB, &n));
            ck_assert_int_eq(n, GB);
            float xb[GB];
            TH_OK(clgrad_dataset_batch(ds, k, GB, xb, NULL, &n));
            for (int i = 0; i < GB; i++) ck_assert_int_eq(all[i], (int64_t)xb[i]); /* the dataset's order */
            for (int r = 0; r < 3; r++) {
                TH_OK(clgrad_dist_sampler_indices(part[r], k, got, GB / 3, &n));
                ck_assert_int_eq(n, GB / 3);
                float xr[GB / 3];
                TH_OK(clgrad_dataset_batch(ds, k * 3 + r, GB / 3, xr, NULL, NULL));
                for (int i = 0; i < GB / 3; i++) {
                    ck_assert_int_eq(got[i], all[r * (GB / 3) + i]); /* the union is the full batch */
                    ck_assert_int_eq(got[i], (int64_t)xr[i]);
                    ck_assert_int_eq(seen[got[i]]++, 0);          /* no sample twice in an epoch */
                }
            }
            if (k == 0 && epoch == 0) memcpy(first_epoch, all, sizeof all);
            if (k == 0 && epoch == 1) ck_assert(memcmp(first_epoch, all, sizeof all) != 0); /* epochs differ */
        }
    }
    clgrad_dataset_release(ds);
    clgrad_dist_sampler_release(one);
    for (int r = 0; r < 3; r++) clgrad_dist_sampler_release(part[r]);
    /* without shuffle: in order */
    TH_OK(clgrad_dist_sampler_create(10, 4, 1, 2, 42, 0, &one));
    int64_t got[2], n = 0;
    TH_OK(clgrad_dist_sampler_indices(one, 1, got, 2, &n));
    ck_assert(n == 2 && got[0] == 6 && got[1] == 7);
    clgrad_dist_sampler_release(one);
}
END_TEST

/* Rank 1 feeds a batch of the wrong shape at step 3: both ranks fail at once, rank 0 with a
 * message naming rank 1 and the cause. */
START_TEST(failure_is_reported)
{
    dm_data d;
    dm_data_make(&d, DM_CNN, 5);
    job j;
    job_init(&j, DM_CNN, &d);
    j.train.fail_rank = 1;
    j.train.fail_step = 3;
    clgrad_dist_options o = clgrad_dist_defaults();
    o.timeout_seconds = 60; /* far longer than the test may take: only the notice can end it */
    clgrad_status res[RANKS];
    double t0 = now();
    clgrad_status s = clgrad_dist_local_run(RANKS, &o, rank_fn, &j, res);
    double took = now() - t0, lag = j.t_error[0] - j.t_error[1];
    printf("dist_local failure: rank 0 returned %s %.3f s after rank 1 failed (whole run %.2f s): %s\n",
           clgrad_status_name(res[0]), lag, took, j.msg[0]);
    ck_assert_int_eq(s, CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(res[1], CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(res[0], CLGRAD_ERR_SHAPE);
    ck_assert_msg(strstr(j.msg[0], "rank 1 of 2 failed at step 3") && strstr(j.msg[0], "CLGRAD_ERR_SHAPE"),
                  "rank 0's message: %s", j.msg[0]);
    ck_assert_msg(strstr(clgrad_last_error(NULL), "rank 1 of 2"), "runner's message: %s", clgrad_last_error(NULL));
    ck_assert_double_lt(lag, 5.0);
    ck_assert_double_lt(took, 50.0);
    dm_data_free(&d);
    job_free(&j);
}
END_TEST

/* Rank 1 stops answering for longer than the timeout: rank 0 gives up naming it. */
START_TEST(stall_times_out)
{
    dm_data d;
    dm_data_make(&d, DM_CNN, 5);
    job j;
    job_init(&j, DM_CNN, &d);
    j.train.steps = 4;
    j.train.stall_rank = 1;
    j.train.stall_step = 2;
    j.train.stall_seconds = 4.0;
    clgrad_dist_options o = clgrad_dist_defaults();
    o.timeout_seconds = 1.0;
    clgrad_status res[RANKS];
    double t0 = now();
    clgrad_dist_local_run(RANKS, &o, rank_fn, &j, res);
    printf("dist_local stall: rank 0 returned %s after %.2f s: %s\n", clgrad_status_name(res[0]), j.t_error[0] - t0,
           j.msg[0]);
    ck_assert_int_eq(res[0], CLGRAD_ERR_IO);
    ck_assert_int_ne(res[1], CLGRAD_OK);
    ck_assert_msg(strstr(j.msg[0], "timed out") && strstr(j.msg[0], "rank(s) 1"), "rank 0's message: %s", j.msg[0]);
    ck_assert_double_lt(j.t_error[1] - t0, 60.0);
    dm_data_free(&d);
    job_free(&j);
}
END_TEST

/* Synchronised batch norm: 2 ranks x 32 with CLGRAD_DIST_SYNC_BATCH_NORM equal one process
 * with batch norm over 64 (weights and running statistics); local statistics do not. */

START_TEST(sync_batch_norm)
{
    dm_data d;
    dm_data_make(&d, DM_BN, 9);
    double rel[2];
    size_t nref = 0;
    job j0;
    job_init(&j0, DM_BN, &d);
    j0.train.steps = 8;
    float *ref = reference(DM_BN, &d, &j0.train, &nref);
    for (int sync = 0; sync < 2; sync++) {
        job j;
        job_init(&j, DM_BN, &d);
        j.train.steps = 8;
        clgrad_dist_options o = clgrad_dist_defaults();
        o.flags = sync ? CLGRAD_DIST_SYNC_BATCH_NORM : 0;
        clgrad_status s = clgrad_dist_local_run(RANKS, &o, rank_fn, &j, NULL);
        ck_assert_msg(s == CLGRAD_OK, "%s: %s", clgrad_status_name(s), clgrad_last_error(NULL));
        ck_assert_msg(memcmp(j.w[0], j.w[1], j.nw[0] * sizeof(float)) == 0 || !sync, "the ranks' weights differ");
        ck_assert_uint_eq(j.nw[0], nref);
        rel[sync] = dm_rel_diff(j.w[0], ref, nref);
        job_free(&j);
    }
    printf("dist_local batch norm: 2 ranks x 32 vs 1 x 64 after 8 steps (weights and running statistics): "
           "synchronised %.3g, local statistics %.3g\n", rel[1], rel[0]);
    ck_assert_msg(rel[1] <= 1e-5, "synchronised batch norm differs by %g", rel[1]);
    ck_assert_msg(rel[0] > 1e-4, "local statistics should differ from the whole batch's (%g)", rel[0]);
    free(ref);
    dm_data_free(&d);
}
END_TEST

/* Gradient buckets in action: a module whose parameters some ranks leave without gradient,
 * stats and bucket timings filled in. */
START_TEST(timings_and_devices)
{
    dm_data d;
    dm_data_make(&d, DM_CNN, 5);
    job j;
    job_init(&j, DM_CNN, &d);
    j.train.steps = 3;
    clgrad_dist_options o = clgrad_dist_defaults();
    o.bucket_bytes = 1024;
    ck_assert_int_eq(clgrad_dist_local_run(RANKS, &o, rank_fn, &j, NULL), CLGRAD_OK);
    const clgrad_dist_stats *st = &j.stats[0];
    printf("dist_local devices: rank 0 on %s, rank 1 on %s; %d buckets, %zu gradient bytes, last step: "
           "communication %.3g ms (%.3g ms overlapped backward), sync waited %.3g ms\n",
           j.device[0], j.device[1], st->buckets, st->grad_bytes, st->comm_seconds * 1e3, st->overlap_seconds * 1e3,
           st->sync_wait_seconds * 1e3);
    ck_assert_int_eq((int)st->steps, 3);
    ck_assert_int_ge(st->buckets, 3);
    ck_assert_uint_gt(st->grad_bytes, 0);
    ck_assert(st->comm_seconds > 0 && st->overlap_seconds >= 0 && st->overlap_seconds <= st->comm_seconds + 1e-9);
    clgrad_device_info *list = NULL;
    int n = 0;
    TH_OK(clgrad_devices_list(&list, &n));
    int cpus = 0;
    for (int i = 0; i < n; i++) cpus += list[i].kind == CLGRAD_DEVICE_KIND_CPU && list[i].available;
    clgrad_devices_free(list);
    if (cpus >= 2) ck_assert_str_ne(j.device[0], j.device[1]); /* one device per rank when there are two */
    job_free(&j);
    dm_data_free(&d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dist_local");
    TCase *tc = tcase_create("local");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, equivalence_cnn);
    tcase_add_test(tc, equivalence_lstm);
    tcase_add_test(tc, sampler_shards);
    tcase_add_test(tc, failure_is_reported);
    tcase_add_test(tc, stall_times_out);
    tcase_add_test(tc, sync_batch_norm);
    tcase_add_test(tc, timings_and_devices);
    suite_add_tcase(s, tc);
    return th_run(s, 1);
}
