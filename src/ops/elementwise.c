/* Elementwise ops: binary arithmetic with numpy broadcasting, comparisons and where, the
 * unary math ops and the tensor-scalar forms, with their backward rules. Kernels live in
 * cl/elementwise.cl.
 *
 * Launch paths. Operands that are contiguous and already of the output's shape go to the
 * vectorised <op>_fwd_f32 kernels (EW_VW elements per work-item). Everything else (broadcast
 * or strided operands) goes through a plan: size-1 dims are dropped and neighbouring dims
 * merged wherever every operand's strides allow, which leaves most real cases (bias adds,
 * per-channel scales, transposed views) with at most 3 dims and a division-free 3-D kernel;
 * higher ranks use clgrad_offset8. Unary ops make strided inputs contiguous first.
 *
 * Backward rules compute the elementwise gradient at the output's shape in one fused kernel
 * and sum broadcast dims away with clgrad__sum_to_shape. pow follows PyTorch: d/da is 0
 * where b == 0, d/db is 0 where a == 0 and b >= 0 and NaN where a < 0 (log of a negative).
 * maximum/minimum split the gradient of ties evenly between a and b. */
#include "ops/elementwise.h"

#include "ops/ops.h"
#include "ops/reduce.h"
#include "tensor/node.h"

#include <stdio.h>
#include <string.h>

#define FAMILY "elementwise"

/* --- shared launch helpers --------------------------------------------------------------- */

/* The two kernel families of the unary convention and the macro each reads its vector width
 * from (the width itself is the tuning row's vw). */
static const struct {
    const char *family, *vw_macro;
} families[] = {
    {"elementwise", "EW_VW"},
    {"activation", "AC_VW"},
};

typedef struct fam_options {
    char s[32];
} fam_options;

static fam_options fam_opts(const clgrad_context *ctx, int f)
{
    fam_options o;
    snprintf(o.s, sizeof o.s, "-D%s=%d", families[f].vw_macro, clgrad__ops_tuning(ctx)->vw);
    return o;
}

/* Launch of a vectorised contiguous kernel over n elements. */
static clgrad_status launch_vec(clgrad_context *ctx, int f, const char *kernel, int64_t n, clgrad__kargs args)
{
    size_t vw = (size_t)clgrad__ops_tuning(ctx)->vw;
    size_t items = ((size_t)n + vw - 1) / vw;
    return clgrad__launch_1d(ctx, families[f].family, fam_opts(ctx, f).s, kernel, items, args);
}

/* Merged geometry of up to 3 operands viewed at one output shape (see the file comment).
 * Dims run outermost first; st[j] are operand j's strides (0 on broadcast dims). */
typedef struct plan {
    int nd;
    int64_t n;
    int64_t shape[CLGRAD_MAX_DIMS];
    int64_t st[3][CLGRAD_MAX_DIMS];
} plan;

static void make_plan(plan *p, int nd, const int64_t *shape, int k, clgrad_tensor *const *ts)
{
    p->nd = 0;
    p->n = clgrad__numel(nd, shape);
    for (int i = 0; i < nd; i++) {
        if (shape[i] == 1) continue;
        int64_t s[3];
        for (int j = 0; j < k; j++) {
            int ti = i - (nd - ts[j]->ndim);
            s[j] = (ti >= 0 && ts[j]->shape[ti] != 1) ? ts[j]->strides[ti] : 0;
        }
        int merge = p->nd > 0;
        for (int j = 0; j < k && merge; j++) merge = p->st[j][p->nd - 1] == s[j] * shape[i];
        if (merge) {
            p->shape[p->nd - 1] *= shape[i];
            for (int j = 0; j < k; j++) p->st[j][p->nd - 1] = s[j];
        } else {
            p->shape[p->nd] = shape[i];
            for (int j = 0; j < k; j++) p->st[j][p->nd] = s[j];
            p->nd++;
        }
    }
    if (p->nd == 0) {
        p->nd = 1;
        p->shape[0] = 1;
        for (int j = 0; j < k; j++) p->st[j][0] = 0;
    }
}

/* Operand j's strides, innermost first, as a long4 (3-dim plans). */
static cl_long4 plan_l4(const plan *p, int j)
{
    cl_long4 v = {{0, 0, 0, 0}};
    for (int d = 0; d < p->nd && d < 3; d++) v.s[d] = j < 0 ? p->shape[p->nd - 1 - d] : p->st[j][p->nd - 1 - d];
    if (j < 0)
        for (int d = p->nd; d < 4; d++) v.s[d] = 1;
    return v;
}

