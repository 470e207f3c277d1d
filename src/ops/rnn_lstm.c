/* The fused LSTM sequence op (see rnn.h and rnn.c): per step one GEMM and one cell kernel,
 * or, on the CPU variant of the GEMM, one launch of both with W_hh packed once for the whole
 * sequence (cl/matmul.cl), or one launch for the whole sequence, a work-item per panel of
 * batch rows, when that pays (clgrad__gemm_cpu_whole_sequence); backward in reverse, the
 * same ways. */
#include "ops/rnn_impl.h"

#include "ops/gemm.h"
#include "ops/op_table.h"

#include <limits.h>

/* Short names in this file for the shared types and the matrix constructor. */
typedef clgrad__rnn_mat mat;
typedef clgrad__rnn_seq_state seq_state;
static mat at(const clgrad_tensor *t, int64_t off) { return clgrad__rnn_at(t, off); }

/* Panels of gp->mr batch rows: the work-items of the whole-sequence launches. */
static size_t row_panels(const clgrad__gemm_cpu_params *gp, int64_t B) { return (size_t)((B + gp->mr - 1) / gp->mr); }

/* Whether the sequence runs as one launch each way (T steps of B rows, H units): the product
 * of a step, forward (B, H) x (H, 4H) or backward (B, 4H) x (4H, H), is 8 B H^2 flops. */
static int whole_sequence(const clgrad_context *ctx, const clgrad__gemm_cpu_params *gp, int64_t T, int64_t B,
                          int64_t H)
{
    double step_flops = 8.0 * (double)B * (double)H * (double)H;
    return T <= INT_MAX && clgrad__gemm_cpu_whole_sequence(ctx, row_panels(gp, B), step_flops);
}

/* The whole backward sequence in one launch of the CPU variant
 * (matmul_lstm_seq_bwd_cpu_f32): a work-item per panel of gp->mr batch rows, steps T-1 .. 0;
 * dhc ends with dL/dh_0 (when dh0) and dL/dc_0. */
static clgrad_status lstm_backward_whole(clgrad_context *ctx, const char *mmopts, const clgrad__gemm_cpu_params *gp,
                                         const seq_state *s, clgrad_tensor *gy, clgrad_tensor *dhc, clgrad_tensor *gs,
                                         clgrad_tensor *cs, const mat *c0, clgrad_tensor *dg, cl_int dh0,
                                         const clgrad__buffer *wp)
{
    cl_int Bi = (cl_int)s->B, Hi = (cl_int)s->H, Ti = (cl_int)s->T, kb = 4 * Hi < 256 ? 4 * Hi : 256;
    cl_int has_c0 = c0 != NULL;
    mat gym = at(gy, 0), dm = at(dhc, 0), gsm = at(gs, 0), cm = at(cs, 0), c0m = c0 ? *c0 : cm, dgm = at(dg, 0);
    size_t global[1] = {row_panels(gp, s->B)}, one1[1] = {1};
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(Bi), CLGRAD_KARG(Hi), CLGRAD_KARG(Ti), CLGRAD_KARG(kb),
                                  CLGRAD_KARG(gym.m), CLGRAD_KARG(gym.off), CLGRAD_KARG(dm.m), CLGRAD_KARG(dm.off),
                                  CLGRAD_KARG(gsm.m), CLGRAD_KARG(gsm.off), CLGRAD_KARG(cm.m), CLGRAD_KARG(cm.off),
                                  CLGRAD_KARG(has_c0), CLGRAD_KARG(c0m.m), CLGRAD_KARG(c0m.off), CLGRAD_KARG(dgm.m),
                                  CLGRAD_KARG(dgm.off), CLGRAD_KARG(dh0), CLGRAD_KARG(wp->mem));
    return clgrad__launch(ctx, "matmul", mmopts, "matmul_lstm_seq_bwd_cpu_f32", 1, global, one1, a);
}

