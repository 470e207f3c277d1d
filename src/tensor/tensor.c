/* Tensor handles: reference counting, properties, shape checks and views. Every view
 * shares its base's buffer; only geometry (shape, strides, offset) differs. */
#include "tensor/node.h"

#include "memory/memory.h"

#include <stdlib.h>
#include <string.h>

size_t clgrad_dtype_size(clgrad_dtype dt)
{
    switch (dt) {
    case CLGRAD_DTYPE_F32: return 4;
    case CLGRAD_DTYPE_F16: return 2;
    case CLGRAD_DTYPE_I32: return 4;
    }
    return 0;
}

int64_t clgrad__numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    int zero = 0, over = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] == 0) zero = 1;
        else if (!over && !clgrad__mul_le(n, shape[i], INT64_MAX, &n)) over = 1;
    }
    return zero ? 0 : over ? -1 : n;
}

void clgrad__contiguous_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i] > 0 ? shape[i] : 1;
    }
}

int clgrad__is_contiguous(const clgrad_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->strides[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}

/* The first and last element t addresses (t not empty; validated, so no overflow). */
static void span_of(const clgrad_tensor *t, int64_t *lo, int64_t *hi)
{
    *lo = *hi = t->offset;
    for (int i = 0; i < t->ndim; i++) *hi += (t->shape[i] - 1) * t->strides[i];
}

static int same_geometry(const clgrad_tensor *a, const clgrad_tensor *b)
{
    if (a->offset != b->offset || a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i] || (a->shape[i] > 1 && a->strides[i] != b->strides[i])) return 0;
    return 1;
}

clgrad__overlap clgrad__tensor_overlap(const clgrad_tensor *a, const clgrad_tensor *b)
{
    if (a->buf != b->buf || clgrad__numel(a->ndim, a->shape) == 0 || clgrad__numel(b->ndim, b->shape) == 0)
        return CLGRAD__OVERLAP_NONE;
    if (same_geometry(a, b)) return CLGRAD__OVERLAP_SAME;
    int64_t alo, ahi, blo, bhi;
    span_of(a, &alo, &ahi);
    span_of(b, &blo, &bhi);
    return ahi < blo || bhi < alo ? CLGRAD__OVERLAP_NONE : CLGRAD__OVERLAP_PARTIAL;
}

int clgrad__internal_overlap(const clgrad_tensor *t)
{
    int64_t sz[CLGRAD_MAX_DIMS], st[CLGRAD_MAX_DIMS];
    int n = 0;
    if (clgrad__numel(t->ndim, t->shape) == 0) return 0;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 2) continue;
        if (t->strides[i] == 0) return 1;
        int j = n++; /* insertion sort by stride */
        for (; j > 0 && st[j - 1] > t->strides[i]; j--) {
            st[j] = st[j - 1];
            sz[j] = sz[j - 1];
        }
        st[j] = t->strides[i];
        sz[j] = t->shape[i];
    }
    int64_t span = 0; /* the last offset the smaller strides reach */
    for (int j = 0; j < n; j++) {
        if (st[j] <= span) return 1;
        span += (sz[j] - 1) * st[j];
    }
    return 0;
}

clgrad_status clgrad__check_geometry(const clgrad_context *ctx, const char *fn, int ndim, const int64_t *shape,
                                     const int64_t *strides, int64_t offset, int64_t capacity)
{
    char b[256];
    if (ndim < 0 || ndim > CLGRAD_MAX_DIMS)
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: %d dimensions; 0 to %d are supported", fn, ndim, CLGRAD_MAX_DIMS);
    if (ndim > 0 && !shape) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: shape is NULL", fn);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: negative size in shape %s", fn,
                                clgrad__shape_str(b, sizeof b, ndim, shape));
        if (!clgrad__mul_le(n, shape[i] ? shape[i] : 1, CLGRAD__MAX_ELEMS, &n))
            return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: shape %s has too many elements (at most %lld)", fn,
                                clgrad__shape_str(b, sizeof b, ndim, shape), (long long)CLGRAD__MAX_ELEMS);
    }
    if (!strides) return CLGRAD_OK;
    /* the last element addressed: offset + sum of (size - 1) * stride */
    int64_t last = offset;
    int empty = clgrad__numel(ndim, shape) == 0;
    int ok = offset >= 0;
    for (int i = 0; ok && i < ndim; i++) {
        int64_t term;
        ok = strides[i] >= 0 && strides[i] <= CLGRAD__MAX_ELEMS;
        if (ok && !empty && shape[i] > 1) {
            ok = clgrad__mul_le(shape[i] - 1, strides[i], INT64_MAX, &term) && term <= INT64_MAX - last;
            if (ok) last += term;
        }
    }
    if (ok && !empty) ok = last < capacity; /* an empty view addresses nothing */
    if (!ok) {
        char st[256];
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE,
                            "%s: shape %s with strides %s at offset %lld does not fit in its buffer of %lld elements",
                            fn, clgrad__shape_str(b, sizeof b, ndim, shape),
                            clgrad__shape_str(st, sizeof st, ndim, strides), (long long)offset, (long long)capacity);
    }
    return CLGRAD_OK;
}

clgrad_status clgrad__check_shape(const clgrad_context *ctx, const char *fn, int ndim, const int64_t *shape)
{
    return clgrad__check_geometry(ctx, fn, ndim, shape, NULL, 0, 0);
}

