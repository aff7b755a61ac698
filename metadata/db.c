/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LMDB environment, transactions and the group-commit writer. Depends on lib/ and liblmdb.
 * LMDB codes are translated to berth error classes here and nowhere else.
 */
#include "metadata/db.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/lmdb-env.h"
#include "metadata/migrations.h"

#define DEFAULT_MAP_SIZE  ((size_t)8 << 30)
#define DEFAULT_MAX_BATCH 256
#define KEY_VERSION       "version"
#define KEY_UUID          "server/uuid"

struct berth_meta_txn {
    struct berth_meta_db *db;
    MDB_txn *t;
    bool write;
    bool dirty; /* the mutation deleted something (berth_meta_txn_mark_dirty) */
    berth_meta_corrupt_fn corrupt_hook; /* NULL: the store's */
    void *corrupt_hook_arg;
};

struct update_req {
    berth_meta_update_fn fn;
    void *arg;
    int ret;
    struct berth_err *err;
    bool done;
    struct update_req *next;
};

struct berth_meta_db {
    MDB_env *env;
    MDB_dbi dbi;
    size_t max_batch;
    char uuid[40];
    struct berth_histogram *m_batch, *m_commit; /* borrowed; NULL: no metrics */

    pthread_t writer;
    pthread_mutex_t lock;
    pthread_cond_t work_cv; /* writer waits for requests */
    pthread_cond_t done_cv; /* callers wait for their request */
    struct update_req *head, *tail;
    bool stopping;
    struct berth_meta_stats stats;

    size_t batch_applied; /* successful mutations so far in the running batch (writer only) */
    berth_meta_write_fn write_hook;
    void *write_hook_arg;
    berth_meta_corrupt_fn corrupt_hook;
    void *corrupt_hook_arg;
    uint64_t corrupt_skips; /* atomic */
    pthread_rwlock_t gc_lock;
};

/* LMDB and errno codes become berth classes in lib/lmdb-env.c, shared with the snapshot stores. */
static int mdb_err(struct berth_meta_db *db, int rc, struct berth_err **err, const char *what)
{
    return berth_lmdb_err(db->env, rc, err, what);
}

static int key_val(const char *key, MDB_val *k, struct berth_err **err)
{
    size_t len = strlen(key);
    /* LMDB's default key limit; identifiers and digests stay far below it. */
    if (len == 0 || len > 511)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "key of %zu bytes is outside the store's limit (1-511 bytes)", len);
    k->mv_data = (void *)key;
    k->mv_size = len;
    return 0;
}

int berth_meta_get(struct berth_meta_txn *txn, const char *key, struct berth_bytes *out,
                   struct berth_err **err)
{
    MDB_val k, v;
    int rc;

    out->data = NULL;
    out->len = 0;
    if (key_val(key, &k, err) < 0)
        return -1;
    rc = mdb_get(txn->t, txn->db->dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "key \"%s\" not found", key);
    if (rc)
        return mdb_err(txn->db, rc, err, "get");
    out->data = berth_xmalloc(v.mv_size);
    memcpy(out->data, v.mv_data, v.mv_size);
    out->len = v.mv_size;
    return 0;
}

bool berth_meta_exists(struct berth_meta_txn *txn, const char *key)
{
    MDB_val k, v;
    struct berth_err *e = NULL;

    if (key_val(key, &k, &e) < 0) {
        berth_err_free(&e);
        return false;
    }
    return mdb_get(txn->t, txn->db->dbi, &k, &v) == 0;
}

int berth_meta_put(struct berth_meta_txn *txn, const char *key, const void *val, size_t len,
                   struct berth_err **err)
{
    MDB_val k, v = {.mv_size = len, .mv_data = (void *)val};
    int rc;

    if (!txn->write)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "put \"%s\" in a read transaction", key);
    if (key_val(key, &k, err) < 0)
        return -1;
    rc = mdb_put(txn->t, txn->db->dbi, &k, &v, 0);
    if (rc)
        return mdb_err(txn->db, rc, err, "put");
    return 0;
}

int berth_meta_del(struct berth_meta_txn *txn, const char *key, struct berth_err **err)
{
    MDB_val k;
    int rc;

    if (!txn->write)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "delete \"%s\" in a read transaction", key);
    if (key_val(key, &k, err) < 0)
        return -1;
    rc = mdb_del(txn->t, txn->db->dbi, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "key \"%s\" not found", key);
    if (rc)
        return mdb_err(txn->db, rc, err, "delete");
    return 0;
}

