/* Tensor creation, host transfers and views, checked element by element on the host. */
#include "harness.h"

#include "tensor/tensor.h"

#include <stdlib.h>
#include <string.h>

static float seq[4096];
static void fill_seq(void)
{
    for (int i = 0; i < 4096; i++) seq[i] = (float)i;
}

START_TEST(create_fill_and_read)
{
    int64_t shape[3] = {2, 3, 5};
    clgrad_tensor *z = NULL, *o = NULL, *f = NULL, *e = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 3, shape, &z));
    TH_OK(clgrad_tensor_ones(th_ctx, 3, shape, &o));
    TH_OK(clgrad_tensor_full(th_ctx, 3, shape, -1.5f, &f));
    TH_OK(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_I32, 3, shape, &e));
    ck_assert_int_eq(clgrad_tensor_numel(z), 30);
    ck_assert_int_eq(clgrad_tensor_ndim(z), 3);
    ck_assert_int_eq(clgrad_tensor_dim(z, -1), 5);
    ck_assert_int_eq(clgrad_tensor_dim(z, 7), 0);
    float h[30];
    TH_OK(clgrad_tensor_read(z, h, sizeof h));
    for (int i = 0; i < 30; i++) ck_assert_float_eq(h[i], 0.0f);
    TH_OK(clgrad_tensor_read(o, h, sizeof h));
    for (int i = 0; i < 30; i++) ck_assert_float_eq(h[i], 1.0f);
    TH_OK(clgrad_tensor_read(f, h, sizeof h));
    for (int i = 0; i < 30; i++) ck_assert_float_eq(h[i], -1.5f);
    int32_t iz[30];
    clgrad_tensor *zi = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, 3, shape, &zi));
    TH_OK(clgrad_tensor_read(zi, iz, sizeof iz));
    for (int i = 0; i < 30; i++) ck_assert_int_eq(iz[i], 0);
    clgrad_tensor_release(zi);
    clgrad_tensor_release(z);
    clgrad_tensor_release(o);
    clgrad_tensor_release(f);
    clgrad_tensor_release(e);
}
END_TEST

START_TEST(scalars_and_empty_tensors)
{
    clgrad_tensor *s = NULL, *e = NULL;
    TH_OK(clgrad_tensor_full(th_ctx, 0, NULL, 4.0f, &s));
    float v = 0;
    TH_OK(clgrad_tensor_item(s, &v));
    ck_assert_float_eq(v, 4.0f);
    int64_t zero[2] = {3, 0};
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, zero, &e));
    ck_assert_int_eq(clgrad_tensor_numel(e), 0);
    TH_OK(clgrad_tensor_read(e, NULL, 0));
    ck_assert_int_eq(clgrad_tensor_item(e, &v), CLGRAD_ERR_SHAPE);
    clgrad_tensor_release(s);
    clgrad_tensor_release(e);
}
END_TEST

START_TEST(arange_matches_numpy)
{
    clgrad_tensor *t = NULL;
    TH_OK(clgrad_tensor_arange(th_ctx, 1.0, 2.0, 0.25, &t));
    ck_assert_int_eq(clgrad_tensor_numel(t), 4);
    float h[4];
    TH_OK(clgrad_tensor_read(t, h, sizeof h));
    ck_assert_float_eq(h[0], 1.0f);
    ck_assert_float_eq(h[3], 1.75f);
    clgrad_tensor_release(t);
    TH_OK(clgrad_tensor_arange(th_ctx, 5.0, 0.0, -2.0, &t));
    ck_assert_int_eq(clgrad_tensor_numel(t), 3);
    clgrad_tensor_release(t);
    ck_assert_int_eq(clgrad_tensor_arange(th_ctx, 0, 1, 0, &t), CLGRAD_ERR_INVALID_ARG);
}
END_TEST

START_TEST(transpose_slice_and_noncontiguous_reads)
{
    fill_seq();
    int64_t shape[3] = {3, 4, 5};
    clgrad_tensor *x = th_tensor(3, shape, seq), *t = NULL, *s = NULL, *p = NULL;
    TH_OK(clgrad_transpose(x, 0, 2, &t)); /* (5, 4, 3) */
    ck_assert(!clgrad_tensor_is_contiguous(t));
    float *h = th_read(t);
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 3; c++) ck_assert_float_eq(h[(a * 4 + b) * 3 + c], seq[(c * 4 + b) * 5 + a]);
    free(h);
    TH_OK(clgrad_slice(x, 2, 1, -1, 2, &s)); /* last dim: 1, 3 */
    ck_assert_int_eq(clgrad_tensor_dim(s, 2), 2);
    h = th_read(s);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 4; b++) {
            ck_assert_float_eq(h[(a * 4 + b) * 2 + 0], seq[(a * 4 + b) * 5 + 1]);
            ck_assert_float_eq(h[(a * 4 + b) * 2 + 1], seq[(a * 4 + b) * 5 + 3]);
        }
    free(h);
    int perm[3] = {1, 2, 0};
    TH_OK(clgrad_permute(x, perm, &p)); /* (4, 5, 3) */
    h = th_read(p);
    ck_assert_float_eq(h[(2 * 5 + 3) * 3 + 1], seq[(1 * 4 + 2) * 5 + 3]);
    free(h);
    int bad[3] = {0, 0, 1};
    clgrad_tensor *q = NULL;
    ck_assert_int_eq(clgrad_permute(x, bad, &q), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_slice(x, 5, 0, 1, 1, &q), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_slice(x, 0, 0, 1, 0, &q), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(x);
    clgrad_tensor_release(t);
    clgrad_tensor_release(s);
    clgrad_tensor_release(p);
}
END_TEST

