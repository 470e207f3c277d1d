/* Losses: cross entropy (with label smoothing and ignore_index -100), NLL, MSE and binary
 * cross entropy with logits, with their backward rules. Per-sample values come from
 * cl/loss.cl; sums and means go through the deterministic reduction engine. Labels are
 * checked on the device, never read back: an out-of-range label makes its sample's loss and
 * gradient row NaN. */
#include "ops/ops.h"
#include "ops/reduce.h"

#include "ops/op_table.h"

#include <string.h>

#define FAMILY "loss"
#define IGNORE_INDEX (-100)

static clgrad_status check_red(const clgrad_context *ctx, const char *fn, clgrad_reduction r)
{
    if (r != CLGRAD_REDUCTION_MEAN && r != CLGRAD_REDUCTION_SUM && r != CLGRAD_REDUCTION_NONE)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: unknown reduction %d", fn, (int)r);
    return CLGRAD_OK;
}

/* Reduces per-sample values l (and, for a mean over counted samples, their counts) to the
 * loss: l itself (NONE), sum(l) (SUM), sum(l) / div or sum(l) / sum(counted) (MEAN). */
static clgrad_status finish(clgrad_tensor *l, clgrad_tensor *counted, clgrad_reduction red, double div,
                            clgrad_tensor **out, clgrad_tensor **cnt_out)
{
    if (red == CLGRAD_REDUCTION_NONE) {
        *out = clgrad_tensor_retain(l);
        return CLGRAD_OK;
    }
    uint32_t all = l->ndim ? (uint32_t)((1u << l->ndim) - 1u) : 0u;
    if (red == CLGRAD_REDUCTION_SUM || !counted)
        return clgrad__reduce(l, all, CLGRAD__RED_SUM, NULL, red == CLGRAD_REDUCTION_SUM ? 1.0 : div, 0, NULL, out);
    clgrad_tensor *s = NULL, *c = NULL, *y = NULL;
    clgrad_status st = clgrad__reduce(l, all, CLGRAD__RED_SUM, NULL, 1.0, 0, NULL, &s);
    if (st == CLGRAD_OK) st = clgrad__reduce(counted, all, CLGRAD__RED_SUM, NULL, 1.0, 0, NULL, &c);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(l->ctx, CLGRAD_DTYPE_F32, 0, NULL, &y);
    if (st == CLGRAD_OK) {
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(y->buf->mem), CLGRAD_KARG(y->offset), CLGRAD_KARG(s->buf->mem),
                                      CLGRAD_KARG(c->buf->mem));
        st = clgrad__launch_1d(l->ctx, FAMILY, NULL, "loss_div_f32", 1, a);
    }
    clgrad_tensor_release(s);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(c);
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    *cnt_out = c;
    return CLGRAD_OK;
}

/* --- cross entropy and NLL ------------------------------------------------------------- */

/* saved: 0 labels (contiguous), 1 log-probabilities (cross entropy only), 2 the count of
 * labels not ignored (mean only). Cross entropy or NLL is the descriptor. */
typedef struct nll_state {
    clgrad_reduction red;
    double label_smoothing;
} nll_state;

static clgrad_status nll_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    const nll_state *s = CLGRAD__NODE_STATE(nd, nll_state);
    clgrad_tensor *x = nd->inputs[0], *labels = nd->saved[0], *lp = nd->saved[1], *cnt = nd->saved[2], *g = NULL,
                  *dx = NULL;
    int softmax = nd->op == &clgrad__op_cross_entropy;
    cl_int per_sample = s->red == CLGRAD_REDUCTION_NONE, ignore = IGNORE_INDEX, sm = softmax;
    cl_long N = x->shape[0], C = x->shape[1];
    cl_float eps = (cl_float)s->label_smoothing;
    cl_mem cntm = cnt ? cnt->buf->mem : NULL, lpm = lp ? lp->buf->mem : NULL;
    clgrad_status st = clgrad__contiguous(gy, &g);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(x->ctx, CLGRAD_DTYPE_F32, 2, x->shape, &dx);
    if (st == CLGRAD_OK) {
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(dx->buf->mem), CLGRAD_KARG(lpm),    CLGRAD_KARG_T(labels),
                                      CLGRAD_KARG_T(g),          CLGRAD_KARG(per_sample), CLGRAD_KARG(cntm),
                                      CLGRAD_KARG(N),            CLGRAD_KARG(C),      CLGRAD_KARG(eps),
                                      CLGRAD_KARG(ignore),       CLGRAD_KARG(sm));
        st = clgrad__launch_1d(x->ctx, FAMILY, NULL, "nll_bwd_f32", (size_t)(N * C), a);
    }
    clgrad_tensor_release(g);
    if (st != CLGRAD_OK) clgrad_tensor_release(dx);
    else gx[0] = dx;
    return st;
}

