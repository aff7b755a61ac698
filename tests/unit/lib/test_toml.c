/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/toml.c: every TOML feature the config needs, plus strictness. */
#include "tests/unit/helpers/berth_test.h"

#include <math.h>
#include <string.h>

#include "lib/toml.h"

static struct berth_toml_value *parse_ok(const char *text)
{
    struct berth_toml_value *root = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_toml_parse(text, strlen(text), &root, &err), &err);
    assert_non_null(root);
    assert_int_equal(root->type, BERTH_TOML_TABLE);
    return root;
}

static void assert_parse_fails(const char *text)
{
    struct berth_toml_value *root = (struct berth_toml_value *)0x1;
    struct berth_err *err = NULL;

    if (berth_toml_parse(text, strlen(text), &root, &err) == 0)
        fail_msg("document parsed but should not:\n%s", text);
    assert_null(root);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static const char *str_at(const struct berth_toml_value *t, const char *k)
{
    const struct berth_toml_value *v = berth_toml_get(t, k);
    assert_non_null(v);
    assert_int_equal(v->type, BERTH_TOML_STRING);
    return v->u.str;
}

static int64_t int_at(const struct berth_toml_value *t, const char *k)
{
    const struct berth_toml_value *v = berth_toml_get(t, k);
    assert_non_null(v);
    assert_int_equal(v->type, BERTH_TOML_INTEGER);
    return v->u.integer;
}

static double float_at(const struct berth_toml_value *t, const char *k)
{
    const struct berth_toml_value *v = berth_toml_get(t, k);
    assert_non_null(v);
    assert_int_equal(v->type, BERTH_TOML_FLOAT);
    return v->u.flt;
}

static void test_toml_parse_empty_and_comments(void **state)
{
    struct berth_toml_value *r = parse_ok("");
    assert_int_equal(r->u.table.n, 0);
    berth_toml_free(r);
    r = parse_ok("# only a comment\n\n   \t\n# another\r\n");
    assert_int_equal(r->u.table.n, 0);
    berth_toml_free(r);
    berth_toml_free(NULL);
}

static void test_toml_parse_config_like_document(void **state)
{
    const char *doc =
        "version = 2\n"
        "root = \"/var/lib/berth\"  # trailing comment\n"
        "state = '/run/berth'\n"
        "\n"
        "[grpc]\n"
        "  address = \"/run/berth/berth.sock\"\n"
        "  max_recv_message_size = 16_777_216\n"
        "\n"
        "[plugins.\"io.containerd.grpc.v1.cri\"]\n"
        "  sandbox_image = \"registry.k8s.io/pause:3.6\"\n"
        "  enable_selinux = false\n"
        "  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
        "    runtime_type = \"io.containerd.runc.v2\"\n"
        "    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
        "      SystemdCgroup = true\n";
    struct berth_toml_value *r = parse_ok(doc);
    const struct berth_toml_value *cri, *v;
    const char *s = NULL;
    int64_t i = 0;
    bool b = false;
    struct berth_err *err = NULL;

    assert_int_equal(int_at(r, "version"), 2);
    assert_string_equal(str_at(r, "root"), "/var/lib/berth");
    assert_string_equal(str_at(r, "state"), "/run/berth");
    assert_int_equal(int_at(berth_toml_get(r, "grpc"), "max_recv_message_size"), 16777216);
    cri = berth_toml_get_path(r, "plugins", "io.containerd.grpc.v1.cri", NULL);
    assert_non_null(cri);
    assert_string_equal(str_at(cri, "sandbox_image"), "registry.k8s.io/pause:3.6");
    v = berth_toml_get_path(cri, "containerd", "runtimes", "runc", "options", "SystemdCgroup",
                            NULL);
    assert_non_null(v);
    assert_int_equal(v->type, BERTH_TOML_BOOL);
    assert_true(v->u.boolean);
    assert_null(berth_toml_get_path(r, "plugins", "nope", "x", NULL));
    assert_null(berth_toml_get(r, "plugins.io")); /* no dot splitting */

    /* typed getters */
    assert_int_equal(berth_toml_get_string(r, "root", &s, &err), 1);
    assert_string_equal(s, "/var/lib/berth");
    assert_int_equal(berth_toml_get_int(r, "version", &i, &err), 1);
    assert_int_equal(i, 2);
    assert_int_equal(berth_toml_get_bool(cri, "enable_selinux", &b, &err), 1);
    assert_false(b);
    assert_int_equal(berth_toml_get_string(r, "missing", &s, &err), 0);
    assert_int_equal(berth_toml_get_string(r, "version", &s, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_toml_free(r);
}

static void test_toml_parse_keys(void **state)
{
    const char *doc = "bare_key-1 = 1\n"
                      "\"quoted key\" = 2\n"
                      "'literal.key' = 3\n"
                      "\"\" = 4\n"
                      "a . b . \"c.d\" = 5\n"
                      "a.e = 6\n"
                      "1234 = 7\n";
    struct berth_toml_value *r = parse_ok(doc);

    assert_int_equal(int_at(r, "bare_key-1"), 1);
    assert_int_equal(int_at(r, "quoted key"), 2);
    assert_int_equal(int_at(r, "literal.key"), 3);
    assert_int_equal(int_at(r, ""), 4);
    assert_int_equal(int_at(berth_toml_get_path(r, "a", "b", NULL), "c.d"), 5);
    assert_int_equal(int_at(berth_toml_get(r, "a"), "e"), 6);
    assert_int_equal(int_at(r, "1234"), 7);
    /* document order is kept */
    assert_string_equal(r->u.table.keys[0], "bare_key-1");
    assert_string_equal(r->u.table.keys[4], "a");
    berth_toml_free(r);
}

static void test_toml_parse_strings(void **state)
{
    const char *doc = "basic = \"tab\\there \\\"q\\\" \\\\ \\u00e9 \\U0001F600\"\n"
                      "literal = 'C:\\Users\\x'\n"
                      "ml = \"\"\"\nline1\nline2 \\\n     continued\"\"\"\n"
                      "ml_quotes = \"\"\"a \"\" b\"\"\"\"\n"
                      "mll = '''\nraw \\n text\n'''\n"
                      "mll_quotes = ''''x'''''\n"
                      "empty = \"\"\n"
                      "utf8 = \"héllo\"\n";
    struct berth_toml_value *r = parse_ok(doc);

    assert_string_equal(str_at(r, "basic"), "tab\there \"q\" \\ \xc3\xa9 \xf0\x9f\x98\x80");
    assert_string_equal(str_at(r, "literal"), "C:\\Users\\x");
    assert_string_equal(str_at(r, "ml"), "line1\nline2 continued");
    assert_string_equal(str_at(r, "ml_quotes"), "a \"\" b\"");
    assert_string_equal(str_at(r, "mll"), "raw \\n text\n");
    assert_string_equal(str_at(r, "mll_quotes"), "'x''");
    assert_string_equal(str_at(r, "empty"), "");
    assert_string_equal(str_at(r, "utf8"), "h\xc3\xa9llo");
    berth_toml_free(r);
}

static void test_toml_parse_numbers(void **state)
{
    const char *doc = "a = +99\nb = -17\nc = 0\nd = 1_000\n"
                      "h = 0xDEAD_beef\no = 0o755\nbin = 0b1101\n"
                      "max = 9223372036854775807\nmin = -9223372036854775808\n"
                      "f1 = 3.1415\nf2 = -0.01\nf3 = 5e+22\nf4 = 1e06\nf5 = -2E-2\n"
                      "f6 = 6.626e-34\nf7 = 224_617.445_991\n"
                      "pinf = +inf\nninf = -inf\nnan = nan\nf8 = 3.0e-0_1\nz = -0\n";
    struct berth_toml_value *r = parse_ok(doc);

    assert_int_equal(int_at(r, "a"), 99);
    assert_int_equal(int_at(r, "b"), -17);
    assert_int_equal(int_at(r, "c"), 0);
    assert_int_equal(int_at(r, "d"), 1000);
    assert_int_equal(int_at(r, "h"), 0xdeadbeef);
    assert_int_equal(int_at(r, "o"), 0755);
    assert_int_equal(int_at(r, "bin"), 13);
    assert_true(int_at(r, "max") == INT64_MAX);
    assert_true(int_at(r, "min") == INT64_MIN);
    assert_float_equal(float_at(r, "f1"), 3.1415, 1e-12);
    assert_float_equal(float_at(r, "f2"), -0.01, 1e-12);
    assert_float_equal(float_at(r, "f3"), 5e22, 1e9);
    assert_float_equal(float_at(r, "f4"), 1e6, 1e-6);
    assert_float_equal(float_at(r, "f5"), -0.02, 1e-12);
    assert_true(float_at(r, "f6") > 6.6e-34 && float_at(r, "f6") < 6.7e-34);
    assert_float_equal(float_at(r, "f7"), 224617.445991, 1e-6);
    assert_float_equal(float_at(r, "f8"), 0.3, 1e-12);
    assert_int_equal(int_at(r, "z"), 0);
    assert_true(isinf(float_at(r, "pinf")) && float_at(r, "pinf") > 0);
    assert_true(isinf(float_at(r, "ninf")) && float_at(r, "ninf") < 0);
    assert_true(isnan(float_at(r, "nan")));
    berth_toml_free(r);
}

static void test_toml_parse_booleans_and_datetimes(void **state)
{
    const char *doc = "t = true\nf = false\n"
                      "odt = 1979-05-27T07:32:00Z\n"
                      "odt2 = 1979-05-27T00:32:00.999999-07:00\n"
                      "ldt = 1979-05-27 07:32:00\n"
                      "ld = 2024-02-29\n"
                      "lt = 00:32:00.5\n";
    struct berth_toml_value *r = parse_ok(doc);
    const struct berth_toml_value *v;

    assert_true(berth_toml_get(r, "t")->u.boolean);
    assert_false(berth_toml_get(r, "f")->u.boolean);
    v = berth_toml_get(r, "odt");
    assert_int_equal(v->type, BERTH_TOML_DATETIME);
    assert_string_equal(v->u.str, "1979-05-27T07:32:00Z");
    assert_string_equal(berth_toml_get(r, "odt2")->u.str, "1979-05-27T00:32:00.999999-07:00");
    assert_string_equal(berth_toml_get(r, "ldt")->u.str, "1979-05-27 07:32:00");
    assert_string_equal(berth_toml_get(r, "ld")->u.str, "2024-02-29");
    assert_int_equal(berth_toml_get(r, "lt")->type, BERTH_TOML_DATETIME);
    berth_toml_free(r);
}

static void test_toml_parse_arrays(void **state)
{
    const char *doc = "empty = []\n"
                      "ints = [1, 2, 3]\n"
                      "nested = [[1, 2], [\"a\", 'b'], []]\n"
                      "multi = [\n"
                      "  \"x\",  # comment\n"
                      "\n"
                      "  \"y\",\n"
                      "]\n"
                      "mixed = [1, \"two\", 3.0, {k = 1}]\n";
    struct berth_toml_value *r = parse_ok(doc);
    const struct berth_toml_value *v;

    assert_int_equal(berth_toml_get(r, "empty")->u.array.n, 0);
    v = berth_toml_get(r, "ints");
    assert_int_equal(v->type, BERTH_TOML_ARRAY);
    assert_int_equal(v->u.array.n, 3);
    assert_int_equal(v->u.array.items[2]->u.integer, 3);
    v = berth_toml_get(r, "nested");
    assert_int_equal(v->u.array.n, 3);
    assert_int_equal(v->u.array.items[0]->u.array.items[1]->u.integer, 2);
    assert_string_equal(v->u.array.items[1]->u.array.items[1]->u.str, "b");
    v = berth_toml_get(r, "multi");
    assert_int_equal(v->u.array.n, 2);
    assert_string_equal(v->u.array.items[1]->u.str, "y");
    v = berth_toml_get(r, "mixed");
    assert_int_equal(v->u.array.items[3]->type, BERTH_TOML_TABLE);
    berth_toml_free(r);
}

static void test_toml_parse_inline_tables(void **state)
{
    const char *doc = "name = { first = \"Tom\", last = \"Preston-Werner\" }\n"
                      "point = {x=1,y=2}\n"
                      "empty = {}\n"
                      "nested = { a.b = 1, a.c = { d = 2 } }\n";
    struct berth_toml_value *r = parse_ok(doc);

    assert_string_equal(str_at(berth_toml_get(r, "name"), "last"), "Preston-Werner");
    assert_int_equal(int_at(berth_toml_get(r, "point"), "y"), 2);
    assert_int_equal(berth_toml_get(r, "empty")->u.table.n, 0);
    assert_int_equal(int_at(berth_toml_get_path(r, "nested", "a", NULL), "b"), 1);
    assert_int_equal(int_at(berth_toml_get_path(r, "nested", "a", "c", NULL), "d"), 2);
    berth_toml_free(r);
}

static void test_toml_parse_tables_and_arrays_of_tables(void **state)
{
    const char *doc = "[a.b.c]\n"
                      "x = 1\n"
                      "[a]\n" /* defining a previously implicit table is fine */
                      "y = 2\n"
                      "[fruit]\n"
                      "apple.color = \"red\"\n"
                      "apple.taste.sweet = true\n"
                      "[fruit.apple.texture]\n" /* sub-table of a dotted table */
                      "smooth = true\n"
                      "[[products]]\n"
                      "name = \"Hammer\"\n"
                      "[[products]]\n"
                      "[[products]]\n"
                      "name = \"Nail\"\n"
                      "[products.dims]\n"
                      "w = 3\n"
                      "[ 'quoted' . \"hdr.x\" ]\n"
                      "z = 0\n";
    struct berth_toml_value *r = parse_ok(doc);
    const struct berth_toml_value *p;

    assert_int_equal(int_at(berth_toml_get_path(r, "a", "b", "c", NULL), "x"), 1);
    assert_int_equal(int_at(berth_toml_get(r, "a"), "y"), 2);
    assert_string_equal(str_at(berth_toml_get_path(r, "fruit", "apple", NULL), "color"), "red");
    assert_non_null(berth_toml_get_path(r, "fruit", "apple", "texture", "smooth", NULL));
    p = berth_toml_get(r, "products");
    assert_int_equal(p->type, BERTH_TOML_ARRAY);
    assert_int_equal(p->u.array.n, 3);
    assert_string_equal(str_at(p->u.array.items[0], "name"), "Hammer");
    assert_int_equal(p->u.array.items[1]->u.table.n, 0);
    assert_int_equal(int_at(berth_toml_get(p->u.array.items[2], "dims"), "w"), 3);
    assert_int_equal(int_at(berth_toml_get_path(r, "quoted", "hdr.x", NULL), "z"), 0);
    berth_toml_free(r);
}

static void test_toml_parse_not_nul_terminated(void **state)
{
    const char text[] = "a = 1\nb = 2GARBAGE";
    struct berth_toml_value *r = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_toml_parse(text, strlen("a = 1\nb = 2"), &r, &err), &err);
    assert_int_equal(int_at(r, "b"), 2);
    berth_toml_free(r);
}

static void test_toml_parse_rejects_duplicates_and_redefinitions(void **state)
{
    static const char *bad[] = {
        "root = 1\nroot = 2\n",                      /* duplicate key */
        "a = 1\n\"a\" = 2\n",                        /* same key, quoted */
        "[t]\nx = 1\n[t]\ny = 2\n",                  /* table defined twice */
        "a = 1\n[a]\n",                              /* table over a value */
        "a.b = 1\na.b.c = 2\n",                      /* dotted through a value */
        "[fruit]\napple.color = 1\n[fruit.apple]\n", /* header over dotted table */
        "[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n",          /* dotted into a header table */
        "[a]\nb.c = 1\n[x]\n[a.b]\n",                /* header over dotted table, later */
        "t = {a = 1}\nt.b = 2\n",                    /* extend inline table by dotted key */
        "t = {a = 1}\n[t.sub]\n",                    /* extend inline table by header */
        "t = {a = 1, a = 2}\n",                      /* duplicate inside inline table */
        "a = [1]\n[[a]]\n",                          /* static array as array of tables */
        "[[a]]\n[a]\n",                              /* array of tables as table */
        "[a]\n[[a]]\n",                              /* table as array of tables */
        "[a]\nx = 1\n[a.x]\n",                       /* header over a value */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_parse_fails(bad[i]);
}

static void test_toml_parse_rejects_bad_syntax(void **state)
{
    static const char *bad[] = {
        "key\n",                     /* no = */
        "key =\n",                   /* no value */
        "= 1\n",                     /* no key */
        "a = 1 b = 2\n",             /* two pairs on a line */
        "a = \"unterminated\n",      /* unterminated string */
        "a = \"\"\"never closed\n",  /* unterminated multi-line */
        "a = 'no\nnewline'\n",       /* newline in literal string */
        "a = \"bad \\q escape\"\n",  /* invalid escape */
        "a = \"\\uD800\"\n",         /* surrogate escape */
        "a = \"\\u0000\"\n",         /* NUL not supported */
        "a = \"\\x41\"\n",           /* \x is TOML 1.1 */
        "a = \"ctl\x01\"\n",         /* raw control character */
        "[table\n",                  /* unterminated header */
        "[[aot]\n",                  /* half-closed array of tables */
        "[]\n",                      /* empty header */
        "[a..b]\n",                  /* empty key part */
        "a = [1, 2\n",               /* unterminated array */
        "a = [1 2]\n",               /* missing comma */
        "a = [,]\n",                 /* lone comma */
        "a = {x = 1,}\n",            /* trailing comma in inline table */
        "a = {x = 1\n}\n",           /* newline in inline table */
        "a = 012\n",                 /* leading zero */
        "a = 1__0\n",                /* double underscore */
        "a = _1\n",                  /* leading underscore */
        "a = 1_\n",                  /* trailing underscore */
        "a = 9223372036854775808\n", /* overflow */
        "a = 0x\n",                  /* empty hex */
        "a = -0x1\n",                /* signed hex */
        "a = 0b102\n",               /* bad binary digit */
        "a = 1.\n",                  /* missing fraction */
        "a = .5\n",                  /* missing int part */
        "a = 1e\n",                  /* missing exponent */
        "a = 1e400\n",               /* float overflow */
        "a = truex\n",               /* not a boolean */
        "a = TRUE\n",                /* booleans are lower case */
        "a = 1979-13-01\n",          /* bad month */
        "a = 2023-02-29\n",          /* not a leap year */
        "a = 07:60:00\n",            /* bad minute */
        "a = 1979-05-27T07:32\n",    /* seconds required */
        "a = 1 # c\x01\n",           /* control char in comment */
        "a = 1\rb = 2\n",            /* lone CR */
        "a = \"\xff\"\n",            /* invalid UTF-8 */
        "a = \"\xc0\xaf\"\n",        /* overlong UTF-8 */
        "a = \"\"\"x\"\"\"\"\"\"\n", /* too many closing quotes */
        "\"\"\"k\"\"\" = 1\n",       /* multi-line key */
        "a = inf1\n",                /* junk */
        "a = "
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_parse_fails(bad[i]);
}

static void test_toml_parse_embedded_nul_rejected(void **state)
{
    const char text[] = "a = 1\n\0b = 2\n";
    struct berth_toml_value *r = NULL;
    struct berth_err *err = NULL;

    assert_int_equal(berth_toml_parse(text, sizeof(text) - 1, &r, &err), -1);
    assert_null(r);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_toml_parse_crlf_and_bom(void **state)
{
    const char *doc = "\xef\xbb\xbf# bom\r\n[t]\r\nk = \"v\"\r\nml = \"\"\"\r\na\r\nb\"\"\"\r\n";
    struct berth_toml_value *r = parse_ok(doc);

    assert_string_equal(str_at(berth_toml_get(r, "t"), "k"), "v");
    assert_string_equal(str_at(berth_toml_get(r, "t"), "ml"), "a\nb");
    berth_toml_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_toml_parse_empty_and_comments),
        cmocka_unit_test(test_toml_parse_config_like_document),
        cmocka_unit_test(test_toml_parse_keys),
        cmocka_unit_test(test_toml_parse_strings),
        cmocka_unit_test(test_toml_parse_numbers),
        cmocka_unit_test(test_toml_parse_booleans_and_datetimes),
        cmocka_unit_test(test_toml_parse_arrays),
        cmocka_unit_test(test_toml_parse_inline_tables),
        cmocka_unit_test(test_toml_parse_tables_and_arrays_of_tables),
        cmocka_unit_test(test_toml_parse_not_nul_terminated),
        cmocka_unit_test(test_toml_parse_rejects_duplicates_and_redefinitions),
        cmocka_unit_test(test_toml_parse_rejects_bad_syntax),
        cmocka_unit_test(test_toml_parse_embedded_nul_rejected),
        cmocka_unit_test(test_toml_parse_crlf_and_bom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
