/* Network operators: Conv and ConvTranspose (2-D, and 1-D as 2-D with a height of 1),
 * BatchNormalization, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Gemm, MatMul and
 * LayerNormalization, on clgrad's convolution, pooling, GEMM and normalisation ops. Padding
 * must be symmetric (clgrad's kernels pad both sides alike); the SAME_* auto-pads are resolved
 * per run from the input size. */
#include "onnx/onnx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- window attributes (Conv, ConvTranspose, MaxPool, AveragePool) --------------------------------
 * pi layout: [0] spatial dims (1 or 2), [1..2] kernel, [3..4] strides, [5..6] pads, [7..8]
 * dilations, [9] group, [10] auto_pad (0 NOTSET, 1 VALID, 2 SAME_UPPER, 3 SAME_LOWER), [11..12]
 * output_padding, [13] ceil_mode, [14] count_include_pad. */

static clgrad_status window_attrs(clgrad__ox_graph *g, clgrad__ox_node *n, int sd, const int64_t *kernel_from_w)
{
    int c;
    const int64_t *v;
    n->pi[0] = sd;
    const char *ap = clgrad__ox_attr_str(n, "auto_pad", "NOTSET");
    n->pi[10] = !strcmp(ap, "NOTSET") ? 0 : !strcmp(ap, "VALID") ? 1 : !strcmp(ap, "SAME_UPPER") ? 2
              : !strcmp(ap, "SAME_LOWER")                         ? 3
                                                                  : -1;
    if (n->pi[10] < 0) return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "unknown auto_pad '%s'", ap);
    v = clgrad__ox_attr_ints(n, "kernel_shape", &c);
    if (v && c != sd) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "kernel_shape has %d entries for %d spatial dims",
                                             c, sd);
    for (int i = 0; i < sd; i++) {
        n->pi[1 + i] = v ? v[i] : kernel_from_w ? kernel_from_w[i] : -1;
        if (v && kernel_from_w && kernel_from_w[i] >= 0 && v[i] != kernel_from_w[i])
            return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "kernel_shape disagrees with the weight's shape");
    }
    if (n->pi[1] < 0 && !kernel_from_w) return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "kernel_shape is required");
    const char *lists[3] = {"strides", "dilations", "output_padding"};
    int at[3] = {3, 7, 11};
    for (int l = 0; l < 3; l++) {
        v = clgrad__ox_attr_ints(n, lists[l], &c);
        if (v && c != sd) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "%s has %d entries for %d spatial dims",
                                                 lists[l], c, sd);
        for (int i = 0; i < sd; i++) {
            n->pi[at[l] + i] = v ? v[i] : (l == 2 ? 0 : 1);
            if (n->pi[at[l] + i] < (l == 2 ? 0 : 1) || n->pi[at[l] + i] > 65536)
                return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "invalid %s", lists[l]);
        }
    }
    v = clgrad__ox_attr_ints(n, "pads", &c);
    if (v && c != 2 * sd) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "pads has %d entries for %d spatial dims",
                                                 c, sd);
    for (int i = 0; i < sd; i++) {
        int64_t b = v ? v[i] : 0, e = v ? v[sd + i] : 0;
        if (b < 0 || e < 0 || b > 65536) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "invalid pads");
        if (b != e)
            return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED,
                                   "asymmetric padding (%lld before, %lld after) is not supported", (long long)b,
                                   (long long)e);
        n->pi[5 + i] = b;
    }
    if (v && n->pi[10]) return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "both pads and auto_pad are given");
    for (int i = 0; i < sd; i++)
        if (n->pi[1 + i] > 65536 || (n->pi[1 + i] < 1 && n->pi[1 + i] != -1))
            return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "invalid kernel size");
    n->pi[9] = clgrad__ox_attr_int(n, "group", 1);
    if (n->pi[9] < 1 || n->pi[9] > 65536) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "invalid group");
    n->pi[13] = clgrad__ox_attr_int(n, "ceil_mode", 0);
    n->pi[14] = clgrad__ox_attr_int(n, "count_include_pad", 0);
    return CLGRAD_OK;
}

/* Padding of spatial dim i for an input of length len (resolving SAME_*); 0 when SAME_*
 * would need asymmetric padding (an odd total). */
