/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fsck of the stores: every record of the metadata store against the content store (blobs,
 * ingests) and the snapshot backends (their records and directories), and the other way round
 * for orphans. What counts as an orphan is exactly what the GC's backend cleanup removes
 * (metadata/gc.c), so a repair is that cleanup, run after checking each object again.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "fsck/fsck-internal.h"
#include "lib/fs.h"
#include "lib/sha256.h"
#include "metadata/containers.h"
#include "metadata/content.h"
#include "metadata/gc.h" /* the gc.ref label grammar */
#include "metadata/images.h"
#include "metadata/keys.h"
#include "metadata/leases.h"
#include "metadata/namespaces.h"
#include "metadata/snapshots.h"

/* Whether the record key exists; a record that cannot be decoded exists too. */
static bool key_exists(struct fsck_ctx *c, const char *kind, const char *ns, const char *rest)
{
    char key[BERTH_KEY_MAX];
    int n = snprintf(key, sizeof(key), "%s%s/%s", kind, ns, rest);
    return n > 0 && n < BERTH_KEY_MAX && berth_meta_exists(c->txn, key);
}

/* containerd's GC treats a gc.ref naming nothing as a reference to nothing (gc.go's
 * references only feed the mark), and its API lets a client set one before the object exists
 * (ctr's own content labels do during a pull): legal, so INFO. */
static void check_label_refs(struct fsck_ctx *c, const char *kind, const char *id, const char *ns,
                             const struct berth_labels *l)
{
    for (size_t i = 0; i < l->n; i++) {
        size_t snlen;
        if (berth_gc_label_is_content_ref(l->keys[i])) {
            if (!key_exists(c, BERTH_KEY_CONTENT_BLOBS, ns, l->vals[i]))
                fsck_add(c, BERTH_FSCK_INFO, kind, id,
                         "label %s names content %s the namespace does not hold (a dangling "
                         "gc.ref is legal: GC ignores it)",
                         l->keys[i], l->vals[i]);
        } else if ((snlen = berth_gc_label_snapshot_ref(l->keys[i])) > 0) {
            _cleanup_free_ char *rest =
                berth_strdup_printf("%.*s/%s", (int)snlen,
                                    l->keys[i] + strlen(BERTH_LABEL_GC_REF_SNAPSHOT), l->vals[i]);
            if (!key_exists(c, BERTH_KEY_SNAPSHOTS, ns, rest))
                fsck_add(c, BERTH_FSCK_INFO, kind, id,
                         "label %s names snapshot \"%s\" that does not exist (a dangling gc.ref "
                         "is legal: GC ignores it)",
                         l->keys[i], l->vals[i]);
        }
    }
}

/* ---- the metadata records ---- */

struct sets {
    struct berth_strset blobs;   /* digests some cb/ record names (to verify, to keep) */
    struct berth_strset held;    /* digests an ingest expects: kept by the GC too */
    struct berth_strset brefs;   /* "<ns>/<ref>" of every ingest record */
    struct berth_strset unknown; /* snapshotters with records that are not loaded */
};

static void sets_clear(struct sets *s)
{
    berth_strset_clear(&s->blobs);
    berth_strset_clear(&s->held);
    berth_strset_clear(&s->brefs);
    berth_strset_clear(&s->unknown);
}

