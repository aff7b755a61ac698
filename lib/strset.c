/* SPDX-License-Identifier: Apache-2.0 */
/* See strset.h. Linear probing in a power-of-two table kept at most half full. */
#include "lib/strset.h"

#include <stdint.h>
#include <string.h>

#include "lib/util.h"

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static size_t slot(const struct berth_strset *s, const char *k)
{
    size_t i = hash(k) & (s->cap - 1);
    while (s->keys[i] && strcmp(s->keys[i], k) != 0)
        i = (i + 1) & (s->cap - 1);
    return i;
}

static void grow(struct berth_strset *s)
{
    struct berth_strset old = *s;

    s->cap = old.cap ? old.cap * 2 : 256;
    s->keys = berth_xcalloc(s->cap, sizeof(char *));
    s->state = berth_xcalloc(s->cap, 1);
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i]) {
            size_t j = slot(s, old.keys[i]);
            s->keys[j] = old.keys[i];
            s->state[j] = old.state[i];
        }
    free(old.keys);
    free(old.state);
}

unsigned char berth_strset_get(const struct berth_strset *s, const char *k)
{
    size_t i;

    if (!s->cap)
        return 0;
    i = slot(s, k);
    return s->keys[i] ? s->state[i] : 0;
}

unsigned char berth_strset_raise(struct berth_strset *s, const char *k, unsigned char state)
{
    unsigned char prev;
    size_t i;

    if ((s->n + 1) * 2 > s->cap)
        grow(s);
    i = slot(s, k);
    if (!s->keys[i]) {
        s->keys[i] = berth_xstrdup(k);
        s->state[i] = 0;
        s->n++;
    }
    prev = s->state[i];
    if (state > prev)
        s->state[i] = state;
    return prev;
}

void berth_strset_clear(struct berth_strset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->keys[i]);
    free(s->keys);
    free(s->state);
    memset(s, 0, sizeof(*s));
}
