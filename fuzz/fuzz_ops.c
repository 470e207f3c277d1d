/* libFuzzer target for views and ops with hostile shapes, strides, steps and dims. The input
 * is a small program: each instruction picks an operation (create, reshape, permute,
 * transpose, slice, expand, cat, stack, unary, binary, reduce, argmax, softmax, matmul,
 * clone, contiguous, copy_, fill_, tensor_write, in-place gemm, release) and its arguments
 * from the next bytes, with sizes and bounds drawn from a table of extreme values
 * (INT64_MAX, INT64_MIN, 2^31, 2^61 - 1, 7378697629483820648, ...).
 *
 * Every result is checked against a plain-C model: each tensor is a list of storage cells,
 * one per element in row-major order, so views share cells exactly as they share memory,
 * in-place writes change every alias, and a destination with a repeated cell is one whose
 * elements share memory. Shapes are predicted with Python's and PyTorch's rules in 128-bit
 * arithmetic; values come from tests/support's references. A call must either succeed with
 * the predicted shape and values, or fail with SHAPE or INVALID_ARG, a message, and no
 * result; a call the model says is invalid must fail. Anything else aborts. Tensors too big
 * to model (huge expanded views) only take part in view calls and calls that must fail.
 *
 * Build with Meson: CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined
 *   then e.g. build-fuzz/fuzz/fuzz_ops -max_len=512 WORK_CORPUS fuzz/corpus/ops
 *   with LSAN_OPTIONS=suppressions=tests/lsan.supp and ASAN_OPTIONS=fast_unwind_on_malloc=0:
 *   PoCL's own leak at exit (its kernel cache, from a worker thread) matches the suppression
 *   only with full stacks.
 * Every normal build also has a replay driver run by the test suite on fuzz/corpus/ops.
 * A failure prints the instruction, the reason and the input in hex (FUZZ_OPS_FAILURE=path
 * also saves it); FUZZ_OPS_TRACE=1 traces every call of a replay.
 */
#include "ref.h"
#include "tensor/tensor.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 i128;

enum { NSLOT = 8, MODEL_MAX = 4096, MAX_OPS = 48, STORE_MAX = 1 << 20 };
#define ELEM_LIMIT (INT64_MAX / 4) /* the library's element limit (4-byte elements fit int64) */
_Static_assert(ELEM_LIMIT == CLGRAD__MAX_ELEMS || (uint64_t)SIZE_MAX < (uint64_t)INT64_MAX, "element limit");

typedef struct slot {
    clgrad_tensor *t; /* NULL: empty */
    int ndim;
    int64_t shape[CLGRAD_MAX_DIMS];
    int i32;          /* dtype i32 (argmax results) */
    int64_t *cells;   /* the storage cell of each element, row-major; NULL when too big to model */
} slot;

static clgrad_context *ctx;
static slot S[NSLOT];
static float *store; /* the model's memory: one float per cell */
static int64_t nstore;
static const uint8_t *in_p, *in_end, *in_start;
static int op_index;

_Noreturn static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_ops: instruction %d: ", op_index);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nlast error: %s\ninput:", ctx ? clgrad_last_error(ctx) : "");
    for (const uint8_t *p = in_start; p < in_end; p++) fprintf(stderr, " %02x", *p);
    fprintf(stderr, "\n");
    /* the OpenCL runtime may take over SIGABRT, so libFuzzer may not save the input itself */
    const char *save = getenv("FUZZ_OPS_FAILURE");
    FILE *f = save ? fopen(save, "wb") : NULL;
    if (f) {
        fwrite(in_start, 1, (size_t)(in_end - in_start), f);
        fclose(f);
    }
    abort();
}

/* Room for n (0 .. INT32_MAX) elements of elem bytes, at least one; dies when there is none. */
static void *alloc_n(int64_t n, size_t elem)
{
    if (n < 0 || n > INT32_MAX) die("element count out of range");
    void *p = malloc((size_t)(n ? n : 1) * elem);
    if (!p) die("out of host memory");
    return p;
}

/* --- input ---------------------------------------------------------------------------------- */

static int more(void) { return in_p < in_end; }
static uint8_t byte(void) { return in_p < in_end ? *in_p++ : 0; }

/* An int64 from one input byte: mostly small, sometimes extreme. */
static int64_t i64_of(uint8_t b)
{
    static const int64_t extreme[] = {
        0, 1, -1, 2, 3, INT64_MAX, INT64_MIN, INT64_MAX - 5, -INT64_MAX, (int64_t)1 << 31, ((int64_t)1 << 31) - 1,
        (int64_t)1 << 32, ((int64_t)1 << 61) - 1, (int64_t)1 << 62, 7378697629483820648LL, (int64_t)1 << 40,
        65536, 32768, -((int64_t)1 << 31), ((int64_t)1 << 31) + 1, INT64_MAX / 4, INT64_MAX / 4 + 1, 6, 7};
    if (b < 0xC0) return (int64_t)(b & 0x1F) - 8;
    return extreme[(b - 0xC0) % (sizeof extreme / sizeof extreme[0])];
}

static int64_t i64(void) { return i64_of(byte()); }

/* A dim argument: mostly in or near range, sometimes extreme. */
static int dim_arg(void)
{
    uint8_t b = byte();
    if (b < 0xF0) return (int)(b % 19) - 9;
    static const int extreme[] = {INT32_MAX, INT32_MIN, 8, -9, 100, -100};
    return extreme[(b - 0xF0) % 6];
}

static int slot_arg(void) { return byte() % NSLOT; }

/* --- the model -------------------------------------------------------------------------------- */

/* The element count, or -1 past INT64_MAX; *bad set when the library must refuse the shape:
 * a negative size, or sizes (0 counted as 1) past the element limit. */
static int64_t count(int ndim, const int64_t *sh, int *bad)
{
    i128 n = 1, nz = 1;
    int neg = 0;
    for (int i = 0; i < ndim; i++) {
        if (sh[i] < 0) neg = 1;
        n *= sh[i] < 0 ? 0 : sh[i];
        nz *= sh[i] > 0 ? sh[i] : 1;
        if (nz > (i128)INT64_MAX) nz = (i128)INT64_MAX + 1; /* saturate */
        if (n > (i128)INT64_MAX) n = (i128)INT64_MAX + 1;
    }
    *bad = neg || ndim < 0 || ndim > CLGRAD_MAX_DIMS || nz > ELEM_LIMIT;
    return n > (i128)INT64_MAX ? -1 : (int64_t)n;
}

