/* Recurrent layers (RNN tanh/relu, LSTM, GRU): parameter names, shapes and initialisation,
 * forward results against the plain-C reference cells (ref_rnn_forward; multi-layer,
 * batch_first both ways, given and zero initial states, unbatched input), error paths, and
 * an LSTM learning to add two numbers marked in a sequence. */
#include "harness.h"
#include "ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- the reference ------------------------------------------------------------------------ */

typedef struct ref_cfg {
    clgrad_rnn_kind kind;
    int I, H, L, bias, batch_first;
} ref_cfg;

static ref_rnn_kind ref_kind(clgrad_rnn_kind k)
{
    switch (k) {
    case CLGRAD_RNN_RELU: return REF_RNN_RELU;
    case CLGRAD_LSTM: return REF_RNN_LSTM;
    case CLGRAD_GRU: return REF_RNN_GRU;
    default: return REF_RNN_TANH;
    }
}

/* x in the module's layout ((T, B, I) or (B, T, I)); h0/c0 (L, B, H) or NULL. Writes out
 * in the module's layout (T*B*H), hn and cn (L*B*H): ref_rnn_forward layer after layer, with
 * the module's own weights. */
static void ref_forward(clgrad_module *m, const ref_cfg *c, int T, int B, const float *x, const float *h0,
                        const float *c0, float *out, float *hn, float *cn)
{
    int H = c->H;
    size_t lbh = (size_t)B * H;
    float *in = malloc(sizeof(float) * (size_t)T * B * (c->I > H ? c->I : H));
    float *nxt = malloc(sizeof(float) * (size_t)T * B * H);
    /* time-major: in[(t * B + b) * I_l + k] */
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            for (int k = 0; k < c->I; k++)
                in[((size_t)t * B + b) * c->I + k] =
                    x[c->batch_first ? ((size_t)b * T + t) * c->I + k : ((size_t)t * B + b) * c->I + k];
    for (int l = 0; l < c->L; l++) {
        char name[4][64];
        float *w[4] = {NULL, NULL, NULL, NULL}; /* weight_ih, weight_hh, bias_ih, bias_hh */
        const char *fmt[4] = {"weight_ih_l%d", "weight_hh_l%d", "bias_ih_l%d", "bias_hh_l%d"};
        for (int k = 0; k < (c->bias ? 4 : 2); k++) {
            snprintf(name[k], sizeof name[k], fmt[k], l);
            w[k] = th_read_module_tensor(m, name[k]);
        }
        ref_rnn_forward(ref_kind(c->kind), T, B, l == 0 ? c->I : H, H, in, w[0], w[1], w[2], w[3],
                        h0 ? h0 + l * lbh : NULL, c0 ? c0 + l * lbh : NULL, nxt, hn + l * lbh, cn + l * lbh);
        memcpy(in, nxt, sizeof(float) * (size_t)T * B * H);
        for (int k = 0; k < 4; k++) free(w[k]);
    }
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++)
                out[c->batch_first ? ((size_t)b * T + t) * H + j : ((size_t)t * B + b) * H + j] =
                    in[((size_t)t * B + b) * H + j];
    free(in);
    free(nxt);
}

