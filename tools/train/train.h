/* clgrad-train: the pieces of the training tool and what they share. main.c reads the
 * command line, spec.c builds networks from a spec with the public nn API, data.c loads
 * and checks the data (report.c reports on it, desc.c stores how it was read), loop.c
 * trains and validates, state.c checkpoints and resumes, eval.c evaluates and predicts,
 * progress.c draws the progress bar and writes the per-epoch log, plot.c draws SVG charts.
 * Everything here uses the public clgrad API only. */
#ifndef CLGRAD_TRAIN_H
#define CLGRAD_TRAIN_H

#include "clgrad.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes besides 0: 1 a failure, 2 a usage error, 130 interrupted (after saving). */
enum { TRAIN_EXIT_FAIL = 1, TRAIN_EXIT_USAGE = 2, TRAIN_EXIT_INTERRUPTED = 130 };

typedef enum train_cmd { CMD_TRAIN = 0, CMD_INSPECT, CMD_EVAL, CMD_PREDICT } train_cmd;

typedef struct train_args {
    train_cmd cmd;
    const char *data_dir;   /* --data: an IDX folder, an images IDX file, or a CSV file */
    const char *labels;     /* --labels: the labels IDX file beside an images file */
    const char *test_path;  /* --test: a test set in the same format (IDX folders have one) */
    const char *val_path;   /* --val: a validation set in the same format */
    const char *model;      /* "mlp", "cnn", "lstm" */
    const char *net;        /* --net SPEC; NULL: the --model preset */
    const char *optim;      /* "sgd", "adam", "adamw"; NULL: the model's default */
    const char *task;       /* "classify", "regress"; NULL: classify (regress for --window) */
    const char *target;     /* CSV: the target column by name or index (default: the last) */
    const char *features;   /* CSV: the input columns, comma separated (default: all others) */
    int csv_header;         /* clgrad_csv_header */
    int64_t csv_skip;
    char csv_delim;
    int channels_last;      /* IDX 4-D: -1 auto, 0 N x C x H x W, 1 N x H x W x C */
    int window, horizon;    /* series: input steps and steps ahead (window > 0: series mode) */
    double val_split, test_split;
    int early_stop;         /* epochs without validation improvement before stopping; 0: never */
    const char *augment;    /* "crop4,flip" or NULL */
    const char *lr_schedule;/* "step:S:G", "cosine", "warmup:N[,cosine|,step:S:G]" or NULL */
    double clip_grad_norm;  /* > 0: clip */
    int allow_sparse;
    int print_net;
    const char *plot;       /* SVG file */
    const char *out;        /* predict: the predictions CSV */
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
    int profile;            /* --profile: per-kernel and host times after the run */
    double progress_every;  /* seconds between plain progress lines when not on a terminal */
    /* Data parallelism (dist.c): one model trained by several ranks. */
    const char *devices;    /* --devices A,B,...: one rank per entry, in this process (or, under MPI,
                               the devices of a machine's local ranks); NULL: none */
    const char *dist;       /* --dist auto|mpi|none; NULL: auto (MPI when launched by mpirun/srun) */
    double dist_timeout;    /* --dist-timeout S: seconds a rank waits for the others (0: the default) */
    int sync_bn;            /* --sync-bn: batch norm statistics over the global batch */
    /* Set for options given on the command line; the others come from a --resume file. */
    int explicit_model, explicit_optim, explicit_lr, explicit_batch, explicit_seed, explicit_momentum,
        explicit_weight_decay, explicit_net;
} train_args;

/* Set on the ranks other than 0 of a multi-process run: warnings and notes that every rank
 * would print alike are left to rank 0. */
extern int train_quiet_rank;

/* --- spec.c: networks from a spec ---------------------------------------------------------- */

#define NET_MAX_LAYERS 64

typedef enum net_kind {
    L_CONV, L_MAXPOOL, L_AVGPOOL, L_GAP, L_FLATTEN, L_FC, L_RNN, L_BN, L_LN, L_DROPOUT, L_ACT
} net_kind;

typedef struct net_layer {
    net_kind kind;
    char token[48];
    int at;                   /* offset of the token in the spec */
    int64_t width;            /* conv channels, fc outputs, rnn hidden size */
    int k, s, p, d, g;        /* conv / pool */
    int layers;               /* rnn */
    int last_only;            /* rnn: only the last step goes on */
    clgrad_rnn_kind rnn;
    clgrad_activation act;
    double f;                 /* dropout p, activation parameter */
    int out_nd;               /* filled by net_build */
    int64_t out_shape[4];
    int64_t n_params;
} net_layer;

