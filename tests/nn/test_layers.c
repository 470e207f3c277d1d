/* Layers (src/nn): each layer's forward against the plain-C references, initialisation
 * bounds and determinism, parameter / buffer / counter names, train and eval behaviour of
 * dropout and batch norm, and the errors bad input must give. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref.h"

#include "ops/ops.h"
#include "tensor/node.h"
#include "tensor/tensor.h"

static clgrad_tensor *run(clgrad_module *m, clgrad_tensor *x)
{
    clgrad_tensor *y = NULL;
    TH_OK(clgrad_module_forward(m, x, &y));
    return y;
}

static void check_shape(clgrad_tensor *t, int ndim, const int64_t *want)
{
    ck_assert_int_eq(clgrad_tensor_ndim(t), ndim);
    for (int i = 0; i < ndim; i++) ck_assert_int_eq(clgrad_tensor_dim(t, i), want[i]);
}

/* Every value within [-bound, bound], and spread (not constant, reaches half the bound). */
static void check_uniform_init(const float *w, size_t n, double bound)
{
    double mx = 0.0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(fabs(w[i]) <= bound * (1 + 1e-6), "init value %g outside +-%g", (double)w[i], bound);
        if (fabs(w[i]) > mx) mx = fabs(w[i]);
    }
    ck_assert_msg(mx > 0.5 * bound, "init values all below half the bound %g", bound);
}

/* --- linear ---------------------------------------------------------------------------------- */

START_TEST(linear_matches_reference)
{
    clgrad_module *m = NULL;
    TH_OK(clgrad_linear_create(th_ctx, 7, 5, 1, 42, &m));
    ck_assert_str_eq(clgrad_module_kind(m), "linear");
    float *w = th_read_module_tensor(m, "weight"), *b = th_read_module_tensor(m, "bias");
    check_uniform_init(w, 35, 1.0 / sqrt(7.0));
    check_uniform_init(b, 5, 1.0 / sqrt(7.0));

    int64_t xs[3] = {2, 3, 7};
    clgrad_tensor *x = th_rand(3, xs, 1, -1.0f, 1.0f), *xn = th_noncontig(x);
    float *xh = th_read(x), want[30];
    for (int r = 0; r < 6; r++)
        for (int o = 0; o < 5; o++) want[r * 5 + o] = b[o];
    ref_gemm(0, 1, 6, 5, 7, 1.0f, xh, 7, w, 7, 1.0f, want, 5);
    clgrad_tensor *inputs[2] = {x, xn};
    for (int k = 0; k < 2; k++) {
        clgrad_tensor *y = run(m, inputs[k]);
        int64_t ys[3] = {2, 3, 5};
        check_shape(y, 3, ys);
        float *yh = th_read(y);
        th_allclose("linear", yh, want, 30, 1e-5, 1e-5);
        free(yh);
        clgrad_tensor_release(y);
    }

    /* Same seed, same weights; another seed, other weights; no bias: one parameter. */
    clgrad_module *m2 = NULL, *m3 = NULL;
    TH_OK(clgrad_linear_create(th_ctx, 7, 5, 1, 42, &m2));
    TH_OK(clgrad_linear_create(th_ctx, 7, 5, 0, 43, &m3));
    float *w2 = th_read_module_tensor(m2, "weight"), *w3 = th_read_module_tensor(m3, "weight");
    ck_assert(memcmp(w, w2, sizeof(float) * 35) == 0);
    ck_assert(memcmp(w, w3, sizeof(float) * 35) != 0);
    ck_assert(memcmp(w, b, sizeof(float) * 5) != 0); /* weight and bias use different streams */
    ck_assert_int_eq(clgrad_module_param_count(m3), 1);
    free(w);
    free(w2);
    free(w3);
    free(b);
    free(xh);
    clgrad_tensor_release(x);
    clgrad_tensor_release(xn);
    clgrad_module_release(m);
    clgrad_module_release(m2);
    clgrad_module_release(m3);
}
END_TEST

/* --- convolutions ---------------------------------------------------------------------------- */

