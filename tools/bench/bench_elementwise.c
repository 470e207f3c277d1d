/* clgrad-bench elementwise: memory bandwidth of add, relu and softmax on large contiguous
 * tensors as a fraction of a plain device copy (clgrad_copy_ between contiguous tensors)
 * measured in the same run. Bytes counted: what the op must read and write once. */
#include "bench.h"

#include <stdint.h>
#include <stdio.h>

typedef struct ew_arg {
    clgrad_tensor *a, *b, *dst;
    int op; /* 0 copy, 1 add, 2 relu, 3 softmax */
} ew_arg;

static int run(void *ptr)
{
    ew_arg *e = ptr;
    clgrad_tensor *y = NULL;
    clgrad_status s;
    switch (e->op) {
    case 0: return clgrad_copy_(e->dst, e->a) != CLGRAD_OK;
    case 1: s = clgrad_add(e->a, e->b, &y); break;
    case 2: s = clgrad_relu(e->a, &y); break;
    default: s = clgrad_softmax(e->a, -1, &y); break;
    }
    clgrad_tensor_release(y);
    return s != CLGRAD_OK;
}

int bench_elementwise(clgrad_context *ctx, const bench_opts *o, bench_results *r)
{
    FILE *out = bench_out(o);
    int reps = o->reps > 0 ? o->reps : 10;
    int64_t n = 16 << 20;
    int64_t rows[2] = {16384, 1024}; /* softmax over rows of 1024 */
    ew_arg e = {0};
    clgrad_status s = clgrad_tensor_uniform(ctx, 1, &n, 1, -1, 1, &e.a);
    if (s == CLGRAD_OK) s = clgrad_tensor_uniform(ctx, 1, &n, 2, -1, 1, &e.b);
    if (s == CLGRAD_OK) s = clgrad_tensor_zeros(ctx, CLGRAD_DTYPE_F32, 1, &n, &e.dst);
    if (s != CLGRAD_OK) {
        fprintf(stderr, "elementwise: %s\n", clgrad_last_error(ctx));
        return 1;
    }
    static const char *names[4] = {"copy", "add", "relu", "softmax"};
    static const double bytes_per[4] = {8, 12, 8, 8};
    double copy_gbs = 0;
    for (int op = 0; op < 4; op++) {
        clgrad_tensor *keep = e.a;
        clgrad_tensor *view = NULL;
        if (op == 3) {
            if (clgrad_reshape(e.a, 2, rows, &view) != CLGRAD_OK) return 1;
            e.a = view;
        }
        e.op = op;
        double t = bench_best(ctx, run, &e, reps);
        e.a = keep;
        clgrad_tensor_release(view);
        if (t < 0) {
            fprintf(stderr, "elementwise %s: %s\n", names[op], clgrad_last_error(ctx));
            return 1;
        }
        double gbs = bytes_per[op] * (double)n / t / 1e9;
        if (op == 0) copy_gbs = gbs;
        char shape[64];
        snprintf(shape, sizeof shape, op == 3 ? "16384x1024" : "16777216");
        bench_add(r, names[op], shape, "own", -1, t * 1e3);
        bench_set_bandwidth(r, gbs, copy_gbs > 0 ? gbs / copy_gbs : 0);
        if (!o->json)
            fprintf(out, "%-8s %-12s %8.2f ms %7.1f GB/s  %.2fx copy\n", names[op], shape, t * 1e3, gbs,
                    copy_gbs > 0 ? gbs / copy_gbs : 0);
    }
    clgrad_tensor_release(e.a);
    clgrad_tensor_release(e.b);
    clgrad_tensor_release(e.dst);
    return 0;
}
