/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for metadata/gc.c and gc_scheduler.c over a real store, a real content store and a real
 * native snapshotter in the test's temp dir (nothing is mounted, no root needed). */
#include "tests/unit/helpers/meta_fixture.h"

#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "metadata/containers.h"
#include "metadata/content.h"
#include "metadata/gc.h"
#include "metadata/gc_scheduler.h"
#include "metadata/images.h"
#include "metadata/leases.h"
#include "metadata/snapshots.h"
#include "tests/unit/helpers/lmdb_raw.h"

#define SEC 1000000000LL

struct env {
    struct meta_env *meta;
    struct berth_snapshotter sn;
    struct berth_snapshotter *snp[1];
    struct berth_content_store *cs;
    struct berth_gc_backends be;
};

static int setup(void **state)
{
    struct env *e = berth_xcalloc(1, sizeof(*e));
    struct berth_err *err = NULL;
    _cleanup_free_ char *root = NULL, *cdir = NULL;

    if (meta_setup((void **)&e->meta) < 0)
        return -1;
    root = berth_strdup_printf("%s/native", e->meta->tmp->dir);
    cdir = berth_strdup_printf("%s/content", e->meta->tmp->dir);
    e->sn.ops = &berth_snap_native_ops;
    if (e->sn.ops->open(root, &e->sn.state, &err) < 0 ||
        berth_content_store_open(cdir, &e->cs, &err) < 0) {
        print_error("open backends: %s\n", err->msg);
        berth_err_free(&err);
        return -1;
    }
    e->snp[0] = &e->sn;
    e->be.content = e->cs;
    e->be.snapshotters = e->snp;
    e->be.n_snapshotters = 1;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    e->sn.ops->close(e->sn.state);
    berth_content_store_close(e->cs);
    meta_teardown((void **)&e->meta);
    free(e);
    return 0;
}

/* ---- fixtures ---- */

struct put_arg {
    const char *ns, *digest, *lease;
    int64_t size;
    const struct berth_labels *labels;
};

static int put_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct put_arg *a = arg;
    struct berth_content_info i = {.digest = (char *)a->digest, .size = a->size};

    if (a->labels)
        i.labels = *a->labels;
    if (berth_meta_content_put(txn, a->ns, &i, err) < 0)
        return -1;
    return berth_meta_leases_attach(txn, a->ns, a->lease, "content", a->digest, err);
}

/* Writes data as a blob and records it in ns (with labels and lease); returns its digest. */
static char *blob(struct env *e, const char *ns, const char *data, const char *lease,
                  const struct berth_labels *labels)
{
    struct berth_err *err = NULL;
    struct berth_content_writer *w = NULL;
    _cleanup_free_ char *ref = berth_strdup_printf("%s/w-%s", ns, data);
    char *digest = NULL;
    struct put_arg a = {.ns = ns, .lease = lease, .size = (int64_t)strlen(data), .labels = labels};

    assert_ok(berth_content_writer_open(e->cs, ref, 0, NULL, &w, &err), &err);
    assert_ok(berth_content_writer_write(w, 0, data, strlen(data), &err), &err);
    if (berth_content_writer_commit(w, 0, NULL, &digest, &err) < 0) {
        assert_err_code(err, BERTH_E_ALREADY_EXISTS); /* same bytes in another namespace */
    }
    a.digest = digest;
    assert_ok(berth_meta_update(e->meta->db, put_cb, &a, &err), &err);
    return digest;
}

static bool has_record(struct env *e, const char *ns, const char *digest)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_(berth_content_info_freep) struct berth_content_info *i = NULL;
    struct berth_err *err = NULL;
    bool ok;

    assert_ok(berth_meta_txn_begin_read(e->meta->db, &txn, &err), &err);
    ok = berth_meta_content_get(txn, ns, digest, &i, &err) == 0;
    berth_err_free(&err);
    return ok;
}

static bool has_file(struct env *e, const char *digest)
{
    struct berth_err *err = NULL;
    int64_t size;
    bool ok = berth_content_blob_stat(e->cs, digest, &size, &err) == 0;
    berth_err_free(&err);
    return ok;
}

