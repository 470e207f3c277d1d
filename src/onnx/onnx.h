/* Internal header of the onnx layer: the graph a model file becomes, host tensors for
 * constants and shape arithmetic, the operator table, and the two phases of a load.
 *
 * Phase 1 (host only, no device; what the fuzz target drives): clgrad__ox_parse turns the
 * file's bytes into a graph (proto.c), checks every node against the operator table
 * (attributes, constant inputs, static shapes where they are known), folds constants and
 * fuses patterns (optimize.c). Phase 2 (model.c): the constants device nodes read are copied
 * to the device once; each run then walks the remaining nodes in order, host nodes on host
 * tensors and device nodes through the public ops, and drops every value after its last
 * use. The protobuf-c types stay inside proto.c and the model builder (build.h, used by
 * export.c and the tests).
 *
 * Place in the layer map: above nn and io (files through io, layer settings through nn's
 * describe hook for export), and above the ops, used through their public API and the fused
 * recurrent ops of src/ops/rnn.h; nothing here touches an OpenCL type. */
#ifndef CLGRAD_SRC_ONNX_H
#define CLGRAD_SRC_ONNX_H

#include "core/core.h"

#include <stddef.h>
#include <stdint.h>

/* ONNX TensorProto.DataType values used here. */
enum {
    OX_UNDEFINED = 0, OX_FLOAT = 1, OX_UINT8 = 2, OX_INT8 = 3, OX_UINT16 = 4, OX_INT16 = 5, OX_INT32 = 6,
    OX_INT64 = 7, OX_STRING = 8, OX_BOOL = 9, OX_FLOAT16 = 10, OX_DOUBLE = 11, OX_UINT32 = 12, OX_UINT64 = 13,
};
/* Name of a data type ("FLOAT", "DOUBLE", "type 99"); buf for unknown ones. */
const char *clgrad__ox_type_name(int type, char *buf, size_t cap);
/* Whether clgrad holds type (FLOAT as f32, the integer types and BOOL as integers). */
int clgrad__ox_type_ok(int type);

/* Limits: the most elements a host tensor made at load or run time may have (constants from
 * the file are bounded by its size), and the deepest nesting of protobuf messages. */
#define CLGRAD__OX_HOST_MAX ((int64_t)1 << 24)
/* The largest dimension a file may declare (inputs, initializers): keeps shape arithmetic
 * far from overflow. */
#define CLGRAD__OX_DIM_MAX ((int64_t)1 << 40)
#define CLGRAD__OX_MAX_DEPTH 48

/* --- host tensors ------------------------------------------------------------------------------ */

/* A tensor in host memory: FLOAT data in f, every other type (integers, BOOL) in i. */
typedef struct clgrad__ox_host {
    int type;
    int ndim;
    int64_t shape[CLGRAD_MAX_DIMS];
    int64_t n; /* elements */
    float *f;
    int64_t *i;
} clgrad__ox_host;

/* A new zero-filled host tensor (n <= CLGRAD__OX_HOST_MAX, else UNSUPPORTED naming what). */
clgrad_status clgrad__ox_host_new(int type, int ndim, const int64_t *shape, const char *what,
                                  clgrad__ox_host **out);
void clgrad__ox_host_free(clgrad__ox_host *h);
clgrad_status clgrad__ox_host_copy(const clgrad__ox_host *h, clgrad__ox_host **out);
/* Element k as a double / an int64 (converting between the two storages). */
double clgrad__ox_host_get(const clgrad__ox_host *h, int64_t k);
int64_t clgrad__ox_host_geti(const clgrad__ox_host *h, int64_t k);
int clgrad__ox_is_float(int type);
/* A double as an int64: NaN gives 0, values beyond the range its ends. */
int64_t clgrad__ox_d2i(double v);
/* Products and sums of dimensions: -1 when an operand is -1 (unknown) or the result would
 * pass 2^60 (treated as unknown; run time then reports the shapes). */
