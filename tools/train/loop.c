/* The training loop of clgrad-train: data, network and optimizer set-up, the epochs
 * (train_epoch: batches, each one train_step; then validation and test in no-grad eval
 * mode), learning-rate schedules, gradient clipping, augmentation, early stopping with the
 * best checkpoint kept beside the last, checkpoints after every epoch (state.c), and
 * Ctrl-C: the signal handler only sets a flag, and the loop saves a checkpoint at the next
 * batch boundary and exits with status 130. */
#include "train.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile sig_atomic_t train_interrupted = 0;

static void on_signal(int sig)
{
    (void)sig;
    train_interrupted = 1;
}

void install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends the program at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}


_Thread_local clgrad_status run_fail_status = CLGRAD_OK;

/* Whether msg reports another rank's failure ("rank R of N ..." with R not this rank). */
static int names_other_rank(const run *r, const char *msg)
{
    int who = -1, n = 0;
    return sscanf(msg, "rank %d of %d", &who, &n) == 2 && who != r->rank;
}

int run_fail(const run *r, clgrad_status s, const char *what)
{
    run_fail_status = s;
    const char *msg = clgrad_last_error(r && r->ctx ? r->ctx : NULL);
    if (r && r->ctx && !msg[0]) msg = clgrad_last_error(NULL);
    if (r && r->size > 1) {
        /* Another rank's failure, as the group reports it: rank 0 says it for every rank. */
        if ((r->remote_failure || names_other_rank(r, msg)) && r->rank != 0) return TRAIN_EXIT_FAIL;
        fprintf(stderr, "clgrad-train: rank %d of %d: %s: %s: %s\n", r->rank, r->size, what, clgrad_status_name(s),
                msg);
        return TRAIN_EXIT_FAIL;
    }
    fprintf(stderr, "clgrad-train: %s: %s: %s\n", what, clgrad_status_name(s), msg);
    return TRAIN_EXIT_FAIL;
}

static clgrad_optim_kind optim_kind(const char *name)
{
    return strcmp(name, "adam") == 0 ? CLGRAD_OPTIM_ADAM
         : strcmp(name, "adamw") == 0 ? CLGRAD_OPTIM_ADAMW : CLGRAD_OPTIM_SGD;
}

/* ---------------------------------------------------------------------------------------
 * Batches: upload, augmentation
 * ------------------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Random crop (zero padding of pad pixels, as torchvision's RandomCrop pads a black
 * border) and horizontal flip of n images (C, H, W) in r->x, drawn from (seed, epoch,
 * batch, position in the batch) so that a resumed run repeats them and the ranks of a group
 * draw what one process would (first: the position of the first image in the batch). */
static void augment_batch(run *r, int64_t epoch, int64_t b, int64_t first, int64_t n)
{
    const char *aug = r->a->augment;
    int flip = strstr(aug, "flip") != NULL, pad = 0;
    const char *c = strstr(aug, "crop");
    if (c) pad = atoi(c + 4);
    const data_desc *d = &r->td.d;
    int64_t C = r->net.in_shape[0], H = r->net.in_shape[1], W = r->net.in_shape[2];
    float *src = malloc((size_t)(H * W) * sizeof *src);
    if (!src) return;
    for (int64_t i = 0; i < n; i++) {
        uint64_t rnd = mix64(r->seed ^ mix64((uint64_t)epoch * 0x100000001ull + (uint64_t)b) ^
                             mix64((uint64_t)(first + i) + 77));
        int dy = pad ? (int)(rnd % (uint64_t)(2 * pad + 1)) - pad : 0;
        int dx = pad ? (int)((rnd >> 16) % (uint64_t)(2 * pad + 1)) - pad : 0;
        int fl = flip && ((rnd >> 40) & 1);
        for (int64_t ch = 0; ch < C; ch++) {
            float *img = r->x + (i * C + ch) * H * W;
            int k = d->norm_n > ch ? (int)ch : 0;
            float fillv = -d->mean[k] / d->std[k]; /* a zero pixel, normalised */
            memcpy(src, img, (size_t)(H * W) * sizeof *src);
            for (int64_t yy = 0; yy < H; yy++) {
                int64_t sy = yy + dy;
                for (int64_t xx = 0; xx < W; xx++) {
                    int64_t sx = (fl ? W - 1 - xx : xx) + dx;
                    img[yy * W + xx] = sy < 0 || sy >= H || sx < 0 || sx >= W ? fillv : src[sy * W + sx];
                }
            }
        }
    }
    free(src);
}

/* Uploads batch b of ds (in its current order) as x and y tensors; *n gets its size.
 * Regression targets are standardised with the training statistics. epoch >= 0 marks a
 * training batch (augmented when asked). In a group, this rank's share of batch b: the
 * distributed sampler's, which for a dataset shuffled as every rank shuffles it is the
 * dataset's batch b * size + rank of local_batch samples. */
