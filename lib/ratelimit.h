/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Collapses repeats of one log event. The first occurrence of a key in an interval passes; the
 * rest are counted, and the count is handed to the next occurrence that passes, so a flood of
 * identical errors costs one line per interval ("... (and 41 more like it since)").
 * Keys are hashed into a fixed table: two keys sharing a slot only make each other pass early.
 * Thread-safe. Depends on nothing but lib/util.
 */
#ifndef BERTH_LIB_RATELIMIT_H
#define BERTH_LIB_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct berth_ratelimit; /* opaque */

/* A table of `slots` keys (0 = 64), each passing at most once per interval_ns. Never fails
 * (aborts on OOM); free with berth_ratelimit_free. */
struct berth_ratelimit *berth_ratelimit_new(size_t slots, int64_t interval_ns);
void berth_ratelimit_free(struct berth_ratelimit *rl); /* NULL-safe */

/* True when the event named by key (len bytes) should be logged now. *suppressed (may be
 * NULL) gets how many occurrences were held back since the key last passed. */
bool berth_ratelimit_pass(struct berth_ratelimit *rl, const void *key, size_t len,
                          uint64_t *suppressed);
/* The same with now_ns given (tests; and callers that already read the clock). */
bool berth_ratelimit_pass_at(struct berth_ratelimit *rl, const void *key, size_t len,
                             int64_t now_ns, uint64_t *suppressed);

/* Room for the note below, NUL included. */
#define BERTH_RATELIMIT_NOTE_MAX 48
/* What a line that passed appends for the occurrences held back before it: "" when held is 0,
 * " (and <held> more like it since)" otherwise. Returns buf. */
const char *berth_ratelimit_note(uint64_t held, char buf[BERTH_RATELIMIT_NOTE_MAX]);

#endif
