/* Deep and wide graphs: releasing a chain of a million recorded ops and running backward
 * through it need constant C stack (checked in a thread with a 256 KB stack), and ordering
 * the graph takes work linear in its nodes and edges (counted, not timed). */
#include "harness.h"

#include "autograd/autograd.h"
#include "tensor/node.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { CHAIN = 1000000 };

/* A chain of n recorded reshapes from x (no kernels run), or NULL on failure. */
static clgrad_tensor *chain(clgrad_tensor *x, int n)
{
    int64_t one[1] = {1};
    clgrad_tensor *y = clgrad_tensor_retain(x);
    for (int i = 0; i < n && y; i++) {
        clgrad_tensor *next = NULL;
        if (clgrad_reshape(y, 1, one, &next) != CLGRAD_OK) next = NULL;
        clgrad_tensor_release(y);
        y = next;
    }
    return y;
}

static int64_t live_tensors(void)
{
    clgrad_context_stats st;
    TH_OK(clgrad_context_get_stats(th_ctx, &st));
    return (int64_t)st.live_tensors;
}

typedef struct job {
    int backward;
    const char *failed; /* NULL when everything went as expected */
    float grad;
} job;

static void *deep_job(void *arg)
{
    job *j = arg;
    int64_t one[1] = {1};
    clgrad_tensor *x = NULL;
    if (clgrad_tensor_full(th_ctx, 1, one, 3.0f, &x) != CLGRAD_OK ||
        clgrad_tensor_set_requires_grad(x, 1) != CLGRAD_OK) {
        j->failed = "creating x";
        return NULL;
    }
    clgrad_tensor *y = chain(x, CHAIN);
    if (!y) j->failed = "building the chain";
    else if (j->backward && clgrad_backward(y) != CLGRAD_OK) j->failed = "backward";
    else if (j->backward && clgrad_tensor_item(clgrad_tensor_grad(x), &j->grad) != CLGRAD_OK) j->failed = "reading the gradient";
    clgrad_tensor_release(y); /* the whole chain goes here: a million nodes */
    clgrad_tensor_release(x);
    return NULL;
}

/* Runs the job on a thread with a 256 KB stack (the C stack of a default thread on some
 * systems, and far below what one frame per node would need). */
static void run_small_stack(job *j)
{
    pthread_attr_t attr;
    pthread_t th;
    ck_assert_int_eq(pthread_attr_init(&attr), 0);
    ck_assert_int_eq(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
    ck_assert_int_eq(pthread_create(&th, &attr, deep_job, j), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    pthread_attr_destroy(&attr);
    ck_assert_msg(!j->failed, "%s failed: %s", j->failed ? j->failed : "", clgrad_last_error(th_ctx));
}

/* The repro: the final release of a chain of 1,000,000 nodes crashed. */
START_TEST(release_a_million_node_chain_on_a_small_stack)
{
    int64_t live = live_tensors();
    job j = {0, NULL, 0};
    run_small_stack(&j);
    ck_assert_int_eq(live_tensors(), live); /* all freed */
}
END_TEST

START_TEST(backward_through_a_million_node_chain_on_a_small_stack)
{
    job j = {1, NULL, 0};
    run_small_stack(&j);
    ck_assert_float_eq(j.grad, 1.0f);
}
END_TEST

/* Ordering a graph visits each node and edge a bounded number of times: a chain, a ladder
 * where each node uses the one before it twice (y = y + y), and a chain of adds that all
 * use one shared node. The old walk searched a list of every node seen so far for each
 * edge, so its work grew with the square of the size. */
typedef enum shape_kind { CHAIN_GRAPH, LADDER_GRAPH, SHARED_GRAPH } shape_kind;

static clgrad_tensor *build(shape_kind kind, clgrad_tensor *x, int n, size_t *nodes, size_t *edges)
{
    clgrad_tensor *y = NULL, *shared = NULL;
    *nodes = *edges = 0;
    if (kind == SHARED_GRAPH) {
        TH_OK(clgrad_neg(x, &shared));
        ++*nodes, ++*edges;
        y = clgrad_tensor_retain(shared);
    } else {
        y = clgrad_tensor_retain(x);
    }
    for (int i = 0; i < n; i++) {
        clgrad_tensor *next = NULL;
        if (kind == CHAIN_GRAPH) TH_OK(clgrad_neg(y, &next));
        else TH_OK(clgrad_add(y, kind == LADDER_GRAPH ? y : shared, &next));
        clgrad_tensor_release(y);
        y = next;
        ++*nodes, *edges += kind == CHAIN_GRAPH ? 1 : 2;
    }
    clgrad_tensor_release(shared);
    return y;
}

START_TEST(graph_ordering_is_linear)
{
    static const char *names[3] = {"chain", "ladder", "shared"};
    int64_t one[1] = {1};
    clgrad_tensor *x = NULL;
    TH_OK(clgrad_tensor_full(th_ctx, 1, one, 1.0f, &x));
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    for (int kind = 0; kind < 3; kind++) {
        double per[2] = {0, 0};
        for (int size = 0; size < 2; size++) {
            int n = size ? 20000 : 2000;
            size_t nodes, edges, count = 0, work = 0;
            clgrad_tensor *y = build((shape_kind)kind, x, n, &nodes, &edges), **order = NULL;
            TH_OK(clgrad__topo(y, &order, &count, &work));
            ck_assert_msg(count == nodes, "%s: %zu tensors ordered, %zu nodes built", names[kind], count, nodes);
            /* inputs come before the tensors made from them, each once */
            for (size_t i = 0; i < count; i++) {
                clgrad__node *nd = order[i]->node;
                for (int k = 0; k < nd->n_inputs; k++) {
                    clgrad_tensor *in = nd->inputs[k];
                    if (!in || !in->node) continue;
                    size_t at = 0;
                    while (at < i && order[at] != in) at++;
                    ck_assert_msg(at < i, "%s: input of entry %zu is not before it", names[kind], i);
                    if (i > 64) break; /* the full search is quadratic itself: check the start */
                }
            }
            per[size] = (double)work / (double)(nodes + edges);
            ck_assert_msg(per[size] <= 4.0, "%s of %d: %zu steps for %zu nodes and %zu edges", names[kind], n, work,
                          nodes, edges);
            free(order);
            clgrad_tensor_release(y);
        }
        /* ten times the graph, at most a little more than ten times the work */
        ck_assert_msg(per[1] <= per[0] * 1.1 + 0.01, "%s: %.2f steps per node and edge at 2000, %.2f at 20000",
                      names[kind], per[0], per[1]);
    }
    clgrad_tensor_release(x);
}
END_TEST

static Suite *suite_deep_graph(void)
{
    Suite *s = suite_create("autograd_deep_graph");
    TCase *tc = tcase_create("deep_graph");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, release_a_million_node_chain_on_a_small_stack);
    tcase_add_test(tc, backward_through_a_million_node_chain_on_a_small_stack);
    tcase_add_test(tc, graph_ordering_is_linear);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_deep_graph(), 1); }
