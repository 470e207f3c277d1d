/* The backward pass itself: accumulation, graph freeing, keep_graph, detach, no-grad
 * scopes, views, and the errors a user can run into. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static clgrad_tensor *leaf(int ndim, const int64_t *shape, uint64_t seed)
{
    clgrad_tensor *t = th_rand(ndim, shape, seed, -1, 1);
    TH_OK(clgrad_tensor_set_requires_grad(t, 1));
    return t;
}

/* loss = sum(x * x) for a (3, 4) leaf: grad = 2x */
static clgrad_tensor *square_sum(clgrad_tensor *x)
{
    clgrad_tensor *y = NULL, *l = NULL;
    TH_OK(clgrad_mul(x, x, &y));
    TH_OK(clgrad_sum(y, 0, NULL, 0, &l));
    clgrad_tensor_release(y);
    return l;
}

START_TEST(gradients_accumulate_until_zeroed)
{
    int64_t s[2] = {3, 4};
    clgrad_tensor *x = leaf(2, s, 1);
    float *xv = th_read(x);
    for (int rep = 1; rep <= 2; rep++) {
        clgrad_tensor *l = square_sum(x);
        TH_OK(clgrad_backward(l));
        clgrad_tensor_release(l);
        float *g = th_read(clgrad_tensor_grad(x));
        for (int i = 0; i < 12; i++) ck_assert_float_eq_tol(g[i], 2.0f * rep * xv[i], 1e-5f);
        free(g);
    }
    clgrad_tensor_zero_grad(x);
    ck_assert_ptr_null(clgrad_tensor_grad(x));
    free(xv);
    clgrad_tensor_release(x);
}
END_TEST

START_TEST(shared_subexpressions_sum_their_paths)
{
    /* l = sum(a*b + a) with a used twice: dl/da = b + 1, dl/db = a */
    int64_t s[1] = {5};
    clgrad_tensor *a = leaf(1, s, 2), *b = leaf(1, s, 3), *ab = NULL, *t = NULL, *l = NULL;
    TH_OK(clgrad_mul(a, b, &ab));
    TH_OK(clgrad_add(ab, a, &t));
    TH_OK(clgrad_sum(t, 0, NULL, 0, &l));
    TH_OK(clgrad_backward(l));
    float *av = th_read(a), *bv = th_read(b), *ga = th_read(clgrad_tensor_grad(a)), *gb = th_read(clgrad_tensor_grad(b));
    for (int i = 0; i < 5; i++) {
        ck_assert_float_eq_tol(ga[i], bv[i] + 1.0f, 1e-6f);
        ck_assert_float_eq_tol(gb[i], av[i], 1e-6f);
    }
    free(av);
    free(bv);
    free(ga);
    free(gb);
    clgrad_tensor_release(ab);
    clgrad_tensor_release(t);
    clgrad_tensor_release(l);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
}
END_TEST

START_TEST(views_route_gradients_back)
{
    /* l = sum(transpose(x)[1:3] reshaped) * 3: grad is 3 on the selected elements, 0 elsewhere */
    int64_t s[2] = {4, 5};
    clgrad_tensor *x = leaf(2, s, 4), *t = NULL, *sl = NULL, *r = NULL, *m = NULL, *l = NULL;
    TH_OK(clgrad_transpose(x, 0, 1, &t)); /* (5, 4) */
    TH_OK(clgrad_slice(t, 0, 1, 3, 1, &sl)); /* rows 1, 2 of the transpose = columns 1, 2 of x */
    int64_t flat[1] = {8};
    TH_OK(clgrad_reshape(sl, 1, flat, &r));
    TH_OK(clgrad_mul_scalar(r, 3.0f, &m));
    TH_OK(clgrad_sum(m, 0, NULL, 0, &l));
    TH_OK(clgrad_backward(l));
    float *g = th_read(clgrad_tensor_grad(x));
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 5; j++) ck_assert_float_eq(g[i * 5 + j], (j == 1 || j == 2) ? 3.0f : 0.0f);
    free(g);
    clgrad_tensor *vs[] = {t, sl, r, m, l, x};
    for (int i = 0; i < 6; i++) clgrad_tensor_release(vs[i]);
}
END_TEST

START_TEST(backward_twice_needs_keep_graph)
{
    int64_t s[1] = {6};
    clgrad_tensor *x = leaf(1, s, 5), *e = NULL, *l = NULL;
    TH_OK(clgrad_exp(x, &e));
    TH_OK(clgrad_sum(e, 0, NULL, 0, &l));
    TH_OK(clgrad_backward_ex(l, NULL, 1)); /* keep the graph */
    TH_OK(clgrad_backward(l));             /* second pass allowed, then freed */
    float *xv = th_read(x), *g = th_read(clgrad_tensor_grad(x));
    for (int i = 0; i < 6; i++) ck_assert_float_eq_tol(g[i], 2.0f * expf(xv[i]), 1e-4f);
    clgrad_status st = clgrad_backward(l);
    ck_assert_int_eq(st, CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "freed"));
    free(xv);
    free(g);
    clgrad_tensor_release(e);
    clgrad_tensor_release(l);
    clgrad_tensor_release(x);
}
END_TEST

