/* The one launch idiom (src/ops/ops.h): CLGRAD_ARGS counts the arguments it is given (a
 * tensor is two), and a launch whose list does not match the kernel fails with a status
 * and a message instead of running. */
#include "harness.h"
#include "ops/ops.h"

#include <stdlib.h>
#include <string.h>

START_TEST(args_count_themselves)
{
    cl_long n = 3;
    cl_float v = 1.5f;
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(n));
    ck_assert_int_eq(a.n, 1);
    ck_assert_ptr_eq(a.v[0].ptr, &n);
    ck_assert_uint_eq(a.v[0].size, sizeof n);
    clgrad__kargs b = CLGRAD_ARGS(CLGRAD_KARG(n), CLGRAD_KARG(v), CLGRAD_KARG_LOCAL(64), CLGRAD_KARG(v));
    ck_assert_int_eq(b.n, 4);
    ck_assert_ptr_null(b.v[2].ptr);
    ck_assert_uint_eq(b.v[2].size, 64);
    ck_assert_int_eq(CLGRAD_NO_ARGS.n, 0);
}
END_TEST

START_TEST(tensor_argument_is_buffer_and_offset)
{
    int64_t shape[] = {5};
    clgrad_tensor *t = th_rand(1, shape, 1, 0, 1);
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(t), CLGRAD_KARG(t->offset));
    ck_assert_int_eq(a.n, 3);
    ck_assert_ptr_eq(a.v[0].ptr, &t->buf->mem);
    ck_assert_ptr_eq(a.v[1].ptr, &t->offset);
    clgrad_tensor_release(t);
}
END_TEST

START_TEST(a_short_argument_list_fails_cleanly)
{
    int64_t shape[] = {8};
    clgrad_tensor *t = th_rand(1, shape, 2, 0, 1);
    cl_long n = 8;
    /* fill_f32 takes (y, yoff, n, value): the value is missing */
    clgrad_status s = clgrad__launch_1d(th_ctx, "copy", "-DCOPY_VW=4", "fill_f32", 8,
                                        CLGRAD_ARGS(CLGRAD_KARG_T(t), CLGRAD_KARG(n)));
    ck_assert_int_ne(s, CLGRAD_OK);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "fill_f32"));
    /* the full list runs */
    cl_float v = 2.0f;
    TH_OK(clgrad__launch_1d(th_ctx, "copy", "-DCOPY_VW=4", "fill_f32", 8,
                            CLGRAD_ARGS(CLGRAD_KARG_T(t), CLGRAD_KARG(n), CLGRAD_KARG(v))));
    float *h = th_read(t);
    for (int i = 0; i < 8; i++) ck_assert_float_eq(h[i], 2.0f);
    free(h);
    clgrad_tensor_release(t);
}
END_TEST

static Suite *suite_ops_launch(void)
{
    Suite *s = suite_create("ops_launch");
    TCase *c = tcase_create("count");
    tcase_add_test(c, args_count_themselves);
    suite_add_tcase(s, c);
    TCase *l = tcase_create("launch");
    tcase_add_checked_fixture(l, th_setup, th_teardown);
    tcase_add_test(l, tensor_argument_is_buffer_and_offset);
    tcase_add_test(l, a_short_argument_list_fails_cleanly);
    suite_add_tcase(s, l);
    return s;
}

int main(void) { return th_run(suite_ops_launch(), 1); }
