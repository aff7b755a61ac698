/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/oci/image.c (OCI image config parsing). */
#include "tests/unit/helpers/berth_test.h"

#include <string.h>

#include "lib/util.h"
#include "runtime/oci/spec.h"

#define DIFF_ID "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static struct berth_oci_image_config *parse_ok(const char *json)
{
    struct berth_oci_image_config *c = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_oci_image_config_parse(json, strlen(json), &c, &err), &err);
    assert_non_null(c);
    return c;
}

static void parse_fails(const char *json, enum berth_errc code)
{
    struct berth_oci_image_config *c = (void *)1;
    struct berth_err *err = NULL;

    assert_int_equal(berth_oci_image_config_parse(json, json ? strlen(json) : 0, &c, &err), -1);
    assert_null(c);
    assert_err_code(err, code);
}

static void test_image_config_parse_full(void **state)
{
    struct berth_oci_image_config *c =
        parse_ok("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
                 "\"User\":\"www:staff\",\"Env\":[\"PATH=/bin\",\"A=1\"],\"Entrypoint\":[\"/ep\"],"
                 "\"Cmd\":[\"a\",\"b\"],\"WorkingDir\":\"/srv\",\"Labels\":{\"k\":\"v\"},"
                 "\"StopSignal\":\"SIGQUIT\",\"ExposedPorts\":{\"80/tcp\":{}}},"
                 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DIFF_ID "\"]},"
                 "\"history\":[{\"created_by\":\"x\"}]}");

    (void)state;
    assert_string_equal(c->architecture, "amd64");
    assert_string_equal(c->os, "linux");
    assert_string_equal(c->user, "www:staff");
    assert_string_equal(c->env[1], "A=1");
    assert_null(c->env[2]);
    assert_string_equal(c->entrypoint[0], "/ep");
    assert_null(c->entrypoint[1]);
    assert_string_equal(c->cmd[1], "b");
    assert_string_equal(c->working_dir, "/srv");
    assert_string_equal(c->stop_signal, "SIGQUIT");
    assert_string_equal(berth_labels_get(&c->labels, "k"), "v");
    assert_string_equal(c->diff_ids[0], DIFF_ID);
    assert_null(c->diff_ids[1]);
    berth_oci_image_config_free(c);
}

static void test_image_config_parse_nulls_and_absent(void **state)
{
    struct berth_oci_image_config *c =
        parse_ok("{\"config\":{\"Entrypoint\":null,\"Cmd\":[],\"Env\":null,\"Labels\":null}}");

    (void)state;
    assert_null(c->entrypoint);
    assert_non_null(c->cmd);
    assert_null(c->cmd[0]);
    assert_null(c->env);
    assert_null(c->user);
    assert_null(c->diff_ids);
    assert_int_equal(c->labels.n, 0);
    berth_oci_image_config_free(c);
    c = parse_ok("{}");
    berth_oci_image_config_free(c);
    berth_oci_image_config_free(NULL);
}

static void test_image_config_parse_rejects_bad_input(void **state)
{
    (void)state;
    parse_fails("", BERTH_E_INVALID_ARGUMENT);
    parse_fails(NULL, BERTH_E_INVALID_ARGUMENT);
    parse_fails("{", BERTH_E_INVALID_ARGUMENT);
    parse_fails("[]", BERTH_E_INVALID_ARGUMENT);
    parse_fails("{\"config\":[]}", BERTH_E_INVALID_ARGUMENT);
    parse_fails("{\"config\":{\"Cmd\":\"sh\"}}", BERTH_E_INVALID_ARGUMENT);
    parse_fails("{\"config\":{\"Env\":[1]}}", BERTH_E_INVALID_ARGUMENT);
    parse_fails("{\"config\":{\"User\":0}}", BERTH_E_INVALID_ARGUMENT);
    parse_fails("{\"config\":{\"Labels\":{\"a\":1}}}", BERTH_E_INVALID_ARGUMENT);
    parse_fails("{\"rootfs\":{\"type\":\"tar\"}}", BERTH_E_INVALID_ARGUMENT);
    parse_fails("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:abc\"]}}",
                BERTH_E_INVALID_ARGUMENT);
    parse_fails("{\"architecture\":5}", BERTH_E_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_config_parse_full),
        cmocka_unit_test(test_image_config_parse_nulls_and_absent),
        cmocka_unit_test(test_image_config_parse_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
