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
