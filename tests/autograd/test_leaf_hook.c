/* The leaf hook of the backward walk (src/autograd/autograd.h), which the data-parallel
 * layer starts its gradient buckets from: called once per leaf that requires grad, after
 * the last op using it has run its backward rule (the gradient then read equals the final
 * one), never for leaves without requires_grad, and not at all once removed. */
#include "harness.h"
#include "autograd/autograd.h"

#include <stdlib.h>
#include <string.h>

typedef struct seen {
    clgrad_tensor *leaf[8];
    float first[8]; /* the gradient's first element when the hook fired */
    int n;
} seen;

static void hook(void *user, clgrad_tensor *leaf)
{
    seen *s = user;
    ck_assert_int_lt(s->n, 8);
    float *g = th_read(clgrad_tensor_grad(leaf));
    s->leaf[s->n] = leaf;
    s->first[s->n++] = g[0];
    free(g);
}

START_TEST(hook_fires_once_when_final)
{
    int64_t s2[2] = {3, 4}, s1[1] = {4};
    clgrad_tensor *w = th_rand(2, s2, 1, -1, 1), *b = th_rand(1, s1, 2, -1, 1), *x = th_rand(2, s2, 3, -1, 1);
    clgrad_tensor *h = NULL, *h2 = NULL, *h3 = NULL, *loss = NULL;
    TH_OK(clgrad_tensor_set_requires_grad(w, 1));
    TH_OK(clgrad_tensor_set_requires_grad(b, 1));
    seen s;
    memset(&s, 0, sizeof s);
    TH_OK(clgrad__autograd_set_leaf_hook(th_ctx, hook, &s));
    void *user = NULL;
    ck_assert(clgrad__autograd_leaf_hook(th_ctx, &user) == hook && user == &s);
    /* w is used three times, b twice, x (no grad) once */
    TH_OK(clgrad_mul(w, x, &h));
    TH_OK(clgrad_add(h, b, &h2));
    clgrad_tensor_release(h);
    TH_OK(clgrad_mul(h2, w, &h3));
    clgrad_tensor_release(h2);
    TH_OK(clgrad_add(h3, b, &h2));
    TH_OK(clgrad_mul(h2, w, &h));
    clgrad_tensor_release(h3);
    TH_OK(clgrad_sum(h, 0, NULL, 0, &loss));
    TH_OK(clgrad_backward(loss));
    ck_assert_int_eq(s.n, 2);
    for (int i = 0; i < 2; i++) {
        ck_assert(s.leaf[i] == w || s.leaf[i] == b);
        float *g = th_read(clgrad_tensor_grad(s.leaf[i]));
        ck_assert_float_eq(g[0], s.first[i]); /* nothing was added after the hook */
        free(g);
    }
    ck_assert(s.leaf[0] != s.leaf[1]);
    /* removed: a second backward calls nothing */
    TH_OK(clgrad__autograd_set_leaf_hook(th_ctx, NULL, NULL));
    ck_assert(clgrad__autograd_leaf_hook(th_ctx, NULL) == NULL);
    clgrad_tensor *l2 = NULL;
    TH_OK(clgrad_sum(w, 0, NULL, 0, &l2));
    TH_OK(clgrad_backward(l2));
    ck_assert_int_eq(s.n, 2);
    clgrad_tensor *all[] = {w, b, x, h, h2, loss, l2};
    for (int i = 0; i < 7; i++) clgrad_tensor_release(all[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("autograd_leaf_hook");
    TCase *tc = tcase_create("leaf_hook");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, hook_fires_once_when_final);
    suite_add_tcase(s, tc);
    return th_run(s, 1);
}
