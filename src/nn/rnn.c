/* Recurrent layers: Elman RNN (tanh or relu), LSTM and GRU, multi-layer, with PyTorch's
 * parameter names, shapes, gate order and initialisation, built from public ops so that
 * autograd needs nothing special.
 *
 * How a layer runs. Per forward call the layer's parameters are joined once into one
 * matrix W (rows: gate units, columns: [input | hidden | bias]); each step then joins
 * [x_t, h_{t-1}, 1] and makes all gate pre-activations with a single matmul. The ones
 * column folds the bias into that product, so the bias costs no separate add (and no
 * per-step reduction in backward). For the GRU, whose candidate gate keeps the input and
 * hidden products apart (n = tanh(W_in x + b_in + r * (W_hn h + b_hn))), W has four row
 * blocks: [W_ir,z | W_hr,z | b_ir,z + b_hr,z], [W_in | 0 | b_in], [0 | W_hn | b_hn]. The
 * per-step outputs of a layer are kept as a list (the next layer reads them directly, no
 * slicing of a stacked tensor) and stacked once at the end. */
#include "nn/nn.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct rnn_impl {
    clgrad_rnn_kind kind;
    int64_t in, hid;
    int layers, bias, batch_first;
} rnn_impl;

static clgrad_status rnn_module_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out);
static void rnn_destroy(clgrad_module *m) { free(m->impl); }

static const clgrad__module_vtable rnn_vt = {"rnn", rnn_module_forward, rnn_destroy};
static const clgrad__module_vtable lstm_vt = {"lstm", rnn_module_forward, rnn_destroy};
static const clgrad__module_vtable gru_vt = {"gru", rnn_module_forward, rnn_destroy};

static int gate_count(clgrad_rnn_kind k) { return k == CLGRAD_LSTM ? 4 : k == CLGRAD_GRU ? 3 : 1; }

/* Releases a list of tensors and clears it. */
static void release_all(clgrad_tensor **v, int64_t n)
{
    for (int64_t i = 0; v && i < n; i++) {
        clgrad_tensor_release(v[i]);
        v[i] = NULL;
    }
}

static clgrad_status sl(clgrad_tensor *x, int dim, int64_t a, int64_t b, clgrad_tensor **out)
{
    return clgrad_slice(x, dim, a, b, 1, out);
}

/* A column (n, 1) view of a vector. */
static clgrad_status column(clgrad_tensor *v, clgrad_tensor **out)
{
    int64_t s[2] = {clgrad_tensor_dim(v, 0), 1};
    return clgrad_reshape(v, 2, s, out);
}

/* --- the per-call weight matrix ---------------------------------------------------------- */

static clgrad_tensor *param(const clgrad_module *m, const char *what, int l)
{
    char name[48];
    snprintf(name, sizeof name, "%s_l%d", what, l);
    return clgrad__module_get(m, name);
}

/* W for layer l of an Elman RNN or LSTM: (G*H, I_l + H [+ 1]). */
static clgrad_status joined_plain(const clgrad_module *m, int l, clgrad_tensor **w)
{
    const rnn_impl *R = m->impl;
    clgrad_tensor *parts[3] = {param(m, "weight_ih", l), param(m, "weight_hh", l), NULL};
    if (!R->bias) return clgrad_cat(2, parts, 1, w);
    clgrad_tensor *b = NULL;
    clgrad_status st = clgrad_add(param(m, "bias_ih", l), param(m, "bias_hh", l), &b);
    if (st == CLGRAD_OK) st = column(b, &parts[2]);
    if (st == CLGRAD_OK) st = clgrad_cat(3, parts, 1, w);
    clgrad_tensor_release(b);
    clgrad_tensor_release(parts[2]);
    return st;
}

/* Remembers a temporary for release_all. */
static void tmp_push(clgrad_tensor **pool, int *n, clgrad_tensor *t) { pool[(*n)++] = t; }

