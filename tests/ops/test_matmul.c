/* clgrad_gemm and clgrad_matmul against the double-precision reference (ref_gemm), for
 * every GEMM implementation the build has: our CPU variant, our tiled (GPU) variant run on
 * whatever device is present, and CLBlast. Covers the four transpose combinations,
 * alpha/beta (beta 0 over NaN), batches, sizes of 1 and primes that are no multiple of any
 * tile, K = 0, non-contiguous operands and output, then numpy-style batching and the error
 * paths of clgrad_matmul. */
#include "harness.h"
#include "ref.h"

#include "ops/gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- implementations under test ---------------------------------------------------------- */

enum { IMPL_OWN_CPU, IMPL_OWN_TILED, IMPL_CLBLAST, N_IMPL };
static const char *impl_names[N_IMPL] = {"own/cpu", "own/tiled", "clblast"};

/* Selects the implementation for th_ctx; 0 when the build lacks it (the test passes). */
static int use_impl(int impl)
{
    if (impl == IMPL_CLBLAST) {
        if (!clgrad__gemm_have_clblast()) return 0;
        TH_OK(clgrad_context_set_gemm_provider(th_ctx, "clblast"));
        return 1;
    }
    TH_OK(clgrad_context_set_gemm_provider(th_ctx, "own"));
    TH_OK(clgrad__gemm_set_variant(th_ctx, impl == IMPL_OWN_TILED ? "tiled" : "cpu"));
    return 1;
}

/* --- operands in several layouts ----------------------------------------------------------- */

enum { LAYOUT_CONTIG, LAYOUT_TRANSPOSED_VIEW, LAYOUT_SLICE };


/* A device tensor (batch?, R, C) holding host data h in the given layout. */
static clgrad_tensor *make_operand(int nd, const int64_t *shape, const float *h, int layout, clgrad_tensor **base)
{
    clgrad_tensor *t = th_tensor(nd, shape, h);
    if (base) *base = NULL;
    if (layout == LAYOUT_TRANSPOSED_VIEW) {
        th_make_noncontig(&t);
        return t;
    }
    if (layout == LAYOUT_SLICE) {
        /* a window 1 row down and 2 columns in from a bigger matrix of 7s */
        int64_t big[3];
        memcpy(big, shape, sizeof(int64_t) * (size_t)nd);
        big[nd - 2] += 2;
        big[nd - 1] += 3;
        clgrad_tensor *b = NULL, *r = NULL, *v = NULL;
        TH_OK(clgrad_tensor_full(th_ctx, nd, big, 7.0f, &b));
        TH_OK(clgrad_slice(b, nd - 2, 1, 1 + shape[nd - 2], 1, &r));
        TH_OK(clgrad_slice(r, nd - 1, 2, 2 + shape[nd - 1], 1, &v));
        TH_OK(clgrad_copy_(v, t));
        clgrad_tensor_release(r);
        clgrad_tensor_release(t);
        if (base) *base = b;
        else clgrad_tensor_release(b);
        return v;
    }
    return t;
}

typedef struct gemm_case {
    int m, n, k, batch; /* batch 0: 2-D operands */
    int ta, tb;
    float alpha, beta;
    int layout;
} gemm_case;

static double gemm_atol(int k, float alpha, float beta) { return 2e-6 * (k + 16) * (fabs(alpha) + fabs(beta) + 1); }

static void run_case(const gemm_case *c, const char *impl)
{
    const int nd = c->batch ? 3 : 2, nb = c->batch ? c->batch : 1;
    const int ra = c->ta ? c->k : c->m, ca = c->ta ? c->m : c->k;
    const int rb = c->tb ? c->n : c->k, cb = c->tb ? c->k : c->n;
    const size_t sa = (size_t)ra * ca, sb = (size_t)rb * cb, sc = (size_t)c->m * c->n;
    float *A = malloc(sizeof(float) * (sa * nb + 1)), *B = malloc(sizeof(float) * (sb * nb + 1));
    float *C = malloc(sizeof(float) * (sc * nb + 1)), *R = malloc(sizeof(float) * (sc * nb + 1));
    th_fill_uniform(A, sa * nb, 11 + (uint64_t)c->m, -1.0f, 1.0f);
    th_fill_uniform(B, sb * nb, 23 + (uint64_t)c->n, -1.0f, 1.0f);
    th_fill_uniform(C, sc * nb, 37 + (uint64_t)c->k, -1.0f, 1.0f);
    if (c->beta == 0.0f)
        for (size_t i = 0; i < sc * nb; i++) C[i] = NAN;
    memcpy(R, C, sizeof(float) * sc * nb);
    for (int b = 0; b < nb; b++)
        ref_gemm(c->ta, c->tb, c->m, c->n, c->k, c->alpha, A + b * sa, ca, B + b * sb, cb, c->beta, R + b * sc, c->n);

    int64_t shp_a[3] = {nb, ra, ca}, shp_b[3] = {nb, rb, cb}, shp_c[3] = {nb, c->m, c->n};
    clgrad_tensor *base = NULL;
    clgrad_tensor *a = make_operand(nd, shp_a + 3 - nd, A, c->layout, NULL);
    clgrad_tensor *bt = make_operand(nd, shp_b + 3 - nd, B, c->layout, NULL);
    clgrad_tensor *ct = make_operand(nd, shp_c + 3 - nd, C, c->layout, &base);
    clgrad_status s = clgrad_gemm(c->ta, c->tb, c->alpha, a, bt, c->beta, ct);
    ck_assert_msg(s == CLGRAD_OK, "%s: gemm %dx%dx%d batch %d ta %d tb %d layout %d: %s", impl, c->m, c->n, c->k,
                  c->batch, c->ta, c->tb, c->layout, clgrad_last_error(th_ctx));
    float *got = th_read(ct);
    char what[160];
    snprintf(what, sizeof what, "%s gemm %dx%dx%d batch %d ta %d tb %d alpha %g beta %g layout %d", impl, c->m, c->n,
             c->k, c->batch, c->ta, c->tb, (double)c->alpha, (double)c->beta, c->layout);
    th_allclose(what, got, R, sc * nb, gemm_atol(c->k, c->alpha, c->beta), 1e-5);
    free(got);
    if (base) { /* everything around the window still holds its 7s */
        float *all = th_read(base);
        int64_t n = clgrad_tensor_numel(base), inside = (int64_t)sc * nb, sevens = 0;
        for (int64_t i = 0; i < n; i++) sevens += all[i] == 7.0f;
        ck_assert_msg(sevens >= n - inside, "%s: wrote outside C (%lld of %lld border values kept)", what,
                      (long long)sevens, (long long)(n - inside));
        free(all);
        clgrad_tensor_release(base);
    }
    clgrad_tensor_release(a);
    clgrad_tensor_release(bt);
    clgrad_tensor_release(ct);
    free(A);
    free(B);
    free(C);
    free(R);
}

