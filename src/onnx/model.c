/* The public model API: load (phase 1 in graph.c, then the constants device nodes read are
 * copied to the device once), describe inputs and outputs, run, release.
 *
 * A run walks the live nodes in order with one slot per value: device tensors for device
 * nodes, host tensors for the shape arithmetic left on the host. Constants are served from
 * the device copies made at load (and their host tensors where a node reads them there). A
 * value is dropped right after its last reader, so the buffer pool recycles its memory for
 * the next layers. Runs record nothing for autograd. */
#include "onnx/onnx.h"

#include "core/file.h"
#include "io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct clgrad_onnx_model {
    clgrad_context *ctx;
    clgrad__ox_graph *g;
    clgrad_tensor **dev;   /* per value: the device copy of a constant, or NULL */
    clgrad__ox_rv *slots;  /* per value, during a run */
    int64_t weight_bytes;
    int nodes_run, nodes_on_host;
    int profiling;
    double *node_seconds; /* per node, when profiling */
    int64_t *node_runs;
};

CLGRAD_API int clgrad_onnx_available(void) { return 1; }

static void slot_clear(clgrad__ox_rv *r)
{
    clgrad_tensor_release(r->t);
    if (r->h_owned) clgrad__ox_host_free(r->h);
    memset(r, 0, sizeof *r);
}

CLGRAD_API void clgrad_onnx_release(clgrad_onnx_model *m)
{
    if (!m) return;
    if (m->g) {
        for (int i = 0; i < m->g->n_values; i++) {
            if (m->dev) clgrad_tensor_release(m->dev[i]);
            if (m->slots) slot_clear(&m->slots[i]);
        }
    }
    free(m->dev);
    free(m->slots);
    free(m->node_seconds);
    free(m->node_runs);
    clgrad__ox_graph_free(m->g);
    free(m);
}

/* Re-records the calling thread's last message on ctx too. */
static clgrad_status on_ctx(clgrad_context *ctx, clgrad_status st)
{
    if (st == CLGRAD_OK || !ctx) return st;
    char *msg = strdup(clgrad_last_error(NULL));
    clgrad__fail(ctx, st, "%s", msg ? msg : "out of host memory");
    free(msg);
    return st;
}

/* Copies the constants device nodes read to the device; frees the host copies of large
 * float constants nothing reads on the host. */
static clgrad_status bind(clgrad_onnx_model *m)
{
    clgrad__ox_graph *g = m->g;
    char *host_needed = calloc((size_t)g->n_values + 1, 1);
    if (!host_needed) return clgrad__fail(m->ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", g->name);
    for (int k = 0; k < g->n_nodes; k++) {
        const clgrad__ox_node *n = &g->nodes[k];
        if (n->removed) continue;
        m->nodes_run++;
        m->nodes_on_host += n->on_host;
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0 && (n->on_host || ((n->def->host_inputs >> i) & 1))) host_needed[n->in[i]] = 1;
    }
    clgrad_status st = CLGRAD_OK;
    for (int i = 0; i < g->n_values && st == CLGRAD_OK; i++) {
        clgrad__ox_value *v = &g->values[i];
        if (!v->konst || !v->device_const) continue;
        st = clgrad__ox_upload(m->ctx, v->konst, v->device_int, v->name, &m->dev[i]);
        if (st != CLGRAD_OK) break;
        m->weight_bytes += clgrad_tensor_numel(m->dev[i]) * 4;
        if (!host_needed[i] && !v->is_output && v->konst->type == OX_FLOAT && v->konst->n > 64) {
            clgrad__ox_host_free(v->konst); /* the device copy serves every reader */
            v->konst = NULL;
        }
    }
    free(host_needed);
    return st;
}

CLGRAD_API clgrad_status clgrad_onnx_load_memory(clgrad_context *ctx, const void *data, size_t size,
                                                 const clgrad_onnx_options *opts, clgrad_onnx_model **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && out != NULL && (data != NULL || size == 0), "ctx, data and out");
    return clgrad__onnx_load_named(ctx, data, size, "<memory>", opts, out);
}

