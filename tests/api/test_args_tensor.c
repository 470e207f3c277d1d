/* Argument checks of include/clgrad/tensor.h: creation, transfers, shape getters, views,
 * copy_ and fill_ (see tests/support/args.h for what a check expects). */
#include "args.h"

#include <math.h>

/* The views and copies of tensor.h, valid on an f32 (2, 2, 2, 2) input; any dtype allowed. */
static clgrad_status w_reshape(clgrad_tensor *x, clgrad_tensor **o)
{
    int64_t s[1] = {-1};
    return clgrad_reshape(x, 1, s, o);
}
static clgrad_status w_permute(clgrad_tensor *x, clgrad_tensor **o)
{
    int perm[4] = {1, 0, 2, 3};
    return clgrad_permute(x, perm, o);
}
static clgrad_status w_transpose(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_transpose(x, 0, 1, o); }
static clgrad_status w_slice(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_slice(x, 0, 0, 1, 1, o); }
static clgrad_status w_expand(clgrad_tensor *x, clgrad_tensor **o)
{
    int64_t s[4] = {2, 2, 2, 2};
    return clgrad_expand(x, 4, s, o);
}

static const ta_unary views[] = {
    {"reshape", w_reshape, 0},
    {"permute", w_permute, 0},
    {"transpose", w_transpose, 0},
    {"slice", w_slice, 0},
    {"expand", w_expand, 0},
    {"contiguous", clgrad_contiguous, 0},
    {"clone", clgrad_clone, 0},
};

