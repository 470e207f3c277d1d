/* libFuzzer target for the IDX reader and the dataset built on it. The first input byte
 * picks the mode: even = parse the rest as one IDX file (plain or gzip); odd = split the
 * rest at a point given by the second byte into an images file and a labels file, build a
 * dataset from them, then split, shuffle and batch it.
 *
 * Build with Meson: CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined
 *   then e.g. build-fuzz/fuzz/fuzz_idx -max_total_time=60 -max_len=4096 CORPUS_DIR
 * Every normal build also has a replay driver run by the test suite (fuzz/replay.c).
 */
#include "core/core.h"
#include "io/io.h"

#include <stdint.h>
#include <stdlib.h>

static void touch_idx(const clgrad_idx *idx)
{
    /* Read every byte, so a wrong size would show up as an out-of-bounds read. */
    volatile uint8_t sink = 0;
    const uint8_t *p = idx->data;
    for (int64_t i = 0; i < idx->count * (int64_t)idx->elem_size; i++) sink ^= p[i];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if ((data[0] & 1) == 0) {
        clgrad_idx *idx = NULL;
        if (clgrad_idx_load_memory(data + 1, size - 1, "fuzz", &idx) == CLGRAD_OK) touch_idx(idx);
        clgrad_idx_release(idx);
        return 0;
    }
    if (size < 2) return 0;
    size_t rest = size - 2, cut = rest ? (size_t)data[1] * rest / 255 : 0;
    clgrad_idx *img = NULL, *lbl = NULL;
    clgrad_dataset *ds = NULL, *tr = NULL, *ho = NULL;
    if (clgrad_idx_load_memory(data + 2, cut, "images", &img) == CLGRAD_OK &&
        clgrad_idx_load_memory(data + 2 + cut, rest - cut, "labels", &lbl) == CLGRAD_OK) {
        clgrad_dataset_opts o = {.mean = 0.5f, .std = 0.5f, .max_samples = data[0] >> 4};
        if (clgrad__dataset_from_idx(img, "images", lbl, "labels", &o, &ds) == CLGRAD_OK) {
            int64_t n = clgrad_dataset_count(ds), ss = clgrad_dataset_sample_size(ds);
            if (clgrad_dataset_split(ds, n / 3, data[0], &tr, &ho) == CLGRAD_OK) {
                clgrad_dataset_shuffle(tr, data[0], 1);
                int64_t bs = 3;
                float *x = ss <= (1 << 20) ? malloc((size_t)(bs * ss + 1) * sizeof *x) : NULL;
                int32_t y[3];
                for (int64_t b = 0; x && b < clgrad_dataset_n_batches(tr, bs); b++) {
                    int64_t got;
                    clgrad_dataset_batch(tr, b, bs, x, y, &got);
                    for (int64_t i = 0; i < got; i++)
                        if (y[i] < 0 || y[i] >= clgrad_dataset_n_classes(ds)) abort();
                }
                free(x);
            }
        }
    }
    clgrad_dataset_release(tr);
    clgrad_dataset_release(ho);
    clgrad_dataset_release(ds);
    clgrad_idx_release(img);
    clgrad_idx_release(lbl);
    return 0;
}
