/* The module core: allocation and release of modules, registration of parameters, buffers,
 * counters and children, and the public clgrad_module_* functions that every layer shares
 * (forward dispatch, train/eval mode, enumeration with dotted names). */
#include "nn/nn.h"

#include <stdlib.h>
#include <string.h>

enum { LIST_PARAMS = 0, LIST_BUFFERS = 1, LIST_COUNTERS = 2 };

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap) return 1;
    int nc = *cap ? *cap * 2 : 4;
    while (nc < need) nc *= 2;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p) return 0;
    *arr = p;
    *cap = nc;
    return 1;
}

static void cache_clear(clgrad__name_cache *c)
{
    for (int i = 0; i < c->n; i++) free(c->names[i]);
    free(c->names);
    c->names = NULL;
    c->n = 0;
    c->stamp = -1;
}

clgrad_status clgrad__module_new(clgrad_context *ctx, const clgrad__module_vtable *vt, clgrad_module **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(ctx, ctx != NULL, "ctx is NULL");
    CLGRAD_CHECK_ARG(ctx, vt != NULL && out != NULL, "vt or out is NULL");
    clgrad_module *m = calloc(1, sizeof *m);
    if (!m) return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", vt->kind);
    m->vt = vt;
    m->ctx = ctx;
    m->training = 1;
    m->param_names.stamp = m->buffer_names.stamp = m->counter_names.stamp = -1;
    *out = m;
    return CLGRAD_OK;
}

clgrad_status clgrad__module_new_impl(clgrad_context *ctx, const clgrad__module_vtable *vt, size_t size,
                                      clgrad_module **out)
{
    CLGRAD_TRY(clgrad__module_new(ctx, vt, out));
    (*out)->impl = calloc(1, size);
    if (!(*out)->impl) {
        clgrad_module_release(*out);
        *out = NULL;
        return clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", vt->kind);
    }
    return CLGRAD_OK;
}

void clgrad__module_free_impl(clgrad_module *m)
{
    free(m->impl);
}

/* Name of a new entry: non-empty, no '.', unique among m's params, buffers, counters and
 * children (checkpoint names must not collide). */
static clgrad_status check_name(const clgrad_module *m, const char *name, const char *fn)
{
    if (!name || !name[0] || strchr(name, '.'))
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "%s: name \"%s\" must be non-empty without '.'", fn,
                            name ? name : "(null)");
    int dup = 0;
    for (int i = 0; i < m->n_params && !dup; i++) dup = !strcmp(m->params[i].name, name);
    for (int i = 0; i < m->n_buffers && !dup; i++) dup = !strcmp(m->buffers[i].name, name);
    for (int i = 0; i < m->n_counters && !dup; i++) dup = !strcmp(m->counters[i].name, name);
    for (int i = 0; i < m->n_children && !dup; i++) dup = !strcmp(m->children[i].name, name);
    if (dup)
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "%s: a %s module already has an entry named \"%s\"",
                            fn, m->vt->kind, name);
    return CLGRAD_OK;
}

static clgrad_status add_named(clgrad_module *m, clgrad__named **arr, int *n, int *cap, const char *name,
                               clgrad_tensor *t, const char *fn)
{
    clgrad_status s = CLGRAD_OK;
    char *nm = NULL;
    if (!m) {
        clgrad_tensor_release(t);
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: module is NULL", fn);
    }
    if (!t) return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "%s: tensor is NULL", fn);
    if (clgrad_tensor_context(t) != m->ctx) {
        s = clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "%s: \"%s\" belongs to another context", fn,
                         name ? name : "(null)");
        goto fail;
    }
    if ((s = check_name(m, name, fn)) != CLGRAD_OK) goto fail;
    if (!(nm = dup_str(name)) || !grow((void **)arr, cap, *n + 1, sizeof **arr)) {
        s = clgrad__fail(m->ctx, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", fn);
        goto fail;
    }
    (*arr)[*n].name = nm;
    (*arr)[*n].t = t;
    (*n)++;
    return CLGRAD_OK;
fail:
    free(nm);
    clgrad_tensor_release(t);
    return s;
}

