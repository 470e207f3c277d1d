/* The GEMM stage of the tuner: coordinate descent over the parameters of the variant the
 * tables choose (and a look at the other variant's table values), each candidate checked
 * on small products against a double reference before it is timed on the screening shapes;
 * a winner is compared with the table values on every shape and gives parameters back
 * until it is nowhere slower. */
#include "ops/gemm.h"
#include "ops/tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct gemm_shape {
    const char *name;
    int ta, tb;
    int64_t m, n, k;
    int screen; /* timed for every candidate (the others only in the final comparison) */
} gemm_shape;

/* Square products and the reference CNN's: its second convolution (32 -> 64 channels, 3x3,
 * 14x14, batch 64) forward, weight and column gradients, a 64x3136x576 im2col product, and
 * its 3136 -> 128 linear layer at batch 64 forward and both gradients. */
static const gemm_shape gemm_shapes[] = {
    {"256^3", 0, 0, 256, 256, 256, 0},
    {"512^3", 0, 0, 512, 512, 512, 1},
    {"1024^3", 0, 0, 1024, 1024, 1024, 1},
    {"2048^3", 0, 0, 2048, 2048, 2048, 0},
    {"im2col 64x3136x576", 0, 0, 64, 3136, 576, 1},
    {"conv2 fwd 64x12544x288", 0, 0, 64, 12544, 288, 0},
    {"conv2 dW 64x288x12544 (B^T)", 0, 1, 64, 288, 12544, 0},
    {"conv2 dcols 288x12544x64 (A^T)", 1, 0, 288, 12544, 64, 0},
    {"linear 64x128x3136 (B^T)", 0, 1, 64, 128, 3136, 1},
    {"linear dW 128x3136x64 (A^T)", 1, 0, 128, 3136, 64, 0},
    {"linear dX 64x3136x128", 0, 0, 64, 3136, 128, 0},
};
#define N_GEMM_SHAPES ((int)(sizeof gemm_shapes / sizeof gemm_shapes[0]))

typedef struct gemm_bench {
    clgrad__buffer *a, *b, *c;
    const gemm_shape *shape;
} gemm_bench;

static clgrad_status gemm_work(clgrad__tuner *T, void *arg)
{
    gemm_bench *g = arg;
    const gemm_shape *s = g->shape;
    clgrad__gemm_args a = {.trans_a = s->ta, .trans_b = s->tb, .m = s->m, .n = s->n, .k = s->k, .batch = 1,
                           .alpha = 1.0f, .beta = 0.0f, .a = g->a->mem, .b = g->b->mem, .c = g->c->mem,
                           .lda = s->ta ? s->m : s->k, .ldb = s->tb ? s->k : s->n, .ldc = s->n};
    return clgrad__gemm_own(T->ctx, &a);
}

/* Runs ctx's current GEMM parameters on small products against a double reference: odd
 * sizes (no multiple of any tile), both transposes, a batch, alpha and beta. */