static void conv_case(int transposed)
{
    ref_conv2d_params rp = {.n = 2, .c_in = 4, .h_in = 7, .w_in = 6, .c_out = 6, .k_h = 3, .k_w = 2,
                            .stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 0, .dil_h = 1, .dil_w = 2,
                            .groups = 2, .out_pad_h = transposed ? 1 : 0, .out_pad_w = 0};
    clgrad_conv2d_params p = {{2, 1}, {1, 0}, {1, 2}, 2, {rp.out_pad_h, 0}};
    clgrad_module *m = NULL;
    if (transposed)
        TH_OK(clgrad_conv_transpose2d_create(th_ctx, 4, 6, 3, 2, &p, 1, 5, &m));
    else
        TH_OK(clgrad_conv2d_create(th_ctx, 4, 6, 3, 2, &p, 1, 5, &m));
    clgrad_tensor *wt = clgrad_module_param(m, 0, NULL);
    int64_t ws[4] = {transposed ? 4 : 6, transposed ? 3 : 2, 3, 2};
    check_shape(wt, 4, ws);
    float *w = th_read_module_tensor(m, "weight"), *b = th_read_module_tensor(m, "bias");
    double bound = 1.0 / sqrt((double)(ws[1] * 6));
    check_uniform_init(w, 72, bound);
    check_uniform_init(b, 6, bound);

    int64_t xs[4] = {2, 4, 7, 6};
    clgrad_tensor *x = th_rand(4, xs, 3, -1.0f, 1.0f);
    float *xh = th_read(x);
    int ho = transposed ? ref_conv_transpose2d_out_dim(7, 3, 2, 1, 1, 1) : ref_conv2d_out_dim(7, 3, 2, 1, 1);
    int wo = transposed ? ref_conv_transpose2d_out_dim(6, 2, 1, 0, 2, 0) : ref_conv2d_out_dim(6, 2, 1, 0, 2);
    size_t ny = (size_t)2 * 6 * ho * wo;
    float *want = malloc(ny * sizeof *want);
    if (transposed)
        ck_assert_int_eq(ref_conv_transpose2d_forward(&rp, xh, w, b, want), 0);
    else
        ck_assert_int_eq(ref_conv2d_forward(&rp, xh, w, b, want), 0);
    clgrad_tensor *y = run(m, x);
    int64_t ys[4] = {2, 6, ho, wo};
    check_shape(y, 4, ys);
    float *yh = th_read(y);
    th_allclose(transposed ? "conv_transpose2d" : "conv2d", yh, want, ny, 1e-5, 1e-5);
    free(yh);
    free(want);
    free(xh);
    free(w);
    free(b);
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
    clgrad_module_release(m);
}

START_TEST(conv2d_matches_reference)
{
    conv_case(0);
}
END_TEST

START_TEST(conv_transpose2d_matches_reference)
{
    conv_case(1);
}
END_TEST

/* --- pooling --------------------------------------------------------------------------------- */

START_TEST(pools_match_reference)
{
    int64_t xs[4] = {2, 3, 7, 6};
    clgrad_tensor *x = th_rand(4, xs, 9, -2.0f, 2.0f);
    float *xh = th_read(x);
    clgrad_pool2d_params p = {{3, 2}, {2, 2}, {1, 1}};
    ref_pool2d_params rp = {6, 7, 6, 3, 2, 2, 2, 1, 1};
    int ho = ref_pool2d_out_dim(7, 3, 2, 1), wo = ref_pool2d_out_dim(6, 2, 2, 1);
    float want[6 * 21];
    clgrad_module *mp = NULL, *ap = NULL, *gp = NULL, *ad = NULL;
    TH_OK(clgrad_max_pool2d_create(th_ctx, &p, &mp));
    TH_OK(clgrad_avg_pool2d_create(th_ctx, &p, &ap));
    TH_OK(clgrad_adaptive_avg_pool2d_create(th_ctx, 1, 1, &gp));
    TH_OK(clgrad_adaptive_avg_pool2d_create(th_ctx, 7, 3, &ad));
    ck_assert_int_eq(clgrad_module_param_count(mp), 0);

    clgrad_tensor *y = run(mp, x);
    float *yh = th_read(y);
    ck_assert_int_eq(ref_max_pool2d_forward(&rp, xh, want, NULL), 0);
    th_allclose("max_pool2d", yh, want, (size_t)6 * ho * wo, 0, 0);
    free(yh);
    clgrad_tensor_release(y);

    y = run(ap, x);
    yh = th_read(y);
    ck_assert_int_eq(ref_avg_pool2d_forward(&rp, xh, want), 0);
    th_allclose("avg_pool2d", yh, want, (size_t)6 * ho * wo, 1e-6, 1e-5);
    free(yh);
    clgrad_tensor_release(y);

    y = run(gp, x);
    int64_t gs[4] = {2, 3, 1, 1};
    check_shape(y, 4, gs);
    yh = th_read(y);
    ref_global_avg_pool_forward(6, 42, xh, want);
    th_allclose("adaptive_avg_pool2d 1x1", yh, want, 6, 1e-6, 1e-5);
    free(yh);
    clgrad_tensor_release(y);

    /* 7x6 -> 7x3: equal windows 1x2. */
    y = run(ad, x);
    int64_t as[4] = {2, 3, 7, 3};
    check_shape(y, 4, as);
    yh = th_read(y);
    ref_pool2d_params r2 = {6, 7, 6, 1, 2, 1, 2, 0, 0};
    ck_assert_int_eq(ref_avg_pool2d_forward(&r2, xh, want), 0);
    th_allclose("adaptive_avg_pool2d 7x3", yh, want, 6 * 21, 1e-6, 1e-5);
    free(yh);
    clgrad_tensor_release(y);

    /* 7x6 -> 2x2 does not divide: a clear UNSUPPORTED. */
    clgrad_module *bad = NULL;
    TH_OK(clgrad_adaptive_avg_pool2d_create(th_ctx, 2, 2, &bad));
    ck_assert_int_eq(clgrad_module_forward(bad, x, &y), CLGRAD_ERR_UNSUPPORTED);
    ck_assert_ptr_null(y);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "7x6"));

    clgrad_module_release(bad);
    clgrad_module_release(mp);
    clgrad_module_release(ap);
    clgrad_module_release(gp);
    clgrad_module_release(ad);
    clgrad_tensor_release(x);
    free(xh);
}
END_TEST

