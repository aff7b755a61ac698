/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Label sets (string -> string) for containers, images, content, snapshots, namespaces and
 * leases. Kept sorted by key (strcmp order) so lookups are binary searches and encodings are
 * deterministic. Allocation failure aborts, so only validation can fail.
 */
#ifndef BERTH_LIB_LABELS_H
#define BERTH_LIB_LABELS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

/* Max len(key)+len(value) in bytes, as in containerd's labels.Validate. */
#define BERTH_LABELS_MAX_SIZE 4096

/* keys[i] -> vals[i], keys strictly ascending. The struct owns every string and both arrays.
 * A zeroed struct (or one after berth_labels_init) is an empty set. */
struct berth_labels {
    size_t n;
    char **keys;
    char **vals;
};

/* Makes l an empty set (does not free anything it held). */
void berth_labels_init(struct berth_labels *l);
/* Frees all strings and arrays and leaves l empty. NULL-safe. */
void berth_labels_clear(struct berth_labels *l);
/* Sets key k to a copy of v, replacing any previous value. v == NULL or "" deletes k instead
 * (containerd's "empty value removes the label"). k must be non-NULL. */
void berth_labels_set(struct berth_labels *l, const char *k, const char *v);
/* Value for k, borrowed (valid until l is next modified), or NULL when absent. */
const char *berth_labels_get(const struct berth_labels *l, const char *k);
/* Removes k; returns whether it was present. */
bool berth_labels_del(struct berth_labels *l, const char *k);
/* Replaces dst's contents with a deep copy of src. dst must be initialised; dst == src is a
 * no-op. */
void berth_labels_copy(struct berth_labels *dst, const struct berth_labels *src);
/* Checks every label: non-empty key and len(key)+len(value) <= BERTH_LABELS_MAX_SIZE.
 * BERTH_E_INVALID_ARGUMENT names the first offending key (cut to 64 bytes). */
int berth_labels_validate(const struct berth_labels *l, struct berth_err **err);

#endif
