/* The simple collectives of a data-parallel group (check, allreduce of doubles, the module
 * broadcast with its structure check) and the device choice by local rank. */
#include "dist/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