/* Operand j's geometry for clgrad_offset8 (j < 0: the shape itself). */
static cl_long8 plan_l8(const plan *p, int j)
{
    cl_long8 v;
    for (int s = 0; s < 8; s++) v.s[s] = j < 0 ? 1 : 0;
    for (int d = 0; d < p->nd; d++) v.s[8 - p->nd + d] = j < 0 ? p->shape[d] : p->st[j][d];
    return v;
}

static size_t pow2_at_least(int64_t v)
{
    size_t r = 1;
    while ((int64_t)r < v && r < 4096) r <<= 1;
    return r;
}

/* The 3-D NDRange of a plan of at most 3 dims (dim 0 innermost). Returns 0 when it would need
 * more than 65535 work-groups in dim 1 or 2 (NVIDIA's grid limit) or more than 2^32 items
 * in a dimension: callers then use the 1-D bcast8 kernels, which have no such limit. */
static int plan3_ndrange(const clgrad_context *ctx, const plan *p, size_t g[3], size_t l[3])
{
    size_t left = clgrad__wg_1d(ctx);
    for (int d = 0; d < 3; d++) {
        g[d] = d < p->nd ? (size_t)p->shape[p->nd - 1 - d] : 1;
        size_t want = pow2_at_least((int64_t)g[d]), cap = ctx->dev.info.max_work_item_sizes[d];
        l[d] = want < left ? want : left;
        if (cap && l[d] > cap) l[d] = cap;
        if (l[d] == 0) l[d] = 1;
        left /= l[d];
        if (left == 0) left = 1;
    }
    /* 65535 work-groups: twice the fold limit, less one (lower under the test hook) */
    const size_t max_groups = 2 * clgrad__fold_limit(ctx) - 1;
    for (int d = 0; d < 3; d++)
        if ((uint64_t)g[d] > 0xffffffffu || (d > 0 && (g[d] + l[d] - 1) / l[d] > max_groups)) return 0;
    return 1;
}

/* Whether a plan runs on the 3-D bcast3 kernels (else the 1-D bcast8 ones). */
static int plan3_fits(const clgrad_context *ctx, const plan *p)
{
    size_t g[3], l[3];
    return p->nd <= 3 && plan3_ndrange(ctx, p, g, l);
}

static clgrad_status launch_plan3(clgrad_context *ctx, const char *kernel, const plan *p, clgrad__kargs args)
{
    size_t g[3], l[3];
    plan3_ndrange(ctx, p, g, l);
    return clgrad__launch(ctx, FAMILY, fam_opts(ctx, 0).s, kernel, 3, g, l, args);
}

static clgrad_status new_like(clgrad_context *ctx, int nd, const int64_t *shape, clgrad_tensor **out)
{
    return clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, nd, shape, out);
}

static int contiguous_at(const clgrad_tensor *t, int64_t n)
{
    return clgrad__is_contiguous(t) && clgrad__numel(t->ndim, t->shape) == n;
}

/* --- unary ops (shared with activation.c) ------------------------------------------------- */

/* dx = gy * f'(x) through kernel <name>_bwd_f32 of family f (x contiguous). */
static clgrad_status unary_grad(int f, const char *name, clgrad_tensor *x, clgrad_tensor *gy, float p0, float p1,
                                clgrad_tensor **out)
{
    clgrad_tensor *g = NULL, *dx = NULL;
    char kernel[64];
    snprintf(kernel, sizeof kernel, "%s_bwd_f32", name);
    CLGRAD_TRY(clgrad__contiguous(gy, &g));
    clgrad_status st = new_like(x->ctx, x->ndim, x->shape, &dx);
    if (st == CLGRAD_OK) {
        int64_t cnt = clgrad__numel(x->ndim, x->shape);
        cl_float fp0 = (cl_float)p0, fp1 = (cl_float)p1;
        clgrad__kargs a = CLGRAD_ARGS(CLGRAD_KARG_T(dx), CLGRAD_KARG_T(x), CLGRAD_KARG_T(g), CLGRAD_KARG(cnt),
                                      CLGRAD_KARG(fp0), CLGRAD_KARG(fp1));
        st = launch_vec(x->ctx, f, kernel, cnt, a);
    }
    clgrad_tensor_release(g);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(dx);
        return st;
    }
    *out = dx;
    return CLGRAD_OK;
}

