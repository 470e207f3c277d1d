/* The training loop of clgrad-train: data, model and optimizer set-up, resuming from a
 * checkpoint, the epochs (train, then evaluate on the test set in no-grad eval mode),
 * checkpoints after every epoch, and Ctrl-C: the signal handler only sets a flag, and the
 * loop saves a checkpoint at the next batch boundary and exits with status 130. */
#include "train.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

volatile sig_atomic_t train_interrupted = 0;

static void on_signal(int sig)
{
    (void)sig;
    train_interrupted = 1;
}

static void install_handlers(void)
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

/* Everything a run holds, so that one cleanup path frees it. */
typedef struct run {
    const train_args *a;
    const char *model_name, *optim_name;
    double lr, momentum, weight_decay; /* weight_decay < 0: the optimizer's default */
    int batch;
    uint64_t seed;
    clgrad_context *ctx;
    clgrad_dataset *train, *test;
    clgrad_module *model;
    clgrad_optim *opt;
    FILE *log;
    int log_json;
    float *x;
    int32_t *y;
    int64_t step, start_step; /* optimizer steps: now, and when this run started */
    double loss_sum;     /* this epoch's losses so far (restored on resume) */
    int64_t loss_count;
    char ckpt_template[4096]; /* --checkpoint, or its default; "" for none */
    char ckpt_path[4096];     /* where the last checkpoint went */
} run;

