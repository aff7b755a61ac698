/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for metadata/db.c: group commit, failure isolation, crash safety, schema checks. */
#include "tests/unit/helpers/meta_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/util.h"
#include "tests/unit/helpers/lmdb_raw.h"

struct put_arg {
    char key[64];
    char val[64];
    bool fail;        /* put, then fail: the put must vanish */
    useconds_t delay; /* hold the writer this long */
};

static int put_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct put_arg *a = arg;

    if (a->delay)
        usleep(a->delay);
    if (berth_meta_put(txn, a->key, a->val, strlen(a->val), err) < 0)
        return -1;
    if (a->fail)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "planned failure for %s", a->key);
    return 0;
}

static bool has_value(struct berth_meta_db *db, const char *key, const char *want)
{
    struct berth_meta_txn *txn = NULL;
    struct berth_err *err = NULL;
    struct berth_bytes v = {0};
    bool ok;

    if (berth_meta_txn_begin_read(db, &txn, &err) < 0)
        fail_msg("begin read: %s", err->msg);
    ok = berth_meta_get(txn, key, &v, &err) == 0;
    berth_err_free(&err);
    if (ok && want)
        ok = v.len == strlen(want) && memcmp(v.data, want, v.len) == 0;
    berth_bytes_clear(&v);
    berth_meta_txn_abort(txn);
    return ok;
}

static void test_update_put_get(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct put_arg a = {.key = "k/one", .val = "1"};

    assert_ok(berth_meta_update(env->db, put_cb, &a, &err), &err);
    assert_true(has_value(env->db, "k/one", "1"));
    meta_reopen(env);
    assert_true(has_value(env->db, "k/one", "1"));
}

static void test_update_failing_mutation_changes_nothing(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct put_arg a = {.key = "k/bad", .val = "x", .fail = true};

    assert_int_equal(berth_meta_update(env->db, put_cb, &a, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_false(has_value(env->db, "k/bad", NULL));
}

#define WRITERS    16
#define PER_WRITER 40

struct writer {
    struct berth_meta_db *db;
    int idx;
    int failures_seen, successes;
};

static void *writer_main(void *p)
{
    struct writer *w = p;

    for (int i = 0; i < PER_WRITER; i++) {
        struct put_arg a = {0};
        struct berth_err *err = NULL;
        snprintf(a.key, sizeof(a.key), "w/%02d/%03d", w->idx, i);
        snprintf(a.val, sizeof(a.val), "v%d.%d", w->idx, i);
        a.fail = (i % 7) == 3; /* every writer has failing mutations in shared batches */
        if (berth_meta_update(w->db, put_cb, &a, &err) < 0) {
            if (err && err->code == BERTH_E_INVALID_ARGUMENT)
                w->failures_seen++;
            berth_err_free(&err);
        } else {
            w->successes++;
        }
    }
    return NULL;
}

static void *slow_writer(void *p)
{
    struct berth_meta_db *db = p;
    struct put_arg a = {.key = "slow", .val = "s", .delay = 200000};
    struct berth_err *err = NULL;

    if (berth_meta_update(db, put_cb, &a, &err) < 0)
        berth_err_free(&err);
    return NULL;
}

static void test_group_commit_batches_and_isolates_failures(void **state)
{
    struct meta_env *env = *state;
    struct writer w[WRITERS];
    pthread_t t[WRITERS], slow;
    struct berth_meta_stats st;
    int expected_fail = 0;

    for (int i = 0; i < PER_WRITER; i++)
        expected_fail += (i % 7) == 3;
    /* Hold the writer so that the others queue up behind it and share batches. */
    pthread_create(&slow, NULL, slow_writer, env->db);
    usleep(20000);
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.db = env->db, .idx = i};
        pthread_create(&t[i], NULL, writer_main, &w[i]);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(t[i], NULL);
    pthread_join(slow, NULL);

    for (int i = 0; i < WRITERS; i++) {
        assert_int_equal(w[i].failures_seen, expected_fail);
        assert_int_equal(w[i].successes, PER_WRITER - expected_fail);
        for (int j = 0; j < PER_WRITER; j++) {
            char key[64], val[64];
            snprintf(key, sizeof(key), "w/%02d/%03d", i, j);
            snprintf(val, sizeof(val), "v%d.%d", i, j);
            if ((j % 7) == 3)
                assert_false(has_value(env->db, key, NULL));
            else
                assert_true(has_value(env->db, key, val));
        }
    }
    berth_meta_db_stats(env->db, &st);
    assert_int_equal(st.mutations, WRITERS * PER_WRITER + 1);
    assert_true(st.max_batch >= 2);
    assert_true(st.commits < st.mutations);
}

/* A child commits numbered records and reports each acknowledged one over a pipe; it is
 * SIGKILLed mid-stream. Every acknowledged record must be present and whole after reopening,
 * and nothing present may be torn. */
static void test_reopen_after_sigkill_keeps_committed(void **state)
{
    struct meta_env *env = *state;
    int fds[2];
    pid_t pid;
    int acked = -1, n, status;
    char big[2048];

    berth_meta_db_close(env->db);
    env->db = NULL;
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct berth_meta_db *db = NULL;
        struct berth_err *err = NULL;
        struct berth_meta_opts opts = {.map_size = 64 << 20};
        close(fds[0]);
        if (berth_meta_db_open(env->dir, &opts, &db, &err) < 0)
            _exit(3);
        for (int i = 0;; i++) {
            struct put_arg a = {0};
            snprintf(a.key, sizeof(a.key), "crash/%06d", i);
            snprintf(a.val, sizeof(a.val), "value-%06d-end", i);
            if (berth_meta_update(db, put_cb, &a, &err) < 0)
                _exit(4);
            if (write(fds[1], &i, sizeof(i)) != sizeof(i))
                _exit(5);
        }
    }
    close(fds[1]);
    /* Let it commit a few hundred records, then kill it without warning. */
    while ((n = (int)read(fds[0], big, sizeof(int))) == sizeof(int)) {
        memcpy(&acked, big, sizeof(int));
        if (acked >= 300)
            break;
    }
    kill(pid, SIGKILL);
    while ((n = (int)read(fds[0], big, sizeof(int))) == sizeof(int))
        memcpy(&acked, big, sizeof(int));
    close(fds[0]);
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    assert_true(acked >= 300);

    meta_reopen(env);
    for (int i = 0; i <= acked + 50; i++) {
        char key[64], val[64];
        snprintf(key, sizeof(key), "crash/%06d", i);
        snprintf(val, sizeof(val), "value-%06d-end", i);
        if (i <= acked)
            assert_true(has_value(env->db, key, val));
        else if (has_value(env->db, key, NULL)) /* committed but not yet acknowledged */
            assert_true(has_value(env->db, key, val));
    }
}