/* inputs: xp, w_hh, bias, hc0. saved: 0 y, 1 gates, 2 c, 3 w_hh, 4 hc0 (contiguous or NULL).
 * Per step the cell's backward, then dL/dh_{t-1} = d_t W_hh; on the CPU variant of the GEMM
 * W_hh is packed once for the whole sequence and each step is one launch of both, or the
 * whole sequence one launch (clgrad__gemm_cpu_whole_sequence). */
static clgrad_status lstm_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_context *ctx = gy->ctx;
    const seq_state *s = CLGRAD__NODE_STATE(nd, seq_state);
    int64_t T = s->T, B = s->B, H = s->H, BH = B * H, GH = 4 * H;
    clgrad_tensor *y = nd->saved[0], *gs = nd->saved[1], *cs = nd->saved[2], *w = nd->saved[3], *hc0 = nd->saved[4];
    mat h0 = hc0 ? at(hc0, 0) : at(y, 0), c0 = hc0 ? at(hc0, BH) : at(y, 0);
    int64_t gshape[3] = {T, B, GH}, sshape[3] = {2, B, H};
    clgrad_tensor *t[4] = {0}; /* dg, dhc (rows dh, dc), db, dw */
    char vopts[32];
    int vw = clgrad__rnn_cell_width(ctx, H, vopts, sizeof vopts), cpu = 0;
    clgrad__gemm_cpu_params gp = {.mr = 1, .vw = 1, .nv = 1, .pack_k = 1}; /* set by the plan when the CPU variant runs */
    const char *mmopts = NULL;
    clgrad__buffer *wp = NULL; /* W_hh packed for the CPU variant */
    clgrad_status st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 3, gshape, &t[0]);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 3, sshape, &t[1]);
    if (st == CLGRAD_OK) st = clgrad__gemm_cpu_plan(ctx, &cpu, &gp, &mmopts);
    if (st == CLGRAD_OK && cpu && B <= INT_MAX && H <= INT_MAX / 4) {
        mat wm = at(w, 0);
        st = clgrad__gemm_pack_gates(ctx, 0, GH, H, 1, wm.m, wm.off, H, &wp);
    }
    clgrad_tensor *dg = t[0], *dhc = t[1];
    int whole = wp && whole_sequence(ctx, &gp, T, B, H);
    if (whole)
        st = lstm_backward_whole(ctx, mmopts, &gp, s, gy, dhc, gs, cs, hc0 ? &c0 : NULL, dg, nd->needs_grad[3], wp);
    for (int64_t s = T - 1; s >= 0 && st == CLGRAD_OK && !whole; s--) {
        cl_int has_dh = s < T - 1, has_c = s > 0 || hc0;
        mat gyr = at(gy, s * BH), dhm = at(dhc, 0), dcm = at(dhc, BH), dcin = s == T - 1 ? at(gy, T * BH) : dcm;
        mat gsm = at(gs, s * B * GH), cm = at(cs, s * BH), dgm = at(dg, s * B * GH);
        mat cp = s > 0 ? at(cs, (s - 1) * BH) : hc0 ? c0 : cm;
        cl_long Hl = H, Bl = B;
        cl_int do_gemm = s > 0 || nd->needs_grad[3];
        if (wp) {
            /* the CPU variant: the cell's backward and dL/dh_{t-1} = d_t W_hh in one launch */
            cl_int Bi = (cl_int)B, Hi = (cl_int)H, kb = 4 * Hi < 256 ? 4 * Hi : 256;
            size_t global[1] = {row_panels(&gp, B)}, one1[1] = {1};
            clgrad__kargs a = CLGRAD_ARGS(
                CLGRAD_KARG(Bi), CLGRAD_KARG(Hi), CLGRAD_KARG(kb), CLGRAD_KARG(gyr.m), CLGRAD_KARG(gyr.off),
                CLGRAD_KARG(dhm.m), CLGRAD_KARG(dhm.off), CLGRAD_KARG(has_dh), CLGRAD_KARG(dcin.m),
                CLGRAD_KARG(dcin.off), CLGRAD_KARG(gsm.m), CLGRAD_KARG(gsm.off), CLGRAD_KARG(cm.m), CLGRAD_KARG(cm.off),
                CLGRAD_KARG(cp.m), CLGRAD_KARG(cp.off), CLGRAD_KARG(has_c), CLGRAD_KARG(dgm.m), CLGRAD_KARG(dgm.off),
                CLGRAD_KARG(dcm.m), CLGRAD_KARG(dcm.off), CLGRAD_KARG(do_gemm), CLGRAD_KARG(wp->mem),
                CLGRAD_KARG(dhm.m), CLGRAD_KARG(dhm.off));
            st = clgrad__launch(ctx, "matmul", mmopts, "matmul_lstm_bwd_cpu_f32", 1, global, one1, a);
            continue;
        }
        clgrad__kargs a = CLGRAD_ARGS(
            CLGRAD_KARG(gyr.m), CLGRAD_KARG(gyr.off), CLGRAD_KARG(dhm.m), CLGRAD_KARG(dhm.off), CLGRAD_KARG(has_dh),
            CLGRAD_KARG(dcin.m), CLGRAD_KARG(dcin.off), CLGRAD_KARG(gsm.m), CLGRAD_KARG(gsm.off), CLGRAD_KARG(cm.m),
            CLGRAD_KARG(cm.off), CLGRAD_KARG(cp.m), CLGRAD_KARG(cp.off), CLGRAD_KARG(has_c), CLGRAD_KARG(dgm.m),
            CLGRAD_KARG(dgm.off), CLGRAD_KARG(dcm.m), CLGRAD_KARG(dcm.off), CLGRAD_KARG(Hl), CLGRAD_KARG(Bl));
        st = vw > 1 ? clgrad__rnn_cell_vw(ctx, "lstm_bwd_vec_f32", vopts, H, vw, B, a)
                    : clgrad__rnn_cell(ctx, "lstm_bwd_f32", H, B, a);
        if (st == CLGRAD_OK && do_gemm) st = clgrad__rnn_mm(ctx, 0, 0, B, H, GH, 0.0f, dgm, GH, at(w, 0), H, dhm, H);
    }
    if (wp) clgrad__buffer_release(wp); /* in-order queue: released after its last use */
    return clgrad__rnn_finish_backward(ctx, nd, st, T, B, H, GH, dg, y, hc0 ? &h0 : NULL, t, gx);
}

