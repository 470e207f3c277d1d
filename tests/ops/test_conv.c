/* Convolutions against the plain-C references: conv2d forward and all three gradients with
 * every algorithm (im2col + GEMM, 1x1 GEMM, general depthwise, fixed-window direct) on
 * shapes with 1, primes, odd sizes, stride 2, padding, dilation 2, groups 2, depthwise and
 * 1x1, with and without bias, contiguous and strided inputs; chunked im2col under a small
 * allocation bound;
 * conv_transpose2d forward and backward (output_padding, groups, dilation); bit-identical
 * repeats; error paths. */
#include "harness.h"
#include "ref.h"

#include "device/device.h"
#include "ops/conv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct conv_case {
    int n, c_in, h, w, c_out, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias;
    int oph, opw; /* transposed only */
} conv_case;

static const conv_case CASES[] = {
    /* n  ci  h   w   co kh kw sh sw ph pw dh dw  g  b */
    {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0},     /* all ones */
    {2, 3, 7, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},     /* primes, same padding */
    {3, 4, 11, 9, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},    /* stride 2, odd sizes */
    {2, 3, 13, 10, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1, 0, 1, 0},   /* dilation 2 */
    {2, 5, 9, 8, 7, 2, 3, 2, 1, 0, 1, 1, 2, 1, 1, 0, 1},     /* asymmetric everything */
    {2, 4, 7, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1, 0, 0},     /* groups 2 */
    {2, 6, 9, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6, 1, 0, 0},     /* depthwise */
    {3, 5, 10, 11, 5, 3, 5, 2, 2, 1, 2, 2, 1, 5, 0, 1, 1},   /* depthwise, stride 2, dilation */
    {2, 8, 17, 16, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0},   /* 1x1 on a wide image */
    {2, 6, 16, 17, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2, 0, 0, 0},   /* 1x1, groups 2 */
    {2, 3, 5, 3, 4, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0},     /* 1x1 on a small image */
    {2, 3, 9, 9, 4, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1, 1, 1},     /* 1x1 stride 2 */
    {1, 2, 3, 3, 3, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1, 0, 0},     /* kernel larger than image */
    {2, 3, 10, 10, 2, 2, 2, 3, 3, 0, 0, 1, 1, 1, 1, 2, 2},   /* stride > kernel */
    {1, 1, 28, 28, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},   /* first CNN layer, small */
};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

static ref_conv2d_params ref_of(const conv_case *c)
{
    ref_conv2d_params p = {c->n, c->c_in, c->h, c->w, c->c_out, c->kh, c->kw, c->sh, c->sw,
                           c->ph, c->pw, c->dh, c->dw, c->groups, c->oph, c->opw};
    return p;
}

static clgrad_conv2d_params params_of(const conv_case *c)
{
    clgrad_conv2d_params p = {{c->sh, c->sw}, {c->ph, c->pw}, {c->dh, c->dw}, c->groups, {c->oph, c->opw}};
    return p;
}

static float *host_rand(int64_t n, uint64_t seed)
{
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    th_fill_uniform(h, (size_t)n, seed, -1.0f, 1.0f);
    return h;
}

static void expect(const char *what, int ci, clgrad_tensor *t, const float *want, int64_t n, double red)
{
    char name[160];
    snprintf(name, sizeof name, "case %d: %s", ci, what);
    ck_assert_int_eq(clgrad_tensor_numel(t), n);
    float *got = th_read(t);
    th_allclose(name, got, want, (size_t)n, 2e-6 * red + 1e-6, 1e-4);
    free(got);
}

static clgrad_tensor *empty4(int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t s[4] = {a, b, c, d};
    clgrad_tensor *t = NULL;
    TH_OK(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 4, s, &t));
    return t;
}

