/* Image-classification datasets over IDX files: the samples are kept as the file's bytes
 * (a quarter of the memory of floats) and normalised through a 256-entry table as batches
 * are copied out. A dataset is a view: a list of sample indices into shared, reference-
 * counted storage, so splits cost no copies. This file creates datasets and their views;
 * dataset_batch.c splits, shuffles and batches them (and holds the portable host random
 * generator), dataset_stats.c normalises and measures them. */
#include "core/core.h"
#include "dataset_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void storage_free(clgrad__ds_storage *st)
{
    if (!st) return;
    free(st->pixels);
    free(st->values);
    free(st->labels);
    free(st->targets);
    free(st->norm_mean);
    free(st->norm_std);
    free(st->lut);
    free(st);
}

static void storage_unref(clgrad__ds_storage *st)
{
    if (!st || --st->refs > 0) return;
    storage_free(st);
}

clgrad_status clgrad__ds_view_create(clgrad__ds_storage *st, const int64_t *idx, int64_t n, clgrad_dataset **out)
{
    *out = NULL;
    clgrad_dataset *ds = calloc(1, sizeof *ds);
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(int64_t);
    if (ds) {
        ds->base = malloc(bytes);
        ds->order = malloc(bytes);
    }
    if (!ds || !ds->base || !ds->order) {
        if (ds) {
            free(ds->base);
            free(ds->order);
        }
        free(ds);
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "dataset: out of host memory");
    }
    if (n) {
        memcpy(ds->base, idx, (size_t)n * sizeof(int64_t));
        memcpy(ds->order, idx, (size_t)n * sizeof(int64_t));
    }
    ds->n = n;
    ds->st = st;
    st->refs++;
    *out = ds;
    return CLGRAD_OK;
}

/* A view over all of st in storage order; on failure st is freed. */
static clgrad_status view_all(clgrad__ds_storage *st, clgrad_dataset **out)
{
    int64_t n = st->n;
    int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    clgrad_status s = idx ? CLGRAD_OK : clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "dataset: out of host memory");
    for (int64_t i = 0; s == CLGRAD_OK && i < n; i++) idx[i] = i;
    if (s == CLGRAD_OK) s = clgrad__ds_view_create(st, idx, n, out);
    free(idx);
    if (s != CLGRAD_OK) storage_free(st);
    return s;
}

clgrad_status clgrad__ds_set_norm(clgrad__ds_storage *st, int axis, int n, const float *mean, const float *std)
{
    int64_t inner = 1;
    for (int i = axis + 1; i < st->sample_ndim; i++) inner *= st->sample_shape[i];
    float *m = malloc((size_t)n * sizeof *m), *sd = malloc((size_t)n * sizeof *sd);
    float *lut = st->pixels ? malloc((size_t)n * 256 * sizeof *lut) : NULL;
    if (!m || !sd || (st->pixels && !lut)) {
        free(m);
        free(sd);
        free(lut);
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "dataset: out of host memory");
    }
    for (int c = 0; c < n; c++) {
        m[c] = mean[c];
        sd[c] = std[c];
        if (lut)
            for (int v = 0; v < 256; v++)
                lut[c * 256 + v] = (float)(((double)v / 255.0 - (double)mean[c]) / (double)std[c]);
    }
    free(st->norm_mean);
    free(st->norm_std);
    free(st->lut);
    st->norm_mean = m;
    st->norm_std = sd;
    st->lut = lut;
    st->norm_n = n;
    st->norm_inner = inner;
    return CLGRAD_OK;
}

clgrad_status clgrad__ds_check_mean_std(const char *what, int n, const float *mean, const float *std)
{
    for (int c = 0; c < n; c++)
        if (!(std[c] > 0.0f) || !isfinite(std[c]) || !isfinite(mean[c]))
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                                "%s: std must be positive and finite and mean finite (channel %d: "
                                "mean %g, std %g)", what, c, (double)mean[c], (double)std[c]);
    return CLGRAD_OK;
}

