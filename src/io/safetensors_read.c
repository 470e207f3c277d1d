/* The safetensors reader: the whole file in memory, every length, offset, dtype and shape
 * validated before anything is handed back, the JSON header parsed by cJSON. Layout: see
 * src/io/io.h. */
#include "core/core.h"
#include "core/file.h"
#include "io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Same cap as the reference implementation: a larger header is taken as a foreign file. */
#define MAX_HEADER_BYTES ((uint64_t)100000000)

static int dtype_from_name(const char *s, clgrad__st_dtype *out)
{
    for (int i = 0; i < CLGRAD__ST_DTYPE_COUNT; i++)
        if (strcmp(s, clgrad__st_dtype_name((clgrad__st_dtype)i)) == 0) {
            *out = (clgrad__st_dtype)i;
            return 1;
        }
    return 0;
}

struct clgrad__st_file {
    char *name;
    uint8_t *buf;                /* the whole file */
    size_t len;
    clgrad__st_entry *entries;   /* sorted by name */
    size_t n;
    clgrad__st_meta *meta;       /* sorted by key */
    size_t n_meta;
    char *strings;               /* names, keys and values */
};

void clgrad__st_free(clgrad__st_file *f)
{
    if (!f) return;
    free(f->name);
    free(f->buf);
    free(f->entries);
    free(f->meta);
    free(f->strings);
    free(f);
}

static int cmp_entry_name(const void *a, const void *b)
{
    return strcmp(((const clgrad__st_entry *)a)->name, ((const clgrad__st_entry *)b)->name);
}

static int cmp_meta_key(const void *a, const void *b)
{
    return strcmp(((const clgrad__st_meta *)a)->key, ((const clgrad__st_meta *)b)->key);
}

typedef struct span {
    uint64_t begin, end;
    size_t entry;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* A JSON number that is a whole, non-negative integer small enough to be exact. */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0 || floor(d) != d) return 0;
    *out = (uint64_t)d;
    return 1;
}

/* A parse in progress: the file, its header as JSON, and where the kept strings go. */
typedef struct parse_state {
    clgrad__st_file *f;
    const char *nm;      /* f->name, for messages */
    const uint8_t *data; /* the data area */
    size_t data_len;
    char *text;          /* the header, NUL-terminated */
    cJSON *root;
    const cJSON *md;     /* the __metadata__ member, or NULL */
    span *spans;         /* one per tensor, for the tiling check */
    char *sp;            /* next free byte of f->strings */
} parse_state;

/* The 8-byte length and the header text's bounds: sets ps->data, ps->data_len, *hlen. */
static clgrad_status split_file(parse_state *ps, uint64_t *hlen_out)
{
    const clgrad__st_file *f = ps->f;
    const char *nm = ps->nm;
    if (f->len < 8)
        return clgrad__fail(NULL, CLGRAD_ERR_IO,
                            "%s: not a safetensors file: %zu bytes, too short for the 8-byte "
                            "header length", nm, f->len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | f->buf[i];
    if (hlen > f->len - 8)
        return clgrad__fail(NULL, CLGRAD_ERR_IO,
                            "%s: not a safetensors file or truncated: the header length is %llu "
                            "bytes but only %zu bytes follow it",
                            nm, (unsigned long long)hlen, f->len - 8);
    if (hlen > MAX_HEADER_BYTES)
        return clgrad__fail(NULL, CLGRAD_ERR_IO,
                            "%s: header length %llu is over the %llu-byte limit", nm,
                            (unsigned long long)hlen, (unsigned long long)MAX_HEADER_BYTES);
    if (hlen < 2)
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: header length %llu is too short for JSON",
                            nm, (unsigned long long)hlen);
    if (memchr(f->buf + 8, '\0', (size_t)hlen))
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: the JSON header contains a NUL byte", nm);
    ps->data_len = f->len - 8 - (size_t)hlen;
    ps->data = f->buf + 8 + hlen;
    *hlen_out = hlen;
    return CLGRAD_OK;
}

