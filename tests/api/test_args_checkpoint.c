/* Argument checks of include/clgrad/checkpoint.h: metadata keys and values, saving and
 * loading with missing, foreign or mismatched files and optimizers (see tests/support/args.h
 * for what a check expects). */
#include "args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(null_checkpoint)
{
    clgrad_checkpoint_meta meta;
    memset(&meta, 0, sizeof meta);

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(NULL, "k", "v"));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, NULL, "v"));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "k", NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "", "v"));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "format", "v"));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "clgrad.step", "v"));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "optim.lr", "v"));
    {
        char longkey[CLGRAD_CHECKPOINT_KEY_MAX + 8];
        memset(longkey, 'k', sizeof longkey - 1);
        longkey[sizeof longkey - 1] = '\0';
        EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, longkey, "v"));
        char longval[CLGRAD_CHECKPOINT_VALUE_MAX + 8];
        memset(longval, 'v', sizeof longval - 1);
        longval[sizeof longval - 1] = '\0';
        EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "k", longval));
    }
    meta.n_extra = -1;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "k", "v"));
    meta.n_extra = CLGRAD_CHECKPOINT_MAX_EXTRA + 5;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_meta_set(&meta, "k", "v"));
    EXPECT_TRUE(clgrad_checkpoint_meta_get(&meta, "k") == NULL);
    memset(&meta, 0, sizeof meta);
    for (int i = 0; i < CLGRAD_CHECKPOINT_MAX_EXTRA; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        ta_begin();
        clgrad_status s = clgrad_checkpoint_meta_set(&meta, k, "v");
        if (s != CLGRAD_OK) ta_bad(__FILE__, __LINE__, "meta_set %s -> %s", k, clgrad_status_name(s));
    }
    EXPECT(CLGRAD_ERR_UNSUPPORTED, clgrad_checkpoint_meta_set(&meta, "one-more", "v"));
    EXPECT_TRUE(clgrad_checkpoint_meta_get(NULL, "k") == NULL);
    EXPECT_TRUE(clgrad_checkpoint_meta_get(&meta, NULL) == NULL);

    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_save(NULL, NULL, NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_save("x.safetensors", NULL, NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_load(NULL, NULL, NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_load("x.safetensors", NULL, NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_read_meta(NULL, &meta));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_read_meta("x.safetensors", NULL));
    EXPECT(CLGRAD_ERR_IO, clgrad_checkpoint_read_meta("/nonexistent-dir/none.safetensors", &meta));

    clgrad_checkpoint_tensor *list;
    int n = 7;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, list, clgrad_checkpoint_list(NULL, &list, &n));
    EXPECT_TRUE(n == 0);
    n = 7;
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, list, clgrad_checkpoint_list("", &list, &n));
    EXPECT_TRUE(n == 0);
    n = 7;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_list("x.safetensors", NULL, &n));
    EXPECT_TRUE(n == 0);
    EXPECT_OUT(CLGRAD_ERR_INVALID_ARG, list, clgrad_checkpoint_list("x.safetensors", &list, NULL));
    n = 7;
    EXPECT_OUT_MSG(CLGRAD_ERR_IO, "none.safetensors", list,
                   clgrad_checkpoint_list("/nonexistent-dir/none.safetensors", &list, &n));
    EXPECT_TRUE(n == 0);
    clgrad_checkpoint_list_free(NULL); /* a no-op */
    ARGS_DONE();
}
END_TEST

