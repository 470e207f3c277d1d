/* Argument checks of include/clgrad/profile.h (see tests/support/args.h for what a check
 * expects). */
#include "args.h"

START_TEST(null_profile)
{
    clgrad_profile_summary sum;
    char buf[8];
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_profile_begin(NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_profile_set_phase(NULL, CLGRAD_PROFILE_FORWARD));
    EXPECT_TRUE(clgrad_profile_get_phase(NULL) == CLGRAD_PROFILE_OTHER);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_profile_step(NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_profile_end(NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_profile_get(NULL, &sum));
    EXPECT_TRUE(clgrad_profile_report(NULL, buf, sizeof buf) == 0);
    ARGS_DONE();
}
END_TEST

START_TEST(bad_profile)
{
    clgrad_profile_summary sum;
    /* th_ctx has no profiling queue */
    EXPECT_MSG(CLGRAD_ERR_UNSUPPORTED, "CLGRAD_CONTEXT_PROFILING", clgrad_profile_begin(th_ctx));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_profile_set_phase(th_ctx, CLGRAD_PROFILE_PHASES));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_profile_set_phase(th_ctx, (clgrad_profile_phase)-1));
    EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "no profile", clgrad_profile_end(th_ctx));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_profile_get(th_ctx, NULL));
    EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "no ended profile", clgrad_profile_get(th_ctx, &sum));
    EXPECT_TRUE(clgrad_profile_report(th_ctx, NULL, 16) == 0);
    EXPECT_TRUE(clgrad_profile_report(th_ctx, NULL, 0) == 0); /* nothing recorded */
    /* without a profile these are no-ops that succeed */
    EXPECT_TRUE(clgrad_profile_set_phase(th_ctx, CLGRAD_PROFILE_FORWARD) == CLGRAD_OK);
    EXPECT_TRUE(clgrad_profile_step(th_ctx) == CLGRAD_OK);
    EXPECT_TRUE(clgrad_profile_get_phase(th_ctx) == CLGRAD_PROFILE_OTHER);
    ARGS_DONE();
}
END_TEST

int main(void)
{
    const TTest *null_tests[] = {null_profile};
    const TTest *device_tests[] = {bad_profile};
    return ta_main("api_args_profile", null_tests, N_OF(null_tests), device_tests, N_OF(device_tests));
}