clgrad_status clgrad__onnx_load_named(clgrad_context *ctx, const void *data, size_t size, const char *name,
                                      const clgrad_onnx_options *opts, clgrad_onnx_model **out)
{
    clgrad_onnx_model *m = calloc(1, sizeof *m);
    if (!m) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", name);
    m->ctx = ctx;
    clgrad_status st = clgrad__ox_parse(data, size, name, opts ? opts->flags : 0, &m->g);
    if (st == CLGRAD_OK) {
        m->dev = calloc((size_t)m->g->n_values + 1, sizeof *m->dev);
        m->slots = calloc((size_t)m->g->n_values + 1, sizeof *m->slots);
        if (!m->dev || !m->slots) st = clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", name);
    }
    if (st == CLGRAD_OK) st = bind(m);
    if (st != CLGRAD_OK) {
        clgrad_onnx_release(m);
        return on_ctx(ctx, st);
    }
    *out = m;
    return CLGRAD_OK;
}

CLGRAD_API clgrad_status clgrad_onnx_load(clgrad_context *ctx, const char *path, const clgrad_onnx_options *opts,
                                          clgrad_onnx_model **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && path != NULL && out != NULL, "ctx, path and out must not be NULL");
    uint8_t *buf = NULL;
    size_t len = 0;
    clgrad_status st = clgrad__file_read(path, SIZE_MAX, 0, &buf, &len); /* the caller's own file */
    if (st != CLGRAD_OK) return on_ctx(ctx, st);
    st = clgrad__onnx_load_named(ctx, buf, len, path, opts, out);
    free(buf);
    return st;
}

/* --- inputs and outputs -------------------------------------------------------------------------- */

CLGRAD_API int clgrad_onnx_input_count(const clgrad_onnx_model *m) { return m ? m->g->n_inputs : 0; }
CLGRAD_API int clgrad_onnx_output_count(const clgrad_onnx_model *m) { return m ? m->g->n_outputs : 0; }

static void fill_io(const clgrad__ox_value *v, int declared, clgrad_onnx_io *info)
{
    memset(info, 0, sizeof *info);
    info->name = v->name;
    info->type = (clgrad_onnx_type)v->type;
    info->dtype = v->type == OX_FLOAT ? CLGRAD_DTYPE_F32 : CLGRAD_DTYPE_I32;
    int nd = declared && v->decl_ndim >= 0 ? v->decl_ndim : v->ndim;
    const int64_t *s = declared && v->decl_ndim >= 0 ? v->decl_shape : v->shape;
    info->ndim = nd;
    for (int d = 0; d < nd && d < CLGRAD_MAX_DIMS; d++) {
        info->shape[d] = s[d];
        /* a dimension the file declares open, or one load could not pin down */
        if (v->ndim == nd && v->shape[d] >= 0 && s[d] < 0) info->shape[d] = v->shape[d];
        info->dim_names[d] = info->shape[d] < 0 ? v->dim_names[d] : NULL;
    }
}

CLGRAD_API clgrad_status clgrad_onnx_input(const clgrad_onnx_model *m, int i, clgrad_onnx_io *info)
{
    CLGRAD_CHECK_ARG(m ? m->ctx : NULL, m && info && i >= 0 && i < m->g->n_inputs, "i out of range or NULL");
    fill_io(&m->g->values[m->g->inputs[i]], 0, info);
    return CLGRAD_OK;
}

CLGRAD_API clgrad_status clgrad_onnx_output(const clgrad_onnx_model *m, int i, clgrad_onnx_io *info)
{
    CLGRAD_CHECK_ARG(m ? m->ctx : NULL, m && info && i >= 0 && i < m->g->n_outputs, "i out of range or NULL");
    fill_io(&m->g->values[m->g->outputs[i]], 1, info);
    return CLGRAD_OK;
}

CLGRAD_API clgrad_status clgrad_onnx_get_stats(const clgrad_onnx_model *m, clgrad_onnx_stats *out)
{
    CLGRAD_CHECK_ARG(m ? m->ctx : NULL, m && out, "m and out must not be NULL");
    memset(out, 0, sizeof *out);
    out->ir_version = m->g->ir_version;
    out->opset = m->g->opset;
    out->nodes_in_file = m->g->nodes_in_file;
    out->nodes_run = m->nodes_run;
    out->nodes_folded = m->g->folded;
    out->nodes_on_host = m->nodes_on_host;
    out->conv_bn_fused = m->g->fused_conv_bn;
    out->gelu_fused = m->g->fused_gelu;
    out->layer_norm_fused = m->g->fused_ln;
    out->weight_bytes = m->weight_bytes;
    snprintf(out->producer, sizeof out->producer, "%s", m->g->producer);
    return CLGRAD_OK;
}

