/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Recursive-descent TOML 1.0 parser. The table-definition rules (no redefinition, dotted keys
 * may only extend tables they created in the same section, inline tables are frozen) are
 * tracked with per-table flags; see insert_dotted() and parse_header().
 */
#include "lib/toml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/util.h"

#define MAX_DEPTH     64 /* nesting of arrays / inline tables: bounds the recursion */
#define MAX_KEY_PARTS 64 /* components in one dotted key or header */
#define SNIPPET_LEN   24 /* bytes of offending text quoted in messages */

/* priv_flags of tables */
#define T_HEADER 0x1u /* defined by [header] or as an [[array]] element */
#define T_DOTTED 0x2u /* created (or claimed) by a dotted key in priv_section */
#define T_INLINE 0x4u /* inline table: closed for good */
/* priv_flags of arrays */
#define A_TABLES 0x8u /* created by [[header]]; may be appended to */

struct parser {
    const char *s;
    size_t len, pos;
    int line;
    struct berth_toml_value *root;
    struct berth_toml_value *cur; /* table receiving key/values */
    unsigned int section;         /* id of the current [header] section or inline table */
    unsigned int next_section;
    struct berth_err **err;
};

struct sbuf {
    char *d;
    size_t n, cap;
};

static void sb_put(struct sbuf *b, const char *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->d = berth_xrealloc(b->d, b->cap);
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
    b->d[b->n] = '\0';
}

static void sb_putc(struct sbuf *b, char c)
{
    sb_put(b, &c, 1);
}

static void sb_free(struct sbuf *b)
{
    free(b->d);
}

static char *sb_steal(struct sbuf *b)
{
    if (!b->d)
        return berth_xstrdup("");
    return steal_ptr(b->d);
}

/* ---- errors ---- */

static bool at_newline(const struct parser *p);

