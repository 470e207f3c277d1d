/* Checkpoints: a module's parameters, buffers and counters, an optimizer's state and the
 * training position, saved as one safetensors file through the file layer of
 * safetensors.c (atomic writes, full validation on reading). Loading stages everything in
 * host memory and checks every name, dtype and shape against the module and optimizer
 * before the first byte goes to the device, so a bad file changes nothing. Uses the public
 * tensor, nn and optim API only. File contents: see include/clgrad/checkpoint.h. */
#include "core/core.h"
#include "io.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_VERSION 1
#define OPTIM_PREFIX "optim."

typedef enum item_kind {
    ITEM_TENSOR,     /* module parameter or buffer */
    ITEM_COUNTER,    /* module host counter, stored as a 0-d I64 tensor */
    ITEM_OPT_STATE,  /* optimizer state tensor */
    ITEM_OPT_STEP,   /* optimizer per-parameter step count, 0-d I64 */
} item_kind;

/* One tensor of the checkpoint: where it comes from / goes to, and its host copy. */
typedef struct item {
    item_kind kind;
    char *name;          /* name in the file */
    clgrad_tensor *t;    /* ITEM_TENSOR / ITEM_OPT_STATE target (borrowed) */
    int index;           /* counter or parameter index */
    clgrad__st_dtype dtype;
    int ndim;
    int64_t shape[CLGRAD__ST_MAX_DIMS];
    size_t nbytes;
    void *data;          /* host staging, nbytes */
} item;

typedef struct item_list {
    item *v;
    int n, cap;
} item_list;

static void items_free(item_list *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].data);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* Records s on ctx with the message the calling thread holds now (the layers below record
 * on the thread only), so clgrad_last_error(ctx) tells the same story. */
static clgrad_status relay(const clgrad_context *ctx, clgrad_status s)
{
    if (s == CLGRAD_OK || !ctx) return s;
    char *msg = malloc(CLGRAD__ERRMSG_CAP);
    if (!msg) return s;
    snprintf(msg, CLGRAD__ERRMSG_CAP, "%s", clgrad_last_error(NULL));
    clgrad__fail(ctx, s, "%s", msg);
    free(msg);
    return s;
}

static clgrad_status to_st_dtype(const clgrad_context *ctx, const char *name, clgrad_dtype dt,
                                 clgrad__st_dtype *out)
{
    switch (dt) {
    case CLGRAD_DTYPE_F32: *out = CLGRAD__ST_F32; return CLGRAD_OK;
    case CLGRAD_DTYPE_F16: *out = CLGRAD__ST_F16; return CLGRAD_OK;
    case CLGRAD_DTYPE_I32: *out = CLGRAD__ST_I32; return CLGRAD_OK;
    }
    return clgrad__fail(ctx, CLGRAD_ERR_UNSUPPORTED, "checkpoint: tensor '%s' has dtype %d, which has no "
                        "safetensors equivalent here", name, (int)dt);
}

static clgrad_status add_item(const clgrad_context *ctx, item_list *l, item_kind kind, const char *prefix,
                              const char *name, clgrad_tensor *t, int index)
{
    if (!name)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "checkpoint: entry %d of the %s has no name", index,
                            kind == ITEM_TENSOR || kind == ITEM_COUNTER ? "module" : "optimizer");
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 32;
        item *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "checkpoint: out of host memory");
        l->v = v;
        l->cap = cap;
    }
    item *it = &l->v[l->n];
    memset(it, 0, sizeof *it);
    size_t len = strlen(prefix) + strlen(name) + 1;
    it->name = malloc(len);
    if (!it->name) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "checkpoint: out of host memory");
    snprintf(it->name, len, "%s%s", prefix, name);
    l->n++;
    it->kind = kind;
    it->t = t;
    it->index = index;
    if (kind == ITEM_TENSOR || kind == ITEM_OPT_STATE) {
        if (!t) return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "checkpoint: tensor '%s' is NULL", it->name);
        CLGRAD_TRY(to_st_dtype(ctx, it->name, clgrad_tensor_dtype(t), &it->dtype));
        it->ndim = clgrad_tensor_ndim(t);
        clgrad_tensor_shape(t, it->shape);
        it->nbytes = (size_t)clgrad_tensor_numel(t) * clgrad__st_dtype_size(it->dtype);
    } else {
        it->dtype = CLGRAD__ST_I64;
        it->ndim = 0;
        it->nbytes = sizeof(int64_t);
    }
    return CLGRAD_OK;
}

