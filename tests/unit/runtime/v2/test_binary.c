/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/v2/binary.c: runtime name -> shim binary, signal validation. */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"
#include "runtime/v2/runtime.h"

static void test_binary_name_maps_containerd_style(void **state)
{
    struct berth_err *err = NULL;
    char *name = NULL;

    (void)state;
    assert_ok(berth_rt_binary_name("io.containerd.runc.v2", &name, &err), &err);
    assert_string_equal(name, "containerd-shim-runc-v2");
    free(name);
    assert_ok(berth_rt_binary_name("io.containerd.berth.v1", &name, &err), &err);
    assert_string_equal(name, "containerd-shim-berth-v1");
    free(name);
}

static void test_binary_name_bad_is_invalid_argument(void **state)
{
    static const char *const bad[] = {"runc",
                                      "io.containerd.runc",
                                      "io.containerd..v2",
                                      "io.containerd.runc.",
                                      "io.containerd.a.b.c",
                                      "io.containerd.a/b.v1",
                                      ""};
    (void)state;
    for (size_t i = 0; i < BERTH_N(bad); i++) {
        struct berth_err *err = NULL;
        char *name = (char *)1;
        assert_int_equal(berth_rt_binary_name(bad[i], &name, &err), -1);
        assert_null(name);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
}

static void write_exe(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
}

static void test_binary_resolve_prefers_bin_dir(void **state)
{
    char dir[] = "/tmp/berth-rt-test.XXXXXX";
    struct berth_err *err = NULL;
    char *path = NULL, *exe;

    (void)state;
    assert_non_null(mkdtemp(dir));
    /* io.containerd.berth.v1 -> <bin_dir>/berth-shim */
    exe = berth_strdup_printf("%s/berth-shim", dir);
    write_exe(exe);
    assert_ok(berth_rt_binary_resolve("io.containerd.berth.v1", dir, &path, &err), &err);
    assert_string_equal(path, exe);
    free(path);
    unlink(exe);
    free(exe);
    /* other runtimes: containerd-shim-<name>-<version> in bin_dir */
    exe = berth_strdup_printf("%s/containerd-shim-foo-v9", dir);
    write_exe(exe);
    assert_ok(berth_rt_binary_resolve("io.containerd.foo.v9", dir, &path, &err), &err);
    assert_string_equal(path, exe);
    free(path);
    /* an absolute path is used as is */
    assert_ok(berth_rt_binary_resolve(exe, NULL, &path, &err), &err);
    assert_string_equal(path, exe);
    free(path);
    unlink(exe);
    free(exe);
    rmdir(dir);
}

static void test_binary_resolve_missing_is_not_found(void **state)
{
    struct berth_err *err = NULL;
    char *path = NULL;

    (void)state;
    assert_int_equal(
        berth_rt_binary_resolve("io.containerd.nosuchshim.v7", "/nonexistent", &path, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_err_free(&err);
    assert_int_equal(berth_rt_binary_resolve("/nonexistent/shim", NULL, &path, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    berth_err_free(&err);
    assert_int_equal(berth_rt_binary_resolve("runc", NULL, &path, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_err_free(&err);
}

static void test_signal_validate_range(void **state)
{
    struct berth_err *err = NULL;

    (void)state;
    assert_ok(berth_rt_signal_validate(1, &err), &err);
    assert_ok(berth_rt_signal_validate(9, &err), &err);
    assert_ok(berth_rt_signal_validate(64, &err), &err);
    assert_int_equal(berth_rt_signal_validate(0, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_err_free(&err);
    assert_int_equal(berth_rt_signal_validate(65, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_err_free(&err);
    assert_int_equal(berth_rt_signal_validate(99, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_err_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_name_maps_containerd_style),
        cmocka_unit_test(test_binary_name_bad_is_invalid_argument),
        cmocka_unit_test(test_binary_resolve_prefers_bin_dir),
        cmocka_unit_test(test_binary_resolve_missing_is_not_found),
        cmocka_unit_test(test_signal_validate_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
