/* Test support: the device fixture, comparisons against references and the finite-
 * difference gradient check. Every test executable links this with the static library. */
#ifndef CLGRAD_TEST_HARNESS_H
#define CLGRAD_TEST_HARNESS_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "clgrad.h"

/* The context of the running test, created by th_setup in the forked child. */
extern clgrad_context *th_ctx;

/* Checked fixture: creates th_ctx on $CLGRAD_DEVICE or the best device; a private cache
 * folder per run. Tests that need no device don't install it. With $CLGRAD_TEST_DIAG_DIR
 * set, Oclgrind's log goes to a file of this process's own there (tests/gpu). */
void th_setup(void);
void th_teardown(void);

/* Runs the suite (CK_FORK), returns the process exit status. With no OpenCL platform the
 * whole executable exits 77 (skipped) when needs_device is set. */
int th_run(Suite *s, int needs_device);

/* Fails the test with the library's message when s != CLGRAD_OK. */
#define TH_OK(expr)                                                                                \
    do {                                                                                           \
        clgrad_status s__ = (expr);                                                                \
        ck_assert_msg(s__ == CLGRAD_OK, "%s -> %s: %s", #expr, clgrad_status_name(s__),          \
                      clgrad_last_error(th_ctx));                                                  \
    } while (0)

/* Deterministic test data: uniform in [lo, hi) from a seeded generator. */
void th_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);

/* Product of the ndim dims of shape (1 for ndim 0). */
int64_t th_numel(int ndim, const int64_t *shape);

/* Host tensor helpers (ndim <= 8). */
clgrad_tensor *th_tensor(int ndim, const int64_t *shape, const float *data);           /* from host */
clgrad_tensor *th_tensor_i32(int ndim, const int64_t *shape, const int32_t *data);     /* NULL: zeros */
clgrad_tensor *th_rand(int ndim, const int64_t *shape, uint64_t seed, float lo, float hi);
float *th_read(const clgrad_tensor *t); /* malloc'd host copy (f32) */
/* A malloc'd host copy of m's parameter or buffer called name (a local name, no dots);
 * fails the test when m has none. */
float *th_read_module_tensor(const clgrad_module *m, const char *name);

/* Compares got against want elementwise: |got - want| <= atol + rtol * |want|. On failure
 * fails the test naming what, the first bad index, both values and the max error. */
void th_allclose(const char *what, const float *got, const float *want, size_t n, double atol, double rtol);
/* Normalised mean squared error sum((g-w)^2) / sum(w^2). */
double th_nmse(const float *got, const float *want, size_t n);

/* A strided, non-contiguous copy of t: the same values, seen through a transposed view of
 * a bigger buffer (for "works on non-contiguous inputs" tests). New reference. */
clgrad_tensor *th_noncontig(clgrad_tensor *t);
/* Replaces *t by th_noncontig(*t), releasing the old reference. */
void th_make_noncontig(clgrad_tensor **t);

/* Files. th_tmpdir makes a fresh folder $TMPDIR/clgrad-<tag>-XXXXXX (/tmp when TMPDIR is unset
 * or empty) in dir (cap bytes) and fails the test if it cannot; th_rmtree removes a folder and
 * everything below it (a missing one is not an error). th_path joins dir and name in one of
 * four rotating static buffers, so a few results can be used in the same call. */
void th_tmpdir(char *dir, size_t cap, const char *tag);
void th_rmtree(const char *dir);
const char *th_path(const char *dir, const char *name);
/* The whole file, malloc'd with one spare byte after the end; *len its size. Fails the test
 * when the file cannot be read. */
uint8_t *th_slurp(const char *path, size_t *len);
/* Writes n bytes to path (created or truncated); fails the test on any error. */
void th_spit(const char *path, const void *data, size_t n);
/* A .npy file in buf (room for it assumed): magic, version major (1: 2-byte header length,
 * else 4), the header dict padded with spaces and a newline to a multiple of 64 as numpy pads
 * it, then body_len bytes of body. Returns its size. */
size_t th_make_npy(uint8_t *buf, int major, const char *dict, const void *body, size_t body_len);

/* Finite-difference gradient check. fn computes out from inputs (any public ops). Every
 * input with requires_grad is checked: analytic gradients from clgrad_backward_ex of a
 * fixed random weighting w of out, numeric ones from central differences of sum(w * out)
 * computed in double on the host, perturbing each element by eps. Fails the test naming
 * the input, index and both values when |a - n| > atol + rtol * |n|. */
typedef clgrad_status (*th_fn)(clgrad_tensor **inputs, void *user, clgrad_tensor **out);
void th_gradcheck(const char *what, th_fn fn, int n_inputs, clgrad_tensor **inputs, void *user, double eps,
                  double atol, double rtol);

#endif