/* Parses the header into ps->root: one JSON object and nothing after it but whitespace. */
static clgrad_status parse_json(parse_state *ps, uint64_t hlen)
{
    const char *nm = ps->nm;
    /* cJSON wants a terminated string; parse a copy and insist that only whitespace follows. */
    char *text = ps->text = malloc((size_t)hlen + 1);
    if (!text) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", nm);
    memcpy(text, ps->f->buf + 8, (size_t)hlen);
    text[hlen] = '\0';
    const char *end = NULL;
    ps->root = cJSON_ParseWithLengthOpts(text, (size_t)hlen + 1, &end, 0);
    if (!ps->root) {
        size_t at = end && end >= text && end <= text + hlen ? (size_t)(end - text) : 0;
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: the header is not valid JSON (error near byte %zu "
                            "of %llu)", nm, at, (unsigned long long)hlen);
    }
    for (const char *p = end; p && *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: unexpected bytes after the JSON header "
                                "(at byte %zu of %llu)", nm, (size_t)(p - text),
                                (unsigned long long)hlen);
    if (!cJSON_IsObject(ps->root))
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: the header is JSON but not an object", nm);
    return CLGRAD_OK;
}

/* Counts tensors, metadata items and the string bytes to keep; finds ps->md. */
static clgrad_status count_members(parse_state *ps, size_t *n_out, size_t *n_meta_out, size_t *str_bytes_out)
{
    const char *nm = ps->nm;
    size_t n = 0, n_meta = 0, str_bytes = 0, n_md_objects = 0;
    for (const cJSON *c = ps->root->child; c; c = c->next) {
        if (!c->string) return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: a header member has no name", nm);
        if (strcmp(c->string, "__metadata__") != 0) {
            n++;
            str_bytes += strlen(c->string) + 1;
            continue;
        }
        ps->md = c;
        n_md_objects++;
        if (!cJSON_IsObject(c) && !cJSON_IsNull(c))
            return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: __metadata__ is not an object", nm);
        for (const cJSON *m = c->child; m; m = m->next) {
            if (!m->string || !cJSON_IsString(m) || !m->valuestring)
                return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: __metadata__ value of '%s' is not a string", nm,
                                    m->string ? m->string : "?");
            n_meta++;
            str_bytes += strlen(m->string) + strlen(m->valuestring) + 2;
        }
    }
    if (n_md_objects > 1)
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: __metadata__ appears %zu times", nm, n_md_objects);
    *n_out = n;
    *n_meta_out = n_meta;
    *str_bytes_out = str_bytes;
    return CLGRAD_OK;
}

/* A copy of s in f->strings (sized by count_members). */
static const char *keep(parse_state *ps, const char *s)
{
    size_t l = strlen(s) + 1;
    char *at = ps->sp;
    memcpy(at, s, l);
    ps->sp += l;
    return at;
}

/* The shape of tensor c (named tn) into e: an array of at most CLGRAD__ST_MAX_DIMS
 * non-negative integers. */
static clgrad_status parse_shape(const parse_state *ps, const char *tn, const cJSON *js, clgrad__st_entry *e)
{
    if (!cJSON_IsArray(js))
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: tensor '%s': missing or non-array shape", ps->nm, tn);
    int nd = cJSON_GetArraySize(js);
    if (nd > CLGRAD__ST_MAX_DIMS)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: tensor '%s' has %d dimensions; at most %d are supported",
                            ps->nm, tn, nd, CLGRAD__ST_MAX_DIMS);
    e->ndim = 0;
    for (const cJSON *d = js->child; d; d = d->next) {
        uint64_t v;
        if (!json_uint(d, &v))
            return clgrad__fail(NULL, CLGRAD_ERR_IO,
                                "%s: tensor '%s': shape holds something other than a "
                                "non-negative integer", ps->nm, tn);
        e->shape[e->ndim++] = (int64_t)v;
    }
    return CLGRAD_OK;
}

/* One tensor member c: its dtype, shape and offsets, checked against each other and the
 * data area, appended to f->entries and ps->spans. */
