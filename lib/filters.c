/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Filter parser and matcher. A hand-written recursive-descent scanner over one filter string
 * at a time, following containerd's filters/scanner.go + parser.go grammar. Deliberate
 * differences: whitespace is skipped before every token (containerd rejects "a==1 ,b"), '-' is
 * a field character (as in containerd >= 1.7), and regexes are compiled at parse time so a bad
 * one is an error instead of a silent non-match. Regexes are lib/regex (Go syntax, linear time).
 */
#include "lib/filters.h"

#include <stdatomic.h> /* the stop state is written by concurrent matches */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/regex.h"
#include "lib/util.h"

enum sel_op { OP_PRESENT, OP_EQ, OP_NE, OP_MATCH };

struct selector {
    char **path; /* n_path components, unquoted */
    size_t n_path;
    enum sel_op op;
    char *value;            /* NULL for OP_PRESENT */
    struct berth_regex *re; /* OP_MATCH only */
};

struct conjunction { /* one filter string; n == 0 matches everything */
    struct selector *sels;
    size_t n;
};

/* Set by berth_filter_set_stop. Behind a pointer so that matching, which takes a const filter,
 * can update it: the filter stays immutable, the stop state is the one shared mutable part. */
struct filter_stop {
    bool (*done)(void *arg);
    void *arg;
    atomic_uint calls;
    atomic_bool stopped;
};

struct berth_filter {
    struct conjunction *alts;
    size_t n;
    struct filter_stop *stop; /* NULL until berth_filter_set_stop */
};

struct scanner {
    const char *in; /* the whole filter string, for messages */
    size_t pos;
};

static void selector_clear(struct selector *s)
{
    for (size_t i = 0; i < s->n_path; i++)
        free(s->path[i]);
    free(s->path);
    berth_regex_free(s->re);
    free(s->value);
}

void berth_filter_free(struct berth_filter *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        for (size_t j = 0; j < f->alts[i].n; j++)
            selector_clear(&f->alts[i].sels[j]);
        free(f->alts[i].sels);
    }
    free(f->alts);
    free(f->stop);
    free(f);
}

/* Bytes of a filter or regex quoted in an error message: the message travels back in a gRPC
 * status, whose metadata gRPC caps at a few KiB. */
#define QUOTE_MAX 200

/* printf arguments "%.*s%s" for s cut at QUOTE_MAX bytes (on a UTF-8 boundary) plus "...". */
static int quote_len(const char *s)
{
    size_t n = strlen(s);

    if (n <= QUOTE_MAX)
        return (int)n;
    n = QUOTE_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return (int)n;
}

static const char *quote_tail(const char *s)
{
    return strlen(s) > QUOTE_MAX ? "..." : "";
}

static int scan_err(struct scanner *sc, size_t pos, struct berth_err **err, const char *what)
{
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                         "invalid filter \"%.*s%s\": parse error at position %zu: %s",
                         quote_len(sc->in), sc->in, quote_tail(sc->in), pos, what);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_field_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static bool is_op_char(char c)
{
    return c == '=' || c == '!' || c == '~';
}

static bool is_value_char(char c)
{
    unsigned char u = (unsigned char)c;
    return c != ',' && !is_space(c) && u >= 0x20 && u != 0x7f;
}

static char peek(struct scanner *sc)
{
    while (is_space(sc->in[sc->pos]))
        sc->pos++;
    return sc->in[sc->pos];
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Appends the UTF-8 encoding of cp; like Go, surrogates become U+FFFD. */
static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp >= 0xd800 && cp <= 0xdfff)
        cp = 0xfffd;
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/*
 * Scans a quoted string starting at the opening quote and returns it unquoted. Escapes follow
 * Go's strconv.Unquote: \a \b \f \n \r \t \v \\, the quote character itself, \NNN (octal),
 * \xNN, \uNNNN and \UNNNNNNNN. A NUL produced by an escape is rejected: values are C strings.
 */