clgrad_status clgrad__activation_grad(const char *name, clgrad_tensor *x, clgrad_tensor *gy, float p0, float p1,
                                      clgrad_tensor **dx)
{
    return unary_grad(CLGRAD__UNARY_ACTIVATION, name, x, gy, p0, p1, dx);
}

clgrad_status clgrad__unary_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    const clgrad__unary_state *s = CLGRAD__NODE_STATE(n, clgrad__unary_state);
    return unary_grad((int)s->fam, n->name, n->saved[0], gy, (float)s->p0, (float)s->p1, &gx[0]);
}

clgrad_status clgrad__unary(clgrad__unary_family fam, const char *fn, const char *kernel_prefix, clgrad_tensor *x,
                            float p0, float p1, const clgrad__op *op, clgrad_tensor **out)
{
    if (out) *out = NULL;
    CLGRAD_TRY(clgrad__check_tensor(x ? x->ctx : NULL, fn, "x", x, CLGRAD_DTYPE_F32));
    if (!out) return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    clgrad_context *ctx = x->ctx;
    clgrad_tensor *xc = NULL, *y = NULL;
    char kernel[64];
    snprintf(kernel, sizeof kernel, "%s_fwd_f32", kernel_prefix);
    CLGRAD_TRY(clgrad__contiguous(x, &xc));
    clgrad_status st = new_like(ctx, x->ndim, x->shape, &y);
    if (st == CLGRAD_OK) {
        int64_t n = clgrad__numel(x->ndim, x->shape);
        cl_float a0 = p0, a1 = p1;
        clgrad__kargs a =
            CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG_T(xc), CLGRAD_KARG(n), CLGRAD_KARG(a0), CLGRAD_KARG(a1));
        st = launch_vec(ctx, (int)fam, kernel, n, a);
    }
    if (st == CLGRAD_OK && op) {
        clgrad__unary_state s = {p0, p1, fam};
        st = clgrad__record(y, op, 1, &x, &s, 1, &xc);
    }
    clgrad_tensor_release(xc);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

/* --- binary ops ------------------------------------------------------------------------------ */

static clgrad_status binary_launch(const char *op, clgrad_tensor *y, clgrad_tensor *a, clgrad_tensor *b)
{
    clgrad_context *ctx = y->ctx;
    int64_t n = clgrad__numel(y->ndim, y->shape);
    char kernel[64];
    if (n == 0) return CLGRAD_OK;
    if (contiguous_at(a, n) && contiguous_at(b, n)) {
        snprintf(kernel, sizeof kernel, "%s_fwd_f32", op);
        clgrad__kargs args = CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG_T(a), CLGRAD_KARG_T(b), CLGRAD_KARG(n));
        return launch_vec(ctx, 0, kernel, n, args);
    }
    plan p;
    clgrad_tensor *ts[2] = {a, b};
    make_plan(&p, y->ndim, y->shape, 2, ts);
    if (plan3_fits(ctx, &p)) {
        cl_long4 as = plan_l4(&p, 0), bs = plan_l4(&p, 1), sh = plan_l4(&p, -1);
        snprintf(kernel, sizeof kernel, "%s_bcast3_f32", op);
        clgrad__kargs args = CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG_T(a), CLGRAD_KARG(as), CLGRAD_KARG_T(b),
                                         CLGRAD_KARG(bs), CLGRAD_KARG(sh));
        return launch_plan3(ctx, kernel, &p, args);
    }
    cl_long8 sh = plan_l8(&p, -1), as = plan_l8(&p, 0), bs = plan_l8(&p, 1);
    snprintf(kernel, sizeof kernel, "%s_bcast8_f32", op);
    clgrad__kargs args = CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG_T(a), CLGRAD_KARG(sh), CLGRAD_KARG(as),
                                     CLGRAD_KARG_T(b), CLGRAD_KARG(sh), CLGRAD_KARG(bs), CLGRAD_KARG(n));
    return clgrad__launch_1d(ctx, FAMILY, fam_opts(ctx, 0).s, kernel, (size_t)n, args);
}

