/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Recursive-descent TOML 1.0 parser. The table-definition rules (no redefinition, dotted keys
 * may only extend tables they created in the same section, inline tables are frozen) are
 * tracked with per-table flags; see insert_dotted() and parse_header(). Scalars are lexed in
 * toml-scalar.c.
 */
#include "lib/toml.h"

#include <stdarg.h>
#include <string.h>

#include "lib/toml-internal.h"

#define MAX_DEPTH     64 /* nesting of arrays / inline tables: bounds the recursion */
#define MAX_KEY_PARTS 64 /* components in one dotted key or header */

/* priv_flags of tables */
#define T_HEADER 0x1u /* defined by [header] or as an [[array]] element */
#define T_DOTTED 0x2u /* created (or claimed) by a dotted key in priv_section */
#define T_INLINE 0x4u /* inline table: closed for good */
/* priv_flags of arrays */
#define A_TABLES 0x8u /* created by [[header]]; may be appended to */

/* ---- values ---- */

struct berth_toml_value *berth_toml_value_new(enum berth_toml_type type)
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

/* ---- line structure ---- */

static int skip_comment(struct toml_parser *p)
{
    p->pos++; /* '#' */
    while (!at_eof(p) && !at_newline(p)) {
        if (is_bad_ctrl((unsigned char)p->s[p->pos]))
            return berth_toml_perr(p, p->line, "control character in comment");
        p->pos++;
    }
    return 0;
}

/* Skips whitespace, comments and newlines (inside arrays). */
static int skip_ws_nl(struct toml_parser *p)
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
static int expect_eol(struct toml_parser *p)
{
    skip_ws(p);
    if (peekc(p, 0) == '#' && skip_comment(p) < 0)
        return -1;
    if (at_eof(p))
        return 0;
    if (!at_newline(p))
        return berth_toml_perr_at(p, "unexpected text after value");
    eat_newline(p);
    return 0;
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
    struct toml_sbuf b = {0};

    for (size_t i = 0; i < upto; i++) {
        if (i)
            sb_putc(&b, '.');
        sb_put(&b, k->parts[i], strlen(k->parts[i]));
    }
    return sb_steal(&b);
}

static int parse_key(struct toml_parser *p, struct key *k)
{
    k->n = 0;
    for (;;) {
        char c, *part;

        skip_ws(p);
        c = peekc(p, 0);
        if (k->n == MAX_KEY_PARTS)
            return berth_toml_perr(p, p->line, "key has more than %d parts", MAX_KEY_PARTS);
        if (c == '"' || c == '\'') {
            if (peekc(p, 1) == c && peekc(p, 2) == c)
                return berth_toml_perr(p, p->line, "multi-line string cannot be a key");
            part = berth_toml_lex_string_line(p);
            if (!part)
                return -1;
        } else if (is_bare_key_char(c)) {
            size_t start = p->pos;
            while (is_bare_key_char(peekc(p, 0)))
                p->pos++;
            part = berth_xstrndup(p->s + start, p->pos - start);
        } else {
            return berth_toml_perr_at(p, "expected a key");
        }
        k->parts[k->n++] = part;
        skip_ws(p);
        if (peekc(p, 0) != '.')
            return 0;
        p->pos++;
    }
}

/* ---- tables ---- */

static struct berth_toml_value *parse_value(struct toml_parser *p, int depth);

/*
 * Inserts v under table t at key k (dotted). Intermediate tables are created as "dotted" in
 * the current section; an existing one may be reused only if it is such a table from this
 * same section, or a table that so far exists only implicitly (as a parent of a [header]).
 * Takes ownership of v in all cases.
 */
static int insert_dotted(struct toml_parser *p, struct berth_toml_value *t, const struct key *k,
                         struct berth_toml_value *v, int line)
{
    _cleanup_(berth_toml_freep) struct berth_toml_value *owned = v;

    for (size_t i = 0; i + 1 < k->n; i++) {
        struct berth_toml_value *c = table_find(t, k->parts[i]);
        if (!c) {
            c = berth_toml_value_new(BERTH_TOML_TABLE);
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
            return berth_toml_perr(p, line,
                                   "key \"%s\": \"%s\" is already defined and cannot be extended",
                                   full, part);
        }
        t = c;
    }
    if (table_find(t, k->parts[k->n - 1])) {
        _cleanup_free_ char *full = key_join(k, k->n);
        return berth_toml_perr(p, line, "duplicate key \"%s\"", full);
    }
    table_put(t, k->parts[k->n - 1], steal_ptr(owned));
    return 0;
}

/* key = value, inserted into t. */
static int parse_keyval(struct toml_parser *p, struct berth_toml_value *t, int depth)
{
    _cleanup_(key_clear) struct key k = {0};
    struct berth_toml_value *v;
    int line = p->line;

    if (parse_key(p, &k) < 0)
        return -1;
    if (peekc(p, 0) != '=') {
        _cleanup_free_ char *full = key_join(&k, k.n);
        return berth_toml_perr(p, line, "expected \"=\" after key \"%s\"", full);
    }
    p->pos++;
    skip_ws(p);
    v = parse_value(p, depth);
    if (!v)
        return -1;
    return insert_dotted(p, t, &k, v, line);
}

