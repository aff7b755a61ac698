/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sorted parallel arrays: O(log n) lookup, O(n) insert/delete. Label sets are small (tens of
 * entries), so the memmove cost is irrelevant and the layout stays trivial to encode.
 */
#include "lib/labels.h"

#include <string.h>

#include "lib/util.h"

/* containerd cuts keys to this length in its size error. */
#define LABEL_KEY_MSG_MAX 64

/* Index of k if present (*found = true), else the insertion point. */
static size_t labels_find(const struct berth_labels *l, const char *k, bool *found)
{
    size_t lo = 0, hi = l->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(l->keys[mid], k);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

void berth_labels_init(struct berth_labels *l)
{
    l->n = 0;
    l->keys = NULL;
    l->vals = NULL;
}

void berth_labels_clear(struct berth_labels *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->keys[i]);
        free(l->vals[i]);
    }
    free(l->keys);
    free(l->vals);
    berth_labels_init(l);
}

void berth_labels_set(struct berth_labels *l, const char *k, const char *v)
{
    bool found;
    size_t i;

    if (!v || !*v) {
        berth_labels_del(l, k);
        return;
    }
    i = labels_find(l, k, &found);
    if (found) {
        char *nv = berth_xstrdup(v); /* copy first: v may alias the old value */
        free(l->vals[i]);
        l->vals[i] = nv;
        return;
    }
    l->keys = berth_xrealloc(l->keys, (l->n + 1) * sizeof(*l->keys));
    l->vals = berth_xrealloc(l->vals, (l->n + 1) * sizeof(*l->vals));
    memmove(&l->keys[i + 1], &l->keys[i], (l->n - i) * sizeof(*l->keys));
    memmove(&l->vals[i + 1], &l->vals[i], (l->n - i) * sizeof(*l->vals));
    l->keys[i] = berth_xstrdup(k);
    l->vals[i] = berth_xstrdup(v);
    l->n++;
}

const char *berth_labels_get(const struct berth_labels *l, const char *k)
{
    bool found;
    size_t i = labels_find(l, k, &found);

    return found ? l->vals[i] : NULL;
}

bool berth_labels_del(struct berth_labels *l, const char *k)
{
    bool found;
    size_t i = labels_find(l, k, &found);

    if (!found)
        return false;
    free(l->keys[i]);
    free(l->vals[i]);
    memmove(&l->keys[i], &l->keys[i + 1], (l->n - i - 1) * sizeof(*l->keys));
    memmove(&l->vals[i], &l->vals[i + 1], (l->n - i - 1) * sizeof(*l->vals));
    l->n--;
    if (l->n == 0) {
        free(l->keys);
        free(l->vals);
        berth_labels_init(l);
    }
    return true;
}

void berth_labels_copy(struct berth_labels *dst, const struct berth_labels *src)
{
    if (dst == src)
        return;
    berth_labels_clear(dst);
    if (src->n == 0)
        return;
    dst->keys = berth_xcalloc(src->n, sizeof(*dst->keys));
    dst->vals = berth_xcalloc(src->n, sizeof(*dst->vals));
    for (size_t i = 0; i < src->n; i++) {
        dst->keys[i] = berth_xstrdup(src->keys[i]);
        dst->vals[i] = berth_xstrdup(src->vals[i]);
    }
    dst->n = src->n;
}

int berth_labels_validate(const struct berth_labels *l, struct berth_err **err)
{
    for (size_t i = 0; i < l->n; i++) {
        size_t klen = strlen(l->keys[i]);
        size_t total = klen + strlen(l->vals[i]);

        if (klen == 0)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "label key must not be empty");
        if (total > BERTH_LABELS_MAX_SIZE)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "label key and value length (%zu bytes) greater than maximum "
                                 "size (%d bytes), key: %.*s",
                                 total, BERTH_LABELS_MAX_SIZE, LABEL_KEY_MSG_MAX, l->keys[i]);
    }
    return 0;
}