int berth_meta_del_prefix(struct berth_meta_txn *txn, const char *prefix, size_t *n_out,
                          struct berth_err **err)
{
    MDB_cursor *cur = NULL;
    size_t plen = strlen(prefix), n = 0;
    int rc;

    if (n_out)
        *n_out = 0;
    if (!txn->write)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "delete \"%s*\" in a read transaction",
                             prefix);
    if (plen == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "empty prefix");
    rc = mdb_cursor_open(txn->t, txn->db->dbi, &cur);
    if (rc)
        return mdb_err(txn->db, rc, err, "open cursor");
    /* Re-seek after each delete rather than relying on cursor position after mdb_cursor_del. */
    for (;;) {
        MDB_val k = {.mv_size = plen, .mv_data = (void *)prefix}, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc || k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        rc = mdb_cursor_del(cur, 0);
        if (rc)
            break;
        n++;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return mdb_err(txn->db, rc, err, "delete prefix");
    if (n_out)
        *n_out = n;
    return 0;
}

int berth_meta_scan(struct berth_meta_txn *txn, const char *prefix, berth_meta_scan_fn cb,
                    void *arg, struct berth_err **err)
{
    return berth_meta_scan_after(txn, prefix, NULL, cb, arg, err);
}

int berth_meta_scan_after(struct berth_meta_txn *txn, const char *prefix, const char *after,
                          berth_meta_scan_fn cb, void *arg, struct berth_err **err)
{
    MDB_cursor *cur = NULL;
    const char *start = after && *after ? after : prefix;
    MDB_val k = {.mv_size = strlen(start), .mv_data = (void *)start}, v;
    size_t plen = strlen(prefix);
    char stackkey[512];
    int rc, ret = 0;

    rc = mdb_cursor_open(txn->t, txn->db->dbi, &cur);
    if (rc)
        return mdb_err(txn->db, rc, err, "open cursor");
    rc = k.mv_size ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                   : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    /* resume strictly after the given key */
    if (rc == 0 && after && *after && k.mv_size == strlen(after) &&
        memcmp(k.mv_data, after, k.mv_size) == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    while (rc == 0) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if (k.mv_size >= sizeof(stackkey)) {
            ret = berth_err_set(err, BERTH_E_INTERNAL, 0, "oversized key in store");
            break;
        }
        memcpy(stackkey, k.mv_data, k.mv_size);
        stackkey[k.mv_size] = '\0';
        ret = cb(stackkey, v.mv_data, v.mv_size, arg, err);
        if (ret != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (ret < 0)
        return -1;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return mdb_err(txn->db, rc, err, "scan");
    return 0;
}

static int has_prefix_cb(const char *key, const void *val, size_t len, void *arg,
                         struct berth_err **err)
{
    *(bool *)arg = true;
    return 1;
}

bool berth_meta_has_prefix(struct berth_meta_txn *txn, const char *prefix)
{
    bool found = false;
    struct berth_err *e = NULL;

    if (berth_meta_scan(txn, prefix, has_prefix_cb, &found, &e) < 0)
        berth_err_free(&e);
    return found;
}

int berth_meta_txn_begin_read(struct berth_meta_db *db, struct berth_meta_txn **out,
                              struct berth_err **err)
{
    struct berth_meta_txn *txn;
    int rc;

    *out = NULL;
    txn = berth_xcalloc(1, sizeof(*txn));
    txn->db = db;
    rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn->t);
    if (rc) {
        free(txn);
        return mdb_err(db, rc, err, "begin read transaction");
    }
    *out = txn;
    return 0;
}

void berth_meta_txn_abort(struct berth_meta_txn *txn)
{
    if (!txn)
        return;
    mdb_txn_abort(txn->t);
    free(txn);
}

/* Applies one batch: one parent transaction, one nested transaction per mutation. */
static void writer_apply(struct berth_meta_db *db, struct update_req *batch)
{
    struct berth_meta_txn parent = {.db = db, .write = true};
    struct berth_err *commit_err = NULL;
    size_t n = 0, n_ok = 0, n_dirty = 0;
    int rc;

    rc = mdb_txn_begin(db->env, NULL, 0, &parent.t);
    if (rc) {
        mdb_err(db, rc, &commit_err, "begin write transaction");
    } else {
        for (struct update_req *r = batch; r; r = r->next) {
            struct berth_meta_txn child = {.db = db, .write = true};
            n++;
            db->batch_applied = n_ok;
            rc = mdb_txn_begin(db->env, parent.t, 0, &child.t);
            if (rc) {
                r->ret = mdb_err(db, rc, &r->err, "begin nested transaction");
                continue;
            }
            r->ret = r->fn(&child, r->arg, &r->err);
            if (r->ret == 0) {
                rc = mdb_txn_commit(child.t);
                if (rc) {
                    r->ret = mdb_err(db, rc, &r->err, "commit nested transaction");
                } else {
                    n_ok++;
                    n_dirty += child.dirty;
                }
            } else {
                if (!r->err)
                    berth_err_set(&r->err, BERTH_E_INTERNAL, 0, "mutation failed");
                mdb_txn_abort(child.t);
            }
        }
        int64_t t0 = berth_mono_ns();
        rc = mdb_txn_commit(parent.t);
        berth_histogram_observe(db->m_commit, (double)(berth_mono_ns() - t0) / 1e9);
        if (rc)
            mdb_err(db, rc, &commit_err, "commit");
    }
    berth_histogram_observe(db->m_batch, (double)n);
    if (commit_err) {
        for (struct update_req *r = batch; r; r = r->next) {
            if (r->ret == 0) {
                r->ret = -1;
                r->err = berth_err_dup(commit_err);
            }
        }
        berth_err_free(&commit_err);
        n_ok = n_dirty = 0;
    }
    db->batch_applied = 0;
    if (db->write_hook && n_ok)
        db->write_hook(db->write_hook_arg, n_ok, n_dirty);

    pthread_mutex_lock(&db->lock);
    db->stats.commits++;
    db->stats.mutations += n;
    if (n > db->stats.max_batch)
        db->stats.max_batch = n;
    for (struct update_req *r = batch, *next; r; r = next) {
        next = r->next;
        r->done = true; /* r may be gone as soon as the lock drops */
    }
    pthread_cond_broadcast(&db->done_cv);
    pthread_mutex_unlock(&db->lock);
}

static void *writer_main(void *arg)
{
    struct berth_meta_db *db = arg;

    pthread_mutex_lock(&db->lock);
    for (;;) {
        struct update_req *batch, *last;
        size_t n = 1;

        while (!db->head && !db->stopping)
            pthread_cond_wait(&db->work_cv, &db->lock);
        if (!db->head)
            break;
        batch = last = db->head;
        while (last->next && n < db->max_batch) {
            last = last->next;
            n++;
        }
        db->head = last->next;
        if (!db->head)
            db->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&db->lock);
        writer_apply(db, batch);
        pthread_mutex_lock(&db->lock);
    }
    pthread_mutex_unlock(&db->lock);
    return NULL;
}

