/* Evaluation and predictions: the metrics of a network on a data set (loss; accuracy,
 * per-class precision, recall and F1 and the confusion matrix for classification; RMSE,
 * MAE and R^2 in the target's own units for regression), `clgrad-train eval` and
 * `clgrad-train predict`, which rebuild the network and read the data the way the
 * checkpoint's metadata says. */
#include "train.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void metrics_free(train_metrics *m)
{
    free(m->confusion);
    m->confusion = NULL;
}

/* Runs the network on batch b (eval mode, no grad is the caller's); *out is (n, n_out). */
static clgrad_status forward_batch(clgrad_context *ctx, const train_net *net, clgrad_module *model,
                                   const data_desc *d, const clgrad_dataset *ds, int batch, int64_t b, float *x,
                                   int32_t *y, float *t, int64_t *n, clgrad_tensor **xt, clgrad_tensor **out)
{
    clgrad_status s = d->regress ? clgrad_dataset_batch_targets(ds, b, batch, x, t, n)
                                 : clgrad_dataset_batch(ds, b, batch, x, y, n);
    int64_t shape[5] = {*n};
    memcpy(shape + 1, net->in_shape, sizeof(int64_t) * (size_t)net->in_nd);
    if (s == CLGRAD_OK) s = clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_F32, 1 + net->in_nd, shape, x, xt);
    if (s == CLGRAD_OK) s = net_forward(net, model, *xt, out);
    return s;
}

/* With a group: adds the sums behind the metrics over the ranks. A rank that failed tells
 * the others instead (they then fail with its message). */
static clgrad_status sum_over_ranks(clgrad_dist *g, clgrad_status local, double *sums, int64_t *confusion, int nc,
                                    int64_t *correct, int64_t *seen)
{
    if (!g) return local;
    if (local != CLGRAD_OK) return clgrad_dist_check(g, local);
    size_t n = 7 + (size_t)nc * (size_t)nc;
    double *v = malloc(n * sizeof *v);
    if (!v) return clgrad_dist_check(g, CLGRAD_ERR_HOST_MEMORY);
    memcpy(v, sums, 5 * sizeof *v);
    v[5] = (double)*correct, v[6] = (double)*seen; /* exact: counts stay far below 2^53 */
    for (size_t i = 0; i < (size_t)nc * (size_t)nc; i++) v[7 + i] = (double)confusion[i];
    clgrad_status s = clgrad_dist_allreduce_sum(g, v, n);
    if (s == CLGRAD_OK) {
        memcpy(sums, v, 5 * sizeof *v);
        *correct = (int64_t)v[5], *seen = (int64_t)v[6];
        for (size_t i = 0; i < (size_t)nc * (size_t)nc; i++) confusion[i] = (int64_t)v[7 + i];
    }
    free(v);
    return s;
}

