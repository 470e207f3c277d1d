/* Gradient averaging for the module attached to a group: parameters in buckets (reverse
 * parameter order, about bucket_bytes each), the backward hook that queues a bucket's reads
 * as soon as its last gradient is final and hands the bucket to the communication thread,
 * clgrad_dist_sync (the rest of the buckets, the wait, the averages written back, the
 * timings), and the collective that synchronised batch norm layers sum their statistics
 * with. */
#include "autograd/autograd.h"
#include "dist/dist.h"
#include "nn/nn.h"
#include "ops/collective.h"
#include "tensor/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- lookup of a leaf among the parameters -------------------------------------------------- */

static int cmp_addr(const void *a, const void *b)
{
    const clgrad_tensor *x = *(clgrad_tensor *const *)a, *y = *(clgrad_tensor *const *)b;
    return x < y ? -1 : x > y;
}

static int find_param(const clgrad_dist *g, const clgrad_tensor *t)
{
    int lo = 0, hi = g->n_params - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (g->by_addr[mid] == t) return g->by_addr_index[mid];
        if ((const void *)g->by_addr[mid] < (const void *)t) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

static void hook_fail(clgrad_dist *g, clgrad_status st, const char *fmt, const char *name, const char *why)
{
    if (g->hook_status != CLGRAD_OK) return;
    g->hook_status = st;
    snprintf(g->hook_msg, sizeof g->hook_msg, fmt, name, why);
}

/* --- starting a bucket (the thread that runs backward) --------------------------------------- */

/* Queues the reads of bucket k's gradients into its host buffer and hands it to the
 * communication thread. A parameter without a gradient counts as zeros (its flag 0). */
static void launch(clgrad_dist *g, int k)
{
    clgrad__dist_bucket *b = &g->buckets[k];
    double now = clgrad__now();
    if (g->t_origin == 0) g->t_origin = now;
    b->t_started = now;
    for (int j = 0; j < b->n_params; j++) {
        clgrad__dist_param *p = &g->params[b->params[j]];
        float *dst = b->host + p->off;
        clgrad_tensor *gr = clgrad_tensor_grad(p->t);
        clgrad_pending *pend = NULL;
        if (gr && clgrad_tensor_read_start(gr, dst, p->n * sizeof(float), &pend) != CLGRAD_OK) {
            hook_fail(g, CLGRAD_ERR_OPENCL, "reading the gradient of '%s': %s", p->name, clgrad_last_error(NULL));
            gr = NULL;
        }
        if (!gr) memset(dst, 0, p->n * sizeof(float));
        b->host[b->n_floats + (size_t)j] = gr ? 1.0f : 0.0f;
        b->pending[j] = pend;
    }
    if (clgrad__queue_flush(g->ctx) != CLGRAD_OK)
        hook_fail(g, CLGRAD_ERR_OPENCL, "%s%s", "submitting the reads of a gradient bucket: ", clgrad_last_error(NULL));
    b->posted = 1;
    clgrad__dist_post_bucket(g, k);
}

/* Buckets go to the communication thread in index order, the same on every rank. */
static void post_ready(clgrad_dist *g)
{
    while (g->next_post < g->n_buckets && g->buckets[g->next_post].n_ready == g->buckets[g->next_post].n_params)
        launch(g, g->next_post++);
}

static void leaf_hook(void *user, clgrad_tensor *leaf)
{
    clgrad_dist *g = user;
    int i = find_param(g, leaf);
    if (i < 0 || (g->opts.flags & CLGRAD_DIST_NO_OVERLAP)) return;
    clgrad__dist_param *p = &g->params[i];
    if (p->ready || g->buckets[p->bucket].posted) {
        hook_fail(g, CLGRAD_ERR_INVALID_ARG,
                  "the gradient of '%s' became final twice before clgrad_dist_sync%s: run one backward per step",
                  p->name, "");
        return;
    }
    p->ready = 1;
    g->buckets[p->bucket].n_ready++;
    post_ready(g);
}

/* --- the communication thread's part --------------------------------------------------------- */

void clgrad__dist_bucket_job(clgrad_dist *g, int k, char *msg, size_t cap, clgrad_status *st, int *remote)
{
    clgrad__dist_bucket *b = &g->buckets[k];
    clgrad_status rs = CLGRAD_OK;
    char why[512];
    for (int j = 0; j < b->n_params; j++) {
        if (!b->pending[j]) continue;
        clgrad_status s = clgrad__pending_wait_quiet(b->pending[j], why, sizeof why);
        b->pending[j] = NULL;
        if (s != CLGRAD_OK && rs == CLGRAD_OK) {
            rs = s;
            snprintf(msg, cap, "reading the gradient of '%s' (bucket %d): %s", g->params[b->params[j]].name, k, why);
        }
    }
    b->t_ready = clgrad__now();
    *remote = 0;
    if (rs != CLGRAD_OK) { /* this rank's device failed: the caller breaks the group and says so */
        *st = rs;
        return;
    }
    if (clgrad__dist_is_broken(g)) {
        *st = CLGRAD_ERR_IO;
        return;
    }
    char what[64];
    snprintf(what, sizeof what, "gradient bucket %d", k);
    double deadline = clgrad__now() + g->opts.timeout_seconds;
    b->t_comm_start = clgrad__now();
    *st = g->tp->vt->allreduce(g->tp, b->host, b->n_floats + (size_t)b->n_params, 0, what, deadline, msg, cap, remote);
    b->t_comm_end = clgrad__now();
    if (*st == CLGRAD_OK) {
        float size = (float)g->tp->size;
        for (size_t i = 0; i < b->n_floats; i++) b->host[i] /= size;
    }
}

/* --- clgrad_dist_sync ------------------------------------------------------------------------- */

static clgrad_status write_back(clgrad_dist *g)
{
    clgrad_status st = CLGRAD_OK;
    for (int k = 0; st == CLGRAD_OK && k < g->n_buckets; k++) {
        clgrad__dist_bucket *b = &g->buckets[k];
        for (int j = 0; st == CLGRAD_OK && j < b->n_params; j++) {
            clgrad__dist_param *p = &g->params[b->params[j]];
            if (!(b->host[b->n_floats + (size_t)j] > 0.0f)) continue; /* no rank had a gradient */
            const float *src = b->host + p->off;
            clgrad_tensor *gr = clgrad_tensor_grad(p->t);
            if (gr) {
                st = clgrad_tensor_write(gr, src, p->n * sizeof(float));
            } else {
                int64_t shape[CLGRAD_MAX_DIMS];
                clgrad_tensor_shape(p->t, shape);
                clgrad_tensor *ng = NULL;
                st = clgrad_tensor_from_host(g->ctx, CLGRAD_DTYPE_F32, clgrad_tensor_ndim(p->t), shape, src, &ng);
                if (st == CLGRAD_OK) p->t->grad = ng; /* a leaf's gradient, as backward would have made it */
            }
        }
    }
    return st;
}

static void record_timings(clgrad_dist *g, double t_done)
{
    /* the end of the device's backward pass: when the last bucket was ready, or, without
     * overlap, when sync found the device done (the reads come after it) */
    double last_ready = g->t_origin, comm = 0, overlap = 0;
    for (int k = 0; k < g->n_buckets; k++)
        if (g->buckets[k].t_ready > last_ready) last_ready = g->buckets[k].t_ready;
    if (g->t_backward_done > 0) last_ready = g->t_backward_done;
    for (int k = 0; k < g->n_buckets; k++) {
        const clgrad__dist_bucket *b = &g->buckets[k];
        double c = b->t_comm_end - b->t_comm_start;
        double o = (b->t_comm_end < last_ready ? b->t_comm_end : last_ready) - b->t_comm_start;
        comm += c;
        overlap += o > 0 ? o : 0;
        clgrad_dist_bucket_timing *t = &g->timing[k];
        t->params = b->n_params;
        t->bytes = b->n_floats * sizeof(float);
        t->started = b->t_started - g->t_origin;
        t->ready = b->t_ready - g->t_origin;
        t->comm_start = b->t_comm_start - g->t_origin;
        t->comm_end = b->t_comm_end - g->t_origin;
        t->sync_called = g->t_sync - g->t_origin;
    }
    clgrad_dist_stats *s = &g->stats;
    s->comm_seconds = comm;
    s->overlap_seconds = overlap;
    s->sync_wait_seconds = t_done - g->t_sync;
    s->backward_seconds = last_ready - (g->t_backward_done > 0 ? g->t_sync : g->t_origin);
    s->total_comm_seconds += comm;
    s->total_overlap_seconds += overlap;
    s->total_sync_wait_seconds += s->sync_wait_seconds;
    s->steps++;
    g->have_timing = 1;
}

static void reset_step(clgrad_dist *g)
{
    for (int i = 0; i < g->n_params; i++) g->params[i].ready = 0;
    for (int k = 0; k < g->n_buckets; k++) {
        g->buckets[k].n_ready = 0;
        g->buckets[k].posted = 0;
    }
    g->next_post = 0;
    g->t_origin = 0;
    g->t_backward_done = 0;
    g->hook_status = CLGRAD_OK;
    g->hook_msg[0] = '\0';
}

clgrad_status clgrad_dist_sync(clgrad_dist *g, clgrad_status local)
{
    CLGRAD_CHECK_ARG(NULL, g != NULL, "g is NULL");
    if (!g->module)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_dist_sync: no module is attached (clgrad_dist_attach)");
    g->t_sync = clgrad__now();
    clgrad_status st = CLGRAD_OK;
    if (clgrad__dist_is_broken(g)) {
        st = clgrad__dist_broken_error(g);
    } else if (local != CLGRAD_OK) {
        char msg[CLGRAD__DIST_MSG];
        snprintf(msg, sizeof msg, "%s", clgrad_last_error(NULL));
        st = clgrad__dist_fail_local(g, local, msg);
    } else if (g->hook_status != CLGRAD_OK) {
        st = clgrad__dist_fail_local(g, g->hook_status, g->hook_msg);
    }
    if (st == CLGRAD_OK && (g->opts.flags & CLGRAD_DIST_NO_OVERLAP)) { /* backward done before any bucket */
        st = clgrad_context_finish(g->ctx);
        if (st != CLGRAD_OK) st = clgrad__dist_fail_local(g, st, clgrad_last_error(g->ctx));
        g->t_backward_done = clgrad__now();
    }
    if (st == CLGRAD_OK)
        while (g->next_post < g->n_buckets) launch(g, g->next_post++);
    clgrad__dist_wait_idle(g);
    if (st == CLGRAD_OK && clgrad__dist_is_broken(g)) st = clgrad__dist_broken_error(g);
    if (st == CLGRAD_OK && g->hook_status != CLGRAD_OK) st = clgrad__dist_fail_local(g, g->hook_status, g->hook_msg);
    if (st == CLGRAD_OK) {
        st = write_back(g);
        if (st != CLGRAD_OK) st = clgrad__dist_fail_local(g, st, clgrad_last_error(NULL));
    }
    if (st == CLGRAD_OK) record_timings(g, clgrad__now());
    reset_step(g);
    g->step++;
    return st;
}

/* --- synchronised batch norm ------------------------------------------------------------------- */

/* clgrad__collective_fn: x summed over the ranks, as a new tensor. */
static clgrad_status bn_allreduce(void *user, clgrad_tensor *x, clgrad_tensor **out)
{
    clgrad_dist *g = user;
    int64_t n = clgrad_tensor_numel(x), shape[CLGRAD_MAX_DIMS];
    float *h = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!h) return clgrad__fail(clgrad_tensor_context(x), CLGRAD_ERR_HOST_MEMORY, "synchronised batch norm: out of host memory");
    clgrad_status st = clgrad_tensor_read(x, h, (size_t)n * sizeof(float));
    if (st == CLGRAD_OK) st = clgrad__dist_allreduce(g, h, (size_t)n, 0, "synchronised batch norm statistics");
    clgrad_tensor_shape(x, shape);
    if (st == CLGRAD_OK)
        st = clgrad_tensor_from_host(clgrad_tensor_context(x), CLGRAD_DTYPE_F32, clgrad_tensor_ndim(x), shape, h, out);
    free(h);
    return st;
}

