/* Program building and the on-disk binary cache: every embedded family builds, a second
 * context loads from the cache, damaged entries are rebuilt, an unusable cache folder is
 * ignored, and a broken kernel fails with the compiler's log. The cache's defences are
 * tried as an attacker would: a substituted or moved entry, a symbolic link at a
 * temporary name, a FIFO as an entry, a folder others can write, stale temporaries and a
 * size cap. */
#include "harness.h"

#include "ops/ops.h"
#include "program/program.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

/* ---------------------------------------------------------------------------------------
 * The cache's defences
 * ------------------------------------------------------------------------------------- */

/* The name of the one entry in cache_dir (there must be exactly one). */
static void only_entry(char *name, size_t cap)
{
    ck_assert_int_eq(count_entries(), 1);
    DIR *d = opendir(cache_dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".bin") && !strstr(e->d_name, ".tmp")) snprintf(name, cap, "%s", e->d_name);
    closedir(d);
}

/* Runs a fill of 1.0 and returns the first value; the stats say where the program came from. */
static float fill_one(clgrad_context *ctx, clgrad_context_stats *st)
{
    int64_t shape[1] = {4};
    clgrad_tensor *t = NULL;
    float h[4] = {0};
    ck_assert_msg(clgrad_tensor_full(ctx, 1, shape, 1.0f, &t) == CLGRAD_OK, "%s", clgrad_last_error(ctx));
    ck_assert_int_eq(clgrad_tensor_read(t, h, sizeof h), CLGRAD_OK);
    clgrad_tensor_release(t);
    clgrad_context_get_stats(ctx, st);
    return h[0];
}

/* A kernel folder whose fill writes 42 whatever it is asked: the attacker's binary. */
static void evil_kernel_dir(char *dir, size_t cap)
{
    th_tmpdir(dir, cap, "evil-kdir");
    const char *common = "#define ANSWER 42\n";
    const char *copy = "kernel void fill_f32(global float *x, long off, long n, float v) { long i = get_global_id(0);"
                       " if (i < n) x[off + i] = ANSWER; }\n";
    th_spit(th_path(dir, "common.cl"), common, strlen(common));
    th_spit(th_path(dir, "copy.cl"), copy, strlen(copy));
}

/* Builds the evil fill with cache folder dir and returns the name of the entry it made. */
static void build_evil_entry(const char *dir, char *name, size_t cap)
{
    char kdir[256], before[256] = "";
    if (strcmp(dir, cache_dir) == 0 && count_entries() == 1) only_entry(before, sizeof before);
    evil_kernel_dir(kdir, sizeof kdir);
    setenv("CLGRAD_KERNEL_DIR", kdir, 1);
    clgrad_context *ctx = make_ctx(dir);
    clgrad_context_stats st;
    ck_assert_float_eq(fill_one(ctx, &st), 42.0f);
    clgrad_context_release(ctx);
    unsetenv("CLGRAD_KERNEL_DIR");
    th_rmtree(kdir);
    DIR *d = opendir(dir);
    struct dirent *e;
    name[0] = '\0';
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".bin") && !strstr(e->d_name, ".tmp") && strcmp(e->d_name, before) != 0)
            snprintf(name, cap, "%s", e->d_name);
    closedir(d);
    ck_assert_msg(name[0], "the evil build left no cache entry in %s", dir);
}

static void copy_file(const char *from, const char *to)
{
    size_t n = 0;
    uint8_t *b = th_slurp(from, &n);
    th_spit(to, b, n);
    free(b);
}

/* An entry built elsewhere (another user's cache, with its own secret) and copied over the
 * genuine entry's name must be refused: before, its checksum matched and fill(1) gave 42. */
