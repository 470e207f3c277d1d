/* The linear op (src/ops/fused.h) against the plain-C reference (ref_gemm, then the bias and
 * ReLU on the host), with both GEMM variants: with and without bias and ReLU, 1-D, 2-D and
 * 3-D inputs, a transposed input and sizes that fill no tile; a Linear or a Conv2d followed by
 * a ReLU in a Sequential (run as one op) gives the same bits as the two layers run apart; bad
 * shapes. */
#include "harness.h"
#include "ref.h"

#include "ops/gemm.h"
#include "ops/fused.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int nd, const int64_t *sx, int64_t out, int bias, int relu, int noncontig, const char *variant)
{
    int64_t in = sx[nd - 1], n = th_numel(nd - 1, sx), sw[2] = {out, in};
    clgrad_tensor *x = th_rand(nd, sx, 21, -1, 1), *w = th_rand(2, sw, 22, -1, 1);
    clgrad_tensor *b = bias ? th_rand(1, &out, 23, -1, 1) : NULL, *y = NULL;
    if (noncontig) th_make_noncontig(&x);
    TH_OK(clgrad__linear(x, w, b, relu, &y));
    ck_assert_int_eq(clgrad_tensor_ndim(y), nd);
    ck_assert_int_eq(clgrad_tensor_dim(y, -1), out);
    float *hx = th_read(x), *hw = th_read(w), *hb = b ? th_read(b) : NULL, *got = th_read(y);
    float *want = malloc(sizeof(float) * (size_t)(n * out + 1));
    ref_gemm(0, 1, (int)n, (int)out, (int)in, 1.0f, hx, (int)in, hw, (int)in, 0.0f, want, (int)out);
    for (int64_t i = 0; i < n * out; i++) {
        float v = want[i] + (hb ? hb[i % out] : 0.0f);
        want[i] = relu && v < 0.0f ? 0.0f : v;
    }
    char what[128];
    snprintf(what, sizeof what, "linear %s nd %d in %lld out %lld bias %d relu %d noncontig %d", variant, nd,
             (long long)in, (long long)out, bias, relu, noncontig);
    th_allclose(what, got, want, (size_t)(n * out), 2e-6 * (double)(in + 16), 1e-5);
    free(hx), free(hw), free(hb), free(got), free(want);
    clgrad_tensor_release(x), clgrad_tensor_release(w), clgrad_tensor_release(b), clgrad_tensor_release(y);
}

START_TEST(linear_matches_reference)
{
    static const char *const variants[2] = {NULL, "tiled"};
    for (int v = 0; v < 2; v++) {
        TH_OK(clgrad__gemm_set_variant(th_ctx, variants[v]));
        const char *name = variants[v] ? variants[v] : "default";
        int64_t s1[1] = {7}, s2[2] = {33, 70}, s3[3] = {2, 5, 17};
        for (int bias = 0; bias < 2; bias++)
            for (int relu = 0; relu < 2; relu++) {
                check(2, s2, 13, bias, relu, 0, name);
                check(3, s3, 65, bias, relu, 0, name);
                check(1, s1, 1, bias, relu, 0, name);
            }
        check(2, s2, 40, 1, 1, 1, name);
    }
}
END_TEST

/* Sequential(Linear, ReLU) runs as one op and matches the two layers run one after the other,
 * bit for bit, forward and backward. */
START_TEST(sequential_fuses_linear_and_relu)
{
    clgrad_module *seq = NULL, *lin = NULL, *act = NULL, *lin2 = NULL;
    TH_OK(clgrad_sequential_create(th_ctx, &seq));
    TH_OK(clgrad_linear_create(th_ctx, 20, 37, 1, 5, &lin));
    TH_OK(clgrad_sequential_add(seq, lin));
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_RELU, 0, 0, &act));
    TH_OK(clgrad_sequential_add(seq, act));
    TH_OK(clgrad_linear_create(th_ctx, 20, 37, 1, 5, &lin2)); /* the same weights, run alone */
    int64_t sx[2] = {9, 20};
    clgrad_tensor *x = th_rand(2, sx, 31, -1, 1), *y1 = NULL, *y2 = NULL, *z = NULL, *l1 = NULL, *l2 = NULL;
    TH_OK(clgrad_module_forward(seq, x, &y1));
    TH_OK(clgrad_module_forward(lin2, x, &z));
    TH_OK(clgrad_relu(z, &y2));
    float *a = th_read(y1), *b = th_read(y2);
    ck_assert(memcmp(a, b, sizeof(float) * 9 * 37) == 0);
    free(a), free(b);
    TH_OK(clgrad_sum(y1, 0, NULL, 0, &l1));
    TH_OK(clgrad_sum(y2, 0, NULL, 0, &l2));
    TH_OK(clgrad_backward(l1));
    TH_OK(clgrad_backward(l2));
    for (int p = 0; p < 2; p++) {
        float *g1 = th_read(clgrad_tensor_grad(clgrad_module_param(lin, p, NULL)));
        float *g2 = th_read(clgrad_tensor_grad(clgrad_module_param(lin2, p, NULL)));
        size_t cnt = (size_t)clgrad_tensor_numel(clgrad_module_param(lin, p, NULL));
        th_allclose("fused and separate gradients", g1, g2, cnt, 1e-6, 1e-6);
        free(g1), free(g2);
    }
    clgrad_tensor *rel[] = {x, y1, y2, z, l1, l2};
    for (int i = 0; i < 6; i++) clgrad_tensor_release(rel[i]);
    clgrad_module_release(seq);
    clgrad_module_release(lin2);
}
END_TEST

