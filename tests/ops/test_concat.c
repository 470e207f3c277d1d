/* clgrad_cat and clgrad_stack: results against a host join, every dim, sizes with 1 and
 * primes, non-contiguous inputs, many inputs (recorded as a tree of joins), error paths,
 * and gradient checks. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Host cat of n row-major arrays along dim: shapes differ only at dim (stack: inputs
 * viewed with a size-1 dim inserted at dim). */
static float *host_join(int n, float **v, int ndim, int64_t (*shapes)[CLGRAD_MAX_DIMS], int dim, size_t *total)
{
    int64_t outer = 1, inner = 1, sum = 0;
    for (int d = 0; d < dim; d++) outer *= shapes[0][d];
    for (int d = dim + 1; d < ndim; d++) inner *= shapes[0][d];
    for (int k = 0; k < n; k++) sum += shapes[k][dim];
    *total = (size_t)(outer * sum * inner);
    float *out = malloc((*total ? *total : 1) * sizeof *out);
    size_t at = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < n; k++) {
            size_t len = (size_t)(shapes[k][dim] * inner);
            memcpy(out + at, v[k] + (size_t)o * len, len * sizeof *out);
            at += len;
        }
    return out;
}

static void check_cat(int n, int ndim, const int64_t *base, int dim, const int64_t *sizes, int noncontig, int stack)
{
    clgrad_tensor *ts[16];
    float *hv[16];
    int64_t shapes[16][CLGRAD_MAX_DIMS], jshapes[16][CLGRAD_MAX_DIMS];
    int jnd = stack ? ndim + 1 : ndim;
    for (int k = 0; k < n; k++) {
        memcpy(shapes[k], base, sizeof(int64_t) * (size_t)ndim);
        if (!stack) shapes[k][dim] = sizes[k];
        ts[k] = th_rand(ndim, shapes[k], 100 + (uint64_t)k, -1, 1);
        if (noncontig && (k % 2 == 0)) {
            th_make_noncontig(&ts[k]);
        }
        hv[k] = th_read(ts[k]);
        for (int d = 0, s = 0; d < jnd; d++) jshapes[k][d] = (stack && d == dim) ? 1 : shapes[k][s++];
    }
    clgrad_tensor *out = NULL;
    TH_OK(stack ? clgrad_stack(n, ts, dim, &out) : clgrad_cat(n, ts, dim, &out));
    size_t total;
    float *want = host_join(n, hv, jnd, jshapes, dim, &total);
    ck_assert_int_eq(clgrad_tensor_ndim(out), jnd);
    ck_assert_int_eq(clgrad_tensor_numel(out), (int64_t)total);
    ck_assert(clgrad_tensor_is_contiguous(out));
    float *got = th_read(out);
    char what[64];
    snprintf(what, sizeof what, "%s n %d dim %d nc %d", stack ? "stack" : "cat", n, dim, noncontig);
    th_allclose(what, got, want, total, 0, 0);
    free(got);
    free(want);
    for (int k = 0; k < n; k++) {
        free(hv[k]);
        clgrad_tensor_release(ts[k]);
    }
    clgrad_tensor_release(out);
}

START_TEST(cat_matches_host)
{
    int64_t b3[3] = {3, 5, 7}, b1[1] = {4};
    int64_t s3[3] = {1, 4, 2}, s7[7] = {2, 1, 3, 1, 5, 2, 1};
    for (int dim = 0; dim < 3; dim++)
        for (int nc = 0; nc < 2; nc++) {
            check_cat(3, 3, b3, dim, s3, nc, 0);
            check_cat(7, 3, b3, dim, s7, nc, 0);
            check_cat(1, 3, b3, dim, s3, nc, 0);
        }
    check_cat(2, 1, b1, 0, s3, 0, 0);
    int64_t z[2] = {0, 3};
    check_cat(2, 3, b3, 1, z, 0, 0); /* an empty part */
}
END_TEST

