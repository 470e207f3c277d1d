/* The graph of a loaded model: values and nodes, attribute lookup, host tensors, and phase 1
 * of a load (clgrad__ox_parse): decode, check every node in order (folding what is constant
 * as it goes, so shape arithmetic collapses as soon as its inputs are known), fuse, then
 * decide where each remaining node runs and when each value can be dropped. */
#include "onnx/onnx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- data types ------------------------------------------------------------------------------ */

const char *clgrad__ox_type_name(int type, char *buf, size_t cap)
{
    static const char *names[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
                                  "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
                                  "COMPLEX128", "BFLOAT16"};
    if (type >= 0 && type < (int)(sizeof names / sizeof names[0])) return names[type];
    snprintf(buf, cap, "type %d", type);
    return buf;
}

int clgrad__ox_type_ok(int type)
{
    switch (type) {
    case OX_FLOAT: case OX_UINT8: case OX_INT8: case OX_UINT16: case OX_INT16: case OX_INT32: case OX_INT64:
    case OX_BOOL: case OX_UINT32: case OX_UINT64:
        return 1;
    default:
        return 0;
    }
}

int clgrad__ox_is_float(int type) { return type == OX_FLOAT; }

int64_t clgrad__ox_d2i(double v)
{
    if (!(v == v)) return 0;
    if (v >= 9.2233720368547758e18) return INT64_MAX;
    if (v <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)v;
}

#define DIM_LIMIT ((int64_t)1 << 60)

int64_t clgrad__ox_dim_mul(int64_t a, int64_t b)
{
    if (a < 0 || b < 0) return -1;
    if (a == 0 || b == 0) return 0;
    return a > DIM_LIMIT / b ? -1 : a * b;
}

int64_t clgrad__ox_dim_add(int64_t a, int64_t b)
{
    if (a < 0 || b < 0 || a > DIM_LIMIT - b) return -1;
    return a + b;
}

/* --- host tensors ------------------------------------------------------------------------------ */

clgrad_status clgrad__ox_host_new(int type, int ndim, const int64_t *shape, const char *what, clgrad__ox_host **out)
{
    *out = NULL;
    int64_t n = 1;
    if (ndim < 0 || ndim > CLGRAD_MAX_DIMS)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: %d dimensions (at most %d)", what, ndim,
                            CLGRAD_MAX_DIMS);
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return clgrad__fail(NULL, CLGRAD_ERR_SHAPE, "%s: negative dimension %lld", what,
                                              (long long)shape[d]);
        if (shape[d] > 0 && n > CLGRAD__OX_HOST_MAX / shape[d]) n = CLGRAD__OX_HOST_MAX + 1;
        else n *= shape[d];
    }
    if (n > CLGRAD__OX_HOST_MAX)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: a host tensor of more than %lld elements", what,
                            (long long)CLGRAD__OX_HOST_MAX);
    clgrad__ox_host *h = calloc(1, sizeof *h);
    if (!h) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", what);
    h->type = type;
    h->ndim = ndim;
    if (ndim) memcpy(h->shape, shape, sizeof(int64_t) * (size_t)ndim);
    h->n = n;
    if (type == OX_FLOAT) h->f = calloc((size_t)(n ? n : 1), sizeof(float));
    else h->i = calloc((size_t)(n ? n : 1), sizeof(int64_t));
    if (!h->f && !h->i) {
        free(h);
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory for %lld elements", what,
                            (long long)n);
    }
    *out = h;
    return CLGRAD_OK;
}

void clgrad__ox_host_free(clgrad__ox_host *h)
{
    if (!h) return;
    free(h->f);
    free(h->i);
    free(h);
}

clgrad_status clgrad__ox_host_copy(const clgrad__ox_host *h, clgrad__ox_host **out)
{
    CLGRAD_TRY(clgrad__ox_host_new(h->type, h->ndim, h->shape, "copy", out));
    if (h->f) memcpy((*out)->f, h->f, (size_t)h->n * sizeof(float));
    if (h->i) memcpy((*out)->i, h->i, (size_t)h->n * sizeof(int64_t));
    return CLGRAD_OK;
}

double clgrad__ox_host_get(const clgrad__ox_host *h, int64_t k)
{
    return h->f ? (double)h->f[k] : (double)h->i[k];
}