static clgrad_status upload_batch(run *r, const clgrad_dataset *ds, int64_t b, int64_t epoch, clgrad_tensor **x,
                                  clgrad_tensor **y, int64_t *n)
{
    *x = *y = NULL;
    const data_desc *d = &r->td.d;
    int64_t bi = b, bs = r->batch, first = 0;
    if (r->g) bi = b * r->size + r->rank, bs = r->local_batch, first = (int64_t)r->rank * r->local_batch;
    clgrad_status s = d->regress ? clgrad_dataset_batch_targets(ds, bi, bs, r->x, r->t, n)
                                 : clgrad_dataset_batch(ds, bi, bs, r->x, r->y, n);
    if (s != CLGRAD_OK) return s;
    if (epoch >= 0 && r->a->augment) augment_batch(r, epoch, b, first, *n);
    if (epoch >= 0 && r->g && dist_fault_here(r)) {
        /* CLGRAD_TRAIN_FAULT (failure tests): a batch of the wrong sample shape, as corrupt
         * data would give; the network refuses it with a shape error */
        int64_t shape[5] = {*n};
        memcpy(shape + 1, r->net.in_shape, sizeof(int64_t) * (size_t)r->net.in_nd);
        shape[r->net.in_nd] -= 1;
        return clgrad_tensor_from_host(r->ctx, CLGRAD_DTYPE_F32, 1 + r->net.in_nd, shape, r->x, x) == CLGRAD_OK
                   ? clgrad_tensor_from_host(r->ctx, CLGRAD_DTYPE_I32, 1, n, r->y, y)
                   : CLGRAD_ERR_HOST_MEMORY;
    }
    int64_t shape[5] = {*n};
    memcpy(shape + 1, r->net.in_shape, sizeof(int64_t) * (size_t)r->net.in_nd);
    s = clgrad_tensor_from_host(r->ctx, CLGRAD_DTYPE_F32, 1 + r->net.in_nd, shape, r->x, x);
    if (s != CLGRAD_OK) return s;
    if (d->regress) {
        int64_t ts[2] = {*n, d->n_targets};
        for (int64_t i = 0; i < *n * d->n_targets; i++) r->t[i] = (r->t[i] - d->t_mean) / d->t_std;
        s = clgrad_tensor_from_host(r->ctx, CLGRAD_DTYPE_F32, 2, ts, r->t, y);
    } else {
        s = clgrad_tensor_from_host(r->ctx, CLGRAD_DTYPE_I32, 1, n, r->y, y);
    }
    return s;
}

/* One optimizer step on batch b, enqueued, and the read of its loss started into
 * r->loss_host[step parity] (*read; the caller waits for it after enqueuing the next step,
 * so the device does not wait for the host in between). */
static clgrad_status train_step(run *r, int64_t epoch, int64_t b, int64_t *n, clgrad_pending **read)
{
    clgrad_tensor *x = NULL, *y = NULL, *out = NULL, *l = NULL;
    clgrad_status s = CLGRAD_OK;
    if (r->schedule[0]) s = clgrad_optim_set_lr(r->opt, clgrad_lr_at(&r->sched, r->step));
    clgrad_profile_set_phase(r->ctx, CLGRAD_PROFILE_DATA); /* these do nothing without --profile */
    if (s == CLGRAD_OK) s = upload_batch(r, r->td.train, b, epoch, &x, &y, n);
    clgrad_profile_set_phase(r->ctx, CLGRAD_PROFILE_FORWARD);
    if (s == CLGRAD_OK) s = net_forward(&r->net, r->model, x, &out);
    if (s == CLGRAD_OK)
        s = r->td.d.regress ? clgrad_mse_loss(out, y, CLGRAD_REDUCTION_MEAN, &l)
                            : clgrad_cross_entropy(out, y, 0.0f, CLGRAD_REDUCTION_MEAN, &l);
    if (s == CLGRAD_OK) s = clgrad_backward(l);
    /* In a group: every rank's gradients averaged (or every rank's error) */
    if (r->g) s = dist_sync_step(r, s);
    if (s == CLGRAD_OK && r->clip > 0) s = clgrad_optim_clip_grad_norm(r->opt, (float)r->clip, NULL);
    if (s == CLGRAD_OK) s = clgrad_optim_step(r->opt);
    if (s == CLGRAD_OK) clgrad_optim_zero_grad(r->opt);
    clgrad_profile_set_phase(r->ctx, CLGRAD_PROFILE_DATA);
    float *dst = &r->loss_host[(r->step + 1) & 1];
    if (s == CLGRAD_OK) s = clgrad_tensor_read_start(l, dst, sizeof *dst, read);
    clgrad_tensor_release(l);
    clgrad_tensor_release(out);
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
    if (s == CLGRAD_OK) s = clgrad_profile_step(r->ctx);
    return s;
}

/* Where the kernel binary cache lives, as the library picks it. */
static void cache_dir(char *buf, size_t cap)
{
    const char *e = getenv("CLGRAD_CACHE_DIR"), *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    if (e && (!e[0] || !strcmp(e, "off"))) snprintf(buf, cap, "nowhere (CLGRAD_CACHE_DIR=%s)", e);
    else if (e) snprintf(buf, cap, "%s", e);
    else if (x && x[0]) snprintf(buf, cap, "%s/clgrad", x);
    else snprintf(buf, cap, "%s/.cache/clgrad", h ? h : "~");
}

