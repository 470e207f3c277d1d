/* The deterministic reduction engine (clgrad__reduce), sum_to_shape for the backward rules
 * of broadcasting ops and the ordered sum of the other families' backward rules. The public
 * reductions and their backward rules are in reduce_ops.c.
 *
 * The engine views the input as (O, R, I) with element strides when the reduced axes form
 * one mergeable block of the view (no copy: rows when I == 1, columns otherwise), or as
 * two blocks around one kept block with nothing kept after them (e.g. NCHW over N, H, W;
 * no copy either, except for argmax); any other axis set is first permuted so the reduced
 * axes come last and copied contiguous. Every
 * result then follows the fixed order described in cl/reduce.cl (chunks of clgrad__red_chunk(),
 * RED_LANES strided lanes, a pairwise tree), whichever kernel runs it. */
#include "ops/ops.h"
#include "ops/reduce.h"
#include "ops/tuned.h"

#include "ops/op_table.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FAMILY "reduce"
#define RED_LANES 64     /* fixed: part of the result's definition, never tuned per device */
#define RED_COLS_VW 16   /* columns per work-item of reduce_cols_f32 (a speed choice only) */

/* --- the engine -------------------------------------------------------------------------- */

/* The input as (O, R, I) with element strides; the row kernel also takes reduced axes split
 * in two blocks around a kept one: output q = o*M + m, element r at
 * o*so + m*sm + (r / R2)*s1 + (r % R2)*sr (plain views: M = 1, sm = 0, R2 = R, s1 = 0). */
typedef struct red_view {
    cl_mem mem;
    cl_long off, O, R, I, so, sr, si;
    cl_long M, sm, R2, s1;
} red_view;

/* The test hook's setting: this layer's slot in the context, created when first set. */
static const clgrad__slot_key forced_key = {"reduction kernel override", sizeof(int), NULL};

void clgrad__reduce_force_kernel(clgrad_context *ctx, clgrad__red_kernel k)
{
    int *forced = clgrad__ctx_slot(ctx, &forced_key);
    if (forced) *forced = (int)k;
}

/* The kernel a pass runs. Every kernel gives the same bits, so this is purely a speed
 * choice: the vector kernels (columns: a work-item per RED_COLS_VW adjacent columns; rows:
 * a work-item per row, lanes as vectors) wherever they apply, except that long plain rows
 * keep a work-group per row (coalesced reads) unless the tuning row says red_rows_long
 * (CPUs), and columns take a work-group per block of columns where it says red_colwg
 * (GPUs: the column kernel's 64 vector lanes per work-item would spill).
 * Argmax has only the generic kernels: a work-group per result for long rows (or few
 * columns), a work-item otherwise. */
static clgrad__red_kernel pick_kernel(const clgrad_context *ctx, clgrad__red_op op, const red_view *v, cl_long npart)
{
    int split = v->M != 1 || v->R2 != v->R;
    const cl_long chunk = clgrad__red_chunk(ctx), len = v->R < chunk ? v->R : chunk;
    const int *hook = clgrad__ctx_slot_find(ctx, &forced_key);
    clgrad__red_kernel forced = hook ? (clgrad__red_kernel)*hook : CLGRAD__RED_KERNEL_AUTO;
    const clgrad__ops_params *tp = clgrad__ops_tuning(ctx);
    if (forced != CLGRAD__RED_KERNEL_AUTO) {
        int vec = op != CLGRAD__RED_ARGMAX;
        int ok = !split;
        if (forced == CLGRAD__RED_KERNEL_ROWS) ok = vec && v->I == 1;
        else if (forced == CLGRAD__RED_KERNEL_COLS || forced == CLGRAD__RED_KERNEL_COLWG) ok = vec && !split;
        if (ok) return forced;
    }
    if (op != CLGRAD__RED_ARGMAX) {
        if (split) return CLGRAD__RED_KERNEL_ROWS;
        /* fewer columns than a vector: gathers, slower than a work-group per long column */
        if (v->I >= RED_COLS_VW || (v->I > 1 && len <= RED_LANES))
            return tp->red_colwg ? CLGRAD__RED_KERNEL_COLWG : CLGRAD__RED_KERNEL_COLS;
        if (v->I == 1 && (tp->red_rows_long || len <= RED_LANES)) return CLGRAD__RED_KERNEL_ROWS;
    }
    return len > RED_LANES && (v->I == 1 || npart < 1024) ? CLGRAD__RED_KERNEL_WG : CLGRAD__RED_KERNEL_ITEM;
}

