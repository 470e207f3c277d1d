/* Test support implementation (see harness.h). */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

clgrad_tensor *th_tensor(int ndim, const int64_t *shape, const float *data)
{
    clgrad_tensor *t = NULL;
    TH_OK(clgrad_tensor_from_host(th_ctx, CLGRAD_DTYPE_F32, ndim, shape, data, &t));
    return t;
}

clgrad_tensor *th_rand(int ndim, const int64_t *shape, uint64_t seed, float lo, float hi)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
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
