/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Garbage collection (containerd's metadata/gc.go semantics, docs/gc.md): mark every record
 * reachable from the roots (images, containers, unexpired leases, gc.root content and
 * snapshots, unexpired ingests) over a read snapshot, sweep the rest (leases, snapshot, blob
 * and ingest records) in one group-commit write, then free backend objects no record names
 * any more (blob files, ingests, backend snapshots) under the exclusive GC lock (db.h).
 * Depends on metadata/, content/store.h and the snapshotters.
 */
#ifndef BERTH_METADATA_GC_H
#define BERTH_METADATA_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "content/store.h"
#include "metadata/db.h"
#include "snapshots/snapshotter.h"

/* Label keys with GC meaning (containerd.md §4.2). */
#define BERTH_LABEL_GC_ROOT         "containerd.io/gc.root"
#define BERTH_LABEL_GC_FLAT         "containerd.io/gc.flat"
#define BERTH_LABEL_GC_REF_CONTENT  "containerd.io/gc.ref.content"
#define BERTH_LABEL_GC_REF_SNAPSHOT "containerd.io/gc.ref.snapshot."

/* The backends a pass cleans after its sweep; everything borrowed. */
struct berth_gc_backends {
    struct berth_content_store *content;           /* NULL: no content cleanup */
    struct berth_snapshotter *const *snapshotters; /* n_snapshotters opened backends */
    size_t n_snapshotters;
};

/* What one pass did. */
struct berth_gc_stats {
    /* records swept */
    size_t leases, snapshots, content, ingests;
    /* backend objects removed */
    size_t blobs, backend_ingests, backend_snapshots;
    /* Records that cannot be decoded stay in place (db.h) and keep their whole namespace from
     * being swept: they might reference anything in it. */
    size_t corrupt;            /* such metadata records the pass met */
    size_t unswept_namespaces; /* namespaces left unswept for them; SIZE_MAX: all */
    size_t corrupt_backend;    /* such snapshotter store records (left with what they hang from) */
    char first_corrupt[128];   /* one such metadata key (truncated), "" if none */
    bool remarked;      /* writes landed between mark and sweep: marked again in the writer */
    int64_t mark_ns;    /* marking over the read snapshot */
    int64_t sweep_ns;   /* inside the write transaction (what the GC added to it) */
    int64_t write_ns;   /* the whole group-commit write: queueing, sweep and commit */
    int64_t cleanup_ns; /* backend cleanup, holding the GC lock exclusive */
    int64_t total_ns;
};

/* One full pass at time now_ns (ns since the epoch: lease and ingest expiry). *stats (may be
 * NULL) is filled even on failure with what was done so far. Errors from the store
 * (INTERNAL, RESOURCE_EXHAUSTED, UNAVAILABLE while closing) fail the pass; a backend object
 * that cannot be removed (busy ingest, snapshot with children) is skipped, and so is a
 * namespace holding a record that cannot be decoded (counted in stats, the pass succeeds). */
int berth_meta_gc_run(struct berth_meta_db *db, const struct berth_gc_backends *be, int64_t now_ns,
                      struct berth_gc_stats *stats, struct berth_err **err);

/* Whether a label key is a content reference (gc.ref.content, .content.*, .content/ *). */
bool berth_gc_label_is_content_ref(const char *key);
/* If key is a snapshot reference (gc.ref.snapshot.<snapshotter>[/...]), the snapshotter's
 * name length (the name starts at key + strlen(BERTH_LABEL_GC_REF_SNAPSHOT)); else 0. */
size_t berth_gc_label_snapshot_ref(const char *key);

#endif
