/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshotter conformance suite (containerd's SnapshotterSuite): one set of tests run
 * against a `const struct berth_snapshotter_ops *`, chosen by argv[1] ("overlayfs", "native").
 * Files go in and out through real mounts (mount(2) of what the backend returns), so this needs
 * root; CTest registers it once per backend with labels unit;root.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/helpers/berth_test.h"
#include "snapshots/snapshotter.h"

static const struct berth_snapshotter_ops *ops;

struct env {
    struct berth_test_env *tmp;
    char *root, *mnt;
    void *st;
};

static int setup(void **state)
{
    struct berth_err *err = NULL;
    struct env *e = berth_xcalloc(1, sizeof(*e));

    berth_test_setup_tmpdir((void **)&e->tmp);
    e->root = berth_strdup_printf("%s/root", e->tmp->dir);
    e->mnt = berth_strdup_printf("%s/mnt", e->tmp->dir);
    mkdir(e->mnt, 0755);
    if (ops->open(e->root, &e->st, &err) < 0) {
        fprintf(stderr, "open: %s\n", err->msg);
        berth_err_free(&err);
        return -1;
    }
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    umount2(e->mnt, MNT_DETACH);
    ops->close(e->st);
    berth_test_teardown_tmpdir((void **)&e->tmp);
    free(e->root);
    free(e->mnt);
    free(e);
    return 0;
}

static void do_mount(struct env *e, struct berth_mount *m, size_t n)
{
    struct berth_err *err = NULL;
    assert_ok(berth_mount_all(m, n, e->mnt, &err), &err);
    berth_mounts_free(m, n);
}

static void do_umount(struct env *e)
{
    struct berth_err *err = NULL;
    assert_ok(berth_unmount(e->mnt, &err), &err);
}

static void write_file(struct env *e, const char *rel, const char *content)
{
    _cleanup_free_ char *p = berth_strdup_printf("%s/%s", e->mnt, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static bool exists(struct env *e, const char *rel)
{
    _cleanup_free_ char *p = berth_strdup_printf("%s/%s", e->mnt, rel);
    struct stat st;
    return lstat(p, &st) == 0;
}

static void read_check(struct env *e, const char *rel, const char *want)
{
    _cleanup_free_ char *p = berth_strdup_printf("%s/%s", e->mnt, rel);
    char buf[256] = {0};
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
    fclose(f);
    assert_string_equal(buf, want);
}

/* Active snapshot key on parent: mount, run fill, unmount, commit as name. */
static void layer(struct env *e, const char *key, const char *parent, const char *name,
                  void (*fill)(struct env *))
{
    struct berth_err *err = NULL;
    struct berth_mount *m = NULL;
    size_t n = 0;

    assert_ok(ops->prepare(e->st, key, parent, NULL, &m, &n, &err), &err);
    assert_int_equal(n, 1);
    do_mount(e, m, n);
    fill(e);
    do_umount(e);
    assert_ok(ops->commit(e->st, name, key, NULL, &err), &err);
}

static void fill1(struct env *e)
{
    _cleanup_free_ char *d = berth_strdup_printf("%s/dir", e->mnt);
    write_file(e, "a.txt", "layer1");
    write_file(e, "gone.txt", "bye");
    assert_int_equal(mkdir(d, 0755), 0);
    write_file(e, "dir/inner", "inner1");
}

static void fill2(struct env *e)
{
    _cleanup_free_ char *p = berth_strdup_printf("%s/gone.txt", e->mnt);
    assert_true(exists(e, "a.txt"));
    read_check(e, "dir/inner", "inner1");
    write_file(e, "b.txt", "layer2");
    write_file(e, "a.txt", "layer2-a");
    assert_int_equal(unlink(p), 0); /* a delete of a lower file, through the upper layer */
}

static void fill3(struct env *e)
{
    assert_false(exists(e, "gone.txt"));
    write_file(e, "c.txt", "layer3");
}

static void chain(struct env *e)
{
    layer(e, "k1", NULL, "l1", fill1);
    layer(e, "k2", "l1", "l2", fill2);
    layer(e, "extract-1 sha256:k3/x", "l2", "l3", fill3);
}

static void test_chain_visible_in_view(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_mount *m = NULL;
    size_t n = 0;

    chain(e);
    assert_ok(ops->view(e->st, "v", "l3", NULL, &m, &n, &err), &err);
    do_mount(e, m, n);
    read_check(e, "a.txt", "layer2-a");
    read_check(e, "b.txt", "layer2");
    read_check(e, "c.txt", "layer3");
    read_check(e, "dir/inner", "inner1");
    assert_false(exists(e, "gone.txt"));
    /* A view is read-only. */
    {
        _cleanup_free_ char *p = berth_strdup_printf("%s/new", e->mnt);
        assert_true(fopen(p, "w") == NULL);
        assert_int_equal(errno, EROFS);
    }
    do_umount(e);

    /* A view of the base layer alone, and mounts asked again. */
    assert_ok(ops->view(e->st, "v1", "l1", NULL, &m, &n, &err), &err);
    berth_mounts_free(m, n);
    assert_ok(ops->mounts(e->st, "v1", &m, &n, &err), &err);
    do_mount(e, m, n);
    read_check(e, "a.txt", "layer1");
    assert_true(exists(e, "gone.txt"));
    assert_false(exists(e, "b.txt"));
    do_umount(e);
}

static void test_stat_kinds_and_parents(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_snap_info info = {0};
    struct berth_mount *m = NULL;
    size_t n = 0;

    chain(e);
    assert_ok(ops->prepare(e->st, "act", "l3", NULL, &m, &n, &err), &err);
    berth_mounts_free(m, n);
    assert_ok(ops->stat(e->st, "l1", &info, &err), &err);
    assert_int_equal(info.kind, BERTH_SNAP_COMMITTED);
    assert_null(info.parent);
    berth_snap_info_clear(&info);
    assert_ok(ops->stat(e->st, "l3", &info, &err), &err);
    assert_string_equal(info.parent, "l2");
    assert_string_equal(info.name, "l3");
    berth_snap_info_clear(&info);
    assert_ok(ops->stat(e->st, "act", &info, &err), &err);
    assert_int_equal(info.kind, BERTH_SNAP_ACTIVE);
    assert_string_equal(info.parent, "l3");
    assert_true(info.created_ns > 0);
    berth_snap_info_clear(&info);
    /* The active key is gone after commit. */
    assert_int_equal(ops->stat(e->st, "k1", &info, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_remove_with_children_refused(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;

    chain(e);
    assert_int_equal(ops->remove(e->st, "l2", &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_ok(ops->remove(e->st, "l3", &err), &err);
    assert_ok(ops->remove(e->st, "l2", &err), &err);
    assert_ok(ops->remove(e->st, "l1", &err), &err);
    assert_int_equal(ops->remove(e->st, "l1", &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_usage_after_commit(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_snap_usage u = {0}, u2 = {0};
    struct berth_mount *m = NULL;
    size_t n = 0;

    chain(e);
    assert_ok(ops->usage(e->st, "l1", &u, &err), &err);
    assert_true(u.size > 0);
    assert_true(u.inodes >= 4); /* root, a.txt, gone.txt, dir, dir/inner */
    /* Active: computed live. */
    assert_ok(ops->prepare(e->st, "act", "l3", NULL, &m, &n, &err), &err);
    assert_ok(ops->usage(e->st, "act", &u, &err), &err);
    do_mount(e, m, n);
    {
        char big[65536];
        _cleanup_free_ char *p = berth_strdup_printf("%s/big", e->mnt);
        FILE *f = fopen(p, "w");
        memset(big, 'x', sizeof(big));
        assert_non_null(f);
        assert_int_equal(fwrite(big, 1, sizeof(big), f), sizeof(big));
        fclose(f);
    }
    do_umount(e);
    assert_ok(ops->usage(e->st, "act", &u2, &err), &err);
    assert_true(u2.size >= u.size + 65536);
    assert_int_equal(ops->usage(e->st, "nope", &u, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

struct walk_acc {
    size_t n;
    char names[8][64];
};

static int walk_cb(const struct berth_snap_info *info, void *arg, struct berth_err **err)
{
    struct walk_acc *a = arg;
    if (a->n < 8)
        snprintf(a->names[a->n], 64, "%s", info->name);
    a->n++;
    return 0;
}

static void walk_count(struct env *e, const char *filter, size_t want)
{
    struct berth_err *err = NULL;
    struct berth_filter *f = NULL;
    struct walk_acc a = {0};

    assert_ok(berth_filter_parse(&filter, 1, &f, &err), &err);
    assert_ok(ops->walk(e->st, f, walk_cb, &a, &err), &err);
    berth_filter_free(f);
    assert_int_equal(a.n, want);
}

static void test_walk_filters(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_mount *m = NULL;
    struct berth_labels l = {0};
    size_t n = 0;

    chain(e);
    berth_labels_set(&l, "containerd.io/snapshot/x", "1");
    assert_ok(ops->prepare(e->st, "act", "l3", &l, &m, &n, &err), &err);
    berth_labels_clear(&l);
    berth_mounts_free(m, n);
    walk_count(e, "", 4);
    walk_count(e, "kind==committed", 3);
    walk_count(e, "kind==active", 1);
    walk_count(e, "parent==l1", 1);
    walk_count(e, "name~=^l", 3);
    walk_count(e, "labels.\"containerd.io/snapshot/x\"==1", 1);
    walk_count(e, "kind==view", 0);
}

static void test_commit_view_refused(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_mount *m = NULL;
    size_t n = 0;

    chain(e);
    assert_ok(ops->view(e->st, "v", "l3", NULL, &m, &n, &err), &err);
    berth_mounts_free(m, n);
    assert_int_equal(ops->commit(e->st, "x", "v", NULL, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(ops->commit(e->st, "x", "l3", NULL, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
}

static void test_errors(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_mount *m = NULL;
    size_t n = 0;

    assert_ok(ops->prepare(e->st, "a", NULL, NULL, &m, &n, &err), &err);
    berth_mounts_free(m, n);
    assert_int_equal(ops->prepare(e->st, "a", NULL, NULL, &m, &n, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    assert_int_equal(ops->prepare(e->st, "b", "missing", NULL, &m, &n, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(ops->prepare(e->st, "b", "a", NULL, &m, &n, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(ops->mounts(e->st, "missing", &m, &n, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_ok(ops->commit(e->st, "c", "a", NULL, &err), &err);
    assert_ok(ops->prepare(e->st, "a2", NULL, NULL, &m, &n, &err), &err);
    berth_mounts_free(m, n);
    assert_int_equal(ops->commit(e->st, "c", "a2", NULL, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
}

static void test_update_labels(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_snap_info in = {0}, out = {0};
    struct berth_mount *m = NULL;
    char *paths[] = {"labels.a", "labels.b"}, *bad[] = {"parent"};
    size_t n = 0;

    assert_ok(ops->prepare(e->st, "a", NULL, NULL, &m, &n, &err), &err);
    berth_mounts_free(m, n);
    in.name = "a";
    berth_labels_set(&in.labels, "a", "1");
    berth_labels_set(&in.labels, "c", "3");
    assert_ok(ops->update(e->st, &in, paths, 2, &out, &err), &err);
    assert_string_equal(berth_labels_get(&out.labels, "a"), "1");
    assert_null(berth_labels_get(&out.labels, "c"));
    berth_snap_info_clear(&out);
    assert_int_equal(ops->update(e->st, &in, bad, 1, &out, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_labels_clear(&in.labels);
}

static void test_cleanup_removes_orphans(void **state)
{
    struct env *e = *state;
    struct berth_err *err = NULL;
    struct berth_snap_info info = {0};
    _cleanup_free_ char *orphan = berth_strdup_printf("%s/snapshots/999", e->root);
    _cleanup_free_ char *rm = berth_strdup_printf("%s/snapshots/rm-5/sub", e->root);
    _cleanup_free_ char *rmdir_ = berth_strdup_printf("%s/snapshots/rm-5", e->root);
    struct stat st;

    chain(e);
    assert_int_equal(mkdir(orphan, 0755), 0);
    assert_int_equal(mkdir(rmdir_, 0755), 0);
    assert_int_equal(mkdir(rm, 0755), 0);
    assert_ok(ops->cleanup(e->st, &err), &err);
    assert_int_equal(stat(orphan, &st), -1);
    assert_int_equal(stat(rmdir_, &st), -1);
    /* Live snapshots survive. */
    assert_ok(ops->stat(e->st, "l3", &info, &err), &err);
    berth_snap_info_clear(&info);
    {
        struct berth_mount *m = NULL;
        size_t n = 0;
        assert_ok(ops->view(e->st, "v", "l3", NULL, &m, &n, &err), &err);
        do_mount(e, m, n);
        read_check(e, "c.txt", "layer3");
        do_umount(e);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain_visible_in_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stat_kinds_and_parents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_with_children_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_after_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_view_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleanup_removes_orphans, setup, teardown),
    };

    if (argc < 2) {
        fprintf(stderr, "usage: %s overlayfs|native\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "overlayfs") == 0)
        ops = &berth_snap_overlay_ops;
    else if (strcmp(argv[1], "native") == 0)
        ops = &berth_snap_native_ops;
    else
        return 2;
    return cmocka_run_group_tests_name(argv[1], tests, NULL, NULL);
}
