/* The argument checks of every public function: NULL handles and pointers, wrong dtypes,
 * ranks and shapes, tensors of two different contexts, negative sizes, unknown enum
 * values. Each failing call must return its documented status, set every out-parameter to
 * NULL, leave a non-empty message for clgrad_last_error and never crash; void functions
 * are no-ops on NULL and getters on NULL return their neutral value.
 *
 * Every CLGRAD_API function of include/clgrad.h and the headers in include/clgrad/ is called below at
 * least once. Not called on purpose: clgrad_context_default (no arguments; it creates the
 * process-wide context, which tests/device covers). clgrad_version_number,
 * clgrad_version_string and clgrad_shutdown take no arguments and are only called to show
 * that they are safe at any time.
 *
 * Failed checks are collected and reported together at the end of each test, so that one
 * run lists every faulty function. */
#include "harness.h"

#include "core/core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- checking helpers ------------------------------------------------------------------------ */

static int n_bad;
static char poison_byte;
#define POISON ((void *)&poison_byte)

static void bad(int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "test_api_args.c:%d: ", line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    n_bad++;
}

static void clear_err(void) { clgrad__fail(NULL, CLGRAD_OK, "%s", ""); }

static void expect_(int line, const char *what, clgrad_status want, clgrad_status got, const char *needle)
{
    const char *msg = clgrad_last_error(NULL);
    if (got != want)
        bad(line, "%s -> %s, want %s (%s)", what, clgrad_status_name(got), clgrad_status_name(want), msg);
    else if (!msg[0])
        bad(line, "%s -> %s with an empty message", what, clgrad_status_name(got));
    else if (needle && !strstr(msg, needle))
        bad(line, "%s: message \"%s\" does not mention %s", what, msg, needle);
}

/* call returns want and leaves a message (mentioning needle, when not NULL). */
#define EXPECT(want, call) expect_(__LINE__, #call, (want), (clear_err(), (call)), NULL)
#define EXPECT_MSG(want, needle, call) expect_(__LINE__, #call, (want), (clear_err(), (call)), (needle))
/* The same, and the out-parameter out (poisoned first) is NULL afterwards. */
#define EXPECT_OUT(want, out, call)                                                                \
    do {                                                                                           \
        (out) = POISON;                                                                            \
        EXPECT(want, call);                                                                        \
        if ((out) != NULL) bad(__LINE__, "%s: out-parameter " #out " not NULL", #call);            \
    } while (0)
#define EXPECT_OUT_MSG(want, needle, out, call)                                                    \
    do {                                                                                           \
        (out) = POISON;                                                                            \
        EXPECT_MSG(want, needle, call);                                                            \
        if ((out) != NULL) bad(__LINE__, "%s: out-parameter " #out " not NULL", #call);            \
    } while (0)
/* A plain value check (getters). */
#define EXPECT_TRUE(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) bad(__LINE__, "%s does not hold", #cond);                                     \
    } while (0)

#define DONE() ck_assert_msg(n_bad == 0, "%d argument checks failed (listed on stderr)", n_bad)

static const int64_t s23[2] = {2, 3};
static const int64_t s45[2] = {4, 5};
static const int64_t s32[2] = {3, 2};

/* --- tensor helpers (device tests) --------------------------------------------------------- */

static clgrad_tensor *f32_on(clgrad_context *ctx, int ndim, const int64_t *shape)
{
    clgrad_tensor *t = NULL;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (int64_t i = 0; i < n; i++) v[i] = 0.25f + 0.01f * (float)i;
    TH_OK(clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_F32, ndim, shape, v, &t));
    free(v);
    return t;
}

static clgrad_tensor *f32(int ndim, const int64_t *shape) { return f32_on(th_ctx, ndim, shape); }

static clgrad_tensor *i32(int ndim, const int64_t *shape)
{
    clgrad_tensor *t = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, ndim, shape, &t));
    return t;
}

static clgrad_context *second_context(void)
{
    clgrad_context_desc d = {0};
    clgrad_context *c = NULL;
    TH_OK(clgrad_context_create(&d, &c));
    return c;
}

/* --- uniform signatures for tables of ops ---------------------------------------------------- */

typedef clgrad_status (*unary_fn)(clgrad_tensor *, clgrad_tensor **);
typedef clgrad_status (*binary_fn)(clgrad_tensor *, clgrad_tensor *, clgrad_tensor **);

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

/* Unary ops on f32: needs_f32 marks those that reject i32. */
static const struct {
    const char *name;
    unary_fn fn;
    int needs_f32;
} unary_ops[] = {
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
    {"reshape", w_reshape, 0},
    {"permute", w_permute, 0},
    {"transpose", w_transpose, 0},
    {"slice", w_slice, 0},
    {"expand", w_expand, 0},
    {"contiguous", clgrad_contiguous, 0},
    {"clone", clgrad_clone, 0},
    {"detach", clgrad_detach, 0},
    {"cat", w_cat, 0},
    {"stack", w_stack, 0},
};

/* Binary ops: same-shape f32 operands are valid; [2, 3] with [4, 5] is a shape error. */
static const struct {
    const char *name;
    binary_fn fn;
} binary_ops[] = {
    {"add", clgrad_add},         {"sub", clgrad_sub},         {"mul", clgrad_mul},
    {"div", clgrad_div},         {"pow", clgrad_pow},         {"maximum", clgrad_maximum},
    {"minimum", clgrad_minimum}, {"compare", w_compare},      {"where(a, b)", w_where_ab},
    {"where(cond)", w_where_cond}, {"mse_loss", w_mse},       {"bce_with_logits", w_bce},
    {"cat", w_cat2},             {"stack", w_stack2},
};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* =============================================================================================
 * No device: NULL everywhere
 * ========================================================================================== */

START_TEST(null_core_and_device)
{
    clgrad_context *ctx;
    clgrad_device_info *list;
    int n = 0, idx = 0;
    clgrad_context_stats st;

    EXPECT_TRUE(clgrad_status_name((clgrad_status)12345) != NULL);
    EXPECT_TRUE(clgrad_last_error(NULL) != NULL);
    EXPECT_TRUE(clgrad_version_number() == CLGRAD_VERSION_NUMBER);
    EXPECT_TRUE(clgrad_version_string() != NULL);
    clgrad_shutdown(); /* nothing to release yet */

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_devices_list(NULL, &n));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, list, clgrad_devices_list(&list, NULL));
    clgrad_devices_free(NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_devices_select(NULL, 1, NULL, &idx));

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_create(NULL, NULL));
    clgrad_context_release(NULL);
    EXPECT_TRUE(clgrad_context_device(NULL) == NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_finish(NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_get_stats(NULL, &st));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_build_all(NULL));
    clgrad_context_trim(NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_set_gemm_provider(NULL, "own"));
    EXPECT_TRUE(clgrad_context_gemm_provider(NULL) == NULL);
    (void)ctx;
    DONE();
}
END_TEST

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

    /* Every op of the tables, on NULL tensors. */
    for (int i = 0; i < N_OF(unary_ops); i++) {
        o = POISON;
        clear_err();
        clgrad_status s = unary_ops[i].fn(NULL, &o);
        if (s != CLGRAD_ERR_INVALID_ARG || o != NULL || !clgrad_last_error(NULL)[0])
            bad(__LINE__, "%s(NULL) -> %s, out %p, message \"%s\"", unary_ops[i].name, clgrad_status_name(s),
                (void *)o, clgrad_last_error(NULL));
    }
    for (int i = 0; i < N_OF(binary_ops); i++) {
        o = POISON;
        clear_err();
        clgrad_status s = binary_ops[i].fn(NULL, NULL, &o);
        if (s != CLGRAD_ERR_INVALID_ARG || o != NULL || !clgrad_last_error(NULL)[0])
            bad(__LINE__, "%s(NULL, NULL) -> %s, out %p, message \"%s\"", binary_ops[i].name,
                clgrad_status_name(s), (void *)o, clgrad_last_error(NULL));
    }
    DONE();
}
END_TEST

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
    DONE();
}
END_TEST

