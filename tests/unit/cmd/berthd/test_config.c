/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for cmd/berthd/config.c: the [cri] tables ([cri.cni], [cri.runtimes.<name>] with
 * their options), booleans, and the errors naming the bad key. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berthd/config.h"

static int parse(struct berthd_config *c, const char *text, struct berth_err **err)
{
    berthd_config_defaults(c);
    return berthd_config_parse(c, text, strlen(text), "test.toml", err);
}

static void test_cri_defaults(void **state)
{
    struct berthd_config c;
    struct berth_err *err = NULL;

    (void)state;
    berthd_config_defaults(&c);
    assert_true(c.cri_enabled);
    assert_string_equal(c.cri_sandbox_image, "");
    assert_string_equal(c.cri_default_runtime, "runc");
    assert_int_equal(c.cri_max_log_line, 16384);
    assert_string_equal(c.cri_cni_conf_dir, "/etc/cni/net.d");
    assert_string_equal(c.cri_cni_bin_dir, "/usr/lib/cni:/opt/cni/bin");
    assert_int_equal(c.n_cri_runtimes, 0);
    assert_string_equal(c.cri_stream_address, "127.0.0.1");
    assert_int_equal(berthd_config_stream_port(&c), 0);
    assert_string_equal(c.cri_stream_idle_timeout, "4h0m0s");
    assert_ok(berthd_config_validate(&c, &err), &err);
    berthd_config_free(&c);
}

static void test_cri_stream_keys(void **state)
{
    struct berthd_config c;
    struct berth_err *err = NULL;

    (void)state;
    assert_ok(parse(&c,
                    "[cri]\nstream_server_address = \"::1\"\nstream_server_port = \"10010\"\n"
                    "stream_idle_timeout = \"30m\"\n",
                    &err),
              &err);
    assert_ok(berthd_config_validate(&c, &err), &err);
    assert_string_equal(c.cri_stream_address, "::1");
    assert_int_equal(berthd_config_stream_port(&c), 10010);
    berthd_config_free(&c);
}

static void test_cri_tables(void **state)
{
    struct berthd_config c;
    struct berth_err *err = NULL;

    (void)state;
    assert_ok(parse(&c,
                    "[cri]\nenabled = false\nsandbox_image = \"registry.k8s.io/pause:3.9\"\n"
                    "max_container_log_line_size = 0\nenable_unprivileged_ports = true\n"
                    "default_runtime_name = \"fast\"\n"
                    "[cri.cni]\nconf_dir = \"/x/net.d\"\nbin_dir = \"/a:/b\"\n"
                    "[cri.runtimes.fast]\nruntime_type = \"io.containerd.runc.v2\"\n"
                    "[cri.runtimes.fast.options]\nBinaryName = \"crun\"\nSystemdCgroup = true\n"
                    "[cri.runtimes.other]\nruntime_path = \"/opt/shim\"\n",
                    &err),
              &err);
    assert_false(c.cri_enabled);
    assert_string_equal(c.cri_sandbox_image, "registry.k8s.io/pause:3.9");
    assert_int_equal(c.cri_max_log_line, 0);
    assert_true(c.cri_unprivileged_ports);
    assert_false(c.cri_unprivileged_icmp);
    assert_string_equal(c.cri_cni_conf_dir, "/x/net.d");
    assert_string_equal(c.cri_cni_bin_dir, "/a:/b");
    assert_int_equal(c.n_cri_runtimes, 2);
    assert_string_equal(c.cri_runtimes[0].name, "fast");
    assert_string_equal(c.cri_runtimes[0].runtime_type, "io.containerd.runc.v2");
    assert_string_equal(c.cri_runtimes[0].binary_name, "crun");
    assert_true(c.cri_runtimes[0].systemd_cgroup);
    assert_string_equal(c.cri_runtimes[1].name, "other");
    assert_string_equal(c.cri_runtimes[1].runtime_path, "/opt/shim");
    assert_string_equal(c.cri_runtimes[1].binary_name, "");
    assert_ok(berthd_config_validate(&c, &err), &err);
    berthd_config_free(&c);
}

static void expect_error(const char *text, const char *needle)
{
    struct berthd_config c;
    struct berth_err *err = NULL;
    int r = parse(&c, text, &err);

    if (r == 0)
        r = berthd_config_validate(&c, &err);
    assert_int_equal(r, -1);
    assert_non_null(err);
    if (!strstr(err->msg, needle))
        fail_msg("\"%s\" does not name \"%s\"", err->msg, needle);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berthd_config_free(&c);
}

