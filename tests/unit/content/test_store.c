/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for content/store.c: ingest, resume, commit verification, abort, locking, crash. */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h> /* utimensat */
#include <sys/wait.h>
#include <unistd.h>

#include "content/store.h"
#include "lib/sha256.h"
#include "tests/unit/helpers/lmdb_raw.h"

static struct berth_content_store *open_store(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *dir = berth_strdup_printf("%s/content", env->dir);
    struct berth_content_store *s = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_content_store_open(dir, &s, &err), &err);
    return s;
}

static void read_blob(struct berth_content_store *s, const char *digest, char *buf, size_t cap,
                      int64_t *size)
{
    struct berth_err *err = NULL;
    int fd = -1;

    assert_ok(berth_content_blob_open(s, digest, &fd, size, &err), &err);
    assert_true(*size <= (int64_t)cap);
    assert_int_equal(read(fd, buf, cap), *size);
    close(fd);
}

static void test_writer_commit_makes_blob_visible(void **state)
{
    _cleanup_(berth_content_store_closep) struct berth_content_store *s = open_store(state);
    struct berth_content_writer *w = NULL;
    struct berth_err *err = NULL;
    _cleanup_free_ char *digest = NULL;
    char want[72], buf[64];
    int64_t size;
    int fd;

    berth_sha256_digest_buf("hello world", 11, want);
    assert_ok(berth_content_writer_open(s, "default/r1", 11, NULL, &w, &err), &err);
    assert_ok(berth_content_writer_write(w, 0, "hello ", 6, &err), &err);
    /* not visible before commit */
    assert_int_equal(berth_content_blob_open(s, want, &fd, &size, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_ok(berth_content_writer_write(w, 6, "world", 5, &err), &err);
    assert_ok(berth_content_writer_commit(w, 11, want, &digest, &err), &err);
    assert_string_equal(digest, want);
    read_blob(s, want, buf, sizeof(buf), &size);
    assert_int_equal(size, 11);
    assert_memory_equal(buf, "hello world", 11);
    /* the ingest is gone */
    {
        struct berth_content_status st;
        assert_int_equal(berth_content_ingest_status(s, "default/r1", &st, &err), -1);
        assert_err_code(err, BERTH_E_NOT_FOUND);
    }
    /* a second writer expecting the same digest: ALREADY_EXISTS, nothing created */
    assert_int_equal(berth_content_writer_open(s, "default/r2", 0, want, &w, &err), -1);
    assert_err_code(err, BERTH_E_ALREADY_EXISTS);
}

static void test_writer_resume_and_status(void **state)
{
    _cleanup_(berth_content_store_closep) struct berth_content_store *s = open_store(state);
    struct berth_content_writer *w = NULL;
    struct berth_content_status st;
    struct berth_err *err = NULL;
    _cleanup_free_ char *digest = NULL;
    struct berth_content_status *v = NULL;
    size_t n = 0;
    char want[72];

    berth_sha256_digest_buf("abcdef", 6, want);
    assert_ok(berth_content_writer_open(s, "ns/ref/with/slash", 6, NULL, &w, &err), &err);
    assert_ok(berth_content_writer_write(w, 0, "abc", 3, &err), &err);
    berth_content_writer_close(w);

    assert_ok(berth_content_ingest_status(s, "ns/ref/with/slash", &st, &err), &err);
    assert_int_equal(st.offset, 3);
    assert_int_equal(st.total, 6);
    assert_true(st.started_ns > 0);
    assert_true(st.expires_ns > st.started_ns);
    berth_content_status_clear(&st);
    assert_ok(berth_content_ingest_list(s, "ns/", &v, &n, &err), &err);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].ref, "ns/ref/with/slash");
    berth_content_statuses_free(v, n);
    assert_ok(berth_content_ingest_list(s, "other/", &v, &n, &err), &err);
    assert_int_equal(n, 0);
    berth_content_statuses_free(v, n);

    /* reopening resumes at offset 3; a wrong offset is OUT_OF_RANGE */
    assert_ok(berth_content_writer_open(s, "ns/ref/with/slash", 0, NULL, &w, &err), &err);
    assert_int_equal(berth_content_writer_write(w, 5, "x", 1, &err), -1);
    assert_err_code(err, BERTH_E_OUT_OF_RANGE);
    assert_ok(berth_content_writer_write(w, 3, "def", 3, &err), &err);
    assert_ok(berth_content_writer_commit(w, 0, want, &digest, &err), &err);
    assert_string_equal(digest, want);
}

/* updated_at is the daemon's clock at the last write, never earlier than the write. The data
 * file's mtime (the old source) comes from the kernel's coarse clock, which lags the real one
 * by up to a tick; kernels with fine-grained timestamps only use them once someone looked at
 * the file, so the lag shows up only now and then. Setting the mtime a tick back after each
 * write reproduces it every time. */
