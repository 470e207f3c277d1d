/* A program that embeds clgrad the way an application does: through the installed headers
 * and pkg-config. It checks the header and library versions agree, lists devices, and,
 * when there is one, runs a small computation. */
#include <clgrad.h>

#include <stdio.h>

int main(void)
{
    if (clgrad_version_number() != CLGRAD_VERSION_NUMBER) {
        fprintf(stderr, "header %s but library %s\n", CLGRAD_VERSION_STRING, clgrad_version_string());
        return 1;
    }
    clgrad_context *ctx = NULL;
    clgrad_status s = clgrad_context_create(NULL, &ctx);
    if (s == CLGRAD_ERR_NO_DEVICE) {
        printf("clgrad %s: no device (%s)\n", clgrad_version_string(), clgrad_last_error(NULL));
        return 0;
    }
    clgrad_tensor *a = NULL, *b = NULL, *c = NULL;
    int64_t shape[2] = {2, 2};
    if (s == CLGRAD_OK) s = clgrad_tensor_full(ctx, 2, shape, 1.0f, &a);
    if (s == CLGRAD_OK) s = clgrad_tensor_full(ctx, 2, shape, 2.0f, &b);
    if (s == CLGRAD_OK) s = clgrad_matmul(a, b, &c);
    float out[4] = {0};
    if (s == CLGRAD_OK) s = clgrad_tensor_read(c, out, sizeof out);
    if (s != CLGRAD_OK) fprintf(stderr, "%s: %s\n", clgrad_status_name(s), clgrad_last_error(ctx));
    clgrad_tensor_release(c);
    clgrad_tensor_release(b);
    clgrad_tensor_release(a);
    clgrad_context_release(ctx);
    if (s != CLGRAD_OK || out[0] != 4.0f || out[3] != 4.0f) return 1;
    printf("clgrad %s: 2x2 matmul ok\n", clgrad_version_string());
    return 0;
}