static double build_seconds(const run *r)
{
    clgrad_context_stats st;
    return clgrad_context_get_stats(r->ctx, &st) == CLGRAD_OK ? st.build_seconds : 0;
}

/* After the first step: say once that kernels were built for this device, and where they
 * are kept. */
static void build_notice(run *r, double first_batch_s)
{
    clgrad_context_stats st;
    if (r->notice_done || clgrad_context_get_stats(r->ctx, &st) != CLGRAD_OK) return;
    r->notice_done = 1;
    if (st.programs_built == 0 || r->a->quiet) return;
    char dir[4096];
    cache_dir(dir, sizeof dir);
    fprintf(stderr, "clgrad-train: first run on this device: the first batch took %.1f s compiling kernels (%d clgrad "
                    "programs built in %.1f s, and what the OpenCL driver compiles on first launch); it is not counted "
                    "in samples/s or time left. The programs are cached in %s for later runs\n",
            first_batch_s, st.programs_built, st.build_seconds - r->build0, dir);
}

/* ---------------------------------------------------------------------------------------
 * Epochs
 * ------------------------------------------------------------------------------------- */

static void print_epoch(const run *r, const train_epoch_row *row, const train_metrics *val, const train_metrics *test,
                        int resumed)
{
    const data_desc *d = &r->td.d;
    char tb[32], part[160] = "";
    printf("epoch %d/%d: train loss %.4f", row->epoch, r->a->epochs, row->train_loss);
    if (val && d->regress) printf("  val loss %.4f  val RMSE %.4g", val->loss, val->rmse);
    else if (val) printf("  val loss %.4f  val accuracy %.2f%%", val->loss, 100 * val->acc);
    if (test && d->regress) printf("  test loss %.4f  test RMSE %.4g", test->loss, test->rmse);
    else if (test) printf("  test loss %.4f  test accuracy %.2f%%", test->loss, 100 * test->acc);
    if (r->schedule[0]) snprintf(part, sizeof part, ", lr %.3g", (double)clgrad_optim_get_lr(r->opt));
    printf("  (%s, %.0f samples/s%s%s)\n", train_fmt_time(row->epoch_seconds, tb, sizeof tb), row->samples_per_s,
           part, resumed ? ", resumed mid-epoch" : "");
    fflush(stdout);
}

static void write_plot(const run *r)
{
    if (!r->a->plot || r->rank != 0) return;
    const history *h = r->hist;
    plot_series loss[3] = {{"train loss", h->train_loss, 0}, {"validation loss", h->val_loss, 1},
                           {"test loss", h->test_loss, 2}};
    plot_series acc[2] = {{"validation accuracy", h->val_acc, 1}, {"test accuracy", h->test_acc, 2}};
    char title[1200];
    snprintf(title, sizeof title, "clgrad-train %s", r->net.spec);
    if (plot_curves(r->a->plot, h->n, loss, 3, acc, r->td.d.regress ? 0 : 2, title) != 0)
        fprintf(stderr, "clgrad-train: cannot write the plot %s\n", r->a->plot);
}

/* Adds step's loss to the epoch's mean (and prints it with --print-losses). */
static void account_loss(run *r, train_progress *p, double loss, int64_t step)
{
    r->loss_sum += loss;
    r->loss_count++;
    if (r->a->print_losses && r->rank == 0) {
        train_progress_end(p);
        printf("step %" PRId64 " loss %.9g\n", step, loss);
        fflush(stdout);
    }
}

