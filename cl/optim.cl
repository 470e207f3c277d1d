/* Fused in-place optimizer updates, one work-item per parameter element. All tensors are
 * contiguous f32 (buffer + element offset); the arithmetic follows torch.optim. */

/* sgd_step_f32: one SGD step.
 *   g = grad + weight_decay * param
 *   momentum != 0: buf = first_step ? g : momentum * buf + (1 - dampening) * g;
 *                  g = nesterov ? g + momentum * buf : buf
 *   param -= lr * g
 * Args: param, poff, grad, goff, buf, boff (ignored when use_momentum == 0), n, lr, momentum,
 * dampening, weight_decay, use_momentum, nesterov, first_step.  NDRange: 1-D >= n. */
kernel void sgd_step_f32(global float *param, long poff, global const float *grad, long goff, global float *buf,
                         long boff, long n, float lr, float momentum, float dampening, float weight_decay,
                         int use_momentum, int nesterov, int first_step)
{
    long i = get_global_id(0);
    if (i >= n) return;
    float p = param[poff + i];
    float g = grad[goff + i] + weight_decay * p;
    if (use_momentum) {
        float b = first_step ? g : momentum * buf[boff + i] + (1.0f - dampening) * g;
        buf[boff + i] = b;
        g = nesterov ? g + momentum * b : b;
    }
    param[poff + i] = p - lr * g;
}

/* adam_step_f32: one Adam (decoupled == 0) or AdamW (decoupled != 0) step; the host passes
 * the bias corrections: step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t).
 *   AdamW: param *= 1 - lr * weight_decay;  Adam: g = grad + weight_decay * param
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
 *   param -= step_size * m / (sqrt(v) / bc2_sqrt + eps)
 * Args: param, poff, grad, goff, m, moff, v, voff, n, lr, beta1, beta2, eps, weight_decay,
 * step_size, bc2_sqrt, decoupled.  NDRange: 1-D >= n. */
kernel void adam_step_f32(global float *param, long poff, global const float *grad, long goff, global float *m,
                          long moff, global float *v, long voff, long n, float lr, float beta1, float beta2,
                          float eps, float weight_decay, float step_size, float bc2_sqrt, int decoupled)
{
    long i = get_global_id(0);
    if (i >= n) return;
    float p = param[poff + i];
    float g = grad[goff + i];
    if (decoupled)
        p *= 1.0f - lr * weight_decay;
    else
        g += weight_decay * p;
    float mi = beta1 * m[moff + i] + (1.0f - beta1) * g;
    float vi = beta2 * v[voff + i] + (1.0f - beta2) * g * g;
    m[moff + i] = mi;
    v[voff + i] = vi;
    param[poff + i] = p - step_size * mi / (sqrt(vi) / bc2_sqrt + eps);
}

/* --- several parameter tensors in one launch (the optimizer's step over a whole model) --- */

/* Tensors per launch, and elements per work-item. */
#define OPT_SLOTS 8
#define OPT_CHUNK 16

/* The argument list of one tensor slot k: param, grad and two state tensors, each a buffer
 * and an element offset, and the element count. */
#define OPT_SLOT_ARGS(k)                                                                        \
    global float *p##k, long po##k, global const float *g##k, long go##k, global float *s##k, long so##k, \
        global float *t##k, long to##k, long n##k
#define OPT_PICK(k)                                                                             \
    case k:                                                                                     \
        p = p##k + po##k, g = g##k + go##k, sa = s##k + so##k, sb = t##k + to##k, n = n##k;     \
        break;

/* Finds the slot of chunk c (first[s] = the first chunk of slot s, increasing) and points
 * p, g, sa, sb at its tensors; i0 is the chunk's first element in them. */