/* Builds a module, runs it with and without initial states and checks all results. */
static void check_forward(ref_cfg c, int T, int B, int with_state, int noncontig)
{
    char what[128];
    snprintf(what, sizeof what, "kind %d L%d bias %d bf %d state %d nc %d T%d B%d", (int)c.kind, c.L, c.bias,
             c.batch_first, with_state, noncontig, T, B);
    clgrad_module *m = NULL;
    TH_OK(clgrad_rnn_create(th_ctx, c.kind, c.I, c.H, c.L, c.bias, c.batch_first, 77, &m));
    int64_t xs[3] = {c.batch_first ? B : T, c.batch_first ? T : B, c.I}, ss[3] = {c.L, B, c.H};
    clgrad_tensor *x = th_rand(3, xs, 11, -1.5f, 1.5f), *h0 = NULL, *c0 = NULL;
    if (noncontig) {
        th_make_noncontig(&x);
    }
    if (with_state) {
        h0 = th_rand(3, ss, 12, -1.0f, 1.0f);
        if (c.kind == CLGRAD_LSTM) c0 = th_rand(3, ss, 13, -1.0f, 1.0f);
    }
    clgrad_tensor *out = NULL, *hn = NULL, *cn = NULL;
    TH_OK(clgrad_rnn_forward(m, x, h0, c0, &out, &hn, &cn));
    int64_t os[3];
    clgrad_tensor_shape(out, os);
    ck_assert_int_eq(clgrad_tensor_ndim(out), 3);
    ck_assert(os[0] == xs[0] && os[1] == xs[1] && os[2] == c.H);
    int64_t hs[3];
    clgrad_tensor_shape(hn, hs);
    ck_assert(clgrad_tensor_ndim(hn) == 3 && hs[0] == c.L && hs[1] == B && hs[2] == c.H);
    ck_assert(c.kind == CLGRAD_LSTM ? cn != NULL : cn == NULL);

    size_t no = (size_t)T * B * c.H, ns = (size_t)c.L * B * c.H;
    float *xv = th_read(x), *h0v = h0 ? th_read(h0) : NULL, *c0v = c0 ? th_read(c0) : NULL;
    float *ro = malloc(no * sizeof *ro), *rh = malloc(ns * sizeof *rh), *rc = malloc(ns * sizeof *rc);
    ref_forward(m, &c, T, B, xv, h0v, c0v, ro, rh, rc);
    float *go = th_read(out), *gh = th_read(hn);
    double tol = 2e-5 * sqrt((double)(c.I + c.H)) * (c.kind == CLGRAD_RNN_RELU ? 4 : 1) + 1e-5;
    th_allclose(what, go, ro, no, tol, tol);
    th_allclose(what, gh, rh, ns, tol, tol);
    free(go);
    free(gh);
    if (cn) {
        float *gc = th_read(cn);
        th_allclose(what, gc, rc, ns, tol, tol);
        free(gc);
    }

    /* clgrad_module_forward gives the same output sequence (zero states) */
    if (!with_state) {
        clgrad_tensor *o2 = NULL;
        TH_OK(clgrad_module_forward(m, x, &o2));
        float *a = th_read(o2), *b = th_read(out);
        th_allclose(what, a, b, no, 0, 0);
        free(a);
        free(b);
        clgrad_tensor_release(o2);
    }
    free(xv);
    free(h0v);
    free(c0v);
    free(ro);
    free(rh);
    free(rc);
    clgrad_tensor_release(out);
    clgrad_tensor_release(hn);
    clgrad_tensor_release(cn);
    clgrad_tensor_release(x);
    clgrad_tensor_release(h0);
    clgrad_tensor_release(c0);
    clgrad_module_release(m);
}

static const clgrad_rnn_kind KINDS[4] = {CLGRAD_RNN_TANH, CLGRAD_RNN_RELU, CLGRAD_LSTM, CLGRAD_GRU};

START_TEST(forward_matches_reference)
{
    clgrad_rnn_kind k = KINDS[_i];
    check_forward((ref_cfg){k, 5, 7, 1, 1, 0}, 6, 3, 0, 0);
    check_forward((ref_cfg){k, 5, 7, 2, 1, 0}, 4, 3, 1, 0);
    check_forward((ref_cfg){k, 5, 7, 2, 1, 1}, 4, 3, 1, 1);
    check_forward((ref_cfg){k, 3, 4, 3, 0, 1}, 5, 2, 0, 0);
    check_forward((ref_cfg){k, 1, 1, 1, 1, 0}, 1, 1, 1, 0);
    check_forward((ref_cfg){k, 13, 17, 2, 1, 1}, 9, 5, 0, 0);
}
END_TEST