static int pad_try(const clgrad__ox_node *n, int i, int64_t len, int64_t *pad)
{
    int64_t k = n->pi[1 + i], s = n->pi[3 + i], d = n->pi[7 + i];
    if (n->pi[10] == 0) *pad = n->pi[5 + i];
    else if (n->pi[10] == 1) *pad = 0;
    else {
        int64_t out = (len + s - 1) / s, total = (out - 1) * s + (k - 1) * d + 1 - len;
        if (total < 0) total = 0;
        if (total % 2) return 0;
        *pad = total / 2;
    }
    return 1;
}

static clgrad_status pad_of(const clgrad__ox_graph *g, const clgrad__ox_node *n, int i, int64_t len, int64_t *pad)
{
    if (!pad_try(n, i, len, pad))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "auto_pad SAME_* needs asymmetric padding here "
                               "(input %lld, kernel %lld, stride %lld)", (long long)len, (long long)n->pi[1 + i],
                               (long long)n->pi[3 + i]);
    return CLGRAD_OK;
}

static int64_t out_len(int64_t len, int64_t k, int64_t s, int64_t p, int64_t d, int ceil_mode)
{
    int64_t span = len + 2 * p - (k - 1) * d - 1;
    if (span < 0) return 0;
    return (ceil_mode ? (span + s - 1) / s : span / s) + 1;
}

/* Static output shape of a forward window op (conv or pool) with c_out channels. */
static void window_static(clgrad__ox_graph *g, clgrad__ox_node *n, const clgrad__ox_value *x, int64_t c_out)
{
    clgrad__ox_value *y = clgrad__ox_out(g, n, 0);
    int sd = (int)n->pi[0];
    int64_t s[CLGRAD_MAX_DIMS] = {x->shape[0], c_out};
    for (int i = 0; i < sd; i++) {
        int64_t len = x->shape[2 + i], p;
        s[2 + i] = -1;
        if (len < 0 || len > CLGRAD__OX_DIM_MAX || n->pi[1 + i] < 0) continue;
        if (!pad_try(n, i, len, &p)) continue; /* refused at run time */
        s[2 + i] = out_len(len, n->pi[1 + i], n->pi[3 + i], p, n->pi[7 + i], (int)n->pi[13]);
    }
    clgrad__ox_set_shape(y, OX_FLOAT, 2 + sd, s);
}

static clgrad_status spatial_rank(clgrad__ox_graph *g, clgrad__ox_node *n, const clgrad__ox_value *x, int *sd)
{
    if (x->type && x->type != OX_FLOAT)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "%s of integer data is not supported", n->op);
    if (x->ndim >= 0 && x->ndim != 3 && x->ndim != 4)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "input of rank %d (1-D and 2-D %s are supported)",
                               x->ndim, n->op);
    *sd = x->ndim == 3 ? 1 : 2;
    return CLGRAD_OK;
}

/* A 1-D input (N, C, L) as (N, C, 1, L); a 2-D one as it is. New reference. */
static clgrad_status as_2d(clgrad_tensor *x, clgrad_tensor **out)
{
    if (clgrad_tensor_ndim(x) != 3) {
        *out = clgrad_tensor_retain(x);
        return CLGRAD_OK;
    }
    int64_t s[4] = {clgrad_tensor_dim(x, 0), clgrad_tensor_dim(x, 1), 1, clgrad_tensor_dim(x, 2)};
    return clgrad_reshape(x, 4, s, out);
}

/* Sets output 0 to y, dropping the height of 1 again for 1-D ops. Takes y over. */
static clgrad_status set_from_2d(clgrad__ox_exec *e, int one_d, clgrad_tensor *y)
{
    if (!one_d) {
        clgrad__ox_set_out(e, 0, y);
        return CLGRAD_OK;
    }
    int64_t s[3] = {clgrad_tensor_dim(y, 0), clgrad_tensor_dim(y, 1), clgrad_tensor_dim(y, 3)};
    clgrad_tensor *r = NULL;
    clgrad_status st = clgrad_reshape(y, 3, s, &r);
    clgrad_tensor_release(y);
    if (st == CLGRAD_OK) clgrad__ox_set_out(e, 0, r);
    return st;
}

/* clgrad's 2-D parameters (index 0 = H, 1 = W) from the node for input x (2-D view). */
static clgrad_status conv_params(const clgrad__ox_exec *e, clgrad_tensor *x2, clgrad_conv2d_params *p)
{
    const clgrad__ox_node *n = e->n;
    int sd = (int)n->pi[0];
    memset(p, 0, sizeof *p);
    for (int i = 0; i < 2; i++) {
        int src = sd == 1 ? (i == 0 ? -1 : 0) : i; /* 1-D: H is the dummy dim */
        int64_t pad = 0;
        if (src >= 0) CLGRAD_TRY(pad_of(e->g, n, src, clgrad_tensor_dim(x2, 2 + i), &pad));
        p->stride[i] = src >= 0 ? (int)n->pi[3 + src] : 1;
        p->padding[i] = (int)pad;
        p->dilation[i] = src >= 0 ? (int)n->pi[7 + src] : 1;
        p->output_padding[i] = src >= 0 ? (int)n->pi[11 + src] : 0;
    }
    p->groups = (int)n->pi[9];
    return CLGRAD_OK;
}

