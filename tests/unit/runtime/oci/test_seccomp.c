/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/oci/seccomp.c. */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <string.h>

#include <seccomp.h>

#include "lib/util.h"
#include "runtime/oci/seccomp.h"
#include "runtime/oci/spec.h"

/* A spec with the given bounding set (NULL: containerd's default caps via spec_build). */
static json_t *spec_with(const char *const *bounding)
{
    struct berth_oci_opts o = {.ns = "default", .id = "c"};
    struct berth_err *err = NULL;
    json_t *spec = NULL, *arr;

    assert_ok(berth_oci_spec_build(&o, &spec, &err), &err);
    if (bounding) {
        arr = json_array();
        for (size_t i = 0; bounding[i]; i++)
            json_array_append_new(arr, json_string(bounding[i]));
        json_object_set_new(json_object_get(json_object_get(spec, "process"), "capabilities"),
                            "bounding", arr);
    }
    return spec;
}

static json_t *profile_for(const char *const *bounding)
{
    json_t *spec = spec_with(bounding), *p = NULL;
    struct berth_err *err = NULL;

    assert_ok(berth_oci_seccomp_default_profile(spec, &p, &err), &err);
    json_decref(spec);
    return p;
}

/* The first rule naming `name` whose action is `action` (any args), or NULL. */
static json_t *find_rule(json_t *p, const char *name, const char *action)
{
    json_t *rule, *n;
    size_t i, j;

    json_array_foreach(json_object_get(p, "syscalls"), i, rule)
    {
        if (strcmp(json_string_value(json_object_get(rule, "action")), action) != 0)
            continue;
        json_array_foreach(json_object_get(rule, "names"), j, n)
        {
            if (strcmp(json_string_value(n), name) == 0)
                return rule;
        }
    }
    return NULL;
}

static bool allowed_unconditionally(json_t *p, const char *name)
{
    json_t *rule, *n;
    size_t i, j;

    json_array_foreach(json_object_get(p, "syscalls"), i, rule)
    {
        if (strcmp(json_string_value(json_object_get(rule, "action")), "SCMP_ACT_ALLOW") != 0 ||
            json_object_get(rule, "args"))
            continue;
        json_array_foreach(json_object_get(rule, "names"), j, n)
        {
            if (strcmp(json_string_value(n), name) == 0)
                return true;
        }
    }
    return false;
}

static void test_seccomp_profile_shape(void **state)
{
    json_t *p = profile_for(NULL), *back;
    char *s;
    json_error_t jerr;
    const char *native = berth_oci_seccomp_arch_name(seccomp_arch_native());

    (void)state;
    s = json_dumps(p, 0);
    back = json_loads(s, 0, &jerr);
    assert_non_null(back);
    assert_true(json_equal(p, back));
    assert_string_equal(json_string_value(json_object_get(p, "defaultAction")), "SCMP_ACT_ERRNO");
    assert_null(json_object_get(p, "defaultErrnoRet")); /* EPERM, as in containerd 1.6 */
    assert_non_null(native);
    assert_string_equal(json_string_value(json_array_get(json_object_get(p, "architectures"), 0)),
                        native);
    if (seccomp_arch_native() == SCMP_ARCH_X86_64) {
        json_t *a = json_object_get(p, "architectures");
        assert_int_equal(json_array_size(a), 3);
        assert_string_equal(json_string_value(json_array_get(a, 1)), "SCMP_ARCH_X86");
        assert_string_equal(json_string_value(json_array_get(a, 2)), "SCMP_ARCH_X32");
        /* containerd 1.6.20's allow rule has 349 names, all known to libseccomp on amd64. */
        assert_int_equal(json_array_size(json_object_get(
                             json_array_get(json_object_get(p, "syscalls"), 0), "names")),
                         349);
        assert_true(allowed_unconditionally(p, "arch_prctl"));
    }
    free(s);
    json_decref(back);
    json_decref(p);
}

