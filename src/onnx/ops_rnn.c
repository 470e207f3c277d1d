/* Recurrent operators: LSTM, GRU and RNN (forward direction, default activations), on the
 * fused sequence ops of the ops layer (src/ops/rnn.h): one GEMM for the input projection of
 * every step, then one op for the whole recurrence.
 *
 * ONNX orders the gates differently from PyTorch and clgrad: LSTM i, o, f, c (clgrad i, f,
 * g, o), GRU z, r, h (clgrad r, z, n). At load the weights are rewritten once into clgrad's
 * order and the two biases combined as the sequence ops take them (LSTM and RNN: W_b + R_b;
 * GRU: both, stacked, since its candidate gate keeps R_b apart, which is ONNX's
 * linear_before_reset = 1, PyTorch's GRU). Zero initial states produced by ConstantOfShape
 * are dropped so the sequence ops start from zeros without reading a tensor. */
#include "onnx/onnx.h"

#include "ops/rnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum kind { K_RNN = 0, K_LSTM = 1, K_GRU = 2 } kind;

static kind kind_of(const clgrad__ox_node *n)
{
    return !strcmp(n->op, "LSTM") ? K_LSTM : !strcmp(n->op, "GRU") ? K_GRU : K_RNN;
}

static int gates(kind k) { return k == K_LSTM ? 4 : k == K_GRU ? 3 : 1; }

/* clgrad's gate j is ONNX's gate src[j]. */
static const int LSTM_SRC[4] = {0, 2, 3, 1};
static const int GRU_SRC[3] = {1, 0, 2};
static const int RNN_SRC[1] = {0};

static const int *gate_src(kind k) { return k == K_LSTM ? LSTM_SRC : k == K_GRU ? GRU_SRC : RNN_SRC; }

static int is_zero_state(const clgrad__ox_graph *g, const clgrad__ox_value *v)
{
    if (v->konst) {
        for (int64_t k = 0; k < v->konst->n; k++)
            if (clgrad__ox_host_get(v->konst, k) != 0.0) return 0;
        return 1;
    }
    if (v->producer < 0) return 0;
    const clgrad__ox_node *p = &g->nodes[v->producer];
    if (strcmp(p->op, "ConstantOfShape")) return 0;
    const clgrad__ox_attr *a = clgrad__ox_attr_find(p, "value");
    return !a || (a->type == OX_ATTR_TENSOR && a->t && a->t->n == 1 && clgrad__ox_host_get(a->t, 0) == 0.0);
}

/* Rows of gate blocks of w (1, G*H, cols) reordered into a new constant (G*H, cols). */
static clgrad_status reorder(clgrad__ox_graph *g, clgrad__ox_node *n, int slot, kind k, int64_t H,
                             const char *what)
{
    const clgrad__ox_host *w = clgrad__ox_in_const(g, n, slot);
    int G = gates(k);
    int64_t cols = w->shape[2], s[2] = {G * H, cols};
    clgrad__ox_host *r = NULL;
    char buf[300];
    snprintf(buf, sizeof buf, "%s: node '%s' (%s)", g->name, n->name, n->op);
    CLGRAD_TRY(clgrad__ox_host_new(OX_FLOAT, 2, s, buf, &r));
    for (int j = 0; j < G; j++)
        memcpy(r->f + (size_t)(j * H * cols), w->f + (size_t)(gate_src(k)[j] * H * cols),
               (size_t)(H * cols) * sizeof(float));
    int vi;
    snprintf(buf, sizeof buf, "%s.%s", n->name, what);
    CLGRAD_TRY(clgrad__ox_value_const(g, buf, r, &vi));
    n->in[slot] = vi;
    return CLGRAD_OK;
}

