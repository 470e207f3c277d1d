/* Datasets in use: seeded splits, shuffles per epoch and batches copied out normalised;
 * also the portable host random generator behind the splits and shuffles. */
#include "core/core.h"
#include "dataset_impl.h"

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
    s = clgrad__ds_view_create(ds->st, tr, nt, train);
    if (s == CLGRAD_OK) s = clgrad__ds_view_create(ds->st, ho, nh, holdout);
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
static void copy_sample(const clgrad__ds_storage *st, int64_t row, float *dst)
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

/* The samples of a batch into x, their labels into y, their float targets into t (each
 * skipped when NULL; asking for what the dataset does not have is an error). */
static clgrad_status batch(const clgrad_dataset *ds, int64_t batch_index, int64_t batch_size, float *x, int32_t *y,
                           float *t, int64_t *n_out)
{
    if (n_out) *n_out = 0;
    int64_t first = 0, k = 0;
    CLGRAD_TRY(batch_range(ds, batch_index, batch_size, &first, &k));
    const clgrad__ds_storage *st = ds->st;
    if (y && !st->labels)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "dataset batch: this dataset has float targets, not labels "
                            "(use clgrad_dataset_batch_targets)");
    if (t && !st->targets)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "dataset batch: this dataset has labels, not float targets (use "
                            "clgrad_dataset_batch)");
    size_t nt = (size_t)st->n_targets;
    for (int64_t i = 0; i < k; i++) {
        int64_t row = ds->order[first + i];
        if (x) copy_sample(st, row, x + (size_t)i * (size_t)st->sample_size);
        if (y) y[i] = st->labels[row];
        if (t) memcpy(t + (size_t)i * nt, st->targets + (size_t)row * nt, nt * sizeof(float));
    }
    if (n_out) *n_out = k;
    return CLGRAD_OK;
}

clgrad_status clgrad_dataset_batch(const clgrad_dataset *ds, int64_t batch_index,
                                   int64_t batch_size, float *x, int32_t *y, int64_t *n_out)
{
    return batch(ds, batch_index, batch_size, x, y, NULL, n_out);
}

clgrad_status clgrad_dataset_batch_targets(const clgrad_dataset *ds, int64_t batch_index,
                                           int64_t batch_size, float *x, float *t, int64_t *n_out)
{
    return batch(ds, batch_index, batch_size, x, NULL, t, n_out);
}
