/* Tests of the CSV reader (src/io/csv.c) and of the datasets over float samples and the
 * statistics added for them (src/io/dataset.c): delimiters, quotes, headers, gzip, numbers
 * in any locale, ragged and broken files (each a clear error naming the line); float
 * datasets with labels or targets, non-finite values refused, per-channel statistics and
 * normalisation against plain-C references, the label range and histogram, chronological
 * slices, channels-last IDX images. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "core/core.h"
#include "io/io.h"

#include <check.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char tmpl[512];

static const char *write_tmp(const char *text)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpl, sizeof tmpl, "%s/clgrad-csv-XXXXXX", base && *base ? base : "/tmp");
    int fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    size_t n = strlen(text);
    ck_assert_int_eq((long)write(fd, text, n), (long)n);
    close(fd);
    return tmpl;
}

static clgrad_csv *load_text(const char *text, const clgrad_csv_opts *o)
{
    clgrad_csv *t = NULL;
    clgrad_status s = clgrad_csv_load(write_tmp(text), o, &t);
    unlink(tmpl);
    ck_assert_msg(s == CLGRAD_OK, "load failed: %s", clgrad_last_error(NULL));
    return t;
}

/* Loading must fail with CLGRAD_ERR_IO and a message holding want. */
static void load_fails(const char *text, const clgrad_csv_opts *o, const char *want)
{
    clgrad_csv *t = NULL;
    clgrad_status s = clgrad_csv_load(write_tmp(text), o, &t);
    unlink(tmpl);
    ck_assert_int_eq(s, CLGRAD_ERR_IO);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(clgrad_last_error(NULL), want), "message '%s' lacks '%s'", clgrad_last_error(NULL), want);
}

START_TEST(reads_a_header_quotes_and_numbers)
{
    clgrad_csv *t = load_text("name,\"x, y\",label\r\n\"a \"\"b\"\"\", 1.5 ,cat\r\nc,-2e3,dog\r\n\r\n", NULL);
    ck_assert_int_eq(clgrad_csv_rows(t), 2);
    ck_assert_int_eq(clgrad_csv_cols(t), 3);
    ck_assert_str_eq(clgrad_csv_name(t, 1), "x, y");
    ck_assert_str_eq(clgrad_csv_cell(t, 0, 0), "a \"b\"");
    ck_assert_int_eq(clgrad_csv_find(t, "label"), 2);
    ck_assert_int_eq(clgrad_csv_find(t, "-1"), 2);
    ck_assert_int_eq(clgrad_csv_find(t, "0"), 0);
    ck_assert_int_eq(clgrad_csv_find(t, "nope"), -1);
    ck_assert_int_eq(clgrad_csv_find(t, "3"), -1);
    double v = 0;
    ck_assert_int_eq(clgrad_csv_number(t, 0, 1, &v), CLGRAD_CSV_NUMBER);
    ck_assert(v == 1.5);
    ck_assert_int_eq(clgrad_csv_number(t, 1, 1, &v), CLGRAD_CSV_NUMBER);
    ck_assert(v == -2000.0);
    ck_assert_int_eq(clgrad_csv_number(t, 1, 2, &v), CLGRAD_CSV_TEXT);
    ck_assert_int_eq(clgrad_csv_line(t, 1), 3);
    ck_assert_str_eq(clgrad_csv_cell(t, 5, 0), "");
    clgrad_csv_release(t);
}
END_TEST

START_TEST(detects_delimiters_and_headers)
{
    clgrad_csv *t = load_text("1;2;3\n4;5;6\n", NULL);
    ck_assert_int_eq(clgrad_csv_cols(t), 3);
    ck_assert_int_eq(clgrad_csv_rows(t), 2); /* all numbers: no header */
    ck_assert_ptr_null(clgrad_csv_name(t, 0));
    clgrad_csv_release(t);
    t = load_text("  59 2 32.1\n48  1\t21.6 \n", NULL); /* runs of spaces and tabs */
    ck_assert_int_eq(clgrad_csv_cols(t), 3);
    ck_assert_str_eq(clgrad_csv_cell(t, 1, 2), "21.6");
    clgrad_csv_release(t);
    t = load_text("a\tb\n1\t2\n", NULL);
    ck_assert_int_eq(clgrad_csv_cols(t), 2);
    ck_assert_str_eq(clgrad_csv_name(t, 1), "b");
    clgrad_csv_release(t);
    clgrad_csv_opts o = {.header = CLGRAD_CSV_HEADER_NO};
    t = load_text("a,b\n1,2\n", &o);
    ck_assert_int_eq(clgrad_csv_rows(t), 2);
    clgrad_csv_release(t);
    /* skip_lines: a note above the real table (as in scikit-learn's files). */
    clgrad_csv_opts sk = {.skip_lines = 1};
    t = load_text("150,4,setosa\n5.1,3.5,0\n4.9,3.0,1\n", &sk);
    ck_assert_int_eq(clgrad_csv_rows(t), 2);
    ck_assert_int_eq(clgrad_csv_line(t, 0), 2);
    clgrad_csv_release(t);
}
END_TEST