/* Sequential(Conv2d, ReLU) runs as one op (the ReLU in the convolution's last pass) and
 * matches the two layers run one after the other, bit for bit, forward and backward. */
START_TEST(sequential_fuses_conv_and_relu)
{
    clgrad_conv2d_params p = {{1, 1}, {1, 1}, {1, 1}, 1, {0, 0}};
    clgrad_module *seq = NULL, *conv = NULL, *act = NULL, *conv2 = NULL;
    TH_OK(clgrad_sequential_create(th_ctx, &seq));
    TH_OK(clgrad_conv2d_create(th_ctx, 3, 5, 3, 3, &p, 1, 7, &conv));
    TH_OK(clgrad_sequential_add(seq, conv));
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_RELU, 0, 0, &act));
    TH_OK(clgrad_sequential_add(seq, act));
    TH_OK(clgrad_conv2d_create(th_ctx, 3, 5, 3, 3, &p, 1, 7, &conv2)); /* the same weights, run alone */
    int64_t sx[4] = {2, 3, 9, 7};
    clgrad_tensor *x = th_rand(4, sx, 41, -1, 1), *y1 = NULL, *y2 = NULL, *z = NULL, *l1 = NULL, *l2 = NULL;
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    TH_OK(clgrad_module_forward(seq, x, &y1));
    TH_OK(clgrad_module_forward(conv2, x, &z));
    TH_OK(clgrad_relu(z, &y2));
    size_t ny = (size_t)clgrad_tensor_numel(y1);
    float *a = th_read(y1), *b = th_read(y2);
    ck_assert(memcmp(a, b, sizeof(float) * ny) == 0);
    free(a), free(b);
    int64_t ys[4] = {2, 5, 9, 7};
    clgrad_tensor *wt = th_rand(4, ys, 43, -1, 1), *p1 = NULL, *p2 = NULL;
    TH_OK(clgrad_mul(y1, wt, &p1));
    TH_OK(clgrad_mul(y2, wt, &p2));
    TH_OK(clgrad_sum(p1, 0, NULL, 0, &l1));
    TH_OK(clgrad_sum(p2, 0, NULL, 0, &l2));
    TH_OK(clgrad_backward(l1));
    float *gx1 = th_read(clgrad_tensor_grad(x));
    clgrad_tensor_zero_grad(x);
    TH_OK(clgrad_backward(l2));
    float *gx2 = th_read(clgrad_tensor_grad(x));
    ck_assert(memcmp(gx1, gx2, sizeof(float) * 2 * 3 * 9 * 7) == 0);
    free(gx1), free(gx2);
    for (int q = 0; q < 2; q++) {
        float *g1 = th_read(clgrad_tensor_grad(clgrad_module_param(conv, q, NULL)));
        float *g2 = th_read(clgrad_tensor_grad(clgrad_module_param(conv2, q, NULL)));
        size_t cnt = (size_t)clgrad_tensor_numel(clgrad_module_param(conv, q, NULL));
        ck_assert(memcmp(g1, g2, sizeof(float) * cnt) == 0);
        free(g1), free(g2);
    }
    clgrad_tensor *rel[] = {x, y1, y2, z, l1, l2, wt, p1, p2};
    for (int i = 0; i < 9; i++) clgrad_tensor_release(rel[i]);
    clgrad_module_release(seq);
    clgrad_module_release(conv2);
}
END_TEST

START_TEST(bad_shapes_fail_cleanly)
{
    int64_t sx[2] = {4, 5}, sw[2] = {3, 6}, sb[1] = {4};
    clgrad_tensor *x = th_rand(2, sx, 1, -1, 1), *w = th_rand(2, sw, 2, -1, 1), *b = th_rand(1, sb, 3, -1, 1);
    clgrad_tensor *y = (clgrad_tensor *)1;
    ck_assert_int_eq(clgrad__linear(x, w, NULL, 0, &y), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(y);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[3, 6]"));
    ck_assert_int_eq(clgrad__linear(x, w, b, 1, &y), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad__linear(NULL, w, NULL, 0, &y), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad__linear(x, w, NULL, 0, NULL), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(x), clgrad_tensor_release(w), clgrad_tensor_release(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ops_linear");
    TCase *tc = tcase_create("linear");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, linear_matches_reference);
    tcase_add_test(tc, sequential_fuses_linear_and_relu);
    tcase_add_test(tc, sequential_fuses_conv_and_relu);
    tcase_add_test(tc, bad_shapes_fail_cleanly);
    suite_add_tcase(s, tc);
    return th_run(s, 1);
}
