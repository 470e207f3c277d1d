/* The IDX reader: gzip detection and streaming decompression through
 * zlib, and the checks that turn any malformed file into an error that names the fault.
 * An IDX file is a 4-byte magic number (two zero bytes, a type byte, a dimension count),
 * one big-endian 32-bit size per dimension, then the elements, big-endian, row-major. */
#include "core/core.h"
#include "core/file.h"
#include "io.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---------------------------------------------------------------------------------------
 * Byte sources: the file's bytes as they are, or inflated from gzip
 * ------------------------------------------------------------------------------------- */

typedef struct source {
    const char *name;
    const uint8_t *bytes; /* the whole input */
    size_t len;
    size_t pos;           /* consumed input bytes (plain) or input fed to zlib (gzip) */
    int gz;               /* 1: gzip stream */
    int gz_open;          /* inflateInit2 succeeded */
    int gz_end;           /* last member finished and no input left */
    z_stream z;
} source;

static clgrad_status gz_fail(source *s, int zr)
{
    if (zr == Z_MEM_ERROR)
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory in zlib", s->name);
    return clgrad__fail(NULL, CLGRAD_ERR_IO, "%s: corrupt gzip data: %s", s->name,
                        s->z.msg ? s->z.msg : zError(zr));
}

/* Reads up to n bytes into dst; *got < n only at the end of the data. */
static clgrad_status source_read(source *s, uint8_t *dst, size_t n, size_t *got)
{
    *got = 0;
    if (!s->gz) {
        size_t k = s->len - s->pos < n ? s->len - s->pos : n;
        if (k) memcpy(dst, s->bytes + s->pos, k);
        s->pos += k;
        *got = k;
        return CLGRAD_OK;
    }
    while (*got < n && !s->gz_end) {
        if (s->z.avail_in == 0 && s->pos < s->len) {
            size_t k = s->len - s->pos;
            s->z.next_in = (Bytef *)(uintptr_t)(s->bytes + s->pos);
            s->z.avail_in = k > UINT_MAX ? UINT_MAX : (uInt)k;
            s->pos += s->z.avail_in;
        }
        size_t want = n - *got;
        s->z.next_out = dst + *got;
        s->z.avail_out = want > UINT_MAX ? UINT_MAX : (uInt)want;
        uInt before = s->z.avail_out;
        int zr = inflate(&s->z, Z_NO_FLUSH);
        *got += before - s->z.avail_out;
        if (zr == Z_STREAM_END) {
            size_t left = s->z.avail_in + (s->len - s->pos);
            if (left == 0) {
                s->gz_end = 1;
                break;
            }
            /* Another gzip member follows (as `cat a.gz b.gz` makes); anything else is junk.
             * The unconsumed input is contiguous: next_in + avail_in == bytes + pos. */
            const uint8_t *p = s->bytes + (s->pos - s->z.avail_in);
            if (left < 2 || p[0] != 0x1f || p[1] != 0x8b)
                return clgrad__fail(NULL, CLGRAD_ERR_IO,
                                    "%s: %zu bytes of trailing garbage after the gzip data",
                                    s->name, left);
            zr = inflateReset(&s->z);
            if (zr != Z_OK) return gz_fail(s, zr);
            continue;
        }
        if (zr == Z_BUF_ERROR && s->z.avail_in == 0 && s->pos == s->len)
            return clgrad__fail(NULL, CLGRAD_ERR_IO,
                                "%s: gzip data is truncated (the stream ends before its end marker)",
                                s->name);
        if (zr != Z_OK && zr != Z_BUF_ERROR) return gz_fail(s, zr == Z_NEED_DICT ? Z_DATA_ERROR : zr);
    }
    return CLGRAD_OK;
}

static clgrad_status source_open(source *s, const void *bytes, size_t len, const char *name)
{
    memset(s, 0, sizeof *s);
    s->name = name;
    s->bytes = bytes;
    s->len = len;
    s->gz = len >= 2 && s->bytes[0] == 0x1f && s->bytes[1] == 0x8b;
    if (s->gz) {
        int zr = inflateInit2(&s->z, 15 + 16); /* gzip wrapper only */
        if (zr != Z_OK) return gz_fail(s, zr);
        s->gz_open = 1;
    }
    return CLGRAD_OK;
}

static void source_close(source *s)
{
    if (s->gz_open) inflateEnd(&s->z);
    s->gz_open = 0;
}

/* ---------------------------------------------------------------------------------------
 * IDX parsing
 * ------------------------------------------------------------------------------------- */

static size_t idx_elem_size(int type)
{
    switch (type) {
    case CLGRAD_IDX_U8:
    case CLGRAD_IDX_I8: return 1;
    case CLGRAD_IDX_I16: return 2;
    case CLGRAD_IDX_I32:
    case CLGRAD_IDX_F32: return 4;
    case CLGRAD_IDX_F64: return 8;
    default: return 0;
    }
}

