/* Tests of checkpoints (src/io/checkpoint.c): a round trip of parameters, buffers,
 * counters, optimizer state and metadata; exact resume of SGD with momentum and of Adam
 * (the same weights as an uninterrupted run, bit for bit); and every kind of bad file
 * (wrong shapes, another network, another optimizer, truncated, corrupted, foreign, a
 * failed save) giving a clear error and leaving the module and optimizer unchanged. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "harness.h"
#include "io/io.h"

#include <check.h>
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

static void setup(void)
{
    th_setup();
    th_tmpdir(tmpdir, sizeof tmpdir, "ckpt");
}

static void teardown(void)
{
    th_rmtree(tmpdir);
    th_teardown();
}

static const char *path_of(const char *name) { return th_path(tmpdir, name); }

/* linear(5->hidden), batch_norm1d(hidden), ReLU, linear(hidden->3): parameters, buffers
 * (running statistics) and a counter (num_batches_tracked). */
static clgrad_module *make_net(uint64_t seed, int64_t hidden)
{
    clgrad_module *seq = NULL, *m = NULL;
    TH_OK(clgrad_sequential_create(th_ctx, &seq));
    TH_OK(clgrad_linear_create(th_ctx, 5, hidden, 1, seed, &m));
    TH_OK(clgrad_sequential_add(seq, m));
    TH_OK(clgrad_batch_norm1d_create(th_ctx, hidden, 1e-5f, 0.1f, 1, &m));
    TH_OK(clgrad_sequential_add(seq, m));
    TH_OK(clgrad_activation_create(th_ctx, CLGRAD_ACT_RELU, 0, 0, &m));
    TH_OK(clgrad_sequential_add(seq, m));
    TH_OK(clgrad_linear_create(th_ctx, hidden, 3, 1, seed + 1, &m));
    TH_OK(clgrad_sequential_add(seq, m));
    return seq;
}

static clgrad_optim *make_opt(clgrad_module *m, clgrad_optim_kind kind)
{
    clgrad_optim_options o = clgrad_optim_defaults(kind, kind == CLGRAD_OPTIM_SGD ? 0.1f : 0.01f);
    if (kind == CLGRAD_OPTIM_SGD) o.momentum = 0.9f;
    clgrad_optim *opt = NULL;
    TH_OK(clgrad_optim_create(m, &o, &opt));
    return opt;
}

/* One training step on a batch drawn from data_seed. */
static void train_step(clgrad_module *m, clgrad_optim *opt, uint64_t data_seed)
{
    int64_t xs[2] = {8, 5}, n = 8;
    int32_t labels[8];
    for (int i = 0; i < 8; i++) labels[i] = (int32_t)((data_seed + (uint64_t)i * 7) % 3);
    clgrad_tensor *x = th_rand(2, xs, data_seed, -2, 2), *y = NULL, *out = NULL, *loss = NULL;
    TH_OK(clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_I32, 1, &n, labels, &y));
    TH_OK(clgrad_module_forward(m, x, &out));
    TH_OK(clgrad_cross_entropy(out, y, 0, CLGRAD_REDUCTION_MEAN, &loss));
    TH_OK(clgrad_backward(loss));
    TH_OK(clgrad_optim_step(opt));
    clgrad_optim_zero_grad(opt);
    clgrad_tensor_release(loss);
    clgrad_tensor_release(out);
    clgrad_tensor_release(y);
    clgrad_tensor_release(x);
}

/* Every tensor, counter and step count of (m, opt) as bytes, to compare states exactly. */
typedef struct snapshot {
    uint8_t *bytes;
    size_t n;
} snapshot;

static void snap_add(snapshot *s, const void *p, size_t n)
{
    s->bytes = realloc(s->bytes, s->n + n);
    memcpy(s->bytes + s->n, p, n);
    s->n += n;
}

static void snap_tensor(snapshot *s, const clgrad_tensor *t)
{
    size_t n = (size_t)clgrad_tensor_numel(t) * clgrad_dtype_size(clgrad_tensor_dtype(t));
    void *buf = malloc(n ? n : 1);
    TH_OK(clgrad_tensor_read(t, buf, n));
    snap_add(s, buf, n);
    free(buf);
}

