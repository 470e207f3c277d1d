/* Argument checks of include/clgrad/ops.h: every op on NULL, wrong dtypes, ranks and shapes,
 * tensors of two contexts, bad parameters and unknown enum values (see tests/support/args.h
 * for what a check expects). Ops of one signature are rows of unary_ops and binary_ops. */
#include "args.h"

#include <math.h>
#include <string.h>

static clgrad_status w_leaky_relu(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_leaky_relu(x, 0.1f, o); }
static clgrad_status w_elu(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_elu(x, 1.0f, o); }
static clgrad_status w_gelu(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_gelu(x, 0, o); }
static clgrad_status w_softplus(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_softplus(x, 1.0f, 20.0f, o); }
static clgrad_status w_hardtanh(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_hardtanh(x, -1.0f, 1.0f, o); }
static clgrad_status w_softmax(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_softmax(x, -1, o); }
static clgrad_status w_log_softmax(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_log_softmax(x, -1, o); }
static clgrad_status w_add_scalar(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_add_scalar(x, 1.0f, o); }
static clgrad_status w_mul_scalar(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_mul_scalar(x, 2.0f, o); }
static clgrad_status w_pow_scalar(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_pow_scalar(x, 2.0f, o); }
static clgrad_status w_rsub_scalar(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_rsub_scalar(x, 1.0f, o); }
static clgrad_status w_rdiv_scalar(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_rdiv_scalar(x, 1.0f, o); }
static clgrad_status w_maximum_scalar(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_maximum_scalar(x, 0.0f, o); }
static clgrad_status w_minimum_scalar(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_minimum_scalar(x, 0.0f, o); }
static clgrad_status w_clamp(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_clamp(x, -1.0f, 1.0f, o); }
static clgrad_status w_compare_scalar(clgrad_tensor *x, clgrad_tensor **o)
{
    return clgrad_compare_scalar(x, CLGRAD_CMP_LT, 0.0f, o);
}
static clgrad_status w_sum(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_sum(x, 0, NULL, 0, o); }
static clgrad_status w_mean(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_mean(x, 0, NULL, 0, o); }
static clgrad_status w_max(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_max(x, 0, NULL, 0, o); }
static clgrad_status w_min(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_min(x, 0, NULL, 0, o); }
static clgrad_status w_var(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_var(x, 0, NULL, 1, 0, o); }
static clgrad_status w_argmax(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_argmax(x, -1, 0, o); }
static clgrad_status w_dropout(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_dropout(x, 0.5f, 1, 1, o); }
static clgrad_status w_layer_norm(clgrad_tensor *x, clgrad_tensor **o)
{
    return clgrad_layer_norm(x, 1, NULL, NULL, 1e-5f, o);
}
static clgrad_status w_batch_norm(clgrad_tensor *x, clgrad_tensor **o)
{
    return clgrad_batch_norm(x, NULL, NULL, NULL, NULL, 1, 0.1f, 1e-5f, o);
}
static clgrad_status w_max_pool2d(clgrad_tensor *x, clgrad_tensor **o)
{
    clgrad_pool2d_params p = {.kernel = {1, 1}};
    return clgrad_max_pool2d(x, &p, o, NULL);
}
static clgrad_status w_avg_pool2d(clgrad_tensor *x, clgrad_tensor **o)
{
    clgrad_pool2d_params p = {.kernel = {1, 1}};
    return clgrad_avg_pool2d(x, &p, o);
}
static clgrad_status w_cat(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_cat(1, &x, 0, o); }
static clgrad_status w_stack(clgrad_tensor *x, clgrad_tensor **o) { return clgrad_stack(1, &x, 0, o); }

static clgrad_status w_compare(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **o)
{
    return clgrad_compare(a, CLGRAD_CMP_EQ, b, o);
}
static clgrad_status w_where_ab(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **o)
{
    return clgrad_where(a, a, b, o);
}
static clgrad_status w_where_cond(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **o)
{
    return clgrad_where(b, a, a, o);
}
static clgrad_status w_mse(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **o)
{
    return clgrad_mse_loss(a, b, CLGRAD_REDUCTION_MEAN, o);
}
static clgrad_status w_bce(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **o)
{
    return clgrad_bce_with_logits(a, b, CLGRAD_REDUCTION_MEAN, o);
}
static clgrad_status w_cat2(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **o)
{
    clgrad_tensor *t[2] = {a, b};
    return clgrad_cat(2, t, 0, o);
}
static clgrad_status w_stack2(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **o)
{
    clgrad_tensor *t[2] = {a, b};
    return clgrad_stack(2, t, 0, o);
}

