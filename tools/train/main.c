/* clgrad-train: trains a network given as a spec (or a named one: mlp, cnn, lstm) on IDX
 * images, a CSV table or a CSV time series (Fashion-MNIST by default) with a progress bar,
 * a per-epoch log, validation, early stopping, checkpoints and exact resume; inspects data;
 * evaluates and predicts from a checkpoint. This file reads the command line; loop.c,
 * data.c and eval.c do the work. */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clgrad-train [options]                      train a network\n"
            "       clgrad-train inspect --data PATH [options]  the data report alone\n"
            "       clgrad-train eval --checkpoint F --data PATH [--plot FILE.svg]\n"
            "       clgrad-train predict --checkpoint F --data PATH --out FILE.csv\n"
            "\n"
            "Data (--data PATH):\n"
            "  a folder             IDX images in the Fashion-MNIST layout: train-images-idxN-ubyte[.gz],\n"
            "                       train-labels-idx1-ubyte[.gz], and t10k-* test files (default:\n"
            "                       $CLGRAD_FASHION_MNIST_DIR, else " DEFAULT_DATA_DIR ")\n"
            "  an IDX images file   with --labels FILE: N x H x W (one channel), N x C x H x W, or\n"
            "                       N x H x W x C (told by a last dimension of 1, 3 or 4; --layout)\n"
            "  a CSV file           rows of numbers; the target column (--target, default the last) holds\n"
            "                       class labels (whole numbers or names) or, with --task regress, values\n"
            "  a CSV time series    with --window N: windows of N rows of every column predict the\n"
            "                       target column's next --horizon H values (regression)\n"
            "  --labels FILE        the labels IDX file of an images file\n"
            "  --test PATH, --val PATH   a test / validation set in the same format\n"
            "  --test-split F       hold out a fraction F of the data for testing (CSV default 0.2)\n"
            "  --val-split F        hold out a fraction F of the training data for validation (seeded;\n"
            "                       the last windows for a series)\n"
            "  --task classify|regress   (default classify; regress for --window)\n"
            "  --target COL         CSV target column by header name or number (0-based, -1 the last)\n"
            "  --features A,B,...   CSV input columns (default: all but the target; a series: all)\n"
            "  --csv-header auto|yes|no, --csv-skip N, --csv-delimiter C   CSV reading\n"
            "  --layout auto|nchw|nhwc   4-D IDX images\n"
            "  --allow-sparse-labels     train even when some labels in 0..max have no training sample\n"
            "  --augment crop4,flip      random crop after 4 pixels of padding, horizontal flip (images)\n"
            "\n"
            "Network and training:\n"
            "  --net SPEC          layers joined by '-', e.g. conv32k3p1-relu-maxpool2-flatten-fc128-relu-fc\n"
            "                      (--net help lists the layers)\n"
            "  --model NAME        a named spec: mlp | cnn | lstm (default cnn)\n"
            "  --print-net         show each layer's output shape and parameters before training\n"
            "  --epochs N          epochs to train (default 3)\n"
            "  --batch B           batch size (default 64)\n"
            "  --lr LR             learning rate (default 0.01 for sgd, 0.001 for adam/adamw)\n"
            "  --lr-schedule S     step:S:G (x G every S epochs) | cosine | warmup:N [,cosine|,step:S:G]\n"
            "  --optim NAME        sgd | adam | adamw (default sgd; adam for recurrent networks)\n"
            "  --momentum M        SGD momentum (default 0.9)\n"
            "  --weight-decay WD   weight decay (default 0; 0.01 for adamw)\n"
            "  --clip-grad-norm N  scale gradients to a global L2 norm of at most N\n"
            "  --early-stop N      stop after N epochs without a lower validation loss; the best\n"
            "                      checkpoint is kept beside the last (NAME.best.safetensors)\n"
            "  --device SEL        gpu, cpu, p:d or a name substring (default: $CLGRAD_DEVICE, else the\n"
            "                      best device)\n"
            "  --devices A,B,...   train on several devices of this machine at once, one rank each (data\n"
            "                      parallel): device numbers as clgrad-probe lists them, or selectors\n"
            "                      as for --device; --batch is the global batch, split among them\n"
            "  --dist auto|mpi|none  auto (default): one rank per process when started by mpirun or\n"
            "                      srun --mpi=pmix; mpi: always; none: never\n"
            "  --dist-timeout S    seconds a rank waits for the others before giving up (default 300)\n"
            "  --sync-bn           batch norm statistics over the global batch (default: each rank's own)\n"
            "  --seed S            seed of the initial weights, splits, data order, augmentation (default 1)\n"
            "  --checkpoint FILE   checkpoint written after every epoch and on Ctrl-C\n"
            "                      (default: the --resume file, else clgrad-train-MODEL.safetensors;\n"
            "                      \"\" for none); \"{epoch}\" in FILE becomes the number of epochs\n"
            "                      done, to keep one file per epoch\n"
            "  --resume FILE       continue from a checkpoint (network, optimizer, epoch, step, data order)\n"
            "  --log FILE          per-epoch log: CSV for a .csv name, else JSON lines\n"
            "  --plot FILE.svg     loss and accuracy curves (train); the confusion matrix (eval)\n"
            "  --out FILE.csv      predict: where the predictions go (- for the standard output)\n"
            "  --limit-batches N   at most N training and N test batches per epoch (quick runs)\n"
            "  --print-losses      print the loss of every step (\"step N loss X\")\n"
            "  --profile           after the run, device time per kernel, op family and phase\n"
            "                      (forward, backward, optimizer) and host time per step\n"
            "  --progress-every S  seconds between progress lines when not on a terminal (default 10)\n"
            "  --quiet             print only errors and the final result\n"
            "  --help              this text\n"
            "Exit status: 0 done, 1 failure, 2 bad usage, 130 interrupted (checkpoint saved).\n");
}

