/* The convolution stage of the tuner: the paths for one input channel, the row kernels,
 * the work-group width and the image chunks, searched on the reference CNN's layers, each
 * candidate first checked against a double reference of small layers. */
#include "ops/conv.h"
#include "ops/tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct conv_layer {
    const char *name;
    clgrad__conv_geom g;
    int input_grad;
    clgrad_tensor *x, *w, *b, *gy;
} conv_layer;

static clgrad_status conv_layer_make(clgrad_context *ctx, conv_layer *L, uint64_t seed)
{
    const clgrad__conv_geom *g = &L->g;
    int64_t sx[4] = {g->n, g->c_in, g->h, g->w}, sw[4] = {g->c_out, g->c_in / g->groups, g->kh, g->kw};
    int64_t sb[1] = {g->c_out}, sy[4] = {g->n, g->c_out, g->ho, g->wo};
    clgrad_status st = clgrad_tensor_uniform(ctx, 4, sx, seed, -1, 1, &L->x);
    if (st == CLGRAD_OK) st = clgrad_tensor_uniform(ctx, 4, sw, seed + 1, -0.5f, 0.5f, &L->w);
    if (st == CLGRAD_OK) st = clgrad_tensor_uniform(ctx, 1, sb, seed + 2, -0.5f, 0.5f, &L->b);
    if (st == CLGRAD_OK) st = clgrad_tensor_uniform(ctx, 4, sy, seed + 3, -1, 1, &L->gy);
    return st;
}

static void conv_layer_free(conv_layer *L)
{
    clgrad_tensor_release(L->x), clgrad_tensor_release(L->w), clgrad_tensor_release(L->b);
    clgrad_tensor_release(L->gy);
    L->x = L->w = L->b = L->gy = NULL;
}

static clgrad__conv_geom conv3x3(int n, int cin, int cout, int h, int w)
{
    clgrad__conv_geom g = {.n = n, .c_in = cin, .h = h, .w = w, .c_out = cout, .kh = 3, .kw = 3, .ho = h, .wo = w,
                           .sh = 1, .sw = 1, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .groups = 1};
    return g;
}

static clgrad_status conv_work(clgrad__tuner *T, void *arg)
{
    conv_layer *L = arg;
    clgrad_tensor *gx[3];
    clgrad_status st = clgrad__conv2d_step(&L->g, L->x, L->w, L->b, L->gy, L->input_grad, gx);
    (void)T;
    for (int i = 0; i < 3; i++) clgrad_tensor_release(gx[i]);
    return st;
}

static float *read_all(const clgrad_tensor *t)
{
    int64_t n = clgrad_tensor_numel(t);
    float *h = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (h && clgrad_tensor_read(t, h, (size_t)n * sizeof(float)) != CLGRAD_OK) {
        free(h);
        return NULL;
    }
    return h;
}

/* One layer's step against a double reference of the 3x3, stride 1, padding 1 product. */
static int conv_check_layer(clgrad__tuner *T, conv_layer *L)
{
    const clgrad__conv_geom *g = &L->g;
    clgrad_tensor *gx[3] = {NULL, NULL, NULL};
    float *x = read_all(L->x), *w = read_all(L->w), *b = read_all(L->b), *gy = read_all(L->gy);
    float *y = NULL, *dx = NULL, *dw = NULL, *db = NULL;
    int N = g->n, C = g->c_in, K = g->c_out, H = g->h, W = g->w, ok = x && w && b && gy;
    size_t nx = (size_t)N * C * H * W, nw = (size_t)K * C * 9, ny = (size_t)N * K * H * W, all = nx + nw + K + ny;
    double *want = calloc(all, sizeof(double)), *scale = calloc(all, sizeof(double));
    int64_t sy[4] = {N, K, H, W};
    clgrad_tensor *yt = NULL;
    ok = ok && want && scale && clgrad__conv2d_step(g, L->x, L->w, L->b, L->gy, 1, gx) == CLGRAD_OK &&
         clgrad__tensor_new(T->ctx, CLGRAD_DTYPE_F32, 4, sy, &yt) == CLGRAD_OK &&
         clgrad__conv_forward(T->ctx, g, L->x, L->w, L->b, yt) == CLGRAD_OK;
    if (ok) {
        dx = read_all(gx[0]), dw = read_all(gx[1]), db = read_all(gx[2]), y = read_all(yt);
        ok = dx && dw && db && y;
    }
    if (ok) {
        double *rdx = want, *rdw = want + nx, *rdb = want + nx + nw, *ry = want + nx + nw + K;
        double *sdx = scale, *sdw = scale + nx, *sdb = scale + nx + nw, *sy_ = scale + nx + nw + K;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++)
                for (int oh = 0; oh < H; oh++)
                    for (int ow = 0; ow < W; ow++) {
                        size_t yi = (((size_t)n * K + k) * H + oh) * W + ow;
                        double d = gy[yi];
                        rdb[k] += d, sdb[k] += fabs(d);
                        ry[yi] += b[k], sy_[yi] += fabs(b[k]);
                        for (int c = 0; c < C; c++)
                            for (int i = 0; i < 3; i++)
                                for (int j = 0; j < 3; j++) {
                                    int ih = oh - 1 + i, iw = ow - 1 + j;
                                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                    size_t xi = (((size_t)n * C + c) * H + ih) * W + iw;
                                    size_t wi = (((size_t)k * C + c) * 3 + i) * 3 + j;
                                    rdx[xi] += d * w[wi], sdx[xi] += fabs(d * w[wi]);
                                    rdw[wi] += d * x[xi], sdw[wi] += fabs(d * x[xi]);
                                    ry[yi] += (double)w[wi] * x[xi], sy_[yi] += fabs((double)w[wi] * x[xi]);
                                }
                    }
        ok = clgrad__tune_close_to(dx, rdx, sdx, nx) && clgrad__tune_close_to(dw, rdw, sdw, nw) &&
             clgrad__tune_close_to(db, rdb, sdb, (size_t)K) &&
             clgrad__tune_close_to(y, ry, sy_, ny);
    }
    clgrad_tensor_release(yt);
    for (int i = 0; i < 3; i++) clgrad_tensor_release(gx[i]);
    free(x), free(w), free(b), free(gy), free(y), free(dx), free(dw), free(db), free(want), free(scale);
    (void)T;
    return ok;
}

