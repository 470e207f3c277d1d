/* Datasets on the host: the IDX file reader (MNIST, Fashion-MNIST and any other IDX
 * file, plain or gzip-compressed), a CSV reader, and datasets built on them (images and
 * labels, or float samples with labels or regression targets), with per-channel
 * normalisation, label and value statistics, a seeded held-out split, seeded per-epoch
 * shuffling and batching.
 * Everything here lives in host memory; nothing touches a device. Included by clgrad.h.
 *
 * A training loop:
 *
 *     clgrad_dataset_opts o = { .mean = CLGRAD_FASHION_MNIST_MEAN, .std = CLGRAD_FASHION_MNIST_STD };
 *     clgrad_dataset *all = NULL, *train = NULL, *val = NULL;
 *     clgrad_status s = clgrad_dataset_load_idx(images_path, labels_path, &o, &all);
 *     if (s == CLGRAD_OK) s = clgrad_dataset_split(all, 5000, seed, &train, &val);
 *     clgrad_dataset_release(all);               (train and val keep the data alive)
 *     for (uint64_t epoch = 0; s == CLGRAD_OK && epoch < n_epochs; epoch++) {
 *         clgrad_dataset_shuffle(train, seed, epoch);
 *         for (int64_t b = 0; s == CLGRAD_OK && b < clgrad_dataset_n_batches(train, 64); b++) {
 *             int64_t n;
 *             s = clgrad_dataset_batch(train, b, 64, x, y, &n);   (x: 64 * sample_size floats)
 *             ... upload x and y, forward, backward, step ...
 *         }
 *     }
 *
 * Errors: every fallible call returns a clgrad_status and leaves a message for
 * clgrad_last_error(NULL) on the calling thread, naming the file and what is wrong. */
#ifndef CLGRAD_DATA_H
#define CLGRAD_DATA_H

#include "clgrad.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------
 * IDX files
 * ------------------------------------------------------------------------------------- */

/* Most dimensions an IDX file may have here (the format allows 255). */
#define CLGRAD_IDX_MAX_DIMS 8

/* Element types of the IDX format; the value is the type byte of the file's magic number. */
typedef enum clgrad_idx_type {
    CLGRAD_IDX_U8  = 0x08, /* unsigned byte */
    CLGRAD_IDX_I8  = 0x09, /* signed byte */
    CLGRAD_IDX_I16 = 0x0B, /* 16-bit signed integer */
    CLGRAD_IDX_I32 = 0x0C, /* 32-bit signed integer */
    CLGRAD_IDX_F32 = 0x0D, /* IEEE 754 single */
    CLGRAD_IDX_F64 = 0x0E  /* IEEE 754 double */
} clgrad_idx_type;

/* The contents of one IDX file. Made by clgrad_idx_load*, freed by clgrad_idx_release;
 * read the fields freely, change none of them. */
typedef struct clgrad_idx {
    clgrad_idx_type type;
    int ndim;                           /* 1 .. CLGRAD_IDX_MAX_DIMS */
    int64_t dims[CLGRAD_IDX_MAX_DIMS];  /* dims[0] is the outermost (slowest) dimension */
    int64_t count;                      /* number of elements: the product of dims */
    size_t elem_size;                   /* bytes per element: 1, 2, 4 or 8 */
    void *data;                         /* count * elem_size bytes in the host's byte order
                                           (the file's big-endian values converted); owned by
                                           this object. NULL when count is 0. */
} clgrad_idx;

/* How much memory one IDX file may make the reader hold, so that a small hostile file (a
 * 510 KB gzip stream whose header claims 1 GiB) fails at once instead of filling memory.
 * Both limits are checked against the header's claim (and the compressed file's size)
 * before any data is allocated; the data buffer then grows only as the data arrives, never
 * past the claim. A zero-initialised struct means the defaults. */
