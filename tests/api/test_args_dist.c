/* Argument checks of include/clgrad/dist.h: groups, devices, collectives, timings and the
 * sampler (see tests/support/args.h for what a check expects). MPI is never initialised
 * here: clgrad_dist_mpi_create is only called with arguments it refuses first. */
#include "args.h"

#include <math.h>
#include <string.h>

static clgrad_status noop_rank(clgrad_dist *g, void *user)
{
    (void)g;
    (void)user;
    return CLGRAD_OK;
}

START_TEST(null_dist)
{
    clgrad_dist *g = NULL, *ranks[2];
    clgrad_context *ctx;
    clgrad_dist_sampler *s;
    clgrad_dist_stats st;
    clgrad_dist_bucket_timing bt;
    clgrad_dist_options bad = clgrad_dist_defaults();
    int64_t idx[8], n;
    double v = 1.0;
    char buf[32];

    clgrad_dist_options d = clgrad_dist_defaults();
    EXPECT_TRUE(d.bucket_bytes == CLGRAD_DIST_BUCKET_BYTES && d.timeout_seconds > 0 && d.flags == 0);
    EXPECT_TRUE(clgrad_dist_mpi_available() == 0 || clgrad_dist_mpi_available() == 1);

    /* groups: refused before anything is initialised */
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_mpi_create(NULL, NULL, NULL));
    bad.flags = 1u << 20;
    EXPECT_OUT_MSG(CLGRAD_ERR_INVALID_ARG, "flags", g, clgrad_dist_mpi_create(NULL, &bad, &g));
    bad = clgrad_dist_defaults();
    bad.timeout_seconds = NAN;
    EXPECT_OUT_MSG(CLGRAD_ERR_INVALID_ARG, "timeout", g, clgrad_dist_mpi_create(NULL, &bad, &g));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_local_create(2, NULL, NULL));
    ranks[0] = ranks[1] = POISON;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_local_create(0, NULL, ranks));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_local_create(2000, NULL, ranks));
    EXPECT_TRUE(ranks[0] == POISON); /* n out of range: the array is not touched */
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_local_create(2, &bad, ranks));
    EXPECT_TRUE(ranks[0] == NULL && ranks[1] == NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_local_run(2, NULL, NULL, NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_local_run(0, NULL, noop_rank, NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_local_run(2, &bad, noop_rank, NULL, NULL));
    clgrad_dist_release(NULL);
    EXPECT_TRUE(clgrad_dist_rank(NULL) == -1 && clgrad_dist_size(NULL) == 0);
    EXPECT_TRUE(clgrad_dist_local_rank(NULL) == -1 && clgrad_dist_local_size(NULL) == 0);
    EXPECT_TRUE(clgrad_dist_backend(NULL) == NULL);

    /* a real one-rank group for the calls that need one */
    ck_assert(clgrad_dist_local_create(1, NULL, &g) == CLGRAD_OK);
    EXPECT_TRUE(clgrad_dist_rank(g) == 0 && clgrad_dist_size(g) == 1 && strcmp(clgrad_dist_backend(g), "local") == 0);

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_device_selector(NULL, NULL, buf, sizeof buf));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_device_selector(g, NULL, NULL, sizeof buf));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_device_selector(g, NULL, buf, 4));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ctx, clgrad_dist_context_create(NULL, NULL, &ctx));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_context_create(g, NULL, NULL));

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_check(NULL, CLGRAD_OK));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_allreduce_sum(NULL, &v, 1));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_allreduce_sum(g, NULL, 3));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_broadcast_module(NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_broadcast_module(g, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_attach(NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_attach(g, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_sync(NULL, CLGRAD_OK));
    EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "no module", clgrad_dist_sync(g, CLGRAD_OK));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_get_stats(NULL, &st));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_get_stats(g, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_get_bucket_timing(NULL, 0, &bt));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_get_bucket_timing(g, 0, NULL));
    EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "no step", clgrad_dist_get_bucket_timing(g, 0, &bt));
    /* a one-rank group: the collectives work and leave values as they are */
    EXPECT_TRUE(clgrad_dist_allreduce_sum(g, &v, 1) == CLGRAD_OK && v == 1.0);
    EXPECT_TRUE(clgrad_dist_check(g, CLGRAD_OK) == CLGRAD_OK);
    /* a failure passed in breaks the group, for good */
    EXPECT_MSG(CLGRAD_ERR_SHAPE, "rank 0 of 1 failed", clgrad_dist_check(g, CLGRAD_ERR_SHAPE));
    EXPECT_MSG(CLGRAD_ERR_SHAPE, "rank 0 of 1 failed", clgrad_dist_allreduce_sum(g, &v, 1));
    clgrad_dist_release(g);

    /* the sampler */
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_sampler_create(10, 2, 0, 1, 0, 1, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, s, clgrad_dist_sampler_create(10, 2, 0, 0, 0, 1, &s));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, s, clgrad_dist_sampler_create(10, 2, 2, 2, 0, 1, &s));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, s, clgrad_dist_sampler_create(10, 2, -1, 2, 0, 1, &s));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, s, clgrad_dist_sampler_create(0, 2, 0, 2, 0, 1, &s));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, s, clgrad_dist_sampler_create(10, 0, 0, 2, 0, 1, &s));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, s, clgrad_dist_sampler_create(10, 12, 0, 2, 0, 1, &s));
    EXPECT_OUT_MSG(CLGRAD_ERR_INVALID_ARG, "does not divide", s, clgrad_dist_sampler_create(10, 3, 0, 2, 0, 1, &s));
    clgrad_dist_sampler_release(NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_sampler_set_epoch(NULL, 1));
    EXPECT_TRUE(clgrad_dist_sampler_steps(NULL) == 0 && clgrad_dist_sampler_local_batch(NULL) == 0);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_sampler_indices(NULL, 0, idx, 8, &n));
    ck_assert(clgrad_dist_sampler_create(10, 4, 1, 2, 5, 1, &s) == CLGRAD_OK);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_sampler_indices(s, 0, NULL, 8, &n));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_sampler_indices(s, 0, idx, 8, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_sampler_indices(s, 2, idx, 8, &n)); /* 10 / 4: 2 steps */
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dist_sampler_indices(s, -1, idx, 8, &n));
    EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "room for 1", clgrad_dist_sampler_indices(s, 0, idx, 1, &n));
    EXPECT_TRUE(clgrad_dist_sampler_indices(s, 1, idx, 8, &n) == CLGRAD_OK && n == 2);
    clgrad_dist_sampler_release(s);
    ARGS_DONE();
}
END_TEST