static clgrad_status parse_entry(parse_state *ps, const cJSON *c)
{
    const char *nm = ps->nm, *tn = c->string;
    clgrad__st_file *f = ps->f;
    char sbuf[256];
    if (!cJSON_IsObject(c)) return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: tensor '%s': not a JSON object", nm, tn);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(c, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(c, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(c, "data_offsets");
    if (!cJSON_IsString(jd) || !jd->valuestring)
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: tensor '%s': missing or non-string dtype", nm, tn);
    clgrad__st_entry *e = &f->entries[f->n];
    if (!dtype_from_name(jd->valuestring, &e->dtype))
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: tensor '%s': unknown dtype '%.32s'", nm, tn,
                            jd->valuestring);
    CLGRAD_TRY(parse_shape(ps, tn, js, e));
    uint64_t ob = 0, oe = 0;
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || !json_uint(jo->child, &ob) ||
        !json_uint(jo->child->next, &oe))
        return clgrad__fail(NULL, CLGRAD_ERR_IO,
                            "%s: tensor '%s': data_offsets is not a pair of non-negative integers", nm, tn);
    if (ob > oe || oe > ps->data_len)
        return clgrad__fail(NULL, CLGRAD_ERR_IO,
                            "%s: tensor '%s': data_offsets [%llu, %llu] do not lie in the %zu-byte "
                            "data area", nm, tn, (unsigned long long)ob, (unsigned long long)oe, ps->data_len);
    size_t want, esize = clgrad__st_dtype_size(e->dtype);
    int fits = clgrad__st_shape_nbytes(e->ndim, e->shape, esize, &want);
    if (!fits || want != oe - ob)
        return clgrad__fail(NULL, CLGRAD_ERR_IO,
                            "%s: tensor '%s': shape %s of %s needs %s bytes but data_offsets "
                            "[%llu, %llu] hold %llu", nm, tn,
                            clgrad__shape_str(sbuf, sizeof sbuf, e->ndim, e->shape),
                            clgrad__st_dtype_name(e->dtype), fits ? "a different number of" : "more than addressable",
                            (unsigned long long)ob, (unsigned long long)oe, (unsigned long long)(oe - ob));
    e->name = keep(ps, tn);
    e->data = ps->data + ob;
    e->nbytes = (size_t)(oe - ob);
    ps->spans[f->n].begin = ob;
    ps->spans[f->n].end = oe;
    ps->spans[f->n].entry = f->n;
    f->n++;
    return CLGRAD_OK;
}

/* The tensors must tile the data area exactly: in order, no overlap, no gap. */
static clgrad_status check_tiling(parse_state *ps)
{
    const clgrad__st_file *f = ps->f;
    const char *nm = ps->nm;
    span *spans = ps->spans;
    qsort(spans, f->n, sizeof *spans, cmp_span);
    uint64_t at = 0;
    for (size_t i = 0; i < f->n; i++) {
        const char *tn = f->entries[spans[i].entry].name;
        if (spans[i].begin < at)
            return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: tensor '%s' at [%llu, %llu] overlaps tensor '%s' before it",
                                nm, tn, (unsigned long long)spans[i].begin, (unsigned long long)spans[i].end,
                                f->entries[spans[i - 1].entry].name);
        if (spans[i].begin > at)
            return clgrad__fail(NULL, CLGRAD_ERR_IO,
                                "%s: bytes [%llu, %llu) of the data area belong to no tensor (gap "
                                "before '%s')", nm, (unsigned long long)at, (unsigned long long)spans[i].begin, tn);
        at = spans[i].end;
    }
    if (at != ps->data_len)
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: the data area holds %zu bytes but the tensors cover %llu", nm,
                            ps->data_len, (unsigned long long)at);
    return CLGRAD_OK;
}

/* Sorts entries by name and metadata by key (for bsearch); each must be unique. */
static clgrad_status sort_unique(clgrad__st_file *f)
{
    qsort(f->entries, f->n, sizeof *f->entries, cmp_entry_name);
    for (size_t i = 1; i < f->n; i++)
        if (strcmp(f->entries[i - 1].name, f->entries[i].name) == 0)
            return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: tensor name '%s' appears twice", f->name,
                                f->entries[i].name);
    qsort(f->meta, f->n_meta, sizeof *f->meta, cmp_meta_key);
    for (size_t i = 1; i < f->n_meta; i++)
        if (strcmp(f->meta[i - 1].key, f->meta[i].key) == 0)
            return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: metadata key '%s' appears twice", f->name, f->meta[i].key);
    return CLGRAD_OK;
}

