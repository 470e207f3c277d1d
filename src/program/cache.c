/* On-disk cache of compiled program binaries.
 *
 * A binary is native code the driver will run in this process (PoCL's are shared objects),
 * so the cache trusts nothing it did not write itself:
 *   - the folder is used only when lstat says it is a real directory (not a link) owned by
 *     the effective user that group and others cannot write; otherwise the context runs
 *     without a cache and says why in clgrad_context_diagnostics. A folder the library
 *     creates gets mode 0700;
 *   - every entry carries an HMAC-SHA256 (Nettle) of its name, header and payload under a
 *     per-folder secret: 32 random bytes in <dir>/hmac-key, mode 0600. An entry copied in
 *     from another cache, another user or another entry name fails the check and is
 *     deleted, so a planted binary is never handed to the driver;
 *   - entries are read without following links and without blocking (a FIFO cannot hang
 *     us), and must be regular files of ours that no one else may write (src/core/file.c);
 *     they are written through the core atomic writer (unique temporary names created with
 *     O_EXCL|O_NOFOLLOW, mode 0600, fsync, rename).
 * On open, the folder is tidied: temporary files older than a day (left by killed
 * processes) and anything under one of our names that is not a regular file of ours are
 * removed, and when the entries add up to more than the size cap ($CLGRAD_CACHE_MAX_MB,
 * default 512 MiB) the least recently used are deleted (a hit refreshes an entry's
 * modification time). Only names this file makes are ever touched, so a cache folder
 * pointed at a folder that holds other files loses none of them.
 *
 * Entry file <dir>/<key>.bin: magic "CLGRADPB", u32 format version, u32 reserved,
 * u64 payload length, 32-byte HMAC-SHA256 over (the 32-character key, the first 24 header
 * bytes, the payload), then the payload. The checks run before the payload reaches
 * clCreateProgramWithBinary, because some drivers (PoCL 3.1) abort the process on a
 * damaged binary. POSIX only, as the folder checks are. */
#include "program/program.h"

#include "core/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

static const char magic[8] = {'C', 'L', 'G', 'R', 'A', 'D', 'P', 'B'};
#define MAC_SIZE SHA256_DIGEST_SIZE
#define HEADER_SIZE (24 + MAC_SIZE)
#define SECRET_SIZE 32
#define SECRET_NAME "hmac-key"
#define MAX_ENTRY_BYTES ((size_t)1 << 30)
#define DEFAULT_MAX_MB 512
#define STALE_SECONDS (24 * 60 * 60)

/* Cache files are the library's own: a link in place of one is refused, and so is a file
 * of another user or one others may write; a failure is a miss, recorded nowhere. */
#define CACHE_FILE_FLAGS (CLGRAD__FILE_QUIET | CLGRAD__FILE_NOFOLLOW | CLGRAD__FILE_OWNED)

struct clgrad__disk_cache {
    char *dir;
    unsigned char secret[SECRET_SIZE];
    uint64_t max_bytes; /* the size cap of the entries together */
    uint64_t bytes;     /* their size as last counted, plus what was stored since */
};

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

/* <dir>/<name><suffix>, malloc'd. */
static char *join(const char *dir, const char *name, const char *suffix)
{
    size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s%s", dir, name, suffix);
    return p;
}

const char *clgrad__cache_folder(const clgrad__disk_cache *c) { return c ? c->dir : NULL; }

/* ---------------------------------------------------------------------------------------
 * Entries
 * ------------------------------------------------------------------------------------- */

static void entry_mac(const clgrad__disk_cache *c, const char *key, const unsigned char *hdr,
                      const unsigned char *payload, size_t len, unsigned char mac[MAC_SIZE])
{
    struct hmac_sha256_ctx h;
    hmac_sha256_set_key(&h, SECRET_SIZE, c->secret);
    hmac_sha256_update(&h, 32, (const uint8_t *)key); /* the name: an entry cannot be moved */
    hmac_sha256_update(&h, 24, hdr);
    hmac_sha256_update(&h, len, payload);
    hmac_sha256_digest(&h, MAC_SIZE, mac);
}

static int valid_key(const char *key)
{
    size_t i = 0;
    while (i < 32 && ((key[i] >= '0' && key[i] <= '9') || (key[i] >= 'a' && key[i] <= 'f'))) i++;
    return i == 32 && key[32] == '\0';
}

