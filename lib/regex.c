/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Go-syntax regular expressions: a parser that follows Go's regexp/syntax parse loop (same
 * tokens, same errors) but emits Thompson-NFA fragments instead of a tree, and a Pike VM that
 * runs them. The parse stack is a heap array and every fragment's code is one contiguous range
 * at the end of the program, so `x{n,m}` is built by copying that range; nothing recurses.
 */
#include "lib/regex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

enum inst_op {
    I_RUNE,      /* arg == the rune */
    I_CLASS,     /* ranges[arg] pairs lo, hi follow it in ranges[] */
    I_ANY,       /* any rune */
    I_ANY_NOTNL, /* any rune but '\n' */
    I_EMPTY,     /* zero-width: position flags & arg */
    I_SPLIT,     /* out and out1 */
    I_NOP,
    I_MATCH,
    I_FAIL,
};

/* position flags for I_EMPTY */
enum {
    P_BEGIN_LINE = 1,
    P_END_LINE = 2,
    P_BEGIN_TEXT = 4,
    P_END_TEXT = 8,
    P_WORD = 16,
    P_NOT_WORD = 32,
};

struct inst {
    uint8_t op;
    uint32_t out, out1;
    uint32_t arg;
};

struct berth_regex {
    struct inst *prog;
    uint32_t n_prog, start;
    uint32_t *ranges; /* for every I_CLASS: a pair count, then the lo, hi pairs */
    size_t n_ranges;
    bool anchored; /* the program starts with \A: only offset 0 can start a match */
};

/*
 * Unpatched exits ("holes") of a fragment form a list threaded through the out/out1 fields
 * themselves: a hole holds HOLE | link of the next hole, a link being inst << 1 | (out1 ? 1 : 0).
 * Keeping the tail makes appending two lists O(1).
 */
#define HOLE 0x80000000u
#define LEND 0x7fffffffu

enum { F_FOLD = 1, F_ONELINE = 2, F_DOTNL = 4, F_NONGREEDY = 8 };

enum ent_kind { ENT_ITEM, ENT_LPAREN, ENT_VBAR };
/* Go's tree shape, kept only so heights are counted as Go counts them: literal runes merge
 * into one string node, and concatenations/alternations of non-capturing groups flatten. */
enum shape { SH_OTHER, SH_LIT, SH_CONCAT, SH_ALT };

struct entry {
    uint8_t kind;
    uint8_t shape;    /* ITEM */
    uint8_t lit_fold; /* ITEM, SH_LIT: parsed under (?i); Go merges only equal ones */
    uint8_t capture;  /* LPAREN */
    uint8_t flags;    /* LPAREN: flags to restore at ')' */
    uint32_t first;   /* ITEM: its code is [first, next item's first or program end) */
    uint32_t start;   /* ITEM: entry instruction */
    uint32_t head, tail;
    uint32_t height;  /* ITEM: Go parse-tree height */
    uint32_t units;   /* SH_CONCAT/SH_ALT: flattened children */
    uint32_t child_h; /* SH_CONCAT/SH_ALT: their largest height */
    uint32_t rp;      /* ITEM: largest product of nested repeat counts, as Go's repeatIsValid */
};

struct parser {
    const char *pat;
    size_t len, pos;
    struct berth_regex *re;
    size_t cap_prog, cap_ranges;
    struct entry *st;
    size_t n_st, cap_st;
    uint32_t *cls; /* class under construction: lo, hi pairs */
    size_t n_cls, cap_cls;
    unsigned flags;
    unsigned open_caps;
    struct berth_err **err;
};

/* ---- UTF-8, exactly as Go's utf8.DecodeRune: an invalid sequence is U+FFFD of width 1 ---- */