/* --- clgrad_gemm ------------------------------------------------------------------------------ */

static const int shapes[][3] = {
    {1, 1, 1}, {7, 13, 29}, {1, 40, 3}, {33, 1, 17}, {5, 9, 1}, {129, 65, 257}, {1000, 3, 17}, {17, 257, 2},
    /* columns in whole micro-panels (B read in place when not transposed), K over a block */
    {9, 96, 33}, {70, 64, 300}, {3, 192, 512},
};

START_TEST(gemm_matches_reference)
{
    if (!use_impl(_i)) return;
    const float ab[][2] = {{1.0f, 0.0f}, {-0.75f, 0.5f}, {2.0f, 1.0f}};
    int n = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            gemm_case c = {shapes[s][0], shapes[s][1], shapes[s][2], 0, t & 1, t >> 1,
                           ab[n % 3][0], ab[n % 3][1], LAYOUT_CONTIG};
            n++;
            run_case(&c, impl_names[_i]);
        }
}
END_TEST

START_TEST(gemm_batched_and_views)
{
    if (!use_impl(_i)) return;
    for (int t = 0; t < 4; t++) {
        gemm_case b = {37, 41, 29, 3, t & 1, t >> 1, 0.5f, 0.0f, LAYOUT_CONTIG};
        run_case(&b, impl_names[_i]);
        gemm_case v = {23, 19, 31, 0, t & 1, t >> 1, 1.0f, 0.5f, LAYOUT_TRANSPOSED_VIEW};
        run_case(&v, impl_names[_i]);
        gemm_case vb = {11, 70, 9, 2, t & 1, t >> 1, -1.0f, 0.0f, LAYOUT_TRANSPOSED_VIEW};
        run_case(&vb, impl_names[_i]);
        gemm_case sl = {13, 29, 47, 0, t & 1, t >> 1, 1.5f, -1.0f, LAYOUT_SLICE};
        run_case(&sl, impl_names[_i]);
        gemm_case slb = {9, 5, 66, 4, t & 1, t >> 1, 1.0f, 0.0f, LAYOUT_SLICE};
        run_case(&slb, impl_names[_i]);
    }
    /* long K, and batches big enough that the CPU variant packs K in chunks (beta applies
     * to the first chunk only) and the batch in groups */
    gemm_case lk = {8, 40, 3000, 0, 0, 1, 1.0f, 1.0f, LAYOUT_CONTIG};
    run_case(&lk, impl_names[_i]);
    gemm_case chunks = {30, 33, 600, 40, 1, 0, 1.0f, -0.5f, LAYOUT_CONTIG};
    run_case(&chunks, impl_names[_i]);
    gemm_case groups = {1, 2, 1100, 1000, 0, 1, 0.5f, 2.0f, LAYOUT_CONTIG};
    run_case(&groups, impl_names[_i]);
    gemm_case many = {3, 4, 5, 64, 1, 0, 1.0f, 0.0f, LAYOUT_CONTIG};
    run_case(&many, impl_names[_i]);
    for (int t = 0; t < 4; t++) { /* whole micro-panels of columns: a batch of B read in place, and views */
        gemm_case wb = {13, 96, 40, 3, t & 1, t >> 1, 1.0f, 0.5f, LAYOUT_CONTIG};
        run_case(&wb, impl_names[_i]);
        gemm_case wv = {13, 48, 40, 2, t & 1, t >> 1, 1.0f, 0.0f, LAYOUT_SLICE};
        run_case(&wv, impl_names[_i]);
    }
}
END_TEST

START_TEST(gemm_empty_inner_dimension)
{
    if (!use_impl(_i)) return;
    /* K = 0: C = beta * C, and zeros over NaN when beta == 0 */
    gemm_case c1 = {5, 7, 0, 0, 0, 0, 1.0f, 0.5f, LAYOUT_CONTIG};
    run_case(&c1, impl_names[_i]);
    gemm_case c2 = {6, 3, 0, 2, 1, 1, 1.0f, 0.0f, LAYOUT_SLICE};
    run_case(&c2, impl_names[_i]);
}
END_TEST

/* Every row shape of the tuning tables (and some odd ones) computes the right thing, even
 * where the row is meant for other hardware: the GPU rows run on whatever device is here. */
