/* clgrad tensors: creation, host transfers, views. Included by clgrad.h.
 *
 * A tensor is a reference-counted handle to a strided view of a device buffer: dtype,
 * shape (up to CLGRAD_MAX_DIMS dims), strides and offset in elements. Views (reshape,
 * permute, transpose, slice, expand) share the buffer with their base. Every function
 * here that makes a tensor hands back a new reference through *out (NULL on failure);
 * inputs are borrowed. */
#ifndef CLGRAD_TENSOR_H
#define CLGRAD_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLGRAD_MAX_DIMS 8

typedef enum clgrad_dtype {
    CLGRAD_DTYPE_F32 = 0,
    CLGRAD_DTYPE_F16 = 1, /* reserved for storage on devices with cl_khr_fp16 */
    CLGRAD_DTYPE_I32 = 2, /* labels, indices, argmax results */
} clgrad_dtype;

/* Size in bytes of one element; 0 for an unknown dtype. */
CLGRAD_API size_t clgrad_dtype_size(clgrad_dtype dt);

/* --- creation ---------------------------------------------------------------------------- */

/* Uninitialised contents. ndim 0 makes a scalar (one element); shape may then be NULL. */
CLGRAD_API clgrad_status clgrad_tensor_empty(clgrad_context *ctx, clgrad_dtype dt, int ndim,
                                             const int64_t *shape, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_tensor_zeros(clgrad_context *ctx, clgrad_dtype dt, int ndim,
                                             const int64_t *shape, clgrad_tensor **out);
/* f32 filled with value. */
CLGRAD_API clgrad_status clgrad_tensor_full(clgrad_context *ctx, int ndim, const int64_t *shape,
                                            float value, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_tensor_ones(clgrad_context *ctx, int ndim, const int64_t *shape,
                                            clgrad_tensor **out);
/* 1-D f32 [start, start+step, ...) stopping before stop (numpy's arange). */
CLGRAD_API clgrad_status clgrad_tensor_arange(clgrad_context *ctx, double start, double stop,
                                              double step, clgrad_tensor **out);
/* Random f32 from a counter-based Philox4x32-10 stream: element i (row-major) depends only
 * on (seed, i), never on the launch shape. uniform: [lo, hi), bit-identical on every
 * device. normal: mean + std * N(0,1) by Box-Muller; identical on one device, and within a
 * few ulp across devices (their log, sqrt and cos may round differently). */
CLGRAD_API clgrad_status clgrad_tensor_uniform(clgrad_context *ctx, int ndim, const int64_t *shape,
                                               uint64_t seed, float lo, float hi, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_tensor_normal(clgrad_context *ctx, int ndim, const int64_t *shape,
                                              uint64_t seed, float mean, float std, clgrad_tensor **out);
/* A new tensor holding a copy of the host array data (row-major, dtype dt). */
CLGRAD_API clgrad_status clgrad_tensor_from_host(clgrad_context *ctx, clgrad_dtype dt, int ndim,
                                                 const int64_t *shape, const void *data,
                                                 clgrad_tensor **out);

/* --- transfers (reads are the only synchronisation points) --------------------------------- */

/* Copies nbytes (must equal numel * dtype size) from host src into t, in row-major order
 * of t's shape; t may be a non-contiguous view, but not one in which several elements share
 * memory (an expanded view: CLGRAD_ERR_INVALID_ARG). src may be reused as soon as this
 * returns (the data is taken, or staged, first); the device copy is queued behind the work
 * already enqueued, which this call does not wait for. */
CLGRAD_API clgrad_status clgrad_tensor_write(clgrad_tensor *t, const void *src, size_t nbytes);
/* Copies t into host dst in row-major order; blocks until the data is there. */
CLGRAD_API clgrad_status clgrad_tensor_read(const clgrad_tensor *t, void *dst, size_t nbytes);

/* A read in flight (clgrad_tensor_read_start). */
typedef struct clgrad_pending clgrad_pending;
/* Starts copying t into host dst as clgrad_tensor_read does, without waiting: the copy is
 * queued behind the work enqueued so far, and dst must stay valid and untouched until
 * clgrad_pending_wait(*out) has returned. Work enqueued afterwards does not delay it, so a
 * training loop can read a step's loss while the next step runs. *out is NULL on failure. */
CLGRAD_API clgrad_status clgrad_tensor_read_start(const clgrad_tensor *t, void *dst, size_t nbytes,
                                                  clgrad_pending **out);
/* Waits until the read p started is done and frees p; NULL: nothing to do (CLGRAD_OK). The
 * status says whether the copy succeeded. */
CLGRAD_API clgrad_status clgrad_pending_wait(clgrad_pending *p);
/* Reads a one-element tensor as a float (f32) or converted from i32. */
CLGRAD_API clgrad_status clgrad_tensor_item(const clgrad_tensor *t, float *value);

/* --- references and properties ------------------------------------------------------------ */

CLGRAD_API clgrad_tensor *clgrad_tensor_retain(clgrad_tensor *t); /* returns t; NULL: no-op */
CLGRAD_API void clgrad_tensor_release(clgrad_tensor *t);          /* NULL: no-op */

CLGRAD_API clgrad_context *clgrad_tensor_context(const clgrad_tensor *t); /* borrowed */
CLGRAD_API clgrad_dtype clgrad_tensor_dtype(const clgrad_tensor *t);
CLGRAD_API int clgrad_tensor_ndim(const clgrad_tensor *t);
/* Size of dimension dim; negative dim counts from the end. 0 for an invalid dim. */
CLGRAD_API int64_t clgrad_tensor_dim(const clgrad_tensor *t, int dim);
/* Copies the shape into shape[0..ndim). */
CLGRAD_API void clgrad_tensor_shape(const clgrad_tensor *t, int64_t *shape);
CLGRAD_API int64_t clgrad_tensor_numel(const clgrad_tensor *t);
CLGRAD_API int clgrad_tensor_is_contiguous(const clgrad_tensor *t);

/* --- views (share the buffer; no copy) ---------------------------------------------------- */

/* New shape with the same number of elements; one entry may be -1 (inferred). A view when
 * the strides allow it, else a contiguous copy (as torch.reshape). */
CLGRAD_API clgrad_status clgrad_reshape(clgrad_tensor *x, int ndim, const int64_t *shape, clgrad_tensor **out);
/* Reorders dimensions: out dim i is x dim perm[i]. */
CLGRAD_API clgrad_status clgrad_permute(clgrad_tensor *x, const int *perm, clgrad_tensor **out);
CLGRAD_API clgrad_status clgrad_transpose(clgrad_tensor *x, int dim0, int dim1, clgrad_tensor **out);
/* Elements start, start+step, ... < stop along dim (negative start/stop count from the end;
 * step >= 1). Bounds past either end clamp as in Python, for any int64 values. */
CLGRAD_API clgrad_status clgrad_slice(clgrad_tensor *x, int dim, int64_t start, int64_t stop,
                                      int64_t step, clgrad_tensor **out);
/* Broadcasts size-1 dims (and new leading dims) to shape, with stride 0 (numpy rules). */
CLGRAD_API clgrad_status clgrad_expand(clgrad_tensor *x, int ndim, const int64_t *shape, clgrad_tensor **out);
/* x itself (a new reference) if already contiguous, else a contiguous copy. */
CLGRAD_API clgrad_status clgrad_contiguous(clgrad_tensor *x, clgrad_tensor **out);
/* Always a contiguous copy, not tracked by autograd. */
CLGRAD_API clgrad_status clgrad_clone(clgrad_tensor *x, clgrad_tensor **out);
/* Copies src into dst (same shape; dst may be a view) in place, not tracked by autograd.
 * src and dst may overlap: dst gets src's values as they were before the copy (as memmove).
 * A dst in which several elements share memory (an expanded view) is refused
 * (CLGRAD_ERR_INVALID_ARG), as the result would depend on the order of the writes. */
CLGRAD_API clgrad_status clgrad_copy_(clgrad_tensor *dst, clgrad_tensor *src);
/* Fills dst (any view) with value, in place, not tracked by autograd. */
CLGRAD_API clgrad_status clgrad_fill_(clgrad_tensor *dst, float value);

#ifdef __cplusplus
}
#endif

#endif
