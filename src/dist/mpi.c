/* The MPI transport: collectives on a duplicate of the caller's communicator, failure
 * notices on a second duplicate. Every wait is a loop of MPI_Test that also looks for a
 * notice from another rank, for the group's stop request and for the deadline, so no call
 * blocks for ever. Built only when Meson found MPI (mpi_disabled.c otherwise); MPI's types
 * stay in this file. */
#include "dist/dist.h"

#include <mpi.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TAG_FAILURE 7001

typedef struct mpi_tp {
    clgrad__transport base;
    MPI_Comm comm; /* collectives */
    MPI_Comm ctl;  /* failure notices */
    MPI_Request notice_req;
    int notice_posted;
    clgrad__dist_failure notice;
    MPI_Request abandoned; /* a collective given up on (the group is broken then) */
    int has_abandoned, timed_out;
    /* Collectives run on this buffer, not the caller's: one given up on may still be written
     * by MPI later, so its buffer is then left allocated for good (stage set to NULL). */
    unsigned char *stage;
    size_t stage_cap;
} mpi_tp;

static int grow_stage(mpi_tp *t, size_t bytes, char *msg, size_t cap)
{
    if (bytes <= t->stage_cap) return 1;
    void *p = realloc(t->stage, bytes);
    if (!p) {
        snprintf(msg, cap, "out of host memory for a %zu-byte MPI buffer", bytes);
        return 0;
    }
    t->stage = p;
    t->stage_cap = bytes;
    return 1;
}

/* MPI is process-wide: whether this library initialised it, and how many groups it made
 * since, so that the last release finalises it. */
static pthread_mutex_t mpi_lock = PTHREAD_MUTEX_INITIALIZER;
static int mpi_ours, mpi_groups, mpi_unsafe;

/* Stages given up on, kept for the life of the process and reachable from here, so that a
 * leak checker sees them as held on purpose rather than lost. */
typedef struct kept_stage {
    struct kept_stage *next;
    void *mem;
} kept_stage;
static kept_stage *kept_stages;

/* After a collective on the stage was given up on: keep that memory away from everyone. */
static void drop_stage(mpi_tp *t)
{
    kept_stage *k = malloc(sizeof *k); /* without it the stage is still kept, just unlisted */
    if (k) {
        pthread_mutex_lock(&mpi_lock);
        k->mem = t->stage;
        k->next = kept_stages;
        kept_stages = k;
        pthread_mutex_unlock(&mpi_lock);
    }
    t->stage = NULL; /* deliberately not freed: MPI may still write into it */
    t->stage_cap = 0;
}

int clgrad__dist_mpi_built(void) { return 1; }

static void mpi_text(int rc, const char *call, char *msg, size_t cap)
{
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS) snprintf(s, sizeof s, "error %d", rc);
    snprintf(msg, cap, "%s failed: %s", call, s);
}

static void pause_a_little(int *spins)
{
    /* spin briefly (a collective on one machine takes microseconds), then sleep ever longer
     * up to 1 ms so that a long wait leaves the cores to the device */
    if (++*spins < 200) {
        sched_yield();
        return;
    }
    long us = *spins < 1000 ? 20 : *spins < 3000 ? 200 : 1000;
    struct timespec ts = {0, us * 1000L};
    nanosleep(&ts, NULL);
}

/* Waits for req; see the transport contract in dist.h. */
static clgrad_status wait_req(mpi_tp *t, MPI_Request *req, const char *op, const char *what, double deadline,
                              char *msg, size_t cap, int *remote)
{
    int spins = 0;
    *remote = 0;
    for (;;) {
        int done = 0;
        int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) {
            char m[MPI_MAX_ERROR_STRING + 64];
            mpi_text(rc, op, m, sizeof m);
            snprintf(msg, cap, "%s (%s)", m, what);
            return CLGRAD_ERR_IO;
        }
        if (done) return CLGRAD_OK;
        if (t->notice_posted) {
            int got = 0;
            MPI_Test(&t->notice_req, &got, MPI_STATUS_IGNORE);
            if (got) {
                t->notice_posted = 0;
                clgrad__dist_failure_text(&t->notice, t->base.size, msg, cap);
                *remote = 1;
                clgrad_status st = (clgrad_status)t->notice.status;
                t->abandoned = *req, t->has_abandoned = 1;
                return st < 0 ? st : CLGRAD_ERR_IO;
            }
        }
        if (atomic_load(t->base.stop)) {
            snprintf(msg, cap, "stopped waiting in %s (%s): this rank failed", op, what);
            t->abandoned = *req, t->has_abandoned = 1;
            return CLGRAD_ERR_IO;
        }
        if (clgrad__now() >= deadline) {
            snprintf(msg, cap,
                     "timed out in %s (%s): another rank stopped answering or is further behind than "
                     "timeout_seconds",
                     op, what);
            t->abandoned = *req, t->has_abandoned = 1, t->timed_out = 1;
            return CLGRAD_ERR_IO;
        }
        pause_a_little(&spins);
    }
}

