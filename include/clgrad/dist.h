/* clgrad data parallelism: one model trained by several ranks at once, each rank a device
 * with its own share of every batch. Included by clgrad.h; no OpenCL or MPI type appears
 * here.
 *
 * A group is a set of ranks 0..size-1 that train the same model; clgrad_dist is one rank's
 * handle on it. Groups come in two kinds, with one API:
 *   - MPI: one process per rank, started by mpirun or a scheduler (Slurm's srun); the group
 *     is MPI_COMM_WORLD or a communicator of the caller's (clgrad_dist_mpi_create). Only
 *     when the library was built with MPI (clgrad_dist_mpi_available).
 *   - in-process: several devices of one machine, one context and one host thread per rank
 *     (clgrad_dist_local_run, or clgrad_dist_local_create with threads of the caller's).
 *
 * What the group does for training, the same on every rank:
 *   - every rank builds the same model (any seed); clgrad_dist_attach copies rank 0's
 *     parameters, buffers and counters to every other rank and prepares the gradient
 *     buckets;
 *   - each rank runs forward and backward on its own part of the global batch
 *     (clgrad_dist_sampler says which samples);
 *   - during the backward pass, as soon as every gradient of a bucket (about bucket_bytes of
 *     parameters, taken in reverse parameter order, the order in which backward finishes
 *     them) is final, its gradients are queued for reading into host memory and a
 *     communication thread sums them over the ranks (MPI_Iallreduce, or through shared host
 *     memory in-process) while the device computes the rest of the backward pass;
 *   - clgrad_dist_sync waits for the last buckets and writes every gradient back as the
 *     average over the ranks, so that an optimizer step on each rank gives every rank the
 *     same weights, those one process would reach with the whole global batch (the loss
 *     being a mean over each rank's samples, and every rank's share of equal size).
 * Transfers go through host memory with reads and writes queued on the device's queue: one
 * path for every vendor.
 *
 *     clgrad_dist *g = NULL;  clgrad_context *ctx = NULL;
 *     s = clgrad_dist_mpi_create(NULL, NULL, &g);           // MPI_COMM_WORLD, default options
 *     if (s == CLGRAD_OK) s = clgrad_dist_context_create(g, NULL, &ctx);  // device by local rank
 *     if (s == CLGRAD_OK) s = ... build model and optimizer on ctx ...
 *     s = clgrad_dist_check(g, s);                            // did every rank get this far?
 *     if (s == CLGRAD_OK) s = clgrad_dist_attach(g, model);  // rank 0's weights everywhere
 *     for (step = 0; s == CLGRAD_OK && step < steps; step++) {
 *         s = ... this rank's samples (clgrad_dist_sampler_indices), forward, loss,
 *                 clgrad_backward(loss) ...
 *         s = clgrad_dist_sync(g, s);       // averaged gradients, or every rank's error
 *         if (s == CLGRAD_OK) s = clgrad_optim_step(opt);
 *         clgrad_optim_zero_grad(opt);
 *     }
 *     clgrad_dist_release(g);  ... then the model, the optimizer, the context ...
 *
 * Failures. A rank that fails (bad input, a device error, ...) passes its status to the
 * next clgrad_dist_sync or clgrad_dist_check (or releases its group): the group then tells
 * every other rank at once, out of band, and every rank's pending or next collective call
 * returns an error whose message names the failing rank and its cause, e.g. "rank 1 of 2
 * failed at step 3: CLGRAD_ERR_SHAPE: linear: ...". A rank that stops answering (killed,
 * hung, never calling) makes the others fail after timeout_seconds with a message that
 * names the collective they waited in (and, in-process, the ranks missing). After a
 * failure the group is broken: every later call on it returns the same error at once;
 * release it and end the program (under mpirun, with a non-zero exit status). The status
 * returned on a rank other than the failing one is the failing rank's status;
 * CLGRAD_ERR_IO for timeouts and transport errors.
 *
 * Gradient clipping and anything else that reads the gradients goes after clgrad_dist_sync.
 *
 * Threads: a group handle is used by one thread at a time (the thread that uses the
 * attached model's context); each handle runs one communication thread of its own. The
 * ranks of an in-process group are used from different threads (one each) by design.
 * Lifetimes: release the group before the attached module and its context. */
#ifndef CLGRAD_DIST_H
#define CLGRAD_DIST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clgrad_dist clgrad_dist; /* one rank's handle on a group */

/* The default gradient bucket size: 4 MiB. */
#define CLGRAD_DIST_BUCKET_BYTES ((size_t)4 << 20)

