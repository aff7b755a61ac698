/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/shim/attach.c and the inline helpers of attach.h: the attach stdin URI,
 * packet splitting in both directions and the /proc/self/fd socket address. */
#include "tests/unit/helpers/berth_test.h"

#include <string.h>

#include "runtime/shim/attach.h"
#include "runtime/shim/shim.h"

static void test_attach_uri_parse_stdin_and_once(void **state)
{
    struct berth_err *err = NULL;
    bool once = true;

    (void)state;
    assert_ok(berth_shim_attach_uri_parse(BERTH_SHIM_ATTACH_STDIN_URI, &once, &err), &err);
    assert_false(once);
    assert_ok(berth_shim_attach_uri_parse(BERTH_SHIM_ATTACH_STDIN_ONCE_URI, &once, &err), &err);
    assert_true(once);
    assert_ok(berth_shim_attach_uri_parse("attach://stdin?once=0", &once, &err), &err);
    assert_false(once);
}

static void test_attach_uri_parse_other_is_invalid_argument(void **state)
{
    const char *bad[] = {"",
                         "attach://",
                         "attach://stdout",
                         "attach://stdin?once=2",
                         "attach://stdin?once=1&x=y",
                         "attach:///stdin",
                         "/run/fifo",
                         "fifo:///run/fifo"};
    struct berth_err *err = NULL;
    bool once = true;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(berth_shim_attach_uri_parse(bad[i], &once, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        assert_false(once);
    }
    assert_int_equal(berth_shim_attach_uri_parse(NULL, &once, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_io_parse_attach_is_attach_kind(void **state)
{
    struct berth_err *err = NULL;
    enum berth_shim_io_kind k;
    const char *path;

    (void)state;
    assert_ok(berth_shim_io_parse(BERTH_SHIM_ATTACH_STDIN_ONCE_URI, &k, &path, &err), &err);
    assert_int_equal(k, BERTH_SHIM_IO_ATTACH);
    assert_string_equal(path, BERTH_SHIM_ATTACH_STDIN_ONCE_URI);
}

static void test_attach_packet_split_client_packets(void **state)
{
    static uint8_t big[BERTH_SHIM_ATTACH_PACKET_MAX + 1];
    enum berth_shim_attach_type t;
    const uint8_t *data;
    size_t len;

    (void)state;
    assert_true(berth_shim_attach_packet_split("\0abc", 4, true, &t, &data, &len));
    assert_int_equal(t, BERTH_SHIM_ATTACH_STDIN);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "abc", 3);
    /* an empty stdin packet carries nothing but is not malformed */
    assert_true(berth_shim_attach_packet_split("\0", 1, true, &t, &data, &len));
    assert_int_equal(len, 0);
    assert_true(berth_shim_attach_packet_split("\3", 1, true, &t, &data, &len));
    assert_int_equal(t, BERTH_SHIM_ATTACH_STDIN_END);
    /* the largest packet passes, one byte more does not */
    assert_true(
        berth_shim_attach_packet_split(big, BERTH_SHIM_ATTACH_PACKET_MAX, true, &t, &data, &len));
    assert_int_equal(len, BERTH_SHIM_ATTACH_DATA_MAX);
    assert_false(berth_shim_attach_packet_split(big, sizeof(big), true, &t, &data, &len));
    /* empty, STDIN_END with bytes, output types and unknown types from a client */
    assert_false(berth_shim_attach_packet_split("", 0, true, &t, &data, &len));
    assert_false(berth_shim_attach_packet_split("\3x", 2, true, &t, &data, &len));
    assert_false(berth_shim_attach_packet_split("\1x", 2, true, &t, &data, &len));
    assert_false(berth_shim_attach_packet_split("\2x", 2, true, &t, &data, &len));
    assert_false(berth_shim_attach_packet_split("\4x", 2, true, &t, &data, &len));
    assert_false(berth_shim_attach_packet_split("\xff", 1, true, &t, &data, &len));
}

static void test_attach_packet_split_shim_packets(void **state)
{
    enum berth_shim_attach_type t;
    const uint8_t *data;
    size_t len;

    (void)state;
    assert_true(berth_shim_attach_packet_split("\1out", 4, false, &t, &data, &len));
    assert_int_equal(t, BERTH_SHIM_ATTACH_STDOUT);
    assert_memory_equal(data, "out", 3);
    assert_true(berth_shim_attach_packet_split("\2e", 2, false, &t, &data, &len));
    assert_int_equal(t, BERTH_SHIM_ATTACH_STDERR);
    assert_int_equal(len, 1);
    assert_false(berth_shim_attach_packet_split("\0x", 2, false, &t, &data, &len));
    assert_false(berth_shim_attach_packet_split("\3", 1, false, &t, &data, &len));
    assert_false(berth_shim_attach_packet_split("", 0, false, &t, &data, &len));
}

static void test_attach_sockaddr_goes_through_proc_fd(void **state)
{
    struct sockaddr_un sa;

    (void)state;
    assert_int_equal(berth_shim_attach_sockaddr(17, &sa), sizeof(sa));
    assert_int_equal(sa.sun_family, AF_UNIX);
    assert_string_equal(sa.sun_path, "/proc/self/fd/17/attach");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attach_uri_parse_stdin_and_once),
        cmocka_unit_test(test_attach_uri_parse_other_is_invalid_argument),
        cmocka_unit_test(test_io_parse_attach_is_attach_kind),
        cmocka_unit_test(test_attach_packet_split_client_packets),
        cmocka_unit_test(test_attach_packet_split_shim_packets),
        cmocka_unit_test(test_attach_sockaddr_goes_through_proc_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
