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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snap_store_open_truncated_is_data_loss,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
