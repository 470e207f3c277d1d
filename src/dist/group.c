/* Data-parallel groups: options, the communication thread and its queue of collective jobs,
 * failures (breaking the group, telling the other ranks), the simple collectives (check,
 * allreduce of doubles, module broadcast), device choice by local rank, and the getters.
 * Gradient buckets and the backward hook are in grads.c; the transports in mpi.c and
 * local.c. */
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

/* --- simple collectives -------------------------------------------------------------------------- */

clgrad_status clgrad_dist_check(clgrad_dist *g, clgrad_status local)
{
    CLGRAD_CHECK_ARG(NULL, g != NULL, "g is NULL");
    if (clgrad__dist_is_broken(g)) return clgrad__dist_broken_error(g);
    if (local != CLGRAD_OK) {
        char msg[CLGRAD__DIST_MSG];
        snprintf(msg, sizeof msg, "%s", clgrad_last_error(NULL));
        return clgrad__dist_fail_local(g, local, msg);
    }
    double one = 1.0;
    CLGRAD_TRY(clgrad__dist_allreduce(g, &one, 1, 1, "clgrad_dist_check"));
    if (one != (double)g->tp->size)
        return clgrad__dist_fail_local(g, CLGRAD_ERR_IO, "clgrad_dist_check: the ranks are out of step (a count of "
                                                         "ranks came back wrong)");
    return CLGRAD_OK;
}

clgrad_status clgrad_dist_allreduce_sum(clgrad_dist *g, double *values, size_t n)
{
    CLGRAD_CHECK_ARG(NULL, g != NULL, "g is NULL");
    CLGRAD_CHECK_ARG(g->ctx, values != NULL || n == 0, "values is NULL");
    if (n == 0) return CLGRAD_OK;
    return clgrad__dist_allreduce(g, values, n, 1, "clgrad_dist_allreduce_sum");
}

/* FNV-1a over bytes, to compare module structures between ranks. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001B3ull;
    return h;
}

typedef struct entry {
    clgrad_tensor *t;
    const char *name;
    size_t bytes;
} entry;

/* Every parameter and buffer of m, in order; *n entries. */
static clgrad_status module_entries(clgrad_module *m, entry **out, int *n)
{
    int np = clgrad_module_param_count(m), nb = clgrad_module_buffer_count(m);
    entry *e = calloc((size_t)(np + nb) + 1, sizeof *e);
    if (!e) return clgrad__fail(clgrad_module_context(m), CLGRAD_ERR_HOST_MEMORY, "clgrad_dist: out of host memory");
    for (int i = 0; i < np + nb; i++) {
        e[i].t = i < np ? clgrad_module_param(m, i, &e[i].name) : clgrad_module_buffer(m, i - np, &e[i].name);
        e[i].bytes = (size_t)clgrad_tensor_numel(e[i].t) * clgrad_dtype_size(clgrad_tensor_dtype(e[i].t));
    }
    *out = e;
    *n = np + nb;
    return CLGRAD_OK;
}

/* Structure hash: names, dtypes and shapes of the entries, and the counter names. */
static uint64_t structure_hash(clgrad_module *m, const entry *e, int n, char *first, size_t cap)
{
    uint64_t h = 0xCBF29CE484222325ull;
    first[0] = '\0';
    for (int i = 0; i < n; i++) {
        int64_t shape[CLGRAD_MAX_DIMS];
        int nd = clgrad_tensor_ndim(e[i].t);
        int dt = (int)clgrad_tensor_dtype(e[i].t);
        clgrad_tensor_shape(e[i].t, shape);
        h = fnv(h, e[i].name, strlen(e[i].name) + 1);
        h = fnv(h, &nd, sizeof nd);
        h = fnv(h, &dt, sizeof dt);
        h = fnv(h, shape, sizeof(int64_t) * (size_t)nd);
        if (i == 0 || strlen(first) + 64 < cap) {
            char sb[160];
            size_t len = strlen(first);
            snprintf(first + len, cap - len, "%s%s %s", i ? ", " : "", e[i].name,
                     clgrad__shape_str(sb, sizeof sb, nd, shape));
        }
    }
    for (int i = 0; i < clgrad_module_counter_count(m); i++) {
        const char *name = NULL;
        clgrad_module_counter(m, i, &name);
        if (name) h = fnv(h, name, strlen(name) + 1);
    }
    return h;
}

