/* The IDX reader's limits (clgrad_idx_limits): a small gzip file whose header claims 1 GiB
 * fails before the reader holds memory for it, through every loader (peak RSS measured);
 * the absolute cap and the expansion ratio are settable; ordinary files pass. No device. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "harness.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zlib.h>

static char tmpdir[512];

static void setup(void) { th_tmpdir(tmpdir, sizeof tmpdir, "idx-limits"); }
static void teardown(void) { th_rmtree(tmpdir); }

/* The 4 + 4 * ndim header bytes of a u8 IDX file. */
static size_t idx_header(uint8_t *h, int ndim, const uint32_t *dims)
{
    h[0] = 0, h[1] = 0, h[2] = 0x08, h[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++)
        for (int k = 0; k < 4; k++) h[4 + 4 * i + k] = (uint8_t)(dims[i] >> (24 - 8 * k));
    return 4 + 4 * (size_t)ndim;
}

/* A gzip file of an IDX header followed by zeros bytes of zeros, compressed as tightly as
 * gzip can, made a chunk at a time so the test itself holds little memory. */
static uint8_t *gzip_header_and_zeros(int ndim, const uint32_t *dims, uint64_t zeros, size_t *n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = (size_t)(zeros / 512) + 4096, used = 0;
    uint8_t *out = malloc(cap), head[64];
    static uint8_t chunk[1 << 20];
    memset(chunk, 0, sizeof chunk);
    size_t hn = idx_header(head, ndim, dims);
    z.next_in = head;
    z.avail_in = (uInt)hn;
    uint64_t left = zeros;
    int flush = Z_NO_FLUSH;
    for (;;) {
        if (z.avail_in == 0 && left) {
            size_t k = left < sizeof chunk ? (size_t)left : sizeof chunk;
            z.next_in = chunk;
            z.avail_in = (uInt)k;
            left -= k;
        }
        if (z.avail_in == 0 && !left) flush = Z_FINISH;
        z.next_out = out + used;
        z.avail_out = (uInt)(cap - used);
        int r = deflate(&z, flush);
        used = cap - z.avail_out;
        if (r == Z_STREAM_END) break;
        ck_assert_msg(r == Z_OK || r == Z_BUF_ERROR, "deflate: %d", r);
        if (used == cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
    }
    deflateEnd(&z);
    *n = used;
    return out;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss; /* KiB on Linux */
}

static void expect_refused(clgrad_status s, const char *needle)
{
    ck_assert_msg(s == CLGRAD_ERR_IO, "got %s: %s", clgrad_status_name(s), clgrad_last_error(NULL));
    ck_assert_msg(strstr(clgrad_last_error(NULL), needle), "message '%s' lacks '%s'", clgrad_last_error(NULL),
                  needle);
}

/* The file: about 510 KB of gzip whose header claims 1024 x 1024 x 1024 bytes (the
 * stream really holds 512 MiB of zeros). It used to drive the reader to 1.1 GB. */
START_TEST(gzip_bomb_fails_before_holding_memory)
{
    const uint32_t dims[3] = {1024, 1024, 1024};
    size_t n = 0;
    uint8_t *gz = gzip_header_and_zeros(3, dims, (uint64_t)512 << 20, &n);
    ck_assert_msg(n > 400000 && n < 600000, "the crafted file has %zu bytes", n);
    const char *path = th_path(tmpdir, "bomb-images-idx3-ubyte.gz");
    th_spit(path, gz, n);
    const uint32_t one = 1024;
    uint8_t labels[8 + 1024];
    memset(labels, 0, sizeof labels);
    idx_header(labels, 1, &one);
    const char *lpath = th_path(tmpdir, "labels-idx1-ubyte");
    th_spit(lpath, labels, sizeof labels);

    long before = peak_rss_kib();
    clgrad_idx *idx = NULL;
    expect_refused(clgrad_idx_load_memory(gz, n, "bomb", &idx), "decompression bomb");
    ck_assert_ptr_null(idx);
    expect_refused(clgrad_idx_load(path, &idx), "more than 100 times its size");
    clgrad_dataset *ds = NULL;
    expect_refused(clgrad_dataset_load_idx(path, lpath, NULL, &ds), "bomb-images-idx3-ubyte.gz");
    ck_assert_ptr_null(ds);
    long grew = peak_rss_kib() - before;
    fprintf(stderr, "gzip bomb of %zu bytes claiming 1 GiB: peak RSS grew by %ld KiB while refusing it\n", n, grew);
    ck_assert_msg(grew < 300 * 1024, "the refused file still made the reader hold %ld KiB", grew);
    free(gz);
}
END_TEST

/* max_bytes: a file declaring more data than the cap is refused before it is read whole. */
START_TEST(absolute_cap_is_settable)
{
    const uint32_t dims[2] = {2, 1000};
    uint8_t *b = calloc(1, 12 + 2000);
    idx_header(b, 2, dims);
    const char *path = th_path(tmpdir, "two-thousand");
    th_spit(path, b, 12 + 2000);
    clgrad_idx *idx = NULL;
    clgrad_idx_limits lim = {.max_bytes = 1999};
    expect_refused(clgrad_idx_load_limited(path, &lim, &idx), "more than the limit of 1999");
    lim.max_bytes = 2000;
    ck_assert_int_eq(clgrad_idx_load_limited(path, &lim, &idx), CLGRAD_OK);
    ck_assert_int_eq(idx->count, 2000);
    clgrad_idx_release(idx);
    /* the cap also bounds the file read itself */
    lim.max_bytes = 10;
    expect_refused(clgrad_idx_load_limited(path, &lim, &idx), "two-thousand");

    /* the dataset loader takes the same limits through its options */
    const uint32_t two = 2;
    uint8_t labels[8 + 2] = {0};
    idx_header(labels, 1, &two);
    const char *lpath = th_path(tmpdir, "two-labels");
    th_spit(lpath, labels, sizeof labels);
    clgrad_dataset *ds = NULL;
    clgrad_dataset_opts o = {.limits = {.max_bytes = 1999}};
    expect_refused(clgrad_dataset_load_idx(path, lpath, &o, &ds), "more than the limit of 1999");
    ck_assert_ptr_null(ds);
    o.limits.max_bytes = 2000;
    ck_assert_int_eq(clgrad_dataset_load_idx(path, lpath, &o, &ds), CLGRAD_OK);
    ck_assert_int_eq(clgrad_dataset_count(ds), 2);
    clgrad_dataset_release(ds);
    free(b);
}
END_TEST

/* max_ratio: 8 MiB of zeros compress about a thousand times, beyond the default 100; a
 * caller who expects that raises the limit. Below the 1 MiB floor any ratio passes (a label
 * file of one class compresses as well). */
START_TEST(expansion_ratio_is_settable_above_a_floor)
{
    const uint32_t dims[3] = {8, 1024, 1024};
    size_t n = 0;
    uint8_t *gz = gzip_header_and_zeros(3, dims, (uint64_t)8 << 20, &n);
    const char *path = th_path(tmpdir, "zeros.gz");
    th_spit(path, gz, n);
    clgrad_idx *idx = NULL;
    expect_refused(clgrad_idx_load_limited(path, NULL, &idx), "more than 100 times its size");
    clgrad_idx_limits lim = {.max_ratio = 5000};
    ck_assert_int_eq(clgrad_idx_load_limited(path, &lim, &idx), CLGRAD_OK);
    ck_assert_int_eq(idx->count, (int64_t)8 << 20);
    clgrad_idx_release(idx);
    free(gz);

    const uint32_t small[1] = {60000};
    gz = gzip_header_and_zeros(1, small, 60000, &n);
    ck_assert_msg(n * 100 < 60000, "the small file compresses %zu times only", 60000 / n);
    ck_assert_int_eq(clgrad_idx_load_memory(gz, n, "one-class-labels", &idx), CLGRAD_OK);
    clgrad_idx_release(idx);
    free(gz);

    lim.max_ratio = -1;
    ck_assert_int_eq(clgrad_idx_load_limited(path, &lim, &idx), CLGRAD_ERR_INVALID_ARG);
    lim.max_ratio = NAN;
    ck_assert_int_eq(clgrad_idx_load_limited(path, &lim, &idx), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_idx_load_limited(NULL, &lim, &idx), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_idx_load_limited(path, NULL, NULL), CLGRAD_ERR_INVALID_ARG);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("io_idx_limits");
    TCase *tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, gzip_bomb_fails_before_holding_memory);
    tcase_add_test(tc, absolute_cap_is_settable);
    tcase_add_test(tc, expansion_ratio_is_settable_above_a_floor);
    suite_add_tcase(s, tc);
    return th_run(s, 0);
}
