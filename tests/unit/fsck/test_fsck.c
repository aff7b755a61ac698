/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for fsck/ (fsck.c, store.c, state.c) over a real metadata store, content store, native
 * snapshotter and state dir in the test's temp dir: each damage is made, found, and (orphans)
 * repaired; nothing referenced is ever removed. No root needed (nothing is mounted). */
#include "tests/unit/helpers/meta_fixture.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsck/fsck.h"
#include "lib/fs.h"
#include "lib/util.h"
#include "metadata/content.h"
#include "metadata/gc.h"
#include "metadata/snapshots.h"
#include "tests/unit/helpers/lmdb_raw.h"

struct env {
    struct meta_env *meta;
    struct berth_snapshotter sn;
    struct berth_snapshotter *snp[1];
    struct berth_content_store *cs;
    struct berth_fsck_stores st;
    char *root, *state, *snapdir;
    struct berth_fsck_report r;
};

static int setup(void **state)
{
    struct env *e = berth_xcalloc(1, sizeof(*e));
    struct berth_err *err = NULL;
    _cleanup_free_ char *sroot = NULL, *cdir = NULL;

    if (meta_setup((void **)&e->meta) < 0)
        return -1;
    e->root = berth_xstrdup(e->meta->tmp->dir);
    e->state = berth_strdup_printf("%s/state", e->root);
    sroot = berth_strdup_printf("%s/snapshots/native", e->root);
    e->snapdir = berth_strdup_printf("%s/snapshots", sroot);
    cdir = berth_strdup_printf("%s/content", e->root);
    e->sn.ops = &berth_snap_native_ops;
    if (mkdir(e->state, 0700) < 0 || e->sn.ops->open(sroot, &e->sn.state, &err) < 0 ||
        berth_content_store_open(cdir, &e->cs, &err) < 0) {
        print_error("open backends: %s\n", err ? err->msg : "mkdir");
        berth_err_free(&err);
        return -1;
    }
    e->snp[0] = &e->sn;
    e->st = (struct berth_fsck_stores){.db = e->meta->db,
                                       .content = e->cs,
                                       .snapshotters = e->snp,
                                       .n_snapshotters = 1,
                                       .root = e->root,
                                       .state = e->state};
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    berth_fsck_report_clear(&e->r);
    e->sn.ops->close(e->sn.state);
    berth_content_store_close(e->cs);
    free(e->root);
    free(e->state);
    free(e->snapdir);
    meta_teardown((void **)&e->meta);
    free(e);
    return 0;
}

/* ---- fixtures ---- */

static void run(struct env *e, bool verify, bool repair)
{
    struct berth_fsck_opts o = {.verify = verify, .repair = repair};
    struct berth_err *err = NULL;

    berth_fsck_report_clear(&e->r);
    e->st.db = e->meta->db; /* meta_raw_put reopens it */
    assert_ok(berth_fsck_run(&e->st, &o, &e->r, &err), &err);
}

/* The finding of kind whose id contains id_part, or NULL. */
static const struct berth_fsck_finding *find(struct env *e, const char *kind, const char *id_part)
{
    for (size_t i = 0; i < e->r.n; i++)
        if (strcmp(e->r.v[i].kind, kind) == 0 && strstr(e->r.v[i].id, id_part))
            return &e->r.v[i];
    return NULL;
}

static void assert_clean(struct env *e)
{
    for (size_t i = 0; i < e->r.n; i++)
        if (e->r.v[i].cls != BERTH_FSCK_INFO && !e->r.v[i].repaired)
            fail_msg("unexpected finding: %s %s: %s", e->r.v[i].kind, e->r.v[i].id,
                     e->r.v[i].problem);
    assert_true(berth_fsck_report_clean(&e->r));
}

struct put_arg {
    const char *ns, *digest;
    int64_t size;
    const struct berth_labels *labels;
};

static int put_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct put_arg *a = arg;
    struct berth_content_info i = {.digest = (char *)a->digest, .size = a->size};

    if (a->labels)
        i.labels = *a->labels;
    return berth_meta_content_put(txn, a->ns, &i, err);
}

/* Writes data as a blob; with ns, records it there. Returns its digest. */
static char *blob(struct env *e, const char *ns, const char *data,
                  const struct berth_labels *labels)
{
    struct berth_err *err = NULL;
    struct berth_content_writer *w = NULL;
    _cleanup_free_ char *ref = berth_strdup_printf("t/w-%s", data);
    char *digest = NULL;
    struct put_arg a = {.ns = ns, .size = (int64_t)strlen(data), .labels = labels};

    assert_ok(berth_content_writer_open(e->cs, ref, 0, NULL, &w, &err), &err);
    assert_ok(berth_content_writer_write(w, 0, data, strlen(data), &err), &err);
    assert_ok(berth_content_writer_commit(w, 0, NULL, &digest, &err), &err);
    a.digest = digest;
    if (ns)
        assert_ok(berth_meta_update(e->meta->db, put_cb, &a, &err), &err);
    return digest;
}

