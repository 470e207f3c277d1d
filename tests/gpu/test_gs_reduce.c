/* The reduction, softmax, loss and normalisation families under both styles: every
 * reduction kernel (forced in turn; each falls back where it cannot run a pass) on rows,
 * columns, split axes and whole tensors longer than the lowered chunk (so every long row
 * takes two passes and the partial results fold over NDRange dims 1 and 2), with backward;
 * softmax and log-softmax on short and long rows and along inner axes; cross entropy with
 * and without label smoothing (fused and two-step), NLL, MSE and BCE; batch and layer norm
 * with several statistics chunks. Each against the plain-C references. */
#include "gs.h"

#include "ops/reduce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- reductions ------------------------------------------------------------------------------ */

typedef struct red_args {
    int op; /* index into OPS */
    int naxes;
    const int *axes;
} red_args;

static clgrad_status var1(clgrad_tensor *x, int n, const int *a, int k, clgrad_tensor **o)
{
    return clgrad_var(x, n, a, 1, k, o);
}

typedef clgrad_status (*red_fn)(clgrad_tensor *, int, const int *, int, clgrad_tensor **);
static const struct {
    const char *name;
    red_fn fn;
    ref_reduce_op op;
} OPS[] = {{"sum", clgrad_sum, REF_REDUCE_SUM},
           {"mean", clgrad_mean, REF_REDUCE_MEAN},
           {"max", clgrad_max, REF_REDUCE_MAX},
           {"min", clgrad_min, REF_REDUCE_MIN},
           {"var", var1, REF_REDUCE_VAR}};

static clgrad_status red_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    const red_args *a = user;
    return OPS[a->op].fn(in[0], a->naxes, a->axes, 0, out);
}

typedef struct red_case {
    int ndim;
    int64_t shape[4];
    int naxes;
    int axes[4];
} red_case;

/* rows longer than the chunk (two passes, folded partials), columns (vector and work-group
 * column kernels), a few columns (work-item / work-group per result), axes split around a
 * kept one (the row kernel's two blocks), everything, one long row */
static const red_case red_cases[] = {
    {2, {5, 150}, 1, {1}},       {2, {150, 37}, 1, {0}}, {3, {3, 70, 5}, 1, {1}},
    {4, {4, 3, 5, 7}, 3, {0, 2, 3}}, {3, {2, 3, 4}, 0, {0}}, {1, {300}, 1, {0}},
};
#define N_RED_CASES ((int)(sizeof red_cases / sizeof red_cases[0]))

static void check_reduction(const red_case *c, int op, const char *tag)
{
    float *h = NULL;
    clgrad_tensor *x = gs_rand(c->ndim, c->shape, 7u + (uint64_t)op, -1.0f, 1.0f, &h);
    TH_OK(clgrad_tensor_set_requires_grad(x, 1));
    uint32_t mask = 0;
    for (int k = 0; k < c->naxes; k++) mask |= 1u << c->axes[k];
    if (c->naxes == 0) mask = (1u << c->ndim) - 1u;
    int64_t n = th_numel(c->ndim, c->shape), no = 1;
    for (int d = 0; d < c->ndim; d++)
        if (!(mask & (1u << d))) no *= c->shape[d];
    float *want = malloc((size_t)no * sizeof *want), *dy = malloc((size_t)no * sizeof *dy);
    float *dx = malloc((size_t)n * sizeof *dx);
    th_fill_uniform(dy, (size_t)no, 99, -1.0f, 1.0f);
    int corr = OPS[op].op == REF_REDUCE_VAR;
    ck_assert_int_eq(ref_reduce_forward(OPS[op].op, c->ndim, c->shape, mask, corr, h, want), 0);
    ck_assert_int_eq(ref_reduce_backward(OPS[op].op, c->ndim, c->shape, mask, corr, h, dy, dx), 0);
    red_args a = {op, c->naxes, c->axes};
    char what[160];
    snprintf(what, sizeof what, "%s %s over mask 0x%x of %lld elements", tag, OPS[op].name, mask, (long long)n);
    const float *wd[1] = {dx};
    gs_check_op(what, red_op, &a, 1, &x, want, dy, wd, 1e-4, 1e-4);
    free(want), free(dy), free(dx), free(h);
    clgrad_tensor_release(x);
}