int64_t clgrad__ox_dim_mul(int64_t a, int64_t b);
int64_t clgrad__ox_dim_add(int64_t a, int64_t b);

/* --- the graph --------------------------------------------------------------------------------- */

enum { OX_ATTR_FLOAT = 1, OX_ATTR_INT = 2, OX_ATTR_STRING = 3, OX_ATTR_TENSOR = 4, OX_ATTR_GRAPH = 5,
       OX_ATTR_FLOATS = 6, OX_ATTR_INTS = 7, OX_ATTR_STRINGS = 8, OX_ATTR_TENSORS = 9, OX_ATTR_GRAPHS = 10 };

typedef struct clgrad__ox_attr {
    char *name;
    int type;          /* OX_ATTR_* */
    double f;
    int64_t i;
    char *s;           /* STRING (NUL-terminated copy) */
    int64_t *ints;     /* INTS */
    float *floats;     /* FLOATS */
    int n;             /* entries of ints / floats / strs */
    clgrad__ox_host *t; /* TENSOR */
    char **strs;       /* STRINGS (n entries) */
} clgrad__ox_attr;

typedef struct clgrad__ox_value {
    char *name;
    int type;                        /* element type when known, else 0 */
    int ndim;                        /* static shape: -1 unknown rank */
    int64_t shape[CLGRAD_MAX_DIMS];  /* -1 for unknown dimensions */
    char *dim_names[CLGRAD_MAX_DIMS]; /* symbols of open dimensions (graph inputs and outputs) */
    int decl_ndim;                   /* graph outputs: the shape the file declares (-1: none) */
    int64_t decl_shape[CLGRAD_MAX_DIMS];
    clgrad__ox_host *konst;          /* known at load: initializer or folded result */
    int producer;                    /* node index, -1 for inputs and initializers */
    int is_input, is_output;
    int on_host;                     /* computed on the host at run time */
    int last_use;                    /* index of the last node reading it at run time */
    int device_const;                /* a device node reads this constant: upload it */
    int device_int;                  /* ... as i32 (indices) rather than f32 */
} clgrad__ox_value;

struct clgrad__ox_op;

typedef struct clgrad__ox_node {
    char *name, *op, *domain;
    int n_in, n_out;
    int *in, *out;                   /* value indices; -1 for an omitted optional input/output */
    clgrad__ox_attr *attrs;
    int n_attrs;
    const struct clgrad__ox_op *def; /* NULL until checked */
    int removed;                     /* folded or fused away */
    int on_host;
    double pf[8];                    /* parameters parsed by the op's check */
    int64_t pi[24];
} clgrad__ox_node;

typedef struct clgrad__ox_graph {
    char *name;                      /* the file name or "<memory>", for messages */
    int64_t ir_version, opset;
    char producer[64];
    clgrad__ox_value *values;
    int n_values, cap_values;
    clgrad__ox_node *nodes;
    int n_nodes, cap_nodes;
    int *index, cap_index;           /* open-addressing hash of value names: index + 1, 0 free */
    int *inputs, n_inputs;           /* graph inputs that are not initializers */
    int *outputs, n_outputs;
    int nodes_in_file, folded, fused_conv_bn, fused_gelu, fused_ln;
    uint32_t flags;                  /* CLGRAD_ONNX_* */
} clgrad__ox_graph;

/* Phase 1: parse, check, fold and fuse. The message of a failure names g->name, the node
 * and operator. *out is NULL on failure. */
clgrad_status clgrad__ox_parse(const void *data, size_t size, const char *name, uint32_t flags,
                               clgrad__ox_graph **out);
void clgrad__ox_graph_free(clgrad__ox_graph *g);

/* model.c: a load from memory, name used in messages (the path for a file). */
clgrad_status clgrad__onnx_load_named(clgrad_context *ctx, const void *data, size_t size, const char *name,
                                      const clgrad_onnx_options *opts, clgrad_onnx_model **out);

