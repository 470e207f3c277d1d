/* Helpers shared by the convolution algorithms (the temporary bound and chunking, launch
 * shapes, bias arguments, the ordered sums) and the argument checks of both public
 * convolutions (clgrad__conv_setup). */
#include "ops/conv_impl.h"

#include <stdlib.h>

#define FAMILY "conv"

size_t clgrad__conv_temp_bound(const clgrad_context *ctx)
{
    size_t cap = (size_t)256 << 20;
    uint64_t ma = ctx->dev.info.max_alloc_bytes;
    size_t b = ma ? (size_t)(ma / 2) : cap;
    if (b > cap) b = cap;
    /* developer override, only ever lowering the bound (exercises the chunked paths) */
    const char *env = clgrad__getenv("CLGRAD_CONV_TEMP_BYTES");
    if (env) {
        unsigned long long v = strtoull(env, NULL, 10);
        if (v > 0 && v < b) b = (size_t)v;
    }
    return b;
}


cl_long4 clgrad__conv_strides4(const clgrad_tensor *t)
{
    cl_long4 s;
    for (int i = 0; i < 4; i++) s.s[i] = t->strides[i];
    return s;
}

/* Images per chunk so that a temporary of per_image elements per image stays under the
 * bound; chunks are evened out so the last one is not a sliver. */
clgrad_status clgrad__conv_chunk_images(clgrad_context *ctx, const clgrad__conv_geom *g, int64_t per_image, int *nb)
{
    uint64_t bytes = (uint64_t)per_image * sizeof(float);
    if (ctx->dev.info.max_alloc_bytes && bytes > ctx->dev.info.max_alloc_bytes)
        return clgrad__fail(ctx, CLGRAD_ERR_DEVICE_MEMORY,
                            "convolution of a %dx%dx%d image with a %dx%d kernel needs a %llu-byte buffer per image, "
                            "more than the device's largest allocation (%llu bytes)",
                            g->c_in, g->h, g->w, g->kh, g->kw, (unsigned long long)bytes,
                            (unsigned long long)ctx->dev.info.max_alloc_bytes);
    size_t bound = clgrad__conv_temp_bound(ctx), kb = (size_t)clgrad__ops_tuning(ctx)->conv_chunk_kb;
    if (kb > 0 && (kb << 10) < bound) bound = kb << 10; /* the tuning's chunk size (a speed choice) */
    int64_t k = bytes ? (int64_t)(bound / bytes) : g->n;
    if (k < 1) k = 1;
    if (k > g->n) k = g->n;
    int64_t chunks = (g->n + k - 1) / k;
    *nb = (int)((g->n + chunks - 1) / chunks);
    return CLGRAD_OK;
}

clgrad_status clgrad__conv_new_temp(clgrad_context *ctx, int64_t n, clgrad_tensor **out)
{
    return clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 1, &n, out);
}

/* A (pixels, planes) launch with work-groups inside one plane; planes fold over dims 1 and
 * 2 (see conv_plane() in cl/conv.cl) so no dimension gets huge. */
clgrad_status clgrad__conv_launch2(clgrad_context *ctx, const char *kernel, size_t pixels, size_t planes, clgrad__kargs args)
{
    size_t fold = clgrad__fold_limit(ctx), ydim = planes < fold ? planes : fold;
    size_t global[3] = {pixels, ydim, ydim ? (planes + ydim - 1) / ydim : 0};
    size_t maxwg = ctx->dev.info.max_work_group_size ? ctx->dev.info.max_work_group_size : 1;
    size_t l0 = pixels < maxwg ? pixels : maxwg, cap = (size_t)clgrad__ops_tuning(ctx)->conv_wg;
    if (l0 > cap) l0 = cap;
    size_t local[3] = {l0 ? l0 : 1, 1, 1};
    return clgrad__launch(ctx, FAMILY, NULL, kernel, 3, global, local, args);
}

/* --- kernel wrappers ------------------------------------------------------------------- */