#define CLGRAD_IDX_DEFAULT_MAX_BYTES ((uint64_t)4 << 30) /* 4 GiB of element data */
#define CLGRAD_IDX_DEFAULT_MAX_RATIO 100.0               /* decompressed per compressed byte */
#define CLGRAD_IDX_RATIO_FLOOR ((uint64_t)1 << 20)       /* up to 1 MiB, any ratio is fine */
typedef struct clgrad_idx_limits {
    uint64_t max_bytes; /* most bytes of element data a file may declare; 0: the default */
    double max_ratio;   /* gzip files: most bytes of data per byte of the compressed file,
                           for data above CLGRAD_IDX_RATIO_FLOOR (real image data compresses
                           a few times, not a thousand); 0: the default; must be finite */
} clgrad_idx_limits;

/* Reads the IDX file at path, gzip-compressed or not (told by the gzip magic bytes, not by
 * the name), within the default limits (see clgrad_idx_limits). The magic number, the
 * dimensions and the data size are all checked against the file: a bad file, or one beyond
 * the limits, gives CLGRAD_ERR_IO (CLGRAD_ERR_UNSUPPORTED for more than CLGRAD_IDX_MAX_DIMS
 * dimensions) and a message naming path and the fault, and *out is NULL. Returns CLGRAD_OK
 * and a new object in *out, which the caller frees with clgrad_idx_release. path and out
 * must not be NULL. Thread-safe. */
CLGRAD_API clgrad_status clgrad_idx_load(const char *path, clgrad_idx **out);

/* As clgrad_idx_load, within limits (NULL: the defaults). CLGRAD_ERR_INVALID_ARG for a
 * negative or non-finite max_ratio. Thread-safe. */
CLGRAD_API clgrad_status clgrad_idx_load_limited(const char *path, const clgrad_idx_limits *limits,
                                                 clgrad_idx **out);

/* As clgrad_idx_load (the default limits), from the nbytes bytes at bytes (the whole file,
 * gzip-compressed or not). The bytes are only read, and not kept. name is used in error
 * messages (NULL: "<memory>"). bytes may be NULL only when nbytes is 0. Thread-safe. */
CLGRAD_API clgrad_status clgrad_idx_load_memory(const void *bytes, size_t nbytes, const char *name,
                                                clgrad_idx **out);

/* Frees idx and its data. NULL: no-op. */
CLGRAD_API void clgrad_idx_release(clgrad_idx *idx);

/* ---------------------------------------------------------------------------------------
 * Image-classification datasets
 * ------------------------------------------------------------------------------------- */

/* A set of samples (an image and an integer label each) and the order in which batches
 * visit them. Datasets made by clgrad_dataset_split share their samples with the dataset
 * they came from; each holds a reference, so any of them may be released first.
 *
 * Threads: a dataset, and every dataset that shares samples with it, may be used by one
 * thread at a time. Calls that only read (count, shape, n_batches, batch) may run on
 * several threads at once while no thread shuffles, splits or releases one of them. */
typedef struct clgrad_dataset clgrad_dataset;

/* Per-channel statistics of the training images, scaled to [0, 1]. */
#define CLGRAD_MNIST_MEAN         0.1307f
#define CLGRAD_MNIST_STD          0.3081f
#define CLGRAD_FASHION_MNIST_MEAN 0.2860f
#define CLGRAD_FASHION_MNIST_STD  0.3530f

/* Loading options. A zero-initialised struct means: pixels scaled to [0, 1], all samples,
 * a 4-D file read as N x C x H x W. */
typedef struct clgrad_dataset_opts {
    float mean;          /* each pixel value v becomes (v / 255 - mean) / std (one value for
                            every channel; clgrad_dataset_set_normalization sets one per
                            channel) */
    float std;           /* must be positive and finite; 0 means 1 */
    int64_t max_samples; /* keep only the first max_samples samples; 0 (or more than the
                            file holds) keeps all */
    int channels_last;   /* non-zero: the images file is 4-D N x H x W x C (channels last, as
                            most image tools write them); samples are then stored and
                            batched as C x H x W */
    clgrad_idx_limits limits; /* size limits for both files (zero: the defaults, see
                                 clgrad_idx_limits) */
} clgrad_dataset_opts;

