/* clgrad: portable deep learning in C11 on OpenCL.
 *
 * How it fits together
 * --------------------
 * A context owns one OpenCL device, its in-order queue, the compiled kernel programs and a
 * buffer pool. Tensors are reference-counted handles made from a context; every op takes
 * borrowed tensors and hands back a new reference through its last (out) parameter, which
 * the caller releases. Ops are enqueued and run asynchronously; reading a tensor back to
 * host memory is the synchronisation point. Every fallible call returns a clgrad_status and
 * leaves a message for clgrad_last_error().
 *
 *     clgrad_context *ctx = NULL;
 *     clgrad_status s = clgrad_context_create(NULL, &ctx);   // best device, or $CLGRAD_DEVICE
 *     clgrad_tensor *a = NULL, *b = NULL, *c = NULL;
 *     int64_t shape[2] = {2, 2};
 *     if (s == CLGRAD_OK) s = clgrad_tensor_full(ctx, 2, shape, 1.0f, &a);
 *     if (s == CLGRAD_OK) s = clgrad_tensor_full(ctx, 2, shape, 2.0f, &b);
 *     if (s == CLGRAD_OK) s = clgrad_matmul(a, b, &c);
 *     if (s != CLGRAD_OK) fprintf(stderr, "%s: %s\n", clgrad_status_name(s), clgrad_last_error(ctx));
 *     clgrad_tensor_release(c); clgrad_tensor_release(b); clgrad_tensor_release(a);
 *     clgrad_context_release(ctx);
 *
 * Threads: a context and every object made from it (tensors, modules, optimizers) may be
 * used by one thread at a time. That includes calls that take a const pointer: some
 * getters fill a cache on first use (a module's parameter names). Different contexts may
 * be used from different threads at the same time without any lock: apart from the default
 * context and each thread's last-error message the library has no global state. To share
 * one context between threads, hold a lock of your own around every call that touches it
 * or its objects. clgrad_context_default() returns ONE context for the whole process,
 * created once on first use: the same rule applies to it (one thread at a time, or your
 * lock). clgrad_shutdown() releases it and is like free(): call it only when no thread
 * uses the default context or anything made from it any more. Thread-safe without a lock:
 * clgrad_context_default, clgrad_status_name, clgrad_last_error(NULL), clgrad_version_*,
 * and the IDX and dataset loaders (include/clgrad/data.h).
 *
 * Versioning (as libuv promises it): a minor release adds to the API and keeps the ABI; a
 * major release may break either. Status code values are never renumbered.
 */
#ifndef CLGRAD_H
#define CLGRAD_H

#include <stddef.h>
#include <stdint.h>

#include "clgrad_version.h"

#if defined(_WIN32) && defined(CLGRAD_BUILDING_SHARED)
#define CLGRAD_API __declspec(dllexport)
#elif defined(_WIN32) && defined(CLGRAD_USING_SHARED)
#define CLGRAD_API __declspec(dllimport)
#elif defined(__GNUC__)
#define CLGRAD_API __attribute__((visibility("default")))
#else
#define CLGRAD_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* Handles                                                                                  */

typedef struct clgrad_context clgrad_context; /* one device + queue + programs + buffer pool */
typedef struct clgrad_tensor clgrad_tensor;   /* reference counted */

/* ---------------------------------------------------------------------------------------- */
/* Status codes and errors                                                                  */

typedef enum clgrad_status { /* 0 = success, negative = error; values never renumbered */
    CLGRAD_OK = 0,
    CLGRAD_ERR_INVALID_ARG = -1,
    CLGRAD_ERR_SHAPE = -2,
    CLGRAD_ERR_HOST_MEMORY = -3,
    CLGRAD_ERR_DEVICE_MEMORY = -4,
    CLGRAD_ERR_NO_DEVICE = -5,
    CLGRAD_ERR_BUILD = -6, /* the compiler's build log is in clgrad_last_error() */
    CLGRAD_ERR_OPENCL = -7,
    CLGRAD_ERR_UNSUPPORTED = -8,
    CLGRAD_ERR_IO = -9,
} clgrad_status;

