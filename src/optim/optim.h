/* Internal header of the optim layer: the optimizer handle. Updates go through the fused
 * kernels of src/ops/optim.h. */
#ifndef CLGRAD_SRC_OPTIM_H
#define CLGRAD_SRC_OPTIM_H

#include "ops/optim.h"

struct clgrad_optim {
    clgrad_context *ctx;
    clgrad_optim_options o;
    int n;                  /* parameters */
    clgrad_tensor **params; /* owned references */
    char **names, **step_names;
    int64_t *steps;         /* updates applied to each parameter */
    int per;                /* state tensors per parameter: 0, 1 (SGD momentum) or 2 (Adam) */
    clgrad_tensor **state;  /* n * per, parameter-major */
    char **state_names;
};

#endif