/* W for layer l of a GRU: (4H, I_l + H [+ 1]) in the block layout described at the top. */
static clgrad_status joined_gru(const clgrad_module *m, int l, int64_t in_l, clgrad_tensor **w)
{
    const rnn_impl *R = m->impl;
    int64_t H = R->hid;
    clgrad_tensor *wih = param(m, "weight_ih", l), *whh = param(m, "weight_hh", l);
    clgrad_tensor *t[24] = {0};
    int nt = 0;
    clgrad_tensor *wih_rz = NULL, *whh_rz = NULL, *wih_n = NULL, *whh_n = NULL, *zhh = NULL, *zih = NULL;
    clgrad_tensor *brz = NULL, *bin = NULL, *bhn = NULL, *rows[3] = {0};
    int64_t zs_hh[2] = {H, H}, zs_ih[2] = {H, in_l};
    clgrad_status st = sl(wih, 0, 0, 2 * H, &wih_rz);
    if (st == CLGRAD_OK) st = sl(whh, 0, 0, 2 * H, &whh_rz);
    if (st == CLGRAD_OK) st = sl(wih, 0, 2 * H, 3 * H, &wih_n);
    if (st == CLGRAD_OK) st = sl(whh, 0, 2 * H, 3 * H, &whh_n);
    if (st == CLGRAD_OK) st = clgrad_tensor_zeros(m->ctx, CLGRAD_DTYPE_F32, 2, zs_hh, &zhh);
    if (st == CLGRAD_OK) st = clgrad_tensor_zeros(m->ctx, CLGRAD_DTYPE_F32, 2, zs_ih, &zih);
    clgrad_tensor *made[6] = {wih_rz, whh_rz, wih_n, whh_n, zhh, zih};
    for (int i = 0; i < 6; i++) tmp_push(t, &nt, made[i]);
    if (st == CLGRAD_OK && R->bias) {
        clgrad_tensor *bih = param(m, "bias_ih", l), *bhh = param(m, "bias_hh", l), *sum = NULL, *v = NULL;
        st = clgrad_add(bih, bhh, &sum);
        tmp_push(t, &nt, sum);
        if (st == CLGRAD_OK) st = sl(sum, 0, 0, 2 * H, &v);
        tmp_push(t, &nt, v);
        if (st == CLGRAD_OK) st = column(v, &brz);
        tmp_push(t, &nt, brz);
        if (st == CLGRAD_OK) st = sl(bih, 0, 2 * H, 3 * H, &v);
        tmp_push(t, &nt, v);
        if (st == CLGRAD_OK) st = column(v, &bin);
        tmp_push(t, &nt, bin);
        if (st == CLGRAD_OK) st = sl(bhh, 0, 2 * H, 3 * H, &v);
        tmp_push(t, &nt, v);
        if (st == CLGRAD_OK) st = column(v, &bhn);
        tmp_push(t, &nt, bhn);
    }
    int nc = R->bias ? 3 : 2;
    if (st == CLGRAD_OK) {
        clgrad_tensor *a[3] = {wih_rz, whh_rz, brz};
        st = clgrad_cat(nc, a, 1, &rows[0]);
    }
    if (st == CLGRAD_OK) {
        clgrad_tensor *a[3] = {wih_n, zhh, bin};
        st = clgrad_cat(nc, a, 1, &rows[1]);
    }
    if (st == CLGRAD_OK) {
        clgrad_tensor *a[3] = {zih, whh_n, bhn};
        st = clgrad_cat(nc, a, 1, &rows[2]);
    }
    if (st == CLGRAD_OK) st = clgrad_cat(3, rows, 0, w);
    release_all(rows, 3);
    release_all(t, nt);
    return st;
}

/* --- cells --------------------------------------------------------------------------------- */

/* h = act(gates) for the Elman RNN. */
static clgrad_status cell_rnn(clgrad_rnn_kind kind, clgrad_tensor *gates, clgrad_tensor **h)
{
    return kind == CLGRAD_RNN_RELU ? clgrad_relu(gates, h) : clgrad_tanh(gates, h);
}