int berth_meta_update(struct berth_meta_db *db, berth_meta_update_fn fn, void *arg,
                      struct berth_err **err)
{
    struct update_req req = {.fn = fn, .arg = arg};

    pthread_mutex_lock(&db->lock);
    if (db->stopping) {
        pthread_mutex_unlock(&db->lock);
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "metadata store is closing");
    }
    if (db->tail)
        db->tail->next = &req;
    else
        db->head = &req;
    db->tail = &req;
    pthread_cond_signal(&db->work_cv);
    while (!req.done)
        pthread_cond_wait(&db->done_cv, &db->lock);
    pthread_mutex_unlock(&db->lock);
    if (req.ret < 0) {
        if (err && !*err)
            *err = req.err;
        else
            berth_err_free(&req.err);
        return -1;
    }
    return 0;
}

/* Runs fn directly in its own write transaction (start-up work before the writer runs). */
static int update_direct(struct berth_meta_db *db, berth_meta_update_fn fn, void *arg,
                         struct berth_err **err)
{
    struct berth_meta_txn txn = {.db = db, .write = true};
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn.t);

    if (rc)
        return mdb_err(db, rc, err, "begin write transaction");
    if (fn(&txn, arg, err) < 0) {
        mdb_txn_abort(txn.t);
        return -1;
    }
    rc = mdb_txn_commit(txn.t);
    if (rc)
        return mdb_err(db, rc, err, "commit");
    return 0;
}

