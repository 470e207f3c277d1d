/* NumPy .npy files (the format of numpy.lib.format): reading with conversion to f32 / i32,
 * and writing f32 / i32 arrays.
 *
 * Layout: the magic "\x93NUMPY", a major and minor version byte, the header length (2
 * bytes little-endian in version 1, 4 bytes in versions 2 and 3), the header: a Python dict
 * literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and
 * a final newline, then the raw elements. The header is parsed as that literal and nothing
 * more (no general Python evaluation): strings in either quote, True/False and tuples of
 * non-negative integers. */
#include "core/core.h"
#include "core/file.h"
#include "io/io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- header parsing --------------------------------------------------------------------- */

typedef struct hdr {
    const char *p, *end;
    char descr[16];
    int have_descr, have_order, have_shape, fortran, ndim;
    int64_t shape[CLGRAD_MAX_DIMS];
} hdr;

static void skip_ws(hdr *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}

static int eat(hdr *h, char c)
{
    skip_ws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes into buf; 0 when malformed or too long. */
static int parse_str(hdr *h, char *buf, size_t cap)
{
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return 0;
    char q = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || n + 1 >= cap) return 0;
        buf[n++] = *h->p++;
    }
    if (h->p >= h->end) return 0;
    h->p++;
    buf[n] = 0;
    return 1;
}

static int parse_word(hdr *h, const char *w)
{
    skip_ws(h);
    size_t n = strlen(w);
    if ((size_t)(h->end - h->p) >= n && memcmp(h->p, w, n) == 0) {
        h->p += n;
        return 1;
    }
    return 0;
}

/* (d0, d1, ...) with an optional trailing comma; () is a scalar. Returns a message or NULL. */
static const char *parse_shape(hdr *h)
{
    if (!eat(h, '(')) return "the shape is not a tuple";
    h->ndim = 0;
    for (;;) {
        if (eat(h, ')')) return NULL;
        skip_ws(h);
        if (h->p >= h->end || *h->p < '0' || *h->p > '9') return "the shape holds something other than integers";
        int64_t v = 0;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            if (v > (INT64_MAX - 9) / 10) return "a dimension of the shape is too large";
            v = v * 10 + (*h->p++ - '0');
        }
        skip_ws(h);
        if (h->p < h->end && *h->p == 'L') h->p++; /* Python 2 longs */
        if (h->ndim == CLGRAD_MAX_DIMS) return "more dimensions than clgrad supports";
        h->shape[h->ndim++] = v;
        if (eat(h, ',')) continue;
        if (eat(h, ')')) return NULL;
        return "the shape tuple is malformed";
    }
}

/* Returns a message naming the fault, or NULL. *unsupported is set for well-formed headers
 * that describe something clgrad cannot hold. */
static const char *parse_header(hdr *h, int *unsupported)
{
    *unsupported = 0;
    if (!eat(h, '{')) return "the header is not a dict literal";
    for (;;) {
        if (eat(h, '}')) break;
        char key[32];
        if (!parse_str(h, key, sizeof key)) return "a header key is not a string";
        if (!eat(h, ':')) return "a header key has no value";
        if (strcmp(key, "descr") == 0) {
            skip_ws(h);
            if (h->p < h->end && *h->p == '[') {
                *unsupported = 1;
                return "structured arrays (a list as 'descr') are not supported";
            }
            if (!parse_str(h, h->descr, sizeof h->descr)) return "'descr' is not a short string";
            h->have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (parse_word(h, "True")) h->fortran = 1;
            else if (parse_word(h, "False")) h->fortran = 0;
            else return "'fortran_order' is neither True nor False";
            h->have_order = 1;
        } else if (strcmp(key, "shape") == 0) {
            const char *m = parse_shape(h);
            if (m) {
                *unsupported = strcmp(m, "more dimensions than clgrad supports") == 0;
                return m;
            }
            h->have_shape = 1;
        } else {
            return "the header has an unknown key";
        }
        if (eat(h, ',')) continue;
        if (eat(h, '}')) break;
        return "the header dict is malformed";
    }
    skip_ws(h);
    if (h->p != h->end) return "text follows the header dict";
    if (!h->have_descr || !h->have_order || !h->have_shape)
        return "the header lacks one of 'descr', 'fortran_order' and 'shape'";
    return NULL;
}

