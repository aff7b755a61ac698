/* SPDX-License-Identifier: Apache-2.0 */
/* UTF-8 decoding (see utf8.h). */
#include "lib/utf8.h"

int32_t berth_utf8_decode(const unsigned char *s, size_t n, size_t *w)
{
    unsigned c = s[0], lo = 0x80, hi = 0xbf;

    *w = 1;
    if (c < 0x80)
        return (int32_t)c;
    if (c < 0xc2 || c > 0xf4)
        return BERTH_UTF8_ERROR;
    if (c < 0xe0) {
        if (n < 2 || (s[1] & 0xc0) != 0x80)
            return BERTH_UTF8_ERROR;
        *w = 2;
        return (int32_t)(((c & 0x1f) << 6) | (s[1] & 0x3f));
    }
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f; /* surrogates */
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (c < 0xf0) {
        if (n < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
            return BERTH_UTF8_ERROR;
        *w = 3;
        return (int32_t)(((c & 0x0f) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3f));
    }
    if (n < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
        return BERTH_UTF8_ERROR;
    *w = 4;
    return (int32_t)(((c & 0x07) << 18) | ((s[1] & 0x3fu) << 12) | ((s[2] & 0x3fu) << 6) |
                     (s[3] & 0x3f));
}