static char *blob_path(struct env *e, const char *digest)
{
    return berth_strdup_printf("%s/content/blobs/sha256/%s", e->root, digest + strlen("sha256:"));
}

static void snap(struct env *e, enum berth_snap_kind kind, const char *key, const char *parent)
{
    struct berth_err *err = NULL;
    struct berth_mount *m = NULL;
    size_t n = 0;

    assert_ok(berth_meta_snapshots_create(e->meta->db, &e->sn, "ns", NULL, kind, key, parent, NULL,
                                          &m, &n, &err),
              &err);
    berth_mounts_free(m, n);
}

static int first_id_cb(const char *name, bool prefix, void *arg, struct berth_err **err)
{
    (void)prefix, (void)err;
    if (!*(char **)arg)
        *(char **)arg = berth_xstrdup(name);
    return 0;
}

/* The backend name of the only snapshot record. */
static char *backend_name(struct env *e)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_err *err = NULL;
    char *name = NULL;

    assert_ok(berth_meta_txn_begin_read(e->meta->db, &txn, &err), &err);
    assert_ok(berth_meta_snapshots_backend_names(txn, "native", first_id_cb, &name, &err), &err);
    assert_non_null(name);
    return name;
}

/* ---- tests ---- */

static void test_fsck_run_clean_store(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *d = blob(e, "ns", "hello", NULL);

    snap(e, BERTH_SNAP_ACTIVE, "a", NULL);
    run(e, true, false);
    assert_int_equal(e->r.n, 0);
    assert_true(berth_fsck_report_clean(&e->r));
}

static void test_fsck_run_missing_blob_is_error_never_repaired(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *d = blob(e, "ns", "hello", NULL);
    _cleanup_free_ char *p = blob_path(e, d);
    const struct berth_fsck_finding *f;

    assert_int_equal(unlink(p), 0);
    run(e, false, true);
    assert_non_null(f = find(e, "content", d));
    assert_int_equal(f->cls, BERTH_FSCK_ERROR);
    assert_false(f->repaired);
    assert_false(berth_fsck_report_clean(&e->r));
}

static void test_fsck_run_size_and_digest_mismatch(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *d1 = blob(e, "ns", "hello", NULL);
    _cleanup_free_ char *d2 = blob(e, "ns", "world", NULL);
    _cleanup_free_ char *p1 = blob_path(e, d1), *p2 = blob_path(e, d2);
    struct berth_err *err = NULL;

    assert_ok(berth_write_file_atomic(p1, "hello!", 6, 0644, &err), &err);
    assert_ok(berth_write_file_atomic(p2, "WORLD", 5, 0644, &err), &err);
    run(e, false, false);
    assert_non_null(find(e, "content", d1));
    assert_null(find(e, "blob", d2)); /* same size: only --verify can tell */
    run(e, true, false);
    assert_non_null(find(e, "content", d1));
    assert_non_null(find(e, "blob", d2));
    assert_int_equal(find(e, "blob", d2)->cls, BERTH_FSCK_ERROR);
}

