/* In-process groups: the ranks are threads of one process, each with its own context, and
 * a hub in shared host memory is their transport. A collective is a rendezvous: every rank
 * hands the hub its buffer, the last to arrive computes the result (sums in rank order, so
 * every rank gets the same bits), and each rank copies it out. A rank that fails or leaves
 * marks the hub, and every rank waiting in it gives up at once naming that rank; a rank that
 * stops answering makes the others give up at their deadline naming the ranks missing. */
#include "dist/dist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OP_ALLREDUCE_F32, OP_ALLREDUCE_F64, OP_BROADCAST };

typedef struct hub {
    int n;
    int refs;                 /* handles not yet released */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* the collective being filled: its kind and size as the first rank gave them */
    int op;
    size_t bytes;
    char what[96];
    int arrived, departed, draining;
    uint64_t gen;
    void **bufs;              /* each rank's buffer while it waits */
    unsigned char *result;
    size_t result_cap;
    /* failures: the first one breaks the hub */
    int failed;
    clgrad_status fail_status;
    char fail_msg[CLGRAD__DIST_MSG + 128];
    int *gone;                /* rank released its handle (1), or returned from its function */
} hub;

typedef struct local_tp {
    clgrad__transport base;
    hub *h;
} local_tp;

static void hub_unref(hub *h)
{
    pthread_mutex_lock(&h->mu);
    int last = --h->refs == 0;
    pthread_mutex_unlock(&h->mu);
    if (!last) return;
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h->bufs);
    free(h->result);
    free(h->gone);
    free(h);
}

static void hub_break(hub *h, clgrad_status st, const char *msg)
{
    if (h->failed) return;
    h->failed = 1;
    h->fail_status = st;
    snprintf(h->fail_msg, sizeof h->fail_msg, "%s", msg);
    pthread_cond_broadcast(&h->cv);
}

static const char *op_name(int op)
{
    return op == OP_BROADCAST ? "broadcast" : "allreduce";
}

/* The ranks that have not arrived in the collective being filled, as "1, 3". */
static void missing(const hub *h, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int r = 0; r < h->n && len + 16 < cap; r++)
        if (!h->bufs[r]) len += (size_t)snprintf(out + len, cap - len, "%s%d", len ? ", " : "", r);
}

static void sum_into(unsigned char *res, void *const *bufs, int n, size_t bytes, int f64)
{
    if (f64) {
        double *o = (double *)(void *)res;
        size_t m = bytes / sizeof(double);
        memcpy(o, bufs[0], bytes);
        for (int r = 1; r < n; r++) {
            const double *b = bufs[r];
            for (size_t i = 0; i < m; i++) o[i] += b[i];
        }
    } else {
        float *o = (float *)(void *)res;
        size_t m = bytes / sizeof(float);
        memcpy(o, bufs[0], bytes);
        for (int r = 1; r < n; r++) {
            const float *b = bufs[r];
            for (size_t i = 0; i < m; i++) o[i] += b[i];
        }
    }
}

