/* NumPy .npy files: one array per file, the format numpy.save writes and numpy.load reads
 * (versions 1.0, 2.0 and 3.0 of the format). clgrad holds arrays as f32 or i32, so a file
 * is converted on reading: floating-point files ("<f4", "<f8", "<f2", either byte order) to
 * f32, integer and boolean files ("|b1", "|u1", "|i1", "<i2", "<u2", "<i4", "<u4", "<i8",
 * "<u8") to i32, refusing values that do not fit. Fortran-order files are transposed into
 * row-major order. Host memory only. Included by clgrad.h.
 *
 *     clgrad_npy *a = NULL;
 *     clgrad_status s = clgrad_npy_load("x.npy", &a);
 *     if (s == CLGRAD_OK) s = clgrad_tensor_from_host(ctx, a->dtype, a->ndim, a->shape, a->data, &x);
 *     clgrad_npy_release(a);
 *     ...
 *     s = clgrad_npy_save("y.npy", CLGRAD_DTYPE_F32, 2, shape, host_y);
 *
 * Errors: every fallible call returns a clgrad_status and leaves a message for
 * clgrad_last_error(NULL) on the calling thread that names the file and the fault. */
#ifndef CLGRAD_NPY_H
#define CLGRAD_NPY_H

#include "clgrad.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One array read from a .npy file. Made by clgrad_npy_load*, freed by clgrad_npy_release;
 * read the fields freely, change none of them. */
typedef struct clgrad_npy {
    clgrad_dtype dtype;              /* CLGRAD_DTYPE_F32 or CLGRAD_DTYPE_I32 */
    char descr[16];                  /* the file's own type, as numpy wrote it ("<f8") */
    int ndim;                        /* 0 (a scalar) .. CLGRAD_MAX_DIMS */
    int64_t shape[CLGRAD_MAX_DIMS];
    int64_t count;                   /* elements: the product of shape (1 for a scalar) */
    void *data;                      /* count elements of dtype, row-major; never NULL */
} clgrad_npy;

/* Reads and converts the file at path (see the top of this header). CLGRAD_ERR_IO for a
 * missing, truncated or malformed file (the message names path and the fault: a bad magic,
 * header, shape or length), CLGRAD_ERR_UNSUPPORTED for a type clgrad cannot hold (complex,
 * strings, structured, objects), more than CLGRAD_MAX_DIMS dimensions or integers outside
 * the i32 range, CLGRAD_ERR_HOST_MEMORY. *out is NULL on failure. */
CLGRAD_API clgrad_status clgrad_npy_load(const char *path, clgrad_npy **out);
/* The same from size bytes at data (copied; name, may be NULL, is used in messages). */
CLGRAD_API clgrad_status clgrad_npy_load_memory(const void *data, size_t size, const char *name, clgrad_npy **out);
CLGRAD_API void clgrad_npy_release(clgrad_npy *a); /* NULL: no-op */

/* Writes a row-major host array of dtype (F32 as "<f4", I32 as "<i4") and shape (ndim 0 to
 * CLGRAD_MAX_DIMS; shape may be NULL for ndim 0) to path as a version 1.0 .npy file. The
 * file appears whole or not at all: it is written under a temporary name in the same
 * folder and renamed over path. INVALID_ARG for bad arguments, IO when the file cannot be
 * written (the message names the path and the system's reason). */
CLGRAD_API clgrad_status clgrad_npy_save(const char *path, clgrad_dtype dtype, int ndim, const int64_t *shape,
                                         const void *data);

#ifdef __cplusplus
}
#endif

#endif