/* Trains one epoch from batch b0; returns 0, or an exit code. */
static int train_epoch(run *r, int64_t epoch, int64_t b0, int64_t nb, train_epoch_row *row)
{
    const train_args *a = r->a;
    train_progress p = {.quiet = a->quiet || r->rank != 0, .every = a->progress_every};
    clgrad_dataset_shuffle(r->td.train, r->seed, (uint64_t)epoch);
    if (r->sampler) clgrad_dist_sampler_set_epoch(r->sampler, (uint64_t)epoch);
    train_progress_begin(&p, (int)epoch + 1, a->epochs, nb, b0);
    /* The run's first batch builds kernels, measures GEMM providers and fills the buffer
     * pool: it is left out of samples/s and time left (when more batches follow). */
    double t0 = now_s(), build_start = build_seconds(r), warm_s = 0;
    int64_t samples = 0, warm_samples = 0;
    /* A step's loss is read while the next step runs: step k's loss is waited for and
     * counted after step k + 1 is enqueued (the last one after the loop). */
    clgrad_pending *inflight = NULL;
    int64_t inflight_step = 0;
    for (int64_t b = b0;; b++) {
        int first_of_run = r->step == r->start_step;
        int stop = b >= nb || (r->g ? r->stop_agreed : train_interrupted);
        int64_t n = 0;
        clgrad_pending *mine = NULL;
        clgrad_status s = stop ? CLGRAD_OK : train_step(r, epoch, b, &n, &mine);
        clgrad_status s2 = clgrad_pending_wait(inflight);
        /* the losses this iteration counts, in step order */
        double lv[2];
        int64_t ls[2];
        int nl = 0;
        if (inflight && s2 == CLGRAD_OK) lv[nl] = r->loss_host[inflight_step & 1], ls[nl++] = inflight_step;
        inflight = NULL;
        if (s == CLGRAD_OK) s = s2;
        if (s == CLGRAD_OK && first_of_run && !stop) {
            /* the run's first step is left out of the timing: wait for all of it */
            s = clgrad_pending_wait(mine);
            if (s == CLGRAD_OK) lv[nl] = r->loss_host[(r->step + 1) & 1], ls[nl++] = r->step + 1;
            mine = NULL;
        }
        if (r->g) {
            /* In a group: the mean loss over the ranks (each a mean over an equal share, so
             * the global batch's mean), and whether Ctrl-C reached any rank, so that every
             * rank stops at the same batch. Every rank counts the same losses here. */
            double v[3] = {train_interrupted ? 1.0 : 0.0, nl > 0 ? lv[0] : 0, nl > 1 ? lv[1] : 0};
            s = dist_sum(r, s, v, (size_t)(1 + nl));
            if (s == CLGRAD_OK) {
                r->stop_agreed = v[0] > 0;
                for (int i = 0; i < nl; i++) lv[i] = v[1 + i] / r->size;
            }
        }
        for (int i = 0; s == CLGRAD_OK && i < nl; i++) account_loss(r, &p, lv[i], ls[i]);
        if (s != CLGRAD_OK) {
            clgrad_pending_wait(mine);
            train_progress_end(&p);
            return run_fail(r, s, "training step failed");
        }
        if (stop) {
            if (b < nb) {
                train_progress_end(&p);
                return run_interrupted(r, epoch, b);
            }
            break;
        }
        r->step++;
        inflight = mine;
        inflight_step = r->step;
        samples += n * r->size; /* every rank takes as many: the global batch */
        if (first_of_run && b + 1 < nb) {
            /* the profile, like samples/s, leaves the first batch out */
            if (a->profile && !r->profiling) {
                s = clgrad_profile_begin(r->ctx);
                if (s != CLGRAD_OK) {
                    train_progress_end(&p);
                    return run_fail(r, s, "cannot start the profile");
                }
                r->profiling = 1;
            }
            double t = now_s();
            warm_s = t - t0;
            warm_samples = samples;
            p.t_start = t;
            p.start_done = b + 1;
            build_start = build_seconds(r);
        }
        if (!r->notice_done && r->rank == 0) {
            train_progress_end(&p);
            build_notice(r, now_s() - t0);
        }
        p.excluded = build_seconds(r) - build_start;
        train_progress_update(&p, b + 1, samples - warm_samples,
                              r->loss_count ? r->loss_sum / (double)r->loss_count : NAN);
    }
    double t_wall = now_s() - t0, t_train = t_wall - warm_s - (build_seconds(r) - build_start);
    train_progress_end(&p);
    if (r->g ? r->stop_agreed : train_interrupted) return run_interrupted(r, epoch, nb);
    row->epoch = (int)epoch + 1;
    row->step = r->step;
    row->train_loss = r->loss_count ? r->loss_sum / (double)r->loss_count : NAN;
    row->epoch_seconds = t_wall;
    row->samples_per_s = t_train > 0 ? (samples - warm_samples) / t_train : 0;
    row->lr = clgrad_optim_get_lr(r->opt);
    clgrad_context_stats st;
    row->device_peak_bytes = clgrad_context_get_stats(r->ctx, &st) == CLGRAD_OK ? (double)st.peak_device_bytes : NAN;
    return 0;
}

/* --profile: the record of the steps after the run's first, as tables. */
static int print_profile(run *r)
{
    if (!r->profiling) {
        printf("profile: none (the run had no step after its first, which builds kernels)\n");
        return 0;
    }
    r->profiling = 0;
    clgrad_status s = clgrad_profile_end(r->ctx);
    if (s != CLGRAD_OK) return run_fail(r, s, "cannot end the profile");
    size_t n = clgrad_profile_report(r->ctx, NULL, 0) + 1;
    char *text = malloc(n);
    if (!text) return run_fail(r, CLGRAD_ERR_HOST_MEMORY, "out of memory");
    clgrad_profile_report(r->ctx, text, n);
    printf("\n%s", text);
    free(text);
    fflush(stdout);
    return 0;
}

/* Early stopping on the validation loss: saves the best checkpoint; returns 1 when the run
 * should stop. */
static int early_stop_check(run *r, int epoch, const train_metrics *val)
{
    if (!val || !isfinite(val->loss)) return 0;
    if (r->best_epoch == 0 || val->loss < r->best) {
        r->best = val->loss;
        r->best_epoch = epoch;
        r->bad_epochs = 0;
        if (r->ckpt_template[0]) {
            run_best_path(r, r->best_path, sizeof r->best_path);
            clgrad_status s = run_save_checkpoint_to(r, r->best_path, epoch, 0);
            if (s != CLGRAD_OK) run_fail(r, s, "saving the best checkpoint failed");
        }
        return 0;
    }
    r->bad_epochs++;
    return r->a->early_stop > 0 && r->bad_epochs >= r->a->early_stop;
}

