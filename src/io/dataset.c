/* Image-classification datasets over IDX files: the samples are kept as the file's bytes
 * (a quarter of the memory of floats) and normalised through a 256-entry table as batches
 * are copied out. A dataset is a view: a list of sample indices into shared, reference-
 * counted storage, so splits cost no copies. Also the portable host random generator. */
#include "core/core.h"
#include "io.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------
 * Random numbers: splitmix64 to seed, xoshiro256** to draw (both public-domain designs by
 * Vigna and Blackman), written out here so every machine gives the same sequence.
 * ------------------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void clgrad__rng_init(clgrad__rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t t = stream;
    uint64_t x = seed ^ splitmix64(&t);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    /* splitmix64 is a bijection of its counter, so four consecutive outputs are never all 0. */
}

uint64_t clgrad__rng_next(clgrad__rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t clgrad__rng_below(clgrad__rng *r, uint64_t n)
{
    /* Reject the lowest 2^64 mod n values so that r % n is exactly uniform. */
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t v = clgrad__rng_next(r);
        if (v >= threshold) return v % n;
    }
}

/* Streams keep the split and the shuffles of different epochs apart: even for shuffles,
 * odd for splits. */
#define STREAM_SHUFFLE(epoch) ((uint64_t)(epoch) * 2u)
#define STREAM_SPLIT          1u

static void permute(int64_t *v, int64_t n, clgrad__rng *r)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)clgrad__rng_below(r, (uint64_t)i + 1);
        int64_t t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

void clgrad__shuffle_order(int64_t *v, int64_t n, uint64_t seed, uint64_t epoch)
{
    clgrad__rng r;
    for (int64_t i = 0; i < n; i++) v[i] = i;
    clgrad__rng_init(&r, seed, STREAM_SHUFFLE(epoch));
    permute(v, n, &r);
}

/* ---------------------------------------------------------------------------------------
 * Datasets
 * ------------------------------------------------------------------------------------- */

typedef struct storage {
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
} storage;

struct clgrad_dataset {
    storage *st;
    int64_t n;
    int64_t *base;   /* sample indices in unshuffled order */
    int64_t *order;  /* the same indices in the current batch order */
};

static void storage_free(storage *st)
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

static void storage_unref(storage *st)
{
    if (!st || --st->refs > 0) return;
    storage_free(st);
}

/* A view of st over the n indices idx (copied). Takes a reference to st. */
static clgrad_status view_create(storage *st, const int64_t *idx, int64_t n, clgrad_dataset **out)
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
static clgrad_status view_all(storage *st, clgrad_dataset **out)
{
    int64_t n = st->n;
    int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    clgrad_status s = idx ? CLGRAD_OK : clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "dataset: out of host memory");
    for (int64_t i = 0; s == CLGRAD_OK && i < n; i++) idx[i] = i;
    if (s == CLGRAD_OK) s = view_create(st, idx, n, out);
    free(idx);
    if (s != CLGRAD_OK) storage_free(st);
    return s;
}

/* One channel (mean, std) over the whole sample; for images, the table from them. */
static clgrad_status set_norm(storage *st, int axis, int n, const float *mean, const float *std)
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