/* conv2d forward (public and each algorithm) and the gradients of each algorithm. */
static void check_conv2d(int ci, const conv_case *c, int strided)
{
    ref_conv2d_params rp = ref_of(c);
    int ho = ref_conv2d_out_dim(c->h, c->kh, c->sh, c->ph, c->dh);
    int wo = ref_conv2d_out_dim(c->w, c->kw, c->sw, c->pw, c->dw);
    int cig = c->c_in / c->groups;
    int64_t xs[4] = {c->n, c->c_in, c->h, c->w}, ws[4] = {c->c_out, cig, c->kh, c->kw}, bs[1] = {c->c_out};
    int64_t nx = xs[0] * xs[1] * xs[2] * xs[3], nw = ws[0] * ws[1] * ws[2] * ws[3];
    int64_t ny = (int64_t)c->n * c->c_out * ho * wo;
    float *hx = host_rand(nx, 11 + (uint64_t)ci), *hw = host_rand(nw, 23 + (uint64_t)ci);
    float *hb = host_rand(c->c_out, 37 + (uint64_t)ci), *hdy = host_rand(ny, 41 + (uint64_t)ci);
    float *y = malloc((size_t)ny * sizeof *y), *dx = malloc((size_t)nx * sizeof *dx);
    float *dw = malloc((size_t)nw * sizeof *dw), *db = malloc((size_t)c->c_out * sizeof *db);
    ck_assert_int_eq(ref_conv2d_forward(&rp, hx, hw, c->bias ? hb : NULL, y), 0);
    ck_assert_int_eq(ref_conv2d_backward(&rp, hx, hw, hdy, dx, dw, db), 0);

    clgrad_tensor *x = th_tensor(4, xs, hx), *w = th_tensor(4, ws, hw), *b = th_tensor(1, bs, hb);
    int64_t ys4[4] = {c->n, c->c_out, ho, wo};
    clgrad_tensor *dy = th_tensor(4, ys4, hdy);
    if (strided) {
        clgrad_tensor *t;
        t = th_noncontig(x), clgrad_tensor_release(x), x = t;
        t = th_noncontig(w), clgrad_tensor_release(w), w = t;
        t = th_noncontig(b), clgrad_tensor_release(b), b = t;
        t = th_noncontig(dy), clgrad_tensor_release(dy), dy = t;
    }
    double red_f = (double)cig * c->kh * c->kw, red_x = (double)(c->c_out / c->groups) * c->kh * c->kw;
    double red_w = (double)c->n * ho * wo;

    clgrad__conv_geom g;
    int64_t oshape[4];
    clgrad_conv2d_params pp = params_of(c);
    TH_OK(clgrad__conv_setup("test", 0, x, w, c->bias ? b : NULL, &pp, &g, oshape));
    ck_assert_int_eq(oshape[2], ho);
    ck_assert_int_eq(oshape[3], wo);

    clgrad_tensor *yp = NULL;
    TH_OK(clgrad_conv2d(x, w, c->bias ? b : NULL, &pp, &yp));
    expect("conv2d forward", ci, yp, y, ny, red_f);
    clgrad_tensor_release(yp);

    const int algos[] = {CLGRAD__CONV_IM2COL, CLGRAD__CONV_1X1, CLGRAD__CONV_DEPTHWISE, CLGRAD__CONV_DIRECT};
    for (int a = 0; a < 4; a++) {
        char what[64];
        clgrad_tensor *ya = empty4(c->n, c->c_out, ho, wo);
        TH_OK(clgrad__conv_forward_algo(th_ctx, &g, algos[a], x, w, c->bias ? b : NULL, ya));
        snprintf(what, sizeof what, "forward, algorithm %d", algos[a]);
        expect(what, ci, ya, y, ny, red_f);
        clgrad_tensor_release(ya);

        clgrad_tensor *gx = empty4(c->n, c->c_in, c->h, c->w), *gw = empty4(c->c_out, cig, c->kh, c->kw);
        TH_OK(clgrad__conv_backward_algo(th_ctx, &g, algos[a], x, w, dy, NULL, gx, gw));
        snprintf(what, sizeof what, "dx, algorithm %d", algos[a]);
        expect(what, ci, gx, dx, nx, red_x);
        snprintf(what, sizeof what, "dw, algorithm %d", algos[a]);
        expect(what, ci, gw, dw, nw, red_w);
        clgrad_tensor_release(gx);
        clgrad_tensor_release(gw);
    }
    clgrad_tensor *gb = NULL;
    TH_OK(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 1, bs, &gb));
    TH_OK(clgrad__conv_bias_grad(th_ctx, dy, gb));
    expect("db", ci, gb, db, c->c_out, red_w);
    clgrad_tensor_release(gb);

    clgrad_tensor_release(x);
    clgrad_tensor_release(w);
    clgrad_tensor_release(b);
    clgrad_tensor_release(dy);
    free(hx), free(hw), free(hb), free(hdy), free(y), free(dx), free(dw), free(db);
}