START_TEST(null_autograd)
{
    clgrad_tensor *o;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_set_requires_grad(NULL, 1));
    EXPECT_TRUE(clgrad_tensor_requires_grad(NULL) == 0);
    EXPECT_TRUE(clgrad_tensor_grad(NULL) == NULL);
    clgrad_tensor_zero_grad(NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_backward(NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_backward_ex(NULL, NULL, 0));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_detach(NULL, &o));
    clgrad_no_grad_begin(NULL);
    clgrad_no_grad_end(NULL);
    EXPECT_TRUE(clgrad_grad_enabled(NULL) == 0);
    DONE();
}
END_TEST

START_TEST(null_nn)
{
    clgrad_module *m;
    clgrad_tensor *o, *h, *c;
    const char *name;
    clgrad_conv2d_params cp = {{1, 1}, {0, 0}, {1, 1}, 1, {0, 0}};
    clgrad_pool2d_params pp = {{2, 2}, {2, 2}, {0, 0}};
    int64_t ns[1] = {4};

    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_module_forward(NULL, NULL, &o));
    clgrad_module_release(NULL);
    EXPECT_TRUE(clgrad_module_kind(NULL) != NULL && clgrad_module_kind(NULL)[0] == '\0');
    EXPECT_TRUE(clgrad_module_context(NULL) == NULL);
    clgrad_module_train(NULL, 1);
    EXPECT_TRUE(clgrad_module_is_training(NULL) == 0);
    EXPECT_TRUE(clgrad_module_child_count(NULL) == 0);
    name = POISON;
    EXPECT_TRUE(clgrad_module_child(NULL, 0, &name) == NULL && name == NULL);
    EXPECT_TRUE(clgrad_module_param_count(NULL) == 0);
    name = POISON;
    EXPECT_TRUE(clgrad_module_param(NULL, 0, &name) == NULL && name == NULL);
    EXPECT_TRUE(clgrad_module_buffer_count(NULL) == 0);
    name = POISON;
    EXPECT_TRUE(clgrad_module_buffer(NULL, 0, &name) == NULL && name == NULL);
    EXPECT_TRUE(clgrad_module_counter_count(NULL) == 0);
    name = POISON;
    EXPECT_TRUE(clgrad_module_counter(NULL, 0, &name) == 0 && name == NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_module_set_counter(NULL, 0, 1));
    clgrad_module_zero_grad(NULL);

    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_linear_create(NULL, 4, 4, 1, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_conv2d_create(NULL, 1, 1, 3, 3, &cp, 1, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_conv_transpose2d_create(NULL, 1, 1, 3, 3, &cp, 1, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_max_pool2d_create(NULL, &pp, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_avg_pool2d_create(NULL, &pp, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_adaptive_avg_pool2d_create(NULL, 1, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_batch_norm2d_create(NULL, 4, 1e-5f, 0.1f, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_batch_norm1d_create(NULL, 4, 1e-5f, 0.1f, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_layer_norm_create(NULL, 1, ns, 1e-5f, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_dropout_create(NULL, 0.5f, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_embedding_create(NULL, 4, 4, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_flatten_create(NULL, 1, -1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_activation_create(NULL, CLGRAD_ACT_RELU, 0, 0, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_sequential_create(NULL, &m));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_sequential_add(NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_sequential_add_named(NULL, "a", NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_rnn_create(NULL, CLGRAD_LSTM, 4, 4, 1, 1, 0, 1, &m));
    o = POISON;
    c = POISON;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, h, clgrad_rnn_forward(NULL, NULL, NULL, NULL, &o, &h, &c));
    EXPECT_TRUE(o == NULL && c == NULL);
    DONE();
}
END_TEST

START_TEST(null_optim)
{
    clgrad_optim *opt;
    clgrad_tensor *o;
    const char *name;
    clgrad_optim_options oo = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.1f);
    clgrad_optim_options zero;
    memset(&zero, 0, sizeof zero);

    /* An unknown kind gives some defaults without crashing; the error comes at create. */
    (void)clgrad_optim_defaults((clgrad_optim_kind)99, 0.1f);
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, opt, clgrad_optim_create(NULL, &oo, &opt));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, opt, clgrad_optim_create_params(NULL, 0, NULL, NULL, &oo, &opt));
    clgrad_optim_release(NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_step(NULL));
    clgrad_optim_zero_grad(NULL);
    EXPECT_TRUE(clgrad_optim_get_lr(NULL) == 0.0f);
    clgrad_optim_set_lr(NULL, 1.0f);
    clgrad_optim_options got = clgrad_optim_get_options(NULL);
    EXPECT_TRUE(got.lr == 0.0f && got.kind == 0 && got.beta1 == 0.0f);
    EXPECT_TRUE(clgrad_optim_param_count(NULL) == 0);
    name = POISON;
    EXPECT_TRUE(clgrad_optim_param(NULL, 0, &name) == NULL && name == NULL);
    EXPECT_TRUE(clgrad_optim_state_count(NULL) == 0);
    name = POISON;
    EXPECT_TRUE(clgrad_optim_state(NULL, 0, &name) == NULL && name == NULL);
    name = POISON;
    EXPECT_TRUE(clgrad_optim_step_count(NULL, 0, &name) == 0 && name == NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_set_step_count(NULL, 0, 1));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_clip_grad_norm(1, NULL, 1.0f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_clip_grad_norm(NULL, 1.0f, &o));

    /* Schedules are plain values: degenerate ones must not divide by zero. */
    clgrad_lr_schedule s = clgrad_lr_step(0.1f, 0, 0.5f);
    EXPECT_TRUE(isfinite(clgrad_lr_at(&s, 5)));
    s = clgrad_lr_cosine(0.1f, 0, 0.0f);
    EXPECT_TRUE(isfinite(clgrad_lr_at(&s, 5)));
    s = clgrad_lr_with_warmup(clgrad_lr_constant(0.1f), -3, 2.0f);
    EXPECT_TRUE(isfinite(clgrad_lr_at(&s, -7)));
    EXPECT_TRUE(clgrad_lr_at(NULL, 3) == 0.0f);
    DONE();
}
END_TEST

START_TEST(null_io_and_data)
{
    clgrad_checkpoint_meta meta;
    clgrad_idx *ix;
    clgrad_dataset *ds, *tr, *ho;
    int64_t shape[CLGRAD_IDX_MAX_DIMS] = {7};
    int64_t n = 0;
    float x[4];
    int32_t y[4];
    memset(&meta, 0, sizeof meta);

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(NULL, "k", "v"));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, NULL, "v"));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "k", NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "", "v"));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "format", "v"));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "clgrad.step", "v"));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "optim.lr", "v"));
    {
        char longkey[CLGRAD_CHECKPOINT_KEY_MAX + 8];
        memset(longkey, 'k', sizeof longkey - 1);
        longkey[sizeof longkey - 1] = '\0';
        EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, longkey, "v"));
        char longval[CLGRAD_CHECKPOINT_VALUE_MAX + 8];
        memset(longval, 'v', sizeof longval - 1);
        longval[sizeof longval - 1] = '\0';
        EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "k", longval));
    }
    meta.n_extra = -1;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "k", "v"));
    meta.n_extra = CLGRAD_CHECKPOINT_MAX_EXTRA + 5;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "k", "v"));
    EXPECT_TRUE(clgrad_checkpoint_meta_get(&meta, "k") == NULL);
    memset(&meta, 0, sizeof meta);
    for (int i = 0; i < CLGRAD_CHECKPOINT_MAX_EXTRA; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        clgrad_status s = clgrad_checkpoint_meta_set(&meta, k, "v");
        if (s != CLGRAD_OK) bad(__LINE__, "meta_set %s -> %s", k, clgrad_status_name(s));
    }
    EXPECT(CLGRAD_ERR_UNSUPPORTED, clgrad_checkpoint_meta_set(&meta, "one-more", "v"));
    EXPECT_TRUE(clgrad_checkpoint_meta_get(NULL, "k") == NULL);
    EXPECT_TRUE(clgrad_checkpoint_meta_get(&meta, NULL) == NULL);

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_save(NULL, NULL, NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_save("x.safetensors", NULL, NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_load(NULL, NULL, NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_load("x.safetensors", NULL, NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_read_meta(NULL, &meta));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_read_meta("x.safetensors", NULL));
    EXPECT(CLGRAD_ERR_IO, clgrad_checkpoint_read_meta("/nonexistent-dir/none.safetensors", &meta));

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_idx_load("x.idx", NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ix, clgrad_idx_load(NULL, &ix));
    EXPECT_OUT(CLGRAD_ERR_IO, ix, clgrad_idx_load("/nonexistent-dir/none.idx", &ix));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ix, clgrad_idx_load_memory(NULL, 16, NULL, &ix));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_idx_load_memory("abcd", 4, NULL, NULL));
    EXPECT_OUT(CLGRAD_ERR_IO, ix, clgrad_idx_load_memory(NULL, 0, NULL, &ix));
    EXPECT_OUT(CLGRAD_ERR_IO, ix, clgrad_idx_load_memory("garbage!", 8, "g", &ix));
    {
        /* A u8 header claiming 2^31 x 2^31 elements: IO (the data is not there), no overflow. */
        const unsigned char huge[12] = {0, 0, 0x08, 2, 0x80, 0, 0, 0, 0x80, 0, 0, 0};
        EXPECT_OUT(CLGRAD_ERR_IO, ix, clgrad_idx_load_memory(huge, sizeof huge, "huge", &ix));
    }
    clgrad_idx_release(NULL);

    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_load_idx(NULL, "l", NULL, &ds));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_load_idx("i", NULL, NULL, &ds));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_load_idx("i", "l", NULL, NULL));
    EXPECT_OUT(CLGRAD_ERR_IO, ds, clgrad_dataset_load_idx("/nonexistent-dir/i", "/nonexistent-dir/l", NULL, &ds));
    clgrad_dataset_release(NULL);
    EXPECT_TRUE(clgrad_dataset_count(NULL) == 0);
    EXPECT_TRUE(clgrad_dataset_sample_shape(NULL, shape) == 0 && shape[0] == 7);
    EXPECT_TRUE(clgrad_dataset_sample_size(NULL) == 0);
    EXPECT_TRUE(clgrad_dataset_n_classes(NULL) == 0);
    tr = POISON;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ho, clgrad_dataset_split(NULL, 0, 1, &tr, &ho));
    EXPECT_TRUE(tr == NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_shuffle(NULL, 1, 0));
    EXPECT_TRUE(clgrad_dataset_n_batches(NULL, 4) == 0);
    n = 99;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_batch(NULL, 0, 4, x, y, &n));
    EXPECT_TRUE(n == 0);
    n = 99;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_batch_targets(NULL, 0, 4, x, x, &n));
    EXPECT_TRUE(n == 0);
    int64_t one[1] = {1};
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_from_floats(1, 1, one, NULL, y, 0, NULL, &ds));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_from_floats(1, 0, one, x, y, 0, NULL, &ds));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_from_floats(-1, 1, one, x, y, 0, NULL, &ds));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_from_floats(1, 1, one, x, y, 0, NULL, NULL));
    EXPECT_TRUE(clgrad_dataset_n_targets(NULL) == 0);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_label_stats(NULL, NULL, NULL, NULL, 0));
    double dm[1], ds_[1];
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_channel_stats(NULL, 0, dm, ds_, NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_set_normalization(NULL, 0, 1, x, x));
    EXPECT_TRUE(clgrad_dataset_sample_id(NULL, 0) == -1);
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_slice(NULL, 0, 0, &ds));
    clgrad_csv *csv;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, csv, clgrad_csv_load(NULL, NULL, &csv));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_csv_load("x.csv", NULL, NULL));
    EXPECT_OUT(CLGRAD_ERR_IO, csv, clgrad_csv_load("/nonexistent-dir/x.csv", NULL, &csv));
    clgrad_csv_opts bad_header = {.header = (clgrad_csv_header)7};
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, csv, clgrad_csv_load("x.csv", &bad_header, &csv));
    clgrad_csv_release(NULL);
    EXPECT_TRUE(clgrad_csv_rows(NULL) == 0 && clgrad_csv_cols(NULL) == 0);
    EXPECT_TRUE(clgrad_csv_name(NULL, 0) == NULL && clgrad_csv_find(NULL, "a") == -1);
    EXPECT_TRUE(strcmp(clgrad_csv_cell(NULL, 0, 0), "") == 0 && clgrad_csv_line(NULL, 0) == 0);
    EXPECT_TRUE(clgrad_csv_number(NULL, 0, 0, NULL) == CLGRAD_CSV_MISSING);
    DONE();
}
END_TEST

