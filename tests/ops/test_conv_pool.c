/* A convolution followed by a ReLU and 2x2 max pooling with stride 2 as one op
 * (clgrad__conv2d_relu_pool, src/ops/conv_pool.c): forward and the three gradients
 * bit-identical to clgrad_conv2d, clgrad_relu and clgrad_max_pool2d one after another, and
 * equal to the plain-C references (conv, ReLU, pooling and their backward rules) within
 * float rounding; window widths with and without a vector remainder, windows where every
 * tap is negative or ties, no bias, several image chunks, and outputs of odd size (the
 * three ops then run). The op is fused (one node, the convolution's) where it should be. */
#include "harness.h"
#include "ref.h"

#include "ops/fused.h"
#include "tensor/node.h"
#include "tensor/tensor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pool_case {
    int n, c_in, h, w, c_out, k, pad, bias;
    float bias_lo; /* bias drawn from [bias_lo, bias_lo + 1]: below -1, whole windows are negative */
    int quantise;  /* inputs and weights on a coarse grid: ties between taps */
} pool_case;

static const pool_case CASES[] = {
    /* n ci  h   w co  k pad bias  lo  q */
    {3, 2, 8, 12, 5, 3, 1, 1, -0.5f, 0}, /* pooled width 6: one vector of four and two more */
    {2, 3, 6, 16, 4, 3, 1, 1, -0.5f, 0}, /* pooled width 8: two vectors */
    {2, 1, 4, 4, 3, 3, 1, 0, 0.0f, 0},   /* no bias, pooled width 2 */
    {2, 2, 6, 6, 4, 3, 1, 1, -2.5f, 0},  /* mostly negative: windows of zeros after the ReLU */
    {2, 2, 8, 8, 3, 3, 1, 1, -0.5f, 1},  /* ties */
    {2, 2, 7, 8, 3, 3, 1, 1, -0.5f, 0},  /* odd output height: not fused */
    {2, 2, 9, 8, 3, 2, 0, 1, -0.5f, 0},  /* a 2x2 kernel, output 8 x 7 (odd width): not fused */
};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

typedef struct run_out {
    float *y, *dx, *dw, *db;
    const char *node;
} run_out;

static void quantise(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) v[i] = roundf(v[i] * 2.0f) / 2.0f;
}

static clgrad_tensor *leaf(int ndim, const int64_t *shape, const float *data)
{
    clgrad_tensor *t = th_tensor(ndim, shape, data);
    TH_OK(clgrad_tensor_set_requires_grad(t, 1));
    return t;
}

/* y and the gradients of sum(y * r) for x, w and bias, fused or by the three ops */
static run_out run(const pool_case *c, int fused, const float *hx, const float *hw, const float *hb, const float *hr)
{
    int64_t sx[4] = {c->n, c->c_in, c->h, c->w}, sw[4] = {c->c_out, c->c_in, c->k, c->k}, sb[1] = {c->c_out};
    clgrad_tensor *x = leaf(4, sx, hx), *w = leaf(4, sw, hw), *b = c->bias ? leaf(1, sb, hb) : NULL;
    clgrad_conv2d_params p = {.stride = {1, 1}, .padding = {c->pad, c->pad}, .dilation = {1, 1}, .groups = 1};
    clgrad_tensor *y = NULL;
    if (fused) {
        TH_OK(clgrad__conv2d_relu_pool(x, w, b, &p, &y));
    } else {
        clgrad_tensor *z = NULL, *r = NULL;
        clgrad_pool2d_params pp = {{2, 2}, {2, 2}, {0, 0}};
        TH_OK(clgrad_conv2d(x, w, b, &p, &z));
        TH_OK(clgrad_relu(z, &r));
        TH_OK(clgrad_max_pool2d(r, &pp, &y, NULL));
        clgrad_tensor_release(z);
        clgrad_tensor_release(r);
    }
    run_out o = {0};
    o.node = y->node ? y->node->name : "";
    o.y = th_read(y);
    clgrad_tensor *rt = th_tensor(4, y->shape, hr), *prod = NULL, *loss = NULL;
    TH_OK(clgrad_mul(y, rt, &prod));
    TH_OK(clgrad_sum(prod, 0, NULL, 0, &loss));
    TH_OK(clgrad_backward(loss));
    o.dx = th_read(clgrad_tensor_grad(x));
    o.dw = th_read(clgrad_tensor_grad(w));
    o.db = b ? th_read(clgrad_tensor_grad(b)) : NULL;
    clgrad_tensor *all[] = {x, w, b, y, rt, prod, loss};
    for (int i = 0; i < 7; i++) clgrad_tensor_release(all[i]);
    return o;
}

static void free_out(run_out *o)
{
    free(o->y);
    free(o->dx);
    free(o->dw);
    free(o->db);
}

