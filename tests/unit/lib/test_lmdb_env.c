/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/lmdb-env.c: the open-time size check against truncated files (and not against
 * healthy ones), the lock file's blocks, and the translation of a full disk. Raw LMDB calls
 * build the environments. The disk-full cases mount a small tmpfs (root only; else skipped). */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lmdb-env.h"
#include "lib/util.h"
#include "tests/unit/helpers/lmdb_raw.h"

struct fx {
    struct berth_test_env *tmp;
    char *dir; /* <tmp>/env, or <tmp>/fs/env on the tmpfs */
    char *fs;  /* <tmp>/fs when mounted */
    MDB_env *env;
};

static int setup(void **state)
{
    struct fx *f = berth_xcalloc(1, sizeof(*f));
    void *tmp = NULL;

    if (berth_test_setup_tmpdir(&tmp) < 0)
        return -1;
    f->tmp = tmp;
    f->dir = berth_strdup_printf("%s/env", f->tmp->dir);
    mkdir(f->dir, 0700);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    void *tmp = f->tmp;

    if (f->env)
        mdb_env_close(f->env);
    berth_test_tmpfs_umount(f->fs);
    berth_test_teardown_tmpdir(&tmp);
    free(f->fs);
    free(f->dir);
    free(f);
    return 0;
}

/* Opens f->env on f->dir through the function under test. */
static int env_open(struct fx *f, struct berth_err **err)
{
    int rc;

    if (f->env)
        mdb_env_close(f->env);
    f->env = NULL;
    if ((rc = mdb_env_create(&f->env)) != 0 || (rc = mdb_env_set_mapsize(f->env, 64 << 20)) != 0)
        fail_msg("create env: %s", mdb_strerror(rc));
    return berth_lmdb_env_open(f->env, f->dir, MDB_NOTLS, 0600, err);
}

static void env_close(struct fx *f)
{
    mdb_env_close(f->env);
    f->env = NULL;
}

/* n records key%06d = value of vlen bytes, in one transaction. */
static int put_many(MDB_env *env, int from, int n, size_t vlen)
{
    _cleanup_free_ char *val = berth_xcalloc(1, vlen ? vlen : 1);
    MDB_txn *txn;
    MDB_dbi dbi;
    int rc;

    memset(val, 'v', vlen);
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
        return rc;
    if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0)
        goto abort;
    for (int i = from; i < from + n; i++) {
        char key[32];
        MDB_val k = {(size_t)snprintf(key, sizeof(key), "key%06d", i), key}, v = {vlen, val};
        if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
            goto abort;
    }
    return mdb_txn_commit(txn);
abort:
    mdb_txn_abort(txn);
    return rc;
}

static size_t count_records(MDB_env *env)
{
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;

    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    mdb_txn_abort(txn);
    return st.ms_entries;
}

/* Bytes the newest meta page says the file needs, and the file's size. */
static void sizes(MDB_env *env, off_t *need, off_t *have)
{
    MDB_envinfo info;
    MDB_stat st;
    struct stat sb;
    int fd;

    assert_int_equal(mdb_env_info(env, &info), 0);
    assert_int_equal(mdb_env_stat(env, &st), 0);
    assert_int_equal(mdb_env_get_fd(env, &fd), 0);
    assert_int_equal(fstat(fd, &sb), 0);
    *need = (off_t)(info.me_last_pgno + 1) * st.ms_psize;
    *have = sb.st_size;
}

static void test_lmdb_env_open_creates_and_reopens(void **state)
{
    struct fx *f = *state;
    struct berth_err *err = NULL;

    assert_ok(env_open(f, &err), &err);
    assert_int_equal(put_many(f->env, 0, 500, 100), 0);
    env_close(f);
    assert_ok(env_open(f, &err), &err);
    assert_int_equal(count_records(f->env), 500);
}

