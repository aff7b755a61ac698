/* SPDX-License-Identifier: Apache-2.0 */
/* A backend's snapshot metastore in its own LMDB environment (see storage.h). */
#include "snapshots/storage/storage.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/berth/records.pb-c.h"
#include "lib/fieldpath.h"
#include "lib/lmdb-env.h"
#include "snapshots/snapshots-internal.h"

typedef Berth__Records__V1__BackendSnapshot rec_pb;
DEFINE_PB_CLEANUP(rec_pb, rec_pb_freep)

#define KEY_MAX 511 /* LMDB's default maximum key size */

struct berth_snap_store {
    MDB_env *env;
    MDB_dbi dbi;
};

struct berth_snap_store_txn {
    MDB_txn *txn;
    MDB_env *env;
    MDB_dbi dbi;
};

/* The translation shared by every LMDB environment (lib/lmdb-env.h). */
static int mdb_fail(MDB_env *env, struct berth_err **err, int rc, const char *what)
{
    return berth_lmdb_err(env, rc, err, what);
}

void berth_snap_rec_clear(struct berth_snap_rec *r)
{
    if (!r)
        return;
    berth_snap_info_clear(&r->info);
    memset(r, 0, sizeof(*r));
}

int berth_snap_store_open(const char *dir, struct berth_snap_store **out, struct berth_err **err)
{
    struct berth_snap_store *st;
    MDB_txn *txn = NULL;
    int rc;

    *out = NULL;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "mkdir \"%s\"", dir);
    st = berth_xcalloc(1, sizeof(*st));
    if ((rc = mdb_env_create(&st->env)) != 0) {
        free(st);
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "open snapshot store \"%s\": %s", dir,
                             mdb_strerror(rc));
    }
    mdb_env_set_mapsize(st->env, (size_t)1 << 30);
    if (berth_lmdb_env_open(st->env, dir, MDB_NOTLS, 0600, err) < 0)
        goto fail;
    if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) == 0 &&
        (rc = mdb_dbi_open(txn, NULL, 0, &st->dbi)) != 0)
        mdb_txn_abort(txn);
    else if (rc == 0)
        rc = mdb_txn_commit(txn); /* frees txn, failing or not */
    if (rc != 0) {
        mdb_fail(st->env, err, rc, "open database");
        goto fail;
    }
    *out = st;
    return 0;
fail:
    mdb_env_close(st->env);
    free(st);
    return berth_err_wrap(err, "open snapshot store \"%s\"", dir);
}

void berth_snap_store_close(struct berth_snap_store *st)
{
    if (!st)
        return;
    mdb_env_close(st->env);
    free(st);
}

int berth_snap_store_txn_begin(struct berth_snap_store *st, bool write,
                               struct berth_snap_store_txn **out, struct berth_err **err)
{
    MDB_txn *t;
    int rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &t);

    *out = NULL;
    if (rc != 0)
        return mdb_fail(st->env, err, rc, "begin snapshot store transaction");
    *out = berth_xcalloc(1, sizeof(**out));
    (*out)->txn = t;
    (*out)->env = st->env;
    (*out)->dbi = st->dbi;
    return 0;
}

int berth_snap_store_txn_commit(struct berth_snap_store_txn *txn, struct berth_err **err)
{
    MDB_env *env = txn->env;
    int rc = mdb_txn_commit(txn->txn);

    free(txn);
    return rc ? mdb_fail(env, err, rc, "commit snapshot store") : 0;
}

void berth_snap_store_txn_abort(struct berth_snap_store_txn *txn)
{
    if (!txn)
        return;
    mdb_txn_abort(txn->txn);
    free(txn);
}

static MDB_val kv(const char *k)
{
    return (MDB_val){strlen(k), (void *)k};
}

static int rec_key(char buf[KEY_MAX + 1], const char *name, struct berth_err **err)
{
    int n = snprintf(buf, KEY_MAX + 1, "s/%s", name);
    if (n < 0 || n > KEY_MAX)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "snapshot name \"%.64s...\" too long", name);
    return 0;
}

static void child_key(char buf[64], uint64_t parent, uint64_t child)
{
    if (child)
        snprintf(buf, 64, "p/%020" PRIu64 "/%020" PRIu64, parent, child);
    else
        snprintf(buf, 64, "p/%020" PRIu64 "/", parent);
}

