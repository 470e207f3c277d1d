/* Status names, version queries and the per-thread error message. No device needed. */
#include "harness.h"

#include "core/core.h"

#include <string.h>

START_TEST(status_names_are_distinct_and_never_null)
{
    clgrad_status all[] = {CLGRAD_OK, CLGRAD_ERR_INVALID_ARG, CLGRAD_ERR_SHAPE, CLGRAD_ERR_HOST_MEMORY,
                           CLGRAD_ERR_DEVICE_MEMORY, CLGRAD_ERR_NO_DEVICE, CLGRAD_ERR_BUILD, CLGRAD_ERR_OPENCL,
                           CLGRAD_ERR_UNSUPPORTED, CLGRAD_ERR_IO};
    size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(clgrad_status_name(all[i]));
        for (size_t j = 0; j < i; j++) ck_assert_str_ne(clgrad_status_name(all[i]), clgrad_status_name(all[j]));
    }
    ck_assert_str_eq(clgrad_status_name(CLGRAD_ERR_BUILD), "CLGRAD_ERR_BUILD");
    ck_assert_ptr_nonnull(clgrad_status_name((clgrad_status)-12345));
}
END_TEST

START_TEST(status_values_are_stable)
{
    ck_assert_int_eq(CLGRAD_OK, 0);
    ck_assert_int_eq(CLGRAD_ERR_INVALID_ARG, -1);
    ck_assert_int_eq(CLGRAD_ERR_IO, -9);
}
END_TEST

START_TEST(version_matches_header)
{
    ck_assert_uint_eq(clgrad_version_number(), CLGRAD_VERSION_NUMBER);
    ck_assert_str_eq(clgrad_version_string(), CLGRAD_VERSION_STRING);
    ck_assert_uint_eq(CLGRAD_VERSION_NUMBER,
                      CLGRAD_VERSION_MAJOR * 10000u + CLGRAD_VERSION_MINOR * 100u + CLGRAD_VERSION_PATCH);
}
END_TEST

START_TEST(fail_records_message_for_thread)
{
    ck_assert_ptr_nonnull(clgrad_last_error(NULL));
    clgrad_status s = clgrad__fail(NULL, CLGRAD_ERR_SHAPE, "shapes %s and %s", "[2]", "[3]");
    ck_assert_int_eq(s, CLGRAD_ERR_SHAPE);
    ck_assert_str_eq(clgrad_last_error(NULL), "shapes [2] and [3]");
    clgrad__fail_append(NULL, " (more)");
    ck_assert_str_eq(clgrad_last_error(NULL), "shapes [2] and [3] (more)");
}
END_TEST

START_TEST(shape_str_formats_and_truncates)
{
    char b[64];
    int64_t s[3] = {2, 3, 4};
    ck_assert_str_eq(clgrad__shape_str(b, sizeof b, 3, s), "[2, 3, 4]");
    ck_assert_str_eq(clgrad__shape_str(b, sizeof b, 0, s), "[]");
    char tiny[4];
    clgrad__shape_str(tiny, sizeof tiny, 3, s);
    ck_assert_uint_lt(strlen(tiny), sizeof tiny);
}
END_TEST

static Suite *suite_core_error(void)
{
    Suite *s = suite_create("core_error");
    TCase *tc = tcase_create("status");
    tcase_add_test(tc, status_names_are_distinct_and_never_null);
    tcase_add_test(tc, status_values_are_stable);
    tcase_add_test(tc, version_matches_header);
    suite_add_tcase(s, tc);
    tc = tcase_create("messages");
    tcase_add_test(tc, fail_records_message_for_thread);
    tcase_add_test(tc, shape_str_formats_and_truncates);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_core_error(), 0); }
