/* ONNX models exported by PyTorch against PyTorch's own outputs: the folder named by
 * $CLGRAD_ONNX_MODELS (made by tests/onnx/torch_models.py through run_torch_models.py)
 * holds each model, two inputs of different batch sizes and PyTorch's outputs. For every
 * model: one load, runs at both batch sizes on device tensors and on host arrays, a repeat
 * that must give the same bits without building a program or creating a buffer, and loads
 * without fusion and without folding that must agree. Outputs must equal PyTorch's within
 * 1e-4 relative: |got - want| <= 1e-4 * max(|want|, 1e-2 * max |want|) (the floor keeps
 * elements near zero, where relative error means nothing, to the output's scale). */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REL 1e-4

static const char *dir(void)
{
    const char *d = getenv("CLGRAD_ONNX_MODELS");
    return d && *d ? d : NULL;
}

static char *path(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir(), name);
    return buf[k];
}

static clgrad_npy *npy(const char *name)
{
    clgrad_npy *a = NULL;
    clgrad_status s = clgrad_npy_load(path(name), &a);
    ck_assert_msg(s == CLGRAD_OK, "%s: %s", name, clgrad_last_error(NULL));
    return a;
}

/* Compares a device tensor with a reference array; returns the worst relative error. */
static double compare(const char *what, const float *got, const clgrad_npy *want)
{
    const float *w = want->data;
    double scale = 0, worst = 0;
    for (int64_t i = 0; i < want->count; i++) scale = fmax(scale, fabs(w[i]));
    for (int64_t i = 0; i < want->count; i++) {
        double e = fabs((double)got[i] - w[i]) / fmax(fabs(w[i]), 1e-2 * scale);
        if (!(e <= REL))
            ck_abort_msg("%s: element %lld is %.9g, PyTorch gives %.9g (relative error %.3g > %g)", what,
                         (long long)i, (double)got[i], (double)w[i], e, REL);
        worst = fmax(worst, e);
    }
    return worst;
}

static float *read_out(clgrad_tensor *t, const clgrad_npy *want, const char *what)
{
    ck_assert_msg(clgrad_tensor_ndim(t) == want->ndim, "%s: rank %d, PyTorch %d", what, clgrad_tensor_ndim(t),
                  want->ndim);
    for (int d = 0; d < want->ndim; d++)
        ck_assert_msg(clgrad_tensor_dim(t, d) == want->shape[d], "%s: dim %d is %lld, PyTorch %lld", what, d,
                      (long long)clgrad_tensor_dim(t, d), (long long)want->shape[d]);
    float *h = th_read(t);
    ck_assert_ptr_nonnull(h);
    return h;
}

/* One run on device tensors; returns the output on the host (malloc'd). */
static float *run(clgrad_onnx_model *m, const clgrad_npy *x, const clgrad_npy *y, const char *what)
{
    clgrad_tensor *in = NULL, *out = NULL;
    TH_OK(clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, x->data, &in));
    TH_OK(clgrad_onnx_run(m, 1, &in, 1, &out));
    float *h = read_out(out, y, what);
    clgrad_tensor_release(in);
    clgrad_tensor_release(out);
    return h;
}