int64_t clgrad__ox_host_geti(const clgrad__ox_host *h, int64_t k)
{
    return h->i ? h->i[k] : clgrad__ox_d2i((double)h->f[k]);
}

/* --- values and nodes -------------------------------------------------------------------------- */

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

int clgrad__ox_value_find(const clgrad__ox_graph *g, const char *name)
{
    if (!g->cap_index) return -1;
    for (uint32_t at = name_hash(name) & (uint32_t)(g->cap_index - 1);; at = (at + 1) & (uint32_t)(g->cap_index - 1)) {
        int k = g->index[at] - 1;
        if (k < 0) return -1;
        if (strcmp(g->values[k].name, name) == 0) return k;
    }
}

/* Enters value k into the name index, growing it to keep it at most half full. */
static int index_add(clgrad__ox_graph *g, int k)
{
    if (2 * (g->n_values + 1) > g->cap_index) {
        int cap = g->cap_index ? 2 * g->cap_index : 128;
        int *idx = calloc((size_t)cap, sizeof *idx);
        if (!idx) return 0;
        free(g->index);
        g->index = idx;
        g->cap_index = cap;
        for (int i = 0; i < g->n_values; i++)
            if (i != k) index_add(g, i);
    }
    uint32_t at = name_hash(g->values[k].name) & (uint32_t)(g->cap_index - 1);
    while (g->index[at]) at = (at + 1) & (uint32_t)(g->cap_index - 1);
    g->index[at] = k + 1;
    return 1;
}

static clgrad_status value_add(clgrad__ox_graph *g, char *name, int *index)
{
    if (!name) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", g->name);
    if (g->n_values == g->cap_values) {
        int cap = g->cap_values ? 2 * g->cap_values : 64;
        clgrad__ox_value *v = realloc(g->values, (size_t)cap * sizeof *v);
        if (!v) {
            free(name);
            return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", g->name);
        }
        g->values = v;
        g->cap_values = cap;
    }
    clgrad__ox_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->ndim = -1;
    v->decl_ndim = -1;
    v->producer = -1;
    v->last_use = -1;
    *index = g->n_values++;
    if (!index_add(g, *index)) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", g->name);
    return CLGRAD_OK;
}

clgrad_status clgrad__ox_value_get(clgrad__ox_graph *g, const char *name, int *index)
{
    /* linear search on small graphs; a hash for larger ones is not needed at these sizes
     * (values are looked up once per node input while decoding) */
    int k = clgrad__ox_value_find(g, name);
    if (k >= 0) {
        *index = k;
        return CLGRAD_OK;
    }
    return value_add(g, strdup(name), index);
}

clgrad_status clgrad__ox_value_const(clgrad__ox_graph *g, const char *hint, clgrad__ox_host *h, int *index)
{
    char buf[160];
    snprintf(buf, sizeof buf, "%s#%d", hint, g->n_values);
    clgrad_status st = value_add(g, strdup(buf), index);
    if (st != CLGRAD_OK) {
        clgrad__ox_host_free(h);
        return st;
    }
    clgrad__ox_value *v = &g->values[*index];
    v->konst = h;
    clgrad__ox_set_shape(v, h->type, h->ndim, h->shape);
    return CLGRAD_OK;
}

clgrad_status clgrad__ox_node_add(clgrad__ox_graph *g, clgrad__ox_node **out)
{
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 64;
        clgrad__ox_node *v = realloc(g->nodes, (size_t)cap * sizeof *v);
        if (!v) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", g->name);
        g->nodes = v;
        g->cap_nodes = cap;
    }
    *out = &g->nodes[g->n_nodes++];
    memset(*out, 0, sizeof **out);
    return CLGRAD_OK;
}

