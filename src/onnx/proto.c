/* Decoding a .onnx file: the ModelProto is unpacked by protobuf-c from the C code that
 * protoc-c generates at build time from onnx.proto, then copied into the graph structure of
 * src/onnx/onnx.h (values, nodes with their attributes, initializers as host tensors) and
 * the protobuf-c objects are freed.
 *
 * Before unpacking, a walk over the wire format bounds the nesting of messages (protobuf-c
 * unpacks sub-messages recursively, so a file of nested attribute graphs could otherwise
 * exhaust the stack). The walk uses the generated descriptors to tell sub-messages from
 * byte strings and keeps its own stack. */
#include "onnx/onnx.h"

#include "onnx.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- nesting bound ------------------------------------------------------------------------------ */

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return 0;
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 1;
        }
    }
    return 0;
}

/* 0: fine (or malformed in a way protobuf-c reports itself); 1: nested too deeply. */
static int too_deep(const uint8_t *data, size_t size)
{
    struct frame {
        const uint8_t *p, *end;
        const ProtobufCMessageDescriptor *d;
    } st[CLGRAD__OX_MAX_DEPTH + 1];
    int top = 0;
    st[0] = (struct frame){data, data + size, &onnx__model_proto__descriptor};
    while (top >= 0) {
        struct frame *f = &st[top];
        if (f->p >= f->end) {
            top--;
            continue;
        }
        uint64_t key, len;
        if (!read_varint(&f->p, f->end, &key)) return 0;
        switch (key & 7) {
        case 0:
            if (!read_varint(&f->p, f->end, &len)) return 0;
            break;
        case 1:
            if (f->end - f->p < 8) return 0;
            f->p += 8;
            break;
        case 5:
            if (f->end - f->p < 4) return 0;
            f->p += 4;
            break;
        case 2: {
            if (!read_varint(&f->p, f->end, &len) || len > (uint64_t)(f->end - f->p)) return 0;
            const ProtobufCFieldDescriptor *fd =
                key >> 3 <= 0xffffffffu ? protobuf_c_message_descriptor_get_field(f->d, (unsigned)(key >> 3)) : NULL;
            const uint8_t *sub = f->p;
            f->p += len;
            if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (top == CLGRAD__OX_MAX_DEPTH) return 1;
                st[++top] = (struct frame){sub, sub + len, fd->descriptor};
            }
            break;
        }
        default:
            return 0; /* groups and invalid wire types: protobuf-c rejects them */
        }
    }
    return 0;
}

/* --- helpers ------------------------------------------------------------------------------------ */

static clgrad_status oom(const clgrad__ox_graph *g)
{
    return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", g->name);
}

static char *dup(const char *s)
{
    return strdup(s ? s : "");
}

/* The tensor's type and shape, checked: data inside the file, whole, of a type clgrad
 * reads, valid dimensions; *n the element count. */
static clgrad_status tensor_header(const clgrad__ox_graph *g, const Onnx__TensorProto *t, const char *what,
                                   int *type_out, int64_t *shape, int64_t *n_out)
{
    char tb[32];
    int type = t->has_data_type ? t->data_type : OX_UNDEFINED;
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED,
                            "%s: %s keeps its data in an external file, which clgrad does not read (save the "
                            "model with its weights inside)", g->name, what);
    if (t->segment)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: %s is a segment of a tensor (not supported)", g->name,
                            what);
    if (!clgrad__ox_type_ok(type))
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: %s has data type %s (clgrad reads FLOAT, the integer "
                            "types up to INT64 and BOOL)", g->name, what, clgrad__ox_type_name(type, tb, sizeof tb));
    if (t->n_dims > CLGRAD_MAX_DIMS)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: %s has %zu dimensions (at most %d)", g->name, what,
                            t->n_dims, CLGRAD_MAX_DIMS);
    int64_t n = 1;
    for (size_t d = 0; d < t->n_dims; d++) {
        shape[d] = t->dims[d];
        if (shape[d] < 0 || shape[d] > CLGRAD__OX_DIM_MAX || (shape[d] > 0 && n > INT64_MAX / 16 / shape[d]))
            return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: %s has an invalid dimension %lld", g->name, what,
                                (long long)shape[d]);
        n *= shape[d];
    }
    *type_out = type;
    *n_out = n;
    return CLGRAD_OK;
}

