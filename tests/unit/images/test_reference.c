/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for images/reference.c: docker/containerd normalization and rejection cases. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>

#include "images/reference.h"
#include "lib/util.h"

#define D64 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void test_image_ref_normalize_cases(void **state)
{
    static const struct {
        const char *in, *want, *familiar;
    } cases[] = {
        {"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
        {"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
        {"foo/bar:1", "docker.io/foo/bar:1", "foo/bar:1"},
        {"foo/bar/baz", "docker.io/foo/bar/baz:latest", "foo/bar/baz:latest"},
        {"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
        {"index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
        {"docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"},
        {"localhost/x", "localhost/x:latest", "localhost/x:latest"},
        {"localhost:5000/x@" D64, "localhost:5000/x@" D64, "localhost:5000/x@" D64},
        {"localhost:5000/x:v1@" D64, "localhost:5000/x@" D64, NULL},
        {"busybox@" D64, "docker.io/library/busybox@" D64, "busybox@" D64},
        {"registry.example.com:443/team/app:v1.2-rc_3",
         "registry.example.com:443/team/app:v1.2-rc_3", NULL},
        {"quay.io/a/b", "quay.io/a/b:latest", NULL},
        {"Example.com/x", "Example.com/x:latest", NULL},
        {"[::1]:5000/x:t", "[::1]:5000/x:t", NULL},
        {"localhost:5000", "docker.io/library/localhost:5000", NULL},
        {"a__b/c-d.e_f:T_a.g-", "docker.io/a__b/c-d.e_f:T_a.g-", NULL},
        {"a---b", "docker.io/library/a---b:latest", NULL},
        {"127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", NULL},
    };
    (void)state;
    for (size_t i = 0; i < BERTH_N(cases); i++) {
        struct berth_err *err = NULL;
        struct berth_image_ref r;
        char *s = NULL;
        if (berth_image_ref_normalize(cases[i].in, &s, &err) < 0)
            fail_msg("\"%s\": %s", cases[i].in, err->msg);
        assert_string_equal(s, cases[i].want);
        free(s);
        if (!cases[i].familiar)
            continue;
        assert_ok(berth_image_ref_parse(cases[i].in, &r, &err), &err);
        s = berth_image_ref_familiar(&r);
        assert_string_equal(s, cases[i].familiar);
        free(s);
        berth_image_ref_clear(&r);
    }
}

static void test_image_ref_parse_fields(void **state)
{
    struct berth_err *err = NULL;
    struct berth_image_ref r;
    char *name;

    (void)state;
    assert_ok(berth_image_ref_parse("localhost:5000/a/b:t", &r, &err), &err);
    assert_string_equal(r.domain, "localhost:5000");
    assert_string_equal(r.path, "a/b");
    assert_string_equal(r.tag, "t");
    assert_null(r.digest);
    name = berth_image_ref_name(&r);
    assert_string_equal(name, "localhost:5000/a/b");
    free(name);
    berth_image_ref_clear(&r);
    assert_ok(berth_image_ref_parse("x@" D64, &r, &err), &err);
    assert_null(r.tag);
    assert_string_equal(r.digest, D64);
    berth_image_ref_clear(&r);
}

static void test_image_ref_rejects_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "Busybox",
        "foo/Bar",
        "busybox:",
        ":tag",
        "busybox:-tag",
        "busybox:tag!",
        "busybox@sha256:abc",
        "busybox@md5:d41d8cd98f00b204e9800998ecf8427e",
        "busybox@",
        "-busybox",
        "busybox-",
        "bus..box",
        "bus._box",
        "foo//bar",
        "foo/bar/",
        "/foo",
        "localhost:abc/x",
        "-bad.com/x",
        "bad-.com/x",
        "host:/x",
        "a b",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "busybox:"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    char long_name[300];

    (void)state;
    for (size_t i = 0; i < BERTH_N(bad); i++) {
        struct berth_err *err = NULL;
        char *s = NULL;
        if (berth_image_ref_normalize(bad[i], &s, &err) == 0)
            fail_msg("\"%s\" accepted as \"%s\"", bad[i], s);
        assert_null(s);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    struct berth_err *err = NULL;
    char *s = NULL;
    assert_int_equal(berth_image_ref_normalize(long_name, &s, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_image_ref_normalize(NULL, &s, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

/* The 255-byte limit applies to the normalized name (found by tests/fuzz/fuzz_reference.c:
 * "aaa...a" of 250 bytes was accepted and normalized to a 268-byte name that no longer
 * parsed). */
static void test_image_ref_name_limit_is_normalized(void **state)
{
    char name[300], *s = NULL;
    struct berth_err *err = NULL;

    (void)state;
    /* docker.io/library/ + 237 = 255: the longest official name */
    memset(name, 'a', 237);
    name[237] = '\0';
    assert_ok(berth_image_ref_normalize(name, &s, &err), &err);
    free(s);
    name[237] = 'a';
    name[238] = '\0';
    assert_int_equal(berth_image_ref_normalize(name, &s, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    /* 250 bytes as typed, 268 once normalized */
    memset(name, 'a', 250);
    name[250] = '\0';
    assert_int_equal(berth_image_ref_normalize(name, &s, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    /* 261 bytes as typed, 255 once the legacy domain is replaced */
    snprintf(name, sizeof(name), "index.docker.io/library/%0237d", 0);
    assert_ok(berth_image_ref_normalize(name, &s, &err), &err);
    assert_int_equal(strlen(s), 255 + strlen(":latest"));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_ref_normalize_cases),
        cmocka_unit_test(test_image_ref_parse_fields),
        cmocka_unit_test(test_image_ref_rejects_bad),
        cmocka_unit_test(test_image_ref_name_limit_is_normalized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
