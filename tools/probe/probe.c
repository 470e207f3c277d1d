/* clgrad-probe: what OpenCL devices are here, what can they do, does clgrad compute
 * correctly on them, and how fast. A readable report, or one JSON object with --json. */
#include "probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double probe_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *kind_str(clgrad_device_kind k)
{
    switch (k) {
    case CLGRAD_DEVICE_KIND_GPU_DISCRETE: return "gpu";
    case CLGRAD_DEVICE_KIND_GPU_INTEGRATED: return "gpu";
    case CLGRAD_DEVICE_KIND_ACCELERATOR: return "accelerator";
    case CLGRAD_DEVICE_KIND_CPU: return "cpu";
    default: return "other";
    }
}

static const char *local_str(clgrad_local_mem_kind k)
{
    return k == CLGRAD_LOCAL_MEM_LOCAL ? "local" : k == CLGRAD_LOCAL_MEM_GLOBAL ? "global" : "none";
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clgrad-probe [--json] [--device SEL | --all] [--no-selftest] [--no-bench]\n"
            "       clgrad-probe --tune [--budget SECONDS] [--json] [--device SEL | --all]\n"
            "  Lists OpenCL devices and their capabilities, builds every clgrad kernel on the\n"
            "  selected device, checks each kernel family against a CPU reference, and measures\n"
            "  bandwidth, launch latency and SGEMM speed; reports which kernel parameters are in\n"
            "  use (built-in or tuned).\n"
            "  --tune         search the device's best kernel parameters (GEMM, convolution,\n"
            "                 reductions) and keep them in the cache folder, for every later run\n"
            "  --budget S     seconds the search may take (default 60)\n"
            "  --device SEL   gpu | cpu | accel | P:D | name substring (default: $CLGRAD_DEVICE, else best)\n"
            "  --all          probe every usable device\n"
            "  --json         one JSON object on stdout\n"
            "Exit status: 0 all checks passed, 1 a check failed, 2 no device or bad usage.\n");
}

typedef struct result {
    int probed;
    clgrad_status status;
    char error[1024];
    char notes[1024]; /* clgrad_context_diagnostics, e.g. why the binary cache is off */
    int programs, from_cache;
    double build_seconds;
    probe_selftest st;
    probe_bench bench;
    cJSON *tuning; /* clgrad_context_tuning, parsed */
} result;

typedef struct options {
    int json, all, selftest, bench, tune;
    double budget;
} options;

/* The tuner's progress: a bar on a terminal, nothing otherwise. */
static void tune_progress(void *user, double fraction, const char *stage)
{
    (void)user;
    if (!isatty(STDERR_FILENO)) return;
    int width = 40, filled = (int)(fraction * width + 0.5);
    fprintf(stderr, "\r  tuning [%.*s%*s] %3d%% %-8s", filled, "========================================",
            width - filled, "", (int)(fraction * 100 + 0.5), stage);
    if (fraction >= 1.0) fputc('\n', stderr);
    fflush(stderr);
}

