/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The namespacing layer over snapshot backends (containerd's metadata/snapshot.go). Clients
 * see keys per namespace and snapshotter; each key's record "s/<ns>/<snapshotter>/<key>"
 * (berth.records.v1.Snapshot) holds kind, parent key, labels, times, children keys and the
 * backend name "<ns>/<seq>/<key>" (seq from "sseq/<snapshotter>"). Keys are not identifiers:
 * any 1-400 bytes without newline, '/' included (the key is the last key component).
 *
 * Prepare/View/Commit call the backend outside the metadata write transaction: a first write
 * checks and reserves a sequence number, the backend runs, a second write records the result
 * (Prepare/View undo the backend snapshot if that fails); both hold the GC lock shared
 * (berth_meta_gc_lock_shared) from the first write to the second. Remove only deletes the
 * record, as in containerd: the backend snapshot goes with the GC's backend pass
 * (berth_meta_snapshots_backend_gc, metadata/gc.h).
 */
#ifndef BERTH_METADATA_SNAPSHOTS_H
#define BERTH_METADATA_SNAPSHOTS_H

#include "metadata/db.h"
#include "snapshots/snapshotter.h"

#define BERTH_SNAP_KEY_MAX 400

struct berth_snapshot {          /* owns every field */
    struct berth_snap_info info; /* info.name is the client key */
    char *backend_name;
    char **children; /* keys, n_children of them */
    size_t n_children;
};
void berth_snapshot_free(struct berth_snapshot *s); /* NULL-safe */
DEFINE_CLEANUP(struct berth_snapshot *, berth_snapshot_free)
void berth_snapshots_free(struct berth_snapshot **v, size_t n); /* NULL-safe */

/* INVALID_ARGUMENT unless key is 1-400 bytes without '\n' ("what" names it: "key", ...). */
int berth_snapshot_key_validate(const char *key, const char *what, struct berth_err **err);

/* Creates an active (kind ACTIVE) or view (VIEW) snapshot key on parent (NULL/"": none) in
 * ns; labels (may be NULL) are stored, and only containerd.io/snapshot/ ones reach the backend.
 * lease (NULL/"" none) gets resource "snapshots/<snapshotter>" key. Errors: INVALID_ARGUMENT
 * (bad key/labels, parent not committed), ALREADY_EXISTS (key), NOT_FOUND (parent "parent
 * snapshot \"p\" does not exist", lease), backend errors. On success *mounts (array of *n)
 * is owned by the caller (berth_mounts_free). */
int berth_meta_snapshots_create(struct berth_meta_db *db, struct berth_snapshotter *sn,
                                const char *ns, const char *lease, enum berth_snap_kind kind,
                                const char *key, const char *parent,
                                const struct berth_labels *labels, struct berth_mount **mounts,
                                size_t *n, struct berth_err **err);
/* Mounts of key (any kind). NOT_FOUND. */
int berth_meta_snapshots_mounts(struct berth_meta_db *db, struct berth_snapshotter *sn,
                                const char *ns, const char *key, struct berth_mount **mounts,
                                size_t *n, struct berth_err **err);
/* Active key becomes committed name; labels replace its labels. NOT_FOUND (key),
 * ALREADY_EXISTS (name), FAILED_PRECONDITION (key not active), INVALID_ARGUMENT. */
int berth_meta_snapshots_commit(struct berth_meta_db *db, struct berth_snapshotter *sn,
                                const char *ns, const char *lease, const char *name,
                                const char *key, const struct berth_labels *labels,
                                struct berth_err **err);
/* Removes key's record (metadata only; the space comes back with the next GC): NOT_FOUND,
 * FAILED_PRECONDITION when it has children. Marks the write dirty for the GC scheduler. */
int berth_meta_snapshots_remove(struct berth_meta_db *db, struct berth_snapshotter *sn,
                                const char *ns, const char *lease, const char *key,
                                struct berth_err **err);
/* Usage of key from the backend (live for active snapshots). NOT_FOUND. */
int berth_meta_snapshots_usage(struct berth_meta_db *db, struct berth_snapshotter *sn,
                               const char *ns, const char *key, struct berth_snap_usage *out,
                               struct berth_err **err);

/* NOT_FOUND "snapshot \"k\" does not exist". *out owned by the caller. */
int berth_meta_snapshots_get(struct berth_meta_txn *txn, const char *ns, const char *snapshotter,
                             const char *key, struct berth_snapshot **out, struct berth_err **err);
/* Snapshots of (ns, snapshotter) matching filter (NULL: all; fields kind, name, parent,
 * labels.<k>), in key order. *out (array of *n) owned by the caller (berth_snapshots_free). */
int berth_meta_snapshots_list(struct berth_meta_txn *txn, const char *ns, const char *snapshotter,
                              const struct berth_filter *filter, struct berth_snapshot ***out,
                              size_t *n, struct berth_err **err);
/* Labels update (paths "labels" / "labels.<k>"; none: replace all). Writer transactions.
 * NOT_FOUND, INVALID_ARGUMENT for other paths or oversized labels. *out (may be NULL) gets
 * the updated record. */
int berth_meta_snapshots_update(struct berth_meta_txn *txn, const char *ns, const char *snapshotter,
                                const struct berth_snap_info *info, char *const *paths, size_t n,
                                struct berth_snapshot **out, struct berth_err **err);

/* GC sweep: deletes key's record whatever its children and drops it from its parent's children
 * (a parent already gone is fine). Writer transactions. NOT_FOUND if absent. */
int berth_meta_snapshots_sweep(struct berth_meta_txn *txn, const char *ns, const char *snapshotter,
                               const char *key, struct berth_err **err);

/* GC hooks. Calls fn(name, false, arg) for every backend name of snapshotter referenced by any
 * namespace (name borrowed for the call; fn returns 0 to go on). A record that cannot be
 * decoded is reported (berth_meta_txn_report_corrupt) and yields fn("<ns>/", true, arg): its
 * backend name is lost but starts with that, so every name with that prefix counts as
 * referenced. */
typedef int (*berth_meta_snap_name_fn)(const char *name, bool prefix, void *arg,
                                       struct berth_err **err);
int berth_meta_snapshots_backend_names(struct berth_meta_txn *txn, const char *snapshotter,
                                       berth_meta_snap_name_fn fn, void *arg,
                                       struct berth_err **err);
/* Removes every backend snapshot of sn no namespace references (children first; ones that
 * still have children are skipped), then runs the backend's cleanup. *n_removed (may be NULL)
 * gets the count, *n_corrupt (may be NULL) how many backend records could not be decoded
 * (those, and what they hang from, are left alone). The caller must keep Prepare/View/Commit
 * out while it runs (their backend snapshot exists before its record does): this is for the
 * GC, which holds that lock. */
int berth_meta_snapshots_backend_gc(struct berth_meta_db *db, struct berth_snapshotter *sn,
                                    size_t *n_removed, size_t *n_corrupt, struct berth_err **err);

#endif
