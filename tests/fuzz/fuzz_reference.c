/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: images/reference.c. Checks that normalizing is idempotent: the normalized
 * string parses back to the same reference, and so does the familiar (short) form unless its
 * first component looks like a domain: docker's FamiliarName turns
 * "docker.io/foo.bar/baz" into "foo.bar/baz", which names host foo.bar, and we do the same. */
#include "tests/fuzz/fuzz.h"

#include <stdbool.h>

#include "images/reference.h"

static void check_same(const char *s, const char *want)
{
    struct berth_err *err = NULL;
    char *again = NULL;

    if (berth_image_ref_normalize(s, &again, &err) < 0) {
        fprintf(stderr, "\"%s\" (from \"%s\") does not parse: %s\n", s, want, err->msg);
        FUZZ_CHECK(!"normalized reference does not parse");
    }
    if (strcmp(again, want) != 0) {
        fprintf(stderr, "\"%s\" normalizes to \"%s\", not \"%s\"\n", s, again, want);
        FUZZ_CHECK(!"normalizing is not idempotent");
    }
    free(again);
}

/* docker's splitDockerDomain: a first component with '.' or ':', or "localhost". */
static bool looks_like_domain(const char *familiar)
{
    const char *slash = strchr(familiar, '/');
    size_t n = slash ? (size_t)(slash - familiar) : 0;

    return slash && (memchr(familiar, '.', n) || memchr(familiar, ':', n) ||
                     (n == 9 && !strncmp(familiar, "localhost", 9)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    struct berth_image_ref r;
    struct berth_err *err = NULL;
    char *full, *name, *familiar;

    if (berth_image_ref_parse(s, &r, &err) < 0) {
        FUZZ_CHECK(err->code == BERTH_E_INVALID_ARGUMENT);
        FUZZ_CHECK(!r.domain && !r.path && !r.tag && !r.digest);
        fuzz_err_consume(&err);
        free(s);
        return 0;
    }
    FUZZ_CHECK(r.domain && r.path && (r.tag || r.digest) && !(r.tag && r.digest));
    full = berth_image_ref_string(&r);
    name = berth_image_ref_name(&r);
    familiar = berth_image_ref_familiar(&r);
    FUZZ_CHECK(strlen(name) <= BERTH_REF_NAME_MAX);
    check_same(full, full);
    if (!looks_like_domain(familiar))
        check_same(familiar, full);
    free(full);
    free(name);
    free(familiar);
    berth_image_ref_clear(&r);
    free(s);
    return 0;
}
