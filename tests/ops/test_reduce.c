/* Reductions against the plain-C references: sum, mean, max, min, var over axis sets, with
 * keepdim, on contiguous and strided inputs; argmax; sum_to_shape; determinism (bit-identical
 * repeats, the same bits from row and column layouts and from every kernel); error paths. */
#include "harness.h"
#include "ref.h"

#include "ops/reduce.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef clgrad_status (*red_fn)(clgrad_tensor *, int, const int *, int, clgrad_tensor **);

static clgrad_status var0(clgrad_tensor *x, int n, const int *a, int k, clgrad_tensor **o) { return clgrad_var(x, n, a, 0, k, o); }
static clgrad_status var1(clgrad_tensor *x, int n, const int *a, int k, clgrad_tensor **o) { return clgrad_var(x, n, a, 1, k, o); }

static const struct {
    const char *name;
    red_fn fn;
    ref_reduce_op op;
    int correction;
} OPS[] = {
    {"sum", clgrad_sum, REF_REDUCE_SUM, 0},   {"mean", clgrad_mean, REF_REDUCE_MEAN, 0},
    {"max", clgrad_max, REF_REDUCE_MAX, 0},   {"min", clgrad_min, REF_REDUCE_MIN, 0},
    {"var0", var0, REF_REDUCE_VAR, 0},        {"var1", var1, REF_REDUCE_VAR, 1},
};
#define N_OPS ((int)(sizeof OPS / sizeof OPS[0]))

/* Compares every op on (ndim, shape) over the axes of `axes` (naxes 0: all), both layouts. */
static void check_case(int ndim, const int64_t *shape, int naxes, const int *axes, int keepdim)
{
    int64_t n = th_numel(ndim, shape);
    float *h = malloc((size_t)n * sizeof *h);
    th_fill_uniform(h, (size_t)n, (uint64_t)(n * 31 + naxes), -1.0f, 1.0f);
    uint32_t mask = 0;
    int64_t R = 1;
    if (naxes == 0) mask = (1u << ndim) - 1u;
    for (int k = 0; k < naxes; k++) mask |= 1u << (axes[k] < 0 ? axes[k] + ndim : axes[k]);
    for (int d = 0; d < ndim; d++)
        if (mask >> d & 1u) R *= shape[d];
    int64_t nout = n / (R ? R : 1);
    float *want = malloc((size_t)(nout ? nout : 1) * sizeof *want);
    clgrad_tensor *x = th_tensor(ndim, shape, h);
    clgrad_tensor *xs = th_noncontig(x);
    for (int o = 0; o < N_OPS; o++) {
        ck_assert_int_eq(ref_reduce_forward(OPS[o].op, ndim, shape, mask, OPS[o].correction, h, want), 0);
        for (int layout = 0; layout < 2; layout++) {
            clgrad_tensor *y = NULL;
            TH_OK(OPS[o].fn(layout ? xs : x, naxes, axes, keepdim, &y));
            /* shape: kept dims in order, reduced ones as 1 with keepdim */
            int nd = clgrad_tensor_ndim(y), e = 0;
            int64_t ys[CLGRAD_MAX_DIMS];
            clgrad_tensor_shape(y, ys);
            for (int d = 0; d < ndim; d++) {
                if (mask >> d & 1u) {
                    if (keepdim) ck_assert_int_eq(ys[e++], 1);
                } else {
                    ck_assert_int_eq(ys[e++], shape[d]);
                }
            }
            ck_assert_int_eq(nd, e);
            float *got = th_read(y);
            char what[128];
            snprintf(what, sizeof what, "%s ndim %d mask %#x keepdim %d layout %d", OPS[o].name, ndim, mask, keepdim,
                     layout);
            int exact = OPS[o].op == REF_REDUCE_MAX || OPS[o].op == REF_REDUCE_MIN;
            double atol = exact ? 0.0 : 1e-6 * sqrt((double)R) + 2e-6, rtol = exact ? 0.0 : 2e-5;
            if (OPS[o].op == REF_REDUCE_SUM) atol = 4e-7 * (double)R + 1e-6;
            th_allclose(what, got, want, (size_t)nout, atol, rtol);
            free(got);
            clgrad_tensor_release(y);
        }
    }
    clgrad_tensor_release(x);
    clgrad_tensor_release(xs);
    free(h);
    free(want);
}

