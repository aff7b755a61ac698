/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Namespaced content ingest (see ingest.h). Records change only through the group-commit
 * writer; the backend writer is opened and committed outside it. The GC lock is held shared
 * from "the blob is in the store" (a stat, or the backend commit) until the transaction that
 * names it has committed, and never across client I/O: a shared writer's blob is kept by its
 * ingest record instead (metadata/gc.c reads the record's expected digest).
 */
#include "metadata/ingest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/digest.h"
#include "metadata/content.h"
#include "metadata/leases.h"

#define COPY_CHUNK (1 << 20)

struct berth_meta_ingest {
    struct berth_meta_db *db;       /* borrowed */
    struct berth_content_store *cs; /* borrowed */
    char *ns, *lease, *ref, *bref;
    char *expected; /* NULL: none */
    int64_t total;  /* what the opener asked for, 0 unknown */
    bool keep_expiry;
    /* The backend writer; NULL while the writer is shared (or after the backend commit). */
    struct berth_content_writer *w;
    bool shared;
    int64_t blob_size, started_ns; /* shared: the blob's size, the open time */
    /* Set once the bytes are in the store but the records are not written yet. */
    char *committed;
    int64_t committed_size;
};

static bool has(const char *s)
{
    return s && *s;
}

/* Expiry of the ingest record and the backend ingest: 0 (never) when a lease holds them,
 * unless the opener wants them to outlive the lease. */
static int64_t ingest_expiry(const struct berth_meta_ingest *w)
{
    if (has(w->lease) && !w->keep_expiry)
        return 0;
    return berth_now_ns() + BERTH_CONTENT_INGEST_EXPIRY_NS;
}

void berth_meta_ingest_close(struct berth_meta_ingest *w)
{
    if (!w)
        return;
    berth_content_writer_close(w->w);
    free(w->ns);
    free(w->lease);
    free(w->ref);
    free(w->bref);
    free(w->expected);
    free(w->committed);
    free(w);
}

/* ---- transactions ---- */

struct open_op {
    struct berth_meta_ingest *w;
    bool in_store; /* the store holds expected with a usable size: share it */
    bool exists;   /* out: the namespace holds expected */
};

static int open_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct open_op *op = arg;
    struct berth_meta_ingest *w = op->w;
    _cleanup_(berth_content_info_freep) struct berth_content_info *cur = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    struct berth_content_ingest in = {.ref = w->ref, .expires_ns = ingest_expiry(w)};

    op->exists = false; /* a retried batch runs this again */
    if (w->expected) {
        if (berth_meta_content_get(txn, w->ns, w->expected, &cur, &e) == 0) {
            /* Hold it in the lease before saying it exists, so the caller can rely on it. */
            op->exists = true;
            return berth_meta_leases_attach(txn, w->ns, w->lease, BERTH_LEASE_RES_CONTENT,
                                            w->expected, err);
        }
        if (e->code != BERTH_E_NOT_FOUND)
            return *err = steal_ptr(e), -1;
    }
    if (op->in_store)
        in.expected = w->expected;
    if (berth_meta_leases_attach(txn, w->ns, w->lease, BERTH_LEASE_RES_INGESTS, w->ref, err) < 0)
        return -1;
    return berth_meta_content_ingest_put(txn, w->ns, &in, err);
}

/* The ingest is gone (committed or aborted): forget its record (absent is fine) and the
 * lease's hold on it. *had (may be NULL) tells whether there was a record. */
static int forget(struct berth_meta_txn *txn, const char *ns, const char *lease, const char *ref,
                  bool *had, struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;

    if (had)
        *had = true;
    if (berth_meta_content_ingest_delete(txn, ns, ref, &e) < 0) {
        if (e->code != BERTH_E_NOT_FOUND)
            return *err = steal_ptr(e), -1;
        if (had)
            *had = false;
    }
    return berth_meta_leases_detach(txn, ns, lease, BERTH_LEASE_RES_INGESTS, ref, err);
}

struct record_op {
    const char *ns, *lease, *ref; /* ref NULL: no ingest to forget */
    const char *digest;
    int64_t size;
    const struct berth_labels *labels;
    bool existed; /* out */
};

/* The blob is in the store: forget the ingest, record the blob unless the namespace has it,
 * hold it in the lease either way (containerd does so even for content that existed). */