static int64_t *new_cells(int64_t n)
{
    if (nstore + n > STORE_MAX) return NULL;
    int64_t *c = alloc_n(n, sizeof *c);
    float *s = realloc(store, (size_t)(nstore + n + 1) * sizeof *s);
    if (!c || !s) die("out of host memory");
    store = s;
    for (int64_t i = 0; i < n; i++) c[i] = nstore + i;
    nstore += n;
    return c;
}

static void slot_clear(int k)
{
    clgrad_tensor_release(S[k].t);
    free(S[k].cells);
    memset(&S[k], 0, sizeof S[k]);
}

static float *gather(const slot *s, int64_t n)
{
    float *v = alloc_n(n, sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = store[s->cells[i]];
    return v;
}

static int has_repeats(const int64_t *cells, int64_t n)
{
    int64_t *c = alloc_n(n, sizeof *c);
    memcpy(c, cells, (size_t)n * sizeof *c);
    int rep = 0;
    for (int64_t i = 1; i < n; i++) { /* insertion sort: n <= MODEL_MAX */
        int64_t v = c[i], j = i;
        for (; j > 0 && c[j - 1] > v; j--) c[j] = c[j - 1];
        c[j] = v;
    }
    for (int64_t i = 1; i < n && !rep; i++) rep = c[i] == c[i - 1];
    free(c);
    return rep;
}

static int64_t numel_of(const slot *s)
{
    int bad;
    return count(s->ndim, s->shape, &bad);
}

static int modelled(const slot *s) { return s->t && s->cells; }

/* --- checking results ------------------------------------------------------------------------ */

/* A failed call: SHAPE or INVALID_ARG, a message, no result. */
static void trace(const char *what, clgrad_status st);
static void expect_error(clgrad_status st, clgrad_tensor *out, const char *what)
{
    trace(what, st);
    if (st == CLGRAD_OK) die("%s: succeeded, but the model says it must fail", what);
    if (st != CLGRAD_ERR_SHAPE && st != CLGRAD_ERR_INVALID_ARG)
        die("%s: failed with %s (expected SHAPE or INVALID_ARG)", what, clgrad_status_name(st));
    const char *m = clgrad_last_error(ctx);
    if (!m || !*m) die("%s: failed without a message", what);
    if (out) die("%s: failed but left a result", what);
}

/* FUZZ_OPS_TRACE=1 prints each call and its outcome (to replay a finding). */
static int tracing = -1;
static void trace(const char *what, clgrad_status st)
{
    if (tracing < 0) tracing = getenv("FUZZ_OPS_TRACE") != NULL;
    if (tracing) fprintf(stderr, "  %2d %-40s %s%s%s\n", op_index, what, clgrad_status_name(st),
                         st ? ": " : "", st ? clgrad_last_error(ctx) : "");
}

static void expect_ok(clgrad_status st, const char *what)
{
    trace(what, st);
    if (st != CLGRAD_OK) die("%s: failed with %s, but the model says it is valid", what, clgrad_status_name(st));
}

static void expect_shape(const clgrad_tensor *t, int ndim, const int64_t *sh, const char *what)
{
    int64_t got[CLGRAD_MAX_DIMS] = {0};
    clgrad_tensor_shape(t, got);
    if (clgrad_tensor_ndim(t) != ndim || (ndim && memcmp(got, sh, sizeof(int64_t) * (size_t)ndim))) {
        char a[256], b[256];
        die("%s: result has shape %s, the model says %s", what, clgrad__shape_str(a, sizeof a, clgrad_tensor_ndim(t), got),
            clgrad__shape_str(b, sizeof b, ndim, sh));
    }
}

/* tol < 0: not checked (a sum near overflow: its result, even the sign of an infinity,
 * depends on the order of the terms). */
static int close_enough(float got, float want, double tol)
{
    if (tol < 0) return 1;
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs((double)got - (double)want) <= tol;
}

/* Reads t and compares with the model's values of s (tol[i] absolute, NULL: exact). */
static void check_values(const slot *s, const double *tol, const char *what)
{
    int64_t n = numel_of(s);
    if (!s->cells || n == 0) return;
    float *want = gather(s, n);
    if (s->i32) {
        int32_t *got = malloc((size_t)n * sizeof *got);
        if (!got) die("out of host memory");
        expect_ok(clgrad_tensor_read(s->t, got, (size_t)n * sizeof *got), what);
        for (int64_t i = 0; i < n; i++)
            if ((float)got[i] != want[i]) die("%s: element %lld is %d, the model says %g", what, (long long)i, got[i], (double)want[i]);
        free(got);
    } else {
        float *got = malloc((size_t)n * sizeof *got);
        if (!got) die("out of host memory");
        expect_ok(clgrad_tensor_read(s->t, got, (size_t)n * sizeof *got), what);
        for (int64_t i = 0; i < n; i++)
            if (!(tol ? close_enough(got[i], want[i], tol[i]) : (got[i] == want[i] || (isnan(got[i]) && isnan(want[i])))))
                die("%s: element %lld is %.9g, the model says %.9g", what, (long long)i, (double)got[i], (double)want[i]);
        /* within the tolerance: the model takes the device's values, so that later exact
         * checks (views, aliases after in-place writes) compare like with like */
        if (tol)
            for (int64_t i = 0; i < n; i++) store[s->cells[i]] = got[i];
        free(got);
    }
    free(want);
}

/* Stores a result: the tensor, its shape, and cells (new ones holding vals, or shared ones). */
static void put(int k, clgrad_tensor *t, int ndim, const int64_t *sh, int i32, int64_t *cells)
{
    int64_t shape[CLGRAD_MAX_DIMS];
    if (ndim) memcpy(shape, sh, sizeof(int64_t) * (size_t)ndim); /* sh may be slot k's own */
    slot_clear(k);
    S[k].t = t;
    S[k].ndim = ndim;
    if (ndim) memcpy(S[k].shape, shape, sizeof(int64_t) * (size_t)ndim);
    S[k].i32 = i32;
    S[k].cells = cells;
}

/* A new result holding vals (n of them); cells NULL when out of model memory (then it is
 * released at once). Returns 0 when it could not be kept. */
static int put_values(int k, clgrad_tensor *t, int ndim, const int64_t *sh, int i32, const float *vals, int64_t n,
                      const double *tol, const char *what)
{
    int64_t *c = new_cells(n);
    if (!c) {
        clgrad_tensor_release(t);
        return 0;
    }
    for (int64_t i = 0; i < n; i++) store[c[i]] = vals[i];
    put(k, t, ndim, sh, i32, c);
    check_values(&S[k], tol, what);
    return 1;
}

/* --- views in the model: a view is (shape, strides, offset) over the source's row-major
 * element indices, so its cells are the source's cells at those indices. ----------------------- */

static void row_strides(int ndim, const int64_t *sh, int64_t *st)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        st[i] = s;
        s *= sh[i] > 0 ? sh[i] : 1;
    }
}