static int check_content(struct fsck_ctx *c, struct sets *s, const char *ns, struct berth_err **err)
{
    struct berth_content_info **v = NULL;
    size_t n = 0;

    if (berth_meta_content_list(c->txn, ns, NULL, &v, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *id = berth_strdup_printf("%s/%s", ns, v[i]->digest);
        _cleanup_err_ struct berth_err *e = NULL;
        int64_t size = 0;

        berth_strset_add(&s->blobs, v[i]->digest);
        check_label_refs(c, "content", id, ns, &v[i]->labels);
        if (!c->s->content)
            continue;
        if (berth_content_blob_stat(c->s->content, v[i]->digest, &size, &e) < 0)
            fsck_add(c, BERTH_FSCK_ERROR, "content", id, "blob is missing (%s)", e->msg);
        else if (size != v[i]->size)
            fsck_add(c, BERTH_FSCK_ERROR, "content", id,
                     "blob has %" PRId64 " bytes, the record says %" PRId64, size, v[i]->size);
    }
    berth_content_infos_free(v, n);
    return 0;
}

static int check_images_containers(struct fsck_ctx *c, const char *ns, struct berth_err **err)
{
    struct berth_image **im = NULL;
    struct berth_container **ct = NULL;
    size_t n_im = 0, n_ct = 0;

    if (berth_meta_images_list(c->txn, ns, NULL, &im, &n_im, err) < 0)
        return -1;
    for (size_t i = 0; i < n_im; i++) {
        _cleanup_free_ char *id = berth_strdup_printf("%s/%s", ns, im[i]->name);
        /* containerd lets an image name content it lacks (GC keeps it if it comes) */
        if (im[i]->target.digest &&
            !key_exists(c, BERTH_KEY_CONTENT_BLOBS, ns, im[i]->target.digest))
            fsck_add(c, BERTH_FSCK_INFO, "image", id,
                     "target %s is not held by the namespace (the image cannot be used)",
                     im[i]->target.digest);
        check_label_refs(c, "image", id, ns, &im[i]->labels);
    }
    berth_images_free(im, n_im);
    if (berth_meta_containers_list(c->txn, ns, NULL, &ct, &n_ct, err) < 0)
        return -1;
    for (size_t i = 0; i < n_ct; i++) {
        _cleanup_free_ char *id = berth_strdup_printf("%s/%s", ns, ct[i]->id);
        if (ct[i]->snapshotter && ct[i]->snapshot_key && *ct[i]->snapshot_key) {
            _cleanup_free_ char *rest =
                berth_strdup_printf("%s/%s", ct[i]->snapshotter, ct[i]->snapshot_key);
            /* containerd checks neither at Create nor at snapshot Remove */
            if (!key_exists(c, BERTH_KEY_SNAPSHOTS, ns, rest))
                fsck_add(c, BERTH_FSCK_INFO, "container", id,
                         "snapshot \"%s\" (%s) does not exist (a task cannot start)",
                         ct[i]->snapshot_key, ct[i]->snapshotter);
        }
        check_label_refs(c, "container", id, ns, &ct[i]->labels);
    }
    berth_containers_free(ct, n_ct);
    return 0;
}

static int check_leases(struct fsck_ctx *c, const char *ns, struct berth_err **err)
{
    struct berth_lease **v = NULL;
    size_t n = 0;
    int ret = 0;

    if (berth_meta_leases_list(c->txn, ns, NULL, &v, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n && ret == 0; i++) {
        _cleanup_free_ char *id = berth_strdup_printf("%s/%s", ns, v[i]->id);
        struct berth_lease_resource *r = NULL;
        size_t nr = 0;

        ret = berth_meta_leases_list_resources(c->txn, ns, v[i]->id, &r, &nr, err);
        for (size_t j = 0; j < nr; j++) {
            const char *kind = NULL;
            _cleanup_free_ char *rest = NULL;
            if (strcmp(r[j].type, BERTH_LEASE_RES_CONTENT) == 0)
                kind = BERTH_KEY_CONTENT_BLOBS, rest = berth_xstrdup(r[j].id);
            else if (strcmp(r[j].type, BERTH_LEASE_RES_INGESTS) == 0)
                kind = BERTH_KEY_CONTENT_INGESTS, rest = berth_xstrdup(r[j].id);
            else if (berth_str_has_prefix(r[j].type, BERTH_LEASE_RES_SNAPSHOTS "/"))
                kind = BERTH_KEY_SNAPSHOTS,
                rest = berth_strdup_printf(
                    "%s/%s", r[j].type + strlen(BERTH_LEASE_RES_SNAPSHOTS "/"), r[j].id);
            /* containerd's AddResource does not check either, and deleting an object leaves
             * the lease's entry: a lease naming nothing protects nothing */
            if (kind && !key_exists(c, kind, ns, rest))
                fsck_add(c, BERTH_FSCK_INFO, "lease", id,
                         "resource %s \"%s\" does not exist (legal: it protects nothing)",
                         r[j].type, r[j].id);
        }
        berth_lease_resources_free(r, nr);
    }
    berth_leases_free(v, n);
    return ret;
}

/* ---- snapshots: main records, backend records, directories ---- */

struct backend {
    struct berth_snapshotter *sn;
    struct berth_strset names; /* backend names, state = kind + 1 */
    struct berth_strset used;  /* backend names some main record names */
    char **prefixes;           /* "<ns>/" of main records that cannot be decoded */
    size_t n_prefixes;
};

static struct backend *backend_find(struct backend *b, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(b[i].sn->ops->name) == len && strncmp(b[i].sn->ops->name, name, len) == 0)
            return &b[i];
    return NULL;
}

static int walk_names_cb(const struct berth_snap_info *info, void *arg, struct berth_err **err)
{
    struct backend *b = arg;
    (void)err;
    berth_strset_raise(&b->names, info->name, (unsigned char)(info->kind + 1));
    return 0;
}

static int used_cb(const char *name, bool prefix, void *arg, struct berth_err **err)
{
    struct backend *b = arg;
    (void)err;
    if (!prefix) {
        berth_strset_add(&b->used, name);
        return 0;
    }
    b->prefixes = berth_xrealloc(b->prefixes, (b->n_prefixes + 1) * sizeof(char *));
    b->prefixes[b->n_prefixes++] = berth_xstrdup(name);
    return 0;
}

struct snap_scan {
    struct fsck_ctx *c;
    struct sets *s;
    struct backend *b;
    size_t n_b;
    const char *ns;
};

/* One main record s/<ns>/<snapshotter>/<key>. */
static int snap_cb(const char *key, const void *val, size_t len, void *arg, struct berth_err **err)
{
    struct snap_scan *a = arg;
    struct fsck_ctx *c = a->c;
    const char *rest = key + strlen(BERTH_KEY_SNAPSHOTS) + strlen(a->ns) + 1;
    const char *slash = strchr(rest, '/');
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = NULL;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *p = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    _cleanup_free_ char *sn = NULL, *id = NULL;
    struct backend *b;
    unsigned char st;

    (void)val, (void)len, (void)err;
    if (!slash)
        return 0;
    sn = berth_xstrndup(rest, (size_t)(slash - rest));
    id = berth_strdup_printf("%s/%s", a->ns, rest);
    if (berth_meta_snapshots_get(c->txn, a->ns, sn, slash + 1, &s, &e) < 0) {
        if (e->code == BERTH_E_DATA_LOSS)
            berth_meta_txn_report_corrupt(c->txn, key);
        return 0;
    }
    check_label_refs(c, "snapshot", id, a->ns, &s->info.labels);
    if (s->info.parent) {
        if (berth_meta_snapshots_get(c->txn, a->ns, sn, s->info.parent, &p, &e) < 0)
            fsck_add(c, BERTH_FSCK_ERROR, "snapshot", id, "parent \"%s\" %s", s->info.parent,
                     e->code == BERTH_E_NOT_FOUND ? "does not exist" : "cannot be read");
        else if (p->info.kind != BERTH_SNAP_COMMITTED)
            fsck_add(c, BERTH_FSCK_ERROR, "snapshot", id, "parent \"%s\" is %s, not committed",
                     s->info.parent, berth_snap_kind_name(p->info.kind));
    }
    b = backend_find(a->b, a->n_b, sn, strlen(sn));
    if (!b) {
        if (!berth_strset_has(&a->s->unknown, sn))
            fsck_add(c, BERTH_FSCK_INFO, "snapshotter", sn,
                     "has records but is not loaded: its snapshots are not checked");
        berth_strset_add(&a->s->unknown, sn);
        return 0;
    }
    st = berth_strset_get(&b->names, s->backend_name);
    if (!st)
        fsck_add(c, BERTH_FSCK_ERROR, "snapshot", id, "backend snapshot \"%s\" is missing",
                 s->backend_name);
    else if (st - 1 != (int)s->info.kind && st - 1 != (int)BERTH_SNAP_UNKNOWN)
        fsck_add(c, BERTH_FSCK_ERROR, "snapshot", id, "is %s but its backend snapshot is %s",
                 berth_snap_kind_name(s->info.kind), berth_snap_kind_name(st - 1));
    return 0;
}

struct stray_arg {
    struct fsck_ctx *c;
    const char *sn;
};

static void backend_problem_cb(void *arg, enum berth_snap_problem p, const char *what,
                               const char *problem)
{
    struct stray_arg *a = arg;

    if (p == BERTH_SNAP_BROKEN) {
        _cleanup_free_ char *id = berth_strdup_printf("%s/%s", a->sn, what);
        fsck_add(a->c, BERTH_FSCK_ERROR, "backend-snapshot", id, "%s", problem);
    } else {
        berth_strset_add(&a->c->stray, what);
        fsck_add(a->c, BERTH_FSCK_ORPHAN, "snapshot-dir", what,
                 "%s (GC's backend cleanup would remove it too)", problem);
    }
}

static bool name_used(const struct backend *b, const char *name)
{
    if (berth_strset_has(&b->used, name))
        return true;
    for (size_t i = 0; i < b->n_prefixes; i++)
        if (berth_str_has_prefix(name, b->prefixes[i]))
            return true;
    return false;
}

struct orphan_arg {
    struct fsck_ctx *c;
    struct backend *b;
};

static int orphan_cb(const struct berth_snap_info *info, void *arg, struct berth_err **err)
{
    struct orphan_arg *a = arg;
    _cleanup_free_ char *id = NULL;

    (void)err;
    if (info->kind == BERTH_SNAP_UNKNOWN || name_used(a->b, info->name))
        return 0;
    id = berth_strdup_printf("%s/%s", a->b->sn->ops->name, info->name);
    fsck_add(a->c, BERTH_FSCK_ORPHAN, "backend-snapshot", id,
             "no snapshot record names it (GC would remove it too)");
    return 0;
}

static int check_snapshots(struct fsck_ctx *c, struct sets *s, char **nss, struct berth_err **err)
{
    size_t nb = c->s->n_snapshotters;
    struct backend *b = berth_xcalloc(nb ? nb : 1, sizeof(*b));
    int ret = -1;

    for (size_t i = 0; i < nb; i++) {
        b[i].sn = c->s->snapshotters[i];
        if (b[i].sn->ops->walk(b[i].sn->state, NULL, walk_names_cb, &b[i], err) < 0 ||
            berth_meta_snapshots_backend_names(c->txn, b[i].sn->ops->name, used_cb, &b[i], err) < 0)
            goto out;
    }
    for (char **ns = nss; *ns; ns++) {
        char prefix[BERTH_KEY_MAX];
        struct snap_scan a = {.c = c, .s = s, .b = b, .n_b = nb, .ns = *ns};
        berth_key_obj(prefix, BERTH_KEY_SNAPSHOTS, *ns, NULL);
        if (berth_meta_scan(c->txn, prefix, snap_cb, &a, err) < 0)
            goto out;
    }
    for (size_t i = 0; i < nb; i++) {
        struct orphan_arg oa = {c, &b[i]};
        struct stray_arg sa = {c, b[i].sn->ops->name};
        if (b[i].sn->ops->walk(b[i].sn->state, NULL, orphan_cb, &oa, err) < 0)
            goto out;
        if (b[i].sn->ops->check &&
            b[i].sn->ops->check(b[i].sn->state, c->s->live, backend_problem_cb, &sa, err) < 0)
            goto out;
    }
    ret = 0;
out:
    for (size_t i = 0; i < nb; i++) {
        berth_strset_clear(&b[i].names);
        berth_strset_clear(&b[i].used);
        for (size_t j = 0; j < b[i].n_prefixes; j++)
            free(b[i].prefixes[j]);
        free(b[i].prefixes);
    }
    free(b);
    if (ret < 0)
        berth_err_wrap(err, "snapshots");
    return ret;
}

/* ---- content store: ingests and blobs ---- */

static int check_ingests_blobs(struct fsck_ctx *c, struct sets *s, struct berth_err **err)
{
    struct berth_content_ingest **in = NULL;
    struct berth_content_status *st = NULL;
    _cleanup_(berth_strv_freep) char **blobs = NULL;
    struct berth_strset backend = {0};
    size_t n_in = 0, n_st = 0;
    int ret = -1;

    if (berth_meta_content_ingest_list(c->txn, NULL, &in, &n_in, err) < 0)
        return -1;
    for (size_t i = 0; i < n_in; i++) {
        berth_strset_add(&s->brefs, in[i]->ref);
        if (in[i]->expected)
            berth_strset_add(&s->held, in[i]->expected);
    }
    if (berth_content_ingest_list(c->s->content, NULL, &st, &n_st, err) < 0)
        goto out;
    for (size_t i = 0; i < n_st; i++) {
        berth_strset_add(&backend, st[i].ref);
        if (!berth_strset_has(&s->brefs, st[i].ref))
            fsck_add(c, BERTH_FSCK_ORPHAN, "ingest", st[i].ref,
                     "no ingest record (GC would remove it too)");
        else if (st[i].expected) /* a live ingest keeps the blob it will become */
            berth_strset_add(&s->held, st[i].expected);
    }
    for (size_t i = 0; i < n_in; i++)
        if (!in[i]->expected && !berth_strset_has(&backend, in[i]->ref))
            /* a crash between recording the ingest and creating its directory, or an abort
             * that removed the directory first: a writer resuming the ref starts at 0, and the
             * GC takes the record when it expires or its lease goes */
            fsck_add(c, BERTH_FSCK_INFO, "ingest", in[i]->ref,
                     "record has no data on disk (a resume starts at offset 0)");
    if (berth_content_blob_list(c->s->content, &blobs, err) < 0)
        goto out;
    for (char **d = blobs; *d; d++)
        if (!berth_strset_has(&s->blobs, *d) && !berth_strset_has(&s->held, *d))
            fsck_add(c, BERTH_FSCK_ORPHAN, "blob", *d,
                     "no content record names it (GC would remove it too)");
    ret = 0;
out:
    berth_content_ingests_free(in, n_in);
    berth_content_statuses_free(st, n_st);
    berth_strset_clear(&backend);
    if (ret < 0)
        berth_err_wrap(err, "content store");
    return ret;
}

int fsck_check_stores(struct fsck_ctx *c, struct berth_err **err)
{
    _cleanup_(berth_strv_freep) char **nss = NULL;
    struct sets s = {0};
    int ret = -1;

    if (berth_meta_namespaces_list(c->txn, &nss, err) < 0)
        return -1;
    for (char **ns = nss; *ns; ns++)
        if (check_content(c, &s, *ns, err) < 0 || check_images_containers(c, *ns, err) < 0 ||
            check_leases(c, *ns, err) < 0)
            goto out;
    if (check_snapshots(c, &s, nss, err) < 0)
        goto out;
    if (c->s->content && check_ingests_blobs(c, &s, err) < 0)
        goto out;
    /* what --verify hashes: every blob some record names */
    for (size_t i = 0; i < s.blobs.cap; i++)
        if (s.blobs.state[i])
            berth_strset_add(&c->verify, s.blobs.keys[i]);
    ret = 0;
out:
    sets_clear(&s);
    return ret;
}

/* ---- --verify ---- */

static int hash_blob(struct berth_content_store *cs, const char *digest, char out[72],
                     struct berth_err **err)
{
    _cleanup_close_ int fd = -1;
    _cleanup_free_ uint8_t *buf = berth_xmalloc(1 << 20);
    struct berth_sha256 h;

    if (berth_content_blob_open(cs, digest, &fd, NULL, err) < 0)
        return -1;
    berth_sha256_init(&h);
    for (;;) {
        ssize_t got = read(fd, buf, 1 << 20);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "read blob %s", digest);
        if (got == 0)
            break;
        berth_sha256_update(&h, buf, (size_t)got);
    }
    berth_sha256_digest_str(&h, out);
    return 0;
}

