/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/filters.c: containerd filter syntax, matching and the label adaptor. */
#include "tests/unit/helpers/berth_test.h"

#include <stdbool.h>
#include <string.h>

#include "lib/filters.h"
#include "lib/labels.h"
#include "lib/util.h"

struct obj {
    const char *name;
    const char *other;
    struct berth_labels labels;
};

static const char *obj_field_cb(void *p, const char *const *path, size_t n, bool *present)
{
    struct obj *o = p;

    if (strcmp(path[0], "name") == 0 && n == 1) {
        *present = o->name && *o->name;
        return o->name;
    }
    if (strcmp(path[0], "other") == 0 && n == 1) {
        *present = o->other && *o->other;
        return o->other;
    }
    if (strcmp(path[0], "labels") == 0)
        return berth_filter_labels_lookup(&o->labels, path + 1, n - 1, present);
    return NULL;
}

/* Parses filters (must succeed) and reports whether o matches. */
static bool matches_n(const char *const *fs, size_t n, struct obj *o)
{
    struct berth_filter *f = NULL;
    struct berth_err *err = NULL;
    bool r;

    assert_ok(berth_filter_parse(fs, n, &f, &err), &err);
    r = berth_filter_match(f, obj_field_cb, o);
    berth_filter_free(f);
    return r;
}

static bool matches(const char *filter, struct obj *o)
{
    return matches_n(&filter, 1, o);
}

