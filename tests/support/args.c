/* Argument-check helpers of the public API tests (see args.h). */
#include "args.h"

#include "core/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char ta_poison_byte;

static int n_bad, n_checks;

void ta_bad(const char *file, int line, const char *fmt, ...)
{
    const char *base = strrchr(file, '/');
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: ", base ? base + 1 : file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    n_bad++;
}

void ta_begin(void)
{
    n_checks++;
    clgrad__fail(NULL, CLGRAD_OK, "%s", "");
}

void ta_expect(const char *file, int line, const char *what, clgrad_status want, clgrad_status got,
               const char *needle)
{
    const char *msg = clgrad_last_error(NULL);
    if (got != want)
        ta_bad(file, line, "%s -> %s, want %s (%s)", what, clgrad_status_name(got), clgrad_status_name(want), msg);
    else if (!msg[0])
        ta_bad(file, line, "%s -> %s with an empty message", what, clgrad_status_name(got));
    else if (needle && !strstr(msg, needle))
        ta_bad(file, line, "%s: message \"%s\" does not mention %s", what, msg, needle);
}

void ta_done(const char *test)
{
    int bad = n_bad, checks = n_checks;
    n_bad = n_checks = 0; /* the next test starts from zero, forked or not */
    fprintf(stderr, "%s: %d argument checks\n", test, checks);
    ck_assert_msg(bad == 0, "%d of %d argument checks failed (listed on stderr)", bad, checks);
}

int ta_main(const char *name, const TTest *const *null_tests, int n_null, const TTest *const *device_tests,
            int n_device)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("null");
    for (int i = 0; i < n_null; i++) tcase_add_test(tc, null_tests[i]);
    suite_add_tcase(s, tc);
    tc = tcase_create("invalid");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 300);
    for (int i = 0; i < n_device; i++) tcase_add_test(tc, device_tests[i]);
    suite_add_tcase(s, tc);
    return th_run(s, 1);
}

clgrad_tensor *ta_f32_on(clgrad_context *ctx, int ndim, const int64_t *shape)
{
    clgrad_tensor *t = NULL;
    int64_t n = th_numel(ndim, shape);
    float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (int64_t i = 0; i < n; i++) v[i] = 0.25f + 0.01f * (float)i;
    TH_OK(clgrad_tensor_from_host(ctx, CLGRAD_DTYPE_F32, ndim, shape, v, &t));
    free(v);
    return t;
}

clgrad_tensor *ta_f32(int ndim, const int64_t *shape) { return ta_f32_on(th_ctx, ndim, shape); }

clgrad_tensor *ta_i32(int ndim, const int64_t *shape) { return th_tensor_i32(ndim, shape, NULL); }

clgrad_context *ta_second_context(void)
{
    clgrad_context_desc d = {0};
    clgrad_context *c = NULL;
    TH_OK(clgrad_context_create(&d, &c));
    return c;
}

/* --- tables ----------------------------------------------------------------------------------- */

/* One call of a table op: status want, a message, and (out given) the out-parameter cleared. */
static void table_call(int line, const char *name, const char *args, clgrad_status want, clgrad_status got,
                       clgrad_tensor *out, int check_out, const char *needle)
{
    const char *msg = clgrad_last_error(NULL);
    if (got != want || (check_out && out != NULL) || !msg[0] || (needle && !strstr(msg, needle)))
        ta_bad(__FILE__, line, "%s%s -> %s (want %s), out %p, message \"%s\"", name, args, clgrad_status_name(got),
               clgrad_status_name(want), (void *)out, msg);
}

void ta_unary_null(const ta_unary *ops, int n)
{
    for (int i = 0; i < n; i++) {
        clgrad_tensor *o = POISON;
        ta_begin();
        clgrad_status s = ops[i].fn(NULL, &o);
        table_call(__LINE__, ops[i].name, "(NULL)", CLGRAD_ERR_INVALID_ARG, s, o, 1, NULL);
    }
}