static int train_loop(run *r, int64_t start_epoch, int64_t start_batch)
{
    const train_args *a = r->a;
    train_metrics last_test = {0};
    int have_test = 0, stopped = 0;
    int64_t epoch;
    for (epoch = start_epoch; epoch < a->epochs; epoch++) {
        int64_t nb = run_steps_per_epoch(r);
        int64_t b0 = epoch == start_epoch ? start_batch : 0;
        if (b0 > nb) b0 = nb;
        if (b0 == 0) r->loss_sum = 0, r->loss_count = 0;
        train_epoch_row row = {.val_loss = NAN, .val_acc = NAN, .test_rmse = NAN, .test_mae = NAN,
                               .test_loss = NAN, .test_acc = NAN};
        int rc = train_epoch(r, epoch, b0, nb, &row);
        if (rc) {
            metrics_free(&last_test);
            return rc;
        }
        double t1 = now_s();
        clgrad_profile_set_phase(r->ctx, CLGRAD_PROFILE_OTHER);
        train_metrics val = {0}, test = {0};
        clgrad_status s = CLGRAD_OK;
        /* In a group the ranks share the evaluation: batches of local_batch samples, rank r
         * taking every size-th from the r-th, the sums added over the ranks; the batches
         * cover what one process's --limit-batches batches of the whole batch would. Batch
         * norm running statistics are rank 0's everywhere first, as in its checkpoint. */
        int eval_batch = r->g ? r->local_batch : r->batch;
        int64_t eval_limit = a->limit_batches > 0 && r->g ? a->limit_batches * r->size : a->limit_batches;
        if (r->g && clgrad_module_buffer_count(r->model) > 0)
            s = clgrad_dist_broadcast_module(r->g, r->model);
        if (s == CLGRAD_OK && r->td.val)
            s = metrics_compute(r->ctx, &r->net, r->model, &r->td.d, r->td.val, eval_batch, eval_limit, r->g, &val);
        if (s == CLGRAD_OK && r->td.test)
            s = metrics_compute(r->ctx, &r->net, r->model, &r->td.d, r->td.test, eval_batch, eval_limit, r->g, &test);
        if (s != CLGRAD_OK) {
            metrics_free(&val), metrics_free(&test), metrics_free(&last_test);
            return run_fail(r, s, "evaluation failed");
        }
        row.eval_seconds = now_s() - t1;
        if (r->td.val) row.val_loss = val.loss, row.val_acc = r->td.d.regress ? NAN : val.acc;
        if (r->td.test) {
            row.test_loss = test.loss;
            row.test_acc = r->td.d.regress ? NAN : test.acc;
            if (r->td.d.regress) row.test_rmse = test.rmse, row.test_mae = test.mae;
        }
        if (!a->quiet && r->rank == 0) print_epoch(r, &row, r->td.val ? &val : NULL, r->td.test ? &test : NULL, b0 > 0);
        train_log_row(r->log, r->log_json, &row); /* r->log is NULL but on rank 0 */
        history *h = r->hist;
        if (h->n < HIST_MAX) {
            h->train_loss[h->n] = row.train_loss, h->val_loss[h->n] = row.val_loss, h->test_loss[h->n] = row.test_loss;
            h->val_acc[h->n] = row.val_acc, h->test_acc[h->n] = row.test_acc;
            h->n++;
        }
        write_plot(r);
        r->loss_sum = 0;
        r->loss_count = 0;
        stopped = early_stop_check(r, (int)epoch + 1, r->td.val ? &val : NULL);
        metrics_free(&last_test);
        last_test = test;
        have_test = r->td.test != NULL;
        metrics_free(&val);
        s = run_save_checkpoint(r, epoch + 1, 0);
        if (s != CLGRAD_OK) {
            metrics_free(&last_test);
            return run_fail(r, s, "saving the checkpoint failed");
        }
        int interrupted = train_interrupted;
        if (r->g) {
            /* every rank takes rank 0's early-stopping decision, and stops when any was
             * interrupted */
            double v[2] = {r->rank == 0 && stopped ? 1.0 : 0.0, train_interrupted ? 1.0 : 0.0};
            s = dist_sum(r, CLGRAD_OK, v, 2);
            if (s != CLGRAD_OK) {
                metrics_free(&last_test);
                return run_fail(r, s, "training stopped");
            }
            stopped = v[0] > 0;
            interrupted = v[1] > 0;
        }
        if (interrupted) {
            metrics_free(&last_test);
            return run_interrupted(r, epoch + 1, 0);
        }
        if (stopped) {
            if (r->rank == 0)
                printf("early stop: no validation improvement for %d epochs; the best was epoch %d (val loss %.4f)%s%s\n",
                       r->bad_epochs, r->best_epoch, r->best, r->best_path[0] ? ", saved to " : "", r->best_path);
            epoch++;
            break;
        }
    }
    if (r->rank != 0) {
        metrics_free(&last_test);
        return 0; /* rank 0 reports */
    }
    if (epoch == start_epoch) {
        printf("nothing to do: the checkpoint is already at epoch %" PRId64 " of %d\n", start_epoch, a->epochs);
    } else if (have_test && r->td.d.regress) {
        printf("final: test RMSE %.4g, MAE %.4g, R^2 %.4f after %" PRId64 " epochs (%" PRId64 " steps)\n",
               last_test.rmse, last_test.mae, last_test.r2, epoch, r->step);
    } else if (have_test) {
        printf("final: test accuracy %.2f%%, test loss %.4f after %" PRId64 " epochs (%" PRId64 " steps)\n",
               100 * last_test.acc, last_test.loss, epoch, r->step);
    } else {
        printf("final: after %" PRId64 " epochs (%" PRId64 " steps)\n", epoch, r->step);
    }
    if (r->best_epoch && r->td.val && !stopped && r->best_path[0])
        printf("best: epoch %d (val loss %.4f), saved to %s\n", r->best_epoch, r->best, r->best_path);
    metrics_free(&last_test);
    return a->profile ? print_profile(r) : 0;
}

