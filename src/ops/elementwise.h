/* Internal functions of the elementwise family, shared with the activations (which are
 * unary ops with their own kernel file) and usable by other families' backward rules. */
#ifndef CLGRAD_SRC_OPS_ELEMENTWISE_H
#define CLGRAD_SRC_OPS_ELEMENTWISE_H

#include "ops/ops.h"

/* Kernel families whose unary kernels follow the <op>_fwd_f32 / <op>_bwd_f32 convention of
 * cl/elementwise.cl (args y, yoff, x, xoff, [dy, dyoff,] n, p0, p1; contiguous, vectorised). */
typedef enum clgrad__unary_family {
    CLGRAD__UNARY_ELEMENTWISE = 0, /* cl/elementwise.cl */
    CLGRAD__UNARY_ACTIVATION = 1,  /* cl/activation.cl */
} clgrad__unary_family;

/* y = op(x; p0, p1) for the public op named fn: validates x (f32, not NULL) and out, runs
 * <op>_fwd_f32 on a contiguous copy of x when x is a strided view, and, when differentiable
 * and x requires grad, records a node whose backward runs <op>_bwd_f32. op must be a static
 * string (it names the node). */
clgrad_status clgrad__unary(clgrad__unary_family fam, const char *fn, const char *op, clgrad_tensor *x, float p0,
                            float p1, int differentiable, clgrad_tensor **out);

/* Untracked binary op with numpy broadcasting: op is a kernel prefix of cl/elementwise.cl
 * ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", ... "ge"). New reference. */
clgrad_status clgrad__binary_raw(const char *op, clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out);

#endif
