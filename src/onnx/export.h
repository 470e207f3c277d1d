/* Internal to the exporter (export.c: the walk over the module tree and the layers;
 * export_rnn.c: the recurrent layers): the state of an export and the node-writing steps
 * both files use. */
#ifndef CLGRAD_SRC_ONNX_EXPORT_H
#define CLGRAD_SRC_ONNX_EXPORT_H

#include "onnx/build.h"

#include "nn/nn.h"

typedef struct clgrad__oxe {
    clgrad__oxb *b;
    const clgrad_onnx_export_options *o;
    const clgrad_module *root;
    char cur[256];                 /* the value between layers */
    int nd;
    int64_t shape[CLGRAD_MAX_DIMS]; /* its static shape (-1: open) */
    int k;                         /* counter for unique names */
} clgrad__oxe;

/* d = a followed by b, cut to cap bytes with the NUL (names stay short in practice). */
void clgrad__oxe_cat2(char *d, size_t cap, const char *a, const char *b);
/* Fails with CLGRAD_ERR_UNSUPPORTED naming the module path, its kind and why. */
clgrad_status clgrad__oxe_unsupported(const char *path, const char *kind, const char *why);
/* A fresh value name for the output of op in module path (into buf, returned). */
const char *clgrad__oxe_fresh(clgrad__oxe *e, const char *path, const char *op, char *buf, size_t cap);
/* Adds node op with inputs in[] and one new output, which becomes e->cur. */
clgrad_status clgrad__oxe_step(clgrad__oxe *e, const char *path, const char *op, int n_in, const char *const *in,
                               Onnx__NodeProto **node);
/* Adds node op on e->cur alone; its output becomes e->cur. */
clgrad_status clgrad__oxe_unary(clgrad__oxe *e, const char *path, const char *op, Onnx__NodeProto **node);
/* A 1-D i64 initializer of the n values v; its name in buf. */
clgrad_status clgrad__oxe_ints_init(clgrad__oxe *e, int n, const int64_t *v, char *buf, size_t cap);
/* A module tensor read to the host (malloc'd), NULL for an absent one. */
clgrad_status clgrad__oxe_host_of(const clgrad_tensor *t, float **out);

/* An RNN, LSTM or GRU module (export_rnn.c): one node per layer on (T, N, I), Transposes
 * around them for batch_first; e->cur and e->shape follow. */
clgrad_status clgrad__oxe_recurrent(clgrad__oxe *e, const clgrad_module *m, const char *path, const char *prefix,
                                    const clgrad__layer_desc *d);

#endif
