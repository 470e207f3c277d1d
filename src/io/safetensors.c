/* The safetensors file layer under checkpoints: an atomic writer and a reader that
 * validates every length, offset, dtype and shape before it hands anything back. The JSON
 * header is built and parsed by cJSON; everything about the binary layout is checked here.
 * Layout and the writer's conventions: see src/io/io.h. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "core/core.h"
#include "core/file.h"
#include "io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <process.h>
#include <sys/stat.h>
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

/* Same cap as the reference implementation: a larger header is taken as a foreign file. */
#define MAX_HEADER_BYTES ((uint64_t)100000000)
/* cJSON prints integers below 10^15 exactly; larger offsets or dims are refused. */
#define MAX_JSON_INT 999999999999999.0

static const struct {
    const char *name;
    size_t size;
} dtypes[CLGRAD__ST_DTYPE_COUNT] = {
    [CLGRAD__ST_BOOL] = {"BOOL", 1},       [CLGRAD__ST_U8] = {"U8", 1},
    [CLGRAD__ST_I8] = {"I8", 1},           [CLGRAD__ST_F8_E5M2] = {"F8_E5M2", 1},
    [CLGRAD__ST_F8_E4M3] = {"F8_E4M3", 1}, [CLGRAD__ST_I16] = {"I16", 2},
    [CLGRAD__ST_U16] = {"U16", 2},         [CLGRAD__ST_F16] = {"F16", 2},
    [CLGRAD__ST_BF16] = {"BF16", 2},       [CLGRAD__ST_I32] = {"I32", 4},
    [CLGRAD__ST_U32] = {"U32", 4},         [CLGRAD__ST_F32] = {"F32", 4},
    [CLGRAD__ST_I64] = {"I64", 8},         [CLGRAD__ST_U64] = {"U64", 8},
    [CLGRAD__ST_F64] = {"F64", 8},
};

const char *clgrad__st_dtype_name(clgrad__st_dtype dt)
{
    return (unsigned)dt < CLGRAD__ST_DTYPE_COUNT ? dtypes[dt].name : NULL;
}

size_t clgrad__st_dtype_size(clgrad__st_dtype dt)
{
    return (unsigned)dt < CLGRAD__ST_DTYPE_COUNT ? dtypes[dt].size : 0;
}

static int dtype_from_name(const char *s, clgrad__st_dtype *out)
{
    for (int i = 0; i < CLGRAD__ST_DTYPE_COUNT; i++)
        if (strcmp(s, dtypes[i].name) == 0) {
            *out = (clgrad__st_dtype)i;
            return 1;
        }
    return 0;
}

static int host_is_le(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void swap_elems(uint8_t *p, size_t nbytes, size_t esize)
{
    if (esize < 2) return;
    for (size_t i = 0; i + esize <= nbytes; i += esize)
        for (size_t a = 0, b = esize - 1; a < b; a++, b--) {
            uint8_t t = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = t;
        }
}

/* product(shape) * esize into *nbytes; 0 on overflow of size_t. */
static int shape_nbytes(int ndim, const int64_t *shape, size_t esize, size_t *nbytes)
{
    size_t n = esize;
    int zero = 0;
    for (int i = 0; i < ndim; i++) zero |= shape[i] == 0;
    if (zero) {
        *nbytes = 0;
        return 1;
    }
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (d > SIZE_MAX || n > SIZE_MAX / (size_t)d) return 0;
        n *= (size_t)d;
    }
    *nbytes = n;
    return 1;
}

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

/* ---------------------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------------------- */

typedef struct outfile {
    const char *tmp;  /* for messages */
    int fd;
    size_t n;
    uint8_t buf[1 << 16];
} outfile;

static clgrad_status write_raw(outfile *o, const uint8_t *p, size_t n)
{
    while (n) {
#ifdef _WIN32
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int k = _write(o->fd, p, chunk);
#else
        size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
        ssize_t k = write(o->fd, p, chunk);
#endif
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: write failed: %s", o->tmp,
                                k < 0 ? strerror(errno) : "no progress");
        p += k;
        n -= (size_t)k;
    }
    return CLGRAD_OK;
}

static clgrad_status out_flush(outfile *o)
{
    clgrad_status s = write_raw(o, o->buf, o->n);
    o->n = 0;
    return s;
}

static clgrad_status out_put(outfile *o, const void *data, size_t n)
{
    const uint8_t *p = data;
    if (o->n + n > sizeof o->buf) {
        CLGRAD_TRY(out_flush(o));
        if (n >= sizeof o->buf) return write_raw(o, p, n);
    }
    memcpy(o->buf + o->n, p, n);
    o->n += n;
    return CLGRAD_OK;
}