int fsck_verify_blobs(struct fsck_ctx *c, struct berth_err **err)
{
    (void)err;
    if (!c->s->content)
        return 0;
    for (size_t i = 0; i < c->verify.cap; i++) {
        const char *d = c->verify.keys[i];
        _cleanup_err_ struct berth_err *e = NULL;
        char got[72];

        if (!c->verify.state[i])
            continue;
        if (!berth_str_has_prefix(d, "sha256:")) {
            fsck_add(c, BERTH_FSCK_INFO, "blob", d, "not verified: only sha256 is hashed");
            continue;
        }
        /* A blob the GC removed since the check has no record any more: nothing to say. The
         * check itself reported one that was missing. */
        if (hash_blob(c->s->content, d, got, &e) < 0) {
            if (e->code != BERTH_E_NOT_FOUND)
                fsck_add(c, BERTH_FSCK_ERROR, "blob", d, "cannot be read: %s", e->msg);
            continue;
        }
        if (strcmp(got, d) != 0)
            fsck_add(c, BERTH_FSCK_ERROR, "blob", d, "content hashes to %s", got);
    }
    return 0;
}

/* ---- repair ---- */

/* Each object is checked again in a fresh read transaction: the caller holds the GC lock
 * exclusive, so nothing can start naming it between that check and the removal. */
