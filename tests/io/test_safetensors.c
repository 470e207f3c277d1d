/* Tests of the safetensors file layer (src/io/safetensors.c): round trips of every dtype
 * and metadata, the atomic writer leaving the previous file intact when a save fails, a
 * file written by the reference implementation, and crafted bad files, each of which must
 * give a clear error and return nothing. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "core/core.h"
#include "harness.h"
#include "io/io.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------- */

static char tmpdir[512];

static void tmpdir_setup(void) { th_tmpdir(tmpdir, sizeof tmpdir, "st"); }
static void tmpdir_teardown(void) { th_rmtree(tmpdir); }
static const char *tmp_path(const char *name) { return th_path(tmpdir, name); }

static int count_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* A file: the 8-byte length of json, json, then data_len bytes of data. */
static uint8_t *craft_len(uint64_t header_len, const char *json, size_t data_len, size_t *n)
{
    size_t jl = strlen(json);
    *n = 8 + jl + data_len;
    uint8_t *b = calloc(1, *n + 1);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(header_len >> (8 * i));
    memcpy(b + 8, json, jl);
    for (size_t i = 0; i < data_len; i++) b[8 + jl + i] = (uint8_t)i;
    return b;
}

static uint8_t *craft(const char *json, size_t data_len, size_t *n)
{
    return craft_len(strlen(json), json, data_len, n);
}

/* The bytes must be refused with status want and a message naming the file and holding
 * needle; nothing may be returned. */
static void expect_bad_(const uint8_t *b, size_t n, clgrad_status want, const char *needle,
                        int line)
{
    clgrad__st_file *f = (clgrad__st_file *)&f;
    clgrad_status s = clgrad__st_parse(b, n, "crafted.safetensors", &f);
    const char *msg = clgrad_last_error(NULL);
    ck_assert_msg(s == want, "line %d: got %s, want %s; message: %s", line, clgrad_status_name(s),
                  clgrad_status_name(want), msg);
    ck_assert_msg(f == NULL, "line %d: a file object came back from a bad file", line);
    ck_assert_msg(strstr(msg, "crafted.safetensors") != NULL, "line %d: message lacks the name: %s",
                  line, msg);
    ck_assert_msg(strstr(msg, needle) != NULL, "line %d: message lacks '%s': %s", line, needle, msg);
}
#define expect_bad(b, n, want, needle) expect_bad_((b), (n), (want), (needle), __LINE__)

static void expect_bad_json(const char *json, size_t data_len, clgrad_status want,
                            const char *needle, int line)
{
    size_t n;
    uint8_t *b = craft(json, data_len, &n);
    expect_bad_(b, n, want, needle, line);
    free(b);
}
#define EXPECT_BAD_JSON(json, data_len, want, needle)                                              \
    expect_bad_json((json), (data_len), (want), (needle), __LINE__)

/* A small checkpoint with every kind of entry this layer is asked for. */
static float w[2][3] = {{1.0f, -2.5f, 3.25f}, {0.0f, 1e-20f, -1e20f}};
static int32_t ids[4] = {1, -2, 2147483647, -2147483647 - 1};
static int64_t step = 123456789012345;
static uint8_t bytes_empty[1];
static double dd[2][2] = {{1e-300, -0.0}, {3.141592653589793, 1e300}};

static size_t sample_entries(clgrad__st_entry *e)
{
    memset(e, 0, 5 * sizeof *e);
    e[0] = (clgrad__st_entry){"fc.weight", CLGRAD__ST_F32, 2, {2, 3}, w, sizeof w};
    e[1] = (clgrad__st_entry){"ids", CLGRAD__ST_I32, 1, {4}, ids, sizeof ids};
    e[2] = (clgrad__st_entry){"step", CLGRAD__ST_I64, 0, {0}, &step, sizeof step};
    e[3] = (clgrad__st_entry){"empty", CLGRAD__ST_U8, 2, {0, 5}, bytes_empty, 0};
    e[4] = (clgrad__st_entry){"dd", CLGRAD__ST_F64, 2, {2, 2}, dd, sizeof dd};
    return 5;
}

static const clgrad__st_meta sample_meta[] = {
    {"epoch", "3"},
    {"step", "1200"},
    {"rng", "18446744073709551615"},
    {"lr", "0.001"},
    {"note", "quote \" backslash \\ tab \t h\xc3\xa9llo"},
};
#define N_META (sizeof sample_meta / sizeof sample_meta[0])

static void save_sample(const char *path)
{
    clgrad__st_entry e[5];
    size_t n = sample_entries(e);
    clgrad_status s = clgrad__st_save(path, e, n, sample_meta, N_META);
    ck_assert_msg(s == CLGRAD_OK, "%s", clgrad_last_error(NULL));
}

