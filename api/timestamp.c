/* SPDX-License-Identifier: Apache-2.0 */
/* See timestamp.h. */
#include "api/timestamp.h"

#define NS 1000000000LL

Google__Protobuf__Timestamp *berth_pb_ts_set(Google__Protobuf__Timestamp *ts, int64_t ns)
{
    google__protobuf__timestamp__init(ts);
    ts->seconds = ns / NS;
    ts->nanos = (int32_t)(ns % NS);
    if (ts->nanos < 0) {
        ts->seconds--;
        ts->nanos += (int32_t)NS;
    }
    return ts;
}

Google__Protobuf__Timestamp *berth_pb_ts_or_null(Google__Protobuf__Timestamp *ts, int64_t ns)
{
    return ns == 0 ? NULL : berth_pb_ts_set(ts, ns);
}

int64_t berth_pb_ts_ns(const Google__Protobuf__Timestamp *ts)
{
    if (!ts || ts->seconds < 0 || ts->seconds > INT64_MAX / NS - 1 || ts->nanos < 0 ||
        ts->nanos >= NS)
        return 0;
    return ts->seconds * NS + ts->nanos;
}
