/* Internal header of the tensor layer: the tensor structure, shape and stride helpers and
 * view construction. Kernels live in src/ops; this layer only arranges metadata and
 * buffers. */
#ifndef CLGRAD_SRC_TENSOR_H
#define CLGRAD_SRC_TENSOR_H

#include "memory/memory.h"

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
};

/* Node lifetime hook: a node owns references to its inputs and is released with the tensor
 * it produced. The node's first member is its destructor so the tensor layer needs no
 * knowledge of the autograd layer above it. */
typedef void (*clgrad__node_destroy_fn)(struct clgrad__node *);
struct clgrad__node_head {
    clgrad__node_destroy_fn destroy;
};

int64_t clgrad__numel(int ndim, const int64_t *shape);
int clgrad__is_contiguous(const clgrad_tensor *t);
/* 1 when another handle holds t or another tensor (a view) shares its storage: writing to
 * t in place would then change what someone else sees. */
int clgrad__tensor_storage_shared(const clgrad_tensor *t);
void clgrad__contiguous_strides(int ndim, const int64_t *shape, int64_t *strides);

/* Validates ndim/shape (0 <= ndim <= 8, dims >= 0, product fits); fails with SHAPE. */
clgrad_status clgrad__check_shape(const clgrad_context *ctx, const char *fn, int ndim, const int64_t *shape);

/* A new contiguous tensor with a fresh buffer; contents undefined. */
clgrad_status clgrad__tensor_new(clgrad_context *ctx, clgrad_dtype dt, int ndim, const int64_t *shape,
                                 clgrad_tensor **out);
/* A new handle sharing x's buffer with the given geometry. */
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