static int perr(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(struct parser *p, int line, const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    return berth_err_set(p->err, BERTH_E_INVALID_ARGUMENT, 0, "config line %d: %s", line, msg);
}

/* Up to SNIPPET_LEN bytes of the current line from pos, for "unexpected ..." messages. */
static int snippet_len(const struct parser *p)
{
    size_t n = 0;

    while (p->pos + n < p->len && n < SNIPPET_LEN && p->s[p->pos + n] != '\n' &&
           p->s[p->pos + n] != '\r')
        n++;
    return (int)n;
}

static int perr_at(struct parser *p, const char *what)
{
    if (p->pos >= p->len)
        return perr(p, p->line, "%s at end of input", what);
    if (at_newline(p))
        return perr(p, p->line, "%s at end of line", what);
    if (p->s[p->pos] == '\r')
        return perr(p, p->line, "%s at carriage return", what);
    return perr(p, p->line, "%s at \"%.*s\"", what, snippet_len(p), p->s + p->pos);
}

/* ---- values ---- */

static struct berth_toml_value *val_new(enum berth_toml_type type)
{
    struct berth_toml_value *v = berth_xcalloc(1, sizeof(*v));
    v->type = type;
    return v;
}

void berth_toml_free(struct berth_toml_value *v)
{
    if (!v)
        return;
    switch (v->type) {
    case BERTH_TOML_STRING:
    case BERTH_TOML_DATETIME:
        free(v->u.str);
        break;
    case BERTH_TOML_ARRAY:
        for (size_t i = 0; i < v->u.array.n; i++)
            berth_toml_free(v->u.array.items[i]);
        free(v->u.array.items);
        break;
    case BERTH_TOML_TABLE:
        for (size_t i = 0; i < v->u.table.n; i++) {
            free(v->u.table.keys[i]);
            berth_toml_free(v->u.table.vals[i]);
        }
        free(v->u.table.keys);
        free(v->u.table.vals);
        break;
    default:
        break;
    }
    free(v);
}
DEFINE_CLEANUP(struct berth_toml_value *, berth_toml_free)

static void array_push(struct berth_toml_value *a, struct berth_toml_value *v)
{
    a->u.array.items =
        berth_xrealloc(a->u.array.items, (a->u.array.n + 1) * sizeof(*a->u.array.items));
    a->u.array.items[a->u.array.n++] = v;
}

static void table_put(struct berth_toml_value *t, const char *k, struct berth_toml_value *v)
{
    t->u.table.keys = berth_xrealloc(t->u.table.keys, (t->u.table.n + 1) * sizeof(char *));
    t->u.table.vals = berth_xrealloc(t->u.table.vals, (t->u.table.n + 1) * sizeof(v));
    t->u.table.keys[t->u.table.n] = berth_xstrdup(k);
    t->u.table.vals[t->u.table.n] = v;
    t->u.table.n++;
}

const struct berth_toml_value *berth_toml_get(const struct berth_toml_value *table, const char *key)
{
    if (!table || table->type != BERTH_TOML_TABLE || !key)
        return NULL;
    for (size_t i = 0; i < table->u.table.n; i++)
        if (strcmp(table->u.table.keys[i], key) == 0)
            return table->u.table.vals[i];
    return NULL;
}

static struct berth_toml_value *table_find(struct berth_toml_value *t, const char *k)
{
    return (struct berth_toml_value *)berth_toml_get(t, k);
}

/* ---- lexical helpers ---- */

static char peekc(const struct parser *p, size_t off)
{
    return p->pos + off < p->len ? p->s[p->pos + off] : '\0';
}

static bool at_eof(const struct parser *p)
{
    return p->pos >= p->len;
}

static bool at_newline(const struct parser *p)
{
    return peekc(p, 0) == '\n' || (peekc(p, 0) == '\r' && peekc(p, 1) == '\n');
}

static void eat_newline(struct parser *p)
{
    p->pos += peekc(p, 0) == '\r' ? 2 : 1;
    p->line++;
}

static void skip_ws(struct parser *p)
{
    while (peekc(p, 0) == ' ' || peekc(p, 0) == '\t')
        p->pos++;
}

/* Control characters TOML forbids raw in comments and strings (tab is allowed). */
static bool is_bad_ctrl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int skip_comment(struct parser *p)
{
    p->pos++; /* '#' */
    while (!at_eof(p) && !at_newline(p)) {
        if (is_bad_ctrl((unsigned char)p->s[p->pos]))
            return perr(p, p->line, "control character in comment");
        p->pos++;
    }
    return 0;
}

/* Skips whitespace, comments and newlines (inside arrays). */
static int skip_ws_nl(struct parser *p)
{
    for (;;) {
        skip_ws(p);
        if (peekc(p, 0) == '#') {
            if (skip_comment(p) < 0)
                return -1;
        } else if (at_newline(p)) {
            eat_newline(p);
        } else {
            return 0;
        }
    }
}

/* After a key/value or header: only whitespace and a comment may follow on the line. */
static int expect_eol(struct parser *p)
{
    skip_ws(p);
    if (peekc(p, 0) == '#' && skip_comment(p) < 0)
        return -1;
    if (at_eof(p))
        return 0;
    if (!at_newline(p))
        return perr_at(p, "unexpected text after value");
    eat_newline(p);
    return 0;
}

static bool is_bare_key_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Whole-input checks up front, so later code can index bytes freely: valid UTF-8 (no
 * overlongs, surrogates or code points past U+10FFFF) and no NUL bytes. */
static int check_utf8(struct parser *p)
{
    const unsigned char *s = (const unsigned char *)p->s;
    int line = 1;

    for (size_t i = 0; i < p->len;) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp, min;

        if (c == '\n')
            line++;
        if (c == 0)
            return perr(p, line, "null byte in input");
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            n = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return perr(p, line, "invalid UTF-8");
        }
        if (i + n > p->len)
            return perr(p, line, "invalid UTF-8");
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return perr(p, line, "invalid UTF-8");
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return perr(p, line, "invalid UTF-8");
        i += n;
    }
    return 0;
}

static void put_utf8(struct sbuf *b, uint32_t cp)
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
static int parse_escape(struct parser *p, struct sbuf *b)
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
        return perr_at(p, "invalid escape sequence");
    }
    p->pos++;
    for (int i = 0; i < digits; i++) {
        char h = peekc(p, 0);
        int v = (h >= '0' && h <= '9')   ? h - '0'
                : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                         : -1;
        if (v < 0)
            return perr_at(p, "invalid unicode escape");
        cp = (cp << 4) | (uint32_t)v;
        p->pos++;
    }
    if (digits) {
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return perr(p, p->line, "escape \\%c%.*s is not a unicode scalar value", c, digits,
                        p->s + p->pos - digits);
        if (cp == 0)
            return perr(p, p->line, "null character in string is not supported");
        put_utf8(b, cp);
    }
    return 0;
}

