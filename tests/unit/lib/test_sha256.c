/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/sha256.c: NIST/FIPS 180-4 example vectors and streaming splits. */
#include "tests/unit/helpers/berth_test.h"

#include <stdlib.h>
#include <string.h>

#include "lib/sha256.h"

static void check(const char *msg, size_t len, const char *want_hex)
{
    char got[72];

    berth_sha256_digest_buf(msg, len, got);
    assert_string_equal(got + 7, want_hex);
    assert_memory_equal(got, "sha256:", 7);
}

static void test_sha256_nist_vectors(void **state)
{
    (void)state;
    check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    check("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
          "lmnopqrsmnopqrstnopqrstu",
          112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_sha256_million_a(void **state)
{
    struct berth_sha256 c;
    char buf[1000], got[72];

    (void)state;
    memset(buf, 'a', sizeof(buf));
    berth_sha256_init(&c);
    for (int i = 0; i < 1000; i++)
        berth_sha256_update(&c, buf, sizeof(buf));
    berth_sha256_digest_str(&c, got);
    assert_string_equal(got,
                        "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_sha256_streaming_matches_one_shot(void **state)
{
    uint8_t data[300];
    char want[72], got[72];

    (void)state;
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 3);
    berth_sha256_digest_buf(data, sizeof(data), want);
    /* every split point, including the 55/56/64 padding boundaries */
    for (size_t split = 0; split <= sizeof(data); split++) {
        struct berth_sha256 c;
        berth_sha256_init(&c);
        berth_sha256_update(&c, data, split);
        berth_sha256_update(&c, NULL, 0);
        berth_sha256_update(&c, data + split, sizeof(data) - split);
        berth_sha256_digest_str(&c, got);
        assert_string_equal(got, want);
    }
    /* byte-at-a-time lengths around the block size */
    for (size_t len = 54; len <= 66; len++) {
        struct berth_sha256 c, d;
        char a[72], b[72];
        berth_sha256_init(&c);
        for (size_t i = 0; i < len; i++)
            berth_sha256_update(&c, data + i, 1);
        berth_sha256_init(&d);
        berth_sha256_update(&d, data, len);
        berth_sha256_digest_str(&c, a);
        berth_sha256_digest_str(&d, b);
        assert_string_equal(a, b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_nist_vectors),
        cmocka_unit_test(test_sha256_million_a),
        cmocka_unit_test(test_sha256_streaming_matches_one_shot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
