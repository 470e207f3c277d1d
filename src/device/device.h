/* Internal header of the device layer: enumeration and capability queries, OpenCL error
 * names, the pure (OpenCL-free) ranking and selector logic, which tests drive with made-up
 * lists, and the device part of a context (the context itself lives in src/runtime). */
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

/* The device part of a context: the chosen device and the OpenCL objects every layer
 * from src/program up talks to. src/runtime creates the OpenCL context and queue and puts
 * this struct first in struct clgrad_context, so the program and memory layers reach it by
 * a cast (clgrad__dev) without knowing the rest of the context. */
typedef struct clgrad__ctx_device {
    clgrad__ctx_head head; /* src/core's part; must stay first */
    clgrad_device_info info;
    cl_platform_id platform;
    cl_device_id device;
    cl_context cl;
    cl_command_queue queue; /* in order */
} clgrad__ctx_device;

/* The device part of ctx (not NULL; see clgrad__head for the const cast). */
static inline clgrad__ctx_device *clgrad__dev(const clgrad_context *ctx)
{
    return (clgrad__ctx_device *)(void *)ctx;
}

#endif