/* Unary ops, valid on an f32 (2, 2, 2, 2) input; needs_f32 marks those that reject i32. */
static const ta_unary unary_ops[] = {
    {"relu", clgrad_relu, 1},
    {"leaky_relu", w_leaky_relu, 1},
    {"elu", w_elu, 1},
    {"gelu", w_gelu, 1},
    {"silu", clgrad_silu, 1},
    {"sigmoid", clgrad_sigmoid, 1},
    {"tanh", clgrad_tanh, 1},
    {"softplus", w_softplus, 1},
    {"hardtanh", w_hardtanh, 1},
    {"softmax", w_softmax, 1},
    {"log_softmax", w_log_softmax, 1},
    {"add_scalar", w_add_scalar, 1},
    {"mul_scalar", w_mul_scalar, 1},
    {"pow_scalar", w_pow_scalar, 1},
    {"rsub_scalar", w_rsub_scalar, 1},
    {"rdiv_scalar", w_rdiv_scalar, 1},
    {"maximum_scalar", w_maximum_scalar, 1},
    {"minimum_scalar", w_minimum_scalar, 1},
    {"neg", clgrad_neg, 1},
    {"exp", clgrad_exp, 1},
    {"log", clgrad_log, 1},
    {"sqrt", clgrad_sqrt, 1},
    {"rsqrt", clgrad_rsqrt, 1},
    {"abs", clgrad_abs, 1},
    {"erf", clgrad_erf, 1},
    {"clamp", w_clamp, 1},
    {"compare_scalar", w_compare_scalar, 1},
    {"sum", w_sum, 1},
    {"mean", w_mean, 1},
    {"max", w_max, 1},
    {"min", w_min, 1},
    {"var", w_var, 1},
    {"argmax", w_argmax, 1},
    {"dropout", w_dropout, 1},
    {"layer_norm", w_layer_norm, 1},
    {"batch_norm", w_batch_norm, 1},
    {"max_pool2d", w_max_pool2d, 1},
    {"avg_pool2d", w_avg_pool2d, 1},
    {"global_avg_pool2d", clgrad_global_avg_pool2d, 1},
    {"cat", w_cat, 0},
    {"stack", w_stack, 0},
};

/* Binary ops: same-shape f32 operands are valid; [2, 3] with [4, 5] is a shape error. */
static const ta_binary binary_ops[] = {
    {"add", clgrad_add, 0},
    {"sub", clgrad_sub, 0},
    {"mul", clgrad_mul, 0},
    {"div", clgrad_div, 0},
    {"pow", clgrad_pow, 0},
    {"maximum", clgrad_maximum, 0},
    {"minimum", clgrad_minimum, 0},
    {"compare", w_compare, 0},
    {"where(a, b)", w_where_ab, 0},
    {"where(cond)", w_where_cond, 1},
    {"mse_loss", w_mse, 0},
    {"bce_with_logits", w_bce, 0},
    {"cat", w_cat2, 0},
    {"stack", w_stack2, 0},
};

