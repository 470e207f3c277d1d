/* Argument checks of include/clgrad.h: status names, errors, versions, devices and contexts
 * (see tests/support/args.h for what a check expects). clgrad_version_number,
 * clgrad_version_string and clgrad_shutdown take no arguments and are called to show that
 * they are safe at any time. */
#include "args.h"

#include <math.h>

START_TEST(null_core_and_device)
{
    clgrad_context *ctx;
    clgrad_device_info *list;
    int n = 0, idx = 0;
    clgrad_context_stats st;

    EXPECT_TRUE(clgrad_status_name((clgrad_status)12345) != NULL);
    EXPECT_TRUE(clgrad_last_error(NULL) != NULL);
    EXPECT_TRUE(clgrad_version_number() == CLGRAD_VERSION_NUMBER);
    EXPECT_TRUE(clgrad_version_string() != NULL);
    clgrad_shutdown(); /* nothing to release yet */

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_devices_list(NULL, &n));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, list, clgrad_devices_list(&list, NULL));
    clgrad_devices_free(NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_devices_select(NULL, 1, NULL, &idx));

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_create(NULL, NULL));
    clgrad_context_release(NULL);
    EXPECT_TRUE(clgrad_context_device(NULL) == NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_finish(NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_get_stats(NULL, &st));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_build_all(NULL));
    clgrad_context_trim(NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_set_gemm_provider(NULL, "own"));
    EXPECT_TRUE(clgrad_context_gemm_provider(NULL) == NULL);
    EXPECT_TRUE(clgrad_context_diagnostics(NULL) == NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_tune(NULL, NULL));
    EXPECT_TRUE(clgrad_context_tuning(NULL) == NULL);
    (void)ctx;
    ARGS_DONE();
}
END_TEST

START_TEST(bad_device_and_context)
{
    clgrad_device_info *list = NULL;
    int n = 0, idx = -5;
    clgrad_context *ctx;
    clgrad_context_desc d = {0};

    TH_OK(clgrad_devices_list(&list, &n));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_devices_select(list, -1, NULL, &idx));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_devices_select(list, n, NULL, NULL));
    EXPECT(CLGRAD_ERR_NO_DEVICE, clgrad_devices_select(list, n, "no-such-device-anywhere", &idx));
    EXPECT(CLGRAD_ERR_NO_DEVICE, clgrad_devices_select(list, n, "99:99", &idx));
    EXPECT(CLGRAD_ERR_NO_DEVICE, clgrad_devices_select(list, 0, NULL, &idx));
    clgrad_devices_free(list);

    d.device = "no-such-device-anywhere";
    EXPECT_OUT(CLGRAD_ERR_NO_DEVICE, ctx, clgrad_context_create(&d, &ctx));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_get_stats(th_ctx, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_set_gemm_provider(th_ctx, "no-such-gemm"));
    EXPECT_TRUE(clgrad_context_device(th_ctx) != NULL);
    EXPECT_TRUE(clgrad_context_diagnostics(th_ctx) != NULL);
    /* the tuner needs a cache folder to keep its results, and a budget that is a number */
    clgrad_context_desc nc = {.cache_dir = ""};
    clgrad_context *nocache = NULL;
    TH_OK(clgrad_context_create(&nc, &nocache));
    EXPECT_MSG(CLGRAD_ERR_UNSUPPORTED, "cache folder", clgrad_context_tune(nocache, NULL));
    clgrad_context_release(nocache);
    clgrad_tune_options nan_budget = {.budget_seconds = NAN};
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_tune(th_ctx, &nan_budget));
    EXPECT_TRUE(clgrad_context_tuning(th_ctx) != NULL);

    /* The process-wide context: made on first use, the same one after, released by shutdown. */
    clgrad_context *def = clgrad_context_default();
    EXPECT_TRUE(def != NULL && clgrad_context_default() == def);
    clgrad_shutdown();
    ARGS_DONE();
}
END_TEST

int main(void)
{
    const TTest *null_tests[] = {null_core_and_device};
    const TTest *device_tests[] = {bad_device_and_context};
    return ta_main("api_args_clgrad", null_tests, N_OF(null_tests), device_tests, N_OF(device_tests));
}