static int record_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct record_op *op = arg;
    _cleanup_(berth_content_info_freep) struct berth_content_info *cur = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    op->existed = false;
    if (op->ref && forget(txn, op->ns, op->lease, op->ref, NULL, err) < 0)
        return -1;
    if (berth_meta_content_get(txn, op->ns, op->digest, &cur, &e) == 0) {
        op->existed = true;
    } else if (e->code != BERTH_E_NOT_FOUND) {
        return *err = steal_ptr(e), -1;
    } else {
        struct berth_content_info info = {.digest = (char *)op->digest, .size = op->size};
        if (op->labels)
            info.labels = *op->labels; /* borrowed: put copies what it stores */
        if (berth_meta_content_put(txn, op->ns, &info, err) < 0)
            return -1;
    }
    return berth_meta_leases_attach(txn, op->ns, op->lease, BERTH_LEASE_RES_CONTENT, op->digest,
                                    err);
}

/* ---- open ---- */

int berth_meta_ingest_open(struct berth_meta_db *db, struct berth_content_store *cs,
                           const struct berth_meta_ingest_opts *o, struct berth_meta_ingest **out,
                           struct berth_err **err)
{
    _cleanup_(berth_meta_ingest_closep) struct berth_meta_ingest *w = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    struct open_op op = {0};
    bool stored = false; /* the store holds expected, whatever its size */
    int64_t size = 0;
    int ret;

    *out = NULL;
    if (!has(o->ns))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "namespace must not be empty");
    if (!has(o->ref))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "ref must not be empty");
    if (o->total < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "ref \"%s\": negative total %" PRId64, o->ref, o->total);
    if (has(o->expected) && berth_digest_validate(o->expected, err) < 0)
        return -1;
    w = berth_xcalloc(1, sizeof(*w));
    w->db = db;
    w->cs = cs;
    w->ns = berth_xstrdup(o->ns);
    w->lease = has(o->lease) ? berth_xstrdup(o->lease) : NULL;
    w->ref = berth_xstrdup(o->ref);
    w->bref = berth_strdup_printf("%s/%s", o->ns, o->ref);
    w->expected = has(o->expected) ? berth_xstrdup(o->expected) : NULL;
    w->total = o->total;
    w->keep_expiry = o->keep_expiry;
    op.w = w;
    if (w->expected) {
        /* From seeing the blob until the ingest record naming it is committed. */
        berth_meta_gc_lock_shared(db);
        if (berth_content_blob_stat(cs, w->expected, &size, &e) == 0) {
            stored = true;
            op.in_store = o->total == 0 || o->total == size;
        } else if (e->code != BERTH_E_NOT_FOUND && e->code != BERTH_E_INVALID_ARGUMENT) {
            /* INVALID_ARGUMENT: a digest algorithm the store cannot hold, so it has none */
            berth_meta_gc_unlock(db);
            return *err = steal_ptr(e), -1;
        }
        ret = berth_meta_update(db, open_cb, &op, err);
        berth_meta_gc_unlock(db);
    } else {
        ret = berth_meta_update(db, open_cb, &op, err);
    }
    if (ret < 0)
        return -1;
    if (op.exists)
        return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "content %s", w->expected);
    if (op.in_store) {
        w->shared = true;
        w->blob_size = size;
        w->started_ns = berth_now_ns();
        *out = steal_ptr(w);
        return 0;
    }
    /* The backend refuses an expected digest it already holds; the commit checks it anyway. */
    berth_err_free(&e);
    if (berth_content_writer_open(cs, w->bref, w->total, stored ? NULL : w->expected, &w->w, &e) <
        0) {
        if (e->code != BERTH_E_ALREADY_EXISTS) /* committed meanwhile by someone else */
            return *err = steal_ptr(e), -1;
        if (berth_content_writer_open(cs, w->bref, w->total, NULL, &w->w, err) < 0)
            return -1;
    }
    if (berth_content_ingest_set_expiry(cs, w->bref, ingest_expiry(w), err) < 0)
        return -1;
    *out = steal_ptr(w);
    return 0;
}

/* ---- a shared writer turns into a real one ---- */

/* Copies the first n bytes of the blob into the backend writer. */
static int copy_blob(struct berth_meta_ingest *w, struct berth_content_writer *bw, int64_t n,
                     struct berth_err **err)
{
    _cleanup_free_ uint8_t *buf = NULL;
    _cleanup_close_ int fd = -1;
    int64_t off = 0;

