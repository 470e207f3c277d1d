/* Finite-difference gradient checks of clgrad_matmul for both inputs: 2-D, batched with
 * broadcasting (3-D x 2-D shared weights, 4-D x 3-D with size-1 batch dims on both sides,
 * whose gradients must be summed back to the input shapes), 1-D operands, and
 * non-contiguous (transposed) inputs; the linear op with and without its fused ReLU. */
#include "harness.h"
#include "ops/fused.h"

typedef struct gcase {
    int na, nb;
    int64_t sa[4], sb[4];
    int noncontig;
} gcase;

static clgrad_status run(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    (void)user;
    return clgrad_matmul(in[0], in[1], out);
}

static void check(const char *what, const gcase *c)
{
    clgrad_tensor *in[2] = {th_rand(c->na, c->sa, 3, -1, 1), th_rand(c->nb, c->sb, 5, -1, 1)};
    if (c->noncontig)
        for (int i = 0; i < 2; i++) {
            th_make_noncontig(&in[i]);
        }
    for (int i = 0; i < 2; i++) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1));
    th_gradcheck(what, run, 2, in, NULL, 1e-2, 2e-3, 1e-2);
    for (int i = 0; i < 2; i++) clgrad_tensor_release(in[i]);
}

/* The linear op (src/ops/fused.h): x, weight and bias, with and without the fused ReLU. */
typedef struct lcase {
    int nd, relu, bias, noncontig;
    int64_t sx[3];
    int64_t out;
} lcase;

static clgrad_status run_linear(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    const lcase *c = user;
    return clgrad__linear(in[0], in[1], c->bias ? in[2] : NULL, c->relu, out);
}

static void check_linear(const char *what, const lcase *c)
{
    int64_t sw[2] = {c->out, c->sx[c->nd - 1]};
    clgrad_tensor *in[3] = {th_rand(c->nd, c->sx, 7, -1, 1), th_rand(2, sw, 9, -1, 1), th_rand(1, &c->out, 11, -1, 1)};
    if (c->noncontig) th_make_noncontig(&in[0]);
    for (int i = 0; i < 3; i++) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1));
    th_gradcheck(what, run_linear, c->bias ? 3 : 2, in, (void *)c, 1e-3, 2e-3, 1e-2);
    for (int i = 0; i < 3; i++) clgrad_tensor_release(in[i]);
}

START_TEST(grad_linear)
{
    lcase a = {2, 0, 1, 0, {5, 7}, 3};
    check_linear("linear", &a);
    lcase b = {3, 1, 1, 0, {2, 3, 6}, 4};
    check_linear("linear + relu, 3-D input", &b);
    lcase c = {2, 1, 0, 1, {4, 9}, 33};
    check_linear("linear + relu, no bias, transposed input", &c);
}
END_TEST

START_TEST(grad_2d) { gcase c = {2, 2, {5, 7}, {7, 3}, 0}; check("2-D", &c); }
END_TEST
START_TEST(grad_2d_noncontig) { gcase c = {2, 2, {4, 6}, {6, 5}, 1}; check("2-D transposed views", &c); }
END_TEST
START_TEST(grad_batched_shared_weights) { gcase c = {3, 2, {3, 4, 5}, {5, 2}, 0}; check("3-D x 2-D", &c); }
END_TEST
START_TEST(grad_batched_broadcast) { gcase c = {4, 3, {2, 1, 3, 4}, {3, 4, 2}, 0}; check("4-D x 3-D", &c); }
END_TEST
START_TEST(grad_1d_vector_matrix) { gcase c = {1, 2, {6}, {6, 4}, 0}; check("1-D x 2-D", &c); }
END_TEST
START_TEST(grad_1d_matrix_vector) { gcase c = {2, 1, {3, 6}, {6}, 0}; check("2-D x 1-D", &c); }
END_TEST
START_TEST(grad_1d_dot) { gcase c = {1, 1, {9}, {9}, 0}; check("1-D x 1-D", &c); }
END_TEST
START_TEST(grad_1d_batched) { gcase c = {1, 3, {4}, {2, 4, 3}, 0}; check("1-D x 3-D", &c); }
END_TEST

static Suite *suite_autograd_grad_matmul(void)
{
    Suite *s = suite_create("autograd_grad_matmul");
    TCase *tc = tcase_create("gradcheck");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, grad_linear);
    tcase_add_test(tc, grad_2d);
    tcase_add_test(tc, grad_2d_noncontig);
    tcase_add_test(tc, grad_batched_shared_weights);
    tcase_add_test(tc, grad_batched_broadcast);
    tcase_add_test(tc, grad_1d_vector_matrix);
    tcase_add_test(tc, grad_1d_matrix_vector);
    tcase_add_test(tc, grad_1d_dot);
    tcase_add_test(tc, grad_1d_batched);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_autograd_grad_matmul(), 1); }