static void check_model(const char *name, const char *file, const char *x0n, const char *y0n, const char *x1n,
                        const char *y1n)
{
    clgrad_npy *x[2] = {npy(x0n), npy(x1n)}, *y[2] = {npy(y0n), npy(y1n)};
    clgrad_onnx_model *m = NULL;
    clgrad_status s = clgrad_onnx_load(th_ctx, path(file), NULL, &m);
    ck_assert_msg(s == CLGRAD_OK, "%s: %s", name, clgrad_last_error(th_ctx));
    ck_assert_int_eq(clgrad_onnx_input_count(m), 1);
    ck_assert_int_eq(clgrad_onnx_output_count(m), 1);
    clgrad_onnx_io io;
    TH_OK(clgrad_onnx_input(m, 0, &io));
    ck_assert_int_eq(io.shape[0], -1); /* exported with a dynamic batch */
    ck_assert_str_eq(io.dim_names[0], "batch");

    char what[400];
    double worst = 0;
    float *first = NULL;
    for (int k = 0; k < 2; k++) {
        snprintf(what, sizeof what, "%s, batch %lld", name, (long long)x[k]->shape[0]);
        float *got = run(m, x[k], y[k], what);
        worst = fmax(worst, compare(what, got, y[k]));
        if (k == 0) first = got;
        else free(got);
    }
    /* again at batch 0's size: the same bits, and nothing built or allocated any more */
    clgrad_context_stats a, b;
    float *again = run(m, x[0], y[0], name);
    TH_OK(clgrad_context_get_stats(th_ctx, &a));
    free(again);
    again = run(m, x[0], y[0], name);
    TH_OK(clgrad_context_get_stats(th_ctx, &b));
    ck_assert_msg(memcmp(again, first, (size_t)y[0]->count * 4) == 0, "%s: a second run differs", name);
    ck_assert_int_eq(b.programs_built + b.programs_from_cache, a.programs_built + a.programs_from_cache);
    ck_assert_msg(b.buffers_created == a.buffers_created, "%s: a repeated run created %llu buffers", name,
                  (unsigned long long)(b.buffers_created - a.buffers_created));
    free(again);

    /* the host-array API at the second batch size */
    size_t nb = (size_t)y[1]->count * 4;
    float *host = malloc(nb);
    clgrad_onnx_array in = {.dtype = CLGRAD_DTYPE_F32, .ndim = x[1]->ndim, .data = x[1]->data,
                            .nbytes = (size_t)x[1]->count * 4};
    memcpy(in.shape, x[1]->shape, sizeof in.shape);
    clgrad_onnx_array out = {.data = host, .nbytes = nb - 4};
    ck_assert_int_eq(clgrad_onnx_run_host(m, 1, &in, 1, &out), CLGRAD_ERR_SHAPE); /* one float short */
    ck_assert_int_eq(out.ndim, y[1]->ndim);
    ck_assert_int_eq(out.shape[0], y[1]->shape[0]);
    out.nbytes = nb;
    TH_OK(clgrad_onnx_run_host(m, 1, &in, 1, &out));
    snprintf(what, sizeof what, "%s, host arrays", name);
    compare(what, host, y[1]);
    free(host);
    clgrad_onnx_release(m);

    /* without fusion, and without folding either: the same results */
    for (int f = 0; f < 2; f++) {
        clgrad_onnx_options o = {f ? CLGRAD_ONNX_NO_FUSION | CLGRAD_ONNX_NO_FOLDING : CLGRAD_ONNX_NO_FUSION};
        s = clgrad_onnx_load(th_ctx, path(file), &o, &m);
        ck_assert_msg(s == CLGRAD_OK, "%s: %s", name, clgrad_last_error(th_ctx));
        snprintf(what, sizeof what, "%s, %s", name, f ? "no fusion, no folding" : "no fusion");
        float *got = run(m, x[0], y[0], what);
        compare(what, got, y[0]);
        free(got);
        clgrad_onnx_release(m);
    }
    printf("%-16s ok: worst relative error %.2e (batches %lld and %lld)\n", name, worst, (long long)x[0]->shape[0],
           (long long)x[1]->shape[0]);
    free(first);
    for (int k = 0; k < 2; k++) {
        clgrad_npy_release(x[k]);
        clgrad_npy_release(y[k]);
    }
}

START_TEST(pytorch_models_match_pytorch)
{
    FILE *f = fopen(path("manifest.txt"), "r");
    ck_assert_msg(f != NULL, "no manifest in %s", dir());
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char name[256], file[256], x0[256], y0[256], x1[256], y1[256];
        if (sscanf(line, "%255s %255s %255s %255s %255s %255s", name, file, x0, y0, x1, y1) != 6) continue;
        check_model(name, file, x0, y0, x1, y1);
        n++;
    }
    fclose(f);
    ck_assert_int_gt(n, 0);
}
END_TEST

/* What load made of the graphs: BatchNormalization folded into every convolution of the
 * ResNet kept with its BN nodes, GELU and LayerNorm written out by opsets below 17 fused,
 * the RNNs' zero initial states dropped. */
START_TEST(fusions_apply_to_pytorch_exports)
{
    static const struct {
        const char *file;
        int conv_bn, gelu, ln, max_nodes;
    } WANT[] = {{"resnet18_bn.onnx", 20, 0, 0, 49}, {"block.onnx", 0, 1, 1, 0}, {"block_opset11.onnx", 0, 1, 1, 0},
                {"block_opset17.onnx", 0, 1, 0, 0}, {"lstm.onnx", 0, 0, 0, 6}, {"gru.onnx", 0, 0, 0, 6}};
    for (size_t i = 0; i < sizeof WANT / sizeof WANT[0]; i++) {
        clgrad_onnx_model *m = NULL;
        FILE *probe = fopen(path(WANT[i].file), "rb");
        if (!probe) continue; /* a run with --only */
        fclose(probe);
        TH_OK(clgrad_onnx_load(th_ctx, path(WANT[i].file), NULL, &m));
        clgrad_onnx_stats st;
        TH_OK(clgrad_onnx_get_stats(m, &st));
        ck_assert_int_eq(st.conv_bn_fused, WANT[i].conv_bn);
        ck_assert_int_eq(st.gelu_fused, WANT[i].gelu);
        ck_assert_int_eq(st.layer_norm_fused, WANT[i].ln);
        if (WANT[i].max_nodes) ck_assert_int_le(st.nodes_run, WANT[i].max_nodes);
        ck_assert_str_eq(st.producer, "pytorch 1.13.0");
        clgrad_onnx_release(m);
    }
}
END_TEST

static Suite *suite_onnx_models(void)
{
    Suite *s = suite_create("onnx_models");
    TCase *tc = tcase_create("pytorch");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 1800);
    tcase_add_test(tc, pytorch_models_match_pytorch);
    tcase_add_test(tc, fusions_apply_to_pytorch_exports);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!dir()) {
        fprintf(stderr, "CLGRAD_ONNX_MODELS is not set (run through tests/onnx/run_torch_models.py)\n");
        return 77;
    }
    return th_run(suite_onnx_models(), 1);
}
