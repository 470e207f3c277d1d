/* See dist_models.h. Public API only. */
#include "dist_models.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CNN_HW 12
#define LSTM_T 6
#define LSTM_I 5
#define LSTM_H 16
#define CLASSES 10
#define LSTM_CLASSES 4

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

const char *dm_name(dm_kind kind)
{
    return kind == DM_CNN ? "cnn" : kind == DM_LSTM ? "lstm" : "cnn+batchnorm";
}

void dm_data_make(dm_data *d, dm_kind kind, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->n = DM_SAMPLES;
    if (kind == DM_LSTM) {
        d->ndim = 2;
        d->shape[0] = LSTM_T;
        d->shape[1] = LSTM_I;
    } else {
        d->ndim = 3;
        d->shape[0] = 1;
        d->shape[1] = CNN_HW;
        d->shape[2] = CNN_HW;
    }
    d->sample = 1;
    for (int i = 0; i < d->ndim; i++) d->sample *= d->shape[i];
    d->x = malloc((size_t)(d->n * d->sample) * sizeof *d->x);
    d->y = malloc((size_t)d->n * sizeof *d->y);
    uint64_t s = seed;
    int classes = kind == DM_LSTM ? LSTM_CLASSES : CLASSES;
    for (int64_t i = 0; i < d->n; i++) {
        double sum = 0;
        for (int64_t j = 0; j < d->sample; j++) {
            float v = (float)((double)(splitmix(&s) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
            /* an offset per class of the first values, so that there is something to learn */
            d->x[i * d->sample + j] = v;
            sum += v * (double)((j % 7) - 3);
        }
        d->y[i] = (int32_t)((uint64_t)(fabs(sum) * 3.0) % (uint64_t)classes);
    }
}

void dm_data_free(dm_data *d)
{
    free(d->x);
    free(d->y);
    memset(d, 0, sizeof *d);
}

static clgrad_status add(clgrad_module *seq, clgrad_status s, clgrad_module *child)
{
    if (s != CLGRAD_OK) {
        clgrad_module_release(child);
        return s;
    }
    return clgrad_sequential_add(seq, child);
}

clgrad_status dm_model(clgrad_context *ctx, dm_kind kind, uint64_t seed, clgrad_module **out)
{
    clgrad_module *m = NULL, *c = NULL;
    *out = NULL;
    clgrad_status s = clgrad_sequential_create(ctx, &m);
    if (s != CLGRAD_OK) return s;
    clgrad_conv2d_params p1 = {.padding = {1, 1}};
    clgrad_pool2d_params pool = {.kernel = {2, 2}};
    if (kind == DM_CNN) {
        c = NULL, s = clgrad_conv2d_create(ctx, 1, 6, 3, 3, &p1, 1, seed, &c), s = add(m, s, c);
        c = NULL, s = s ? s : clgrad_activation_create(ctx, CLGRAD_ACT_RELU, 0, 0, &c), s = add(m, s, c);
        c = NULL, s = s ? s : clgrad_max_pool2d_create(ctx, &pool, &c), s = add(m, s, c);
        c = NULL, s = s ? s : clgrad_conv2d_create(ctx, 6, 8, 3, 3, &p1, 1, seed + 1, &c), s = add(m, s, c);
        c = NULL, s = s ? s : clgrad_activation_create(ctx, CLGRAD_ACT_RELU, 0, 0, &c), s = add(m, s, c);
        c = NULL, s = s ? s : clgrad_max_pool2d_create(ctx, &pool, &c), s = add(m, s, c);
        c = NULL, s = s ? s : clgrad_flatten_create(ctx, 1, -1, &c), s = add(m, s, c);
        c = NULL, s = s ? s : clgrad_linear_create(ctx, 8 * 3 * 3, CLASSES, 1, seed + 2, &c), s = add(m, s, c);
    } else if (kind == DM_BN) {
        c = NULL, s = clgrad_conv2d_create(ctx, 1, 4, 3, 3, &p1, 1, seed, &c), s = add(m, s, c);
        c = NULL, s = s ? s : clgrad_batch_norm2d_create(ctx, 4, 1e-5f, 0.1f, 1, &c), s = add(m, s, c);
        c = NULL, s = s ? s : clgrad_activation_create(ctx, CLGRAD_ACT_RELU, 0, 0, &c), s = add(m, s, c);
        c = NULL, s = s ? s : clgrad_max_pool2d_create(ctx, &pool, &c), s = add(m, s, c);
        c = NULL, s = s ? s : clgrad_flatten_create(ctx, 1, -1, &c), s = add(m, s, c);
        c = NULL, s = s ? s : clgrad_linear_create(ctx, 4 * 6 * 6, CLASSES, 1, seed + 2, &c), s = add(m, s, c);
    } else {
        c = NULL, s = clgrad_rnn_create(ctx, CLGRAD_LSTM, LSTM_I, LSTM_H, 1, 1, 1, seed, &c), s = add(m, s, c);
        c = NULL, s = s ? s : clgrad_linear_create(ctx, LSTM_H, LSTM_CLASSES, 1, seed + 2, &c), s = add(m, s, c);
    }
    if (s != CLGRAD_OK) {
        clgrad_module_release(m);
        return s;
    }
    *out = m;
    return CLGRAD_OK;
}

clgrad_status dm_loss(clgrad_module *m, dm_kind kind, clgrad_tensor *x, clgrad_tensor *y, clgrad_tensor **loss)
{
    clgrad_tensor *logits = NULL;
    clgrad_status s;
    if (kind == DM_LSTM) { /* the last step of the sequence into the linear layer */
        clgrad_tensor *seq = NULL, *last = NULL, *flat = NULL;
        int64_t n = clgrad_tensor_dim(x, 0), shape[2] = {n, LSTM_H};
        s = clgrad_rnn_forward(clgrad_module_child(m, 0, NULL), x, NULL, NULL, &seq, NULL, NULL);
        if (s == CLGRAD_OK) s = clgrad_slice(seq, 1, LSTM_T - 1, LSTM_T, 1, &last);
        if (s == CLGRAD_OK) s = clgrad_reshape(last, 2, shape, &flat);
        if (s == CLGRAD_OK) s = clgrad_module_forward(clgrad_module_child(m, 1, NULL), flat, &logits);
        clgrad_tensor_release(seq);
        clgrad_tensor_release(last);
        clgrad_tensor_release(flat);
    } else {
        s = clgrad_module_forward(m, x, &logits);
    }
    if (s == CLGRAD_OK) s = clgrad_cross_entropy(logits, y, 0.0f, CLGRAD_REDUCTION_MEAN, loss);
    clgrad_tensor_release(logits);
    return s;
}

static void sleep_for(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
}

clgrad_status dm_train_run(clgrad_dist *g, clgrad_module *m, const dm_data *d, const dm_train *t)
{
    clgrad_context *ctx = clgrad_module_context(m);
    int rank = g ? clgrad_dist_rank(g) : 0, size = g ? clgrad_dist_size(g) : 1;
    clgrad_dist_sampler *smp = NULL;
    clgrad_optim *opt = NULL;
    clgrad_optim_options o = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.05f);
    o.momentum = 0.9f;
    clgrad_status s = clgrad_dist_sampler_create(d->n, t->global_batch, rank, size, t->data_seed, 1, &smp);
    if (s == CLGRAD_OK) s = clgrad_optim_create(m, &o, &opt);
    int64_t b = clgrad_dist_sampler_local_batch(smp), spe = clgrad_dist_sampler_steps(smp);
    int64_t *idx = malloc((size_t)(b > 0 ? b : 1) * sizeof *idx);
    float *xh = malloc((size_t)((b > 0 ? b : 1) * d->sample) * sizeof *xh);
    int32_t *yh = malloc((size_t)(b > 0 ? b : 1) * sizeof *yh);
    for (int step = 0; s == CLGRAD_OK && step < t->steps; step++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int64_t n = 0;
        s = clgrad_dist_sampler_set_epoch(smp, (uint64_t)(step / spe));
        if (s == CLGRAD_OK) s = clgrad_dist_sampler_indices(smp, step % spe, idx, b, &n);
        for (int64_t i = 0; s == CLGRAD_OK && i < n; i++) {
            memcpy(xh + i * d->sample, d->x + idx[i] * d->sample, (size_t)d->sample * sizeof *xh);
            yh[i] = d->y[idx[i]];
        }
        int64_t xs[4] = {n, d->shape[0], d->shape[1], d->shape[2]}, ys[1] = {n};
        if (rank == t->fail_rank && step == t->fail_step) xs[1] += 1, xs[2] = 1; /* a batch of the wrong shape */
        clgrad_tensor *x = NULL, *y = NULL, *loss = NULL;
        if (s == CLGRAD_OK) {
            if (rank == t->fail_rank && step == t->fail_step) s = clgrad_tensor_zeros(ctx, CLGRAD_DTYPE_F32, 1 + d->ndim, xs, &x);
            else s = clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_F32, 1 + d->ndim, xs, xh, &x);
        }
        if (s == CLGRAD_OK) s = clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_I32, 1, ys, yh, &y);
        if (s == CLGRAD_OK) s = dm_loss(m, d->kind, x, y, &loss);
        if (s == CLGRAD_OK) s = clgrad_backward(loss);
        if (rank == t->stall_rank && step == t->stall_step) sleep_for(t->stall_seconds);
        if (g) s = clgrad_dist_sync(g, s);
        if (s == CLGRAD_OK) s = clgrad_optim_step(opt);
        clgrad_optim_zero_grad(opt);
        clgrad_tensor_release(loss);
        clgrad_tensor_release(y);
        clgrad_tensor_release(x);
        if (t->step_seconds) {
            if (s == CLGRAD_OK) s = clgrad_context_finish(ctx);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            t->step_seconds[step] = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        }
    }
    if (s == CLGRAD_OK) s = clgrad_context_finish(ctx);
    free(idx);
    free(xh);
    free(yh);
    clgrad_optim_release(opt);
    clgrad_dist_sampler_release(smp);
    return s;
}