/* --- element conversion ----------------------------------------------------------------- */

typedef enum kind { K_FLOAT, K_INT, K_UINT, K_BOOL } kind;

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    if (e == 0x1f) bits = sign | 0x7f800000u | (m << 13); /* inf, NaN */
    else if (e != 0) bits = sign | ((e + 112) << 23) | (m << 13);
    else if (m == 0) bits = sign;
    else { /* subnormal: normalise */
        e = 113;
        while (!(m & 0x400)) {
            m <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((m & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Reads element bytes p (size sz, big-endian when swap) as an unsigned bit pattern. */
static uint64_t load_bits(const uint8_t *p, size_t sz, int big)
{
    uint64_t v = 0;
    for (size_t b = 0; b < sz; b++) v |= (uint64_t)p[big ? sz - 1 - b : b] << (8 * b);
    return v;
}

/* Converts element i of the file; returns 0 for an integer outside the i32 range. */
static int convert(kind k, size_t sz, int big, const uint8_t *src, void *dst, int64_t at)
{
    uint64_t v = load_bits(src, sz, big);
    if (k == K_FLOAT) {
        float f;
        if (sz == 2) f = half_to_float((uint16_t)v);
        else if (sz == 4) {
            uint32_t w = (uint32_t)v;
            memcpy(&f, &w, 4);
        } else {
            double d;
            memcpy(&d, &v, 8);
            f = (float)d;
        }
        ((float *)dst)[at] = f;
        return 1;
    }
    int64_t s;
    if (k == K_INT) {
        if (sz < 8 && (v >> (8 * sz - 1)) & 1) v |= ~(uint64_t)0 << (8 * sz); /* sign-extend */
        s = (int64_t)v;
    } else {
        if (v > (uint64_t)INT32_MAX) return 0;
        s = (int64_t)v;
        if (k == K_BOOL) s = v != 0;
    }
    if (s < INT32_MIN || s > INT32_MAX) return 0;
    ((int32_t *)dst)[at] = (int32_t)s;
    return 1;
}

/* --- loading ----------------------------------------------------------------------------- */

static clgrad_status bad(const char *name, const char *what)
{
    return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: not a valid .npy file: %s", name, what);
}

/* The preamble: magic, version and header length; *off is where the header starts. */
static clgrad_status read_preamble(const uint8_t *b, size_t size, const char *name, size_t *off, size_t *hlen)
{
    if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0) return bad(name, "no \\x93NUMPY magic at the start");
    int major = b[6];
    if (major == 1) {
        *hlen = (size_t)b[8] | (size_t)b[9] << 8;
        *off = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) return bad(name, "truncated in the header length");
        *hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        *off = 12;
    } else {
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: .npy format version %d.%d is not supported (1 to 3 are)",
                            name, major, b[7]);
    }
    if (*hlen > size - *off) return bad(name, "the header is longer than the file");
    return CLGRAD_OK;
}

/* The type of descr: byte order, kind and size ("<f4", "|u1", ">i8"). */
static clgrad_status parse_descr(const char *descr, const char *name, int *big, kind *k, long *size)
{
    const char *d = descr;
    char *endp;
    long sz = 0;
    *big = 0;
    if (d[0] == '<' || d[0] == '|' || d[0] == '=') d++;
    else if (d[0] == '>') *big = 1, d++;
    switch (d[0]) {
    case 'f': *k = K_FLOAT; break;
    case 'i': *k = K_INT; break;
    case 'u': *k = K_UINT; break;
    case 'b': *k = K_BOOL; break;
    case '?': *k = K_BOOL, sz = 1; break;
    default:
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED,
                            "%s: element type '%s' is not supported (floats, integers and booleans are)", name,
                            descr);
    }
    if (d[0] != '?') {
        errno = 0;
        sz = d[1] ? strtol(d + 1, &endp, 10) : 0;
        if (!d[1] || *endp || errno) return bad(name, "the element type has no valid size");
    } else if (d[1]) {
        return bad(name, "the element type has no valid size");
    }
    if ((*k == K_FLOAT && sz != 2 && sz != 4 && sz != 8) || (*k == K_BOOL && sz != 1) ||
        ((*k == K_INT || *k == K_UINT) && sz != 1 && sz != 2 && sz != 4 && sz != 8))
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: element type '%s' is not supported", name, descr);
    *size = sz;
    return CLGRAD_OK;
}