/* =============================================================================================
 * Device: invalid but non-NULL arguments
 * ========================================================================================== */

START_TEST(bad_device_and_context)
{
    clgrad_device_info *list = NULL;
    int n = 0, idx = -5;
    clgrad_context *ctx;
    clgrad_context_desc d = {0};

    TH_OK(clgrad_devices_list(&list, &n));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_devices_select(list, -1, NULL, &idx));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_devices_select(list, n, NULL, NULL));
    EXPECT(CLGRAD_ERR_NO_DEVICE, clgrad_devices_select(list, n, "no-such-device-anywhere", &idx));
    EXPECT(CLGRAD_ERR_NO_DEVICE, clgrad_devices_select(list, n, "99:99", &idx));
    EXPECT(CLGRAD_ERR_NO_DEVICE, clgrad_devices_select(list, 0, NULL, &idx));
    clgrad_devices_free(list);

    d.device = "no-such-device-anywhere";
    EXPECT_OUT(CLGRAD_ERR_NO_DEVICE, ctx, clgrad_context_create(&d, &ctx));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_get_stats(th_ctx, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_context_set_gemm_provider(th_ctx, "no-such-gemm"));
    EXPECT_TRUE(clgrad_context_device(th_ctx) != NULL);
    DONE();
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
    DONE();
}
END_TEST

