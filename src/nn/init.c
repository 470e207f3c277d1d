/* Seeded initialisers with PyTorch's default formulas, and the seed derivation every layer
 * uses so that a layer's tensors come from independent, reproducible streams. */
#include "nn/nn.h"

#include <math.h>

/* splitmix64's finaliser: consecutive inputs give unrelated outputs. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t clgrad__seed_derive(uint64_t seed, uint64_t k)
{
    return mix64(mix64(seed + 0x9E3779B97F4A7C15ull) ^ (k * 0xD1B54A32D192ED03ull + 0x632BE59BD9B4E019ull));
}

clgrad_status clgrad__init_fan_in_uniform(clgrad_context *ctx, int ndim, const int64_t *shape, int64_t fan_in,
                                          uint64_t seed, clgrad_tensor **out)
{
    if (fan_in <= 0) return clgrad_tensor_zeros(ctx, CLGRAD_DTYPE_F32, ndim, shape, out);
    float bound = (float)(1.0 / sqrt((double)fan_in));
    return clgrad_tensor_uniform(ctx, ndim, shape, seed, -bound, bound, out);
}
