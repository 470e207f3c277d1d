/* ONNX models: run a network trained elsewhere (PyTorch, Keras, JAX exports), and export a
 * clgrad network so other runtimes can run it. Included by clgrad.h.
 *
 * Import. clgrad_onnx_load reads a .onnx file, checks every node (operator, opset,
 * attributes, data types), folds what is constant at load time (initializers, the shape
 * arithmetic exporters emit: Shape, Gather, Unsqueeze, Concat, ... on known shapes), fuses
 * Conv + BatchNormalization and the written-out GELU and layer normalisation, and copies the
 * weights to the device once. The model can then run any number of times, on host arrays
 * or on device tensors, with any size in the dimensions the file leaves open (a dynamic
 * batch size, for instance). Inference only: nothing is recorded for autograd.
 *
 *     clgrad_onnx_model *m = NULL;
 *     clgrad_status s = clgrad_onnx_load(ctx, "net.onnx", NULL, &m);
 *     float x[784] = {...}, y[10];
 *     clgrad_onnx_array in = {.dtype = CLGRAD_DTYPE_F32, .ndim = 2, .shape = {1, 784},
 *                             .data = x, .nbytes = sizeof x};
 *     clgrad_onnx_array out = {.data = y, .nbytes = sizeof y};
 *     if (s == CLGRAD_OK) s = clgrad_onnx_run_host(m, 1, &in, 1, &out);
 *     clgrad_onnx_release(m);
 *
 * Operators (default domain, opsets 11 to 17, as PyTorch 1.13 and most converters write
 * them): Conv, ConvTranspose, BatchNormalization, MaxPool, AveragePool, GlobalAveragePool,
 * GlobalMaxPool, Gemm, MatMul (numpy broadcasting), Add, Sub, Mul, Div, Pow, Max, Min, Sum,
 * Mean, Relu, LeakyRelu, Elu, Sigmoid, Tanh, Erf, Gelu, Softplus, HardSigmoid, Clip, Exp,
 * Log, Sqrt, Neg, Abs, Reciprocal, Softmax, LogSoftmax, LayerNormalization, ReduceMean,
 * ReduceSum, ReduceMax, ReduceMin, ArgMax, LSTM, GRU, RNN (forward direction), Flatten,
 * Reshape, Transpose, Squeeze, Unsqueeze, Concat, Split, Slice, Gather, Expand, Where, Equal,
 * Less, Greater, LessOrEqual, GreaterOrEqual, Not, And, Or, Xor, Cast, Shape, Size,
 * Constant, ConstantOfShape, Range, Identity, Dropout (inference); Floor, Ceil and Sign on
 * constants and shapes. Data on the device is f32 (integer tensors as i32). Gather reads
 * indices made at run time (token ids, say) back to the host to check them: a negative
 * index counts from the end, and one out of range is SHAPE naming the node. Anything else,
 * a malformed file or a model clgrad cannot run is a clear error naming the node, its
 * operator and the reason, and never a crash.
 *
 * Threads: a model follows its context's rule (one thread at a time).
 *
 * Export. clgrad_onnx_export writes a module (a Sequential of clgrad's layers, recurrent
 * layers included, or a single layer) as an ONNX model of opset 17 with its weights, which
 * onnx.checker accepts and other runtimes run. */
#ifndef CLGRAD_ONNX_H
#define CLGRAD_ONNX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clgrad_onnx_model clgrad_onnx_model;

/* --- loading --------------------------------------------------------------------------------- */

enum {
    CLGRAD_ONNX_NO_FUSION = 1u << 0, /* keep Conv + BatchNormalization, GELU and layer norm apart */
    CLGRAD_ONNX_NO_FOLDING = 1u << 1, /* no constant folding beyond Constant nodes and initializers
                                         (shape arithmetic then runs on the host at every run) */
};

typedef struct clgrad_onnx_options {
    uint32_t flags; /* CLGRAD_ONNX_* */
} clgrad_onnx_options;