static const clgrad__gemm_cpu_params cpu_rows[] = {
    {8, 16, 2, 64, 0, 0, 0}, {6, 8, 2, 64, 0, 0, 0}, {4, 4, 3, 64, 0, 0, 0}, {1, 16, 1, 16, 0, 0, 0},
    {3, 2, 5, 7, 0, 0, 0},
    /* a work-item per micro-tile; big blocks of C; shallow K chunks (512 deep, the least) */
    {8, 16, 2, 64, 8, 16, 0}, {4, 8, 2, 32, 256, 512, 0}, {8, 16, 2, 64, 0, 0, 16},
};
static const clgrad__gemm_tiled_params tiled_rows[] = {
    {64, 64, 16, 4, 4, 1}, {128, 64, 16, 8, 4, 1}, {32, 32, 16, 4, 4, 1}, {16, 16, 8, 4, 4, 1}, {24, 40, 5, 3, 5, 0},
};
#define N_CPU_ROWS ((int)(sizeof cpu_rows / sizeof cpu_rows[0]))
#define N_TILED_ROWS ((int)(sizeof tiled_rows / sizeof tiled_rows[0]))

START_TEST(gemm_parameter_sets)
{
    TH_OK(clgrad_context_set_gemm_provider(th_ctx, "own"));
    char name[96];
    if (_i < N_CPU_ROWS) {
        const clgrad__gemm_cpu_params *p = &cpu_rows[_i];
        TH_OK(clgrad__gemm_set_params(th_ctx, p, NULL));
        snprintf(name, sizeof name, "cpu mr %d vw %d nv %d pack_k %d", p->mr, p->vw, p->nv, p->pack_k);
    } else {
        const clgrad__gemm_tiled_params *p = &tiled_rows[_i - N_CPU_ROWS];
        TH_OK(clgrad__gemm_set_params(th_ctx, NULL, p));
        snprintf(name, sizeof name, "tiled %dx%dx%d wpt %dx%d pad %d", p->ts_m, p->ts_n, p->ts_k, p->wpt_m, p->wpt_n,
                 p->pad);
    }
    const gemm_case cases[] = {
        {1, 1, 1, 0, 0, 0, 1.0f, 0.0f, LAYOUT_CONTIG},    {7, 13, 29, 0, 1, 0, 1.0f, 0.5f, LAYOUT_CONTIG},
        {129, 65, 257, 0, 0, 1, -1.0f, 0.0f, LAYOUT_CONTIG}, {70, 3, 1, 0, 1, 1, 2.0f, 1.0f, LAYOUT_CONTIG},
        {37, 41, 29, 3, 1, 1, 0.75f, 0.5f, LAYOUT_SLICE},  {30, 33, 600, 40, 0, 0, 1.0f, -0.5f, LAYOUT_CONTIG},
        {11, 70, 9, 2, 0, 1, 1.0f, 0.0f, LAYOUT_TRANSPOSED_VIEW},
        {11, 96, 45, 2, 0, 0, 1.0f, 0.5f, LAYOUT_CONTIG}, {19, 192, 300, 0, 1, 0, 1.0f, 0.0f, LAYOUT_SLICE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], name);
}
END_TEST

/* The fused epilogue (bias by column or by row, relu) against the reference product followed
 * by the bias add and relu on the host, for every implementation: both transposes, a batch,
 * K = 0, and a K long enough for the CPU variant to run in several launches (the epilogue
 * goes with the last). */
START_TEST(gemm_epilogue_matches_reference)
{
    if (!use_impl(_i)) return;
    static const int cases[][5] = {/* m, n, k, batch, mode */
                                   {7, 13, 29, 1, 1}, {33, 70, 5, 2, 2}, {129, 65, 257, 1, 1}, {5, 9, 0, 1, 2},
                                   {3, 2048, 700, 1, 1}, {64, 32, 300, 1, 2}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int relu = 0; relu < 2; relu++)
            for (int tt = 0; tt < 4; tt++) {
                int m = cases[ci][0], n = cases[ci][1], k = cases[ci][2], nb = cases[ci][3], mode = cases[ci][4];
                int ta = tt & 1, tb = tt >> 1, ra = ta ? k : m, ca = ta ? m : k, rb = tb ? n : k, cb = tb ? k : n;
                int64_t sa = (int64_t)ra * ca, sb = (int64_t)rb * cb, sc = (int64_t)m * n;
                int64_t na = nb * sa + 1, nbb = nb * sb + 1, nc = nb * sc, nbias = mode == 1 ? n : m;
                clgrad_tensor *a = th_rand(1, &na, 91 + ci, -1, 1), *b = th_rand(1, &nbb, 92 + ci, -1, 1);
                clgrad_tensor *bias = th_rand(1, &nbias, 93 + ci, -1, 1), *c = NULL;
                TH_OK(clgrad_tensor_full(th_ctx, 1, &nc, NAN, &c));
                clgrad__gemm_args g = {.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k, .batch = nb,
                                       .alpha = 1.0f, .beta = 0.0f, .a = a->buf->mem, .b = b->buf->mem,
                                       .c = c->buf->mem, .a_off = 0, .lda = ca, .a_bstride = sa, .b_off = 0,
                                       .ldb = cb, .b_bstride = sb, .c_off = 0, .ldc = n, .c_bstride = sc,
                                       .bias_mode = mode, .relu = relu, .bias = bias->buf->mem, .bias_off = 0};
                TH_OK(clgrad__gemm(th_ctx, &g));
                float *ha = th_read(a), *hb = th_read(b), *hbias = th_read(bias), *got = th_read(c);
                float *want = malloc(sizeof(float) * (size_t)nc);
                for (int bi = 0; bi < nb; bi++) {
                    float *w = want + bi * sc;
                    ref_gemm(ta, tb, m, n, k, 1.0f, ha + bi * sa, ca, hb + bi * sb, cb, 0.0f, w, n);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++) {
                            float v = w[(size_t)i * n + j] + hbias[mode == 1 ? j : i];
                            w[(size_t)i * n + j] = relu && v < 0.0f ? 0.0f : v;
                        }
                }
                char what[128];
                snprintf(what, sizeof what, "%s epilogue %dx%dx%d batch %d mode %d relu %d ta %d tb %d",
                         impl_names[_i], m, n, k, nb, mode, relu, ta, tb);
                th_allclose(what, got, want, (size_t)nc, gemm_atol(k, 1, 0), 1e-5);
                free(ha), free(hb), free(hbias), free(got), free(want);
                clgrad_tensor_release(a), clgrad_tensor_release(b), clgrad_tensor_release(bias);
                clgrad_tensor_release(c);
            }
}
END_TEST