/* The name of a status ("CLGRAD_ERR_SHAPE"); a static string, never NULL. Thread-safe. */
CLGRAD_API const char *clgrad_status_name(clgrad_status s);

/* Message for the last failure on ctx or, for ctx == NULL, on the calling thread (every
 * failure is recorded on the thread too). Owned by clgrad; valid until the next failing
 * clgrad call on the same ctx / thread. Never NULL: "" when nothing failed yet. */
CLGRAD_API const char *clgrad_last_error(const clgrad_context *ctx);

/* Version of the library actually linked: compare with CLGRAD_VERSION_NUMBER from the
 * header you compiled against. Thread-safe. */
CLGRAD_API unsigned clgrad_version_number(void);
CLGRAD_API const char *clgrad_version_string(void);

/* ---------------------------------------------------------------------------------------- */
/* Devices                                                                                  */

typedef enum clgrad_device_kind {
    CLGRAD_DEVICE_KIND_GPU_DISCRETE = 0,
    CLGRAD_DEVICE_KIND_GPU_INTEGRATED = 1,
    CLGRAD_DEVICE_KIND_ACCELERATOR = 2,
    CLGRAD_DEVICE_KIND_CPU = 3,
    CLGRAD_DEVICE_KIND_OTHER = 4,
} clgrad_device_kind;

typedef enum clgrad_local_mem_kind {
    CLGRAD_LOCAL_MEM_NONE = 0,
    CLGRAD_LOCAL_MEM_GLOBAL = 1, /* emulated in global memory (most CPUs) */
    CLGRAD_LOCAL_MEM_LOCAL = 2,  /* dedicated on-chip memory (GPUs) */
} clgrad_local_mem_kind;

/* What a device is and can do, read once from the OpenCL queries. Plain data. */
typedef struct clgrad_device_info {
    int platform_index, device_index; /* the "p:d" selector names this device */
    char platform_name[128], platform_version[128];
    char name[128], vendor[128], version[128], driver_version[128];
    int cl_c_major, cl_c_minor;       /* highest OpenCL C version the compiler accepts */
    clgrad_device_kind kind;
    int compute_units, clock_mhz;
    uint64_t global_mem_bytes, max_alloc_bytes, local_mem_bytes;
    clgrad_local_mem_kind local_mem_kind;
    size_t max_work_group_size, max_work_item_sizes[3];
    int fp16, fp64, subgroups, unified_memory;
    int available, compiler_available; /* unusable devices are listed but never selected */
    unsigned mem_base_addr_align_bits;
    char extensions[4096]; /* space separated, truncated if longer */
} clgrad_device_info;

/* Lists every device of every platform, in the loader's order. *out is an array of *n
 * entries that the caller frees with clgrad_devices_free. No platform at all is
 * CLGRAD_ERR_NO_DEVICE with a hint about the ICD loader's vendor files. */
CLGRAD_API clgrad_status clgrad_devices_list(clgrad_device_info **out, int *n);
CLGRAD_API void clgrad_devices_free(clgrad_device_info *list); /* NULL: no-op */

/* Picks a device from list by selector: NULL or "" means the best by rank (discrete GPU >
 * integrated GPU > accelerator > CPU, ties by compute units x clock); "gpu", "cpu",
 * "accel" the best of that kind; "p:d" platform and device indices; anything else a
 * case-insensitive substring of the platform or device name. Unavailable devices and
 * devices without a compiler are never picked. No match is CLGRAD_ERR_NO_DEVICE and the
 * thread's message lists the devices that exist. *index is the position in list. */
CLGRAD_API clgrad_status clgrad_devices_select(const clgrad_device_info *list, int n,
                                               const char *selector, int *index);

/* ---------------------------------------------------------------------------------------- */
/* Contexts                                                                                 */

