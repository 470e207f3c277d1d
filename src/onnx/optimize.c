/* Graph rewrites for inference, after every node is checked and constants are folded:
 *
 *   Conv -> BatchNormalization      one Conv with the normalisation folded into its weights
 *                                   and bias: w' = w * g / sqrt(var + eps) per output channel,
 *                                   b' = (b - mean) * g / sqrt(var + eps) + beta;
 *   x * (1 + erf(x / sqrt 2)) / 2   one Gelu (PyTorch writes GELU out this way before opset 20);
 *   mean / sub / pow / mean / add / sqrt / div [/ mul / add]
 *                                   one LayerNormalization over the last axis (PyTorch's
 *                                   LayerNorm before opset 17);
 *   nodes whose results nobody reads are dropped.
 *
 * A rewrite applies only when every intermediate value has no other reader and is not a
 * graph output, and the constants are of the expected shapes; otherwise the nodes stay. A
 * Relu after a Conv stays a separate elementwise pass: clgrad's convolution kernels have no
 * activation epilogue. */
#include "onnx/onnx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Readers of every value among the live nodes (graph outputs count as one). */
static clgrad_status count_uses(const clgrad__ox_graph *g, int **uses)
{
    int *u = calloc((size_t)g->n_values + 1, sizeof *u);
    if (!u) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", g->name);
    for (int k = 0; k < g->n_nodes; k++) {
        const clgrad__ox_node *n = &g->nodes[k];
        if (n->removed) continue;
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0) u[n->in[i]]++;
    }
    for (int i = 0; i < g->n_outputs; i++) u[g->outputs[i]]++;
    *uses = u;
    return CLGRAD_OK;
}

/* The live node producing value v when it is op and v has exactly one reader; else NULL. */
static clgrad__ox_node *sole(clgrad__ox_graph *g, const int *uses, int v, const char *op)
{
    if (v < 0 || uses[v] != 1 || g->values[v].is_output || g->values[v].producer < 0) return NULL;
    clgrad__ox_node *p = &g->nodes[g->values[v].producer];
    return !p->removed && !strcmp(p->op, op) ? p : NULL;
}

/* Index (0 or 1) of the input of binary node n that is a one-element float constant equal
 * to want within tol (the other input is the operand); -1 if neither. */
static int const_side(const clgrad__ox_graph *g, const clgrad__ox_node *n, double want, double tol)
{
    if (n->n_in != 2) return -1;
    for (int i = 0; i < 2; i++) {
        const clgrad__ox_host *h = clgrad__ox_in_const(g, n, i);
        if (h && h->type == OX_FLOAT && h->n == 1 && fabs((double)h->f[0] - want) <= tol) return i;
    }
    return -1;
}

static clgrad_status rename_op(clgrad__ox_node *n, const char *op)
{
    char *s = strdup(op);
    if (!s) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    free(n->op);
    n->op = s;
    n->def = clgrad__ox_op_find(op);
    clgrad__ox_attrs_free(n->attrs, n->n_attrs);
    n->attrs = NULL;
    n->n_attrs = 0;
    memset(n->pf, 0, sizeof n->pf);
    memset(n->pi, 0, sizeof n->pi);
    return CLGRAD_OK;
}

/* --- Conv + BatchNormalization --------------------------------------------------------------------- */

static clgrad_status fuse_conv_bn(clgrad__ox_graph *g, clgrad__ox_node *bn, int *done)
{
    int *uses;
    *done = 0;
    CLGRAD_TRY(count_uses(g, &uses));
    clgrad__ox_node *cv = sole(g, uses, bn->in[0], "Conv");
    free(uses);
    if (!cv || bn->n_in != 5) return CLGRAD_OK;
    const clgrad__ox_host *w = clgrad__ox_in_const(g, cv, 1), *b = clgrad__ox_in_const(g, cv, 2);
    const clgrad__ox_host *p[4];
    for (int i = 0; i < 4; i++) p[i] = clgrad__ox_in_const(g, bn, 1 + i);
    if (!w || w->type != OX_FLOAT || w->ndim < 3 || (cv->n_in > 2 && cv->in[2] >= 0 && !b)) return CLGRAD_OK;
    int64_t C = w->shape[0], per = w->n / (C ? C : 1);
    if (b && (b->type != OX_FLOAT || b->n != C)) return CLGRAD_OK;
    for (int i = 0; i < 4; i++)
        if (!p[i] || p[i]->type != OX_FLOAT || p[i]->n != C) return CLGRAD_OK;
    double eps = bn->pf[0];
    clgrad__ox_host *nw = NULL, *nb = NULL;
    char what[300];
    snprintf(what, sizeof what, "%s: node '%s' (Conv)", g->name, cv->name);
    CLGRAD_TRY(clgrad__ox_host_new(OX_FLOAT, w->ndim, w->shape, what, &nw));
    clgrad_status st = clgrad__ox_host_new(OX_FLOAT, 1, &C, what, &nb);
    if (st != CLGRAD_OK) {
        clgrad__ox_host_free(nw);
        return st;
    }
    for (int64_t c = 0; c < C; c++) {
        double a = (double)p[0]->f[c] / sqrt((double)p[3]->f[c] + eps);
        for (int64_t k = 0; k < per; k++) nw->f[c * per + k] = (float)((double)w->f[c * per + k] * a);
        nb->f[c] = (float)(((b ? (double)b->f[c] : 0.0) - (double)p[2]->f[c]) * a + (double)p[1]->f[c]);
    }
    int wi, bi;
    st = clgrad__ox_value_const(g, "conv_bn.weight", nw, &wi);
    if (st == CLGRAD_OK) st = clgrad__ox_value_const(g, "conv_bn.bias", nb, &bi);
    else clgrad__ox_host_free(nb);
    CLGRAD_TRY(st);
    cv->in[1] = wi;
    cv->in[2] = bi;
    cv->n_in = 3;
    int y = bn->out[0];
    cv->out[0] = y;
    g->values[y].producer = (int)(cv - g->nodes);
    bn->removed = 1;
    g->fused_conv_bn++;
    *done = 1;
    return CLGRAD_OK;
}

