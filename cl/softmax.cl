/* Softmax and log-softmax along one axis, forward and backward. The host views a contiguous
 * tensor as (O, L, I) with the axis of length L in the middle; row q = o*I + i holds the
 * per-row statistics (max, sum), which the host computes with the deterministic reduction
 * engine. In every kernel j runs over the n = O*L*I elements and q = (j / LI) * I + j % I,
 * LI = L*I. NDRange: 1-D >= n. No -D values. */

inline long smx_row(long j, long LI, long I) { return (j / LI) * I + j % I; }

/* softmax_exp_f32: e[j] = exp(x[xoff + j] - m[q]).  Args: e, x, xoff, m, n, LI, I. */
kernel void softmax_exp_f32(global float *e, global const float *x, long xoff, global const float *m, long n,
                            long LI, long I)
{
    long j = get_global_id(0);
    if (j < n) e[j] = exp(x[xoff + j] - m[smx_row(j, LI, I)]);
}

/* softmax_div_f32: y[j] = e[j] / s[q] (in place when y == e).  Args: y, e, s, n, LI, I. */
kernel void softmax_div_f32(global float *y, global const float *e, global const float *s, long n, long LI, long I)
{
    long j = get_global_id(0);
    if (j < n) y[j] = e[j] / s[smx_row(j, LI, I)];
}

/* log_softmax_out_f32: y[j] = x[j] - m[q] - log(s[q]).  Args: y, x, xoff, m, s, n, LI, I. */
kernel void log_softmax_out_f32(global float *y, global const float *x, long xoff, global const float *m,
                                global const float *s, long n, long LI, long I)
{
    long j = get_global_id(0);
    if (j >= n) return;
    long q = smx_row(j, LI, I);
    y[j] = (x[xoff + j] - m[q]) - log(s[q]);
}

/* softmax_mul_f32: t[j] = a[aoff + j] * b[boff + j].  Args: t, a, aoff, b, boff, n. */
kernel void softmax_mul_f32(global float *t, global const float *a, long aoff, global const float *b, long boff,
                            long n)
{
    long j = get_global_id(0);
    if (j < n) t[j] = a[aoff + j] * b[boff + j];
}

/* softmax_bwd_f32: dx[j] = y[j] * (dy[j] - s[q]), s = sum over the row of dy * y.
 * Args: dx, y, yoff, dy, dyoff, s, n, LI, I. */
kernel void softmax_bwd_f32(global float *dx, global const float *y, long yoff, global const float *dy, long dyoff,
                            global const float *s, long n, long LI, long I)
{
    long j = get_global_id(0);
    if (j < n) dx[j] = y[yoff + j] * (dy[dyoff + j] - s[smx_row(j, LI, I)]);
}

/* log_softmax_bwd_f32: dx[j] = dy[j] - exp(y[j]) * s[q], s = sum over the row of dy.
 * Args: dx, y, yoff, dy, dyoff, s, n, LI, I. */
kernel void log_softmax_bwd_f32(global float *dx, global const float *y, long yoff, global const float *dy,
                                long dyoff, global const float *s, long n, long LI, long I)
{
    long j = get_global_id(0);
    if (j < n) dx[j] = dy[dyoff + j] - exp(y[yoff + j]) * s[smx_row(j, LI, I)];
}
