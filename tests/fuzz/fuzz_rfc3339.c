/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: lib/rfc3339.c. A parsed time inside the int64 range formats (RFC3339Nano, UTC)
 * to a string that parses back to the same instant; the (seconds, nanos) formatter takes the
 * input's first 12 bytes as any pair and must stay within its buffer. */
#include "tests/fuzz/fuzz.h"

#include <stdint.h>

#include "lib/rfc3339.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    char buf[BERTH_RFC3339_MAX];
    struct berth_err *err = NULL;
    int64_t ns = 0, again = 0;

    if (berth_rfc3339_parse(s, &ns, &err) < 0) {
        FUZZ_CHECK(err->code == BERTH_E_INVALID_ARGUMENT);
        fuzz_err_consume(&err);
    } else if (ns != INT64_MIN && ns != INT64_MAX) {
        berth_rfc3339_format(ns, buf);
        FUZZ_CHECK(memchr(buf, 0, sizeof(buf)) != NULL);
        if (berth_rfc3339_parse(buf, &again, &err) < 0) {
            fprintf(stderr, "\"%s\" -> %lld -> \"%s\": %s\n", s, (long long)ns, buf, err->msg);
            FUZZ_CHECK(!"formatted time does not parse");
        }
        FUZZ_CHECK(again == ns);
    }
    if (size >= 12) {
        int64_t sec;
        int32_t nanos;
        memcpy(&sec, data, sizeof(sec));
        memcpy(&nanos, data + 8, sizeof(nanos));
        memset(buf, 0x55, sizeof(buf));
        berth_rfc3339_format_ts(sec, nanos, buf);
        FUZZ_CHECK(memchr(buf, 0, sizeof(buf)) != NULL);
    }
    berth_rfc3339_format(ns, buf);
    free(s);
    return 0;
}
