/* Softmax and log-softmax along one axis, with their backward rules. Each direction is one
 * fused kernel launch (cl/softmax.cl): row max, sum and output in one pass over the row's
 * lanes, in the fixed reduction order of the reduction engine, so results are
 * deterministic whichever kernel runs them. */
#include "ops/ops.h"
#include "ops/reduce.h"

#include "ops/op_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAMILY "softmax"
#define SMX_LANES 64 /* fixed by the kernels' reduction order */
#define SMX_SHORT 16 /* CPUs: rows shorter than this go in vector lanes */

enum { SMX_SOFTMAX = 0, SMX_LOG_SOFTMAX = 1, SMX_SOFTMAX_BWD = 2, SMX_LOG_SOFTMAX_BWD = 3 };
/* what cl/softmax.cl calls them (-DSMX_OP_<name>) */
static const char *const smx_op_names[] = {[SMX_SOFTMAX] = "SOFTMAX", [SMX_LOG_SOFTMAX] = "LOG_SOFTMAX",
                                           [SMX_SOFTMAX_BWD] = "SOFTMAX_BWD",
                                           [SMX_LOG_SOFTMAX_BWD] = "LOG_SOFTMAX_BWD"};
enum { PATH_AUTO = 0, PATH_ITEM, PATH_WG, PATH_COL };

/* (O, L, I) around axis d of shape. */
static void split(int ndim, const int64_t *shape, int d, cl_long *O, cl_long *L, cl_long *I)
{
    int64_t o = 1, in = 1;
    for (int k = 0; k < d; k++) o *= shape[k];
    for (int k = d + 1; k < ndim; k++) in *= shape[k];
    *O = o;
    *L = shape[d];
    *I = in;
}

/* CLGRAD_SOFTMAX_KERNEL=item|wg|col forces a kernel where it applies (all give the same bits). */
static int forced_path(void)
{
    const char *v = clgrad__getenv("CLGRAD_SOFTMAX_KERNEL");
    if (!v) return PATH_AUTO;
    if (strcmp(v, "item") == 0) return PATH_ITEM;
    if (strcmp(v, "wg") == 0) return PATH_WG;
    if (strcmp(v, "col") == 0) return PATH_COL;
    return PATH_AUTO;
}

/* A work-group size for the one-row-per-work-item kernels that still spreads few rows over
 * the compute units (the size never changes the results). */
static size_t item_local(const clgrad_context *ctx, cl_long rows)
{
    size_t local = clgrad__wg_1d(ctx);
    size_t cu = ctx->dev.info.compute_units > 0 ? (size_t)ctx->dev.info.compute_units : 1;
    while (local > 1 && (size_t)rows < local * cu * 2) local /= 2;
    return local;
}

/* Vector width for the kernels that process rows in vector lanes: the tuning row's smx_vw
 * (wide on CPUs: explicit vectors are how their compilers use SIMD), else the kernel's
 * narrow width (GPUs: registers). All widths give the same bits. CLGRAD_SOFTMAX_VW=4|8|16
 * overrides it on every device. */
static int vec_width(const clgrad_context *ctx, int gpu_width)
{
    const char *v = clgrad__getenv("CLGRAD_SOFTMAX_VW");
    int w = v ? atoi(v) : 0;
    if (w == 4 || w == 8 || w == 16) return w;
    int tuned = clgrad__ops_tuning(ctx)->smx_vw;
    return tuned > 0 ? tuned : gpu_width;
}

/* out (contiguous, offset 0) = op over the rows of the contiguous (O, L, I) views a and b
 * (b: the gradient for the backward ops, else unused). */
