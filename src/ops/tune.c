/* The tuner behind clgrad_context_tune: a search, per device, for the kernel parameters of
 * the GEMM variants (tile sizes, work per item, vector width, local size, packing depth),
 * the convolution paths (direct or im2col for one input channel, row kernels, work-group
 * width) and the reductions (work-group sizes, lanes of the column kernel, the ordered
 * sum's block width). Each stage starts from the table values of the device and changes
 * one parameter at a time (coordinate descent) while its share of the time budget lasts.
 * A candidate is first run on small shapes against a plain-C reference computed here in
 * double; only a candidate that passes is timed. A stage's winner is kept only when, timed
 * again against the table values on every shape of the stage (interleaved, best of a few),
 * it is not slower on any shape; otherwise that stage keeps the table values. The winners
 * go to the tuned file (src/ops/tuned.c), with the measurements as information. */
#include "ops/conv.h"
#include "ops/gemm.h"
#include "ops/reduce.h"
#include "ops/tuned.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A candidate must beat the current best by this much to replace it, and the final
 * winner may be this much slower than the table values on no shape (timer noise). */
#define WIN_MARGIN 0.02
#define NOISE 0.01
/* Alternating runs of the table values and the winner in the final comparison (the best of
 * each kept): enough that the minimum is the machine's floor, not its noise. */
#define FINAL_ROUNDS 8

typedef struct tuner {
    clgrad_context *ctx;
    const clgrad_tune_options *o;
    double t0, budget;
    double stage_start, stage_end, frac_lo, frac_hi;
    const char *stage;
    double reported; /* the last fraction handed to progress: it never goes back */
    int checked, rejected, timed;
} tuner;

/* --- time and progress ----------------------------------------------------------------------- */

static void progress(tuner *T)
{
    if (!T->o || !T->o->progress) return;
    double span = T->stage_end - T->stage_start, f = span > 0 ? (clgrad__now() - T->stage_start) / span : 1.0;
    if (f > 1.0) f = 1.0;
    if (f < 0.0) f = 0.0;
    f = T->frac_lo + (T->frac_hi - T->frac_lo) * f;
    if (f < T->reported) f = T->reported;
    T->reported = f;
    T->o->progress(T->o->user, f, T->stage);
}

static void stage_begin(tuner *T, const char *name, double lo, double hi)
{
    T->stage = name;
    T->stage_start = clgrad__now();
    T->stage_end = T->t0 + T->budget * hi;
    T->frac_lo = lo;
    T->frac_hi = hi;
    progress(T);
}

static int time_left(const tuner *T) { return clgrad__now() < T->stage_end; }

typedef clgrad_status (*work_fn)(tuner *T, void *arg);

/* One timed run: the work, then a wait for the device. < 0 on failure. */
static double once(tuner *T, work_fn fn, void *arg)
{
    double t = clgrad__now();
    if (fn(T, arg) != CLGRAD_OK || clFinish(T->ctx->dev.queue) != CL_SUCCESS) return -1.0;
    return clgrad__now() - t;
}

/* Best of reps runs after a warm-up run (which builds the kernels). */
static double best_of(tuner *T, work_fn fn, void *arg, int reps)
{
    if (once(T, fn, arg) < 0) return -1.0;
    double best = -1.0;
    for (int r = 0; r < reps; r++) {
        double t = once(T, fn, arg);
        if (t < 0) return -1.0;
        if (best < 0 || t < best) best = t;
    }
    T->timed++;
    return best;
}

/* Deterministic data in [-1, 1). */
static void fill(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = (float)((double)(s >> 40) / 8388608.0 - 1.0);
    }
}

static int close_to(const float *got, const double *want, const double *scale, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= 1e-4 * (1.0 + scale[i]))) return 0;
    return 1;
}

static cJSON *shape_row(const char *name, double t_def, double t_new)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "shape", name);
    cJSON_AddNumberToObject(o, "default_ms", t_def * 1e3);
    cJSON_AddNumberToObject(o, "tuned_ms", t_new * 1e3);
    cJSON_AddNumberToObject(o, "speedup", t_new > 0 ? t_def / t_new : 0.0);
    return o;
}

/* ============================ GEMM ============================================================ */

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

