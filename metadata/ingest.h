/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A namespaced content ingest (containerd's metadata/content.go namespacedWriter): the one
 * way berthd puts a blob into a namespace, used by the Content service's Write, the diff
 * service, image import and the puller. It ties together what each of them needs: the GC lock
 * (db.h) while a blob exists without a record naming it, the content store's writer
 * (content/store.h, backend ref "<ns>/<ref>"), the namespace's ingest and blob records
 * (metadata/content.h) and the lease holding them (metadata/leases.h).
 *
 * Sharing (containerd's default content_sharing_policy "shared"): an ingest opened with an
 * expected digest that only the store holds (another namespace's blob, or one no record names)
 * opens no backend writer. Its ingest record names the digest, which keeps the blob from the GC
 * while the record lives; its status reports offset = total = the blob's size, and its commit
 * records the blob in the namespace without any data. A write to it first copies the blob's
 * bytes into a real backend writer (createAndCopy) and goes on from there.
 *
 * Different refs may be written from different threads at once; one writer is used by one
 * thread at a time. A second writer on a ref that a backend writer holds is UNAVAILABLE
 * ("ref ... locked"); shared writers lock nothing until they copy.
 */
#ifndef BERTH_METADATA_INGEST_H
#define BERTH_METADATA_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "content/store.h"
#include "lib/labels.h"
#include "metadata/db.h"

struct berth_meta_ingest; /* opaque: a namespaced writer */

struct berth_meta_ingest_opts { /* all borrowed for the open call only */
    const char *ns;             /* required */
    const char *lease;          /* NULL/"": none, the ingest record expires in 24 h */
    const char *ref;            /* client ref, required; the backend ref is "<ns>/<ref>" */
    int64_t total;              /* expected size, 0 unknown */
    const char *expected;       /* expected digest, NULL/"" none */
    /* true: the ingest record and the backend ingest expire in 24 h even when a lease holds
     * them, so a partial ingest survives the lease (berthd releases its own in-flight leases
     * at start-up) and a later writer can resume it. */
    bool keep_expiry;
};

/*
 * Opens (or resumes) the ingest o->ref of o->ns. With an expected digest that the namespace
 * already holds, the blob is attached to the lease and the call fails with ALREADY_EXISTS
 * ("content <digest>"), as containerd's. With one only the store holds and a total of 0 or the
 * blob's size, the writer is shared (see above). Otherwise the ingest is recorded (held by
 * the lease) and then the backend writer opened, so a missing lease leaves nothing on disk.
 * Errors: INVALID_ARGUMENT (empty ns or ref, negative total, malformed expected digest),
 * NOT_FOUND "lease ... does not exist", UNAVAILABLE "ref ... locked", the store's errors.
 * *out is owned by the caller: berth_meta_ingest_commit or berth_meta_ingest_close.
 */
int berth_meta_ingest_open(struct berth_meta_db *db, struct berth_content_store *cs,
                           const struct berth_meta_ingest_opts *o, struct berth_meta_ingest **out,
                           struct berth_err **err);

/* Writes len bytes at offset, as berth_content_writer_write: offset must be the current one,
 * except that 0 starts the ingest over (OUT_OF_RANGE otherwise). On a shared writer an empty
 * write at the current offset does nothing; any other write first copies the blob's bytes
 * (none for offset 0) into a backend writer, which the writer then keeps: UNAVAILABLE if
 * another writer holds the ref, NOT_FOUND if the blob is gone. */
int berth_meta_ingest_write(struct berth_meta_ingest *w, int64_t offset, const void *data,
                            size_t len, struct berth_err **err);
/* The ingest's status (st filled, the caller clears it): the backend writer's, or for a shared
 * writer offset = total = the blob's size and started = updated = the open time. st->ref is
 * the backend ref. */
int berth_meta_ingest_status(struct berth_meta_ingest *w, struct berth_content_status *st,
                             struct berth_err **err);
/* "sha256:<hex>" of the bytes so far (a shared writer: its expected digest), into buf. */
void berth_meta_ingest_digest(const struct berth_meta_ingest *w, char buf[72]);
/* Updates the total the backend ingest expects (0 leaves it); nothing on a shared writer. */
int berth_meta_ingest_truncate_total(struct berth_meta_ingest *w, int64_t total,
                                     struct berth_err **err);
/* Whether w is a shared writer that has not copied anything yet. */
bool berth_meta_ingest_is_shared(const struct berth_meta_ingest *w);

/*
 * Commits: verifies size (if > 0) and expected (if non-NULL/"", else the ingest's own) as
 * berth_content_writer_commit does, moves the bytes into the store (a shared writer has none
 * to move), then in one transaction forgets the ingest record, records the blob in the
 * namespace with labels (borrowed; NULL none) and attaches it to the lease; all of it under
 * the GC lock shared, so the GC never sees the blob unnamed. If the namespace already held the
 * digest its record is left as it was, *existed_out (may be NULL) is set to true and the call
 * fails with ALREADY_EXISTS ("content <digest>"), the lease still holding the blob.
 * Other errors: FAILED_PRECONDITION on a size or digest mismatch, INVALID_ARGUMENT for bad
 * labels, NOT_FOUND if a shared writer's blob vanished or the lease is missing, the stores'
 * errors. On success and on ALREADY_EXISTS w is consumed (freed) and *digest_out (malloc'd,
 * caller-owned) is the digest; on other errors w stays valid (a retry after a failed record
 * write only repeats that write) and must still be committed or closed.
 */
int berth_meta_ingest_commit(struct berth_meta_ingest *w, int64_t size, const char *expected,
                             const struct berth_labels *labels, char **digest_out,
                             bool *existed_out, struct berth_err **err);

/* Frees w, keeping the partial ingest and its record for a later resume. NULL-safe. */
void berth_meta_ingest_close(struct berth_meta_ingest *w);
DEFINE_CLEANUP(struct berth_meta_ingest *, berth_meta_ingest_close)

/* Drops ns's ingest ref: the backend ingest, the ingest record and the lease's hold on it
 * (lease NULL/"": none). NOT_FOUND if neither the backend ingest nor the record exists,
 * UNAVAILABLE if a writer holds the ref. */
int berth_meta_ingest_abort(struct berth_meta_db *db, struct berth_content_store *cs,
                            const char *ns, const char *lease, const char *ref,
                            struct berth_err **err);

/* Records a blob the store already holds in ns (unless ns holds it already) with labels
 * (borrowed; NULL none; an existing record keeps its own) and attaches it to the lease, under
 * the GC lock as above: import's "the archive names a blob the store has". size 0 accepts any
 * size, another one must be the blob's (FAILED_PRECONDITION). NOT_FOUND if the store lacks the
 * blob or the lease is missing, INVALID_ARGUMENT for a malformed digest. */
int berth_meta_content_adopt(struct berth_meta_db *db, struct berth_content_store *cs,
                             const char *ns, const char *lease, const char *digest, int64_t size,
                             const struct berth_labels *labels, struct berth_err **err);

#endif