/* DATA_LOSS for a record whose value cannot be decoded, naming it and the store. */
static int corrupt_err(struct berth_snap_store_txn *txn, const char *key, struct berth_err **err)
{
    const char *dir = NULL;

    if (mdb_env_get_path(txn->env, &dir) != 0 || !dir)
        dir = "?";
    return berth_err_set(err, BERTH_E_DATA_LOSS, 0,
                         "record \"%s\" of snapshot store \"%s\" is corrupt (not a valid "
                         "BackendSnapshot)",
                         key, dir);
}

static void rec_from_pb(struct berth_snap_rec *r, const char *name, const rec_pb *p)
{
    memset(r, 0, sizeof(*r));
    r->id = p->id;
    r->info.name = berth_xstrdup(name);
    r->info.parent = p->parent && *p->parent ? berth_xstrdup(p->parent) : NULL;
    r->info.kind = (enum berth_snap_kind)p->kind;
    berth_snap_labels_from_pb(&r->info.labels, (void *const *)p->labels, p->n_labels);
    r->info.created_ns = p->created_ns;
    r->info.updated_ns = p->updated_ns;
    r->size = p->size;
    r->inodes = p->inodes;
}

static int put_rec(struct berth_snap_store_txn *txn, const struct berth_snap_rec *r, unsigned flags,
                   struct berth_err **err)
{
    rec_pb p = BERTH__RECORDS__V1__BACKEND_SNAPSHOT__INIT;
    _cleanup_free_ void **labels = NULL;
    _cleanup_free_ uint8_t *buf = NULL;
    char key[KEY_MAX + 1];
    MDB_val k, v;
    int rc;

    if (rec_key(key, r->info.name, err) < 0)
        return -1;
    p.id = r->id;
    p.kind = (int32_t)r->info.kind;
    p.parent = r->info.parent ? r->info.parent : (char *)"";
    p.created_ns = r->info.created_ns;
    p.updated_ns = r->info.updated_ns;
    p.size = r->size;
    p.inodes = r->inodes;
    berth_snap_labels_to_pb(&r->info.labels,
                            &berth__records__v1__backend_snapshot__labels_entry__descriptor,
                            &labels, &p.n_labels);
    p.labels = (Berth__Records__V1__BackendSnapshot__LabelsEntry **)labels;
    v.mv_size = protobuf_c_message_get_packed_size(&p.base);
    buf = berth_xmalloc(v.mv_size ? v.mv_size : 1);
    protobuf_c_message_pack(&p.base, buf);
    v.mv_data = buf;
    k = kv(key);
    rc = mdb_put(txn->txn, txn->dbi, &k, &v, flags);
    if (rc == MDB_KEYEXIST)
        return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "snapshot \"%s\" already exists",
                             r->info.name);
    return rc ? mdb_fail(txn->env, err, rc, "put snapshot") : 0;
}

int berth_snap_store_get(struct berth_snap_store_txn *txn, const char *name,
                         struct berth_snap_rec *out, struct berth_err **err)
{
    _cleanup_(rec_pb_freep) rec_pb *p = NULL;
    char key[KEY_MAX + 1];
    MDB_val k, v;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!name || !*name)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "snapshot name must not be empty");
    if (rec_key(key, name, err) < 0)
        return -1;
    k = kv(key);
    rc = mdb_get(txn->txn, txn->dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "snapshot \"%s\" does not exist", name);
    if (rc)
        return mdb_fail(txn->env, err, rc, "get snapshot");
    p = berth__records__v1__backend_snapshot__unpack(NULL, v.mv_size, v.mv_data);
    if (!p)
        return corrupt_err(txn, key, err);
    rec_from_pb(out, name, p);
    return 0;
}

static int next_id(struct berth_snap_store_txn *txn, uint64_t *id, struct berth_err **err)
{
    MDB_val k = kv("seq"), v;
    char buf[32];
    uint64_t cur = 0;
    int rc = mdb_get(txn->txn, txn->dbi, &k, &v);

    if (rc == 0 && v.mv_size < sizeof(buf)) {
        memcpy(buf, v.mv_data, v.mv_size);
        buf[v.mv_size] = 0;
        cur = strtoull(buf, NULL, 10);
    } else if (rc != MDB_NOTFOUND && rc != 0) {
        return mdb_fail(txn->env, err, rc, "read snapshot sequence");
    }
    *id = ++cur;
    snprintf(buf, sizeof(buf), "%" PRIu64, cur);
    v = kv(buf);
    rc = mdb_put(txn->txn, txn->dbi, &k, &v, 0);
    return rc ? mdb_fail(txn->env, err, rc, "write snapshot sequence") : 0;
}