/* ---------------------------------------------------------------------------------------
 * clgrad__st_save + clgrad__st_load
 * ------------------------------------------------------------------------------------- */

START_TEST(save_then_load_round_trips_every_entry_and_metadata)
{
    const char *path = tmp_path("model.safetensors");
    save_sample(path);
    clgrad__st_file *f = NULL;
    ck_assert_msg(clgrad__st_load(path, &f) == CLGRAD_OK, "%s", clgrad_last_error(NULL));
    ck_assert_uint_eq(clgrad__st_count(f), 5);
    clgrad__st_entry e[5];
    size_t n = sample_entries(e);
    for (size_t i = 0; i < n; i++) {
        const clgrad__st_entry *g = clgrad__st_find(f, e[i].name);
        ck_assert_ptr_nonnull(g);
        ck_assert_str_eq(g->name, e[i].name);
        ck_assert_int_eq(g->dtype, e[i].dtype);
        ck_assert_int_eq(g->ndim, e[i].ndim);
        for (int d = 0; d < g->ndim; d++) ck_assert_int_eq(g->shape[d], e[i].shape[d]);
        ck_assert_uint_eq(g->nbytes, e[i].nbytes);
        if (g->nbytes) ck_assert_int_eq(memcmp(g->data, e[i].data, g->nbytes), 0); /* LE host */
    }
    ck_assert_ptr_null(clgrad__st_find(f, "absent"));
    /* Entries come sorted by name. */
    for (size_t i = 1; i < n; i++)
        ck_assert_int_lt(strcmp(clgrad__st_entry_at(f, i - 1)->name, clgrad__st_entry_at(f, i)->name), 0);
    ck_assert_ptr_null(clgrad__st_entry_at(f, n));
    ck_assert_uint_eq(clgrad__st_meta_count(f), N_META);
    for (size_t i = 0; i < N_META; i++)
        ck_assert_str_eq(clgrad__st_meta_get(f, sample_meta[i].key), sample_meta[i].value);
    ck_assert_ptr_null(clgrad__st_meta_get(f, "absent"));
    ck_assert_str_eq(clgrad__st_name(f), path);
    clgrad__st_free(f);
}
END_TEST

START_TEST(save_aligns_the_data_area_and_every_tensor)
{
    const char *path = tmp_path("aligned.safetensors");
    save_sample(path);
    size_t len;
    uint8_t *b = th_slurp(path, &len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | b[i];
    ck_assert_uint_eq((8 + hlen) % 8, 0);
    ck_assert_int_eq(b[8], '{');
    clgrad__st_file *f = NULL;
    ck_assert_int_eq(clgrad__st_parse(b, len, "aligned", &f), CLGRAD_OK);
    /* The data area starts at the lowest data pointer (some tensor begins at offset 0);
     * wider dtypes come first, so each tensor is aligned to its element size. */
    const uint8_t *base = NULL;
    for (size_t i = 0; i < clgrad__st_count(f); i++) {
        const uint8_t *p = clgrad__st_entry_at(f, i)->data;
        if (!base || p < base) base = p;
    }
    for (size_t i = 0; i < clgrad__st_count(f); i++) {
        const clgrad__st_entry *e = clgrad__st_entry_at(f, i);
        size_t off = (size_t)((const uint8_t *)e->data - base);
        ck_assert_msg(off % clgrad__st_dtype_size(e->dtype) == 0, "'%s' at offset %zu", e->name, off);
    }
    clgrad__st_free(f);
    free(b);
}
END_TEST

START_TEST(save_of_nothing_gives_a_valid_empty_file)
{
    const char *path = tmp_path("empty.safetensors");
    ck_assert_int_eq(clgrad__st_save(path, NULL, 0, NULL, 0), CLGRAD_OK);
    clgrad__st_file *f = NULL;
    ck_assert_int_eq(clgrad__st_load(path, &f), CLGRAD_OK);
    ck_assert_uint_eq(clgrad__st_count(f), 0);
    ck_assert_uint_eq(clgrad__st_meta_count(f), 0);
    clgrad__st_free(f);
}
END_TEST

START_TEST(save_replaces_an_existing_file)
{
    const char *path = tmp_path("ckpt.safetensors");
    save_sample(path);
    float one = 1.0f;
    clgrad__st_entry e = {"only", CLGRAD__ST_F32, 1, {1}, &one, 4};
    ck_assert_int_eq(clgrad__st_save(path, &e, 1, NULL, 0), CLGRAD_OK);
    clgrad__st_file *f = NULL;
    ck_assert_int_eq(clgrad__st_load(path, &f), CLGRAD_OK);
    ck_assert_uint_eq(clgrad__st_count(f), 1);
    clgrad__st_free(f);
    ck_assert_int_eq(count_dir_entries(tmpdir), 1); /* no temporary file left behind */
}
END_TEST

START_TEST(save_rejects_bad_entries_before_touching_the_disk)
{
    const char *path = tmp_path("bad.safetensors");
    float v[4] = {0};
    clgrad__st_entry two[2] = {{"a", CLGRAD__ST_F32, 1, {4}, v, 16}, {"a", CLGRAD__ST_F32, 1, {4}, v, 16}};
    ck_assert_int_eq(clgrad__st_save(path, two, 2, NULL, 0), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "'a' appears twice"));

    clgrad__st_entry e = {"x", CLGRAD__ST_F32, 2, {2, 2}, v, 12};
    ck_assert_int_eq(clgrad__st_save(path, &e, 1, NULL, 0), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "needs 16 bytes but nbytes is 12"));

    e = (clgrad__st_entry){"__metadata__", CLGRAD__ST_F32, 1, {4}, v, 16};
    ck_assert_int_eq(clgrad__st_save(path, &e, 1, NULL, 0), CLGRAD_ERR_INVALID_ARG);
    e = (clgrad__st_entry){"x", CLGRAD__ST_F32, 1, {4}, NULL, 16};
    ck_assert_int_eq(clgrad__st_save(path, &e, 1, NULL, 0), CLGRAD_ERR_INVALID_ARG);
    e = (clgrad__st_entry){"x", CLGRAD__ST_DTYPE_COUNT, 1, {4}, v, 16};
    ck_assert_int_eq(clgrad__st_save(path, &e, 1, NULL, 0), CLGRAD_ERR_INVALID_ARG);
    e = (clgrad__st_entry){"x", CLGRAD__ST_F32, 9, {4}, v, 16};
    ck_assert_int_eq(clgrad__st_save(path, &e, 1, NULL, 0), CLGRAD_ERR_INVALID_ARG);
    e = (clgrad__st_entry){"x", CLGRAD__ST_F32, 1, {-4}, v, 16};
    ck_assert_int_eq(clgrad__st_save(path, &e, 1, NULL, 0), CLGRAD_ERR_INVALID_ARG);
    e = (clgrad__st_entry){"bad\xff", CLGRAD__ST_F32, 1, {4}, v, 16};
    ck_assert_int_eq(clgrad__st_save(path, &e, 1, NULL, 0), CLGRAD_ERR_INVALID_ARG);
    clgrad__st_meta m[2] = {{"k", "1"}, {"k", "2"}};
    ck_assert_int_eq(clgrad__st_save(path, NULL, 0, m, 2), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "metadata key 'k' appears twice"));
    ck_assert_int_eq(clgrad__st_save(NULL, NULL, 0, NULL, 0), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(count_dir_entries(tmpdir), 0);
}
END_TEST