static char *scan_quoted(struct scanner *sc, struct berth_err **err)
{
    size_t start = sc->pos;
    char q = sc->in[sc->pos++];
    /* unquoted output never exceeds the input length (\U... yields at most 4 bytes from 10) */
    _cleanup_free_ char *out = berth_xmalloc(strlen(sc->in + sc->pos) + 1);
    size_t o = 0;

    for (;;) {
        char c = sc->in[sc->pos];
        if (c == '\0' || c == '\n') {
            scan_err(sc, start, err, "quoted literal not terminated");
            return NULL;
        }
        sc->pos++;
        if (c == q)
            break;
        if (c != '\\') {
            out[o++] = c;
            continue;
        }
        size_t esc = sc->pos - 1;
        c = sc->in[sc->pos++];
        switch (c) {
        case 'a':
            out[o++] = '\a';
            break;
        case 'b':
            out[o++] = '\b';
            break;
        case 'f':
            out[o++] = '\f';
            break;
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case 't':
            out[o++] = '\t';
            break;
        case 'v':
            out[o++] = '\v';
            break;
        case '\\':
            out[o++] = '\\';
            break;
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7': {
            unsigned v = (unsigned)(c - '0');
            for (int k = 0; k < 2; k++) {
                char d = sc->in[sc->pos];
                if (d < '0' || d > '7') {
                    scan_err(sc, esc, err, "illegal octal escape sequence");
                    return NULL;
                }
                v = v * 8 + (unsigned)(d - '0');
                sc->pos++;
            }
            if (v > 255 || v == 0) {
                scan_err(sc, esc, err,
                         v ? "octal escape out of range" : "null character in quoted string");
                return NULL;
            }
            out[o++] = (char)v;
            break;
        }
        case 'x':
        case 'u':
        case 'U': {
            int digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
            uint32_t v = 0;
            for (int k = 0; k < digits; k++) {
                int h = hex_val(sc->in[sc->pos]);
                if (h < 0) {
                    scan_err(sc, esc, err, "illegal hex escape sequence");
                    return NULL;
                }
                v = (v << 4) | (uint32_t)h;
                sc->pos++;
            }
            if (v == 0) {
                scan_err(sc, esc, err, "null character in quoted string");
                return NULL;
            }
            if (c == 'x') {
                out[o++] = (char)v; /* a raw byte, possibly not UTF-8, as in Go */
            } else if (v > 0x10ffff) {
                scan_err(sc, esc, err, "escaped code point out of range");
                return NULL;
            } else {
                o += put_utf8(out + o, v);
            }
            break;
        }
        default:
            if (c == q) {
                out[o++] = q;
                break;
            }
            scan_err(sc, esc, err, "illegal escape sequence");
            return NULL;
        }
    }
    out[o] = '\0';
    return steal_ptr(out);
}

static char *scan_field(struct scanner *sc, struct berth_err **err)
{
    char c = peek(sc);
    size_t start = sc->pos;

    if (c == '"')
        return scan_quoted(sc, err);
    if (c == '/' || c == '|') {
        scan_err(sc, start, err, "invalid quote encountered");
        return NULL;
    }
    if (!is_field_char(c)) {
        scan_err(sc, start, err, "expected field or quoted");
        return NULL;
    }
    while (is_field_char(sc->in[sc->pos]))
        sc->pos++;
    return berth_xstrndup(sc->in + start, sc->pos - start);
}

/* `/.../` and `|...|` are only allowed for regex values (allow_alt). */
static char *scan_value(struct scanner *sc, bool allow_alt, struct berth_err **err)
{
    char c = peek(sc);
    size_t start = sc->pos;

    if (c == '"')
        return scan_quoted(sc, err);
    if (c == '/' || c == '|') {
        if (!allow_alt) {
            scan_err(sc, start, err, "invalid quote encountered");
            return NULL;
        }
        return scan_quoted(sc, err);
    }
    /* containerd's scanner turns a leading ',' '.' or operator char into another token kind */
    if (c == '\0' || c == '.' || is_op_char(c) || !is_value_char(c)) {
        scan_err(sc, start, err, "expected value or quoted");
        return NULL;
    }
    while (is_value_char(sc->in[sc->pos]))
        sc->pos++;
    return berth_xstrndup(sc->in + start, sc->pos - start);
}

