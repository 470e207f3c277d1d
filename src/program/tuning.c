/* Per-device kernel parameter tables (see tuning.h). Rows are tried in order, the first
 * match wins and the last row of a table is the default for any device. Rows marked
 * "measured" were timed on real hardware; the others are starting points that a tuner run
 * (or a measured contribution) should replace. */
#include "program/tuning.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define KIND(k) (1u << (k))
#define ANY_GPU (KIND(CLGRAD_DEVICE_KIND_GPU_DISCRETE) | KIND(CLGRAD_DEVICE_KIND_GPU_INTEGRATED))

typedef struct cpu_row {
    clgrad__tuning_match match;
    clgrad__gemm_cpu_params p;
} cpu_row;

typedef struct tiled_row {
    clgrad__tuning_match match;
    clgrad__gemm_tiled_params p;
} tiled_row;

/* CPU variant, for devices without on-chip local memory. The micro-tile keeps
 * mr * nv vector accumulators of vw floats in registers: 16 zmm for AVX-512, 12 ymm
 * for AVX2, 12 xmm for SSE / NEON. */
static const cpu_row gemm_cpu_rows[] = {
    /* kinds  local  vendor  device  vw>=      mr  vw  nv  pack_k  wi_m wi_n (0: 64 x 128) chunk_kb (0: 4096) */
    {{0, 0, NULL, NULL, 16}, {8, 16, 2, 64, 0, 0, 0}}, /* AVX-512 (measured: PoCL, ~460 GFLOP/s on 2 cores) */
    {{0, 0, NULL, NULL, 8}, {6, 8, 2, 64, 0, 0, 0}},   /* AVX2, 16 ymm registers */
    {{0, 0, NULL, NULL, 0}, {4, 4, 3, 64, 0, 0, 0}},   /* default: 4-wide SIMD */
};

/* Tiled variant, for GPUs (whatever local memory they report: Mali GPUs say CL_GLOBAL
 * yet still want work-groups) and for other devices with on-chip local memory. Sizes too
 * big for a device's work-group or local-memory limits are shrunk at run time
 * (clgrad__tuning_gemm_tiled_shrink). */
static const tiled_row gemm_tiled_rows[] = {
    /* kinds     local         vendor       device   vw     ts_m ts_n ts_k wpt_m wpt_n pad */
    {{ANY_GPU, 0, "NVIDIA", NULL, 0}, {64, 64, 16, 4, 4, 1}},
    {{ANY_GPU, 0, "Advanced Micro Devices", NULL, 0}, {64, 64, 16, 4, 4, 1}},
    {{ANY_GPU, 0, "AMD", NULL, 0}, {64, 64, 16, 4, 4, 1}},
    {{ANY_GPU, 0, "Intel", NULL, 0}, {32, 32, 16, 4, 4, 1}},
    {{ANY_GPU, 0, NULL, "Mali", 0}, {32, 32, 16, 4, 4, 1}},
    {{ANY_GPU, 0, NULL, "Adreno", 0}, {32, 32, 16, 4, 4, 1}},
    {{KIND(CLGRAD_DEVICE_KIND_GPU_DISCRETE), 0, NULL, NULL, 0}, {64, 64, 16, 4, 4, 1}},
    {{0, 0, NULL, NULL, 0}, {16, 16, 8, 4, 4, 1}}, /* default: 16 work-items, 1.1 KB */
};

typedef struct variant_row {
    clgrad__tuning_match match;
    clgrad__gemm_variant_params p;
} variant_row;

/* The GEMM variant: the tiled one on GPUs (whatever local memory they report) and on other
 * non-CPU devices with on-chip local memory, the CPU one elsewhere. */
static const variant_row gemm_variant_rows[] = {
    /* kinds                               local                              tiled */
    {{ANY_GPU, 0, NULL, NULL, 0}, {1}},
    {{KIND(CLGRAD_DEVICE_KIND_CPU), 0, NULL, NULL, 0}, {0}},
    {{0, 1u << CLGRAD_LOCAL_MEM_LOCAL, NULL, NULL, 0}, {1}},
    {{0, 0, NULL, NULL, 0}, {0}}, /* default */
};

typedef struct ops_row {
    clgrad__tuning_match match;
    clgrad__ops_params p;
} ops_row;

/* The other op families. CPUs want wide vectors and a work-item per row or plane (their
 * compilers vectorise a work-item's loop); GPUs want narrow vectors and coalesced
 * work-groups (wide private arrays spill there). */
static const ops_row ops_rows[] = {
    /* kinds                                 wg  vw rows colwg rlong rwg swg svw nll sumcw cwgi cvwg c1 pimg cchunk */
    {{KIND(CLGRAD_DEVICE_KIND_CPU), 0, NULL, NULL, 0}, {64, 8, 1, 0, 1, 8, 0, 16, 1, 16, 256, 256, 0, 1, 0}},
    {{ANY_GPU, 0, NULL, NULL, 0}, {256, 4, 0, 1, 0, 0, 1, 0, 0, 1, 256, 256, 0, 1, 0}},
    /* other devices with on-chip local memory: softmax by work-groups */
    {{0, 1u << CLGRAD_LOCAL_MEM_LOCAL, NULL, NULL, 0}, {256, 4, 0, 0, 0, 8, 1, 0, 1, 1, 256, 256, 0, 1, 0}},
    {{0, 0, NULL, NULL, 0}, {256, 4, 0, 0, 0, 8, 0, 0, 1, 1, 256, 256, 0, 1, 0}}, /* default: accelerators, others */
};

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return n == 0;
}

