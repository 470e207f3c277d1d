/* Fused recurrent sequence ops (see rnn.h): LSTM (rnn_lstm.c), GRU and Elman RNN layers over
 * a whole sequence, each step one GEMM (src/ops/gemm.h) and one cell kernel (cl/rnn.cl). This
 * file also holds the input projection and the pieces every sequence op shares (rnn_impl.h).
 *
 * Buffers. y (T [+ 1], B, H) holds h_1..h_T (and c_T for the LSTM); it is the op's result,
 * and the node keeps a second handle on its buffer (the node must not hold its own output)
 * to read h_{t-1} in backward. The LSTM keeps its activated gates (T, B, 4H) and cell
 * states (T, B, H), the GRU its r, z, n and W_hn h + b_hn (T, B, 4H), the Elman RNN
 * nothing more than y. Forward writes the step's GEMM result h_{t-1} W_hh^T into the
 * gate buffer (LSTM) or a (B, G*H) scratch (GRU, RNN) and the cell kernel reads it with
 * the step's input projection.
 *
 * Backward walks the steps in reverse. Per step the cell-backward kernel turns dL/dh_t
 * (the output's gradient plus what came back through step t+1) into the pre-activation
 * gradients d_t of the step (and dL/dc_{t-1} for the LSTM), then one GEMM makes
 * dL/dh_{t-1} = d_t W_hh (the GRU adds its direct z * dL/dh_t term through beta = 1).
 * After the loop one GEMM over all steps gives dW_hh = sum_t d_t^T h_{t-1}, and d (all
 * steps) is the gradient of xp. Every result element is written by one work-item or one
 * GEMM entry in a fixed order: no atomics, the same bits on every run. */
#include "ops/rnn_impl.h"

#include "ops/gemm.h"
#include "ops/op_table.h"

#define FAMILY "rnn"

#include <limits.h>
#include <stdio.h>

/* Short names in this file for the shared types and the matrix constructor. */
typedef clgrad__rnn_mat mat;
typedef clgrad__rnn_seq_state seq_state;
static mat at(const clgrad_tensor *t, int64_t off) { return clgrad__rnn_at(t, off); }

/* C (m x n, ldc) = op(A) op(B) + beta C for one product. */
clgrad_status clgrad__rnn_mm(clgrad_context *ctx, int ta, int tb, int64_t m, int64_t n, int64_t k, float beta, mat a,
                             int64_t lda, mat b, int64_t ldb, mat c, int64_t ldc)
{
    clgrad__gemm_args g = {.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k, .batch = 1, .alpha = 1.0f,
                           .beta = beta, .a = a.m, .b = b.m, .c = c.m, .a_off = a.off, .lda = lda,
                           .b_off = b.off, .ldb = ldb, .c_off = c.off, .ldc = ldc};
    return clgrad__gemm(ctx, &g);
}

/* A cell kernel over (j < H, b < B), vw units j per work-item (options: its -D values). */
clgrad_status clgrad__rnn_cell_vw(clgrad_context *ctx, const char *kernel, const char *options, int64_t H, int vw,
                                  int64_t B, clgrad__kargs a)
{
    /* rows fold over dims 1 and 2 (rnn_row() in cl/rnn.cl) */
    size_t wg = clgrad__wg_1d(ctx), fold = clgrad__fold_limit(ctx), x = (size_t)(H / vw);
    size_t y = (size_t)B < fold ? (size_t)B : fold;
    size_t global[3] = {x, y, y ? ((size_t)B + y - 1) / y : 0};
    /* work-groups of about wg items, several rows when a row is short: CPU devices pay
     * for every work-group they schedule */
    size_t lx = x < wg ? x : wg, ly = wg / lx < y ? wg / lx : y;
    size_t local[3] = {lx, ly ? ly : 1, 1};
    return clgrad__launch(ctx, FAMILY, options, kernel, 3, global, local, a);
}

/* The vector width of the vectorised cell kernels for H units: the device's elementwise
 * width when it divides H, else 1 (the scalar kernels). */
