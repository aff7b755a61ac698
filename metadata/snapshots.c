/* SPDX-License-Identifier: Apache-2.0 */
/* Snapshot records and the namespacing layer over backends (see snapshots.h). */
#include "metadata/snapshots.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/berth/records.pb-c.h"
#include "lib/ident.h"
#include "lib/strset.h"
#include "metadata/keys.h"
#include "metadata/leases.h"
#include "metadata/namespaces.h"
#include "metadata/record.h"

typedef Berth__Records__V1__Snapshot rec_t;
DEFINE_PB_CLEANUP(rec_t, rec_freep)

void berth_snapshot_free(struct berth_snapshot *s)
{
    if (!s)
        return;
    berth_snap_info_clear(&s->info);
    free(s->backend_name);
    for (size_t i = 0; i < s->n_children; i++)
        free(s->children[i]);
    free(s->children);
    free(s);
}

void berth_snapshots_free(struct berth_snapshot **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        berth_snapshot_free(v[i]);
    free(v);
}

int berth_snapshot_key_validate(const char *key, const char *what, struct berth_err **err)
{
    size_t len = key ? strlen(key) : 0;

    if (len == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "snapshot %s must not be empty",
                             what);
    if (len > BERTH_SNAP_KEY_MAX)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "snapshot %s \"%.32s...\" is longer than %d bytes", what, key,
                             BERTH_SNAP_KEY_MAX);
    if (strchr(key, '\n'))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "snapshot %s \"%s\" contains a newline", what, key);
    return 0;
}

/* "s/<ns>/<snapshotter>/<key>"; INVALID_ARGUMENT if it does not fit. */
static int snap_key(char buf[BERTH_KEY_MAX], const char *ns, const char *sn, const char *key,
                    struct berth_err **err)
{
    int n = snprintf(buf, BERTH_KEY_MAX, BERTH_KEY_SNAPSHOTS "%s/%s/%s", ns, sn, key ? key : "");
    if (n < 0 || n >= BERTH_KEY_MAX)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "snapshot key \"%.32s...\" too long",
                             key ? key : "");
    return 0;
}

static char *lease_type(const char *sn)
{
    return berth_strdup_printf(BERTH_LEASE_RES_SNAPSHOTS "/%s", sn);
}

static struct berth_snapshot *from_rec(const char *key, const rec_t *r)
{
    struct berth_snapshot *s = berth_xcalloc(1, sizeof(*s));

    s->info.name = berth_xstrdup(key);
    s->info.parent = r->parent && *r->parent ? berth_xstrdup(r->parent) : NULL;
    s->info.kind = (enum berth_snap_kind)r->kind;
    berth_labels_from_pb(&s->info.labels, (void *const *)r->labels, r->n_labels);
    s->info.created_ns = r->created_ns;
    s->info.updated_ns = r->updated_ns;
    s->backend_name = berth_xstrdup(r->backend_name ? r->backend_name : "");
    s->n_children = r->n_children;
    s->children = berth_xcalloc(r->n_children + 1, sizeof(char *));
    for (size_t i = 0; i < r->n_children; i++)
        s->children[i] = berth_xstrdup(r->children[i]);
    return s;
}

static int store(struct berth_meta_txn *txn, const char *ns, const char *sn,
                 const struct berth_snapshot *s, struct berth_err **err)
{
    rec_t r = BERTH__RECORDS__V1__SNAPSHOT__INIT;
    _cleanup_free_ void **labels = NULL;
    char key[BERTH_KEY_MAX];

    if (snap_key(key, ns, sn, s->info.name, err) < 0)
        return -1;
    r.kind = (int32_t)s->info.kind;
    r.parent = s->info.parent ? s->info.parent : (char *)"";
    r.created_ns = s->info.created_ns;
    r.updated_ns = s->info.updated_ns;
    r.backend_name = s->backend_name;
    r.children = s->children;
    r.n_children = s->n_children;
    berth_labels_to_pb(&s->info.labels, &berth__records__v1__snapshot__labels_entry__descriptor,
                       &labels, &r.n_labels);
    r.labels = (Berth__Records__V1__Snapshot__LabelsEntry **)labels;
    return berth_meta_put_pb(txn, key, &r.base, err);
}