static clgrad_status smx_run(clgrad_context *ctx, int op, clgrad_tensor *out, clgrad_tensor *a, clgrad_tensor *b,
                             cl_long O, cl_long L, cl_long I)
{
    cl_long rows = O * I;
    if (rows == 0 || L == 0) return CLGRAD_OK;
    if (!b) b = a;
    /* the tuning row's choice (GPUs and other devices with on-chip local memory) */
    int gpu = clgrad__ops_tuning(ctx)->smx_wg;
    int path = forced_path();
    if (path == PATH_ITEM && I != 1) path = PATH_AUTO;
    if (path == PATH_AUTO) {
        /* GPUs: a work-group per row, short rows included (the one-row-per-work-item
         * kernels keep 64 lanes in private memory, which spills on GPUs).
         * CPUs: rows in vector lanes when they are short, else one row per work-item. */
        if (gpu) path = PATH_WG;
        else if (I == 1 && L >= SMX_SHORT) path = PATH_ITEM;
        else path = PATH_COL;
    }
    char opcode[40], opts[96];
    clgrad__op_code_option(opcode, sizeof opcode, "SMX_OP", smx_op_names,
                           sizeof smx_op_names / sizeof smx_op_names[0], op);
    /* every softmax kernel starts with out, a and b; the tails differ per kernel */
#define SMX_HEAD_ARGS CLGRAD_KARG(out->buf->mem), CLGRAD_KARG_T(a), CLGRAD_KARG_T(b)
    if (path == PATH_WG) {
        snprintf(opts, sizeof opts, "%s -DSMX_VW=1", opcode);
        clgrad__program_entry *pe;
        cl_kernel k;
        size_t wg_max;
        CLGRAD_TRY(clgrad__program_get(ctx, FAMILY, opts, &pe));
        CLGRAD_TRY(clgrad__kernel_get(ctx, pe, "smx_wg_f32", &k, &wg_max));
        size_t W = SMX_LANES, lbytes = SMX_LANES * sizeof(cl_float);
        while (W > 1 && (W > wg_max || W > ctx->dev.info.max_work_group_size)) W /= 2;
        if (ctx->dev.info.local_mem_bytes == 0 || lbytes <= ctx->dev.info.local_mem_bytes) {
            size_t global = (size_t)rows * W;
            return clgrad__launch(ctx, FAMILY, opts, "smx_wg_f32", 1, &global, &W,
                                  CLGRAD_ARGS(SMX_HEAD_ARGS, CLGRAD_KARG(O), CLGRAD_KARG(L), CLGRAD_KARG(I),
                                              CLGRAD_KARG_LOCAL(lbytes)));
        }
        path = I == 1 ? PATH_ITEM : PATH_COL; /* too little local memory: same results */
    }
    if (path == PATH_ITEM) {
        int vw = vec_width(ctx, 4);
        if (vw > 8 && L < 2 * SMX_LANES) vw = 8; /* short rows gain nothing from wider */
        snprintf(opts, sizeof opts, "%s -DSMX_VW=%d", opcode, vw);
        size_t global = (size_t)rows, local = item_local(ctx, rows);
        return clgrad__launch(ctx, FAMILY, opts, "smx_row_item_f32", 1, &global, &local,
                              CLGRAD_ARGS(SMX_HEAD_ARGS, CLGRAD_KARG(rows), CLGRAD_KARG(L)));
    }
    /* rows in vector lanes: adjacent columns (I > 1) or whole short rows gathered (I == 1) */
    int gather = I == 1;
    int vw = gpu ? 1 : vec_width(ctx, 1);
    while (!gather && vw > 4 && vw / 2 >= I) vw /= 2;
    cl_long groups = gather ? (O + vw - 1) / vw : O * ((I + vw - 1) / vw);
    snprintf(opts, sizeof opts, "%s -DSMX_VW=%d -DSMX_GATHER=%d", opcode, vw, gather);
    size_t global = (size_t)groups, local = item_local(ctx, groups);
    return clgrad__launch(ctx, FAMILY, opts, "smx_col_f32", 1, &global, &local,
                          CLGRAD_ARGS(SMX_HEAD_ARGS, CLGRAD_KARG(O), CLGRAD_KARG(L), CLGRAD_KARG(I)));
#undef SMX_HEAD_ARGS
}