/* A (column, row, plane) launch of a loop-free kernel whose plane0 argument is *p0: planes
 * go in launches of at most 32768, work-groups of lx x ly inside one plane. */
clgrad_status clgrad__conv_launch3(clgrad_context *ctx, const char *opts, const char *kernel, size_t cols, size_t rows,
                             int64_t planes, size_t lx, size_t ly, cl_long *p0, clgrad__kargs args)
{
    const int64_t fold = (int64_t)clgrad__fold_limit(ctx);
    for (*p0 = 0; *p0 < planes; *p0 += fold) {
        int64_t np = planes - *p0 < fold ? planes - *p0 : fold;
        size_t global[3] = {cols, rows, (size_t)np};
        size_t local[3] = {lx, ly, 1};
        CLGRAD_TRY(clgrad__launch(ctx, FAMILY, opts, kernel, 3, global, local, args));
    }
    return CLGRAD_OK;
}


clgrad__conv_bias_args clgrad__conv_bias_of(clgrad_tensor *b, clgrad_tensor *fallback)
{
    clgrad__conv_bias_args r;
    r.mem = b ? b->buf->mem : fallback->buf->mem;
    r.off = b ? b->offset : 0;
    r.stride = b ? b->strides[0] : 0;
    r.has = b ? 1 : 0;
    return r;
}

clgrad_status clgrad__conv_bias_fill(clgrad_context *ctx, clgrad_tensor *y, clgrad_tensor *bias)
{
    cl_long bstride = bias->strides[0], hw = y->shape[2] * y->shape[3];
    cl_int N = (cl_int)y->shape[0], K = (cl_int)y->shape[1];
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG_T(bias), CLGRAD_KARG(bstride), CLGRAD_KARG(N),
                                  CLGRAD_KARG(K), CLGRAD_KARG(hw));
    return clgrad__conv_launch2(ctx, "conv_bias_fill_f32", (size_t)hw, (size_t)K * (size_t)N, a);
}

/* out[m] (strided 1-D view or contiguous) = sum over r < R of part[r*M + m]. */
clgrad_status clgrad__conv_sum_rows(clgrad_context *ctx, clgrad_tensor *part, int R, int M, clgrad_tensor *out)
{
    return clgrad__sum_ordered(ctx, part->buf->mem, 0, M, R, 1, M, out->buf->mem, out->offset, 1);
}

/* --- argument checks of clgrad_conv2d and clgrad_conv_transpose2d ------------------------ */

static int param_or(int v, int dflt) { return v == 0 ? dflt : v; }

/* The convolution's parameters, zeros replaced by their defaults. */
typedef struct conv_params {
    int groups, sh, sw, dh, dw, ph, pw, oph, opw;
} conv_params;

static clgrad_status read_params(clgrad_context *ctx, const char *fn, int transposed, const clgrad_conv2d_params *p,
                                 conv_params *q)
{
    clgrad_conv2d_params zero = {{0, 0}, {0, 0}, {0, 0}, 0, {0, 0}};
    if (!p) p = &zero;
    int groups = param_or(p->groups, 1);
    int sh = param_or(p->stride[0], 1), sw = param_or(p->stride[1], 1);
    int dh = param_or(p->dilation[0], 1), dw = param_or(p->dilation[1], 1);
    int ph = p->padding[0], pw = p->padding[1];
    int oph = transposed ? p->output_padding[0] : 0, opw = transposed ? p->output_padding[1] : 0;
    const int big = 1 << 20;
    if (groups < 0 || sh < 0 || sw < 0 || dh < 0 || dw < 0 || ph < 0 || pw < 0 || oph < 0 || opw < 0 ||
        sh > big || sw > big || dh > big || dw > big || ph > big || pw > big)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "%s: stride (%d, %d), padding (%d, %d), dilation (%d, %d), output_padding (%d, %d) and "
                            "groups %d must be non-negative and at most 2^20",
                            fn, sh, sw, ph, pw, dh, dw, oph, opw, groups);
    if (transposed && (oph >= (sh > dh ? sh : dh) || opw >= (sw > dw ? sw : dw)))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "%s: output_padding (%d, %d) must be smaller than stride (%d, %d) or dilation (%d, %d)", fn,
                            oph, opw, sh, sw, dh, dw);
    *q = (conv_params){groups, sh, sw, dh, dw, ph, pw, oph, opw};
    return CLGRAD_OK;
}

