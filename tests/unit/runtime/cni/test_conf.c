/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/cni/conf.c: list parsing, the config directory scan, each plugin's stdin
 * and the capability args, with no plugin run. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/util.h"
#include "runtime/cni/cni-internal.h"

static void write_file(const char *dir, const char *name, const char *text)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char bridge_list[] =
    "{\"cniVersion\":\"1.0.0\",\"name\":\"net-b\",\"plugins\":[{\"type\":\"bridge\"},"
    "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}";

static void test_conf_dir_load_missing_dir_is_empty(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *dir = berth_strdup_printf("%s/nope", env->dir);
    struct berth_err *err = NULL;
    struct cni_netlist **nets = NULL;
    size_t n = 9;

    assert_ok(cni_conf_dir_load(dir, 1, &nets, &n, &err), &err);
    assert_int_equal(n, 0);
    assert_non_null(nets);
    assert_null(nets[0]);
    free(nets);
}

static void test_conf_dir_load_takes_first_in_lexical_order(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *sub = berth_strdup_printf("%s/00-dir.conflist", env->dir);
    struct berth_err *err = NULL;
    struct cni_netlist **nets = NULL;
    size_t n = 0;

    /* Skipped: other suffixes, hidden files, directories. Not read: anything past max. */
    write_file(env->dir, "05-notes.txt", "garbage");
    write_file(env->dir, ".01-hidden.conflist", "garbage");
    assert_int_equal(mkdir(sub, 0755), 0);
    write_file(env->dir, "20-b.conflist", bridge_list);
    write_file(env->dir, "30-broken.conf", "{");
    write_file(env->dir, "10-a.conf",
               "{\"cniVersion\":\"0.4.0\",\"name\":\"net-a\",\"type\":\"ptp\",\"mtu\":1400}");
    assert_ok(cni_conf_dir_load(env->dir, 2, &nets, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_string_equal(nets[0]->name, "net-a");
    assert_string_equal(nets[0]->cni_version, "0.4.0");
    assert_true(strstr(nets[0]->source, "/10-a.conf") != NULL);
    /* A single .conf is wrapped into a list of one (libcni ConfListFromConf). */
    assert_int_equal(json_array_size(json_object_get(nets[0]->list, "plugins")), 1);
    assert_true(strstr(nets[0]->bytes, "\"plugins\":[{") != NULL);
    assert_string_equal(nets[1]->name, "net-b");
    assert_string_equal(nets[1]->bytes, bridge_list); /* cached as read */
    assert_null(nets[2]);
    for (size_t i = 0; i < n; i++)
        cni_netlist_free(nets[i]);
    free(nets);
}

static void test_conf_dir_load_broken_file_is_invalid_argument(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct cni_netlist **nets = NULL;
    size_t n = 0;

    write_file(env->dir, "10-bad.conflist", "{\"name\":\"x\",\"plugins\":[");
    write_file(env->dir, "20-good.conflist", bridge_list);
    assert_int_equal(cni_conf_dir_load(env->dir, 1, &nets, &n, &err), -1);
    assert_non_null(err);
    assert_true(strstr(err->msg, "10-bad.conflist") != NULL);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_null(nets);
}

static void test_netlist_parse_rejects_bad_lists(void **state)
{
    static const struct {
        const char *text;
        bool is_list;
    } bad[] = {
        {"[]", true},
        {"{\"plugins\":[{\"type\":\"bridge\"}]}", true},      /* no name */
        {"{\"name\":\"n\"}", true},                           /* no plugins */
        {"{\"name\":\"n\",\"plugins\":[]}", true},            /* empty */
        {"{\"name\":\"n\",\"plugins\":{}}", true},            /* not an array */
        {"{\"name\":\"n\",\"plugins\":[{\"mtu\":1}]}", true}, /* no type */
        {"{\"name\":\"n\",\"cniVersion\":1,\"plugins\":[{\"type\":\"x\"}]}", true},
        {"{\"name\":\"n\"}", false}, /* .conf without type */
        {"{\"name\":\"n\",\"type\":\"\"}", false},
        {"not json", false},
    };
    (void)state;
    for (size_t i = 0; i < BERTH_N(bad); i++) {
        struct berth_err *err = NULL;
        struct cni_netlist *n = (struct cni_netlist *)1;
        assert_int_equal(
            cni_netlist_parse(bad[i].text, strlen(bad[i].text), bad[i].is_list, "f", &n, &err), -1);
        assert_null(n);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
}

static void test_plugin_conf_injects_name_version_prev_and_capabilities(void **state)
{
    struct berth_err *err = NULL;
    _cleanup_(cni_netlist_freep) struct cni_netlist *list = NULL;
    _cleanup_json_ json_t *prev = json_pack("{s:s}", "cniVersion", "1.0.0");
    _cleanup_json_ json_t *caps =
        json_pack("{s:[{s:i}], s:{s:[]}}", "portMappings", "hostPort", 8080, "dns", "servers");
    _cleanup_free_ char *first = NULL, *second = NULL;
    _cleanup_json_ json_t *j1 = NULL, *j2 = NULL;

    (void)state;
    assert_ok(cni_netlist_parse(bridge_list, strlen(bridge_list), true, "", &list, &err), &err);
    first = cni_plugin_conf(list, 0, NULL, caps);
    second = cni_plugin_conf(list, 1, prev, caps);
    j1 = json_loads(first, 0, NULL);
    j2 = json_loads(second, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j1, "name")), "net-b");
    assert_string_equal(json_string_value(json_object_get(j1, "cniVersion")), "1.0.0");
    /* bridge declares no capability: no runtimeConfig; first plugin: no prevResult. */
    assert_null(json_object_get(j1, "runtimeConfig"));
    assert_null(json_object_get(j1, "prevResult"));
    assert_true(json_equal(json_object_get(j2, "prevResult"), prev));
    /* portmap declares portMappings only: dns stays out. */
    assert_true(json_equal(json_object_get(json_object_get(j2, "runtimeConfig"), "portMappings"),
                           json_object_get(caps, "portMappings")));
    assert_null(json_object_get(json_object_get(j2, "runtimeConfig"), "dns"));
    assert_int_equal(json_object_size(json_object_get(j2, "runtimeConfig")), 1);
}

static void test_caps_build_ports_dns_and_extra(void **state)
{
    static const char *const servers[] = {"10.10.10.10", NULL};
    static const char *const options[] = {"ndots:8", NULL};
    const struct berth_cni_port ports[] = {
        {"tcp", 80, 12000, NULL},
        {"udp", 53, 0, NULL}, /* no host port: containerd leaves it out */
        {NULL, 443, 8443, "127.0.0.1"},
    };
    const struct berth_cni_dns dns = {servers, NULL, options};
    struct berth_cni_attach a = {.ports = ports, .n_ports = BERTH_N(ports), .dns = &dns};
    struct berth_err *err = NULL;
    _cleanup_json_ json_t *caps = NULL;
    _cleanup_json_ json_t *want = json_pack(
        "{s:[{s:i,s:i,s:s},{s:i,s:i,s:s,s:s}], s:{s:[s],s:[],s:[s]}, s:{s:i}}", "portMappings",
        "hostPort", 12000, "containerPort", 80, "protocol", "tcp", "hostPort", 8443,
        "containerPort", 443, "protocol", "tcp", "hostIP", "127.0.0.1", "dns", "servers",
        "10.10.10.10", "searches", "options", "ndots:8", "bandwidth", "ingressRate", 1000);

    (void)state;
    a.capabilities_json = "{\"bandwidth\":{\"ingressRate\":1000}}";
    assert_ok(cni_caps_build(&a, &caps, &err), &err);
    assert_true(json_equal(caps, want));
    json_decref(steal_ptr(caps));

    a.capabilities_json = "[1]";
    assert_int_equal(cni_caps_build(&a, &caps, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);

    /* Nothing given: an empty object (no runtimeConfig for anyone). */
    memset(&a, 0, sizeof(a));
    assert_ok(cni_caps_build(&a, &caps, &err), &err);
    assert_int_equal(json_object_size(caps), 0);
}

static void test_version_cmp_orders_versions(void **state)
{
    (void)state;
    assert_true(cni_version_cmp("0.3.1", "0.4.0") < 0);
    assert_true(cni_version_cmp("1.0.0", "0.4.0") > 0);
    assert_int_equal(cni_version_cmp("0.4.0", "0.4.0"), 0);
    assert_int_equal(cni_version_cmp("", "0.1.0"), 0);
    assert_true(cni_version_cmp("0.2.0", "0.10.0") < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conf_dir_load_missing_dir_is_empty,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_conf_dir_load_takes_first_in_lexical_order,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_conf_dir_load_broken_file_is_invalid_argument,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test(test_netlist_parse_rejects_bad_lists),
        cmocka_unit_test(test_plugin_conf_injects_name_version_prev_and_capabilities),
        cmocka_unit_test(test_caps_build_ports_dns_and_extra),
        cmocka_unit_test(test_version_cmp_orders_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