/* Validates a binary op's operands and makes its (uninitialised) broadcast output. */
static clgrad_status binary_prepare(const char *fn, clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out,
                                    clgrad_tensor **y)
{
    if (out) *out = NULL;
    clgrad_context *ctx = a ? a->ctx : b ? b->ctx : NULL;
    CLGRAD_TRY(clgrad__check_tensor(ctx, fn, "a", a, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_tensor(ctx, fn, "b", b, CLGRAD_DTYPE_F32));
    if (!out) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    CLGRAD_TRY(clgrad__check_same_ctx(fn, a, b));
    int nd;
    int64_t shape[CLGRAD_MAX_DIMS];
    CLGRAD_TRY(clgrad__broadcast_shape(ctx, fn, a->ndim, a->shape, b->ndim, b->shape, &nd, shape));
    return new_like(ctx, nd, shape, y);
}

clgrad_status clgrad__binary_raw(const char *op, clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out)
{
    clgrad_tensor *y = NULL;
    CLGRAD_TRY(binary_prepare(op, a, b, out, &y));
    clgrad_status st = binary_launch(op, y, a, b);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

/* Gradient g (output shape) of input i reduced to that input's shape; consumes g. */
static clgrad_status reduce_into(clgrad__node *n, int i, clgrad_tensor *g, clgrad_tensor **gx)
{
    clgrad_tensor *x = n->inputs[i];
    clgrad_status st = clgrad__sum_to_shape(g, x->ndim, x->shape, &gx[i]);
    clgrad_tensor_release(g);
    return st;
}

/* a + b and a - b (negate: the gradient of b is -gy) */
static clgrad_status add_sub_grads(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx, int negate)
{
    if (n->needs_grad[0]) CLGRAD_TRY(reduce_into(n, 0, clgrad_tensor_retain(gy), gx));
    if (n->needs_grad[1]) {
        clgrad_tensor *g = NULL;
        if (negate)
            CLGRAD_TRY(clgrad__unary(CLGRAD__UNARY_ELEMENTWISE, "clgrad_sub", "neg", gy, 0, 0, NULL, &g));
        else
            g = clgrad_tensor_retain(gy);
        CLGRAD_TRY(reduce_into(n, 1, g, gx));
    }
    return CLGRAD_OK;
}

static clgrad_status add_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    return add_sub_grads(n, gy, gx, 0);
}

static clgrad_status sub_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    return add_sub_grads(n, gy, gx, 1);
}

/* Fused backward of mul, div, pow, maximum and minimum: kernel <name>_bwd_bcast{3,8}_f32. */
static clgrad_status binary_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_tensor *a = n->saved[0], *b = n->saved[1], *g = NULL, *d[2] = {NULL, NULL};
    clgrad_context *ctx = a->ctx;
    int64_t cnt = clgrad__numel(n->out_ndim, n->out_shape);
    clgrad_status st = clgrad__contiguous(gy, &g);
    for (int i = 0; i < 2 && st == CLGRAD_OK; i++)
        if (n->needs_grad[i]) st = new_like(ctx, n->out_ndim, n->out_shape, &d[i]);
    if (st == CLGRAD_OK && cnt > 0) {
        cl_mem m[2] = {d[0] ? d[0]->buf->mem : NULL, d[1] ? d[1]->buf->mem : NULL};
        cl_long o[2] = {d[0] ? d[0]->offset : 0, d[1] ? d[1]->offset : 0};
        plan p;
        clgrad_tensor *ts[2] = {a, b};
        char kernel[64];
        make_plan(&p, n->out_ndim, n->out_shape, 2, ts);
        if (plan3_fits(ctx, &p)) {
            cl_long4 as = plan_l4(&p, 0), bs = plan_l4(&p, 1), sh = plan_l4(&p, -1);
            snprintf(kernel, sizeof kernel, "%s_bwd_bcast3_f32", n->name);
            clgrad__kargs args = CLGRAD_ARGS(CLGRAD_KARG(m[0]), CLGRAD_KARG(o[0]), CLGRAD_KARG(m[1]), CLGRAD_KARG(o[1]),
                                             CLGRAD_KARG_T(g), CLGRAD_KARG_T(a), CLGRAD_KARG(as), CLGRAD_KARG_T(b),
                                             CLGRAD_KARG(bs), CLGRAD_KARG(sh));
            st = launch_plan3(ctx, kernel, &p, args);
        } else {
            cl_long8 sh = plan_l8(&p, -1), as = plan_l8(&p, 0), bs = plan_l8(&p, 1);
            snprintf(kernel, sizeof kernel, "%s_bwd_bcast8_f32", n->name);
            clgrad__kargs args = CLGRAD_ARGS(CLGRAD_KARG(m[0]), CLGRAD_KARG(o[0]), CLGRAD_KARG(m[1]), CLGRAD_KARG(o[1]),
                                             CLGRAD_KARG_T(g), CLGRAD_KARG_T(a), CLGRAD_KARG(sh), CLGRAD_KARG(as),
                                             CLGRAD_KARG_T(b), CLGRAD_KARG(sh), CLGRAD_KARG(bs), CLGRAD_KARG(cnt));
            st = clgrad__launch_1d(ctx, FAMILY, fam_opts(ctx, 0).s, kernel, (size_t)cnt, args);
        }
    }
    clgrad_tensor_release(g);
    for (int i = 0; i < 2; i++) {
        if (st == CLGRAD_OK && d[i]) {
            st = reduce_into(n, i, d[i], gx);
            d[i] = NULL;
        }
        clgrad_tensor_release(d[i]);
    }
    return st;
}

