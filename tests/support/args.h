/* Argument checks of the public API (tests/api/test_args_<header>.c, one file per public
 * header). A check calls one function with a NULL, invalid or mismatched argument and
 * expects the documented status, a non-empty message from clgrad_last_error(NULL) (naming a
 * given text, when one is given) and every out-parameter set to NULL; void functions must be
 * no-ops on NULL and getters must return their neutral value.
 *
 * Failed checks are listed on stderr and counted rather than stopping the test, so one run
 * names every faulty function; ARGS_DONE() at the end of each test prints how many checks ran
 * and fails the test if any did not hold.
 *
 * Ops with one signature are covered by a table row: ta_unary / ta_binary rows run through
 * ta_unary_null, ta_unary_invalid, ta_binary_null and ta_binary_invalid get every NULL,
 * dtype, shape, context and out-parameter check of their kind. A new public function also
 * needs at least one call in its header's test file: tests/api/args_coverage.py fails the
 * suite otherwise. */
#ifndef CLGRAD_TEST_ARGS_H
#define CLGRAD_TEST_ARGS_H

#include "harness.h"

/* A non-NULL pointer no function may hand back: out-parameters are set to it before a call. */
extern char ta_poison_byte;
#define POISON ((void *)&ta_poison_byte)

/* Records a failed check (file:line and a printf-style message on stderr). */
void ta_bad(const char *file, int line, const char *fmt, ...);
/* Counts one check; call before each call under test. Also clears the thread's message, so a
 * message afterwards was left by that call. */
void ta_begin(void);
/* got == want with a non-empty message (containing needle when not NULL), else ta_bad. */
void ta_expect(const char *file, int line, const char *what, clgrad_status want, clgrad_status got,
               const char *needle);
/* Prints "<test>: N argument checks" and fails the test when any check failed. */
void ta_done(const char *test);

/* call returns want and leaves a message (mentioning needle, when not NULL). */
#define EXPECT(want, call) ta_expect(__FILE__, __LINE__, #call, (want), (ta_begin(), (call)), NULL)
#define EXPECT_MSG(want, needle, call) ta_expect(__FILE__, __LINE__, #call, (want), (ta_begin(), (call)), (needle))
/* The same, and the out-parameter out (poisoned first) is NULL afterwards. */
#define EXPECT_OUT(want, out, call) EXPECT_OUT_MSG(want, NULL, out, call)
#define EXPECT_OUT_MSG(want, needle, out, call)                                                    \
    do {                                                                                           \
        (out) = POISON;                                                                            \
        EXPECT_MSG(want, needle, call);                                                            \
        if ((out) != NULL) ta_bad(__FILE__, __LINE__, "%s: out-parameter " #out " not NULL", #call); \
    } while (0)
/* A plain value check (getters, out-parameters of calls checked just before). */
#define EXPECT_TRUE(cond)                                                                          \
    do {                                                                                           \
        ta_begin();                                                                                \
        if (!(cond)) ta_bad(__FILE__, __LINE__, "%s does not hold", #cond);                        \
    } while (0)

#define ARGS_DONE() ta_done(__func__)

/* The main() of a test file: runs suite `name` with null_tests (no device) in a case "null"
 * and device_tests in a case "invalid" with th_setup / th_teardown; th_run's exit status. */
int ta_main(const char *name, const TTest *const *null_tests, int n_null, const TTest *const *device_tests,
            int n_device);

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Shapes the checks share. */
static const int64_t s23[2] = {2, 3};
static const int64_t s45[2] = {4, 5};
static const int64_t s32[2] = {3, 2};

/* f32 tensors with distinct small values (0.25, 0.26, ...) on ctx / th_ctx, i32 zeros on
 * th_ctx, and a second context on the same device for "tensors of two contexts" checks. */
clgrad_tensor *ta_f32_on(clgrad_context *ctx, int ndim, const int64_t *shape);
clgrad_tensor *ta_f32(int ndim, const int64_t *shape);
clgrad_tensor *ta_i32(int ndim, const int64_t *shape);
clgrad_context *ta_second_context(void);

/* --- tables of ops with one signature ------------------------------------------------------ */

typedef clgrad_status (*ta_unary_fn)(clgrad_tensor *x, clgrad_tensor **out);
typedef clgrad_status (*ta_binary_fn)(clgrad_tensor *a, clgrad_tensor *b, clgrad_tensor **out);

typedef struct ta_unary {
    const char *name;
    ta_unary_fn fn;   /* valid on an f32 tensor of shape (2, 2, 2, 2) */
    int needs_f32;    /* rejects an i32 input */
} ta_unary;

typedef struct ta_binary {
    const char *name;
    ta_binary_fn fn;  /* valid on two f32 tensors of shape (2, 3) */
    int b_may_be_i32; /* an i32 second operand is allowed (a where condition) */
} ta_binary;

/* No device needed: fn(NULL, &o) and fn(NULL, NULL, &o) give INVALID_ARG and clear o. */
void ta_unary_null(const ta_unary *ops, int n);
void ta_binary_null(const ta_binary *ops, int n);
/* On th_ctx: fn(x, NULL) gives INVALID_ARG; with needs_f32, so does an i32 x (o cleared). */
void ta_unary_invalid(const ta_unary *ops, int n);
/* On th_ctx: NULL operands, shapes [2, 3] with [4, 5] (SHAPE, the message names [2, 3]), an
 * i32 operand, operands of two contexts (both orders), and out == NULL. */
void ta_binary_invalid(const ta_binary *ops, int n);

/* --- files ---------------------------------------------------------------------------------- */

/* Writes a tiny IDX pair into dir: img.idx (3 samples of 2 x 2 u8) and lab.idx (3 u8 labels),
 * their paths in img and lab (cap bytes each). */
void ta_write_idx_pair(const char *dir, char *img, char *lab, size_t cap);

#endif
