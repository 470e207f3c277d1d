/* Reference normalisation layers (batch norm, layer norm), losses (cross entropy, NLL, MSE,
 * BCE with logits) and embedding, forward and backward. Statistics are recomputed from the
 * input in double by the backward functions. Semantics are documented in ref.h. */
#include "ref.h"

#include <math.h>

/* ------------------------------------------------------------ batch norm */

/* Mean and biased variance of channel ch of x viewed as (n, c, s). */
static void channel_stats(size_t n, size_t c, size_t s, const float *x, size_t ch, double *mean,
                          double *var)
{
    double m = (double)n * (double)s, sum = 0.0, ss = 0.0;
    for (size_t b = 0; b < n; ++b)
        for (size_t j = 0; j < s; ++j)
            sum += x[(b * c + ch) * s + j];
    sum /= m;
    for (size_t b = 0; b < n; ++b)
        for (size_t j = 0; j < s; ++j) {
            double d = x[(b * c + ch) * s + j] - sum;
            ss += d * d;
        }
    *mean = sum;
    *var = ss / m;
}

/* y = (x - mean) * invstd * weight + bias over one channel. */
static void channel_affine(size_t n, size_t c, size_t s, const float *x, size_t ch, double mean,
                           double invstd, const float *weight, const float *bias, float *y)
{
    double w = weight ? weight[ch] : 1.0, b0 = bias ? bias[ch] : 0.0;
    for (size_t b = 0; b < n; ++b)
        for (size_t j = 0; j < s; ++j) {
            size_t at = (b * c + ch) * s + j;
            y[at] = (float)(((double)x[at] - mean) * invstd * w + b0);
        }
}

void ref_batch_norm_train_forward(size_t n, size_t c, size_t s, const float *x,
                                  const float *weight, const float *bias, float eps,
                                  float momentum, float *running_mean, float *running_var,
                                  float *y, float *save_mean, float *save_invstd)
{
    double m = (double)n * (double)s;
    for (size_t ch = 0; ch < c; ++ch) {
        double mean, var;
        channel_stats(n, c, s, x, ch, &mean, &var);
        double invstd = 1.0 / sqrt(var + (double)eps);
        channel_affine(n, c, s, x, ch, mean, invstd, weight, bias, y);
        if (save_mean)
            save_mean[ch] = (float)mean;
        if (save_invstd)
            save_invstd[ch] = (float)invstd;
        if (running_mean)
            running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mean);
        if (running_var)
            running_var[ch] = (float)((1.0 - momentum) * running_var[ch] +
                                      momentum * var * m / (m - 1.0));
    }
}

void ref_batch_norm_eval_forward(size_t n, size_t c, size_t s, const float *x,
                                 const float *weight, const float *bias,
                                 const float *running_mean, const float *running_var, float eps,
                                 float *y)
{
    for (size_t ch = 0; ch < c; ++ch)
        channel_affine(n, c, s, x, ch, running_mean[ch],
                       1.0 / sqrt((double)running_var[ch] + (double)eps), weight, bias, y);
}

/* Shared by train and eval backward: sums over one channel of dy and dy * xhat. */
static void channel_grad_sums(size_t n, size_t c, size_t s, const float *x, const float *dy,
                              size_t ch, double mean, double invstd, double *sdy, double *sdyx)
{
    double a = 0.0, b2 = 0.0;
    for (size_t b = 0; b < n; ++b)
        for (size_t j = 0; j < s; ++j) {
            size_t at = (b * c + ch) * s + j;
            a += dy[at];
            b2 += (double)dy[at] * ((double)x[at] - mean) * invstd;
        }
    *sdy = a;
    *sdyx = b2;
}

