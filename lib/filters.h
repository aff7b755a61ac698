/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd's filter language for List RPCs, Events.Subscribe and Introspection.Plugins.
 * A request carries several filter strings (OR); each is a comma-separated list of selectors
 * (AND): `fieldpath`, `fieldpath==v`, `fieldpath!=v`, `fieldpath~=regex`. Objects are matched
 * through a field-lookup callback, so this module knows nothing about records. Regular
 * expressions are Go's (RE2) syntax through lib/regex.h, which also lists what it refuses.
 */
#ifndef BERTH_LIB_FILTERS_H
#define BERTH_LIB_FILTERS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "lib/util.h"
#include "lib/labels.h"

/* Opaque: a parsed list of filter strings (OR of ANDs), regexes compiled. Immutable after
 * parsing apart from the stop state (berth_filter_set_stop), which is atomic, so one filter
 * may be matched from several threads at once. */
struct berth_filter;

/* Parses n filter strings. n == 0 (filters may then be NULL) or any empty string yields a
 * filter that matches everything. On a syntax error or bad quoting/escape returns -1 with
 * BERTH_E_INVALID_ARGUMENT naming the filter and the byte position; on a regex that
 * berth_regex_compile refuses, the same code naming the filter, the regex and the reason
 * (quoted filters and regexes are cut at 200 bytes). On success *out is owned by the caller
 * (berth_filter_free); on failure *out is NULL. */
int berth_filter_parse(const char *const *filters, size_t n, struct berth_filter **out,
                       struct berth_err **err);
/* NULL-safe. */
void berth_filter_free(struct berth_filter *f);
DEFINE_CLEANUP(struct berth_filter *, berth_filter_free)

/* Field lookup for one object. path holds the selector's field path split at unquoted '.',
 * with quoted components already unquoted; n >= 1. Set *present and return the value
 * (borrowed, must stay valid until berth_filter_match returns), or set *present = false and
 * return NULL when the object has no such field. *present is false on entry. */
typedef const char *(*berth_filter_field_fn)(void *obj, const char *const *path, size_t n,
                                             bool *present);

/* True when any filter string matches obj, i.e. every selector of that string holds:
 *   fieldpath      field present
 *   a==v           present and equal
 *   a!=v           value differs from v; an absent field counts as "", so it matches
 *                  any non-empty v (containerd semantics)
 *   a~=re          unanchored regex search in the value (absent counts as "")
 * f == NULL matches everything. Once a stop callback set by berth_filter_set_stop has said
 * done, returns false for every object. */
bool berth_filter_match(const struct berth_filter *f, berth_filter_field_fn field, void *obj);

/* Lets a caller end a long listing: from now on berth_filter_match calls done(arg) on its
 * first call and every 64th after, and also before any costly regex match (long value, big
 * pattern), so a stop is seen within about one regex match. Once done returns true that match
 * and every later one return false and berth_filter_stopped returns true (answer
 * DEADLINE_EXCEEDED or CANCELED then). done may run on any thread that matches f, concurrently
 * when several do, and must be cheap. Setting
 * again replaces the callback and clears the stopped state; done == NULL removes it. f ==
 * NULL (match-all) is a no-op, so that filter cannot be stopped: parse one from n == 0. */
void berth_filter_set_stop(struct berth_filter *f, bool (*done)(void *arg), void *arg);
/* True once f's stop callback has returned true. NULL-safe (false). */
bool berth_filter_stopped(const struct berth_filter *f);

/* Label adaptor helper: looks up the label whose key is path[0..n) joined with '.', so
 * `labels.a.b` (path {"a","b"} after the caller strips "labels") finds key "a.b" and
 * `labels."x.y/z"` finds "x.y/z". Compares against the virtual joined key, so no buffer is
 * needed. Returns the borrowed value and sets *present, or NULL with *present = false (also
 * for n == 0). */
const char *berth_filter_labels_lookup(const struct berth_labels *l, const char *const *path,
                                       size_t n, bool *present);

#endif