START_TEST(bad_transfers_and_views)
{
    clgrad_tensor *t = f32(2, s23), *u = f32(2, s45), *ti = i32(2, s23), *o;
    clgrad_context *c2 = second_context();
    clgrad_tensor *t2 = f32_on(c2, 2, s23);
    float buf[6], v;
    int64_t bad_shape[2] = {4, 4}, two_neg[2] = {-1, -1}, neg[2] = {-2, 3};
    int64_t ex_bad[2] = {4, 3}, ex_short[1] = {3};
    int perm_dup[2] = {0, 0}, perm_oob[2] = {0, 2};

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_write(t, NULL, sizeof buf));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_write(t, buf, sizeof buf - 4));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_read(t, NULL, sizeof buf));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_read(t, buf, sizeof buf + 4));
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

    /* Unary table: out == NULL, and i32 input where f32 is needed. */
    int64_t s4[4] = {2, 2, 2, 2};
    clgrad_tensor *x4 = f32(4, s4), *x4i = i32(4, s4);
    for (int i = 0; i < N_OF(unary_ops); i++) {
        clear_err();
        clgrad_status s = unary_ops[i].fn(x4, NULL);
        if (s != CLGRAD_ERR_INVALID_ARG || !clgrad_last_error(NULL)[0])
            bad(__LINE__, "%s(x, NULL) -> %s, message \"%s\"", unary_ops[i].name, clgrad_status_name(s),
                clgrad_last_error(NULL));
        if (!unary_ops[i].needs_f32) continue;
        o = POISON;
        clear_err();
        s = unary_ops[i].fn(x4i, &o);
        if (s != CLGRAD_ERR_INVALID_ARG || o != NULL || !clgrad_last_error(NULL)[0])
            bad(__LINE__, "%s(i32) -> %s, out %p, message \"%s\"", unary_ops[i].name, clgrad_status_name(s),
                (void *)o, clgrad_last_error(NULL));
    }
    clgrad_tensor_release(x4);
    clgrad_tensor_release(x4i);

    clgrad_tensor_release(t2);
    clgrad_context_release(c2);
    clgrad_tensor_release(t);
    clgrad_tensor_release(u);
    clgrad_tensor_release(ti);
    DONE();
}
END_TEST

START_TEST(bad_binary_ops)
{
    clgrad_tensor *a = f32(2, s23), *b = f32(2, s45), *ai = i32(2, s23), *o;
    clgrad_context *c2 = second_context();
    clgrad_tensor *a2 = f32_on(c2, 2, s23);

    for (int i = 0; i < N_OF(binary_ops); i++) {
        const char *nm = binary_ops[i].name;
        clgrad_status s;
        struct {
            const char *what;
            clgrad_tensor *x, *y;
            clgrad_status want;
            const char *needle;
        } cases[] = {
            {"(a, NULL)", a, NULL, CLGRAD_ERR_INVALID_ARG, NULL},
            {"(NULL, a)", NULL, a, CLGRAD_ERR_INVALID_ARG, NULL},
            {"([2, 3], [4, 5])", a, b, CLGRAD_ERR_SHAPE, "[2, 3]"},
            {"(i32, f32)", ai, a, CLGRAD_ERR_INVALID_ARG, NULL},
            {"(f32, i32)", a, ai, CLGRAD_ERR_INVALID_ARG, NULL},
            {"(ctx1, ctx2)", a, a2, CLGRAD_ERR_INVALID_ARG, NULL},
            {"(ctx2, ctx1)", a2, a, CLGRAD_ERR_INVALID_ARG, NULL},
        };
        for (int k = 0; k < N_OF(cases); k++) {
            /* where's condition may be any f32 mask; an i32 condition is allowed too. */
            if (!strcmp(nm, "where(cond)") && k == 4) continue;
            o = POISON;
            clear_err();
            s = binary_ops[i].fn(cases[k].x, cases[k].y, &o);
            const char *msg = clgrad_last_error(NULL);
            if (s != cases[k].want || o != NULL || !msg[0] || (cases[k].needle && !strstr(msg, cases[k].needle)))
                bad(__LINE__, "%s%s -> %s (want %s), out %p, message \"%s\"", nm, cases[k].what,
                    clgrad_status_name(s), clgrad_status_name(cases[k].want), (void *)o, msg);
        }
        clear_err();
        s = binary_ops[i].fn(a, a, NULL);
        if (s != CLGRAD_ERR_INVALID_ARG || !clgrad_last_error(NULL)[0])
            bad(__LINE__, "%s(a, a, NULL) -> %s", nm, clgrad_status_name(s));
    }
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_compare(a, (clgrad_cmp)42, a, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_compare_scalar(a, (clgrad_cmp)-1, 0.0f, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_mse_loss(a, a, (clgrad_reduction)9, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_bce_with_logits(a, a, (clgrad_reduction)-2, &o));

    clgrad_tensor_release(a2);
    clgrad_context_release(c2);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
    clgrad_tensor_release(ai);
    DONE();
}
END_TEST

START_TEST(bad_matmul_and_conv)
{
    clgrad_tensor *a = f32(2, s23), *b = f32(2, s45), *ai = i32(2, s23), *o, *idx;
    clgrad_context *c2 = second_context();
    clgrad_tensor *a2 = f32_on(c2, 2, s32), *scalar = NULL;
    clgrad_tensor *c = f32(2, s23);
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
    clgrad_tensor *x = f32(4, xs), *w = f32(4, ws), *wb = f32(4, wbad), *bias = f32(1, bs), *biasb = f32(1, bbad);
    clgrad_tensor *x3 = f32(3, x3s), *xi = i32(4, xs), *w2 = f32_on(c2, 4, ws);
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
    clgrad_tensor *wt = f32(4, wts);
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
    DONE();
}
END_TEST

START_TEST(bad_reductions_norm_losses)
{
    clgrad_tensor *x = f32(2, s23), *o;
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
    clgrad_tensor *x4 = f32(4, s4), *w3 = f32(1, c3), *w4 = f32(1, c4), *x1 = f32(4, one4);
    clgrad_tensor *rm = f32(1, c3), *rv = f32(1, c3);
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
    clgrad_tensor *lab = i32(1, n2), *lab5 = i32(1, n5), *labf = f32(1, n2), *logi = i32(2, s23);
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
    clgrad_tensor *y = f32(2, s32), *xi = i32(2, s23);
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
    DONE();
}
END_TEST

START_TEST(bad_autograd)
{
    clgrad_tensor *x = f32(2, s23), *xi = i32(2, s23), *y = NULL, *g = f32(2, s45), *o;
    clgrad_context *c2 = second_context();
    int64_t one[1] = {1};
    clgrad_tensor *g2 = f32_on(c2, 2, s23), *gi = i32(2, s23), *s = NULL, *noreq = f32(1, one);

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_set_requires_grad(xi, 1));
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    TH_OK(clgrad_mul_scalar(x, 2.0f, &y));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_tensor_set_requires_grad(y, 1));
    EXPECT(CLGRAD_ERR_SHAPE, clgrad_backward(y));
    EXPECT(CLGRAD_ERR_SHAPE, clgrad_backward_ex(y, NULL, 0));
    EXPECT_MSG(CLGRAD_ERR_SHAPE, "[4, 5]", clgrad_backward_ex(y, g, 0));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_backward_ex(y, gi, 0));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_backward_ex(y, g2, 0));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_backward(noreq));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_detach(x, NULL));
    TH_OK(clgrad_sum(y, 0, NULL, 0, &s));
    TH_OK(clgrad_backward(s));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_backward(s)); /* the graph was freed */
    clgrad_tensor_zero_grad(x);
    EXPECT_TRUE(clgrad_tensor_grad(x) == NULL);
    clgrad_no_grad_end(th_ctx); /* unbalanced end: no effect */
    EXPECT_TRUE(clgrad_grad_enabled(th_ctx) == 1);
    (void)o;

    clgrad_tensor *all[] = {x, xi, y, g, g2, gi, s, noreq};
    for (int i = 0; i < N_OF(all); i++) clgrad_tensor_release(all[i]);
    clgrad_context_release(c2);
    DONE();
}
END_TEST