const clgrad__ox_attr *clgrad__ox_attr_find(const clgrad__ox_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t clgrad__ox_attr_int(const clgrad__ox_node *n, const char *name, int64_t dflt)
{
    const clgrad__ox_attr *a = clgrad__ox_attr_find(n, name);
    return a && a->type == OX_ATTR_INT ? a->i : dflt;
}

double clgrad__ox_attr_float(const clgrad__ox_node *n, const char *name, double dflt)
{
    const clgrad__ox_attr *a = clgrad__ox_attr_find(n, name);
    return a && a->type == OX_ATTR_FLOAT ? a->f : a && a->type == OX_ATTR_INT ? (double)a->i : dflt;
}

const char *clgrad__ox_attr_str(const clgrad__ox_node *n, const char *name, const char *dflt)
{
    const clgrad__ox_attr *a = clgrad__ox_attr_find(n, name);
    return a && a->type == OX_ATTR_STRING ? a->s : dflt;
}

const int64_t *clgrad__ox_attr_ints(const clgrad__ox_node *n, const char *name, int *count)
{
    const clgrad__ox_attr *a = clgrad__ox_attr_find(n, name);
    if (!a || a->type != OX_ATTR_INTS) {
        *count = 0;
        return NULL;
    }
    *count = a->n;
    return a->ints;
}

void clgrad__ox_attrs_free(clgrad__ox_attr *a, int n)
{
    for (int i = 0; a && i < n; i++) {
        free(a[i].name);
        free(a[i].s);
        free(a[i].ints);
        free(a[i].floats);
        clgrad__ox_host_free(a[i].t);
        for (int k = 0; a[i].strs && k < a[i].n; k++) free(a[i].strs[k]);
        free(a[i].strs);
    }
    free(a);
}

clgrad_status clgrad__ox_fail(const clgrad__ox_graph *g, const clgrad__ox_node *n, clgrad_status s, const char *fmt,
                              ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return clgrad__fail(NULL, s, "%s: node '%s' (%s): %s", g->name, n->name, n->op, msg);
}

clgrad__ox_value *clgrad__ox_in(const clgrad__ox_graph *g, const clgrad__ox_node *n, int i)
{
    return i < n->n_in && n->in[i] >= 0 ? &g->values[n->in[i]] : NULL;
}

clgrad__ox_value *clgrad__ox_out(const clgrad__ox_graph *g, const clgrad__ox_node *n, int i)
{
    return i < n->n_out && n->out[i] >= 0 ? &g->values[n->out[i]] : NULL;
}

const clgrad__ox_host *clgrad__ox_in_const(const clgrad__ox_graph *g, const clgrad__ox_node *n, int i)
{
    const clgrad__ox_value *v = clgrad__ox_in(g, n, i);
    return v ? v->konst : NULL;
}

void clgrad__ox_graph_free(clgrad__ox_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_values; i++) {
        free(g->values[i].name);
        for (int d = 0; d < CLGRAD_MAX_DIMS; d++) free(g->values[i].dim_names[d]);
        clgrad__ox_host_free(g->values[i].konst);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        clgrad__ox_node *n = &g->nodes[i];
        free(n->name);
        free(n->op);
        free(n->domain);
        free(n->in);
        free(n->out);
        clgrad__ox_attrs_free(n->attrs, n->n_attrs);
    }
    free(g->values);
    free(g->index);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->name);
    free(g);
}

/* --- phase 1 ------------------------------------------------------------------------------------- */

const clgrad__ox_op *clgrad__ox_op_find(const char *name)
{
    const clgrad__ox_op *tables[] = {clgrad__ox_ops_shape, clgrad__ox_ops_value,  clgrad__ox_ops_select,
                                     clgrad__ox_ops_math,  clgrad__ox_ops_reduce, clgrad__ox_ops_nn,
                                     clgrad__ox_ops_rnn};
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const clgrad__ox_op *o = tables[t]; o->name; o++)
            if (strcmp(o->name, name) == 0) return o;
    return NULL;
}

/* Operators that read only their input's shape (they run on the host even when the input
 * lives on the device). */
static int shape_only(const clgrad__ox_node *n) { return !strcmp(n->op, "Shape") || !strcmp(n->op, "Size"); }

/* A host tensor describing only v's static shape (no data), for Shape and Size. */
static void shape_stub(const clgrad__ox_value *v, clgrad__ox_host *h)
{
    memset(h, 0, sizeof *h);
    h->type = v->type ? v->type : OX_FLOAT;
    h->ndim = v->ndim;
    memcpy(h->shape, v->shape, sizeof h->shape);
}

static int static_known(const clgrad__ox_value *v)
{
    if (v->ndim < 0) return 0;
    for (int d = 0; d < v->ndim; d++)
        if (v->shape[d] < 0) return 0;
    return 1;
}