clgrad_status clgrad__module_add_param(clgrad_module *m, const char *name, clgrad_tensor *t)
{
    if (m && t) {
        clgrad_status s = clgrad_tensor_set_requires_grad(t, 1);
        if (s != CLGRAD_OK) {
            clgrad_tensor_release(t);
            return s;
        }
    }
    return add_named(m, m ? &m->params : NULL, m ? &m->n_params : NULL, m ? &m->cap_params : NULL, name, t,
                     "clgrad__module_add_param");
}

clgrad_status clgrad__module_add_buffer(clgrad_module *m, const char *name, clgrad_tensor *t)
{
    return add_named(m, m ? &m->buffers : NULL, m ? &m->n_buffers : NULL, m ? &m->cap_buffers : NULL, name, t,
                     "clgrad__module_add_buffer");
}

static int contains(const clgrad_module *root, const clgrad_module *m)
{
    if (root == m) return 1;
    for (int i = 0; i < root->n_children; i++)
        if (contains(root->children[i].m, m)) return 1;
    return 0;
}

clgrad_status clgrad__module_add_child(clgrad_module *m, const char *name, clgrad_module *child)
{
    clgrad_status s;
    char *nm = NULL;
    if (!m) {
        clgrad_module_release(child);
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad__module_add_child: module is NULL");
    }
    if (!child) return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "clgrad__module_add_child: child is NULL");
    /* Already owned elsewhere, or an ancestor of m: refused without touching child, which
     * belongs to its container (releasing it here would free it twice). */
    if (child->adopted)
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "a %s module already belongs to a container",
                            child->vt->kind);
    if (contains(child, m))
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "a module cannot contain itself");
    if (child->ctx != m->ctx) {
        s = clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG,
                         "cannot add a %s module of another context to a %s module", child->vt->kind, m->vt->kind);
        goto fail;
    }
    if ((s = check_name(m, name, "clgrad__module_add_child")) != CLGRAD_OK) goto fail;
    if (!(nm = dup_str(name)) || !grow((void **)&m->children, &m->cap_children, m->n_children + 1,
                                       sizeof *m->children)) {
        s = clgrad__fail(m->ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad__module_add_child: out of host memory");
        goto fail;
    }
    child->training = m->training;
    child->adopted = 1;
    m->children[m->n_children].name = nm;
    m->children[m->n_children].m = child;
    m->n_children++;
    return CLGRAD_OK;
fail:
    free(nm);
    clgrad_module_release(child);
    return s;
}

clgrad_status clgrad__module_add_counter(clgrad_module *m, const char *name, int *index)
{
    CLGRAD_CHECK_ARG(NULL, m != NULL, "module is NULL");
    CLGRAD_TRY(check_name(m, name, "clgrad__module_add_counter"));
    char *nm = dup_str(name);
    if (!nm || !grow((void **)&m->counters, &m->cap_counters, m->n_counters + 1, sizeof *m->counters)) {
        free(nm);
        return clgrad__fail(m->ctx, CLGRAD_ERR_HOST_MEMORY, "clgrad__module_add_counter: out of host memory");
    }
    m->counters[m->n_counters].name = nm;
    m->counters[m->n_counters].value = 0;
    if (index) *index = m->n_counters;
    m->n_counters++;
    return CLGRAD_OK;
}

clgrad_tensor *clgrad__module_get(const clgrad_module *m, const char *name)
{
    if (!m || !name) return NULL;
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].name, name)) return m->params[i].t;
    for (int i = 0; i < m->n_buffers; i++)
        if (!strcmp(m->buffers[i].name, name)) return m->buffers[i].t;
    return NULL;
}

clgrad_status clgrad__module_check_input(const clgrad_module *m, const clgrad_tensor *x, const char *fn)
{
    if (!x) return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "%s: input is NULL", fn);
    if (clgrad_tensor_context(x) != m->ctx)
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG,
                            "%s: the input tensor belongs to another context than the %s module", fn, m->vt->kind);
    return CLGRAD_OK;
}

/* --- public: every module -------------------------------------------------------------------- */