int clgrad__rnn_cell_width(clgrad_context *ctx, int64_t H, char *opts, size_t cap)
{
    int vw = clgrad__ops_tuning(ctx)->vw;
    if (!(vw == 2 || vw == 4 || vw == 8 || vw == 16) || H % vw != 0) return 1;
    snprintf(opts, cap, "-DRNN_VW=%d", vw);
    return vw;
}

/* out (G) = the sum of the R rows of x (R, G), rows in order. */
static clgrad_status colsum(clgrad_context *ctx, mat out, mat x, int64_t G, int64_t R)
{
    return clgrad__sum_ordered(ctx, x.m, x.off, G, R, 1, G, out.m, out.off, 1);
}

void clgrad__rnn_release_n(clgrad_tensor **v, int n)
{
    for (int i = 0; i < n; i++) {
        clgrad_tensor_release(v[i]);
        v[i] = NULL;
    }
}

/* Moves t[i] to gx[slot[i]] where the node's input slot[i] needs a gradient; releases the
 * rest. */
static void hand_out(clgrad__node *nd, clgrad_tensor **t, const int *slot, int n, clgrad_tensor **gx)
{
    for (int i = 0; i < n; i++)
        if (slot[i] >= 0 && nd->needs_grad[slot[i]]) {
            gx[slot[i]] = t[i];
            t[i] = NULL;
        }
    clgrad__rnn_release_n(t, n);
}

/* --- validation ------------------------------------------------------------------------------- */

static int has_shape(const clgrad_tensor *t, int nd, int64_t d0, int64_t d1, int64_t d2)
{
    int64_t d[3] = {d0, d1, d2};
    if (t->ndim != nd) return 0;
    for (int i = 0; i < nd; i++)
        if (t->shape[i] != d[i]) return 0;
    return 1;
}

/* Checks xp (T, B, G*H), w (G*H, H), bias ((2,) G*H; two rows when bias2), state ((2,) B, H;
 * two when state2); sets dims T, B, H. */