void ref_batch_norm_train_backward(size_t n, size_t c, size_t s, const float *x,
                                   const float *weight, float eps, const float *dy,
                                   float *dx, float *dweight, float *dbias)
{
    double m = (double)n * (double)s;
    for (size_t ch = 0; ch < c; ++ch) {
        double mean, var, sdy, sdyx;
        channel_stats(n, c, s, x, ch, &mean, &var);
        double invstd = 1.0 / sqrt(var + (double)eps);
        channel_grad_sums(n, c, s, x, dy, ch, mean, invstd, &sdy, &sdyx);
        if (dweight)
            dweight[ch] = (float)sdyx;
        if (dbias)
            dbias[ch] = (float)sdy;
        if (!dx)
            continue;
        double w = weight ? weight[ch] : 1.0;
        for (size_t b = 0; b < n; ++b)
            for (size_t j = 0; j < s; ++j) {
                size_t at = (b * c + ch) * s + j;
                double xhat = ((double)x[at] - mean) * invstd;
                dx[at] = (float)(w * invstd * ((double)dy[at] - sdy / m - xhat * sdyx / m));
            }
    }
}

void ref_batch_norm_eval_backward(size_t n, size_t c, size_t s, const float *x,
                                  const float *weight, const float *running_mean,
                                  const float *running_var, float eps, const float *dy,
                                  float *dx, float *dweight, float *dbias)
{
    for (size_t ch = 0; ch < c; ++ch) {
        double mean = running_mean[ch];
        double invstd = 1.0 / sqrt((double)running_var[ch] + (double)eps), sdy, sdyx;
        channel_grad_sums(n, c, s, x, dy, ch, mean, invstd, &sdy, &sdyx);
        if (dweight)
            dweight[ch] = (float)sdyx;
        if (dbias)
            dbias[ch] = (float)sdy;
        if (!dx)
            continue;
        double k = (weight ? weight[ch] : 1.0) * invstd;
        for (size_t b = 0; b < n; ++b)
            for (size_t j = 0; j < s; ++j) {
                size_t at = (b * c + ch) * s + j;
                dx[at] = (float)((double)dy[at] * k);
            }
    }
}

/* ------------------------------------------------------------ layer norm */

static void row_stats(size_t inner, const float *xr, double eps, double *mean, double *rstd)
{
    double sum = 0.0, ss = 0.0;
    for (size_t j = 0; j < inner; ++j)
        sum += xr[j];
    sum /= (double)inner;
    for (size_t j = 0; j < inner; ++j) {
        double d = xr[j] - sum;
        ss += d * d;
    }
    *mean = sum;
    *rstd = 1.0 / sqrt(ss / (double)inner + eps);
}

void ref_layer_norm_forward(size_t outer, size_t inner, const float *x, const float *weight,
                            const float *bias, float eps, float *y, float *save_mean,
                            float *save_rstd)
{
    for (size_t r = 0; r < outer; ++r) {
        const float *xr = x + r * inner;
        double mean, rstd;
        row_stats(inner, xr, eps, &mean, &rstd);
        for (size_t j = 0; j < inner; ++j) {
            double v = ((double)xr[j] - mean) * rstd;
            if (weight)
                v *= weight[j];
            if (bias)
                v += bias[j];
            y[r * inner + j] = (float)v;
        }
        if (save_mean)
            save_mean[r] = (float)mean;
        if (save_rstd)
            save_rstd[r] = (float)rstd;
    }
}

void ref_layer_norm_backward(size_t outer, size_t inner, const float *x, const float *weight,
                             float eps, const float *dy, float *dx, float *dweight,
                             float *dbias)
{
    if (dx) {
        for (size_t r = 0; r < outer; ++r) {
            const float *xr = x + r * inner, *gr = dy + r * inner;
            double mean, rstd, sg = 0.0, sgx = 0.0;
            row_stats(inner, xr, eps, &mean, &rstd);
            for (size_t j = 0; j < inner; ++j) {
                double g = (double)gr[j] * (weight ? weight[j] : 1.0);
                sg += g;
                sgx += g * ((double)xr[j] - mean) * rstd;
            }
            sg /= (double)inner;
            sgx /= (double)inner;
            for (size_t j = 0; j < inner; ++j) {
                double g = (double)gr[j] * (weight ? weight[j] : 1.0);
                double xhat = ((double)xr[j] - mean) * rstd;
                dx[r * inner + j] = (float)(rstd * (g - sg - xhat * sgx));
            }
        }
    }
    if (dweight || dbias) {
        for (size_t j = 0; j < inner; ++j) {
            double sw = 0.0, sb = 0.0;
            for (size_t r = 0; r < outer; ++r) {
                double mean, rstd;
                row_stats(inner, x + r * inner, eps, &mean, &rstd);
                sw += (double)dy[r * inner + j] * ((double)x[r * inner + j] - mean) * rstd;
                sb += dy[r * inner + j];
            }
            if (dweight)
                dweight[j] = (float)sw;
            if (dbias)
                dbias[j] = (float)sb;
        }
    }
}