START_TEST(substituted_entry_from_another_cache_is_refused)
{
    make_cache_dir();
    clgrad_context *ctx = make_ctx(cache_dir);
    clgrad_context_stats st;
    ck_assert_float_eq(fill_one(ctx, &st), 1.0f);
    clgrad_context_release(ctx);
    char genuine[256], evil[256], other[256];
    only_entry(genuine, sizeof genuine);

    th_tmpdir(other, sizeof other, "attacker-cache");
    build_evil_entry(other, evil, sizeof evil);
    char from[512];
    snprintf(from, sizeof from, "%s/%s", other, evil);
    copy_file(from, th_path(cache_dir, genuine));

    ctx = make_ctx(cache_dir);
    ck_assert_float_eq(fill_one(ctx, &st), 1.0f);
    ck_assert_int_eq(st.programs_from_cache, 0);
    ck_assert_int_eq(st.programs_built, 1);
    clgrad_context_release(ctx);
    th_rmtree(other);
    remove_cache_dir();
}
END_TEST

/* An entry of the same cache renamed to another key is refused too: the MAC covers the name. */
START_TEST(entry_moved_to_another_key_is_refused)
{
    make_cache_dir();
    clgrad_context *ctx = make_ctx(cache_dir);
    clgrad_context_stats st;
    ck_assert_float_eq(fill_one(ctx, &st), 1.0f);
    clgrad_context_release(ctx);
    char genuine[256], evil[256];
    only_entry(genuine, sizeof genuine);
    build_evil_entry(cache_dir, evil, sizeof evil);
    char from[512];
    snprintf(from, sizeof from, "%s/%s", cache_dir, evil);
    ck_assert_int_eq(rename(from, th_path(cache_dir, genuine)), 0);

    ctx = make_ctx(cache_dir);
    ck_assert_float_eq(fill_one(ctx, &st), 1.0f);
    ck_assert_int_eq(st.programs_from_cache, 0);
    clgrad_context_release(ctx);
    remove_cache_dir();
}
END_TEST

/* The temporary name earlier versions used, <key>.bin.tmp.<pid>, was predictable and
 * followed links: a link planted there made the library overwrite the link's target. */
START_TEST(link_at_a_temporary_name_is_not_followed)
{
    make_cache_dir();
    clgrad_context *ctx = make_ctx(cache_dir);
    clgrad_context_stats st;
    fill_one(ctx, &st);
    clgrad_context_release(ctx);
    char entry[256], link[1024], victim[512];
    only_entry(entry, sizeof entry);
    ck_assert_int_eq(unlink(th_path(cache_dir, entry)), 0);
    char outside[256];
    th_tmpdir(outside, sizeof outside, "victim");
    snprintf(victim, sizeof victim, "%s/precious.txt", outside);
    th_spit(victim, "precious", 8);
    snprintf(link, sizeof link, "%s/%s.tmp.%ld", cache_dir, entry, (long)getpid());
    ck_assert_int_eq(symlink(victim, link), 0);

    ctx = make_ctx(cache_dir);
    fill_one(ctx, &st);
    ck_assert_int_eq(st.programs_built, 1);
    clgrad_context_release(ctx);
    size_t n = 0;
    uint8_t *b = th_slurp(victim, &n);
    ck_assert_msg(n == 8 && memcmp(b, "precious", 8) == 0, "the file behind the link was overwritten");
    free(b);
    struct stat sb;
    ck_assert_int_eq(lstat(th_path(cache_dir, entry), &sb), 0);
    ck_assert(S_ISREG(sb.st_mode));
    th_rmtree(outside);
    remove_cache_dir();
}
END_TEST

/* A FIFO in place of an entry: opening it used to block forever. Planted after the context
 * opened its folder (so the tidying on open cannot remove it first), then planted before. */