static void test_lmdb_env_open_truncated_is_data_loss(void **state)
{
    struct fx *f = *state;
    struct berth_err *err = NULL;

    assert_ok(env_open(f, &err), &err);
    assert_int_equal(put_many(f->env, 0, 2000, 100), 0);
    env_close(f);
    berth_test_truncate_half(f->dir);
    /* Without the check this open succeeds and the first read past the end is a SIGBUS. */
    assert_int_equal(env_open(f, &err), -1);
    assert_non_null(strstr(err->msg, "data.mdb"));
    assert_err_code(err, BERTH_E_DATA_LOSS);
}

static void test_lmdb_env_open_cut_into_the_meta_pages_is_data_loss(void **state)
{
    struct fx *f = *state;
    struct berth_err *err = NULL;
    _cleanup_free_ char *path = berth_strdup_printf("%s/data.mdb", f->dir);

    assert_ok(env_open(f, &err), &err);
    assert_int_equal(put_many(f->env, 0, 10, 10), 0);
    env_close(f);
    assert_int_equal(truncate(path, 5000), 0);
    assert_int_equal(env_open(f, &err), -1);
    assert_err_code(err, BERTH_E_DATA_LOSS);
}

/* LMDB never writes pages a transaction allocated and freed again ("loose" pages), so a
 * healthy file can end a page or two before the meta page's last page. Such a file must open:
 * refusing it would stop berthd on a sound store. A random mix of puts and deletes in nested
 * transactions (berth's writer pattern) makes one within a few hundred commits. */
static void test_lmdb_env_open_trailing_unwritten_free_pages_is_fine(void **state)
{
    struct fx *f = *state;
    struct berth_err *err = NULL;
    char val[300] = {0};
    off_t need = 0, have = 0;
    int round;

    assert_ok(env_open(f, &err), &err);
    srand(1);
    for (round = 0; round < 3000; round++) {
        MDB_txn *txn, *child;
        MDB_dbi dbi;
        assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
        assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
        for (int m = 1 + rand() % 20; m > 0; m--) {
            int op = rand() % 3, n = 1 + rand() % 200, base = rand() % 5000;
            assert_int_equal(mdb_txn_begin(f->env, txn, 0, &child), 0);
            for (int i = 0; i < n; i++) {
                char key[64];
                MDB_val k = {(size_t)snprintf(key, sizeof(key), "c/ns%d/%08d", base % 7, base + i),
                             key};
                MDB_val v = {(size_t)(rand() % 300), val};
                if (op < 2)
                    assert_int_equal(mdb_put(child, dbi, &k, &v, 0), 0);
                else
                    (void)mdb_del(child, dbi, &k, NULL);
            }
            if (rand() % 5)
                assert_int_equal(mdb_txn_commit(child), 0);
            else
                mdb_txn_abort(child);
        }
        assert_int_equal(mdb_txn_commit(txn), 0);
        sizes(f->env, &need, &have);
        if (have < need)
            break;
    }
    if (have >= need)
        skip(); /* this LMDB never left a gap: nothing to check */
    env_close(f);
    assert_ok(env_open(f, &err), &err);
    (void)count_records(f->env);
}

static void test_lmdb_env_open_allocates_the_lock_file(void **state)
{
    struct fx *f = *state;
    struct berth_err *err = NULL;
    _cleanup_free_ char *path = berth_strdup_printf("%s/lock.mdb", f->dir);
    struct stat sb;

    assert_ok(env_open(f, &err), &err);
    env_close(f);
    assert_ok(env_open(f, &err), &err); /* the second open finds LMDB's sparse file */
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 0);
    /* every slot has its blocks: writing one on a full disk cannot fault */
    assert_true((off_t)sb.st_blocks * 512 >= sb.st_size);
}

