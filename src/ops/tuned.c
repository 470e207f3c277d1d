/* The kernel parameters in use on a context (see tuned.h): resolved once per context from
 * the tables of src/program/tuning.c, then from the tuned file of the device when there is
 * one, then from the test hooks. A tuned file is JSON in the cache folder, named by a hash
 * of the platform, device and driver; it is trusted only when its format, device, driver
 * and kernel sources match and every value is in range. Anything else (missing, other
 * sources, damaged, out of range) is ignored as a whole and the tables apply. */
#include "ops/tuned.h"

#include "clgrad_version.h"
#include "core/file.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TUNED_FORMAT 1
#define TUNED_MAX_BYTES ((size_t)1 << 20)
#define DEFAULT_FOLD ((size_t)32768)
#define DEFAULT_RED_CHUNK ((int64_t)16384)

/* The kernel families whose sources the tuned values were measured with. */
static const char *const tuned_families[] = {"matmul", "conv", "reduce"};

enum { SRC_DEFAULT = 0, SRC_TUNED = 1, SRC_FORCED = 2 };

typedef struct tuned_state {
    int resolved;
    unsigned generation;
    int vw; /* native float vector width, -1 until queried */
    clgrad__style style;
    size_t fold;
    int64_t red_chunk;
    /* in use */
    clgrad__ops_params ops;
    clgrad__gemm_choice gemm;
    int ops_row, cpu_row, tiled_row;
    unsigned tuned_groups; /* CLGRAD__TUNED_* taken from the file */
    char file_status[160];
    /* a tuner's trial, on top */
    int trial_ops, trial_gemm;
    clgrad__ops_params t_ops;
    clgrad__gemm_choice t_gemm;
    cJSON *last_run;
    char *report;
} tuned_state;

static void tuned_destroy(clgrad_context *ctx, void *p)
{
    tuned_state *t = p;
    (void)ctx;
    cJSON_Delete(t->last_run);
    free(t->report);
}

static const clgrad__slot_key tuned_key = {"kernel parameters in use", sizeof(tuned_state), tuned_destroy};

/* --- the parameters of the ops rows a tuned file may set --------------------------------- */

typedef struct field {
    const char *name;
    size_t off;
    int lo, hi;
    int pow2; /* 1: a power of two (or 0 when lo is 0) */
    unsigned group;
} field;

#define F(name, lo, hi, pow2, group) {#name, offsetof(clgrad__ops_params, name), lo, hi, pow2, group}
static const field ops_fields[] = {
    F(row_kernels, 0, 1, 0, CLGRAD__TUNED_CONV),      F(conv_wg, 1, 1024, 1, CLGRAD__TUNED_CONV),
    F(conv_direct_c1, 0, 2, 0, CLGRAD__TUNED_CONV),   F(conv_chunk_kb, 0, 1 << 20, 0, CLGRAD__TUNED_CONV),
    F(conv_per_image, 0, 2, 0, CLGRAD__TUNED_CONV),   F(red_colwg, 0, 1, 0, CLGRAD__TUNED_REDUCE),
    F(red_rows_long, 0, 1, 0, CLGRAD__TUNED_REDUCE),  F(red_vec_wg, 0, 1024, 1, CLGRAD__TUNED_REDUCE),
    F(sum_cw, 1, 16, 1, CLGRAD__TUNED_REDUCE),        F(red_colwg_items, 4, 1024, 1, CLGRAD__TUNED_REDUCE),
};
#undef F
#define N_FIELDS (sizeof ops_fields / sizeof ops_fields[0])

static int *field_at(clgrad__ops_params *p, const field *f) { return (int *)((char *)p + f->off); }

static int field_ok(const field *f, int v)
{
    if (v < f->lo || v > f->hi) return 0;
    return !f->pow2 || v == 0 || (v & (v - 1)) == 0;
}

static int gemm_cpu_ok(const clgrad__gemm_cpu_params *p)
{
    return p->mr >= 1 && p->mr <= 32 && p->nv >= 1 && p->nv <= 8 && p->pack_k >= 1 && p->pack_k <= 4096 &&
           p->wi_m >= 0 && p->wi_m <= 4096 && p->wi_n >= 0 && p->wi_n <= 4096 && p->chunk_kb >= 0 &&
           p->chunk_kb <= (1 << 20) &&
           (p->vw == 2 || p->vw == 4 || p->vw == 8 || p->vw == 16);
}