/* --- profiling ------------------------------------------------------------------------------------- */

CLGRAD_API void clgrad_onnx_profile_enable(clgrad_onnx_model *m, int on)
{
    if (!m) return;
    m->profiling = 0;
    if (!on) return;
    free(m->node_seconds);
    free(m->node_runs);
    m->node_seconds = calloc((size_t)m->g->n_nodes + 1, sizeof *m->node_seconds);
    m->node_runs = calloc((size_t)m->g->n_nodes + 1, sizeof *m->node_runs);
    m->profiling = m->node_seconds && m->node_runs;
}

CLGRAD_API int clgrad_onnx_profile(const clgrad_onnx_model *m, clgrad_onnx_node_time *out, int cap)
{
    if (!m) return 0;
    int n = 0;
    for (int k = 0; k < m->g->n_nodes; k++) {
        const clgrad__ox_node *nd = &m->g->nodes[k];
        if (nd->removed) continue;
        if (out && n < cap)
            out[n] = (clgrad_onnx_node_time){nd->name, nd->op, m->node_seconds ? m->node_seconds[k] : 0,
                                             m->node_runs ? m->node_runs[k] : 0};
        n++;
    }
    return n;
}

/* --- running --------------------------------------------------------------------------------------- */

/* Checks input tensor t against graph input v (dtype, rank, fixed dims). */
static clgrad_status check_input(const clgrad_onnx_model *m, const clgrad__ox_value *v, clgrad_tensor *t)
{
    const clgrad__ox_graph *g = m->g;
    if (!t) return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "%s: input '%s' is NULL", g->name, v->name);
    if (clgrad_tensor_context(t) != m->ctx)
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "%s: input '%s' belongs to another context", g->name,
                            v->name);
    clgrad_dtype want = v->type == OX_FLOAT ? CLGRAD_DTYPE_F32 : CLGRAD_DTYPE_I32;
    if (clgrad_tensor_dtype(t) != want)
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "%s: input '%s' must be %s", g->name, v->name,
                            want == CLGRAD_DTYPE_F32 ? "f32" : "i32 (the model's integer input)");
    int nd = clgrad_tensor_ndim(t);
    int64_t s[CLGRAD_MAX_DIMS];
    clgrad_tensor_shape(t, s);
    int ok = v->ndim < 0 || nd == v->ndim;
    for (int d = 0; ok && d < nd && v->ndim >= 0; d++) ok = v->shape[d] < 0 || v->shape[d] == s[d];
    if (!ok) {
        char a[256], b[256];
        int64_t decl[CLGRAD_MAX_DIMS];
        for (int d = 0; d < v->ndim; d++) decl[d] = v->shape[d];
        return clgrad__fail(m->ctx, CLGRAD_ERR_SHAPE, "%s: input '%s' has shape %s; the model takes %s (-1: any size)",
                            g->name, v->name, clgrad__shape_str(a, sizeof a, nd, s),
                            clgrad__shape_str(b, sizeof b, v->ndim, decl));
    }
    return CLGRAD_OK;
}

/* Runs node k; the outputs land in the slots. */
static clgrad_status run_node(clgrad_onnx_model *m, int k)
{
    clgrad__ox_graph *g = m->g;
    const clgrad__ox_node *n = &g->nodes[k];
    clgrad__ox_rv in[64], out[64];
    memset(out, 0, sizeof(clgrad__ox_rv) * (size_t)n->n_out);
    for (int i = 0; i < n->n_in; i++) {
        int v = n->in[i];
        memset(&in[i], 0, sizeof in[i]);
        if (v < 0) continue;
        if (g->values[v].konst || m->dev[v]) {
            in[i].t = m->dev[v];
            in[i].h = g->values[v].konst;
        } else {
            in[i].t = m->slots[v].t;
            in[i].h = m->slots[v].h;
        }
    }
    clgrad_status st;
    if (n->on_host) {
        const clgrad__ox_host *hin[64];
        clgrad__ox_host stubs[64], *hout[64] = {0};
        for (int i = 0; i < n->n_in; i++) {
            hin[i] = in[i].h;
            if (!in[i].h && in[i].t) { /* Shape / Size of a device tensor: its shape only */
                memset(&stubs[i], 0, sizeof stubs[i]);
                stubs[i].type = OX_FLOAT;
                stubs[i].ndim = clgrad_tensor_ndim(in[i].t);
                clgrad_tensor_shape(in[i].t, stubs[i].shape);
                hin[i] = &stubs[i];
            }
        }
        st = n->def->host(g, n, hin, hout);
        for (int i = 0; i < n->n_out; i++) {
            if (st == CLGRAD_OK && n->out[i] >= 0 && hout[i]) {
                clgrad__ox_rv *r = &m->slots[n->out[i]];
                slot_clear(r);
                r->h = hout[i];
                r->h_owned = 1;
            } else {
                clgrad__ox_host_free(hout[i]);
            }
        }
        return st;
    }
    clgrad_tensor *given[64];
    for (int i = 0; i < n->n_in; i++) given[i] = in[i].t;
    clgrad__ox_exec e = {m->ctx, g, n, in, out};
    st = n->def->run(&e);
    for (int i = 0; i < n->n_in; i++)
        if (in[i].t != given[i]) clgrad_tensor_release(in[i].t); /* uploaded for this node */
    for (int i = 0; i < n->n_out; i++) {
        if (st == CLGRAD_OK && n->out[i] >= 0) {
            clgrad__ox_rv *r = &m->slots[n->out[i]];
            slot_clear(r);
            r->t = out[i].t;
        } else {
            clgrad_tensor_release(out[i].t);
        }
    }
    return st;
}