START_TEST(reductions_match_reference)
{
    int64_t s1[] = {1}, s7[] = {7}, s3[] = {3, 1, 5}, s2[] = {13, 17}, s4[] = {2, 3, 5, 7}, s5[] = {4, 1, 6, 3};
    int a0[] = {0}, a1[] = {1}, am1[] = {-1}, a02[] = {0, 2}, a13[] = {1, 3}, a12[] = {1, 2}, a30[] = {3, 0};
    for (int kd = 0; kd < 2; kd++) {
        check_case(1, s1, 0, NULL, kd);
        check_case(1, s7, 1, a0, kd);
        check_case(3, s3, 0, NULL, kd);
        check_case(3, s3, 1, a1, kd);
        check_case(3, s3, 2, a02, kd);
        check_case(2, s2, 1, a0, kd);
        check_case(2, s2, 1, am1, kd);
        check_case(2, s2, 0, NULL, kd);
        check_case(4, s4, 2, a13, kd);
        check_case(4, s4, 2, a12, kd);
        check_case(4, s4, 2, a30, kd);
        check_case(4, s4, 1, am1, kd);
        check_case(4, s5, 2, a02, kd);
        check_case(4, s5, 1, a1, kd);
    }
}
END_TEST

START_TEST(long_rows_match_reference)
{
    /* 100003 elements: several first-pass chunks, then a second pass */
    int64_t s1[] = {100003}, s2[] = {3, 100003}, s3[] = {100003, 2}, s4[] = {70001, 3};
    int a1[] = {1}, a0[] = {0};
    check_case(1, s1, 0, NULL, 0);
    check_case(2, s2, 1, a1, 1);
    check_case(2, s3, 1, a0, 0);
    check_case(2, s4, 1, a0, 1);
}
END_TEST

START_TEST(results_are_bit_identical)
{
    /* the same data reduced as rows (R innermost) and as columns (R outermost), by different
     * kernels, twice: all four results must be the same bits */
    const int64_t R = 100003, C = 3;
    float *h = malloc((size_t)(R * C) * sizeof *h), *ht = malloc((size_t)(R * C) * sizeof *ht);
    th_fill_uniform(h, (size_t)(R * C), 5, -3.0f, 7.0f);
    for (int64_t r = 0; r < R; r++)
        for (int64_t c = 0; c < C; c++) ht[r * C + c] = h[c * R + r];
    int64_t srow[] = {C, R}, scol[] = {R, C};
    clgrad_tensor *rows = th_tensor(2, srow, h), *cols = th_tensor(2, scol, ht);
    int a1[] = {1}, a0[] = {0};
    float first[3], got[3];
    for (int rep = 0; rep < 2; rep++)
        for (int which = 0; which < 2; which++)
            for (int op = 0; op < 3; op++) {
                clgrad_tensor *y = NULL;
                red_fn f = op == 0 ? clgrad_sum : op == 1 ? clgrad_mean : var1;
                TH_OK(f(which ? cols : rows, 1, which ? a0 : a1, 0, &y));
                TH_OK(clgrad_tensor_read(y, got, sizeof got));
                clgrad_tensor_release(y);
                if (rep == 0 && which == 0 && op == 0) memcpy(first, got, sizeof got);
                if (op == 0) ck_assert_msg(memcmp(first, got, sizeof got) == 0, "sum differs: rep %d layout %d", rep, which);
            }
    /* repeated var/mean runs agree too */
    for (int op = 0; op < 2; op++) {
        float a[3], b[3];
        clgrad_tensor *y = NULL;
        red_fn f = op ? var1 : clgrad_mean;
        TH_OK(f(rows, 1, a1, 0, &y));
        TH_OK(clgrad_tensor_read(y, a, sizeof a));
        clgrad_tensor_release(y);
        TH_OK(f(cols, 1, a0, 0, &y));
        TH_OK(clgrad_tensor_read(y, b, sizeof b));
        clgrad_tensor_release(y);
        ck_assert_msg(memcmp(a, b, sizeof a) == 0, "op %d differs between layouts", op);
    }
    clgrad_tensor_release(rows);
    clgrad_tensor_release(cols);
    free(h);
    free(ht);

    /* many columns (one work-item per result) against rows (one work-group per result) */
    const int64_t R2 = 200, C2 = 1100;
    h = malloc((size_t)(R2 * C2) * sizeof *h);
    th_fill_uniform(h, (size_t)(R2 * C2), 6, -1.0f, 1.0f);
    int64_t sc2[] = {R2, C2};
    clgrad_tensor *c2 = th_tensor(2, sc2, h), *c2t = NULL, *r2 = NULL, *ya = NULL, *yb = NULL;
    TH_OK(clgrad_transpose(c2, 0, 1, &c2t));
    TH_OK(clgrad_contiguous(c2t, &r2));
    float *ga = malloc((size_t)C2 * sizeof *ga), *gb = malloc((size_t)C2 * sizeof *gb);
    for (int op = 0; op < 2; op++) {
        red_fn f = op ? var1 : clgrad_sum;
        TH_OK(f(c2, 1, a0, 0, &ya));
        TH_OK(f(r2, 1, a1, 0, &yb));
        TH_OK(clgrad_tensor_read(ya, ga, (size_t)C2 * sizeof *ga));
        TH_OK(clgrad_tensor_read(yb, gb, (size_t)C2 * sizeof *gb));
        ck_assert_msg(memcmp(ga, gb, (size_t)C2 * sizeof *ga) == 0, "op %d: columns and rows differ", op);
        clgrad_tensor_release(ya);
        clgrad_tensor_release(yb);
    }
    free(ga);
    free(gb);
    free(h);
    clgrad_tensor_release(c2);
    clgrad_tensor_release(c2t);
    clgrad_tensor_release(r2);
}
END_TEST

