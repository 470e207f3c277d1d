/* Losses: cross entropy / NLL on (N, C) log-probabilities with i32 labels, MSE and binary
 * cross entropy with logits, forward (per-sample values; the host reduces them with the
 * deterministic reduction engine) and backward. All operands are contiguous.
 * -D values: none. A label outside [0, C) that is not the ignore index never indexes memory:
 * its sample's loss and gradient row are NaN. */

/* nll_fwd_f32: per sample i < N with label lab:
 *   ignored (lab == ignore): loss 0, counted 0;   out of range: loss NaN, counted 1;
 *   else loss = (1 - eps) * -lp[i, lab] - eps / C * rowsum[i]  (rowsum only read when eps != 0),
 *   counted 1.
 * Args: loss, counted, lp, lpoff, labels, loff, rowsum (or NULL), N, C, eps, ignore.
 * NDRange: 1-D >= N. */
kernel void nll_fwd_f32(global float *loss, global float *counted, global const float *lp, long lpoff,
                        global const int *labels, long loff, global const float *rowsum, long N, long C, float eps,
                        int ignore)
{
    long i = get_global_id(0);
    if (i >= N) return;
    int lab = labels[loff + i];
    if (lab == ignore) {
        loss[i] = 0.0f;
        counted[i] = 0.0f;
        return;
    }
    counted[i] = 1.0f;
    if (lab < 0 || lab >= C) {
        loss[i] = NAN;
        return;
    }
    float l = -lp[lpoff + i * C + lab];
    if (eps != 0.0f) l = (1.0f - eps) * l - eps / (float)C * rowsum[i];
    loss[i] = l;
}

/* nll_fwd_red_f32: the reduced loss of nll_fwd_f32's per-sample values in one work-group,
 * in the reduction engine's order: lane t (0..63) sums the losses and counts of samples
 * t, t+64, ... in order, then a fixed pairwise tree (equal to nll_fwd_f32 followed by the
 * engine while N fits one of its chunks); rowsum likewise over the C values of a row.
 * mean 1: out = sum loss / sum counted, cnt[0] = sum counted; mean 0: out = sum loss.
 * Args: out, ooff, cnt (or NULL), lp, lpoff, labels, loff, N, C, eps, ignore, mean,
 * lv, lc (local, 64 floats each).  NDRange: one work-group of any size. */