clgrad_status metrics_compute(clgrad_context *ctx, const train_net *net, clgrad_module *model, const data_desc *d,
                              const clgrad_dataset *ds, int batch, int64_t limit, clgrad_dist *g,
                              train_metrics *out)
{
    memset(out, 0, sizeof *out);
    int64_t nb = clgrad_dataset_n_batches(ds, batch);
    if (limit > 0 && limit < nb) nb = limit;
    int64_t ss = clgrad_dataset_sample_size(ds);
    int nt = d->regress ? d->n_targets : 1, nc = d->regress ? 0 : d->n_classes;
    float *x = malloc((size_t)batch * (size_t)ss * sizeof *x);
    float *t = malloc((size_t)batch * (size_t)nt * sizeof *t), *p = malloc((size_t)batch * (size_t)nt * sizeof *p);
    int32_t *y = malloc((size_t)batch * sizeof *y), *pred = malloc((size_t)batch * sizeof *pred);
    out->n_classes = nc;
    if (nc) out->confusion = calloc((size_t)nc * (size_t)nc, sizeof *out->confusion);
    if (!x || !t || !p || !y || !pred || (nc && !out->confusion)) {
        free(x), free(t), free(p), free(y), free(pred);
        return g ? clgrad_dist_check(g, CLGRAD_ERR_HOST_MEMORY) : CLGRAD_ERR_HOST_MEMORY;
    }
    int rank = g ? clgrad_dist_rank(g) : 0, size = g ? clgrad_dist_size(g) : 1;
    double loss_sum = 0, se = 0, ae = 0, tsum = 0, tsq = 0;
    int64_t correct = 0, seen = 0;
    clgrad_status s = CLGRAD_OK;
    int was_training = clgrad_module_is_training(model);
    clgrad_module_train(model, 0);
    clgrad_no_grad_begin(ctx);
    for (int64_t b = rank; s == CLGRAD_OK && b < nb; b += size) {
        clgrad_tensor *xt = NULL, *o = NULL, *yt = NULL, *l = NULL, *am = NULL;
        int64_t n = 0;
        float v = 0;
        s = forward_batch(ctx, net, model, d, ds, batch, b, x, y, t, &n, &xt, &o);
        if (s == CLGRAD_OK && !d->regress) {
            s = clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_I32, 1, &n, y, &yt);
            if (s == CLGRAD_OK) s = clgrad_cross_entropy(o, yt, 0.0f, CLGRAD_REDUCTION_SUM, &l);
            if (s == CLGRAD_OK) s = clgrad_argmax(o, 1, 0, &am);
            if (s == CLGRAD_OK) s = clgrad_tensor_read(am, pred, (size_t)n * sizeof *pred);
            if (s == CLGRAD_OK) s = clgrad_tensor_item(l, &v);
            if (s == CLGRAD_OK) {
                loss_sum += v;
                for (int64_t i = 0; i < n; i++) {
                    correct += pred[i] == y[i];
                    if (y[i] < nc && pred[i] >= 0 && pred[i] < nc) out->confusion[(int64_t)y[i] * nc + pred[i]]++;
                }
            }
        } else if (s == CLGRAD_OK) {
            s = clgrad_tensor_read(o, p, (size_t)(n * nt) * sizeof *p);
            for (int64_t i = 0; s == CLGRAD_OK && i < n * nt; i++) {
                double z = (t[i] - d->t_mean) / d->t_std, pz = p[i];
                loss_sum += (pz - z) * (pz - z);
                double pv = pz * d->t_std + d->t_mean, e = pv - t[i];
                se += e * e, ae += fabs(e), tsum += t[i], tsq += (double)t[i] * t[i];
            }
        }
        seen += n;
        clgrad_tensor_release(am);
        clgrad_tensor_release(l);
        clgrad_tensor_release(yt);
        clgrad_tensor_release(o);
        clgrad_tensor_release(xt);
    }
    clgrad_no_grad_end(ctx);
    clgrad_module_train(model, was_training);
    free(x), free(t), free(p), free(y), free(pred);
    double sums[5] = {loss_sum, se, ae, tsum, tsq};
    s = sum_over_ranks(g, s, sums, out->confusion, nc, &correct, &seen);
    loss_sum = sums[0], se = sums[1], ae = sums[2], tsum = sums[3], tsq = sums[4];
    out->n = seen;
    double cnt = (double)seen * nt;
    out->loss = seen ? loss_sum / (d->regress ? cnt : (double)seen) : NAN;
    out->acc = seen && !d->regress ? (double)correct / (double)seen : NAN;
    if (d->regress && seen) {
        out->rmse = sqrt(se / cnt);
        out->mae = ae / cnt;
        double var = tsq / cnt - (tsum / cnt) * (tsum / cnt);
        out->r2 = var > 0 ? 1 - (se / cnt) / var : NAN;
    }
    return s;
}

static void class_label(const data_desc *d, int k, char *buf, size_t cap)
{
    if (k < d->n_class_names) snprintf(buf, cap, "%s", d->class_names[k]);
    else snprintf(buf, cap, "%d", k);
}

