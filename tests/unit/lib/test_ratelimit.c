/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/ratelimit.c. */
#include "tests/unit/helpers/berth_test.h"

#include <string.h>

#include "lib/ratelimit.h"

#define S 1000000000LL

static bool pass(struct berth_ratelimit *rl, const char *key, int64_t now, uint64_t *held)
{
    return berth_ratelimit_pass_at(rl, key, strlen(key), now, held);
}

static void test_ratelimit_pass_first_then_counts(void **state)
{
    struct berth_ratelimit *rl = berth_ratelimit_new(16, 10 * S);
    uint64_t held = 99;

    (void)state;
    assert_true(pass(rl, "a", 100 * S, &held));
    assert_int_equal(held, 0);
    for (int i = 0; i < 41; i++)
        assert_false(pass(rl, "a", 100 * S + i * S / 10, &held));
    assert_int_equal(held, 0);
    /* a different key is not held back by "a" */
    assert_true(pass(rl, "b", 101 * S, NULL));
    /* after the interval the next one passes and carries the count */
    assert_true(pass(rl, "a", 110 * S, &held));
    assert_int_equal(held, 41);
    assert_false(pass(rl, "a", 111 * S, &held));
    assert_true(pass(rl, "a", 120 * S, &held));
    assert_int_equal(held, 1);
    berth_ratelimit_free(rl);
}

static void test_ratelimit_one_slot_keys_evict(void **state)
{
    struct berth_ratelimit *rl = berth_ratelimit_new(1, 10 * S);
    uint64_t held;

    (void)state;
    assert_true(pass(rl, "a", 0, &held));
    assert_false(pass(rl, "a", 1, &held));
    /* one slot: "b" evicts "a" and passes; "a" then passes again with its count lost */
    assert_true(pass(rl, "b", 2, &held));
    assert_true(pass(rl, "a", 3, &held));
    assert_int_equal(held, 0);
    berth_ratelimit_free(rl);
    berth_ratelimit_free(NULL);
}

static void test_ratelimit_note_says_what_was_held(void **state)
{
    char buf[BERTH_RATELIMIT_NOTE_MAX];

    (void)state;
    assert_string_equal(berth_ratelimit_note(0, buf), "");
    assert_string_equal(berth_ratelimit_note(41, buf), " (and 41 more like it since)");
    assert_string_equal(berth_ratelimit_note(UINT64_MAX, buf),
                        " (and 18446744073709551615 more like it since)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit_pass_first_then_counts),
        cmocka_unit_test(test_ratelimit_one_slot_keys_evict),
        cmocka_unit_test(test_ratelimit_note_says_what_was_held),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
