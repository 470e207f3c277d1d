/* Internal functions of the elementwise family, shared with the activations (which are
 * unary ops with their own kernel file) and usable by other families' backward rules. */
#ifndef CLGRAD_SRC_OPS_ELEMENTWISE_H
#define CLGRAD_SRC_OPS_ELEMENTWISE_H

#include "ops/op_table.h"
#include "ops/ops.h"

/* Kernel families whose unary kernels follow the <op>_fwd_f32 / <op>_bwd_f32 convention of
 * cl/elementwise.cl (args y, yoff, x, xoff, [dy, dyoff,] n, p0, p1; contiguous, vectorised). */
typedef enum clgrad__unary_family {
    CLGRAD__UNARY_ELEMENTWISE = 0, /* cl/elementwise.cl */
    CLGRAD__UNARY_ACTIVATION = 1,  /* cl/activation.cl */
} clgrad__unary_family;

/* What a unary op's backward needs besides its saved input. */
typedef struct clgrad__unary_state {
    double p0, p1;
    clgrad__unary_family fam;
} clgrad__unary_state;

/* y = kernel(x; p0, p1) for the public op named fn: validates x (f32, not NULL) and out,
 * runs <kernel>_fwd_f32 on a contiguous copy of x when x is a strided view, and, when op is
 * not NULL, records op (whose name must be the kernel prefix and whose backward is
 * clgrad__unary_backward, running <kernel>_bwd_f32). op NULL: untracked. */
clgrad_status clgrad__unary(clgrad__unary_family fam, const char *fn, const char *kernel, clgrad_tensor *x, float p0,
                            float p1, const clgrad__op *op, clgrad_tensor **out);

/* dx = gy * f'(x) for activation <name> (a kernel <name>_bwd_f32 of cl/activation.cl) with
 * parameters p0, p1; x contiguous, gy any strides of x's shape; *dx a new contiguous tensor. */
clgrad_status clgrad__activation_grad(const char *name, clgrad_tensor *x, clgrad_tensor *gy, float p0, float p1,
                                      clgrad_tensor **dx);

/* The backward rule of every unary op (state clgrad__unary_state, saved input in slot 0). */
clgrad_status clgrad__unary_backward(clgrad__node *n, clgrad_tensor *gy, clgrad_tensor **gx);

/* Untracked binary op with numpy broadcasting: op is a kernel prefix of cl/elementwise.cl
 * ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", ... "ge"). New reference. */
clgrad_status clgrad__binary_raw(const char *op, clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out);

#endif
