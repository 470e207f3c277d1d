/* clgrad optimizers: SGD (momentum, Nesterov, weight decay), Adam and AdamW over a module's
 * parameters or an explicit list, gradient clipping by global norm, and learning-rate
 * schedules. Updates follow torch.optim's formulas and run as fused device kernels, one
 * per parameter, recording nothing for autograd. Included by clgrad.h.
 *
 *     clgrad_optim_options o = clgrad_optim_defaults(CLGRAD_OPTIM_ADAMW, 1e-3f);
 *     clgrad_optim *opt = NULL;
 *     s = clgrad_optim_create(model, &o, &opt);
 *     ...  forward, clgrad_backward(loss), then:
 *     s = clgrad_optim_step(opt);  clgrad_optim_zero_grad(opt);
 */
#ifndef CLGRAD_OPTIM_H
#define CLGRAD_OPTIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clgrad_optim clgrad_optim;

typedef enum clgrad_optim_kind {
    CLGRAD_OPTIM_SGD = 0,
    CLGRAD_OPTIM_ADAM = 1,  /* weight_decay adds weight_decay * param to the gradient (L2) */
    CLGRAD_OPTIM_ADAMW = 2, /* decoupled: param *= 1 - lr * weight_decay before the update */
} clgrad_optim_kind;

/* Hyper-parameters, torch.optim's names and meanings. Fields another kind uses are ignored. */
typedef struct clgrad_optim_options {
    clgrad_optim_kind kind;
    float lr;
    float weight_decay;
    float momentum, dampening; /* SGD */
    int nesterov;              /* SGD: needs momentum > 0 and dampening == 0 */
    float beta1, beta2, eps;   /* Adam, AdamW */
} clgrad_optim_options;

/* PyTorch's defaults for kind with learning rate lr: SGD momentum 0, dampening 0, no
 * weight decay; Adam betas (0.9, 0.999), eps 1e-8, weight decay 0; AdamW the same with
 * weight decay 0.01. Thread-safe. */
CLGRAD_API clgrad_optim_options clgrad_optim_defaults(clgrad_optim_kind kind, float lr);

/* An optimizer over every parameter of m (clgrad_module_param order and names). It holds
 * references to the parameters, not to m. Its state (momentum buffers, Adam moments) is
 * allocated here, zero-filled, so that it can be enumerated and loaded from a checkpoint
 * before the first step. *out is a new handle (NULL on failure). Bad options (lr < 0,
 * betas outside [0, 1), Nesterov without momentum, ...) are INVALID_ARG. */
CLGRAD_API clgrad_status clgrad_optim_create(clgrad_module *m, const clgrad_optim_options *o, clgrad_optim **out);
/* The same over n explicit parameters: contiguous f32 leaf tensors of ctx with
 * requires_grad (a tensor of another context, or one listed twice, is INVALID_ARG).
 * names (NULL: "0", "1", ...) are copied and name the state. */
CLGRAD_API clgrad_status clgrad_optim_create_params(clgrad_context *ctx, int n, clgrad_tensor *const *params,
                                                    const char *const *names, const clgrad_optim_options *o,
                                                    clgrad_optim **out);
CLGRAD_API void clgrad_optim_release(clgrad_optim *opt); /* NULL: no-op */

/* One update of every parameter that has a gradient (parameters without one are skipped
 * and their step counts stay, as in torch.optim). Enqueues only. */
CLGRAD_API clgrad_status clgrad_optim_step(clgrad_optim *opt);
/* Drops every parameter's gradient. */
CLGRAD_API void clgrad_optim_zero_grad(clgrad_optim *opt);

CLGRAD_API float clgrad_optim_get_lr(const clgrad_optim *opt);
/* Sets the learning rate for the next steps. CLGRAD_ERR_INVALID_ARG (the lr unchanged) for
 * a NULL opt or an lr that is negative, infinite or NaN. */
CLGRAD_API clgrad_status clgrad_optim_set_lr(clgrad_optim *opt, float lr);
/* The options in use (lr as last set). */
CLGRAD_API clgrad_optim_options clgrad_optim_get_options(const clgrad_optim *opt);

/* Parameters, in order (borrowed; *name optional, owned by opt). */
CLGRAD_API int clgrad_optim_param_count(const clgrad_optim *opt);
CLGRAD_API clgrad_tensor *clgrad_optim_param(const clgrad_optim *opt, int i, const char **name);

