/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for images/manifest.c: platforms, documents, the image config, docker manifest.json,
 * chain IDs. */
#include "tests/unit/helpers/berth_test.h"

#include <string.h>

#include "images/manifest.h"
#include "lib/util.h"

#define DA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void check_platform(const char *spec, const char *os, const char *arch, const char *variant)
{
    struct berth_err *err = NULL;
    struct berth_platform p;

    assert_ok(berth_platform_parse(spec, &p, &err), &err);
    assert_string_equal(p.os, os);
    assert_string_equal(p.arch, arch);
    if (variant)
        assert_string_equal(p.variant, variant);
    else
        assert_null(p.variant);
    berth_platform_clear(&p);
}

static void test_platform_parse_normalizes(void **state)
{
    check_platform("linux/amd64", "linux", "amd64", NULL);
    check_platform("linux/x86_64", "linux", "amd64", NULL);
    check_platform("Linux/AARCH64", "linux", "arm64", NULL);
    check_platform("linux/arm64/v8", "linux", "arm64", NULL);
    check_platform("linux/arm", "linux", "arm", "v7");
    check_platform("linux/arm/6", "linux", "arm", "v6");
    check_platform("linux/armhf", "linux", "arm", "v7");
    check_platform("linux/armel", "linux", "arm", "v6");
    check_platform("linux/i386", "linux", "386", NULL);
    check_platform("arm64", "linux", "arm64", NULL);
}