static clgrad_status alloc_handle(clgrad_context *ctx, clgrad_tensor **out)
{
    clgrad_tensor *t = calloc(1, sizeof *t);
    if (!t) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory for a tensor handle");
    t->refs = 1;
    t->ctx = ctx;
    clgrad__head(ctx)->stats.live_tensors++;
    *out = t;
    return CLGRAD_OK;
}

clgrad_status clgrad__tensor_new(clgrad_context *ctx, clgrad_dtype dt, int ndim, const int64_t *shape,
                                 clgrad_tensor **out)
{
    *out = NULL;
    CLGRAD_TRY(clgrad__check_shape(ctx, "tensor", ndim, shape));
    size_t es = clgrad_dtype_size(dt);
    if (es == 0) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "unknown dtype %d", (int)dt);
    if (dt == CLGRAD_DTYPE_F16)
        return clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED, "dtype %d is not supported for storage yet", (int)dt);
    clgrad_tensor *t = NULL;
    CLGRAD_TRY(alloc_handle(ctx, &t));
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    clgrad__contiguous_strides(ndim, t->shape, t->strides);
    int64_t n = clgrad__numel(ndim, t->shape);
    clgrad_status st = clgrad__buffer_alloc(ctx, (size_t)n * es, &t->buf);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(t);
        return st;
    }
    *out = t;
    return CLGRAD_OK;
}

clgrad_status clgrad__tensor_view(clgrad_tensor *x, int ndim, const int64_t *shape, const int64_t *strides,
                                  int64_t offset, clgrad_tensor **out)
{
    size_t es = clgrad_dtype_size(x->dtype);
    CLGRAD_TRY(clgrad__check_geometry(x->ctx, "view", ndim, shape, strides, offset,
                                      (int64_t)(x->buf->nbytes / (es ? es : 1))));
    clgrad_tensor *t = NULL;
    CLGRAD_TRY(alloc_handle(x->ctx, &t));
    t->dtype = x->dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->strides[i] = strides[i];
    }
    t->offset = clgrad__numel(ndim, shape) ? offset : 0; /* keeps offsets of empty views bounded */
    t->buf = x->buf;
    clgrad__buffer_retain(t->buf);
    *out = t;
    return CLGRAD_OK;
}

clgrad_tensor *clgrad_tensor_retain(clgrad_tensor *t)
{
    if (t) t->refs++;
    return t;
}

void clgrad__tensor_drop(clgrad_tensor *t, clgrad_tensor **dead)
{
    if (!t || --t->refs > 0) return;
    t->dead_next = *dead;
    *dead = t;
}

void clgrad__tensor_free_dead(clgrad_tensor *dead)
{
    while (dead) {
        clgrad_tensor *t = dead;
        dead = t->dead_next;
        clgrad__head(t->ctx)->stats.live_tensors--;
        if (t->node) clgrad__node_drop(t->node, &dead);
        clgrad__tensor_drop(t->grad, &dead);
        clgrad__tensor_drop(t->grad_accum, &dead);
        clgrad__buffer_release(t->buf);
        free(t);
    }
}

void clgrad_tensor_release(clgrad_tensor *t)
{
    clgrad_tensor *dead = NULL;
    clgrad__tensor_drop(t, &dead);
    clgrad__tensor_free_dead(dead);
}

int clgrad__tensor_is_shared(const clgrad_tensor *t) { return t->refs > 1 || t->buf->refs > 1; }

clgrad_context *clgrad_tensor_context(const clgrad_tensor *t) { return t ? t->ctx : NULL; }
clgrad_dtype clgrad_tensor_dtype(const clgrad_tensor *t) { return t ? t->dtype : CLGRAD_DTYPE_F32; }
int clgrad_tensor_ndim(const clgrad_tensor *t) { return t ? t->ndim : 0; }
int64_t clgrad_tensor_numel(const clgrad_tensor *t) { return t ? clgrad__numel(t->ndim, t->shape) : 0; }
int clgrad_tensor_is_contiguous(const clgrad_tensor *t) { return t ? clgrad__is_contiguous(t) : 0; }

int64_t clgrad_tensor_dim(const clgrad_tensor *t, int dim)
{
    if (!t) return 0;
    if (dim < 0) dim += t->ndim;
    return (dim >= 0 && dim < t->ndim) ? t->shape[dim] : 0;
}

void clgrad_tensor_shape(const clgrad_tensor *t, int64_t *shape)
{
    if (!t || !shape) return;
    for (int i = 0; i < t->ndim; i++) shape[i] = t->shape[i];
}

clgrad_status clgrad__norm_dim(const clgrad_context *ctx, const char *fn, int dim, int ndim, int *out)
{
    int d = dim < 0 ? dim + ndim : dim;
    if (d < 0 || d >= ndim)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: dim %d is out of range for a %d-d tensor", fn, dim, ndim);
    *out = d;
    return CLGRAD_OK;
}

clgrad_status clgrad__broadcast_shape(const clgrad_context *ctx, const char *fn, int na, const int64_t *a, int nb,
                                      const int64_t *b, int *nout, int64_t *out)
{
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int64_t da = i < n - na ? 1 : a[i - (n - na)];
        int64_t db = i < n - nb ? 1 : b[i - (n - nb)];
        if (da != db && da != 1 && db != 1) {
            char sa[256], sb[256];
            return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: shapes %s and %s do not broadcast", fn,
                                clgrad__shape_str(sa, sizeof sa, na, a), clgrad__shape_str(sb, sizeof sb, nb, b));
        }
        out[i] = da == 1 ? db : da;
    }
    *nout = n;
    return CLGRAD_OK;
}
