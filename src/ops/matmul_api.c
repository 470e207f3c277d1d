/* The public matrix products on top of the GEMM providers of gemm.c: clgrad_gemm (in place,
 * GEMM semantics) and clgrad_matmul (numpy.matmul batching and broadcasting,
 * differentiable). Views are passed to the GEMM as (buffer, offset, leading dimension,
 * batch stride, transpose) whenever their strides allow it, so transposed operands cost
 * no copy. */
#include "ops/gemm.h"
#include "ops/ops.h"
#include "ops/reduce.h"
#include "ops/op_table.h"

#include <string.h>

/* How one operand (batch..., R, C) is handed to the GEMM. */
typedef struct operand {
    clgrad_tensor *t; /* the tensor whose buffer is used (a reference) */
    int trans;        /* stored as C x R */
    int64_t ld, bstride, off;
} operand;

/* Batch dims of t (all but the last two) as one stride; 0 if not expressible. */
static int batch_stride(const clgrad_tensor *t, int64_t *bs)
{
    int nb = t->ndim - 2;
    int64_t s = 0, expect = -1;
    for (int i = nb - 1; i >= 0; i--) {
        if (t->shape[i] == 1) continue;
        if (expect < 0) {
            s = t->strides[i];
            expect = s * t->shape[i];
        } else {
            if (t->strides[i] != expect) return 0;
            expect *= t->shape[i];
        }
    }
    *bs = s;
    return 1;
}

/* Describes t for the GEMM, copying to contiguous storage when its strides don't fit. */
static clgrad_status describe(clgrad_tensor *t, operand *op)
{
    int n = t->ndim;
    int64_t R = t->shape[n - 2], C = t->shape[n - 1];
    int64_t sr = t->strides[n - 2], sc = t->strides[n - 1], bs;
    if (batch_stride(t, &bs)) {
        if ((sc == 1 || C == 1) && sr >= (C > 1 ? C : 1)) {
            *op = (operand){clgrad_tensor_retain(t), 0, sr, bs, t->offset};
            return CLGRAD_OK;
        }
        if ((sr == 1 || R == 1) && sc >= (R > 1 ? R : 1)) {
            *op = (operand){clgrad_tensor_retain(t), 1, sc, bs, t->offset};
            return CLGRAD_OK;
        }
    }
    clgrad_tensor *c = NULL;
    CLGRAD_TRY(clgrad__tensor_new(t->ctx, t->dtype, t->ndim, t->shape, &c));
    clgrad_status st = clgrad__copy(c, t);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(c);
        return st;
    }
    *op = (operand){c, 0, C > 1 ? C : 1, R * C, 0};
    if (t->ndim > 2 && clgrad__numel(n - 2, t->shape) == 1) op->bstride = 0;
    return CLGRAD_OK;
}

/* c (batch, M, N) contiguous-rows output <- alpha * op(a) op(b) + beta * c, a and b already
 * expanded to the same batch dims. */
static clgrad_status run(int ta, int tb, float alpha, clgrad_tensor *a, clgrad_tensor *b, float beta,
                         clgrad_tensor *c, int64_t batch)
{
    operand A, B;
    CLGRAD_TRY(describe(a, &A));
    clgrad_status st = describe(b, &B);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(A.t);
        return st;
    }
    int n = c->ndim;
    int64_t M = c->shape[n - 2], N = c->shape[n - 1];
    int64_t K = ta ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1];
    clgrad__gemm_args g = {
        .trans_a = A.trans ^ ta, .trans_b = B.trans ^ tb, .m = M, .n = N, .k = K, .batch = batch,
        .alpha = alpha, .beta = beta, .a = A.t->buf->mem, .b = B.t->buf->mem, .c = c->buf->mem,
        .a_off = A.off, .lda = A.ld, .a_bstride = A.bstride,
        .b_off = B.off, .ldb = B.ld, .b_bstride = B.bstride,
        .c_off = c->offset, .ldc = c->strides[n - 2], .c_bstride = M * c->strides[n - 2],
    };
    /* A batch of row-major matrices times one shared matrix is a single taller GEMM. */
    if (batch > 1 && B.bstride == 0 && !g.trans_a && A.bstride == M * A.ld && c->strides[n - 2] == N) {
        g.m = M * batch;
        g.batch = 1;
    }
    st = clgrad__gemm(c->ctx, &g);
    clgrad_tensor_release(A.t);
    clgrad_tensor_release(B.t);
    return st;
}

