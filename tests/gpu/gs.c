/* Support for the kernel-variant matrix (see gs.h). */
#include "gs.h"

#include "memory/memory.h"
#include "ops/gemm.h"

#include <stdio.h>
#include <stdlib.h>

static const clgrad__style styles[GS_N_STYLES] = {CLGRAD__STYLE_CPU, CLGRAD__STYLE_GPU};

const char *gs_style_name(int i) { return i == 0 ? "cpu-style" : "gpu-style"; }

void gs_style(int i)
{
    ck_assert_int_lt(i, GS_N_STYLES);
    TH_OK(clgrad__tuning_force_style(th_ctx, styles[i]));
    TH_OK(clgrad__tuning_set_limits(th_ctx, GS_FOLD, GS_RED_CHUNK));
    TH_OK(clgrad_context_set_gemm_provider(th_ctx, "own"));
    clgrad__pool_set_exact(th_ctx, 1); /* an access past a tensor's end is out of bounds */
}

clgrad_tensor *gs_rand(int ndim, const int64_t *shape, uint64_t seed, float lo, float hi, float **host)
{
    int64_t n = th_numel(ndim, shape);
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    ck_assert_ptr_nonnull(h);
    th_fill_uniform(h, (size_t)n, seed, lo, hi);
    clgrad_tensor *t = th_tensor(ndim, shape, h);
    if (host) *host = h;
    else free(h);
    return t;
}

void gs_check_op(const char *what, gs_fn fn, void *user, int n, clgrad_tensor **in, const float *want_y,
                 const float *dy, const float *const *want_dx, double atol, double rtol)
{
    char name[256];
    clgrad_tensor *y = NULL, *g = NULL;
    for (int i = 0; i < n; i++)
        if (in[i]) clgrad_tensor_zero_grad(in[i]);
    TH_OK(fn(in, user, &y));
    if (want_y) {
        float *h = th_read(y);
        snprintf(name, sizeof name, "%s: forward", what);
        th_allclose(name, h, want_y, (size_t)clgrad_tensor_numel(y), atol, rtol);
        free(h);
    }
    if (dy) {
        int64_t shape[8];
        clgrad_tensor_shape(y, shape);
        g = th_tensor(clgrad_tensor_ndim(y), shape, dy);
        TH_OK(clgrad_backward_ex(y, g, 0));
        for (int i = 0; i < n; i++) {
            if (!want_dx || !want_dx[i]) continue;
            clgrad_tensor *gr = clgrad_tensor_grad(in[i]);
            ck_assert_msg(gr != NULL, "%s: input %d has no gradient", what, i);
            float *h = th_read(gr);
            snprintf(name, sizeof name, "%s: gradient of input %d", what, i);
            th_allclose(name, h, want_dx[i], (size_t)clgrad_tensor_numel(in[i]), atol, rtol);
            free(h);
        }
    }
    clgrad_tensor_release(g);
    clgrad_tensor_release(y);
}