/* ---------------------------------------------------------------------------------------
 * Set-up
 * ------------------------------------------------------------------------------------- */

/* The spec (--net, the --model preset, or the --resume file's) parsed into r->net. */
static int choose_net(run *r, const char *resumed_spec)
{
    const train_args *a = r->a;
    const char *spec = resumed_spec;
    if (!spec && a->net) spec = a->net;
    if (!spec) spec = net_preset(a->model);
    if (a->net && !resumed_spec) snprintf(r->model_name, sizeof r->model_name, "net");
    else if (!resumed_spec) snprintf(r->model_name, sizeof r->model_name, "%s", a->model);
    static char err[8192];
    if (net_parse(spec, &r->net, err, sizeof err) != 0) {
        fprintf(stderr, "clgrad-train: %s", err);
        return TRAIN_EXIT_USAGE;
    }
    return 0;
}

static void print_header(run *r, int64_t start_epoch, int64_t start_batch)
{
    int64_t n_params = 0;
    for (int i = 0; i < clgrad_module_param_count(r->model); i++)
        n_params += clgrad_tensor_numel(clgrad_module_param(r->model, i, NULL));
    const char *name = strcmp(r->model_name, "net") == 0 ? r->net.spec : r->model_name;
    printf("clgrad-train %s: %s (%" PRId64 " parameters), %s lr %g, batch %d, seed %" PRIu64 ", %" PRId64
           " training / %" PRId64 " test samples\ndevice: %s (%s)\n",
           clgrad_version_string(), name, n_params, r->optim_name, r->lr, r->batch, r->seed,
           clgrad_dataset_count(r->td.train), clgrad_dataset_count(r->td.test), clgrad_context_device(r->ctx)->name,
           clgrad_context_device(r->ctx)->platform_name);
    data_report(stdout, &r->td.d, r->td.train, r->td.train_name, 1);
    const data_desc *d = &r->td.d;
    if (d->kind == DATA_IDX && d->norm_n <= 4) {
        printf("normalisation (from the training images, per channel): mean");
        for (int c = 0; c < d->norm_n; c++) printf(" %.4f", (double)d->mean[c]);
        printf(", std");
        for (int c = 0; c < d->norm_n; c++) printf(" %.4f", (double)d->std[c]);
        printf("\n");
    } else {
        printf("normalisation: %d %s%s to mean 0, std 1 (statistics of the training samples)%s\n", d->norm_n,
               d->kind == DATA_IDX ? "channel" : "input column", d->norm_n == 1 ? "" : "s",
               d->regress ? "; the target too" : "");
    }
    if (r->td.val) printf("validation: %" PRId64 " samples (%s)\n", clgrad_dataset_count(r->td.val), r->td.val_name);
    if (r->a->resume)
        printf("resuming from %s at epoch %" PRId64 ", batch %" PRId64 " (step %" PRId64 ")\n", r->a->resume,
               start_epoch + 1, start_batch, r->step);
    fflush(stdout);
}

static int check_options(const run *r)
{
    const train_args *a = r->a;
    if (a->early_stop > 0 && !r->td.val) {
        fprintf(stderr, "clgrad-train: --early-stop needs a validation set: --val-split F or --val FILE\n");
        return TRAIN_EXIT_USAGE;
    }
    if (a->augment) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", a->augment);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int pad = 0;
            char tail;
            if (strcmp(t, "flip") != 0 && !(sscanf(t, "crop%d%c", &pad, &tail) == 1 && pad >= 1 && pad <= 64)) {
                fprintf(stderr, "clgrad-train: --augment: bad part '%s'; allowed: cropN (random crop after N pixels "
                                "of zero padding, 1 <= N <= 64), flip (horizontal), joined by ','\n", t);
                return TRAIN_EXIT_USAGE;
            }
        }
        if (r->net.in_nd != 3 || r->net.in_shape[2] > 4096) {
            fprintf(stderr, "clgrad-train: --augment is for images (C, H, W) fed to a convolutional network\n");
            return TRAIN_EXIT_USAGE;
        }
    }
    return 0;
}