START_TEST(stack_matches_host)
{
    int64_t b2[2] = {3, 5}, b0[1] = {1};
    for (int dim = 0; dim < 3; dim++)
        for (int nc = 0; nc < 2; nc++) {
            check_cat(1, 2, b2, dim, NULL, nc, 1);
            check_cat(4, 2, b2, dim, NULL, nc, 1);
            check_cat(11, 2, b2, dim, NULL, nc, 1);
        }
    check_cat(5, 1, b0, 1, NULL, 0, 1);
    /* 0-d tensors stack into a vector; negative dims count from the end */
    clgrad_tensor *s[3], *out = NULL;
    for (int k = 0; k < 3; k++) TH_OK(clgrad_tensor_full(th_ctx, 0, NULL, (float)k, &s[k]));
    TH_OK(clgrad_stack(3, s, -1, &out));
    ck_assert_int_eq(clgrad_tensor_ndim(out), 1);
    float v[3];
    TH_OK(clgrad_tensor_read(out, v, sizeof v));
    ck_assert(v[0] == 0 && v[1] == 1 && v[2] == 2);
    clgrad_tensor_release(out);
    for (int k = 0; k < 3; k++) clgrad_tensor_release(s[k]);
}
END_TEST

START_TEST(errors)
{
    int64_t a[2] = {2, 3}, b[2] = {3, 3}, c[3] = {2, 3, 1};
    clgrad_tensor *x = th_rand(2, a, 1, -1, 1), *y = th_rand(2, b, 2, -1, 1), *z = th_rand(3, c, 3, -1, 1);
    clgrad_tensor *i32 = NULL, *out = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, 2, a, &i32));
    clgrad_tensor *xy[2] = {x, y}, *xz[2] = {x, z}, *xi[2] = {x, i32}, *xn[2] = {x, NULL};
    ck_assert_int_eq(clgrad_cat(2, xy, 1, &out), CLGRAD_ERR_SHAPE);
    ck_assert(out == NULL);
    ck_assert_msg(strstr(clgrad_last_error(th_ctx), "[3, 3]") && strstr(clgrad_last_error(th_ctx), "[2, 3]"), "%s",
                  clgrad_last_error(th_ctx));
    TH_OK(clgrad_cat(2, xy, 0, &out));
    clgrad_tensor_release(out);
    ck_assert_int_eq(clgrad_stack(2, xy, 0, &out), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_cat(2, xz, 0, &out), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_cat(2, xi, 0, &out), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_cat(2, xn, 0, &out), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_cat(2, xy, 2, &out), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_cat(2, xy, -3, &out), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_stack(1, xy, 3, &out), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_cat(0, xy, 0, &out), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_cat(2, NULL, 0, &out), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_cat(2, xy, 0, NULL), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor *s0 = NULL;
    TH_OK(clgrad_tensor_full(th_ctx, 0, NULL, 1.0f, &s0));
    ck_assert_int_eq(clgrad_cat(1, &s0, 0, &out), CLGRAD_ERR_SHAPE);
    ck_assert(out == NULL);
    clgrad_tensor *rel[] = {x, y, z, i32, s0};
    for (int i = 0; i < 5; i++) clgrad_tensor_release(rel[i]);
}
END_TEST

/* --- gradients --------------------------------------------------------------------------- */

typedef struct join_args {
    int n, dim, stack;
} join_args;

static clgrad_status join_fn(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    join_args *a = user;
    return a->stack ? clgrad_stack(a->n, in, a->dim, out) : clgrad_cat(a->n, in, a->dim, out);
}

static void grad_check(int n, int dim, int stack, int some_frozen)
{
    clgrad_tensor *in[12];
    for (int k = 0; k < n; k++) {
        int64_t s[2] = {2, 3};
        if (!stack) s[dim] = 1 + k % 3;
        in[k] = th_rand(2, s, 50 + (uint64_t)k, -1, 1);
        if (k % 3 == 1) { /* a non-contiguous input */
            th_make_noncontig(&in[k]);
        }
        if (!(some_frozen && k % 2)) TH_OK(clgrad_tensor_set_requires_grad(in[k], 1));
    }
    join_args a = {n, dim, stack};
    char what[64];
    snprintf(what, sizeof what, "%s n %d dim %d", stack ? "stack" : "cat", n, dim);
    th_gradcheck(what, join_fn, n, in, &a, 1e-2, 1e-3, 1e-3);
    for (int k = 0; k < n; k++) clgrad_tensor_release(in[k]);
}

START_TEST(gradients)
{
    for (int dim = 0; dim < 2; dim++) {
        grad_check(3, dim, 0, 0);
        grad_check(9, dim, 0, 1); /* more inputs than one graph node holds */
        grad_check(2, dim, 1, 0);
        grad_check(6, dim, 1, 1);
    }
    grad_check(3, 2, 1, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ops_concat");
    TCase *tc = tcase_create("concat");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, cat_matches_host);
    tcase_add_test(tc, stack_matches_host);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, gradients);
    suite_add_tcase(s, tc);
    return th_run(s, 1);
}
