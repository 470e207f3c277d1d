/* Argument checks of include/clgrad/data.h: IDX files from disk and memory (missing,
 * garbage, oversized headers) and datasets (options, split, batches) (see
 * tests/support/args.h for what a check expects). */
#include "args.h"

#include <math.h>
#include <string.h>

START_TEST(null_data)
{
    clgrad_idx *ix;
    clgrad_dataset *ds, *tr, *ho;
    int64_t shape[CLGRAD_IDX_MAX_DIMS] = {7};
    int64_t n = 0;
    float x[4];
    int32_t y[4];

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_idx_load("x.idx", NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ix, clgrad_idx_load(NULL, &ix));
    EXPECT_OUT(CLGRAD_ERR_IO, ix, clgrad_idx_load("/nonexistent-dir/none.idx", &ix));
    clgrad_idx_limits lim = {.max_ratio = -1.0};
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_idx_load_limited("x.idx", NULL, NULL));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ix, clgrad_idx_load_limited(NULL, NULL, &ix));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ix, clgrad_idx_load_limited("x.idx", &lim, &ix));
    EXPECT_OUT(CLGRAD_ERR_IO, ix, clgrad_idx_load_limited("/nonexistent-dir/none.idx", NULL, &ix));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ix, clgrad_idx_load_memory(NULL, 16, NULL, &ix));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_idx_load_memory("abcd", 4, NULL, NULL));
    EXPECT_OUT(CLGRAD_ERR_IO, ix, clgrad_idx_load_memory(NULL, 0, NULL, &ix));
    EXPECT_OUT(CLGRAD_ERR_IO, ix, clgrad_idx_load_memory("garbage!", 8, "g", &ix));
    {
        /* A u8 header claiming 2^31 x 2^31 elements: IO (the data is not there), no overflow. */
        const unsigned char huge[12] = {0, 0, 0x08, 2, 0x80, 0, 0, 0, 0x80, 0, 0, 0};
        EXPECT_OUT(CLGRAD_ERR_IO, ix, clgrad_idx_load_memory(huge, sizeof huge, "huge", &ix));
    }
    clgrad_idx_release(NULL);

    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_load_idx(NULL, "l", NULL, &ds));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_load_idx("i", NULL, NULL, &ds));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_load_idx("i", "l", NULL, NULL));
    EXPECT_OUT(CLGRAD_ERR_IO, ds, clgrad_dataset_load_idx("/nonexistent-dir/i", "/nonexistent-dir/l", NULL, &ds));
    clgrad_dataset_release(NULL);
    EXPECT_TRUE(clgrad_dataset_count(NULL) == 0);
    EXPECT_TRUE(clgrad_dataset_sample_shape(NULL, shape) == 0 && shape[0] == 7);
    EXPECT_TRUE(clgrad_dataset_sample_size(NULL) == 0);
    EXPECT_TRUE(clgrad_dataset_n_classes(NULL) == 0);
    tr = POISON;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ho, clgrad_dataset_split(NULL, 0, 1, &tr, &ho));
    EXPECT_TRUE(tr == NULL);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_shuffle(NULL, 1, 0));
    EXPECT_TRUE(clgrad_dataset_n_batches(NULL, 4) == 0);
    n = 99;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_batch(NULL, 0, 4, x, y, &n));
    EXPECT_TRUE(n == 0);
    n = 99;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_batch_targets(NULL, 0, 4, x, x, &n));
    EXPECT_TRUE(n == 0);
    int64_t one[1] = {1};
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_from_floats(1, 1, one, NULL, y, 0, NULL, &ds));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_from_floats(1, 0, one, x, y, 0, NULL, &ds));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_from_floats(-1, 1, one, x, y, 0, NULL, &ds));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_from_floats(1, 1, one, x, y, 0, NULL, NULL));
    EXPECT_TRUE(clgrad_dataset_n_targets(NULL) == 0);
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_label_stats(NULL, NULL, NULL, NULL, 0));
    double dm[1], ds_[1];
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_channel_stats(NULL, 0, dm, ds_, NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_set_normalization(NULL, 0, 1, x, x));
    EXPECT_TRUE(clgrad_dataset_sample_id(NULL, 0) == -1);
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_slice(NULL, 0, 0, &ds));
    clgrad_csv *csv;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, csv, clgrad_csv_load(NULL, NULL, &csv));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_csv_load("x.csv", NULL, NULL));
    EXPECT_OUT(CLGRAD_ERR_IO, csv, clgrad_csv_load("/nonexistent-dir/x.csv", NULL, &csv));
    clgrad_csv_opts bad_header = {.header = (clgrad_csv_header)7};
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, csv, clgrad_csv_load("x.csv", &bad_header, &csv));
    clgrad_csv_release(NULL);
    EXPECT_TRUE(clgrad_csv_rows(NULL) == 0 && clgrad_csv_cols(NULL) == 0);
    EXPECT_TRUE(clgrad_csv_name(NULL, 0) == NULL && clgrad_csv_find(NULL, "a") == -1);
    EXPECT_TRUE(strcmp(clgrad_csv_cell(NULL, 0, 0), "") == 0 && clgrad_csv_line(NULL, 0) == 0);
    EXPECT_TRUE(clgrad_csv_number(NULL, 0, 0, NULL) == CLGRAD_CSV_MISSING);
    ARGS_DONE();
}
END_TEST

START_TEST(bad_data)
{
    char dir[512], img[600], lab[600];
    th_tmpdir(dir, sizeof dir, "apiargs");
    ta_write_idx_pair(dir, img, lab, sizeof img);

    clgrad_dataset *ds = NULL, *tr, *ho;
    clgrad_dataset_opts bad_std = {.mean = 0.0f, .std = -1.0f};
    clgrad_dataset_opts nan_std = {.mean = 0.0f, .std = NAN};
    clgrad_dataset_opts neg_max = {.max_samples = -2};
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_load_idx(img, lab, &bad_std, &ds));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_load_idx(img, lab, &nan_std, &ds));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_load_idx(img, lab, &neg_max, &ds));
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ds, clgrad_dataset_load_idx(lab, lab, NULL, &ds)); /* 1-D images */
    TH_OK(clgrad_dataset_load_idx(img, lab, NULL, &ds));
    tr = POISON;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ho, clgrad_dataset_split(ds, 4, 1, &tr, &ho));
    EXPECT_TRUE(tr == NULL);
    tr = POISON;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, ho, clgrad_dataset_split(ds, -1, 1, &tr, &ho));
    EXPECT_TRUE(tr == NULL);
    ho = POISON;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_split(ds, 1, 1, NULL, &ho));
    EXPECT_TRUE(ho == NULL);
    tr = POISON;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_split(ds, 1, 1, &tr, NULL));
    EXPECT_TRUE(tr == NULL);
    EXPECT_TRUE(clgrad_dataset_n_batches(ds, 0) == 0 && clgrad_dataset_n_batches(ds, -2) == 0);
    float x[12];
    int32_t y[3];
    int64_t n = 99;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_batch(ds, 0, 0, x, y, &n));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_batch(ds, 2, 2, x, y, &n));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_dataset_batch(ds, -1, 2, x, y, &n));
    clgrad_dataset_release(ds);

    th_rmtree(dir);
    ARGS_DONE();
}
END_TEST

int main(void)
{
    const TTest *null_tests[] = {null_data};
    const TTest *device_tests[] = {bad_data};
    return ta_main("api_args_data", null_tests, N_OF(null_tests), device_tests, N_OF(device_tests));
}
