/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identifier validation, hand-written instead of a regex: one pass over the bytes tracking
 * whether the previous byte was a separator.
 */
#include "lib/ident.h"

#include <stdbool.h>
#include <string.h>

#define IDENT_PATTERN "^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$"
/* Longer ids are cut in messages so a hostile request can't produce a huge error string. */
#define IDENT_MSG_MAX 128

static bool is_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool ident_well_formed(const char *id)
{
    bool after_sep = true; /* the first byte must be alphanumeric, like after a separator */

    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        if (is_alnum(*p)) {
            after_sep = false;
        } else if (*p == '.' || *p == '_' || *p == '-') {
            if (after_sep)
                return false;
            after_sep = true;
        } else {
            return false;
        }
    }
    return !after_sep;
}

int berth_ident_validate(const char *id, struct berth_err **err)
{
    size_t len = id ? strlen(id) : 0;
    int shown = len > IDENT_MSG_MAX ? IDENT_MSG_MAX : (int)len;

    if (len == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "identifier must not be empty");
    if (len > BERTH_IDENT_MAX_LEN)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "identifier \"%.*s%s\" greater than maximum length (%d characters)",
                             shown, id, len > IDENT_MSG_MAX ? "..." : "", BERTH_IDENT_MAX_LEN);
    if (!ident_well_formed(id))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "identifier \"%s\" must match %s",
                             id, IDENT_PATTERN);
    return 0;
}
