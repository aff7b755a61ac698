/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/err.c: berth_strerror (C-locale strerror text without gettext) and the errno
 * suffix berth_err_set appends. */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/err.h"

static void test_strerror_matches_c_locale_strerror(void **state)
{
    (void)state;
    /* the process runs in the "C" locale, so strerror gives the untranslated text too */
    for (int e = 1; e < 134; e++) {
        char want[32];
        if (strerrordesc_np(e)) {
            assert_string_equal(berth_strerror(e), strerror(e));
        } else { /* the gaps glibc calls "Unknown error N" */
            snprintf(want, sizeof(want), "errno %d", e);
            assert_string_equal(berth_strerror(e), want);
        }
    }
    assert_string_equal(berth_strerror(ENOENT), "No such file or directory");
    assert_string_equal(berth_strerror(0), "Success");
}

static void test_strerror_unknown_values(void **state)
{
    (void)state;
    assert_string_equal(berth_strerror(100000), "errno 100000");
    assert_string_equal(berth_strerror(-1), "errno -1");
    assert_string_equal(berth_strerror(-2147483647 - 1), "errno -2147483648");
}

static void test_err_set_appends_errno_text(void **state)
{
    struct berth_err *err = NULL;

    (void)state;
    assert_int_equal(berth_err_set(&err, BERTH_E_INTERNAL, EACCES, "open \"%s\"", "f"), -1);
    assert_non_null(err);
    assert_int_equal(err->sys_errno, EACCES);
    assert_string_equal(err->msg, "open \"f\": Permission denied");
    assert_err_code(err, BERTH_E_INTERNAL);

    assert_int_equal(berth_err_set(&err, BERTH_E_NOT_FOUND, 99999, "x"), -1);
    assert_string_equal(err->msg, "x: errno 99999");
    assert_err_code(err, BERTH_E_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_matches_c_locale_strerror),
        cmocka_unit_test(test_strerror_unknown_values),
        cmocka_unit_test(test_err_set_appends_errno_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