void metrics_print(FILE *f, const data_desc *d, const train_metrics *m)
{
    if (d->regress) {
        fprintf(f, "samples %" PRId64 ": RMSE %.6g  MAE %.6g  R^2 %.4f  (loss %.4f, MSE of the standardised target)\n",
                m->n, m->rmse, m->mae, m->r2, m->loss);
        return;
    }
    int nc = m->n_classes;
    fprintf(f, "samples %" PRId64 ": accuracy %.2f%%  loss %.4f\n\n", m->n, 100 * m->acc, m->loss);
    fprintf(f, "%-14s %9s %9s %9s %9s\n", "class", "precision", "recall", "F1", "support");
    double mp = 0, mr = 0, mf = 0;
    int counted = 0;
    for (int k = 0; k < nc; k++) {
        int64_t tp = m->confusion[(int64_t)k * nc + k], pred = 0, sup = 0;
        for (int j = 0; j < nc; j++) pred += m->confusion[(int64_t)j * nc + k], sup += m->confusion[(int64_t)k * nc + j];
        double pr = pred ? (double)tp / (double)pred : 0, rc = sup ? (double)tp / (double)sup : 0;
        double f1 = pr + rc > 0 ? 2 * pr * rc / (pr + rc) : 0;
        char name[64];
        class_label(d, k, name, sizeof name);
        fprintf(f, "%-14.14s %9.4f %9.4f %9.4f %9" PRId64 "\n", name, pr, rc, f1, sup);
        if (sup) mp += pr, mr += rc, mf += f1, counted++;
    }
    if (counted)
        fprintf(f, "%-14s %9.4f %9.4f %9.4f %9" PRId64 "\n", "macro avg", mp / counted, mr / counted, mf / counted, m->n);
    /* Columns as wide as the longest class name (up to 14) or count. */
    int w = 5;
    for (int k = 0; k < nc; k++) {
        char name[64];
        class_label(d, k, name, sizeof name);
        if ((int)strlen(name) > w) w = (int)strlen(name);
    }
    if (w > 14) w = 14;
    fprintf(f, "\nconfusion matrix (rows: true class, columns: predicted)\n%*s", w, "");
    for (int j = 0; j < nc; j++) {
        char name[64];
        class_label(d, j, name, sizeof name);
        fprintf(f, " %*.*s", w, w, name);
    }
    fputc('\n', f);
    for (int k = 0; k < nc; k++) {
        char name[64];
        class_label(d, k, name, sizeof name);
        fprintf(f, "%*.*s", w, w, name);
        for (int j = 0; j < nc; j++) fprintf(f, " %*" PRId64, w, m->confusion[(int64_t)k * nc + j]);
        fputc('\n', f);
    }
}

/* Writes the predictions for every sample of ds: row, the prediction, the true value when
 * the data has it, and class probabilities. */
