/* The convolution and pooling families under both styles: every convolution algorithm
 * (im2col + GEMM, 1x1, depthwise, the fixed-window direct kernels) forced in turn on each
 * geometry it accepts (strides, padding, dilation, groups, one input channel, channel
 * multipliers), forward and all three gradients, images in one chunk and one per chunk;
 * clgrad_conv2d and clgrad_conv_transpose2d through autograd; max pooling on each of its
 * paths (the CPU 2x2 row kernel, the tiling, fixed-window and general kernels) and average
 * and global average pooling, forward and backward; a convolution, a ReLU and 2x2 max
 * pooling as one op (fused in the CPU style). Planes outnumber the lowered fold
 * limit everywhere. Against ref_conv2d_* and ref_*_pool2d_*. */
#include "gs.h"

#include "ops/conv.h"
#include "ops/fused.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct conv_case {
    int n, c_in, c_out, h, w, k, stride, pad, dil, groups;
} conv_case;

static const conv_case conv_cases[] = {
    {2, 3, 4, 5, 7, 3, 1, 1, 1, 1}, /* general, stride 1: the loop-free col2im */
    {2, 3, 4, 7, 9, 3, 2, 2, 2, 1}, /* stride and dilation: the general col2im */
    {2, 4, 6, 5, 6, 3, 1, 1, 1, 2}, /* groups */
    {2, 5, 3, 4, 5, 1, 1, 0, 1, 1}, /* 1x1 */
    {2, 4, 4, 6, 5, 3, 1, 1, 1, 4}, /* depthwise */
    {2, 3, 6, 5, 5, 3, 1, 1, 1, 3}, /* channel multiplier 2 */
    {3, 1, 4, 6, 6, 3, 1, 1, 1, 1}, /* one input channel */
    {2, 2, 2, 9, 11, 5, 3, 2, 1, 2}, /* a 5x5 window, stride 3 */
};
#define N_CONV ((int)(sizeof conv_cases / sizeof conv_cases[0]))

static ref_conv2d_params ref_params(const conv_case *c)
{
    ref_conv2d_params p = {.n = c->n, .c_in = c->c_in, .h_in = c->h, .w_in = c->w, .c_out = c->c_out,
                           .k_h = c->k, .k_w = c->k, .stride_h = c->stride, .stride_w = c->stride,
                           .pad_h = c->pad, .pad_w = c->pad, .dil_h = c->dil, .dil_w = c->dil, .groups = c->groups};
    return p;
}