clgrad_status clgrad__cache_load(clgrad__disk_cache *c, const char *key, unsigned char **payload, size_t *len)
{
    *payload = NULL;
    *len = 0;
    if (!c || !valid_key(key)) return CLGRAD_ERR_IO;
    char *path = join(c->dir, key, ".bin");
    if (!path) return CLGRAD_ERR_HOST_MEMORY;
    uint8_t *buf = NULL;
    size_t n = 0;
    clgrad_status st = clgrad__file_read(path, MAX_ENTRY_BYTES, CACHE_FILE_FLAGS, &buf, &n);
    if (st != CLGRAD_OK) {
        free(path);
        return st == CLGRAD_ERR_HOST_MEMORY ? st : CLGRAD_ERR_IO; /* a miss */
    }
    unsigned char mac[MAC_SIZE];
    int ok = n > HEADER_SIZE && memcmp(buf, magic, 8) == 0 && get_u32(buf + 8) == CLGRAD__PROGRAM_CACHE_FORMAT &&
             get_u64(buf + 16) == (uint64_t)(n - HEADER_SIZE);
    if (ok) {
        entry_mac(c, key, buf, buf + HEADER_SIZE, n - HEADER_SIZE, mac);
        ok = memeql_sec(mac, buf + 24, MAC_SIZE);
    }
    if (!ok) {
        free(buf);
        unlink(path); /* damaged, stale or not ours: never trusted, rebuilt by the caller */
        free(path);
        return CLGRAD_ERR_IO;
    }
    /* a hit makes the entry the most recently used (best effort) */
    utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW);
    free(path);
    memmove(buf, buf + HEADER_SIZE, n - HEADER_SIZE);
    *payload = buf;
    *len = n - HEADER_SIZE;
    return CLGRAD_OK;
}

static void trim(clgrad__disk_cache *c);

clgrad_status clgrad__cache_store(clgrad__disk_cache *c, const char *key, const unsigned char *payload, size_t len)
{
    if (!c || !valid_key(key)) return CLGRAD_ERR_INVALID_ARG;
    char *path = join(c->dir, key, ".bin");
    if (!path) return CLGRAD_ERR_HOST_MEMORY;
    unsigned char hdr[HEADER_SIZE] = {0};
    memcpy(hdr, magic, 8);
    put_u32(hdr + 8, CLGRAD__PROGRAM_CACHE_FORMAT);
    put_u64(hdr + 16, (uint64_t)len);
    entry_mac(c, key, hdr, payload, len, hdr + 24);
    clgrad__atomic_file *f = NULL;
    clgrad_status st = clgrad__atomic_open(path, CACHE_FILE_FLAGS, &f);
    if (st == CLGRAD_OK) {
        clgrad__atomic_write(f, hdr, HEADER_SIZE);
        clgrad__atomic_write(f, payload, len);
        st = clgrad__atomic_commit(f);
    }
    free(path);
    if (st == CLGRAD_OK) {
        c->bytes += HEADER_SIZE + (uint64_t)len;
        if (c->bytes > c->max_bytes) trim(c);
    }
    return st;
}

void clgrad__cache_remove(clgrad__disk_cache *c, const char *key)
{
    if (!c || !valid_key(key)) return;
    char *path = join(c->dir, key, ".bin");
    if (path) unlink(path);
    free(path);
}

/* ---------------------------------------------------------------------------------------
 * The folder: checks, the secret, tidying
 * ------------------------------------------------------------------------------------- */

/* What a name in the folder is, for tidying: only names this library makes are touched. */
enum { NAME_OTHER, NAME_ENTRY, NAME_VERDICT, NAME_SECRET, NAME_TEMP };