static int gemm_check(clgrad__tuner *T)
{
    static const int cases[][6] = {{67, 45, 131, 0, 0, 2}, {33, 70, 17, 1, 1, 1}, {5, 129, 64, 1, 0, 1},
                                   {130, 3, 9, 0, 1, 3}};
    int ok = 1;
    T->checked++;
    for (size_t c = 0; ok && c < sizeof cases / sizeof cases[0]; c++) {
        int M = cases[c][0], N = cases[c][1], K = cases[c][2], ta = cases[c][3], tb = cases[c][4], B = cases[c][5];
        size_t na = (size_t)M * K * B, nb = (size_t)K * N * B, nc = (size_t)M * N * B;
        float *ha = malloc(na * sizeof(float)), *hb = malloc(nb * sizeof(float)), *hc = malloc(nc * sizeof(float));
        float *got = malloc(nc * sizeof(float));
        double *want = malloc(nc * sizeof(double)), *scale = malloc(nc * sizeof(double));
        clgrad__buffer *da = NULL, *db = NULL, *dc = NULL;
        ok = ha && hb && hc && got && want && scale;
        if (ok) {
            clgrad__tune_fill(ha, na, 11 + c), clgrad__tune_fill(hb, nb, 23 + c), clgrad__tune_fill(hc, nc, 37 + c);
            const float alpha = 0.75f, beta = 0.5f;
            for (int b = 0; b < B; b++)
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double s = 0, sa = 0;
                        for (int k = 0; k < K; k++) {
                            double x = ha[(size_t)b * M * K + (ta ? (size_t)k * M + i : (size_t)i * K + k)];
                            double y = hb[(size_t)b * K * N + (tb ? (size_t)j * K + k : (size_t)k * N + j)];
                            s += x * y;
                            sa += fabs(x * y);
                        }
                        size_t o = (size_t)b * M * N + (size_t)i * N + j;
                        want[o] = alpha * s + beta * (double)hc[o];
                        scale[o] = sa + fabs((double)hc[o]);
                    }
            ok = clgrad__buffer_alloc(T->ctx, na * sizeof(float), &da) == CLGRAD_OK &&
                 clgrad__buffer_alloc(T->ctx, nb * sizeof(float), &db) == CLGRAD_OK &&
                 clgrad__buffer_alloc(T->ctx, nc * sizeof(float), &dc) == CLGRAD_OK;
            cl_command_queue q = T->ctx->dev.queue;
            ok = ok && clEnqueueWriteBuffer(q, da->mem, CL_TRUE, 0, na * sizeof(float), ha, 0, NULL, NULL) == CL_SUCCESS &&
                 clEnqueueWriteBuffer(q, db->mem, CL_TRUE, 0, nb * sizeof(float), hb, 0, NULL, NULL) == CL_SUCCESS &&
                 clEnqueueWriteBuffer(q, dc->mem, CL_TRUE, 0, nc * sizeof(float), hc, 0, NULL, NULL) == CL_SUCCESS;
            clgrad__gemm_args g = {.trans_a = ta, .trans_b = tb, .m = M, .n = N, .k = K, .batch = B, .alpha = alpha,
                                   .beta = beta, .lda = ta ? M : K, .ldb = tb ? K : N, .ldc = N,
                                   .a_bstride = (int64_t)M * K, .b_bstride = (int64_t)K * N,
                                   .c_bstride = (int64_t)M * N};
            if (ok) {
                g.a = da->mem, g.b = db->mem, g.c = dc->mem;
                ok = clgrad__gemm_own(T->ctx, &g) == CLGRAD_OK &&
                     clEnqueueReadBuffer(q, dc->mem, CL_TRUE, 0, nc * sizeof(float), got, 0, NULL, NULL) == CL_SUCCESS;
            }
            ok = ok && clgrad__tune_close_to(got, want, scale, nc);
        }
        if (da) clgrad__buffer_release(da);
        if (db) clgrad__buffer_release(db);
        if (dc) clgrad__buffer_release(dc);
        free(ha), free(hb), free(hc), free(got), free(want), free(scale);
    }
    if (!ok) T->rejected++;
    return ok;
}

/* Times the candidate (installed as a trial) on the screening shapes; times[i] per shape.
 * Returns the sum, or < 0 when it fails its check or a run. */
static double gemm_score(clgrad__tuner *T, gemm_bench *gb, const clgrad__gemm_choice *c, double *times, int all)
{
    clgrad__tuned_trial(T->ctx, NULL, c);
    if (!gemm_check(T)) return -1.0;
    double sum = 0;
    for (int i = 0; i < N_GEMM_SHAPES; i++) {
        times[i] = 0;
        if (!all && !gemm_shapes[i].screen) continue;
        gb->shape = &gemm_shapes[i];
        double t = clgrad__tune_best_of(T, gemm_work, gb, 3);
        if (t < 0) return -1.0;
        times[i] = t;
        sum += t;
    }
    return sum;
}

static int same_cpu(const clgrad__gemm_cpu_params *a, const clgrad__gemm_cpu_params *b)
{
    return a->mr == b->mr && a->vw == b->vw && a->nv == b->nv && a->pack_k == b->pack_k && a->wi_m == b->wi_m &&
           a->wi_n == b->wi_n && a->chunk_kb == b->chunk_kb;
}

