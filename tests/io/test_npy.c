/* Tests of the .npy reader and writer (src/io/npy.c): round trips, files as numpy writes
 * them (versions 1 and 2, every supported element type, both byte orders, Fortran order,
 * scalars and empty arrays), and broken files: each a clear error naming the fault, never
 * a crash and never a partial result. No device needed. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "clgrad.h"
#include "harness.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[512];

static void tmpdir_setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/clgrad-npy-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmpdir_teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *tmp_path(const char *name)
{
    static char p[1024];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}


static clgrad_status load(const uint8_t *buf, size_t n, clgrad_npy **a) { return clgrad_npy_load_memory(buf, n, "t.npy", a); }

START_TEST(f32_and_i32_round_trip)
{
    float x[6] = {1.5f, -2.0f, 0.0f, 3.25f, INFINITY, -1e-30f};
    int32_t k[3] = {-7, 0, 2147483647};
    int64_t s2[2] = {2, 3}, s1[1] = {3};
    ck_assert_int_eq(clgrad_npy_save(tmp_path("x.npy"), CLGRAD_DTYPE_F32, 2, s2, x), CLGRAD_OK);
    ck_assert_int_eq(clgrad_npy_save(tmp_path("k.npy"), CLGRAD_DTYPE_I32, 1, s1, k), CLGRAD_OK);
    clgrad_npy *a = NULL, *b = NULL;
    ck_assert_int_eq(clgrad_npy_load(tmp_path("x.npy"), &a), CLGRAD_OK);
    ck_assert_int_eq(a->dtype, CLGRAD_DTYPE_F32);
    ck_assert_str_eq(a->descr, "<f4");
    ck_assert_int_eq(a->ndim, 2);
    ck_assert_int_eq(a->shape[0], 2);
    ck_assert_int_eq(a->shape[1], 3);
    ck_assert_int_eq(a->count, 6);
    ck_assert_mem_eq(a->data, x, sizeof x);
    ck_assert_int_eq(clgrad_npy_load(tmp_path("k.npy"), &b), CLGRAD_OK);
    ck_assert_int_eq(b->dtype, CLGRAD_DTYPE_I32);
    ck_assert_str_eq(b->descr, "<i4");
    ck_assert_int_eq(b->ndim, 1);
    ck_assert_mem_eq(b->data, k, sizeof k);
    clgrad_npy_release(a);
    clgrad_npy_release(b);
}
END_TEST

/* The writer's bytes are exactly what numpy.save writes for the same array. */
START_TEST(writer_matches_numpy_layout)
{
    float x[2] = {1, 2};
    int64_t s[1] = {2};
    ck_assert_int_eq(clgrad_npy_save(tmp_path("n.npy"), CLGRAD_DTYPE_F32, 1, s, x), CLGRAD_OK);
    FILE *f = fopen(tmp_path("n.npy"), "rb");
    uint8_t got[256];
    size_t n = fread(got, 1, sizeof got, f);
    fclose(f);
    uint8_t want[256];
    size_t wn = th_make_npy(want, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", x, sizeof x);
    ck_assert_uint_eq(n, wn);
    ck_assert_uint_eq(n, 128 + 8); /* data 64-byte aligned, as numpy >= 1.24 aligns it */
    ck_assert_mem_eq(got, want, n);
}
END_TEST

START_TEST(scalars_and_empty_arrays)
{
    float v = 4.5f;
    ck_assert_int_eq(clgrad_npy_save(tmp_path("s.npy"), CLGRAD_DTYPE_F32, 0, NULL, &v), CLGRAD_OK);
    clgrad_npy *a = NULL;
    ck_assert_int_eq(clgrad_npy_load(tmp_path("s.npy"), &a), CLGRAD_OK);
    ck_assert_int_eq(a->ndim, 0);
    ck_assert_int_eq(a->count, 1);
    ck_assert(((float *)a->data)[0] == 4.5f);
    clgrad_npy_release(a);
    int64_t s[2] = {0, 5};
    ck_assert_int_eq(clgrad_npy_save(tmp_path("e.npy"), CLGRAD_DTYPE_F32, 2, s, NULL), CLGRAD_OK);
    ck_assert_int_eq(clgrad_npy_load(tmp_path("e.npy"), &a), CLGRAD_OK);
    ck_assert_int_eq(a->count, 0);
    ck_assert_int_eq(a->shape[1], 5);
    ck_assert_ptr_nonnull(a->data);
    clgrad_npy_release(a);
}
END_TEST

/* Every element type numpy writes that clgrad converts, in both byte orders. */
START_TEST(numpy_element_types_are_converted)
{
    uint8_t buf[512];
    clgrad_npy *a = NULL;
    double d[3] = {0.1, -2.5, 1e300};
    size_t n = th_make_npy(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", d, sizeof d);
    ck_assert_int_eq(load(buf, n, &a), CLGRAD_OK);
    ck_assert_int_eq(a->dtype, CLGRAD_DTYPE_F32);
    ck_assert(((float *)a->data)[0] == 0.1f && ((float *)a->data)[1] == -2.5f && isinf(((float *)a->data)[2]));
    clgrad_npy_release(a);

    uint16_t h[4] = {0x3c00, 0xc000, 0x0001, 0x7c00}; /* 1, -2, the smallest subnormal, inf */
    n = th_make_npy(buf, 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }", h, sizeof h);
    ck_assert_int_eq(load(buf, n, &a), CLGRAD_OK);
    float *f = a->data;
    ck_assert(f[0] == 1.0f && f[1] == -2.0f && f[2] == ldexpf(1.0f, -24) && isinf(f[3]));
    clgrad_npy_release(a);

    uint8_t be[8] = {0x3f, 0xc0, 0, 0, 0xc0, 0x20, 0, 0}; /* >f4: 1.5, -2.5 */
    n = th_make_npy(buf, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", be, sizeof be);
    ck_assert_int_eq(load(buf, n, &a), CLGRAD_OK);
    ck_assert(((float *)a->data)[0] == 1.5f && ((float *)a->data)[1] == -2.5f);
    clgrad_npy_release(a);

    int64_t i8[3] = {-5, 0, 2147483647};
    n = th_make_npy(buf, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", i8, sizeof i8);
    ck_assert_int_eq(load(buf, n, &a), CLGRAD_OK);
    ck_assert_int_eq(a->dtype, CLGRAD_DTYPE_I32);
    ck_assert_int_eq(((int32_t *)a->data)[0], -5);
    ck_assert_int_eq(((int32_t *)a->data)[2], 2147483647);
    clgrad_npy_release(a);

    uint8_t be16[4] = {0xff, 0xfe, 0x01, 0x00}; /* >i2: -2, 256 */
    n = th_make_npy(buf, 1, "{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }", be16, 4);
    ck_assert_int_eq(load(buf, n, &a), CLGRAD_OK);
    ck_assert_int_eq(((int32_t *)a->data)[0], -2);
    ck_assert_int_eq(((int32_t *)a->data)[1], 256);
    clgrad_npy_release(a);

    uint8_t u8[3] = {0, 200, 255}, b1[3] = {0, 1, 1};
    n = th_make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", u8, 3);
    ck_assert_int_eq(load(buf, n, &a), CLGRAD_OK);
    ck_assert_int_eq(((int32_t *)a->data)[1], 200);
    clgrad_npy_release(a);
    n = th_make_npy(buf, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", b1, 3);
    ck_assert_int_eq(load(buf, n, &a), CLGRAD_OK);
    ck_assert_int_eq(((int32_t *)a->data)[2], 1);
    clgrad_npy_release(a);

    int8_t i1[2] = {-128, 127}; /* version 2 header, double quotes, no trailing comma */
    n = th_make_npy(buf, 2, "{\"descr\": \"|i1\", \"fortran_order\": False, \"shape\": (1, 2)}", i1, 2);
    ck_assert_int_eq(load(buf, n, &a), CLGRAD_OK);
    ck_assert_int_eq(((int32_t *)a->data)[0], -128);
    ck_assert_int_eq(a->shape[1], 2);
    clgrad_npy_release(a);
}
END_TEST

START_TEST(fortran_order_is_transposed)
{
    /* the 2x3 array [[0, 1, 2], [3, 4, 5]] stored column by column */
    float col[6] = {0, 3, 1, 4, 2, 5};
    uint8_t buf[256];
    size_t n = th_make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", col, sizeof col);
    clgrad_npy *a = NULL;
    ck_assert_int_eq(load(buf, n, &a), CLGRAD_OK);
    for (int i = 0; i < 6; i++) ck_assert(((float *)a->data)[i] == (float)i);
    clgrad_npy_release(a);
    /* 2x2x2: element (i, j, k) stored at i + 2 j + 4 k */
    float c3[8];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 2; k++) c3[i + 2 * j + 4 * k] = (float)(4 * i + 2 * j + k);
    n = th_make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2, 2), }", c3, sizeof c3);
    ck_assert_int_eq(load(buf, n, &a), CLGRAD_OK);
    for (int i = 0; i < 8; i++) ck_assert(((float *)a->data)[i] == (float)i);
    clgrad_npy_release(a);
}
END_TEST

/* Each broken file fails with the expected status and a message naming the fault. */
START_TEST(broken_files_are_clear_errors)
{
    static const struct {
        const char *dict;
        size_t body; /* bytes of body to append */
        clgrad_status want;
        const char *msg;
    } CASES[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 23, CLGRAD_ERR_IO, "needs 24 bytes"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 25, CLGRAD_ERR_IO, "needs 24 bytes"},
        {"{'descr': '<f4', 'fortran_order': False}", 4, CLGRAD_ERR_IO, "lacks"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", 4, CLGRAD_ERR_IO, "fortran_order"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, -2), }", 4, CLGRAD_ERR_IO, "integers"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [1], }", 4, CLGRAD_ERR_IO, "not a tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4, CLGRAD_ERR_IO, "unknown key"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } junk", 4, CLGRAD_ERR_IO, "follows"},
        {"['descr', '<f4']", 4, CLGRAD_ERR_IO, "dict"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999, 99999999999), }", 0,
         CLGRAD_ERR_IO, "too large"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", 8, CLGRAD_ERR_UNSUPPORTED, "'<c8'"},
        {"{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", 12, CLGRAD_ERR_UNSUPPORTED, "'<U3'"},
        {"{'descr': '<f3', 'fortran_order': False, 'shape': (1,), }", 3, CLGRAD_ERR_UNSUPPORTED, "'<f3'"},
        {"{'descr': '<fx', 'fortran_order': False, 'shape': (1,), }", 4, CLGRAD_ERR_IO, "size"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4, CLGRAD_ERR_UNSUPPORTED,
         "structured"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }", 4,
         CLGRAD_ERR_UNSUPPORTED, "dimensions"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", 8, CLGRAD_ERR_UNSUPPORTED, "32-bit"},
    };
    uint8_t buf[512], body[64];
    memset(body, 0xff, sizeof body); /* as <i8: -1 fits; the i8 case below writes a big value */
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        if (strstr(CASES[c].dict, "<i8")) {
            int64_t big = (int64_t)1 << 40;
            memcpy(body, &big, 8);
        }
        size_t n = th_make_npy(buf, 1, CASES[c].dict, body, CASES[c].body);
        clgrad_npy *a = (clgrad_npy *)1;
        clgrad_status s = load(buf, n, &a);
        ck_assert_msg(s == CASES[c].want, "case %zu: %s -> %s (%s)", c, CASES[c].dict, clgrad_status_name(s),
                      clgrad_last_error(NULL));
        ck_assert_ptr_null(a);
        ck_assert_msg(strstr(clgrad_last_error(NULL), CASES[c].msg) && strstr(clgrad_last_error(NULL), "t.npy"),
                      "case %zu: message \"%s\" lacks \"%s\"", c, clgrad_last_error(NULL), CASES[c].msg);
    }
    /* damage in the fixed prefix */
    float x[1] = {1};
    size_t n = th_make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", x, 4);
    clgrad_npy *a = NULL;
    for (size_t cut = 0; cut < n; cut++) { /* every truncation fails */
        ck_assert_int_ne(load(buf, cut, &a), CLGRAD_OK);
        ck_assert_ptr_null(a);
    }
    buf[1] = 'M';
    ck_assert_int_eq(load(buf, n, &a), CLGRAD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "magic"));
    buf[1] = 'N';
    buf[6] = 9;
    ck_assert_int_eq(load(buf, n, &a), CLGRAD_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "version 9"));
    buf[6] = 1;
    uint8_t hl = buf[8];
    buf[8] = 0xff; /* header length beyond the file */
    ck_assert_int_eq(load(buf, n, &a), CLGRAD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "longer than the file"));
    buf[8] = hl;
    ck_assert_int_eq(load(buf, n, &a), CLGRAD_OK);
    clgrad_npy_release(a);
    buf[20] = 0;
    ck_assert_int_eq(load(buf, n, &a), CLGRAD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "NUL"));
    ck_assert_ptr_null(a);
}
END_TEST