clgrad_status clgrad__rnn_check(const char *fn, int gates, clgrad_tensor *xp, clgrad_tensor *w, clgrad_tensor *bias,
                                int bias2, clgrad_tensor *state, int state2, clgrad_tensor **out, int64_t dims[3])
{
    if (out) *out = NULL;
    if (!out) return clgrad__fail(xp ? xp->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    CLGRAD_TRY(clgrad__check_tensor(NULL, fn, "xp", xp, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_tensor(xp->ctx, fn, "w_hh", w, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_same_ctx(fn, xp, w));
    clgrad_tensor *opt[2] = {bias, state};
    const char *names[2] = {"bias", "state"};
    for (int i = 0; i < 2; i++)
        if (opt[i]) {
            CLGRAD_TRY(clgrad__check_tensor(xp->ctx, fn, names[i], opt[i], CLGRAD_DTYPE_F32));
            CLGRAD_TRY(clgrad__check_same_ctx(fn, xp, opt[i]));
        }
    int64_t H = w->ndim == 2 ? w->shape[1] : 0, GH = gates * H;
    int ok = w->ndim == 2 && H >= 1 && w->shape[0] == GH && xp->ndim == 3 && xp->shape[0] >= 1 && xp->shape[1] >= 1 &&
             xp->shape[2] == GH;
    int64_t B = ok ? xp->shape[1] : 0;
    if (ok && bias) ok = bias2 ? has_shape(bias, 2, 2, GH, 0) : has_shape(bias, 1, GH, 0, 0);
    if (ok && state) ok = state2 ? has_shape(state, 3, 2, B, H) : has_shape(state, 2, B, H, 0);
    if (!ok) {
        char a[128], b[128], c[128], d[128];
        return clgrad__fail(xp->ctx, CLGRAD_ERR_SHAPE,
                            "%s: xp %s, w_hh %s, bias %s, state %s; expected xp (T, B, %d*H) with T, B >= 1, "
                            "w_hh (%d*H, H) with H >= 1, bias (%s%d*H), state (%sB, H)",
                            fn, clgrad__shape_str(a, sizeof a, xp->ndim, xp->shape),
                            clgrad__shape_str(b, sizeof b, w->ndim, w->shape),
                            bias ? clgrad__shape_str(c, sizeof c, bias->ndim, bias->shape) : "none",
                            state ? clgrad__shape_str(d, sizeof d, state->ndim, state->shape) : "none", gates, gates,
                            bias2 ? "2, " : "", gates, state2 ? "2, " : "");
    }
    dims[0] = xp->shape[0];
    dims[1] = B;
    dims[2] = H;
    return CLGRAD_OK;
}

/* Contiguous copies (or new references) of the non-NULL tensors in v. */
clgrad_status clgrad__rnn_contig_all(clgrad_tensor **in, clgrad_tensor **out, int n)
{
    for (int i = 0; i < n; i++) out[i] = NULL;
    for (int i = 0; i < n; i++)
        if (in[i]) CLGRAD_TRY(clgrad__contiguous(in[i], &out[i]));
    return CLGRAD_OK;
}

/* Records a sequence op: a second handle on y's buffer (the node must not hold its own
 * output) in saved slot 0, then sv[0..n) in slots 1..n. */
clgrad_status clgrad__rnn_record_seq(clgrad_tensor *y, const clgrad__op *op, clgrad_tensor **in, clgrad_tensor **sv,
                                     int n, seq_state s)
{
    if (!clgrad__grad_needed(4, in)) return CLGRAD_OK;
    clgrad_tensor *saved[CLGRAD__NODE_MAX_SAVED] = {NULL};
    CLGRAD_TRY(clgrad__tensor_view(y, y->ndim, y->shape, y->strides, y->offset, &saved[0]));
    for (int i = 0; i < n; i++) saved[i + 1] = sv[i];
    clgrad_status st = clgrad__record(y, op, 4, in, &s, n + 1, saved);
    clgrad_tensor_release(saved[0]);
    return st;
}

/* --- shared backward pieces --------------------------------------------------------------------- */

/* dW_hh (GH, H) = sum_t d_t^T h_{t-1}, with d (T, B, GH), y's rows 0..T-2 as h_1..h_{T-1}
 * and h0 (B, H at h0.off) or none (zeros) as h_0. */
static clgrad_status grad_w(clgrad_context *ctx, int64_t T, int64_t B, int64_t H, int64_t GH, clgrad_tensor *d,
                            clgrad_tensor *y, const mat *h0, clgrad_tensor **out)
{
    int64_t shape[2] = {GH, H};
    clgrad_tensor *dw = NULL;
    CLGRAD_TRY(clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 2, shape, &dw));
    clgrad_status st = CLGRAD_OK;
    if (T > 1) st = clgrad__rnn_mm(ctx, 1, 0, GH, H, (T - 1) * B, 0.0f, at(d, B * GH), GH, at(y, 0), H, at(dw, 0), H);
    if (st == CLGRAD_OK && h0)
        st = clgrad__rnn_mm(ctx, 1, 0, GH, H, B, T > 1 ? 1.0f : 0.0f, at(d, 0), GH, *h0, H, at(dw, 0), H);
    if (st == CLGRAD_OK && T == 1 && !h0) st = clgrad__fill(dw, 0.0);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(dw);
        return st;
    }
    *out = dw;
    return CLGRAD_OK;
}

/* The end of the LSTM and RNN backward passes: the bias gradient (column sums of the gate
 * gradients dg, (T, B, GH)) into t[2], dW_hh into t[3], then t handed out to gx in the
 * node's input order. Releases t on failure. */
clgrad_status clgrad__rnn_finish_backward(clgrad_context *ctx, clgrad__node *nd, clgrad_status st, int64_t T,
                                          int64_t B, int64_t H, int64_t GH, clgrad_tensor *dg, clgrad_tensor *y,
                                          const mat *h0, clgrad_tensor **t, clgrad_tensor **gx)
{
    if (st == CLGRAD_OK && nd->needs_grad[2]) {
        st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 1, &GH, &t[2]);
        if (st == CLGRAD_OK) st = colsum(ctx, at(t[2], 0), at(dg, 0), GH, T * B);
    }
    if (st == CLGRAD_OK && nd->needs_grad[1]) st = grad_w(ctx, T, B, H, GH, dg, y, h0, &t[3]);
    if (st != CLGRAD_OK) {
        clgrad__rnn_release_n(t, 4);
        return st;
    }
    static const int slot[4] = {0, 3, 2, 1};
    hand_out(nd, t, slot, 4, gx);
    return CLGRAD_OK;
}