static int same_tiled(const clgrad__gemm_tiled_params *a, const clgrad__gemm_tiled_params *b)
{
    return a->ts_m == b->ts_m && a->ts_n == b->ts_n && a->ts_k == b->ts_k && a->wpt_m == b->wpt_m &&
           a->wpt_n == b->wpt_n && a->pad == b->pad;
}

/* Plausible on this device: fits its work-group and local-memory limits (tiled), keeps
 * the register tile in the range the CPU variant is written for. */
static int gemm_plausible(const clgrad__tuner *T, const clgrad__gemm_choice *c)
{
    if (!c->tiled) {
        int acc = c->cpu.mr * c->cpu.nv;
        return acc >= 2 && acc <= 32 && c->cpu.mr <= 16;
    }
    const clgrad__gemm_tiled_params *p = &c->tp;
    const clgrad_device_info *d = &T->ctx->dev.info;
    if (p->ts_m % p->wpt_m || p->ts_n % p->wpt_n) return 0;
    size_t wg = clgrad__tuning_gemm_tiled_wg(p), lmem = clgrad__tuning_gemm_tiled_local_bytes(p);
    return wg >= 4 && wg <= d->max_work_group_size && (size_t)(p->ts_n / p->wpt_n) <= d->max_work_item_sizes[0] &&
           (size_t)(p->ts_m / p->wpt_m) <= d->max_work_item_sizes[1] && lmem <= d->local_mem_bytes &&
           p->wpt_m * p->wpt_n <= 64;
}


static const clgrad__tune_coord cpu_coords[] = {
    {"pack_k", 4, {32, 64, 128, 256}},     {"chunk_kb", 7, {0, 512, 1024, 2048, 8192, 16384, 32768}},
    {"wi_n", 5, {0, 32, 64, 256, 512}},    {"wi_m", 5, {0, 16, 32, 128, 256}},
    {"nv", 4, {1, 2, 3, 4}},               {"mr", 5, {4, 6, 8, 12, 16}},
    {"vw", 3, {4, 8, 16}},
};
static const clgrad__tune_coord tiled_coords[] = {
    {"ts_m", 4, {16, 32, 64, 128}}, {"ts_n", 4, {16, 32, 64, 128}}, {"wpt_m", 4, {1, 2, 4, 8}},
    {"wpt_n", 4, {1, 2, 4, 8}},     {"ts_k", 3, {8, 16, 32}},       {"pad", 2, {0, 1}},
};

static int *gemm_coord(clgrad__gemm_choice *c, int i)
{
    if (!c->tiled) {
        int *f[] = {&c->cpu.pack_k, &c->cpu.chunk_kb, &c->cpu.wi_n, &c->cpu.wi_m, &c->cpu.nv, &c->cpu.mr, &c->cpu.vw};
        return f[i];
    }
    int *f[] = {&c->tp.ts_m, &c->tp.ts_n, &c->tp.wpt_m, &c->tp.wpt_n, &c->tp.ts_k, &c->tp.pad};
    return f[i];
}

/* Does the candidate's screening beat the current best, without losing on any shape
 * against the table values by more than the stage can win back? */
static int better(const double *cand, double cand_sum, double best_sum, const double *def)
{
    if (!(cand_sum > 0 && cand_sum < best_sum * (1.0 - WIN_MARGIN))) return 0;
    for (int i = 0; i < N_GEMM_SHAPES; i++)
        if (gemm_shapes[i].screen && cand[i] > def[i] * (1.0 + 3 * NOISE)) return 0;
    return 1;
}

/* Interleaved comparison of the table values and the winner on every shape, best of
 * three each. Returns 1 when the winner is nowhere slower (within NOISE). */