static int32_t utf8_decode(const unsigned char *s, size_t n, size_t *w)
{
    unsigned c = s[0], lo = 0x80, hi = 0xbf;

    *w = 1;
    if (c < 0x80)
        return (int32_t)c;
    if (c < 0xc2 || c > 0xf4)
        return 0xfffd;
    if (c < 0xe0) {
        if (n < 2 || (s[1] & 0xc0) != 0x80)
            return 0xfffd;
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
            return 0xfffd;
        *w = 3;
        return (int32_t)(((c & 0x0f) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3f));
    }
    if (n < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
        return 0xfffd;
    *w = 4;
    return (int32_t)(((c & 0x07) << 18) | ((s[1] & 0x3fu) << 12) | ((s[2] & 0x3fu) << 6) |
                     (s[3] & 0x3f));
}

/* ---- errors ---- */

/* Sets the error "what: `pattern[from, to)`", the excerpt cut at 48 bytes on a rune boundary. */
static int perr(struct parser *p, const char *what, size_t from, size_t to)
{
    size_t n = to > from ? to - from : 0;
    bool cut = n > 48;

    if (cut) {
        n = 48;
        while (n > 0 && ((unsigned char)p->pat[from + n] & 0xc0) == 0x80)
            n--;
    }
    return berth_err_set(p->err, BERTH_E_INVALID_ARGUMENT, 0, "%s: `%.*s%s`", what, (int)n,
                         p->pat + from, cut ? "..." : "");
}

static int err_plain(struct parser *p, const char *what)
{
    return berth_err_set(p->err, BERTH_E_INVALID_ARGUMENT, 0, "%s", what);
}

static int err_too_large(struct parser *p)
{
    return berth_err_set(p->err, BERTH_E_INVALID_ARGUMENT, 0,
                         "expression too large (over %d NFA instructions)", BERTH_REGEX_MAX_PROG);
}

static int err_too_deep(struct parser *p)
{
    return err_plain(p, "expression nests too deeply");
}

/* ---- program building ---- */

static uint32_t *hole_field(struct berth_regex *re, uint32_t link)
{
    struct inst *i = &re->prog[link >> 1];
    return (link & 1) ? &i->out1 : &i->out;
}

static int emit(struct parser *p, uint8_t op, uint32_t arg, uint32_t *idx)
{
    struct berth_regex *re = p->re;

    if (re->n_prog >= BERTH_REGEX_MAX_PROG)
        return err_too_large(p);
    if (re->n_prog == p->cap_prog) {
        p->cap_prog = p->cap_prog ? p->cap_prog * 2 : 32;
        re->prog = berth_xrealloc(re->prog, p->cap_prog * sizeof(*re->prog));
    }
    *idx = re->n_prog++;
    re->prog[*idx] = (struct inst){.op = op, .out = HOLE | LEND, .out1 = HOLE | LEND, .arg = arg};
    return 0;
}

/* Points every hole of the list at target. */
static void patch(struct berth_regex *re, uint32_t head, uint32_t target)
{
    while (head != LEND) {
        uint32_t *f = hole_field(re, head);
        head = *f & ~HOLE;
        *f = target;
    }
}

static void holes_append(struct berth_regex *re, struct entry *e, uint32_t head, uint32_t tail)
{
    if (head == LEND)
        return;
    if (e->head == LEND) {
        e->head = head;
        e->tail = tail;
        return;
    }
    *hole_field(re, e->tail) = HOLE | head;
    e->tail = tail;
}

static struct entry *push_entry(struct parser *p, uint8_t kind)
{
    if (p->n_st == p->cap_st) {
        p->cap_st = p->cap_st ? p->cap_st * 2 : 16;
        p->st = berth_xrealloc(p->st, p->cap_st * sizeof(*p->st));
    }
    struct entry *e = &p->st[p->n_st++];
    *e = (struct entry){.kind = kind, .head = LEND, .tail = LEND, .height = 1, .rp = 1};
    return e;
}

/* Pushes a one-instruction item whose only exit is out. */
static int push_inst(struct parser *p, uint8_t op, uint32_t arg, uint8_t shape)
{
    uint32_t idx;

    if (emit(p, op, arg, &idx) < 0)
        return -1;
    struct entry *e = push_entry(p, ENT_ITEM);
    e->shape = shape;
    e->lit_fold = (p->flags & F_FOLD) != 0;
    e->first = e->start = idx;
    e->head = e->tail = idx << 1;
    return 0;
}

/* ---- character classes ---- */

static void cls_add(struct parser *p, uint32_t lo, uint32_t hi)
{
    if (p->n_cls + 2 > p->cap_cls) {
        p->cap_cls = p->cap_cls ? p->cap_cls * 2 : 32;
        p->cls = berth_xrealloc(p->cls, p->cap_cls * sizeof(*p->cls));
    }
    p->cls[p->n_cls++] = lo;
    p->cls[p->n_cls++] = hi;
}

static int range_cmp(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0;
}

/* Sorts and merges the pairs in cls[from..n_cls). */
static void cls_clean(struct parser *p, size_t from)
{
    uint32_t *r = p->cls + from;
    size_t n = (p->n_cls - from) / 2, w = 0;

    if (n < 2)
        return;
    qsort(r, n, 2 * sizeof(*r), range_cmp);
    for (size_t i = 1; i < n; i++) {
        if (r[2 * i] <= r[2 * w + 1] + 1) {
            if (r[2 * i + 1] > r[2 * w + 1])
                r[2 * w + 1] = r[2 * i + 1];
            continue;
        }
        w++;
        r[2 * w] = r[2 * i];
        r[2 * w + 1] = r[2 * i + 1];
    }
    p->n_cls = from + 2 * (w + 1);
}

/* Replaces the clean pairs in cls[from..n_cls) with their complement in [0, U+10FFFF]. */
static void cls_negate(struct parser *p, size_t from)
{
    size_t n = p->n_cls - from;
    _cleanup_free_ uint32_t *r = berth_xmalloc((n ? n : 1) * sizeof(*r));
    uint32_t next = 0;

    memcpy(r, p->cls + from, n * sizeof(*r));
    p->n_cls = from;
    for (size_t i = 0; i < n; i += 2) {
        if (r[i] > next)
            cls_add(p, next, r[i] - 1);
        next = r[i + 1] + 1;
    }
    if (next <= 0x10ffff)
        cls_add(p, next, 0x10ffff);
}

static bool in_range(uint32_t lo, uint32_t hi, uint32_t c)
{
    return lo <= c && c <= hi;
}

#define MAX_FOLD 0x1e943 /* no code point above folds (Go's maxFold) */

/*
 * Adds [lo, hi] and, under (?i), everything that folds to a member: the other ASCII case, plus
 * U+212A (Kelvin) with k/K and U+017F (long s) with s/S as Go's Unicode tables do. Other
 * foldable non-ASCII code points would need those tables: refused. at/to locate the excerpt.
 */
static int cls_add_folded(struct parser *p, uint32_t lo, uint32_t hi, size_t at, size_t to)
{
    uint32_t a, b;

    cls_add(p, lo, hi);
    if (!(p->flags & F_FOLD))
        return 0;
    a = lo > 'A' ? lo : 'A';
    b = hi < 'Z' ? hi : 'Z';
    if (a <= b)
        cls_add(p, a + 32, b + 32);
    a = lo > 'a' ? lo : 'a';
    b = hi < 'z' ? hi : 'z';
    if (a <= b)
        cls_add(p, a - 32, b - 32);
    if (in_range(lo, hi, 'k') || in_range(lo, hi, 'K'))
        cls_add(p, 0x212a, 0x212a);
    if (in_range(lo, hi, 's') || in_range(lo, hi, 'S'))
        cls_add(p, 0x17f, 0x17f);
    if (in_range(lo, hi, 0x212a)) {
        cls_add(p, 'K', 'K');
        cls_add(p, 'k', 'k');
    }
    if (in_range(lo, hi, 0x17f)) {
        cls_add(p, 'S', 'S');
        cls_add(p, 's', 's');
    }
    a = lo > 0x80 ? lo : 0x80;
    b = hi < MAX_FOLD ? hi : MAX_FOLD;
    if (a <= b && (uint64_t)b - a + 1 > (uint64_t)in_range(a, b, 0x17f) + in_range(a, b, 0x212a))
        return perr(p, "unsupported in berth: case-insensitive match of non-ASCII characters", at,
                    to);
    return 0;
}

struct group {
    const char *name;
    int sign;
    const uint32_t *r; /* n lo, hi pairs */
    size_t n;
};

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

static const struct group perl_groups[] = {
    GROUP("\\d", +1, g_digit), GROUP("\\D", -1, g_digit), GROUP("\\s", +1, g_space),
    GROUP("\\S", -1, g_space), GROUP("\\w", +1, g_word),  GROUP("\\W", -1, g_word),
};

static const struct group posix_groups[] = {
    GROUP("alnum", +1, g_alnum), GROUP("alpha", +1, g_alpha),   GROUP("ascii", +1, g_ascii),
    GROUP("blank", +1, g_blank), GROUP("cntrl", +1, g_cntrl),   GROUP("digit", +1, g_digit),
    GROUP("graph", +1, g_graph), GROUP("lower", +1, g_lower),   GROUP("print", +1, g_print),
    GROUP("punct", +1, g_punct), GROUP("space", +1, g_pspace),  GROUP("upper", +1, g_upper),
    GROUP("word", +1, g_word),   GROUP("xdigit", +1, g_xdigit),
};

/* Adds a group (negated when sign < 0). Under (?i) the group is folded before it is negated,
 * as Go's appendGroup does; groups are ASCII, so folding them never needs tables. */
static void cls_add_group(struct parser *p, const struct group *g, int sign)
{
    size_t from = p->n_cls;

    for (size_t i = 0; i < g->n; i++)
        cls_add_folded(p, g->r[2 * i], g->r[2 * i + 1], 0, 0); /* ASCII only: cannot fail */
    cls_clean(p, from);
    if (sign < 0)
        cls_negate(p, from);
}

/* Pushes the class in cls[0..n_cls) as one instruction. */
static int push_class(struct parser *p, uint8_t shape)
{
    struct berth_regex *re = p->re;
    uint32_t n;

    cls_clean(p, 0);
    n = (uint32_t)(p->n_cls / 2);
    if (n == 0)
        return push_inst(p, I_FAIL, 0, shape);
    if (n == 1 && p->cls[0] == p->cls[1])
        return push_inst(p, I_RUNE, p->cls[0], shape);
    if (n == 1 && p->cls[0] == 0 && p->cls[1] == 0x10ffff)
        return push_inst(p, I_ANY, 0, shape);
    if (n == 2 && p->cls[0] == 0 && p->cls[1] == '\n' - 1 && p->cls[2] == '\n' + 1 &&
        p->cls[3] == 0x10ffff)
        return push_inst(p, I_ANY_NOTNL, 0, shape);
    if (re->n_ranges + 1 + p->n_cls > p->cap_ranges) {
        while (re->n_ranges + 1 + p->n_cls > p->cap_ranges)
            p->cap_ranges = p->cap_ranges ? p->cap_ranges * 2 : 64;
        re->ranges = berth_xrealloc(re->ranges, p->cap_ranges * sizeof(*re->ranges));
    }
    re->ranges[re->n_ranges] = n;
    memcpy(re->ranges + re->n_ranges + 1, p->cls, p->n_cls * sizeof(*p->cls));
    if (push_inst(p, I_CLASS, (uint32_t)re->n_ranges, shape) < 0)
        return -1;
    re->n_ranges += 1 + p->n_cls;
    return 0;
}

/* A literal rune: under (?i) a letter becomes the class of its case variants. */
static int push_literal(struct parser *p, uint32_t c, size_t at)
{
    if (p->flags & F_FOLD) {
        p->n_cls = 0;
        if (cls_add_folded(p, c, c, at, p->pos) < 0)
            return -1;
        return push_class(p, SH_LIT);
    }
    return push_inst(p, I_RUNE, c, SH_LIT);
}

/* ---- parse stack reductions ---- */

static int check_height(struct parser *p, const struct entry *e)
{
    return e->height > BERTH_REGEX_MAX_DEPTH ? err_too_deep(p) : 0;
}

/* Index just above the topmost marker (any marker when bar_too, else only '('). */
static size_t above_marker(const struct parser *p, bool bar_too)
{
    size_t i = p->n_st;

    while (i > 0 && p->st[i - 1].kind != ENT_LPAREN && (!bar_too || p->st[i - 1].kind != ENT_VBAR))
        i--;
    return i;
}

/* Replaces the items above the topmost marker with their concatenation. */
static int reduce_concat(struct parser *p)
{
    size_t i = above_marker(p, true), k = p->n_st - i;
    uint32_t units = 0, maxh = 0;
    int prev_lit = -1;

    if (k == 0) /* empty: matches the empty string */
        return push_inst(p, I_NOP, 0, SH_OTHER);
    if (k == 1)
        return 0;
    struct entry *v = &p->st[i];
    uint32_t rp = 1;
    for (size_t j = 0; j < k; j++) {
        if (v[j].rp > rp)
            rp = v[j].rp;
        if (j + 1 < k)
            patch(p->re, v[j].head, v[j + 1].start);
        if (v[j].shape == SH_LIT) {
            if (prev_lit == v[j].lit_fold)
                continue;
            prev_lit = v[j].lit_fold;
            units++;
            if (maxh < 1)
                maxh = 1;
            continue;
        }
        prev_lit = -1;
        if (v[j].shape == SH_CONCAT) {
            units += v[j].units;
            if (v[j].child_h > maxh)
                maxh = v[j].child_h;
        } else {
            units++;
            if (v[j].height > maxh)
                maxh = v[j].height;
        }
    }
    struct entry e = v[0];
    e.head = v[k - 1].head;
    e.tail = v[k - 1].tail;
    e.rp = rp;
    if (units >= 2) {
        e.shape = SH_CONCAT;
        e.units = units;
        e.child_h = maxh;
        e.height = maxh + 1;
    } else {
        e.shape = SH_LIT; /* several literal runes that Go merges into one string */
        e.height = 1;
    }
    p->n_st = i;
    p->st[p->n_st++] = e;
    return check_height(p, &e);
}

/* Replaces the alternatives (items separated by '|' markers) above the topmost '(' with their
 * alternation. Call right after reduce_concat. */
static int reduce_alternate(struct parser *p)
{
    size_t i = above_marker(p, false), k = 0;
    uint32_t units = 0, maxh = 0, rp = 1, first = UINT32_MAX;

    for (size_t j = i; j < p->n_st; j++)
        if (p->st[j].kind == ENT_ITEM)
            p->st[i + k++] = p->st[j]; /* drop the '|' markers */
    p->n_st = i + k;
    if (k == 1)
        return 0;
    struct entry *v = &p->st[i];
    for (size_t j = 0; j < k; j++) {
        if (v[j].first < first)
            first = v[j].first;
        if (v[j].rp > rp)
            rp = v[j].rp;
        if (v[j].shape == SH_ALT) {
            units += v[j].units;
            if (v[j].child_h > maxh)
                maxh = v[j].child_h;
        } else {
            units++;
            if (v[j].height > maxh)
                maxh = v[j].height;
        }
    }
    struct entry e = {.kind = ENT_ITEM,
                      .shape = SH_ALT,
                      .first = first,
                      .head = LEND,
                      .tail = LEND,
                      .units = units,
                      .child_h = maxh,
                      .height = maxh + 1,
                      .rp = rp};
    /* split(v0 | split(v1 | ... split(vk-2 | vk-1))), built from the right */
    uint32_t next = v[k - 1].start;
    for (size_t j = k - 1; j-- > 0;) {
        uint32_t idx;
        if (emit(p, I_SPLIT, 0, &idx) < 0)
            return -1;
        p->re->prog[idx].out = v[j].start;
        p->re->prog[idx].out1 = next;
        next = idx;
    }
    e.start = next;
    for (size_t j = 0; j < k; j++)
        holes_append(p->re, &e, v[j].head, v[j].tail);
    p->n_st = i;
    p->st[p->n_st++] = e;
    return check_height(p, &e);
}

/* ---- repetition ---- */

struct frag {
    uint32_t start, head, tail;
};

/* Appends a copy of the code [s, s + n) (one unpatched fragment) and returns its entry and
 * holes. Targets inside the range move with it; hole links are shifted the same way. */
static int copy_code(struct parser *p, uint32_t s, uint32_t n, const struct entry *x,
                     struct frag *out)
{
    struct berth_regex *re = p->re;
    uint32_t at = re->n_prog, delta = at - s;

    for (uint32_t j = 0; j < n; j++) {
        uint32_t idx;
        if (emit(p, I_NOP, 0, &idx) < 0)
            return -1;
        struct inst in = re->prog[s + j];
        uint32_t *fields[2] = {&in.out, &in.out1};
        int nf = in.op == I_SPLIT ? 2 : 1; /* I_FAIL's unused out is a hole too */
        for (int f = 0; f < nf; f++) {
            uint32_t v = *fields[f];
            if (!(v & HOLE))
                *fields[f] = v + delta;
            else if ((v & ~HOLE) != LEND)
                *fields[f] = HOLE | ((v & ~HOLE) + 2 * delta);
        }
        re->prog[idx] = in;
    }
    out->start = x->start + delta;
    out->head = x->head == LEND ? LEND : x->head + 2 * delta;
    out->tail = x->tail == LEND ? LEND : x->tail + 2 * delta;
    return 0;
}

/* Applies a repetition to the top item. max < 0: unbounded. counted: {n,m} syntax. */
static int apply_repeat(struct parser *p, int min, int max, bool counted, size_t before,
                        size_t after)
{
    struct berth_regex *re = p->re;
    struct entry *x = &p->st[p->n_st - 1];
    uint32_t s = x->first, len = re->n_prog - s, idx;

    x->height++;
    x->shape = SH_OTHER;
    if (check_height(p, x) < 0)
        return -1;
    if (counted) {
        if (max == 0) { /* x{0}: the code goes, the empty string stays */
            uint32_t h = x->height;
            re->n_prog = s;
            p->n_st--;
            if (push_inst(p, I_NOP, 0, SH_OTHER) < 0)
                return -1;
            p->st[p->n_st - 1].height = h; /* Go keeps x under the repeat node */
            return 0;
        }
        uint32_t factor = (uint32_t)(max > 0 ? max : min > 0 ? min : 1);
        x->rp *= factor;
        if ((min >= 2 || max >= 2) && x->rp > BERTH_REGEX_MAX_REPEAT)
            return perr(p, "invalid repeat count", before, after);
    }
    if (min == 0 && max < 0) { /* x*: a split that loops back from x's exits */
        if (emit(p, I_SPLIT, 0, &idx) < 0)
            return -1;
        re->prog[idx].out = x->start;
        patch(re, x->head, idx);
        x->start = idx;
        x->head = x->tail = idx << 1 | 1;
        return 0;
    }
    if (min == 1 && max < 0) { /* x+ */
        if (emit(p, I_SPLIT, 0, &idx) < 0)
            return -1;
        re->prog[idx].out = x->start;
        patch(re, x->head, idx);
        x->head = x->tail = idx << 1 | 1;
        return 0;
    }
    if (min == 0 && max == 1) { /* x? */
        if (emit(p, I_SPLIT, 0, &idx) < 0)
            return -1;
        re->prog[idx].out = x->start;
        x->start = idx;
        holes_append(re, x, idx << 1 | 1, idx << 1 | 1);
        return 0;
    }
    if (min == 1 && max == 1)
        return 0;

    /* x{n,m}: n copies, then m - n optional ones each of which may skip to the end
     * (x{2,4} = xx(x(x)?)?); x{n,}: n copies, the last one looping as x+. */
    uint32_t copies = (uint32_t)(max < 0 ? min : max);
    uint32_t extra = max < 0 ? 1 : (uint32_t)(max - min);
    if ((uint64_t)s + (uint64_t)copies * len + extra > BERTH_REGEX_MAX_PROG)
        return err_too_large(p);
    _cleanup_free_ struct frag *c = berth_xmalloc(copies * sizeof(*c));
    c[0] = (struct frag){x->start, x->head, x->tail};
    for (uint32_t j = 1; j < copies; j++) /* copy before patching: copies need pristine holes */
        if (copy_code(p, s, len, x, &c[j]) < 0)
            return -1;
    struct entry e = *x;
    e.head = e.tail = LEND;
    uint32_t entry_next = UINT32_MAX;
    /* wire from the last copy backwards so each copy's exits know the next entry */
    for (uint32_t j = copies; j-- > 0;) {
        uint32_t entry = c[j].start;
        if (max < 0 && j == copies - 1) {
            if (emit(p, I_SPLIT, 0, &idx) < 0)
                return -1;
            re->prog[idx].out = c[j].start;
            patch(re, c[j].head, idx);
            holes_append(re, &e, idx << 1 | 1, idx << 1 | 1);
        } else if (j == copies - 1) {
            holes_append(re, &e, c[j].head, c[j].tail);
        } else {
            patch(re, c[j].head, entry_next);
        }
        if (max >= 0 && j >= (uint32_t)min) { /* optional copy */
            if (emit(p, I_SPLIT, 0, &idx) < 0)
                return -1;
            re->prog[idx].out = c[j].start;
            holes_append(re, &e, idx << 1 | 1, idx << 1 | 1);
            entry = idx;
        }
        entry_next = entry;
    }
    e.start = entry_next;
    *x = e;
    return 0;
}

/* ---- the parser proper (Go's parse loop) ---- */

static bool is_alnum(uint32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

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
static uint32_t next_rune(struct parser *p)
{
    size_t w;
    int32_t c = utf8_decode((const unsigned char *)p->pat + p->pos, p->len - p->pos, &w);
    p->pos += w;
    return (uint32_t)c;
}

/* Go's parseEscape: pos at the backslash; sets *r to the escaped rune. */
static int parse_escape(struct parser *p, uint32_t *r)
{
    size_t start = p->pos;
    uint32_t c;

    p->pos++;
    if (p->pos >= p->len)
        return err_plain(p, "trailing backslash at end of expression");
    c = next_rune(p);
    if (c < 0x80 && !is_alnum(c)) { /* escaped punctuation is itself */
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
                    return perr(p, "invalid escape sequence", start, p->pos);
                c = next_rune(p);
                if (c == '}')
                    break;
                int v = unhex(c);
                if (v < 0)
                    return perr(p, "invalid escape sequence", start, p->pos);
                *r = *r * 16 + (uint32_t)v;
                if (*r > 0x10ffff)
                    return perr(p, "invalid escape sequence", start, p->pos);
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
    return perr(p, "invalid escape sequence", start, p->pos);
}

static const struct group *perl_group_at(const struct parser *p, size_t pos)
{
    if (p->len - pos < 2 || p->pat[pos] != '\\')
        return NULL;
    for (size_t i = 0; i < BERTH_N(perl_groups); i++)
        if (p->pat[pos + 1] == perl_groups[i].name[1])
            return &perl_groups[i];
    return NULL;
}

/* \p and \P: Go's Unicode tables are not here. Sets an error when pos starts one. */
static int refuse_unicode_class(struct parser *p, size_t pos)
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
        utf8_decode((const unsigned char *)p->pat + end, p->len - end, &w);
        end += w;
    }
    return perr(p, "unsupported in berth: Unicode character class", pos, end);
}

/* Go's parseClass: pos at '['. */
static int parse_class(struct parser *p)
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
                const struct group *g = NULL;
                for (size_t i = 0; i < BERTH_N(posix_groups); i++)
                    if (strlen(posix_groups[i].name) == nlen &&
                        memcmp(posix_groups[i].name, name, nlen) == 0)
                        g = &posix_groups[i];
                if (!g)
                    return perr(p, "invalid character class range", p->pos,
                                (size_t)(end - p->pat) + 2);
                cls_add_group(p, g, neg ? -g->sign : g->sign);
                p->pos = (size_t)(end - p->pat) + 2;
                continue;
            }
        }
        if (refuse_unicode_class(p, p->pos) < 0)
            return -1;
        const struct group *g = perl_group_at(p, p->pos);
        if (g) {
            cls_add_group(p, g, g->sign);
            p->pos += 2;
            continue;
        }
        /* a single character or a range lo-hi */
        size_t rng = p->pos;
        uint32_t lo, hi;
        if (p->pos >= p->len)
            return perr(p, "missing closing ]", start, p->len);
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
                return perr(p, "missing closing ]", start, p->len);
            if (p->pat[p->pos] == '\\') {
                if (parse_escape(p, &hi) < 0)
                    return -1;
            } else {
                hi = next_rune(p);
            }
            if (hi < lo)
                return perr(p, "invalid character class range", rng, p->pos);
        }
        if (cls_add_folded(p, lo, hi, rng, p->pos) < 0)
            return -1;
    }
    p->pos++; /* ']' */
    cls_clean(p, 0);
    if (negate)
        cls_negate(p, 0);
    return push_class(p, SH_OTHER);
}