/* Work-group size of the one-result-per-work-item vector kernels: the tuning row's
 * red_vec_wg (small on CPUs, a speed choice), else the usual 1-D size (GPUs, where 8
 * would leave most of each SIMD unit idle). Clamped to the kernel's limit at launch. */
static size_t vec_wg(const clgrad_context *ctx)
{
    int w = clgrad__ops_tuning(ctx)->red_vec_wg;
    return w > 0 ? (size_t)w : clgrad__wg_1d(ctx);
}

/* The work-group of reduce_colwg_f32: cw columns (a power of two up to 32) by lw lanes,
 * about the tuning row's red_colwg_items work-items, within the kernel's and the device's
 * limits. */
static clgrad_status colwg_shape(clgrad_context *ctx, const char *opts, const red_view *v, size_t *cw_out,
                                 size_t *lw_out)
{
    clgrad__program_entry *pe;
    cl_kernel k;
    size_t wg_max, cw = 1, lw = RED_LANES;
    CLGRAD_TRY(clgrad__program_get(ctx, FAMILY, opts, &pe));
    CLGRAD_TRY(clgrad__kernel_get(ctx, pe, "reduce_colwg_f32", &k, &wg_max));
    size_t dev_max = ctx->dev.info.max_work_group_size;
    if (dev_max && dev_max < wg_max) wg_max = dev_max;
    while (cw < 32 && (cl_long)cw < v->I) cw *= 2;
    size_t items = (size_t)clgrad__ops_tuning(ctx)->red_colwg_items;
    while (cw * lw > items && lw > 4) lw /= 2; /* about that many work-items, at least 4 lanes each */
    while (cw * lw > wg_max && lw > 1) lw /= 2;
    while (cw * lw > wg_max && cw > 1) cw /= 2;
    *cw_out = cw;
    *lw_out = lw;
    return CLGRAD_OK;
}

/* One branch per kernel: each sets up its own launch shape and argument list, and keeping
 * them side by side shows that all take the same view. */