/* --- GELU -------------------------------------------------------------------------------------------- */

/* y = Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5), operands of Add and Mul in any order;
 * Div by sqrt 2 may be Mul by 1/sqrt 2. */
static clgrad_status fuse_gelu(clgrad__ox_graph *g, clgrad__ox_node *last, int *done)
{
    int *uses;
    *done = 0;
    int h = const_side(g, last, 0.5, 1e-6);
    if (h < 0) return CLGRAD_OK;
    CLGRAD_TRY(count_uses(g, &uses));
    clgrad__ox_node *m = sole(g, uses, last->in[1 - h], "Mul"), *add = NULL, *erf = NULL, *div = NULL;
    int x = -1;
    for (int side = 0; m && side < 2 && !erf; side++) {
        add = sole(g, uses, m->in[side], "Add");
        int one = add ? const_side(g, add, 1.0, 1e-6) : -1;
        erf = one >= 0 ? sole(g, uses, add->in[1 - one], "Erf") : NULL;
        if (erf) {
            x = m->in[1 - side];
            div = sole(g, uses, erf->in[0], "Div");
            int ok = div && div->in[0] == x && const_side(g, div, sqrt(2.0), 1e-5) == 1;
            if (!ok) {
                div = sole(g, uses, erf->in[0], "Mul");
                int c = div ? const_side(g, div, 1.0 / sqrt(2.0), 1e-6) : -1;
                ok = c >= 0 && div->in[1 - c] == x;
            }
            if (!ok) div = NULL;
            if (!div) erf = NULL;
        }
    }
    free(uses);
    if (!erf || x < 0) return CLGRAD_OK;
    CLGRAD_TRY(rename_op(last, "Gelu"));
    last->in[0] = x;
    last->n_in = 1;
    div->removed = erf->removed = add->removed = m->removed = 1;
    g->fused_gelu++;
    *done = 1;
    return CLGRAD_OK;
}

/* --- layer normalisation ---------------------------------------------------------------------------- */

/* A ReduceMean over the last axis only, keeping it. */
static int mean_last(const clgrad__ox_graph *g, const clgrad__ox_node *n)
{
    int c;
    const int64_t *ax = clgrad__ox_attr_ints(n, "axes", &c);
    const clgrad__ox_value *x = clgrad__ox_in(g, n, 0);
    if (!ax || c != 1 || clgrad__ox_attr_int(n, "keepdims", 1) != 1 || n->n_in != 1) return 0;
    return ax[0] == -1 || (x->ndim > 0 && ax[0] == x->ndim - 1);
}

