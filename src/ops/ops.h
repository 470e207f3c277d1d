/* Internal header of the ops layer: kernel launching and the helpers every op family
 * shares (argument packing, strided views as kernel arguments, output allocation). The
 * per-family internal functions are declared in src/ops/<family>.h. */
#ifndef CLGRAD_SRC_OPS_H
#define CLGRAD_SRC_OPS_H

#include "memory/memory.h"
#include "program/program.h"
#include "program/tuning.h"
#include "runtime/runtime.h"
#include "tensor/tensor.h"

/* One kernel argument: size and address of the value (cl_mem handles included). */
typedef struct clgrad__karg {
    size_t size;
    const void *ptr;
} clgrad__karg;

/* A kernel's argument list, counted by the compiler: build it only with CLGRAD_ARGS. */
typedef struct clgrad__kargs {
    int n;
    const clgrad__karg *v;
} clgrad__kargs;

#define CLGRAD_KARG(v) ((clgrad__karg){sizeof(v), &(v)})
/* A local-memory argument of n bytes. */
#define CLGRAD_KARG_LOCAL(n) ((clgrad__karg){(n), NULL})
/* A tensor as two kernel arguments: its buffer and its element offset (a long). Safe
 * because CLGRAD_ARGS counts what it is given: no count is ever written by hand. */
#define CLGRAD_KARG_T(t) CLGRAD_KARG((t)->buf->mem), CLGRAD_KARG((t)->offset)

/* The argument list of one launch: CLGRAD_ARGS(CLGRAD_KARG(a), CLGRAD_KARG_T(t), ...). The
 * count is the length of the compound literal, so it cannot disagree with the list. The
 * storage lives until the end of the enclosing block: pass it on within that block. */
#define CLGRAD_ARGS(...)                                                                           \
    ((clgrad__kargs){(int)(sizeof((clgrad__karg[]){__VA_ARGS__}) / sizeof(clgrad__karg)),          \
                     (clgrad__karg[]){__VA_ARGS__}})
/* A launch of a kernel without arguments. */
#define CLGRAD_NO_ARGS ((clgrad__kargs){0, NULL})

/* Enqueues kernel `kernel` of family `family` built with `options` (may be NULL). local
 * may be NULL (the driver picks); when given, global is rounded up to a multiple of it
 * and local is clamped to the kernel's CL_KERNEL_WORK_GROUP_SIZE. Never waits. This and
 * clgrad__launch_1d are the only ways the library launches a kernel. */
clgrad_status clgrad__launch(clgrad_context *ctx, const char *family, const char *options, const char *kernel,
                             cl_uint dim, const size_t *global, const size_t *local, clgrad__kargs args);

/* 1-D launch over n items with a work-group size suited to the device (kernels must check
 * their index against n, as global is rounded up). */
clgrad_status clgrad__launch_1d(clgrad_context *ctx, const char *family, const char *options, const char *kernel,
                                size_t n, clgrad__kargs args);

/* The preferred 1-D work-group size for simple kernels on this device (the tuning row's
 * wg_1d, at most the device's max work-group size). */
size_t clgrad__wg_1d(const clgrad_context *ctx);

/* The op families' per-device choices: the matching row of src/program/tuning.c, or the
 * tuned values of the device, or what a test forced (src/ops/tuned.c). */
const clgrad__ops_params *clgrad__ops_tuning(const clgrad_context *ctx);

/* The most planes, rows or partial results one NDRange dimension takes before the rest
 * folds into the next dimension or another launch: 32768, lower under a test hook
 * (src/ops/tuned.h), so small shapes reach the folded paths. */
size_t clgrad__fold_limit(const clgrad_context *ctx);

/* A view's geometry packed for kernels: 8 slots right-aligned (dim i of an n-d view is slot
 * 8-n+i); unused leading slots have size 1 and stride 0. cl/common.cl's clgrad_offset8()
 * turns a row-major linear index into an element offset with it. */
typedef struct clgrad__geom {
    cl_long8 shape, stride;
} clgrad__geom;
void clgrad__geom_of(const clgrad_tensor *t, clgrad__geom *g);
/* Geometry of t broadcast to out_shape (numpy rules; caller has checked compatibility). */
void clgrad__geom_broadcast(const clgrad_tensor *t, int ndim, const int64_t *out_shape, clgrad__geom *g);

/* The build option that selects value v of a host enum in a kernel file: "-D<prefix>_<name>"
 * (e.g. "-DRED_OP_MAX"), written into buf. names is the enum's name table indexed by value
 * (designated initialisers keep it in step with the enum); kernels test the macro with
 * #ifdef / defined(), so no enum value is ever copied into a .cl file. */
void clgrad__op_code_option(char *buf, size_t cap, const char *prefix, const char *const *names, size_t n, int v);

/* The ordered sum of the op families' backward rules: out[ooff + m*os] = the sum over
 * r = 0 .. R-1, in that order and starting from 0, of x[xoff + r*rs + m*ms], for m < M
 * (columns of a row-major (R, M) matrix: rs = M, ms = 1; rows: rs = 1, ms = R). One
 * kernel of the reduce family (reduce_ordered_f32); the same bits on every device and
 * launch shape. Enqueues only. */
clgrad_status clgrad__sum_ordered(clgrad_context *ctx, cl_mem x, cl_long xoff, int64_t M, int64_t R, int64_t ms,
                                  int64_t rs, cl_mem out, cl_long ooff, int64_t os);

/* Checks that t is not NULL and has dtype dt; fn names the op in the message. */
clgrad_status clgrad__check_tensor(const clgrad_context *ctx, const char *fn, const char *arg,
                                   const clgrad_tensor *t, clgrad_dtype dt);
/* Checks that every tensor lives in ctx. */
clgrad_status clgrad__check_same_ctx(const char *fn, const clgrad_tensor *a, const clgrad_tensor *b);

/* x itself (+1 ref) when already contiguous (any offset), else a contiguous strided copy.
 * Not tracked by autograd. */
clgrad_status clgrad__contiguous(clgrad_tensor *x, clgrad_tensor **out);
/* Fails with INVALID_ARG when several elements of dst share memory (an expanded view), as
 * an in-place write there races; fn and arg name the caller's function and argument. */
clgrad_status clgrad__check_writable(const char *fn, const char *arg, const clgrad_tensor *dst);
/* Strided copy src -> dst of equal shapes (any views). When they overlap, src is first
 * copied to a temporary, so dst gets src's values as they were (as memmove). */
clgrad_status clgrad__copy(clgrad_tensor *dst, clgrad_tensor *src);
/* Fills any view with a float value (f32) or an integer value (i32). */
clgrad_status clgrad__fill(clgrad_tensor *dst, double value);

#endif