mat clgrad__rnn_h_prev(clgrad_tensor *y, const mat *h0, int64_t t, int64_t BH, cl_int *has)
{
    *has = t > 0 || h0;
    if (t > 0) return at(y, (t - 1) * BH);
    return h0 ? *h0 : at(y, 0);
}

/* --- the input projection ------------------------------------------------------------------------ */

/* saved: 0 x as contiguous (T, B, I), 1 w (contiguous). inputs: x, w. */
typedef struct proj_state {
    int64_t T, B, I, G;
} proj_state;

static clgrad_status proj_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_context *ctx = gy->ctx;
    const proj_state *s = CLGRAD__NODE_STATE(nd, proj_state);
    int64_t T = s->T, B = s->B, I = s->I, G = s->G, R = T * B;
    clgrad_tensor *xc = nd->saved[0], *w = nd->saved[1];
    int64_t xshape[3] = {T, B, I}, wshape[2] = {G, I};
    clgrad_tensor *t[2] = {0}; /* dx, dw */
    clgrad_status st = CLGRAD_OK;
    if (nd->needs_grad[0]) {
        st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 3, xshape, &t[0]);
        if (st == CLGRAD_OK) st = clgrad__rnn_mm(ctx, 0, 0, R, I, G, 0.0f, at(gy, 0), G, at(w, 0), I, at(t[0], 0), I);
    }
    if (st == CLGRAD_OK && nd->needs_grad[1]) {
        st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 2, wshape, &t[1]);
        if (st == CLGRAD_OK) st = clgrad__rnn_mm(ctx, 1, 0, G, I, R, 0.0f, at(gy, 0), G, at(xc, 0), I, at(t[1], 0), I);
    }
    if (st != CLGRAD_OK) {
        clgrad__rnn_release_n(t, 2);
        return st;
    }
    gx[0] = t[0];
    gx[1] = t[1];
    return CLGRAD_OK;
}

CLGRAD__OP_DEFINE(rnn_proj, "clgrad__rnn_proj", proj_backward, proj_state);

