/* The distributed sampler: each epoch's order is the one clgrad_dataset_shuffle gives (the
 * io layer's permutation), cut into global batches, and each rank takes its contiguous share
 * of every global batch. */
#include "dist/dist.h"
#include "io/io.h"

#include <stdlib.h>

struct clgrad_dist_sampler {
    int64_t n, global_batch, local_batch, steps;
    int rank, size, shuffle;
    uint64_t seed, epoch;
    int64_t *order; /* the current epoch's order */
};

static void fill_order(clgrad_dist_sampler *s)
{
    if (s->shuffle) clgrad__shuffle_order(s->order, s->n, s->seed, s->epoch);
    else
        for (int64_t i = 0; i < s->n; i++) s->order[i] = i;
}

clgrad_status clgrad_dist_sampler_create(int64_t n_samples, int64_t global_batch, int rank, int size, uint64_t seed,
                                         int shuffle, clgrad_dist_sampler **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(NULL, out != NULL, "out is NULL");
    if (size < 1 || rank < 0 || rank >= size)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_dist_sampler_create: rank %d of %d ranks", rank, size);
    if (n_samples < 1 || global_batch < 1 || global_batch > n_samples)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_dist_sampler_create: the global batch %lld must be in [1, %lld] (the samples)",
                            (long long)global_batch, (long long)n_samples);
    if (global_batch % size != 0)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_dist_sampler_create: the global batch %lld does not divide among %d ranks",
                            (long long)global_batch, size);
    if ((uint64_t)n_samples > SIZE_MAX / sizeof(int64_t))
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_dist_sampler_create: %lld samples are too many",
                            (long long)n_samples);
    clgrad_dist_sampler *s = calloc(1, sizeof *s);
    if (s) s->order = malloc((size_t)n_samples * sizeof *s->order);
    if (!s || !s->order) {
        if (s) free(s->order);
        free(s);
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "clgrad_dist_sampler_create: out of host memory");
    }
    s->n = n_samples;
    s->global_batch = global_batch;
    s->local_batch = global_batch / size;
    s->steps = n_samples / global_batch;
    s->rank = rank;
    s->size = size;
    s->seed = seed;
    s->shuffle = shuffle != 0;
    fill_order(s);
    *out = s;
    return CLGRAD_OK;
}

void clgrad_dist_sampler_release(clgrad_dist_sampler *s)
{
    if (!s) return;
    free(s->order);
    free(s);
}

clgrad_status clgrad_dist_sampler_set_epoch(clgrad_dist_sampler *s, uint64_t epoch)
{
    CLGRAD_CHECK_ARG(NULL, s != NULL, "s is NULL");
    if (epoch != s->epoch) {
        s->epoch = epoch;
        fill_order(s);
    }
    return CLGRAD_OK;
}

int64_t clgrad_dist_sampler_steps(const clgrad_dist_sampler *s) { return s ? s->steps : 0; }
int64_t clgrad_dist_sampler_local_batch(const clgrad_dist_sampler *s) { return s ? s->local_batch : 0; }

clgrad_status clgrad_dist_sampler_indices(const clgrad_dist_sampler *s, int64_t step, int64_t *indices, int64_t cap,
                                          int64_t *n)
{
    if (n) *n = 0;
    CLGRAD_CHECK_ARG(NULL, s != NULL && indices != NULL && n != NULL, "s, indices and n must not be NULL");
    if (step < 0 || step >= s->steps)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_dist_sampler_indices: step %lld is not in [0, %lld)",
                            (long long)step, (long long)s->steps);
    if (cap < s->local_batch)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_dist_sampler_indices: room for %lld indices, the local batch is %lld", (long long)cap,
                            (long long)s->local_batch);
    const int64_t *from = s->order + step * s->global_batch + (int64_t)s->rank * s->local_batch;
    for (int64_t i = 0; i < s->local_batch; i++) indices[i] = from[i];
    *n = s->local_batch;
    return CLGRAD_OK;
}