START_TEST(reshape_views_when_possible_and_copies_otherwise)
{
    fill_seq();
    int64_t shape[2] = {6, 4};
    clgrad_tensor *x = th_tensor(2, shape, seq), *r = NULL, *t = NULL, *r2 = NULL;
    int64_t ns[3] = {2, -1, 4};
    TH_OK(clgrad_reshape(x, 3, ns, &r));
    ck_assert_int_eq(clgrad_tensor_dim(r, 1), 3);
    TH_OK(clgrad_transpose(x, 0, 1, &t)); /* (4, 6), not contiguous */
    int64_t flat[1] = {24};
    TH_OK(clgrad_reshape(t, 1, flat, &r2)); /* needs a copy */
    float *h = th_read(r2);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 6; j++) ck_assert_float_eq(h[i * 6 + j], seq[j * 4 + i]);
    free(h);
    int64_t wrong[2] = {5, 5};
    clgrad_tensor *q = NULL;
    ck_assert_int_eq(clgrad_reshape(x, 2, wrong, &q), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[6, 4]"));
    ck_assert_ptr_null(q);
    clgrad_tensor_release(x);
    clgrad_tensor_release(r);
    clgrad_tensor_release(t);
    clgrad_tensor_release(r2);
}
END_TEST

START_TEST(expand_broadcasts_with_zero_strides)
{
    float v[3] = {1, 2, 3};
    int64_t shape[2] = {3, 1};
    clgrad_tensor *x = th_tensor(2, shape, v), *e = NULL;
    int64_t to[3] = {2, 3, 4};
    TH_OK(clgrad_expand(x, 3, to, &e));
    float *h = th_read(e);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 4; c++) ck_assert_float_eq(h[(a * 3 + b) * 4 + c], v[b]);
    free(h);
    int64_t bad[2] = {4, 4};
    clgrad_tensor *q = NULL;
    ck_assert_int_eq(clgrad_expand(x, 2, bad, &q), CLGRAD_ERR_SHAPE);
    clgrad_tensor_release(x);
    clgrad_tensor_release(e);
}
END_TEST

START_TEST(write_through_a_view)
{
    int64_t shape[2] = {3, 4};
    clgrad_tensor *x = NULL, *t = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, shape, &x));
    TH_OK(clgrad_transpose(x, 0, 1, &t));
    float v[12];
    for (int i = 0; i < 12; i++) v[i] = (float)i;
    TH_OK(clgrad_tensor_write(t, v, sizeof v)); /* t is (4, 3) */
    float h[12];
    TH_OK(clgrad_tensor_read(x, h, sizeof h));
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) ck_assert_float_eq(h[i * 4 + j], v[j * 3 + i]);
    ck_assert_int_eq(clgrad_tensor_write(t, v, 8), CLGRAD_ERR_INVALID_ARG);
    TH_OK(clgrad_fill_(t, 7.0f));
    TH_OK(clgrad_tensor_read(x, h, sizeof h));
    for (int i = 0; i < 12; i++) ck_assert_float_eq(h[i], 7.0f);
    clgrad_tensor_release(x);
    clgrad_tensor_release(t);
}
END_TEST

/* A write takes the data at once (src may be overwritten on return) yet queues the device
 * copy in order; a started read sees the tensor as of its start, not later work. */