/* The size of an element of type in raw_data. */
static size_t raw_elem_size(int type)
{
    return type == OX_FLOAT || type == OX_INT32 || type == OX_UINT32 ? 4
           : type == OX_INT64 || type == OX_UINT64                  ? 8
           : type == OX_INT16 || type == OX_UINT16                  ? 2
                                                                    : 1;
}

/* The field that holds the elements holds n of them. */
static clgrad_status check_data(const clgrad__ox_graph *g, const Onnx__TensorProto *t, const char *what, int type,
                                const int64_t *shape, int64_t n)
{
    size_t esz = raw_elem_size(type), have;
    const char *field;
    if (t->has_raw_data) {
        have = t->raw_data.len / esz;
        field = "raw_data";
        if (t->raw_data.len % esz) have = (size_t)-1;
    } else if (type == OX_FLOAT) {
        have = t->n_float_data;
        field = "float_data";
    } else if (type == OX_INT64) {
        have = t->n_int64_data;
        field = "int64_data";
    } else {
        have = t->n_int32_data; /* INT32, INT16, INT8, UINT16, UINT8, BOOL */
        field = "int32_data";
    }
    if ((int64_t)have != n) {
        char sb[200];
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: %s has shape %s (%lld elements) but its %s holds %s%zu bytes",
                            g->name, what, clgrad__shape_str(sb, sizeof sb, (int)t->n_dims, shape), (long long)n,
                            field, have == (size_t)-1 ? "a number of bytes not a multiple of the element size, " : "",
                            t->has_raw_data ? t->raw_data.len : have * esz);
    }
    return CLGRAD_OK;
}

/* Element k of raw_data (little-endian in the file) into h. */
static void put_raw(clgrad__ox_host *h, int type, const uint8_t *raw, size_t esz, int64_t k)
{
    uint64_t v = 0;
    for (size_t b = 0; b < esz; b++) v |= (uint64_t)raw[(size_t)k * esz + b] << (8 * b);
    if (type == OX_FLOAT) {
        uint32_t w = (uint32_t)v;
        memcpy(&h->f[k], &w, 4);
    } else if (type == OX_INT64 || type == OX_UINT64) {
        h->i[k] = (int64_t)v;
    } else if (type == OX_INT32) {
        h->i[k] = (int32_t)(uint32_t)v;
    } else if (type == OX_INT16) {
        h->i[k] = (int16_t)(uint16_t)v;
    } else if (type == OX_INT8) {
        h->i[k] = (int8_t)(uint8_t)v;
    } else if (type == OX_BOOL) {
        h->i[k] = v != 0;
    } else {
        h->i[k] = (int64_t)v; /* UINT8, UINT16, UINT32 */
    }
}

/* Copies a TensorProto into a host tensor; what names it in messages. */
static clgrad_status tensor_from_proto(const clgrad__ox_graph *g, const Onnx__TensorProto *t, const char *what,
                                       clgrad__ox_host **out)
{
    *out = NULL;
    int type = OX_UNDEFINED;
    int64_t shape[CLGRAD_MAX_DIMS], n = 0;
    CLGRAD_TRY(tensor_header(g, t, what, &type, shape, &n));
    CLGRAD_TRY(check_data(g, t, what, type, shape, n));
    /* the file's own size bounds these; the host limit is for tensors made later */
    clgrad__ox_host *h = calloc(1, sizeof *h);
    if (!h) return oom(g);
    h->type = type;
    h->ndim = (int)t->n_dims;
    memcpy(h->shape, shape, sizeof(int64_t) * t->n_dims);
    h->n = n;
    if (type == OX_FLOAT) h->f = malloc((size_t)(n ? n : 1) * sizeof(float));
    else h->i = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    if (!h->f && !h->i) {
        free(h);
        return oom(g);
    }
    const uint8_t *raw = t->has_raw_data ? t->raw_data.data : NULL;
    size_t esz = raw_elem_size(type);
    for (int64_t k = 0; k < n; k++) {
        if (raw) put_raw(h, type, raw, esz, k);
        else if (type == OX_FLOAT) h->f[k] = t->float_data[k];
        else if (type == OX_INT64) h->i[k] = t->int64_data[k];
        else h->i[k] = type == OX_BOOL ? t->int32_data[k] != 0 : t->int32_data[k];
    }
    *out = h;
    return CLGRAD_OK;
}

