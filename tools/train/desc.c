/* What clgrad-train keeps in a checkpoint's metadata besides the training settings: the
 * description of the data (kind, reading options, shape, classes, normalisation), written by
 * data_desc_save and read back by data_desc_load for --resume, eval and predict; and values
 * longer than one metadata entry, split over numbered keys. */
#include "train.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (CLGRAD_CHECKPOINT_VALUE_MAX - 1)

clgrad_status meta_set_long(clgrad_checkpoint_meta *m, const char *key, const char *value)
{
    size_t n = strlen(value), off = 0;
    int part = 0;
    do {
        char k[CLGRAD_CHECKPOINT_KEY_MAX], v[CLGRAD_CHECKPOINT_VALUE_MAX];
        size_t len = n - off > CHUNK ? CHUNK : n - off;
        if (part == 0) snprintf(k, sizeof k, "%s", key);
        else snprintf(k, sizeof k, "%s.%d", key, part);
        memcpy(v, value + off, len);
        v[len] = '\0';
        clgrad_status s = clgrad_checkpoint_meta_set(m, k, v);
        if (s != CLGRAD_OK) return s;
        off += len;
        part++;
    } while (off < n);
    return CLGRAD_OK;
}

char *meta_get_long(const clgrad_checkpoint_meta *m, const char *key)
{
    const char *v = clgrad_checkpoint_meta_get(m, key);
    if (!v) return NULL;
    size_t cap = strlen(v) + 1;
    char *out = malloc(cap);
    if (!out) return NULL;
    strcpy(out, v);
    for (int part = 1;; part++) {
        char k[CLGRAD_CHECKPOINT_KEY_MAX];
        snprintf(k, sizeof k, "%s.%d", key, part);
        const char *more = clgrad_checkpoint_meta_get(m, k);
        if (!more) break;
        char *g = realloc(out, cap + strlen(more));
        if (!g) {
            free(out);
            return NULL;
        }
        out = g;
        strcat(out, more);
        cap += strlen(more);
    }
    return out;
}

/* A list of floats as "%.9g" joined by ','. */
static char *join_floats(const float *v, int n)
{
    char *s = malloc((size_t)n * 20 + 1);
    if (!s) return NULL;
    size_t k = 0;
    s[0] = '\0';
    for (int i = 0; i < n; i++) k += (size_t)sprintf(s + k, "%s%.9g", i ? "," : "", (double)v[i]);
    return s;
}

static int split_floats(const char *s, float *v, int n)
{
    for (int i = 0; i < n; i++) {
        char *end;
        v[i] = strtof(s, &end);
        if (end == s || (i + 1 < n ? *end != ',' : *end != '\0')) return -1;
        s = end + (i + 1 < n);
    }
    return 0;
}

clgrad_status data_desc_save(const data_desc *d, clgrad_checkpoint_meta *m)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "kind=%d;regress=%d;channels_last=%d;header=%d;skip=%" PRId64 ";delim=%d;window=%d;"
             "horizon=%d;shape=%d,%" PRId64 ",%" PRId64 ",%" PRId64 ";classes=%d;targets=%d;norm=%d,%d;tnorm=%.9g,%.9g",
             (int)d->kind, d->regress, d->channels_last, d->csv_header, d->csv_skip, (int)d->csv_delim, d->window,
             d->horizon, d->sample_nd, d->sample_shape[0], d->sample_shape[1], d->sample_shape[2], d->n_classes,
             d->n_targets, d->norm_axis, d->norm_n, (double)d->t_mean, (double)d->t_std);
    clgrad_status s = clgrad_checkpoint_meta_set(m, "data.desc", buf);
    if (s == CLGRAD_OK && d->target[0]) s = clgrad_checkpoint_meta_set(m, "data.target", d->target);
    if (s == CLGRAD_OK && d->features[0]) s = clgrad_checkpoint_meta_set(m, "data.features", d->features);
    char *mean = join_floats(d->mean, d->norm_n), *std = join_floats(d->std, d->norm_n);
    if (s == CLGRAD_OK) s = mean && std ? meta_set_long(m, "data.mean", mean) : CLGRAD_ERR_HOST_MEMORY;
    if (s == CLGRAD_OK) s = meta_set_long(m, "data.std", std);
    free(mean);
    free(std);
    if (s == CLGRAD_OK && d->n_class_names) {
        size_t len = 1;
        for (int i = 0; i < d->n_class_names; i++) len += strlen(d->class_names[i]) + 1;
        char *names = malloc(len);
        if (!names) return CLGRAD_ERR_HOST_MEMORY;
        names[0] = '\0';
        for (int i = 0; i < d->n_class_names; i++) strcat(strcat(names, i ? "\n" : ""), d->class_names[i]);
        s = meta_set_long(m, "data.class_names", names);
        free(names);
    }
    return s;
}