/* ---------------------------------------------------------------- losses */

/* Number of samples whose label is not ignore_index; -1 if a label is out of range. */
static long counted_labels(size_t n, size_t c, const int32_t *labels, int32_t ignore_index)
{
    long count = 0;
    for (size_t i = 0; i < n; ++i) {
        if (labels[i] == ignore_index)
            continue;
        if (labels[i] < 0 || (size_t)labels[i] >= c)
            return -1;
        count++;
    }
    return count;
}

/* Writes the reduced loss: total / count (mean) or total (sum); none wrote per sample. */
static void reduce_losses(ref_reduction reduction, double total, double count, float *out)
{
    if (reduction == REF_REDUCTION_MEAN)
        out[0] = (float)(total / count);
    else if (reduction == REF_REDUCTION_SUM)
        out[0] = (float)total;
}

/* Upstream scale of sample i: dout[i] (none), dout[0]/count (mean) or dout[0] (sum). */
static double loss_scale(ref_reduction reduction, const float *dout, size_t i, double count)
{
    if (reduction == REF_REDUCTION_NONE)
        return dout[i];
    if (reduction == REF_REDUCTION_MEAN)
        return (double)dout[0] / count;
    return dout[0];
}

/* Log-sum-exp of one row of c logits. */
static double row_lse(size_t c, const float *row)
{
    double m = -INFINITY, s = 0.0;
    for (size_t k = 0; k < c; ++k)
        m = fmax(m, (double)row[k]);
    for (size_t k = 0; k < c; ++k)
        s += exp((double)row[k] - m);
    return m + log(s);
}

int ref_cross_entropy_forward(size_t n, size_t c, const float *logits, const int32_t *labels,
                              int32_t ignore_index, float label_smoothing,
                              ref_reduction reduction, float *out)
{
    long count = counted_labels(n, c, labels, ignore_index);
    if (count < 0)
        return -1;
    double eps = label_smoothing, total = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double loss = 0.0;
        if (labels[i] != ignore_index) {
            const float *row = logits + i * c;
            double lse = row_lse(c, row), sum_nll = 0.0;
            for (size_t k = 0; k < c; ++k)
                sum_nll += lse - (double)row[k];
            loss = (1.0 - eps) * (lse - (double)row[labels[i]]) + eps / (double)c * sum_nll;
        }
        if (reduction == REF_REDUCTION_NONE)
            out[i] = (float)loss;
        total += loss;
    }
    reduce_losses(reduction, total, (double)count, out);
    return 0;
}

int ref_cross_entropy_backward(size_t n, size_t c, const float *logits, const int32_t *labels,
                               int32_t ignore_index, float label_smoothing,
                               ref_reduction reduction, const float *dout, float *dlogits)
{
    long count = counted_labels(n, c, labels, ignore_index);
    if (count < 0)
        return -1;
    double eps = label_smoothing;
    for (size_t i = 0; i < n; ++i) {
        const float *row = logits + i * c;
        if (labels[i] == ignore_index) {
            for (size_t k = 0; k < c; ++k)
                dlogits[i * c + k] = 0.0f;
            continue;
        }
        double s = loss_scale(reduction, dout, i, (double)count), lse = row_lse(c, row);
        for (size_t k = 0; k < c; ++k) {
            double target = eps / (double)c + ((int32_t)k == labels[i] ? 1.0 - eps : 0.0);
            dlogits[i * c + k] = (float)(s * (exp((double)row[k] - lse) - target));
        }
    }
    return 0;
}