static int64_t *view_cells(const slot *src, int ndim, const int64_t *sh, const int64_t *lst, int64_t loff)
{
    int bad;
    int64_t n = count(ndim, sh, &bad);
    if (!src->cells || bad || n < 0 || n > MODEL_MAX) return NULL;
    int64_t *c = alloc_n(n, sizeof *c);
    int64_t idx[CLGRAD_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) {
        int64_t at = loff;
        for (int d = 0; d < ndim; d++) at += idx[d] * lst[d];
        c[i] = src->cells[at];
        for (int d = ndim - 1; d >= 0; d--) {
            if (++idx[d] < sh[d]) break;
            idx[d] = 0;
        }
    }
    return c;
}

/* Stores a view result after checking it; cells NULL for a view too big to model. */
static void put_view(int k, clgrad_tensor *t, const slot *src, int ndim, const int64_t *sh, const int64_t *lst,
                     int64_t loff, const char *what)
{
    expect_shape(t, ndim, sh, what);
    int64_t *c = view_cells(src, ndim, sh, lst, loff);
    int i32 = src->i32;
    put(k, t, ndim, sh, i32, c);
    check_values(&S[k], NULL, what);
}

static void op_create(void)
{
    int k = slot_arg(), hostile = byte() & 1;
    uint8_t nb = byte();
    int ndim = hostile ? nb % 10 : nb % 5;
    int64_t sh[CLGRAD_MAX_DIMS + 1];
    clgrad_tensor *t = NULL;
    if (hostile) { /* extreme sizes: must fail unless small */
        for (int i = 0; i < ndim; i++) sh[i] = i64();
        int bad;
        int64_t n = count(ndim, sh, &bad);
        if (!bad && (n < 0 || n > MODEL_MAX)) return; /* valid but big: not allocated here */
        clgrad_status st = clgrad_tensor_zeros(ctx, CLGRAD_DTYPE_F32, ndim, sh, &t);
        if (bad) {
            expect_error(st, t, "clgrad_tensor_zeros");
            return;
        }
        expect_ok(st, "clgrad_tensor_zeros");
        expect_shape(t, ndim, sh, "clgrad_tensor_zeros");
        float *z = calloc((size_t)(n ? n : 1), sizeof *z);
        put_values(k, t, ndim, sh, 0, z, n, NULL, "clgrad_tensor_zeros");
        free(z);
        return;
    }
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (sh[i] = byte() % 6);
    float *v = alloc_n(n, sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = (float)((int)(byte() % 16) - 8);
    expect_ok(clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_F32, ndim, sh, v, &t), "clgrad_tensor_from_host");
    put_values(k, t, ndim, sh, 0, v, n, NULL, "clgrad_tensor_from_host");
    free(v);
}

static void op_reshape(void)
{
    int k = slot_arg(), o = slot_arg(), ndim = byte() % 11 - 1; /* -1 .. 9 */
    int64_t sh[CLGRAD_MAX_DIMS + 2] = {0}, res[CLGRAD_MAX_DIMS + 2] = {0};
    for (int i = 0; i < ndim; i++) sh[i] = (byte() & 3) == 0 ? -1 : i64();
    slot *x = &S[k];
    if (!x->t) return;
    /* the model: one -1 inferred, every other size >= 0, the same element count */
    int64_t n = numel_of(x);
    int infer = -1, bad = ndim < 0 || ndim > CLGRAD_MAX_DIMS;
    i128 known = 1;
    for (int i = 0; !bad && i < ndim; i++) {
        if (sh[i] == -1 && infer < 0) infer = i;
        else if (sh[i] < 0) bad = 1;
        else {
            known *= sh[i];
            if (known > (i128)INT64_MAX) known = (i128)INT64_MAX + 1;
            res[i] = sh[i];
        }
    }
    if (!bad && infer >= 0) {
        if (known == 0 || known > (i128)INT64_MAX || n % (int64_t)known != 0) bad = 1;
        else res[infer] = n / (int64_t)known;
    } else if (!bad && known != n) {
        bad = 1;
    }
    int shape_bad = 0;
    if (!bad) count(ndim, res, &shape_bad);
    bad |= shape_bad;
    if (!modelled(x) && !bad) {
        /* too big to model: the raw view only, so no copy of a huge tensor is attempted */
        clgrad_tensor *t = NULL;
        clgrad_status st = clgrad__reshape_view(x->t, ndim, sh, &t);
        if (st == CLGRAD_ERR_UNSUPPORTED && !t) return;
        expect_ok(st, "clgrad__reshape_view");
        put_view(o, t, x, ndim, res, NULL, 0, "clgrad__reshape_view");
        return;
    }
    clgrad_tensor *t = NULL;
    clgrad_status st = clgrad_reshape(x->t, ndim, sh, &t);
    if (bad) {
        expect_error(st, t, "clgrad_reshape");
        return;
    }
    expect_ok(st, "clgrad_reshape");
    expect_shape(t, ndim, res, "clgrad_reshape");
    int64_t lst[CLGRAD_MAX_DIMS];
    row_strides(ndim, res, lst); /* row-major order is kept, so the same cells in order */
    if (t->buf == x->t->buf) {
        put_view(o, t, x, ndim, res, lst, 0, "clgrad_reshape");
    } else { /* a copy */
        float *v = gather(x, n);
        put_values(o, t, ndim, res, x->i32, v, n, NULL, "clgrad_reshape (copy)");
        free(v);
    }
}