/* softmax 1: cross entropy of logits; 0: NLL of log-probabilities. */
CLGRAD__OP_DEFINE(cross_entropy, "clgrad_cross_entropy", nll_backward, nll_state);
CLGRAD__OP_DEFINE(nll_loss, "clgrad_nll_loss", nll_backward, nll_state);

/* A reduced loss over at most one chunk of the engine is one launch with the same bits;
 * where the tuning row says !nll_fused_smooth (GPUs) only without label smoothing, whose row
 * sums keep 64 lanes per work-item in private memory (spilled there). CLGRAD_NLL_FUSED=0|1
 * overrides the choice (tests). */
static int nll_use_fused(const clgrad_context *ctx, clgrad_reduction red, cl_long N, float eps)
{
    int smooth_ok = clgrad__ops_tuning(ctx)->nll_fused_smooth;
    const char *fz = clgrad__getenv("CLGRAD_NLL_FUSED");
    return red != CLGRAD_REDUCTION_NONE && N > 0 && N <= 16384 &&
           (ctx->dev.info.local_mem_bytes == 0 || ctx->dev.info.local_mem_bytes >= 2 * 64 * sizeof(cl_float)) &&
           (fz ? fz[0] == '1' : smooth_ok || eps == 0.0f);
}

/* The fused path: the reduced loss *y (and, for a mean, the count *cnt) in one launch. */
static clgrad_status nll_fused(clgrad_context *ctx, clgrad_tensor *lp, clgrad_tensor *lab, cl_long N, cl_long C,
                               float eps, clgrad_reduction red, clgrad_tensor **y, clgrad_tensor **cnt)
{
    int mean = red == CLGRAD_REDUCTION_MEAN;
    CLGRAD_TRY(clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 0, NULL, y));
    if (mean) CLGRAD_TRY(clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 0, NULL, cnt));
    cl_mem cm = *cnt ? (*cnt)->buf->mem : NULL;
    cl_float e = eps;
    cl_int ignore = IGNORE_INDEX, m = mean;
    clgrad__kargs k = CLGRAD_ARGS(CLGRAD_KARG((*y)->buf->mem), CLGRAD_KARG((*y)->offset), CLGRAD_KARG(cm),
                                  CLGRAD_KARG_T(lp),           CLGRAD_KARG_T(lab),         CLGRAD_KARG(N),
                                  CLGRAD_KARG(C),              CLGRAD_KARG(e),             CLGRAD_KARG(ignore),
                                  CLGRAD_KARG(m),              CLGRAD_KARG_LOCAL(64 * sizeof(cl_float)),
                                  CLGRAD_KARG_LOCAL(64 * sizeof(cl_float)));
    size_t g = 64, lsz = 64;
    return clgrad__launch(ctx, FAMILY, NULL, "nll_fwd_red_f32", 1, &g, &lsz, k);
}

/* The two-pass path: the per-row losses and counts (the row sums first, with label
 * smoothing), then their reduction into *y and *cnt. */
static clgrad_status nll_two_pass(clgrad_context *ctx, clgrad_tensor *lp, clgrad_tensor *lab, cl_long N, cl_long C,
                                  float eps, clgrad_reduction red, clgrad_tensor **y, clgrad_tensor **cnt)
{
    clgrad_tensor *rowsum = NULL, *l = NULL, *counted = NULL;
    clgrad_status st = CLGRAD_OK;
    int64_t n1 = N;
    if (eps != 0.0f) st = clgrad__reduce(lp, 2u, CLGRAD__RED_SUM, NULL, 1.0, 1, &n1, &rowsum);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 1, &n1, &l);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 1, &n1, &counted);
    if (st == CLGRAD_OK && N > 0) {
        cl_mem rs = rowsum ? rowsum->buf->mem : NULL;
        cl_float e = eps;
        cl_int ignore = IGNORE_INDEX;
        clgrad__kargs k = CLGRAD_ARGS(CLGRAD_KARG(l->buf->mem), CLGRAD_KARG(counted->buf->mem), CLGRAD_KARG_T(lp),
                                      CLGRAD_KARG_T(lab),       CLGRAD_KARG(rs),                CLGRAD_KARG(N),
                                      CLGRAD_KARG(C),           CLGRAD_KARG(e),                 CLGRAD_KARG(ignore));
        st = clgrad__launch_1d(ctx, FAMILY, NULL, "nll_fwd_f32", (size_t)N, k);
    }
    if (st == CLGRAD_OK) st = finish(l, counted, red, 1.0, y, cnt);
    clgrad_tensor_release(rowsum);
    clgrad_tensor_release(l);
    clgrad_tensor_release(counted);
    return st;
}