static void test_platform_parse_bad_is_invalid(void **state)
{
    static const char *const bad[] = {"", "/", "linux//amd64", "linux/amd64/v1/x", "linux/"};
    struct berth_err *err = NULL;
    struct berth_platform p;

    for (size_t i = 0; i < BERTH_N(bad); i++) {
        assert_int_equal(berth_platform_parse(bad[i], &p, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
}

static void test_platform_host_is_normalized(void **state)
{
    struct berth_platform h;
    _cleanup_free_ char *s = NULL;

    berth_platform_host(&h);
    assert_string_equal(h.os, "linux");
    assert_non_null(h.arch);
    assert_true(strcmp(h.arch, "x86_64") != 0 && strcmp(h.arch, "aarch64") != 0);
    s = berth_platform_format(&h);
    assert_true(berth_str_has_prefix(s, "linux/"));
    berth_platform_clear(&h);
}

static int rank(const char *want, const char *os, const char *arch, const char *variant)
{
    struct berth_err *err = NULL;
    struct berth_platform w, h = {(char *)os, (char *)arch, (char *)variant};
    int r;

    assert_ok(berth_platform_parse(want, &w, &err), &err);
    r = berth_platform_rank(&w, &h);
    berth_platform_clear(&w);
    return r;
}

static void test_platform_rank_matches_and_falls_back(void **state)
{
    assert_int_equal(rank("linux/amd64", "linux", "amd64", NULL), 0);
    assert_int_equal(rank("linux/amd64", "linux", "x86_64", NULL), 0);
    assert_int_equal(rank("linux/amd64", "linux", "arm64", NULL), -1);
    assert_int_equal(rank("linux/amd64", "windows", "amd64", NULL), -1);
    assert_true(rank("linux/amd64", "linux", "386", NULL) > 0);
    assert_int_equal(rank("linux/arm64", "linux", "arm64", "v8"), 0);
    assert_true(rank("linux/arm64", "linux", "arm", "v7") > 0);
    assert_true(rank("linux/arm64", "linux", "arm", "v7") <
                rank("linux/arm64", "linux", "arm", "v6"));
    assert_int_equal(rank("linux/arm/v6", "linux", "arm", "v7"), -1);
    assert_true(rank("linux/arm/v7", "linux", "arm", "v6") > 0);
    assert_int_equal(rank("linux/arm/v7", "linux", "arm", NULL), 0);
}

static void test_media_kind_and_sniff(void **state)
{
    static const char idx[] = "{\"manifests\":[]}";
    static const char man[] = "{\"config\":{},\"layers\":[]}";

    assert_int_equal(berth_oci_media_kind(BERTH_MT_DOCKER_LIST), BERTH_OCI_INDEX);
    assert_int_equal(berth_oci_media_kind(BERTH_MT_OCI_MANIFEST), BERTH_OCI_MANIFEST);
    assert_int_equal(berth_oci_media_kind(BERTH_MT_DOCKER_CONFIG), BERTH_OCI_CONFIG);
    assert_int_equal(berth_oci_media_kind(BERTH_MT_DOCKER_LAYER_GZIP), BERTH_OCI_LAYER);
    assert_int_equal(berth_oci_media_kind(BERTH_MT_OCI_LAYER "+zstd"), BERTH_OCI_LAYER);
    assert_int_equal(berth_oci_media_kind("text/plain"), BERTH_OCI_UNKNOWN);
    assert_int_equal(berth_oci_sniff(idx, strlen(idx)), BERTH_OCI_INDEX);
    assert_int_equal(berth_oci_sniff(man, strlen(man)), BERTH_OCI_MANIFEST);
    assert_int_equal(berth_oci_sniff("nope", 4), BERTH_OCI_UNKNOWN);
}

static void test_index_parse_reads_platforms_and_annotations(void **state)
{
    static const char doc[] =
        "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_INDEX "\",\"manifests\":["
        "{\"mediaType\":\"" BERTH_MT_OCI_MANIFEST "\",\"digest\":\"" DA "\",\"size\":10,"
        "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
        "{\"mediaType\":\"" BERTH_MT_OCI_MANIFEST "\",\"digest\":\"" DB "\",\"size\":20,"
        "\"annotations\":{\"io.containerd.image.name\":\"x\"}}]}";
    _cleanup_(berth_oci_index_freep) struct berth_oci_index *ix = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_oci_index_parse(doc, strlen(doc), "t", &ix, &err), &err);
    assert_int_equal(ix->n_manifests, 2);
    assert_true(ix->manifests[0].has_platform);
    assert_string_equal(ix->manifests[0].platform.arch, "arm64");
    assert_string_equal(ix->manifests[0].d.digest, DA);
    assert_int_equal(ix->manifests[1].d.size, 20);
    assert_false(ix->manifests[1].has_platform);
    assert_string_equal(berth_labels_get(&ix->manifests[1].d.annotations, BERTH_ANNOT_IMAGE_NAME),
                        "x");
}

static void test_documents_bad_are_invalid(void **state)
{
    static const char *const bad_index[] = {
        "not json",
        "{}",
        "{\"manifests\":[{\"digest\":\"sha256:zz\",\"size\":1}]}",
        "{\"manifests\":[{\"digest\":\"" DA "\",\"size\":-1}]}",
        "{\"manifests\":[{\"digest\":\"" DA "\"}]}",
    };
    static const char *const bad_manifest[] = {
        "{\"layers\":[]}",
        "{\"config\":{\"digest\":\"" DA "\",\"size\":1},\"layers\":[{\"size\":1}]}",
    };
    static const char *const bad_config[] = {
        "{\"rootfs\":{\"diff_ids\":[\"md5:x\"]}}",
        "{\"rootfs\":{\"diff_ids\":\"" DA "\"}}",
    };
    struct berth_err *err = NULL;

    for (size_t i = 0; i < BERTH_N(bad_index); i++) {
        struct berth_oci_index *ix = NULL;
        assert_int_equal(berth_oci_index_parse(bad_index[i], strlen(bad_index[i]), "t", &ix, &err),
                         -1);
        assert_null(ix);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
    for (size_t i = 0; i < BERTH_N(bad_manifest); i++) {
        struct berth_oci_manifest *m = NULL;
        assert_int_equal(
            berth_oci_manifest_parse(bad_manifest[i], strlen(bad_manifest[i]), "t", &m, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
    for (size_t i = 0; i < BERTH_N(bad_config); i++) {
        struct berth_image_config *c = NULL;
        assert_int_equal(
            berth_image_config_parse(bad_config[i], strlen(bad_config[i]), "t", &c, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
}

static void test_manifest_and_config_parse(void **state)
{
    static const char man[] =
        "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" BERTH_MT_OCI_CONFIG
        "\",\"digest\":\"" DA "\",\"size\":5},\"layers\":["
        "{\"mediaType\":\"" BERTH_MT_OCI_LAYER "\",\"digest\":\"" DB "\",\"size\":7}]}";
    static const char cfg[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
                              "\"layers\",\"diff_ids\":[\"" DA "\",\"" DB "\"]}}";
    _cleanup_(berth_oci_manifest_freep) struct berth_oci_manifest *m = NULL;
    _cleanup_(berth_image_config_freep) struct berth_image_config *c = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_oci_manifest_parse(man, strlen(man), "t", &m, &err), &err);
    assert_string_equal(m->config.d.digest, DA);
    assert_int_equal(m->n_layers, 1);
    assert_int_equal(m->layers[0].d.size, 7);
    assert_ok(berth_image_config_parse(cfg, strlen(cfg), "t", &c, &err), &err);
    assert_int_equal(c->n_diff_ids, 2);
    assert_string_equal(c->diff_ids[1], DB);
    assert_null(c->diff_ids[2]);
    assert_string_equal(c->platform.arch, "amd64");
}

/* ---- the image config parser (every field images/ and runtime/oci use) ---- */

static struct berth_image_config *config_ok(const char *json)
{
    struct berth_image_config *c = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_image_config_parse(json, strlen(json), "t", &c, &err), &err);
    assert_non_null(c);
    return c;
}

static void config_fails(const char *json)
{
    struct berth_image_config *c = (void *)1;
    struct berth_err *err = NULL;

    assert_int_equal(berth_image_config_parse(json, json ? strlen(json) : 0, "t", &c, &err), -1);
    assert_null(c);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_image_config_parse_every_field(void **state)
{
    struct berth_image_config *c =
        config_ok("{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\",\"config\":{"
                  "\"User\":\"www:staff\",\"Env\":[\"PATH=/bin\",\"A=1\"],\"Entrypoint\":[\"/ep\"],"
                  "\"Cmd\":[\"a\",\"b\"],\"WorkingDir\":\"/srv\",\"Labels\":{\"k\":\"v\"},"
                  "\"StopSignal\":\"SIGQUIT\",\"ExposedPorts\":{\"80/tcp\":{}},"
                  "\"Volumes\":{\"/data\":{},\"/cache\":{}}},"
                  "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DA "\",\"" DB "\"]},"
                  "\"history\":[{\"created_by\":\"x\"}]}");

    (void)state;
    assert_string_equal(c->platform.arch, "arm");
    assert_string_equal(c->platform.os, "linux");
    assert_string_equal(c->platform.variant, "v7");
    assert_string_equal(c->user, "www:staff");
    assert_string_equal(c->env[1], "A=1");
    assert_null(c->env[2]);
    assert_string_equal(c->entrypoint[0], "/ep");
    assert_null(c->entrypoint[1]);
    assert_string_equal(c->cmd[1], "b");
    assert_null(c->cmd[2]);
    assert_string_equal(c->working_dir, "/srv");
    assert_string_equal(c->stop_signal, "SIGQUIT");
    assert_string_equal(berth_labels_get(&c->labels, "k"), "v");
    assert_non_null(c->volumes);
    assert_null(c->volumes[2]);
    assert_true((strcmp(c->volumes[0], "/data") == 0 && strcmp(c->volumes[1], "/cache") == 0) ||
                (strcmp(c->volumes[0], "/cache") == 0 && strcmp(c->volumes[1], "/data") == 0));
    assert_int_equal(c->n_diff_ids, 2);
    assert_string_equal(c->diff_ids[0], DA);
    assert_string_equal(c->diff_ids[1], DB);
    assert_null(c->diff_ids[2]);
    berth_image_config_free(c);
}

static void test_image_config_parse_nulls_and_absent(void **state)
{
    struct berth_image_config *c =
        config_ok("{\"architecture\":null,\"config\":{\"Entrypoint\":null,\"Cmd\":[],\"Env\":null,"
                  "\"Labels\":null,\"User\":\"\"},\"rootfs\":null}");

    (void)state;
    assert_null(c->platform.arch);
    assert_null(c->entrypoint);
    assert_non_null(c->cmd);
    assert_null(c->cmd[0]);
    assert_null(c->env);
    assert_string_equal(c->user, ""); /* set but empty: the runtime's "root" default applies */
    assert_null(c->working_dir);
    assert_int_equal(c->labels.n, 0);
    assert_null(c->volumes);
    /* no rootfs: no diff IDs, as an empty vector */
    assert_int_equal(c->n_diff_ids, 0);
    assert_non_null(c->diff_ids);
    assert_null(c->diff_ids[0]);
    berth_image_config_free(c);
    c = config_ok("{}");
    assert_int_equal(c->n_diff_ids, 0);
    berth_image_config_free(c);
    c = config_ok("{\"rootfs\":{}}");
    assert_int_equal(c->n_diff_ids, 0);
    berth_image_config_free(c);
    berth_image_config_free(NULL);
}

static void test_image_config_parse_wrong_types_are_invalid(void **state)
{
    (void)state;
    config_fails("");
    config_fails(NULL);
    config_fails("{");
    config_fails("[]");
    config_fails("\"x\"");
    config_fails("{\"architecture\":5}");
    config_fails("{\"os\":[]}");
    config_fails("{\"variant\":true}");
    config_fails("{\"config\":[]}");
    config_fails("{\"config\":{\"Cmd\":\"sh\"}}");
    config_fails("{\"config\":{\"Entrypoint\":{}}}");
    config_fails("{\"config\":{\"Env\":[1]}}");
    config_fails("{\"config\":{\"User\":0}}");
    config_fails("{\"config\":{\"WorkingDir\":[]}}");
    config_fails("{\"config\":{\"StopSignal\":9}}");
    config_fails("{\"config\":{\"Labels\":[]}}");
    config_fails("{\"config\":{\"Volumes\":[\"/data\"]}}");
    config_fails("{\"config\":{\"Labels\":{\"a\":1}}}");
    config_fails("{\"rootfs\":[]}");
    config_fails("{\"rootfs\":{\"type\":\"tar\"}}");
    config_fails("{\"rootfs\":{\"type\":1}}");
    config_fails("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:abc\"]}}");
    config_fails("{\"rootfs\":{\"diff_ids\":[7]}}");
    config_fails("{\"rootfs\":{\"diff_ids\":{}}}");
}

static void test_docker_manifest_parse(void **state)
{
    static const char doc[] = "[{\"Config\":\"abc.json\",\"RepoTags\":[\"a/b:1\",\"c\"],"
                              "\"Layers\":[\"x/layer.tar\",\"y/layer.tar\"]}]";
    struct berth_docker_entry *v = NULL;
    struct berth_err *err = NULL;
    size_t n = 0;

    assert_ok(berth_docker_manifest_parse(doc, strlen(doc), &v, &n, &err), &err);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].config, "abc.json");
    assert_string_equal(v[0].repo_tags[1], "c");
    assert_null(v[0].repo_tags[2]);
    assert_int_equal(v[0].n_layers, 2);
    assert_string_equal(v[0].layers[1], "y/layer.tar");
    berth_docker_entries_free(v, n);
    assert_int_equal(berth_docker_manifest_parse("{}", 2, &v, &n, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_docker_manifest_parse("[{\"Layers\":[]}]", 15, &v, &n, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_chain_ids(void **state)
{
    char *ids[] = {(char *)DA, (char *)DB};
    char *bad[] = {(char *)DA, (char *)"sha256:xyz"};
    _cleanup_(berth_strv_freep) char **chain = NULL;
    char **none = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_oci_chain_ids(ids, 2, &chain, &err), &err);
    assert_string_equal(chain[0], DA);
    /* sha256("<DA> <DB>") */
    assert_string_equal(chain[1],
                        "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c");
    assert_null(chain[2]);
    assert_int_equal(berth_oci_chain_ids(bad, 2, &none, &err), -1);
    assert_null(none);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_platform_parse_normalizes),
        cmocka_unit_test(test_platform_parse_bad_is_invalid),
        cmocka_unit_test(test_platform_host_is_normalized),
        cmocka_unit_test(test_platform_rank_matches_and_falls_back),
        cmocka_unit_test(test_media_kind_and_sniff),
        cmocka_unit_test(test_index_parse_reads_platforms_and_annotations),
        cmocka_unit_test(test_documents_bad_are_invalid),
        cmocka_unit_test(test_manifest_and_config_parse),
        cmocka_unit_test(test_image_config_parse_every_field),
        cmocka_unit_test(test_image_config_parse_nulls_and_absent),
        cmocka_unit_test(test_image_config_parse_wrong_types_are_invalid),
        cmocka_unit_test(test_docker_manifest_parse),
        cmocka_unit_test(test_chain_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
