/* A driver for the fuzz targets without libFuzzer, so every build can exercise them (the
 * test suite runs it, under ASan + UBSan in CI). With file arguments it feeds each file to
 * LLVMFuzzerTestOneInput; with --mutate FILE..., each file and then deterministic mutations
 * of it; without, a few built-in seed inputs and then many deterministic mutations of them
 * (bit flips, truncations, byte overwrites, splices). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint64_t next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Seeds valid for either target: an IDX ubyte file (with the mode byte the IDX target reads
 * first) and a safetensors file. Each target rejects the other's seeds, which is useful too. */
static size_t seed(int which, uint8_t *buf, size_t cap)
{
    if (which == 0) {
        static const uint8_t idx[] = {0, 0, 0, 0x08, 0x03, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2,
                                      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        memcpy(buf, idx, sizeof idx);
        return sizeof idx;
    }
    if (which == 1) { /* mode byte odd: images + labels split at byte 2's offset */
        static const uint8_t ds[] = {1, 20, 0, 0, 0x08, 0x03, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1, 9, 8, 7, 6,
                                     0, 0, 0x08, 0x01, 0, 0, 0, 2, 1, 0};
        memcpy(buf, ds, sizeof ds);
        return sizeof ds;
    }
    const char *hdr = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"__metadata__\":{\"step\":\"3\"}}";
    size_t hl = strlen(hdr);
    if (8 + hl + 8 > cap) return 0;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    float v[2] = {1.5f, -2.0f};
    memcpy(buf + 8 + hl, v, 8);
    return 8 + hl + 8;
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    uint8_t *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

enum { CAP = 4096, ROUNDS = 20000 };

/* Feeds base and rounds deterministic mutations of it; returns the number of inputs fed. */
static long mutate(const uint8_t *base, size_t bn, int rounds)
{
    static uint8_t buf[CAP];
    LLVMFuzzerTestOneInput(base, bn);
    for (int r = 0; r < rounds; r++) {
        size_t n = bn;
        memcpy(buf, base, bn);
        int edits = 1 + (int)(next() % 4);
        for (int e = 0; e < edits; e++) {
            uint64_t x = next();
            size_t at = n ? (size_t)(x >> 16) % n : 0;
            switch (x % 5) {
            case 0: if (n) buf[at] ^= (uint8_t)(1u << (x >> 8 & 7)); break;     /* bit flip */
            case 1: n = at; break;                                              /* truncate */
            case 2: if (n) buf[at] = (uint8_t)(x >> 24); break;                 /* overwrite */
            case 3: if (n < CAP) { memmove(buf + at + 1, buf + at, n - at); buf[at] = (uint8_t)(x >> 32); n++; } break;
            default: if (n) buf[at] = (x >> 40 & 1) ? 0xFF : 0x00; break;        /* extremes */
            }
        }
        LLVMFuzzerTestOneInput(buf, n);
    }
    return rounds + 1;
}

int main(int argc, char **argv)
{
    static uint8_t base[CAP];
    long runs = 0;
    if (argc > 2 && strcmp(argv[1], "--mutate") == 0) { /* seed files: each, then mutations */
        for (int i = 2; i < argc; i++) {
            FILE *f = fopen(argv[i], "rb");
            size_t bn = f ? fread(base, 1, CAP, f) : 0;
            if (!f || !feof(f)) {
                fprintf(stderr, "cannot read %s (at most %d bytes)\n", argv[i], CAP);
                if (f) fclose(f);
                return 1;
            }
            fclose(f);
            runs += mutate(base, bn, ROUNDS);
        }
        printf("%ld inputs from %d seed files, no crash\n", runs, argc - 2);
        return 0;
    }
    if (argc > 1) {
        int bad = 0;
        for (int i = 1; i < argc; i++) bad |= run_file(argv[i]);
        return bad;
    }
    for (int s = 0; s < 3; s++) {
        size_t bn = seed(s, base, CAP);
        runs += mutate(base, bn, ROUNDS) - 1;
    }
    printf("%ld mutated inputs, no crash\n", runs);
    return 0;
}