/* Every kernel (forced in turn, the GPU-only column work-group kernel included; each runs
 * where it can, the others fall back to the automatic choice) gives the same bits as the
 * automatic choice, for every op, on column, row, split (reduced axes around a kept one)
 * and strided layouts, with vector tails, several chunks and folded launches. */
START_TEST(kernels_give_identical_bits)
{
    static const struct { int nd; int64_t s[4]; int na; int ax[3]; } cases[] = {
        {2, {37, 53}, 1, {0}},        {2, {200, 1100}, 1, {0}},    {2, {100003, 3}, 1, {0}},
        {2, {33000, 17}, 1, {0}},     {2, {3, 100003}, 1, {1}},    {2, {5, 70}, 1, {1}},
        {2, {9, 64}, 1, {1}},         {4, {6, 5, 7, 9}, 3, {0, 2, 3}}, {4, {2, 3, 5, 70}, 2, {1, 3}},
        {4, {3, 4, 5, 6}, 2, {0, 2}}, {3, {130, 2, 40}, 2, {0, 2}},
        {3, {66000, 2, 3}, 1, {1}}, /* more partial results than NDRange dim 1 holds: folded */
        {2, {70, 37}, 1, {0}},      /* columns: a block of 32 and a partial one on GPUs */
    };
    static const red_fn fns[] = {clgrad_sum, clgrad_mean, clgrad_max, clgrad_min, var1};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        clgrad_tensor *x = th_rand(cases[c].nd, cases[c].s, (uint64_t)(40 + c), -2.0f, 3.0f);
        clgrad_tensor *xs = th_noncontig(x);
        for (int layout = 0; layout < 2; layout++)
            for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
                float *want = NULL;
                int64_t n = 0;
                for (int k = CLGRAD__RED_KERNEL_AUTO; k <= CLGRAD__RED_KERNEL_COLWG; k++) {
                    clgrad__reduce_force_kernel(th_ctx, (clgrad__red_kernel)k);
                    clgrad_tensor *y = NULL;
                    TH_OK(fns[f](layout ? xs : x, cases[c].na, cases[c].ax, 0, &y));
                    float *got = th_read(y);
                    if (k == CLGRAD__RED_KERNEL_AUTO) {
                        want = got;
                        n = clgrad_tensor_numel(y);
                    } else {
                        ck_assert_msg(memcmp(got, want, (size_t)n * sizeof *got) == 0,
                                      "case %zu layout %d op %zu: kernel %d differs", c, layout, f, k);
                        free(got);
                    }
                    clgrad_tensor_release(y);
                }
                free(want);
            }
        /* argmax has only the generic kernels */
        int32_t a[2][64];
        int64_t m = cases[c].s[1 - cases[c].ax[0] % 2];
        if (cases[c].nd == 2 && m <= 64) {
            for (int k = 0; k < 2; k++) {
                clgrad__reduce_force_kernel(th_ctx, k ? CLGRAD__RED_KERNEL_ITEM : CLGRAD__RED_KERNEL_WG);
                clgrad_tensor *y = NULL;
                TH_OK(clgrad_argmax(x, cases[c].ax[0], 0, &y));
                TH_OK(clgrad_tensor_read(y, a[k], (size_t)m * sizeof(int32_t)));
                clgrad_tensor_release(y);
            }
            ck_assert_msg(memcmp(a[0], a[1], (size_t)m * sizeof(int32_t)) == 0, "case %zu: argmax differs", c);
        }
        clgrad__reduce_force_kernel(th_ctx, CLGRAD__RED_KERNEL_AUTO);
        clgrad_tensor_release(x);
        clgrad_tensor_release(xs);
    }
}
END_TEST

