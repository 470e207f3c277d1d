/* Finite-difference gradient checks of the differentiable views (reshape, permute,
 * transpose, slice, expand, contiguous) and of cat and stack, on contiguous and strided
 * inputs: each maps the gradient back onto its input's geometry. */
#include "harness.h"

typedef struct view_case {
    int kind;
    int ndim;
    int64_t shape[4];
    int perm[4];
    int dim;
    int64_t start, stop, step;
} view_case;

enum { V_RESHAPE, V_PERMUTE, V_TRANSPOSE, V_SLICE, V_EXPAND, V_CONTIGUOUS };

static clgrad_status view_fn(clgrad_tensor **in, void *u, clgrad_tensor **out)
{
    const view_case *c = u;
    switch (c->kind) {
    case V_RESHAPE: return clgrad_reshape(in[0], c->ndim, c->shape, out);
    case V_PERMUTE: return clgrad_permute(in[0], c->perm, out);
    case V_TRANSPOSE: return clgrad_transpose(in[0], c->perm[0], c->perm[1], out);
    case V_SLICE: return clgrad_slice(in[0], c->dim, c->start, c->stop, c->step, out);
    case V_EXPAND: return clgrad_expand(in[0], c->ndim, c->shape, out);
    default: return clgrad_contiguous(in[0], out);
    }
}

static void check_view(const char *what, int ndim, const int64_t *shape, view_case *c)
{
    for (int nc = 0; nc < 2; nc++) {
        clgrad_tensor *t = th_rand(ndim, shape, 11 + (uint64_t)c->kind, -1, 1);
        clgrad_tensor *x = nc ? th_noncontig(t) : clgrad_tensor_retain(t);
        clgrad_tensor_release(t);
        TH_OK(clgrad_tensor_set_requires_grad(x, 1));
        th_gradcheck(what, view_fn, 1, &x, c, 1e-2, 1e-3, 1e-3);
        clgrad_tensor_release(x);
    }
}

START_TEST(reshape_passes_gradcheck)
{
    int64_t sh[] = {3, 4, 2};
    view_case c = {V_RESHAPE, 2, {6, 4}, {0}, 0, 0, 0, 0};
    check_view("reshape", 3, sh, &c);
}
END_TEST

START_TEST(permute_and_transpose_pass_gradcheck)
{
    int64_t sh[] = {2, 3, 4};
    view_case p = {V_PERMUTE, 0, {0}, {2, 0, 1}, 0, 0, 0, 0};
    check_view("permute", 3, sh, &p);
    view_case t = {V_TRANSPOSE, 0, {0}, {-1, 0}, 0, 0, 0, 0};
    check_view("transpose", 3, sh, &t);
}
END_TEST

START_TEST(slice_passes_gradcheck)
{
    int64_t sh[] = {4, 7};
    view_case c = {V_SLICE, 0, {0}, {0}, -1, 1, 7, 2};
    check_view("slice with step", 2, sh, &c);
    view_case r = {V_SLICE, 0, {0}, {0}, 0, 1, 3, 1};
    check_view("slice of rows", 2, sh, &r);
}
END_TEST

START_TEST(expand_passes_gradcheck)
{
    int64_t sh[] = {3, 1};
    view_case c = {V_EXPAND, 3, {2, 3, 5}, {0}, 0, 0, 0, 0};
    check_view("expand", 2, sh, &c);
}
END_TEST

START_TEST(contiguous_passes_gradcheck)
{
    int64_t sh[] = {3, 5};
    view_case c = {V_CONTIGUOUS, 0, {0}, {0}, 0, 0, 0, 0};
    check_view("contiguous", 2, sh, &c);
}
END_TEST

typedef struct join_case {
    int stack, dim;
} join_case;

static clgrad_status join_fn(clgrad_tensor **in, void *u, clgrad_tensor **out)
{
    const join_case *c = u;
    return c->stack ? clgrad_stack(3, in, c->dim, out) : clgrad_cat(3, in, c->dim, out);
}

START_TEST(cat_and_stack_pass_gradcheck)
{
    int64_t a[] = {2, 3}, b[] = {2, 4}, s[] = {2, 3};
    for (int stack = 0; stack < 2; stack++) {
        clgrad_tensor *t[3] = {th_rand(2, a, 21, -1, 1), th_rand(2, stack ? s : b, 22, -1, 1), th_rand(2, a, 23, -1, 1)};
        clgrad_tensor *in[3];
        for (int i = 0; i < 3; i++) {
            in[i] = i == 1 ? th_noncontig(t[i]) : clgrad_tensor_retain(t[i]);
            clgrad_tensor_release(t[i]);
            if (i != 2) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1)); /* one input without grad */
        }
        join_case c = {stack, stack ? 0 : -1};
        th_gradcheck(stack ? "stack" : "cat", join_fn, 3, in, &c, 1e-2, 1e-3, 1e-3);
        for (int i = 0; i < 3; i++) clgrad_tensor_release(in[i]);
    }
}
END_TEST

static Suite *suite_autograd_grad_view(void)
{
    Suite *s = suite_create("autograd_grad_view");
    TCase *tc = tcase_create("gradcheck");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, reshape_passes_gradcheck);
    tcase_add_test(tc, permute_and_transpose_pass_gradcheck);
    tcase_add_test(tc, slice_passes_gradcheck);
    tcase_add_test(tc, expand_passes_gradcheck);
    tcase_add_test(tc, contiguous_passes_gradcheck);
    tcase_add_test(tc, cat_and_stack_pass_gradcheck);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_autograd_grad_view(), 1); }
