/* Gradients of the activations by finite differences (th_gradcheck), on contiguous and
 * strided inputs, away from the points where a function has a kink (relu-like ops at 0,
 * hardtanh at its bounds, softplus where beta x crosses the threshold). Also an activation
 * inside a small graph, so its backward composes with the elementwise ops. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct act {
    const char *name;
    int kind;
    float p0, p1;
    float kinks[2];
    int n_kinks;
} act;

static clgrad_status apply(const act *a, clgrad_tensor *x, clgrad_tensor **out)
{
    switch (a->kind) {
    case 0: return clgrad_relu(x, out);
    case 1: return clgrad_leaky_relu(x, a->p0, out);
    case 2: return clgrad_elu(x, a->p0, out);
    case 3: return clgrad_gelu(x, 0, out);
    case 4: return clgrad_gelu(x, 1, out);
    case 5: return clgrad_silu(x, out);
    case 6: return clgrad_sigmoid(x, out);
    case 7: return clgrad_tanh(x, out);
    case 8: return clgrad_softplus(x, a->p0, a->p1, out);
    default: return clgrad_hardtanh(x, a->p0, a->p1, out);
    }
}

static const act ACTS[] = {
    {"relu", 0, 0, 0, {0}, 1},
    {"leaky_relu", 1, 0.1f, 0, {0}, 1},
    {"elu", 2, 1.3f, 0, {0}, 1},
    {"gelu", 3, 0, 0, {0}, 0},
    {"gelu_tanh", 4, 0, 0, {0}, 0},
    {"silu", 5, 0, 0, {0}, 0},
    {"sigmoid", 6, 0, 0, {0}, 0},
    {"tanh", 7, 0, 0, {0}, 0},
    {"softplus", 8, 1.0f, 20.0f, {0}, 0},
    {"softplus beta 2 threshold 3", 8, 2.0f, 3.0f, {1.5f}, 1},
    {"hardtanh", 9, -0.6f, 0.9f, {-0.6f, 0.9f}, 2},
};
#define N_ACTS ((int)(sizeof ACTS / sizeof ACTS[0]))

static clgrad_status call_act(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    return apply(user, in[0], out);
}

/* Uniform in [-3, 3), moved at least 0.05 away from each kink. */
static clgrad_tensor *input(const act *a, int nd, const int64_t *s, uint64_t seed)
{
    int64_t n = th_numel(nd, s);
    float *h = malloc((size_t)n * sizeof *h);
    th_fill_uniform(h, (size_t)n, seed, -3.0f, 3.0f);
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < a->n_kinks; k++)
            if (fabsf(h[i] - a->kinks[k]) < 0.05f) h[i] = a->kinks[k] + (h[i] < a->kinks[k] ? -0.05f : 0.05f);
    clgrad_tensor *t = th_tensor(nd, s, h);
    free(h);
    return t;
}

START_TEST(activations_gradcheck)
{
    int64_t s[2] = {4, 7};
    for (int k = 0; k < N_ACTS; k++)
        for (int layout = 0; layout < 2; layout++) {
            clgrad_tensor *x = input(&ACTS[k], 2, s, (uint64_t)k);
            if (layout) {
                th_make_noncontig(&x);
            }
            TH_OK(clgrad_tensor_set_requires_grad(x, 1));
            char what[64];
            snprintf(what, sizeof what, "%s layout %d", ACTS[k].name, layout);
            th_gradcheck(what, call_act, 1, &x, (void *)&ACTS[k], 1e-3, 2e-3, 1e-2);
            clgrad_tensor_release(x);
        }
}
END_TEST

/* act(x * w + b) with w and b broadcast over rows: the activation's gradient flows through. */
static clgrad_status affine_act(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    clgrad_tensor *t = NULL, *u = NULL;
    clgrad_status st = clgrad_mul(in[0], in[1], &t);
    if (st == CLGRAD_OK) st = clgrad_add(t, in[2], &u);
    if (st == CLGRAD_OK) st = apply(user, u, out);
    clgrad_tensor_release(t);
    clgrad_tensor_release(u);
    return st;
}

START_TEST(activation_in_a_graph)
{
    int64_t sx[2] = {3, 5}, sw[1] = {5};
    const act *smooth[3] = {&ACTS[3], &ACTS[5], &ACTS[7]};
    for (int k = 0; k < 3; k++) {
        clgrad_tensor *in[3] = {th_rand(2, sx, 1, -1, 1), th_rand(1, sw, 2, -1, 1), th_rand(1, sw, 3, -1, 1)};
        for (int i = 0; i < 3; i++) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1));
        th_gradcheck(smooth[k]->name, affine_act, 3, in, (void *)smooth[k], 1e-3, 2e-3, 1e-2);
        for (int i = 0; i < 3; i++) clgrad_tensor_release(in[i]);
    }
}
END_TEST

static Suite *suite_autograd_grad_activation(void)
{
    Suite *s = suite_create("autograd_grad_activation");
    TCase *tc = tcase_create("grad_activation");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, activations_gradcheck);
    tcase_add_test(tc, activation_in_a_graph);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_autograd_grad_activation(), 1); }