/* The checks of clgrad__dataset_from_idx on the files' types and shapes. */
static clgrad_status check_idx_pair(const clgrad_idx *images, const char *images_name, const clgrad_idx *labels,
                                    const char *labels_name, const clgrad_dataset_opts *o)
{
    if (images->type != CLGRAD_IDX_U8)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED,
                            "%s: images must be unsigned bytes (IDX type 0x08), this file has "
                            "type 0x%02x; read it with clgrad_idx_load instead",
                            images_name, (unsigned)images->type);
    if (images->ndim < 2)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "%s: an images file needs at least 2 dimensions (count, then the "
                            "sample shape), this one has %d", images_name, images->ndim);
    if (o->channels_last && images->ndim != 4)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "%s: channels_last needs a 4-dimensional file (N x H x W x C), this one "
                            "has %d dimensions", images_name, images->ndim);
    if (labels->ndim != 1)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "%s: a labels file must have 1 dimension, this one has %d",
                            labels_name, labels->ndim);
    if (labels->type == CLGRAD_IDX_F32 || labels->type == CLGRAD_IDX_F64)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED,
                            "%s: labels must be integers, this file holds %s", labels_name,
                            labels->type == CLGRAD_IDX_F32 ? "floats" : "doubles");
    if (labels->dims[0] != images->dims[0])
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "%s holds %lld images but %s holds %lld labels", images_name,
                            (long long)images->dims[0], labels_name, (long long)labels->dims[0]);
    return CLGRAD_OK;
}

/* Values per sample of the images, checked so that n samples fit the address space. */
static clgrad_status idx_sample_size(const clgrad_idx *images, const char *images_name, int64_t n,
                                     int64_t *sample_size)
{
    int64_t ss = 1;
    for (int i = 1; i < images->ndim; i++) {
        int64_t d = images->dims[i];
        if (d < 0 || (d != 0 && ss > INT64_MAX / d))
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                                "%s: the sample dimensions overflow", images_name);
        ss *= d;
    }
    if ((uint64_t)ss > SIZE_MAX || (n > 0 && (size_t)ss > SIZE_MAX / (size_t)n))
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: the images overflow the address space",
                            images_name);
    *sample_size = ss;
    return CLGRAD_OK;
}

/* The first n images' bytes into st->pixels (allocated here), (H, W, C) -> (C, H, W) for
 * channels_last; the sample shape into st. */
static clgrad_status copy_images(clgrad__ds_storage *st, const clgrad_idx *images, int64_t n, int64_t sample_size,
                                 int channels_last)
{
    st->n = n;
    st->sample_ndim = images->ndim - 1;
    for (int i = 1; i < images->ndim; i++) st->sample_shape[i - 1] = images->dims[i];
    if (channels_last) { /* (H, W, C) -> (C, H, W) */
        st->sample_shape[0] = images->dims[3];
        st->sample_shape[1] = images->dims[1];
        st->sample_shape[2] = images->dims[2];
    }
    st->sample_size = sample_size;
    size_t pix_bytes = (size_t)n * (size_t)sample_size;
    st->pixels = malloc(pix_bytes ? pix_bytes : 1);
    st->labels = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    if (!st->pixels || !st->labels)
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY,
                            "dataset: out of host memory (%zu bytes of images)", pix_bytes);
    if (channels_last) {
        const uint8_t *src = images->data;
        int64_t hw = images->dims[1] * images->dims[2], c_n = images->dims[3];
        for (int64_t i = 0; i < n; i++)
            for (int64_t p = 0; p < hw; p++)
                for (int64_t c = 0; c < c_n; c++)
                    st->pixels[(size_t)(i * sample_size + c * hw + p)] = src[(size_t)(i * sample_size + p * c_n + c)];
    } else if (pix_bytes) {
        memcpy(st->pixels, images->data, pix_bytes);
    }
    return CLGRAD_OK;
}

/* The first st->n labels into st->labels (allocated), each checked; st->n_classes. */
static clgrad_status copy_labels(clgrad__ds_storage *st, const clgrad_idx *labels, const char *labels_name)
{
    int64_t max_label = -1;
    for (int64_t i = 0; i < st->n; i++) {
        int64_t v;
        switch (labels->type) {
        case CLGRAD_IDX_U8: v = ((const uint8_t *)labels->data)[i]; break;
        case CLGRAD_IDX_I8: v = ((const int8_t *)labels->data)[i]; break;
        case CLGRAD_IDX_I16: v = ((const int16_t *)labels->data)[i]; break;
        default: v = ((const int32_t *)labels->data)[i]; break;
        }
        if (v < 0 || v >= INT32_MAX)
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                                "%s: label %lld of sample %lld is out of range (labels must be "
                                "0 .. 2^31-2)", labels_name, (long long)v, (long long)i);
        st->labels[i] = (int32_t)v;
        if (v > max_label) max_label = v;
    }
    st->n_classes = (int)(max_label + 1);
    return CLGRAD_OK;
}