static snapshot snap(const clgrad_module *m, const clgrad_optim *opt)
{
    snapshot s = {0};
    for (int i = 0; i < clgrad_module_param_count(m); i++) snap_tensor(&s, clgrad_module_param(m, i, NULL));
    for (int i = 0; i < clgrad_module_buffer_count(m); i++) snap_tensor(&s, clgrad_module_buffer(m, i, NULL));
    for (int i = 0; i < clgrad_module_counter_count(m); i++) {
        uint64_t v = clgrad_module_counter(m, i, NULL);
        snap_add(&s, &v, sizeof v);
    }
    if (opt) {
        for (int i = 0; i < clgrad_optim_state_count(opt); i++) snap_tensor(&s, clgrad_optim_state(opt, i, NULL));
        for (int i = 0; i < clgrad_optim_param_count(opt); i++) {
            int64_t v = clgrad_optim_step_count(opt, i, NULL);
            snap_add(&s, &v, sizeof v);
        }
        float lr = clgrad_optim_get_lr(opt);
        snap_add(&s, &lr, sizeof lr);
    }
    return s;
}

static int snap_equal(snapshot a, snapshot b) { return a.n == b.n && memcmp(a.bytes, b.bytes, a.n) == 0; }

/* Loading path into (m, opt) must fail with want, a message holding needle, and change
 * nothing (module, optimizer, meta). */
static void expect_load_fails_(const char *path, clgrad_module *m, clgrad_optim *opt, clgrad_status want,
                               const char *needle, int line)
{
    snapshot before = snap(m, opt);
    clgrad_checkpoint_meta meta;
    memset(&meta, 0xA5, sizeof meta);
    clgrad_checkpoint_meta meta0 = meta;
    clgrad_status s = clgrad_checkpoint_load(path, m, opt, &meta);
    ck_assert_msg(s == want, "line %d: got %s, want %s: %s", line, clgrad_status_name(s), clgrad_status_name(want),
                  clgrad_last_error(th_ctx));
    const char *msg = clgrad_last_error(th_ctx);
    ck_assert_msg(strstr(msg, needle) != NULL, "line %d: message '%s' lacks '%s'", line, msg, needle);
    ck_assert_msg(strstr(clgrad_last_error(NULL), needle) != NULL, "line %d: thread message '%s' lacks '%s'",
                  line, clgrad_last_error(NULL), needle);
    snapshot after = snap(m, opt);
    ck_assert_msg(snap_equal(before, after), "line %d: the failed load changed the module or optimizer", line);
    ck_assert_msg(memcmp(&meta, &meta0, sizeof meta) == 0, "line %d: the failed load wrote meta", line);
    free(before.bytes);
    free(after.bytes);
}
#define expect_load_fails(p, m, o, want, needle) expect_load_fails_(p, m, o, want, needle, __LINE__)

/* ---------------------------------------------------------------------------------------
 * Round trip and resume
 * ------------------------------------------------------------------------------------- */

START_TEST(round_trip_restores_everything)
{
    clgrad_module *a = make_net(11, 4);
    clgrad_optim *oa = make_opt(a, CLGRAD_OPTIM_SGD);
    for (uint64_t k = 0; k < 3; k++) train_step(a, oa, 100 + k);
    TH_OK(clgrad_optim_set_lr(oa, 0.05f));
    ck_assert_uint_eq(clgrad_module_counter(a, 0, NULL), 3); /* num_batches_tracked */

    clgrad_checkpoint_meta meta = {.step = 3, .epoch = 2, .batch = 17, .seed = 0xFFFFFFFFFFFFFFFFull, .n_rng = 2,
                                   .rng = {12345678901234567ull, 0}};
    TH_OK(clgrad_checkpoint_meta_set(&meta, "model", "tiny"));
    TH_OK(clgrad_checkpoint_meta_set(&meta, "note", "a value with spaces, commas and \"quotes\""));
    TH_OK(clgrad_checkpoint_meta_set(&meta, "model", "tiny2")); /* replaces */
    ck_assert_int_eq(meta.n_extra, 2);
    const char *p = path_of("rt.safetensors");
    TH_OK(clgrad_checkpoint_save(p, a, oa, &meta));

    clgrad_module *b = make_net(99, 4);
    clgrad_optim *ob = make_opt(b, CLGRAD_OPTIM_SGD);
    snapshot sa = snap(a, oa), sb = snap(b, ob);
    ck_assert(!snap_equal(sa, sb));
    clgrad_checkpoint_meta got;
    TH_OK(clgrad_checkpoint_load(p, b, ob, &got));
    snapshot sb2 = snap(b, ob);
    ck_assert_msg(snap_equal(sa, sb2), "loaded state differs from the saved one");
    ck_assert_int_eq(got.step, 3);
    ck_assert_int_eq(got.epoch, 2);
    ck_assert_int_eq(got.batch, 17);
    ck_assert(got.seed == 0xFFFFFFFFFFFFFFFFull);
    ck_assert_int_eq(got.n_rng, 2);
    ck_assert(got.rng[0] == 12345678901234567ull && got.rng[1] == 0);
    ck_assert_int_eq(got.n_extra, 2);
    ck_assert_str_eq(clgrad_checkpoint_meta_get(&got, "model"), "tiny2");
    ck_assert_str_eq(clgrad_checkpoint_meta_get(&got, "note"), "a value with spaces, commas and \"quotes\"");
    ck_assert_ptr_null(clgrad_checkpoint_meta_get(&got, "missing"));

    /* Only the metadata; and the model alone, without the optimizer. */
    clgrad_checkpoint_meta m2;
    TH_OK(clgrad_checkpoint_read_meta(p, &m2));
    ck_assert_int_eq(m2.batch, 17);
    clgrad_module *c = make_net(5, 4);
    TH_OK(clgrad_checkpoint_load(p, c, NULL, NULL));
    snapshot sc = snap(c, NULL), sa_m = snap(a, NULL);
    ck_assert(snap_equal(sc, sa_m));

    free(sa.bytes), free(sb.bytes), free(sb2.bytes), free(sc.bytes), free(sa_m.bytes);
    clgrad_module_release(c);
    clgrad_optim_release(ob), clgrad_module_release(b);
    clgrad_optim_release(oa), clgrad_module_release(a);
}
END_TEST