/* The biases (1, 2 G H) as the sequence op takes them, in input slot 3. */
static clgrad_status bias(clgrad__ox_graph *g, clgrad__ox_node *n, kind k, int64_t H)
{
    const clgrad__ox_host *b = clgrad__ox_in_const(g, n, 3);
    int G = gates(k);
    int64_t gh = G * H, s[2] = {2, gh};
    clgrad__ox_host *r = NULL;
    char buf[300];
    snprintf(buf, sizeof buf, "%s: node '%s' (%s)", g->name, n->name, n->op);
    CLGRAD_TRY(clgrad__ox_host_new(OX_FLOAT, k == K_GRU ? 2 : 1, k == K_GRU ? s : &gh, buf, &r));
    for (int j = 0; j < G; j++)
        for (int64_t h = 0; h < H; h++) {
            int64_t src = gate_src(k)[j] * H + h;
            float wb = b->f[src], rb = b->f[gh + src];
            if (k == K_GRU) {
                r->f[j * H + h] = wb;
                r->f[gh + j * H + h] = rb;
            } else {
                r->f[j * H + h] = wb + rb;
            }
        }
    int vi;
    snprintf(buf, sizeof buf, "%s.bias", n->name);
    CLGRAD_TRY(clgrad__ox_value_const(g, buf, r, &vi));
    n->in[3] = vi;
    return CLGRAD_OK;
}

static clgrad_status rnn_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    kind k = kind_of(n);
    int G = gates(k);
    const char *dir = clgrad__ox_attr_str(n, "direction", "forward");
    if (strcmp(dir, "forward"))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "direction '%s' is not supported (forward only)", dir);
    if (clgrad__ox_attr_find(n, "clip"))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "cell clipping is not supported");
    if (k == K_LSTM && clgrad__ox_attr_int(n, "input_forget", 0))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "input_forget=1 is not supported");
    if (k == K_GRU && clgrad__ox_attr_int(n, "linear_before_reset", 0) != 1)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED,
                               "linear_before_reset=0 is not supported (clgrad's GRU is PyTorch's: "
                               "linear_before_reset=1)");
    int layout = (int)clgrad__ox_attr_int(n, "layout", 0);
    if (layout != 0 && layout != 1) return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "layout %d", layout);
    n->pi[1] = layout;
    /* activations: only the defaults (or Relu for RNN) */
    const clgrad__ox_attr *act = clgrad__ox_attr_find(n, "activations");
    static const char *defaults[3][3] = {{"Tanh"}, {"Sigmoid", "Tanh", "Tanh"}, {"Sigmoid", "Tanh"}};
    n->pi[2] = 0; /* relu */
    if (act) {
        int want = k == K_LSTM ? 3 : k == K_GRU ? 2 : 1;
        int ok = act->type == OX_ATTR_STRINGS && act->n == want;
        if (ok && k == K_RNN && !strcmp(act->strs[0], "Relu")) n->pi[2] = 1;
        else
            for (int i = 0; ok && i < want; i++) ok = !strcmp(act->strs[i], defaults[k][i]);
        if (!ok)
            return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "activations other than the defaults%s",
                                   k == K_RNN ? " (Tanh) or Relu" : "");
    }
    /* weights: constants of the right shapes */
    const clgrad__ox_value *x = clgrad__ox_in(g, n, 0), *w = clgrad__ox_in(g, n, 1), *r = clgrad__ox_in(g, n, 2);
    if (!w->konst || !r->konst || (clgrad__ox_in(g, n, 3) && !clgrad__ox_in(g, n, 3)->konst))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "the weights W, R and B must be constants");
    const clgrad__ox_host *W = w->konst, *R = r->konst, *B = clgrad__ox_in_const(g, n, 3);
    int64_t H = clgrad__ox_attr_int(n, "hidden_size", W->ndim == 3 ? W->shape[1] / G : -1);
    if (W->type != OX_FLOAT || R->type != OX_FLOAT || (B && B->type != OX_FLOAT))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "weights of a type other than FLOAT");
    if (H <= 0 || W->ndim != 3 || W->shape[0] != 1 || W->shape[1] != G * H || R->ndim != 3 || R->shape[0] != 1 ||
        R->shape[1] != G * H || R->shape[2] != H || (B && (B->ndim != 2 || B->shape[0] != 1 || B->shape[1] != 2 * G * H)))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "weights of shapes that do not fit hidden_size %lld",
                               (long long)H);
    if (x->ndim >= 0 && (x->ndim != 3 || (x->shape[2] >= 0 && x->shape[2] != W->shape[2])))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "X must be (seq, batch, %lld)", (long long)W->shape[2]);
    n->pi[0] = H;
    /* sequence_lens equal to the sequence length everywhere is no restriction */
    const clgrad__ox_value *sl = clgrad__ox_in(g, n, 4);
    if (sl) {
        int ok = sl->konst && x->ndim == 3 && x->shape[layout ? 1 : 0] >= 0;
        for (int64_t q = 0; ok && q < sl->konst->n; q++) ok = clgrad__ox_host_geti(sl->konst, q) == x->shape[layout ? 1 : 0];
        if (!ok) return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "sequence_lens (sequences of different "
                                        "lengths) is not supported");
        n->in[4] = -1;
    }
    if (k == K_LSTM && n->n_in > 7 && n->in[7] >= 0)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "peephole weights P are not supported");
    for (int i = 5; i < 7 && i < n->n_in; i++) {
        const clgrad__ox_value *s0 = clgrad__ox_in(g, n, i);
        if (s0 && is_zero_state(g, s0)) n->in[i] = -1;
        if (i == 6 && k != K_LSTM && n->in[6] >= 0) return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "too many inputs");
    }
    /* outputs: Y (T, 1, B, H), Y_h and Y_c (1, B, H); layout 1: (B, T, 1, H) and (B, 1, H) */
    int64_t T = x->ndim == 3 ? x->shape[layout ? 1 : 0] : -1, N = x->ndim == 3 ? x->shape[layout ? 0 : 1] : -1;
    int64_t ys[4] = {T, 1, N, H}, hs[3] = {1, N, H};
    if (layout) {
        ys[0] = N, ys[1] = T, ys[2] = 1;
        hs[0] = N, hs[1] = 1;
    }
    clgrad__ox_set_shape(clgrad__ox_out(g, n, 0), OX_FLOAT, 4, ys);
    for (int i = 1; i < n->n_out; i++) clgrad__ox_set_shape(clgrad__ox_out(g, n, i), OX_FLOAT, 3, hs);
    if (k != K_LSTM && n->n_out > 2) return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "%s has at most 2 outputs", n->op);
    /* clgrad's layout of the constants */
    CLGRAD_TRY(reorder(g, n, 1, k, H, "W"));
    CLGRAD_TRY(reorder(g, n, 2, k, H, "R"));
    if (n->n_in > 3 && n->in[3] >= 0) CLGRAD_TRY(bias(g, n, k, H));
    return CLGRAD_OK;
}