    /* The ingest record names the blob, so the GC leaves it until the copy is done. */
    if (berth_content_blob_open(w->cs, w->expected, &fd, NULL, err) < 0)
        return -1;
    buf = berth_xmalloc(COPY_CHUNK);
    while (off < n) {
        size_t want = n - off < COPY_CHUNK ? (size_t)(n - off) : COPY_CHUNK;
        ssize_t got = pread(fd, buf, want, off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "read %s", w->expected);
        if (got == 0)
            return berth_err_set(err, BERTH_E_DATA_LOSS, 0, "blob %s is shorter than %" PRId64,
                                 w->expected, n);
        if (berth_content_writer_write(bw, off, buf, (size_t)got, err) < 0)
            return -1;
        off += got;
    }
    return 0;
}

/* containerd's createAndCopy: opens the backend writer and fills it with the first n bytes
 * of the blob (0 or all of it). A leftover backend ingest of the ref starts over. */
static int unshare(struct berth_meta_ingest *w, int64_t n, struct berth_err **err)
{
    _cleanup_(berth_content_writer_closep) struct berth_content_writer *bw = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    if (berth_content_writer_open(w->cs, w->bref, w->total, NULL, &bw, err) < 0 ||
        berth_content_ingest_set_expiry(w->cs, w->bref, ingest_expiry(w), err) < 0)
        return -1;
    if (berth_content_writer_write(bw, 0, "", 0, err) < 0 || copy_blob(w, bw, n, err) < 0) {
        /* A half copy is worth nothing: drop it rather than let a resume trust it. */
        berth_content_writer_close(steal_ptr(bw));
        (void)berth_content_ingest_abort(w->cs, w->bref, &e);
        return -1;
    }
    w->w = steal_ptr(bw);
    w->shared = false;
    return 0;
}

int berth_meta_ingest_write(struct berth_meta_ingest *w, int64_t offset, const void *data,
                            size_t len, struct berth_err **err)
{
    if (w->shared) {
        if (offset == w->blob_size && len == 0)
            return 0;
        if (offset != 0 && offset != w->blob_size)
            return berth_err_set(err, BERTH_E_OUT_OF_RANGE, 0,
                                 "write at offset %" PRId64 " of ref \"%s\" must occur at current "
                                 "offset %" PRId64,
                                 offset, w->bref, w->blob_size);
        if (unshare(w, offset, err) < 0)
            return -1;
        if (len == 0)
            return 0;
    }
    if (!w->w)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "ref \"%s\" was committed",
                             w->ref);
    return berth_content_writer_write(w->w, offset, data, len, err);
}

int berth_meta_ingest_status(struct berth_meta_ingest *w, struct berth_content_status *st,
                             struct berth_err **err)
{
    memset(st, 0, sizeof(*st));
    if (w->w)
        return berth_content_writer_status(w->w, st, err);
    if (!w->shared)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "ref \"%s\" was committed",
                             w->ref);
    st->ref = berth_xstrdup(w->bref);
    st->offset = st->total = w->blob_size;
    st->expected = berth_xstrdup(w->expected);
    st->started_ns = st->updated_ns = w->started_ns;
    return 0;
}

void berth_meta_ingest_digest(const struct berth_meta_ingest *w, char buf[72])
{
    if (w->w)
        berth_content_writer_digest(w->w, buf);
    else
        snprintf(buf, 72, "%s", w->committed ? w->committed : w->expected ? w->expected : "");
}

int berth_meta_ingest_truncate_total(struct berth_meta_ingest *w, int64_t total,
                                     struct berth_err **err)
{
    if (total > 0)
        w->total = total;
    return w->w ? berth_content_writer_truncate_total(w->w, total, err) : 0;
}

bool berth_meta_ingest_is_shared(const struct berth_meta_ingest *w)
{
    return w->shared;
}

/* ---- commit ---- */