static clgrad_status check_mean_std(const char *what, int n, const float *mean, const float *std)
{
    for (int c = 0; c < n; c++)
        if (!(std[c] > 0.0f) || !isfinite(std[c]) || !isfinite(mean[c]))
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                                "%s: std must be positive and finite and mean finite (channel %d: "
                                "mean %g, std %g)", what, c, (double)mean[c], (double)std[c]);
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
    CLGRAD_TRY(check_mean_std("dataset options", 1, &o.mean, &o.std));
    if (o.max_samples < 0)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "dataset options: max_samples is negative (%lld)",
                            (long long)o.max_samples);

    if (images->type != CLGRAD_IDX_U8)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED,
                            "%s: images must be unsigned bytes (IDX type 0x08), this file has "
                            "type 0x%02x; read it with clgrad_idx_load instead",
                            images_name, (unsigned)images->type);
    if (images->ndim < 2)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "%s: an images file needs at least 2 dimensions (count, then the "
                            "sample shape), this one has %d", images_name, images->ndim);
    if (o.channels_last && images->ndim != 4)
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

    int64_t n = images->dims[0];
    if (o.max_samples > 0 && o.max_samples < n) n = o.max_samples;
    int64_t sample_size = 1;
    for (int i = 1; i < images->ndim; i++) {
        int64_t d = images->dims[i];
        if (d < 0 || (d != 0 && sample_size > INT64_MAX / d))
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                                "%s: the sample dimensions overflow", images_name);
        sample_size *= d;
    }
    if ((uint64_t)sample_size > SIZE_MAX || (n > 0 && (size_t)sample_size > SIZE_MAX / (size_t)n))
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: the images overflow the address space",
                            images_name);

    storage *st = calloc(1, sizeof *st);
    if (!st) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "dataset: out of host memory");
    st->n = n;
    st->sample_ndim = images->ndim - 1;
    for (int i = 1; i < images->ndim; i++) st->sample_shape[i - 1] = images->dims[i];
    if (o.channels_last) { /* (H, W, C) -> (C, H, W) */
        st->sample_shape[0] = images->dims[3];
        st->sample_shape[1] = images->dims[1];
        st->sample_shape[2] = images->dims[2];
    }
    st->sample_size = sample_size;
    size_t pix_bytes = (size_t)n * (size_t)sample_size;
    st->pixels = malloc(pix_bytes ? pix_bytes : 1);
    st->labels = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    clgrad_status s = CLGRAD_OK;
    if (!st->pixels || !st->labels) {
        storage_free(st);
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY,
                            "dataset: out of host memory (%zu bytes of images)", pix_bytes);
    }
    if (o.channels_last) {
        const uint8_t *src = images->data;
        int64_t hw = images->dims[1] * images->dims[2], c_n = images->dims[3];
        for (int64_t i = 0; i < n; i++)
            for (int64_t p = 0; p < hw; p++)
                for (int64_t c = 0; c < c_n; c++)
                    st->pixels[(size_t)(i * sample_size + c * hw + p)] = src[(size_t)(i * sample_size + p * c_n + c)];
    } else if (pix_bytes) {
        memcpy(st->pixels, images->data, pix_bytes);
    }

    int64_t max_label = -1;
    for (int64_t i = 0; i < n; i++) {
        int64_t v;
        switch (labels->type) {
        case CLGRAD_IDX_U8: v = ((const uint8_t *)labels->data)[i]; break;
        case CLGRAD_IDX_I8: v = ((const int8_t *)labels->data)[i]; break;
        case CLGRAD_IDX_I16: v = ((const int16_t *)labels->data)[i]; break;
        default: v = ((const int32_t *)labels->data)[i]; break;
        }
        if (v < 0 || v >= INT32_MAX) {
            storage_free(st);
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                                "%s: label %lld of sample %lld is out of range (labels must be "
                                "0 .. 2^31-2)", labels_name, (long long)v, (long long)i);
        }
        st->labels[i] = (int32_t)v;
        if (v > max_label) max_label = v;
    }
    st->n_classes = (int)(max_label + 1);
    s = set_norm(st, -1, 1, &o.mean, &o.std);
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
    storage *st = calloc(1, sizeof *st);
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
    clgrad_status s = set_norm(st, -1, 1, &zero, &one);
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

clgrad_status clgrad_dataset_split(const clgrad_dataset *ds, int64_t n_holdout, uint64_t seed,
                                   clgrad_dataset **train, clgrad_dataset **holdout)
{
    if (train) *train = NULL;
    if (holdout) *holdout = NULL;
    CLGRAD_CHECK_ARG(NULL, train != NULL && holdout != NULL, "train or holdout is NULL");
    CLGRAD_CHECK_ARG(NULL, ds != NULL, "ds is NULL");
    if (n_holdout < 0 || n_holdout > ds->n)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "dataset split: n_holdout %lld is outside [0, %lld]",
                            (long long)n_holdout, (long long)ds->n);
    int64_t n = ds->n;
    /* Positions in ds's unshuffled order; the first n_holdout of a seeded permutation go to
     * the holdout set, and a mark per position keeps each part in its original order. */
    int64_t *perm = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    unsigned char *mark = calloc((size_t)(n ? n : 1), 1);
    int64_t *tr = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    int64_t *ho = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    clgrad_status s = CLGRAD_OK;
    if (!perm || !mark || !tr || !ho) {
        s = clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "dataset split: out of host memory");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    clgrad__rng r;
    clgrad__rng_init(&r, seed, STREAM_SPLIT);
    permute(perm, n, &r);
    for (int64_t i = 0; i < n_holdout; i++) mark[perm[i]] = 1;
    int64_t nt = 0, nh = 0;
    for (int64_t i = 0; i < n; i++) {
        if (mark[i]) ho[nh++] = ds->base[i];
        else tr[nt++] = ds->base[i];
    }
    s = view_create(ds->st, tr, nt, train);
    if (s == CLGRAD_OK) s = view_create(ds->st, ho, nh, holdout);
    if (s != CLGRAD_OK) {
        clgrad_dataset_release(*train);
        *train = NULL;
    }
done:
    free(perm);
    free(mark);
    free(tr);
    free(ho);
    return s;
}

clgrad_status clgrad_dataset_shuffle(clgrad_dataset *ds, uint64_t seed, uint64_t epoch)
{
    CLGRAD_CHECK_ARG(NULL, ds != NULL, "ds is NULL");
    if (ds->n) memcpy(ds->order, ds->base, (size_t)ds->n * sizeof(int64_t));
    clgrad__rng r;
    clgrad__rng_init(&r, seed, STREAM_SHUFFLE(epoch));
    permute(ds->order, ds->n, &r);
    return CLGRAD_OK;
}

int64_t clgrad_dataset_n_batches(const clgrad_dataset *ds, int64_t batch_size)
{
    if (!ds || batch_size <= 0) return 0;
    return ds->n / batch_size + (ds->n % batch_size != 0);
}

