/* On-disk cache of compiled program binaries.
 *
 * Entry file <dir>/<key>.bin: magic "CLGRADPB", u32 format version, u32 reserved,
 * u64 payload length, u64 XXH64 checksum of the payload, payload. Everything is checked
 * before the payload is handed to clCreateProgramWithBinary, because some drivers (PoCL
 * 3.1) abort the process on a damaged binary. Entries are read and written through
 * src/core/file.c: a write goes to a temporary file that is fsync'd and renamed over the
 * entry, so readers never see half an entry. */
#include "program/program.h"

#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

static const char magic[8] = {'C', 'L', 'G', 'R', 'A', 'D', 'P', 'B'};
#define HEADER_SIZE 32

static void put_u32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put_u64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint32_t get_u32(const unsigned char *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = (v << 8) | p[i]; return v; }
static uint64_t get_u64(const unsigned char *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = (v << 8) | p[i]; return v; }

void clgrad__cache_key(const clgrad_context *ctx, const char *source, size_t source_len, const char *options,
                       char key[33])
{
    XXH3_state_t *st = XXH3_createState();
    const clgrad_device_info *d = &clgrad__dev(ctx)->info;
    uint32_t fmt = CLGRAD__PROGRAM_CACHE_FORMAT;
    XXH128_hash_t h;
    if (!st) { /* fall back to hashing the pieces one after another */
        h.low64 = XXH3_64bits(source, source_len) ^ XXH3_64bits(options, strlen(options));
        h.high64 = XXH3_64bits(d->name, strlen(d->name)) ^ XXH3_64bits(d->driver_version, strlen(d->driver_version));
    } else {
        XXH3_128bits_reset(st);
        XXH3_128bits_update(st, &fmt, sizeof fmt);
        const char *parts[] = {d->platform_name, d->platform_version, d->name, d->vendor, d->version, d->driver_version};
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
            XXH3_128bits_update(st, parts[i], strlen(parts[i]) + 1); /* +1: the NUL separates fields */
        XXH3_128bits_update(st, options, strlen(options) + 1);
        XXH3_128bits_update(st, source, source_len);
        h = XXH3_128bits_digest(st);
        XXH3_freeState(st);
    }
    snprintf(key, 33, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
}

char *clgrad__cache_path(const char *dir, const char *key)
{
    size_t n = strlen(dir) + strlen(key) + 8;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s.bin", dir, key);
    return p;
}

/* Cache entries are the library's own files in a folder others may write to: a link in
 * place of an entry is refused, and a failure is a miss, recorded nowhere. */
#define CACHE_FILE_FLAGS (CLGRAD__FILE_QUIET | CLGRAD__FILE_NOFOLLOW)
#define MAX_ENTRY_BYTES ((size_t)1 << 30)

clgrad_status clgrad__cache_load(const char *dir, const char *key, unsigned char **payload, size_t *len)
{
    *payload = NULL;
    *len = 0;
    char *path = clgrad__cache_path(dir, key);
    if (!path) return CLGRAD_ERR_HOST_MEMORY;
    uint8_t *buf = NULL;
    size_t n = 0;
    clgrad_status st = clgrad__file_read(path, MAX_ENTRY_BYTES, CACHE_FILE_FLAGS, &buf, &n);
    if (st != CLGRAD_OK) {
        free(path);
        return st == CLGRAD_ERR_HOST_MEMORY ? st : CLGRAD_ERR_IO; /* a miss */
    }
    int ok = n > HEADER_SIZE && memcmp(buf, magic, 8) == 0 && get_u32(buf + 8) == CLGRAD__PROGRAM_CACHE_FORMAT &&
             get_u64(buf + 16) == (uint64_t)(n - HEADER_SIZE) &&
             XXH64(buf + HEADER_SIZE, n - HEADER_SIZE, 0) == get_u64(buf + 24);
    if (!ok) {
        free(buf);
        unlink(path); /* corrupt or stale: never trusted, rebuilt by the caller */
        free(path);
        return CLGRAD_ERR_IO;
    }
    free(path);
    memmove(buf, buf + HEADER_SIZE, n - HEADER_SIZE);
    *payload = buf;
    *len = n - HEADER_SIZE;
    return CLGRAD_OK;
}

clgrad_status clgrad__cache_store(const char *dir, const char *key, const unsigned char *payload, size_t len)
{
    char *path = clgrad__cache_path(dir, key);
    if (!path) return CLGRAD_ERR_HOST_MEMORY;
    unsigned char hdr[HEADER_SIZE] = {0};
    memcpy(hdr, magic, 8);
    put_u32(hdr + 8, CLGRAD__PROGRAM_CACHE_FORMAT);
    put_u64(hdr + 16, (uint64_t)len);
    put_u64(hdr + 24, XXH64(payload, len, 0));
    clgrad__atomic_file *f = NULL;
    clgrad_status st = clgrad__atomic_open(path, CACHE_FILE_FLAGS, &f);
    if (st == CLGRAD_OK) {
        clgrad__atomic_write(f, hdr, HEADER_SIZE);
        clgrad__atomic_write(f, payload, len);
        st = clgrad__atomic_commit(f);
    }
    free(path);
    return st;
}

static int mkdir_p(const char *path)
{
    char *p = strdup(path);
    if (!p) return 0;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            free(p);
            return 0;
        }
        *s = '/';
    }
    int ok = mkdir(p, 0755) == 0 || errno == EEXIST;
    free(p);
    return ok;
}

char *clgrad__cache_dir_resolve(const char *requested)
{
    const char *env = clgrad__getenv("CLGRAD_CACHE_DIR");
    const char *use = requested ? requested : env;
    char *dir = NULL;
    if (use) {
        if (!*use || strcmp(use, "off") == 0) return NULL;
        dir = strdup(use);
    } else {
        const char *xdg = clgrad__getenv("XDG_CACHE_HOME");
        const char *home = clgrad__getenv("HOME");
        if (!xdg && !home) return NULL;
        size_t n = strlen(xdg ? xdg : home) + 32;
        dir = malloc(n);
        if (dir) snprintf(dir, n, xdg ? "%s/clgrad" : "%s/.cache/clgrad", xdg ? xdg : home);
    }
    if (!dir) return NULL;
    /* unusable (cannot create or write): run without a cache, silently */
    if (!mkdir_p(dir) || access(dir, W_OK | X_OK) != 0) {
        free(dir);
        return NULL;
    }
    return dir;
}