/* The tables of f from the parsed header: metadata, then every tensor. */
static clgrad_status fill_tables(parse_state *ps)
{
    clgrad__st_file *f = ps->f;
    size_t n = 0, n_meta = 0, str_bytes = 0;
    CLGRAD_TRY(count_members(ps, &n, &n_meta, &str_bytes));
    f->entries = calloc(n ? n : 1, sizeof *f->entries);
    f->meta = calloc(n_meta ? n_meta : 1, sizeof *f->meta);
    f->strings = malloc(str_bytes ? str_bytes : 1);
    ps->spans = malloc((n ? n : 1) * sizeof *ps->spans);
    if (!f->entries || !f->meta || !f->strings || !ps->spans)
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", ps->nm);
    ps->sp = f->strings;
    if (ps->md)
        for (const cJSON *m = ps->md->child; m; m = m->next, f->n_meta++) {
            f->meta[f->n_meta].key = keep(ps, m->string);
            f->meta[f->n_meta].value = keep(ps, m->valuestring);
        }
    for (const cJSON *c = ps->root->child; c; c = c->next)
        if (c != ps->md) CLGRAD_TRY(parse_entry(ps, c));
    return CLGRAD_OK;
}

/* Validates the header and fills f's tables; f->buf and f->len are set. */
static clgrad_status parse_header(clgrad__st_file *f)
{
    parse_state ps = {.f = f, .nm = f->name};
    uint64_t hlen = 0;
    clgrad_status s = split_file(&ps, &hlen);
    if (s == CLGRAD_OK) s = parse_json(&ps, hlen);
    if (s == CLGRAD_OK) s = fill_tables(&ps);
    if (s == CLGRAD_OK) s = check_tiling(&ps);
    if (s == CLGRAD_OK) s = sort_unique(f);
    free(ps.spans);
    cJSON_Delete(ps.root);
    free(ps.text);
    return s;
}

/* Takes ownership of buf (freed on failure too). */
static clgrad_status parse_owned(uint8_t *buf, size_t len, const char *name, clgrad__st_file **out)
{
    *out = NULL;
    clgrad__st_file *f = calloc(1, sizeof *f);
    size_t nl = strlen(name);
    if (f) f->name = malloc(nl + 1);
    if (!f || !f->name) {
        free(f);
        free(buf);
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", name);
    }
    memcpy(f->name, name, nl + 1);
    f->buf = buf;
    f->len = len;
    clgrad_status s = parse_header(f);
    if (s != CLGRAD_OK) {
        clgrad__st_free(f);
        return s;
    }
    *out = f;
    return CLGRAD_OK;
}

clgrad_status clgrad__st_load(const char *path, clgrad__st_file **out)
{
    CLGRAD_CHECK_ARG(NULL, out != NULL, "out is NULL");
    *out = NULL;
    CLGRAD_CHECK_ARG(NULL, path != NULL, "path is NULL");
    uint8_t *buf;
    size_t len;
    CLGRAD_TRY(clgrad__file_read(path, SIZE_MAX, 0, &buf, &len)); /* the caller's own file: no limit but memory */
    return parse_owned(buf, len, path, out);
}

clgrad_status clgrad__st_parse(const void *bytes, size_t nbytes, const char *name,
                               clgrad__st_file **out)
{
    CLGRAD_CHECK_ARG(NULL, out != NULL, "out is NULL");
    *out = NULL;
    CLGRAD_CHECK_ARG(NULL, bytes != NULL || nbytes == 0, "bytes is NULL");
    if (!name) name = "<memory>";
    uint8_t *buf = malloc(nbytes ? nbytes : 1);
    if (!buf) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", name);
    if (nbytes) memcpy(buf, bytes, nbytes);
    return parse_owned(buf, nbytes, name, out);
}

const char *clgrad__st_name(const clgrad__st_file *f) { return f ? f->name : NULL; }

size_t clgrad__st_count(const clgrad__st_file *f) { return f ? f->n : 0; }

const clgrad__st_entry *clgrad__st_entry_at(const clgrad__st_file *f, size_t i)
{
    return f && i < f->n ? &f->entries[i] : NULL;
}

const clgrad__st_entry *clgrad__st_find(const clgrad__st_file *f, const char *name)
{
    if (!f || !name) return NULL;
    clgrad__st_entry key;
    memset(&key, 0, sizeof key);
    key.name = name;
    return bsearch(&key, f->entries, f->n, sizeof *f->entries, cmp_entry_name);
}

