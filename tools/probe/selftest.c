/* clgrad-probe self-test: runs every kernel family on small inputs and compares with the
 * test suite's plain-C references (tests/support/ref.h), so a user learns whether their
 * driver computes correctly. A check that fails records the op, and the size of the error,
 * and the run goes on. */
#include "probe.h"
#include "ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct st_ctx {
    clgrad_context *ctx;
    probe_selftest *r;
} st_ctx;

static void fail(st_ctx *s, const char *what, const char *fmt, double a, double b)
{
    probe_selftest *r = s->r;
    if (r->failed < 64) {
        probe_failure *f = &r->failures[r->failed];
        snprintf(f->what, sizeof f->what, "%s", what);
        snprintf(f->detail, sizeof f->detail, fmt, a, b);
    }
    r->failed++;
}

static void fail_status(st_ctx *s, const char *what, clgrad_status st)
{
    probe_selftest *r = s->r;
    if (r->failed < 64) {
        probe_failure *f = &r->failures[r->failed];
        snprintf(f->what, sizeof f->what, "%s", what);
        snprintf(f->detail, sizeof f->detail, "%s: %.400s", clgrad_status_name(st), clgrad_last_error(s->ctx));
    }
    r->failed++;
}

/* Compares n values; records pass or the worst relative error. */
static void compare(st_ctx *s, const char *what, const float *got, const float *want, size_t n, double tol)
{
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (1.0 + fabs(want[i]));
        if (!(e <= worst)) {
            worst = isnan(e) ? INFINITY : e;
            at = i;
        }
    }
    if (worst <= tol) s->r->passed++;
    else fail(s, what, "max relative error %.3g at index %.0f", worst, (double)at);
}

static float *rnd(size_t n, unsigned seed, float lo, float hi)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    unsigned long long st = seed * 2654435761ull + 1;
    for (size_t i = 0; i < n; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = lo + (hi - lo) * (float)((st >> 40) / 16777216.0);
    }
    return x;
}

static clgrad_tensor *dev(st_ctx *s, int ndim, const int64_t *shape, const float *data)
{
    clgrad_tensor *t = NULL;
    if (clgrad_tensor_from_host(s->ctx, CLGRAD_DTYPE_F32, ndim, shape, data, &t) != CLGRAD_OK) return NULL;
    return t;
}

static float *host(clgrad_tensor *t)
{
    if (!t) return NULL;
    size_t n = (size_t)clgrad_tensor_numel(t);
    float *h = malloc((n ? n : 1) * sizeof *h);
    if (h && clgrad_tensor_read(t, h, n * sizeof *h) != CLGRAD_OK) {
        free(h);
        return NULL;
    }
    return h;
}

/* Runs a unary op on x and compares with the reference op elementwise. */
typedef clgrad_status (*unary_fn)(clgrad_tensor *, clgrad_tensor **);
static void check_unary(st_ctx *s, const char *what, unary_fn fn, ref_unary_op ref, float lo, float hi)
{
    size_t n = 1031;
    int64_t shape[1] = {(int64_t)n};
    float *x = rnd(n, 7, lo, hi);
    float *want = malloc(n * sizeof *want);
    ref_unary_forward(ref, 0.0f, 0.0f, n, x, want);
    clgrad_tensor *tx = dev(s, 1, shape, x), *ty = NULL;
    clgrad_status st = tx ? fn(tx, &ty) : CLGRAD_ERR_OPENCL;
    float *y = st == CLGRAD_OK ? host(ty) : NULL;
    if (st != CLGRAD_OK || !y) fail_status(s, what, st);
    else compare(s, what, y, want, n, 2e-5);
    free(x);
    free(want);
    free(y);
    clgrad_tensor_release(tx);
    clgrad_tensor_release(ty);
}

static clgrad_status gelu_erf(clgrad_tensor *x, clgrad_tensor **y) { return clgrad_gelu(x, 0, y); }

