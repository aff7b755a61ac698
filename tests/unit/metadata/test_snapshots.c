/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for metadata/snapshots.c (the namespacing layer) over a real store and a real native
 * backend in the test's temp dir. Nothing is mounted, so no root is needed. */
#include "tests/unit/helpers/meta_fixture.h"

#include <string.h>

#include "lib/filters.h"
#include "lib/util.h"
#include "metadata/leases.h"
#include "metadata/snapshots.h"

struct env {
    struct meta_env *meta;
    struct berth_snapshotter sn;
};

static int setup(void **state)
{
    struct env *e = berth_xcalloc(1, sizeof(*e));
    struct berth_err *err = NULL;
    _cleanup_free_ char *root = NULL;

    if (meta_setup((void **)&e->meta) < 0)
        return -1;
    root = berth_strdup_printf("%s/native", e->meta->tmp->dir);
    e->sn.ops = &berth_snap_native_ops;
    if (e->sn.ops->open(root, &e->sn.state, &err) < 0) {
        print_error("open native: %s\n", err->msg);
        berth_err_free(&err);
        return -1;
    }
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    e->sn.ops->close(e->sn.state);
    meta_teardown((void **)&e->meta);
    free(e);
    return 0;
}

/* Prepare (ACTIVE) or View in ns; mounts dropped. */
static int mk(struct env *e, const char *ns, const char *lease, enum berth_snap_kind kind,
              const char *key, const char *parent, const struct berth_labels *labels,
              struct berth_err **err)
{
    struct berth_mount *m = NULL;
    size_t n = 0;
    int ret = berth_meta_snapshots_create(e->meta->db, &e->sn, ns, lease, kind, key, parent, labels,
                                          &m, &n, err);
    if (ret == 0)
        assert_int_equal(n, 1);
    berth_mounts_free(m, n);
    return ret;
}

static int commit(struct env *e, const char *ns, const char *lease, const char *name,
                  const char *key, struct berth_err **err)
{
    return berth_meta_snapshots_commit(e->meta->db, &e->sn, ns, lease, name, key, NULL, err);
}

static struct berth_snapshot *get(struct env *e, const char *ns, const char *key,
                                  struct berth_err **err)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_snapshot *s = NULL;

    assert_ok(berth_meta_txn_begin_read(e->meta->db, &txn, err), err);
    if (berth_meta_snapshots_get(txn, ns, "native", key, &s, err) < 0)
        return NULL;
    return s;
}

static size_t list_n(struct env *e, const char *ns, const char *filter)
{
    _cleanup_(berth_filter_freep) struct berth_filter *f = NULL;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_err *err = NULL;
    struct berth_snapshot **v = NULL;
    size_t n = 0;

    if (filter)
        assert_ok(berth_filter_parse(&filter, 1, &f, &err), &err);
    assert_ok(berth_meta_txn_begin_read(e->meta->db, &txn, &err), &err);
    assert_ok(berth_meta_snapshots_list(txn, ns, "native", f, &v, &n, &err), &err);
    berth_snapshots_free(v, n);
    return n;
}