/* --- Conv and ConvTranspose ----------------------------------------------------------------------- */

static clgrad_status conv_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0), *w = clgrad__ox_in(g, n, 1);
    int sd;
    CLGRAD_TRY(spatial_rank(g, n, x, &sd));
    if (x->ndim < 0 && w->ndim >= 3) sd = w->ndim - 2;
    int64_t k[2] = {-1, -1};
    if (w->ndim >= 0) {
        if (w->ndim != sd + 2) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "weight of rank %d", w->ndim);
        for (int i = 0; i < sd; i++) k[i] = w->shape[2 + i];
    }
    CLGRAD_TRY(window_attrs(g, n, sd, k));
    int tr = !strcmp(n->op, "ConvTranspose");
    if (tr && clgrad__ox_attr_find(n, "output_shape"))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "output_shape is not supported (use pads)");
    if (!tr && (n->pi[11] || n->pi[12]))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "output_padding belongs to ConvTranspose");
    clgrad__ox_set_shape(clgrad__ox_out(g, n, 0), OX_FLOAT, x->ndim, NULL);
    if (!tr && x->ndim >= 0 && w->ndim >= 0) {
        if (x->shape[1] >= 0 && w->shape[1] >= 0 && x->shape[1] != w->shape[1] * n->pi[9])
            return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "input has %lld channels, the weight expects %lld x group "
                                   "%lld", (long long)x->shape[1], (long long)w->shape[1], (long long)n->pi[9]);
        window_static(g, n, x, w->shape[0]);
    }
    return CLGRAD_OK;
}

static clgrad_status conv_run(clgrad__ox_exec *e)
{
    clgrad_tensor *x, *w, *b = NULL, *x2 = NULL, *w2 = NULL, *y = NULL;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    CLGRAD_TRY(clgrad__ox_dev(e, 1, &w));
    if (e->n->n_in > 2 && e->n->in[2] >= 0) CLGRAD_TRY(clgrad__ox_dev(e, 2, &b));
    int one_d = clgrad_tensor_ndim(x) == 3;
    if (clgrad_tensor_ndim(x) != 4 && !one_d)
        return clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_SHAPE, "input of rank %d", clgrad_tensor_ndim(x));
    clgrad_conv2d_params p;
    clgrad_status st = as_2d(x, &x2);
    if (st == CLGRAD_OK) st = as_2d(w, &w2);
    if (st == CLGRAD_OK) st = conv_params(e, x2, &p);
    if (st == CLGRAD_OK)
        st = !strcmp(e->n->op, "Conv") ? clgrad_conv2d(x2, w2, b, &p, &y) : clgrad_conv_transpose2d(x2, w2, b, &p, &y);
    clgrad_tensor_release(x2);
    clgrad_tensor_release(w2);
    if (st != CLGRAD_OK) return st;
    return set_from_2d(e, one_d, y);
}

/* --- pooling --------------------------------------------------------------------------------------- */

static clgrad_status pool_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0);
    int sd, c;
    CLGRAD_TRY(spatial_rank(g, n, x, &sd));
    if (x->ndim < 0) {
        clgrad__ox_attr_ints(n, "kernel_shape", &c);
        sd = c == 1 ? 1 : 2;
    }
    CLGRAD_TRY(window_attrs(g, n, sd, NULL));
    for (int i = 0; i < sd; i++)
        if (n->pi[7 + i] != 1)
            return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "dilated pooling is not supported");
    int avg = !strcmp(n->op, "AveragePool");
    if (!avg && n->n_out > 1 && n->out[1] >= 0)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "the Indices output of MaxPool is not supported");
    if (avg && !n->pi[14] && (n->pi[5] || n->pi[6] || n->pi[10] >= 2))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED,
                               "count_include_pad=0 with padding is not supported (clgrad counts the padding, as "
                               "PyTorch's default count_include_pad=True does)");
    clgrad__ox_set_shape(clgrad__ox_out(g, n, 0), OX_FLOAT, x->ndim, NULL);
    if (x->ndim >= 0) window_static(g, n, x, x->shape[1]);
    return CLGRAD_OK;
}