/* The elements of src, count of them, into dst (f32 or i32) in row-major order (src is
 * column-major for Fortran order); fails on an integer outside the i32 range. */
static clgrad_status convert_all(const hdr *h, kind k, size_t sz, int big, const uint8_t *src, int64_t count,
                                 void *dst, const char *name)
{
    int64_t idx[CLGRAD_MAX_DIMS] = {0};
    for (int64_t i = 0; i < count; i++) {
        /* element i in row-major order sits at src index j (column-major for Fortran order) */
        int64_t j = i;
        if (h->fortran && h->ndim > 1) {
            j = 0;
            for (int q = h->ndim - 1; q >= 0; q--) j = j * h->shape[q] + idx[q];
            for (int q = h->ndim - 1; q >= 0; q--) {
                if (++idx[q] < h->shape[q]) break;
                idx[q] = 0;
            }
        }
        if (!convert(k, sz, big, src + (size_t)j * sz, dst, i))
            return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED,
                                "%s: element %lld does not fit in a 32-bit integer (clgrad holds integers as i32)",
                                name, (long long)i);
    }
    return CLGRAD_OK;
}

CLGRAD_API clgrad_status clgrad_npy_load_memory(const void *data, size_t size, const char *name, clgrad_npy **out)
{
    if (out) *out = NULL;
    if (!name) name = "<memory>";
    CLGRAD_CHECK_ARG(NULL, out != NULL && (data != NULL || size == 0), "out must not be NULL, nor data with size > 0");
    const uint8_t *b = data;
    size_t hlen = 0, off = 0;
    CLGRAD_TRY(read_preamble(b, size, name, &off, &hlen));
    hdr h = {.p = (const char *)b + off, .end = (const char *)b + off + hlen};
    if (memchr(h.p, 0, hlen)) return bad(name, "the header holds a NUL byte");
    int unsupported;
    const char *msg = parse_header(&h, &unsupported);
    if (msg)
        return unsupported ? clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED, "%s: %s", name, msg) : bad(name, msg);
    int big = 0;
    kind k = K_FLOAT;
    long sz = 0;
    CLGRAD_TRY(parse_descr(h.descr, name, &big, &k, &sz));

    int64_t count = 1;
    for (int i = 0; i < h.ndim; i++) {
        if (h.shape[i] != 0 && count > INT64_MAX / 8 / h.shape[i]) return bad(name, "the shape is too large");
        count *= h.shape[i];
    }
    size_t body = size - off - hlen;
    if ((uint64_t)count * (uint64_t)sz != body) {
        char m[160];
        snprintf(m, sizeof m, "the shape needs %llu bytes of data, the file has %zu",
                 (unsigned long long)count * (unsigned long long)sz, body);
        return bad(name, m);
    }

    clgrad_npy *a = calloc(1, sizeof *a);
    void *dst = malloc((size_t)(count ? count : 1) * 4);
    clgrad_status st = a && dst ? CLGRAD_OK
                                : clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory for %lld elements",
                                               name, (long long)count);
    if (st == CLGRAD_OK) st = convert_all(&h, k, (size_t)sz, big, b + off + hlen, count, dst, name);
    if (st != CLGRAD_OK) {
        free(a);
        free(dst);
        return st;
    }
    a->dtype = k == K_FLOAT ? CLGRAD_DTYPE_F32 : CLGRAD_DTYPE_I32;
    snprintf(a->descr, sizeof a->descr, "%s", h.descr);
    a->ndim = h.ndim;
    memcpy(a->shape, h.shape, sizeof h.shape);
    a->count = count;
    a->data = dst;
    *out = a;
    return CLGRAD_OK;
}

