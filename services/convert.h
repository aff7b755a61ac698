/* SPDX-License-Identifier: Apache-2.0 */
/* Conversions between store values and the wire types every service uses. */
#ifndef BERTH_SERVICES_CONVERT_H
#define BERTH_SERVICES_CONVERT_H

#include <stdint.h>

#include "google/protobuf/timestamp.pb-c.h"

/* Fills ts from nanoseconds since the Unix epoch; returns ts, or NULL for 0 ("unset": the
 * field is then omitted, which ctr shows as Go's zero time, never as 1970). */
Google__Protobuf__Timestamp *berth_ts_from_ns(int64_t ns, Google__Protobuf__Timestamp *ts);

#endif