/* State tensors, for checkpoints: per parameter "<name>.momentum_buffer" (SGD with
 * momentum) or "<name>.exp_avg" and "<name>.exp_avg_sq" (Adam, AdamW), in parameter order.
 * Borrowed; writing into them (clgrad_tensor_write, clgrad_copy_) loads state. NULL when i
 * is out of range. *name is owned by opt. */
CLGRAD_API int clgrad_optim_state_count(const clgrad_optim *opt);
CLGRAD_API clgrad_tensor *clgrad_optim_state(const clgrad_optim *opt, int i, const char **name);
/* Per-parameter step counts ("<name>.step": updates applied so far; Adam's bias correction
 * and SGD's first momentum step depend on it), host integers, for checkpoints. The getter
 * returns 0 (and *name NULL) when i is out of range; the setter then fails with
 * INVALID_ARG. i indexes parameters. */
CLGRAD_API int64_t clgrad_optim_step_count(const clgrad_optim *opt, int i, const char **name);
CLGRAD_API clgrad_status clgrad_optim_set_step_count(clgrad_optim *opt, int i, int64_t steps);

/* --- gradient clipping ------------------------------------------------------------------- */

/* Scales the gradients of params (n of them, one context; those without a gradient are
 * skipped) so that their global L2 norm is at most max_norm: each is multiplied by
 * min(1, max_norm / (norm + 1e-6)), torch.nn.utils.clip_grad_norm_. Runs on the device
 * without waiting. *total_norm (optional) receives a new 0-d tensor holding the norm before
 * clipping. max_norm must be > 0. */
CLGRAD_API clgrad_status clgrad_clip_grad_norm(int n, clgrad_tensor *const *params, float max_norm,
                                               clgrad_tensor **total_norm);
/* The same over an optimizer's parameters. */
CLGRAD_API clgrad_status clgrad_optim_clip_grad_norm(clgrad_optim *opt, float max_norm, clgrad_tensor **total_norm);

/* --- learning-rate schedules --------------------------------------------------------------- */

typedef enum clgrad_lr_kind {
    CLGRAD_LR_CONSTANT = 0,
    CLGRAD_LR_STEP = 1,   /* base_lr * gamma^floor(t / step_size) (torch's StepLR) */
    CLGRAD_LR_COSINE = 2, /* min_lr + (base_lr - min_lr) (1 + cos(pi t / T)) / 2, then min_lr */
} clgrad_lr_kind;

/* A schedule is a plain value: clgrad_lr_at(&s, step) is the learning rate for step (0 for
 * the first), usually passed to clgrad_optim_set_lr before clgrad_optim_step. With
 * warmup_steps > 0 the first warmup_steps steps rise linearly from base_lr *
 * warmup_start_factor towards base_lr (torch's LinearLR), and the main schedule then runs
 * with t = step - warmup_steps. For COSINE, T = total_steps - warmup_steps (the length of the
 * whole run, warm-up included, as in the usual "warm-up + cosine" recipes). */
typedef struct clgrad_lr_schedule {
    clgrad_lr_kind kind;
    float base_lr;
    int64_t step_size; /* STEP */
    float gamma;       /* STEP */
    int64_t total_steps; /* COSINE */
    float min_lr;        /* COSINE */
    int64_t warmup_steps;
    float warmup_start_factor; /* in [0, 1] */
} clgrad_lr_schedule;

CLGRAD_API clgrad_lr_schedule clgrad_lr_constant(float base_lr);
CLGRAD_API clgrad_lr_schedule clgrad_lr_step(float base_lr, int64_t step_size, float gamma);
CLGRAD_API clgrad_lr_schedule clgrad_lr_cosine(float base_lr, int64_t total_steps, float min_lr);
/* s with a linear warm-up of warmup_steps steps starting at base_lr * start_factor. */
CLGRAD_API clgrad_lr_schedule clgrad_lr_with_warmup(clgrad_lr_schedule s, int64_t warmup_steps, float start_factor);
/* The learning rate at step (negative counts as 0). Thread-safe. */
CLGRAD_API float clgrad_lr_at(const clgrad_lr_schedule *s, int64_t step);

#ifdef __cplusplus
}
#endif

#endif
