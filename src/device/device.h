/* Internal header of the device layer: the context structure, OpenCL error names and the
 * pure (OpenCL-free) ranking and selector logic, which tests drive with made-up lists. */
#ifndef CLGRAD_SRC_DEVICE_H
#define CLGRAD_SRC_DEVICE_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "core/core.h"

/* Name of an OpenCL error code ("CL_OUT_OF_RESOURCES"); covers cl.h and cl_ext.h. */
const char *clgrad__cl_error_name(cl_int e);

/* Records an OpenCL failure: "<what>: CL_XXX (code)"; maps out-of-memory codes to
 * CLGRAD_ERR_DEVICE_MEMORY and everything else to CLGRAD_ERR_OPENCL. */
clgrad_status clgrad__cl_fail(const clgrad_context *ctx, cl_int e, const char *what);

#define CLGRAD_CL(ctx, call)                                                                       \
    do {                                                                                           \
        cl_int e_ = (call);                                                                        \
        if (e_ != CL_SUCCESS) return clgrad__cl_fail((ctx), e_, #call);                            \
    } while (0)

/* Ranking score: larger is better; unusable devices score negative. */
double clgrad__device_score(const clgrad_device_info *d);

/* Fills info from an OpenCL device (all queries once). */
clgrad_status clgrad__device_query(cl_platform_id p, cl_device_id d, int pidx, int didx,
                                   clgrad_device_info *info);

/* Enumerates platforms and devices; ids[i] pairs with list[i]. Caller frees both. */
clgrad_status clgrad__devices_enumerate(clgrad_device_info **list, cl_platform_id **pids,
                                        cl_device_id **dids, int *n);

typedef struct clgrad__program_entry clgrad__program_entry; /* src/program */
typedef struct clgrad__pool clgrad__pool;                   /* src/memory */

struct clgrad_context {
    clgrad_device_info info;
    cl_platform_id platform;
    cl_device_id device;
    cl_context cl;
    cl_command_queue queue;
    uint32_t flags;

    char *cache_dir; /* NULL when the disk cache is off */
    clgrad__program_entry *programs; /* in-memory cache, a singly linked list */
    clgrad__pool *pool;
    void *gemm;      /* src/ops matmul state (provider choice, CLBlast handle) */
    void (*gemm_free)(void *);

    clgrad_context_stats stats;
    int is_default;
    int no_grad_depth; /* > 0 inside clgrad_no_grad_begin/end */
    int reduce_kernel; /* tests: force a reduction kernel (src/ops/reduce.h), 0 = automatic */
    char err[CLGRAD__ERRMSG_CAP];
};

#endif
