/* The state of a clgrad-train run kept across processes: checkpoints (the last, one per
 * epoch with "{epoch}", the best beside them), the interrupted-run message, the settings
 * and data-reading options a --resume file brings back, the per-epoch history for plots,
 * and --lr-schedule. */
#include "train.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------
 * Checkpoints
 * ------------------------------------------------------------------------------------- */

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

/* The best checkpoint's path: "run.safetensors" -> "run.best.safetensors". */
void run_best_path(const run *r, char *buf, size_t cap)
{
    char base[4000];
    snprintf(base, sizeof base, "%.3999s", r->ckpt_template);
    char *ph = strstr(base, "{epoch}");
    if (ph) memmove(ph, ph + 7, strlen(ph + 7) + 1);
    char *dot = strrchr(base, '.'), *slash = strrchr(base, '/');
    if (dot && (!slash || dot > slash)) {
        *dot = '\0';
        snprintf(buf, cap, "%.3990s.best.%.80s", base, dot + 1);
    } else {
        snprintf(buf, cap, "%.3990s.best", base);
    }
}

/* The last 200 epochs at most, so the metadata stays within its room. */
static char *history_string(const history *h)
{
    char *s = malloc((size_t)h->n * 80 + 1);
    if (!s) return NULL;
    size_t k = 0;
    s[0] = '\0';
    for (int i = h->n > 200 ? h->n - 200 : 0; i < h->n; i++)
        k += (size_t)sprintf(s + k, "%s%.6g,%.6g,%.6g,%.6g,%.6g", k ? ";" : "", h->train_loss[i], h->val_loss[i],
                             h->test_loss[i], h->val_acc[i], h->test_acc[i]);
    return s;
}

static void history_parse(history *h, const char *s)
{
    h->n = 0;
    while (s && *s && h->n < HIST_MAX) {
        double v[5];
        char *end = (char *)s;
        for (int k = 0; k < 5; k++) {
            v[k] = strtod(end, &end);
            if (*end == ',') end++;
        }
        h->train_loss[h->n] = v[0], h->val_loss[h->n] = v[1], h->test_loss[h->n] = v[2];
        h->val_acc[h->n] = v[3], h->test_acc[h->n] = v[4];
        h->n++;
        s = strchr(end, ';');
        if (s) s++;
    }
}

clgrad_status run_save_checkpoint_to(run *r, const char *path, int64_t epoch, int64_t batch)
{
    if (r->rank != 0) return CLGRAD_OK; /* in a group, rank 0 writes the checkpoints */
    clgrad_checkpoint_meta *m = calloc(1, sizeof *m);
    if (!m) return CLGRAD_ERR_HOST_MEMORY;
    m->step = r->step;
    m->epoch = epoch;
    m->batch = batch;
    m->seed = r->seed;
    char buf[256];
    clgrad_status s = clgrad_checkpoint_meta_set(m, "train.model", r->model_name);
    if (s == CLGRAD_OK) s = meta_set_long(m, "train.net", r->net.spec);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(m, "train.optim", r->optim_name);
    snprintf(buf, sizeof buf, "%.17g", r->lr);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(m, "train.lr", buf);
    snprintf(buf, sizeof buf, "%d", r->batch);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(m, "train.batch", buf);
    snprintf(buf, sizeof buf, "%d", r->size);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(m, "train.world_size", buf);
    snprintf(buf, sizeof buf, "%.17g", r->momentum);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(m, "train.momentum", buf);
    snprintf(buf, sizeof buf, "%.17g", r->weight_decay);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(m, "train.weight_decay", buf);
    snprintf(buf, sizeof buf, "%.17g", r->loss_sum);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(m, "train.epoch_loss_sum", buf);
    snprintf(buf, sizeof buf, "%" PRId64, r->loss_count);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(m, "train.epoch_loss_count", buf);
    if (s == CLGRAD_OK && r->schedule[0]) s = clgrad_checkpoint_meta_set(m, "train.lr_schedule", r->schedule);
    snprintf(buf, sizeof buf, "%.17g", r->clip);
    if (s == CLGRAD_OK && r->clip > 0) s = clgrad_checkpoint_meta_set(m, "train.clip_grad_norm", buf);
    snprintf(buf, sizeof buf, "%.17g;%d;%d", r->best, r->best_epoch, r->bad_epochs);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(m, "train.early_stop", buf);
    char *h = history_string(r->hist);
    if (s == CLGRAD_OK && h && h[0]) s = meta_set_long(m, "train.history", h);
    free(h);
    snprintf(buf, sizeof buf, "val=%.17g;test=%.17g", r->a->val_path ? 0.0 : r->a->val_split,
             r->a->test_path ? 0.0 : r->a->test_split);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_meta_set(m, "train.split", buf);
    if (s == CLGRAD_OK) s = data_desc_save(&r->td.d, m);
    if (s == CLGRAD_OK) s = clgrad_checkpoint_save(path, r->model, r->opt, m);
    free(m);
    return s;
}