static struct berth_toml_value *parse_inline_table(struct toml_parser *p, int depth)
{
    _cleanup_(berth_toml_freep) struct berth_toml_value *t = berth_toml_value_new(BERTH_TOML_TABLE);
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
            berth_toml_perr_at(p, "expected \",\" or \"}\" in inline table");
            return NULL;
        }
        p->pos++;
        skip_ws(p);
        if (peekc(p, 0) == '}') {
            berth_toml_perr(p, p->line, "trailing comma in inline table");
            return NULL;
        }
    }
    p->pos++; /* '}' */
    p->section = saved;
    t->priv_flags = T_INLINE;
    return steal_ptr(t);
}

static struct berth_toml_value *parse_array(struct toml_parser *p, int depth)
{
    _cleanup_(berth_toml_freep) struct berth_toml_value *a = berth_toml_value_new(BERTH_TOML_ARRAY);

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
            berth_toml_perr_at(p, "expected \",\" or \"]\" in array");
            return NULL;
        }
    }
}

static struct berth_toml_value *parse_value(struct toml_parser *p, int depth)
{
    char c = peekc(p, 0);
    struct berth_toml_value *v;
    char *s;

    if (depth > MAX_DEPTH) {
        berth_toml_perr(p, p->line, "values nested deeper than %d levels", MAX_DEPTH);
        return NULL;
    }
    switch (c) {
    case '"':
    case '\'':
        s = peekc(p, 1) == c && peekc(p, 2) == c ? berth_toml_lex_string_multi(p)
                                                 : berth_toml_lex_string_line(p);
        if (!s)
            return NULL;
        v = berth_toml_value_new(BERTH_TOML_STRING);
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
            v = berth_toml_value_new(BERTH_TOML_BOOL);
            v->u.boolean = b;
            return v;
        }
        break;
    }
    default:
        if (is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n')
            return berth_toml_lex_number(p);
        break;
    }
    berth_toml_perr_at(p, at_eof(p) || at_newline(p) ? "missing value" : "invalid value");
    return NULL;
}

/* [a.b.c] or [[a.b.c]]: walks/creates the path from the root and makes it current. */
static int parse_header(struct toml_parser *p)
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
        return berth_toml_perr_at(p, aot ? "expected \"]]\" after table name"
                                         : "expected \"]\" after table name");
    p->pos += aot ? 2 : 1;

    for (size_t i = 0; i + 1 < k.n; i++) {
        c = table_find(t, k.parts[i]);
        if (!c) {
            c = berth_toml_value_new(
                BERTH_TOML_TABLE); /* implicit: may still get its own [header] */
            table_put(t, k.parts[i], c);
        } else if (c->type == BERTH_TOML_ARRAY && (c->priv_flags & A_TABLES)) {
            c = c->u.array.items[c->u.array.n - 1]; /* [a.b] after [[a]] extends the last a */
        } else if (c->type != BERTH_TOML_TABLE || (c->priv_flags & T_INLINE)) {
            _cleanup_free_ char *part = key_join(&k, i + 1);
            return berth_toml_perr(
                p, line, "table \"%s\": \"%s\" is not a table that can be extended", name, part);
        }
        t = c;
    }

    c = table_find(t, k.parts[k.n - 1]);
    if (aot) {
        struct berth_toml_value *elem;

        if (!c) {
            c = berth_toml_value_new(BERTH_TOML_ARRAY);
            c->priv_flags = A_TABLES;
            table_put(t, k.parts[k.n - 1], c);
        } else if (c->type != BERTH_TOML_ARRAY || !(c->priv_flags & A_TABLES)) {
            return berth_toml_perr(p, line, "array of tables \"%s\" conflicts with an existing key",
                                   name);
        }
        elem = berth_toml_value_new(BERTH_TOML_TABLE);
        elem->priv_flags = T_HEADER;
        array_push(c, elem);
        t = elem;
    } else {
        if (!c) {
            c = berth_toml_value_new(BERTH_TOML_TABLE);
            table_put(t, k.parts[k.n - 1], c);
        } else if (c->type != BERTH_TOML_TABLE ||
                   (c->priv_flags & (T_HEADER | T_DOTTED | T_INLINE))) {
            return berth_toml_perr(p, line, "table \"%s\" already defined", name);
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
    _cleanup_(berth_toml_freep) struct berth_toml_value *root =
        berth_toml_value_new(BERTH_TOML_TABLE);
    struct toml_parser p = {
        .s = text, .len = len, .line = 1, .root = root, .cur = root, .err = err};

    *out = NULL;
    if (!text && len)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "config: no text");
    if (berth_toml_check_utf8(&p) < 0)
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
