/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/log.c: the timestamp formatter against gmtime_r + strftime, and the shape of a
 * written line (level, subsystem, message, errno text, escaped control bytes). */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

/* What berth_log_write printed before: gmtime_r + strftime. */
static void reference(int64_t sec, long nsec, char *buf, size_t len)
{
    time_t t = (time_t)sec;
    struct tm tm;
    size_t off;

    assert_non_null(gmtime_r(&t, &tm));
    off = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + off, len - off, ".%06ldZ", nsec / 1000);
}

static void check(int64_t sec, long nsec)
{
    char want[64], got[BERTH_LOG_TIME_MAX];

    reference(sec, nsec, want, sizeof(want));
    berth_log_format_time(sec, nsec, got);
    if (strcmp(want, got) != 0)
        fail_msg("%lld.%09ld: want %s, got %s", (long long)sec, nsec, want, got);
}

static void test_log_format_time_fixed(void **state)
{
    char buf[BERTH_LOG_TIME_MAX];

    (void)state;
    berth_log_format_time(0, 0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
    berth_log_format_time(1709164800 + 3723, 123456789, buf);
    assert_string_equal(buf, "2024-02-29T01:02:03.123456Z");
    berth_log_format_time(-1, 999999999, buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
    berth_log_format_time(253402300799, 0, buf);
    assert_string_equal(buf, "9999-12-31T23:59:59.000000Z");
    /* strftime's %Y: no padding, '-' before 1 AD */
    berth_log_format_time(-62135596800, 0, buf);
    assert_string_equal(buf, "1-01-01T00:00:00.000000Z");
    berth_log_format_time(253402300800, 0, buf);
    assert_string_equal(buf, "10000-01-01T00:00:00.000000Z");
    berth_log_format_time(-62167219201, 0, buf);
    assert_string_equal(buf, "-1-12-31T23:59:59.000000Z");
}

/* Calendar edges: every day from 1599 to 2501 (century and 400-year leap rules), at midnight,
 * one second before it, and a time of day that moves with the day. */
static void test_log_format_time_every_day_matches_gmtime(void **state)
{
    const int64_t from = -11676096000, to = 16756761600; /* 1600-01-01 - 1d .. 2501-01-01 */

    (void)state;
    for (int64_t d = from - 86400; d <= to; d += 86400) {
        check(d, 0);
        check(d - 1, 999999999);
        check(d + (d / 86400 % 86400 + 86400) % 86400, 500000);
    }
}

/* Random instants over about +-12,000 years (a fixed LCG, so failures reproduce). */
static void test_log_format_time_random_matches_gmtime(void **state)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;

    (void)state;
    for (int i = 0; i < 200000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t sec = (int64_t)((x >> 20) % 760000000000ULL) - 380000000000LL;
        long nsec = (long)((x >> 3) % 1000000000ULL);
        check(sec, nsec);
    }
}

/* Captures one berth_log_write line through a pipe on stderr. */
static void capture(char *out, size_t len, void (*fn)(void))
{
    int fds[2], saved;
    ssize_t n;

    assert_int_equal(pipe(fds), 0);
    saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fds[1], STDERR_FILENO) >= 0);
    fn();
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    close(fds[1]);
    n = read(fds[0], out, len - 1);
    close(fds[0]);
    assert_true(n > 0);
    out[n] = '\0';
}

static void write_errno_line(void)
{
    berth_log_write(BERTH_LOG_WARN, "unit", ENOENT, "open \"%s\"", "a\nb");
}

static void write_unknown_errno_line(void)
{
    berth_log_write(BERTH_LOG_ERROR, "unit", 100000, "x");
}

static void test_log_write_line_shape(void **state)
{
    char line[512];
    const char *rest;

    (void)state;
    capture(line, sizeof(line), write_errno_line);
    /* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ " then the rest */
    assert_true(strlen(line) > 28);
    assert_int_equal(line[4], '-');
    assert_int_equal(line[10], 'T');
    assert_int_equal(line[19], '.');
    assert_int_equal(line[26], 'Z');
    rest = line + 27;
    assert_string_equal(rest, " warn  unit: open \"a\\x0ab\": No such file or directory\n");

    capture(line, sizeof(line), write_unknown_errno_line);
    assert_string_equal(line + 27, " error unit: x: errno 100000\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_format_time_fixed),
        cmocka_unit_test(test_log_format_time_every_day_matches_gmtime),
        cmocka_unit_test(test_log_format_time_random_matches_gmtime),
        cmocka_unit_test(test_log_write_line_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