static clgrad_status attr_from_proto(const clgrad__ox_graph *g, const Onnx__NodeProto *np,
                                     const Onnx__AttributeProto *a, clgrad__ox_attr *out)
{
    memset(out, 0, sizeof *out);
    out->name = dup(a->name);
    if (!out->name) return oom(g);
    if (a->ref_attr_name && a->ref_attr_name[0])
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED,
                            "%s: node '%s' (%s): attribute '%s' refers to a function attribute (not supported)",
                            g->name, np->name ? np->name : "", np->op_type ? np->op_type : "", out->name);
    out->type = a->has_type ? (int)a->type : 0;
    switch (out->type) {
    case OX_ATTR_FLOAT: out->f = a->f; break;
    case OX_ATTR_INT: out->i = a->i; break;
    case OX_ATTR_STRING:
        out->s = malloc(a->s.len + 1);
        if (!out->s) return oom(g);
        if (a->s.len) memcpy(out->s, a->s.data, a->s.len);
        out->s[a->s.len] = 0;
        break;
    case OX_ATTR_FLOATS:
        out->n = (int)(a->n_floats < 1000000 ? a->n_floats : 1000000);
        out->floats = malloc(((size_t)out->n + 1) * sizeof(float));
        if (!out->floats) return oom(g);
        if (out->n) memcpy(out->floats, a->floats, (size_t)out->n * sizeof(float));
        break;
    case OX_ATTR_INTS:
        out->n = (int)(a->n_ints < 1000000 ? a->n_ints : 1000000);
        out->ints = malloc(((size_t)out->n + 1) * sizeof(int64_t));
        if (!out->ints) return oom(g);
        if (out->n) memcpy(out->ints, a->ints, (size_t)out->n * sizeof(int64_t));
        break;
    case OX_ATTR_STRINGS:
        out->strs = calloc(a->n_strings + 1, sizeof *out->strs);
        if (!out->strs) return oom(g);
        for (size_t k = 0; k < a->n_strings && k < 64; k++) {
            out->strs[k] = malloc(a->strings[k].len + 1);
            if (!out->strs[k]) return oom(g);
            if (a->strings[k].len) memcpy(out->strs[k], a->strings[k].data, a->strings[k].len);
            out->strs[k][a->strings[k].len] = 0;
            out->n = (int)k + 1;
        }
        break;
    case OX_ATTR_TENSOR: {
        if (!a->t) break;
        char what[300];
        snprintf(what, sizeof what, "attribute '%s' of node '%s'", out->name, np->name ? np->name : "");
        return tensor_from_proto(g, a->t, what, &out->t);
    }
    default:
        break; /* graphs, strings lists, ...: kept as their type; ops that need them refuse them */
    }
    return CLGRAD_OK;
}

