/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: lib/toml.c, the parser of config.toml and hosts.toml. Checks what the header
 * promises of a parsed tree: a root table, unique keys, strings of valid UTF-8. */
#include "tests/fuzz/fuzz.h"

#include <stdbool.h>

#include "lib/toml.h"
#include "lib/utf8.h"

static bool utf8_ok(const char *s)
{
    size_t n = strlen(s);

    for (size_t i = 0; i < n;) {
        size_t w = berth_utf8_valid_len((const unsigned char *)s + i, n - i);
        if (!w)
            return false;
        i += w;
    }
    return true;
}

static void walk(const struct berth_toml_value *v, int depth)
{
    switch (v->type) {
    case BERTH_TOML_STRING:
    case BERTH_TOML_DATETIME:
        FUZZ_CHECK(v->u.str && utf8_ok(v->u.str));
        break;
    case BERTH_TOML_INTEGER:
    case BERTH_TOML_FLOAT:
    case BERTH_TOML_BOOL:
        break;
    case BERTH_TOML_ARRAY:
        for (size_t i = 0; i < v->u.array.n; i++)
            walk(v->u.array.items[i], depth + 1);
        break;
    case BERTH_TOML_TABLE:
        for (size_t i = 0; i < v->u.table.n; i++) {
            FUZZ_CHECK(utf8_ok(v->u.table.keys[i]));
            /* Quadratic, so only for the small tables a fuzzer makes. */
            for (size_t j = 0; j < i && v->u.table.n < 256; j++)
                FUZZ_CHECK(strcmp(v->u.table.keys[i], v->u.table.keys[j]) != 0);
            /* The lookup must find the first (only) entry of that key. */
            FUZZ_CHECK(berth_toml_get(v, v->u.table.keys[i]) == v->u.table.vals[i]);
            walk(v->u.table.vals[i], depth + 1);
        }
        break;
    default:
        FUZZ_CHECK(!"unknown toml type");
    }
    FUZZ_CHECK(berth_toml_type_name(v->type) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct berth_toml_value *root = (struct berth_toml_value *)1;
    struct berth_err *err = NULL;
    const char *s;
    int64_t i;
    bool b;

    if (berth_toml_parse((const char *)data, size, &root, &err) < 0) {
        FUZZ_CHECK(root == NULL && err->code == BERTH_E_INVALID_ARGUMENT);
        fuzz_err_consume(&err);
        return 0;
    }
    FUZZ_CHECK(root && root->type == BERTH_TOML_TABLE);
    walk(root, 0);
    /* The typed getters on whatever the first key holds. */
    if (root->u.table.n) {
        const char *k = root->u.table.keys[0];
        if (berth_toml_get_string(root, k, &s, &err) < 0)
            fuzz_err_consume(&err);
        if (berth_toml_get_int(root, k, &i, &err) < 0)
            fuzz_err_consume(&err);
        if (berth_toml_get_bool(root, k, &b, &err) < 0)
            fuzz_err_consume(&err);
    }
    (void)berth_toml_get_path(root, "plugins", "io.containerd.grpc.v1.cri", "sandbox_image", NULL);
    berth_toml_free(root);
    return 0;
}