static struct timespec abs_time(double deadline)
{
    /* deadline is in clgrad__now() seconds (monotonic); condition waits use CLOCK_MONOTONIC */
    struct timespec ts;
    double left = deadline - clgrad__now();
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (left < 0) left = 0;
    if (left > 1e6) left = 1e6;
    time_t sec = (time_t)left;
    long ns = (long)((left - (double)sec) * 1e9);
    ts.tv_sec += sec;
    ts.tv_nsec += ns;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static clgrad_status collective(local_tp *t, int op, void *buf, size_t bytes, const char *what, double deadline,
                                char *msg, size_t cap, int *remote)
{
    hub *h = t->h;
    int me = t->base.rank;
    clgrad_status st = CLGRAD_OK;
    *remote = 0;
    pthread_mutex_lock(&h->mu);
    /* wait for the previous collective to be emptied */
    while (h->draining && !h->failed && !atomic_load(t->base.stop)) {
        struct timespec ts = abs_time(deadline);
        if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) == ETIMEDOUT && clgrad__now() >= deadline) break;
    }
    if (h->failed) goto failed;
    if (atomic_load(t->base.stop)) goto stopped;
    if (h->draining) goto timeout;
    if (h->arrived == 0) {
        h->op = op;
        h->bytes = bytes;
        snprintf(h->what, sizeof h->what, "%s", what);
    } else if (h->op != op || h->bytes != bytes) {
        char m[600];
        snprintf(m, sizeof m,
                 "the ranks are out of step: rank %d entered %s of %zu bytes (%s) while another entered %s of %zu "
                 "bytes (%s)",
                 me, op_name(op), bytes, what, op_name(h->op), h->bytes, h->what);
        hub_break(h, CLGRAD_ERR_IO, m);
        goto failed;
    }
    h->bufs[me] = buf;
    uint64_t gen = h->gen;
    if (++h->arrived == h->n) {
        if (op == OP_BROADCAST) {
            if (bytes > h->result_cap) {
                void *p = realloc(h->result, bytes);
                if (!p) {
                    hub_break(h, CLGRAD_ERR_HOST_MEMORY, "out of host memory in an in-process collective");
                    goto failed;
                }
                h->result = p;
                h->result_cap = bytes;
            }
            memcpy(h->result, h->bufs[0], bytes);
        } else {
            if (bytes > h->result_cap) {
                void *p = realloc(h->result, bytes);
                if (!p) {
                    hub_break(h, CLGRAD_ERR_HOST_MEMORY, "out of host memory in an in-process collective");
                    goto failed;
                }
                h->result = p;
                h->result_cap = bytes;
            }
            sum_into(h->result, h->bufs, h->n, bytes, op == OP_ALLREDUCE_F64);
        }
        h->draining = 1;
        pthread_cond_broadcast(&h->cv);
    }
    while (!(h->draining && h->gen == gen) && !h->failed && !atomic_load(t->base.stop)) {
        /* a rank that left can never arrive */
        for (int r = 0; r < h->n && !h->failed; r++)
            if (h->gone[r] && !h->bufs[r]) {
                char m[300];
                snprintf(m, sizeof m, "rank %d of %d left the group while rank %d waited for it in %s (%s)", r, h->n,
                         me, op_name(op), what);
                hub_break(h, CLGRAD_ERR_IO, m);
            }
        if (h->failed) break;
        struct timespec ts = abs_time(deadline);
        if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) == ETIMEDOUT && clgrad__now() >= deadline) {
            if (h->draining && h->gen == gen) break;
            goto timeout;
        }
    }
    if (h->failed) goto failed;
    if (!(h->draining && h->gen == gen)) goto stopped;
    if (buf != h->result) memcpy(buf, h->result, bytes);
    h->bufs[me] = NULL;
    if (++h->departed == h->n) {
        h->arrived = h->departed = 0;
        h->draining = 0;
        h->gen++;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return CLGRAD_OK;

timeout: {
    char who[256], m[600];
    missing(h, who, sizeof who);
    snprintf(m, sizeof m,
             "rank %d of %d timed out in %s (%s) waiting for rank(s) %s: a rank stopped calling the group, or is "
             "further behind than timeout_seconds",
             me, h->n, op_name(op), what, who[0] ? who : "(every rank arrived; the previous collective never emptied)");
    hub_break(h, CLGRAD_ERR_IO, m);
    st = CLGRAD_ERR_IO;
    snprintf(msg, cap, "%s", h->fail_msg);
    *remote = 1; /* the hub carries it to every rank */
    pthread_mutex_unlock(&h->mu);
    return st;
}
stopped:
    st = CLGRAD_ERR_IO;
    snprintf(msg, cap, "rank %d stopped waiting in %s (%s): this rank failed", me, op_name(op), what);
    pthread_mutex_unlock(&h->mu);
    return st;
failed:
    st = h->fail_status;
    snprintf(msg, cap, "%s", h->fail_msg);
    *remote = 1;
    pthread_mutex_unlock(&h->mu);
    return st;
}

static clgrad_status local_allreduce(clgrad__transport *t, void *buf, size_t n, int f64, const char *what,
                                     double deadline, char *msg, size_t cap, int *remote)
{
    size_t es = f64 ? sizeof(double) : sizeof(float);
    return collective((local_tp *)t, f64 ? OP_ALLREDUCE_F64 : OP_ALLREDUCE_F32, buf, n * es, what, deadline, msg, cap,
                      remote);
}

static clgrad_status local_broadcast(clgrad__transport *t, void *buf, size_t bytes, const char *what, double deadline,
                                     char *msg, size_t cap, int *remote)
{
    return collective((local_tp *)t, OP_BROADCAST, buf, bytes, what, deadline, msg, cap, remote);
}

static void local_notify(clgrad__transport *t, const clgrad__dist_failure *f)
{
    hub *h = ((local_tp *)t)->h;
    char text[CLGRAD__DIST_MSG + 128];
    clgrad__dist_failure_text(f, h->n, text, sizeof text);
    pthread_mutex_lock(&h->mu);
    hub_break(h, (clgrad_status)f->status, text);
    pthread_mutex_unlock(&h->mu);
}

static void local_release(clgrad__transport *t, int broken)
{
    (void)broken;
    local_tp *l = (local_tp *)t;
    hub_unref(l->h);
    free(l);
}

static const clgrad__transport_vt local_vt = {"local", local_allreduce, local_broadcast, local_notify, local_release};