static int parse_int(const char *opt, const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "clgrad-train: %s wants a whole number in [%lld, %lld], not '%s'\n", opt, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_double(const char *opt, const char *v, double lo, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo) {
        fprintf(stderr, "clgrad-train: %s wants a number >= %g, not '%s'\n", opt, lo, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int one_of(const char *opt, const char *v, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(v, names[i]) == 0) return 0;
    fprintf(stderr, "clgrad-train: %s: unknown value '%s' (one of:", opt, v);
    for (int i = 0; names[i]; i++) fprintf(stderr, " %s", names[i]);
    fprintf(stderr, ")\n");
    return -1;
}

int main(int argc, char **argv)
{
    static const char *const models[] = {"mlp", "cnn", "lstm", NULL};
    static const char *const optims[] = {"sgd", "adam", "adamw", NULL};
    static const char *const tasks[] = {"classify", "regress", NULL};
    static const char *const headers[] = {"auto", "yes", "no", NULL};
    static const char *const layouts[] = {"auto", "nchw", "nhwc", NULL};
    train_args a = {0};
    const char *env_dir = getenv("CLGRAD_FASHION_MNIST_DIR");
    a.data_dir = env_dir && env_dir[0] ? env_dir : DEFAULT_DATA_DIR;
    a.model = "cnn";
    a.epochs = 3;
    a.batch = 64;
    a.momentum = 0.9;
    a.weight_decay = -1;
    a.seed = 1;
    a.progress_every = 10;
    a.channels_last = -1;

    int first = 1;
    if (argc > 1 && argv[1][0] != '-') {
        static const char *const cmds[] = {"train", "inspect", "eval", "predict", NULL};
        if (one_of("command", argv[1], cmds) != 0) return TRAIN_EXIT_USAGE;
        a.cmd = !strcmp(argv[1], "inspect") ? CMD_INSPECT : !strcmp(argv[1], "eval") ? CMD_EVAL
              : !strcmp(argv[1], "predict") ? CMD_PREDICT : CMD_TRAIN;
        first = 2;
    }
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        char name[64];
        const char *val = NULL;
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "clgrad-train: unexpected argument '%s' (see --help)\n", arg);
            return TRAIN_EXIT_USAGE;
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (len >= sizeof name) len = sizeof name - 1;
        memcpy(name, arg, len);
        name[len] = '\0';
        if (eq) val = eq + 1;

        /* Flags without a value. */
        if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(name, "--quiet")) { a.quiet = 1; continue; }
        if (!strcmp(name, "--print-losses")) { a.print_losses = 1; continue; }
        if (!strcmp(name, "--profile")) { a.profile = 1; continue; }
        if (!strcmp(name, "--print-net")) { a.print_net = 1; continue; }
        if (!strcmp(name, "--allow-sparse-labels")) { a.allow_sparse = 1; continue; }
        if (!strcmp(name, "--sync-bn")) { a.sync_bn = 1; continue; }

        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "clgrad-train: %s needs a value (see --help)\n", name);
                return TRAIN_EXIT_USAGE;
            }
            val = argv[++i];
        }
        if (!val) return TRAIN_EXIT_USAGE; /* argv entries before argc are never NULL */
        long long n;
        int bad = 0;
        if (!strcmp(name, "--data")) a.data_dir = val;
        else if (!strcmp(name, "--model")) { bad = one_of(name, val, models); a.model = val; a.explicit_model = 1; }
        else if (!strcmp(name, "--net")) {
            if (!strcmp(val, "help")) {
                printf("--net SPEC: layers joined by '-', in order:\n%s", net_allowed_tokens());
                return 0;
            }
            a.net = val;
            a.explicit_net = 1;
        }
        else if (!strcmp(name, "--labels")) a.labels = val;
        else if (!strcmp(name, "--test")) a.test_path = val;
        else if (!strcmp(name, "--val")) a.val_path = val;
        else if (!strcmp(name, "--task")) { bad = one_of(name, val, tasks); a.task = val; }
        else if (!strcmp(name, "--target")) a.target = val;
        else if (!strcmp(name, "--features")) a.features = val;
        else if (!strcmp(name, "--csv-header")) {
            bad = one_of(name, val, headers);
            a.csv_header = !strcmp(val, "yes") ? CLGRAD_CSV_HEADER_YES : !strcmp(val, "no") ? CLGRAD_CSV_HEADER_NO
                                                                                              : CLGRAD_CSV_HEADER_AUTO;
        }
        else if (!strcmp(name, "--csv-skip")) { bad = parse_int(name, val, 0, INT64_MAX, &n); a.csv_skip = n; }
        else if (!strcmp(name, "--csv-delimiter")) {
            bad = strlen(val) != 1 && strcmp(val, "tab") != 0;
            if (bad) fprintf(stderr, "clgrad-train: --csv-delimiter wants one character or 'tab', not '%s'\n", val);
            a.csv_delim = !strcmp(val, "tab") ? '\t' : val[0];
        }
        else if (!strcmp(name, "--layout")) {
            bad = one_of(name, val, layouts);
            a.channels_last = !strcmp(val, "nhwc") ? 1 : !strcmp(val, "nchw") ? 0 : -1;
        }
        else if (!strcmp(name, "--window")) { bad = parse_int(name, val, 1, 1 << 20, &n); a.window = (int)n; }
        else if (!strcmp(name, "--horizon")) { bad = parse_int(name, val, 1, 1 << 16, &n); a.horizon = (int)n; }
        else if (!strcmp(name, "--val-split")) {
            bad = parse_double(name, val, 0, &a.val_split) || a.val_split >= 1;
            if (a.val_split >= 1) fprintf(stderr, "clgrad-train: --val-split wants a fraction below 1\n");
        }
        else if (!strcmp(name, "--test-split")) {
            bad = parse_double(name, val, 0, &a.test_split) || a.test_split >= 1;
            if (a.test_split >= 1) fprintf(stderr, "clgrad-train: --test-split wants a fraction below 1\n");
        }
        else if (!strcmp(name, "--early-stop")) { bad = parse_int(name, val, 1, 1000000, &n); a.early_stop = (int)n; }
        else if (!strcmp(name, "--augment")) a.augment = val;
        else if (!strcmp(name, "--lr-schedule")) a.lr_schedule = val;
        else if (!strcmp(name, "--clip-grad-norm")) {
            bad = parse_double(name, val, 0, &a.clip_grad_norm) || !(a.clip_grad_norm > 0);
            if (!bad && !(a.clip_grad_norm > 0)) fprintf(stderr, "clgrad-train: --clip-grad-norm wants a number > 0\n");
        }
        else if (!strcmp(name, "--plot")) a.plot = val;
        else if (!strcmp(name, "--out")) a.out = val;
        else if (!strcmp(name, "--optim")) { bad = one_of(name, val, optims); a.optim = val; a.explicit_optim = 1; }
        else if (!strcmp(name, "--epochs")) { bad = parse_int(name, val, 0, 1000000, &n); a.epochs = (int)n; }
        else if (!strcmp(name, "--batch")) { bad = parse_int(name, val, 1, 1 << 20, &n); a.batch = (int)n; a.explicit_batch = 1; }
        else if (!strcmp(name, "--lr")) { bad = parse_double(name, val, 0, &a.lr); a.explicit_lr = 1; }
        else if (!strcmp(name, "--momentum")) { bad = parse_double(name, val, 0, &a.momentum); a.explicit_momentum = 1; }
        else if (!strcmp(name, "--weight-decay")) { bad = parse_double(name, val, 0, &a.weight_decay); a.explicit_weight_decay = 1; }
        else if (!strcmp(name, "--device")) a.device = val;
        else if (!strcmp(name, "--devices")) a.devices = val;
        else if (!strcmp(name, "--dist")) { static const char *const dists[] = {"auto", "mpi", "none", NULL}; bad = one_of(name, val, dists); a.dist = val; }
        else if (!strcmp(name, "--dist-timeout")) bad = parse_double(name, val, 0, &a.dist_timeout);
        else if (!strcmp(name, "--seed")) {
            char *end;
            errno = 0;
            a.seed = strtoull(val, &end, 10);
            bad = errno || end == val || *end || val[0] == '-';
            if (bad) fprintf(stderr, "clgrad-train: --seed wants a whole number >= 0, not '%s'\n", val);
            a.explicit_seed = 1;
        }
        else if (!strcmp(name, "--checkpoint")) a.checkpoint = val;
        else if (!strcmp(name, "--resume")) a.resume = val;
        else if (!strcmp(name, "--log")) a.log_path = val;
        else if (!strcmp(name, "--limit-batches")) { bad = parse_int(name, val, 1, INT64_MAX, &n); a.limit_batches = n; }
        else if (!strcmp(name, "--progress-every")) bad = parse_double(name, val, 0, &a.progress_every);
        else {
            fprintf(stderr, "clgrad-train: unknown option '%s' (see --help)\n", name);
            return TRAIN_EXIT_USAGE;
        }
        if (bad) return TRAIN_EXIT_USAGE;
    }
    if (a.device && a.devices) {
        fprintf(stderr, "clgrad-train: --device and --devices: give one (--devices A,B trains on several)\n");
        return TRAIN_EXIT_USAGE;
    }
    if (a.cmd == CMD_INSPECT) return data_inspect(&a);
    if (a.cmd == CMD_EVAL || a.cmd == CMD_PREDICT) return eval_run(&a);
    return train_run(&a);
}