/* Everything a checkpoint of (module, optim) holds, in a fixed order. */
static clgrad_status collect(const clgrad_context *ctx, const clgrad_module *m, const clgrad_optim *opt,
                             item_list *l)
{
    const char *name;
    for (int i = 0; i < clgrad_module_param_count(m); i++) {
        clgrad_tensor *t = clgrad_module_param(m, i, &name);
        CLGRAD_TRY(add_item(ctx, l, ITEM_TENSOR, "", name, t, i));
    }
    for (int i = 0; i < clgrad_module_buffer_count(m); i++) {
        clgrad_tensor *t = clgrad_module_buffer(m, i, &name);
        CLGRAD_TRY(add_item(ctx, l, ITEM_TENSOR, "", name, t, i));
    }
    for (int i = 0; i < clgrad_module_counter_count(m); i++) {
        (void)clgrad_module_counter(m, i, &name);
        CLGRAD_TRY(add_item(ctx, l, ITEM_COUNTER, "", name, NULL, i));
    }
    if (!opt) return CLGRAD_OK;
    /* The optimizer's state is named after its parameters: they must be this module's. */
    for (int i = 0; i < clgrad_optim_param_count(opt); i++) {
        const char *pname = NULL;
        clgrad_tensor *p = clgrad_optim_param(opt, i, &pname);
        int found = 0;
        for (int k = 0; k < clgrad_module_param_count(m) && !found; k++) found = clgrad_module_param(m, k, NULL) == p;
        if (!found)
            return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                                "checkpoint: the optimizer's parameter \"%s\" is not a parameter of the module",
                                pname ? pname : "?");
    }
    for (int i = 0; i < clgrad_optim_state_count(opt); i++) {
        clgrad_tensor *t = clgrad_optim_state(opt, i, &name);
        CLGRAD_TRY(add_item(ctx, l, ITEM_OPT_STATE, OPTIM_PREFIX, name, t, i));
    }
    for (int i = 0; i < clgrad_optim_param_count(opt); i++) {
        (void)clgrad_optim_step_count(opt, i, &name);
        CLGRAD_TRY(add_item(ctx, l, ITEM_OPT_STEP, OPTIM_PREFIX, name, NULL, i));
    }
    return CLGRAD_OK;
}

static const char *optim_kind_name(clgrad_optim_kind k)
{
    switch (k) {
    case CLGRAD_OPTIM_SGD: return "sgd";
    case CLGRAD_OPTIM_ADAM: return "adam";
    case CLGRAD_OPTIM_ADAMW: return "adamw";
    }
    return "unknown";
}

static int reserved_key(const char *k)
{
    return strcmp(k, "format") == 0 || strncmp(k, "clgrad.", 7) == 0 || strncmp(k, OPTIM_PREFIX, 6) == 0;
}

static int bounded(const char *s, size_t cap) { return memchr(s, '\0', cap) != NULL; }

/* ---------------------------------------------------------------------------------------
 * Metadata helpers
 * ------------------------------------------------------------------------------------- */