CLGRAD__OP_DEFINE(lstm_seq, "clgrad__lstm_seq", lstm_backward, seq_state);

/* The whole forward sequence in one launch of the CPU variant (matmul_lstm_seq_cpu_f32): a
 * work-item per panel of gp->mr batch rows, through every step. */
static clgrad_status lstm_forward_whole(clgrad_context *ctx, const char *mmopts, const clgrad__gemm_cpu_params *gp,
                                        int64_t T, int64_t B, int64_t H, clgrad_tensor *hc0, const clgrad__buffer *wp,
                                        clgrad_tensor *gs, clgrad_tensor *xp, mat bm, cl_int has_bias,
                                        clgrad_tensor *cs, clgrad_tensor *y)
{
    cl_int Bi = (cl_int)B, Hi = (cl_int)H, Ti = (cl_int)T, kb = Hi < 256 ? Hi : 256, has_hc0 = hc0 != NULL;
    mat hc = hc0 ? at(hc0, 0) : at(xp, 0), gm = at(gs, 0), xm = at(xp, 0), cm = at(cs, 0), ym = at(y, 0);
    size_t global[1] = {row_panels(gp, B)}, one1[1] = {1};
    clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(Bi), CLGRAD_KARG(Hi), CLGRAD_KARG(Ti), CLGRAD_KARG(kb),
                                  CLGRAD_KARG(has_hc0), CLGRAD_KARG(hc.m), CLGRAD_KARG(hc.off), CLGRAD_KARG(wp->mem),
                                  CLGRAD_KARG(gm.m), CLGRAD_KARG(gm.off), CLGRAD_KARG(xm.m), CLGRAD_KARG(xm.off),
                                  CLGRAD_KARG(bm.m), CLGRAD_KARG(bm.off), CLGRAD_KARG(has_bias), CLGRAD_KARG(cm.m),
                                  CLGRAD_KARG(cm.off), CLGRAD_KARG(ym.m), CLGRAD_KARG(ym.off));
    return clgrad__launch(ctx, "matmul", mmopts, "matmul_lstm_seq_cpu_f32", 1, global, one1, a);
}