/* Loads an image file and a label file in IDX format, each plain or gzip-compressed (e.g.
 * Fashion-MNIST's train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz).
 * The images file must hold unsigned bytes with at least 2 dimensions: dims[0] is the
 * number of samples, the rest the shape of one sample. The labels file must hold integers
 * (u8, i8, i16 or i32) in one dimension of the same count, none negative.
 * opts may be NULL (the zero-initialised defaults). On success *out is a new dataset in
 * file order, which the caller frees with clgrad_dataset_release. On failure *out is NULL:
 * CLGRAD_ERR_IO for a missing or malformed file, CLGRAD_ERR_UNSUPPORTED for images that
 * are not unsigned bytes or labels that are not integers, CLGRAD_ERR_INVALID_ARG for bad
 * arguments, a negative label or files that do not belong together (counts differ),
 * CLGRAD_ERR_HOST_MEMORY.
 * Thread-safe. */
CLGRAD_API clgrad_status clgrad_dataset_load_idx(const char *images_path, const char *labels_path,
                                                 const clgrad_dataset_opts *opts,
                                                 clgrad_dataset **out);

/* A dataset of n samples of floats (rows of a table, windows of a series), copied from x:
 * n * product(sample_shape) values, sample after sample. Give exactly one of labels (n
 * non-negative integers: classification) and targets (n * n_targets floats: regression).
 * Values and targets must be finite: a NaN or infinity is INVALID_ARG naming the sample
 * and the position. Batches hand the values out as they are until
 * clgrad_dataset_set_normalization says otherwise. *out is a new dataset in the given
 * order. Thread-safe. */
CLGRAD_API clgrad_status clgrad_dataset_from_floats(int64_t n, int sample_ndim, const int64_t *sample_shape,
                                                    const float *x, const int32_t *labels, int n_targets,
                                                    const float *targets, clgrad_dataset **out);

/* Drops this dataset's reference to the samples and frees it. NULL: no-op. */
CLGRAD_API void clgrad_dataset_release(clgrad_dataset *ds);

/* Number of samples. NULL: 0. */
CLGRAD_API int64_t clgrad_dataset_count(const clgrad_dataset *ds);

/* Writes the shape of one sample (e.g. 28, 28) into shape, which has room for
 * CLGRAD_IDX_MAX_DIMS values, and returns the number of dimensions. NULL ds: returns 0,
 * shape untouched. shape may be NULL to get the number only. */
CLGRAD_API int clgrad_dataset_sample_shape(const clgrad_dataset *ds, int64_t *shape);

/* Number of floats in one sample: the product of the sample shape. NULL: 0. */
CLGRAD_API int64_t clgrad_dataset_sample_size(const clgrad_dataset *ds);

/* One more than the largest label among all the samples loaded from the file (shared by
 * the datasets split from it), so labels lie in [0, n_classes). NULL: 0. */
CLGRAD_API int clgrad_dataset_n_classes(const clgrad_dataset *ds);

/* Targets per sample of a regression dataset (made with targets); 0 for a classification
 * dataset or NULL. */
CLGRAD_API int clgrad_dataset_n_targets(const clgrad_dataset *ds);

/* The labels of ds's own samples (not of the file or the datasets it was split from): the
 * smallest and the largest label (*min_label and *max_label, each optional; -1 for an
 * empty dataset), and counts[k] = the number of samples with label k for k in
 * [0, n_counts) (labels >= n_counts are not counted). With the largest label known, a
 * caller can tell absent classes and sparse labels from a complete set. INVALID_ARG for
 * a regression dataset. Only reads ds. */
CLGRAD_API clgrad_status clgrad_dataset_label_stats(const clgrad_dataset *ds, int32_t *min_label,
                                                    int32_t *max_label, int64_t *counts, int64_t n_counts);

/* Statistics of the raw values (pixel / 255 for images, the floats as given otherwise) of
 * ds's own samples per channel, a channel being an index along sample dimension axis
 * (negative counts from the end: 0 for C x H x W images or table rows, -1 for the features
 * of a T x F window): mean[c], the population standard deviation std[c] and, each
 * optional (NULL), min[c] and max[c]. Each array has room for the sample's size along
 * axis. Computing them on a training split and passing them to
 * clgrad_dataset_set_normalization normalises every split alike. Only reads ds. */
