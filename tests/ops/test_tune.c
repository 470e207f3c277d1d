/* Tuned kernel parameters (src/ops/tuned.c) and the tuner (src/ops/tune.c): a tuned file in
 * the cache folder is used by every later context on the device (and at once by the one
 * that wrote it), reported as such by clgrad_context_tuning, and ignored with
 * CLGRAD_CONTEXT_NO_TUNED; a damaged, stale, out-of-range, foreign or linked file is ignored
 * as a whole (the table values apply and results stay right); a short tuner run checks its
 * candidates, reports progress and keeps what it found. */
#include "harness.h"
#include "ref.h"

#include "ops/gemm.h"
#include "ops/tuned.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static clgrad_context *context_in(const char *dir, uint32_t flags)
{
    clgrad_context_desc d = {.cache_dir = dir, .flags = flags};
    clgrad_context *c = NULL;
    TH_OK(clgrad_context_create(&d, &c));
    return c;
}

/* A string at a path of keys in clgrad_context_tuning's JSON ("" when absent). */
static void tuning_str(clgrad_context *c, const char *section, const char *key, char *out, size_t cap)
{
    const char *text = clgrad_context_tuning(c);
    ck_assert_ptr_nonnull(text);
    cJSON *root = cJSON_Parse(text);
    ck_assert_ptr_nonnull(root);
    const cJSON *o = section ? cJSON_GetObjectItemCaseSensitive(root, section) : root;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    snprintf(out, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
    cJSON_Delete(root);
}

static void expect_status(clgrad_context *c, const char *prefix)
{
    char s[256];
    tuning_str(c, NULL, "file_status", s, sizeof s);
    ck_assert_msg(strncmp(s, prefix, strlen(prefix)) == 0, "file status \"%s\", expected \"%s...\"", s, prefix);
}

/* A small product on c against the reference: whatever parameters are in use, results are right. */
static void gemm_is_right(clgrad_context *c)
{
    const int M = 19, N = 23, K = 17;
    float a[19 * 17], b[17 * 23], want[19 * 23], got[19 * 23];
    th_fill_uniform(a, sizeof a / sizeof a[0], 1, -1, 1);
    th_fill_uniform(b, sizeof b / sizeof b[0], 2, -1, 1);
    int64_t sa[2] = {M, K}, sb[2] = {K, N}, sc[2] = {M, N};
    clgrad_tensor *ta = NULL, *tb = NULL, *tc = NULL;
    TH_OK(clgrad_tensor_from_host(c, CLGRAD_DTYPE_F32, 2, sa, a, &ta));
    TH_OK(clgrad_tensor_from_host(c, CLGRAD_DTYPE_F32, 2, sb, b, &tb));
    TH_OK(clgrad_tensor_zeros(c, CLGRAD_DTYPE_F32, 2, sc, &tc));
    TH_OK(clgrad_context_set_gemm_provider(c, "own"));
    TH_OK(clgrad_gemm(0, 0, 1.0f, ta, tb, 0.0f, tc));
    TH_OK(clgrad_tensor_read(tc, got, sizeof got));
    ref_gemm(0, 0, M, N, K, 1.0f, a, K, b, N, 0.0f, want, N);
    th_allclose("gemm", got, want, (size_t)M * N, 1e-5, 1e-5);
    clgrad_tensor_release(ta), clgrad_tensor_release(tb), clgrad_tensor_release(tc);
}

/* Values that differ from c's table values in every tuned group. */
static void changed_values(clgrad_context *c, clgrad__ops_params *ops, clgrad__gemm_choice *g)
{
    clgrad__tuned_defaults(c, ops, g);
    ops->sum_cw = ops->sum_cw == 4 ? 2 : 4;
    ops->red_vec_wg = ops->red_vec_wg == 32 ? 16 : 32;
    ops->conv_wg = ops->conv_wg == 64 ? 128 : 64;
    g->cpu.pack_k = g->cpu.pack_k == 32 ? 128 : 32;
    g->cpu.wi_n = 256;
    g->tp.ts_k = g->tp.ts_k == 8 ? 4 : 8;
}

static const unsigned all_groups = CLGRAD__TUNED_GEMM | CLGRAD__TUNED_CONV | CLGRAD__TUNED_REDUCE;

START_TEST(tuned_file_is_used_from_then_on)
{
    char dir[512];
    th_tmpdir(dir, sizeof dir, "tuned");
    clgrad_context *c1 = context_in(dir, 0);
    expect_status(c1, "missing");
    char src[32];
    tuning_str(c1, "gemm", "source", src, sizeof src);
    ck_assert_str_eq(src, "default");
    clgrad__ops_params ops, def;
    clgrad__gemm_choice g, gdef;
    clgrad__tuned_defaults(c1, &def, &gdef);
    changed_values(c1, &ops, &g);
    TH_OK(clgrad__tuned_store(c1, all_groups, &ops, &g, NULL));
    /* the writer uses the values at once */
    expect_status(c1, "used");
    ck_assert_int_eq(clgrad__ops_tuning(c1)->sum_cw, ops.sum_cw);
    gemm_is_right(c1);
    /* and so does every later context on the device */
    clgrad_context *c2 = context_in(dir, 0);
    expect_status(c2, "used");
    for (int i = 0; i < 3; i++) {
        static const char *const sections[3] = {"gemm", "conv", "reduce"};
        tuning_str(c2, sections[i], "source", src, sizeof src);
        ck_assert_msg(strcmp(src, "tuned") == 0, "%s: source %s", sections[i], src);
    }
    const clgrad__ops_params *p = clgrad__ops_tuning(c2);
    ck_assert_int_eq(p->sum_cw, ops.sum_cw);
    ck_assert_int_eq(p->red_vec_wg, ops.red_vec_wg);
    ck_assert_int_eq(p->conv_wg, ops.conv_wg);
    ck_assert_int_eq(p->vw, def.vw); /* a value no group holds keeps the table's */
    clgrad__gemm_choice used;
    clgrad__tuned_gemm(c2, &used);
    ck_assert_int_eq(used.cpu.pack_k, g.cpu.pack_k);
    ck_assert_int_eq(used.tp.ts_k, g.tp.ts_k);
    gemm_is_right(c2);
    /* one group only: the others stay at the table values */
    TH_OK(clgrad__tuned_store(c2, CLGRAD__TUNED_REDUCE, &ops, &g, NULL));
    clgrad_context *c3 = context_in(dir, 0);
    tuning_str(c3, "gemm", "source", src, sizeof src);
    ck_assert_str_eq(src, "default");
    clgrad__tuned_gemm(c3, &used);
    ck_assert_int_eq(used.cpu.pack_k, gdef.cpu.pack_k);
    ck_assert_int_eq(clgrad__ops_tuning(c3)->sum_cw, ops.sum_cw);
    ck_assert_int_eq(clgrad__ops_tuning(c3)->conv_wg, def.conv_wg);
    /* a context that asks for the tables only */
    clgrad_context *c4 = context_in(dir, CLGRAD_CONTEXT_NO_TUNED);
    expect_status(c4, "not read");
    ck_assert_int_eq(clgrad__ops_tuning(c4)->sum_cw, def.sum_cw);
    clgrad_context_release(c1), clgrad_context_release(c2), clgrad_context_release(c3), clgrad_context_release(c4);
    th_rmtree(dir);
}
END_TEST

/* Edits of a valid tuned file, each of which must make it ignored as a whole. */
typedef void (*edit_fn)(cJSON *root);
static void set_str(cJSON *o, const char *k, const char *v) { cJSON_ReplaceItemInObject(o, k, cJSON_CreateString(v)); }
static void set_num(cJSON *o, const char *k, double v) { cJSON_ReplaceItemInObject(o, k, cJSON_CreateNumber(v)); }
static void e_device(cJSON *r) { set_str(r, "device", "another device"); }
static void e_driver(cJSON *r) { set_str(r, "driver", "0.0"); }
static void e_sources(cJSON *r) { set_str(r, "sources", "0123456789abcdef0123456789abcdef"); }
static void e_version(cJSON *r) { set_num(r, "version", 99); }
static void e_pow2(cJSON *r) { set_num(cJSON_GetObjectItemCaseSensitive(r, "reduce"), "sum_cw", 3); }
static void e_range(cJSON *r) { set_num(cJSON_GetObjectItemCaseSensitive(r, "conv"), "conv_wg", 1e9); }
static void e_frac(cJSON *r) { set_num(cJSON_GetObjectItemCaseSensitive(r, "reduce"), "red_vec_wg", 8.5); }
static void e_vw(cJSON *r)
{
    set_num(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "gemm"), "cpu"), "vw", 5);
}
static void e_block(cJSON *r)
{
    set_num(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "gemm"), "cpu"), "wi_m", -64);
}
static void e_tiles(cJSON *r)
{
    set_num(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "gemm"), "tiled"), "wpt_m", 3);
}
static void e_variant(cJSON *r) { set_str(cJSON_GetObjectItemCaseSensitive(r, "gemm"), "variant", "systolic"); }
static void e_missing(cJSON *r) { cJSON_DeleteItemFromObject(cJSON_GetObjectItemCaseSensitive(r, "reduce"), "sum_cw"); }
static void e_type(cJSON *r) { cJSON_ReplaceItemInObject(r, "conv", cJSON_CreateString("fast")); }

