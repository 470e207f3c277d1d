/* Internal core services shared by every layer: error recording, once-only
 * initialisation and small helpers. No OpenCL types appear here, so src/nn,
 * src/autograd and src/io may include it freely. */
#ifndef CLGRAD_SRC_CORE_H
#define CLGRAD_SRC_CORE_H

#include "clgrad.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define CLGRAD__ERRMSG_CAP 16384

/* Records a failure with a printf-style message and returns s. With ctx == NULL
 * the message goes to the calling thread's buffer; otherwise to ctx's buffer
 * (and the thread buffer too, so clgrad_last_error(NULL) also sees it). */
clgrad_status clgrad__fail(const clgrad_context *ctx, clgrad_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
clgrad_status clgrad__failv(const clgrad_context *ctx, clgrad_status s, const char *fmt, va_list ap);

/* Appends more text to the last message recorded for ctx (used to add build logs). */
void clgrad__fail_append(const clgrad_context *ctx, const char *text);

/* The context's message buffer (owned by the context, CLGRAD__ERRMSG_CAP bytes). */
char *clgrad__context_errbuf(const clgrad_context *ctx);

#define CLGRAD_TRY(expr)                                                                           \
    do {                                                                                           \
        clgrad_status s_ = (expr);                                                                 \
        if (s_ != CLGRAD_OK) return s_;                                                            \
    } while (0)

/* Argument checks for public entry points: fail with INVALID_ARG naming the argument. */
#define CLGRAD_CHECK_ARG(ctx, cond, what)                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return clgrad__fail((ctx), CLGRAD_ERR_INVALID_ARG, "%s: invalid argument: %s",         \
                                __func__, (what));                                                 \
    } while (0)

/* Formats a shape like "[2, 3, 4]" into buf; returns buf. */
const char *clgrad__shape_str(char *buf, size_t cap, int ndim, const int64_t *shape);

/* Environment lookup that treats "" as unset. */
const char *clgrad__getenv(const char *name);

/* Monotonic seconds, for tools and the probe. */
double clgrad__now(void);

#endif