static int gemm_tiled_ok(const clgrad__gemm_tiled_params *p)
{
    return p->wpt_m >= 1 && p->wpt_n >= 1 && p->ts_k >= 1 && p->ts_k <= 128 && p->pad >= 0 && p->pad <= 4 &&
           p->ts_m >= p->wpt_m && p->ts_n >= p->wpt_n && p->ts_m <= 256 && p->ts_n <= 256 && p->wpt_m <= 16 &&
           p->wpt_n <= 16 && p->ts_m % p->wpt_m == 0 && p->ts_n % p->wpt_n == 0;
}

/* --- resolution ----------------------------------------------------------------------------- */

int clgrad__tuned_vector_width(const clgrad_context *ctx)
{
    cl_uint vw = 0;
    if (clGetDeviceInfo(ctx->dev.device, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof vw, &vw, NULL) != CL_SUCCESS)
        vw = 0;
    return (int)vw;
}

/* The table rows for ctx's device, or for a CPU or GPU version of it under a forced style. */
static void table_rows(const clgrad_context *ctx, clgrad__style style, int vw, clgrad__ops_params *ops,
                       clgrad__gemm_choice *g, int rows[3])
{
    clgrad_device_info d = ctx->dev.info;
    if (style == CLGRAD__STYLE_CPU) {
        d.kind = CLGRAD_DEVICE_KIND_CPU;
        d.local_mem_kind = CLGRAD_LOCAL_MEM_GLOBAL;
    } else if (style == CLGRAD__STYLE_GPU) {
        d.kind = CLGRAD_DEVICE_KIND_GPU_DISCRETE;
        d.local_mem_kind = CLGRAD_LOCAL_MEM_LOCAL;
    }
    clgrad__tuning_device td = {&d, vw};
    *ops = *clgrad__tuning_ops(&td, &rows[0]);
    g->tiled = clgrad__tuning_gemm_variant(&td, NULL)->tiled;
    g->cpu = *clgrad__tuning_gemm_cpu(&td, &rows[1]);
    g->tp = *clgrad__tuning_gemm_tiled(&td, &rows[2]);
}

static char *sources_hash(const clgrad_context *ctx)
{
    size_t total = 0, n = sizeof tuned_families / sizeof tuned_families[0];
    char *all = NULL;
    for (size_t i = 0; i < n; i++) {
        char *src = NULL;
        size_t len = 0;
        if (clgrad__source_get(ctx, tuned_families[i], &src, &len) != CLGRAD_OK) {
            free(all);
            return NULL;
        }
        char *grown = realloc(all, total + len + 1);
        if (!grown) {
            free(src);
            free(all);
            return NULL;
        }
        all = grown;
        memcpy(all + total, src, len);
        total += len;
        all[total++] = '\n';
        free(src);
    }
    char *key = malloc(33);
    if (key) clgrad__cache_key(ctx, all, total, "clgrad tuned sources", key);
    free(all);
    return key;
}

char *clgrad__tuned_path(const clgrad_context *ctx)
{
    const char *dir = clgrad__cache_dir(ctx);
    if (!dir) return NULL;
    char key[33], what[64];
    snprintf(what, sizeof what, "clgrad tuned parameters %d", TUNED_FORMAT);
    clgrad__cache_key(ctx, "", 0, what, key); /* platform, device, vendor, versions, driver */
    size_t n = strlen(dir) + 64;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/tuned-%s.json", dir, key);
    return p;
}

static int get_int(const cJSON *o, const char *name, int *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(x) || x->valuedouble != (double)(int)x->valuedouble) return 0;
    *v = (int)x->valuedouble;
    return 1;
}

static int same_string(const cJSON *o, const char *name, const char *want)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(x) && strcmp(x->valuestring, want) == 0;
}

static int parse_cpu(const cJSON *o, clgrad__gemm_cpu_params *p)
{
    return cJSON_IsObject(o) && get_int(o, "mr", &p->mr) && get_int(o, "vw", &p->vw) && get_int(o, "nv", &p->nv) &&
           get_int(o, "pack_k", &p->pack_k) && get_int(o, "wi_m", &p->wi_m) && get_int(o, "wi_n", &p->wi_n) &&
           get_int(o, "chunk_kb", &p->chunk_kb) && gemm_cpu_ok(p);
}

