/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: lib/filters.c (containerd's filter language, regexes included) and
 * lib/fieldpath.c. Input: up to four filter strings separated by '\n', matched against two
 * fixed objects. Checks the OR rule: several filters match exactly when one of them does. */
#include "tests/fuzz/fuzz.h"

#include <stdbool.h>

#include "lib/fieldpath.h"
#include "lib/filters.h"
#include "lib/labels.h"

#define MAX_FILTERS 4

struct obj {
    const char *name, *image;
    struct berth_labels labels;
};

static const char *field_cb(void *p, const char *const *path, size_t n, bool *present)
{
    struct obj *o = p;

    FUZZ_CHECK(n >= 1 && !*present);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(path[i] != NULL);
    if (n == 1 && strcmp(path[0], "name") == 0) {
        *present = true;
        return o->name;
    }
    if (n == 1 && strcmp(path[0], "image") == 0) {
        *present = o->image != NULL;
        return o->image;
    }
    if (strcmp(path[0], "labels") == 0)
        return berth_filter_labels_lookup(&o->labels, path + 1, n - 1, present);
    return NULL;
}

static void check_fieldpath(const char *path)
{
    static const char *const prefixes[] = {"labels", "extensions", "annotations", ""};
    const char *key;

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++) {
        size_t pl = strlen(prefixes[i]);
        key = NULL;
        if (berth_fieldpath_label_key(path, prefixes[i], &key)) {
            /* rest of "<prefix>.<rest>", non-empty, pointing into path */
            FUZZ_CHECK(key == path + pl + 1 && *key && strncmp(path, prefixes[i], pl) == 0 &&
                       path[pl] == '.');
        } else {
            FUZZ_CHECK(key == NULL);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct obj objs[2] = {{.name = "web-1", .image = "docker.io/library/nginx:1.25"},
                          {.name = "", .image = NULL}};
    char *fs[MAX_FILTERS];
    size_t n = fuzz_split(data, size, '\n', fs, MAX_FILTERS);
    struct berth_filter *all = NULL;
    struct berth_err *err = NULL;
    bool ok_each = true;

    berth_labels_set(&objs[0].labels, "a.b", "c");
    berth_labels_set(&objs[0].labels, "x.y/z", "1");
    berth_labels_set(&objs[0].labels, "containerd.io/gc.root", "2024-02-29T10:00:00Z");
    berth_labels_set(&objs[1].labels, "a", "b\xff");

    check_fieldpath(fs[0]);
    if (berth_filter_parse((const char *const *)fs, n, &all, &err) < 0) {
        FUZZ_CHECK(all == NULL && err->code == BERTH_E_INVALID_ARGUMENT);
        fuzz_err_consume(&err);
    }
    for (size_t o = 0; o < 2; o++) {
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            struct berth_filter *one = NULL;
            if (berth_filter_parse((const char *const *)&fs[i], 1, &one, &err) < 0) {
                fuzz_err_consume(&err);
                ok_each = false;
                continue;
            }
            any |= berth_filter_match(one, field_cb, &objs[o]);
            FUZZ_CHECK(!berth_filter_stopped(one));
            berth_filter_free(one);
        }
        /* All parse together exactly when each parses alone; then OR of the parts. */
        FUZZ_CHECK((all != NULL) == ok_each);
        if (all)
            FUZZ_CHECK(berth_filter_match(all, field_cb, &objs[o]) == any);
    }
    berth_filter_free(all);
    for (size_t i = 0; i < n; i++)
        free(fs[i]);
    berth_labels_clear(&objs[0].labels);
    berth_labels_clear(&objs[1].labels);
    return 0;
}
