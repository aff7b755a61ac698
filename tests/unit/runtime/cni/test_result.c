/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/cni/result.c: IPs of an interface from results of each CNI version, pod IP
 * selection, the merged go-cni result and the reading of a failed plugin's output. */
#include "tests/unit/helpers/berth_test.h"

#include <string.h>

#include "lib/util.h"
#include "runtime/cni/cni-internal.h"

/* bridge 1.1.1's 1.0.0 result (B1 of the CNI reference), with an IPv6 address added first. */
static const char bridge_100[] =
    "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"rcni0\",\"mac\":\"aa:aa:aa:aa:aa:01\"},"
    "{\"name\":\"veth11243904\",\"mac\":\"aa:aa:aa:aa:aa:02\"},"
    "{\"name\":\"eth0\",\"mac\":\"aa:aa:aa:aa:aa:03\",\"sandbox\":\"/run/netns/p\"}],"
    "\"ips\":[{\"interface\":2,\"address\":\"fd00::2/64\"},"
    "{\"interface\":2,\"address\":\"10.222.0.2/24\",\"gateway\":\"10.222.0.1\"},"
    "{\"interface\":0,\"address\":\"10.222.0.1/24\"}],"
    "\"routes\":[{\"dst\":\"0.0.0.0/0\"}],\"dns\":{}}";

static void check_ips(const char *text, const char *ifname, bool dflt, const char *const *want)
{
    _cleanup_json_ json_t *res = json_loads(text, 0, NULL);
    _cleanup_strv_ char **ips = NULL;
    struct berth_err *err = NULL;
    size_t n = 0, k = 0;

    assert_non_null(res);
    assert_ok(cni_result_ips(res, ifname, dflt, &ips, &n, &err), &err);
    for (; want[k]; k++) {
        assert_true(k < n);
        assert_string_equal(ips[k], want[k]);
    }
    assert_int_equal(n, k);
    assert_null(ips[n]);
}

static void test_result_ips_by_interface_index(void **state)
{
    (void)state;
    check_ips(bridge_100, "eth0", true, (const char *const[]){"fd00::2", "10.222.0.2", NULL});
    check_ips(bridge_100, "rcni0", false, (const char *const[]){"10.222.0.1", NULL});
    check_ips(bridge_100, "eth1", false, (const char *const[]){NULL});
}

static void test_result_ips_030_040_and_indexless(void **state)
{
    /* 0.3.1/0.4.0 carry "version"; an IPAM-only result has no interface index: such IPs
     * belong to the default interface only. */
    static const char v031[] = "{\"cniVersion\":\"0.3.1\",\"interfaces\":[{\"name\":\"lo\"}],"
                               "\"ips\":[{\"version\":\"4\",\"interface\":0,"
                               "\"address\":\"127.0.0.1/8\"},{\"version\":\"6\",\"interface\":0,"
                               "\"address\":\"::1/128\"}]}";
    static const char ipam[] = "{\"cniVersion\":\"0.4.0\",\"ips\":[{\"version\":\"4\","
                               "\"address\":\"10.1.0.5/16\",\"gateway\":\"10.1.0.1\"}]}";
    (void)state;
    check_ips(v031, "lo", false, (const char *const[]){"127.0.0.1", "::1", NULL});
    check_ips(v031, "eth0", true, (const char *const[]){NULL});
    check_ips(ipam, "eth0", true, (const char *const[]){"10.1.0.5", NULL});
    check_ips(ipam, "eth1", false, (const char *const[]){NULL});
}

static void test_result_ips_020(void **state)
{
    static const char v020[] = "{\"cniVersion\":\"0.2.0\",\"ip4\":{\"ip\":\"10.1.0.2/16\"},"
                               "\"ip6\":{\"ip\":\"fd00::5/64\"}}";
    (void)state;
    check_ips(v020, "eth0", true, (const char *const[]){"10.1.0.2", "fd00::5", NULL});
}

static void test_result_ips_not_object_is_internal(void **state)
{
    _cleanup_json_ json_t *res = json_loads("[1]", 0, NULL);
    _cleanup_json_ json_t *bad = json_loads("{\"ips\":{}}", 0, NULL);
    struct berth_err *err = NULL;
    char **ips = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(cni_result_ips(res, "eth0", true, &ips, &n, &err), -1);
    assert_err_code(err, BERTH_E_INTERNAL);
    assert_int_equal(cni_result_ips(bad, "eth0", true, &ips, &n, &err), -1);
    assert_err_code(err, BERTH_E_INTERNAL);
}