static clgrad_status write_predictions(FILE *f, clgrad_context *ctx, const train_net *net, clgrad_module *model,
                                       const data_desc *d, const clgrad_dataset *ds, int batch, int has_targets)
{
    int64_t nb = clgrad_dataset_n_batches(ds, batch), ss = clgrad_dataset_sample_size(ds);
    int nt = d->regress ? d->n_targets : 1, nout = d->regress ? d->n_targets : d->n_classes;
    float *x = malloc((size_t)batch * (size_t)ss * sizeof *x), *t = malloc((size_t)batch * (size_t)nt * sizeof *t);
    float *o = malloc((size_t)batch * (size_t)nout * sizeof *o);
    int32_t *y = malloc((size_t)batch * sizeof *y);
    if (!x || !t || !o || !y) {
        free(x), free(t), free(o), free(y);
        return CLGRAD_ERR_HOST_MEMORY;
    }
    fprintf(f, "row");
    char name[64];
    if (d->regress) {
        for (int k = 0; k < nt; k++) fprintf(f, nt > 1 ? ",predicted_%d" : ",predicted", k + 1);
        for (int k = 0; has_targets && k < nt; k++) fprintf(f, nt > 1 ? ",true_%d" : ",true", k + 1);
    } else {
        fprintf(f, ",predicted%s", has_targets ? ",true" : "");
        for (int k = 0; k < nout; k++) class_label(d, k, name, sizeof name), fprintf(f, ",p_%s", name);
    }
    fputc('\n', f);
    clgrad_status s = CLGRAD_OK;
    clgrad_module_train(model, 0);
    clgrad_no_grad_begin(ctx);
    int64_t row = 0;
    for (int64_t b = 0; s == CLGRAD_OK && b < nb; b++) {
        clgrad_tensor *xt = NULL, *out = NULL, *sm = NULL;
        int64_t n = 0;
        s = forward_batch(ctx, net, model, d, ds, batch, b, x, y, t, &n, &xt, &out);
        if (s == CLGRAD_OK && !d->regress) s = clgrad_softmax(out, 1, &sm);
        if (s == CLGRAD_OK) s = clgrad_tensor_read(d->regress ? out : sm, o, (size_t)(n * nout) * sizeof *o);
        for (int64_t i = 0; s == CLGRAD_OK && i < n; i++, row++) {
            const float *oi = o + i * nout;
            /* The row of the sample in the file; a window is named by its last input row. */
            int64_t id = clgrad_dataset_sample_id(ds, row) + (d->kind == DATA_SERIES ? d->window - 1 : 0);
            fprintf(f, "%" PRId64, id);
            if (d->regress) {
                for (int k = 0; k < nt; k++) fprintf(f, ",%.7g", (double)(oi[k] * d->t_std + d->t_mean));
                for (int k = 0; has_targets && k < nt; k++) fprintf(f, ",%.7g", (double)t[i * nt + k]);
            } else {
                int best = 0;
                for (int k = 1; k < nout; k++)
                    if (oi[k] > oi[best]) best = k;
                class_label(d, best, name, sizeof name);
                fprintf(f, ",%s", name);
                if (has_targets) class_label(d, y[i], name, sizeof name), fprintf(f, ",%s", name);
                for (int k = 0; k < nout; k++) fprintf(f, ",%.5f", (double)oi[k]);
            }
            fputc('\n', f);
        }
        clgrad_tensor_release(sm);
        clgrad_tensor_release(out);
        clgrad_tensor_release(xt);
    }
    clgrad_no_grad_end(ctx);
    free(x), free(t), free(o), free(y);
    return s;
}