/* A write that fails half-way (the file-size limit stands in for a full disk) must leave
 * the previous checkpoint exactly as it was, and no temporary file. */
START_TEST(failed_save_midway_leaves_previous_file_intact)
{
    const char *path = tmp_path("ckpt.safetensors");
    save_sample(path);
    size_t before_len;
    uint8_t *before = th_slurp(path, &before_len);

    size_t n = 1 << 18;
    float *big = calloc(n, sizeof *big);
    clgrad__st_entry e = {"big", CLGRAD__ST_F32, 1, {(int64_t)n}, big, n * sizeof *big};
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    clgrad_status s = clgrad__st_save(path, &e, 1, sample_meta, N_META);
    setrlimit(RLIMIT_FSIZE, &old);
    ck_assert_int_eq(s, CLGRAD_ERR_IO);
    ck_assert_msg(strstr(clgrad_last_error(NULL), "write failed") != NULL, "%s",
                  clgrad_last_error(NULL));

    size_t after_len;
    uint8_t *after = th_slurp(path, &after_len);
    ck_assert_uint_eq(after_len, before_len);
    ck_assert_int_eq(memcmp(before, after, before_len), 0);
    ck_assert_int_eq(count_dir_entries(tmpdir), 1);
    clgrad__st_file *f = NULL;
    ck_assert_int_eq(clgrad__st_load(path, &f), CLGRAD_OK);
    clgrad__st_free(f);
    free(big);
    free(before);
    free(after);
}
END_TEST

START_TEST(failed_rename_removes_the_temporary_file)
{
    const char *path = tmp_path("a_folder");
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(mkdir(tmp_path("a_folder/inside"), 0755), 0);
    clgrad_status s = clgrad__st_save(path, NULL, 0, sample_meta, N_META);
    ck_assert_int_eq(s, CLGRAD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "cannot rename"));
    ck_assert_int_eq(count_dir_entries(tmpdir), 1);
}
END_TEST

START_TEST(save_into_a_missing_folder_is_a_clear_error)
{
    clgrad_status s = clgrad__st_save(tmp_path("no/such/folder/x.safetensors"), NULL, 0, NULL, 0);
    ck_assert_int_eq(s, CLGRAD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "cannot create the temporary file"));
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "No such file"));
}
END_TEST