/* --- normalisation --------------------------------------------------------------------------- */

static void batch_norm_case(int two_d, int ndim, const int64_t *xs)
{
    size_t n = (size_t)xs[0], c = (size_t)xs[1], s = 1, total;
    for (int i = 2; i < ndim; i++) s *= (size_t)xs[i];
    total = n * c * s;
    clgrad_module *m = NULL;
    if (two_d)
        TH_OK(clgrad_batch_norm2d_create(th_ctx, xs[1], 1e-5f, 0.1f, 1, &m));
    else
        TH_OK(clgrad_batch_norm1d_create(th_ctx, xs[1], 1e-5f, 0.1f, 1, &m));
    /* Non-trivial affine parameters. */
    clgrad_tensor *w = clgrad_module_param(m, 0, NULL), *b = clgrad_module_param(m, 1, NULL);
    float *wh = malloc(c * sizeof *wh), *bh = malloc(c * sizeof *bh);
    th_fill_uniform(wh, c, 11, 0.5f, 1.5f);
    th_fill_uniform(bh, c, 12, -1.0f, 1.0f);
    TH_OK(clgrad_tensor_write(w, wh, c * sizeof *wh));
    TH_OK(clgrad_tensor_write(b, bh, c * sizeof *bh));

    clgrad_tensor *x = th_rand(ndim, xs, 13, -2.0f, 3.0f);
    float *xh = th_read(x), *want = malloc(total * sizeof *want);
    float *rm = calloc(c, sizeof *rm), *rv = malloc(c * sizeof *rv);
    for (size_t i = 0; i < c; i++) rv[i] = 1.0f;

    /* Train mode: batch statistics, running stats updated, counter counts batches. */
    for (int step = 0; step < 2; step++) {
        clgrad_tensor *y = run(m, x);
        ref_batch_norm_train_forward(n, c, s, xh, wh, bh, 1e-5f, 0.1f, rm, rv, want, NULL, NULL);
        float *yh = th_read(y);
        th_allclose("batch_norm train", yh, want, total, 1e-5, 1e-4);
        free(yh);
        clgrad_tensor_release(y);
    }
    float *grm = th_read_module_tensor(m, "running_mean"), *grv = th_read_module_tensor(m, "running_var");
    th_allclose("running_mean", grm, rm, c, 1e-6, 1e-5);
    th_allclose("running_var", grv, rv, c, 1e-6, 1e-5);
    const char *cname = NULL;
    ck_assert_int_eq(clgrad_module_counter_count(m), 1);
    ck_assert_uint_eq(clgrad_module_counter(m, 0, &cname), 2);
    ck_assert_str_eq(cname, "num_batches_tracked");

    /* Eval mode: running statistics, nothing updated. */
    clgrad_module_train(m, 0);
    clgrad_tensor *y = run(m, x);
    ref_batch_norm_eval_forward(n, c, s, xh, wh, bh, rm, rv, 1e-5f, want);
    float *yh = th_read(y);
    th_allclose("batch_norm eval", yh, want, total, 1e-5, 1e-4);
    ck_assert_uint_eq(clgrad_module_counter(m, 0, NULL), 2);
    free(yh);
    clgrad_tensor_release(y);

    free(grm);
    free(grv);
    free(rm);
    free(rv);
    free(xh);
    free(want);
    free(wh);
    free(bh);
    clgrad_tensor_release(x);
    clgrad_module_release(m);
}

START_TEST(batch_norm_train_and_eval)
{
    int64_t s4[4] = {3, 4, 5, 2}, s2[2] = {7, 3}, s3[3] = {2, 5, 3};
    batch_norm_case(1, 4, s4);
    batch_norm_case(0, 2, s2);
    batch_norm_case(0, 3, s3);
}
END_TEST

START_TEST(layer_norm_matches_reference)
{
    int64_t ns[2] = {3, 5}, xs[3] = {4, 3, 5};
    clgrad_module *m = NULL;
    TH_OK(clgrad_layer_norm_create(th_ctx, 2, ns, 1e-5f, 1, &m));
    float wh[15], bh[15];
    th_fill_uniform(wh, 15, 21, 0.5f, 1.5f);
    th_fill_uniform(bh, 15, 22, -1.0f, 1.0f);
    float *w0 = th_read_module_tensor(m, "weight"), *b0 = th_read_module_tensor(m, "bias");
    for (int i = 0; i < 15; i++) {
        ck_assert(w0[i] == 1.0f);
        ck_assert(b0[i] == 0.0f);
    }
    TH_OK(clgrad_tensor_write(clgrad_module_param(m, 0, NULL), wh, sizeof wh));
    TH_OK(clgrad_tensor_write(clgrad_module_param(m, 1, NULL), bh, sizeof bh));
    clgrad_tensor *x = th_rand(3, xs, 23, -3.0f, 3.0f);
    float *xh = th_read(x), want[60];
    ref_layer_norm_forward(4, 15, xh, wh, bh, 1e-5f, want, NULL, NULL);
    clgrad_tensor *y = run(m, x);
    float *yh = th_read(y);
    th_allclose("layer_norm", yh, want, 60, 1e-5, 1e-4);
    free(yh);
    free(xh);
    free(w0);
    free(b0);
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
    clgrad_module_release(m);
}
END_TEST

