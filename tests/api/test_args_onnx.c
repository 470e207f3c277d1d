/* Argument checks of include/clgrad/onnx.h: NULL models, contexts, buffers and
 * out-parameters, zero-length, cut-off and garbage model bytes, input and output indices out
 * of range, input counts, dtypes and shapes the model does not take, host arrays whose sizes
 * do not add up, bad export options and paths (see tests/support/args.h for what a check
 * expects). The models are made with clgrad_onnx_export_memory, so only the public API is
 * used. In a build without ONNX support every call must fail with UNSUPPORTED and say so;
 * the same checks then cover src/onnx/disabled.c. */
#include "args.h"

#include "clgrad_config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* outputs[0..n) were all set to NULL (after being poisoned by the caller). */
#define EXPECT_CLEARED(outputs, n)                                                                 \
    do {                                                                                           \
        for (int i_ = 0; i_ < (n); i_++)                                                           \
            if ((outputs)[i_] != NULL) ta_bad(__FILE__, __LINE__, #outputs "[%d] not NULL", i_);   \
    } while (0)

static void poison(clgrad_tensor **t, int n)
{
    for (int i = 0; i < n; i++) t[i] = POISON;
}

/* Options for an input of shape (-1, features). */
static clgrad_onnx_export_options opts_2d(int64_t features)
{
    clgrad_onnx_export_options o;
    memset(&o, 0, sizeof o);
    o.ndim = 2;
    o.shape[0] = -1;
    o.shape[1] = features;
    return o;
}

/* The bytes of an exported Linear(3, 2) with bias, input (batch, 3); *lin the module. */
static void *linear_model(clgrad_module **lin, size_t *size)
{
    clgrad_onnx_export_options o = opts_2d(3);
    void *data = NULL;
    TH_OK(clgrad_linear_create(th_ctx, 3, 2, 1, 7, lin));
    TH_OK(clgrad_onnx_export_memory(*lin, &o, &data, size));
    ck_assert_ptr_nonnull(data);
    return data;
}

/* --- a build without ONNX support --------------------------------------------------------- */

/* Every fallible call fails with UNSUPPORTED naming the missing support; the rest are
 * no-ops or report an empty model. */
static void disabled_checks(clgrad_context *ctx, const clgrad_module *mod)
{
    const char *why = "without ONNX support";
    clgrad_onnx_model *m;
    clgrad_onnx_io io;
    clgrad_onnx_stats st;
    clgrad_tensor *outs[1];
    clgrad_onnx_array a[1];
    clgrad_onnx_export_options o = opts_2d(3);
    void *data;
    size_t size = 5;
    memset(a, 0, sizeof a);

    EXPECT_OUT_MSG(CLGRAD_ERR_UNSUPPORTED, why, m, clgrad_onnx_load(ctx, "x.onnx", NULL, &m));
    EXPECT_OUT_MSG(CLGRAD_ERR_UNSUPPORTED, why, m, clgrad_onnx_load_memory(ctx, "x", 1, NULL, &m));
    EXPECT_MSG(CLGRAD_ERR_UNSUPPORTED, why, clgrad_onnx_input(NULL, 0, &io));
    EXPECT_MSG(CLGRAD_ERR_UNSUPPORTED, why, clgrad_onnx_output(NULL, 0, &io));
    EXPECT_MSG(CLGRAD_ERR_UNSUPPORTED, why, clgrad_onnx_get_stats(NULL, &st));
    poison(outs, 1);
    EXPECT_MSG(CLGRAD_ERR_UNSUPPORTED, why, clgrad_onnx_run(NULL, 1, NULL, 1, outs));
    EXPECT_CLEARED(outs, 1);
    EXPECT_MSG(CLGRAD_ERR_UNSUPPORTED, why, clgrad_onnx_run_host(NULL, 1, a, 1, a));
    EXPECT_MSG(CLGRAD_ERR_UNSUPPORTED, why, clgrad_onnx_export(mod, &o, "x.onnx"));
    EXPECT_OUT_MSG(CLGRAD_ERR_UNSUPPORTED, why, data, clgrad_onnx_export_memory(mod, &o, &data, &size));
    EXPECT_TRUE(size == 0);
    EXPECT_TRUE(clgrad_onnx_input_count(NULL) == 0);
    EXPECT_TRUE(clgrad_onnx_output_count(NULL) == 0);
    EXPECT_TRUE(clgrad_onnx_profile(NULL, NULL, 0) == 0);
    clgrad_onnx_profile_enable(NULL, 1);
    clgrad_onnx_release(NULL);
    clgrad_onnx_free(NULL);
}

/* --- without a device ------------------------------------------------------------------------- */

START_TEST(null_onnx)
{
    EXPECT_TRUE(clgrad_onnx_available() == CLGRAD_HAVE_ONNX);
    if (!clgrad_onnx_available()) {
        disabled_checks(NULL, NULL);
        ARGS_DONE();
        return;
    }
    clgrad_onnx_model *m;
    clgrad_onnx_io io;
    clgrad_onnx_stats st;
    clgrad_onnx_node_time nt[2];
    clgrad_tensor *ins[1] = {NULL}, *outs[2];
    clgrad_onnx_array a[1];
    clgrad_onnx_export_options o = opts_2d(3);
    void *data;
    size_t size;
    memset(a, 0, sizeof a);

    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_onnx_load(NULL, "x.onnx", NULL, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_onnx_load_memory(NULL, "x", 1, NULL, &m));
    clgrad_onnx_release(NULL); /* a no-op */
    EXPECT_TRUE(clgrad_onnx_input_count(NULL) == 0);
    EXPECT_TRUE(clgrad_onnx_output_count(NULL) == 0);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_input(NULL, 0, &io));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_input(NULL, 0, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_output(NULL, 0, &io));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_output(NULL, -1, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_get_stats(NULL, &st));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_get_stats(NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_run(NULL, 0, NULL, 0, NULL));
    poison(outs, 2);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_run(NULL, 1, ins, 2, outs));
    EXPECT_CLEARED(outs, 2);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_run_host(NULL, 0, NULL, 0, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_run_host(NULL, 1, a, 1, a));
    clgrad_onnx_profile_enable(NULL, 1); /* a no-op */
    clgrad_onnx_profile_enable(NULL, 0);
    EXPECT_TRUE(clgrad_onnx_profile(NULL, NULL, 0) == 0);
    nt[0].runs = 42;
    EXPECT_TRUE(clgrad_onnx_profile(NULL, nt, 2) == 0 && nt[0].runs == 42);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_export(NULL, &o, "x.onnx"));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_export(NULL, NULL, NULL));
    size = 5;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, data, clgrad_onnx_export_memory(NULL, &o, &data, &size));
    EXPECT_TRUE(size == 0);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_export_memory(NULL, NULL, NULL, NULL));
    clgrad_onnx_free(NULL); /* a no-op */
    ARGS_DONE();
}
END_TEST

