/* Per-context slots: state that a layer keeps in a context without the context (or this
 * file) knowing its type. A slot is one allocation, the key pointer and the state side by
 * side; a context holds a handful, so a list searched from the newest is enough. */
#include "core/core.h"

#include <stddef.h>
#include <stdlib.h>

struct clgrad__slot {
    const clgrad__slot_key *key;
    struct clgrad__slot *next;
    max_align_t state[]; /* key->size bytes, aligned for any type */
};

void *clgrad__ctx_slot_find(const clgrad_context *ctx, const clgrad__slot_key *key)
{
    for (struct clgrad__slot *s = clgrad__head(ctx)->slots; s; s = s->next)
        if (s->key == key) return s->state;
    return NULL;
}

void *clgrad__ctx_slot(clgrad_context *ctx, const clgrad__slot_key *key)
{
    void *state = clgrad__ctx_slot_find(ctx, key);
    if (state) return state;
    struct clgrad__slot *s = calloc(1, sizeof *s + key->size);
    if (!s) {
        clgrad__fail(ctx, CLGRAD_ERR_HOST_MEMORY, "out of host memory creating the context's %s", key->name);
        return NULL;
    }
    clgrad__ctx_head *h = clgrad__head(ctx);
    s->key = key;
    s->next = h->slots;
    h->slots = s;
    return s->state;
}

void clgrad__ctx_slots_release(clgrad_context *ctx)
{
    clgrad__ctx_head *h = clgrad__head(ctx);
    while (h->slots) {
        struct clgrad__slot *s = h->slots;
        if (s->key->destroy) s->key->destroy(ctx, s->state);
        /* unlink s (a destroy function may have created newer slots in front of it) */
        struct clgrad__slot **pp = &h->slots;
        while (*pp != s) pp = &(*pp)->next;
        *pp = s->next;
        free(s);
    }
}