clgrad_status clgrad_checkpoint_meta_set(clgrad_checkpoint_meta *meta, const char *key, const char *value)
{
    CLGRAD_CHECK_ARG(NULL, meta && key && value, "meta, key and value must not be NULL");
    CLGRAD_CHECK_ARG(NULL, meta->n_extra >= 0 && meta->n_extra <= CLGRAD_CHECKPOINT_MAX_EXTRA,
                     "meta->n_extra out of range");
    if (!key[0] || reserved_key(key))
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "checkpoint metadata: the key '%s' is %s", key,
                            key[0] ? "reserved for the library" : "empty");
    if (strlen(key) >= CLGRAD_CHECKPOINT_KEY_MAX || strlen(value) >= CLGRAD_CHECKPOINT_VALUE_MAX)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "checkpoint metadata: key '%.64s' or its value is too long (at most %d and %d "
                            "bytes)", key, CLGRAD_CHECKPOINT_KEY_MAX - 1, CLGRAD_CHECKPOINT_VALUE_MAX - 1);
    int i = 0;
    while (i < meta->n_extra && strcmp(meta->extra[i].key, key) != 0) i++;
    if (i == CLGRAD_CHECKPOINT_MAX_EXTRA)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "checkpoint metadata: no room for '%s' (at most %d "
                            "pairs)", key, CLGRAD_CHECKPOINT_MAX_EXTRA);
    snprintf(meta->extra[i].key, sizeof meta->extra[i].key, "%s", key);
    snprintf(meta->extra[i].value, sizeof meta->extra[i].value, "%s", value);
    if (i == meta->n_extra) meta->n_extra++;
    return CLGRAD_OK;
}

const char *clgrad_checkpoint_meta_get(const clgrad_checkpoint_meta *meta, const char *key)
{
    if (!meta || !key || meta->n_extra < 0) return NULL;
    for (int i = 0; i < meta->n_extra && i < CLGRAD_CHECKPOINT_MAX_EXTRA; i++)
        if (bounded(meta->extra[i].key, sizeof meta->extra[i].key) && strcmp(meta->extra[i].key, key) == 0)
            return bounded(meta->extra[i].value, sizeof meta->extra[i].value) ? meta->extra[i].value : NULL;
    return NULL;
}

static clgrad_status check_meta(const clgrad_context *ctx, const clgrad_checkpoint_meta *m)
{
    if (m->n_rng < 0 || m->n_rng > CLGRAD_CHECKPOINT_MAX_RNG || m->n_extra < 0 ||
        m->n_extra > CLGRAD_CHECKPOINT_MAX_EXTRA)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "checkpoint: meta->n_rng (%d) or meta->n_extra (%d) is out of range", m->n_rng,
                            m->n_extra);
    for (int i = 0; i < m->n_extra; i++) {
        const clgrad_checkpoint_kv *kv = &m->extra[i];
        if (!bounded(kv->key, sizeof kv->key) || !bounded(kv->value, sizeof kv->value))
            return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "checkpoint: meta->extra[%d] is not NUL-terminated",
                                i);
        if (!kv->key[0] || reserved_key(kv->key))
            return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "checkpoint: meta->extra[%d] key '%s' is %s", i,
                                kv->key, kv->key[0] ? "reserved for the library" : "empty");
        for (int j = 0; j < i; j++)
            if (strcmp(m->extra[j].key, kv->key) == 0)
                return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "checkpoint: meta key '%s' appears twice",
                                    kv->key);
    }
    return CLGRAD_OK;
}