int berth_meta_snapshots_get(struct berth_meta_txn *txn, const char *ns, const char *snapshotter,
                             const char *key, struct berth_snapshot **out, struct berth_err **err)
{
    _cleanup_(rec_freep) rec_t *r = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    char k[BERTH_KEY_MAX];

    *out = NULL;
    if (berth_snapshot_key_validate(key, "key", err) < 0 ||
        snap_key(k, ns, snapshotter, key, err) < 0)
        return -1;
    if (berth_meta_get_pb(txn, k, &berth__records__v1__snapshot__descriptor,
                          (ProtobufCMessage **)&r, &e) < 0) {
        if (e->code == BERTH_E_NOT_FOUND)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "snapshot %s does not exist", key);
        *err = steal_ptr(e);
        return -1;
    }
    *out = from_rec(key, r);
    return 0;
}

struct list_acc {
    struct berth_meta_txn *txn;
    const struct berth_filter *filter;
    size_t prefix_len;
    struct berth_snapshot **v;
    size_t n;
};

static int list_cb(const char *key, const void *val, size_t len, void *arg, struct berth_err **err)
{
    struct list_acc *acc = arg;
    _cleanup_(rec_freep) rec_t *r = berth__records__v1__snapshot__unpack(NULL, len, val);
    struct berth_snapshot *s;

    if (!r) { /* one bad record must not hide the others */
        berth_meta_txn_report_corrupt(acc->txn, key);
        return 0;
    }
    s = from_rec(key + acc->prefix_len, r);
    if (acc->filter && !berth_filter_match(acc->filter, berth_snap_info_filter_field, &s->info)) {
        berth_snapshot_free(s);
        return 0;
    }
    acc->v = berth_xrealloc(acc->v, (acc->n + 1) * sizeof(*acc->v));
    acc->v[acc->n++] = s;
    return 0;
}

int berth_meta_snapshots_list(struct berth_meta_txn *txn, const char *ns, const char *snapshotter,
                              const struct berth_filter *filter, struct berth_snapshot ***out,
                              size_t *n, struct berth_err **err)
{
    struct list_acc acc = {.txn = txn, .filter = filter};
    char prefix[BERTH_KEY_MAX];

    *out = NULL;
    *n = 0;
    if (snap_key(prefix, ns, snapshotter, NULL, err) < 0)
        return -1;
    acc.prefix_len = strlen(prefix);
    if (berth_meta_scan(txn, prefix, list_cb, &acc, err) < 0) {
        berth_snapshots_free(acc.v, acc.n);
        return -1;
    }
    *out = acc.v;
    *n = acc.n;
    return 0;
}

int berth_meta_snapshots_update(struct berth_meta_txn *txn, const char *ns, const char *snapshotter,
                                const struct berth_snap_info *info, char *const *paths, size_t n,
                                struct berth_snapshot **out, struct berth_err **err)
{
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = NULL;

    if (out)
        *out = NULL;
    if (berth_meta_snapshots_get(txn, ns, snapshotter, info->name, &s, err) < 0 ||
        berth_snap_labels_update(&s->info.labels, &info->labels, paths, n, info->name, err) < 0)
        return -1;
    s->info.updated_ns = berth_now_ns();
    if (store(txn, ns, snapshotter, s, err) < 0)
        return -1;
    if (out)
        *out = steal_ptr(s);
    return 0;
}

static void children_add(struct berth_snapshot *s, const char *child)
{
    s->children = berth_xrealloc(s->children, (s->n_children + 2) * sizeof(char *));
    s->children[s->n_children++] = berth_xstrdup(child);
    s->children[s->n_children] = NULL;
}

