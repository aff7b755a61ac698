/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for ttrpc/frame.c: header codec, output buffer, the incremental reader (byte by
 * byte, several frames per chunk, oversize, unknown types) and the client stream-id rules. */
#include "tests/unit/helpers/berth_test.h"

#include <stdlib.h>
#include <string.h>

#include "ttrpc/frame.h"

static void test_header_roundtrip_big_endian(void **state)
{
    struct berth_ttrpc_header h = {0x01020304, 0xa0b0c0d0, BERTH_TTRPC_DATA,
                                   BERTH_TTRPC_FLAG_REMOTE_CLOSED | BERTH_TTRPC_FLAG_NO_DATA};
    struct berth_ttrpc_header back;
    uint8_t b[BERTH_TTRPC_HEADER_LEN];
    const uint8_t want[] = {1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0, 3, 5};

    (void)state;
    berth_ttrpc_header_encode(&h, b);
    assert_memory_equal(b, want, sizeof(want));
    berth_ttrpc_header_decode(b, &back);
    assert_int_equal(back.length, h.length);
    assert_int_equal(back.stream_id, h.stream_id);
    assert_int_equal(back.type, h.type);
    assert_int_equal(back.flags, h.flags);
}

static void test_frame_append_then_feed_roundtrip(void **state)
{
    struct berth_ttrpc_wbuf b = {0};
    struct berth_ttrpc_reader r = {0};
    struct berth_ttrpc_frame f = {0};
    struct berth_err *err = NULL;
    size_t used;

    (void)state;
    assert_ok(berth_ttrpc_frame_append(&b, 1, BERTH_TTRPC_REQUEST, 0, "hello", 5, &err), &err);
    assert_ok(berth_ttrpc_frame_append(&b, 3, BERTH_TTRPC_RESPONSE, 0, NULL, 0, &err), &err);
    assert_int_equal(berth_ttrpc_wbuf_pending(&b), 2 * BERTH_TTRPC_HEADER_LEN + 5);

    /* Two frames in one chunk: the reader stops after the first. */
    assert_int_equal(berth_ttrpc_reader_feed(&r, b.data, b.len, &used, &f, &err), 1);
    assert_int_equal(used, BERTH_TTRPC_HEADER_LEN + 5);
    assert_int_equal(f.hdr.stream_id, 1);
    assert_int_equal(f.hdr.type, BERTH_TTRPC_REQUEST);
    assert_memory_equal(f.payload, "hello", 5);
    berth_ttrpc_frame_clear(&f);
    assert_int_equal(berth_ttrpc_reader_feed(&r, b.data + used, b.len - used, &used, &f, &err), 1);
    assert_int_equal(f.hdr.stream_id, 3);
    assert_int_equal(f.hdr.length, 0);
    assert_null(f.payload);
    assert_false(berth_ttrpc_reader_partial(&r));

    berth_ttrpc_wbuf_consume(&b, b.len);
    assert_int_equal(berth_ttrpc_wbuf_pending(&b), 0);
    berth_ttrpc_wbuf_clear(&b);
    berth_ttrpc_reader_clear(&r);
}

static void test_reader_byte_by_byte(void **state)
{
    struct berth_ttrpc_wbuf b = {0};
    struct berth_ttrpc_reader r = {0};
    struct berth_ttrpc_frame f = {0};
    struct berth_err *err = NULL;
    size_t used, got = 0;

    (void)state;
    assert_ok(berth_ttrpc_frame_append(&b, 7, BERTH_TTRPC_DATA, BERTH_TTRPC_FLAG_REMOTE_CLOSED,
                                       "abc", 3, &err),
              &err);
    for (size_t i = 0; i < b.len; i++) {
        int rc = berth_ttrpc_reader_feed(&r, b.data + i, 1, &used, &f, &err);
        assert_int_equal(used, 1);
        if (i + 1 < b.len) {
            assert_int_equal(rc, 0);
            assert_true(berth_ttrpc_reader_partial(&r)); /* short header / short payload */
        } else {
            assert_int_equal(rc, 1);
            got++;
        }
    }
    assert_int_equal(got, 1);
    assert_int_equal(f.hdr.flags, BERTH_TTRPC_FLAG_REMOTE_CLOSED);
    assert_memory_equal(f.payload, "abc", 3);
    berth_ttrpc_frame_clear(&f);
    berth_ttrpc_wbuf_clear(&b);
    berth_ttrpc_reader_clear(&r);
}

static void test_frame_append_oversize_is_resource_exhausted(void **state)
{
    struct berth_ttrpc_wbuf b = {0};
    struct berth_err *err = NULL;
    uint8_t *big = calloc(1, BERTH_TTRPC_MAX_PAYLOAD + 1);

    (void)state;
    assert_int_equal(berth_ttrpc_frame_append(&b, 1, BERTH_TTRPC_REQUEST, 0, big,
                                              BERTH_TTRPC_MAX_PAYLOAD + 1, &err),
                     -1);
    assert_err_code(err, BERTH_E_RESOURCE_EXHAUSTED);
    assert_int_equal(berth_ttrpc_wbuf_pending(&b), 0);
    /* Exactly 4 MiB is allowed. */
    assert_ok(
        berth_ttrpc_frame_append(&b, 1, BERTH_TTRPC_REQUEST, 0, big, BERTH_TTRPC_MAX_PAYLOAD, &err),
        &err);
    free(big);
    berth_ttrpc_wbuf_clear(&b);
}

