/* Test support implementation (see harness.h). */
#include "harness.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

clgrad_context *th_ctx;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void th_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    uint64_t s = seed * 7919u + 17u;
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)((splitmix(&s) >> 40) * (1.0 / 16777216.0));
}

void th_setup(void)
{
    /* Oclgrind truncates its log for every context: each test process (Check forks one per
     * test) logs to a file of its own, which tests/gpu/run_oclgrind.py reads afterwards */
    const char *diag = getenv("CLGRAD_TEST_DIAG_DIR");
    if (diag && *diag) {
        static char log[4096];
        snprintf(log, sizeof log, "%s/oclgrind-%ld.log", diag, (long)getpid());
        setenv("OCLGRIND_LOG", log, 1);
    }
    clgrad_context_desc d = {0};
    clgrad_status s = clgrad_context_create(&d, &th_ctx);
    ck_assert_msg(s == CLGRAD_OK, "context: %s: %s", clgrad_status_name(s), clgrad_last_error(NULL));
}

void th_teardown(void)
{
    clgrad_context_release(th_ctx);
    th_ctx = NULL;
}

int th_run(Suite *s, int needs_device)
{
    if (needs_device) {
        /* Probe in a child process: an initialised OpenCL runtime is not fork-safe, and
         * Check forks for every test. */
        pid_t pid = fork();
        if (pid == 0) {
            clgrad_device_info *list = NULL;
            int n = 0;
            if (clgrad_devices_list(&list, &n) != CLGRAD_OK || n == 0) {
                fprintf(stderr, "no OpenCL device: skipping (%s)\n", clgrad_last_error(NULL));
                _exit(77);
            }
            _exit(0);
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 77;
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

int64_t th_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

clgrad_tensor *th_tensor(int ndim, const int64_t *shape, const float *data)
{
    clgrad_tensor *t = NULL;
    TH_OK(clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_F32, ndim, shape, data, &t));
    return t;
}

clgrad_tensor *th_tensor_i32(int ndim, const int64_t *shape, const int32_t *data)
{
    clgrad_tensor *t = NULL;
    if (data) TH_OK(clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_I32, ndim, shape, data, &t));
    else TH_OK(clgrad_tensor_zeros(th_ctx, CLGRAD_DTYPE_I32, ndim, shape, &t));
    return t;
}

clgrad_tensor *th_rand(int ndim, const int64_t *shape, uint64_t seed, float lo, float hi)
{
    int64_t n = th_numel(ndim, shape);
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    th_fill_uniform(h, (size_t)n, seed, lo, hi);
    clgrad_tensor *t = th_tensor(ndim, shape, h);
    free(h);
    return t;
}

float *th_read(const clgrad_tensor *t)
{
    int64_t n = clgrad_tensor_numel(t);
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    ck_assert_ptr_nonnull(h);
    TH_OK(clgrad_tensor_read(t, h, (size_t)n * sizeof *h));
    return h;
}

float *th_read_module_tensor(const clgrad_module *m, const char *want)
{
    for (int i = 0; i < clgrad_module_param_count(m); i++) {
        const char *name = NULL;
        clgrad_tensor *t = clgrad_module_param(m, i, &name);
        if (!strcmp(name, want)) return th_read(t);
    }
    for (int i = 0; i < clgrad_module_buffer_count(m); i++) {
        const char *name = NULL;
        clgrad_tensor *t = clgrad_module_buffer(m, i, &name);
        if (!strcmp(name, want)) return th_read(t);
    }
    ck_abort_msg("no parameter or buffer named %s", want);
    return NULL;
}

void th_allclose(const char *what, const float *got, const float *want, size_t n, double atol, double rtol)
{
    double maxerr = 0;
    size_t bad = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        double err = fabs(g - w);
        int ok = err <= atol + rtol * fabs(w) || (isnan(g) && isnan(w)) || (isinf(g) && g == w);
        if (!ok && bad == (size_t)-1) bad = i;
        if (err > maxerr || isnan(err)) maxerr = isnan(err) ? INFINITY : err;
    }
    ck_assert_msg(bad == (size_t)-1, "%s: first mismatch at index %zu of %zu: got %.9g, want %.9g (max abs error %.3g, atol %.3g, rtol %.3g)",
                  what, bad, n, bad != (size_t)-1 ? got[bad] : 0.0, bad != (size_t)-1 ? want[bad] : 0.0, maxerr, atol, rtol);
}

double th_nmse(const float *got, const float *want, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    return den > 0 ? num / den : num;
}