static int parse_selector(struct scanner *sc, struct selector *sel, struct berth_err **err)
{
    size_t op_pos, op_len;
    char c;

    for (;;) {
        char *f = scan_field(sc, err);
        if (!f)
            return -1;
        sel->path = berth_xrealloc(sel->path, (sel->n_path + 1) * sizeof(*sel->path));
        sel->path[sel->n_path++] = f;
        if (peek(sc) != '.')
            break;
        sc->pos++;
    }

    c = peek(sc);
    if (c == '\0' || c == ',') {
        sel->op = OP_PRESENT;
        return 0;
    }
    op_pos = sc->pos;
    if (!is_op_char(c))
        return scan_err(sc, op_pos, err, "expected an operator (\"==\"|\"!=\"|\"~=\")");
    while (is_op_char(sc->in[sc->pos]))
        sc->pos++;
    op_len = sc->pos - op_pos;
    if (op_len == 2 && strncmp(sc->in + op_pos, "==", 2) == 0) {
        sel->op = OP_EQ;
    } else if (op_len == 2 && strncmp(sc->in + op_pos, "!=", 2) == 0) {
        sel->op = OP_NE;
    } else if (op_len == 2 && strncmp(sc->in + op_pos, "~=", 2) == 0) {
        sel->op = OP_MATCH;
    } else {
        _cleanup_free_ char *what =
            berth_strdup_printf("unsupported operator \"%.*s\"", (int)op_len, sc->in + op_pos);
        return scan_err(sc, op_pos, err, what);
    }

    /* OP_MATCH with value == NULL means "no regex compiled yet" to selector_clear */
    char *value = scan_value(sc, sel->op == OP_MATCH, err);
    if (!value)
        return -1;
    if (sel->op == OP_MATCH) {
        _cleanup_err_ struct berth_err *rerr = NULL;
        if (berth_regex_compile(value, &sel->re, &rerr) < 0) {
            berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                          "invalid filter \"%.*s%s\": invalid regular expression \"%.*s%s\": %s",
                          quote_len(sc->in), sc->in, quote_tail(sc->in), quote_len(value), value,
                          quote_tail(value), rerr->msg);
            free(value);
            return -1;
        }
    }
    sel->value = value;
    return 0;
}

static int parse_one(const char *in, struct conjunction *conj, struct berth_err **err)
{
    struct scanner sc = {.in = in, .pos = 0};

    if (*in == '\0')
        return 0; /* containerd: the empty string matches everything */
    for (;;) {
        conj->sels = berth_xrealloc(conj->sels, (conj->n + 1) * sizeof(*conj->sels));
        memset(&conj->sels[conj->n], 0, sizeof(conj->sels[conj->n]));
        conj->n++; /* counted before parsing so a partial selector is freed with the filter */
        if (parse_selector(&sc, &conj->sels[conj->n - 1], err) < 0)
            return -1;
        char c = peek(&sc);
        if (c == '\0')
            return 0;
        if (c != ',') {
            _cleanup_free_ char *what = berth_strdup_printf("unexpected input \"%c\"", c);
            return scan_err(&sc, sc.pos, err, what);
        }
        sc.pos++;
    }
}

int berth_filter_parse(const char *const *filters, size_t n, struct berth_filter **out,
                       struct berth_err **err)
{
    struct berth_filter *f;

    *out = NULL;
    f = berth_xcalloc(1, sizeof(*f));
    if (n > 0)
        f->alts = berth_xcalloc(n, sizeof(*f->alts));
    for (size_t i = 0; i < n; i++) {
        f->n++;
        if (parse_one(filters[i] ? filters[i] : "", &f->alts[i], err) < 0) {
            berth_filter_free(f);
            return -1;
        }
    }
    *out = f;
    return 0;
}

/* How many berth_filter_match calls share one done() call: a listing spends microseconds per
 * record, so a deadline is still noticed within a fraction of a millisecond while done() (a
 * clock read or an atomic load) stays out of the profile. */