static void clear_slots(clgrad_onnx_model *m)
{
    for (int i = 0; i < m->g->n_values; i++) slot_clear(&m->slots[i]);
}

CLGRAD_API clgrad_status clgrad_onnx_run(clgrad_onnx_model *m, int n_in, clgrad_tensor *const *inputs, int n_out,
                                         clgrad_tensor **outputs)
{
    for (int i = 0; outputs && i < n_out; i++) outputs[i] = NULL; /* NULL on every failure */
    CLGRAD_CHECK_ARG(NULL, m != NULL, "m must not be NULL");
    clgrad__ox_graph *g = m->g;
    if (n_in != g->n_inputs || n_out != g->n_outputs || (n_in && !inputs) || (n_out && !outputs))
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "%s: the model takes %d inputs and gives %d outputs "
                            "(called with %d and %d)", g->name, g->n_inputs, g->n_outputs, n_in, n_out);
    for (int i = 0; i < n_in; i++) CLGRAD_TRY(check_input(m, &g->values[g->inputs[i]], inputs[i]));
    clear_slots(m);
    for (int i = 0; i < n_in; i++) m->slots[g->inputs[i]].t = clgrad_tensor_retain(inputs[i]);
    clgrad_status st = CLGRAD_OK;
    clgrad_no_grad_begin(m->ctx);
    for (int k = 0; k < g->n_nodes && st == CLGRAD_OK; k++) {
        const clgrad__ox_node *n = &g->nodes[k];
        if (n->removed) continue;
        double t0 = m->profiling ? clgrad__now() : 0;
        st = run_node(m, k);
        if (m->profiling && st == CLGRAD_OK) {
            st = clgrad_context_finish(m->ctx);
            m->node_seconds[k] += clgrad__now() - t0;
            m->node_runs[k]++;
        }
        if (st != CLGRAD_OK) {
            /* name the node unless the message does already */
            const char *msg = clgrad_last_error(NULL);
            char head[512];
            snprintf(head, sizeof head, "%s: node '%s' (%s): ", g->name, n->name, n->op);
            if (strncmp(msg, head, strlen(head)) != 0) {
                char *copy = strdup(msg);
                clgrad__fail(NULL, st, "%s%s", head, copy ? copy : "");
                free(copy);
            }
            break;
        }
        for (int i = 0; i < n->n_in; i++) {
            int v = n->in[i];
            if (v >= 0 && g->values[v].last_use == k && !g->values[v].is_output) slot_clear(&m->slots[v]);
        }
    }
    clgrad_no_grad_end(m->ctx);
    for (int i = 0; i < n_out && st == CLGRAD_OK; i++) {
        int v = g->outputs[i];
        if (m->dev[v]) outputs[i] = clgrad_tensor_retain(m->dev[v]);
        else if (m->slots[v].t) outputs[i] = clgrad_tensor_retain(m->slots[v].t);
        else if (m->slots[v].h)
            st = clgrad__ox_upload(m->ctx, m->slots[v].h, 0, g->values[v].name, &outputs[i]);
        else
            st = clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: output '%s' was not computed", g->name,
                              g->values[v].name);
    }
    clear_slots(m);
    if (st != CLGRAD_OK) {
        for (int i = 0; i < n_out; i++) {
            clgrad_tensor_release(outputs[i]);
            outputs[i] = NULL;
        }
        return on_ctx(m->ctx, st);
    }
    return CLGRAD_OK;
}

