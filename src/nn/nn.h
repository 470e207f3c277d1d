/* Internal header of the nn layer: the module structure every layer fills in. Modules use
 * only the public ops and autograd API (no OpenCL). */
#ifndef CLGRAD_SRC_NN_H
#define CLGRAD_SRC_NN_H

#include "core/core.h"
#include "ops/collective.h"

/* What a layer was created with, for exporters (src/onnx): the fields of its kind are set,
 * the others zero. */
typedef struct clgrad__layer_desc {
    int64_t in, out;              /* linear: features; convolutions: channels */
    int kernel[2];                /* convolutions */
    clgrad_conv2d_params conv;    /* convolutions, defaults resolved */
    clgrad_pool2d_params pool;    /* max / avg pooling */
    int out_hw[2];                /* adaptive average pooling */
    float eps, momentum;          /* batch / layer norm */
    int affine;
    int norm_ndim;                /* layer norm: the normalised trailing shape */
    int64_t norm_shape[CLGRAD_MAX_DIMS];
    clgrad_activation act;        /* activation layers, with p0, p1 */
    float p0, p1;
    int start_dim, end_dim;       /* flatten */
    float p;                      /* dropout */
    clgrad_rnn_kind rnn;          /* recurrent layers */
    int64_t hidden;
    int layers, bias, batch_first;
} clgrad__layer_desc;

typedef struct clgrad__module_vtable {
    const char *kind;
    /* Runs the layer; x borrowed, *out a new reference. */
    clgrad_status (*forward)(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out);
    /* Frees layer-specific state (impl); params, buffers and children are freed by the core. */
    void (*destroy)(clgrad_module *m);
    /* Fills *d with the layer's settings; NULL for layers that have none (containers). */
    void (*describe)(const clgrad_module *m, clgrad__layer_desc *d);
} clgrad__module_vtable;

/* Whether m is an activation module of kind ReLU. */
int clgrad__module_is_relu(const clgrad_module *m);

/* Layers that take a following ReLU into their own last pass: m's forward with the ReLU
 * fused, or NULL when m is not such a layer (linear.c, conv.c). A Sequential runs a layer and
 * a ReLU module after it through this. */
typedef clgrad_status (*clgrad__forward_relu_fn)(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out);
clgrad__forward_relu_fn clgrad__linear_forward_relu_of(const clgrad_module *m);
clgrad__forward_relu_fn clgrad__conv_forward_relu_of(const clgrad_module *m);
/* conv2d layers also take a ReLU and then 2x2 max pooling with stride 2 (conv.c); a
 * Sequential runs the three modules through this when they follow one another. */
clgrad__forward_relu_fn clgrad__conv_forward_relu_pool_of(const clgrad_module *m);
/* Whether m is a max pooling module with 2x2 windows, stride 2 and no padding (pool.c). */
int clgrad__module_is_max_pool_2x2(const clgrad_module *m);

typedef struct clgrad__named {
    char *name;           /* local name: "weight", "running_mean" */
    clgrad_tensor *t;     /* owned reference */
} clgrad__named;

/* A host-side integer saved in checkpoints (dropout's call counter, batch norm's
 * num_batches_tracked). */
typedef struct clgrad__counter {
    char *name;
    uint64_t value;
} clgrad__counter;

/* Full dotted names of the whole subtree, built on demand. Modules only ever grow, so the
 * total number of entries below a module identifies its structure: the cache is rebuilt
 * when that number changes. */
typedef struct clgrad__name_cache {
    char **names;
    int n;
    long stamp; /* subtree size the names were built for; -1: never built */
} clgrad__name_cache;

struct clgrad_module {
    const clgrad__module_vtable *vt;
    clgrad_context *ctx;
    int training;
    int adopted;            /* owned by a container already */
    clgrad__named *params;  int n_params, cap_params;
    clgrad__named *buffers; int n_buffers, cap_buffers;
    struct { char *name; clgrad_module *m; } *children; int n_children, cap_children;
    clgrad__counter *counters; int n_counters, cap_counters;
    void *impl;             /* layer-specific state */
    clgrad__name_cache param_names, buffer_names, counter_names;
};

/* Allocates a module of kind vt on ctx. */
clgrad_status clgrad__module_new(clgrad_context *ctx, const clgrad__module_vtable *vt, clgrad_module **out);
/* The same with m->impl a zeroed block of size bytes; vt->destroy should then be
 * clgrad__module_free_impl (or free it itself). */
clgrad_status clgrad__module_new_impl(clgrad_context *ctx, const clgrad__module_vtable *vt, size_t size,
                                      clgrad_module **out);
/* The destroy function of every layer whose state is one heap block in m->impl. */
void clgrad__module_free_impl(clgrad_module *m);
/* Adds a parameter (marked requires_grad) or buffer, or a child. Each takes over the caller's
 * reference to t / child, also on failure (then it is released), so a caller never cleans
 * up after these. Names must be unique within m. */
clgrad_status clgrad__module_add_param(clgrad_module *m, const char *name, clgrad_tensor *t);
clgrad_status clgrad__module_add_buffer(clgrad_module *m, const char *name, clgrad_tensor *t);
clgrad_status clgrad__module_add_child(clgrad_module *m, const char *name, clgrad_module *child);
/* Adds a host counter (initial value 0); *index receives its local index (may be NULL). */
clgrad_status clgrad__module_add_counter(clgrad_module *m, const char *name, int *index);
/* The local parameter / buffer called name, or NULL. */
clgrad_tensor *clgrad__module_get(const clgrad_module *m, const char *name);

/* The settings of layer m (zeroed first); 0 for a module without any (a container). */
int clgrad__module_describe(const clgrad_module *m, clgrad__layer_desc *d);

/* Checks that x is a tensor of m's context (forward entry); fails with INVALID_ARG. */
clgrad_status clgrad__module_check_input(const clgrad_module *m, const clgrad_tensor *x, const char *fn);

/* --- norm.c: synchronised batch norm -------------------------------------------------------- */

/* Makes batch norm module m (kind "batch_norm1d" or "batch_norm2d") compute its training
 * statistics over every rank of a data-parallel group: fn (see ops/collective.h) sums a
 * tensor over the ranks into every rank, user is its argument; fn NULL goes back to local
 * statistics. In train mode the forward then sums x and then (x - mean)^2 per channel over
 * every rank's batch through fn (differentiably, so the backward sums the gradients of the
 * statistics over the ranks too), normalises with the biased variance, and updates the
 * running statistics from the group's mean and unbiased variance, as one process holding
 * every rank's batch would. Eval mode is unchanged. INVALID_ARG for another kind of module. */
clgrad_status clgrad__batch_norm_set_sync(clgrad_module *m, clgrad__collective_fn fn, void *user);

/* --- init.c: PyTorch's default initialisers, seeded ---------------------------------------- */

/* A deterministic, well-mixed seed for stream k of seed (splitmix64 of both). Layers draw
 * weight from clgrad__seed_derive(seed, 0) and bias from clgrad__seed_derive(seed, 1). */
uint64_t clgrad__seed_derive(uint64_t seed, uint64_t k);
/* U(-1/sqrt(fan_in), 1/sqrt(fan_in)): kaiming_uniform_(a=sqrt(5)) for weights and PyTorch's
 * bias rule for Linear/Conv. fan_in 0 gives zeros. */
clgrad_status clgrad__init_fan_in_uniform(clgrad_context *ctx, int ndim, const int64_t *shape, int64_t fan_in,
                                          uint64_t seed, clgrad_tensor **out);

#endif