START_TEST(non_scalar_backward_needs_a_gradient)
{
    int64_t s[2] = {2, 3};
    clgrad_tensor *x = leaf(2, s, 6), *y = NULL, *g = NULL;
    TH_OK(clgrad_relu(x, &y));
    ck_assert_int_eq(clgrad_backward(y), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[2, 3]"));
    int64_t wrong[1] = {6};
    TH_OK(clgrad_tensor_ones(th_ctx, 1, wrong, &g));
    ck_assert_int_eq(clgrad_backward_ex(y, g, 0), CLGRAD_ERR_SHAPE);
    clgrad_tensor_release(g);
    TH_OK(clgrad_tensor_ones(th_ctx, 2, s, &g));
    TH_OK(clgrad_backward_ex(y, g, 0));
    ck_assert_ptr_nonnull(clgrad_tensor_grad(x));
    clgrad_tensor_release(g);
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
}
END_TEST

START_TEST(no_grad_scope_and_detach_record_nothing)
{
    int64_t s[1] = {4};
    clgrad_tensor *x = leaf(1, s, 7), *y = NULL, *d = NULL, *z = NULL;
    clgrad_no_grad_begin(th_ctx);
    ck_assert(!clgrad_grad_enabled(th_ctx));
    TH_OK(clgrad_exp(x, &y));
    clgrad_no_grad_end(th_ctx);
    ck_assert(clgrad_grad_enabled(th_ctx));
    ck_assert(!clgrad_tensor_requires_grad(y));
    ck_assert_int_eq(clgrad_backward(y), CLGRAD_ERR_INVALID_ARG);
    TH_OK(clgrad_detach(x, &d));
    ck_assert(!clgrad_tensor_requires_grad(d));
    TH_OK(clgrad_exp(d, &z));
    ck_assert(!clgrad_tensor_requires_grad(z));
    clgrad_tensor_release(y);
    clgrad_tensor_release(d);
    clgrad_tensor_release(z);
    clgrad_tensor_release(x);
}
END_TEST

START_TEST(requires_grad_only_on_float_leaves)
{
    int64_t s[1] = {3};
    clgrad_tensor *x = leaf(1, s, 8), *y = NULL, *i = NULL;
    TH_OK(clgrad_exp(x, &y));
    ck_assert_int_eq(clgrad_tensor_set_requires_grad(y, 1), CLGRAD_ERR_INVALID_ARG);
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, 1, s, &i));
    ck_assert_int_eq(clgrad_tensor_set_requires_grad(i, 1), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_tensor_set_requires_grad(NULL, 1), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(y);
    clgrad_tensor_release(i);
    clgrad_tensor_release(x);
}
END_TEST

START_TEST(in_place_change_of_a_saved_tensor_is_caught)
{
    int64_t s[1] = {3};
    clgrad_tensor *x = leaf(1, s, 9), *w = th_rand(1, s, 10, -1, 1), *y = NULL, *l = NULL;
    TH_OK(clgrad_mul(x, w, &y)); /* saves w for dx */
    TH_OK(clgrad_sum(y, 0, NULL, 0, &l));
    TH_OK(clgrad_fill_(w, 0.0f));
    ck_assert_int_eq(clgrad_backward(l), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "in place"));
    clgrad_tensor_release(y);
    clgrad_tensor_release(l);
    clgrad_tensor_release(w);
    clgrad_tensor_release(x);
}
END_TEST

START_TEST(tensors_from_two_contexts_do_not_mix)
{
    clgrad_context *other = NULL;
    clgrad_context_desc d = {.cache_dir = "off"};
    TH_OK(clgrad_context_create(&d, &other));
    int64_t s[2] = {2, 2};
    clgrad_tensor *a = leaf(2, s, 11), *b = NULL, *c = (clgrad_tensor *)1;
    TH_OK(clgrad_tensor_ones(other, 2, s, &b));
    ck_assert_int_eq(clgrad_matmul(a, b, &c), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(c);
    c = (clgrad_tensor *)1;
    ck_assert_int_eq(clgrad_add(a, b, &c), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "context"));
    clgrad_tensor_release(b);
    clgrad_tensor_release(a);
    clgrad_context_release(other);
}
END_TEST

START_TEST(graphs_release_everything)
{
    clgrad_context_stats s0, s1;
    TH_OK(clgrad_context_get_stats(th_ctx, &s0));
    int64_t s[2] = {16, 8};
    for (int step = 0; step < 3; step++) {
        clgrad_tensor *x = leaf(2, s, 12), *w = leaf(2, (int64_t[]){8, 4}, 13), *h = NULL, *r = NULL, *l = NULL;
        TH_OK(clgrad_matmul(x, w, &h));
        TH_OK(clgrad_tanh(h, &r));
        TH_OK(clgrad_mean(r, 0, NULL, 0, &l));
        TH_OK(clgrad_backward(l));
        clgrad_tensor *all[] = {l, r, h, w, x};
        for (int i = 0; i < 5; i++) clgrad_tensor_release(all[i]);
    }
    TH_OK(clgrad_context_get_stats(th_ctx, &s1));
    ck_assert_uint_eq(s1.live_tensors, s0.live_tensors);
    ck_assert_uint_eq(s1.live_buffers, s0.live_buffers);
}
END_TEST

static Suite *suite_autograd_backward(void)
{
    Suite *s = suite_create("autograd_backward");
    TCase *tc = tcase_create("backward");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, gradients_accumulate_until_zeroed);
    tcase_add_test(tc, shared_subexpressions_sum_their_paths);
    tcase_add_test(tc, views_route_gradients_back);
    tcase_add_test(tc, backward_twice_needs_keep_graph);
    tcase_add_test(tc, non_scalar_backward_needs_a_gradient);
    tcase_add_test(tc, no_grad_scope_and_detach_record_nothing);
    tcase_add_test(tc, requires_grad_only_on_float_leaves);
    tcase_add_test(tc, in_place_change_of_a_saved_tensor_is_caught);
    tcase_add_test(tc, tensors_from_two_contexts_do_not_mix);
    tcase_add_test(tc, graphs_release_everything);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_autograd_backward(), 1); }