static void children_del(struct berth_snapshot *s, const char *child)
{
    for (size_t i = 0; i < s->n_children; i++)
        if (strcmp(s->children[i], child) == 0) {
            free(s->children[i]);
            memmove(&s->children[i], &s->children[i + 1],
                    (s->n_children - i) * sizeof(char *)); /* moves the NULL too */
            s->n_children--;
            return;
        }
}

/* ---- the two-phase writes ---- */

struct op {
    const char *ns, *sn, *lease;
    enum berth_snap_kind kind;
    const char *key, *parent, *name;
    const struct berth_labels *labels;
    char *backend_name;        /* new backend name (prepare, commit) */
    char *parent_backend_name; /* prepare */
    char *old_backend_name;    /* commit: the active one; remove: the removed one */
};

static void op_clear(struct op *o)
{
    free(o->backend_name);
    free(o->parent_backend_name);
    free(o->old_backend_name);
}

static int check_lease(struct berth_meta_txn *txn, const struct op *o, struct berth_err **err)
{
    _cleanup_(berth_lease_freep) struct berth_lease *l = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    if (!o->lease || !*o->lease)
        return 0;
    if (berth_meta_leases_get(txn, o->ns, o->lease, &l, &e) < 0) {
        if (e->code == BERTH_E_NOT_FOUND)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "lease \"%s\" does not exist",
                                 o->lease);
        *err = steal_ptr(e);
        return -1;
    }
    return 0;
}

static int absent(struct berth_meta_txn *txn, const struct op *o, const char *key,
                  struct berth_err **err)
{
    char k[BERTH_KEY_MAX];

    if (snap_key(k, o->ns, o->sn, key, err) < 0)
        return -1;
    if (berth_meta_exists(txn, k))
        return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "snapshot %s already exists", key);
    return 0;
}

static int get_parent(struct berth_meta_txn *txn, const struct op *o, struct berth_snapshot **p,
                      struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;

    *p = NULL;
    if (!o->parent || !*o->parent)
        return 0;
    if (berth_meta_snapshots_get(txn, o->ns, o->sn, o->parent, p, &e) < 0) {
        if (e->code == BERTH_E_NOT_FOUND)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "parent snapshot %s does not exist",
                                 o->parent);
        *err = steal_ptr(e);
        return -1;
    }
    if ((*p)->info.kind != BERTH_SNAP_COMMITTED) {
        berth_snapshot_free(steal_ptr(*p));
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "parent %s is not committed",
                             o->parent);
    }
    return 0;
}

static int reserve_name(struct berth_meta_txn *txn, const struct op *o, const char *key, char **out,
                        struct berth_err **err)
{
    _cleanup_(berth_bytes_clear) struct berth_bytes cur = {0};
    _cleanup_err_ struct berth_err *e = NULL;
    char k[BERTH_KEY_MAX], buf[32];
    uint64_t seq = 0;

    snprintf(k, sizeof(k), BERTH_KEY_SNAP_SEQ "%s", o->sn);
    if (berth_meta_get(txn, k, &cur, &e) == 0 && cur.len < sizeof(buf)) {
        memcpy(buf, cur.data, cur.len);
        buf[cur.len] = 0;
        seq = strtoull(buf, NULL, 10);
    } else if (e && e->code != BERTH_E_NOT_FOUND) {
        *err = steal_ptr(e);
        return -1;
    }
    seq++;
    snprintf(buf, sizeof(buf), "%" PRIu64, seq);
    if (berth_meta_put(txn, k, buf, strlen(buf), err) < 0)
        return -1;
    *out = berth_strdup_printf("%s/%" PRIu64 "/%s", o->ns, seq, key);
    return 0;
}

static int create_reserve_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct op *o = arg;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *p = NULL;

    if (absent(txn, o, o->key, err) < 0 || get_parent(txn, o, &p, err) < 0 ||
        check_lease(txn, o, err) < 0 || reserve_name(txn, o, o->key, &o->backend_name, err) < 0)
        return -1;
    if (p)
        o->parent_backend_name = berth_xstrdup(p->backend_name);
    return 0;
}