START_TEST(bad_nn)
{
    clgrad_module *m, *lin = NULL, *seq = NULL, *rnn = NULL, *gru = NULL;
    clgrad_tensor *o, *h, *c;
    clgrad_context *c2 = second_context();
    const char *name;
    clgrad_conv2d_params cp = {{1, 1}, {0, 0}, {1, 1}, 1, {0, 0}};
    clgrad_conv2d_params cpg = {{1, 1}, {0, 0}, {1, 1}, 2, {0, 0}};
    clgrad_conv2d_params cpneg = {{1, 1}, {-1, 0}, {1, 1}, 1, {0, 0}};
    clgrad_pool2d_params pk0 = {{0, 0}, {0, 0}, {0, 0}};
    int64_t ns[1] = {4}, nsneg[1] = {-4};

    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_linear_create(th_ctx, 0, 4, 1, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_linear_create(th_ctx, 4, -1, 1, 1, &m));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_linear_create(th_ctx, 4, 4, 1, 1, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_conv2d_create(th_ctx, 3, 4, 3, 3, &cpg, 1, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_conv2d_create(th_ctx, 4, 4, 0, 3, &cp, 1, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_conv2d_create(th_ctx, -4, 4, 3, 3, &cp, 1, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_conv2d_create(th_ctx, 4, 4, 3, 3, &cpneg, 1, 1, &m));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_conv2d_create(th_ctx, 4, 4, 3, 3, &cp, 1, 1, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_conv_transpose2d_create(th_ctx, 3, 4, 3, 3, &cpg, 1, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_conv_transpose2d_create(th_ctx, 4, 4, 3, -3, &cp, 1, 1, &m));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_conv_transpose2d_create(th_ctx, 4, 4, 3, 3, &cp, 1, 1, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_max_pool2d_create(th_ctx, NULL, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_max_pool2d_create(th_ctx, &pk0, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_avg_pool2d_create(th_ctx, NULL, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_avg_pool2d_create(th_ctx, &pk0, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_adaptive_avg_pool2d_create(th_ctx, 0, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_adaptive_avg_pool2d_create(th_ctx, 1, -1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_batch_norm2d_create(th_ctx, 0, 1e-5f, 0.1f, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_batch_norm2d_create(th_ctx, 4, -1.0f, 0.1f, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_batch_norm1d_create(th_ctx, -3, 1e-5f, 0.1f, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_batch_norm1d_create(th_ctx, 4, 1e-5f, NAN, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_layer_norm_create(th_ctx, 0, ns, 1e-5f, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_layer_norm_create(th_ctx, 1, NULL, 1e-5f, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_layer_norm_create(th_ctx, 1, nsneg, 1e-5f, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_layer_norm_create(th_ctx, 9, ns, 1e-5f, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_dropout_create(th_ctx, 1.0f, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_dropout_create(th_ctx, -0.1f, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_embedding_create(th_ctx, 0, 4, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_embedding_create(th_ctx, 4, -4, 1, &m));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_flatten_create(th_ctx, 1, -1, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_activation_create(th_ctx, (clgrad_activation)99, 0, 0, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_activation_create(th_ctx, (clgrad_activation)-1, 0, 0, &m));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_sequential_create(th_ctx, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_rnn_create(th_ctx, (clgrad_rnn_kind)9, 4, 4, 1, 1, 0, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_rnn_create(th_ctx, CLGRAD_GRU, 0, 4, 1, 1, 0, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_rnn_create(th_ctx, CLGRAD_GRU, 4, -4, 1, 1, 0, 1, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_rnn_create(th_ctx, CLGRAD_GRU, 4, 4, 0, 1, 0, 1, &m));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_rnn_create(th_ctx, CLGRAD_GRU, 4, 4, 1, 1, 0, 1, NULL));

    /* Forward with bad inputs. lin: 4 -> 3. */
    TH_OK(clgrad_linear_create(th_ctx, 4, 3, 1, 1, &lin));
    int64_t x4s[2] = {2, 4};
    clgrad_tensor *x = f32(2, s23), *x4 = f32(2, x4s), *x4i = i32(2, x4s), *x4c2 = f32_on(c2, 2, x4s);
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_module_forward(lin, NULL, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_module_forward(lin, x4, NULL));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, 3]", o, clgrad_module_forward(lin, x, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_module_forward(lin, x4i, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_module_forward(lin, x4c2, &o));
    name = POISON;
    EXPECT_TRUE(clgrad_module_child(lin, 5, &name) == NULL && name == NULL);
    name = POISON;
    EXPECT_TRUE(clgrad_module_param(lin, 2, &name) == NULL && name == NULL);
    name = POISON;
    EXPECT_TRUE(clgrad_module_param(lin, -1, &name) == NULL && name == NULL);
    name = POISON;
    EXPECT_TRUE(clgrad_module_buffer(lin, 0, &name) == NULL && name == NULL);
    name = POISON;
    EXPECT_TRUE(clgrad_module_counter(lin, 0, &name) == 0 && name == NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_module_set_counter(lin, 0, 1));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_module_set_counter(lin, -1, 1));

    /* Containers. */
    TH_OK(clgrad_sequential_create(th_ctx, &seq));
    clgrad_module *other = NULL, *child = NULL;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_sequential_add(seq, NULL));
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_RELU, 0, 0, &child));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_sequential_add(lin, child)); /* lin is no container: child released */
    TH_OK(clgrad_activation_create(c2, CLGRAD_ACT_RELU, 0, 0, &other));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_sequential_add(seq, other)); /* another context: released */
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_sequential_add(seq, seq));   /* contains seq: kept */
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_sequential_add_named(seq, "x", NULL));
    const char *bad_names[] = {NULL, "", "a.b"};
    for (int i = 0; i < N_OF(bad_names); i++) {
        TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_TANH, 0, 0, &child));
        EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_sequential_add_named(seq, bad_names[i], child));
    }
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_TANH, 0, 0, &child));
    TH_OK(clgrad_sequential_add_named(seq, "act", child));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_sequential_add(seq, child)); /* already owned: kept */
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_TANH, 0, 0, &child));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_sequential_add_named(seq, "act", child)); /* duplicate */
    EXPECT_TRUE(clgrad_module_child_count(seq) == 1);

    /* Recurrent layers: GRU 4 -> 5; x (T=3, N=2, 4). */
    TH_OK(clgrad_rnn_create(th_ctx, CLGRAD_GRU, 4, 5, 1, 1, 0, 1, &gru));
    TH_OK(clgrad_rnn_create(th_ctx, CLGRAD_LSTM, 4, 5, 1, 1, 0, 1, &rnn));
    int64_t xs[3] = {3, 2, 4}, xbad[3] = {3, 2, 6}, hs[3] = {1, 2, 5}, hbad[3] = {1, 3, 5};
    clgrad_tensor *xr = f32(3, xs), *xrb = f32(3, xbad), *h0 = f32(3, hs), *h0b = f32(3, hbad);
    clgrad_tensor *xri = i32(3, xs), *xr2 = f32_on(c2, 3, xs);
    struct {
        const char *what;
        clgrad_module *m;
        clgrad_tensor *x, *h0, *c0;
        clgrad_status want;
        const char *needle;
    } rc[] = {
        {"NULL x", gru, NULL, NULL, NULL, CLGRAD_ERR_INVALID_ARG, NULL},
        {"linear module", lin, xr, NULL, NULL, CLGRAD_ERR_INVALID_ARG, NULL},
        {"input size 6", gru, xrb, NULL, NULL, CLGRAD_ERR_SHAPE, "[3, 2, 6]"},
        {"i32 x", gru, xri, NULL, NULL, CLGRAD_ERR_INVALID_ARG, NULL},
        {"x of another context", gru, xr2, NULL, NULL, CLGRAD_ERR_INVALID_ARG, NULL},
        {"bad h0", gru, xr, h0b, NULL, CLGRAD_ERR_SHAPE, "[1, 3, 5]"},
        {"bad c0", rnn, xr, h0, h0b, CLGRAD_ERR_SHAPE, "[1, 3, 5]"},
        {"i32 h0", rnn, xr, xri, NULL, CLGRAD_ERR_INVALID_ARG, NULL},
        {"1-D x", rnn, h0b, NULL, NULL, CLGRAD_ERR_SHAPE, NULL},
    };
    for (int i = 0; i < N_OF(rc); i++) {
        o = h = c = POISON;
        clear_err();
        clgrad_status s = clgrad_rnn_forward(rc[i].m, rc[i].x, rc[i].h0, rc[i].c0, &o, &h, &c);
        const char *msg = clgrad_last_error(NULL);
        if (s != rc[i].want || o || h || c || !msg[0] || (rc[i].needle && !strstr(msg, rc[i].needle)))
            bad(__LINE__, "rnn_forward(%s) -> %s (want %s), out %p %p %p, message \"%s\"", rc[i].what,
                clgrad_status_name(s), clgrad_status_name(rc[i].want), (void *)o, (void *)h, (void *)c, msg);
    }
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_rnn_forward(gru, xr, NULL, NULL, NULL, NULL, NULL));

    clgrad_tensor *all[] = {x, x4, x4i, x4c2, xr, xrb, h0, h0b, xri, xr2};
    for (int i = 0; i < N_OF(all); i++) clgrad_tensor_release(all[i]);
    clgrad_module_release(lin);
    clgrad_module_release(seq);
    clgrad_module_release(gru);
    clgrad_module_release(rnn);
    clgrad_context_release(c2);
    DONE();
}
END_TEST

START_TEST(bad_optim)
{
    clgrad_module *lin = NULL;
    clgrad_optim *opt = NULL, *o;
    clgrad_tensor *tn;
    clgrad_context *c2 = second_context();
    const char *name;
    TH_OK(clgrad_linear_create(th_ctx, 3, 2, 1, 1, &lin));

    clgrad_optim_options ok = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.1f);
    clgrad_optim_options b = ok;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, NULL, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_create(lin, &ok, NULL));
    b.lr = -1.0f;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, &b, &o));
    b = ok;
    b.lr = NAN;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, &b, &o));
    b = ok;
    b.nesterov = 1;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, &b, &o));
    b = ok;
    b.kind = (clgrad_optim_kind)17;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, &b, &o));
    b = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM, 1e-3f);
    b.beta1 = 1.0f;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, &b, &o));
    b = clgrad_optim_defaults(CLGRAD_OPTIM_ADAMW, 1e-3f);
    b.beta2 = -0.1f;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, &b, &o));
    b = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM, 1e-3f);
    b.eps = -1.0f;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create(lin, &b, &o));

    /* Explicit parameter lists. */
    clgrad_tensor *p = f32(2, s23), *q = f32(2, s23), *pi = i32(2, s23), *pc2 = f32_on(c2, 2, s23), *nl = NULL;
    TH_OK(clgrad_tensor_set_requires_grad(p, 1));
    TH_OK(clgrad_tensor_set_requires_grad(pc2, 1));
    TH_OK(clgrad_mul_scalar(p, 2.0f, &nl)); /* not a leaf */
    clgrad_tensor *dup[2] = {p, p}, *withq[2] = {p, q}, *withi[2] = {p, pi}, *withc2[2] = {p, pc2};
    clgrad_tensor *withnull[2] = {p, NULL}, *withnl[2] = {p, nl};
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, -1, dup, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 2, NULL, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 2, withnull, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 2, dup, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 2, withq, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 2, withi, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 2, withc2, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 2, withnl, NULL, &ok, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_optim_create_params(th_ctx, 1, dup, NULL, NULL, &o));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_create_params(th_ctx, 1, dup, NULL, &ok, NULL));

    /* An optimizer's accessors out of range. */
    TH_OK(clgrad_optim_create(lin, &ok, &opt));
    name = POISON;
    EXPECT_TRUE(clgrad_optim_param(opt, 2, &name) == NULL && name == NULL);
    name = POISON;
    EXPECT_TRUE(clgrad_optim_param(opt, -1, &name) == NULL && name == NULL);
    name = POISON;
    EXPECT_TRUE(clgrad_optim_state(opt, 0, &name) == NULL && name == NULL); /* SGD without momentum */
    name = POISON;
    EXPECT_TRUE(clgrad_optim_step_count(opt, 2, &name) == 0 && name == NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_set_step_count(opt, 2, 1));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_set_step_count(opt, -1, 1));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_optim_set_step_count(opt, 0, -5));

    /* Clipping. */
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_clip_grad_norm(-1, dup, 1.0f, &tn));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_clip_grad_norm(2, withnull, 1.0f, &tn));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_clip_grad_norm(1, dup, 0.0f, &tn));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_clip_grad_norm(1, dup, -1.0f, &tn));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_clip_grad_norm(1, dup, NAN, &tn));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_clip_grad_norm(2, withc2, 1.0f, &tn));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_optim_clip_grad_norm(opt, 0.0f, &tn));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_optim_clip_grad_norm(opt, NAN, &tn));

    clgrad_optim_release(opt);
    clgrad_tensor *all[] = {p, q, pi, pc2, nl};
    for (int i = 0; i < N_OF(all); i++) clgrad_tensor_release(all[i]);
    clgrad_module_release(lin);
    clgrad_context_release(c2);
    DONE();
}
END_TEST

