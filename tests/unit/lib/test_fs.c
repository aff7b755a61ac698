/* SPDX-License-Identifier: Apache-2.0 */
/* lib/fs: mkdir -p and rm -rf. */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/util.h"

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
}

static void test_mkdir_p_modes_and_existing(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *a = berth_strdup_printf("%s/a", env->dir);
    _cleanup_free_ char *leaf = berth_strdup_printf("%s/a/b/c", env->dir);
    _cleanup_free_ char *mid = berth_strdup_printf("%s/a/b", env->dir);
    mode_t old = umask(0);

    assert_int_equal(berth_mkdir_p(leaf, 0711, 0700, NULL), 0);
    assert_int_equal(mode_of(a), 0711);
    assert_int_equal(mode_of(mid), 0711);
    assert_int_equal(mode_of(leaf), 0700);
    /* again: everything exists, modes untouched */
    assert_int_equal(berth_mkdir_p(leaf, 0755, 0755, NULL), 0);
    assert_int_equal(mode_of(leaf), 0700);
    umask(old);
}

static void test_mkdir_p_file_in_the_way(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *f = berth_strdup_printf("%s/f", env->dir);
    _cleanup_free_ char *below = berth_strdup_printf("%s/f/x/y", env->dir);
    _cleanup_err_ struct berth_err *err = NULL;

    touch(f);
    assert_int_equal(berth_mkdir_p(below, 0755, 0755, &err), -1);
    assert_int_equal(err->code, BERTH_E_INTERNAL);
    assert_non_null(strstr(err->msg, "/f/x"));
}

static void test_rmrf_tree_not_following_symlinks(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *out = berth_strdup_printf("%s/outside", env->dir);
    _cleanup_free_ char *kept = berth_strdup_printf("%s/outside/kept", env->dir);
    _cleanup_free_ char *t = berth_strdup_printf("%s/t", env->dir);
    _cleanup_free_ char *deep = berth_strdup_printf("%s/t/d/e", env->dir);
    _cleanup_free_ char *file = berth_strdup_printf("%s/t/d/e/file", env->dir);
    _cleanup_free_ char *link = berth_strdup_printf("%s/t/link", env->dir);

    assert_int_equal(berth_mkdir_p(out, 0755, 0755, NULL), 0);
    touch(kept);
    assert_int_equal(berth_mkdir_p(deep, 0755, 0755, NULL), 0);
    touch(file);
    assert_int_equal(symlink(out, link), 0);
    assert_int_equal(berth_rmrf(t, NULL), 0);
    assert_int_equal(access(t, F_OK), -1);
    assert_int_equal(access(kept, F_OK), 0); /* the symlink went, not what it points at */
    /* a missing path is success; so is a plain file */
    assert_int_equal(berth_rmrf(t, NULL), 0);
    assert_int_equal(berth_rmrf(kept, NULL), 0);
    assert_int_equal(access(kept, F_OK), -1);
}

static void test_mountinfo_unescape(void **state)
{
    char s[] = "/a\\040b\\011c\\012d\\134e\\0f\\9999\\";

    (void)state;
    berth_mountinfo_unescape(s);
    assert_string_equal(s, "/a b\tc\nd\\e\\0f\\9999\\");
}

static void test_read_file_sizes_and_kinds(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *f = berth_strdup_printf("%s/f", env->dir);
    _cleanup_free_ char *fifo = berth_strdup_printf("%s/fifo", env->dir);
    _cleanup_free_ char *none = berth_strdup_printf("%s/none", env->dir);
    _cleanup_err_ struct berth_err *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;
    char big[10000];
    char *out = NULL;
    size_t len = 0;
    FILE *fp;

    memset(big, 'x', sizeof(big));
    fp = fopen(f, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(big, 1, sizeof(big), fp), sizeof(big));
    fclose(fp);
    /* exactly max: read whole; one byte under the size: refused */
    assert_int_equal(berth_read_file(f, sizeof(big), &out, &len, NULL), 0);
    assert_int_equal(len, sizeof(big));
    assert_int_equal(out[len], '\0');
    free(out);
    assert_int_equal(berth_read_file(f, sizeof(big) - 1, &out, &len, &e1), -1);
    assert_int_equal(e1->code, BERTH_E_OUT_OF_RANGE);
    /* procfs says size 0 and holds more */
    assert_int_equal(berth_read_file("/proc/self/status", 1 << 20, &out, &len, NULL), 0);
    assert_true(len > 0 && strstr(out, "Pid:"));
    free(out);
    /* a FIFO nobody writes is refused at once, not waited on; so is a directory */
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(berth_read_file(fifo, 100, &out, &len, &e2), -1);
    assert_int_equal(e2->code, BERTH_E_INVALID_ARGUMENT);
    assert_non_null(strstr(e2->msg, "not a regular file"));
    assert_int_equal(berth_read_file(env->dir, 100, &out, &len, &e3), -1);
    assert_int_equal(e3->code, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_read_file(none, 100, &out, &len, &e4), -1);
    assert_int_equal(e4->code, BERTH_E_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mountinfo_unescape),
        cmocka_unit_test_setup_teardown(test_mkdir_p_modes_and_existing, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_mkdir_p_file_in_the_way, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_rmrf_tree_not_following_symlinks,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_read_file_sizes_and_kinds, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