START_TEST(load_of_a_missing_file_is_a_clear_error)
{
    clgrad__st_file *f = (clgrad__st_file *)&f;
    ck_assert_int_eq(clgrad__st_load(tmp_path("absent.safetensors"), &f), CLGRAD_ERR_IO);
    ck_assert_ptr_null(f);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "absent.safetensors: cannot open"));
}
END_TEST

/* Every proper prefix of a valid file must be refused, and nothing returned. */
START_TEST(load_refuses_every_truncation_of_a_valid_file)
{
    const char *path = tmp_path("full.safetensors");
    save_sample(path);
    size_t len;
    uint8_t *b = th_slurp(path, &len);
    for (size_t cut = 0; cut < len; cut++) {
        clgrad__st_file *f = (clgrad__st_file *)&f;
        clgrad_status s = clgrad__st_parse(b, cut, "cut", &f);
        ck_assert_msg(s != CLGRAD_OK && f == NULL, "a %zu-byte prefix of %zu loaded", cut, len);
    }
    th_spit(tmp_path("short.safetensors"), b, len - 1);
    clgrad__st_file *f = (clgrad__st_file *)&f;
    ck_assert_int_eq(clgrad__st_load(tmp_path("short.safetensors"), &f), CLGRAD_ERR_IO);
    ck_assert_ptr_null(f);
    free(b);
}
END_TEST

/* Flipping any single header byte may or may not leave a valid file, but must never crash
 * or return a file whose entries point outside it. */
START_TEST(load_survives_every_single_byte_corruption_of_the_header)
{
    const char *path = tmp_path("flip.safetensors");
    save_sample(path);
    size_t len;
    uint8_t *b = th_slurp(path, &len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | b[i];
    for (size_t i = 0; i < 8 + hlen; i++) {
        static const uint8_t flips[] = {0x01, 0x20, 0x80, 0xff};
        for (size_t k = 0; k < sizeof flips; k++) {
            b[i] ^= flips[k];
            clgrad__st_file *f = NULL;
            if (clgrad__st_parse(b, len, "flip", &f) == CLGRAD_OK) {
                for (size_t j = 0; j < clgrad__st_count(f); j++) {
                    const clgrad__st_entry *e = clgrad__st_entry_at(f, j);
                    size_t es = clgrad__st_dtype_size(e->dtype);
                    ck_assert_uint_ne(es, 0);
                    ck_assert_uint_le(e->nbytes, len);
                }
                clgrad__st_free(f);
            } else {
                ck_assert_ptr_null(f);
            }
            b[i] ^= flips[k];
        }
    }
    free(b);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * clgrad__st_parse: crafted bad files
 * ------------------------------------------------------------------------------------- */

START_TEST(parse_rejects_file_shorter_than_length_field)
{
    const uint8_t b[5] = {1, 0, 0, 0, 0};
    expect_bad(b, sizeof b, CLGRAD_ERR_IO, "too short for the 8-byte header length");
    expect_bad(b, 0, CLGRAD_ERR_IO, "too short");
}
END_TEST

START_TEST(parse_rejects_header_length_beyond_file)
{
    size_t n;
    uint8_t *b = craft_len(1000, "{}", 0, &n);
    expect_bad(b, n, CLGRAD_ERR_IO, "header length is 1000 bytes but only 2 bytes follow");
    free(b);
    b = craft_len(UINT64_MAX, "{}", 0, &n);
    expect_bad(b, n, CLGRAD_ERR_IO, "only 2 bytes follow");
    free(b);
    b = craft_len(1, "{}", 0, &n);
    expect_bad(b, n, CLGRAD_ERR_IO, "too short for JSON");
    free(b);
}
END_TEST

START_TEST(parse_rejects_bad_json)
{
    EXPECT_BAD_JSON("{\"a\": {\"dtype\": \"F32\", ", 0, CLGRAD_ERR_IO, "not valid JSON");
    EXPECT_BAD_JSON("{\"a\" 1}", 0, CLGRAD_ERR_IO, "not valid JSON");
    EXPECT_BAD_JSON("\x89PNG\r\n\x1a\n", 0, CLGRAD_ERR_IO, "not valid JSON");
    EXPECT_BAD_JSON("{} {}", 0, CLGRAD_ERR_IO, "unexpected bytes after the JSON header");
    size_t n;
    uint8_t *b = craft("{}      ", 0, &n);
    b[10] = '\0';
    expect_bad(b, n, CLGRAD_ERR_IO, "NUL byte");
    free(b);
}
END_TEST

START_TEST(parse_rejects_json_that_is_not_an_object)
{
    EXPECT_BAD_JSON("[1, 2]", 0, CLGRAD_ERR_IO, "not an object");
    EXPECT_BAD_JSON("\"text\"", 0, CLGRAD_ERR_IO, "not an object");
    EXPECT_BAD_JSON("42", 0, CLGRAD_ERR_IO, "not an object");
    EXPECT_BAD_JSON("{\"a\": [1]}", 0, CLGRAD_ERR_IO, "tensor 'a': not a JSON object");
}
END_TEST

START_TEST(parse_accepts_header_padded_with_spaces)
{
    size_t n;
    uint8_t *b = craft("{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}   \n", 3, &n);
    clgrad__st_file *f = NULL;
    ck_assert_msg(clgrad__st_parse(b, n, "pad", &f) == CLGRAD_OK, "%s", clgrad_last_error(NULL));
    ck_assert_uint_eq(clgrad__st_find(f, "a")->nbytes, 3);
    clgrad__st_free(f);
    free(b);
}
END_TEST

START_TEST(parse_rejects_unknown_dtype)
{
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                    CLGRAD_ERR_UNSUPPORTED, "tensor 'a': unknown dtype 'F33'");
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, CLGRAD_ERR_IO,
                    "non-string dtype");
    EXPECT_BAD_JSON("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, CLGRAD_ERR_IO,
                    "missing or non-string dtype");
}
END_TEST