/* Every multi-tensor op with one operand from a second context. */
START_TEST(bad_cross_context)
{
    clgrad_context *c2 = second_context();
    int64_t xs[4] = {1, 2, 5, 5}, ws[4] = {3, 2, 3, 3}, c3[1] = {3}, c2s[1] = {2}, n2[1] = {2};
    clgrad_tensor *x = f32(4, xs), *w = f32(4, ws), *b3 = f32(1, c3), *ch = f32(1, c2s), *a = f32(2, s23);
    clgrad_tensor *bt = f32(2, s32), *lab = i32(1, n2), *c = f32(2, s23), *o, *tn;
    clgrad_tensor *x_2 = f32_on(c2, 4, xs), *b3_2 = f32_on(c2, 1, c3), *ch_2 = f32_on(c2, 1, c2s);
    clgrad_tensor *a_2 = f32_on(c2, 2, s23), *c_2 = f32_on(c2, 2, s23), *lab_2 = NULL, *w_2 = f32_on(c2, 4, ws);
    TH_OK(clgrad_tensor_zeros(c2, CLGRAD_DTYPE_I32, 1, n2, &lab_2));
    clgrad_conv2d_params p = {{1, 1}, {0, 0}, {1, 1}, 1, {0, 0}};
    int64_t wts[4] = {2, 3, 3, 3};
    clgrad_tensor *wt = f32(4, wts);

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

    /* Gradient clipping over parameters of two contexts, both with gradients. */
    clgrad_tensor *l1 = NULL, *l2 = NULL;
    TH_OK(clgrad_tensor_set_requires_grad(a, 1));
    TH_OK(clgrad_tensor_set_requires_grad(a_2, 1));
    TH_OK(clgrad_sum(a, 0, NULL, 0, &l1));
    TH_OK(clgrad_backward(l1));
    TH_OK(clgrad_sum(a_2, 0, NULL, 0, &l2));
    TH_OK(clgrad_backward(l2));
    clgrad_tensor *both[2] = {a, a_2};
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, tn, clgrad_clip_grad_norm(2, both, 1.0f, &tn));

    clgrad_tensor *all[] = {x, w, b3, ch, a, bt, lab, c, x_2, b3_2, ch_2, a_2, c_2, lab_2, w_2, wt, l1, l2};
    for (int i = 0; i < N_OF(all); i++) clgrad_tensor_release(all[i]);
    clgrad_context_release(c2);
    DONE();
}
END_TEST

