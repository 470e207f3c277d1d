/* Program building and the on-disk binary cache: every embedded family builds, a second
 * context loads from the cache, damaged entries are rebuilt, an unusable cache folder is
 * ignored, and a broken kernel fails with the compiler's log. */
#include "harness.h"

#include "ops/ops.h"
#include "program/program.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char cache_dir[256];

static void make_cache_dir(void) { th_tmpdir(cache_dir, sizeof cache_dir, "test-cache"); }
static void remove_cache_dir(void) { th_rmtree(cache_dir); }

static clgrad_context *make_ctx(const char *dir)
{
    clgrad_context *ctx = NULL;
    clgrad_context_desc d = {.cache_dir = dir};
    clgrad_status s = clgrad_context_create(&d, &ctx);
    ck_assert_msg(s == CLGRAD_OK, "%s", clgrad_last_error(NULL));
    return ctx;
}

/* Builds the copy family and runs a fill through it, proving the program works. */
static void use_program(clgrad_context *ctx)
{
    int64_t shape[1] = {1000};
    clgrad_tensor *t = NULL;
    clgrad_status s = clgrad_tensor_full(ctx, 1, shape, 2.5f, &t);
    ck_assert_msg(s == CLGRAD_OK, "%s", clgrad_last_error(ctx));
    float h[1000];
    ck_assert_int_eq(clgrad_tensor_read(t, h, sizeof h), CLGRAD_OK);
    for (int i = 0; i < 1000; i++) ck_assert_float_eq(h[i], 2.5f);
    clgrad_tensor_release(t);
}

static int count_entries(void)
{
    DIR *d = opendir(cache_dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".bin") && !strstr(e->d_name, ".tmp")) n++;
    if (d) closedir(d);
    return n;
}

/* Damages every cache entry with fn. */
static void damage_entries(void (*fn)(const char *path))
{
    DIR *d = opendir(cache_dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".bin")) continue;
        snprintf(p, sizeof p, "%s/%s", cache_dir, e->d_name);
        fn(p);
    }
    if (d) closedir(d);
}

static void truncate_half(const char *p)
{
    FILE *f = fopen(p, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    ck_assert_int_eq(truncate(p, n / 2), 0);
}

static void flip_byte(const char *p)
{
    FILE *f = fopen(p, "r+b");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, n - 10, SEEK_SET);
    int c = fgetc(f);
    fseek(f, n - 10, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

static void garbage_header(const char *p)
{
    FILE *f = fopen(p, "r+b");
    fputs("not a cache entry", f);
    fclose(f);
}

START_TEST(cache_miss_then_hit)
{
    make_cache_dir();
    clgrad_context *ctx = make_ctx(cache_dir);
    use_program(ctx);
    clgrad_context_stats st;
    clgrad_context_get_stats(ctx, &st);
    ck_assert_int_eq(st.programs_built, 1);
    ck_assert_int_eq(st.programs_from_cache, 0);
    clgrad_context_release(ctx);
    ck_assert_int_ge(count_entries(), 1);

    ctx = make_ctx(cache_dir);
    use_program(ctx);
    clgrad_context_get_stats(ctx, &st);
    ck_assert_int_eq(st.programs_built, 0);
    ck_assert_int_eq(st.programs_from_cache, 1);
    clgrad_context_release(ctx);
    remove_cache_dir();
}
END_TEST

static void damaged_entry_is_rebuilt(void (*fn)(const char *))
{
    make_cache_dir();
    clgrad_context *ctx = make_ctx(cache_dir);
    use_program(ctx);
    clgrad_context_release(ctx);
    damage_entries(fn);
    ctx = make_ctx(cache_dir);
    use_program(ctx); /* must not crash, must compute right */
    clgrad_context_stats st;
    clgrad_context_get_stats(ctx, &st);
    ck_assert_int_eq(st.programs_built, 1);
    ck_assert_int_eq(st.programs_from_cache, 0);
    clgrad_context_release(ctx);
    /* and the rebuilt entry is good again */
    ctx = make_ctx(cache_dir);
    use_program(ctx);
    clgrad_context_get_stats(ctx, &st);
    ck_assert_int_eq(st.programs_from_cache, 1);
    clgrad_context_release(ctx);
    remove_cache_dir();
}

START_TEST(truncated_entry_is_rebuilt) { damaged_entry_is_rebuilt(truncate_half); }
END_TEST
START_TEST(bit_flipped_entry_is_rebuilt) { damaged_entry_is_rebuilt(flip_byte); }
END_TEST
START_TEST(foreign_entry_is_rebuilt) { damaged_entry_is_rebuilt(garbage_header); }
END_TEST

START_TEST(unusable_cache_folder_is_ignored)
{
    /* a folder below a regular file can never be created, even by root */
    char file[] = "/tmp/clgrad-not-a-dir-XXXXXX";
    int fd = mkstemp(file);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/cache", file);
    clgrad_context *ctx = make_ctx(dir);
    use_program(ctx);
    clgrad_context_stats st;
    clgrad_context_get_stats(ctx, &st);
    ck_assert_int_eq(st.programs_built, 1);
    clgrad_context_release(ctx);
    unlink(file);
}
END_TEST

START_TEST(cache_can_be_disabled)
{
    clgrad_context *ctx = make_ctx("off");
    use_program(ctx);
    clgrad_context_release(ctx);
    ctx = make_ctx("off");
    use_program(ctx);
    clgrad_context_stats st;
    clgrad_context_get_stats(ctx, &st);
    ck_assert_int_eq(st.programs_from_cache, 0);
    clgrad_context_release(ctx);
}
END_TEST

START_TEST(broken_kernel_reports_build_log)
{
    clgrad_context *ctx = make_ctx("off");
    clgrad__program_entry *pe = NULL;
    const char *src = "kernel void broken(global float *x) { x[0] = undefined_identifier_xyz; }\n";
    clgrad_status s = clgrad__program_from_source(ctx, "broken", src, "", &pe);
    ck_assert_int_eq(s, CLGRAD_ERR_BUILD);
    const char *m = clgrad_last_error(ctx);
    ck_assert_ptr_nonnull(strstr(m, "broken"));
    ck_assert_ptr_nonnull(strstr(m, "undefined_identifier_xyz")); /* from the compiler's log */
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "undefined_identifier_xyz"));
    clgrad_context_release(ctx);
}
END_TEST

