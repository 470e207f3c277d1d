/* Internal header of the runtime layer: the context, the composition root of the library.
 * A context is built in layers, each part starting with the part of the layer below:
 * struct clgrad_context starts with the device part (src/device/device.h), which starts
 * with the head (src/core/core.h), so each lower layer reaches its part by a cast without
 * knowing this struct. The state of the program, memory and tensor layers and of the ops
 * layer above lives in slots those layers define (clgrad__ctx_slot); this layer creates
 * the eager ones when a context is created and releases them all with it. */
#ifndef CLGRAD_SRC_RUNTIME_H
#define CLGRAD_SRC_RUNTIME_H

#include "device/device.h"

struct clgrad_context {
    clgrad__ctx_device dev; /* the device part; must stay first */
    uint32_t flags;         /* clgrad_context_desc.flags (CLGRAD_CONTEXT_*) */
    int is_default;         /* the context clgrad_context_default made */
};

#endif
