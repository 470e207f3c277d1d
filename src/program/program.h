/* Internal header of the program layer: kernel sources (embedded or from
 * CLGRAD_KERNEL_DIR), run-time builds with -D specialisation, the per-context in-memory
 * program cache (this layer's slot in the context) and the on-disk binary cache. */
#ifndef CLGRAD_SRC_PROGRAM_H
#define CLGRAD_SRC_PROGRAM_H

#include "device/device.h"

#define CLGRAD__PROGRAM_CACHE_FORMAT 2u /* 2: an HMAC instead of a checksum */

typedef struct clgrad__kernel_slot {
    char *name;
    cl_kernel kernel;
    size_t wg_max; /* CL_KERNEL_WORK_GROUP_SIZE, queried once */
} clgrad__kernel_slot;

typedef struct clgrad__program_entry clgrad__program_entry;

struct clgrad__program_entry {
    clgrad__program_entry *next;
    char *family;  /* "matmul", or a caller-chosen name for clgrad__program_from_source */
    char *options; /* the family's own options, as given by the caller */
    cl_program program;
    char key[33];  /* hex of the 128-bit cache key */
    int from_cache;
    int dirty;     /* new launch shapes since the binary was saved (PoCL compiles per shape) */
    clgrad__kernel_slot *kernels;
    int n_kernels, cap_kernels;
    uint64_t shapes_seen[16];
    int n_shapes_seen;
};

/* The source of a family: common.cl followed by <family>.cl, from the embedded copies or
 * from $CLGRAD_KERNEL_DIR. *text is malloc'd and NUL-terminated. */
clgrad_status clgrad__source_get(const clgrad_context *ctx, const char *family, char **text, size_t *len);

/* Number of embedded families (common excluded) and the name of each. */
size_t clgrad__family_count(void);
const char *clgrad__family_name(size_t i);

/* The program for (family, options), built or loaded on first use and kept in ctx. */
clgrad_status clgrad__program_get(clgrad_context *ctx, const char *family, const char *options,
                                  clgrad__program_entry **out);

/* The same for explicit source text (tests, tools); name identifies it in messages. */
clgrad_status clgrad__program_from_source(clgrad_context *ctx, const char *name, const char *source,
                                          const char *options, clgrad__program_entry **out);

/* A kernel of a program, created once and kept; wg_max may be NULL. */
clgrad_status clgrad__kernel_get(clgrad_context *ctx, clgrad__program_entry *pe, const char *kernel,
                                 cl_kernel *out, size_t *wg_max);

/* Notes a launch shape for PoCL-style lazy per-shape compilation (marks the program dirty). */
void clgrad__program_note_launch(clgrad__program_entry *pe, const size_t *global, const size_t *local, int dim);

/* Creates this layer's slot in ctx (src/runtime calls it when creating ctx): the program
 * list and the disk cache, opened from cache_dir as clgrad_context_desc describes
 * (clgrad__cache_open). The slot is destroyed with the context's slots: dirty
 * binaries are saved and every program and kernel released. */
clgrad_status clgrad__programs_create(clgrad_context *ctx, const char *cache_dir);

/* The disk cache folder of ctx, or NULL when the cache is off. */
const char *clgrad__cache_dir(const clgrad_context *ctx);

/* Writes the binaries of dirty programs back to the disk cache (best effort, silent). */
void clgrad__programs_save(clgrad_context *ctx);

/* Full options string used to build: device-derived options + family options + env. */
clgrad_status clgrad__program_options(const clgrad_context *ctx, const char *options, char **out);

/* Disk cache (cache.c): see the top of cache.c for what it checks. key is 32 hex chars
 * (clgrad__cache_key). */
typedef struct clgrad__disk_cache clgrad__disk_cache;
void clgrad__cache_key(const clgrad_context *ctx, const char *source, size_t source_len, const char *options,
                       char key[33]);
/* Opens the cache folder from requested (clgrad_context_desc.cache_dir), else the
 * environment, creating it (mode 0700) if needed, checking it, loading or making its
 * secret and tidying it. NULL when the cache is off; unless it was turned off on purpose,
 * a note on ctx (clgrad_context_diagnostics) says why. */
clgrad__disk_cache *clgrad__cache_open(clgrad_context *ctx, const char *requested);
void clgrad__cache_close(clgrad__disk_cache *c); /* NULL: no-op */
/* The folder's path (NULL for a NULL cache). */
const char *clgrad__cache_folder(const clgrad__disk_cache *c);
/* CLGRAD_OK and a malloc'd payload, or CLGRAD_ERR_IO when absent or refused (an entry
 * that fails its checks is deleted); CLGRAD_ERR_HOST_MEMORY. Silent. */
clgrad_status clgrad__cache_load(clgrad__disk_cache *c, const char *key, unsigned char **payload, size_t *len);
/* Writes an entry atomically (best effort for the caller; silent). */
clgrad_status clgrad__cache_store(clgrad__disk_cache *c, const char *key, const unsigned char *payload, size_t len);
/* Deletes an entry (the driver refused it). */
void clgrad__cache_remove(clgrad__disk_cache *c, const char *key);

#endif
