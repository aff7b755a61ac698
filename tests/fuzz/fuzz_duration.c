/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: berth_duration_parse (lib/util.c), differential against Go's
 * time.ParseDuration grammar written out here: [0-9]*(\.[0-9]*)?<unit>, repeated, with at
 * least one digit per element, or "0". Signs, which Go allows, are out of scope (the header
 * refuses them). Both must agree on what is valid and (to float precision) on the value. */
#include "tests/fuzz/fuzz.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/util.h"

/* Go's unitMap (time/format.go), ns per unit; both micro signs. */
static const struct {
    const char *name;
    long double ns;
} units[] = {{"ns", 1},   {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
             {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9}};

static bool go_parse(const char *s, long double *out, int *elems)
{
    long double total = 0;

    if (!strcmp(s, "0")) {
        *out = 0;
        return true;
    }
    if (!*s)
        return false;
    while (*s) {
        long double v = 0, scale = 1;
        bool pre = false, post = false, found = false;
        size_t ul = 0;

        if (!(*s == '.' || (*s >= '0' && *s <= '9')))
            return false;
        for (; *s >= '0' && *s <= '9'; s++, pre = true)
            v = v * 10 + (*s - '0');
        if (*s == '.') {
            for (s++; *s >= '0' && *s <= '9'; s++, post = true)
                v += (*s - '0') * (scale /= 10);
        }
        if (!pre && !post)
            return false;
        while (s[ul] && s[ul] != '.' && !(s[ul] >= '0' && s[ul] <= '9'))
            ul++;
        for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++) {
            if (strlen(units[i].name) == ul && !strncmp(s, units[i].name, ul)) {
                total += v * units[i].ns;
                found = true;
            }
        }
        if (!found)
            return false;
        s += ul;
        (*elems)++;
    }
    *out = total;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    long double want = 0;
    int elems = 0;
    bool go_ok = go_parse(s, &want, &elems);
    int64_t ns = -1;
    int r = berth_duration_parse(s, &ns);

    if (r == 0) {
        if (!go_ok) {
            fprintf(stderr, "\"%s\" parsed as %lld ns; Go refuses it\n", s, (long long)ns);
            FUZZ_CHECK(!"accepted what Go refuses");
        }
        FUZZ_CHECK(ns >= 0);
        /* Go truncates each element's fraction to whole ns: up to 1 ns lost per element. */
        FUZZ_CHECK(fabsl((long double)ns - want) <= elems + want * 1e-12L);
    } else if (go_ok && want < 9e18L) {
        fprintf(stderr, "\"%s\" refused; Go parses it as %.0Lf ns\n", s, want);
        FUZZ_CHECK(!"refused what Go accepts");
    }
    free(s);
    return 0;
}
