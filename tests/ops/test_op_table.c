/* The table of differentiable ops (src/ops/op_table.h) as data: every descriptor is
 * complete and unique, and the public ops record exactly their own descriptor with the
 * parameters their backward rule reads. (tests/ops/op_table_coverage.py checks that each
 * row has a gradient check and a reference test.) */
#include "harness.h"
#include "ops/op_table.h"

#include <string.h>

START_TEST(every_descriptor_is_complete_and_unique)
{
    ck_assert_uint_ge(clgrad__op_table_count, 60);
    for (size_t i = 0; i < clgrad__op_table_count; i++) {
        const clgrad__op *op = clgrad__op_table[i];
        ck_assert_ptr_nonnull(op);
        ck_assert_ptr_nonnull(op->name);
        ck_assert_msg(op->name[0] != '\0', "row %zu has an empty name", i);
        ck_assert_msg(op->forward && strncmp(op->forward, "clgrad_", 7) == 0, "%s: forward is not a clgrad function",
                      op->name);
        ck_assert_msg(op->backward != NULL, "%s has no backward rule", op->name);
        ck_assert_msg(op->state_size <= CLGRAD__NODE_STATE_BYTES, "%s: state does not fit a node", op->name);
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(strcmp(op->name, clgrad__op_table[j]->name) != 0, "%s appears twice", op->name);
    }
}
END_TEST

static const clgrad__op *producer(const clgrad_tensor *t)
{
    const clgrad__node *n = t->node;
    return n ? n->op : NULL;
}

START_TEST(ops_record_their_own_descriptor)
{
    int64_t shape[] = {3, 4};
    clgrad_tensor *x = th_rand(2, shape, 1, 0.5f, 1.5f), *y = NULL, *z = NULL;
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    TH_OK(clgrad_exp(x, &y));
    ck_assert_ptr_eq(producer(y), &clgrad__op_exp);
    clgrad_tensor_release(y);
    TH_OK(clgrad_gelu(x, 1, &y));
    ck_assert_ptr_eq(producer(y), &clgrad__op_gelu_tanh);
    TH_OK(clgrad_sub(x, y, &z));
    ck_assert_ptr_eq(producer(z), &clgrad__op_sub);
    clgrad_tensor_release(z);
    TH_OK(clgrad_log_softmax(x, -1, &z));
    ck_assert_ptr_eq(producer(z), &clgrad__op_log_softmax);
    ck_assert_str_eq(((const clgrad__node *)z->node)->name, "log_softmax");
    clgrad_tensor_release(z);
    TH_OK(clgrad_transpose(x, 0, 1, &z));
    ck_assert_ptr_eq(producer(z), &clgrad__op_permute);
    ck_assert(clgrad__op_permute.gy_strided);
    clgrad_tensor_release(z);
    /* untracked inside a no-grad scope */
    clgrad_no_grad_begin(th_ctx);
    TH_OK(clgrad_mul(x, x, &z));
    clgrad_no_grad_end(th_ctx);
    ck_assert_ptr_null(producer(z));
    clgrad_tensor_release(z);
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
}
END_TEST

static Suite *suite_ops_op_table(void)
{
    Suite *s = suite_create("ops_op_table");
    TCase *t = tcase_create("table");
    tcase_add_test(t, every_descriptor_is_complete_and_unique);
    suite_add_tcase(s, t);
    TCase *r = tcase_create("record");
    tcase_add_checked_fixture(r, th_setup, th_teardown);
    tcase_add_test(r, ops_record_their_own_descriptor);
    suite_add_tcase(s, r);
    return s;
}

int main(void) { return th_run(suite_ops_op_table(), 1); }