static void op_permute(int transpose)
{
    /* arguments: transpose two dims; permute a shuffle (7 bytes), a mode and a dim */
    int k = slot_arg(), o = slot_arg(), a = dim_arg(), b = dim_arg();
    uint8_t shuffle[CLGRAD_MAX_DIMS - 1] = {0}, mode = 0;
    int corrupt = 0;
    if (!transpose) {
        for (int i = 0; i < CLGRAD_MAX_DIMS - 1; i++) shuffle[i] = byte();
        mode = byte();
        corrupt = dim_arg();
    }
    slot *x = &S[k];
    if (!x->t) return;
    int perm[CLGRAD_MAX_DIMS], seen[CLGRAD_MAX_DIMS] = {0}, bad = 0, nd = x->ndim;
    clgrad_tensor *t = NULL;
    clgrad_status st;
    if (transpose) {
        int na = a < 0 ? a + nd : a, nb = b < 0 ? b + nd : b;
        bad = na < 0 || na >= nd || nb < 0 || nb >= nd;
        for (int i = 0; i < nd; i++) perm[i] = i;
        if (!bad) perm[na] = nb, perm[nb] = na;
        st = clgrad_transpose(x->t, a, b, &t);
    } else {
        /* a shuffled permutation, some entries counted from the end, sometimes corrupted */
        int raw[CLGRAD_MAX_DIMS] = {0};
        for (int i = 0; i < nd; i++) raw[i] = i;
        for (int i = nd - 1; i > 0; i--) {
            int j = shuffle[i - 1] % (i + 1), tmp = raw[i];
            raw[i] = raw[j], raw[j] = tmp;
        }
        for (int i = 0; i < nd; i++) {
            if (mode >> i & 1) raw[i] -= nd;
            if ((mode & 0xE0) == 0xE0 && i == mode % nd) raw[i] = corrupt;
        }
        for (int i = 0; i < nd; i++) {
            int p = raw[i] < 0 ? raw[i] + nd : raw[i];
            if (p < 0 || p >= nd || seen[p]) bad = 1;
            else seen[p] = 1, perm[i] = p;
        }
        st = clgrad_permute(x->t, raw, &t);
    }
    if (bad) {
        expect_error(st, t, transpose ? "clgrad_transpose" : "clgrad_permute");
        return;
    }
    expect_ok(st, "clgrad_permute");
    int64_t sh[CLGRAD_MAX_DIMS], rs[CLGRAD_MAX_DIMS], lst[CLGRAD_MAX_DIMS];
    row_strides(nd, x->shape, rs);
    for (int i = 0; i < nd; i++) sh[i] = x->shape[perm[i]], lst[i] = rs[perm[i]];
    put_view(o, t, x, nd, sh, lst, 0, "clgrad_permute");
}

/* Python's slice length for step >= 1 (the start in *first), with no overflow. */
static int64_t py_slice(int64_t n, int64_t start, int64_t stop, int64_t step, int64_t *first)
{
    if (start < 0) start = start < -n ? 0 : start + n;
    if (stop < 0) stop = stop < -n ? 0 : stop + n;
    if (start > n) start = n;
    if (stop > n) stop = n;
    *first = start;
    return stop <= start ? 0 : (stop - start - 1) / step + 1;
}

static void do_slice(int k, int o, int dim, int64_t start, int64_t stop, int64_t step, const char *what)
{
    slot *x = &S[k];
    int nd = x->ndim, d = dim < 0 ? dim + nd : dim;
    clgrad_tensor *t = NULL;
    clgrad_status st = clgrad_slice(x->t, dim, start, stop, step, &t);
    if (d < 0 || d >= nd || step < 1) {
        expect_error(st, t, what);
        return;
    }
    expect_ok(st, what);
    int64_t first, sh[CLGRAD_MAX_DIMS], lst[CLGRAD_MAX_DIMS];
    memcpy(sh, x->shape, sizeof sh);
    row_strides(nd, x->shape, lst);
    sh[d] = py_slice(x->shape[d], start, stop, step, &first);
    int64_t off = first * lst[d];
    if (sh[d] > 1) lst[d] *= step;
    put_view(o, t, x, nd, sh, lst, sh[d] ? off : 0, what);
}

static void op_slice(void)
{
    int k = slot_arg(), o = slot_arg(), dim = dim_arg();
    int64_t start = i64(), stop = i64(), step = i64();
    if (S[k].t) do_slice(k, o, dim, start, stop, step, "clgrad_slice");
}

static void op_expand(void)
{
    /* per dim two bytes: a flag (bit 0: keep the source's size, bit 1: as -1) and a size */
    int k = slot_arg(), o = slot_arg(), ndim = byte() % 10;
    uint8_t flag[CLGRAD_MAX_DIMS + 2], size[CLGRAD_MAX_DIMS + 2];
    for (int i = 0; i < ndim; i++) flag[i] = byte(), size[i] = byte();
    slot *x = &S[k];
    if (!x->t) return;
    int64_t sh[CLGRAD_MAX_DIMS + 2] = {0}, res[CLGRAD_MAX_DIMS] = {0}, lst[CLGRAD_MAX_DIMS] = {0}, rs[CLGRAD_MAX_DIMS];
    int lead = ndim - x->ndim, bad = ndim < x->ndim || ndim > CLGRAD_MAX_DIMS;
    row_strides(x->ndim, x->shape, rs);
    for (int i = 0; i < ndim; i++) {
        int keep = i >= lead && (flag[i] & 1);
        sh[i] = keep ? ((flag[i] & 2) ? -1 : x->shape[i - lead]) : i64_of(size[i]);
    }
    for (int i = 0; !bad && i < ndim; i++) {
        if (i < lead) {
            bad = sh[i] < 0;
            res[i] = sh[i];
            continue;
        }
        int64_t have = x->shape[i - lead], want = sh[i] == -1 ? have : sh[i];
        if (want == have) res[i] = have, lst[i] = rs[i - lead];
        else if (have == 1 && want >= 0) res[i] = want;
        else bad = 1;
    }
    int shape_bad = 0;
    if (!bad) count(ndim, res, &shape_bad);
    clgrad_tensor *t = NULL;
    clgrad_status st = clgrad_expand(x->t, ndim, sh, &t);
    if (bad || shape_bad) {
        expect_error(st, t, "clgrad_expand");
        return;
    }
    expect_ok(st, "clgrad_expand");
    put_view(o, t, x, ndim, res, lst, 0, "clgrad_expand");
}

