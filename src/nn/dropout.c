/* The Dropout layer: a fresh mask per call in training mode, drawn from the layer's seed and
 * a call counter that checkpoints save, so a resumed run draws the same masks. */
#include "nn/nn.h"

typedef struct dropout_impl {
    float p;
    uint64_t seed;
    int calls; /* index of the "calls" counter */
} dropout_impl;

static clgrad_status dropout_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    dropout_impl *D = m->impl;
    if (!m->training || D->p == 0.0f) return clgrad_dropout(x, D->p, D->seed, 0, out);
    uint64_t *k = &m->counters[D->calls].value;
    clgrad_status s = clgrad_dropout(x, D->p, clgrad__seed_derive(D->seed, *k), 1, out);
    if (s == CLGRAD_OK) (*k)++;
    return s;
}

static void dropout_describe(const clgrad_module *m, clgrad__layer_desc *d) { d->p = ((dropout_impl *)m->impl)->p; }

static const clgrad__module_vtable dropout_vt = {"dropout", dropout_forward, clgrad__module_free_impl,
                                                 dropout_describe};

CLGRAD_API clgrad_status clgrad_dropout_create(clgrad_context *ctx, float p, uint64_t seed, clgrad_module **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && out != NULL, "ctx and out must not be NULL");
    if (!(p >= 0.0f && p < 1.0f))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_dropout_create: p = %g is not in [0, 1)", (double)p);
    clgrad_module *m = NULL;
    CLGRAD_TRY(clgrad__module_new_impl(ctx, &dropout_vt, sizeof(dropout_impl), &m));
    dropout_impl *D = m->impl;
    D->p = p;
    D->seed = seed;
    clgrad_status s = clgrad__module_add_counter(m, "calls", &D->calls);
    if (s != CLGRAD_OK) {
        clgrad_module_release(m);
        return s;
    }
    *out = m;
    return CLGRAD_OK;
}
