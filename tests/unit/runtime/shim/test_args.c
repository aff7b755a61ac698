/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/shim/args.c: the command lines containerd 1.6 runs the shim with (Go flag
 * syntax) and the ones that must be refused. */
#include "tests/unit/helpers/berth_test.h"

#include <string.h>

#include "runtime/shim/shim.h"

#define ARGC(v) ((int)(sizeof(v) / sizeof((v)[0])))

static void test_args_parse_containerd_start_line(void **state)
{
    char *argv[] = {"containerd-shim-berth-v1",
                    "-namespace",
                    "default",
                    "-address",
                    "/run/containerd/containerd.sock",
                    "-publish-binary",
                    "/usr/bin/containerd",
                    "-id",
                    "t1",
                    "-debug",
                    "start"};
    struct berth_shim_args a;
    struct berth_err *err = NULL;

    (void)state;
    assert_ok(berth_shim_args_parse(ARGC(argv), argv, &a, &err), &err);
    assert_string_equal(a.ns, "default");
    assert_string_equal(a.id, "t1");
    assert_string_equal(a.address, "/run/containerd/containerd.sock");
    assert_string_equal(a.publish_binary, "/usr/bin/containerd");
    assert_string_equal(a.action, "start");
    assert_true(a.debug);
    assert_false(a.version);
    assert_null(a.bundle);
}

static void test_args_parse_delete_with_bundle_and_equals_syntax(void **state)
{
    char *argv[] = {"berth-shim", "--namespace=ns1", "-id=c1", "-bundle",
                    "/b/c1",      "-socket=/x",      "delete"};
    struct berth_shim_args a;
    struct berth_err *err = NULL;

    (void)state;
    assert_ok(berth_shim_args_parse(ARGC(argv), argv, &a, &err), &err);
    assert_string_equal(a.ns, "ns1");
    assert_string_equal(a.id, "c1");
    assert_string_equal(a.bundle, "/b/c1");
    assert_string_equal(a.socket, "/x");
    assert_string_equal(a.action, "delete");
    assert_false(a.debug);
}

static void test_args_parse_no_action_serves(void **state)
{
    char *argv[] = {"berth-shim", "-namespace", "n", "-id", "i", "-debug=false"};
    struct berth_shim_args a;
    struct berth_err *err = NULL;

    (void)state;
    assert_ok(berth_shim_args_parse(ARGC(argv), argv, &a, &err), &err);
    assert_null(a.action);
    assert_false(a.debug);
}

static void test_args_parse_double_dash_ends_flags(void **state)
{
    char *argv[] = {"berth-shim", "-namespace", "n", "-id", "i", "--", "start"};
    struct berth_shim_args a;
    struct berth_err *err = NULL;

    (void)state;
    assert_ok(berth_shim_args_parse(ARGC(argv), argv, &a, &err), &err);
    assert_string_equal(a.action, "start");
}

static void test_args_parse_bool_values(void **state)
{
    char *t[] = {"berth-shim", "-namespace", "n", "-id", "i", "-debug=true"};
    char *one[] = {"berth-shim", "-namespace", "n", "-id", "i", "--debug=1"};
    char *bad[] = {"berth-shim", "-namespace", "n", "-id", "i", "-debug=maybe"};
    struct berth_shim_args a;
    struct berth_err *err = NULL;

    (void)state;
    assert_ok(berth_shim_args_parse(ARGC(t), t, &a, &err), &err);
    assert_true(a.debug);
    assert_ok(berth_shim_args_parse(ARGC(one), one, &a, &err), &err);
    assert_true(a.debug);
    assert_int_equal(berth_shim_args_parse(ARGC(bad), bad, &a, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_args_parse_version_needs_no_namespace(void **state)
{
    char *v[] = {"berth-shim", "-v"};
    char *version[] = {"berth-shim", "--version"};
    struct berth_shim_args a;
    struct berth_err *err = NULL;

    (void)state;
    assert_ok(berth_shim_args_parse(ARGC(v), v, &a, &err), &err);
    assert_true(a.version);
    assert_ok(berth_shim_args_parse(ARGC(version), version, &a, &err), &err);
    assert_true(a.version);
}

static void test_args_parse_unknown_flag_is_invalid_argument(void **state)
{
    char *argv[] = {"berth-shim", "-namespace", "n", "-id", "i", "-systemd-cgroup", "start"};
    char *long_name[] = {"berth-shim", "-namespace",
                         "n",          "-id",
                         "i",          "-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                         "start"};
    char *empty[] = {"berth-shim", "-namespace", "n", "-id", "i", "-=x", "start"};
    struct berth_shim_args a;
    struct berth_err *err = NULL;

    (void)state;
    assert_int_equal(berth_shim_args_parse(ARGC(argv), argv, &a, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_shim_args_parse(ARGC(long_name), long_name, &a, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_shim_args_parse(ARGC(empty), empty, &a, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_args_parse_flag_without_value_is_invalid_argument(void **state)
{
    char *argv[] = {"berth-shim", "-namespace", "n", "-id"};
    struct berth_shim_args a;
    struct berth_err *err = NULL;

    (void)state;
    assert_int_equal(berth_shim_args_parse(ARGC(argv), argv, &a, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_args_parse_missing_namespace_or_id_is_invalid_argument(void **state)
{
    char *no_ns[] = {"berth-shim", "-id", "i", "start"};
    char *empty_ns[] = {"berth-shim", "-namespace=", "-id", "i", "start"};
    char *no_id[] = {"berth-shim", "-namespace", "n", "start"};
    struct berth_shim_args a;
    struct berth_err *err = NULL;

    (void)state;
    assert_int_equal(berth_shim_args_parse(ARGC(no_ns), no_ns, &a, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_shim_args_parse(ARGC(empty_ns), empty_ns, &a, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_shim_args_parse(ARGC(no_id), no_id, &a, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_args_parse_unknown_action_or_extra_argument_is_invalid_argument(void **state)
{
    char *action[] = {"berth-shim", "-namespace", "n", "-id", "i", "run"};
    char *extra[] = {"berth-shim", "-namespace", "n", "-id", "i", "start", "now"};
    char *late_flag[] = {"berth-shim", "-namespace", "n", "start", "-id", "i"};
    struct berth_shim_args a;
    struct berth_err *err = NULL;

    (void)state;
    assert_int_equal(berth_shim_args_parse(ARGC(action), action, &a, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_shim_args_parse(ARGC(extra), extra, &a, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    /* Go's flag package stops at the first positional argument: flags after it are extra. */
    assert_int_equal(berth_shim_args_parse(ARGC(late_flag), late_flag, &a, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args_parse_containerd_start_line),
        cmocka_unit_test(test_args_parse_delete_with_bundle_and_equals_syntax),
        cmocka_unit_test(test_args_parse_no_action_serves),
        cmocka_unit_test(test_args_parse_double_dash_ends_flags),
        cmocka_unit_test(test_args_parse_bool_values),
        cmocka_unit_test(test_args_parse_version_needs_no_namespace),
        cmocka_unit_test(test_args_parse_unknown_flag_is_invalid_argument),
        cmocka_unit_test(test_args_parse_flag_without_value_is_invalid_argument),
        cmocka_unit_test(test_args_parse_missing_namespace_or_id_is_invalid_argument),
        cmocka_unit_test(test_args_parse_unknown_action_or_extra_argument_is_invalid_argument),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
