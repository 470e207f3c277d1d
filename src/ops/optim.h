/* Internal interface of the fused optimizer kernels (src/ops/optim.c, cl/optim.cl): one
 * in-place update of several parameter tensors per launch (torch.optim's foreach form). Every tensor is a
 * contiguous f32 tensor with the parameter's element count. */
#ifndef CLGRAD_SRC_OPS_OPTIM_H
#define CLGRAD_SRC_OPS_OPTIM_H

/* Only public types here: src/optim includes this header and stays free of OpenCL. */
#include "core/core.h"

typedef struct clgrad__sgd_hparams {
    float lr, momentum, dampening, weight_decay;
    int nesterov;
} clgrad__sgd_hparams;

typedef struct clgrad__adam_hparams {
    float lr, beta1, beta2, eps, weight_decay;
} clgrad__adam_hparams;

/* One SGD step on param using grad. momentum_buf is required when h->momentum != 0 (then it
 * is initialised to the gradient when first_step != 0, PyTorch's first step) and ignored
 * otherwise (may be NULL). Enqueues only. */
clgrad_status clgrad__sgd_step(clgrad_tensor *param, clgrad_tensor *grad, clgrad_tensor *momentum_buf,
                               const clgrad__sgd_hparams *h, int first_step);

/* One Adam (decoupled == 0) or AdamW (decoupled != 0) step number t (1 for the first) on
 * param, updating the moment tensors m and v (zeros before the first step). The bias
 * corrections 1 - beta^t are computed here in double. Enqueues only. */
clgrad_status clgrad__adam_step(clgrad_tensor *param, clgrad_tensor *grad, clgrad_tensor *m, clgrad_tensor *v,
                                const clgrad__adam_hparams *h, int64_t t, int decoupled);

/* The same for n tensors at once (params[i] with grads[i] and its state): one launch per 8
 * tensors, each element updated exactly as by the single-tensor call. bufs may be NULL
 * without momentum. All in one context; the same first_step (SGD) or step number t (Adam)
 * for all. */
clgrad_status clgrad__sgd_steps(int n, clgrad_tensor *const *params, clgrad_tensor *const *grads,
                                clgrad_tensor *const *bufs, const clgrad__sgd_hparams *h, int first_step);
clgrad_status clgrad__adam_steps(int n, clgrad_tensor *const *params, clgrad_tensor *const *grads,
                                 clgrad_tensor *const *m, clgrad_tensor *const *v, const clgrad__adam_hparams *h,
                                 int64_t t, int decoupled);

#endif
