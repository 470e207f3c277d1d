/* Data-parallel groups: options, the communication thread and its queue of collective jobs,
 * failures (breaking the group, telling the other ranks), creation and release, and the
 * getters. The simple collectives (check, allreduce of doubles, module broadcast) and the
 * device choice by local rank are in collectives.c; gradient buckets and the backward hook
 * in grads.c; the transports in mpi.c and local.c. */
#include "dist/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { JOB_BUCKET, JOB_ALLREDUCE, JOB_BROADCAST, JOB_NOTIFY };

struct clgrad__dist_job {
    int kind;
    clgrad__dist_job *next;
    void *buf;
    size_t n;
    int f64;
    const char *what;
    int bucket;
    clgrad__dist_failure failure; /* JOB_NOTIFY */
    int owned;                    /* freed by the thread that runs it (bucket jobs) */
    int done;
    clgrad_status st;
};

#define DEFAULT_TIMEOUT 300.0

clgrad_dist_options clgrad_dist_defaults(void)
{
    clgrad_dist_options o = {CLGRAD_DIST_BUCKET_BYTES, DEFAULT_TIMEOUT, 0};
    return o;
}

int clgrad_dist_mpi_available(void) { return clgrad__dist_mpi_built(); }

clgrad_status clgrad__dist_resolve_options(const clgrad_dist_options *o, clgrad_dist_options *r)
{
    *r = clgrad_dist_defaults();
    if (!o) return CLGRAD_OK;
    const uint32_t known = CLGRAD_DIST_SYNC_BATCH_NORM | CLGRAD_DIST_NO_OVERLAP;
    if (o->flags & ~known)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_dist options: unknown flags 0x%x",
                            (unsigned)(o->flags & ~known));
    if (o->timeout_seconds != o->timeout_seconds || o->timeout_seconds > 1e9)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_dist options: timeout_seconds %g is not a number of seconds",
                            o->timeout_seconds);
    if (o->bucket_bytes > ((size_t)1 << 40))
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_dist options: bucket_bytes %zu is too big (at most 1 TiB)",
                            o->bucket_bytes);
    if (o->bucket_bytes) r->bucket_bytes = o->bucket_bytes;
    if (o->timeout_seconds > 0) r->timeout_seconds = o->timeout_seconds;
    r->flags = o->flags;
    return CLGRAD_OK;
}

void clgrad__dist_failure_text(const clgrad__dist_failure *f, int size, char *msg, size_t cap)
{
    char cause[sizeof f->msg + 1];
    memcpy(cause, f->msg, sizeof f->msg);
    cause[sizeof f->msg] = '\0';
    snprintf(msg, cap, "rank %d of %d failed at step %lld: %s: %s", (int)f->rank, size, (long long)f->step,
             clgrad_status_name((clgrad_status)f->status), cause[0] ? cause : "(no message)");
}

/* --- failures ---------------------------------------------------------------------------------- */

int clgrad__dist_is_broken(clgrad_dist *g)
{
    pthread_mutex_lock(&g->mu);
    int b = g->broken;
    pthread_mutex_unlock(&g->mu);
    return b;
}

clgrad_status clgrad__dist_broken_error(clgrad_dist *g)
{
    pthread_mutex_lock(&g->mu);
    clgrad_status st = g->broken_status;
    char msg[sizeof g->broken_msg];
    memcpy(msg, g->broken_msg, sizeof msg);
    pthread_mutex_unlock(&g->mu);
    return clgrad__fail(g->ctx, st, "%s", msg);
}

int clgrad__dist_broken_by_other(clgrad_dist *g)
{
    pthread_mutex_lock(&g->mu);
    int b = g->broken && g->broken_remote;
    pthread_mutex_unlock(&g->mu);
    return b;
}

