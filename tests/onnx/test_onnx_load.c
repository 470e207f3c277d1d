/* The ONNX importer on small graphs built in C (src/onnx/build.h): every operator mapping
 * against a plain-C computation of what the ONNX specification says, opset-dependent forms
 * (Squeeze, Softmax, Split, ReduceSum, Clip), constant folding of shape arithmetic and the
 * host path for open dimensions; and the errors: malformed files, unsupported operators,
 * opsets, data types and attributes, each naming the node, its operator and the reason. */
#include "harness.h"

#include "onnx/build.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- helpers ------------------------------------------------------------------------------- */

static clgrad__oxb *model(int64_t opset)
{
    clgrad__oxb *b = NULL;
    TH_OK(clgrad__oxb_new(opset, "test", "1", &b));
    return b;
}

static void input(clgrad__oxb *b, const char *name, int type, int nd, const int64_t *s)
{
    TH_OK(clgrad__oxb_input(b, name, type, nd, s, NULL));
}

static void output(clgrad__oxb *b, const char *name)
{
    TH_OK(clgrad__oxb_output(b, name, OX_FLOAT, -1, NULL, NULL));
}

static Onnx__NodeProto *node(clgrad__oxb *b, const char *op, const char *ins, const char *outs)
{
    /* ins / outs: space-separated names; "-" for an omitted optional input */
    char buf[2][512];
    const char *in[16], *out[16];
    int n[2] = {0, 0};
    const char *src[2] = {ins, outs};
    for (int k = 0; k < 2; k++) {
        snprintf(buf[k], sizeof buf[k], "%s", src[k]);
        for (char *t = strtok(buf[k], " "); t; t = strtok(NULL, " ")) (k ? out : in)[n[k]++] = strcmp(t, "-") ? t : "";
    }
    Onnx__NodeProto *p = NULL;
    char name[64];
    snprintf(name, sizeof name, "%s_node", op);
    TH_OK(clgrad__oxb_node(b, op, name, n[0], in, n[1], out, &p));
    return p;
}

static void init_i64(clgrad__oxb *b, const char *name, int n, const int64_t *v)
{
    int64_t len = n;
    TH_OK(clgrad__oxb_init_i64(b, name, 1, &len, v));
}

static void init_f(clgrad__oxb *b, const char *name, int nd, const int64_t *s, const float *v)
{
    TH_OK(clgrad__oxb_init_f32(b, name, nd, s, v));
}

/* Packs and loads b (freed); NULL with the status in *st when loading fails. */
static clgrad_onnx_model *load_opts(clgrad__oxb *b, uint32_t flags, clgrad_status *st)
{
    void *data = NULL;
    size_t n = 0;
    TH_OK(clgrad__oxb_pack(b, &data, &n));
    clgrad__oxb_free(b);
    clgrad_onnx_model *m = NULL;
    clgrad_onnx_options o = {flags};
    *st = clgrad_onnx_load_memory(th_ctx, data, n, &o, &m);
    free(data);
    return m;
}

static clgrad_onnx_model *load(clgrad__oxb *b)
{
    clgrad_status st;
    clgrad_onnx_model *m = load_opts(b, 0, &st);
    ck_assert_msg(st == CLGRAD_OK, "load: %s", clgrad_last_error(th_ctx));
    return m;
}

/* Loading b must fail with want and a message holding each of the |-separated parts. */
static void load_fails(clgrad__oxb *b, clgrad_status want, const char *parts)
{
    clgrad_status st;
    clgrad_onnx_model *m = load_opts(b, 0, &st);
    const char *msg = clgrad_last_error(th_ctx);
    ck_assert_msg(st == want && !m, "got %s (want %s): %s", clgrad_status_name(st), clgrad_status_name(want), msg);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", parts);
    for (char *t = strtok(buf, "|"); t; t = strtok(NULL, "|"))
        ck_assert_msg(strstr(msg, t) != NULL, "message \"%s\" lacks \"%s\"", msg, t);
}

/* Runs m on one f32 input; checks the output's shape and values. */
static void expect(clgrad_onnx_model *m, int nd, const int64_t *s, const float *x, int ond, const int64_t *os,
                   const float *want, const char *what)
{
    clgrad_tensor *in = NULL, *out = NULL;
    TH_OK(clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_F32, nd, s, x, &in));
    clgrad_status st = clgrad_onnx_run(m, 1, &in, 1, &out);
    ck_assert_msg(st == CLGRAD_OK, "%s: %s", what, clgrad_last_error(th_ctx));
    ck_assert_msg(clgrad_tensor_ndim(out) == ond, "%s: rank %d, want %d", what, clgrad_tensor_ndim(out), ond);
    int64_t n = 1;
    for (int d = 0; d < ond; d++) {
        ck_assert_msg(clgrad_tensor_dim(out, d) == os[d], "%s: dim %d is %lld, want %lld", what, d,
                      (long long)clgrad_tensor_dim(out, d), (long long)os[d]);
        n *= os[d];
    }
    float *got = malloc((size_t)(n ? n : 1) * 4);
    if (clgrad_tensor_dtype(out) == CLGRAD_DTYPE_I32) {
        int32_t *g = malloc((size_t)(n ? n : 1) * 4);
        TH_OK(clgrad_tensor_read(out, g, (size_t)n * 4));
        for (int64_t i = 0; i < n; i++) got[i] = (float)g[i];
        free(g);
    } else {
        TH_OK(clgrad_tensor_read(out, got, (size_t)n * 4));
    }
    th_allclose(what, got, want, (size_t)n, 1e-5, 1e-5);
    free(got);
    clgrad_tensor_release(in);
    clgrad_tensor_release(out);
}