clgrad_status clgrad__rnn_proj(clgrad_tensor *x, clgrad_tensor *w_in, clgrad_tensor **out)
{
    static const char fn[] = "rnn_proj";
    if (out) *out = NULL;
    if (!out) return clgrad__fail(x ? x->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    CLGRAD_TRY(clgrad__check_tensor(NULL, fn, "x", x, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_tensor(x->ctx, fn, "w_ih", w_in, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_same_ctx(fn, x, w_in));
    clgrad_context *ctx = x->ctx;
    if (!(x->ndim == 3 && w_in->ndim == 2 && x->shape[0] >= 1 && x->shape[1] >= 1 && x->shape[2] >= 1 &&
          w_in->shape[1] == x->shape[2] && w_in->shape[0] >= 1)) {
        char a[128], b[128];
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE,
                            "%s: x %s, w_ih %s; expected x (T, B, I) with T, B, I >= 1 and w_ih (G, I)", fn,
                            clgrad__shape_str(a, sizeof a, x->ndim, x->shape),
                            clgrad__shape_str(b, sizeof b, w_in->ndim, w_in->shape));
    }
    int64_t T = x->shape[0], B = x->shape[1], I = x->shape[2], G = w_in->shape[0];
    int64_t xshape[3] = {T, B, I}, yshape[3] = {T, B, G};
    clgrad_tensor *in[2] = {x, w_in}, *k[3] = {0}; /* x contiguous, w contiguous, xp */
    clgrad_status st = CLGRAD_OK;
    if (clgrad__is_contiguous(x)) {
        k[0] = clgrad_tensor_retain(x);
    } else {
        /* e.g. a batch-first input seen as (T, B, I): gathered by a kernel that does not
         * divide indices */
        st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 3, xshape, &k[0]);
        if (st == CLGRAD_OK) {
            mat d = at(k[0], 0), s = at(x, 0);
            cl_long st_ = x->strides[0], sb = x->strides[1], si = x->strides[2], Il = I, dts = B * I;
            /* blocks of at most 32768 (the fold limit) steps and rows keep dims 1 and 2 under
             * GPU grid limits */
            const int64_t fold = (int64_t)clgrad__fold_limit(ctx);
            for (int64_t t0 = 0; st == CLGRAD_OK && t0 < T; t0 += fold)
                for (int64_t b0 = 0; st == CLGRAD_OK && b0 < B; b0 += fold) {
                    cl_long Tl = T - t0 < fold ? T - t0 : fold, Bl = B - b0 < fold ? B - b0 : fold;
                    cl_long doff = d.off + (t0 * B + b0) * I, soff = s.off + t0 * st_ + b0 * sb;
                    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(d.m), CLGRAD_KARG(doff), CLGRAD_KARG(s.m),
                                                  CLGRAD_KARG(soff), CLGRAD_KARG(st_), CLGRAD_KARG(sb), CLGRAD_KARG(si),
                                                  CLGRAD_KARG(Tl), CLGRAD_KARG(Bl), CLGRAD_KARG(Il), CLGRAD_KARG(dts));
                    size_t wg = clgrad__wg_1d(ctx), global[3] = {(size_t)I, (size_t)Bl, (size_t)Tl};
                    size_t local[3] = {(size_t)I < wg ? (size_t)I : wg, 1, 1};
                    st = clgrad__launch(ctx, FAMILY, NULL, "rnn_gather_f32", 3, global, local, a);
                }
        }
    }
    if (st == CLGRAD_OK) st = clgrad__contiguous(w_in, &k[1]);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 3, yshape, &k[2]);
    clgrad_tensor *xc = k[0], *w = k[1], *y = k[2];
    if (st == CLGRAD_OK) st = clgrad__rnn_mm(ctx, 0, 1, T * B, G, I, 0.0f, at(xc, 0), I, at(w, 0), I, at(y, 0), G);
    if (st == CLGRAD_OK) {
        proj_state s = {T, B, I, G};
        st = clgrad__record(y, &clgrad__op_rnn_proj, 2, in, &s, 2, k);
    }
    if (st == CLGRAD_OK) {
        *out = y;
        k[2] = NULL;
    }
    clgrad__rnn_release_n(k, 3);
    return st;
}

/* --- GRU --------------------------------------------------------------------------------------------- */

/* inputs: xp, w_hh, bias (2, 3H), h0. saved: 0 y, 1 s (r, z, n, hp_n), 2 w_hh, 3 h0
 * (contiguous or NULL). */
