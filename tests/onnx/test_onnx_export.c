/* Export of clgrad modules to ONNX (clgrad_onnx_export), checked by importing the file again
 * with clgrad: for every layer kind (in eval mode, batch norm with trained statistics), the
 * re-imported model must give the module's own outputs, at the exported batch size and at
 * another one (the batch dimension is left open). With $CLGRAD_ONNX_EXPORT_DIR set, every
 * file is also written there for onnx.checker (tests/onnx/run_export_check.py). Plus the
 * errors: bad options, layers ONNX cannot express here, an unwritable path. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static clgrad_module *seq_of(int n, clgrad_module **layers)
{
    clgrad_module *s = NULL;
    TH_OK(clgrad_sequential_create(th_ctx, &s));
    for (int i = 0; i < n; i++) TH_OK(clgrad_sequential_add(s, layers[i]));
    return s;
}

static clgrad_module *act(clgrad_activation k, float p0, float p1)
{
    clgrad_module *m = NULL;
    TH_OK(clgrad_activation_create(th_ctx, k, p0, p1, &m));
    return m;
}

static clgrad_module *lin(int64_t in, int64_t out, int bias, uint64_t seed)
{
    clgrad_module *m = NULL;
    TH_OK(clgrad_linear_create(th_ctx, in, out, bias, seed, &m));
    return m;
}

static void compare(const char *what, clgrad_tensor *got, clgrad_tensor *want)
{
    ck_assert_int_eq(clgrad_tensor_ndim(got), clgrad_tensor_ndim(want));
    for (int d = 0; d < clgrad_tensor_ndim(want); d++)
        ck_assert_msg(clgrad_tensor_dim(got, d) == clgrad_tensor_dim(want, d), "%s: dim %d is %lld, want %lld", what,
                      d, (long long)clgrad_tensor_dim(got, d), (long long)clgrad_tensor_dim(want, d));
    float *g = th_read(got), *w = th_read(want);
    size_t n = (size_t)clgrad_tensor_numel(want);
    double scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(w[i]));
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(g[i] - w[i]) <= 1e-5 * fmax(fabs(w[i]), 1e-2 * scale) + 1e-7,
                      "%s: element %zu is %.9g, the module gives %.9g", what, i, (double)g[i], (double)w[i]);
    free(g);
    free(w);
}

/* Exports m for inputs shaped like x (batch open), re-imports, compares on x and on x2. */
static void round_trip(const char *name, clgrad_module *m, clgrad_tensor *x, clgrad_tensor *x2, int last_step)
{
    clgrad_module_train(m, 0);
    clgrad_onnx_export_options o = {.ndim = clgrad_tensor_ndim(x), .rnn_last_step = last_step};
    clgrad_tensor_shape(x, o.shape);
    o.shape[0] = -1;
    void *buf = NULL;
    size_t n = 0;
    clgrad_status s = clgrad_onnx_export_memory(m, &o, &buf, &n);
    ck_assert_msg(s == CLGRAD_OK, "%s: %s", name, clgrad_last_error(NULL));
    const char *dir = getenv("CLGRAD_ONNX_EXPORT_DIR");
    if (dir && *dir) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
        TH_OK(clgrad_onnx_export(m, &o, path));
    }
    clgrad_onnx_model *om = NULL;
    s = clgrad_onnx_load_memory(th_ctx, buf, n, NULL, &om);
    ck_assert_msg(s == CLGRAD_OK, "%s: re-import: %s", name, clgrad_last_error(th_ctx));
    clgrad_onnx_free(buf);
    clgrad_onnx_io io;
    TH_OK(clgrad_onnx_input(om, 0, &io));
    ck_assert_str_eq(io.name, "input");
    ck_assert_int_eq(io.shape[0], -1);
    TH_OK(clgrad_onnx_output(om, 0, &io));
    ck_assert_str_eq(io.name, "output");
    clgrad_tensor *inputs[2] = {x, x2};
    for (int k = 0; k < 2; k++) {
        if (!inputs[k]) continue;
        clgrad_tensor *want = NULL, *got = NULL;
        if (last_step) { /* the reference: the RNN's final state, then the rest of the Sequential */
            clgrad_tensor *seq = NULL, *h = NULL, *hh = NULL;
            TH_OK(clgrad_rnn_forward(clgrad_module_child(m, 0, NULL), inputs[k], NULL, NULL, &seq, &h, NULL));
            int64_t s2[2] = {clgrad_tensor_dim(h, 1), clgrad_tensor_dim(h, 2)};
            TH_OK(clgrad_reshape(h, 2, s2, &hh));
            TH_OK(clgrad_module_forward(clgrad_module_child(m, 1, NULL), hh, &want));
            clgrad_tensor_release(seq);
            clgrad_tensor_release(h);
            clgrad_tensor_release(hh);
        } else {
            TH_OK(clgrad_module_forward(m, inputs[k], &want));
        }
        TH_OK(clgrad_onnx_run(om, 1, &inputs[k], 1, &got));
        char what[128];
        snprintf(what, sizeof what, "%s (input %d)", name, k);
        compare(what, got, want);
        clgrad_tensor_release(want);
        clgrad_tensor_release(got);
    }
    clgrad_onnx_release(om);
}

