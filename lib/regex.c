/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Go-syntax regular expressions, the parser: it follows Go's regexp/syntax parse loop (same
 * tokens, same errors) but drives the NFA builder (regex-prog.c) instead of building a tree;
 * regex-match.c runs the result. The parse stack is a heap array, so nothing recurses.
 */
#include "lib/regex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/regex-internal.h"
#include "lib/utf8.h"
#include "lib/util.h"

static const uint32_t g_digit[] = {'0', '9'};
static const uint32_t g_space[] = {'\t', '\n', '\f', '\r', ' ', ' '}; /* Go's \s: no \v */
static const uint32_t g_word[] = {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'};
static const uint32_t g_alnum[] = {'0', '9', 'A', 'Z', 'a', 'z'};
static const uint32_t g_alpha[] = {'A', 'Z', 'a', 'z'};
static const uint32_t g_ascii[] = {0, 0x7f};
static const uint32_t g_blank[] = {'\t', '\t', ' ', ' '};
static const uint32_t g_cntrl[] = {0, 0x1f, 0x7f, 0x7f};
static const uint32_t g_graph[] = {'!', '~'};
static const uint32_t g_lower[] = {'a', 'z'};
static const uint32_t g_print[] = {' ', '~'};
static const uint32_t g_punct[] = {'!', '/', ':', '@', '[', '`', '{', '~'};
static const uint32_t g_pspace[] = {'\t', '\r', ' ', ' '};
static const uint32_t g_upper[] = {'A', 'Z'};
static const uint32_t g_xdigit[] = {'0', '9', 'A', 'F', 'a', 'f'};

#define GROUP(name, sign, r)                                                                       \
    {                                                                                              \
        name, sign, r, BERTH_N(r) / 2                                                              \
    }

static const struct regex_group perl_groups[] = {
    GROUP("\\d", +1, g_digit), GROUP("\\D", -1, g_digit), GROUP("\\s", +1, g_space),
    GROUP("\\S", -1, g_space), GROUP("\\w", +1, g_word),  GROUP("\\W", -1, g_word),
};

static const struct regex_group posix_groups[] = {
    GROUP("alnum", +1, g_alnum), GROUP("alpha", +1, g_alpha),   GROUP("ascii", +1, g_ascii),
    GROUP("blank", +1, g_blank), GROUP("cntrl", +1, g_cntrl),   GROUP("digit", +1, g_digit),
    GROUP("graph", +1, g_graph), GROUP("lower", +1, g_lower),   GROUP("print", +1, g_print),
    GROUP("punct", +1, g_punct), GROUP("space", +1, g_pspace),  GROUP("upper", +1, g_upper),
    GROUP("word", +1, g_word),   GROUP("xdigit", +1, g_xdigit),
};

/* ---- the parser proper (Go's parse loop) ---- */

static int unhex(uint32_t c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (int)(c - 'A' + 10);
    return -1;
}

/* The rune at pos (the pattern is known to be valid UTF-8); advances pos. */
static uint32_t next_rune(struct regex_parser *p)
{
    size_t w;
    int32_t c = berth_utf8_decode((const unsigned char *)p->pat + p->pos, p->len - p->pos, &w);
    p->pos += w;
    return (uint32_t)c;
}

/* Go's parseEscape: pos at the backslash; sets *r to the escaped rune. */
static int parse_escape(struct regex_parser *p, uint32_t *r)
{
    size_t start = p->pos;
    uint32_t c;

    p->pos++;
    if (p->pos >= p->len)
        return berth_regex_err(p, "trailing backslash at end of expression");
    c = next_rune(p);
    if (c < 0x80 && !regex_is_alnum(c)) { /* escaped punctuation is itself */
        *r = c;
        return 0;
    }
    switch (c) {
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
        /* a lone digit would be a backreference: Go has none */
        if (p->pos >= p->len || p->pat[p->pos] < '0' || p->pat[p->pos] > '7')
            break;
        /* fallthrough */
    case '0':
        *r = c - '0';
        for (int i = 1; i < 3 && p->pos < p->len && p->pat[p->pos] >= '0' && p->pat[p->pos] <= '7';
             i++)
            *r = *r * 8 + (uint32_t)(p->pat[p->pos++] - '0');
        return 0;
    case 'x': {
        if (p->pos >= p->len)
            break;
        c = next_rune(p);
        if (c == '{') {
            int nhex = 0;
            *r = 0;
            for (;;) {
                if (p->pos >= p->len)
                    return berth_regex_perr(p, "invalid escape sequence", start, p->pos);
                c = next_rune(p);
                if (c == '}')
                    break;
                int v = unhex(c);
                if (v < 0)
                    return berth_regex_perr(p, "invalid escape sequence", start, p->pos);
                *r = *r * 16 + (uint32_t)v;
                if (*r > 0x10ffff)
                    return berth_regex_perr(p, "invalid escape sequence", start, p->pos);
                nhex++;
            }
            if (nhex == 0)
                break;
            return 0;
        }
        int x = unhex(c), y = -1;
        if (p->pos < p->len)
            y = unhex(next_rune(p));
        if (x < 0 || y < 0)
            break;
        *r = (uint32_t)(x * 16 + y);
        return 0;
    }
    case 'a':
        *r = '\a';
        return 0;
    case 'f':
        *r = '\f';
        return 0;
    case 'n':
        *r = '\n';
        return 0;
    case 'r':
        *r = '\r';
        return 0;
    case 't':
        *r = '\t';
        return 0;
    case 'v':
        *r = '\v';
        return 0;
    }
    return berth_regex_perr(p, "invalid escape sequence", start, p->pos);
}

static const struct regex_group *perl_group_at(const struct regex_parser *p, size_t pos)
{
    if (p->len - pos < 2 || p->pat[pos] != '\\')
        return NULL;
    for (size_t i = 0; i < BERTH_N(perl_groups); i++)
        if (p->pat[pos + 1] == perl_groups[i].name[1])
            return &perl_groups[i];
    return NULL;
}

/* \p and \P: Go's Unicode tables are not here. Sets an error when pos starts one. */
static int refuse_unicode_class(struct regex_parser *p, size_t pos)
{
    size_t end;

    if (p->len - pos < 2 || p->pat[pos] != '\\' ||
        (p->pat[pos + 1] != 'p' && p->pat[pos + 1] != 'P'))
        return 0;
    end = pos + 2;
    if (end < p->len && p->pat[end] == '{') {
        const char *close = memchr(p->pat + end, '}', p->len - end);
        end = close ? (size_t)(close - p->pat) + 1 : p->len;
    } else if (end < p->len) {
        size_t w;
        berth_utf8_decode((const unsigned char *)p->pat + end, p->len - end, &w);
        end += w;
    }
    return berth_regex_perr(p, "unsupported in berth: Unicode character class", pos, end);
}

/* Go's parseClass: pos at '['. */
static int parse_class(struct regex_parser *p)
{
    size_t start = p->pos;
    bool negate = false, first = true;

    p->pos++;
    p->n_cls = 0;
    if (p->pos < p->len && p->pat[p->pos] == '^') {
        negate = true;
        p->pos++;
    }
    while (p->pos >= p->len || p->pat[p->pos] != ']' || first) {
        first = false;
        /* [:alnum:] and friends; a '[' with no ":]" after it is a plain '[' */
        if (p->len - p->pos > 2 && p->pat[p->pos] == '[' && p->pat[p->pos + 1] == ':') {
            const char *q = p->pat + p->pos + 2, *end = NULL;
            for (const char *t = q; t + 1 < p->pat + p->len; t++)
                if (t[0] == ':' && t[1] == ']') {
                    end = t;
                    break;
                }
            if (end) {
                bool neg = *q == '^';
                const char *name = q + neg;
                size_t nlen = (size_t)(end - name);
                const struct regex_group *g = NULL;
                for (size_t i = 0; i < BERTH_N(posix_groups); i++)
                    if (strlen(posix_groups[i].name) == nlen &&
                        memcmp(posix_groups[i].name, name, nlen) == 0)
                        g = &posix_groups[i];
                if (!g)
                    return berth_regex_perr(p, "invalid character class range", p->pos,
                                            (size_t)(end - p->pat) + 2);
                berth_regex_cls_add_group(p, g, neg ? -g->sign : g->sign);
                p->pos = (size_t)(end - p->pat) + 2;
                continue;
            }
        }
        if (refuse_unicode_class(p, p->pos) < 0)
            return -1;
        const struct regex_group *g = perl_group_at(p, p->pos);
        if (g) {
            berth_regex_cls_add_group(p, g, g->sign);
            p->pos += 2;
            continue;
        }
        /* a single character or a range lo-hi */
        size_t rng = p->pos;
        uint32_t lo, hi;
        if (p->pos >= p->len)
            return berth_regex_perr(p, "missing closing ]", start, p->len);
        if (p->pat[p->pos] == '\\') {
            if (parse_escape(p, &lo) < 0)
                return -1;
        } else {
            lo = next_rune(p);
        }
        hi = lo;
        if (p->len - p->pos >= 2 && p->pat[p->pos] == '-' && p->pat[p->pos + 1] != ']') {
            p->pos++;
            if (p->pos >= p->len)
                return berth_regex_perr(p, "missing closing ]", start, p->len);
            if (p->pat[p->pos] == '\\') {
                if (parse_escape(p, &hi) < 0)
                    return -1;
            } else {
                hi = next_rune(p);
            }
            if (hi < lo)
                return berth_regex_perr(p, "invalid character class range", rng, p->pos);
        }
        if (berth_regex_cls_add_folded(p, lo, hi, rng, p->pos) < 0)
            return -1;
    }
    p->pos++; /* ']' */
    berth_regex_cls_clean(p, 0);
    if (negate)
        berth_regex_cls_negate(p, 0);
    return berth_regex_push_class(p, SH_OTHER);
}

/* Go's parseInt: decimal without leading zeros; -1 when absurdly large. */
static bool parse_int(struct regex_parser *p, int *n)
{
    if (p->pos >= p->len || p->pat[p->pos] < '0' || p->pat[p->pos] > '9')
        return false;
    if (p->len - p->pos >= 2 && p->pat[p->pos] == '0' && p->pat[p->pos + 1] >= '0' &&
        p->pat[p->pos + 1] <= '9')
        return false;
    *n = 0;
    while (p->pos < p->len && p->pat[p->pos] >= '0' && p->pat[p->pos] <= '9') {
        if (*n >= 100000000)
            *n = -1;
        else if (*n >= 0)
            *n = *n * 10 + (p->pat[p->pos] - '0');
        p->pos++;
    }
    return true;
}

/* Go's parseRepeat: {n}, {n,} or {n,m} at pos; false (pos unchanged) if it is not one. */
static bool parse_repeat(struct regex_parser *p, int *min, int *max)
{
    size_t save = p->pos;

    p->pos++;
    if (!parse_int(p, min) || p->pos >= p->len)
        goto no;
    if (p->pat[p->pos] != ',') {
        *max = *min;
    } else {
        p->pos++;
        if (p->pos >= p->len)
            goto no;
        if (p->pat[p->pos] == '}') {
            *max = -1;
        } else if (!parse_int(p, max)) {
            goto no;
        } else if (*max < 0) {
            *min = -1;
        }
    }
    if (p->pos >= p->len || p->pat[p->pos] != '}')
        goto no;
    p->pos++;
    return true;
no:
    p->pos = save;
    return false;
}

static int push_lparen(struct regex_parser *p, bool capture, unsigned saved_flags)
{
    if (capture) {
        /* every open capture adds a level above whatever it will hold, so this many open ones
         * are already too deep: refuse now instead of stacking up 20000 of them */
        if (++p->open_caps >= BERTH_REGEX_MAX_DEPTH)
            return berth_regex_err_too_deep(p);
    }
    struct regex_entry *e = berth_regex_push_entry(p, ENT_LPAREN);
    e->capture = capture;
    e->flags = (uint8_t)saved_flags;
    return 0;
}

static bool is_capture_name(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_' && !regex_is_alnum((unsigned char)s[i]))
            return false;
    return true;
}

/* Go's parsePerlFlags: pos at "(?". */
static int parse_perl_flags(struct regex_parser *p)
{
    const char *t = p->pat + p->pos;
    size_t n = p->len - p->pos, start = p->pos;
    unsigned flags = p->flags;
    int sign = +1;
    bool saw_flag = false;

    if ((n > 4 && t[2] == 'P' && t[3] == '<') || (n > 3 && t[2] == '<')) {
        size_t name_at = t[2] == 'P' ? 4 : 3;
        const char *end = memchr(t, '>', n);
        if (!end)
            return berth_regex_perr(p, "invalid named capture", start, p->len);
        if (!is_capture_name(t + name_at, (size_t)(end - t) - name_at))
            return berth_regex_perr(p, "invalid named capture", start,
                                    start + (size_t)(end - t) + 1);
        p->pos = start + (size_t)(end - t) + 1;
        return push_lparen(p, true, p->flags);
    }
    p->pos += 2;
    while (p->pos < p->len) {
        uint32_t c = next_rune(p);
        switch (c) {
        case 'i':
            flags = sign > 0 ? flags | F_FOLD : flags & ~F_FOLD;
            saw_flag = true;
            continue;
        case 'm': /* multi-line: ^ and $ at line ends, i.e. not OneLine */
            flags = sign > 0 ? flags & ~F_ONELINE : flags | F_ONELINE;
            saw_flag = true;
            continue;
        case 's':
            flags = sign > 0 ? flags | F_DOTNL : flags & ~F_DOTNL;
            saw_flag = true;
            continue;
        case 'U':
            flags = sign > 0 ? flags | F_NONGREEDY : flags & ~F_NONGREEDY;
            saw_flag = true;
            continue;
        case '-':
            if (sign < 0)
                break;
            sign = -1;
            saw_flag = false;
            continue;
        case ':':
        case ')':
            if (sign < 0 && !saw_flag)
                break;
            if (c == ':' && push_lparen(p, false, p->flags) < 0)
                return -1;
            p->flags = flags;
            return 0;
        default:
            break;
        }
        break;
    }
    return berth_regex_perr(p, "invalid or unsupported Perl syntax", start, p->pos);
}

static int parse_right_paren(struct regex_parser *p)
{
    if (berth_regex_reduce_concat(p) < 0 || berth_regex_reduce_alternate(p) < 0)
        return -1;
    if (p->n_st < 2 || p->st[p->n_st - 2].kind != ENT_LPAREN)
        return berth_regex_perr(p, "unexpected )", 0, p->len);
    struct regex_entry lp = p->st[p->n_st - 2], x = p->st[p->n_st - 1];
    p->n_st -= 2;
    p->flags = lp.flags;
    if (lp.capture) {
        p->open_caps--;
        x.height++;
        x.shape = SH_OTHER;
    }
    p->st[p->n_st++] = x;
    return berth_regex_check_height(p, &x);
}

/* *, +, ?, {n,m} at pos; last_repeat is where the previous token's repetition began, if the
 * previous token was one (SIZE_MAX otherwise). */
static int parse_repetition(struct regex_parser *p, int min, int max, bool counted, size_t before,
                            size_t last_repeat)
{
    if (p->pos < p->len && p->pat[p->pos] == '?') /* non-greedy: same match/no-match answer */
        p->pos++;
    if (last_repeat != SIZE_MAX)
        return berth_regex_perr(p, "invalid nested repetition operator", last_repeat, p->pos);
    if (p->n_st == 0 || p->st[p->n_st - 1].kind != ENT_ITEM)
        return berth_regex_perr(p, "missing argument to repetition operator", before, p->pos);
    return berth_regex_apply_repeat(p, min, max, counted, before, p->pos);
}

static int parse_backslash(struct regex_parser *p)
{
    size_t start = p->pos;
    uint32_t c;

    if (p->len - p->pos >= 2) {
        switch (p->pat[p->pos + 1]) {
        case 'A':
            p->pos += 2;
            return berth_regex_push_inst(p, I_EMPTY, P_BEGIN_TEXT, SH_OTHER);
        case 'b':
            p->pos += 2;
            return berth_regex_push_inst(p, I_EMPTY, P_WORD, SH_OTHER);
        case 'B':
            p->pos += 2;
            return berth_regex_push_inst(p, I_EMPTY, P_NOT_WORD, SH_OTHER);
        case 'C': /* any byte: Go refuses it */
            return berth_regex_perr(p, "invalid escape sequence", start, start + 2);
        case 'Q': { /* \Q...\E: literal text up to \E or the end */
            p->pos += 2;
            while (p->pos < p->len) {
                if (p->len - p->pos >= 2 && p->pat[p->pos] == '\\' && p->pat[p->pos + 1] == 'E') {
                    p->pos += 2;
                    break;
                }
                size_t at = p->pos;
                if (berth_regex_push_literal(p, next_rune(p), at) < 0)
                    return -1;
            }
            return 0;
        }
        case 'z':
            p->pos += 2;
            return berth_regex_push_inst(p, I_EMPTY, P_END_TEXT, SH_OTHER);
        }
    }
    if (refuse_unicode_class(p, p->pos) < 0)
        return -1;
    const struct regex_group *g = perl_group_at(p, p->pos);
    if (g) {
        p->pos += 2;
        p->n_cls = 0;
        berth_regex_cls_add_group(p, g, g->sign);
        return berth_regex_push_class(p, SH_OTHER);
    }
    if (parse_escape(p, &c) < 0)
        return -1;
    return berth_regex_push_literal(p, c, start);
}

static int parse(struct regex_parser *p)
{
    size_t last_repeat = SIZE_MAX;

    while (p->pos < p->len) {
        size_t repeat = SIZE_MAX, before = p->pos;
        int rc = 0, min, max;
        char c = p->pat[p->pos];

        switch (c) {
        case '(':
            if (p->len - p->pos >= 2 && p->pat[p->pos + 1] == '?') {
                rc = parse_perl_flags(p);
            } else {
                p->pos++;
                rc = push_lparen(p, true, p->flags);
            }
            break;
        case '|':
            p->pos++;
            rc = berth_regex_reduce_concat(p);
            if (rc == 0)
                berth_regex_push_entry(p, ENT_VBAR);
            break;
        case ')':
            p->pos++;
            rc = parse_right_paren(p);
            break;
        case '^':
            p->pos++;
            rc = berth_regex_push_inst(
                p, I_EMPTY, (p->flags & F_ONELINE) ? P_BEGIN_TEXT : P_BEGIN_LINE, SH_OTHER);
            break;
        case '$':
            p->pos++;
            rc = berth_regex_push_inst(p, I_EMPTY, (p->flags & F_ONELINE) ? P_END_TEXT : P_END_LINE,
                                       SH_OTHER);
            break;
        case '.':
            p->pos++;
            rc = berth_regex_push_inst(p, (p->flags & F_DOTNL) ? I_ANY : I_ANY_NOTNL, 0, SH_OTHER);
            break;
        case '[':
            rc = parse_class(p);
            break;
        case '*':
        case '+':
        case '?':
            p->pos++;
            rc = parse_repetition(p, c == '+' ? 1 : 0, c == '?' ? 1 : -1, false, before,
                                  last_repeat);
            repeat = before;
            break;
        case '{':
            if (!parse_repeat(p, &min, &max)) {
                p->pos++;
                rc = berth_regex_push_literal(p, '{', before);
                break;
            }
            if (min < 0 || min > BERTH_REGEX_MAX_REPEAT || max > BERTH_REGEX_MAX_REPEAT ||
                (max >= 0 && min > max)) {
                rc = berth_regex_perr(p, "invalid repeat count", before, p->pos);
                break;
            }
            rc = parse_repetition(p, min, max, true, before, last_repeat);
            repeat = before;
            break;
        case '\\':
            rc = parse_backslash(p);
            break;
        default:
            rc = berth_regex_push_literal(p, next_rune(p), before);
            break;
        }
        if (rc < 0)
            return -1;
        last_repeat = repeat;
    }
    if (berth_regex_reduce_concat(p) < 0 || berth_regex_reduce_alternate(p) < 0)
        return -1;
    if (p->n_st != 1)
        return berth_regex_perr(p, "missing closing )", 0, p->len);
    return 0;
}

/* The first instruction from pc on that is not a NOP (empty groups, x{0}, |): the VM then
 * never visits NOPs. Every cycle of the program passes a split, so the walk ends. */
static uint32_t skip_nops(const struct berth_regex *re, uint32_t pc)
{
    if (pc >= re->n_prog) /* the unused out of I_MATCH/I_FAIL */
        return pc;
    for (uint32_t i = 0; i < re->n_prog && re->prog[pc].op == I_NOP; i++)
        pc = re->prog[pc].out;
    return pc;
}

int berth_regex_compile(const char *pattern, struct berth_regex **out, struct berth_err **err)
{
    _cleanup_(berth_regex_freep) struct berth_regex *re = NULL;
    struct regex_parser p = {
        .pat = pattern, .len = strlen(pattern), .flags = F_ONELINE, .err = err};
    uint32_t match;
    int rc;

    *out = NULL;
    if (p.len > BERTH_REGEX_MAX_LEN)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "expression too long (%zu bytes, at most %d)", p.len,
                             BERTH_REGEX_MAX_LEN);
    for (size_t i = 0, w; i < p.len; i += w) /* Go checks as it goes; same verdict */
        if (berth_utf8_decode((const unsigned char *)pattern + i, p.len - i, &w) ==
                BERTH_UTF8_ERROR &&
            w == 1)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid UTF-8");
    re = p.re = berth_xcalloc(1, sizeof(*re));
    rc = parse(&p);
    if (rc == 0)
        rc = berth_regex_emit(&p, I_MATCH, 0, &match);
    if (rc == 0) {
        berth_regex_patch(re, p.st[0].head, match);
        re->start = skip_nops(re, p.st[0].start);
        for (uint32_t i = 0; i < re->n_prog; i++) {
            re->prog[i].out = skip_nops(re, re->prog[i].out);
            if (re->prog[i].op == I_SPLIT)
                re->prog[i].out1 = skip_nops(re, re->prog[i].out1);
        }
        re->anchored = re->prog[re->start].op == I_EMPTY && re->prog[re->start].arg == P_BEGIN_TEXT;
    }
    free(p.st);
    free(p.cls);
    if (rc < 0)
        return -1;
    *out = steal_ptr(re);
    return 0;
}

size_t berth_regex_size(const struct berth_regex *re)
{
    return re->n_prog;
}

void berth_regex_free(struct berth_regex *re)
{
    if (!re)
        return;
    free(re->prog);
    free(re->ranges);
    free(re);
}