START_TEST(argmax_matches_reference)
{
    int64_t shapes[][3] = {{1, 1, 1}, {2, 7, 3}, {5, 1, 4}, {3, 100003, 1}, {1, 3, 257}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t *sh = shapes[s], n = sh[0] * sh[1] * sh[2];
        float *h = malloc((size_t)n * sizeof *h);
        th_fill_uniform(h, (size_t)n, (uint64_t)s, -4.0f, 4.0f);
        for (int64_t i = 0; i < n; i++) h[i] = floorf(h[i]); /* many ties: the first index must win */
        int32_t *want = malloc((size_t)(sh[0] * sh[2]) * sizeof *want), *got = malloc((size_t)(sh[0] * sh[2]) * sizeof *got);
        ref_argmax((size_t)sh[0], (size_t)sh[1], (size_t)sh[2], h, want);
        clgrad_tensor *x = th_tensor(3, sh, h), *xs = th_noncontig(x);
        for (int layout = 0; layout < 2; layout++)
            for (int kd = 0; kd < 2; kd++) {
                clgrad_tensor *y = NULL;
                TH_OK(clgrad_argmax(layout ? xs : x, 1, kd, &y));
                ck_assert_int_eq(clgrad_tensor_dtype(y), CLGRAD_DTYPE_I32);
                ck_assert_int_eq(clgrad_tensor_ndim(y), kd ? 3 : 2);
                TH_OK(clgrad_tensor_read(y, got, (size_t)(sh[0] * sh[2]) * sizeof *got));
                for (int64_t i = 0; i < sh[0] * sh[2]; i++)
                    ck_assert_msg(got[i] == want[i], "argmax shape %zu layout %d at %lld: got %d want %d", s, layout,
                                  (long long)i, got[i], want[i]);
                clgrad_tensor_release(y);
            }
        clgrad_tensor_release(x);
        clgrad_tensor_release(xs);
        free(h);
        free(want);
        free(got);
    }
    /* NaN counts as the maximum; max/min propagate it */
    float v[] = {1, NAN, 5, NAN};
    int64_t s4[] = {4};
    clgrad_tensor *x = th_tensor(1, s4, v), *y = NULL;
    int32_t idx;
    TH_OK(clgrad_argmax(x, 0, 0, &y));
    TH_OK(clgrad_tensor_read(y, &idx, sizeof idx));
    ck_assert_int_eq(idx, 1);
    clgrad_tensor_release(y);
    float m;
    TH_OK(clgrad_max(x, 0, NULL, 0, &y));
    TH_OK(clgrad_tensor_item(y, &m));
    ck_assert(isnan(m));
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
}
END_TEST