START_TEST(damaged_stale_or_foreign_files_are_ignored)
{
    char dir[512];
    th_tmpdir(dir, sizeof dir, "tuned-bad");
    clgrad_context *c = context_in(dir, 0);
    clgrad__ops_params ops, def;
    clgrad__gemm_choice g, gdef;
    clgrad__tuned_defaults(c, &def, &gdef);
    changed_values(c, &ops, &g);
    TH_OK(clgrad__tuned_store(c, all_groups, &ops, &g, NULL));
    char *path = clgrad__tuned_path(c);
    size_t len = 0;
    uint8_t *good = th_slurp(path, &len);
    clgrad_context_release(c);
    static const struct { edit_fn fn; const char *status; } edits[] = {
        {e_device, "ignored (made for another"}, {e_driver, "ignored (made for another"},
        {e_sources, "ignored (stale"},           {e_version, "ignored (not a tuned"},
        {e_pow2, "ignored (damaged"},            {e_range, "ignored (damaged"},
        {e_frac, "ignored (damaged"},            {e_vw, "ignored (damaged"},
        {e_tiles, "ignored (damaged"},           {e_variant, "ignored (damaged"},
        {e_missing, "ignored (damaged"},         {e_type, "ignored (damaged"},
        {e_block, "ignored (damaged"},
    };
    /* raw damage: truncated, empty, not JSON, JSON of another shape */
    const char *raw[] = {NULL, "", "\x01\x02garbage", "[1, 2, 3]"};
    for (size_t i = 0; i < sizeof edits / sizeof edits[0] + sizeof raw / sizeof raw[0]; i++) {
        const char *want;
        if (i < sizeof edits / sizeof edits[0]) {
            cJSON *root = cJSON_ParseWithLength((const char *)good, len);
            edits[i].fn(root);
            char *text = cJSON_Print(root);
            th_spit(path, text, strlen(text));
            free(text);
            cJSON_Delete(root);
            want = edits[i].status;
        } else {
            const char *r = raw[i - sizeof edits / sizeof edits[0]];
            if (r) th_spit(path, r, strlen(r));
            else th_spit(path, good, len / 2);
            want = "ignored (not a tuned";
        }
        clgrad_context *k = context_in(dir, 0);
        expect_status(k, want);
        ck_assert_int_eq(clgrad__ops_tuning(k)->sum_cw, def.sum_cw);
        clgrad__gemm_choice used;
        clgrad__tuned_gemm(k, &used);
        ck_assert_int_eq(used.cpu.pack_k, gdef.cpu.pack_k);
        gemm_is_right(k);
        clgrad_context_release(k);
    }
    /* a link to a valid file, and a folder where the file should be, count as missing */
    char target[600];
    snprintf(target, sizeof target, "%s/elsewhere.json", dir);
    th_spit(target, good, len);
    unlink(path);
    ck_assert_int_eq(symlink(target, path), 0);
    clgrad_context *k = context_in(dir, 0);
    expect_status(k, "missing");
    ck_assert_int_eq(clgrad__ops_tuning(k)->sum_cw, def.sum_cw);
    clgrad_context_release(k);
    unlink(path);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    k = context_in(dir, 0);
    expect_status(k, "missing");
    clgrad_context_release(k);
    free(good);
    free(path);
    th_rmtree(dir);
}
END_TEST