static int gemm_final(clgrad__tuner *T, gemm_bench *gb, const clgrad__gemm_choice *def, const clgrad__gemm_choice *win,
                      cJSON *rows, double *tdef, int *slow)
{
    int ok = 1;
    for (int i = 0; i < N_GEMM_SHAPES; i++) {
        gb->shape = &gemm_shapes[i];
        double td, tw;
        clgrad__tune_interleave(T, gemm_work, gb, NULL, def, NULL, win, &td, &tw);
        if (td < 0 || tw < 0) return 0;
        tdef[i] = td;
        slow[i] = tw > td * (1.0 + NOISE);
        if (slow[i]) ok = 0;
        cJSON_AddItemToArray(rows, clgrad__tune_shape_row(gemm_shapes[i].name, td, tw));
        clgrad__tune_progress(T);
    }
    return ok;
}

/* Best of three runs of choice c on shape i (after a warm-up run). */
static double time_choice(clgrad__tuner *T, gemm_bench *gb, const clgrad__gemm_choice *c, int i)
{
    clgrad__tuned_trial(T->ctx, NULL, c);
    gb->shape = &gemm_shapes[i];
    return clgrad__tune_best_of(T, gemm_work, gb, 3);
}

/* The winner lost to the table values on the shapes marked slow: put back, one at a time,
 * the parameter whose return to its table value helps those shapes most. Returns 0 when
 * nothing is left to put back (the winner has become the table values). */
static int gemm_repair(clgrad__tuner *T, gemm_bench *gb, const clgrad__gemm_choice *def, clgrad__gemm_choice *win,
                       const double *tdef, const int *slow)
{
    const int ncoord = win->tiled ? (int)(sizeof tiled_coords / sizeof tiled_coords[0])
                                  : (int)(sizeof cpu_coords / sizeof cpu_coords[0]);
    clgrad__gemm_choice d = *def, best = *win;
    double best_loss = -1;
    if (win->tiled != def->tiled) return 0; /* the other variant: nothing to put back bit by bit */
    for (int ci = 0; ci < ncoord; ci++) {
        if (*gemm_coord(win, ci) == *gemm_coord(&d, ci)) continue;
        clgrad__gemm_choice cand = *win;
        *gemm_coord(&cand, ci) = *gemm_coord(&d, ci);
        if (!gemm_plausible(T, &cand)) continue;
        double loss = 0;
        for (int i = 0; i < N_GEMM_SHAPES && loss >= 0; i++) {
            if (!slow[i]) continue;
            double t = time_choice(T, gb, &cand, i);
            loss = t < 0 ? -1 : loss + (t > tdef[i] ? t / tdef[i] - 1.0 : 0.0);
        }
        if (loss >= 0 && (best_loss < 0 || loss < best_loss)) best_loss = loss, best = cand;
        clgrad__tune_progress(T);
    }
    if (best_loss < 0) return 0;
    *win = best;
    return win->tiled != def->tiled || (win->tiled ? !same_tiled(&win->tp, &def->tp) : !same_cpu(&win->cpu, &def->cpu));
}

static cJSON *choice_json(const clgrad__gemm_choice *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "variant", c->tiled ? "tiled" : "cpu");
    if (c->tiled) {
        char s[192];
        snprintf(s, sizeof s, "%dx%dx%d wpt %dx%d pad %d", c->tp.ts_m, c->tp.ts_n, c->tp.ts_k, c->tp.wpt_m,
                 c->tp.wpt_n, c->tp.pad);
        cJSON_AddStringToObject(o, "params", s);
    } else {
        char s[192];
        snprintf(s, sizeof s, "mr %d vw %d nv %d pack_k %d, %dx%d of C per work-item (0: 64x128), K chunks of %d KiB "
                 "(0: 4096)", c->cpu.mr, c->cpu.vw, c->cpu.nv, c->cpu.pack_k, c->cpu.wi_m, c->cpu.wi_n, c->cpu.chunk_kb);
        cJSON_AddStringToObject(o, "params", s);
    }
    return o;
}