static float *iota(int64_t n, float scale)
{
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = (float)i * scale - 1.0f;
    return x;
}

/* --- layout operators ------------------------------------------------------------------------ */

/* x (2, 3, 4): Transpose(1, 2, 0) -> Slice axes 0 [1, 3), axis 2 every other from the end
 * (negative steps are refused on the device, so positive here) -> Reshape(0, -1). */
START_TEST(transpose_slice_reshape)
{
    clgrad__oxb *b = model(14);
    int64_t s[3] = {2, 3, 4};
    input(b, "x", OX_FLOAT, 3, s);
    int64_t perm[3] = {1, 2, 0}, st[2] = {1, 0}, en[2] = {3, INT64_MAX}, ax[2] = {0, 2}, sp[2] = {1, 2},
            shp[2] = {0, -1};
    TH_OK(clgrad__oxb_attr_ints(b, node(b, "Transpose", "x", "t"), "perm", 3, perm));
    init_i64(b, "st", 2, st);
    init_i64(b, "en", 2, en);
    init_i64(b, "ax", 2, ax);
    init_i64(b, "sp", 2, sp);
    init_i64(b, "shp", 2, shp);
    node(b, "Slice", "t st en ax sp", "u");
    node(b, "Reshape", "u shp", "y");
    output(b, "y");
    clgrad_onnx_model *m = load(b);
    float *x = iota(24, 1), want[8];
    /* t[i][j][k] = x[k][i][j], t (3, 4, 2); u = t[1:3, :, 0:2:2] (2, 4, 1); y (2, 4) */
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) want[i * 4 + j] = x[0 * 12 + (i + 1) * 4 + j];
    int64_t os[2] = {2, 4};
    expect(m, 3, s, x, 2, os, want, "transpose-slice-reshape");
    free(x);
    clgrad_onnx_release(m);
}
END_TEST

/* Squeeze / Unsqueeze take axes as an attribute before opset 13 and as an input from 13. */
START_TEST(squeeze_unsqueeze_by_opset)
{
    for (int v = 0; v < 2; v++) {
        clgrad__oxb *b = model(v ? 13 : 11);
        int64_t s[3] = {2, 1, 3}, a1[1] = {1}, a0[2] = {0, 3};
        input(b, "x", OX_FLOAT, 3, s);
        if (v) {
            init_i64(b, "a1", 1, a1);
            init_i64(b, "a0", 2, a0);
            node(b, "Squeeze", "x a1", "t");
            node(b, "Unsqueeze", "t a0", "y");
        } else {
            TH_OK(clgrad__oxb_attr_ints(b, node(b, "Squeeze", "x", "t"), "axes", 1, a1));
            TH_OK(clgrad__oxb_attr_ints(b, node(b, "Unsqueeze", "t", "y"), "axes", 2, a0));
        }
        output(b, "y");
        clgrad_onnx_model *m = load(b);
        float *x = iota(6, 1);
        int64_t os[4] = {1, 2, 3, 1};
        expect(m, 3, s, x, 4, os, x, v ? "squeeze opset 13" : "squeeze opset 11");
        free(x);
        clgrad_onnx_release(m);
    }
}
END_TEST

/* Concat with a constant, Split into unequal parts (sizes as attribute before 13, as input
 * from 13), the second part returned. */
START_TEST(concat_and_split)
{
    for (int v = 0; v < 2; v++) {
        clgrad__oxb *b = model(v ? 13 : 12);
        int64_t s[2] = {2, 3}, cs[2] = {2, 2}, sizes[2] = {1, 4};
        float c[4] = {10, 11, 12, 13};
        input(b, "x", OX_FLOAT, 2, s);
        init_f(b, "c", 2, cs, c);
        TH_OK(clgrad__oxb_attr_int(b, node(b, "Concat", "x c", "t"), "axis", 1));
        Onnx__NodeProto *sp;
        if (v) {
            init_i64(b, "sizes", 2, sizes);
            sp = node(b, "Split", "t sizes", "a y");
        } else {
            sp = node(b, "Split", "t", "a y");
            TH_OK(clgrad__oxb_attr_ints(b, sp, "split", 2, sizes));
        }
        TH_OK(clgrad__oxb_attr_int(b, sp, "axis", -1));
        output(b, "y");
        clgrad_onnx_model *m = load(b);
        float x[6] = {0, 1, 2, 3, 4, 5}, want[8] = {1, 2, 10, 11, 4, 5, 12, 13};
        int64_t os[2] = {2, 4};
        expect(m, 2, s, x, 2, os, want, "concat-split");
        clgrad_onnx_release(m);
    }
}
END_TEST

/* Gather on the device: one index (a slice), several along axis 1 (negative ones too), and
 * indices that are a run-time integer input (an embedding lookup). */