START_TEST(reductions_every_kernel)
{
    gs_style(_i);
    for (int k = CLGRAD__RED_KERNEL_AUTO; k <= CLGRAD__RED_KERNEL_COLWG; k++) {
        clgrad__reduce_force_kernel(th_ctx, (clgrad__red_kernel)k);
        char tag[64];
        snprintf(tag, sizeof tag, "%s kernel %d", gs_style_name(_i), k);
        for (int c = 0; c < N_RED_CASES; c++) {
            /* every op once with the automatic choice; sum and max (two kernel builds) with each forced kernel */
            for (int op = 0; op < 5; op++)
                if (k == CLGRAD__RED_KERNEL_AUTO || op == 0 || op == 2) check_reduction(&red_cases[c], op, tag);
        }
    }
}
END_TEST

START_TEST(argmax_every_kernel)
{
    gs_style(_i);
    for (int k = CLGRAD__RED_KERNEL_AUTO; k <= CLGRAD__RED_KERNEL_ITEM; k++) {
        clgrad__reduce_force_kernel(th_ctx, (clgrad__red_kernel)k);
        /* (outer, axis, inner): a long axis (two passes) and short ones with inner columns */
        static const int64_t shapes[][3] = {{3, 200, 1}, {2, 9, 5}, {1, 70, 33}};
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            float *h = NULL;
            clgrad_tensor *x = gs_rand(3, shapes[s], 5 + s, -1.0f, 1.0f, &h), *y = NULL;
            TH_OK(clgrad_argmax(x, 1, 0, &y));
            size_t no = (size_t)(shapes[s][0] * shapes[s][2]);
            int32_t *want = malloc(no * sizeof *want), *got = malloc(no * sizeof *got);
            ref_argmax((size_t)shapes[s][0], (size_t)shapes[s][1], (size_t)shapes[s][2], h, want);
            TH_OK(clgrad_tensor_read(y, got, no * sizeof *got));
            for (size_t i = 0; i < no; i++)
                ck_assert_msg(got[i] == want[i], "%s kernel %d argmax of shape %zu at %zu: %d, want %d",
                              gs_style_name(_i), k, s, i, got[i], want[i]);
            free(want), free(got), free(h);
            clgrad_tensor_release(y);
            clgrad_tensor_release(x);
        }
    }
}
END_TEST

/* --- softmax --------------------------------------------------------------------------------- */

typedef struct smx_args {
    int axis, log;
} smx_args;

static clgrad_status smx_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    const smx_args *a = user;
    return a->log ? clgrad_log_softmax(in[0], a->axis, out) : clgrad_softmax(in[0], a->axis, out);
}

START_TEST(softmax_rows_and_columns)
{
    gs_style(_i);
    /* short rows (vector lanes on CPUs), rows past the 64 lanes (item kernel), an inner axis
     * (column kernel), one-element rows; a work-group per row on GPUs for all of them */
    static const struct { int ndim; int64_t shape[3]; int axis; } cases[] = {
        {2, {5, 7}, 1}, {2, {3, 150}, 1}, {3, {2, 70, 3}, 1}, {2, {4, 1}, 1}, {3, {3, 5, 17}, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int lg = 0; lg < 2; lg++) {
            float *h = NULL;
            clgrad_tensor *x = gs_rand(cases[c].ndim, cases[c].shape, 3 + c, -3.0f, 3.0f, &h);
            TH_OK(clgrad_tensor_set_requires_grad(x, 1));
            size_t outer = 1, inner = 1, L = (size_t)cases[c].shape[cases[c].axis];
            for (int d = 0; d < cases[c].axis; d++) outer *= (size_t)cases[c].shape[d];
            for (int d = cases[c].axis + 1; d < cases[c].ndim; d++) inner *= (size_t)cases[c].shape[d];
            size_t n = outer * L * inner;
            float *y = malloc(n * sizeof *y), *dy = malloc(n * sizeof *dy), *dx = malloc(n * sizeof *dx);
            th_fill_uniform(dy, n, 17 + c, -1.0f, 1.0f);
            if (lg) {
                ref_log_softmax_forward(outer, L, inner, h, y);
                ref_log_softmax_backward(outer, L, inner, y, dy, dx);
            } else {
                ref_softmax_forward(outer, L, inner, h, y);
                ref_softmax_backward(outer, L, inner, y, dy, dx);
            }
            smx_args a = {cases[c].axis, lg};
            char what[96];
            snprintf(what, sizeof what, "%s %s case %zu", gs_style_name(_i), lg ? "log_softmax" : "softmax", c);
            const float *wd[1] = {dx};
            gs_check_op(what, smx_op, &a, 1, &x, y, dy, wd, 1e-5, 1e-4);
            free(y), free(dy), free(dx), free(h);
            clgrad_tensor_release(x);
        }
}
END_TEST

/* --- losses ---------------------------------------------------------------------------------- */

typedef struct ce_args {
    clgrad_tensor *labels;
    float eps;
    clgrad_reduction red;
    int nll;
} ce_args;

static clgrad_status ce_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    const ce_args *a = user;
    if (a->nll) return clgrad_nll_loss(in[0], a->labels, a->red, out);
    return clgrad_cross_entropy(in[0], a->labels, a->eps, a->red, out);
}