/* Coordinate descent over one variant, starting from *cur (scored cur_t / cur_sum). */
static void gemm_descend(clgrad__tuner *T, gemm_bench *gb, clgrad__gemm_choice *cur, double *cur_t, double *cur_sum,
                         const double *def_t)
{
    const clgrad__tune_coord *coords = cur->tiled ? tiled_coords : cpu_coords;
    int ncoord = cur->tiled ? (int)(sizeof tiled_coords / sizeof tiled_coords[0])
                            : (int)(sizeof cpu_coords / sizeof cpu_coords[0]);
    double t[N_GEMM_SHAPES];
    for (int pass = 0, improved = 1; improved && pass < 3 && clgrad__tune_time_left(T); pass++) {
        improved = 0;
        for (int ci = 0; ci < ncoord && clgrad__tune_time_left(T); ci++)
            for (int vi = 0; vi < coords[ci].n && clgrad__tune_time_left(T); vi++) {
                clgrad__gemm_choice cand = *cur;
                if (*gemm_coord(&cand, ci) == coords[ci].v[vi]) continue;
                *gemm_coord(&cand, ci) = coords[ci].v[vi];
                if (!gemm_plausible(T, &cand)) continue;
                double sum = gemm_score(T, gb, &cand, t, 0);
                clgrad__tune_progress(T);
                if (sum > 0 && better(t, sum, *cur_sum, def_t)) {
                    *cur = cand;
                    *cur_sum = sum;
                    memcpy(cur_t, t, sizeof t);
                    improved = 1;
                }
            }
    }
    /* budget left: jumps of two coordinates at once from the best so far, which one-at-a-
     * time steps cannot make when each alone is worse (a deterministic sequence) */
    uint64_t seed = 0x2545F4914F6CDD1Dull;
    for (int tries = 0; tries < 64 && clgrad__tune_time_left(T); tries++) {
        clgrad__gemm_choice cand = *cur;
        for (int j = 0; j < 2; j++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            int ci = (int)(seed % (uint64_t)ncoord);
            *gemm_coord(&cand, ci) = coords[ci].v[(seed >> 16) % (uint64_t)coords[ci].n];
        }
        if (!memcmp(&cand, cur, sizeof cand) || !gemm_plausible(T, &cand)) continue;
        double sum = gemm_score(T, gb, &cand, t, 0);
        clgrad__tune_progress(T);
        if (sum > 0 && better(t, sum, *cur_sum, def_t)) {
            *cur = cand;
            *cur_sum = sum;
            memcpy(cur_t, t, sizeof t);
        }
    }
}

/* The benchmark operands, large enough for every shape (A and B filled). */
static int gemm_bench_make(clgrad__tuner *T, gemm_bench *gb)
{
    size_t na = 0, nb = 0, nc = 0;
    for (int i = 0; i < N_GEMM_SHAPES; i++) {
        const gemm_shape *s = &gemm_shapes[i];
        if ((size_t)(s->m * s->k) > na) na = (size_t)(s->m * s->k);
        if ((size_t)(s->k * s->n) > nb) nb = (size_t)(s->k * s->n);
        if ((size_t)(s->m * s->n) > nc) nc = (size_t)(s->m * s->n);
    }
    const cl_float v = 0.01f;
    cl_command_queue q = T->ctx->dev.queue;
    return clgrad__buffer_alloc(T->ctx, na * sizeof(float), &gb->a) == CLGRAD_OK &&
           clgrad__buffer_alloc(T->ctx, nb * sizeof(float), &gb->b) == CLGRAD_OK &&
           clgrad__buffer_alloc(T->ctx, nc * sizeof(float), &gb->c) == CLGRAD_OK &&
           clEnqueueFillBuffer(q, gb->a->mem, &v, sizeof v, 0, na * sizeof(float), 0, NULL, NULL) == CL_SUCCESS &&
           clEnqueueFillBuffer(q, gb->b->mem, &v, sizeof v, 0, nb * sizeof(float), 0, NULL, NULL) == CL_SUCCESS;
}

/* The other variant's table values, once: a device may prefer it (first on one shape
 * alone, as the wrong variant can be many times slower). Replaces *cur when it is better. */
