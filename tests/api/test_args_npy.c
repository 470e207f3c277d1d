/* Argument checks of include/clgrad/npy.h: NULL paths, buffers and out-parameters,
 * zero-length, cut-off and garbage buffers, folders instead of files, bad dtypes, ranks and
 * shapes for saving (see tests/support/args.h for what a check expects). The format's own
 * corner cases (every element type, Fortran order, header faults) are tests/io/test_npy.c. */
#include "args.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A valid version-major .npy file of 2 x 3 f32 values in buf (cap bytes); its length. */
static size_t valid_npy(uint8_t *buf, size_t cap, int major)
{
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    float body[6];
    for (int i = 0; i < 6; i++) body[i] = (float)i + 0.5f;
    ck_assert_uint_le(128 + sizeof body, cap); /* the header takes 64 or 128 bytes */
    return th_make_npy(buf, major, dict, body, sizeof body);
}

/* Entries of folder dir other than . and .. */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

START_TEST(null_npy)
{
    clgrad_npy *a;
    uint8_t buf[256];
    size_t n = valid_npy(buf, sizeof buf, 1);

    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, a, clgrad_npy_load(NULL, &a));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_npy_load("x.npy", NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_npy_load(NULL, NULL));
    EXPECT_OUT_MSG(CLGRAD_ERR_IO, "none.npy", a, clgrad_npy_load("/nonexistent-dir/none.npy", &a));

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_npy_load_memory(buf, n, "x.npy", NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_npy_load_memory(NULL, 0, NULL, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, a, clgrad_npy_load_memory(NULL, n, "x.npy", &a));
    /* zero bytes (with or without a pointer) is a file too short to be .npy */
    EXPECT_OUT_MSG(CLGRAD_ERR_IO, "empty.npy", a, clgrad_npy_load_memory(NULL, 0, "empty.npy", &a));
    EXPECT_OUT_MSG(CLGRAD_ERR_IO, "empty.npy", a, clgrad_npy_load_memory(buf, 0, "empty.npy", &a));
    EXPECT_OUT_MSG(CLGRAD_ERR_IO, "<memory>", a, clgrad_npy_load_memory(buf, 0, NULL, &a));

    /* every cut of a valid file, of both header-length sizes, and one byte too many */
    for (int major = 1; major <= 2; major++) {
        n = valid_npy(buf, sizeof buf, major);
        for (size_t cut = 0; cut < n; cut++) EXPECT_OUT_MSG(CLGRAD_ERR_IO, "cut.npy", a,
                                                            clgrad_npy_load_memory(buf, cut, "cut.npy", &a));
        buf[n] = 0;
        EXPECT_OUT_MSG(CLGRAD_ERR_IO, "bytes", a, clgrad_npy_load_memory(buf, n + 1, "long.npy", &a));
        a = NULL;
        TH_OK(clgrad_npy_load_memory(buf, n, "ok.npy", &a));
        EXPECT_TRUE(a && a->dtype == CLGRAD_DTYPE_F32 && a->ndim == 2 && a->count == 6);
        EXPECT_TRUE(a && ((const float *)a->data)[5] == 5.5f);
        clgrad_npy_release(a);
    }
    /* garbage: no magic, then the magic with garbage after it (header lengths up to 64 KiB) */
    {
        uint8_t junk[1024];
        uint64_t x = 0x9e3779b97f4a7c15u;
        for (size_t i = 0; i < sizeof junk; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            junk[i] = (uint8_t)x;
        }
        junk[0] = 'x';
        EXPECT_OUT_MSG(CLGRAD_ERR_IO, "magic", a, clgrad_npy_load_memory(junk, sizeof junk, "junk.npy", &a));
        memcpy(junk, "\x93NUMPY\x01\x00", 8);
        for (int k = 0; k < 64; k++) {
            junk[8] = (uint8_t)(k * 37), junk[9] = (uint8_t)(k * 11);
            EXPECT_OUT(CLGRAD_ERR_IO, a, clgrad_npy_load_memory(junk, sizeof junk, "junk.npy", &a));
        }
        junk[6] = 0; /* format version 0 */
        EXPECT_OUT_MSG(CLGRAD_ERR_UNSUPPORTED, "version", a,
                       clgrad_npy_load_memory(junk, sizeof junk, "junk.npy", &a));
        junk[6] = 2; /* a 4-byte header length cut off */
        EXPECT_OUT_MSG(CLGRAD_ERR_IO, "junk.npy", a, clgrad_npy_load_memory(junk, 11, "junk.npy", &a));
    }
    /* a header that is well formed but says nothing usable */
    {
        uint8_t h[128];
        const char *dict = "{'descr': '', 'fortran_order': False, 'shape': (1,), }";
        size_t dl = strlen(dict), hl = dl + 1;
        memcpy(h, "\x93NUMPY\x01\x00", 8);
        h[8] = (uint8_t)hl, h[9] = 0;
        memcpy(h + 10, dict, dl);
        h[10 + dl] = '\n';
        memset(h + 10 + hl, 0, 4);
        EXPECT_OUT_MSG(CLGRAD_ERR_UNSUPPORTED, "element type", a, clgrad_npy_load_memory(h, 10 + hl + 4, NULL, &a));
    }

    clgrad_npy_release(NULL); /* a no-op */

    float x[6] = {0};
    int64_t s2[2] = {2, 3}, neg[2] = {2, -3}, huge[2] = {INT64_MAX / 2, 4};
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_npy_save(NULL, CLGRAD_DTYPE_F32, 2, s2, x));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_npy_save("", CLGRAD_DTYPE_F32, 2, s2, x));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_npy_save("x.npy", CLGRAD_DTYPE_F16, 2, s2, x));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_npy_save("x.npy", (clgrad_dtype)99, 2, s2, x));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_npy_save("x.npy", (clgrad_dtype)-1, 2, s2, x));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_npy_save("x.npy", CLGRAD_DTYPE_F32, -1, s2, x));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_npy_save("x.npy", CLGRAD_DTYPE_F32, CLGRAD_MAX_DIMS + 1, s2, x));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_npy_save("x.npy", CLGRAD_DTYPE_F32, 2, NULL, x));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_npy_save("x.npy", CLGRAD_DTYPE_F32, 2, s2, NULL));
    EXPECT_MSG(CLGRAD_ERR_INVALID_ARG, "-3", clgrad_npy_save("x.npy", CLGRAD_DTYPE_I32, 2, neg, x));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_npy_save("x.npy", CLGRAD_DTYPE_F32, 2, huge, x));
    EXPECT_MSG(CLGRAD_ERR_IO, "/nonexistent-dir/x.npy",
               clgrad_npy_save("/nonexistent-dir/x.npy", CLGRAD_DTYPE_F32, 2, s2, x));
    ARGS_DONE();
}
END_TEST