START_TEST(gather_forms)
{
    clgrad__oxb *b = model(14);
    int64_t s[3] = {2, 4, 3}, i1 = -1, many[4] = {3, -4, 3, 1};
    input(b, "x", OX_FLOAT, 3, s);
    TH_OK(clgrad__oxb_init_i64(b, "one", 0, NULL, &i1));
    init_i64(b, "many", 4, many);
    TH_OK(clgrad__oxb_attr_int(b, node(b, "Gather", "x one", "g1"), "axis", 2));
    TH_OK(clgrad__oxb_attr_int(b, node(b, "Gather", "x many", "g2"), "axis", 1));
    int64_t shp[3] = {2, 4, 1};
    init_i64(b, "shp", 3, shp);
    node(b, "Reshape", "g1 shp", "g1r"); /* g1 (2, 4) -> broadcast against g2 (2, 4, 3) */
    node(b, "Mul", "g2 g1r", "y");
    output(b, "y");
    clgrad_onnx_model *m = load(b);
    float *x = iota(24, 0.5f), want[24];
    /* g1[i][j] = x[i][j][2]; g2[i][q][k] = x[i][idx q][k]; y = g2 * g1[i][q] */
    int idx[4] = {3, 0, 3, 1};
    for (int i = 0; i < 2; i++)
        for (int q = 0; q < 4; q++)
            for (int k = 0; k < 3; k++) want[(i * 4 + q) * 3 + k] = x[(i * 4 + idx[q]) * 3 + k] * x[(i * 4 + q) * 3 + 2];
    int64_t os[3] = {2, 4, 3};
    expect(m, 3, s, x, 3, os, want, "gather");
    free(x);
    clgrad_onnx_release(m);

    /* an embedding: integer indices given at run time */
    b = model(14);
    int64_t es[2] = {5, 2}, is[2] = {-1, 3};
    float table[10] = {0, 1, 10, 11, 20, 21, 30, 31, 40, 41};
    init_f(b, "table", 2, es, table);
    input(b, "ids", OX_INT64, 2, is);
    node(b, "Gather", "table ids", "y");
    output(b, "y");
    m = load(b);
    int32_t ids[6] = {4, 0, 2, 1, 1, 3};
    int64_t ishape[2] = {2, 3};
    float out[12], wantE[12];
    for (int i = 0; i < 6; i++) wantE[2 * i] = table[2 * ids[i]], wantE[2 * i + 1] = table[2 * ids[i] + 1];
    clgrad_onnx_array in = {.dtype = CLGRAD_DTYPE_I32, .ndim = 2, .shape = {2, 3}, .data = ids, .nbytes = sizeof ids};
    clgrad_onnx_array o = {.data = out, .nbytes = sizeof out};
    (void)ishape;
    TH_OK(clgrad_onnx_run_host(m, 1, &in, 1, &o));
    ck_assert_int_eq(o.ndim, 3);
    ck_assert_int_eq(o.shape[2], 2);
    th_allclose("embedding gather", out, wantE, 12, 0, 0);
    clgrad_onnx_release(m);
}
END_TEST

/* Shape arithmetic on an open batch dimension runs on the host at every run; with all
 * dimensions fixed it folds away at load. y = Reshape(x, Concat(Shape(x)[0], -1)) + Expand. */
START_TEST(shape_arithmetic_folds_or_runs_on_host)
{
    for (int fixed = 0; fixed < 2; fixed++) {
        clgrad__oxb *b = model(13);
        int64_t s[3] = {fixed ? 2 : -1, 3, 2}, zero[1] = {0}, minus1[1] = {-1}, ax0[1] = {0};
        input(b, "x", OX_FLOAT, 3, s);
        init_i64(b, "zero", 1, zero);
        init_i64(b, "m1", 1, minus1);
        init_i64(b, "ax0", 1, ax0);
        node(b, "Shape", "x", "shape");
        TH_OK(clgrad__oxb_attr_int(b, node(b, "Gather", "shape zero", "n"), "axis", 0));
        TH_OK(clgrad__oxb_attr_int(b, node(b, "Concat", "n m1", "target"), "axis", 0));
        node(b, "Reshape", "x target", "flat");
        /* ConstantOfShape(Shape(flat)) * 2 + flat: a float host value of the batch's size */
        node(b, "Shape", "flat", "fs");
        TH_OK(clgrad__oxb_attr_scalar(b, node(b, "ConstantOfShape", "fs", "twos"), "value", OX_FLOAT, 2.0));
        node(b, "Mul", "flat twos", "y");
        output(b, "y");
        clgrad_onnx_model *m = load(b);
        clgrad_onnx_stats st;
        TH_OK(clgrad_onnx_get_stats(m, &st));
        if (fixed) {
            ck_assert_int_ge(st.nodes_folded, 5);
            ck_assert_int_eq(st.nodes_run, 2); /* Reshape and Mul */
            ck_assert_int_eq(st.nodes_on_host, 0);
        } else {
            ck_assert_int_ge(st.nodes_on_host, 3);
        }
        for (int64_t batch = 1; batch <= (fixed ? 2 : 3); batch++) {
            if (fixed && batch != 2) continue;
            int64_t xs[3] = {batch, 3, 2}, os[2] = {batch, 6};
            float *x = iota(batch * 6, 1), *want = malloc((size_t)batch * 6 * 4);
            for (int64_t i = 0; i < batch * 6; i++) want[i] = 2 * x[i];
            expect(m, 3, xs, x, 2, os, want, fixed ? "folded shape arithmetic" : "host shape arithmetic");
            free(x);
            free(want);
        }
        /* a batch that contradicts the fixed one */
        if (fixed) {
            int64_t xs[3] = {3, 3, 2};
            clgrad_tensor *in = th_rand(3, xs, 1, 0, 1), *out = NULL;
            ck_assert_int_eq(clgrad_onnx_run(m, 1, &in, 1, &out), CLGRAD_ERR_SHAPE);
            ck_assert_ptr_null(out);
            ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "input 'x' has shape [3, 3, 2]"));
            clgrad_tensor_release(in);
        }
        clgrad_onnx_release(m);
    }
}
END_TEST