static int put_version_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    return berth_meta_put(txn, "version", "99", 2, err);
}

static void test_open_newer_schema_is_failed_precondition(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_meta_db *db = NULL;

    assert_ok(berth_meta_update(env->db, put_version_cb, NULL, &err), &err);
    berth_meta_db_close(env->db);
    env->db = NULL;
    assert_int_equal(berth_meta_db_open(env->dir, NULL, &db, &err), -1);
    assert_null(db);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
}

static void test_uuid_persists(void **state)
{
    struct meta_env *env = *state;
    char first[40];

    snprintf(first, sizeof(first), "%s", berth_meta_db_uuid(env->db));
    assert_int_equal(strlen(first), 36);
    meta_reopen(env);
    assert_string_equal(first, berth_meta_db_uuid(env->db));
}

static void test_key_too_long_is_invalid_argument(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    char key[700];

    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    {
        struct berth_meta_txn *txn = NULL;
        struct berth_bytes v = {0};
        assert_ok(berth_meta_txn_begin_read(env->db, &txn, &err), &err);
        assert_int_equal(berth_meta_get(txn, key, &v, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
        berth_meta_txn_abort(txn);
    }
}

static int del_prefix_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    static const char *const keys[] = {"p/a", "p/a/1", "p/a/2", "p/ab", "p/b", "q"};
    for (size_t i = 0; i < BERTH_N(keys); i++)
        if (berth_meta_put(txn, keys[i], "", 0, err) < 0)
            return -1;
    return berth_meta_del_prefix(txn, "p/a/", (size_t *)arg, err);
}

static void test_del_prefix_deletes_only_the_prefix(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    size_t n = 0;

    assert_ok(berth_meta_update(env->db, del_prefix_cb, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_false(has_value(env->db, "p/a/1", NULL));
    assert_false(has_value(env->db, "p/a/2", NULL));
    assert_true(has_value(env->db, "p/a", NULL));
    assert_true(has_value(env->db, "p/ab", NULL));
    assert_true(has_value(env->db, "p/b", NULL));
    assert_true(has_value(env->db, "q", NULL));
}

static int put_many_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    char val[100];

    memset(val, 'v', sizeof(val));
    for (int i = 0; i < *(int *)arg; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k/%06d", i);
        if (berth_meta_put(txn, key, val, sizeof(val), err) < 0)
            return -1;
    }
    return 0;
}

static void test_open_truncated_is_data_loss(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_meta_db *db = NULL;
    int n = 2000;

    assert_ok(berth_meta_update(env->db, put_many_cb, &n, &err), &err);
    berth_meta_db_close(env->db);
    env->db = NULL;
    berth_test_truncate_half(env->dir);
    /* Before: the schema check read a page past the end of the file and died of SIGBUS. */
    assert_int_equal(berth_meta_db_open(env->dir, NULL, &db, &err), -1);
    assert_null(db);
    assert_non_null(strstr(err->msg, "data.mdb"));
    assert_err_code(err, BERTH_E_DATA_LOSS);
}

/* meta_teardown, after unmounting the tmpfs a failed disk-full test left behind. */
static int teardown_fs(void **state)
{
    struct meta_env *env = *state;
    _cleanup_free_ char *fs = berth_strdup_printf("%s/fs", env->tmp->dir);

    berth_test_tmpfs_umount(fs);
    return meta_teardown(state);
}

static void test_update_on_full_disk_is_resource_exhausted_and_recovers(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_meta_db *db = NULL;
    struct berth_meta_opts opts = {.map_size = 64 << 20};
    _cleanup_free_ char *fs = berth_strdup_printf("%s/fs", env->tmp->dir);
    _cleanup_free_ char *dir = berth_strdup_printf("%s/metadata", fs);
    _cleanup_free_ char *filler = berth_strdup_printf("%s/fill", fs);
    struct put_arg a = {.key = "k/after", .val = "1"};
    int n = 200;

    if (!berth_test_tmpfs_mount(fs, 1 << 20))
        skip();
    assert_ok(berth_meta_db_open(dir, &opts, &db, &err), &err);
    {
        _cleanup_close_ int fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        char buf[4096] = {0};
        while (write(fd, buf, sizeof(buf)) > 0)
            ;
        assert_int_equal(errno, ENOSPC);
    }
    /* Before: INTERNAL "commit: No space left on device" (or "Input/output error"). */
    assert_int_equal(berth_meta_update(db, put_many_cb, &n, &err), -1);
    assert_non_null(strstr(err->msg, "disk full"));
    assert_non_null(strstr(err->msg, dir));
    assert_err_code(err, BERTH_E_RESOURCE_EXHAUSTED);
    /* Space back: the store takes writes again, no restart needed. */
    assert_int_equal(unlink(filler), 0);
    assert_ok(berth_meta_update(db, put_cb, &a, &err), &err);
    assert_true(has_value(db, "k/after", "1"));
    berth_meta_db_close(db);
}

static void test_corrupt_reports_go_to_the_txn_hook_else_the_store_hook(void **state)
{
    struct meta_env *env = *state;
    struct berth_err *err = NULL;
    struct berth_meta_txn *txn = NULL;
    struct berth_test_corrupt_seen store = {0}, own = {0};

    berth_meta_db_set_corrupt_hook(env->db, berth_test_corrupt_seen_cb, &store);
    assert_ok(berth_meta_txn_begin_read(env->db, &txn, &err), &err);
    berth_meta_txn_report_corrupt(txn, "c/x/a");
    assert_int_equal(store.n, 1);
    assert_string_equal(store.last, "c/x/a");
    berth_meta_txn_set_corrupt_hook(txn, berth_test_corrupt_seen_cb, &own);
    berth_meta_txn_report_corrupt(txn, "c/x/b");
    assert_int_equal(store.n, 1);
    assert_int_equal(own.n, 1);
    assert_string_equal(own.last, "c/x/b");
    berth_meta_txn_abort(txn);
    assert_int_equal(berth_meta_db_corrupt_skips(env->db), 2);
    berth_meta_db_set_corrupt_hook(env->db, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_update_put_get, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_update_failing_mutation_changes_nothing, meta_setup,
                                        meta_teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_batches_and_isolates_failures, meta_setup,
                                        meta_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_after_sigkill_keeps_committed, meta_setup,
                                        meta_teardown),
        cmocka_unit_test_setup_teardown(test_open_newer_schema_is_failed_precondition, meta_setup,
                                        meta_teardown),
        cmocka_unit_test_setup_teardown(test_uuid_persists, meta_setup, meta_teardown),
        cmocka_unit_test_setup_teardown(test_del_prefix_deletes_only_the_prefix, meta_setup,
                                        meta_teardown),
        cmocka_unit_test_setup_teardown(test_key_too_long_is_invalid_argument, meta_setup,
                                        meta_teardown),
        cmocka_unit_test_setup_teardown(test_open_truncated_is_data_loss, meta_setup,
                                        meta_teardown),
        cmocka_unit_test_setup_teardown(test_update_on_full_disk_is_resource_exhausted_and_recovers,
                                        meta_setup, teardown_fs),
        cmocka_unit_test_setup_teardown(test_corrupt_reports_go_to_the_txn_hook_else_the_store_hook,
                                        meta_setup, meta_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
