/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runs a lib/regex program: a Pike VM over the input's runes, decoded as Go decodes them.
 * Without captures a thread is only a pc, so the state per input position is one set of pcs:
 * O(program size) memory and O(input x program size) time.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/regex-internal.h"
#include "lib/utf8.h"
#include "lib/util.h"

/* ---- matching: a Pike VM without captures, so a thread is just a pc ---- */

struct vm {
    const struct regex_inst *prog;
    uint32_t *mark;  /* mark[pc] == gen: pc already added at this position */
    uint32_t *stack; /* pending pcs of a closure */
    uint32_t gen;
};

static bool is_word(int32_t r)
{
    return r >= 0 && r < 0x80 && (regex_is_alnum((uint32_t)r) || r == '_');
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
    const struct regex_inst *prog = vm->prog;
    uint32_t *mark = vm->mark, gen = vm->gen;
    size_t sp = 0;

    if (mark[pc] == gen)
        return false;
    mark[pc] = gen;
    for (;;) {
        const struct regex_inst *in = &prog[pc];
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

    r = len > 0 ? berth_utf8_decode(u, len, &w) : -1;
    flags = pos_flags(-1, r);
    for (;;) {
        /* a match may start here: anywhere unless the pattern begins with \A */
        if ((!re->anchored || pos == 0) && vm_add(&vm, re->start, flags, clist, &ncl))
            return true;
        if (r < 0 || (ncl == 0 && re->anchored))
            return false;
        r2 = pos + w < len ? berth_utf8_decode(u + pos + w, len - pos - w, &w2) : -1;
        flags = pos_flags(r, r2);
        vm.gen++;
        uint32_t nn = 0;
        for (uint32_t i = 0; i < ncl; i++) {
            const struct regex_inst *in = &re->prog[clist[i]];
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
