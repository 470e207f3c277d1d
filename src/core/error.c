/* Status names and the last-error messages: one buffer per thread, one per context. */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Thread_local char thread_err[CLGRAD__ERRMSG_CAP];

const char *clgrad_status_name(clgrad_status s)
{
    switch (s) {
    case CLGRAD_OK: return "CLGRAD_OK";
    case CLGRAD_ERR_INVALID_ARG: return "CLGRAD_ERR_INVALID_ARG";
    case CLGRAD_ERR_SHAPE: return "CLGRAD_ERR_SHAPE";
    case CLGRAD_ERR_HOST_MEMORY: return "CLGRAD_ERR_HOST_MEMORY";
    case CLGRAD_ERR_DEVICE_MEMORY: return "CLGRAD_ERR_DEVICE_MEMORY";
    case CLGRAD_ERR_NO_DEVICE: return "CLGRAD_ERR_NO_DEVICE";
    case CLGRAD_ERR_BUILD: return "CLGRAD_ERR_BUILD";
    case CLGRAD_ERR_OPENCL: return "CLGRAD_ERR_OPENCL";
    case CLGRAD_ERR_UNSUPPORTED: return "CLGRAD_ERR_UNSUPPORTED";
    case CLGRAD_ERR_IO: return "CLGRAD_ERR_IO";
    }
    return "CLGRAD_ERR_UNKNOWN";
}

const char *clgrad_last_error(const clgrad_context *ctx)
{
    if (ctx) return clgrad__head(ctx)->err;
    return thread_err;
}

clgrad_status clgrad__failv(const clgrad_context *ctx, clgrad_status s, const char *fmt, va_list ap)
{
    if (!fmt) fmt = "(no message)";
    va_list ap2;
    va_copy(ap2, ap);
    vsnprintf(thread_err, sizeof thread_err, fmt, ap);
    if (ctx) vsnprintf(clgrad__head(ctx)->err, CLGRAD__ERRMSG_CAP, fmt, ap2);
    va_end(ap2);
    return s;
}

clgrad_status clgrad__fail(const clgrad_context *ctx, clgrad_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    clgrad__failv(ctx, s, fmt, ap);
    va_end(ap);
    return s;
}

static void append(char *buf, const char *text)
{
    size_t len = strlen(buf);
    if (len + 1 >= CLGRAD__ERRMSG_CAP) return;
    snprintf(buf + len, CLGRAD__ERRMSG_CAP - len, "%s", text);
}

void clgrad__fail_append(const clgrad_context *ctx, const char *text)
{
    append(thread_err, text);
    if (ctx) append(clgrad__head(ctx)->err, text);
}

void clgrad__note(const clgrad_context *ctx, const char *fmt, ...)
{
    if (!ctx) return;
    char *notes = clgrad__head(ctx)->notes;
    size_t len = strlen(notes);
    if (len + 2 >= CLGRAD__NOTES_CAP) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(notes + len, CLGRAD__NOTES_CAP - len - 1, fmt, ap);
    va_end(ap);
    if (k < 0) {
        notes[len] = '\0';
        return;
    }
    len = strlen(notes);
    notes[len] = '\n'; /* room was kept for it */
    notes[len + 1] = '\0';
}

const char *clgrad__shape_str(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t len = 0;
    if (cap == 0) return buf;
    buf[0] = '\0';
    len += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
    return buf;
}

const char *clgrad__getenv(const char *name)
{
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

double clgrad__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