clgrad_status clgrad_gemm(int trans_a, int trans_b, float alpha, clgrad_tensor *a, clgrad_tensor *b, float beta,
                          clgrad_tensor *c)
{
    if (!a || !b || !c) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_gemm: a, b and c must not be NULL");
    CLGRAD_TRY(clgrad__check_same_ctx("clgrad_gemm", a, b));
    CLGRAD_TRY(clgrad__check_same_ctx("clgrad_gemm", a, c));
    CLGRAD_TRY(clgrad__check_tensor(a->ctx, "clgrad_gemm", "a", a, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_tensor(a->ctx, "clgrad_gemm", "b", b, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_tensor(a->ctx, "clgrad_gemm", "c", c, CLGRAD_DTYPE_F32));
    int n = c->ndim;
    int ok = (n == 2 || n == 3) && a->ndim == n && b->ndim == n && (n == 2 || (a->shape[0] == c->shape[0] && b->shape[0] == c->shape[0]));
    int64_t M = 0, K = 0, K2 = 0, N = 0;
    if (ok) {
        M = trans_a ? a->shape[n - 1] : a->shape[n - 2];
        K = trans_a ? a->shape[n - 2] : a->shape[n - 1];
        K2 = trans_b ? b->shape[n - 1] : b->shape[n - 2];
        N = trans_b ? b->shape[n - 2] : b->shape[n - 1];
        ok = K == K2 && M == c->shape[n - 2] && N == c->shape[n - 1];
    }
    if (!ok) {
        char sa[256], sb[256], sc[256];
        return clgrad__fail(a->ctx, CLGRAD_ERR_SHAPE, "clgrad_gemm: op(a) %s%s x op(b) %s%s does not fit c %s",
                            clgrad__shape_str(sa, sizeof sa, a->ndim, a->shape), trans_a ? "^T" : "",
                            clgrad__shape_str(sb, sizeof sb, b->ndim, b->shape), trans_b ? "^T" : "",
                            clgrad__shape_str(sc, sizeof sc, c->ndim, c->shape));
    }
    CLGRAD_TRY(clgrad__check_writable("clgrad_gemm", "c", c));
    int64_t batch = n == 3 ? c->shape[0] : 1;
    c->version++;
    /* c written while a and b are read: when it shares memory with them, into a temporary */
    int apart = clgrad__tensor_overlap(c, a) == CLGRAD__OVERLAP_NONE && clgrad__tensor_overlap(c, b) == CLGRAD__OVERLAP_NONE;
    if (apart && c->strides[n - 1] == 1 && c->strides[n - 2] >= N &&
        (n == 2 || c->strides[0] == M * c->strides[1] || batch == 1))
        return run(trans_a, trans_b, alpha, a, b, beta, c, batch);
    clgrad_tensor *tmp = NULL;
    CLGRAD_TRY(clgrad__contiguous(c, &tmp));
    if (tmp == c) { /* contiguous, and overlapping a or b: a fresh copy */
        clgrad_tensor_release(tmp);
        CLGRAD_TRY(clgrad__tensor_new(c->ctx, c->dtype, c->ndim, c->shape, &tmp));
        clgrad_status st = clgrad__copy(tmp, c);
        if (st != CLGRAD_OK) {
            clgrad_tensor_release(tmp);
            return st;
        }
    }
    clgrad_status st = run(trans_a, trans_b, alpha, a, b, beta, tmp, batch);
    if (st == CLGRAD_OK) st = clgrad__copy(c, tmp);
    clgrad_tensor_release(tmp);
    return st;
}

/* --- clgrad_matmul ----------------------------------------------------------------------- */

static clgrad_status matmul_nd(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out);

static clgrad_status matmul_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_tensor *a = n->inputs[0], *b = n->inputs[1];
    clgrad_status st = CLGRAD_OK;
    if (n->needs_grad[0]) {
        clgrad_tensor *bt = NULL, *g = NULL;
        int perm[CLGRAD_MAX_DIMS];
        for (int i = 0; i < b->ndim; i++) perm[i] = i;
        perm[b->ndim - 1] = b->ndim - 2;
        perm[b->ndim - 2] = b->ndim - 1;
        st = clgrad__permute_view(b, perm, &bt);
        if (st == CLGRAD_OK) st = matmul_nd(gy, bt, &g);
        if (st == CLGRAD_OK) st = clgrad__sum_to_shape(g, a->ndim, a->shape, &gx[0]);
        clgrad_tensor_release(bt);
        clgrad_tensor_release(g);
        if (st != CLGRAD_OK) return st;
    }
    if (n->needs_grad[1] && b->ndim == 2) {
        /* A shared 2-D weight: fold a's batch dims into rows, so dB is one GEMM with no
         * reduction afterwards; and when b is a transposed view (Linear's W^T) produce dB
         * in W's own layout, so that the leaf's gradient needs no strided copy. */
        clgrad_tensor *a2 = NULL, *g2 = NULL, *g = NULL;
        int64_t K = a->shape[a->ndim - 1], N = gy->shape[gy->ndim - 1];
        int64_t rows = clgrad__numel(a->ndim - 1, a->shape);
        int64_t sa[2] = {rows, K}, sg[2] = {rows, N};
        int trans_layout = b->strides[0] == 1 && b->strides[1] != 1;
        st = clgrad__contiguous(a, &a2);
        clgrad_tensor *a2v = NULL, *g2v = NULL;
        if (st == CLGRAD_OK) st = clgrad__reshape_view(a2, 2, sa, &a2v);
        if (st == CLGRAD_OK) st = clgrad__reshape_view(gy, 2, sg, &g2v); /* gy is contiguous */
        if (st == CLGRAD_OK) {
            int64_t shape[2] = {trans_layout ? N : K, trans_layout ? K : N};
            st = clgrad__tensor_new(a->ctx, CLGRAD_DTYPE_F32, 2, shape, &g2);
        }
        if (st == CLGRAD_OK)
            st = trans_layout ? run(1, 0, 1.0f, g2v, a2v, 0.0f, g2, 1)  /* dB^T = gy^T a */
                              : run(1, 0, 1.0f, a2v, g2v, 0.0f, g2, 1); /* dB = a^T gy */
        if (st == CLGRAD_OK && trans_layout) {
            int perm[2] = {1, 0};
            st = clgrad__permute_view(g2, perm, &g);
        } else if (st == CLGRAD_OK) {
            g = clgrad_tensor_retain(g2);
        }
        if (st == CLGRAD_OK) gx[1] = g;
        clgrad_tensor_release(a2);
        clgrad_tensor_release(a2v);
        clgrad_tensor_release(g2v);
        clgrad_tensor_release(g2);
    } else if (n->needs_grad[1]) {
        clgrad_tensor *at = NULL, *g = NULL;
        int perm[CLGRAD_MAX_DIMS];
        for (int i = 0; i < a->ndim; i++) perm[i] = i;
        perm[a->ndim - 1] = a->ndim - 2;
        perm[a->ndim - 2] = a->ndim - 1;
        st = clgrad__permute_view(a, perm, &at);
        if (st == CLGRAD_OK) st = matmul_nd(at, gy, &g);
        if (st == CLGRAD_OK) st = clgrad__sum_to_shape(g, b->ndim, b->shape, &gx[1]);
        clgrad_tensor_release(at);
        clgrad_tensor_release(g);
    }
    return st;
}

/* Both operands at least 2-D: out (broadcast batch..., M, N). Untracked. */
static clgrad_status matmul_nd(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out)
{
    int na = a->ndim, nb = b->ndim;
    int64_t M = a->shape[na - 2], K = a->shape[na - 1], N = b->shape[nb - 1];
    if (b->shape[nb - 2] != K) {
        char sa[256], sb[256];
        return clgrad__fail(a->ctx, CLGRAD_ERR_SHAPE, "clgrad_matmul: %s x %s: inner dimensions %lld and %lld differ",
                            clgrad__shape_str(sa, sizeof sa, na, a->shape), clgrad__shape_str(sb, sizeof sb, nb, b->shape),
                            (long long)K, (long long)b->shape[nb - 2]);
    }
    int nbatch;
    int64_t bshape[CLGRAD_MAX_DIMS];
    CLGRAD_TRY(clgrad__broadcast_shape(a->ctx, "clgrad_matmul (batch dims)", na - 2, a->shape, nb - 2, b->shape, &nbatch, bshape));
    int64_t oshape[CLGRAD_MAX_DIMS], ashape[CLGRAD_MAX_DIMS], bsh[CLGRAD_MAX_DIMS];
    memcpy(oshape, bshape, sizeof(int64_t) * (size_t)nbatch);
    memcpy(ashape, bshape, sizeof(int64_t) * (size_t)nbatch);
    memcpy(bsh, bshape, sizeof(int64_t) * (size_t)nbatch);
    oshape[nbatch] = M;
    oshape[nbatch + 1] = N;
    ashape[nbatch] = M;
    ashape[nbatch + 1] = K;
    bsh[nbatch] = K;
    bsh[nbatch + 1] = N;
    int64_t batch = clgrad__numel(nbatch, bshape);
    clgrad_tensor *ae = NULL, *be = NULL, *c = NULL;
    clgrad_status st = clgrad__expand_view(a, nbatch + 2, ashape, &ae);
    if (st == CLGRAD_OK) st = clgrad__expand_view(b, nbatch + 2, bsh, &be);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(a->ctx, CLGRAD_DTYPE_F32, nbatch + 2, oshape, &c);
    if (st == CLGRAD_OK && K == 0) st = clgrad__fill(c, 0.0);
    else if (st == CLGRAD_OK) st = run(0, 0, 1.0f, ae, be, 0.0f, c, batch);
    clgrad_tensor_release(ae);
    clgrad_tensor_release(be);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(c);
        return st;
    }
    *out = c;
    return CLGRAD_OK;
}