static clgrad_status fuse_layer_norm(clgrad__ox_graph *g, clgrad__ox_node *last, int *done)
{
    *done = 0;
    int *uses;
    CLGRAD_TRY(count_uses(g, &uses));
    /* walk back from the final node: [Add(., beta)] <- [Mul(., gamma)] <- Div(d, Sqrt(...)) */
    clgrad__ox_node *addb = NULL, *mulw = NULL, *div = NULL;
    int beta = -1, gamma = -1;
    const clgrad__ox_node *n = last;
    if (!strcmp(n->op, "Add") && n->n_in == 2) {
        for (int i = 0; i < 2 && !mulw; i++)
            if (clgrad__ox_in_const(g, n, 1 - i) && (mulw = sole(g, uses, n->in[i], "Mul"))) beta = n->in[1 - i];
        addb = mulw ? (clgrad__ox_node *)n : NULL;
        n = mulw;
    } else if (!strcmp(n->op, "Mul") && n->n_in == 2) {
        mulw = (clgrad__ox_node *)n;
    }
    if (n && n == mulw) {
        for (int i = 0; i < 2 && !div; i++)
            if (clgrad__ox_in_const(g, n, 1 - i) && (div = sole(g, uses, n->in[i], "Div"))) gamma = n->in[1 - i];
    } else if (n && !strcmp(n->op, "Div")) {
        div = (clgrad__ox_node *)n;
    }
    clgrad__ox_node *sq = div ? sole(g, uses, div->in[1], "Sqrt") : NULL;
    clgrad__ox_node *ae = sq ? sole(g, uses, sq->in[0], "Add") : NULL;
    int ec = ae ? const_side(g, ae, 0.0, 1.0) : -1; /* eps: a small constant */
    clgrad__ox_node *m2 = ec >= 0 ? sole(g, uses, ae->in[1 - ec], "ReduceMean") : NULL;
    clgrad__ox_node *pw = m2 && mean_last(g, m2) ? sole(g, uses, m2->in[0], "Pow") : NULL;
    int d = div ? div->in[0] : -1;
    clgrad__ox_node *sub = NULL, *m1 = NULL;
    if (pw && pw->in[0] == d && const_side(g, pw, 2.0, 0.0) == 1 && uses[d] == 2 && !g->values[d].is_output &&
        g->values[d].producer >= 0) {
        sub = &g->nodes[g->values[d].producer];
        if (strcmp(sub->op, "Sub") || sub->removed) sub = NULL;
    }
    if (sub) m1 = sole(g, uses, sub->in[1], "ReduceMean");
    int x = m1 && mean_last(g, m1) && m1->in[0] == sub->in[0] ? sub->in[0] : -1;
    free(uses);
    const clgrad__ox_value *xv = x >= 0 ? &g->values[x] : NULL;
    double eps = ec >= 0 ? clgrad__ox_host_get(clgrad__ox_in_const(g, ae, ec), 0) : -1;
    if (!xv || xv->ndim < 1 || xv->shape[xv->ndim - 1] < 1 || !(eps > 0 && eps < 0.1)) return CLGRAD_OK;
    /* gamma and beta: constants of the last dim's size */
    int64_t C = xv->shape[xv->ndim - 1];
    const clgrad__ox_host *gh = gamma >= 0 ? g->values[gamma].konst : NULL, *bh = beta >= 0 ? g->values[beta].konst : NULL;
    if ((gh && (gh->n != C || gh->ndim != 1)) || (bh && (bh->n != C || bh->ndim != 1))) return CLGRAD_OK;
    CLGRAD_TRY(rename_op(last, "LayerNormalization"));
    last->n_in = 0;
    last->in[last->n_in++] = x;
    if (gamma < 0) { /* LayerNormalization needs a scale: ones */
        clgrad__ox_host *ones = NULL;
        char what[300];
        snprintf(what, sizeof what, "%s: node '%s'", g->name, last->name);
        CLGRAD_TRY(clgrad__ox_host_new(OX_FLOAT, 1, &C, what, &ones));
        for (int64_t k = 0; k < C; k++) ones->f[k] = 1.0f;
        CLGRAD_TRY(clgrad__ox_value_const(g, "layer_norm.weight", ones, &gamma));
    }
    last->in[last->n_in++] = gamma;
    if (beta >= 0) last->in[last->n_in++] = beta;
    last->pf[0] = eps;
    clgrad__ox_node *gone[8] = {m1, sub, pw, m2, ae, sq, div, mulw};
    for (int i = 0; i < 8; i++)
        if (gone[i] && gone[i] != last) gone[i]->removed = 1;
    (void)addb;
    g->fused_ln++;
    *done = 1;
    return CLGRAD_OK;
}

/* --- dead nodes ------------------------------------------------------------------------------------- */

static clgrad_status drop_dead(clgrad__ox_graph *g)
{
    int *uses;
    CLGRAD_TRY(count_uses(g, &uses));
    for (int k = g->n_nodes - 1; k >= 0; k--) {
        clgrad__ox_node *n = &g->nodes[k];
        if (n->removed) continue;
        int live = 0;
        for (int i = 0; i < n->n_out && !live; i++) live = n->out[i] >= 0 && uses[n->out[i]] > 0;
        if (live) continue;
        n->removed = 1;
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0) uses[n->in[i]]--;
    }
    free(uses);
    return CLGRAD_OK;
}

clgrad_status clgrad__ox_optimize(clgrad__ox_graph *g)
{
    /* last nodes first, so a pattern is matched from its final node (the longest form) */
    for (int k = g->n_nodes - 1; k >= 0 && !(g->flags & CLGRAD_ONNX_NO_FUSION); k--) {
        clgrad__ox_node *n = &g->nodes[k];
        int done = 0;
        if (n->removed) continue;
        if (!strcmp(n->op, "BatchNormalization")) CLGRAD_TRY(fuse_conv_bn(g, n, &done));
        else if (!strcmp(n->op, "Mul")) CLGRAD_TRY(fuse_gelu(g, n, &done));
        if (!done && (!strcmp(n->op, "Add") || !strcmp(n->op, "Mul") || !strcmp(n->op, "Div")))
            CLGRAD_TRY(fuse_layer_norm(g, n, &done));
    }
    return drop_dead(g);
}
