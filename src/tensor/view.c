/* Views: reshape, permute, slice and expand as new geometry over the same buffer. The
 * functions here never copy; a reshape that cannot be a view reports
 * CLGRAD_ERR_UNSUPPORTED without a message and the caller copies. */
#include "tensor/tensor.h"

#include <string.h>

clgrad_status clgrad__resolve_shape(const clgrad_tensor *x, int ndim, const int64_t *shape, int64_t *res)
{
    char xs[256];
    if (ndim > 0 && !shape) return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "reshape: shape is NULL");
    if (ndim < 0 || ndim > CLGRAD_MAX_DIMS)
        return clgrad__fail(x->ctx, CLGRAD_ERR_SHAPE, "reshape: %d dimensions requested for %s", ndim,
                            clgrad__shape_str(xs, sizeof xs, x->ndim, x->shape));
    int infer = -1;
    int64_t known = 1, n = clgrad__numel(x->ndim, x->shape);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == -1 && infer < 0) {
            infer = i;
            continue;
        }
        if (shape[i] < 0) return clgrad__fail(x->ctx, CLGRAD_ERR_SHAPE, "reshape: invalid size %lld", (long long)shape[i]);
        /* checked: a product that wrapped could equal n (8 elements as [7378697629483820648, 5]) */
        if (!clgrad__mul_le(known, shape[i], INT64_MAX, &known)) goto bad;
        res[i] = shape[i];
    }
    if (infer >= 0) {
        if (known == 0 || n % known != 0) goto bad;
        res[infer] = n / known;
        known *= res[infer];
    }
    if (known != n) goto bad;
    return clgrad__check_shape(x->ctx, "reshape", ndim, res); /* sizes of 0 beside huge ones */
bad:;
    char a[256], b[256];
    return clgrad__fail(x->ctx, CLGRAD_ERR_SHAPE, "reshape: cannot view %s (%lld elements) as %s",
                        clgrad__shape_str(a, sizeof a, x->ndim, x->shape), (long long)n,
                        clgrad__shape_str(b, sizeof b, ndim, shape));
}

/* Strides for viewing x as shape res, following the rule that each group of old dims
 * merged or split must be contiguous among itself; returns 0 when impossible. */