CLGRAD_API clgrad_status clgrad_dataset_channel_stats(const clgrad_dataset *ds, int axis, double *mean,
                                                      double *std, double *min, double *max);

/* Sets how batches normalise values, for ds and every dataset that shares its samples (its
 * splits and slices): raw value v of channel c becomes (v - mean[c]) / std[c]. n is 1 (one
 * mean and std for every value) or the sample's size along axis (see
 * clgrad_dataset_channel_stats). std must be positive and finite, mean finite. For images
 * the result of a value equals what clgrad_dataset_opts' mean and std give. */
CLGRAD_API clgrad_status clgrad_dataset_set_normalization(clgrad_dataset *ds, int axis, int n,
                                                          const float *mean, const float *std);

/* The position of ds's i-th sample (in its unshuffled order) in the file or arrays it was
 * loaded from, for messages that name a row; -1 when i is outside [0, count). */
CLGRAD_API int64_t clgrad_dataset_sample_id(const clgrad_dataset *ds, int64_t i);

/* A new dataset over count consecutive samples of ds's unshuffled order starting at first
 * (sharing the samples, no copy): a chronological split of the windows of a series.
 * INVALID_ARG when the range is not inside ds. */
CLGRAD_API clgrad_status clgrad_dataset_slice(const clgrad_dataset *ds, int64_t first, int64_t count,
                                              clgrad_dataset **out);

/* Splits ds into two new datasets: *holdout gets n_holdout samples chosen at random by
 * seed, *train the other count - n_holdout. Both keep the samples' relative order in ds's
 * unshuffled order, share ds's samples (no copy) and start unshuffled; ds itself is left
 * as it was. The same seed gives the same split on every machine. 0 <= n_holdout <= count.
 * On failure both outputs are NULL. train and holdout must not be NULL. */
CLGRAD_API clgrad_status clgrad_dataset_split(const clgrad_dataset *ds, int64_t n_holdout,
                                              uint64_t seed, clgrad_dataset **train,
                                              clgrad_dataset **holdout);

/* Sets the order in which batches visit the samples to a random permutation that depends
 * only on (seed, epoch) and the dataset's samples: not on earlier calls, the machine or the
 * library build. Resuming at epoch e with the same seed therefore repeats the same order.
 * (Fisher-Yates driven by xoshiro256** seeded through splitmix64.) Cannot fail except for
 * ds == NULL (CLGRAD_ERR_INVALID_ARG). */
CLGRAD_API clgrad_status clgrad_dataset_shuffle(clgrad_dataset *ds, uint64_t seed, uint64_t epoch);

/* Number of batches of batch_size samples that cover the dataset, the last one possibly
 * short: ceil(count / batch_size). (For full batches only, use count / batch_size.)
 * NULL ds or batch_size <= 0: 0. */
CLGRAD_API int64_t clgrad_dataset_n_batches(const clgrad_dataset *ds, int64_t batch_size);

/* Copies batch batch_index, the samples at positions [batch_index * batch_size,
 * min((batch_index + 1) * batch_size, count)) of the current order, into caller memory:
 * x gets the normalised images, sample after sample (room for batch_size * sample_size
 * floats), y the labels (room for batch_size values). Either may be NULL to skip it.
 * *n_out (n_out may be NULL) gets the number of samples copied, which is batch_size except
 * for a short last batch. CLGRAD_ERR_INVALID_ARG when ds is NULL, batch_size <= 0 or
 * batch_index is outside [0, clgrad_dataset_n_batches). Only reads ds. */
CLGRAD_API clgrad_status clgrad_dataset_batch(const clgrad_dataset *ds, int64_t batch_index,
                                              int64_t batch_size, float *x, int32_t *y,
                                              int64_t *n_out);
