/* Internal header of the data-parallel layer (include/clgrad/dist.h): the group structure,
 * its communication thread, and the transports under it (MPI in mpi.c, threads of one
 * process in local.c). Host memory, public tensor calls and the CL-free helpers of the
 * layers below only: no OpenCL type, no MPI type (mpi.c keeps those to itself). */
#ifndef CLGRAD_SRC_DIST_H
#define CLGRAD_SRC_DIST_H

#include "core/core.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define CLGRAD__DIST_MSG 1024

/* What a failing rank tells the others (sent as bytes, so plain fixed-size data). */
typedef struct clgrad__dist_failure {
    int32_t status; /* the failing rank's clgrad_status */
    int32_t rank;
    int64_t step;   /* its step count (clgrad_dist_sync calls) when it failed */
    char msg[CLGRAD__DIST_MSG - 16];
} clgrad__dist_failure;

/* "rank R of N failed at step S: STATUS: message" into msg. */
void clgrad__dist_failure_text(const clgrad__dist_failure *f, int size, char *msg, size_t cap);

/* --- transports ------------------------------------------------------------------------------
 * A transport moves host memory between the ranks. Its calls run one at a time (on the
 * group's communication thread, or on the group's user thread when the transport is not
 * threaded), in the same order on every rank. Each wait gives up at the deadline (seconds
 * of clgrad__now()), when another rank's failure notice arrives, or when *stop becomes
 * non-zero; on failure it writes why into msg (cap bytes) and sets *remote to 1 when the
 * reason is another rank's notice (the message then names that rank), else leaves it 0. */
typedef struct clgrad__transport clgrad__transport;

typedef struct clgrad__transport_vt {
    const char *name; /* "mpi", "local" */
    /* Sums n floats (f64 0) or doubles (f64 1) over the ranks into buf on every rank. */
    clgrad_status (*allreduce)(clgrad__transport *t, void *buf, size_t n, int f64, const char *what, double deadline,
                               char *msg, size_t cap, int *remote);
    /* Copies rank 0's bytes buf[0, bytes) into every rank's buf. */
    clgrad_status (*broadcast)(clgrad__transport *t, void *buf, size_t bytes, const char *what, double deadline,
                               char *msg, size_t cap, int *remote);
    /* Tells every other rank that this one failed (f); does not wait for them. */
    void (*notify)(clgrad__transport *t, const clgrad__dist_failure *f);
    /* Frees the transport; broken: a collective may have been left unfinished. */
    void (*release)(clgrad__transport *t, int broken);
} clgrad__transport_vt;

struct clgrad__transport {
    const clgrad__transport_vt *vt;
    int rank, size, local_rank, local_size;
    int threaded;       /* calls may run on a thread other than the creating one */
    atomic_int *stop;   /* set by the group before its first call */
};

/* MPI (mpi.c, or mpi_disabled.c without MPI: UNSUPPORTED). comm as for
 * clgrad_dist_mpi_create. */
int clgrad__dist_mpi_built(void);
clgrad_status clgrad__dist_mpi_transport(const void *comm, clgrad__transport **out);

/* --- the group -------------------------------------------------------------------------------- */

typedef struct clgrad__dist_job clgrad__dist_job;

/* A parameter of the attached module. */
typedef struct clgrad__dist_param {
    clgrad_tensor *t;     /* borrowed from the module */
    const char *name;     /* owned by the module's name cache: copied in name */
    char *name_copy;
    int bucket;
    size_t off, n;        /* its floats in the bucket's host buffer */
    int slot;             /* its index within the bucket (the has-gradient flag) */
    int ready;            /* its gradient became final in this step's backward */
} clgrad__dist_param;

typedef struct clgrad__dist_bucket {
    int *params;          /* indices into the group's params, in bucket order */
    int n_params, n_ready;
    size_t n_floats;      /* gradient floats; the buffer has n_params flags after them */
    float *host;
    void **pending;       /* clgrad_pending * per parameter while its read is queued */
    int posted;
    double t_started, t_ready, t_comm_start, t_comm_end; /* clgrad__now() */
} clgrad__dist_bucket;

