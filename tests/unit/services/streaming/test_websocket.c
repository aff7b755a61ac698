/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for services/streaming/websocket.c: RFC 6455's accept key and examples, lengths at
 * the 7/16/64-bit boundaries, masking, split input, and the frames a server must refuse. */
#include "tests/unit/helpers/berth_test.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "services/streaming/websocket.h"

static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};

static void test_ws_accept(void **state)
{
    char *a = berth_ws_accept("dGhlIHNhbXBsZSBub25jZQ==");

    (void)state;
    assert_string_equal(a, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    free(a);
}

static void test_ws_rfc_examples(void **state)
{
    /* RFC 6455 §5.7: a masked "Hello" from a client, an unmasked one from a server. */
    uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t unmasked[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    struct berth_ws_frame f;
    struct berth_buf out = BERTH_BUF_INIT;
    struct berth_err *err = NULL;

    (void)state;
    assert_int_equal(berth_ws_decode(masked, sizeof(masked), 1 << 20, &f, &err), sizeof(masked));
    assert_true(f.fin);
    assert_int_equal(f.opcode, BERTH_WS_TEXT);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.payload, "Hello", 5);
    berth_ws_encode(&out, BERTH_WS_TEXT, "He", 2, "llo", 3);
    assert_int_equal(berth_buf_pending(&out), sizeof(unmasked));
    assert_memory_equal(berth_buf_head(&out), unmasked, sizeof(unmasked));
    berth_buf_clear(&out);
    /* our masked encoder gives the RFC's bytes */
    berth_ws_encode_masked(&out, BERTH_WS_TEXT, true, "Hello", 5, mask);
    assert_memory_equal(berth_buf_head(&out), "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    berth_buf_clear(&out);
}

static void roundtrip(size_t n)
{
    struct berth_buf out = BERTH_BUF_INIT;
    uint8_t *p = malloc(n ? n : 1);
    struct berth_ws_frame f;
    struct berth_err *err = NULL;
    size_t total;

    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7);
    berth_ws_encode_masked(&out, BERTH_WS_BINARY, false, p, n, mask);
    total = berth_buf_pending(&out);
    /* every split point short of the whole frame asks for more */
    for (size_t cut = 0; cut < total && cut < 20; cut++)
        assert_int_equal(berth_ws_decode((uint8_t *)berth_buf_head(&out), cut, 1 << 20, &f, &err),
                         0);
    assert_int_equal(berth_ws_decode((uint8_t *)berth_buf_head(&out), total, 1 << 20, &f, &err),
                     (ssize_t)total);
    assert_false(f.fin);
    assert_int_equal(f.opcode, BERTH_WS_BINARY);
    assert_int_equal(f.len, n);
    if (n)
        assert_memory_equal(f.payload, p, n);
    berth_buf_clear(&out);
    free(p);
}

static void test_ws_lengths(void **state)
{
    static const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};

    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        roundtrip(sizes[i]);
}

static void expect_bad(const uint8_t *b, size_t n, size_t max, const char *needle)
{
    uint8_t buf[64];
    struct berth_ws_frame f;
    struct berth_err *err = NULL;

    memcpy(buf, b, n);
    assert_int_equal(berth_ws_decode(buf, n, max, &f, &err), -1);
    assert_non_null(err);
    if (!strstr(err->msg, needle))
        fail_msg("\"%s\" does not name \"%s\"", err->msg, needle);
    berth_err_free(&err);
}

static void test_ws_refused(void **state)
{
    (void)state;
    expect_bad((const uint8_t *)"\x81\x05Hello", 7, 100, "unmasked");
    expect_bad((const uint8_t *)"\xc1\x80\0\0\0\0", 6, 100, "reserved");
    expect_bad((const uint8_t *)"\x83\x80\0\0\0\0", 6, 100, "opcode 3");
    expect_bad((const uint8_t *)"\x09\x80\0\0\0\0", 6, 100, "control");        /* fragmented ping */
    expect_bad((const uint8_t *)"\x89\xfe\0\x80\0\0\0\0", 8, 1000, "control"); /* 128-byte ping */
    expect_bad((const uint8_t *)"\x82\xff\x80\0\0\0\0\0\0\0", 10, 100, "top bit");
    expect_bad((const uint8_t *)"\x82\xfe\x01\x00", 4, 100, "over");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_accept),
        cmocka_unit_test(test_ws_rfc_examples),
        cmocka_unit_test(test_ws_lengths),
        cmocka_unit_test(test_ws_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