/* cat / stack of up to 9 slots (repeats allowed). */
static void op_join(int stack)
{
    const char *what = stack ? "clgrad_stack" : "clgrad_cat";
    int n = 1 + byte() % 9, o = slot_arg(), dim = dim_arg();
    int ks[9];
    clgrad_tensor *ts[9];
    for (int i = 0; i < n; i++) ks[i] = slot_arg();
    for (int i = 0; i < n; i++) {
        if (!S[ks[i]].t) return;
        ts[i] = S[ks[i]].t;
    }
    const slot *s0 = &S[ks[0]];
    int nd = s0->ndim + stack, d = dim < 0 ? dim + nd : dim, bad = 0, all_model = 1;
    bad = nd > CLGRAD_MAX_DIMS || d < 0 || d >= nd || (!stack && s0->ndim == 0);
    i128 total = 0;
    for (int i = 0; i < n; i++) {
        const slot *s = &S[ks[i]];
        all_model &= modelled(s);
        if (s->ndim != s0->ndim || s->i32 != s0->i32) bad = 1;
        for (int j = 0; !bad && j < s0->ndim; j++)
            if ((stack || j != d) && s->shape[j] != s0->shape[j]) bad = 1;
        if (!bad) total += stack ? 1 : s->shape[d];
    }
    int64_t sh[CLGRAD_MAX_DIMS] = {0};
    if (!bad) {
        if (total > ELEM_LIMIT) bad = 1;
        for (int j = 0, m = 0; !bad && j < nd; j++) {
            sh[j] = j == d ? (int64_t)total : s0->shape[m];
            if (!stack || j != d) m++; /* a stack's new dim has no source dim */
        }
    }
    int shape_bad = 0;
    int64_t cnt = bad ? 0 : count(nd, sh, &shape_bad);
    bad |= shape_bad;
    if (!bad && (!all_model || cnt > MODEL_MAX)) return; /* valid but too big to run here */
    clgrad_tensor *t = NULL;
    clgrad_status st = stack ? clgrad_stack(n, ts, dim, &t) : clgrad_cat(n, ts, dim, &t);
    if (bad) {
        expect_error(st, t, what);
        return;
    }
    expect_ok(st, what);
    expect_shape(t, nd, sh, what);
    /* the model: walk the output, find the input and its index */
    float *v = malloc((size_t)(cnt ? cnt : 1) * sizeof *v);
    if (!v) die("out of host memory");
    int64_t idx[CLGRAD_MAX_DIMS] = {0};
    for (int64_t i = 0; i < cnt; i++) {
        int64_t along = idx[d], src_idx[CLGRAD_MAX_DIMS], rs[CLGRAD_MAX_DIMS];
        int which = 0;
        if (stack) which = (int)along;
        else
            while (along >= S[ks[which]].shape[d]) along -= S[ks[which++]].shape[d];
        const slot *s = &S[ks[which]];
        for (int j = 0, m = 0; j < nd; j++) {
            if (stack && j == d) continue;
            src_idx[m++] = j == d ? along : idx[j];
        }
        row_strides(s->ndim, s->shape, rs);
        int64_t at = 0;
        for (int j = 0; j < s->ndim; j++) at += src_idx[j] * rs[j];
        v[i] = store[s->cells[at]];
        for (int j = nd - 1; j >= 0; j--) {
            if (++idx[j] < sh[j]) break;
            idx[j] = 0;
        }
    }
    put_values(o, t, nd, sh, s0->i32, v, cnt, NULL, what);
    free(v);
}

/* --- ops with values --------------------------------------------------------------------------- */

/* Tolerances |scale| * rel + abs, one per element (scale: the result on absolute values,
 * or NULL for want itself); -1 (unchecked) where that scale is past 1e30. */
static double *tolerances(const float *want, const float *scale, int64_t n, double rel, double abs_)
{
    double *t = alloc_n(n, sizeof *t);
    for (int64_t i = 0; i < n; i++) {
        double sc = fabs((double)(scale ? scale[i] : want[i]));
        t[i] = isnan(sc) ? 0 : sc > 1e30 ? -1 : sc * rel + abs_;
    }
    return t;
}

static int f32_model(int k) { return modelled(&S[k]) && !S[k].i32; }

static void op_unary(void)
{
    int k = slot_arg(), o = slot_arg(), which = byte() % 6;
    if (!S[k].t) return;
    if (!modelled(&S[k])) return;
    slot *x = &S[k];
    int64_t n = numel_of(x);
    clgrad_tensor *t = NULL;
    static const ref_unary_op ops[6] = {REF_UNARY_RELU, REF_UNARY_NEG, REF_UNARY_EXP, REF_UNARY_ABS,
                                        REF_UNARY_SIGMOID, REF_UNARY_TANH};
    clgrad_status (*const fns[6])(clgrad_tensor *, clgrad_tensor **) = {clgrad_relu, clgrad_neg, clgrad_exp,
                                                                        clgrad_abs, clgrad_sigmoid, clgrad_tanh};
    clgrad_status st = fns[which](x->t, &t);
    if (x->i32) {
        expect_error(st, t, "unary op on i32");
        return;
    }
    expect_ok(st, "unary op");
    expect_shape(t, x->ndim, x->shape, "unary op");
    float *v = gather(x, n);
    ref_unary_forward(ops[which], 0, 0, (size_t)n, v, v);
    double *tol = tolerances(v, NULL, n, 1e-5, 1e-6);
    put_values(o, t, x->ndim, x->shape, 0, v, n, tol, "unary op");
    free(tol);
    free(v);
}