/* Basic ("...") or literal ('...') single-line string; pos on the opening quote. */
static char *parse_string_line(struct parser *p)
{
    _cleanup_(sb_free) struct sbuf b = {0};
    char q = peekc(p, 0);

    p->pos++;
    for (;;) {
        unsigned char c = (unsigned char)peekc(p, 0);
        if (at_eof(p) || c == '\n' || c == '\r') {
            perr(p, p->line, "unterminated string");
            return NULL;
        }
        p->pos++;
        if (c == (unsigned char)q)
            break;
        if (c == '\\' && q == '"') {
            if (parse_escape(p, &b) < 0)
                return NULL;
        } else if (is_bad_ctrl(c)) {
            perr(p, p->line, "control character in string");
            return NULL;
        } else {
            sb_putc(&b, (char)c);
        }
    }
    return sb_steal(&b);
}

/* """...""" or '''...'''; pos on the first of the three opening quotes. */
static char *parse_string_multi(struct parser *p)
{
    _cleanup_(sb_free) struct sbuf b = {0};
    char q = peekc(p, 0);
    int start_line = p->line;

    p->pos += 3;
    if (at_newline(p)) /* a newline right after the opening delimiter is trimmed */
        eat_newline(p);
    for (;;) {
        unsigned char c = (unsigned char)peekc(p, 0);
        if (at_eof(p)) {
            perr(p, start_line, "unterminated multi-line string");
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
                perr(p, p->line, "too many quotes at end of multi-line string");
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
            perr(p, p->line, "control character in string");
            return NULL;
        } else {
            sb_putc(&b, (char)c);
        }
    }
}

/* ---- keys ---- */

struct key {
    char *parts[MAX_KEY_PARTS];
    size_t n;
};

static void key_clear(struct key *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->parts[i]);
    k->n = 0;
}

/* "a.b.c" form of a key for messages. */
static char *key_join(const struct key *k, size_t upto)
{
    struct sbuf b = {0};

    for (size_t i = 0; i < upto; i++) {
        if (i)
            sb_putc(&b, '.');
        sb_put(&b, k->parts[i], strlen(k->parts[i]));
    }
    return sb_steal(&b);
}

static int parse_key(struct parser *p, struct key *k)
{
    k->n = 0;
    for (;;) {
        char c, *part;

        skip_ws(p);
        c = peekc(p, 0);
        if (k->n == MAX_KEY_PARTS)
            return perr(p, p->line, "key has more than %d parts", MAX_KEY_PARTS);
        if (c == '"' || c == '\'') {
            if (peekc(p, 1) == c && peekc(p, 2) == c)
                return perr(p, p->line, "multi-line string cannot be a key");
            part = parse_string_line(p);
            if (!part)
                return -1;
        } else if (is_bare_key_char(c)) {
            size_t start = p->pos;
            while (is_bare_key_char(peekc(p, 0)))
                p->pos++;
            part = berth_xstrndup(p->s + start, p->pos - start);
        } else {
            return perr_at(p, "expected a key");
        }
        k->parts[k->n++] = part;
        skip_ws(p);
        if (peekc(p, 0) != '.')
            return 0;
        p->pos++;
    }
}

/* ---- numbers and date-times ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Digits of base `base` with single underscores strictly between digits; copies the digits
 * (without underscores) to out. Returns the number of bytes consumed, 0 if malformed. */
static size_t scan_digits(const char *s, size_t len, int base, struct sbuf *out)
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

static struct berth_toml_value *num_error(struct parser *p, const char *t, size_t n, bool range)
{
    int shown = (int)(n > 64 ? 64 : n);

    if (range)
        perr(p, p->line, "number \"%.*s\" out of range", shown, t);
    else
        perr(p, p->line, "invalid value \"%.*s\"", shown, t);
    return NULL;
}

/* Integers, floats and date-times all start with a digit, sign, "inf" or "nan": scan the
 * whole token first, then classify it. */