static void test_writer_updated_at_is_time_of_write(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_(berth_content_store_closep) struct berth_content_store *s = open_store(state);
    _cleanup_free_ char *data = NULL;
    struct berth_content_writer *w = NULL;
    struct berth_content_status st;
    struct berth_err *err = NULL;
    int64_t before = 0, off = 0;
    char d[72];

    berth_sha256_digest_buf("ns/times", 8, d);
    data = berth_strdup_printf("%s/content/ingest/%s/data", env->dir, d + 7);
    assert_ok(berth_content_writer_open(s, "ns/times", 0, NULL, &w, &err), &err);
    for (int i = 0; i < 5; i++) {
        int64_t lag;
        struct timespec ts[2];

        before = berth_now_ns();
        assert_ok(berth_content_writer_write(w, off, "abc", 3, &err), &err);
        off += 3;
        lag = before - 4000000; /* a 250 Hz tick */
        ts[0].tv_sec = ts[1].tv_sec = lag / 1000000000LL;
        ts[0].tv_nsec = ts[1].tv_nsec = lag % 1000000000LL;
        assert_int_equal(utimensat(AT_FDCWD, data, ts, 0), 0);

        assert_ok(berth_content_writer_status(w, &st, &err), &err);
        assert_true(st.updated_ns >= before);
        assert_true(st.started_ns > 0 && st.started_ns <= st.updated_ns);
        berth_content_status_clear(&st);
        assert_ok(berth_content_ingest_status(s, "ns/times", &st, &err), &err);
        assert_true(st.updated_ns >= before);
        berth_content_status_clear(&st);
    }
    berth_content_writer_close(w);
    /* persisted: a later Status (after a restart) still reports the time of the last write */
    assert_ok(berth_content_ingest_status(s, "ns/times", &st, &err), &err);
    assert_true(st.updated_ns >= before);
    assert_true(st.updated_ns <= berth_now_ns());
    berth_content_status_clear(&st);
}

static void test_writer_offset_zero_truncates(void **state)
{
    _cleanup_(berth_content_store_closep) struct berth_content_store *s = open_store(state);
    struct berth_content_writer *w = NULL;
    struct berth_err *err = NULL;
    _cleanup_free_ char *digest = NULL;
    char want[72];

    berth_sha256_digest_buf("xy", 2, want);
    assert_ok(berth_content_writer_open(s, "ns/t", 0, NULL, &w, &err), &err);
    assert_ok(berth_content_writer_write(w, 0, "garbage", 7, &err), &err);
    assert_ok(berth_content_writer_write(w, 0, "xy", 2, &err), &err);
    assert_ok(berth_content_writer_commit(w, 2, NULL, &digest, &err), &err);
    assert_string_equal(digest, want);
}