/* Marks g broken with (st, msg) unless it already is; 1 when this call broke it. */
static int set_broken(clgrad_dist *g, clgrad_status st, const char *msg, int remote)
{
    pthread_mutex_lock(&g->mu);
    int first = !g->broken;
    if (first) {
        g->broken = 1;
        g->broken_remote = remote;
        g->broken_status = st;
        snprintf(g->broken_msg, sizeof g->broken_msg, "%s", msg);
    }
    pthread_mutex_unlock(&g->mu);
    return first;
}

static void post(clgrad_dist *g, clgrad__dist_job *j, int urgent);
static void wait_job(clgrad_dist *g, clgrad__dist_job *j);

/* Tells the other ranks through the transport, on the thread that may call it. */
static void notify(clgrad_dist *g, const clgrad__dist_failure *f)
{
    clgrad__dist_job j = {.kind = JOB_NOTIFY, .failure = *f};
    post(g, &j, 1);
    wait_job(g, &j);
}

static void failure_record(clgrad_dist *g, clgrad_status st, const char *msg, clgrad__dist_failure *f)
{
    memset(f, 0, sizeof *f);
    f->status = st;
    f->rank = g->tp->rank;
    f->step = g->step;
    snprintf(f->msg, sizeof f->msg, "%s", msg ? msg : "");
}

clgrad_status clgrad__dist_fail_local(clgrad_dist *g, clgrad_status st, const char *msg)
{
    clgrad__dist_failure f;
    failure_record(g, st, msg, &f);
    char text[sizeof g->broken_msg];
    clgrad__dist_failure_text(&f, g->tp->size, text, sizeof text);
    if (set_broken(g, st, text, 0)) {
        atomic_store(&g->stop, 1); /* a wait in progress gives up, then the notice goes out */
        notify(g, &f);
    }
    return clgrad__dist_broken_error(g);
}

/* A transport call failed on the communication thread: break the group, and unless the
 * cause was another rank's notice, tell the others why this rank gives up. */
static void transport_failed(clgrad_dist *g, clgrad_status st, const char *msg, int remote)
{
    char text[sizeof g->broken_msg];
    if (remote) snprintf(text, sizeof text, "%s", msg);
    else snprintf(text, sizeof text, "rank %d of %d: %s", g->tp->rank, g->tp->size, msg);
    if (set_broken(g, st, text, remote) && !remote) {
        clgrad__dist_failure f;
        failure_record(g, st, msg, &f);
        g->tp->vt->notify(g->tp, &f);
    }
}

/* --- jobs --------------------------------------------------------------------------------------- */

static void run_job(clgrad_dist *g, clgrad__dist_job *j)
{
    char msg[CLGRAD__DIST_MSG];
    int remote = 0;
    clgrad_status st = CLGRAD_OK;
    msg[0] = '\0';
    if (j->kind == JOB_NOTIFY) {
        g->tp->vt->notify(g->tp, &j->failure);
        j->st = CLGRAD_OK;
        return;
    }
    if (j->kind == JOB_BUCKET) {
        /* waits for the reads even when broken, so that the buffers are free afterwards */
        clgrad__dist_bucket_job(g, j->bucket, msg, sizeof msg, &st, &remote);
    } else if (clgrad__dist_is_broken(g)) {
        st = CLGRAD_ERR_IO; /* the group's message stays the one that broke it */
        j->st = st;
        return;
    } else {
        double deadline = clgrad__now() + g->opts.timeout_seconds;
        if (j->kind == JOB_ALLREDUCE)
            st = g->tp->vt->allreduce(g->tp, j->buf, j->n, j->f64, j->what, deadline, msg, sizeof msg, &remote);
        else
            st = g->tp->vt->broadcast(g->tp, j->buf, j->n, j->what, deadline, msg, sizeof msg, &remote);
    }
    if (st != CLGRAD_OK && msg[0]) transport_failed(g, st, msg, remote);
    j->st = st;
}