static void check_copy(st_ctx *s)
{
    int64_t shape[2] = {37, 53};
    size_t n = 37 * 53;
    float *x = rnd(n, 1, -1, 1);
    float *want = malloc(n * sizeof *want);
    for (int i = 0; i < 53; i++)
        for (int j = 0; j < 37; j++) want[i * 37 + j] = x[j * 53 + i];
    clgrad_tensor *t = dev(s, 2, shape, x), *tt = NULL;
    clgrad_status st = t ? clgrad_transpose(t, 0, 1, &tt) : CLGRAD_ERR_OPENCL;
    float *y = st == CLGRAD_OK ? host(tt) : NULL;
    if (!y) fail_status(s, "copy_strided_f32", st);
    else compare(s, "copy_strided_f32", y, want, n, 0);
    free(y);
    st = t ? clgrad_fill_(t, 0.5f) : CLGRAD_ERR_OPENCL;
    y = st == CLGRAD_OK ? host(t) : NULL;
    for (size_t i = 0; i < n; i++) want[i] = 0.5f;
    if (!y) fail_status(s, "fill_f32", st);
    else compare(s, "fill_f32", y, want, n, 0);
    free(y);
    free(x);
    free(want);
    clgrad_tensor_release(t);
    clgrad_tensor_release(tt);
}

static void check_gemm(st_ctx *s)
{
    const int M = 67, N = 45, K = 131;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int64_t sa[2] = {ta ? K : M, ta ? M : K}, sb[2] = {tb ? N : K, tb ? K : N}, sc[2] = {M, N};
            float *a = rnd((size_t)M * K, 2, -1, 1), *b = rnd((size_t)K * N, 3, -1, 1), *c = rnd((size_t)M * N, 4, -1, 1);
            float *want = malloc((size_t)M * N * sizeof *want);
            memcpy(want, c, (size_t)M * N * sizeof *want);
            ref_gemm(ta, tb, M, N, K, 0.5f, a, ta ? M : K, b, tb ? K : N, 2.0f, want, N);
            clgrad_tensor *A = dev(s, 2, sa, a), *B = dev(s, 2, sb, b), *C = dev(s, 2, sc, c);
            clgrad_status st = (A && B && C) ? clgrad_gemm(ta, tb, 0.5f, A, B, 2.0f, C) : CLGRAD_ERR_OPENCL;
            float *y = st == CLGRAD_OK ? host(C) : NULL;
            char what[64];
            snprintf(what, sizeof what, "matmul (gemm %s%s)", ta ? "T" : "N", tb ? "T" : "N");
            if (!y) fail_status(s, what, st);
            else compare(s, what, y, want, (size_t)M * N, 1e-4);
            free(y);
            free(a);
            free(b);
            free(c);
            free(want);
            clgrad_tensor_release(A);
            clgrad_tensor_release(B);
            clgrad_tensor_release(C);
        }
}

static void check_binary(st_ctx *s)
{
    /* (5, 1, 7) op (3, 1): broadcast to (5, 3, 7) */
    int64_t sa[3] = {5, 1, 7}, sb[2] = {3, 1};
    float *a = rnd(35, 5, 0.5f, 2), *b = rnd(3, 6, 0.5f, 2);
    const char *names[4] = {"add", "mul", "div", "maximum"};
    clgrad_status (*fns[4])(clgrad_tensor *, clgrad_tensor *, clgrad_tensor **) = {clgrad_add, clgrad_mul, clgrad_div,
                                                                                    clgrad_maximum};
    const ref_binary_op refs[4] = {REF_BINARY_ADD, REF_BINARY_MUL, REF_BINARY_DIV, REF_BINARY_MAXIMUM};
    const int64_t so[3] = {5, 3, 7};
    clgrad_tensor *A = dev(s, 3, sa, a), *B = dev(s, 2, sb, b);
    float want[105];
    for (int f = 0; f < 4; f++) {
        ref_binary_forward(refs[f], 3, so, 3, sa, a, 2, sb, b, want);
        clgrad_tensor *C = NULL;
        clgrad_status st = (A && B) ? fns[f](A, B, &C) : CLGRAD_ERR_OPENCL;
        float *y = st == CLGRAD_OK ? host(C) : NULL;
        char what[64];
        snprintf(what, sizeof what, "elementwise %s (broadcast)", names[f]);
        if (!y) fail_status(s, what, st);
        else compare(s, what, y, want, 105, 1e-6);
        free(y);
        clgrad_tensor_release(C);
    }
    free(a);
    free(b);
    clgrad_tensor_release(A);
    clgrad_tensor_release(B);
}

