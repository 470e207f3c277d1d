/* The ONNX model builder (see build.h). Every allocation goes on one list freed with the
 * builder; arrays that grow are reallocated on that list (the old copy stays until then,
 * which costs little for the sizes of a model's graph). */
#include "onnx/build.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct blk {
    struct blk *next;
    max_align_t data[];
} blk;

struct clgrad__oxb {
    blk *mem;
    clgrad_status err;
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opsets[1];
    size_t cap_node, cap_init, cap_in, cap_out;
};

static void *alloc(clgrad__oxb *b, size_t n)
{
    if (b->err != CLGRAD_OK) return NULL;
    blk *k = calloc(1, sizeof *k + (n ? n : 1));
    if (!k) {
        b->err = clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "writing an ONNX model: out of host memory");
        return NULL;
    }
    k->next = b->mem;
    b->mem = k;
    return k->data;
}

static char *str(clgrad__oxb *b, const char *s)
{
    size_t n = strlen(s ? s : "");
    char *d = alloc(b, n + 1);
    if (d && n) memcpy(d, s, n);
    return d;
}

/* Appends item to *arr (count *n, capacity *cap). */
static void push(clgrad__oxb *b, void ***arr, size_t *n, size_t *cap, void *item)
{
    if (!item || b->err != CLGRAD_OK) return;
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        void **a = alloc(b, c * sizeof *a);
        if (!a) return;
        if (*n) memcpy(a, *arr, *n * sizeof *a);
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = item;
}

clgrad_status clgrad__oxb_new(int64_t opset, const char *producer, const char *producer_version, clgrad__oxb **out)
{
    *out = NULL;
    clgrad__oxb *b = calloc(1, sizeof *b);
    if (!b) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "writing an ONNX model: out of host memory");
    onnx__model_proto__init(&b->model);
    onnx__graph_proto__init(&b->graph);
    onnx__operator_set_id_proto__init(&b->opset);
    b->opset.domain = str(b, "");
    b->opset.has_version = 1;
    b->opset.version = opset;
    b->opsets[0] = &b->opset;
    b->model.has_ir_version = 1;
    b->model.ir_version = opset >= 15 ? 8 : opset >= 13 ? 7 : 6;
    b->model.n_opset_import = 1;
    b->model.opset_import = b->opsets;
    b->model.producer_name = str(b, producer);
    b->model.producer_version = str(b, producer_version);
    b->model.graph = &b->graph;
    b->graph.name = str(b, "main");
    if (b->err != CLGRAD_OK) {
        clgrad_status st = b->err;
        clgrad__oxb_free(b);
        return st;
    }
    *out = b;
    return CLGRAD_OK;
}

void clgrad__oxb_free(clgrad__oxb *b)
{
    if (!b) return;
    for (blk *k = b->mem, *next; k; k = next) {
        next = k->next;
        free(k);
    }
    free(b);
}

Onnx__ModelProto *clgrad__oxb_model(clgrad__oxb *b) { return &b->model; }

static Onnx__ValueInfoProto *value_info(clgrad__oxb *b, const char *name, int type, int ndim, const int64_t *shape,
                                        const char *const *dim_names)
{
    Onnx__ValueInfoProto *v = alloc(b, sizeof *v);
    Onnx__TypeProto *t = alloc(b, sizeof *t);
    Onnx__TypeProto__Tensor *tt = alloc(b, sizeof *tt);
    if (!v || !t || !tt) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    v->name = str(b, name);
    v->type = t;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = type;
    if (ndim < 0) return v;
    Onnx__TensorShapeProto *sp = alloc(b, sizeof *sp);
    Onnx__TensorShapeProto__Dimension **dims = alloc(b, (size_t)(ndim + 1) * sizeof *dims);
    if (!sp || !dims) return NULL;
    onnx__tensor_shape_proto__init(sp);
    sp->n_dim = (size_t)ndim;
    sp->dim = dims;
    for (int d = 0; d < ndim; d++) {
        Onnx__TensorShapeProto__Dimension *dm = alloc(b, sizeof *dm);
        if (!dm) return NULL;
        onnx__tensor_shape_proto__dimension__init(dm);
        if (shape[d] >= 0) {
            dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dm->dim_value = shape[d];
        } else {
            char sym[32];
            snprintf(sym, sizeof sym, "d%d", d);
            dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dm->dim_param = str(b, dim_names && dim_names[d] ? dim_names[d] : sym);
        }
        dims[d] = dm;
    }
    tt->shape = sp;
    return v;
}

