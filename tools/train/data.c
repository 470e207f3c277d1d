/* Data for clgrad-train: IDX images of any size and channel count (a folder in the
 * Fashion-MNIST layout, or an images file and a labels file), CSV tables (classification
 * with integer or string labels, regression) and CSV time series cut into windows; the
 * held-out validation and test sets; normalisation computed from the training samples; the
 * label checks; `clgrad-train inspect`. report.c prints the data report, desc.c stores the
 * description of all that in checkpoints so that evaluation reads new data the same way. */
#include "train.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void data_desc_free(data_desc *d)
{
    for (int i = 0; i < d->n_class_names; i++) free(d->class_names[i]);
    free(d->class_names);
    free(d->mean);
    free(d->std);
    d->class_names = NULL;
    d->mean = d->std = NULL;
    d->n_class_names = 0;
}

void data_release(train_data *td)
{
    clgrad_dataset_release(td->train);
    clgrad_dataset_release(td->val);
    clgrad_dataset_release(td->test);
    data_desc_free(&td->d);
    memset(td, 0, sizeof *td);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int is_csv_name(const char *p)
{
    static const char *const ext[] = {".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz", ".data", NULL};
    for (int i = 0; ext[i]; i++)
        if (ends_with(p, ext[i])) return 1;
    return 0;
}

/* dir/<prefix>-<kind>-idx<D>-ubyte[.gz] for D in 1..4; "" when none exists. */
static void find_idx(char *buf, size_t cap, const char *dir, const char *prefix, const char *kind)
{
    for (int d = 1; d <= 4; d++)
        for (int gz = 0; gz < 2; gz++) {
            snprintf(buf, cap, "%s/%s-%s-idx%d-ubyte%s", dir, prefix, kind, d, gz ? ".gz" : "");
            if (file_exists(buf)) return;
        }
    buf[0] = '\0';
}

static void err_lib(const char *what)
{
    fprintf(stderr, "clgrad-train: %s: %s\n", what, clgrad_last_error(NULL));
}

/* ---------------------------------------------------------------------------------------
 * IDX
 * ------------------------------------------------------------------------------------- */

/* Loads images + labels; a 4-D file is read channels-last when asked, or (auto) when its
 * last dimension looks like channels (1, 3 or 4) and its second does not. */
static int load_idx_pair(const char *images, const char *labels, int *channels_last, clgrad_dataset **out)
{
    clgrad_dataset_opts o = {0};
    o.channels_last = *channels_last > 0;
    clgrad_status s = clgrad_dataset_load_idx(images, labels, &o, out);
    if (s == CLGRAD_OK && *channels_last < 0) {
        int64_t sh[CLGRAD_IDX_MAX_DIMS];
        int nd = clgrad_dataset_sample_shape(*out, sh);
        *channels_last = 0;
        if (nd == 3 && (sh[2] == 1 || sh[2] == 3 || sh[2] == 4) && sh[0] > 4) {
            clgrad_dataset_release(*out);
            o.channels_last = *channels_last = 1;
            s = clgrad_dataset_load_idx(images, labels, &o, out);
        }
    }
    if (s != CLGRAD_OK) {
        err_lib("cannot load the dataset (see --data)");
        return TRAIN_EXIT_FAIL;
    }
    return 0;
}

/* Sample shape as the networks see it: (C, H, W) for images, (F) for vectors. */
static int idx_shape(const clgrad_dataset *ds, const char *name, data_desc *d)
{
    int64_t sh[CLGRAD_IDX_MAX_DIMS];
    int nd = clgrad_dataset_sample_shape(ds, sh);
    if (nd == 1) {
        d->sample_nd = 1, d->sample_shape[0] = sh[0];
    } else if (nd == 2) {
        d->sample_nd = 3, d->sample_shape[0] = 1, d->sample_shape[1] = sh[0], d->sample_shape[2] = sh[1];
    } else if (nd == 3) {
        d->sample_nd = 3;
        memcpy(d->sample_shape, sh, 3 * sizeof *sh);
    } else {
        fprintf(stderr, "clgrad-train: %s: samples with %d dimensions; images are N x H x W, N x C x H x W or "
                        "N x H x W x C (--layout nhwc)\n", name, nd);
        return TRAIN_EXIT_FAIL;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * CSV
 * ------------------------------------------------------------------------------------- */

static int load_csv_table(const train_args *a, const data_desc *d, const char *path, clgrad_csv **t)
{
    clgrad_csv_opts o = {.delimiter = d->csv_delim, .header = (clgrad_csv_header)d->csv_header,
                         .skip_lines = d->csv_skip};
    (void)a;
    if (clgrad_csv_load(path, &o, t) != CLGRAD_OK) {
        fprintf(stderr, "clgrad-train: cannot load the CSV file: %s\n", clgrad_last_error(NULL));
        if (strstr(clgrad_last_error(NULL), "skip_lines")) fprintf(stderr, "  hint: --csv-skip 1 skips the first line\n");
        return TRAIN_EXIT_FAIL;
    }
    return 0;
}

static void col_name(const clgrad_csv *t, int c, char *buf, size_t cap)
{
    const char *n = clgrad_csv_name(t, c);
    if (n) snprintf(buf, cap, "column %d '%s'", c, n);
    else snprintf(buf, cap, "column %d", c);
}

/* One problem found in a table (all of them are collected for the report). */
typedef struct table_issues {
    int64_t missing, nonfinite, text;
    char first[512]; /* the first problem, as a message */
} table_issues;

static void note_issue(table_issues *is, const clgrad_csv *t, const char *path, int64_t r, int c, clgrad_csv_value k)
{
    if (k == CLGRAD_CSV_MISSING) is->missing++;
    else if (k == CLGRAD_CSV_NONFINITE) is->nonfinite++;
    else is->text++;
    if (is->first[0]) return;
    char cn[300];
    col_name(t, c, cn, sizeof cn);
    snprintf(is->first, sizeof is->first, "%s: line %" PRId64 " (row %" PRId64 "), %s: %s%s%s", path,
             clgrad_csv_line(t, r), r, cn,
             k == CLGRAD_CSV_MISSING ? "a missing value" : k == CLGRAD_CSV_NONFINITE ? "a non-finite value '" :
                                                                                       "not a number: '",
             k == CLGRAD_CSV_MISSING ? "" : clgrad_csv_cell(t, r, c), k == CLGRAD_CSV_MISSING ? "" : "'");
}

static int cmp_str(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

/* Class of a target cell: integer labels as they are, string labels through d's names
 * (sorted, so the same file gives the same classes). -1: not a class (message printed). */
static int label_of(const clgrad_csv *t, const data_desc *d, const char *path, int64_t r, int32_t *out)
{
    const char *cell = clgrad_csv_cell(t, r, d->target_col);
    char cn[300];
    col_name(t, d->target_col, cn, sizeof cn);
    if (d->n_class_names) {
        char *key = (char *)cell;
        char **hit = bsearch(&key, d->class_names, (size_t)d->n_class_names, sizeof(char *), cmp_str);
        if (!hit) {
            fprintf(stderr, "clgrad-train: %s: line %" PRId64 ", %s: label '%s' is not one of the %d classes the "
                            "network was trained on\n", path, clgrad_csv_line(t, r), cn, cell, d->n_class_names);
            return -1;
        }
        *out = (int32_t)(hit - d->class_names);
        return 0;
    }
    double v;
    clgrad_csv_value k = clgrad_csv_number(t, r, d->target_col, &v);
    if (k != CLGRAD_CSV_NUMBER || v != floor(v) || v < 0 || v > 1e9) {
        fprintf(stderr, "clgrad-train: %s: line %" PRId64 ", %s: label '%s' is not a class: classes are whole "
                        "numbers >= 0 or names%s\n", path, clgrad_csv_line(t, r), cn, cell,
                k == CLGRAD_CSV_NUMBER && v != floor(v) ? " (for a numeric target use --task regress)" : "");
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

/* Decides the columns: the target (--target, else the last column) and the features (all
 * others). For a table without the target column (predict), all columns are features. */
static int csv_columns(const clgrad_csv *t, data_desc *d, const char *path, int need_target)
{
    int cols = clgrad_csv_cols(t);
    const char *tg = d->target[0] ? d->target : "-1";
    d->target_col = clgrad_csv_find(t, tg);
    /* A file to predict on may lack the target column: same columns less one. */
    if (!need_target && d->kind == DATA_CSV && (d->features[0] ? d->target_col < 0 : cols == d->n_features))
        d->target_col = -1;
    else if (d->target_col < 0) {
        fprintf(stderr, "clgrad-train: %s: no column '%s' (--target takes a header name or a column number; the "
                        "file has %d columns%s)\n", path, tg, cols, clgrad_csv_name(t, 0) ? " with a header" :
                                                                                            ", no header");
        return TRAIN_EXIT_FAIL;
    }
    if (d->features[0]) {
        char buf[sizeof d->features];
        snprintf(buf, sizeof buf, "%s", d->features);
        int n = 0;
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            int c = clgrad_csv_find(t, tok);
            if (c < 0 || n == DATA_MAX_COLS || (c == d->target_col && d->kind != DATA_SERIES)) {
                fprintf(stderr, "clgrad-train: %s: --features: %s '%s'\n", path,
                        c < 0 ? "no column" : "the target cannot be an input:", tok);
                return TRAIN_EXIT_FAIL;
            }
            d->feature_cols[n++] = c;
        }
        d->n_features = n;
        return n ? 0 : TRAIN_EXIT_FAIL;
    }
    if (d->kind == DATA_SERIES) {
        /* Every column is an input feature; the target column is also what is forecast. */
        d->n_features = cols;
        for (int c = 0; c < cols; c++) d->feature_cols[c] = c;
        return 0;
    }
    if (d->target_col < 0) {
        for (int c = 0; c < cols; c++) d->feature_cols[c] = c;
        return 0;
    }
    if (cols - 1 > DATA_MAX_COLS) {
        fprintf(stderr, "clgrad-train: %s: %d columns; at most %d features\n", path, cols, DATA_MAX_COLS);
        return TRAIN_EXIT_FAIL;
    }
    int n = 0;
    for (int c = 0; c < cols; c++)
        if (c != d->target_col) d->feature_cols[n++] = c;
    if (n == 0) {
        fprintf(stderr, "clgrad-train: %s: only the target column; no features to learn from\n", path);
        return TRAIN_EXIT_FAIL;
    }
    d->n_features = n;
    return 0;
}

/* The distinct string labels of the target column, when any target cell is not a number. */
static int csv_class_names(const clgrad_csv *t, data_desc *d)
{
    int64_t rows = clgrad_csv_rows(t);
    int text = 0;
    for (int64_t r = 0; r < rows && !text; r++)
        text = clgrad_csv_number(t, r, d->target_col, NULL) == CLGRAD_CSV_TEXT;
    if (!text) return 0;
    char **names = malloc((size_t)rows * sizeof *names);
    if (!names) return TRAIN_EXIT_FAIL;
    for (int64_t r = 0; r < rows; r++) names[r] = (char *)clgrad_csv_cell(t, r, d->target_col);
    qsort(names, (size_t)rows, sizeof *names, cmp_str);
    int64_t k = 0;
    for (int64_t r = 0; r < rows; r++)
        if (k == 0 || strcmp(names[k - 1], names[r]) != 0) names[k++] = names[r];
    d->class_names = calloc((size_t)k, sizeof *d->class_names);
    for (int64_t i = 0; d->class_names && i < k; i++) d->class_names[i] = strdup(names[i]);
    free(names);
    if (!d->class_names) return TRAIN_EXIT_FAIL;
    d->n_class_names = (int)k;
    return 0;
}

/* The features of row r into x (n_features floats); counts problems. */
static void csv_row(const clgrad_csv *t, const data_desc *d, const char *path, int64_t r, float *x, table_issues *is)
{
    for (int j = 0; j < d->n_features; j++) {
        double v = 0;
        clgrad_csv_value k = clgrad_csv_number(t, r, d->feature_cols[j], &v);
        if (k != CLGRAD_CSV_NUMBER) note_issue(is, t, path, r, d->feature_cols[j], k);
        x[j] = (float)v;
    }
}

/* A table as a dataset: rows of features with labels (classification) or the target
 * (regression). With need_target 0 and no target column, labels are 0 and *has_targets 0. */
static int csv_dataset(const clgrad_csv *t, const data_desc *d, const char *path, int need_target, int report_only,
                       clgrad_dataset **out, table_issues *is)
{
    int64_t rows = clgrad_csv_rows(t);
    int nf = d->n_features;
    float *x = malloc((size_t)(rows ? rows : 1) * (size_t)nf * sizeof *x);
    int32_t *y = malloc((size_t)(rows ? rows : 1) * sizeof *y);
    float *tg = malloc((size_t)(rows ? rows : 1) * sizeof *tg);
    int rc = 0;
    if (!x || !y || !tg) rc = TRAIN_EXIT_FAIL;
    for (int64_t r = 0; rc == 0 && r < rows; r++) {
        csv_row(t, d, path, r, x + (size_t)r * (size_t)nf, is);
        y[r] = 0;
        tg[r] = 0;
        if (d->target_col < 0) continue;
        if (d->regress) {
            double v = 0;
            clgrad_csv_value k = clgrad_csv_number(t, r, d->target_col, &v);
            if (k != CLGRAD_CSV_NUMBER) note_issue(is, t, path, r, d->target_col, k);
            tg[r] = (float)v;
        } else if (label_of(t, d, path, r, &y[r]) != 0) {
            rc = TRAIN_EXIT_FAIL;
        }
    }
    (void)need_target;
    if (rc == 0 && (is->missing || is->nonfinite || is->text) && !report_only) {
        fprintf(stderr, "clgrad-train: %s\n", is->first);
        if (is->missing + is->nonfinite + is->text > 1)
            fprintf(stderr, "  (%" PRId64 " missing, %" PRId64 " non-finite and %" PRId64 " non-numeric cells in "
                            "all; clgrad-train inspect --data %s lists them by column)\n", is->missing, is->nonfinite,
                    is->text, path);
        rc = TRAIN_EXIT_FAIL;
    }
    if (rc == 0) {
        int64_t shape[1] = {nf};
        clgrad_status s = d->regress ? clgrad_dataset_from_floats(rows, 1, shape, x, NULL, 1, tg, out)
                                     : clgrad_dataset_from_floats(rows, 1, shape, x, y, 0, NULL, out);
        if (s != CLGRAD_OK) {
            err_lib(path);
            rc = TRAIN_EXIT_FAIL;
        }
    }
    free(x);
    free(y);
    free(tg);
    return rc;
}

/* A series as windows: sample i is rows [i, i + window) of every feature column, (window,
 * F); its targets the target column at rows i + window .. i + window + horizon - 1. */
static int series_dataset(const clgrad_csv *t, const data_desc *d, const char *path, int report_only,
                          clgrad_dataset **out, table_issues *is)
{
    int64_t rows = clgrad_csv_rows(t), w = d->window, h = d->horizon, nf = d->n_features;
    int64_t n = rows - w - h + 1;
    if (n < 1) {
        fprintf(stderr, "clgrad-train: %s: %" PRId64 " rows make no window of %" PRId64 " steps and %" PRId64
                        " ahead\n", path, rows, w, h);
        return TRAIN_EXIT_FAIL;
    }
    float *vals = malloc((size_t)rows * (size_t)nf * sizeof *vals);
    float *x = malloc((size_t)n * (size_t)(w * nf) * sizeof *x);
    float *tg = malloc((size_t)n * (size_t)h * sizeof *tg);
    int rc = vals && x && tg ? 0 : TRAIN_EXIT_FAIL;
    for (int64_t r = 0; rc == 0 && r < rows; r++) csv_row(t, d, path, r, vals + r * nf, is);
    if (rc == 0 && (is->missing || is->nonfinite || is->text) && !report_only) {
        fprintf(stderr, "clgrad-train: %s\n", is->first);
        rc = TRAIN_EXIT_FAIL;
    }
    int tcol = 0;
    for (int j = 0; j < nf; j++)
        if (d->feature_cols[j] == d->target_col) tcol = j;
    for (int64_t i = 0; rc == 0 && i < n; i++) {
        memcpy(x + i * w * nf, vals + i * nf, (size_t)(w * nf) * sizeof *x);
        for (int64_t k = 0; k < h; k++) tg[i * h + k] = vals[(i + w + k) * nf + tcol];
    }
    if (rc == 0) {
        int64_t shape[2] = {w, nf};
        if (clgrad_dataset_from_floats(n, 2, shape, x, NULL, (int)h, tg, out) != CLGRAD_OK) {
            err_lib(path);
            rc = TRAIN_EXIT_FAIL;
        }
    }
    free(vals);
    free(x);
    free(tg);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Loading for training
 * ------------------------------------------------------------------------------------- */

static void desc_from_args(const train_args *a, data_desc *d)
{
    memset(d, 0, sizeof *d);
    d->channels_last = a->channels_last;
    d->csv_header = a->csv_header;
    d->csv_skip = a->csv_skip;
    d->csv_delim = a->csv_delim;
    snprintf(d->target, sizeof d->target, "%s", a->target ? a->target : "");
    snprintf(d->features, sizeof d->features, "%s", a->features ? a->features : "");
    d->window = a->window;
    d->horizon = a->window > 0 ? (a->horizon > 0 ? a->horizon : 1) : 0;
    d->regress = a->task ? strcmp(a->task, "regress") == 0 : a->window > 0;
}

/* Loads one file (or folder's training part) into *out the way d says; for a folder
 * *test_path gets the test files' images path (labels in test_labels). */
static int load_one(const train_args *a, data_desc *d, const char *path, const char *labels, int report_only,
                    clgrad_dataset **out, table_issues *is)
{
    if (d->kind == DATA_IDX) {
        int rc = load_idx_pair(path, labels, &d->channels_last, out);
        return rc ? rc : idx_shape(*out, path, d);
    }
    clgrad_csv *t = NULL;
    int rc = load_csv_table(a, d, path, &t);
    if (rc == 0) rc = csv_columns(t, d, path, 1);
    if (rc == 0 && !d->regress && d->kind == DATA_CSV && !d->n_class_names) rc = csv_class_names(t, d);
    if (rc == 0 && d->kind == DATA_SERIES) rc = series_dataset(t, d, path, report_only, out, is);
    else if (rc == 0) rc = csv_dataset(t, d, path, 1, report_only, out, is);
    if (rc == 0 && d->kind == DATA_CSV) d->sample_nd = 1, d->sample_shape[0] = d->n_features;
    if (rc == 0 && d->kind == DATA_SERIES) d->sample_nd = 2, d->sample_shape[0] = d->window, d->sample_shape[1] = d->n_features;
    if (rc == 0 && d->regress) d->n_targets = d->kind == DATA_SERIES ? d->horizon : 1;
    clgrad_csv_release(t);
    return rc;
}

/* Splits n_hold samples off *ds (seeded; chronological, from the end, for a series, with
 * a gap of gap samples so that no window overlaps the other part). */
static int hold_out(const data_desc *d, clgrad_dataset **ds, double frac, uint64_t seed, int64_t gap,
                    clgrad_dataset **held, const char *what)
{
    int64_t n = clgrad_dataset_count(*ds);
    int64_t k = (int64_t)llround(frac * (double)n);
    if (k < 1 || n - k - gap < 1) {
        fprintf(stderr, "clgrad-train: --%s %g of %" PRId64 " samples leaves %s\n", what, frac, n,
                k < 1 ? "an empty held-out set" : "nothing to train on");
        return TRAIN_EXIT_USAGE;
    }
    clgrad_dataset *rest = NULL;
    clgrad_status s;
    if (d->kind == DATA_SERIES) {
        s = clgrad_dataset_slice(*ds, n - k, k, held);
        if (s == CLGRAD_OK) s = clgrad_dataset_slice(*ds, 0, n - k - gap, &rest);
    } else {
        s = clgrad_dataset_split(*ds, k, seed, &rest, held);
    }
    if (s != CLGRAD_OK) {
        err_lib("cannot split the data");
        return TRAIN_EXIT_FAIL;
    }
    clgrad_dataset_release(*ds);
    *ds = rest;
    return 0;
}

/* Mean and std per channel of the training samples; images' are rounded to 4 decimals (a
 * value like Fashion-MNIST's published 0.2860 / 0.3530, and the same bits on every run). */
static int compute_norm(data_desc *d, const clgrad_dataset *train)
{
    int64_t sh[CLGRAD_IDX_MAX_DIMS];
    int nd = clgrad_dataset_sample_shape(train, sh);
    int images = d->kind == DATA_IDX && d->sample_nd == 3;
    int axis = d->kind == DATA_SERIES ? 1 : 0;
    int64_t nc = images && nd == 2 ? sh[0] : sh[axis];
    double *m = calloc((size_t)nc, sizeof *m), *s = calloc((size_t)nc, sizeof *s);
    if (!m || !s || clgrad_dataset_channel_stats(train, axis, m, s, NULL, NULL) != CLGRAD_OK) {
        free(m);
        free(s);
        err_lib("cannot compute the normalisation");
        return TRAIN_EXIT_FAIL;
    }
    int n = (int)nc;
    if (images && nd == 2) {
        /* A one-channel H x W file: the rows' statistics make the image's (equal counts). */
        double mean = 0, sq = 0;
        for (int i = 0; i < n; i++) mean += m[i] / n, sq += (s[i] * s[i] + m[i] * m[i]) / n;
        m[0] = mean;
        s[0] = sqrt(fmax(sq - mean * mean, 0));
        n = 1;
    }
    d->norm_axis = images && nd == 2 ? 0 : axis;
    d->norm_n = n;
    d->mean = malloc((size_t)n * sizeof *d->mean);
    d->std = malloc((size_t)n * sizeof *d->std);
    for (int c = 0; d->mean && d->std && c < n; c++) {
        double mc = m[c], sc = s[c];
        if (images) {
            mc = round(mc * 1e4) / 1e4;
            sc = round(sc * 1e4) / 1e4;
        }
        /* A constant channel or column: centred, not scaled. */
        if (!(sc > 1e-12)) sc = 1;
        d->mean[c] = (float)mc;
        d->std[c] = (float)sc;
    }
    free(m);
    free(s);
    return d->mean && d->std ? 0 : TRAIN_EXIT_FAIL;
}

static int apply_norm(const data_desc *d, clgrad_dataset *ds)
{
    if (!ds || !d->mean) return 0; /* not computed yet: the caller normalises later */
    if (clgrad_dataset_set_normalization(ds, d->norm_axis, d->norm_n, d->mean, d->std) != CLGRAD_OK) {
        err_lib("cannot set the normalisation");
        return TRAIN_EXIT_FAIL;
    }
    return 0;
}

/* The regression target's mean and std over the training samples. */
static int target_norm(data_desc *d, const clgrad_dataset *train)
{
    int64_t n = clgrad_dataset_count(train), nt = d->n_targets, bs = 1024;
    float *t = malloc((size_t)(bs * nt) * sizeof *t);
    if (!t) return TRAIN_EXIT_FAIL;
    double sum = 0, sq = 0;
    int64_t cnt = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int64_t b = 0; b < clgrad_dataset_n_batches(train, bs); b++) {
            int64_t k = 0;
            clgrad_dataset_batch_targets(train, b, bs, NULL, t, &k);
            for (int64_t i = 0; i < k * nt; i++) {
                if (pass == 0) sum += t[i], cnt++;
                else sq += (t[i] - sum / (double)cnt) * (t[i] - sum / (double)cnt);
            }
        }
    free(t);
    (void)n;
    d->t_mean = cnt ? (float)(sum / (double)cnt) : 0.0f;
    double sd = cnt ? sqrt(sq / (double)cnt) : 1.0;
    d->t_std = sd > 1e-12 ? (float)sd : 1.0f;
    return 0;
}

/* Classes from the labels of every split, checked: a class without a training sample, or
 * labels that skip values, are an error unless allowed. */
static int check_labels(const train_args *a, train_data *td)
{
    data_desc *d = &td->d;
    clgrad_dataset *sets[3] = {td->train, td->val, td->test};
    const char *names[3] = {"training", "validation", "test"};
    int32_t hi_all = -1, hi[3] = {-1, -1, -1};
    for (int i = 0; i < 3; i++) {
        if (!sets[i]) continue;
        clgrad_dataset_label_stats(sets[i], NULL, &hi[i], NULL, 0);
        if (hi[i] > hi_all) hi_all = hi[i];
    }
    if (hi_all < 0) {
        fprintf(stderr, "clgrad-train: the training set is empty\n");
        return TRAIN_EXIT_FAIL;
    }
    if (hi_all >= 100000) {
        fprintf(stderr, "clgrad-train: label %d: at most 100000 classes\n", hi_all);
        return TRAIN_EXIT_FAIL;
    }
    int n_classes = hi_all + 1;
    if (d->n_class_names > n_classes) n_classes = d->n_class_names;
    int64_t *counts = calloc((size_t)n_classes, sizeof *counts);
    if (!counts) return TRAIN_EXIT_FAIL;
    clgrad_dataset_label_stats(td->train, NULL, NULL, counts, n_classes);
    int absent = 0, first_absent = -1;
    for (int k = 0; k < n_classes; k++)
        if (!counts[k]) absent++, first_absent = first_absent < 0 ? k : first_absent;
    d->n_classes = n_classes;
    int rc = 0;
    if (absent && !a->allow_sparse) {
        fprintf(stderr, "clgrad-train: the labels span 0 .. %d (%d classes) but %d of them have no training sample "
                        "(the first: %d)", n_classes - 1, n_classes, absent, first_absent);
        for (int i = 1; i < 3; i++)
            if (hi[i] > hi[0]) fprintf(stderr, "; the %s set has label %d", names[i], hi[i]);
        fprintf(stderr, ".\n  A label outside the classes would make a bigger model than the data has classes. "
                        "Check the labels (clgrad-train inspect --data ...),\n  or train anyway with "
                        "--allow-sparse-labels.\n");
        rc = TRAIN_EXIT_FAIL;
    } else if (absent && !a->quiet && !train_quiet_rank) {
        fprintf(stderr, "clgrad-train: warning: %d of the %d classes have no training sample "
                        "(--allow-sparse-labels)\n", absent, n_classes);
    }
    free(counts);
    return rc;
}

int data_load_for_training(const train_args *a, train_data *td)
{
    memset(td, 0, sizeof *td);
    data_desc *d = &td->d;
    desc_from_args(a, d);
    const char *path = a->data_dir;
    char img[4096], lab[4096], timg[4096], tlab[4096];
    const char *labels = a->labels, *test = a->test_path, *test_labels = NULL;
    table_issues is = {0};
    if (is_dir(path)) {
        d->kind = DATA_IDX;
        find_idx(img, sizeof img, path, "train", "images");
        find_idx(lab, sizeof lab, path, "train", "labels");
        if (!img[0] || !lab[0]) {
            fprintf(stderr, "clgrad-train: %s: no train-images-idxN-ubyte[.gz] and train-labels-idx1-ubyte[.gz] "
                            "(an IDX folder), see --data\n", path);
            return TRAIN_EXIT_FAIL;
        }
        path = img;
        labels = lab;
        find_idx(timg, sizeof timg, a->data_dir, "t10k", "images");
        find_idx(tlab, sizeof tlab, a->data_dir, "t10k", "labels");
        if (!test && timg[0] && tlab[0]) test = timg, test_labels = tlab;
    } else if (a->window > 0) {
        d->kind = DATA_SERIES;
    } else if (is_csv_name(path) || (!labels && file_exists(path))) {
        d->kind = DATA_CSV;
    } else {
        d->kind = DATA_IDX;
    }
    if (d->kind == DATA_IDX && !labels) {
        fprintf(stderr, "clgrad-train: %s: an IDX images file needs --labels FILE (or give a folder)\n", path);
        return TRAIN_EXIT_USAGE;
    }
    if (d->kind != DATA_IDX && a->labels) {
        fprintf(stderr, "clgrad-train: --labels goes with IDX images, not with a CSV file\n");
        return TRAIN_EXIT_USAGE;
    }
    if (d->kind == DATA_IDX && d->regress) {
        fprintf(stderr, "clgrad-train: --task regress needs CSV data; IDX files hold class labels\n");
        return TRAIN_EXIT_USAGE;
    }
    snprintf(td->train_name, sizeof td->train_name, "%s", path);
    int rc = load_one(a, d, path, labels, 0, &td->train, &is);
    if (rc) return rc;
    /* Test and validation sets: given files, else held out of the training file. */
    int64_t gap = d->kind == DATA_SERIES ? d->window + d->horizon - 1 : 0;
    if ((a->test_path && d->kind == DATA_IDX && !is_dir(a->test_path)) ||
        (a->val_path && d->kind == DATA_IDX && !is_dir(a->val_path))) {
        fprintf(stderr, "clgrad-train: --test and --val with IDX images take a folder (t10k-* or train-* files)\n");
        return TRAIN_EXIT_USAGE;
    }
    if (test) {
        /* Read as the training data was: the same columns, and string labels through the
         * training set's classes (a name it lacks is an error). */
        if (test_labels) {
            rc = load_idx_pair(test, test_labels, &d->channels_last, &td->test);
            data_desc dt = *d;
            if (rc == 0) rc = idx_shape(td->test, test, &dt);
            if (rc == 0 && (dt.sample_nd != d->sample_nd ||
                            memcmp(dt.sample_shape, d->sample_shape, sizeof(int64_t) * (size_t)d->sample_nd))) {
                fprintf(stderr, "clgrad-train: %s: its samples differ in shape from the training set's\n", test);
                rc = TRAIN_EXIT_FAIL;
            }
        } else {
            rc = data_load_like(a, d, test, 1, &td->test, NULL);
        }
        if (rc) return rc;
        snprintf(td->test_name, sizeof td->test_name, "%s", test);
    } else if (a->test_split > 0 || (d->kind != DATA_IDX && a->cmd != CMD_INSPECT)) {
        double f = a->test_split > 0 ? a->test_split : 0.2;
        rc = hold_out(d, &td->train, f, a->seed ^ 0x7e57u, gap, &td->test, "test-split");
        if (rc) return rc;
        snprintf(td->test_name, sizeof td->test_name, "held-out test split");
    }
    if (a->val_path) {
        rc = data_load_like(a, d, a->val_path, 1, &td->val, NULL);
        if (rc) return rc;
        snprintf(td->val_name, sizeof td->val_name, "%s", a->val_path);
    } else if (a->val_split > 0) {
        rc = hold_out(d, &td->train, a->val_split, a->seed ^ 0x7a1u, gap, &td->val, "val-split");
        if (rc) return rc;
        snprintf(td->val_name, sizeof td->val_name, "held-out validation split");
    }
    if (!d->regress && (rc = check_labels(a, td)) != 0) return rc;
    if ((rc = compute_norm(d, td->train)) != 0) return rc;
    if (d->regress && (rc = target_norm(d, td->train)) != 0) return rc;
    if ((rc = apply_norm(d, td->train)) != 0) return rc;
    return 0;
}

int data_load_like(const train_args *a, const data_desc *d0, const char *path, int need_targets,
                   clgrad_dataset **out, int *has_targets)
{
    *out = NULL;
    if (has_targets) *has_targets = 1;
    data_desc d = *d0;
    table_issues is = {0};
    int rc;
    if (d.kind == DATA_IDX) {
        char img[4096], lab[4096];
        const char *images = path, *labels = a->labels;
        if (is_dir(path)) {
            find_idx(img, sizeof img, path, "t10k", "images");
            find_idx(lab, sizeof lab, path, "t10k", "labels");
            if (!img[0]) find_idx(img, sizeof img, path, "train", "images"), find_idx(lab, sizeof lab, path, "train", "labels");
            images = img, labels = lab;
        }
        if (!labels || !labels[0]) {
            fprintf(stderr, "clgrad-train: %s: IDX images need --labels FILE (or a folder with t10k-* files)\n", path);
            return TRAIN_EXIT_USAGE;
        }
        rc = load_idx_pair(images, labels, &d.channels_last, out);
        if (rc == 0) rc = idx_shape(*out, images, &d);
    } else {
        clgrad_csv *t = NULL;
        d.n_features = (int)d.sample_shape[d.kind == DATA_SERIES ? 1 : 0];
        rc = load_csv_table(a, &d, path, &t);
        if (rc == 0) rc = csv_columns(t, &d, path, need_targets);
        if (rc == 0 && has_targets) *has_targets = d.target_col >= 0;
        if (rc == 0 && d.kind == DATA_SERIES) rc = series_dataset(t, &d, path, 0, out, &is);
        else if (rc == 0) rc = csv_dataset(t, &d, path, need_targets, 0, out, &is);
        if (rc == 0 && d.kind == DATA_CSV) d.sample_nd = 1, d.sample_shape[0] = d.n_features;
        if (rc == 0 && d.kind == DATA_SERIES) d.sample_nd = 2, d.sample_shape[0] = d.window, d.sample_shape[1] = d.n_features;
        clgrad_csv_release(t);
    }
    if (rc == 0 && (d.sample_nd != d0->sample_nd ||
                    memcmp(d.sample_shape, d0->sample_shape, sizeof(int64_t) * (size_t)d.sample_nd))) {
        fprintf(stderr, "clgrad-train: %s: its samples differ in shape from the data the network was trained on\n",
                path);
        rc = TRAIN_EXIT_FAIL;
    }
    if (rc == 0) rc = apply_norm(d0, *out);
    if (rc) {
        clgrad_dataset_release(*out);
        *out = NULL;
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * inspect
 * ------------------------------------------------------------------------------------- */

/* clgrad-train inspect: every problem of the file, by column, without stopping at the
 * first; exit status 1 when training would refuse the data. */
int data_inspect(const train_args *a)
{
    train_args b = *a;
    b.quiet = 1;
    data_desc d;
    desc_from_args(&b, &d);
    const char *path = a->data_dir;
    if (!is_dir(path) && (a->window > 0 || is_csv_name(path) || !a->labels)) {
        d.kind = a->window > 0 ? DATA_SERIES : DATA_CSV;
        clgrad_csv *t = NULL;
        int rc = load_csv_table(a, &d, path, &t);
        if (rc == 0) rc = csv_columns(t, &d, path, 1);
        if (rc) return rc;
        int64_t rows = clgrad_csv_rows(t);
        int cols = clgrad_csv_cols(t), bad = 0;
        printf("file: %s: %" PRId64 " rows, %d columns, %s; target: column %d%s%s%s\n", path, rows, cols,
               clgrad_csv_name(t, 0) ? "a header" : "no header", d.target_col, clgrad_csv_name(t, d.target_col) ? " '" : "",
               clgrad_csv_name(t, d.target_col) ? clgrad_csv_name(t, d.target_col) : "",
               clgrad_csv_name(t, d.target_col) ? "'" : "");
        for (int c = 0; c < cols; c++) {
            int64_t miss = 0, nonf = 0, text = 0, first = -1;
            for (int64_t r = 0; r < rows; r++) {
                clgrad_csv_value k = clgrad_csv_number(t, r, c, NULL);
                if (k == CLGRAD_CSV_NUMBER) continue;
                if (first < 0) first = r;
                miss += k == CLGRAD_CSV_MISSING, nonf += k == CLGRAD_CSV_NONFINITE, text += k == CLGRAD_CSV_TEXT;
            }
            int is_label_text = c == d.target_col && !d.regress && d.kind == DATA_CSV && text && !miss && !nonf;
            if (!(miss || nonf || text) || is_label_text) continue;
            char cn[300];
            col_name(t, c, cn, sizeof cn);
            printf("  problem: %s: %" PRId64 " missing, %" PRId64 " non-finite, %" PRId64
                   " non-numeric (the first on line %" PRId64 ": '%s')\n", cn, miss, nonf, text,
                   clgrad_csv_line(t, first), clgrad_csv_cell(t, first, c));
            bad = 1;
        }
        clgrad_csv_release(t);
        if (bad) {
            printf("clgrad-train would refuse this data: every value must be a finite number\n");
            data_desc_free(&d);
            return TRAIN_EXIT_FAIL;
        }
        data_desc_free(&d);
    }
    /* Sparse labels are shown in the report and judged after it. */
    b.allow_sparse = 1;
    train_data td;
    int rc = data_load_for_training(&b, &td);
    if (rc == 0) {
        data_report(stdout, &td.d, td.train, td.train_name, 1);
        printf("normalisation training would use (statistics of the training samples): %s", td.d.norm_n > 1 ?
               "per channel or column, mean" : "mean");
        for (int c = 0; c < td.d.norm_n && c < 8; c++) printf(" %.4g", (double)td.d.mean[c]);
        printf("%s, std", td.d.norm_n > 8 ? " ..." : "");
        for (int c = 0; c < td.d.norm_n && c < 8; c++) printf(" %.4g", (double)td.d.std[c]);
        printf("%s\n", td.d.norm_n > 8 ? " ..." : "");
        if (td.val) data_report(stdout, &td.d, td.val, td.val_name, 0);
        if (td.test) data_report(stdout, &td.d, td.test, td.test_name, 0);
        if (!td.d.regress && !a->allow_sparse && check_labels(a, &td) != 0) {
            printf("clgrad-train would refuse these labels (see above)\n");
            rc = TRAIN_EXIT_FAIL;
        }
    }
    data_release(&td);
    return rc;
}