static void check_softmax_reduce(st_ctx *s)
{
    int64_t sh[2] = {13, 257};
    float *x = rnd(13 * 257, 8, -5, 5);
    float sm[13 * 257], sum0[257], mx[13];
    ref_softmax_forward(13, 257, 1, x, sm);
    ref_reduce_forward(REF_REDUCE_SUM, 2, sh, 1u << 0, 0, x, sum0);
    ref_reduce_forward(REF_REDUCE_MAX, 2, sh, 1u << 1, 0, x, mx);
    clgrad_tensor *X = dev(s, 2, sh, x), *Y = NULL;
    clgrad_status st = X ? clgrad_softmax(X, -1, &Y) : CLGRAD_ERR_OPENCL;
    float *y = st == CLGRAD_OK ? host(Y) : NULL;
    if (!y) fail_status(s, "softmax", st);
    else compare(s, "softmax", y, sm, 13 * 257, 1e-5);
    free(y);
    clgrad_tensor_release(Y);
    Y = NULL;
    int ax0 = 0, ax1 = 1;
    st = X ? clgrad_sum(X, 1, &ax0, 0, &Y) : CLGRAD_ERR_OPENCL;
    y = st == CLGRAD_OK ? host(Y) : NULL;
    if (!y) fail_status(s, "reduce sum", st);
    else compare(s, "reduce sum", y, sum0, 257, 1e-5);
    free(y);
    clgrad_tensor_release(Y);
    Y = NULL;
    st = X ? clgrad_max(X, 1, &ax1, 0, &Y) : CLGRAD_ERR_OPENCL;
    y = st == CLGRAD_OK ? host(Y) : NULL;
    if (!y) fail_status(s, "reduce max", st);
    else compare(s, "reduce max", y, mx, 13, 0);
    free(y);
    clgrad_tensor_release(Y);
    free(x);
    clgrad_tensor_release(X);
}

static void check_conv_pool(st_ctx *s)
{
    /* x (2, 3, 9, 11), w (4, 3, 3, 3), stride 2, padding 1 */
    const int N = 2, C = 3, H = 9, W = 11, O = 4, k = 3;
    int Ho = (H + 2 - k) / 2 + 1, Wo = (W + 2 - k) / 2 + 1;
    int64_t sx[4] = {N, C, H, W}, sw[4] = {O, C, k, k}, sb[1] = {O};
    float *x = rnd((size_t)N * C * H * W, 9, -1, 1), *w = rnd((size_t)O * C * k * k, 10, -1, 1), *b = rnd(O, 11, -1, 1);
    size_t no = (size_t)N * O * Ho * Wo;
    float *want = malloc(no * sizeof *want);
    const ref_conv2d_params rp = {.n = N, .c_in = C, .h_in = H, .w_in = W, .c_out = O, .k_h = k, .k_w = k,
                                  .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .dil_h = 1, .dil_w = 1,
                                  .groups = 1};
    ref_conv2d_forward(&rp, x, w, b, want);
    clgrad_tensor *X = dev(s, 4, sx, x), *Wt = dev(s, 4, sw, w), *B = dev(s, 1, sb, b), *Y = NULL;
    clgrad_conv2d_params p = {.stride = {2, 2}, .padding = {1, 1}};
    clgrad_status st = (X && Wt && B) ? clgrad_conv2d(X, Wt, B, &p, &Y) : CLGRAD_ERR_OPENCL;
    float *y = st == CLGRAD_OK ? host(Y) : NULL;
    if (!y) fail_status(s, "conv2d", st);
    else compare(s, "conv2d", y, want, no, 1e-4);
    free(y);
    free(want);
    clgrad_tensor_release(Y);
    Y = NULL;
    /* 2x2 max pool, stride 2 */
    int Hp = H / 2, Wp = W / 2;
    size_t np = (size_t)N * C * Hp * Wp;
    want = malloc(np * sizeof *want);
    const ref_pool2d_params pr = {N * C, H, W, 2, 2, 2, 2, 0, 0};
    ref_max_pool2d_forward(&pr, x, want, NULL);
    clgrad_pool2d_params pp = {.kernel = {2, 2}, .stride = {2, 2}};
    st = X ? clgrad_max_pool2d(X, &pp, &Y, NULL) : CLGRAD_ERR_OPENCL;
    y = st == CLGRAD_OK ? host(Y) : NULL;
    if (!y) fail_status(s, "max_pool2d", st);
    else compare(s, "max_pool2d", y, want, np, 0);
    free(y);
    free(want);
    clgrad_tensor_release(Y);
    free(x);
    free(w);
    free(b);
    clgrad_tensor_release(X);
    clgrad_tensor_release(Wt);
    clgrad_tensor_release(B);
}