/* --- dropout --------------------------------------------------------------------------------- */

START_TEST(dropout_new_mask_each_call_and_eval_identity)
{
    const float p = 0.3f;
    int64_t xs[2] = {16, 32};
    clgrad_module *m = NULL;
    TH_OK(clgrad_dropout_create(th_ctx, p, 77, &m));
    clgrad_tensor *x = th_rand(2, xs, 31, 0.5f, 1.5f); /* no zeros in x */
    float *xh = th_read(x);
    clgrad_tensor *y1 = run(m, x), *y2 = run(m, x);
    float *a = th_read(y1), *b = th_read(y2);
    int dropped = 0, differ = 0;
    for (int i = 0; i < 512; i++) {
        ck_assert(a[i] == 0.0f || fabsf(a[i] - xh[i] / (1 - p)) <= 1e-6f * fabsf(a[i]));
        dropped += a[i] == 0.0f;
        differ += (a[i] == 0.0f) != (b[i] == 0.0f);
    }
    ck_assert_msg(dropped > 100 && dropped < 210, "dropped %d of 512 at p = 0.3", dropped);
    ck_assert_msg(differ > 50, "two calls gave nearly the same mask (%d differences)", differ);
    const char *name = NULL;
    ck_assert_uint_eq(clgrad_module_counter(m, 0, &name), 2);
    ck_assert_str_eq(name, "calls");

    /* Resetting the counter replays the masks exactly. */
    TH_OK(clgrad_module_set_counter(m, 0, 0));
    clgrad_tensor *y3 = run(m, x);
    float *c = th_read(y3);
    ck_assert(memcmp(a, c, 512 * sizeof(float)) == 0);

    /* Eval: identity. */
    clgrad_module_train(m, 0);
    ck_assert_int_eq(clgrad_module_is_training(m), 0);
    clgrad_tensor *y4 = run(m, x);
    float *d = th_read(y4);
    ck_assert(memcmp(d, xh, 512 * sizeof(float)) == 0);
    ck_assert_uint_eq(clgrad_module_counter(m, 0, NULL), 1);

    ck_assert_int_eq(clgrad_module_set_counter(m, 1, 0), CLGRAD_ERR_INVALID_ARG);
    clgrad_module *bad = NULL;
    ck_assert_int_eq(clgrad_dropout_create(th_ctx, 1.0f, 1, &bad), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(bad);

    free(a);
    free(b);
    free(c);
    free(d);
    free(xh);
    clgrad_tensor_release(y1);
    clgrad_tensor_release(y2);
    clgrad_tensor_release(y3);
    clgrad_tensor_release(y4);
    clgrad_tensor_release(x);
    clgrad_module_release(m);
}
END_TEST

/* --- embedding, flatten, activations -------------------------------------------------------- */

START_TEST(embedding_looks_up_rows)
{
    clgrad_module *m = NULL;
    TH_OK(clgrad_embedding_create(th_ctx, 64, 16, 3, &m));
    float *w = th_read_module_tensor(m, "weight");
    double mean = 0, sq = 0;
    for (int i = 0; i < 1024; i++) {
        mean += w[i];
        sq += (double)w[i] * w[i];
    }
    mean /= 1024;
    double sd = sqrt(sq / 1024 - mean * mean);
    ck_assert_msg(fabs(mean) < 0.15 && sd > 0.85 && sd < 1.15, "N(0,1) init: mean %g sd %g", mean, sd);

    int32_t idx[6] = {5, 0, 63, 5, 17, 2};
    int64_t is[2] = {2, 3};
    clgrad_tensor *ix = NULL;
    TH_OK(clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_I32, 2, is, idx, &ix));
    clgrad_tensor *y = run(m, ix);
    int64_t ys[3] = {2, 3, 16};
    check_shape(y, 3, ys);
    float *yh = th_read(y), want[96];
    ck_assert_int_eq(ref_embedding_forward(6, 16, 64, w, idx, want), 0);
    th_allclose("embedding", yh, want, 96, 0, 0);

    /* f32 indices are a clear error. */
    clgrad_tensor *fx = th_rand(2, is, 1, 0.0f, 1.0f), *bad = NULL;
    ck_assert_int_eq(clgrad_module_forward(m, fx, &bad), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(bad);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "i32"));
    free(yh);
    free(w);
    clgrad_tensor_release(fx);
    clgrad_tensor_release(y);
    clgrad_tensor_release(ix);
    clgrad_module_release(m);
}
END_TEST