/* gates (B, 4H) in PyTorch's order i, f, g, o. c may be NULL (zero state). */
static clgrad_status cell_lstm(clgrad_tensor *gates, clgrad_tensor *c, int64_t H, clgrad_tensor **h_out,
                               clgrad_tensor **c_out)
{
    clgrad_tensor *sig = NULL, *gp = NULL, *g = NULL, *i = NULL, *f = NULL, *o = NULL;
    clgrad_tensor *ig = NULL, *fc = NULL, *cn = NULL, *tc = NULL, *hn = NULL;
    clgrad_status st = clgrad_sigmoid(gates, &sig); /* the g quarter is computed and unused */
    if (st == CLGRAD_OK) st = sl(gates, 1, 2 * H, 3 * H, &gp);
    if (st == CLGRAD_OK) st = clgrad_tanh(gp, &g);
    if (st == CLGRAD_OK) st = sl(sig, 1, 0, H, &i);
    if (st == CLGRAD_OK) st = sl(sig, 1, 3 * H, 4 * H, &o);
    if (st == CLGRAD_OK) st = clgrad_mul(i, g, &ig);
    if (st == CLGRAD_OK && c) {
        st = sl(sig, 1, H, 2 * H, &f);
        if (st == CLGRAD_OK) st = clgrad_mul(f, c, &fc);
        if (st == CLGRAD_OK) st = clgrad_add(fc, ig, &cn);
    } else if (st == CLGRAD_OK) {
        cn = clgrad_tensor_retain(ig);
    }
    if (st == CLGRAD_OK) st = clgrad_tanh(cn, &tc);
    if (st == CLGRAD_OK) st = clgrad_mul(o, tc, &hn);
    clgrad_tensor *tmp[] = {sig, gp, g, i, f, o, ig, fc, tc};
    release_all(tmp, (int64_t)(sizeof tmp / sizeof tmp[0]));
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(cn);
        clgrad_tensor_release(hn);
        return st;
    }
    *h_out = hn;
    *c_out = cn;
    return CLGRAD_OK;
}

/* gates (B, 4H): [r z pre-activations | W_in x + b_in | W_hn h + b_hn]; h the previous
 * state. h' = (1 - z) n + z h = n + z (h - n). */
static clgrad_status cell_gru(clgrad_tensor *gates, clgrad_tensor *h, int64_t H, clgrad_tensor **h_out)
{
    clgrad_tensor *rzp = NULL, *rz = NULL, *r = NULL, *z = NULL, *xn = NULL, *hnp = NULL, *rh = NULL;
    clgrad_tensor *np = NULL, *n = NULL, *d = NULL, *zd = NULL, *hn = NULL;
    clgrad_status st = sl(gates, 1, 0, 2 * H, &rzp);
    if (st == CLGRAD_OK) st = clgrad_sigmoid(rzp, &rz);
    if (st == CLGRAD_OK) st = sl(rz, 1, 0, H, &r);
    if (st == CLGRAD_OK) st = sl(rz, 1, H, 2 * H, &z);
    if (st == CLGRAD_OK) st = sl(gates, 1, 2 * H, 3 * H, &xn);
    if (st == CLGRAD_OK) st = sl(gates, 1, 3 * H, 4 * H, &hnp);
    if (st == CLGRAD_OK) st = clgrad_mul(r, hnp, &rh);
    if (st == CLGRAD_OK) st = clgrad_add(xn, rh, &np);
    if (st == CLGRAD_OK) st = clgrad_tanh(np, &n);
    if (st == CLGRAD_OK) st = clgrad_sub(h, n, &d);
    if (st == CLGRAD_OK) st = clgrad_mul(z, d, &zd);
    if (st == CLGRAD_OK) st = clgrad_add(n, zd, &hn);
    clgrad_tensor *tmp[] = {rzp, rz, r, z, xn, hnp, rh, np, n, d, zd};
    release_all(tmp, (int64_t)(sizeof tmp / sizeof tmp[0]));
    if (st != CLGRAD_OK) return st;
    *h_out = hn;
    return CLGRAD_OK;
}

/* --- one layer over the sequence ------------------------------------------------------------ */

/* xs[0..T) (B, I_l) in; hs[0..T) (B, H) out (new references). h, c: the initial state (c
 * may be NULL: zero); *h_last, *c_last: the final one. ones: (B, 1) or NULL without bias. */
