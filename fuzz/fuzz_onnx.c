/* libFuzzer target for the ONNX loader's host phase (src/onnx: protobuf decoding, the checks
 * of every node, constant folding, fusion, placement): the input is a model file. Accepted
 * models are walked (every value's constant and static shape read) and loaded a second time
 * with fusion and folding off, which must accept them too. The device phase (copying
 * constants, running) is left out: it only sees graphs this phase accepted.
 *
 * Build with Meson: CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined
 *   then e.g. build-fuzz/fuzz/fuzz_onnx -max_total_time=60 -max_len=4096 fuzz/corpus/onnx
 * Every normal build also has a replay driver run by the test suite on the committed seeds
 * (fuzz/corpus/onnx, made by fuzz/corpus/make_onnx_seeds.py) and mutations of them. */
#include "onnx/onnx.h"

#include <stdint.h>
#include <stdlib.h>

static void touch(const clgrad__ox_graph *g)
{
    volatile double sink = 0;
    for (int i = 0; i < g->n_values; i++) {
        const clgrad__ox_value *v = &g->values[i];
        if (v->konst)
            for (int64_t k = 0; k < v->konst->n; k++) sink += clgrad__ox_host_get(v->konst, k);
        for (int d = 0; d < v->ndim && d < CLGRAD_MAX_DIMS; d++) sink += (double)v->shape[d];
    }
    for (int k = 0; k < g->n_nodes; k++) {
        const clgrad__ox_node *n = &g->nodes[k];
        if (n->removed) continue;
        if (!n->def) abort(); /* every live node was checked */
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= g->n_values) abort();
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clgrad__ox_graph *g = NULL;
    if (clgrad__ox_parse(data, size, "fuzz", 0, &g) != CLGRAD_OK) {
        if (g) abort(); /* a failure returns nothing */
        return 0;
    }
    touch(g);
    clgrad__ox_graph_free(g);
    g = NULL;
    if (clgrad__ox_parse(data, size, "fuzz", CLGRAD_ONNX_NO_FUSION | CLGRAD_ONNX_NO_FOLDING, &g) == CLGRAD_OK) touch(g);
    clgrad__ox_graph_free(g);
    return 0;
}