static clgrad_status run_pass(clgrad_context *ctx, clgrad__red_op op, const red_view *v, cl_mem mean, cl_mem iin,
                              cl_mem out, cl_long ooff, cl_mem oidx, cl_long oioff, float div, cl_long nchunk)
{
    static const char *const op_names[] = {[CLGRAD__RED_SUM] = "SUM", [CLGRAD__RED_MAX] = "MAX",
                                           [CLGRAD__RED_MIN] = "MIN", [CLGRAD__RED_SQDEV] = "SQDEV",
                                           [CLGRAD__RED_ARGMAX] = "ARGMAX"};
    char opcode[32], opts[96];
    clgrad__op_code_option(opcode, sizeof opcode, "RED_OP", op_names, sizeof op_names / sizeof op_names[0], (int)op);
    snprintf(opts, sizeof opts, "%s -DRED_LANES=%d -DRED_VW=%d", opcode, RED_LANES, RED_COLS_VW);
    cl_long chunk = clgrad__red_chunk(ctx);
    cl_int has_iin = iin != NULL;
    cl_float d = div;
    cl_long npart = v->O * v->M * v->I * nchunk;
    clgrad__red_kernel kind = pick_kernel(ctx, op, v, npart);
    if (kind == CLGRAD__RED_KERNEL_COLS) {
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(v->mem), CLGRAD_KARG(v->off), CLGRAD_KARG(v->O),  CLGRAD_KARG(v->R),
                                      CLGRAD_KARG(v->I),   CLGRAD_KARG(v->so),  CLGRAD_KARG(v->sr), CLGRAD_KARG(v->si),
                                      CLGRAD_KARG(chunk),  CLGRAD_KARG(nchunk), CLGRAD_KARG(mean),  CLGRAD_KARG(out),
                                      CLGRAD_KARG(ooff),   CLGRAD_KARG(d));
        size_t P = (size_t)(v->O * nchunk), fold = clgrad__fold_limit(ctx), gy = P < fold ? P : fold;
        size_t global[3] = {(size_t)((v->I + RED_COLS_VW - 1) / RED_COLS_VW), gy, (P + gy - 1) / gy};
        size_t local[3] = {vec_wg(ctx), 1, 1};
        return clgrad__launch(ctx, FAMILY, opts, "reduce_cols_f32", 3, global, local, a);
    }
    if (kind == CLGRAD__RED_KERNEL_COLWG) {
        size_t cw, lw;
        CLGRAD_TRY(colwg_shape(ctx, opts, v, &cw, &lw));
        size_t lbytes = (size_t)RED_LANES * cw * sizeof(cl_float);
        if (ctx->dev.info.local_mem_bytes == 0 || lbytes <= ctx->dev.info.local_mem_bytes) {
            clgrad__kargs a = CLGRAD_ARGS(
                CLGRAD_KARG(v->mem), CLGRAD_KARG(v->off), CLGRAD_KARG(v->O), CLGRAD_KARG(v->R), CLGRAD_KARG(v->I),
                CLGRAD_KARG(v->so), CLGRAD_KARG(v->sr), CLGRAD_KARG(v->si), CLGRAD_KARG(chunk), CLGRAD_KARG(nchunk),
                CLGRAD_KARG(mean), CLGRAD_KARG(out), CLGRAD_KARG(ooff), CLGRAD_KARG(d), CLGRAD_KARG_LOCAL(lbytes));
            size_t P = (size_t)(v->O * nchunk), fold = clgrad__fold_limit(ctx), gy = P < fold ? P : fold;
            size_t global[3] = {((size_t)v->I + cw - 1) / cw * cw, gy * lw, (P + gy - 1) / gy};
            size_t local[3] = {cw, lw, 1};
            return clgrad__launch(ctx, FAMILY, opts, "reduce_colwg_f32", 3, global, local, a);
        }
        kind = CLGRAD__RED_KERNEL_ITEM; /* too little local memory: same results */
    }
    if (kind == CLGRAD__RED_KERNEL_ROWS) {
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(v->mem), CLGRAD_KARG(v->off), CLGRAD_KARG(v->O), CLGRAD_KARG(v->M),
                                      CLGRAD_KARG(v->so), CLGRAD_KARG(v->sm), CLGRAD_KARG(v->R), CLGRAD_KARG(v->R2),
                                      CLGRAD_KARG(v->s1), CLGRAD_KARG(v->sr), CLGRAD_KARG(chunk), CLGRAD_KARG(nchunk),
                                      CLGRAD_KARG(mean), CLGRAD_KARG(out), CLGRAD_KARG(ooff), CLGRAD_KARG(d));
        size_t global = (size_t)npart, local = vec_wg(ctx);
        return clgrad__launch(ctx, FAMILY, opts, "reduce_rows_f32", 1, &global, &local, a);
    }
    /* the generic kernels share their first 18 arguments; reduce_wg_f32 adds two local buffers */