/* Static type and shape of a ValueInfoProto into value v. */
static clgrad_status value_info(clgrad__ox_graph *g, const Onnx__ValueInfoProto *vi, clgrad__ox_value *v)
{
    const Onnx__TypeProto *tp = vi->type;
    if (!tp) return CLGRAD_OK;
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED,
                            "%s: value '%s' is not a tensor (sequences, maps and optionals are not supported)",
                            g->name, v->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->has_elem_type) v->type = tt->elem_type;
    if (!tt->shape) return CLGRAD_OK;
    if (tt->shape->n_dim > CLGRAD_MAX_DIMS)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: value '%s' has %zu dimensions (at most %d)", g->name,
                            v->name, tt->shape->n_dim, CLGRAD_MAX_DIMS);
    v->ndim = (int)tt->shape->n_dim;
    for (int d = 0; d < v->ndim; d++) {
        const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[d];
        v->shape[d] = -1;
        if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dm->dim_value > CLGRAD__OX_DIM_MAX)
            return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: value '%s' declares a dimension of %lld", g->name,
                                v->name, (long long)dm->dim_value);
        if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dm->dim_value >= 0) {
            v->shape[d] = dm->dim_value;
        } else if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && dm->dim_param &&
                   dm->dim_param[0]) {
            free(v->dim_names[d]);
            v->dim_names[d] = dup(dm->dim_param);
            if (!v->dim_names[d]) return oom(g);
        }
    }
    return CLGRAD_OK;
}

/* --- the model ---------------------------------------------------------------------------------- */

/* Initializers: constants with their data. */
static clgrad_status decode_initializers(clgrad__ox_graph *g, const Onnx__GraphProto *gp)
{
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *t = gp->initializer[i];
        if (!t->name || !t->name[0])
            return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: initializer %zu has no name", g->name, i);
        int vi;
        CLGRAD_TRY(clgrad__ox_value_get(g, t->name, &vi));
        if (g->values[vi].konst)
            return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: two initializers are called '%s'", g->name, t->name);
        char what[300];
        snprintf(what, sizeof what, "initializer '%s'", t->name);
        clgrad__ox_host *h;
        CLGRAD_TRY(tensor_from_proto(g, t, what, &h));
        clgrad__ox_value *v = &g->values[vi];
        v->konst = h;
        clgrad__ox_set_shape(v, h->type, h->ndim, h->shape);
    }
    return CLGRAD_OK;
}

/* Graph inputs (in IR < 4 initializers are listed as inputs too: those stay constants) and
 * outputs, whose declared shapes are kept apart from the inferred ones. */
static clgrad_status decode_io(clgrad__ox_graph *g, const Onnx__GraphProto *gp)
{
    g->inputs = calloc(gp->n_input + 1, sizeof *g->inputs);
    g->outputs = calloc(gp->n_output + 1, sizeof *g->outputs);
    if (!g->inputs || !g->outputs) return oom(g);
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !vi->name[0]) return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: input %zu has no name", g->name, i);
        int k;
        CLGRAD_TRY(clgrad__ox_value_get(g, vi->name, &k));
        clgrad__ox_value *v = &g->values[k];
        if (v->konst) continue;
        if (v->is_input) return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: input '%s' is listed twice", g->name, vi->name);
        v->is_input = 1;
        CLGRAD_TRY(value_info(g, vi, v));
        g->inputs[g->n_inputs++] = k;
    }
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        if (!vi->name || !vi->name[0])
            return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: output %zu has no name", g->name, i);
        int k;
        CLGRAD_TRY(clgrad__ox_value_get(g, vi->name, &k));
        clgrad__ox_value *v = &g->values[k];
        v->is_output = 1;
        clgrad__ox_value info = {.name = v->name, .ndim = -1};
        CLGRAD_TRY(value_info(g, vi, &info)); /* declared shape: kept apart from the inferred one */
        if (info.type && !v->type) v->type = info.type;
        v->decl_ndim = info.ndim;
        memcpy(v->decl_shape, info.shape, sizeof info.shape);
        for (int d = 0; d < CLGRAD_MAX_DIMS; d++) {
            if (info.dim_names[d] && !v->dim_names[d]) v->dim_names[d] = info.dim_names[d];
            else free(info.dim_names[d]);
        }
        g->outputs[g->n_outputs++] = k;
    }
    return CLGRAD_OK;
}