/* The CPU variant's product over a B packed once (clgrad__gemm_pack_gates with g = 1,
 * clgrad__gemm_packed), as the recurrent layers use it, for every CPU row: op(A) and op(B)
 * in both layouts, sizes that fill no panel, K past one cache block. */
START_TEST(gemm_packed_once_matches_reference)
{
    TH_OK(clgrad_context_set_gemm_provider(th_ctx, "own"));
    TH_OK(clgrad__gemm_set_params(th_ctx, &cpu_rows[_i], NULL));
    int cpu = 0;
    TH_OK(clgrad__gemm_cpu_plan(th_ctx, &cpu, NULL, NULL));
    ck_assert_int_eq(cpu, 1);
    static const int shapes[][3] = {{1, 1, 1}, {64, 128, 512}, {9, 33, 17}, {13, 5, 300}, {64, 512, 128}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
                int64_t as[2] = {ta ? K : M, ta ? M : K}, bs[2] = {tb ? N : K, tb ? K : N}, cs[2] = {M, N};
                clgrad_tensor *a = th_rand(2, as, 70 + i, -1, 1), *b = th_rand(2, bs, 80 + i, -1, 1), *c = NULL;
                TH_OK(clgrad_tensor_full(th_ctx, 2, cs, NAN, &c)); /* C is only written */
                clgrad__buffer *bp = NULL;
                TH_OK(clgrad__gemm_pack_gates(th_ctx, tb, K, N, 1, b->buf->mem, b->offset, bs[1], &bp));
                TH_OK(clgrad__gemm_packed(th_ctx, ta, M, N, K, a->buf->mem, a->offset, as[1], bp, c->buf->mem,
                                          c->offset, N));
                clgrad__buffer_release(bp);
                float *ha = th_read(a), *hb = th_read(b), *got = th_read(c), *want = calloc((size_t)M * N, sizeof *want);
                ref_gemm(ta, tb, M, N, K, 1.0f, ha, (int)as[1], hb, (int)bs[1], 0.0f, want, N);
                char what[96];
                snprintf(what, sizeof what, "packed row %d %dx%dx%d ta %d tb %d", _i, M, N, K, ta, tb);
                th_allclose(what, got, want, (size_t)M * N, 1e-4, 1e-4);
                free(ha), free(hb), free(got), free(want);
                clgrad_tensor_release(a), clgrad_tensor_release(b), clgrad_tensor_release(c);
            }
}
END_TEST

/* Products with more rows, columns or batch entries than one launch may hold in NDRange
 * dims 1 and 2 run in pieces (tiny tiles make the row and column limits reachable). */
START_TEST(gemm_in_pieces)
{
    TH_OK(clgrad_context_set_gemm_provider(th_ctx, "own"));
    const clgrad__gemm_cpu_params cpu = {1, 2, 1, 16, 0, 0, 0};
    const clgrad__gemm_tiled_params tiled = {1, 2, 1, 1, 1, 0};
    if (_i == 0) TH_OK(clgrad__gemm_set_params(th_ctx, &cpu, NULL));
    else TH_OK(clgrad__gemm_set_params(th_ctx, NULL, &tiled));
    const char *name = _i == 0 ? "cpu 1x2 pieces" : "tiled 1x2 pieces";
    const gemm_case cases[] = {
        {33001, 3, 2, 0, 0, 0, 1.0f, 0.5f, LAYOUT_CONTIG}, {33001, 3, 2, 0, 1, 1, 1.0f, 0.0f, LAYOUT_CONTIG},
        {2, 65539, 3, 0, 0, 0, 1.0f, 0.0f, LAYOUT_CONTIG}, {2, 65539, 3, 0, 1, 1, -1.0f, 0.5f, LAYOUT_CONTIG},
        {1, 2, 3, 32771, 0, 1, 1.0f, 0.0f, LAYOUT_CONTIG}, {33001, 2, 0, 0, 0, 0, 1.0f, 0.5f, LAYOUT_CONTIG},
        {1, 2, 0, 32771, 0, 0, 1.0f, 0.0f, LAYOUT_CONTIG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], name);
}
END_TEST

START_TEST(gemm_rejects_bad_parameters)
{
    clgrad__gemm_cpu_params bad_cpu = {8, 5, 2, 64, 0, 0, 0}, bad_block = {8, 16, 2, 64, -1, 0, 0};
    clgrad__gemm_tiled_params bad_tiled = {30, 32, 16, 4, 4, 1};
    ck_assert_int_eq(clgrad__gemm_set_params(th_ctx, &bad_cpu, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad__gemm_set_params(th_ctx, &bad_block, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad__gemm_set_params(th_ctx, NULL, &bad_tiled), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad__gemm_set_variant(th_ctx, "systolic"), CLGRAD_ERR_INVALID_ARG);
}
END_TEST

START_TEST(gemm_rejects_bad_arguments)
{
    int64_t s23[2] = {2, 3}, s34[2] = {3, 4}, s24[2] = {2, 4}, s33[2] = {3, 3};
    clgrad_tensor *a = NULL, *b = NULL, *c = NULL, *bad = NULL, *i32 = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, s23, &a));
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, s34, &b));
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, s24, &c));
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, s33, &bad));
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, 2, s34, &i32));
    TH_OK(clgrad_gemm(0, 0, 1.0f, a, b, 0.0f, c));
    ck_assert_int_eq(clgrad_gemm(0, 0, 1.0f, a, bad, 0.0f, c), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "[3, 3]"));
    ck_assert_int_eq(clgrad_gemm(1, 0, 1.0f, a, b, 0.0f, c), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_gemm(0, 0, 1.0f, a, i32, 0.0f, c), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_gemm(0, 0, 1.0f, NULL, b, 0.0f, c), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
    clgrad_tensor_release(c);
    clgrad_tensor_release(bad);
    clgrad_tensor_release(i32);
}
END_TEST