static clgrad_status gru_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_context *ctx = gy->ctx;
    const seq_state *s = CLGRAD__NODE_STATE(nd, seq_state);
    int64_t T = s->T, B = s->B, H = s->H, BH = B * H, GH = 3 * H;
    clgrad_tensor *y = nd->saved[0], *ss = nd->saved[1], *w = nd->saved[2], *h0t = nd->saved[3];
    mat h0 = h0t ? at(h0t, 0) : at(y, 0);
    int64_t gshape[3] = {T, B, GH}, sshape[2] = {B, H}, bshape[2] = {2, GH};
    clgrad_tensor *t[5] = {0}; /* dx, dh, db, dw, dhp */
    clgrad_status st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 3, gshape, &t[0]);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 2, sshape, &t[1]);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 3, gshape, &t[4]);
    clgrad_tensor *dx = t[0], *dh = t[1], *dhp = t[4];
    for (int64_t s = T - 1; s >= 0 && st == CLGRAD_OK; s--) {
        cl_int has_dh = s < T - 1, has_h;
        mat gyr = at(gy, s * BH), dhm = at(dh, 0), sm = at(ss, s * B * 4 * H);
        mat hp = clgrad__rnn_h_prev(y, h0t ? &h0 : NULL, s, BH, &has_h);
        mat dxm = at(dx, s * B * GH), dpm = at(dhp, s * B * GH);
        cl_long Hl = H, Bl = B;
        clgrad__kargs a =
            CLGRAD_ARGS(CLGRAD_KARG(gyr.m), CLGRAD_KARG(gyr.off), CLGRAD_KARG(dhm.m), CLGRAD_KARG(dhm.off),
                        CLGRAD_KARG(has_dh), CLGRAD_KARG(sm.m), CLGRAD_KARG(sm.off), CLGRAD_KARG(hp.m),
                        CLGRAD_KARG(hp.off), CLGRAD_KARG(has_h), CLGRAD_KARG(dxm.m), CLGRAD_KARG(dxm.off),
                        CLGRAD_KARG(dpm.m), CLGRAD_KARG(dpm.off), CLGRAD_KARG(Hl), CLGRAD_KARG(Bl));
        st = clgrad__rnn_cell(ctx, "gru_bwd_f32", H, B, a);
        if (st == CLGRAD_OK && (s > 0 || nd->needs_grad[3]))
            st = clgrad__rnn_mm(ctx, 0, 0, B, H, GH, 1.0f, dpm, GH, at(w, 0), H, dhm, H);
    }
    if (st == CLGRAD_OK && nd->needs_grad[2]) {
        st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 2, bshape, &t[2]);
        if (st == CLGRAD_OK) st = colsum(ctx, at(t[2], 0), at(dx, 0), GH, T * B);
        if (st == CLGRAD_OK) st = colsum(ctx, at(t[2], GH), at(dhp, 0), GH, T * B);
    }
    if (st == CLGRAD_OK && nd->needs_grad[1]) st = grad_w(ctx, T, B, H, GH, dhp, y, h0t ? &h0 : NULL, &t[3]);
    if (st != CLGRAD_OK) {
        clgrad__rnn_release_n(t, 5);
        return st;
    }
    static const int slot[5] = {0, 3, 2, 1, -1};
    hand_out(nd, t, slot, 5, gx);
    return CLGRAD_OK;
}

CLGRAD__OP_DEFINE(gru_seq, "clgrad__gru_seq", gru_backward, seq_state);

