/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/rfc3339.c: Go time.Parse(time.RFC3339) compatible parsing, RFC3339Nano output. */
#include "tests/unit/helpers/berth_test.h"

#include <string.h>

#include "lib/rfc3339.h"

#define S(x) ((int64_t)(x)*1000000000LL)

static int64_t parse_ok(const char *s)
{
    struct berth_err *err = NULL;
    int64_t ns = 0;

    assert_ok(berth_rfc3339_parse(s, &ns, &err), &err);
    return ns;
}

static void test_rfc3339_parse_utc(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse_ok("2023-11-14T22:13:20Z"), S(1700000000));
    assert_int_equal(parse_ok("1969-12-31T23:59:59Z"), S(-1));
}

static void test_rfc3339_parse_offsets(void **state)
{
    (void)state;
    /* the same instant in three zones */
    assert_int_equal(parse_ok("2023-11-15T00:13:20+02:00"), S(1700000000));
    assert_int_equal(parse_ok("2023-11-14T17:13:20-05:00"), S(1700000000));
    assert_int_equal(parse_ok("2023-11-15T03:43:20+05:30"), S(1700000000));
    assert_int_equal(parse_ok("2023-11-14T22:13:20+00:00"), S(1700000000));
    assert_int_equal(parse_ok("2023-11-14T22:13:20-00:00"), S(1700000000));
    /* an offset that moves the instant across a day and a year boundary */
    assert_int_equal(parse_ok("1970-01-01T00:00:00+23:59"), S(-(23 * 3600 + 59 * 60)));
}

static void test_rfc3339_parse_leap_day(void **state)
{
    struct berth_err *err = NULL;
    int64_t ns;

    (void)state;
    assert_int_equal(parse_ok("2024-02-29T00:00:00Z"), S(1709164800));
    assert_int_equal(parse_ok("2000-02-29T12:00:00Z"), S(951825600));
    assert_int_equal(berth_rfc3339_parse("2023-02-29T00:00:00Z", &ns, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_rfc3339_parse("1900-02-29T00:00:00Z", &ns, &err), -1); /* not leap */
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_rfc3339_parse("2024-04-31T00:00:00Z", &ns, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_rfc3339_parse_fraction(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1970-01-01T00:00:01.5Z"), 1500000000LL);
    assert_int_equal(parse_ok("1970-01-01T00:00:00.000000001Z"), 1);
    assert_int_equal(parse_ok("1970-01-01T00:00:00.123456789+00:00"), 123456789);
    assert_int_equal(parse_ok("1969-12-31T23:59:59.25Z"), -750000000LL);
}

static void test_rfc3339_parse_saturates_outside_int64(void **state)
{
    (void)state;
    assert_true(parse_ok("9999-12-31T23:59:59Z") == INT64_MAX);
    assert_true(parse_ok("0001-01-01T00:00:00Z") == INT64_MIN);
    assert_true(parse_ok("2262-01-01T00:00:00Z") < INT64_MAX);
}

static void test_rfc3339_parse_invalid_forms(void **state)
{
    static const char *const bad[] = {
        "",
        "2024-01-01",
        "2024-01-01 00:00:00Z", /* space instead of T */
        "2024-01-01t00:00:00Z", /* lower case: Go rejects it, so do we */
        "2024-01-01T00:00:00z",
        "2024-01-01T00:00:00",      /* no zone */
        "2024-01-01T00:00:00+0100", /* no colon */
        "2024-01-01T00:00:00+01",
        "2024-01-01T00:00:00+24:00",
        "2024-01-01T00:00:00+01:60",
        "2024-13-01T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "2024-01-00T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:60:00Z",
        "2024-01-01T00:00:60Z", /* Go has no leap seconds */
        "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00.1234567891Z",
        "2024-01-01T00:00:00Zjunk",
        "24-01-01T00:00:00Z",
        "2024-1-01T00:00:00Z",
        "2024-01-01T0:00:00Z",
        "+2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00,5Z",
    };
    struct berth_err *err = NULL;
    int64_t ns = 42;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (berth_rfc3339_parse(bad[i], &ns, &err) == 0)
            fail_msg("\"%s\" parsed", bad[i]);
        assert_non_null(strstr(err->msg, bad[i])); /* names the value */
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
    assert_int_equal(ns, 42);
    assert_int_equal(berth_rfc3339_parse(NULL, &ns, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_rfc3339_format_trims_like_go(void **state)
{
    char buf[BERTH_RFC3339_MAX];

    (void)state;
    berth_rfc3339_format(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    berth_rfc3339_format(S(1700000000) + 500000000, buf);
    assert_string_equal(buf, "2023-11-14T22:13:20.5Z");
    berth_rfc3339_format(S(1709164800) + 123456789, buf);
    assert_string_equal(buf, "2024-02-29T00:00:00.123456789Z");
    berth_rfc3339_format(-1, buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999999999Z");
    berth_rfc3339_format_ts(-62135596800LL, 0, buf); /* Go's zero time */
    assert_string_equal(buf, "0001-01-01T00:00:00Z");
    berth_rfc3339_format_ts(253402300799LL, 10, buf);
    assert_string_equal(buf, "9999-12-31T23:59:59.00000001Z");
}

static void test_rfc3339_roundtrip(void **state)
{
    static const int64_t v[] = {
        0, 1, -1, S(951782400), S(1709164800) + 7, INT64_MAX / 2, INT64_MIN / 2};
    char buf[BERTH_RFC3339_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        berth_rfc3339_format(v[i], buf);
        assert_int_equal(parse_ok(buf), v[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_parse_utc),
        cmocka_unit_test(test_rfc3339_parse_offsets),
        cmocka_unit_test(test_rfc3339_parse_leap_day),
        cmocka_unit_test(test_rfc3339_parse_fraction),
        cmocka_unit_test(test_rfc3339_parse_saturates_outside_int64),
        cmocka_unit_test(test_rfc3339_parse_invalid_forms),
        cmocka_unit_test(test_rfc3339_format_trims_like_go),
        cmocka_unit_test(test_rfc3339_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