int eval_run(const train_args *a)
{
    const char *ck = a->checkpoint && a->checkpoint[0] ? a->checkpoint : a->resume;
    if (!ck) {
        fprintf(stderr, "clgrad-train: %s needs --checkpoint FILE\n", a->cmd == CMD_EVAL ? "eval" : "predict");
        return TRAIN_EXIT_USAGE;
    }
    if (a->cmd == CMD_PREDICT && !a->out) {
        fprintf(stderr, "clgrad-train: predict needs --out FILE.csv (or - for the standard output)\n");
        return TRAIN_EXIT_USAGE;
    }
    clgrad_checkpoint_meta *meta = calloc(1, sizeof *meta);
    data_desc d = {0};
    train_net net;
    clgrad_context *ctx = NULL;
    clgrad_module *model = NULL;
    clgrad_dataset *ds = NULL;
    train_metrics m = {0};
    char *spec = NULL;
    static char err[8192];
    int rc = 0, has_targets = 1;
    clgrad_status s = meta ? clgrad_checkpoint_read_meta(ck, meta) : CLGRAD_ERR_HOST_MEMORY;
    if (s != CLGRAD_OK) {
        fprintf(stderr, "clgrad-train: cannot read the checkpoint: %s\n", clgrad_last_error(NULL));
        rc = TRAIN_EXIT_FAIL;
        goto done;
    }
    spec = meta_get_long(meta, "train.net");
    if (!spec) {
        const char *model_name = clgrad_checkpoint_meta_get(meta, "train.model");
        if (model_name && net_preset(model_name)) spec = strdup(net_preset(model_name));
    }
    if (!spec) {
        fprintf(stderr, "clgrad-train: %s: the checkpoint names no network (train.net)\n", ck);
        rc = TRAIN_EXIT_FAIL;
        goto done;
    }
    if (net_parse(spec, &net, err, sizeof err) != 0) {
        fprintf(stderr, "clgrad-train: %s: %s", ck, err);
        rc = TRAIN_EXIT_FAIL;
        goto done;
    }
    if ((rc = data_desc_load(meta, &d, ck)) != 0) goto done;
    if ((rc = data_load_like(a, &d, a->data_dir, a->cmd == CMD_EVAL, &ds, &has_targets)) != 0) goto done;
    if (a->cmd == CMD_EVAL && !d.regress) {
        int32_t hi;
        clgrad_dataset_label_stats(ds, NULL, &hi, NULL, 0);
        if (hi >= d.n_classes) {
            fprintf(stderr, "clgrad-train: %s: label %d is outside the %d classes the network was trained on\n",
                    a->data_dir, hi, d.n_classes);
            rc = TRAIN_EXIT_FAIL;
            goto done;
        }
    }
    clgrad_context_desc desc = {.device = a->device};
    if ((s = clgrad_context_create(&desc, &ctx)) != CLGRAD_OK) {
        fprintf(stderr, "clgrad-train: cannot open the device: %s\n", clgrad_last_error(NULL));
        rc = TRAIN_EXIT_FAIL;
        goto done;
    }
    if (net_build(ctx, &net, d.sample_nd, d.sample_shape, d.regress ? d.n_targets : d.n_classes, 0, &model, err,
                  sizeof err) != CLGRAD_OK) {
        fprintf(stderr, "clgrad-train: %s", err);
        rc = TRAIN_EXIT_FAIL;
        goto done;
    }
    if ((s = clgrad_checkpoint_load(ck, model, NULL, NULL)) != CLGRAD_OK) {
        fprintf(stderr, "clgrad-train: cannot load the checkpoint: %s\n", clgrad_last_error(ctx));
        rc = TRAIN_EXIT_FAIL;
        goto done;
    }
    if (a->print_net) net_print(stdout, &net);
    if (a->cmd == CMD_EVAL) {
        if (!a->quiet) data_report(stdout, &d, ds, a->data_dir, 0);
        s = metrics_compute(ctx, &net, model, &d, ds, a->batch, 0, NULL, &m);
        if (s == CLGRAD_OK) metrics_print(stdout, &d, &m);
        if (s == CLGRAD_OK && a->plot && !d.regress) {
            char title[1200];
            const char *base = strrchr(a->data_dir, '/');
            snprintf(title, sizeof title, "%s on %s: accuracy %.2f%%", net.spec, base ? base + 1 : a->data_dir,
                     100 * m.acc);
            if (plot_confusion(a->plot, &d, &m, title) != 0) {
                fprintf(stderr, "clgrad-train: cannot write the plot %s\n", a->plot);
                rc = TRAIN_EXIT_FAIL;
            }
        }
    } else {
        FILE *f = strcmp(a->out, "-") == 0 ? stdout : fopen(a->out, "w");
        if (!f) {
            fprintf(stderr, "clgrad-train: cannot write %s\n", a->out);
            rc = TRAIN_EXIT_FAIL;
            goto done;
        }
        s = write_predictions(f, ctx, &net, model, &d, ds, a->batch, has_targets);
        if ((f != stdout && fclose(f) != 0) || (f == stdout && fflush(f) != 0)) {
            fprintf(stderr, "clgrad-train: writing %s failed\n", a->out);
            rc = TRAIN_EXIT_FAIL;
        }
        if (s == CLGRAD_OK && f != stdout && !a->quiet)
            printf("wrote %" PRId64 " predictions to %s\n", clgrad_dataset_count(ds), a->out);
    }
    if (s != CLGRAD_OK) {
        fprintf(stderr, "clgrad-train: evaluation failed: %s: %s\n", clgrad_status_name(s), clgrad_last_error(ctx));
        rc = TRAIN_EXIT_FAIL;
    }
done:
    metrics_free(&m);
    free(spec);
    free(meta);
    data_desc_free(&d);
    clgrad_dataset_release(ds);
    clgrad_module_release(model);
    clgrad_context_release(ctx);
    return rc;
}
