/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/shim/paths.c: the state dir a bundle belongs to, the shim socket name and
 * its length limit, and the stdio URIs of Create/Exec. */
#include "tests/unit/helpers/berth_test.h"

#include <string.h>

#include "runtime/shim/shim.h"

static void test_state_dir_of_task_bundle(void **state)
{
    struct berth_err *err = NULL;
    char buf[256];

    (void)state;
    assert_ok(berth_shim_state_dir("/run/berth-x/io.containerd.runtime.v2.task/default/t1", buf,
                                   sizeof(buf), &err),
              &err);
    assert_string_equal(buf, "/run/berth-x");
    /* trailing and doubled slashes are tolerated */
    assert_ok(berth_shim_state_dir("/var/run/c//io.containerd.runtime.v2.task//ns/id//", buf,
                                   sizeof(buf), &err),
              &err);
    assert_string_equal(buf, "/var/run/c");
    /* berthd's own bundle layout: <state>/tasks/<ns>/<id> */
    assert_ok(berth_shim_state_dir("/tmp/x/tasks/default/t1", buf, sizeof(buf), &err), &err);
    assert_string_equal(buf, "/tmp/x");
}

static void test_state_dir_of_other_bundle_is_fallback(void **state)
{
    const char *others[] = {
        "/tmp/bundle",
        "/tmp/x/tasksX/default/t1",
        "/io.containerd.runtime.v2.task/default/t1", /* no state dir above it */
        "io.containerd.runtime.v2.task/default/t1",  /* relative */
        "/s/io.containerd.runtime.v2.taskX/default/t1",
        "/s/io.containerd.runtime.v2.task/t1",
        "",
    };
    struct berth_err *err = NULL;
    char buf[64];

    (void)state;
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        assert_ok(berth_shim_state_dir(others[i], buf, sizeof(buf), &err), &err);
        assert_string_equal(buf, "/run/berth");
    }
}

static void test_state_dir_buffer_too_small_is_invalid_argument(void **state)
{
    struct berth_err *err = NULL;
    char buf[8];

    (void)state;
    assert_int_equal(berth_shim_state_dir("/run/long-state/io.containerd.runtime.v2.task/n/i", buf,
                                          sizeof(buf), &err),
                     -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_shim_state_dir("/tmp/b", buf, 5, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_socket_path_hashes_address_ns_id(void **state)
{
    struct berth_err *err = NULL;
    char buf[128], other[128];

    (void)state;
    /* sha256(address "/" ns "/" id), first 16 bytes in hex */
    assert_ok(berth_shim_socket_path("/run/berth", "/run/containerd/containerd.sock", "default",
                                     "t1", buf, sizeof(buf), &err),
              &err);
    assert_string_equal(buf, "/run/berth/s/df6a0c5cd2e9a1a16d9a3f2447365d9f");
    assert_ok(berth_shim_socket_path("/st", "", "default", "t1", buf, sizeof(buf), &err), &err);
    assert_string_equal(buf, "/st/s/c3deaf52fd2e68f856099cba914c6dd1");
    /* every component counts */
    assert_ok(berth_shim_socket_path("/st", "", "default", "t2", other, sizeof(other), &err), &err);
    assert_string_not_equal(buf, other);
    assert_ok(berth_shim_socket_path("/st", "", "defaulu", "t1", other, sizeof(other), &err), &err);
    assert_string_not_equal(buf, other);
}

static void test_socket_path_length_limit_is_invalid_argument(void **state)
{
    struct berth_err *err = NULL;
    char st[200], buf[256], small[32];

    (void)state;
    /* "<state>/s/" + 32 hex digits: 107 bytes fit in sun_path, 108 don't */
    memset(st, 'a', sizeof(st));
    st[0] = '/';
    st[72] = '\0';
    assert_ok(berth_shim_socket_path(st, "a", "n", "i", buf, sizeof(buf), &err), &err);
    assert_int_equal(strlen(buf), 107);
    st[72] = 'a';
    st[73] = '\0';
    assert_int_equal(berth_shim_socket_path(st, "a", "n", "i", buf, sizeof(buf), &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_shim_socket_path("/st", "a", "n", "i", small, sizeof(small), &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_io_parse_kinds(void **state)
{
    struct berth_err *err = NULL;
    enum berth_shim_io_kind k;
    const char *path;

    (void)state;
    assert_ok(berth_shim_io_parse("", &k, &path, &err), &err);
    assert_int_equal(k, BERTH_SHIM_IO_NONE);
    assert_null(path);
    assert_ok(berth_shim_io_parse(NULL, &k, &path, &err), &err);
    assert_int_equal(k, BERTH_SHIM_IO_NONE);
    assert_ok(berth_shim_io_parse("/run/containerd/fifo/1/t1-stdout", &k, &path, &err), &err);
    assert_int_equal(k, BERTH_SHIM_IO_FIFO);
    assert_string_equal(path, "/run/containerd/fifo/1/t1-stdout");
    assert_ok(berth_shim_io_parse("fifo:///tmp/f", &k, &path, &err), &err);
    assert_int_equal(k, BERTH_SHIM_IO_FIFO);
    assert_string_equal(path, "/tmp/f");
    assert_ok(berth_shim_io_parse("file:///var/log/t1.log", &k, &path, &err), &err);
    assert_int_equal(k, BERTH_SHIM_IO_FILE);
    assert_string_equal(path, "/var/log/t1.log");
    /* the CRI log: path and query stay together (berth_shim_crilog_uri_parse splits them) */
    assert_ok(
        berth_shim_io_parse("crilog:///var/log/pods/p/c/0.log?max_line_size=5", &k, &path, &err),
        &err);
    assert_int_equal(k, BERTH_SHIM_IO_CRILOG);
    assert_string_equal(path, "/var/log/pods/p/c/0.log?max_line_size=5");
}

static void test_io_parse_binary_is_not_implemented(void **state)
{
    struct berth_err *err = NULL;
    enum berth_shim_io_kind k;
    const char *path;

    (void)state;
    assert_int_equal(berth_shim_io_parse("binary:///usr/bin/logger?id=1", &k, &path, &err), -1);
    assert_err_code(err, BERTH_E_NOT_IMPLEMENTED);
    assert_int_equal(berth_shim_io_parse("http://example.com/x", &k, &path, &err), -1);
    assert_err_code(err, BERTH_E_NOT_IMPLEMENTED);
    assert_int_equal(k, BERTH_SHIM_IO_NONE);
    assert_null(path);
}

static void test_io_parse_relative_path_is_invalid_argument(void **state)
{
    const char *bad[] = {"stdout.fifo", "./fifo",    "file://relative/log", "fifo://",
                         "file://",     "crilog://", "crilog://host/0.log"};
    struct berth_err *err = NULL;
    enum berth_shim_io_kind k;
    const char *path;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(berth_shim_io_parse(bad[i], &k, &path, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        assert_null(path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_dir_of_task_bundle),
        cmocka_unit_test(test_state_dir_of_other_bundle_is_fallback),
        cmocka_unit_test(test_state_dir_buffer_too_small_is_invalid_argument),
        cmocka_unit_test(test_socket_path_hashes_address_ns_id),
        cmocka_unit_test(test_socket_path_length_limit_is_invalid_argument),
        cmocka_unit_test(test_io_parse_kinds),
        cmocka_unit_test(test_io_parse_binary_is_not_implemented),
        cmocka_unit_test(test_io_parse_relative_path_is_invalid_argument),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