CLGRAD_API clgrad_status clgrad_module_forward(clgrad_module *m, clgrad_tensor *x, clgrad_tensor **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(NULL, m != NULL, "module is NULL");
    CLGRAD_CHECK_ARG(m->ctx, out != NULL, "out is NULL");
    CLGRAD_TRY(clgrad__module_check_input(m, x, m->vt->kind));
    if (!m->vt->forward)
        return clgrad__fail(m->ctx, CLGRAD_ERR_UNSUPPORTED, "a %s module has no single-input forward", m->vt->kind);
    return m->vt->forward(m, x, out);
}

CLGRAD_API void clgrad_module_release(clgrad_module *m)
{
    if (!m) return;
    if (m->vt && m->vt->destroy) m->vt->destroy(m);
    for (int i = 0; i < m->n_children; i++) {
        clgrad_module_release(m->children[i].m);
        free(m->children[i].name);
    }
    for (int i = 0; i < m->n_params; i++) {
        clgrad_tensor_release(m->params[i].t);
        free(m->params[i].name);
    }
    for (int i = 0; i < m->n_buffers; i++) {
        clgrad_tensor_release(m->buffers[i].t);
        free(m->buffers[i].name);
    }
    for (int i = 0; i < m->n_counters; i++) free(m->counters[i].name);
    free(m->children);
    free(m->params);
    free(m->buffers);
    free(m->counters);
    cache_clear(&m->param_names);
    cache_clear(&m->buffer_names);
    cache_clear(&m->counter_names);
    free(m);
}

int clgrad__module_describe(const clgrad_module *m, clgrad__layer_desc *d)
{
    memset(d, 0, sizeof *d);
    if (!m || !m->vt->describe) return 0;
    m->vt->describe(m, d);
    return 1;
}

CLGRAD_API const char *clgrad_module_kind(const clgrad_module *m)
{
    return m && m->vt ? m->vt->kind : "";
}

CLGRAD_API clgrad_context *clgrad_module_context(const clgrad_module *m)
{
    return m ? m->ctx : NULL;
}

CLGRAD_API void clgrad_module_train(clgrad_module *m, int training)
{
    if (!m) return;
    m->training = training != 0;
    for (int i = 0; i < m->n_children; i++) clgrad_module_train(m->children[i].m, training);
}

CLGRAD_API int clgrad_module_is_training(const clgrad_module *m)
{
    return m ? m->training : 0;
}

CLGRAD_API int clgrad_module_child_count(const clgrad_module *m)
{
    return m ? m->n_children : 0;
}

CLGRAD_API clgrad_module *clgrad_module_child(const clgrad_module *m, int i, const char **name)
{
    if (name) *name = NULL;
    if (!m || i < 0 || i >= m->n_children) return NULL;
    if (name) *name = m->children[i].name;
    return m->children[i].m;
}

/* --- enumeration ----------------------------------------------------------------------------- */

static int local_count(const clgrad_module *m, int list)
{
    return list == LIST_PARAMS ? m->n_params : list == LIST_BUFFERS ? m->n_buffers : m->n_counters;
}

static const char *local_name(const clgrad_module *m, int list, int i)
{
    return list == LIST_PARAMS ? m->params[i].name : list == LIST_BUFFERS ? m->buffers[i].name
                                                                           : m->counters[i].name;
}

static int subtree_count(const clgrad_module *m, int list)
{
    int n = local_count(m, list);
    for (int i = 0; i < m->n_children; i++) n += subtree_count(m->children[i].m, list);
    return n;
}

/* Finds entry i (depth first: own entries, then each child in order); *owner and *local
 * receive the module holding it and its local index. */
static int find_entry(const clgrad_module *m, int list, int *i, const clgrad_module **owner, int *local)
{
    int n = local_count(m, list);
    if (*i < n) {
        *owner = m;
        *local = *i;
        return 1;
    }
    *i -= n;
    for (int c = 0; c < m->n_children; c++)
        if (find_entry(m->children[c].m, list, i, owner, local)) return 1;
    return 0;
}

