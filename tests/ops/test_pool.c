/* Pooling against the plain-C references: max pooling (values, indices, gradient with
 * overlapping windows and ties), average pooling with padding counted in the divisor, and
 * global average pooling, on odd sizes, strides, padding, contiguous and strided inputs;
 * error paths. */
#include "harness.h"
#include "ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pool_case {
    int n, c, h, w, kh, kw, sh, sw, ph, pw;
} pool_case;

static const pool_case CASES[] = {
    {1, 1, 1, 1, 1, 1, 1, 1, 0, 0},  /* all ones */
    {2, 3, 8, 8, 2, 2, 2, 2, 0, 0},  /* the usual 2x2 */
    {2, 3, 7, 5, 3, 3, 2, 2, 1, 1},  /* overlapping, odd, padding */
    {1, 5, 11, 13, 3, 2, 1, 2, 1, 1},/* stride 1 overlap, asymmetric */
    {3, 2, 9, 6, 5, 3, 3, 1, 2, 0},  /* big window */
    {2, 2, 6, 7, 2, 3, 3, 3, 1, 1},  /* stride > kernel on one axis */
    {1, 1, 28, 28, 2, 2, 0, 0, 0, 0},/* stride 0 = kernel */
};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

static void expect(const char *what, int ci, const clgrad_tensor *t, const float *want, int64_t n, double atol)
{
    char name[128];
    snprintf(name, sizeof name, "case %d: %s", ci, what);
    ck_assert_int_eq(clgrad_tensor_numel(t), n);
    float *got = th_read(t);
    th_allclose(name, got, want, (size_t)n, atol, 1e-5);
    free(got);
}