static struct berth_toml_value *parse_number_or_date(struct parser *p)
{
    _cleanup_(sb_free) struct sbuf digits = {0};
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
        perr_at(p, "invalid value");
        return NULL;
    }

    if ((n >= 5 && t[4] == '-' && is_digit(t[0])) || (n >= 3 && t[2] == ':')) {
        if (!valid_datetime(t, n))
            return num_error(p, t, n, false);
        v = val_new(BERTH_TOML_DATETIME);
        v->u.str = berth_xstrndup(t, n);
        p->pos += n;
        return v;
    }

    if (t[0] == '+' || t[0] == '-') {
        neg = t[0] == '-';
        i = 1;
    }
    if (n - i == 3 && (strncmp(t + i, "inf", 3) == 0 || strncmp(t + i, "nan", 3) == 0)) {
        v = val_new(BERTH_TOML_FLOAT);
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
        v = val_new(BERTH_TOML_INTEGER);
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
        v = val_new(BERTH_TOML_FLOAT);
        v->u.flt = d;
    } else {
        long long ll = strtoll(digits.d, NULL, 10);
        if (errno == ERANGE)
            return num_error(p, t, n, true);
        v = val_new(BERTH_TOML_INTEGER);
        v->u.integer = ll;
    }
    p->pos += n;
    return v;
}

/* ---- tables ---- */

static struct berth_toml_value *parse_value(struct parser *p, int depth);

/*
 * Inserts v under table t at key k (dotted). Intermediate tables are created as "dotted" in
 * the current section; an existing one may be reused only if it is such a table from this
 * same section, or a table that so far exists only implicitly (as a parent of a [header]).
 * Takes ownership of v in all cases.
 */
static int insert_dotted(struct parser *p, struct berth_toml_value *t, const struct key *k,
                         struct berth_toml_value *v, int line)
{
    _cleanup_(berth_toml_freep) struct berth_toml_value *owned = v;

    for (size_t i = 0; i + 1 < k->n; i++) {
        struct berth_toml_value *c = table_find(t, k->parts[i]);
        if (!c) {
            c = val_new(BERTH_TOML_TABLE);
            c->priv_flags = T_DOTTED;
            c->priv_section = p->section;
            table_put(t, k->parts[i], c);
        } else if (c->type == BERTH_TOML_TABLE && !(c->priv_flags & (T_INLINE | T_HEADER)) &&
                   (!(c->priv_flags & T_DOTTED) || c->priv_section == p->section)) {
            c->priv_flags |= T_DOTTED;
            c->priv_section = p->section;
        } else {
            _cleanup_free_ char *full = key_join(k, k->n);
            _cleanup_free_ char *part = key_join(k, i + 1);
            return perr(p, line, "key \"%s\": \"%s\" is already defined and cannot be extended",
                        full, part);
        }
        t = c;
    }
    if (table_find(t, k->parts[k->n - 1])) {
        _cleanup_free_ char *full = key_join(k, k->n);
        return perr(p, line, "duplicate key \"%s\"", full);
    }
    table_put(t, k->parts[k->n - 1], steal_ptr(owned));
    return 0;
}

/* key = value, inserted into t. */
static int parse_keyval(struct parser *p, struct berth_toml_value *t, int depth)
{
    _cleanup_(key_clear) struct key k = {0};
    struct berth_toml_value *v;
    int line = p->line;

    if (parse_key(p, &k) < 0)
        return -1;
    if (peekc(p, 0) != '=') {
        _cleanup_free_ char *full = key_join(&k, k.n);
        return perr(p, line, "expected \"=\" after key \"%s\"", full);
    }
    p->pos++;
    skip_ws(p);
    v = parse_value(p, depth);
    if (!v)
        return -1;
    return insert_dotted(p, t, &k, v, line);
}

static struct berth_toml_value *parse_inline_table(struct parser *p, int depth)
{
    _cleanup_(berth_toml_freep) struct berth_toml_value *t = val_new(BERTH_TOML_TABLE);
    unsigned int saved = p->section;

    p->pos++; /* '{' */
    p->section = ++p->next_section;
    skip_ws(p);
    while (peekc(p, 0) != '}') {
        if (parse_keyval(p, t, depth + 1) < 0)
            return NULL;
        skip_ws(p);
        if (peekc(p, 0) == '}')
            break;
        if (peekc(p, 0) != ',') {
            perr_at(p, "expected \",\" or \"}\" in inline table");
            return NULL;
        }
        p->pos++;
        skip_ws(p);
        if (peekc(p, 0) == '}') {
            perr(p, p->line, "trailing comma in inline table");
            return NULL;
        }
    }
    p->pos++; /* '}' */
    p->section = saved;
    t->priv_flags = T_INLINE;
    return steal_ptr(t);
}

