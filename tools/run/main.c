/* clgrad-run: runs an ONNX model on .npy inputs and prints the outputs (or writes them as
 * .npy files); with --bench, times repeated runs and prints latency percentiles. Public API
 * only: the example of embedding clgrad in a program, with every option a user needs. */
#include "clgrad.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_IO 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clgrad-run MODEL.onnx [options]\n"
            "Runs an ONNX model with clgrad and prints its outputs.\n"
            "\n"
            "  --input [NAME=]FILE.npy   a model input (in the model's input order without NAME=);\n"
            "                            float files give f32 inputs, integer files i32\n"
            "  --out [NAME=]FILE.npy     write an output to FILE instead of printing it (in output\n"
            "                            order without NAME=)\n"
            "  --device SEL              gpu, cpu, p:d or a name substring (default: $CLGRAD_DEVICE,\n"
            "                            else the best device)\n"
            "  --bench N                 run N more times after 3 warm-up runs and print latency\n"
            "                            percentiles (each run: inputs already on the device, outputs\n"
            "                            read back to the host)\n"
            "  --json                    print the --bench result as one JSON line\n"
            "  --info                    print the model's inputs and outputs and exit\n"
            "  --profile N               run N times waiting after every node, then print where the\n"
            "                            time goes (by operator and the slowest nodes)\n"
            "  --full                    print every output value (default: the first 32)\n"
            "  --no-fusion               keep Conv+BatchNormalization, GELU and LayerNorm apart\n"
            "  --help                    this text\n"
            "Exit status: 0 done, 1 failure, 2 bad usage.\n");
}

typedef struct named {
    const char *name; /* NULL: by position */
    const char *file;
} named;

static void split_named(const char *arg, named *out)
{
    const char *eq = strchr(arg, '=');
    /* NAME=FILE unless the '=' is part of a path */
    if (eq && !memchr(arg, '/', (size_t)(eq - arg))) {
        size_t n = (size_t)(eq - arg);
        char *name = malloc(n + 1);
        if (name) {
            memcpy(name, arg, n);
            name[n] = 0;
        }
        out->name = name;
        out->file = eq + 1;
    } else {
        out->name = NULL;
        out->file = arg;
    }
}

/* Index of the entry of list (n entries) that names io, or the positional one for index pos. */
static const named *lookup(const named *list, int n, const char *io, int pos)
{
    for (int i = 0; i < n; i++)
        if (list[i].name && strcmp(list[i].name, io) == 0) return &list[i];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!list[i].name && k++ == pos) return &list[i];
    return NULL;
}

static const char *type_name(clgrad_onnx_type t)
{
    switch (t) {
    case CLGRAD_ONNX_FLOAT: return "float32";
    case CLGRAD_ONNX_UINT8: return "uint8";
    case CLGRAD_ONNX_INT8: return "int8";
    case CLGRAD_ONNX_UINT16: return "uint16";
    case CLGRAD_ONNX_INT16: return "int16";
    case CLGRAD_ONNX_INT32: return "int32";
    case CLGRAD_ONNX_INT64: return "int64";
    case CLGRAD_ONNX_BOOL: return "bool";
    }
    return "?";
}

static void print_io(const char *what, const clgrad_onnx_io *io)
{
    printf("%s %s: %s [", what, io->name, type_name(io->type));
    if (io->ndim < 0) printf("?");
    for (int d = 0; d < io->ndim; d++) {
        if (io->shape[d] >= 0) printf("%s%lld", d ? ", " : "", (long long)io->shape[d]);
        else printf("%s%s", d ? ", " : "", io->dim_names[d] ? io->dim_names[d] : "?");
    }
    printf("]\n");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, int n, double p)
{
    double at = p / 100.0 * (n - 1);
    int i = (int)at;
    return i + 1 < n ? v[i] + (at - i) * (v[i + 1] - v[i]) : v[n - 1];
}