/* A state input (1, B, H) (layout 1: (B, 1, H)) as (B, H), or NULL when omitted. */
static clgrad_status state(clgrad__ox_exec *e, int i, int64_t B, int64_t H, clgrad_tensor **out)
{
    *out = NULL;
    if (i >= e->n->n_in || e->n->in[i] < 0) return CLGRAD_OK;
    clgrad_tensor *s;
    CLGRAD_TRY(clgrad__ox_dev(e, i, &s));
    int64_t want[2] = {B, H};
    if (clgrad_tensor_numel(s) != B * H)
        return clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_SHAPE, "initial state %d has %lld elements, expected 1 x %lld "
                               "x %lld", i, (long long)clgrad_tensor_numel(s), (long long)B, (long long)H);
    return clgrad_reshape(s, 2, want, out);
}

static clgrad_status rnn_run(clgrad__ox_exec *e)
{
    const clgrad__ox_node *n = e->n;
    kind k = kind_of(n);
    int64_t H = n->pi[0];
    int layout = (int)n->pi[1];
    clgrad_tensor *x0, *x = NULL, *w, *r, *b = NULL, *xp = NULL, *h0 = NULL, *c0 = NULL, *hc = NULL, *zero = NULL,
                       *seq = NULL;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x0));
    CLGRAD_TRY(clgrad__ox_dev(e, 1, &w));
    CLGRAD_TRY(clgrad__ox_dev(e, 2, &r));
    if (n->n_in > 3 && n->in[3] >= 0) CLGRAD_TRY(clgrad__ox_dev(e, 3, &b));
    if (clgrad_tensor_ndim(x0) != 3)
        return clgrad__ox_fail(e->g, n, CLGRAD_ERR_SHAPE, "X has rank %d, expected 3", clgrad_tensor_ndim(x0));
    clgrad_status st = layout ? clgrad_transpose(x0, 0, 1, &x) : (x = clgrad_tensor_retain(x0), CLGRAD_OK);
    int64_t T = clgrad_tensor_dim(x, 0), B = clgrad_tensor_dim(x, 1);
    if (st == CLGRAD_OK && (T < 1 || B < 1))
        st = clgrad__ox_fail(e->g, n, CLGRAD_ERR_SHAPE, "empty sequence or batch");
    if (st == CLGRAD_OK) st = clgrad__rnn_proj(x, w, &xp);
    if (st == CLGRAD_OK) st = state(e, 5, B, H, &h0);
    if (st == CLGRAD_OK && k == K_LSTM) st = state(e, 6, B, H, &c0);
    if (st == CLGRAD_OK && k == K_LSTM && (h0 || c0)) {
        int64_t s[2] = {B, H};
        st = clgrad_tensor_zeros(e->ctx, CLGRAD_DTYPE_F32, 2, s, &zero);
        clgrad_tensor *two[2] = {h0 ? h0 : zero, c0 ? c0 : zero};
        if (st == CLGRAD_OK) st = clgrad_stack(2, two, 0, &hc);
    }
    if (st == CLGRAD_OK) {
        if (k == K_LSTM) st = clgrad__lstm_seq(xp, r, b, hc, &seq);
        else if (k == K_GRU) st = clgrad__gru_seq(xp, r, b, h0, &seq);
        else st = clgrad__rnn_seq(xp, r, b, h0, (int)n->pi[2], &seq);
    }
    /* outputs as views of the sequence: Y rows 0..T-1, Y_h row T-1, Y_c row T (LSTM) */
    for (int o = 0; o < n->n_out && st == CLGRAD_OK; o++) {
        if (n->out[o] < 0) continue;
        clgrad_tensor *v = NULL, *y = NULL;
        int64_t a = o == 0 ? 0 : o == 1 ? T - 1 : T, len = o == 0 ? T : 1;
        st = clgrad_slice(seq, 0, a, a + len, 1, &v);
        if (st == CLGRAD_OK && o == 0) {
            int64_t s[4] = {T, 1, B, H};
            st = clgrad_reshape(v, 4, s, &y);
            if (st == CLGRAD_OK && layout) { /* (T, 1, B, H) -> (B, T, 1, H) */
                clgrad_tensor *p = NULL;
                int perm[4] = {2, 0, 1, 3};
                st = clgrad_permute(y, perm, &p);
                clgrad_tensor_release(y);
                y = p;
            }
        } else if (st == CLGRAD_OK) {
            y = clgrad_tensor_retain(v);
            if (layout) {
                clgrad_tensor *p = NULL;
                st = clgrad_transpose(y, 0, 1, &p);
                clgrad_tensor_release(y);
                y = p;
            }
        }
        clgrad_tensor_release(v);
        if (st == CLGRAD_OK) clgrad__ox_set_out(e, o, y);
        else clgrad_tensor_release(y);
    }
    clgrad_tensor_release(x);
    clgrad_tensor_release(xp);
    clgrad_tensor_release(h0);
    clgrad_tensor_release(c0);
    clgrad_tensor_release(hc);
    clgrad_tensor_release(zero);
    clgrad_tensor_release(seq);
    return st;
}

const clgrad__ox_op clgrad__ox_ops_rnn[] = {
    {"LSTM", 3, 8, 0, 3, 0, rnn_check, NULL, rnn_run, 0},
    {"GRU", 3, 6, 0, 2, 0, rnn_check, NULL, rnn_run, 0},
    {"RNN", 3, 6, 0, 2, 0, rnn_check, NULL, rnn_run, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0},
};