START_TEST(provider_selection)
{
    ck_assert_int_eq(clgrad_context_set_gemm_provider(th_ctx, "fastest"), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_context_set_gemm_provider(NULL, "own"), CLGRAD_ERR_INVALID_ARG);
    TH_OK(clgrad_context_set_gemm_provider(th_ctx, "own"));
    ck_assert_str_eq(clgrad_context_gemm_provider(th_ctx), "own");
    clgrad_status s = clgrad_context_set_gemm_provider(th_ctx, "clblast");
    if (clgrad__gemm_have_clblast()) {
        ck_assert_int_eq(s, CLGRAD_OK);
        ck_assert_str_eq(clgrad_context_gemm_provider(th_ctx), "clblast");
    } else {
        ck_assert_int_eq(s, CLGRAD_ERR_UNSUPPORTED);
        ck_assert_str_eq(clgrad_context_gemm_provider(th_ctx), "own");
    }
    /* a context that refuses CLBlast */
    clgrad_context_desc d = {.flags = CLGRAD_CONTEXT_NO_CLBLAST};
    clgrad_context *nc = NULL;
    TH_OK(clgrad_context_create(&d, &nc));
    ck_assert_int_eq(clgrad_context_set_gemm_provider(nc, "clblast"), CLGRAD_ERR_UNSUPPORTED);
    TH_OK(clgrad_context_set_gemm_provider(nc, "auto"));
    ck_assert_str_eq(clgrad_context_gemm_provider(nc), "own");
    clgrad_context_release(nc);
}
END_TEST

START_TEST(auto_choice_is_measured_and_cached)
{
    if (!clgrad__gemm_have_clblast()) return;
    /* a private cache folder: the first context measures and writes the verdict, the
     * second reads it back and agrees */
    char dir[512];
    th_tmpdir(dir, sizeof dir, "gemm-auto");
    unsetenv("CLGRAD_GEMM");
    clgrad_context_desc d = {.cache_dir = dir};
    clgrad_context *c1 = NULL, *c2 = NULL;
    TH_OK(clgrad_context_create(&d, &c1));
    const char *p1 = clgrad_context_gemm_provider(c1);
    ck_assert_ptr_nonnull(p1);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "grep -q \"^provider %s$\" %s/gemm-*.txt", p1, dir);
    ck_assert_msg(system(cmd) == 0, "no verdict file for %s in %s", p1, dir);
    TH_OK(clgrad_context_create(&d, &c2));
    ck_assert_str_eq(clgrad_context_gemm_provider(c2), p1);
    clgrad_context_release(c1);
    clgrad_context_release(c2);
    th_rmtree(dir);
}
END_TEST

/* --- clgrad_matmul ---------------------------------------------------------------------------- */

/* Host numpy.matmul for operands of at least 2 dims with broadcast batch dims. */
static void ref_matmul_nd(int na, const int64_t *sa, const float *a, int nb, const int64_t *sb, const float *b,
                          int no, const int64_t *so, float *out)
{
    int64_t M = sa[na - 2], K = sa[na - 1], N = sb[nb - 1], batch = 1;
    for (int i = 0; i < no - 2; i++) batch *= so[i];
    for (int64_t bi = 0; bi < batch; bi++) {
        /* unravel bi over the output batch dims, then ravel into a's and b's (size 1 = broadcast) */
        int64_t rem = bi, ia = 0, ib = 0, ma = 1, mb = 1;
        for (int d = no - 3; d >= 0; d--) {
            int64_t idx = rem % so[d];
            rem /= so[d];
            int da = d - (no - na), db = d - (no - nb);
            if (da >= 0) {
                ia += (sa[da] == 1 ? 0 : idx) * ma;
                ma *= sa[da];
            }
            if (db >= 0) {
                ib += (sb[db] == 1 ? 0 : idx) * mb;
                mb *= sb[db];
            }
        }
        ref_gemm(0, 0, (int)M, (int)N, (int)K, 1.0f, a + ia * M * K, (int)K, b + ib * K * N, (int)N, 0.0f,
                 out + bi * M * N, (int)N);
    }
}

