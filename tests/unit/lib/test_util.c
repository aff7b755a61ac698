/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/util.c's full writes. */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"

static void test_write_all_writes_everything(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *path = berth_strdup_printf("%s/f", env->dir);
    _cleanup_free_ char *buf = berth_xmalloc(3 << 20);
    struct stat st;
    int fd;

    memset(buf, 'x', 3 << 20);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(berth_write_all(fd, buf, 3 << 20), 0);
    assert_int_equal(berth_write_all(fd, buf, 0), 0);
    close(fd);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 3 << 20);
}

static void test_write_all_reports_errors(void **state)
{
    int p[2];

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    close(p[0]);
    errno = 0;
    assert_int_equal(berth_write_all(p[1], "abc", 3), -1);
    assert_int_equal(errno, EPIPE);
    close(p[1]);
    errno = 0;
    assert_int_equal(berth_write_all(p[1], "abc", 3), -1);
    assert_int_equal(errno, EBADF);
}

static void test_base64_decode(void **state)
{
    unsigned char *out = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(berth_base64_decode("dXNlcjpwYXNz", &out, &len), 0);
    assert_int_equal(len, 9);
    assert_string_equal((char *)out, "user:pass");
    free(out);
    assert_int_equal(berth_base64_decode("YQ==", &out, &len), 0);
    assert_int_equal(len, 1);
    assert_string_equal((char *)out, "a");
    free(out);
    assert_int_equal(berth_base64_decode("", &out, &len), 0);
    assert_int_equal(len, 0);
    free(out);
    assert_int_equal(berth_base64_decode("YQ=", &out, &len), -1);
    assert_int_equal(berth_base64_decode("Y!==", &out, &len), -1);
    assert_int_equal(berth_base64_decode("YQ==YQ==", &out, &len), -1);
}

static void test_base64_padding(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}};

    (void)state;
    for (size_t i = 0; i < BERTH_N(cases); i++) {
        char *s = berth_base64(cases[i].in, strlen(cases[i].in));
        assert_string_equal(s, cases[i].out);
        free(s);
    }
}

static void test_duration_parse(void **state)
{
    static const struct {
        const char *s;
        int64_t ns;
    } good[] = {{"0", 0},
                {"5m", 300000000000LL},
                {"30s", 30000000000LL},
                {"1h30m", 5400000000000LL},
                {"300ms", 300000000LL},
                {"1.5s", 1500000000LL},
                {"2us", 2000},
                {"2\xc2\xb5s", 2000},
                {"7ns", 7},
                {"2\xce\xbcs", 2000}, /* Go takes the Greek mu too */
                {".5h1.ms", 1800001000000LL},
                {"0.000000001s", 1},
                {"9223372036854775807ns", INT64_MAX}};
    /* strtod took "0x10s" as 16 s and "1e3s" as 1000 s; Go refuses both (found by
     * tests/fuzz/fuzz_duration.c). */
    static const char *const bad[] = {"",        "5",      "m",   "-1s",   "5x",
                                      "1h 2m",   "s5",     "5m!", "1e30h", "0x10s",
                                      "1e3s",    "1.5.5s", ".s",  "1sm",   "9223372036854775808ns",
                                      "2562048h"};
    int64_t ns;

    (void)state;
    for (size_t i = 0; i < BERTH_N(good); i++) {
        ns = -1;
        assert_int_equal(berth_duration_parse(good[i].s, &ns), 0);
        assert_int_equal(ns, good[i].ns);
    }
    for (size_t i = 0; i < BERTH_N(bad); i++)
        assert_int_equal(berth_duration_parse(bad[i], &ns), -1);
}

static void test_random_hex(void **state)
{
    char a[201], b[201];

    (void)state;
    memset(a, 'x', sizeof(a));
    berth_random_hex(a, 100); /* more than one 64-byte batch */
    berth_random_hex(b, 100);
    assert_int_equal(strlen(a), 200);
    assert_int_equal(strspn(a, "0123456789abcdef"), 200);
    assert_string_not_equal(a, b);
    berth_random_hex(a, 0);
    assert_string_equal(a, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_all_writes_everything, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test(test_write_all_reports_errors),
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_random_hex),
        cmocka_unit_test(test_base64_padding),
        cmocka_unit_test(test_base64_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