static void check_loss_norm(st_ctx *s)
{
    const int N = 6, C = 11;
    int64_t sl[2] = {N, C}, sy[1] = {N};
    float *x = rnd((size_t)N * C, 12, -3, 3);
    int32_t lab[6] = {0, 10, 3, 3, 7, 1};
    float loss = 0;
    ref_cross_entropy_forward(N, C, x, lab, -100, 0.0f, REF_REDUCTION_MEAN, &loss);
    clgrad_tensor *X = dev(s, 2, sl, x), *Y = NULL, *L = NULL;
    clgrad_status st = clgrad_tensor_from_host(s->ctx, CLGRAD_DTYPE_I32, 1, sy, lab, &Y);
    if (st == CLGRAD_OK && X) st = clgrad_cross_entropy(X, Y, 0.0f, CLGRAD_REDUCTION_MEAN, &L);
    float *y = st == CLGRAD_OK ? host(L) : NULL;
    if (!y) fail_status(s, "cross_entropy", st);
    else compare(s, "cross_entropy", y, &loss, 1, 1e-5);
    free(y);
    clgrad_tensor_release(L);
    L = NULL;
    /* layer norm over the last dim */
    float *want = malloc((size_t)N * C * sizeof *want);
    ref_layer_norm_forward(N, C, x, NULL, NULL, 1e-5f, want, NULL, NULL);
    st = X ? clgrad_layer_norm(X, 1, NULL, NULL, 1e-5f, &L) : CLGRAD_ERR_OPENCL;
    y = st == CLGRAD_OK ? host(L) : NULL;
    if (!y) fail_status(s, "layer_norm", st);
    else compare(s, "layer_norm", y, want, (size_t)N * C, 1e-4);
    free(y);
    free(want);
    free(x);
    clgrad_tensor_release(L);
    clgrad_tensor_release(X);
    clgrad_tensor_release(Y);
}

static void check_rng(st_ctx *s)
{
    int64_t sh[1] = {100003};
    clgrad_tensor *a = NULL, *b = NULL;
    clgrad_status st = clgrad_tensor_uniform(s->ctx, 1, sh, 1234, 0, 1, &a);
    if (st == CLGRAD_OK) st = clgrad_tensor_uniform(s->ctx, 1, sh, 1234, 0, 1, &b);
    float *x = st == CLGRAD_OK ? host(a) : NULL, *y = st == CLGRAD_OK ? host(b) : NULL;
    if (!x || !y) {
        fail_status(s, "rng uniform", st);
    } else {
        double mean = 0;
        int same = 1, inrange = 1;
        for (int i = 0; i < 100003; i++) {
            mean += x[i];
            same &= x[i] == y[i];
            inrange &= x[i] >= 0 && x[i] < 1;
        }
        mean /= 100003;
        if (!same || !inrange || fabs(mean - 0.5) > 0.01) fail(s, "rng uniform", "mean %.4f, deterministic %.0f", mean, same);
        else s->r->passed++;
    }
    free(x);
    free(y);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
}