/* Phase one of a run, host only: the settings (with a --resume file's), the network spec,
 * the data (loaded, normalised as the resumed run was); what every rank starts from. */
int job_prepare(train_job *j, const train_args *a)
{
    memset(j, 0, sizeof *j);
    run *r = &j->proto;
    r->a = a;
    r->size = 1;
    r->lr = a->lr;
    r->momentum = a->momentum;
    r->weight_decay = a->weight_decay;
    r->batch = a->batch;
    r->seed = a->seed;
    r->clip = a->clip_grad_norm;
    r->hist = calloc(1, sizeof *r->hist);
    snprintf(r->schedule, sizeof r->schedule, "%s", a->lr_schedule ? a->lr_schedule : "");
    if (a->optim) snprintf(r->optim_name, sizeof r->optim_name, "%s", a->optim);
    j->meta = calloc(1, sizeof *j->meta);
    if (!j->meta || !r->hist) return run_fail(NULL, CLGRAD_ERR_HOST_MEMORY, "out of memory");
    int rc;
    clgrad_checkpoint_meta *meta = j->meta;
    if (a->resume && (rc = run_resume_settings(r, meta, &j->resumed_spec)) != 0) return rc;
    /* The data is read as the resumed run read it: its seed (splits) and the reading
     * options the command line leaves open. */
    j->eff = *a;
    j->eff.seed = r->seed;
    if (a->resume && clgrad_checkpoint_meta_get(meta, "data.desc")) {
        data_desc stored_desc = {0};
        if ((rc = data_desc_load(meta, &stored_desc, a->resume)) != 0) {
            data_desc_free(&stored_desc);
            return rc;
        }
        run_resume_data_args(&j->eff, &stored_desc, meta);
        data_desc_free(&stored_desc);
    }
    a = r->a = &j->eff;
    if ((rc = choose_net(r, j->resumed_spec)) != 0) return rc;
    if (!r->optim_name[0]) snprintf(r->optim_name, sizeof r->optim_name, "%s", net_default_optim(&r->net));
    /* Default checkpoint: the file resumed from, else one named after the model. */
    if (a->checkpoint)
        snprintf(r->ckpt_template, sizeof r->ckpt_template, "%s", a->checkpoint);
    else if (a->resume)
        snprintf(r->ckpt_template, sizeof r->ckpt_template, "%s", a->resume);
    else
        snprintf(r->ckpt_template, sizeof r->ckpt_template, "clgrad-train-%.63s.safetensors", r->model_name);
    if (!(r->lr > 0)) r->lr = strcmp(r->optim_name, "sgd") == 0 ? 0.01 : 0.001;

    if ((rc = data_load_for_training(a, &r->td)) != 0) return rc;
    if (a->resume && clgrad_checkpoint_meta_get(meta, "data.desc")) {
        /* The normalisation the run started with, as stored. */
        data_desc stored;
        if ((rc = data_desc_load(meta, &stored, a->resume)) != 0) {
            data_desc_free(&stored);
            return rc;
        }
        if (stored.norm_n == r->td.d.norm_n) {
            memcpy(r->td.d.mean, stored.mean, sizeof(float) * (size_t)stored.norm_n);
            memcpy(r->td.d.std, stored.std, sizeof(float) * (size_t)stored.norm_n);
            r->td.d.t_mean = stored.t_mean, r->td.d.t_std = stored.t_std;
            clgrad_dataset_set_normalization(r->td.train, r->td.d.norm_axis, r->td.d.norm_n, r->td.d.mean, r->td.d.std);
        }
        data_desc_free(&stored);
    }
    clgrad_dataset *others[2] = {r->td.val, r->td.test};
    for (int i = 0; i < 2; i++)
        if (others[i] && clgrad_dataset_set_normalization(others[i], r->td.d.norm_axis, r->td.d.norm_n, r->td.d.mean,
                                                          r->td.d.std) != CLGRAD_OK)
            return run_fail(NULL, CLGRAD_ERR_INVALID_ARG, "cannot normalise the held-out data");
    return 0;
}

void job_release(train_job *j)
{
    free(j->proto.hist);
    free(j->meta);
    free((char *)j->resumed_spec);
    data_release(&j->proto.td);
    memset(j, 0, sizeof *j);
}

/* Optimizer steps per epoch: every batch (the last one possibly short) alone, full global
 * batches only in a group (the distributed sampler's); at most --limit-batches. */
int64_t run_steps_per_epoch(const run *r)
{
    int64_t nb = r->sampler ? clgrad_dist_sampler_steps(r->sampler) : clgrad_dataset_n_batches(r->td.train, r->batch);
    if (r->a->limit_batches > 0 && r->a->limit_batches < nb) nb = r->a->limit_batches;
    return nb;
}

/* Phase two, on this rank's thread: r starts as a copy of the job's prototype (r->g,
 * r->rank, r->size and r->rank_device set). Opens the device, builds the network and the
 * optimizer, loads the --resume file. */
