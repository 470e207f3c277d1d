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

/* ---------------------------------------------------------------------------------------
 * Datasets
 * ------------------------------------------------------------------------------------- */

typedef struct storage {
    int refs;
    int64_t n;                 /* samples */
    int sample_ndim;
    int64_t sample_shape[CLGRAD_IDX_MAX_DIMS];
    int64_t sample_size;       /* bytes (= floats) per sample */
    int n_classes;
    uint8_t *pixels;           /* n * sample_size */
    int32_t *labels;           /* n */
    float lut[256];            /* pixel value -> normalised float */
} storage;

struct clgrad_dataset {
    storage *st;
    int64_t n;
    int64_t *base;   /* sample indices in unshuffled order */
    int64_t *order;  /* the same indices in the current batch order */
};

static void storage_unref(storage *st)
{
    if (!st || --st->refs > 0) return;
    free(st->pixels);
    free(st->labels);
    free(st);
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

clgrad_status clgrad__dataset_from_idx(const clgrad_idx *images, const char *images_name,
                                       const clgrad_idx *labels, const char *labels_name,
                                       const clgrad_dataset_opts *opts, clgrad_dataset **out)
{
    CLGRAD_CHECK_ARG(NULL, out != NULL, "out is NULL");
    *out = NULL;
    CLGRAD_CHECK_ARG(NULL, images != NULL && labels != NULL, "images or labels is NULL");
    if (!images_name) images_name = "images";
    if (!labels_name) labels_name = "labels";
    clgrad_dataset_opts o = {0.0f, 1.0f, 0};
    if (opts) o = *opts;
    if (o.std == 0.0f) o.std = 1.0f;
    if (!(o.std > 0.0f) || !isfinite(o.std) || !isfinite(o.mean))
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "dataset options: std must be positive and finite and mean finite "
                            "(got mean %g, std %g)", (double)o.mean, (double)o.std);
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
    st->sample_size = sample_size;
    size_t pix_bytes = (size_t)n * (size_t)sample_size;
    st->pixels = malloc(pix_bytes ? pix_bytes : 1);
    st->labels = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    clgrad_status s = CLGRAD_OK;
    if (!st->pixels || !st->labels || !idx) {
        s = clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY,
                         "dataset: out of host memory (%zu bytes of images)", pix_bytes);
        goto done;
    }
    if (pix_bytes) memcpy(st->pixels, images->data, pix_bytes);

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
            s = clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                             "%s: label %lld of sample %lld is out of range (labels must be "
                             "0 .. 2^31-2)", labels_name, (long long)v, (long long)i);
            goto done;
        }
        st->labels[i] = (int32_t)v;
        if (v > max_label) max_label = v;
        idx[i] = i;
    }
    st->n_classes = (int)(max_label + 1);
    for (int v = 0; v < 256; v++)
        st->lut[v] = (float)(((double)v / 255.0 - (double)o.mean) / (double)o.std);

    s = view_create(st, idx, n, out);
done:
    free(idx);
    if (s != CLGRAD_OK) {
        free(st->pixels);
        free(st->labels);
        free(st);
    }
    return s;
}

clgrad_status clgrad_dataset_load_idx(const char *images_path, const char *labels_path,
                                      const clgrad_dataset_opts *opts, clgrad_dataset **out)
{
    CLGRAD_CHECK_ARG(NULL, out != NULL, "out is NULL");
    *out = NULL;
    CLGRAD_CHECK_ARG(NULL, images_path != NULL, "images_path is NULL");
    CLGRAD_CHECK_ARG(NULL, labels_path != NULL, "labels_path is NULL");
    clgrad_idx *images = NULL, *labels = NULL;
    clgrad_status s = clgrad_idx_load(labels_path, &labels);
    if (s == CLGRAD_OK) s = clgrad_idx_load(images_path, &images);
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

clgrad_status clgrad_dataset_batch(const clgrad_dataset *ds, int64_t batch_index,
                                   int64_t batch_size, float *x, int32_t *y, int64_t *n_out)
{
    if (n_out) *n_out = 0;
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
    const storage *st = ds->st;
    int64_t first = batch_index * batch_size;
    int64_t k = ds->n - first < batch_size ? ds->n - first : batch_size;
    size_t ss = (size_t)st->sample_size;
    for (int64_t i = 0; i < k; i++) {
        int64_t row = ds->order[first + i];
        if (x) {
            const uint8_t *src = st->pixels + (size_t)row * ss;
            float *dst = x + (size_t)i * ss;
            for (size_t j = 0; j < ss; j++) dst[j] = st->lut[src[j]];
        }
        if (y) y[i] = st->labels[row];
    }
    if (n_out) *n_out = k;
    return CLGRAD_OK;
}