/* --- on the device ------------------------------------------------------------------------------ */

/* Loading: NULL arguments, files that are missing or folders, zero, cut-off and garbage
 * bytes; exporting: bad options, modules that cannot be exported, bad paths. */
START_TEST(bad_onnx_load_export)
{
    if (!clgrad_onnx_available()) {
        clgrad_module *lin = NULL;
        TH_OK(clgrad_linear_create(th_ctx, 3, 2, 1, 7, &lin));
        disabled_checks(th_ctx, lin);
        clgrad_module_release(lin);
        ARGS_DONE();
        return;
    }
    char dir[512], sub[600], path[600], missing[600];
    th_tmpdir(dir, sizeof dir, "apiargs-onnx");
    snprintf(sub, sizeof sub, "%s/sub.onnx", dir);
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    snprintf(missing, sizeof missing, "%s/no/such/m.onnx", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    clgrad_module *lin = NULL;
    size_t size = 0;
    uint8_t *bytes = linear_model(&lin, &size);
    clgrad_onnx_model *m;

    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_onnx_load(th_ctx, NULL, NULL, &m));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_load(th_ctx, path, NULL, NULL));
    EXPECT_OUT_MSG(CLGRAD_ERR_IO, missing, m, clgrad_onnx_load(th_ctx, missing, NULL, &m));
    EXPECT_TRUE(strstr(clgrad_last_error(th_ctx), missing) != NULL); /* on the context too */
    EXPECT_OUT_MSG(CLGRAD_ERR_IO, sub, m, clgrad_onnx_load(th_ctx, sub, NULL, &m));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, m, clgrad_onnx_load_memory(th_ctx, NULL, size, NULL, &m));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_load_memory(th_ctx, bytes, size, NULL, NULL));
    /* zero bytes: an empty message, so a model without a graph */
    EXPECT_OUT(CLGRAD_ERR_IO, m, clgrad_onnx_load_memory(th_ctx, NULL, 0, NULL, &m));
    EXPECT_OUT(CLGRAD_ERR_IO, m, clgrad_onnx_load_memory(th_ctx, bytes, 0, NULL, &m));
    /* every cut of the file fails: mostly as malformed (IO); a cut at a field boundary is a
     * well-formed shorter model, which lacks its opset (UNSUPPORTED) or parts of its graph */
    int n_io = 0;
    for (size_t cut = 1; cut < size; cut++) {
        m = POISON;
        ta_begin();
        clgrad_status s = clgrad_onnx_load_memory(th_ctx, bytes, cut, NULL, &m);
        const char *msg = clgrad_last_error(NULL);
        n_io += s == CLGRAD_ERR_IO;
        if ((s != CLGRAD_ERR_IO && s != CLGRAD_ERR_UNSUPPORTED) || m != NULL || !msg[0])
            ta_bad(__FILE__, __LINE__, "load_memory of %zu of %zu bytes -> %s, model %p, message \"%s\"", cut, size,
                   clgrad_status_name(s), (void *)m, msg);
    }
    EXPECT_TRUE(n_io > (int)size / 2);
    /* garbage: random bytes, then random bytes after a valid start */
    {
        uint8_t junk[512];
        uint64_t x = 0x2545f4914f6cdd1du;
        for (int round = 0; round < 16; round++) {
            for (size_t i = 0; i < sizeof junk; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                junk[i] = (uint8_t)x;
            }
            size_t keep = round < 8 ? 0 : (size_t)round * size / 16;
            memcpy(junk, bytes, keep);
            m = POISON;
            ta_begin();
            clgrad_status s = clgrad_onnx_load_memory(th_ctx, junk, sizeof junk, NULL, &m);
            if ((s != CLGRAD_ERR_IO && s != CLGRAD_ERR_UNSUPPORTED) || m != NULL || !clgrad_last_error(NULL)[0])
                ta_bad(__FILE__, __LINE__, "load_memory of garbage (round %d) -> %s, model %p, message \"%s\"", round,
                       clgrad_status_name(s), (void *)m, clgrad_last_error(NULL));
        }
        junk[0] = 0xff; /* no valid field tag */
        EXPECT_OUT(CLGRAD_ERR_IO, m, clgrad_onnx_load_memory(th_ctx, junk, sizeof junk, NULL, &m));
        th_spit(path, junk, sizeof junk);
        EXPECT_OUT_MSG(CLGRAD_ERR_IO, path, m, clgrad_onnx_load(th_ctx, path, NULL, &m));
    }

    /* export: NULL arguments, options out of range, shapes the layer cannot take, paths */
    clgrad_onnx_export_options o = opts_2d(3);
    void *data;
    size_t n;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_export(lin, NULL, path));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_export(lin, &o, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_export(lin, &o, ""));
    n = 5;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, data, clgrad_onnx_export_memory(lin, NULL, &data, &n));
    EXPECT_TRUE(n == 0);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_export_memory(lin, &o, NULL, &n));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, data, clgrad_onnx_export_memory(lin, &o, &data, NULL));
    const struct {
        int ndim;
        int64_t d0, d1;
        clgrad_status want;
        const char *needle;
    } bad_opts[] = {
        {0, 1, 3, CLGRAD_ERR_INVALID_ARG, "ndim"},
        {-1, 1, 3, CLGRAD_ERR_INVALID_ARG, "ndim"},
        {CLGRAD_MAX_DIMS + 1, 1, 3, CLGRAD_ERR_INVALID_ARG, "ndim"},
        {INT_MIN, 1, 3, CLGRAD_ERR_INVALID_ARG, "ndim"},
        {2, 0, 3, CLGRAD_ERR_INVALID_ARG, "dimension 0"},
        {2, -2, 3, CLGRAD_ERR_INVALID_ARG, "dimension 0"},
        {2, 1, INT64_MIN, CLGRAD_ERR_INVALID_ARG, "dimension 1"},
        {2, 1, 5, CLGRAD_ERR_UNSUPPORTED, "linear"}, /* the layer takes 3 features */
        {1, 5, 0, CLGRAD_ERR_UNSUPPORTED, "linear"},
    };
    for (int i = 0; i < N_OF(bad_opts); i++) {
        clgrad_onnx_export_options b = opts_2d(3);
        b.ndim = bad_opts[i].ndim;
        b.shape[0] = bad_opts[i].d0;
        b.shape[1] = bad_opts[i].d1;
        n = 5;
        EXPECT_OUT_MSG(bad_opts[i].want, bad_opts[i].needle, data, clgrad_onnx_export_memory(lin, &b, &data, &n));
        EXPECT_TRUE(n == 0);
        EXPECT_MSG(bad_opts[i].want, bad_opts[i].needle, clgrad_onnx_export(lin, &b, path));
    }
    {
        /* names of the graph's input and output: empty, equal, or taken by a parameter */
        const struct {
            const char *in, *out, *needle;
        } names[] = {
            {"", NULL, "non-empty"}, {NULL, "", "non-empty"}, {"x", "x", "differ"}, {"output", NULL, "differ"},
            {NULL, "input", "differ"}, {"weight", NULL, "'weight'"}, {NULL, "bias", "'bias'"},
        };
        for (int i = 0; i < N_OF(names); i++) {
            clgrad_onnx_export_options b = opts_2d(3);
            b.input_name = names[i].in;
            b.output_name = names[i].out;
            EXPECT_OUT_MSG(CLGRAD_ERR_INVALID_ARG, names[i].needle, data,
                           clgrad_onnx_export_memory(lin, &b, &data, &n));
        }
        clgrad_onnx_export_options b = opts_2d(3);
        b.input_name = "x";
        b.output_name = "y";
        data = NULL;
        TH_OK(clgrad_onnx_export_memory(lin, &b, &data, &n));
        m = NULL;
        TH_OK(clgrad_onnx_load_memory(th_ctx, data, n, NULL, &m));
        clgrad_onnx_io io;
        TH_OK(clgrad_onnx_input(m, 0, &io));
        EXPECT_TRUE(!strcmp(io.name, "x"));
        clgrad_onnx_release(m);
        clgrad_onnx_free(data);
    }
    {
        /* in a Sequential the parameters are "0.weight", "0.bias" */
        clgrad_module *seq = NULL, *l2 = NULL;
        TH_OK(clgrad_sequential_create(th_ctx, &seq));
        TH_OK(clgrad_linear_create(th_ctx, 3, 2, 1, 7, &l2));
        TH_OK(clgrad_sequential_add(seq, l2));
        clgrad_onnx_export_options b = opts_2d(3);
        b.input_name = "0.weight";
        EXPECT_OUT_MSG(CLGRAD_ERR_INVALID_ARG, "'0.weight'", data, clgrad_onnx_export_memory(seq, &b, &data, &n));
        clgrad_module_release(seq);
    }
    {
        /* an LSTM takes a batch of sequences (rank 3), not a matrix */
        clgrad_module *lstm = NULL;
        TH_OK(clgrad_rnn_create(th_ctx, CLGRAD_LSTM, 3, 4, 1, 1, 1, 1, &lstm));
        EXPECT_OUT_MSG(CLGRAD_ERR_UNSUPPORTED, "lstm", data, clgrad_onnx_export_memory(lstm, &o, &data, &n));
        clgrad_module_release(lstm);
    }
    EXPECT_MSG(CLGRAD_ERR_IO, missing, clgrad_onnx_export(lin, &o, missing));
    EXPECT_MSG(CLGRAD_ERR_IO, sub, clgrad_onnx_export(lin, &o, sub));
    TH_OK(clgrad_onnx_export(lin, &o, path));
    m = NULL;
    TH_OK(clgrad_onnx_load(th_ctx, path, NULL, &m));
    EXPECT_TRUE(clgrad_onnx_input_count(m) == 1 && clgrad_onnx_output_count(m) == 1);
    clgrad_onnx_release(m);

    clgrad_onnx_free(bytes);
    clgrad_module_release(lin);
    th_rmtree(dir);
    ARGS_DONE();
}
END_TEST

