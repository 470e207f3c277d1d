/* Internal reduction helpers shared by other op families' backward rules. Only public types
 * here, so any layer may include it without seeing OpenCL. */
#ifndef CLGRAD_SRC_OPS_REDUCE_H
#define CLGRAD_SRC_OPS_REDUCE_H

#include "core/core.h"

/* Sums g over the dims that broadcasting added or expanded so that the result has shape
 * (ndim, shape): the gradient of an input that was broadcast to g's shape. Returns a new
 * reference (g itself when the shapes already match). Untracked. */
clgrad_status clgrad__sum_to_shape(clgrad_tensor *g, int ndim, const int64_t *shape, clgrad_tensor **out);

typedef enum clgrad__red_op {
    CLGRAD__RED_SUM = 0,
    CLGRAD__RED_MAX = 1,
    CLGRAD__RED_MIN = 2,
    CLGRAD__RED_SQDEV = 3, /* sum of (x - mean)^2, mean given per output element */
    CLGRAD__RED_ARGMAX = 4,
} clgrad__red_op;

/* The reduction engine. Reduces f32 x (any view) over the axes whose bit is set in mask
 * (bit d = axis d) and divides each result by div. The result is a new contiguous tensor
 * of shape (ndim, shape), whose element count must equal the product of the kept dims
 * (e.g. the kept dims, or keepdim's shape); i32 for ARGMAX (first index of the maximum in
 * the row-major order of the reduced axes), f32 otherwise. mean: contiguous, one element
 * per result, SQDEV only (else NULL). Fixed reduction order: bit-identical results that do
 * not depend on the device's work-group size. A reduced length of 0 gives 0 (SUM, SQDEV)
 * and fails for the others. Untracked. */
clgrad_status clgrad__reduce(clgrad_tensor *x, uint32_t mask, clgrad__red_op op, clgrad_tensor *mean, double div,
                             int ndim, const int64_t *shape, clgrad_tensor **out);

/* Which kernel runs a reduction pass. All give bit-identical results; AUTO picks the
 * fastest for the shape and device. */
typedef enum clgrad__red_kernel {
    CLGRAD__RED_KERNEL_AUTO = 0,
    CLGRAD__RED_KERNEL_WG = 1,   /* a work-group per result */
    CLGRAD__RED_KERNEL_ITEM = 2, /* a work-item per result */
    CLGRAD__RED_KERNEL_COLS = 3, /* a work-item per group of adjacent columns (not argmax) */
    CLGRAD__RED_KERNEL_ROWS = 4, /* a work-item per row, lanes as vectors (not argmax, rows only) */
    CLGRAD__RED_KERNEL_COLWG = 5, /* a work-group per (result, block of columns): COLS on GPUs */
} clgrad__red_kernel;

/* For tests: makes every later pass on ctx use kernel k where it can run that pass (AUTO
 * restores the automatic choice). */
void clgrad__reduce_force_kernel(clgrad_context *ctx, clgrad__red_kernel k);

/* Parses (naxes, axes) of x (naxes 0 or axes NULL: every axis) into a bit mask; fails with
 * INVALID_ARG naming fn, the axis and x's shape for an out-of-range or repeated axis.
 * Writes the output shape for keepdim (0: reduced dims removed, 1: kept as 1) and, when
 * count is not NULL, the number of elements each result reduces. */
clgrad_status clgrad__reduce_axes(const clgrad_tensor *x, const char *fn, int naxes, const int *axes, int keepdim,
                                  uint32_t *mask, int *out_ndim, int64_t *out_shape, int64_t *count);

/* Build options of the reduce family's kernels that take no RED_OP (the ordered sum's
 * block width from the tuning row, -DRED_CW=...). */
typedef struct clgrad__reduce_options {
    char s[24];
} clgrad__reduce_options;
clgrad__reduce_options clgrad__reduce_plain_options(const clgrad_context *ctx);

/* Softmax (log 0) or log-softmax (log 1) of f32 x along dim d (already normalised), as a
 * new contiguous tensor; untracked (src/ops/softmax.c). */
clgrad_status clgrad__softmax_fwd(clgrad_tensor *x, int d, int log, clgrad_tensor **out);

#endif