static clgrad_status pool_run(clgrad__ox_exec *e)
{
    clgrad_tensor *x, *x2 = NULL, *y = NULL;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    int one_d = clgrad_tensor_ndim(x) == 3, sd = (int)e->n->pi[0];
    if (clgrad_tensor_ndim(x) != 4 && !one_d)
        return clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_SHAPE, "input of rank %d", clgrad_tensor_ndim(x));
    CLGRAD_TRY(as_2d(x, &x2));
    clgrad_pool2d_params p;
    memset(&p, 0, sizeof p);
    clgrad_status st = CLGRAD_OK;
    for (int i = 0; i < 2 && st == CLGRAD_OK; i++) {
        int src = sd == 1 ? (i == 0 ? -1 : 0) : i;
        int64_t pad = 0, len = clgrad_tensor_dim(x2, 2 + i);
        if (src >= 0) st = pad_of(e->g, e->n, src, len, &pad);
        p.kernel[i] = src >= 0 ? (int)e->n->pi[1 + src] : 1;
        p.stride[i] = src >= 0 ? (int)e->n->pi[3 + src] : 1;
        p.padding[i] = (int)pad;
        if (st == CLGRAD_OK && e->n->pi[13] && src >= 0 &&
            out_len(len, p.kernel[i], p.stride[i], pad, 1, 1) != out_len(len, p.kernel[i], p.stride[i], pad, 1, 0))
            st = clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_UNSUPPORTED,
                                 "ceil_mode=1 adds a partial window here (input %lld, kernel %d, stride %d); "
                                 "clgrad's pooling has no partial windows", (long long)len, p.kernel[i], p.stride[i]);
    }
    if (st == CLGRAD_OK)
        st = !strcmp(e->n->op, "MaxPool") ? clgrad_max_pool2d(x2, &p, &y, NULL) : clgrad_avg_pool2d(x2, &p, &y);
    clgrad_tensor_release(x2);
    if (st != CLGRAD_OK) return st;
    return set_from_2d(e, one_d, y);
}

static clgrad_status global_pool_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    clgrad__ox_value *x = clgrad__ox_in(g, n, 0), *y = clgrad__ox_out(g, n, 0);
    if (x->type && x->type != OX_FLOAT)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "%s of integer data is not supported", n->op);
    if (x->ndim >= 0 && x->ndim < 3) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "input of rank %d", x->ndim);
    clgrad__ox_set_shape(y, OX_FLOAT, x->ndim, x->shape);
    for (int d = 2; d < x->ndim; d++) y->shape[d] = 1;
    return CLGRAD_OK;
}

static clgrad_status global_pool_run(clgrad__ox_exec *e)
{
    clgrad_tensor *x, *y = NULL;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    int r = clgrad_tensor_ndim(x), axes[CLGRAD_MAX_DIMS];
    if (r < 3) return clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_SHAPE, "input of rank %d", r);
    for (int d = 2; d < r; d++) axes[d - 2] = d;
    clgrad_status st;
    if (!strcmp(e->n->op, "GlobalMaxPool")) st = clgrad_max(x, r - 2, axes, 1, &y);
    else if (r == 4) st = clgrad_global_avg_pool2d(x, &y);
    else st = clgrad_mean(x, r - 2, axes, 1, &y);
    if (st == CLGRAD_OK) clgrad__ox_set_out(e, 0, y);
    return st;
}

/* --- BatchNormalization and LayerNormalization ------------------------------------------------------- */

static clgrad_status bn_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    if (clgrad__ox_attr_int(n, "training_mode", 0))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "training_mode=1 (clgrad imports models for inference)");
    for (int i = 1; i < n->n_out; i++)
        if (n->out[i] >= 0)
            return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "the running statistics outputs are for training");
    if (g->opset < 9 && clgrad__ox_attr_int(n, "spatial", 1) != 1)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "spatial=0");
    n->pf[0] = clgrad__ox_attr_float(n, "epsilon", 1e-5);
    n->pf[1] = clgrad__ox_attr_float(n, "momentum", 0.9);
    const clgrad__ox_value *x = clgrad__ox_in(g, n, 0);
    if (x->ndim >= 0 && x->ndim < 2) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "input of rank %d", x->ndim);
    clgrad__ox_same_shape(g, n);
    return CLGRAD_OK;
}

