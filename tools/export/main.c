/* clgrad-export: writes the network of a clgrad-train checkpoint as an ONNX model, for other
 * runtimes (or clgrad-run). The checkpoint's metadata names the network (train.model: mlp,
 * cnn or lstm, the networks clgrad-train builds, README "Training"); its tensors give the
 * sizes (hidden widths, channels, classes). The network is rebuilt from the public nn API
 * with those sizes, the checkpoint loaded into it (which checks every name and shape, so a
 * checkpoint of another network is an error, never a wrong export) and exported with
 * clgrad_onnx_export. Public API only. */
#include "clgrad.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clgrad-export CHECKPOINT.safetensors [options]\n"
            "Writes the network of a clgrad-train checkpoint as an ONNX model (opset 17).\n"
            "\n"
            "  -o, --out FILE.onnx   output file (default: the checkpoint's name with .onnx)\n"
            "  --model NAME          mlp | cnn | lstm (default: the checkpoint's train.model)\n"
            "  --batch N             a fixed batch size (default: open, any size at run time)\n"
            "  --device SEL          device to read the weights through (default: $CLGRAD_DEVICE,\n"
            "                        else the best device)\n"
            "  --help                this text\n"
            "Exit status: 0 done, 1 failure, 2 bad usage.\n");
}

static const clgrad_checkpoint_tensor *find(const clgrad_checkpoint_tensor *l, int n, const char *name, int ndim)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(l[i].name, name) && l[i].ndim == ndim) return &l[i];
    return NULL;
}

/* Appends *m (just made, with status s) to seq. Takes the module pointer's address, as
 * the constructor call and the read of m must not share an expression. */
static clgrad_status add(clgrad_module *seq, clgrad_status s, clgrad_module **m)
{
    clgrad_module *c = *m;
    *m = NULL;
    return s == CLGRAD_OK ? clgrad_sequential_add(seq, c) : s;
}

static clgrad_status relu(clgrad_context *ctx, clgrad_module *seq)
{
    clgrad_module *m = NULL;
    clgrad_status s = clgrad_activation_create(ctx, CLGRAD_ACT_RELU, 0, 0, &m);
    return add(seq, s, &m);
}

static clgrad_status linear(clgrad_context *ctx, clgrad_module *seq, const clgrad_checkpoint_tensor *w)
{
    clgrad_module *m = NULL;
    clgrad_status s = clgrad_linear_create(ctx, w->shape[1], w->shape[0], 1, 0, &m);
    return add(seq, s, &m);
}

/* The network called model with the sizes the checkpoint's tensors give; *in_nd / in_shape:
 * the input (batch dim left to the caller). */
static int build(clgrad_context *ctx, const char *model, const clgrad_checkpoint_tensor *l, int n,
                 clgrad_module **out, int *in_nd, int64_t *in_shape)
{
    clgrad_module *seq = NULL, *m = NULL;
    clgrad_status s = clgrad_sequential_create(ctx, &seq);
    if (!strcmp(model, "mlp")) {
        /* linear-ReLU-linear-ReLU-linear */
        const clgrad_checkpoint_tensor *w0 = find(l, n, "0.weight", 2), *w2 = find(l, n, "2.weight", 2),
                                       *w4 = find(l, n, "4.weight", 2);
        if (!w0 || !w2 || !w4) goto mismatch;
        s = linear(ctx, seq, w0);
        if (s == CLGRAD_OK) s = relu(ctx, seq);
        if (s == CLGRAD_OK) s = linear(ctx, seq, w2);
        if (s == CLGRAD_OK) s = relu(ctx, seq);
        if (s == CLGRAD_OK) s = linear(ctx, seq, w4);
        *in_nd = 2;
        in_shape[1] = w0->shape[1];
    } else if (!strcmp(model, "cnn")) {
        /* conv-ReLU-maxpool2-conv-ReLU-maxpool2-flatten-linear-ReLU-linear, square images */
        const clgrad_checkpoint_tensor *c0 = find(l, n, "0.weight", 4), *c3 = find(l, n, "3.weight", 4),
                                       *f7 = find(l, n, "7.weight", 2), *f9 = find(l, n, "9.weight", 2);
        if (!c0 || !c3 || !f7 || !f9 || c0->shape[2] != c0->shape[3]) goto mismatch;
        int k = (int)c0->shape[2];
        double side = 4.0 * sqrt((double)f7->shape[1] / (double)c3->shape[0]);
        if (side != floor(side)) goto mismatch;
        clgrad_conv2d_params p = {.stride = {1, 1}, .padding = {k / 2, k / 2}, .dilation = {1, 1}, .groups = 1};
        clgrad_pool2d_params q = {.kernel = {2, 2}, .stride = {2, 2}};
        for (int c = 0; c < 2 && s == CLGRAD_OK; c++) {
            const clgrad_checkpoint_tensor *w = c ? c3 : c0;
            s = clgrad_conv2d_create(ctx, w->shape[1], w->shape[0], k, k, &p, 1, 0, &m);
            s = add(seq, s, &m);
            if (s == CLGRAD_OK) s = relu(ctx, seq);
            if (s == CLGRAD_OK) s = clgrad_max_pool2d_create(ctx, &q, &m);
            if (s == CLGRAD_OK) s = add(seq, s, &m);
        }
        if (s == CLGRAD_OK) s = clgrad_flatten_create(ctx, 1, -1, &m);
        if (s == CLGRAD_OK) s = add(seq, s, &m);
        if (s == CLGRAD_OK) s = linear(ctx, seq, f7);
        if (s == CLGRAD_OK) s = relu(ctx, seq);
        if (s == CLGRAD_OK) s = linear(ctx, seq, f9);
        *in_nd = 4;
        in_shape[1] = c0->shape[1];
        in_shape[2] = in_shape[3] = (int64_t)side;
    } else if (!strcmp(model, "lstm")) {
        /* an LSTM (batch first) whose last time step feeds a linear layer */
        const clgrad_checkpoint_tensor *wi = find(l, n, "0.weight_ih_l0", 2), *fc = find(l, n, "1.weight", 2);
        if (!wi || !fc) goto mismatch;
        int layers = 0;
        char name[64];
        do snprintf(name, sizeof name, "0.weight_ih_l%d", ++layers);
        while (find(l, n, name, 2));
        s = clgrad_rnn_create(ctx, CLGRAD_LSTM, wi->shape[1], wi->shape[0] / 4, layers,
                              find(l, n, "0.bias_ih_l0", 1) != NULL, 1, 0, &m);
        s = add(seq, s, &m);
        if (s == CLGRAD_OK) s = linear(ctx, seq, fc);
        *in_nd = 3;
        in_shape[1] = -1; /* any sequence length */
        in_shape[2] = wi->shape[1];
    } else {
        fprintf(stderr, "clgrad-export: unknown network '%s' (this clgrad-export knows mlp, cnn and lstm)\n", model);
        clgrad_module_release(seq);
        return 1;
    }
    if (s != CLGRAD_OK) {
        fprintf(stderr, "clgrad-export: building the %s network: %s\n", model, clgrad_last_error(ctx));
        clgrad_module_release(seq);
        return 1;
    }
    *out = seq;
    return 0;
mismatch:
    fprintf(stderr, "clgrad-export: the checkpoint does not hold clgrad-train's %s network (its tensors do not "
                    "have the names and ranks of that network)\n", model);
    clgrad_module_release(seq);
    return 1;
}