CLGRAD_API clgrad_status clgrad_npy_load(const char *path, clgrad_npy **out)
{
    if (out) *out = NULL;
    CLGRAD_CHECK_ARG(NULL, path != NULL && out != NULL, "path and out must not be NULL");
    uint8_t *buf = NULL;
    size_t len = 0;
    CLGRAD_TRY(clgrad__file_read(path, SIZE_MAX, 0, &buf, &len)); /* the caller's own file */
    clgrad_status st = clgrad_npy_load_memory(buf, len, path, out);
    free(buf);
    return st;
}

CLGRAD_API void clgrad_npy_release(clgrad_npy *a)
{
    if (!a) return;
    free(a->data);
    free(a);
}

/* --- saving ------------------------------------------------------------------------------ */

CLGRAD_API clgrad_status clgrad_npy_save(const char *path, clgrad_dtype dtype, int ndim, const int64_t *shape,
                                         const void *data)
{
    CLGRAD_CHECK_ARG(NULL, path != NULL && path[0], "path must name a file");
    CLGRAD_CHECK_ARG(NULL, dtype == CLGRAD_DTYPE_F32 || dtype == CLGRAD_DTYPE_I32, "dtype must be F32 or I32");
    CLGRAD_CHECK_ARG(NULL, ndim >= 0 && ndim <= CLGRAD_MAX_DIMS && (shape != NULL || ndim == 0),
                     "ndim must be 0..8 with a shape");
    int64_t count = 1;
    char dims[CLGRAD_MAX_DIMS * 24 + 8] = "";
    size_t dl = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] && count > INT64_MAX / 4 / shape[i]))
            return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_npy_save: %s: dimension %d is %lld", path, i,
                                (long long)shape[i]);
        count *= shape[i];
        dl += (size_t)snprintf(dims + dl, sizeof dims - dl, "%lld,%s", (long long)shape[i],
                               ndim > 1 && i + 1 < ndim ? " " : "");
    }
    if (ndim > 1) dims[dl - 1] = 0; /* (2, 3) but (5,) */
    CLGRAD_CHECK_ARG(NULL, data != NULL || count == 0, "data must not be NULL");

    char header[512];
    int n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                     dtype == CLGRAD_DTYPE_F32 ? "<f4" : "<i4", dims);
    size_t total = 10 + (size_t)n + 1, pad = (64 - total % 64) % 64; /* data 64-byte aligned */
    memset(header + n, ' ', pad);
    header[(size_t)n + pad] = '\n';
    size_t hlen = (size_t)n + pad + 1;
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(hlen & 0xff), (uint8_t)(hlen >> 8)};

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "clgrad_npy_save: out of host memory");
    snprintf(tmp, plen + 32, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        clgrad_status st = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    /* .npy data is little-endian; clgrad's hosts are too, but write byte by byte if not */
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(header, 1, hlen, f) == hlen;
    const uint16_t probe = 1;
    if (ok && *(const uint8_t *)&probe == 1) {
        ok = count == 0 || fwrite(data, 4, (size_t)count, f) == (size_t)count;
    } else {
        for (int64_t i = 0; ok && i < count; i++) {
            uint32_t v;
            memcpy(&v, (const uint8_t *)data + 4 * i, 4);
            uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
            ok = fwrite(le, 1, 4, f) == 4;
        }
    }
    int err = ok ? 0 : errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        err = errno;
    }
    clgrad_status st = CLGRAD_OK;
    if (!ok) {
        remove(tmp);
        st = clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: cannot write: %s", path, err ? strerror(err) : "write failed");
    }
    free(tmp);
    return st;
}
