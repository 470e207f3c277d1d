/* Fused recurrent cells: one time step of an LSTM, GRU or Elman RNN for a whole batch, the
 * recurrent matrix product having been made by a GEMM just before (src/ops/rnn.c). Each
 * work-item owns one (batch row b, hidden unit j) pair, i = b * H + j, and touches only
 * that pair's gate values, so the kernels need no local memory and no atomics. Offsets and
 * sizes are in elements; every per-step matrix is contiguous with rows of G * H (gates) or
 * H (states). Flags say whether an optional operand is present; an absent one counts as 0.
 * NDRange: 3-D (>= H, rows b folded as in rnn_row) over (j, b), so that no work-item
 * divides (64-bit division is slow on CPU devices); any work-group shape. */

static inline float rnn_sigm(float v) { return 1.0f / (1.0f + exp(-v)); }

/* The batch row of a cell launch: rows fold over dims 1 and 2 (dim 1 of size min(B, the
 * fold limit), rounded up to the work-group height) so no dimension holds more work-groups
 * than GPUs allow. */
static inline long rnn_row(void)
{
    return (long)get_global_id(1) + (long)get_global_id(2) * (long)get_global_size(1);
}

/* lstm_fwd_f32: one LSTM step, gates i, f, g, o.
 * Args: gt, goff: (B, 4H) holding h_{t-1} W_hh^T when has_rec (else not read); overwritten
 *       with the activated gates i, f, g, o.
 *       xp, xoff: (B, 4H) input projection x W_ih^T.  has_rec.
 *       bias, boff, has_bias: b_ih + b_hh (4H).
 *       cp, cpoff, has_c: c_{t-1} (B, H).  c, coff: c_t out.  h, hoff: h_t out.
 *       clast: when >= 0, c_t is also written to h at clast (the final cell state).  H, B. */
kernel void lstm_fwd_f32(global float *gt, long goff, global const float *xp, long xoff, int has_rec,
                         global const float *bias, long boff, int has_bias, global const float *cp, long cpoff,
                         int has_c, global float *c, long coff,
                         global float *h, long hoff, long clast, long H, long B)
{
    long j = get_global_id(0), b = rnn_row();
    if (j >= H || b >= B) return;
    long i = b * H + j, r = b * 4 * H + j;
    global float *g = gt + goff + r;
    global const float *x = xp + xoff + r;
    float pi = x[0], pf = x[H], pg = x[2 * H], po = x[3 * H];
    if (has_rec) {
        pi += g[0];
        pf += g[H];
        pg += g[2 * H];
        po += g[3 * H];
    }
    if (has_bias) {
        global const float *bb = bias + boff + j;
        pi += bb[0];
        pf += bb[H];
        pg += bb[2 * H];
        po += bb[3 * H];
    }
    float ig = rnn_sigm(pi), fg = rnn_sigm(pf), gg = tanh(pg), og = rnn_sigm(po);
    float cprev = has_c ? cp[cpoff + i] : 0.0f;
    float cn = fg * cprev + ig * gg;
    g[0] = ig;
    g[H] = fg;
    g[2 * H] = gg;
    g[3 * H] = og;
    c[coff + i] = cn;
    h[hoff + i] = og * tanh(cn);
    if (clast >= 0) h[clast + i] = cn;
}

/* lstm_bwd_f32: the backward of one LSTM step.
 * Args: gy, gyoff: dL/dh_t from outside (B, H).  dh, dhoff, has_dh: dL/dh_t through h_{t+1}.
 *       dcin, dcinoff: dL/dc_t (B, H).  gs, gsoff: activated gates (B, 4H).  c, coff: c_t.
 *       cp, cpoff, has_c: c_{t-1}.  dg, dgoff: out, pre-activation gate gradients (B, 4H).
 *       dcout, dcoutoff: out, dL/dc_{t-1} (may be the dcin element itself).  H, B. */
kernel void lstm_bwd_f32(global const float *gy, long gyoff, global const float *dh, long dhoff, int has_dh,
                         global const float *dcin, long dcinoff, global const float *gs, long gsoff,
                         global const float *c, long coff, global const float *cp, long cpoff, int has_c,
                         global float *dg, long dgoff, global float *dcout, long dcoutoff, long H, long B)
{
    long j = get_global_id(0), b = rnn_row();
    if (j >= H || b >= B) return;
    long i = b * H + j, r = b * 4 * H + j;
    global const float *g = gs + gsoff + r;
    float ig = g[0], fg = g[H], gg = g[2 * H], og = g[3 * H];
    float d = gy[gyoff + i];
    if (has_dh) d += dh[dhoff + i];
    float tc = tanh(c[coff + i]);
    float dc = dcin[dcinoff + i] + d * og * (1.0f - tc * tc);
    float cprev = has_c ? cp[cpoff + i] : 0.0f;
    global float *o = dg + dgoff + r;
    o[0] = dc * gg * ig * (1.0f - ig);
    o[H] = dc * cprev * fg * (1.0f - fg);
    o[2 * H] = dc * ig * (1.0f - gg * gg);
    o[3 * H] = d * tc * og * (1.0f - og);
    dcout[dcoutoff + i] = dc * fg;
}