static clgrad_status gemm_work(tuner *T, void *arg)
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
static int gemm_check(tuner *T)
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
            fill(ha, na, 11 + c), fill(hb, nb, 23 + c), fill(hc, nc, 37 + c);
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
            ok = ok && close_to(got, want, scale, nc);
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
static double gemm_score(tuner *T, gemm_bench *gb, const clgrad__gemm_choice *c, double *times, int all)
{
    clgrad__tuned_trial(T->ctx, NULL, c);
    if (!gemm_check(T)) return -1.0;
    double sum = 0;
    for (int i = 0; i < N_GEMM_SHAPES; i++) {
        times[i] = 0;
        if (!all && !gemm_shapes[i].screen) continue;
        gb->shape = &gemm_shapes[i];
        double t = best_of(T, gemm_work, gb, 3);
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
static int gemm_plausible(const tuner *T, const clgrad__gemm_choice *c)
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

/* The value list of coordinate i of a variant's parameters, and a setter. */
typedef struct coord {
    const char *name;
    int n;
    int v[8];
} coord;

static const coord cpu_coords[] = {
    {"pack_k", 4, {32, 64, 128, 256}},     {"chunk_kb", 7, {0, 512, 1024, 2048, 8192, 16384, 32768}},
    {"wi_n", 5, {0, 32, 64, 256, 512}},    {"wi_m", 5, {0, 16, 32, 128, 256}},
    {"nv", 4, {1, 2, 3, 4}},               {"mr", 5, {4, 6, 8, 12, 16}},
    {"vw", 3, {4, 8, 16}},
};
static const coord tiled_coords[] = {
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
static int gemm_final(tuner *T, gemm_bench *gb, const clgrad__gemm_choice *def, const clgrad__gemm_choice *win,
                      cJSON *rows, double *tdef, int *slow)
{
    int ok = 1;
    for (int i = 0; i < N_GEMM_SHAPES; i++) {
        gb->shape = &gemm_shapes[i];
        double td = -1, tw = -1;
        for (int r = 0; r < FINAL_ROUNDS; r++) {
            clgrad__tuned_trial(T->ctx, NULL, def);
            double t = r ? once(T, gemm_work, gb) : (once(T, gemm_work, gb), once(T, gemm_work, gb));
            if (t > 0 && (td < 0 || t < td)) td = t;
            clgrad__tuned_trial(T->ctx, NULL, win);
            t = r ? once(T, gemm_work, gb) : (once(T, gemm_work, gb), once(T, gemm_work, gb));
            if (t > 0 && (tw < 0 || t < tw)) tw = t;
        }
        if (td < 0 || tw < 0) return 0;
        tdef[i] = td;
        slow[i] = tw > td * (1.0 + NOISE);
        if (slow[i]) ok = 0;
        cJSON_AddItemToArray(rows, shape_row(gemm_shapes[i].name, td, tw));
        progress(T);
    }
    return ok;
}

/* Best of three runs of choice c on shape i (after a warm-up run). */
static double time_choice(tuner *T, gemm_bench *gb, const clgrad__gemm_choice *c, int i)
{
    clgrad__tuned_trial(T->ctx, NULL, c);
    gb->shape = &gemm_shapes[i];
    return best_of(T, gemm_work, gb, 3);
}

/* The winner lost to the table values on the shapes marked slow: put back, one at a time,
 * the parameter whose return to its table value helps those shapes most. Returns 0 when
 * nothing is left to put back (the winner has become the table values). */
static int gemm_repair(tuner *T, gemm_bench *gb, const clgrad__gemm_choice *def, clgrad__gemm_choice *win,
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
        progress(T);
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
static void gemm_descend(tuner *T, gemm_bench *gb, clgrad__gemm_choice *cur, double *cur_t, double *cur_sum,
                         const double *def_t)
{
    const coord *coords = cur->tiled ? tiled_coords : cpu_coords;
    int ncoord = cur->tiled ? (int)(sizeof tiled_coords / sizeof tiled_coords[0])
                            : (int)(sizeof cpu_coords / sizeof cpu_coords[0]);
    double t[N_GEMM_SHAPES];
    for (int pass = 0, improved = 1; improved && pass < 3 && time_left(T); pass++) {
        improved = 0;
        for (int ci = 0; ci < ncoord && time_left(T); ci++)
            for (int vi = 0; vi < coords[ci].n && time_left(T); vi++) {
                clgrad__gemm_choice cand = *cur;
                if (*gemm_coord(&cand, ci) == coords[ci].v[vi]) continue;
                *gemm_coord(&cand, ci) = coords[ci].v[vi];
                if (!gemm_plausible(T, &cand)) continue;
                double sum = gemm_score(T, gb, &cand, t, 0);
                progress(T);
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
    for (int tries = 0; tries < 64 && time_left(T); tries++) {
        clgrad__gemm_choice cand = *cur;
        for (int j = 0; j < 2; j++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            int ci = (int)(seed % (uint64_t)ncoord);
            *gemm_coord(&cand, ci) = coords[ci].v[(seed >> 16) % (uint64_t)coords[ci].n];
        }
        if (!memcmp(&cand, cur, sizeof cand) || !gemm_plausible(T, &cand)) continue;
        double sum = gemm_score(T, gb, &cand, t, 0);
        progress(T);
        if (sum > 0 && better(t, sum, *cur_sum, def_t)) {
            *cur = cand;
            *cur_sum = sum;
            memcpy(cur_t, t, sizeof t);
        }
    }
}

static void tune_gemm(tuner *T, clgrad__gemm_choice *out, int *accepted, cJSON *report)
{
    clgrad__ops_params dops;
    clgrad__gemm_choice def;
    clgrad__tuned_defaults(T->ctx, &dops, &def);
    *out = def;
    *accepted = 0;
    size_t na = 0, nb = 0, nc = 0;
    for (int i = 0; i < N_GEMM_SHAPES; i++) {
        const gemm_shape *s = &gemm_shapes[i];
        if ((size_t)(s->m * s->k) > na) na = (size_t)(s->m * s->k);
        if ((size_t)(s->k * s->n) > nb) nb = (size_t)(s->k * s->n);
        if ((size_t)(s->m * s->n) > nc) nc = (size_t)(s->m * s->n);
    }
    gemm_bench gb = {0};
    const cl_float v = 0.01f;
    cl_command_queue q = T->ctx->dev.queue;
    cJSON *g = cJSON_AddObjectToObject(report, "gemm");
    cJSON_AddItemToObject(g, "default", choice_json(&def));
    if (clgrad__buffer_alloc(T->ctx, na * sizeof(float), &gb.a) != CLGRAD_OK ||
        clgrad__buffer_alloc(T->ctx, nb * sizeof(float), &gb.b) != CLGRAD_OK ||
        clgrad__buffer_alloc(T->ctx, nc * sizeof(float), &gb.c) != CLGRAD_OK ||
        clEnqueueFillBuffer(q, gb.a->mem, &v, sizeof v, 0, na * sizeof(float), 0, NULL, NULL) != CL_SUCCESS ||
        clEnqueueFillBuffer(q, gb.b->mem, &v, sizeof v, 0, nb * sizeof(float), 0, NULL, NULL) != CL_SUCCESS) {
        cJSON_AddStringToObject(g, "error", "cannot allocate the benchmark operands");
        goto done;
    }
    double def_t[N_GEMM_SHAPES], cur_t[N_GEMM_SHAPES], alt_t[N_GEMM_SHAPES];
    double def_sum = gemm_score(T, &gb, &def, def_t, 0);
    if (def_sum < 0) {
        cJSON_AddStringToObject(g, "error", "the table values fail their check or a run");
        goto done;
    }
    clgrad__gemm_choice cur = def;
    double cur_sum = def_sum;
    memcpy(cur_t, def_t, sizeof def_t);
    /* the other variant's table values, once: a device may prefer it (first on one shape
     * alone, as the wrong variant can be many times slower) */
    clgrad__gemm_choice alt = def;
    alt.tiled = !def.tiled;
    int first_screen = 0;
    while (!gemm_shapes[first_screen].screen) first_screen++;
    clgrad__tuned_trial(T->ctx, NULL, &alt);
    gb.shape = &gemm_shapes[first_screen];
    double alt_first = gemm_plausible(T, &alt) && time_left(T) && gemm_check(T) ? best_of(T, gemm_work, &gb, 1) : -1;
    if (alt_first > 0 && alt_first < def_t[first_screen]) {
        double s = gemm_score(T, &gb, &alt, alt_t, 0);
        if (s > 0 && better(alt_t, s, cur_sum, def_t)) {
            cur = alt;
            cur_sum = s;
            memcpy(cur_t, alt_t, sizeof alt_t);
        }
    }
    gemm_descend(T, &gb, &cur, cur_t, &cur_sum, def_t);
    cJSON_AddItemToObject(g, "tuned", choice_json(&cur));
    cJSON_AddArrayToObject(g, "shapes");
    int same = cur.tiled == def.tiled && (cur.tiled ? same_tiled(&cur.tp, &def.tp) : same_cpu(&cur.cpu, &def.cpu));
    if (!same) {
        /* the stage's time is spent: the comparison on every shape runs on the total budget,
         * and a winner that loses anywhere gives back parameters until it does not */
        T->stage_end = T->t0 + T->budget;
        for (int attempt = 0; attempt < 8; attempt++) {
            double tdef[N_GEMM_SHAPES];
            int slow[N_GEMM_SHAPES];
            cJSON *tried = cJSON_CreateArray();
            *accepted = gemm_final(T, &gb, &def, &cur, tried, tdef, slow);
            cJSON_DeleteItemFromObject(g, "shapes");
            cJSON_AddItemToObject(g, "shapes", tried);
            if (*accepted || !gemm_repair(T, &gb, &def, &cur, tdef, slow)) break;
            cJSON_DeleteItemFromObject(g, "tuned");
            cJSON_AddItemToObject(g, "tuned", choice_json(&cur));
        }
        if (*accepted) *out = cur;
    }
    cJSON_AddBoolToObject(g, "accepted", *accepted);
done:
    clgrad__tuned_trial_end(T->ctx);
    if (gb.a) clgrad__buffer_release(gb.a);
    if (gb.b) clgrad__buffer_release(gb.b);
    if (gb.c) clgrad__buffer_release(gb.c);
}

/* ============================ convolution ===================================================== */

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

static clgrad_status conv_work(tuner *T, void *arg)
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
static int conv_check_layer(tuner *T, conv_layer *L)
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
        ok = close_to(dx, rdx, sdx, nx) && close_to(dw, rdw, sdw, nw) && close_to(db, rdb, sdb, (size_t)K) &&
             close_to(y, ry, sy_, ny);
    }
    clgrad_tensor_release(yt);
    for (int i = 0; i < 3; i++) clgrad_tensor_release(gx[i]);
    free(x), free(w), free(b), free(gy), free(y), free(dx), free(dw), free(db), free(want), free(scale);
    (void)T;
    return ok;
}

/* Small layers on both paths (one input channel, several), forward and backward. */
static int conv_check(tuner *T)
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
static int conv_layers(tuner *T, conv_layer L[2])
{
    L[0] = (conv_layer){"conv 1->32 3x3 28x28 b64", conv3x3(64, 1, 32, 28, 28), 0, NULL, NULL, NULL, NULL};
    L[1] = (conv_layer){"conv 32->64 3x3 14x14 b64", conv3x3(64, 32, 64, 14, 14), 1, NULL, NULL, NULL, NULL};
    return conv_layer_make(T->ctx, &L[0], 1) == CLGRAD_OK && conv_layer_make(T->ctx, &L[1], 5) == CLGRAD_OK;
}

static double conv_score(tuner *T, conv_layer L[2], const clgrad__ops_params *p, const clgrad__gemm_choice *gm,
                         double t[2])
{
    clgrad__tuned_trial(T->ctx, p, gm);
    if (!conv_check(T)) return -1.0;
    for (int i = 0; i < 2; i++)
        if ((t[i] = best_of(T, conv_work, &L[i], 2)) < 0) return -1.0;
    return t[0] + t[1];
}

static const coord conv_coords[] = {
    {"conv_direct_c1", 3, {0, 1, 2}}, {"conv_chunk_kb", 5, {0, 1024, 2048, 4096, 8192}},
    {"conv_per_image", 3, {0, 1, 2}}, {"row_kernels", 2, {0, 1}},
    {"conv_wg", 4, {32, 64, 128, 256}}};

static int *conv_coord(clgrad__ops_params *p, int i)
{
    int *f[] = {&p->conv_direct_c1, &p->conv_chunk_kb, &p->conv_per_image, &p->row_kernels, &p->conv_wg};
    return f[i];
}

/* Searches with the GEMM choice gm in place (the tuned one when the GEMM stage kept one). */
static void tune_conv(tuner *T, const clgrad__gemm_choice *gm, const clgrad__gemm_choice *gdef, clgrad__ops_params *out,
                      int *accepted, cJSON *report)
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
    double t[2], best_t[2];
    double best = conv_score(T, L, &def, gm, best_t);
    if (best < 0) {
        cJSON_AddStringToObject(c, "error", "the table values fail their check or a run");
        goto done;
    }
    clgrad__ops_params cur = def;
    for (int pass = 0, improved = 1; improved && pass < 2 && time_left(T); pass++) {
        improved = 0;
        for (size_t ci = 0; ci < sizeof conv_coords / sizeof conv_coords[0] && time_left(T); ci++)
            for (int vi = 0; vi < conv_coords[ci].n && time_left(T); vi++) {
                clgrad__ops_params cand = cur;
                if (*conv_coord(&cand, (int)ci) == conv_coords[ci].v[vi]) continue;
                *conv_coord(&cand, (int)ci) = conv_coords[ci].v[vi];
                double s = conv_score(T, L, &cand, gm, t);
                progress(T);
                if (s > 0 && s < best * (1.0 - WIN_MARGIN)) {
                    cur = cand, best = s, improved = 1;
                    memcpy(best_t, t, sizeof t);
                }
            }
    }
    /* budget left: two coordinates at once (as for GEMM) */
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    const int ncoord = (int)(sizeof conv_coords / sizeof conv_coords[0]);
    for (int tries = 0; tries < 32 && time_left(T); tries++) {
        clgrad__ops_params cand = cur;
        for (int j = 0; j < 2; j++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            int ci = (int)(seed % (uint64_t)ncoord);
            *conv_coord(&cand, ci) = conv_coords[ci].v[(seed >> 16) % (uint64_t)conv_coords[ci].n];
        }
        if (!memcmp(&cand, &cur, sizeof cand)) continue;
        double sc = conv_score(T, L, &cand, gm, t);
        progress(T);
        if (sc > 0 && sc < best * (1.0 - WIN_MARGIN)) {
            cur = cand, best = sc;
            memcpy(best_t, t, sizeof t);
        }
    }
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
    /* the comparison the user sees: table values (GEMM included) against everything tuned */
    T->stage_end = T->t0 + T->budget;
    cJSON *rows = cJSON_AddArrayToObject(c, "shapes");
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        double td = -1, tw = -1;
        for (int r = 0; r < FINAL_ROUNDS; r++) {
            clgrad__tuned_trial(T->ctx, &def, gdef);
            double x = r ? once(T, conv_work, &L[i]) : (once(T, conv_work, &L[i]), once(T, conv_work, &L[i]));
            if (x > 0 && (td < 0 || x < td)) td = x;
            clgrad__tuned_trial(T->ctx, &cur, gm);
            x = r ? once(T, conv_work, &L[i]) : (once(T, conv_work, &L[i]), once(T, conv_work, &L[i]));
            if (x > 0 && (tw < 0 || x < tw)) tw = x;
        }
        char name[96];
        snprintf(name, sizeof name, "%s fwd+bwd", L[i].name);
        cJSON_AddItemToArray(rows, shape_row(name, td, tw));
        if (td < 0 || tw < 0 || tw > td * (1.0 + NOISE)) ok = 0;
        progress(T);
    }
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

/* ============================ reductions ====================================================== */

typedef struct red_case {
    const char *name;
    int ndim;
    int64_t shape[4];
    uint32_t mask;
    clgrad_tensor *x;
} red_case;

static clgrad_status red_work(tuner *T, void *arg)
{
    red_case *c = arg;
    int64_t out[4];
    int nd = 0;
    for (int d = 0; d < c->ndim; d++)
        if (!(c->mask & (1u << d))) out[nd++] = c->shape[d];
    clgrad_tensor *y = NULL;
    clgrad_status st;
    if (c->mask == 0) { /* the ordered sum of the backward rules: columns of (R, M) */
        int64_t R = c->shape[0], M = c->shape[1];
        st = clgrad__tensor_new(T->ctx, CLGRAD_DTYPE_F32, 1, &M, &y);
        if (st == CLGRAD_OK)
            st = clgrad__sum_ordered(T->ctx, c->x->buf->mem, c->x->offset, M, R, 1, M, y->buf->mem, 0, 1);
    } else {
        st = clgrad__reduce(c->x, c->mask, CLGRAD__RED_SUM, NULL, 1.0, nd, out, &y);
    }
    clgrad_tensor_release(y);
    return st;
}

/* A few reductions of every kind against double sums on the host. */
static int red_check(tuner *T)
{
    red_case cases[] = {{"rows", 2, {37, 3000}, 2u, NULL}, {"cols", 2, {300, 67}, 1u, NULL},
                        {"nchw", 4, {5, 3, 7, 9}, 13u, NULL}, {"ordered", 2, {70, 33}, 0u, NULL}};
    int ok = 1;
    T->checked++;
    for (size_t i = 0; ok && i < sizeof cases / sizeof cases[0]; i++) {
        red_case *c = &cases[i];
        int64_t n = 1, out[4], no = 1;
        int nd = 0;
        for (int d = 0; d < c->ndim; d++) n *= c->shape[d];
        for (int d = 0; d < c->ndim; d++)
            if (!(c->mask & (1u << d))) out[nd++] = c->shape[d], no *= c->shape[d];
        if (c->mask == 0) no = c->shape[1];
        float *h = malloc((size_t)n * sizeof(float)), *got = malloc((size_t)no * sizeof(float));
        double *want = calloc((size_t)no, sizeof(double)), *scale = calloc((size_t)no, sizeof(double));
        clgrad_tensor *y = NULL;
        ok = h && got && want && scale;
        if (ok) {
            fill(h, (size_t)n, 7 + i);
            /* the output index of element e: its kept coordinates, row-major */
            for (int64_t e = 0; e < n; e++) {
                int64_t rem = e, o = 0, mul = 1;
                for (int d = c->ndim - 1; d >= 0; d--) {
                    int64_t v = rem % c->shape[d];
                    rem /= c->shape[d];
                    int kept = c->mask == 0 ? d == 1 : !(c->mask & (1u << d));
                    if (kept) o += v * mul, mul *= c->shape[d];
                }
                want[o] += h[e], scale[o] += fabs(h[e]);
            }
            ok = clgrad_tensor_from_host(T->ctx, CLGRAD_DTYPE_F32, c->ndim, c->shape, h, &c->x) == CLGRAD_OK;
        }
        if (ok) {
            if (c->mask == 0) {
                int64_t M = c->shape[1];
                ok = clgrad__tensor_new(T->ctx, CLGRAD_DTYPE_F32, 1, &M, &y) == CLGRAD_OK &&
                     clgrad__sum_ordered(T->ctx, c->x->buf->mem, c->x->offset, M, c->shape[0], 1, M, y->buf->mem, 0,
                                         1) == CLGRAD_OK;
            } else {
                ok = clgrad__reduce(c->x, c->mask, CLGRAD__RED_SUM, NULL, 1.0, nd, out, &y) == CLGRAD_OK;
            }
            ok = ok && clgrad_tensor_read(y, got, (size_t)no * sizeof(float)) == CLGRAD_OK &&
                 close_to(got, want, scale, (size_t)no);
        }
        clgrad_tensor_release(y);
        clgrad_tensor_release(c->x);
        free(h), free(got), free(want), free(scale);
    }
    if (!ok) T->rejected++;
    return ok;
}

static const coord red_coords[] = {
    {"red_vec_wg", 7, {4, 8, 16, 32, 64, 128, 256}}, {"red_colwg_items", 4, {64, 128, 256, 512}},
    {"sum_cw", 5, {1, 2, 4, 8, 16}},                 {"red_colwg", 2, {0, 1}},
    {"red_rows_long", 2, {0, 1}},
};

static int *red_coord(clgrad__ops_params *p, int i)
{
    int *f[] = {&p->red_vec_wg, &p->red_colwg_items, &p->sum_cw, &p->red_colwg, &p->red_rows_long};
    return f[i];
}

#define N_RED 4
static double red_score(tuner *T, red_case *c, const clgrad__ops_params *p, double *t)
{
    clgrad__tuned_trial(T->ctx, p, NULL);
    if (!red_check(T)) return -1.0;
    double sum = 0;
    for (int i = 0; i < N_RED; i++) {
        if ((t[i] = best_of(T, red_work, &c[i], 3)) < 0) return -1.0;
        sum += t[i];
    }
    return sum;
}

static void tune_reduce(tuner *T, const clgrad__ops_params *base, clgrad__ops_params *out, int *accepted,
                        cJSON *report)
{
    clgrad__ops_params def = *base;
    *out = def;
    *accepted = 0;
    cJSON *r = cJSON_AddObjectToObject(report, "reduce");
    /* rows of a (4096, 1024) matrix, its transpose's columns, the batch-norm channel sums
     * of (64, 32, 28, 28), and the ordered column sum of the backward rules */
    red_case c[N_RED] = {{"rows 4096x1024", 2, {4096, 1024}, 2u, NULL},
                         {"cols 1024x4096", 2, {1024, 4096}, 1u, NULL},
                         {"channels 64x32x28x28", 4, {64, 32, 28, 28}, 13u, NULL},
                         {"ordered 4096x256", 2, {4096, 256}, 0u, NULL}};
    int ok = 1;
    for (int i = 0; ok && i < N_RED; i++)
        ok = clgrad_tensor_uniform(T->ctx, c[i].ndim, c[i].shape, 40 + (uint64_t)i, -1, 1, &c[i].x) == CLGRAD_OK;
    double t[N_RED], best_t[N_RED];
    double best = ok ? red_score(T, c, &def, best_t) : -1.0;
    if (best < 0) {
        cJSON_AddStringToObject(r, "error", "the table values fail their check or a run");
        goto done;
    }
    clgrad__ops_params cur = def;
    for (int pass = 0, improved = 1; improved && pass < 2 && time_left(T); pass++) {
        improved = 0;
        for (size_t ci = 0; ci < sizeof red_coords / sizeof red_coords[0] && time_left(T); ci++)
            for (int vi = 0; vi < red_coords[ci].n && time_left(T); vi++) {
                clgrad__ops_params cand = cur;
                if (*red_coord(&cand, (int)ci) == red_coords[ci].v[vi]) continue;
                *red_coord(&cand, (int)ci) = red_coords[ci].v[vi];
                double s = red_score(T, c, &cand, t);
                progress(T);
                int worse = 0;
                for (int i = 0; i < N_RED; i++) worse |= t[i] > best_t[i] * (1.0 + 3 * NOISE);
                if (s > 0 && s < best * (1.0 - WIN_MARGIN) && !worse) {
                    cur = cand, best = s, improved = 1;
                    memcpy(best_t, t, sizeof t);
                }
            }
    }
    char s[160];
    snprintf(s, sizeof s, "vector work-group %d, column work-group items %d, ordered sum width %d, colwg %d, "
             "long rows in lanes %d", cur.red_vec_wg, cur.red_colwg_items, cur.sum_cw, cur.red_colwg,
             cur.red_rows_long);
    cJSON_AddStringToObject(r, "tuned", s);
    if (memcmp(&cur, &def, sizeof cur) == 0) { /* nothing better than the table values */
        cJSON_AddBoolToObject(r, "accepted", 0);
        goto done;
    }
    T->stage_end = T->t0 + T->budget;
    cJSON *rows = cJSON_AddArrayToObject(r, "shapes");
    ok = 1;
    for (int i = 0; i < N_RED; i++) {
        double td = -1, tw = -1;
        for (int k = 0; k < FINAL_ROUNDS; k++) {
            clgrad__tuned_trial(T->ctx, &def, NULL);
            double x = k ? once(T, red_work, &c[i]) : (once(T, red_work, &c[i]), once(T, red_work, &c[i]));
            if (x > 0 && (td < 0 || x < td)) td = x;
            clgrad__tuned_trial(T->ctx, &cur, NULL);
            x = k ? once(T, red_work, &c[i]) : (once(T, red_work, &c[i]), once(T, red_work, &c[i]));
            if (x > 0 && (tw < 0 || x < tw)) tw = x;
        }
        cJSON_AddItemToArray(rows, shape_row(c[i].name, td, tw));
        if (td < 0 || tw < 0 || tw > td * (1.0 + NOISE)) ok = 0;
    }
    *accepted = ok;
    if (ok) *out = cur;
    cJSON_AddBoolToObject(r, "accepted", ok);
done:
    clgrad__tuned_trial_end(T->ctx);
    for (int i = 0; i < N_RED; i++) clgrad_tensor_release(c[i].x);
}

/* ============================ the run ========================================================== */

clgrad_status clgrad_context_tune(clgrad_context *ctx, const clgrad_tune_options *opts)
{
    if (!ctx) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_context_tune: ctx is NULL");
    char *path = clgrad__tuned_path(ctx);
    if (!path)
        return clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED,
                            "clgrad_context_tune: no cache folder to keep the results in (see clgrad_context_desc)");
    free(path);
    if (opts && !(opts->budget_seconds <= 1e6))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_context_tune: budget %g is not a number of seconds",
                            opts->budget_seconds);
    tuner T = {.ctx = ctx, .o = opts, .t0 = clgrad__now()};
    T.budget = opts && opts->budget_seconds > 0 ? opts->budget_seconds : 60.0;
    CLGRAD_TRY(clgrad_context_finish(ctx));
    /* our kernels only while tuning (no provider measurement per candidate) */
    clgrad__gemm_provider saved = clgrad__gemm_forced_provider(ctx);
    CLGRAD_TRY(clgrad__gemm_set_provider(ctx, CLGRAD__GEMM_OWN));

    cJSON *report = cJSON_CreateObject(), *measured = NULL;
    if (!report) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory");
    cJSON_AddNumberToObject(report, "budget_seconds", T.budget);
    clgrad__ops_params dops, cops, rops;
    clgrad__gemm_choice dgemm, gemm;
    clgrad__tuned_defaults(ctx, &dops, &dgemm);
    int g_ok = 0, c_ok = 0, r_ok = 0;

    stage_begin(&T, "gemm", 0.0, 0.55);
    tune_gemm(&T, &gemm, &g_ok, report);
    stage_begin(&T, "conv", 0.55, 0.8);
    tune_conv(&T, g_ok ? &gemm : &dgemm, &dgemm, &cops, &c_ok, report);
    stage_begin(&T, "reduce", 0.8, 1.0);
    tune_reduce(&T, c_ok ? &cops : &dops, &rops, &r_ok, report);

    clgrad__gemm_set_provider(ctx, saved);
    cJSON_AddNumberToObject(report, "seconds", clgrad__now() - T.t0);
    cJSON_AddNumberToObject(report, "candidates_checked", T.checked);
    cJSON_AddNumberToObject(report, "candidates_rejected", T.rejected);
    /* the file keeps what was accepted; the others stay at the table values */
    unsigned groups = (g_ok ? CLGRAD__TUNED_GEMM : 0) | (c_ok ? CLGRAD__TUNED_CONV : 0) |
                      (r_ok ? CLGRAD__TUNED_REDUCE : 0);
    clgrad__ops_params ops = dops;
    if (c_ok)
        ops.conv_direct_c1 = cops.conv_direct_c1, ops.row_kernels = cops.row_kernels, ops.conv_wg = cops.conv_wg,
        ops.conv_chunk_kb = cops.conv_chunk_kb, ops.conv_per_image = cops.conv_per_image;
    if (r_ok)
        ops.red_vec_wg = rops.red_vec_wg, ops.red_colwg_items = rops.red_colwg_items, ops.sum_cw = rops.sum_cw,
        ops.red_colwg = rops.red_colwg, ops.red_rows_long = rops.red_rows_long;
    measured = cJSON_Duplicate(report, 1);
    clgrad_status st = clgrad__tuned_store(ctx, groups, &ops, g_ok ? &gemm : &dgemm, measured);
    clgrad__tuned_set_last_run(ctx, report);
    if (opts && opts->progress) opts->progress(opts->user, 1.0, "done");
    return st;
}