clgrad_status clgrad__dataset_from_idx(const clgrad_idx *images, const char *images_name,
                                       const clgrad_idx *labels, const char *labels_name,
                                       const clgrad_dataset_opts *opts, clgrad_dataset **out)
{
    CLGRAD_CHECK_ARG(NULL, out != NULL, "out is NULL");
    *out = NULL;
    CLGRAD_CHECK_ARG(NULL, images != NULL && labels != NULL, "images or labels is NULL");
    if (!images_name) images_name = "images";
    if (!labels_name) labels_name = "labels";
    clgrad_dataset_opts o = {.mean = 0.0f, .std = 1.0f};
    if (opts) o = *opts;
    if (o.std == 0.0f) o.std = 1.0f;
    CLGRAD_TRY(clgrad__ds_check_mean_std("dataset options", 1, &o.mean, &o.std));
    if (o.max_samples < 0)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "dataset options: max_samples is negative (%lld)",
                            (long long)o.max_samples);
    CLGRAD_TRY(check_idx_pair(images, images_name, labels, labels_name, &o));

    int64_t n = images->dims[0], sample_size = 0;
    if (o.max_samples > 0 && o.max_samples < n) n = o.max_samples;
    CLGRAD_TRY(idx_sample_size(images, images_name, n, &sample_size));
    clgrad__ds_storage *st = calloc(1, sizeof *st);
    if (!st) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "dataset: out of host memory");
    clgrad_status s = copy_images(st, images, n, sample_size, o.channels_last);
    if (s == CLGRAD_OK) s = copy_labels(st, labels, labels_name);
    if (s == CLGRAD_OK) s = clgrad__ds_set_norm(st, -1, 1, &o.mean, &o.std);
    if (s != CLGRAD_OK) {
        storage_free(st);
        return s;
    }
    return view_all(st, out);
}

clgrad_status clgrad_dataset_from_floats(int64_t n, int sample_ndim, const int64_t *sample_shape,
                                         const float *x, const int32_t *labels, int n_targets,
                                         const float *targets, clgrad_dataset **out)
{
    CLGRAD_CHECK_ARG(NULL, out != NULL, "out is NULL");
    *out = NULL;
    CLGRAD_CHECK_ARG(NULL, n >= 0, "n is negative");
    CLGRAD_CHECK_ARG(NULL, sample_ndim >= 1 && sample_ndim <= CLGRAD_IDX_MAX_DIMS && sample_shape,
                     "sample_ndim must be 1 .. CLGRAD_IDX_MAX_DIMS with a sample_shape");
    CLGRAD_CHECK_ARG(NULL, (labels != NULL) != (targets != NULL),
                     "give either labels (classification) or targets (regression)");
    CLGRAD_CHECK_ARG(NULL, !targets || n_targets >= 1, "n_targets must be >= 1 with targets");
    CLGRAD_CHECK_ARG(NULL, x != NULL || n == 0, "x is NULL");
    int64_t ss = 1;
    for (int i = 0; i < sample_ndim; i++) {
        if (sample_shape[i] <= 0 || ss > INT64_MAX / sample_shape[i] / 4)
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "dataset: sample dimension %d is %lld", i,
                                (long long)sample_shape[i]);
        ss *= sample_shape[i];
    }
    if (n > 0 && (uint64_t)ss > SIZE_MAX / sizeof(float) / (uint64_t)n)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "dataset: the samples overflow the address space");
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < ss; j++)
            if (!isfinite(x[i * ss + j]))
                return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "dataset: value %lld of sample %lld is %g",
                                    (long long)j, (long long)i, (double)x[i * ss + j]);
        if (labels && labels[i] < 0)
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "dataset: the label of sample %lld is negative (%d)",
                                (long long)i, (int)labels[i]);
        for (int k = 0; targets && k < n_targets; k++)
            if (!isfinite(targets[i * n_targets + k]))
                return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "dataset: target %d of sample %lld is %g", k,
                                    (long long)i, (double)targets[i * n_targets + k]);
    }
    clgrad__ds_storage *st = calloc(1, sizeof *st);
    if (!st) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "dataset: out of host memory");
    st->n = n;
    st->sample_ndim = sample_ndim;
    for (int i = 0; i < sample_ndim; i++) st->sample_shape[i] = sample_shape[i];
    st->sample_size = ss;
    size_t nv = (size_t)n * (size_t)ss;
    st->values = malloc((nv ? nv : 1) * sizeof(float));
    if (labels) st->labels = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    else st->targets = malloc((size_t)(n ? n : 1) * (size_t)n_targets * sizeof(float));
    if (!st->values || (!st->labels && !st->targets)) {
        storage_free(st);
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "dataset: out of host memory");
    }
    if (nv) memcpy(st->values, x, nv * sizeof(float));
    if (labels) {
        int32_t mx = -1;
        for (int64_t i = 0; i < n; i++) {
            st->labels[i] = labels[i];
            if (labels[i] > mx) mx = labels[i];
        }
        st->n_classes = mx + 1;
    } else {
        st->n_targets = n_targets;
        if (n) memcpy(st->targets, targets, (size_t)n * (size_t)n_targets * sizeof(float));
    }
    const float zero = 0.0f, one = 1.0f;
    clgrad_status s = clgrad__ds_set_norm(st, -1, 1, &zero, &one);
    if (s != CLGRAD_OK) {
        storage_free(st);
        return s;
    }
    return view_all(st, out);
}

