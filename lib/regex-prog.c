/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Thompson-NFA builder behind lib/regex.c: fragments whose exits are patched later,
 * concatenation, alternation, repetition by copying a fragment's code, character classes with
 * Go's ASCII case folding, and Go's limits on tree height, repeat counts and size.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/regex-internal.h"
#include "lib/util.h"

/* ---- errors ---- */

/* Sets the error "what: `pattern[from, to)`", the excerpt cut at 48 bytes on a rune boundary. */
int berth_regex_perr(struct regex_parser *p, const char *what, size_t from, size_t to)
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

int berth_regex_err(struct regex_parser *p, const char *what)
{
    return berth_err_set(p->err, BERTH_E_INVALID_ARGUMENT, 0, "%s", what);
}

static int err_too_large(struct regex_parser *p)
{
    return berth_err_set(p->err, BERTH_E_INVALID_ARGUMENT, 0,
                         "expression too large (over %d NFA instructions)", BERTH_REGEX_MAX_PROG);
}

int berth_regex_err_too_deep(struct regex_parser *p)
{
    return berth_regex_err(p, "expression nests too deeply");
}

/* ---- program building ---- */

static uint32_t *hole_field(struct berth_regex *re, uint32_t link)
{
    struct regex_inst *i = &re->prog[link >> 1];
    return (link & 1) ? &i->out1 : &i->out;
}

int berth_regex_emit(struct regex_parser *p, uint8_t op, uint32_t arg, uint32_t *idx)
{
    struct berth_regex *re = p->re;

    if (re->n_prog >= BERTH_REGEX_MAX_PROG)
        return err_too_large(p);
    if (re->n_prog == p->cap_prog) {
        p->cap_prog = p->cap_prog ? p->cap_prog * 2 : 32;
        re->prog = berth_xrealloc(re->prog, p->cap_prog * sizeof(*re->prog));
    }
    *idx = re->n_prog++;
    re->prog[*idx] =
        (struct regex_inst){.op = op, .out = HOLE | LEND, .out1 = HOLE | LEND, .arg = arg};
    return 0;
}

/* Points every hole of the list at target. */
void berth_regex_patch(struct berth_regex *re, uint32_t head, uint32_t target)
{
    while (head != LEND) {
        uint32_t *f = hole_field(re, head);
        head = *f & ~HOLE;
        *f = target;
    }
}

static void holes_append(struct berth_regex *re, struct regex_entry *e, uint32_t head,
                         uint32_t tail)
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

struct regex_entry *berth_regex_push_entry(struct regex_parser *p, uint8_t kind)
{
    if (p->n_st == p->cap_st) {
        p->cap_st = p->cap_st ? p->cap_st * 2 : 16;
        p->st = berth_xrealloc(p->st, p->cap_st * sizeof(*p->st));
    }
    struct regex_entry *e = &p->st[p->n_st++];
    *e = (struct regex_entry){.kind = kind, .head = LEND, .tail = LEND, .height = 1, .rp = 1};
    return e;
}

/* Pushes a one-instruction item whose only exit is out. */
int berth_regex_push_inst(struct regex_parser *p, uint8_t op, uint32_t arg, uint8_t shape)
{
    uint32_t idx;

    if (berth_regex_emit(p, op, arg, &idx) < 0)
        return -1;
    struct regex_entry *e = berth_regex_push_entry(p, ENT_ITEM);
    e->shape = shape;
    e->lit_fold = (p->flags & F_FOLD) != 0;
    e->first = e->start = idx;
    e->head = e->tail = idx << 1;
    return 0;
}

/* ---- character classes ---- */

static void cls_add(struct regex_parser *p, uint32_t lo, uint32_t hi)
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
void berth_regex_cls_clean(struct regex_parser *p, size_t from)
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
void berth_regex_cls_negate(struct regex_parser *p, size_t from)
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
int berth_regex_cls_add_folded(struct regex_parser *p, uint32_t lo, uint32_t hi, size_t at,
                               size_t to)
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
        return berth_regex_perr(
            p, "unsupported in berth: case-insensitive match of non-ASCII characters", at, to);
    return 0;
}

/* Adds a group (negated when sign < 0). Under (?i) the group is folded before it is negated,
 * as Go's appendGroup does; groups are ASCII, so folding them never needs tables. */
void berth_regex_cls_add_group(struct regex_parser *p, const struct regex_group *g, int sign)
{
    size_t from = p->n_cls;

    for (size_t i = 0; i < g->n; i++)
        berth_regex_cls_add_folded(p, g->r[2 * i], g->r[2 * i + 1], 0,
                                   0); /* ASCII only: cannot fail */
    berth_regex_cls_clean(p, from);
    if (sign < 0)
        berth_regex_cls_negate(p, from);
}