static bool has_snap(struct env *e, const char *ns, const char *key)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = NULL;
    struct berth_err *err = NULL;
    bool ok;

    assert_ok(berth_meta_txn_begin_read(e->meta->db, &txn, &err), &err);
    ok = berth_meta_snapshots_get(txn, ns, "native", key, &s, &err) == 0;
    berth_err_free(&err);
    return ok;
}

static int count_cb(const struct berth_snap_info *info, void *arg, struct berth_err **err)
{
    (void)info, (void)err;
    (*(size_t *)arg)++;
    return 0;
}

static size_t backend_count(struct env *e)
{
    struct berth_err *err = NULL;
    size_t n = 0;
    assert_ok(e->sn.ops->walk(e->sn.state, NULL, count_cb, &n, &err), &err);
    return n;
}

static void snap(struct env *e, const char *ns, const char *lease, enum berth_snap_kind kind,
                 const char *key, const char *parent, const struct berth_labels *labels)
{
    struct berth_err *err = NULL;
    struct berth_mount *m = NULL;
    size_t n = 0;

    assert_ok(berth_meta_snapshots_create(e->meta->db, &e->sn, ns, lease, kind, key, parent, labels,
                                          &m, &n, &err),
              &err);
    berth_mounts_free(m, n);
}

static void snap_commit(struct env *e, const char *ns, const char *lease, const char *name,
                        const char *key)
{
    struct berth_err *err = NULL;
    assert_ok(berth_meta_snapshots_commit(e->meta->db, &e->sn, ns, lease, name, key, NULL, &err),
              &err);
}

struct obj_arg {
    const char *ns;
    struct berth_image *im;
    struct berth_container *c;
    struct berth_lease *l;
    const char *id, *type, *rid;
};

static int image_create_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct obj_arg *a = arg;
    return berth_meta_images_create(txn, a->ns, a->im, err);
}

static int image_delete_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct obj_arg *a = arg;
    return berth_meta_images_delete(txn, a->ns, a->id, NULL, err);
}

static int container_create_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct obj_arg *a = arg;
    return berth_meta_containers_create(txn, a->ns, a->c, err);
}

static int lease_create_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct obj_arg *a = arg;
    return berth_meta_leases_create(txn, a->ns, a->l, err);
}

static int lease_add_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct obj_arg *a = arg;
    return berth_meta_leases_add_resource(txn, a->ns, a->id, a->type, a->rid, err);
}

static void image(struct env *e, const char *ns, const char *name, const char *target)
{
    _cleanup_(berth_image_freep) struct berth_image *im = berth_image_new();
    struct obj_arg a = {.ns = ns, .im = im};
    struct berth_err *err = NULL;

    im->name = berth_xstrdup(name);
    im->target.digest = berth_xstrdup(target);
    im->target.media_type = berth_xstrdup("application/vnd.oci.image.manifest.v1+json");
    im->target.size = 1;
    assert_ok(berth_meta_update(e->meta->db, image_create_cb, &a, &err), &err);
}

static void lease(struct env *e, const char *ns, const char *id, const char *k, const char *v)
{
    _cleanup_(berth_lease_freep) struct berth_lease *l = berth_lease_new();
    struct obj_arg a = {.ns = ns, .l = l};
    struct berth_err *err = NULL;

    l->id = berth_xstrdup(id);
    if (k)
        berth_labels_set(&l->labels, k, v);
    assert_ok(berth_meta_update(e->meta->db, lease_create_cb, &a, &err), &err);
}

static void lease_add(struct env *e, const char *ns, const char *id, const char *type,
                      const char *rid)
{
    struct obj_arg a = {.ns = ns, .id = id, .type = type, .rid = rid};
    struct berth_err *err = NULL;
    assert_ok(berth_meta_update(e->meta->db, lease_add_cb, &a, &err), &err);
}

static bool has_lease(struct env *e, const char *ns, const char *id)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_(berth_lease_freep) struct berth_lease *l = NULL;
    struct berth_err *err = NULL;
    bool ok;

    assert_ok(berth_meta_txn_begin_read(e->meta->db, &txn, &err), &err);
    ok = berth_meta_leases_get(txn, ns, id, &l, &err) == 0;
    berth_err_free(&err);
    return ok;
}

static void gc(struct env *e, struct berth_gc_stats *st)
{
    struct berth_err *err = NULL;
    assert_ok(berth_meta_gc_run(e->meta->db, &e->be, berth_now_ns(), st, &err), &err);
}

