/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/ident.c: containerd identifier rules. */
#include "tests/unit/helpers/berth_test.h"

#include <string.h>

#include "lib/ident.h"

static void test_ident_validate_accepts_valid(void **state)
{
    static const char *ok[] = {"a",    "Z9",      "default", "k8s.io",
                               "moby", "a-b_c.d", "0",       "a1.b2-c3_d4"};
    struct berth_err *err = NULL;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_ok(berth_ident_validate(ok[i], &err), &err);
        assert_null(err);
    }
}

static void test_ident_validate_rejects_empty(void **state)
{
    struct berth_err *err = NULL;

    assert_int_equal(berth_ident_validate("", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_ident_validate(NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_ident_validate_rejects_bad_syntax(void **state)
{
    static const char *bad[] = {"a..b", ".a",   "a.", "-a",   "a-", "_a",  "a b", "a/b",
                                "a:b",  "a_-b", "ü",  "a\tb", "..", "a..", "ns@1"};
    struct berth_err *err = NULL;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(berth_ident_validate(bad[i], &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
}

static void test_ident_validate_length_limit(void **state)
{
    char buf[BERTH_IDENT_MAX_LEN + 2];
    struct berth_err *err = NULL;

    memset(buf, 'a', sizeof(buf) - 1);
    buf[BERTH_IDENT_MAX_LEN] = '\0';
    assert_ok(berth_ident_validate(buf, &err), &err);
    buf[BERTH_IDENT_MAX_LEN] = 'a';
    buf[BERTH_IDENT_MAX_LEN + 1] = '\0';
    assert_int_equal(berth_ident_validate(buf, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_ident_validate_long_id_message_is_bounded(void **state)
{
    char buf[5000];
    struct berth_err *err = NULL;

    memset(buf, 'x', sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = '\0';
    assert_int_equal(berth_ident_validate(buf, &err), -1);
    assert_non_null(err);
    assert_true(strlen(err->msg) < 300);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ident_validate_accepts_valid),
        cmocka_unit_test(test_ident_validate_rejects_empty),
        cmocka_unit_test(test_ident_validate_rejects_bad_syntax),
        cmocka_unit_test(test_ident_validate_length_limit),
        cmocka_unit_test(test_ident_validate_long_id_message_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