static int view_strides(const clgrad_tensor *x, int ndim, const int64_t *res, int64_t *st)
{
    int64_t numel = clgrad__numel(x->ndim, x->shape);
    if (numel == 0) {
        clgrad__contiguous_strides(ndim, res, st);
        return 1;
    }
    int vi = ndim - 1;
    int64_t tensor_numel = 1, view_numel = 1;
    int64_t chunk_base_stride = x->ndim ? x->strides[x->ndim - 1] : 1;
    for (int ti = x->ndim - 1; ti >= 0; ti--) {
        tensor_numel *= x->shape[ti];
        if (ti == 0 || (x->shape[ti - 1] != 1 && x->strides[ti - 1] != tensor_numel * chunk_base_stride)) {
            while (vi >= 0 && (view_numel < tensor_numel || res[vi] == 1)) {
                st[vi] = view_numel * chunk_base_stride;
                view_numel *= res[vi];
                vi--;
            }
            if (view_numel != tensor_numel) return 0;
            if (ti > 0) {
                chunk_base_stride = x->strides[ti - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    if (x->ndim == 0)
        while (vi >= 0) st[vi--] = 1; /* a scalar viewed as [1, 1, ...] */
    return vi < 0;
}

clgrad_status clgrad__reshape_view(clgrad_tensor *x, int ndim, const int64_t *shape, clgrad_tensor **out)
{
    int64_t res[CLGRAD_MAX_DIMS], st[CLGRAD_MAX_DIMS];
    CLGRAD_TRY(clgrad__resolve_shape(x, ndim, shape, res));
    if (!view_strides(x, ndim, res, st)) return CLGRAD_ERR_UNSUPPORTED;
    return clgrad__tensor_view(x, ndim, res, st, x->offset, out);
}

clgrad_status clgrad__permute_view(clgrad_tensor *x, const int *perm, clgrad_tensor **out)
{
    int64_t sh[CLGRAD_MAX_DIMS], st[CLGRAD_MAX_DIMS];
    int seen[CLGRAD_MAX_DIMS] = {0};
    if (x->ndim > 0 && !perm) return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "permute: perm is NULL");
    for (int i = 0; i < x->ndim; i++) {
        int p = perm[i] < 0 ? perm[i] + x->ndim : perm[i];
        if (p < 0 || p >= x->ndim || seen[p])
            return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "permute: perm is not a permutation of 0..%d", x->ndim - 1);
        seen[p] = 1;
        sh[i] = x->shape[p];
        st[i] = x->strides[p];
    }
    return clgrad__tensor_view(x, x->ndim, sh, st, x->offset, out);
}

clgrad_status clgrad__slice_view(clgrad_tensor *x, int dim, int64_t start, int64_t stop, int64_t step,
                                 clgrad_tensor **out)
{
    int d;
    CLGRAD_TRY(clgrad__norm_dim(x->ctx, "slice", dim, x->ndim, &d));
    if (step < 1) return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "slice: step must be >= 1, got %lld", (long long)step);
    /* Python's clamping, in arithmetic that cannot overflow for any int64 bounds */
    int64_t n = x->shape[d];
    if (start < 0) start = start < -n ? 0 : start + n;
    if (stop < 0) stop = stop < -n ? 0 : stop + n;
    if (start > n) start = n;
    if (stop > n) stop = n;
    int64_t len = stop > start ? (stop - start - 1) / step + 1 : 0;
    int64_t sh[CLGRAD_MAX_DIMS], st[CLGRAD_MAX_DIMS];
    memcpy(sh, x->shape, sizeof sh);
    memcpy(st, x->strides, sizeof st);
    sh[d] = len;
    /* with two or more elements step < n, so the product stays inside the buffer's span */
    if (len > 1) st[d] = x->strides[d] * step;
    return clgrad__tensor_view(x, x->ndim, sh, st, x->offset + start * x->strides[d], out);
}

clgrad_status clgrad__expand_view(clgrad_tensor *x, int ndim, const int64_t *shape, clgrad_tensor **out)
{
    if (ndim > 0 && !shape) return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "expand: shape is NULL");
    if (ndim < x->ndim || ndim > CLGRAD_MAX_DIMS) {
        char xs[256];
        return clgrad__fail(x->ctx, CLGRAD_ERR_SHAPE, "expand: cannot expand %s to %d dims",
                            clgrad__shape_str(xs, sizeof xs, x->ndim, x->shape), ndim);
    }
    int64_t sh[CLGRAD_MAX_DIMS], st[CLGRAD_MAX_DIMS];
    int lead = ndim - x->ndim;
    for (int i = 0; i < ndim; i++) {
        int64_t want = shape[i];
        if (i < lead) {
            if (want < 0) goto bad;
            sh[i] = want;
            st[i] = 0;
            continue;
        }
        int64_t have = x->shape[i - lead];
        if (want == -1) want = have;
        if (want == have) {
            sh[i] = have;
            st[i] = x->strides[i - lead];
        } else if (have == 1 && want >= 0) {
            sh[i] = want;
            st[i] = 0;
        } else {
            goto bad;
        }
    }
    CLGRAD_TRY(clgrad__check_shape(x->ctx, "expand", ndim, sh));
    return clgrad__tensor_view(x, ndim, sh, st, x->offset, out);
bad:;
    char a[256], b[256];
    return clgrad__fail(x->ctx, CLGRAD_ERR_SHAPE, "expand: cannot broadcast %s to %s",
                        clgrad__shape_str(a, sizeof a, x->ndim, x->shape), clgrad__shape_str(b, sizeof b, ndim, shape));
}