START_TEST(classifies_missing_and_non_finite_cells)
{
    clgrad_csv *t = load_text("a,b,c,d,e,f,g\n1,,NA,nan,-inf,1e999,abc\n", NULL);
    double v;
    ck_assert_int_eq(clgrad_csv_number(t, 0, 0, &v), CLGRAD_CSV_NUMBER);
    ck_assert_int_eq(clgrad_csv_number(t, 0, 1, &v), CLGRAD_CSV_MISSING);
    ck_assert_int_eq(clgrad_csv_number(t, 0, 2, &v), CLGRAD_CSV_MISSING);
    ck_assert_int_eq(clgrad_csv_number(t, 0, 3, &v), CLGRAD_CSV_NONFINITE);
    ck_assert_int_eq(clgrad_csv_number(t, 0, 4, &v), CLGRAD_CSV_NONFINITE);
    ck_assert_int_eq(clgrad_csv_number(t, 0, 5, &v), CLGRAD_CSV_NONFINITE);
    ck_assert_int_eq(clgrad_csv_number(t, 0, 6, &v), CLGRAD_CSV_TEXT);
    clgrad_csv_release(t);
}
END_TEST

/* A locale whose decimal point is ',': an installed one, else one made with localedef in a
 * temporary folder (LOCPATH); NULL when neither works. */
static char made_dir[512];

static const char *comma_locale(void)
{
    const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", NULL};
    for (int i = 0; names[i]; i++)
        if (setlocale(LC_NUMERIC, names[i]) && localeconv()->decimal_point[0] == ',') return names[i];
    static char dir[512];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/clgrad-locale-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) return NULL;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8' >/dev/null 2>&1", dir);
    if (system(cmd) != 0) return NULL;
    setenv("LOCPATH", dir, 1);
    snprintf(made_dir, sizeof made_dir, "%s", dir);
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") && localeconv()->decimal_point[0] == ',') return "de_DE.UTF-8";
    return NULL;
}

START_TEST(numbers_ignore_the_locale)
{
    const char *loc = comma_locale();
    if (!loc) fprintf(stderr, "numbers_ignore_the_locale: no locale with a decimal comma; the C locale only\n");
    else ck_assert(strtod("2.5", NULL) != 2.5); /* the locale is in force: strtod stops at '.' */
    clgrad_csv *t = load_text("x,y\n2.5,-1.25e1\n", NULL);
    double v = 0;
    ck_assert_int_eq(clgrad_csv_number(t, 0, 0, &v), CLGRAD_CSV_NUMBER);
    ck_assert(v == 2.5);
    ck_assert_int_eq(clgrad_csv_number(t, 0, 1, &v), CLGRAD_CSV_NUMBER);
    ck_assert(v == -12.5);
    clgrad_csv_release(t);
    setlocale(LC_NUMERIC, "C");
    if (made_dir[0]) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", made_dir);
        ck_assert_int_eq(system(cmd), 0);
    }
}
END_TEST

START_TEST(reads_gzip_files)
{
    const char *base = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/clgrad-csv-gz-%d.csv.gz", base && *base ? base : "/tmp", (int)getpid());
    gzFile g = gzopen(path, "wb");
    ck_assert_ptr_nonnull(g);
    gzputs(g, "a,b\n1,2\n3,4\n");
    gzclose(g);
    clgrad_csv *t = NULL;
    ck_assert_int_eq(clgrad_csv_load(path, NULL, &t), CLGRAD_OK);
    ck_assert_int_eq(clgrad_csv_rows(t), 2);
    ck_assert_str_eq(clgrad_csv_cell(t, 1, 1), "4");
    clgrad_csv_release(t);
    unlink(path);
}
END_TEST