static int count_cb(const struct berth_snap_info *info, void *arg, struct berth_err **err)
{
    (void)info;
    (void)err;
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

/* base (committed) <- act (active) and view (view). */
static void chain(struct env *e, const char *ns)
{
    struct berth_err *err = NULL;

    assert_ok(mk(e, ns, NULL, BERTH_SNAP_ACTIVE, "k1", NULL, NULL, &err), &err);
    assert_ok(commit(e, ns, NULL, "base", "k1", &err), &err);
    assert_ok(mk(e, ns, NULL, BERTH_SNAP_ACTIVE, "act", "base", NULL, &err), &err);
    assert_ok(mk(e, ns, NULL, BERTH_SNAP_VIEW, "view", "base", NULL, &err), &err);
}

static void test_snapshots_prepare_commit_view_stat(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = NULL;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *k = NULL;

    chain(e, "default");
    s = get(e, "default", "base", &err);
    assert_non_null(s);
    assert_int_equal(s->info.kind, BERTH_SNAP_COMMITTED);
    assert_null(s->info.parent);
    assert_int_equal(s->n_children, 2);
    k = get(e, "default", "act", &err);
    assert_non_null(k);
    assert_int_equal(k->info.kind, BERTH_SNAP_ACTIVE);
    assert_string_equal(k->info.parent, "base");
    assert_non_null(strstr(k->backend_name, "default/"));
    /* k1 is gone: commit moved it. */
    assert_null(get(e, "default", "k1", &err));
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(backend_count(e), 3);
}

static void test_snapshots_mounts_and_usage(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_mount *m = NULL;
    struct berth_snap_usage u = {0};
    size_t n = 0;

    chain(e, "default");
    assert_ok(berth_meta_snapshots_mounts(e->meta->db, &e->sn, "default", "act", &m, &n, &err),
              &err);
    assert_int_equal(n, 1);
    assert_string_equal(m[0].type, "bind");
    berth_mounts_free(m, n);
    assert_ok(berth_meta_snapshots_usage(e->meta->db, &e->sn, "default", "base", &u, &err), &err);
    assert_true(u.inodes >= 1);
    assert_int_equal(
        berth_meta_snapshots_mounts(e->meta->db, &e->sn, "default", "nope", &m, &n, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(berth_meta_snapshots_usage(e->meta->db, &e->sn, "other", "base", &u, &err),
                     -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_snapshots_list_filters(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_labels l = {0};

    berth_labels_set(&l, "team", "a");
    assert_ok(mk(e, "default", NULL, BERTH_SNAP_ACTIVE, "lab", NULL, &l, &err), &err);
    berth_labels_clear(&l);
    chain(e, "default");
    assert_int_equal(list_n(e, "default", NULL), 4);
    assert_int_equal(list_n(e, "default", "kind==committed"), 1);
    assert_int_equal(list_n(e, "default", "kind==active"), 2);
    assert_int_equal(list_n(e, "default", "parent==base"), 2);
    assert_int_equal(list_n(e, "default", "name==view"), 1);
    assert_int_equal(list_n(e, "default", "labels.team==a"), 1);
    assert_int_equal(list_n(e, "other", NULL), 0);
}

struct update_op {
    struct berth_snap_info *info;
    char *const *paths;
    size_t n;
    struct berth_snapshot *out;
};

static int update_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct update_op *u = arg;

    return berth_meta_snapshots_update(txn, "default", "native", u->info, u->paths, u->n, &u->out,
                                       err);
}

static void test_snapshots_update_labels(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_snap_info info = {.name = (char *)"base"};
    char *paths[] = {(char *)"labels.a", (char *)"labels.gone"};
    char *bad[] = {(char *)"parent"};
    struct update_op u = {&info, paths, 2, NULL};
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = NULL;
    _cleanup_free_ char *big = NULL;

    chain(e, "default");
    berth_labels_set(&info.labels, "a", "1");
    berth_labels_set(&info.labels, "b", "2"); /* not in the mask: ignored */
    assert_ok(berth_meta_update(e->meta->db, update_cb, &u, &err), &err);
    assert_string_equal(berth_labels_get(&u.out->info.labels, "a"), "1");
    assert_null(berth_labels_get(&u.out->info.labels, "b"));
    berth_snapshot_free(steal_ptr(u.out));
    s = get(e, "default", "base", &err);
    assert_string_equal(berth_labels_get(&s->info.labels, "a"), "1");

    /* Only label paths may change. */
    u.paths = bad;
    u.n = 1;
    assert_int_equal(berth_meta_update(e->meta->db, update_cb, &u, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    /* An oversized label is refused. */
    big = berth_xcalloc(5001, 1);
    memset(big, 'x', 5000);
    berth_labels_set(&info.labels, "a", big);
    u.paths = paths;
    assert_int_equal(berth_meta_update(e->meta->db, update_cb, &u, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    /* Missing key. */
    berth_labels_set(&info.labels, "a", "1");
    info.name = (char *)"nope";
    assert_int_equal(berth_meta_update(e->meta->db, update_cb, &u, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_labels_clear(&info.labels);
}

static void test_snapshots_namespaces_isolated(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *a = NULL;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *b = NULL;

    chain(e, "default");
    chain(e, "other");
    a = get(e, "default", "base", &err);
    b = get(e, "other", "base", &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_not_equal(a->backend_name, b->backend_name);
    assert_int_equal(backend_count(e), 6);
    /* Removing one namespace's key leaves the other's. */
    assert_ok(berth_meta_snapshots_remove(e->meta->db, &e->sn, "other", NULL, "view", &err), &err);
    assert_int_equal(list_n(e, "default", NULL), 3);
    assert_int_equal(list_n(e, "other", NULL), 2);
    assert_int_equal(backend_count(e), 6); /* metadata-only until the GC's backend pass */
    assert_ok(berth_meta_snapshots_backend_gc(e->meta->db, &e->sn, NULL, NULL, &err), &err);
    assert_int_equal(backend_count(e), 5);
    /* A parent from another namespace is not visible. */
    assert_int_equal(mk(e, "third", NULL, BERTH_SNAP_ACTIVE, "x", "base", NULL, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_snapshots_create_errors(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_labels l = {0};
    _cleanup_free_ char *big = NULL;
    _cleanup_free_ char *longkey = NULL;

    chain(e, "default");
    assert_int_equal(mk(e, "default", NULL, BERTH_SNAP_ACTIVE, "x", "missing", NULL, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(mk(e, "default", NULL, BERTH_SNAP_ACTIVE, "act", NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    assert_int_equal(mk(e, "default", NULL, BERTH_SNAP_VIEW, "base", NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    /* Only committed snapshots can be parents. */
    assert_int_equal(mk(e, "default", NULL, BERTH_SNAP_ACTIVE, "x", "act", NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    /* Bad keys. */
    assert_int_equal(mk(e, "default", NULL, BERTH_SNAP_ACTIVE, "", NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(mk(e, "default", NULL, BERTH_SNAP_ACTIVE, "a\nb", NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    longkey = berth_xcalloc(BERTH_SNAP_KEY_MAX + 2, 1);
    memset(longkey, 'k', BERTH_SNAP_KEY_MAX + 1);
    assert_int_equal(mk(e, "default", NULL, BERTH_SNAP_ACTIVE, longkey, NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    longkey[BERTH_SNAP_KEY_MAX] = '\0'; /* 400 bytes is fine, '/' and spaces too */
    assert_ok(mk(e, "default", NULL, BERTH_SNAP_ACTIVE, longkey, NULL, NULL, &err), &err);
    assert_ok(mk(e, "default", NULL, BERTH_SNAP_ACTIVE, "extract-1 sha256:a/b", "base", NULL, &err),
              &err);
    /* Oversized label. */
    big = berth_xcalloc(5001, 1);
    memset(big, 'v', 5000);
    berth_labels_set(&l, "k", big);
    assert_int_equal(mk(e, "default", NULL, BERTH_SNAP_ACTIVE, "lab", NULL, &l, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_labels_clear(&l);
    /* Nothing was created by the failures. */
    assert_int_equal(list_n(e, "default", NULL), 5);
    assert_int_equal(backend_count(e), 5);
}

static void test_snapshots_commit_errors(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;

    chain(e, "default");
    assert_int_equal(commit(e, "default", NULL, "x", "view", &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(commit(e, "default", NULL, "x", "base", &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(commit(e, "default", NULL, "x", "nope", &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(commit(e, "default", NULL, "base", "act", &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    assert_int_equal(commit(e, "default", NULL, "", "act", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    /* act is still active and committable. */
    assert_ok(commit(e, "default", NULL, "top", "act", &err), &err);
    assert_int_equal(list_n(e, "default", "kind==committed"), 2);
}

static void test_snapshots_remove(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;

    chain(e, "default");
    assert_int_equal(
        berth_meta_snapshots_remove(e->meta->db, &e->sn, "default", NULL, "base", &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(
        berth_meta_snapshots_remove(e->meta->db, &e->sn, "default", NULL, "nope", &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(backend_count(e), 3);
    assert_ok(berth_meta_snapshots_remove(e->meta->db, &e->sn, "default", NULL, "act", &err), &err);
    assert_ok(berth_meta_snapshots_remove(e->meta->db, &e->sn, "default", NULL, "view", &err),
              &err);
    assert_ok(berth_meta_snapshots_remove(e->meta->db, &e->sn, "default", NULL, "base", &err),
              &err);
    assert_int_equal(list_n(e, "default", NULL), 0);
    /* Remove is metadata-only (containerd): the backend pass of the GC frees the space. */
    assert_int_equal(backend_count(e), 3);
    {
        size_t n = 0;
        assert_ok(berth_meta_snapshots_backend_gc(e->meta->db, &e->sn, &n, NULL, &err), &err);
        assert_int_equal(n, 3);
    }
    assert_int_equal(backend_count(e), 0);
}

static int lease_create_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    return berth_meta_leases_create(txn, "default", arg, err);
}

static size_t lease_resources(struct env *e, const char *id, const char *want_type,
                              const char *want_id)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_err *err = NULL;
    struct berth_lease_resource *v = NULL;
    size_t n = 0, hits = 0;

    assert_ok(berth_meta_txn_begin_read(e->meta->db, &txn, &err), &err);
    assert_ok(berth_meta_leases_list_resources(txn, "default", id, &v, &n, &err), &err);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].type, want_type) == 0 && strcmp(v[i].id, want_id) == 0)
            hits++;
    berth_lease_resources_free(v, n);
    return hits;
}

static void test_snapshots_lease_attach(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    _cleanup_(berth_lease_freep) struct berth_lease *l = berth_lease_new();

    l->id = berth_xstrdup("L1");
    assert_ok(berth_meta_update(e->meta->db, lease_create_cb, l, &err), &err);
    assert_ok(mk(e, "default", "L1", BERTH_SNAP_ACTIVE, "k1", NULL, NULL, &err), &err);
    assert_int_equal(lease_resources(e, "L1", "snapshots/native", "k1"), 1);
    assert_ok(commit(e, "default", "L1", "c1", "k1", &err), &err);
    assert_int_equal(lease_resources(e, "L1", "snapshots/native", "c1"), 1);
    assert_ok(mk(e, "default", "L1", BERTH_SNAP_VIEW, "v1", "c1", NULL, &err), &err);
    assert_int_equal(lease_resources(e, "L1", "snapshots/native", "v1"), 1);

    /* A missing lease fails the call and leaves nothing behind, in metadata or backend. */
    assert_int_equal(mk(e, "default", "nolease", BERTH_SNAP_ACTIVE, "k2", NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_null(get(e, "default", "k2", &err));
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(backend_count(e), 2);
    assert_int_equal(list_n(e, "default", NULL), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snapshots_prepare_commit_view_stat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshots_mounts_and_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshots_list_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshots_update_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshots_namespaces_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshots_create_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshots_commit_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshots_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshots_lease_attach, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