/* Validation, then the fused one-launch path or the two-pass path (they must give the same
 * bits), then the record. */
static clgrad_status nll_common(const char *fn, clgrad_tensor *x, clgrad_tensor *labels, float eps,
                                clgrad_reduction red, int softmax, clgrad_tensor **out)
{
    if (out) *out = NULL;
    CLGRAD_TRY(clgrad__check_tensor(NULL, fn, softmax ? "logits" : "logp", x, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_tensor(x->ctx, fn, "labels", labels, CLGRAD_DTYPE_I32));
    CLGRAD_TRY(clgrad__check_same_ctx(fn, x, labels));
    clgrad_context *ctx = x->ctx;
    if (!out) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    CLGRAD_TRY(check_red(ctx, fn, red));
    char a[256], b[256];
    if (x->ndim != 2 || labels->ndim != 1 || labels->shape[0] != x->shape[0] || x->shape[1] < 1)
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: expected %s (N, C) with C >= 1 and labels (N), got %s and %s",
                            fn, softmax ? "logits" : "logp", clgrad__shape_str(a, sizeof a, x->ndim, x->shape),
                            clgrad__shape_str(b, sizeof b, labels->ndim, labels->shape));
    if (!(eps >= 0.0f && eps <= 1.0f))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: label_smoothing %g is outside [0, 1]", fn, (double)eps);
    cl_long N = x->shape[0], C = x->shape[1];
    clgrad_tensor *lp = NULL, *lab = NULL, *y = NULL, *cnt = NULL;
    clgrad_status st = softmax ? clgrad__softmax_fwd(x, 1, 1, &lp) : clgrad__contiguous(x, &lp);
    if (st == CLGRAD_OK) st = clgrad__contiguous(labels, &lab);
    if (st == CLGRAD_OK)
        st = nll_use_fused(ctx, red, N, eps) ? nll_fused(ctx, lp, lab, N, C, eps, red, &y, &cnt)
                                             : nll_two_pass(ctx, lp, lab, N, C, eps, red, &y, &cnt);
    if (st == CLGRAD_OK && clgrad__grad_needed(1, &x)) {
        clgrad_tensor *in[2] = {x, labels}, *saved[3] = {lab, softmax ? lp : NULL, cnt};
        nll_state s = {red, eps};
        st = clgrad__record(y, softmax ? &clgrad__op_cross_entropy : &clgrad__op_nll_loss, 2, in, &s, 3, saved);
    }
    clgrad_tensor_release(lp);
    clgrad_tensor_release(lab);
    clgrad_tensor_release(cnt);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

clgrad_status clgrad_cross_entropy(clgrad_tensor *logits, clgrad_tensor *labels, float label_smoothing,
                                   clgrad_reduction red, clgrad_tensor **out)
{
    return nll_common("clgrad_cross_entropy", logits, labels, label_smoothing, red, 1, out);
}

clgrad_status clgrad_nll_loss(clgrad_tensor *logp, clgrad_tensor *labels, clgrad_reduction red, clgrad_tensor **out)
{
    return nll_common("clgrad_nll_loss", logp, labels, 0.0f, red, 0, out);
}

/* --- MSE and BCE with logits ------------------------------------------------------------ */

/* MSE or BCE is the descriptor. */
typedef struct pointwise_state {
    clgrad_reduction red;
    double scale; /* 1/n for a mean, else 1 */
} pointwise_state;

static clgrad_status pointwise_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    const pointwise_state *s = CLGRAD__NODE_STATE(nd, pointwise_state);
    clgrad_tensor *x = nd->inputs[0], *t = nd->inputs[1], *xc = NULL, *tc = NULL, *g = NULL, *dx = NULL, *dt = NULL;
    clgrad_context *ctx = x->ctx;
    cl_long n = clgrad__numel(x->ndim, x->shape);
    cl_int per_elem = s->red == CLGRAD_REDUCTION_NONE, bce = nd->op == &clgrad__op_bce_with_logits;
    cl_float scale = (cl_float)s->scale;
    clgrad_status st = clgrad__contiguous(x, &xc);
    if (st == CLGRAD_OK) st = clgrad__contiguous(t, &tc);
    if (st == CLGRAD_OK) st = clgrad__contiguous(gy, &g);
    if (st == CLGRAD_OK && nd->needs_grad[0]) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &dx);
    if (st == CLGRAD_OK && nd->needs_grad[1]) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, t->ndim, t->shape, &dt);
    if (st == CLGRAD_OK && n > 0) {
        cl_mem dxm = dx ? dx->buf->mem : NULL, dtm = dt ? dt->buf->mem : NULL;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(dxm),      CLGRAD_KARG(dtm),   CLGRAD_KARG_T(xc), CLGRAD_KARG_T(tc),
                                      CLGRAD_KARG_T(g),      CLGRAD_KARG(per_elem), CLGRAD_KARG(scale), CLGRAD_KARG(n),
                                      CLGRAD_KARG(bce));
        st = clgrad__launch_1d(ctx, FAMILY, NULL, "pointwise_bwd_f32", (size_t)n, a);
    }
    clgrad_tensor_release(xc);
    clgrad_tensor_release(tc);
    clgrad_tensor_release(g);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(dx);
        clgrad_tensor_release(dt);
        return st;
    }
    gx[0] = dx;
    gx[1] = dt;
    return CLGRAD_OK;
}

