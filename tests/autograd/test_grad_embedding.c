/* Finite-difference gradient check of the embedding table, with repeated and out-of-range
 * indices. */
#include "harness.h"

static clgrad_status emb_fn(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    return clgrad_embedding(in[0], (clgrad_tensor *)user, out);
}

START_TEST(embedding_gradients)
{
    int64_t ws[2] = {5, 3}, is[2] = {2, 4};
    int32_t idx[8] = {0, 2, 2, 4, 1, 2, -1, 0};
    clgrad_tensor *it = NULL, *in[1] = {th_rand(2, ws, 1, -1.0f, 1.0f)};
    TH_OK(clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_I32, 2, is, idx, &it));
    TH_OK(clgrad_tensor_set_requires_grad(in[0], 1));
    th_gradcheck("embedding", emb_fn, 1, in, it, 1e-2, 1e-3, 1e-3);
    clgrad_tensor_release(in[0]);
    clgrad_tensor_release(it);
}
END_TEST

static Suite *suite_autograd_grad_embedding(void)
{
    Suite *s = suite_create("autograd_grad_embedding");
    TCase *tc = tcase_create("grad_embedding");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, embedding_gradients);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_autograd_grad_embedding(), 1); }