START_TEST(fifo_as_an_entry_does_not_hang)
{
    make_cache_dir();
    clgrad_context *ctx = make_ctx(cache_dir);
    clgrad_context_stats st;
    fill_one(ctx, &st);
    clgrad_context_release(ctx);
    char entry[256];
    only_entry(entry, sizeof entry);
    ck_assert_int_eq(unlink(th_path(cache_dir, entry)), 0);

    ctx = make_ctx(cache_dir);
    ck_assert_int_eq(mkfifo(th_path(cache_dir, entry), 0600), 0);
    ck_assert_float_eq(fill_one(ctx, &st), 1.0f); /* the tcase timeout catches a hang */
    ck_assert_int_eq(st.programs_from_cache, 0);
    clgrad_context_release(ctx);
    struct stat sb;
    ck_assert_int_eq(lstat(th_path(cache_dir, entry), &sb), 0);
    ck_assert_msg(S_ISREG(sb.st_mode), "the rebuilt entry replaced the FIFO");

    ck_assert_int_eq(unlink(th_path(cache_dir, entry)), 0);
    ck_assert_int_eq(mkfifo(th_path(cache_dir, entry), 0600), 0);
    ctx = make_ctx(cache_dir);
    ck_assert_int_eq(lstat(th_path(cache_dir, entry), &sb), -1); /* removed on open */
    ck_assert_float_eq(fill_one(ctx, &st), 1.0f);
    clgrad_context_release(ctx);
    remove_cache_dir();
}
END_TEST

/* A folder others can write (a team folder, a 1777 folder), a link to a folder, or one owned
 * by someone else: the context runs without a cache and says why, and writes nothing there. */
static void refused_folder(const char *dir, const char *why)
{
    clgrad_context *ctx = make_ctx(dir);
    const char *notes = clgrad_context_diagnostics(ctx);
    ck_assert_msg(strstr(notes, "binary cache off") && strstr(notes, why), "diagnostics: '%s'", notes);
    clgrad_context_stats st;
    ck_assert_float_eq(fill_one(ctx, &st), 1.0f);
    clgrad_context_release(ctx);
    ck_assert_int_eq(count_entries(), 0);
    ck_assert_int_eq(access(th_path(cache_dir, "hmac-key"), F_OK), -1);
}

START_TEST(folder_others_can_write_is_refused)
{
    make_cache_dir();
    ck_assert_int_eq(chmod(cache_dir, 0770), 0);
    refused_folder(cache_dir, "writable by group or others (mode 0770)");
    ck_assert_int_eq(chmod(cache_dir, 01777), 0);
    refused_folder(cache_dir, "writable by group or others (mode 1777)");
    ck_assert_int_eq(chmod(cache_dir, 0700), 0);

    char link[300];
    snprintf(link, sizeof link, "%s-link", cache_dir);
    ck_assert_int_eq(symlink(cache_dir, link), 0);
    refused_folder(link, "symbolic link");
    unlink(link);

    if (geteuid() == 0) { /* only root can give a folder away */
        ck_assert_int_eq(chown(cache_dir, 65534, 65534), 0);
        refused_folder(cache_dir, "is owned by user 65534");
    }
    remove_cache_dir();
}
END_TEST

