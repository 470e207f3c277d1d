/* Checkpoint numbers do not depend on the locale: a program running under a locale whose
 * decimal mark is a comma (de_DE, generated here with localedef) saves "0.001", which loads
 * under the C locale (and in Python), and a file saved under C loads under the comma
 * locale. Skipped (exit 77) when the locale cannot be generated (no localedef, or no
 * locale sources: Debian's `locales` package). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "harness.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COMMA_LOCALE "de_DE.UTF-8"

static char tmpdir[512];

static clgrad_module *make_net(void)
{
    clgrad_module *m = NULL;
    TH_OK(clgrad_linear_create(th_ctx, 3, 2, 1, 7, &m));
    return m;
}

static clgrad_optim *make_opt(clgrad_module *m, float lr)
{
    clgrad_optim_options o = clgrad_optim_defaults(CLGRAD_OPTIM_SGD, lr);
    o.momentum = 0.9f;
    o.weight_decay = 0.0005f;
    clgrad_optim *opt = NULL;
    TH_OK(clgrad_optim_create(m, &o, &opt));
    return opt;
}

static void use_comma_locale(void)
{
    ck_assert_ptr_nonnull(setlocale(LC_ALL, COMMA_LOCALE));
    char buf[16];
    snprintf(buf, sizeof buf, "%.1f", 0.5);
    ck_assert_str_eq(buf, "0,5"); /* the locale really has a comma */
}

START_TEST(saved_under_a_comma_locale_loads_under_c)
{
    const char *p = th_path(tmpdir, "de.safetensors");
    clgrad_module *m = make_net();
    clgrad_optim *opt = make_opt(m, 0.001f);
    use_comma_locale();
    TH_OK(clgrad_checkpoint_save(p, m, opt, NULL));
    size_t n = 0;
    uint8_t *b = th_slurp(p, &n);
    b[n] = '\0';
    char *lr = strstr((char *)b + 8, "\"optim.lr\":\"");
    ck_assert_ptr_nonnull(lr);
    ck_assert_msg(strncmp(lr + 12, "0.00100000005\"", 14) == 0, "written as %.30s", lr);
    ck_assert_ptr_nonnull(strstr((char *)b + 8, "\"optim.weight_decay\":\"0.000500000024\""));
    free(b);

    setlocale(LC_ALL, "C");
    clgrad_module *m2 = make_net();
    clgrad_optim *o2 = make_opt(m2, 0.5f);
    TH_OK(clgrad_checkpoint_load(p, m2, o2, NULL));
    ck_assert(clgrad_optim_get_lr(o2) == 0.001f);
    clgrad_optim_release(o2), clgrad_module_release(m2);
    clgrad_optim_release(opt), clgrad_module_release(m);
}
END_TEST

START_TEST(saved_under_c_loads_under_a_comma_locale)
{
    const char *p = th_path(tmpdir, "c.safetensors");
    clgrad_module *m = make_net();
    clgrad_optim *opt = make_opt(m, 0.25f);
    setlocale(LC_ALL, "C");
    TH_OK(clgrad_checkpoint_save(p, m, opt, NULL));
    use_comma_locale();
    clgrad_module *m2 = make_net();
    clgrad_optim *o2 = make_opt(m2, 0.5f);
    TH_OK(clgrad_checkpoint_load(p, m2, o2, NULL));
    ck_assert(clgrad_optim_get_lr(o2) == 0.25f);
    setlocale(LC_ALL, "C");
    clgrad_optim_release(o2), clgrad_module_release(m2);
    clgrad_optim_release(opt), clgrad_module_release(m);
}
END_TEST

static void setup(void) { th_setup(); }
static void teardown(void) { th_teardown(); }

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/clgrad-locale-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) return 99;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 '%s/%s' >/dev/null 2>&1", tmpdir, COMMA_LOCALE);
    int made = system(cmd) == 0;
    setenv("LOCPATH", tmpdir, 1); /* glibc looks for locales there first */
    if (!made || !setlocale(LC_ALL, COMMA_LOCALE)) {
        fprintf(stderr, "skipped: cannot generate the %s locale with localedef (Debian package: locales)\n",
                COMMA_LOCALE);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
        return 77;
    }
    setlocale(LC_ALL, "C");
    Suite *s = suite_create("io_checkpoint_locale");
    TCase *tc = tcase_create("locale");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, saved_under_a_comma_locale_loads_under_c);
    tcase_add_test(tc, saved_under_c_loads_under_a_comma_locale);
    suite_add_tcase(s, tc);
    int rc = th_run(s, 1);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return rc;
}
