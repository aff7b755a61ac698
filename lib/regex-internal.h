/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to lib/regex*.c: the NFA program (regex-prog.c builds it, regex-match.c runs it) and
 * the parser state that regex.c (Go's syntax) drives regex-prog.c with.
 */
#ifndef BERTH_LIB_REGEX_INTERNAL_H
#define BERTH_LIB_REGEX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/regex.h"

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

struct regex_inst {
    uint8_t op;
    uint32_t out, out1;
    uint32_t arg;
};

struct berth_regex {
    struct regex_inst *prog;
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

struct regex_entry {
    uint8_t kind;
    uint8_t shape;       /* ITEM */
    uint8_t lit_fold;    /* ITEM, SH_LIT: parsed under (?i); Go merges only equal ones */
    uint8_t capture;     /* LPAREN */
    uint8_t flags;       /* LPAREN: flags to restore at ')' */
    uint32_t first;      /* ITEM: its code is [first, next item's first or program end) */
    uint32_t start;      /* ITEM: entry instruction */
    uint32_t head, tail; /* ITEM: its unpatched exits (hole list) */
    uint32_t height;     /* ITEM: Go parse-tree height */
    uint32_t units;      /* SH_CONCAT/SH_ALT: flattened children */
    uint32_t child_h;    /* SH_CONCAT/SH_ALT: their largest height */
    uint32_t rp;         /* ITEM: largest product of nested repeat counts, as Go's repeatIsValid */
};

struct regex_parser {
    const char *pat;
    size_t len, pos;
    struct berth_regex *re;
    size_t cap_prog, cap_ranges;
    struct regex_entry *st;
    size_t n_st, cap_st;
    uint32_t *cls; /* class under construction: lo, hi pairs */
    size_t n_cls, cap_cls;
    unsigned flags;
    unsigned open_caps;
    struct berth_err **err;
};

struct regex_group { /* a Perl (\d) or POSIX ([:alpha:]) class */
    const char *name;
    int sign;
    const uint32_t *r; /* n lo, hi pairs */
    size_t n;
};

static inline bool regex_is_alnum(uint32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Errors, all BERTH_E_INVALID_ARGUMENT; each returns -1. perr quotes pattern[from, to). */
int berth_regex_perr(struct regex_parser *p, const char *what, size_t from, size_t to);
int berth_regex_err(struct regex_parser *p, const char *what);
int berth_regex_err_too_deep(struct regex_parser *p);

/* Program building (regex-prog.c). Instructions go to the end of p->re->prog; an item on the
 * parse stack is the fragment of code at its end. */
int berth_regex_emit(struct regex_parser *p, uint8_t op, uint32_t arg, uint32_t *idx);
void berth_regex_patch(struct berth_regex *re, uint32_t head, uint32_t target);
struct regex_entry *berth_regex_push_entry(struct regex_parser *p, uint8_t kind);
int berth_regex_push_inst(struct regex_parser *p, uint8_t op, uint32_t arg, uint8_t shape);
int berth_regex_push_literal(struct regex_parser *p, uint32_t c, size_t at);
int berth_regex_push_class(struct regex_parser *p, uint8_t shape);
int berth_regex_check_height(struct regex_parser *p, const struct regex_entry *e);
int berth_regex_reduce_concat(struct regex_parser *p);
int berth_regex_reduce_alternate(struct regex_parser *p);
int berth_regex_apply_repeat(struct regex_parser *p, int min, int max, bool counted, size_t before,
                             size_t after);

/* The class under construction, p->cls[0..n_cls): lo, hi pairs. */
int berth_regex_cls_add_folded(struct regex_parser *p, uint32_t lo, uint32_t hi, size_t at,
                               size_t to);
void berth_regex_cls_add_group(struct regex_parser *p, const struct regex_group *g, int sign);
void berth_regex_cls_clean(struct regex_parser *p, size_t from);
void berth_regex_cls_negate(struct regex_parser *p, size_t from);

#endif