START_TEST(broken_files_are_clear_errors)
{
    load_fails("a,b\n1,2\n3\n", NULL, "line 3 has 1 fields but line 1 has 2");
    load_fails("569,30,x\n1,2,3,4\n5,6,7,8\n", NULL, "skip it");
    load_fails("a,b\n\"open,2\n", NULL, "not closed");
    load_fails("a,b\n\"x\"y,2\n", NULL, "after the closing quote");
    load_fails("", NULL, "no rows");
    load_fails("\n\n  \n", NULL, "no rows");
    load_fails("a,b\n", NULL, "a header and no data");
    clgrad_csv *t = NULL;
    ck_assert_int_eq(clgrad_csv_load("/nonexistent/x.csv", NULL, &t), CLGRAD_ERR_IO);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "/nonexistent/x.csv"));
    ck_assert_int_eq(clgrad_csv_load(NULL, NULL, &t), CLGRAD_ERR_INVALID_ARG);
    char bin[] = "a,b\n1,2\n";
    bin[5] = '\0';
    FILE *f = fopen(write_tmp("x"), "wb");
    fwrite(bin, 1, sizeof bin - 1, f);
    fclose(f);
    ck_assert_int_eq(clgrad_csv_load(tmpl, NULL, &t), CLGRAD_ERR_IO);
    unlink(tmpl);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "NUL"));
}
END_TEST

/* --- float datasets -------------------------------------------------------------------- */

START_TEST(float_dataset_batches_labels_and_targets)
{
    const float x[6] = {1, 2, 3, 4, 5, 6};
    const int32_t y[3] = {2, 0, 2};
    const float tg[6] = {10, 11, 20, 21, 30, 31};
    int64_t shape[1] = {2};
    clgrad_dataset *c = NULL, *r = NULL;
    ck_assert_int_eq(clgrad_dataset_from_floats(3, 1, shape, x, y, 0, NULL, &c), CLGRAD_OK);
    ck_assert_int_eq(clgrad_dataset_from_floats(3, 1, shape, x, NULL, 2, tg, &r), CLGRAD_OK);
    ck_assert_int_eq(clgrad_dataset_n_classes(c), 3);
    ck_assert_int_eq(clgrad_dataset_n_targets(c), 0);
    ck_assert_int_eq(clgrad_dataset_n_targets(r), 2);
    float xb[6], tb[6];
    int32_t yb[3];
    int64_t n;
    ck_assert_int_eq(clgrad_dataset_batch(c, 0, 3, xb, yb, &n), CLGRAD_OK);
    ck_assert_int_eq(n, 3);
    ck_assert(xb[5] == 6 && yb[0] == 2 && yb[1] == 0);
    ck_assert_int_eq(clgrad_dataset_batch_targets(r, 1, 2, xb, tb, &n), CLGRAD_OK);
    ck_assert_int_eq(n, 1);
    ck_assert(xb[0] == 5 && tb[0] == 30 && tb[1] == 31);
    /* The wrong getter for the kind is an error, not garbage. */
    ck_assert_int_eq(clgrad_dataset_batch(r, 0, 3, xb, yb, &n), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_dataset_batch_targets(c, 0, 3, xb, tb, &n), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_dataset_label_stats(r, NULL, NULL, NULL, 0), CLGRAD_ERR_INVALID_ARG);
    clgrad_dataset_release(c);
    clgrad_dataset_release(r);
}
END_TEST

START_TEST(float_dataset_refuses_bad_values_naming_the_sample)
{
    float x[4] = {1, 2, NAN, 4};
    int32_t y[2] = {0, 1};
    int64_t shape[1] = {2};
    clgrad_dataset *d = NULL;
    ck_assert_int_eq(clgrad_dataset_from_floats(2, 1, shape, x, y, 0, NULL, &d), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(d);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "value 0 of sample 1"));
    x[2] = 3;
    y[1] = -1;
    ck_assert_int_eq(clgrad_dataset_from_floats(2, 1, shape, x, y, 0, NULL, &d), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(NULL), "negative"));
    float t[2] = {1, INFINITY};
    ck_assert_int_eq(clgrad_dataset_from_floats(2, 1, shape, x, NULL, 1, t, &d), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_dataset_from_floats(2, 1, shape, x, y, 1, t, &d), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_dataset_from_floats(2, 1, shape, x, NULL, 0, NULL, &d), CLGRAD_ERR_INVALID_ARG);
}
END_TEST

