/* clgrad profiling: where the time of a training step goes, on the device and on the host.
 * Included by clgrad.h.
 *
 * A context created with CLGRAD_CONTEXT_PROFILING has a profiling queue. Between
 * clgrad_profile_begin and clgrad_profile_end every kernel the library enqueues carries an
 * OpenCL event whose start and end times are summed per kernel, op family (the kernel file:
 * "matmul", "conv", "rnn", ...) and phase; the host time is split by phase into time spent
 * enqueuing kernels, time blocked on the device (blocking reads and writes, finish) and the
 * rest (argument checks, graph recording, buffer pool, the caller's own work).
 * clgrad_backward marks its work as the backward phase and the optimizer calls as the
 * optimizer phase; the caller marks the others with clgrad_profile_set_phase and the end of
 * each training step with clgrad_profile_step, so the report can say what a step costs.
 * Without a profile being recorded the library does no profiling work at all.
 *
 *     clgrad_context_desc d = {.flags = CLGRAD_CONTEXT_PROFILING};
 *     ... clgrad_context_create(&d, &ctx), the network, a warm-up step, then:
 *     clgrad_profile_begin(ctx);
 *     for each batch: clgrad_profile_set_phase(ctx, CLGRAD_PROFILE_DATA); upload;
 *                     clgrad_profile_set_phase(ctx, CLGRAD_PROFILE_FORWARD); forward, loss;
 *                     clgrad_backward(loss); clgrad_optim_step(opt); clgrad_profile_step(ctx);
 *     clgrad_profile_end(ctx);
 *     char text[16384]; clgrad_profile_report(ctx, text, sizeof text); fputs(text, stdout);
 */
#ifndef CLGRAD_PROFILE_H
#define CLGRAD_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clgrad_profile_phase {
    CLGRAD_PROFILE_OTHER = 0,     /* outside a training step (evaluation, set-up): not per step */
    CLGRAD_PROFILE_DATA = 1,      /* the caller's work around the network: batches, uploads, the loss read */
    CLGRAD_PROFILE_FORWARD = 2,   /* forward pass and loss */
    CLGRAD_PROFILE_BACKWARD = 3,  /* set by clgrad_backward while it runs */
    CLGRAD_PROFILE_OPTIMIZER = 4, /* set by clgrad_optim_step, _zero_grad and _clip_grad_norm while they run */
    CLGRAD_PROFILE_PHASES = 5
} clgrad_profile_phase;

/* One kernel in one phase. */
typedef struct clgrad_profile_kernel {
    char name[64];          /* kernel function, e.g. "matmul_cpu_f32" */
    char family[32];        /* op family: the kernel file without ".cl", or "clblast" */
    clgrad_profile_phase phase;
    uint64_t launches;
    double device_seconds;  /* sum of the events' end - start times */
    double host_seconds;    /* host time spent enqueuing these launches */
} clgrad_profile_kernel;

/* The host side of one phase. */
typedef struct clgrad_profile_host {
    double wall_seconds;    /* time spent in this phase */
    double launch_seconds;  /* of which enqueuing kernels (lookup, arguments, enqueue) */
    double wait_seconds;    /* of which blocked on the device (blocking reads and writes, finish) */
    uint64_t launches, waits, transfers, transfer_bytes;
} clgrad_profile_host;

typedef struct clgrad_profile_summary {
    uint64_t steps;                                   /* clgrad_profile_step calls */
    double seconds;                                   /* wall time recorded (begin to end) */
    int device_times;                                 /* 1: the device gave event times */
    clgrad_profile_host host[CLGRAD_PROFILE_PHASES];  /* indexed by clgrad_profile_phase */
    int n_kernels;
    const clgrad_profile_kernel *kernels;             /* borrowed: valid until the next begin or
                                                         the context's release; by descending
                                                         device time */
} clgrad_profile_summary;

/* Starts recording on ctx, discarding any earlier record; the phase becomes
 * CLGRAD_PROFILE_OTHER. CLGRAD_ERR_UNSUPPORTED unless ctx was created with
 * CLGRAD_CONTEXT_PROFILING. */
CLGRAD_API clgrad_status clgrad_profile_begin(clgrad_context *ctx);

/* Marks the work from now on as phase p (until the next call). Does nothing when no profile
 * is being recorded. CLGRAD_ERR_INVALID_ARG for a NULL ctx or an unknown phase. */
CLGRAD_API clgrad_status clgrad_profile_set_phase(clgrad_context *ctx, clgrad_profile_phase p);

/* The current phase; CLGRAD_PROFILE_OTHER when nothing is recorded or ctx is NULL. */
CLGRAD_API clgrad_profile_phase clgrad_profile_get_phase(const clgrad_context *ctx);

/* Marks the end of one training step (the report divides by their number). Does nothing
 * when no profile is being recorded. */
CLGRAD_API clgrad_status clgrad_profile_step(clgrad_context *ctx);

/* Stops recording: waits for the device and collects every event's times. The record stays
 * readable until the next begin. CLGRAD_ERR_INVALID_ARG when no profile was begun. */
CLGRAD_API clgrad_status clgrad_profile_end(clgrad_context *ctx);

/* The record of the last profile ended on ctx (see clgrad_profile_summary). */
CLGRAD_API clgrad_status clgrad_profile_get(const clgrad_context *ctx, clgrad_profile_summary *out);

/* Writes the record of the last profile as text tables (device time per step by op family
 * and phase, the kernels of each family, host time per step by phase) into buf, always
 * NUL-terminated when cap > 0, and returns the length of the whole text (like snprintf: a
 * result >= cap means it was cut). 0 when there is no ended profile, buf is NULL with
 * cap > 0, or ctx is NULL. */
CLGRAD_API size_t clgrad_profile_report(const clgrad_context *ctx, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