START_TEST(mlp_and_activations_round_trip)
{
    clgrad_module *l[] = {lin(12, 16, 1, 1), act(CLGRAD_ACT_LEAKY_RELU, 0.1f, 0), lin(16, 8, 0, 2),
                          act(CLGRAD_ACT_ELU, 0.7f, 0), NULL, lin(8, 9, 1, 3), act(CLGRAD_ACT_SOFTPLUS, 2.0f, 20.0f),
                          act(CLGRAD_ACT_HARDTANH, -0.5f, 0.75f), act(CLGRAD_ACT_SOFTPLUS, 1.0f, 20.0f),
                          act(CLGRAD_ACT_SOFTMAX, 1, 0)};
    TH_OK(clgrad_dropout_create(th_ctx, 0.3f, 7, &l[4]));
    clgrad_module *m = seq_of(10, l);
    int64_t s[2] = {4, 12}, s2[2] = {7, 12};
    clgrad_tensor *x = th_rand(2, s, 1, -2, 2), *x2 = th_rand(2, s2, 2, -2, 2);
    round_trip("mlp", m, x, x2, 0);
    clgrad_tensor_release(x);
    clgrad_tensor_release(x2);
    clgrad_module_release(m);
}
END_TEST

START_TEST(sequence_layers_round_trip)
{
    /* linear on (N, T, F) (MatMul form), GELU both ways, SiLU, sigmoid, tanh, layer norms */
    clgrad_module *l[10] = {lin(6, 8, 1, 4), act(CLGRAD_ACT_GELU, 0, 0), act(CLGRAD_ACT_SILU, 0, 0), NULL,
                            act(CLGRAD_ACT_GELU_TANH, 0, 0), lin(8, 8, 1, 5), act(CLGRAD_ACT_TANH, 0, 0), NULL,
                            act(CLGRAD_ACT_SIGMOID, 0, 0), act(CLGRAD_ACT_LOG_SOFTMAX, -1, 0)};
    int64_t ns[2] = {5, 8};
    TH_OK(clgrad_layer_norm_create(th_ctx, 1, ns + 1, 1e-5f, 1, &l[3]));
    TH_OK(clgrad_layer_norm_create(th_ctx, 2, ns, 1e-4f, 1, &l[7]));
    clgrad_module *m = seq_of(10, l);
    int64_t s[3] = {2, 5, 6}, s2[3] = {3, 5, 6};
    clgrad_tensor *x = th_rand(3, s, 3, -2, 2), *x2 = th_rand(3, s2, 4, -2, 2);
    round_trip("sequence", m, x, x2, 0);
    clgrad_tensor_release(x);
    clgrad_tensor_release(x2);
    clgrad_module_release(m);
}
END_TEST

START_TEST(cnn_layers_round_trip)
{
    clgrad_conv2d_params c1 = {.stride = {2, 2}, .padding = {1, 1}}, dw = {.padding = {1, 1}, .groups = 6},
                         up = {.stride = {2, 2}};
    clgrad_pool2d_params mp = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}, ap = {.kernel = {2, 2}};
    clgrad_module *l[13] = {0};
    TH_OK(clgrad_conv2d_create(th_ctx, 3, 6, 3, 3, &c1, 1, 1, &l[0]));
    TH_OK(clgrad_batch_norm2d_create(th_ctx, 6, 1e-5f, 0.5f, 1, &l[1]));
    l[2] = act(CLGRAD_ACT_RELU, 0, 0);
    TH_OK(clgrad_max_pool2d_create(th_ctx, &mp, &l[3]));
    TH_OK(clgrad_conv2d_create(th_ctx, 6, 6, 3, 3, &dw, 0, 2, &l[4]));
    TH_OK(clgrad_conv_transpose2d_create(th_ctx, 6, 4, 2, 2, &up, 1, 3, &l[5]));
    TH_OK(clgrad_batch_norm2d_create(th_ctx, 4, 1e-3f, 0.1f, 0, &l[6]));
    TH_OK(clgrad_avg_pool2d_create(th_ctx, &ap, &l[7]));
    TH_OK(clgrad_adaptive_avg_pool2d_create(th_ctx, 2, 2, &l[8]));
    TH_OK(clgrad_flatten_create(th_ctx, 1, -1, &l[9]));
    l[10] = lin(16, 5, 1, 4);
    TH_OK(clgrad_batch_norm1d_create(th_ctx, 5, 1e-5f, 0.3f, 1, &l[11]));
    l[12] = act(CLGRAD_ACT_SIGMOID, 0, 0);
    clgrad_module *m = seq_of(13, l);
    int64_t s[4] = {4, 3, 16, 16}, s2[4] = {2, 3, 16, 16};
    clgrad_tensor *x = th_rand(4, s, 5, -1, 1), *x2 = th_rand(4, s2, 6, -1, 1), *y = NULL;
    /* a few training-mode passes give the batch norms statistics other than 0 and 1 */
    for (int i = 0; i < 3; i++) {
        TH_OK(clgrad_module_forward(m, x, &y));
        clgrad_tensor_release(y);
    }
    round_trip("cnn", m, x, x2, 0);
    clgrad_tensor_release(x);
    clgrad_tensor_release(x2);
    clgrad_module_release(m);
}
END_TEST