START_TEST(parse_rejects_bad_shapes)
{
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                    CLGRAD_ERR_IO, "non-negative integer");
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
                    CLGRAD_ERR_IO, "non-negative integer");
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4,
                    CLGRAD_ERR_IO, "non-negative integer");
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4,
                    CLGRAD_ERR_IO, "non-array shape");
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
                    4, CLGRAD_ERR_UNSUPPORTED, "9 dimensions");
    /* 2^40 cubed overflows any size_t. */
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776,1099511627776],"
                    "\"data_offsets\":[0,4]}}", 4, CLGRAD_ERR_IO, "more than addressable");
}
END_TEST

START_TEST(parse_rejects_nbytes_that_do_not_match_the_shape)
{
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", 8,
                    CLGRAD_ERR_IO, "shape [2, 2] of F32 needs a different number of bytes but "
                    "data_offsets [0, 8] hold 8");
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,4]}}", 4,
                    CLGRAD_ERR_IO, "hold 4");
}
END_TEST

START_TEST(parse_rejects_offsets_outside_the_data_area)
{
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 3,
                    CLGRAD_ERR_IO, "data_offsets [0, 4] do not lie in the 3-byte data area");
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4,
                    CLGRAD_ERR_IO, "do not lie in");
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[18446744073709551615,"
                    "18446744073709551616]}}", 4, CLGRAD_ERR_IO, "pair of non-negative integers");
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1,
                    CLGRAD_ERR_IO, "pair of non-negative integers");
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1,
                    CLGRAD_ERR_IO, "pair of non-negative integers");
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, CLGRAD_ERR_IO,
                    "pair of non-negative integers");
}
END_TEST

START_TEST(parse_rejects_overlapping_offsets)
{
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                    "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", 6,
                    CLGRAD_ERR_IO, "tensor 'b' at [2, 6] overlaps tensor 'a'");
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                    "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
                    CLGRAD_ERR_IO, "overlaps");
}
END_TEST

START_TEST(parse_rejects_gaps_and_unclaimed_data)
{
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                    "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]}}", 5,
                    CLGRAD_ERR_IO, "bytes [2, 3) of the data area belong to no tensor");
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 7,
                    CLGRAD_ERR_IO, "the data area holds 7 bytes but the tensors cover 2");
}
END_TEST

START_TEST(parse_rejects_duplicate_names)
{
    EXPECT_BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                    "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4,
                    CLGRAD_ERR_IO, "tensor name 'a' appears twice");
    EXPECT_BAD_JSON("{\"__metadata__\":{\"k\":\"1\"},\"__metadata__\":{}}", 0, CLGRAD_ERR_IO,
                    "__metadata__ appears 2 times");
    EXPECT_BAD_JSON("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, CLGRAD_ERR_IO,
                    "metadata key 'k' appears twice");
}
END_TEST

START_TEST(parse_rejects_metadata_that_is_not_strings)
{
    EXPECT_BAD_JSON("{\"__metadata__\":{\"step\":5}}", 0, CLGRAD_ERR_IO,
                    "__metadata__ value of 'step' is not a string");
    EXPECT_BAD_JSON("{\"__metadata__\":[\"a\"]}", 0, CLGRAD_ERR_IO, "__metadata__ is not an object");
}
END_TEST