static void count_progress(void *user, double fraction, const char *stage)
{
    double *last = user;
    ck_assert_msg(fraction >= last[0] - 1e-9 && fraction <= 1.0, "progress went from %g to %g (%s)", last[0],
                  fraction, stage);
    last[0] = fraction;
    last[1] += 1;
}

START_TEST(a_short_tuner_run_keeps_its_results)
{
    char dir[512];
    th_tmpdir(dir, sizeof dir, "tune-run");
    clgrad_context *c = context_in(dir, 0);
    double seen[2] = {0, 0};
    clgrad_tune_options o = {.budget_seconds = 2, .progress = count_progress, .user = seen};
    TH_OK(clgrad_context_tune(c, &o));
    ck_assert(seen[1] >= 2);
    ck_assert(seen[0] == 1.0);
    expect_status(c, "used");
    cJSON *root = cJSON_Parse(clgrad_context_tuning(c));
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(root, "last_run");
    ck_assert_ptr_nonnull(run);
    const cJSON *checked = cJSON_GetObjectItemCaseSensitive(run, "candidates_checked");
    ck_assert(cJSON_IsNumber(checked) && checked->valuedouble >= 3); /* at least the table values of each stage */
    for (int i = 0; i < 3; i++) {
        static const char *const stages[3] = {"gemm", "conv", "reduce"};
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(run, stages[i]);
        ck_assert_msg(cJSON_IsObject(s), "no %s stage in the report", stages[i]);
        ck_assert_msg(!cJSON_GetObjectItemCaseSensitive(s, "error"), "%s stage: %s", stages[i],
                      cJSON_GetObjectItemCaseSensitive(s, "error")->valuestring);
        ck_assert(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(s, "accepted")));
    }
    cJSON_Delete(root);
    gemm_is_right(c);
    clgrad_context *c2 = context_in(dir, 0);
    expect_status(c2, "used");
    gemm_is_right(c2);
    clgrad_context_release(c);
    clgrad_context_release(c2);
    th_rmtree(dir);
}
END_TEST

static Suite *suite_ops_tune(void)
{
    Suite *s = suite_create("ops_tune");
    TCase *t = tcase_create("tuned");
    tcase_add_checked_fixture(t, th_setup, th_teardown);
    tcase_set_timeout(t, 600);
    tcase_add_test(t, tuned_file_is_used_from_then_on);
    tcase_add_test(t, damaged_stale_or_foreign_files_are_ignored);
    tcase_add_test(t, a_short_tuner_run_keeps_its_results);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return th_run(suite_ops_tune(), 1); }
