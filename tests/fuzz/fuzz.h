/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the libFuzzer targets (one fuzz_<name>.c each, built only with
 * BERTH_FUZZ=ON): turning the fuzzer's byte buffer into the C strings the parsers take, and
 * failing loudly on a broken invariant. A target's only output is a crash: ASan, UBSan, a leak
 * or FUZZ_CHECK.
 */
#ifndef BERTH_TESTS_FUZZ_FUZZ_H
#define BERTH_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"

/* libFuzzer's entry point (declared by no header). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant the code under test promises; abort() so libFuzzer records the input. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A NUL-terminated copy of data[0..size) (inner NULs stay and end the C string early, as they
 * would for a string that reached the parser through protobuf-c). Caller frees. */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Splits data at each sep byte into at most max NUL-terminated strings, the last taking the
 * rest. Returns the count (>= 1); free each with free(). */
static inline size_t fuzz_split(const uint8_t *data, size_t size, uint8_t sep, char **out,
                                size_t max)
{
    size_t n = 0, start = 0;

    for (size_t i = 0; i < size && n + 1 < max; i++) {
        if (data[i] == sep) {
            out[n++] = fuzz_str(data + start, i - start);
            start = i + 1;
        }
    }
    out[n++] = fuzz_str(data + start, size - start);
    return n;
}

/* An error must come with a message (callers print it); frees it. */
static inline void fuzz_err_consume(struct berth_err **err)
{
    FUZZ_CHECK(*err != NULL && (*err)->msg != NULL);
    berth_err_free(err);
}

#endif
