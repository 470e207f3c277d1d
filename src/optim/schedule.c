/* Learning-rate schedules as plain values: step decay, cosine annealing, linear warm-up. */
#include "core/core.h"

#include <math.h>
#include <string.h>

static clgrad_lr_schedule base(clgrad_lr_kind kind, float base_lr)
{
    clgrad_lr_schedule s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.base_lr = base_lr;
    s.gamma = 1.0f;
    s.warmup_start_factor = 1.0f;
    return s;
}

CLGRAD_API clgrad_lr_schedule clgrad_lr_constant(float base_lr)
{
    return base(CLGRAD_LR_CONSTANT, base_lr);
}

CLGRAD_API clgrad_lr_schedule clgrad_lr_step(float base_lr, int64_t step_size, float gamma)
{
    clgrad_lr_schedule s = base(CLGRAD_LR_STEP, base_lr);
    s.step_size = step_size;
    s.gamma = gamma;
    return s;
}

CLGRAD_API clgrad_lr_schedule clgrad_lr_cosine(float base_lr, int64_t total_steps, float min_lr)
{
    clgrad_lr_schedule s = base(CLGRAD_LR_COSINE, base_lr);
    s.total_steps = total_steps;
    s.min_lr = min_lr;
    return s;
}

CLGRAD_API clgrad_lr_schedule clgrad_lr_with_warmup(clgrad_lr_schedule s, int64_t warmup_steps, float start_factor)
{
    s.warmup_steps = warmup_steps;
    s.warmup_start_factor = start_factor;
    return s;
}

CLGRAD_API float clgrad_lr_at(const clgrad_lr_schedule *s, int64_t step)
{
    if (!s) return 0.0f;
    if (step < 0) step = 0;
    double lr = s->base_lr;
    if (s->warmup_steps > 0 && step < s->warmup_steps) {
        double f = s->warmup_start_factor;
        return (float)(lr * (f + (1.0 - f) * (double)step / (double)s->warmup_steps));
    }
    int64_t t = step - (s->warmup_steps > 0 ? s->warmup_steps : 0);
    switch (s->kind) {
    case CLGRAD_LR_STEP:
        if (s->step_size > 0) lr *= pow((double)s->gamma, (double)(t / s->step_size));
        break;
    case CLGRAD_LR_COSINE: {
        int64_t T = s->total_steps - (s->warmup_steps > 0 ? s->warmup_steps : 0);
        if (T <= 0 || t >= T) return s->min_lr;
        lr = s->min_lr + (lr - s->min_lr) * 0.5 * (1.0 + cos(3.14159265358979323846 * (double)t / (double)T));
        break;
    }
    default:
        break;
    }
    return (float)lr;
}