static int hex32(const char *s)
{
    for (int i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

static int name_kind(const char *name)
{
    const char *rest = NULL;
    int kind = NAME_OTHER;
    if (strlen(name) >= 36 && hex32(name) && strncmp(name + 32, ".bin", 4) == 0) {
        rest = name + 36;
        kind = NAME_ENTRY;
    } else if (strlen(name) >= 41 && strncmp(name, "gemm-", 5) == 0 && hex32(name + 5) &&
               strncmp(name + 37, ".txt", 4) == 0) {
        rest = name + 41;
        kind = NAME_VERDICT;
    } else if (strncmp(name, SECRET_NAME, strlen(SECRET_NAME)) == 0) {
        rest = name + strlen(SECRET_NAME);
        kind = NAME_SECRET;
    }
    if (!rest) return NAME_OTHER;
    if (*rest == '\0') return kind;
    /* <name>.tmp-<...> from the core atomic writer, <name>.tmp.<pid> from older versions */
    return strncmp(rest, ".tmp", 4) == 0 ? NAME_TEMP : NAME_OTHER;
}

typedef struct lru_item {
    char *path;
    uint64_t size;
    time_t mtime;
    long mtime_ns;
} lru_item;

static int lru_cmp(const void *a, const void *b)
{
    const lru_item *x = a, *y = b;
    if (x->mtime != y->mtime) return x->mtime < y->mtime ? -1 : 1;
    return (x->mtime_ns > y->mtime_ns) - (x->mtime_ns < y->mtime_ns);
}

/* Removes stale temporaries and impostors, counts the entries and, above the cap, deletes
 * the least recently used until the rest fit. Best effort throughout. */
static void trim(clgrad__disk_cache *c)
{
    DIR *d = opendir(c->dir);
    if (!d) return;
    lru_item *items = NULL;
    size_t n = 0, cap = 0;
    uint64_t total = 0;
    time_t now = time(NULL);
    uid_t me = geteuid();
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int kind = name_kind(e->d_name);
        if (kind == NAME_OTHER || kind == NAME_SECRET) continue;
        char *path = join(c->dir, e->d_name, "");
        struct stat sb;
        if (!path || lstat(path, &sb) != 0) {
            free(path);
            continue;
        }
        int regular_ours = S_ISREG(sb.st_mode) && sb.st_uid == me && (sb.st_mode & (S_IWGRP | S_IWOTH)) == 0;
        int remove_it = S_ISDIR(sb.st_mode) ? 0
                        : !regular_ours     ? 1 /* a FIFO, link, socket or someone else's file */
                        : kind == NAME_TEMP ? now - sb.st_mtime > STALE_SECONDS
                                            : 0;
        if (remove_it) unlink(path);
        if (remove_it || kind != NAME_ENTRY || !regular_ours) {
            free(path);
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            lru_item *ni = realloc(items, ncap * sizeof *ni);
            if (!ni) {
                free(path);
                break;
            }
            items = ni;
            cap = ncap;
        }
        items[n++] = (lru_item){path, (uint64_t)sb.st_size, sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec};
        total += (uint64_t)sb.st_size;
    }
    closedir(d);
    if (total > c->max_bytes) {
        qsort(items, n, sizeof *items, lru_cmp);
        for (size_t i = 0; i < n && total > c->max_bytes; i++)
            if (unlink(items[i].path) == 0) total -= items[i].size;
    }
    for (size_t i = 0; i < n; i++) free(items[i].path);
    free(items);
    c->bytes = total;
}

static int random_bytes(unsigned char *p, size_t n)
{
#if defined(__linux__)
    while (n) {
        ssize_t k = getrandom(p, n, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        p += k;
        n -= (size_t)k;
    }
    if (n == 0) return 1;
#endif
    /* other systems, or a kernel without getrandom: the system's random device */
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    while (n) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        p += k;
        n -= (size_t)k;
    }
    close(fd);
    return n == 0;
}

/* Reads the folder's secret; makes one when there is none, or when the file there is not
 * 32 bytes, not a regular file of ours or readable by others (a secret others can read is
 * no secret; its entries then fail their check and are rebuilt). */
static int load_secret(clgrad__disk_cache *c, const char **why)
{
    char *path = join(c->dir, SECRET_NAME, "");
    if (!path) {
        *why = "out of host memory";
        return 0;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        uint8_t *buf = NULL;
        size_t n = 0;
        struct stat sb;
        if (clgrad__file_read(path, 64, CACHE_FILE_FLAGS, &buf, &n) == CLGRAD_OK && n == SECRET_SIZE &&
            lstat(path, &sb) == 0 && (sb.st_mode & 077) == 0) {
            memcpy(c->secret, buf, SECRET_SIZE);
            free(buf);
            free(path);
            return 1;
        }
        free(buf);
        if (attempt) break;
        unsigned char fresh[SECRET_SIZE];
        if (!random_bytes(fresh, sizeof fresh)) {
            *why = "no random bytes for its secret key";
            free(path);
            return 0;
        }
        /* mode 0600; then read back, so two processes making one at once agree */
        if (clgrad__file_write_atomic(path, CLGRAD__FILE_QUIET | CLGRAD__FILE_SYNC_DIR, fresh, sizeof fresh) !=
            CLGRAD_OK) {
            *why = "its secret key file cannot be written";
            free(path);
            return 0;
        }
    }
    *why = "its secret key file cannot be read back";
    free(path);
    return 0;
}

static int mkdir_p(const char *path)
{
    char *p = strdup(path);
    if (!p) return 0;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            free(p);
            return 0;
        }
        *s = '/';
    }
    int ok = mkdir(p, 0700) == 0 || errno == EEXIST;
    free(p);
    return ok;
}