/* --- arithmetic, activations, reductions --------------------------------------------------------- */

static float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }

/* A chain of elementwise operators with constants on either side and broadcasting. */
START_TEST(elementwise_chain)
{
    clgrad__oxb *b = model(13);
    int64_t s[2] = {2, 3}, cs[1] = {3};
    float c[3] = {0.5f, -1.0f, 2.0f}, two = 2.0f, lo = -0.5f, hi = 1.5f;
    input(b, "x", OX_FLOAT, 2, s);
    init_f(b, "c", 1, cs, c);
    TH_OK(clgrad__oxb_init_f32(b, "two", 0, NULL, &two));
    TH_OK(clgrad__oxb_init_f32(b, "lo", 0, NULL, &lo));
    TH_OK(clgrad__oxb_init_f32(b, "hi", 0, NULL, &hi));
    node(b, "Sub", "two x", "a");         /* 2 - x */
    node(b, "Mul", "a c", "b1");          /* * c (broadcast) */
    node(b, "Div", "b1 two", "b2");       /* / 2 */
    node(b, "Pow", "b2 two", "b3");       /* ^2 */
    node(b, "Max", "b3 x c", "b4");       /* variadic */
    node(b, "Clip", "b4 lo hi", "b5");
    TH_OK(clgrad__oxb_attr_float(b, node(b, "LeakyRelu", "x", "l"), "alpha", 0.2f));
    node(b, "Add", "b5 l", "b6");
    node(b, "Sigmoid", "b6", "b7");
    TH_OK(clgrad__oxb_attr_float(b, node(b, "HardSigmoid", "b7", "b8"), "alpha", 0.5f));
    node(b, "Neg", "b8", "b9");
    node(b, "Exp", "b9", "b10");
    node(b, "Reciprocal", "b10", "y");
    output(b, "y");
    clgrad_onnx_model *m = load(b);
    float x[6] = {-1.5f, -0.25f, 0, 0.75f, 1.25f, 3}, want[6];
    for (int i = 0; i < 6; i++) {
        float ci = c[i % 3], v = (2 - x[i]) * ci / 2;
        v = v * v;
        v = fmaxf(fmaxf(v, x[i]), ci);
        v = fminf(fmaxf(v, lo), hi);
        v += x[i] > 0 ? x[i] : 0.2f * x[i];
        v = sigm(v);
        v = fmaxf(0, fminf(1, 0.5f * v + 0.5f));
        want[i] = 1.0f / expf(-v);
    }
    expect(m, 2, s, x, 2, s, want, "elementwise chain");
    clgrad_onnx_release(m);
}
END_TEST

/* Softmax before opset 13 flattens at the axis; from 13 it is one axis. */
START_TEST(softmax_by_opset)
{
    int64_t s[3] = {2, 2, 3};
    float x[12], w11[12], w13[12];
    for (int i = 0; i < 12; i++) x[i] = (float)((i * 7) % 5) - 2.0f;
    /* opset 11, axis 1: each row of (2, 6) */
    for (int r = 0; r < 2; r++) {
        double sum = 0;
        for (int k = 0; k < 6; k++) sum += exp(x[r * 6 + k]);
        for (int k = 0; k < 6; k++) w11[r * 6 + k] = (float)(exp(x[r * 6 + k]) / sum);
    }
    /* opset 13, axis 1: over the middle axis */
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 3; k++) {
            double sum = exp(x[i * 6 + k]) + exp(x[i * 6 + 3 + k]);
            for (int j = 0; j < 2; j++) w13[i * 6 + j * 3 + k] = (float)(exp(x[i * 6 + j * 3 + k]) / sum);
        }
    for (int v = 0; v < 2; v++) {
        clgrad__oxb *b = model(v ? 13 : 11);
        input(b, "x", OX_FLOAT, 3, s);
        TH_OK(clgrad__oxb_attr_int(b, node(b, "Softmax", "x", "y"), "axis", 1));
        output(b, "y");
        clgrad_onnx_model *m = load(b);
        expect(m, 3, s, x, 3, s, v ? w13 : w11, v ? "softmax opset 13" : "softmax opset 11");
        clgrad_onnx_release(m);
    }
}
END_TEST