/* Forward and the three gradients of case c with algorithm algo (forced; AUTO included). */
static void conv_algo_case(const conv_case *c, int algo, const char *tag)
{
    ref_conv2d_params rp = ref_params(c);
    int ho = ref_conv2d_out_dim(c->h, c->k, c->stride, c->pad, c->dil);
    int wo = ref_conv2d_out_dim(c->w, c->k, c->stride, c->pad, c->dil);
    int64_t sx[4] = {c->n, c->c_in, c->h, c->w}, sw[4] = {c->c_out, c->c_in / c->groups, c->k, c->k};
    int64_t sb[1] = {c->c_out}, sy[4] = {c->n, c->c_out, ho, wo};
    float *hx, *hw, *hb, *hdy;
    clgrad_tensor *x = gs_rand(4, sx, 1, -1, 1, &hx), *w = gs_rand(4, sw, 2, -1, 1, &hw);
    clgrad_tensor *b = gs_rand(1, sb, 3, -1, 1, &hb), *dy = gs_rand(4, sy, 4, -1, 1, &hdy);
    clgrad_conv2d_params p = {.stride = {c->stride, c->stride}, .padding = {c->pad, c->pad},
                              .dilation = {c->dil, c->dil}, .groups = c->groups};
    clgrad__conv_geom g;
    int64_t shape[4];
    TH_OK(clgrad__conv_setup("gs", 0, x, w, b, &p, &g, shape));
    size_t ny = (size_t)th_numel(4, sy), nx = (size_t)th_numel(4, sx), nw = (size_t)th_numel(4, sw);
    float *y = malloc(ny * sizeof *y), *dx = malloc(nx * sizeof *dx), *dw = malloc(nw * sizeof *dw);
    float db[16];
    ck_assert_int_eq(ref_conv2d_forward(&rp, hx, hw, hb, y), 0);
    ck_assert_int_eq(ref_conv2d_backward(&rp, hx, hw, hdy, dx, dw, db), 0);
    clgrad_tensor *ty = NULL, *tdx = NULL, *tdw = NULL, *tdb = NULL;
    TH_OK(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 4, sy, &ty));
    TH_OK(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 4, sx, &tdx));
    TH_OK(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 4, sw, &tdw));
    TH_OK(clgrad_tensor_empty(th_ctx, CLGRAD_DTYPE_F32, 1, sb, &tdb));
    TH_OK(clgrad__conv_forward_algo(th_ctx, &g, algo, x, w, b, ty));
    TH_OK(clgrad__conv_backward_algo(th_ctx, &g, algo, x, w, dy, NULL, tdx, tdw));
    TH_OK(clgrad__conv_bias_grad(th_ctx, dy, tdb));
    char pre[128], what[160];
    float *got;
    snprintf(pre, sizeof pre, "%s algo %d conv %dx%d->%d k%d s%d p%d d%d g%d", tag, algo, c->n, c->c_in, c->c_out,
             c->k, c->stride, c->pad, c->dil, c->groups);
    static const char *const part[4] = {"y", "dx", "dw", "db"};
    clgrad_tensor *const gotten[4] = {ty, tdx, tdw, tdb};
    const float *const wanted[4] = {y, dx, dw, db};
    const size_t count[4] = {ny, nx, nw, (size_t)c->c_out};
    for (int i = 0; i < 4; i++) {
        snprintf(what, sizeof what, "%s: %s", pre, part[i]);
        th_allclose(what, got = th_read(gotten[i]), wanted[i], count[i], 1e-4, 1e-4);
        free(got);
    }
    free(y), free(dx), free(dw), free(hx), free(hw), free(hb), free(hdy);
    clgrad_tensor *all[8] = {x, w, b, dy, ty, tdx, tdw, tdb};
    for (int i = 0; i < 8; i++) clgrad_tensor_release(all[i]);
}

START_TEST(conv_every_algorithm)
{
    gs_style(_i);
    for (int chunked = 0; chunked < 2; chunked++) {
        /* one image per chunk of the im2col path, or all in one */
        if (chunked) setenv("CLGRAD_CONV_TEMP_BYTES", "1", 1);
        else unsetenv("CLGRAD_CONV_TEMP_BYTES");
        char tag[64];
        snprintf(tag, sizeof tag, "%s%s", gs_style_name(_i), chunked ? " chunked" : "");
        for (int c = 0; c < N_CONV; c++)
            for (int algo = CLGRAD__CONV_AUTO; algo <= CLGRAD__CONV_DIRECT; algo++) {
                /* a forced algorithm the geometry does not take falls back to AUTO: skip those repeats */
                const conv_case *cc = &conv_cases[c];
                int fits = algo == CLGRAD__CONV_AUTO || algo == CLGRAD__CONV_IM2COL ||
                           (algo == CLGRAD__CONV_1X1 && cc->k == 1 && cc->stride == 1 && cc->pad == 0) ||
                           (algo == CLGRAD__CONV_DEPTHWISE && cc->groups == cc->c_in && cc->groups == cc->c_out) ||
                           (algo == CLGRAD__CONV_DIRECT && cc->groups == cc->c_in);
                if (!fits || (chunked && algo != CLGRAD__CONV_AUTO && algo != CLGRAD__CONV_IM2COL)) continue;
                conv_algo_case(cc, algo, tag);
            }
    }
    unsetenv("CLGRAD_CONV_TEMP_BYTES");
}
END_TEST