static void test_seccomp_profile_default_caps(void **state)
{
    json_t *p = profile_for(NULL), *rule, *arg;

    (void)state;
    assert_true(allowed_unconditionally(p, "read"));
    assert_true(allowed_unconditionally(p, "write"));
    assert_true(allowed_unconditionally(p, "exit_group"));
    assert_true(allowed_unconditionally(p, "chroot")); /* CAP_SYS_CHROOT is a default cap */
    assert_false(allowed_unconditionally(p, "kexec_load"));
    assert_false(allowed_unconditionally(p, "reboot"));
    assert_false(allowed_unconditionally(p, "mount"));
    assert_false(allowed_unconditionally(p, "clone"));
    assert_null(find_rule(p, "kexec_load", "SCMP_ACT_ALLOW"));
    assert_null(find_rule(p, "reboot", "SCMP_ACT_ALLOW"));
    /* clone only without namespace flags. */
    rule = find_rule(p, "clone", "SCMP_ACT_ALLOW");
    assert_non_null(rule);
    arg = json_array_get(json_object_get(rule, "args"), 0);
    assert_string_equal(json_string_value(json_object_get(arg, "op")), "SCMP_CMP_MASKED_EQ");
    assert_int_equal(json_integer_value(json_object_get(arg, "value")), 0x7E020000);
    /* clone3 gets ENOSYS so libc falls back to clone. */
    rule = find_rule(p, "clone3", "SCMP_ACT_ERRNO");
    assert_non_null(rule);
    assert_int_equal(json_integer_value(json_object_get(rule, "errnoRet")), ENOSYS);
    /* personality only for the five allowed personas. */
    assert_false(allowed_unconditionally(p, "personality"));
    assert_non_null(find_rule(p, "personality", "SCMP_ACT_ALLOW"));
    json_decref(p);
}

static void test_seccomp_profile_follows_capabilities(void **state)
{
    static const char *const caps[] = {"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_PTRACE", NULL};
    json_t *p = profile_for(caps);

    (void)state;
    assert_true(allowed_unconditionally(p, "reboot"));
    assert_true(allowed_unconditionally(p, "mount"));
    assert_true(allowed_unconditionally(p, "clone"));
    assert_true(allowed_unconditionally(p, "clone3"));
    assert_true(allowed_unconditionally(p, "process_vm_readv"));
    assert_null(find_rule(p, "clone3", "SCMP_ACT_ERRNO"));
    assert_false(allowed_unconditionally(p, "chroot")); /* not in this bounding set */
    assert_false(allowed_unconditionally(p, "kexec_load"));
    json_decref(p);
}

static void test_seccomp_profile_names_resolve(void **state)
{
    static const char *const caps[] = {"CAP_DAC_READ_SEARCH", "CAP_SYS_ADMIN",  "CAP_SYS_BOOT",
                                       "CAP_SYS_CHROOT",      "CAP_SYS_MODULE", "CAP_SYS_PACCT",
                                       "CAP_SYS_PTRACE",      "CAP_SYS_RAWIO",  "CAP_SYS_TIME",
                                       "CAP_SYS_TTY_CONFIG",  "CAP_SYS_NICE",   "CAP_SYSLOG",
                                       "CAP_PERFMON",         "CAP_BPF",        NULL};
    json_t *profiles[2] = {profile_for(NULL), profile_for(caps)};
    uint32_t native = seccomp_arch_native();

    (void)state;
    for (size_t k = 0; k < 2; k++) {
        json_t *rule, *n;
        size_t i, j;
        json_array_foreach(json_object_get(profiles[k], "syscalls"), i, rule)
        {
            assert_true(json_array_size(json_object_get(rule, "names")) > 0);
            json_array_foreach(json_object_get(rule, "names"), j, n)
            {
                const char *name = json_string_value(n);
                if (seccomp_syscall_resolve_name_arch(native, name) == __NR_SCMP_ERROR)
                    fail_msg("\"%s\" does not resolve on this architecture", name);
            }
        }
        json_decref(profiles[k]);
    }
}

static void test_seccomp_profile_rejects_non_object(void **state)
{
    struct berth_err *err = NULL;
    json_t *arr = json_array(), *p = (json_t *)1;

    (void)state;
    assert_int_equal(berth_oci_seccomp_default_profile(arr, &p, &err), -1);
    assert_null(p);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_seccomp_default_profile(NULL, &p, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    json_decref(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seccomp_profile_shape),
        cmocka_unit_test(test_seccomp_profile_default_caps),
        cmocka_unit_test(test_seccomp_profile_follows_capabilities),
        cmocka_unit_test(test_seccomp_profile_names_resolve),
        cmocka_unit_test(test_seccomp_profile_rejects_non_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
