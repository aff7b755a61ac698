/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UTF-8 decoding by Unicode's table of well-formed sequences, as Go's utf8.DecodeRune does it:
 * no overlong forms, no surrogates, nothing past U+10FFFF, no truncated sequence. Used by the
 * request check (api/pbcheck.c), the regex engine and the TOML parser. Depends on nothing.
 */
#ifndef BERTH_LIB_UTF8_H
#define BERTH_LIB_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define BERTH_UTF8_ERROR 0xfffd /* U+FFFD, what an invalid sequence decodes to */

/* Decodes the rune at s (n > 0 bytes available) and sets *w to its width. An invalid sequence
 * is BERTH_UTF8_ERROR with *w = 1; a real U+FFFD has *w = 3. */
int32_t berth_utf8_decode(const unsigned char *s, size_t n, size_t *w);

/* Width of the well-formed sequence at s (n > 0 bytes available), or 0 when it is not one. */
static inline size_t berth_utf8_valid_len(const unsigned char *s, size_t n)
{
    size_t w;

    return berth_utf8_decode(s, n, &w) == BERTH_UTF8_ERROR && w == 1 ? 0 : w;
}

#endif
