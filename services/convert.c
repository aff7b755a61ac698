/* SPDX-License-Identifier: Apache-2.0 */
/* Wire conversions (see convert.h). */
#include "services/convert.h"

Google__Protobuf__Timestamp *berth_ts_from_ns(int64_t ns, Google__Protobuf__Timestamp *ts)
{
    if (ns == 0)
        return NULL;
    google__protobuf__timestamp__init(ts);
    ts->seconds = ns / 1000000000LL;
    ts->nanos = (int32_t)(ns % 1000000000LL);
    if (ts->nanos < 0) {
        ts->seconds--;
        ts->nanos += 1000000000;
    }
    return ts;
}