START_TEST(conv2d_matches_reference)
{
    for (int i = 0; i < N_CASES; i++) check_conv2d(i, &CASES[i], 0);
}
END_TEST

START_TEST(conv2d_matches_reference_strided)
{
    for (int i = 0; i < N_CASES; i++) check_conv2d(i, &CASES[i], 1);
}
END_TEST

START_TEST(conv2d_chunks_under_a_small_bound)
{
    /* one or two images per chunk: the weight gradient accumulates across chunks */
    conv_case c = {5, 3, 9, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    char bytes[32];
    snprintf(bytes, sizeof bytes, "%d", 2 * 27 * 72 * 4 + 16); /* two images' column matrices */
    setenv("CLGRAD_CONV_TEMP_BYTES", bytes, 1);
    check_conv2d(100, &c, 0);
    snprintf(bytes, sizeof bytes, "%d", 1);
    setenv("CLGRAD_CONV_TEMP_BYTES", bytes, 1);
    check_conv2d(101, &c, 1);
    c.groups = 3, c.c_out = 6;
    check_conv2d(102, &c, 0);
    unsetenv("CLGRAD_CONV_TEMP_BYTES");
    uint64_t keep = clgrad__dev(th_ctx)->info.max_alloc_bytes;
    clgrad_tensor *y = NULL, *x = empty4(1, 3, 9, 8), *w = empty4(4, 3, 3, 3);
    clgrad__dev(th_ctx)->info.max_alloc_bytes = 2000; /* below one image's column matrix */
    clgrad_conv2d_params p = {{1, 1}, {1, 1}, {1, 1}, 1, {0, 0}};
    ck_assert_int_eq(clgrad_conv2d(x, w, NULL, &p, &y), CLGRAD_ERR_DEVICE_MEMORY);
    ck_assert_ptr_null(y);
    clgrad__dev(th_ctx)->info.max_alloc_bytes = keep;
    clgrad_tensor_release(x);
    clgrad_tensor_release(w);
}
END_TEST

/* conv_transpose2d forward against the reference, gradients through autograd. */
static void check_transpose(int ci, const conv_case *c, int strided)
{
    ref_conv2d_params rp = ref_of(c);
    int ho = ref_conv_transpose2d_out_dim(c->h, c->kh, c->sh, c->ph, c->dh, c->oph);
    int wo = ref_conv_transpose2d_out_dim(c->w, c->kw, c->sw, c->pw, c->dw, c->opw);
    int cog = c->c_out / c->groups;
    int64_t xs[4] = {c->n, c->c_in, c->h, c->w}, ws[4] = {c->c_in, cog, c->kh, c->kw}, bs[1] = {c->c_out};
    int64_t nx = xs[0] * xs[1] * xs[2] * xs[3], nw = ws[0] * ws[1] * ws[2] * ws[3];
    int64_t ny = (int64_t)c->n * c->c_out * ho * wo;
    float *hx = host_rand(nx, 51 + (uint64_t)ci), *hw = host_rand(nw, 53 + (uint64_t)ci);
    float *hb = host_rand(c->c_out, 57 + (uint64_t)ci), *hdy = host_rand(ny, 59 + (uint64_t)ci);
    float *y = malloc((size_t)ny * sizeof *y), *dx = malloc((size_t)nx * sizeof *dx);
    float *dw = malloc((size_t)nw * sizeof *dw), *db = malloc((size_t)c->c_out * sizeof *db);
    ck_assert_int_eq(ref_conv_transpose2d_forward(&rp, hx, hw, c->bias ? hb : NULL, y), 0);
    ck_assert_int_eq(ref_conv_transpose2d_backward(&rp, hx, hw, hdy, dx, dw, db), 0);

    clgrad_tensor *x = th_tensor(4, xs, hx), *w = th_tensor(4, ws, hw), *b = th_tensor(1, bs, hb);
    int64_t ys4[4] = {c->n, c->c_out, ho, wo};
    clgrad_tensor *dy = th_tensor(4, ys4, hdy);
    if (strided) {
        clgrad_tensor *t;
        t = th_noncontig(x), clgrad_tensor_release(x), x = t;
        t = th_noncontig(w), clgrad_tensor_release(w), w = t;
        t = th_noncontig(b), clgrad_tensor_release(b), b = t;
    }
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    TH_OK(clgrad_tensor_set_requires_grad(w, 1));
    if (c->bias) TH_OK(clgrad_tensor_set_requires_grad(b, 1));
    clgrad_conv2d_params pp = params_of(c);
    clgrad_tensor *yp = NULL;
    TH_OK(clgrad_conv_transpose2d(x, w, c->bias ? b : NULL, &pp, &yp));
    int64_t got[4];
    clgrad_tensor_shape(yp, got);
    ck_assert_int_eq(got[2], ho);
    ck_assert_int_eq(got[3], wo);
    double kk = (double)c->kh * c->kw;
    expect("conv_transpose2d forward", ci, yp, y, ny, c->c_in / c->groups * kk);
    TH_OK(clgrad_backward_ex(yp, dy, 0));
    expect("conv_transpose2d dx", ci, clgrad_tensor_grad(x), dx, nx, cog * kk);
    expect("conv_transpose2d dw", ci, clgrad_tensor_grad(w), dw, nw, (double)c->n * c->h * c->w);
    if (c->bias) expect("conv_transpose2d db", ci, clgrad_tensor_grad(b), db, c->c_out, (double)c->n * ho * wo);
    clgrad_tensor_release(yp);
    clgrad_tensor_release(x);
    clgrad_tensor_release(w);
    clgrad_tensor_release(b);
    clgrad_tensor_release(dy);
    free(hx), free(hw), free(hb), free(hdy), free(y), free(dx), free(dw), free(db);
}

START_TEST(conv_transpose2d_matches_reference)
{
    for (int i = 0; i < N_CASES; i++) check_transpose(i, &CASES[i], i % 2);
    /* output_padding up to dilation - 1 when dilation exceeds stride */
    conv_case c = {2, 2, 5, 4, 3, 3, 3, 1, 1, 1, 0, 3, 2, 1, 1, 2, 1};
    check_transpose(200, &c, 0);
}
END_TEST

START_TEST(conv2d_autograd_matches_reference)
{
    for (int i = 0; i < N_CASES; i++) {
        const conv_case *c = &CASES[i];
        ref_conv2d_params rp = ref_of(c);
        int ho = ref_conv2d_out_dim(c->h, c->kh, c->sh, c->ph, c->dh);
        int wo = ref_conv2d_out_dim(c->w, c->kw, c->sw, c->pw, c->dw);
        int64_t xs[4] = {c->n, c->c_in, c->h, c->w}, ws[4] = {c->c_out, c->c_in / c->groups, c->kh, c->kw};
        int64_t bs[1] = {c->c_out}, ys4[4] = {c->n, c->c_out, ho, wo};
        int64_t nx = xs[0] * xs[1] * xs[2] * xs[3], nw = ws[0] * ws[1] * ws[2] * ws[3], ny = ys4[0] * ys4[1] * ho * wo;
        float *hx = host_rand(nx, 61), *hw = host_rand(nw, 67), *hb = host_rand(c->c_out, 71), *hdy = host_rand(ny, 73);
        float *dx = malloc((size_t)nx * 4), *dw = malloc((size_t)nw * 4), *db = malloc((size_t)c->c_out * 4);
        ck_assert_int_eq(ref_conv2d_backward(&rp, hx, hw, hdy, dx, dw, db), 0);
        clgrad_tensor *x = th_tensor(4, xs, hx), *w = th_tensor(4, ws, hw), *b = th_tensor(1, bs, hb);
        clgrad_tensor *dy = th_tensor(4, ys4, hdy), *y = NULL;
        TH_OK(clgrad_tensor_set_requires_grad(x, 1));
        TH_OK(clgrad_tensor_set_requires_grad(w, 1));
        TH_OK(clgrad_tensor_set_requires_grad(b, 1));
        clgrad_conv2d_params pp = params_of(c);
        TH_OK(clgrad_conv2d(x, w, b, &pp, &y));
        TH_OK(clgrad_backward_ex(y, dy, 0));
        double kk = (double)c->kh * c->kw;
        expect("autograd dx", i, clgrad_tensor_grad(x), dx, nx, (c->c_out / c->groups) * kk);
        expect("autograd dw", i, clgrad_tensor_grad(w), dw, nw, (double)c->n * ho * wo);
        expect("autograd db", i, clgrad_tensor_grad(b), db, c->c_out, (double)c->n * ho * wo);
        clgrad_tensor_release(y), clgrad_tensor_release(x), clgrad_tensor_release(w);
        clgrad_tensor_release(b), clgrad_tensor_release(dy);
        free(hx), free(hw), free(hb), free(hdy), free(dx), free(dw), free(db);
    }
}
END_TEST

START_TEST(conv2d_many_planes)
{
    /* depthwise over more planes than one NDRange dimension holds on some devices */
    conv_case c = {70, 500, 3, 2, 500, 3, 3, 1, 1, 1, 1, 1, 1, 500, 1, 0, 0};
    check_conv2d(300, &c, 0);
}
END_TEST

START_TEST(conv2d_backward_is_bit_identical)
{
    int64_t xs[4] = {4, 6, 12, 11}, ws[4] = {8, 3, 3, 3}, ys[4] = {4, 8, 6, 6};
    clgrad_tensor *x = th_rand(4, xs, 1, -1, 1), *w = th_rand(4, ws, 2, -1, 1), *dy = th_rand(4, ys, 3, -1, 1);
    clgrad_conv2d_params p = {{2, 2}, {1, 1}, {1, 1}, 2, {0, 0}};
    clgrad__conv_geom g;
    int64_t os[4];
    TH_OK(clgrad__conv_setup("test", 0, x, w, NULL, &p, &g, os));
    ck_assert_int_eq(os[2], 6);
    float *first[3] = {NULL, NULL, NULL};
    for (int rep = 0; rep < 2; rep++) {
        clgrad_tensor *gx = empty4(4, 6, 12, 11), *gw = empty4(8, 3, 3, 3), *gb = NULL;
        int64_t bs[1] = {8};
        TH_OK(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 1, bs, &gb));
        TH_OK(clgrad__conv_backward(th_ctx, &g, x, w, dy, NULL, gx, gw));
        TH_OK(clgrad__conv_bias_grad(th_ctx, dy, gb));
        clgrad_tensor *t[3] = {gx, gw, gb};
        for (int k = 0; k < 3; k++) {
            float *h = th_read(t[k]);
            if (rep == 0) first[k] = h;
            else {
                size_t nbytes = (size_t)clgrad_tensor_numel(t[k]) * 4;
                ck_assert_msg(memcmp(h, first[k], nbytes) == 0, "gradient %d differs", k);
                free(h);
                free(first[k]);
            }
            clgrad_tensor_release(t[k]);
        }
    }
    clgrad_tensor_release(x), clgrad_tensor_release(w), clgrad_tensor_release(dy);
}
END_TEST

