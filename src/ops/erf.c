/* The error function as an op: y = erf(x), dx = dy * 2/sqrt(pi) * exp(-x^2). Kernels in
 * cl/erf.cl (the contiguous map kernels of cl/common.cl); a strided input is made
 * contiguous first, and the backward rule recomputes the derivative from the saved input.
 * ONNX graphs use it on its own (Erf) and inside the exact GELU. */
#include "ops/ops.h"

#include "tensor/node.h"

#define FAMILY "erf"

static int is_cpu(const clgrad_context *ctx) { return ctx->info.kind == CLGRAD_DEVICE_KIND_CPU; }

/* One map kernel over n contiguous elements; args as cl/erf.cl lists them. */
static clgrad_status launch(clgrad_context *ctx, const char *kernel, int64_t n, int nargs, const clgrad__karg *args)
{
    size_t vw = is_cpu(ctx) ? 8 : 4;
    return clgrad__launch_1d(ctx, FAMILY, is_cpu(ctx) ? "-DER_VW=8" : "-DER_VW=4", kernel,
                             ((size_t)n + vw - 1) / vw, nargs, args);
}

static clgrad_status erf_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_tensor *x = nd->saved[0], *g = NULL, *dx = NULL;
    CLGRAD_TRY(clgrad__contiguous(gy, &g));
    clgrad_status st = clgrad__tensor_new(x->ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &dx);
    if (st == CLGRAD_OK) {
        int64_t n = clgrad__numel(x->ndim, x->shape);
        cl_float p = 0.0f;
        clgrad__karg a[] = {CLGRAD_KARG_T(dx), CLGRAD_KARG_T(x), CLGRAD_KARG_T(g), CLGRAD_KARG(n),
                            CLGRAD_KARG(p), CLGRAD_KARG(p)};
        st = launch(x->ctx, "erf_bwd_f32", n, 9, a);
    }
    clgrad_tensor_release(g);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(dx);
        return st;
    }
    gx[0] = dx;
    return CLGRAD_OK;
}

clgrad_status clgrad_erf(clgrad_tensor *x, clgrad_tensor **out)
{
    if (out) *out = NULL;
    CLGRAD_TRY(clgrad__check_tensor(x ? x->ctx : NULL, "clgrad_erf", "x", x, CLGRAD_DTYPE_F32));
    if (!out) return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_erf: out is NULL");
    clgrad_tensor *xc = NULL, *y = NULL;
    CLGRAD_TRY(clgrad__contiguous(x, &xc));
    clgrad_status st = clgrad__tensor_new(x->ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &y);
    if (st == CLGRAD_OK) {
        int64_t n = clgrad__numel(x->ndim, x->shape);
        cl_float p = 0.0f;
        clgrad__karg a[] = {CLGRAD_KARG_T(y), CLGRAD_KARG_T(xc), CLGRAD_KARG(n), CLGRAD_KARG(p), CLGRAD_KARG(p)};
        st = launch(x->ctx, "erf_fwd_f32", n, 7, a);
    }
    if (st == CLGRAD_OK && clgrad__grad_needed(1, &x)) {
        clgrad__node *nd;
        st = clgrad__node_attach(y, "erf", erf_backward, 1, &x, &nd);
        if (st == CLGRAD_OK) clgrad__node_save(nd, 0, xc);
    }
    clgrad_tensor_release(xc);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}