START_TEST(bad_checkpoint)
{
    char dir[512], img[600], lab[600], ckpt[600];
    th_tmpdir(dir, sizeof dir, "apiargs");
    ta_write_idx_pair(dir, img, lab, sizeof img); /* img: a file that is no checkpoint */
    snprintf(ckpt, sizeof ckpt, "%s/ck.safetensors", dir);

    clgrad_module *lin = NULL, *lin2 = NULL;
    clgrad_optim *opt = NULL;
    clgrad_checkpoint_meta meta;
    memset(&meta, 0, sizeof meta);
    TH_OK(clgrad_linear_create(th_ctx, 3, 2, 1, 1, &lin));
    TH_OK(clgrad_linear_create(th_ctx, 4, 2, 1, 1, &lin2));
    clgrad_optim_options oo = clgrad_optim_defaults(CLGRAD_OPTIM_ADAM, 1e-3f);
    TH_OK(clgrad_optim_create(lin2, &oo, &opt));
    meta.n_rng = CLGRAD_CHECKPOINT_MAX_RNG + 1;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_save(ckpt, lin, NULL, &meta));
    meta.n_rng = -1;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_save(ckpt, lin, NULL, &meta));
    meta.n_rng = 0;
    meta.n_extra = CLGRAD_CHECKPOINT_MAX_EXTRA + 1;
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_save(ckpt, lin, NULL, &meta));
    meta.n_extra = 1;
    snprintf(meta.extra[0].key, sizeof meta.extra[0].key, "clgrad.step");
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_save(ckpt, lin, NULL, &meta));
    memset(&meta, 0, sizeof meta);
    char nodir[700];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/ck.safetensors", dir);
    EXPECT_MSG(CLGRAD_ERR_IO, nodir, clgrad_checkpoint_save(nodir, lin, NULL, NULL));
    EXPECT(CLGRAD_ERR_IO, clgrad_checkpoint_load(nodir, lin, NULL, NULL));
    EXPECT(CLGRAD_ERR_IO, clgrad_checkpoint_load(img, lin, NULL, NULL)); /* not a checkpoint */
    TH_OK(clgrad_checkpoint_save(ckpt, lin, NULL, NULL));
    EXPECT_MSG(CLGRAD_ERR_SHAPE, "[2, 4]", clgrad_checkpoint_load(ckpt, lin2, NULL, NULL));
    EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_read_meta(ckpt, NULL));
    {
        /* listing: files that are no checkpoint, a folder, a cut-off checkpoint; then the
         * valid file, whose two tensors the list names */
        clgrad_checkpoint_tensor *list;
        int n = 7;
        EXPECT_OUT_MSG(CLGRAD_ERR_IO, img, list, clgrad_checkpoint_list(img, &list, &n));
        EXPECT_TRUE(n == 0);
        n = 7;
        EXPECT_OUT(CLGRAD_ERR_IO, list, clgrad_checkpoint_list(dir, &list, &n));
        EXPECT_TRUE(n == 0);
        size_t len = 0;
        uint8_t *bytes = th_slurp(ckpt, &len);
        char cut[700];
        snprintf(cut, sizeof cut, "%s/cut.safetensors", dir);
        const size_t lens[] = {0, 4, 8, 9, len / 2, len - 1};
        for (int i = 0; i < N_OF(lens); i++) {
            th_spit(cut, bytes, lens[i]);
            n = 7;
            EXPECT_OUT(CLGRAD_ERR_IO, list, clgrad_checkpoint_list(cut, &list, &n));
            EXPECT_TRUE(n == 0);
        }
        free(bytes);
        list = NULL;
        n = 0;
        TH_OK(clgrad_checkpoint_list(ckpt, &list, &n));
        EXPECT_TRUE(n == 2 && list != NULL);
        EXPECT_TRUE(n == 2 && !strcmp(list[0].name, "bias") && !strcmp(list[1].name, "weight"));
        EXPECT_TRUE(n == 2 && list[1].ndim == 2 && list[1].shape[0] == 2 && list[1].shape[1] == 3);
        clgrad_checkpoint_list_free(list);
    }
    {
        clgrad_optim *sgd = NULL, *adam = NULL;
        clgrad_optim_options so = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, 0.1f);
        so.momentum = 0.9f;
        TH_OK(clgrad_optim_create(lin, &so, &sgd));
        TH_OK(clgrad_optim_create(lin, &oo, &adam));
        TH_OK(clgrad_checkpoint_save(ckpt, lin, sgd, NULL));
        EXPECT(CLGRAD_ERR_INVALID_ARG, clgrad_checkpoint_load(ckpt, lin, adam, NULL));
        clgrad_optim_release(sgd);
        clgrad_optim_release(adam);
    }

    clgrad_optim_release(opt);
    clgrad_module_release(lin);
    clgrad_module_release(lin2);
    th_rmtree(dir);
    ARGS_DONE();
}
END_TEST

int main(void)
{
    const TTest *null_tests[] = {null_checkpoint};
    const TTest *device_tests[] = {bad_checkpoint};
    return ta_main("api_args_checkpoint", null_tests, N_OF(null_tests), device_tests, N_OF(device_tests));
}
