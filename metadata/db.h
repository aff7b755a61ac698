/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The metadata store: one LMDB environment under <root>/metadata/, one unnamed database with
 * string keys (schema in docs/metadata-schema.md). Reads use their own read-only transaction
 * and never wait. All writes go through the group-commit writer (berth_meta_update): a single
 * thread applies queued mutations in one transaction, each in its own nested transaction so a
 * failing one fails alone, and commits once (one fsync) for the whole batch.
 */
#ifndef BERTH_METADATA_DB_H
#define BERTH_METADATA_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/metrics.h"
#include "lib/util.h"

struct berth_meta_db;  /* opaque */
struct berth_meta_txn; /* opaque; read-only or a writer's nested transaction */

#define BERTH_META_SCHEMA_VERSION 1

struct berth_meta_opts {
    size_t map_size;  /* bytes; 0 = default (8 GiB, sparse) */
    size_t max_batch; /* mutations per group commit; 0 = default (256) */
    bool no_sync;     /* tests only: skip fsync on commit */
    /* Metrics, borrowed (NULL: none): the mutations of each group commit, and the time each
     * commit takes (LMDB's write-out and fsync). They must outlive the store. */
    struct berth_histogram *batch_size;
    struct berth_histogram *commit_seconds;
};

/* Opens (creating if needed) the store in dir, checks the schema version, runs migrations and
 * starts the writer thread. FAILED_PRECONDITION if the store was written by a newer schema.
 * *out is owned by the caller; close it with berth_meta_db_close. */
int berth_meta_db_open(const char *dir, const struct berth_meta_opts *opts,
                       struct berth_meta_db **out, struct berth_err **err);
/* Waits for queued writes, stops the writer and closes the environment. NULL-safe. */
void berth_meta_db_close(struct berth_meta_db *db);

/* Begins a read-only snapshot transaction. *out owned by the caller: end it with
 * berth_meta_txn_abort. */
int berth_meta_txn_begin_read(struct berth_meta_db *db, struct berth_meta_txn **out,
                              struct berth_err **err);
/* Ends a read transaction (NULL-safe). Must not be called on a writer's transaction. */
void berth_meta_txn_abort(struct berth_meta_txn *txn);
DEFINE_CLEANUP(struct berth_meta_txn *, berth_meta_txn_abort)
#define _cleanup_txn_ _cleanup_(berth_meta_txn_abortp)

/* A mutation: runs on the writer thread inside a nested transaction. Return 0 to keep its
 * changes or -1 with *err set to discard them. It must not block on anything but the store. */
typedef int (*berth_meta_update_fn)(struct berth_meta_txn *txn, void *arg, struct berth_err **err);

/* Queues fn, waits until the batch holding it is durably committed and returns fn's result.
 * If the batch commit itself fails every mutation in it fails with that error
 * (RESOURCE_EXHAUSTED for a full map). UNAVAILABLE after berth_meta_db_close started. */
int berth_meta_update(struct berth_meta_db *db, berth_meta_update_fn fn, void *arg,
                      struct berth_err **err);

/* Key/value access inside a transaction. Values returned by get/scan are copied into caller
 * memory (get) or borrowed only for the duration of the callback (scan). */
/* NOT_FOUND if absent. On success *out owns a copy of the value. */
int berth_meta_get(struct berth_meta_txn *txn, const char *key, struct berth_bytes *out,
                   struct berth_err **err);
/* True if the key exists (errors count as absent). */
bool berth_meta_exists(struct berth_meta_txn *txn, const char *key);
/* Writer transactions only. */
int berth_meta_put(struct berth_meta_txn *txn, const char *key, const void *val, size_t len,
                   struct berth_err **err);
/* NOT_FOUND if absent. Writer transactions only. */
int berth_meta_del(struct berth_meta_txn *txn, const char *key, struct berth_err **err);

/* Deletes every key starting with prefix (non-empty); *n_out (may be NULL) gets how many.
 * Writer transactions only. */
int berth_meta_del_prefix(struct berth_meta_txn *txn, const char *prefix, size_t *n_out,
                          struct berth_err **err);

/* Calls cb for every key starting with prefix, in key order. cb returns 0 to go on, 1 to stop,
 * -1 (with *err) to fail. key/val are borrowed for the call only (key is NUL-terminated). */
