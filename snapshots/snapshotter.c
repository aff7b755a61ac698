/* SPDX-License-Identifier: Apache-2.0 */
/* Backend-independent pieces of the snapshotter interface: infos, label helpers (mounts are in
 * mount.c). */
#include "snapshots/snapshotter.h"

#include <string.h>

#include "snapshots/snapshots-internal.h"

const char *berth_snap_kind_name(enum berth_snap_kind k)
{
    switch (k) {
    case BERTH_SNAP_VIEW:
        return "view";
    case BERTH_SNAP_ACTIVE:
        return "active";
    case BERTH_SNAP_COMMITTED:
        return "committed";
    default:
        return "unknown";
    }
}

void berth_snap_info_clear(struct berth_snap_info *info)
{
    if (!info)
        return;
    free(info->name);
    free(info->parent);
    berth_labels_clear(&info->labels);
    memset(info, 0, sizeof(*info));
}

const char *berth_snap_info_filter_field(void *obj, const char *const *path, size_t n,
                                         bool *present)
{
    const struct berth_snap_info *info = obj;

    *present = false;
    if (n == 0)
        return NULL;
    if (strcmp(path[0], "labels") == 0)
        return berth_filter_labels_lookup(&info->labels, path + 1, n - 1, present);
    if (n != 1)
        return NULL;
    if (strcmp(path[0], "kind") == 0) {
        *present = true;
        return berth_snap_kind_name(info->kind);
    }
    /* containerd's adaptor reports name and parent as present even when empty. */
    if (strcmp(path[0], "name") == 0) {
        *present = true;
        return info->name ? info->name : "";
    }
    if (strcmp(path[0], "parent") == 0) {
        *present = true;
        return info->parent ? info->parent : "";
    }
    return NULL;
}

struct strmap_entry {
    ProtobufCMessage base;
    char *key;
    char *value;
};

void berth_snap_labels_from_pb(struct berth_labels *l, void *const *entries, size_t n)
{
    berth_labels_clear(l);
    for (size_t i = 0; i < n; i++) {
        const struct strmap_entry *e = entries[i];
        berth_labels_set(l, e->key ? e->key : "", e->value ? e->value : "");
    }
}

void berth_snap_labels_to_pb(const struct berth_labels *l,
                             const ProtobufCMessageDescriptor *entry_desc, void ***out_entries,
                             size_t *n_out)
{
    size_t n = l->n;
    void **arr = berth_xcalloc(1, n * sizeof(void *) + n * sizeof(struct strmap_entry) + 1);
    struct strmap_entry *ents = (struct strmap_entry *)(arr + n);

    for (size_t i = 0; i < n; i++) {
        protobuf_c_message_init(entry_desc, &ents[i]);
        ents[i].key = l->keys[i];
        ents[i].value = l->vals[i];
        arr[i] = &ents[i];
    }
    *out_entries = arr;
    *n_out = n;
}

void berth_snap_backend_labels(const struct berth_labels *all, struct berth_labels *out)
{
    berth_labels_clear(out);
    for (size_t i = 0; all && i < all->n; i++)
        if (berth_str_has_prefix(all->keys[i], "containerd.io/snapshot/") ||
            strcmp(all->keys[i], "containerd.io/snapshot.ref") == 0)
            berth_labels_set(out, all->keys[i], all->vals[i]);
}