/* Backward kernels through autograd: d/dw of sum(g * conv(x, w)) and d/dx of
 * sum(g * relu(x)), compared with direct sums on the host. */
static void check_backward(st_ctx *s)
{
    const int N = 2, C = 2, H = 7, W = 6, O = 3, k = 3;
    int64_t sx[4] = {N, C, H, W}, sw[4] = {O, C, k, k}, sy[4] = {N, O, H, W};
    float *x = rnd((size_t)N * C * H * W, 21, -1, 1), *w = rnd((size_t)O * C * k * k, 22, -1, 1);
    float *g = rnd((size_t)N * O * H * W, 23, -1, 1);
    float want[3 * 2 * 3 * 3];
    const ref_conv2d_params rp = {.n = N, .c_in = C, .h_in = H, .w_in = W, .c_out = O, .k_h = k, .k_w = k,
                                  .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1, .dil_h = 1, .dil_w = 1,
                                  .groups = 1};
    ref_conv2d_backward(&rp, x, w, g, NULL, want, NULL);
    clgrad_tensor *X = dev(s, 4, sx, x), *Wt = dev(s, 4, sw, w), *G = dev(s, 4, sy, g), *Y = NULL;
    clgrad_conv2d_params p = {.padding = {1, 1}};
    clgrad_status st = (X && Wt && G) ? clgrad_tensor_set_requires_grad(Wt, 1) : CLGRAD_ERR_OPENCL;
    if (st == CLGRAD_OK) st = clgrad_conv2d(X, Wt, NULL, &p, &Y);
    if (st == CLGRAD_OK) st = clgrad_backward_ex(Y, G, 0);
    float *y = st == CLGRAD_OK ? host(clgrad_tensor_grad(Wt)) : NULL;
    if (!y) fail_status(s, "conv2d backward (weight)", st);
    else compare(s, "conv2d backward (weight)", y, want, sizeof want / sizeof want[0], 1e-4);
    free(y);
    clgrad_tensor_release(Y);
    Y = NULL;
    /* relu backward: the gradient passes where x > 0 */
    size_t nx = (size_t)N * C * H * W;
    float *wr = malloc(nx * sizeof *wr);
    float *gx = rnd(nx, 24, -1, 1);
    ref_unary_backward(REF_UNARY_RELU, 0.0f, 0.0f, nx, x, gx, wr);
    clgrad_tensor *GX = dev(s, 4, sx, gx);
    st = GX ? clgrad_tensor_set_requires_grad(X, 1) : CLGRAD_ERR_OPENCL;
    if (st == CLGRAD_OK) st = clgrad_relu(X, &Y);
    if (st == CLGRAD_OK) st = clgrad_backward_ex(Y, GX, 0);
    y = st == CLGRAD_OK ? host(clgrad_tensor_grad(X)) : NULL;
    if (!y) fail_status(s, "relu backward", st);
    else compare(s, "relu backward", y, wr, nx, 0);
    free(y);
    free(wr);
    free(gx);
    free(x);
    free(w);
    free(g);
    clgrad_tensor_release(Y);
    clgrad_tensor_release(X);
    clgrad_tensor_release(Wt);
    clgrad_tensor_release(G);
    clgrad_tensor_release(GX);
}

/* Dropout keeps about 1 - p of the elements, scaled, with the same mask for the same seed;
 * embedding gathers rows; avg pool averages windows; one SGD step moves by -lr * grad. */
