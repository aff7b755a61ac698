/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TOML scalars: error formatting, the up-front UTF-8 check, basic/literal (multi-line)
 * strings, integers, floats and date-times. Date-times are validated and kept as text.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "lib/toml-internal.h"
#include "lib/utf8.h"

#define SNIPPET_LEN 24 /* bytes of offending text quoted in messages */

/* ---- errors ---- */

int berth_toml_perr(struct toml_parser *p, int line, const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = berth_strdup_vprintf(fmt, ap);
    va_end(ap);
    return berth_err_set(p->err, BERTH_E_INVALID_ARGUMENT, 0, "config line %d: %s", line, msg);
}

/* Up to SNIPPET_LEN bytes of the current line from pos, for "unexpected ..." messages. */
static int snippet_len(const struct toml_parser *p)
{
    size_t n = 0;

    while (p->pos + n < p->len && n < SNIPPET_LEN && p->s[p->pos + n] != '\n' &&
           p->s[p->pos + n] != '\r')
        n++;
    return (int)n;
}

int berth_toml_perr_at(struct toml_parser *p, const char *what)
{
    if (p->pos >= p->len)
        return berth_toml_perr(p, p->line, "%s at end of input", what);
    if (at_newline(p))
        return berth_toml_perr(p, p->line, "%s at end of line", what);
    if (p->s[p->pos] == '\r')
        return berth_toml_perr(p, p->line, "%s at carriage return", what);
    return berth_toml_perr(p, p->line, "%s at \"%.*s\"", what, snippet_len(p), p->s + p->pos);
}

/* Whole-input checks up front, so later code can index bytes freely: valid UTF-8 (no
 * overlongs, surrogates or code points past U+10FFFF) and no NUL bytes. */
int berth_toml_check_utf8(struct toml_parser *p)
{
    const unsigned char *s = (const unsigned char *)p->s;
    int line = 1;

    for (size_t i = 0; i < p->len;) {
        unsigned char c = s[i];
        size_t n;

        if (c == '\n')
            line++;
        if (c == 0)
            return berth_toml_perr(p, line, "null byte in input");
        if (c < 0x80) {
            i++;
            continue;
        }
        n = berth_utf8_valid_len(s + i, p->len - i);
        if (!n)
            return berth_toml_perr(p, line, "invalid UTF-8");
        i += n;
    }
    return 0;
}

static void put_utf8(struct toml_sbuf *b, uint32_t cp)
{
    char o[4];
    size_t n;

    if (cp < 0x80) {
        o[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6)), o[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12)), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        o[0] = (char)(0xf0 | (cp >> 18)), o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    sb_put(b, o, n);
}

/* ---- strings ---- */

/* One escape after a backslash in a basic string (pos is on the char after '\'). */
static int parse_escape(struct toml_parser *p, struct toml_sbuf *b)
{
    char c = peekc(p, 0);
    int digits = 0;
    uint32_t cp = 0;

    switch (c) {
    case 'b':
        sb_putc(b, '\b');
        break;
    case 't':
        sb_putc(b, '\t');
        break;
    case 'n':
        sb_putc(b, '\n');
        break;
    case 'f':
        sb_putc(b, '\f');
        break;
    case 'r':
        sb_putc(b, '\r');
        break;
    case '"':
        sb_putc(b, '"');
        break;
    case '\\':
        sb_putc(b, '\\');
        break;
    case 'u':
        digits = 4;
        break;
    case 'U':
        digits = 8;
        break;
    default:
        p->pos--;
        return berth_toml_perr_at(p, "invalid escape sequence");
    }
    p->pos++;
    for (int i = 0; i < digits; i++) {
        char h = peekc(p, 0);
        int v = (h >= '0' && h <= '9')   ? h - '0'
                : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                         : -1;
        if (v < 0)
            return berth_toml_perr_at(p, "invalid unicode escape");
        cp = (cp << 4) | (uint32_t)v;
        p->pos++;
    }
    if (digits) {
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return berth_toml_perr(p, p->line, "escape \\%c%.*s is not a unicode scalar value", c,
                                   digits, p->s + p->pos - digits);
        if (cp == 0)
            return berth_toml_perr(p, p->line, "null character in string is not supported");
        put_utf8(b, cp);
    }
    return 0;
}

/* Basic ("...") or literal ('...') single-line string; pos on the opening quote. */
char *berth_toml_lex_string_line(struct toml_parser *p)
{
    _cleanup_(sb_free) struct toml_sbuf b = {0};
    char q = peekc(p, 0);

    p->pos++;
    for (;;) {
        unsigned char c = (unsigned char)peekc(p, 0);
        if (at_eof(p) || c == '\n' || c == '\r') {
            berth_toml_perr(p, p->line, "unterminated string");
            return NULL;
        }
        p->pos++;
        if (c == (unsigned char)q)
            break;
        if (c == '\\' && q == '"') {
            if (parse_escape(p, &b) < 0)
                return NULL;
        } else if (is_bad_ctrl(c)) {
            berth_toml_perr(p, p->line, "control character in string");
            return NULL;
        } else {
            sb_putc(&b, (char)c);
        }
    }
    return sb_steal(&b);
}