START_TEST(names_follow_the_module_and_optimizer)
{
    clgrad_module *a = make_net(3, 4);
    clgrad_optim *oa = make_opt(a, CLGRAD_OPTIM_ADAM);
    const char *p = path_of("names.safetensors");
    TH_OK(clgrad_checkpoint_save(p, a, oa, NULL));
    size_t n;
    uint8_t *b = th_slurp(p, &n);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)b[i] << (8 * i);
    ck_assert_uint_le(8 + hl, n);
    char *h = calloc(1, hl + 1);
    memcpy(h, b + 8, hl);
    static const char *const want[] = {
        "\"0.weight\"", "\"0.bias\"", "\"1.weight\"", "\"1.running_mean\"", "\"1.running_var\"",
        "\"1.num_batches_tracked\"", "\"3.weight\"", "\"optim.0.weight.exp_avg\"",
        "\"optim.3.bias.exp_avg_sq\"", "\"optim.0.weight.step\"", "\"__metadata__\"", "\"format\":\"clgrad\"",
        "\"optim.kind\":\"adam\"",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(strstr(h, want[i]) != NULL, "header lacks %s: %s", want[i], h);
    free(h);
    free(b);
    clgrad_optim_release(oa);
    clgrad_module_release(a);
}
END_TEST

/* A safetensors file written by another program (no clgrad metadata, as PyTorch's
 * save_file writes a state_dict) loads when its tensors match the module. */
START_TEST(plain_safetensors_file_loads)
{
    clgrad_module *a = make_net(5, 4);
    int np = clgrad_module_param_count(a), nb = clgrad_module_buffer_count(a);
    clgrad__st_entry e[16];
    void *bufs[16];
    int n = 0;
    for (int i = 0; i < np + nb; i++, n++) {
        const char *name;
        clgrad_tensor *t = i < np ? clgrad_module_param(a, i, &name) : clgrad_module_buffer(a, i - np, &name);
        size_t bytes = (size_t)clgrad_tensor_numel(t) * 4;
        bufs[n] = malloc(bytes);
        TH_OK(clgrad_tensor_read(t, bufs[n], bytes));
        e[n] = (clgrad__st_entry){.name = name, .dtype = CLGRAD__ST_F32, .ndim = clgrad_tensor_ndim(t),
                                  .data = bufs[n], .nbytes = bytes};
        clgrad_tensor_shape(t, e[n].shape);
    }
    int64_t tracked = 0;
    const char *cname;
    (void)clgrad_module_counter(a, 0, &cname);
    e[n] = (clgrad__st_entry){.name = cname, .dtype = CLGRAD__ST_I64, .ndim = 0, .data = &tracked,
                              .nbytes = sizeof tracked};
    bufs[n++] = NULL;
    const clgrad__st_meta pt = {"format", "pt"};
    const char *p = path_of("plain.safetensors");
    TH_OK(clgrad__st_save(p, e, (size_t)n, &pt, 1));

    clgrad_module *b = make_net(6, 4);
    clgrad_checkpoint_meta meta;
    TH_OK(clgrad_checkpoint_load(p, b, NULL, &meta));
    snapshot sa = snap(a, NULL), sb = snap(b, NULL);
    ck_assert(snap_equal(sa, sb));
    ck_assert_int_eq(meta.step, 0);
    ck_assert_int_eq(meta.n_extra, 0); /* "format" is the library's key */
    /* Without optimizer state, asking for it is an error. */
    clgrad_optim *ob = make_opt(b, CLGRAD_OPTIM_SGD);
    expect_load_fails(p, b, ob, CLGRAD_ERR_IO, "no optimizer state");
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(sa.bytes), free(sb.bytes);
    clgrad_optim_release(ob);
    clgrad_module_release(b), clgrad_module_release(a);
}
END_TEST

