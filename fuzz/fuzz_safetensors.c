/* libFuzzer target for the safetensors reader: parses the input; when it is accepted,
 * checks that every entry lies inside the input and reads each through the checked copy,
 * and reads every metadata item. Accepted inputs are also written back out and read again,
 * which must give the same entries.
 *
 * Build with Meson: CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined
 *   then e.g. build-fuzz/fuzz/fuzz_safetensors -max_total_time=60 -max_len=4096 CORPUS_DIR
 * Every normal build also has a replay driver run by the test suite (fuzz/replay.c).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "core/core.h"
#include "io/io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char out_path[512];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clgrad__st_file *f = NULL;
    if (clgrad__st_parse(data, size, "fuzz", &f) != CLGRAD_OK) {
        if (f) abort(); /* a failure must return nothing */
        return 0;
    }
    size_t n = clgrad__st_count(f);
    clgrad__st_entry *copy = calloc(n ? n : 1, sizeof *copy);
    for (size_t i = 0; i < n; i++) {
        const clgrad__st_entry *e = clgrad__st_entry_at(f, i);
        if (clgrad__st_find(f, e->name) != e) abort();
        void *dst = malloc(e->nbytes ? e->nbytes : 1);
        if (clgrad__st_read(f, e->name, e->dtype, e->ndim, e->shape, dst, e->nbytes) != CLGRAD_OK)
            abort();
        copy[i] = *e;
        copy[i].data = dst;
    }
    for (size_t i = 0; i < clgrad__st_meta_count(f); i++) {
        const clgrad__st_meta *m = clgrad__st_meta_at(f, i);
        int64_t v;
        double d;
        if (strcmp(clgrad__st_meta_get(f, m->key), m->value) != 0) abort();
        clgrad__st_meta_get_i64(f, m->key, &v);
        clgrad__st_meta_get_f64(f, m->key, &d);
    }

    /* Write back what was read (names that are not UTF-8 are refused by the writer). */
    if (!out_path[0]) {
        const char *dir = getenv("FUZZ_TMPDIR");
        snprintf(out_path, sizeof out_path, "%s/fuzz-st-%ld.safetensors", dir ? dir : "/tmp",
                 (long)getpid());
    }
    size_t nm = clgrad__st_meta_count(f);
    clgrad__st_meta *meta = calloc(nm ? nm : 1, sizeof *meta);
    for (size_t i = 0; i < nm; i++) meta[i] = *clgrad__st_meta_at(f, i);
    if (clgrad__st_save(out_path, copy, n, meta, nm) == CLGRAD_OK) {
        clgrad__st_file *g = NULL;
        if (clgrad__st_load(out_path, &g) != CLGRAD_OK || clgrad__st_count(g) != n) abort();
        for (size_t i = 0; i < n; i++) {
            const clgrad__st_entry *e = clgrad__st_find(g, copy[i].name);
            if (!e || e->nbytes != copy[i].nbytes || e->dtype != copy[i].dtype ||
                (e->nbytes && memcmp(e->data, copy[i].data, e->nbytes) != 0))
                abort();
        }
        clgrad__st_free(g);
    }
    for (size_t i = 0; i < n; i++) free((void *)copy[i].data);
    free(copy);
    free(meta);
    clgrad__st_free(f);
    return 0;
}