static void test_lmdb_err_classes(void **state)
{
    struct fx *f = *state;
    struct berth_err *err = NULL;

    assert_ok(env_open(f, &err), &err);
    assert_int_equal(berth_lmdb_err(f->env, MDB_NOTFOUND, &err, "get"), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_lmdb_err(f->env, MDB_KEYEXIST, &err, "put");
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
    berth_lmdb_err(f->env, MDB_MAP_FULL, &err, "put");
    assert_err_code(err, BERTH_E_RESOURCE_EXHAUSTED);
    berth_lmdb_err(f->env, MDB_CORRUPTED, &err, "get");
    assert_err_code(err, BERTH_E_DATA_LOSS);
    berth_lmdb_err(f->env, ENOSPC, &err, "commit");
    assert_non_null(strstr(err->msg, "disk full"));
    assert_non_null(strstr(err->msg, f->dir));
    assert_err_code(err, BERTH_E_RESOURCE_EXHAUSTED);
    berth_lmdb_err(f->env, EDQUOT, &err, "commit");
    assert_err_code(err, BERTH_E_RESOURCE_EXHAUSTED);
    /* EIO with plenty of room is an I/O error, not a full disk */
    berth_lmdb_err(f->env, EIO, &err, "commit");
    assert_err_code(err, BERTH_E_INTERNAL);
}

/* Moves f->dir onto a 1 MiB tmpfs; false (test skipped) when it cannot mount. */
static bool on_tmpfs(struct fx *f)
{
    f->fs = berth_strdup_printf("%s/fs", f->tmp->dir);
    if (!berth_test_tmpfs_mount(f->fs, 1 << 20)) {
        free(steal_ptr(f->fs));
        return false;
    }
    free(f->dir);
    f->dir = berth_strdup_printf("%s/env", f->fs);
    mkdir(f->dir, 0700);
    return true;
}

/* Fills f->fs with a file, then gives back `leave` bytes of it. */
static char *fill(struct fx *f, off_t leave)
{
    char *path = berth_strdup_printf("%s/fill", f->fs);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    char buf[4096] = {0};
    off_t size = 0;
    ssize_t n;

    assert_true(fd >= 0);
    while ((n = write(fd, buf, sizeof(buf))) > 0)
        size += n;
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(ftruncate(fd, size > leave ? size - leave : 0), 0);
    return path;
}

static void test_lmdb_err_disk_full_commit_is_resource_exhausted(void **state)
{
    struct fx *f = *state;
    struct berth_err *err = NULL;
    _cleanup_free_ char *filler = NULL;
    int rc;

    if (!on_tmpfs(f))
        skip();
    assert_ok(env_open(f, &err), &err);
    filler = fill(f, 0);
    rc = put_many(f->env, 0, 50, 100);
    assert_true(rc == ENOSPC || rc == EIO);
    berth_lmdb_err(f->env, rc, &err, "commit");
    assert_non_null(strstr(err->msg, "disk full"));
    assert_err_code(err, BERTH_E_RESOURCE_EXHAUSTED);
    /* room again: the environment takes writes again */
    assert_int_equal(unlink(filler), 0);
    assert_int_equal(put_many(f->env, 0, 50, 100), 0);
    assert_int_equal(count_records(f->env), 50);
}

/* A write the disk cuts short comes back from LMDB as EIO ("short write, filesystem full?"):
 * the probe's "UNKNOWN: Input/output error". It is a full disk too. */
static void test_lmdb_err_short_write_on_full_disk_is_resource_exhausted(void **state)
{
    struct fx *f = *state;
    struct berth_err *err = NULL;
    _cleanup_free_ char *filler = NULL;
    int rc;

    if (!on_tmpfs(f))
        skip();
    assert_ok(env_open(f, &err), &err);
    filler = fill(f, 8192);
    rc = put_many(f->env, 0, 1, 64 << 10); /* a leaf and 16 overflow pages in one write */
    assert_int_equal(rc, EIO);
    berth_lmdb_err(f->env, rc, &err, "commit");
    assert_err_code(err, BERTH_E_RESOURCE_EXHAUSTED);
    assert_int_equal(unlink(filler), 0);
    assert_int_equal(put_many(f->env, 0, 1, 64 << 10), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lmdb_env_open_creates_and_reopens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lmdb_env_open_truncated_is_data_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lmdb_env_open_cut_into_the_meta_pages_is_data_loss,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_lmdb_env_open_trailing_unwritten_free_pages_is_fine,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_lmdb_env_open_allocates_the_lock_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lmdb_err_classes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lmdb_err_disk_full_commit_is_resource_exhausted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_lmdb_err_short_write_on_full_disk_is_resource_exhausted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