START_TEST(flatten_shapes)
{
    int64_t xs[4] = {2, 3, 4, 5};
    clgrad_tensor *x = th_rand(4, xs, 41, -1.0f, 1.0f);
    clgrad_module *a = NULL, *b = NULL, *c = NULL;
    TH_OK(clgrad_flatten_create(th_ctx, 1, -1, &a));
    TH_OK(clgrad_flatten_create(th_ctx, 1, 2, &b));
    TH_OK(clgrad_flatten_create(th_ctx, 4, 5, &c));
    clgrad_tensor *ya = run(a, x), *yb = run(b, x), *yc = NULL;
    int64_t sa[2] = {2, 60}, sb[3] = {2, 12, 5};
    check_shape(ya, 2, sa);
    check_shape(yb, 3, sb);
    float *xh = th_read(x), *yh = th_read(ya);
    ck_assert(memcmp(xh, yh, 120 * sizeof(float)) == 0);
    ck_assert_int_eq(clgrad_module_forward(c, x, &yc), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[2, 3, 4, 5]"));
    free(xh);
    free(yh);
    clgrad_tensor_release(ya);
    clgrad_tensor_release(yb);
    clgrad_tensor_release(x);
    clgrad_module_release(a);
    clgrad_module_release(b);
    clgrad_module_release(c);
}
END_TEST

START_TEST(activations_match_reference)
{
    static const struct {
        clgrad_activation kind;
        ref_unary_op ref;
        float p0, p1;
    } cases[] = {
        {CLGRAD_ACT_RELU, REF_UNARY_RELU, 0, 0},
        {CLGRAD_ACT_LEAKY_RELU, REF_UNARY_LEAKY_RELU, 0.01f, 0},
        {CLGRAD_ACT_ELU, REF_UNARY_ELU, 1.0f, 0},
        {CLGRAD_ACT_GELU, REF_UNARY_GELU, 0, 0},
        {CLGRAD_ACT_GELU_TANH, REF_UNARY_GELU_TANH, 0, 0},
        {CLGRAD_ACT_SILU, REF_UNARY_SILU, 0, 0},
        {CLGRAD_ACT_SIGMOID, REF_UNARY_SIGMOID, 0, 0},
        {CLGRAD_ACT_TANH, REF_UNARY_TANH, 0, 0},
        {CLGRAD_ACT_SOFTPLUS, REF_UNARY_SOFTPLUS, 1.0f, 20.0f},
        {CLGRAD_ACT_HARDTANH, REF_UNARY_HARDTANH, -1.0f, 1.0f},
    };
    int64_t xs[2] = {5, 7};
    clgrad_tensor *x = th_rand(2, xs, 51, -3.0f, 3.0f);
    float *xh = th_read(x), want[35];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        clgrad_module *m = NULL;
        TH_OK(clgrad_activation_create(th_ctx, cases[k].kind, cases[k].p0, cases[k].p1, &m));
        clgrad_tensor *y = run(m, x);
        float *yh = th_read(y);
        ref_unary_forward(cases[k].ref, cases[k].p0, cases[k].p1, 35, xh, want);
        th_allclose("activation", yh, want, 35, 1e-5, 1e-5);
        free(yh);
        clgrad_tensor_release(y);
        clgrad_module_release(m);
    }
    clgrad_module *sm = NULL, *lsm = NULL;
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_SOFTMAX, 1, 0, &sm));
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_LOG_SOFTMAX, -1, 0, &lsm));
    clgrad_tensor *y = run(sm, x);
    float *yh = th_read(y);
    ref_softmax_forward(5, 7, 1, xh, want);
    th_allclose("softmax", yh, want, 35, 1e-6, 1e-5);
    free(yh);
    clgrad_tensor_release(y);
    y = run(lsm, x);
    yh = th_read(y);
    ref_log_softmax_forward(5, 7, 1, xh, want);
    th_allclose("log_softmax", yh, want, 35, 1e-5, 1e-5);
    free(yh);
    clgrad_tensor_release(y);
    clgrad_module *bad = NULL;
    ck_assert_int_eq(clgrad_activation_create(th_ctx, (clgrad_activation)99, 0, 0, &bad), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_activation_create(th_ctx, CLGRAD_ACT_SOFTMAX, 0.5f, 0, &bad), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(bad);
    clgrad_module_release(sm);
    clgrad_module_release(lsm);
    clgrad_tensor_release(x);
    free(xh);
}
END_TEST

/* --- containers, names, modes ---------------------------------------------------------------- */