START_TEST(global_pool_and_flatten_forms)
{
    clgrad_module *l[4] = {0};
    TH_OK(clgrad_adaptive_avg_pool2d_create(th_ctx, 1, 1, &l[0]));
    TH_OK(clgrad_flatten_create(th_ctx, 0, 2, &l[1])); /* (N, C, 1, 1) -> (N*C*1, 1): a Reshape */
    TH_OK(clgrad_flatten_create(th_ctx, 0, -1, &l[2]));
    l[3] = act(CLGRAD_ACT_RELU, 0, 0);
    clgrad_module *m = seq_of(4, l);
    int64_t s[4] = {3, 4, 5, 5};
    clgrad_tensor *x = th_rand(4, s, 7, -1, 1);
    round_trip("pool_flatten", m, x, NULL, 0);
    clgrad_tensor_release(x);
    clgrad_module_release(m);
}
END_TEST

START_TEST(recurrent_layers_round_trip)
{
    static const struct {
        const char *name;
        clgrad_rnn_kind kind;
        int layers, bias, batch_first;
    } R[] = {{"lstm2_batch_first", CLGRAD_LSTM, 2, 1, 1}, {"gru", CLGRAD_GRU, 1, 1, 0},
             {"gru2_batch_first", CLGRAD_GRU, 2, 1, 1}, {"rnn_tanh_nobias", CLGRAD_RNN_TANH, 1, 0, 0},
             {"rnn_relu", CLGRAD_RNN_RELU, 2, 1, 1}};
    for (size_t i = 0; i < sizeof R / sizeof R[0]; i++) {
        clgrad_module *r = NULL;
        TH_OK(clgrad_rnn_create(th_ctx, R[i].kind, 5, 7, R[i].layers, R[i].bias, R[i].batch_first, 10 + i, &r));
        clgrad_module *m = seq_of(1, &r);
        int64_t s[3] = {3, 4, 5}, s2[3] = {3, 4, 5};
        s2[R[i].batch_first ? 0 : 1] = 6; /* another batch size */
        clgrad_tensor *x = th_rand(3, s, 20 + i, -1, 1), *x2 = th_rand(3, s2, 30 + i, -1, 1);
        round_trip(R[i].name, m, x, R[i].batch_first ? x2 : NULL, 0);
        clgrad_tensor_release(x);
        clgrad_tensor_release(x2);
        clgrad_module_release(m);
    }
    /* a classifier on the last step, as clgrad-train's LSTM */
    clgrad_module *l[2] = {NULL, lin(7, 3, 1, 9)};
    TH_OK(clgrad_rnn_create(th_ctx, CLGRAD_LSTM, 5, 7, 1, 1, 1, 11, &l[0]));
    clgrad_module *m = seq_of(2, l);
    int64_t s[3] = {2, 6, 5}, s2[3] = {4, 6, 5};
    clgrad_tensor *x = th_rand(3, s, 40, -1, 1), *x2 = th_rand(3, s2, 41, -1, 1);
    round_trip("lstm_classifier", m, x, x2, 1);
    clgrad_tensor_release(x);
    clgrad_tensor_release(x2);
    clgrad_module_release(m);
}
END_TEST