/* Train 2k steps uninterrupted; train k, save, load into fresh objects, train k more:
 * the weights and optimizer state must be identical bit for bit. */
static void check_exact_resume(clgrad_optim_kind kind)
{
    enum { K = 3 };
    clgrad_module *a = make_net(21, 6);
    clgrad_optim *oa = make_opt(a, kind);
    for (uint64_t k = 0; k < K; k++) train_step(a, oa, 500 + k);
    const char *p = path_of("resume.safetensors");
    clgrad_checkpoint_meta meta = {.step = K};
    TH_OK(clgrad_checkpoint_save(p, a, oa, &meta));
    for (uint64_t k = K; k < 2 * K; k++) train_step(a, oa, 500 + k);

    clgrad_module *b = make_net(77, 6); /* other initial weights, overwritten by the load */
    clgrad_optim *ob = make_opt(b, kind);
    clgrad_checkpoint_meta got;
    TH_OK(clgrad_checkpoint_load(p, b, ob, &got));
    ck_assert_int_eq(got.step, K);
    for (uint64_t k = K; k < 2 * K; k++) train_step(b, ob, 500 + k);

    snapshot sa = snap(a, oa), sb = snap(b, ob);
    ck_assert_msg(snap_equal(sa, sb), "resumed training differs from the uninterrupted run (kind %d)", (int)kind);
    free(sa.bytes), free(sb.bytes);
    clgrad_optim_release(ob), clgrad_module_release(b);
    clgrad_optim_release(oa), clgrad_module_release(a);
}

START_TEST(resume_sgd_momentum_is_exact) { check_exact_resume(CLGRAD_OPTIM_SGD); }
END_TEST

START_TEST(resume_adam_is_exact) { check_exact_resume(CLGRAD_OPTIM_ADAM); }
END_TEST

/* ---------------------------------------------------------------------------------------
 * Bad files
 * ------------------------------------------------------------------------------------- */

START_TEST(wrong_shape_names_the_tensor)
{
    clgrad_module *a = make_net(1, 4);
    const char *p = path_of("shape.safetensors");
    TH_OK(clgrad_checkpoint_save(p, a, NULL, NULL));
    clgrad_module *b = make_net(2, 6);
    expect_load_fails(p, b, NULL, CLGRAD_ERR_SHAPE, "0.weight");
    expect_load_fails(p, b, NULL, CLGRAD_ERR_SHAPE, "[4, 5]");
    expect_load_fails(p, b, NULL, CLGRAD_ERR_SHAPE, "[6, 5]");
    clgrad_module_release(b);
    clgrad_module_release(a);
}
END_TEST