static int create_record_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct op *o = arg;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *p = NULL;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = berth_xcalloc(1, sizeof(*s));
    _cleanup_free_ char *type = lease_type(o->sn);

    if (absent(txn, o, o->key, err) < 0 || get_parent(txn, o, &p, err) < 0 ||
        berth_meta_namespaces_ensure(txn, o->ns, err) < 0)
        return -1;
    s->info.name = berth_xstrdup(o->key);
    s->info.parent = p ? berth_xstrdup(o->parent) : NULL;
    s->info.kind = o->kind;
    if (o->labels)
        berth_labels_copy(&s->info.labels, o->labels);
    s->info.created_ns = s->info.updated_ns = berth_now_ns();
    s->backend_name = berth_xstrdup(o->backend_name);
    if (store(txn, o->ns, o->sn, s, err) < 0)
        return -1;
    if (p) {
        children_add(p, o->key);
        if (store(txn, o->ns, o->sn, p, err) < 0)
            return -1;
    }
    return berth_meta_leases_attach(txn, o->ns, o->lease, type, o->key, err);
}

int berth_meta_snapshots_create(struct berth_meta_db *db, struct berth_snapshotter *sn,
                                const char *ns, const char *lease, enum berth_snap_kind kind,
                                const char *key, const char *parent,
                                const struct berth_labels *labels, struct berth_mount **mounts,
                                size_t *n, struct berth_err **err)
{
    struct op o = {.ns = ns,
                   .sn = sn->ops->name,
                   .lease = lease,
                   .kind = kind,
                   .key = key,
                   .parent = parent,
                   .labels = labels};
    struct berth_labels blabels = {0};
    int ret = -1;

    *mounts = NULL;
    *n = 0;
    if (berth_snapshot_key_validate(key, "key", err) < 0 ||
        (parent && *parent && berth_snapshot_key_validate(parent, "parent", err) < 0))
        return -1;
    if (labels && berth_labels_validate(labels, err) < 0)
        return berth_err_wrap(err, "snapshot %s", key);
    /* From the backend call until the record names it, the GC must not see the backend
     * snapshot as unreferenced. */
    berth_meta_gc_lock_shared(db);
    if (berth_meta_update(db, create_reserve_cb, &o, err) < 0)
        goto out;
    berth_snap_backend_labels(labels, &blabels);
    if ((kind == BERTH_SNAP_VIEW ? sn->ops->view : sn->ops->prepare)(
            sn->state, o.backend_name, o.parent_backend_name, &blabels, mounts, n, err) < 0)
        goto out;
    if (berth_meta_update(db, create_record_cb, &o, err) < 0) {
        /* Nothing refers to the backend snapshot: take it back now. */
        _cleanup_err_ struct berth_err *e = NULL;
        (void)sn->ops->remove(sn->state, o.backend_name, &e);
        berth_mounts_free(steal_ptr(*mounts), *n);
        *n = 0;
        goto out;
    }
    ret = 0;
out:
    berth_meta_gc_unlock(db);
    berth_labels_clear(&blabels);
    op_clear(&o);
    return ret;
}

int berth_meta_snapshots_mounts(struct berth_meta_db *db, struct berth_snapshotter *sn,
                                const char *ns, const char *key, struct berth_mount **mounts,
                                size_t *n, struct berth_err **err)
{
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = NULL;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;

    *mounts = NULL;
    *n = 0;
    if (berth_meta_txn_begin_read(db, &txn, err) < 0 ||
        berth_meta_snapshots_get(txn, ns, sn->ops->name, key, &s, err) < 0)
        return -1;
    berth_meta_txn_abort(steal_ptr(txn));
    return sn->ops->mounts(sn->state, s->backend_name, mounts, n, err);
}

int berth_meta_snapshots_usage(struct berth_meta_db *db, struct berth_snapshotter *sn,
                               const char *ns, const char *key, struct berth_snap_usage *out,
                               struct berth_err **err)
{
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = NULL;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;