static void probe_device(const clgrad_device_info *d, const options *o, result *r)
{
    char sel[32];
    snprintf(sel, sizeof sel, "%d:%d", d->platform_index, d->device_index);
    clgrad_context_desc desc = {.device = sel};
    clgrad_context *ctx = NULL;
    r->probed = 1;
    r->status = clgrad_context_create(&desc, &ctx);
    if (r->status != CLGRAD_OK) {
        snprintf(r->error, sizeof r->error, "%s", clgrad_last_error(NULL));
        return;
    }
    snprintf(r->notes, sizeof r->notes, "%s", clgrad_context_diagnostics(ctx));
    r->status = clgrad_context_build_all(ctx);
    clgrad_context_stats s;
    clgrad_context_get_stats(ctx, &s);
    r->programs = s.programs_built + s.programs_from_cache;
    r->from_cache = s.programs_from_cache;
    r->build_seconds = s.build_seconds;
    if (r->status != CLGRAD_OK) {
        snprintf(r->error, sizeof r->error, "%s", clgrad_last_error(ctx));
        r->st.failed++;
        snprintf(r->st.failures[0].what, sizeof r->st.failures[0].what, "build");
        snprintf(r->st.failures[0].detail, sizeof r->st.failures[0].detail, "%.500s", clgrad_last_error(ctx));
    } else if (o->tune) {
        clgrad_tune_options to = {.budget_seconds = o->budget, .progress = tune_progress};
        r->status = clgrad_context_tune(ctx, &to);
        if (r->status != CLGRAD_OK) {
            snprintf(r->error, sizeof r->error, "%s", clgrad_last_error(ctx));
            r->st.failed++;
            snprintf(r->st.failures[0].what, sizeof r->st.failures[0].what, "tune");
            snprintf(r->st.failures[0].detail, sizeof r->st.failures[0].detail, "%.500s", clgrad_last_error(ctx));
        }
    } else {
        if (o->selftest) probe_selftest_run(ctx, &r->st);
        if (o->bench) probe_bench_run(ctx, &r->bench);
    }
    const char *tuning = clgrad_context_tuning(ctx);
    r->tuning = tuning ? cJSON_Parse(tuning) : NULL;
    clgrad_context_release(ctx);
}

static const char *jstr(const cJSON *o, const char *name)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(x) ? x->valuestring : "?";
}

static double jnum(const cJSON *o, const char *name)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(x) ? x->valuedouble : -1.0;
}

/* Which parameters are in use, and the table of the last tuner run (default vs tuned). */
static void print_tuning(const cJSON *t)
{
    if (!t) return;
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(t, "gemm");
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(g, "cpu"), *tl = cJSON_GetObjectItemCaseSensitive(g, "tiled");
    printf("  kernel parameters: tuned file %s\n", jstr(t, "file_status"));
    if (!strcmp(jstr(g, "variant"), "cpu"))
        printf("    gemm (%s): cpu variant, mr %g vw %g nv %g pack_k %g, %gx%g of C per work-item (0: 64x128), "
               "K chunks of %g KiB (0: 4096)\n", jstr(g, "source"), jnum(cpu, "mr"), jnum(cpu, "vw"), jnum(cpu, "nv"),
               jnum(cpu, "pack_k"), jnum(cpu, "wi_m"), jnum(cpu, "wi_n"), jnum(cpu, "chunk_kb"));
    else
        printf("    gemm (%s): tiled variant, %gx%gx%g, %gx%g per work-item, pad %g\n", jstr(g, "source"),
               jnum(tl, "ts_m"), jnum(tl, "ts_n"), jnum(tl, "ts_k"), jnum(tl, "wpt_m"), jnum(tl, "wpt_n"),
               jnum(tl, "pad"));
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "conv"), *rd = cJSON_GetObjectItemCaseSensitive(t, "reduce");
    printf("    conv (%s): direct kernels for one input channel %g (1 forward, 2 both), row kernels %g, "
           "work-group width %g, image chunks of %g KiB (0: the device bound), per-image backward %g\n",
           jstr(c, "source"),
           jnum(c, "conv_direct_c1"), jnum(c, "row_kernels"), jnum(c, "conv_wg"), jnum(c, "conv_chunk_kb"),
           jnum(c, "conv_per_image"));
    printf("    reduce (%s): vector work-group %g, column work-group items %g, ordered sum width %g, "
           "column work-groups %g, long rows in lanes %g\n", jstr(rd, "source"), jnum(rd, "red_vec_wg"),
           jnum(rd, "red_colwg_items"), jnum(rd, "sum_cw"), jnum(rd, "red_colwg"), jnum(rd, "red_rows_long"));
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(t, "last_run");
    if (!run) return;
    printf("  tuning run: %.0f s, %g candidates checked against the reference, %g rejected\n", jnum(run, "seconds"),
           jnum(run, "candidates_checked"), jnum(run, "candidates_rejected"));
    static const char *const stages[] = {"gemm", "conv", "reduce"};
    for (size_t s = 0; s < 3; s++) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(run, stages[s]), *row;
        if (!st) continue;
        const cJSON *acc = cJSON_GetObjectItemCaseSensitive(st, "accepted");
        const cJSON *tuned = cJSON_GetObjectItemCaseSensitive(st, "tuned");
        printf("    %s: %s", stages[s], cJSON_IsTrue(acc) ? "tuned values kept" : "table values kept");
        if (cJSON_IsString(tuned)) printf(" (best found: %s)", tuned->valuestring);
        else if (cJSON_IsObject(tuned)) printf(" (best found: %s)", jstr(tuned, "params"));
        if (cJSON_GetObjectItemCaseSensitive(st, "error")) printf(" [%s]", jstr(st, "error"));
        printf("\n");
        const cJSON *rows = cJSON_GetObjectItemCaseSensitive(st, "shapes");
        if (cJSON_GetArraySize(rows) > 0)
            printf("      %-44s %12s %12s %8s\n", "shape", "default ms", "tuned ms", "speedup");
        cJSON_ArrayForEach(row, rows)
            printf("      %-44s %12.3f %12.3f %7.2fx\n", jstr(row, "shape"), jnum(row, "default_ms"),
                   jnum(row, "tuned_ms"), jnum(row, "speedup"));
    }
}