static clgrad_status run_layer(clgrad_module *m, int l, int64_t T, clgrad_tensor **xs, clgrad_tensor *h,
                               clgrad_tensor *c, clgrad_tensor *ones, clgrad_tensor **hs, clgrad_tensor **h_last,
                               clgrad_tensor **c_last)
{
    const rnn_impl *R = m->impl;
    int64_t H = R->hid, in_l = l == 0 ? R->in : H;
    clgrad_tensor *w = NULL, *wt = NULL;
    clgrad_status st = R->kind == CLGRAD_GRU ? joined_gru(m, l, in_l, &w) : joined_plain(m, l, &w);
    if (st == CLGRAD_OK) st = clgrad_transpose(w, 0, 1, &wt);
    clgrad_tensor_release(w);
    clgrad_tensor *hp = clgrad_tensor_retain(h), *cp = clgrad_tensor_retain(c);
    for (int64_t t = 0; t < T && st == CLGRAD_OK; t++) {
        clgrad_tensor *xh = NULL, *gates = NULL, *hn = NULL, *cn = NULL;
        clgrad_tensor *parts[3] = {xs[t], hp, ones};
        st = clgrad_cat(ones ? 3 : 2, parts, 1, &xh);
        if (st == CLGRAD_OK) st = clgrad_matmul(xh, wt, &gates);
        if (st == CLGRAD_OK) {
            if (R->kind == CLGRAD_LSTM) st = cell_lstm(gates, cp, H, &hn, &cn);
            else if (R->kind == CLGRAD_GRU) st = cell_gru(gates, hp, H, &hn);
            else st = cell_rnn(R->kind, gates, &hn);
        }
        clgrad_tensor_release(xh);
        clgrad_tensor_release(gates);
        if (st != CLGRAD_OK) break;
        clgrad_tensor_release(hp);
        clgrad_tensor_release(cp);
        hp = hn;
        cp = cn;
        hs[t] = clgrad_tensor_retain(hn);
    }
    clgrad_tensor_release(wt);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(hp);
        clgrad_tensor_release(cp);
        release_all(hs, T);
        return st;
    }
    *h_last = hp;
    *c_last = cp;
    return CLGRAD_OK;
}

/* --- forward --------------------------------------------------------------------------------- */

static int is_rnn(const clgrad_module *m)
{
    return m && (m->vt == &rnn_vt || m->vt == &lstm_vt || m->vt == &gru_vt);
}

/* Checks a state tensor h0 / c0: (L, B, H), or (L, H) for an unbatched input. */
static clgrad_status check_state(const clgrad_module *m, const char *what, clgrad_tensor *s, int unbatched,
                                 int64_t B)
{
    const rnn_impl *R = m->impl;
    if (clgrad_tensor_context(s) != m->ctx)
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_rnn_forward: %s belongs to another context",
                            what);
    int64_t want[3] = {R->layers, B, R->hid}, have[CLGRAD_MAX_DIMS];
    int wn = unbatched ? 2 : 3;
    if (unbatched) want[1] = R->hid;
    int nd = clgrad_tensor_ndim(s), ok = nd == wn && clgrad_tensor_dtype(s) == CLGRAD_DTYPE_F32;
    clgrad_tensor_shape(s, have);
    for (int i = 0; ok && i < wn; i++) ok = have[i] == want[i];
    if (!ok) {
        char a[256], b[256];
        return clgrad__fail(m->ctx, CLGRAD_ERR_SHAPE, "clgrad_rnn_forward: %s has shape %s, expected %s (f32)", what,
                            clgrad__shape_str(a, sizeof a, nd, have), clgrad__shape_str(b, sizeof b, wn, want));
    }
    return CLGRAD_OK;
}

/* Layer l's slice of a state (L, B, H) as (B, H). */
static clgrad_status state_of(clgrad_tensor *s, int l, int64_t B, int64_t H, clgrad_tensor **out)
{
    clgrad_tensor *v = NULL;
    int64_t shape[2] = {B, H};
    CLGRAD_TRY(sl(s, 0, l, l + 1, &v));
    clgrad_status st = clgrad_reshape(v, 2, shape, out);
    clgrad_tensor_release(v);
    return st;
}

