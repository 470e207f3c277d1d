/* Internal to the datasets (src/io/dataset*.c): the shared storage of samples and the
 * view a dataset is over it. dataset.c creates them (from IDX data or floats);
 * dataset_batch.c splits, shuffles and copies batches out; dataset_stats.c normalises and
 * measures. */
#ifndef CLGRAD_SRC_IO_DATASET_IMPL_H
#define CLGRAD_SRC_IO_DATASET_IMPL_H

#include "io.h"

typedef struct clgrad__ds_storage {
    int refs;
    int64_t n;                 /* samples */
    int sample_ndim;
    int64_t sample_shape[CLGRAD_IDX_MAX_DIMS];
    int64_t sample_size;       /* values per sample */
    int n_classes;             /* classification: one more than the largest label */
    int n_targets;             /* regression: targets per sample; 0 for classification */
    uint8_t *pixels;           /* images: n * sample_size bytes; NULL for float data */
    float *values;             /* float data: n * sample_size; NULL for images */
    int32_t *labels;           /* classification: n; NULL for regression */
    float *targets;            /* regression: n * n_targets; NULL for classification */
    /* Normalisation: value j of a sample belongs to channel (j / norm_inner) % norm_n and
     * becomes (raw - norm_mean[c]) / norm_std[c], raw being pixel / 255 or the float. */
    int norm_n;
    int64_t norm_inner;
    float *norm_mean, *norm_std;
    float *lut;                /* images: norm_n * 256 entries, pixel value -> normalised */
} clgrad__ds_storage;

struct clgrad_dataset {
    clgrad__ds_storage *st;
    int64_t n;
    int64_t *base;   /* sample indices in unshuffled order */
    int64_t *order;  /* the same indices in the current batch order */
};

/* A view of st over the n indices idx (copied). Takes a reference to st. */
clgrad_status clgrad__ds_view_create(clgrad__ds_storage *st, const int64_t *idx, int64_t n, clgrad_dataset **out);
/* n channels (mean, std) along sample axis axis (-1 with n == 1: the whole sample); for
 * images, the table from them. */
clgrad_status clgrad__ds_set_norm(clgrad__ds_storage *st, int axis, int n, const float *mean, const float *std);
/* std positive and finite, mean finite, for each of the n channels; what names the caller. */
clgrad_status clgrad__ds_check_mean_std(const char *what, int n, const float *mean, const float *std);

#endif