static struct berth_toml_value *parse_array(struct parser *p, int depth)
{
    _cleanup_(berth_toml_freep) struct berth_toml_value *a = val_new(BERTH_TOML_ARRAY);

    p->pos++; /* '[' */
    for (;;) {
        struct berth_toml_value *v;

        if (skip_ws_nl(p) < 0)
            return NULL;
        if (peekc(p, 0) == ']') {
            p->pos++;
            return steal_ptr(a);
        }
        v = parse_value(p, depth + 1);
        if (!v)
            return NULL;
        array_push(a, v);
        if (skip_ws_nl(p) < 0)
            return NULL;
        if (peekc(p, 0) == ',') {
            p->pos++;
        } else if (peekc(p, 0) != ']') {
            perr_at(p, "expected \",\" or \"]\" in array");
            return NULL;
        }
    }
}

static struct berth_toml_value *parse_value(struct parser *p, int depth)
{
    char c = peekc(p, 0);
    struct berth_toml_value *v;
    char *s;

    if (depth > MAX_DEPTH) {
        perr(p, p->line, "values nested deeper than %d levels", MAX_DEPTH);
        return NULL;
    }
    switch (c) {
    case '"':
    case '\'':
        s = peekc(p, 1) == c && peekc(p, 2) == c ? parse_string_multi(p) : parse_string_line(p);
        if (!s)
            return NULL;
        v = val_new(BERTH_TOML_STRING);
        v->u.str = s;
        return v;
    case '[':
        return parse_array(p, depth);
    case '{':
        return parse_inline_table(p, depth);
    case 't':
    case 'f': {
        bool b = c == 't';
        size_t n = b ? 4 : 5;
        if (p->len - p->pos >= n && strncmp(p->s + p->pos, b ? "true" : "false", n) == 0 &&
            !is_bare_key_char(peekc(p, n))) {
            p->pos += n;
            v = val_new(BERTH_TOML_BOOL);
            v->u.boolean = b;
            return v;
        }
        break;
    }
    default:
        if (is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n')
            return parse_number_or_date(p);
        break;
    }
    perr_at(p, at_eof(p) || at_newline(p) ? "missing value" : "invalid value");
    return NULL;
}

/* [a.b.c] or [[a.b.c]]: walks/creates the path from the root and makes it current. */
static int parse_header(struct parser *p)
{
    _cleanup_(key_clear) struct key k = {0};
    _cleanup_free_ char *name = NULL;
    bool aot = peekc(p, 1) == '[';
    int line = p->line;
    struct berth_toml_value *t = p->root, *c;

    p->pos += aot ? 2 : 1;
    if (parse_key(p, &k) < 0)
        return -1;
    name = key_join(&k, k.n);
    if (peekc(p, 0) != ']' || (aot && peekc(p, 1) != ']'))
        return perr_at(p, aot ? "expected \"]]\" after table name"
                              : "expected \"]\" after table name");
    p->pos += aot ? 2 : 1;

    for (size_t i = 0; i + 1 < k.n; i++) {
        c = table_find(t, k.parts[i]);
        if (!c) {
            c = val_new(BERTH_TOML_TABLE); /* implicit: may still get its own [header] */
            table_put(t, k.parts[i], c);
        } else if (c->type == BERTH_TOML_ARRAY && (c->priv_flags & A_TABLES)) {
            c = c->u.array.items[c->u.array.n - 1]; /* [a.b] after [[a]] extends the last a */
        } else if (c->type != BERTH_TOML_TABLE || (c->priv_flags & T_INLINE)) {
            _cleanup_free_ char *part = key_join(&k, i + 1);
            return perr(p, line, "table \"%s\": \"%s\" is not a table that can be extended", name,
                        part);
        }
        t = c;
    }

    c = table_find(t, k.parts[k.n - 1]);
    if (aot) {
        struct berth_toml_value *elem;

        if (!c) {
            c = val_new(BERTH_TOML_ARRAY);
            c->priv_flags = A_TABLES;
            table_put(t, k.parts[k.n - 1], c);
        } else if (c->type != BERTH_TOML_ARRAY || !(c->priv_flags & A_TABLES)) {
            return perr(p, line, "array of tables \"%s\" conflicts with an existing key", name);
        }
        elem = val_new(BERTH_TOML_TABLE);
        elem->priv_flags = T_HEADER;
        array_push(c, elem);
        t = elem;
    } else {
        if (!c) {
            c = val_new(BERTH_TOML_TABLE);
            table_put(t, k.parts[k.n - 1], c);
        } else if (c->type != BERTH_TOML_TABLE ||
                   (c->priv_flags & (T_HEADER | T_DOTTED | T_INLINE))) {
            return perr(p, line, "table \"%s\" already defined", name);
        }
        c->priv_flags |= T_HEADER; /* an implicit table becomes defined exactly once */
        t = c;
    }
    p->cur = t;
    p->section = ++p->next_section;
    return 0;
}

int berth_toml_parse(const char *text, size_t len, struct berth_toml_value **out,
                     struct berth_err **err)
{
    _cleanup_(berth_toml_freep) struct berth_toml_value *root = val_new(BERTH_TOML_TABLE);
    struct parser p = {.s = text, .len = len, .line = 1, .root = root, .cur = root, .err = err};