/* Evaluates n on the host now, its inputs all known; the outputs become constants. */
static clgrad_status fold(clgrad__ox_graph *g, clgrad__ox_node *n)
{
    const clgrad__ox_host *in[64] = {0};
    clgrad__ox_host stub, *out[64] = {0};
    for (int i = 0; i < n->n_in; i++) {
        const clgrad__ox_value *v = clgrad__ox_in(g, n, i);
        if (!v) continue;
        if (v->konst) in[i] = v->konst;
        else {
            shape_stub(v, &stub);
            in[i] = &stub;
        }
    }
    clgrad_status st = n->def->host(g, n, in, out);
    for (int i = 0; i < n->n_out; i++) {
        clgrad__ox_value *v = clgrad__ox_out(g, n, i);
        if (st == CLGRAD_OK && v && out[i]) {
            v->konst = out[i];
            clgrad__ox_set_shape(v, out[i]->type, out[i]->ndim, out[i]->shape);
            out[i] = NULL;
        }
        clgrad__ox_host_free(out[i]);
    }
    if (st == CLGRAD_OK) {
        n->removed = 1;
        if (strcmp(n->op, "Constant") != 0) g->folded++;
    }
    return st;
}

static clgrad_status check_nodes(clgrad__ox_graph *g)
{
    char *defined = calloc((size_t)g->n_values + 1, 1);
    if (!defined) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", g->name);
    clgrad_status st = CLGRAD_OK;
    for (int i = 0; i < g->n_values; i++) defined[i] = g->values[i].konst || g->values[i].is_input;
    for (int k = 0; k < g->n_nodes && st == CLGRAD_OK; k++) {
        clgrad__ox_node *n = &g->nodes[k];
        if (n->domain[0] && strcmp(n->domain, "ai.onnx") != 0) {
            st = clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "operator domain '%s' is not supported (only the "
                                 "default ONNX domain is)", n->domain);
            break;
        }
        n->def = clgrad__ox_op_find(n->op);
        if (!n->def) {
            st = clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED, "operator %s is not supported by clgrad (opset %lld)",
                                 n->op, (long long)g->opset);
            break;
        }
        if (n->n_in < n->def->min_in || n->n_in > n->def->max_in || n->n_out < n->def->min_out ||
            n->n_out > n->def->max_out) {
            st = clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "%d inputs and %d outputs; %s takes %d to %d inputs and %d "
                                 "to %d outputs", n->n_in, n->n_out, n->op, n->def->min_in, n->def->max_in,
                                 n->def->min_out, n->def->max_out);
            break;
        }
        /* required inputs (and every input of a variadic operator) and output 0 are there */
        for (int i = 0; i < n->n_in && st == CLGRAD_OK; i++)
            if (n->in[i] < 0 && (i < n->def->min_in || n->def->max_in == 64))
                st = clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "input %d is required but left out", i);
        if (st == CLGRAD_OK && n->def->min_out > 0 && n->out[0] < 0)
            st = clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "output 0 is required but left out");
        for (int i = 0; i < n->n_in && st == CLGRAD_OK; i++)
            if (n->in[i] >= 0 && !defined[n->in[i]])
                st = clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "input '%s' is produced by no earlier node, input or "
                                     "initializer (the graph must be in topological order)",
                                     g->values[n->in[i]].name);
        for (int i = 0; i < n->n_out && st == CLGRAD_OK; i++) {
            int o = n->out[i];
            if (o < 0) continue;
            if (defined[o]) st = clgrad__ox_fail(g, n, CLGRAD_ERR_IO, "output '%s' is already defined",
                                                 g->values[o].name);
            defined[o] = 1;
            g->values[o].producer = k;
            g->values[o].type = 0;
            g->values[o].ndim = -1;
        }
        if (st != CLGRAD_OK) break;
        if (n->def->check) st = n->def->check(g, n);
        if (st != CLGRAD_OK) break;
        /* fold what is known now */
        int foldable = n->def->host != NULL && (!(g->flags & CLGRAD_ONNX_NO_FOLDING) || n->n_in == 0);
        for (int i = 0; i < n->n_in && foldable; i++) {
            const clgrad__ox_value *v = clgrad__ox_in(g, n, i);
            if (v && !v->konst && !(shape_only(n) && static_known(v))) foldable = 0;
        }
        if (foldable) st = fold(g, n);
    }
    for (int i = 0; i < g->n_outputs && st == CLGRAD_OK; i++)
        if (!defined[g->outputs[i]])
            st = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: graph output '%s' is produced by no node", g->name,
                              g->values[g->outputs[i]].name);
    free(defined);
    return st;
}

