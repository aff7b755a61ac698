/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/stats/net.c: /proc/net/dev parsing from a fake file (headers skipped, lo
 * left out, counters picked from the right columns, names glued to large counters), a
 * truncated line, a missing file, this process's own netns read by pid and a reaped pid. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/stats/stats.h"

static const char net_dev[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo: 10179629040  364341    0    0    0     0          0         0 10179629040  364341 "
    "   0    0    0     0       0          0\n"
    "  eth0: 71653617    2429    3    4    5     6          7         8   132079    1740    "
    "9   10   11    12      13         14\n"
    "veth-long-name:18446744073709551615 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n";

static void write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void test_net_stats_read_file_parses(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_net_stats *v = NULL;
    size_t n = 0;
    char path[4096];

    snprintf(path, sizeof(path), "%s/dev", env->dir);
    write_file(path, net_dev);
    assert_ok(berth_net_stats_read_file(path, &v, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "eth0");
    assert_int_equal(v[0].rx_bytes, 71653617);
    assert_int_equal(v[0].rx_errors, 3);
    assert_int_equal(v[0].tx_bytes, 132079);
    assert_int_equal(v[0].tx_errors, 9);
    assert_string_equal(v[1].name, "veth-long-name");
    assert_true(v[1].rx_bytes == UINT64_MAX);
    assert_int_equal(v[1].rx_errors, 2);
    assert_int_equal(v[1].tx_bytes, 8);
    assert_int_equal(v[1].tx_errors, 10);
    berth_net_stats_free(v, n);
}

static void test_net_stats_read_file_only_lo_is_empty(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_net_stats *v = NULL;
    size_t n = 7;
    char path[4096];

    snprintf(path, sizeof(path), "%s/dev", env->dir);
    write_file(path, "Inter-|\n face |\n    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n");
    assert_ok(berth_net_stats_read_file(path, &v, &n, &err), &err);
    assert_int_equal(n, 0);
    assert_null(v);
}

static void test_net_stats_read_file_truncated_is_internal(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_net_stats *v = NULL;
    size_t n = 0;
    char path[4096];

    snprintf(path, sizeof(path), "%s/dev", env->dir);
    write_file(path, "Inter-|\n face |\n  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
                     "  eth1: 1 2 3\n");
    assert_int_equal(berth_net_stats_read_file(path, &v, &n, &err), -1);
    assert_null(v);
    assert_int_equal(n, 0);
    assert_err_code(err, BERTH_E_INTERNAL);
}

static void test_net_stats_read_file_missing_is_not_found(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_net_stats *v = NULL;
    size_t n = 0;
    char path[4096];

    snprintf(path, sizeof(path), "%s/nope", env->dir);
    assert_int_equal(berth_net_stats_read_file(path, &v, &n, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

/* The running test's own netns: whatever is there, lo never is. */
static void test_net_stats_read_pid_self(void **state)
{
    struct berth_err *err = NULL;
    struct berth_net_stats *v = NULL;
    size_t n = 0;

    (void)state;
    assert_ok(berth_net_stats_read_pid(getpid(), &v, &n, &err), &err);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(v[i].name, "lo");
    berth_net_stats_free(v, n);
}

static void test_net_stats_read_pid_gone_is_not_found(void **state)
{
    struct berth_err *err = NULL;
    struct berth_net_stats *v = NULL;
    size_t n = 0;
    pid_t pid = fork();

    (void)state;
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(berth_net_stats_read_pid(pid, &v, &n, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_net_stats_read_file_parses, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_net_stats_read_file_only_lo_is_empty,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_net_stats_read_file_truncated_is_internal,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_net_stats_read_file_missing_is_not_found,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test(test_net_stats_read_pid_self),
        cmocka_unit_test(test_net_stats_read_pid_gone_is_not_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