static clgrad_module *small_cnn(uint64_t seed)
{
    clgrad_module *features = NULL, *classifier = NULL, *net = NULL, *m = NULL;
    clgrad_conv2d_params cp = {{1, 1}, {1, 1}, {1, 1}, 1, {0, 0}};
    clgrad_pool2d_params pp = {{2, 2}, {2, 2}, {0, 0}};
    TH_OK(clgrad_sequential_create(th_ctx, &features));
    TH_OK(clgrad_conv2d_create(th_ctx, 1, 4, 3, 3, &cp, 1, seed, &m));
    TH_OK(clgrad_sequential_add(features, m));
    TH_OK(clgrad_batch_norm2d_create(th_ctx, 4, 1e-5f, 0.1f, 1, &m));
    TH_OK(clgrad_sequential_add(features, m));
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_RELU, 0, 0, &m));
    TH_OK(clgrad_sequential_add(features, m));
    TH_OK(clgrad_max_pool2d_create(th_ctx, &pp, &m));
    TH_OK(clgrad_sequential_add(features, m));
    TH_OK(clgrad_sequential_create(th_ctx, &classifier));
    TH_OK(clgrad_flatten_create(th_ctx, 1, -1, &m));
    TH_OK(clgrad_sequential_add(classifier, m));
    TH_OK(clgrad_dropout_create(th_ctx, 0.25f, seed + 1, &m));
    TH_OK(clgrad_sequential_add(classifier, m));
    TH_OK(clgrad_linear_create(th_ctx, 4 * 3 * 3, 3, 1, seed + 2, &m));
    TH_OK(clgrad_sequential_add(classifier, m));
    TH_OK(clgrad_sequential_create(th_ctx, &net));
    TH_OK(clgrad_sequential_add_named(net, "features", features));
    TH_OK(clgrad_sequential_add_named(net, "classifier", classifier));
    return net;
}

START_TEST(names_are_stable_and_dotted)
{
    clgrad_module *net = small_cnn(1);
    static const char *const params[] = {"features.0.weight", "features.0.bias", "features.1.weight",
                                         "features.1.bias", "classifier.2.weight", "classifier.2.bias"};
    static const char *const buffers[] = {"features.1.running_mean", "features.1.running_var"};
    static const char *const counters[] = {"features.1.num_batches_tracked", "classifier.1.calls"};
    ck_assert_int_eq(clgrad_module_param_count(net), 6);
    for (int i = 0; i < 6; i++) {
        const char *name = NULL;
        ck_assert_ptr_nonnull(clgrad_module_param(net, i, &name));
        ck_assert_str_eq(name, params[i]);
    }
    ck_assert_int_eq(clgrad_module_buffer_count(net), 2);
    for (int i = 0; i < 2; i++) {
        const char *name = NULL;
        ck_assert_ptr_nonnull(clgrad_module_buffer(net, i, &name));
        ck_assert_str_eq(name, buffers[i]);
    }
    ck_assert_int_eq(clgrad_module_counter_count(net), 2);
    for (int i = 0; i < 2; i++) {
        const char *name = NULL;
        clgrad_module_counter(net, i, &name);
        ck_assert_str_eq(name, counters[i]);
    }
    /* Names relative to a child, and out-of-range lookups. */
    const char *name = NULL, *cname = NULL;
    clgrad_module *features = clgrad_module_child(net, 0, &cname);
    ck_assert_str_eq(cname, "features");
    ck_assert_int_eq(clgrad_module_child_count(net), 2);
    clgrad_module_param(features, 2, &name);
    ck_assert_str_eq(name, "1.weight");
    ck_assert_ptr_null(clgrad_module_param(net, 6, &name));
    ck_assert_ptr_null(name);
    ck_assert_ptr_null(clgrad_module_param(net, -1, NULL));
    /* Every parameter requires grad; buffers do not. */
    for (int i = 0; i < 6; i++) ck_assert(clgrad_tensor_requires_grad(clgrad_module_param(net, i, NULL)));
    ck_assert(!clgrad_tensor_requires_grad(clgrad_module_buffer(net, 0, NULL)));
    /* The name cache follows growth. */
    clgrad_module *extra = NULL;
    TH_OK(clgrad_linear_create(th_ctx, 3, 2, 1, 9, &extra));
    TH_OK(clgrad_sequential_add(net, extra));
    ck_assert_int_eq(clgrad_module_param_count(net), 8);
    clgrad_module_param(net, 7, &name);
    ck_assert_str_eq(name, "2.bias");
    clgrad_module_param(net, 0, &name);
    ck_assert_str_eq(name, "features.0.weight");

    /* Mode propagates down and into children added later. */
    clgrad_module_train(net, 0);
    ck_assert_int_eq(clgrad_module_is_training(clgrad_module_child(features, 1, NULL)), 0);
    clgrad_module *late = NULL;
    TH_OK(clgrad_dropout_create(th_ctx, 0.5f, 1, &late));
    TH_OK(clgrad_sequential_add(net, late));
    ck_assert_int_eq(clgrad_module_is_training(late), 0);
    clgrad_module_train(net, 1);
    ck_assert_int_eq(clgrad_module_is_training(late), 1);
    clgrad_module_release(net);
}
END_TEST