static void check_case(int ci, const pool_case *c, int strided, int ties)
{
    int sh = c->sh ? c->sh : c->kh, sw = c->sw ? c->sw : c->kw;
    ref_pool2d_params rp = {c->n * c->c, c->h, c->w, c->kh, c->kw, sh, sw, c->ph, c->pw};
    int ho = ref_pool2d_out_dim(c->h, c->kh, sh, c->ph), wo = ref_pool2d_out_dim(c->w, c->kw, sw, c->pw);
    int64_t xs[4] = {c->n, c->c, c->h, c->w}, ys[4] = {c->n, c->c, ho, wo};
    int64_t nx = xs[0] * xs[1] * xs[2] * xs[3], ny = ys[0] * ys[1] * ho * wo;
    float *hx = malloc((size_t)nx * 4), *hdy = malloc((size_t)ny * 4);
    th_fill_uniform(hx, (size_t)nx, 7 + (uint64_t)ci, -1, 1);
    th_fill_uniform(hdy, (size_t)ny, 9 + (uint64_t)ci, -1, 1);
    if (ties) /* few distinct values: ties everywhere, first maximum must win */
        for (int64_t i = 0; i < nx; i++) hx[i] = floorf(hx[i] * 2.0f);
    float *y = malloc((size_t)ny * 4), *dx = malloc((size_t)nx * 4), *ya = malloc((size_t)ny * 4);
    float *dxa = malloc((size_t)nx * 4);
    int32_t *idx = malloc((size_t)ny * 4);
    ck_assert_int_eq(ref_max_pool2d_forward(&rp, hx, y, idx), 0);
    ck_assert_int_eq(ref_max_pool2d_backward(&rp, idx, hdy, dx), 0);
    ck_assert_int_eq(ref_avg_pool2d_forward(&rp, hx, ya), 0);
    ck_assert_int_eq(ref_avg_pool2d_backward(&rp, hdy, dxa), 0);

    clgrad_tensor *x = th_tensor(4, xs, hx), *dy = th_tensor(4, ys, hdy);
    if (strided) {
        th_make_noncontig(&x);
        th_make_noncontig(&dy);
    }
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    clgrad_pool2d_params p = {{c->kh, c->kw}, {c->sh, c->sw}, {c->ph, c->pw}};

    clgrad_tensor *out = NULL, *ind = NULL;
    TH_OK(clgrad_max_pool2d(x, &p, &out, &ind));
    expect("max forward", ci, out, y, ny, 0);
    ck_assert_int_eq(clgrad_tensor_dtype(ind), CLGRAD_DTYPE_I32);
    int32_t *gi = malloc((size_t)ny * 4);
    TH_OK(clgrad_tensor_read(ind, gi, (size_t)ny * 4));
    for (int64_t i = 0; i < ny; i++)
        ck_assert_msg(gi[i] == idx[i], "case %d: index %lld: %d vs %d", ci, (long long)i, gi[i], idx[i]);
    TH_OK(clgrad_backward_ex(out, dy, 0));
    expect("max backward", ci, clgrad_tensor_grad(x), dx, nx, 1e-6 * c->kh * c->kw);
    clgrad_tensor_release(out), clgrad_tensor_release(ind);
    clgrad_tensor_zero_grad(x);

    out = NULL;
    TH_OK(clgrad_max_pool2d(x, &p, &out, NULL)); /* indices are optional */
    expect("max forward without indices", ci, out, y, ny, 0);
    clgrad_tensor_release(out);

    TH_OK(clgrad_avg_pool2d(x, &p, &out));
    expect("avg forward", ci, out, ya, ny, 1e-6 * c->kh * c->kw);
    TH_OK(clgrad_backward_ex(out, dy, 0));
    expect("avg backward", ci, clgrad_tensor_grad(x), dxa, nx, 1e-6 * c->kh * c->kw);
    clgrad_tensor_release(out);
    clgrad_tensor_zero_grad(x);

    /* global average pooling */
    size_t planes = (size_t)(c->n * c->c), hw = (size_t)(c->h * c->w);
    float *gy = malloc(planes * 4), *gdx = malloc((size_t)nx * 4);
    ref_global_avg_pool_forward(planes, hw, hx, gy);
    ref_global_avg_pool_backward(planes, hw, hdy, gdx); /* dy's first planes values as the gradient */
    TH_OK(clgrad_global_avg_pool2d(x, &out));
    int64_t os[4];
    clgrad_tensor_shape(out, os);
    ck_assert(os[0] == c->n && os[1] == c->c && os[2] == 1 && os[3] == 1);
    expect("global avg forward", ci, out, gy, (int64_t)planes, 1e-6 * (double)hw);
    int64_t gs[4] = {c->n, c->c, 1, 1};
    clgrad_tensor *gdy = th_tensor(4, gs, hdy);
    if (strided) {
        th_make_noncontig(&gdy);
    }
    TH_OK(clgrad_backward_ex(out, gdy, 0));
    expect("global avg backward", ci, clgrad_tensor_grad(x), gdx, nx, 1e-7);
    clgrad_tensor_release(out), clgrad_tensor_release(gdy);

    clgrad_tensor_release(x), clgrad_tensor_release(dy);
    free(hx), free(hdy), free(y), free(dx), free(ya), free(dxa), free(idx), free(gi), free(gy), free(gdx);
}

START_TEST(pooling_matches_reference)
{
    for (int i = 0; i < N_CASES; i++) check_case(i, &CASES[i], 0, 0);
}
END_TEST

START_TEST(pooling_matches_reference_strided)
{
    for (int i = 0; i < N_CASES; i++) check_case(i, &CASES[i], 1, 0);
}
END_TEST

START_TEST(max_pool_ties_take_the_first_maximum)
{
    for (int i = 0; i < N_CASES; i++) check_case(i, &CASES[i], i % 2, 1);
}
END_TEST

START_TEST(pooling_many_planes)
{
    /* more planes than one NDRange dimension holds on some devices */
    pool_case c = {300, 120, 3, 2, 2, 2, 1, 1, 1, 1};
    check_case(300, &c, 0, 0);
}
END_TEST

START_TEST(max_pool_propagates_nan)
{
    int64_t xs[4] = {1, 1, 2, 2};
    float h[4] = {1.0f, NAN, 3.0f, 2.0f}, y;
    clgrad_tensor *x = th_tensor(4, xs, h), *out = NULL, *ind = NULL;
    clgrad_pool2d_params p = {{2, 2}, {0, 0}, {0, 0}};
    TH_OK(clgrad_max_pool2d(x, &p, &out, &ind));
    TH_OK(clgrad_tensor_read(out, &y, sizeof y));
    ck_assert(isnan(y));
    int32_t at;
    TH_OK(clgrad_tensor_read(ind, &at, sizeof at));
    ck_assert_int_eq(at, 1);
    clgrad_tensor_release(x), clgrad_tensor_release(out), clgrad_tensor_release(ind);
}
END_TEST