START_TEST(new_folder_is_private_and_diagnostics_are_quiet)
{
    make_cache_dir();
    char dir[400];
    snprintf(dir, sizeof dir, "%s/a/b", cache_dir);
    clgrad_context *ctx = make_ctx(dir);
    ck_assert_str_eq(clgrad_context_diagnostics(ctx), "");
    clgrad_context_release(ctx);
    struct stat sb;
    ck_assert_int_eq(stat(dir, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 07777, 0700);
    ck_assert_int_eq(stat(th_path(dir, "hmac-key"), &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 07777, 0600);
    ck_assert_int_eq((int)sb.st_size, 32);
    remove_cache_dir();
}
END_TEST

static void age(const char *path, time_t seconds)
{
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= seconds;
    ts[1] = ts[0];
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

#define KEY_A "0123456789abcdef0123456789abcdef"
#define KEY_B "00000000000000000000000000000001"
#define KEY_C "00000000000000000000000000000002"
#define KEY_D "00000000000000000000000000000003"

START_TEST(stale_temporaries_are_removed_on_open)
{
    make_cache_dir();
    const char *old_tmp = th_path(cache_dir, KEY_A ".bin.tmp-12-ab-0");
    const char *old_legacy = th_path(cache_dir, KEY_B ".bin.tmp.4242");
    th_spit(old_tmp, "x", 1);
    th_spit(old_legacy, "x", 1);
    age(old_tmp, 2 * 86400);
    age(old_legacy, 2 * 86400);
    const char *fresh_tmp = th_path(cache_dir, KEY_C ".bin.tmp-13-cd-0");
    th_spit(fresh_tmp, "x", 1); /* another process may be writing it now */
    const char *not_ours = th_path(cache_dir, "notes.txt.tmp-1");
    th_spit(not_ours, "x", 1);
    age(not_ours, 2 * 86400);
    clgrad_context *ctx = make_ctx(cache_dir);
    clgrad_context_release(ctx);
    ck_assert_int_eq(access(th_path(cache_dir, KEY_A ".bin.tmp-12-ab-0"), F_OK), -1);
    ck_assert_int_eq(access(th_path(cache_dir, KEY_B ".bin.tmp.4242"), F_OK), -1);
    ck_assert_int_eq(access(th_path(cache_dir, KEY_C ".bin.tmp-13-cd-0"), F_OK), 0);
    ck_assert_int_eq(access(th_path(cache_dir, "notes.txt.tmp-1"), F_OK), 0);
    remove_cache_dir();
}
END_TEST

/* With a 1 MiB cap: three entries of 300 KB, the oldest then used (a hit), a fourth
 * stored: the least recently used one (the second) goes, the others stay. */
START_TEST(size_cap_evicts_the_least_recently_used)
{
    make_cache_dir();
    setenv("CLGRAD_CACHE_MAX_MB", "1", 1);
    clgrad_context *ctx = make_ctx(cache_dir);
    ck_assert_str_eq(clgrad_context_diagnostics(ctx), "");
    clgrad__disk_cache *c = clgrad__cache_open(ctx, cache_dir);
    ck_assert_ptr_nonnull(c);
    size_t n = 300 * 1000;
    unsigned char *payload = calloc(n, 1);
    const char *keys[3] = {KEY_A, KEY_B, KEY_C};
    for (int i = 0; i < 3; i++) {
        payload[0] = (unsigned char)i;
        ck_assert_int_eq(clgrad__cache_store(c, keys[i], payload, n), CLGRAD_OK);
        char name[64];
        snprintf(name, sizeof name, "%s.bin", keys[i]);
        age(th_path(cache_dir, name), 300 - 100 * i); /* A oldest, C newest */
    }
    unsigned char *got = NULL;
    size_t len = 0;
    ck_assert_int_eq(clgrad__cache_load(c, KEY_A, &got, &len), CLGRAD_OK); /* A: now the newest */
    ck_assert_uint_eq(len, n);
    ck_assert_int_eq(got[0], 0);
    free(got);
    ck_assert_int_eq(clgrad__cache_store(c, KEY_D, payload, n), CLGRAD_OK);
    ck_assert_int_eq(access(th_path(cache_dir, KEY_A ".bin"), F_OK), 0);
    ck_assert_int_eq(access(th_path(cache_dir, KEY_B ".bin"), F_OK), -1);
    ck_assert_int_eq(access(th_path(cache_dir, KEY_C ".bin"), F_OK), 0);
    ck_assert_int_eq(access(th_path(cache_dir, KEY_D ".bin"), F_OK), 0);
    clgrad__cache_close(c);
    free(payload);
    clgrad_context_release(ctx);

    setenv("CLGRAD_CACHE_MAX_MB", "lots", 1);
    ctx = make_ctx(cache_dir);
    ck_assert_ptr_nonnull(strstr(clgrad_context_diagnostics(ctx), "CLGRAD_CACHE_MAX_MB=lots"));
    clgrad_context_release(ctx);
    unsetenv("CLGRAD_CACHE_MAX_MB");
    remove_cache_dir();
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
    tc = tcase_create("cache_defences");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, substituted_entry_from_another_cache_is_refused);
    tcase_add_test(tc, entry_moved_to_another_key_is_refused);
    tcase_add_test(tc, link_at_a_temporary_name_is_not_followed);
    tcase_add_test(tc, fifo_as_an_entry_does_not_hang);
    tcase_add_test(tc, folder_others_can_write_is_refused);
    tcase_add_test(tc, new_folder_is_private_and_diagnostics_are_quiet);
    tcase_add_test(tc, stale_temporaries_are_removed_on_open);
    tcase_add_test(tc, size_cap_evicts_the_least_recently_used);
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