static void print_text(const clgrad_device_info *list, int n, int selected, const result *res)
{
    printf("clgrad %s\n\n", clgrad_version_string());
    printf("  %-4s %-6s %-44s %-4s %5s %6s %9s %9s %6s %s\n", "P:D", "type", "device (platform)", "CL C", "CUs",
           "MHz", "memory", "max alloc", "wg", "local / fp16 / fp64 / subgroups");
    for (int i = 0; i < n; i++) {
        const clgrad_device_info *d = &list[i];
        char name[300];
        snprintf(name, sizeof name, "%s (%s)", d->name, d->platform_name);
        printf("%s %d:%-2d %-6s %-44.44s %d.%d  %5d %6d %7.1fG %7.1fG %6zu %s/%lluK / %s / %s / %s%s\n",
               i == selected ? "*" : " ", d->platform_index, d->device_index, kind_str(d->kind), name, d->cl_c_major,
               d->cl_c_minor, d->compute_units, d->clock_mhz, d->global_mem_bytes / 1e9, d->max_alloc_bytes / 1e9,
               d->max_work_group_size, local_str(d->local_mem_kind), (unsigned long long)(d->local_mem_bytes / 1024),
               d->fp16 ? "yes" : "no", d->fp64 ? "yes" : "no", d->subgroups ? "yes" : "no",
               (!d->available || !d->compiler_available) ? "  (unusable)" : "");
    }
    for (int i = 0; i < n; i++) {
        const result *r = &res[i];
        if (!r->probed) continue;
        printf("\n%d:%d %s\n", list[i].platform_index, list[i].device_index, list[i].name);
        if (r->status != CLGRAD_OK && r->st.failed == 0) {
            printf("  error: %s: %s\n", clgrad_status_name(r->status), r->error);
            continue;
        }
        printf("  programs: %d built in %.3f s (%d from the binary cache)\n", r->programs, r->build_seconds,
               r->from_cache);
        for (const char *p = r->notes; *p;) { /* one "note:" line per diagnostic */
            const char *nl = strchr(p, '\n');
            int len = nl ? (int)(nl - p) : (int)strlen(p);
            printf("  note: %.*s\n", len, p);
            p += len + (nl != NULL);
        }
        if (r->st.passed + r->st.failed > 0) {
            printf("  self-test: %d passed, %d failed\n", r->st.passed, r->st.failed);
            for (int k = 0; k < r->st.failed && k < 64; k++)
                printf("    FAIL %s on %s: %s\n", r->st.failures[k].what, list[i].name, r->st.failures[k].detail);
        }
        print_tuning(r->tuning);
        if (r->bench.bandwidth_gbs > 0) {
            printf("  bandwidth: %.1f GB/s   launch: %.1f us queued, %.1f us with wait\n", r->bench.bandwidth_gbs,
                   r->bench.launch_us, r->bench.launch_sync_us);
            printf("  sgemm 1024^3: own %.1f GFLOP/s", r->bench.sgemm_own);
            if (r->bench.sgemm_clblast >= 0) printf(", clblast %.1f GFLOP/s", r->bench.sgemm_clblast);
            printf("\n");
        }
    }
}