static void check_misc(st_ctx *s)
{
    int64_t n = 40000;
    clgrad_tensor *ones = NULL, *d1 = NULL, *d2 = NULL;
    clgrad_status st = clgrad_tensor_ones(s->ctx, 1, &n, &ones);
    if (st == CLGRAD_OK) st = clgrad_dropout(ones, 0.25f, 99, 1, &d1);
    if (st == CLGRAD_OK) st = clgrad_dropout(ones, 0.25f, 99, 1, &d2);
    float *a = st == CLGRAD_OK ? host(d1) : NULL, *b = st == CLGRAD_OK ? host(d2) : NULL;
    if (!a || !b) {
        fail_status(s, "dropout", st);
    } else {
        int same = 1, kept = 0, scaled = 1;
        for (int64_t i = 0; i < n; i++) {
            same &= a[i] == b[i];
            if (a[i] != 0) {
                kept++;
                scaled &= fabsf(a[i] - 1.0f / 0.75f) < 1e-6f;
            }
        }
        double frac = (double)kept / (double)n;
        if (!same || !scaled || fabs(frac - 0.75) > 0.02) fail(s, "dropout", "kept fraction %.4f, same mask %.0f", frac, same);
        else s->r->passed++;
    }
    free(a);
    free(b);
    clgrad_tensor_release(d1);
    clgrad_tensor_release(d2);
    clgrad_tensor_release(ones);

    /* embedding: rows of a (7, 5) table picked by 4 indices */
    int64_t sw[2] = {7, 5}, si[1] = {4};
    float *w = rnd(35, 31, -1, 1);
    int32_t idx[4] = {3, 0, 6, 3};
    float want[20];
    ref_embedding_forward(4, 5, 7, w, idx, want);
    clgrad_tensor *W = dev(s, 2, sw, w), *I = NULL, *E = NULL;
    st = clgrad_tensor_from_host(s->ctx, CLGRAD_DTYPE_I32, 1, si, idx, &I);
    if (st == CLGRAD_OK && W) st = clgrad_embedding(W, I, &E);
    float *y = st == CLGRAD_OK ? host(E) : NULL;
    if (!y) fail_status(s, "embedding", st);
    else compare(s, "embedding", y, want, 20, 0);
    free(y);
    clgrad_tensor_release(E);
    clgrad_tensor_release(I);

    /* SGD: w <- w - 0.5 * grad, grad of sum(w) is 1 */
    clgrad_optim_options o = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.5f);
    clgrad_optim *opt = NULL;
    clgrad_tensor *L = NULL;
    st = W ? clgrad_tensor_set_requires_grad(W, 1) : CLGRAD_ERR_OPENCL;
    if (st == CLGRAD_OK) st = clgrad_optim_create_params(s->ctx, 1, &W, NULL, &o, &opt);
    if (st == CLGRAD_OK) st = clgrad_sum(W, 0, NULL, 0, &L);
    if (st == CLGRAD_OK) st = clgrad_backward(L);
    if (st == CLGRAD_OK) st = clgrad_optim_step(opt);
    y = st == CLGRAD_OK ? host(W) : NULL;
    float want_w[35], grad_w[35];
    memcpy(want_w, w, sizeof want_w);
    for (int i = 0; i < 35; i++) grad_w[i] = 1.0f;
    ref_sgd_step(35, want_w, grad_w, NULL, 0.5f, 0.0f, 0.0f, 0, 0.0f, 1);
    if (!y) fail_status(s, "optim sgd", st);
    else compare(s, "optim sgd", y, want_w, 35, 1e-6);
    free(y);
    free(w);
    clgrad_tensor_release(L);
    clgrad_optim_release(opt);
    clgrad_tensor_release(W);

    /* 3x3 average pool, stride 1, no padding, on a (1, 1, 5, 6) image */
    int64_t sp[4] = {1, 1, 5, 6};
    float *x = rnd(30, 41, -1, 1);
    float wp[12];
    const ref_pool2d_params pr = {1, 5, 6, 3, 3, 1, 1, 0, 0};
    ref_avg_pool2d_forward(&pr, x, wp);
    clgrad_tensor *X = dev(s, 4, sp, x), *P = NULL;
    clgrad_pool2d_params pp = {.kernel = {3, 3}, .stride = {1, 1}};
    st = X ? clgrad_avg_pool2d(X, &pp, &P) : CLGRAD_ERR_OPENCL;
    y = st == CLGRAD_OK ? host(P) : NULL;
    if (!y) fail_status(s, "avg_pool2d", st);
    else compare(s, "avg_pool2d", y, wp, 12, 1e-6);
    free(y);
    free(x);
    clgrad_tensor_release(P);
    clgrad_tensor_release(X);
}