static int fail(clgrad_context *ctx, clgrad_status s, const char *what)
{
    fprintf(stderr, "clgrad-run: %s: %s: %s\n", what, clgrad_status_name(s), clgrad_last_error(ctx));
    return 1;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *device = NULL;
    named ins[MAX_IO], outs[MAX_IO];
    int n_ins = 0, n_outs = 0, info_only = 0, full = 0, json = 0;
    long bench = 0, profile = 0;
    clgrad_onnx_options opts = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--input") && has_val && n_ins < MAX_IO) {
            split_named(argv[++i], &ins[n_ins++]);
        } else if (!strcmp(a, "--out") && has_val && n_outs < MAX_IO) {
            split_named(argv[++i], &outs[n_outs++]);
        } else if (!strcmp(a, "--device") && has_val) {
            device = argv[++i];
        } else if (!strcmp(a, "--bench") && has_val) {
            char *end;
            errno = 0;
            bench = strtol(argv[++i], &end, 10);
            if (errno || *end || bench < 1 || bench > 1000000) {
                fprintf(stderr, "clgrad-run: --bench wants a count in [1, 1000000], not '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--profile") && has_val) {
            char *end;
            errno = 0;
            profile = strtol(argv[++i], &end, 10);
            if (errno || *end || profile < 1 || profile > 100000) {
                fprintf(stderr, "clgrad-run: --profile wants a count in [1, 100000], not '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--info")) {
            info_only = 1;
        } else if (!strcmp(a, "--full")) {
            full = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--no-fusion")) {
            opts.flags |= CLGRAD_ONNX_NO_FUSION;
        } else if (a[0] == '-' || model_path) {
            fprintf(stderr, "clgrad-run: unknown or incomplete argument '%s' (see --help)\n", a);
            return 2;
        } else {
            model_path = a;
        }
    }
    if (!model_path) {
        usage(stderr);
        return 2;
    }
    if (!clgrad_onnx_available()) {
        fprintf(stderr, "clgrad-run: this clgrad has no ONNX support (built without protobuf-c)\n");
        return 1;
    }

    clgrad_context_desc desc = {.device = device};
    clgrad_context *ctx = NULL;
    clgrad_onnx_model *m = NULL;
    clgrad_status s = clgrad_context_create(&desc, &ctx);
    if (s != CLGRAD_OK) return fail(NULL, s, "no device");
    double t0 = now();
    s = clgrad_onnx_load(ctx, model_path, &opts, &m);
    if (s != CLGRAD_OK) {
        int r = fail(ctx, s, "loading the model");
        clgrad_context_release(ctx);
        return r;
    }
    double t_load = now() - t0;
    int ni = clgrad_onnx_input_count(m), no = clgrad_onnx_output_count(m), rc = 0;
    clgrad_onnx_stats st;
    clgrad_onnx_get_stats(m, &st);
    if (!json) {
        printf("model: %s (%s, IR %lld, opset %lld) on %s\n", model_path, st.producer[0] ? st.producer : "unknown producer",
               (long long)st.ir_version, (long long)st.opset, clgrad_context_device(ctx)->name);
        printf("nodes: %d in the file, %d to run (%d folded at load, %d on the host; fused: %d conv+bn, %d gelu, "
               "%d layer norm), %.1f MB of weights, loaded in %.3f s\n", st.nodes_in_file, st.nodes_run,
               st.nodes_folded, st.nodes_on_host, st.conv_bn_fused, st.gelu_fused, st.layer_norm_fused,
               (double)st.weight_bytes / 1e6, t_load);
    }
    clgrad_onnx_io io;
    for (int i = 0; i < ni && !json; i++) {
        clgrad_onnx_input(m, i, &io);
        print_io("input", &io);
    }
    for (int i = 0; i < no && !json; i++) {
        clgrad_onnx_output(m, i, &io);
        print_io("output", &io);
    }
    if (info_only || ni > MAX_IO || no > MAX_IO) {
        clgrad_onnx_release(m);
        clgrad_context_release(ctx);
        return info_only ? 0 : 1;
    }

    clgrad_tensor *tin[MAX_IO] = {0}, *tout[MAX_IO] = {0};
    for (int i = 0; i < ni && rc == 0; i++) {
        clgrad_onnx_input(m, i, &io);
        const named *src = lookup(ins, n_ins, io.name, i);
        if (!src) {
            fprintf(stderr, "clgrad-run: no --input for model input '%s'\n", io.name);
            rc = 2;
            break;
        }
        clgrad_npy *a = NULL;
        s = clgrad_npy_load(src->file, &a);
        if (s == CLGRAD_OK) s = clgrad_tensor_from_host(ctx, a->dtype, a->ndim, a->shape, a->data, &tin[i]);
        clgrad_npy_release(a);
        if (s != CLGRAD_OK) rc = fail(ctx, s, src->file);
    }
    if (rc == 0) {
        s = clgrad_onnx_run(m, ni, tin, no, tout);
        if (s != CLGRAD_OK) rc = fail(ctx, s, "running the model");
    }
    /* outputs: to .npy files or printed */
    for (int i = 0; i < no && rc == 0; i++) {
        clgrad_onnx_output(m, i, &io);
        int64_t n = clgrad_tensor_numel(tout[i]), shape[CLGRAD_MAX_DIMS];
        int nd = clgrad_tensor_ndim(tout[i]);
        clgrad_dtype dt = clgrad_tensor_dtype(tout[i]);
        clgrad_tensor_shape(tout[i], shape);
        void *h = malloc((size_t)(n ? n : 1) * 4);
        s = h ? clgrad_tensor_read(tout[i], h, (size_t)n * 4) : CLGRAD_ERR_HOST_MEMORY;
        const named *dst = lookup(outs, n_outs, io.name, i);
        if (s == CLGRAD_OK && dst) {
            s = clgrad_npy_save(dst->file, dt, nd, shape, h);
            if (s == CLGRAD_OK && !json) printf("%s -> %s\n", io.name, dst->file);
        } else if (s == CLGRAD_OK && !json) {
            char sb[256];
            size_t len = 0;
            sb[0] = 0;
            for (int d = 0; d < nd; d++) len += (size_t)snprintf(sb + len, sizeof sb - len, "%s%lld", d ? ", " : "",
                                                                  (long long)shape[d]);
            printf("%s [%s] =", io.name, sb);
            int64_t show = full || n <= 32 ? n : 32;
            for (int64_t k = 0; k < show; k++) {
                if (dt == CLGRAD_DTYPE_F32) printf(" %.6g", (double)((float *)h)[k]);
                else printf(" %d", ((int32_t *)h)[k]);
            }
            printf("%s\n", show < n ? " ..." : "");
        }
        free(h);
        if (s != CLGRAD_OK) rc = fail(ctx, s, io.name);
    }

    if (rc == 0 && bench > 0) {
        double *t = malloc((size_t)bench * sizeof *t);
        void *h[MAX_IO] = {0};
        for (int i = 0; i < no; i++) h[i] = malloc((size_t)(clgrad_tensor_numel(tout[i]) + 1) * 4);
        for (long r = -3; t && r < bench && rc == 0; r++) {
            clgrad_tensor *o[MAX_IO] = {0};
            double a = now();
            s = clgrad_onnx_run(m, ni, tin, no, o);
            for (int i = 0; i < no && s == CLGRAD_OK; i++)
                s = h[i] ? clgrad_tensor_read(o[i], h[i], (size_t)clgrad_tensor_numel(o[i]) * 4) : CLGRAD_ERR_HOST_MEMORY;
            double b = now();
            for (int i = 0; i < no; i++) clgrad_tensor_release(o[i]);
            if (s != CLGRAD_OK) rc = fail(ctx, s, "benchmark run");
            else if (r >= 0) t[r] = (b - a) * 1e3;
        }
        if (rc == 0 && t) {
            qsort(t, (size_t)bench, sizeof *t, cmp_double);
            double mean = 0;
            for (long r = 0; r < bench; r++) mean += t[r] / (double)bench;
            if (json)
                printf("{\"model\": \"%s\", \"device\": \"%s\", \"runs\": %ld, \"min_ms\": %.4f, \"p50_ms\": %.4f, "
                       "\"p90_ms\": %.4f, \"p99_ms\": %.4f, \"mean_ms\": %.4f}\n", model_path,
                       clgrad_context_device(ctx)->name, bench, t[0], pct(t, (int)bench, 50), pct(t, (int)bench, 90),
                       pct(t, (int)bench, 99), mean);
            else
                printf("latency over %ld runs: min %.3f ms, p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, mean %.3f ms\n",
                       bench, t[0], pct(t, (int)bench, 50), pct(t, (int)bench, 90), pct(t, (int)bench, 99), mean);
        }
        for (int i = 0; i < no; i++) free(h[i]);
        free(t);
    }
    if (rc == 0 && profile > 0) {
        clgrad_onnx_profile_enable(m, 1);
        for (long r = 0; r < profile && rc == 0; r++) {
            clgrad_tensor *o[MAX_IO] = {0};
            s = clgrad_onnx_run(m, ni, tin, no, o);
            for (int i = 0; i < no; i++) clgrad_tensor_release(o[i]);
            if (s != CLGRAD_OK) rc = fail(ctx, s, "profiled run");
        }
        int nn = clgrad_onnx_profile(m, NULL, 0);
        clgrad_onnx_node_time *t = calloc((size_t)nn + 1, sizeof *t);
        if (rc == 0 && t) {
            clgrad_onnx_profile(m, t, nn);
            double total = 0;
            for (int k = 0; k < nn; k++) total += t[k].seconds;
            /* by operator: sum the nodes of each op type, largest first */
            printf("profile over %ld runs: %.3f ms per run (waiting after every node)\n", profile,
                   1e3 * total / (double)profile);
            char done[256][32];
            int nd = 0;
            for (int pass = 0; pass < nn && nd < 256; pass++) {
                const char *best = NULL;
                double bs = -1;
                int count = 0;
                for (int k = 0; k < nn; k++) {
                    int seen = 0;
                    for (int q = 0; q < nd && !seen; q++) seen = !strcmp(done[q], t[k].op);
                    if (seen) continue;
                    double sum = 0;
                    int c = 0;
                    for (int q = 0; q < nn; q++)
                        if (!strcmp(t[q].op, t[k].op)) sum += t[q].seconds, c++;
                    if (sum > bs) bs = sum, best = t[k].op, count = c;
                }
                if (!best) break;
                snprintf(done[nd++], sizeof done[0], "%s", best);
                printf("  %-20s %3d nodes %9.3f ms  %5.1f%%\n", best, count, 1e3 * bs / (double)profile,
                       total > 0 ? 100 * bs / total : 0);
            }
        }
        free(t);
    }
    for (int i = 0; i < MAX_IO; i++) {
        clgrad_tensor_release(tin[i]);
        clgrad_tensor_release(tout[i]);
    }
    for (int i = 0; i < n_ins; i++) free((void *)ins[i].name);
    for (int i = 0; i < n_outs; i++) free((void *)outs[i].name);
    clgrad_onnx_release(m);
    clgrad_context_release(ctx);
    return rc;
}
