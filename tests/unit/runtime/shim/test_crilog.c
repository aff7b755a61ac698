/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/shim/crilog.c: the CRI log lines (F/P split at max_line_size, "\r\n",
 * partial at EOF, lines across reads, empty lines, both streams, tty output), the Go
 * RFC3339Nano local timestamps, the crilog:// URI, open/reopen and dropped writes. */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"
#include "runtime/shim/crilog.h"

#define NOW    1700000000123456789LL /* 2023-11-14T22:13:20.123456789Z */
#define NOW_TS "2023-11-14T22:13:20.123456789Z"

static int64_t fixed_clock(void)
{
    return NOW;
}

struct fx {
    struct berth_test_env *env;
    char path[4096];
    int fd;
};

static int setup(void **state)
{
    struct fx *f = berth_xcalloc(1, sizeof(*f));
    void *env = NULL;

    if (berth_test_setup_tmpdir(&env) < 0)
        return -1;
    f->env = env;
    snprintf(f->path, sizeof(f->path), "%s/log", f->env->dir);
    f->fd = open(f->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    setenv("TZ", "UTC0", 1);
    tzset();
    *state = f;
    return f->fd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    void *env = f->env;

    close(f->fd);
    free(f);
    return berth_test_teardown_tmpdir(&env);
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    buf = berth_xcalloc(1, (size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    return buf;
}

static struct berth_shim_crilog *log_new(struct fx *f, int64_t max)
{
    struct berth_shim_crilog *l = berth_shim_crilog_new_fd(f->fd, max);

    berth_shim_crilog_set_clock(l, fixed_clock);
    return l;
}

static void feed(struct berth_shim_crilog *l, enum berth_shim_crilog_stream st, const char *s)
{
    berth_shim_crilog_feed(l, st, s, strlen(s));
}

static void assert_log(struct fx *f, const char *want)
{
    _cleanup_free_ char *got = slurp(f->path);

    assert_string_equal(got, want);
}

#define OUT BERTH_SHIM_CRILOG_STDOUT
#define ERR BERTH_SHIM_CRILOG_STDERR

static void test_crilog_feed_full_lines_of_both_streams(void **state)
{
    struct fx *f = *state;
    struct berth_shim_crilog *l = log_new(f, 16384);

    feed(l, OUT, "hello\n");
    feed(l, ERR, "oops\n");
    berth_shim_crilog_close(l);
    assert_log(f, NOW_TS " stdout F hello\n" NOW_TS " stderr F oops\n");
}

static void test_crilog_feed_many_lines_in_one_read(void **state)
{
    struct fx *f = *state;
    struct berth_shim_crilog *l = log_new(f, 16384);

    feed(l, OUT, "a\nbb\nccc\nd");
    assert_log(f, NOW_TS " stdout F a\n" NOW_TS " stdout F bb\n" NOW_TS " stdout F ccc\n");
    feed(l, OUT, "\n");
    berth_shim_crilog_close(l);
    assert_log(f, NOW_TS " stdout F a\n" NOW_TS " stdout F bb\n" NOW_TS " stdout F ccc\n" NOW_TS
                         " stdout F d\n");
}

static void test_crilog_feed_line_spanning_many_reads(void **state)
{
    struct fx *f = *state;
    struct berth_shim_crilog *l = log_new(f, 16384);

    feed(l, OUT, "ab");
    feed(l, OUT, "cd");
    feed(l, ERR, "e1");
    feed(l, OUT, "ef");
    assert_log(f, "");
    feed(l, ERR, "\n");
    feed(l, OUT, "gh\nij");
    berth_shim_crilog_close(l);
    /* each stream keeps its own partial line; "ij" never ended and was not flushed */
    assert_log(f, NOW_TS " stderr F e1\n" NOW_TS " stdout F abcdefgh\n");
}

static void test_crilog_feed_splits_at_max_line_size(void **state)
{
    struct fx *f = *state;
    struct berth_shim_crilog *l = log_new(f, 4);

    feed(l, OUT, "abcdefghij\n");
    /* exactly max bytes is still a full line */
    feed(l, OUT, "wxyz\n");
    /* twice max: P then F */
    feed(l, OUT, "12345678\n");
    berth_shim_crilog_close(l);
    assert_log(f, NOW_TS " stdout P abcd\n" NOW_TS " stdout P efgh\n" NOW_TS " stdout F ij\n" NOW_TS
                         " stdout F wxyz\n" NOW_TS " stdout P 1234\n" NOW_TS " stdout F 5678\n");
}

static void test_crilog_feed_splits_across_reads(void **state)
{
    struct fx *f = *state;
    struct berth_shim_crilog *l = log_new(f, 4);

    feed(l, OUT, "ab");
    feed(l, OUT, "cde");
    assert_log(f, NOW_TS " stdout P abcd\n");
    feed(l, OUT, "fgh");
    /* "efgh" is max bytes: not cut until a ninth byte shows the line goes on */
    assert_log(f, NOW_TS " stdout P abcd\n");
    feed(l, OUT, "i");
    feed(l, OUT, "j\n");
    berth_shim_crilog_close(l);
    assert_log(f, NOW_TS " stdout P abcd\n" NOW_TS " stdout P efgh\n" NOW_TS " stdout F ij\n");
}

static void test_crilog_feed_40000_byte_line_is_p_p_f(void **state)
{
    struct fx *f = *state;
    struct berth_shim_crilog *l = log_new(f, 16384);
    _cleanup_free_ char *line = berth_xmalloc(40001), *got = NULL;
    const char *p;
    size_t hdr = strlen(NOW_TS " stdout P ");

    memset(line, 'x', 40000);
    line[40000] = '\n';
    /* as a pipe delivers it: 4 KiB at a time */
    for (size_t off = 0; off < 40001; off += 4096)
        berth_shim_crilog_feed(l, OUT, line + off, off + 4096 > 40001 ? 40001 - off : 4096);
    berth_shim_crilog_close(l);
    got = slurp(f->path);
    assert_int_equal(strlen(got), 3 * (hdr + 1) + 40000);
    p = got;
    assert_memory_equal(p, NOW_TS " stdout P ", hdr);
    assert_int_equal(p[hdr + 16384], '\n');
    p += hdr + 16385;
    assert_memory_equal(p, NOW_TS " stdout P ", hdr);
    assert_int_equal(p[hdr + 16384], '\n');
    p += hdr + 16385;
    assert_memory_equal(p, NOW_TS " stdout F ", hdr);
    assert_int_equal(strlen(p), hdr + 40000 - 2 * 16384 + 1);
}

static void test_crilog_feed_without_max_never_splits(void **state)
{
    struct fx *f = *state;
    struct berth_shim_crilog *l = log_new(f, 0);
    struct berth_shim_crilog *l2 = log_new(f, -1);

    feed(l, OUT, "abcdefghij");
    feed(l, OUT, "klm\n");
    feed(l2, ERR, "0123456789\n");
    berth_shim_crilog_close(l);
    berth_shim_crilog_close(l2);
    assert_log(f, NOW_TS " stdout F abcdefghijklm\n" NOW_TS " stderr F 0123456789\n");
}

static void test_crilog_feed_strips_cr_before_lf(void **state)
{
    struct fx *f = *state;
    struct berth_shim_crilog *l = log_new(f, 4);

    feed(l, OUT, "a\r\n");
    /* a lone '\r' is content */
    feed(l, OUT, "b\rc\n");
    /* "\r" and "\n" in different reads */
    feed(l, OUT, "d\r");
    feed(l, OUT, "\n");
    /* max bytes then "\r\n": one full line, the '\r' is not a ninth byte */
    feed(l, OUT, "wxyz\r\n");
    feed(l, OUT, "WXYZ\r");
    feed(l, OUT, "\n");
    /* ... but a '\r' followed by more is */
    feed(l, OUT, "1234\r");
    feed(l, OUT, "5\n");
    berth_shim_crilog_close(l);
    assert_log(f, NOW_TS " stdout F a\n" NOW_TS " stdout F b\rc\n" NOW_TS " stdout F d\n" NOW_TS
                         " stdout F wxyz\n" NOW_TS " stdout F WXYZ\n" NOW_TS
                         " stdout P 1234\n" NOW_TS " stdout F \r5\n");
}

static void test_crilog_feed_empty_lines(void **state)
{
    struct fx *f = *state;
    struct berth_shim_crilog *l = log_new(f, 16384);

    feed(l, OUT, "\n\n");
    feed(l, ERR, "\r\n");
    berth_shim_crilog_close(l);
    assert_log(f, NOW_TS " stdout F \n" NOW_TS " stdout F \n" NOW_TS " stderr F \n");
}

static void test_crilog_flush_writes_partial_line(void **state)
{
    struct fx *f = *state;
    struct berth_shim_crilog *l = log_new(f, 4);

    /* nothing pending: nothing written */
    berth_shim_crilog_flush(l, OUT);
    feed(l, OUT, "abc");
    feed(l, ERR, "abcdef"); /* longer than max: "abcd" goes at once */
    berth_shim_crilog_flush(l, OUT);
    berth_shim_crilog_flush(l, ERR);
    berth_shim_crilog_flush(l, ERR);
    /* after a flush the stream starts a new line */
    feed(l, OUT, "z\n");
    berth_shim_crilog_close(l);
    assert_log(f, NOW_TS " stderr P abcd\n" NOW_TS " stdout P abc\n" NOW_TS " stderr P ef\n" NOW_TS
                         " stdout F z\n");
}

static void test_crilog_feed_tty_output(void **state)
{
    struct fx *f = *state;
    struct berth_shim_crilog *l = log_new(f, 16384);

    /* a pty master's output: ONLCR turned every "\n" into "\r\n", reads cut anywhere */
    feed(l, OUT, "$ ls\r\nbin  etc\r");
    feed(l, OUT, "\n$ ");
    berth_shim_crilog_flush(l, OUT);
    berth_shim_crilog_close(l);
    assert_log(f, NOW_TS " stdout F $ ls\n" NOW_TS " stdout F bin  etc\n" NOW_TS " stdout P $ \n");
}

static void ts_is(int64_t ns, const char *want)
{
    char buf[BERTH_SHIM_CRILOG_TS_MAX];

    assert_int_equal(berth_shim_crilog_timestamp(ns, buf), strlen(want));
    assert_string_equal(buf, want);
}

static void test_crilog_timestamp_is_go_rfc3339nano_local(void **state)
{
    (void)state;
    ts_is(NOW, "2023-11-14T22:13:20.123456789Z");
    /* trailing zeros of the fraction go, a whole second has none */
    ts_is(1700000000120000000LL, "2023-11-14T22:13:20.12Z");
    ts_is(1700000000000000001LL, "2023-11-14T22:13:20.000000001Z");
    ts_is(1700000000000000000LL, "2023-11-14T22:13:20Z");
    ts_is(0, "1970-01-01T00:00:00Z");
    ts_is(-1, "1969-12-31T23:59:59.999999999Z");
    /* local time: the zone's wall clock and offset (POSIX TZ strings need no tzdata) */
    setenv("TZ", "IST-5:30", 1);
    tzset();
    ts_is(1700000000500000000LL, "2023-11-15T03:43:20.5+05:30");
    setenv("TZ", "NST3:30", 1);
    tzset();
    ts_is(1700000000500000000LL, "2023-11-14T18:43:20.5-03:30");
    setenv("TZ", "XYZ-10", 1);
    tzset();
    ts_is(1700000000000000000LL, "2023-11-15T08:13:20+10:00");
    setenv("TZ", "UTC0", 1);
    tzset();
}

static void test_crilog_uri_parse(void **state)
{
    struct berth_err *err = NULL;
    char *path = NULL, *uri;
    int64_t max = 0;

    (void)state;
    assert_ok(berth_shim_crilog_uri_parse("crilog:///var/log/pods/a/c/0.log", &path, &max, &err),
              &err);
    assert_string_equal(path, "/var/log/pods/a/c/0.log");
    assert_int_equal(max, 16384);
    free(path);
    assert_ok(
        berth_shim_crilog_uri_parse("crilog:///l/0.log?x=1&max_line_size=-1&y", &path, &max, &err),
        &err);
    assert_string_equal(path, "/l/0.log");
    assert_int_equal(max, -1);
    free(path);
    assert_ok(berth_shim_crilog_uri_parse("crilog:///a%3Fb%25c%20d/0.log?max_line_size=100", &path,
                                          &max, &err),
              &err);
    assert_string_equal(path, "/a?b%c d/0.log");
    assert_int_equal(max, 100);
    free(path);
    /* berth_shim_crilog_uri escapes what parsing decodes */
    uri = berth_shim_crilog_uri("/a?b%c d#/\x01.log", 7);
    assert_string_equal(uri, "crilog:///a%3Fb%25c%20d%23/%01.log?max_line_size=7");
    assert_ok(berth_shim_crilog_uri_parse(uri, &path, &max, &err), &err);
    assert_string_equal(path, "/a?b%c d#/\x01.log");
    assert_int_equal(max, 7);
    free(path);
    free(uri);
}

static void test_crilog_uri_parse_bad_is_invalid_argument(void **state)
{
    const char *bad[] = {
        "file:///l/0.log",
        "crilog://",
        "crilog://host/l/0.log",
        "crilog://l/0.log",
        "crilog:///l/%zz.log",
        "crilog:///l/%2",
        "crilog:///l/%00.log",
        "crilog:///l/0.log?max_line_size=",
        "crilog:///l/0.log?max_line_size=12k",
        "crilog:///l/0.log?max_line_size=99999999999999999999999",
    };
    struct berth_err *err = NULL;
    char *path = NULL;
    int64_t max = 0;

    (void)state;
    for (size_t i = 0; i < BERTH_N(bad); i++) {
        assert_int_equal(berth_shim_crilog_uri_parse(bad[i], &path, &max, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        assert_null(path);
    }
}

static void test_crilog_open_creates_parents_and_reopen_follows_rename(void **state)
{
    struct fx *f = *state;
    struct berth_shim_crilog *l = NULL;
    struct berth_err *err = NULL;
    char path[4200], rotated[4200], dir[4096];
    _cleanup_free_ char *a = NULL, *b = NULL;
    struct stat st;
    mode_t old = umask(022);

    snprintf(dir, sizeof(dir), "%s/pods/ns_p_uid/c", f->env->dir);
    snprintf(path, sizeof(path), "%s/0.log", dir);
    snprintf(rotated, sizeof(rotated), "%s/0.log.20231114-221320", dir);
    assert_ok(berth_shim_crilog_open(path, 16384, &l, &err), &err);
    berth_shim_crilog_set_clock(l, fixed_clock);
    assert_string_equal(berth_shim_crilog_path(l), path);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    feed(l, OUT, "one\ntw");
    /* kubelet's rotation: rename, then ReopenContainerLog */
    assert_int_equal(rename(path, rotated), 0);
    feed(l, OUT, "o\n");
    assert_ok(berth_shim_crilog_reopen(l, &err), &err);
    feed(l, ERR, "three\n");
    berth_shim_crilog_close(l);
    a = slurp(rotated);
    b = slurp(path);
    assert_string_equal(a, NOW_TS " stdout F one\n" NOW_TS " stdout F two\n");
    assert_string_equal(b, NOW_TS " stderr F three\n");
    umask(old);
}

static void test_crilog_reopen_failure_keeps_old_file(void **state)
{
    struct fx *f = *state;
    struct berth_shim_crilog *l = NULL;
    struct berth_err *err = NULL;
    char dir[4096], path[4200], moved[4200];
    _cleanup_free_ char *a = NULL;

    snprintf(dir, sizeof(dir), "%s/c", f->env->dir);
    snprintf(path, sizeof(path), "%s/0.log", dir);
    snprintf(moved, sizeof(moved), "%s/moved", f->env->dir);
    assert_ok(berth_shim_crilog_open(path, 16384, &l, &err), &err);
    berth_shim_crilog_set_clock(l, fixed_clock);
    /* the directory becomes a file: neither mkdir -p nor open can work */
    assert_int_equal(rename(dir, moved), 0);
    assert_int_equal(close(open(dir, O_WRONLY | O_CREAT, 0600)), 0);
    assert_int_equal(berth_shim_crilog_reopen(l, &err), -1);
    assert_non_null(err);
    berth_err_free(&err);
    feed(l, OUT, "still here\n");
    berth_shim_crilog_close(l);
    a = slurp(strcat(moved, "/0.log"));
    assert_string_equal(a, NOW_TS " stdout F still here\n");
}

static void test_crilog_reopen_without_path_is_failed_precondition(void **state)
{
    struct fx *f = *state;
    struct berth_shim_crilog *l = log_new(f, 16384);
    struct berth_err *err = NULL;

    assert_null(berth_shim_crilog_path(l));
    assert_int_equal(berth_shim_crilog_reopen(l, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    berth_shim_crilog_close(l);
}

static void test_crilog_write_error_drops_and_counts(void **state)
{
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    struct berth_shim_crilog *l;
    struct berth_shim_crilog_drops d;

    (void)state;
    if (fd < 0)
        skip();
    l = berth_shim_crilog_new_fd(fd, 4);
    berth_shim_crilog_set_clock(l, fixed_clock);
    berth_shim_crilog_get_drops(l, &d);
    assert_int_equal(d.lines, 0);
    assert_int_equal(d.last_errno, 0);
    feed(l, OUT, "abcdef\nx\n");
    berth_shim_crilog_get_drops(l, &d);
    /* P abcd, F ef, F x: each line is dropped whole and counted */
    assert_int_equal(d.lines, 3);
    assert_int_equal(d.bytes, 3 * strlen(NOW_TS " stdout F \n") + 7);
    assert_int_equal(d.last_errno, ENOSPC);
    berth_shim_crilog_close(l);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crilog_feed_full_lines_of_both_streams, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crilog_feed_many_lines_in_one_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crilog_feed_line_spanning_many_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crilog_feed_splits_at_max_line_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crilog_feed_splits_across_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crilog_feed_40000_byte_line_is_p_p_f, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crilog_feed_without_max_never_splits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crilog_feed_strips_cr_before_lf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crilog_feed_empty_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crilog_flush_writes_partial_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crilog_feed_tty_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crilog_timestamp_is_go_rfc3339nano_local, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crilog_uri_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crilog_uri_parse_bad_is_invalid_argument, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crilog_open_creates_parents_and_reopen_follows_rename,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_crilog_reopen_failure_keeps_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crilog_reopen_without_path_is_failed_precondition,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_crilog_write_error_drops_and_counts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