#define RED_GENERIC_ARGS                                                                           \
    CLGRAD_KARG(v->mem), CLGRAD_KARG(v->off), CLGRAD_KARG(v->O), CLGRAD_KARG(v->R), CLGRAD_KARG(v->I),        \
        CLGRAD_KARG(v->so), CLGRAD_KARG(v->sr), CLGRAD_KARG(v->si), CLGRAD_KARG(chunk), CLGRAD_KARG(nchunk),  \
        CLGRAD_KARG(mean), CLGRAD_KARG(iin), CLGRAD_KARG(has_iin), CLGRAD_KARG(out), CLGRAD_KARG(ooff),       \
        CLGRAD_KARG(oidx), CLGRAD_KARG(oioff), CLGRAD_KARG(d)
    if (kind == CLGRAD__RED_KERNEL_WG) {
        clgrad__program_entry *pe;
        cl_kernel k;
        size_t wg_max;
        CLGRAD_TRY(clgrad__program_get(ctx, FAMILY, opts, &pe));
        CLGRAD_TRY(clgrad__kernel_get(ctx, pe, "reduce_wg_f32", &k, &wg_max));
        size_t W = RED_LANES;
        while (W > 1 && (W > wg_max || W > ctx->dev.info.max_work_group_size)) W /= 2;
        size_t lbytes = (size_t)RED_LANES * (sizeof(cl_float) + sizeof(cl_int));
        if (ctx->dev.info.local_mem_bytes == 0 || lbytes <= ctx->dev.info.local_mem_bytes) {
            size_t global = (size_t)npart * W;
            return clgrad__launch(ctx, FAMILY, opts, "reduce_wg_f32", 1, &global, &W,
                                  CLGRAD_ARGS(RED_GENERIC_ARGS, CLGRAD_KARG_LOCAL((size_t)RED_LANES * sizeof(cl_float)),
                                              CLGRAD_KARG_LOCAL((size_t)RED_LANES * sizeof(cl_int))));
        }
    }
    return clgrad__launch_1d(ctx, FAMILY, opts, "reduce_item_f32", (size_t)npart, CLGRAD_ARGS(RED_GENERIC_ARGS));
#undef RED_GENERIC_ARGS
}

/* Merges dims [a, b) of (sz, st) into one (size, stride); 0 when their strides don't allow. */
static int merge_dims(const int64_t *sz, const int64_t *st, int a, int b, int64_t *size, int64_t *stride)
{
    *size = 1;
    *stride = 0;
    for (int j = a; j < b; j++) {
        if (j + 1 < b && st[j] != st[j + 1] * sz[j + 1]) return 0;
        *size *= sz[j];
    }
    if (b > a) *stride = st[b - 1];
    return 1;
}

/* The reduced dims as two mergeable runs around one kept run, nothing kept after them
 * (e.g. the (N, H, W) axes of NCHW): fills v's geometry for reduce_rows_f32 (no argmax). */
static int split_view(clgrad__red_op op, const int64_t *sz, const int64_t *sd, const int *red, int n, int first,
                      red_view *v)
{
    if (op == CLGRAD__RED_ARGMAX || first < 0) return 0;
    int e1 = first, f2, e2;
    while (e1 < n && red[e1]) e1++;
    for (f2 = e1; f2 < n && !red[f2];) f2++;
    for (e2 = f2; e2 < n && red[e2];) e2++;
    if (f2 == e1 || f2 == n || e2 != n) return 0;
    int64_t O, so, R1, s1, M, sm, R2, s2;
    if (!merge_dims(sz, sd, 0, first, &O, &so) || !merge_dims(sz, sd, first, e1, &R1, &s1) ||
        !merge_dims(sz, sd, e1, f2, &M, &sm) || !merge_dims(sz, sd, f2, n, &R2, &s2))
        return 0;
    *v = (red_view){NULL, 0, O, R1 * R2, 1, so, s2, 0, M, sm, R2, s1};
    return 1;
}

/* The passes of one reduction: while the rows are longer than a chunk, a pass writes one
 * partial result per chunk and the next pass reduces those (the same rules, SQDEV turned
 * into SUM); the last pass writes y (argmax: indices into y, values into a temporary). */