/* Normalised values of sample row into dst. */
static void copy_sample(const storage *st, int64_t row, float *dst)
{
    size_t ss = (size_t)st->sample_size;
    if (st->pixels) {
        const uint8_t *src = st->pixels + (size_t)row * ss;
        if (st->norm_n == 1) {
            for (size_t j = 0; j < ss; j++) dst[j] = st->lut[src[j]];
            return;
        }
        size_t inner = (size_t)st->norm_inner;
        for (size_t j0 = 0, c = 0; j0 < ss; j0 += inner, c = (c + 1) % (size_t)st->norm_n) {
            const float *lut = st->lut + c * 256;
            for (size_t j = j0; j < j0 + inner; j++) dst[j] = lut[src[j]];
        }
        return;
    }
    const float *src = st->values + (size_t)row * ss;
    size_t inner = (size_t)st->norm_inner;
    for (size_t j0 = 0, c = 0; j0 < ss; j0 += inner, c = (c + 1) % (size_t)st->norm_n) {
        float m = st->norm_mean[c], sd = st->norm_std[c];
        for (size_t j = j0; j < j0 + inner; j++) dst[j] = (src[j] - m) / sd;
    }
}

/* The checks shared by the batch getters; *first and *k get the batch's positions. */
static clgrad_status batch_range(const clgrad_dataset *ds, int64_t batch_index, int64_t batch_size,
                                 int64_t *first, int64_t *k)
{
    CLGRAD_CHECK_ARG(NULL, ds != NULL, "ds is NULL");
    if (batch_size <= 0)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "dataset batch: batch_size %lld <= 0",
                            (long long)batch_size);
    int64_t nb = clgrad_dataset_n_batches(ds, batch_size);
    if (batch_index < 0 || batch_index >= nb)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "dataset batch: batch_index %lld is outside [0, %lld) for %lld "
                            "samples in batches of %lld",
                            (long long)batch_index, (long long)nb, (long long)ds->n,
                            (long long)batch_size);
    *first = batch_index * batch_size;
    *k = ds->n - *first < batch_size ? ds->n - *first : batch_size;
    return CLGRAD_OK;
}

clgrad_status clgrad_dataset_batch(const clgrad_dataset *ds, int64_t batch_index,
                                   int64_t batch_size, float *x, int32_t *y, int64_t *n_out)
{
    if (n_out) *n_out = 0;
    int64_t first, k;
    CLGRAD_TRY(batch_range(ds, batch_index, batch_size, &first, &k));
    const storage *st = ds->st;
    if (y && !st->labels)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "dataset batch: this dataset has float targets, not labels "
                            "(use clgrad_dataset_batch_targets)");
    for (int64_t i = 0; i < k; i++) {
        int64_t row = ds->order[first + i];
        if (x) copy_sample(st, row, x + (size_t)i * (size_t)st->sample_size);
        if (y) y[i] = st->labels[row];
    }
    if (n_out) *n_out = k;
    return CLGRAD_OK;
}

clgrad_status clgrad_dataset_batch_targets(const clgrad_dataset *ds, int64_t batch_index,
                                           int64_t batch_size, float *x, float *t, int64_t *n_out)
{
    if (n_out) *n_out = 0;
    int64_t first, k;
    CLGRAD_TRY(batch_range(ds, batch_index, batch_size, &first, &k));
    const storage *st = ds->st;
    if (t && !st->targets)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "dataset batch: this dataset has labels, not float targets (use "
                            "clgrad_dataset_batch)");
    size_t nt = (size_t)st->n_targets;
    for (int64_t i = 0; i < k; i++) {
        int64_t row = ds->order[first + i];
        if (x) copy_sample(st, row, x + (size_t)i * (size_t)st->sample_size);
        if (t) memcpy(t + (size_t)i * nt, st->targets + (size_t)row * nt, nt * sizeof(float));
    }
    if (n_out) *n_out = k;
    return CLGRAD_OK;
}

int clgrad_dataset_n_targets(const clgrad_dataset *ds) { return ds ? ds->st->n_targets : 0; }

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
    CLGRAD_TRY(check_mean_std("dataset normalization", n, mean, std));
    if (n == 1) axis = 0; /* one channel: the whole sample */
    storage *st = ds->st;
    CLGRAD_TRY(set_norm(st, n == 1 ? -1 : axis, n, mean, std));
    if (n == 1) st->norm_inner = st->sample_size;
    return CLGRAD_OK;
}

clgrad_status clgrad_dataset_channel_stats(const clgrad_dataset *ds, int axis, double *mean, double *std,
                                           double *min, double *max)
{
    CLGRAD_CHECK_ARG(NULL, ds != NULL && mean != NULL && std != NULL, "ds, mean or std is NULL");
    int64_t nc = axis_size(ds, &axis, "dataset channel_stats");
    if (nc < 0) return CLGRAD_ERR_INVALID_ARG;
    const storage *st = ds->st;
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
    return view_create(ds->st, ds->base + first, count, out);
}