static void test_writer_commit_mismatch_is_failed_precondition(void **state)
{
    _cleanup_(berth_content_store_closep) struct berth_content_store *s = open_store(state);
    struct berth_content_writer *w = NULL;
    struct berth_content_status st;
    struct berth_err *err = NULL;
    char *digest = NULL;
    char wrong[72];

    berth_sha256_digest_buf("other", 5, wrong);
    assert_ok(berth_content_writer_open(s, "ns/m", 0, NULL, &w, &err), &err);
    assert_ok(berth_content_writer_write(w, 0, "data", 4, &err), &err);
    assert_int_equal(berth_content_writer_commit(w, 5, NULL, &digest, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_int_equal(berth_content_writer_commit(w, 4, wrong, &digest, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    assert_null(digest);
    berth_content_writer_close(w);
    /* nothing became a blob; the ingest is intact */
    assert_ok(berth_content_ingest_status(s, "ns/m", &st, &err), &err);
    assert_int_equal(st.offset, 4);
    berth_content_status_clear(&st);
    assert_int_equal(berth_content_writer_open(s, "ns/x", 0, "sha256:bad", &w, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_writer_lock_and_abort(void **state)
{
    _cleanup_(berth_content_store_closep) struct berth_content_store *s = open_store(state);
    struct berth_content_writer *w = NULL, *w2 = NULL;
    struct berth_content_status st;
    struct berth_err *err = NULL;

    assert_ok(berth_content_writer_open(s, "ns/l", 0, NULL, &w, &err), &err);
    assert_int_equal(berth_content_writer_open(s, "ns/l", 0, NULL, &w2, &err), -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
    assert_int_equal(berth_content_ingest_abort(s, "ns/l", &err), -1);
    assert_err_code(err, BERTH_E_UNAVAILABLE);
    berth_content_writer_close(w);
    assert_ok(berth_content_ingest_abort(s, "ns/l", &err), &err);
    assert_int_equal(berth_content_ingest_status(s, "ns/l", &st, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(berth_content_ingest_abort(s, "ns/l", &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(berth_content_writer_open(s, "", 0, NULL, &w, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_writer_crash_then_resume(void **state)
{
    _cleanup_(berth_content_store_closep) struct berth_content_store *s = open_store(state);
    struct berth_content_writer *w = NULL;
    struct berth_content_status st;
    struct berth_err *err = NULL;
    _cleanup_free_ char *digest = NULL;
    static char data[8192];
    char want[72];
    int pipefd[2], status;
    pid_t pid;

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i * 31);
    berth_sha256_digest_buf(data, sizeof(data), want);
    assert_int_equal(pipe(pipefd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct berth_content_writer *cw = NULL;
        struct berth_err *e = NULL;
        if (berth_content_writer_open(s, "ns/crash", sizeof(data), NULL, &cw, &e) < 0 ||
            berth_content_writer_write(cw, 0, data, sizeof(data) / 2, &e) < 0)
            _exit(1);
        (void)!write(pipefd[1], "x", 1);
        for (;;)
            pause(); /* killed here, writer still open and locked */
    }
    close(pipefd[1]);
    {
        char c;
        assert_int_equal(read(pipefd[0], &c, 1), 1);
    }
    close(pipefd[0]);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));

    assert_ok(berth_content_ingest_status(s, "ns/crash", &st, &err), &err);
    assert_int_equal(st.offset, sizeof(data) / 2);
    assert_int_equal(st.total, sizeof(data));
    berth_content_status_clear(&st);
    /* the dead writer's lock went with it */
    assert_ok(berth_content_writer_open(s, "ns/crash", 0, NULL, &w, &err), &err);
    assert_ok(berth_content_writer_write(w, sizeof(data) / 2, data + sizeof(data) / 2,
                                         sizeof(data) / 2, &err),
              &err);
    assert_ok(berth_content_writer_commit(w, 0, want, &digest, &err), &err);
    assert_string_equal(digest, want);
}

static void test_blob_delete_and_list(void **state)
{
    _cleanup_(berth_content_store_closep) struct berth_content_store *s = open_store(state);
    struct berth_content_writer *w = NULL;
    struct berth_err *err = NULL;
    _cleanup_free_ char *digest = NULL;
    _cleanup_strv_ char **v = NULL;
    int64_t size;

    assert_ok(berth_content_writer_open(s, "ns/d", 0, NULL, &w, &err), &err);
    assert_ok(berth_content_writer_write(w, 0, "z", 1, &err), &err);
    assert_ok(berth_content_writer_commit(w, 0, NULL, &digest, &err), &err);
    assert_ok(berth_content_blob_list(s, &v, &err), &err);
    assert_int_equal(berth_strv_len(v), 1);
    assert_string_equal(v[0], digest);
    assert_ok(berth_content_blob_stat(s, digest, &size, &err), &err);
    assert_int_equal(size, 1);
    assert_ok(berth_content_blob_delete(s, digest, &err), &err);
    assert_int_equal(berth_content_blob_delete(s, digest, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(berth_content_blob_stat(s, "nonsense", &size, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static int teardown_fs(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *fs = berth_strdup_printf("%s/fs", env->dir);

    berth_test_tmpfs_umount(fs);
    return berth_test_teardown_tmpdir(state);
}

/* A full disk is RESOURCE_EXHAUSTED wherever the store writes, as for the metadata store. */
static void test_writer_on_full_disk_is_resource_exhausted(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *fs = berth_strdup_printf("%s/fs", env->dir);
    _cleanup_free_ char *dir = berth_strdup_printf("%s/content", fs);
    _cleanup_free_ char *filler = berth_strdup_printf("%s/fill", fs);
    _cleanup_(berth_content_store_closep) struct berth_content_store *s = NULL;
    struct berth_content_writer *w = NULL;
    struct berth_err *err = NULL;
    char buf[4096] = {0};

    if (!berth_test_tmpfs_mount(fs, 256 << 10))
        skip();
    assert_ok(berth_content_store_open(dir, &s, &err), &err);
    assert_ok(berth_content_writer_open(s, "default/before", 0, NULL, &w, &err), &err);
    {
        _cleanup_close_ int fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        while (write(fd, buf, sizeof(buf)) > 0)
            ;
        assert_int_equal(errno, ENOSPC);
    }
    assert_int_equal(berth_content_writer_write(w, 0, buf, sizeof(buf), &err), -1);
    assert_err_code(err, BERTH_E_RESOURCE_EXHAUSTED);
    berth_content_writer_close(w);
    w = NULL;
    /* Before: INTERNAL "write ingest file \"ref\": No space left on device". */
    assert_int_equal(berth_content_writer_open(s, "default/after", 0, NULL, &w, &err), -1);
    assert_err_code(err, BERTH_E_RESOURCE_EXHAUSTED);
    assert_null(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writer_on_full_disk_is_resource_exhausted,
                                        berth_test_setup_tmpdir, teardown_fs),
        cmocka_unit_test_setup_teardown(test_writer_commit_makes_blob_visible,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_writer_resume_and_status, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_writer_updated_at_is_time_of_write,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_writer_offset_zero_truncates, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_writer_commit_mismatch_is_failed_precondition,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_writer_lock_and_abort, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_writer_crash_then_resume, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_blob_delete_and_list, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