clgrad_tensor *th_noncontig(clgrad_tensor *t)
{
    int nd = clgrad_tensor_ndim(t);
    int64_t shape[CLGRAD_MAX_DIMS], big[CLGRAD_MAX_DIMS];
    clgrad_tensor_shape(t, shape);
    /* Make a buffer whose last two dims are swapped and one column wider, write t through a
     * transposed + sliced view of it, and hand back that view. */
    if (nd == 0) {
        clgrad_tensor *c = NULL;
        TH_OK(clgrad_clone(t, &c));
        return c;
    }
    if (nd < 2) {
        int64_t b2[2] = {shape[0], 3};
        clgrad_tensor *base = NULL, *col = NULL, *view = NULL;
        TH_OK(clgrad_tensor_zeros(th_ctx, clgrad_tensor_dtype(t), 2, b2, &base));
        TH_OK(clgrad_slice(base, 1, 1, 2, 1, &col));
        int64_t s1[1] = {b2[0]};
        TH_OK(clgrad_reshape(col, 1, s1, &view));
        TH_OK(clgrad_copy_(view, t));
        clgrad_tensor_release(col);
        clgrad_tensor_release(base);
        return view;
    }
    memcpy(big, shape, sizeof(int64_t) * (size_t)nd);
    big[nd - 2] = shape[nd - 1] + 1;
    big[nd - 1] = shape[nd - 2];
    clgrad_tensor *base = NULL, *tr = NULL, *view = NULL;
    TH_OK(clgrad_tensor_zeros(th_ctx, clgrad_tensor_dtype(t), nd, big, &base));
    TH_OK(clgrad_transpose(base, nd - 2, nd - 1, &tr));
    TH_OK(clgrad_slice(tr, nd - 1, 0, shape[nd - 1], 1, &view));
    TH_OK(clgrad_copy_(view, t));
    clgrad_tensor_release(tr);
    clgrad_tensor_release(base);
    return view;
}

void th_make_noncontig(clgrad_tensor **t)
{
    clgrad_tensor *v = th_noncontig(*t);
    clgrad_tensor_release(*t);
    *t = v;
}

void th_tmpdir(char *dir, size_t cap, const char *tag)
{
    const char *base = getenv("TMPDIR");
    int n = snprintf(dir, cap, "%s/clgrad-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    ck_assert_msg(n > 0 && (size_t)n < cap, "temporary folder name too long for %zu bytes", cap);
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s failed", dir);
}

void th_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) th_rmtree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

const char *th_path(const char *dir, const char *name)
{
    static char p[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

uint8_t *th_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
    uint8_t *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

void th_spit(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

size_t th_make_npy(uint8_t *buf, int major, const char *dict, const void *body, size_t body_len)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = pre + dl + 1, pad = (64 - total % 64) % 64, hlen = dl + pad + 1;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (uint8_t)major;
    buf[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) buf[8 + i] = (uint8_t)(hlen >> (8 * i));
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', pad);
    buf[pre + dl + pad] = '\n';
    if (body_len) memcpy(buf + pre + hlen, body, body_len);
    return pre + hlen + body_len;
}

static double weighted_sum(clgrad_tensor *out, const float *w)
{
    int64_t n = clgrad_tensor_numel(out);
    float *h = th_read(out);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)h[i] * w[i];
    free(h);
    return s;
}

void th_gradcheck(const char *what, th_fn fn, int n_inputs, clgrad_tensor **inputs, void *user, double eps,
                  double atol, double rtol)
{
    clgrad_tensor *out = NULL;
    TH_OK(fn(inputs, user, &out));
    int64_t nout = clgrad_tensor_numel(out);
    int64_t oshape[CLGRAD_MAX_DIMS];
    clgrad_tensor_shape(out, oshape);
    float *w = malloc((size_t)(nout ? nout : 1) * sizeof *w);
    th_fill_uniform(w, (size_t)nout, 4242, -1.0f, 1.0f);
    clgrad_tensor *wt = th_tensor(clgrad_tensor_ndim(out), oshape, w);
    for (int i = 0; i < n_inputs; i++)
        if (inputs[i]) clgrad_tensor_zero_grad(inputs[i]);
    TH_OK(clgrad_backward_ex(out, wt, 0));
    clgrad_tensor_release(out);
    clgrad_tensor_release(wt);

    for (int i = 0; i < n_inputs; i++) {
        clgrad_tensor *x = inputs[i];
        if (!x || !clgrad_tensor_requires_grad(x)) continue;
        int64_t n = clgrad_tensor_numel(x);
        clgrad_tensor *g = clgrad_tensor_grad(x);
        ck_assert_msg(g != NULL, "%s: input %d got no gradient", what, i);
        float *ga = th_read(g);
        float *xv = th_read(x);
        for (int64_t j = 0; j < n; j++) {
            float orig = xv[j];
            double f[2];
            for (int side = 0; side < 2; side++) {
                xv[j] = (float)(orig + (side ? -eps : eps));
                TH_OK(clgrad_tensor_write(x, xv, (size_t)n * sizeof *xv));
                clgrad_no_grad_begin(th_ctx);
                clgrad_tensor *o = NULL;
                clgrad_status s = fn(inputs, user, &o);
                clgrad_no_grad_end(th_ctx);
                TH_OK(s);
                f[side] = weighted_sum(o, w);
                clgrad_tensor_release(o);
            }
            xv[j] = orig;
            TH_OK(clgrad_tensor_write(x, xv, (size_t)n * sizeof *xv));
            /* the step actually taken in float */
            double h = ((double)(float)(orig + eps) - (double)(float)(orig - eps));
            double num = (f[0] - f[1]) / h;
            double ana = ga[j];
            ck_assert_msg(fabs(ana - num) <= atol + rtol * fabs(num),
                          "%s: d/d input %d [%lld]: analytic %.6g, numeric %.6g", what, i, (long long)j, ana, num);
        }
        free(ga);
        free(xv);
    }
    free(w);
}
