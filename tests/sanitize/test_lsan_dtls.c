/* Why LeakSanitizer used to die at exit with "Tracer caught signal 11" now and then: the
 * __tls_get_addr interceptor of GCC 12's sanitizer runtime (and LLVM's before 17) takes a
 * dynamic thread-local block whose address is 16 modulo 4096 for one with an old glibc
 * header, reads the 16 bytes before it (here, the allocator's chunk header) as that block's
 * address and size, and the leak check at exit scans that garbage range and crashes.
 * Dynamic blocks are what libraries loaded with dlopen get, PoCL and its LLVM among them,
 * and a block's address depends on the allocator's state, so the crash looked random.
 *
 * This program makes it certain: it loads a module with a thread-local variable, starts
 * threads until one's block lands at 16 modulo 4096, keeps that thread alive and exits. The
 * suite runs it like every test (meson's test environment and scripts/run-tests.sh set
 * ASAN_OPTIONS=intercept_tls_get_addr=0, which leaves dynamic blocks out of the leak scan),
 * so it passes; without that option it fails every time. Exits 77 (skipped) when not built
 * with AddressSanitizer. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__SANITIZE_ADDRESS__)
#define WITH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WITH_ASAN 1
#endif
#endif

#ifdef WITH_ASAN
static long *(*tls_address)(void);
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int reported, hit;

static void *worker(void *arg)
{
    (void)arg;
    uintptr_t a = (uintptr_t)tls_address(); /* allocates this thread's block of the module */
    pthread_mutex_lock(&mu);
    reported = 1;
    hit = a % 4096 == 16;
    pthread_cond_broadcast(&cv);
    while (hit) pthread_cond_wait(&cv, &mu); /* alive until exit, and its block with it */
    pthread_mutex_unlock(&mu);
    return NULL;
}
#endif

int main(int argc, char **argv)
{
#ifndef WITH_ASAN
    (void)argc, (void)argv;
    fprintf(stderr, "skipped: not built with AddressSanitizer\n");
    return 77;
#else
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODULE\n", argv[0]);
        return 2;
    }
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    *(void **)&tls_address = dlsym(h, "clgrad_test_tls_address");
    if (!tls_address) return 1;
    int i;
    for (i = 0; i < 10000 && !hit; i++) {
        pthread_t t;
        reported = 0;
        if (pthread_create(&t, NULL, worker, NULL) != 0) return 1;
        pthread_mutex_lock(&mu);
        while (!reported) pthread_cond_wait(&cv, &mu);
        int parked = hit;
        pthread_mutex_unlock(&mu);
        if (parked) pthread_detach(t);
        else pthread_join(t, NULL);
    }
    if (!hit) {
        fprintf(stderr, "skipped: no thread-local block landed at 16 modulo 4096 in %d threads\n", i);
        return 77;
    }
    printf("a thread-local block at 16 modulo 4096 after %d threads; now the leak check at exit\n", i);
    return 0; /* LeakSanitizer runs now, with that thread alive */
#endif
}