START_TEST(sequential_runs_in_order_and_train_eval_differ)
{
    clgrad_module *net = small_cnn(3);
    int64_t xs[4] = {4, 1, 6, 6};
    clgrad_tensor *x = th_rand(4, xs, 61, -1.0f, 1.0f);
    clgrad_tensor *y = run(net, x);
    int64_t ys[2] = {4, 3};
    check_shape(y, 2, ys);
    /* Eval mode: deterministic (no dropout, running stats) and different from train mode. */
    clgrad_module_train(net, 0);
    clgrad_tensor *e1 = run(net, x), *e2 = run(net, x);
    float *a = th_read(e1), *b = th_read(e2), *t = th_read(y);
    ck_assert(memcmp(a, b, 12 * sizeof(float)) == 0);
    ck_assert(memcmp(a, t, 12 * sizeof(float)) != 0);
    free(a);
    free(b);
    free(t);
    clgrad_tensor_release(e1);
    clgrad_tensor_release(e2);
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
    clgrad_module_release(net);
}
END_TEST

/* A convolution, a ReLU and 2x2 max pooling in a Sequential run as one op (the node of the
 * output is the convolution's) where the op fuses them, with the same bits as the three
 * layers one at a time; other pooling windows leave the pooling to its own layer. */
static clgrad_tensor *conv_relu_pool_seq(const clgrad_pool2d_params *pp, clgrad_tensor *x, const char **node)
{
    clgrad_conv2d_params p = {.stride = {1, 1}, .padding = {1, 1}, .dilation = {1, 1}, .groups = 1};
    clgrad_module *seq, *m;
    TH_OK(clgrad_sequential_create(th_ctx, &seq));
    TH_OK(clgrad_conv2d_create(th_ctx, 2, 3, 3, 3, &p, 1, 5, &m));
    TH_OK(clgrad_sequential_add(seq, m));
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_RELU, 0, 0, &m));
    TH_OK(clgrad_sequential_add(seq, m));
    TH_OK(clgrad_max_pool2d_create(th_ctx, pp, &m));
    TH_OK(clgrad_sequential_add(seq, m));
    clgrad_tensor *y = run(seq, x);
    *node = y->node ? y->node->name : "";
    /* the same layers one at a time */
    clgrad_tensor *a = run(clgrad_module_child(seq, 0, NULL), x), *b = run(clgrad_module_child(seq, 1, NULL), a);
    clgrad_tensor *c = run(clgrad_module_child(seq, 2, NULL), b);
    int64_t n = clgrad_tensor_numel(y);
    ck_assert_int_eq(n, clgrad_tensor_numel(c));
    float *hy = th_read(y), *hc = th_read(c);
    ck_assert(memcmp(hy, hc, (size_t)n * sizeof(float)) == 0);
    free(hy);
    free(hc);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
    clgrad_tensor_release(c);
    clgrad_module_release(seq);
    return y;
}

