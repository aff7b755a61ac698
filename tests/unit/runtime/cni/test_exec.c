/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/cni/exec.c with shell-script plugins: lookup in CNI_PATH, the CNI
 * environment, stdin, results, error objects and the timeout. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"
#include "runtime/cni/cni-internal.h"

static void write_script(const char *dir, const char *name, const char *body)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = berth_xcalloc(1, 65536);

    assert_non_null(f);
    assert_true(fread(buf, 1, 65535, f) < 65535);
    fclose(f);
    return buf;
}

/* Running, not a zombie waiting for whichever process reaps orphans here. */
static bool alive(int pid)
{
    _cleanup_free_ char *path = berth_strdup_printf("/proc/%d/stat", pid);
    char buf[256] = "", *p;
    FILE *f = fopen(path, "r");

    if (!f)
        return false;
    if (!fgets(buf, sizeof(buf), f))
        buf[0] = '\0';
    fclose(f);
    p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static void test_plugin_find_searches_each_dir(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *a = berth_strdup_printf("%s/a", env->dir);
    _cleanup_free_ char *b = berth_strdup_printf("%s/b", env->dir);
    _cleanup_free_ char *path = berth_strdup_printf("%s:%s", a, b);
    _cleanup_free_ char *want = berth_strdup_printf("%s/p", b);
    struct berth_err *err = NULL;
    char *found = NULL;

    assert_int_equal(mkdir(a, 0755), 0);
    assert_int_equal(mkdir(b, 0755), 0);
    write_script(b, "p", "exit 0");
    assert_ok(cni_plugin_find(path, "p", &found, &err), &err);
    assert_string_equal(found, want);
    free(found);
    assert_int_equal(cni_plugin_find(path, "nosuch", &found, &err), -1);
    assert_non_null(strstr(err->msg, "failed to find plugin \"nosuch\" in path ["));
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(cni_plugin_find(path, "../b/p", &found, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
}

static void test_exec_plugin_passes_env_and_stdin(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *body =
        berth_strdup_printf("env | grep '^CNI_' | sort > %s/env\ncat > %s/stdin\n"
                            "echo '{\"cniVersion\":\"1.0.0\",\"ips\":[]}'",
                            env->dir, env->dir);
    _cleanup_free_ char *envf = berth_strdup_printf("%s/env", env->dir);
    _cleanup_free_ char *stdinf = berth_strdup_printf("%s/stdin", env->dir);
    _cleanup_free_ char *got_env = NULL, *got_in = NULL, *want_env = NULL;
    struct cni_exec x = {"ADD", "sb1", "/run/netns/x", "eth0", "A=1;B=2", env->dir, 5000};
    struct berth_err *err = NULL;
    json_t *res = NULL;

    write_script(env->dir, "fake", body);
    /* A CNI_ variable of berthd's own must not reach the plugin. */
    setenv("CNI_IFNAME", "wrong", 1);
    assert_ok(cni_exec_plugin(&x, "fake", "{\"cniVersion\":\"1.0.0\"}", &res, &err), &err);
    unsetenv("CNI_IFNAME");
    assert_string_equal(json_string_value(json_object_get(res, "cniVersion")), "1.0.0");
    json_decref(res);
    got_env = slurp(envf);
    got_in = slurp(stdinf);
    want_env = berth_strdup_printf("CNI_ARGS=A=1;B=2\nCNI_COMMAND=ADD\nCNI_CONTAINERID=sb1\n"
                                   "CNI_IFNAME=eth0\nCNI_NETNS=/run/netns/x\nCNI_PATH=%s\n",
                                   env->dir);
    assert_string_equal(got_env, want_env);
    assert_string_equal(got_in, "{\"cniVersion\":\"1.0.0\"}");
}

static void test_exec_plugin_error_object_and_stderr(void **state)
{
    struct berth_test_env *env = *state;
    struct cni_exec x = {"ADD", "sb1", "/x", "eth0", NULL, env->dir, 5000};
    struct berth_err *err = NULL;
    json_t *res = NULL;

    write_script(env->dir, "bad",
                 "echo '{\"code\":999,\"msg\":\"must be called as chained plugin\"}'; exit 1");
    write_script(env->dir, "noisy", "echo 'it broke' >&2; exit 2");
    write_script(env->dir, "garbage", "echo 'not json'");
    write_script(env->dir, "silent-del", "exit 0");
    assert_int_equal(cni_exec_plugin(&x, "bad", "{}", &res, &err), -1);
    assert_string_equal(err->msg, "must be called as chained plugin");
    assert_err_code(err, BERTH_E_INTERNAL);
    assert_int_equal(cni_exec_plugin(&x, "noisy", "{}", &res, &err), -1);
    assert_string_equal(err->msg, "netplugin failed: \"it broke\"");
    assert_err_code(err, BERTH_E_INTERNAL);
    assert_int_equal(cni_exec_plugin(&x, "garbage", "{}", &res, &err), -1);
    assert_err_code(err, BERTH_E_INTERNAL);
    assert_int_equal(cni_exec_plugin(&x, "missing", "{}", &res, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    /* DEL prints nothing. */
    x.command = "DEL";
    assert_ok(cni_exec_plugin(&x, "silent-del", "{}", &res, &err), &err);
    assert_null(res);
}

static void test_exec_plugin_timeout_kills_it(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *body =
        berth_strdup_printf("sleep 30 & echo $! > %s/child\nwait", env->dir);
    _cleanup_free_ char *childf = berth_strdup_printf("%s/child", env->dir);
    _cleanup_free_ char *child = NULL;
    struct cni_exec x = {"ADD", "sb1", "/x", "eth0", NULL, env->dir, 300};
    struct berth_err *err = NULL;
    json_t *res = NULL;
    int64_t t0 = berth_mono_ns();

    write_script(env->dir, "slow", body);
    assert_int_equal(cni_exec_plugin(&x, "slow", "{}", &res, &err), -1);
    assert_true(berth_mono_ns() - t0 < 5000000000LL);
    assert_err_code(err, BERTH_E_DEADLINE_EXCEEDED);
    /* What the plugin started went with it (its process group was killed). */
    child = slurp(childf);
    usleep(100000);
    assert_false(alive(atoi(child)));
}

static void test_exec_plugin_not_reading_stdin_is_no_sigpipe(void **state)
{
    struct berth_test_env *env = *state;
    struct cni_exec x = {"ADD", "sb1", "/x", "eth0", NULL, env->dir, 5000};
    _cleanup_free_ char *big = berth_xmalloc(4 << 20);
    struct berth_err *err = NULL;
    json_t *res = NULL;

    /* More than any socket buffer holds: the writes outlive the plugin. */
    memset(big, ' ', (4 << 20) - 1);
    big[(4 << 20) - 1] = '\0';
    write_script(env->dir, "deaf", "echo '{\"cniVersion\":\"1.0.0\"}'");
    assert_ok(cni_exec_plugin(&x, "deaf", big, &res, &err), &err);
    assert_non_null(res);
    json_decref(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plugin_find_searches_each_dir, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_exec_plugin_passes_env_and_stdin,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_exec_plugin_error_object_and_stderr,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_exec_plugin_not_reading_stdin_is_no_sigpipe,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_exec_plugin_timeout_kills_it, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