static int read_random_uuid(char *buf, size_t size, struct berth_err **err)
{
    _cleanup_close_ int fd = open("/proc/sys/kernel/random/uuid", O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open kernel uuid source");
    n = read(fd, buf, size - 1);
    if (n < 36)
        return berth_err_set(err, BERTH_E_INTERNAL, n < 0 ? errno : 0, "read kernel uuid");
    buf[36] = '\0';
    return 0;
}

/* Schema check, migrations and the server uuid, in one transaction. */
static int init_schema_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct berth_meta_db *db = txn->db;
    struct berth_bytes val = {0};
    _cleanup_err_ struct berth_err *e = NULL;
    long version = 0;
    char buf[32];

    if (berth_meta_get(txn, KEY_VERSION, &val, &e) == 0) {
        snprintf(buf, sizeof(buf), "%.*s", (int)(val.len < 31 ? val.len : 31), (char *)val.data);
        berth_bytes_clear(&val);
        version = strtol(buf, NULL, 10);
        if (version <= 0)
            return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                                 "metadata schema version \"%s\" is not valid", buf);
    } else if (e->code != BERTH_E_NOT_FOUND) {
        *err = steal_ptr(e);
        return -1;
    }
    if (version > BERTH_META_SCHEMA_VERSION)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "metadata schema version %ld is newer than this berthd (%d)", version,
                             BERTH_META_SCHEMA_VERSION);
    if (version > 0 && berth_meta_migrate(txn, (int)version, err) < 0)
        return -1;
    if (version != BERTH_META_SCHEMA_VERSION) {
        int n = snprintf(buf, sizeof(buf), "%d", BERTH_META_SCHEMA_VERSION);
        if (berth_meta_put(txn, KEY_VERSION, buf, (size_t)n, err) < 0)
            return -1;
    }

    berth_err_free(&e);
    if (berth_meta_get(txn, KEY_UUID, &val, &e) == 0) {
        snprintf(db->uuid, sizeof(db->uuid), "%.*s", (int)(val.len < 39 ? val.len : 39),
                 (char *)val.data);
        berth_bytes_clear(&val);
        return 0;
    }
    if (e->code != BERTH_E_NOT_FOUND) {
        *err = steal_ptr(e);
        return -1;
    }
    if (read_random_uuid(db->uuid, sizeof(db->uuid), err) < 0)
        return -1;
    return berth_meta_put(txn, KEY_UUID, db->uuid, strlen(db->uuid), err);
}

int berth_meta_db_open(const char *dir, const struct berth_meta_opts *opts,
                       struct berth_meta_db **out, struct berth_err **err)
{
    struct berth_meta_db *db;
    MDB_txn *t = NULL;
    unsigned flags = MDB_NOTLS;
    int rc;

    *out = NULL;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "create metadata dir \"%s\"", dir);
    db = berth_xcalloc(1, sizeof(*db));
    db->max_batch = opts && opts->max_batch ? opts->max_batch : DEFAULT_MAX_BATCH;
    db->m_batch = opts ? opts->batch_size : NULL;
    db->m_commit = opts ? opts->commit_seconds : NULL;
    if (opts && opts->no_sync)
        flags |= MDB_NOSYNC;
    pthread_mutex_init(&db->lock, NULL);
    pthread_cond_init(&db->work_cv, NULL);
    pthread_cond_init(&db->done_cv, NULL);
    {
        /* Writer-preferring, so a GC waiting for the exclusive lock is not starved by a
         * steady stream of imports taking it shared. */
        pthread_rwlockattr_t ra;
        pthread_rwlockattr_init(&ra);
        pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&db->gc_lock, &ra);
        pthread_rwlockattr_destroy(&ra);
    }

    rc = mdb_env_create(&db->env);
    if (rc)
        goto fail_rc;
    rc = mdb_env_set_mapsize(db->env, opts && opts->map_size ? opts->map_size : DEFAULT_MAP_SIZE);
    if (rc)
        goto fail_rc;
    /* Every CQ thread may hold a read txn at once. */
    rc = mdb_env_set_maxreaders(db->env, 1024);
    if (rc)
        goto fail_rc;
    if (berth_lmdb_env_open(db->env, dir, flags, 0600, err) < 0) {
        berth_err_wrap(err, "open metadata store \"%s\"", dir);
        goto fail;
    }
    rc = mdb_txn_begin(db->env, NULL, 0, &t);
    if (rc)
        goto fail_rc;
    rc = mdb_dbi_open(t, NULL, 0, &db->dbi);
    if (rc) {
        mdb_txn_abort(t);
        goto fail_rc;
    }
    rc = mdb_txn_commit(t);
    if (rc)
        goto fail_rc;
    /* Readers left in the lock file by a killed process would pin old pages forever. */
    mdb_reader_check(db->env, NULL);

    if (update_direct(db, init_schema_cb, NULL, err) < 0) {
        berth_err_wrap(err, "open metadata store \"%s\"", dir);
        goto fail;
    }
    if (pthread_create(&db->writer, NULL, writer_main, db) != 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "start metadata writer");
        goto fail;
    }
    *out = db;
    return 0;