/* Loads the model at path (or size bytes at data, which are not kept) onto ctx; opts may be
 * NULL (defaults). The whole model is checked before anything is returned: IO for a missing
 * or malformed file (not a ModelProto, truncated, nested too deeply, a tensor whose data
 * does not match its shape, a node reading a value nothing produces), UNSUPPORTED for an
 * operator, opset, data type or attribute value clgrad cannot run (the message names the
 * node and operator), SHAPE for shapes that cannot fit together where load can tell,
 * DEVICE_MEMORY / HOST_MEMORY. *out is NULL on failure. The model keeps a reference to ctx's
 * device memory; release it before ctx. */
CLGRAD_API clgrad_status clgrad_onnx_load(clgrad_context *ctx, const char *path, const clgrad_onnx_options *opts,
                                          clgrad_onnx_model **out);
CLGRAD_API clgrad_status clgrad_onnx_load_memory(clgrad_context *ctx, const void *data, size_t size,
                                                 const clgrad_onnx_options *opts, clgrad_onnx_model **out);
CLGRAD_API void clgrad_onnx_release(clgrad_onnx_model *m); /* NULL: no-op */

/* --- inputs and outputs ----------------------------------------------------------------------- */

/* ONNX element types (TensorProto.DataType) that clgrad reads and writes. */
typedef enum clgrad_onnx_type {
    CLGRAD_ONNX_FLOAT = 1, CLGRAD_ONNX_UINT8 = 2, CLGRAD_ONNX_INT8 = 3, CLGRAD_ONNX_UINT16 = 4,
    CLGRAD_ONNX_INT16 = 5, CLGRAD_ONNX_INT32 = 6, CLGRAD_ONNX_INT64 = 7, CLGRAD_ONNX_BOOL = 9,
} clgrad_onnx_type;

/* One graph input or output as the model declares it. */
typedef struct clgrad_onnx_io {
    const char *name;      /* borrowed from the model */
    clgrad_onnx_type type; /* the element type in the file */
    clgrad_dtype dtype;    /* how clgrad holds it: F32 for FLOAT, I32 for the integer types */
    int ndim;              /* -1 when the file does not say */
    int64_t shape[CLGRAD_MAX_DIMS]; /* -1 for a dimension left open (any size at run time) */
    const char *dim_names[CLGRAD_MAX_DIMS]; /* the symbol of an open dimension ("batch"), or NULL */
} clgrad_onnx_io;

CLGRAD_API int clgrad_onnx_input_count(const clgrad_onnx_model *m);
CLGRAD_API int clgrad_onnx_output_count(const clgrad_onnx_model *m);
/* Fills *info for input / output i; INVALID_ARG when i is out of range. */
CLGRAD_API clgrad_status clgrad_onnx_input(const clgrad_onnx_model *m, int i, clgrad_onnx_io *info);
CLGRAD_API clgrad_status clgrad_onnx_output(const clgrad_onnx_model *m, int i, clgrad_onnx_io *info);

/* What load made of the file, for tools and tests. */
typedef struct clgrad_onnx_stats {
    int64_t ir_version, opset;       /* the file's IR version and default-domain opset */
    int nodes_in_file;               /* nodes of the graph as stored */
    int nodes_run;                   /* nodes left to run per inference */
    int nodes_folded;                /* evaluated at load time (constants, shape arithmetic) */
    int nodes_on_host;               /* left to run on the host each time (shape arithmetic on
                                        dimensions the file leaves open) */
    int conv_bn_fused, gelu_fused, layer_norm_fused;
    int64_t weight_bytes;            /* device memory held by the model's constants */
    char producer[64];               /* producer_name and version from the file */
} clgrad_onnx_stats;
CLGRAD_API clgrad_status clgrad_onnx_get_stats(const clgrad_onnx_model *m, clgrad_onnx_stats *out);

/* --- running ---------------------------------------------------------------------------------- */

/* Runs the model on device tensors: inputs[i] (borrowed, on the model's context) for graph
 * input i, with the declared dtype and rank and the declared size in every dimension the
 * file fixes; outputs[i] receives a new reference to graph output i (n_out must equal the
 * output count). Results may be views; read them with clgrad_tensor_read. Nothing is
 * rebuilt from one run to the next. A node that fails names itself in the message
 * (clgrad_last_error(ctx)); on failure every outputs[i] is NULL. */
