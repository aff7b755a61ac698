/* SPDX-License-Identifier: Apache-2.0 */
/* The attach stdin URI (attach.h); the socket itself is served by attachsrv.c. Pure code,
 * unit tested. */
#include <string.h>

#include "runtime/shim/attach.h"

int berth_shim_attach_uri_parse(const char *uri, bool *once, struct berth_err **err)
{
    *once = false;
    if (uri && !strcmp(uri, BERTH_SHIM_ATTACH_STDIN_URI))
        return 0;
    if (uri && !strcmp(uri, BERTH_SHIM_ATTACH_STDIN_ONCE_URI)) {
        *once = true;
        return 0;
    }
    if (uri && !strcmp(uri, BERTH_SHIM_ATTACH_STDIN_URI "?once=0"))
        return 0;
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                         "stdin \"%s\" is not " BERTH_SHIM_ATTACH_STDIN_URI "[?once=1]",
                         uri ? uri : "");
}
