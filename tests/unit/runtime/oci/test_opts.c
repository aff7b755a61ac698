/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/oci/opts*.c: the composable spec options. */
#include "tests/unit/helpers/berth_test.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "images/manifest.h"
#include "lib/util.h"
#include "runtime/oci/oci-internal.h"
#include "runtime/oci/opts.h"
#include "runtime/oci/spec.h"

#define STRV(...)    ((const char *const[]){__VA_ARGS__, NULL})
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* spec[path...] with "/"-separated object keys. */
static json_t *at(json_t *j, const char *path)
{
    _cleanup_free_ char *copy = berth_xstrdup(path);
    char *save = NULL;

    for (char *k = strtok_r(copy, "/", &save); k && j; k = strtok_r(NULL, "/", &save))
        j = json_object_get(j, k);
    return j;
}

static void assert_strv_json(json_t *arr, const char *const *want)
{
    size_t n = 0;

    assert_true(json_is_array(arr));
    for (; want[n]; n++) {
        const char *got = json_string_value(json_array_get(arr, n));
        if (!got || strcmp(got, want[n]) != 0)
            fail_msg("element %zu: got \"%s\", want \"%s\"", n, got ? got : "(null)", want[n]);
    }
    assert_int_equal(json_array_size(arr), n);
}

/* The object's keys, in order, equal want. */
static void assert_keys(json_t *obj, const char *const *want)
{
    const char *key;
    json_t *v;
    size_t i = 0;

    assert_true(json_is_object(obj));
    json_object_foreach(obj, key, v)
    {
        if (!want[i] || strcmp(key, want[i]) != 0)
            fail_msg("key %zu: got \"%s\", want \"%s\"", i, key, want[i] ? want[i] : "(end)");
        i++;
    }
    assert_null(want[i]);
}

static void assert_ints(json_t *arr, const int64_t *want, size_t n)
{
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(json_integer_value(json_array_get(arr, i)), want[i]);
}

static json_t *new_spec(void)
{
    json_t *s = berth_oci_default_spec("default", "c1");

    assert_non_null(s);
    return s;
}