typedef int (*berth_meta_scan_fn)(const char *key, const void *val, size_t len, void *arg,
                                  struct berth_err **err);
int berth_meta_scan(struct berth_meta_txn *txn, const char *prefix, berth_meta_scan_fn cb,
                    void *arg, struct berth_err **err);
/* Like berth_meta_scan, starting strictly after key `after` (NULL or "": from the start of the
 * prefix). Lets long listings run in pages, each in a short read transaction. */
int berth_meta_scan_after(struct berth_meta_txn *txn, const char *prefix, const char *after,
                          berth_meta_scan_fn cb, void *arg, struct berth_err **err);
/* True if any key starts with prefix. */
bool berth_meta_has_prefix(struct berth_meta_txn *txn, const char *prefix);

/* The server identity: a random UUID created on first open and kept in the store. Borrowed
 * for the life of db. */
const char *berth_meta_db_uuid(const struct berth_meta_db *db);

/* Statistics of the group-commit writer (for tests and logs). */
struct berth_meta_stats {
    uint64_t commits;   /* top-level transactions committed */
    uint64_t mutations; /* mutations applied (successful or not) */
    uint64_t max_batch; /* largest batch seen */
};
void berth_meta_db_stats(struct berth_meta_db *db, struct berth_meta_stats *out);

/* ---- records that cannot be decoded ---- */

/* A value that does not decode stays in place (a future fsck deals with it): listings and the
 * GC skip it and report it here, a get of its key fails with DATA_LOSS. */
/* Called for each skipped record; key is borrowed for the call. Runs on the thread that read
 * it, possibly the writer's: must not block or touch the store. */
typedef void (*berth_meta_corrupt_fn)(void *arg, const char *key);
/* Installs (fn NULL: removes) the store-wide hook (berthd logs from it, rate-limited). Same
 * rule as berth_meta_db_set_write_hook: set it before reads start. */
void berth_meta_db_set_corrupt_hook(struct berth_meta_db *db, berth_meta_corrupt_fn fn, void *arg);
/* Records skipped since open; a record counts again each time a listing meets it. */
uint64_t berth_meta_db_corrupt_skips(struct berth_meta_db *db);
/* Sends txn's reports to fn (NULL: back to the store's hook) instead of the store's hook: the
 * GC collects them for its own pass. */
void berth_meta_txn_set_corrupt_hook(struct berth_meta_txn *txn, berth_meta_corrupt_fn fn,
                                     void *arg);
/* For the record modules: key was skipped because its value cannot be decoded. */
void berth_meta_txn_report_corrupt(struct berth_meta_txn *txn, const char *key);

/* ---- garbage collection support (metadata/gc.h) ---- */

/* Marks the running mutation as one that may have made something collectable (a record or
 * a reference deleted). Only meaningful on a writer's transaction; a no-op on reads. */
void berth_meta_txn_mark_dirty(struct berth_meta_txn *txn);
/* Called by the writer thread after every committed batch with the number of successful
 * mutations in it and how many of them were marked dirty. Must not block or write. */
typedef void (*berth_meta_write_fn)(void *arg, size_t mutations, size_t dirty);
/* Installs (fn NULL: removes) the hook. Not thread-safe against a running hook: set it before
 * writes start and clear it only after they stopped. */
void berth_meta_db_set_write_hook(struct berth_meta_db *db, berth_meta_write_fn fn, void *arg);
/* The LMDB transaction id of a read snapshot (the last commit it sees). */
uint64_t berth_meta_txn_snapshot_id(struct berth_meta_txn *txn);
/* True when txn is a writer's transaction that sees exactly the state the read snapshot with id
 * snap_id saw: no commit since it and no earlier successful mutation in the running batch. */
bool berth_meta_txn_unchanged_since(struct berth_meta_txn *txn, uint64_t snap_id);

/* The GC lock. Code that creates a backend object (snapshot, blob) before the metadata record
 * naming it exists holds it shared from the backend call until the record is committed; the
 * GC's backend cleanup holds it exclusive, so it never sees such an object as unreferenced.
 * Writer-preferring; never take it shared twice on one thread. */
void berth_meta_gc_lock_shared(struct berth_meta_db *db);
void berth_meta_gc_lock_exclusive(struct berth_meta_db *db);
void berth_meta_gc_unlock(struct berth_meta_db *db);

#endif