START_TEST(another_network_or_optimizer_is_refused)
{
    clgrad_module *a = make_net(1, 4);
    clgrad_optim *oa = make_opt(a, CLGRAD_OPTIM_SGD);
    train_step(a, oa, 1);
    const char *with_opt = path_of("opt.safetensors"), *bare = path_of("bare.safetensors");
    TH_OK(clgrad_checkpoint_save(with_opt, a, oa, NULL));
    TH_OK(clgrad_checkpoint_save(bare, a, NULL, NULL));

    /* A network with one layer less: the file holds tensors it does not know. */
    clgrad_module *small = NULL, *m = NULL;
    TH_OK(clgrad_sequential_create(th_ctx, &small));
    TH_OK(clgrad_linear_create(th_ctx, 5, 4, 1, 1, &m));
    TH_OK(clgrad_sequential_add(small, m));
    expect_load_fails(bare, small, NULL, CLGRAD_ERR_IO, "unexpected tensor");
    /* A network with a layer more: a tensor is missing. */
    clgrad_module *big = make_net(4, 4);
    TH_OK(clgrad_linear_create(th_ctx, 3, 2, 1, 1, &m));
    TH_OK(clgrad_sequential_add(big, m));
    expect_load_fails(bare, big, NULL, CLGRAD_ERR_IO, "4.weight");

    /* An optimizer of another kind, or none saved. */
    clgrad_module *b = make_net(9, 4);
    clgrad_optim *adam = make_opt(b, CLGRAD_OPTIM_ADAM);
    expect_load_fails(with_opt, b, adam, CLGRAD_ERR_INVALID_ARG, "sgd");
    clgrad_optim *sgd = make_opt(b, CLGRAD_OPTIM_SGD);
    expect_load_fails(bare, b, sgd, CLGRAD_ERR_IO, "no optimizer state");
    /* SGD without momentum has no momentum buffers: the file's are unexpected. */
    clgrad_optim_options o = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.1f);
    clgrad_optim *plain = NULL;
    TH_OK(clgrad_optim_create(b, &o, &plain));
    expect_load_fails(with_opt, b, plain, CLGRAD_ERR_IO, "momentum_buffer");
    /* An optimizer over another module's parameters: refused on save and on load. */
    ck_assert_int_eq(clgrad_checkpoint_save(path_of("mixed.safetensors"), b, oa, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "not a parameter of the module"));
    expect_load_fails(with_opt, b, oa, CLGRAD_ERR_INVALID_ARG, "not a parameter of the module");

    clgrad_optim_release(plain), clgrad_optim_release(sgd), clgrad_optim_release(adam);
    clgrad_module_release(b), clgrad_module_release(big), clgrad_module_release(small);
    clgrad_optim_release(oa), clgrad_module_release(a);
}
END_TEST

START_TEST(truncated_corrupt_and_foreign_files_change_nothing)
{
    clgrad_module *a = make_net(1, 4);
    clgrad_optim *oa = make_opt(a, CLGRAD_OPTIM_ADAM);
    train_step(a, oa, 3);
    const char *good = path_of("good.safetensors"), *bad = path_of("bad.safetensors");
    TH_OK(clgrad_checkpoint_save(good, a, oa, NULL));
    size_t n;
    uint8_t *b = th_slurp(good, &n);

    clgrad_module *m = make_net(2, 4);
    clgrad_optim *om = make_opt(m, CLGRAD_OPTIM_ADAM);
    train_step(m, om, 4);

    /* Truncated anywhere: in the length, the header, the data, one byte short. */
    const size_t cuts[] = {0, 3, 8, 20, 100, n / 2, n - 4, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        th_spit(bad, b, cuts[i]);
        expect_load_fails(bad, m, om, CLGRAD_ERR_IO, "bad.safetensors");
    }
    /* Trailing garbage: the data area no longer matches the offsets. */
    uint8_t *longer = calloc(1, n + 16);
    memcpy(longer, b, n);
    th_spit(bad, longer, n + 16);
    expect_load_fails(bad, m, om, CLGRAD_ERR_IO, "bad.safetensors");
    free(longer);
    /* A corrupted header length and a corrupted JSON byte. */
    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    c[0] ^= 0x40;
    th_spit(bad, c, n);
    expect_load_fails(bad, m, om, CLGRAD_ERR_IO, "bad.safetensors");
    memcpy(c, b, n);
    c[8] = '[';
    th_spit(bad, c, n);
    expect_load_fails(bad, m, om, CLGRAD_ERR_IO, "bad.safetensors");
    free(c);
    /* Foreign files: text, an IDX header, nothing at all, a missing file. */
    const char text[] = "this is not a checkpoint\n";
    th_spit(bad, text, sizeof text - 1);
    expect_load_fails(bad, m, om, CLGRAD_ERR_IO, "bad.safetensors");
    const uint8_t idx[] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28};
    th_spit(bad, idx, sizeof idx);
    expect_load_fails(bad, m, om, CLGRAD_ERR_IO, "bad.safetensors");
    th_spit(bad, "", 0);
    expect_load_fails(bad, m, om, CLGRAD_ERR_IO, "bad.safetensors");
    expect_load_fails(path_of("missing.safetensors"), m, om, CLGRAD_ERR_IO, "missing.safetensors");
    /* A valid safetensors file of something else entirely. */
    const char other[] = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    uint8_t o[8 + sizeof other - 1 + 4];
    memset(o, 0, sizeof o);
    o[0] = (uint8_t)(sizeof other - 1);
    memcpy(o + 8, other, sizeof other - 1);
    th_spit(bad, o, sizeof o);
    expect_load_fails(bad, m, om, CLGRAD_ERR_IO, "0.weight");
    /* A newer format version. */
    clgrad_checkpoint_meta dummy;
    size_t hl = b[0] | (size_t)b[1] << 8;
    char *h = (char *)b + 8;
    const char key[] = "\"clgrad.format_version\":\"1\"";
    char *v = NULL;
    for (size_t i = 0; !v && i + sizeof key - 1 <= hl; i++)
        if (memcmp(h + i, key, sizeof key - 1) == 0) v = h + i;
    ck_assert_ptr_nonnull(v);
    v[25] = '9';
    th_spit(bad, b, n);
    expect_load_fails(bad, m, om, CLGRAD_ERR_UNSUPPORTED, "version 9");
    ck_assert_int_eq(clgrad_checkpoint_read_meta(bad, &dummy), CLGRAD_ERR_UNSUPPORTED);

    free(b);
    clgrad_optim_release(om), clgrad_module_release(m);
    clgrad_optim_release(oa), clgrad_module_release(a);
}
END_TEST