fail_rc:
    if (db->env)
        berth_lmdb_err(db->env, rc, err, "open metadata store");
    else
        berth_err_set(err, BERTH_E_INTERNAL, 0, "open metadata store: %s", mdb_strerror(rc));
    berth_err_wrap(err, "\"%s\"", dir);
fail:
    if (db->env)
        mdb_env_close(db->env);
    pthread_mutex_destroy(&db->lock);
    pthread_cond_destroy(&db->work_cv);
    pthread_cond_destroy(&db->done_cv);
    pthread_rwlock_destroy(&db->gc_lock);
    free(db);
    return -1;
}

void berth_meta_db_close(struct berth_meta_db *db)
{
    if (!db)
        return;
    pthread_mutex_lock(&db->lock);
    db->stopping = true;
    pthread_cond_signal(&db->work_cv);
    pthread_mutex_unlock(&db->lock);
    pthread_join(db->writer, NULL);
    mdb_env_close(db->env);
    pthread_mutex_destroy(&db->lock);
    pthread_cond_destroy(&db->work_cv);
    pthread_cond_destroy(&db->done_cv);
    pthread_rwlock_destroy(&db->gc_lock);
    free(db);
}

const char *berth_meta_db_uuid(const struct berth_meta_db *db)
{
    return db->uuid;
}

void berth_meta_db_stats(struct berth_meta_db *db, struct berth_meta_stats *out)
{
    pthread_mutex_lock(&db->lock);
    *out = db->stats;
    pthread_mutex_unlock(&db->lock);
}

void berth_meta_txn_mark_dirty(struct berth_meta_txn *txn)
{
    if (txn && txn->write)
        txn->dirty = true;
}

void berth_meta_db_set_write_hook(struct berth_meta_db *db, berth_meta_write_fn fn, void *arg)
{
    db->write_hook_arg = arg;
    db->write_hook = fn;
}

void berth_meta_db_set_corrupt_hook(struct berth_meta_db *db, berth_meta_corrupt_fn fn, void *arg)
{
    db->corrupt_hook_arg = arg;
    db->corrupt_hook = fn;
}

uint64_t berth_meta_db_corrupt_skips(struct berth_meta_db *db)
{
    return __atomic_load_n(&db->corrupt_skips, __ATOMIC_RELAXED);
}

void berth_meta_txn_set_corrupt_hook(struct berth_meta_txn *txn, berth_meta_corrupt_fn fn,
                                     void *arg)
{
    txn->corrupt_hook = fn;
    txn->corrupt_hook_arg = arg;
}

void berth_meta_txn_report_corrupt(struct berth_meta_txn *txn, const char *key)
{
    struct berth_meta_db *db = txn->db;

    __atomic_add_fetch(&db->corrupt_skips, 1, __ATOMIC_RELAXED);
    if (txn->corrupt_hook)
        txn->corrupt_hook(txn->corrupt_hook_arg, key);
    else if (db->corrupt_hook)
        db->corrupt_hook(db->corrupt_hook_arg, key);
}

uint64_t berth_meta_txn_snapshot_id(struct berth_meta_txn *txn)
{
    return (uint64_t)mdb_txn_id(txn->t);
}

bool berth_meta_txn_unchanged_since(struct berth_meta_txn *txn, uint64_t snap_id)
{
    /* A write transaction gets id last-commit + 1; nested ones share their parent's. */
    return txn->write && txn->db->batch_applied == 0 && (uint64_t)mdb_txn_id(txn->t) == snap_id + 1;
}

void berth_meta_gc_lock_shared(struct berth_meta_db *db)
{
    pthread_rwlock_rdlock(&db->gc_lock);
}

void berth_meta_gc_lock_exclusive(struct berth_meta_db *db)
{
    pthread_rwlock_wrlock(&db->gc_lock);
}

void berth_meta_gc_unlock(struct berth_meta_db *db)
{
    pthread_rwlock_unlock(&db->gc_lock);
}
