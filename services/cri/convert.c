/* SPDX-License-Identifier: Apache-2.0 */
/* Small conversions shared by the CRI's RPC files. */
#include "metadata/record.h"
#include "services/cri/cri-internal.h"

void cri_labels_from_map(struct berth_labels *dst, size_t n, ProtobufCMessage *const *entries)
{
    for (size_t i = 0; i < n; i++) {
        const struct berth_pb_strmap_entry *e = (const void *)entries[i];
        if (e->key && *e->key)
            berth_labels_set(dst, e->key, e->value);
    }
}
