/* Device ranking and selectors on made-up device lists (no OpenCL), then enumeration,
 * selection and the no-platform error on the real ICD loader. */
#include "harness.h"

#include "device/device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static clgrad_device_info fake(int p, int d, const char *plat, const char *name, clgrad_device_kind k, int cu, int mhz)
{
    clgrad_device_info i;
    memset(&i, 0, sizeof i);
    i.platform_index = p;
    i.device_index = d;
    snprintf(i.platform_name, sizeof i.platform_name, "%s", plat);
    snprintf(i.name, sizeof i.name, "%s", name);
    i.kind = k;
    i.compute_units = cu;
    i.clock_mhz = mhz;
    i.available = 1;
    i.compiler_available = 1;
    return i;
}

static clgrad_device_info devs[5];
static void make_list(void)
{
    devs[0] = fake(0, 0, "Portable Computing Language", "pthread-skylake", CLGRAD_DEVICE_KIND_CPU, 64, 3000);
    devs[1] = fake(1, 0, "Intel(R) OpenCL Graphics", "Intel(R) UHD Graphics 770", CLGRAD_DEVICE_KIND_GPU_INTEGRATED, 32, 1450);
    devs[2] = fake(2, 0, "NVIDIA CUDA", "NVIDIA GeForce RTX 3060", CLGRAD_DEVICE_KIND_GPU_DISCRETE, 28, 1777);
    devs[3] = fake(2, 1, "NVIDIA CUDA", "NVIDIA GeForce RTX 4090", CLGRAD_DEVICE_KIND_GPU_DISCRETE, 128, 2520);
    devs[4] = fake(3, 0, "Xilinx", "fpga0", CLGRAD_DEVICE_KIND_ACCELERATOR, 1, 300);
}

static int pick(const char *sel)
{
    int idx = -7;
    clgrad_status s = clgrad_devices_select(devs, 5, sel, &idx);
    return s == CLGRAD_OK ? idx : -1;
}

START_TEST(default_ranks_discrete_gpu_first_then_by_throughput)
{
    make_list();
    ck_assert_int_eq(pick(NULL), 3);
    ck_assert_int_eq(pick(""), 3);
    devs[3].available = 0; /* unavailable devices are never picked */
    ck_assert_int_eq(pick(NULL), 2);
    devs[2].compiler_available = 0;
    ck_assert_int_eq(pick(NULL), 1); /* integrated GPU beats accelerator and CPU */
    devs[1].available = 0;
    ck_assert_int_eq(pick(NULL), 4); /* accelerator beats CPU */
}
END_TEST

START_TEST(kind_selectors)
{
    make_list();
    ck_assert_int_eq(pick("cpu"), 0);
    ck_assert_int_eq(pick("CPU"), 0);
    ck_assert_int_eq(pick("gpu"), 3);
    ck_assert_int_eq(pick("accel"), 4);
    devs[2].available = devs[3].available = 0;
    ck_assert_int_eq(pick("gpu"), 1); /* integrated counts as a GPU */
}
END_TEST

START_TEST(index_selectors)
{
    make_list();
    ck_assert_int_eq(pick("0:0"), 0);
    ck_assert_int_eq(pick("2:0"), 2);
    ck_assert_int_eq(pick("2:1"), 3);
    ck_assert_int_eq(pick("9:0"), -1);
    ck_assert_int_eq(pick("2:"), -1); /* not an index pair: a (non-matching) name */
}
END_TEST

START_TEST(name_substring_selectors_are_case_insensitive)
{
    make_list();
    ck_assert_int_eq(pick("nvidia"), 3); /* best of the matches */
    ck_assert_int_eq(pick("3060"), 2);
    ck_assert_int_eq(pick("pocl"), -1);
    ck_assert_int_eq(pick("portable"), 0);
    ck_assert_int_eq(pick("intel"), 1);
}
END_TEST

START_TEST(no_match_lists_existing_devices)
{
    make_list();
    int idx = 0;
    ck_assert_int_eq(clgrad_devices_select(devs, 5, "radeon", &idx), CLGRAD_ERR_NO_DEVICE);
    const char *m = clgrad_last_error(NULL);
    ck_assert_ptr_nonnull(strstr(m, "radeon"));
    ck_assert_ptr_nonnull(strstr(m, "RTX 4090"));
    ck_assert_ptr_nonnull(strstr(m, "2:1"));
    ck_assert_int_eq(clgrad_devices_select(devs, 0, NULL, &idx), CLGRAD_ERR_NO_DEVICE);
    ck_assert_int_eq(clgrad_devices_select(NULL, 3, NULL, &idx), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_devices_select(devs, 5, NULL, NULL), CLGRAD_ERR_INVALID_ARG);
}
END_TEST