START_TEST(parse_rejects_foreign_files)
{
    /* An IDX file and a gzip header: the first 8 bytes make an absurd header length. */
    const uint8_t idx[] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3};
    expect_bad(idx, sizeof idx, CLGRAD_ERR_IO, "not a safetensors file");
    const uint8_t gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    expect_bad(gz, sizeof gz, CLGRAD_ERR_IO, "not a safetensors file");
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * A file written by the reference implementation (Python safetensors 0.8, save_file of
 * numpy arrays, metadata {"epoch": "3", "note": "h\u00e9llo \"q\""}).
 * ------------------------------------------------------------------------------------- */

static const unsigned char reference_file[] = {
  0x98, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7b, 0x22, 0x5f, 0x5f,
  0x6d, 0x65, 0x74, 0x61, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x5f, 0x22, 0x3a,
  0x7b, 0x22, 0x65, 0x70, 0x6f, 0x63, 0x68, 0x22, 0x3a, 0x22, 0x33, 0x22,
  0x2c, 0x22, 0x6e, 0x6f, 0x74, 0x65, 0x22, 0x3a, 0x22, 0x68, 0xc3, 0xa9,
  0x6c, 0x6c, 0x6f, 0x20, 0x5c, 0x22, 0x71, 0x5c, 0x22, 0x22, 0x7d, 0x2c,
  0x22, 0x73, 0x74, 0x65, 0x70, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79,
  0x70, 0x65, 0x22, 0x3a, 0x22, 0x49, 0x36, 0x34, 0x22, 0x2c, 0x22, 0x73,
  0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x5d, 0x2c, 0x22, 0x64, 0x61,
  0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a,
  0x5b, 0x30, 0x2c, 0x38, 0x5d, 0x7d, 0x2c, 0x22, 0x77, 0x36, 0x34, 0x22,
  0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x46,
  0x36, 0x34, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a,
  0x5b, 0x31, 0x2c, 0x32, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f,
  0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x38, 0x2c,
  0x32, 0x34, 0x5d, 0x7d, 0x2c, 0x22, 0x66, 0x63, 0x2e, 0x62, 0x69, 0x61,
  0x73, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a,
  0x22, 0x46, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65,
  0x22, 0x3a, 0x5b, 0x32, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f,
  0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x32, 0x34,
  0x2c, 0x33, 0x32, 0x5d, 0x7d, 0x2c, 0x22, 0x66, 0x63, 0x2e, 0x77, 0x65,
  0x69, 0x67, 0x68, 0x74, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70,
  0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68,
  0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x32, 0x2c, 0x33, 0x5d, 0x2c, 0x22,
  0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73,
  0x22, 0x3a, 0x5b, 0x33, 0x32, 0x2c, 0x35, 0x36, 0x5d, 0x7d, 0x2c, 0x22,
  0x69, 0x64, 0x73, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65,
  0x22, 0x3a, 0x22, 0x49, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61,
  0x70, 0x65, 0x22, 0x3a, 0x5b, 0x33, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74,
  0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b,
  0x35, 0x36, 0x2c, 0x36, 0x38, 0x5d, 0x7d, 0x2c, 0x22, 0x6d, 0x61, 0x73,
  0x6b, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a,
  0x22, 0x55, 0x38, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22,
  0x3a, 0x5b, 0x32, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f,
  0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x36, 0x38, 0x2c,
  0x37, 0x30, 0x5d, 0x7d, 0x7d, 0x20, 0x20, 0x20, 0x07, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x59, 0xf3, 0xf8, 0xc2, 0x1f, 0x6e, 0xa5, 0x01,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0xc0, 0x00, 0x00, 0xc0, 0xbf,
  0x00, 0x00, 0x10, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x3e,
  0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x40, 0x3f, 0x00, 0x00, 0x80, 0x3f,
  0x00, 0x00, 0xa0, 0x3f, 0x01, 0x00, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff,
  0x03, 0x00, 0x00, 0x00, 0x00, 0xff
};


