/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Embedding foreign JSON (an OCI spec carried in a protobuf Any) into berthctl's JSON output:
 * a strict RFC 8259 recursive-descent checker that can also re-emit the value through the
 * berthctl_json writer, so the result is one consistently indented document.
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <string.h>

#define JSON_MAX_DEPTH 256

struct jparse {
    const char *s;
    size_t len, pos;
    struct berthctl_json *w; /* NULL: only check */
};

static void skip_ws(struct jparse *p)
{
    while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]) && p->s[p->pos])
        p->pos++;
}

static bool peek(struct jparse *p, char c)
{
    return p->pos < p->len && p->s[p->pos] == c;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Scans a string token; [*start, p->pos) is the quoted token on success. */
static bool scan_string(struct jparse *p, size_t *start)
{
    *start = p->pos;
    if (!peek(p, '"'))
        return false;
    for (p->pos++; p->pos < p->len; p->pos++) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c != '\\')
            continue;
        if (++p->pos >= p->len)
            return false;
        c = (unsigned char)p->s[p->pos];
        if (c == 'u') {
            for (int i = 0; i < 4; i++)
                if (++p->pos >= p->len || !is_hex(p->s[p->pos]))
                    return false;
        } else if (!strchr("\"\\/bfnrt", c) || !c) {
            return false;
        }
    }
    return false;
}

static size_t digits(struct jparse *p)
{
    size_t n = 0;

    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        p->pos++;
        n++;
    }
    return n;
}

static bool scan_number(struct jparse *p)
{
    if (peek(p, '-'))
        p->pos++;
    if (peek(p, '0'))
        p->pos++;
    else if (digits(p) == 0)
        return false;
    if (peek(p, '.')) {
        p->pos++;
        if (digits(p) == 0)
            return false;
    }
    if (peek(p, 'e') || peek(p, 'E')) {
        p->pos++;
        if (peek(p, '+') || peek(p, '-'))
            p->pos++;
        if (digits(p) == 0)
            return false;
    }
    return true;
}

static bool parse_value(struct jparse *p, int depth);

static bool parse_object(struct jparse *p, int depth)
{
    size_t start;

    p->pos++; /* '{' */
    if (p->w)
        berthctl_json_obj_begin(p->w);
    skip_ws(p);
    if (peek(p, '}'))
        goto end;
    for (;;) {
        skip_ws(p);
        if (!scan_string(p, &start))
            return false;
        if (p->w) { /* the key token is already valid JSON: write it as-is */
            berthctl_json_token(p->w, p->s + start, p->pos - start);
            fputs(": ", p->w->f);
            p->w->after_key = true;
        }
        skip_ws(p);
        if (!peek(p, ':'))
            return false;
        p->pos++;
        if (!parse_value(p, depth + 1))
            return false;
        skip_ws(p);
        if (peek(p, '}'))
            break;
        if (!peek(p, ','))
            return false;
        p->pos++;
    }
end:
    p->pos++;
    if (p->w)
        berthctl_json_obj_end(p->w);
    return true;
}

static bool parse_array(struct jparse *p, int depth)
{
    p->pos++; /* '[' */
    if (p->w)
        berthctl_json_arr_begin(p->w);
    skip_ws(p);
    if (!peek(p, ']')) {
        for (;;) {
            if (!parse_value(p, depth + 1))
                return false;
            skip_ws(p);
            if (peek(p, ']'))
                break;
            if (!peek(p, ','))
                return false;
            p->pos++;
        }
    }
    p->pos++;
    if (p->w)
        berthctl_json_arr_end(p->w);
    return true;
}

static bool parse_literal(struct jparse *p)
{
    static const char *const lits[] = {"true", "false", "null"};

    for (size_t i = 0; i < BERTH_N(lits); i++) {
        size_t l = strlen(lits[i]);
        if (p->len - p->pos >= l && memcmp(p->s + p->pos, lits[i], l) == 0) {
            p->pos += l;
            return true;
        }
    }
    return false;
}

static bool parse_value(struct jparse *p, int depth)
{
    size_t start;
    bool ok;

    if (depth > JSON_MAX_DEPTH)
        return false;
    skip_ws(p);
    if (p->pos >= p->len)
        return false;
    if (peek(p, '{'))
        return parse_object(p, depth);
    if (peek(p, '['))
        return parse_array(p, depth);
    start = p->pos;
    if (peek(p, '"'))
        ok = scan_string(p, &start);
    else if (peek(p, '-') || (p->s[p->pos] >= '0' && p->s[p->pos] <= '9'))
        ok = scan_number(p);
    else
        ok = parse_literal(p);
    if (ok && p->w)
        berthctl_json_token(p->w, p->s + start, p->pos - start);
    return ok;
}

bool berthctl_json_valid(const char *data, size_t len)
{
    struct jparse p = {data, len, 0, NULL};

    if (!data || !parse_value(&p, 0))
        return false;
    skip_ws(&p);
    return p.pos == p.len;
}

void berthctl_json_embed(struct berthctl_json *j, const char *data, size_t len)
{
    struct jparse p = {data, len, 0, j};

    if (!berthctl_json_valid(data, len)) {
        berthctl_json_strn(j, data ? data : "", data ? len : 0);
        return;
    }
    parse_value(&p, 0);
}