CLGRAD_API clgrad_status clgrad_rnn_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor *h0, clgrad_tensor *c0,
                                            clgrad_tensor **out, clgrad_tensor **h_n, clgrad_tensor **c_n)
{
    if (out) *out = NULL;
    if (h_n) *h_n = NULL;
    if (c_n) *c_n = NULL;
    if (!is_rnn(m))
        return clgrad__fail(m ? m->ctx : NULL, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_rnn_forward: m is %s, not an rnn, lstm or gru module", m ? m->vt->kind : "NULL");
    CLGRAD_CHECK_ARG(m->ctx, out != NULL, "out is NULL");
    CLGRAD_TRY(clgrad__module_check_input(m, x, "clgrad_rnn_forward"));
    const rnn_impl *R = m->impl;
    int nd = clgrad_tensor_ndim(x);
    int64_t xs_[CLGRAD_MAX_DIMS];
    clgrad_tensor_shape(x, xs_);
    if ((nd != 2 && nd != 3) || clgrad_tensor_dtype(x) != CLGRAD_DTYPE_F32 || xs_[nd - 1] != R->in || xs_[0] == 0 ||
        (nd == 3 && xs_[1] == 0)) {
        char a[256];
        return clgrad__fail(m->ctx, CLGRAD_ERR_SHAPE,
                            "clgrad_rnn_forward: input of shape %s; expected f32 (%s, %lld) or unbatched (T, %lld) "
                            "with T and N >= 1", clgrad__shape_str(a, sizeof a, nd, xs_),
                            R->batch_first ? "N, T" : "T, N", (long long)R->in, (long long)R->in);
    }
    if (c0 && R->kind != CLGRAD_LSTM)
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_rnn_forward: c0 is only for an lstm, this is a %s",
                            m->vt->kind);
    int unbatched = nd == 2, tdim = unbatched ? 0 : R->batch_first ? 1 : 0;
    int64_t T = xs_[tdim], B = unbatched ? 1 : xs_[1 - tdim], H = R->hid, I = R->in;
    if (h0) CLGRAD_TRY(check_state(m, "h0", h0, unbatched, B));
    if (c0) CLGRAD_TRY(check_state(m, "c0", c0, unbatched, B));

    clgrad_status st = CLGRAD_OK;
    clgrad_tensor **cur = calloc((size_t)T, sizeof *cur), **next = calloc((size_t)T, sizeof *next);
    clgrad_tensor **hl = calloc((size_t)R->layers, sizeof *hl), **cl = calloc((size_t)R->layers, sizeof *cl);
    clgrad_tensor *ones = NULL, *zero = NULL, *y = NULL, *hstk = NULL, *cstk = NULL;
    if (!cur || !next || !hl || !cl) {
        st = clgrad__fail(m->ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad_rnn_forward: out of host memory");
        goto done;
    }
    int64_t bs[2] = {B, 1}, hs[2] = {B, H}, xshape[2] = {B, I};
    if (R->bias) st = clgrad_tensor_ones(m->ctx, 2, bs, &ones);
    if (st == CLGRAD_OK && !h0)
        st = clgrad_tensor_zeros(m->ctx, CLGRAD_DTYPE_F32, 2, hs, &zero);
    for (int64_t t = 0; t < T && st == CLGRAD_OK; t++) {
        clgrad_tensor *v = NULL;
        st = sl(x, tdim, t, t + 1, &v);
        if (st == CLGRAD_OK) st = clgrad_reshape(v, 2, xshape, &cur[t]);
        clgrad_tensor_release(v);
    }
    for (int l = 0; l < R->layers && st == CLGRAD_OK; l++) {
        clgrad_tensor *h = NULL, *c = NULL;
        if (h0) st = state_of(h0, l, B, H, &h);
        else h = clgrad_tensor_retain(zero);
        if (st == CLGRAD_OK && c0) st = state_of(c0, l, B, H, &c);
        if (st == CLGRAD_OK) st = run_layer(m, l, T, cur, h, c, ones, next, &hl[l], &cl[l]);
        clgrad_tensor_release(h);
        clgrad_tensor_release(c);
        release_all(cur, T);
        clgrad_tensor **sw = cur;
        cur = next;
        next = sw;
    }
    /* outputs; unbatched results drop the batch dim */
    if (st == CLGRAD_OK) {
        if (unbatched) {
            clgrad_tensor *s = NULL;
            int64_t shape[2] = {T, H};
            st = clgrad_stack((int)T, cur, 0, &s);
            if (st == CLGRAD_OK) st = clgrad_reshape(s, 2, shape, &y);
            clgrad_tensor_release(s);
        } else {
            st = clgrad_stack((int)T, cur, tdim, &y);
        }
    }
    if (st == CLGRAD_OK && h_n) {
        int64_t shape[2] = {R->layers, H};
        clgrad_tensor *s = NULL;
        st = clgrad_stack(R->layers, hl, 0, &s);
        if (st == CLGRAD_OK && unbatched) st = clgrad_reshape(s, 2, shape, &hstk);
        else if (st == CLGRAD_OK) hstk = clgrad_tensor_retain(s);
        clgrad_tensor_release(s);
    }
    if (st == CLGRAD_OK && c_n && R->kind == CLGRAD_LSTM) {
        int64_t shape[2] = {R->layers, H};
        clgrad_tensor *s = NULL;
        st = clgrad_stack(R->layers, cl, 0, &s);
        if (st == CLGRAD_OK && unbatched) st = clgrad_reshape(s, 2, shape, &cstk);
        else if (st == CLGRAD_OK) cstk = clgrad_tensor_retain(s);
        clgrad_tensor_release(s);
    }
    if (st == CLGRAD_OK) {
        *out = y;
        if (h_n) *h_n = hstk;
        if (c_n) *c_n = cstk;
        y = hstk = cstk = NULL;
    }
done:
    release_all(cur, cur ? T : 0);
    release_all(next, next ? T : 0);
    release_all(hl, hl ? R->layers : 0);
    release_all(cl, cl ? R->layers : 0);
    free(cur);
    free(next);
    free(hl);
    free(cl);
    clgrad_tensor_release(ones);
    clgrad_tensor_release(zero);
    clgrad_tensor_release(y);
    clgrad_tensor_release(hstk);
    clgrad_tensor_release(cstk);
    return st;
}

static clgrad_status rnn_module_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    return clgrad_rnn_forward(m, x, NULL, NULL, out, NULL, NULL);
}

