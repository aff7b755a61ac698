/* SPDX-License-Identifier: Apache-2.0 */
/* berthctl JSON embedding: strict validation and re-indentation of foreign documents. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>

#include "cmd/berthctl/berthctl-internal.h"

static void test_json_valid_accepts_rfc8259(void **state)
{
    static const char *const good[] = {
        "{}",
        " [ ] ",
        "0",
        "-0.5e+10",
        "\"a\\u00e9\\n\"",
        "true",
        "null",
        "{\"a\":[1,{\"b\":false}],\"c\":\"\"}",
    };

    for (size_t i = 0; i < BERTH_N(good); i++)
        assert_true(berthctl_json_valid(good[i], strlen(good[i])));
}

static void test_json_valid_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "",    "{",     "{\"a\"}", "[1,]",       "01",  "1.",       "\"\\x\"", "\"a",
        "tru", "{} {}", "[1 2]",   "{\"a\":1,}", "'a'", "\"\x01\"", "-",       "{1:2}",
    };

    for (size_t i = 0; i < BERTH_N(bad); i++)
        assert_false(berthctl_json_valid(bad[i], strlen(bad[i])));
    assert_false(berthctl_json_valid(NULL, 0));
}

static void test_json_embed_reindents_and_strings_invalid(void **state)
{
    static const char spec[] =
        "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"]},\"n\":-1.5}";
    struct berthctl_json j;
    char *out = NULL;
    size_t sz = 0;
    FILE *f = open_memstream(&out, &sz);

    berthctl_json_init(&j, f);
    berthctl_json_arr_begin(&j);
    berthctl_json_embed(&j, spec, strlen(spec));
    berthctl_json_embed(&j, "{oops", 5);
    berthctl_json_arr_end(&j);
    fclose(f);
    assert_string_equal(out, "[\n"
                             "    {\n"
                             "        \"ociVersion\": \"1.0.2\",\n"
                             "        \"process\": {\n"
                             "            \"args\": [\n"
                             "                \"sh\"\n"
                             "            ]\n"
                             "        },\n"
                             "        \"n\": -1.5\n"
                             "    },\n"
                             "    \"{oops\"\n"
                             "]");
    assert_true(berthctl_json_valid(out, strlen(out)));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_valid_accepts_rfc8259),
        cmocka_unit_test(test_json_valid_rejects_malformed),
        cmocka_unit_test(test_json_embed_reindents_and_strings_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