/* Reads the library's and the caller's metadata from f into *out (a fresh struct). */
static clgrad_status parse_meta(const clgrad__st_file *f, clgrad_checkpoint_meta *out)
{
    const char *path = clgrad__st_name(f);
    memset(out, 0, sizeof *out);
    if (clgrad__st_meta_get(f, "clgrad.step")) CLGRAD_TRY(clgrad__st_meta_get_i64(f, "clgrad.step", &out->step));
    if (clgrad__st_meta_get(f, "clgrad.epoch")) CLGRAD_TRY(clgrad__st_meta_get_i64(f, "clgrad.epoch", &out->epoch));
    if (clgrad__st_meta_get(f, "clgrad.batch")) CLGRAD_TRY(clgrad__st_meta_get_i64(f, "clgrad.batch", &out->batch));
    if (clgrad__st_meta_get(f, "clgrad.seed")) CLGRAD_TRY(clgrad__st_meta_get_u64(f, "clgrad.seed", &out->seed));
    const char *rng = clgrad__st_meta_get(f, "clgrad.rng");
    for (const char *p = rng; p && *p;) {
        char *end;
        if (out->n_rng == CLGRAD_CHECKPOINT_MAX_RNG || *p < '0' || *p > '9')
            return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: metadata clgrad.rng is malformed: '%.80s'", path, rng);
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || (*end != ',' && *end != '\0'))
            return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: metadata clgrad.rng is malformed: '%.80s'", path, rng);
        out->rng[out->n_rng++] = (uint64_t)v;
        p = *end ? end + 1 : end;
    }
    for (size_t i = 0; i < clgrad__st_meta_count(f); i++) {
        const clgrad__st_meta *kv = clgrad__st_meta_at(f, i);
        if (reserved_key(kv->key)) continue;
        if (out->n_extra == CLGRAD_CHECKPOINT_MAX_EXTRA || strlen(kv->key) >= CLGRAD_CHECKPOINT_KEY_MAX ||
            strlen(kv->value) >= CLGRAD_CHECKPOINT_VALUE_MAX)
            return clgrad__fail(NULL, CLGRAD_ERR_IO,
                                "%s: the metadata holds more, or longer, free-form pairs than a "
                                "checkpoint may (%d pairs, keys < %d and values < %d bytes): '%.64s'",
                                path, CLGRAD_CHECKPOINT_MAX_EXTRA, CLGRAD_CHECKPOINT_KEY_MAX,
                                CLGRAD_CHECKPOINT_VALUE_MAX, kv->key);
        clgrad_checkpoint_kv *d = &out->extra[out->n_extra++];
        snprintf(d->key, sizeof d->key, "%s", kv->key);
        snprintf(d->value, sizeof d->value, "%s", kv->value);
    }
    return CLGRAD_OK;
}

static clgrad_status check_format(const clgrad__st_file *f)
{
    const char *v = clgrad__st_meta_get(f, "clgrad.format_version");
    if (!v) return CLGRAD_OK; /* a plain safetensors file (e.g. written by PyTorch) */
    int64_t n = 0;
    CLGRAD_TRY(clgrad__st_meta_get_i64(f, "clgrad.format_version", &n));
    if (n > FORMAT_VERSION)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED,
                            "%s: checkpoint format version %" PRId64 " is newer than this library reads (%d)",
                            clgrad__st_name(f), n, FORMAT_VERSION);
    if (n < 1)
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: invalid checkpoint format version %" PRId64,
                            clgrad__st_name(f), n);
    return CLGRAD_OK;
}

/* ---------------------------------------------------------------------------------------
 * Saving
 * ------------------------------------------------------------------------------------- */

enum { META_FIXED = 16 }; /* the library's own keys, at most */

/* Device -> host: every item's bytes into it->data (allocated here) and its entry. */
static clgrad_status read_items(const clgrad_context *ctx, const char *path, const clgrad_module *module,
                                const clgrad_optim *optim, item_list *l, clgrad__st_entry *entries)
{
    for (int i = 0; i < l->n; i++) {
        item *it = &l->v[i];
        it->data = malloc(it->nbytes ? it->nbytes : 1);
        if (!it->data)
            return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory for '%s' (%zu bytes)", path,
                                it->name, it->nbytes);
        int64_t v = 0;
        switch (it->kind) {
        case ITEM_TENSOR:
        case ITEM_OPT_STATE: CLGRAD_TRY(clgrad_tensor_read(it->t, it->data, it->nbytes)); break;
        case ITEM_COUNTER: v = (int64_t)clgrad_module_counter(module, it->index, NULL); break;
        case ITEM_OPT_STEP: v = clgrad_optim_step_count(optim, it->index, NULL); break;
        }
        if (it->kind == ITEM_COUNTER || it->kind == ITEM_OPT_STEP) memcpy(it->data, &v, sizeof v);
        entries[i] = (clgrad__st_entry){.name = it->name, .dtype = it->dtype, .ndim = it->ndim,
                                        .data = it->data, .nbytes = it->nbytes};
        memcpy(entries[i].shape, it->shape, sizeof it->shape);
    }
    return CLGRAD_OK;
}