/* Small layers on both paths (one input channel, several), forward and backward. */
static int conv_check(clgrad__tuner *T)
{
    conv_layer L[2] = {{"c1", conv3x3(2, 1, 3, 6, 7), 1, NULL, NULL, NULL, NULL},
                       {"c3", conv3x3(3, 3, 4, 5, 9), 1, NULL, NULL, NULL, NULL}};
    int ok = 1;
    T->checked++;
    for (int i = 0; ok && i < 2; i++) {
        ok = conv_layer_make(T->ctx, &L[i], 100 + (uint64_t)i) == CLGRAD_OK && conv_check_layer(T, &L[i]);
        conv_layer_free(&L[i]);
    }
    if (!ok) T->rejected++;
    return ok;
}

/* The reference CNN's two convolutions at batch 64: 1 -> 32 on 28x28 (no input gradient:
 * a first layer) and 32 -> 64 on 14x14. */
static int conv_layers(clgrad__tuner *T, conv_layer L[2])
{
    L[0] = (conv_layer){"conv 1->32 3x3 28x28 b64", conv3x3(64, 1, 32, 28, 28), 0, NULL, NULL, NULL, NULL};
    L[1] = (conv_layer){"conv 32->64 3x3 14x14 b64", conv3x3(64, 32, 64, 14, 14), 1, NULL, NULL, NULL, NULL};
    return conv_layer_make(T->ctx, &L[0], 1) == CLGRAD_OK && conv_layer_make(T->ctx, &L[1], 5) == CLGRAD_OK;
}

static double conv_score(clgrad__tuner *T, conv_layer L[2], const clgrad__ops_params *p, const clgrad__gemm_choice *gm,
                         double t[2])
{
    clgrad__tuned_trial(T->ctx, p, gm);
    if (!conv_check(T)) return -1.0;
    for (int i = 0; i < 2; i++)
        if ((t[i] = clgrad__tune_best_of(T, conv_work, &L[i], 2)) < 0) return -1.0;
    return t[0] + t[1];
}

static const clgrad__tune_coord conv_coords[] = {
    {"conv_direct_c1", 3, {0, 1, 2}}, {"conv_chunk_kb", 5, {0, 1024, 2048, 4096, 8192}},
    {"conv_per_image", 3, {0, 1, 2}}, {"row_kernels", 2, {0, 1}},
    {"conv_wg", 4, {32, 64, 128, 256}}};

static int *conv_coord(clgrad__ops_params *p, int i)
{
    int *f[] = {&p->conv_direct_c1, &p->conv_chunk_kb, &p->conv_per_image, &p->row_kernels, &p->conv_wg};
    return f[i];
}

/* Coordinate descent from *cur (scored *best, per layer best_t), then, budget left, jumps
 * of two coordinates at once (as for GEMM). */
