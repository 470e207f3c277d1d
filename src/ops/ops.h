/* Internal header of the ops layer: kernel launching and the helpers every op family
 * shares (argument packing, strided views as kernel arguments, output allocation). The
 * per-family internal functions are declared in src/ops/<family>.h. */
#ifndef CLGRAD_SRC_OPS_H
#define CLGRAD_SRC_OPS_H

#include "memory/memory.h"
#include "program/program.h"
#include "runtime/runtime.h"
#include "tensor/tensor.h"

/* One kernel argument: size and address of the value (cl_mem handles included). */
typedef struct clgrad__karg {
    size_t size;
    const void *ptr;
} clgrad__karg;

#define CLGRAD_KARG(v) ((clgrad__karg){sizeof(v), &(v)})
/* A local-memory argument of n bytes. */
#define CLGRAD_KARG_LOCAL(n) ((clgrad__karg){(n), NULL})
/* A tensor as two kernel arguments: its buffer and its element offset (a long). */
#define CLGRAD_KARG_T(t) CLGRAD_KARG((t)->buf->mem), CLGRAD_KARG((t)->offset)

/* Enqueues kernel `kernel` of family `family` built with `options` (may be NULL). local
 * may be NULL (the driver picks); when given, global is rounded up to a multiple of it
 * and local is clamped to the kernel's CL_KERNEL_WORK_GROUP_SIZE. Never waits. */
clgrad_status clgrad__launch(clgrad_context *ctx, const char *family, const char *options, const char *kernel,
                             cl_uint dim, const size_t *global, const size_t *local, int nargs,
                             const clgrad__karg *args);

/* 1-D launch over n items with a work-group size suited to the device (kernels must check
 * their index against n, as global is rounded up). */
clgrad_status clgrad__launch_1d(clgrad_context *ctx, const char *family, const char *options, const char *kernel,
                                size_t n, int nargs, const clgrad__karg *args);

/* The preferred 1-D work-group size for simple kernels on this device (<= the device's
 * max work-group size): 64 on CPUs, 256 on GPUs. */
size_t clgrad__wg_1d(const clgrad_context *ctx);

/* A view's geometry packed for kernels: 8 slots right-aligned (dim i of an n-d view is slot
 * 8-n+i); unused leading slots have size 1 and stride 0. cl/common.cl's clgrad_offset8()
 * turns a row-major linear index into an element offset with it. */
typedef struct clgrad__geom {
    cl_long8 shape, stride;
} clgrad__geom;
void clgrad__geom_of(const clgrad_tensor *t, clgrad__geom *g);
/* Geometry of t broadcast to out_shape (numpy rules; caller has checked compatibility). */
void clgrad__geom_broadcast(const clgrad_tensor *t, int ndim, const int64_t *out_shape, clgrad__geom *g);

/* Checks that t is not NULL and has dtype dt; fn names the op in the message. */
clgrad_status clgrad__check_tensor(const clgrad_context *ctx, const char *fn, const char *arg,
                                   const clgrad_tensor *t, clgrad_dtype dt);
/* Checks that every tensor lives in ctx. */
clgrad_status clgrad__check_same_ctx(const char *fn, const clgrad_tensor *a, const clgrad_tensor *b);

/* x itself (+1 ref) when already contiguous (any offset), else a contiguous strided copy.
 * Not tracked by autograd. */
clgrad_status clgrad__contiguous(clgrad_tensor *x, clgrad_tensor **out);
/* Strided copy src -> dst of equal shapes (any views). */
clgrad_status clgrad__copy(clgrad_tensor *dst, clgrad_tensor *src);
/* Fills any view with a float value (f32) or an integer value (i32). */
clgrad_status clgrad__fill(clgrad_tensor *dst, double value);

#endif