START_TEST(writes_take_the_data_and_reads_run_in_flight)
{
    enum { N = 100003 };
    int64_t n = N;
    float *src = malloc(N * sizeof *src), *got = malloc(N * sizeof *got), *later = malloc(N * sizeof *later);
    for (int i = 0; i < N; i++) src[i] = (float)i;
    clgrad_tensor *t = NULL, *u = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, &n, &t));
    TH_OK(clgrad_tensor_write(t, src, N * sizeof *src));
    for (int i = 0; i < N; i++) src[i] = -1.0f; /* reused at once */
    clgrad_pending *p = NULL, *q = NULL;
    TH_OK(clgrad_tensor_read_start(t, got, N * sizeof *got, &p));
    TH_OK(clgrad_mul_scalar(t, 2.0f, &u));   /* later work: not in the read */
    TH_OK(clgrad_fill_(t, 5.0f));
    TH_OK(clgrad_tensor_read_start(u, later, N * sizeof *later, &q));
    TH_OK(clgrad_pending_wait(p));
    TH_OK(clgrad_pending_wait(q));
    for (int i = 0; i < N; i++) {
        ck_assert_float_eq(got[i], (float)i);
        ck_assert_float_eq(later[i], 2.0f * (float)i);
    }
    /* a strided view reads in row-major order, in flight too */
    clgrad_tensor *v = NULL;
    int64_t s2[2] = {2, 3};
    float h6[6] = {1, 2, 3, 4, 5, 6}, r6[6];
    clgrad_tensor *m = th_tensor(2, s2, h6);
    TH_OK(clgrad_transpose(m, 0, 1, &v));
    TH_OK(clgrad_tensor_read_start(v, r6, sizeof r6, &p));
    TH_OK(clgrad_pending_wait(p));
    const float want[6] = {1, 4, 2, 5, 3, 6};
    for (int i = 0; i < 6; i++) ck_assert_float_eq(r6[i], want[i]);
    clgrad_tensor_release(v), clgrad_tensor_release(m);
    clgrad_tensor_release(u), clgrad_tensor_release(t);
    free(src), free(got), free(later);
}
END_TEST

START_TEST(invalid_arguments_fail_cleanly)
{
    clgrad_tensor *t = (clgrad_tensor *)1;
    int64_t neg[1] = {-2};
    ck_assert_int_eq(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 1, neg, &t), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(t);
    int64_t ok[1] = {2};
    ck_assert_int_eq(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 9, ok, &t), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_tensor_empty(NULL, CLGRAD_DTYPE_F32, 1, ok, &t), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 1, ok, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F16, 1, ok, &t), CLGRAD_ERR_UNSUPPORTED);
    ck_assert_int_eq(clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_F32, 1, ok, NULL, &t), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_tensor_read(NULL, NULL, 0), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_tensor_write(NULL, NULL, 0), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_reshape(NULL, 1, ok, &t), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_contiguous(NULL, &t), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_clone(NULL, &t), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_copy_(NULL, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_fill_(NULL, 0), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(NULL);
    ck_assert_ptr_null(clgrad_tensor_retain(NULL));
    ck_assert_int_eq(clgrad_tensor_numel(NULL), 0);
    ck_assert_ptr_null(clgrad_tensor_context(NULL));
    clgrad_context_stats st;
    TH_OK(clgrad_context_get_stats(th_ctx, &st));
    ck_assert_uint_eq(st.live_tensors, 0);
}
END_TEST

/* Autograd copies a gradient before keeping it when another handle could see its storage. */
START_TEST(storage_sharing_is_reported)
{
    int64_t shape[2] = {2, 3}, flat[1] = {6};
    clgrad_tensor *x = NULL, *v = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, shape, &x));
    ck_assert_int_eq(clgrad__tensor_is_shared(x), 0);
    clgrad_tensor_retain(x); /* a second reference to the handle */
    ck_assert_int_eq(clgrad__tensor_is_shared(x), 1);
    clgrad_tensor_release(x);
    TH_OK(clgrad__reshape_view(x, 1, flat, &v)); /* a second handle on the buffer */
    ck_assert_int_eq(clgrad__tensor_is_shared(x), 1);
    ck_assert_int_eq(clgrad__tensor_is_shared(v), 1);
    clgrad_tensor_release(x);
    ck_assert_int_eq(clgrad__tensor_is_shared(v), 0);
    clgrad_tensor_release(v);
}
END_TEST

static Suite *suite_tensor_tensor(void)
{
    Suite *s = suite_create("tensor_tensor");
    TCase *tc = tcase_create("tensor");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, create_fill_and_read);
    tcase_add_test(tc, scalars_and_empty_tensors);
    tcase_add_test(tc, arange_matches_numpy);
    tcase_add_test(tc, transpose_slice_and_noncontiguous_reads);
    tcase_add_test(tc, reshape_views_when_possible_and_copies_otherwise);
    tcase_add_test(tc, expand_broadcasts_with_zero_strides);
    tcase_add_test(tc, write_through_a_view);
    tcase_add_test(tc, writes_take_the_data_and_reads_run_in_flight);
    tcase_add_test(tc, invalid_arguments_fail_cleanly);
    tcase_add_test(tc, storage_sharing_is_reported);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_tensor_tensor(), 1); }
