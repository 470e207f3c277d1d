/* Recurrent layers: Elman RNN (tanh or relu), LSTM and GRU, multi-layer, with PyTorch's
 * parameter names, shapes, gate order and initialisation.
 *
 * How a layer runs, as two differentiable ops of the ops layer (src/ops/rnn.h). First the
 * input projection of every step, xp = x W_ih^T, one GEMM over all T * N rows. Then the
 * recurrence as one fused sequence op, which does per step one GEMM with W_hh and one cell
 * kernel (the biases are added there) and records a single autograd node for the whole
 * sequence; its backward hands back the gradient of xp for all steps at once, and the
 * projection's backward makes those of W_ih and the input with two GEMMs. The LSTM and
 * Elman RNN pass b_ih + b_hh to the sequence op, the GRU both biases stacked, since its
 * candidate gate keeps the hidden bias apart (n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).
 *
 * The sequence op's result is (T, N, H) of hidden states, plus the final cell state as an
 * extra row T for the LSTM; the layer output, h_n and c_n are views (slices) of it, and the
 * next layer reads the previous layer's states directly. */
#include "nn/nn.h"
#include "ops/rnn.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct rnn_impl {
    clgrad_rnn_kind kind;
    int64_t in, hid;
    int layers, bias, batch_first;
} rnn_impl;

static clgrad_status rnn_module_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out);
static void rnn_describe(const clgrad_module *m, clgrad__layer_desc *d)
{
    const rnn_impl *R = m->impl;
    d->rnn = R->kind;
    d->in = R->in;
    d->hidden = R->hid;
    d->layers = R->layers;
    d->bias = R->bias;
    d->batch_first = R->batch_first;
}

static const clgrad__module_vtable rnn_vt = {"rnn", rnn_module_forward, clgrad__module_free_impl, rnn_describe};
static const clgrad__module_vtable lstm_vt = {"lstm", rnn_module_forward, clgrad__module_free_impl, rnn_describe};
static const clgrad__module_vtable gru_vt = {"gru", rnn_module_forward, clgrad__module_free_impl, rnn_describe};

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

static clgrad_tensor *param(const clgrad_module *m, const char *what, int l)
{
    char name[48];
    snprintf(name, sizeof name, "%s_l%d", what, l);
    return clgrad__module_get(m, name);
}

/* --- one layer over the sequence ------------------------------------------------------------ */

/* x (T, B, I_l); h, c: the initial state (B, H) or NULL (zeros; c for an LSTM only). *seq
 * receives the sequence op's result (see the top of the file). */
static clgrad_status run_layer(clgrad_module *m, int l, clgrad_tensor *x, clgrad_tensor *h, clgrad_tensor *c,
                               clgrad_tensor **seq)
{
    const rnn_impl *R = m->impl;
    clgrad_tensor *t[4] = {0}; /* xp, bias, state, zeros */
    clgrad_tensor *whh = param(m, "weight_hh", l);
    clgrad_status st = clgrad__rnn_proj(x, param(m, "weight_ih", l), &t[0]);
    if (st == CLGRAD_OK && R->bias) {
        clgrad_tensor *b[2] = {param(m, "bias_ih", l), param(m, "bias_hh", l)};
        st = R->kind == CLGRAD_GRU ? clgrad_stack(2, b, 0, &t[1]) : clgrad_add(b[0], b[1], &t[1]);
    }
    if (st == CLGRAD_OK && R->kind == CLGRAD_LSTM && (h || c)) {
        /* the LSTM op takes both states as one (2, B, H) tensor */
        int64_t shape[2] = {clgrad_tensor_dim(h ? h : c, 0), R->hid};
        st = clgrad_tensor_zeros(m->ctx, CLGRAD_DTYPE_F32, 2, shape, &t[3]);
        clgrad_tensor *hc[2] = {h ? h : t[3], c ? c : t[3]};
        if (st == CLGRAD_OK) st = clgrad_stack(2, hc, 0, &t[2]);
    }
    if (st == CLGRAD_OK) {
        if (R->kind == CLGRAD_LSTM) st = clgrad__lstm_seq(t[0], whh, t[1], t[2], seq);
        else if (R->kind == CLGRAD_GRU) st = clgrad__gru_seq(t[0], whh, t[1], h, seq);
        else st = clgrad__rnn_seq(t[0], whh, t[1], h, R->kind == CLGRAD_RNN_RELU, seq);
    }
    release_all(t, 4);
    return st;
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
    if (clgrad_tensor_dtype(s) != CLGRAD_DTYPE_F32)
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_rnn_forward: %s must be f32 (dtype %d)", what,
                            (int)clgrad_tensor_dtype(s));
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

/* x: f32, (T, N, I) or (N, T, I) as the module says, or unbatched (T, I); T, N >= 1. */
static clgrad_status check_input(const clgrad_module *m, const clgrad_tensor *x, int *nd, int64_t *xs)
{
    const rnn_impl *R = m->impl;
    *nd = clgrad_tensor_ndim(x);
    clgrad_tensor_shape(x, xs);
    if (clgrad_tensor_dtype(x) != CLGRAD_DTYPE_F32)
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_rnn_forward: x must be f32 (dtype %d)",
                            (int)clgrad_tensor_dtype(x));
    if ((*nd != 2 && *nd != 3) || clgrad_tensor_dtype(x) != CLGRAD_DTYPE_F32 || xs[*nd - 1] != R->in || xs[0] == 0 ||
        (*nd == 3 && xs[1] == 0)) {
        char a[256];
        return clgrad__fail(m->ctx, CLGRAD_ERR_SHAPE,
                            "clgrad_rnn_forward: input of shape %s; expected f32 (%s, %lld) or unbatched (T, %lld) "
                            "with T and N >= 1", clgrad__shape_str(a, sizeof a, *nd, xs),
                            R->batch_first ? "N, T" : "T, N", (long long)R->in, (long long)R->in);
    }
    return CLGRAD_OK;
}