clgrad_status clgrad_dist_broadcast_module(clgrad_dist *g, clgrad_module *m)
{
    CLGRAD_CHECK_ARG(NULL, g != NULL, "g is NULL");
    CLGRAD_CHECK_ARG(NULL, m != NULL, "m is NULL");
    if (clgrad__dist_is_broken(g)) return clgrad__dist_broken_error(g);
    clgrad_context *ctx = clgrad_module_context(m);
    entry *e = NULL;
    int n = 0;
    clgrad_status st = module_entries(m, &e, &n);
    if (st != CLGRAD_OK) return clgrad__dist_fail_local(g, st, clgrad_last_error(NULL));
    int nc = clgrad_module_counter_count(m);
    char desc[600];
    /* 1. the structure: rank 0's hash and sizes against everyone's own */
    uint64_t head[3] = {structure_hash(m, e, n, desc, sizeof desc), (uint64_t)n, (uint64_t)nc};
    uint64_t mine[3] = {head[0], head[1], head[2]};
    st = clgrad__dist_broadcast(g, head, sizeof head, "the module's structure");
    if (st == CLGRAD_OK && memcmp(head, mine, sizeof head) != 0) {
        char msg[900];
        snprintf(msg, sizeof msg,
                 "clgrad_dist_broadcast_module: this rank's module differs from rank 0's (%d parameters and buffers, "
                 "%d counters here against %llu and %llu there; here: %s)",
                 n, nc, (unsigned long long)head[1], (unsigned long long)head[2], desc);
        free(e);
        return clgrad__dist_fail_local(g, CLGRAD_ERR_SHAPE, msg);
    }
    if (st != CLGRAD_OK) {
        free(e);
        return st;
    }
    /* 2. every tensor's bytes and the counters in one buffer */
    size_t total = 0;
    for (int i = 0; i < n; i++) total += e[i].bytes;
    size_t cbytes = (size_t)nc * sizeof(uint64_t);
    unsigned char *buf = malloc(total + cbytes + 1);
    if (!buf) {
        free(e);
        return clgrad__dist_fail_local(g, CLGRAD_ERR_HOST_MEMORY,
                                       "clgrad_dist_broadcast_module: out of host memory for the module's tensors");
    }
    if (g->tp->rank == 0) {
        size_t off = 0;
        for (int i = 0; st == CLGRAD_OK && i < n; off += e[i].bytes, i++)
            st = clgrad_tensor_read(e[i].t, buf + off, e[i].bytes);
        for (int i = 0; i < nc; i++) {
            uint64_t v = clgrad_module_counter(m, i, NULL);
            memcpy(buf + total + (size_t)i * sizeof v, &v, sizeof v);
        }
        if (st != CLGRAD_OK) {
            free(buf);
            free(e);
            return clgrad__dist_fail_local(g, st, clgrad_last_error(ctx));
        }
    }
    st = clgrad__dist_broadcast(g, buf, total + cbytes, "the module's parameters and buffers");
    if (st == CLGRAD_OK && g->tp->rank != 0) {
        size_t off = 0;
        for (int i = 0; st == CLGRAD_OK && i < n; off += e[i].bytes, i++)
            st = clgrad_tensor_write(e[i].t, buf + off, e[i].bytes);
        for (int i = 0; st == CLGRAD_OK && i < nc; i++) {
            uint64_t v;
            memcpy(&v, buf + total + (size_t)i * sizeof v, sizeof v);
            st = clgrad_module_set_counter(m, i, v);
        }
        if (st == CLGRAD_OK) st = clgrad_context_finish(ctx);
        if (st != CLGRAD_OK) st = clgrad__dist_fail_local(g, st, clgrad_last_error(ctx));
    }
    free(buf);
    free(e);
    return st;
}

/* --- devices ------------------------------------------------------------------------------------- */

clgrad_status clgrad_dist_device_selector(const clgrad_dist *g, const char *selector, char *buf, size_t cap)
{
    if (buf && cap) buf[0] = '\0';
    CLGRAD_CHECK_ARG(NULL, g != NULL, "g is NULL");
    CLGRAD_CHECK_ARG(NULL, buf != NULL && cap >= 16, "buf must not be NULL and cap at least 16");
    clgrad_device_info *list = NULL;
    int n = 0, best = -1;
    CLGRAD_TRY(clgrad_devices_list(&list, &n));
    int *cand = calloc((size_t)n + 1, sizeof *cand);
    clgrad_device_info *one = malloc(sizeof *one);
    if (!cand || !one) {
        free(cand);
        free(one);
        clgrad_devices_free(list);
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "clgrad_dist_device_selector: out of host memory");
    }
    int use_kind = !selector || !selector[0];
    clgrad_status st = CLGRAD_OK;
    if (use_kind) st = clgrad_devices_select(list, n, NULL, &best);
    int nc = 0;
    for (int i = 0; st == CLGRAD_OK && i < n; i++) {
        int idx = -1;
        if (!list[i].available || !list[i].compiler_available) continue;
        if (use_kind) {
            if (list[i].kind == list[best].kind) cand[nc++] = i;
        } else {
            *one = list[i];
            if (clgrad_devices_select(one, 1, selector, &idx) == CLGRAD_OK) cand[nc++] = i;
        }
    }
    if (st == CLGRAD_OK && nc == 0) /* let the selector's own message list the devices */
        st = clgrad_devices_select(list, n, selector, &best);
    if (st == CLGRAD_OK && nc == 0)
        st = clgrad__fail(NULL, CLGRAD_ERR_NO_DEVICE, "clgrad_dist_device_selector: no usable device matches '%s'",
                          selector ? selector : "");
    if (st == CLGRAD_OK) {
        /* rank order: the best of the candidates first, by the library's own ranking */
        for (int i = 0; i < n; i++) {
            int keep = 0;
            for (int k = 0; k < nc; k++) keep |= cand[k] == i;
            if (!keep) list[i].available = 0;
        }
        int pick = g->tp->local_rank % nc, chosen = -1;
        for (int k = 0; k <= pick; k++) {
            if (clgrad_devices_select(list, n, NULL, &chosen) != CLGRAD_OK) break;
            if (k < pick) list[chosen].available = 0;
        }
        if (chosen < 0) st = clgrad__fail(NULL, CLGRAD_ERR_NO_DEVICE, "clgrad_dist_device_selector: ranking failed");
        else snprintf(buf, cap, "%d:%d", list[chosen].platform_index, list[chosen].device_index);
    }
    free(cand);
    free(one);
    clgrad_devices_free(list);
    return st;
}

clgrad_status clgrad_dist_context_create(const clgrad_dist *g, const clgrad_context_desc *desc, clgrad_context **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(NULL, g != NULL && out != NULL, "g and out must not be NULL");
    clgrad_context_desc d = {0};
    if (desc) d = *desc;
    const char *sel = d.device ? d.device : clgrad__getenv("CLGRAD_DEVICE");
    char pick[32];
    CLGRAD_TRY(clgrad_dist_device_selector(g, sel, pick, sizeof pick));
    d.device = pick;
    return clgrad_context_create(&d, out);
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