clgrad_status run_save_checkpoint(run *r, int64_t epoch, int64_t batch)
{
    if (!r->ckpt_template[0]) return CLGRAD_OK;
    checkpoint_path(r, epoch, batch, r->ckpt_path, sizeof r->ckpt_path);
    return run_save_checkpoint_to(r, r->ckpt_path, epoch, batch);
}

/* Saves (when a checkpoint path is set) and says how to go on; returns the exit code. */
int run_interrupted(run *r, int64_t epoch, int64_t batch)
{
    if (r->rank != 0) return TRAIN_EXIT_INTERRUPTED; /* rank 0 saves and says so */
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
    clgrad_status s = run_save_checkpoint(r, epoch, batch);
    if (s != CLGRAD_OK) {
        run_fail(r, s, "interrupted, and saving the checkpoint failed");
        return TRAIN_EXIT_INTERRUPTED;
    }
    fprintf(stderr, "\nclgrad-train: interrupted at epoch %" PRId64 ", batch %" PRId64 " (step %" PRId64
            "); checkpoint saved to %s\nresume with: clgrad-train --resume %s\n", epoch + 1, batch, r->step,
            r->ckpt_path, r->ckpt_path);
    return TRAIN_EXIT_INTERRUPTED;
}

/* ---------------------------------------------------------------------------------------
 * Settings
 * ------------------------------------------------------------------------------------- */

/* Reads the run's settings from the checkpoint where the command line left them open. */
int run_resume_settings(run *r, clgrad_checkpoint_meta *m, const char **spec_out)
{
    const train_args *a = r->a;
    clgrad_status s = clgrad_checkpoint_read_meta(a->resume, m);
    if (s != CLGRAD_OK) return run_fail(NULL, s, "cannot resume");
    const char *v;
    if ((v = clgrad_checkpoint_meta_get(m, "train.model")) && !a->explicit_model && !a->explicit_net)
        snprintf(r->model_name, sizeof r->model_name, "%s", v);
    if ((v = clgrad_checkpoint_meta_get(m, "train.optim")) && !a->explicit_optim)
        snprintf(r->optim_name, sizeof r->optim_name, "%s", v);
    if ((v = clgrad_checkpoint_meta_get(m, "train.lr")) && !a->explicit_lr) r->lr = strtod(v, NULL);
    if ((v = clgrad_checkpoint_meta_get(m, "train.batch")) && !a->explicit_batch) r->batch = atoi(v);
    if ((v = clgrad_checkpoint_meta_get(m, "train.momentum")) && !a->explicit_momentum) r->momentum = strtod(v, NULL);
    if ((v = clgrad_checkpoint_meta_get(m, "train.weight_decay")) && !a->explicit_weight_decay)
        r->weight_decay = strtod(v, NULL);
    if ((v = clgrad_checkpoint_meta_get(m, "train.lr_schedule")) && !a->lr_schedule)
        snprintf(r->schedule, sizeof r->schedule, "%s", v);
    if ((v = clgrad_checkpoint_meta_get(m, "train.clip_grad_norm")) && !(a->clip_grad_norm > 0))
        r->clip = strtod(v, NULL);
    if ((v = clgrad_checkpoint_meta_get(m, "train.early_stop")))
        sscanf(v, "%lg;%d;%d", &r->best, &r->best_epoch, &r->bad_epochs);
    char *h = meta_get_long(m, "train.history");
    history_parse(r->hist, h);
    free(h);
    if (!a->explicit_seed) r->seed = m->seed;
    if ((v = clgrad_checkpoint_meta_get(m, "train.epoch_loss_sum"))) r->loss_sum = strtod(v, NULL);
    if ((v = clgrad_checkpoint_meta_get(m, "train.epoch_loss_count"))) r->loss_count = strtoll(v, NULL, 10);
    *spec_out = NULL;
    if (!a->explicit_model && !a->explicit_net) {
        char *spec = meta_get_long(m, "train.net");
        if (!spec && net_preset(r->model_name)) spec = strdup(net_preset(r->model_name));
        *spec_out = spec;
        if (!spec) {
            fprintf(stderr, "clgrad-train: %s: the checkpoint names no network (train.net) nor a known model\n",
                    a->resume);
            return TRAIN_EXIT_FAIL;
        }
    }
    if (r->batch <= 0) {
        fprintf(stderr, "clgrad-train: %s: bad batch size in the checkpoint\n", a->resume);
        return TRAIN_EXIT_FAIL;
    }
    if (m->batch > 0 && (a->explicit_batch || a->explicit_seed) && !train_quiet_rank)
        fprintf(stderr, "clgrad-train: note: --batch/--seed differ from the interrupted run's, so the rest "
                        "of its epoch visits other samples\n");
    return 0;
}

