/* SPDX-License-Identifier: Apache-2.0 */
/* Digest string validation (see digest.h). */
#include "lib/digest.h"

#include <string.h>

static const struct {
    const char *name;
    size_t hex_len;
} algos[] = {{"sha256", 64}, {"sha384", 96}, {"sha512", 128}};

int berth_digest_validate(const char *s, struct berth_err **err)
{
    const char *colon = s ? strchr(s, ':') : NULL;
    size_t alen;

    if (!colon || colon == s)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "invalid digest \"%s\": want <algorithm>:<hex>", s ? s : "");
    alen = (size_t)(colon - s);
    for (size_t i = 0; i < sizeof(algos) / sizeof(algos[0]); i++) {
        const char *hex = colon + 1;
        if (strlen(algos[i].name) != alen || strncmp(s, algos[i].name, alen) != 0)
            continue;
        if (strlen(hex) != algos[i].hex_len)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "invalid digest \"%s\": %s needs %zu hex characters", s,
                                 algos[i].name, algos[i].hex_len);
        if (strspn(hex, "0123456789abcdef") != algos[i].hex_len)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "invalid digest \"%s\": not lower-case hex", s);
        return 0;
    }
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                         "invalid digest \"%s\": unsupported algorithm", s);
}