int berth_meta_ingest_commit(struct berth_meta_ingest *w, int64_t size, const char *expected,
                             const struct berth_labels *labels, char **digest_out,
                             bool *existed_out, struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;
    struct record_op op = {.ns = w->ns, .lease = w->lease, .ref = w->ref, .labels = labels};
    int ret;

    *digest_out = NULL;
    if (existed_out)
        *existed_out = false;
    if (labels && berth_labels_validate(labels, err) < 0)
        return -1;
    if (!has(expected))
        expected = NULL;
    if (w->shared) {
        if (size > 0 && size != w->blob_size)
            return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                                 "unexpected commit size %" PRId64 ", expected %" PRId64,
                                 w->blob_size, size);
        if (expected && strcmp(expected, w->expected) != 0)
            return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                                 "unexpected commit digest %s, expected %s", w->expected, expected);
        berth_meta_gc_lock_shared(w->db);
        /* Only an ingest record that expired and was swept lets the GC take it. */
        if (berth_content_blob_stat(w->cs, w->expected, NULL, err) < 0) {
            berth_meta_gc_unlock(w->db);
            return -1;
        }
        w->committed = berth_xstrdup(w->expected);
        w->committed_size = w->blob_size;
        w->shared = false;
    } else if (!w->committed) {
        struct berth_content_status st;
        int64_t offset;

        if (berth_content_writer_status(w->w, &st, err) < 0)
            return -1;
        offset = st.offset;
        berth_content_status_clear(&st);
        /* From the blob entering blobs/ until its record exists the GC must keep out. */
        berth_meta_gc_lock_shared(w->db);
        if (berth_content_writer_commit(w->w, size, expected, &w->committed, &e) < 0 &&
            e->code != BERTH_E_ALREADY_EXISTS) {
            berth_meta_gc_unlock(w->db);
            return *err = steal_ptr(e), -1;
        }
        w->w = NULL; /* consumed on success and on ALREADY_EXISTS */
        w->committed_size = offset;
    } else {
        berth_meta_gc_lock_shared(w->db); /* a retry: only the records are missing */
    }
    op.digest = w->committed;
    op.size = w->committed_size;
    ret = berth_meta_update(w->db, record_cb, &op, err);
    berth_meta_gc_unlock(w->db);
    if (ret < 0)
        return -1;
    *digest_out = steal_ptr(w->committed);
    berth_meta_ingest_close(w);
    if (op.existed) {
        if (existed_out)
            *existed_out = true;
        return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "content %s", *digest_out);
    }
    return 0;
}

/* ---- abort, adopt ---- */

struct abort_op {
    const char *ns, *lease, *ref;
    bool had; /* out: there was a record */
};

static int abort_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct abort_op *op = arg;
    return forget(txn, op->ns, op->lease, op->ref, &op->had, err);
}

int berth_meta_ingest_abort(struct berth_meta_db *db, struct berth_content_store *cs,
                            const char *ns, const char *lease, const char *ref,
                            struct berth_err **err)
{
    _cleanup_free_ char *bref = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    struct abort_op op = {.ns = ns, .lease = lease, .ref = ref};

    if (!has(ref))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "ref must not be empty");
    bref = berth_strdup_printf("%s/%s", ns, ref);
    /* A shared ingest has a record and no backend ingest: NOT_FOUND here is not final. */
    if (berth_content_ingest_abort(cs, bref, &e) < 0 && e->code != BERTH_E_NOT_FOUND)
        return *err = steal_ptr(e), -1;
    if (berth_meta_update(db, abort_cb, &op, err) < 0)
        return -1;
    if (e && !op.had)
        return *err = steal_ptr(e), -1;
    return 0;
}

int berth_meta_content_adopt(struct berth_meta_db *db, struct berth_content_store *cs,
                             const char *ns, const char *lease, const char *digest, int64_t size,
                             const struct berth_labels *labels, struct berth_err **err)
{
    struct record_op op = {.ns = ns, .lease = lease, .digest = digest, .labels = labels};
    int64_t have = 0;
    int ret;

    if (labels && berth_labels_validate(labels, err) < 0)
        return -1;
    berth_meta_gc_lock_shared(db); /* the blob must outlive the stat until it is recorded */
    if (berth_content_blob_stat(cs, digest, &have, err) < 0) {
        berth_meta_gc_unlock(db);
        return -1;
    }
    if (size > 0 && size != have) {
        berth_meta_gc_unlock(db);
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "content %s has size %" PRId64 ", not %" PRId64, digest, have, size);
    }
    op.size = have;
    ret = berth_meta_update(db, record_cb, &op, err);
    berth_meta_gc_unlock(db);
    return ret;
}