struct clgrad_dist {
    clgrad__transport *tp;
    clgrad_dist_options opts;
    void (*on_release)(clgrad_dist *g); /* local.c: marks the rank as gone */
    void *owner;                        /* local.c: its hub */
    int runner_owned;                   /* clgrad_dist_local_run frees it (after release) */
    int released;                       /* torn down by clgrad_dist_release */

    /* the communication thread and its queue (under mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    pthread_t thread;
    int thread_started, quit;
    clgrad__dist_job *head, *tail;
    int outstanding;      /* jobs posted and not finished */
    atomic_int stop;      /* asks the transport to give up its current wait */

    /* broken: the first failure, final (under mu) */
    int broken, broken_remote;
    clgrad_status broken_status;
    char broken_msg[CLGRAD__DIST_MSG + 128];

    int64_t step;

    /* the attached module */
    clgrad_module *module;
    clgrad_context *ctx;
    clgrad__dist_param *params;
    int n_params;
    clgrad_tensor **by_addr; /* params' tensors sorted by address, for the hook */
    int *by_addr_index;
    clgrad__dist_bucket *buckets;
    int n_buckets, next_post;
    clgrad_module **bn;   /* batch norm layers made to synchronise */
    int n_bn;
    clgrad_status hook_status; /* the first failure inside the backward hook this step */
    char hook_msg[CLGRAD__DIST_MSG - 16];
    double t_origin;      /* when this step's first bucket started; 0 before */
    double t_sync;
    double t_backward_done; /* CLGRAD_DIST_NO_OVERLAP: when sync found the device done */
    int have_timing;
    clgrad_dist_bucket_timing *timing; /* the last successful step, per bucket */
    clgrad_dist_stats stats;
};

/* Makes a group over transport tp (taking it over, also on failure) and starts its
 * communication thread when tp is threaded. */
clgrad_status clgrad__dist_new(clgrad__transport *tp, const clgrad_dist_options *o, clgrad_dist **out);
/* Checks and resolves options (NULL: defaults) into *r; INVALID_ARG naming what is wrong. */
clgrad_status clgrad__dist_resolve_options(const clgrad_dist_options *o, clgrad_dist_options *r);

/* Collectives through the group's queue, waiting for the result; on failure the group is
 * broken and the error recorded (on the attached context too). */
clgrad_status clgrad__dist_allreduce(clgrad_dist *g, void *buf, size_t n, int f64, const char *what);
clgrad_status clgrad__dist_broadcast(clgrad_dist *g, void *buf, size_t bytes, const char *what);
/* A local failure (status st, message msg): breaks the group, tells the other ranks, and
 * returns st with the group's message recorded. */
clgrad_status clgrad__dist_fail_local(clgrad_dist *g, clgrad_status st, const char *msg);
/* The group's failure as a recorded error (status returned). */
clgrad_status clgrad__dist_broken_error(clgrad_dist *g);
int clgrad__dist_is_broken(clgrad_dist *g);
/* 1 when g broke because of another rank (its notice, or a collective the hub gave up). */
int clgrad__dist_broken_by_other(clgrad_dist *g);

/* grads.c, on the communication thread: waits for bucket k's reads and sums it over the
 * ranks (then divides the gradients by the size); transport contract for msg and remote. */
void clgrad__dist_bucket_job(clgrad_dist *g, int k, char *msg, size_t cap, clgrad_status *st, int *remote);

/* Posts the bucket's job (its reads already queued) on the queue; waits for every job. */
void clgrad__dist_post_bucket(clgrad_dist *g, int bucket);
void clgrad__dist_wait_idle(clgrad_dist *g);

/* Frees a group clgrad_dist_release tore down (runner-owned groups). */
void clgrad__dist_free(clgrad_dist *g);

/* grads.c: undoes clgrad_dist_attach (hooks off, buckets freed). */
void clgrad__dist_detach(clgrad_dist *g);

#endif
