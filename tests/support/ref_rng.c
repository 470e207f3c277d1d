/* Reference counter-based random numbers: Philox4x32-10, the uniform and normal values the
 * library assigns to each element index, and dropout built on them. Semantics are documented
 * in ref.h; the device kernels implement the same definitions. */
#include "ref.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void ref_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void ref_philox(uint64_t seed, uint64_t offset, uint32_t out[4])
{
    const uint32_t ctr[4] = { (uint32_t)offset, (uint32_t)(offset >> 32), 0u, 0u };
    const uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) };
    ref_philox4x32_10(ctr, key, out);
}

/* The 24-bit integer behind ref_uniform(seed, i). */
static uint32_t uniform_bits(uint64_t seed, uint64_t i)
{
    uint32_t w[4];
    ref_philox(seed, i / 4, w);
    return w[i % 4] >> 8;
}

float ref_uniform(uint64_t seed, uint64_t i)
{
    return (float)uniform_bits(seed, i) * 0x1p-24f;
}

float ref_normal(uint64_t seed, uint64_t i)
{
    uint64_t j = i & ~(uint64_t)1;
    double u1 = (double)((1u << 24) - uniform_bits(seed, j)) * 0x1p-24;
    double u2 = (double)uniform_bits(seed, j + 1) * 0x1p-24;
    double r = sqrt(-2.0 * log(u1));
    double a = 2.0 * 3.14159265358979323846 * u2;
    return (float)((i & 1) ? r * sin(a) : r * cos(a));
}

void ref_dropout_forward(size_t n, uint64_t seed, uint64_t offset, float p, const float *x,
                         float *y, float *mask)
{
    double keep_scale = 1.0 / (1.0 - (double)p); /* inf for p == 1, then never used */
    for (size_t k = 0; k < n; ++k) {
        int keep = ref_uniform(seed, offset + k) >= p;
        if (y)
            y[k] = keep ? (float)((double)x[k] / (1.0 - (double)p)) : 0.0f;
        if (mask)
            mask[k] = keep ? (float)keep_scale : 0.0f;
    }
}

void ref_dropout_backward(size_t n, uint64_t seed, uint64_t offset, float p, const float *dy,
                          float *dx)
{
    ref_dropout_forward(n, seed, offset, p, dy, dx, NULL);
}
