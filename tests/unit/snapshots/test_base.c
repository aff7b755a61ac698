/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for snapshots/base.c with a damaged store: cleanup next to a record that cannot be
 * decoded (through the native backend, which needs no mounts). */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/util.h"
#include "snapshots/snapshotter.h"
#include "tests/unit/helpers/lmdb_raw.h"

static int dirs_in(const char *path)
{
    _cleanup_free_ char *cmd = berth_strdup_printf("ls -1 '%s' | wc -l", path);
    FILE *p = popen(cmd, "r");
    int n = -1;

    assert_non_null(p);
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

/* The native backend's cleanup removes directories no record names; with a record that cannot
 * be decoded it cannot know which one is its, so it keeps them all. */
static void test_native_cleanup_keeps_directories_when_a_record_is_corrupt(void **state)
{
    struct berth_test_env *t = *state;
    const struct berth_snapshotter_ops *ops = &berth_snap_native_ops;
    _cleanup_free_ char *root = berth_strdup_printf("%s/native", t->dir);
    _cleanup_free_ char *meta = berth_strdup_printf("%s/metadata", root);
    _cleanup_free_ char *snaps = berth_strdup_printf("%s/snapshots", root);
    _cleanup_free_ char *stray = berth_strdup_printf("%s/snapshots/999", root);
    struct berth_snap_info info;
    struct berth_err *err = NULL;
    void *state_ = NULL;

    assert_ok(ops->open(root, &state_, &err), &err);
    for (int i = 0; i < 2; i++) {
        struct berth_mount *m = NULL;
        size_t n = 0;
        char key[8];
        snprintf(key, sizeof(key), "k%d", i);
        assert_ok(ops->prepare(state_, key, NULL, NULL, &m, &n, &err), &err);
        berth_mounts_free(m, n);
    }
    ops->close(state_);
    assert_int_equal(dirs_in(snaps), 2);
    berth_test_lmdb_put(meta, "s/k1", BERTH_TEST_GARBAGE, BERTH_TEST_GARBAGE_LEN);
    assert_int_equal(mkdir(stray, 0700), 0); /* would be an orphan */

    assert_ok(ops->open(root, &state_, &err), &err);
    /* Before: cleanup failed (INTERNAL from the walk). */
    assert_ok(ops->cleanup(state_, &err), &err);
    assert_int_equal(dirs_in(snaps), 3);
    assert_int_equal(ops->stat(state_, "k1", &info, &err), -1);
    assert_err_code(err, BERTH_E_DATA_LOSS);
    assert_ok(ops->stat(state_, "k0", &info, &err), &err);
    berth_snap_info_clear(&info);
    ops->close(state_);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_native_cleanup_keeps_directories_when_a_record_is_corrupt, berth_test_setup_tmpdir,
            berth_test_teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
