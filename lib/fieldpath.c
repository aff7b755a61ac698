/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Field-mask helpers. An empty remainder ("labels.") is rejected rather than naming the empty
 * label: callers then report it as an unknown field, which is clearer than silently touching "".
 */
#include "lib/fieldpath.h"

#include <string.h>

bool berth_fieldpath_label_key(const char *path, const char *prefix, const char **key)
{
    size_t plen;

    if (!path || !prefix)
        return false;
    plen = strlen(prefix);
    if (strncmp(path, prefix, plen) != 0 || path[plen] != '.' || path[plen + 1] == '\0')
        return false;
    if (key)
        *key = path + plen + 1;
    return true;
}
