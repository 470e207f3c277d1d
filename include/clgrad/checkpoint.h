/* clgrad checkpoints: a module's parameters and buffers, an optimizer's state and the
 * training position in one safetensors file, which PyTorch (safetensors.torch.load_file)
 * and every other safetensors reader open. Included by clgrad.h.
 *
 * What a checkpoint holds:
 *   - every parameter and buffer under its module name ("0.weight", "3.running_mean"), with
 *     its shape and dtype (F32, or I32 / F16 for such tensors);
 *   - every module counter (batch norm's num_batches_tracked, dropout's call count) as a
 *     0-d I64 tensor under its name, as PyTorch stores num_batches_tracked;
 *   - when an optimizer is given, its state tensors as "optim.<param name>.<state>"
 *     ("optim.0.weight.momentum_buffer", "optim.lstm.weight_ih_l0.exp_avg") and its
 *     scalar state (step count, hyper-parameters) in the metadata under "optim.*";
 *   - in the "__metadata__" strings: "format" = "clgrad", "clgrad.format_version" (1),
 *     "clgrad.library_version", the training position under "clgrad.step", "clgrad.epoch",
 *     "clgrad.batch", "clgrad.seed" and "clgrad.rng" (the RNG words, comma separated), and
 *     the caller's free-form pairs as they are.
 * A plain safetensors file without the "clgrad.*" keys (one written by PyTorch, say) loads
 * too when its tensors match the module; the training position then reads as zero.
 *
 * Saving copies every tensor to the host and writes the file atomically (a temporary file
 * in the same folder, flushed to disk, renamed over the old one), so a crash or a full disk
 * in the middle leaves the previous checkpoint intact. A new file gets mode 0600; one that
 * replaces a file keeps that file's mode. path names the file itself: when path is a
 * symbolic link, the link is replaced by the new file and the file it pointed to is left
 * as it was (as rename() does); to write through a link, pass the path it resolves to.
 * Numbers in the metadata are written and read in the C locale ("0.001" whatever
 * setlocale() the program made), so files move between machines and load in Python.
 *
 * Loading reads and validates the whole file (every length and offset, then every name,
 * dtype and shape against the module and optimizer, and every value: counters and step
 * counts in [0, INT64_MAX), the optimizer's lr finite and >= 0, betas in [0, 1), eps,
 * momentum and weight decay finite and >= 0, dampening and nesterov in [0, 1]) before it
 * writes anything to the device: a truncated, corrupted or foreign file, one for another
 * network, or one holding an out-of-range value is an error and changes nothing. Of the
 * optimizer's hyper-parameters only the lr is taken from the file (as a learning-rate
 * schedule would set it); the others are checked and otherwise the optimizer's own.
 *
 *     clgrad_checkpoint_meta meta = {.step = step, .epoch = epoch, .seed = seed};
 *     clgrad_checkpoint_meta_set(&meta, "model", "cnn");
 *     s = clgrad_checkpoint_save("run.safetensors", model, opt, &meta);
 *     ...
 *     s = clgrad_checkpoint_load("run.safetensors", model, opt, &meta);   (same network)
 */
#ifndef CLGRAD_CHECKPOINT_H
#define CLGRAD_CHECKPOINT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLGRAD_CHECKPOINT_MAX_RNG 8
#define CLGRAD_CHECKPOINT_MAX_EXTRA 64
#define CLGRAD_CHECKPOINT_KEY_MAX 64    /* bytes, with the terminating NUL */
#define CLGRAD_CHECKPOINT_VALUE_MAX 1024 /* bytes, with the terminating NUL */

/* One free-form metadata pair (NUL-terminated UTF-8). */
typedef struct clgrad_checkpoint_kv {
    char key[CLGRAD_CHECKPOINT_KEY_MAX];
    char value[CLGRAD_CHECKPOINT_VALUE_MAX];
} clgrad_checkpoint_kv;

/* Where training stands, saved with the tensors. Plain data: zero-initialise, fill what
 * applies. The library gives the numbers no meaning beyond storing them exactly. */