int berth_snap_store_parent_ids(struct berth_snap_store_txn *txn, const char *name, uint64_t **ids,
                                size_t *n, struct berth_err **err)
{
    _cleanup_free_ char *cur = NULL;
    struct berth_snap_rec r;

    *ids = NULL;
    *n = 0;
    if (berth_snap_store_get(txn, name, &r, err) < 0)
        return -1;
    cur = r.info.parent ? berth_xstrdup(r.info.parent) : NULL;
    berth_snap_rec_clear(&r);
    while (cur) {
        if (berth_snap_store_get(txn, cur, &r, err) < 0) {
            free(steal_ptr(*ids));
            *n = 0;
            return berth_err_wrap(err, "parent chain of \"%s\"", name);
        }
        *ids = berth_xrealloc(*ids, (*n + 1) * sizeof(**ids));
        (*ids)[(*n)++] = r.id;
        free(cur);
        cur = r.info.parent ? berth_xstrdup(r.info.parent) : NULL;
        berth_snap_rec_clear(&r);
    }
    return 0;
}

/* INVALID_ARGUMENT for an empty name, ALREADY_EXISTS if a record has it; key_buf (KEY_MAX + 1
 * bytes) receives the record key. */
static int require_new(struct berth_snap_store_txn *txn, const char *name, const char *what,
                       char *key_buf, struct berth_err **err)
{
    MDB_val k, v;

    if (!name || !*name)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "snapshot %s must not be empty",
                             what);
    if (rec_key(key_buf, name, err) < 0)
        return -1;
    k = kv(key_buf);
    if (mdb_get(txn->txn, txn->dbi, &k, &v) == 0)
        return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "snapshot \"%s\" already exists",
                             name);
    return 0;
}

int berth_snap_store_create(struct berth_snap_store_txn *txn, const char *name, const char *parent,
                            enum berth_snap_kind kind, const struct berth_labels *labels,
                            struct berth_snap_rec *out, uint64_t **parent_ids, size_t *n_parents,
                            struct berth_err **err)
{
    struct berth_snap_rec r = {0}, pr = {0};
    char key[KEY_MAX + 1], ck[64];
    MDB_val k, v;

    memset(out, 0, sizeof(*out));
    if (parent_ids) {
        *parent_ids = NULL;
        *n_parents = 0;
    }
    if (require_new(txn, name, "key", key, err) < 0)
        return -1;
    if (parent && *parent) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_snap_store_get(txn, parent, &pr, &e) < 0) {
            if (e->code == BERTH_E_NOT_FOUND)
                return berth_err_set(err, BERTH_E_NOT_FOUND, 0,
                                     "parent snapshot \"%s\" does not exist", parent);
            *err = steal_ptr(e);
            return -1;
        }
        if (pr.info.kind != BERTH_SNAP_COMMITTED) {
            berth_snap_rec_clear(&pr);
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "parent \"%s\" is not committed",
                                 parent);
        }
    }
    if (next_id(txn, &r.id, err) < 0)
        goto fail;
    r.info.name = berth_xstrdup(name);
    r.info.parent = pr.info.name ? berth_xstrdup(pr.info.name) : NULL;
    r.info.kind = kind;
    if (labels)
        berth_labels_copy(&r.info.labels, labels);
    r.info.created_ns = r.info.updated_ns = berth_now_ns();
    if (put_rec(txn, &r, MDB_NOOVERWRITE, err) < 0)
        goto fail;
    if (pr.info.name) {
        child_key(ck, pr.id, r.id);
        k = kv(ck);
        v = kv(name);
        int rc = mdb_put(txn->txn, txn->dbi, &k, &v, 0);
        if (rc) {
            mdb_fail(txn->env, err, rc, "put child link");
            goto fail;
        }
        if (parent_ids) {
            uint64_t *rest = NULL;
            size_t n = 0;
            if (berth_snap_store_parent_ids(txn, pr.info.name, &rest, &n, err) < 0)
                goto fail;
            *parent_ids = berth_xcalloc(n + 1, sizeof(uint64_t));
            (*parent_ids)[0] = pr.id;
            if (n)
                memcpy(*parent_ids + 1, rest, n * sizeof(uint64_t));
            *n_parents = n + 1;
            free(rest);
        }
    }
    berth_snap_rec_clear(&pr);
    *out = r;
    return 0;