typedef struct train_net {
    char spec[1024];
    int n;
    net_layer layers[NET_MAX_LAYERS];
    int in_nd;                /* the per-sample input shape the network takes (net_build) */
    int64_t in_shape[4];
} train_net;

/* The spec of a named model ("mlp", "cnn", "lstm"), or NULL. */
const char *net_preset(const char *name);
/* "adam" for a network with a recurrent layer, else "sgd". */
const char *net_default_optim(const train_net *net);
/* Parses spec; -1 with a message in err that underlines the bad token and lists what is
 * allowed. */
int net_parse(const char *spec, train_net *net, char *err, size_t cap);
const char *net_allowed_tokens(void);
/* The per-sample shape the network's first layer takes for data of sample shape in. */
int net_input_shape(const train_net *net, int nd, const int64_t *in, int64_t *out);
/* Builds the network for samples of shape (nd, sample) and n_out outputs, initialised from
 * seed; checks every layer's input shape (err names the layer). Fills the layers' output
 * shapes and parameter counts. */
clgrad_status net_build(clgrad_context *ctx, train_net *net, int nd, const int64_t *sample, int n_out,
                        uint64_t seed, clgrad_module **out, char *err, size_t cap);
/* Runs the network on x (N, in_shape...); *out (N, n_out) is a new reference. */
clgrad_status net_forward(const train_net *net, clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out);
/* The model summary: each layer with its output shape and parameter count. */
void net_print(FILE *f, const train_net *net);

/* --- data.c, report.c, desc.c: any data --------------------------------------------------- */

typedef enum data_kind { DATA_IDX = 0, DATA_CSV = 1, DATA_SERIES = 2 } data_kind;

/* Input columns of a table; their normalisation must fit the checkpoint metadata. */
#define DATA_MAX_COLS 1024

/* How a data set is read and prepared: everything evaluation needs to read new data the
 * same way, stored in the checkpoint. */
typedef struct data_desc {
    data_kind kind;
    int regress;              /* regression (MSE) instead of classification */
    int channels_last;        /* IDX */
    int csv_header;           /* CSV */
    int64_t csv_skip;
    char csv_delim;
    char target[256];         /* CSV: the target column as given (name or index) */
    char features[1024];      /* CSV: the input columns as given ("" for the default) */
    int n_features;           /* CSV / series: the input columns */
    int feature_cols[DATA_MAX_COLS];
    int target_col;
    int window, horizon;      /* series */
    int sample_nd;            /* the per-sample shape as the data has it: (C, H, W), (F), (T, F) */
    int64_t sample_shape[4];
    int n_classes;            /* classification */
    int n_class_names;        /* string labels: the name of each class, in class order */
    char **class_names;
    int n_targets;            /* regression */
    int norm_axis, norm_n;    /* normalisation: per channel along norm_axis */
    float *mean, *std;
    float t_mean, t_std;      /* regression: the target's normalisation */
} data_desc;

void data_desc_free(data_desc *d);

typedef struct train_data {
    data_desc d;
    clgrad_dataset *train, *val, *test;
    char train_name[4096], val_name[4096], test_name[4096]; /* for messages and the report */
} train_data;

/* Loads the data the arguments name: the training set, then the validation and test sets
 * (given or split off), computes the normalisation from the training samples and checks
 * the labels. Messages go to stderr; returns 0 or an exit code. */
int data_load_for_training(const train_args *a, train_data *td);
/* Loads one data set (eval, predict) the way d says, normalised with d's statistics. With
 * need_targets 0 a CSV may lack the target column. */
int data_load_like(const train_args *a, const data_desc *d, const char *path, int need_targets,
                   clgrad_dataset **out, int *has_targets);
void data_release(train_data *td);
/* The data report: samples, shape, classes and their counts, values, problems. */
void data_report(FILE *f, const data_desc *d, const clgrad_dataset *ds, const char *name, int full);
/* clgrad-train inspect: the report alone. */
int data_inspect(const train_args *a);
/* Stores d in checkpoint metadata / reads it back. */
clgrad_status data_desc_save(const data_desc *d, clgrad_checkpoint_meta *m);
int data_desc_load(const clgrad_checkpoint_meta *m, data_desc *d, const char *path);