/* A loaded model: indices out of range, counts, NULL arrays, dtypes, shapes and contexts
 * the model does not take, host arrays whose sizes do not add up, profiling arguments. */
START_TEST(bad_onnx_run)
{
    if (!clgrad_onnx_available()) {
        ARGS_DONE();
        return;
    }
    clgrad_module *lin = NULL;
    size_t size = 0;
    void *bytes = linear_model(&lin, &size);
    clgrad_onnx_model *m = NULL;
    TH_OK(clgrad_onnx_load_memory(th_ctx, bytes, size, NULL, &m));
    clgrad_onnx_free(bytes);

    /* inputs and outputs */
    clgrad_onnx_io io;
    clgrad_onnx_stats st;
    EXPECT_TRUE(clgrad_onnx_input_count(m) == 1);
    EXPECT_TRUE(clgrad_onnx_output_count(m) == 1);
    const int bad_i[] = {-1, 1, 2, INT_MAX, INT_MIN};
    for (int k = 0; k < N_OF(bad_i); k++) {
        EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "out of range", clgrad_onnx_input(m, bad_i[k], &io));
        EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "out of range", clgrad_onnx_output(m, bad_i[k], &io));
    }
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_input(m, 0, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_output(m, 0, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_get_stats(m, NULL));
    TH_OK(clgrad_onnx_input(m, 0, &io));
    EXPECT_TRUE(io.ndim == 2 && io.shape[0] == -1 && io.shape[1] == 3 && io.dtype == CLGRAD_DTYPE_F32);
    TH_OK(clgrad_onnx_output(m, 0, &io));
    EXPECT_TRUE(io.ndim == 2 && io.shape[1] == 2);
    TH_OK(clgrad_onnx_get_stats(m, &st));
    EXPECT_TRUE(st.opset == 17 && st.nodes_run >= 1);

    /* clgrad_onnx_run */
    int64_t s23v[2] = {2, 3}, s3[1] = {3};
    clgrad_tensor *x = ta_f32(2, s23v), *xi = ta_i32(2, s23v), *x45 = ta_f32(2, s45), *x1 = ta_f32(1, s3);
    clgrad_context *c2 = ta_second_context();
    clgrad_tensor *x2 = ta_f32_on(c2, 2, s23v);
    clgrad_tensor *ins[2] = {x, x}, *nul[1] = {NULL}, *outs[2];
    const struct {
        int n_in;
        clgrad_tensor *const *in;
        int n_out;
        clgrad_status want;
        const char *needle;
    } runs[] = {
        {0, ins, 1, CLGRAD_ERR_INVALID_ARG, "1 inputs"},
        {2, ins, 1, CLGRAD_ERR_INVALID_ARG, "1 inputs"},
        {-1, ins, 1, CLGRAD_ERR_INVALID_ARG, "1 inputs"},
        {1, ins, 0, CLGRAD_ERR_INVALID_ARG, "1 outputs"},
        {1, ins, 2, CLGRAD_ERR_INVALID_ARG, "1 outputs"},
        {1, NULL, 1, CLGRAD_ERR_INVALID_ARG, NULL},
        {1, nul, 1, CLGRAD_ERR_INVALID_ARG, "NULL"},
    };
    for (int k = 0; k < N_OF(runs); k++) {
        poison(outs, 2);
        EXPECT_MSG(runs[k].want, runs[k].needle, clgrad_onnx_run(m, runs[k].n_in, runs[k].in, runs[k].n_out, outs));
        EXPECT_CLEARED(outs, runs[k].n_out > 0 ? runs[k].n_out : 0);
    }
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_run(m, 1, ins, 1, NULL));
    const struct {
        clgrad_tensor *in;
        clgrad_status want;
        const char *needle;
    } inputs[] = {
        {x45, CLGRAD_ERR_SHAPE, "[4, 5]"},          /* the model takes (any, 3) */
        {x1, CLGRAD_ERR_SHAPE, "[3]"},              /* a rank too few */
        {xi, CLGRAD_ERR_INVALID_ARG, "f32"},        /* an integer input to a float model */
        {x2, CLGRAD_ERR_INVALID_ARG, "context"},    /* another context */
    };
    for (int k = 0; k < N_OF(inputs); k++) {
        poison(outs, 1);
        EXPECT_MSG(inputs[k].want, inputs[k].needle, clgrad_onnx_run(m, 1, &inputs[k].in, 1, outs));
        EXPECT_CLEARED(outs, 1);
    }
    outs[0] = NULL;
    TH_OK(clgrad_onnx_run(m, 1, &x, 1, outs));
    float want[4];
    TH_OK(clgrad_tensor_read(outs[0], want, sizeof want));
    EXPECT_TRUE(clgrad_tensor_ndim(outs[0]) == 2 && clgrad_tensor_dim(outs[0], 0) == 2 &&
                clgrad_tensor_dim(outs[0], 1) == 2);
    clgrad_tensor_release(outs[0]);

    /* clgrad_onnx_run_host */
    float hx[6], hy[4], big[16];
    TH_OK(clgrad_tensor_read(x, hx, sizeof hx));
    clgrad_onnx_array in, out;
    memset(&in, 0, sizeof in);
    in.dtype = CLGRAD_DTYPE_F32;
    in.ndim = 2;
    in.shape[0] = 2;
    in.shape[1] = 3;
    in.data = hx;
    in.nbytes = sizeof hx;
    memset(&out, 0, sizeof out);
    out.data = hy;
    out.nbytes = sizeof hy;
    EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "1 inputs", clgrad_onnx_run_host(m, 0, &in, 1, &out));
    EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "1 inputs", clgrad_onnx_run_host(m, 2, &in, 1, &out));
    EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "1 outputs", clgrad_onnx_run_host(m, 1, &in, 0, &out));
    EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "1 outputs", clgrad_onnx_run_host(m, 1, &in, -5, &out));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_run_host(m, 1, NULL, 1, &out));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_onnx_run_host(m, 1, &in, 1, NULL));
    const struct {
        clgrad_dtype dtype;
        int ndim;
        int64_t d0, d1;
        int null_data;
        size_t nbytes;
        clgrad_status want;
        const char *needle;
    } arrays[] = {
        {CLGRAD_DTYPE_F16, 2, 2, 3, 0, sizeof hx, CLGRAD_ERR_INVALID_ARG, "dtype"},
        {(clgrad_dtype)99, 2, 2, 3, 0, sizeof hx, CLGRAD_ERR_INVALID_ARG, "dtype"},
        {CLGRAD_DTYPE_F32, -1, 2, 3, 0, sizeof hx, CLGRAD_ERR_INVALID_ARG, "ndim"},
        {CLGRAD_DTYPE_F32, CLGRAD_MAX_DIMS + 1, 2, 3, 0, sizeof hx, CLGRAD_ERR_INVALID_ARG, "ndim"},
        {CLGRAD_DTYPE_F32, 2, 2, 3, 0, sizeof hx - 4, CLGRAD_ERR_INVALID_ARG, "nbytes"},
        {CLGRAD_DTYPE_F32, 2, 2, 3, 0, sizeof hx + 4, CLGRAD_ERR_INVALID_ARG, "nbytes"},
        {CLGRAD_DTYPE_F32, 2, 2, 3, 0, 0, CLGRAD_ERR_INVALID_ARG, "nbytes"},
        {CLGRAD_DTYPE_F32, 2, 2, 3, 1, sizeof hx, CLGRAD_ERR_INVALID_ARG, "data"},
        {CLGRAD_DTYPE_F32, 2, -2, 3, 0, sizeof hx, CLGRAD_ERR_INVALID_ARG, NULL},
        {CLGRAD_DTYPE_F32, 2, INT64_MAX, 3, 0, sizeof hx, CLGRAD_ERR_INVALID_ARG, NULL},
        {CLGRAD_DTYPE_F32, 2, INT64_MAX / 2, INT64_MAX / 2, 0, sizeof hx, CLGRAD_ERR_INVALID_ARG, NULL},
        {CLGRAD_DTYPE_F32, 2, 3, 2, 0, sizeof hx, CLGRAD_ERR_SHAPE, "[3, 2]"}, /* 6 values, wrong shape */
        {CLGRAD_DTYPE_F32, 1, 6, 0, 0, sizeof hx, CLGRAD_ERR_SHAPE, "[6]"},
        {CLGRAD_DTYPE_I32, 2, 2, 3, 0, sizeof hx, CLGRAD_ERR_INVALID_ARG, "f32"},
    };
    for (int k = 0; k < N_OF(arrays); k++) {
        clgrad_onnx_array a = in;
        a.dtype = arrays[k].dtype;
        a.ndim = arrays[k].ndim;
        a.shape[0] = arrays[k].d0;
        a.shape[1] = arrays[k].d1;
        a.data = arrays[k].null_data ? NULL : hx;
        a.nbytes = arrays[k].nbytes;
        EXPECT_MSG(arrays[k].want, arrays[k].needle, clgrad_onnx_run_host(m, 1, &a, 1, &out));
    }
    /* outputs without room: SHAPE, with the output's shape filled in and no data written */
    const size_t rooms[] = {0, sizeof hy - 4};
    for (int k = 0; k < N_OF(rooms); k++) {
        for (int i = 0; i < 4; i++) hy[i] = -7.0f;
        out.data = hy;
        out.nbytes = rooms[k];
        out.ndim = 0;
        EXPECT_MSG(CLGRAD_ERR_SHAPE, "16 bytes", clgrad_onnx_run_host(m, 1, &in, 1, &out));
        EXPECT_TRUE(out.ndim == 2 && out.shape[0] == 2 && out.shape[1] == 2 && out.dtype == CLGRAD_DTYPE_F32);
        EXPECT_TRUE(hy[0] == -7.0f && hy[3] == -7.0f);
    }
    out.data = NULL;
    out.nbytes = sizeof hy;
    EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "data", clgrad_onnx_run_host(m, 1, &in, 1, &out));
    out.data = big; /* more room than needed is fine */
    out.nbytes = sizeof big;
    TH_OK(clgrad_onnx_run_host(m, 1, &in, 1, &out));
    EXPECT_TRUE(out.ndim == 2 && out.shape[0] == 2 && out.shape[1] == 2);
    EXPECT_TRUE(memcmp(big, want, sizeof want) == 0);

    /* profiling */
    clgrad_onnx_node_time nt[4];
    memset(nt, 0, sizeof nt);
    clgrad_onnx_profile_enable(m, 1);
    outs[0] = NULL;
    TH_OK(clgrad_onnx_run(m, 1, &x, 1, outs));
    clgrad_tensor_release(outs[0]);
    int nodes = clgrad_onnx_profile(m, NULL, 0);
    EXPECT_TRUE(nodes == st.nodes_run);
    EXPECT_TRUE(clgrad_onnx_profile(m, NULL, 4) == nodes); /* cap without a buffer */
    nt[0].runs = 42;
    EXPECT_TRUE(clgrad_onnx_profile(m, nt, -3) == nodes && nt[0].runs == 42);
    EXPECT_TRUE(clgrad_onnx_profile(m, nt, 0) == nodes && nt[0].runs == 42);
    nt[1].runs = 42;
    EXPECT_TRUE(clgrad_onnx_profile(m, nt, 1) == nodes && nt[0].runs == 1 && nt[0].op != NULL &&
                (nodes < 2 || nt[1].runs == 42));
    clgrad_onnx_profile_enable(m, 0);
    clgrad_onnx_profile_enable(m, -1); /* any non-zero value turns it on */
    EXPECT_TRUE(clgrad_onnx_profile(m, nt, 1) == nodes && nt[0].runs == 0);

    clgrad_onnx_release(m);
    clgrad_tensor_release(x);
    clgrad_tensor_release(xi);
    clgrad_tensor_release(x45);
    clgrad_tensor_release(x1);
    clgrad_tensor_release(x2);
    clgrad_context_release(c2);
    clgrad_module_release(lin);
    ARGS_DONE();
}
END_TEST

