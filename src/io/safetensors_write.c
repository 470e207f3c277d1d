/* The safetensors writer: checks every entry, lays tensors out widest dtype first so each
 * is aligned to its element, builds the JSON header with cJSON and writes the file through
 * the core's atomic writer (src/core/file.c). Layout: see src/io/io.h. */
#include "core/core.h"
#include "core/file.h"
#include "io.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* cJSON prints integers below 10^15 exactly; larger offsets or dims are refused. */
#define MAX_JSON_INT 999999999999999.0

static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p++;
        int more;
        unsigned min;
        if (c < 0x80) continue;
        if ((c & 0xE0) == 0xC0) more = 1, min = 0x80, c &= 0x1F;
        else if ((c & 0xF0) == 0xE0) more = 2, min = 0x800, c &= 0x0F;
        else if ((c & 0xF8) == 0xF0) more = 3, min = 0x10000, c &= 0x07;
        else return 0;
        for (int i = 0; i < more; i++) {
            if ((*p & 0xC0) != 0x80) return 0;
            c = c << 6 | (*p++ & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    }
    return 1;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct order_item {
    size_t esize, index;
} order_item;

static int cmp_order(const void *a, const void *b)
{
    const order_item *x = a, *y = b;
    if (x->esize != y->esize) return x->esize > y->esize ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* One entry as clgrad__st_save's contract asks (i: its index, for messages). */
static clgrad_status check_entry(const char *path, const clgrad__st_entry *e, size_t i)
{
    char sbuf[256];
    const char *nm = e->name;
    if (!nm) return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: entry %zu has no name", path, i);
    if (strcmp(nm, "__metadata__") == 0 || !valid_utf8(nm))
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: entry %zu: '%s' is not a valid tensor name", path, i,
                            nm);
    size_t es = clgrad__st_dtype_size(e->dtype);
    if (!es)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: tensor '%s': unknown dtype %d", path, nm,
                            (int)e->dtype);
    if (e->ndim < 0 || e->ndim > CLGRAD__ST_MAX_DIMS)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: tensor '%s': ndim %d is outside [0, %d]", path, nm,
                            e->ndim, CLGRAD__ST_MAX_DIMS);
    for (int d = 0; d < e->ndim; d++)
        if (e->shape[d] < 0 || (double)e->shape[d] > MAX_JSON_INT)
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: tensor '%s': dimension %d is %lld", path, nm, d,
                                (long long)e->shape[d]);
    size_t want = 0;
    if (!clgrad__st_shape_nbytes(e->ndim, e->shape, es, &want))
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: tensor '%s': shape %s overflows the address space",
                            path, nm, clgrad__shape_str(sbuf, sizeof sbuf, e->ndim, e->shape));
    if (want != e->nbytes)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "%s: tensor '%s': shape %s of %s needs %zu bytes but nbytes is %zu", path, nm, clgrad__shape_str(sbuf, sizeof sbuf, e->ndim, e->shape),
                            clgrad__st_dtype_name(e->dtype), want, e->nbytes);
    if (e->nbytes && !e->data)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: tensor '%s': data is NULL", path, nm);
    return CLGRAD_OK;
}

/* Every entry and metadata item valid, tensor names and metadata keys each unique. */
static clgrad_status check_entries(const char *path, const clgrad__st_entry *e, size_t n,
                                   const clgrad__st_meta *meta, size_t n_meta)
{
    for (size_t i = 0; i < n; i++) CLGRAD_TRY(check_entry(path, &e[i], i));
    for (size_t i = 0; i < n_meta; i++)
        if (!meta[i].key || !meta[i].value || !valid_utf8(meta[i].key) || !valid_utf8(meta[i].value))
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                                "%s: metadata item %zu has a NULL or non-UTF-8 key or value", path, i);

    /* Uniqueness: sort copies of the name pointers and compare neighbours. */
    size_t m = n > n_meta ? n : n_meta;
    const char **names = malloc((m ? m : 1) * sizeof *names);
    if (!names) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", path);
    clgrad_status s = CLGRAD_OK;
    for (int pass = 0; pass < 2 && s == CLGRAD_OK; pass++) {
        size_t k = pass ? n_meta : n;
        for (size_t i = 0; i < k; i++) names[i] = pass ? meta[i].key : e[i].name;
        qsort(names, k, sizeof *names, cmp_str_ptr);
        for (size_t i = 1; i < k; i++)
            if (strcmp(names[i - 1], names[i]) == 0) {
                s = clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: %s '%s' appears twice", path,
                                 pass ? "metadata key" : "tensor name", names[i]);
                break;
            }
    }
    free(names);
    return s;
}