/* Pushes the class in cls[0..n_cls) as one instruction. */
int berth_regex_push_class(struct regex_parser *p, uint8_t shape)
{
    struct berth_regex *re = p->re;
    uint32_t n;

    berth_regex_cls_clean(p, 0);
    n = (uint32_t)(p->n_cls / 2);
    if (n == 0)
        return berth_regex_push_inst(p, I_FAIL, 0, shape);
    if (n == 1 && p->cls[0] == p->cls[1])
        return berth_regex_push_inst(p, I_RUNE, p->cls[0], shape);
    if (n == 1 && p->cls[0] == 0 && p->cls[1] == 0x10ffff)
        return berth_regex_push_inst(p, I_ANY, 0, shape);
    if (n == 2 && p->cls[0] == 0 && p->cls[1] == '\n' - 1 && p->cls[2] == '\n' + 1 &&
        p->cls[3] == 0x10ffff)
        return berth_regex_push_inst(p, I_ANY_NOTNL, 0, shape);
    if (re->n_ranges + 1 + p->n_cls > p->cap_ranges) {
        while (re->n_ranges + 1 + p->n_cls > p->cap_ranges)
            p->cap_ranges = p->cap_ranges ? p->cap_ranges * 2 : 64;
        re->ranges = berth_xrealloc(re->ranges, p->cap_ranges * sizeof(*re->ranges));
    }
    re->ranges[re->n_ranges] = n;
    memcpy(re->ranges + re->n_ranges + 1, p->cls, p->n_cls * sizeof(*p->cls));
    if (berth_regex_push_inst(p, I_CLASS, (uint32_t)re->n_ranges, shape) < 0)
        return -1;
    re->n_ranges += 1 + p->n_cls;
    return 0;
}

/* A literal rune: under (?i) a letter becomes the class of its case variants. */
int berth_regex_push_literal(struct regex_parser *p, uint32_t c, size_t at)
{
    if (p->flags & F_FOLD) {
        p->n_cls = 0;
        if (berth_regex_cls_add_folded(p, c, c, at, p->pos) < 0)
            return -1;
        return berth_regex_push_class(p, SH_LIT);
    }
    return berth_regex_push_inst(p, I_RUNE, c, SH_LIT);
}

/* ---- parse stack reductions ---- */

int berth_regex_check_height(struct regex_parser *p, const struct regex_entry *e)
{
    return e->height > BERTH_REGEX_MAX_DEPTH ? berth_regex_err_too_deep(p) : 0;
}

/* Index just above the topmost marker (any marker when bar_too, else only '('). */
static size_t above_marker(const struct regex_parser *p, bool bar_too)
{
    size_t i = p->n_st;

    while (i > 0 && p->st[i - 1].kind != ENT_LPAREN && (!bar_too || p->st[i - 1].kind != ENT_VBAR))
        i--;
    return i;
}

/* Go flattens a concatenation's concatenated children (an alternation's alternated ones) into
 * it: such a child adds its units and its children's height; any other child is one unit of
 * its own height. */
static void count_child(const struct regex_entry *e, enum shape same, uint32_t *units,
                        uint32_t *maxh)
{
    uint32_t h = e->shape == same ? e->child_h : e->height;

    *units += e->shape == same ? e->units : 1;
    if (h > *maxh)
        *maxh = h;
}

/* Replaces the items above the topmost marker with their concatenation. */
int berth_regex_reduce_concat(struct regex_parser *p)
{
    size_t i = above_marker(p, true), k = p->n_st - i;
    uint32_t units = 0, maxh = 0;
    int prev_lit = -1;

    if (k == 0) /* empty: matches the empty string */
        return berth_regex_push_inst(p, I_NOP, 0, SH_OTHER);
    if (k == 1)
        return 0;
    struct regex_entry *v = &p->st[i];
    uint32_t rp = 1;
    for (size_t j = 0; j < k; j++) {
        if (v[j].rp > rp)
            rp = v[j].rp;
        if (j + 1 < k)
            berth_regex_patch(p->re, v[j].head, v[j + 1].start);
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
        count_child(&v[j], SH_CONCAT, &units, &maxh);
    }
    struct regex_entry e = v[0];
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
    return berth_regex_check_height(p, &e);
}

/* Replaces the alternatives (items separated by '|' markers) above the topmost '(' with their
 * alternation. Call right after reduce_concat. */
