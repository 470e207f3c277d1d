/* Argument checks of include/clgrad/nn.h: module accessors, every layer constructor,
 * containers, recurrent layers, and layers fed the wrong input (see tests/support/args.h for
 * what a check expects). */
#include "args.h"

#include <math.h>
#include <string.h>

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
    ARGS_DONE();
}
END_TEST

START_TEST(bad_nn)
{
    clgrad_module *m, *lin = NULL, *seq = NULL, *rnn = NULL, *gru = NULL;
    clgrad_tensor *o, *h, *c;
    clgrad_context *c2 = ta_second_context();
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
    clgrad_tensor *x = ta_f32(2, s23), *x4 = ta_f32(2, x4s), *x4i = ta_i32(2, x4s), *x4c2 = ta_f32_on(c2, 2, x4s);
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
    clgrad_tensor *xr = ta_f32(3, xs), *xrb = ta_f32(3, xbad), *h0 = ta_f32(3, hs), *h0b = ta_f32(3, hbad);
    clgrad_tensor *xri = ta_i32(3, xs), *xr2 = ta_f32_on(c2, 3, xs);
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
        ta_begin();
        clgrad_status s = clgrad_rnn_forward(rc[i].m, rc[i].x, rc[i].h0, rc[i].c0, &o, &h, &c);
        const char *msg = clgrad_last_error(NULL);
        if (s != rc[i].want || o || h || c || !msg[0] || (rc[i].needle && !strstr(msg, rc[i].needle)))
            ta_bad(__FILE__, __LINE__, "rnn_forward(%s) -> %s (want %s), out %p %p %p, message \"%s\"", rc[i].what,
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
    ARGS_DONE();
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
    clgrad_tensor *a = ta_f32(2, s23), *x4 = ta_f32(4, x4s), *x5 = ta_f32(4, x5s), *ai = ta_i32(2, s23), *x4i = ta_i32(4, x4s);
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
    ARGS_DONE();
}
END_TEST

int main(void)
{
    const TTest *null_tests[] = {null_nn};
    const TTest *device_tests[] = {bad_nn, bad_module_inputs};
    return ta_main("api_args_nn", null_tests, N_OF(null_tests), device_tests, N_OF(device_tests));
}