fail:
    berth_snap_rec_clear(&pr);
    berth_snap_rec_clear(&r);
    return -1;
}

static bool has_children(struct berth_snap_store_txn *txn, uint64_t id)
{
    char prefix[64];
    MDB_cursor *c;
    MDB_val k, v;
    bool found = false;

    child_key(prefix, id, 0);
    if (mdb_cursor_open(txn->txn, txn->dbi, &c) != 0)
        return false;
    k = kv(prefix);
    if (mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) == 0)
        found = k.mv_size >= strlen(prefix) && memcmp(k.mv_data, prefix, strlen(prefix)) == 0;
    mdb_cursor_close(c);
    return found;
}

int berth_snap_store_commit(struct berth_snap_store_txn *txn, const char *name, const char *key,
                            const struct berth_labels *labels, const struct berth_snap_usage *u,
                            uint64_t *id_out, struct berth_err **err)
{
    struct berth_snap_rec r;
    struct berth_snap_rec pr = {0};
    char k1[KEY_MAX + 1], ck[64];
    MDB_val k, v;
    int rc;

    if (require_new(txn, name, "name", k1, err) < 0)
        return -1;
    if (berth_snap_store_get(txn, key, &r, err) < 0)
        return -1;
    if (r.info.kind != BERTH_SNAP_ACTIVE) {
        berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "snapshot \"%s\" is %s, not active", key,
                      berth_snap_kind_name(r.info.kind));
        goto fail;
    }
    if (rec_key(k1, key, err) < 0)
        goto fail;
    k = kv(k1);
    if ((rc = mdb_del(txn->txn, txn->dbi, &k, NULL)) != 0) {
        mdb_fail(txn->env, err, rc, "delete active record");
        goto fail;
    }
    free(r.info.name);
    r.info.name = berth_xstrdup(name);
    r.info.kind = BERTH_SNAP_COMMITTED;
    if (labels)
        berth_labels_copy(&r.info.labels, labels);
    r.info.updated_ns = berth_now_ns();
    r.size = u ? u->size : 0;
    r.inodes = u ? u->inodes : 0;
    if (put_rec(txn, &r, MDB_NOOVERWRITE, err) < 0)
        goto fail;
    if (r.info.parent) {
        if (berth_snap_store_get(txn, r.info.parent, &pr, err) < 0)
            goto fail;
        child_key(ck, pr.id, r.id);
        k = kv(ck);
        v = kv(name);
        if ((rc = mdb_put(txn->txn, txn->dbi, &k, &v, 0)) != 0) {
            mdb_fail(txn->env, err, rc, "put child link");
            goto fail;
        }
    }
    if (id_out)
        *id_out = r.id;
    berth_snap_rec_clear(&pr);
    berth_snap_rec_clear(&r);
    return 0;
fail:
    berth_snap_rec_clear(&pr);
    berth_snap_rec_clear(&r);
    return -1;
}

int berth_snap_store_remove(struct berth_snap_store_txn *txn, const char *name,
                            struct berth_snap_rec *out, struct berth_err **err)
{
    struct berth_snap_rec r, pr = {0};
    char key[KEY_MAX + 1], ck[64];
    MDB_val k;
    int rc;

    if (berth_snap_store_get(txn, name, &r, err) < 0)
        return -1;
    if (has_children(txn, r.id)) {
        berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                      "cannot remove snapshot \"%s\" with child", name);
        goto fail;
    }
    if (r.info.parent) {
        if (berth_snap_store_get(txn, r.info.parent, &pr, err) < 0)
            goto fail;
        child_key(ck, pr.id, r.id);
        k = kv(ck);
        rc = mdb_del(txn->txn, txn->dbi, &k, NULL);
        if (rc && rc != MDB_NOTFOUND) {
            mdb_fail(txn->env, err, rc, "delete child link");
            goto fail;
        }
    }
    if (rec_key(key, name, err) < 0)
        goto fail;
    k = kv(key);
    if ((rc = mdb_del(txn->txn, txn->dbi, &k, NULL)) != 0) {
        mdb_fail(txn->env, err, rc, "delete snapshot");
        goto fail;
    }
    berth_snap_rec_clear(&pr);
    if (out)
        *out = r;
    else
        berth_snap_rec_clear(&r);
    return 0;