clgrad_status clgrad__softmax_fwd(clgrad_tensor *x, int d, int log, clgrad_tensor **out)
{
    *out = NULL;
    clgrad_context *ctx = x->ctx;
    cl_long O, L, I;
    split(x->ndim, x->shape, d, &O, &L, &I);
    clgrad_tensor *xc = NULL, *y = NULL;
    clgrad_status st = clgrad__tensor_new(ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &y);
    if (st == CLGRAD_OK) st = clgrad__contiguous(x, &xc);
    if (st == CLGRAD_OK) st = smx_run(ctx, log ? SMX_LOG_SOFTMAX : SMX_SOFTMAX, y, xc, NULL, O, L, I);
    clgrad_tensor_release(xc);
    if (st != CLGRAD_OK) clgrad_tensor_release(y);
    else *out = y;
    return st;
}

/* The axis softmax ran along (normalised); the kind is the descriptor. */
typedef struct softmax_state {
    int axis;
} softmax_state;

static clgrad_status softmax_backward(clgrad__node *nd, clgrad_tensor *gy, clgrad_tensor **gx)
{
    clgrad_tensor *x = nd->inputs[0], *y = nd->saved[0], *g = NULL, *dx = NULL;
    int d = CLGRAD__NODE_STATE(nd, softmax_state)->axis, log = nd->op == &clgrad__op_log_softmax;
    cl_long O, L, I;
    split(x->ndim, x->shape, d, &O, &L, &I);
    clgrad_status st = clgrad__tensor_new(x->ctx, CLGRAD_DTYPE_F32, x->ndim, x->shape, &dx);
    if (st == CLGRAD_OK) st = clgrad__contiguous(gy, &g);
    if (st == CLGRAD_OK) st = smx_run(x->ctx, log ? SMX_LOG_SOFTMAX_BWD : SMX_SOFTMAX_BWD, dx, y, g, O, L, I);
    clgrad_tensor_release(g);
    if (st != CLGRAD_OK) clgrad_tensor_release(dx);
    else gx[0] = dx;
    return st;
}

CLGRAD__OP_DEFINE(softmax, "clgrad_softmax", softmax_backward, softmax_state);
CLGRAD__OP_DEFINE(log_softmax, "clgrad_log_softmax", softmax_backward, softmax_state);

static clgrad_status softmax_public(const char *fn, clgrad_tensor *x, int axis, int log, clgrad_tensor **out)
{
    if (out) *out = NULL;
    CLGRAD_TRY(clgrad__check_tensor(NULL, fn, "x", x, CLGRAD_DTYPE_F32));
    if (!out) return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "%s: out is NULL", fn);
    int d;
    if (axis < -x->ndim || axis >= x->ndim || x->ndim == 0) {
        char b[256];
        return clgrad__fail(x->ctx, CLGRAD_ERR_INVALID_ARG, "%s: axis %d is out of range for shape %s", fn, axis,
                            clgrad__shape_str(b, sizeof b, x->ndim, x->shape));
    }
    d = axis < 0 ? axis + x->ndim : axis;
    clgrad_tensor *y;
    CLGRAD_TRY(clgrad__softmax_fwd(x, d, log, &y));
    clgrad_status st = CLGRAD_OK;
    if (clgrad__grad_needed(1, &x)) {
        /* a second handle on y's buffer: the node must not hold y itself */
        softmax_state s = {d};
        clgrad_tensor *yv;
        st = clgrad__tensor_view(y, y->ndim, y->shape, y->strides, y->offset, &yv);
        if (st == CLGRAD_OK) st = clgrad__record(y, log ? &clgrad__op_log_softmax : &clgrad__op_softmax, 1, &x, &s, 1, &yv);
        clgrad_tensor_release(yv);
    }
    if (st != CLGRAD_OK) {
        clgrad_tensor_release(y);
        return st;
    }
    *out = y;
    return CLGRAD_OK;
}

clgrad_status clgrad_softmax(clgrad_tensor *x, int axis, clgrad_tensor **out)
{
    return softmax_public("clgrad_softmax", x, axis, 0, out);
}

clgrad_status clgrad_log_softmax(clgrad_tensor *x, int axis, clgrad_tensor **out)
{
    return softmax_public("clgrad_log_softmax", x, axis, 1, out);
}