clgrad_status clgrad__gru_seq(clgrad_tensor *xp_in, clgrad_tensor *w_in, clgrad_tensor *bias_in,
                              clgrad_tensor *h0_in, clgrad_tensor **out)
{
    static const char fn[] = "gru_seq";
    int64_t d[3];
    CLGRAD_TRY(clgrad__rnn_check(fn, 3, xp_in, w_in, bias_in, 1, h0_in, 0, out, d));
    clgrad_context *ctx = xp_in->ctx;
    int64_t T = d[0], B = d[1], H = d[2], BH = B * H, GH = 3 * H;
    clgrad_tensor *in[4] = {xp_in, w_in, bias_in, h0_in}, *c[4], *k[3] = {0}; /* k: y, s, scratch */
    int64_t yshape[3] = {T, B, H}, sshape[3] = {T, B, 4 * H}, pshape[2] = {B, GH};
    clgrad_status st = clgrad__rnn_contig_all(in, c, 4);
    clgrad_tensor *xp = c[0], *w = c[1], *bias = c[2], *h0t = c[3];
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 3, yshape, &k[0]);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 3, sshape, &k[1]);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 2, pshape, &k[2]);
    clgrad_tensor *y = k[0], *ss = k[1], *hpr = k[2];
    mat h0 = h0t ? at(h0t, 0) : at(xp, 0), bm = bias ? at(bias, 0) : at(xp, 0);
    cl_int has_bias = bias != NULL;
    for (int64_t s = 0; s < T && st == CLGRAD_OK; s++) {
        cl_int has_rec;
        mat hp = clgrad__rnn_h_prev(y, h0t ? &h0 : NULL, s, BH, &has_rec), pm = at(hpr, 0);
        mat xm = at(xp, s * B * GH), sm = at(ss, s * B * 4 * H), ym = at(y, s * BH);
        if (has_rec) st = clgrad__rnn_mm(ctx, 0, 1, B, GH, H, 0.0f, hp, H, at(w, 0), H, pm, GH);
        if (st != CLGRAD_OK) break;
        cl_long Hl = H, Bl = B;
        clgrad__kargs a =
            CLGRAD_ARGS(CLGRAD_KARG(pm.m), CLGRAD_KARG(pm.off), CLGRAD_KARG(has_rec), CLGRAD_KARG(bm.m),
                        CLGRAD_KARG(bm.off), CLGRAD_KARG(has_bias), CLGRAD_KARG(xm.m), CLGRAD_KARG(xm.off),
                        CLGRAD_KARG(hp.m), CLGRAD_KARG(hp.off), CLGRAD_KARG(has_rec), CLGRAD_KARG(sm.m),
                        CLGRAD_KARG(sm.off), CLGRAD_KARG(ym.m), CLGRAD_KARG(ym.off), CLGRAD_KARG(Hl), CLGRAD_KARG(Bl));
        st = clgrad__rnn_cell(ctx, "gru_fwd_f32", H, B, a);
    }
    clgrad_tensor *sv[3] = {ss, w, h0t};
    if (st == CLGRAD_OK) st = clgrad__rnn_record_seq(y, &clgrad__op_gru_seq, in, sv, 3, (seq_state){T, B, H, 0});
    if (st == CLGRAD_OK) {
        *out = y;
        k[0] = NULL;
    }
    clgrad__rnn_release_n(k, 3);
    clgrad__rnn_release_n(c, 4);
    return st;
}

/* --- Elman RNN ------------------------------------------------------------------------------------------ */

/* inputs: xp, w_hh, bias, h0. saved: 0 y, 1 w_hh, 2 h0 (contiguous or NULL). i[3]: relu. */
static clgrad_status rnn_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_context *ctx = gy->ctx;
    const seq_state *s = CLGRAD__NODE_STATE(nd, seq_state);
    int64_t T = s->T, B = s->B, H = s->H, BH = B * H;
    cl_int relu = s->relu;
    clgrad_tensor *y = nd->saved[0], *w = nd->saved[1], *h0t = nd->saved[2];
    mat h0 = h0t ? at(h0t, 0) : at(y, 0);
    int64_t gshape[3] = {T, B, H}, sshape[2] = {B, H};
    clgrad_tensor *t[4] = {0}; /* dg, dh, db, dw */
    clgrad_status st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 3, gshape, &t[0]);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 2, sshape, &t[1]);
    clgrad_tensor *dg = t[0], *dh = t[1];
    for (int64_t s = T - 1; s >= 0 && st == CLGRAD_OK; s--) {
        cl_int has_dh = s < T - 1;
        mat gyr = at(gy, s * BH), dhm = at(dh, 0), ym = at(y, s * BH), dgm = at(dg, s * BH);
        cl_long Hl = H, Bl = B;
        clgrad__kargs a =
            CLGRAD_ARGS(CLGRAD_KARG(gyr.m), CLGRAD_KARG(gyr.off), CLGRAD_KARG(dhm.m), CLGRAD_KARG(dhm.off),
                        CLGRAD_KARG(has_dh), CLGRAD_KARG(ym.m), CLGRAD_KARG(ym.off), CLGRAD_KARG(dgm.m),
                        CLGRAD_KARG(dgm.off), CLGRAD_KARG(relu), CLGRAD_KARG(Hl), CLGRAD_KARG(Bl));
        st = clgrad__rnn_cell(ctx, "rnn_bwd_f32", H, B, a);
        if (st == CLGRAD_OK && (s > 0 || nd->needs_grad[3]))
            st = clgrad__rnn_mm(ctx, 0, 0, B, H, H, 0.0f, dgm, H, at(w, 0), H, dhm, H);
    }
    return clgrad__rnn_finish_backward(ctx, nd, st, T, B, H, H, dg, y, h0t ? &h0 : NULL, t, gx);
}