enum {
    /* Batch norm layers of the attached module compute training statistics over every
     * rank's batch (PyTorch's SyncBatchNorm): outputs, gradients and running statistics
     * then equal those of one process normalising the whole global batch. Default: each
     * rank normalises with its own batch's statistics, as PyTorch's DistributedDataParallel
     * does. Costs two small collectives per batch norm layer in forward and two in
     * backward. */
    CLGRAD_DIST_SYNC_BATCH_NORM = 1u << 0,
    /* Start no bucket during backward: clgrad_dist_sync waits for the device to finish the
     * backward pass, then reads and sums every bucket (for measuring what the overlap
     * gains; results are the same bits). */
    CLGRAD_DIST_NO_OVERLAP = 1u << 1,
};

typedef struct clgrad_dist_options {
    size_t bucket_bytes;    /* gradient bytes per bucket; 0: CLGRAD_DIST_BUCKET_BYTES. A parameter
                               bigger than that is a bucket of its own. */
    double timeout_seconds; /* the longest one collective call waits for the other ranks; <= 0:
                               300. Bounds the time to notice a rank that stopped answering;
                               it must exceed the largest lag between ranks (a slow first
                               step that builds kernels included). */
    uint32_t flags;         /* CLGRAD_DIST_* */
} clgrad_dist_options;

/* The defaults: 4 MiB buckets, 300 s timeout, no flags. Thread-safe. */
CLGRAD_API clgrad_dist_options clgrad_dist_defaults(void);

/* 1 when the library was built with MPI (clgrad_dist_mpi_create works), else 0. Thread-safe. */
CLGRAD_API int clgrad_dist_mpi_available(void);

/* --- groups ------------------------------------------------------------------------------ */

/* This process's rank of the MPI communicator *(MPI_Comm *)comm, or of MPI_COMM_WORLD when
 * comm is NULL. A collective call: every process of the communicator calls it. When MPI is
 * not initialised yet, initialises it (MPI_Init_thread asking for MPI_THREAD_SERIALIZED,
 * with no arguments) and finalises it when the last group made this way is released (except
 * after a timeout left a collective unfinished, which MPI_Finalize may not survive: the
 * process then ends without it, and mpirun says so); MPI cannot be initialised a second
 * time after that, so a later call is UNSUPPORTED. A caller
 * that initialises MPI itself finalises it itself, after releasing its groups; the group
 * then runs MPI calls on its communication thread only while a thread level of
 * MPI_THREAD_SERIALIZED or more was provided, else on the calling thread (gradients are
 * then summed in clgrad_dist_sync, without overlap). The group works on its own duplicates
 * of the communicator, so its messages never meet the caller's. local rank and local size
 * count the processes on this machine (MPI_COMM_TYPE_SHARED). o NULL: the defaults.
 * UNSUPPORTED without MPI; INVALID_ARG for bad options; CLGRAD_ERR_IO when an MPI call
 * fails (its message in the error). *out is NULL on failure. */
CLGRAD_API clgrad_status clgrad_dist_mpi_create(const void *comm, const clgrad_dist_options *o, clgrad_dist **out);

/* An in-process group of n ranks (1 <= n <= 1024): ranks[i] (an array of n the caller
 * provides) is rank i's handle, to be used by one thread each, which releases it. Every
 * handle's local rank is its rank (one machine). On failure every ranks[i] is NULL. */
CLGRAD_API clgrad_status clgrad_dist_local_create(int n, const clgrad_dist_options *o, clgrad_dist **ranks);

/* Runs fn(g, user) for every rank of an in-process group of n ranks, each on a thread of
 * its own, and waits for all of them. fn typically creates its context with
 * clgrad_dist_context_create, builds and attaches its model and trains; it releases g
 * (clgrad_dist_release) before the module and context attached to it, as any user of a
 * group does. A handle fn did not release is released when fn returns (so whatever is
 * attached to it must still exist then); the runner frees the handles at the end.
 * When one rank's fn returns an error while others still communicate, those get an error
 * naming it at once. results (optional, n entries) gets every rank's status. Returns
 * CLGRAD_OK when every fn did, else the status of the lowest failing rank, with
 * clgrad_last_error(NULL) on the calling thread giving "rank R of N: <its message>". */
typedef clgrad_status (*clgrad_dist_fn)(clgrad_dist *g, void *user);
CLGRAD_API clgrad_status clgrad_dist_local_run(int n, const clgrad_dist_options *o, clgrad_dist_fn fn, void *user,
                                               clgrad_status *results);