START_TEST(pool_errors_name_the_problem)
{
    int64_t xs[4] = {1, 2, 5, 5}, x3s[3] = {2, 5, 5};
    clgrad_tensor *x = th_rand(4, xs, 1, 0, 1), *x3 = th_rand(3, x3s, 1, 0, 1), *y = NULL, *ind = NULL;
    clgrad_pool2d_params p = {{3, 3}, {1, 1}, {2, 0}};
    ck_assert_int_eq(clgrad_max_pool2d(x, &p, &y, &ind), CLGRAD_ERR_INVALID_ARG); /* padding > k/2 */
    ck_assert_ptr_null(y);
    ck_assert_ptr_null(ind);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "padding"));
    ck_assert_int_eq(clgrad_avg_pool2d(x, &p, &y), CLGRAD_ERR_INVALID_ARG);
    clgrad_pool2d_params big = {{7, 7}, {1, 1}, {0, 0}};
    ck_assert_int_eq(clgrad_max_pool2d(x, &big, &y, NULL), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[1, 2, 5, 5]"));
    clgrad_pool2d_params zero = {{0, 2}, {0, 0}, {0, 0}};
    ck_assert_int_eq(clgrad_avg_pool2d(x, &zero, &y), CLGRAD_ERR_INVALID_ARG);
    clgrad_pool2d_params ok = {{2, 2}, {0, 0}, {0, 0}};
    ck_assert_int_eq(clgrad_max_pool2d(x3, &ok, &y, NULL), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[2, 5, 5]"));
    ck_assert_int_eq(clgrad_global_avg_pool2d(x3, &y), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_avg_pool2d(NULL, &ok, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_max_pool2d(x, NULL, &y, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_global_avg_pool2d(x, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(y);
    clgrad_tensor_release(x), clgrad_tensor_release(x3);
}
END_TEST

/* Max-pool indices are flat 32-bit positions in a plane (h * W + w): planes of more than
 * INT32_MAX pixels are refused. An expanded view makes one without allocating it. */
START_TEST(pool_refuses_planes_past_int32)
{
    int64_t one[4] = {1, 1, 1, 1}, plane[4] = {1, 1, 65536, 32768}, tall[4] = {1, 1, ((int64_t)1 << 31) + 1, 1};
    clgrad_tensor *x = th_rand(4, one, 1, 0, 1), *e = NULL, *y = NULL, *ind = NULL;
    clgrad_pool2d_params p = {{1, 1}, {1 << 20, 1 << 20}, {0, 0}}; /* one output pixel */
    TH_OK(clgrad_expand(x, 4, plane, &e));
    ck_assert_int_eq(clgrad_max_pool2d(e, &p, &y, &ind), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(y);
    ck_assert_ptr_null(ind);
    const char *msg = clgrad_last_error(th_ctx);
    ck_assert_msg(strstr(msg, "clgrad_max_pool2d") && strstr(msg, "[1, 1, 65536, 32768]"), "message: %s", msg);
    ck_assert_int_eq(clgrad_avg_pool2d(e, &p, &y), CLGRAD_ERR_SHAPE);
    clgrad_tensor_release(e);
    TH_OK(clgrad_expand(x, 4, tall, &e));
    ck_assert_int_eq(clgrad_max_pool2d(e, &p, &y, NULL), CLGRAD_ERR_SHAPE);
    clgrad_tensor_release(e);
    clgrad_tensor_release(x);
}
END_TEST

static Suite *suite_ops_pool(void)
{
    Suite *s = suite_create("ops_pool");
    TCase *tc = tcase_create("pool");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, pooling_matches_reference);
    tcase_add_test(tc, pooling_matches_reference_strided);
    tcase_add_test(tc, max_pool_ties_take_the_first_maximum);
    tcase_add_test(tc, pooling_many_planes);
    tcase_add_test(tc, max_pool_propagates_nan);
    tcase_add_test(tc, pool_errors_name_the_problem);
    tcase_add_test(tc, pool_refuses_planes_past_int32);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_ops_pool(), 1); }