fail:
    berth_snap_rec_clear(&pr);
    berth_snap_rec_clear(&r);
    return -1;
}

int berth_snap_labels_update(struct berth_labels *dst, const struct berth_labels *src,
                             char *const *paths, size_t n, const char *name, struct berth_err **err)
{
    const char *k;

    if (n == 0) {
        berth_labels_copy(dst, src);
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(paths[i], "labels") == 0)
            berth_labels_copy(dst, src);
        else if (berth_fieldpath_label_key(paths[i], "labels", &k))
            berth_labels_set(dst, k, berth_labels_get(src, k));
        else
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "cannot update \"%s\" field on snapshot \"%s\"", paths[i], name);
    }
    return berth_labels_validate(dst, err) < 0 ? berth_err_wrap(err, "snapshot \"%s\"", name) : 0;
}

int berth_snap_store_update(struct berth_snap_store_txn *txn, const struct berth_snap_info *info,
                            char *const *paths, size_t n, struct berth_snap_info *out,
                            struct berth_err **err)
{
    struct berth_snap_rec r;

    if (berth_snap_store_get(txn, info->name, &r, err) < 0)
        return -1;
    if (berth_snap_labels_update(&r.info.labels, &info->labels, paths, n, info->name, err) < 0)
        goto fail;
    r.info.updated_ns = berth_now_ns();
    if (put_rec(txn, &r, 0, err) < 0)
        goto fail;
    if (out) {
        *out = r.info;
        memset(&r.info, 0, sizeof(r.info));
    }
    berth_snap_rec_clear(&r);
    return 0;
fail:
    berth_snap_rec_clear(&r);
    return -1;
}

int berth_snap_store_walk(struct berth_snap_store_txn *txn, berth_snap_store_walk_fn fn, void *arg,
                          struct berth_err **err)
{
    MDB_cursor *c;
    MDB_val k = kv("s/"), v;
    int rc, ret = 0;

    if ((rc = mdb_cursor_open(txn->txn, txn->dbi, &c)) != 0)
        return mdb_fail(txn->env, err, rc, "open cursor");
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        _cleanup_(rec_pb_freep) rec_pb *p = NULL;
        _cleanup_free_ char *name = NULL;
        struct berth_snap_rec r;

        if (k.mv_size < 2 || memcmp(k.mv_data, "s/", 2) != 0)
            break;
        name = berth_xstrndup((const char *)k.mv_data + 2, k.mv_size - 2);
        p = berth__records__v1__backend_snapshot__unpack(NULL, v.mv_size, v.mv_data);
        if (p) {
            rec_from_pb(&r, name, p);
        } else {
            /* Walked by name only (kind UNKNOWN, id 0): the others still show. */
            memset(&r, 0, sizeof(r));
            r.info.name = berth_xstrdup(name);
        }
        ret = fn(&r, arg, err);
        berth_snap_rec_clear(&r);
        if (ret != 0)
            break;
    }
    mdb_cursor_close(c);
    return ret < 0 ? -1 : 0;
}

struct id_find {
    uint64_t id;
    bool found;
};

static int id_find_cb(const struct berth_snap_rec *rec, void *arg, struct berth_err **err)
{
    struct id_find *f = arg;
    /* a record that cannot be decoded may have it */
    if (rec->id != f->id && rec->info.kind != BERTH_SNAP_UNKNOWN)
        return 0;
    f->found = true;
    return 1;
}

bool berth_snap_store_id_used(struct berth_snap_store_txn *txn, uint64_t id)
{
    _cleanup_err_ struct berth_err *e = NULL;
    struct id_find f = {.id = id};

    if (berth_snap_store_walk(txn, id_find_cb, &f, &e) < 0)
        return true; /* when unsure, keep the directory */
    return f.found;
}