static clgrad_status run_chunks(clgrad_context *ctx, clgrad__red_op op, red_view v, cl_mem meanm, clgrad_tensor *y,
                                int64_t kept, double div)
{
    int argmax = op == CLGRAD__RED_ARGMAX;
    clgrad_tensor *pv = NULL, *pi = NULL;
    cl_mem iin = NULL;
    clgrad_status st = CLGRAD_OK;
    for (;;) {
        cl_long nchunk = (v.R + clgrad__red_chunk(ctx) - 1) / clgrad__red_chunk(ctx);
        if (nchunk == 1) {
            if (argmax) {
                clgrad_tensor *vals;
                int64_t k1 = kept;
                if ((st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 1, &k1, &vals)) != CLGRAD_OK) break;
                st = run_pass(ctx, op, &v, meanm, iin, vals->buf->mem, 0, y->buf->mem, y->offset, 1.0f, 1);
                clgrad_tensor_release(vals);
            } else {
                st = run_pass(ctx, op, &v, meanm, iin, y->buf->mem, y->offset, NULL, 0, (float)div, 1);
            }
            break;
        }
        int64_t np = v.O * v.M * v.I * nchunk;
        clgrad_tensor *nv = NULL, *ni = NULL;
        if ((st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 1, &np, &nv)) != CLGRAD_OK) break;
        if (argmax && (st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_I32, 1, &np, &ni)) != CLGRAD_OK) {
            clgrad_tensor_release(nv);
            break;
        }
        st = run_pass(ctx, op, &v, meanm, iin, nv->buf->mem, 0, ni ? ni->buf->mem : NULL, 0, 1.0f, nchunk);
        /* earlier partials may go back to the pool: the queue is in order */
        clgrad_tensor_release(pv);
        clgrad_tensor_release(pi);
        pv = nv;
        pi = ni;
        if (st != CLGRAD_OK) break;
        v = (red_view){pv->buf->mem, 0, v.O * v.M * v.I, nchunk, 1, nchunk, 1, 0, 1, 0, nchunk, 0};
        iin = pi ? pi->buf->mem : NULL;
        if (op == CLGRAD__RED_SQDEV) {
            op = CLGRAD__RED_SUM;
            meanm = NULL;
        }
    }
    clgrad_tensor_release(pv);
    clgrad_tensor_release(pi);
    return st;
}

/* x as the kernels' view: without a copy when, size-1 dims dropped, the reduced dims form one
 * mergeable run (or two around a kept run, split_view); otherwise the reduced axes are
 * permuted last into a contiguous copy *src (a new reference the caller releases). */
static clgrad_status input_view(clgrad_tensor *x, uint32_t mask, clgrad__red_op op, int64_t kept, int64_t R,
                                red_view *v, clgrad_tensor **src)
{
    /* size-1 dims dropped: are the reduced dims one mergeable run? */
    int64_t sz[CLGRAD_MAX_DIMS] = {0}, sd[CLGRAD_MAX_DIMS] = {0};
    int red[CLGRAD_MAX_DIMS], n = 0, first = -1, last = -1;
    for (int d = 0; d < x->ndim; d++) {
        if (x->shape[d] == 1) continue;
        sz[n] = x->shape[d];
        sd[n] = x->strides[d];
        red[n] = (int)(mask >> d & 1u);
        if (red[n]) {
            if (first < 0) first = n;
            last = n;
        }
        n++;
    }
    int run = 1;
    if (first < 0) first = last = n; /* nothing but size-1 dims reduced: R == 1 */
    else {
        for (int j = first; j <= last; j++) run &= red[j];
        last++;
    }
    int64_t O, Rr, I, so, sr, si;
    if (run && merge_dims(sz, sd, 0, first, &O, &so) && merge_dims(sz, sd, first, last, &Rr, &sr) &&
        merge_dims(sz, sd, last, n, &I, &si)) {
        *v = (red_view){x->buf->mem, x->offset, O, Rr, I, so, sr, si, 1, 0, Rr, 0};
    } else if (split_view(op, sz, sd, red, n, first, v)) {
        v->mem = x->buf->mem;
        v->off = x->offset;
    } else {
        int perm[CLGRAD_MAX_DIMS], k = 0;
        for (int d = 0; d < x->ndim; d++)
            if (!(mask >> d & 1u)) perm[k++] = d;
        for (int d = 0; d < x->ndim; d++)
            if (mask >> d & 1u) perm[k++] = d;
        clgrad_tensor *pview;
        CLGRAD_TRY(clgrad__permute_view(x, perm, &pview));
        clgrad_status st = clgrad__contiguous(pview, src);
        clgrad_tensor_release(pview);
        CLGRAD_TRY(st);
        *v = (red_view){(*src)->buf->mem, (*src)->offset, kept, R, 1, R, 1, 0, 1, 0, R, 0};
    }
    return CLGRAD_OK;

}