START_TEST(sum_to_shape_reduces_broadcast_dims)
{
    int64_t gs[] = {4, 3, 5};
    clgrad_tensor *g = th_rand(3, gs, 9, -1, 1);
    float *h = th_read(g);
    struct { int nd; int64_t s[3]; uint32_t mask; } cases[] = {
        {2, {3, 1}, 1u | 4u}, {2, {1, 5}, 1u | 2u}, {1, {5}, 1u | 2u}, {3, {4, 1, 5}, 2u}, {0, {0}, 7u}, {3, {1, 1, 1}, 7u},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        clgrad_tensor *r = NULL;
        TH_OK(clgrad__sum_to_shape(g, cases[c].nd, cases[c].s, &r));
        ck_assert_int_eq(clgrad_tensor_ndim(r), cases[c].nd);
        int64_t n = clgrad_tensor_numel(r);
        float *want = malloc((size_t)n * sizeof *want);
        ref_reduce_forward(REF_REDUCE_SUM, 3, gs, cases[c].mask, 0, h, want);
        float *got = th_read(r);
        th_allclose("sum_to_shape", got, want, (size_t)n, 1e-5, 1e-5);
        free(got);
        free(want);
        clgrad_tensor_release(r);
    }
    /* same shape: g itself */
    clgrad_tensor *r = NULL;
    TH_OK(clgrad__sum_to_shape(g, 3, gs, &r));
    ck_assert_ptr_eq(r, g);
    clgrad_tensor_release(r);
    int64_t bad[] = {3, 4};
    ck_assert_int_eq(clgrad__sum_to_shape(g, 2, bad, &r), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[4, 3, 5]"));
    free(h);
    clgrad_tensor_release(g);
}
END_TEST

START_TEST(edge_cases)
{
    /* a 0-d tensor reduces to itself; empty reductions: sum 0, mean NaN, max fails */
    float v = 2.5f, got;
    clgrad_tensor *s = NULL, *y = NULL;
    TH_OK(clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_F32, 0, NULL, &v, &s));
    TH_OK(clgrad_sum(s, 0, NULL, 0, &y));
    ck_assert_int_eq(clgrad_tensor_ndim(y), 0);
    TH_OK(clgrad_tensor_item(y, &got));
    ck_assert(got == 2.5f);
    clgrad_tensor_release(y);
    clgrad_tensor_release(s);

    int64_t es[] = {3, 0};
    clgrad_tensor *e = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, es, &e));
    int a1[] = {1};
    float out3[3];
    TH_OK(clgrad_sum(e, 1, a1, 0, &y));
    TH_OK(clgrad_tensor_read(y, out3, sizeof out3));
    ck_assert(out3[0] == 0 && out3[2] == 0);
    clgrad_tensor_release(y);
    TH_OK(clgrad_mean(e, 1, a1, 0, &y));
    TH_OK(clgrad_tensor_read(y, out3, sizeof out3));
    ck_assert(isnan(out3[1]));
    clgrad_tensor_release(y);
    ck_assert_int_eq(clgrad_max(e, 1, a1, 0, &y), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(y);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[3, 0]"));
    clgrad_tensor_release(e);

    /* var of one element with correction 1: 0/0 = NaN */
    int64_t s1[] = {1};
    clgrad_tensor *one = th_tensor(1, s1, &v);
    TH_OK(clgrad_var(one, 0, NULL, 1, 0, &y));
    TH_OK(clgrad_tensor_item(y, &got));
    ck_assert(isnan(got));
    clgrad_tensor_release(y);
    clgrad_tensor_release(one);
}
END_TEST

