/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for snapshots/registry.c: a backend whose store is damaged fails the whole open. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>

#include "lib/util.h"
#include "snapshots/snapshotter.h"
#include "tests/unit/helpers/lmdb_raw.h"

static void test_registry_open_with_a_truncated_store_fails(void **state)
{
    struct berth_test_env *t = *state;
    _cleanup_free_ char *meta = berth_strdup_printf("%s/snapshots/native/metadata", t->dir);
    struct berth_snap_registry *reg = NULL;
    struct berth_snapshotter *sn = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_snap_registry_open(t->dir, &reg, &err), &err);
    assert_ok(berth_snap_registry_get(reg, "native", &sn, &err), &err);
    for (int i = 0; i < 200; i++) {
        struct berth_mount *m = NULL;
        struct berth_labels l = {0};
        size_t n = 0;
        char key[16];
        snprintf(key, sizeof(key), "key-%d", i);
        berth_labels_set(&l, "containerd.io/snapshot/pad",
                         "................................................................");
        assert_ok(sn->ops->view(sn->state, key, NULL, &l, &m, &n, &err), &err);
        berth_labels_clear(&l);
        berth_mounts_free(m, n);
    }
    berth_snap_registry_close(reg);
    berth_test_truncate_half(meta);
    /* Before: "not loaded" at best, kept for introspection, and berthd served on. */
    assert_int_equal(berth_snap_registry_open(t->dir, &reg, &err), -1);
    assert_null(reg);
    assert_non_null(strstr(err->msg, "native"));
    assert_err_code(err, BERTH_E_DATA_LOSS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_registry_open_with_a_truncated_store_fails,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