/* --- construction ------------------------------------------------------------------------------ */

CLGRAD_API clgrad_status clgrad_rnn_create(clgrad_context *ctx, clgrad_rnn_kind kind, int64_t input_size,
                                           int64_t hidden_size, int num_layers, int has_bias, int batch_first,
                                           uint64_t seed, clgrad_module **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && out != NULL, "ctx and out must not be NULL");
    if (kind != CLGRAD_RNN_TANH && kind != CLGRAD_RNN_RELU && kind != CLGRAD_LSTM && kind != CLGRAD_GRU)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_rnn_create: unknown kind %d", (int)kind);
    if (input_size <= 0 || hidden_size <= 0 || num_layers <= 0)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_rnn_create: input_size %lld, hidden_size %lld and num_layers %d must be positive",
                            (long long)input_size, (long long)hidden_size, num_layers);
    const clgrad__module_vtable *vt = kind == CLGRAD_LSTM ? &lstm_vt : kind == CLGRAD_GRU ? &gru_vt : &rnn_vt;
    clgrad_module *m = NULL;
    CLGRAD_TRY(clgrad__module_new(ctx, vt, &m));
    clgrad_status st = CLGRAD_OK;
    rnn_impl *R = calloc(1, sizeof *R);
    if (!R) {
        st = clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad_rnn_create: out of host memory");
        goto fail;
    }
    *R = (rnn_impl){kind, input_size, hidden_size, num_layers, has_bias ? 1 : 0, batch_first ? 1 : 0};
    m->impl = R;
    int64_t G = gate_count(kind) * hidden_size;
    /* PyTorch: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)); one stream per tensor */
    for (int l = 0; l < num_layers && st == CLGRAD_OK; l++) {
        int64_t in_l = l == 0 ? input_size : hidden_size;
        int64_t shapes[4][2] = {{G, in_l}, {G, hidden_size}, {G, 0}, {G, 0}};
        const char *names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
        for (int j = 0; j < (has_bias ? 4 : 2) && st == CLGRAD_OK; j++) {
            char name[48];
            clgrad_tensor *p = NULL;
            snprintf(name, sizeof name, "%s_l%d", names[j], l);
            st = clgrad__init_fan_in_uniform(ctx, j < 2 ? 2 : 1, shapes[j], hidden_size,
                                             clgrad__seed_derive(seed, (uint64_t)(4 * l + j)), &p);
            if (st == CLGRAD_OK) st = clgrad__module_add_param(m, name, p);
        }
    }
    if (st != CLGRAD_OK) goto fail;
    *out = m;
    return CLGRAD_OK;
fail:
    clgrad_module_release(m);
    return st;
}