static void *comm_thread(void *arg)
{
    clgrad_dist *g = arg;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (!g->head && !g->quit) pthread_cond_wait(&g->cv_work, &g->mu);
        if (!g->head) break;
        clgrad__dist_job *j = g->head;
        g->head = j->next;
        if (!g->head) g->tail = NULL;
        pthread_mutex_unlock(&g->mu);
        run_job(g, j);
        pthread_mutex_lock(&g->mu);
        int owned = j->owned;
        j->done = 1;
        g->outstanding--;
        if (owned) free(j);
        pthread_cond_broadcast(&g->cv_done);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* Queues j (urgent: first), or runs it here without a thread. */
static void post(clgrad_dist *g, clgrad__dist_job *j, int urgent)
{
    j->done = 0;
    j->next = NULL;
    if (!g->thread_started) {
        int owned = j->owned;
        run_job(g, j);
        j->done = 1;
        if (owned) free(j);
        return;
    }
    pthread_mutex_lock(&g->mu);
    if (urgent) {
        j->next = g->head;
        g->head = j;
        if (!g->tail) g->tail = j;
    } else {
        if (g->tail) g->tail->next = j;
        else g->head = j;
        g->tail = j;
    }
    g->outstanding++;
    pthread_cond_signal(&g->cv_work);
    pthread_mutex_unlock(&g->mu);
}

static void wait_job(clgrad_dist *g, clgrad__dist_job *j)
{
    if (!g->thread_started) return;
    pthread_mutex_lock(&g->mu);
    while (!j->done) pthread_cond_wait(&g->cv_done, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

void clgrad__dist_wait_idle(clgrad_dist *g)
{
    if (!g->thread_started) return;
    pthread_mutex_lock(&g->mu);
    while (g->outstanding > 0) pthread_cond_wait(&g->cv_done, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

void clgrad__dist_post_bucket(clgrad_dist *g, int bucket)
{
    clgrad__dist_job *j = calloc(1, sizeof *j);
    if (!j) { /* run it here rather than lose it: the ranks must stay in step */
        clgrad__dist_job local = {.kind = JOB_BUCKET, .bucket = bucket};
        clgrad__dist_wait_idle(g);
        char msg[CLGRAD__DIST_MSG];
        int remote = 0;
        clgrad_status st = CLGRAD_OK;
        msg[0] = '\0';
        clgrad__dist_bucket_job(g, local.bucket, msg, sizeof msg, &st, &remote);
        if (st != CLGRAD_OK && msg[0]) transport_failed(g, st, msg, remote);
        return;
    }
    j->kind = JOB_BUCKET;
    j->bucket = bucket;
    j->owned = 1;
    post(g, j, 0);
}

static clgrad_status collective(clgrad_dist *g, int kind, void *buf, size_t n, int f64, const char *what)
{
    if (clgrad__dist_is_broken(g)) return clgrad__dist_broken_error(g);
    clgrad__dist_job j = {.kind = kind, .buf = buf, .n = n, .f64 = f64, .what = what};
    post(g, &j, 0);
    wait_job(g, &j);
    if (j.st != CLGRAD_OK) return clgrad__dist_broken_error(g);
    return CLGRAD_OK;
}

clgrad_status clgrad__dist_allreduce(clgrad_dist *g, void *buf, size_t n, int f64, const char *what)
{
    return collective(g, JOB_ALLREDUCE, buf, n, f64, what);
}

clgrad_status clgrad__dist_broadcast(clgrad_dist *g, void *buf, size_t bytes, const char *what)
{
    return collective(g, JOB_BROADCAST, buf, bytes, 0, what);
}

/* --- creation and release ------------------------------------------------------------------------ */

clgrad_status clgrad__dist_new(clgrad__transport *tp, const clgrad_dist_options *o, clgrad_dist **out)
{
    *out = NULL;
    clgrad_dist *g = calloc(1, sizeof *g);
    if (!g) {
        tp->vt->release(tp, 0);
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "clgrad_dist: out of host memory");
    }
    g->tp = tp;
    clgrad__dist_resolve_options(o, &g->opts); /* checked by the caller */
    atomic_init(&g->stop, 0);
    tp->stop = &g->stop;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv_work, NULL);
    pthread_cond_init(&g->cv_done, NULL);
    if (tp->threaded) {
        if (pthread_create(&g->thread, NULL, comm_thread, g) != 0) {
            pthread_mutex_destroy(&g->mu);
            pthread_cond_destroy(&g->cv_work);
            pthread_cond_destroy(&g->cv_done);
            tp->vt->release(tp, 0);
            free(g);
            return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "clgrad_dist: cannot start the communication thread");
        }
        g->thread_started = 1;
    }
    *out = g;
    return CLGRAD_OK;
}

void clgrad_dist_release(clgrad_dist *g)
{
    if (!g || g->released) return;
    if (g->module && g->t_origin > 0 && !clgrad__dist_is_broken(g)) {
        /* released in the middle of a step: the other ranks wait for this one's buckets */
        clgrad__dist_fail_local(g, CLGRAD_ERR_INVALID_ARG, "the group was released in the middle of a step");
    }
    clgrad__dist_wait_idle(g);
    clgrad__dist_detach(g);
    if (g->on_release) g->on_release(g);
    if (g->thread_started) {
        pthread_mutex_lock(&g->mu);
        g->quit = 1;
        pthread_cond_signal(&g->cv_work);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->thread, NULL);
    }
    g->tp->vt->release(g->tp, g->broken);
    g->tp = NULL;
    g->released = 1;
    if (!g->runner_owned) clgrad__dist_free(g);
}

void clgrad__dist_free(clgrad_dist *g)
{
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv_work);
    pthread_cond_destroy(&g->cv_done);
    free(g->timing);
    free(g);
}