/* Metadata: the library's keys (values formatted into num, META_FIXED of them at most),
 * then the caller's. Returns the number of pairs in kv. */
static size_t put_meta(const clgrad_checkpoint_meta *meta, const clgrad_optim *optim, clgrad__st_meta *kv,
                       char (*num)[512])
{
    size_t nk = 0, nn = 0;
#define PUT(k, ...)                                                                                \
    do {                                                                                           \
        clgrad__snprintf_c(num[nn], sizeof num[nn], __VA_ARGS__); /* "0.001" in any locale */     \
        kv[nk].key = (k);                                                                          \
        kv[nk++].value = num[nn++];                                                                \
    } while (0)
    PUT("format", "clgrad");
    PUT("clgrad.format_version", "%d", FORMAT_VERSION);
    PUT("clgrad.library_version", "%s", clgrad_version_string());
    PUT("clgrad.step", "%" PRId64, meta->step);
    PUT("clgrad.epoch", "%" PRId64, meta->epoch);
    PUT("clgrad.batch", "%" PRId64, meta->batch);
    PUT("clgrad.seed", "%" PRIu64, meta->seed);
    num[nn][0] = '\0';
    for (int i = 0; i < meta->n_rng; i++) {
        size_t len = strlen(num[nn]);
        snprintf(num[nn] + len, sizeof num[nn] - len, "%s%" PRIu64, i ? "," : "", meta->rng[i]);
    }
    kv[nk].key = "clgrad.rng";
    kv[nk++].value = num[nn++];
    if (optim) {
        clgrad_optim_options o = clgrad_optim_get_options(optim);
        PUT("optim.kind", "%s", optim_kind_name(o.kind));
        PUT("optim.lr", "%.9g", (double)o.lr);
        PUT("optim.weight_decay", "%.9g", (double)o.weight_decay);
        if (o.kind == CLGRAD_OPTIM_SGD) {
            PUT("optim.momentum", "%.9g", (double)o.momentum);
            PUT("optim.dampening", "%.9g", (double)o.dampening);
            PUT("optim.nesterov", "%d", o.nesterov);
        } else {
            PUT("optim.beta1", "%.9g", (double)o.beta1);
            PUT("optim.beta2", "%.9g", (double)o.beta2);
            PUT("optim.eps", "%.9g", (double)o.eps);
        }
    }
#undef PUT
    for (int i = 0; i < meta->n_extra; i++) {
        kv[nk].key = meta->extra[i].key;
        kv[nk++].value = meta->extra[i].value;
    }
    return nk;
}

clgrad_status clgrad_checkpoint_save(const char *path, const clgrad_module *module, const clgrad_optim *optim,
                                     const clgrad_checkpoint_meta *meta)
{
    const clgrad_context *ctx = module ? clgrad_module_context(module) : NULL;
    CLGRAD_CHECK_ARG(ctx, path && path[0], "path is NULL or empty");
    CLGRAD_CHECK_ARG(ctx, module != NULL, "module is NULL");
    static const clgrad_checkpoint_meta zero_meta;
    if (!meta) meta = &zero_meta;
    CLGRAD_TRY(check_meta(ctx, meta));

    item_list l = {0};
    clgrad__st_entry *entries = NULL;
    clgrad__st_meta *kv = NULL;
    char (*num)[512] = NULL; /* formatted metadata values */
    clgrad_status s = collect(ctx, module, optim, &l);
    if (s != CLGRAD_OK) goto done;
    entries = calloc((size_t)l.n + 1, sizeof *entries);
    kv = calloc(META_FIXED + (size_t)meta->n_extra, sizeof *kv);
    num = calloc(META_FIXED, sizeof *num);
    if (!entries || !kv || !num) {
        s = clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", path);
        goto done;
    }
    s = read_items(ctx, path, module, optim, &l, entries);
    if (s != CLGRAD_OK) goto done;
    size_t nk = put_meta(meta, optim, kv, num);
    s = relay(ctx, clgrad__st_save(path, entries, (size_t)l.n, kv, nk));
done:
    free(num);
    free(kv);
    free(entries);
    items_free(&l);
    return s;
}