static void test_ips_select_prefers_first_ipv4(void **state)
{
    char *ips[] = {"fd00::2", "fd00::3", "10.0.0.2", "10.0.0.3", NULL};
    char *one[] = {"fd00::9", NULL};
    struct berth_cni_result r = {0};

    (void)state;
    cni_ips_select(ips, 4, &r);
    assert_string_equal(r.ip, "10.0.0.2");
    assert_int_equal(r.n_extra_ips, 3);
    assert_string_equal(r.extra_ips[0], "fd00::2");
    assert_string_equal(r.extra_ips[1], "fd00::3");
    assert_string_equal(r.extra_ips[2], "10.0.0.3");
    berth_cni_result_clear(&r);
    cni_ips_select(one, 1, &r);
    assert_string_equal(r.ip, "fd00::9");
    assert_int_equal(r.n_extra_ips, 0);
    berth_cni_result_clear(&r);
    cni_ips_select(NULL, 0, &r);
    assert_null(r.ip);
}

static void test_result_merge_go_cni_shape(void **state)
{
    _cleanup_json_ json_t *merged = json_object();
    _cleanup_json_ json_t *res = json_loads(bridge_100, 0, NULL);
    _cleanup_json_ json_t *lo =
        json_loads("{\"interfaces\":[{\"name\":\"lo\"}],\"ips\":[{\"interface\":0,"
                   "\"address\":\"127.0.0.1/8\"}]}",
                   0, NULL);
    json_t *eth0;

    (void)state;
    cni_result_merge(merged, lo, "lo");
    cni_result_merge(merged, res, "eth0");
    eth0 = json_object_get(json_object_get(merged, "Interfaces"), "eth0");
    assert_string_equal(json_string_value(json_object_get(eth0, "Mac")), "aa:aa:aa:aa:aa:03");
    assert_string_equal(json_string_value(json_object_get(eth0, "Sandbox")), "/run/netns/p");
    assert_int_equal(json_array_size(json_object_get(eth0, "IPConfigs")), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(eth0, "IPConfigs"), 1), "Gateway")),
                        "10.222.0.1");
    assert_non_null(json_object_get(json_object_get(merged, "Interfaces"), "lo"));
    assert_int_equal(json_array_size(json_object_get(merged, "Routes")), 1);
    assert_int_equal(json_array_size(json_object_get(merged, "DNS")), 1);
}

static void test_plugin_error_reads_cni_error(void **state)
{
    static const char e1[] = "{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"bad config\","
                             "\"details\":\"no bridge\"}";
    static const char e11[] = "{\"code\":11,\"msg\":\"busy\"}";
    struct berth_err *err = NULL;

    (void)state;
    assert_int_equal(cni_plugin_error(e1, strlen(e1), "noise", 5, 1, &err), -1);
    assert_string_equal(err->msg, "bad config; no bridge");
    assert_err_code(err, BERTH_E_INTERNAL);
    assert_int_equal(cni_plugin_error(e11, strlen(e11), NULL, 0, 1, &err), -1);
    assert_string_equal(err->msg, "busy");
    assert_err_code(err, BERTH_E_UNAVAILABLE);
    /* Not a CNI error: stderr, then stdout, then the exit status. */
    assert_int_equal(cni_plugin_error("x", 1, "boom\n", 5, 2, &err), -1);
    assert_string_equal(err->msg, "netplugin failed: \"boom\"");
    assert_err_code(err, BERTH_E_INTERNAL);
    assert_int_equal(cni_plugin_error(NULL, 0, NULL, 0, 3, &err), -1);
    assert_string_equal(err->msg, "netplugin failed with no error message: exit status 3");
    assert_err_code(err, BERTH_E_INTERNAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_ips_by_interface_index),
        cmocka_unit_test(test_result_ips_030_040_and_indexless),
        cmocka_unit_test(test_result_ips_020),
        cmocka_unit_test(test_result_ips_not_object_is_internal),
        cmocka_unit_test(test_ips_select_prefers_first_ipv4),
        cmocka_unit_test(test_result_merge_go_cni_shape),
        cmocka_unit_test(test_plugin_error_reads_cni_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