/* y = a <kernel> b, recorded as op when op is not NULL (its name is the kernel prefix the
 * fused backward kernels use). */
static clgrad_status binary_op(const char *fn, const char *kernel, clgrad_tensor *a, clgrad_tensor *b,
                               const clgrad__op *op, clgrad_tensor **out)
{
    clgrad_tensor *y = NULL;
    CLGRAD_TRY(binary_prepare(fn, a, b, out, &y));
    clgrad_status st = binary_launch(kernel, y, a, b);
    clgrad_tensor *in[2] = {a, b};
    if (st == CLGRAD_OK && op) /* add and sub need neither operand */
        st = clgrad__record(y, op, 2, in, NULL, op->backward == binary_backward ? 2 : 0, in);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

CLGRAD__OP_DEFINE_STATELESS(add, "clgrad_add", add_backward);
CLGRAD__OP_DEFINE_STATELESS(sub, "clgrad_sub", sub_backward);
CLGRAD__OP_DEFINE_STATELESS(mul, "clgrad_mul", binary_backward);
CLGRAD__OP_DEFINE_STATELESS(div, "clgrad_div", binary_backward);
CLGRAD__OP_DEFINE_STATELESS(pow, "clgrad_pow", binary_backward);
CLGRAD__OP_DEFINE_STATELESS(maximum, "clgrad_maximum", binary_backward);
CLGRAD__OP_DEFINE_STATELESS(minimum, "clgrad_minimum", binary_backward);

#define BINARY(op)                                                                                 \
    clgrad_status clgrad_##op(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out)            \
    {                                                                                              \
        return binary_op("clgrad_" #op, #op, a, b, &clgrad__op_##op, out);                         \
    }
BINARY(add)
BINARY(sub)
BINARY(mul)
BINARY(div)
BINARY(pow)
BINARY(maximum)
BINARY(minimum)

/* --- comparisons ------------------------------------------------------------------------------ */

static const char *const cmp_names[] = {"eq", "ne", "lt", "le", "gt", "ge"};
static const char *const cmp_scalar_names[] = {"eq_scalar", "ne_scalar", "lt_scalar",
                                               "le_scalar", "gt_scalar", "ge_scalar"};

static int cmp_ok(clgrad_cmp op) { return (int)op >= 0 && (int)op < 6; }

clgrad_status clgrad_compare(clgrad_tensor *a, clgrad_cmp op, clgrad_tensor *b, clgrad_tensor **out)
{
    if (!cmp_ok(op)) {
        if (out) *out = NULL;
        return clgrad__fail(a ? a->ctx : b ? b->ctx : NULL, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_compare: unknown comparison %d", (int)op);
    }
    return binary_op("clgrad_compare", cmp_names[op], a, b, NULL, out);
}

clgrad_status clgrad_compare_scalar(clgrad_tensor *a, clgrad_cmp op, float s, clgrad_tensor **out)
{
    if (!cmp_ok(op)) {
        if (out) *out = NULL;
        return clgrad__fail(a ? a->ctx : NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_compare_scalar: unknown comparison %d",
                            (int)op);
    }
    return clgrad__unary(CLGRAD__UNARY_ELEMENTWISE, "clgrad_compare_scalar", cmp_scalar_names[op], a, s, 0, NULL,
                         out);
}

/* --- where ------------------------------------------------------------------------------------ */

static clgrad_status where_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_tensor *c = n->saved[0], *g = NULL, *d[2] = {NULL, NULL};
    clgrad_context *ctx = c->ctx;
    int64_t cnt = clgrad__numel(n->out_ndim, n->out_shape);
    clgrad_status st = clgrad__contiguous(gy, &g);
    for (int i = 0; i < 2 && st == CLGRAD_OK; i++)
        if (n->needs_grad[i + 1]) st = new_like(ctx, n->out_ndim, n->out_shape, &d[i]);
    if (st == CLGRAD_OK && cnt > 0) {
        cl_mem m[2] = {d[0] ? d[0]->buf->mem : NULL, d[1] ? d[1]->buf->mem : NULL};
        cl_long o[2] = {d[0] ? d[0]->offset : 0, d[1] ? d[1]->offset : 0};
        plan p;
        make_plan(&p, n->out_ndim, n->out_shape, 1, &c);
        if (plan3_fits(ctx, &p)) {
            cl_long4 cs = plan_l4(&p, 0), sh = plan_l4(&p, -1);
            clgrad__kargs args = CLGRAD_ARGS(CLGRAD_KARG(m[0]), CLGRAD_KARG(o[0]), CLGRAD_KARG(m[1]), CLGRAD_KARG(o[1]),
                                             CLGRAD_KARG_T(g), CLGRAD_KARG_T(c), CLGRAD_KARG(cs), CLGRAD_KARG(sh));
            st = launch_plan3(ctx, "where_bwd_bcast3_f32", &p, args);
        } else {
            cl_long8 sh = plan_l8(&p, -1), cs = plan_l8(&p, 0);
            clgrad__kargs args = CLGRAD_ARGS(CLGRAD_KARG(m[0]), CLGRAD_KARG(o[0]), CLGRAD_KARG(m[1]), CLGRAD_KARG(o[1]),
                                             CLGRAD_KARG_T(g), CLGRAD_KARG_T(c), CLGRAD_KARG(sh), CLGRAD_KARG(cs),
                                             CLGRAD_KARG(cnt));
            st = clgrad__launch_1d(ctx, FAMILY, fam_opts(ctx, 0).s, "where_bwd_bcast8_f32", (size_t)cnt, args);
        }
    }
    clgrad_tensor_release(g);
    for (int i = 0; i < 2; i++) {
        if (st == CLGRAD_OK && d[i]) {
            st = reduce_into(n, i + 1, d[i], gx);
            d[i] = NULL;
        }
        clgrad_tensor_release(d[i]);
    }
    return st;
}

/* a mask has no gradient */
const clgrad__op clgrad__op_where = {
    .name = "where", .forward = "clgrad_where", .backward = where_backward, .no_grad_inputs = 1u << 0};

static clgrad_status where_launch(clgrad_tensor *y, clgrad_tensor *c, clgrad_tensor *a, clgrad_tensor *b)
{
    clgrad_context *ctx = y->ctx;
    int64_t n = clgrad__numel(y->ndim, y->shape);
    if (n == 0) return CLGRAD_OK;
    if (contiguous_at(c, n) && contiguous_at(a, n) && contiguous_at(b, n)) {
        clgrad__kargs args =
            CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG_T(c), CLGRAD_KARG_T(a), CLGRAD_KARG_T(b), CLGRAD_KARG(n));
        return launch_vec(ctx, 0, "where_fwd_f32", n, args);
    }
    plan p;
    clgrad_tensor *ts[3] = {c, a, b};
    make_plan(&p, y->ndim, y->shape, 3, ts);
    if (plan3_fits(ctx, &p)) {
        cl_long4 cs = plan_l4(&p, 0), as = plan_l4(&p, 1), bs = plan_l4(&p, 2), sh = plan_l4(&p, -1);
        clgrad__kargs args = CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG_T(c), CLGRAD_KARG(cs), CLGRAD_KARG_T(a),
                                         CLGRAD_KARG(as), CLGRAD_KARG_T(b), CLGRAD_KARG(bs), CLGRAD_KARG(sh));
        return launch_plan3(ctx, "where_bcast3_f32", &p, args);
    }
    cl_long8 sh = plan_l8(&p, -1), cs = plan_l8(&p, 0), as = plan_l8(&p, 1), bs = plan_l8(&p, 2);
    clgrad__kargs args = CLGRAD_ARGS(CLGRAD_KARG_T(y), CLGRAD_KARG_T(c), CLGRAD_KARG(sh), CLGRAD_KARG(cs),
                                     CLGRAD_KARG_T(a), CLGRAD_KARG(sh), CLGRAD_KARG(as), CLGRAD_KARG_T(b),
                                     CLGRAD_KARG(sh), CLGRAD_KARG(bs), CLGRAD_KARG(n));
    return clgrad__launch_1d(ctx, FAMILY, fam_opts(ctx, 0).s, "where_bcast8_f32", (size_t)n, args);
}