static bool strv_json_has(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v)
    {
        if (json_string_value(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static void write_file(const char *dir, const char *rel, const char *content)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/%s", dir, rel);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static char *make_rootfs(const char *base)
{
    char *root = berth_strdup_printf("%s/rootfs", base);
    _cleanup_free_ char *etc = berth_strdup_printf("%s/etc", root);

    assert_int_equal(mkdir(root, 0755), 0);
    assert_int_equal(mkdir(etc, 0755), 0);
    write_file(root, "etc/passwd",
               "root:x:0:0:root:/root:/bin/sh\n"
               "www:x:33:44:www:/var/www:/bin/sh\n");
    write_file(root, "etc/group",
               "root:x:0:\n"
               "www:x:44:www\n"
               "staff:x:50:other,www\n"
               "mail:x:8:www\n"
               "wheel:x:10:root\n");
    return root;
}

/* ---- default spec and ordering ---- */

static void test_default_spec_is_ctr_default_without_env(void **state)
{
    struct berth_oci_opts o = {.ns = "default", .id = "c1"};
    struct berth_err *err = NULL;
    json_t *spec = new_spec(), *built = NULL;

    (void)state;
    assert_keys(spec, STRV("ociVersion", "process", "root", "mounts", "linux"));
    assert_keys(at(spec, "process"),
                STRV("user", "cwd", "capabilities", "rlimits", "noNewPrivileges"));
    assert_keys(at(spec, "linux"),
                STRV("resources", "cgroupsPath", "namespaces", "maskedPaths", "readonlyPaths"));
    assert_string_equal(json_string_value(at(spec, "linux/cgroupsPath")), "/default/c1");
    assert_int_equal(json_array_size(at(spec, "mounts")), 7);
    /* With the default PATH it is what the ctr builder gives for no options. */
    assert_ok(berth_oci_with_env(spec, STRV(DEFAULT_PATH), &err), &err);
    assert_ok(berth_oci_spec_build(&o, &built, &err), &err);
    assert_true(json_equal(spec, built));
    json_decref(built);
    json_decref(spec);
    assert_null(berth_oci_default_spec(NULL, "x"));
    assert_null(berth_oci_default_spec("ns", ""));
}

static void test_options_keep_go_key_order(void **state)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec();
    struct berth_labels ann = {0}, sys = {0};

    (void)state;
    berth_labels_set(&ann, "z", "1");
    berth_labels_set(&sys, "net.core.somaxconn", "1024");
    /* Applied back to front on purpose. */
    assert_ok(berth_oci_with_sysctls(spec, &sys, &err), &err);
    assert_ok(berth_oci_with_annotations(spec, &ann, &err), &err);
    assert_ok(berth_oci_with_hostname(spec, "box", &err), &err);
    assert_ok(berth_oci_with_oom_score_adj(spec, 5, &err), &err);
    assert_ok(berth_oci_with_tty(spec, true, &err), &err);
    assert_ok(berth_oci_with_console_size(spec, 80, 24, &err), &err);
    assert_ok(berth_oci_with_process_args(spec, STRV("sh"), &err), &err);
    assert_ok(berth_oci_with_seccomp_default(spec, &err), &err);
    assert_ok(berth_oci_with_additional_gids(spec, (const int64_t[]){7}, 1, &err), &err);
    assert_keys(
        spec, STRV("ociVersion", "process", "root", "hostname", "mounts", "annotations", "linux"));
    assert_keys(at(spec, "process"),
                STRV("terminal", "consoleSize", "user", "args", "env", "cwd", "capabilities",
                     "rlimits", "noNewPrivileges", "oomScoreAdj"));
    assert_keys(at(spec, "process/user"), STRV("uid", "gid", "additionalGids"));
    assert_keys(at(spec, "process/consoleSize"), STRV("height", "width"));
    assert_keys(at(spec, "linux"), STRV("sysctl", "resources", "cgroupsPath", "namespaces",
                                        "seccomp", "maskedPaths", "readonlyPaths"));
    berth_labels_clear(&ann);
    berth_labels_clear(&sys);
    json_decref(spec);
}

static void test_options_reject_a_non_object_spec(void **state)
{
    struct berth_err *err = NULL;
    json_t *arr = json_array();

    (void)state;
    assert_int_equal(berth_oci_with_cwd(NULL, "/", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_with_env(arr, STRV("A=1"), &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_with_privileged(arr, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_with_seccomp_unconfined(arr, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_null(berth_oci_process_json(arr));
    json_decref(arr);
}

/* ---- process ---- */

static void test_with_image_config_env_args_cwd(void **state)
{
    char *ep[] = {"/entry", NULL};
    char *cmd[] = {"serve", "-v", NULL};
    char *env[] = {"PATH=/img/bin", "A=1", NULL};
    struct berth_image_config img = {
        .entrypoint = ep, .cmd = cmd, .env = env, .working_dir = "/srv"};
    struct berth_err *err = NULL;
    json_t *spec = new_spec();

    (void)state;
    /* What the spec already holds overrides the image's env. */
    assert_ok(berth_oci_with_env(spec, STRV("A=9", "B=2"), &err), &err);
    assert_ok(berth_oci_with_image_config(spec, &img, &err), &err);
    assert_strv_json(at(spec, "process/env"), STRV("PATH=/img/bin", "A=9", "B=2"));
    assert_strv_json(at(spec, "process/args"), STRV("/entry", "serve", "-v"));
    assert_string_equal(json_string_value(at(spec, "process/cwd")), "/srv");
    json_decref(spec);

    spec = new_spec();
    img = (struct berth_image_config){0};
    assert_ok(berth_oci_with_process_args(spec, STRV("old"), &err), &err);
    assert_ok(berth_oci_with_image_config(spec, &img, &err), &err);
    assert_strv_json(at(spec, "process/env"), STRV(DEFAULT_PATH));
    assert_null(at(spec, "process/args"));
    assert_string_equal(json_string_value(at(spec, "process/cwd")), "/");
    img.working_dir = "rel";
    assert_int_equal(berth_oci_with_image_config(spec, &img, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_with_image_config(spec, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    json_decref(spec);
}

static void test_with_process_args_replaces(void **state)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec();

    (void)state;
    assert_ok(berth_oci_with_process_args(spec, STRV("a", "b"), &err), &err);
    assert_ok(berth_oci_with_process_args(spec, STRV("c"), &err), &err);
    assert_strv_json(at(spec, "process/args"), STRV("c"));
    assert_ok(berth_oci_with_process_args(spec, NULL, &err), &err);
    assert_null(at(spec, "process/args"));
    json_decref(spec);
}

static void cri_args_is(const struct berth_image_config *img, const char *const *command,
                        const char *const *args, const char *const *want)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec();

    assert_ok(berth_oci_with_cri_args(spec, img, command, args, &err), &err);
    assert_strv_json(at(spec, "process/args"), want);
    json_decref(spec);
}

static void test_with_cri_args_kubelet_rules(void **state)
{
    char *ep[] = {"/entry", "-x", NULL};
    char *cmd[] = {"serve", NULL};
    char *empty_ep[] = {"", NULL};
    struct berth_image_config img = {.entrypoint = ep, .cmd = cmd};
    struct berth_err *err = NULL;
    json_t *spec;

    (void)state;
    cri_args_is(&img, NULL, NULL, STRV("/entry", "-x", "serve"));
    cri_args_is(&img, NULL, STRV("debug"), STRV("/entry", "-x", "debug"));
    cri_args_is(&img, STRV("/bin/sh"), NULL, STRV("/bin/sh"));
    cri_args_is(&img, STRV("/bin/sh", "-c"), STRV("true"), STRV("/bin/sh", "-c", "true"));
    cri_args_is(NULL, NULL, STRV("x"), STRV("x"));
    /* ENTRYPOINT [""] is "no entrypoint". */
    img.entrypoint = empty_ep;
    cri_args_is(&img, NULL, NULL, STRV("serve"));
    img.cmd = NULL;
    spec = new_spec();
    assert_int_equal(berth_oci_with_cri_args(spec, &img, NULL, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_with_cri_args(spec, NULL, STRV(NULL), STRV(NULL), &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    json_decref(spec);
}

static void test_with_env_replace_append_unset(void **state)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec();

    (void)state;
    assert_ok(berth_oci_with_env(spec, STRV("A=1", "B=2", "C=3"), &err), &err);
    assert_ok(berth_oci_with_env(spec, STRV("B=20", "A", "D=4", "NOPE"), &err), &err);
    assert_strv_json(at(spec, "process/env"), STRV("B=20", "C=3", "D=4"));
    assert_int_equal(berth_oci_with_env(spec, STRV("X=1", "=bad"), &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_with_env(spec, STRV(""), &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    /* Validation happens before any change. */
    assert_strv_json(at(spec, "process/env"), STRV("B=20", "C=3", "D=4"));
    json_decref(spec);
}

static void test_with_cwd_hostname_tty(void **state)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec();

    (void)state;
    assert_ok(berth_oci_with_cwd(spec, "/work", &err), &err);
    assert_string_equal(json_string_value(at(spec, "process/cwd")), "/work");
    assert_int_equal(berth_oci_with_cwd(spec, "work", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_with_cwd(spec, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);

    assert_ok(berth_oci_with_hostname(spec, "pod", &err), &err);
    assert_string_equal(json_string_value(at(spec, "hostname")), "pod");
    assert_ok(berth_oci_with_hostname(spec, NULL, &err), &err);
    assert_null(at(spec, "hostname"));

    assert_ok(berth_oci_with_tty(spec, true, &err), &err);
    assert_ok(berth_oci_with_tty(spec, true, &err), &err);
    assert_true(json_is_true(at(spec, "process/terminal")));
    assert_strv_json(at(spec, "process/env"), STRV("TERM=xterm"));
    assert_ok(berth_oci_with_console_size(spec, 100, 30, &err), &err);
    assert_int_equal(json_integer_value(at(spec, "process/consoleSize/width")), 100);
    assert_int_equal(json_integer_value(at(spec, "process/consoleSize/height")), 30);
    assert_ok(berth_oci_with_console_size(spec, 0, 0, &err), &err);
    assert_null(at(spec, "process/consoleSize"));
    assert_ok(berth_oci_with_tty(spec, false, &err), &err);
    assert_null(at(spec, "process/terminal"));
    json_decref(spec);
}

static void user_is(json_t *spec, int64_t uid, int64_t gid, const int64_t *extra, size_t n)
{
    assert_int_equal(json_integer_value(at(spec, "process/user/uid")), uid);
    assert_int_equal(json_integer_value(at(spec, "process/user/gid")), gid);
    if (n == 0)
        assert_null(at(spec, "process/user/additionalGids"));
    else
        assert_ints(at(spec, "process/user/additionalGids"), extra, n);
}

static void test_with_user_resolves_in_rootfs(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *root = make_rootfs(env->dir);
    struct berth_err *err = NULL;
    json_t *spec = new_spec();

    assert_ok(berth_oci_with_user(spec, root, "www", &err), &err);
    user_is(spec, 33, 44, (const int64_t[]){50, 8}, 2);
    assert_ok(berth_oci_with_user(spec, root, "www:staff", &err), &err);
    user_is(spec, 33, 50, (const int64_t[]){50, 8}, 2);
    /* A later user without groups drops the previous user's groups. */
    assert_ok(berth_oci_with_user(spec, root, "1000:1000", &err), &err);
    user_is(spec, 1000, 1000, NULL, 0);
    assert_ok(berth_oci_with_user(spec, root, NULL, &err), &err);
    user_is(spec, 0, 0, (const int64_t[]){10}, 1);
    assert_ok(berth_oci_with_user(spec, NULL, "7:8", &err), &err);
    user_is(spec, 7, 8, NULL, 0);

    assert_int_equal(berth_oci_with_user(spec, root, "nobody", &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(berth_oci_with_user(spec, root, "www:nogroup", &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(berth_oci_with_user(spec, root, "a:b:c", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_with_user(spec, NULL, "www", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    json_decref(spec);
}

static void test_with_uid_gid(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *root = make_rootfs(env->dir);
    struct berth_err *err = NULL;
    json_t *spec = new_spec();

    assert_ok(berth_oci_with_additional_gids(spec, (const int64_t[]){3}, 1, &err), &err);
    assert_ok(berth_oci_with_uid_gid(spec, root, 33, -1, &err), &err);
    user_is(spec, 33, 44, (const int64_t[]){3}, 1); /* groups untouched */
    assert_ok(berth_oci_with_uid_gid(spec, root, 1234, -1, &err), &err);
    user_is(spec, 1234, 0, (const int64_t[]){3}, 1);
    assert_ok(berth_oci_with_uid_gid(spec, NULL, 5, 6, &err), &err);
    user_is(spec, 5, 6, (const int64_t[]){3}, 1);
    assert_ok(berth_oci_with_uid_gid(spec, NULL, 4294967295LL, -1, &err), &err);
    user_is(spec, 4294967295LL, 0, (const int64_t[]){3}, 1);
    assert_int_equal(berth_oci_with_uid_gid(spec, NULL, -1, 0, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_with_uid_gid(spec, NULL, 4294967296LL, 0, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_with_uid_gid(spec, NULL, 0, -2, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    json_decref(spec);
}

static void test_with_additional_gids_merges_sorted(void **state)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec();

    (void)state;
    assert_ok(berth_oci_with_additional_gids(spec, (const int64_t[]){50, 8, 8}, 3, &err), &err);
    assert_ok(berth_oci_with_additional_gids(spec, (const int64_t[]){100, 8, 1}, 3, &err), &err);
    assert_ints(at(spec, "process/user/additionalGids"), (const int64_t[]){1, 8, 50, 100}, 4);
    assert_ok(berth_oci_with_additional_gids(spec, NULL, 0, &err), &err);
    assert_int_equal(json_array_size(at(spec, "process/user/additionalGids")), 4);
    assert_int_equal(berth_oci_with_additional_gids(spec, (const int64_t[]){-1}, 1, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    json_decref(spec);
}

/* ---- security ---- */

static void caps_are(json_t *spec, const char *const *want)
{
    assert_strv_json(at(spec, "process/capabilities/bounding"), want);
    assert_strv_json(at(spec, "process/capabilities/effective"), want);
    assert_strv_json(at(spec, "process/capabilities/permitted"), want);
}

static void test_with_capabilities_add_drop(void **state)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec(), *cur, *b;

    (void)state;
    json_object_set_new(at(spec, "process/capabilities"), "ambient", json_pack("[s]", "CAP_CHOWN"));
    assert_ok(berth_oci_with_capabilities(
                  spec, STRV("net_admin", "CAP_SYS_TIME", "CHOWN"),
                  STRV("chown", "KILL", "AUDIT_WRITE", "MKNOD", "NET_RAW", "SETFCAP", "SETPCAP",
                       "NET_BIND_SERVICE", "SYS_CHROOT", "SETGID", "SETUID", "FOWNER", "FSETID"),
                  &err),
              &err);
    caps_are(spec, STRV("CAP_DAC_OVERRIDE", "CAP_NET_ADMIN", "CAP_SYS_TIME"));
    assert_null(at(spec, "process/capabilities/ambient"));

    /* drop ALL then add: only the added one. */
    assert_ok(berth_oci_with_capabilities(spec, STRV("sys_admin"), STRV("all"), &err), &err);
    caps_are(spec, STRV("CAP_SYS_ADMIN"));
    /* Dropping everything leaves no sets (Go's nil slices are omitted). */
    assert_ok(berth_oci_with_capabilities(spec, NULL, STRV("ALL"), &err), &err);
    assert_null(at(spec, "process/capabilities/bounding"));
    assert_null(at(spec, "process/capabilities/permitted"));

    /* add ALL then drop one: what this process holds minus that one. */
    cur = oci_current_caps(&err);
    assert_non_null(cur);
    assert_ok(berth_oci_with_capabilities(spec, STRV("ALL"), STRV("CAP_CHOWN"), &err), &err);
    b = at(spec, "process/capabilities/bounding");
    assert_false(strv_json_has(b, "CAP_CHOWN"));
    assert_int_equal(json_array_size(b),
                     json_array_size(cur) - (strv_json_has(cur, "CAP_CHOWN") ? 1 : 0));
    json_decref(cur);

    assert_int_equal(berth_oci_with_capabilities(spec, STRV("CAP_BOGUS"), NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_with_capabilities(spec, NULL, STRV("nope"), &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    json_decref(spec);
}

static void test_with_privileged(void **state)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec(), *cur, *m, *d;
    size_t i;
    bool null_dev = false;

    (void)state;
    assert_ok(berth_oci_with_seccomp_default(spec, &err), &err);
    json_object_set_new(at(spec, "process"), "apparmorProfile", json_string("p"));
    assert_ok(berth_oci_with_mount(spec,
                                   &(struct berth_oci_mount){.dst = "/sys/fs/cgroup",
                                                             .type = "cgroup",
                                                             .src = "cgroup",
                                                             .options = STRV("nosuid", "ro")},
                                   &err),
              &err);
    assert_ok(berth_oci_with_privileged(spec, &err), &err);
    cur = oci_current_caps(&err);
    assert_true(json_equal(cur, at(spec, "process/capabilities/bounding")));
    assert_true(json_equal(cur, at(spec, "process/capabilities/permitted")));
    json_decref(cur);
    assert_null(at(spec, "linux/maskedPaths"));
    assert_null(at(spec, "linux/readonlyPaths"));
    assert_null(at(spec, "linux/seccomp"));
    assert_null(at(spec, "process/apparmorProfile"));
    json_array_foreach(at(spec, "mounts"), i, m)
    {
        const char *t = json_string_value(at(m, "type"));
        if (strcmp(t, "sysfs") == 0 || strcmp(t, "cgroup") == 0)
            assert_false(strv_json_has(at(m, "options"), "ro"));
    }
    assert_int_equal(json_array_size(at(spec, "linux/resources/devices")), 1);
    assert_true(json_is_true(at(json_array_get(at(spec, "linux/resources/devices"), 0), "allow")));
    json_array_foreach(at(spec, "linux/devices"), i, d)
    {
        if (strcmp(json_string_value(at(d, "path")), "/dev/null") == 0)
            null_dev = true;
    }
    assert_true(null_dev);
    json_decref(spec);
}

static void test_masked_readonly_nnp_root(void **state)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec();

    (void)state;
    assert_ok(berth_oci_with_masked_paths(spec, STRV("/proc/x"), &err), &err);
    assert_strv_json(at(spec, "linux/maskedPaths"), STRV("/proc/x"));
    assert_ok(berth_oci_with_masked_paths(spec, NULL, &err), &err);
    assert_null(at(spec, "linux/maskedPaths"));
    assert_ok(berth_oci_with_readonly_paths(spec, STRV(NULL), &err), &err);
    assert_null(at(spec, "linux/readonlyPaths"));
    assert_ok(berth_oci_with_readonly_paths(spec, STRV("/a", "/b"), &err), &err);
    assert_strv_json(at(spec, "linux/readonlyPaths"), STRV("/a", "/b"));

    assert_ok(berth_oci_with_no_new_privs(spec, false, &err), &err);
    assert_null(at(spec, "process/noNewPrivileges"));
    assert_ok(berth_oci_with_no_new_privs(spec, true, &err), &err);
    assert_true(json_is_true(at(spec, "process/noNewPrivileges")));

    assert_ok(berth_oci_with_readonly_rootfs(spec, true, &err), &err);
    assert_true(json_is_true(at(spec, "root/readonly")));
    assert_ok(berth_oci_with_readonly_rootfs(spec, false, &err), &err);
    assert_null(at(spec, "root/readonly"));
    assert_ok(berth_oci_with_root_path(spec, "/abs/rootfs", &err), &err);
    assert_string_equal(json_string_value(at(spec, "root/path")), "/abs/rootfs");
    assert_int_equal(berth_oci_with_root_path(spec, "", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);

    assert_ok(berth_oci_with_rlimits_cleared(spec, &err), &err);
    assert_null(at(spec, "process/rlimits"));
    json_object_set_new(at(spec, "process"), "apparmorProfile", json_string("p"));
    assert_ok(berth_oci_without_apparmor(spec, &err), &err);
    assert_null(at(spec, "process/apparmorProfile"));
    json_decref(spec);
}

static void test_seccomp_default_and_unconfined(void **state)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec();

    (void)state;
    assert_ok(berth_oci_with_seccomp_default(spec, &err), &err);
    assert_string_equal(json_string_value(at(spec, "linux/seccomp/defaultAction")),
                        "SCMP_ACT_ERRNO");
    assert_ok(berth_oci_with_seccomp_unconfined(spec, &err), &err);
    assert_null(at(spec, "linux/seccomp"));
    json_decref(spec);
}

static void test_seccomp_file(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *good = berth_strdup_printf("%s/good.json", env->dir);
    _cleanup_free_ char *dir = berth_strdup_printf("%s", env->dir);
    struct berth_err *err = NULL;
    json_t *spec = new_spec(), *sc;
    static const char *const bad[] = {
        "not json",
        "[1]",
        "{\"architectures\":[\"SCMP_ARCH_X86_64\"]}", /* no defaultAction */
        "{\"defaultAction\":1}",                      /* mistyped */
        "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":\"x\"}]}",
        "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"args\":[{\"index\":-1}]}]}",
    };

    write_file(env->dir, "good.json",
               "{\"syscalls\":[{\"action\":\"SCMP_ACT_ERRNO\",\"names\":[\"mkdir\"],"
               "\"comment\":\"x\",\"args\":[{\"op\":\"SCMP_CMP_EQ\",\"value\":1,\"index\":0}]}],"
               "\"defaultAction\":\"SCMP_ACT_ALLOW\",\"archMap\":[],"
               "\"architectures\":[\"SCMP_ARCH_X86_64\"],\"flags\":null}");
    assert_ok(berth_oci_with_seccomp_file(spec, good, &err), &err);
    sc = at(spec, "linux/seccomp");
    /* Unknown fields dropped, struct order, null = unset, as Go decodes into LinuxSeccomp. */
    assert_keys(sc, STRV("defaultAction", "architectures", "syscalls"));
    assert_keys(json_array_get(at(sc, "syscalls"), 0), STRV("names", "action", "args"));
    assert_keys(json_array_get(at(json_array_get(at(sc, "syscalls"), 0), "args"), 0),
                STRV("index", "value", "op"));

    for (size_t i = 0; i < BERTH_N(bad); i++) {
        write_file(env->dir, "bad.json", bad[i]);
        _cleanup_free_ char *p = berth_strdup_printf("%s/bad.json", env->dir);
        assert_int_equal(berth_oci_with_seccomp_file(spec, p, &err), -1);
        assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    }
    {
        _cleanup_free_ char *p = berth_strdup_printf("%s/missing.json", env->dir);
        assert_int_equal(berth_oci_with_seccomp_file(spec, p, &err), -1);
        assert_err_code(err, BERTH_E_NOT_FOUND);
    }
    assert_int_equal(berth_oci_with_seccomp_file(spec, dir, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    /* The good profile stays after the failures. */
    assert_string_equal(json_string_value(at(spec, "linux/seccomp/defaultAction")),
                        "SCMP_ACT_ALLOW");
    json_decref(spec);
}

/* ---- top-level maps, cgroups, oom ---- */

static void test_annotations_and_sysctls_merge_sorted(void **state)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec();
    struct berth_labels a = {0};

    (void)state;
    berth_labels_set(&a, "m", "1");
    berth_labels_set(&a, "z", "2");
    assert_ok(berth_oci_with_annotations(spec, &a, &err), &err);
    berth_labels_clear(&a);
    berth_labels_set(&a, "a", "3");
    berth_labels_set(&a, "m", "4");
    assert_ok(berth_oci_with_annotations(spec, &a, &err), &err);
    assert_keys(at(spec, "annotations"), STRV("a", "m", "z"));
    assert_string_equal(json_string_value(at(spec, "annotations/m")), "4");
    assert_ok(berth_oci_with_sysctls(spec, &a, &err), &err);
    assert_keys(at(spec, "linux/sysctl"), STRV("a", "m"));
    berth_labels_clear(&a);
    assert_ok(berth_oci_with_annotations(spec, &a, &err), &err); /* empty: no-op */
    assert_ok(berth_oci_with_sysctls(spec, NULL, &err), &err);
    json_decref(spec);
}

static void test_cgroups_path_and_oom(void **state)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec();

    (void)state;
    assert_ok(berth_oci_with_cgroups_path(spec, "/k8s.io/abc", &err), &err);
    assert_string_equal(json_string_value(at(spec, "linux/cgroupsPath")), "/k8s.io/abc");
    assert_ok(berth_oci_with_cgroups_path(spec, NULL, &err), &err);
    assert_null(at(spec, "linux/cgroupsPath"));
    assert_ok(berth_oci_with_oom_score_adj(spec, -998, &err), &err);
    assert_int_equal(json_integer_value(at(spec, "process/oomScoreAdj")), -998);
    assert_int_equal(berth_oci_with_oom_score_adj(spec, 1001, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    json_decref(spec);
}

/* ---- mounts ---- */

static void test_with_mount_replaces_same_destination(void **state)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec(), *m;
    struct berth_oci_mount shm = {
        .dst = "/dev//shm/", .src = "/host/shm", .type = "bind", .options = STRV("rbind", "ro")};

    (void)state;
    assert_ok(berth_oci_with_mount(spec, &shm, &err), &err);
    assert_int_equal(json_array_size(at(spec, "mounts")), 7);
    m = json_array_get(at(spec, "mounts"), 3); /* where the default /dev/shm was */
    assert_string_equal(json_string_value(at(m, "source")), "/host/shm");
    assert_keys(m, STRV("destination", "type", "source", "options"));
    assert_ok(berth_oci_with_mount(spec, &(struct berth_oci_mount){.dst = "/data"}, &err), &err);
    assert_int_equal(json_array_size(at(spec, "mounts")), 8);
    assert_keys(json_array_get(at(spec, "mounts"), 7), STRV("destination"));

    assert_ok(berth_oci_without_mount(spec, "/run", &err), &err);
    assert_ok(berth_oci_without_mount(spec, "/not/there", &err), &err);
    assert_int_equal(json_array_size(at(spec, "mounts")), 7);
    assert_int_equal(berth_oci_with_mount(spec, &(struct berth_oci_mount){.dst = "rel"}, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_without_mount(spec, "", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    json_decref(spec);
}

static void test_path_clean_like_go(void **state)
{
    static const char *const cases[][2] = {
        {"/", "/"},      {"//a//b/", "/a/b"},        {"/a/./b/../c", "/a/c"},
        {"/../..", "/"}, {"a/../../b", "../b"},      {"", "."},
        {"./", "."},     {"/dev/shm/.", "/dev/shm"},
    };

    (void)state;
    for (size_t i = 0; i < BERTH_N(cases); i++) {
        _cleanup_free_ char *c = oci_path_clean(cases[i][0]);
        assert_string_equal(c, cases[i][1]);
    }
}

static void test_with_bind_private(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *target = berth_strdup_printf("%s/data", env->dir);
    _cleanup_free_ char *link = berth_strdup_printf("%s/link", env->dir);
    _cleanup_free_ char *real = NULL;
    struct berth_err *err = NULL;
    json_t *spec = new_spec(), *m;
    struct berth_oci_bind b = {.host_path = link, .container_path = "/data", .readonly = true};

    assert_int_equal(mkdir(target, 0755), 0);
    assert_int_equal(symlink(target, link), 0);
    real = realpath(target, NULL);
    assert_ok(berth_oci_with_bind(spec, &b, &err), &err);
    m = json_array_get(at(spec, "mounts"), 7);
    assert_string_equal(json_string_value(at(m, "source")), real);
    assert_string_equal(json_string_value(at(m, "type")), "bind");
    assert_strv_json(at(m, "options"), STRV("rbind", "rprivate", "ro"));
    assert_null(at(spec, "linux/rootfsPropagation"));
    b.readonly = false;
    assert_ok(berth_oci_with_bind(spec, &b, &err), &err);
    assert_int_equal(json_array_size(at(spec, "mounts")), 8);
    assert_strv_json(at(json_array_get(at(spec, "mounts"), 7), "options"),
                     STRV("rbind", "rprivate", "rw"));

    /* A /dev bind replaces the default /dev and drops what was mounted under it. */
    b.container_path = "/dev";
    assert_ok(berth_oci_with_bind(spec, &b, &err), &err);
    assert_int_equal(json_array_size(at(spec, "mounts")), 5);
    assert_string_equal(json_string_value(at(json_array_get(at(spec, "mounts"), 1), "source")),
                        real);

    b.container_path = "/x";
    b.propagation = 7;
    assert_int_equal(berth_oci_with_bind(spec, &b, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    b.propagation = 0;
    b.container_path = "x";
    assert_int_equal(berth_oci_with_bind(spec, &b, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    b.container_path = "/x";
    b.host_path = "/definitely/not/here";
    assert_int_equal(berth_oci_with_bind(spec, &b, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    json_decref(spec);
}

static void test_mount_lookup_mountinfo(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *mi = berth_strdup_printf("%s/mountinfo", env->dir);
    struct berth_err *err = NULL;
    char *mp = NULL, *opt = NULL;

    write_file(env->dir, "mountinfo",
               "21 1 0:20 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
               "22 21 0:21 / /var/lib rw - tmpfs tmpfs rw\n"
               "23 22 0:22 / /var/lib rw shared:5 master:2 - tmpfs tmpfs rw\n"
               "24 21 0:23 / /with\\040space rw master:9 - tmpfs tmpfs rw\n"
               "garbage line\n");
    assert_ok(oci_mount_lookup(mi, "/var/lib/x/y", &mp, &opt, &err), &err);
    assert_string_equal(mp, "/var/lib");
    assert_string_equal(opt, "shared:5 master:2"); /* the later of two at one mount point */
    free(mp);
    free(opt);
    /* A path prefix, not a string prefix. */
    assert_ok(oci_mount_lookup(mi, "/var/lib2", &mp, &opt, &err), &err);
    assert_string_equal(mp, "/");
    assert_string_equal(opt, "shared:1");
    free(mp);
    free(opt);
    assert_ok(oci_mount_lookup(mi, "/with space/a", &mp, &opt, &err), &err);
    assert_string_equal(mp, "/with space");
    assert_string_equal(opt, "master:9");
    free(mp);
    free(opt);
    write_file(env->dir, "mountinfo", "22 21 0:21 / /var rw - tmpfs tmpfs rw\n");
    assert_int_equal(oci_mount_lookup(mi, "/etc", &mp, &opt, &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_null(mp);
}

/* Mounts tmpfs at dir with the given propagation flag (in this test's own mount namespace). */
static void mount_tmpfs(const char *dir, unsigned long prop)
{
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(mount("tmpfs", dir, "tmpfs", 0, "size=64k"), 0);
    assert_int_equal(mount(NULL, dir, NULL, prop, NULL), 0);
}

static void test_with_bind_propagation_checks_host_mount(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *shared = berth_strdup_printf("%s/shared", env->dir);
    _cleanup_free_ char *priv = berth_strdup_printf("%s/private", env->dir);
    _cleanup_free_ char *slave = berth_strdup_printf("%s/slave", env->dir);
    struct berth_err *err = NULL;
    json_t *spec;
    struct berth_oci_bind b = {.container_path = "/m"};

    /* Needs CAP_SYS_ADMIN for a private mount namespace; skipped where that is missing. */
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        skip();
    mount_tmpfs(shared, MS_SHARED);
    mount_tmpfs(priv, MS_PRIVATE);
    assert_int_equal(mkdir(slave, 0755), 0);
    assert_int_equal(mount(shared, slave, NULL, MS_BIND, NULL), 0);
    assert_int_equal(mount(NULL, slave, NULL, MS_SLAVE, NULL), 0);

    spec = new_spec();
    b.host_path = priv;
    for (int p = 1; p <= 2; p++) {
        b.propagation = p;
        assert_int_equal(berth_oci_with_bind(spec, &b, &err), -1);
        assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    }
    b.host_path = slave;
    b.propagation = BERTH_OCI_PROPAGATION_BIDIRECTIONAL;
    assert_int_equal(berth_oci_with_bind(spec, &b, &err), -1);
    assert_err_code(err, BERTH_E_FAILED_PRECONDITION);
    b.propagation = BERTH_OCI_PROPAGATION_HOST_TO_CONTAINER;
    assert_ok(berth_oci_with_bind(spec, &b, &err), &err);
    assert_string_equal(json_string_value(at(spec, "linux/rootfsPropagation")), "rslave");
    assert_strv_json(at(json_array_get(at(spec, "mounts"), 7), "options"),
                     STRV("rbind", "rslave", "rw"));
    b.host_path = shared;
    b.propagation = BERTH_OCI_PROPAGATION_BIDIRECTIONAL;
    assert_ok(berth_oci_with_bind(spec, &b, &err), &err);
    assert_string_equal(json_string_value(at(spec, "linux/rootfsPropagation")), "rshared");
    /* rslave afterwards keeps rshared. */
    b.propagation = BERTH_OCI_PROPAGATION_HOST_TO_CONTAINER;
    assert_ok(berth_oci_with_bind(spec, &b, &err), &err);
    assert_string_equal(json_string_value(at(spec, "linux/rootfsPropagation")), "rshared");
    json_decref(spec);
    assert_int_equal(umount2(slave, MNT_DETACH), 0);
    assert_int_equal(umount2(priv, MNT_DETACH), 0);
    assert_int_equal(umount2(shared, MNT_DETACH), 0);
}

/* ---- namespaces ---- */

static void test_namespaces(void **state)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec(), *ns;

    (void)state;
    assert_ok(berth_oci_with_namespace(spec, "network", "/var/run/netns/cni-1", &err), &err);
    assert_ok(berth_oci_with_namespace(spec, "cgroup", NULL, &err), &err);
    ns = at(spec, "linux/namespaces");
    assert_int_equal(json_array_size(ns), 6);
    assert_keys(json_array_get(ns, 4), STRV("type", "path"));
    assert_string_equal(json_string_value(at(json_array_get(ns, 4), "path")),
                        "/var/run/netns/cni-1");
    assert_string_equal(json_string_value(at(json_array_get(ns, 5), "type")), "cgroup");
    assert_ok(berth_oci_with_namespace(spec, "network", "", &err), &err);
    assert_keys(json_array_get(ns, 4), STRV("type"));
    assert_ok(berth_oci_without_namespace(spec, "pid", &err), &err);
    assert_ok(berth_oci_without_namespace(spec, "user", &err), &err);
    assert_int_equal(json_array_size(ns), 5);
    assert_string_equal(json_string_value(at(json_array_get(ns, 0), "type")), "ipc");
    assert_int_equal(berth_oci_with_namespace(spec, "bogus", NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_without_namespace(spec, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    json_decref(spec);
}

/* ---- resources ---- */

static void test_with_resources(void **state)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec(), *res, *live;
    struct berth_labels unified = {0};
    struct berth_oci_hugepage_limit hp[] = {{"2MB", 1 << 21}};
    struct berth_oci_resources r = {.cpu_period = 100000,
                                    .cpu_quota = 50000,
                                    .cpu_shares = 512,
                                    .memory_limit = 1 << 26,
                                    .oom_score_adj = 100,
                                    .cpuset_cpus = "0-1",
                                    .cpuset_mems = "0",
                                    .hugepages = hp,
                                    .n_hugepages = 1,
                                    .unified = &unified};
    bool swap = berth_oci_cgroup_swap_available();
    bool hugetlb = berth_oci_cgroup_hugetlb_available();

    (void)state;
    berth_labels_set(&unified, "memory.high", "100");
    berth_labels_set(&unified, "cpu.weight", "5");
    assert_ok(berth_oci_with_resources(spec, &r, &err), &err);
    res = at(spec, "linux/resources");
    assert_keys(res, hugetlb ? STRV("devices", "memory", "cpu", "hugepageLimits", "unified")
                             : STRV("devices", "memory", "cpu", "unified"));
    assert_keys(at(res, "cpu"), STRV("shares", "quota", "period", "cpus", "mems"));
    assert_int_equal(json_integer_value(at(res, "cpu/shares")), 512);
    assert_int_equal(json_integer_value(at(res, "cpu/quota")), 50000);
    assert_int_equal(json_integer_value(at(res, "cpu/period")), 100000);
    assert_string_equal(json_string_value(at(res, "cpu/cpus")), "0-1");
    assert_int_equal(json_integer_value(at(res, "memory/limit")), 1 << 26);
    if (swap)
        assert_int_equal(json_integer_value(at(res, "memory/swap")), 1 << 26);
    else
        assert_null(at(res, "memory/swap"));
    assert_keys(at(res, "unified"), STRV("cpu.weight", "memory.high"));
    assert_int_equal(json_integer_value(at(spec, "process/oomScoreAdj")), 100);

    /* The live-update object carries the same, without devices. */
    live = berth_oci_resources_json(&r, &err);
    assert_non_null(live);
    assert_null(json_object_get(live, "devices"));
    assert_true(json_equal(at(live, "cpu"), at(res, "cpu")));
    assert_true(json_equal(at(live, "memory"), at(res, "memory")));
    json_decref(live);

    /* An explicit swap limit wins; zero fields leave empty cpu/memory as containerd does. */
    json_decref(spec);
    spec = new_spec();
    r = (struct berth_oci_resources){
        .memory_limit = 100, .memory_swap_limit = 200, .oom_score_adj = INT64_MIN};
    assert_ok(berth_oci_with_resources(spec, &r, &err), &err);
    if (swap)
        assert_int_equal(json_integer_value(at(spec, "linux/resources/memory/swap")), 200);
    assert_keys(at(spec, "linux/resources/cpu"), STRV(NULL));
    assert_null(at(spec, "process/oomScoreAdj"));

    r = (struct berth_oci_resources){.cpu_period = -1, .oom_score_adj = INT64_MIN};
    assert_int_equal(berth_oci_with_resources(spec, &r, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    r = (struct berth_oci_resources){.oom_score_adj = -1001};
    assert_null(berth_oci_resources_json(&r, &err));
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_with_resources(spec, NULL, &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    berth_labels_clear(&unified);
    json_decref(spec);
}

/* ---- devices ---- */

static void test_with_device_node(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *link = berth_strdup_printf("%s/nulllink", env->dir);
    _cleanup_free_ char *file = berth_strdup_printf("%s/file", env->dir);
    struct berth_err *err = NULL;
    json_t *spec = new_spec(), *d, *rule;
    struct stat st;

    assert_int_equal(stat("/dev/null", &st), 0);
    assert_int_equal(symlink("/dev/null", link), 0);
    write_file(env->dir, "file", "x");
    assert_ok(berth_oci_with_device(spec, link, "/dev/xnull", "rw", &err), &err);
    d = json_array_get(at(spec, "linux/devices"), 0);
    assert_keys(d, STRV("path", "type", "major", "minor", "fileMode", "uid", "gid"));
    assert_string_equal(json_string_value(at(d, "path")), "/dev/xnull");
    assert_string_equal(json_string_value(at(d, "type")), "c");
    assert_int_equal(json_integer_value(at(d, "major")), major(st.st_rdev));
    assert_int_equal(json_integer_value(at(d, "minor")), minor(st.st_rdev));
    assert_int_equal(json_integer_value(at(d, "fileMode")), st.st_mode & 07777);
    rule = json_array_get(at(spec, "linux/resources/devices"), 1);
    assert_keys(rule, STRV("allow", "type", "major", "minor", "access"));
    assert_true(json_is_true(at(rule, "allow")));
    assert_string_equal(json_string_value(at(rule, "access")), "rw");
    /* No container path: the resolved host path. */
    assert_ok(berth_oci_with_device(spec, link, NULL, NULL, &err), &err);
    d = json_array_get(at(spec, "linux/devices"), 1);
    assert_string_equal(json_string_value(at(d, "path")), "/dev/null");
    assert_string_equal(
        json_string_value(at(json_array_get(at(spec, "linux/resources/devices"), 2), "access")),
        "rwm");

    assert_int_equal(berth_oci_with_device(spec, "/no/such/dev", NULL, "rw", &err), -1);
    assert_err_code(err, BERTH_E_NOT_FOUND);
    assert_int_equal(berth_oci_with_device(spec, file, NULL, "rw", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_with_device(spec, "/dev/null", NULL, "rwx", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_with_device(spec, "/dev/null", NULL, "rr", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(berth_oci_with_device(spec, "/dev/null", "rel", "r", &err), -1);
    assert_err_code(err, BERTH_E_INVALID_ARGUMENT);
    assert_int_equal(json_array_size(at(spec, "linux/devices")), 2);
    json_decref(spec);
}

static void test_with_device_directory(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *dir = berth_strdup_printf("%s/devs", env->dir);
    _cleanup_free_ char *sub = berth_strdup_printf("%s/devs/sub", env->dir);
    _cleanup_free_ char *pts = berth_strdup_printf("%s/devs/pts", env->dir);
    struct berth_err *err = NULL;
    json_t *spec = new_spec(), *devs;
    static const char *const nodes[] = {"zero", "sub/null", "pts/0", "console"};
    static const dev_t nums[][2] = {{1, 5}, {1, 3}, {136, 0}, {5, 1}};

    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(mkdir(pts, 0755), 0);
    for (size_t i = 0; i < BERTH_N(nodes); i++) {
        _cleanup_free_ char *p = berth_strdup_printf("%s/%s", dir, nodes[i]);
        if (mknod(p, S_IFCHR | 0600, makedev(nums[i][0], nums[i][1])) < 0) {
            json_decref(spec);
            skip(); /* no CAP_MKNOD here */
        }
    }
    write_file(dir, "regular", "x");
    {
        _cleanup_free_ char *l = berth_strdup_printf("%s/link", dir);
        assert_int_equal(symlink("/dev/null", l), 0);
    }
    assert_ok(berth_oci_with_device(spec, dir, "/cdev", "r", &err), &err);
    devs = at(spec, "linux/devices");
    /* Sorted walk; pts/ and console skipped, the regular file and the symlink ignored. */
    assert_int_equal(json_array_size(devs), 2);
    assert_string_equal(json_string_value(at(json_array_get(devs, 0), "path")), "/cdev/sub/null");
    assert_string_equal(json_string_value(at(json_array_get(devs, 1), "path")), "/cdev/zero");
    assert_int_equal(json_integer_value(at(json_array_get(devs, 1), "minor")), 5);
    assert_int_equal(json_array_size(at(spec, "linux/resources/devices")), 3);
    json_decref(spec);

    /* Without a container path the (resolved) host paths are kept. */
    spec = new_spec();
    assert_ok(berth_oci_with_device(spec, sub, NULL, "rwm", &err), &err);
    {
        _cleanup_free_ char *real = realpath(sub, NULL);
        _cleanup_free_ char *want = berth_strdup_printf("%s/null", real);
        assert_string_equal(
            json_string_value(at(json_array_get(at(spec, "linux/devices"), 0), "path")), want);
    }
    json_decref(spec);
}

static void test_with_host_devices_and_all_allowed(void **state)
{
    struct berth_err *err = NULL;
    json_t *spec = new_spec(), *d;
    size_t i;
    bool has_null = false;

    (void)state;
    assert_ok(berth_oci_with_host_devices(spec, &err), &err);
    json_array_foreach(at(spec, "linux/devices"), i, d)
    {
        const char *p = json_string_value(at(d, "path"));
        assert_true(berth_str_has_prefix(p, "/dev/"));
        assert_false(berth_str_has_prefix(p, "/dev/pts/"));
        has_null |= strcmp(p, "/dev/null") == 0;
    }
    assert_true(has_null);
    /* Host devices add no cgroup rules: still deny-all. */
    assert_int_equal(json_array_size(at(spec, "linux/resources/devices")), 1);
    assert_ok(berth_oci_with_all_devices_allowed(spec, &err), &err);
    d = json_array_get(at(spec, "linux/resources/devices"), 0);
    assert_true(json_is_true(at(d, "allow")));
    assert_string_equal(json_string_value(at(d, "access")), "rwm");
    assert_null(at(d, "type"));
    json_decref(spec);
}

/* ---- exec ---- */

static void test_process_json_is_a_new_reference(void **state)
{
    json_t *spec = new_spec(), *p, *empty = json_object();

    (void)state;
    p = berth_oci_process_json(spec);
    assert_ptr_equal(p, json_object_get(spec, "process"));
    json_decref(spec); /* p stays valid */
    assert_string_equal(json_string_value(at(p, "cwd")), "/");
    json_decref(p);
    assert_null(berth_oci_process_json(empty));
    json_decref(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_spec_is_ctr_default_without_env),
        cmocka_unit_test(test_options_keep_go_key_order),
        cmocka_unit_test(test_options_reject_a_non_object_spec),
        cmocka_unit_test(test_with_image_config_env_args_cwd),
        cmocka_unit_test(test_with_process_args_replaces),
        cmocka_unit_test(test_with_cri_args_kubelet_rules),
        cmocka_unit_test(test_with_env_replace_append_unset),
        cmocka_unit_test(test_with_cwd_hostname_tty),
        cmocka_unit_test_setup_teardown(test_with_user_resolves_in_rootfs, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_with_uid_gid, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test(test_with_additional_gids_merges_sorted),
        cmocka_unit_test(test_with_capabilities_add_drop),
        cmocka_unit_test(test_with_privileged),
        cmocka_unit_test(test_masked_readonly_nnp_root),
        cmocka_unit_test(test_seccomp_default_and_unconfined),
        cmocka_unit_test_setup_teardown(test_seccomp_file, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test(test_annotations_and_sysctls_merge_sorted),
        cmocka_unit_test(test_cgroups_path_and_oom),
        cmocka_unit_test(test_with_mount_replaces_same_destination),
        cmocka_unit_test(test_path_clean_like_go),
        cmocka_unit_test_setup_teardown(test_with_bind_private, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_mount_lookup_mountinfo, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test(test_namespaces),
        cmocka_unit_test(test_with_resources),
        cmocka_unit_test_setup_teardown(test_with_device_node, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_with_device_directory, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test(test_with_host_devices_and_all_allowed),
        cmocka_unit_test(test_process_json_is_a_new_reference),
        /* Last: it moves the process into its own mount namespace. */
        cmocka_unit_test_setup_teardown(test_with_bind_propagation_checks_host_mount,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
