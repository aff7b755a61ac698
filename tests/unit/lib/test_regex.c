/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/regex.c: Go regexp syntax and match answers (expectations from Go's
 * regexp/syntax docs and parser), what is refused, and that hostile patterns stay cheap. */
#include "tests/unit/helpers/berth_test.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/regex.h"
#include "lib/util.h"

struct mcase {
    const char *re, *in;
    bool match; /* what Go's regexp.MustCompile(re).MatchString(in) says */
};

static const struct mcase match_cases[] = {
    /* literals, unanchored search, empty pieces */
    {"abc", "xabcx", true},
    {"abc", "ab", false},
    {"", "", true},
    {"", "x", true},
    {"^abc$", "abc", true},
    {"^abc$", "abcd", false},
    {"a|b", "b", true},
    {"a|", "x", true},
    {"|a", "", true},
    {"a||b", "x", true},
    {"()", "x", true},
    {"^(|)$", "", true},
    {"^(?:)$", "", true},
    {"x(?:){1000}y", "xy", true},
    {"^(?:cat|dog|)$", "", true},
    {"^(?:cat|dog|)$", "dog", true},
    {"^(?:cat|dog|)$", "cow", false},
    {"cat|dog", "hotdog", true},
    {"}", "}", true},
    {"]", "]", true},
    /* counted repetition; {,n} and malformed braces are literals in Go */
    {"^a{0}$", "", true},
    {"^a{0}$", "a", false},
    {"^a{0}b$", "b", true},
    {"^a{2}$", "aa", true},
    {"^a{2}$", "aaa", false},
    {"^a{2,}$", "a", false},
    {"^a{2,}$", "aaaaa", true},
    {"^a{1,3}$", "aaa", true},
    {"^a{1,3}$", "aaaa", false},
    {"a{,2}", "a{,2}", true},
    {"a{,2}", "aa", false},
    {"a{01}", "a{01}", true},
    {"^a{01}$", "a", false},
    {"x{", "x{", true},
    {"{", "{", true},
    {"a{1", "a{1", true},
    {"a{1,", "a{1,", true},
    {"a{1,2", "a{1,2", true},
    {"^(?:a|b){2,3}$", "ab", true},
    {"^(?:a|b){2,3}$", "abab", false},
    {"^(ab){0,2}c$", "ababc", true},
    {"^(ab){0,2}c$", "abababc", false},
    {"^(?:){5}$", "", true},
    {"^(?:(?:a{2}){3}){2}$", "aaaaaaaaaaaa", true},
    {"^(?:(?:a{2}){3}){2}$", "aaaaaaaaaaa", false},
    {"^(?:a{2,3}){2}$", "aaaaa", true},
    {"^(?:a{2,3}){2}$", "aaa", false},
    {"^(?:a{2,3}){2}$", "aaaaaaa", false},
    {"^(?:a?){3}a{3}$", "aaa", true},
    {"(a|aa)*b", "aaab", true},
    {"^(a*)*$", "aaa", true},
    {"(a*)+b", "b", true},
    {"^(?:a{1000}){0}b$", "b", true},
    /* non-greedy and (?U) change no match/no-match answer */
    {"^a*?$", "aaa", true},
    {"^a+?b$", "aab", true},
    {"^a??b$", "b", true},
    {"^a{1,2}?$", "aa", true},
    {"^(?:a|b)+?c$", "abc", true},
    {"(?U)^a*$", "aa", true},
    {"(?U)^a*?$", "aa", true},
    /* a repetition after a flag group applies to what came before it */
    {"^x(?i)*$", "xx", true},
    {"^x(?i)*$", "", true},
    {"^x(?i)*$", "X", false},
    {"(?)a", "a", true},
    /* . is one rune and skips \n unless (?s); invalid bytes are one U+FFFD each */
    {"^.$", "\n", false},
    {"(?s)^.$", "\n", true},
    {"(?s:.)", "\n", true},
    {"^.$", "\xc3\xa9", true},
    {"^..$", "\xc3\xa9", false},
    {"^.$", "\xff", true},
    {"^..$", "\xe2\x82", true},
    {"^..$", "\xe6\x97\xa5\xe6\x9c\xac", true},
    {"^...$", "\xe6\x97\xa5\xe6\x9c\xac", false},
    {"^a.b$",
     "a\xff"
     "b",
     true},
    {"^a.b$",
     "a\xed\xa0\x80"
     "b",
     false}, /* an encoded surrogate is 3 invalid bytes */
    {"^a...b$",
     "a\xed\xa0\x80"
     "b",
     true},
    /* anchors: ^ and $ are text anchors unless (?m) */
    {"a$", "a\n", false},
    {"(?m)a$", "a\nb", true},
    {"(?m)^b", "a\nb", true},
    {"^b", "a\nb", false},
    {"(?m:^b)", "a\nb", true},
    {"(?m)^$", "", true},
    {"(?m)a$\\n^b", "a\nb", true},
    {"\\Aab", "ab", true},
    {"\\Aab", "cab", false},
    {"(?m)\\Ab", "a\nb", false},
    {"ab\\z", "ab", true},
    {"ab\\z", "ab\n", false},
    {"(?m)a\\z", "a\nb", false},
    {"a^b", "ab", false},
    {"$a", "a", false},
    {"^*a", "ba", true},
    {"(?:^)*a", "ba", true},
    /* \b \B: ASCII word characters, non-ASCII is non-word */
    {"\\bfoo\\b", "a foo b", true},
    {"\\bfoo\\b", "afoo", false},
    {"\\Bfoo", "afoo", true},
    {"\\Bfoo", "foo", false},
    {"\\b", "", false},
    {"\\B", "", true},
    {"\\b", "\xc3\xa9", false},
    {"\\B",
     "a\xc3\xa9"
     "a",
     false},
    {"\xc3\xa9\\b",
     "\xc3\xa9"
     "a",
     true},
    /* Perl classes are ASCII; Go's \s has no \v */
    {"\\d+", "abc123", true},
    {"^\\d$", "\xd9\xa3", false},
    {"^\\D$", "\xd9\xa3", true},
    {"^\\s$", "\v", false},
    {"^\\s$", "\t", true},
    {"^\\S$", "\v", true},
    {"^[[:space:]]$", "\v", true},
    {"^\\w+$", "a_Z9", true},
    {"^\\w$", "\xc3\xa9", false},
    {"^\\W$", "\xc3\xa9", true},
    {"\\d+\\s\\w", "12 a", true},
    /* escapes */
    {"\\x41", "A", true},
    {"\\x{41}", "A", true},
    {"\\x{263a}", "\xe2\x98\xba", true},
    {"^\\x{10FFFF}$", "\xf4\x8f\xbf\xbf", true},
    {"\\101", "A", true},
    {"\\12", "\n", true},
    {"a\\0", "a", false},
    {"\\t\\n\\r\\f\\v\\a", "\t\n\r\f\v\a", true},
    {"\\.", ".", true},
    {"\\.", "a", false},
    {"\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\", "*+?()[]{}|^$\\", true},
    {"\\_\\-\\ \\#", "_- #", true},
    {"\\Qa.b\\E", "a.b", true},
    {"\\Qa.b\\E", "axb", false},
    {"\\Qa.b", "a.b", true},
    {"^\\Q(\\E+$", "((", true},
    {"^x\\Q\\E*$", "xxx", true},
    {"\\Q\\\\E", "\\", true},
    /* groups and flags */
    {"(?:ab)+", "abab", true},
    {"^(?:ab)+$", "aba", false},
    {"(?P<name>a+)b", "aab", true},
    {"(?<n>x)y", "xy", true},
    {"(?i)abc", "ABC", true},
    {"(?i:a)b", "Ab", true},
    {"(?i:a)b", "AB", false},
    {"a(?i)b", "aB", true},
    {"a(?i)b", "Ab", false},
    {"(?i)a(?-i)b", "AB", false},
    {"(?i)a(?-i)b", "Ab", true},
    {"(?:a(?i)b|c)", "C", true}, /* flags last to the group's end, across | */
    {"(?:(?i)a)b", "AB", false},
    {"(?:(?i)a)b", "Ab", true},
    {"(?i)k", "\xe2\x84\xaa", true}, /* KELVIN SIGN folds to k */
    {"(?i)\xe2\x84\xaa", "k", true},
    {"(?i)S", "\xc5\xbf", true}, /* LATIN SMALL LETTER LONG S folds to s */
    {"(?i)[a-z]", "\xe2\x84\xaa", true},
    {"(?i)[^k]", "\xe2\x84\xaa", false},
    {"(?i)\\W", "\xe2\x84\xaa", false}, /* Go folds \w before negating it */
    {"\\W", "\xe2\x84\xaa", true},
    {"(?i)[[:upper:]]", "a", true},
    {"(?i)1", "1", true},
    {"(?i)\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", true}, /* above U+1E943 nothing folds */
    /* classes */
    {"[abc]", "b", true},
    {"^[^abc]$", "d", true},
    {"^[^abc]$", "\n", true},
    {"[a-c]+", "xbz", true},
    {"^[]a]+$", "]a]", true},
    {"^[^]a]$", "b", true},
    {"^[a-]+$", "a-", true},
    {"^[-a]$", "-", true},
    {"^[a-b-c]+$", "-ac", true},
    {"[[]", "[", true},
    {"[\\d]", "5", true},
    {"[\\D]", "a", true},
    {"^[^\\d]$", "5", false},
    {"^[\\d-z]+$", "5-z", true},
    {"[\\]]", "]", true},
    {"[\\-]", "-", true},
    {"^[\\x41-\\x43]+$", "ABC", true},
    {"^[[:alpha:][:digit:]]+$", "a1", true},
    {"[[:word:]]", "_", true},
    {"^[[:punct:]]+$", "!@#", true},
    {"[[:^alpha:]]", "1", true},
    {"^[[:^alpha:]]$", "a", false},
    {"^[\\x{0}-\\x{10FFFF}]$", "\xc3\xa9", true},
    {"[^\\x00-\\x{10FFFF}]", "a", false},
    {"a|[^\\x00-\\x{10FFFF}]", "a", true},
    {"^[\\x{100}-\\x{200}]$", "\xc4\x81", true},
    {"^[\\x{100}-\\x{200}]$", "\xc9\x90", false},
    {"[\xc3\xa9]", "\xc3\xa9", true},
    {"^[^\xc3\xa9]$", "e", true},
    {"^[^\xc3\xa9]$", "\xc3\xa9", false},
    {"^[^a]$", "\xff", true},
    /* from Go's regexp/testdata/re2-search.txt (its leftmost-first partial-match column) */
    {"\\bx\\b",
     "\xc2\xab"
     "x",
     true},
    {"\\bx\\b", "x\xc2\xbb", true},
    {"\\bx\\b", "\xc3\xa1x\xce\xb2", true},
    {"\\Bx\\B", "\xc3\xa1x\xce\xb2", false},
    {"\\Bx\\B", "axb", true},
    {"\\B(foo|bar|[A-Z])\\B", "xfoo_", true},
    {"\\B(foo|bar|[A-Z])\\B", "xfoo\n", false},
    {"\\B$", "y x", false},
    {"\\b$", "y x", true},
    {"^^^^^^^^\\B$$$$$$$", "", true},
    {"^^^^^^^^\\b.$$$$$$", "x", true},
    {"$^$", "x\n\ny", false},
    {"(?:bar\\b)$", "foobar\nxxx", false},
    {"\\0600", "00", true},
    {"\\608", "08", true},
    {"\\018",
     "\x01"
     "8",
     true},
    {"\\x{00000061}", "a", true},
    {"(?i)[@-A]+", "@AaB", true},
    {"^(?:(?i)[@-A]+)$", "@AaB", false},
    {"^(?:(?i)[acegikmoqsuwy]+)$", "acegikmoqsuwyACEGIKMOQSUWY", true},
    {"^(?:(?i)[^\\\\]+)$", "Aa\\", false},
    {"^(?:\\w*I\\w*)$", "Inc.", false},
    {"^(?:(?:|a)+)$", "aaa", true},
    {"[^\\s\\S]", "aaaaaaa", false},
    {"^.........$", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", false},
    /* large but within bounds */
    {"^a{1000}$", NULL, true}, /* NULL: 1000 x 'a' */
    {"^(?:a{10}){100}$", NULL, true},
};

static const char *refused[] = {
    /* nested repetition */
    "a**",
    "a*+",
    "a+*",
    "a??*",
    "a{2}{3}",
    "a*{2}",
    "a{2}*",
    "a*??",
    "x{1000}{1000}",
    /* missing argument */
    "*",
    "+a",
    "?",
    "(*)",
    "(|*)",
    "a|*",
    "{2}",
    "(?i)*",
    "x|{1}",
    "\\Q\\E*",
    /* backreferences and unknown escapes */
    "\\1",
    "\\9",
    "\\8",
    "(a)\\1",
    "^(b*)*\\1\\1\\1\\1\\1c$",
    "\\k<n>",
    "\\g1",
    "\\C",
    "\\Z",
    "\\q",
    "\\e",
    "\\x",
    "\\xZ1",
    "\\x{}",
    "\\x{110000}",
    "\\x{zz}",
    "\\",
    "a\\",
    "[a-\\d]",
    /* parentheses */
    "(",
    ")",
    "a)",
    "(a",
    "((a)",
    "(?:a",
    "(?i:a",
    /* classes */
    "[",
    "[a",
    "[]",
    "[^]",
    "[a-",
    "[z-a]",
    "[[:foo:]]",
    "[[:alpha:]",
    "[\\x{10FFFF}-a]",
    /* counts */
    "a{1001}",
    "a{2,1001}",
    "a{3,2}",
    "(a{1000}){2}",
    "((a{10}){10}){11}",
    "a{100000000}",
    "(a{1000}){1000}",
    "(?:a{500}|b){3}",
    /* Perl syntax Go lacks */
    "(?",
    "(?x)",
    "(?i",
    "(?-)",
    "(?i-)",
    "(?--i)",
    "(?P=n)",
    "(?P<>a)",
    "(?P<n!>a)",
    "(?<n",
    "(?'n'a)",
    "(?=a)",
    "(?!a)",
    "(?<=a)",
    "(?#c)",
    "a++",
    /* unsupported here although Go has it */
    "\\pL",
    "\\p{Greek}",
    "\\PN",
    "[\\pL]",
    "(?i)\xc3\xa9",
    "(?i)[\xc3\xa0-\xc3\xbf]",
    "(?:a|b|c){1000}",
    "\\w{1000}\\w{1000}\\w{1000}\\w{1000}",
    /* invalid UTF-8 */
    "\xff",
    "a\xc3",
    "\xed\xa0\x80",
    /* Go's parse_test.go invalidRegexps and onlyPOSIX */
    "(a))",
    "(a|b|",
    "a|b|)",
    "(a|b|))",
    "(a|b",
    "a|b)",
    "(a|b))",
    "[a-z",
    "([a-z)",
    "[a-z)",
    "([a-z]))",
    "x{1001}",
    "x{9876543210}",
    "x{2,1}",
    "x{1,9876543210}",
    "[\xff]",
    "[\\\xff]",
    "\\\xff",
    "(?P<name>a",
    "(?P<name>",
    "(?P<name",
    "(?P<x y>a)",
    "(?<name>a",
    "(?<name>",
    "(?<name",
    "(?<x y>a)",
    "(?<>a)",
    "[a-Z]",
    "(?i)[a-Z]",
    "a{100000}",
    "a{100000,}",
    "((((((((((x{2}){2}){2}){2}){2}){2}){2}){2}){2}){2})",
    "(?:[a-z]{4}){0,251}",
    "a?*",
    "a{1}*",
    ".{1}{2}.{3}",
};

/* Patterns Go's regexp/syntax parse_test.go parses (Perl flags); those with \p are left out. */
static const char *go_valid[] = {
    "x{1001",
    "x{9876543210",
    "x{9876543210,",
    "x{2,1",
    "x{1,9876543210",
    "",
    "|",
    "|x|",
    "[a]",
    "[[:lower:]]",
    "[^[:lower:]]",
    "[[:^lower:]]",
    "(?i)[[:^lower:]]",
    "[^\\\\]",
    "[\\012-\\234]\\141",
    "[\\x{41}-\\x7a]\\x61",
    "a{,2}",
    "[\xce\xb1-\xce\xb5\xe2\x98\xba]",
    "a*{",
    "(?:ab)*",
    "(?:a+|b+)|(?:c+|d+)",
    "(?:[abc]|A|Z|hello|world)",
    "\\Q+|*?{[\\E",
    "\\Q+\\E+",
    "\\Q\\\\E",
    "\\Q\\\\\\E",
    "\\Q\\\\\\\\E",
    "(?m)\\A",
    "(?-m)\\z",
    "[Aa][Bb]cd",
    "x{2}|x{2}[0-9]",
    "a.*?c|a.*?b",
    "(?:(?:^).)",
    "[\\s\\S]a",
    "[a-b-c]",
    "(?P<name>a)",
    "((((((((((x{2}){2}){2}){2}){2}){2}){2}){2}){2}))",
    "((((((((((x{1}){2}){2}){2}){2}){2}){2}){2}){2}){2})",
    "(?:[a-z]{4}){0,250}", /* nested repeat product 1000: Go's limit */
};

static char *repeat_str(const char *unit, size_t n, const char *mid, const char *tail_unit)
{
    size_t a = strlen(unit), m = strlen(mid), t = strlen(tail_unit);
    char *s = berth_xmalloc(n * (a + t) + m + 1), *o = s;

    for (size_t i = 0; i < n; i++, o += a)
        memcpy(o, unit, a);
    memcpy(o, mid, m);
    o += m;
    for (size_t i = 0; i < n; i++, o += t)
        memcpy(o, tail_unit, t);
    *o = '\0';
    return s;
}

static bool compile_ok(const char *re, struct berth_regex **out)
{
    struct berth_err *err = NULL;

    if (berth_regex_compile(re, out, &err) == 0)
        return true;
    print_message("refused %s: %s\n", re, err->msg);
    berth_err_free(&err);
    return false;
}

static void assert_refused(const char *re)
{
    struct berth_regex *out = (struct berth_regex *)0x1;
    struct berth_err *err = NULL;

    if (berth_regex_compile(re, &out, &err) == 0)
        fail_msg("pattern \"%s\" compiled but Go refuses it", re);
    assert_null(out);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static double elapsed_s(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_regex_match_go_semantics(void **state)
{
    _cleanup_free_ char *a1000 = repeat_str("a", 1000, "", "");
    int bad = 0;

    for (size_t i = 0; i < BERTH_N(match_cases); i++) {
        const struct mcase *c = &match_cases[i];
        const char *in = c->in ? c->in : a1000;
        _cleanup_(berth_regex_freep) struct berth_regex *re = NULL;

        if (!compile_ok(c->re, &re)) {
            bad++;
            continue;
        }
        if (berth_regex_match(re, in, strlen(in)) != c->match) {
            print_message("%s on \"%s\": want %d\n", c->re, c->in ? c->in : "a{1000}", c->match);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_regex_compile_refuses_what_go_refuses(void **state)
{
    for (size_t i = 0; i < BERTH_N(refused); i++)
        assert_refused(refused[i]);
}

static void test_regex_compile_accepts_what_go_accepts(void **state)
{
    _cleanup_free_ char *caps = repeat_str("(", 999, "", ")");
    _cleanup_free_ char *stars = repeat_str("(?:", 999, "", ")*");
    int bad = 0;

    for (size_t i = 0; i < BERTH_N(go_valid); i++) {
        _cleanup_(berth_regex_freep) struct berth_regex *re = NULL;
        bad += !compile_ok(go_valid[i], &re);
    }
    assert_int_equal(bad, 0);
    for (int i = 0; i < 2; i++) {
        _cleanup_(berth_regex_freep) struct berth_regex *re = NULL;
        assert_true(compile_ok(i ? stars : caps, &re));
    }
}

static void test_regex_match_uses_length_not_nul(void **state)
{
    _cleanup_(berth_regex_freep) struct berth_regex *re = NULL;

    assert_true(compile_ok("^ab$", &re));
    assert_true(berth_regex_match(re, "abc", 2));
    assert_false(berth_regex_match(re, "abc", 3));
    assert_false(berth_regex_match(re, NULL, 0));
}

/* 999 nested captures around a literal are a tree of height 1000, Go's limit; 1000 are not. */
static void test_regex_compile_depth_limit_is_gos(void **state)
{
    _cleanup_free_ char *ok = repeat_str("(", 999, "a", ")");
    _cleanup_free_ char *deep = repeat_str("(", 1000, "a", ")");
    _cleanup_free_ char *stars = repeat_str("(?:", 1000, "a", ")*");
    _cleanup_free_ char *noncap = repeat_str("(?:", 10000, "a", ")"); /* height 1 in Go */
    _cleanup_(berth_regex_freep) struct berth_regex *re = NULL;
    _cleanup_(berth_regex_freep) struct berth_regex *re2 = NULL;

    assert_true(compile_ok(ok, &re));
    assert_true(berth_regex_match(re, "a", 1));
    assert_refused(deep);
    assert_refused(stars);
    assert_true(compile_ok(noncap, &re2));
    assert_true(berth_regex_match(re2, "xa", 2));
}

/* The security probe: 20000 '(' crashed glibc's recursive regcomp. Refused at once here. */
static void test_regex_compile_20000_parens_refused_fast(void **state)
{
    _cleanup_free_ char *re = repeat_str("(", 20000, "a", ")");
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_refused(re);
    assert_true(elapsed_s(&t0) < 0.5);
}

static void test_regex_compile_size_limits(void **state)
{
    _cleanup_free_ char *long_re = repeat_str("a", BERTH_REGEX_MAX_LEN + 1, "", "");
    _cleanup_(berth_regex_freep) struct berth_regex *re = NULL;

    _cleanup_free_ char *go_long1 = repeat_str("(xx?){1000}", 1000, "", "");
    _cleanup_free_ char *inner = repeat_str("(xx?)", 1000, "", "");
    _cleanup_free_ char *go_long2 = berth_strdup_printf("(%s){1000}", inner);

    assert_refused(long_re);
    assert_refused(go_long1);
    assert_refused(go_long2);
    assert_refused("(a{1000}){1000}");
    assert_refused("((a{1000}){1000}){1000}");
    /* the product rule is Go's: 10 x 100 is fine, a {0} cuts the chain */
    assert_true(compile_ok("(?:(?:a{10}){100})", &re));
    berth_regex_free(steal_ptr(re));
    assert_true(compile_ok("(?:(?:a{1000}){0}){2}", &re));
}

/* The second probe froze glibc's backtracking regexec; Go refuses \1 and so do we. Patterns Go
 * does accept but that make glibc's lazy DFA build states for minutes stay linear here. */
static void test_regex_match_hostile_patterns_stay_cheap(void **state)
{
    static const struct {
        const char *re, *alphabet; /* input: 4 KiB drawn from alphabet, never a match */
    } cases[] = {
        {"[ab]*a[ab]{100}c", "ab"}, {"(a|aa)*b", "a"},
        {"(x+x+)+y", "x"},          {"(a*)*b", "a"},
        {"(.*){1000}x", "ab"},      {"(?:(?:a*)*){999}c", "a"},
        {"(?:a*|b){999}c", "ab"},
    };
    char in[4097];
    struct timespec t0;

    assert_refused("^(b*)*\\1\\1\\1\\1\\1c$");
    srand(1);
    for (size_t i = 0; i < BERTH_N(cases); i++) {
        _cleanup_(berth_regex_freep) struct berth_regex *re = NULL;
        size_t k = strlen(cases[i].alphabet);

        for (size_t j = 0; j < sizeof(in) - 1; j++)
            in[j] = cases[i].alphabet[(size_t)rand() % k];
        in[sizeof(in) - 1] = '\0';
        assert_true(compile_ok(cases[i].re, &re));
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_false(berth_regex_match(re, in, sizeof(in) - 1));
        /* ~60 ms at the size bound optimised; generous for sanitizer builds and busy CI */
        if (elapsed_s(&t0) > 3.0)
            fail_msg("%s took %.2f s on 4 KiB", cases[i].re, elapsed_s(&t0));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regex_match_go_semantics),
        cmocka_unit_test(test_regex_compile_refuses_what_go_refuses),
        cmocka_unit_test(test_regex_compile_accepts_what_go_accepts),
        cmocka_unit_test(test_regex_match_uses_length_not_nul),
        cmocka_unit_test(test_regex_compile_depth_limit_is_gos),
        cmocka_unit_test(test_regex_compile_20000_parens_refused_fast),
        cmocka_unit_test(test_regex_compile_size_limits),
        cmocka_unit_test(test_regex_match_hostile_patterns_stay_cheap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