    if (berth_meta_txn_begin_read(db, &txn, err) < 0 ||
        berth_meta_snapshots_get(txn, ns, sn->ops->name, key, &s, err) < 0)
        return -1;
    berth_meta_txn_abort(steal_ptr(txn));
    return sn->ops->usage(sn->state, s->backend_name, out, err);
}

static int active_for_commit(struct berth_meta_txn *txn, struct op *o, struct berth_snapshot **s,
                             struct berth_err **err)
{
    if (berth_meta_snapshots_get(txn, o->ns, o->sn, o->key, s, err) < 0)
        return -1;
    if ((*s)->info.kind != BERTH_SNAP_ACTIVE)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "snapshot %s is %s, only active snapshots can be committed", o->key,
                             berth_snap_kind_name((*s)->info.kind));
    return absent(txn, o, o->name, err);
}

static int commit_reserve_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct op *o = arg;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = NULL;

    if (active_for_commit(txn, o, &s, err) < 0 || check_lease(txn, o, err) < 0 ||
        reserve_name(txn, o, o->name, &o->backend_name, err) < 0)
        return -1;
    o->old_backend_name = berth_xstrdup(s->backend_name);
    return 0;
}

static int commit_record_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct op *o = arg;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = NULL;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *p = NULL;
    _cleanup_free_ char *type = lease_type(o->sn);
    char k[BERTH_KEY_MAX];

    if (active_for_commit(txn, o, &s, err) < 0 || snap_key(k, o->ns, o->sn, o->key, err) < 0 ||
        berth_meta_del(txn, k, err) < 0)
        return -1;
    free(s->info.name);
    s->info.name = berth_xstrdup(o->name);
    s->info.kind = BERTH_SNAP_COMMITTED;
    berth_labels_clear(&s->info.labels);
    if (o->labels)
        berth_labels_copy(&s->info.labels, o->labels);
    s->info.created_ns = s->info.updated_ns = berth_now_ns();
    free(s->backend_name);
    s->backend_name = berth_xstrdup(o->backend_name);
    if (store(txn, o->ns, o->sn, s, err) < 0)
        return -1;
    if (s->info.parent) {
        if (berth_meta_snapshots_get(txn, o->ns, o->sn, s->info.parent, &p, err) < 0)
            return -1;
        children_del(p, o->key);
        children_add(p, o->name);
        if (store(txn, o->ns, o->sn, p, err) < 0)
            return -1;
    }
    return berth_meta_leases_attach(txn, o->ns, o->lease, type, o->name, err);
}

int berth_meta_snapshots_commit(struct berth_meta_db *db, struct berth_snapshotter *sn,
                                const char *ns, const char *lease, const char *name,
                                const char *key, const struct berth_labels *labels,
                                struct berth_err **err)
{
    struct op o = {
        .ns = ns, .sn = sn->ops->name, .lease = lease, .key = key, .name = name, .labels = labels};
    struct berth_labels blabels = {0};
    int ret = -1;

    if (berth_snapshot_key_validate(name, "name", err) < 0 ||
        berth_snapshot_key_validate(key, "key", err) < 0)
        return -1;
    if (labels && berth_labels_validate(labels, err) < 0)
        return berth_err_wrap(err, "snapshot %s", name);
    berth_meta_gc_lock_shared(db); /* as in create: backend first, record second */
    if (berth_meta_update(db, commit_reserve_cb, &o, err) < 0)
        goto out;
    berth_snap_backend_labels(labels, &blabels);
    if (sn->ops->commit(sn->state, o.backend_name, o.old_backend_name, &blabels, err) < 0)
        goto out;
    /* If this fails the backend keeps a committed snapshot nothing names; the GC's backend
     * pass (berth_meta_snapshots_backend_gc) reclaims it. */
    if (berth_meta_update(db, commit_record_cb, &o, err) < 0)
        goto out;
    ret = 0;
out:
    berth_meta_gc_unlock(db);
    berth_labels_clear(&blabels);
    op_clear(&o);
    return ret;
}