/* Metadata values longer than one entry holds, split over key, key.1, key.2, ... */
clgrad_status meta_set_long(clgrad_checkpoint_meta *m, const char *key, const char *value);
/* The joined value (malloc'd) or NULL. */
char *meta_get_long(const clgrad_checkpoint_meta *m, const char *key);

/* --- eval.c: evaluation, predictions, metrics ---------------------------------------------- */

typedef struct train_metrics {
    int64_t n;
    double loss;
    double acc;               /* classification */
    int n_classes;
    int64_t *confusion;       /* n_classes x n_classes: [true][predicted] */
    double rmse, mae, r2;     /* regression, in the target's units */
} train_metrics;

void metrics_free(train_metrics *m);
/* Runs the network over ds in no-grad eval mode (at most limit batches when > 0). With a
 * group g (NULL: none), this rank takes batches rank, rank + size, ... and the sums behind
 * the metrics are added over the ranks, so every rank gets the metrics of the whole set. */
clgrad_status metrics_compute(clgrad_context *ctx, const train_net *net, clgrad_module *model, const data_desc *d,
                              const clgrad_dataset *ds, int batch, int64_t limit, clgrad_dist *g,
                              train_metrics *out);
void metrics_print(FILE *f, const data_desc *d, const train_metrics *m);
int eval_run(const train_args *a);

/* --- plot.c: SVG charts -------------------------------------------------------------------- */

typedef struct plot_series {
    const char *name;
    const double *y;          /* one value per epoch; NaN: none */
    int color;                /* index into the palette, so a series keeps its colour across panels */
} plot_series;

/* Loss and accuracy per epoch as a standalone SVG; returns 0 or -1 (errno set). */
int plot_curves(const char *path, int n_epochs, const plot_series *loss, int n_loss, const plot_series *acc,
                int n_acc, const char *title);
/* The confusion matrix as a heat map. */
int plot_confusion(const char *path, const data_desc *d, const train_metrics *m, const char *title);

/* --- progress.c ---------------------------------------------------------------------------- */

typedef struct train_progress {
    int tty;            /* draw a bar with \r; else plain lines */
    int quiet;
    double every;       /* seconds between plain lines */
    double t_start, t_last;
    int epoch, n_epochs;
    int64_t total, start_done; /* batches this epoch, batches done before this run started */
    int drawn;          /* a bar is on the line now */
    double excluded;    /* seconds not counted in rates and time left (kernel builds) */
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
    double val_loss, val_acc;    /* NaN without a validation set */
    double test_rmse, test_mae;  /* regression; NaN for classification */
    double device_peak_bytes;    /* the most device memory the buffer pool has held */
} train_epoch_row;

/* Opens (appending when append != 0, as after --resume) the log at path; the format is
 * CSV for a ".csv" name, else JSON lines. *out NULL when path is NULL. */
int train_log_open(const char *path, int append, FILE **out, int *json);
void train_log_row(FILE *f, int json, const train_epoch_row *r);

/* --- loop.c, state.c: a training run --------------------------------------------------------- */

/* Per-epoch values kept for the plot and stored in checkpoints. */
#define HIST_MAX 1000
typedef struct history {
    int n;
    double train_loss[HIST_MAX], val_loss[HIST_MAX], test_loss[HIST_MAX], val_acc[HIST_MAX], test_acc[HIST_MAX];
} history;

/* Everything a run holds, so that one cleanup path frees it. */
typedef struct run {
    const train_args *a;
    train_net net;
    char model_name[64];      /* the preset's name, or "net" for a --net spec */
    char optim_name[16];
    char schedule[128];       /* --lr-schedule as given; "" for a constant rate */
    double lr, momentum, weight_decay, clip;
    int batch;
    uint64_t seed;
    clgrad_context *ctx;
    train_data td;
    clgrad_module *model;
    clgrad_optim *opt;
    clgrad_lr_schedule sched;
    FILE *log;
    int log_json;
    /* Data parallelism: g is NULL for a run of one process and one device. */
    clgrad_dist *g;
    int rank, size;           /* 0 and 1 without g */
    int local_batch;          /* batch / size: this rank's share of every batch */
    const char *rank_device;  /* in-process or --devices: this rank's "P:D"; NULL: by local rank */
    clgrad_dist_sampler *sampler;
    int remote_failure;       /* the last error came from another rank (rank 0 reports it) */
    int stop_agreed;          /* every rank agreed to stop at the next batch (Ctrl-C on any) */
    int world_note;           /* resumed a run of another world size: said so */
    float *x, *t;             /* a batch's inputs and (regression) targets */
    int32_t *y;
    int64_t step, start_step; /* optimizer steps: now, and when this run started */
    int64_t start_epoch, start_batch; /* where this run starts (a --resume file's position) */
    double loss_sum;          /* this epoch's losses so far (restored on resume) */
    int64_t loss_count;
    double best;              /* early stopping: the best validation loss, its epoch, epochs since */
    int best_epoch, bad_epochs;
    history *hist;
    double build0;            /* kernel build seconds before training */
    int notice_done;
    int profiling;            /* --profile: a profile is being recorded */
    float loss_host[2];       /* destinations of the loss reads, by step parity (train_step) */
    char ckpt_template[4096]; /* --checkpoint, or its default; "" for none */
    char ckpt_path[4096];     /* where the last checkpoint went */
    char best_path[4096];
} run;