/* A rank's handle goes away: others waiting for it give up (see collective()). */
static void on_release(clgrad_dist *g)
{
    hub *h = g->owner;
    pthread_mutex_lock(&h->mu);
    h->gone[g->tp->rank] = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

clgrad_status clgrad_dist_local_create(int n, const clgrad_dist_options *o, clgrad_dist **ranks)
{
    if (ranks && n >= 1 && n <= 1024)
        for (int i = 0; i < n; i++) ranks[i] = NULL;
    CLGRAD_CHECK_ARG(NULL, ranks != NULL, "ranks is NULL");
    CLGRAD_CHECK_ARG(NULL, n >= 1 && n <= 1024, "n must be in [1, 1024]");
    clgrad_dist_options r;
    CLGRAD_TRY(clgrad__dist_resolve_options(o, &r));
    hub *h = calloc(1, sizeof *h);
    if (h) {
        h->bufs = calloc((size_t)n, sizeof *h->bufs);
        h->gone = calloc((size_t)n, sizeof *h->gone);
    }
    if (!h || !h->bufs || !h->gone) {
        if (h) {
            free(h->bufs);
            free(h->gone);
        }
        free(h);
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "clgrad_dist_local_create: out of host memory");
    }
    h->n = n;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    h->refs = 1; /* this function's, dropped at the end */
    clgrad_status st = CLGRAD_OK;
    for (int i = 0; i < n && st == CLGRAD_OK; i++) {
        local_tp *t = calloc(1, sizeof *t);
        if (!t) {
            st = clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "clgrad_dist_local_create: out of host memory");
            break;
        }
        t->base = (clgrad__transport){&local_vt, i, n, i, n, 1, NULL};
        t->h = h;
        pthread_mutex_lock(&h->mu);
        h->refs++;
        pthread_mutex_unlock(&h->mu);
        st = clgrad__dist_new(&t->base, &r, &ranks[i]);
        if (st == CLGRAD_OK) {
            ranks[i]->owner = h;
            ranks[i]->on_release = on_release;
        }
    }
    if (st != CLGRAD_OK)
        for (int i = 0; i < n; i++) {
            clgrad_dist_release(ranks[i]);
            ranks[i] = NULL;
        }
    hub_unref(h);
    return st;
}

/* --- clgrad_dist_local_run ------------------------------------------------------------------------ */

typedef struct rank_run {
    clgrad_dist *g;
    clgrad_dist_fn fn;
    void *user;
    clgrad_status st;
    int echo; /* its error only repeats another rank's failure */
    char msg[CLGRAD__DIST_MSG + 128];
} rank_run;

static void *rank_main(void *arg)
{
    rank_run *r = arg;
    r->st = r->fn(r->g, r->user);
    if (r->st != CLGRAD_OK) {
        snprintf(r->msg, sizeof r->msg, "%s", clgrad_last_error(NULL));
        r->echo = clgrad__dist_broken_by_other(r->g);
        /* tell ranks still waiting in a collective why this one is gone */
        if (!r->g->released && !clgrad__dist_is_broken(r->g)) clgrad__dist_fail_local(r->g, r->st, r->msg);
    }
    clgrad_dist_release(r->g); /* marks the rank gone, unless fn released it already */
    return NULL;
}

clgrad_status clgrad_dist_local_run(int n, const clgrad_dist_options *o, clgrad_dist_fn fn, void *user,
                                    clgrad_status *results)
{
    CLGRAD_CHECK_ARG(NULL, fn != NULL, "fn is NULL");
    CLGRAD_CHECK_ARG(NULL, n >= 1 && n <= 1024, "n must be in [1, 1024]");
    clgrad_dist **g = calloc((size_t)n, sizeof *g);
    rank_run *runs = calloc((size_t)n, sizeof *runs);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    int *started = calloc((size_t)n, sizeof *started);
    if (!g || !runs || !th || !started) {
        free(g), free(runs), free(th), free(started);
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "clgrad_dist_local_run: out of host memory");
    }
    clgrad_status st = clgrad_dist_local_create(n, o, g);
    if (st != CLGRAD_OK) {
        free(g), free(runs), free(th), free(started);
        return st;
    }
    for (int i = 0; i < n; i++) g[i]->runner_owned = 1;
    for (int i = 0; i < n; i++) {
        runs[i] = (rank_run){g[i], fn, user, CLGRAD_OK, 0, ""};
        started[i] = pthread_create(&th[i], NULL, rank_main, &runs[i]) == 0;
        if (!started[i]) { /* this rank never runs: the others learn it at their first collective */
            runs[i].st = CLGRAD_ERR_HOST_MEMORY;
            snprintf(runs[i].msg, sizeof runs[i].msg, "clgrad_dist_local_run: cannot start the thread of rank %d", i);
            clgrad__dist_fail_local(g[i], runs[i].st, runs[i].msg);
            clgrad_dist_release(g[i]);
        }
    }
    for (int i = 0; i < n; i++)
        if (started[i]) pthread_join(th[i], NULL);
    /* report the first rank that failed on its own, else the first that failed at all */
    int pick = -1;
    for (int i = 0; i < n; i++) {
        if (results) results[i] = runs[i].st;
        if (runs[i].st != CLGRAD_OK && (pick < 0 || (runs[pick].echo && !runs[i].echo))) pick = i;
    }
    char head[64];
    snprintf(head, sizeof head, "rank %d of %d", pick, n);
    if (pick < 0) st = CLGRAD_OK;
    else if (strncmp(runs[pick].msg, head, strlen(head)) == 0) /* the group's message names it already */
        st = clgrad__fail(NULL, runs[pick].st, "%s", runs[pick].msg);
    else st = clgrad__fail(NULL, runs[pick].st, "%s: %s", head, runs[pick].msg);
    for (int i = 0; i < n; i++) clgrad__dist_free(g[i]);
    free(g), free(runs), free(th), free(started);
    return st;
}