/* ---- tests ---- */

static void test_gc_empty_store(void **state)
{
    struct env *e = *state;
    struct berth_gc_stats st;

    gc(e, &st);
    assert_int_equal(st.leases + st.snapshots + st.content + st.ingests, 0);
    assert_int_equal(st.blobs + st.backend_ingests + st.backend_snapshots, 0);
    assert_false(st.remarked);
}

static void test_gc_image_roots_follow_content_refs(void **state)
{
    struct env *e = *state;
    struct berth_gc_stats st;
    struct berth_labels l = {0};
    struct berth_err *err = NULL;
    _cleanup_free_ char *cfg = blob(e, "ns1", "config", NULL, NULL);
    _cleanup_free_ char *layer = blob(e, "ns1", "layer", NULL, NULL);
    _cleanup_free_ char *stray = blob(e, "ns1", "stray", NULL, NULL);
    _cleanup_free_ char *mf = NULL;

    berth_labels_set(&l, "containerd.io/gc.ref.content.config", cfg);
    berth_labels_set(&l, "containerd.io/gc.ref.content.l.0", layer);
    mf = blob(e, "ns1", "manifest", NULL, &l);
    berth_labels_clear(&l);
    image(e, "ns1", "docker.io/library/x:1", mf);

    gc(e, &st);
    assert_int_equal(st.content, 1);
    assert_int_equal(st.blobs, 1);
    assert_false(has_record(e, "ns1", stray));
    assert_false(has_file(e, stray));
    assert_true(has_record(e, "ns1", mf) && has_file(e, mf));
    assert_true(has_record(e, "ns1", cfg) && has_file(e, cfg));
    assert_true(has_record(e, "ns1", layer) && has_file(e, layer));

    /* Nothing changes on a second pass. */
    gc(e, &st);
    assert_int_equal(st.content + st.blobs, 0);

    /* Without the image, everything goes. */
    {
        struct obj_arg a = {.ns = "ns1", .id = "docker.io/library/x:1"};
        assert_ok(berth_meta_update(e->meta->db, image_delete_cb, &a, &err), &err);
    }
    gc(e, &st);
    assert_int_equal(st.content, 3);
    assert_int_equal(st.blobs, 3);
    assert_false(has_file(e, mf));
    assert_false(has_file(e, cfg));
}

static void test_gc_blob_shared_across_namespaces(void **state)
{
    struct env *e = *state;
    struct berth_gc_stats st;
    _cleanup_free_ char *a = blob(e, "ns1", "shared", NULL, NULL);
    _cleanup_free_ char *b = blob(e, "ns2", "shared", NULL, NULL);

    assert_string_equal(a, b);
    image(e, "ns2", "img", b);
    gc(e, &st);
    /* ns1's record goes, the file stays: ns2 still holds it. */
    assert_int_equal(st.content, 1);
    assert_int_equal(st.blobs, 0);
    assert_false(has_record(e, "ns1", a));
    assert_true(has_record(e, "ns2", a));
    assert_true(has_file(e, a));
}

