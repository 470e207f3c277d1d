/* Internal header of the tensor layer: the tensor structure, shape and stride helpers and
 * view construction. Kernels live in src/ops; this layer only arranges metadata and
 * buffers. Free of OpenCL types (the buffer is opaque here; src/memory/memory.h has it), so
 * src/autograd may include it. */
#ifndef CLGRAD_SRC_TENSOR_H
#define CLGRAD_SRC_TENSOR_H

#include "core/core.h"

typedef struct clgrad__buffer clgrad__buffer; /* src/memory: the device storage */

struct clgrad__node; /* src/autograd: the op that produced a tensor */

struct clgrad_tensor {
    int refs;
    clgrad_context *ctx;
    clgrad_dtype dtype;
    int ndim;
    int64_t shape[CLGRAD_MAX_DIMS];
    int64_t strides[CLGRAD_MAX_DIMS]; /* in elements; 0 for broadcast dims */
    int64_t offset;                   /* in elements, into buf */
    clgrad__buffer *buf;

    /* autograd (owned by src/autograd; the tensor layer only releases them) */
    int requires_grad;
    clgrad_tensor *grad;        /* accumulated gradient of a leaf, or NULL */
    struct clgrad__node *node;  /* producer, or NULL for leaves and untracked results */
    clgrad_tensor *grad_accum;  /* scratch during a backward pass */
    int version;                /* bumped by in-place ops, to catch stale saved tensors */
    int topo_mark;              /* set while the backward walk orders the graph through it */
    int grad_pending;           /* backward with a leaf hook: uses of this leaf still to run */

    struct clgrad_tensor *dead_next; /* the release work list (see clgrad_tensor_release) */
};

/* Dropping references without recursion. A node (node.h) owns references to its inputs and
 * saved tensors and is released with the tensor it produced, so releasing the end of a
 * chain of a million ops frees a million tensors: clgrad_tensor_release keeps the tensors
 * whose count reached zero on a work list instead of the C stack. */
/* Drops one reference to t (NULL: nothing); when it was the last, puts t on *dead. */
void clgrad__tensor_drop(clgrad_tensor *t, clgrad_tensor **dead);
/* Frees node n, dropping every tensor reference it holds onto *dead (node.c). */
void clgrad__node_drop(struct clgrad__node *n, clgrad_tensor **dead);
/* Frees every tensor on the work list and whatever they alone kept alive. */
void clgrad__tensor_free_dead(clgrad_tensor *dead);

/* The most elements a tensor or view may have: its size in bytes at the widest dtype
 * (4 bytes) fits int64 and size_t. Sizes that are 0 count as 1 here, so the contiguous
 * strides of any valid shape fit too. */
#define CLGRAD__MAX_ELEMS ((int64_t)((uint64_t)INT64_MAX / 4 < (uint64_t)SIZE_MAX / 4 ? (uint64_t)INT64_MAX / 4 : (uint64_t)SIZE_MAX / 4))

/* a * b of non-negative a and b into *r when it is at most limit; 0 (and *r untouched)
 * when it would exceed it. */
static inline int clgrad__mul_le(int64_t a, int64_t b, int64_t limit, int64_t *r)
{
    if (a != 0 && b > limit / a) return 0;
    *r = a * b;
    return 1;
}

/* The element count of shape: 0 when a size is 0; -1, never a wrapped value, when a size
 * is negative or the product exceeds INT64_MAX. */
int64_t clgrad__numel(int ndim, const int64_t *shape);
/* 1 when another handle may see t's storage: t itself has more than one reference, or its
 * buffer is shared with another tensor (a view, or a view's base). */
int clgrad__tensor_is_shared(const clgrad_tensor *t);
int clgrad__is_contiguous(const clgrad_tensor *t);

/* How the elements of two tensors share memory. */
typedef enum clgrad__overlap {
    CLGRAD__OVERLAP_NONE = 0,    /* no element in common: other buffers, an empty one, or disjoint spans */
    CLGRAD__OVERLAP_SAME = 1,    /* the same geometry: index i of both is one element, for every i */
    CLGRAD__OVERLAP_PARTIAL = 2, /* otherwise: their spans meet, so they may share elements */
} clgrad__overlap;
clgrad__overlap clgrad__tensor_overlap(const clgrad_tensor *a, const clgrad_tensor *b);
/* 1 when two indices of t may address one element: a stride of 0 on a dim of size > 1, or
 * (dims of size > 1 sorted by stride) a stride not above the span of the smaller ones.
 * Exact for every view the public functions make; conservative for hand-made strides. */
int clgrad__internal_overlap(const clgrad_tensor *t);
void clgrad__contiguous_strides(int ndim, const int64_t *shape, int64_t *strides);

/* The one validation of a tensor's geometry, run by every constructor (clgrad__tensor_new
 * and clgrad__tensor_view, so every creation, view and op output): 0 <= ndim <= 8, sizes
 * >= 0 whose product (sizes of 0 counted as 1) is at most CLGRAD__MAX_ELEMS; and, when
 * strides is not NULL, a view inside a buffer of capacity elements: offset >= 0, strides
 * in 0..CLGRAD__MAX_ELEMS, and every addressed element below capacity (an empty view
 * addresses none), all in checked arithmetic. Fails with SHAPE (INVALID_ARG for a NULL
 * shape); fn names the caller. */
clgrad_status clgrad__check_geometry(const clgrad_context *ctx, const char *fn, int ndim, const int64_t *shape,
                                     const int64_t *strides, int64_t offset, int64_t capacity);
/* clgrad__check_geometry of a shape alone. */
clgrad_status clgrad__check_shape(const clgrad_context *ctx, const char *fn, int ndim, const int64_t *shape);

/* A new contiguous tensor with a fresh buffer; contents undefined. */
clgrad_status clgrad__tensor_new(clgrad_context *ctx, clgrad_dtype dt, int ndim, const int64_t *shape,
                                 clgrad_tensor **out);
/* A new handle sharing x's buffer with the given geometry, which must pass
 * clgrad__check_geometry against x's buffer (else SHAPE, naming fn "view"). An empty view
 * gets offset 0, so offsets computed from it stay small. */
clgrad_status clgrad__tensor_view(clgrad_tensor *x, int ndim, const int64_t *shape, const int64_t *strides,
                                  int64_t offset, clgrad_tensor **out);

/* Broadcast shape of a and b (numpy rules); fails with SHAPE naming both. */
clgrad_status clgrad__broadcast_shape(const clgrad_context *ctx, const char *fn, int na, const int64_t *a, int nb,
                                      const int64_t *b, int *nout, int64_t *out);

/* Normalises a possibly negative dim; fails with INVALID_ARG. */
clgrad_status clgrad__norm_dim(const clgrad_context *ctx, const char *fn, int dim, int ndim, int *out);

/* Raw views without autograd (used by the differentiable public view functions). */
clgrad_status clgrad__reshape_view(clgrad_tensor *x, int ndim, const int64_t *shape, clgrad_tensor **out);
clgrad_status clgrad__permute_view(clgrad_tensor *x, const int *perm, clgrad_tensor **out);
clgrad_status clgrad__slice_view(clgrad_tensor *x, int dim, int64_t start, int64_t stop, int64_t step,
                                 clgrad_tensor **out);
clgrad_status clgrad__expand_view(clgrad_tensor *x, int ndim, const int64_t *shape, clgrad_tensor **out);
/* Resolves a -1 entry and checks the element count; writes the final shape to res. */
clgrad_status clgrad__resolve_shape(const clgrad_tensor *x, int ndim, const int64_t *shape, int64_t *res);

#endif