static int remove_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct op *o = arg;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = NULL;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *p = NULL;
    _cleanup_free_ char *type = lease_type(o->sn);
    char k[BERTH_KEY_MAX];

    if (berth_meta_snapshots_get(txn, o->ns, o->sn, o->key, &s, err) < 0)
        return -1;
    if (s->n_children)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "cannot remove snapshot %s: it has %zu child snapshot%s", o->key,
                             s->n_children, s->n_children == 1 ? "" : "s");
    if (snap_key(k, o->ns, o->sn, o->key, err) < 0 || berth_meta_del(txn, k, err) < 0)
        return -1;
    if (s->info.parent) {
        if (berth_meta_snapshots_get(txn, o->ns, o->sn, s->info.parent, &p, err) < 0)
            return -1;
        children_del(p, o->key);
        if (store(txn, o->ns, o->sn, p, err) < 0)
            return -1;
    }
    berth_meta_txn_mark_dirty(txn); /* the backend snapshot goes with the next GC */
    return berth_meta_leases_detach(txn, o->ns, o->lease, type, o->key, err);
}

int berth_meta_snapshots_remove(struct berth_meta_db *db, struct berth_snapshotter *sn,
                                const char *ns, const char *lease, const char *key,
                                struct berth_err **err)
{
    struct op o = {.ns = ns, .sn = sn->ops->name, .lease = lease, .key = key};
    int ret;

    (void)db;
    if (berth_snapshot_key_validate(key, "key", err) < 0)
        return -1;
    /* Metadata only, as containerd: the GC's backend pass frees the space. */
    ret = berth_meta_update(db, remove_cb, &o, err);
    op_clear(&o);
    return ret;
}

int berth_meta_snapshots_sweep(struct berth_meta_txn *txn, const char *ns, const char *snapshotter,
                               const char *key, struct berth_err **err)
{
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = NULL;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *p = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    char k[BERTH_KEY_MAX];

    if (berth_meta_snapshots_get(txn, ns, snapshotter, key, &s, err) < 0 ||
        snap_key(k, ns, snapshotter, key, err) < 0 || berth_meta_del(txn, k, err) < 0)
        return -1;
    if (!s->info.parent)
        return 0;
    /* A parent the same sweep already took is fine. */
    if (berth_meta_snapshots_get(txn, ns, snapshotter, s->info.parent, &p, &e) < 0)
        return e->code == BERTH_E_NOT_FOUND ? 0 : (*err = steal_ptr(e), -1);
    children_del(p, key);
    return store(txn, ns, snapshotter, p, err);
}

/* ---- GC hooks ---- */

struct names_arg {
    struct berth_meta_txn *txn;
    const char *sn;
    berth_meta_snap_name_fn fn;
    void *arg;
};

static int names_cb(const char *key, const void *val, size_t len, void *arg, struct berth_err **err)
{
    struct names_arg *a = arg;
    _cleanup_(rec_freep) rec_t *r = NULL;
    _cleanup_free_ char *ns_prefix = NULL;
    /* key is "s/<ns>/<snapshotter>/<key>": ns and snapshotter are identifiers (no '/'). */
    const char *ns = key + strlen(BERTH_KEY_SNAPSHOTS), *p = strchr(ns, '/');
    size_t snlen = strlen(a->sn);

    if (!p || strncmp(p + 1, a->sn, snlen) != 0 || p[1 + snlen] != '/')
        return 0;
    r = berth__records__v1__snapshot__unpack(NULL, len, val);
    if (r)
        return a->fn(r->backend_name, false, a->arg, err);
    /* Its backend name is lost, but names are "<ns>/<seq>/<key>": keep the namespace's. */
    berth_meta_txn_report_corrupt(a->txn, key);
    ns_prefix = berth_xstrndup(ns, (size_t)(p - ns + 1));
    return a->fn(ns_prefix, true, a->arg, err);
}