static void test_fsck_run_orphan_blob_repaired_referenced_kept(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *kept = blob(e, "ns", "kept", NULL);
    _cleanup_free_ char *orphan = blob(e, NULL, "orphan", NULL);
    const struct berth_fsck_finding *f;
    struct berth_err *err = NULL;
    int64_t size;

    run(e, false, false);
    assert_non_null(f = find(e, "blob", orphan));
    assert_int_equal(f->cls, BERTH_FSCK_ORPHAN);
    assert_null(find(e, "blob", kept));
    run(e, false, true);
    assert_true(find(e, "blob", orphan)->repaired);
    assert_clean(e);
    assert_int_equal(berth_content_blob_stat(e->cs, orphan, &size, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_ok(berth_content_blob_stat(e->cs, kept, &size, &err), &err);
    run(e, false, false);
    assert_int_equal(e->r.n, 0);
}

static void test_fsck_run_orphan_ingest_repaired(void **state)
{
    struct env *e = *state;
    struct berth_content_writer *w = NULL;
    struct berth_content_status st = {0};
    struct berth_err *err = NULL;

    assert_ok(berth_content_writer_open(e->cs, "ns/partial", 10, NULL, &w, &err), &err);
    assert_ok(berth_content_writer_write(w, 0, "abc", 3, &err), &err);
    berth_content_writer_close(w);
    run(e, false, true);
    assert_non_null(find(e, "ingest", "ns/partial"));
    assert_int_equal(find(e, "ingest", "ns/partial")->cls, BERTH_FSCK_ORPHAN);
    assert_true(find(e, "ingest", "ns/partial")->repaired);
    assert_clean(e);
    assert_int_equal(berth_content_ingest_status(e->cs, "ns/partial", &st, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_fsck_run_orphan_backend_snapshot_and_dir_repaired(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *stray = berth_strdup_printf("%s/12345", e->snapdir);
    _cleanup_free_ char *rm = berth_strdup_printf("%s/rm-7", e->snapdir);
    struct berth_err *err = NULL;
    struct berth_mount *m = NULL;
    size_t n = 0;

    snap(e, BERTH_SNAP_ACTIVE, "kept", NULL);
    /* a backend snapshot no record names: a crash between the backend call and the record */
    assert_ok(e->sn.ops->prepare(e->sn.state, "ns/99/lost", NULL, NULL, &m, &n, &err), &err);
    berth_mounts_free(m, n);
    assert_int_equal(mkdir(stray, 0700), 0);
    assert_int_equal(mkdir(rm, 0700), 0);
    run(e, false, false);
    assert_int_equal(find(e, "backend-snapshot", "native/ns/99/lost")->cls, BERTH_FSCK_ORPHAN);
    assert_int_equal(find(e, "snapshot-dir", "/12345")->cls, BERTH_FSCK_ORPHAN);
    assert_int_equal(find(e, "snapshot-dir", "/rm-7")->cls, BERTH_FSCK_ORPHAN);
    run(e, false, true);
    assert_clean(e);
    assert_int_equal(access(stray, F_OK), -1);
    assert_int_equal(access(rm, F_OK), -1);
    run(e, false, false);
    assert_int_equal(e->r.n, 0); /* "kept" and its directory are still there */
}

static void test_fsck_run_snapshot_missing_dir_backend_and_parent(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *name = NULL, *id = NULL;
    struct berth_err *err = NULL;

    snap(e, BERTH_SNAP_ACTIVE, "a", NULL);
    name = backend_name(e);
    /* the only backend snapshot is id 1: its directory goes */
    id = berth_strdup_printf("%s/1", e->snapdir);
    assert_ok(berth_rmrf(id, &err), &err);
    run(e, false, true);
    assert_int_equal(find(e, "backend-snapshot", name)->cls, BERTH_FSCK_ERROR);
    assert_false(berth_fsck_report_clean(&e->r));
    /* the backend record goes too: the main record names nothing */
    assert_ok(e->sn.ops->remove(e->sn.state, name, &err), &err);
    run(e, false, true);
    assert_int_equal(find(e, "snapshot", "ns/native/a")->cls, BERTH_FSCK_ERROR);
}

static void test_fsck_run_dangling_refs_are_info(void **state)
{
    struct env *e = *state;
    struct berth_labels l = {0};
    _cleanup_free_ char *d = NULL;

    berth_labels_set(&l, BERTH_LABEL_GC_REF_CONTENT,
                     "sha256:0000000000000000000000000000000000000000000000000000000000000000");
    berth_labels_set(&l, BERTH_LABEL_GC_REF_SNAPSHOT "native", "nothing");
    d = blob(e, "ns", "labelled", &l);
    berth_labels_clear(&l);
    run(e, false, false);
    assert_int_equal(e->r.n, 2);
    assert_int_equal(e->r.v[0].cls, BERTH_FSCK_INFO);
    assert_int_equal(e->r.v[1].cls, BERTH_FSCK_INFO);
    assert_true(berth_fsck_report_clean(&e->r));
}

static void test_fsck_run_corrupt_record_is_error(void **state)
{
    struct env *e = *state;

    meta_raw_put(e->meta,
                 "cb/ns/sha256:"
                 "1111111111111111111111111111111111111111111111111111111111111111",
                 BERTH_TEST_GARBAGE, BERTH_TEST_GARBAGE_LEN);
    meta_raw_put(e->meta, "ns/ns", "", 0);
    run(e, false, false);
    assert_non_null(find(e, "record", "cb/ns/sha256:1111"));
    assert_int_equal(find(e, "record", "cb/ns/sha256:1111")->cls, BERTH_FSCK_ERROR);
}

static void test_fsck_run_orphan_bundle_repaired(void **state)
{
    struct env *e = *state;
    _cleanup_free_ char *b = berth_strdup_printf("%s/tasks/ns/ghost", e->state);
    _cleanup_free_ char *half = berth_strdup_printf("%s/tasks/ns/.gone", e->state);
    struct berth_err *err = NULL;

    assert_ok(berth_mkdir_p(b, 0711, 0700, &err), &err);
    assert_ok(berth_mkdir_p(half, 0711, 0700, &err), &err);
    run(e, false, false);
    assert_int_equal(find(e, "bundle", "/ghost")->cls, BERTH_FSCK_ORPHAN);
    assert_int_equal(find(e, "bundle", "/.gone")->cls, BERTH_FSCK_ORPHAN);
    run(e, false, true);
    assert_clean(e);
    assert_int_equal(access(b, F_OK), -1);
    assert_int_equal(access(half, F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fsck_run_clean_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsck_run_missing_blob_is_error_never_repaired, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fsck_run_size_and_digest_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsck_run_orphan_blob_repaired_referenced_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fsck_run_orphan_ingest_repaired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsck_run_orphan_backend_snapshot_and_dir_repaired,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsck_run_snapshot_missing_dir_backend_and_parent,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsck_run_dangling_refs_are_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsck_run_corrupt_record_is_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsck_run_orphan_bundle_repaired, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