float *dm_weights(const clgrad_module *m, size_t *n)
{
    int np = clgrad_module_param_count(m), nb = clgrad_module_buffer_count(m);
    size_t total = 0;
    for (int i = 0; i < np + nb; i++) {
        clgrad_tensor *t = i < np ? clgrad_module_param(m, i, NULL) : clgrad_module_buffer(m, i - np, NULL);
        total += (size_t)clgrad_tensor_numel(t);
    }
    float *w = malloc((total ? total : 1) * sizeof *w);
    size_t off = 0;
    for (int i = 0; w && i < np + nb; i++) {
        clgrad_tensor *t = i < np ? clgrad_module_param(m, i, NULL) : clgrad_module_buffer(m, i - np, NULL);
        size_t k = (size_t)clgrad_tensor_numel(t);
        if (clgrad_tensor_read(t, w + off, k * sizeof *w) != CLGRAD_OK) {
            free(w);
            return NULL;
        }
        off += k;
    }
    *n = total;
    return w;
}

double dm_rel_diff(const float *a, const float *b, size_t n)
{
    double dmax = 0, bmax = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (e > dmax || e != e) dmax = e;
        if (fabs((double)b[i]) > bmax) bmax = fabs((double)b[i]);
    }
    return bmax > 0 ? dmax / bmax : dmax;
}

double dm_elem_rel_diff(const float *a, const float *b, size_t n, double floor)
{
    double r = 0;
    for (size_t i = 0; i < n; i++) {
        double bb = fabs((double)b[i]);
        if (bb < floor) continue;
        double e = fabs((double)a[i] - (double)b[i]) / bb;
        if (e > r || e != e) r = e;
    }
    return r;
}
