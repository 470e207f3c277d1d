/* clgrad-bench conv: the convolution layers of typical CNNs at batch 64, forward alone and
 * forward + backward (gradients for the weight, the bias and, except for a first layer,
 * the input). GFLOP/s count 2*N*C_out*H_out*W_out*(C_in/groups)*kH*kW per pass, three
 * passes for forward + backward (two without the input gradient). */
#include "bench.h"

#include <stdint.h>
#include <stdio.h>

typedef struct layer {
    const char *name;
    int n, cin, cout, h, w, k, stride, pad, groups, input_grad;
} layer;

static const layer layers[] = {
    {"1->32 3x3 28x28", 64, 1, 32, 28, 28, 3, 1, 1, 1, 0},
    {"32->64 3x3 14x14", 64, 32, 64, 14, 14, 3, 1, 1, 1, 1},
    {"64->64 3x3 56x56", 64, 64, 64, 56, 56, 3, 1, 1, 1, 1},
    {"64->128 1x1 28x28", 64, 64, 128, 28, 28, 1, 1, 0, 1, 1},
    {"dw 64 3x3 56x56", 64, 64, 64, 56, 56, 3, 1, 1, 64, 1},
};

typedef struct conv_arg {
    clgrad_tensor *x, *w, *b, *gy;
    clgrad_conv2d_params p;
    int backward;
} conv_arg;

static int run(void *ptr)
{
    conv_arg *a = ptr;
    clgrad_tensor *y = NULL;
    clgrad_status s = clgrad_conv2d(a->x, a->w, a->b, &a->p, &y);
    if (s == CLGRAD_OK && a->backward) {
        clgrad_tensor_zero_grad(a->x);
        clgrad_tensor_zero_grad(a->w);
        clgrad_tensor_zero_grad(a->b);
        s = clgrad_backward_ex(y, a->gy, 0);
    }
    clgrad_tensor_release(y);
    return s != CLGRAD_OK;
}

int bench_conv(clgrad_context *ctx, const bench_opts *o, bench_results *r)
{
    FILE *out = bench_out(o);
    int reps = o->reps > 0 ? o->reps : 5;
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        const layer *L = &layers[i];
        int ho = (L->h + 2 * L->pad - L->k) / L->stride + 1, wo = (L->w + 2 * L->pad - L->k) / L->stride + 1;
        int64_t sx[4] = {L->n, L->cin, L->h, L->w}, sw[4] = {L->cout, L->cin / L->groups, L->k, L->k};
        int64_t sb[1] = {L->cout}, sy[4] = {L->n, L->cout, ho, wo};
        conv_arg a = {0};
        a.p = (clgrad_conv2d_params){.stride = {L->stride, L->stride}, .padding = {L->pad, L->pad}, .groups = L->groups};
        clgrad_status s = clgrad_tensor_uniform(ctx, 4, sx, 1, -1, 1, &a.x);
        if (s == CLGRAD_OK) s = clgrad_tensor_uniform(ctx, 4, sw, 2, -0.1f, 0.1f, &a.w);
        if (s == CLGRAD_OK) s = clgrad_tensor_uniform(ctx, 1, sb, 3, -0.1f, 0.1f, &a.b);
        if (s == CLGRAD_OK) s = clgrad_tensor_uniform(ctx, 4, sy, 4, -1, 1, &a.gy);
        if (s != CLGRAD_OK) {
            fprintf(stderr, "conv %s: %s\n", L->name, clgrad_last_error(ctx));
            return 1;
        }
        double flops = 2.0 * L->n * L->cout * ho * wo * (double)(L->cin / L->groups) * L->k * L->k;
        char shape[64];
        snprintf(shape, sizeof shape, "%s b%d", L->name, L->n);
        for (int bw = 0; bw < 2; bw++) {
            a.backward = bw;
            if (bw) {
                clgrad_tensor_set_requires_grad(a.w, 1);
                clgrad_tensor_set_requires_grad(a.b, 1);
                clgrad_tensor_set_requires_grad(a.x, L->input_grad);
            }
            double t = bench_best(ctx, run, &a, reps);
            if (t < 0) {
                fprintf(stderr, "conv %s: %s\n", L->name, clgrad_last_error(ctx));
                return 1;
            }
            double f = flops * (bw ? (L->input_grad ? 3 : 2) : 1);
            bench_add(r, bw ? "conv2d_fwd_bwd" : "conv2d_fwd", shape, "own", f / t / 1e9, t * 1e3);
            if (!o->json)
                fprintf(out, "%-16s %-24s %8.2f ms %8.1f GFLOP/s\n", bw ? "conv fwd+bwd" : "conv fwd", shape,
                        t * 1e3, f / t / 1e9);
        }
        clgrad_tensor_release(a.x);
        clgrad_tensor_release(a.w);
        clgrad_tensor_release(a.b);
        clgrad_tensor_release(a.gy);
    }
    return 0;
}
