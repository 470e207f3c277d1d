/* Internal header of the io layer: the host random generator used for
 * splits and shuffles, the IDX parser under the public loaders, and the safetensors file
 * layer that checkpoints are built on. Host memory only; no OpenCL types. */
#ifndef CLGRAD_SRC_IO_H
#define CLGRAD_SRC_IO_H

#include "clgrad.h"
#include "clgrad/data.h"

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------------------
 * Host random numbers (src/io/dataset_batch.c): xoshiro256** seeded through splitmix64. The
 * same (seed, stream) gives the same sequence on every machine.
 * ------------------------------------------------------------------------------------- */

typedef struct clgrad__rng {
    uint64_t s[4];
} clgrad__rng;

void clgrad__rng_init(clgrad__rng *r, uint64_t seed, uint64_t stream);
uint64_t clgrad__rng_next(clgrad__rng *r);
/* Uniform in [0, n) without modulo bias; n > 0. */
uint64_t clgrad__rng_below(clgrad__rng *r, uint64_t n);
/* The order in which clgrad_dataset_shuffle(ds, seed, epoch) visits a dataset of n
 * samples: v[i] (i < n) becomes the position, in the unshuffled order, of the i-th sample
 * visited. The distributed sampler (src/dist) shares it, so its global order is the one a
 * shuffled dataset gives. */
void clgrad__shuffle_order(int64_t *v, int64_t n, uint64_t seed, uint64_t epoch);

/* ---------------------------------------------------------------------------------------
 * IDX (src/io/idx.c, src/io/dataset.c)
 * ------------------------------------------------------------------------------------- */

/* Builds a dataset from already-parsed images and labels (the checks and conversions of
 * clgrad_dataset_load_idx); names are used in messages. The inputs are only read. */
clgrad_status clgrad__dataset_from_idx(const clgrad_idx *images, const char *images_name,
                                       const clgrad_idx *labels, const char *labels_name,
                                       const clgrad_dataset_opts *opts, clgrad_dataset **out);

/* ---------------------------------------------------------------------------------------
 * safetensors (src/io/safetensors.c: dtypes and byte order; safetensors_read.c: the reader;
 * safetensors_write.c: the writer)
 *
 * File layout: an 8-byte little-endian header length N, N bytes of JSON header (an object
 * mapping each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}, plus an
 * optional "__metadata__" object of string values), then the data area: every tensor's
 * bytes, little-endian, row-major, contiguous, with no gaps. Offsets count from the start
 * of the data area. The writer pads the header with spaces so the data area starts on an
 * 8-byte boundary and puts wider dtypes first, so every tensor is aligned to its element.
 * ------------------------------------------------------------------------------------- */

#define CLGRAD__ST_MAX_DIMS 8

typedef enum clgrad__st_dtype {
    CLGRAD__ST_BOOL,
    CLGRAD__ST_U8,
    CLGRAD__ST_I8,
    CLGRAD__ST_F8_E5M2,
    CLGRAD__ST_F8_E4M3,
    CLGRAD__ST_I16,
    CLGRAD__ST_U16,
    CLGRAD__ST_F16,
    CLGRAD__ST_BF16,
    CLGRAD__ST_I32,
    CLGRAD__ST_U32,
    CLGRAD__ST_F32,
    CLGRAD__ST_I64,
    CLGRAD__ST_U64,
    CLGRAD__ST_F64,
    CLGRAD__ST_DTYPE_COUNT
} clgrad__st_dtype;

/* The format's name ("F32", ...) and the element size in bytes; NULL / 0 if out of range. */
const char *clgrad__st_dtype_name(clgrad__st_dtype dt);
size_t clgrad__st_dtype_size(clgrad__st_dtype dt);

/* Shared by the reader and the writer: 1 on a little-endian host; reverses the bytes of
 * each esize-byte element of p in place; product(shape) * esize into *nbytes (0 when a dim
 * is 0), returning 0 when that overflows size_t. */
int clgrad__st_host_is_le(void);
void clgrad__st_swap_elems(uint8_t *p, size_t nbytes, size_t esize);
int clgrad__st_shape_nbytes(int ndim, const int64_t *shape, size_t esize, size_t *nbytes);

/* One tensor. For writing, data points at nbytes bytes in the host's byte order (may be
 * NULL when nbytes is 0) and nbytes must equal product(shape) * dtype size; ndim 0 is a
 * scalar. For an entry read from a file, name and data point into the file object (data:
 * the raw little-endian bytes of the file, unaligned in general; copy it out with
 * clgrad__st_read) and stay valid until clgrad__st_free. */