/* Host-order elements to little-endian on the way out. */
static clgrad_status out_put_le(outfile *o, const void *data, size_t n, size_t esize)
{
    if (esize < 2 || host_is_le()) return out_put(o, data, n);
    const uint8_t *p = data;
    uint8_t tmp[4096];
    while (n) {
        size_t k = n < sizeof tmp ? n : sizeof tmp;
        memcpy(tmp, p, k);
        swap_elems(tmp, k, esize);
        CLGRAD_TRY(out_put(o, tmp, k));
        p += k;
        n -= k;
    }
    return CLGRAD_OK;
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

static clgrad_status check_entries(const char *path, const clgrad__st_entry *e, size_t n,
                                   const clgrad__st_meta *meta, size_t n_meta)
{
    char sbuf[256];
    for (size_t i = 0; i < n; i++) {
        const char *nm = e[i].name;
        if (!nm)
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: entry %zu has no name", path, i);
        if (strcmp(nm, "__metadata__") == 0 || !valid_utf8(nm))
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                                "%s: entry %zu: '%s' is not a valid tensor name", path, i, nm);
        size_t es = clgrad__st_dtype_size(e[i].dtype);
        if (!es)
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: tensor '%s': unknown dtype %d",
                                path, nm, (int)e[i].dtype);
        if (e[i].ndim < 0 || e[i].ndim > CLGRAD__ST_MAX_DIMS)
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                                "%s: tensor '%s': ndim %d is outside [0, %d]", path, nm,
                                e[i].ndim, CLGRAD__ST_MAX_DIMS);
        for (int d = 0; d < e[i].ndim; d++)
            if (e[i].shape[d] < 0 || (double)e[i].shape[d] > MAX_JSON_INT)
                return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                                    "%s: tensor '%s': dimension %d is %lld", path, nm, d,
                                    (long long)e[i].shape[d]);
        size_t want = 0;
        if (!shape_nbytes(e[i].ndim, e[i].shape, es, &want))
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                                "%s: tensor '%s': shape %s overflows the address space", path, nm,
                                clgrad__shape_str(sbuf, sizeof sbuf, e[i].ndim, e[i].shape));
        if (want != e[i].nbytes)
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG,
                                "%s: tensor '%s': shape %s of %s needs %zu bytes but nbytes is %zu",
                                path, nm, clgrad__shape_str(sbuf, sizeof sbuf, e[i].ndim, e[i].shape),
                                dtypes[e[i].dtype].name, want, e[i].nbytes);
        if (e[i].nbytes && !e[i].data)
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "%s: tensor '%s': data is NULL",
                                path, nm);
    }
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
        ok = obj && cJSON_AddStringToObject(obj, "dtype", dtypes[t->dtype].name);
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

#ifdef _WIN32
static int open_tmp(char *tmp, size_t cap, const char *path, int attempt)
{
    snprintf(tmp, cap, "%s.tmp-%d-%lx-%d", path, _getpid(), (unsigned long)time(NULL), attempt);
    return _open(tmp, _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY, _S_IREAD | _S_IWRITE);
}
static int sync_close(int fd) { return (_commit(fd) == 0) & (_close(fd) == 0) ? 0 : -1; }
static int replace_file(const char *from, const char *to)
{
    return MoveFileExA(from, to, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH) ? 0 : -1;
}
static int sync_dir(const char *path) { (void)path; return 0; } /* MOVEFILE_WRITE_THROUGH */
#define remove_file _unlink
#define close_fd _close
#else
static int open_tmp(char *tmp, size_t cap, const char *path, int attempt)
{
    /* O_EXCL makes the name ours; the creation mode honours the umask like any new file. */
    snprintf(tmp, cap, "%s.tmp-%ld-%lx-%d", path, (long)getpid(), (unsigned long)time(NULL), attempt);
    return open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
}
static int sync_close(int fd)
{
    int r = fsync(fd);
    int e = errno;
    int c = close(fd);
    if (r != 0) {
        errno = e;
        return -1;
    }
    return c;
}
static int replace_file(const char *from, const char *to) { return rename(from, to); }
static int sync_dir(const char *path)
{
    size_t n = strlen(path);
    char *dir = malloc(n + 2);
    if (!dir) return -1;
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    int fd = open(dir, O_RDONLY);
    free(dir);
    if (fd < 0) return -1;
    int r = fsync(fd);
    /* Some file systems cannot sync a folder; the rename is then as durable as they allow. */
    if (r != 0 && (errno == EINVAL || errno == ENOTSUP || errno == EBADF)) r = 0;
    int e = errno;
    close(fd);
    errno = e;
    return r;
}
#define remove_file unlink
#define close_fd close
#endif