typedef struct clgrad_checkpoint_meta {
    int64_t step;  /* optimizer steps taken so far */
    int64_t epoch; /* the epoch in progress (0-based) */
    int64_t batch; /* batches of that epoch already done (0: the epoch has not started) */
    uint64_t seed; /* the run's seed (weights, data order, dropout) */
    int n_rng;     /* entries of rng in use, 0..CLGRAD_CHECKPOINT_MAX_RNG */
    uint64_t rng[CLGRAD_CHECKPOINT_MAX_RNG]; /* other random-generator state */
    int n_extra;   /* entries of extra in use, 0..CLGRAD_CHECKPOINT_MAX_EXTRA */
    clgrad_checkpoint_kv extra[CLGRAD_CHECKPOINT_MAX_EXTRA];
} clgrad_checkpoint_meta;

/* Sets key to value in meta->extra, replacing the value of an existing key. Keys must be
 * non-empty, not "format" and not start with "clgrad." or "optim." (the library's own
 * keys). INVALID_ARG for such a key, for a key or value that does not fit (KEY_MAX /
 * VALUE_MAX bytes with the NUL) or NULL arguments; UNSUPPORTED when extra is full. */
CLGRAD_API clgrad_status clgrad_checkpoint_meta_set(clgrad_checkpoint_meta *meta, const char *key,
                                                    const char *value);
/* The value of key in meta->extra, or NULL (borrowed from meta). */
CLGRAD_API const char *clgrad_checkpoint_meta_get(const clgrad_checkpoint_meta *meta, const char *key);

/* Saves module's parameters, buffers and counters, optim's state (optim may be NULL) and
 * meta (may be NULL: all zero) to path, atomically as described above. Waits for the
 * device. INVALID_ARG for a NULL path or module or a meta out of range (n_rng, n_extra, a
 * reserved or duplicate key), IO when the file cannot be written (the message names the
 * path and the system's reason; the old file is kept), HOST_MEMORY. */
CLGRAD_API clgrad_status clgrad_checkpoint_save(const char *path, const clgrad_module *module,
                                                const clgrad_optim *optim, const clgrad_checkpoint_meta *meta);

/* Loads a checkpoint into module (and optim, when not NULL) and, when meta_out is not NULL,
 * its metadata. The file must hold a tensor for every parameter, buffer and counter of
 * module with the same dtype and shape, and nothing else outside "optim.*"; with an
 * optimizer, its state of the same kind and hyper-parameter layout for every parameter.
 * Everything is checked before anything changes: on any error module, optim and *meta_out
 * are left as they were. IO for a missing, truncated, corrupted or foreign file, a
 * missing or unexpected tensor or an out-of-range value (the message names the path, the
 * tensor or key and the fault),
 * SHAPE for a tensor whose shape differs from the module's (both shapes are named),
 * INVALID_ARG for a dtype mismatch or an optimizer of another kind, UNSUPPORTED for a file
 * of a newer checkpoint format, HOST_MEMORY. Failures are recorded on the module's context
 * (clgrad_last_error(ctx)) and on the calling thread. */
CLGRAD_API clgrad_status clgrad_checkpoint_load(const char *path, clgrad_module *module, clgrad_optim *optim,
                                                clgrad_checkpoint_meta *meta_out);

/* Reads only the metadata of a checkpoint (after validating the whole file as load does),
 * e.g. to learn which network to build before loading it. Errors as for load; *meta_out
 * is untouched on failure. */
CLGRAD_API clgrad_status clgrad_checkpoint_read_meta(const char *path, clgrad_checkpoint_meta *meta_out);

/* One tensor of a checkpoint file, as clgrad_checkpoint_list gives it. */
typedef struct clgrad_checkpoint_tensor {
    const char *name;  /* "0.weight", "optim.0.weight.momentum_buffer", ... */
    const char *dtype; /* the file's dtype name: "F32", "I64", ... (static string) */
    int ndim;
    int64_t shape[8];
} clgrad_checkpoint_tensor;

/* Lists every tensor of the checkpoint (any safetensors file) at path, sorted by name, after
 * validating the whole file as clgrad_checkpoint_load does: the sizes of the network it
 * holds, before building it. *out (*n entries) is freed with clgrad_checkpoint_list_free;
 * the names live as long as the list. Errors as for clgrad_checkpoint_read_meta. */
CLGRAD_API clgrad_status clgrad_checkpoint_list(const char *path, clgrad_checkpoint_tensor **out, int *n);
CLGRAD_API void clgrad_checkpoint_list_free(clgrad_checkpoint_tensor *list); /* NULL: no-op */

#ifdef __cplusplus
}
#endif

#endif