START_TEST(every_embedded_family_builds)
{
    clgrad_context *ctx = make_ctx("off");
    clgrad_status s = clgrad_context_build_all(ctx);
    ck_assert_msg(s == CLGRAD_OK, "%s", clgrad_last_error(ctx));
    clgrad_context_stats st;
    clgrad_context_get_stats(ctx, &st);
    ck_assert_int_eq(st.programs_built, (int)clgrad__family_count());
    clgrad_context_release(ctx);
}
END_TEST

START_TEST(kernel_dir_override_reads_sources_from_disk)
{
    char dir[512];
    th_tmpdir(dir, sizeof dir, "kdir");
    const char *common = "#define ANSWER 42\n";
    const char *copy = "kernel void fill_f32(global float *x, long off, long n, float v) { long i = get_global_id(0);"
                       " if (i < n) x[off + i] = ANSWER; }\n";
    th_spit(th_path(dir, "common.cl"), common, strlen(common));
    th_spit(th_path(dir, "copy.cl"), copy, strlen(copy));
    setenv("CLGRAD_KERNEL_DIR", dir, 1);
    clgrad_context *ctx = make_ctx("off");
    int64_t shape[1] = {3};
    clgrad_tensor *t = NULL;
    ck_assert_int_eq(clgrad_tensor_full(ctx, 1, shape, 1.0f, &t), CLGRAD_OK);
    float h[3];
    ck_assert_int_eq(clgrad_tensor_read(t, h, sizeof h), CLGRAD_OK);
    ck_assert_float_eq(h[2], 42.0f);
    clgrad_tensor_release(t);
    /* a family missing from the folder is a clear error */
    clgrad__program_entry *pe;
    ck_assert_int_eq(clgrad__program_get(ctx, "matmul", "", &pe), CLGRAD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(ctx), "matmul.cl"));
    clgrad_context_release(ctx);
    unsetenv("CLGRAD_KERNEL_DIR");
    th_rmtree(dir);
}
END_TEST

START_TEST(unknown_family_is_invalid_arg)
{
    clgrad_context *ctx = make_ctx("off");
    clgrad__program_entry *pe;
    ck_assert_int_eq(clgrad__program_get(ctx, "no_such_family", "", &pe), CLGRAD_ERR_INVALID_ARG);
    clgrad_context_release(ctx);
}
END_TEST

/* Launches beyond the conservative grid limits (65535 work-groups in dims 1 and 2, 2^32
 * work-items per dimension) fail with a message before reaching the driver. */
START_TEST(oversized_launches_are_refused)
{
    clgrad_context *ctx = make_ctx("off");
    size_t g2[2] = {1, 70000}, l2[2] = {1, 1}, g3[3] = {1, 1, 65536}, l3[3] = {1, 1, 1};
    ck_assert_int_eq(clgrad__launch(ctx, "copy", NULL, "fill_f32", 2, g2, l2, CLGRAD_NO_ARGS), CLGRAD_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(ctx), "dimension 1"));
    ck_assert_int_eq(clgrad__launch(ctx, "copy", NULL, "fill_f32", 2, g2, NULL, CLGRAD_NO_ARGS), CLGRAD_ERR_UNSUPPORTED);
    ck_assert_int_eq(clgrad__launch(ctx, "copy", NULL, "fill_f32", 3, g3, l3, CLGRAD_NO_ARGS), CLGRAD_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(ctx), "dimension 2"));
    if (sizeof(size_t) > 4) {
        size_t g1 = (size_t)0xffffffffu + 2, l1 = 1;
        ck_assert_int_eq(clgrad__launch(ctx, "copy", NULL, "fill_f32", 1, &g1, &l1, CLGRAD_NO_ARGS), CLGRAD_ERR_UNSUPPORTED);
        ck_assert_ptr_nonnull(strstr(clgrad_last_error(ctx), "dimension 0"));
    }
    /* the per-dimension work-item limit and the 1-D size stay within the device's */
    ck_assert_uint_le(clgrad__wg_1d(ctx), clgrad__dev(ctx)->info.max_work_item_sizes[0]);
    clgrad_context_release(ctx);
}
END_TEST

static Suite *suite_program_program(void)
{
    Suite *s = suite_create("program_program");
    TCase *tc = tcase_create("cache");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, cache_miss_then_hit);
    tcase_add_test(tc, truncated_entry_is_rebuilt);
    tcase_add_test(tc, bit_flipped_entry_is_rebuilt);
    tcase_add_test(tc, foreign_entry_is_rebuilt);
    tcase_add_test(tc, unusable_cache_folder_is_ignored);
    tcase_add_test(tc, cache_can_be_disabled);
    suite_add_tcase(s, tc);
    tc = tcase_create("build");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, broken_kernel_reports_build_log);
    tcase_add_test(tc, every_embedded_family_builds);
    tcase_add_test(tc, kernel_dir_override_reads_sources_from_disk);
    tcase_add_test(tc, unknown_family_is_invalid_arg);
    tcase_add_test(tc, oversized_launches_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_program_program(), 1); }
