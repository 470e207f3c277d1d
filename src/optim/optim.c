/* Optimizers: SGD (momentum, Nesterov, weight decay), Adam and AdamW. The handle keeps
 * references to its parameters, their state tensors (allocated and zero-filled at creation,
 * so a checkpoint can be loaded before the first step) and per-parameter step counts; each
 * step launches one fused update kernel per parameter inside a no-grad scope. */
#include "optim/optim.h"
#include "tensor/tensor.h" /* p->node: a leaf check */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static char *join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *d = malloc(na + nb + 1);
    if (d) {
        memcpy(d, a, na);
        memcpy(d + na, b, nb + 1);
    }
    return d;
}

CLGRAD_API clgrad_optim_options clgrad_optim_defaults(clgrad_optim_kind kind, float lr)
{
    clgrad_optim_options o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.lr = lr;
    if (kind != CLGRAD_OPTIM_SGD) {
        o.beta1 = 0.9f;
        o.beta2 = 0.999f;
        o.eps = 1e-8f;
        o.weight_decay = kind == CLGRAD_OPTIM_ADAMW ? 0.01f : 0.0f;
    }
    return o;
}

static clgrad_status check_options(clgrad_context *ctx, const clgrad_optim_options *o)
{
    const char *why = NULL;
    if (!o) why = "options are NULL";
    else if ((int)o->kind < CLGRAD_OPTIM_SGD || (int)o->kind > CLGRAD_OPTIM_ADAMW) why = "unknown optimizer kind";
    else if (!(o->lr >= 0.0f) || !isfinite(o->lr)) why = "lr must be a finite value >= 0";
    else if (!(o->weight_decay >= 0.0f)) why = "weight_decay must be >= 0";
    else if (o->kind == CLGRAD_OPTIM_SGD) {
        if (!(o->momentum >= 0.0f)) why = "momentum must be >= 0";
        else if (!(o->dampening >= 0.0f && o->dampening <= 1.0f)) why = "dampening must be in [0, 1]";
        else if (o->nesterov && (o->momentum <= 0.0f || o->dampening != 0.0f))
            why = "Nesterov momentum needs momentum > 0 and dampening 0";
    } else {
        if (!(o->beta1 >= 0.0f && o->beta1 < 1.0f) || !(o->beta2 >= 0.0f && o->beta2 < 1.0f))
            why = "betas must be in [0, 1)";
        else if (!(o->eps >= 0.0f)) why = "eps must be >= 0";
    }
    if (why) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_optim_create: %s", why);
    return CLGRAD_OK;
}

static int state_per_param(const clgrad_optim_options *o)
{
    if (o->kind == CLGRAD_OPTIM_SGD) return o->momentum != 0.0f ? 1 : 0;
    return 2;
}

CLGRAD_API void clgrad_optim_release(clgrad_optim *opt)
{
    if (!opt) return;
    for (int i = 0; i < opt->n; i++) {
        clgrad_tensor_release(opt->params[i]);
        if (opt->names) free(opt->names[i]);
        if (opt->step_names) free(opt->step_names[i]);
    }
    for (int i = 0; i < opt->n * opt->per; i++) {
        if (opt->state) clgrad_tensor_release(opt->state[i]);
        if (opt->state_names) free(opt->state_names[i]);
    }
    free(opt->params);
    free(opt->names);
    free(opt->step_names);
    free(opt->state);
    free(opt->state_names);
    free(opt->steps);
    free(opt);
}

/* Each parameter: present, of ctx, a contiguous f32 leaf that requires grad, listed once,
 * with a name when names are given. */