/* """...""" or '''...'''; pos on the first of the three opening quotes. */
char *berth_toml_lex_string_multi(struct toml_parser *p)
{
    _cleanup_(sb_free) struct toml_sbuf b = {0};
    char q = peekc(p, 0);
    int start_line = p->line;

    p->pos += 3;
    if (at_newline(p)) /* a newline right after the opening delimiter is trimmed */
        eat_newline(p);
    for (;;) {
        unsigned char c = (unsigned char)peekc(p, 0);
        if (at_eof(p)) {
            berth_toml_perr(p, start_line, "unterminated multi-line string");
            return NULL;
        }
        if (c == (unsigned char)q) {
            size_t n = 0;
            while (peekc(p, n) == q)
                n++;
            p->pos += n;
            if (n < 3) {
                sb_put(&b, p->s + p->pos - n, n);
                continue;
            }
            if (n > 5) {
                berth_toml_perr(p, p->line, "too many quotes at end of multi-line string");
                return NULL;
            }
            sb_put(&b, p->s + p->pos - n, n - 3); /* up to two quotes may precede the end */
            return sb_steal(&b);
        }
        if (at_newline(p)) {
            eat_newline(p);
            sb_putc(&b, '\n');
            continue;
        }
        p->pos++;
        if (c == '\\' && q == '"') {
            /* line-ending backslash: drop whitespace and newlines up to the next text */
            size_t save = p->pos;
            skip_ws(p);
            if (at_newline(p)) {
                while (at_newline(p) || peekc(p, 0) == ' ' || peekc(p, 0) == '\t') {
                    if (at_newline(p))
                        eat_newline(p);
                    else
                        p->pos++;
                }
                continue;
            }
            p->pos = save;
            if (parse_escape(p, &b) < 0)
                return NULL;
        } else if (is_bad_ctrl(c)) {
            berth_toml_perr(p, p->line, "control character in string");
            return NULL;
        } else {
            sb_putc(&b, (char)c);
        }
    }
}

/* Digits of base `base` with single underscores strictly between digits; copies the digits
 * (without underscores) to out. Returns the number of bytes consumed, 0 if malformed. */
static size_t scan_digits(const char *s, size_t len, int base, struct toml_sbuf *out)
{
    size_t i = 0;
    bool prev_digit = false;

    for (; i < len; i++) {
        char c = s[i];
        bool d = (base == 16 &&
                  ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) ||
                 (base == 10 && c >= '0' && c <= '9') || (base == 8 && c >= '0' && c <= '7') ||
                 (base == 2 && (c == '0' || c == '1'));
        if (d) {
            sb_putc(out, c);
            prev_digit = true;
        } else if (c == '_') {
            if (!prev_digit || i + 1 >= len)
                return 0;
            prev_digit = false;
        } else {
            break;
        }
    }
    return prev_digit ? i : 0;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static bool num2(const char *s, int *v)
{
    if (!is_digit(s[0]) || !is_digit(s[1]))
        return false;
    *v = (s[0] - '0') * 10 + (s[1] - '0');
    return true;
}

/* HH:MM:SS[.frac]; returns bytes consumed or 0. */
static size_t scan_time(const char *s, size_t len)
{
    int h, m, sec;
    size_t i = 8;

    if (len < 8 || !num2(s, &h) || s[2] != ':' || !num2(s + 3, &m) || s[5] != ':' ||
        !num2(s + 6, &sec) || h > 23 || m > 59 || sec > 60)
        return 0;
    if (i < len && s[i] == '.') {
        size_t f = ++i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == f)
            return 0;
    }
    return i;
}

/* Local/offset date-time, local date or local time, per RFC 3339 as TOML restricts it. */
static bool valid_datetime(const char *s, size_t len)
{
    int y, mo, d, oh, om;
    size_t i;

    if (len >= 3 && s[2] == ':')
        return scan_time(s, len) == len;
    if (len < 10 || !num2(s, &y) || !num2(s + 2, &d) || s[4] != '-' || !num2(s + 5, &mo) ||
        s[7] != '-' || !num2(s + 8, &d))
        return false;
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return false;
    if (len == 10)
        return true;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return false;
    i = scan_time(s + 11, len - 11);
    if (!i)
        return false;
    i += 11;
    if (i == len)
        return true;
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len)
        return true;
    return (s[i] == '+' || s[i] == '-') && len - i == 6 && num2(s + i + 1, &oh) &&
           s[i + 3] == ':' && num2(s + i + 4, &om) && oh <= 23 && om <= 59;
}

static bool is_numtok_char(char c)
{
    return is_bare_key_char(c) || c == '+' || c == '.' || c == ':';
}

static struct berth_toml_value *num_error(struct toml_parser *p, const char *t, size_t n,
                                          bool range)
{
    int shown = (int)(n > 64 ? 64 : n);

    if (range)
        berth_toml_perr(p, p->line, "number \"%.*s\" out of range", shown, t);
    else
        berth_toml_perr(p, p->line, "invalid value \"%.*s\"", shown, t);
    return NULL;
}