CLGRAD_API clgrad_status clgrad_onnx_run(clgrad_onnx_model *m, int n_in, clgrad_tensor *const *inputs, int n_out,
                                         clgrad_tensor **outputs);

/* A host array for clgrad_onnx_run_host. */
typedef struct clgrad_onnx_array {
    clgrad_dtype dtype;             /* F32 or I32 */
    int ndim;
    int64_t shape[CLGRAD_MAX_DIMS];
    void *data;                     /* inputs: the elements, row-major; outputs: where they go */
    size_t nbytes;                  /* inputs: bytes at data; outputs: room at data */
} clgrad_onnx_array;

/* Runs the model on host arrays: copies the inputs to the device, runs, waits, and copies
 * each output into outputs[i].data, first setting its dtype, ndim and shape. When an
 * output needs more than outputs[i].nbytes, the call fails with SHAPE after setting those
 * fields (so the caller can make room and run again) and writes no data. */
CLGRAD_API clgrad_status clgrad_onnx_run_host(clgrad_onnx_model *m, int n_in, const clgrad_onnx_array *inputs,
                                              int n_out, clgrad_onnx_array *outputs);

/* Profiling, to find where the time of a run goes: with on non-zero, later runs wait for the
 * device after every node and add its wall time to the node's total (such runs are slower:
 * the device idles between nodes). 0 turns it off; the totals stay until the next enable. */
CLGRAD_API void clgrad_onnx_profile_enable(clgrad_onnx_model *m, int on);

typedef struct clgrad_onnx_node_time {
    const char *name, *op; /* borrowed from the model */
    double seconds;        /* total over the profiled runs */
    int64_t runs;
} clgrad_onnx_node_time;

/* Copies the totals of up to cap nodes (those run, in order) into out; returns how many
 * nodes there are (which may exceed cap). */
CLGRAD_API int clgrad_onnx_profile(const clgrad_onnx_model *m, clgrad_onnx_node_time *out, int cap);

/* --- export ------------------------------------------------------------------------------------ */

typedef struct clgrad_onnx_export_options {
    /* The input's shape; -1 leaves a dimension open (named "batch" for dimension 0, "d1",
     * "d2", ... for others). Required: ndim 1..CLGRAD_MAX_DIMS. */
    int ndim;
    int64_t shape[CLGRAD_MAX_DIMS];
    /* NULL: "input", "output". Non-empty, different from each other and from the names the
     * graph gives its other values (parameters such as "0.weight", names starting with '/'),
     * else INVALID_ARG. */
    const char *input_name, *output_name;
    /* Non-zero: a recurrent layer hands on only its last time step (N, H), as a classifier
     * reading the final hidden state does (PyTorch's out[:, -1] with batch_first); zero: the
     * whole output sequence, as clgrad_module_forward gives it. */
    int rnn_last_step;
    const char *producer_version; /* NULL: the library's version */
} clgrad_onnx_export_options;

/* Writes module m (train or eval mode: exported as in eval mode, Dropout as Identity and
 * BatchNorm with its running statistics) to path as an ONNX model, atomically (a temporary
 * file renamed over path). Parameters keep their clgrad names ("0.weight") as initializer
 * names. Waits for the device to read the weights. UNSUPPORTED for a layer ONNX cannot
 * express here (the message names it), INVALID_ARG for bad options, IO when the file
 * cannot be written. */
CLGRAD_API clgrad_status clgrad_onnx_export(const clgrad_module *m, const clgrad_onnx_export_options *opts,
                                            const char *path);
/* The same into a new malloc'd buffer (*data, *size) that the caller frees with
 * clgrad_onnx_free. */
CLGRAD_API clgrad_status clgrad_onnx_export_memory(const clgrad_module *m, const clgrad_onnx_export_options *opts,
                                                   void **data, size_t *size);
CLGRAD_API void clgrad_onnx_free(void *data);

/* Whether this build of clgrad has ONNX support (protobuf-c was found). Without it every
 * function above fails with CLGRAD_ERR_UNSUPPORTED. */
CLGRAD_API int clgrad_onnx_available(void);

#ifdef __cplusplus
}
#endif

#endif