START_TEST(error_names_cover_cl_and_khr_codes)
{
    ck_assert_str_eq(clgrad__cl_error_name(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
    ck_assert_str_eq(clgrad__cl_error_name(-5), "CL_OUT_OF_RESOURCES");
    ck_assert_str_eq(clgrad__cl_error_name(-11), "CL_BUILD_PROGRAM_FAILURE");
    ck_assert_str_eq(clgrad__cl_error_name(-4), "CL_MEM_OBJECT_ALLOCATION_FAILURE");
    ck_assert_str_eq(clgrad__cl_error_name(-99999), "CL_UNKNOWN_ERROR");
    ck_assert_int_eq(clgrad__cl_fail(NULL, -4, "x"), CLGRAD_ERR_DEVICE_MEMORY);
    ck_assert_int_eq(clgrad__cl_fail(NULL, -30, "x"), CLGRAD_ERR_OPENCL);
}
END_TEST

/* --- with the real loader (each test runs in its own forked child) ---------------------- */

START_TEST(enumerates_and_selects_a_real_device)
{
    clgrad_device_info *list = NULL;
    int n = 0;
    clgrad_status s = clgrad_devices_list(&list, &n);
    if (s == CLGRAD_ERR_NO_DEVICE) return; /* no OpenCL here: covered by the skip of device tests */
    ck_assert_int_eq(s, CLGRAD_OK);
    ck_assert_int_gt(n, 0);
    for (int i = 0; i < n; i++) {
        ck_assert_int_gt(strlen(list[i].name), 0);
        ck_assert_int_ge(list[i].cl_c_major, 1);
        ck_assert_uint_gt(list[i].max_work_group_size, 0);
        for (int d = 0; d < 3; d++) ck_assert_uint_gt(list[i].max_work_item_sizes[d], 0);
        ck_assert_uint_gt(list[i].max_alloc_bytes, 0);
    }
    clgrad_devices_free(list);
    clgrad_context *ctx = NULL;
    clgrad_context_desc d = {.device = "cpu", .cache_dir = "off"};
    s = clgrad_context_create(&d, &ctx);
    if (s == CLGRAD_OK) {
        ck_assert_int_eq(clgrad_context_device(ctx)->kind, CLGRAD_DEVICE_KIND_CPU);
        clgrad_context_release(ctx);
    }
    d.device = "no-such-device-anywhere";
    ck_assert_int_eq(clgrad_context_create(&d, &ctx), CLGRAD_ERR_NO_DEVICE);
    ck_assert_ptr_null(ctx);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "no-such-device-anywhere"));
}
END_TEST

START_TEST(environment_selector_is_used)
{
    setenv("CLGRAD_DEVICE", "no-such-device-anywhere", 1);
    clgrad_context *ctx = NULL;
    clgrad_context_desc d = {.cache_dir = "off"};
    clgrad_status s = clgrad_context_create(&d, &ctx);
    ck_assert_int_eq(s, CLGRAD_ERR_NO_DEVICE);
    unsetenv("CLGRAD_DEVICE");
}
END_TEST

START_TEST(no_platform_is_a_clear_error)
{
    char dir[512];
    th_tmpdir(dir, sizeof dir, "empty-vendors");
    setenv("OCL_ICD_VENDORS", dir, 1);
    clgrad_device_info *list = (clgrad_device_info *)1;
    int n = 5;
    ck_assert_int_eq(clgrad_devices_list(&list, &n), CLGRAD_ERR_NO_DEVICE);
    ck_assert_ptr_null(list);
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "/etc/OpenCL/vendors"));
    clgrad_context *ctx = NULL;
    ck_assert_int_eq(clgrad_context_create(NULL, &ctx), CLGRAD_ERR_NO_DEVICE);
    ck_assert_ptr_null(ctx);
    ck_assert_ptr_null(clgrad_context_default());
    rmdir(dir);
}
END_TEST

START_TEST(null_arguments_are_rejected)
{
    ck_assert_int_eq(clgrad_devices_list(NULL, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_context_create(NULL, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_context_finish(NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_context_build_all(NULL), CLGRAD_ERR_INVALID_ARG);
    clgrad_context_stats st;
    ck_assert_int_eq(clgrad_context_get_stats(NULL, &st), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(clgrad_context_device(NULL));
    clgrad_context_release(NULL);
    clgrad_devices_free(NULL);
    clgrad_context_trim(NULL);
}
END_TEST

static Suite *suite_device_device(void)
{
    Suite *s = suite_create("device_device");
    TCase *tc = tcase_create("select");
    tcase_add_test(tc, default_ranks_discrete_gpu_first_then_by_throughput);
    tcase_add_test(tc, kind_selectors);
    tcase_add_test(tc, index_selectors);
    tcase_add_test(tc, name_substring_selectors_are_case_insensitive);
    tcase_add_test(tc, no_match_lists_existing_devices);
    tcase_add_test(tc, error_names_cover_cl_and_khr_codes);
    tcase_add_test(tc, null_arguments_are_rejected);
    suite_add_tcase(s, tc);
    tc = tcase_create("loader");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, enumerates_and_selects_a_real_device);
    tcase_add_test(tc, environment_selector_is_used);
    tcase_add_test(tc, no_platform_is_a_clear_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_device_device(), 0); }