static int parse_tiled(const cJSON *o, clgrad__gemm_tiled_params *p)
{
    return cJSON_IsObject(o) && get_int(o, "ts_m", &p->ts_m) && get_int(o, "ts_n", &p->ts_n) &&
           get_int(o, "ts_k", &p->ts_k) && get_int(o, "wpt_m", &p->wpt_m) && get_int(o, "wpt_n", &p->wpt_n) &&
           get_int(o, "pad", &p->pad) && gemm_tiled_ok(p);
}

/* Reads the tuned file into copies of the table values; applies them only when all of it
 * checks out. Returns the status line for the report. */
static void load_tuned(const clgrad_context *ctx, tuned_state *t)
{
    char *path = clgrad__tuned_path(ctx);
    if (!path) {
        snprintf(t->file_status, sizeof t->file_status, "no cache folder");
        return;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    const char *why = NULL;
    cJSON *root = NULL;
    /* quiet: a missing or unreadable file is a miss, not an error of the op that asked */
    if (clgrad__file_read(path, TUNED_MAX_BYTES, CLGRAD__FILE_QUIET | CLGRAD__FILE_NOFOLLOW, &buf, &len) !=
        CLGRAD_OK) {
        snprintf(t->file_status, sizeof t->file_status, "missing");
        free(path);
        return;
    }
    free(path);
    root = cJSON_ParseWithLength((const char *)buf, len);
    free(buf);
    const clgrad_device_info *d = &ctx->dev.info;
    int format = 0;
    char *hash = NULL;
    clgrad__ops_params ops = t->ops;
    clgrad__gemm_choice gemm = t->gemm;
    unsigned groups = 0;
    if (!cJSON_IsObject(root) || !same_string(root, "format", "clgrad-tuned") || !get_int(root, "version", &format) ||
        format != TUNED_FORMAT)
        why = "not a tuned file of this format";
    else if (!same_string(root, "platform", d->platform_name) || !same_string(root, "device", d->name) ||
             !same_string(root, "driver", d->driver_version))
        why = "made for another device or driver";
    else if (!(hash = sources_hash(ctx)) || !same_string(root, "sources", hash))
        why = "stale: made with other kernel sources";
    if (!why) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(root, "gemm");
        if (g) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(g, "variant");
            int tiled = cJSON_IsString(v) && !strcmp(v->valuestring, "tiled") ? 1
                        : cJSON_IsString(v) && !strcmp(v->valuestring, "cpu") ? 0 : -1;
            if (tiled < 0 || !parse_cpu(cJSON_GetObjectItemCaseSensitive(g, "cpu"), &gemm.cpu) ||
                !parse_tiled(cJSON_GetObjectItemCaseSensitive(g, "tiled"), &gemm.tp))
                why = "damaged: bad GEMM values";
            gemm.tiled = tiled;
            groups |= CLGRAD__TUNED_GEMM;
        }
    }
    static const struct { const char *name; unsigned group; } sections[] = {{"conv", CLGRAD__TUNED_CONV},
                                                                           {"reduce", CLGRAD__TUNED_REDUCE}};
    for (size_t s = 0; !why && s < sizeof sections / sizeof sections[0]; s++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, sections[s].name);
        if (!o) continue;
        if (!cJSON_IsObject(o)) why = "damaged: a section is not an object";
        for (size_t i = 0; !why && i < N_FIELDS; i++) {
            if (ops_fields[i].group != sections[s].group) continue;
            int v;
            if (!get_int(o, ops_fields[i].name, &v) || !field_ok(&ops_fields[i], v))
                why = "damaged: a value is missing or out of range";
            else *field_at(&ops, &ops_fields[i]) = v;
        }
        groups |= sections[s].group;
    }
    free(hash);
    cJSON_Delete(root);
    if (why) {
        snprintf(t->file_status, sizeof t->file_status, "ignored (%s)", why);
        return;
    }
    t->ops = ops;
    t->gemm = gemm;
    t->tuned_groups = groups;
    snprintf(t->file_status, sizeof t->file_status, "used");
}