START_TEST(conv2d_direct_backward_is_bit_identical)
{
    /* the direct kernels' two-stage weight gradient, chunked and whole, and the input gradient */
    int64_t xs[4] = {5, 4, 13, 12}, ws[4] = {4, 1, 3, 3}, ys[4] = {5, 4, 13, 12};
    clgrad_tensor *x = th_rand(4, xs, 4, -1, 1), *w = th_rand(4, ws, 5, -1, 1), *dy = th_rand(4, ys, 6, -1, 1);
    clgrad_conv2d_params p = {{1, 1}, {1, 1}, {1, 1}, 4, {0, 0}};
    clgrad__conv_geom g;
    int64_t os[4];
    TH_OK(clgrad__conv_setup("test", 0, x, w, NULL, &p, &g, os));
    float *first[2] = {NULL, NULL};
    for (int rep = 0; rep < 3; rep++) {
        if (rep == 2) setenv("CLGRAD_CONV_TEMP_BYTES", "1", 1); /* one image per chunk: same sums */
        clgrad_tensor *gx = empty4(5, 4, 13, 12), *gw = empty4(4, 1, 3, 3);
        TH_OK(clgrad__conv_backward_algo(th_ctx, &g, CLGRAD__CONV_DIRECT, x, w, dy, NULL, gx, gw));
        clgrad_tensor *t[2] = {gx, gw};
        for (int k = 0; k < 2; k++) {
            float *h = th_read(t[k]);
            if (rep == 0) first[k] = h;
            else {
                size_t nbytes = (size_t)clgrad_tensor_numel(t[k]) * 4;
                ck_assert_msg(memcmp(h, first[k], nbytes) == 0, "gradient %d differs (repeat %d)", k, rep);
                free(h);
            }
            clgrad_tensor_release(t[k]);
        }
    }
    unsetenv("CLGRAD_CONV_TEMP_BYTES");
    free(first[0]), free(first[1]);
    clgrad_tensor_release(x), clgrad_tensor_release(w), clgrad_tensor_release(dy);
}
END_TEST