/* The size cap from $CLGRAD_CACHE_MAX_MB (a positive number of MiB), else the default. */
static uint64_t max_bytes(clgrad_context *ctx)
{
    const char *v = clgrad__getenv("CLGRAD_CACHE_MAX_MB");
    if (!v) return (uint64_t)DEFAULT_MAX_MB << 20;
    char *end = NULL;
    errno = 0;
    unsigned long long mb = strtoull(v, &end, 10);
    if (errno || *end || v[0] < '0' || v[0] > '9' || mb == 0 || mb > (UINT64_MAX >> 20)) {
        clgrad__note(ctx, "CLGRAD_CACHE_MAX_MB=%.64s is not a positive number of MiB; the binary cache is "
                     "capped at the default %d MiB", v, DEFAULT_MAX_MB);
        return (uint64_t)DEFAULT_MAX_MB << 20;
    }
    return (uint64_t)mb << 20;
}

/* Whether dir may hold binaries this process will run: a real directory (lstat, so not a
 * link), owned by us, that group and others cannot write. Says why not in *why. */
static int folder_is_safe(const char *dir, char *why, size_t cap)
{
    struct stat sb;
    if (lstat(dir, &sb) != 0) {
        snprintf(why, cap, "cannot be created or examined (%s)", strerror(errno));
        return 0;
    }
    if (S_ISLNK(sb.st_mode)) {
        snprintf(why, cap, "is a symbolic link; name the folder it points to instead");
        return 0;
    }
    if (!S_ISDIR(sb.st_mode)) {
        snprintf(why, cap, "is not a directory");
        return 0;
    }
    if (sb.st_uid != geteuid()) {
        snprintf(why, cap, "is owned by user %ld, not by this user (%ld)", (long)sb.st_uid, (long)geteuid());
        return 0;
    }
    if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(why, cap, "is writable by group or others (mode %04o)", (unsigned)(sb.st_mode & 07777));
        return 0;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(why, cap, "is not writable (%s)", strerror(errno));
        return 0;
    }
    return 1;
}

clgrad__disk_cache *clgrad__cache_open(clgrad_context *ctx, const char *requested)
{
    const char *env = clgrad__getenv("CLGRAD_CACHE_DIR");
    const char *use = requested ? requested : env;
    char *dir = NULL;
    if (use) {
        if (!*use || strcmp(use, "off") == 0) return NULL; /* off on purpose: nothing to say */
        dir = strdup(use);
    } else {
        const char *xdg = clgrad__getenv("XDG_CACHE_HOME");
        const char *home = clgrad__getenv("HOME");
        if (!xdg && !home) {
            clgrad__note(ctx, "binary cache off: none of CLGRAD_CACHE_DIR, XDG_CACHE_HOME and HOME is set");
            return NULL;
        }
        size_t n = strlen(xdg ? xdg : home) + 32;
        dir = malloc(n);
        if (dir) snprintf(dir, n, xdg ? "%s/clgrad" : "%s/.cache/clgrad", xdg ? xdg : home);
    }
    clgrad__disk_cache *c = dir ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        free(dir);
        clgrad__note(ctx, "binary cache off: out of host memory");
        return NULL;
    }
    c->dir = dir;
    char why[256];
    const char *secret_why = NULL;
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') dir[--len] = '\0'; /* lstat of "link/" would follow it */
    mkdir_p(dir);
    if (!folder_is_safe(dir, why, sizeof why)) {
        clgrad__note(ctx, "binary cache off: %s %s; a cache folder must be a directory of yours that only you can "
                     "write", dir, why);
    } else if (!load_secret(c, &secret_why)) {
        clgrad__note(ctx, "binary cache off: %s: %s", dir, secret_why);
    } else {
        c->max_bytes = max_bytes(ctx);
        trim(c);
        return c;
    }
    clgrad__cache_close(c);
    return NULL;
}

void clgrad__cache_close(clgrad__disk_cache *c)
{
    if (!c) return;
    memset(c->secret, 0, sizeof c->secret);
    free(c->dir);
    free(c);
}