static clgrad_status check_params(clgrad_context *ctx, int n, clgrad_tensor *const *params, const char *const *names)
{
    for (int i = 0; i < n; i++) {
        clgrad_tensor *p = params[i];
        const char *nm = names ? names[i] : NULL;
        char label[64];
        if (!nm) {
            snprintf(label, sizeof label, "#%d", i);
            nm = label;
        }
        if (!p) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_optim_create: parameter %s is NULL", nm);
        if (clgrad_tensor_context(p) != ctx)
            return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                                "clgrad_optim_create: parameter %s belongs to another context", nm);
        if (clgrad_tensor_dtype(p) != CLGRAD_DTYPE_F32 || !clgrad_tensor_is_contiguous(p) ||
            !clgrad_tensor_requires_grad(p) || p->node)
            return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                                "clgrad_optim_create: parameter %s must be a contiguous f32 leaf tensor that requires grad",
                                nm);
        for (int j = 0; j < i; j++)
            if (params[j] == p)
                return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_optim_create: parameter %s is listed twice",
                                    nm);
        if (names && !names[i])
            return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_optim_create: name %d is NULL", i);
    }
    return CLGRAD_OK;
}

CLGRAD_API clgrad_status clgrad_optim_create_params(clgrad_context *ctx, int n, clgrad_tensor *const *params,
                                                    const char *const *names, const clgrad_optim_options *o,
                                                    clgrad_optim **out)
{
    static const char *const suffix[2][2] = {{".momentum_buffer", NULL}, {".exp_avg", ".exp_avg_sq"}};
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL && out != NULL, "ctx and out must not be NULL");
    CLGRAD_CHECK_ARG(ctx, n >= 0 && (n == 0 || params != NULL), "params must hold n >= 0 tensors");
    CLGRAD_TRY(check_options(ctx, o));
    CLGRAD_TRY(check_params(ctx, n, params, names));

    clgrad_status s = CLGRAD_OK;
    clgrad_optim *opt = calloc(1, sizeof *opt);
    if (!opt) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad_optim_create: out of host memory");
    opt->ctx = ctx;
    opt->o = *o;
    opt->per = state_per_param(o);
    size_t nn = n > 0 ? (size_t)n : 1, ns = (size_t)n * (size_t)opt->per + 1;
    opt->params = calloc(nn, sizeof *opt->params);
    opt->names = calloc(nn, sizeof *opt->names);
    opt->step_names = calloc(nn, sizeof *opt->step_names);
    opt->steps = calloc(nn, sizeof *opt->steps);
    opt->state = calloc(ns, sizeof *opt->state);
    opt->state_names = calloc(ns, sizeof *opt->state_names);
    if (!opt->params || !opt->names || !opt->step_names || !opt->steps || !opt->state || !opt->state_names) {
        clgrad_optim_release(opt);
        return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad_optim_create: out of host memory");
    }
    opt->n = n; /* from here on, release frees whatever was filled in */
    for (int i = 0; i < n && s == CLGRAD_OK; i++) {
        char label[24];
        snprintf(label, sizeof label, "%d", i);
        opt->params[i] = clgrad_tensor_retain(params[i]);
        opt->names[i] = dup_str(names ? names[i] : label);
        opt->step_names[i] = opt->names[i] ? join(opt->names[i], ".step") : NULL;
        if (!opt->names[i] || !opt->step_names[i]) {
            s = clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad_optim_create: out of host memory");
            break;
        }
        int64_t shape[CLGRAD_MAX_DIMS];
        clgrad_tensor_shape(params[i], shape);
        for (int k = 0; k < opt->per && s == CLGRAD_OK; k++) {
            int j = i * opt->per + k;
            s = clgrad_tensor_zeros(ctx, CLGRAD_DTYPE_F32, clgrad_tensor_ndim(params[i]), shape, &opt->state[j]);
            if (s == CLGRAD_OK) {
                opt->state_names[j] = join(opt->names[i], suffix[o->kind != CLGRAD_OPTIM_SGD][k]);
                if (!opt->state_names[j])
                    s = clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad_optim_create: out of host memory");
            }
        }
    }
    if (s != CLGRAD_OK) {
        clgrad_optim_release(opt);
        return s;
    }
    *out = opt;
    return CLGRAD_OK;
}