START_TEST(missing_files_and_bad_arguments)
{
    clgrad_npy *a = (clgrad_npy *)1;
    ck_assert_int_eq(clgrad_npy_load(tmp_path("nope.npy"), &a), CLGRAD_ERR_IO);
    ck_assert_ptr_null(a);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "nope.npy"));
    float x = 1;
    int64_t s = 1, neg = -1;
    ck_assert_int_eq(clgrad_npy_save(tmp_path("no/such/dir.npy"), CLGRAD_DTYPE_F32, 1, &s, &x), CLGRAD_ERR_IO);
    ck_assert_int_eq(clgrad_npy_save(tmp_path("a.npy"), CLGRAD_DTYPE_F16, 1, &s, &x), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_npy_save(tmp_path("a.npy"), CLGRAD_DTYPE_F32, 9, &s, &x), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_npy_save(tmp_path("a.npy"), CLGRAD_DTYPE_F32, 1, &neg, &x), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_npy_save(NULL, CLGRAD_DTYPE_F32, 1, &s, &x), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_npy_load(NULL, &a), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(access(tmp_path("a.npy"), F_OK), -1); /* nothing half-written */
    clgrad_npy_release(NULL);
}
END_TEST

/* A failed save leaves the old file as it was. */
START_TEST(failed_save_keeps_the_old_file)
{
    float x[2] = {1, 2};
    int64_t s = 2;
    ck_assert_int_eq(clgrad_npy_save(tmp_path("k.npy"), CLGRAD_DTYPE_F32, 1, &s, x), CLGRAD_OK);
    ck_assert_int_eq(chmod(tmpdir, 0500), 0);
    float y[2] = {3, 4};
    clgrad_status st = clgrad_npy_save(tmp_path("k.npy"), CLGRAD_DTYPE_F32, 1, &s, y);
    ck_assert_int_eq(chmod(tmpdir, 0700), 0);
    if (geteuid() != 0) ck_assert_int_eq(st, CLGRAD_ERR_IO); /* root writes anyway */
    clgrad_npy *a = NULL;
    ck_assert_int_eq(clgrad_npy_load(tmp_path("k.npy"), &a), CLGRAD_OK);
    ck_assert(((float *)a->data)[0] == (st == CLGRAD_OK ? 3.0f : 1.0f));
    clgrad_npy_release(a);
}
END_TEST

static Suite *suite_io_npy(void)
{
    Suite *s = suite_create("io_npy");
    TCase *tc = tcase_create("npy");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, f32_and_i32_round_trip);
    tcase_add_test(tc, writer_matches_numpy_layout);
    tcase_add_test(tc, scalars_and_empty_arrays);
    tcase_add_test(tc, numpy_element_types_are_converted);
    tcase_add_test(tc, fortran_order_is_transposed);
    tcase_add_test(tc, broken_files_are_clear_errors);
    tcase_add_test(tc, missing_files_and_bad_arguments);
    tcase_add_test(tc, failed_save_keeps_the_old_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite_io_npy());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