clgrad_status clgrad__lstm_seq(clgrad_tensor *xp_in, clgrad_tensor *w_in, clgrad_tensor *bias_in,
                               clgrad_tensor *hc0_in, clgrad_tensor **out)
{
    static const char fn[] = "lstm_seq";
    int64_t d[3];
    CLGRAD_TRY(clgrad__rnn_check(fn, 4, xp_in, w_in, bias_in, 0, hc0_in, 1, out, d));
    clgrad_context *ctx = xp_in->ctx;
    int64_t T = d[0], B = d[1], H = d[2], BH = B * H, GH = 4 * H;
    clgrad_tensor *in[4] = {xp_in, w_in, bias_in, hc0_in}, *c[4], *k[3] = {0}; /* k: y, gates, cells */
    int64_t yshape[3] = {T + 1, B, H}, gshape[3] = {T, B, GH}, cshape[3] = {T, B, H};
    clgrad_status st = clgrad__rnn_contig_all(in, c, 4);
    clgrad_tensor *xp = c[0], *w = c[1], *bias = c[2], *hc0 = c[3];
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 3, yshape, &k[0]);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 3, gshape, &k[1]);
    if (st == CLGRAD_OK) st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, 3, cshape, &k[2]);
    clgrad_tensor *y = k[0], *gs = k[1], *cs = k[2];
    mat h0 = hc0 ? at(hc0, 0) : at(xp, 0), c0 = hc0 ? at(hc0, BH) : at(xp, 0);
    mat bm = bias ? at(bias, 0) : at(xp, 0);
    cl_int has_bias = bias != NULL;
    /* On the CPU variant of the GEMM each step is one launch: W_hh^T packed once with its
     * gate columns interleaved, the product and the cell on the micro-tile (cl/matmul.cl);
     * elsewhere a GEMM and the cell kernel. */
    int cpu = 0;
    clgrad__gemm_cpu_params gp = {.mr = 1, .vw = 1, .nv = 1, .pack_k = 1}; /* set by the plan when the CPU variant runs */
    const char *mmopts = NULL;
    clgrad__buffer *wp = NULL;
    if (st == CLGRAD_OK) st = clgrad__gemm_cpu_plan(ctx, &cpu, &gp, &mmopts);
    if (st == CLGRAD_OK && cpu && (gp.nv * gp.vw) % 4 == 0 && H <= INT_MAX / 4 && B <= INT_MAX) {
        mat wm = at(w, 0);
        st = clgrad__gemm_pack_gates(ctx, 1, H, H, 4, wm.m, wm.off, H, &wp);
    }
    int tm = 1, tn = 1, nr = gp.nv * gp.vw, whole = 0;
    if (wp) {
        size_t pm = row_panels(&gp, B), pn = (size_t)((H + nr / 4 - 1) / (nr / 4));
        clgrad__gemm_cpu_tiles(ctx, pm, pn, &tm, &tn);
        whole = whole_sequence(ctx, &gp, T, B, H);
        if (whole) st = lstm_forward_whole(ctx, mmopts, &gp, T, B, H, hc0, wp, gs, xp, bm, has_bias, cs, y);
    }
    for (int64_t s = 0; s < T && st == CLGRAD_OK && !whole; s++) {
        cl_int has_rec, has_c = s > 0 || hc0;
        mat hp = clgrad__rnn_h_prev(y, hc0 ? &h0 : NULL, s, BH, &has_rec);
        mat gm = at(gs, s * B * GH), xm = at(xp, s * B * GH);
        mat cm = at(cs, s * BH), cp = s > 0 ? at(cs, (s - 1) * BH) : hc0 ? c0 : cm, ym = at(y, s * BH);
        cl_long clast = s == T - 1 ? (cl_long)(y->offset + T * BH) : -1, Hl = H, Bl = B;
        if (wp) {
            cl_int Bi = (cl_int)B, Hi = (cl_int)H, kb = Hi < 256 ? Hi : 256;
            size_t pm = row_panels(&gp, B), pn = (size_t)((H + nr / 4 - 1) / (nr / 4));
            size_t global[2] = {(pm + (size_t)tm - 1) / (size_t)tm, (pn + (size_t)tn - 1) / (size_t)tn};
            static const size_t one2[2] = {1, 1};
            clgrad__kargs a = CLGRAD_ARGS(
                CLGRAD_KARG(Bi), CLGRAD_KARG(Hi), CLGRAD_KARG(kb), CLGRAD_KARG(tm), CLGRAD_KARG(tn),
                CLGRAD_KARG(has_rec), CLGRAD_KARG(hp.m), CLGRAD_KARG(hp.off), CLGRAD_KARG(wp->mem),
                CLGRAD_KARG(gm.m), CLGRAD_KARG(gm.off), CLGRAD_KARG(xm.m), CLGRAD_KARG(xm.off), CLGRAD_KARG(bm.m),
                CLGRAD_KARG(bm.off), CLGRAD_KARG(has_bias), CLGRAD_KARG(cp.m), CLGRAD_KARG(cp.off),
                CLGRAD_KARG(has_c), CLGRAD_KARG(cm.m), CLGRAD_KARG(cm.off), CLGRAD_KARG(ym.m), CLGRAD_KARG(ym.off),
                CLGRAD_KARG(clast));
            st = clgrad__launch(ctx, "matmul", mmopts, "matmul_lstm_cpu_f32", 2, global, one2, a);
            continue;
        }
        if (has_rec) st = clgrad__rnn_mm(ctx, 0, 1, B, GH, H, 0.0f, hp, H, at(w, 0), H, gm, GH);
        if (st != CLGRAD_OK) break;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG(gm.m), CLGRAD_KARG(gm.off), CLGRAD_KARG(xm.m), CLGRAD_KARG(xm.off),
                                      CLGRAD_KARG(has_rec), CLGRAD_KARG(bm.m), CLGRAD_KARG(bm.off),
                                      CLGRAD_KARG(has_bias), CLGRAD_KARG(cp.m), CLGRAD_KARG(cp.off), CLGRAD_KARG(has_c),
                                      CLGRAD_KARG(cm.m), CLGRAD_KARG(cm.off), CLGRAD_KARG(ym.m), CLGRAD_KARG(ym.off),
                                      CLGRAD_KARG(clast), CLGRAD_KARG(Hl), CLGRAD_KARG(Bl));
        st = clgrad__rnn_cell(ctx, "lstm_fwd_f32", H, B, a);
    }
    if (wp) clgrad__buffer_release(wp); /* in-order queue: released after its last use */
    clgrad_tensor *sv[4] = {gs, cs, w, hc0};
    if (st == CLGRAD_OK) st = clgrad__rnn_record_seq(y, &clgrad__op_lstm_seq, in, sv, 4, (seq_state){T, B, H, 0});
    if (st == CLGRAD_OK) {
        *out = y;
        k[0] = NULL;
    }
    clgrad__rnn_release_n(k, 3);
    clgrad__rnn_release_n(c, 4);
    return st;
}