START_TEST(unbatched_input)
{
    clgrad_module *m = NULL;
    TH_OK(clgrad_rnn_create(th_ctx, CLGRAD_LSTM, 3, 4, 2, 1, 1, 5, &m));
    int64_t xs2[2] = {5, 3}, xs3[3] = {1, 5, 3}, s2[2] = {2, 4}, s3[3] = {2, 1, 4};
    float *xv = malloc(15 * sizeof *xv), *hv = malloc(8 * sizeof *hv);
    th_fill_uniform(xv, 15, 3, -1, 1);
    th_fill_uniform(hv, 8, 4, -1, 1);
    clgrad_tensor *x2 = th_tensor(2, xs2, xv), *x3 = th_tensor(3, xs3, xv);
    clgrad_tensor *h2 = th_tensor(2, s2, hv), *h3 = th_tensor(3, s3, hv);
    clgrad_tensor *o2 = NULL, *o3 = NULL, *hn2 = NULL, *hn3 = NULL, *cn2 = NULL, *cn3 = NULL;
    TH_OK(clgrad_rnn_forward(m, x2, h2, h2, &o2, &hn2, &cn2));
    TH_OK(clgrad_rnn_forward(m, x3, h3, h3, &o3, &hn3, &cn3));
    ck_assert_int_eq(clgrad_tensor_ndim(o2), 2);
    ck_assert_int_eq(clgrad_tensor_ndim(hn2), 2);
    ck_assert_int_eq(clgrad_tensor_ndim(cn2), 2);
    clgrad_tensor *a[3] = {o2, hn2, cn2}, *b[3] = {o3, hn3, cn3};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(clgrad_tensor_numel(a[i]), clgrad_tensor_numel(b[i]));
        float *va = th_read(a[i]), *vb = th_read(b[i]);
        th_allclose("unbatched", va, vb, (size_t)clgrad_tensor_numel(a[i]), 0, 0);
        free(va);
        free(vb);
        clgrad_tensor_release(a[i]);
        clgrad_tensor_release(b[i]);
    }
    free(xv);
    free(hv);
    clgrad_tensor_release(x2);
    clgrad_tensor_release(x3);
    clgrad_tensor_release(h2);
    clgrad_tensor_release(h3);
    clgrad_module_release(m);
}
END_TEST

START_TEST(parameters_as_pytorch)
{
    const char *kinds[4] = {"rnn", "rnn", "lstm", "gru"};
    clgrad_rnn_kind k = KINDS[_i];
    int64_t I = 5, H = 16;
    int G = ref_rnn_gates(ref_kind(k));
    clgrad_module *m = NULL;
    TH_OK(clgrad_rnn_create(th_ctx, k, I, H, 2, 1, 0, 9, &m));
    ck_assert_str_eq(clgrad_module_kind(m), kinds[_i]);
    ck_assert_int_eq(clgrad_module_param_count(m), 8);
    const char *names[8] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                            "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"};
    int64_t rows[8] = {G * H, G * H, G * H, G * H, G * H, G * H, G * H, G * H};
    int64_t cols[8] = {I, H, 0, 0, H, H, 0, 0};
    double bound = 1.0 / sqrt((double)H);
    float first[8];
    for (int i = 0; i < 8; i++) {
        const char *nm = NULL;
        clgrad_tensor *p = clgrad_module_param(m, i, &nm);
        ck_assert_str_eq(nm, names[i]);
        ck_assert(clgrad_tensor_requires_grad(p));
        ck_assert_int_eq(clgrad_tensor_ndim(p), cols[i] ? 2 : 1);
        ck_assert_int_eq(clgrad_tensor_dim(p, 0), rows[i]);
        if (cols[i]) ck_assert_int_eq(clgrad_tensor_dim(p, 1), cols[i]);
        size_t n = (size_t)clgrad_tensor_numel(p);
        float *v = th_read(p);
        double mean = 0, lo = 1, hi = -1;
        for (size_t j = 0; j < n; j++) {
            ck_assert_msg(fabs(v[j]) <= bound, "%s[%zu] = %g outside +-%g", nm, j, v[j], bound);
            mean += v[j];
            lo = v[j] < lo ? v[j] : lo;
            hi = v[j] > hi ? v[j] : hi;
        }
        mean /= (double)n;
        /* the mean of n uniforms has std bound / sqrt(3 n) */
        ck_assert_msg(fabs(mean) < 4 * bound / sqrt(3.0 * (double)n) && hi - lo > 1.5 * bound,
                      "%s does not look uniform (mean %g, range %g)", nm, mean, hi - lo);
        first[i] = v[0];
        free(v);
    }
    for (int i = 1; i < 8; i++) ck_assert_msg(first[i] != first[0], "parameters share a random stream");
    clgrad_module_release(m);

    /* same seed, same weights; no bias, no bias parameters */
    clgrad_module *a = NULL, *b = NULL;
    TH_OK(clgrad_rnn_create(th_ctx, k, I, H, 1, 0, 0, 3, &a));
    TH_OK(clgrad_rnn_create(th_ctx, k, I, H, 1, 0, 1, 3, &b));
    ck_assert_int_eq(clgrad_module_param_count(a), 2);
    for (int i = 0; i < 2; i++) {
        clgrad_tensor *pa = clgrad_module_param(a, i, NULL), *pb = clgrad_module_param(b, i, NULL);
        float *va = th_read(pa), *vb = th_read(pb);
        th_allclose("same seed", va, vb, (size_t)clgrad_tensor_numel(pa), 0, 0);
        free(va);
        free(vb);
    }
    clgrad_module_release(a);
    clgrad_module_release(b);
}
END_TEST