static void resolve(const clgrad_context *ctx, tuned_state *t)
{
    if (t->vw < 0) t->vw = clgrad__tuned_vector_width(ctx);
    int rows[3];
    table_rows(ctx, t->style, t->vw, &t->ops, &t->gemm, rows);
    t->ops_row = rows[0], t->cpu_row = rows[1], t->tiled_row = rows[2];
    t->tuned_groups = 0;
    if (t->style != CLGRAD__STYLE_DEVICE) snprintf(t->file_status, sizeof t->file_status, "not read (forced style)");
    else if (ctx->flags & CLGRAD_CONTEXT_NO_TUNED) snprintf(t->file_status, sizeof t->file_status, "not read (disabled)");
    else load_tuned(ctx, t);
    t->resolved = 1;
}

/* The state, resolved; NULL only when the slot cannot be allocated. Resolution is a cache
 * of what ctx's device and files say, so it may run behind a const context. */
static tuned_state *state(const clgrad_context *ctx)
{
    clgrad_context *c = (clgrad_context *)ctx;
    tuned_state *t = clgrad__ctx_slot_find(c, &tuned_key);
    if (!t) {
        t = clgrad__ctx_slot(c, &tuned_key);
        if (!t) return NULL;
        t->vw = -1;
    }
    if (!t->resolved) resolve(ctx, t);
    return t;
}

static void changed(tuned_state *t)
{
    t->generation++;
    free(t->report);
    t->report = NULL;
}

const clgrad__ops_params *clgrad__ops_tuning(const clgrad_context *ctx)
{
    tuned_state *t = state(ctx);
    if (!t) { /* out of host memory: the device's table row */
        clgrad__tuning_device d = {&ctx->dev.info, 0};
        return clgrad__tuning_ops(&d, NULL);
    }
    return t->trial_ops ? &t->t_ops : &t->ops;
}

void clgrad__tuned_gemm(const clgrad_context *ctx, clgrad__gemm_choice *c)
{
    tuned_state *t = state(ctx);
    if (!t) {
        int rows[3];
        clgrad__ops_params ops;
        table_rows(ctx, CLGRAD__STYLE_DEVICE, 0, &ops, c, rows);
        return;
    }
    *c = t->trial_gemm ? t->t_gemm : t->gemm;
}

unsigned clgrad__tuned_generation(const clgrad_context *ctx)
{
    tuned_state *t = state(ctx);
    return t ? t->generation : 0;
}

void clgrad__tuned_defaults(const clgrad_context *ctx, clgrad__ops_params *ops, clgrad__gemm_choice *gemm)
{
    tuned_state *t = state(ctx);
    int rows[3];
    table_rows(ctx, CLGRAD__STYLE_DEVICE, t ? t->vw : 0, ops, gemm, rows);
}

/* --- hooks ------------------------------------------------------------------------------- */

clgrad_status clgrad__tuning_force_style(clgrad_context *ctx, clgrad__style style)
{
    tuned_state *t = state(ctx);
    if (!t) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    if (style < CLGRAD__STYLE_DEVICE || style > CLGRAD__STYLE_GPU)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "unknown tuning style %d", (int)style);
    t->style = style;
    resolve(ctx, t);
    changed(t);
    return CLGRAD_OK;
}

clgrad_status clgrad__tuning_set_limits(clgrad_context *ctx, size_t fold, int64_t red_chunk)
{
    tuned_state *t = state(ctx);
    if (!t) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    if (fold > DEFAULT_FOLD || red_chunk < 0 || red_chunk > DEFAULT_RED_CHUNK || (red_chunk && red_chunk < 64))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "limits: fold %zu (at most %zu) and reduction chunk %lld (64 to %lld) are invalid", fold,
                            DEFAULT_FOLD, (long long)red_chunk, (long long)DEFAULT_RED_CHUNK);
    t->fold = fold;
    t->red_chunk = red_chunk;
    changed(t);
    return CLGRAD_OK;
}

size_t clgrad__fold_limit(const clgrad_context *ctx)
{
    const tuned_state *t = clgrad__ctx_slot_find(ctx, &tuned_key);
    return t && t->fold ? t->fold : DEFAULT_FOLD;
}

int64_t clgrad__red_chunk(const clgrad_context *ctx)
{
    const tuned_state *t = clgrad__ctx_slot_find(ctx, &tuned_key);
    return t && t->red_chunk ? t->red_chunk : DEFAULT_RED_CHUNK;
}

