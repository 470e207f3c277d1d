/* Per-device kernel parameters, kept as small tables in the manner of CLBlast's database:
 * each row pairs a device match with a parameter set, the first matching row wins and the
 * last row of every table matches any device (the default). Kernels are specialised by the
 * -D values these rows produce; no other code looks at vendor or device names. The lookup
 * is pure (no OpenCL calls), so tests can drive it with made-up device descriptions. */
#ifndef CLGRAD_SRC_PROGRAM_TUNING_H
#define CLGRAD_SRC_PROGRAM_TUNING_H

#include "clgrad.h"

/* Which devices a row applies to. Every field left at zero / NULL matches anything. */
typedef struct clgrad__tuning_match {
    unsigned kinds;        /* bit (1u << clgrad_device_kind) per kind; 0: any kind */
    unsigned local_mems;   /* bit (1u << clgrad_local_mem_kind) per kind; 0: any */
    const char *vendor;    /* case-insensitive substring of the vendor or platform name */
    const char *device;    /* case-insensitive substring of the device name */
    int min_vector_width;  /* native float vector width at least this (CPU SIMD width) */
} clgrad__tuning_match;

/* What a row is matched against: the device description plus the one figure the public
 * info struct lacks. */
typedef struct clgrad__tuning_device {
    const clgrad_device_info *info;
    int vector_width; /* CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT (0 if unknown) */
} clgrad__tuning_device;

int clgrad__tuning_matches(const clgrad__tuning_match *m, const clgrad__tuning_device *d);

/* cl/matmul.cl, CPU variant (packing + register-blocked compute, work-group size 1):
 * micro-tile mr x (nv * vw), the k length copied per packing work-item, the block of C
 * each compute work-item aims for, wi_m x wi_n (0: 64 x 128; fewer when that leaves too
 * few work-items for the compute units), and the packing depth: K is packed in chunks
 * whose panels take about chunk_kb KiB (0: 4096). */
typedef struct clgrad__gemm_cpu_params {
    int mr, vw, nv, pack_k;
    int wi_m, wi_n;
    int chunk_kb;
} clgrad__gemm_cpu_params;

/* cl/matmul.cl, tiled variant (local-memory tiles): a ts_m x ts_n tile of C per
 * work-group of (ts_n / wpt_n) x (ts_m / wpt_m) work-items, k stepped ts_k at a time,
 * pad floats added to each local row. */
typedef struct clgrad__gemm_tiled_params {
    int ts_m, ts_n, ts_k, wpt_m, wpt_n, pad;
} clgrad__gemm_tiled_params;

/* Which GEMM variant a device runs unless CLGRAD_GEMM_VARIANT says otherwise. */
typedef struct clgrad__gemm_variant_params {
    int tiled; /* 1: the tiled variant (local-memory tiles), 0: the CPU variant */
} clgrad__gemm_variant_params;

/* The per-device choices of the op families other than GEMM. Every choice is a speed
 * choice only: each variant gives the same bits. */
typedef struct clgrad__ops_params {
    int wg_1d;            /* work-group size of the simple 1-D kernels (clamped to the device's) */
    int vw;               /* floats per work-item of the contiguous elementwise, activation and copy
                           * kernels (-DEW_VW, -DAC_VW, -DCOPY_VW) */
    int row_kernels;      /* conv and pool: a work-item per row or plane (im2col rows, plane copies
                           * and sums, 2x2 max pooling) instead of the coalesced work-group kernels */
    int red_colwg;        /* reduce: columns by a work-group per block of columns (reduce_colwg) */
    int red_rows_long;    /* reduce: long rows in one work-item's vector lanes (else a work-group) */
    int red_vec_wg;       /* reduce: work-group size of the vector kernels (0: wg_1d) */
    int smx_wg;           /* softmax: a work-group per row, short rows included */
    int smx_vw;           /* softmax: vector width of the row kernels (0: each kernel's narrow width) */
    int nll_fused_smooth; /* cross entropy: the one-launch reduced loss with label smoothing too */
    int sum_cw;           /* the ordered column sum: adjacent columns per work-item */
    int red_colwg_items;  /* reduce_colwg: work-items per work-group (columns x lanes), at most */
    int conv_wg;          /* conv: work-group width of the (pixels, planes) launches, at most */
    int conv_direct_c1;   /* conv with one input channel (groups == 1): 0 im2col + GEMM, 1 the
                           * direct kernels forward, 2 forward and backward */
    int conv_per_image;   /* conv backward on the im2col path: one GEMM per image on dy's planes
                           * (no CNHW copy of dy) 0 never, 1 for the weight gradient alone (a
                           * first layer), 2 with the input gradient too */
    int conv_chunk_kb;    /* conv: images go through im2col + GEMM in chunks whose column matrix
                           * stays under this many KiB (0: the device-wide temporary bound) */
} clgrad__ops_params;

/* The first matching row of each table (never NULL: the last row matches everything).
 * *row, when not NULL, receives the row's index (for tools that print the choice). */
const clgrad__gemm_cpu_params *clgrad__tuning_gemm_cpu(const clgrad__tuning_device *d, int *row);
const clgrad__gemm_tiled_params *clgrad__tuning_gemm_tiled(const clgrad__tuning_device *d, int *row);
const clgrad__gemm_variant_params *clgrad__tuning_gemm_variant(const clgrad__tuning_device *d, int *row);
const clgrad__ops_params *clgrad__tuning_ops(const clgrad__tuning_device *d, int *row);

/* Row i of a table (NULL past the last row), for tests and tuners that go through every
 * parameter set a device may get. */
const clgrad__gemm_cpu_params *clgrad__tuning_gemm_cpu_row(int i);
const clgrad__gemm_tiled_params *clgrad__tuning_gemm_tiled_row(int i);
const clgrad__ops_params *clgrad__tuning_ops_row(int i);

/* The next smaller tiled parameter set after p failed a device limit: halves the larger
 * tile side (keeping it a multiple of its wpt), then the work per thread, then ts_k.
 * Returns 0 when p is already 1 x 1 x 1 and nothing is left to shrink. */
int clgrad__tuning_gemm_tiled_shrink(clgrad__gemm_tiled_params *p);

/* Work-group size and local-memory bytes a tiled parameter set needs. */
size_t clgrad__tuning_gemm_tiled_wg(const clgrad__gemm_tiled_params *p);
size_t clgrad__tuning_gemm_tiled_local_bytes(const clgrad__gemm_tiled_params *p);

/* -D options for a row ("-DMM_VARIANT_CPU -DMM_MR=8 ..."), written into buf. */
void clgrad__tuning_gemm_cpu_options(const clgrad__gemm_cpu_params *p, char *buf, size_t cap);
void clgrad__tuning_gemm_tiled_options(const clgrad__gemm_tiled_params *p, char *buf, size_t cap);

#endif
