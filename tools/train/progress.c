/* Progress reporting of clgrad-train: a one-line bar redrawn in place on a terminal
 * (batches done, samples/s, running loss, time left), plain lines every few seconds when
 * the output is a file or a pipe, and the per-epoch log as CSV or JSON lines. */
#include "train.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char *train_fmt_time(double seconds, char *buf, size_t cap)
{
    if (!(seconds >= 0) || seconds > 1e7) {
        snprintf(buf, cap, "--:--");
        return buf;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

void train_progress_begin(train_progress *p, int epoch, int n_epochs, int64_t total, int64_t done)
{
    p->tty = !p->quiet && isatty(STDOUT_FILENO);
    p->epoch = epoch;
    p->n_epochs = n_epochs;
    p->total = total;
    p->start_done = done;
    p->t_start = p->t_last = now_s();
    p->drawn = 0;
    p->excluded = 0;
    if (p->every <= 0) p->every = 10.0;
}

void train_progress_update(train_progress *p, int64_t done, int64_t samples, double loss)
{
    if (p->quiet) return;
    double t = now_s();
    int last = done == p->total;
    /* Redraw at most ~10 times a second on a terminal; plain lines every p->every seconds. */
    if (p->tty ? (t - p->t_last < 0.1 && !last) : (t - p->t_last < p->every)) return;
    if (done - p->start_done <= 0 && !last) return; /* nothing measured yet (a warm-up batch) */
    p->t_last = t;
    double el = t - p->t_start - p->excluded;
    double rate = el > 0 ? samples / el : 0;
    int64_t run_done = done - p->start_done;
    double left = run_done > 0 ? el / run_done * (double)(p->total - done) : -1;
    char tl[32], te[32];
    train_fmt_time(left, tl, sizeof tl);
    train_fmt_time(el, te, sizeof te);
    if (p->tty) {
        enum { W = 24 };
        char bar[W + 1];
        int fill = p->total > 0 ? (int)((double)done / (double)p->total * W) : 0;
        for (int i = 0; i < W; i++) bar[i] = i < fill ? '#' : '.';
        bar[W] = '\0';
        printf("\repoch %d/%d [%s] %lld/%lld  %.0f samples/s  loss %.4f  %s elapsed, %s left \033[K",
               p->epoch, p->n_epochs, bar, (long long)done, (long long)p->total, rate, loss, te, tl);
        p->drawn = 1;
    } else {
        printf("epoch %d/%d  batch %lld/%lld  %.0f samples/s  loss %.4f  elapsed %s  left %s\n",
               p->epoch, p->n_epochs, (long long)done, (long long)p->total, rate, loss, te, tl);
    }
    fflush(stdout);
}

void train_progress_end(train_progress *p)
{
    if (p->drawn) {
        printf("\r\033[K");
        fflush(stdout);
        p->drawn = 0;
    }
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int train_log_open(const char *path, int append, FILE **out, int *json)
{
    *out = NULL;
    *json = 0;
    if (!path || !path[0]) return 0;
    *json = !(ends_with(path, ".csv") || ends_with(path, ".CSV"));
    FILE *f = fopen(path, append ? "a" : "w");
    if (!f) return -1;
    if (!*json && ftell(f) == 0)
        fprintf(f, "epoch,step,train_loss,test_loss,test_acc,epoch_seconds,samples_per_s,eval_seconds,lr,val_loss,"
                   "val_acc,test_rmse,test_mae\n");
    fflush(f);
    *out = f;
    return 0;
}

/* JSON has no NaN or infinity: a diverged loss is written as null. */
static void json_num(FILE *f, const char *key, double v, const char *fmt)
{
    fprintf(f, ",\"%s\":", key);
    if (isfinite(v))
        fprintf(f, fmt, v);
    else
        fputs("null", f);
}

void train_log_row(FILE *f, int json, const train_epoch_row *r)
{
    if (!f) return;
    if (json) {
        fprintf(f, "{\"epoch\":%d,\"step\":%lld", r->epoch, (long long)r->step);
        json_num(f, "train_loss", r->train_loss, "%.6f");
        json_num(f, "test_loss", r->test_loss, "%.6f");
        json_num(f, "test_acc", r->test_acc, "%.6f");
        json_num(f, "epoch_seconds", r->epoch_seconds, "%.3f");
        json_num(f, "samples_per_s", r->samples_per_s, "%.1f");
        json_num(f, "eval_seconds", r->eval_seconds, "%.3f");
        json_num(f, "lr", r->lr, "%.9g");
        json_num(f, "val_loss", r->val_loss, "%.6f");
        json_num(f, "val_acc", r->val_acc, "%.6f");
        json_num(f, "test_rmse", r->test_rmse, "%.6g");
        json_num(f, "test_mae", r->test_mae, "%.6g");
        json_num(f, "device_peak_bytes", r->device_peak_bytes, "%.0f");
        fputs("}\n", f);
    } else {
        fprintf(f, "%d,%lld,%.6f,%.6f,%.6f,%.3f,%.1f,%.3f,%.9g,%.6f,%.6f,%.6g,%.6g\n", r->epoch,
                (long long)r->step, r->train_loss, r->test_loss, r->test_acc, r->epoch_seconds,
                r->samples_per_s, r->eval_seconds, r->lr, r->val_loss, r->val_acc, r->test_rmse,
                r->test_mae);
    }
    fflush(f);
}