/* One LSTM layer over a short sequence (the fused sequence kernels), against the reference
 * cell run with the module's own parameters. */
static void check_lstm(st_ctx *s)
{
    enum { T = 3, B = 2, I = 3, H = 4 };
    clgrad_module *m = NULL;
    clgrad_tensor *X = NULL, *Y = NULL;
    int64_t sx[3] = {T, B, I};
    float *x = rnd(T * B * I, 51, -1, 1);
    clgrad_status st = clgrad_rnn_create(s->ctx, CLGRAD_LSTM, I, H, 1, 1, 0, 7, &m);
    X = st == CLGRAD_OK ? dev(s, 3, sx, x) : NULL;
    if (st == CLGRAD_OK && X) st = clgrad_rnn_forward(m, X, NULL, NULL, &Y, NULL, NULL);
    float *y = st == CLGRAD_OK ? host(Y) : NULL;
    float *p[4] = {0};
    for (int i = 0; y && i < 4; i++) p[i] = host(clgrad_module_param(m, i, NULL)); /* w_ih w_hh b_ih b_hh */
    if (!y || !p[0] || !p[1] || !p[2] || !p[3]) {
        fail_status(s, "lstm", st);
    } else {
        float want[T * B * H];
        ref_rnn_forward(REF_RNN_LSTM, T, B, I, H, x, p[0], p[1], p[2], p[3], NULL, NULL, want, NULL, NULL);
        compare(s, "lstm", y, want, T * B * H, 1e-5);
    }
    for (int i = 0; i < 4; i++) free(p[i]);
    free(y);
    free(x);
    clgrad_tensor_release(Y);
    clgrad_tensor_release(X);
    clgrad_module_release(m);
}

void probe_selftest_run(clgrad_context *ctx, probe_selftest *r)
{
    st_ctx s = {ctx, r};
    check_copy(&s);
    check_gemm(&s);
    check_binary(&s);
    check_unary(&s, "exp", clgrad_exp, REF_UNARY_EXP, -3, 3);
    check_unary(&s, "log", clgrad_log, REF_UNARY_LOG, 0.1f, 5);
    check_unary(&s, "sqrt", clgrad_sqrt, REF_UNARY_SQRT, 0.1f, 5);
    check_unary(&s, "abs", clgrad_abs, REF_UNARY_ABS, -2, 2);
    check_unary(&s, "neg", clgrad_neg, REF_UNARY_NEG, -2, 2);
    check_unary(&s, "relu", clgrad_relu, REF_UNARY_RELU, -2, 2);
    check_unary(&s, "sigmoid", clgrad_sigmoid, REF_UNARY_SIGMOID, -6, 6);
    check_unary(&s, "tanh", clgrad_tanh, REF_UNARY_TANH, -4, 4);
    check_unary(&s, "silu", clgrad_silu, REF_UNARY_SILU, -6, 6);
    check_unary(&s, "gelu", gelu_erf, REF_UNARY_GELU, -4, 4);
    check_unary(&s, "erf", clgrad_erf, REF_UNARY_ERF, -3, 3);
    check_softmax_reduce(&s);
    check_conv_pool(&s);
    check_loss_norm(&s);
    check_rng(&s);
    check_backward(&s);
    check_misc(&s);
    check_lstm(&s);
}