/* the plain-C forward and gradients of maxpool(relu(conv)) */
static void reference(const pool_case *c, const float *hx, const float *hw, const float *hb, const float *hr,
                      run_out *o)
{
    ref_conv2d_params rp = {.n = c->n, .c_in = c->c_in, .h_in = c->h, .w_in = c->w, .c_out = c->c_out,
                            .k_h = c->k, .k_w = c->k, .stride_h = 1, .stride_w = 1, .pad_h = c->pad,
                            .pad_w = c->pad, .dil_h = 1, .dil_w = 1, .groups = 1};
    int ho = ref_conv2d_out_dim(c->h, c->k, 1, c->pad, 1), wo = ref_conv2d_out_dim(c->w, c->k, 1, c->pad, 1);
    size_t nz = (size_t)c->n * c->c_out * ho * wo, ny = (size_t)c->n * c->c_out * (ho / 2) * (wo / 2);
    float *z = malloc(nz * sizeof *z), *dz = malloc(nz * sizeof *dz);
    int32_t *idx = malloc(ny * sizeof *idx);
    o->y = malloc(ny * sizeof *o->y);
    o->dx = malloc((size_t)c->n * c->c_in * c->h * c->w * sizeof(float));
    o->dw = malloc((size_t)c->c_out * c->c_in * c->k * c->k * sizeof(float));
    o->db = malloc((size_t)c->c_out * sizeof(float));
    ck_assert_int_eq(ref_conv2d_forward(&rp, hx, hw, c->bias ? hb : NULL, z), 0);
    for (size_t i = 0; i < nz; i++) z[i] = z[i] < 0.0f ? 0.0f : z[i];
    ref_pool2d_params pp = {.planes = c->n * c->c_out, .h_in = ho, .w_in = wo, .k_h = 2, .k_w = 2,
                            .stride_h = 2, .stride_w = 2};
    ck_assert_int_eq(ref_max_pool2d_forward(&pp, z, o->y, idx), 0);
    ck_assert_int_eq(ref_max_pool2d_backward(&pp, idx, hr, dz), 0);
    for (size_t i = 0; i < nz; i++) dz[i] = z[i] > 0.0f ? dz[i] : 0.0f;
    ck_assert_int_eq(ref_conv2d_backward(&rp, hx, hw, dz, o->dx, o->dw, o->db), 0);
    free(z);
    free(dz);
    free(idx);
}

static void check_bits(const char *what, const float *a, const float *b, size_t n)
{
    if (memcmp(a, b, n * sizeof *a) != 0) {
        size_t i = 0;
        while (i < n && memcmp(a + i, b + i, sizeof *a) == 0) i++;
        ck_abort_msg("%s: fused and separate differ first at %zu: %.9g vs %.9g", what, i, (double)a[i], (double)b[i]);
    }
}

START_TEST(fused_equals_three_ops_and_reference)
{
    const pool_case *c = &CASES[_i];
    size_t nx = (size_t)c->n * c->c_in * c->h * c->w, nw = (size_t)c->c_out * c->c_in * c->k * c->k;
    int ho = c->h + 2 * c->pad - c->k + 1, wo = c->w + 2 * c->pad - c->k + 1;
    size_t ny = (size_t)c->n * c->c_out * (ho / 2) * (wo / 2);
    float *hx = malloc(nx * sizeof *hx), *hw = malloc(nw * sizeof *hw), hb[16], *hr = malloc(ny * sizeof *hr);
    th_fill_uniform(hx, nx, 11 + (uint64_t)_i, -1, 1);
    th_fill_uniform(hw, nw, 23 + (uint64_t)_i, -1, 1);
    th_fill_uniform(hb, (size_t)c->c_out, 37, c->bias_lo, c->bias_lo + 1);
    th_fill_uniform(hr, ny, 41, -1, 1);
    if (c->quantise) {
        quantise(hx, nx);
        quantise(hw, nw);
        quantise(hb, (size_t)c->c_out);
    }
    run_out f = run(c, 1, hx, hw, hb, hr), s = run(c, 0, hx, hw, hb, hr), r;
    int expect_fused = ho % 2 == 0 && wo % 2 == 0;
    ck_assert_msg(strcmp(f.node, expect_fused ? "conv2d" : "max_pool2d") == 0,
                  "case %d: the output came from %s", _i, f.node);
    check_bits("y", f.y, s.y, ny);
    check_bits("dx", f.dx, s.dx, nx);
    check_bits("dw", f.dw, s.dw, nw);
    if (c->bias) check_bits("db", f.db, s.db, (size_t)c->c_out);
    reference(c, hx, hw, hb, hr, &r);
    th_allclose("y vs reference", f.y, r.y, ny, 1e-5, 1e-5);
    th_allclose("dx vs reference", f.dx, r.dx, nx, 1e-5, 1e-4);
    th_allclose("dw vs reference", f.dw, r.dw, nw, 1e-5, 1e-4);
    if (c->bias) th_allclose("db vs reference", f.db, r.db, (size_t)c->c_out, 1e-5, 1e-4);
    free_out(&f);
    free_out(&s);
    free_out(&r);
    free(hx);
    free(hw);
    free(hr);
}
END_TEST

/* a wrong channel count is the convolution's error, and nothing is left allocated */
START_TEST(fused_reports_the_convolutions_errors)
{
    int64_t sx[4] = {1, 3, 6, 6}, sw[4] = {2, 2, 3, 3};
    clgrad_tensor *x = th_rand(4, sx, 1, -1, 1), *w = th_rand(4, sw, 2, -1, 1), *y = (clgrad_tensor *)&y;
    clgrad_conv2d_params p = {.stride = {1, 1}, .padding = {1, 1}, .dilation = {1, 1}, .groups = 1};
    ck_assert_int_eq(clgrad__conv2d_relu_pool(x, w, NULL, &p, &y), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(y);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "conv2d"));
    clgrad_tensor_release(x);
    clgrad_tensor_release(w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ops_conv_pool");
    TCase *tc = tcase_create("conv_pool");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, fused_equals_three_ops_and_reference, 0, N_CASES);
    tcase_add_test(tc, fused_reports_the_convolutions_errors);
    suite_add_tcase(s, tc);
    return th_run(s, 1);
}