/* proto.c: the protobuf decoding into g (values, nodes, inputs, outputs). */
clgrad_status clgrad__ox_decode(const void *data, size_t size, clgrad__ox_graph *g);

/* graph.c helpers */
int clgrad__ox_value_find(const clgrad__ox_graph *g, const char *name);
/* Index of the value called name, adding it (unknown shape) when new; -1 and HOST_MEMORY. */
clgrad_status clgrad__ox_value_get(clgrad__ox_graph *g, const char *name, int *index);
/* A new anonymous constant value holding h (taken over, also on failure). */
clgrad_status clgrad__ox_value_const(clgrad__ox_graph *g, const char *hint, clgrad__ox_host *h, int *index);
clgrad_status clgrad__ox_node_add(clgrad__ox_graph *g, clgrad__ox_node **out);
const clgrad__ox_attr *clgrad__ox_attr_find(const clgrad__ox_node *n, const char *name);
int64_t clgrad__ox_attr_int(const clgrad__ox_node *n, const char *name, int64_t dflt);
double clgrad__ox_attr_float(const clgrad__ox_node *n, const char *name, double dflt);
const char *clgrad__ox_attr_str(const clgrad__ox_node *n, const char *name, const char *dflt);
/* The INTS attribute name (n entries, borrowed) or NULL when absent. */
const int64_t *clgrad__ox_attr_ints(const clgrad__ox_node *n, const char *name, int *count);
void clgrad__ox_attrs_free(clgrad__ox_attr *a, int n);