/* ---------------------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------------------- */

static int is_optim_name(const char *name) { return strncmp(name, OPTIM_PREFIX, strlen(OPTIM_PREFIX)) == 0; }

/* Checks one item against the file and copies its bytes to host staging. */
static clgrad_status stage(const clgrad_context *ctx, const clgrad__st_file *f, item *it)
{
    const char *path = clgrad__st_name(f);
    const clgrad__st_entry *e = clgrad__st_find(f, it->name);
    if (!e)
        return clgrad__fail(ctx, CLGRAD_ERR_IO,
                            "%s: no tensor '%s' in the checkpoint (it holds %zu tensors): not a checkpoint "
                            "of this %s?", path, it->name, clgrad__st_count(f),
                            it->kind == ITEM_OPT_STATE || it->kind == ITEM_OPT_STEP ? "optimizer" : "network");
    if (e->dtype != it->dtype)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG, "%s: tensor '%s' is %s in the checkpoint but %s here",
                            path, it->name, clgrad__st_dtype_name(e->dtype), clgrad__st_dtype_name(it->dtype));
    int same = e->ndim == it->ndim;
    for (int d = 0; same && d < e->ndim; d++) same = e->shape[d] == it->shape[d];
    if (!same) {
        char a[160], b[160];
        clgrad__shape_str(a, sizeof a, e->ndim, e->shape);
        clgrad__shape_str(b, sizeof b, it->ndim, it->shape);
        return clgrad__fail(ctx, CLGRAD_ERR_SHAPE, "%s: tensor '%s' has shape %s in the checkpoint but %s here",
                            path, it->name, a, b);
    }
    it->data = malloc(it->nbytes ? it->nbytes : 1);
    if (!it->data)
        return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory for '%s' (%zu bytes)", path,
                            it->name, it->nbytes);
    CLGRAD_TRY(relay(ctx, clgrad__st_read(f, it->name, it->dtype, it->ndim, it->shape, it->data, it->nbytes)));
    if (it->kind == ITEM_COUNTER || it->kind == ITEM_OPT_STEP) {
        /* Checked here, with everything else, so that the commit below cannot fail on it. A
         * step count must leave room for one more step. */
        int64_t v;
        memcpy(&v, it->data, sizeof v);
        if (v < 0 || (it->kind == ITEM_OPT_STEP && v == INT64_MAX))
            return clgrad__fail(ctx, CLGRAD_ERR_IO, "%s: %s '%s' is %" PRId64 ", outside [0, %" PRId64 ")", path,
                                it->kind == ITEM_OPT_STEP ? "the step count" : "the counter", it->name, v,
                                INT64_MAX);
    }
    return CLGRAD_OK;
}