enum {
    CLGRAD_CONTEXT_PROFILING = 1u << 0,  /* queue with profiling enabled (clgrad/profile.h) */
    CLGRAD_CONTEXT_NO_CLBLAST = 1u << 1, /* never use CLBlast, even when built with it */
    CLGRAD_CONTEXT_NO_TUNED = 1u << 2,   /* ignore tuned kernel parameters (the built-in tables only) */
};

typedef struct clgrad_context_desc {
    const char *device;    /* selector as for clgrad_devices_select; NULL: $CLGRAD_DEVICE, else best */
    const char *cache_dir; /* NULL: $CLGRAD_CACHE_DIR, else $XDG_CACHE_HOME/clgrad, else
                              ~/.cache/clgrad; "" or "off" disables the binary cache */
    uint32_t flags;        /* CLGRAD_CONTEXT_* */
} clgrad_context_desc;

/* Creates a context on the selected device. desc may be NULL (all defaults). On failure
 * *out is NULL and clgrad_last_error(NULL) says why. */
CLGRAD_API clgrad_status clgrad_context_create(const clgrad_context_desc *desc, clgrad_context **out);
CLGRAD_API void clgrad_context_release(clgrad_context *ctx); /* NULL: no-op */

/* The process-wide default context, created on first use with default settings; NULL if
 * that failed (clgrad_last_error(NULL) says why). Every caller, on every thread, gets the
 * same context: using it from several threads at once needs a lock of the caller's (see
 * "Threads" above). Thread-safe itself. Owned by clgrad: clgrad_context_release does
 * nothing to it. */
CLGRAD_API clgrad_context *clgrad_context_default(void);
/* Releases the default context (a no-op when there is none); the next
 * clgrad_context_default() makes a new one. Undefined behaviour while another thread still
 * uses the default context or an object made from it, as for free(): making that safe
 * would cost a reference count on every call. */
CLGRAD_API void clgrad_shutdown(void);

/* The device of ctx (borrowed, valid while ctx lives). */
CLGRAD_API const clgrad_device_info *clgrad_context_device(const clgrad_context *ctx);

/* Waits until everything enqueued on ctx has finished. */
CLGRAD_API clgrad_status clgrad_context_finish(clgrad_context *ctx);

/* Counters, for tools and tests. */
typedef struct clgrad_context_stats {
    int programs_built;        /* compiled from source */
    int programs_from_cache;   /* loaded from the on-disk binary cache */
    double build_seconds;      /* time spent creating programs (either way) */
    uint64_t buffers_created;  /* clCreateBuffer calls so far */
    uint64_t pool_hits;        /* buffer requests served from the pool */
    uint64_t live_buffers;     /* device buffers held by tensors now */
    uint64_t pooled_buffers;   /* free buffers waiting in the pool */
    uint64_t live_tensors;     /* tensor handles alive now */
    uint64_t device_bytes;     /* bytes of device memory held (live + pooled) */
    uint64_t peak_device_bytes; /* the most device_bytes has been */
} clgrad_context_stats;
CLGRAD_API clgrad_status clgrad_context_get_stats(const clgrad_context *ctx, clgrad_context_stats *out);

/* What ctx noticed that failed no call but changed what it does, one line per note, for
 * the program to show or log as it likes (the library never prints): today, why the
 * on-disk binary cache is off, e.g. "binary cache off: /x/clgrad is writable by group or
 * others (mode 0777); a cache folder must be a directory of yours that only you can
 * write". "" when there is nothing to say; NULL for a NULL ctx. Owned by ctx; valid
 * while ctx lives. */
CLGRAD_API const char *clgrad_context_diagnostics(const clgrad_context *ctx);

/* Builds every kernel family embedded in the library (with its default options) now
 * rather than on first use. Fails with CLGRAD_ERR_BUILD naming the family and carrying
 * the build log. */
CLGRAD_API clgrad_status clgrad_context_build_all(clgrad_context *ctx);