CLGRAD_API clgrad_status clgrad_optim_create(clgrad_module *m, const clgrad_optim_options *o, clgrad_optim **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(NULL, m != NULL && out != NULL, "module and out must not be NULL");
    clgrad_context *ctx = clgrad_module_context(m);
    int n = clgrad_module_param_count(m);
    clgrad_tensor **ps = calloc(n > 0 ? (size_t)n : 1, sizeof *ps);
    const char **ns = calloc(n > 0 ? (size_t)n : 1, sizeof *ns);
    clgrad_status s;
    if (!ps || !ns) {
        s = clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad_optim_create: out of host memory");
    } else {
        for (int i = 0; i < n; i++) ps[i] = clgrad_module_param(m, i, &ns[i]);
        s = clgrad_optim_create_params(ctx, n, ps, ns, o, out);
    }
    free(ps);
    free(ns);
    return s;
}

/* Updates the parameters i in [i0, i1) that have gradients, all at step count k, in as few
 * launches as the fused kernels allow (8 tensors each). */
static clgrad_status step_group(clgrad_optim *opt, int i0, int i1, int64_t k, clgrad_tensor **buf)
{
    const clgrad_optim_options *o = &opt->o;
    clgrad_tensor **p = buf, **g = buf + opt->n, **sa = buf + 2 * opt->n, **sb = buf + 3 * opt->n;
    int n = 0;
    for (int i = i0; i < i1; i++) {
        clgrad_tensor *gi = clgrad_tensor_grad(opt->params[i]);
        if (!gi) continue;
        p[n] = opt->params[i], g[n] = gi;
        sa[n] = opt->per >= 1 ? opt->state[opt->per * i] : NULL;
        sb[n] = opt->per >= 2 ? opt->state[opt->per * i + 1] : NULL;
        n++;
    }
    if (n == 0) return CLGRAD_OK;
    if (o->kind == CLGRAD_OPTIM_SGD) {
        clgrad__sgd_hparams h = {o->lr, o->momentum, o->dampening, o->weight_decay, o->nesterov};
        return clgrad__sgd_steps(n, p, g, opt->per ? sa : NULL, &h, k == 0);
    }
    clgrad__adam_hparams h = {o->lr, o->beta1, o->beta2, o->eps, o->weight_decay};
    return clgrad__adam_steps(n, p, g, sa, sb, &h, k + 1, o->kind == CLGRAD_OPTIM_ADAMW);
}

