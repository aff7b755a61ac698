/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the record modules: protobuf Any values kept byte for byte, conversion of
 * labels to and from protobuf-c map entries, and packing a record into the store.
 */
#ifndef BERTH_METADATA_RECORD_H
#define BERTH_METADATA_RECORD_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "google/protobuf/any.pb-c.h"
#include "lib/labels.h"
#include "lib/util.h"
#include "metadata/db.h"

/* A google.protobuf.Any as the client sent it. present=false means "absent", which is not
 * the same as present with an empty value (ctr's runc options). */
struct berth_any {
    bool present;
    char *type_url;
    struct berth_bytes value;
};
void berth_any_clear(struct berth_any *a);
void berth_any_copy(struct berth_any *dst, const struct berth_any *src);

/* pb may be NULL (absent). Copies. */
void berth_any_from_pb(struct berth_any *dst, const Google__Protobuf__Any *pb);
/* Fills *pb borrowing from a; returns pb, or NULL if a is absent. */
Google__Protobuf__Any *berth_any_to_pb(const struct berth_any *a, Google__Protobuf__Any *pb);

/* A generic protobuf string map entry: generated *Entry structs share this layout. */
struct berth_pb_strmap_entry {
    ProtobufCMessage base;
    char *key;
    char *value;
};
/* Copies entries into l (which is cleared first). INVALID_ARGUMENT on a repeated key is not
 * raised: the last value wins, as protobuf map semantics say. */
void berth_labels_from_pb(struct berth_labels *l, void *const *entries, size_t n);
/* Builds an array of entries borrowing l's strings. *out_entries and the array of entry
 * structs are allocated in one block: free(*out_entries) releases both. */
void berth_labels_to_pb(const struct berth_labels *l, const ProtobufCMessageDescriptor *entry_desc,
                        void ***out_entries, size_t *n_out);

/* Packs msg and stores it under key. */
int berth_meta_put_pb(struct berth_meta_txn *txn, const char *key, const ProtobufCMessage *msg,
                      struct berth_err **err);
/* Loads key and unpacks it with desc; NOT_FOUND if absent, DATA_LOSS if its value cannot be
 * decoded. *out is owned by the caller (protobuf_c_message_free_unpacked). */
int berth_meta_get_pb(struct berth_meta_txn *txn, const char *key,
                      const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
                      struct berth_err **err);

/* Sets *err to DATA_LOSS "record \"<key>\" is corrupt (not a valid <what>)", returns -1: how a
 * get of a record whose value cannot be decoded fails. Listings skip such a record instead and
 * report it (berth_meta_txn_report_corrupt). */
int berth_meta_record_corrupt(struct berth_err **err, const char *key, const char *what);

#endif
