/* Whole-file reading and atomic file replacement (see core/file.h). The system calls sit in
 * one block per platform at the top, so everything below them is written once. */
#include "core/file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------------------------------
 * The system: open, read, write, sync, rename, remove, modes
 * ------------------------------------------------------------------------------------- */

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <process.h>
#include <sys/stat.h>
#include <windows.h>

typedef int sys_ssize;
#define SYS_CHUNK ((size_t)1 << 30) /* _read and _write take an unsigned int */

static long sys_pid(void) { return (long)_getpid(); }
static int sys_open_read(const char *path, int nofollow)
{
    (void)nofollow; /* no O_NOFOLLOW on Windows */
    return _open(path, _O_RDONLY | _O_BINARY);
}
static int sys_regular(int fd, uint64_t *size, int *ours)
{
    struct _stat64 sb;
    if (_fstat64(fd, &sb) != 0) return -1;
    *size = (uint64_t)sb.st_size;
    *ours = 1; /* no owner or group write bits to check here */
    return (sb.st_mode & _S_IFMT) == _S_IFREG;
}
static sys_ssize sys_read(int fd, void *p, size_t n) { return _read(fd, p, (unsigned)n); }
static sys_ssize sys_write(int fd, const void *p, size_t n) { return _write(fd, p, (unsigned)n); }
static int sys_create(const char *tmp, unsigned mode)
{
    (void)mode; /* Windows files have no permission bits beyond read-only */
    return _open(tmp, _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY, _S_IREAD | _S_IWRITE);
}
static int sys_mode_of(const char *path, unsigned *mode) { (void)path; (void)mode; return 0; }
static int sys_set_mode(int fd, unsigned mode) { (void)fd; (void)mode; return 0; }
static int sys_sync_close(int fd) { return (_commit(fd) == 0) & (_close(fd) == 0) ? 0 : -1; }
static void sys_close(int fd) { _close(fd); }
static int sys_replace(const char *from, const char *to)
{
    if (MoveFileExA(from, to, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) return 0;
    errno = EACCES;
    return -1;
}
static void sys_remove(const char *path) { _unlink(path); }
static int sys_sync_dir(const char *path) { (void)path; return 0; } /* MOVEFILE_WRITE_THROUGH */
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef O_NOFOLLOW
#define O_NOFOLLOW 0
#endif
#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

typedef ssize_t sys_ssize;
#define SYS_CHUNK ((size_t)1 << 30) /* some systems refuse single transfers above 2 GiB */

static long sys_pid(void) { return (long)getpid(); }
static int sys_open_read(const char *path, int nofollow)
{
    /* O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting; fstat
     * then refuses it. It changes nothing for a regular file. */
    return open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
}
static int sys_regular(int fd, uint64_t *size, int *ours)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0) return -1;
    *size = (uint64_t)sb.st_size;
    *ours = sb.st_uid == geteuid() && (sb.st_mode & (S_IWGRP | S_IWOTH)) == 0;
    return S_ISREG(sb.st_mode) ? 1 : 0;
}
static sys_ssize sys_read(int fd, void *p, size_t n) { return read(fd, p, n); }
static sys_ssize sys_write(int fd, const void *p, size_t n) { return write(fd, p, n); }
static int sys_create(const char *tmp, unsigned mode)
{
    return open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
}
static int sys_mode_of(const char *path, unsigned *mode)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return 0;
    *mode = (unsigned)(sb.st_mode & 07777);
    return 1;
}
static int sys_set_mode(int fd, unsigned mode) { return fchmod(fd, (mode_t)mode); }
static int sys_sync_close(int fd)
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
static void sys_close(int fd) { close(fd); }
static int sys_replace(const char *from, const char *to) { return rename(from, to); }
static void sys_remove(const char *path) { unlink(path); }
static int sys_sync_dir(const char *path)
{
    size_t n = strlen(path);
    char *dir = malloc(n + 2);
    if (!dir) return -1;
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
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
#endif

/* Records a failure unless the caller asked for quiet; returns s either way. */
static clgrad_status file_fail(unsigned flags, clgrad_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static clgrad_status file_fail(unsigned flags, clgrad_status s, const char *fmt, ...)
{
    if (flags & CLGRAD__FILE_QUIET) return s;
    va_list ap;
    va_start(ap, fmt);
    clgrad__failv(NULL, s, fmt, ap);
    va_end(ap);
    return s;
}

/* ---------------------------------------------------------------------------------------
 * Reading a whole file
 * ------------------------------------------------------------------------------------- */

/* Reads from fd until end of file into *b (capacity *cap including the NUL), growing it up
 * to max_bytes + 1 when the file grew after fstat. Returns 0, or an errno value, or -1 when
 * the file holds more than max_bytes. */
static int read_to_end(int fd, size_t max_bytes, uint8_t **b, size_t *cap, size_t *n)
{
    for (;;) {
        if (*n + 1 == *cap) {
            if (*n >= max_bytes) { /* full at the limit: anything more is too much */
                uint8_t probe;
                sys_ssize r = sys_read(fd, &probe, 1);
                if (r < 0 && errno == EINTR) continue;
                if (r < 0) return errno ? errno : EIO;
                return r == 0 ? 0 : -1;
            }
            size_t room = max_bytes - *n; /* > 0 */
            size_t grow = *cap < room ? *cap : room;
            if (grow > SIZE_MAX - *cap) grow = SIZE_MAX - *cap;
            uint8_t *nb = grow ? realloc(*b, *cap + grow) : NULL;
            if (!nb) return ENOMEM;
            *b = nb;
            *cap += grow;
        }
        size_t want = *cap - 1 - *n;
        sys_ssize r = sys_read(fd, *b + *n, want < SYS_CHUNK ? want : SYS_CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return errno ? errno : EIO;
        if (r == 0) return 0;
        *n += (size_t)r;
    }
}

clgrad_status clgrad__file_read(const char *path, size_t max_bytes, unsigned flags, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    int fd = sys_open_read(path, (flags & CLGRAD__FILE_NOFOLLOW) != 0);
    if (fd < 0)
        return file_fail(flags, CLGRAD_ERR_IO, "%s: cannot open: %s", path,
                         errno == ELOOP && (flags & CLGRAD__FILE_NOFOLLOW) ? "it is a symbolic link" : strerror(errno));
    uint64_t size = 0;
    int ours = 0;
    int reg = sys_regular(fd, &size, &ours);
    clgrad_status st = CLGRAD_OK;
    if (reg < 0) st = file_fail(flags, CLGRAD_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!reg) st = file_fail(flags, CLGRAD_ERR_IO, "%s: not a regular file", path);
    else if ((flags & CLGRAD__FILE_OWNED) && !ours)
        st = file_fail(flags, CLGRAD_ERR_IO, "%s: not owned by this user, or writable by group or others", path);
    else if (size > max_bytes || size >= SIZE_MAX)
        st = file_fail(flags, CLGRAD_ERR_IO, "%s: %llu bytes, larger than the limit of %zu bytes", path,
                       (unsigned long long)size, max_bytes);
    size_t cap = (size_t)size + 1, n = 0;
    uint8_t *b = st == CLGRAD_OK ? malloc(cap) : NULL;
    if (st == CLGRAD_OK && !b)
        st = file_fail(flags, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory reading %llu bytes", path,
                       (unsigned long long)size);
    if (st == CLGRAD_OK) {
        int e = read_to_end(fd, max_bytes, &b, &cap, &n);
        if (e == -1)
            st = file_fail(flags, CLGRAD_ERR_IO, "%s: grew past the limit of %zu bytes while being read", path,
                           max_bytes);
        else if (e == ENOMEM)
            st = file_fail(flags, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory reading %zu+ bytes", path, n);
        else if (e)
            st = file_fail(flags, CLGRAD_ERR_IO, "%s: read error: %s", path, strerror(e));
    }
    sys_close(fd);
    if (st != CLGRAD_OK) {
        free(b);
        return st;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return CLGRAD_OK;
}

/* ---------------------------------------------------------------------------------------
 * Atomic replacement
 * ------------------------------------------------------------------------------------- */

struct clgrad__atomic_file {
    char *path;
    char *tmp;
    unsigned flags;
    int fd;
    clgrad_status st; /* the first failure; sticky */
    size_t n;         /* bytes waiting in buf */
    unsigned char buf[1 << 16];
};

/* Creates the temporary file under a fresh name: <path>.tmp-<pid>-<hex>-<n>. O_EXCL makes
 * the name ours; a name someone else holds is retried with the next n. */
static int create_tmp(clgrad__atomic_file *f, size_t cap, unsigned mode)
{
    static _Thread_local unsigned long seq;
    unsigned long salt = (unsigned long)time(NULL) ^ (unsigned long)(uintptr_t)&seq;
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(f->tmp, cap, "%s.tmp-%ld-%lx-%lu", f->path, sys_pid(), salt, seq++);
        fd = sys_create(f->tmp, mode);
        if (fd < 0 && errno != EEXIST) break;
    }
    return fd;
}

clgrad_status clgrad__atomic_open(const char *path, unsigned flags, clgrad__atomic_file **out)
{
    *out = NULL;
    if (!path || !*path)
        return file_fail(flags, CLGRAD_ERR_INVALID_ARG, "atomic file write: the path is NULL or empty");
    size_t pn = strlen(path), cap = pn + 64;
    clgrad__atomic_file *f = malloc(sizeof *f);
    char *p = malloc(pn + 1), *tmp = malloc(cap);
    if (!f || !p || !tmp) {
        free(f);
        free(p);
        free(tmp);
        return file_fail(flags, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", path);
    }
    memcpy(p, path, pn + 1);
    *f = (clgrad__atomic_file){.path = p, .tmp = tmp, .flags = flags, .fd = -1, .st = CLGRAD_OK};
    unsigned mode = 0600;
    int keep = (flags & CLGRAD__FILE_KEEP_MODE) && sys_mode_of(path, &mode);
    f->fd = create_tmp(f, cap, 0600);
    if (f->fd < 0) {
        clgrad_status s = file_fail(flags, CLGRAD_ERR_IO, "%s: cannot create the temporary file %s: %s", path, tmp,
                                    strerror(errno));
        clgrad__atomic_abort(f);
        return s;
    }
    /* fchmod, unlike open's mode argument, is not narrowed by the umask: the old mode exactly */
    if (keep && sys_set_mode(f->fd, mode) != 0) {
        clgrad_status s = file_fail(flags, CLGRAD_ERR_IO, "%s: cannot give %s the mode %o of the file it replaces: %s",
                                    path, tmp, mode, strerror(errno));
        clgrad__atomic_abort(f);
        return s;
    }
    *out = f;
    return CLGRAD_OK;
}

static clgrad_status write_raw(clgrad__atomic_file *f, const unsigned char *p, size_t n)
{
    while (n) {
        sys_ssize k = sys_write(f->fd, p, n < SYS_CHUNK ? n : SYS_CHUNK);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return f->st = file_fail(f->flags, CLGRAD_ERR_IO, "%s: write failed: %s", f->path,
                                     k < 0 ? strerror(errno) : "no progress");
        p += k;
        n -= (size_t)k;
    }
    return CLGRAD_OK;
}

static clgrad_status flush(clgrad__atomic_file *f)
{
    size_t n = f->n;
    f->n = 0;
    return n ? write_raw(f, f->buf, n) : CLGRAD_OK;
}

clgrad_status clgrad__atomic_write(clgrad__atomic_file *f, const void *data, size_t n)
{
    if (f->st != CLGRAD_OK) return f->st;
    if (f->n + n > sizeof f->buf) {
        CLGRAD_TRY(flush(f));
        if (n >= sizeof f->buf) return write_raw(f, data, n);
    }
    memcpy(f->buf + f->n, data, n);
    f->n += n;
    return CLGRAD_OK;
}

static void atomic_free(clgrad__atomic_file *f)
{
    free(f->path);
    free(f->tmp);
    free(f);
}

void clgrad__atomic_abort(clgrad__atomic_file *f)
{
    if (!f) return;
    if (f->fd >= 0) {
        sys_close(f->fd);
        sys_remove(f->tmp);
    }
    atomic_free(f);
}

clgrad_status clgrad__atomic_commit(clgrad__atomic_file *f)
{
    clgrad_status s = f->st == CLGRAD_OK ? flush(f) : f->st;
    if (s == CLGRAD_OK) {
        int r = sys_sync_close(f->fd);
        int e = errno;
        f->fd = -1;
        if (r != 0) {
            sys_remove(f->tmp);
            s = file_fail(f->flags, CLGRAD_ERR_IO, "%s: cannot flush %s to disk: %s", f->path, f->tmp, strerror(e));
        }
    }
    if (s == CLGRAD_OK && sys_replace(f->tmp, f->path) != 0) {
        int e = errno;
        sys_remove(f->tmp);
        s = file_fail(f->flags, CLGRAD_ERR_IO, "%s: cannot rename %s over it: %s", f->path, f->tmp, strerror(e));
    }
    if (s == CLGRAD_OK && (f->flags & CLGRAD__FILE_SYNC_DIR) && sys_sync_dir(f->path) != 0)
        s = file_fail(f->flags, CLGRAD_ERR_IO,
                      "%s: written, but syncing its folder failed, so the rename may not survive a crash: %s",
                      f->path, strerror(errno));
    if (f->fd >= 0) { /* a write failed earlier: the temporary file goes */
        clgrad__atomic_abort(f);
        return s;
    }
    atomic_free(f);
    return s;
}

clgrad_status clgrad__file_write_atomic(const char *path, unsigned flags, const void *data, size_t n)
{
    clgrad__atomic_file *f = NULL;
    CLGRAD_TRY(clgrad__atomic_open(path, flags, &f));
    clgrad__atomic_write(f, data, n);
    return clgrad__atomic_commit(f);
}