clgrad_status clgrad__reduce(clgrad_tensor *x, uint32_t mask, clgrad__red_op op, clgrad_tensor *mean, double div,
                             int ndim, const int64_t *shape, clgrad_tensor **out)
{
    *out = NULL;
    clgrad_context *ctx = x->ctx;
    int64_t kept = 1, R = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (mask >> d & 1u) R *= x->shape[d];
        else kept *= x->shape[d];
    }
    if (clgrad__numel(ndim, shape) != kept)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "reduce: result shape holds %lld elements, expected %lld",
                            (long long)clgrad__numel(ndim, shape), (long long)kept);
    if (R == 0 && kept > 0 && op != CLGRAD__RED_SUM && op != CLGRAD__RED_SQDEV) {
        /* before the result is allocated: an invalid reduction is SHAPE whatever its size */
        char b[256];
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: cannot reduce over zero elements (input shape %s)",
                            op == CLGRAD__RED_ARGMAX ? "argmax" : op == CLGRAD__RED_MAX ? "max" : "min",
                            clgrad__shape_str(b, sizeof b, x->ndim, x->shape));
    }
    clgrad_tensor *y = NULL, *src = NULL, *scratch = NULL;
    int argmax = op == CLGRAD__RED_ARGMAX;
    CLGRAD_TRY(clgrad__tensor_new(ctx, argmax ? CLGRAD_DTYPE_I32 : CLGRAD_DTYPE_F32, ndim, shape, &y));
    clgrad_status st = CLGRAD_OK;
    if (kept == 0) goto done;
    if (R == 0) { /* sum and squared deviations of nothing */
        st = clgrad__fill(y, 0.0 / div);
        goto done;
    }

    red_view v;
    if ((st = input_view(x, mask, op, kept, R, &v, &src)) != CLGRAD_OK) goto done;

    cl_mem meanm = mean ? mean->buf->mem : NULL;
    if (mean && mean->offset != 0) {
        /* the kernel indexes mean from 0: hand it a copy at offset 0 when it is a view */
        st = clgrad_clone(mean, &scratch);
        if (st != CLGRAD_OK) goto done;
        meanm = scratch->buf->mem;
    }
    st = run_chunks(ctx, op, v, meanm, y, kept, div);
done:
    clgrad_tensor_release(src);
    clgrad_tensor_release(scratch);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

clgrad_status clgrad__reduce_axes(const clgrad_tensor *x, const char *fn, int naxes, const int *axes, int keepdim,
                                  uint32_t *mask, int *out_ndim, int64_t *out_shape, int64_t *count)
{
    uint32_t m = 0;
    char b[256];
    if (naxes < 0 || naxes > CLGRAD_MAX_DIMS)
        return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "%s: naxes is %d (0..%d allowed)", fn, naxes,
                            CLGRAD_MAX_DIMS);
    if (naxes == 0 || !axes) {
        m = x->ndim ? (uint32_t)((1u << x->ndim) - 1u) : 0u;
    } else {
        for (int k = 0; k < naxes; k++) {
            int a = axes[k] < 0 ? axes[k] + x->ndim : axes[k];
            if (a < 0 || a >= x->ndim)
                return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "%s: axis %d is out of range for shape %s", fn,
                                    axes[k], clgrad__shape_str(b, sizeof b, x->ndim, x->shape));
            if (m >> a & 1u)
                return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "%s: axis %d appears twice (shape %s)", fn,
                                    axes[k], clgrad__shape_str(b, sizeof b, x->ndim, x->shape));
            m |= 1u << a;
        }
    }
    int nd = 0;
    int64_t c = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (m >> d & 1u) {
            c *= x->shape[d];
            if (keepdim) out_shape[nd++] = 1;
        } else {
            out_shape[nd++] = x->shape[d];
        }
    }
    *mask = m;
    *out_ndim = nd;
    if (count) *count = c;
    return CLGRAD_OK;
}