/* Go's parseInt: decimal without leading zeros; -1 when absurdly large. */
static bool parse_int(struct parser *p, int *n)
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
static bool parse_repeat(struct parser *p, int *min, int *max)
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

static int push_lparen(struct parser *p, bool capture, unsigned saved_flags)
{
    if (capture) {
        /* every open capture adds a level above whatever it will hold, so this many open ones
         * are already too deep: refuse now instead of stacking up 20000 of them */
        if (++p->open_caps >= BERTH_REGEX_MAX_DEPTH)
            return err_too_deep(p);
    }
    struct entry *e = push_entry(p, ENT_LPAREN);
    e->capture = capture;
    e->flags = (uint8_t)saved_flags;
    return 0;
}

static bool is_capture_name(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_' && !is_alnum((unsigned char)s[i]))
            return false;
    return true;
}

/* Go's parsePerlFlags: pos at "(?". */
static int parse_perl_flags(struct parser *p)
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
            return perr(p, "invalid named capture", start, p->len);
        if (!is_capture_name(t + name_at, (size_t)(end - t) - name_at))
            return perr(p, "invalid named capture", start, start + (size_t)(end - t) + 1);
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
    return perr(p, "invalid or unsupported Perl syntax", start, p->pos);
}

static int parse_right_paren(struct parser *p)
{
    if (reduce_concat(p) < 0 || reduce_alternate(p) < 0)
        return -1;
    if (p->n_st < 2 || p->st[p->n_st - 2].kind != ENT_LPAREN)
        return perr(p, "unexpected )", 0, p->len);
    struct entry lp = p->st[p->n_st - 2], x = p->st[p->n_st - 1];
    p->n_st -= 2;
    p->flags = lp.flags;
    if (lp.capture) {
        p->open_caps--;
        x.height++;
        x.shape = SH_OTHER;
    }
    p->st[p->n_st++] = x;
    return check_height(p, &x);
}

