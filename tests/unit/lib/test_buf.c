/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/buf.c. */
#include "tests/unit/helpers/berth_test.h"

#include <string.h>

#include "lib/buf.h"

static void test_buf_fifo_order_across_growth(void **state)
{
    struct berth_buf b = BERTH_BUF_INIT;
    uint8_t chunk[1000];
    size_t produced = 0, consumed = 0;

    (void)state;
    assert_int_equal(berth_buf_pending(&b), 0);
    berth_buf_append(&b, NULL, 0);
    assert_null(b.data);
    /* Interleave appends and partial consumes; every byte comes out in order. */
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)(round * 37 % 1000) + 1;
        for (size_t i = 0; i < n; i++)
            chunk[i] = (uint8_t)(produced + i);
        berth_buf_append(&b, chunk, n);
        produced += n;
        size_t take = berth_buf_pending(&b) * (size_t)(round % 3) / 3;
        for (size_t i = 0; i < take; i++)
            assert_int_equal(berth_buf_head(&b)[i], (uint8_t)(consumed + i));
        berth_buf_consume(&b, take);
        consumed += take;
    }
    assert_int_equal(berth_buf_pending(&b), produced - consumed);
    for (size_t i = 0; i < berth_buf_pending(&b); i++)
        assert_int_equal(berth_buf_head(&b)[i], (uint8_t)(consumed + i));
    berth_buf_clear(&b);
    assert_null(b.data);
    assert_int_equal(berth_buf_pending(&b), 0);
}

static void test_buf_steady_stream_does_not_grow(void **state)
{
    struct berth_buf b = BERTH_BUF_INIT;
    uint8_t chunk[4096] = {0};
    size_t cap;

    (void)state;
    berth_buf_append(&b, chunk, sizeof(chunk));
    berth_buf_append(&b, chunk, sizeof(chunk));
    cap = b.cap;
    for (int i = 0; i < 1000; i++) {
        berth_buf_consume(&b, sizeof(chunk));
        berth_buf_append(&b, chunk, sizeof(chunk));
    }
    assert_int_equal(b.cap, cap);
    /* reserve + commit writes in place */
    berth_buf_consume(&b, berth_buf_pending(&b));
    memcpy(berth_buf_reserve(&b, 3), "abc", 3);
    berth_buf_commit(&b, 3);
    assert_int_equal(berth_buf_pending(&b), 3);
    assert_memory_equal(berth_buf_head(&b), "abc", 3);
    berth_buf_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_fifo_order_across_growth),
        cmocka_unit_test(test_buf_steady_stream_does_not_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