typedef struct conv_args {
    clgrad_conv2d_params p;
    int transposed;
} conv_args;

static clgrad_status conv_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    const conv_args *a = user;
    return a->transposed ? clgrad_conv_transpose2d(in[0], in[1], in[2], &a->p, out)
                         : clgrad_conv2d(in[0], in[1], in[2], &a->p, out);
}

/* The ops as layers use them: the forward keeps its columns for the weight gradient. */
START_TEST(conv2d_and_transpose_through_autograd)
{
    gs_style(_i % GS_N_STYLES);
    if (_i >= GS_N_STYLES) {
        /* the tuner's convolution choices that no table row makes: the direct kernels both
         * ways for one input channel, per-image backward GEMMs with the input gradient too,
         * image chunks of 1 KiB */
        clgrad__ops_params ops = *clgrad__ops_tuning(th_ctx);
        ops.conv_direct_c1 = 2, ops.conv_per_image = 2, ops.conv_chunk_kb = 1;
        clgrad__tuned_trial(th_ctx, &ops, NULL);
    }
    static const int which[] = {0, 3, 6, 2};
    for (int t = 0; t < 2; t++)
        for (size_t k = 0; k < sizeof which / sizeof which[0]; k++) {
            const conv_case *c = &conv_cases[which[k]];
            if (t && c->groups > 1 && c->c_in != c->c_out) continue;
            ref_conv2d_params rp = ref_params(c);
            conv_args a = {{.stride = {c->stride, c->stride}, .padding = {c->pad, c->pad},
                            .dilation = {c->dil, c->dil}, .groups = c->groups}, t};
            int ho, wo;
            int64_t sw[4];
            if (t) { /* the transposed convolution: stride 2 with an output padding */
                a.p.stride[0] = a.p.stride[1] = 2, a.p.output_padding[0] = a.p.output_padding[1] = 1;
                rp.stride_h = rp.stride_w = 2, rp.out_pad_h = rp.out_pad_w = 1;
                ho = ref_conv_transpose2d_out_dim(c->h, c->k, 2, c->pad, c->dil, 1);
                wo = ref_conv_transpose2d_out_dim(c->w, c->k, 2, c->pad, c->dil, 1);
                sw[0] = c->c_in, sw[1] = c->c_out / c->groups;
            } else {
                ho = ref_conv2d_out_dim(c->h, c->k, c->stride, c->pad, c->dil);
                wo = ref_conv2d_out_dim(c->w, c->k, c->stride, c->pad, c->dil);
                sw[0] = c->c_out, sw[1] = c->c_in / c->groups;
            }
            sw[2] = sw[3] = c->k;
            int64_t sx[4] = {c->n, c->c_in, c->h, c->w}, sb[1] = {c->c_out};
            size_t ny = (size_t)c->n * c->c_out * ho * wo, nx = (size_t)th_numel(4, sx), nw = (size_t)th_numel(4, sw);
            float *hx, *hw, *hb;
            clgrad_tensor *in[3] = {gs_rand(4, sx, 5, -1, 1, &hx), gs_rand(4, sw, 6, -1, 1, &hw),
                                    gs_rand(1, sb, 7, -1, 1, &hb)};
            for (int i = 0; i < 3; i++) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1));
            float *y = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy), *dx = malloc(nx * sizeof *dx);
            float *dw = malloc(nw * sizeof *dw), db[16];
            th_fill_uniform(dy, ny, 8, -1, 1);
            if (t) {
                ck_assert_int_eq(ref_conv_transpose2d_forward(&rp, hx, hw, hb, y), 0);
                ck_assert_int_eq(ref_conv_transpose2d_backward(&rp, hx, hw, dy, dx, dw, db), 0);
            } else {
                ck_assert_int_eq(ref_conv2d_forward(&rp, hx, hw, hb, y), 0);
                ck_assert_int_eq(ref_conv2d_backward(&rp, hx, hw, dy, dx, dw, db), 0);
            }
            char what[96];
            snprintf(what, sizeof what, "%s%s %s case %d", gs_style_name(_i % GS_N_STYLES),
                     _i >= GS_N_STYLES ? " tuned choices" : "", t ? "conv_transpose2d" : "conv2d", which[k]);
            const float *wd[3] = {dx, dw, db};
            gs_check_op(what, conv_op, &a, 3, in, y, dy, wd, 1e-4, 1e-4);
            free(y), free(dy), free(dx), free(dw), free(hx), free(hw), free(hb);
            for (int i = 0; i < 3; i++) clgrad_tensor_release(in[i]);
        }
}
END_TEST