static void conv_descend(clgrad__tuner *T, conv_layer L[2], const clgrad__gemm_choice *gm, clgrad__ops_params *cur,
                         double *best, double best_t[2])
{
    double t[2];
    for (int pass = 0, improved = 1; improved && pass < 2 && clgrad__tune_time_left(T); pass++) {
        improved = 0;
        for (size_t ci = 0; ci < sizeof conv_coords / sizeof conv_coords[0] && clgrad__tune_time_left(T); ci++)
            for (int vi = 0; vi < conv_coords[ci].n && clgrad__tune_time_left(T); vi++) {
                clgrad__ops_params cand = *cur;
                if (*conv_coord(&cand, (int)ci) == conv_coords[ci].v[vi]) continue;
                *conv_coord(&cand, (int)ci) = conv_coords[ci].v[vi];
                double s = conv_score(T, L, &cand, gm, t);
                clgrad__tune_progress(T);
                if (s > 0 && s < *best * (1.0 - WIN_MARGIN)) {
                    *cur = cand, *best = s, improved = 1;
                    memcpy(best_t, t, sizeof t);
                }
            }
    }
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    const int ncoord = (int)(sizeof conv_coords / sizeof conv_coords[0]);
    for (int tries = 0; tries < 32 && clgrad__tune_time_left(T); tries++) {
        clgrad__ops_params cand = *cur;
        for (int j = 0; j < 2; j++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            int ci = (int)(seed % (uint64_t)ncoord);
            *conv_coord(&cand, ci) = conv_coords[ci].v[(seed >> 16) % (uint64_t)conv_coords[ci].n];
        }
        if (!memcmp(&cand, cur, sizeof cand)) continue;
        double sc = conv_score(T, L, &cand, gm, t);
        clgrad__tune_progress(T);
        if (sc > 0 && sc < *best * (1.0 - WIN_MARGIN)) {
            *cur = cand, *best = sc;
            memcpy(best_t, t, sizeof t);
        }
    }
}

/* The comparison the user sees: table values (GEMM included) against everything tuned,
 * on the total budget. Returns 1 when the tuned values are nowhere slower. */
static int conv_confirm(clgrad__tuner *T, conv_layer L[2], const clgrad__ops_params *def,
                        const clgrad__gemm_choice *gdef, const clgrad__ops_params *cur, const clgrad__gemm_choice *gm,
                        cJSON *c)
{
    T->stage_end = T->t0 + T->budget;
    cJSON *rows = cJSON_AddArrayToObject(c, "shapes");
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        double td, tw;
        clgrad__tune_interleave(T, conv_work, &L[i], def, gdef, cur, gm, &td, &tw);
        char name[96];
        snprintf(name, sizeof name, "%s fwd+bwd", L[i].name);
        cJSON_AddItemToArray(rows, clgrad__tune_shape_row(name, td, tw));
        if (td < 0 || tw < 0 || tw > td * (1.0 + NOISE)) ok = 0;
        clgrad__tune_progress(T);
    }
    return ok;
}

void clgrad__tune_conv(clgrad__tuner *T, const clgrad__gemm_choice *gm, const clgrad__gemm_choice *gdef,
                       clgrad__ops_params *out, int *accepted, cJSON *report)
{
    clgrad__ops_params def;
    clgrad__gemm_choice unused;
    clgrad__tuned_defaults(T->ctx, &def, &unused);
    *out = def;
    *accepted = 0;
    cJSON *c = cJSON_AddObjectToObject(report, "conv");
    conv_layer L[2];
    memset(L, 0, sizeof L);
    if (!conv_layers(T, L)) {
        cJSON_AddStringToObject(c, "error", "cannot create the layers");
        goto done;
    }
    double best_t[2];
    double best = conv_score(T, L, &def, gm, best_t);
    if (best < 0) {
        cJSON_AddStringToObject(c, "error", "the table values fail their check or a run");
        goto done;
    }
    clgrad__ops_params cur = def;
    conv_descend(T, L, gm, &cur, &best, best_t);
    char s[256];
    snprintf(s, sizeof s, "direct kernels for one input channel %d (1 forward, 2 both ways), row kernels %d, "
             "work-group width %d, image chunks of %d KiB (0: the device bound), per-image backward %d",
             cur.conv_direct_c1, cur.row_kernels, cur.conv_wg, cur.conv_chunk_kb, cur.conv_per_image);
    cJSON_AddStringToObject(c, "tuned", s);
    int same = cur.conv_direct_c1 == def.conv_direct_c1 && cur.row_kernels == def.row_kernels &&
               cur.conv_wg == def.conv_wg && cur.conv_chunk_kb == def.conv_chunk_kb &&
               cur.conv_per_image == def.conv_per_image;
    if (same && gm == gdef) { /* nothing better than the table values (GEMM's included) */
        cJSON_AddBoolToObject(c, "accepted", 0);
        goto done;
    }
    int ok = conv_confirm(T, L, &def, gdef, &cur, gm, c);
    /* the stage keeps its own values only when they differ from the table's (the rows show
     * the tuned GEMM's effect on the layers either way) */
    *accepted = ok && !same;
    if (*accepted) *out = cur;
    cJSON_AddBoolToObject(c, "accepted", *accepted);
done:
    clgrad__tuned_trial_end(T->ctx);
    conv_layer_free(&L[0]);
    conv_layer_free(&L[1]);
}