START_TEST(failed_save_keeps_the_previous_checkpoint)
{
    clgrad_module *a = make_net(1, 64);
    clgrad_optim *oa = make_opt(a, CLGRAD_OPTIM_ADAM);
    const char *p = path_of("keep.safetensors");
    clgrad_checkpoint_meta meta = {.epoch = 1};
    TH_OK(clgrad_checkpoint_save(p, a, oa, &meta));
    size_t n0;
    uint8_t *before = th_slurp(p, &n0);

    /* A "full disk": writes past 1 KiB fail. */
    train_step(a, oa, 9);
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1024;
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    meta.epoch = 2;
    clgrad_status s = clgrad_checkpoint_save(p, a, oa, &meta);
    setrlimit(RLIMIT_FSIZE, &old);
    ck_assert_int_eq(s, CLGRAD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "keep.safetensors"));

    size_t n1;
    uint8_t *after = th_slurp(p, &n1);
    ck_assert(n0 == n1 && memcmp(before, after, n0) == 0);
    clgrad_checkpoint_meta got;
    TH_OK(clgrad_checkpoint_read_meta(p, &got));
    ck_assert_int_eq(got.epoch, 1);
    free(before), free(after);
    clgrad_optim_release(oa), clgrad_module_release(a);
}
END_TEST

