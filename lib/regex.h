/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Regular expressions with Go's regexp syntax and match semantics (RE2), for containerd's `~=`
 * filters. The parser is one iterative pass that compiles the pattern into a Thompson NFA;
 * matching simulates that NFA (Pike VM) over the input's runes. So a compile never recurses
 * and a match takes O(input length x program size) time and O(program size) memory, whatever
 * the pattern: no backtracking, no lazy DFA whose state cache can grow without bound (glibc's
 * regexec needs minutes and hundreds of MiB for `[ab]*a[ab]{100}c` on 4 KiB). Depends on lib/err.
 *
 * Syntax and meaning are Go's regexp.Compile (flags syntax.Perl): `.` skips '\n' unless (?s),
 * `^`/`$` are text anchors unless (?m), `\d \s \w \b` and `[[:alpha:]]` are ASCII, flags
 * (?imsU) and (?flags:re), (?:re), (?P<name>re) and (?<name>re), non-greedy operators (same
 * match/no-match answer as greedy), \A \z \Q...\E \x41 \x{263a} \123 \a\f\t\n\r\v, escaped
 * punctuation. Input is read as UTF-8 like Go reads it: each byte of an invalid sequence is
 * one U+FFFD. Refused, as Go refuses them (BERTH_E_INVALID_ARGUMENT, message in Go's words):
 * backreferences `\1` (invalid escape sequence), `a**` (invalid nested repetition operator),
 * counts over 1000 or nested counts whose product is over 1000 (invalid repeat count), trees
 * more than 1000 levels deep (expression nests too deeply), invalid UTF-8, bad classes,
 * unbalanced parentheses and the rest of Go's syntax errors. Refused although Go accepts them:
 *   - patterns longer than BERTH_REGEX_MAX_LEN bytes;
 *   - programs of more than BERTH_REGEX_MAX_PROG instructions ("expression too large"; Go's
 *     own bound is ~3.3 million). Counted repeats are expanded, so `\w{1,1000}` costs ~2000;
 *   - Unicode classes \pL, \p{Greek}, \PN (no Unicode tables here);
 *   - (?i) applied to non-ASCII letters other than U+017F and U+212A, the two that fold
 *     to ASCII (Go folds with Unicode tables); code points above U+1E943 never fold and are
 *     fine, and so are negated sets such as (?i)[^a] or \W.
 * The depth limit counts Go's parse tree before Go's alternation factoring (`a|b` becomes
 * [ab] in Go), so a pattern within a few levels of 1000 may be refused by one and not the
 * other. Known Go quirk not copied: Go compares a pattern that is only a literal string by
 * bytes, so `\x{fffd}` does not match an invalid byte there; here it does (no RE2 engine does
 * either for proto3 strings, which are always valid UTF-8).
 */
#ifndef BERTH_LIB_REGEX_H
#define BERTH_LIB_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "lib/util.h"

/* Longest pattern accepted, in bytes. */
#define BERTH_REGEX_MAX_LEN 65536
/* Most NFA instructions a compiled pattern may have. A match does at most this much work per
 * input character: the worst patterns at the bound take ~60 ms on 4 KiB of input (one x86 core),
 * typical filters (^v[0-9]+\.[0-9]+$) a few microseconds; compiling takes under 10 ms and
 * 300 KiB even for a BERTH_REGEX_MAX_LEN pattern. */
#define BERTH_REGEX_MAX_PROG 4000
/* Go's limits: parse-tree height, and any {n,m} count or product of nested counts. */
#define BERTH_REGEX_MAX_DEPTH  1000
#define BERTH_REGEX_MAX_REPEAT 1000

/* Opaque compiled pattern; immutable, so one may be matched from several threads at once. */
struct berth_regex;

/* Compiles pattern (NUL-terminated, Go syntax). Returns 0 and *out owned by the caller
 * (berth_regex_free), or -1 with BERTH_E_INVALID_ARGUMENT whose message gives the reason
 * (Go's wording where Go refuses too, e.g. "invalid escape sequence: `\1`") and *out NULL. */
int berth_regex_compile(const char *pattern, struct berth_regex **out, struct berth_err **err);

/* True when re matches anywhere in s[0..len) (Go's MatchString; unanchored unless the pattern
 * anchors itself). s needs no NUL and may hold any bytes. Allocates nothing for small
 * programs; larger ones take 16 bytes per instruction from the heap for the call. */
bool berth_regex_match(const struct berth_regex *re, const char *s, size_t len);

/* The program size in NFA instructions (<= BERTH_REGEX_MAX_PROG): a match does at most about
 * this much work per input byte, so callers can tell a costly match before running it. */
size_t berth_regex_size(const struct berth_regex *re);

/* NULL-safe. */
void berth_regex_free(struct berth_regex *re);
DEFINE_CLEANUP(struct berth_regex *, berth_regex_free)

#endif