START_TEST(bad_dist)
{
    clgrad_dist *g = NULL, *g2 = NULL;
    clgrad_module *lin = NULL, *lin2 = NULL;
    char buf[32];
    ck_assert(clgrad_dist_local_create(1, NULL, &g) == CLGRAD_OK);
    ck_assert(clgrad_dist_local_create(1, NULL, &g2) == CLGRAD_OK);
    TH_OK(clgrad_linear_create(th_ctx, 3, 2, 1, 1, &lin));
    TH_OK(clgrad_linear_create(th_ctx, 3, 2, 1, 2, &lin2));
    EXPECT(CLGRAD_ERR_NO_DEVICE, clgrad_dist_device_selector(g, "no-such-device-anywhere", buf, sizeof buf));
    EXPECT_TRUE(buf[0] == '\0');
    EXPECT_TRUE(clgrad_dist_attach(g, lin) == CLGRAD_OK);
    EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "already", clgrad_dist_attach(g, lin2));
    EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "one per context", clgrad_dist_attach(g2, lin2));
    clgrad_dist_release(g2);
    clgrad_dist_release(g);
    /* released: the context has no hook left, so another group may attach */
    ck_assert(clgrad_dist_local_create(1, NULL, &g) == CLGRAD_OK);
    EXPECT_TRUE(clgrad_dist_attach(g, lin2) == CLGRAD_OK);
    clgrad_dist_release(g);
    clgrad_module_release(lin2);
    clgrad_module_release(lin);
    ARGS_DONE();
}
END_TEST

int main(void)
{
    const TTest *null_tests[] = {null_dist};
    const TTest *device_tests[] = {bad_dist};
    return ta_main("api_args_dist", null_tests, N_OF(null_tests), device_tests, N_OF(device_tests));
}