clgrad_status clgrad__st_save(const char *path, const clgrad__st_entry *entries, size_t n_entries,
                              const clgrad__st_meta *meta, size_t n_meta)
{
    CLGRAD_CHECK_ARG(NULL, path != NULL && path[0] != '\0', "path is NULL or empty");
    CLGRAD_CHECK_ARG(NULL, entries != NULL || n_entries == 0, "entries is NULL");
    CLGRAD_CHECK_ARG(NULL, meta != NULL || n_meta == 0, "meta is NULL");
    CLGRAD_TRY(check_entries(path, entries, n_entries, meta, n_meta));

    clgrad_status s = CLGRAD_OK;
    order_item *ord = malloc((n_entries ? n_entries : 1) * sizeof *ord);
    outfile *o = malloc(sizeof *o);
    size_t tcap = strlen(path) + 64;
    char *tmp = malloc(tcap);
    char *header = NULL;
    int fd = -1;
    if (!ord || !o || !tmp) {
        s = clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", path);
        goto done;
    }
    for (size_t i = 0; i < n_entries; i++) {
        ord[i].esize = dtypes[entries[i].dtype].size;
        ord[i].index = i;
    }
    qsort(ord, n_entries, sizeof *ord, cmp_order);
    s = build_header(path, entries, ord, n_entries, meta, n_meta, &header);
    if (s != CLGRAD_OK) goto done;
    size_t hlen = strlen(header);
    size_t padded = (8 + hlen + 7) / 8 * 8 - 8;

    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        fd = open_tmp(tmp, tcap, path, attempt);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: cannot create the temporary file %s: %s", path,
                         tmp, strerror(errno));
        goto done;
    }
    o->fd = fd;
    o->n = 0;
    o->tmp = tmp;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    s = out_put(o, len8, 8);
    if (s == CLGRAD_OK) s = out_put(o, header, hlen);
    for (size_t i = hlen; s == CLGRAD_OK && i < padded; i++) s = out_put(o, " ", 1);
    for (size_t i = 0; s == CLGRAD_OK && i < n_entries; i++) {
        const clgrad__st_entry *t = &entries[ord[i].index];
        if (t->nbytes) s = out_put_le(o, t->data, t->nbytes, ord[i].esize);
    }
    if (s == CLGRAD_OK) s = out_flush(o);
    if (s == CLGRAD_OK) {
        int r = sync_close(fd);
        fd = -1;
        if (r != 0)
            s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: cannot flush %s to disk: %s", path, tmp,
                             strerror(errno));
    }
    if (s == CLGRAD_OK && replace_file(tmp, path) != 0)
        s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp,
                         strerror(errno));
    if (s != CLGRAD_OK) {
        if (fd >= 0) close_fd(fd);
        fd = -1;
        remove_file(tmp);
        goto done;
    }
    if (sync_dir(path) != 0)
        s = clgrad__fail(NULL, CLGRAD_ERR_IO,
                         "%s: written, but syncing its folder failed, so the rename may not "
                         "survive a crash: %s", path, strerror(errno));
done:
    if (fd >= 0) close_fd(fd);
    cJSON_free(header);
    free(tmp);
    free(o);
    free(ord);
    return s;
}

/* ---------------------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------------------- */

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

