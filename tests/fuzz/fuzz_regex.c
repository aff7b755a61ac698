/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: lib/regex (Go RE2 syntax compiled to an NFA, Pike VM match). Input: pattern,
 * a NUL byte, then the subject (any bytes). Checks the documented bounds (program size) and
 * that a compiled pattern matches every subject without error. */
#include "tests/fuzz/fuzz.h"

#include "lib/regex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t plen = nul ? (size_t)(nul - data) : size;
    char *pattern = fuzz_str(data, plen);
    const char *subject = nul ? (const char *)nul + 1 : "";
    size_t slen = nul ? size - plen - 1 : 0;
    struct berth_regex *re = NULL;
    struct berth_err *err = NULL;

    if (berth_regex_compile(pattern, &re, &err) < 0) {
        FUZZ_CHECK(re == NULL && err->code == BERTH_E_INVALID_ARGUMENT);
        fuzz_err_consume(&err);
        free(pattern);
        return 0;
    }
    FUZZ_CHECK(berth_regex_size(re) <= BERTH_REGEX_MAX_PROG);
    (void)berth_regex_match(re, subject, slen);
    /* The empty subject and the pattern's own text: more paths through the VM. */
    (void)berth_regex_match(re, "", 0);
    (void)berth_regex_match(re, pattern, plen);
    berth_regex_free(re);
    free(pattern);
    return 0;
}
