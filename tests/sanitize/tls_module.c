/* A module with a small thread-local variable, loaded with dlopen by test_lsan_dtls.c: its
 * thread-local block is allocated with malloc, as PoCL's and LLVM's are. */
__thread long clgrad_test_tls_word[2];

long *clgrad_test_tls_address(void);
long *clgrad_test_tls_address(void)
{
    clgrad_test_tls_word[0]++;
    return clgrad_test_tls_word;
}