static void op_binary(void)
{
    int a = slot_arg(), b = slot_arg(), o = slot_arg(), which = byte() % 4;
    if (!S[a].t || !S[b].t) return;
    int nd;
    int64_t sh[CLGRAD_MAX_DIMS];
    int bad = ref_broadcast_shape(S[a].ndim, S[a].shape, S[b].ndim, S[b].shape, &nd, sh) != 0, shape_bad = 0;
    int64_t n = bad ? 0 : count(nd, sh, &shape_bad);
    bad |= shape_bad;
    if (!bad && (!modelled(&S[a]) || !modelled(&S[b]) || n > MODEL_MAX)) return;
    static const ref_binary_op ops[4] = {REF_BINARY_ADD, REF_BINARY_SUB, REF_BINARY_MUL, REF_BINARY_MAXIMUM};
    clgrad_status (*const fns[4])(clgrad_tensor *, clgrad_tensor *, clgrad_tensor **) = {clgrad_add, clgrad_sub,
                                                                                        clgrad_mul, clgrad_maximum};
    clgrad_tensor *t = NULL;
    clgrad_status st = fns[which](S[a].t, S[b].t, &t);
    if (bad || S[a].i32 || S[b].i32) {
        expect_error(st, t, "binary op");
        return;
    }
    expect_ok(st, "binary op");
    expect_shape(t, nd, sh, "binary op");
    float *va = gather(&S[a], numel_of(&S[a])), *vb = gather(&S[b], numel_of(&S[b]));
    float *v = alloc_n(n, sizeof *v);
    if (ref_binary_forward(ops[which], nd, sh, S[a].ndim, S[a].shape, va, S[b].ndim, S[b].shape, vb, v))
        die("the reference refused a broadcast it computed");
    double *tol = tolerances(v, NULL, n, 1e-6, 1e-30); /* correctly rounded; a device may flush denormals */
    put_values(o, t, nd, sh, 0, v, n, tol, "binary op");
    free(tol);
    free(v);
    free(va);
    free(vb);
}

/* The model of reduction axes (none: all of them): the mask, or *bad when one is out of
 * range or repeated. */
static void axes_check(int nd, int na, const int *axes, uint32_t *mask, int *bad)
{
    *mask = 0;
    *bad = 0;
    for (int i = 0; i < na; i++) {
        int a = axes[i] < 0 ? axes[i] + nd : axes[i];
        if (a < 0 || a >= nd || (*mask >> a & 1u)) *bad = 1;
        else *mask |= 1u << a;
    }
    if (na == 0) *mask = nd ? (uint32_t)((1u << nd) - 1u) : 0u;
}

static void op_reduce(void)
{
    int k = slot_arg(), o = slot_arg(), which = byte() % 4, keep = byte() & 1, axes[4], bad;
    int na = byte() % 4;
    for (int i = 0; i < na; i++) axes[i] = dim_arg();
    slot *x = &S[k];
    if (!x->t) return;
    uint32_t mask;
    axes_check(x->ndim, na, axes, &mask, &bad);
    int64_t kept = 1, R = 1, sh[CLGRAD_MAX_DIMS];
    int nd = 0;
    for (int d = 0; !bad && d < x->ndim; d++) {
        if (mask >> d & 1u) {
            R *= x->shape[d];
            if (keep) sh[nd++] = 1;
        } else {
            kept *= x->shape[d];
            sh[nd++] = x->shape[d];
        }
    }
    if (!bad && (which == 2 || which == 3) && R == 0 && kept > 0) bad = 1; /* max/min of nothing */
    if (!bad && (!modelled(x) || kept > MODEL_MAX)) return; /* an empty x may give a huge result */
    static const ref_reduce_op ops[4] = {REF_REDUCE_SUM, REF_REDUCE_MEAN, REF_REDUCE_MAX, REF_REDUCE_MIN};
    clgrad_status (*const fns[4])(clgrad_tensor *, int, const int *, int, clgrad_tensor **) = {
        clgrad_sum, clgrad_mean, clgrad_max, clgrad_min};
    clgrad_tensor *t = NULL;
    clgrad_status st = fns[which](x->t, na, axes, keep, &t);
    if (bad || x->i32) {
        expect_error(st, t, "reduction");
        return;
    }
    expect_ok(st, "reduction");
    expect_shape(t, nd, sh, "reduction");
    int64_t n = numel_of(x);
    float *v = gather(x, n), *y = malloc((size_t)(kept ? kept : 1) * sizeof *y);
    float *ya = malloc((size_t)(kept ? kept : 1) * sizeof *ya);
    if (!y || !ya) die("out of host memory");
    if (kept > 0 && ref_reduce_forward(ops[which], x->ndim, x->shape, mask, 0, v, y)) die("reference reduction failed");
    for (int64_t i = 0; i < n; i++) v[i] = fabsf(v[i]);
    if (kept > 0 && ref_reduce_forward(ops[which], x->ndim, x->shape, mask, 0, v, ya)) die("reference reduction failed");
    double *tol = tolerances(y, ya, kept, 1e-5, 1e-6);
    put_values(o, t, nd, sh, 0, y, kept, tol, "reduction");
    free(tol);
    free(ya);
    free(y);
    free(v);
}

/* outer, len, inner of x around axis d. */
static void split3(const slot *x, int d, size_t *outer, size_t *len, size_t *inner)
{
    *outer = *inner = 1;
    for (int i = 0; i < d; i++) *outer *= (size_t)x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) *inner *= (size_t)x->shape[i];
    *len = (size_t)x->shape[d];
}