/* Every file entry in the group (optimizer or not) must be one of the items. */
static clgrad_status check_unexpected(const clgrad_context *ctx, const clgrad__st_file *f, const item_list *l,
                                      int optim_group)
{
    int expected = 0;
    for (int i = 0; i < l->n; i++)
        expected += (l->v[i].kind == ITEM_OPT_STATE || l->v[i].kind == ITEM_OPT_STEP) == optim_group;
    int present = 0;
    for (size_t i = 0; i < clgrad__st_count(f); i++)
        present += is_optim_name(clgrad__st_entry_at(f, i)->name) == optim_group;
    if (present == expected) return CLGRAD_OK; /* names are unique and all items were found */
    for (size_t i = 0; i < clgrad__st_count(f); i++) {
        const char *name = clgrad__st_entry_at(f, i)->name;
        if (is_optim_name(name) != optim_group) continue;
        int found = 0;
        for (int j = 0; j < l->n && !found; j++) found = strcmp(l->v[j].name, name) == 0;
        if (!found)
            return clgrad__fail(ctx, CLGRAD_ERR_IO,
                                "%s: unexpected tensor '%s': the %s has no such entry (a checkpoint of "
                                "another %s?)", clgrad__st_name(f), name, optim_group ? "optimizer" : "module",
                                optim_group ? "optimizer" : "network");
    }
    return CLGRAD_OK;
}

/* The hyper-parameters a checkpoint may hold, with the range each must lie in: a value out
 * of range means a damaged or hand-edited file, refused before anything changes. */
static const struct hparam {
    const char *key;
    double lo, hi;  /* lo <= v <= hi, or lo <= v < hi when open_hi */
    int open_hi;
} hparams[] = {
    {"optim.lr", 0.0, HUGE_VAL, 0},          {"optim.weight_decay", 0.0, HUGE_VAL, 0},
    {"optim.momentum", 0.0, HUGE_VAL, 0},    {"optim.dampening", 0.0, 1.0, 0},
    {"optim.nesterov", 0.0, 1.0, 0},         {"optim.beta1", 0.0, 1.0, 1},
    {"optim.beta2", 0.0, 1.0, 1},            {"optim.eps", 0.0, HUGE_VAL, 0},
};

static clgrad_status check_optim(const clgrad_context *ctx, const clgrad__st_file *f, const clgrad_optim *opt,
                                 double *lr)
{
    const char *path = clgrad__st_name(f);
    const char *kind = clgrad__st_meta_get(f, "optim.kind");
    const char *want = optim_kind_name(clgrad_optim_get_options(opt).kind);
    if (!kind)
        return clgrad__fail(ctx, CLGRAD_ERR_IO, "%s: the checkpoint holds no optimizer state", path);
    if (strcmp(kind, want) != 0)
        return clgrad__fail(ctx, CLGRAD_ERR_INVALID_ARG,
                            "%s: the checkpoint holds the state of a %s optimizer, not of %s", path, kind, want);
    *lr = clgrad_optim_get_lr(opt);
    for (size_t i = 0; i < sizeof hparams / sizeof hparams[0]; i++) {
        const struct hparam *h = &hparams[i];
        double v = 0;
        if (!clgrad__st_meta_get(f, h->key)) continue;
        CLGRAD_TRY(relay(ctx, clgrad__st_meta_get_f64(f, h->key, &v)));
        int ok = isfinite(v) && v >= h->lo && (h->open_hi ? v < h->hi : v <= h->hi);
        if (ok && strcmp(h->key, "optim.lr") == 0) ok = v <= (double)FLT_MAX; /* finite as a float too */
        if (!ok)
            return clgrad__fail(ctx, CLGRAD_ERR_IO, "%s: metadata '%s' = '%.64s' is not a finite value in [%g, %g%s",
                                path, h->key, clgrad__st_meta_get(f, h->key), h->lo, h->hi,
                                h->open_hi ? ")" : "]");
        if (strcmp(h->key, "optim.lr") == 0) *lr = v;
    }
    return CLGRAD_OK;
}

static clgrad_status open_file(const clgrad_context *ctx, const char *path, clgrad__st_file **f)
{
    CLGRAD_TRY(relay(ctx, clgrad__st_load(path, f)));
    clgrad_status s = relay(ctx, check_format(*f));
    if (s != CLGRAD_OK) {
        clgrad__st_free(*f);
        *f = NULL;
    }
    return s;
}