int berth_meta_snapshots_backend_names(struct berth_meta_txn *txn, const char *snapshotter,
                                       berth_meta_snap_name_fn fn, void *arg,
                                       struct berth_err **err)
{
    struct names_arg a = {txn, snapshotter, fn, arg};
    return berth_meta_scan(txn, BERTH_KEY_SNAPSHOTS, names_cb, &a, err);
}

/* The backend's snapshot names, in walk order (removed ones become NULL). */
struct namelist {
    char **v;
    size_t n, cap;
    size_t corrupt; /* backend records that cannot be decoded (walked as kind UNKNOWN) */
};

/* What the metadata still references: names, and name prefixes of namespaces holding a
 * record that cannot be decoded. */
struct live_set {
    struct berth_strset names;
    char **prefixes;
    size_t n_prefixes, cap_prefixes;
};

static int live_add_cb(const char *name, bool prefix, void *arg, struct berth_err **err)
{
    struct live_set *l = arg;

    if (prefix)
        berth_vec_push(l->prefixes, l->n_prefixes, l->cap_prefixes, berth_xstrdup(name));
    else
        berth_strset_add(&l->names, name);
    return 0;
}

static bool live_has(const struct live_set *l, const char *name)
{
    if (berth_strset_has(&l->names, name))
        return true;
    for (size_t i = 0; i < l->n_prefixes; i++)
        if (berth_str_has_prefix(name, l->prefixes[i]))
            return true;
    return false;
}

static void live_clear(struct live_set *l)
{
    berth_strset_clear(&l->names);
    for (size_t i = 0; i < l->n_prefixes; i++)
        free(l->prefixes[i]);
    free(l->prefixes);
}

static int namelist_add_cb(const struct berth_snap_info *info, void *arg, struct berth_err **err)
{
    struct namelist *l = arg;

    /* A backend record that cannot be decoded is left alone: who knows what it holds. */
    if (info->kind == BERTH_SNAP_UNKNOWN) {
        l->corrupt++;
        return 0;
    }
    berth_vec_push(l->v, l->n, l->cap, berth_xstrdup(info->name));
    return 0;
}

static void namelist_clear(struct namelist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

int berth_meta_snapshots_backend_gc(struct berth_meta_db *db, struct berth_snapshotter *sn,
                                    size_t *n_removed, size_t *n_corrupt, struct berth_err **err)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct live_set live = {0};
    struct namelist all = {0};
    size_t removed = 0;
    bool progress = true;
    int ret = -1;

    if (n_removed)
        *n_removed = 0;
    if (n_corrupt)
        *n_corrupt = 0;
    if (berth_meta_txn_begin_read(db, &txn, err) < 0 ||
        berth_meta_snapshots_backend_names(txn, sn->ops->name, live_add_cb, &live, err) < 0 ||
        sn->ops->walk(sn->state, NULL, namelist_add_cb, &all, err) < 0)
        goto out;
    /* Leaves first: a pass removes what has no children left; repeat while that helps. */
    while (progress) {
        progress = false;
        for (size_t i = 0; i < all.n; i++) {
            _cleanup_err_ struct berth_err *e = NULL;
            if (!all.v[i] || live_has(&live, all.v[i]))
                continue;
            if (sn->ops->remove(sn->state, all.v[i], &e) == 0 || e->code == BERTH_E_NOT_FOUND) {
                free(steal_ptr(all.v[i]));
                removed++;
                progress = true;
            } else if (e->code != BERTH_E_FAILED_PRECONDITION && e->code != BERTH_E_DATA_LOSS) {
                /* DATA_LOSS: its parent's record cannot be decoded; it stays */
                *err = steal_ptr(e);
                goto out;
            }
        }
    }
    if (sn->ops->cleanup(sn->state, err) < 0)
        goto out;
    if (n_removed)
        *n_removed = removed;
    ret = 0;
out:
    if (n_corrupt)
        *n_corrupt = all.corrupt;
    live_clear(&live);
    namelist_clear(&all);
    return ret;
}
