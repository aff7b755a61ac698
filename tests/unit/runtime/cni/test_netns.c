/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/cni/netns.c (root: namespaces and mounts): create pins a fresh namespace,
 * enter_run runs inside it, remove leaves no mount nor file, and the caller's namespace never
 * changes. */
#include "tests/unit/helpers/berth_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"
#include "runtime/cni/netns.h"

static bool mounted(const char *path)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[4096];
    bool found = false;

    assert_non_null(f);
    while (!found && fgets(line, sizeof(line), f)) {
        /* field 5 is the mount point */
        char *p = line;
        for (int i = 0; i < 4 && p; i++) {
            p = strchr(p, ' ');
            if (p)
                p++;
        }
        if (p && strncmp(p, path, strlen(path)) == 0 && p[strlen(path)] == ' ')
            found = true;
    }
    fclose(f);
    return found;
}

static ino_t ns_ino(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_ino;
}

static int thread_ns_cb(void *arg)
{
    struct stat st;
    if (stat("/proc/thread-self/ns/net", &st) < 0)
        return -1;
    *(ino_t *)arg = st.st_ino;
    return 7;
}

static int fail_cb(void *arg)
{
    (void)arg;
    errno = EADDRINUSE;
    return -1;
}

static void test_netns_create_enter_remove(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *dir = berth_strdup_printf("%s/netns", env->dir);
    _cleanup_free_ char *path = NULL;
    struct berth_err *err = NULL;
    ino_t host = ns_ino("/proc/thread-self/ns/net"), inside = 0;
    struct stat st;

    if (geteuid() != 0)
        skip();
    assert_ok(berth_netns_create(dir, "pod1", &path, &err), &err);
    assert_true(berth_str_has_prefix(path, dir));
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0711);
    assert_true(mounted(path));
    /* A namespace of its own; ours is unchanged. */
    assert_int_not_equal(ns_ino(path), host);
    assert_int_equal(ns_ino("/proc/thread-self/ns/net"), host);

    assert_int_equal(berth_netns_enter_run(path, thread_ns_cb, &inside, &err), 7);
    assert_null(err);
    assert_int_equal(inside, ns_ino(path));
    assert_int_equal(ns_ino("/proc/thread-self/ns/net"), host);
    assert_int_equal(berth_netns_enter_run(path, fail_cb, NULL, &err), -1);
    assert_int_equal(err->sys_errno, EADDRINUSE);
    assert_err_code(err, BERTH_E_INTERNAL);

    /* The same name again: ALREADY_EXISTS, the first one untouched. */
    {
        char *again = NULL;
        assert_int_equal(berth_netns_create(dir, "pod1", &again, &err), -1);
        assert_null(again);
        assert_err_code(err, BERTH_E_ALREADY_EXISTS);
        assert_true(mounted(path));
    }

    assert_ok(berth_netns_remove(path, &err), &err);
    assert_false(mounted(path));
    assert_int_equal(access(path, F_OK), -1);
    /* Absent: still success. */
    assert_ok(berth_netns_remove(path, &err), &err);
}

static void test_netns_create_random_name(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *a = NULL, *b = NULL;
    struct berth_err *err = NULL;

    if (geteuid() != 0)
        skip();
    assert_ok(berth_netns_create(env->dir, NULL, &a, &err), &err);
    assert_ok(berth_netns_create(env->dir, NULL, &b, &err), &err);
    assert_string_not_equal(a, b);
    /* cni-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx */
    assert_int_equal(strlen(strrchr(a, '/') + 1), 4 + 36);
    assert_true(berth_str_has_prefix(strrchr(a, '/') + 1, "cni-"));
    assert_ok(berth_netns_remove(a, &err), &err);
    assert_ok(berth_netns_remove(b, &err), &err);
    assert_false(mounted(a));
    assert_false(mounted(b));
}

static void test_netns_bad_input(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *plain = berth_strdup_printf("%s/plain", env->dir);
    _cleanup_free_ char *missing = berth_strdup_printf("%s/missing", env->dir);
    struct berth_err *err = NULL;
    char *path = NULL;
    ino_t ino = 0;
    int fd;

    assert_int_equal(berth_netns_create(env->dir, "a/b", &path, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_netns_create(env->dir, "..", &path, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_netns_enter_run(missing, thread_ns_cb, &ino, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    fd = open(plain, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    if (geteuid() != 0)
        return; /* setns needs CAP_SYS_ADMIN before it looks at the file */
    assert_int_equal(berth_netns_enter_run(plain, thread_ns_cb, &ino, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(ino, 0);
    /* A plain file is not a mount: removing it is fine. */
    assert_ok(berth_netns_remove(plain, &err), &err);
    assert_int_equal(access(plain, F_OK), -1);
}

/* A failed assertion leaves namespaces pinned: unmount them, or rm -rf cannot work. */
static int teardown(void **state)
{
    struct berth_test_env *env = *state;
    const char *dirs[] = {env->dir, NULL};
    _cleanup_free_ char *sub = berth_strdup_printf("%s/netns", env->dir);

    dirs[1] = sub;
    for (size_t i = 0; i < BERTH_N(dirs); i++) {
        DIR *d = opendir(dirs[i]);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            _cleanup_free_ char *p = berth_strdup_printf("%s/%s", dirs[i], de->d_name);
            struct stat st;
            if (de->d_name[0] != '.' && lstat(p, &st) == 0 && S_ISREG(st.st_mode))
                berth_netns_remove(p, NULL);
        }
        if (d)
            closedir(d);
    }
    return berth_test_teardown_tmpdir(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_netns_create_enter_remove, berth_test_setup_tmpdir,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_netns_create_random_name, berth_test_setup_tmpdir,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_netns_bad_input, berth_test_setup_tmpdir, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