static clgrad_status bn_run(clgrad__ox_exec *e)
{
    clgrad_tensor *t[5], *y = NULL;
    for (int i = 0; i < 5; i++) CLGRAD_TRY(clgrad__ox_dev(e, i, &t[i]));
    CLGRAD_TRY(clgrad_batch_norm(t[0], t[1], t[2], t[3], t[4], 0, (float)(1.0 - e->n->pf[1]), (float)e->n->pf[0], &y));
    clgrad__ox_set_out(e, 0, y);
    return CLGRAD_OK;
}

static clgrad_status ln_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    for (int i = 1; i < n->n_out; i++)
        if (n->out[i] >= 0)
            return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "the Mean and InvStdDev outputs are not supported");
    n->pf[0] = clgrad__ox_attr_float(n, "epsilon", 1e-5);
    const clgrad__ox_value *x = clgrad__ox_in(g, n, 0);
    if (x->type && x->type != OX_FLOAT)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "integer input");
    if (x->ndim >= 0) {
        int axis;
        CLGRAD_TRY(clgrad__ox_axis(g, n, clgrad__ox_attr_int(n, "axis", -1), x->ndim, &axis));
    }
    clgrad__ox_same_shape(g, n);
    return CLGRAD_OK;
}

static clgrad_status ln_run(clgrad__ox_exec *e)
{
    clgrad_tensor *x, *w, *b = NULL, *y = NULL;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &x));
    CLGRAD_TRY(clgrad__ox_dev(e, 1, &w));
    if (e->n->n_in > 2 && e->n->in[2] >= 0) CLGRAD_TRY(clgrad__ox_dev(e, 2, &b));
    int r = clgrad_tensor_ndim(x), axis;
    CLGRAD_TRY(clgrad__ox_axis(e->g, e->n, clgrad__ox_attr_int(e->n, "axis", -1), r, &axis));
    CLGRAD_TRY(clgrad_layer_norm(x, r - axis, w, b, (float)e->n->pf[0], &y));
    clgrad__ox_set_out(e, 0, y);
    return CLGRAD_OK;
}

/* --- Gemm and MatMul ----------------------------------------------------------------------------------- */

static clgrad_status gemm_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    const clgrad__ox_value *a = clgrad__ox_in(g, n, 0), *b = clgrad__ox_in(g, n, 1);
    n->pf[0] = clgrad__ox_attr_float(n, "alpha", 1.0);
    n->pf[1] = clgrad__ox_attr_float(n, "beta", 1.0);
    n->pi[0] = clgrad__ox_attr_int(n, "transA", 0) != 0;
    n->pi[1] = clgrad__ox_attr_int(n, "transB", 0) != 0;
    if ((a->ndim >= 0 && a->ndim != 2) || (b->ndim >= 0 && b->ndim != 2))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "A and B must be matrices (ranks %d and %d)", a->ndim, b->ndim);
    int64_t s[2] = {a->ndim == 2 ? a->shape[n->pi[0] ? 1 : 0] : -1, b->ndim == 2 ? b->shape[n->pi[1] ? 0 : 1] : -1};
    int64_t ka = a->ndim == 2 ? a->shape[n->pi[0] ? 0 : 1] : -1, kb = b->ndim == 2 ? b->shape[n->pi[1] ? 1 : 0] : -1;
    if (ka >= 0 && kb >= 0 && ka != kb)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "inner dimensions %lld and %lld differ", (long long)ka,
                               (long long)kb);
    clgrad__ox_set_shape(clgrad__ox_out(g, n, 0), OX_FLOAT, 2, s);
    return CLGRAD_OK;
}

static clgrad_status gemm_run(clgrad__ox_exec *e)
{
    clgrad_tensor *a, *b, *c = NULL, *y = NULL, *cx = NULL;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &a));
    CLGRAD_TRY(clgrad__ox_dev(e, 1, &b));
    int ta = (int)e->n->pi[0], tb = (int)e->n->pi[1];
    float alpha = (float)e->n->pf[0], beta = (float)e->n->pf[1];
    if (e->n->n_in > 2 && e->n->in[2] >= 0 && beta != 0.0f) CLGRAD_TRY(clgrad__ox_dev(e, 2, &c));
    if (clgrad_tensor_ndim(a) != 2 || clgrad_tensor_ndim(b) != 2)
        return clgrad__ox_fail(e->g, e->n, CLGRAD_ERR_SHAPE, "A and B must be matrices");
    int64_t s[2] = {clgrad_tensor_dim(a, ta ? 1 : 0), clgrad_tensor_dim(b, tb ? 0 : 1)};
    clgrad_status st = clgrad_tensor_empty(e->ctx, CLGRAD_DTYPE_F32, 2, s, &y);
    if (st == CLGRAD_OK && c) {
        /* y = C broadcast, then the GEMM adds alpha op(A) op(B) to beta y */
        st = clgrad_expand(c, 2, s, &cx);
        if (st == CLGRAD_OK) st = clgrad_copy_(y, cx);
    }
    if (st == CLGRAD_OK) st = clgrad_gemm(ta, tb, alpha, a, b, c ? beta : 0.0f, y);
    clgrad_tensor_release(cx);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    clgrad__ox_set_out(e, 0, y);
    return CLGRAD_OK;
}

