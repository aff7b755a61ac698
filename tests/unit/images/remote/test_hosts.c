/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for images/remote/hosts.c: config_path directory lookup, hosts.toml entries, docker
 * certs.d files, default endpoints, validation and the libcurl TLS options. */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "images/remote/hosts.h"
#include "lib/util.h"

#define ALL_CAPS (BERTH_HOST_CAP_PULL | BERTH_HOST_CAP_RESOLVE | BERTH_HOST_CAP_PUSH)
#define PEM      "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

static const char *tmp(void **state)
{
    return ((struct berth_test_env *)*state)->dir;
}

/* mkdir -p of dir/rel. */
static void mk(const char *dir, const char *rel)
{
    char *p = berth_strdup_printf("%s/%s", dir, rel);
    for (char *s = p + strlen(dir) + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
            *s = '/';
        }
    }
    assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
    free(p);
}

static void put(const char *dir, const char *rel, const char *text)
{
    char *p = berth_strdup_printf("%s/%s", dir, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(berth_write_all(fd, text, strlen(text)), 0);
    close(fd);
    free(p);
}

static void resolve_ok(const char *cfg, const char *host, bool plain_http,
                       struct berth_registry_hosts *out)
{
    struct berth_err *err = NULL;
    assert_ok(berth_registry_hosts_resolve(cfg, host, plain_http, out, &err), &err);
    assert_true(out->n >= 1);
    assert_false(out->v[out->n - 1].is_mirror);
}

static void check_url(const struct berth_registry_host *h, const char *scheme, const char *host,
                      const char *path)
{
    assert_string_equal(h->scheme, scheme);
    assert_string_equal(h->host, host);
    assert_string_equal(h->path, path);
}

static void test_hosts_resolve_defaults(void **state)
{
    struct berth_registry_hosts hs;

    resolve_ok(NULL, "docker.io", false, &hs);
    assert_int_equal(hs.n, 1);
    check_url(&hs.v[0], "https", "registry-1.docker.io", "/v2");
    assert_int_equal(hs.v[0].caps, ALL_CAPS);
    assert_null(hs.v[0].ca_files[0]);
    assert_null(hs.v[0].client_certs[0]);
    assert_null(hs.v[0].headers[0]);
    assert_false(hs.v[0].skip_verify);
    berth_registry_hosts_clear(&hs);
    assert_int_equal(hs.n, 0);

    /* docker.io stays https even with plain_http, as containerd's DefaultScheme does. */
    resolve_ok("", "docker.io", true, &hs);
    check_url(&hs.v[0], "https", "registry-1.docker.io", "/v2");
    berth_registry_hosts_clear(&hs);

    resolve_ok(NULL, "quay.io", false, &hs);
    check_url(&hs.v[0], "https", "quay.io", "/v2");
    berth_registry_hosts_clear(&hs);

    resolve_ok(NULL, "reg.example.com:5000", true, &hs);
    check_url(&hs.v[0], "http", "reg.example.com:5000", "/v2");
    berth_registry_hosts_clear(&hs);

    /* Unlike containerd 1.6, loopback registries get no implicit plain HTTP. */
    resolve_ok(NULL, "localhost:5000", false, &hs);
    check_url(&hs.v[0], "https", "localhost:5000", "/v2");
    berth_registry_hosts_clear(&hs);
    resolve_ok(NULL, "127.0.0.1:5000", false, &hs);
    check_url(&hs.v[0], "https", "127.0.0.1:5000", "/v2");
    berth_registry_hosts_clear(&hs);
    resolve_ok(NULL, "[::1]:5000", false, &hs);
    check_url(&hs.v[0], "https", "[::1]:5000", "/v2");
    berth_registry_hosts_clear(&hs);

    /* A config_path whose roots hold nothing for the host: the default endpoint. */
    resolve_ok(tmp(state), "quay.io", false, &hs);
    assert_int_equal(hs.n, 1);
    check_url(&hs.v[0], "https", "quay.io", "/v2");
    berth_registry_hosts_clear(&hs);
}

static void test_hosts_resolve_bad_host_is_invalid(void **state)
{
    static const char *const bad[] = {
        "../x", "a/b",      "",     "..",   ".",  "a b",  "a..b",   ".hidden", "_default", "x:abc",
        "x:",   "x:123456", "/etc", "a\nb", "[]", "[::1", "[::1]x", "[zz]:1",  "a:1:2",    "-a"};
    struct berth_registry_hosts hs = {(void *)1, 7};
    struct berth_err *err = NULL;

    /* A directory the traversal would reach must not matter. */
    mk(tmp(state), "root/_default");
    mk(tmp(state), "x");
    put(tmp(state), "x/hosts.toml", "server = \"https://evil\"\n");
    char *root = berth_strdup_printf("%s/root", tmp(state));
    for (size_t i = 0; i < BERTH_N(bad); i++) {
        if (berth_registry_hosts_resolve(root, bad[i], false, &hs, &err) == 0)
            fail_msg("host \"%s\" accepted", bad[i]);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        assert_null(hs.v);
        assert_int_equal(hs.n, 0);
    }
    assert_int_equal(berth_registry_hosts_resolve(root, NULL, false, &hs, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    free(root);
}

static void test_hosts_resolve_directory_order(void **state)
{
    const char *d = tmp(state);
    struct berth_registry_hosts hs;
    char *cfg;

    mk(d, "r1/reg.io_5000_");
    put(d, "r1/reg.io_5000_/hosts.toml", "server = \"https://underscore\"\n");
    mk(d, "r1/reg.io:5000");
    put(d, "r1/reg.io:5000/hosts.toml", "server = \"https://colon\"\n");
    mk(d, "r1/_default");
    put(d, "r1/_default/hosts.toml", "server = \"https://default1\"\n");
    mk(d, "r1/plain.io");
    put(d, "r1/plain.io/hosts.toml", "server = \"https://plain\"\n");
    mk(d, "r2/other.io");
    put(d, "r2/other.io/hosts.toml", "server = \"https://other2\"\n");
    mk(d, "r3/colon.io:1");
    put(d, "r3/colon.io:1/hosts.toml", "server = \"https://colon3\"\n");
    mk(d, "r3/_default");
    put(d, "r3/_default/hosts.toml", "server = \"https://default3\"\n");

    cfg = berth_strdup_printf("%s/r1", d);
    resolve_ok(cfg, "reg.io:5000", false, &hs);
    assert_string_equal(hs.v[0].host, "underscore"); /* h_p_ before h:p */
    berth_registry_hosts_clear(&hs);
    resolve_ok(cfg, "plain.io", false, &hs);
    assert_string_equal(hs.v[0].host, "plain");
    berth_registry_hosts_clear(&hs);
    resolve_ok(cfg, "plain.io:1", false, &hs); /* no plain.io_1_ nor plain.io:1 */
    assert_string_equal(hs.v[0].host, "default1");
    berth_registry_hosts_clear(&hs);
    free(cfg);

    /* Roots in order, the first with any directory (even _default) wins; no merging. */
    cfg = berth_strdup_printf("::%s/missing:%s/r1:%s/r2:", d, d, d);
    resolve_ok(cfg, "other.io", false, &hs);
    assert_int_equal(hs.n, 1);
    assert_string_equal(hs.v[0].host, "default1");
    berth_registry_hosts_clear(&hs);
    free(cfg);
    cfg = berth_strdup_printf("%s/r2:%s/r1", d, d);
    resolve_ok(cfg, "other.io", false, &hs);
    assert_string_equal(hs.v[0].host, "other2");
    berth_registry_hosts_clear(&hs);
    free(cfg);
    cfg = berth_strdup_printf("%s/r3", d);
    resolve_ok(cfg, "colon.io:1", false, &hs);
    assert_string_equal(hs.v[0].host, "colon3");
    berth_registry_hosts_clear(&hs);
    free(cfg);
    /* A root without _default and without the host: the built-in default. */
    cfg = berth_strdup_printf("%s/r2", d);
    resolve_ok(cfg, "x.io", true, &hs);
    check_url(&hs.v[0], "http", "x.io", "/v2");
    berth_registry_hosts_clear(&hs);
    free(cfg);
}

static void test_hosts_resolve_hosts_toml_entries(void **state)
{
    const char *d = tmp(state);
    struct berth_registry_hosts hs;
    char *cfg = berth_strdup_printf("%s/certs.d", d);
    char *p;

    mk(d, "certs.d/reg.io");
    /* Mirrors deliberately out of alphabetical order: file order must be kept. */
    put(d, "certs.d/reg.io/hosts.toml",
        "server = \"https://reg.io\"\n"
        "ca = \"root.pem\"\n"
        "unknown_key = [1, 2]\n"
        "\n"
        "[host.\"https://zeta.example.com\"]\n"
        "  capabilities = [\"pull\", \"RESOLVE\"]\n"
        "  ca = [\"/etc/abs.pem\", \"sub/rel.pem\"]\n"
        "  client = [[\"c.cert\", \"c.key\"], \"both.pem\"]\n"
        "  skip_verify = true\n"
        "  [host.\"https://zeta.example.com\".header]\n"
        "    X-Custom = \"a\"\n"
        "    Accept-Thing = [\"1\", \"2\"]\n"
        "\n"
        "[host.\"http://alpha:5000/v2\"]\n"
        "  capabilities = [\"pull\"]\n"
        "  client = \"/abs/both.pem\"\n"
        "\n"
        "[host.\"mid.example.com/custom/path/\"]\n"
        "  override_path = true\n"
        "\n"
        "[host.\"https://beta/a/./b/../c//\"]\n"
        "  capabilities = []\n"
        "\n"
        "[host.\"https://gamma/\"]\n"
        "[host.\"https://delta/v2/\"]\n"
        "[host.\"https://eps/x\"]\n"
        "  override_path = false\n");
    resolve_ok(cfg, "reg.io", false, &hs);
    assert_int_equal(hs.n, 8);

    check_url(&hs.v[0], "https", "zeta.example.com", "/v2");
    assert_true(hs.v[0].is_mirror);
    assert_int_equal(hs.v[0].caps, BERTH_HOST_CAP_PULL | BERTH_HOST_CAP_RESOLVE);
    assert_string_equal(hs.v[0].ca_files[0], "/etc/abs.pem");
    p = berth_strdup_printf("%s/certs.d/reg.io/sub/rel.pem", d);
    assert_string_equal(hs.v[0].ca_files[1], p);
    free(p);
    assert_null(hs.v[0].ca_files[2]);
    p = berth_strdup_printf("%s/certs.d/reg.io/c.cert", d);
    assert_string_equal(hs.v[0].client_certs[0], p);
    free(p);
    p = berth_strdup_printf("%s/certs.d/reg.io/c.key", d);
    assert_string_equal(hs.v[0].client_keys[0], p);
    free(p);
    p = berth_strdup_printf("%s/certs.d/reg.io/both.pem", d);
    assert_string_equal(hs.v[0].client_certs[1], p);
    free(p);
    assert_string_equal(hs.v[0].client_keys[1], "");
    assert_null(hs.v[0].client_certs[2]);
    assert_null(hs.v[0].client_keys[2]);
    assert_true(hs.v[0].skip_verify);
    assert_string_equal(hs.v[0].headers[0], "X-Custom: a");
    assert_string_equal(hs.v[0].headers[1], "Accept-Thing: 1");
    assert_string_equal(hs.v[0].headers[2], "Accept-Thing: 2");
    assert_null(hs.v[0].headers[3]);

    check_url(&hs.v[1], "http", "alpha:5000", "/v2");
    assert_true(hs.v[1].is_mirror);
    assert_int_equal(hs.v[1].caps, BERTH_HOST_CAP_PULL);
    assert_string_equal(hs.v[1].client_certs[0], "/abs/both.pem");
    assert_string_equal(hs.v[1].client_keys[0], "");
    assert_null(hs.v[1].ca_files[0]);
    assert_null(hs.v[1].headers[0]);
    assert_false(hs.v[1].skip_verify);

    check_url(&hs.v[2], "https", "mid.example.com", "/custom/path");
    check_url(&hs.v[3], "https", "beta", "/a/c/v2");
    assert_int_equal(hs.v[3].caps, ALL_CAPS); /* empty list = default */
    check_url(&hs.v[4], "https", "gamma", "/v2");
    check_url(&hs.v[5], "https", "delta", "/v2");
    check_url(&hs.v[6], "https", "eps", "/x/v2");
    assert_int_equal(hs.v[6].caps, ALL_CAPS);

    /* `server` last, with the top-level settings. */
    check_url(&hs.v[7], "https", "reg.io", "/v2");
    assert_false(hs.v[7].is_mirror);
    p = berth_strdup_printf("%s/certs.d/reg.io/root.pem", d);
    assert_string_equal(hs.v[7].ca_files[0], p);
    free(p);
    berth_registry_hosts_clear(&hs);
    free(cfg);
}

static void test_hosts_resolve_server_only_and_no_server(void **state)
{
    const char *d = tmp(state);
    struct berth_registry_hosts hs;
    char *cfg = berth_strdup_printf("%s", d);

    /* containerd 1.6 ignores a file with no [host] table; we honour its `server`. */
    mk(d, "srv.io");
    put(d, "srv.io/hosts.toml",
        "server = \"http://upstream:5000\"\nskip_verify = true\n"
        "capabilities = [\"pull\", \"resolve\"]\n");
    resolve_ok(cfg, "srv.io", false, &hs);
    assert_int_equal(hs.n, 1);
    check_url(&hs.v[0], "http", "upstream:5000", "/v2");
    assert_true(hs.v[0].skip_verify);
    assert_int_equal(hs.v[0].caps, BERTH_HOST_CAP_PULL | BERTH_HOST_CAP_RESOLVE);
    berth_registry_hosts_clear(&hs);

    /* No `server`: the default endpoint comes last and takes the top-level settings. */
    mk(d, "docker.io");
    put(d, "docker.io/hosts.toml",
        "ca = \"/x/ca.pem\"\n"
        "[host.\"https://mirror.local\"]\n");
    resolve_ok(cfg, "docker.io", false, &hs);
    assert_int_equal(hs.n, 2);
    check_url(&hs.v[0], "https", "mirror.local", "/v2");
    assert_true(hs.v[0].is_mirror);
    check_url(&hs.v[1], "https", "registry-1.docker.io", "/v2");
    assert_string_equal(hs.v[1].ca_files[0], "/x/ca.pem");
    berth_registry_hosts_clear(&hs);

    /* plain_http switches only the default endpoint, never a written https mirror. */
    mk(d, "p.io");
    put(d, "p.io/hosts.toml", "[host.\"m.io\"]\n");
    resolve_ok(cfg, "p.io", true, &hs);
    assert_int_equal(hs.n, 2);
    check_url(&hs.v[0], "https", "m.io", "/v2");
    check_url(&hs.v[1], "http", "p.io", "/v2");
    berth_registry_hosts_clear(&hs);
    free(cfg);
}

static void test_hosts_resolve_cert_files(void **state)
{
    const char *d = tmp(state);
    struct berth_registry_hosts hs;
    char *cfg = berth_strdup_printf("%s", d);
    char *p;

    mk(d, "c.io:443");
    put(d, "c.io:443/b.crt", PEM);
    put(d, "c.io:443/a.crt", PEM);
    put(d, "c.io:443/client.cert", "x");
    put(d, "c.io:443/client.key", "x");
    put(d, "c.io:443/solo.cert", "x");
    put(d, "c.io:443/notes.txt", "x");
    mk(d, "c.io:443/dir.crt");
    resolve_ok(cfg, "c.io:443", false, &hs);
    assert_int_equal(hs.n, 1);
    check_url(&hs.v[0], "https", "c.io:443", "/v2");
    assert_false(hs.v[0].is_mirror);
    p = berth_strdup_printf("%s/c.io:443/a.crt", d);
    assert_string_equal(hs.v[0].ca_files[0], p);
    free(p);
    p = berth_strdup_printf("%s/c.io:443/b.crt", d);
    assert_string_equal(hs.v[0].ca_files[1], p);
    free(p);
    assert_null(hs.v[0].ca_files[2]);
    p = berth_strdup_printf("%s/c.io:443/client.cert", d);
    assert_string_equal(hs.v[0].client_certs[0], p);
    free(p);
    p = berth_strdup_printf("%s/c.io:443/client.key", d);
    assert_string_equal(hs.v[0].client_keys[0], p);
    free(p);
    p = berth_strdup_printf("%s/c.io:443/solo.cert", d);
    assert_string_equal(hs.v[0].client_certs[1], p);
    free(p);
    assert_string_equal(hs.v[0].client_keys[1], "");
    assert_null(hs.v[0].client_certs[2]);
    berth_registry_hosts_clear(&hs);

    /* An empty hosts.toml counts as absent, as in containerd. */
    put(d, "c.io:443/hosts.toml", "");
    resolve_ok(cfg, "c.io:443", false, &hs);
    assert_int_equal(hs.n, 1);
    assert_non_null(hs.v[0].ca_files[1]);
    berth_registry_hosts_clear(&hs);
    free(cfg);
}

static void resolve_fails(const char *dir, const char *toml, enum berth_errc code,
                          const char *must_mention)
{
    struct berth_registry_hosts hs = {(void *)1, 3};
    struct berth_err *err = NULL;

    mk(dir, "e.io");
    put(dir, "e.io/hosts.toml", toml);
    if (berth_registry_hosts_resolve(dir, "e.io", false, &hs, &err) == 0)
        fail_msg("accepted: %s", toml);
    assert_non_null(err);
    /* The message names the file and the offending key or value. */
    assert_non_null(strstr(err->msg, "e.io/hosts.toml"));
    if (must_mention && !strstr(err->msg, must_mention))
        fail_msg("\"%s\" does not mention \"%s\"", err->msg, must_mention);
    assert_err_code(err, code);
    assert_null(hs.v);
    assert_int_equal(hs.n, 0);
}

static void test_hosts_resolve_bad_files_are_invalid(void **state)
{
    const char *d = tmp(state);

    resolve_fails(d, "[host.\"https://m\"]\ncapabilities = [\"pull\", \"fetch\"]\n",
                  BERTH_E_INVALID_ARGUMENT, "fetch");
    resolve_fails(d, "capabilities = \"pull\"\n", BERTH_E_INVALID_ARGUMENT, "capabilities");
    resolve_fails(d, "[host.\"https://m\"]\nskip_verify = \"yes\"\n", BERTH_E_INVALID_ARGUMENT,
                  "skip_verify");
    resolve_fails(d, "[host.\"https://m\"]\nca = 1\n", BERTH_E_INVALID_ARGUMENT, "ca");
    resolve_fails(d, "[host.\"https://m\"]\nca = [\"a\", 2]\n", BERTH_E_INVALID_ARGUMENT, "ca");
    resolve_fails(d, "[host.\"https://m\"]\nclient = [[\"a\"]]\n", BERTH_E_INVALID_ARGUMENT,
                  "client");
    resolve_fails(d, "[host.\"https://m\"]\nclient = [[\"a\", 1]]\n", BERTH_E_INVALID_ARGUMENT,
                  "client");
    resolve_fails(d, "[host.\"https://m\"]\nclient = true\n", BERTH_E_INVALID_ARGUMENT, "client");
    resolve_fails(d, "[host.\"https://m\"]\nheader = \"x\"\n", BERTH_E_INVALID_ARGUMENT, "header");
    resolve_fails(d, "[host.\"https://m\".header]\nX = 1\n", BERTH_E_INVALID_ARGUMENT, "X");
    resolve_fails(d, "[host.\"https://m\".header]\nX = [\"a\", 1]\n", BERTH_E_INVALID_ARGUMENT,
                  "X");
    resolve_fails(d, "[host.\"https://m\".header]\n\"X Y\" = \"a\"\n", BERTH_E_INVALID_ARGUMENT,
                  "X Y");
    resolve_fails(d, "[host.\"https://m\".header]\nX = \"a\\r\\nEvil: 1\"\n",
                  BERTH_E_INVALID_ARGUMENT, "X");
    resolve_fails(d, "[host.\"https://m\"]\noverride_path = 1\n", BERTH_E_INVALID_ARGUMENT,
                  "override_path");
    resolve_fails(d, "server = 5\n", BERTH_E_INVALID_ARGUMENT, "server");
    resolve_fails(d, "host = \"x\"\n", BERTH_E_INVALID_ARGUMENT, "host");
    resolve_fails(d, "[host]\nm = 1\n", BERTH_E_INVALID_ARGUMENT, "m");
    resolve_fails(d, "[host.\"ftp://m\"]\n", BERTH_E_INVALID_ARGUMENT, "ftp://m");
    resolve_fails(d, "[host.\"https://u:p@m\"]\n", BERTH_E_INVALID_ARGUMENT, NULL);
    resolve_fails(d, "[host.\"https://m?x=1\"]\n", BERTH_E_INVALID_ARGUMENT, NULL);
    resolve_fails(d, "[host.\"https:///v2\"]\n", BERTH_E_INVALID_ARGUMENT, NULL);
    resolve_fails(d, "server = \"https://m:port\"\n", BERTH_E_INVALID_ARGUMENT, NULL);
    resolve_fails(d, "server = [\n", BERTH_E_INVALID_ARGUMENT, NULL);
}

static void test_hosts_resolve_big_file_is_refused(void **state)
{
    const char *d = tmp(state);
    size_t n = BERTH_REGISTRY_HOSTS_FILE_MAX + 1;
    char *big = berth_xmalloc(n + 1);

    /* A valid TOML file (all comment) one byte over the limit. */
    memset(big, ' ', n);
    big[0] = '#';
    big[n] = '\0';
    resolve_fails(d, big, BERTH_E_INVALID_ARGUMENT, "larger");
    /* Exactly at the limit it is read. */
    big[n - 1] = '\0';
    {
        struct berth_registry_hosts hs;
        char *cfg = berth_strdup_printf("%s", d);
        put(d, "e.io/hosts.toml", big);
        resolve_ok(cfg, "e.io", false, &hs);
        berth_registry_hosts_clear(&hs);
        free(cfg);
    }
    free(big);
}

static void test_hosts_tls_apply(void **state)
{
    const char *d = tmp(state);
    struct berth_err *err = NULL;
    struct berth_registry_hosts hs;
    CURL *curl = curl_easy_init();
    char *cfg = berth_strdup_printf("%s", d);

    assert_non_null(curl);
    mk(d, "t.io");
    put(d, "t.io/ca1.pem", PEM);
    put(d, "t.io/ca2.pem", PEM);
    put(d, "t.io/junk.pem", "not a certificate");
    put(d, "t.io/hosts.toml",
        "[host.\"https://ok\"]\nca = [\"ca1.pem\", \"ca2.pem\"]\n"
        "skip_verify = true\nclient = [[\"c.pem\", \"k.pem\"]]\n"
        "[host.\"https://missing\"]\nca = \"nope.pem\"\n"
        "[host.\"https://junk\"]\nca = \"junk.pem\"\n");
    resolve_ok(cfg, "t.io", false, &hs);
    assert_int_equal(hs.n, 4);
    assert_ok(berth_registry_host_tls_apply(&hs.v[0], curl, &err), &err);
    assert_int_equal(berth_registry_host_tls_apply(&hs.v[1], curl, &err), -1);
    assert_non_null(strstr(err->msg, "nope.pem"));
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_registry_host_tls_apply(&hs.v[2], curl, &err), -1);
    assert_non_null(strstr(err->msg, "junk.pem"));
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_ok(berth_registry_host_tls_apply(&hs.v[3], curl, &err), &err);
    berth_registry_hosts_clear(&hs);
    curl_easy_cleanup(curl);
    free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hosts_resolve_defaults, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_hosts_resolve_bad_host_is_invalid,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_hosts_resolve_directory_order, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_hosts_resolve_hosts_toml_entries,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_hosts_resolve_server_only_and_no_server,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_hosts_resolve_cert_files, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_hosts_resolve_bad_files_are_invalid,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_hosts_resolve_big_file_is_refused,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_hosts_tls_apply, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
