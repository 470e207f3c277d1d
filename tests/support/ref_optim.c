/* Reference optimizer steps (SGD, Adam, AdamW) updating one parameter array in place, as
 * torch.optim does for one tensor. Arithmetic is in double; the state (momentum buffer,
 * moments) is stored as float after each step, and the step uses those stored values, as a
 * float device implementation would. Semantics are documented in ref.h. */
#include "ref.h"

#include <math.h>

void ref_sgd_step(size_t n, float *param, const float *grad, float *buf, float lr,
                  float momentum, float dampening, int nesterov, float weight_decay,
                  int first_step)
{
    for (size_t i = 0; i < n; ++i) {
        double g = (double)grad[i] + (double)weight_decay * (double)param[i];
        if (momentum != 0.0f) {
            double b = first_step ? g
                                  : (double)momentum * (double)buf[i] +
                                        (1.0 - (double)dampening) * g;
            buf[i] = (float)b;
            b = buf[i];
            g = nesterov ? g + (double)momentum * b : b;
        }
        param[i] = (float)((double)param[i] - (double)lr * g);
    }
}

/* Adam's moment update and step; decoupled != 0 gives AdamW. */
static void adam_common(size_t n, float *param, const float *grad, float *m, float *v,
                        double lr, double beta1, double beta2, double eps, double wd, int64_t t,
                        int decoupled)
{
    double bc1 = 1.0 - pow(beta1, (double)t);
    double bc2 = 1.0 - pow(beta2, (double)t);
    for (size_t i = 0; i < n; ++i) {
        double p = param[i], g = grad[i];
        if (decoupled)
            p *= 1.0 - lr * wd;
        else
            g += wd * p;
        m[i] = (float)(beta1 * (double)m[i] + (1.0 - beta1) * g);
        v[i] = (float)(beta2 * (double)v[i] + (1.0 - beta2) * g * g);
        double denom = sqrt((double)v[i]) / sqrt(bc2) + eps;
        param[i] = (float)(p - lr / bc1 * (double)m[i] / denom);
    }
}

void ref_adam_step(size_t n, float *param, const float *grad, float *m, float *v, float lr,
                   float beta1, float beta2, float eps, float weight_decay, int64_t t)
{
    adam_common(n, param, grad, m, v, lr, beta1, beta2, eps, weight_decay, t, 0);
}

void ref_adamw_step(size_t n, float *param, const float *grad, float *m, float *v, float lr,
                    float beta1, float beta2, float eps, float weight_decay, int64_t t)
{
    adam_common(n, param, grad, m, v, lr, beta1, beta2, eps, weight_decay, t, 1);
}
