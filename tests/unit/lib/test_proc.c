/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for lib/proc: this process's and a child's /proc/<pid>/stat, and a gone process. */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/proc.h"

static void test_self_and_pid_agree(void **state)
{
    struct berth_proc_stat self, bypid;

    (void)state;
    assert_int_equal(berth_proc_stat_read(0, &self), 0);
    assert_true(self.start > 0);
    assert_true(self.threads >= 1);
    assert_true(self.rss > 0 && self.vsize > 0);
    assert_int_equal(berth_proc_stat_read(getpid(), &bypid), 0);
    assert_true(bypid.start == self.start);
}

static void test_child_then_gone(void **state)
{
    struct berth_proc_stat self, child;
    int p[2], status;
    pid_t pid;
    char c;

    (void)state;
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[1]);
        (void)!read(p[0], &c, 1); /* until the parent closes its end */
        _exit(0);
    }
    close(p[0]);
    assert_int_equal(berth_proc_stat_read(0, &self), 0);
    assert_int_equal(berth_proc_stat_read(pid, &child), 0);
    assert_true(child.start >= self.start);
    close(p[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    errno = 0;
    assert_int_equal(berth_proc_stat_read(pid, &child), -1);
    assert_int_equal(errno, ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self_and_pid_agree),
        cmocka_unit_test(test_child_then_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
