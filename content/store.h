/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Content store: blobs addressed by digest under <dir>/blobs/sha256/<hex> (design.md §2,
 * <root>/content) and resumable ingests under <dir>/ingest/<sha256 of ref>/ holding "data",
 * "ref", "total", "startedat", "updatedat" and "expiresat". A blob only becomes visible once
 * its size and digest are verified; it is written to the ingest and renamed into blobs/.
 * An ingest is locked by at most one writer at a time (in-process table plus flock, so a
 * crashed writer's lock disappears with it). Depends only on lib/. Namespaced records of
 * blobs live in metadata/content.h; this store is global, as containerd's.
 */
#ifndef BERTH_CONTENT_STORE_H
#define BERTH_CONTENT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/util.h"

/* Default lifetime of an ingest that no lease holds (containerd: 24 h). */
#define BERTH_CONTENT_INGEST_EXPIRY_NS (24LL * 3600 * 1000000000LL)

struct berth_content_store;

/* Opens (creating dir, dir/blobs/sha256 and dir/ingest as needed) the store rooted at dir.
 * INTERNAL on I/O failure. *out is owned by the caller: berth_content_store_close. */
int berth_content_store_open(const char *dir, struct berth_content_store **out,
                             struct berth_err **err);
/* NULL-safe. Writers must be closed first. */
void berth_content_store_close(struct berth_content_store *s);
DEFINE_CLEANUP(struct berth_content_store *, berth_content_store_close)
/* The root directory (borrowed, lives as long as s). */
const char *berth_content_store_dir(const struct berth_content_store *s);

/* Opens the blob for digest. INVALID_ARGUMENT for a malformed digest, NOT_FOUND if the blob
 * file is absent. *fd is O_RDONLY|O_CLOEXEC, owned by the caller; *size its length. */
int berth_content_blob_open(struct berth_content_store *s, const char *digest, int *fd,
                            int64_t *size, struct berth_err **err);
/* Size of a blob without opening it. NOT_FOUND if absent. */
int berth_content_blob_stat(struct berth_content_store *s, const char *digest, int64_t *size,
                            struct berth_err **err);
/* Removes the blob file (GC). NOT_FOUND if absent. */
int berth_content_blob_delete(struct berth_content_store *s, const char *digest,
                              struct berth_err **err);
/* Every blob digest in the store ("sha256:<hex>", sorted). *out is a NULL-terminated vector
 * owned by the caller (berth_strv_free). */
int berth_content_blob_list(struct berth_content_store *s, char ***out, struct berth_err **err);

/* State of an ingest, as containerd's content.Status. */
struct berth_content_status {
    char *ref;      /* backend ref "<ns>/<client ref>" */
    int64_t offset; /* bytes written so far */
    int64_t total;  /* expected size, 0 if unknown */
    char *expected; /* expected digest or NULL */
    int64_t started_ns, updated_ns;
    int64_t expires_ns; /* 0 if the ingest never expires (held by a lease) */
};
void berth_content_status_clear(struct berth_content_status *st);
void berth_content_statuses_free(struct berth_content_status *v, size_t n);

/* Status of the ingest for ref. NOT_FOUND if there is none. st is filled (caller clears). */
int berth_content_ingest_status(struct berth_content_store *s, const char *ref,
                                struct berth_content_status *st, struct berth_err **err);
/* Every ingest whose ref starts with prefix (NULL/"" for all), sorted by ref. *out (array
 * of *n) is owned by the caller: berth_content_statuses_free. */
int berth_content_ingest_list(struct berth_content_store *s, const char *prefix,
                              struct berth_content_status **out, size_t *n, struct berth_err **err);
/* Removes the ingest for ref. NOT_FOUND if there is none, UNAVAILABLE if a writer holds it. */
int berth_content_ingest_abort(struct berth_content_store *s, const char *ref,
                               struct berth_err **err);
/* Sets (0 = never) the expiry recorded for ref's ingest. NOT_FOUND if there is none. */
int berth_content_ingest_set_expiry(struct berth_content_store *s, const char *ref,
                                    int64_t expires_ns, struct berth_err **err);

struct berth_content_writer; /* a resumable ingest, locked while open */

/* Opens or resumes the ingest for ref (the backend ref "<ns>/<client ref>"); a new ingest
 * records total (0 = unknown) and expected (NULL/"" = none) and expires after 24 h.
 * INVALID_ARGUMENT for an empty ref or a malformed expected digest; ALREADY_EXISTS if expected
 * is already a blob; UNAVAILABLE if another writer holds the ref ("ref ... locked"). *out is
 * owned by the caller: berth_content_writer_close or _commit. */
int berth_content_writer_open(struct berth_content_store *s, const char *ref, int64_t total,
                              const char *expected, struct berth_content_writer **out,
                              struct berth_err **err);
/* Writes data at offset, which must equal the current offset, except that 0 truncates the
 * ingest and starts over. OUT_OF_RANGE on another offset. */
int berth_content_writer_write(struct berth_content_writer *w, int64_t offset, const void *data,
                               size_t len, struct berth_err **err);
/* Current offset / status of the ingest. */
int berth_content_writer_status(struct berth_content_writer *w, struct berth_content_status *st,
                                struct berth_err **err);
const char *berth_content_writer_ref(const struct berth_content_writer *w);
/* "sha256:<hex>" of the bytes written so far, into buf. */
void berth_content_writer_digest(const struct berth_content_writer *w, char buf[72]);
/* Updates the total the ingest expects (0 leaves it unchanged). */
int berth_content_writer_truncate_total(struct berth_content_writer *w, int64_t total,
                                        struct berth_err **err);
/* Verifies size (if > 0, else the recorded total if > 0) and the expected digest (if
 * non-NULL/"", else the recorded one), fsyncs, renames into blobs/ atomically and removes the
 * ingest. FAILED_PRECONDITION on a size or digest mismatch (the writer stays open and the
 * ingest intact). ALREADY_EXISTS if the blob already exists (the ingest is removed). On
 * success and on ALREADY_EXISTS the writer is consumed (freed) and *digest_out (malloc'd,
 * caller-owned) is the digest; on other errors w stays valid and must still be closed. */
int berth_content_writer_commit(struct berth_content_writer *w, int64_t size, const char *expected,
                                char **digest_out, struct berth_err **err);
/* Releases the lock and frees w, keeping the partial ingest on disk. NULL-safe. */
void berth_content_writer_close(struct berth_content_writer *w);
DEFINE_CLEANUP(struct berth_content_writer *, berth_content_writer_close)

#endif