static void print_json(const clgrad_device_info *list, int n, int selected, const result *res)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", clgrad_version_string());
    cJSON *devs = cJSON_AddArrayToObject(root, "devices");
    for (int i = 0; i < n; i++) {
        const clgrad_device_info *d = &list[i];
        const result *r = &res[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "platform", d->platform_name);
        cJSON_AddStringToObject(o, "name", d->name);
        cJSON_AddStringToObject(o, "type", kind_str(d->kind));
        char id[32];
        snprintf(id, sizeof id, "%d:%d", d->platform_index, d->device_index);
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddBoolToObject(o, "selected", i == selected);
        cJSON *c = cJSON_AddObjectToObject(o, "capabilities");
        cJSON_AddStringToObject(c, "vendor", d->vendor);
        cJSON_AddStringToObject(c, "version", d->version);
        cJSON_AddStringToObject(c, "driver_version", d->driver_version);
        char clc[16];
        snprintf(clc, sizeof clc, "%d.%d", d->cl_c_major, d->cl_c_minor);
        cJSON_AddStringToObject(c, "opencl_c", clc);
        cJSON_AddBoolToObject(c, "integrated", d->kind == CLGRAD_DEVICE_KIND_GPU_INTEGRATED);
        cJSON_AddNumberToObject(c, "compute_units", d->compute_units);
        cJSON_AddNumberToObject(c, "clock_mhz", d->clock_mhz);
        cJSON_AddNumberToObject(c, "global_mem_bytes", (double)d->global_mem_bytes);
        cJSON_AddNumberToObject(c, "max_alloc_bytes", (double)d->max_alloc_bytes);
        cJSON_AddNumberToObject(c, "local_mem_bytes", (double)d->local_mem_bytes);
        cJSON_AddStringToObject(c, "local_mem_type", local_str(d->local_mem_kind));
        cJSON_AddNumberToObject(c, "max_work_group_size", (double)d->max_work_group_size);
        cJSON_AddBoolToObject(c, "fp16", d->fp16);
        cJSON_AddBoolToObject(c, "fp64", d->fp64);
        cJSON_AddBoolToObject(c, "subgroups", d->subgroups);
        cJSON_AddBoolToObject(c, "unified_memory", d->unified_memory);
        cJSON_AddBoolToObject(c, "available", d->available && d->compiler_available);
        cJSON_AddStringToObject(c, "extensions", d->extensions);
        if (r->probed) {
            if (r->status != CLGRAD_OK) cJSON_AddStringToObject(o, "error", r->error);
            cJSON *b = cJSON_AddObjectToObject(o, "build");
            cJSON_AddNumberToObject(b, "programs", r->programs);
            cJSON_AddNumberToObject(b, "seconds", r->build_seconds);
            cJSON_AddNumberToObject(b, "from_cache", r->from_cache);
            cJSON_AddStringToObject(o, "diagnostics", r->notes);
            cJSON *s = cJSON_AddObjectToObject(o, "selftest");
            cJSON_AddNumberToObject(s, "passed", r->st.passed);
            cJSON_AddNumberToObject(s, "failed", r->st.failed);
            cJSON *fl = cJSON_AddArrayToObject(s, "failures");
            for (int k = 0; k < r->st.failed && k < 64; k++) {
                cJSON *f = cJSON_CreateObject();
                cJSON_AddStringToObject(f, "kernel", r->st.failures[k].what);
                cJSON_AddStringToObject(f, "device", d->name);
                cJSON_AddStringToObject(f, "error", r->st.failures[k].detail);
                cJSON_AddItemToArray(fl, f);
            }
            if (r->tuning) cJSON_AddItemReferenceToObject(o, "tuning", r->tuning);
            if (r->bench.bandwidth_gbs > 0) {
                cJSON *be = cJSON_AddObjectToObject(o, "bench");
                cJSON_AddNumberToObject(be, "bandwidth_gbs", r->bench.bandwidth_gbs);
                cJSON_AddNumberToObject(be, "launch_us", r->bench.launch_us);
                cJSON_AddNumberToObject(be, "launch_sync_us", r->bench.launch_sync_us);
                cJSON *g = cJSON_AddObjectToObject(be, "sgemm_gflops");
                cJSON_AddNumberToObject(g, "own", r->bench.sgemm_own);
                if (r->bench.sgemm_clblast >= 0) cJSON_AddNumberToObject(g, "clblast", r->bench.sgemm_clblast);
                else cJSON_AddNullToObject(g, "clblast");
            }
        }
        cJSON_AddItemToArray(devs, o);
    }
    char *text = cJSON_Print(root);
    if (text) printf("%s\n", text);
    free(text);
    cJSON_Delete(root);
}