START_TEST(sequential_fuses_conv_relu_pool)
{
    int64_t xs[4] = {2, 2, 8, 6};
    clgrad_tensor *x = th_rand(4, xs, 71, -1.0f, 1.0f);
    const char *node;
    clgrad_pool2d_params two = {{2, 2}, {0, 0}, {0, 0}}, three = {{3, 3}, {2, 2}, {1, 1}};
    clgrad_tensor *y = conv_relu_pool_seq(&two, x, &node);
    ck_assert_str_eq(node, clgrad__ops_tuning(th_ctx)->row_kernels ? "conv2d" : "max_pool2d");
    clgrad_tensor_release(y);
    y = conv_relu_pool_seq(&three, x, &node);
    ck_assert_str_eq(node, "max_pool2d");
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------------- */

START_TEST(bad_input_is_a_clear_error)
{
    clgrad_module *lin = NULL, *conv = NULL, *seq = NULL, *bn = NULL, *m = NULL;
    TH_OK(clgrad_linear_create(th_ctx, 6, 4, 1, 1, &lin));
    int64_t xs[2] = {3, 5}, x4[4] = {1, 2, 5, 5};
    clgrad_tensor *x = th_rand(2, xs, 1, 0.0f, 1.0f), *x4t = th_rand(4, x4, 2, 0.0f, 1.0f), *y = x;

    /* Shape mismatch: SHAPE, the message names the input's shape, *out NULL. */
    ck_assert_int_eq(clgrad_module_forward(lin, x, &y), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(y);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[3, 5]"));
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "6"));
    TH_OK(clgrad_conv2d_create(th_ctx, 3, 4, 3, 3, NULL, 1, 1, &conv));
    ck_assert_int_eq(clgrad_module_forward(conv, x, &y), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_module_forward(conv, x4t, &y), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[1, 2, 5, 5]"));
    TH_OK(clgrad_batch_norm2d_create(th_ctx, 3, 1e-5f, 0.1f, 1, &bn));
    ck_assert_int_eq(clgrad_module_forward(bn, x4t, &y), CLGRAD_ERR_SHAPE);
    clgrad_module *bn1 = NULL;
    int64_t one[2] = {1, 5};
    clgrad_tensor *x1 = th_rand(2, one, 3, 0.0f, 1.0f);
    TH_OK(clgrad_batch_norm1d_create(th_ctx, 5, 1e-5f, 0.1f, 1, &bn1));
    ck_assert_int_eq(clgrad_module_forward(bn1, x1, &y), CLGRAD_ERR_SHAPE); /* one value per channel */
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "more than one value"));
    clgrad_module_train(bn1, 0);
    TH_OK(clgrad_module_forward(bn1, x1, &y)); /* fine in eval mode */
    clgrad_tensor_release(y);
    clgrad_tensor_release(x1);
    clgrad_module_release(bn1);

    /* In a sequential, the message says which child failed. */
    TH_OK(clgrad_sequential_create(th_ctx, &seq));
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_TANH, 0, 0, &m));
    TH_OK(clgrad_sequential_add(seq, m));
    TH_OK(clgrad_sequential_add(seq, lin));
    lin = NULL;
    ck_assert_int_eq(clgrad_module_forward(seq, x, &y), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "child 1"));

    /* NULLs and bad constructor arguments. */
    ck_assert_int_eq(clgrad_module_forward(NULL, x, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_module_forward(seq, NULL, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_module_forward(seq, x, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_sequential_add(seq, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_linear_create(th_ctx, 0, 4, 1, 1, &m), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(clgrad_conv2d_create(th_ctx, 3, 4, 3, 3, &(clgrad_conv2d_params){.groups = 2}, 1, 1, &m),
                     CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_batch_norm2d_create(th_ctx, 3, 0.0f, 0.1f, 1, &m), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_max_pool2d_create(th_ctx, NULL, &m), CLGRAD_ERR_INVALID_ARG);
    /* Adding a non-container or into a non-sequential releases the child (no leak, no crash). */
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_RELU, 0, 0, &m));
    ck_assert_int_eq(clgrad_sequential_add(conv, m), CLGRAD_ERR_INVALID_ARG);
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_RELU, 0, 0, &m));
    ck_assert_int_eq(clgrad_sequential_add_named(seq, "0", m), CLGRAD_ERR_INVALID_ARG); /* duplicate name */
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_RELU, 0, 0, &m));
    ck_assert_int_eq(clgrad_sequential_add_named(seq, "a.b", m), CLGRAD_ERR_INVALID_ARG);

    /* A module already in a container, or the container itself: refused, nothing freed. */
    clgrad_module *seq2 = NULL;
    TH_OK(clgrad_sequential_create(th_ctx, &seq2));
    ck_assert_int_eq(clgrad_sequential_add(seq2, clgrad_module_child(seq, 0, NULL)), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "already belongs"));
    ck_assert_int_eq(clgrad_sequential_add(seq, seq), CLGRAD_ERR_INVALID_ARG);
    TH_OK(clgrad_sequential_add(seq2, seq));
    ck_assert_int_eq(clgrad_sequential_add(seq, seq2), CLGRAD_ERR_INVALID_ARG); /* a cycle */
    ck_assert_int_eq(clgrad_module_child_count(seq), 2);

    /* Another context: input and child both refused. */
    clgrad_context *other = NULL;
    TH_OK(clgrad_context_create(NULL, &other));
    clgrad_tensor *xo = NULL;
    int64_t s6[2] = {2, 6};
    TH_OK(clgrad_tensor_zeros(other, CLGRAD_DTYPE_F32, 2, s6, &xo));
    ck_assert_int_eq(clgrad_module_forward(seq, xo, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "another context"));
    clgrad_module *mo = NULL;
    TH_OK(clgrad_linear_create(other, 6, 2, 1, 1, &mo));
    ck_assert_int_eq(clgrad_sequential_add(seq, mo), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "another context"));
    ck_assert_int_eq(clgrad_module_child_count(seq), 2);

    clgrad_tensor_release(xo);
    clgrad_context_release(other);
    clgrad_tensor_release(x);
    clgrad_tensor_release(x4t);
    clgrad_module_release(conv);
    clgrad_module_release(bn);
    clgrad_module_release(seq2); /* releases seq too */
    clgrad_module_release(NULL);
}
END_TEST

static Suite *suite_nn_layers(void)
{
    Suite *s = suite_create("nn_layers");
    TCase *tc = tcase_create("layers");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, linear_matches_reference);
    tcase_add_test(tc, conv2d_matches_reference);
    tcase_add_test(tc, conv_transpose2d_matches_reference);
    tcase_add_test(tc, pools_match_reference);
    tcase_add_test(tc, batch_norm_train_and_eval);
    tcase_add_test(tc, layer_norm_matches_reference);
    tcase_add_test(tc, dropout_new_mask_each_call_and_eval_identity);
    tcase_add_test(tc, embedding_looks_up_rows);
    tcase_add_test(tc, flatten_shapes);
    tcase_add_test(tc, activations_match_reference);
    tcase_add_test(tc, names_are_stable_and_dotted);
    tcase_add_test(tc, sequential_runs_in_order_and_train_eval_differ);
    tcase_add_test(tc, sequential_fuses_conv_relu_pool);
    tcase_add_test(tc, bad_input_is_a_clear_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return th_run(suite_nn_layers(), 1);
}