static int is_batch_norm(const clgrad_module *m)
{
    const char *k = clgrad_module_kind(m);
    return k && (strcmp(k, "batch_norm1d") == 0 || strcmp(k, "batch_norm2d") == 0);
}

/* Every batch norm layer at or below m, appended to g->bn (grown as needed). */
static clgrad_status collect_bn(clgrad_dist *g, clgrad_module *m, int *cap)
{
    if (is_batch_norm(m)) {
        if (g->n_bn == *cap) {
            int nc = *cap ? *cap * 2 : 8;
            void *p = realloc(g->bn, (size_t)nc * sizeof *g->bn);
            if (!p) return clgrad__fail(g->ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad_dist_attach: out of host memory");
            g->bn = p;
            *cap = nc;
        }
        g->bn[g->n_bn++] = m;
    }
    for (int i = 0; i < clgrad_module_child_count(m); i++) CLGRAD_TRY(collect_bn(g, clgrad_module_child(m, i, NULL), cap));
    return CLGRAD_OK;
}

/* --- attach and detach -------------------------------------------------------------------------- */

void clgrad__dist_detach(clgrad_dist *g)
{
    if (!g->module) return;
    void *user = NULL;
    if (clgrad__autograd_leaf_hook(g->ctx, &user) == leaf_hook && user == g)
        clgrad__autograd_set_leaf_hook(g->ctx, NULL, NULL);
    for (int i = 0; i < g->n_bn; i++) clgrad__batch_norm_set_sync(g->bn[i], NULL, NULL);
    for (int k = 0; k < g->n_buckets; k++) {
        clgrad__dist_bucket *b = &g->buckets[k];
        for (int j = 0; j < b->n_params; j++) /* never left pending after a wait, but be safe */
            if (b->pending[j]) clgrad__pending_wait_quiet(b->pending[j], NULL, 0);
        free(b->params);
        free(b->host);
        free(b->pending);
    }
    for (int i = 0; i < g->n_params; i++) free(g->params[i].name_copy);
    free(g->buckets);
    free(g->params);
    free(g->by_addr);
    free(g->by_addr_index);
    free(g->bn);
    free(g->timing);
    g->buckets = NULL;
    g->params = NULL;
    g->by_addr = NULL;
    g->by_addr_index = NULL;
    g->bn = NULL;
    g->timing = NULL;
    g->n_buckets = g->n_params = g->n_bn = 0;
    g->module = NULL;
    g->ctx = NULL;
}

/* Parameters (those that require grad) and buckets in reverse parameter order. */
static clgrad_status build_buckets(clgrad_dist *g, clgrad_module *m)
{
    int np = clgrad_module_param_count(m), n = 0;
    g->params = calloc((size_t)np + 1, sizeof *g->params);
    g->buckets = calloc((size_t)np + 1, sizeof *g->buckets);
    g->by_addr = calloc((size_t)np + 1, sizeof *g->by_addr);
    g->by_addr_index = calloc((size_t)np + 1, sizeof *g->by_addr_index);
    if (!g->params || !g->buckets || !g->by_addr || !g->by_addr_index) goto oom;
    for (int i = 0; i < np; i++) {
        const char *name = NULL;
        clgrad_tensor *t = clgrad_module_param(m, i, &name);
        if (!t || !clgrad_tensor_requires_grad(t) || clgrad_tensor_dtype(t) != CLGRAD_DTYPE_F32) continue;
        clgrad__dist_param *p = &g->params[n++];
        p->t = t;
        p->name_copy = malloc(strlen(name ? name : "?") + 1);
        if (!p->name_copy) goto oom;
        strcpy(p->name_copy, name ? name : "?");
        p->name = p->name_copy;
        p->n = (size_t)clgrad_tensor_numel(t);
    }
    g->n_params = n;
    size_t cap_floats = g->opts.bucket_bytes / sizeof(float);
    int nb = 0;
    for (int i = n - 1; i >= 0;) { /* one bucket: at least one parameter, then while it fits */
        clgrad__dist_bucket *b = &g->buckets[nb];
        int first = i;
        size_t floats = 0;
        while (i >= 0 && (i == first || floats + g->params[i].n <= cap_floats)) floats += g->params[i--].n;
        b->n_params = first - i;
        b->params = malloc((size_t)b->n_params * sizeof *b->params);
        b->pending = calloc((size_t)b->n_params, sizeof *b->pending);
        b->host = malloc((floats + (size_t)b->n_params) * sizeof(float));
        if (!b->params || !b->pending || !b->host) {
            g->n_buckets = nb + 1;
            goto oom;
        }
        size_t off = 0;
        for (int j = 0; j < b->n_params; j++) {
            clgrad__dist_param *p = &g->params[first - j];
            b->params[j] = first - j;
            p->bucket = nb;
            p->slot = j;
            p->off = off;
            off += p->n;
        }
        b->n_floats = floats;
        nb++;
    }
    g->n_buckets = nb;
    for (int i = 0; i < n; i++) g->by_addr[i] = g->params[i].t;
    qsort(g->by_addr, (size_t)n, sizeof *g->by_addr, cmp_addr);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (g->params[j].t == g->by_addr[i]) g->by_addr_index[i] = j;
    g->timing = calloc((size_t)nb + 1, sizeof *g->timing);
    if (!g->timing) goto oom;
    return CLGRAD_OK;
oom:
    return clgrad__fail(g->ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad_dist_attach: out of host memory for the buckets");
}

clgrad_status clgrad_dist_attach(clgrad_dist *g, clgrad_module *m)
{
    CLGRAD_CHECK_ARG(NULL, g != NULL, "g is NULL");
    CLGRAD_CHECK_ARG(NULL, m != NULL, "m is NULL");
    if (g->module)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_dist_attach: the group already has a module attached");
    if (clgrad__dist_is_broken(g)) return clgrad__dist_broken_error(g);
    clgrad_context *ctx = clgrad_module_context(m);
    if (clgrad__autograd_leaf_hook(ctx, NULL))
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "clgrad_dist_attach: the module's context already has a group attached (one per context)");
    CLGRAD_TRY(clgrad_dist_broadcast_module(g, m));
    g->module = m;
    g->ctx = ctx;
    int cap = 0;
    clgrad_status st = build_buckets(g, m);
    if (st == CLGRAD_OK && (g->opts.flags & CLGRAD_DIST_SYNC_BATCH_NORM)) st = collect_bn(g, m, &cap);
    for (int i = 0; st == CLGRAD_OK && i < g->n_bn; i++) st = clgrad__batch_norm_set_sync(g->bn[i], bn_allreduce, g);
    if (st == CLGRAD_OK) st = clgrad__autograd_set_leaf_hook(ctx, leaf_hook, g);
    if (st != CLGRAD_OK) {
        char msg[CLGRAD__DIST_MSG];
        snprintf(msg, sizeof msg, "%s", clgrad_last_error(NULL));
        clgrad__dist_detach(g);
        return clgrad__dist_fail_local(g, st, msg);
    }
    g->stats.buckets = g->n_buckets;
    size_t floats = 0;
    for (int k = 0; k < g->n_buckets; k++) floats += g->buckets[k].n_floats;
    g->stats.grad_bytes = floats * sizeof(float);
    reset_step(g);
    return CLGRAD_OK;
}