START_TEST(cross_entropy_and_nll)
{
    gs_style(_i);
    const int N = 13, C = 70; /* rows longer than the 64 lanes */
    int32_t lab[13];
    for (int i = 0; i < N; i++) lab[i] = (i * 7) % C;
    lab[4] = -100; /* ignored */
    int64_t sl[1] = {N}, sx[2] = {N, C};
    clgrad_tensor *labels = th_tensor_i32(1, sl, lab);
    static const clgrad_reduction reds[] = {CLGRAD_REDUCTION_MEAN, CLGRAD_REDUCTION_SUM, CLGRAD_REDUCTION_NONE};
    for (int nll = 0; nll < 2; nll++)
        for (int e = 0; e < 2; e++)
            for (int r = 0; r < 3; r++) {
                if (nll && e) continue;
                float eps = e ? 0.1f : 0.0f, *h = NULL;
                clgrad_tensor *x = gs_rand(2, sx, 11 + (uint64_t)r, -2.0f, 2.0f, &h);
                if (nll) { /* log-probabilities */
                    float *lp = malloc((size_t)N * C * sizeof *lp);
                    ref_log_softmax_forward((size_t)N, (size_t)C, 1, h, lp);
                    TH_OK(clgrad_tensor_write(x, lp, (size_t)N * C * sizeof *lp));
                    memcpy(h, lp, (size_t)N * C * sizeof *lp);
                    free(lp);
                }
                TH_OK(clgrad_tensor_set_requires_grad(x, 1));
                size_t ny = reds[r] == CLGRAD_REDUCTION_NONE ? (size_t)N : 1;
                float want[13], dy[13], *dx = malloc((size_t)N * C * sizeof *dx);
                th_fill_uniform(dy, ny, 5, 0.5f, 1.5f);
                ref_reduction rr = reds[r] == CLGRAD_REDUCTION_MEAN ? REF_REDUCTION_MEAN
                                   : reds[r] == CLGRAD_REDUCTION_SUM ? REF_REDUCTION_SUM : REF_REDUCTION_NONE;
                if (nll) {
                    ck_assert_int_eq(ref_nll_loss_forward((size_t)N, (size_t)C, h, lab, -100, rr, want), 0);
                    ck_assert_int_eq(ref_nll_loss_backward((size_t)N, (size_t)C, lab, -100, rr, dy, dx), 0);
                } else {
                    ck_assert_int_eq(ref_cross_entropy_forward((size_t)N, (size_t)C, h, lab, -100, eps, rr, want), 0);
                    ck_assert_int_eq(ref_cross_entropy_backward((size_t)N, (size_t)C, h, lab, -100, eps, rr, dy, dx), 0);
                }
                ce_args a = {labels, eps, reds[r], nll};
                char what[96];
                snprintf(what, sizeof what, "%s %s eps %g reduction %d", gs_style_name(_i),
                         nll ? "nll" : "cross_entropy", (double)eps, (int)reds[r]);
                const float *wd[1] = {dx};
                gs_check_op(what, ce_op, &a, 1, &x, want, dy, wd, 1e-5, 1e-4);
                free(dx), free(h);
                clgrad_tensor_release(x);
            }
    clgrad_tensor_release(labels);
}
END_TEST

typedef struct pw_args {
    int bce;
    clgrad_reduction red;
} pw_args;