int main(int argc, char **argv)
{
    options o = {.selftest = 1, .bench = 1};
    const char *sel = getenv("CLGRAD_DEVICE");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) o.json = 1;
        else if (strcmp(argv[i], "--all") == 0) o.all = 1;
        else if (strcmp(argv[i], "--no-selftest") == 0) o.selftest = 0;
        else if (strcmp(argv[i], "--no-bench") == 0) o.bench = 0;
        else if (strcmp(argv[i], "--tune") == 0) o.tune = 1;
        else if (strcmp(argv[i], "--budget") == 0 && i + 1 < argc) {
            char *end = NULL;
            o.budget = strtod(argv[++i], &end);
            if (!end || *end || !(o.budget > 0 && o.budget <= 86400)) {
                fprintf(stderr, "clgrad-probe: --budget wants seconds (0 to 86400), not \"%s\"\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) sel = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    clgrad_device_info *list = NULL;
    int n = 0;
    clgrad_status s = clgrad_devices_list(&list, &n);
    if (s != CLGRAD_OK) {
        fprintf(stderr, "clgrad-probe: %s: %s\n", clgrad_status_name(s), clgrad_last_error(NULL));
        if (o.json) printf("{\"version\":\"%s\",\"devices\":[]}\n", clgrad_version_string());
        return 2;
    }
    int selected = -1;
    s = clgrad_devices_select(list, n, sel, &selected);
    if (s != CLGRAD_OK && !o.all) {
        fprintf(stderr, "clgrad-probe: %s\n", clgrad_last_error(NULL));
        clgrad_devices_free(list);
        return 2;
    }
    result *res = calloc((size_t)n, sizeof *res);
    if (!res) return 2;
    int failed = 0;
    for (int i = 0; i < n; i++) {
        if (!(o.all ? (list[i].available && list[i].compiler_available) : i == selected)) continue;
        if (!o.json) fprintf(stderr, "%s %s ...\n", o.tune ? "tuning" : "probing", list[i].name);
        probe_device(&list[i], &o, &res[i]);
        if (res[i].status != CLGRAD_OK || res[i].st.failed > 0) failed = 1;
    }
    if (o.json) print_json(list, n, selected, res);
    else print_text(list, n, selected, res);
    for (int i = 0; i < n; i++) cJSON_Delete(res[i].tuning);
    free(res);
    clgrad_devices_free(list);
    return failed;
}