int berth_regex_reduce_alternate(struct regex_parser *p)
{
    size_t i = above_marker(p, false), k = 0;
    uint32_t units = 0, maxh = 0, rp = 1, first = UINT32_MAX;

    for (size_t j = i; j < p->n_st; j++)
        if (p->st[j].kind == ENT_ITEM)
            p->st[i + k++] = p->st[j]; /* drop the '|' markers */
    p->n_st = i + k;
    if (k == 1)
        return 0;
    struct regex_entry *v = &p->st[i];
    for (size_t j = 0; j < k; j++) {
        if (v[j].first < first)
            first = v[j].first;
        if (v[j].rp > rp)
            rp = v[j].rp;
        count_child(&v[j], SH_ALT, &units, &maxh);
    }
    struct regex_entry e = {.kind = ENT_ITEM,
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
        if (berth_regex_emit(p, I_SPLIT, 0, &idx) < 0)
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
    return berth_regex_check_height(p, &e);
}

/* ---- repetition ---- */

struct frag {
    uint32_t start, head, tail;
};

/* Appends a copy of the code [s, s + n) (one unpatched fragment) and returns its entry and
 * holes. Targets inside the range move with it; hole links are shifted the same way. */
static int copy_code(struct regex_parser *p, uint32_t s, uint32_t n, const struct regex_entry *x,
                     struct frag *out)
{
    struct berth_regex *re = p->re;
    uint32_t at = re->n_prog, delta = at - s;

    for (uint32_t j = 0; j < n; j++) {
        uint32_t idx;
        if (berth_regex_emit(p, I_NOP, 0, &idx) < 0)
            return -1;
        struct regex_inst in = re->prog[s + j];
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
int berth_regex_apply_repeat(struct regex_parser *p, int min, int max, bool counted, size_t before,
                             size_t after)
{
    struct berth_regex *re = p->re;
    struct regex_entry *x = &p->st[p->n_st - 1];
    uint32_t s = x->first, len = re->n_prog - s, idx;

    x->height++;
    x->shape = SH_OTHER;
    if (berth_regex_check_height(p, x) < 0)
        return -1;
    if (counted) {
        if (max == 0) { /* x{0}: the code goes, the empty string stays */
            uint32_t h = x->height;
            re->n_prog = s;
            p->n_st--;
            if (berth_regex_push_inst(p, I_NOP, 0, SH_OTHER) < 0)
                return -1;
            p->st[p->n_st - 1].height = h; /* Go keeps x under the repeat node */
            return 0;
        }
        uint32_t factor = (uint32_t)(max > 0 ? max : min > 0 ? min : 1);
        x->rp *= factor;
        if ((min >= 2 || max >= 2) && x->rp > BERTH_REGEX_MAX_REPEAT)
            return berth_regex_perr(p, "invalid repeat count", before, after);
    }
    if (min == 0 && max < 0) { /* x*: a split that loops back from x's exits */
        if (berth_regex_emit(p, I_SPLIT, 0, &idx) < 0)
            return -1;
        re->prog[idx].out = x->start;
        berth_regex_patch(re, x->head, idx);
        x->start = idx;
        x->head = x->tail = idx << 1 | 1;
        return 0;
    }
    if (min == 1 && max < 0) { /* x+ */
        if (berth_regex_emit(p, I_SPLIT, 0, &idx) < 0)
            return -1;
        re->prog[idx].out = x->start;
        berth_regex_patch(re, x->head, idx);
        x->head = x->tail = idx << 1 | 1;
        return 0;
    }
    if (min == 0 && max == 1) { /* x? */
        if (berth_regex_emit(p, I_SPLIT, 0, &idx) < 0)
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
    struct regex_entry e = *x;
    e.head = e.tail = LEND;
    uint32_t entry_next = UINT32_MAX;
    /* wire from the last copy backwards so each copy's exits know the next entry */
    for (uint32_t j = copies; j-- > 0;) {
        uint32_t entry = c[j].start;
        if (max < 0 && j == copies - 1) {
            if (berth_regex_emit(p, I_SPLIT, 0, &idx) < 0)
                return -1;
            re->prog[idx].out = c[j].start;
            berth_regex_patch(re, c[j].head, idx);
            holes_append(re, &e, idx << 1 | 1, idx << 1 | 1);
        } else if (j == copies - 1) {
            holes_append(re, &e, c[j].head, c[j].tail);
        } else {
            berth_regex_patch(re, c[j].head, entry_next);
        }
        if (max >= 0 && j >= (uint32_t)min) { /* optional copy */
            if (berth_regex_emit(p, I_SPLIT, 0, &idx) < 0)
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
