/* clgrad-train: the pieces of the training tool and what they share. main.c reads the
 * command line, models.c builds the networks from the public nn API, loop.c trains,
 * evaluates and checkpoints, progress.c draws the progress bar and writes the per-epoch
 * log. Everything here uses the public clgrad API only. */
#ifndef CLGRAD_TRAIN_H
#define CLGRAD_TRAIN_H

#include "clgrad.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes besides 0: 1 a failure, 2 a usage error, 130 interrupted (after saving). */
enum { TRAIN_EXIT_FAIL = 1, TRAIN_EXIT_USAGE = 2, TRAIN_EXIT_INTERRUPTED = 130 };

typedef struct train_args {
    const char *data_dir;
    const char *model;      /* "mlp", "cnn", "lstm" */
    const char *optim;      /* "sgd", "adam", "adamw"; NULL: the model's default */
    int epochs;
    int batch;
    double lr;              /* <= 0: the optimizer's default */
    double momentum;        /* SGD only */
    double weight_decay;    /* < 0: the optimizer's default */
    const char *device;     /* selector; NULL: $CLGRAD_DEVICE, else the best device */
    uint64_t seed;
    const char *checkpoint; /* written after every epoch and on Ctrl-C; "" disables */
    const char *resume;
    const char *log_path;
    int64_t limit_batches;  /* > 0: at most this many training and test batches per epoch */
    int quiet;
    int print_losses;
    double progress_every;  /* seconds between plain progress lines when not on a terminal */
    /* Set for options given on the command line; the others come from a --resume file. */
    int explicit_model, explicit_optim, explicit_lr, explicit_batch, explicit_seed, explicit_momentum,
        explicit_weight_decay;
} train_args;

/* --- models.c ------------------------------------------------------------------------------ */

/* Builds the network called name ("mlp", "cnn", "lstm") for 28x28 single-channel images
 * and n_classes outputs, initialised from seed. */
clgrad_status train_model_create(clgrad_context *ctx, const char *name, int n_classes, uint64_t seed,
                                 clgrad_module **out);
/* Runs the network on a batch x (shaped by train_model_input_shape); *logits (N, n_classes)
 * is a new reference. */
clgrad_status train_model_forward(const char *name, clgrad_module *m, clgrad_tensor *x, clgrad_tensor **logits);
/* The shape of one batch of n images as the model wants it: (n, 1, 28, 28) for the CNN,
 * (n, 784) for the MLP, (n, 28, 28) for the LSTM. Returns ndim. */
int train_model_input_shape(const char *name, int64_t n, int64_t *shape);
/* The default optimizer of a model ("sgd" for mlp/cnn, "adam" for lstm). */
const char *train_model_default_optim(const char *name);

/* --- progress.c ---------------------------------------------------------------------------- */

typedef struct train_progress {
    int tty;            /* draw a bar with \r; else plain lines */
    int quiet;
    double every;       /* seconds between plain lines */
    double t_start, t_last;
    int epoch, n_epochs;
    int64_t total, start_done; /* batches this epoch, batches done before this run started */
    int drawn;          /* a bar is on the line now */
} train_progress;

void train_progress_begin(train_progress *p, int epoch, int n_epochs, int64_t total, int64_t done);
/* After each batch: done batches, samples seen in this run, running mean loss. */
void train_progress_update(train_progress *p, int64_t done, int64_t samples, double loss);
/* Clears the bar (if any) so the next line starts clean. */
void train_progress_end(train_progress *p);
/* Formats seconds as "1:02:03" or "2:03". */
const char *train_fmt_time(double seconds, char *buf, size_t cap);

/* One line of the per-epoch log. */
typedef struct train_epoch_row {
    int epoch;            /* 1-based */
    int64_t step;         /* optimizer steps after this epoch */
    double train_loss;    /* mean over this epoch's batches */
    double test_loss, test_acc;
    double epoch_seconds; /* training time of the epoch (without evaluation) */
    double samples_per_s;
    double eval_seconds;
    double lr;
} train_epoch_row;

/* Opens (appending when append != 0, as after --resume) the log at path; the format is
 * CSV for a ".csv" name, else JSON lines. *out NULL when path is NULL. */
int train_log_open(const char *path, int append, FILE **out, int *json);
void train_log_row(FILE *f, int json, const train_epoch_row *r);

/* --- loop.c -------------------------------------------------------------------------------- */

extern volatile sig_atomic_t train_interrupted;

/* Runs the training the arguments describe; returns the process exit code. */
int train_run(const train_args *a);

#endif