START_TEST(errors)
{
    clgrad_module *m = NULL, *g = NULL, *lin = NULL;
    clgrad_tensor *out = NULL, *hn = NULL, *cn = NULL;
    ck_assert_int_eq(clgrad_rnn_create(th_ctx, (clgrad_rnn_kind)9, 3, 4, 1, 1, 0, 1, &m), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_rnn_create(th_ctx, CLGRAD_LSTM, 0, 4, 1, 1, 0, 1, &m), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_rnn_create(th_ctx, CLGRAD_LSTM, 3, 4, 0, 1, 0, 1, &m), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_rnn_create(NULL, CLGRAD_LSTM, 3, 4, 1, 1, 0, 1, &m), CLGRAD_ERR_INVALID_ARG);
    ck_assert(m == NULL);
    TH_OK(clgrad_rnn_create(th_ctx, CLGRAD_LSTM, 3, 4, 2, 1, 0, 1, &m));
    TH_OK(clgrad_rnn_create(th_ctx, CLGRAD_GRU, 3, 4, 2, 1, 0, 1, &g));
    TH_OK(clgrad_linear_create(th_ctx, 3, 4, 1, 1, &lin));
    int64_t xs[3] = {5, 2, 3}, bad[3] = {5, 2, 4}, hs[3] = {2, 2, 4}, hbad[3] = {1, 2, 4};
    clgrad_tensor *x = th_rand(3, xs, 1, -1, 1), *xb = th_rand(3, bad, 1, -1, 1);
    clgrad_tensor *h = th_rand(3, hs, 2, -1, 1), *hb = th_rand(3, hbad, 2, -1, 1);

    ck_assert_int_eq(clgrad_rnn_forward(m, xb, NULL, NULL, &out, &hn, &cn), CLGRAD_ERR_SHAPE);
    ck_assert(out == NULL && hn == NULL && cn == NULL);
    ck_assert_msg(strstr(clgrad_last_error(th_ctx), "[5, 2, 4]") != NULL, "%s", clgrad_last_error(th_ctx));
    ck_assert_int_eq(clgrad_module_forward(m, xb, &out), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_rnn_forward(m, x, hb, NULL, &out, &hn, &cn), CLGRAD_ERR_SHAPE);
    ck_assert_msg(strstr(clgrad_last_error(th_ctx), "[1, 2, 4]") != NULL &&
                      strstr(clgrad_last_error(th_ctx), "[2, 2, 4]") != NULL,
                  "%s", clgrad_last_error(th_ctx));
    ck_assert_int_eq(clgrad_rnn_forward(m, x, h, hb, &out, &hn, &cn), CLGRAD_ERR_SHAPE);
    ck_assert_int_eq(clgrad_rnn_forward(g, x, h, h, &out, &hn, &cn), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_rnn_forward(lin, x, NULL, NULL, &out, NULL, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_rnn_forward(NULL, x, NULL, NULL, &out, NULL, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_rnn_forward(m, NULL, NULL, NULL, &out, NULL, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_rnn_forward(m, x, NULL, NULL, NULL, NULL, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert(out == NULL);

    /* a GRU hands back no c_n; h_n and c_n are optional */
    TH_OK(clgrad_rnn_forward(g, x, h, NULL, &out, &hn, &cn));
    ck_assert(cn == NULL && hn != NULL);
    clgrad_tensor_release(out);
    clgrad_tensor_release(hn);
    TH_OK(clgrad_rnn_forward(m, x, NULL, NULL, &out, NULL, NULL));
    clgrad_tensor_release(out);

    clgrad_tensor_release(x);
    clgrad_tensor_release(xb);
    clgrad_tensor_release(h);
    clgrad_tensor_release(hb);
    clgrad_module_release(m);
    clgrad_module_release(g);
    clgrad_module_release(lin);
}
END_TEST

/* --- learning: the adding problem ------------------------------------------------------------
 * Each sequence is T pairs (value in [0, 1), marker); exactly two markers are 1 and the
 * target is the sum of the two marked values. Predicting the mean gives MSE 1/6; the LSTM
 * must get well below that. */

static void make_batch(int T, int B, unsigned *seed, float *x, float *y)
{
    for (int b = 0; b < B; b++) {
        int p = rand_r(seed) % T, q = rand_r(seed) % (T - 1);
        if (q >= p) q++;
        y[b] = 0;
        for (int t = 0; t < T; t++) {
            float v = (float)rand_r(seed) / ((float)RAND_MAX + 1.0f);
            float *e = x + ((size_t)b * T + t) * 2;
            e[0] = v;
            e[1] = (t == p || t == q) ? 1.0f : 0.0f;
            if (t == p || t == q) y[b] += v;
        }
    }
}

/* Adam on one parameter with public ops (no grad): m, v are the moment estimates. */
static void adam_step(clgrad_tensor *p, clgrad_tensor *m, clgrad_tensor *v, int step, float lr)
{
    clgrad_tensor *g = clgrad_tensor_grad(p);
    if (!g) return;
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    clgrad_tensor *t1 = NULL, *t2 = NULL, *m2 = NULL, *v2 = NULL, *gg = NULL, *den = NULL, *upd = NULL, *p2 = NULL;
    TH_OK(clgrad_mul_scalar(m, b1, &t1));
    TH_OK(clgrad_mul_scalar(g, 1 - b1, &t2));
    TH_OK(clgrad_add(t1, t2, &m2));
    clgrad_tensor_release(t1);
    clgrad_tensor_release(t2);
    TH_OK(clgrad_mul(g, g, &gg));
    TH_OK(clgrad_mul_scalar(v, b2, &t1));
    TH_OK(clgrad_mul_scalar(gg, 1 - b2, &t2));
    TH_OK(clgrad_add(t1, t2, &v2));
    clgrad_tensor_release(t1);
    clgrad_tensor_release(t2);
    double c1 = 1 - pow(b1, step), c2 = 1 - pow(b2, step);
    TH_OK(clgrad_mul_scalar(v2, (float)(1.0 / c2), &t1));
    TH_OK(clgrad_sqrt(t1, &t2));
    TH_OK(clgrad_add_scalar(t2, eps, &den));
    clgrad_tensor_release(t1);
    clgrad_tensor_release(t2);
    TH_OK(clgrad_div(m2, den, &t1));
    TH_OK(clgrad_mul_scalar(t1, (float)(-lr / c1), &upd));
    TH_OK(clgrad_add(p, upd, &p2));
    TH_OK(clgrad_copy_(p, p2));
    TH_OK(clgrad_copy_(m, m2));
    TH_OK(clgrad_copy_(v, v2));
    clgrad_tensor *all[] = {t1, m2, v2, gg, den, upd, p2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clgrad_tensor_release(all[i]);
}

START_TEST(lstm_learns_to_add)
{
    enum { T = 8, B = 32, H = 24, MAX_STEPS = 1500 };
    clgrad_module *lstm = NULL, *head = NULL;
    TH_OK(clgrad_rnn_create(th_ctx, CLGRAD_LSTM, 2, H, 1, 1, 1, 2024, &lstm));
    TH_OK(clgrad_linear_create(th_ctx, H, 1, 1, 7, &head));
    clgrad_tensor *params[8], *mom[8], *vel[8];
    int np = 0;
    clgrad_module *mods[2] = {lstm, head};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < clgrad_module_param_count(mods[k]); i++) {
            clgrad_tensor *p = clgrad_module_param(mods[k], i, NULL);
            int64_t sh[CLGRAD_MAX_DIMS];
            clgrad_tensor_shape(p, sh);
            params[np] = p;
            TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, clgrad_tensor_ndim(p), sh, &mom[np]));
            TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_F32, clgrad_tensor_ndim(p), sh, &vel[np]));
            np++;
        }
    unsigned seed = 12345;
    float xv[B * T * 2], yv[B];
    int64_t xs[3] = {B, T, 2}, ys[2] = {B, 1}, hs[2] = {B, H};
    double avg = -1, first = -1;
    int step = 0;
    time_t start = time(NULL);
    for (step = 1; step <= MAX_STEPS; step++) {
        make_batch(T, B, &seed, xv, yv);
        clgrad_tensor *x = th_tensor(3, xs, xv), *y = th_tensor(2, ys, yv);
        clgrad_tensor *out = NULL, *hn = NULL, *last = NULL, *pred = NULL, *loss = NULL;
        TH_OK(clgrad_rnn_forward(lstm, x, NULL, NULL, &out, &hn, NULL));
        TH_OK(clgrad_reshape(hn, 2, hs, &last));
        TH_OK(clgrad_module_forward(head, last, &pred));
        TH_OK(clgrad_mse_loss(pred, y, CLGRAD_REDUCTION_MEAN, &loss));
        clgrad_module_zero_grad(lstm);
        clgrad_module_zero_grad(head);
        TH_OK(clgrad_backward(loss));
        float lv;
        TH_OK(clgrad_tensor_item(loss, &lv));
        clgrad_no_grad_begin(th_ctx);
        for (int i = 0; i < np; i++) adam_step(params[i], mom[i], vel[i], step, 1e-2f);
        clgrad_no_grad_end(th_ctx);
        clgrad_tensor *rel[] = {x, y, out, hn, last, pred, loss};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) clgrad_tensor_release(rel[i]);
        avg = avg < 0 ? lv : 0.95 * avg + 0.05 * lv;
        if (step == 1) first = lv;
        if (step >= 50 && avg < 0.01) break;
        if (difftime(time(NULL), start) > 40) break;
    }
    fprintf(stderr, "adding problem: first loss %.4f, running mean %.5f after %d steps, %.0f s\n", first, avg,
            step, difftime(time(NULL), start));
    ck_assert_msg(avg < 0.01, "loss running mean %.5f after %d steps (first %.4f)", avg, step, first);
    for (int i = 0; i < np; i++) {
        clgrad_tensor_release(mom[i]);
        clgrad_tensor_release(vel[i]);
    }
    clgrad_module_release(lstm);
    clgrad_module_release(head);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nn_rnn");
    TCase *tc = tcase_create("rnn");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, forward_matches_reference, 0, 4);
    tcase_add_test(tc, unbatched_input);
    tcase_add_loop_test(tc, parameters_as_pytorch, 0, 4);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, lstm_learns_to_add);
    suite_add_tcase(s, tc);
    return th_run(s, 1);
}