CLGRAD_API clgrad_status clgrad_optim_step(clgrad_optim *opt)
{
    CLGRAD_CHECK_ARG(NULL, opt != NULL, "optimizer is NULL");
    if (opt->n == 0) return CLGRAD_OK;
    /* Before any update, so that a refused step changes no parameter. */
    for (int i = 0; i < opt->n; i++)
        if (opt->steps[i] == INT64_MAX && clgrad_tensor_grad(opt->params[i]))
            return clgrad__fail(opt->ctx, CLGRAD_ERR_INVALID_ARG,
                                "clgrad_optim_step: parameter '%s' has taken INT64_MAX steps; its step count "
                                "cannot grow (clgrad_optim_set_step_count resets it)",
                                opt->names[i] ? opt->names[i] : "?");
    clgrad_tensor **buf = malloc(sizeof *buf * 4 * (size_t)opt->n);
    if (!buf) return clgrad__fail(opt->ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad_optim_step: out of host memory");
    clgrad_status s = CLGRAD_OK;
    clgrad_profile_phase was = clgrad_profile_get_phase(opt->ctx); /* a profile counts this as the optimizer */
    clgrad_profile_set_phase(opt->ctx, CLGRAD_PROFILE_OPTIMIZER);
    clgrad_no_grad_begin(opt->ctx);
    /* runs of parameters at the same step count share launches (usually all of them) */
    for (int i0 = 0, i1; i0 < opt->n && s == CLGRAD_OK; i0 = i1) {
        for (i1 = i0 + 1; i1 < opt->n && opt->steps[i1] == opt->steps[i0];) i1++;
        s = step_group(opt, i0, i1, opt->steps[i0], buf);
        for (int i = i0; s == CLGRAD_OK && i < i1; i++)
            if (clgrad_tensor_grad(opt->params[i])) opt->steps[i]++;
        if (s != CLGRAD_OK) {
            char where[160];
            snprintf(where, sizeof where, " (updating %s .. %s)", opt->names[i0] ? opt->names[i0] : "",
                     opt->names[i1 - 1] ? opt->names[i1 - 1] : "");
            clgrad__fail_append(opt->ctx, where);
        }
    }
    clgrad_no_grad_end(opt->ctx);
    clgrad_profile_set_phase(opt->ctx, was);
    free(buf);
    return s;
}

CLGRAD_API void clgrad_optim_zero_grad(clgrad_optim *opt)
{
    if (!opt) return;
    for (int i = 0; i < opt->n; i++) clgrad_tensor_zero_grad(opt->params[i]);
}

CLGRAD_API float clgrad_optim_get_lr(const clgrad_optim *opt)
{
    return opt ? opt->o.lr : 0.0f;
}

CLGRAD_API clgrad_status clgrad_optim_set_lr(clgrad_optim *opt, float lr)
{
    CLGRAD_CHECK_ARG(NULL, opt != NULL, "optimizer is NULL");
    if (!(lr >= 0.0f) || !isfinite(lr))
        return clgrad__fail(opt->ctx, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_optim_set_lr: lr %g is not a finite value >= 0; the lr stays %g", (double)lr,
                            (double)opt->o.lr);
    opt->o.lr = lr;
    return CLGRAD_OK;
}

CLGRAD_API clgrad_optim_options clgrad_optim_get_options(const clgrad_optim *opt)
{
    clgrad_optim_options o;
    memset(&o, 0, sizeof o);
    return opt ? opt->o : o;
}

CLGRAD_API int clgrad_optim_param_count(const clgrad_optim *opt)
{
    return opt ? opt->n : 0;
}

CLGRAD_API clgrad_tensor *clgrad_optim_param(const clgrad_optim *opt, int i, const char **name)
{
    if (name) *name = NULL;
    if (!opt || i < 0 || i >= opt->n) return NULL;
    if (name) *name = opt->names[i];
    return opt->params[i];
}

CLGRAD_API int clgrad_optim_state_count(const clgrad_optim *opt)
{
    return opt ? opt->n * opt->per : 0;
}

CLGRAD_API clgrad_tensor *clgrad_optim_state(const clgrad_optim *opt, int i, const char **name)
{
    if (name) *name = NULL;
    if (!opt || i < 0 || i >= opt->n * opt->per) return NULL;
    if (name) *name = opt->state_names[i];
    return opt->state[i];
}

CLGRAD_API int64_t clgrad_optim_step_count(const clgrad_optim *opt, int i, const char **name)
{
    if (name) *name = NULL;
    if (!opt || i < 0 || i >= opt->n) return 0;
    if (name) *name = opt->step_names[i];
    return opt->steps[i];
}

CLGRAD_API clgrad_status clgrad_optim_set_step_count(clgrad_optim *opt, int i, int64_t steps)
{
    CLGRAD_CHECK_ARG(NULL, opt != NULL, "optimizer is NULL");
    if (i < 0 || i >= opt->n || steps < 0 || steps == INT64_MAX)
        return clgrad__fail(opt->ctx, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_optim_set_step_count: index %d not in [0, %d), or count %lld not in [0, "
                            "INT64_MAX)", i, opt->n, (long long)steps);
    opt->steps[i] = steps;
    return CLGRAD_OK;
}