/* Prints "clgrad-train: what: STATUS: message" ("clgrad-train: rank R of N: ..." in a
 * group, where another rank's failure is left to rank 0 to print); returns
 * TRAIN_EXIT_FAIL. run_fail_status gets s (this thread's last failure). */
int run_fail(const run *r, clgrad_status s, const char *what);
extern _Thread_local clgrad_status run_fail_status;
/* Saves the model, optimizer, settings, history and data description to path. */
clgrad_status run_save_checkpoint_to(run *r, const char *path, int64_t epoch, int64_t batch);
/* The same to the --checkpoint path for (epoch, batch); nothing without one. */
clgrad_status run_save_checkpoint(run *r, int64_t epoch, int64_t batch);
/* After Ctrl-C at (epoch, batch): saves and says how to resume; returns the exit code. */
int run_interrupted(run *r, int64_t epoch, int64_t batch);
/* Where the best checkpoint goes: NAME.best.EXT beside the --checkpoint file. */
void run_best_path(const run *r, char *buf, size_t cap);
/* Reads the --resume file's metadata into m and the settings the command line left open
 * into r; *spec_out (malloc'd, or NULL when --net/--model was given) is its network. */
int run_resume_settings(run *r, clgrad_checkpoint_meta *m, const char **spec_out);
/* Fills the data-reading options the command line left open from the resumed run's. */
void run_resume_data_args(train_args *a, const data_desc *d, const clgrad_checkpoint_meta *m);
/* Parses r->schedule into r->sched for batches of steps_per_epoch steps. */
int run_parse_schedule(run *r, int64_t steps_per_epoch);

/* --- loop.c -------------------------------------------------------------------------------- */

extern volatile sig_atomic_t train_interrupted;
/* SIGINT and SIGTERM set train_interrupted. */
void install_handlers(void);

/* A run's host-side set-up, made once per process: the arguments with a --resume file's
 * settings filled in, and the run every rank starts from (settings, network spec, data). */
typedef struct train_job {
    train_args eff;
    run proto;
    clgrad_checkpoint_meta *meta;  /* the --resume file's metadata */
    const char *resumed_spec;
} train_job;

/* Phase one: settings, spec, data; returns 0 or an exit code (the message printed). */
int job_prepare(train_job *j, const train_args *a);
void job_release(train_job *j);
/* Phase two, per rank, on a copy of j->proto: device, network, optimizer, --resume. */
int run_open(run *r, const train_job *j);
/* Phase three: the header (rank 0) and the epochs; the exit code. */
int run_train(run *r);
/* Frees what run_open made. */
void run_close(run *r);
/* Optimizer steps in each epoch. */
int64_t run_steps_per_epoch(const run *r);
/* One process, one device. */
int train_run_single(const train_args *a);

/* --- dist.c: several ranks --------------------------------------------------------------------- */

/* Runs the training the arguments describe, on one device, on the --devices of this
 * process, or as one rank of an MPI job; returns the process exit code. */
int train_run(const train_args *a);
/* Adds v over the ranks; a rank whose local status is an error tells the others instead
 * (every rank then gets an error naming it). */
clgrad_status dist_sum(run *r, clgrad_status local, double *v, size_t n);
/* clgrad_dist_sync for the step, noting when the error came from another rank. */
clgrad_status dist_sync_step(run *r, clgrad_status local);
/* CLGRAD_TRAIN_FAULT=bad-batch:RANK:STEP asks this rank for a bad batch at this step. */
int dist_fault_here(const run *r);
/* The group's line of the header (rank 0). */
void dist_print_header(const run *r);

#endif