clgrad_status clgrad__oxb_input(clgrad__oxb *b, const char *name, int type, int ndim, const int64_t *shape,
                                const char *const *dim_names)
{
    push(b, (void ***)&b->graph.input, &b->graph.n_input, &b->cap_in,
         value_info(b, name, type, ndim, shape, dim_names));
    return b->err;
}

clgrad_status clgrad__oxb_output(clgrad__oxb *b, const char *name, int type, int ndim, const int64_t *shape,
                                 const char *const *dim_names)
{
    push(b, (void ***)&b->graph.output, &b->graph.n_output, &b->cap_out,
         value_info(b, name, type, ndim, shape, dim_names));
    return b->err;
}

static clgrad_status init_raw(clgrad__oxb *b, const char *name, int type, int ndim, const int64_t *shape,
                              const void *data, size_t esz)
{
    Onnx__TensorProto *t = alloc(b, sizeof *t);
    int64_t *dims = alloc(b, (size_t)(ndim + 1) * sizeof *dims);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    uint8_t *raw = alloc(b, (size_t)n * esz);
    if (!t || !dims || !raw) return b->err;
    onnx__tensor_proto__init(t);
    t->name = str(b, name);
    t->has_data_type = 1;
    t->data_type = type;
    t->n_dims = (size_t)ndim;
    t->dims = dims;
    if (ndim) memcpy(dims, shape, (size_t)ndim * sizeof *dims);
    /* raw_data is little-endian */
    for (int64_t k = 0; k < n; k++) {
        uint64_t v = 0;
        memcpy(&v, (const uint8_t *)data + (size_t)k * esz, esz);
        if (esz == 4) {
            uint32_t w;
            memcpy(&w, (const uint8_t *)data + (size_t)k * 4, 4);
            v = w;
        }
        for (size_t q = 0; q < esz; q++) raw[(size_t)k * esz + q] = (uint8_t)(v >> (8 * q));
    }
    t->has_raw_data = 1;
    t->raw_data.len = (size_t)n * esz;
    t->raw_data.data = raw;
    push(b, (void ***)&b->graph.initializer, &b->graph.n_initializer, &b->cap_init, t);
    return b->err;
}

clgrad_status clgrad__oxb_init_f32(clgrad__oxb *b, const char *name, int ndim, const int64_t *shape,
                                   const float *data)
{
    return init_raw(b, name, OX_FLOAT, ndim, shape, data, 4);
}

clgrad_status clgrad__oxb_init_i64(clgrad__oxb *b, const char *name, int ndim, const int64_t *shape,
                                   const int64_t *data)
{
    return init_raw(b, name, OX_INT64, ndim, shape, data, 8);
}

clgrad_status clgrad__oxb_node(clgrad__oxb *b, const char *op, const char *name, int n_in, const char *const *in,
                               int n_out, const char *const *out, Onnx__NodeProto **node)
{
    if (node) *node = NULL;
    Onnx__NodeProto *n = alloc(b, sizeof *n);
    char **ins = alloc(b, (size_t)(n_in + 1) * sizeof *ins), **outs = alloc(b, (size_t)(n_out + 1) * sizeof *outs);
    if (!n || !ins || !outs) return b->err;
    onnx__node_proto__init(n);
    n->op_type = str(b, op);
    n->name = str(b, name);
    for (int i = 0; i < n_in; i++) ins[i] = str(b, in[i]);
    for (int i = 0; i < n_out; i++) outs[i] = str(b, out[i]);
    n->n_input = (size_t)n_in;
    n->input = ins;
    n->n_output = (size_t)n_out;
    n->output = outs;
    push(b, (void ***)&b->graph.node, &b->graph.n_node, &b->cap_node, n);
    if (node && b->err == CLGRAD_OK) *node = n;
    return b->err;
}