START_TEST(errors_name_axes_and_shapes)
{
    int64_t sh[] = {2, 3};
    clgrad_tensor *x = th_rand(2, sh, 1, -1, 1), *y = (clgrad_tensor *)1;
    int bad[] = {2}, dup[] = {1, -1};
    ck_assert_int_eq(clgrad_sum(x, 1, bad, 0, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(y);
    const char *msg = clgrad_last_error(th_ctx);
    ck_assert_msg(strstr(msg, "axis 2") && strstr(msg, "[2, 3]"), "message: %s", msg);
    ck_assert_int_eq(clgrad_mean(x, 2, dup, 0, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "twice"));
    ck_assert_int_eq(clgrad_argmax(x, -3, 0, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_var(x, 0, NULL, -1, 0, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_max(NULL, 0, NULL, 0, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_sum(x, 0, NULL, 0, NULL), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor *xi = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, 2, sh, &xi));
    ck_assert_int_eq(clgrad_sum(xi, 0, NULL, 0, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "i32"));
    clgrad_tensor_release(xi);
    clgrad_tensor_release(x);
}
END_TEST

/* argmax indices are 32-bit: an axis longer than INT32_MAX is refused, not wrapped. An
 * expanded view gives such an axis without allocating it. */
START_TEST(argmax_refuses_axes_past_int32)
{
    int64_t one[2] = {1, 1}, big[2] = {3, ((int64_t)1 << 31)}, bigger[2] = {((int64_t)1 << 31) + 5, 2};
    clgrad_tensor *x = th_rand(2, one, 1, -1, 1), *e = NULL, *y = (clgrad_tensor *)1;
    TH_OK(clgrad_expand(x, 2, big, &e));
    ck_assert_int_eq(clgrad_argmax(e, 1, 0, &y), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(y);
    const char *msg = clgrad_last_error(th_ctx);
    ck_assert_msg(strstr(msg, "clgrad_argmax") && strstr(msg, "2147483648") && strstr(msg, "32-bit"), "message: %s",
                  msg);
    ck_assert_int_eq(clgrad_argmax(e, -1, 1, &y), CLGRAD_ERR_SHAPE);
    clgrad_tensor_release(e);
    TH_OK(clgrad_expand(x, 2, bigger, &e));
    ck_assert_int_eq(clgrad_argmax(e, 0, 0, &y), CLGRAD_ERR_SHAPE);
    clgrad_tensor_release(e);
    /* over an empty axis: SHAPE before any result is allocated, even a huge one (found by
     * fuzz_ops: this was a DEVICE_MEMORY failure allocating 2^40 results first) */
    int64_t empty[2] = {1, 0}, wide[2] = {(int64_t)1 << 40, 0};
    clgrad_tensor *z = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, empty, &z));
    TH_OK(clgrad_expand(z, 2, wide, &e));
    ck_assert_int_eq(clgrad_argmax(e, 1, 0, &y), CLGRAD_ERR_SHAPE);
    int ax1[1] = {1};
    ck_assert_int_eq(clgrad_max(e, 1, ax1, 0, &y), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_min(e, 1, ax1, 1, &y), CLGRAD_ERR_SHAPE);
    clgrad_tensor_release(e);
    clgrad_tensor_release(z);
    int64_t fits[2] = {3, 1000}; /* an expanded axis that fits: ties go to the first index */
    TH_OK(clgrad_expand(x, 2, fits, &e));
    TH_OK(clgrad_argmax(e, 1, 0, &y));
    int32_t idx[3] = {-1, -1, -1};
    TH_OK(clgrad_tensor_read(y, idx, sizeof idx));
    for (int i = 0; i < 3; i++) ck_assert_int_eq(idx[i], 0);
    clgrad_tensor_release(y);
    clgrad_tensor_release(e);
    clgrad_tensor_release(x);
}
END_TEST

static Suite *suite_ops_reduce(void)
{
    Suite *s = suite_create("ops_reduce");
    TCase *tc = tcase_create("reduce");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, reductions_match_reference);
    tcase_add_test(tc, long_rows_match_reference);
    tcase_add_test(tc, results_are_bit_identical);
    tcase_add_test(tc, kernels_give_identical_bits);
    tcase_add_test(tc, argmax_matches_reference);
    tcase_add_test(tc, sum_to_shape_reduces_broadcast_dims);
    tcase_add_test(tc, edge_cases);
    tcase_add_test(tc, errors_name_axes_and_shapes);
    tcase_add_test(tc, argmax_refuses_axes_past_int32);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_ops_reduce(), 1); }