static clgrad_status pw_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    const pw_args *a = user;
    return a->bce ? clgrad_bce_with_logits(in[0], in[1], a->red, out) : clgrad_mse_loss(in[0], in[1], a->red, out);
}

START_TEST(mse_and_bce)
{
    gs_style(_i);
    int64_t s[2] = {7, 11};
    const size_t n = 77;
    for (int bce = 0; bce < 2; bce++)
        for (int r = 0; r < 3; r++) {
            float *hx = NULL, *ht = NULL;
            clgrad_tensor *in[2] = {gs_rand(2, s, 3 + (uint64_t)r, -2.0f, 2.0f, &hx),
                                    gs_rand(2, s, 9 + (uint64_t)r, 0.0f, 1.0f, &ht)};
            TH_OK(clgrad_tensor_set_requires_grad(in[0], 1));
            TH_OK(clgrad_tensor_set_requires_grad(in[1], 1));
            clgrad_reduction red = (clgrad_reduction)r;
            ref_reduction rr = red == CLGRAD_REDUCTION_MEAN ? REF_REDUCTION_MEAN
                               : red == CLGRAD_REDUCTION_SUM ? REF_REDUCTION_SUM : REF_REDUCTION_NONE;
            size_t ny = red == CLGRAD_REDUCTION_NONE ? n : 1;
            float want[77], dy[77], dx[77], dt[77];
            th_fill_uniform(dy, ny, 21, -1.0f, 1.0f);
            if (bce) {
                ref_bce_with_logits_forward(n, hx, ht, rr, want);
                ref_bce_with_logits_backward(n, hx, ht, rr, dy, dx, dt);
            } else {
                ref_mse_loss_forward(n, hx, ht, rr, want);
                ref_mse_loss_backward(n, hx, ht, rr, dy, dx, dt);
            }
            pw_args a = {bce, red};
            char what[64];
            snprintf(what, sizeof what, "%s %s reduction %d", gs_style_name(_i), bce ? "bce" : "mse", r);
            const float *wd[2] = {dx, dt};
            gs_check_op(what, pw_op, &a, 2, in, want, dy, wd, 1e-5, 1e-4);
            free(hx), free(ht);
            clgrad_tensor_release(in[0]);
            clgrad_tensor_release(in[1]);
        }
}
END_TEST

/* --- normalisation ----------------------------------------------------------------------------- */

typedef struct bn_args {
    int training;
    clgrad_tensor *rm, *rv;
} bn_args;

static clgrad_status bn_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    const bn_args *a = user;
    return clgrad_batch_norm(in[0], in[1], in[2], a->rm, a->rv, a->training, 0.1f, 1e-5f, out);
}

START_TEST(batch_norm_train_and_eval)
{
    gs_style(_i);
    /* 3 x 50 values per channel: three statistics chunks of 64 */
    const int64_t N = 3, C = 4, S = 50, sx[3] = {3, 4, 50}, sc[1] = {4};
    const size_t n = (size_t)(N * C * S);
    for (int training = 1; training >= 0; training--) {
        float *hx = NULL, *hw = NULL, *hb = NULL, *hm = NULL, *hv = NULL;
        clgrad_tensor *in[3] = {gs_rand(3, sx, 1, -2.0f, 2.0f, &hx), gs_rand(1, sc, 2, 0.5f, 1.5f, &hw),
                                gs_rand(1, sc, 3, -0.5f, 0.5f, &hb)};
        bn_args a = {training, gs_rand(1, sc, 4, -0.2f, 0.2f, &hm), gs_rand(1, sc, 5, 0.5f, 1.5f, &hv)};
        for (int i = 0; i < 3; i++) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1));
        float *y = malloc(n * sizeof *y), *dy = malloc(n * sizeof *dy), *dx = malloc(n * sizeof *dx);
        float dw[4], db[4], rm[4], rv[4];
        memcpy(rm, hm, sizeof rm), memcpy(rv, hv, sizeof rv);
        th_fill_uniform(dy, n, 7, -1.0f, 1.0f);
        if (training) {
            ref_batch_norm_train_forward((size_t)N, (size_t)C, (size_t)S, hx, hw, hb, 1e-5f, 0.1f, rm, rv, y, NULL,
                                         NULL);
            ref_batch_norm_train_backward((size_t)N, (size_t)C, (size_t)S, hx, hw, 1e-5f, dy, dx, dw, db);
        } else {
            ref_batch_norm_eval_forward((size_t)N, (size_t)C, (size_t)S, hx, hw, hb, hm, hv, 1e-5f, y);
            ref_batch_norm_eval_backward((size_t)N, (size_t)C, (size_t)S, hx, hw, hm, hv, 1e-5f, dy, dx, dw, db);
        }
        char what[64];
        snprintf(what, sizeof what, "%s batch_norm training %d", gs_style_name(_i), training);
        const float *wd[3] = {dx, dw, db};
        gs_check_op(what, bn_op, &a, 3, in, y, dy, wd, 1e-4, 1e-3);
        if (training) {
            float got[4];
            TH_OK(clgrad_tensor_read(a.rm, got, sizeof got));
            th_allclose("running mean", got, rm, 4, 1e-5, 1e-4);
            TH_OK(clgrad_tensor_read(a.rv, got, sizeof got));
            th_allclose("running var", got, rv, 4, 1e-5, 1e-4);
        }
        free(y), free(dy), free(dx), free(hx), free(hw), free(hb), free(hm), free(hv);
        for (int i = 0; i < 3; i++) clgrad_tensor_release(in[i]);
        clgrad_tensor_release(a.rm);
        clgrad_tensor_release(a.rv);
    }
}
END_TEST

