/* Finite-difference gradient checks of conv2d and conv_transpose2d for every input (x,
 * weight, bias) on small shapes: plain, stride 2 with padding, dilation 2, groups 2,
 * depthwise, 1x1, and transposed with output_padding and groups; conv2d with a fused ReLU,
 * and with a ReLU and 2x2 max pooling. */
#include "harness.h"
#include "ops/fused.h"

#include <stdio.h>

typedef struct gcase {
    int transposed; /* 2: conv2d with a fused ReLU, 3: and 2x2 max pooling (src/ops/fused.h) */
    int n, c_in, h, w, c_out, kh, kw;
    clgrad_conv2d_params p;
    int bias;
} gcase;

static clgrad_status run(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    const gcase *c = user;
    if (c->transposed == 2) return clgrad__conv2d_relu(in[0], in[1], c->bias ? in[2] : NULL, &c->p, out);
    if (c->transposed == 3) return clgrad__conv2d_relu_pool(in[0], in[1], c->bias ? in[2] : NULL, &c->p, out);
    if (c->transposed) return clgrad_conv_transpose2d(in[0], in[1], c->bias ? in[2] : NULL, &c->p, out);
    return clgrad_conv2d(in[0], in[1], c->bias ? in[2] : NULL, &c->p, out);
}

static void check(const char *what, const gcase *c)
{
    int g = c->p.groups ? c->p.groups : 1;
    int64_t xs[4] = {c->n, c->c_in, c->h, c->w};
    int tr = c->transposed == 1;
    int64_t ws[4] = {tr ? c->c_in : c->c_out, tr ? c->c_out / g : c->c_in / g, c->kh, c->kw};
    int64_t bs[1] = {c->c_out};
    clgrad_tensor *in[3] = {th_rand(4, xs, 3, -1, 1), th_rand(4, ws, 5, -1, 1), th_rand(1, bs, 7, -1, 1)};
    for (int i = 0; i < 3; i++)
        if (i < 2 || c->bias) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1));
    /* a ReLU: a smaller step keeps the differences off its kink */
    th_gradcheck(what, run, 3, in, (void *)c, c->transposed >= 2 ? 1e-3 : 1e-2, 2e-3, 1e-2);
    for (int i = 0; i < 3; i++) clgrad_tensor_release(in[i]);
}

/* fields: transposed, n, c_in, h, w, c_out, kh, kw, {stride, padding, dilation, groups, output_padding}, bias */
START_TEST(conv2d_plain)
{
    gcase c = {0, 2, 2, 5, 4, 3, 3, 3, {{1, 1}, {0, 0}, {1, 1}, 1, {0, 0}}, 1};
    check("plain", &c);
}
END_TEST
START_TEST(conv2d_relu_fused)
{
    gcase c = {2, 2, 2, 5, 4, 3, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1, {0, 0}}, 1};
    check("conv2d + relu", &c);
    gcase d = {2, 1, 3, 6, 5, 3, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 3, {0, 0}}, 0}; /* groups: the two ops */
    check("conv2d + relu, groups", &d);
}
END_TEST
START_TEST(conv2d_relu_pool_fused)
{
    gcase c = {3, 2, 2, 6, 4, 3, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1, {0, 0}}, 1}; /* 6x4 output: fused */
    check("conv2d + relu + max pool", &c);
    gcase d = {3, 1, 2, 5, 4, 3, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 1, {0, 0}}, 0}; /* odd height: the three ops */
    check("conv2d + relu + max pool, odd", &d);
}
END_TEST
START_TEST(conv2d_stride_padding)
{
    gcase c = {0, 1, 3, 7, 6, 2, 3, 2, {{2, 2}, {1, 1}, {1, 1}, 1, {0, 0}}, 1};
    check("stride 2, padding", &c);
}
END_TEST
START_TEST(conv2d_dilation)
{
    gcase c = {0, 2, 2, 7, 6, 2, 3, 3, {{1, 1}, {2, 1}, {2, 2}, 1, {0, 0}}, 0};
    check("dilation 2", &c);
}
END_TEST
START_TEST(conv2d_groups)
{
    gcase c = {0, 2, 4, 5, 5, 6, 3, 3, {{1, 2}, {1, 1}, {1, 1}, 2, {0, 0}}, 1};
    check("groups 2", &c);
}
END_TEST
START_TEST(conv2d_depthwise)
{
    gcase c = {0, 2, 3, 6, 5, 3, 3, 3, {{2, 1}, {1, 1}, {1, 1}, 3, {0, 0}}, 1};
    check("depthwise", &c);
}
END_TEST
START_TEST(conv2d_1x1)
{
    gcase c = {0, 1, 2, 16, 16, 3, 1, 1, {{1, 1}, {0, 0}, {1, 1}, 1, {0, 0}}, 1};
    check("1x1", &c);
}
END_TEST
START_TEST(conv_transpose2d_plain)
{
    gcase c = {1, 2, 3, 4, 3, 2, 3, 3, {{2, 2}, {1, 0}, {1, 1}, 1, {1, 0}}, 1};
    check("transposed", &c);
}
END_TEST
START_TEST(conv_transpose2d_groups_dilation)
{
    gcase c = {1, 1, 4, 3, 4, 6, 2, 3, {{1, 2}, {0, 1}, {2, 1}, 2, {1, 1}}, 1};
    check("transposed groups", &c);
}
END_TEST
START_TEST(conv_transpose2d_depthwise)
{
    gcase c = {1, 2, 3, 4, 4, 3, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 3, {0, 0}}, 0};
    check("transposed depthwise", &c);
}
END_TEST

static Suite *suite_autograd_grad_conv(void)
{
    Suite *s = suite_create("autograd_grad_conv");
    TCase *tc = tcase_create("gradcheck");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, conv2d_plain);
    tcase_add_test(tc, conv2d_relu_fused);
    tcase_add_test(tc, conv2d_relu_pool_fused);
    tcase_add_test(tc, conv2d_stride_padding);
    tcase_add_test(tc, conv2d_dilation);
    tcase_add_test(tc, conv2d_groups);
    tcase_add_test(tc, conv2d_depthwise);
    tcase_add_test(tc, conv2d_1x1);
    tcase_add_test(tc, conv_transpose2d_plain);
    tcase_add_test(tc, conv_transpose2d_groups_dilation);
    tcase_add_test(tc, conv_transpose2d_depthwise);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_autograd_grad_conv(), 1); }