static void test_reader_oversize_skips_payload_and_stays_in_sync(void **state)
{
    struct berth_ttrpc_header h = {BERTH_TTRPC_MAX_PAYLOAD + 1, 5, BERTH_TTRPC_REQUEST, 0};
    struct berth_ttrpc_reader r = {0};
    struct berth_ttrpc_frame f = {0};
    struct berth_ttrpc_wbuf next = {0};
    struct berth_err *err = NULL;
    uint8_t hdr[BERTH_TTRPC_HEADER_LEN];
    uint8_t *junk = calloc(1, 65536);
    size_t used, left = h.length;

    (void)state;
    berth_ttrpc_header_encode(&h, hdr);
    assert_int_equal(berth_ttrpc_reader_feed(&r, hdr, sizeof(hdr), &used, &f, &err), -1);
    assert_int_equal(used, sizeof(hdr));
    assert_int_equal(f.hdr.stream_id, 5);
    assert_null(f.payload);
    assert_err_code(err, BERTH_E_RESOURCE_EXHAUSTED);
    while (left > 0) {
        size_t n = left < 65536 ? left : 65536;
        assert_int_equal(berth_ttrpc_reader_feed(&r, junk, n, &used, &f, &err), 0);
        assert_int_equal(used, n);
        left -= n;
    }
    assert_false(berth_ttrpc_reader_partial(&r));
    assert_ok(berth_ttrpc_frame_append(&next, 7, BERTH_TTRPC_REQUEST, 0, "x", 1, &err), &err);
    assert_int_equal(berth_ttrpc_reader_feed(&r, next.data, next.len, &used, &f, &err), 1);
    assert_int_equal(f.hdr.stream_id, 7);
    berth_ttrpc_frame_clear(&f);
    berth_ttrpc_wbuf_clear(&next);
    berth_ttrpc_reader_clear(&r);
    free(junk);
}

static void test_reader_unknown_type_is_invalid_argument_after_payload(void **state)
{
    struct berth_ttrpc_wbuf b = {0};
    struct berth_ttrpc_reader r = {0};
    struct berth_ttrpc_frame f = {0};
    struct berth_err *err = NULL;
    size_t used;

    (void)state;
    assert_ok(berth_ttrpc_frame_append(&b, 9, 0x7f, 0, "zzzz", 4, &err), &err);
    assert_ok(berth_ttrpc_frame_append(&b, 11, 0x00, 0, NULL, 0, &err), &err);
    assert_ok(berth_ttrpc_frame_append(&b, 13, BERTH_TTRPC_REQUEST, 0, "ok", 2, &err), &err);

    assert_int_equal(berth_ttrpc_reader_feed(&r, b.data, b.len, &used, &f, &err), -1);
    assert_int_equal(used, BERTH_TTRPC_HEADER_LEN + 4);
    assert_int_equal(f.hdr.stream_id, 9);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    size_t pos = used;
    assert_int_equal(berth_ttrpc_reader_feed(&r, b.data + pos, b.len - pos, &used, &f, &err), -1);
    assert_int_equal(f.hdr.stream_id, 11);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    pos += used;
    assert_int_equal(berth_ttrpc_reader_feed(&r, b.data + pos, b.len - pos, &used, &f, &err), 1);
    assert_int_equal(f.hdr.stream_id, 13);
    assert_memory_equal(f.payload, "ok", 2);
    berth_ttrpc_frame_clear(&f);
    berth_ttrpc_wbuf_clear(&b);
    berth_ttrpc_reader_clear(&r);
}

static void test_check_from_client_stream_ids(void **state)
{
    struct berth_ttrpc_header h = {0, 0, BERTH_TTRPC_REQUEST, 0};
    struct berth_err *err = NULL;
    uint32_t last = 0;

    (void)state;
    assert_int_equal(berth_ttrpc_check_from_client(&h, &last, &err), -1); /* zero */
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    h.stream_id = 2; /* even */
    assert_int_equal(berth_ttrpc_check_from_client(&h, &last, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    h.stream_id = 5;
    assert_ok(berth_ttrpc_check_from_client(&h, &last, &err), &err);
    assert_int_equal(last, 5);
    h.stream_id = 3; /* going backwards */
    assert_int_equal(berth_ttrpc_check_from_client(&h, &last, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    h.stream_id = 5; /* re-use */
    assert_int_equal(berth_ttrpc_check_from_client(&h, &last, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    h.type = BERTH_TTRPC_DATA; /* data on an open stream keeps its id */
    assert_ok(berth_ttrpc_check_from_client(&h, &last, &err), &err);
    assert_int_equal(last, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_roundtrip_big_endian),
        cmocka_unit_test(test_frame_append_then_feed_roundtrip),
        cmocka_unit_test(test_reader_byte_by_byte),
        cmocka_unit_test(test_frame_append_oversize_is_resource_exhausted),
        cmocka_unit_test(test_reader_oversize_skips_payload_and_stays_in_sync),
        cmocka_unit_test(test_reader_unknown_type_is_invalid_argument_after_payload),
        cmocka_unit_test(test_check_from_client_stream_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
