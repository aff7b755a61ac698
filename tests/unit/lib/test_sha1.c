/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/sha1.c: FIPS 180 vectors around the padding boundaries and RFC 6455's
 * handshake example. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sha1.h"
#include "lib/util.h"

static void hex(const uint8_t d[BERTH_SHA1_LEN], char out[41])
{
    for (int i = 0; i < BERTH_SHA1_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check(const char *in, size_t len, const char *want)
{
    uint8_t d[BERTH_SHA1_LEN];
    char got[41];

    berth_sha1(in, len, d);
    hex(d, got);
    assert_string_equal(got, want);
}

static void test_sha1_vectors(void **state)
{
    static char million[1000000];

    (void)state;
    check("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    /* 56 bytes: the length no longer fits the first padding block */
    check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
          "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    memset(million, 'a', sizeof(million));
    check(million, sizeof(million), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void test_sha1_websocket_accept(void **state)
{
    /* RFC 6455 §1.3: key "dGhlIHNhbXBsZSBub25jZQ==" gives "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=". */
    static const char in[] = "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    uint8_t d[BERTH_SHA1_LEN];
    char *b64;

    (void)state;
    berth_sha1(in, strlen(in), d);
    b64 = berth_base64(d, sizeof(d));
    assert_string_equal(b64, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    free(b64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1_vectors),
        cmocka_unit_test(test_sha1_websocket_accept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