static void test_gc_snapshots_containers_parents_and_labels(void **state)
{
    struct env *e = *state;
    struct berth_gc_stats st;
    struct berth_labels l = {0};
    struct berth_err *err = NULL;
    _cleanup_(berth_container_freep) struct berth_container *c = berth_container_new();
    struct obj_arg a = {.ns = "ns1", .c = c};
    _cleanup_free_ char *root = NULL;

    snap(e, "ns1", NULL, BERTH_SNAP_ACTIVE, "base-a", NULL, NULL);
    snap_commit(e, "ns1", NULL, "base", "base-a");
    snap(e, "ns1", NULL, BERTH_SNAP_ACTIVE, "rootfs", "base", NULL);
    snap(e, "ns1", NULL, BERTH_SNAP_ACTIVE, "orphan", "base", NULL);
    snap(e, "ns1", NULL, BERTH_SNAP_ACTIVE, "by-label", NULL, NULL);
    snap(e, "ns1", NULL, BERTH_SNAP_ACTIVE, "pinned", NULL, NULL);
    berth_labels_set(&l, "containerd.io/gc.root", "1");
    snap(e, "ns1", NULL, BERTH_SNAP_ACTIVE, "rooted", NULL, &l);
    berth_labels_clear(&l);
    assert_int_equal(backend_count(e), 6);

    c->id = berth_xstrdup("c1");
    c->runtime_name = berth_xstrdup("io.containerd.runc.v2");
    c->snapshotter = berth_xstrdup("native");
    c->snapshot_key = berth_xstrdup("rootfs");
    c->spec.present = true;
    c->spec.type_url = berth_xstrdup("types.containerd.io/opencontainers/runtime-spec/1/Spec");
    berth_labels_set(&c->labels, "containerd.io/gc.ref.snapshot.native/extra", "by-label");
    assert_ok(berth_meta_update(e->meta->db, container_create_cb, &a, &err), &err);
    /* A gc.root blob pins a snapshot through its label. */
    berth_labels_set(&l, "containerd.io/gc.root", "yes");
    berth_labels_set(&l, "containerd.io/gc.ref.snapshot.native", "pinned");
    root = blob(e, "ns1", "root-blob", NULL, &l);
    berth_labels_clear(&l);

    gc(e, &st);
    assert_int_equal(st.snapshots, 1);
    assert_int_equal(st.backend_snapshots, 1);
    assert_false(has_snap(e, "ns1", "orphan"));
    assert_true(has_snap(e, "ns1", "base"));
    assert_true(has_snap(e, "ns1", "rootfs"));
    assert_true(has_snap(e, "ns1", "by-label"));
    assert_true(has_snap(e, "ns1", "pinned"));
    assert_true(has_snap(e, "ns1", "rooted"));
    assert_true(has_record(e, "ns1", root));
    assert_int_equal(backend_count(e), 5);
    /* The parent no longer lists the swept child: removing the container's snapshot and then
     * the parent works. */
    assert_ok(berth_meta_snapshots_remove(e->meta->db, &e->sn, "ns1", NULL, "rootfs", &err), &err);
    assert_ok(berth_meta_snapshots_remove(e->meta->db, &e->sn, "ns1", NULL, "base", &err), &err);
}

static void test_gc_leases_expiry_and_flat(void **state)
{
    struct env *e = *state;
    struct berth_gc_stats st;
    struct berth_labels l = {0};
    _cleanup_free_ char *held = NULL, *expired = NULL, *child = NULL, *flat = NULL, *deep = NULL;

    lease(e, "ns1", "live", NULL, NULL);
    lease(e, "ns1", "past", "containerd.io/gc.expire", "2001-01-01T00:00:00+02:00");
    lease(e, "ns1", "future", "containerd.io/gc.expire", "2200-01-01T00:00:00Z");
    lease(e, "ns1", "flat", "containerd.io/gc.flat", "1");
    held = blob(e, "ns1", "held", "live", NULL);
    expired = blob(e, "ns1", "expired", "past", NULL);
    child = blob(e, "ns1", "child", NULL, NULL);
    deep = blob(e, "ns1", "deep", NULL, NULL);
    berth_labels_set(&l, "containerd.io/gc.ref.content", child);
    flat = blob(e, "ns1", "flat", "flat", &l);
    berth_labels_clear(&l);
    /* The same label followed from a non-flat lease keeps its target. */
    berth_labels_set(&l, "containerd.io/gc.ref.content/x", deep);
    {
        _cleanup_free_ char *f = blob(e, "ns1", "future-blob", "future", &l);
    }
    berth_labels_clear(&l);
    snap(e, "ns1", "live", BERTH_SNAP_ACTIVE, "leased-snap", NULL, NULL);

    gc(e, &st);
    assert_int_equal(st.leases, 1);
    assert_false(has_lease(e, "ns1", "past"));
    assert_true(has_lease(e, "ns1", "live"));
    assert_true(has_lease(e, "ns1", "future"));
    assert_true(has_lease(e, "ns1", "flat"));
    assert_false(has_record(e, "ns1", expired));
    assert_false(has_file(e, expired));
    assert_true(has_record(e, "ns1", held));
    assert_true(has_record(e, "ns1", flat));
    assert_false(has_record(e, "ns1", child)); /* flat: references not followed */
    assert_true(has_record(e, "ns1", deep));
    assert_true(has_snap(e, "ns1", "leased-snap"));
    assert_int_equal(st.content, 2);
}

struct ingest_arg {
    const char *ns, *ref;
    int64_t expires_ns;
};

