/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/strset.c. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>

#include "lib/strset.h"

static void test_strset_members_and_states(void **state)
{
    struct berth_strset s = {0};

    (void)state;
    assert_false(berth_strset_has(&s, "a"));
    assert_int_equal(berth_strset_get(&s, "a"), 0);
    berth_strset_add(&s, "a");
    assert_true(berth_strset_has(&s, "a"));
    assert_false(berth_strset_has(&s, "b"));
    assert_false(berth_strset_has(&s, ""));
    /* raise keeps the highest state and reports the previous one */
    assert_int_equal(berth_strset_raise(&s, "a", 2), 1);
    assert_int_equal(berth_strset_raise(&s, "a", 1), 2);
    assert_int_equal(berth_strset_get(&s, "a"), 2);
    assert_int_equal(berth_strset_raise(&s, "", 3), 0);
    assert_int_equal(berth_strset_get(&s, ""), 3);
    assert_int_equal(s.n, 2);
    berth_strset_clear(&s);
    assert_false(berth_strset_has(&s, "a"));
    assert_int_equal(s.n, 0);
}

static void test_strset_grows_and_keeps_everything(void **state)
{
    struct berth_strset s = {0};
    char k[32];

    (void)state;
    for (int i = 0; i < 10000; i++) {
        snprintf(k, sizeof(k), "sha256:%d", i);
        berth_strset_raise(&s, k, (unsigned char)(1 + i % 3));
        berth_strset_add(&s, k); /* again: no duplicate, state kept */
    }
    assert_int_equal(s.n, 10000);
    assert_true(s.cap >= 2 * s.n);
    for (int i = 0; i < 10000; i++) {
        snprintf(k, sizeof(k), "sha256:%d", i);
        assert_int_equal(berth_strset_get(&s, k), 1 + i % 3);
    }
    assert_false(berth_strset_has(&s, "sha256:10000"));
    berth_strset_clear(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strset_members_and_states),
        cmocka_unit_test(test_strset_grows_and_keeps_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