static void assert_parse_fails(const char *filter)
{
    struct berth_filter *f = (struct berth_filter *)0x1;
    struct berth_err *err = NULL;

    if (berth_filter_parse(&filter, 1, &f, &err) == 0)
        fail_msg("filter %s parsed but should not", filter);
    assert_null(f);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void obj_init(struct obj *o, const char *name, const char *other)
{
    o->name = name;
    o->other = other;
    berth_labels_init(&o->labels);
}

static void test_filter_parse_empty_matches_all(void **state)
{
    struct obj o;
    const char *empty = "";

    obj_init(&o, "x", NULL);
    assert_true(matches_n(NULL, 0, &o));
    assert_true(matches_n(&empty, 1, &o));
    assert_true(berth_filter_match(NULL, obj_field_cb, &o));
}

static void test_filter_match_equal_and_not_equal(void **state)
{
    struct obj foo, bar, none;

    obj_init(&foo, "foo", NULL);
    obj_init(&bar, "bar", NULL);
    obj_init(&none, NULL, NULL);
    assert_true(matches("name==foo", &foo));
    assert_false(matches("name==foo", &bar));
    assert_false(matches("name==foo", &none));
    assert_false(matches("name!=foo", &foo));
    assert_true(matches("name!=foo", &bar));
    assert_true(matches("name!=foo", &none)); /* absent fields differ from any value */
    assert_true(matches("name==\"foo\"", &foo));
}

static void test_filter_match_presence(void **state)
{
    struct obj a, b;

    obj_init(&a, "a", NULL);
    obj_init(&b, "b", NULL);
    berth_labels_set(&a.labels, "foo", "true");
    assert_true(matches("name", &a));
    assert_true(matches("labels.foo", &a));
    assert_false(matches("labels.foo", &b));
    assert_false(matches("other", &a));
    assert_false(matches("nosuchfield", &a));
    assert_false(matches("labels.foo==true", &b));
    berth_labels_clear(&a.labels);
}

static void test_filter_match_and_or(void **state)
{
    struct obj a, b;
    const char *either[] = {"name==a", "name==b"};
    const char *neither[] = {"name==c", "labels.x"};

    obj_init(&a, "a", NULL);
    obj_init(&b, "b", NULL);
    berth_labels_set(&a.labels, "x", "1");
    assert_true(matches("name==a,labels.x==1", &a));
    assert_false(matches("name==a,labels.x==2", &a));
    assert_false(matches("name==b,labels.x==1", &a));
    assert_true(matches_n(either, 2, &a));
    assert_true(matches_n(either, 2, &b));
    assert_false(matches_n(neither, 2, &b));
    assert_true(matches_n(neither, 2, &a));
    berth_labels_clear(&a.labels);
}

static void test_filter_match_regex(void **state)
{
    struct obj baz, abc, foo;

    obj_init(&baz, "baz", "too complex, yo");
    obj_init(&abc, "bazo", "abc");
    obj_init(&foo, "foo", NULL);
    assert_true(matches("other~=[abc]+,name!=foo", &baz));
    assert_true(matches("other~=[abc]+,name!=foo", &abc));
    assert_false(matches("other~=[abc]+,name!=foo", &foo));
    assert_true(matches("other~=/[abc]{1,2}/", &abc));
    assert_true(matches("other~=|^a.c$|", &abc));
    assert_false(matches("other~=|^b|", &abc));
    assert_true(matches("name~=^ba", &baz)); /* unanchored unless the regex says so */
    assert_true(matches("name~=z", &baz));
    assert_false(matches("other~=/[abc]{0,1}\"\\//", &abc)); /* valid, escaped '/' */
    assert_true(matches("other~=\"co.*x\"", &baz));
    assert_true(matches("other~=/^$/", &foo)); /* absent compares as "" */
}

static void test_filter_match_quoted_label_keys(void **state)
{
    struct obj o;

    obj_init(&o, "img", NULL);
    berth_labels_set(&o.labels, "containerd.io/uncompressed", "sha256:abc");
    berth_labels_set(&o.labels, "a.b", "dotted");
    berth_labels_set(&o.labels, "more complex label with \\ and \"", "present");
    berth_labels_set(&o.labels, "io-x", "dash");
    assert_true(matches("labels.\"containerd.io/uncompressed\"==sha256:abc", &o));
    assert_false(matches("labels.\"containerd.io/uncompressed\"==sha256:abd", &o));
    assert_true(matches("labels.a.b==dotted", &o));
    assert_true(matches("labels.\"a.b\"", &o));
    assert_false(matches("labels.a", &o));
    assert_false(matches("labels.a.b.c", &o));
    assert_true(matches("labels.\"more complex label with \\\\ and \\\"\"==present", &o));
    assert_true(matches("labels.io-x==dash", &o));
    assert_true(matches("labels.\"\\x61.b\"==dotted", &o)); /* \xNN escape */
    berth_labels_clear(&o.labels);
}

static void test_filter_match_unquoted_value_chars(void **state)
{
    struct obj o;

    obj_init(&o, "docker.io/library/busybox:latest", "omg_asdf.asdf-qwer");
    assert_true(matches("name==docker.io/library/busybox:latest", &o));
    assert_true(matches("other==omg_asdf.asdf-qwer", &o));
    assert_true(matches("name==docker.io/library/busybox:latest,other", &o));
}

static void test_filter_match_whitespace(void **state)
{
    struct obj o;

    obj_init(&o, "foo", "bar");
    assert_true(matches("  name == foo", &o));
    assert_true(matches("name==foo, other==bar", &o));
    assert_true(matches("name==foo ,other==bar ", &o));
    assert_true(matches("\tname\t!=\tx", &o));
    assert_true(matches("other == \"bar\"", &o));
}

static void test_filter_match_quoted_value_with_comma(void **state)
{
    struct obj o;

    obj_init(&o, "baz", "too complex, yo");
    assert_true(matches("other==\"too complex, yo\"", &o));
    assert_false(matches("other==too", &o));
}

static void test_filter_parse_syntax_errors(void **state)
{
    static const char *bad[] = {
        "name==foo,",               /* trailing comma */
        "labels.",                  /* trailing field separator */
        "a==1,,b",                  /* empty selector */
        ",a",                       /* empty first selector */
        "image~=,id?=?fbaq",        /* missing value */
        "name==",                   /* missing value at end */
        "name=foo",                 /* bad operator */
        "name===foo",               /* bad operator */
        "name<>foo",                /* not an operator */
        "name foo",                 /* missing operator */
        "labels.\"unterminated",    /* unterminated quote */
        "name==\"unterminated",     /* unterminated quoted value */
        "labels.|foo|==x",          /* alt quoting in a field */
        "name==/foo/",              /* alt quoting outside ~= */
        "labels.?\"x\"==present",   /* junk in the path */
        "name==\"bad \\q escape\"", /* illegal escape */
        "name==\"\\x4\"",           /* short hex escape */
        "name==\"\\x00\"",          /* NUL */
        "name==.foo",               /* value can't start with a separator */
        "   ",                      /* whitespace only */
        "name==a\x01",              /* control character */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_parse_fails(bad[i]);
}

static void test_filter_parse_invalid_regex(void **state)
{
    assert_parse_fails("name~=[abc");
    assert_parse_fails("name~=/(unclosed/");
    assert_parse_fails("name~=/a\\d/"); /* \d is not a valid escape inside /.../ quoting */
}

/* Go's regexp syntax, as containerd compiles ~= values. */
static void test_filter_match_regex_is_go_syntax(void **state)
{
    struct obj o;

    obj_init(&o, "web-12", "Hello World");
    assert_true(matches("name~=^web-\\d+$", &o));
    assert_true(matches("other~=(?i)^hello\\sworld$", &o));
    assert_false(matches("other~=^hello", &o));
    assert_true(matches("other~=\\bWorld\\z", &o));
    assert_true(matches("name~=/^(?:web|db)-[[:digit:]]{2}$/", &o));
    assert_true(matches("name~=^.{6}$", &o));
}

/* The security probe's two filters: 20000 nested groups (glibc's recursive regcomp ran out of
 * stack) and a backreference (glibc's regexec backtracked for minutes). Both are refused. */
static void test_filter_parse_regex_probes_are_invalid_argument(void **state)
{
    _cleanup_free_ char *deep = berth_xmalloc(4 + 20000 + 1 + 20000 + 1);
    const char *backref = "labels.k~=^(b*)*\\1\\1\\1\\1\\1c$";
    struct berth_filter *f = NULL;
    struct berth_err *err = NULL;

    memcpy(deep, "id~=", 4);
    memset(deep + 4, '(', 20000);
    deep[4 + 20000] = 'a';
    memset(deep + 4 + 20000 + 1, ')', 20000);
    deep[4 + 20000 + 1 + 20000] = '\0';
    assert_int_equal(berth_filter_parse((const char *const *)&deep, 1, &f, &err), -1);
    assert_null(f);
    assert_non_null(err);
    /* the 40 KB filter is cut in the message: it must fit a gRPC status */
    assert_true(strlen(err->msg) < 1024);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_parse_fails(backref);
}

struct stop_state {
    int calls, stop_on;
};

static bool stop_after_cb(void *arg)
{
    struct stop_state *st = arg;
    return ++st->calls >= st->stop_on;
}

static void test_filter_set_stop_stops_match_loop(void **state)
{
    const char *fs[] = {"name==baz"};
    struct berth_filter *f = NULL;
    struct berth_err *err = NULL;
    struct stop_state st = {.calls = 0, .stop_on = 3};
    struct obj o;
    int matched = 0;

    obj_init(&o, "baz", NULL);
    assert_ok(berth_filter_parse(fs, 1, &f, &err), &err);
    berth_filter_set_stop(f, stop_after_cb, &st);
    assert_false(berth_filter_stopped(f));
    for (int i = 0; i < 1000; i++)
        matched += berth_filter_match(f, obj_field_cb, &o);
    /* asked on calls 0, 64 and 128; the third answer stops every match from call 128 on */
    assert_int_equal(st.calls, 3);
    assert_int_equal(matched, 128);
    assert_true(berth_filter_stopped(f));

    /* a new callback starts afresh; NULL removes it */
    st = (struct stop_state){.calls = 0, .stop_on = 1000};
    berth_filter_set_stop(f, stop_after_cb, &st);
    assert_false(berth_filter_stopped(f));
    assert_true(berth_filter_match(f, obj_field_cb, &o));
    berth_filter_set_stop(f, NULL, NULL);
    assert_true(berth_filter_match(f, obj_field_cb, &o));
    assert_int_equal(st.calls, 1);
    assert_false(berth_filter_stopped(f));
    assert_false(berth_filter_stopped(NULL));
    berth_filter_free(f);
}

/* A costly regex match asks done() before it runs instead of waiting for the 64th call. */
static void test_filter_set_stop_checked_before_costly_regex(void **state)
{
    const char *fs[] = {"other~=^(.*){1000}a$"};
    _cleanup_free_ char *big = berth_xmalloc(4097);
    struct berth_filter *f = NULL;
    struct berth_err *err = NULL;
    struct stop_state st = {.calls = 0, .stop_on = 2};
    struct obj o;

    memset(big, 'a', 4096);
    big[4096] = '\0';
    obj_init(&o, "x", big);
    assert_ok(berth_filter_parse(fs, 1, &f, &err), &err);
    assert_true(berth_filter_match(f, obj_field_cb, &o));
    berth_filter_set_stop(f, stop_after_cb, &st);
    /* call 0 asks once (not done yet), the regex asks again and is told to stop */
    assert_false(berth_filter_match(f, obj_field_cb, &o));
    assert_int_equal(st.calls, 2);
    assert_true(berth_filter_stopped(f));
    berth_filter_free(f);
}

/* A match-everything filter (no filter strings) can be stopped too. */
static void test_filter_set_stop_on_match_all_filter(void **state)
{
    struct berth_filter *f = NULL;
    struct berth_err *err = NULL;
    struct stop_state st = {.calls = 0, .stop_on = 1};
    struct obj o;

    obj_init(&o, "x", NULL);
    assert_ok(berth_filter_parse(NULL, 0, &f, &err), &err);
    berth_filter_set_stop(f, stop_after_cb, &st);
    assert_false(berth_filter_match(f, obj_field_cb, &o));
    assert_true(berth_filter_stopped(f));
    berth_filter_free(f);
}

static void test_filter_parse_error_in_any_string_fails(void **state)
{
    const char *fs[] = {"name==ok", "name=="};
    struct berth_filter *f = NULL;
    struct berth_err *err = NULL;

    assert_int_equal(berth_filter_parse(fs, 2, &f, &err), -1);
    assert_null(f);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_filter_labels_lookup_join(void **state)
{
    struct berth_labels l = {0};
    const char *p1[] = {"a", "b"};
    const char *p2[] = {"a"};
    const char *p3[] = {"a", "b", "c"};
    const char *p4[] = {"a.b"};
    bool present = true;

    berth_labels_set(&l, "a", "1");
    berth_labels_set(&l, "a.b", "2");
    berth_labels_set(&l, "a.bc", "3");
    berth_labels_set(&l, "a-b", "4");
    assert_string_equal(berth_filter_labels_lookup(&l, p1, 2, &present), "2");
    assert_true(present);
    assert_string_equal(berth_filter_labels_lookup(&l, p2, 1, &present), "1");
    assert_string_equal(berth_filter_labels_lookup(&l, p4, 1, &present), "2");
    assert_null(berth_filter_labels_lookup(&l, p3, 3, &present));
    assert_false(present);
    assert_null(berth_filter_labels_lookup(&l, p1, 0, &present));
    assert_false(present);
    berth_labels_clear(&l);
    assert_null(berth_filter_labels_lookup(&l, p1, 2, &present));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_parse_empty_matches_all),
        cmocka_unit_test(test_filter_match_equal_and_not_equal),
        cmocka_unit_test(test_filter_match_presence),
        cmocka_unit_test(test_filter_match_and_or),
        cmocka_unit_test(test_filter_match_regex),
        cmocka_unit_test(test_filter_match_quoted_label_keys),
        cmocka_unit_test(test_filter_match_unquoted_value_chars),
        cmocka_unit_test(test_filter_match_whitespace),
        cmocka_unit_test(test_filter_match_quoted_value_with_comma),
        cmocka_unit_test(test_filter_parse_syntax_errors),
        cmocka_unit_test(test_filter_parse_invalid_regex),
        cmocka_unit_test(test_filter_match_regex_is_go_syntax),
        cmocka_unit_test(test_filter_parse_regex_probes_are_invalid_argument),
        cmocka_unit_test(test_filter_set_stop_stops_match_loop),
        cmocka_unit_test(test_filter_set_stop_checked_before_costly_regex),
        cmocka_unit_test(test_filter_set_stop_on_match_all_filter),
        cmocka_unit_test(test_filter_parse_error_in_any_string_fails),
        cmocka_unit_test(test_filter_labels_lookup_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