static void op_argmax_softmax(int softmax)
{
    int k = slot_arg(), o = slot_arg(), axis = dim_arg(), keep = byte() & 1;
    slot *x = &S[k];
    if (!x->t) return;
    int nd = x->ndim, d = axis < 0 ? axis + nd : axis;
    int bad = d < 0 || d >= nd;
    int64_t sh[CLGRAD_MAX_DIMS], on = 0, kept = 1;
    if (!bad) {
        for (int i = 0; i < nd; i++) {
            if (i == d) {
                if (softmax || keep) sh[on++] = softmax ? x->shape[i] : 1;
            } else {
                sh[on++] = x->shape[i];
                kept *= x->shape[i];
            }
        }
        if (!softmax && x->shape[d] == 0 && kept > 0) bad = 1; /* argmax of nothing */
        if (!softmax && x->shape[d] > INT32_MAX) bad = 1;       /* 32-bit indices */
    }
    if (!bad && !modelled(x)) return;
    clgrad_tensor *t = NULL;
    clgrad_status st = softmax ? clgrad_softmax(x->t, axis, &t) : clgrad_argmax(x->t, axis, keep, &t);
    const char *what = softmax ? "clgrad_softmax" : "clgrad_argmax";
    if (bad || x->i32) {
        expect_error(st, t, what);
        return;
    }
    expect_ok(st, what);
    expect_shape(t, on, sh, what);
    int64_t n = numel_of(x);
    size_t outer, len, inner;
    split3(x, d, &outer, &len, &inner);
    float *v = gather(x, n), *y = alloc_n(n, sizeof *y);
    if (softmax) {
        if (n) ref_softmax_forward(outer, len, inner, v, y);
        double *tol = tolerances(y, NULL, n, 1e-5, 1e-6);
        put_values(o, t, on, sh, 0, y, n, tol, what);
        free(tol);
    } else {
        size_t m = outer * inner;
        int32_t *idx = malloc((m ? m : 1) * sizeof *idx);
        if (!idx) die("out of host memory");
        if (m && len) ref_argmax(outer, len, inner, v, idx);
        for (size_t i = 0; i < m; i++) y[i] = (float)idx[i];
        put_values(o, t, on, sh, 1, y, (int64_t)m, NULL, what);
        free(idx);
    }
    free(y);
    free(v);
}

static void op_matmul(void)
{
    int a = slot_arg(), b = slot_arg(), o = slot_arg();
    if (!f32_model(a) || !f32_model(b) || S[a].ndim != 2 || S[b].ndim != 2) return;
    int64_t M = S[a].shape[0], K = S[a].shape[1], N = S[b].shape[1];
    if (S[b].shape[0] == K && (i128)M * N > MODEL_MAX) return; /* K = 0 makes a big result of nothing */
    clgrad_tensor *t = NULL;
    clgrad_status st = clgrad_matmul(S[a].t, S[b].t, &t);
    if (S[b].shape[0] != K) {
        expect_error(st, t, "clgrad_matmul");
        return;
    }
    expect_ok(st, "clgrad_matmul");
    int64_t sh[2] = {M, N};
    expect_shape(t, 2, sh, "clgrad_matmul");
    float *va = gather(&S[a], M * K), *vb = gather(&S[b], K * N);
    size_t mn = (size_t)(M * N);
    float *y = calloc(mn ? mn : 1, sizeof *y), *ya = calloc(mn ? mn : 1, sizeof *ya);
    if (!y || !ya) die("out of host memory");
    if (M && N) ref_gemm(0, 0, (int)M, (int)N, (int)K, 1.0f, va, (int)(K ? K : 1), vb, (int)N, 0.0f, y, (int)N);
    for (int64_t i = 0; i < M * K; i++) va[i] = fabsf(va[i]);
    for (int64_t i = 0; i < K * N; i++) vb[i] = fabsf(vb[i]);
    if (M && N) ref_gemm(0, 0, (int)M, (int)N, (int)K, 1.0f, va, (int)(K ? K : 1), vb, (int)N, 0.0f, ya, (int)N);
    double *tol = tolerances(y, ya, M * N, 1e-5, 1e-6);
    put_values(o, t, 2, sh, 0, y, M * N, tol, "clgrad_matmul");
    free(tol);
    free(y);
    free(ya);
    free(va);
    free(vb);
}

static void op_clone(void)
{
    int k = slot_arg(), o = slot_arg(), contig = byte() & 1;
    slot *x = &S[k];
    if (!modelled(x)) return;
    clgrad_tensor *t = NULL;
    expect_ok(contig ? clgrad_contiguous(x->t, &t) : clgrad_clone(x->t, &t), "clone/contiguous");
    expect_shape(t, x->ndim, x->shape, "clone/contiguous");
    int64_t lst[CLGRAD_MAX_DIMS];
    row_strides(x->ndim, x->shape, lst);
    if (t == x->t) {
        if (!contig) die("clgrad_clone returned its input");
        put_view(o, t, x, x->ndim, x->shape, lst, 0, "clgrad_contiguous");
    } else {
        int64_t n = numel_of(x);
        float *v = gather(x, n);
        put_values(o, t, x->ndim, x->shape, x->i32, v, n, NULL, "clone/contiguous");
        free(v);
    }
}

/* Rechecks every modelled tensor: an in-place write must show through every alias and
 * change nothing else. */
static void check_all(const char *what)
{
    for (int k = 0; k < NSLOT; k++)
        if (modelled(&S[k])) check_values(&S[k], NULL, what);
}

static int same_shape(const slot *a, const slot *b)
{
    return a->ndim == b->ndim && (!a->ndim || !memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim));
}

static void do_copy(int dk, int sk, const char *what)
{
    slot *dst = &S[dk], *src = &S[sk];
    int bad = !same_shape(dst, src) || dst->i32 != src->i32;
    if (!bad && (!modelled(dst) || !modelled(src))) return;
    int64_t n = numel_of(dst);
    int refuse = !bad && has_repeats(dst->cells, n);
    clgrad_status st = clgrad_copy_(dst->t, src->t);
    if (bad || refuse) {
        expect_error(st, NULL, what);
        check_all("after a refused copy_");
        return;
    }
    expect_ok(st, what);
    float *v = gather(src, n); /* as memmove: the source as it was */
    for (int64_t i = 0; i < n; i++) store[dst->cells[i]] = v[i];
    free(v);
    check_all(what);
}

static void op_copy(void)
{
    int d = slot_arg(), s = slot_arg();
    if (S[d].t && S[s].t) do_copy(d, s, "clgrad_copy_");
}