/* Releases every free buffer held by the pool. */
CLGRAD_API void clgrad_context_trim(clgrad_context *ctx);

/* Chooses the matrix-product (GEMM) implementation used by every op on ctx: "own" (the
 * library's kernels), "clblast" (CLBlast, when the library was built with it) or "auto".
 * By default, and after "auto" (or NULL), the choice is $CLGRAD_GEMM (own|clblast|auto)
 * when set, else "auto": both are timed once per device and driver on a few
 * representative sizes and the faster is used; the verdict is kept in the cache folder
 * (without one, it is measured once per context). Without CLBlast, or with
 * CLGRAD_CONTEXT_NO_CLBLAST, everything uses "own". Returns CLGRAD_ERR_UNSUPPORTED for
 * "clblast" when it is not available (the choice is then unchanged) and
 * CLGRAD_ERR_INVALID_ARG for an unknown name or a NULL ctx. Affects later calls only. */
CLGRAD_API clgrad_status clgrad_context_set_gemm_provider(clgrad_context *ctx, const char *provider);

/* The GEMM implementation ctx uses now: "own" or "clblast" (a static string), resolving
 * "auto" first, which may run the one-time measurement and so wait for the device. NULL
 * for a NULL ctx or when that fails (clgrad_last_error(ctx) says why). */
CLGRAD_API const char *clgrad_context_gemm_provider(clgrad_context *ctx);

/* Kernel parameters. Every kernel family has built-in parameters per kind of device (the
 * GEMM variant, tile sizes, work per item, vector widths, work-group sizes, which
 * convolution path a layer takes). clgrad_context_tune searches better ones for ctx's
 * device: GEMM tiles and packing, convolution paths and work-group sizes, reduction
 * work-group sizes and lanes. Every candidate is first checked against a plain-C
 * reference; one is kept only when it is faster overall and not slower than the built-in
 * parameters on any measured shape. The winners are written (atomically) into the cache
 * folder, in a file named after the platform, device and driver, and every context on that
 * device uses them from then on (ctx at once), unless created with CLGRAD_CONTEXT_NO_TUNED.
 * A tuned file that is missing, made with other kernel sources, damaged or out of range is
 * ignored as a whole. The search waits for the device and takes at most about
 * budget_seconds (<= 0: 60), less when it runs out of candidates; progress, when not NULL, is called now and then with the fraction done and
 * the stage ("gemm", "conv", "reduce", "check"). CLGRAD_ERR_UNSUPPORTED without a cache
 * folder (the results would be lost), CLGRAD_ERR_INVALID_ARG for a NULL ctx. */
typedef struct clgrad_tune_options {
    double budget_seconds;
    void (*progress)(void *user, double fraction, const char *stage);
    void *user;
} clgrad_tune_options;
CLGRAD_API clgrad_status clgrad_context_tune(clgrad_context *ctx, const clgrad_tune_options *opts);

/* The kernel parameters ctx uses, as a JSON object: the tuned file's path and status
 * ("used", "missing", "ignored (why)", ...) and, per group (gemm, conv, reduce, other), the
 * values and their source ("default": the built-in table, "tuned", "forced"); after
 * clgrad_context_tune on ctx, also "last_run": each measured shape with the default and the
 * tuned time. Owned by ctx, valid until the next clgrad call on ctx; NULL for a NULL ctx or
 * out of memory. */
CLGRAD_API const char *clgrad_context_tuning(clgrad_context *ctx);

#ifdef __cplusplus
}
#endif

#include "clgrad/tensor.h"
#include "clgrad/ops.h"
#include "clgrad/autograd.h"
#include "clgrad/nn.h"
#include "clgrad/optim.h"
#include "clgrad/data.h"
#include "clgrad/checkpoint.h"
#include "clgrad/npy.h"
#include "clgrad/onnx.h"
#include "clgrad/profile.h"
#include "clgrad/dist.h"

#endif