/* The channels of x, weight and bias agree (groups included); *c_in and *c_out. */
static clgrad_status check_channels(clgrad_context *ctx, const char *fn, int transposed, const clgrad_tensor *x,
                                    const clgrad_tensor *w, const clgrad_tensor *bias, int groups, int64_t *c_in,
                                    int64_t *c_out)
{
    char a[128], b[128], c[128];
    int64_t cx = x->shape[1], h = x->shape[2], wd = x->shape[3], kh = w->shape[2], kw = w->shape[3];
    /* channels: conv2d  w (C_out, C_in/g, ..), x has C_in;  transposed  w (C_in, C_out/g, ..) */
    *c_in = cx;
    *c_out = transposed ? w->shape[1] * groups : w->shape[0];
    int64_t w_in_ch = transposed ? w->shape[0] : w->shape[1] * groups;
    if (cx < 1 || h < 1 || wd < 1 || kh < 1 || kw < 1 || w->shape[0] < 1 || w->shape[1] < 1)
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: x %s and weight %s must have non-zero channels and sizes", fn,
                            clgrad__shape_str(a, sizeof a, 4, x->shape), clgrad__shape_str(b, sizeof b, 4, w->shape));
    if (*c_in % groups || w->shape[0] % groups)
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE,
                            "%s: groups %d must divide the input channels (x %s) and the %s channels (weight %s)", fn,
                            groups, clgrad__shape_str(a, sizeof a, 4, x->shape), transposed ? "input" : "output",
                            clgrad__shape_str(b, sizeof b, 4, w->shape));
    if (w_in_ch != *c_in)
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE,
                            "%s: x %s has %lld channels but weight %s expects %lld input channels (groups %d)", fn,
                            clgrad__shape_str(a, sizeof a, 4, x->shape), (long long)*c_in,
                            clgrad__shape_str(b, sizeof b, 4, w->shape), (long long)w_in_ch, groups);
    if (bias && (bias->ndim != 1 || bias->shape[0] != *c_out))
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: bias %s must have shape [%lld] (weight %s)", fn,
                            clgrad__shape_str(c, sizeof c, bias->ndim, bias->shape), (long long)*c_out,
                            clgrad__shape_str(b, sizeof b, 4, w->shape));
    return CLGRAD_OK;
}

/* The output's height and width, checked to be positive and within the kernels' ranges. */
static clgrad_status output_size(clgrad_context *ctx, const char *fn, int transposed, const clgrad_tensor *x,
                                 const clgrad_tensor *w, const conv_params *q, int64_t lim, int64_t *ho_out,
                                 int64_t *wo_out)
{
    char a[128], b[128];
    int64_t h = x->shape[2], wd = x->shape[3], kh = w->shape[2], kw = w->shape[3], ho, wo;
    if (transposed) {
        ho = (h - 1) * q->sh - 2 * (int64_t)q->ph + (int64_t)q->dh * (kh - 1) + q->oph + 1;
        wo = (wd - 1) * q->sw - 2 * (int64_t)q->pw + (int64_t)q->dw * (kw - 1) + q->opw + 1;
    } else {
        int64_t eh = h + 2 * (int64_t)q->ph - (int64_t)q->dh * (kh - 1) - 1;
        int64_t ew = wd + 2 * (int64_t)q->pw - (int64_t)q->dw * (kw - 1) - 1;
        ho = eh < 0 ? 0 : eh / q->sh + 1;
        wo = ew < 0 ? 0 : ew / q->sw + 1;
    }
    if (ho < 1 || wo < 1 || ho >= lim || wo >= lim || ho * wo >= ((int64_t)1 << 31) || h * wd >= ((int64_t)1 << 31))
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE,
                            "%s: x %s with weight %s, stride (%d, %d), padding (%d, %d), dilation (%d, %d) gives an "
                            "output of %lld x %lld",
                            fn, clgrad__shape_str(a, sizeof a, 4, x->shape),
                            clgrad__shape_str(b, sizeof b, 4, w->shape),
                            q->sh, q->sw, q->ph, q->pw, q->dh, q->dw, (long long)ho, (long long)wo);
    *ho_out = ho;
    *wo_out = wo;
    return CLGRAD_OK;
}