static clgrad_status ln_op(clgrad_tensor **in, void *user, clgrad_tensor **out)
{
    (void)user;
    return clgrad_layer_norm(in[0], 2, in[1], in[2], 1e-5f, out);
}

START_TEST(layer_norm_rows)
{
    gs_style(_i);
    /* rows of 5 x 30 = 150 values: three chunks */
    const int64_t sx[3] = {3, 5, 30}, sw[2] = {5, 30};
    const size_t outer = 3, inner = 150, n = outer * inner;
    float *hx = NULL, *hw = NULL, *hb = NULL;
    clgrad_tensor *in[3] = {gs_rand(3, sx, 1, -2.0f, 2.0f, &hx), gs_rand(2, sw, 2, 0.5f, 1.5f, &hw),
                            gs_rand(2, sw, 3, -0.5f, 0.5f, &hb)};
    for (int i = 0; i < 3; i++) TH_OK(clgrad_tensor_set_requires_grad(in[i], 1));
    float *y = malloc(n * sizeof *y), *dy = malloc(n * sizeof *dy), *dx = malloc(n * sizeof *dx);
    float *dw = malloc(inner * sizeof *dw), *db = malloc(inner * sizeof *db);
    th_fill_uniform(dy, n, 9, -1.0f, 1.0f);
    ref_layer_norm_forward(outer, inner, hx, hw, hb, 1e-5f, y, NULL, NULL);
    ref_layer_norm_backward(outer, inner, hx, hw, 1e-5f, dy, dx, dw, db);
    const float *wd[3] = {dx, dw, db};
    char what[64];
    snprintf(what, sizeof what, "%s layer_norm", gs_style_name(_i));
    gs_check_op(what, ln_op, NULL, 3, in, y, dy, wd, 1e-4, 1e-3);
    free(y), free(dy), free(dx), free(dw), free(db), free(hx), free(hw), free(hb);
    for (int i = 0; i < 3; i++) clgrad_tensor_release(in[i]);
}
END_TEST

static Suite *suite_gs_reduce(void)
{
    Suite *s = suite_create("gs_reduce");
    TCase *t = tcase_create("reduce");
    tcase_add_checked_fixture(t, th_setup, th_teardown);
    tcase_set_timeout(t, 600);
    tcase_add_loop_test(t, reductions_every_kernel, 0, GS_N_STYLES);
    tcase_add_loop_test(t, argmax_every_kernel, 0, GS_N_STYLES);
    tcase_add_loop_test(t, softmax_rows_and_columns, 0, GS_N_STYLES);
    tcase_add_loop_test(t, cross_entropy_and_nll, 0, GS_N_STYLES);
    tcase_add_loop_test(t, mse_and_bce, 0, GS_N_STYLES);
    tcase_add_loop_test(t, batch_norm_train_and_eval, 0, GS_N_STYLES);
    tcase_add_loop_test(t, layer_norm_rows, 0, GS_N_STYLES);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return th_run(suite_gs_reduce(), 1); }