clgrad_status clgrad_checkpoint_load(const char *path, clgrad_module *module, clgrad_optim *optim,
                                     clgrad_checkpoint_meta *meta_out)
{
    const clgrad_context *ctx = module ? clgrad_module_context(module) : NULL;
    CLGRAD_CHECK_ARG(ctx, path && path[0], "path is NULL or empty");
    CLGRAD_CHECK_ARG(ctx, module != NULL, "module is NULL");

    clgrad__st_file *f = NULL;
    item_list l = {0};
    clgrad_checkpoint_meta *meta = malloc(sizeof *meta);
    if (!meta) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", path);
    double lr = 0;
    clgrad_status s = open_file(ctx, path, &f);
    if (s == CLGRAD_OK) s = collect(ctx, module, optim, &l);
    /* The module first, so that a checkpoint of another network is reported as such. */
    for (int i = 0; s == CLGRAD_OK && i < l.n; i++)
        if (l.v[i].kind == ITEM_TENSOR || l.v[i].kind == ITEM_COUNTER) s = stage(ctx, f, &l.v[i]);
    if (s == CLGRAD_OK) s = check_unexpected(ctx, f, &l, 0);
    if (s == CLGRAD_OK && optim) s = check_optim(ctx, f, optim, &lr);
    for (int i = 0; s == CLGRAD_OK && i < l.n; i++)
        if (l.v[i].kind == ITEM_OPT_STATE || l.v[i].kind == ITEM_OPT_STEP) s = stage(ctx, f, &l.v[i]);
    if (s == CLGRAD_OK && optim) s = check_unexpected(ctx, f, &l, 1);
    if (s == CLGRAD_OK) s = relay(ctx, parse_meta(f, meta));
    if (s != CLGRAD_OK) goto done;

    /* Everything checked (names, dtypes, shapes, counters, step counts, hyper-parameters):
     * commit. Only a device failure can stop us half-way now. */
    for (int i = 0; s == CLGRAD_OK && i < l.n; i++) {
        item *it = &l.v[i];
        int64_t v = 0;
        if (it->kind == ITEM_COUNTER || it->kind == ITEM_OPT_STEP) memcpy(&v, it->data, sizeof v);
        switch (it->kind) {
        case ITEM_TENSOR:
        case ITEM_OPT_STATE: s = clgrad_tensor_write(it->t, it->data, it->nbytes); break;
        case ITEM_COUNTER: s = clgrad_module_set_counter(module, it->index, (uint64_t)v); break;
        case ITEM_OPT_STEP: s = clgrad_optim_set_step_count(optim, it->index, v); break;
        }
        if (s != CLGRAD_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", clgrad_last_error(ctx));
            s = clgrad__fail(ctx, s, "%s: writing '%s' to the device failed, so the module is partly loaded: %s",
                             path, it->name, why);
        }
    }
    if (s == CLGRAD_OK && optim) s = clgrad_optim_set_lr(optim, (float)lr); /* checked above: cannot fail */
    if (s == CLGRAD_OK && meta_out) *meta_out = *meta;
done:
    items_free(&l);
    clgrad__st_free(f);
    free(meta);
    return s;
}

clgrad_status clgrad_checkpoint_read_meta(const char *path, clgrad_checkpoint_meta *meta_out)
{
    CLGRAD_CHECK_ARG(NULL, path && path[0], "path is NULL or empty");
    CLGRAD_CHECK_ARG(NULL, meta_out != NULL, "meta_out is NULL");
    clgrad__st_file *f = NULL;
    CLGRAD_TRY(open_file(NULL, path, &f));
    clgrad_checkpoint_meta *meta = malloc(sizeof *meta);
    clgrad_status s = meta ? parse_meta(f, meta)
                           : clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", path);
    if (s == CLGRAD_OK) *meta_out = *meta;
    free(meta);
    clgrad__st_free(f);
    return s;
}