static void check_matmul(int na, const int64_t *sa, int nb, const int64_t *sb, int no, const int64_t *so,
                         int noncontig)
{
    int64_t ne_a = 1, ne_b = 1, ne_o = 1;
    for (int i = 0; i < na; i++) ne_a *= sa[i];
    for (int i = 0; i < nb; i++) ne_b *= sb[i];
    for (int i = 0; i < no; i++) ne_o *= so[i];
    float *A = malloc(sizeof(float) * (size_t)ne_a), *B = malloc(sizeof(float) * (size_t)ne_b);
    float *R = malloc(sizeof(float) * (size_t)(ne_o ? ne_o : 1));
    th_fill_uniform(A, (size_t)ne_a, 5, -1.0f, 1.0f);
    th_fill_uniform(B, (size_t)ne_b, 6, -1.0f, 1.0f);
    /* 1-D operands: a (K) is (1, K), b (K) is (K, 1), as numpy does */
    int64_t a2[8], b2[8], o2[8];
    int na2 = na, nb2 = nb, no2 = 0;
    memcpy(a2, sa, sizeof(int64_t) * (size_t)na);
    memcpy(b2, sb, sizeof(int64_t) * (size_t)nb);
    if (na == 1) { a2[0] = 1; a2[1] = sa[0]; na2 = 2; }
    if (nb == 1) { b2[0] = sb[0]; b2[1] = 1; nb2 = 2; }
    int nbat = (na2 > nb2 ? na2 : nb2) - 2;
    for (int d = 0; d < nbat; d++) {
        int da = d - (nbat - (na2 - 2)), db = d - (nbat - (nb2 - 2));
        int64_t x = da >= 0 ? a2[da] : 1, y = db >= 0 ? b2[db] : 1;
        o2[no2++] = x == 1 ? y : x;
    }
    o2[no2++] = a2[na2 - 2];
    o2[no2++] = b2[nb2 - 1];
    ref_matmul_nd(na2, a2, A, nb2, b2, B, no2, o2, R);

    clgrad_tensor *a = th_tensor(na, sa, A), *b = th_tensor(nb, sb, B), *out = NULL;
    if (noncontig) {
        th_make_noncontig(&a);
        th_make_noncontig(&b);
    }
    TH_OK(clgrad_matmul(a, b, &out));
    ck_assert_int_eq(clgrad_tensor_ndim(out), no);
    for (int i = 0; i < no; i++) ck_assert_int_eq(clgrad_tensor_dim(out, i), so[i]);
    float *got = th_read(out);
    int64_t K = a2[na2 - 1];
    th_allclose("matmul", got, R, (size_t)ne_o, gemm_atol((int)K, 1.0f, 0.0f), 1e-5);
    free(got);
    clgrad_tensor_release(out);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
    free(A);
    free(B);
    free(R);
}

START_TEST(matmul_shapes_and_broadcasting)
{
    if (!use_impl(_i)) return;
    for (int nc = 0; nc < 2; nc++) {
        { int64_t a[2] = {7, 13}, b[2] = {13, 5}, o[2] = {7, 5}; check_matmul(2, a, 2, b, 2, o, nc); }
        { int64_t a[2] = {1, 1}, b[2] = {1, 1}, o[2] = {1, 1}; check_matmul(2, a, 2, b, 2, o, nc); }
        /* 3-D x 2-D: shared weights */
        { int64_t a[3] = {3, 5, 9}, b[2] = {9, 4}, o[3] = {3, 5, 4}; check_matmul(3, a, 2, b, 3, o, nc); }
        /* 2-D x 3-D */
        { int64_t a[2] = {5, 9}, b[3] = {3, 9, 4}, o[3] = {3, 5, 4}; check_matmul(2, a, 3, b, 3, o, nc); }
        /* 4-D x 3-D with size-1 batch dims on both sides */
        { int64_t a[4] = {2, 1, 6, 7}, b[3] = {3, 7, 2}, o[4] = {2, 3, 6, 2}; check_matmul(4, a, 3, b, 4, o, nc); }
        /* 1-D operands */
        { int64_t a[1] = {11}, b[1] = {11}; check_matmul(1, a, 1, b, 0, NULL, nc); }
        { int64_t a[1] = {11}, b[2] = {11, 6}, o[1] = {6}; check_matmul(1, a, 2, b, 1, o, nc); }
        { int64_t a[2] = {6, 11}, b[1] = {11}, o[1] = {6}; check_matmul(2, a, 1, b, 1, o, nc); }
        { int64_t a[1] = {4}, b[3] = {2, 4, 3}, o[2] = {2, 3}; check_matmul(1, a, 3, b, 2, o, nc); }
        { int64_t a[3] = {2, 3, 4}, b[1] = {4}, o[2] = {2, 3}; check_matmul(3, a, 1, b, 2, o, nc); }
    }
}
END_TEST

START_TEST(matmul_errors_name_the_shapes)
{
    int64_t s23[2] = {2, 3}, s45[2] = {4, 5}, b1[3] = {2, 3, 4}, b2[3] = {3, 4, 5}, v[1] = {4};
    clgrad_tensor *a = NULL, *b = NULL, *x = NULL, *y = NULL, *i32 = NULL, *vec = NULL, *out = (clgrad_tensor *)1;
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, s23, &a));
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 2, s45, &b));
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 3, b1, &x));
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 3, b2, &y));
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, 2, s45, &i32));
    TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, 1, v, &vec));
    ck_assert_int_eq(clgrad_matmul(a, b, &out), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_null(out);
    const char *msg = clgrad_last_error(th_ctx);
    ck_assert_msg(strstr(msg, "[2, 3]") && strstr(msg, "[4, 5]"), "message: %s", msg);
    /* batch dims 2 and 3 do not broadcast */
    ck_assert_int_eq(clgrad_matmul(x, y, &out), CLGRAD_ERR_SHAPE);
    /* 1-D against a mismatching matrix */
    ck_assert_int_eq(clgrad_matmul(a, vec, &out), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_matmul(i32, b, &out), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "i32"));
    ck_assert_int_eq(clgrad_matmul(NULL, b, &out), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_matmul(a, b, NULL), CLGRAD_ERR_INVALID_ARG);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
    clgrad_tensor_release(x);
    clgrad_tensor_release(y);
    clgrad_tensor_release(i32);
    clgrad_tensor_release(vec);
}
END_TEST

