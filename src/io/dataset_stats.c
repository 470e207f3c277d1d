/* Datasets measured and normalised: per-channel statistics (exact histograms for images,
 * two passes for floats), label counts, and the normalisation batches are copied out with. */
#include "core/core.h"
#include "dataset_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* The size of the sample dimension axis (negative counts from the end), or -1 (message
 * recorded) when axis is out of range. */
static int64_t axis_size(const clgrad_dataset *ds, int *axis, const char *what)
{
    int nd = ds->st->sample_ndim;
    if (*axis < 0) *axis += nd;
    if (*axis < 0 || *axis >= nd) {
        clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: axis is outside the sample's %d dimensions", what, nd);
        return -1;
    }
    return ds->st->sample_shape[*axis];
}

clgrad_status clgrad_dataset_set_normalization(clgrad_dataset *ds, int axis, int n, const float *mean,
                                               const float *std)
{
    CLGRAD_CHECK_ARG(NULL, ds != NULL && mean != NULL && std != NULL, "ds, mean or std is NULL");
    int64_t size = axis_size(ds, &axis, "dataset normalization");
    if (size < 0) return CLGRAD_ERR_INVALID_ARG;
    if (n != 1 && n != size)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "dataset normalization: %d channels given, the sample has %lld along axis %d",
                            n, (long long)size, axis);
    CLGRAD_TRY(clgrad__ds_check_mean_std("dataset normalization", n, mean, std));
    if (n == 1) axis = 0; /* one channel: the whole sample */
    clgrad__ds_storage *st = ds->st;
    CLGRAD_TRY(clgrad__ds_set_norm(st, n == 1 ? -1 : axis, n, mean, std));
    if (n == 1) st->norm_inner = st->sample_size;
    return CLGRAD_OK;
}

clgrad_status clgrad_dataset_channel_stats(const clgrad_dataset *ds, int axis, double *mean, double *std,
                                           double *min, double *max)
{
    CLGRAD_CHECK_ARG(NULL, ds != NULL && mean != NULL && std != NULL, "ds, mean or std is NULL");
    int64_t nc = axis_size(ds, &axis, "dataset channel_stats");
    if (nc < 0) return CLGRAD_ERR_INVALID_ARG;
    const clgrad__ds_storage *st = ds->st;
    int64_t inner = 1;
    for (int i = axis + 1; i < st->sample_ndim; i++) inner *= st->sample_shape[i];
    size_t ss = (size_t)st->sample_size;
    double *sum = calloc((size_t)nc, sizeof *sum), *sq = calloc((size_t)nc, sizeof *sq);
    int64_t *hist = st->pixels ? calloc((size_t)nc * 256, sizeof *hist) : NULL;
    if (!sum || !sq || (st->pixels && !hist)) {
        free(sum);
        free(sq);
        free(hist);
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "dataset channel_stats: out of host memory");
    }
    for (int64_t c = 0; c < nc; c++) {
        if (min) min[c] = INFINITY;
        if (max) max[c] = -INFINITY;
    }
    if (st->pixels) {
        /* A histogram per channel: exact, and one pass over bytes. */
        for (int64_t i = 0; i < ds->n; i++) {
            const uint8_t *src = st->pixels + (size_t)ds->base[i] * ss;
            for (size_t j = 0; j < ss; j++) hist[(int64_t)(j / (size_t)inner) % nc * 256 + src[j]]++;
        }
        for (int64_t c = 0; c < nc; c++)
            for (int v = 0; v < 256; v++) {
                int64_t h = hist[c * 256 + v];
                if (!h) continue;
                double x = v / 255.0;
                sum[c] += x * (double)h;
                if (min && x < min[c]) min[c] = x;
                if (max && x > max[c]) max[c] = x;
            }
    } else {
        for (int64_t i = 0; i < ds->n; i++) {
            const float *src = st->values + (size_t)ds->base[i] * ss;
            for (size_t j = 0; j < ss; j++) {
                int64_t c = (int64_t)(j / (size_t)inner) % nc;
                double x = src[j];
                sum[c] += x;
                if (min && x < min[c]) min[c] = x;
                if (max && x > max[c]) max[c] = x;
            }
        }
    }
    double per = (double)ds->n * (double)(st->sample_size / nc);
    for (int64_t c = 0; c < nc; c++) mean[c] = per > 0 ? sum[c] / per : NAN;
    /* Second pass about the mean: no cancellation for data far from zero. */
    if (st->pixels) {
        for (int64_t c = 0; c < nc; c++)
            for (int v = 0; v < 256; v++) {
                double d = v / 255.0 - mean[c];
                sq[c] += d * d * (double)hist[c * 256 + v];
            }
    } else {
        for (int64_t i = 0; i < ds->n; i++) {
            const float *src = st->values + (size_t)ds->base[i] * ss;
            for (size_t j = 0; j < ss; j++) {
                int64_t c = (int64_t)(j / (size_t)inner) % nc;
                double d = src[j] - mean[c];
                sq[c] += d * d;
            }
        }
    }
    for (int64_t c = 0; c < nc; c++) std[c] = per > 0 ? sqrt(sq[c] / per) : NAN;
    free(sum);
    free(sq);
    free(hist);
    return CLGRAD_OK;
}

clgrad_status clgrad_dataset_label_stats(const clgrad_dataset *ds, int32_t *min_label, int32_t *max_label,
                                         int64_t *counts, int64_t n_counts)
{
    CLGRAD_CHECK_ARG(NULL, ds != NULL, "ds is NULL");
    CLGRAD_CHECK_ARG(NULL, n_counts >= 0 && (counts != NULL || n_counts == 0), "counts is NULL or n_counts < 0");
    if (!ds->st->labels)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "dataset label_stats: this dataset has float targets, not labels");
    int32_t lo = INT32_MAX, hi = -1;
    for (int64_t k = 0; k < n_counts; k++) counts[k] = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        int32_t v = ds->st->labels[ds->base[i]];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        if (v < n_counts) counts[v]++;
    }
    if (ds->n == 0) lo = -1;
    if (min_label) *min_label = lo;
    if (max_label) *max_label = hi;
    return CLGRAD_OK;
}
