/* Whole-file reading and atomic file replacement: the only two ways the library reads or
 * writes a file (datasets, checkpoints, kernel sources, the program binary cache, the GEMM
 * verdict), with the POSIX and Windows branches written once, in src/core/file.c. Errors go
 * to the calling thread's message (clgrad_last_error(NULL)) and name the path. */
#ifndef CLGRAD_SRC_CORE_FILE_H
#define CLGRAD_SRC_CORE_FILE_H

#include "core/core.h"

#include <stddef.h>
#include <stdint.h>

enum {
    CLGRAD__FILE_QUIET = 1u << 0,     /* record no message on failure (best-effort callers) */
    CLGRAD__FILE_NOFOLLOW = 1u << 1,  /* read: refuse a symbolic link as the last component
                                         (where the system has O_NOFOLLOW) */
    CLGRAD__FILE_KEEP_MODE = 1u << 2, /* write: the new file takes the permission bits of the
                                         file it replaces (0600 when there is none) */
    CLGRAD__FILE_SYNC_DIR = 1u << 3,  /* write: fsync the folder after the rename, so the
                                         rename itself survives a crash (POSIX) */
    CLGRAD__FILE_OWNED = 1u << 4,     /* read: refuse a file that is not owned by the
                                         effective user or that group or others may write
                                         (POSIX; the caches' own files) */
};

/* Reads the whole regular file at path into a new malloc'd buffer: *len bytes, followed by
 * a NUL that *len does not count (so text files can be used as strings); *buf is non-NULL
 * even for an empty file. Opens without blocking (a FIFO or a device never hangs the
 * caller) and refuses anything fstat does not call a regular file. CLGRAD_ERR_IO names
 * path and the reason (cannot open, not a regular file, larger than max_bytes, read error);
 * CLGRAD_ERR_HOST_MEMORY. On failure *buf is NULL and *len 0. */
clgrad_status clgrad__file_read(const char *path, size_t max_bytes, unsigned flags, uint8_t **buf, size_t *len);

/* An atomic replacement of a file in progress: the bytes go to a new temporary file next to
 * path (a unique name, created with O_CREAT|O_EXCL and O_NOFOLLOW where available, mode 0600
 * unless CLGRAD__FILE_KEEP_MODE), which commit fsyncs and renames over path. Readers see
 * the old file or the whole new one, never a part; on any failure the temporary file is
 * removed and whatever was at path is left as it was. */
typedef struct clgrad__atomic_file clgrad__atomic_file;

/* Starts replacing path (flags: CLGRAD__FILE_*). CLGRAD_ERR_IO when the temporary file
 * cannot be created (the message names it and the system's reason), CLGRAD_ERR_HOST_MEMORY,
 * CLGRAD_ERR_INVALID_ARG for a NULL or empty path. */
clgrad_status clgrad__atomic_open(const char *path, unsigned flags, clgrad__atomic_file **out);

/* Appends n bytes (buffered). A failure is sticky: later writes do nothing and return it,
 * and commit returns it too, so a caller may check only the commit. */
clgrad_status clgrad__atomic_write(clgrad__atomic_file *f, const void *data, size_t n);

/* Flushes, fsyncs, closes and renames the temporary file over path (then, with
 * CLGRAD__FILE_SYNC_DIR, fsyncs the folder); frees f in every case. Returns the first
 * failure of the whole write; on failure nothing at path has changed, except when only the
 * folder sync failed (the new file is in place; the message says so). */
clgrad_status clgrad__atomic_commit(clgrad__atomic_file *f);

/* Gives up: removes the temporary file and frees f. NULL: no-op. */
void clgrad__atomic_abort(clgrad__atomic_file *f);

/* The whole atomic replacement for bytes already in memory: open, write, commit. */
clgrad_status clgrad__file_write_atomic(const char *path, unsigned flags, const void *data, size_t n);

#endif