static const char *idx_type_name(int type)
{
    switch (type) {
    case CLGRAD_IDX_U8: return "unsigned byte";
    case CLGRAD_IDX_I8: return "signed byte";
    case CLGRAD_IDX_I16: return "16-bit int";
    case CLGRAD_IDX_I32: return "32-bit int";
    case CLGRAD_IDX_F32: return "float";
    case CLGRAD_IDX_F64: return "double";
    default: return "unknown";
    }
}

static const char *dims_str(char *buf, size_t cap, int ndim, const uint64_t *dims)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && at < cap; i++) {
        int k = snprintf(buf + at, cap - at, "%s%llu", i ? "x" : "", (unsigned long long)dims[i]);
        if (k < 0) break;
        at += (size_t)k;
    }
    return buf;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Big-endian elements to host order, in place; by value, so it holds on any host. */
static void idx_to_host(uint8_t *p, size_t count, size_t esize)
{
    if (esize == 2) {
        for (size_t i = 0; i < count; i++, p += 2) {
            uint16_t v = (uint16_t)((unsigned)p[0] << 8 | p[1]);
            memcpy(p, &v, 2);
        }
    } else if (esize == 4) {
        for (size_t i = 0; i < count; i++, p += 4) {
            uint32_t v = be32(p);
            memcpy(p, &v, 4);
        }
    } else if (esize == 8) {
        for (size_t i = 0; i < count; i++, p += 8) {
            uint64_t v = (uint64_t)be32(p) << 32 | be32(p + 4);
            memcpy(p, &v, 8);
        }
    }
}

/* The limits in force: the caller's, zeros replaced by the defaults. */
typedef struct limits {
    uint64_t max_bytes;
    double max_ratio;
} limits;

static clgrad_status resolve_limits(const clgrad_idx_limits *in, limits *out)
{
    out->max_bytes = in && in->max_bytes ? in->max_bytes : CLGRAD_IDX_DEFAULT_MAX_BYTES;
    out->max_ratio = in && in->max_ratio != 0.0 ? in->max_ratio : CLGRAD_IDX_DEFAULT_MAX_RATIO;
    if (!(out->max_ratio > 0.0) || out->max_ratio > 1e300)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_idx_limits: max_ratio %g must be finite and >= 0",
                            out->max_ratio);
    return CLGRAD_OK;
}

/* The most bytes a gzip stream of in_bytes compressed bytes may inflate to. */
static double gz_allowed(const limits *lim, uint64_t in_bytes)
{
    double a = lim->max_ratio * (double)in_bytes;
    return a > (double)CLGRAD_IDX_RATIO_FLOOR ? a : (double)CLGRAD_IDX_RATIO_FLOOR;
}

static clgrad_status gz_ratio_fail(const source *s, const limits *lim, uint64_t out_bytes, const char *how)
{
    return clgrad__fail(NULL, CLGRAD_ERR_IO,
                        "%s: %s %llu bytes from a %zu-byte gzip file, more than %g times its size (a "
                        "decompression bomb? clgrad_idx_limits.max_ratio raises the limit)",
                        s->name, how, (unsigned long long)out_bytes, s->len, lim->max_ratio);
}

/* Reads the rest of a gzip stream into a buffer that grows as data arrives (never past the
 * header's claim, which the limits have bounded already), so a header claiming more data
 * than the stream holds cannot make us allocate it up front. The whole compressed file is
 * in memory, so the ratio is checked once against its full size, before inflating: a
 * check per chunk would add nothing but refuse files whose first part compresses well. */
static clgrad_status gz_read_data(source *s, size_t nbytes, uint8_t **out, size_t *got_total)
{
    size_t cap = nbytes < ((size_t)1 << 20) ? nbytes : ((size_t)1 << 20);
    size_t n = 0;
    uint8_t *b = NULL;
    *out = NULL;
    *got_total = 0;
    if (nbytes == 0) return CLGRAD_OK;
    b = malloc(cap);
    if (!b) return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", s->name);
    for (;;) {
        size_t got;
        clgrad_status st = source_read(s, b + n, cap - n, &got);
        if (st != CLGRAD_OK) {
            free(b);
            return st;
        }
        n += got;
        if (n < cap || n == nbytes) break; /* end of stream, or everything the header asked for */
        size_t ncap = cap > nbytes / 2 ? nbytes : cap * 2;
        uint8_t *nb = realloc(b, ncap);
        if (!nb) {
            free(b);
            return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY,
                                "%s: out of host memory (%zu bytes)", s->name, ncap);
        }
        b = nb;
        cap = ncap;
    }
    *out = b;
    *got_total = n;
    return CLGRAD_OK;
}