/* The JSON header for entries laid out in the order ord into *text (free with cJSON_free). */
static clgrad_status build_header(const char *path, const clgrad__st_entry *e, const order_item *ord,
                                  size_t n, const clgrad__st_meta *meta, size_t n_meta, char **text)
{
    *text = NULL;
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && n_meta) {
        cJSON *md = cJSON_AddObjectToObject(root, "__metadata__");
        ok = md != NULL;
        for (size_t i = 0; ok && i < n_meta; i++)
            ok = cJSON_AddStringToObject(md, meta[i].key, meta[i].value) != NULL;
    }
    double offset = 0;
    for (size_t i = 0; ok && i < n; i++) {
        const clgrad__st_entry *t = &e[ord[i].index];
        cJSON *obj = cJSON_AddObjectToObject(root, t->name);
        ok = obj && cJSON_AddStringToObject(obj, "dtype", clgrad__st_dtype_name(t->dtype));
        cJSON *shape = ok ? cJSON_AddArrayToObject(obj, "shape") : NULL;
        cJSON *offs = shape ? cJSON_AddArrayToObject(obj, "data_offsets") : NULL;
        ok = offs != NULL;
        for (int d = 0; ok && d < t->ndim; d++) {
            cJSON *v = cJSON_CreateNumber((double)t->shape[d]);
            ok = v && cJSON_AddItemToArray(shape, v);
        }
        double end = offset + (double)t->nbytes;
        if (ok && end > MAX_JSON_INT) {
            cJSON_Delete(root);
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                                "%s: more than 10^15 bytes of tensor data", path);
        }
        cJSON *b = ok ? cJSON_CreateNumber(offset) : NULL;
        ok = b && cJSON_AddItemToArray(offs, b);
        cJSON *c = ok ? cJSON_CreateNumber(end) : NULL;
        ok = c && cJSON_AddItemToArray(offs, c);
        offset = end;
    }
    *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!*text)
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY,
                            "%s: out of host memory building the header", path);
    return CLGRAD_OK;
}

/* Host-order elements to little-endian on the way out. */
static clgrad_status write_le(clgrad__atomic_file *f, const void *data, size_t n, size_t esize)
{
    if (esize < 2 || clgrad__st_host_is_le()) return clgrad__atomic_write(f, data, n);
    const uint8_t *p = data;
    uint8_t tmp[4096];
    while (n) {
        size_t k = n < sizeof tmp ? n : sizeof tmp;
        memcpy(tmp, p, k);
        clgrad__st_swap_elems(tmp, k, esize);
        CLGRAD_TRY(clgrad__atomic_write(f, tmp, k));
        p += k;
        n -= k;
    }
    return CLGRAD_OK;
}

/* The whole file: length, header padded with spaces to 8 bytes, then the data area. */
static clgrad_status write_file(const char *path, const clgrad__st_entry *entries, const order_item *ord, size_t n,
                                const char *header)
{
    size_t hlen = strlen(header);
    size_t padded = (8 + hlen + 7) / 8 * 8 - 8;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    /* A checkpoint that replaces another keeps its mode; the folder is synced so the rename
     * survives a crash. */
    clgrad__atomic_file *f = NULL;
    CLGRAD_TRY(clgrad__atomic_open(path, CLGRAD__FILE_KEEP_MODE | CLGRAD__FILE_SYNC_DIR, &f));
    clgrad__atomic_write(f, len8, 8);
    clgrad__atomic_write(f, header, hlen);
    clgrad__atomic_write(f, "        ", padded - hlen); /* < 8 spaces */
    for (size_t i = 0; i < n; i++) {
        const clgrad__st_entry *t = &entries[ord[i].index];
        if (t->nbytes) write_le(f, t->data, t->nbytes, ord[i].esize);
    }
    return clgrad__atomic_commit(f); /* the first failure of any write above, if one failed */
}

clgrad_status clgrad__st_save(const char *path, const clgrad__st_entry *entries, size_t n_entries,
                              const clgrad__st_meta *meta, size_t n_meta)
{
    CLGRAD_CHECK_ARG(NULL, path != NULL && path[0] != '\0', "path is NULL or empty");
    CLGRAD_CHECK_ARG(NULL, entries != NULL || n_entries == 0, "entries is NULL");
    CLGRAD_CHECK_ARG(NULL, meta != NULL || n_meta == 0, "meta is NULL");
    CLGRAD_TRY(check_entries(path, entries, n_entries, meta, n_meta));

    order_item *ord = malloc((n_entries ? n_entries : 1) * sizeof *ord);
    if (!ord) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", path);
    for (size_t i = 0; i < n_entries; i++) {
        ord[i].esize = clgrad__st_dtype_size(entries[i].dtype);
        ord[i].index = i;
    }
    qsort(ord, n_entries, sizeof *ord, cmp_order);
    char *header = NULL;
    clgrad_status s = build_header(path, entries, ord, n_entries, meta, n_meta, &header);
    if (s == CLGRAD_OK) s = write_file(path, entries, ord, n_entries, header);
    cJSON_free(header);
    free(ord);
    return s;
}