/* One collective on n elements of es bytes (type dt) of buf, through the stage in chunks of
 * at most 1 GiB (MPI counts are ints): the sum over the ranks in place, or with bcast rank
 * 0's values. */
static clgrad_status staged(mpi_tp *t, void *buf, size_t n, size_t es, MPI_Datatype dt, int bcast, const char *what,
                            double deadline, char *msg, size_t cap, int *remote)
{
    const char *call = bcast ? "MPI_Ibcast" : "MPI_Iallreduce";
    size_t chunk = ((size_t)1 << 30) / es;
    *remote = 0;
    if (!grow_stage(t, (n < chunk ? n : chunk) * es, msg, cap)) return CLGRAD_ERR_HOST_MEMORY;
    for (size_t off = 0; off < n; off += chunk) {
        size_t count = n - off < chunk ? n - off : chunk;
        char *part = (char *)buf + off * es;
        if (!bcast || t->base.rank == 0) memcpy(t->stage, part, count * es);
        MPI_Request req;
        int rc = bcast ? MPI_Ibcast(t->stage, (int)count, dt, 0, t->comm, &req)
                       : MPI_Iallreduce(MPI_IN_PLACE, t->stage, (int)count, dt, MPI_SUM, t->comm, &req);
        if (rc != MPI_SUCCESS) {
            mpi_text(rc, call, msg, cap);
            return CLGRAD_ERR_IO;
        }
        clgrad_status st = wait_req(t, &req, call, what, deadline, msg, cap, remote);
        if (st != CLGRAD_OK) {
            drop_stage(t);
            return st;
        }
        memcpy(part, t->stage, count * es);
    }
    return CLGRAD_OK;
}

static clgrad_status mpi_allreduce(clgrad__transport *tp, void *buf, size_t n, int f64, const char *what,
                                   double deadline, char *msg, size_t cap, int *remote)
{
    return staged((mpi_tp *)tp, buf, n, f64 ? 8 : 4, f64 ? MPI_DOUBLE : MPI_FLOAT, 0, what, deadline, msg, cap, remote);
}

static clgrad_status mpi_broadcast(clgrad__transport *tp, void *buf, size_t bytes, const char *what, double deadline,
                                   char *msg, size_t cap, int *remote)
{
    return staged((mpi_tp *)tp, buf, bytes, 1, MPI_BYTE, 1, what, deadline, msg, cap, remote);
}

