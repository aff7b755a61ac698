/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for api/timestamp.c. */
#include "tests/unit/helpers/berth_test.h"

#include "api/timestamp.h"

static void test_timestamp_round_trip(void **state)
{
    static const int64_t values[] = {1, 999999999, 1000000000, 1795457696285416432LL,
                                     INT64_MAX - 1000000000LL};
    Google__Protobuf__Timestamp ts;

    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        assert_ptr_equal(berth_pb_ts_set(&ts, values[i]), &ts);
        assert_int_equal(ts.seconds, values[i] / 1000000000LL);
        assert_int_equal(ts.nanos, values[i] % 1000000000LL);
        assert_int_equal(berth_pb_ts_ns(&ts), values[i]);
    }
}

static void test_timestamp_before_1970_and_unset(void **state)
{
    Google__Protobuf__Timestamp ts;

    (void)state;
    /* -1.5 s: nanos stay non-negative, as the protobuf spec wants */
    berth_pb_ts_set(&ts, -1500000000LL);
    assert_int_equal(ts.seconds, -2);
    assert_int_equal(ts.nanos, 500000000);
    assert_null(berth_pb_ts_or_null(&ts, 0));
    assert_ptr_equal(berth_pb_ts_or_null(&ts, 5), &ts);
    assert_int_equal(berth_pb_ts_ns(NULL), 0);
    /* Go's zero time (year 1), as Go shims send an unset exited_at: 0, not an overflow */
    google__protobuf__timestamp__init(&ts);
    ts.seconds = -62135596800LL;
    assert_int_equal(berth_pb_ts_ns(&ts), 0);
    ts.seconds = INT64_MAX / 1000000000LL;
    assert_int_equal(berth_pb_ts_ns(&ts), 0);
    ts.seconds = 1;
    ts.nanos = 1000000000;
    assert_int_equal(berth_pb_ts_ns(&ts), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamp_round_trip),
        cmocka_unit_test(test_timestamp_before_1970_and_unset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