/* What the header says: type, dimensions, element count and size of the data. */
typedef struct header {
    int type, ndim;
    size_t esize;
    uint64_t dims[CLGRAD_IDX_MAX_DIMS];
    uint64_t count;
    size_t data_bytes;
    char dims_text[128]; /* "60000 x 28 x 28" for messages */
} header;

/* The magic number and the dimensions, each checked. */
static clgrad_status read_header(source *s, const char *name, const char *gz_note, header *h)
{
    uint8_t head[4 + 4 * 255];
    size_t got;
    CLGRAD_TRY(source_read(s, head, 4, &got));
    if (got < 4)
        return clgrad__fail(NULL, CLGRAD_ERR_IO,
                            "%s: not an IDX file: %zu bytes%s, too short for the 4-byte magic number",
                            name, got, gz_note);
    uint32_t magic = be32(head);
    int type = head[2], ndim = head[3];
    if (head[0] != 0 || head[1] != 0)
        return clgrad__fail(NULL, CLGRAD_ERR_IO,
                            "%s: not an IDX file: magic number 0x%08lx does not start with two zero "
                            "bytes", name, (unsigned long)magic);
    size_t esize = idx_elem_size(type);
    if (esize == 0)
        return clgrad__fail(NULL, CLGRAD_ERR_IO,
                            "%s: not an IDX file: unknown data type 0x%02x in magic number 0x%08lx "
                            "(known: 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E)",
                            name, (unsigned)type, (unsigned long)magic);
    if (ndim == 0)
        return clgrad__fail(NULL, CLGRAD_ERR_IO,
                            "%s: IDX magic number 0x%08lx declares 0 dimensions", name,
                            (unsigned long)magic);
    CLGRAD_TRY(source_read(s, head + 4, 4 * (size_t)ndim, &got));
    if (got < 4 * (size_t)ndim)
        return clgrad__fail(NULL, CLGRAD_ERR_IO,
                            "%s: truncated IDX header: %d dimensions need a %d-byte header but the "
                            "file%s holds %zu bytes",
                            name, ndim, 4 + 4 * ndim, gz_note, 4 + got);
    if (ndim > CLGRAD_IDX_MAX_DIMS)
        return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED,
                            "%s: IDX file has %d dimensions; at most %d are supported", name, ndim,
                            CLGRAD_IDX_MAX_DIMS);
    h->type = type;
    h->ndim = ndim;
    h->esize = esize;
    for (int i = 0; i < ndim; i++) h->dims[i] = be32(head + 4 + 4 * i);
    return CLGRAD_OK;
}

/* The element count and data size of the header's dimensions, checked for overflow and
 * against the limits before a byte of data is allocated. */
static clgrad_status header_sizes(const source *s, const char *name, const limits *lim, header *h)
{
    uint64_t count = 1;
    int overflow = 0;
    for (int i = 0; i < h->ndim; i++) {
        if (h->dims[i] != 0 && count > (uint64_t)INT64_MAX / h->dims[i]) overflow = 1;
        else count *= h->dims[i];
    }
    dims_str(h->dims_text, sizeof h->dims_text, h->ndim, h->dims);
    if (overflow || count > SIZE_MAX / h->esize || count * h->esize > (uint64_t)INT64_MAX) {
        /* A zero dimension makes the product 0 whatever the others are. */
        int has_zero = 0;
        for (int i = 0; i < h->ndim; i++) has_zero |= h->dims[i] == 0;
        if (!has_zero)
            return clgrad__fail(NULL, CLGRAD_ERR_IO,
                                "%s: IDX dimensions %s of %zu-byte elements overflow the "
                                "addressable size", name, h->dims_text, h->esize);
        count = 0;
    }
    h->count = count;
    h->data_bytes = (size_t)(count * h->esize);
    if (h->data_bytes > lim->max_bytes)
        return clgrad__fail(NULL, CLGRAD_ERR_IO,
                            "%s: header says %s %s = %zu bytes of data, more than the limit of %llu "
                            "(clgrad_idx_limits.max_bytes)",
                            name, h->dims_text, idx_type_name(h->type), h->data_bytes,
                            (unsigned long long)lim->max_bytes);
    if (s->gz && (double)h->data_bytes > gz_allowed(lim, s->len))
        return gz_ratio_fail(s, lim, h->data_bytes, "the header claims");
    return CLGRAD_OK;
}

