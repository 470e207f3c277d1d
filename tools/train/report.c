/* The data report of clgrad-train: samples, shape, classes and their counts (with the
 * names of string labels), and, in full, the value range, constant columns or pixel
 * positions and duplicate samples (found by hashing each normalised sample). */
#include "train.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_name(data_kind k) { return k == DATA_IDX ? "IDX images" : k == DATA_CSV ? "CSV table" : "CSV series"; }

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

void data_report(FILE *f, const data_desc *d, const clgrad_dataset *ds, const char *name, int full)
{
    int64_t n = clgrad_dataset_count(ds);
    char shape[128] = "(";
    for (int i = 0; i < d->sample_nd; i++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%" PRId64, i ? ", " : "", d->sample_shape[i]);
    strcat(shape, ")");
    fprintf(f, "data: %s: %s, %" PRId64 " samples of shape %s, %s\n", name, kind_name(d->kind), n, shape,
            d->regress ? "regression" : "classification");
    if (!d->regress) {
        int32_t lo, hi;
        clgrad_dataset_label_stats(ds, &lo, &hi, NULL, 0);
        int nc = hi + 1 > d->n_classes ? hi + 1 : d->n_classes;
        int64_t *counts = calloc((size_t)(nc > 0 ? nc : 1), sizeof *counts);
        if (counts) {
            clgrad_dataset_label_stats(ds, NULL, NULL, counts, nc);
            int present = 0;
            for (int k = 0; k < nc; k++) present += counts[k] > 0;
            if (present < nc)
                fprintf(f, "  classes: %d of %d (labels %d .. %d here)  [sparse: labels in 0 .. %d without a sample]\n   ",
                        present, nc, lo, hi, nc - 1);
            else
                fprintf(f, "  classes: %d (labels %d .. %d)\n   ", present, lo, hi);
            int col = 3;
            for (int k = 0; k < nc; k++) {
                if (!counts[k] && nc > 64) continue;
                char item[160];
                if (k < d->n_class_names) snprintf(item, sizeof item, " %s: %" PRId64, d->class_names[k], counts[k]);
                else snprintf(item, sizeof item, " %d: %" PRId64, k, counts[k]);
                if (col + (int)strlen(item) > 96) fprintf(f, "\n   "), col = 3;
                fputs(item, f);
                col += (int)strlen(item);
            }
            fputc('\n', f);
            free(counts);
        }
    } else {
        if (d->kind == DATA_SERIES)
            fprintf(f, "  targets: the next %d value%s of the target column after each window of %d steps\n",
                    clgrad_dataset_n_targets(ds), clgrad_dataset_n_targets(ds) == 1 ? "" : "s", d->window);
        else
            fprintf(f, "  targets: %d per sample\n", clgrad_dataset_n_targets(ds));
    }
    if (!full) return;
    /* Values per channel or column, constants and duplicates. */
    int64_t sh[CLGRAD_IDX_MAX_DIMS];
    clgrad_dataset_sample_shape(ds, sh);
    int axis = d->kind == DATA_SERIES ? 1 : 0;
    int64_t nc = sh[axis];
    double *m = calloc((size_t)nc, sizeof *m), *s = calloc((size_t)nc, sizeof *s);
    double *lo = calloc((size_t)nc, sizeof *lo), *hi = calloc((size_t)nc, sizeof *hi);
    if (m && s && lo && hi && n > 0 && clgrad_dataset_channel_stats(ds, axis, m, s, lo, hi) == CLGRAD_OK) {
        double gmin = INFINITY, gmax = -INFINITY;
        int64_t constant = 0;
        char list[256] = "";
        for (int64_t c = 0; c < nc; c++) {
            gmin = fmin(gmin, lo[c]), gmax = fmax(gmax, hi[c]);
            if (lo[c] == hi[c] && d->kind != DATA_IDX) {
                if (constant < 8) {
                    int col = d->kind == DATA_IDX ? (int)c : d->feature_cols[c];
                    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", constant ? ", " : "", col);
                }
                constant++;
            }
        }
        fprintf(f, "  values: min %.6g, max %.6g%s\n", gmin, gmax, d->kind == DATA_IDX ? " (pixels / 255)" : "");
        if (d->kind != DATA_IDX) {
            /* A table with such values never becomes a dataset: the loader stops first. */
            fprintf(f, "  missing or non-finite values: none\n");
            fprintf(f, "  constant columns: %" PRId64 "%s%s%s\n", constant, constant ? " (" : "", list,
                    constant > 8 ? ", ...)" : constant ? ")" : "");
        }
    }
    free(m);
    free(s);
    free(lo);
    free(hi);
    int64_t ss = clgrad_dataset_sample_size(ds), bs = 256;
    float *x = malloc((size_t)(bs * ss) * sizeof *x);
    uint64_t *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    int64_t *cmin_eq = NULL;
    if (x && h) {
        /* Pixel positions (or values) equal in every sample: a first sample to compare with. */
        float *first = malloc((size_t)ss * sizeof *first);
        unsigned char *varies = calloc((size_t)ss, 1);
        int64_t k = 0;
        for (int64_t b = 0; b < clgrad_dataset_n_batches(ds, bs); b++) {
            int64_t got = 0;
            clgrad_dataset_batch(ds, b, bs, x, NULL, &got);
            if (d->regress) clgrad_dataset_batch_targets(ds, b, bs, x, NULL, &got);
            for (int64_t i = 0; i < got; i++, k++) {
                h[k] = hash_bytes(x + i * ss, (size_t)ss * sizeof *x);
                if (first && varies) {
                    if (k == 0) memcpy(first, x, (size_t)ss * sizeof *x);
                    for (int64_t j = 0; j < ss; j++) varies[j] |= x[i * ss + j] != first[j];
                }
            }
        }
        qsort(h, (size_t)k, sizeof *h, cmp_u64);
        int64_t dup = 0;
        for (int64_t i = 1; i < k; i++) dup += h[i] == h[i - 1];
        if (d->kind == DATA_IDX && first && varies) {
            int64_t c = 0;
            for (int64_t j = 0; j < ss; j++) c += !varies[j];
            fprintf(f, "  constant pixel positions: %" PRId64 " of %" PRId64 "\n", c, ss);
        }
        fprintf(f, "  duplicate samples: %" PRId64 "%s\n", dup, dup ? " (inputs equal to an earlier sample's)" : "");
        free(first);
        free(varies);
    }
    free(cmin_eq);
    free(x);
    free(h);
}