/* Releases g (NULL: no-op): stops its communication thread, detaches it from its module
 * (hooks and synchronised batch norm removed) and frees it. Releasing a rank while other
 * ranks still wait for it in a collective call fails those calls at once (in-process) or
 * after their timeout (MPI), each naming this rank where it can. Not collective otherwise. */
CLGRAD_API void clgrad_dist_release(clgrad_dist *g);

/* Rank and size of the group, rank and size on this machine; -1 / 0 for a NULL g. */
CLGRAD_API int clgrad_dist_rank(const clgrad_dist *g);
CLGRAD_API int clgrad_dist_size(const clgrad_dist *g);
CLGRAD_API int clgrad_dist_local_rank(const clgrad_dist *g);
CLGRAD_API int clgrad_dist_local_size(const clgrad_dist *g);
/* "mpi" or "local" (a static string); NULL for a NULL g. */
CLGRAD_API const char *clgrad_dist_backend(const clgrad_dist *g);

/* --- devices ----------------------------------------------------------------------------- */

/* The device this rank should use, as a "P:D" selector written into buf (cap bytes, at
 * least 16): among the usable devices that selector matches (NULL or "": those of the
 * best-ranked device's kind, e.g. every GPU, else every CPU device; see
 * clgrad_devices_select), in rank order, the one at index local_rank modulo their number.
 * So one rank per GPU on each machine, ranks sharing devices when there are fewer.
 * NO_DEVICE when nothing matches; INVALID_ARG for NULL arguments or a small buffer. */
CLGRAD_API clgrad_status clgrad_dist_device_selector(const clgrad_dist *g, const char *selector, char *buf,
                                                     size_t cap);
/* A context on this rank's device: desc (NULL: defaults) with desc->device (NULL:
 * $CLGRAD_DEVICE, else every device of the best kind) narrowed by
 * clgrad_dist_device_selector. Errors as clgrad_context_create. *out NULL on failure. */
CLGRAD_API clgrad_status clgrad_dist_context_create(const clgrad_dist *g, const clgrad_context_desc *desc,
                                                    clgrad_context **out);

/* --- collectives (every rank calls them, in the same order) ------------------------------- */

/* Tells every rank whether each got this far: local is this rank's status (CLGRAD_OK, or
 * the error of what it did since the last collective call, its message still on the
 * thread). CLGRAD_OK when every rank passed CLGRAD_OK; else every rank gets an error naming
 * a failing rank and its message (see "Failures"). */
CLGRAD_API clgrad_status clgrad_dist_check(clgrad_dist *g, clgrad_status local);

/* Sums n doubles over the ranks, in place (metrics, sample counts). */
CLGRAD_API clgrad_status clgrad_dist_allreduce_sum(clgrad_dist *g, double *values, size_t n);

/* Copies rank 0's parameters, buffers (batch norm running statistics) and counters (dropout
 * calls, num_batches_tracked) of m into every rank's m; waits for the device. Every rank's
 * m must have the same structure: the parameter and buffer names and shapes are compared
 * first and a difference is an error naming it (SHAPE) on every rank. */
CLGRAD_API clgrad_status clgrad_dist_broadcast_module(clgrad_dist *g, clgrad_module *m);

/* Makes m the module whose gradients g averages: broadcasts it from rank 0 (as
 * clgrad_dist_broadcast_module), puts its parameters (those that require grad) into
 * buckets of about bucket_bytes in reverse order and hooks the backward pass of m's context
 * so that a bucket starts as soon as its gradients are final. With
 * CLGRAD_DIST_SYNC_BATCH_NORM, synchronises its batch norm layers. One module per group
 * and one group per context (INVALID_ARG otherwise). m and its context must outlive g. */
CLGRAD_API clgrad_status clgrad_dist_attach(clgrad_dist *g, clgrad_module *m);

/* Ends a step of the attached module: local is this rank's status for the step (forward,
 * loss, backward). Starts the buckets the backward pass did not (parameters without a
 * gradient count as zero), waits until every bucket is summed over the ranks, and queues
 * the writes of the averages (sum / size) into the parameters' gradients; a parameter that
 * no rank gave a gradient keeps none, one that only some ranks did gets one. Run one
 * backward per step: a gradient that becomes final twice before clgrad_dist_sync is an
 * error. On failure anywhere, every rank returns an error (see "Failures") and gradients
 * are left as they were. */
CLGRAD_API clgrad_status clgrad_dist_sync(clgrad_dist *g, clgrad_status local);

/* --- timings -------------------------------------------------------------------------------- */

