/* Internal interface of the random-number family (src/ops/rng.c, cl/rng.cl): counter-based
 * Philox4x32-10 streams where element i depends only on (seed, i), and dropout built on them. */
#ifndef CLGRAD_SRC_OPS_RNG_H
#define CLGRAD_SRC_OPS_RNG_H

#include "ops/ops.h"

/* Kernel family of cl/rng.cl (dropout's kernels live there too). */
#define CLGRAD__RNG_FAMILY "rng"

/* Fills the contiguous f32 tensor dst with lo + (hi - lo) * u(seed, start + k), k < numel,
 * u the uniform [0, 1) value of element index start + k (see cl/rng.cl). Enqueues only. */
clgrad_status clgrad__philox_uniform(clgrad_tensor *dst, uint64_t seed, uint64_t start, float lo, float hi);
/* The same with mean + std * N(0, 1) values (Box-Muller on index pairs). */
clgrad_status clgrad__philox_normal(clgrad_tensor *dst, uint64_t seed, uint64_t start, float mean, float std);

/* y (contiguous, x's shape) = dropout of x (any view) with keep probability 1 - p and the
 * mask of (seed, element index): kept elements scaled by 1 / (1 - p). 0 <= p <= 1. */
clgrad_status clgrad__dropout_apply(clgrad_tensor *y, clgrad_tensor *x, float p, uint64_t seed);

#endif