clgrad_status clgrad_where(clgrad_tensor *cond, clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out)
{
    const char *fn = "clgrad_where";
    if (out) *out = NULL;
    clgrad_context *ctx = cond ? cond->ctx : a ? a->ctx : b ? b->ctx : NULL;
    CLGRAD_TRY(clgrad__check_tensor(ctx, fn, "cond", cond, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_tensor(ctx, fn, "a", a, CLGRAD_DTYPE_F32));
    CLGRAD_TRY(clgrad__check_tensor(ctx, fn, "b", b, CLGRAD_DTYPE_F32));
    if (!out) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    CLGRAD_TRY(clgrad__check_same_ctx(fn, cond, a));
    CLGRAD_TRY(clgrad__check_same_ctx(fn, cond, b));
    int n1, nd;
    int64_t s1[CLGRAD_MAX_DIMS], shape[CLGRAD_MAX_DIMS];
    if (clgrad__broadcast_shape(ctx, fn, cond->ndim, cond->shape, a->ndim, a->shape, &n1, s1) != CLGRAD_OK ||
        clgrad__broadcast_shape(ctx, fn, n1, s1, b->ndim, b->shape, &nd, shape) != CLGRAD_OK) {
        char sc[256], sa[256], sb[256];
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: shapes %s (cond), %s (a) and %s (b) do not broadcast", fn,
                            clgrad__shape_str(sc, sizeof sc, cond->ndim, cond->shape),
                            clgrad__shape_str(sa, sizeof sa, a->ndim, a->shape),
                            clgrad__shape_str(sb, sizeof sb, b->ndim, b->shape));
    }
    clgrad_tensor *y = NULL;
    CLGRAD_TRY(new_like(ctx, nd, shape, &y));
    clgrad_status st = where_launch(y, cond, a, b);
    clgrad_tensor *in[3] = {cond, a, b};
    if (st == CLGRAD_OK && clgrad__grad_needed(2, in + 1)) st = clgrad__record(y, &clgrad__op_where, 3, in, NULL, 1, in);
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

/* --- unary and tensor-scalar public ops ----------------------------------------------------- */

/* The rows of CLGRAD__OPS_UNARY and CLGRAD__OPS_SCALAR (src/ops/op_table.h): one public
 * function and one descriptor each. */
#define UNARY_DESCRIPTOR(x) CLGRAD__OP_DEFINE(x, "clgrad_" #x, clgrad__unary_backward, clgrad__unary_state);
CLGRAD__OPS_UNARY(UNARY_DESCRIPTOR)
CLGRAD__OPS_SCALAR(UNARY_DESCRIPTOR)
CLGRAD__OP_DEFINE(clamp, "clgrad_clamp", clgrad__unary_backward, clgrad__unary_state);

#define UNARY(x)                                                                                   \
    clgrad_status clgrad_##x(clgrad_tensor *t, clgrad_tensor **out)                               \
    {                                                                                              \
        return clgrad__unary(CLGRAD__UNARY_ELEMENTWISE, "clgrad_" #x, #x, t, 0, 0, &clgrad__op_##x, out); \
    }
#define SCALAR(x)                                                                                  \
    clgrad_status clgrad_##x(clgrad_tensor *a, float s, clgrad_tensor **out)                      \
    {                                                                                              \
        return clgrad__unary(CLGRAD__UNARY_ELEMENTWISE, "clgrad_" #x, #x, a, s, 0, &clgrad__op_##x, out); \
    }
CLGRAD__OPS_UNARY(UNARY)
CLGRAD__OPS_SCALAR(SCALAR)

clgrad_status clgrad_clamp(clgrad_tensor *x, float lo, float hi, clgrad_tensor **out)
{
    return clgrad__unary(CLGRAD__UNARY_ELEMENTWISE, "clgrad_clamp", "clamp", x, lo, hi, &clgrad__op_clamp, out);
}
