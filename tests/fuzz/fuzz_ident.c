/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: lib/ident.c and lib/labels.c. The first line is checked as an identifier
 * against containerd's rule written out here; the other lines are "key=value" label edits
 * (no '=': delete) replayed on a label set whose invariants (sorted keys, values as last set)
 * are checked after each step, then validated against the 4096-byte rule. */
#include "tests/fuzz/fuzz.h"

#include <ctype.h>
#include <stdbool.h>

#include "lib/ident.h"
#include "lib/labels.h"

#define MAX_LINES 32

/* ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$, 1..76 bytes */
static bool ident_ok(const char *s)
{
    size_t n = strlen(s);
    bool prev_sep = true; /* no separator first */

    if (n == 0 || n > BERTH_IDENT_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80 && isalnum(c)) {
            prev_sep = false;
        } else if (c == '.' || c == '_' || c == '-') {
            if (prev_sep)
                return false;
            prev_sep = true;
        } else {
            return false;
        }
    }
    return !prev_sep;
}

static void check_sorted(const struct berth_labels *l)
{
    for (size_t i = 0; i + 1 < l->n; i++)
        FUZZ_CHECK(strcmp(l->keys[i], l->keys[i + 1]) < 0);
    for (size_t i = 0; i < l->n; i++)
        FUZZ_CHECK(l->vals[i] && *l->vals[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *lines[MAX_LINES];
    size_t n = fuzz_split(data, size, '\n', lines, MAX_LINES);
    struct berth_labels l, copy;
    struct berth_err *err = NULL;
    bool valid = true;
    int r;

    r = berth_ident_validate(lines[0], &err);
    if (r < 0) {
        FUZZ_CHECK(err->code == BERTH_E_INVALID_ARGUMENT);
        fuzz_err_consume(&err);
    }
    FUZZ_CHECK((r == 0) == ident_ok(lines[0]));

    berth_labels_init(&l);
    for (size_t i = 1; i < n; i++) {
        char *eq = strchr(lines[i], '=');
        if (eq) {
            *eq = '\0';
            berth_labels_set(&l, lines[i], eq + 1);
            if (eq[1])
                FUZZ_CHECK(strcmp(berth_labels_get(&l, lines[i]), eq + 1) == 0);
            else
                FUZZ_CHECK(berth_labels_get(&l, lines[i]) == NULL);
        } else {
            (void)berth_labels_del(&l, lines[i]);
            FUZZ_CHECK(berth_labels_get(&l, lines[i]) == NULL);
        }
        check_sorted(&l);
    }
    for (size_t i = 0; i < l.n; i++)
        if (!*l.keys[i] || strlen(l.keys[i]) + strlen(l.vals[i]) > BERTH_LABELS_MAX_SIZE)
            valid = false;
    r = berth_labels_validate(&l, &err);
    if (r < 0)
        fuzz_err_consume(&err);
    FUZZ_CHECK((r == 0) == valid);
    berth_labels_init(&copy);
    berth_labels_copy(&copy, &l);
    FUZZ_CHECK(copy.n == l.n);
    for (size_t i = 0; i < l.n; i++)
        FUZZ_CHECK(strcmp(berth_labels_get(&copy, l.keys[i]), l.vals[i]) == 0);
    berth_labels_clear(&copy);
    berth_labels_clear(&l);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    return 0;
}