START_TEST(reductions_and_argmax)
{
    clgrad__oxb *b = model(13);
    int64_t s[3] = {2, 3, 4}, axes[1] = {1};
    input(b, "x", OX_FLOAT, 3, s);
    init_i64(b, "axes", 1, axes);
    node(b, "ReduceSum", "x axes", "sum");                                  /* (2, 1, 4) */
    Onnx__NodeProto *mx = node(b, "ReduceMax", "x", "mx");
    TH_OK(clgrad__oxb_attr_ints(b, mx, "axes", 1, axes));
    TH_OK(clgrad__oxb_attr_int(b, mx, "keepdims", 0));                     /* (2, 4) */
    node(b, "Add", "sum mx", "t");                                          /* (2, 2, 4) */
    TH_OK(clgrad__oxb_attr_int(b, node(b, "ArgMax", "t", "y"), "axis", 2)); /* (2, 2, 1) */
    output(b, "y");
    clgrad_onnx_model *m = load(b);
    float x[24], want[4];
    for (int i = 0; i < 24; i++) x[i] = (float)((i * 5) % 11) - 5.0f;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            int best = 0;
            float bv = -INFINITY;
            for (int k = 0; k < 4; k++) {
                float sum = 0, mxv = -INFINITY;
                for (int q = 0; q < 3; q++) sum += x[(i * 3 + q) * 4 + k], mxv = fmaxf(mxv, x[(j * 3 + q) * 4 + k]);
                if (sum + mxv > bv) bv = sum + mxv, best = k;
            }
            want[i * 2 + j] = (float)best;
        }
    int64_t os[3] = {2, 2, 1};
    expect(m, 3, s, x, 3, os, want, "reductions");
    clgrad_onnx_io io;
    TH_OK(clgrad_onnx_output(m, 0, &io));
    clgrad_onnx_release(m);
}
END_TEST

/* Gemm with transposes, alpha and beta; MatMul with a 1-D operand and batch broadcasting;
 * Where with a comparison; Conv1d; ConvTranspose; AveragePool; GlobalMaxPool. */
START_TEST(products_and_windows)
{
    clgrad__oxb *b = model(14);
    int64_t s[2] = {3, 2}, bs[2] = {4, 3}, cs[1] = {4}, v1[1] = {4};
    float B[12], C[4] = {1, -1, 0.5f, 2}, V[4] = {1, 2, -1, 0.5f};
    for (int i = 0; i < 12; i++) B[i] = (float)i / 6.0f - 1.0f;
    input(b, "x", OX_FLOAT, 2, s);
    init_f(b, "B", 2, bs, B);
    init_f(b, "C", 1, cs, C);
    init_f(b, "V", 1, v1, V);
    Onnx__NodeProto *g = node(b, "Gemm", "x B C", "g"); /* x^T (2, 3) B^T (3, 4) -> (2, 4) */
    TH_OK(clgrad__oxb_attr_int(b, g, "transA", 1));
    TH_OK(clgrad__oxb_attr_int(b, g, "transB", 1));
    TH_OK(clgrad__oxb_attr_float(b, g, "alpha", 0.5f));
    TH_OK(clgrad__oxb_attr_float(b, g, "beta", 2.0f));
    node(b, "Less", "g C", "mask");                     /* (2, 4) */
    node(b, "Where", "mask g C", "w");
    node(b, "MatMul", "w V", "y");                      /* a 1-D right operand: (2) */
    output(b, "y");
    clgrad_onnx_model *m = load(b);
    float x[6] = {1, -2, 0.5f, 3, -1, 0.25f}, want[2] = {0, 0};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            float acc = 0;
            for (int k = 0; k < 3; k++) acc += x[k * 2 + i] * B[j * 3 + k];
            float gv = 0.5f * acc + 2.0f * C[j];
            want[i] += (gv < C[j] ? gv : C[j]) * V[j];
        }
    int64_t os[1] = {2};
    expect(m, 2, s, x, 1, os, want, "gemm-where-matmul");
    clgrad_onnx_release(m);

    /* Conv1d (N, C, L), stride 2, pads 1 -> AveragePool 2 -> GlobalMaxPool */
    b = model(14);
    int64_t xs[3] = {1, 2, 7}, ws[3] = {3, 2, 3}, ks[1] = {3}, st2[1] = {2}, pads[2] = {1, 1}, k2[1] = {2};
    float W[18];
    for (int i = 0; i < 18; i++) W[i] = (float)((i * 3) % 7) / 7.0f - 0.4f;
    input(b, "x", OX_FLOAT, 3, xs);
    init_f(b, "W", 3, ws, W);
    Onnx__NodeProto *cv = node(b, "Conv", "x W", "c");
    TH_OK(clgrad__oxb_attr_ints(b, cv, "kernel_shape", 1, ks));
    TH_OK(clgrad__oxb_attr_ints(b, cv, "strides", 1, st2));
    TH_OK(clgrad__oxb_attr_ints(b, cv, "pads", 2, pads));
    Onnx__NodeProto *ap = node(b, "AveragePool", "c", "p");
    TH_OK(clgrad__oxb_attr_ints(b, ap, "kernel_shape", 1, k2));
    TH_OK(clgrad__oxb_attr_ints(b, ap, "strides", 1, k2));
    node(b, "GlobalMaxPool", "p", "y");
    output(b, "y");
    m = load(b);
    float x1[14], cw[3][4], wy[3];
    for (int i = 0; i < 14; i++) x1[i] = (float)((i * 5) % 9) - 4.0f;
    for (int o = 0; o < 3; o++) {
        for (int t = 0; t < 4; t++) {
            float acc = 0;
            for (int ci = 0; ci < 2; ci++)
                for (int k = 0; k < 3; k++) {
                    int at = t * 2 - 1 + k;
                    if (at >= 0 && at < 7) acc += x1[ci * 7 + at] * W[(o * 2 + ci) * 3 + k];
                }
            cw[o][t] = acc;
        }
        wy[o] = fmaxf((cw[o][0] + cw[o][1]) / 2, (cw[o][2] + cw[o][3]) / 2);
    }
    int64_t oy[3] = {1, 3, 1};
    expect(m, 3, xs, x1, 3, oy, wy, "conv1d-avgpool-globalmax");
    clgrad_onnx_release(m);
}
END_TEST