static void gemm_try_other_variant(clgrad__tuner *T, gemm_bench *gb, const clgrad__gemm_choice *def,
                                   const double *def_t, clgrad__gemm_choice *cur, double *cur_t, double *cur_sum)
{
    double alt_t[N_GEMM_SHAPES];
    clgrad__gemm_choice alt = *def;
    alt.tiled = !def->tiled;
    int first_screen = 0;
    while (!gemm_shapes[first_screen].screen) first_screen++;
    clgrad__tuned_trial(T->ctx, NULL, &alt);
    gb->shape = &gemm_shapes[first_screen];
    double alt_first = gemm_plausible(T, &alt) && clgrad__tune_time_left(T) && gemm_check(T)
                           ? clgrad__tune_best_of(T, gemm_work, gb, 1)
                           : -1;
    if (alt_first > 0 && alt_first < def_t[first_screen]) {
        double s = gemm_score(T, gb, &alt, alt_t, 0);
        if (s > 0 && better(alt_t, s, *cur_sum, def_t)) {
            *cur = alt;
            *cur_sum = s;
            memcpy(cur_t, alt_t, sizeof alt_t);
        }
    }
}

/* The stage's time is spent: the comparison on every shape runs on the total budget, and
 * a winner that loses anywhere gives back parameters until it does not. Returns whether
 * *cur (perhaps given back in part) is kept. */
static int gemm_confirm(clgrad__tuner *T, gemm_bench *gb, const clgrad__gemm_choice *def, clgrad__gemm_choice *cur,
                        cJSON *g)
{
    int accepted = 0;
    T->stage_end = T->t0 + T->budget;
    for (int attempt = 0; attempt < 8; attempt++) {
        double tdef[N_GEMM_SHAPES];
        int slow[N_GEMM_SHAPES];
        cJSON *tried = cJSON_CreateArray();
        accepted = gemm_final(T, gb, def, cur, tried, tdef, slow);
        cJSON_DeleteItemFromObject(g, "shapes");
        cJSON_AddItemToObject(g, "shapes", tried);
        if (accepted || !gemm_repair(T, gb, def, cur, tdef, slow)) break;
        cJSON_DeleteItemFromObject(g, "tuned");
        cJSON_AddItemToObject(g, "tuned", choice_json(cur));
    }
    return accepted;
}

void clgrad__tune_gemm(clgrad__tuner *T, clgrad__gemm_choice *out, int *accepted, cJSON *report)
{
    clgrad__ops_params dops;
    clgrad__gemm_choice def;
    clgrad__tuned_defaults(T->ctx, &dops, &def);
    *out = def;
    *accepted = 0;
    gemm_bench gb = {0};
    cJSON *g = cJSON_AddObjectToObject(report, "gemm");
    cJSON_AddItemToObject(g, "default", choice_json(&def));
    if (!gemm_bench_make(T, &gb)) {
        cJSON_AddStringToObject(g, "error", "cannot allocate the benchmark operands");
        goto done;
    }
    double def_t[N_GEMM_SHAPES], cur_t[N_GEMM_SHAPES];
    double def_sum = gemm_score(T, &gb, &def, def_t, 0);
    if (def_sum < 0) {
        cJSON_AddStringToObject(g, "error", "the table values fail their check or a run");
        goto done;
    }
    clgrad__gemm_choice cur = def;
    double cur_sum = def_sum;
    memcpy(cur_t, def_t, sizeof def_t);
    gemm_try_other_variant(T, &gb, &def, def_t, &cur, cur_t, &cur_sum);
    gemm_descend(T, &gb, &cur, cur_t, &cur_sum, def_t);
    cJSON_AddItemToObject(g, "tuned", choice_json(&cur));
    cJSON_AddArrayToObject(g, "shapes");
    int same = cur.tiled == def.tiled && (cur.tiled ? same_tiled(&cur.tp, &def.tp) : same_cpu(&cur.cpu, &def.cpu));
    if (!same) {
        *accepted = gemm_confirm(T, &gb, &def, &cur, g);
        if (*accepted) *out = cur;
    }
    cJSON_AddBoolToObject(g, "accepted", *accepted);
done:
    clgrad__tuned_trial_end(T->ctx);
    if (gb.a) clgrad__buffer_release(gb.a);
    if (gb.b) clgrad__buffer_release(gb.b);
    if (gb.c) clgrad__buffer_release(gb.c);
}