void clgrad__tuned_trial(clgrad_context *ctx, const clgrad__ops_params *ops, const clgrad__gemm_choice *gemm)
{
    tuned_state *t = state(ctx);
    if (!t) return;
    t->trial_ops = ops != NULL;
    if (ops) t->t_ops = *ops;
    t->trial_gemm = gemm != NULL;
    if (gemm) t->t_gemm = *gemm;
    changed(t);
}

void clgrad__tuned_trial_end(clgrad_context *ctx) { clgrad__tuned_trial(ctx, NULL, NULL); }

/* --- the file ------------------------------------------------------------------------------ */

static cJSON *cpu_json(const clgrad__gemm_cpu_params *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "mr", p->mr);
    cJSON_AddNumberToObject(o, "vw", p->vw);
    cJSON_AddNumberToObject(o, "nv", p->nv);
    cJSON_AddNumberToObject(o, "pack_k", p->pack_k);
    cJSON_AddNumberToObject(o, "wi_m", p->wi_m);
    cJSON_AddNumberToObject(o, "wi_n", p->wi_n);
    cJSON_AddNumberToObject(o, "chunk_kb", p->chunk_kb);
    return o;
}

static cJSON *tiled_json(const clgrad__gemm_tiled_params *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "ts_m", p->ts_m);
    cJSON_AddNumberToObject(o, "ts_n", p->ts_n);
    cJSON_AddNumberToObject(o, "ts_k", p->ts_k);
    cJSON_AddNumberToObject(o, "wpt_m", p->wpt_m);
    cJSON_AddNumberToObject(o, "wpt_n", p->wpt_n);
    cJSON_AddNumberToObject(o, "pad", p->pad);
    return o;
}

static cJSON *gemm_json(const clgrad__gemm_choice *g)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "variant", g->tiled ? "tiled" : "cpu");
    cJSON_AddItemToObject(o, "cpu", cpu_json(&g->cpu));
    cJSON_AddItemToObject(o, "tiled", tiled_json(&g->tp));
    return o;
}

static cJSON *group_json(const clgrad__ops_params *p, unsigned group)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < N_FIELDS; i++)
        if (ops_fields[i].group == group)
            cJSON_AddNumberToObject(o, ops_fields[i].name, *field_at((clgrad__ops_params *)p, &ops_fields[i]));
    return o;
}

clgrad_status clgrad__tuned_store(clgrad_context *ctx, unsigned groups, const clgrad__ops_params *ops,
                                  const clgrad__gemm_choice *gemm, cJSON *measured)
{
    tuned_state *t = state(ctx);
    char *path = clgrad__tuned_path(ctx), *hash = sources_hash(ctx), *text = NULL;
    clgrad_status st = CLGRAD_OK;
    cJSON *root = cJSON_CreateObject();
    if (!t || !hash || !root) st = clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    else if (!path)
        st = clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED, "tuning: no cache folder to keep the results in");
    if (st == CLGRAD_OK && (groups & CLGRAD__TUNED_GEMM) && !(gemm_cpu_ok(&gemm->cpu) && gemm_tiled_ok(&gemm->tp)))
        st = clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "tuning: GEMM values out of range");
    for (size_t i = 0; st == CLGRAD_OK && i < N_FIELDS; i++)
        if ((groups & ops_fields[i].group) && !field_ok(&ops_fields[i], *field_at((clgrad__ops_params *)ops, &ops_fields[i])))
            st = clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "tuning: %s out of range", ops_fields[i].name);
    if (st == CLGRAD_OK) {
        const clgrad_device_info *d = &ctx->dev.info;
        cJSON_AddStringToObject(root, "format", "clgrad-tuned");
        cJSON_AddNumberToObject(root, "version", TUNED_FORMAT);
        cJSON_AddStringToObject(root, "clgrad", CLGRAD_VERSION_STRING);
        cJSON_AddStringToObject(root, "platform", d->platform_name);
        cJSON_AddStringToObject(root, "device", d->name);
        cJSON_AddStringToObject(root, "driver", d->driver_version);
        cJSON_AddStringToObject(root, "sources", hash);
        if (groups & CLGRAD__TUNED_GEMM) cJSON_AddItemToObject(root, "gemm", gemm_json(gemm));
        if (groups & CLGRAD__TUNED_CONV) cJSON_AddItemToObject(root, "conv", group_json(ops, CLGRAD__TUNED_CONV));
        if (groups & CLGRAD__TUNED_REDUCE)
            cJSON_AddItemToObject(root, "reduce", group_json(ops, CLGRAD__TUNED_REDUCE));
        if (measured) {
            cJSON_AddItemToObject(root, "measured", measured);
            measured = NULL;
        }
        text = cJSON_Print(root);
        if (!text) st = clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    }
    if (st == CLGRAD_OK) {
        st = clgrad__file_write_atomic(path, 0, text, strlen(text));
        if (st != CLGRAD_OK) st = clgrad__fail(ctx, st, "tuning: %s", clgrad_last_error(NULL));
    }
    if (st == CLGRAD_OK) { /* used from now on, by this context too */
        t->style = CLGRAD__STYLE_DEVICE;
        resolve(ctx, t);
        changed(t);
    }
    cJSON_Delete(measured);
    cJSON_Delete(root);
    free(text);
    free(hash);
    free(path);
    return st;
}