static int fail(const run *r, clgrad_status s, const char *what)
{
    fprintf(stderr, "clgrad-train: %s: %s: %s\n", what, clgrad_status_name(s),
            clgrad_last_error(r && r->ctx ? r->ctx : NULL));
    return TRAIN_EXIT_FAIL;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* dir/stem, or dir/stem.gz when only that exists. */
static void data_path(char *buf, size_t cap, const char *dir, const char *stem)
{
    snprintf(buf, cap, "%s/%s", dir, stem);
    if (file_exists(buf)) return;
    snprintf(buf, cap, "%s/%s.gz", dir, stem);
}

static clgrad_status load_data(run *r)
{
    char img[4096], lab[4096];
    clgrad_dataset_opts o = {.mean = CLGRAD_FASHION_MNIST_MEAN, .std = CLGRAD_FASHION_MNIST_STD};
    data_path(img, sizeof img, r->a->data_dir, "train-images-idx3-ubyte");
    data_path(lab, sizeof lab, r->a->data_dir, "train-labels-idx1-ubyte");
    clgrad_status s = clgrad_dataset_load_idx(img, lab, &o, &r->train);
    if (s != CLGRAD_OK) return s;
    data_path(img, sizeof img, r->a->data_dir, "t10k-images-idx3-ubyte");
    data_path(lab, sizeof lab, r->a->data_dir, "t10k-labels-idx1-ubyte");
    s = clgrad_dataset_load_idx(img, lab, &o, &r->test);
    if (s != CLGRAD_OK) return s;
    if (clgrad_dataset_sample_size(r->train) != 784 || clgrad_dataset_sample_size(r->test) != 784)
        return CLGRAD_ERR_SHAPE;
    return CLGRAD_OK;
}

static clgrad_optim_kind optim_kind(const char *name)
{
    return strcmp(name, "adam") == 0 ? CLGRAD_OPTIM_ADAM
         : strcmp(name, "adamw") == 0 ? CLGRAD_OPTIM_ADAMW : CLGRAD_OPTIM_SGD;
}

/* Uploads batch b of ds (in its current order) as x and y tensors; *n gets its size. */
static clgrad_status upload_batch(run *r, const clgrad_dataset *ds, int64_t b, clgrad_tensor **x,
                                  clgrad_tensor **y, int64_t *n)
{
    *x = *y = NULL;
    clgrad_status s = clgrad_dataset_batch(ds, b, r->batch, r->x, r->y, n);
    if (s != CLGRAD_OK) return s;
    int64_t shape[4];
    int nd = train_model_input_shape(r->model_name, *n, shape);
    s = clgrad_tensor_from_host(r->ctx, CLGRAD_DTYPE_F32, nd, shape, r->x, x);
    if (s == CLGRAD_OK) s = clgrad_tensor_from_host(r->ctx, CLGRAD_DTYPE_I32, 1, n, r->y, y);
    return s;
}

/* One optimizer step on batch b; *loss gets the batch's mean loss (read back). */
static clgrad_status train_step(run *r, int64_t b, double *loss, int64_t *n)
{
    clgrad_tensor *x = NULL, *y = NULL, *logits = NULL, *l = NULL;
    float v = NAN;
    clgrad_status s = upload_batch(r, r->train, b, &x, &y, n);
    if (s == CLGRAD_OK) s = train_model_forward(r->model_name, r->model, x, &logits);
    if (s == CLGRAD_OK) s = clgrad_cross_entropy(logits, y, 0.0f, CLGRAD_REDUCTION_MEAN, &l);
    if (s == CLGRAD_OK) s = clgrad_backward(l);
    if (s == CLGRAD_OK) s = clgrad_optim_step(r->opt);
    if (s == CLGRAD_OK) clgrad_optim_zero_grad(r->opt);
    if (s == CLGRAD_OK) s = clgrad_tensor_item(l, &v);
    *loss = v;
    clgrad_tensor_release(l);
    clgrad_tensor_release(logits);
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
    return s;
}

/* Test loss and accuracy, in no-grad eval mode. */
static clgrad_status evaluate(run *r, int64_t limit, double *loss, double *acc)
{
    int64_t nb = clgrad_dataset_n_batches(r->test, r->batch);
    if (limit > 0 && limit < nb) nb = limit;
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    int32_t *pred = malloc((size_t)r->batch * sizeof *pred);
    if (!pred) return CLGRAD_ERR_HOST_MEMORY;
    clgrad_status s = CLGRAD_OK;
    clgrad_module_train(r->model, 0);
    clgrad_no_grad_begin(r->ctx);
    for (int64_t b = 0; s == CLGRAD_OK && b < nb; b++) {
        clgrad_tensor *x = NULL, *y = NULL, *logits = NULL, *l = NULL, *am = NULL;
        int64_t n = 0;
        float v = 0;
        s = upload_batch(r, r->test, b, &x, &y, &n);
        if (s == CLGRAD_OK) s = train_model_forward(r->model_name, r->model, x, &logits);
        if (s == CLGRAD_OK) s = clgrad_cross_entropy(logits, y, 0.0f, CLGRAD_REDUCTION_SUM, &l);
        if (s == CLGRAD_OK) s = clgrad_argmax(logits, 1, 0, &am);
        if (s == CLGRAD_OK) s = clgrad_tensor_read(am, pred, (size_t)n * sizeof *pred);
        if (s == CLGRAD_OK) s = clgrad_tensor_item(l, &v);
        if (s == CLGRAD_OK) {
            loss_sum += v;
            seen += n;
            for (int64_t i = 0; i < n; i++) correct += pred[i] == r->y[i];
        }
        clgrad_tensor_release(am);
        clgrad_tensor_release(l);
        clgrad_tensor_release(logits);
        clgrad_tensor_release(y);
        clgrad_tensor_release(x);
    }
    clgrad_no_grad_end(r->ctx);
    clgrad_module_train(r->model, 1);
    free(pred);
    *loss = seen ? loss_sum / (double)seen : NAN;
    *acc = seen ? (double)correct / (double)seen : NAN;
    return s;
}

/* The checkpoint path for a save at (epoch, batch): --checkpoint with "{epoch}" replaced by
 * the number of epochs done, followed by "b<batch>" for a save in the middle of an epoch. */
static void checkpoint_path(const run *r, int64_t epoch, int64_t batch, char *buf, size_t cap)
{
    const char *c = r->ckpt_template, *ph = strstr(c, "{epoch}");
    if (!ph) {
        snprintf(buf, cap, "%s", c);
        return;
    }
    char num[64];
    if (batch > 0)
        snprintf(num, sizeof num, "%" PRId64 "b%" PRId64, epoch, batch);
    else
        snprintf(num, sizeof num, "%" PRId64, epoch);
    snprintf(buf, cap, "%.*s%s%s", (int)(ph - c), c, num, ph + strlen("{epoch}"));
}

static clgrad_status save_checkpoint(run *r, int64_t epoch, int64_t batch)
{
    if (!r->ckpt_template[0]) return CLGRAD_OK;
    checkpoint_path(r, epoch, batch, r->ckpt_path, sizeof r->ckpt_path);
    clgrad_checkpoint_meta m;
    memset(&m, 0, sizeof m);
    m.step = r->step;
    m.epoch = epoch;
    m.batch = batch;
    m.seed = r->seed;
    char buf[64];
    clgrad_status s = clgrad_checkpoint_meta_set(&m, "train.model", r->model_name);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(&m, "train.optim", r->optim_name);
    snprintf(buf, sizeof buf, "%.17g", r->lr);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(&m, "train.lr", buf);
    snprintf(buf, sizeof buf, "%d", r->batch);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(&m, "train.batch", buf);
    snprintf(buf, sizeof buf, "%.17g", r->momentum);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(&m, "train.momentum", buf);
    snprintf(buf, sizeof buf, "%.17g", r->weight_decay);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(&m, "train.weight_decay", buf);
    snprintf(buf, sizeof buf, "%.17g", r->loss_sum);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(&m, "train.epoch_loss_sum", buf);
    snprintf(buf, sizeof buf, "%" PRId64, r->loss_count);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(&m, "train.epoch_loss_count", buf);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_save(r->ckpt_path, r->model, r->opt, &m);
    return s;
}

/* Saves (when a checkpoint path is set) and says how to go on; returns the exit code. */
static int interrupted(run *r, int64_t epoch, int64_t batch)
{
    if (r->step == r->start_step) {
        /* Nothing trained yet: keep whatever checkpoint is on disk. */
        fprintf(stderr, "\nclgrad-train: interrupted before the first step; no checkpoint written\n");
        return TRAIN_EXIT_INTERRUPTED;
    }
    if (!r->ckpt_template[0]) {
        fprintf(stderr, "\nclgrad-train: interrupted at epoch %" PRId64 ", batch %" PRId64
                "; no checkpoint written (--checkpoint is empty)\n", epoch + 1, batch);
        return TRAIN_EXIT_INTERRUPTED;
    }
    clgrad_status s = save_checkpoint(r, epoch, batch);
    if (s != CLGRAD_OK) {
        fail(r, s, "interrupted, and saving the checkpoint failed");
        return TRAIN_EXIT_INTERRUPTED;
    }
    fprintf(stderr, "\nclgrad-train: interrupted at epoch %" PRId64 ", batch %" PRId64 " (step %" PRId64
            "); checkpoint saved to %s\nresume with: clgrad-train --resume %s\n", epoch + 1, batch, r->step,
            r->ckpt_path, r->ckpt_path);
    return TRAIN_EXIT_INTERRUPTED;
}

/* Reads the run's settings from the checkpoint where the command line left them open. */
static int resume_settings(run *r, clgrad_checkpoint_meta *m)
{
    const train_args *a = r->a;
    clgrad_status s = clgrad_checkpoint_read_meta(a->resume, m);
    if (s != CLGRAD_OK) return fail(NULL, s, "cannot resume");
    const char *v;
    if ((v = clgrad_checkpoint_meta_get(m, "train.model")) && !a->explicit_model) r->model_name = v;
    if ((v = clgrad_checkpoint_meta_get(m, "train.optim")) && !a->explicit_optim) r->optim_name = v;
    if ((v = clgrad_checkpoint_meta_get(m, "train.lr")) && !a->explicit_lr) r->lr = strtod(v, NULL);
    if ((v = clgrad_checkpoint_meta_get(m, "train.batch")) && !a->explicit_batch) r->batch = atoi(v);
    if ((v = clgrad_checkpoint_meta_get(m, "train.momentum")) && !a->explicit_momentum) r->momentum = strtod(v, NULL);
    if ((v = clgrad_checkpoint_meta_get(m, "train.weight_decay")) && !a->explicit_weight_decay)
        r->weight_decay = strtod(v, NULL);
    if (!a->explicit_seed) r->seed = m->seed;
    if ((v = clgrad_checkpoint_meta_get(m, "train.epoch_loss_sum"))) r->loss_sum = strtod(v, NULL);
    if ((v = clgrad_checkpoint_meta_get(m, "train.epoch_loss_count"))) r->loss_count = strtoll(v, NULL, 10);
    if (r->batch <= 0 || (strcmp(r->model_name, "mlp") && strcmp(r->model_name, "cnn") &&
                          strcmp(r->model_name, "lstm"))) {
        fprintf(stderr, "clgrad-train: %s: unknown model or batch size in the checkpoint\n", a->resume);
        return TRAIN_EXIT_FAIL;
    }
    if (m->batch > 0 && (a->explicit_batch || a->explicit_seed))
        fprintf(stderr, "clgrad-train: note: --batch/--seed differ from the interrupted run's, so the rest "
                        "of its epoch visits other samples\n");
    return 0;
}

static int train_loop(run *r, int64_t start_epoch, int64_t start_batch)
{
    const train_args *a = r->a;
    train_progress p = {.quiet = a->quiet, .every = a->progress_every};
    double final_acc = NAN, final_loss = NAN;
    clgrad_status s;
    for (int64_t epoch = start_epoch; epoch < a->epochs; epoch++) {
        int64_t nb = clgrad_dataset_n_batches(r->train, r->batch);
        if (a->limit_batches > 0 && a->limit_batches < nb) nb = a->limit_batches;
        int64_t b0 = epoch == start_epoch ? start_batch : 0;
        if (b0 > nb) b0 = nb;
        if (b0 == 0) r->loss_sum = 0, r->loss_count = 0;
        clgrad_dataset_shuffle(r->train, r->seed, (uint64_t)epoch);

        train_progress_begin(&p, (int)epoch + 1, a->epochs, nb, b0);
        double t0 = now_s();
        int64_t samples = 0;
        for (int64_t b = b0; b < nb; b++) {
            if (train_interrupted) {
                train_progress_end(&p);
                return interrupted(r, epoch, b);
            }
            double loss;
            int64_t n;
            s = train_step(r, b, &loss, &n);
            if (s != CLGRAD_OK) {
                train_progress_end(&p);
                return fail(r, s, "training step failed");
            }
            r->step++;
            r->loss_sum += loss;
            r->loss_count++;
            samples += n;
            if (a->print_losses) {
                train_progress_end(&p);
                printf("step %" PRId64 " loss %.9g\n", r->step, loss);
                fflush(stdout);
            }
            train_progress_update(&p, b + 1, samples, r->loss_sum / (double)r->loss_count);
        }
        double t_train = now_s() - t0;
        train_progress_end(&p);
        if (train_interrupted) return interrupted(r, epoch, nb);

        double t1 = now_s();
        double test_loss, test_acc;
        s = evaluate(r, a->limit_batches, &test_loss, &test_acc);
        if (s != CLGRAD_OK) return fail(r, s, "evaluation failed");
        train_epoch_row row = {
            .epoch = (int)epoch + 1, .step = r->step,
            .train_loss = r->loss_count ? r->loss_sum / (double)r->loss_count : NAN,
            .test_loss = test_loss, .test_acc = test_acc, .epoch_seconds = t_train,
            .samples_per_s = t_train > 0 ? samples / t_train : 0, .eval_seconds = now_s() - t1, .lr = r->lr,
        };
        final_acc = test_acc;
        final_loss = test_loss;
        if (!a->quiet) {
            char tb[32];
            printf("epoch %d/%d: train loss %.4f  test loss %.4f  test accuracy %.2f%%  (%s, %.0f samples/s%s)\n",
                   row.epoch, a->epochs, row.train_loss, test_loss, 100 * test_acc,
                   train_fmt_time(t_train, tb, sizeof tb), row.samples_per_s,
                   b0 > 0 ? ", resumed mid-epoch" : "");
            fflush(stdout);
        }
        train_log_row(r->log, r->log_json, &row);
        r->loss_sum = 0;
        r->loss_count = 0;
        s = save_checkpoint(r, epoch + 1, 0);
        if (s != CLGRAD_OK) return fail(r, s, "saving the checkpoint failed");
        if (train_interrupted) return interrupted(r, epoch + 1, 0);
    }
    if (isfinite(final_acc))
        printf("final: test accuracy %.2f%%, test loss %.4f after %d epochs (%" PRId64 " steps)\n",
               100 * final_acc, final_loss, a->epochs, r->step);
    else
        printf("nothing to do: the checkpoint is already at epoch %" PRId64 " of %d\n", start_epoch, a->epochs);
    return 0;
}

int train_run(const train_args *a)
{
    run r0, *r = &r0;
    memset(r, 0, sizeof *r);
    r->a = a;
    r->model_name = a->model;
    r->optim_name = a->optim;
    r->lr = a->lr;
    r->momentum = a->momentum;
    r->weight_decay = a->weight_decay;
    r->batch = a->batch;
    r->seed = a->seed;
    clgrad_checkpoint_meta meta;
    memset(&meta, 0, sizeof meta);
    int rc = 0;
    clgrad_status s;

    if (a->resume && (rc = resume_settings(r, &meta)) != 0) return rc;
    if (!r->optim_name) r->optim_name = train_model_default_optim(r->model_name);
    /* Default checkpoint: the file resumed from, else one named after the model. */
    if (a->checkpoint)
        snprintf(r->ckpt_template, sizeof r->ckpt_template, "%s", a->checkpoint);
    else if (a->resume)
        snprintf(r->ckpt_template, sizeof r->ckpt_template, "%s", a->resume);
    else
        snprintf(r->ckpt_template, sizeof r->ckpt_template, "clgrad-train-%s.safetensors", r->model_name);
    if (!(r->lr > 0)) r->lr = strcmp(r->optim_name, "sgd") == 0 ? 0.01 : 0.001;

    install_handlers();
    if ((s = load_data(r)) != CLGRAD_OK) {
        rc = fail(NULL, s, "cannot load the dataset (see --data)");
        goto done;
    }
    clgrad_context_desc desc = {.device = a->device};
    if ((s = clgrad_context_create(&desc, &r->ctx)) != CLGRAD_OK) {
        rc = fail(NULL, s, "cannot open the device");
        goto done;
    }
    int n_classes = clgrad_dataset_n_classes(r->train);
    if (n_classes < 10) n_classes = 10;
    if ((s = train_model_create(r->ctx, r->model_name, n_classes, r->seed, &r->model)) != CLGRAD_OK) {
        rc = fail(r, s, "cannot build the model");
        goto done;
    }
    clgrad_optim_options oo = clgrad_optim_defaults(optim_kind(r->optim_name), (float)r->lr);
    if (oo.kind == CLGRAD_OPTIM_SGD) oo.momentum = (float)r->momentum;
    if (r->weight_decay >= 0) oo.weight_decay = (float)r->weight_decay;
    r->weight_decay = oo.weight_decay;
    if ((s = clgrad_optim_create(r->model, &oo, &r->opt)) != CLGRAD_OK) {
        rc = fail(r, s, "cannot create the optimizer");
        goto done;
    }
    int64_t start_epoch = 0, start_batch = 0;
    if (a->resume) {
        /* A second struct: r->model_name and r->optim_name point into meta. */
        clgrad_checkpoint_meta loaded;
        if ((s = clgrad_checkpoint_load(a->resume, r->model, r->opt, &loaded)) != CLGRAD_OK) {
            rc = fail(r, s, "cannot resume");
            goto done;
        }
        clgrad_optim_set_lr(r->opt, (float)r->lr);
        start_epoch = loaded.epoch;
        start_batch = loaded.batch;
        r->step = r->start_step = loaded.step;
    }
    r->x = malloc((size_t)r->batch * 784 * sizeof *r->x);
    r->y = malloc((size_t)r->batch * sizeof *r->y);
    if (!r->x || !r->y) {
        rc = fail(r, CLGRAD_ERR_HOST_MEMORY, "out of memory");
        goto done;
    }
    if (train_log_open(a->log_path, a->resume != NULL, &r->log, &r->log_json) != 0) {
        fprintf(stderr, "clgrad-train: cannot open the log %s\n", a->log_path);
        rc = TRAIN_EXIT_FAIL;
        goto done;
    }
    if (!a->quiet) {
        int64_t n_params = 0;
        for (int i = 0; i < clgrad_module_param_count(r->model); i++)
            n_params += clgrad_tensor_numel(clgrad_module_param(r->model, i, NULL));
        printf("clgrad-train %s: %s (%" PRId64 " parameters), %s lr %g, batch %d, seed %" PRIu64 ", %" PRId64
               " training / %" PRId64 " test samples\ndevice: %s (%s)\n",
               clgrad_version_string(), r->model_name, n_params, r->optim_name, r->lr, r->batch, r->seed,
               clgrad_dataset_count(r->train), clgrad_dataset_count(r->test), clgrad_context_device(r->ctx)->name,
               clgrad_context_device(r->ctx)->platform_name);
        if (a->resume)
            printf("resuming from %s at epoch %" PRId64 ", batch %" PRId64 " (step %" PRId64 ")\n", a->resume,
                   start_epoch + 1, start_batch, r->step);
        fflush(stdout);
    }
    rc = train_loop(r, start_epoch, start_batch);
done:
    if (r->log) fclose(r->log);
    free(r->x);
    free(r->y);
    clgrad_optim_release(r->opt);
    clgrad_module_release(r->model);
    clgrad_dataset_release(r->train);
    clgrad_dataset_release(r->test);
    clgrad_context_release(r->ctx);
    return rc;
}