/* Modules fed the wrong input: each layer's forward rejects it with a message. */
START_TEST(bad_module_inputs)
{
    clgrad_module *conv = NULL, *emb = NULL, *bn = NULL, *ln = NULL, *ada = NULL, *flat = NULL, *sm = NULL;
    clgrad_module *drop = NULL, *pool = NULL;
    clgrad_tensor *o;
    clgrad_pool2d_params pp = {{2, 2}, {0, 0}, {0, 0}};
    int64_t ln_shape[1] = {4};
    TH_OK(clgrad_conv2d_create(th_ctx, 2, 3, 3, 3, NULL, 1, 1, &conv));
    TH_OK(clgrad_embedding_create(th_ctx, 5, 4, 1, &emb));
    TH_OK(clgrad_batch_norm2d_create(th_ctx, 3, 1e-5f, 0.1f, 1, &bn));
    TH_OK(clgrad_layer_norm_create(th_ctx, 1, ln_shape, 1e-5f, 1, &ln));
    TH_OK(clgrad_adaptive_avg_pool2d_create(th_ctx, 2, 2, &ada));
    TH_OK(clgrad_flatten_create(th_ctx, 2, -3, &flat)); /* start after end for 4-D */
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_SOFTMAX, 5.0f, 0.0f, &sm));
    TH_OK(clgrad_dropout_create(th_ctx, 0.5f, 1, &drop));
    TH_OK(clgrad_max_pool2d_create(th_ctx, &pp, &pool));

    int64_t x4s[4] = {1, 2, 5, 5}, x5s[4] = {1, 3, 5, 5};
    clgrad_tensor *a = f32(2, s23), *x4 = f32(4, x4s), *x5 = f32(4, x5s), *ai = i32(2, s23), *x4i = i32(4, x4s);
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_module_forward(conv, a, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_module_forward(conv, x5, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_module_forward(conv, x4i, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_module_forward(emb, a, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_module_forward(bn, a, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_module_forward(bn, x4, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[2, 3]", o, clgrad_module_forward(ln, a, &o));
    EXPECT_OUT(CLGRAD_ERR_UNSUPPORTED, o, clgrad_module_forward(ada, x4, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_module_forward(ada, a, &o));
    EXPECT_OUT_MSG(CLGRAD_ERR_SHAPE, "[1, 2, 5, 5]", o, clgrad_module_forward(flat, x4, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_module_forward(sm, a, &o));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, o, clgrad_module_forward(drop, ai, &o));
    EXPECT_OUT(CLGRAD_ERR_SHAPE, o, clgrad_module_forward(pool, a, &o));

    clgrad_module *mods[] = {conv, emb, bn, ln, ada, flat, sm, drop, pool};
    for (int i = 0; i < N_OF(mods); i++) clgrad_module_release(mods[i]);
    clgrad_tensor *all[] = {a, x4, x5, ai, x4i};
    for (int i = 0; i < N_OF(all); i++) clgrad_tensor_release(all[i]);
    DONE();
}
END_TEST

/* Writes a tiny IDX pair (3 samples of 2 x 2 u8, labels u8) into dir. */
static void write_idx_pair(const char *dir, char *img, char *lab, size_t cap)
{
    const unsigned char ib[16 + 12] = {0, 0, 0x08, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2,
                                       1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const unsigned char lb[8 + 3] = {0, 0, 0x08, 1, 0, 0, 0, 3, 0, 1, 2};
    snprintf(img, cap, "%s/img.idx", dir);
    snprintf(lab, cap, "%s/lab.idx", dir);
    FILE *f = fopen(img, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(ib, 1, sizeof ib, f), sizeof ib);
    fclose(f);
    f = fopen(lab, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(lb, 1, sizeof lb, f), sizeof lb);
    fclose(f);
}

START_TEST(bad_io_and_data)
{
    const char *base = getenv("TMPDIR");
    char dir[512], img[600], lab[600], ckpt[600];
    snprintf(dir, sizeof dir, "%s/clgrad-apiargs-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_idx_pair(dir, img, lab, sizeof img);
    snprintf(ckpt, sizeof ckpt, "%s/ck.safetensors", dir);

    /* Datasets. */
    clgrad_dataset *ds = NULL, *tr, *ho;
    clgrad_dataset_opts bad_std = {.mean = 0.0f, .std = -1.0f};
    clgrad_dataset_opts nan_std = {.mean = 0.0f, .std = NAN};
    clgrad_dataset_opts neg_max = {.max_samples = -2};
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_load_idx(img, lab, &bad_std, &ds));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_load_idx(img, lab, &nan_std, &ds));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_load_idx(img, lab, &neg_max, &ds));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_load_idx(lab, lab, NULL, &ds)); /* 1-D images */
    TH_OK(clgrad_dataset_load_idx(img, lab, NULL, &ds));
    tr = POISON;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ho, clgrad_dataset_split(ds, 4, 1, &tr, &ho));
    EXPECT_TRUE(tr == NULL);
    tr = POISON;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ho, clgrad_dataset_split(ds, -1, 1, &tr, &ho));
    EXPECT_TRUE(tr == NULL);
    ho = POISON;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_split(ds, 1, 1, NULL, &ho));
    EXPECT_TRUE(ho == NULL);
    tr = POISON;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_split(ds, 1, 1, &tr, NULL));
    EXPECT_TRUE(tr == NULL);
    EXPECT_TRUE(clgrad_dataset_n_batches(ds, 0) == 0 && clgrad_dataset_n_batches(ds, -2) == 0);
    float x[12];
    int32_t y[3];
    int64_t n = 99;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_batch(ds, 0, 0, x, y, &n));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_batch(ds, 2, 2, x, y, &n));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_batch(ds, -1, 2, x, y, &n));
    clgrad_dataset_release(ds);

    /* Checkpoints. */
    clgrad_module *lin = NULL, *lin2 = NULL;
    clgrad_optim *opt = NULL;
    clgrad_checkpoint_meta meta;
    memset(&meta, 0, sizeof meta);
    TH_OK(clgrad_linear_create(th_ctx, 3, 2, 1, 1, &lin));
    TH_OK(clgrad_linear_create(th_ctx, 4, 2, 1, 1, &lin2));
    clgrad_optim_options oo = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM, 1e-3f);
    TH_OK(clgrad_optim_create(lin2, &oo, &opt));
    meta.n_rng = CLGRAD_CHECKPOINT_MAX_RNG + 1;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_save(ckpt, lin, NULL, &meta));
    meta.n_rng = -1;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_save(ckpt, lin, NULL, &meta));
    meta.n_rng = 0;
    meta.n_extra = CLGRAD_CHECKPOINT_MAX_EXTRA + 1;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_save(ckpt, lin, NULL, &meta));
    meta.n_extra = 1;
    snprintf(meta.extra[0].key, sizeof meta.extra[0].key, "clgrad.step");
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_save(ckpt, lin, NULL, &meta));
    memset(&meta, 0, sizeof meta);
    char nodir[700];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/ck.safetensors", dir);
    EXPECT_MSG(CLGRAD_ERR_IO, nodir, clgrad_checkpoint_save(nodir, lin, NULL, NULL));
    EXPECT(CLGRAD_ERR_IO, clgrad_checkpoint_load(nodir, lin, NULL, NULL));
    EXPECT(CLGRAD_ERR_IO, clgrad_checkpoint_load(img, lin, NULL, NULL)); /* not a checkpoint */
    TH_OK(clgrad_checkpoint_save(ckpt, lin, NULL, NULL));
    EXPECT_MSG(CLGRAD_ERR_SHAPE, "[2, 4]", clgrad_checkpoint_load(ckpt, lin2, NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_read_meta(ckpt, NULL));
    {
        clgrad_optim *sgd = NULL, *adam = NULL;
        clgrad_optim_options so = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.1f);
        so.momentum = 0.9f;
        TH_OK(clgrad_optim_create(lin, &so, &sgd));
        TH_OK(clgrad_optim_create(lin, &oo, &adam));
        TH_OK(clgrad_checkpoint_save(ckpt, lin, sgd, NULL));
        EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_load(ckpt, lin, adam, NULL));
        clgrad_optim_release(sgd);
        clgrad_optim_release(adam);
    }

    clgrad_optim_release(opt);
    clgrad_module_release(lin);
    clgrad_module_release(lin2);
    unlink(ckpt);
    unlink(img);
    unlink(lab);
    rmdir(dir);
    DONE();
}
END_TEST

static Suite *suite_core_api_args(void)
{
    Suite *s = suite_create("core_api_args");
    TCase *tc = tcase_create("null");
    tcase_add_test(tc, null_core_and_device);
    tcase_add_test(tc, null_tensor);
    tcase_add_test(tc, null_ops);
    tcase_add_test(tc, null_autograd);
    tcase_add_test(tc, null_nn);
    tcase_add_test(tc, null_optim);
    tcase_add_test(tc, null_io_and_data);
    suite_add_tcase(s, tc);

    tc = tcase_create("invalid");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, bad_device_and_context);
    tcase_add_test(tc, bad_tensor_creation);
    tcase_add_test(tc, bad_transfers_and_views);
    tcase_add_test(tc, bad_binary_ops);
    tcase_add_test(tc, bad_matmul_and_conv);
    tcase_add_test(tc, bad_reductions_norm_losses);
    tcase_add_test(tc, bad_autograd);
    tcase_add_test(tc, bad_nn);
    tcase_add_test(tc, bad_module_inputs);
    tcase_add_test(tc, bad_cross_context);
    tcase_add_test(tc, bad_optim);
    tcase_add_test(tc, bad_io_and_data);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_core_api_args(), 1); }