#define STOP_EVERY 64
/* A regex match this big (input bytes x NFA instructions: 0.1-0.2 ms of work; a 4 KiB value
 * against the biggest pattern is ~60 ms) asks done() first, so one object's match cannot hold
 * a stopped listing for long. */
#define STOP_WORK (1u << 16)

/* Asks done() now; true (and stopped for good) when it says so. */
static bool stop_ask(const struct berth_filter *f)
{
    struct filter_stop *st = f->stop;

    if (atomic_load_explicit(&st->stopped, memory_order_relaxed))
        return true;
    if (!st->done(st->arg))
        return false;
    atomic_store(&st->stopped, true);
    return true;
}

static bool selector_match(const struct berth_filter *f, const struct selector *s,
                           berth_filter_field_fn field, void *obj)
{
    bool present = false;
    const char *v = field(obj, (const char *const *)s->path, s->n_path, &present);
    size_t n;

    if (!present || !v)
        v = ""; /* containerd's adaptors return "" for absent fields */
    switch (s->op) {
    case OP_PRESENT:
        return present;
    case OP_EQ:
        return present && strcmp(v, s->value) == 0;
    case OP_NE:
        return strcmp(v, s->value) != 0;
    case OP_MATCH:
        n = strlen(v);
        if (f->stop && (uint64_t)n * berth_regex_size(s->re) >= STOP_WORK && stop_ask(f))
            return false;
        return berth_regex_match(s->re, v, n);
    }
    return false;
}

void berth_filter_set_stop(struct berth_filter *f, bool (*done)(void *arg), void *arg)
{
    if (!f)
        return;
    if (!done) {
        free(f->stop);
        f->stop = NULL;
        return;
    }
    if (!f->stop)
        f->stop = berth_xcalloc(1, sizeof(*f->stop));
    f->stop->done = done;
    f->stop->arg = arg;
    atomic_store(&f->stop->calls, 0);
    atomic_store(&f->stop->stopped, false);
}

bool berth_filter_stopped(const struct berth_filter *f)
{
    return f && f->stop && atomic_load(&f->stop->stopped);
}

/* True when the caller asked to stop; asks done() on every STOP_EVERY-th call, the first
 * included, so a deadline that has already passed stops the very first match. */
static bool filter_stopping(const struct berth_filter *f)
{
    struct filter_stop *st = f->stop;

    if (atomic_load_explicit(&st->stopped, memory_order_relaxed))
        return true;
    if (atomic_fetch_add_explicit(&st->calls, 1, memory_order_relaxed) % STOP_EVERY != 0)
        return false;
    return stop_ask(f);
}

bool berth_filter_match(const struct berth_filter *f, berth_filter_field_fn field, void *obj)
{
    if (f && f->stop && filter_stopping(f))
        return false;
    if (!f || f->n == 0)
        return true;
    for (size_t i = 0; i < f->n; i++) {
        const struct conjunction *c = &f->alts[i];
        size_t j;

        for (j = 0; j < c->n; j++)
            if (!selector_match(f, &c->sels[j], field, obj))
                break;
        if (j == c->n)
            /* a stop during a costly regex may have cut another alternative short */
            return !berth_filter_stopped(f);
    }
    return false;
}

/* strcmp(key, join(path, ".")) without building the joined string. */
static int cmp_joined(const char *key, const char *const *path, size_t n)
{
    const unsigned char *k = (const unsigned char *)key;

    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            if (*k != '.')
                return (int)*k - '.';
            k++;
        }
        for (const unsigned char *p = (const unsigned char *)path[i]; *p; p++, k++)
            if (*k != *p)
                return (int)*k - (int)*p;
    }
    return *k ? 1 : 0;
}

const char *berth_filter_labels_lookup(const struct berth_labels *l, const char *const *path,
                                       size_t n, bool *present)
{
    size_t lo = 0, hi = l ? l->n : 0;

    *present = false;
    if (n == 0)
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_joined(l->keys[mid], path, n);
        if (c == 0) {
            *present = true;
            return l->vals[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