clgrad_status clgrad__sum_to_shape(clgrad_tensor *g, int ndim, const int64_t *shape, clgrad_tensor **out)
{
    *out = NULL;
    char a[256], b[256];
    int lead = g->ndim - ndim;
    uint32_t mask = 0;
    int ok = lead >= 0 && g->dtype == CLGRAD_DTYPE_F32;
    for (int d = 0; ok && d < g->ndim; d++) {
        if (d < lead) mask |= 1u << d;
        else if (shape[d - lead] == g->shape[d]) continue;
        else if (shape[d - lead] == 1) mask |= 1u << d;
        else ok = 0;
    }
    if (!ok)
        return clgrad__fail(g->ctx, CLGRAD_ERR_SHAPE, "sum_to_shape: cannot reduce a gradient of shape %s to shape %s",
                            clgrad__shape_str(a, sizeof a, g->ndim, g->shape), clgrad__shape_str(b, sizeof b, ndim, shape));
    if (mask == 0) {
        *out = clgrad_tensor_retain(g);
        return CLGRAD_OK;
    }
    return clgrad__reduce(g, mask, CLGRAD__RED_SUM, NULL, 1.0, ndim, shape, out);
}

/* Options of the family's build for the kernels that take no RED_OP: the ordered sum's
 * block of columns per work-item (the tuning row's sum_cw). */
clgrad__reduce_options clgrad__reduce_plain_options(const clgrad_context *ctx)
{
    clgrad__reduce_options o;
    snprintf(o.s, sizeof o.s, "-DRED_CW=%d", clgrad__ops_tuning(ctx)->sum_cw);
    return o;
}

clgrad_status clgrad__sum_ordered(clgrad_context *ctx, cl_mem x, cl_long xoff, int64_t M, int64_t R, int64_t ms,
                                  int64_t rs, cl_mem out, cl_long ooff, int64_t os)
{
    /* blocks of adjacent columns only where they are contiguous (ms == 1) */
    cl_int cw = ms == 1 ? clgrad__ops_tuning(ctx)->sum_cw : 1;
    cl_long Ml = M, Rl = R, msl = ms, rsl = rs, osl = os;
    /* Few results (a bias gradient: 10 to a few thousand) make few work-items, and a
     * work-group of the usual size would hold them all: one compute unit (one CPU thread)
     * would sum everything. Smaller groups until every unit has one (the kernel uses no
     * local memory, and each result's order of addition stays the same). */
    size_t n = (size_t)((M + cw - 1) / cw), local = clgrad__wg_1d(ctx);
    size_t units = ctx->dev.info.compute_units > 0 ? (size_t)ctx->dev.info.compute_units : 1;
    while (local > 1 && (n + local - 1) / local < units) local /= 2;
    return clgrad__launch(ctx, FAMILY, clgrad__reduce_plain_options(ctx).s, "reduce_ordered_f32", 1, &n, &local,
                          CLGRAD_ARGS(CLGRAD_KARG(x), CLGRAD_KARG(xoff), CLGRAD_KARG(Ml), CLGRAD_KARG(Rl),
                                      CLGRAD_KARG(msl), CLGRAD_KARG(rsl), CLGRAD_KARG(out), CLGRAD_KARG(ooff),
                                      CLGRAD_KARG(osl), CLGRAD_KARG(cw)));
}