START_TEST(steady_state_makes_no_buffers)
{
    TH_OK(clgrad_context_set_gemm_provider(th_ctx, "own"));
    int64_t sa[2] = {300, 700}, sb[2] = {700, 90};
    clgrad_tensor *a = th_rand(2, sa, 1, -1, 1), *b = th_rand(2, sb, 2, -1, 1), *o = NULL;
    clgrad_context_stats s0, s1;
    for (int i = 0; i < 3; i++) {
        TH_OK(clgrad_matmul(a, b, &o));
        clgrad_tensor_release(o);
        if (i == 0) TH_OK(clgrad_context_get_stats(th_ctx, &s0));
    }
    TH_OK(clgrad_context_finish(th_ctx));
    TH_OK(clgrad_context_get_stats(th_ctx, &s1));
    ck_assert_msg(s1.buffers_created == s0.buffers_created, "clCreateBuffer calls after the first GEMM: %llu",
                  (unsigned long long)(s1.buffers_created - s0.buffers_created));
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
}
END_TEST

/* --- tuning tables (no device needed) --------------------------------------------------------- */

static clgrad_device_info fake_device(clgrad_device_kind kind, clgrad_local_mem_kind lm, const char *vendor,
                                      const char *name)
{
    clgrad_device_info d;
    memset(&d, 0, sizeof d);
    d.kind = kind;
    d.local_mem_kind = lm;
    snprintf(d.vendor, sizeof d.vendor, "%s", vendor);
    snprintf(d.platform_name, sizeof d.platform_name, "%s", vendor);
    snprintf(d.name, sizeof d.name, "%s", name);
    return d;
}

START_TEST(tuning_tables_match_first_row)
{
    clgrad_device_info nv = fake_device(CLGRAD_DEVICE_KIND_GPU_DISCRETE, CLGRAD_LOCAL_MEM_LOCAL, "NVIDIA Corporation",
                                        "NVIDIA GeForce RTX 3080");
    clgrad_device_info igpu = fake_device(CLGRAD_DEVICE_KIND_GPU_INTEGRATED, CLGRAD_LOCAL_MEM_LOCAL,
                                          "Intel(R) Corporation", "Intel(R) UHD Graphics 620");
    clgrad_device_info other = fake_device(CLGRAD_DEVICE_KIND_GPU_INTEGRATED, CLGRAD_LOCAL_MEM_LOCAL, "Acme", "X1");
    clgrad_device_info cpu = fake_device(CLGRAD_DEVICE_KIND_CPU, CLGRAD_LOCAL_MEM_GLOBAL, "GenuineIntel", "Core i7");
    clgrad__tuning_device d_nv = {&nv, 1}, d_igpu = {&igpu, 1}, d_other = {&other, 4};
    const clgrad__gemm_tiled_params *t = clgrad__tuning_gemm_tiled(&d_nv, NULL);
    ck_assert_int_eq(t->ts_m, 64);
    ck_assert_int_eq(clgrad__tuning_gemm_tiled_wg(t), 256);
    ck_assert_int_eq(clgrad__tuning_gemm_tiled(&d_igpu, NULL)->ts_m, 32);
    int row = -1;
    t = clgrad__tuning_gemm_tiled(&d_other, &row);
    ck_assert_int_eq(t->ts_m, 16); /* the default row */
    ck_assert_int_eq(clgrad__tuning_gemm_tiled_wg(t), 16);
    /* an Intel CPU is not an Intel GPU */
    clgrad__tuning_device d_cpu16 = {&cpu, 16}, d_cpu8 = {&cpu, 8}, d_cpu4 = {&cpu, 4};
    ck_assert_int_eq(clgrad__tuning_gemm_tiled(&d_cpu8, NULL)->ts_m, 16);
    ck_assert_int_eq(clgrad__tuning_gemm_cpu(&d_cpu16, NULL)->vw, 16);
    ck_assert_int_eq(clgrad__tuning_gemm_cpu(&d_cpu8, NULL)->vw, 8);
    ck_assert_int_eq(clgrad__tuning_gemm_cpu(&d_cpu4, NULL)->vw, 4);
    /* Mali GPUs report local memory in global memory: still a GPU, so the tiled variant
     * with the Mali row; CPUs keep the CPU variant whatever they report */
    clgrad_device_info mali = fake_device(CLGRAD_DEVICE_KIND_GPU_INTEGRATED, CLGRAD_LOCAL_MEM_GLOBAL, "ARM",
                                          "Mali-G78 r0p0");
    clgrad__tuning_device d_mali = {&mali, 4};
    ck_assert(clgrad__gemm_default_tiled(&mali));
    ck_assert(clgrad__gemm_default_tiled(&nv));
    ck_assert(!clgrad__gemm_default_tiled(&cpu));
    row = -1;
    t = clgrad__tuning_gemm_tiled(&d_mali, &row);
    ck_assert_int_eq(t->ts_m, 32);
    ck_assert_int_eq(row, 4);
    char opts[192];
    clgrad__tuning_gemm_tiled_options(clgrad__tuning_gemm_tiled(&d_nv, NULL), opts, sizeof opts);
    ck_assert_str_eq(opts, "-DMM_VARIANT_TILED -DMM_TS_M=64 -DMM_TS_N=64 -DMM_TS_K=16 -DMM_WPT_M=4 -DMM_WPT_N=4 -DMM_PAD=1");
}
END_TEST

/* The non-GEMM rows: CPUs, GPUs and other devices each get their own choices, and an
 * accelerator takes the tiled GEMM only when it has on-chip local memory. */