/* x[k:] <- x[:-k] or the reverse along a dim: overlapping source and destination. */
static void op_copy_shift(void)
{
    int k = slot_arg(), dim = dim_arg(), rev = byte() & 1;
    int64_t sft = byte() % 4;
    slot *x = &S[k];
    if (!modelled(x) || x->ndim == 0) return;
    int d = ((dim % x->ndim) + x->ndim) % x->ndim;
    int64_t n = x->shape[d];
    int hi = (k + 1) % NSLOT, lo = (k + 2) % NSLOT;
    if (hi == k || lo == k) return;
    do_slice(k, hi, d, sft, n, 1, "clgrad_slice (shift)");
    do_slice(k, lo, d, 0, n - sft, 1, "clgrad_slice (shift)");
    if (rev) do_copy(lo, hi, "clgrad_copy_ (x[:-k] <- x[k:])");
    else do_copy(hi, lo, "clgrad_copy_ (x[k:] <- x[:-k])");
}

static void op_fill(void)
{
    int k = slot_arg();
    float v = (float)((int)byte() - 128);
    slot *x = &S[k];
    if (!modelled(x)) return;
    expect_ok(clgrad_fill_(x->t, v), "clgrad_fill_"); /* one value: any view, even overlapping */
    int64_t n = numel_of(x);
    for (int64_t i = 0; i < n; i++) store[x->cells[i]] = v;
    check_all("clgrad_fill_");
}

static void op_write(void)
{
    int k = slot_arg();
    slot *x = &S[k];
    if (!modelled(x) || x->i32) return;
    int64_t n = numel_of(x);
    float *v = alloc_n(n, sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = (float)((int)(byte() % 32) - 16);
    clgrad_status st = clgrad_tensor_write(x->t, v, (size_t)n * sizeof *v);
    if (n && has_repeats(x->cells, n)) {
        expect_error(st, NULL, "clgrad_tensor_write");
    } else {
        expect_ok(st, "clgrad_tensor_write");
        for (int64_t i = 0; i < n; i++) store[x->cells[i]] = v[i];
    }
    free(v);
    check_all("clgrad_tensor_write");
}

/* c = alpha a @ b + beta c in place; c is often a or b itself. */
static void op_gemm(void)
{
    int a = slot_arg(), b = slot_arg(), pick = byte() % 3, c = pick == 0 ? a : pick == 1 ? b : slot_arg();
    static const float alphas[4] = {1.0f, 0.5f, -1.0f, 0.0f};
    float alpha = alphas[byte() % 4], beta = alphas[byte() % 4];
    if (!f32_model(a) || !f32_model(b) || !f32_model(c) || S[a].ndim != 2 || S[b].ndim != 2 || S[c].ndim != 2) return;
    int64_t M = S[a].shape[0], K = S[a].shape[1], N = S[b].shape[1];
    int bad = S[b].shape[0] != K || S[c].shape[0] != M || S[c].shape[1] != N;
    int refuse = !bad && has_repeats(S[c].cells, M * N);
    clgrad_status st = clgrad_gemm(0, 0, alpha, S[a].t, S[b].t, beta, S[c].t);
    if (bad || refuse) {
        expect_error(st, NULL, "clgrad_gemm");
        check_all("after a refused clgrad_gemm");
        return;
    }
    expect_ok(st, "clgrad_gemm");
    float *va = gather(&S[a], M * K), *vb = gather(&S[b], K * N), *vc = gather(&S[c], M * N);
    float *abs_c = gather(&S[c], M * N);
    if (M && N) ref_gemm(0, 0, (int)M, (int)N, (int)K, alpha, va, (int)(K ? K : 1), vb, (int)N, beta, vc, (int)N);
    for (int64_t i = 0; i < M * K; i++) va[i] = fabsf(va[i]);
    for (int64_t i = 0; i < K * N; i++) vb[i] = fabsf(vb[i]);
    for (int64_t i = 0; i < M * N; i++) abs_c[i] = fabsf(abs_c[i]);
    if (M && N)
        ref_gemm(0, 0, (int)M, (int)N, (int)K, alpha != 0.0f ? fabsf(alpha) : 1.0f, va, (int)(K ? K : 1), vb, (int)N,
                 fabsf(beta), abs_c, (int)N); /* alpha 0 still forms a @ b, which may overflow */
    for (int64_t i = 0; i < M * N; i++) store[S[c].cells[i]] = vc[i];
    double *tol = tolerances(vc, abs_c, M * N, 1e-5, 1e-6);
    check_values(&S[c], tol, "clgrad_gemm");
    free(tol);
    check_all("clgrad_gemm (aliases of c)");
    free(va);
    free(vb);
    free(vc);
    free(abs_c);
}

static int64_t live_tensors(void) { return clgrad__head(ctx)->stats.live_tensors; }

/* At exit the context goes, so that a leak check sees only what inputs left behind. */
static void release_ctx(void)
{
    clgrad_context_release(ctx);
    ctx = NULL;
    free(store);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx && clgrad_context_create(NULL, &ctx) != CLGRAD_OK) {
        fprintf(stderr, "fuzz_ops: no OpenCL device: %s\n", clgrad_last_error(NULL));
        exit(77);
    }
    static int registered;
    if (!registered) registered = atexit(release_ctx) == 0;
    int64_t live0 = live_tensors();
    in_p = in_start = data;
    in_end = data + size;
    nstore = 0;
    for (op_index = 0; more() && op_index < MAX_OPS && nstore < STORE_MAX / 2; op_index++) {
        switch (byte() % 22) {
        case 0: case 1: op_create(); break;
        case 2: op_reshape(); break;
        case 3: op_permute(0); break;
        case 4: op_permute(1); break;
        case 5: case 6: op_slice(); break;
        case 7: op_expand(); break;
        case 8: op_join(0); break;
        case 9: op_join(1); break;
        case 10: op_unary(); break;
        case 11: op_binary(); break;
        case 12: op_reduce(); break;
        case 13: op_argmax_softmax(0); break;
        case 14: op_argmax_softmax(1); break;
        case 15: op_matmul(); break;
        case 16: op_clone(); break;
        case 17: op_copy(); break;
        case 18: op_copy_shift(); break;
        case 19: op_fill(); break;
        case 20: op_write(); break;
        default:
            if (byte() & 1) op_gemm();
            else slot_clear(slot_arg());
            break;
        }
    }
    for (int k = 0; k < NSLOT; k++) slot_clear(k);
    if (live_tensors() != live0) die("%lld tensors leaked", (long long)(live_tensors() - live0));
    return 0;
}