clgrad_status clgrad__st_read(const clgrad__st_file *f, const char *name, clgrad__st_dtype dtype,
                              int ndim, const int64_t *shape, void *dst, size_t dst_nbytes)
{
    CLGRAD_CHECK_ARG(NULL, f != NULL && name != NULL, "f or name is NULL");
    CLGRAD_CHECK_ARG(NULL, ndim >= 0 && ndim <= CLGRAD__ST_MAX_DIMS && (shape || ndim == 0),
                     "ndim or shape");
    const clgrad__st_entry *e = clgrad__st_find(f, name);
    if (!e) return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: has no tensor '%s'", f->name, name);
    if (e->dtype != dtype)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: tensor '%s' is %s, expected %s",
                            f->name, name, clgrad__st_dtype_name(e->dtype),
                            clgrad__st_dtype_name(dtype) ? clgrad__st_dtype_name(dtype) : "?");
    int same = e->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = e->shape[i] == shape[i];
    if (!same) {
        char a[256], b[256];
        return clgrad__fail(NULL, CLGRAD_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s",
                            f->name, name, clgrad__shape_str(a, sizeof a, e->ndim, e->shape),
                            clgrad__shape_str(b, sizeof b, ndim, shape));
    }
    if (dst_nbytes != e->nbytes || (!dst && e->nbytes))
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                            "%s: tensor '%s' holds %zu bytes but the destination has %zu", f->name,
                            name, e->nbytes, dst ? dst_nbytes : (size_t)0);
    if (e->nbytes) {
        memcpy(dst, e->data, e->nbytes);
        if (!clgrad__st_host_is_le()) clgrad__st_swap_elems(dst, e->nbytes, clgrad__st_dtype_size(e->dtype));
    }
    return CLGRAD_OK;
}

size_t clgrad__st_meta_count(const clgrad__st_file *f) { return f ? f->n_meta : 0; }

const clgrad__st_meta *clgrad__st_meta_at(const clgrad__st_file *f, size_t i)
{
    return f && i < f->n_meta ? &f->meta[i] : NULL;
}

const char *clgrad__st_meta_get(const clgrad__st_file *f, const char *key)
{
    if (!f || !key) return NULL;
    clgrad__st_meta k = {key, NULL};
    const clgrad__st_meta *m = bsearch(&k, f->meta, f->n_meta, sizeof *f->meta, cmp_meta_key);
    return m ? m->value : NULL;
}

static clgrad_status meta_number(const clgrad__st_file *f, const char *key, int kind, void *out)
{
    CLGRAD_CHECK_ARG(NULL, f != NULL && key != NULL && out != NULL, "f, key or out is NULL");
    const char *v = clgrad__st_meta_get(f, key);
    if (!v) return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: no metadata '%s'", f->name, key);
    static const char *const what[] = {"an integer", "a non-negative integer", "a number"};
    char *end = NULL;
    int ok = v[0] != '\0' && v[0] != ' ' && v[0] != '+' && v[0] != '\t';
    errno = 0;
    if (ok && kind == 0) {
        long long x = strtoll(v, &end, 10);
        ok = errno == 0 && *end == '\0';
        if (ok) *(int64_t *)out = (int64_t)x;
    } else if (ok && kind == 1) {
        ok = v[0] >= '0' && v[0] <= '9';
        unsigned long long x = ok ? strtoull(v, &end, 10) : 0;
        ok = ok && errno == 0 && *end == '\0';
        if (ok) *(uint64_t *)out = (uint64_t)x;
    } else if (ok) {
        double x = clgrad__strtod_c(v, &end); /* files hold '.' whatever the program's locale */
        ok = *end == '\0' && (errno == 0 || errno == ERANGE);
        if (ok) *(double *)out = x;
    }
    if (!ok)
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: metadata '%s' = '%.64s' is not %s", f->name,
                            key, v, what[kind]);
    return CLGRAD_OK;
}

clgrad_status clgrad__st_meta_get_i64(const clgrad__st_file *f, const char *key, int64_t *out)
{
    return meta_number(f, key, 0, out);
}

clgrad_status clgrad__st_meta_get_u64(const clgrad__st_file *f, const char *key, uint64_t *out)
{
    return meta_number(f, key, 1, out);
}

clgrad_status clgrad__st_meta_get_f64(const clgrad__st_file *f, const char *key, double *out)
{
    return meta_number(f, key, 2, out);
}