static int collect_names(const clgrad_module *m, int list, const char *prefix, char **names, int *k)
{
    size_t pl = strlen(prefix);
    for (int i = 0; i < local_count(m, list); i++) {
        const char *ln = local_name(m, list, i);
        char *s = malloc(pl + strlen(ln) + 1);
        if (!s) return 0;
        memcpy(s, prefix, pl);
        strcpy(s + pl, ln);
        names[(*k)++] = s;
    }
    for (int c = 0; c < m->n_children; c++) {
        const char *cn = m->children[c].name;
        char *p = malloc(pl + strlen(cn) + 2);
        if (!p) return 0;
        memcpy(p, prefix, pl);
        strcpy(p + pl, cn);
        strcat(p + pl, ".");
        int ok = collect_names(m->children[c].m, list, p, names, k);
        free(p);
        if (!ok) return 0;
    }
    return 1;
}

/* The full name of entry i of list, from a cache rebuilt when the subtree grew. */
static const char *full_name(const clgrad_module *cm, int list, int i)
{
    clgrad_module *m = (clgrad_module *)cm; /* the cache is not part of the observable state */
    clgrad__name_cache *c = list == LIST_PARAMS ? &m->param_names
                          : list == LIST_BUFFERS ? &m->buffer_names : &m->counter_names;
    int n = subtree_count(m, list);
    if (c->stamp != n) {
        cache_clear(c);
        if (n > 0) {
            c->names = calloc((size_t)n, sizeof *c->names);
            int k = 0;
            if (!c->names || !collect_names(m, list, "", c->names, &k)) {
                c->n = k;
                cache_clear(c);
                return NULL;
            }
            c->n = k;
        }
        c->stamp = n;
    }
    return i >= 0 && i < c->n ? c->names[i] : NULL;
}

CLGRAD_API int clgrad_module_param_count(const clgrad_module *m)
{
    return m ? subtree_count(m, LIST_PARAMS) : 0;
}

CLGRAD_API clgrad_tensor *clgrad_module_param(const clgrad_module *m, int i, const char **name)
{
    const clgrad_module *owner;
    int local, j = i;
    if (name) *name = NULL;
    if (!m || i < 0 || !find_entry(m, LIST_PARAMS, &j, &owner, &local)) return NULL;
    if (name) *name = full_name(m, LIST_PARAMS, i);
    return owner->params[local].t;
}

CLGRAD_API int clgrad_module_buffer_count(const clgrad_module *m)
{
    return m ? subtree_count(m, LIST_BUFFERS) : 0;
}

CLGRAD_API clgrad_tensor *clgrad_module_buffer(const clgrad_module *m, int i, const char **name)
{
    const clgrad_module *owner;
    int local, j = i;
    if (name) *name = NULL;
    if (!m || i < 0 || !find_entry(m, LIST_BUFFERS, &j, &owner, &local)) return NULL;
    if (name) *name = full_name(m, LIST_BUFFERS, i);
    return owner->buffers[local].t;
}

CLGRAD_API int clgrad_module_counter_count(const clgrad_module *m)
{
    return m ? subtree_count(m, LIST_COUNTERS) : 0;
}

CLGRAD_API uint64_t clgrad_module_counter(const clgrad_module *m, int i, const char **name)
{
    const clgrad_module *owner;
    int local, j = i;
    if (name) *name = NULL;
    if (!m || i < 0 || !find_entry(m, LIST_COUNTERS, &j, &owner, &local)) return 0;
    if (name) *name = full_name(m, LIST_COUNTERS, i);
    return owner->counters[local].value;
}

CLGRAD_API clgrad_status clgrad_module_set_counter(clgrad_module *m, int i, uint64_t value)
{
    const clgrad_module *owner;
    int local, j = i;
    CLGRAD_CHECK_ARG(NULL, m != NULL, "module is NULL");
    if (i < 0 || !find_entry(m, LIST_COUNTERS, &j, &owner, &local))
        return clgrad__fail(m->ctx, CLGRAD_ERR_INVALID_ARG, "clgrad_module_set_counter: index %d out of [0, %d)",
                            i, subtree_count(m, LIST_COUNTERS));
    ((clgrad_module *)owner)->counters[local].value = value;
    return CLGRAD_OK;
}

CLGRAD_API void clgrad_module_zero_grad(clgrad_module *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_params; i++) clgrad_tensor_zero_grad(m->params[i].t);
    for (int i = 0; i < m->n_children; i++) clgrad_module_zero_grad(m->children[i].m);
}