START_TEST(label_stats_report_range_and_histogram_of_the_split)
{
    float x[6] = {0};
    int32_t y[6] = {0, 3, 3, 1, 3, 0}; /* class 2 absent */
    int64_t shape[1] = {1};
    clgrad_dataset *d = NULL, *a = NULL, *b = NULL;
    ck_assert_int_eq(clgrad_dataset_from_floats(6, 1, shape, x, y, 0, NULL, &d), CLGRAD_OK);
    int64_t counts[5];
    int32_t lo, hi;
    ck_assert_int_eq(clgrad_dataset_label_stats(d, &lo, &hi, counts, 5), CLGRAD_OK);
    ck_assert_int_eq(lo, 0);
    ck_assert_int_eq(hi, 3);
    ck_assert(counts[0] == 2 && counts[1] == 1 && counts[2] == 0 && counts[3] == 3 && counts[4] == 0);
    ck_assert_int_eq(clgrad_dataset_slice(d, 1, 3, &a), CLGRAD_OK); /* labels 3, 3, 1 */
    ck_assert_int_eq(clgrad_dataset_label_stats(a, &lo, &hi, counts, 2), CLGRAD_OK);
    ck_assert(lo == 1 && hi == 3 && counts[0] == 0 && counts[1] == 1);
    ck_assert_int_eq(clgrad_dataset_sample_id(a, 0), 1);
    ck_assert_int_eq(clgrad_dataset_sample_id(a, 3), -1);
    ck_assert_int_eq(clgrad_dataset_slice(d, 4, 3, &b), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_null(b);
    clgrad_dataset_release(a);
    clgrad_dataset_release(d);
}
END_TEST

START_TEST(channel_stats_and_normalisation_match_a_reference)
{
    /* 4 samples of (T = 3, F = 2): statistics per feature (axis -1). */
    float x[24];
    for (int i = 0; i < 24; i++) x[i] = (float)((i * 37) % 11) + (i % 2 ? 1000.0f : 0.0f);
    int64_t shape[2] = {3, 2};
    float t[4] = {0, 1, 2, 3};
    clgrad_dataset *d = NULL;
    ck_assert_int_eq(clgrad_dataset_from_floats(4, 2, shape, x, NULL, 1, t, &d), CLGRAD_OK);
    double mean[2], std[2], mn[2], mx[2];
    ck_assert_int_eq(clgrad_dataset_channel_stats(d, -1, mean, std, mn, mx), CLGRAD_OK);
    for (int c = 0; c < 2; c++) {
        double s = 0, q = 0, lo = INFINITY, hi = -INFINITY;
        for (int i = c; i < 24; i += 2) s += x[i], lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
        s /= 12;
        for (int i = c; i < 24; i += 2) q += (x[i] - s) * (x[i] - s);
        ck_assert_double_eq_tol(mean[c], s, 1e-9);
        ck_assert_double_eq_tol(std[c], sqrt(q / 12), 1e-9);
        ck_assert(mn[c] == lo && mx[c] == hi);
    }
    float m[2] = {(float)mean[0], (float)mean[1]}, sd[2] = {(float)std[0], (float)std[1]};
    ck_assert_int_eq(clgrad_dataset_set_normalization(d, -1, 2, m, sd), CLGRAD_OK);
    float xb[24], tb[4];
    int64_t n;
    ck_assert_int_eq(clgrad_dataset_batch_targets(d, 0, 4, xb, tb, &n), CLGRAD_OK);
    for (int i = 0; i < 24; i++) ck_assert_float_eq(xb[i], (x[i] - m[i % 2]) / sd[i % 2]);
    ck_assert(tb[3] == 3); /* targets are not normalised */
    /* Bad channel counts, axes and values. */
    ck_assert_int_eq(clgrad_dataset_set_normalization(d, 0, 2, m, sd), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_dataset_set_normalization(d, 2, 2, m, sd), CLGRAD_ERR_INVALID_ARG);
    sd[1] = 0;
    ck_assert_int_eq(clgrad_dataset_set_normalization(d, -1, 2, m, sd), CLGRAD_ERR_INVALID_ARG);
    clgrad_dataset_release(d);
}
END_TEST

/* An IDX file in memory: type 0x08, the given dims, then bytes. */
static const char *write_idx(int ndim, const int *dims, const uint8_t *data, size_t n, const char *suffix)
{
    static char path[2][512];
    static int k;
    k ^= 1;
    const char *base = getenv("TMPDIR");
    snprintf(path[k], sizeof path[k], "%s/clgrad-csv-idx-%d-%s", base && *base ? base : "/tmp", (int)getpid(), suffix);
    FILE *f = fopen(path[k], "wb");
    ck_assert_ptr_nonnull(f);
    uint8_t hdr[4] = {0, 0, 0x08, (uint8_t)ndim};
    fwrite(hdr, 1, 4, f);
    for (int i = 0; i < ndim; i++) {
        uint8_t b[4] = {(uint8_t)(dims[i] >> 24), (uint8_t)(dims[i] >> 16), (uint8_t)(dims[i] >> 8), (uint8_t)dims[i]};
        fwrite(b, 1, 4, f);
    }
    fwrite(data, 1, n, f);
    fclose(f);
    return path[k];
}

START_TEST(channels_last_images_are_batched_channels_first_and_normalised_per_channel)
{
    /* 2 images of 2 x 3 pixels x 3 channels (N x H x W x C); pixel value = 100 c + 10 p + i. */
    uint8_t px[36];
    for (int i = 0; i < 2; i++)
        for (int p = 0; p < 6; p++)
            for (int c = 0; c < 3; c++) px[i * 18 + p * 3 + c] = (uint8_t)(50 * c + 5 * p + i);
    int dims[4] = {2, 2, 3, 3}, ldims[1] = {2};
    uint8_t labels[2] = {1, 0};
    const char *img = write_idx(4, dims, px, sizeof px, "img");
    const char *lab = write_idx(1, ldims, labels, 2, "lab");
    clgrad_dataset_opts o = {.channels_last = 1};
    clgrad_dataset *d = NULL;
    ck_assert_int_eq(clgrad_dataset_load_idx(img, lab, &o, &d), CLGRAD_OK);
    int64_t shape[8];
    ck_assert_int_eq(clgrad_dataset_sample_shape(d, shape), 3);
    ck_assert(shape[0] == 3 && shape[1] == 2 && shape[2] == 3);
    double mean[3], std[3];
    ck_assert_int_eq(clgrad_dataset_channel_stats(d, 0, mean, std, NULL, NULL), CLGRAD_OK);
    for (int c = 0; c < 3; c++) { /* mean over p and i of 50c + 5p + i, / 255 */
        ck_assert_double_eq_tol(mean[c] * 255, 50 * c + 12.5 + 0.5, 1e-9);
    }
    float m[3] = {0.1f, 0.2f, 0.3f}, s[3] = {0.5f, 0.25f, 2.0f};
    ck_assert_int_eq(clgrad_dataset_set_normalization(d, 0, 3, m, s), CLGRAD_OK);
    float x[36];
    int32_t y[2];
    int64_t n;
    ck_assert_int_eq(clgrad_dataset_batch(d, 0, 2, x, y, &n), CLGRAD_OK);
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 6; p++) {
                double v = (50 * c + 5 * p + i) / 255.0;
                ck_assert_float_eq(x[i * 18 + c * 6 + p], (float)((v - m[c]) / s[c]));
            }
    ck_assert(y[0] == 1 && y[1] == 0);
    clgrad_dataset_release(d);
    /* channels_last needs a 4-D file. */
    int d3[3] = {2, 3, 6};
    img = write_idx(3, d3, px, sizeof px, "img");
    ck_assert_int_eq(clgrad_dataset_load_idx(img, lab, &o, &d), CLGRAD_ERR_INVALID_ARG);
    unlink(img);
    unlink(lab);
}
END_TEST

static Suite *suite_io_csv(void)
{
    Suite *s = suite_create("io_csv");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, reads_a_header_quotes_and_numbers);
    tcase_add_test(tc, detects_delimiters_and_headers);
    tcase_add_test(tc, classifies_missing_and_non_finite_cells);
    tcase_add_test(tc, numbers_ignore_the_locale);
    tcase_add_test(tc, reads_gzip_files);
    tcase_add_test(tc, broken_files_are_clear_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("float_datasets");
    tcase_add_test(tc, float_dataset_batches_labels_and_targets);
    tcase_add_test(tc, float_dataset_refuses_bad_values_naming_the_sample);
    tcase_add_test(tc, label_stats_report_range_and_histogram_of_the_split);
    tcase_add_test(tc, channel_stats_and_normalisation_match_a_reference);
    tcase_add_test(tc, channels_last_images_are_batched_channels_first_and_normalised_per_channel);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite_io_csv());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
