/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A backend snapshotter's own metastore: one LMDB environment in <backend root>/metadata/,
 * separate from berthd's main store. Keys:
 *   seq                               last id handed out (decimal)
 *   s/<name>                          berth.records.v1.BackendSnapshot (id, kind, parent, ...)
 *   p/<parent id %020>/<child id %020> child name (children index, one prefix scan)
 * Ids come from the sequence, name the snapshot's directory and survive Commit. Calls run in a
 * caller-owned transaction; LMDB serialises writers, so backends need no lock of their own.
 */
#ifndef BERTH_SNAPSHOTS_STORAGE_H
#define BERTH_SNAPSHOTS_STORAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "snapshots/snapshotter.h"

struct berth_snap_store;     /* opaque */
struct berth_snap_store_txn; /* opaque */

/* One backend record. */
struct berth_snap_rec {
    uint64_t id;
    struct berth_snap_info info; /* name, parent, kind, labels, times */
    int64_t size, inodes;        /* recorded at commit */
};
void berth_snap_rec_clear(struct berth_snap_rec *r); /* leaves it zeroed */

/* Opens (creating) the store in dir. *out owned by the caller (berth_snap_store_close). */
int berth_snap_store_open(const char *dir, struct berth_snap_store **out, struct berth_err **err);
void berth_snap_store_close(struct berth_snap_store *st); /* NULL-safe */

int berth_snap_store_txn_begin(struct berth_snap_store *st, bool write,
                               struct berth_snap_store_txn **out, struct berth_err **err);
/* Always consumes txn. */
int berth_snap_store_txn_commit(struct berth_snap_store_txn *txn, struct berth_err **err);
void berth_snap_store_txn_abort(struct berth_snap_store_txn *txn); /* NULL-safe */
DEFINE_CLEANUP(struct berth_snap_store_txn *, berth_snap_store_txn_abort)

/* NOT_FOUND "snapshot \"name\" does not exist", DATA_LOSS if its record cannot be decoded.
 * *out filled on success (clear it). */
int berth_snap_store_get(struct berth_snap_store_txn *txn, const char *name,
                         struct berth_snap_rec *out, struct berth_err **err);
/* Creates name (active or view) on parent (NULL/"" = none) with a fresh id. ALREADY_EXISTS if
 * taken, NOT_FOUND for a missing parent, INVALID_ARGUMENT if the parent is not committed or
 * name is empty. On success *out holds the new record and *parent_ids (may be NULL) the ids of
 * the parent chain, nearest first (array of *n_parents, free()). */
int berth_snap_store_create(struct berth_snap_store_txn *txn, const char *name, const char *parent,
                            enum berth_snap_kind kind, const struct berth_labels *labels,
                            struct berth_snap_rec *out, uint64_t **parent_ids, size_t *n_parents,
                            struct berth_err **err);
/* Ids of name's parent chain, nearest first (not including name). */
int berth_snap_store_parent_ids(struct berth_snap_store_txn *txn, const char *name, uint64_t **ids,
                                size_t *n, struct berth_err **err);
/* Active key becomes committed name (same id) with usage recorded; labels (NULL = keep)
 * replace its labels. NOT_FOUND, ALREADY_EXISTS for name, FAILED_PRECONDITION if key is not
 * active. *id_out (may be NULL) gets the id. */
int berth_snap_store_commit(struct berth_snap_store_txn *txn, const char *name, const char *key,
                            const struct berth_labels *labels, const struct berth_snap_usage *u,
                            uint64_t *id_out, struct berth_err **err);
/* Deletes name's record. NOT_FOUND, FAILED_PRECONDITION when it has children. *out (may be
 * NULL) gets the removed record. */
int berth_snap_store_remove(struct berth_snap_store_txn *txn, const char *name,
                            struct berth_snap_rec *out, struct berth_err **err);
/* Labels update (see berth_snapshotter_ops.update). */
int berth_snap_store_update(struct berth_snap_store_txn *txn, const struct berth_snap_info *info,
                            char *const *paths, size_t n, struct berth_snap_info *out,
                            struct berth_err **err);
/* Calls fn for each record in name order (rec borrowed for the call; 1 stops). A record that
 * cannot be decoded is left in place and walked with only its name (kind UNKNOWN, id 0): the
 * others still show, and callers must not act on what they cannot know about it. */
typedef int (*berth_snap_store_walk_fn)(const struct berth_snap_rec *rec, void *arg,
                                        struct berth_err **err);
int berth_snap_store_walk(struct berth_snap_store_txn *txn, berth_snap_store_walk_fn fn, void *arg,
                          struct berth_err **err);
/* True if some record has id (or may have it: a record that cannot be decoded). */
bool berth_snap_store_id_used(struct berth_snap_store_txn *txn, uint64_t id);

#endif