void fsck_repair_stores(struct fsck_ctx *c)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    bool snaps = false;

    if (berth_meta_txn_begin_read(c->s->db, &txn, &e) < 0)
        return;
    for (size_t i = 0; i < c->r->n; i++) {
        const struct berth_fsck_finding *f = &c->r->v[i];
        bool named = true;

        if (f->cls != BERTH_FSCK_ORPHAN)
            continue;
        berth_err_free(&e);
        if (strcmp(f->kind, "blob") == 0 && c->s->content) {
            struct berth_content_ingest **in = NULL;
            size_t n = 0;
            if (berth_meta_content_referenced(txn, f->id, &named, &e) < 0 || named ||
                berth_meta_content_ingest_list(txn, NULL, &in, &n, &e) < 0)
                continue;
            for (size_t j = 0; j < n; j++)
                named = named || (in[j]->expected && strcmp(in[j]->expected, f->id) == 0);
            berth_content_ingests_free(in, n);
            if (!named)
                (void)berth_content_blob_delete(c->s->content, f->id, &e);
        } else if (strcmp(f->kind, "ingest") == 0 && c->s->content) {
            char key[BERTH_KEY_MAX];
            snprintf(key, sizeof(key), BERTH_KEY_CONTENT_INGESTS "%s", f->id);
            /* UNAVAILABLE: a writer holds it, so it is not an orphan after all */
            if (!berth_meta_exists(txn, key))
                (void)berth_content_ingest_abort(c->s->content, f->id, &e);
        } else if (strcmp(f->kind, "backend-snapshot") == 0 ||
                   strcmp(f->kind, "snapshot-dir") == 0) {
            snaps = true;
            /* A temp dir the backend's cleanup would leave for an hour: berthd is stopped,
             * so no creation owns it. */
            if (!c->s->live && strstr(f->id, "/new-"))
                (void)berth_rmrf(f->id, &e);
        }
    }
    /* The GC's own backend pass: unreferenced backend snapshots (children first), then the
     * backend's cleanup of directories no record names. */
    for (size_t i = 0; snaps && i < c->s->n_snapshotters; i++) {
        berth_err_free(&e);
        (void)berth_meta_snapshots_backend_gc(c->s->db, c->s->snapshotters[i], NULL, NULL, &e);
    }
}