#ifndef RNN_VW
#define RNN_VW 8
#endif
#define RNN_CAT_(a, b) a##b
#define RNN_CAT(a, b) RNN_CAT_(a, b)
#define RNN_VEC RNN_CAT(float, RNN_VW)
#define RNN_LOAD RNN_CAT(vload, RNN_VW)
#define RNN_STORE RNN_CAT(vstore, RNN_VW)

/* lstm_bwd_vec_f32: lstm_bwd_f32 on RNN_VW adjacent units per work-item (H a multiple of
 * RNN_VW), the same operations lane by lane.
 * Args: as lstm_bwd_f32.  NDRange: 3-D (>= H / RNN_VW, rows b folded as in rnn_row).
 * -D: RNN_VW (2, 4, 8 or 16; default 8). */
kernel void lstm_bwd_vec_f32(global const float *gy, long gyoff, global const float *dh, long dhoff, int has_dh,
                             global const float *dcin, long dcinoff, global const float *gs, long gsoff,
                             global const float *c, long coff, global const float *cp, long cpoff, int has_c,
                             global float *dg, long dgoff, global float *dcout, long dcoutoff, long H, long B)
{
    long j = get_global_id(0) * RNN_VW, b = rnn_row();
    if (j >= H || b >= B) return;
    long i = b * H + j, r = b * 4 * H + j;
    global const float *g = gs + gsoff + r;
    RNN_VEC ig = RNN_LOAD(0, g), fg = RNN_LOAD(0, g + H), gg = RNN_LOAD(0, g + 2 * H), og = RNN_LOAD(0, g + 3 * H);
    RNN_VEC d = RNN_LOAD(0, gy + gyoff + i);
    if (has_dh) d += RNN_LOAD(0, dh + dhoff + i);
    const RNN_VEC one = (RNN_VEC)(1.0f);
    RNN_VEC tc = tanh(RNN_LOAD(0, c + coff + i));
    RNN_VEC dc = RNN_LOAD(0, dcin + dcinoff + i) + d * og * (one - tc * tc);
    RNN_VEC cprev = has_c ? RNN_LOAD(0, cp + cpoff + i) : (RNN_VEC)(0.0f);
    global float *o = dg + dgoff + r;
    RNN_STORE(dc * gg * ig * (one - ig), 0, o);
    RNN_STORE(dc * cprev * fg * (one - fg), 0, o + H);
    RNN_STORE(dc * ig * (one - gg * gg), 0, o + 2 * H);
    RNN_STORE(d * tc * og * (one - og), 0, o + 3 * H);
    RNN_STORE(dc * fg, 0, dcout + dcoutoff + i);
}

/* gru_fwd_f32: one GRU step, gates r, z, n:
 *   r = sig(x_r + hp_r), z = sig(x_z + hp_z), n = tanh(x_n + r * hp_n), h = n + z (h_{t-1} - n)
 * with hp = h_{t-1} W_hh^T + b_hh.
 * Args: hp, hpoff, has_rec: (B, 3H) the product h_{t-1} W_hh^T.  bh, bhoff, has_bias: b_ih
 *       (3H) followed by b_hh (3H).  xp, xoff: (B, 3H) x W_ih^T.  hprev, hvoff, has_h: h_{t-1} (B, H).
 *       s, soff: out (B, 4H): r, z, n and hp_n (with b_hn), kept for backward.  h, hoff: h_t out.  H, B. */
kernel void gru_fwd_f32(global const float *hp, long hpoff, int has_rec, global const float *bh, long bhoff,
                        int has_bias, global const float *xp, long xoff, global const float *hprev, long hvoff,
                        int has_h, global float *s, long soff, global float *h, long hoff, long H, long B)
{
    long j = get_global_id(0), b = rnn_row();
    if (j >= H || b >= B) return;
    long i = b * H + j, r3 = b * 3 * H + j;
    float hr = 0.0f, hz = 0.0f, hn = 0.0f;
    if (has_rec) {
        hr = hp[hpoff + r3];
        hz = hp[hpoff + r3 + H];
        hn = hp[hpoff + r3 + 2 * H];
    }
    global const float *x = xp + xoff + r3;
    float xr = x[0], xz = x[H], xn = x[2 * H];
    if (has_bias) {
        xr += bh[bhoff + j];
        xz += bh[bhoff + H + j];
        xn += bh[bhoff + 2 * H + j];
        hr += bh[bhoff + 3 * H + j];
        hz += bh[bhoff + 4 * H + j];
        hn += bh[bhoff + 5 * H + j];
    }
    float rg = rnn_sigm(xr + hr), zg = rnn_sigm(xz + hz), ng = tanh(xn + rg * hn);
    float hv = has_h ? hprev[hvoff + i] : 0.0f;
    global float *o = s + soff + b * 4 * H + j;
    o[0] = rg;
    o[H] = zg;
    o[2 * H] = ng;
    o[3 * H] = hn;
    h[hoff + i] = ng + zg * (hv - ng);
}

