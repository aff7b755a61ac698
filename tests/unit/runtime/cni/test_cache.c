/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/cni/cache.c: libcni's cniCacheV1 files. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"
#include "runtime/cni/cni-internal.h"

static const char list_text[] =
    "{\"cniVersion\":\"1.0.0\",\"name\":\"net-a\",\"plugins\":[{\"type\":\"bridge\"}]}";

static void free_entries(struct cni_cache_entry **v)
{
    for (size_t i = 0; v && v[i]; i++)
        cni_cache_entry_free(v[i]);
    free(v);
}

static void test_cache_write_then_find_round_trips(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    _cleanup_(cni_netlist_freep) struct cni_netlist *list = NULL;
    _cleanup_json_ json_t *res = json_pack("{s:s}", "cniVersion", "1.0.0");
    _cleanup_json_ json_t *caps = json_pack("{s:[]}", "portMappings");
    _cleanup_json_ json_t *doc = NULL;
    _cleanup_free_ char *path = NULL;
    struct cni_cache_entry **found = NULL;
    struct stat st;

    assert_ok(cni_netlist_parse(list_text, strlen(list_text), true, "", &list, &err), &err);
    assert_ok(cni_cache_write(env->dir, list, "sb-1", "eth0", "IgnoreUnknown=1;K8S_POD_NAME=p",
                              caps, res, &err),
              &err);
    /* libcni's name and format, private to root. */
    path = cni_cache_path(env->dir, "net-a", "sb-1", "eth0");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    doc = json_load_file(path, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "kind")), "cniCacheV1");
    assert_string_equal(json_string_value(json_object_get(doc, "networkName")), "net-a");
    assert_string_equal(
        json_string_value(json_array_get(json_array_get(json_object_get(doc, "cniArgs"), 1), 1)),
        "p");

    /* Another id or ifname whose name shares the suffix does not match. */
    assert_ok(cni_cache_write(env->dir, list, "x-sb-1", "eth0", NULL, NULL, res, &err), &err);
    assert_ok(cni_cache_write(env->dir, list, "sb-1", "eth1", NULL, NULL, res, &err), &err);
    assert_ok(cni_cache_find(env->dir, "sb-1", "eth0", &found, &err), &err);
    assert_non_null(found[0]);
    assert_null(found[1]);
    assert_string_equal(found[0]->path, path);
    assert_string_equal(found[0]->config->name, "net-a");
    assert_string_equal(found[0]->config->bytes, list_text);
    assert_string_equal(found[0]->args, "IgnoreUnknown=1;K8S_POD_NAME=p");
    assert_true(json_equal(found[0]->result, res));
    assert_true(json_equal(found[0]->caps, caps));
    free_entries(found);
}

static void test_cache_find_without_dir_is_empty(void **state)
{
    struct berth_test_env *env = *state;
    struct berth_err *err = NULL;
    struct cni_cache_entry **found = NULL;
    _cleanup_free_ char *dir = berth_strdup_printf("%s/results", env->dir);
    _cleanup_free_ char *junk = berth_strdup_printf("%s/results/n-sb-eth0", env->dir);
    FILE *f;

    assert_ok(cni_cache_find(env->dir, "sb", "eth0", &found, &err), &err);
    assert_null(found[0]);
    free_entries(found);
    /* An unreadable entry is skipped. */
    assert_int_equal(mkdir(dir, 0700), 0);
    f = fopen(junk, "w");
    fputs("{not json", f);
    fclose(f);
    assert_ok(cni_cache_find(env->dir, "sb", "eth0", &found, &err), &err);
    assert_null(found[0]);
    free_entries(found);
}

/* The cache keeps the config as base64 (lib/util), as libcni does. */
static void test_base64_decode_inverts_encode(void **state)
{
    static const char *const cases[] = {"", "a", "ab", "abc", "abcd", "{\"x\":[1,2]}\n"};
    char *out = NULL;
    size_t len = 0;

    (void)state;
    for (size_t i = 0; i < BERTH_N(cases); i++) {
        _cleanup_free_ char *b = berth_base64(cases[i], strlen(cases[i]));
        assert_int_equal(berth_base64_decode(b, (unsigned char **)&out, &len), 0);
        assert_int_equal(len, strlen(cases[i]));
        assert_string_equal(out, cases[i]);
        free(out);
    }
    assert_int_equal(berth_base64_decode("ab$d", (unsigned char **)&out, &len), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cache_write_then_find_round_trips,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_cache_find_without_dir_is_empty,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test(test_base64_decode_inverts_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