/* Where each remaining node runs, which constants go to the device, when values die. */
static clgrad_status place(clgrad__ox_graph *g)
{
    for (int k = 0; k < g->n_nodes; k++) {
        clgrad__ox_node *n = &g->nodes[k];
        if (n->removed) continue;
        int host = n->def->host != NULL;
        for (int i = 0; i < n->n_in && host; i++) {
            const clgrad__ox_value *v = clgrad__ox_in(g, n, i);
            if (v && !v->konst && !v->on_host && !shape_only(n)) host = 0;
        }
        /* float data goes to the device unless it is known to be small (shape arithmetic is
         * integer; a float result on the host is a small constant such as zero states) */
        const clgrad__ox_value *o0 = clgrad__ox_out(g, n, 0);
        if (host && n->def->run && !shape_only(n) && o0 && o0->type == OX_FLOAT) {
            int64_t c = static_known(o0) ? 1 : -1;
            for (int d = 0; c > 0 && d < o0->ndim; d++) c *= o0->shape[d];
            if (c < 0 || c > 65536) host = 0;
        }
        n->on_host = host;
        for (int i = 0; i < n->n_out; i++) {
            clgrad__ox_value *v = clgrad__ox_out(g, n, i);
            if (v) v->on_host = host;
        }
        if (!host) {
            if (!n->def->run)
                return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED,
                                       "%s runs on the host only, and an input is computed on the device", n->op);
            for (int i = 0; i < n->n_in; i++) {
                clgrad__ox_value *v = clgrad__ox_in(g, n, i);
                if (!v) continue;
                if ((n->def->host_inputs >> i) & 1) {
                    if (!v->konst && !v->on_host)
                        return clgrad__ox_fail(g, n, CLGRAD_ERR_UNSUPPORTED,
                                               "input %d ('%s') must be known from constants and shapes, but it is "
                                               "computed from tensor data on the device", i, v->name);
                } else if (v->konst) {
                    v->device_const = 1;
                    if (((n->def->int_inputs >> i) & 1) || (v->konst->type != OX_FLOAT && v->konst->type != OX_BOOL))
                        v->device_int = 1;
                }
            }
        }
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0) g->values[n->in[i]].last_use = k;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        clgrad__ox_value *v = &g->values[g->outputs[i]];
        if (v->konst) v->device_const = 1;
    }
    return CLGRAD_OK;
}

/* Graph inputs: supported types and ranks. */
static clgrad_status check_inputs(clgrad__ox_graph *g)
{
    char tb[32];
    for (int i = 0; i < g->n_inputs; i++) {
        clgrad__ox_value *v = &g->values[g->inputs[i]];
        if (!clgrad__ox_type_ok(v->type))
            return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: graph input '%s' has data type %s (clgrad takes "
                                "FLOAT and integer inputs)", g->name, v->name,
                                clgrad__ox_type_name(v->type, tb, sizeof tb));
    }
    return CLGRAD_OK;
}

clgrad_status clgrad__ox_parse(const void *data, size_t size, const char *name, uint32_t flags,
                               clgrad__ox_graph **out)
{
    *out = NULL;
    clgrad__ox_graph *g = calloc(1, sizeof *g);
    if (!g || !(g->name = strdup(name ? name : "<memory>"))) {
        free(g);
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "out of host memory loading an ONNX model");
    }
    g->flags = flags;
    clgrad_status st = clgrad__ox_decode(data, size, g);
    if (st == CLGRAD_OK) {
        g->nodes_in_file = g->n_nodes;
        st = check_inputs(g);
    }
    if (st == CLGRAD_OK) st = check_nodes(g);
    if (st == CLGRAD_OK) st = clgrad__ox_optimize(g); /* fusions unless NO_FUSION; dead nodes */
    if (st == CLGRAD_OK) st = place(g);
    if (st != CLGRAD_OK) {
        clgrad__ox_graph_free(g);
        return st;
    }
    *out = g;
    return CLGRAD_OK;
}