void ta_binary_null(const ta_binary *ops, int n)
{
    for (int i = 0; i < n; i++) {
        clgrad_tensor *o = POISON;
        ta_begin();
        clgrad_status s = ops[i].fn(NULL, NULL, &o);
        table_call(__LINE__, ops[i].name, "(NULL, NULL)", CLGRAD_ERR_INVALID_ARG, s, o, 1, NULL);
    }
}

void ta_unary_invalid(const ta_unary *ops, int n)
{
    int64_t s4[4] = {2, 2, 2, 2};
    clgrad_tensor *x4 = ta_f32(4, s4), *x4i = ta_i32(4, s4);
    for (int i = 0; i < n; i++) {
        ta_begin();
        clgrad_status s = ops[i].fn(x4, NULL);
        table_call(__LINE__, ops[i].name, "(x, NULL)", CLGRAD_ERR_INVALID_ARG, s, NULL, 0, NULL);
        if (!ops[i].needs_f32) continue;
        clgrad_tensor *o = POISON;
        ta_begin();
        s = ops[i].fn(x4i, &o);
        table_call(__LINE__, ops[i].name, "(i32)", CLGRAD_ERR_INVALID_ARG, s, o, 1, NULL);
    }
    clgrad_tensor_release(x4);
    clgrad_tensor_release(x4i);
}

void ta_binary_invalid(const ta_binary *ops, int n)
{
    clgrad_tensor *a = ta_f32(2, s23), *b = ta_f32(2, s45), *ai = ta_i32(2, s23);
    clgrad_context *c2 = ta_second_context();
    clgrad_tensor *a2 = ta_f32_on(c2, 2, s23);
    const struct {
        const char *what;
        clgrad_tensor *x, *y;
        clgrad_status want;
        const char *needle;
        int i32_b; /* skipped where the op allows an i32 second operand */
    } cases[] = {
        {"(a, NULL)", a, NULL, CLGRAD_ERR_INVALID_ARG, NULL, 0},
        {"(NULL, a)", NULL, a, CLGRAD_ERR_INVALID_ARG, NULL, 0},
        {"([2, 3], [4, 5])", a, b, CLGRAD_ERR_SHAPE, "[2, 3]", 0},
        {"(i32, f32)", ai, a, CLGRAD_ERR_INVALID_ARG, NULL, 0},
        {"(f32, i32)", a, ai, CLGRAD_ERR_INVALID_ARG, NULL, 1},
        {"(ctx1, ctx2)", a, a2, CLGRAD_ERR_INVALID_ARG, NULL, 0},
        {"(ctx2, ctx1)", a2, a, CLGRAD_ERR_INVALID_ARG, NULL, 0},
    };
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < N_OF(cases); k++) {
            if (cases[k].i32_b && ops[i].b_may_be_i32) continue;
            clgrad_tensor *o = POISON;
            ta_begin();
            clgrad_status s = ops[i].fn(cases[k].x, cases[k].y, &o);
            table_call(__LINE__, ops[i].name, cases[k].what, cases[k].want, s, o, 1, cases[k].needle);
        }
        ta_begin();
        clgrad_status s = ops[i].fn(a, a, NULL);
        table_call(__LINE__, ops[i].name, "(a, a, NULL)", CLGRAD_ERR_INVALID_ARG, s, NULL, 0, NULL);
    }
    clgrad_tensor_release(a2);
    clgrad_context_release(c2);
    clgrad_tensor_release(a);
    clgrad_tensor_release(b);
    clgrad_tensor_release(ai);
}

void ta_write_idx_pair(const char *dir, char *img, char *lab, size_t cap)
{
    const unsigned char ib[16 + 12] = {0, 0, 0x08, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2,
                                       1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const unsigned char lb[8 + 3] = {0, 0, 0x08, 1, 0, 0, 0, 3, 0, 1, 2};
    snprintf(img, cap, "%s/img.idx", dir);
    snprintf(lab, cap, "%s/lab.idx", dir);
    th_spit(img, ib, sizeof ib);
    th_spit(lab, lb, sizeof lb);
}
