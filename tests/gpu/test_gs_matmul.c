/* The GEMM family: every parameter set of the tables (each CPU-variant row and each
 * tiled row, whatever device runs them) on products that leave remainders in every tile
 * dimension, both transposes, batches and beta, with the fold limit lowered so that rows,
 * columns and batches go in pieces and the CPU variant packs K in several chunks; then
 * clgrad_matmul forward and backward under both styles (broadcast batch, a shared weight).
 * Against ref_gemm / ref_gemm_backward. */
#include "gs.h"

#include "ops/gemm.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct gemm_case {
    int m, n, k, batch, ta, tb;
    float alpha, beta;
} gemm_case;

/* remainders everywhere; batches beyond the fold limit; K beyond one packing chunk (512);
 * an empty inner dimension */
static const gemm_case cases[] = {
    {70, 37, 19, 1, 0, 0, 1.0f, 0.0f}, {33, 70, 5, 1, 1, 1, 0.5f, 0.25f}, {9, 100, 13, 4, 0, 1, 1.0f, 1.0f},
    {40, 7, 33, 2, 1, 0, -1.0f, 0.5f}, {1, 1, 1, 1, 0, 0, 2.0f, 0.0f},    {6, 21, 600, 1, 0, 0, 1.0f, 0.0f},
    {5, 70, 0, 4, 0, 0, 1.0f, 0.5f}, /* K = 0: C = beta * C (the scale kernel), batch in pieces */
};

static void run_case(const gemm_case *c, const char *tag)
{
    int64_t sa[3] = {c->batch, c->ta ? c->k : c->m, c->ta ? c->m : c->k};
    int64_t sb[3] = {c->batch, c->tb ? c->n : c->k, c->tb ? c->k : c->n};
    int64_t sc[3] = {c->batch, c->m, c->n};
    float *ha = NULL, *hb = NULL, *hc = NULL;
    clgrad_tensor *a = gs_rand(3, sa, 1, -1.0f, 1.0f, &ha), *b = gs_rand(3, sb, 2, -1.0f, 1.0f, &hb);
    clgrad_tensor *cc = gs_rand(3, sc, 3, -1.0f, 1.0f, &hc);
    TH_OK(clgrad_gemm(c->ta, c->tb, c->alpha, a, b, c->beta, cc));
    size_t per_a = (size_t)(sa[1] * sa[2]), per_b = (size_t)(sb[1] * sb[2]), per_c = (size_t)(c->m * c->n);
    for (int i = 0; i < c->batch; i++)
        ref_gemm(c->ta, c->tb, c->m, c->n, c->k, c->alpha, ha + i * per_a, (int)sa[2], hb + i * per_b, (int)sb[2],
                 c->beta, hc + i * per_c, c->n);
    float *got = th_read(cc);
    char what[160];
    snprintf(what, sizeof what, "%s gemm %dx%dx%d batch %d ta %d tb %d", tag, c->m, c->n, c->k, c->batch, c->ta,
             c->tb);
    th_allclose(what, got, hc, per_c * (size_t)c->batch, 1e-4, 1e-4);
    free(got), free(ha), free(hb), free(hc);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
    clgrad_tensor_release(cc);
}

/* The distinct parameter sets of the tables (several rows share one): CPU rows first, then
 * tiled rows; the loop test's index. Filled in main, before any test forks. */
static const clgrad__gemm_cpu_params *cpu_sets[16];
static const clgrad__gemm_tiled_params *tiled_sets[16];
static int n_cpu_sets, n_tiled_sets;

static void collect_sets(void)
{
    for (int i = 0; clgrad__tuning_gemm_cpu_row(i) && n_cpu_sets < 16; i++) {
        const clgrad__gemm_cpu_params *p = clgrad__tuning_gemm_cpu_row(i);
        int seen = 0;
        for (int j = 0; j < n_cpu_sets; j++)
            seen |= cpu_sets[j]->mr == p->mr && cpu_sets[j]->vw == p->vw && cpu_sets[j]->nv == p->nv &&
                    cpu_sets[j]->pack_k == p->pack_k;
        if (!seen) cpu_sets[n_cpu_sets++] = p;
    }
    for (int i = 0; clgrad__tuning_gemm_tiled_row(i) && n_tiled_sets < 16; i++) {
        const clgrad__gemm_tiled_params *p = clgrad__tuning_gemm_tiled_row(i);
        int seen = 0;
        for (int j = 0; j < n_tiled_sets; j++) {
            const clgrad__gemm_tiled_params *q = tiled_sets[j];
            seen |= q->ts_m == p->ts_m && q->ts_n == p->ts_n && q->ts_k == p->ts_k && q->wpt_m == p->wpt_m &&
                    q->wpt_n == p->wpt_n && q->pad == p->pad;
        }
        if (!seen) tiled_sets[n_tiled_sets++] = p;
    }
}