int clgrad__tuning_matches(const clgrad__tuning_match *m, const clgrad__tuning_device *d)
{
    const clgrad_device_info *i = d->info;
    if (m->kinds && !(m->kinds & KIND(i->kind))) return 0;
    if (m->local_mems && !(m->local_mems & (1u << i->local_mem_kind))) return 0;
    if (m->vendor && !contains_nocase(i->vendor, m->vendor) && !contains_nocase(i->platform_name, m->vendor))
        return 0;
    if (m->device && !contains_nocase(i->name, m->device)) return 0;
    if (m->min_vector_width && d->vector_width < m->min_vector_width) return 0;
    return 1;
}

#define LOOKUP(rows, d, row)                                                                       \
    do {                                                                                           \
        const int n_ = (int)(sizeof rows / sizeof rows[0]);                                        \
        int i_ = 0;                                                                                \
        while (i_ < n_ - 1 && !clgrad__tuning_matches(&rows[i_].match, d)) i_++;                   \
        if (row) *row = i_;                                                                        \
        return &rows[i_].p;                                                                        \
    } while (0)

const clgrad__gemm_cpu_params *clgrad__tuning_gemm_cpu(const clgrad__tuning_device *d, int *row)
{
    LOOKUP(gemm_cpu_rows, d, row);
}

const clgrad__gemm_tiled_params *clgrad__tuning_gemm_tiled(const clgrad__tuning_device *d, int *row)
{
    LOOKUP(gemm_tiled_rows, d, row);
}

const clgrad__gemm_variant_params *clgrad__tuning_gemm_variant(const clgrad__tuning_device *d, int *row)
{
    LOOKUP(gemm_variant_rows, d, row);
}

const clgrad__ops_params *clgrad__tuning_ops(const clgrad__tuning_device *d, int *row)
{
    LOOKUP(ops_rows, d, row);
}

#define ROW_AT(rows, i) ((i) >= 0 && (size_t)(i) < sizeof rows / sizeof rows[0] ? &rows[i].p : NULL)

const clgrad__gemm_cpu_params *clgrad__tuning_gemm_cpu_row(int i) { return ROW_AT(gemm_cpu_rows, i); }
const clgrad__gemm_tiled_params *clgrad__tuning_gemm_tiled_row(int i) { return ROW_AT(gemm_tiled_rows, i); }
const clgrad__ops_params *clgrad__tuning_ops_row(int i) { return ROW_AT(ops_rows, i); }

size_t clgrad__tuning_gemm_tiled_wg(const clgrad__gemm_tiled_params *p)
{
    return (size_t)(p->ts_m / p->wpt_m) * (size_t)(p->ts_n / p->wpt_n);
}

size_t clgrad__tuning_gemm_tiled_local_bytes(const clgrad__gemm_tiled_params *p)
{
    return sizeof(float) * (size_t)p->ts_k * (size_t)(p->ts_m + p->ts_n + 2 * p->pad);
}

int clgrad__tuning_gemm_tiled_shrink(clgrad__gemm_tiled_params *p)
{
    /* halve the larger tile side while it stays a multiple of its work per thread */
    int *ts = p->ts_m >= p->ts_n ? &p->ts_m : &p->ts_n, *wpt = ts == &p->ts_m ? &p->wpt_m : &p->wpt_n;
    if (*ts / 2 >= *wpt && (*ts / 2) % *wpt == 0) {
        *ts /= 2;
        return 1;
    }
    int *ts2 = ts == &p->ts_m ? &p->ts_n : &p->ts_m, *wpt2 = ts2 == &p->ts_m ? &p->wpt_m : &p->wpt_n;
    if (*ts2 / 2 >= *wpt2 && (*ts2 / 2) % *wpt2 == 0) {
        *ts2 /= 2;
        return 1;
    }
    /* tiles are one thread wide: give each thread less work (smaller tiles, as many threads) */
    if (*wpt > 1) {
        *wpt /= 2;
        *ts /= 2;
        return 1;
    }
    if (*wpt2 > 1) {
        *wpt2 /= 2;
        *ts2 /= 2;
        return 1;
    }
    if (p->ts_k > 1) {
        p->ts_k /= 2;
        return 1;
    }
    if (p->pad > 0) {
        p->pad = 0;
        return 1;
    }
    return 0;
}

void clgrad__tuning_gemm_cpu_options(const clgrad__gemm_cpu_params *p, char *buf, size_t cap)
{
    snprintf(buf, cap, "-DMM_VARIANT_CPU -DMM_MR=%d -DMM_VW=%d -DMM_NV=%d -DMM_PACK_K=%d", p->mr, p->vw, p->nv,
             p->pack_k);
}

void clgrad__tuning_gemm_tiled_options(const clgrad__gemm_tiled_params *p, char *buf, size_t cap)
{
    snprintf(buf, cap, "-DMM_VARIANT_TILED -DMM_TS_M=%d -DMM_TS_N=%d -DMM_TS_K=%d -DMM_WPT_M=%d -DMM_WPT_N=%d -DMM_PAD=%d",
             p->ts_m, p->ts_n, p->ts_k, p->wpt_m, p->wpt_n, p->pad);
}