kernel void nll_fwd_red_f32(global float *out, long ooff, global float *cnt, global const float *lp, long lpoff,
                            global const int *labels, long loff, long N, long C, float eps, int ignore, int mean,
                            local float *lv, local float *lc)
{
    int w = (int)get_local_id(0), W = (int)get_local_size(0);
    for (int t = w; t < 64; t += W) {
        float al = 0.0f, ac = 0.0f;
        for (long i = t; i < N; i += 64) {
            int lab = labels[loff + i];
            float l = 0.0f, c = 1.0f;
            if (lab == ignore) c = 0.0f;
            else if (lab < 0 || lab >= C) l = NAN;
            else {
                global const float *row = lp + lpoff + i * C;
                l = -row[lab];
                if (eps != 0.0f) {
                    float p[64];
                    for (int k = 0; k < 64; k++) p[k] = 0.0f;
                    for (long k = 0; k < C; k++) p[k % 64] = p[k % 64] + row[k];
                    for (int h = 32; h > 0; h >>= 1)
                        for (int k = 0; k < h; k++) p[k] = p[k] + p[k + h];
                    l = (1.0f - eps) * l - eps / (float)C * p[0];
                }
            }
            al = al + l;
            ac = ac + c;
        }
        lv[t] = al;
        lc[t] = ac;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = 32; h > 0; h >>= 1) {
        for (int t = w; t < h; t += W) {
            lv[t] = lv[t] + lv[t + h];
            lc[t] = lc[t] + lc[t + h];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (w == 0) {
        out[ooff] = mean ? lv[0] / lc[0] : lv[0];
        if (mean) cnt[0] = lc[0];
    }
}

/* nll_bwd_f32: gradient for element j = i*C + k of (N, C):
 *   s = (per_sample ? gy[i] : gy[0]) / (cnt ? cnt[0] : 1)
 *   ignored rows 0, out-of-range labels NaN, else
 *   dx = s * ((softmax ? exp(lp[j]) - eps / C : 0) - (1 - eps) * (k == lab)).
 * softmax 1: the gradient of cross entropy w.r.t. logits (lp = log_softmax(logits));
 * softmax 0: the gradient of nll_loss w.r.t. logp (eps 0, lp unused).
 * Args: dx, lp, labels, loff, gy, gyoff, per_sample, cnt (or NULL), N, C, eps, ignore, softmax.
 * NDRange: 1-D >= N*C. */
kernel void nll_bwd_f32(global float *dx, global const float *lp, global const int *labels, long loff,
                        global const float *gy, long gyoff, int per_sample, global const float *cnt, long N, long C,
                        float eps, int ignore, int softmax)
{
    long j = get_global_id(0);
    if (j >= N * C) return;
    /* 32-bit division when the sizes allow (64-bit division is slow on GPUs) */
    long i = j < 4294967296L && C < 4294967296L ? (long)((uint)j / (uint)C) : j / C, k = j - i * C;
    int lab = labels[loff + i];
    if (lab == ignore) {
        dx[j] = 0.0f;
        return;
    }
    if (lab < 0 || lab >= C) {
        dx[j] = NAN;
        return;
    }
    float s = per_sample ? gy[gyoff + i] : gy[gyoff];
    if (cnt) s = s / cnt[0];
    float p = softmax ? exp(lp[j]) - eps / (float)C : 0.0f;
    dx[j] = s * (p - (k == lab ? 1.0f - eps : 0.0f));
}

/* loss_div_f32: out[0] = a[0] / b[0] (mean over counted samples).  Args: out, a, b.
 * NDRange: 1-D >= 1. */
kernel void loss_div_f32(global float *out, long ooff, global const float *a, global const float *b)
{
    if (get_global_id(0) == 0) out[ooff] = a[0] / b[0];
}

/* mse_fwd_f32: l[j] = (x[j] - t[j])^2.  Args: l, x, xoff, t, toff, n.  NDRange: 1-D >= n. */
kernel void mse_fwd_f32(global float *l, global const float *x, long xoff, global const float *t, long toff, long n)
{
    long j = get_global_id(0);
    if (j >= n) return;
    float d = x[xoff + j] - t[toff + j];
    l[j] = d * d;
}

/* bce_fwd_f32: l[j] = max(x, 0) - x*t + log1p(exp(-|x|)) (no overflow for any x).
 * Args: l, x, xoff, t, toff, n.  NDRange: 1-D >= n. */
kernel void bce_fwd_f32(global float *l, global const float *x, long xoff, global const float *t, long toff, long n)
{
    long j = get_global_id(0);
    if (j >= n) return;
    float xv = x[xoff + j];
    l[j] = fmax(xv, 0.0f) - xv * t[toff + j] + log1p(exp(-fabs(xv)));
}

/* pointwise_bwd_f32: s = (per_elem ? gy[j] : gy[0]) * scale, then
 *   mse (BCE 0): dx = 2 (x - t) s,           dt = -dx
 *   bce (BCE 1): dx = (sigmoid(x) - t) s,    dt = -x s
 * dx / dt are written when non-NULL.
 * Args: dx, dt, x, xoff, t, toff, gy, gyoff, per_elem, scale, n, bce.  NDRange: 1-D >= n. */
kernel void pointwise_bwd_f32(global float *dx, global float *dt, global const float *x, long xoff,
                              global const float *t, long toff, global const float *gy, long gyoff, int per_elem,
                              float scale, long n, int bce)
{
    long j = get_global_id(0);
    if (j >= n) return;
    float s = (per_elem ? gy[gyoff + j] : gy[gyoff]) * scale;
    float xv = x[xoff + j], tv = t[toff + j];
    float gx, gt;
    if (bce) {
        /* sigmoid without overflow on either side */
        float e = exp(-fabs(xv));
        float sg = xv >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        gx = (sg - tv) * s;
        gt = -xv * s;
    } else {
        gx = 2.0f * (xv - tv) * s;
        gt = -gx;
    }
    if (dx) dx[j] = gx;
    if (dt) dt[j] = gt;
}
