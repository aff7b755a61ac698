/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 3339 timestamps as containerd reads and writes them: the `containerd.io/gc.expire` lease
 * label (Go's time.Parse(time.RFC3339, ...)) and RFC3339Nano output. Pure string/arithmetic
 * code (proleptic Gregorian calendar, no libc time zone state), no deps beyond lib/err.
 */
#ifndef BERTH_LIB_RFC3339_H
#define BERTH_LIB_RFC3339_H

#include <stdint.h>

#include "lib/err.h"

/* Longest output of the formatters, NUL included. */
#define BERTH_RFC3339_MAX 40

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.F]Z" or "...[.F]+hh:mm" / "-hh:mm" into nanoseconds since the
 * Unix epoch (UTC). Accepted as Go's time.Parse(time.RFC3339) accepts them: two-digit fields
 * with calendar ranges (leap days checked, no leap second 60), a '.' fraction of 1-9 digits,
 * offsets up to 23:59. Like Go, the 'T' and 'Z' must be upper case: RFC 3339 allows "t"/"z",
 * but containerd (Go) rejects them, and an expire label containerd can't read must not expire
 * here either. Times outside the int64 nanosecond range (before 1677-09-21 or after
 * 2262-04-11) saturate to INT64_MIN / INT64_MAX so comparisons keep their order.
 * BERTH_E_INVALID_ARGUMENT names the value; *ns_out is only set on success.
 */
int berth_rfc3339_parse(const char *s, int64_t *ns_out, struct berth_err **err);

/* Formats ns (since the epoch) in UTC like Go's time.RFC3339Nano: "2024-02-29T10:00:00.5Z",
 * trailing fraction zeros trimmed, no fraction for whole seconds. */
void berth_rfc3339_format(int64_t ns, char buf[BERTH_RFC3339_MAX]);
/* The same for a (seconds, nanos) pair such as a protobuf Timestamp, which reaches years an
 * int64 of nanoseconds cannot (Go's zero time, 0001-01-01). nanos outside [0, 1e9) are
 * ignored. */
void berth_rfc3339_format_ts(int64_t seconds, int32_t nanos, char buf[BERTH_RFC3339_MAX]);

#endif