START_TEST(parse_reads_a_file_written_by_the_reference_implementation)
{
    clgrad__st_file *f = NULL;
    ck_assert_msg(clgrad__st_parse(reference_file, sizeof reference_file, "reference", &f) ==
                      CLGRAD_OK, "%s", clgrad_last_error(NULL));
    ck_assert_uint_eq(clgrad__st_count(f), 6);
    float wt[2][3], b[2];
    int64_t shape23[2] = {2, 3}, shape2[1] = {2}, shape3[1] = {3}, shape12[2] = {1, 2};
    ck_assert_int_eq(clgrad__st_read(f, "fc.weight", CLGRAD__ST_F32, 2, shape23, wt, sizeof wt), CLGRAD_OK);
    for (int i = 0; i < 6; i++) ck_assert_float_eq((&wt[0][0])[i], (float)i / 4);
    ck_assert_int_eq(clgrad__st_read(f, "fc.bias", CLGRAD__ST_F32, 1, shape2, b, sizeof b), CLGRAD_OK);
    ck_assert_float_eq(b[0], -1.5f);
    ck_assert_float_eq(b[1], 2.25f);
    int64_t st;
    ck_assert_int_eq(clgrad__st_read(f, "step", CLGRAD__ST_I64, 0, NULL, &st, sizeof st), CLGRAD_OK);
    ck_assert_int_eq(st, 7);
    int32_t id[3];
    ck_assert_int_eq(clgrad__st_read(f, "ids", CLGRAD__ST_I32, 1, shape3, id, sizeof id), CLGRAD_OK);
    ck_assert_int_eq(id[1], -2);
    uint8_t mask[2];
    ck_assert_int_eq(clgrad__st_read(f, "mask", CLGRAD__ST_U8, 1, shape2, mask, sizeof mask), CLGRAD_OK);
    ck_assert_uint_eq(mask[1], 255);
    double w64[2];
    ck_assert_int_eq(clgrad__st_read(f, "w64", CLGRAD__ST_F64, 2, shape12, w64, sizeof w64), CLGRAD_OK);
    ck_assert_double_eq(w64[0], 1e-300);
    ck_assert_double_eq(w64[1], -3.0);
    ck_assert_str_eq(clgrad__st_meta_get(f, "epoch"), "3");
    ck_assert_str_eq(clgrad__st_meta_get(f, "note"), "h\xc3\xa9llo \"q\"");
    clgrad__st_free(f);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * clgrad__st_read
 * ------------------------------------------------------------------------------------- */

START_TEST(read_copies_a_tensor_after_checking_dtype_and_shape)
{
    const char *path = tmp_path("r.safetensors");
    save_sample(path);
    clgrad__st_file *f = NULL;
    ck_assert_int_eq(clgrad__st_load(path, &f), CLGRAD_OK);
    float got[2][3];
    int64_t shape[2] = {2, 3};
    ck_assert_int_eq(clgrad__st_read(f, "fc.weight", CLGRAD__ST_F32, 2, shape, got, sizeof got), CLGRAD_OK);
    ck_assert_int_eq(memcmp(got, w, sizeof w), 0);
    int64_t s;
    ck_assert_int_eq(clgrad__st_read(f, "step", CLGRAD__ST_I64, 0, NULL, &s, sizeof s), CLGRAD_OK);
    ck_assert_int_eq(s, step);
    int64_t e_shape[2] = {0, 5};
    ck_assert_int_eq(clgrad__st_read(f, "empty", CLGRAD__ST_U8, 2, e_shape, NULL, 0), CLGRAD_OK);
    clgrad__st_free(f);
}
END_TEST

START_TEST(read_names_both_shapes_on_mismatch_and_writes_nothing)
{
    const char *path = tmp_path("r.safetensors");
    save_sample(path);
    clgrad__st_file *f = NULL;
    ck_assert_int_eq(clgrad__st_load(path, &f), CLGRAD_OK);
    float got[6] = {7, 7, 7, 7, 7, 7};
    int64_t wrong[2] = {3, 2};
    ck_assert_int_eq(clgrad__st_read(f, "fc.weight", CLGRAD__ST_F32, 2, wrong, got, sizeof got), CLGRAD_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "tensor 'fc.weight' has shape [2, 3], expected [3, 2]"));
    ck_assert_float_eq(got[0], 7.0f);
    int64_t right[2] = {2, 3};
    ck_assert_int_eq(clgrad__st_read(f, "fc.weight", CLGRAD__ST_F64, 2, right, got, sizeof got), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "is F32, expected F64"));
    ck_assert_int_eq(clgrad__st_read(f, "fc.weight", CLGRAD__ST_F32, 2, right, got, 20), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad__st_read(f, "fc.bias", CLGRAD__ST_F32, 2, right, got, sizeof got), CLGRAD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "has no tensor 'fc.bias'"));
    ck_assert_float_eq(got[0], 7.0f);
    clgrad__st_free(f);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * metadata helpers
 * ------------------------------------------------------------------------------------- */