CLGRAD__OP_DEFINE(rnn_seq, "clgrad__rnn_seq", rnn_backward, seq_state);

clgrad_status clgrad__rnn_seq(clgrad_tensor *xp_in, clgrad_tensor *w_in, clgrad_tensor *bias_in,
                              clgrad_tensor *h0_in, int relu, clgrad_tensor **out)
{
    static const char fn[] = "rnn_seq";
    int64_t d[3];
    CLGRAD_TRY(clgrad__rnn_check(fn, 1, xp_in, w_in, bias_in, 0, h0_in, 0, out, d));
    clgrad_context *ctx = xp_in->ctx;
    int64_t T = d[0], B = d[1], H = d[2], BH = B * H;
    clgrad_tensor *in[4] = {xp_in, w_in, bias_in, h0_in}, *c[4], *k[2] = {0}; /* k: y, scratch */
    int64_t yshape[3] = {T, B, H}, pshape[2] = {B, H};
    clgrad_status st = clgrad__rnn_contig_all(in, c, 4);
    clgrad_tensor *xp = c[0], *w = c[1], *bias = c[2], *h0t = c[3];
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 3, yshape, &k[0]);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 2, pshape, &k[1]);
    clgrad_tensor *y = k[0], *pr = k[1];
    mat h0 = h0t ? at(h0t, 0) : at(xp, 0), bm = bias ? at(bias, 0) : at(xp, 0);
    cl_int act = relu ? 1 : 0, has_bias = bias != NULL;
    for (int64_t s = 0; s < T && st == CLGRAD_OK; s++) {
        cl_int has_rec;
        mat hp = clgrad__rnn_h_prev(y, h0t ? &h0 : NULL, s, BH, &has_rec);
        mat pm = at(pr, 0), xm = at(xp, s * BH), ym = at(y, s * BH);
        if (has_rec) st = clgrad__rnn_mm(ctx, 0, 1, B, H, H, 0.0f, hp, H, at(w, 0), H, pm, H);
        if (st != CLGRAD_OK) break;
        cl_long Hl = H, Bl = B;
        clgrad__kargs a =
            CLGRAD_ARGS(CLGRAD_KARG(pm.m), CLGRAD_KARG(pm.off), CLGRAD_KARG(has_rec), CLGRAD_KARG(xm.m),
                        CLGRAD_KARG(xm.off), CLGRAD_KARG(bm.m), CLGRAD_KARG(bm.off), CLGRAD_KARG(has_bias),
                        CLGRAD_KARG(ym.m), CLGRAD_KARG(ym.off), CLGRAD_KARG(act), CLGRAD_KARG(Hl), CLGRAD_KARG(Bl));
        st = clgrad__rnn_cell(ctx, "rnn_fwd_f32", H, B, a);
    }
    clgrad_tensor *sv[2] = {w, h0t};
    if (st == CLGRAD_OK) st = clgrad__rnn_record_seq(y, &clgrad__op_rnn_seq, in, sv, 2, (seq_state){T, B, H, act});
    if (st == CLGRAD_OK) {
        *out = y;
        k[0] = NULL;
    }
    clgrad__rnn_release_n(k, 2);
    clgrad__rnn_release_n(c, 4);
    return st;
}