CLGRAD__OP_DEFINE(mse_loss, "clgrad_mse_loss", pointwise_backward, pointwise_state);
CLGRAD__OP_DEFINE(bce_with_logits, "clgrad_bce_with_logits", pointwise_backward, pointwise_state);

static clgrad_status pointwise_common(const char *fn, clgrad_tensor *x, clgrad_tensor *t, clgrad_reduction red,
                                      int bce, clgrad_tensor **out)
{
    if (out) *out = NULL;
    CLGRAD_TRY(clgrad__check_tensor(NULL, fn, bce ? "logits" : "pred", x, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_tensor(x->ctx, fn, "target", t, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_same_ctx(fn, x, t));
    clgrad_context *ctx = x->ctx;
    if (!out) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    CLGRAD_TRY(check_red(ctx, fn, red));
    if (x->ndim != t->ndim || memcmp(x->shape, t->shape, sizeof(int64_t) * (size_t)x->ndim) != 0) {
        char a[256], b[256];
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: %s %s and target %s must have the same shape", fn,
                            bce ? "logits" : "pred", clgrad__shape_str(a, sizeof a, x->ndim, x->shape),
                            clgrad__shape_str(b, sizeof b, t->ndim, t->shape));
    }
    cl_long n = clgrad__numel(x->ndim, x->shape);
    clgrad_tensor *xc = NULL, *tc = NULL, *l = NULL, *y = NULL, *unused = NULL;
    clgrad_status st = clgrad__contiguous(x, &xc);
    if (st == CLGRAD_OK) st = clgrad__contiguous(t, &tc);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &l);
    if (st == CLGRAD_OK && n > 0) {
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(l->buf->mem), CLGRAD_KARG_T(xc), CLGRAD_KARG_T(tc), CLGRAD_KARG(n));
        st = clgrad__launch_1d(ctx, FAMILY, NULL, bce ? "bce_fwd_f32" : "mse_fwd_f32", (size_t)n, a);
    }
    if (st == CLGRAD_OK) st = finish(l, NULL, red, (double)n, &y, &unused);
    if (st == CLGRAD_OK) {
        clgrad_tensor *in[2] = {x, t};
        pointwise_state s = {red, red == CLGRAD_REDUCTION_MEAN ? 1.0 / (double)n : 1.0};
        st = clgrad__record(y, bce ? &clgrad__op_bce_with_logits : &clgrad__op_mse_loss, 2, in, &s, 0, NULL);
    }
    clgrad_tensor_release(xc);
    clgrad_tensor_release(tc);
    clgrad_tensor_release(l);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

clgrad_status clgrad_mse_loss(clgrad_tensor *pred, clgrad_tensor *target, clgrad_reduction red, clgrad_tensor **out)
{
    return pointwise_common("clgrad_mse_loss", pred, target, red, 0, out);
}

clgrad_status clgrad_bce_with_logits(clgrad_tensor *logits, clgrad_tensor *target, clgrad_reduction red,
                                     clgrad_tensor **out)
{
    return pointwise_common("clgrad_bce_with_logits", logits, target, red, 1, out);
}