/* --- pooling --------------------------------------------------------------------------------- */

typedef struct pool_args {
    clgrad_pool2d_params p;
    int kind; /* 0 max, 1 avg, 2 global average */
} pool_args;

static clgrad_status pool_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    const pool_args *a = user;
    if (a->kind == 0) return clgrad_max_pool2d(in[0], &a->p, out, NULL);
    if (a->kind == 1) return clgrad_avg_pool2d(in[0], &a->p, out);
    return clgrad_global_avg_pool2d(in[0], out);
}

START_TEST(pooling_every_path)
{
    gs_style(_i);
    /* (h, w, k, stride, pad): 2x2 tiling exactly (the CPU row kernels, else the tiling
     * kernels), 2x2 over odd sizes (tiling forward, fixed-window backward), 3x3 with padding
     * (fixed window), 5x5 (the general kernels), and a strided input */
    static const int cases[][5] = {{8, 10, 2, 2, 0}, {7, 9, 2, 2, 0}, {7, 9, 3, 2, 1}, {6, 7, 5, 1, 2}};
    for (int kind = 0; kind < 3; kind++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
            for (int strided = 0; strided < 2; strided++) {
                if ((kind == 2 && c > 0) || (strided && c > 1)) continue;
                const int h = cases[c][0], w = cases[c][1], k = cases[c][2], s = cases[c][3], pd = cases[c][4];
                int64_t sx[4] = {2, 3, h, w};
                float *hx;
                clgrad_tensor *x = gs_rand(4, sx, 9 + c, -1, 1, &hx);
                if (strided) th_make_noncontig(&x);
                TH_OK(clgrad_tensor_set_requires_grad(x, 1));
                ref_pool2d_params rp = {6, h, w, k, k, s, s, pd, pd};
                int ho = kind == 2 ? 1 : ref_pool2d_out_dim(h, k, s, pd), wo = kind == 2 ? 1 : ref_pool2d_out_dim(w, k, s, pd);
                size_t ny = (size_t)6 * ho * wo, nx = (size_t)6 * h * w;
                float *y = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy), *dx = malloc(nx * sizeof *dx);
                int32_t *idx = malloc(ny * sizeof *idx);
                th_fill_uniform(dy, ny, 10, -1, 1);
                if (kind == 0) {
                    ck_assert_int_eq(ref_max_pool2d_forward(&rp, hx, y, idx), 0);
                    ck_assert_int_eq(ref_max_pool2d_backward(&rp, idx, dy, dx), 0);
                } else if (kind == 1) {
                    ck_assert_int_eq(ref_avg_pool2d_forward(&rp, hx, y), 0);
                    ck_assert_int_eq(ref_avg_pool2d_backward(&rp, dy, dx), 0);
                } else {
                    ref_global_avg_pool_forward(6, (size_t)h * w, hx, y);
                    ref_global_avg_pool_backward(6, (size_t)h * w, dy, dx);
                }
                pool_args a = {{{k, k}, {s, s}, {pd, pd}}, kind};
                char what[96];
                snprintf(what, sizeof what, "%s %s pool case %zu%s", gs_style_name(_i),
                         kind == 0 ? "max" : kind == 1 ? "avg" : "global avg", c, strided ? " strided" : "");
                const float *wd[1] = {dx};
                gs_check_op(what, pool_op, &a, 1, &x, y, dy, wd, 1e-5, 1e-4);
                free(y), free(dy), free(dx), free(idx), free(hx);
                clgrad_tensor_release(x);
            }
}
END_TEST