CLGRAD__OP_DEFINE_STATELESS(matmul, "clgrad_matmul", matmul_backward);

clgrad_status clgrad_matmul(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out)
{
    if (out) *out = NULL;
    if (!a || !b || !out) return clgrad__fail(a ? a->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_matmul: a, b and out must not be NULL");
    CLGRAD_TRY(clgrad__check_same_ctx("clgrad_matmul", a, b));
    CLGRAD_TRY(clgrad__check_tensor(a->ctx, "clgrad_matmul", "a", a, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_tensor(a->ctx, "clgrad_matmul", "b", b, CLGRAD_DTYPE_F32));
    if (a->ndim == 0 || b->ndim == 0)
        return clgrad__fail(a->ctx, CLGRAD_ERR_SHAPE, "clgrad_matmul: operands must have at least one dimension");
    if (a->ndim == 1 || b->ndim == 1) {
        /* numpy: a 1-D operand gains a dimension that is removed again from the result */
        clgrad_tensor *a2 = NULL, *b2 = NULL, *c = NULL;
        int64_t sa[2] = {1, a->shape[0]}, sb[2] = {b->shape[0], 1};
        clgrad_status st = a->ndim == 1 ? clgrad_reshape(a, 2, sa, &a2) : (a2 = clgrad_tensor_retain(a), CLGRAD_OK);
        if (st == CLGRAD_OK) st = b->ndim == 1 ? clgrad_reshape(b, 2, sb, &b2) : (b2 = clgrad_tensor_retain(b), CLGRAD_OK);
        if (st == CLGRAD_OK) st = clgrad_matmul(a2, b2, &c);
        if (st == CLGRAD_OK) {
            int64_t shape[CLGRAD_MAX_DIMS];
            int nd = 0;
            for (int i = 0; i < c->ndim; i++) {
                if (i == c->ndim - 2 && a->ndim == 1) continue;
                if (i == c->ndim - 1 && b->ndim == 1) continue;
                shape[nd++] = c->shape[i];
            }
            st = clgrad_reshape(c, nd, shape, out);
        }
        clgrad_tensor_release(a2);
        clgrad_tensor_release(b2);
        clgrad_tensor_release(c);
        return st;
    }
    clgrad_tensor *c = NULL;
    CLGRAD_TRY(matmul_nd(a, b, &c));
    clgrad_tensor *in[2] = {a, b};
    clgrad_status st = clgrad__record(c, &clgrad__op_matmul, 2, in, NULL, 0, NULL);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(c);
        return st;
    }
    *out = c;
    return CLGRAD_OK;
}