/* Fails with s, the message prefixed by the node's name and operator. */
clgrad_status clgrad__ox_fail(const clgrad__ox_graph *g, const clgrad__ox_node *n, clgrad_status s,
                              const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* The input value i of n, or NULL when omitted / out of range. */
clgrad__ox_value *clgrad__ox_in(const clgrad__ox_graph *g, const clgrad__ox_node *n, int i);
clgrad__ox_value *clgrad__ox_out(const clgrad__ox_graph *g, const clgrad__ox_node *n, int i);
/* The constant of input i, or NULL when it is not known at load. */
const clgrad__ox_host *clgrad__ox_in_const(const clgrad__ox_graph *g, const clgrad__ox_node *n, int i);

/* --- run-time values --------------------------------------------------------------------------- */

/* A value at run time: on the device (t) or on the host (h); both NULL for "not made". */
typedef struct clgrad__ox_rv {
    clgrad_tensor *t;
    clgrad__ox_host *h;
    int h_owned; /* h belongs to this slot (not a constant of the graph) */
} clgrad__ox_rv;

/* What a node's run function sees: its context, graph and node, its inputs' run-time
 * values (constants already on the device where device nodes read them) and output slots. */
typedef struct clgrad__ox_exec {
    clgrad_context *ctx;
    const clgrad__ox_graph *g;
    const clgrad__ox_node *n;
    clgrad__ox_rv *in;  /* n->n_in entries; t and h NULL for omitted inputs */
    clgrad__ox_rv *out; /* n->n_out entries to fill */
} clgrad__ox_exec;

/* --- the operator table (ops_*.c) -------------------------------------------------------------- */

typedef struct clgrad__ox_op {
    const char *name;
    int min_in, max_in, min_out, max_out;
    uint32_t host_inputs; /* bit i: input i must be known on the host (a shape, axes, ...) */
    /* Checks attributes and constant inputs, fills n->pf / n->pi, sets the outputs' static
     * types and shapes where known. May be NULL (nothing to check). */
    clgrad_status (*check)(clgrad__ox_graph *g, clgrad__ox_node *n);
    /* Evaluates the node on host tensors (all inputs host); NULL when it cannot. */
    clgrad_status (*host)(const clgrad__ox_graph *g, const clgrad__ox_node *n, const clgrad__ox_host *const *in,
                          clgrad__ox_host **out);
    /* Runs the node on the device. NULL for host-only operators. */
    clgrad_status (*run)(clgrad__ox_exec *e);
    uint32_t int_inputs; /* bit i: device input i holds indices (uploaded as i32) */
} clgrad__ox_op;

const clgrad__ox_op *clgrad__ox_op_find(const char *name);

/* Tables of the op files, each ended by an entry with a NULL name. */
extern const clgrad__ox_op clgrad__ox_ops_shape[];  /* ops_shape.c: shape, reshape, squeeze, expand */
extern const clgrad__ox_op clgrad__ox_ops_value[];  /* ops_value.c: constants, casts, identity, range */
extern const clgrad__ox_op clgrad__ox_ops_select[]; /* ops_select.c: transpose, concat, split, slice, gather */
extern const clgrad__ox_op clgrad__ox_ops_math[];   /* ops_math.c: elementwise, comparisons, activations */
extern const clgrad__ox_op clgrad__ox_ops_reduce[]; /* ops_reduce.c: softmax, reductions, argmax */
extern const clgrad__ox_op clgrad__ox_ops_nn[];     /* ops_nn.c: conv, pool, norm, gemm, matmul */
extern const clgrad__ox_op clgrad__ox_ops_rnn[];    /* ops_rnn.c: LSTM, GRU, RNN */

/* Shared helpers of the op files (ops_common.c). */
/* Normalises axis (negative counts from the end) for rank r; fails naming the node. */
clgrad_status clgrad__ox_axis(const clgrad__ox_graph *g, const clgrad__ox_node *n, int64_t axis, int r, int *out);
/* Static broadcast of two static shapes (-1 rank: unknown result). */
void clgrad__ox_bcast_static(const clgrad__ox_value *a, const clgrad__ox_value *b, clgrad__ox_value *out);
void clgrad__ox_set_shape(clgrad__ox_value *v, int type, int ndim, const int64_t *shape);
void clgrad__ox_same_shape(clgrad__ox_graph *g, clgrad__ox_node *n); /* output 0 like input 0 */
/* A new host tensor for node n (limits and messages of clgrad__ox_host_new, naming the node). */
clgrad_status clgrad__ox_mk(const clgrad__ox_graph *g, const clgrad__ox_node *n, int type, int ndim,
                            const int64_t *shape, clgrad__ox_host **out);
/* dst[k] = src[j], converting between the float and integer storages. */
void clgrad__ox_put(clgrad__ox_host *dst, int64_t k, const clgrad__ox_host *src, int64_t j);
/* Row-major strides of a shape. */
void clgrad__ox_strides(int ndim, const int64_t *shape, int64_t *st);
/* A host tensor of integers as a list (at most max entries); fails naming what. */
clgrad_status clgrad__ox_int_list(const clgrad__ox_graph *g, const clgrad__ox_node *n, const clgrad__ox_host *h,
                                  const char *what, int64_t *buf, int max, int *count);
/* Input i of e as a device tensor (uploading a host value made at run time). Borrowed. */
clgrad_status clgrad__ox_dev(clgrad__ox_exec *e, int i, clgrad_tensor **t);
/* Sets output i to a new reference t (taken over). */
void clgrad__ox_set_out(clgrad__ox_exec *e, int i, clgrad_tensor *t);
/* A device tensor holding h: f32 for FLOAT, and for BOOL unless as_int (masks are f32 0 / 1
 * on the device); i32 for the integer types, checked for range. */
clgrad_status clgrad__ox_upload(clgrad_context *ctx, const clgrad__ox_host *h, int as_int, const char *what,
                                clgrad_tensor **out);

/* optimize.c: fusions (unless CLGRAD_ONNX_NO_FUSION) and dead-node removal over a checked graph. */
clgrad_status clgrad__ox_optimize(clgrad__ox_graph *g);

#endif