static clgrad_status matmul_check(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    const clgrad__ox_value *a = clgrad__ox_in(g, n, 0), *b = clgrad__ox_in(g, n, 1);
    clgrad__ox_value *y = clgrad__ox_out(g, n, 0);
    if ((a->type && a->type != OX_FLOAT) || (b->type && b->type != OX_FLOAT))
        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "integer matrix products are not supported");
    clgrad__ox_set_shape(y, OX_FLOAT, -1, NULL);
    if (a->ndim < 1 || b->ndim < 1) {
        if (a->ndim == 0 || b->ndim == 0) return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "scalar operand");
        return CLGRAD_OK;
    }
    /* numpy: 1-D operands gain a dim that is dropped again; batch dims broadcast */
    clgrad__ox_value ab = *a, bb = *b, r = *a;
    int64_t m = a->ndim >= 2 ? a->shape[a->ndim - 2] : -2, k1 = a->shape[a->ndim - 1];
    int64_t k2 = b->ndim >= 2 ? b->shape[b->ndim - 2] : b->shape[0], nn = b->ndim >= 2 ? b->shape[b->ndim - 1] : -2;
    if (k1 >= 0 && k2 >= 0 && k1 != k2)
        return clgrad__ox_fail(g, n, CLGRAD_ERR_SHAPE, "inner dimensions %lld and %lld differ", (long long)k1,
                               (long long)k2);
    ab.ndim = a->ndim > 2 ? a->ndim - 2 : 0;
    bb.ndim = b->ndim > 2 ? b->ndim - 2 : 0;
    clgrad__ox_bcast_static(&ab, &bb, &r);
    int64_t s[CLGRAD_MAX_DIMS + 2];
    int k = 0;
    for (int d = 0; d < r.ndim; d++) s[k++] = r.shape[d];
    if (m != -2) s[k++] = m;
    if (nn != -2) s[k++] = nn;
    if (k > CLGRAD_MAX_DIMS) return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "too many dims");
    clgrad__ox_set_shape(y, OX_FLOAT, k, s);
    return CLGRAD_OK;
}

static clgrad_status matmul_run(clgrad__ox_exec *e)
{
    clgrad_tensor *a, *b, *y = NULL;
    CLGRAD_TRY(clgrad__ox_dev(e, 0, &a));
    CLGRAD_TRY(clgrad__ox_dev(e, 1, &b));
    CLGRAD_TRY(clgrad_matmul(a, b, &y));
    clgrad__ox_set_out(e, 0, y);
    return CLGRAD_OK;
}

const clgrad__ox_op clgrad__ox_ops_nn[] = {
    {"Conv", 2, 3, 1, 1, 0, conv_check, NULL, conv_run, 0},
    {"ConvTranspose", 2, 3, 1, 1, 0, conv_check, NULL, conv_run, 0},
    {"MaxPool", 1, 1, 1, 2, 0, pool_check, NULL, pool_run, 0},
    {"AveragePool", 1, 1, 1, 1, 0, pool_check, NULL, pool_run, 0},
    {"GlobalAveragePool", 1, 1, 1, 1, 0, global_pool_check, NULL, global_pool_run, 0},
    {"GlobalMaxPool", 1, 1, 1, 1, 0, global_pool_check, NULL, global_pool_run, 0},
    {"BatchNormalization", 5, 5, 1, 5, 0, bn_check, NULL, bn_run, 0},
    {"LayerNormalization", 2, 3, 1, 3, 0, ln_check, NULL, ln_run, 0},
    {"Gemm", 2, 3, 1, 1, 0, gemm_check, NULL, gemm_run, 0},
    {"MatMul", 2, 2, 1, 1, 0, matmul_check, NULL, matmul_run, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0},
};
