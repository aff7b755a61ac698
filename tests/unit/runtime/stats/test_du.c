/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/stats/du.c: a temp tree counted by inode (hard links once, symlinks not
 * followed, sparse files by their blocks), a single file, a missing path, and a tmpfs mounted
 * below the tree left out (skipped when mounting is not allowed). */
#include "tests/unit/helpers/berth_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/stats/stats.h"

static void write_file(const char *path, size_t len)
{
    char buf[4096];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    assert_true(fd >= 0);
    memset(buf, 'x', sizeof(buf));
    while (len > 0) {
        size_t chunk = len < sizeof(buf) ? len : sizeof(buf);
        assert_int_equal(write(fd, buf, chunk), (ssize_t)chunk);
        len -= chunk;
    }
    /* Allocated blocks show in st_blocks only once written back (ext4 delayed allocation). */
    assert_int_equal(fsync(fd), 0);
    close(fd);
}

/* st_blocks * 512 of path itself, as lstat sees it. */
static uint64_t blocks_of(const char *dir, const char *rel)
{
    char path[4096];
    struct stat st;

    snprintf(path, sizeof(path), "%s%s%s", dir, *rel ? "/" : "", rel);
    assert_int_equal(lstat(path, &st), 0);
    return (uint64_t)st.st_blocks * 512;
}

static void test_dir_usage_counts_each_inode_once(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    uint64_t bytes = 0, inodes = 0, want;
    char path[4096], other[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/sub", env->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/sub/a", env->dir);
    write_file(path, 100000);
    /* b and sub/a are one inode: counted once. */
    snprintf(other, sizeof(other), "%s/b", env->dir);
    assert_int_equal(link(path, other), 0);
    /* Symlinks count as themselves; their targets (a big file, a directory outside) not. */
    snprintf(path, sizeof(path), "%s/to-usr", env->dir);
    assert_int_equal(symlink("/usr", path), 0);
    snprintf(path, sizeof(path), "%s/to-a", env->dir);
    assert_int_equal(symlink("sub/a", path), 0);
    /* A sparse file counts its blocks, not its length. */
    snprintf(path, sizeof(path), "%s/sparse", env->dir);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1 << 30), 0);
    close(fd);
    snprintf(path, sizeof(path), "%s/sub/empty", env->dir);
    assert_int_equal(mkdir(path, 0755), 0);

    want = blocks_of(env->dir, "") + blocks_of(env->dir, "sub") + blocks_of(env->dir, "sub/a") +
           blocks_of(env->dir, "to-usr") + blocks_of(env->dir, "to-a") +
           blocks_of(env->dir, "sparse") + blocks_of(env->dir, "sub/empty");
    assert_ok(berth_dir_usage(env->dir, &bytes, &inodes, &err), &err);
    assert_int_equal(inodes, 7);
    assert_int_equal(bytes, want);
    assert_true(bytes >= 100000);
    assert_true(bytes < (1 << 30));
}

/* Many hard-linked files: the inode set grows past its first size. */
static void test_dir_usage_many_links(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    uint64_t bytes = 0, inodes = 0;
    char path[4096], other[4096];

    for (int i = 0; i < 200; i++) {
        snprintf(path, sizeof(path), "%s/f%d", env->dir, i);
        write_file(path, 10);
        snprintf(other, sizeof(other), "%s/g%d", env->dir, i);
        assert_int_equal(link(path, other), 0);
    }
    assert_ok(berth_dir_usage(env->dir, &bytes, &inodes, &err), &err);
    assert_int_equal(inodes, 201);
}

static void test_dir_usage_file_and_missing(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    uint64_t bytes = 1, inodes = 1;
    char path[4096];

    snprintf(path, sizeof(path), "%s/f", env->dir);
    write_file(path, 5000);
    assert_ok(berth_dir_usage(path, &bytes, &inodes, &err), &err);
    assert_int_equal(inodes, 1);
    assert_int_equal(bytes, blocks_of(env->dir, "f"));

    snprintf(path, sizeof(path), "%s/nope", env->dir);
    assert_int_equal(berth_dir_usage(path, &bytes, &inodes, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

static void test_dir_usage_stays_on_one_fs(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    uint64_t bytes = 0, inodes = 0;
    char mnt[2048], path[4096];
    int ret;

    snprintf(mnt, sizeof(mnt), "%s/mnt", env->dir);
    assert_int_equal(mkdir(mnt, 0755), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=4m") < 0)
        skip();
    snprintf(path, sizeof(path), "%s/big", mnt);
    write_file(path, 1 << 20);
    ret = berth_dir_usage(env->dir, &bytes, &inodes, &err);
    umount2(mnt, MNT_DETACH);
    assert_ok(ret, &err);
    /* The top directory alone: the mount point shows the tmpfs root, which is not counted. */
    assert_int_equal(inodes, 1);
    assert_int_equal(bytes, blocks_of(env->dir, ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dir_usage_counts_each_inode_once,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_dir_usage_many_links, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_dir_usage_file_and_missing, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_dir_usage_stays_on_one_fs, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