static int ingest_put_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct ingest_arg *a = arg;
    struct berth_content_ingest in = {.ref = (char *)a->ref, .expires_ns = a->expires_ns};
    return berth_meta_content_ingest_put(txn, a->ns, &in, err);
}

static void ingest(struct env *e, const char *ns, const char *ref, int64_t expires_ns, bool on_disk)
{
    struct ingest_arg a = {ns, ref, expires_ns};
    struct berth_err *err = NULL;

    assert_ok(berth_meta_update(e->meta->db, ingest_put_cb, &a, &err), &err);
    if (on_disk) {
        _cleanup_free_ char *bref = berth_strdup_printf("%s/%s", ns, ref);
        struct berth_content_writer *w = NULL;
        assert_ok(berth_content_writer_open(e->cs, bref, 0, NULL, &w, &err), &err);
        assert_ok(berth_content_writer_write(w, 0, "part", 4, &err), &err);
        berth_content_writer_close(w);
    }
}

static bool has_ingest(struct env *e, const char *ns, const char *ref)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_(berth_content_ingest_freep) struct berth_content_ingest *i = NULL;
    struct berth_err *err = NULL;
    bool ok;

    assert_ok(berth_meta_txn_begin_read(e->meta->db, &txn, &err), &err);
    ok = berth_meta_content_ingest_get(txn, ns, ref, &i, &err) == 0;
    berth_err_free(&err);
    return ok;
}

static bool has_ingest_file(struct env *e, const char *bref)
{
    struct berth_content_status st;
    struct berth_err *err = NULL;

    if (berth_content_ingest_status(e->cs, bref, &st, &err) < 0) {
        assert_err_code(err, BERTH_E_NOT_FOUND);
        return false;
    }
    berth_content_status_clear(&st);
    return true;
}

static void test_gc_ingests_expiry_leases_and_orphans(void **state)
{
    struct env *e = *state;
    struct berth_gc_stats st;
    struct berth_err *err = NULL;
    struct berth_content_writer *w = NULL;
    int64_t now = berth_now_ns();

    lease(e, "ns1", "L", NULL, NULL);
    ingest(e, "ns1", "fresh", now + 3600 * SEC, true);
    ingest(e, "ns1", "stale", now - SEC, true);
    ingest(e, "ns1", "unleased", 0, true);
    ingest(e, "ns1", "leased", 0, true);
    lease_add(e, "ns1", "L", "ingests", "leased");
    /* An ingest no record names (a crash between the store and the record). */
    assert_ok(berth_content_writer_open(e->cs, "ns1/orphan", 0, NULL, &w, &err), &err);
    berth_content_writer_close(w);

    gc(e, &st);
    assert_int_equal(st.ingests, 2);
    assert_int_equal(st.backend_ingests, 3);
    assert_true(has_ingest(e, "ns1", "fresh") && has_ingest_file(e, "ns1/fresh"));
    assert_true(has_ingest(e, "ns1", "leased") && has_ingest_file(e, "ns1/leased"));
    assert_false(has_ingest(e, "ns1", "stale") || has_ingest_file(e, "ns1/stale"));
    assert_false(has_ingest(e, "ns1", "unleased") || has_ingest_file(e, "ns1/unleased"));
    assert_false(has_ingest_file(e, "ns1/orphan"));
}

static void test_gc_busy_ingest_is_skipped(void **state)
{
    struct env *e = *state;
    struct berth_gc_stats st;
    struct berth_err *err = NULL;
    struct berth_content_writer *w = NULL;

    assert_ok(berth_content_writer_open(e->cs, "ns1/busy", 0, NULL, &w, &err), &err);
    gc(e, &st);
    assert_int_equal(st.backend_ingests, 0);
    assert_true(has_ingest_file(e, "ns1/busy"));
    berth_content_writer_close(w);
    gc(e, &st);
    assert_int_equal(st.backend_ingests, 1);
}