int data_desc_load(const clgrad_checkpoint_meta *m, data_desc *d, const char *path)
{
    memset(d, 0, sizeof *d);
    const char *v = clgrad_checkpoint_meta_get(m, "data.desc");
    if (!v) {
        /* A checkpoint of the first clgrad-train: Fashion-MNIST-like 28x28 images. */
        static float fm_mean = 0.2860f, fm_std = 0.3530f;
        d->kind = DATA_IDX;
        d->sample_nd = 3, d->sample_shape[0] = 1, d->sample_shape[1] = d->sample_shape[2] = 28;
        d->n_classes = 10;
        d->norm_n = 1;
        d->mean = malloc(sizeof *d->mean), d->std = malloc(sizeof *d->std);
        if (!d->mean || !d->std) return TRAIN_EXIT_FAIL;
        *d->mean = fm_mean, *d->std = fm_std;
        return 0;
    }
    int kind, delim;
    double tm, ts;
    if (sscanf(v, "kind=%d;regress=%d;channels_last=%d;header=%d;skip=%" SCNd64 ";delim=%d;window=%d;horizon=%d;"
                  "shape=%d,%" SCNd64 ",%" SCNd64 ",%" SCNd64 ";classes=%d;targets=%d;norm=%d,%d;tnorm=%lg,%lg",
               &kind, &d->regress, &d->channels_last, &d->csv_header, &d->csv_skip, &delim, &d->window, &d->horizon,
               &d->sample_nd, &d->sample_shape[0], &d->sample_shape[1], &d->sample_shape[2], &d->n_classes,
               &d->n_targets, &d->norm_axis, &d->norm_n, &tm, &ts) != 18 ||
        kind < 0 || kind > 2 || d->norm_n < 1 || d->norm_n > 1 << 20 || d->sample_nd < 1 || d->sample_nd > 3) {
        fprintf(stderr, "clgrad-train: %s: the data description in the checkpoint is damaged\n", path);
        return TRAIN_EXIT_FAIL;
    }
    d->kind = (data_kind)kind;
    d->csv_delim = (char)delim;
    d->t_mean = (float)tm, d->t_std = (float)ts;
    const char *t = clgrad_checkpoint_meta_get(m, "data.target");
    if (t) snprintf(d->target, sizeof d->target, "%s", t);
    t = clgrad_checkpoint_meta_get(m, "data.features");
    if (t) snprintf(d->features, sizeof d->features, "%s", t);
    char *mean = meta_get_long(m, "data.mean"), *std = meta_get_long(m, "data.std");
    d->mean = malloc((size_t)d->norm_n * sizeof *d->mean);
    d->std = malloc((size_t)d->norm_n * sizeof *d->std);
    int rc = mean && std && d->mean && d->std && split_floats(mean, d->mean, d->norm_n) == 0 &&
                     split_floats(std, d->std, d->norm_n) == 0 ? 0 : TRAIN_EXIT_FAIL;
    free(mean);
    free(std);
    char *names = rc == 0 ? meta_get_long(m, "data.class_names") : NULL;
    if (names) {
        int n = 1;
        for (char *c = names; *c; c++) n += *c == '\n';
        d->class_names = calloc((size_t)n, sizeof *d->class_names);
        char *p = names;
        for (int i = 0; d->class_names && i < n; i++) {
            char *e = strchr(p, '\n');
            if (e) *e = '\0';
            d->class_names[i] = strdup(p);
            p = e ? e + 1 : p + strlen(p);
        }
        d->n_class_names = d->class_names ? n : 0;
        free(names);
    }
    if (rc) fprintf(stderr, "clgrad-train: %s: the normalisation in the checkpoint is damaged\n", path);
    return rc;
}