static void mpi_notify(clgrad__transport *tp, const clgrad__dist_failure *f)
{
    mpi_tp *t = (mpi_tp *)tp;
    for (int r = 0; r < t->base.size; r++) {
        if (r == t->base.rank) continue;
        MPI_Request req;
        if (MPI_Isend(f, (int)sizeof *f, MPI_BYTE, r, TAG_FAILURE, t->ctl, &req) != MPI_SUCCESS) continue;
        /* a small message leaves at once; do not wait long for a rank that is gone */
        double until = clgrad__now() + 2.0;
        int done = 0, spins = 0;
        while (!done && clgrad__now() < until && MPI_Test(&req, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS)
            if (!done) pause_a_little(&spins);
        if (!done) MPI_Request_free(&req);
    }
}

static void mpi_release(clgrad__transport *tp, int broken)
{
    mpi_tp *t = (mpi_tp *)tp;
    if (t->notice_posted) {
        MPI_Cancel(&t->notice_req);
        MPI_Wait(&t->notice_req, MPI_STATUS_IGNORE);
    }
    if (t->has_abandoned) {
        /* A collective given up on: when the other ranks had joined it, it finishes now that
         * they give up too (they poll theirs). One still unfinished after a timeout may get
         * data later from a rank that was only slow, which MPI_Finalize does not survive (it
         * crashed in Open MPI 4.1): the process then ends without MPI_Finalize. */
        double until = clgrad__now() + 2.0;
        int done = 0, spins = 0;
        while (!done && clgrad__now() < until && MPI_Test(&t->abandoned, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS)
            if (!done) pause_a_little(&spins);
        if (done) t->has_abandoned = 0;
    }
    int unsafe = t->has_abandoned && t->timed_out;
    free(t->stage);
    if (!broken) { /* a broken group may have collectives left unfinished: leave its communicators */
        MPI_Comm_free(&t->comm);
        MPI_Comm_free(&t->ctl);
    }
    free(t);
    pthread_mutex_lock(&mpi_lock);
    mpi_unsafe |= unsafe;
    int finalize = mpi_ours && --mpi_groups == 0 && !mpi_unsafe;
    pthread_mutex_unlock(&mpi_lock);
    if (finalize) {
        int fin = 0;
        MPI_Finalized(&fin);
        if (!fin) MPI_Finalize();
    }
}

static const clgrad__transport_vt mpi_vt = {"mpi", mpi_allreduce, mpi_broadcast, mpi_notify, mpi_release};

clgrad_status clgrad__dist_mpi_transport(const void *comm, clgrad__transport **out)
{
    *out = NULL;
    int inited = 0, finalized = 0, provided = MPI_THREAD_SINGLE, rc;
    char msg[MPI_MAX_ERROR_STRING + 64];
    MPI_Finalized(&finalized);
    if (finalized)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED,
                            "clgrad_dist_mpi_create: MPI was finalised already (it cannot be initialised twice in a "
                            "process)");
    pthread_mutex_lock(&mpi_lock);
    MPI_Initialized(&inited);
    if (!inited) {
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
        if (rc != MPI_SUCCESS) {
            pthread_mutex_unlock(&mpi_lock);
            mpi_text(rc, "MPI_Init_thread", msg, sizeof msg);
            return clgrad__fail(NULL, CLGRAD_ERR_IO, "clgrad_dist_mpi_create: %s", msg);
        }
        mpi_ours = 1;
    }
    pthread_mutex_unlock(&mpi_lock);
    MPI_Query_thread(&provided);
    mpi_tp *t = calloc(1, sizeof *t);
    if (!t) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "clgrad_dist_mpi_create: out of host memory");
    MPI_Comm base = comm ? *(const MPI_Comm *)comm : MPI_COMM_WORLD;
    const char *call = "MPI_Comm_dup";
    rc = MPI_Comm_dup(base, &t->comm);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_dup(base, &t->ctl);
    if (rc == MPI_SUCCESS) {
        MPI_Comm_set_errhandler(t->comm, MPI_ERRORS_RETURN);
        MPI_Comm_set_errhandler(t->ctl, MPI_ERRORS_RETURN);
        call = "MPI_Comm_rank";
        rc = MPI_Comm_rank(t->comm, &t->base.rank);
    }
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(t->comm, &t->base.size);
    MPI_Comm node = MPI_COMM_NULL;
    if (rc == MPI_SUCCESS) {
        call = "MPI_Comm_split_type";
        rc = MPI_Comm_split_type(t->comm, MPI_COMM_TYPE_SHARED, t->base.rank, MPI_INFO_NULL, &node);
    }
    if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(node, &t->base.local_rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(node, &t->base.local_size);
    if (node != MPI_COMM_NULL) MPI_Comm_free(&node);
    if (rc == MPI_SUCCESS) {
        call = "MPI_Irecv";
        rc = MPI_Irecv(&t->notice, (int)sizeof t->notice, MPI_BYTE, MPI_ANY_SOURCE, TAG_FAILURE, t->ctl, &t->notice_req);
    }
    if (rc != MPI_SUCCESS) {
        mpi_text(rc, call, msg, sizeof msg);
        free(t); /* the duplicates are left: MPI may be unusable now */
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "clgrad_dist_mpi_create: %s", msg);
    }
    t->notice_posted = 1;
    t->base.vt = &mpi_vt;
    t->base.threaded = provided >= MPI_THREAD_SERIALIZED;
    pthread_mutex_lock(&mpi_lock);
    if (mpi_ours) mpi_groups++;
    pthread_mutex_unlock(&mpi_lock);
    *out = &t->base;
    return CLGRAD_OK;
}