clgrad_status clgrad_dataset_load_idx(const char *images_path, const char *labels_path,
                                      const clgrad_dataset_opts *opts, clgrad_dataset **out)
{
    CLGRAD_CHECK_ARG(NULL, out != NULL, "out is NULL");
    *out = NULL;
    CLGRAD_CHECK_ARG(NULL, images_path != NULL, "images_path is NULL");
    CLGRAD_CHECK_ARG(NULL, labels_path != NULL, "labels_path is NULL");
    clgrad_idx *images = NULL, *labels = NULL;
    const clgrad_idx_limits *lim = opts ? &opts->limits : NULL;
    clgrad_status s = clgrad_idx_load_limited(labels_path, lim, &labels);
    if (s == CLGRAD_OK) s = clgrad_idx_load_limited(images_path, lim, &images);
    if (s == CLGRAD_OK)
        s = clgrad__dataset_from_idx(images, images_path, labels, labels_path, opts, out);
    clgrad_idx_release(images);
    clgrad_idx_release(labels);
    return s;
}

void clgrad_dataset_release(clgrad_dataset *ds)
{
    if (!ds) return;
    storage_unref(ds->st);
    free(ds->base);
    free(ds->order);
    free(ds);
}

int64_t clgrad_dataset_count(const clgrad_dataset *ds) { return ds ? ds->n : 0; }

int clgrad_dataset_sample_shape(const clgrad_dataset *ds, int64_t *shape)
{
    if (!ds) return 0;
    if (shape)
        for (int i = 0; i < ds->st->sample_ndim; i++) shape[i] = ds->st->sample_shape[i];
    return ds->st->sample_ndim;
}

int64_t clgrad_dataset_sample_size(const clgrad_dataset *ds) { return ds ? ds->st->sample_size : 0; }

int clgrad_dataset_n_classes(const clgrad_dataset *ds) { return ds ? ds->st->n_classes : 0; }

int clgrad_dataset_n_targets(const clgrad_dataset *ds) { return ds ? ds->st->n_targets : 0; }

int64_t clgrad_dataset_sample_id(const clgrad_dataset *ds, int64_t i)
{
    if (!ds || i < 0 || i >= ds->n) return -1;
    return ds->base[i];
}

clgrad_status clgrad_dataset_slice(const clgrad_dataset *ds, int64_t first, int64_t count, clgrad_dataset **out)
{
    CLGRAD_CHECK_ARG(NULL, out != NULL, "out is NULL");
    *out = NULL;
    CLGRAD_CHECK_ARG(NULL, ds != NULL, "ds is NULL");
    if (first < 0 || count < 0 || first > ds->n || count > ds->n - first)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "dataset slice: [%lld, %lld + %lld) is outside the %lld samples", (long long)first,
                            (long long)first, (long long)count, (long long)ds->n);
    return clgrad__ds_view_create(ds->st, ds->base + first, count, out);
}