int main(int argc, char **argv)
{
    const char *ckpt = NULL, *out = NULL, *model = NULL, *device = NULL;
    long batch = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--out")) && has) {
            out = argv[++i];
        } else if (!strcmp(a, "--model") && has) {
            model = argv[++i];
        } else if (!strcmp(a, "--device") && has) {
            device = argv[++i];
        } else if (!strcmp(a, "--batch") && has) {
            char *end;
            errno = 0;
            batch = strtol(argv[++i], &end, 10);
            if (errno || *end || batch < 1 || batch > 1 << 24) {
                fprintf(stderr, "clgrad-export: --batch wants a positive size, not '%s'\n", argv[i]);
                return 2;
            }
        } else if (a[0] == '-' || ckpt) {
            fprintf(stderr, "clgrad-export: unknown or incomplete argument '%s' (see --help)\n", a);
            return 2;
        } else {
            ckpt = a;
        }
    }
    if (!ckpt) {
        usage(stderr);
        return 2;
    }
    char def_out[4096];
    if (!out) {
        const char *dot = strrchr(ckpt, '.'), *slash = strrchr(ckpt, '/');
        size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - ckpt) : strlen(ckpt);
        snprintf(def_out, sizeof def_out, "%.*s.onnx", (int)(stem < 4000 ? stem : 4000), ckpt);
        out = def_out;
    }
    clgrad_checkpoint_meta *meta = calloc(1, sizeof *meta);
    clgrad_checkpoint_tensor *list = NULL;
    int n = 0, rc = 1;
    clgrad_context *ctx = NULL;
    clgrad_module *net = NULL;
    clgrad_status s = meta ? clgrad_checkpoint_read_meta(ckpt, meta) : CLGRAD_ERR_HOST_MEMORY;
    if (s == CLGRAD_OK) s = clgrad_checkpoint_list(ckpt, &list, &n);
    if (s != CLGRAD_OK) {
        fprintf(stderr, "clgrad-export: %s: %s\n", clgrad_status_name(s), clgrad_last_error(NULL));
        goto done;
    }
    if (!model) model = clgrad_checkpoint_meta_get(meta, "train.model");
    if (!model) {
        fprintf(stderr, "clgrad-export: %s has no train.model entry (not written by clgrad-train?); name the "
                        "network with --model\n", ckpt);
        goto done;
    }
    clgrad_context_desc desc = {.device = device};
    s = clgrad_context_create(&desc, &ctx);
    if (s != CLGRAD_OK) {
        fprintf(stderr, "clgrad-export: no device: %s\n", clgrad_last_error(NULL));
        goto done;
    }
    clgrad_onnx_export_options o = {.ndim = 0};
    if (build(ctx, model, list, n, &net, &o.ndim, o.shape)) goto done;
    o.shape[0] = batch;
    o.rnn_last_step = !strcmp(model, "lstm");
    o.input_name = "input";
    o.output_name = "logits";
    s = clgrad_checkpoint_load(ckpt, net, NULL, NULL);
    if (s != CLGRAD_OK) {
        fprintf(stderr, "clgrad-export: the checkpoint does not fit clgrad-train's %s network: %s\n", model,
                clgrad_last_error(NULL));
        goto done;
    }
    clgrad_module_train(net, 0);
    s = clgrad_onnx_export(net, &o, out);
    if (s != CLGRAD_OK) {
        fprintf(stderr, "clgrad-export: %s: %s\n", clgrad_status_name(s), clgrad_last_error(NULL));
        goto done;
    }
    printf("%s: %s network (%d parameter tensors) -> %s\n", ckpt, model, clgrad_module_param_count(net), out);
    rc = 0;
done:
    clgrad_module_release(net);
    clgrad_checkpoint_list_free(list);
    free(meta);
    clgrad_context_release(ctx);
    return rc;
}