/* The layers in turn on *cur (T, N, I), each from its slice of h0 / c0: *cur becomes the
 * last layer's output (T, N, H), hl[l] and cl[l] (LSTM) each layer's final states. */
static clgrad_status run_layers(clgrad_module *m, clgrad_tensor *h0, clgrad_tensor *c0, int64_t T, int64_t B,
                                clgrad_tensor **cur, clgrad_tensor **hl, clgrad_tensor **cl)
{
    const rnn_impl *R = m->impl;
    clgrad_tensor *seq = NULL;
    clgrad_status st = CLGRAD_OK;
    for (int l = 0; l < R->layers && st == CLGRAD_OK; l++) {
        clgrad_tensor *h = NULL, *c = NULL;
        if (h0) st = state_of(h0, l, B, R->hid, &h);
        if (st == CLGRAD_OK && c0) st = state_of(c0, l, B, R->hid, &c);
        clgrad_tensor_release(seq);
        seq = NULL;
        if (st == CLGRAD_OK) st = run_layer(m, l, *cur, h, c, &seq);
        clgrad_tensor_release(h);
        clgrad_tensor_release(c);
        clgrad_tensor_release(*cur);
        *cur = NULL;
        /* this layer's states: rows 0..T-1 of seq; h_n row T-1; c_n row T (LSTM) */
        if (st == CLGRAD_OK) st = sl(seq, 0, 0, T, cur);
        if (st == CLGRAD_OK) st = sl(seq, 0, T - 1, T, &hl[l]);
        if (st == CLGRAD_OK && R->kind == CLGRAD_LSTM) st = sl(seq, 0, T, T + 1, &cl[l]);
    }
    clgrad_tensor_release(seq);
    return st;
}

/* The layers' final states (each (1, N, H)) stacked as (L, N, H), or (L, H) unbatched. */
static clgrad_status stack_states(const rnn_impl *R, clgrad_tensor **parts, int unbatched, clgrad_tensor **dst)
{
    clgrad_tensor *s = NULL;
    clgrad_status st = CLGRAD_OK;
    int64_t shape[2] = {R->layers, R->hid};
    if (R->layers == 1) s = clgrad_tensor_retain(parts[0]);
    else st = clgrad_cat(R->layers, parts, 0, &s);
    if (st == CLGRAD_OK && unbatched) st = clgrad_reshape(s, 2, shape, dst);
    else if (st == CLGRAD_OK) *dst = clgrad_tensor_retain(s);
    clgrad_tensor_release(s);
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
    int nd = 0;
    int64_t xs_[CLGRAD_MAX_DIMS];
    CLGRAD_TRY(check_input(m, x, &nd, xs_));
    if (c0 && R->kind != CLGRAD_LSTM)
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_rnn_forward: c0 is only for an lstm, this is a %s",
                            m->vt->kind);
    int unbatched = nd == 2, tdim = unbatched ? 0 : R->batch_first ? 1 : 0;
    int64_t T = xs_[tdim], B = unbatched ? 1 : xs_[1 - tdim], H = R->hid, I = R->in;
    if (h0) CLGRAD_TRY(check_state(m, "h0", h0, unbatched, B));
    if (c0) CLGRAD_TRY(check_state(m, "c0", c0, unbatched, B));
    /* the layer input as (T, N, I): a view of x (a batch-first one is gathered once by the
     * projection op) */
    clgrad_status st = CLGRAD_OK;
    clgrad_tensor **hl = calloc((size_t)R->layers, sizeof *hl), **cl = calloc((size_t)R->layers, sizeof *cl);
    clgrad_tensor *cur = NULL, *y = NULL, *hstk = NULL, *cstk = NULL;
    if (!hl || !cl) {
        st = clgrad__fail(m->ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad_rnn_forward: out of host memory");
        goto done;
    }
    if (unbatched) {
        int64_t shape[3] = {T, 1, I};
        st = clgrad_reshape(x, 3, shape, &cur);
    } else if (tdim == 1) {
        st = clgrad_transpose(x, 0, 1, &cur);
    } else {
        cur = clgrad_tensor_retain(x);
    }
    if (st == CLGRAD_OK) st = run_layers(m, h0, c0, T, B, &cur, hl, cl);
    /* outputs; unbatched results drop the batch dim */
    if (st == CLGRAD_OK) {
        if (unbatched) {
            int64_t shape[2] = {T, H};
            st = clgrad_reshape(cur, 2, shape, &y);
        } else if (tdim == 1) {
            st = clgrad_transpose(cur, 0, 1, &y);
        } else {
            y = clgrad_tensor_retain(cur);
        }
    }
    if (st == CLGRAD_OK && h_n) st = stack_states(R, hl, unbatched, &hstk);
    if (st == CLGRAD_OK && c_n && R->kind == CLGRAD_LSTM) st = stack_states(R, cl, unbatched, &cstk);
    if (st == CLGRAD_OK) {
        *out = y;
        if (h_n) *h_n = hstk;
        if (c_n) *c_n = cstk;
        y = hstk = cstk = NULL;
    }
done:
    release_all(hl, hl ? R->layers : 0);
    release_all(cl, cl ? R->layers : 0);
    free(hl);
    free(cl);
    clgrad_tensor_release(cur);
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