static void test_gc_orphan_backend_snapshot_removed(void **state)
{
    struct env *e = *state;
    struct berth_gc_stats st;
    struct berth_err *err = NULL;
    struct berth_mount *m = NULL;
    size_t n = 0;

    /* A backend snapshot whose record never got written (kill -9 between the two writes). */
    assert_ok(e->sn.ops->prepare(e->sn.state, "ns1/99/lost", NULL, NULL, &m, &n, &err), &err);
    berth_mounts_free(m, n);
    snap(e, "ns1", "", BERTH_SNAP_ACTIVE, "kept", NULL, NULL);
    lease(e, "ns1", "L", NULL, NULL);
    lease_add(e, "ns1", "L", "snapshots/native", "kept");
    gc(e, &st);
    assert_int_equal(st.snapshots, 0);
    assert_int_equal(st.backend_snapshots, 1);
    assert_int_equal(backend_count(e), 1);
    assert_true(has_snap(e, "ns1", "kept"));
}

static int check_unchanged_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    uint64_t *id = arg;
    (void)err;
    return berth_meta_txn_unchanged_since(txn, *id) ? 0 : -1;
}

static void test_gc_txn_unchanged_since(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    uint64_t id;

    {
        _cleanup_txn_ struct berth_meta_txn *txn = NULL;
        assert_ok(berth_meta_txn_begin_read(e->meta->db, &txn, &err), &err);
        id = berth_meta_txn_snapshot_id(txn);
    }
    assert_ok(berth_meta_update(e->meta->db, check_unchanged_cb, &id, &err), &err);
    /* A write since the snapshot: changed. */
    lease(e, "ns1", "x", NULL, NULL);
    assert_int_equal(berth_meta_update(e->meta->db, check_unchanged_cb, &id, &err), -1);
    berth_err_free(&err);
}

static void test_gc_label_parsing(void **state)
{
    (void)state;
    assert_true(berth_gc_label_is_content_ref("containerd.io/gc.ref.content"));
    assert_true(berth_gc_label_is_content_ref("containerd.io/gc.ref.content.m.0"));
    assert_true(berth_gc_label_is_content_ref("containerd.io/gc.ref.content/x"));
    assert_false(berth_gc_label_is_content_ref("containerd.io/gc.ref.contentx"));
    assert_false(berth_gc_label_is_content_ref("containerd.io/gc.root"));
    assert_int_equal(berth_gc_label_snapshot_ref("containerd.io/gc.ref.snapshot.overlayfs"), 9);
    assert_int_equal(berth_gc_label_snapshot_ref("containerd.io/gc.ref.snapshot.native/a/b"), 6);
    assert_int_equal(berth_gc_label_snapshot_ref("containerd.io/gc.ref.snapshot."), 0);
    assert_int_equal(berth_gc_label_snapshot_ref("containerd.io/gc.ref.content"), 0);
}

static int delete_content_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    return berth_meta_content_delete(txn, "ns1", arg, err);
}