/* Node i of the file: its names, attributes, inputs and outputs. */
static clgrad_status decode_node(clgrad__ox_graph *g, const Onnx__NodeProto *np, size_t i)
{
    clgrad__ox_node *n;
    CLGRAD_TRY(clgrad__ox_node_add(g, &n));
    char auto_name[32];
    snprintf(auto_name, sizeof auto_name, "#%zu", i);
    n->name = dup(np->name && np->name[0] ? np->name : auto_name);
    n->op = dup(np->op_type);
    n->domain = dup(np->domain);
    n->in = malloc((np->n_input + 1) * sizeof *n->in);
    n->out = malloc((np->n_output + 1) * sizeof *n->out);
    n->attrs = calloc(np->n_attribute + 1, sizeof *n->attrs);
    if (!n->name || !n->op || !n->domain || !n->in || !n->out || !n->attrs) return oom(g);
    if (np->n_input > 64 || np->n_output > 64)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: node '%s' (%s) has %zu inputs and %zu outputs "
                            "(at most 64 each)", g->name, n->name, n->op, np->n_input, np->n_output);
    for (size_t a = 0; a < np->n_attribute; a++) {
        n->n_attrs++; /* counted first: a failure part way is freed with the node */
        CLGRAD_TRY(attr_from_proto(g, np, np->attribute[a], &n->attrs[a]));
    }
    for (size_t k = 0; k < np->n_input; k++) {
        n->in[k] = -1;
        if (np->input[k] && np->input[k][0]) CLGRAD_TRY(clgrad__ox_value_get(g, np->input[k], &n->in[k]));
        n->n_in++;
    }
    for (size_t k = 0; k < np->n_output; k++) {
        n->out[k] = -1;
        if (np->output[k] && np->output[k][0]) CLGRAD_TRY(clgrad__ox_value_get(g, np->output[k], &n->out[k]));
        n->n_out++;
    }
    return CLGRAD_OK;
}

static clgrad_status decode_graph(clgrad__ox_graph *g, const Onnx__GraphProto *gp)
{
    if (gp->n_sparse_initializer)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: sparse initializers are not supported", g->name);
    CLGRAD_TRY(decode_initializers(g, gp));
    CLGRAD_TRY(decode_io(g, gp));
    /* nodes, in file order (checked for order when the graph is checked) */
    for (size_t i = 0; i < gp->n_node; i++) CLGRAD_TRY(decode_node(g, gp->node[i], i));
    /* declared shapes of intermediate values are not trusted: load infers its own */
    return CLGRAD_OK;
}

clgrad_status clgrad__ox_decode(const void *data, size_t size, clgrad__ox_graph *g)
{
    if (size == 0) return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: empty file, not an ONNX model", g->name);
    if (too_deep(data, size))
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: protobuf messages nested more than %d deep (not a model "
                            "clgrad reads)", g->name, CLGRAD__OX_MAX_DEPTH);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, data);
    if (!mp)
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: not an ONNX model (the protobuf ModelProto does not decode: "
                            "truncated or not a .onnx file)", g->name);
    clgrad_status st = CLGRAD_OK;
    g->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    snprintf(g->producer, sizeof g->producer, "%s%s%s", mp->producer_name ? mp->producer_name : "",
             mp->producer_version && mp->producer_version[0] ? " " : "",
             mp->producer_version ? mp->producer_version : "");
    g->opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0) g->opset = o->has_version ? o->version : 0;
    }
    if (!mp->graph) st = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: the model has no graph", g->name);
    else if (g->ir_version < 3)
        st = clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: IR version %lld is not supported (3 to 9 are)", g->name,
                          (long long)g->ir_version);
    else if (g->ir_version > 9)
        st = clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: IR version %lld is newer than clgrad reads (3 to 9)",
                          g->name, (long long)g->ir_version);
    else if (g->opset < 0)
        st = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: the model imports no opset of the default ONNX domain", g->name);
    else if (g->opset < 11 || g->opset > 17)
        st = clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED,
                          "%s: opset %lld of the default domain is not supported (clgrad runs opsets 11 to 17; "
                          "re-export the model, e.g. torch.onnx.export(..., opset_version=17))",
                          g->name, (long long)g->opset);
    if (st == CLGRAD_OK) st = decode_graph(g, mp->graph);
    onnx__model_proto__free_unpacked(mp, NULL);
    return st;
}