/* Fills the data-reading options the command line left open from the resumed run's. */
void run_resume_data_args(train_args *a, const data_desc *d, const clgrad_checkpoint_meta *m)
{
    static char target[256], features[1024];
    if (!a->target && d->target[0]) a->target = strcpy(target, d->target);
    if (!a->features && d->features[0]) a->features = strcpy(features, d->features);
    if (!a->task) a->task = d->regress ? "regress" : "classify";
    if (!a->csv_skip) a->csv_skip = d->csv_skip;
    if (!a->csv_header) a->csv_header = d->csv_header;
    if (!a->csv_delim) a->csv_delim = d->csv_delim;
    if (a->channels_last < 0) a->channels_last = d->channels_last;
    if (!a->window && d->kind == DATA_SERIES) a->window = d->window, a->horizon = d->horizon;
    const char *v = clgrad_checkpoint_meta_get(m, "train.split");
    double val = 0, test = 0;
    if (v && sscanf(v, "val=%lg;test=%lg", &val, &test) == 2) {
        if (!(a->val_split > 0) && !a->val_path) a->val_split = val;
        if (!(a->test_split > 0) && !a->test_path) a->test_split = test;
    }
}

/* --lr-schedule: "step:S:G" (times G every S epochs), "cosine" (to 0 over the run),
 * "warmup:N" (a linear warm-up over N steps from a tenth of the rate), or a warm-up and one
 * of the others joined by ',' ("warmup:500,cosine"). */
int run_parse_schedule(run *r, int64_t steps_per_epoch)
{
    clgrad_lr_schedule s = clgrad_lr_constant((float)r->lr);
    int64_t warm = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", r->schedule);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long long n1;
        double g;
        char tail;
        if (sscanf(tok, "step:%lld:%lg%c", &n1, &g, &tail) == 2 && n1 > 0 && g > 0 && g <= 1) {
            s = clgrad_lr_step((float)r->lr, n1 * steps_per_epoch, (float)g);
        } else if (strcmp(tok, "cosine") == 0) {
            s = clgrad_lr_cosine((float)r->lr, (int64_t)r->a->epochs * steps_per_epoch, 0.0f);
        } else if (sscanf(tok, "warmup:%lld%c", &n1, &tail) == 1 && n1 > 0) {
            warm = n1;
        } else {
            fprintf(stderr, "clgrad-train: --lr-schedule: bad part '%s'; allowed: step:S:G (multiply by G in (0, 1] "
                            "every S epochs), cosine, warmup:N (steps), or warmup:N,cosine / warmup:N,step:S:G\n", tok);
            return TRAIN_EXIT_USAGE;
        }
    }
    if (warm) s = clgrad_lr_with_warmup(s, warm, 0.1f);
    r->sched = s;
    return 0;
}