START_TEST(null_tensor)
{
    clgrad_tensor *o;
    float f = 0.0f;
    int64_t shape[2] = {7, 7};
    int perm[2] = {1, 0};
    char buf[8];

    EXPECT_TRUE(clgrad_dtype_size((clgrad_dtype)99) == 0);
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_empty(NULL, CLGRAD_DTYPE_F32, 2, s23, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_zeros(NULL, CLGRAD_DTYPE_F32, 2, s23, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_full(NULL, 2, s23, 1.0f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_ones(NULL, 2, s23, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_arange(NULL, 0, 4, 1, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_uniform(NULL, 2, s23, 1, 0.0f, 1.0f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_normal(NULL, 2, s23, 1, 0.0f, 1.0f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_from_host(NULL, CLGRAD_DTYPE_F32, 1, s23, &f, &o));

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_write(NULL, buf, 4));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_read(NULL, buf, 4));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_item(NULL, &f));
    {
        clgrad_pending *pd;
        EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, pd, clgrad_tensor_read_start(NULL, buf, 4, &pd));
        EXPECT_TRUE(clgrad_pending_wait(NULL) == CLGRAD_OK);
    }

    EXPECT_TRUE(clgrad_tensor_retain(NULL) == NULL);
    clgrad_tensor_release(NULL);
    EXPECT_TRUE(clgrad_tensor_context(NULL) == NULL);
    EXPECT_TRUE(clgrad_tensor_dtype(NULL) == CLGRAD_DTYPE_F32);
    EXPECT_TRUE(clgrad_tensor_ndim(NULL) == 0);
    EXPECT_TRUE(clgrad_tensor_dim(NULL, 0) == 0);
    clgrad_tensor_shape(NULL, shape);
    EXPECT_TRUE(shape[0] == 7 && shape[1] == 7);
    EXPECT_TRUE(clgrad_tensor_numel(NULL) == 0);
    EXPECT_TRUE(clgrad_tensor_is_contiguous(NULL) == 0);

    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_reshape(NULL, 2, s23, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_permute(NULL, perm, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_transpose(NULL, 0, 1, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_slice(NULL, 0, 0, 1, 1, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_expand(NULL, 2, s23, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_copy_(NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_fill_(NULL, 0.0f));

    ta_unary_null(views, N_OF(views));
    ARGS_DONE();
}
END_TEST

START_TEST(bad_tensor_creation)
{
    clgrad_tensor *o;
    float f[6] = {0};
    int64_t neg[2] = {2, -3};
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};

    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_empty(th_ctx, (clgrad_dtype)99, 2, s23, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, -1, s23, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 9, nine, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 2, NULL, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, -3]", o, clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 2, neg, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 2, s23, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_zeros(th_ctx, (clgrad_dtype)-4, 2, s23, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, -3]", o, clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, neg, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, s23, NULL));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, -3]", o, clgrad_tensor_full(th_ctx, 2, neg, 1.0f, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_tensor_full(th_ctx, -2, s23, 1.0f, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_full(th_ctx, 2, s23, 1.0f, NULL));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, -3]", o, clgrad_tensor_ones(th_ctx, 2, neg, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_ones(th_ctx, 2, NULL, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_ones(th_ctx, 2, s23, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_arange(th_ctx, 0, 4, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_arange(th_ctx, 0, NAN, 1, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_arange(th_ctx, 0, INFINITY, 1, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_arange(th_ctx, 0, 4, 1, NULL));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, -3]", o, clgrad_tensor_uniform(th_ctx, 2, neg, 1, 0.0f, 1.0f, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_uniform(th_ctx, 2, s23, 1, 0.0f, 1.0f, NULL));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, -3]", o, clgrad_tensor_normal(th_ctx, 2, neg, 1, 0.0f, 1.0f, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_normal(th_ctx, 2, s23, 1, 0.0f, 1.0f, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_F32, 2, s23, NULL, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_tensor_from_host(th_ctx, (clgrad_dtype)7, 2, s23, f, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, -3]", o, clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_F32, 2, neg, f, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_F32, 2, s23, f, NULL));
    ARGS_DONE();
}
END_TEST

START_TEST(bad_transfers_and_views)
{
    clgrad_tensor *t = ta_f32(2, s23), *u = ta_f32(2, s45), *ti = ta_i32(2, s23), *o;
    clgrad_context *c2 = ta_second_context();
    clgrad_tensor *t2 = ta_f32_on(c2, 2, s23);
    float buf[6], v;
    int64_t bad_shape[2] = {4, 4}, two_neg[2] = {-1, -1}, neg[2] = {-2, 3};
    int64_t ex_bad[2] = {4, 3}, ex_short[1] = {3};
    int perm_dup[2] = {0, 0}, perm_oob[2] = {0, 2};

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_write(t, NULL, sizeof buf));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_write(t, buf, sizeof buf - 4));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_read(t, NULL, sizeof buf));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_read(t, buf, sizeof buf + 4));
    {
        clgrad_pending *pd;
        EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, pd, clgrad_tensor_read_start(t, NULL, sizeof buf, &pd));
        EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, pd, clgrad_tensor_read_start(t, buf, sizeof buf + 4, &pd));
        EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_read_start(t, buf, sizeof buf, NULL));
    }
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_item(t, NULL));
    EXPECT_MSG(CLGRAD_ERR_SHAPE, "[2, 3]", clgrad_tensor_item(t, &v));
    EXPECT_TRUE(clgrad_tensor_dim(t, 2) == 0 && clgrad_tensor_dim(t, -3) == 0);

    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, 3]", o, clgrad_reshape(t, 2, bad_shape, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_reshape(t, 2, two_neg, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_reshape(t, 2, neg, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, 3]", o, clgrad_reshape(t, -1, s32, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_reshape(t, 2, NULL, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_reshape(t, 2, s32, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_permute(t, NULL, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_permute(t, perm_dup, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_permute(t, perm_oob, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_transpose(t, 0, 2, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_transpose(t, -3, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_slice(t, 2, 0, 1, 1, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_slice(t, 0, 0, 1, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_slice(t, 0, 0, 1, -1, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, 3]", o, clgrad_expand(t, 2, ex_bad, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, 3]", o, clgrad_expand(t, 1, ex_short, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_expand(t, 2, NULL, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, 3]", o, clgrad_expand(t, 9, s23, &o));

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_copy_(t, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_copy_(NULL, t));
    EXPECT_MSG(CLGRAD_ERR_SHAPE, "[2, 3]", clgrad_copy_(t, u));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_copy_(t, ti));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_copy_(t, t2));


    clgrad_tensor_release(t2);
    clgrad_context_release(c2);
    clgrad_tensor_release(t);
    clgrad_tensor_release(u);
    clgrad_tensor_release(ti);
    ta_unary_invalid(views, N_OF(views));
    ARGS_DONE();
}
END_TEST

int main(void)
{
    const TTest *null_tests[] = {null_tensor};
    const TTest *device_tests[] = {bad_tensor_creation, bad_transfers_and_views};
    return ta_main("api_args_tensor", null_tests, N_OF(null_tests), device_tests, N_OF(device_tests));
}
