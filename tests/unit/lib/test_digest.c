/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/digest.c. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>

#include "lib/digest.h"
#include "lib/util.h"

static void test_digest_validate_accepts_known_algorithms(void **state)
{
    struct berth_err *err = NULL;
    char buf[160];

    (void)state;
    snprintf(buf, sizeof(buf), "sha256:%064d", 0);
    assert_ok(berth_digest_validate(buf, &err), &err);
    memset(buf, 'f', sizeof(buf));
    memcpy(buf, "sha512:", 7);
    buf[7 + 128] = '\0';
    assert_ok(berth_digest_validate(buf, &err), &err);
    memcpy(buf, "sha384:", 7);
    buf[7 + 96] = '\0';
    assert_ok(berth_digest_validate(buf, &err), &err);
}

static void test_digest_validate_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "sha256",
        ":abc",
        "sha256:abc",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550",
        "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    };
    struct berth_err *err = NULL;

    (void)state;
    for (size_t i = 0; i < BERTH_N(bad); i++) {
        if (berth_digest_validate(bad[i], &err) == 0)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
    assert_int_equal(berth_digest_validate(NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_validate_accepts_known_algorithms),
        cmocka_unit_test(test_digest_validate_rejects_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