/* Integers, floats and date-times all start with a digit, sign, "inf" or "nan": scan the
 * whole token first, then classify it. */
struct berth_toml_value *berth_toml_lex_number(struct toml_parser *p)
{
    _cleanup_(sb_free) struct toml_sbuf digits = {0};
    const char *t = p->s + p->pos;
    size_t n = 0, i = 0;
    bool neg = false;
    struct berth_toml_value *v;

    while (p->pos + n < p->len && is_numtok_char(t[n]))
        n++;
    /* "1979-05-27 07:32:00": a space may separate date and time */
    if (n == 10 && t[4] == '-' && peekc(p, n) == ' ' && is_digit(peekc(p, n + 1)) &&
        is_digit(peekc(p, n + 2)) && peekc(p, n + 3) == ':') {
        n++;
        while (p->pos + n < p->len && is_numtok_char(t[n]))
            n++;
    }
    if (n == 0) {
        berth_toml_perr_at(p, "invalid value");
        return NULL;
    }

    /* dddd-... is a date, dd:... a time; anything else must be a number */
    if ((n >= 5 && is_digit(t[0]) && is_digit(t[1]) && is_digit(t[2]) && is_digit(t[3]) &&
         t[4] == '-') ||
        (n >= 3 && is_digit(t[0]) && is_digit(t[1]) && t[2] == ':')) {
        if (!valid_datetime(t, n))
            return num_error(p, t, n, false);
        v = berth_toml_value_new(BERTH_TOML_DATETIME);
        v->u.str = berth_xstrndup(t, n);
        p->pos += n;
        return v;
    }

    if (t[0] == '+' || t[0] == '-') {
        neg = t[0] == '-';
        i = 1;
    }
    if (n - i == 3 && (strncmp(t + i, "inf", 3) == 0 || strncmp(t + i, "nan", 3) == 0)) {
        v = berth_toml_value_new(BERTH_TOML_FLOAT);
        v->u.flt = t[i] == 'i' ? INFINITY : NAN;
        if (neg)
            v->u.flt = -v->u.flt;
        p->pos += n;
        return v;
    }

    if (n - i > 2 && t[i] == '0' && (t[i + 1] == 'x' || t[i + 1] == 'o' || t[i + 1] == 'b')) {
        int base = t[i + 1] == 'x' ? 16 : t[i + 1] == 'o' ? 8 : 2;
        uint64_t u = 0;

        if (i != 0 || scan_digits(t + 2, n - 2, base, &digits) != n - 2)
            return num_error(p, t, n, false);
        for (const char *d = digits.d; *d; d++) {
            int dv = is_digit(*d) ? *d - '0' : (*d | 0x20) - 'a' + 10;
            if (u > (UINT64_MAX - (uint64_t)dv) / (uint64_t)base)
                return num_error(p, t, n, true);
            u = u * (uint64_t)base + (uint64_t)dv;
        }
        if (u > INT64_MAX)
            return num_error(p, t, n, true);
        v = berth_toml_value_new(BERTH_TOML_INTEGER);
        v->u.integer = (int64_t)u;
        p->pos += n;
        return v;
    }

    /* decimal integer or float: int part, optional .frac, optional exponent */
    size_t k = i, m;
    bool is_float = false;

    if (i >= n || t[i] == '-' || t[i] == '+')
        return num_error(p, t, n, false);
    if (neg)
        sb_putc(&digits, '-');
    m = scan_digits(t + k, n - k, 10, &digits);
    if (!m || (t[k] == '0' && m > 1))
        return num_error(p, t, n, false); /* leading zeros are not allowed */
    k += m;
    if (k < n && t[k] == '.') {
        sb_putc(&digits, '.');
        k++;
        m = scan_digits(t + k, n - k, 10, &digits);
        if (!m)
            return num_error(p, t, n, false);
        k += m;
        is_float = true;
    }
    if (k < n && (t[k] == 'e' || t[k] == 'E')) {
        sb_putc(&digits, 'e');
        k++;
        if (k < n && (t[k] == '+' || t[k] == '-'))
            sb_putc(&digits, t[k++]);
        m = scan_digits(t + k, n - k, 10, &digits);
        if (!m)
            return num_error(p, t, n, false);
        k += m;
        is_float = true;
    }
    if (k != n)
        return num_error(p, t, n, false);

    errno = 0;
    if (is_float) {
        double d = strtod(digits.d, NULL);
        if (isinf(d))
            return num_error(p, t, n, true);
        v = berth_toml_value_new(BERTH_TOML_FLOAT);
        v->u.flt = d;
    } else {
        long long ll = strtoll(digits.d, NULL, 10);
        if (errno == ERANGE)
            return num_error(p, t, n, true);
        v = berth_toml_value_new(BERTH_TOML_INTEGER);
        v->u.integer = ll;
    }
    p->pos += n;
    return v;
}
