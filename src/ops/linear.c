/* The linear layer as one op (see fused.h). Forward: one GEMM, x (N, in) times W^T with
 * the bias and the ReLU as its epilogue. Backward: dz (dy, or dy masked by the saved
 * output when the ReLU is fused), then dW = dz^T x (W's layout, no transpose copy), db = the
 * ordered column sums of dz, dx = dz W. */
#include "ops/fused.h"

#include "ops/elementwise.h"
#include "ops/gemm.h"
#include "ops/ops.h"
#include "ops/op_table.h"

typedef struct linear_state {
    int64_t n, in, out; /* x viewed as (n, in) */
    int relu;
} linear_state;

/* inputs: x, w, bias. saved: 0 x contiguous, 1 w contiguous, 2 y (a second handle, with
 * relu). */
static clgrad_status linear_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_context *ctx = gy->ctx;
    const linear_state *s = CLGRAD__NODE_STATE(nd, linear_state);
    clgrad_tensor *x = nd->saved[0], *w = nd->saved[1], *y = nd->saved[2], *dz = NULL;
    clgrad_tensor *t[3] = {0}; /* dx, dw, db */
    clgrad_status st = s->relu ? clgrad__activation_grad("relu", y, gy, 0.0f, 0.0f, &dz) : clgrad__contiguous(gy, &dz);
    if (st == CLGRAD_OK && nd->needs_grad[1]) {
        int64_t shape[2] = {s->out, s->in};
        st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 2, shape, &t[1]);
        clgrad__gemm_args g = {.trans_a = 1, .m = s->out, .n = s->in, .k = s->n, .batch = 1, .alpha = 1.0f,
                               .a = dz->buf->mem, .a_off = dz->offset, .lda = s->out, .b = x->buf->mem,
                               .b_off = x->offset, .ldb = s->in};
        if (st == CLGRAD_OK) {
            g.c = t[1]->buf->mem, g.c_off = t[1]->offset, g.ldc = s->in;
            st = clgrad__gemm(ctx, &g);
        }
    }
    if (st == CLGRAD_OK && nd->needs_grad[2]) {
        st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 1, &s->out, &t[2]);
        if (st == CLGRAD_OK)
            st = clgrad__sum_ordered(ctx, dz->buf->mem, dz->offset, s->out, s->n, 1, s->out, t[2]->buf->mem,
                                     t[2]->offset, 1);
    }
    if (st == CLGRAD_OK && nd->needs_grad[0]) {
        clgrad_tensor *xin = nd->inputs[0];
        st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, xin->ndim, xin->shape, &t[0]);
        clgrad__gemm_args g = {.m = s->n, .n = s->in, .k = s->out, .batch = 1, .alpha = 1.0f, .a = dz->buf->mem,
                               .a_off = dz->offset, .lda = s->out, .b = w->buf->mem, .b_off = w->offset,
                               .ldb = s->in};
        if (st == CLGRAD_OK) {
            g.c = t[0]->buf->mem, g.c_off = t[0]->offset, g.ldc = s->in;
            st = clgrad__gemm(ctx, &g);
        }
    }
    clgrad_tensor_release(dz);
    if (st != CLGRAD_OK) {
        for (int i = 0; i < 3; i++) clgrad_tensor_release(t[i]);
        return st;
    }
    for (int i = 0; i < 3; i++) gx[i] = t[i];
    return CLGRAD_OK;
}

CLGRAD__OP_DEFINE(linear, "clgrad__linear", linear_backward, linear_state);

clgrad_status clgrad__linear(clgrad_tensor *x, clgrad_tensor *w, clgrad_tensor *bias, int relu, clgrad_tensor **out)
{
    static const char fn[] = "linear";
    if (out) *out = NULL;
    CLGRAD_TRY(clgrad__check_tensor(NULL, fn, "x", x, CLGRAD_DTYPE_F32));
    if (!out) return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    CLGRAD_TRY(clgrad__check_tensor(x->ctx, fn, "weight", w, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_same_ctx(fn, x, w));
    if (bias) {
        CLGRAD_TRY(clgrad__check_tensor(x->ctx, fn, "bias", bias, CLGRAD_DTYPE_F32));
        CLGRAD_TRY(clgrad__check_same_ctx(fn, x, bias));
    }
    clgrad_context *ctx = x->ctx;
    int64_t in = w->ndim == 2 ? w->shape[1] : -1, nout = w->ndim == 2 ? w->shape[0] : -1;
    if (x->ndim < 1 || in < 1 || nout < 1 || x->shape[x->ndim - 1] != in ||
        (bias && (bias->ndim != 1 || bias->shape[0] != nout))) {
        char a[128], b[128], c[128];
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE,
                            "%s: x %s, weight %s, bias %s; expected x (..., in), weight (out, in), bias (out)", fn,
                            clgrad__shape_str(a, sizeof a, x->ndim, x->shape),
                            clgrad__shape_str(b, sizeof b, w->ndim, w->shape),
                            bias ? clgrad__shape_str(c, sizeof c, bias->ndim, bias->shape) : "none");
    }
    int64_t n = clgrad__numel(x->ndim - 1, x->shape), yshape[CLGRAD_MAX_DIMS];
    for (int i = 0; i < x->ndim - 1; i++) yshape[i] = x->shape[i];
    yshape[x->ndim - 1] = nout;
    clgrad_tensor *k[4] = {0}; /* x contiguous, w contiguous, bias contiguous, y */
    clgrad_status st = clgrad__contiguous(x, &k[0]);
    if (st == CLGRAD_OK) st = clgrad__contiguous(w, &k[1]);
    if (st == CLGRAD_OK && bias) st = clgrad__contiguous(bias, &k[2]);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, x->ndim, yshape, &k[3]);
    if (st == CLGRAD_OK && n > 0) {
        clgrad__gemm_args g = {.trans_b = 1, .m = n, .n = nout, .k = in, .batch = 1, .alpha = 1.0f,
                               .a = k[0]->buf->mem, .a_off = k[0]->offset, .lda = in, .b = k[1]->buf->mem,
                               .b_off = k[1]->offset, .ldb = in, .c = k[3]->buf->mem, .c_off = k[3]->offset,
                               .ldc = nout, .relu = relu != 0};
        if (k[2]) g.bias_mode = CLGRAD__GEMM_BIAS_COL, g.bias = k[2]->buf->mem, g.bias_off = k[2]->offset;
        st = clgrad__gemm(ctx, &g);
    }
    clgrad_tensor *y = k[3], *yh = NULL;
    if (st == CLGRAD_OK && relu) { /* the node keeps a second handle: it must not hold its output */
        clgrad_tensor *in3[3] = {x, w, bias};
        if (clgrad__grad_needed(3, in3)) st = clgrad__tensor_view(y, y->ndim, y->shape, y->strides, y->offset, &yh);
    }
    if (st == CLGRAD_OK) {
        clgrad_tensor *in3[3] = {x, w, bias}, *saved[3] = {k[0], k[1], yh};
        linear_state ls = {n, in, nout, relu != 0};
        st = clgrad__record(y, &clgrad__op_linear, 3, in3, &ls, 3, saved);
    }
    clgrad_tensor_release(yh);
    if (st == CLGRAD_OK) {
        *out = y;
        k[3] = NULL;
    }
    for (int i = 0; i < 4; i++) clgrad_tensor_release(k[i]);
    return st;
}
