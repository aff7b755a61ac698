/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/utf8.c. */
#include "tests/unit/helpers/berth_test.h"

#include <string.h>

#include "lib/utf8.h"

static void test_utf8_decode_valid_runes(void **state)
{
    static const struct {
        const char *s;
        int32_t r;
        size_t w;
    } cases[] = {
        {"A", 'A', 1},
        {"\xc2\x80", 0x80, 2},
        {"\xdf\xbf", 0x7ff, 2},
        {"\xe0\xa0\x80", 0x800, 3},
        {"\xed\x9f\xbf", 0xd7ff, 3},
        {"\xef\xbf\xbd", 0xfffd, 3},
        {"\xf0\x90\x80\x80", 0x10000, 4},
        {"\xf4\x8f\xbf\xbf", 0x10ffff, 4},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t w = 0, n = strlen(cases[i].s);
        assert_int_equal(berth_utf8_decode((const unsigned char *)cases[i].s, n, &w), cases[i].r);
        assert_int_equal(w, cases[i].w);
        assert_int_equal(berth_utf8_valid_len((const unsigned char *)cases[i].s, n), cases[i].w);
    }
}

static void test_utf8_decode_invalid_is_error_of_width_one(void **state)
{
    static const char *const bad[] = {
        "\x80",             /* lone continuation */
        "\xc0\xaf",         /* overlong */
        "\xc1\xbf",         /* overlong */
        "\xe0\x9f\xbf",     /* overlong */
        "\xed\xa0\x80",     /* surrogate */
        "\xf0\x8f\xbf\xbf", /* overlong */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "\xf5\x80\x80\x80", /* never a lead byte */
        "\xe2\x82",         /* truncated */
        "\xc3(",            /* bad continuation */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t w = 0;
        assert_int_equal(berth_utf8_decode((const unsigned char *)bad[i], strlen(bad[i]), &w),
                         BERTH_UTF8_ERROR);
        assert_int_equal(w, 1);
        assert_int_equal(berth_utf8_valid_len((const unsigned char *)bad[i], strlen(bad[i])), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_decode_valid_runes),
        cmocka_unit_test(test_utf8_decode_invalid_is_error_of_width_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