static void test_cri_errors_name_the_key(void **state)
{
    (void)state;
    expect_error("[cri]\nenabled = 1\n", "cri.enabled");
    expect_error("[cri]\nnope = 1\n", "cri.nope");
    expect_error("[cri.cni]\nnope = \"x\"\n", "cri.cni.nope");
    expect_error("[cri.runtimes.x]\nfoo = 1\n", "cri.runtimes.x.foo");
    expect_error("[cri.runtimes.x.options]\nBinary = \"crun\"\n", "cri.runtimes.x.options.Binary");
    expect_error("[cri.runtimes.x.options]\nSystemdCgroup = \"yes\"\n", "SystemdCgroup");
    expect_error("[cri.runtimes.\"bad name\"]\n", "bad name");
    expect_error("[cri]\ndefault_runtime_name = \"missing\"\n", "missing");
    expect_error("[cri.cni]\nbin_dir = \"relative\"\n", "cri.cni.bin_dir");
    expect_error("[cri.cni]\nconf_dir = \"relative\"\n", "cri.cni.conf_dir");
    expect_error("[cri]\nmax_container_log_line_size = \"big\"\n", "max_container_log_line_size");
    expect_error("[cri]\nstream_server_port = \"65536\"\n", "cri.stream_server_port");
    expect_error("[cri]\nstream_server_port = \"-1\"\n", "cri.stream_server_port");
    expect_error("[cri]\nstream_server_port = \"\"\n", "cri.stream_server_port");
    expect_error("[cri]\nstream_server_port = 80\n", "stream_server_port");
    expect_error("[cri]\nstream_idle_timeout = \"forever\"\n", "cri.stream_idle_timeout");
    expect_error("[cri]\nstream_server_address = \"\"\n", "cri.stream_server_address");
}

static void test_metrics_keys(void **state)
{
    struct berthd_config c;
    struct berth_err *err = NULL;

    (void)state;
    berthd_config_defaults(&c);
    /* off by default; berth keeps the handling histograms on, unlike containerd */
    assert_string_equal(c.metrics_address, "");
    assert_true(c.metrics_grpc_histogram);
    berthd_config_free(&c);
    assert_ok(parse(&c, "[metrics]\naddress = \"127.0.0.1:1338\"\ngrpc_histogram = false\n", &err),
              &err);
    assert_ok(berthd_config_validate(&c, &err), &err);
    assert_string_equal(c.metrics_address, "127.0.0.1:1338");
    assert_false(c.metrics_grpc_histogram);
    berthd_config_free(&c);
    assert_ok(parse(&c, "[metrics]\naddress = \"[::1]:9100\"\n", &err), &err);
    assert_ok(berthd_config_validate(&c, &err), &err);
    berthd_config_free(&c);
    assert_ok(parse(&c, "[metrics]\naddress = \":1338\"\n", &err), &err); /* every address */
    assert_ok(berthd_config_validate(&c, &err), &err);
    berthd_config_free(&c);
}

static void test_metrics_bad_address_names_the_value(void **state)
{
    (void)state;
    expect_error("[metrics]\naddress = \"127.0.0.1\"\n", "metrics.address \"127.0.0.1\"");
    expect_error("[metrics]\naddress = \"localhost:http\"\n", "\"localhost:http\"");
    expect_error("[metrics]\naddress = \"127.0.0.1:65536\"\n", "\"127.0.0.1:65536\"");
    expect_error("[metrics]\naddress = \"::1:1338\"\n", "\"::1:1338\"");
    expect_error("[metrics]\naddress = \"127.0.0.1:\"\n", "metrics.address");
    expect_error("[metrics]\naddress = 1338\n", "metrics.address");
    expect_error("[metrics]\ngrpc_histogram = \"yes\"\n", "metrics.grpc_histogram");
    expect_error("[metrics]\nnope = 1\n", "metrics.nope");
}

static void test_print_lists_runtimes_and_parses_back(void **state)
{
    struct berthd_config c, d;
    struct berth_err *err = NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    (void)state;
    assert_ok(parse(&c, "[cri.runtimes.fast.options]\nBinaryName = \"crun\"\n", &err), &err);
    f = open_memstream(&buf, &len);
    berthd_config_print(&c, f);
    fclose(f);
    assert_non_null(strstr(buf, "[cri.runtimes.fast]"));
    assert_ok(parse(&d, buf, &err), &err);
    assert_int_equal(d.n_cri_runtimes, 1);
    assert_string_equal(d.cri_runtimes[0].binary_name, "crun");
    free(buf);
    berthd_config_free(&c);
    berthd_config_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cri_defaults),
        cmocka_unit_test(test_cri_stream_keys),
        cmocka_unit_test(test_cri_tables),
        cmocka_unit_test(test_cri_errors_name_the_key),
        cmocka_unit_test(test_metrics_keys),
        cmocka_unit_test(test_metrics_bad_address_names_the_value),
        cmocka_unit_test(test_print_lists_runtimes_and_parses_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
