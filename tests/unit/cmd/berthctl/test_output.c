/* SPDX-License-Identifier: Apache-2.0 */
/* berthctl output helpers: table layout, JSON writer, timestamps, label maps. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>

#include "cmd/berthctl/berthctl-internal.h"

/* Runs fn(f) into a memory stream and returns what it wrote (malloc'd). */
#define CAPTURE(var, stmt)                                                                         \
    do {                                                                                           \
        size_t _sz = 0;                                                                            \
        FILE *f = open_memstream(&(var), &_sz);                                                    \
        assert_non_null(f);                                                                        \
        stmt;                                                                                      \
        fclose(f);                                                                                 \
    } while (0)

static void test_table_print_aligns_columns_with_padding_4(void **state)
{
    static const char *const header[] = {"CONTAINER", "IMAGE", "RUNTIME"};
    static const char *const row1[] = {"c1", "docker.io/library/busybox:latest",
                                       "io.containerd.runc.v2"};
    static const char *const row2[] = {"c22", NULL, "r"};
    struct berthctl_table *t = berthctl_table_new(3, header);
    char *out = NULL;

    berthctl_table_add(t, row1);
    berthctl_table_add(t, row2);
    CAPTURE(out, berthctl_table_print(t, f));
    assert_string_equal(out,
                        "CONTAINER    IMAGE                               RUNTIME\n"
                        "c1           docker.io/library/busybox:latest    io.containerd.runc.v2\n"
                        "c22                                              r\n");
    free(out);
    berthctl_table_free(t);
}

static void test_table_print_counts_utf8_code_points(void **state)
{
    static const char *const header[] = {"A", "B"};
    static const char *const row[] = {"\xc3\xa9t\xc3\xa9", "x"};
    struct berthctl_table *t = berthctl_table_new(2, header);
    char *out = NULL;

    berthctl_table_add(t, row);
    CAPTURE(out, berthctl_table_print(t, f));
    assert_string_equal(out, "A      B\n\xc3\xa9t\xc3\xa9    x\n");
    free(out);
    berthctl_table_free(t);
}

static void test_json_writer_nested_and_escaped(void **state)
{
    struct berthctl_json j;
    char *out = NULL;

    CAPTURE(out, {
        berthctl_json_init(&j, f);
        berthctl_json_obj_begin(&j);
        berthctl_json_key(&j, "s");
        berthctl_json_str(&j, "a\"b\\c\n\x01");
        berthctl_json_key(&j, "arr");
        berthctl_json_arr_begin(&j);
        berthctl_json_int(&j, -5);
        berthctl_json_bool(&j, true);
        berthctl_json_null(&j);
        berthctl_json_arr_end(&j);
        berthctl_json_key(&j, "empty");
        berthctl_json_obj_begin(&j);
        berthctl_json_obj_end(&j);
        berthctl_json_obj_end(&j);
        berthctl_json_end(&j);
    });
    assert_string_equal(out, "{\n"
                             "    \"s\": \"a\\\"b\\\\c\\n\\u0001\",\n"
                             "    \"arr\": [\n"
                             "        -5,\n"
                             "        true,\n"
                             "        null\n"
                             "    ],\n"
                             "    \"empty\": {}\n"
                             "}\n");
    assert_true(berthctl_json_valid(out, strlen(out)));
    free(out);
}

static void test_time_format_trims_fraction(void **state)
{
    char buf[64];

    berthctl_time_format(0, 0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    berthctl_time_format(1700000000, 500000000, buf, sizeof(buf));
    assert_string_equal(buf, "2023-11-14T22:13:20.5Z");
    berthctl_time_format(-62135596800LL, 0, buf, sizeof(buf));
    assert_string_equal(buf, "0001-01-01T00:00:00Z");
}

static void test_str_map_sorted_join_and_json(void **state)
{
    struct berthctl_pb_str_entry e[3] = {
        {.key = "z", .value = "1"}, {.key = "a", .value = ""}, {.key = "m", .value = "x=y"}};
    const void *entries[3] = {&e[0], &e[1], &e[2]};
    struct berthctl_json j;
    char *s = berthctl_str_map_join(3, entries), *out = NULL;

    assert_string_equal(s, "a=,m=x=y,z=1");
    free(s);
    s = berthctl_str_map_join(0, entries);
    assert_string_equal(s, "");
    free(s);
    CAPTURE(out, {
        berthctl_json_init(&j, f);
        berthctl_json_str_map(&j, 3, entries);
    });
    assert_string_equal(out, "{\n    \"a\": \"\",\n    \"m\": \"x=y\",\n    \"z\": \"1\"\n}");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_print_aligns_columns_with_padding_4),
        cmocka_unit_test(test_table_print_counts_utf8_code_points),
        cmocka_unit_test(test_json_writer_nested_and_escaped),
        cmocka_unit_test(test_time_format_trims_fraction),
        cmocka_unit_test(test_str_map_sorted_join_and_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
