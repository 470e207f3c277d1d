/* Internal core services shared by every layer: error recording, the context head and its
 * per-layer slots, and small helpers (file helpers: core/file.h). No OpenCL types appear
 * here, so src/nn, src/autograd and src/io may include it freely. */
#ifndef CLGRAD_SRC_CORE_H
#define CLGRAD_SRC_CORE_H

#include "clgrad.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define CLGRAD__ERRMSG_CAP 16384
#define CLGRAD__NOTES_CAP 4096

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

/* Records a note on ctx: something that failed no call but changed what the library does
 * (the binary cache turned off, and why), for clgrad_context_diagnostics. One line each,
 * kept in order until the buffer is full; never printed. */
void clgrad__note(const clgrad_context *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---------------------------------------------------------------------------------------
 * The context head. A context (defined in src/runtime) starts with this struct, through the
 * device part that starts with it, so core reaches its per-context state by a cast and knows
 * nothing of the layers above: the same trick as the graph node head in src/tensor/tensor.h.
 * ------------------------------------------------------------------------------------- */

struct clgrad__slot; /* one layer's state, see clgrad__ctx_slot */

typedef struct clgrad__ctx_head {
    char err[CLGRAD__ERRMSG_CAP]; /* the last failure message recorded for this context */
    char notes[CLGRAD__NOTES_CAP]; /* clgrad__note lines, for clgrad_context_diagnostics */
    clgrad_context_stats stats;   /* counters the program, memory and tensor layers update */
    struct clgrad__slot *slots;   /* per-layer state, newest first */
} clgrad__ctx_head;

/* The head of ctx (not NULL). The context is never a const object, so writing through the
 * result of a const ctx (an error message, a counter) is well defined. */
static inline clgrad__ctx_head *clgrad__head(const clgrad_context *ctx)
{
    return (clgrad__ctx_head *)(void *)ctx;
}

/* A slot: state a layer keeps per context without the context knowing its type. The layer
 * owns a static key; the key's address identifies the slot. */
typedef struct clgrad__slot_key {
    const char *name; /* for messages */
    size_t size;      /* bytes of state, zeroed when the slot is created */
    /* Called when the context is released, newest slot first, while the slot can still be
     * found; frees what the state points to (not the state itself). May be NULL. */
    void (*destroy)(clgrad_context *ctx, void *state);
} clgrad__slot_key;

/* The state of key in ctx, created zeroed on first use. NULL only when out of host memory
 * (a HOST_MEMORY failure naming the slot is then recorded on ctx). */
void *clgrad__ctx_slot(clgrad_context *ctx, const clgrad__slot_key *key);

/* The state of key in ctx, or NULL when it was never created. Creates nothing. */
void *clgrad__ctx_slot_find(const clgrad_context *ctx, const clgrad__slot_key *key);

/* Destroys every slot of ctx, newest first (the runtime calls it when releasing ctx). */
void clgrad__ctx_slots_release(clgrad_context *ctx);

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

/* snprintf and strtod in the C locale whatever the program's locale ('.' as the decimal
 * mark, no grouping): for numbers written to and read from files (core/number.c). */
int clgrad__snprintf_c(char *buf, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
double clgrad__strtod_c(const char *s, char **end);

/* Environment lookup that treats "" as unset. */
const char *clgrad__getenv(const char *name);

/* Monotonic seconds, for tools and the probe. */
double clgrad__now(void);

#endif
