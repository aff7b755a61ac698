/* SPDX-License-Identifier: Apache-2.0 */
/* A set of strings with a small state per member (open addressing, FNV-1a): GC's marks, the
 * paths a layer wrote, the snapshots the store still names. Zero-initialised is empty. */
#ifndef BERTH_LIB_STRSET_H
#define BERTH_LIB_STRSET_H

#include <stdbool.h>
#include <stddef.h>

struct berth_strset {
    char **keys;
    unsigned char *state;
    size_t cap, n;
};

/* k's state; 0 when k is not a member. */
unsigned char berth_strset_get(const struct berth_strset *s, const char *k);
/* Adds k (copied) if needed and raises its state to at least state (>= 1); returns the state
 * it had before (0: it was not a member). */
unsigned char berth_strset_raise(struct berth_strset *s, const char *k, unsigned char state);

static inline bool berth_strset_has(const struct berth_strset *s, const char *k)
{
    return berth_strset_get(s, k) != 0;
}

static inline void berth_strset_add(struct berth_strset *s, const char *k)
{
    berth_strset_raise(s, k, 1);
}

/* Frees everything; the set is empty again. */
void berth_strset_clear(struct berth_strset *s);

#endif
