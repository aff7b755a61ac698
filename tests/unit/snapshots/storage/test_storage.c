/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for snapshots/storage/storage.c on damaged stores (a truncated file, records that
 * cannot be decoded); the everyday behaviour is covered by the snapshotter suite. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>

#include "lib/util.h"
#include "snapshots/snapshotter.h"
#include "snapshots/storage/storage.h"
#include "tests/unit/helpers/lmdb_raw.h"

static char *store_dir(void **state)
{
    struct berth_test_env *t = *state;
    return berth_strdup_printf("%s/metadata", t->dir);
}

/* n committed records "s0".."s<n-1>" with a label each, in one transaction. */
static void fill(struct berth_snap_store *st, int n)
{
    struct berth_snap_store_txn *txn = NULL;
    struct berth_err *err = NULL;
    struct berth_labels l = {0};
    char label[200];

    memset(label, 'l', sizeof(label) - 1);
    label[sizeof(label) - 1] = '\0';
    berth_labels_set(&l, "containerd.io/snapshot/x", label);
    assert_ok(berth_snap_store_txn_begin(st, true, &txn, &err), &err);
    for (int i = 0; i < n; i++) {
        struct berth_snap_rec r;
        char name[16];
        snprintf(name, sizeof(name), "s%d", i);
        assert_ok(
            berth_snap_store_create(txn, name, NULL, BERTH_SNAP_ACTIVE, &l, &r, NULL, NULL, &err),
            &err);
        berth_snap_rec_clear(&r);
    }
    assert_ok(berth_snap_store_txn_commit(txn, &err), &err);
    berth_labels_clear(&l);
}

static void test_snap_store_open_truncated_is_data_loss(void **state)
{
    _cleanup_free_ char *dir = store_dir(state);
    struct berth_snap_store *st = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_snap_store_open(dir, &st, &err), &err);
    fill(st, 300);
    berth_snap_store_close(st);
    berth_test_truncate_half(dir);
    /* Before: the open worked and the first walk (berthd's first GC pass) died of SIGBUS. */
    assert_int_equal(berth_snap_store_open(dir, &st, &err), -1);
    assert_null(st);
    assert_non_null(strstr(err->msg, "data.mdb"));
    assert_err_code(err, BERTH_E_DATA_LOSS);
}

struct walked {
    int n, unknown;
    char unknown_name[16];
};

static int walk_cb(const struct berth_snap_rec *rec, void *arg, struct berth_err **err)
{
    struct walked *w = arg;

    w->n++;
    if (rec->info.kind == BERTH_SNAP_UNKNOWN) {
        w->unknown++;
        snprintf(w->unknown_name, sizeof(w->unknown_name), "%s", rec->info.name);
        assert_int_equal(rec->id, 0);
    }
    return 0;
}

static void test_snap_store_corrupt_record_is_walked_by_name_and_get_fails(void **state)
{
    _cleanup_free_ char *dir = store_dir(state);
    struct berth_snap_store *st = NULL;
    struct berth_snap_store_txn *txn = NULL;
    struct berth_err *err = NULL;
    struct berth_snap_rec r;
    struct walked w = {0};

    assert_ok(berth_snap_store_open(dir, &st, &err), &err);
    fill(st, 3);
    berth_snap_store_close(st);
    berth_test_lmdb_put(dir, "s/s1", BERTH_TEST_GARBAGE, BERTH_TEST_GARBAGE_LEN);
    assert_ok(berth_snap_store_open(dir, &st, &err), &err);
    assert_ok(berth_snap_store_txn_begin(st, false, &txn, &err), &err);

    /* Before: the walk failed with INTERNAL at s1 and the GC's backend pass with it. */
    assert_ok(berth_snap_store_walk(txn, walk_cb, &w, &err), &err);
    assert_int_equal(w.n, 3);
    assert_int_equal(w.unknown, 1);
    assert_string_equal(w.unknown_name, "s1");

    assert_int_equal(berth_snap_store_get(txn, "s1", &r, &err), -1);
    assert_non_null(strstr(err->msg, "s/s1"));
    assert_err_code(err, BERTH_E_DATA_LOSS);
    assert_ok(berth_snap_store_get(txn, "s2", &r, &err), &err);
    berth_snap_rec_clear(&r);
    /* unknown id: any id may be it */
    assert_true(berth_snap_store_id_used(txn, 12345));
    berth_snap_store_txn_abort(txn);
    berth_snap_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snap_store_open_truncated_is_data_loss,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(
            test_snap_store_corrupt_record_is_walked_by_name_and_get_fails, berth_test_setup_tmpdir,
            berth_test_teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