/* Dropout (inference: identity, mask all ones), Identity, Cast to BOOL, Not, a constant
 * graph output, Range and ConstantOfShape folded at load. */
START_TEST(small_operators)
{
    clgrad__oxb *b = model(13);
    int64_t s[1] = {4};
    float start = 1, limit = 9, delta = 2;
    input(b, "x", OX_FLOAT, 1, s);
    TH_OK(clgrad__oxb_init_f32(b, "start", 0, NULL, &start));
    TH_OK(clgrad__oxb_init_f32(b, "limit", 0, NULL, &limit));
    TH_OK(clgrad__oxb_init_f32(b, "delta", 0, NULL, &delta));
    node(b, "Range", "start limit delta", "r"); /* 1 3 5 7: folded */
    node(b, "Dropout", "x", "d mask");
    node(b, "Identity", "d", "i");
    TH_OK(clgrad__oxb_attr_int(b, node(b, "Cast", "i", "nz"), "to", OX_BOOL));
    node(b, "Not", "nz", "z");                  /* 1 where x == 0 */
    TH_OK(clgrad__oxb_attr_int(b, node(b, "Cast", "mask", "mf"), "to", OX_FLOAT));
    TH_OK(clgrad__oxb_attr_int(b, node(b, "Cast", "z", "zf"), "to", OX_FLOAT));
    node(b, "Mul", "r zf", "rz");
    node(b, "Add", "rz mf", "y");
    output(b, "y");
    clgrad_onnx_model *m = load(b);
    clgrad_onnx_stats st;
    TH_OK(clgrad_onnx_get_stats(m, &st));
    ck_assert_int_ge(st.nodes_folded, 1);
    float x[4] = {0, 2, 0, -1}, want[4] = {1 + 1, 0 + 1, 5 + 1, 0 + 1};
    expect(m, 1, s, x, 1, s, want, "small operators");
    clgrad_onnx_release(m);
}
END_TEST

/* Profiling: per-node totals for the nodes that run, in order, after enabling. */
START_TEST(profile_counts_every_node)
{
    clgrad__oxb *b = model(13);
    int64_t s[2] = {3, 4};
    input(b, "x", OX_FLOAT, 2, s);
    node(b, "Relu", "x", "a");
    node(b, "Sigmoid", "a", "y");
    output(b, "y");
    clgrad_onnx_model *m = load(b);
    ck_assert_int_eq(clgrad_onnx_profile(m, NULL, 0), 2);
    clgrad_onnx_profile_enable(m, 1);
    clgrad_tensor *x = th_rand(2, s, 1, -1, 1), *y = NULL;
    for (int r = 0; r < 3; r++) {
        TH_OK(clgrad_onnx_run(m, 1, &x, 1, &y));
        clgrad_tensor_release(y);
    }
    clgrad_onnx_node_time t[4];
    ck_assert_int_eq(clgrad_onnx_profile(m, t, 4), 2);
    ck_assert_str_eq(t[0].op, "Relu");
    ck_assert_str_eq(t[1].op, "Sigmoid");
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(t[i].runs, 3);
        ck_assert(t[i].seconds > 0);
    }
    clgrad_onnx_profile_enable(m, 0);
    TH_OK(clgrad_onnx_run(m, 1, &x, 1, &y)); /* not counted any more */
    clgrad_tensor_release(y);
    clgrad_onnx_profile(m, t, 4);
    ck_assert_int_eq(t[0].runs, 3);
    clgrad_tensor_release(x);
    clgrad_onnx_release(m);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------------------- */