/* On files: a folder where a file should be, and saves that must write nothing. */
START_TEST(files_npy)
{
    char dir[512], sub[600], path[600];
    th_tmpdir(dir, sizeof dir, "apiargs-npy");
    snprintf(sub, sizeof sub, "%s/sub.npy", dir);
    snprintf(path, sizeof path, "%s/a.npy", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    clgrad_npy *a;
    float x[6] = {1, 2, 3, 4, 5, 6};
    int64_t s2[2] = {2, 3}, s0[1] = {0};

    EXPECT_OUT_MSG(CLGRAD_ERR_IO, sub, a, clgrad_npy_load(sub, &a));
    EXPECT_MSG(CLGRAD_ERR_IO, sub, clgrad_npy_save(sub, CLGRAD_DTYPE_F32, 2, s2, x));
    EXPECT_TRUE(entries(dir) == 1); /* no temporary file left behind */
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_npy_save(path, CLGRAD_DTYPE_F32, 2, NULL, x));
    EXPECT_TRUE(entries(dir) == 1);

    /* what is valid: a scalar without a shape, an empty array without data, and a cut copy
     * of a saved file that no longer loads */
    TH_OK(clgrad_npy_save(path, CLGRAD_DTYPE_F32, 0, NULL, x));
    a = NULL;
    TH_OK(clgrad_npy_load(path, &a));
    EXPECT_TRUE(a && a->ndim == 0 && a->count == 1 && ((const float *)a->data)[0] == 1.0f);
    clgrad_npy_release(a);
    TH_OK(clgrad_npy_save(path, CLGRAD_DTYPE_I32, 1, s0, NULL));
    a = NULL;
    TH_OK(clgrad_npy_load(path, &a));
    EXPECT_TRUE(a && a->dtype == CLGRAD_DTYPE_I32 && a->ndim == 1 && a->count == 0 && a->data != NULL);
    clgrad_npy_release(a);
    TH_OK(clgrad_npy_save(path, CLGRAD_DTYPE_F32, 2, s2, x));
    size_t len = 0;
    uint8_t *bytes = th_slurp(path, &len);
    th_spit(path, bytes, len - 1);
    free(bytes);
    EXPECT_OUT_MSG(CLGRAD_ERR_IO, path, a, clgrad_npy_load(path, &a));
    EXPECT_TRUE(entries(dir) == 2);
    th_rmtree(dir);
    ARGS_DONE();
}
END_TEST

int main(void)
{
    const TTest *null_tests[] = {null_npy, files_npy};
    return ta_main("api_args_npy", null_tests, N_OF(null_tests), NULL, 0);
}
