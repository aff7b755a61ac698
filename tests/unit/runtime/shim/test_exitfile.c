/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/shim/exitfile.c: the persisted exit file (round trip, atomic replace,
 * missing and corrupt files) and the containerd exit status of a wait status. */
#include "tests/unit/helpers/berth_test.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/shim/shim.h"

static void put(const char *dir, const char *name, const char *content)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void test_exit_write_read_round_trip(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    int64_t ns = 0;
    uint32_t st = 0;
    char path[4096];
    struct stat sb;

    assert_ok(berth_shim_exit_write(env->dir, 3, 1700000000123456789LL, &err), &err);
    assert_ok(berth_shim_exit_read(env->dir, &st, &ns, &err), &err);
    assert_int_equal(st, 3);
    assert_true(ns == 1700000000123456789LL);
    /* a second exit replaces the first; no temp file is left */
    assert_ok(berth_shim_exit_write(env->dir, 137, 5, &err), &err);
    assert_ok(berth_shim_exit_read(env->dir, &st, &ns, &err), &err);
    assert_int_equal(st, 137);
    assert_true(ns == 5);
    snprintf(path, sizeof(path), "%s/.exit.tmp", env->dir);
    assert_int_equal(stat(path, &sb), -1);
    /* the largest status survives */
    assert_ok(berth_shim_exit_write(env->dir, UINT32_MAX, 0, &err), &err);
    assert_ok(berth_shim_exit_read(env->dir, &st, &ns, &err), &err);
    assert_true(st == UINT32_MAX);
}

static void test_exit_file_format(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    char path[4096], buf[64] = {0};
    int fd;

    assert_ok(berth_shim_exit_write(env->dir, 0, 42, &err), &err);
    snprintf(path, sizeof(path), "%s/exit", env->dir);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
    close(fd);
    assert_string_equal(buf, "0 42\n");
}

static void test_exit_read_missing_is_not_found(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    int64_t ns = -1;
    uint32_t st = 77;

    assert_int_equal(berth_shim_exit_read(env->dir, &st, &ns, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(st, 77);
    assert_true(ns == -1);
}

static void test_exit_read_corrupt_is_invalid_argument(void **state)
{
    const char *bad[] = {
        "",
        "\n",
        "x 1\n",
        "3",
        "3\n",
        "3 ",
        "3 5",
        "3 abc\n",
        "3 5 6\n",
        " 3 5\n",
        "3 \n",
        "3  5\n",
        "3 -5\n",
        "+3 5\n",
        "-1 5\n",
        "4294967296 5\n",
        "3 99999999999999999999\n",
    };
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    int64_t ns = -1;
    uint32_t st = 77;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put(env->dir, "exit", bad[i]);
        if (berth_shim_exit_read(env->dir, &st, &ns, &err) == 0)
            fail_msg("exit file \"%s\" was accepted", bad[i]);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        assert_int_equal(st, 77);
        assert_true(ns == -1);
    }
}

static void test_exit_write_missing_bundle_fails(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    char path[4096];

    snprintf(path, sizeof(path), "%s/no/such/bundle", env->dir);
    assert_int_equal(berth_shim_exit_write(path, 1, 1, &err), -1);
    assert_err_code(err, BERTH_E_INTERNAL);
}

/* The wait status of a real child that ran fn. */
static int child_status(int how)
{
    int st = 0;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        if (how >= 0)
            _exit(how);
        signal(-how, SIG_DFL);
        raise(-how);
        _exit(100);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return st;
}

static void test_wait_status_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(berth_shim_wait_status(child_status(0)), 0);
    assert_int_equal(berth_shim_wait_status(child_status(3)), 3);
    assert_int_equal(berth_shim_wait_status(child_status(255)), 255);
}

static void test_wait_status_signals_are_128_plus(void **state)
{
    (void)state;
    assert_int_equal(berth_shim_wait_status(child_status(-SIGKILL)), 137);
    assert_int_equal(berth_shim_wait_status(child_status(-SIGTERM)), 143);
    assert_int_equal(berth_shim_wait_status(child_status(-SIGINT)), 130);
}

static void test_wait_status_stopped_is_255(void **state)
{
    (void)state;
    /* neither exited nor signaled (a stop report): 255, never 0 */
    assert_int_equal(berth_shim_wait_status(0x137f), 255);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exit_write_read_round_trip, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_exit_file_format, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_exit_read_missing_is_not_found,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_exit_read_corrupt_is_invalid_argument,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_exit_write_missing_bundle_fails,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test(test_wait_status_exit_codes),
        cmocka_unit_test(test_wait_status_signals_are_128_plus),
        cmocka_unit_test(test_wait_status_stopped_is_255),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