static void test_gc_scheduler_run_and_deletion_trigger(void **state)
{
    struct env *e = *state;
    struct berth_gc_sched_opts o;
    struct berth_gc_scheduler *s = NULL;
    struct berth_gc_stats st;
    struct berth_err *err = NULL;
    _cleanup_free_ char *keep = blob(e, "ns1", "keep", NULL, NULL);
    _cleanup_free_ char *gone = NULL;

    image(e, "ns1", "img", keep);
    berth_gc_sched_opts_default(&o);
    o.startup_delay_ms = 3600 * 1000; /* only explicit runs and deletions */
    o.pause_threshold = 0.5;
    assert_ok(berth_gc_scheduler_start(e->meta->db, &e->be, &o, &s, &err), &err);
    gone = blob(e, "ns1", "gone", NULL, NULL);
    assert_ok(berth_gc_scheduler_run(s, &st, &err), &err);
    assert_int_equal(st.content, 1);
    assert_false(has_file(e, gone));
    assert_true(has_file(e, keep));

    /* A deletion schedules a pass by itself (deletion_threshold 0). */
    free(gone);
    gone = blob(e, "ns1", "gone2", NULL, NULL);
    lease(e, "ns1", "hold", NULL, NULL);
    lease_add(e, "ns1", "hold", "content", gone);
    assert_ok(berth_meta_update(e->meta->db, delete_content_cb, gone, &err), &err);
    for (int i = 0; i < 200 && has_file(e, gone); i++)
        usleep(10000);
    assert_false(has_file(e, gone));
    berth_gc_scheduler_stop(s);

    /* Invalid options. */
    o.pause_threshold = 0.9;
    assert_int_equal(berth_gc_scheduler_start(e->meta->db, &e->be, &o, &s, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static bool has_key(struct env *e, const char *key)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_meta_txn_begin_read(e->meta->db, &txn, &err), &err);
    return berth_meta_exists(txn, key);
}

static void corrupt(struct env *e, const char *key)
{
    meta_raw_put(e->meta, key, BERTH_TEST_GARBAGE, BERTH_TEST_GARBAGE_LEN);
}

/* A container record that cannot be decoded might reference anything in its namespace: the
 * pass keeps that namespace whole, collects the others, and succeeds. */
static void test_gc_corrupt_record_keeps_its_namespace_and_collects_the_others(void **state)
{
    struct env *e = *state;
    struct berth_gc_stats st;
    _cleanup_free_ char *a_blob = blob(e, "a", "a-garbage", NULL, NULL);
    _cleanup_free_ char *b_blob = blob(e, "b", "b-garbage", NULL, NULL);

    snap(e, "a", NULL, BERTH_SNAP_ACTIVE, "a-snap", NULL, NULL);
    snap(e, "b", NULL, BERTH_SNAP_ACTIVE, "b-snap", NULL, NULL);
    corrupt(e, "c/a/bad");

    /* Before: the pass failed (INTERNAL from the container listing), every time. */
    gc(e, &st);
    assert_int_equal(st.corrupt, 1);
    assert_int_equal(st.unswept_namespaces, 1);
    assert_string_equal(st.first_corrupt, "c/a/bad");
    assert_true(has_record(e, "a", a_blob) && has_file(e, a_blob));
    assert_true(has_snap(e, "a", "a-snap"));
    assert_false(has_record(e, "b", b_blob) || has_file(e, b_blob));
    assert_false(has_snap(e, "b", "b-snap"));
    assert_int_equal(st.content, 1);
    assert_int_equal(st.snapshots, 1);
    assert_int_equal(backend_count(e), 1);
    assert_true(has_key(e, "c/a/bad")); /* left for fsck */
}

/* A snapshot record that cannot be decoded: its backend snapshot's name is lost with it, so
 * the backend pass keeps every backend snapshot of the namespace. */
static void test_gc_corrupt_snapshot_record_keeps_its_backend_snapshot(void **state)
{
    struct env *e = *state;
    struct berth_gc_stats st;

    snap(e, "a", NULL, BERTH_SNAP_ACTIVE, "k1", NULL, NULL);
    snap(e, "b", NULL, BERTH_SNAP_ACTIVE, "k2", NULL, NULL);
    assert_int_equal(backend_count(e), 2);
    corrupt(e, "s/a/native/k1");

    /* Before: the sweep tried to delete it and the pass failed. */
    gc(e, &st);
    assert_int_equal(st.corrupt, 1);
    assert_true(has_key(e, "s/a/native/k1"));
    assert_false(has_snap(e, "b", "k2"));
    assert_int_equal(backend_count(e), 1); /* a's */
    gc(e, &st);
    assert_int_equal(backend_count(e), 1);
}

/* A lease that cannot be decoded may hold anything in its namespace; it is not swept either,
 * even though nothing references a lease. */
static void test_gc_corrupt_lease_is_left_with_its_namespace(void **state)
{
    struct env *e = *state;
    struct berth_gc_stats st;
    _cleanup_free_ char *held = blob(e, "c", "held", NULL, NULL);

    lease(e, "c", "l1", NULL, NULL);
    lease_add(e, "c", "l1", "content", held);
    corrupt(e, "l/c/l1");
    gc(e, &st);
    assert_int_equal(st.corrupt, 1);
    assert_true(has_key(e, "l/c/l1"));
    assert_true(has_record(e, "c", held) && has_file(e, held));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gc_empty_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_image_roots_follow_content_refs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_blob_shared_across_namespaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_snapshots_containers_parents_and_labels, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gc_leases_expiry_and_flat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_ingests_expiry_leases_and_orphans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_busy_ingest_is_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_orphan_backend_snapshot_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_txn_unchanged_since, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_label_parsing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_scheduler_run_and_deletion_trigger, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_gc_corrupt_record_keeps_its_namespace_and_collects_the_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_corrupt_snapshot_record_keeps_its_backend_snapshot,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_corrupt_lease_is_left_with_its_namespace, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
