/* SPDX-License-Identifier: Apache-2.0 */
/* Record helpers (see record.h). */
#include "metadata/record.h"

#include <string.h>

#include "google/protobuf/any.pb-c.h"

void berth_any_clear(struct berth_any *a)
{
    free(a->type_url);
    berth_bytes_clear(&a->value);
    memset(a, 0, sizeof(*a));
}

void berth_any_copy(struct berth_any *dst, const struct berth_any *src)
{
    memset(dst, 0, sizeof(*dst));
    if (!src->present)
        return;
    dst->present = true;
    dst->type_url = berth_xstrdup(src->type_url);
    if (src->value.len) {
        dst->value.data = berth_xmalloc(src->value.len);
        memcpy(dst->value.data, src->value.data, src->value.len);
        dst->value.len = src->value.len;
    }
}

void berth_any_from_pb(struct berth_any *dst, const Google__Protobuf__Any *pb)
{
    struct berth_any tmp = {0};

    memset(dst, 0, sizeof(*dst));
    if (!pb)
        return;
    tmp.present = true;
    tmp.type_url = pb->type_url;
    tmp.value.data = pb->value.data;
    tmp.value.len = pb->value.len;
    berth_any_copy(dst, &tmp);
}

Google__Protobuf__Any *berth_any_to_pb(const struct berth_any *a, Google__Protobuf__Any *pb)
{
    if (!a->present)
        return NULL;
    google__protobuf__any__init(pb);
    pb->type_url = a->type_url ? a->type_url : (char *)"";
    pb->value.data = a->value.data;
    pb->value.len = a->value.len;
    return pb;
}

void berth_labels_from_pb(struct berth_labels *l, void *const *entries, size_t n)
{
    berth_labels_clear(l);
    for (size_t i = 0; i < n; i++) {
        const struct berth_pb_strmap_entry *e = entries[i];
        berth_labels_set(l, e->key ? e->key : "", e->value ? e->value : "");
    }
}

void berth_labels_to_pb(const struct berth_labels *l, const ProtobufCMessageDescriptor *entry_desc,
                        void ***out_entries, size_t *n_out)
{
    size_t n = l->n;
    void **arr = berth_xcalloc(1, n * sizeof(void *) + n * sizeof(struct berth_pb_strmap_entry));
    struct berth_pb_strmap_entry *ents = (struct berth_pb_strmap_entry *)(arr + n);

    for (size_t i = 0; i < n; i++) {
        protobuf_c_message_init(entry_desc, &ents[i]);
        ents[i].key = l->keys[i];
        ents[i].value = l->vals[i];
        arr[i] = &ents[i];
    }
    *out_entries = arr;
    *n_out = n;
}

int berth_meta_put_pb(struct berth_meta_txn *txn, const char *key, const ProtobufCMessage *msg,
                      struct berth_err **err)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    _cleanup_free_ uint8_t *buf = berth_xmalloc(len);

    protobuf_c_message_pack(msg, buf);
    return berth_meta_put(txn, key, buf, len, err);
}

int berth_meta_get_pb(struct berth_meta_txn *txn, const char *key,
                      const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
                      struct berth_err **err)
{
    struct berth_bytes val = {0};

    *out = NULL;
    if (berth_meta_get(txn, key, &val, err) < 0)
        return -1;
    *out = protobuf_c_message_unpack(desc, NULL, val.len, val.data);
    berth_bytes_clear(&val);
    if (!*out)
        return berth_meta_record_corrupt(err, key, desc->short_name);
    return 0;
}

int berth_meta_record_corrupt(struct berth_err **err, const char *key, const char *what)
{
    return berth_err_set(err, BERTH_E_DATA_LOSS, 0, "record \"%s\" is corrupt (not a valid %s)",
                         key, what);
}