/* *, +, ?, {n,m} at pos; last_repeat is where the previous token's repetition began, if the
 * previous token was one (SIZE_MAX otherwise). */
static int parse_repetition(struct parser *p, int min, int max, bool counted, size_t before,
                            size_t last_repeat)
{
    if (p->pos < p->len && p->pat[p->pos] == '?') /* non-greedy: same match/no-match answer */
        p->pos++;
    if (last_repeat != SIZE_MAX)
        return perr(p, "invalid nested repetition operator", last_repeat, p->pos);
    if (p->n_st == 0 || p->st[p->n_st - 1].kind != ENT_ITEM)
        return perr(p, "missing argument to repetition operator", before, p->pos);
    return apply_repeat(p, min, max, counted, before, p->pos);
}

static int parse_backslash(struct parser *p)
{
    size_t start = p->pos;
    uint32_t c;

    if (p->len - p->pos >= 2) {
        switch (p->pat[p->pos + 1]) {
        case 'A':
            p->pos += 2;
            return push_inst(p, I_EMPTY, P_BEGIN_TEXT, SH_OTHER);
        case 'b':
            p->pos += 2;
            return push_inst(p, I_EMPTY, P_WORD, SH_OTHER);
        case 'B':
            p->pos += 2;
            return push_inst(p, I_EMPTY, P_NOT_WORD, SH_OTHER);
        case 'C': /* any byte: Go refuses it */
            return perr(p, "invalid escape sequence", start, start + 2);
        case 'Q': { /* \Q...\E: literal text up to \E or the end */
            p->pos += 2;
            while (p->pos < p->len) {
                if (p->len - p->pos >= 2 && p->pat[p->pos] == '\\' && p->pat[p->pos + 1] == 'E') {
                    p->pos += 2;
                    break;
                }
                size_t at = p->pos;
                if (push_literal(p, next_rune(p), at) < 0)
                    return -1;
            }
            return 0;
        }
        case 'z':
            p->pos += 2;
            return push_inst(p, I_EMPTY, P_END_TEXT, SH_OTHER);
        }
    }
    if (refuse_unicode_class(p, p->pos) < 0)
        return -1;
    const struct group *g = perl_group_at(p, p->pos);
    if (g) {
        p->pos += 2;
        p->n_cls = 0;
        cls_add_group(p, g, g->sign);
        return push_class(p, SH_OTHER);
    }
    if (parse_escape(p, &c) < 0)
        return -1;
    return push_literal(p, c, start);
}