START_TEST(malformed_files_are_errors)
{
    clgrad_onnx_model *m = (clgrad_onnx_model *)1;
    ck_assert_int_eq(clgrad_onnx_load_memory(th_ctx, "", 0, NULL, &m), CLGRAD_ERR_IO);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(clgrad_onnx_load_memory(th_ctx, "\x08\x07\x12\xff garbage", 12, NULL, &m), CLGRAD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "not an ONNX model"));
    ck_assert_int_eq(clgrad_onnx_load(th_ctx, "/nonexistent/model.onnx", NULL, &m), CLGRAD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "/nonexistent/model.onnx"));
    ck_assert_int_eq(clgrad_onnx_load(NULL, "x", NULL, &m), CLGRAD_ERR_INVALID_ARG);

    /* deeply nested messages: attribute graphs inside attribute graphs */
    size_t depth = 4000, n = 0;
    uint8_t *deep = malloc(depth * 12 + 16);
    /* from the inside out: GraphProto { node { attribute { g: GraphProto { ... } } } } */
    uint8_t *end = deep + depth * 12 + 16, *p = end;
    size_t len = 0;
    for (size_t i = 0; i < depth; i++) {
        /* AttributeProto.g = field 6, NodeProto.attribute = 5, GraphProto.node = 1 */
        const int fields[3] = {6, 5, 1};
        for (int f = 0; f < 3; f++) {
            uint8_t hdr[12];
            size_t h = 0, v = len;
            hdr[h++] = (uint8_t)(fields[f] << 3 | 2);
            do {
                hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
                v >>= 7;
            } while (v);
            if ((size_t)(p - deep) < h) break;
            p -= h;
            memcpy(p, hdr, h);
            len += h;
        }
    }
    n = len;
    /* ModelProto.graph = field 7 around it */
    uint8_t *model_bytes = malloc(n + 16);
    size_t h = 0, v = n;
    model_bytes[h++] = 7 << 3 | 2;
    do {
        model_bytes[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    memcpy(model_bytes + h, p, n);
    ck_assert_int_eq(clgrad_onnx_load_memory(th_ctx, model_bytes, h + n, NULL, &m), CLGRAD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "nested"));
    free(model_bytes);
    free(deep);

    /* an initializer whose data does not fill its shape */
    clgrad__oxb *b = model(13);
    int64_t s[2] = {2, 3};
    float w[6] = {0};
    input(b, "x", OX_FLOAT, 2, s);
    init_f(b, "w", 2, s, w);
    node(b, "Add", "x w", "y");
    output(b, "y");
    Onnx__ModelProto *mp = clgrad__oxb_model(b);
    mp->graph->initializer[0]->raw_data.len = 20;
    load_fails(b, CLGRAD_ERR_IO, "initializer 'w'|6 elements|raw_data");

    /* a node reading a value produced later (not in topological order), then an output
     * nothing produces, then a value produced twice */
    b = model(13);
    input(b, "x", OX_FLOAT, 2, s);
    node(b, "Relu", "t", "y");
    node(b, "Relu", "x", "t");
    output(b, "y");
    load_fails(b, CLGRAD_ERR_IO, "node 'Relu_node' (Relu)|input 't'|topological");
    b = model(13);
    input(b, "x", OX_FLOAT, 2, s);
    node(b, "Relu", "x", "y");
    output(b, "z");
    load_fails(b, CLGRAD_ERR_IO, "graph output 'z'");
    b = model(13);
    input(b, "x", OX_FLOAT, 2, s);
    node(b, "Relu", "x", "y");
    node(b, "Sigmoid", "x", "y");
    output(b, "y");
    load_fails(b, CLGRAD_ERR_IO, "(Sigmoid)|output 'y' is already defined");
    /* wrong input counts, bad attributes, shapes that cannot fit */
    b = model(13);
    input(b, "x", OX_FLOAT, 2, s);
    node(b, "Add", "x", "y");
    output(b, "y");
    load_fails(b, CLGRAD_ERR_IO, "(Add)|1 inputs");
    b = model(13);
    input(b, "x", OX_FLOAT, 2, s);
    int64_t perm[2] = {0, 0};
    TH_OK(clgrad__oxb_attr_ints(b, node(b, "Transpose", "x", "y"), "perm", 2, perm));
    output(b, "y");
    load_fails(b, CLGRAD_ERR_SHAPE, "(Transpose)|not a permutation");
    b = model(13);
    input(b, "x", OX_FLOAT, 2, s);
    int64_t bad[2] = {4, -1};
    init_i64(b, "shape", 2, bad);
    node(b, "Reshape", "x shape", "y");
    output(b, "y");
    load_fails(b, CLGRAD_ERR_SHAPE, "(Reshape)|-1");
}
END_TEST