/* Validates the header and fills f's tables; f->buf and f->len are set. */
static clgrad_status parse_header(clgrad__st_file *f)
{
    const char *nm = f->name;
    char sbuf[256];
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
    const char *htext = (const char *)f->buf + 8;
    if (memchr(htext, '\0', (size_t)hlen))
        return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: the JSON header contains a NUL byte", nm);
    size_t data_len = f->len - 8 - (size_t)hlen;
    const uint8_t *data = f->buf + 8 + hlen;

    /* cJSON wants a terminated string; parse a copy and insist that only whitespace follows. */
    char *text = malloc((size_t)hlen + 1);
    if (!text) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", nm);
    memcpy(text, htext, (size_t)hlen);
    text[hlen] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)hlen + 1, &end, 0);
    clgrad_status s = CLGRAD_OK;
    span *spans = NULL;
    if (!root) {
        size_t at = end && end >= text && end <= text + hlen ? (size_t)(end - text) : 0;
        s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: the header is not valid JSON (error near byte %zu "
                         "of %llu)", nm, at, (unsigned long long)hlen);
        goto done;
    }
    for (const char *p = end; p && *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: unexpected bytes after the JSON header "
                             "(at byte %zu of %llu)", nm, (size_t)(p - text),
                             (unsigned long long)hlen);
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: the header is JSON but not an object", nm);
        goto done;
    }

    /* Count tensors, metadata items and the string bytes to keep. */
    size_t n = 0, n_meta = 0, str_bytes = 0, n_md_objects = 0;
    const cJSON *md = NULL;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (!c->string) {
            s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: a header member has no name", nm);
            goto done;
        }
        if (strcmp(c->string, "__metadata__") == 0) {
            md = c;
            n_md_objects++;
            if (!cJSON_IsObject(c) && !cJSON_IsNull(c)) {
                s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: __metadata__ is not an object", nm);
                goto done;
            }
            for (const cJSON *m = c->child; m; m = m->next) {
                if (!m->string || !cJSON_IsString(m) || !m->valuestring) {
                    s = clgrad__fail(NULL, CLGRAD_ERR_IO,
                                     "%s: __metadata__ value of '%s' is not a string", nm,
                                     m->string ? m->string : "?");
                    goto done;
                }
                n_meta++;
                str_bytes += strlen(m->string) + strlen(m->valuestring) + 2;
            }
        } else {
            n++;
            str_bytes += strlen(c->string) + 1;
        }
    }
    if (n_md_objects > 1) {
        s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: __metadata__ appears %zu times", nm, n_md_objects);
        goto done;
    }
    f->entries = calloc(n ? n : 1, sizeof *f->entries);
    f->meta = calloc(n_meta ? n_meta : 1, sizeof *f->meta);
    f->strings = malloc(str_bytes ? str_bytes : 1);
    spans = malloc((n ? n : 1) * sizeof *spans);
    if (!f->entries || !f->meta || !f->strings || !spans) {
        s = clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", nm);
        goto done;
    }
    char *sp = f->strings;
#define KEEP(dst, src)                                                                             \
    do {                                                                                           \
        size_t l_ = strlen(src) + 1;                                                               \
        memcpy(sp, (src), l_);                                                                     \
        (dst) = sp;                                                                                \
        sp += l_;                                                                                  \
    } while (0)
    if (md)
        for (const cJSON *m = md->child; m; m = m->next, f->n_meta++) {
            KEEP(f->meta[f->n_meta].key, m->string);
            KEEP(f->meta[f->n_meta].value, m->valuestring);
        }

    for (const cJSON *c = root->child; c; c = c->next) {
        if (c == md) continue;
        const char *tn = c->string;
        if (!cJSON_IsObject(c)) {
            s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: tensor '%s': not a JSON object", nm, tn);
            goto done;
        }
        const cJSON *jd = cJSON_GetObjectItemCaseSensitive(c, "dtype");
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(c, "shape");
        const cJSON *jo = cJSON_GetObjectItemCaseSensitive(c, "data_offsets");
        if (!cJSON_IsString(jd) || !jd->valuestring) {
            s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: tensor '%s': missing or non-string dtype",
                             nm, tn);
            goto done;
        }
        clgrad__st_entry *e = &f->entries[f->n];
        if (!dtype_from_name(jd->valuestring, &e->dtype)) {
            s = clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: tensor '%s': unknown dtype '%.32s'",
                             nm, tn, jd->valuestring);
            goto done;
        }
        if (!cJSON_IsArray(js)) {
            s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: tensor '%s': missing or non-array shape",
                             nm, tn);
            goto done;
        }
        int nd = cJSON_GetArraySize(js);
        if (nd > CLGRAD__ST_MAX_DIMS) {
            s = clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED,
                             "%s: tensor '%s' has %d dimensions; at most %d are supported", nm, tn,
                             nd, CLGRAD__ST_MAX_DIMS);
            goto done;
        }
        e->ndim = 0;
        for (const cJSON *d = js->child; d; d = d->next) {
            uint64_t v;
            if (!json_uint(d, &v)) {
                s = clgrad__fail(NULL, CLGRAD_ERR_IO,
                                 "%s: tensor '%s': shape holds something other than a "
                                 "non-negative integer", nm, tn);
                goto done;
            }
            e->shape[e->ndim++] = (int64_t)v;
        }
        uint64_t ob = 0, oe = 0;
        if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || !json_uint(jo->child, &ob) ||
            !json_uint(jo->child->next, &oe)) {
            s = clgrad__fail(NULL, CLGRAD_ERR_IO,
                             "%s: tensor '%s': data_offsets is not a pair of non-negative integers",
                             nm, tn);
            goto done;
        }
        if (ob > oe || oe > data_len) {
            s = clgrad__fail(NULL, CLGRAD_ERR_IO,
                             "%s: tensor '%s': data_offsets [%llu, %llu] do not lie in the %zu-byte "
                             "data area", nm, tn, (unsigned long long)ob, (unsigned long long)oe,
                             data_len);
            goto done;
        }
        size_t want;
        if (!shape_nbytes(e->ndim, e->shape, dtypes[e->dtype].size, &want) || want != oe - ob) {
            s = clgrad__fail(NULL, CLGRAD_ERR_IO,
                             "%s: tensor '%s': shape %s of %s needs %s bytes but data_offsets "
                             "[%llu, %llu] hold %llu", nm, tn,
                             clgrad__shape_str(sbuf, sizeof sbuf, e->ndim, e->shape),
                             dtypes[e->dtype].name,
                             shape_nbytes(e->ndim, e->shape, dtypes[e->dtype].size, &want)
                                 ? "a different number of" : "more than addressable",
                             (unsigned long long)ob, (unsigned long long)oe,
                             (unsigned long long)(oe - ob));
            goto done;
        }
        KEEP(e->name, tn);
        e->data = data + ob;
        e->nbytes = (size_t)(oe - ob);
        spans[f->n].begin = ob;
        spans[f->n].end = oe;
        spans[f->n].entry = f->n;
        f->n++;
    }