/* What the gradient averaging cost. "Ready" is when a bucket's gradients had reached host
 * memory: the device had finished that part of backward. A bucket's communication overlaps
 * backward while it runs before the last bucket of the step is ready, i.e. while the device
 * is still computing gradients (with CLGRAD_DIST_NO_OVERLAP, before the device finished,
 * which is never). */
typedef struct clgrad_dist_stats {
    int64_t steps;               /* clgrad_dist_sync calls that succeeded */
    int buckets;                 /* buckets of the attached module */
    size_t grad_bytes;           /* gradient bytes averaged per step */
    /* the last successful step */
    double comm_seconds;         /* time the buckets' collectives took, summed over buckets */
    double overlap_seconds;      /* the part of comm_seconds before the step's last bucket was ready */
    double sync_wait_seconds;    /* time clgrad_dist_sync waited for the buckets */
    double backward_seconds;     /* from the first bucket started to the last bucket ready (with
                                    CLGRAD_DIST_NO_OVERLAP: what clgrad_dist_sync waited for the
                                    device to finish backward) */
    /* sums over every successful step */
    double total_comm_seconds, total_overlap_seconds, total_sync_wait_seconds;
} clgrad_dist_stats;
CLGRAD_API clgrad_status clgrad_dist_get_stats(const clgrad_dist *g, clgrad_dist_stats *out);

/* One bucket of the last successful step, times in seconds from the moment its first
 * bucket was started: started (queued for reading), ready (its gradients in host memory),
 * comm_start and comm_end (its collective); sync_called is when clgrad_dist_sync was
 * entered. i in [0, stats.buckets); INVALID_ARG otherwise or before the first step. */
typedef struct clgrad_dist_bucket_timing {
    int params;                 /* parameters in the bucket */
    size_t bytes;               /* their gradient bytes */
    double started, ready, comm_start, comm_end, sync_called;
} clgrad_dist_bucket_timing;
CLGRAD_API clgrad_status clgrad_dist_get_bucket_timing(const clgrad_dist *g, int i, clgrad_dist_bucket_timing *out);

/* --- the distributed sampler ---------------------------------------------------------------- */

/* Which samples each rank takes at each step. Every epoch visits the n_samples samples in
 * the order clgrad_dataset_shuffle(ds, seed, epoch) gives a dataset of n_samples (or in
 * order, without shuffle); step k of an epoch is the global batch of positions
 * [k * global_batch, (k + 1) * global_batch) of that order, and rank r takes its r-th
 * contiguous share of global_batch / size of them. So the union of the ranks' samples at a
 * step is what one process with the whole global batch takes at that step; with a dataset
 * shuffled the same way, rank r's share of step k is clgrad_dataset_batch(ds, k * size + r,
 * global_batch / size). An incomplete last global batch is dropped (steps = n_samples /
 * global_batch), so every rank takes the same number of samples at every step. */
typedef struct clgrad_dist_sampler clgrad_dist_sampler;

/* n_samples >= 1; global_batch in [1, n_samples] and divisible by size (the message says
 * so otherwise); 0 <= rank < size. Starts at epoch 0. INVALID_ARG for bad values. */
CLGRAD_API clgrad_status clgrad_dist_sampler_create(int64_t n_samples, int64_t global_batch, int rank, int size,
                                                    uint64_t seed, int shuffle, clgrad_dist_sampler **out);
CLGRAD_API void clgrad_dist_sampler_release(clgrad_dist_sampler *s); /* NULL: no-op */
/* Sets the epoch whose order later calls use. */
CLGRAD_API clgrad_status clgrad_dist_sampler_set_epoch(clgrad_dist_sampler *s, uint64_t epoch);
/* Steps per epoch (n_samples / global_batch) and this rank's samples per step
 * (global_batch / size); 0 for a NULL s. */
CLGRAD_API int64_t clgrad_dist_sampler_steps(const clgrad_dist_sampler *s);
CLGRAD_API int64_t clgrad_dist_sampler_local_batch(const clgrad_dist_sampler *s);
/* This rank's sample indices (positions in the unshuffled order, as the dataset's samples
 * are numbered) of step `step` of the current epoch, into indices (room for cap >= local
 * batch entries); *n gets the count. INVALID_ARG for a step outside [0, steps) or a small
 * cap. */
CLGRAD_API clgrad_status clgrad_dist_sampler_indices(const clgrad_dist_sampler *s, int64_t step, int64_t *indices,
                                                     int64_t cap, int64_t *n);

#ifdef __cplusplus
}
#endif

#endif