typedef struct clgrad__st_entry {
    const char *name;
    clgrad__st_dtype dtype;
    int ndim;
    int64_t shape[CLGRAD__ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
} clgrad__st_entry;

/* One "__metadata__" item: both strings NUL-terminated UTF-8. */
typedef struct clgrad__st_meta {
    const char *key;
    const char *value;
} clgrad__st_meta;

/* Writes the entries and metadata to path atomically: a temporary file in the same folder,
 * written, fsync'd, renamed over path, then the folder fsync'd (src/core/file.c; mode 0600,
 * or the mode of the file it replaces). On any failure (bad arguments, a full disk, an I/O
 * error) the temporary file is removed and whatever was at path before is left as it was. Names must be unique, non-NULL and not "__metadata__";
 * metadata keys unique. entries / meta may be NULL when their count is 0.
 * CLGRAD_ERR_INVALID_ARG for bad entries, CLGRAD_ERR_IO for file-system failures (the
 * message names the path and the system's reason), CLGRAD_ERR_HOST_MEMORY. */
clgrad_status clgrad__st_save(const char *path, const clgrad__st_entry *entries, size_t n_entries,
                              const clgrad__st_meta *meta, size_t n_meta);

/* A validated safetensors file in memory. */
typedef struct clgrad__st_file clgrad__st_file;

/* Reads and validates the whole file at path: header length against the file size, JSON
 * shape, every dtype, shape and offset, offsets in the data area, in order, with no gaps
 * or overlaps, nbytes == product(shape) * dtype size, unique names, string metadata. Any
 * fault gives CLGRAD_ERR_IO (CLGRAD_ERR_UNSUPPORTED for dtypes this layer does not know or
 * more than CLGRAD__ST_MAX_DIMS dimensions) with a message naming path and the fault, and
 * *out NULL: nothing is returned from a bad file. */
clgrad_status clgrad__st_load(const char *path, clgrad__st_file **out);

/* As clgrad__st_load, from memory; the bytes are copied. name is used in messages (NULL:
 * "<memory>"). */
clgrad_status clgrad__st_parse(const void *bytes, size_t nbytes, const char *name,
                               clgrad__st_file **out);

/* Frees f and everything its entries point to. NULL: no-op. */
void clgrad__st_free(clgrad__st_file *f);

/* The path or name the file was loaded under. */
const char *clgrad__st_name(const clgrad__st_file *f);

/* Entries, sorted by name; i < clgrad__st_count(f). */
size_t clgrad__st_count(const clgrad__st_file *f);
const clgrad__st_entry *clgrad__st_entry_at(const clgrad__st_file *f, size_t i);

/* The entry called name, or NULL when the file has none. */
const clgrad__st_entry *clgrad__st_find(const clgrad__st_file *f, const char *name);

/* Copies tensor name into dst (dst_nbytes bytes) in the host's byte order, after checking
 * that the file has it (else CLGRAD_ERR_IO), with dtype (else CLGRAD_ERR_INVALID_ARG) and
 * exactly shape[0..ndim) (else CLGRAD_ERR_SHAPE, naming both shapes), and that dst_nbytes
 * equals its size (else CLGRAD_ERR_INVALID_ARG). Nothing is written to dst on failure. */
clgrad_status clgrad__st_read(const clgrad__st_file *f, const char *name, clgrad__st_dtype dtype,
                              int ndim, const int64_t *shape, void *dst, size_t dst_nbytes);

/* Metadata items, sorted by key; i < clgrad__st_meta_count(f). */
size_t clgrad__st_meta_count(const clgrad__st_file *f);
const clgrad__st_meta *clgrad__st_meta_at(const clgrad__st_file *f, size_t i);

/* The value stored under key, or NULL. */
const char *clgrad__st_meta_get(const clgrad__st_file *f, const char *key);

/* Parse the value under key as a whole decimal integer / a double ("%.17g" round-trips).
 * CLGRAD_ERR_IO when the key is missing or the value is not entirely a number in range;
 * *out is untouched then. */
clgrad_status clgrad__st_meta_get_i64(const clgrad__st_file *f, const char *key, int64_t *out);
clgrad_status clgrad__st_meta_get_u64(const clgrad__st_file *f, const char *key, uint64_t *out);
clgrad_status clgrad__st_meta_get_f64(const clgrad__st_file *f, const char *key, double *out);

#endif /* CLGRAD_SRC_IO_H */