/* --- a convolution, a ReLU and 2x2 max pooling as one op (the CPU style fuses them) ------- */

static clgrad_status conv_relu_pool_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    return clgrad__conv2d_relu_pool(in[0], in[1], in[2], user, out);
}

START_TEST(conv_relu_pool_fused)
{
    gs_style(_i);
    /* 3 images x 4 channels of 6 x 10 (pooled width 5: a vector of four and one more) */
    const int n = 3, ci = 2, co = 4, h = 6, w = 10;
    int64_t sx[4] = {n, ci, h, w}, sw[4] = {co, ci, 3, 3}, sb[1] = {co};
    float *hx, *hw, *hb;
    clgrad_tensor *in[3] = {gs_rand(4, sx, 31, -1, 1, &hx), gs_rand(4, sw, 32, -1, 1, &hw),
                            gs_rand(1, sb, 33, -0.5f, 0.5f, &hb)};
    for (int i = 0; i < 3; i++) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1));
    ref_conv2d_params rp = {.n = n, .c_in = ci, .h_in = h, .w_in = w, .c_out = co, .k_h = 3, .k_w = 3,
                            .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1};
    size_t nz = (size_t)n * co * h * w, ny = nz / 4;
    float *z = malloc(nz * sizeof *z), *dz = malloc(nz * sizeof *dz), *y = malloc(ny * sizeof *y);
    float *dy = malloc(ny * sizeof *dy), *dx = malloc((size_t)n * ci * h * w * sizeof *dx);
    float *dw = malloc((size_t)co * ci * 9 * sizeof *dw), db[4];
    int32_t *idx = malloc(ny * sizeof *idx);
    th_fill_uniform(dy, ny, 34, -1, 1);
    ck_assert_int_eq(ref_conv2d_forward(&rp, hx, hw, hb, z), 0);
    for (size_t i = 0; i < nz; i++) z[i] = z[i] < 0.0f ? 0.0f : z[i];
    ref_pool2d_params pp = {n * co, h, w, 2, 2, 2, 2, 0, 0};
    ck_assert_int_eq(ref_max_pool2d_forward(&pp, z, y, idx), 0);
    ck_assert_int_eq(ref_max_pool2d_backward(&pp, idx, dy, dz), 0);
    for (size_t i = 0; i < nz; i++) dz[i] = z[i] > 0.0f ? dz[i] : 0.0f;
    ck_assert_int_eq(ref_conv2d_backward(&rp, hx, hw, dz, dx, dw, db), 0);
    clgrad_conv2d_params p = {.stride = {1, 1}, .padding = {1, 1}, .dilation = {1, 1}, .groups = 1};
    const float *wd[3] = {dx, dw, db};
    char what[64];
    snprintf(what, sizeof what, "%s conv + relu + max pool", gs_style_name(_i));
    gs_check_op(what, conv_relu_pool_op, &p, 3, in, y, dy, wd, 1e-5, 1e-4);
    free(z), free(dz), free(y), free(dy), free(dx), free(dw), free(idx), free(hx), free(hw), free(hb);
    for (int i = 0; i < 3; i++) clgrad_tensor_release(in[i]);
}
END_TEST

static Suite *suite_gs_conv(void)
{
    Suite *s = suite_create("gs_conv");
    TCase *t = tcase_create("conv");
    tcase_add_checked_fixture(t, th_setup, th_teardown);
    tcase_set_timeout(t, 600);
    tcase_add_loop_test(t, conv_every_algorithm, 0, GS_N_STYLES);
    tcase_add_loop_test(t, conv2d_and_transpose_through_autograd, 0, 2 * GS_N_STYLES);
    tcase_add_loop_test(t, pooling_every_path, 0, GS_N_STYLES);
    tcase_add_loop_test(t, conv_relu_pool_fused, 0, GS_N_STYLES);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return th_run(suite_gs_conv(), 1); }