START_TEST(unsupported_things_are_named)
{
    int64_t s[4] = {1, 2, 4, 4};
    clgrad__oxb *b = model(13);
    input(b, "x", OX_FLOAT, 4, s);
    node(b, "Resize", "x", "y");
    output(b, "y");
    load_fails(b, CLGRAD_ERR_UNSUPPORTED, "node 'Resize_node' (Resize)|operator Resize is not supported");

    b = model(10);
    input(b, "x", OX_FLOAT, 4, s);
    node(b, "Relu", "x", "y");
    output(b, "y");
    load_fails(b, CLGRAD_ERR_UNSUPPORTED, "opset 10|11 to 17");
    b = model(18);
    input(b, "x", OX_FLOAT, 4, s);
    node(b, "Relu", "x", "y");
    output(b, "y");
    load_fails(b, CLGRAD_ERR_UNSUPPORTED, "opset 18");

    b = model(13);
    input(b, "x", OX_DOUBLE, 4, s);
    node(b, "Relu", "x", "y");
    output(b, "y");
    load_fails(b, CLGRAD_ERR_UNSUPPORTED, "graph input 'x'|DOUBLE");

    b = model(13);
    input(b, "x", OX_FLOAT, 4, s);
    Onnx__NodeProto *n = node(b, "Relu", "x", "y");
    n->domain = "com.microsoft";
    output(b, "y");
    load_fails(b, CLGRAD_ERR_UNSUPPORTED, "(Relu)|domain 'com.microsoft'");

    b = model(13); /* asymmetric padding */
    int64_t ws[4] = {3, 2, 3, 3}, pads[4] = {1, 1, 0, 0};
    float w[54] = {0};
    input(b, "x", OX_FLOAT, 4, s);
    init_f(b, "w", 4, ws, w);
    TH_OK(clgrad__oxb_attr_ints(b, node(b, "Conv", "x w", "y"), "pads", 4, pads));
    output(b, "y");
    load_fails(b, CLGRAD_ERR_UNSUPPORTED, "node 'Conv_node' (Conv)|asymmetric padding");

    b = model(13); /* a bidirectional LSTM */
    int64_t rs[3] = {5, 1, 3}, wsh[3] = {2, 8, 3}, rsh[3] = {2, 8, 2};
    float wl[48] = {0}, rl[32] = {0};
    input(b, "x", OX_FLOAT, 3, rs);
    init_f(b, "W", 3, wsh, wl);
    init_f(b, "R", 3, rsh, rl);
    Onnx__NodeProto *l = node(b, "LSTM", "x W R", "y");
    TH_OK(clgrad__oxb_attr_string(b, l, "direction", "bidirectional"));
    TH_OK(clgrad__oxb_attr_int(b, l, "hidden_size", 2));
    output(b, "y");
    load_fails(b, CLGRAD_ERR_UNSUPPORTED, "(LSTM)|direction 'bidirectional'");

    b = model(13); /* GRU with linear_before_reset=0 */
    int64_t gw[3] = {1, 6, 3}, gr[3] = {1, 6, 2};
    input(b, "x", OX_FLOAT, 3, rs);
    init_f(b, "W", 3, gw, wl);
    init_f(b, "R", 3, gr, rl);
    TH_OK(clgrad__oxb_attr_int(b, node(b, "GRU", "x W R", "y"), "hidden_size", 2));
    output(b, "y");
    load_fails(b, CLGRAD_ERR_UNSUPPORTED, "(GRU)|linear_before_reset=0");

    b = model(13); /* training-mode batch norm */
    int64_t cs[1] = {2};
    float ones[2] = {1, 1};
    input(b, "x", OX_FLOAT, 4, s);
    init_f(b, "g", 1, cs, ones);
    TH_OK(clgrad__oxb_attr_int(b, node(b, "BatchNormalization", "x g g g g", "y"), "training_mode", 1));
    output(b, "y");
    load_fails(b, CLGRAD_ERR_UNSUPPORTED, "(BatchNormalization)|training_mode");

    b = model(13); /* an external-data initializer */
    input(b, "x", OX_FLOAT, 1, cs);
    init_f(b, "g", 1, cs, ones);
    clgrad__oxb_model(b)->graph->initializer[0]->has_data_location = 1;
    clgrad__oxb_model(b)->graph->initializer[0]->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    node(b, "Add", "x g", "y");
    output(b, "y");
    load_fails(b, CLGRAD_ERR_UNSUPPORTED, "initializer 'g'|external");

    b = model(13); /* ceil_mode adding a partial window: refused at run time with the node */
    int64_t k2[2] = {2, 2}, odd[4] = {1, 1, 5, 5};
    input(b, "x", OX_FLOAT, 4, odd);
    Onnx__NodeProto *mp = node(b, "MaxPool", "x", "y");
    TH_OK(clgrad__oxb_attr_ints(b, mp, "kernel_shape", 2, k2));
    TH_OK(clgrad__oxb_attr_ints(b, mp, "strides", 2, k2));
    TH_OK(clgrad__oxb_attr_int(b, mp, "ceil_mode", 1));
    output(b, "y");
    clgrad_onnx_model *m = load(b);
    clgrad_tensor *x = th_rand(4, odd, 1, 0, 1), *y = NULL;
    ck_assert_int_eq(clgrad_onnx_run(m, 1, &x, 1, &y), CLGRAD_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(clgrad_last_error(th_ctx), "node 'MaxPool_node' (MaxPool)") &&
                      strstr(clgrad_last_error(th_ctx), "ceil_mode"), "%s", clgrad_last_error(th_ctx));
    clgrad_tensor_release(x);
    /* and bad run arguments */
    ck_assert_int_eq(clgrad_onnx_run(m, 2, &x, 1, &y), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor *i32 = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, 4, odd, &i32));
    ck_assert_int_eq(clgrad_onnx_run(m, 1, &i32, 1, &y), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(i32);
    clgrad_onnx_release(m);
}
END_TEST

static Suite *suite_onnx_load(void)
{
    Suite *s = suite_create("onnx_load");
    TCase *tc = tcase_create("operators");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, transpose_slice_reshape);
    tcase_add_test(tc, squeeze_unsqueeze_by_opset);
    tcase_add_test(tc, concat_and_split);
    tcase_add_test(tc, gather_forms);
    tcase_add_test(tc, shape_arithmetic_folds_or_runs_on_host);
    tcase_add_test(tc, elementwise_chain);
    tcase_add_test(tc, softmax_by_opset);
    tcase_add_test(tc, reductions_and_argmax);
    tcase_add_test(tc, products_and_windows);
    tcase_add_test(tc, small_operators);
    tcase_add_test(tc, profile_counts_every_node);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, malformed_files_are_errors);
    tcase_add_test(tc, unsupported_things_are_named);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_onnx_load(), 1); }