    *out = NULL;
    if (!text && len)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "config: no text");
    if (check_utf8(&p) < 0)
        return -1;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        p.pos = 3; /* byte order mark */

    while (!at_eof(&p)) {
        skip_ws(&p);
        if (at_eof(&p))
            break;
        if (peekc(&p, 0) == '#') {
            if (skip_comment(&p) < 0)
                return -1;
        } else if (at_newline(&p)) {
            /* blank line */
        } else if (peekc(&p, 0) == '[') {
            if (parse_header(&p) < 0)
                return -1;
        } else if (parse_keyval(&p, p.cur, 0) < 0) {
            return -1;
        }
        if (expect_eol(&p) < 0)
            return -1;
    }
    *out = steal_ptr(root);
    return 0;
}

/* ---- lookups ---- */

const struct berth_toml_value *berth_toml_get_path(const struct berth_toml_value *table, ...)
{
    const struct berth_toml_value *v = table;
    const char *k;
    va_list ap;

    va_start(ap, table);
    while (v && (k = va_arg(ap, const char *)))
        v = berth_toml_get(v, k);
    va_end(ap);
    return v;
}

const char *berth_toml_type_name(enum berth_toml_type type)
{
    switch (type) {
    case BERTH_TOML_STRING:
        return "string";
    case BERTH_TOML_INTEGER:
        return "integer";
    case BERTH_TOML_FLOAT:
        return "float";
    case BERTH_TOML_BOOL:
        return "boolean";
    case BERTH_TOML_DATETIME:
        return "datetime";
    case BERTH_TOML_ARRAY:
        return "array";
    case BERTH_TOML_TABLE:
        return "table";
    }
    return "unknown";
}

static int get_typed(const struct berth_toml_value *table, const char *key,
                     enum berth_toml_type want, const struct berth_toml_value **v,
                     struct berth_err **err)
{
    *v = berth_toml_get(table, key);
    if (!*v)
        return 0;
    if ((*v)->type != want)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "key \"%s\": expected %s, got %s",
                             key, berth_toml_type_name(want), berth_toml_type_name((*v)->type));
    return 1;
}

int berth_toml_get_string(const struct berth_toml_value *table, const char *key, const char **out,
                          struct berth_err **err)
{
    const struct berth_toml_value *v;
    int r = get_typed(table, key, BERTH_TOML_STRING, &v, err);

    if (r == 1)
        *out = v->u.str;
    return r;
}

int berth_toml_get_int(const struct berth_toml_value *table, const char *key, int64_t *out,
                       struct berth_err **err)
{
    const struct berth_toml_value *v;
    int r = get_typed(table, key, BERTH_TOML_INTEGER, &v, err);

    if (r == 1)
        *out = v->u.integer;
    return r;
}

int berth_toml_get_bool(const struct berth_toml_value *table, const char *key, bool *out,
                        struct berth_err **err)
{
    const struct berth_toml_value *v;
    int r = get_typed(table, key, BERTH_TOML_BOOL, &v, err);

    if (r == 1)
        *out = v->u.boolean;
    return r;
}
