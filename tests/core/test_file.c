/* The library's file routines (src/core/file.c): whole-file reading with its size limit and
 * its refusal of anything but a regular file, and atomic replacement: the new bytes or the
 * old file, never a mixture, no temporary file left behind, and the requested mode. No
 * device needed. */
#include "harness.h"

#include "core/file.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[512];

static void dir_setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/clgrad-file-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) remove_tree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(path);
}

static void dir_teardown(void) { remove_tree(dir); }

static const char *at(const char *name)
{
    static char p[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static int entries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return n;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static int has(const char *needle)
{
    return strstr(clgrad_last_error(NULL), needle) != NULL;
}

/* --- reading ------------------------------------------------------------------------------ */

START_TEST(read_returns_the_bytes_and_a_terminating_nul)
{
    put(at("a.txt"), "hello");
    uint8_t *b = NULL;
    size_t n = 0;
    ck_assert_int_eq(clgrad__file_read(at("a.txt"), 100, 0, &b, &n), CLGRAD_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq((const char *)b, "hello");
    free(b);
    put(at("empty"), "");
    ck_assert_int_eq(clgrad__file_read(at("empty"), 100, 0, &b, &n), CLGRAD_OK);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(n, 0);
    free(b);
}
END_TEST

START_TEST(read_refuses_a_file_over_the_limit)
{
    put(at("big"), "0123456789");
    uint8_t *b = (uint8_t *)&b;
    size_t n = 7;
    ck_assert_int_eq(clgrad__file_read(at("big"), 9, 0, &b, &n), CLGRAD_ERR_IO);
    ck_assert_ptr_null(b);
    ck_assert_uint_eq(n, 0);
    ck_assert_msg(has("big: 10 bytes, larger than the limit of 9 bytes"), "%s", clgrad_last_error(NULL));
    ck_assert_int_eq(clgrad__file_read(at("big"), 10, 0, &b, &n), CLGRAD_OK);
    free(b);
}
END_TEST

START_TEST(read_of_a_missing_file_names_it)
{
    uint8_t *b = NULL;
    size_t n = 0;
    ck_assert_int_eq(clgrad__file_read(at("absent"), 100, 0, &b, &n), CLGRAD_ERR_IO);
    ck_assert_msg(has("absent: cannot open: No such file"), "%s", clgrad_last_error(NULL));
}
END_TEST

START_TEST(read_refuses_folders_and_fifos_without_blocking)
{
    uint8_t *b = NULL;
    size_t n = 0;
    ck_assert_int_eq(mkdir(at("sub"), 0700), 0);
    ck_assert_int_eq(clgrad__file_read(at("sub"), 100, 0, &b, &n), CLGRAD_ERR_IO);
    ck_assert_msg(has("sub: not a regular file"), "%s", clgrad_last_error(NULL));
    /* a FIFO with no writer: a blocking open would hang here (Check's timeout would fail it) */
    ck_assert_int_eq(mkfifo(at("fifo"), 0600), 0);
    ck_assert_int_eq(clgrad__file_read(at("fifo"), 100, 0, &b, &n), CLGRAD_ERR_IO);
    ck_assert_msg(has("fifo: not a regular file"), "%s", clgrad_last_error(NULL));
    ck_assert_ptr_null(b);
}
END_TEST

START_TEST(read_follows_links_unless_asked_not_to)
{
    put(at("target"), "x");
    ck_assert_int_eq(symlink(at("target"), at("link")), 0);
    uint8_t *b = NULL;
    size_t n = 0;
    ck_assert_int_eq(clgrad__file_read(at("link"), 100, 0, &b, &n), CLGRAD_OK);
    ck_assert_uint_eq(n, 1);
    free(b);
    ck_assert_int_eq(clgrad__file_read(at("link"), 100, CLGRAD__FILE_NOFOLLOW, &b, &n), CLGRAD_ERR_IO);
    ck_assert_msg(has("link: cannot open: it is a symbolic link"), "%s", clgrad_last_error(NULL));
}
END_TEST

/* The caches' own files: a file others may write, or another user's, is refused. */
START_TEST(owned_refuses_files_others_may_write_or_own)
{
    put(at("mine"), "x");
    ck_assert_int_eq(chmod(at("mine"), 0600), 0);
    uint8_t *b = NULL;
    size_t n = 0;
    ck_assert_int_eq(clgrad__file_read(at("mine"), 100, CLGRAD__FILE_OWNED, &b, &n), CLGRAD_OK);
    free(b);
    ck_assert_int_eq(chmod(at("mine"), 0620), 0);
    ck_assert_int_eq(clgrad__file_read(at("mine"), 100, CLGRAD__FILE_OWNED, &b, &n), CLGRAD_ERR_IO);
    ck_assert_msg(has("mine: not owned by this user, or writable by group or others"), "%s",
                  clgrad_last_error(NULL));
    ck_assert_int_eq(chmod(at("mine"), 0602), 0);
    ck_assert_int_eq(clgrad__file_read(at("mine"), 100, CLGRAD__FILE_OWNED, &b, &n), CLGRAD_ERR_IO);
    if (geteuid() == 0) { /* only root can give a file away */
        ck_assert_int_eq(chmod(at("mine"), 0644), 0);
        ck_assert_int_eq(chown(at("mine"), 65534, 65534), 0);
        ck_assert_int_eq(clgrad__file_read(at("mine"), 100, CLGRAD__FILE_OWNED, &b, &n), CLGRAD_ERR_IO);
        ck_assert_int_eq(clgrad__file_read(at("mine"), 100, 0, &b, &n), CLGRAD_OK);
        free(b);
    }
}
END_TEST

START_TEST(quiet_failures_leave_the_message_alone)
{
    clgrad__fail(NULL, CLGRAD_ERR_SHAPE, "earlier message");
    uint8_t *b = NULL;
    size_t n = 0;
    ck_assert_int_eq(clgrad__file_read(at("absent"), 100, CLGRAD__FILE_QUIET, &b, &n), CLGRAD_ERR_IO);
    ck_assert_int_eq(clgrad__file_write_atomic(at("no/such/dir"), CLGRAD__FILE_QUIET, "x", 1), CLGRAD_ERR_IO);
    ck_assert_str_eq(clgrad_last_error(NULL), "earlier message");
}
END_TEST

/* --- atomic replacement ------------------------------------------------------------------- */

static char *slurp(const char *path, size_t *n)
{
    uint8_t *b = NULL;
    ck_assert_int_eq(clgrad__file_read(path, 1 << 24, 0, &b, n), CLGRAD_OK);
    return (char *)b;
}

START_TEST(write_creates_and_replaces_with_mode_0600)
{
    mode_t old = umask(022);
    ck_assert_int_eq(clgrad__file_write_atomic(at("f"), 0, "first", 5), CLGRAD_OK);
    ck_assert_int_eq(clgrad__file_write_atomic(at("f"), 0, "second!", 7), CLGRAD_OK);
    umask(old);
    size_t n;
    char *t = slurp(at("f"), &n);
    ck_assert_uint_eq(n, 7);
    ck_assert_str_eq(t, "second!");
    free(t);
    struct stat sb;
    ck_assert_int_eq(stat(at("f"), &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(entries(), 1); /* no temporary file left */
}
END_TEST

START_TEST(keep_mode_keeps_the_replaced_file_mode)
{
    put(at("g"), "old");
    ck_assert_int_eq(chmod(at("g"), 0644), 0);
    mode_t old = umask(077); /* fchmod must not be narrowed by the umask */
    ck_assert_int_eq(clgrad__file_write_atomic(at("g"), CLGRAD__FILE_KEEP_MODE | CLGRAD__FILE_SYNC_DIR, "new", 3),
                     CLGRAD_OK);
    /* without an old file: 0600 */
    ck_assert_int_eq(clgrad__file_write_atomic(at("h"), CLGRAD__FILE_KEEP_MODE, "new", 3), CLGRAD_OK);
    umask(old);
    struct stat sb;
    ck_assert_int_eq(stat(at("g"), &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0644);
    ck_assert_int_eq(stat(at("h"), &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0600);
}
END_TEST

START_TEST(streamed_write_larger_than_the_buffer_round_trips)
{
    size_t total = 300000;
    char *want = malloc(total);
    for (size_t i = 0; i < total; i++) want[i] = (char)(i * 7 + i / 251);
    clgrad__atomic_file *f = NULL;
    ck_assert_int_eq(clgrad__atomic_open(at("s"), 0, &f), CLGRAD_OK);
    ck_assert_int_eq(entries(), 1); /* the temporary file, not yet the target */
    for (size_t off = 0, k = 1; off < total; off += k, k = k * 3 % 100003 + 1)
        ck_assert_int_eq(clgrad__atomic_write(f, want + off, off + k <= total ? k : total - off), CLGRAD_OK);
    ck_assert_int_eq(clgrad__atomic_commit(f), CLGRAD_OK);
    size_t n;
    char *got = slurp(at("s"), &n);
    ck_assert_uint_eq(n, total);
    ck_assert_int_eq(memcmp(got, want, total), 0);
    free(got);
    free(want);
    ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(failed_write_leaves_the_old_file_and_no_temporary)
{
    put(at("keep"), "precious");
    size_t n = 1 << 20;
    char *big = calloc(n, 1);
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 64 * 1024; /* stands in for a full disk */
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    clgrad_status s = clgrad__file_write_atomic(at("keep"), 0, big, n);
    setrlimit(RLIMIT_FSIZE, &old);
    free(big);
    ck_assert_int_eq(s, CLGRAD_ERR_IO);
    ck_assert_msg(has("keep: write failed"), "%s", clgrad_last_error(NULL));
    size_t m;
    char *t = slurp(at("keep"), &m);
    ck_assert_str_eq(t, "precious");
    free(t);
    ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(abort_and_failed_rename_remove_the_temporary)
{
    clgrad__atomic_file *f = NULL;
    ck_assert_int_eq(clgrad__atomic_open(at("never"), 0, &f), CLGRAD_OK);
    clgrad__atomic_write(f, "x", 1);
    clgrad__atomic_abort(f);
    ck_assert_int_eq(entries(), 0);
    ck_assert_int_eq(mkdir(at("folder"), 0700), 0);
    ck_assert_int_eq(mkdir(at("folder/inside"), 0700), 0);
    ck_assert_int_eq(clgrad__file_write_atomic(at("folder"), 0, "x", 1), CLGRAD_ERR_IO);
    ck_assert_msg(has("cannot rename"), "%s", clgrad_last_error(NULL));
    ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(write_into_a_missing_folder_is_a_clear_error)
{
    ck_assert_int_eq(clgrad__file_write_atomic(at("no/such/x"), 0, "x", 1), CLGRAD_ERR_IO);
    ck_assert_msg(has("cannot create the temporary file") && has("No such file"), "%s", clgrad_last_error(NULL));
    ck_assert_int_eq(clgrad__file_write_atomic("", 0, "x", 1), CLGRAD_ERR_INVALID_ARG);
}
END_TEST

static Suite *suite_core_file(void)
{
    Suite *s = suite_create("core_file");
    TCase *tc = tcase_create("read");
    tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_test(tc, read_returns_the_bytes_and_a_terminating_nul);
    tcase_add_test(tc, read_refuses_a_file_over_the_limit);
    tcase_add_test(tc, read_of_a_missing_file_names_it);
    tcase_add_test(tc, read_refuses_folders_and_fifos_without_blocking);
    tcase_add_test(tc, read_follows_links_unless_asked_not_to);
    tcase_add_test(tc, owned_refuses_files_others_may_write_or_own);
    tcase_add_test(tc, quiet_failures_leave_the_message_alone);
    suite_add_tcase(s, tc);
    tc = tcase_create("atomic_write");
    tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_test(tc, write_creates_and_replaces_with_mode_0600);
    tcase_add_test(tc, keep_mode_keeps_the_replaced_file_mode);
    tcase_add_test(tc, streamed_write_larger_than_the_buffer_round_trips);
    tcase_add_test(tc, failed_write_leaves_the_old_file_and_no_temporary);
    tcase_add_test(tc, abort_and_failed_rename_remove_the_temporary);
    tcase_add_test(tc, write_into_a_missing_folder_is_a_clear_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_core_file(), 0); }