/* A model with an integer input (an embedding's indices): a float input is refused, and so
 * are indices outside the table. */
START_TEST(bad_onnx_integer_input)
{
    if (!clgrad_onnx_available()) {
        ARGS_DONE();
        return;
    }
    clgrad_module *seq = NULL;
    TH_OK(clgrad_sequential_create(th_ctx, &seq));
    clgrad_module *emb = NULL;
    TH_OK(clgrad_embedding_create(th_ctx, 5, 3, 1, &emb));
    TH_OK(clgrad_sequential_add(seq, emb));
    clgrad_onnx_export_options o = opts_2d(4);
    void *data = NULL;
    size_t size = 0;
    TH_OK(clgrad_onnx_export_memory(seq, &o, &data, &size));
    clgrad_onnx_model *m = NULL;
    TH_OK(clgrad_onnx_load_memory(th_ctx, data, size, NULL, &m));
    clgrad_onnx_free(data);
    clgrad_onnx_io io;
    TH_OK(clgrad_onnx_input(m, 0, &io));
    EXPECT_TRUE(io.dtype == CLGRAD_DTYPE_I32 && io.type == CLGRAD_ONNX_INT64);

    int64_t s24[2] = {2, 4};
    clgrad_tensor *xf = ta_f32(2, s24), *outs[1];
    poison(outs, 1);
    EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "i32", clgrad_onnx_run(m, 1, &xf, 1, outs));
    EXPECT_CLEARED(outs, 1);
    float hf[8] = {0};
    float hy[24];
    clgrad_onnx_array in = {.dtype = CLGRAD_DTYPE_F32, .ndim = 2, .shape = {2, 4}, .data = hf, .nbytes = sizeof hf};
    clgrad_onnx_array out = {.data = hy, .nbytes = sizeof hy};
    EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "i32", clgrad_onnx_run_host(m, 1, &in, 1, &out));

    /* indices 0..4 are valid, and so are -1..-5, which count from the end as ONNX's Gather
     * does; 5 and -6 are out of range */
    int32_t idx[8] = {0, 1, 2, 3, 4, -1, -5, -2};
    in.dtype = CLGRAD_DTYPE_I32;
    in.data = idx;
    in.nbytes = sizeof idx;
    TH_OK(clgrad_onnx_run_host(m, 1, &in, 1, &out));
    EXPECT_TRUE(out.ndim == 3 && out.shape[0] == 2 && out.shape[1] == 4 && out.shape[2] == 3);
    EXPECT_TRUE(memcmp(hy + 5 * 3, hy + 4 * 3, 3 * sizeof *hy) == 0); /* -1: row 4 */
    EXPECT_TRUE(memcmp(hy + 6 * 3, hy + 0 * 3, 3 * sizeof *hy) == 0); /* -5: row 0 */
    EXPECT_TRUE(memcmp(hy + 7 * 3, hy + 3 * 3, 3 * sizeof *hy) == 0); /* -2: row 3 */
    EXPECT_TRUE(hy[12] != 0.0f || hy[13] != 0.0f);
    const int32_t bad[] = {5, 1000000, INT32_MAX, -6, INT32_MIN};
    for (int k = 0; k < N_OF(bad); k++) {
        idx[3] = bad[k];
        EXPECT_MSG(CLGRAD_ERR_SHAPE, "out of range", clgrad_onnx_run_host(m, 1, &in, 1, &out));
        int names_node = strstr(clgrad_last_error(NULL), "(Gather)") != NULL;
        EXPECT_TRUE(names_node);
    }
    /* the same on a device tensor */
    idx[3] = -6;
    int64_t s24i[2] = {2, 4};
    clgrad_tensor *xi = th_tensor_i32(2, s24i, idx);
    poison(outs, 1);
    EXPECT_MSG(CLGRAD_ERR_SHAPE, "out of range", clgrad_onnx_run(m, 1, &xi, 1, outs));
    EXPECT_CLEARED(outs, 1);
    clgrad_tensor_release(xi);
    clgrad_onnx_release(m);
    clgrad_tensor_release(xf);
    clgrad_module_release(seq);
    ARGS_DONE();
}
END_TEST

int main(void)
{
    const TTest *null_tests[] = {null_onnx};
    const TTest *device_tests[] = {bad_onnx_load_export, bad_onnx_run, bad_onnx_integer_input};
    return ta_main("api_args_onnx", null_tests, N_OF(null_tests), device_tests, N_OF(device_tests));
}