#define OPT_SLOT_OF(c)                                                                          \
    const long first[OPT_SLOTS] = {first0, first1, first2, first3, first4, first5, first6, first7}; \
    int slot = 0;                                                                               \
    while (slot + 1 < nslots && c >= first[slot + 1]) slot++;                                   \
    global float *p = p0, *sa = s0, *sb = t0;                                                   \
    global const float *g = g0;                                                                 \
    long n = 0;                                                                                 \
    switch (slot) { OPT_PICK(0) OPT_PICK(1) OPT_PICK(2) OPT_PICK(3) OPT_PICK(4) OPT_PICK(5) OPT_PICK(6) OPT_PICK(7) } \
    const long i0 = (c - first[slot]) * OPT_CHUNK, i1 = min(n, i0 + OPT_CHUNK);

/* sgd_multi_f32: sgd_step_f32 on up to OPT_SLOTS tensors, element by element the same.
 * Args: nslots, first0..first7 (the first chunk of OPT_CHUNK elements of each slot, chunks of
 *       slot s are first_s .. first_{s+1} - 1, the last slot's run to the end of the range),
 *       then per slot k < 8: param, grad, momentum buffer, an unused tensor (each buffer,
 *       offset) and n_k; then lr, momentum, dampening, weight_decay, use_momentum, nesterov,
 *       first_step. Unused slots may repeat slot 0.
 * NDRange: 1-D >= the total number of chunks; a work-item past it does nothing. */
kernel void sgd_multi_f32(int nslots, long nchunks, long first0, long first1, long first2, long first3, long first4,
                          long first5, long first6, long first7, OPT_SLOT_ARGS(0), OPT_SLOT_ARGS(1),
                          OPT_SLOT_ARGS(2), OPT_SLOT_ARGS(3), OPT_SLOT_ARGS(4), OPT_SLOT_ARGS(5), OPT_SLOT_ARGS(6),
                          OPT_SLOT_ARGS(7), float lr, float momentum, float dampening, float weight_decay,
                          int use_momentum, int nesterov, int first_step)
{
    const long c = get_global_id(0);
    if (c >= nchunks) return;
    OPT_SLOT_OF(c)
    (void)sb;
    for (long i = i0; i < i1; i++) {
        float pv = p[i];
        float gv = g[i] + weight_decay * pv;
        if (use_momentum) {
            float b = first_step ? gv : momentum * sa[i] + (1.0f - dampening) * gv;
            sa[i] = b;
            gv = nesterov ? gv + momentum * b : b;
        }
        p[i] = pv - lr * gv;
    }
}

/* adam_multi_f32: adam_step_f32 on up to OPT_SLOTS tensors (the same step number t for all),
 * element by element the same. Args: as sgd_multi_f32 with the moments m, v as the two
 * state tensors; then lr, beta1, beta2, eps, weight_decay, step_size, bc2_sqrt, decoupled.
 * NDRange: 1-D >= the total number of chunks. */
kernel void adam_multi_f32(int nslots, long nchunks, long first0, long first1, long first2, long first3, long first4,
                           long first5, long first6, long first7, OPT_SLOT_ARGS(0), OPT_SLOT_ARGS(1),
                           OPT_SLOT_ARGS(2), OPT_SLOT_ARGS(3), OPT_SLOT_ARGS(4), OPT_SLOT_ARGS(5), OPT_SLOT_ARGS(6),
                           OPT_SLOT_ARGS(7), float lr, float beta1, float beta2, float eps, float weight_decay,
                           float step_size, float bc2_sqrt, int decoupled)
{
    const long c = get_global_id(0);
    if (c >= nchunks) return;
    OPT_SLOT_OF(c)
    for (long i = i0; i < i1; i++) {
        float pv = p[i];
        float gv = g[i];
        if (decoupled)
            pv *= 1.0f - lr * weight_decay;
        else
            gv += weight_decay * pv;
        float mi = beta1 * sa[i] + (1.0f - beta1) * gv;
        float vi = beta2 * sb[i] + (1.0f - beta2) * gv * gv;
        sa[i] = mi;
        sb[i] = vi;
        p[i] = pv - step_size * mi / (sqrt(vi) / bc2_sqrt + eps);
    }
}