START_TEST(embedding_round_trip)
{
    clgrad_module *l[2] = {NULL, lin(6, 2, 1, 3)};
    TH_OK(clgrad_embedding_create(th_ctx, 20, 6, 1, &l[0]));
    clgrad_module *m = seq_of(2, l);
    clgrad_module_train(m, 0);
    int32_t idx[6] = {0, 19, 3, 3, 7, 11};
    int64_t s[2] = {2, 3};
    clgrad_tensor *x = NULL, *want = NULL, *got = NULL;
    TH_OK(clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_I32, 2, s, idx, &x));
    clgrad_onnx_export_options o = {.ndim = 2, .shape = {-1, 3}};
    void *buf = NULL;
    size_t n = 0;
    TH_OK(clgrad_onnx_export_memory(m, &o, &buf, &n));
    clgrad_onnx_model *om = NULL;
    TH_OK(clgrad_onnx_load_memory(th_ctx, buf, n, NULL, &om));
    const char *dir = getenv("CLGRAD_ONNX_EXPORT_DIR");
    if (dir && *dir) {
        char path[1024];
        snprintf(path, sizeof path, "%s/embedding.onnx", dir);
        TH_OK(clgrad_onnx_export(m, &o, path));
    }
    clgrad_onnx_free(buf);
    clgrad_onnx_io io;
    TH_OK(clgrad_onnx_input(om, 0, &io));
    ck_assert_int_eq(io.type, CLGRAD_ONNX_INT64);
    ck_assert_int_eq(io.dtype, CLGRAD_DTYPE_I32);
    TH_OK(clgrad_module_forward(m, x, &want));
    TH_OK(clgrad_onnx_run(om, 1, &x, 1, &got));
    compare("embedding", got, want);
    clgrad_tensor_release(want);
    clgrad_tensor_release(got);
    clgrad_tensor_release(x);
    clgrad_onnx_release(om);
    clgrad_module_release(m);
}
END_TEST

START_TEST(export_errors_are_reported)
{
    clgrad_module *l[2] = {lin(4, 3, 1, 1), NULL};
    TH_OK(clgrad_flatten_create(th_ctx, 0, 0, &l[1]));
    clgrad_module *m = seq_of(2, l);
    void *buf = (void *)1;
    size_t n = 1;
    clgrad_onnx_export_options o = {.ndim = 0};
    ck_assert_int_eq(clgrad_onnx_export_memory(m, &o, &buf, &n), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(buf);
    ck_assert_uint_eq(n, 0);
    o = (clgrad_onnx_export_options){.ndim = 2, .shape = {-1, 0}};
    ck_assert_int_eq(clgrad_onnx_export_memory(m, &o, &buf, &n), CLGRAD_ERR_INVALID_ARG);
    /* a linear layer whose input does not end in in_features */
    o = (clgrad_onnx_export_options){.ndim = 2, .shape = {-1, 5}};
    ck_assert_int_eq(clgrad_onnx_export_memory(m, &o, &buf, &n), CLGRAD_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(clgrad_last_error(NULL), "module '0' (linear)") != NULL, "%s", clgrad_last_error(NULL));
    /* a recurrent layer on a rank-2 input */
    clgrad_module *r = NULL;
    TH_OK(clgrad_rnn_create(th_ctx, CLGRAD_GRU, 4, 3, 1, 1, 0, 1, &r));
    o = (clgrad_onnx_export_options){.ndim = 2, .shape = {5, 4}};
    ck_assert_int_eq(clgrad_onnx_export_memory(r, &o, &buf, &n), CLGRAD_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(clgrad_last_error(NULL), "(gru)") != NULL, "%s", clgrad_last_error(NULL));
    /* an unwritable path: IO naming it (m itself is fine for (N, 4)) */
    o = (clgrad_onnx_export_options){.ndim = 2, .shape = {-1, 4}};
    ck_assert_int_eq(clgrad_onnx_export(m, &o, "/nonexistent-dir/x.onnx"), CLGRAD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "/nonexistent-dir/x.onnx"));
    ck_assert_int_eq(clgrad_onnx_export(NULL, &o, "x.onnx"), CLGRAD_ERR_INVALID_ARG);
    clgrad_module_release(r);
    clgrad_module_release(m);
}
END_TEST

static Suite *suite_onnx_export(void)
{
    Suite *s = suite_create("onnx_export");
    TCase *tc = tcase_create("export");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, mlp_and_activations_round_trip);
    tcase_add_test(tc, sequence_layers_round_trip);
    tcase_add_test(tc, cnn_layers_round_trip);
    tcase_add_test(tc, global_pool_and_flatten_forms);
    tcase_add_test(tc, recurrent_layers_round_trip);
    tcase_add_test(tc, embedding_round_trip);
    tcase_add_test(tc, export_errors_are_reported);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_onnx_export(), 1); }