START_TEST(null_ops)
{
    clgrad_tensor *o, *idx;
    clgrad_conv2d_params cp = {{1, 1}, {0, 0}, {1, 1}, 1, {0, 0}};
    clgrad_pool2d_params pp = {{2, 2}, {2, 2}, {0, 0}};
    int axes[1] = {0};

    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_matmul(NULL, NULL, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_gemm(0, 0, 1.0f, NULL, NULL, 0.0f, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv2d(NULL, NULL, NULL, &cp, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv_transpose2d(NULL, NULL, NULL, &cp, &o));
    o = POISON;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, idx, clgrad_max_pool2d(NULL, &pp, &o, &idx));
    EXPECT_TRUE(o == NULL);
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_avg_pool2d(NULL, &pp, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_global_avg_pool2d(NULL, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_sum(NULL, 1, axes, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_mean(NULL, 1, axes, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_max(NULL, 1, axes, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_min(NULL, 1, axes, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_var(NULL, 1, axes, 1, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_argmax(NULL, 0, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o,
               clgrad_batch_norm(NULL, NULL, NULL, NULL, NULL, 1, 0.1f, 1e-5f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_layer_norm(NULL, 1, NULL, NULL, 1e-5f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cross_entropy(NULL, NULL, 0.0f, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_nll_loss(NULL, NULL, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_embedding(NULL, NULL, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cat(0, NULL, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_stack(0, NULL, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cat(1, NULL, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_stack(1, NULL, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_where(NULL, NULL, NULL, &o));
    ta_unary_null(unary_ops, N_OF(unary_ops));
    ta_binary_null(binary_ops, N_OF(binary_ops));
    ARGS_DONE();
}
END_TEST

START_TEST(bad_unary_ops)
{
    ta_unary_invalid(unary_ops, N_OF(unary_ops));
    ARGS_DONE();
}
END_TEST

START_TEST(bad_binary_ops)
{
    clgrad_tensor *a = ta_f32(2, s23), *o;

    ta_binary_invalid(binary_ops, N_OF(binary_ops));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_compare(a, (clgrad_cmp)42, a, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_compare_scalar(a, (clgrad_cmp)-1, 0.0f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_mse_loss(a, a, (clgrad_reduction)9, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_bce_with_logits(a, a, (clgrad_reduction)-2, &o));

    clgrad_tensor_release(a);
    ARGS_DONE();
}
END_TEST

START_TEST(bad_matmul_and_conv)
{
    clgrad_tensor *a = ta_f32(2, s23), *b = ta_f32(2, s45), *ai = ta_i32(2, s23), *o, *idx;
    clgrad_context *c2 = ta_second_context();
    clgrad_tensor *a2 = ta_f32_on(c2, 2, s32), *scalar = NULL;
    clgrad_tensor *c = ta_f32(2, s23);
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 0, NULL, &scalar));

    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_matmul(a, NULL, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, 3]", o, clgrad_matmul(a, b, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_matmul(ai, a, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_matmul(a, a2, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_matmul(scalar, a, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_matmul(a, a, NULL));
    /* gemm: c = a @ b with a [2, 3], b [4, 5] does not fit; c [2, 3] for [2,3]@[3,2] neither. */
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_gemm(0, 0, 1.0f, a, a, 0.0f, NULL));
    EXPECT_MSG(CLGRAD_ERR_SHAPE, "[2, 3]", clgrad_gemm(0, 0, 1.0f, a, b, 0.0f, c));
    EXPECT(CLGRAD_ERR_SHAPE, clgrad_gemm(0, 1, 1.0f, a, a, 0.0f, c));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_gemm(0, 1, 1.0f, ai, a, 0.0f, c));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_gemm(0, 0, 1.0f, a, a2, 0.0f, c));
    EXPECT(CLGRAD_ERR_SHAPE, clgrad_gemm(0, 0, 1.0f, scalar, a, 0.0f, c));

    int64_t xs[4] = {1, 2, 5, 5}, ws[4] = {3, 2, 3, 3}, wbad[4] = {3, 4, 3, 3}, bs[1] = {3}, bbad[1] = {4};
    int64_t x3s[3] = {2, 5, 5};
    clgrad_tensor *x = ta_f32(4, xs), *w = ta_f32(4, ws), *wb = ta_f32(4, wbad), *bias = ta_f32(1, bs), *biasb = ta_f32(1, bbad);
    clgrad_tensor *x3 = ta_f32(3, x3s), *xi = ta_i32(4, xs), *w2 = ta_f32_on(c2, 4, ws);
    clgrad_conv2d_params p = {{1, 1}, {0, 0}, {1, 1}, 1, {0, 0}};
    clgrad_conv2d_params pneg = {{1, 1}, {-1, 0}, {1, 1}, 1, {0, 0}};
    clgrad_conv2d_params pstride = {{-1, 1}, {0, 0}, {1, 1}, 1, {0, 0}};
    clgrad_conv2d_params pgroups = {{1, 1}, {0, 0}, {1, 1}, 3, {0, 0}};
    clgrad_conv2d_params pgneg = {{1, 1}, {0, 0}, {1, 1}, -2, {0, 0}};
    clgrad_conv2d_params pbig = {{1, 1}, {0, 0}, {4, 4}, 1, {0, 0}};
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv2d(x, NULL, NULL, &p, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv2d(xi, w, NULL, &p, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_conv2d(x3, w, NULL, &p, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[3, 4, 3, 3]", o, clgrad_conv2d(x, wb, NULL, &p, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[4]", o, clgrad_conv2d(x, w, biasb, &p, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv2d(x, w2, NULL, &p, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv2d(x, w, NULL, &pneg, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv2d(x, w, NULL, &pstride, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv2d(x, w, NULL, &pgneg, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_conv2d(x, w, NULL, &pgroups, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_conv2d(x, w, bias, &pbig, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_conv2d(x, w, bias, &p, NULL));

    /* conv_transpose2d: w is (C_in, C_out/groups, kH, kW) = (2, 3, 3, 3) for x's 2 channels. */
    int64_t wts[4] = {2, 3, 3, 3};
    clgrad_tensor *wt = ta_f32(4, wts);
    clgrad_conv2d_params pop = {{1, 1}, {0, 0}, {1, 1}, 1, {1, 1}}; /* output_padding >= stride */
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv_transpose2d(x, NULL, NULL, &p, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv_transpose2d(xi, wt, NULL, &p, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_conv_transpose2d(x3, wt, NULL, &p, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_conv_transpose2d(x, wb, NULL, &p, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_conv_transpose2d(x, wt, biasb, &p, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv_transpose2d(x, w2, NULL, &p, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv_transpose2d(x, wt, NULL, &pneg, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv_transpose2d(x, wt, NULL, &pop, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_conv_transpose2d(x, wt, NULL, &p, NULL));

    clgrad_pool2d_params pp = {{2, 2}, {0, 0}, {0, 0}};
    clgrad_pool2d_params pk0 = {{0, 2}, {0, 0}, {0, 0}};
    clgrad_pool2d_params ppad = {{2, 2}, {0, 0}, {2, 0}};  /* padding > kernel / 2 */
    clgrad_pool2d_params pbigk = {{7, 7}, {0, 0}, {0, 0}}; /* larger than 5 x 5 */
    clgrad_pool2d_params psneg = {{2, 2}, {-1, 1}, {0, 0}};
    o = POISON;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, idx, clgrad_max_pool2d(x, NULL, &o, &idx));
    EXPECT_TRUE(o == NULL);
    o = POISON;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, idx, clgrad_max_pool2d(x, &pk0, &o, &idx));
    EXPECT_TRUE(o == NULL);
    o = POISON;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, idx, clgrad_max_pool2d(x, &ppad, &o, &idx));
    EXPECT_TRUE(o == NULL);
    o = POISON;
    EXPECT_OUT(CLGRAD_ERR_SHAPE, idx, clgrad_max_pool2d(x, &pbigk, &o, &idx));
    EXPECT_TRUE(o == NULL);
    o = POISON;
    EXPECT_OUT(CLGRAD_ERR_SHAPE, idx, clgrad_max_pool2d(x3, &pp, &o, &idx));
    EXPECT_TRUE(o == NULL);
    o = POISON;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, idx, clgrad_max_pool2d(x, &psneg, &o, &idx));
    EXPECT_TRUE(o == NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_max_pool2d(x, &pp, NULL, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_avg_pool2d(x, NULL, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_avg_pool2d(x, &pk0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_avg_pool2d(x, &ppad, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_avg_pool2d(x, &pbigk, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_avg_pool2d(x3, &pp, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_avg_pool2d(x, &psneg, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_global_avg_pool2d(x3, &o));

    clgrad_tensor *all[] = {a, b, ai, a2, scalar, c, x, w, wb, bias, biasb, x3, xi, w2, wt};
    for (int i = 0; i < N_OF(all); i++) clgrad_tensor_release(all[i]);
    clgrad_context_release(c2);
    ARGS_DONE();
}
END_TEST

START_TEST(bad_reductions_norm_losses)
{
    clgrad_tensor *x = ta_f32(2, s23), *o;
    clgrad_tensor *empty = NULL;
    int64_t s0[2] = {0, 3};
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, s0, &empty));
    int ax_oob[1] = {2}, ax_neg[1] = {-3}, ax_dup[2] = {1, -1};

    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_sum(x, 1, ax_oob, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_sum(x, 1, ax_neg, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_sum(x, 2, ax_dup, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_sum(x, -1, ax_oob, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_mean(x, 1, ax_oob, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_max(x, 2, ax_dup, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_min(x, 1, ax_neg, 1, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_var(x, 1, ax_oob, 1, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_var(x, 0, NULL, -1, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_argmax(x, 2, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_argmax(x, -3, 0, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[0, 3]", o, clgrad_max(empty, 0, NULL, 0, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[0, 3]", o, clgrad_min(empty, 0, NULL, 0, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[0, 3]", o, clgrad_argmax(empty, 0, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_softmax(x, 2, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_log_softmax(x, -3, &o));

    /* Normalisation. x4 is (2, 3, 2, 2): 3 channels. */
    int64_t s4[4] = {2, 3, 2, 2}, c3[1] = {3}, c4[1] = {4}, one4[4] = {1, 3, 1, 1};
    clgrad_tensor *x4 = ta_f32(4, s4), *w3 = ta_f32(1, c3), *w4 = ta_f32(1, c4), *x1 = ta_f32(4, one4);
    clgrad_tensor *rm = ta_f32(1, c3), *rv = ta_f32(1, c3);
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_batch_norm(x4, w3, w3, NULL, NULL, 0, 0.1f, 1e-5f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_batch_norm(x4, w3, w3, rm, NULL, 0, 0.1f, 1e-5f, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[4]", o, clgrad_batch_norm(x4, w4, NULL, NULL, NULL, 1, 0.1f, 1e-5f, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[4]", o, clgrad_batch_norm(x4, NULL, w4, NULL, NULL, 1, 0.1f, 1e-5f, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[4]", o, clgrad_batch_norm(x4, NULL, NULL, w4, rv, 1, 0.1f, 1e-5f, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_batch_norm(x1, NULL, NULL, NULL, NULL, 1, 0.1f, 1e-5f, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_batch_norm(w3, NULL, NULL, NULL, NULL, 1, 0.1f, 1e-5f, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_batch_norm(x4, NULL, NULL, rm, rv, 0, 0.1f, 1e-5f, NULL));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, 3, 2, 2]", o, clgrad_layer_norm(x4, 0, NULL, NULL, 1e-5f, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, 3, 2, 2]", o, clgrad_layer_norm(x4, 5, NULL, NULL, 1e-5f, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, 3, 2, 2]", o, clgrad_layer_norm(x4, -1, NULL, NULL, 1e-5f, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[3]", o, clgrad_layer_norm(x4, 1, w3, NULL, 1e-5f, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[3]", o, clgrad_layer_norm(x4, 1, NULL, w3, 1e-5f, &o));

    /* Losses: logits (2, 3), labels i32 (2). */
    int64_t n2[1] = {2}, n5[1] = {5};
    clgrad_tensor *lab = ta_i32(1, n2), *lab5 = ta_i32(1, n5), *labf = ta_f32(1, n2), *logi = ta_i32(2, s23);
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cross_entropy(x, NULL, 0.0f, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cross_entropy(NULL, lab, 0.0f, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cross_entropy(x, labf, 0.0f, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cross_entropy(logi, lab, 0.0f, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[5]", o, clgrad_cross_entropy(x, lab5, 0.0f, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_cross_entropy(x4, lab, 0.0f, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cross_entropy(x, lab, -0.5f, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cross_entropy(x, lab, 1.5f, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cross_entropy(x, lab, NAN, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cross_entropy(x, lab, 0.0f, (clgrad_reduction)7, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_cross_entropy(x, lab, 0.0f, CLGRAD_REDUCTION_MEAN, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_nll_loss(x, NULL, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_nll_loss(NULL, lab, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_nll_loss(x, labf, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_nll_loss(logi, lab, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[5]", o, clgrad_nll_loss(x, lab5, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_nll_loss(x, lab, (clgrad_reduction)-1, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_nll_loss(x, lab, CLGRAD_REDUCTION_MEAN, NULL));

    /* Dropout and embedding. */
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_dropout(x, -0.5f, 1, 1, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_dropout(x, 1.5f, 1, 1, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_dropout(x, NAN, 1, 1, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_embedding(x, NULL, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_embedding(NULL, lab, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_embedding(x, labf, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_embedding(logi, lab, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_embedding(w3, lab, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_embedding(x, lab, NULL));

    /* Concatenation. */
    clgrad_tensor *y = ta_f32(2, s32), *xi = ta_i32(2, s23);
    clgrad_tensor *pair[2] = {x, y}, *withnull[2] = {x, NULL}, *mixed[2] = {x, xi}, *same[2] = {x, x};
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cat(0, pair, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cat(-1, pair, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cat(2, withnull, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cat(2, mixed, 0, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[3, 2]", o, clgrad_cat(2, pair, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cat(2, same, 2, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cat(2, same, -3, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_cat(2, same, 0, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_stack(0, pair, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_stack(2, withnull, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_stack(2, mixed, 0, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[3, 2]", o, clgrad_stack(2, pair, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_stack(2, same, 3, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_stack(2, same, -4, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_stack(2, same, 0, NULL));

    clgrad_tensor *all[] = {x, empty, x4, w3, w4, x1, rm, rv, lab, lab5, labf, logi, y, xi};
    for (int i = 0; i < N_OF(all); i++) clgrad_tensor_release(all[i]);
    ARGS_DONE();
}
END_TEST

/* Every multi-tensor op with one operand from a second context. */
START_TEST(bad_cross_context)
{
    clgrad_context *c2 = ta_second_context();
    int64_t xs[4] = {1, 2, 5, 5}, ws[4] = {3, 2, 3, 3}, c3[1] = {3}, c2s[1] = {2}, n2[1] = {2};
    clgrad_tensor *x = ta_f32(4, xs), *w = ta_f32(4, ws), *b3 = ta_f32(1, c3), *ch = ta_f32(1, c2s), *a = ta_f32(2, s23);
    clgrad_tensor *bt = ta_f32(2, s32), *lab = ta_i32(1, n2), *c = ta_f32(2, s23), *o;
    clgrad_tensor *x_2 = ta_f32_on(c2, 4, xs), *b3_2 = ta_f32_on(c2, 1, c3), *ch_2 = ta_f32_on(c2, 1, c2s);
    clgrad_tensor *a_2 = ta_f32_on(c2, 2, s23), *c_2 = ta_f32_on(c2, 2, s23), *lab_2 = NULL, *w_2 = ta_f32_on(c2, 4, ws);
    TH_OK(clgrad_tensor_zeros(c2, CLGRAD_DTYPE_I32, 1, n2, &lab_2));
    clgrad_conv2d_params p = {{1, 1}, {0, 0}, {1, 1}, 1, {0, 0}};
    int64_t wts[4] = {2, 3, 3, 3};
    clgrad_tensor *wt = ta_f32(4, wts);

    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv2d(x, w, b3_2, &p, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv2d(x_2, w, NULL, &p, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv_transpose2d(x, wt, b3_2, &p, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_conv_transpose2d(x_2, wt, NULL, &p, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_gemm(0, 1, 1.0f, a, a, 0.0f, c_2));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_gemm(0, 0, 1.0f, a_2, bt, 0.0f, c));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_batch_norm(x, ch_2, NULL, NULL, NULL, 1, 0.1f, 1e-5f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_batch_norm(x, NULL, ch_2, NULL, NULL, 1, 0.1f, 1e-5f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_batch_norm(x, ch, ch, ch_2, ch, 0, 0.1f, 1e-5f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_batch_norm(x, ch, ch, ch, ch_2, 0, 0.1f, 1e-5f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_layer_norm(a, 1, b3_2, NULL, 1e-5f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_layer_norm(a, 1, b3, b3_2, 1e-5f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cross_entropy(a, lab_2, 0.0f, CLGRAD_REDUCTION_MEAN, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_nll_loss(a_2, lab, CLGRAD_REDUCTION_SUM, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_embedding(a, lab_2, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_embedding(a_2, lab, &o));
    clgrad_tensor *mixed[2] = {a, a_2};
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_cat(2, mixed, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_stack(2, mixed, 0, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_where(a, a_2, a, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_where(a, a, a_2, &o));


    clgrad_tensor *all[] = {x, w, b3, ch, a, bt, lab, c, x_2, b3_2, ch_2, a_2, c_2, lab_2, w_2, wt};
    for (int i = 0; i < N_OF(all); i++) clgrad_tensor_release(all[i]);
    clgrad_context_release(c2);
    ARGS_DONE();
}
END_TEST

int main(void)
{
    const TTest *null_tests[] = {null_ops};
    const TTest *device_tests[] = {bad_unary_ops, bad_binary_ops, bad_matmul_and_conv, bad_reductions_norm_losses,
                                   bad_cross_context};
    return ta_main("api_args_ops", null_tests, N_OF(null_tests), device_tests, N_OF(device_tests));
}