static void expect_fail(clgrad_status want, clgrad_status got, clgrad_tensor *out, const char *needle1,
                        const char *needle2)
{
    ck_assert_msg(got == want, "status %s, wanted %s (%s)", clgrad_status_name(got), clgrad_status_name(want),
                  clgrad_last_error(th_ctx));
    ck_assert_ptr_null(out);
    const char *msg = clgrad_last_error(th_ctx);
    if (needle1) ck_assert_msg(strstr(msg, needle1) != NULL, "message \"%s\" lacks \"%s\"", msg, needle1);
    if (needle2) ck_assert_msg(strstr(msg, needle2) != NULL, "message \"%s\" lacks \"%s\"", msg, needle2);
}

START_TEST(conv_errors_name_the_problem)
{
    clgrad_tensor *x = empty4(1, 3, 5, 5), *w = empty4(4, 2, 3, 3), *y = NULL;
    clgrad_conv2d_params p = {{1, 1}, {0, 0}, {1, 1}, 1, {0, 0}};
    expect_fail(CLGRAD_ERR_SHAPE, clgrad_conv2d(x, w, NULL, &p, &y), y, "[1, 3, 5, 5]", "[4, 2, 3, 3]");
    clgrad_tensor *x4 = empty4(1, 4, 5, 5), *w3 = empty4(3, 2, 3, 3);
    p.groups = 2; /* 3 output channels over 2 groups */
    expect_fail(CLGRAD_ERR_SHAPE, clgrad_conv2d(x4, w3, NULL, &p, &y), y, "groups 2", "[3, 2, 3, 3]");
    clgrad_tensor *x5 = empty4(1, 5, 5, 5), *w5 = empty4(4, 2, 3, 3);
    p.groups = 2; /* 5 input channels over 2 groups */
    expect_fail(CLGRAD_ERR_SHAPE, clgrad_conv2d(x5, w5, NULL, &p, &y), y, "groups 2", "[1, 5, 5, 5]");
    p.groups = 1;
    clgrad_tensor *xs = empty4(1, 2, 2, 2), *w22 = empty4(1, 2, 3, 3);
    expect_fail(CLGRAD_ERR_SHAPE, clgrad_conv2d(xs, w22, NULL, &p, &y), y, "[1, 2, 2, 2]", "0 x 0");
    p.dilation[0] = 2; /* 5 + 0 - 2*2 - 1 = 0: one row; dilation 3 leaves none */
    clgrad_tensor *w33 = empty4(4, 3, 3, 3);
    TH_OK(clgrad_conv2d(x, w33, NULL, &p, &y));
    clgrad_tensor_release(y), y = NULL;
    p.dilation[0] = 3;
    expect_fail(CLGRAD_ERR_SHAPE, clgrad_conv2d(x, w33, NULL, &p, &y), y, "[1, 3, 5, 5]", "output");
    p.dilation[0] = 1;
    int64_t b5s[1] = {5};
    clgrad_tensor *b5 = NULL;
    TH_OK(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 1, b5s, &b5));
    expect_fail(CLGRAD_ERR_SHAPE, clgrad_conv2d(x, w33, b5, &p, &y), y, "bias [5]", NULL);
    expect_fail(CLGRAD_ERR_INVALID_ARG, clgrad_conv2d(NULL, w33, NULL, &p, &y), y, "x", NULL);
    expect_fail(CLGRAD_ERR_INVALID_ARG, clgrad_conv2d(x, NULL, NULL, &p, &y), y, "weight", NULL);
    clgrad_tensor *xi = NULL;
    int64_t s4[4] = {1, 3, 5, 5};
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, 4, s4, &xi));
    expect_fail(CLGRAD_ERR_INVALID_ARG, clgrad_conv2d(xi, w33, NULL, &p, &y), y, "dtype", NULL);
    clgrad_tensor *x3 = NULL;
    TH_OK(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 3, s4 + 1, &x3));
    expect_fail(CLGRAD_ERR_SHAPE, clgrad_conv2d(x3, w33, NULL, &p, &y), y, "[3, 5, 5]", "4-D");
    p.stride[1] = -1;
    expect_fail(CLGRAD_ERR_INVALID_ARG, clgrad_conv2d(x, w33, NULL, &p, &y), y, "stride", NULL);
    p.stride[1] = 1;
    ck_assert_int_eq(clgrad_conv2d(x, w33, NULL, &p, NULL), CLGRAD_ERR_INVALID_ARG);
    TH_OK(clgrad_conv2d(x, w33, NULL, NULL, &y)); /* NULL params: defaults */
    clgrad_tensor_release(y), y = NULL;

    /* transposed: weight (C_in, C_out/groups, kh, kw) */
    clgrad_tensor *wt = empty4(3, 2, 3, 3);
    p.stride[0] = p.stride[1] = 2;
    p.output_padding[0] = 2;
    expect_fail(CLGRAD_ERR_INVALID_ARG, clgrad_conv_transpose2d(x, wt, NULL, &p, &y), y, "output_padding", NULL);
    p.output_padding[0] = 1;
    TH_OK(clgrad_conv_transpose2d(x, wt, NULL, &p, &y));
    int64_t got[4];
    clgrad_tensor_shape(y, got);
    ck_assert_int_eq(got[1], 2);
    ck_assert_int_eq(got[2], 12);
    ck_assert_int_eq(got[3], 11);
    clgrad_tensor_release(y), y = NULL;
    expect_fail(CLGRAD_ERR_SHAPE, clgrad_conv_transpose2d(x, w, NULL, &p, &y), y, "[1, 3, 5, 5]", "[4, 2, 3, 3]");
    p.padding[0] = p.padding[1] = 9;
    expect_fail(CLGRAD_ERR_SHAPE, clgrad_conv_transpose2d(x, wt, NULL, &p, &y), y, "output", NULL);

    clgrad_tensor *all[] = {x, w, x4, w3, x5, w5, xs, w22, w33, b5, xi, x3, wt};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clgrad_tensor_release(all[i]);
}
END_TEST

static Suite *suite_ops_conv(void)
{
    Suite *s = suite_create("ops_conv");
    TCase *tc = tcase_create("conv2d");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, conv2d_matches_reference);
    tcase_add_test(tc, conv2d_matches_reference_strided);
    tcase_add_test(tc, conv2d_chunks_under_a_small_bound);
    tcase_add_test(tc, conv2d_autograd_matches_reference);
    tcase_add_test(tc, conv2d_many_planes);
    tcase_add_test(tc, conv2d_backward_is_bit_identical);
    tcase_add_test(tc, conv2d_direct_backward_is_bit_identical);
    tcase_add_test(tc, conv_errors_name_the_problem);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("conv_transpose2d");
    tcase_add_checked_fixture(tt, th_setup, th_teardown);
    tcase_set_timeout(tt, 300);
    tcase_add_test(tt, conv_transpose2d_matches_reference);
    suite_add_tcase(s, tt);
    return s;
}

int main(void) { return th_run(suite_ops_conv(), 1); }