/* As clgrad_dataset_batch for a regression dataset: t gets the targets (room for
 * batch_size * n_targets floats). INVALID_ARG for a classification dataset when t is not
 * NULL (and clgrad_dataset_batch is INVALID_ARG for a regression dataset when y is not
 * NULL). */
CLGRAD_API clgrad_status clgrad_dataset_batch_targets(const clgrad_dataset *ds, int64_t batch_index,
                                                      int64_t batch_size, float *x, float *t,
                                                      int64_t *n_out);

/* ---------------------------------------------------------------------------------------
 * CSV files
 * ------------------------------------------------------------------------------------- */

/* A table read from a CSV file: text cells, rows and columns, an optional header. */
typedef struct clgrad_csv clgrad_csv;

typedef enum clgrad_csv_header {
    CLGRAD_CSV_HEADER_AUTO = 0, /* the first row is a header when one of its cells is not a
                                   number (nor missing) while that column's next cell is */
    CLGRAD_CSV_HEADER_YES = 1,
    CLGRAD_CSV_HEADER_NO = 2,
} clgrad_csv_header;

/* Reading options; a zero-initialised struct detects everything. */
typedef struct clgrad_csv_opts {
    char delimiter;          /* 0: from the first row: ',', ';' or tab if it holds one (in
                                that order), else runs of spaces */
    clgrad_csv_header header;
    int64_t skip_lines;      /* lines to ignore before the header or the first row */
} clgrad_csv_opts;

/* Reads the CSV file at path (plain or gzip-compressed, told by its bytes): fields split at
 * the delimiter, double-quoted fields with "" for a quote (RFC 4180), CRLF or LF line ends,
 * blank lines ignored, spaces around unquoted fields trimmed. Every row must have as many
 * fields as the first: a ragged row is CLGRAD_ERR_IO naming its line and both counts (with
 * a hint about skip_lines when the first row is the odd one). A missing file or one
 * without data rows is CLGRAD_ERR_IO. *out is a new table, freed with clgrad_csv_release.
 * Numbers are read in the C locale whatever the process's locale. Thread-safe. */
CLGRAD_API clgrad_status clgrad_csv_load(const char *path, const clgrad_csv_opts *opts, clgrad_csv **out);
CLGRAD_API void clgrad_csv_release(clgrad_csv *t); /* NULL: no-op */

CLGRAD_API int64_t clgrad_csv_rows(const clgrad_csv *t); /* data rows (no header); NULL: 0 */
CLGRAD_API int clgrad_csv_cols(const clgrad_csv *t);     /* NULL: 0 */
/* The header's name of column col, or NULL when the file has no header (or col is out of
 * range). Borrowed from t. */
CLGRAD_API const char *clgrad_csv_name(const clgrad_csv *t, int col);
/* The column called name, else, when name is a whole number i, column i (0-based; negative
 * counts from the end: -1 is the last column); -1 when there is no such column. */
CLGRAD_API int clgrad_csv_find(const clgrad_csv *t, const char *name);
/* The text of a cell, unquoted (borrowed from t; "" when row or col is out of range). */
CLGRAD_API const char *clgrad_csv_cell(const clgrad_csv *t, int64_t row, int col);
/* The 1-based line of the file on which data row row starts, for messages; 0 when row is
 * out of range. */
CLGRAD_API int64_t clgrad_csv_line(const clgrad_csv *t, int64_t row);

typedef enum clgrad_csv_value {
    CLGRAD_CSV_NUMBER = 0,    /* a finite number, in *value */
    CLGRAD_CSV_MISSING = 1,   /* an empty cell, "NA", "N/A", "null", "?" (any case) */
    CLGRAD_CSV_NONFINITE = 2, /* "nan", "inf", "-inf", "infinity" or a number out of double's
                                 range; *value holds it */
    CLGRAD_CSV_TEXT = 3,      /* anything else */
} clgrad_csv_value;
/* Reads a cell as a number (value may be NULL). */
CLGRAD_API clgrad_csv_value clgrad_csv_number(const clgrad_csv *t, int64_t row, int col, double *value);

#ifdef __cplusplus
}
#endif

#endif /* CLGRAD_DATA_H */