#undef KEEP

    /* The tensors must tile the data area exactly: in order, no overlap, no gap. */
    qsort(spans, f->n, sizeof *spans, cmp_span);
    uint64_t at = 0;
    for (size_t i = 0; i < f->n; i++) {
        const char *tn = f->entries[spans[i].entry].name;
        if (spans[i].begin < at) {
            s = clgrad__fail(NULL, CLGRAD_ERR_IO,
                             "%s: tensor '%s' at [%llu, %llu] overlaps tensor '%s' before it", nm,
                             tn, (unsigned long long)spans[i].begin,
                             (unsigned long long)spans[i].end,
                             f->entries[spans[i - 1].entry].name);
            goto done;
        }
        if (spans[i].begin > at) {
            s = clgrad__fail(NULL, CLGRAD_ERR_IO,
                             "%s: bytes [%llu, %llu) of the data area belong to no tensor (gap "
                             "before '%s')", nm, (unsigned long long)at,
                             (unsigned long long)spans[i].begin, tn);
            goto done;
        }
        at = spans[i].end;
    }
    if (at != data_len) {
        s = clgrad__fail(NULL, CLGRAD_ERR_IO,
                         "%s: the data area holds %zu bytes but the tensors cover %llu", nm,
                         data_len, (unsigned long long)at);
        goto done;
    }

    qsort(f->entries, f->n, sizeof *f->entries, cmp_entry_name);
    for (size_t i = 1; i < f->n; i++)
        if (strcmp(f->entries[i - 1].name, f->entries[i].name) == 0) {
            s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: tensor name '%s' appears twice", nm,
                             f->entries[i].name);
            goto done;
        }
    qsort(f->meta, f->n_meta, sizeof *f->meta, cmp_meta_key);
    for (size_t i = 1; i < f->n_meta; i++)
        if (strcmp(f->meta[i - 1].key, f->meta[i].key) == 0) {
            s = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: metadata key '%s' appears twice", nm,
                             f->meta[i].key);
            goto done;
        }
done:
    free(spans);
    cJSON_Delete(root);
    free(text);
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
                            f->name, name, dtypes[e->dtype].name,
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
        if (!host_is_le()) swap_elems(dst, e->nbytes, dtypes[e->dtype].size);
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
        double x = strtod(v, &end);
        if (*end == '.' && localeconv()->decimal_point[0] != '.') {
            /* The program set a locale whose decimal mark is not '.'; values are written with '.'. */
            char tmp[64];
            size_t l = strlen(v);
            if (l < sizeof tmp) {
                memcpy(tmp, v, l + 1);
                tmp[end - v] = localeconv()->decimal_point[0];
                x = strtod(tmp, &end);
                end = (char *)v + (end - tmp);
            }
        }
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