/* The data of a plain file: exactly what the header says, to the end of the file. */
static clgrad_status read_plain_data(source *s, const char *name, const header *h, uint8_t **data)
{
    size_t have = s->len - s->pos;
    if (have != h->data_bytes)
        return clgrad__fail(NULL, CLGRAD_ERR_IO,
                            "%s: header says %s %s (%zu bytes each) = %zu bytes of data but "
                            "the file holds %zu",
                            name, h->dims_text, idx_type_name(h->type), h->esize, h->data_bytes, have);
    if (h->data_bytes) {
        *data = malloc(h->data_bytes);
        if (!*data)
            return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY,
                                "%s: out of host memory (%zu bytes)", name, h->data_bytes);
        memcpy(*data, s->bytes + s->pos, h->data_bytes);
    }
    return CLGRAD_OK;
}

/* The data of a gzip file: what the header says, and nothing after it. */
static clgrad_status read_gz_data(source *s, const char *name, const header *h, uint8_t **data)
{
    size_t have;
    CLGRAD_TRY(gz_read_data(s, h->data_bytes, data, &have));
    if (have < h->data_bytes)
        return clgrad__fail(NULL, CLGRAD_ERR_IO,
                            "%s: header says %s %s (%zu bytes each) = %zu bytes of data but "
                            "the file holds %zu after gzip decompression",
                            name, h->dims_text, idx_type_name(h->type), h->esize, h->data_bytes, have);
    uint8_t extra[256];
    size_t more = 0, k;
    do {
        CLGRAD_TRY(source_read(s, extra, sizeof extra, &k));
        more += k;
    } while (k == sizeof extra && more < ((size_t)1 << 20));
    if (more)
        return clgrad__fail(NULL, CLGRAD_ERR_IO,
                            "%s: header says %s %s = %zu bytes of data but the file holds "
                            "%s%zu more after gzip decompression",
                            name, h->dims_text, idx_type_name(h->type), h->data_bytes,
                            k == sizeof extra ? "at least " : "", more);
    return CLGRAD_OK;
}

static clgrad_status parse(const void *bytes, size_t nbytes, const char *name, const limits *lim,
                           clgrad_idx **out)
{
    source s;
    clgrad_status st = source_open(&s, bytes, nbytes, name);
    if (st != CLGRAD_OK) return st;
    header h;
    uint8_t *data = NULL;
    st = read_header(&s, name, s.gz ? " after gzip decompression" : "", &h);
    if (st == CLGRAD_OK) st = header_sizes(&s, name, lim, &h);
    if (st == CLGRAD_OK) st = s.gz ? read_gz_data(&s, name, &h, &data) : read_plain_data(&s, name, &h, &data);
    source_close(&s);
    clgrad_idx *idx = NULL;
    if (st == CLGRAD_OK) {
        idx_to_host(data, (size_t)h.count, h.esize);
        idx = calloc(1, sizeof *idx);
        if (!idx) st = clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", name);
    }
    if (st != CLGRAD_OK) {
        free(data);
        return st;
    }
    idx->type = (clgrad_idx_type)h.type;
    idx->ndim = h.ndim;
    for (int i = 0; i < h.ndim; i++) idx->dims[i] = (int64_t)h.dims[i];
    idx->count = (int64_t)h.count;
    idx->elem_size = h.esize;
    idx->data = data;
    *out = idx;
    return CLGRAD_OK;
}

clgrad_status clgrad_idx_load_memory(const void *bytes, size_t nbytes, const char *name,
                                     clgrad_idx **out)
{
    CLGRAD_CHECK_ARG(NULL, out != NULL, "out is NULL");
    *out = NULL;
    CLGRAD_CHECK_ARG(NULL, bytes != NULL || nbytes == 0, "bytes is NULL");
    limits lim;
    CLGRAD_TRY(resolve_limits(NULL, &lim));
    return parse(bytes, nbytes, name ? name : "<memory>", &lim, out);
}

clgrad_status clgrad_idx_load_limited(const char *path, const clgrad_idx_limits *limits_in, clgrad_idx **out)
{
    CLGRAD_CHECK_ARG(NULL, out != NULL, "out is NULL");
    *out = NULL;
    CLGRAD_CHECK_ARG(NULL, path != NULL, "path is NULL");
    limits lim;
    CLGRAD_TRY(resolve_limits(limits_in, &lim));
    /* The file itself: the data limit plus the largest header, and room for gzip's few
     * bytes of overhead on incompressible data. */
    uint64_t most = lim.max_bytes + lim.max_bytes / 64 + (1u << 16);
    uint8_t *buf;
    size_t len;
    CLGRAD_TRY(clgrad__file_read(path, most < lim.max_bytes || most > SIZE_MAX ? SIZE_MAX : (size_t)most, 0, &buf,
                                 &len));
    clgrad_status st = parse(buf, len, path, &lim, out);
    free(buf);
    return st;
}

clgrad_status clgrad_idx_load(const char *path, clgrad_idx **out)
{
    return clgrad_idx_load_limited(path, NULL, out);
}

void clgrad_idx_release(clgrad_idx *idx)
{
    if (!idx) return;
    free(idx->data);
    free(idx);
}
