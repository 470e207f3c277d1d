/* The models, data and training loop of the data-parallel tests (test_dist_local.c in one
 * process, test_dist_mpi.c under mpirun): a small CNN (conv, ReLU, max pool, twice, then a
 * linear layer, like clgrad-train's cnn model but smaller), an LSTM classifier and a CNN
 * with batch norm, trained with SGD with momentum on seeded random data, by one process on
 * the whole global batch or by each rank of a group on its share (clgrad_dist_sampler). */
#ifndef CLGRAD_TEST_DIST_MODELS_H
#define CLGRAD_TEST_DIST_MODELS_H

#include "clgrad.h"

#include <stddef.h>
#include <stdint.h>

typedef enum dm_kind { DM_CNN = 0, DM_LSTM = 1, DM_BN = 2 } dm_kind;

#define DM_SAMPLES 640

typedef struct dm_data {
    dm_kind kind;
    int64_t n, sample;   /* samples, floats per sample */
    int ndim;            /* of one sample */
    int64_t shape[3];
    float *x;
    int32_t *y;
} dm_data;

void dm_data_make(dm_data *d, dm_kind kind, uint64_t seed);
void dm_data_free(dm_data *d);
const char *dm_name(dm_kind kind);

clgrad_status dm_model(clgrad_context *ctx, dm_kind kind, uint64_t seed, clgrad_module **out);
clgrad_status dm_loss(clgrad_module *m, dm_kind kind, clgrad_tensor *x, clgrad_tensor *y, clgrad_tensor **loss);

typedef struct dm_train {
    int steps;
    int64_t global_batch;
    uint64_t data_seed;
    int fail_rank, fail_step;    /* that rank feeds a batch of the wrong shape at that step (-1: never) */
    int stall_rank, stall_step;  /* that rank sleeps stall_seconds before clgrad_dist_sync (-1: never) */
    double stall_seconds;
    double *step_seconds;        /* optional: each step's time, steps entries */
} dm_train;

/* Trains m on d: with g, this rank's share of every global batch and clgrad_dist_sync after
 * each backward (m attached to g already); with g NULL, the whole global batch. */
clgrad_status dm_train_run(clgrad_dist *g, clgrad_module *m, const dm_data *d, const dm_train *t);

/* Every parameter then every buffer of m, as one malloc'd array of *n floats. */
float *dm_weights(const clgrad_module *m, size_t *n);

/* max |a - b| / max |b| over the n values: the difference relative to the weights' scale. */
double dm_rel_diff(const float *a, const float *b, size_t n);
/* max |a - b| / |b| over the values with |b| >= floor (the elementwise relative difference). */
double dm_elem_rel_diff(const float *a, const float *b, size_t n, double floor);

#endif
