/* clgrad-train: trains an MLP, a CNN or an LSTM on an IDX image-classification dataset
 * (Fashion-MNIST by default) with a progress bar, a per-epoch log, checkpoints and exact
 * resume. This file reads the command line; loop.c does the work. */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clgrad-train [options]\n"
            "Trains a network on an IDX image dataset (Fashion-MNIST layout: train-images-idx3-ubyte[.gz],\n"
            "train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]).\n"
            "\n"
            "  --data DIR          dataset folder (default: $CLGRAD_FASHION_MNIST_DIR, else\n"
            "                      " DEFAULT_DATA_DIR ")\n"
            "  --model NAME        mlp | cnn | lstm (default cnn)\n"
            "  --epochs N          epochs to train (default 3)\n"
            "  --batch B           batch size (default 64)\n"
            "  --lr LR             learning rate (default 0.01 for sgd, 0.001 for adam/adamw)\n"
            "  --optim NAME        sgd | adam | adamw (default sgd; adam for lstm)\n"
            "  --momentum M        SGD momentum (default 0.9)\n"
            "  --weight-decay WD   weight decay (default 0; 0.01 for adamw)\n"
            "  --device SEL        gpu, cpu, p:d or a name substring (default: $CLGRAD_DEVICE, else the\n"
            "                      best device)\n"
            "  --seed S            seed of the initial weights and the data order (default 1)\n"
            "  --checkpoint FILE   checkpoint written after every epoch and on Ctrl-C\n"
            "                      (default: the --resume file, else clgrad-train-MODEL.safetensors;\n"
            "                      \"\" for none); \"{epoch}\" in FILE becomes the number of epochs\n"
            "                      done, to keep one file per epoch\n"
            "  --resume FILE       continue from a checkpoint (model, optimizer, epoch, step, data order)\n"
            "  --log FILE          per-epoch log: CSV for a .csv name, else JSON lines\n"
            "  --limit-batches N   at most N training and N test batches per epoch (quick runs)\n"
            "  --print-losses      print the loss of every step (\"step N loss X\")\n"
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

    for (int i = 1; i < argc; i++) {
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

        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "clgrad-train: %s needs a value (see --help)\n", name);
                return TRAIN_EXIT_USAGE;
            }
            val = argv[++i];
        }
        long long n;
        int bad = 0;
        if (!strcmp(name, "--data")) a.data_dir = val;
        else if (!strcmp(name, "--model")) { bad = one_of(name, val, models); a.model = val; a.explicit_model = 1; }
        else if (!strcmp(name, "--optim")) { bad = one_of(name, val, optims); a.optim = val; a.explicit_optim = 1; }
        else if (!strcmp(name, "--epochs")) { bad = parse_int(name, val, 0, 1000000, &n); a.epochs = (int)n; }
        else if (!strcmp(name, "--batch")) { bad = parse_int(name, val, 1, 1 << 20, &n); a.batch = (int)n; a.explicit_batch = 1; }
        else if (!strcmp(name, "--lr")) { bad = parse_double(name, val, 0, &a.lr); a.explicit_lr = 1; }
        else if (!strcmp(name, "--momentum")) { bad = parse_double(name, val, 0, &a.momentum); a.explicit_momentum = 1; }
        else if (!strcmp(name, "--weight-decay")) { bad = parse_double(name, val, 0, &a.weight_decay); a.explicit_weight_decay = 1; }
        else if (!strcmp(name, "--device")) a.device = val;
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
    return train_run(&a);
}