/* One check per argument, each failing with its own message that names the shapes. */
clgrad_status clgrad__conv_setup(const char *fn, int transposed, clgrad_tensor *x, clgrad_tensor *w,
                                 clgrad_tensor *bias, const clgrad_conv2d_params *p, clgrad__conv_geom *g,
                                 int64_t out_shape[4])
{
    clgrad_context *ctx = x ? x->ctx : w ? w->ctx : NULL;
    CLGRAD_TRY(clgrad__check_tensor(ctx, fn, "x", x, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_tensor(ctx, fn, "weight", w, CLGRAD_DTYPE_F32));
    if (bias) CLGRAD_TRY(clgrad__check_tensor(ctx, fn, "bias", bias, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_same_ctx(fn, x, w));
    CLGRAD_TRY(clgrad__check_same_ctx(fn, x, bias));
    char a[128], b[128];
    if (x->ndim != 4 || w->ndim != 4)
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: x %s and weight %s must both be 4-D (NCHW and %s)", fn,
                            clgrad__shape_str(a, sizeof a, x->ndim, x->shape),
                            clgrad__shape_str(b, sizeof b, w->ndim, w->shape),
                            transposed ? "C_in, C_out/groups, kH, kW" : "C_out, C_in/groups, kH, kW");
    conv_params q = {0};
    CLGRAD_TRY(read_params(ctx, fn, transposed, p, &q));
    const int64_t lim = 1 << 30;
    for (int i = 0; i < 4; i++)
        if (x->shape[i] >= lim || w->shape[i] >= lim)
            return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: x %s or weight %s has a dimension too large", fn,
                                clgrad__shape_str(a, sizeof a, 4, x->shape),
                                clgrad__shape_str(b, sizeof b, 4, w->shape));
    int64_t c_in = 0, c_out = 0, ho = 0, wo = 0;
    CLGRAD_TRY(check_channels(ctx, fn, transposed, x, w, bias, q.groups, &c_in, &c_out));
    CLGRAD_TRY(output_size(ctx, fn, transposed, x, w, &q, lim, &ho, &wo));
    int64_t n = x->shape[0], h = x->shape[2], wd = x->shape[3];
    out_shape[0] = n, out_shape[1] = c_out, out_shape[2] = ho, out_shape[3] = wo;
    /* g is always the forward convolution; a transposed one runs it backwards */
    g->n = (int)n, g->kh = (int)w->shape[2], g->kw = (int)w->shape[3];
    g->sh = q.sh, g->sw = q.sw, g->ph = q.ph, g->pw = q.pw, g->dh = q.dh, g->dw = q.dw, g->groups = q.groups;
    g->relu = 0, g->pool = 0;
    if (transposed) {
        g->c_in = (int)c_out, g->h = (int)ho, g->w = (int)wo;
        g->c_out = (int)c_in, g->ho = (int)h, g->wo = (int)wd;
    } else {
        g->c_in = (int)c_in, g->h = (int)h, g->w = (int)wd;
        g->c_out = (int)c_out, g->ho = (int)ho, g->wo = (int)wo;
    }
    return CLGRAD_OK;
}