START_TEST(bad_arguments_and_metadata)
{
    clgrad_module *a = make_net(1, 4);
    const char *p = path_of("args.safetensors");
    clgrad_checkpoint_meta meta = {0};
    ck_assert_int_eq(clgrad_checkpoint_save(NULL, a, NULL, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_checkpoint_save(p, NULL, NULL, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_checkpoint_load(p, NULL, NULL, NULL), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_checkpoint_meta_set(&meta, "format", "x"), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_checkpoint_meta_set(&meta, "clgrad.step", "1"), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_checkpoint_meta_set(&meta, "optim.lr", "1"), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(clgrad_checkpoint_meta_set(&meta, "", "1"), CLGRAD_ERR_INVALID_ARG);
    char longv[CLGRAD_CHECKPOINT_VALUE_MAX + 1];
    memset(longv, 'v', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    ck_assert_int_eq(clgrad_checkpoint_meta_set(&meta, "k", longv), CLGRAD_ERR_INVALID_ARG);
    for (int i = 0; i < CLGRAD_CHECKPOINT_MAX_EXTRA; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        TH_OK(clgrad_checkpoint_meta_set(&meta, k, "v"));
    }
    ck_assert_int_eq(clgrad_checkpoint_meta_set(&meta, "one-more", "v"), CLGRAD_ERR_UNSUPPORTED);
    TH_OK(clgrad_checkpoint_save(p, a, NULL, &meta));
    /* Broken meta structs are refused before anything is written. */
    clgrad_checkpoint_meta bad = {.n_rng = CLGRAD_CHECKPOINT_MAX_RNG + 1};
    ck_assert_int_eq(clgrad_checkpoint_save(path_of("x.safetensors"), a, NULL, &bad), CLGRAD_ERR_INVALID_ARG);
    bad = (clgrad_checkpoint_meta){.n_extra = 2};
    strcpy(bad.extra[0].key, "same");
    strcpy(bad.extra[1].key, "same");
    ck_assert_int_eq(clgrad_checkpoint_save(path_of("x.safetensors"), a, NULL, &bad), CLGRAD_ERR_INVALID_ARG);
    ck_assert_int_eq(access(path_of("x.safetensors"), F_OK), -1);
    clgrad_module_release(a);
}
END_TEST

/* Copies the checkpoint at from to to with one change: the metadata value of key (when key
 * is not NULL) or the 0-d I64 tensor called tensor (when tensor is not NULL). */
static void rewrite(const char *from, const char *to, const char *key, const char *value, const char *tensor,
                    int64_t v)
{
    clgrad__st_file *f = NULL;
    TH_OK(clgrad__st_load(from, &f));
    size_t ne = clgrad__st_count(f), nm = clgrad__st_meta_count(f);
    clgrad__st_entry *e = calloc(ne, sizeof *e);
    clgrad__st_meta *m = calloc(nm, sizeof *m);
    int found = 0;
    for (size_t i = 0; i < ne; i++) {
        e[i] = *clgrad__st_entry_at(f, i);
        if (tensor && strcmp(e[i].name, tensor) == 0) {
            ck_assert(e[i].dtype == CLGRAD__ST_I64 && e[i].ndim == 0);
            e[i].data = &v; /* a little-endian host, as every test machine is */
            found = 1;
        }
    }
    for (size_t i = 0; i < nm; i++) {
        m[i] = *clgrad__st_meta_at(f, i);
        if (key && strcmp(m[i].key, key) == 0) {
            m[i].value = value;
            found = 1;
        }
    }
    ck_assert_msg(found, "no %s in %s", key ? key : tensor, from);
    TH_OK(clgrad__st_save(to, e, ne, m, nm));
    free(e);
    free(m);
    clgrad__st_free(f);
}

/* A step count of -1 used to overwrite the weights and then fail ("partly loaded"); an lr
 * of nan, inf or -5 loaded and then wrecked the next step. Every such value is now refused
 * before anything changes. */
START_TEST(out_of_range_values_change_nothing)
{
    clgrad_module *a = make_net(1, 4);
    clgrad_optim *oa = make_opt(a, CLGRAD_OPTIM_ADAM);
    train_step(a, oa, 3);
    const char *good = path_of("good.safetensors"), *bad = path_of("bad.safetensors");
    TH_OK(clgrad_checkpoint_save(good, a, oa, NULL));
    clgrad_module *m = make_net(2, 4);
    clgrad_optim *om = make_opt(m, CLGRAD_OPTIM_ADAM);
    train_step(m, om, 4);

    const int64_t steps[] = {-1, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        rewrite(good, bad, NULL, NULL, "optim.3.weight.step", steps[i]);
        expect_load_fails(bad, m, om, CLGRAD_ERR_IO, "the step count 'optim.3.weight.step'");
    }
    rewrite(good, bad, NULL, NULL, "optim.3.weight.step", INT64_MAX - 1); /* room for one more step */
    TH_OK(clgrad_checkpoint_load(bad, m, om, NULL));
    rewrite(good, bad, NULL, NULL, "1.num_batches_tracked", -1);
    expect_load_fails(bad, m, om, CLGRAD_ERR_IO, "the counter '1.num_batches_tracked'");

    const char *bad_lr[] = {"nan", "inf", "-inf", "-5", "1e39", "0.1x", "", "0,001"};
    for (size_t i = 0; i < sizeof bad_lr / sizeof *bad_lr; i++) {
        rewrite(good, bad, "optim.lr", bad_lr[i], NULL, 0);
        expect_load_fails(bad, m, om, CLGRAD_ERR_IO, "optim.lr");
    }
    const char *bad_hp[][2] = {{"optim.beta1", "1"}, {"optim.beta2", "-0.5"}, {"optim.eps", "-1e-8"},
                               {"optim.eps", "nan"}, {"optim.weight_decay", "-1"}};
    for (size_t i = 0; i < sizeof bad_hp / sizeof *bad_hp; i++) {
        rewrite(good, bad, bad_hp[i][0], bad_hp[i][1], NULL, 0);
        expect_load_fails(bad, m, om, CLGRAD_ERR_IO, bad_hp[i][0]);
    }
    clgrad_optim_release(om), clgrad_module_release(m);
    clgrad_optim_release(oa), clgrad_module_release(a);
}
END_TEST

/* A step count at INT64_MAX cannot grow: the step is refused (signed overflow before) and
 * changes no parameter. */
START_TEST(step_count_at_int64_max_refuses_the_step)
{
    clgrad_module *a = make_net(1, 4);
    clgrad_optim *oa = make_opt(a, CLGRAD_OPTIM_ADAM);
    for (int i = 0; i < clgrad_optim_param_count(oa); i++) TH_OK(clgrad_optim_set_step_count(oa, i, INT64_MAX - 1));
    train_step(a, oa, 5); /* the last step there is room for */
    ck_assert(clgrad_optim_step_count(oa, 0, NULL) == INT64_MAX);
    int64_t xs[2] = {8, 5}, n = 8;
    int32_t labels[8] = {0};
    clgrad_tensor *x = th_rand(2, xs, 9, -2, 2), *y = NULL, *out = NULL, *loss = NULL;
    TH_OK(clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_I32, 1, &n, labels, &y));
    TH_OK(clgrad_module_forward(a, x, &out));
    TH_OK(clgrad_cross_entropy(out, y, 0, CLGRAD_REDUCTION_MEAN, &loss));
    TH_OK(clgrad_backward(loss));
    snapshot before = snap(a, oa); /* after the forward pass, which updates batch norm's statistics */
    ck_assert_int_eq(clgrad_optim_step(oa), CLGRAD_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(clgrad_last_error(th_ctx), "parameter '0.weight' has taken INT64_MAX steps"));
    snapshot after = snap(a, oa);
    ck_assert(snap_equal(before, after));
    free(before.bytes), free(after.bytes);
    clgrad_tensor_release(loss), clgrad_tensor_release(out), clgrad_tensor_release(y), clgrad_tensor_release(x);
    clgrad_optim_release(oa), clgrad_module_release(a);
}
END_TEST

static mode_t mode_of(const char *p)
{
    struct stat sb;
    ck_assert_int_eq(stat(p, &sb), 0);
    return sb.st_mode & 07777;
}

/* A new checkpoint is 0600; re-saving keeps the mode the old file had (it used to become
 * 0644). A path that is a symbolic link is replaced by the new file; the link's target is
 * left as it was (the documented rule). */
START_TEST(resave_keeps_the_mode_and_replaces_a_link)
{
    clgrad_module *a = make_net(1, 4);
    const char *p = path_of("mode.safetensors");
    TH_OK(clgrad_checkpoint_save(p, a, NULL, NULL));
    ck_assert_uint_eq(mode_of(p), 0600);
    ck_assert_int_eq(chmod(p, 0640), 0);
    TH_OK(clgrad_checkpoint_save(p, a, NULL, NULL));
    ck_assert_uint_eq(mode_of(p), 0640);
    ck_assert_int_eq(chmod(p, 0600), 0);
    TH_OK(clgrad_checkpoint_save(p, a, NULL, NULL));
    ck_assert_uint_eq(mode_of(p), 0600);

    const char *target = path_of("target.safetensors"), *link = path_of("link.safetensors");
    th_spit(target, "old", 3);
    ck_assert_int_eq(symlink(target, link), 0);
    TH_OK(clgrad_checkpoint_save(link, a, NULL, NULL));
    struct stat sb;
    ck_assert_int_eq(lstat(link, &sb), 0);
    ck_assert(S_ISREG(sb.st_mode));
    size_t n = 0;
    uint8_t *b = th_slurp(target, &n);
    ck_assert(n == 3 && memcmp(b, "old", 3) == 0);
    free(b);
    TH_OK(clgrad_checkpoint_load(link, a, NULL, NULL));
    clgrad_module_release(a);
}
END_TEST

static Suite *suite_io_checkpoint(void)
{
    Suite *s = suite_create("io_checkpoint");
    TCase *tc = tcase_create("round_trip");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, round_trip_restores_everything);
    tcase_add_test(tc, names_follow_the_module_and_optimizer);
    tcase_add_test(tc, plain_safetensors_file_loads);
    suite_add_tcase(s, tc);
    tc = tcase_create("resume");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, resume_sgd_momentum_is_exact);
    tcase_add_test(tc, resume_adam_is_exact);
    suite_add_tcase(s, tc);
    tc = tcase_create("bad_files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, wrong_shape_names_the_tensor);
    tcase_add_test(tc, another_network_or_optimizer_is_refused);
    tcase_add_test(tc, truncated_corrupt_and_foreign_files_change_nothing);
    tcase_add_test(tc, failed_save_keeps_the_previous_checkpoint);
    tcase_add_test(tc, bad_arguments_and_metadata);
    tcase_add_test(tc, out_of_range_values_change_nothing);
    tcase_add_test(tc, step_count_at_int64_max_refuses_the_step);
    tcase_add_test(tc, resave_keeps_the_mode_and_replaces_a_link);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(suite_io_checkpoint(), 1); }