int ref_nll_loss_forward(size_t n, size_t c, const float *logp, const int32_t *labels,
                         int32_t ignore_index, ref_reduction reduction, float *out)
{
    long count = counted_labels(n, c, labels, ignore_index);
    if (count < 0)
        return -1;
    double total = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double loss = labels[i] == ignore_index ? 0.0 : -(double)logp[i * c + (size_t)labels[i]];
        if (reduction == REF_REDUCTION_NONE)
            out[i] = (float)loss;
        total += loss;
    }
    reduce_losses(reduction, total, (double)count, out);
    return 0;
}

int ref_nll_loss_backward(size_t n, size_t c, const int32_t *labels, int32_t ignore_index,
                          ref_reduction reduction, const float *dout, float *dlogp)
{
    long count = counted_labels(n, c, labels, ignore_index);
    if (count < 0)
        return -1;
    for (size_t i = 0; i < n; ++i) {
        for (size_t k = 0; k < c; ++k)
            dlogp[i * c + k] = 0.0f;
        if (labels[i] != ignore_index)
            dlogp[i * c + (size_t)labels[i]] =
                (float)-loss_scale(reduction, dout, i, (double)count);
    }
    return 0;
}

void ref_mse_loss_forward(size_t n, const float *x, const float *target, ref_reduction reduction,
                          float *out)
{
    double total = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double d = (double)x[i] - (double)target[i];
        if (reduction == REF_REDUCTION_NONE)
            out[i] = (float)(d * d);
        total += d * d;
    }
    reduce_losses(reduction, total, (double)n, out);
}

void ref_mse_loss_backward(size_t n, const float *x, const float *target, ref_reduction reduction,
                           const float *dout, float *dx, float *dtarget)
{
    for (size_t i = 0; i < n; ++i) {
        double s = loss_scale(reduction, dout, i, (double)n);
        double g = 2.0 * ((double)x[i] - (double)target[i]) * s;
        if (dx)
            dx[i] = (float)g;
        if (dtarget)
            dtarget[i] = (float)-g;
    }
}

void ref_bce_with_logits_forward(size_t n, const float *x, const float *target,
                                 ref_reduction reduction, float *out)
{
    double total = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double v = x[i], t = target[i];
        double loss = fmax(v, 0.0) - v * t + log1p(exp(-fabs(v)));
        if (reduction == REF_REDUCTION_NONE)
            out[i] = (float)loss;
        total += loss;
    }
    reduce_losses(reduction, total, (double)n, out);
}

void ref_bce_with_logits_backward(size_t n, const float *x, const float *target,
                                  ref_reduction reduction, const float *dout, float *dx,
                                  float *dtarget)
{
    for (size_t i = 0; i < n; ++i) {
        double s = loss_scale(reduction, dout, i, (double)n), v = x[i];
        if (dx)
            dx[i] = (float)((1.0 / (1.0 + exp(-v)) - (double)target[i]) * s);
        if (dtarget)
            dtarget[i] = (float)(-v * s);
    }
}

/* ------------------------------------------------------------- embedding */

static int indices_valid(size_t n_idx, size_t num_embeddings, const int32_t *idx)
{
    for (size_t i = 0; i < n_idx; ++i)
        if (idx[i] < 0 || (size_t)idx[i] >= num_embeddings)
            return 0;
    return 1;
}

int ref_embedding_forward(size_t n_idx, size_t dim, size_t num_embeddings, const float *weight,
                          const int32_t *idx, float *out)
{
    if (!indices_valid(n_idx, num_embeddings, idx))
        return -1;
    for (size_t i = 0; i < n_idx; ++i)
        for (size_t d = 0; d < dim; ++d)
            out[i * dim + d] = weight[(size_t)idx[i] * dim + d];
    return 0;
}

int ref_embedding_backward(size_t n_idx, size_t dim, size_t num_embeddings, const int32_t *idx,
                           const float *dout, float *dweight)
{
    if (!indices_valid(n_idx, num_embeddings, idx))
        return -1;
    /* Gathered per weight row so repeated indices add up in double. */
    for (size_t e = 0; e < num_embeddings; ++e)
        for (size_t d = 0; d < dim; ++d) {
            double acc = 0.0;
            for (size_t i = 0; i < n_idx; ++i)
                if ((size_t)idx[i] == e)
                    acc += dout[i * dim + d];
            dweight[e * dim + d] = (float)acc;
        }
    return 0;
}