START_TEST(tuning_ops_rows_follow_the_device_kind)
{
    clgrad_device_info cpu = fake_device(CLGRAD_DEVICE_KIND_CPU, CLGRAD_LOCAL_MEM_GLOBAL, "GenuineIntel", "Core i7");
    clgrad_device_info gpu = fake_device(CLGRAD_DEVICE_KIND_GPU_DISCRETE, CLGRAD_LOCAL_MEM_LOCAL, "AMD", "gfx1030");
    clgrad_device_info acc = fake_device(CLGRAD_DEVICE_KIND_ACCELERATOR, CLGRAD_LOCAL_MEM_LOCAL, "Acme", "A1");
    clgrad_device_info acc_g = fake_device(CLGRAD_DEVICE_KIND_ACCELERATOR, CLGRAD_LOCAL_MEM_GLOBAL, "Acme", "A2");
    clgrad__tuning_device d_cpu = {&cpu, 16}, d_gpu = {&gpu, 1}, d_acc = {&acc, 1}, d_acc_g = {&acc_g, 1};
    const clgrad__ops_params *c = clgrad__tuning_ops(&d_cpu, NULL), *g = clgrad__tuning_ops(&d_gpu, NULL);
    int row = -1;
    const clgrad__ops_params *a = clgrad__tuning_ops(&d_acc, &row);
    ck_assert_int_eq(c->wg_1d, 64);
    ck_assert_int_eq(c->vw, 8);
    ck_assert_int_eq(c->row_kernels, 1);
    ck_assert_int_eq(c->sum_cw, 16);
    ck_assert_int_eq(g->wg_1d, 256);
    ck_assert_int_eq(g->vw, 4);
    ck_assert_int_eq(g->red_colwg, 1);
    ck_assert_int_eq(g->smx_wg, 1);
    ck_assert_int_eq(g->nll_fused_smooth, 0);
    ck_assert_int_eq(row, 2); /* on-chip local memory: the default row, softmax by work-groups */
    ck_assert_int_eq(a->red_colwg, 0);
    ck_assert_int_eq(a->red_vec_wg, 8);
    ck_assert_int_eq(a->smx_wg, 1);
    const clgrad__ops_params *ag = clgrad__tuning_ops(&d_acc_g, &row);
    ck_assert_int_eq(row, 3); /* the default row */
    ck_assert_int_eq(ag->smx_wg, 0);
    ck_assert_ptr_eq(clgrad__tuning_ops_row(3), ag);
    ck_assert_ptr_null(clgrad__tuning_ops_row(4));
    ck_assert_ptr_null(clgrad__tuning_gemm_tiled_row(-1));
    ck_assert_int_eq(clgrad__tuning_gemm_variant(&d_acc, NULL)->tiled, 1);
    ck_assert_int_eq(clgrad__tuning_gemm_variant(&d_acc_g, NULL)->tiled, 0);
    ck_assert_int_eq(clgrad__tuning_gemm_variant(&d_cpu, NULL)->tiled, 0);
    ck_assert_int_eq(clgrad__tuning_gemm_variant(&d_gpu, NULL)->tiled, 1);
}
END_TEST

START_TEST(tuning_shrink_reaches_one_work_item)
{
    clgrad__gemm_tiled_params p = {128, 64, 16, 8, 4, 1};
    size_t wg = clgrad__tuning_gemm_tiled_wg(&p), lmem = clgrad__tuning_gemm_tiled_local_bytes(&p);
    int steps = 0;
    while (clgrad__tuning_gemm_tiled_shrink(&p)) {
        ck_assert_int_eq(p.ts_m % p.wpt_m, 0);
        ck_assert_int_eq(p.ts_n % p.wpt_n, 0);
        size_t w = clgrad__tuning_gemm_tiled_wg(&p), l = clgrad__tuning_gemm_tiled_local_bytes(&p);
        ck_assert(w <= wg && l <= lmem && (w < wg || l < lmem));
        wg = w;
        lmem = l;
        ck_assert_int_lt(++steps, 64);
    }
    ck_assert_int_eq(clgrad__tuning_gemm_tiled_wg(&p), 1);
    ck_assert_int_eq(p.ts_k, 1);
}
END_TEST

static Suite *suite_ops_matmul(void)
{
    Suite *s = suite_create("ops_matmul");
    TCase *g = tcase_create("gemm");
    tcase_add_checked_fixture(g, th_setup, th_teardown);
    tcase_set_timeout(g, 300);
    tcase_add_loop_test(g, gemm_matches_reference, 0, N_IMPL);
    tcase_add_loop_test(g, gemm_batched_and_views, 0, N_IMPL);
    tcase_add_loop_test(g, gemm_empty_inner_dimension, 0, N_IMPL);
    tcase_add_loop_test(g, gemm_parameter_sets, 0, N_CPU_ROWS + N_TILED_ROWS);
    tcase_add_loop_test(g, gemm_in_pieces, 0, 2);
    tcase_add_loop_test(g, gemm_epilogue_matches_reference, 0, N_IMPL);
    tcase_add_loop_test(g, gemm_packed_once_matches_reference, 0, N_CPU_ROWS);
    tcase_add_test(g, gemm_rejects_bad_parameters);
    tcase_add_test(g, gemm_rejects_bad_arguments);
    tcase_add_test(g, steady_state_makes_no_buffers);
    suite_add_tcase(s, g);
    TCase *t = tcase_create("tuning");
    tcase_add_test(t, tuning_tables_match_first_row);
    tcase_add_test(t, tuning_shrink_reaches_one_work_item);
    tcase_add_test(t, tuning_ops_rows_follow_the_device_kind);
    suite_add_tcase(s, t);
    TCase *p = tcase_create("provider");
    tcase_add_checked_fixture(p, th_setup, th_teardown);
    tcase_set_timeout(p, 300);
    tcase_add_test(p, provider_selection);
    tcase_add_test(p, auto_choice_is_measured_and_cached);
    suite_add_tcase(s, p);
    TCase *m = tcase_create("matmul");
    tcase_add_checked_fixture(m, th_setup, th_teardown);
    tcase_set_timeout(m, 300);
    tcase_add_loop_test(m, matmul_shapes_and_broadcasting, 0, N_IMPL);
    tcase_add_test(m, matmul_errors_name_the_shapes);
    suite_add_tcase(s, m);
    return s;
}

int main(void) { return th_run(suite_ops_matmul(), 1); }