START_TEST(meta_numbers_parse_strictly)
{
    char big[32], neg[32], dbl[40];
    snprintf(big, sizeof big, "%llu", (unsigned long long)UINT64_MAX);
    snprintf(neg, sizeof neg, "%lld", (long long)INT64_MIN);
    snprintf(dbl, sizeof dbl, "%.17g", 0.1 + 0.2);
    clgrad__st_meta m[] = {{"u", big}, {"i", neg}, {"d", dbl}, {"junk", "12x"}, {"empty", ""},
                           {"space", " 1"}, {"minus", "-1"}, {"over", "99999999999999999999"}};
    const char *path = tmp_path("m.safetensors");
    ck_assert_int_eq(clgrad__st_save(path, NULL, 0, m, sizeof m / sizeof m[0]), CLGRAD_OK);
    clgrad__st_file *f = NULL;
    ck_assert_int_eq(clgrad__st_load(path, &f), CLGRAD_OK);
    uint64_t u = 0;
    int64_t i = 0;
    double d = 0;
    ck_assert_int_eq(clgrad__st_meta_get_u64(f, "u", &u), CLGRAD_OK);
    ck_assert(u == UINT64_MAX);
    ck_assert_int_eq(clgrad__st_meta_get_i64(f, "i", &i), CLGRAD_OK);
    ck_assert(i == INT64_MIN);
    ck_assert_int_eq(clgrad__st_meta_get_f64(f, "d", &d), CLGRAD_OK);
    ck_assert(d == 0.1 + 0.2);
    ck_assert_int_eq(clgrad__st_meta_get_i64(f, "minus", &i), CLGRAD_OK);
    ck_assert_int_eq(i, -1);
    ck_assert_int_eq(clgrad__st_meta_get_u64(f, "minus", &u), CLGRAD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "'minus' = '-1' is not a non-negative integer"));
    ck_assert_int_eq(clgrad__st_meta_get_i64(f, "junk", &i), CLGRAD_ERR_IO);
    ck_assert_int_eq(clgrad__st_meta_get_i64(f, "empty", &i), CLGRAD_ERR_IO);
    ck_assert_int_eq(clgrad__st_meta_get_i64(f, "space", &i), CLGRAD_ERR_IO);
    ck_assert_int_eq(clgrad__st_meta_get_u64(f, "over", &u), CLGRAD_ERR_IO);
    ck_assert_int_eq(clgrad__st_meta_get_f64(f, "junk", &d), CLGRAD_ERR_IO);
    ck_assert_int_eq(clgrad__st_meta_get_i64(f, "absent", &i), CLGRAD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "no metadata 'absent'"));
    ck_assert_int_eq(i, -1); /* untouched by the failures */
    clgrad__st_free(f);
}
END_TEST

/* ---------------------------------------------------------------------------------------
 * Suite
 * ------------------------------------------------------------------------------------- */

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_set_timeout(tc, 60);
    return tc;
}

Suite *suite_io_safetensors(void);

Suite *suite_io_safetensors(void)
{
    Suite *s = suite_create("io_safetensors");
    TCase *tc = tcase("st_save");
    tcase_add_test(tc, save_then_load_round_trips_every_entry_and_metadata);
    tcase_add_test(tc, save_aligns_the_data_area_and_every_tensor);
    tcase_add_test(tc, save_of_nothing_gives_a_valid_empty_file);
    tcase_add_test(tc, save_replaces_an_existing_file);
    tcase_add_test(tc, save_rejects_bad_entries_before_touching_the_disk);
    tcase_add_test(tc, failed_save_midway_leaves_previous_file_intact);
    tcase_add_test(tc, failed_rename_removes_the_temporary_file);
    tcase_add_test(tc, save_into_a_missing_folder_is_a_clear_error);
    suite_add_tcase(s, tc);

    tc = tcase("st_load");
    tcase_add_test(tc, load_of_a_missing_file_is_a_clear_error);
    tcase_add_test(tc, load_refuses_every_truncation_of_a_valid_file);
    tcase_add_test(tc, load_survives_every_single_byte_corruption_of_the_header);
    suite_add_tcase(s, tc);

    tc = tcase("st_parse");
    tcase_add_test(tc, parse_rejects_file_shorter_than_length_field);
    tcase_add_test(tc, parse_rejects_header_length_beyond_file);
    tcase_add_test(tc, parse_rejects_bad_json);
    tcase_add_test(tc, parse_rejects_json_that_is_not_an_object);
    tcase_add_test(tc, parse_accepts_header_padded_with_spaces);
    tcase_add_test(tc, parse_rejects_unknown_dtype);
    tcase_add_test(tc, parse_rejects_bad_shapes);
    tcase_add_test(tc, parse_rejects_nbytes_that_do_not_match_the_shape);
    tcase_add_test(tc, parse_rejects_offsets_outside_the_data_area);
    tcase_add_test(tc, parse_rejects_overlapping_offsets);
    tcase_add_test(tc, parse_rejects_gaps_and_unclaimed_data);
    tcase_add_test(tc, parse_rejects_duplicate_names);
    tcase_add_test(tc, parse_rejects_metadata_that_is_not_strings);
    tcase_add_test(tc, parse_rejects_foreign_files);
    tcase_add_test(tc, parse_reads_a_file_written_by_the_reference_implementation);
    suite_add_tcase(s, tc);

    tc = tcase("st_read");
    tcase_add_test(tc, read_copies_a_tensor_after_checking_dtype_and_shape);
    tcase_add_test(tc, read_names_both_shapes_on_mismatch_and_writes_nothing);
    suite_add_tcase(s, tc);

    tc = tcase("st_meta_get");
    tcase_add_test(tc, meta_numbers_parse_strictly);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite_io_safetensors());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
