/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to lib/toml*.c: the parser state, a growable string buffer and the lexical helpers
 * shared by the structural parser (toml.c) and the scalar lexer (toml-scalar.c: strings,
 * numbers, date-times, UTF-8 checks).
 */
#ifndef BERTH_LIB_TOML_INTERNAL_H
#define BERTH_LIB_TOML_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/toml.h"
#include "lib/util.h"

struct toml_parser {
    const char *s;
    size_t len, pos;
    int line;
    struct berth_toml_value *root;
    struct berth_toml_value *cur; /* table receiving key/values */
    unsigned int section;         /* id of the current [header] section or inline table */
    unsigned int next_section;
    struct berth_err **err;
};

struct toml_sbuf {
    char *d;
    size_t n, cap;
};

static inline void sb_put(struct toml_sbuf *b, const char *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->d = berth_xrealloc(b->d, b->cap);
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
    b->d[b->n] = '\0';
}

static inline void sb_putc(struct toml_sbuf *b, char c)
{
    sb_put(b, &c, 1);
}

static inline void sb_free(struct toml_sbuf *b)
{
    free(b->d);
}

static inline char *sb_steal(struct toml_sbuf *b)
{
    if (!b->d)
        return berth_xstrdup("");
    return steal_ptr(b->d);
}

static inline char peekc(const struct toml_parser *p, size_t off)
{
    return p->pos + off < p->len ? p->s[p->pos + off] : '\0';
}

static inline bool at_eof(const struct toml_parser *p)
{
    return p->pos >= p->len;
}

static inline bool at_newline(const struct toml_parser *p)
{
    return peekc(p, 0) == '\n' || (peekc(p, 0) == '\r' && peekc(p, 1) == '\n');
}

static inline void eat_newline(struct toml_parser *p)
{
    p->pos += peekc(p, 0) == '\r' ? 2 : 1;
    p->line++;
}

static inline void skip_ws(struct toml_parser *p)
{
    while (peekc(p, 0) == ' ' || peekc(p, 0) == '\t')
        p->pos++;
}

/* Control characters TOML forbids raw in comments and strings (tab is allowed). */
static inline bool is_bad_ctrl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static inline bool is_bare_key_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Sets *p->err to BERTH_E_INVALID_ARGUMENT "config line <line>: <fmt...>"; returns -1. */
int berth_toml_perr(struct toml_parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, appending where it happened: `at "<text>"`, "at end of line" or "at end of input". */
int berth_toml_perr_at(struct toml_parser *p, const char *what);
/* A zeroed value of the given type, owned by the caller. */
struct berth_toml_value *berth_toml_value_new(enum berth_toml_type type);
/* Rejects invalid UTF-8 and NUL bytes anywhere in the input. */
int berth_toml_check_utf8(struct toml_parser *p);
/* Lexers for one scalar starting at p->pos; they advance p->pos past it. NULL (error set) on
 * failure; the returned string/value is owned by the caller. */
char *berth_toml_lex_string_line(struct toml_parser *p);
char *berth_toml_lex_string_multi(struct toml_parser *p);
struct berth_toml_value *berth_toml_lex_number(struct toml_parser *p);

#endif