CLGRAD_API clgrad_status clgrad_onnx_run_host(clgrad_onnx_model *m, int n_in, const clgrad_onnx_array *inputs,
                                              int n_out, clgrad_onnx_array *outputs)
{
    CLGRAD_CHECK_ARG(NULL, m != NULL, "m must not be NULL");
    const clgrad__ox_graph *g = m->g;
    if (n_in != g->n_inputs || n_out != g->n_outputs || (n_in && !inputs) || (n_out && !outputs))
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "%s: the model takes %d inputs and gives %d outputs "
                            "(called with %d and %d)", g->name, g->n_inputs, g->n_outputs, n_in, n_out);
    clgrad_tensor *tin[64] = {0}, *tout[64] = {0};
    if (n_in > 64 || n_out > 64)
        return clgrad__fail(m->ctx, CLGRAD_ERR_UNSUPPORTED, "%s: more than 64 inputs or outputs", g->name);
    clgrad_status st = CLGRAD_OK;
    for (int i = 0; i < n_in && st == CLGRAD_OK; i++) {
        const clgrad_onnx_array *a = &inputs[i];
        const char *name = g->values[g->inputs[i]].name;
        if ((a->dtype != CLGRAD_DTYPE_F32 && a->dtype != CLGRAD_DTYPE_I32) || a->ndim < 0 ||
            a->ndim > CLGRAD_MAX_DIMS) {
            st = clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "%s: input '%s': dtype must be F32 or I32 and ndim "
                              "0..%d", g->name, name, CLGRAD_MAX_DIMS);
            break;
        }
        int64_t cnt = 1;
        for (int d = 0; d < a->ndim; d++) cnt = clgrad__ox_dim_mul(cnt, a->shape[d]);
        if (cnt < 0 || (size_t)cnt * 4 != a->nbytes || (!a->data && cnt)) {
            char sb[256];
            st = clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "%s: input '%s' of shape %s needs %lld bytes at data, "
                              "nbytes is %zu", g->name, name, clgrad__shape_str(sb, sizeof sb, a->ndim, a->shape),
                              (long long)cnt * 4, a->nbytes);
            break;
        }
        st = clgrad_tensor_from_host(m->ctx, a->dtype, a->ndim, a->shape, a->data, &tin[i]);
    }
    if (st == CLGRAD_OK) st = clgrad_onnx_run(m, n_in, tin, n_out, tout);
    int room = 1;
    for (int i = 0; i < n_out && st == CLGRAD_OK; i++) {
        clgrad_onnx_array *a = &outputs[i];
        a->dtype = clgrad_tensor_dtype(tout[i]);
        a->ndim = clgrad_tensor_ndim(tout[i]);
        clgrad_tensor_shape(tout[i], a->shape);
        size_t need = (size_t)clgrad_tensor_numel(tout[i]) * 4;
        if (need && need <= a->nbytes && !a->data) {
            st = clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "%s: outputs[%d].data is NULL (nbytes %zu)", g->name, i,
                              a->nbytes);
        } else if (need > a->nbytes) {
            room = 0;
            st = clgrad__fail(m->ctx, CLGRAD_ERR_SHAPE, "%s: output '%s' needs %zu bytes, outputs[%d].nbytes is %zu",
                              g->name, g->values[g->outputs[i]].name, need, i, a->nbytes);
        }
    }
    for (int i = n_out - 1; i >= 0 && st != CLGRAD_OK && !room; i--) /* fill every output's shape anyway */
        if (tout[i]) {
            outputs[i].dtype = clgrad_tensor_dtype(tout[i]);
            outputs[i].ndim = clgrad_tensor_ndim(tout[i]);
            clgrad_tensor_shape(tout[i], outputs[i].shape);
        }
    for (int i = 0; i < n_out && st == CLGRAD_OK; i++)
        st = clgrad_tensor_read(tout[i], outputs[i].data, (size_t)clgrad_tensor_numel(tout[i]) * 4);
    for (int i = 0; i < 64; i++) {
        clgrad_tensor_release(tin[i]);
        clgrad_tensor_release(tout[i]);
    }
    return st;
}