int clgrad_dist_rank(const clgrad_dist *g) { return g ? g->tp->rank : -1; }
int clgrad_dist_size(const clgrad_dist *g) { return g ? g->tp->size : 0; }
int clgrad_dist_local_rank(const clgrad_dist *g) { return g ? g->tp->local_rank : -1; }
int clgrad_dist_local_size(const clgrad_dist *g) { return g ? g->tp->local_size : 0; }
const char *clgrad_dist_backend(const clgrad_dist *g) { return g ? g->tp->vt->name : NULL; }

clgrad_status clgrad_dist_mpi_create(const void *comm, const clgrad_dist_options *o, clgrad_dist **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(NULL, out != NULL, "out is NULL");
    clgrad_dist_options r;
    CLGRAD_TRY(clgrad__dist_resolve_options(o, &r));
    clgrad__transport *tp = NULL;
    CLGRAD_TRY(clgrad__dist_mpi_transport(comm, &tp));
    return clgrad__dist_new(tp, &r, out);
}

/* --- timings ------------------------------------------------------------------------------------- */

clgrad_status clgrad_dist_get_stats(const clgrad_dist *g, clgrad_dist_stats *out)
{
    if (out) memset(out, 0, sizeof *out);
    CLGRAD_CHECK_ARG(NULL, g != NULL && out != NULL, "g and out must not be NULL");
    *out = g->stats;
    return CLGRAD_OK;
}

clgrad_status clgrad_dist_get_bucket_timing(const clgrad_dist *g, int i, clgrad_dist_bucket_timing *out)
{
    if (out) memset(out, 0, sizeof *out);
    CLGRAD_CHECK_ARG(NULL, g != NULL && out != NULL, "g and out must not be NULL");
    if (!g->have_timing || i < 0 || i >= g->n_buckets)
        return clgrad__fail(g->ctx, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_dist_get_bucket_timing: bucket %d of %d%s", i, g->n_buckets,
                            g->have_timing ? "" : " (no step has completed yet)");
    *out = g->timing[i];
    return CLGRAD_OK;
}
