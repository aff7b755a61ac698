/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A strict TOML v1.0 parser for the daemon config (config.toml). Produces a tree of values;
 * tables keep their keys in document order. Everything TOML 1.0 defines is parsed except that
 * date-times are validated but kept as their source text (BERTH_TOML_DATETIME), and strings
 * containing U+0000 are rejected so every string is a plain C string. Floats are converted
 * with strtod, so the process must run in the "C" numeric locale (berthd never calls
 * setlocale).
 */
#ifndef BERTH_LIB_TOML_H
#define BERTH_LIB_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

enum berth_toml_type {
    BERTH_TOML_STRING = 1,
    BERTH_TOML_INTEGER,
    BERTH_TOML_FLOAT,
    BERTH_TOML_BOOL,
    BERTH_TOML_DATETIME, /* u.str holds the validated source text, e.g. "1979-05-27T07:32:00Z" */
    BERTH_TOML_ARRAY,
    BERTH_TOML_TABLE,
};

/* One node. A value owns everything below it. */
struct berth_toml_value {
    enum berth_toml_type type;
    union {
        char *str; /* STRING, DATETIME: NUL-terminated UTF-8 */
        int64_t integer;
        double flt;
        bool boolean;
        struct {
            size_t n;
            struct berth_toml_value **items;
        } array;
        struct { /* keys[i] -> vals[i], document order, keys unique */
            size_t n;
            char **keys;
            struct berth_toml_value **vals;
        } table;
    } u;
    unsigned int priv_flags;   /* parser bookkeeping; ignore */
    unsigned int priv_section; /* parser bookkeeping; ignore */
};

/* Parses len bytes of text (need not be NUL-terminated). On success *out is a
 * BERTH_TOML_TABLE owned by the caller (berth_toml_free). On any syntax error, invalid UTF-8,
 * duplicate key, redefined table or out-of-range number returns -1 with
 * BERTH_E_INVALID_ARGUMENT, message "config line N: ..." naming the key or text; *out is NULL. */
int berth_toml_parse(const char *text, size_t len, struct berth_toml_value **out,
                     struct berth_err **err);
/* Frees a whole tree. NULL-safe. */
void berth_toml_free(struct berth_toml_value *v);

/* table[key] for one literal key (no dot splitting), borrowed from the tree; NULL when table
 * is NULL, not a table, or has no such key. */
const struct berth_toml_value *berth_toml_get(const struct berth_toml_value *table,
                                              const char *key);
/* Walks a NULL-terminated list of keys, one table level each:
 * berth_toml_get_path(root, "plugins", "io.containerd.grpc.v1.cri", "sandbox_image", NULL).
 * Borrowed result; NULL if any step is missing or not a table. */
const struct berth_toml_value *berth_toml_get_path(const struct berth_toml_value *table, ...)
    __attribute__((sentinel));
/* "string", "integer", "float", "boolean", "datetime", "array", "table". */
const char *berth_toml_type_name(enum berth_toml_type type);

/* Typed lookups of table[key]. Return 1 and set *out when present with the right type, 0 and
 * leave *out alone when absent, -1 with BERTH_E_INVALID_ARGUMENT ("key \"k\": expected string,
 * got integer") on a type mismatch. Strings are borrowed from the tree. */
int berth_toml_get_string(const struct berth_toml_value *table, const char *key, const char **out,
                          struct berth_err **err);
int berth_toml_get_int(const struct berth_toml_value *table, const char *key, int64_t *out,
                       struct berth_err **err);
int berth_toml_get_bool(const struct berth_toml_value *table, const char *key, bool *out,
                        struct berth_err **err);

#endif
