/* Writing ONNX models: a builder over the protobuf-c structures generated from onnx.proto.
 * The exporter (export.c) writes clgrad modules with it, and the tests and the fuzz corpus
 * make small and deliberately broken models with it. Everything the builder allocates is
 * freed with it; strings and data are copied in. Errors are sticky: after a failed call
 * every later call fails too and clgrad__oxb_pack reports the first failure. */
#ifndef CLGRAD_SRC_ONNX_BUILD_H
#define CLGRAD_SRC_ONNX_BUILD_H

#include "onnx/onnx.h"

#include "onnx.pb-c.h"

typedef struct clgrad__oxb clgrad__oxb;

/* A model of the default domain at opset (IR version chosen to match: 8 from opset 15). */
clgrad_status clgrad__oxb_new(int64_t opset, const char *producer, const char *producer_version,
                              clgrad__oxb **out);
void clgrad__oxb_free(clgrad__oxb *b);

/* The model as protobuf-c sees it, for tests that break it on purpose. */
Onnx__ModelProto *clgrad__oxb_model(clgrad__oxb *b);

/* Graph inputs and outputs: element type, rank and dims; a dim < 0 is left open with the
 * symbol dim_names[d] (NULL or a NULL entry: "d<index>"), ndim < 0 declares no shape. */
clgrad_status clgrad__oxb_input(clgrad__oxb *b, const char *name, int type, int ndim, const int64_t *shape,
                                const char *const *dim_names);
clgrad_status clgrad__oxb_output(clgrad__oxb *b, const char *name, int type, int ndim, const int64_t *shape,
                                 const char *const *dim_names);

/* An initializer (raw little-endian data): f32 or i64 elements. */
clgrad_status clgrad__oxb_init_f32(clgrad__oxb *b, const char *name, int ndim, const int64_t *shape,
                                   const float *data);
clgrad_status clgrad__oxb_init_i64(clgrad__oxb *b, const char *name, int ndim, const int64_t *shape,
                                   const int64_t *data);

/* A node: op_type, its name, inputs ("" for an omitted optional one) and outputs. *out
 * (optional) is the node, to add attributes to. */
clgrad_status clgrad__oxb_node(clgrad__oxb *b, const char *op, const char *name, int n_in, const char *const *in,
                               int n_out, const char *const *out, Onnx__NodeProto **node);
clgrad_status clgrad__oxb_attr_int(clgrad__oxb *b, Onnx__NodeProto *n, const char *name, int64_t v);
clgrad_status clgrad__oxb_attr_float(clgrad__oxb *b, Onnx__NodeProto *n, const char *name, float v);
clgrad_status clgrad__oxb_attr_ints(clgrad__oxb *b, Onnx__NodeProto *n, const char *name, int count,
                                    const int64_t *v);
clgrad_status clgrad__oxb_attr_string(clgrad__oxb *b, Onnx__NodeProto *n, const char *name, const char *v);
clgrad_status clgrad__oxb_attr_strings(clgrad__oxb *b, Onnx__NodeProto *n, const char *name, int count,
                                       const char *const *v);
/* A TENSOR attribute of one f32 / i64 value with no dims (Constant's value, ...). */
clgrad_status clgrad__oxb_attr_scalar(clgrad__oxb *b, Onnx__NodeProto *n, const char *name, int type, double v);

/* Serialises the model into a new malloc'd buffer. */
clgrad_status clgrad__oxb_pack(clgrad__oxb *b, void **data, size_t *size);

#endif