void clgrad__tuned_set_last_run(clgrad_context *ctx, cJSON *report)
{
    tuned_state *t = state(ctx);
    if (!t) {
        cJSON_Delete(report);
        return;
    }
    cJSON_Delete(t->last_run);
    t->last_run = report;
    changed(t);
}

/* --- the report --------------------------------------------------------------------------- */

static const char *source_name(const tuned_state *t, unsigned group)
{
    if (t->style != CLGRAD__STYLE_DEVICE) return "forced";
    return (t->tuned_groups & group) ? "tuned" : "default";
}

const char *clgrad_context_tuning(clgrad_context *ctx)
{
    if (!ctx) {
        clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_context_tuning: ctx is NULL");
        return NULL;
    }
    tuned_state *t = state(ctx);
    if (!t) return NULL;
    if (t->report) return t->report;
    cJSON *root = cJSON_CreateObject();
    char *path = clgrad__tuned_path(ctx);
    if (path) cJSON_AddStringToObject(root, "file", path);
    else cJSON_AddNullToObject(root, "file");
    free(path);
    cJSON_AddStringToObject(root, "file_status", t->file_status);
    cJSON_AddNumberToObject(root, "native_vector_width_float", t->vw);
    cJSON_AddStringToObject(root, "style", t->style == CLGRAD__STYLE_CPU ? "cpu" : t->style == CLGRAD__STYLE_GPU ? "gpu"
                                                                                                          : "device");
    cJSON *g = gemm_json(&t->gemm);
    cJSON_AddStringToObject(g, "source", source_name(t, CLGRAD__TUNED_GEMM));
    cJSON_AddNumberToObject(g, "cpu_row", t->cpu_row);
    cJSON_AddNumberToObject(g, "tiled_row", t->tiled_row);
    cJSON_AddItemToObject(root, "gemm", g);
    static const struct { const char *name; unsigned group; } sections[] = {{"conv", CLGRAD__TUNED_CONV},
                                                                           {"reduce", CLGRAD__TUNED_REDUCE}};
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
        cJSON *o = group_json(&t->ops, sections[s].group);
        cJSON_AddStringToObject(o, "source", source_name(t, sections[s].group));
        cJSON_AddItemToObject(root, sections[s].name, o);
    }
    cJSON *other = cJSON_CreateObject();
    cJSON_AddNumberToObject(other, "ops_row", t->ops_row);
    cJSON_AddNumberToObject(other, "wg_1d", t->ops.wg_1d);
    cJSON_AddNumberToObject(other, "vw", t->ops.vw);
    cJSON_AddNumberToObject(other, "smx_wg", t->ops.smx_wg);
    cJSON_AddNumberToObject(other, "smx_vw", t->ops.smx_vw);
    cJSON_AddNumberToObject(other, "nll_fused_smooth", t->ops.nll_fused_smooth);
    cJSON_AddStringToObject(other, "source", t->style != CLGRAD__STYLE_DEVICE ? "forced" : "default");
    cJSON_AddItemToObject(root, "other", other);
    if (t->last_run) cJSON_AddItemReferenceToObject(root, "last_run", t->last_run);
    t->report = cJSON_Print(root);
    cJSON_Delete(root);
    if (!t->report) clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    return t->report;
}