/* gru_bwd_f32: the backward of one GRU step.
 * Args: gy, gyoff: dL/dh_t from outside.  dh, dhoff, has_dh: in, dL/dh_t through step t+1;
 *       out, the direct part z * dL/dh_t of dL/dh_{t-1} (the GEMM adds the rest).
 *       s, soff: the step's (B, 4H) r, z, n, hp_n.  hprev, hvoff, has_h: h_{t-1}.
 *       dx, dxoff: out (B, 3H) gradient of x W_ih^T + b_ih.  dhp, dhpoff: out (B, 3H)
 *       gradient of h_{t-1} W_hh^T + b_hh.  H, B. */
kernel void gru_bwd_f32(global const float *gy, long gyoff, global float *dh, long dhoff, int has_dh,
                        global const float *s, long soff, global const float *hprev, long hvoff, int has_h,
                        global float *dx, long dxoff, global float *dhp, long dhpoff, long H, long B)
{
    long j = get_global_id(0), b = rnn_row();
    if (j >= H || b >= B) return;
    long i = b * H + j, r3 = b * 3 * H + j;
    global const float *g = s + soff + b * 4 * H + j;
    float rg = g[0], zg = g[H], ng = g[2 * H], hn = g[3 * H];
    float d = gy[gyoff + i];
    if (has_dh) d += dh[dhoff + i];
    float hv = has_h ? hprev[hvoff + i] : 0.0f;
    float dnp = d * (1.0f - zg) * (1.0f - ng * ng);
    float drp = dnp * hn * rg * (1.0f - rg);
    float dzp = d * (hv - ng) * zg * (1.0f - zg);
    dx[dxoff + r3] = drp;
    dx[dxoff + r3 + H] = dzp;
    dx[dxoff + r3 + 2 * H] = dnp;
    dhp[dhpoff + r3] = drp;
    dhp[dhpoff + r3 + H] = dzp;
    dhp[dhpoff + r3 + 2 * H] = dnp * rg;
    dh[dhoff + i] = d * zg;
}

/* rnn_fwd_f32: one Elman step h_t = act(xp_t + h_{t-1} W_hh^T + bias), act = relu when
 * relu != 0, else tanh.  Args: g, goff, has_rec: (B, H) the product.  xp, xoff: (B, H).
 * bias, boff, has_bias: b_ih + b_hh (H).  h, hoff: out.
 * relu, H, B. */
kernel void rnn_fwd_f32(global const float *g, long goff, int has_rec, global const float *xp, long xoff,
                        global const float *bias, long boff, int has_bias, global float *h, long hoff, int relu,
                        long H, long B)
{
    long j = get_global_id(0), b = rnn_row();
    if (j >= H || b >= B) return;
    long i = b * H + j;
    float v = xp[xoff + i];
    if (has_rec) v += g[goff + i];
    if (has_bias) v += bias[boff + j];
    h[hoff + i] = relu ? fmax(v, 0.0f) : tanh(v);
}

/* rnn_bwd_f32: dg = (gy + dh) * act'(h_t), the pre-activation gradient of one step.
 * Args: gy, gyoff.  dh, dhoff, has_dh: through step t+1.  h, hoff: h_t.  dg, dgoff: out.
 * relu, H, B. */
kernel void rnn_bwd_f32(global const float *gy, long gyoff, global const float *dh, long dhoff, int has_dh,
                        global const float *h, long hoff, global float *dg, long dgoff, int relu, long H, long B)
{
    long j = get_global_id(0), b = rnn_row();
    if (j >= H || b >= B) return;
    long i = b * H + j;
    float d = gy[gyoff + i];
    if (has_dh) d += dh[dhoff + i];
    float hv = h[hoff + i];
    dg[dgoff + i] = relu ? (hv > 0.0f ? d : 0.0f) : d * (1.0f - hv * hv);
}

/* --- the input projection xp = x W_ih^T (the GEMM itself is the matmul family's) and bias
 * gradients --- */

/* rnn_gather_f32: dst (T, B, I) with rows of I and a t stride of dts <- a strided (T, B, I)
 * view (the host launches blocks of at most 32768 t and b when the sizes are bigger).
 * Args: dst, doff, src, soff, st, sb, si (element strides), T, B, I, dts.
 * NDRange: 3-D (>= I, >= B, >= T), work-groups of height and depth 1. */
kernel void rnn_gather_f32(global float *dst, long doff, global const float *src, long soff, long st, long sb,
                           long si, long T, long B, long I, long dts)
{
    long k = get_global_id(0), b = get_global_id(1), t = get_global_id(2);
    if (k >= I || b >= B || t >= T) return;
    dst[doff + t * dts + b * I + k] = src[soff + t * st + b * sb + k * si];
}
