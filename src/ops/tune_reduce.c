/* The reduction stage of the tuner: work-group sizes, the column kernel's lanes and the
 * ordered sum's block width, checked against double sums on the host before they are
 * timed. */
#include "ops/reduce.h"
#include "ops/tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct red_case {
    const char *name;
    int ndim;
    int64_t shape[4];
    uint32_t mask;
    clgrad_tensor *x;
} red_case;

static clgrad_status red_work(clgrad__tuner *T, void *arg)
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
static int red_check(clgrad__tuner *T)
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
            clgrad__tune_fill(h, (size_t)n, 7 + i);
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
                 clgrad__tune_close_to(got, want, scale, (size_t)no);
        }
        clgrad_tensor_release(y);
        clgrad_tensor_release(c->x);
        free(h), free(got), free(want), free(scale);
    }
    if (!ok) T->rejected++;
    return ok;
}

static const clgrad__tune_coord red_coords[] = {
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
static double red_score(clgrad__tuner *T, red_case *c, const clgrad__ops_params *p, double *t)
{
    clgrad__tuned_trial(T->ctx, p, NULL);
    if (!red_check(T)) return -1.0;
    double sum = 0;
    for (int i = 0; i < N_RED; i++) {
        if ((t[i] = clgrad__tune_best_of(T, red_work, &c[i], 3)) < 0) return -1.0;
        sum += t[i];
    }
    return sum;
}

void clgrad__tune_reduce(clgrad__tuner *T, const clgrad__ops_params *base, clgrad__ops_params *out, int *accepted,
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
    for (int pass = 0, improved = 1; improved && pass < 2 && clgrad__tune_time_left(T); pass++) {
        improved = 0;
        for (size_t ci = 0; ci < sizeof red_coords / sizeof red_coords[0] && clgrad__tune_time_left(T); ci++)
            for (int vi = 0; vi < red_coords[ci].n && clgrad__tune_time_left(T); vi++) {
                clgrad__ops_params cand = cur;
                if (*red_coord(&cand, (int)ci) == red_coords[ci].v[vi]) continue;
                *red_coord(&cand, (int)ci) = red_coords[ci].v[vi];
                double s = red_score(T, c, &cand, t);
                clgrad__tune_progress(T);
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
        double td, tw;
        clgrad__tune_interleave(T, red_work, &c[i], &def, NULL, &cur, NULL, &td, &tw);
        cJSON_AddItemToArray(rows, clgrad__tune_shape_row(c[i].name, td, tw));
        if (td < 0 || tw < 0 || tw > td * (1.0 + NOISE)) ok = 0;
    }
    *accepted = ok;
    if (ok) *out = cur;
    cJSON_AddBoolToObject(r, "accepted", ok);
done:
    clgrad__tuned_trial_end(T->ctx);
    for (int i = 0; i < N_RED; i++) clgrad_tensor_release(c[i].x);
}