static Onnx__AttributeProto *attr(clgrad__oxb *b, Onnx__NodeProto *n, const char *name, int type)
{
    if (!n) {
        if (b->err == CLGRAD_OK)
            b->err = clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "writing an ONNX model: attribute of no node");
        return NULL;
    }
    Onnx__AttributeProto *a = alloc(b, sizeof *a);
    Onnx__AttributeProto **arr = alloc(b, (n->n_attribute + 1) * sizeof *arr);
    if (!a || !arr) return NULL;
    onnx__attribute_proto__init(a);
    a->name = str(b, name);
    a->has_type = 1;
    a->type = (Onnx__AttributeProto__AttributeType)type;
    if (n->n_attribute) memcpy(arr, n->attribute, n->n_attribute * sizeof *arr);
    arr[n->n_attribute++] = a;
    n->attribute = arr;
    return a;
}

clgrad_status clgrad__oxb_attr_int(clgrad__oxb *b, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(b, n, name, OX_ATTR_INT);
    if (a) {
        a->has_i = 1;
        a->i = v;
    }
    return b->err;
}

clgrad_status clgrad__oxb_attr_float(clgrad__oxb *b, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = attr(b, n, name, OX_ATTR_FLOAT);
    if (a) {
        a->has_f = 1;
        a->f = v;
    }
    return b->err;
}

clgrad_status clgrad__oxb_attr_ints(clgrad__oxb *b, Onnx__NodeProto *n, const char *name, int count, const int64_t *v)
{
    Onnx__AttributeProto *a = attr(b, n, name, OX_ATTR_INTS);
    int64_t *d = alloc(b, (size_t)(count + 1) * sizeof *d);
    if (a && d) {
        if (count) memcpy(d, v, (size_t)count * sizeof *d);
        a->n_ints = (size_t)count;
        a->ints = d;
    }
    return b->err;
}

clgrad_status clgrad__oxb_attr_string(clgrad__oxb *b, Onnx__NodeProto *n, const char *name, const char *v)
{
    Onnx__AttributeProto *a = attr(b, n, name, OX_ATTR_STRING);
    char *s = str(b, v);
    if (a && s) {
        a->has_s = 1;
        a->s.data = (uint8_t *)s;
        a->s.len = strlen(s);
    }
    return b->err;
}

clgrad_status clgrad__oxb_attr_strings(clgrad__oxb *b, Onnx__NodeProto *n, const char *name, int count,
                                       const char *const *v)
{
    Onnx__AttributeProto *a = attr(b, n, name, OX_ATTR_STRINGS);
    ProtobufCBinaryData *d = alloc(b, (size_t)(count + 1) * sizeof *d);
    if (!a || !d) return b->err;
    for (int i = 0; i < count; i++) {
        char *s = str(b, v[i]);
        if (!s) return b->err;
        d[i].data = (uint8_t *)s;
        d[i].len = strlen(s);
    }
    a->n_strings = (size_t)count;
    a->strings = d;
    return b->err;
}

clgrad_status clgrad__oxb_attr_scalar(clgrad__oxb *b, Onnx__NodeProto *n, const char *name, int type, double v)
{
    Onnx__AttributeProto *a = attr(b, n, name, OX_ATTR_TENSOR);
    Onnx__TensorProto *t = alloc(b, sizeof *t);
    if (!a || !t) return b->err;
    onnx__tensor_proto__init(t);
    t->has_data_type = 1;
    t->data_type = type;
    if (type == OX_FLOAT) {
        float *f = alloc(b, sizeof *f);
        if (!f) return b->err;
        *f = (float)v;
        t->n_float_data = 1;
        t->float_data = f;
    } else {
        int64_t *i = alloc(b, sizeof *i);
        if (!i) return b->err;
        *i = (int64_t)v;
        t->n_int64_data = 1;
        t->int64_data = i;
    }
    a->t = t;
    return b->err;
}

clgrad_status clgrad__oxb_pack(clgrad__oxb *b, void **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    if (b->err != CLGRAD_OK) return b->err;
    size_t n = onnx__model_proto__get_packed_size(&b->model);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "writing an ONNX model: out of host memory for %zu "
                                  "bytes", n);
    size_t w = onnx__model_proto__pack(&b->model, buf);
    if (w != n) {
        free(buf);
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "writing an ONNX model: packed %zu of %zu bytes", w, n);
    }
    *data = buf;
    *size = n;
    return CLGRAD_OK;
}