int run_open(run *r, const train_job *j)
{
    const train_args *a = r->a;
    clgrad_status s;
    char err[8192];
    history *h = malloc(sizeof *h);
    if (!h) {
        r->hist = NULL;
        return run_fail(r, CLGRAD_ERR_HOST_MEMORY, "out of memory");
    }
    memcpy(h, j->proto.hist, sizeof *h);
    r->hist = h;
    r->local_batch = r->batch / r->size;
    if (r->g) {
        s = clgrad_dist_sampler_create(clgrad_dataset_count(r->td.train), r->batch, r->rank, r->size, r->seed, 1,
                                       &r->sampler);
        if (s != CLGRAD_OK) return run_fail(r, s, "cannot split the batch");
    }
    clgrad_context_desc desc = {.device = r->rank_device ? r->rank_device : a->device,
                                .flags = a->profile ? CLGRAD_CONTEXT_PROFILING : 0};
    s = r->g && !r->rank_device ? clgrad_dist_context_create(r->g, &desc, &r->ctx) : clgrad_context_create(&desc, &r->ctx);
    if (s != CLGRAD_OK) return run_fail(r, s, "cannot open the device");
    r->build0 = build_seconds(r);
    int n_out = r->td.d.regress ? r->td.d.n_targets : r->td.d.n_classes;
    if ((s = net_build(r->ctx, &r->net, r->td.d.sample_nd, r->td.d.sample_shape, n_out, r->seed, &r->model, err,
                       sizeof err)) != CLGRAD_OK) {
        if (r->size > 1) fprintf(stderr, "clgrad-train: rank %d of %d: %s", r->rank, r->size, err);
        else fprintf(stderr, "clgrad-train: %s", err);
        run_fail_status = s;
        return TRAIN_EXIT_FAIL;
    }
    if (a->print_net && r->rank == 0) net_print(stdout, &r->net);
    int rc;
    if ((rc = check_options(r)) != 0) return rc;
    clgrad_optim_options oo = clgrad_optim_defaults(optim_kind(r->optim_name), (float)r->lr);
    if (oo.kind == CLGRAD_OPTIM_SGD) oo.momentum = (float)r->momentum;
    if (r->weight_decay >= 0) oo.weight_decay = (float)r->weight_decay;
    r->weight_decay = oo.weight_decay;
    if ((s = clgrad_optim_create(r->model, &oo, &r->opt)) != CLGRAD_OK)
        return run_fail(r, s, "cannot create the optimizer");
    if (r->schedule[0] && (rc = run_parse_schedule(r, run_steps_per_epoch(r))) != 0) return rc;
    if (a->resume) {
        clgrad_checkpoint_meta *loaded = calloc(1, sizeof *loaded);
        s = loaded ? clgrad_checkpoint_load(a->resume, r->model, r->opt, loaded) : CLGRAD_ERR_HOST_MEMORY;
        if (s != CLGRAD_OK) {
            free(loaded);
            return run_fail(r, s, "cannot resume");
        }
        s = clgrad_optim_set_lr(r->opt, (float)r->lr);
        if (s != CLGRAD_OK) {
            free(loaded);
            return run_fail(r, s, "bad learning rate");
        }
        r->start_epoch = loaded->epoch;
        r->start_batch = loaded->batch;
        r->step = r->start_step = loaded->step;
        free(loaded);
    }
    int64_t ss = clgrad_dataset_sample_size(r->td.train);
    r->x = malloc((size_t)r->batch * (size_t)ss * sizeof *r->x);
    r->y = malloc((size_t)r->batch * sizeof *r->y);
    r->t = malloc((size_t)r->batch * (size_t)(r->td.d.n_targets + 1) * sizeof *r->t);
    if (!r->x || !r->y || !r->t) return run_fail(r, CLGRAD_ERR_HOST_MEMORY, "out of memory");
    if (r->rank == 0 && train_log_open(a->log_path, a->resume != NULL, &r->log, &r->log_json) != 0) {
        fprintf(stderr, "clgrad-train: cannot open the log %s\n", a->log_path);
        return TRAIN_EXIT_FAIL;
    }
    return 0;
}

/* Phase three: the header (rank 0) and the epochs. */
int run_train(run *r)
{
    if (!r->a->quiet && r->rank == 0) {
        print_header(r, r->start_epoch, r->start_batch);
        if (r->g) dist_print_header(r);
    }
    return train_loop(r, r->start_epoch, r->start_batch);
}

/* Frees what run_open made (not the data, which the job owns, nor the group). */
void run_close(run *r)
{
    if (r->log) fclose(r->log);
    r->log = NULL;
    free(r->x);
    free(r->y);
    free(r->t);
    free(r->hist);
    r->x = NULL, r->t = NULL, r->y = NULL, r->hist = NULL;
    clgrad_dist_sampler_release(r->sampler);
    r->sampler = NULL;
    clgrad_optim_release(r->opt);
    clgrad_module_release(r->model);
    clgrad_context_release(r->ctx);
    r->opt = NULL, r->model = NULL, r->ctx = NULL;
}