START_TEST(every_table_parameter_set)
{
    gs_style(0);
    char tag[128];
    if (_i < n_cpu_sets) {
        const clgrad__gemm_cpu_params *p = cpu_sets[_i];
        TH_OK(clgrad__gemm_set_params(th_ctx, p, NULL));
        snprintf(tag, sizeof tag, "cpu mr %d vw %d nv %d pack_k %d", p->mr, p->vw, p->nv, p->pack_k);
    } else {
        const clgrad__gemm_tiled_params *p = tiled_sets[_i - n_cpu_sets];
        TH_OK(clgrad__gemm_set_params(th_ctx, NULL, p));
        snprintf(tag, sizeof tag, "tiled %dx%dx%d wpt %dx%d pad %d", p->ts_m, p->ts_n, p->ts_k, p->wpt_m, p->wpt_n,
                 p->pad);
    }
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) run_case(&cases[c], tag);
}
END_TEST

static clgrad_status matmul_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    (void)user;
    return clgrad_matmul(in[0], in[1], out);
}

/* a (B, M, K) @ w (K, N) with both gradients: the weight's gradient is one product over
 * the folded batch; then a batched product (B, M, K) @ (B, K, N). */
START_TEST(matmul_forward_and_backward)
{
    gs_style(_i);
    for (int shared = 1; shared >= 0; shared--) {
        const int B = 3, M = 17, K = 10, N = 21;
        int64_t sa[3] = {B, M, K}, sw3[3] = {B, K, N}, sw2[2] = {K, N};
        float *ha = NULL, *hw = NULL;
        clgrad_tensor *in[2] = {gs_rand(3, sa, 4, -1.0f, 1.0f, &ha),
                                shared ? gs_rand(2, sw2, 5, -1.0f, 1.0f, &hw) : gs_rand(3, sw3, 5, -1.0f, 1.0f, &hw)};
        TH_OK(clgrad_tensor_set_requires_grad(in[0], 1));
        TH_OK(clgrad_tensor_set_requires_grad(in[1], 1));
        size_t ny = (size_t)B * M * N;
        float *y = calloc(ny, sizeof *y), *dy = malloc(ny * sizeof *dy);
        float *da = calloc((size_t)B * M * K, sizeof *da), *dw = calloc((size_t)B * K * N, sizeof *dw);
        float *tmp = malloc((size_t)K * N * sizeof *tmp);
        th_fill_uniform(dy, ny, 6, -1.0f, 1.0f);
        for (int b = 0; b < B; b++) {
            const float *wb = shared ? hw : hw + (size_t)b * K * N;
            ref_gemm(0, 0, M, N, K, 1.0f, ha + (size_t)b * M * K, K, wb, N, 0.0f, y + (size_t)b * M * N, N);
            ref_gemm_backward(0, 0, M, N, K, 1.0f, ha + (size_t)b * M * K, K, wb, N, dy + (size_t)b * M * N, N,
                              da + (size_t)b * M * K, tmp, 0.0f, NULL, 0);
            float *dwb = shared ? dw : dw + (size_t)b * K * N;
            for (size_t i = 0; i < (size_t)K * N; i++) dwb[i] += tmp[i];
        }
        char what[64];
        snprintf(what, sizeof what, "%s matmul shared weight %d", gs_style_name(_i), shared);
        const float *wd[2] = {da, dw};
        gs_check_op(what, matmul_op, NULL, 2, in, y, dy, wd, 1e-4, 1e-4);
        free(y), free(dy), free(da), free(dw), free(tmp), free(ha), free(hw);
        clgrad_tensor_release(in[0]);
        clgrad_tensor_release(in[1]);
    }
}
END_TEST

static Suite *suite_gs_matmul(void)
{
    Suite *s = suite_create("gs_matmul");
    TCase *t = tcase_create("matmul");
    tcase_add_checked_fixture(t, th_setup, th_teardown);
    tcase_set_timeout(t, 600);
    collect_sets();
    tcase_add_loop_test(t, every_table_parameter_set, 0, n_cpu_sets + n_tiled_sets);
    tcase_add_loop_test(t, matmul_forward_and_backward, 0, GS_N_STYLES);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return th_run(suite_gs_matmul(), 1); }