static int parse(struct parser *p)
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
            rc = reduce_concat(p);
            if (rc == 0)
                push_entry(p, ENT_VBAR);
            break;
        case ')':
            p->pos++;
            rc = parse_right_paren(p);
            break;
        case '^':
            p->pos++;
            rc = push_inst(p, I_EMPTY, (p->flags & F_ONELINE) ? P_BEGIN_TEXT : P_BEGIN_LINE,
                           SH_OTHER);
            break;
        case '$':
            p->pos++;
            rc = push_inst(p, I_EMPTY, (p->flags & F_ONELINE) ? P_END_TEXT : P_END_LINE, SH_OTHER);
            break;
        case '.':
            p->pos++;
            rc = push_inst(p, (p->flags & F_DOTNL) ? I_ANY : I_ANY_NOTNL, 0, SH_OTHER);
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
                rc = push_literal(p, '{', before);
                break;
            }
            if (min < 0 || min > BERTH_REGEX_MAX_REPEAT || max > BERTH_REGEX_MAX_REPEAT ||
                (max >= 0 && min > max)) {
                rc = perr(p, "invalid repeat count", before, p->pos);
                break;
            }
            rc = parse_repetition(p, min, max, true, before, last_repeat);
            repeat = before;
            break;
        case '\\':
            rc = parse_backslash(p);
            break;
        default:
            rc = push_literal(p, next_rune(p), before);
            break;
        }
        if (rc < 0)
            return -1;
        last_repeat = repeat;
    }
    if (reduce_concat(p) < 0 || reduce_alternate(p) < 0)
        return -1;
    if (p->n_st != 1)
        return perr(p, "missing closing )", 0, p->len);
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
    struct parser p = {.pat = pattern, .len = strlen(pattern), .flags = F_ONELINE, .err = err};
    uint32_t match;
    int rc;

    *out = NULL;
    if (p.len > BERTH_REGEX_MAX_LEN)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "expression too long (%zu bytes, at most %d)", p.len,
                             BERTH_REGEX_MAX_LEN);
    for (size_t i = 0, w; i < p.len; i += w) /* Go checks as it goes; same verdict */
        if (utf8_decode((const unsigned char *)pattern + i, p.len - i, &w) == 0xfffd && w == 1)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid UTF-8");
    re = p.re = berth_xcalloc(1, sizeof(*re));
    rc = parse(&p);
    if (rc == 0)
        rc = emit(&p, I_MATCH, 0, &match);
    if (rc == 0) {
        patch(re, p.st[0].head, match);
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

/* ---- matching: a Pike VM without captures, so a thread is just a pc ---- */

struct vm {
    const struct inst *prog;
    uint32_t *mark;  /* mark[pc] == gen: pc already added at this position */
    uint32_t *stack; /* pending pcs of a closure */
    uint32_t gen;
};

static bool is_word(int32_t r)
{
    return r >= 0 && r < 0x80 && (is_alnum((uint32_t)r) || r == '_');
}

/* Zero-width facts at the position between prev and next (-1: text edge), as Go's
 * EmptyOpContext; positions are between runes, never inside a multi-byte character. */
static uint32_t pos_flags(int32_t prev, int32_t next)
{
    uint32_t f = 0;

    if (prev < 0)
        f |= P_BEGIN_TEXT | P_BEGIN_LINE;
    else if (prev == '\n')
        f |= P_BEGIN_LINE;
    if (next < 0)
        f |= P_END_TEXT | P_END_LINE;
    else if (next == '\n')
        f |= P_END_LINE;
    f |= is_word(prev) != is_word(next) ? P_WORD : P_NOT_WORD;
    return f;
}

/* Adds pc and everything it reaches without consuming input to list (which keeps only the
 * rune-consuming instructions). True when that reaches the match. Each pc is marked when
 * first seen, so the stack and the list never hold more than n_prog entries. */
static bool vm_add(struct vm *vm, uint32_t pc, uint32_t flags, uint32_t *list, uint32_t *n)
{
    const struct inst *prog = vm->prog;
    uint32_t *mark = vm->mark, gen = vm->gen;
    size_t sp = 0;

    if (mark[pc] == gen)
        return false;
    mark[pc] = gen;
    for (;;) {
        const struct inst *in = &prog[pc];
        uint32_t next = UINT32_MAX;

        switch (in->op) {
        case I_MATCH:
            return true;
        case I_FAIL:
            break;
        case I_SPLIT:
            if (mark[in->out1] != gen) {
                mark[in->out1] = gen;
                vm->stack[sp++] = in->out1;
            }
            next = in->out;
            break;
        case I_NOP:
            next = in->out;
            break;
        case I_EMPTY:
            if (flags & in->arg)
                next = in->out;
            break;
        default:
            list[(*n)++] = pc;
            break;
        }
        if (next != UINT32_MAX && mark[next] != gen) {
            mark[next] = gen;
            pc = next;
            continue;
        }
        if (sp == 0)
            return false;
        pc = vm->stack[--sp];
    }
}

static bool class_has(const uint32_t *ranges, uint32_t c)
{
    const uint32_t *g = ranges + 1;
    size_t lo = 0, hi = ranges[0];

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < g[2 * mid])
            hi = mid;
        else if (c > g[2 * mid + 1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

#define VM_STACK_PROG 64 /* programs up to this size match without touching the heap */

bool berth_regex_match(const struct berth_regex *re, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t m = re->n_prog;
    uint32_t small[4 * VM_STACK_PROG];
    _cleanup_free_ uint32_t *heap = NULL;
    uint32_t *buf = small, *clist, *nlist, ncl = 0;
    struct vm vm = {.prog = re->prog, .gen = 1};
    size_t pos = 0, w = 0, w2 = 0;
    int32_t r, r2;
    uint32_t flags;

    if (m > VM_STACK_PROG)
        buf = heap = berth_xmalloc(4 * (size_t)m * sizeof(*buf));
    vm.mark = buf;
    vm.stack = buf + m;
    clist = buf + 2 * (size_t)m;
    nlist = buf + 3 * (size_t)m;
    memset(vm.mark, 0, m * sizeof(*vm.mark));

    r = len > 0 ? utf8_decode(u, len, &w) : -1;
    flags = pos_flags(-1, r);
    for (;;) {
        /* a match may start here: anywhere unless the pattern begins with \A */
        if ((!re->anchored || pos == 0) && vm_add(&vm, re->start, flags, clist, &ncl))
            return true;
        if (r < 0 || (ncl == 0 && re->anchored))
            return false;
        r2 = pos + w < len ? utf8_decode(u + pos + w, len - pos - w, &w2) : -1;
        flags = pos_flags(r, r2);
        vm.gen++;
        uint32_t nn = 0;
        for (uint32_t i = 0; i < ncl; i++) {
            const struct inst *in = &re->prog[clist[i]];
            bool ok;
            switch (in->op) {
            case I_RUNE:
                ok = (uint32_t)r == in->arg;
                break;
            case I_CLASS:
                ok = class_has(re->ranges + in->arg, (uint32_t)r);
                break;
            case I_ANY_NOTNL:
                ok = r != '\n';
                break;
            default: /* I_ANY */
                ok = true;
                break;
            }
            if (ok && vm_add(&vm, in->out, flags, nlist, &nn))
                return true;
        }
        uint32_t *t = clist;
        clist = nlist;
        nlist = t;
        ncl = nn;
        pos += w;
        r = r2;
        w = w2;
    }
}
