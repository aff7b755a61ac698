/* SPDX-License-Identifier: Apache-2.0 */
/* berthctl argument helpers: durations, k=v labels, verb dispatch. */
#include "tests/unit/helpers/berth_test.h"

#include <string.h>

#include "cmd/berthctl/berthctl-internal.h"

static void test_duration_parse_units(void **state)
{
    static const struct {
        const char *in;
        int64_t ms;
    } cases[] = {
        {"0", 0},          {"10s", 10000}, {"500ms", 500},         {"1m30s", 90000},
        {"1.5h", 5400000}, {"2m", 120000}, {"250us", 1},           {"1000000ns", 1},
        {"0s", 0},         {".5s", 500},   {"1h1m1s1ms", 3661001},
    };
    struct berth_err *err = NULL;

    for (size_t i = 0; i < BERTH_N(cases); i++) {
        int64_t ms = -1;
        assert_ok(berthctl_duration_parse(cases[i].in, &ms, &err), &err);
        assert_int_equal(ms, cases[i].ms);
    }
}

static void test_duration_parse_malformed_is_invalid_argument(void **state)
{
    static const char *const bad[] = {"", "10", "s", "10x", "-1s", "1e3s", "10s5", "1..5s", " 1s"};
    struct berth_err *err = NULL;
    int64_t ms;

    for (size_t i = 0; i < BERTH_N(bad); i++) {
        assert_int_equal(berthctl_duration_parse(bad[i], &ms, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
}

static void test_kv_parse_splits_at_first_equals(void **state)
{
    struct berth_err *err = NULL;
    char *k, *v;

    assert_ok(berthctl_kv_parse("a.b/c=x=y", true, &k, &v, &err), &err);
    assert_string_equal(k, "a.b/c");
    assert_string_equal(v, "x=y");
    free(k);
    free(v);
    assert_ok(berthctl_kv_parse("k=", true, &k, &v, &err), &err);
    assert_string_equal(v, "");
    free(k);
    free(v);
    assert_ok(berthctl_kv_parse("bare", false, &k, &v, &err), &err);
    assert_string_equal(k, "bare");
    assert_string_equal(v, "");
    free(k);
    free(v);
}

static void test_kv_parse_malformed_is_invalid_argument(void **state)
{
    struct berth_err *err = NULL;
    char *k, *v;

    assert_int_equal(berthctl_kv_parse("bare", true, &k, &v, &err), -1);
    assert_null(k);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berthctl_kv_parse("=v", false, &k, &v, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berthctl_kv_parse("", false, &k, &v, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_kvs_add_later_duplicate_wins(void **state)
{
    struct berthctl_kvs kv = {0};
    struct berth_err *err = NULL;

    assert_ok(berthctl_kvs_add(&kv, "a=1", true, &err), &err);
    assert_ok(berthctl_kvs_add(&kv, "b=2", true, &err), &err);
    assert_ok(berthctl_kvs_add(&kv, "a=3", true, &err), &err);
    assert_int_equal(kv.n, 2);
    assert_string_equal(kv.keys[0], "a");
    assert_string_equal(kv.vals[0], "3");
    assert_int_equal(berthctl_kvs_add(&kv, "c", true, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(kv.n, 2);
    berthctl_kvs_clear(&kv);
    assert_int_equal(kv.n, 0);
}

static int verb_called;

static int verb_cb(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    verb_called = argc;
    return 0;
}

static void test_dispatch_alias_and_unknown_is_usage_error(void **state)
{
    static const struct berthctl_verb verbs[] = {{"ls", "list", verb_cb}};
    char *argv_list[] = {"list", "x", NULL};
    char *argv_bad[] = {"nope", NULL};
    struct berthctl ctl = {0};
    struct berth_err *err = NULL;

    assert_ok(berthctl_dispatch(&ctl, verbs, 1, 2, argv_list, &err), &err);
    assert_int_equal(verb_called, 2);
    assert_false(ctl.usage_error);
    assert_int_equal(berthctl_dispatch(&ctl, verbs, 1, 1, argv_bad, &err), -1);
    assert_true(ctl.usage_error);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    ctl.usage_error = false;
    assert_int_equal(berthctl_dispatch(&ctl, verbs, 1, 0, argv_bad, &err), -1);
    assert_true(ctl.usage_error);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_parse_units),
        cmocka_unit_test(test_duration_parse_malformed_is_invalid_argument),
        cmocka_unit_test(test_kv_parse_splits_at_first_equals),
        cmocka_unit_test(test_kv_parse_malformed_is_invalid_argument),
        cmocka_unit_test(test_kvs_add_later_duplicate_wins),
        cmocka_unit_test(test_dispatch_alias_and_unknown_is_usage_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
