/* SPDX-License-Identifier: Apache-2.0 */
/* google.protobuf.Timestamp <-> nanoseconds since the Unix epoch, for every wire message. */
#ifndef BERTH_API_TIMESTAMP_H
#define BERTH_API_TIMESTAMP_H

#include <stdint.h>

#include "google/protobuf/timestamp.pb-c.h"

/* Initializes and fills ts (nanos kept in [0, 1e9) for times before 1970); returns ts. */
Google__Protobuf__Timestamp *berth_pb_ts_set(Google__Protobuf__Timestamp *ts, int64_t ns);
/* berth_pb_ts_set, or NULL for 0 ("unset": the field is then omitted, which Go clients show as
 * the zero time, never as 1970). */
Google__Protobuf__Timestamp *berth_pb_ts_or_null(Google__Protobuf__Timestamp *ts, int64_t ns);
/* Nanoseconds of ts; 0 for NULL and for anything before 1970 or past 2262, which is how Go
 * shims send an empty time (year 1) and which int64 nanoseconds cannot hold. */
int64_t berth_pb_ts_ns(const Google__Protobuf__Timestamp *ts);

#endif
