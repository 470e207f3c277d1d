/* The buffer pool: size classes, reuse without new clCreateBuffer calls, counters that
 * return to their starting values, and a clear error for impossible allocations. */
#include "harness.h"

#include "memory/memory.h"

#include <stdio.h>
#include <string.h>

START_TEST(size_classes_round_up_and_bound_waste)
{
    ck_assert_uint_eq(clgrad__size_class(0), 256);
    ck_assert_uint_eq(clgrad__size_class(1), 256);
    ck_assert_uint_eq(clgrad__size_class(256), 256);
    ck_assert_uint_eq(clgrad__size_class(257), 512);
    ck_assert_uint_eq(clgrad__size_class(4096), 4096);
    for (size_t n = 4097; n < (size_t)1 << 30; n = n * 3 / 2 + 7) {
        size_t c = clgrad__size_class(n);
        ck_assert_uint_ge(c, n);
        ck_assert_uint_le(c, n + n / 4 + 1); /* at most 25% waste */
        ck_assert_uint_eq(clgrad__size_class(c), c);
    }
}
END_TEST

START_TEST(steady_state_makes_no_new_buffers)
{
    clgrad_context_stats s0, s1, s2;
    int64_t shapes[3][2] = {{64, 128}, {3, 7}, {1000, 33}};
    clgrad_context_get_stats(th_ctx, &s0);
    for (int step = 0; step < 3; step++) {
        clgrad_tensor *t[3] = {0};
        for (int i = 0; i < 3; i++) TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, shapes[i], &t[i]));
        for (int i = 0; i < 3; i++) clgrad_tensor_release(t[i]);
        if (step == 0) clgrad_context_get_stats(th_ctx, &s1);
    }
    clgrad_context_get_stats(th_ctx, &s2);
    ck_assert_uint_eq(s1.buffers_created - s0.buffers_created, 3);
    ck_assert_uint_eq(s2.buffers_created, s1.buffers_created); /* steps 2 and 3 reused */
    ck_assert_uint_ge(s2.pool_hits, 6);
    ck_assert_uint_eq(s2.live_buffers, s0.live_buffers);
    ck_assert_uint_eq(s2.live_tensors, s0.live_tensors);
    ck_assert_uint_ge(s2.peak_device_bytes, s2.device_bytes);
    ck_assert_uint_ge(s2.peak_device_bytes, 4 * (64 * 128 + 3 * 7 + 1000 * 33));
    uint64_t peak = s2.peak_device_bytes;
    clgrad_context_trim(th_ctx);
    clgrad_context_get_stats(th_ctx, &s2);
    ck_assert_uint_eq(s2.pooled_buffers, 0);
    ck_assert_uint_lt(s2.device_bytes, peak);
    ck_assert_uint_eq(s2.peak_device_bytes, peak); /* the peak stays */
}
END_TEST

START_TEST(views_keep_the_buffer_alive)
{
    int64_t shape[2] = {4, 5};
    clgrad_tensor *t = NULL, *v = NULL;
    TH_OK(clgrad_tensor_full(th_ctx, 2, shape, 3.0f, &t));
    TH_OK(clgrad_transpose(t, 0, 1, &v));
    clgrad_tensor_release(t);
    float h[20];
    TH_OK(clgrad_tensor_read(v, h, sizeof h));
    for (int i = 0; i < 20; i++) ck_assert_float_eq(h[i], 3.0f);
    clgrad_context_stats s;
    clgrad_context_get_stats(th_ctx, &s);
    ck_assert_uint_eq(s.live_buffers, 1);
    clgrad_tensor_release(v);
    clgrad_context_get_stats(th_ctx, &s);
    ck_assert_uint_eq(s.live_buffers, 0);
    ck_assert_uint_eq(s.live_tensors, 0);
}
END_TEST

START_TEST(too_large_allocation_names_the_size)
{
    const clgrad_device_info *d = clgrad_context_device(th_ctx);
    int64_t n = (int64_t)(d->max_alloc_bytes / 4) + 1024;
    int64_t shape[1] = {n};
    clgrad_tensor *t = NULL;
    clgrad_status s = clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 1, shape, &t);
    ck_assert_int_eq(s, CLGRAD_ERR_DEVICE_MEMORY);
    ck_assert_ptr_null(t);
    char want[64];
    snprintf(want, sizeof want, "%lld bytes", (long long)(n * 4));
    ck_assert_msg(strstr(clgrad_last_error(th_ctx), want) != NULL, "message: %s", clgrad_last_error(th_ctx));
    /* the context still works afterwards */
    int64_t small[1] = {8};
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, small, &t));
    clgrad_tensor_release(t);
}
END_TEST

static Suite *suite_memory_pool(void)
{
    Suite *s = suite_create("memory_pool");
    TCase *tc = tcase_create("classes");
    tcase_add_test(tc, size_classes_round_up_and_bound_waste);
    suite_add_tcase(s, tc);
    tc = tcase_create("pool");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, steady_state_makes_no_new_buffers);
    tcase_add_test(tc, views_keep_the_buffer_alive);
    tcase_add_test(tc, too_large_allocation_names_the_size);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_memory_pool(), 1); }
