/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for runtime/oci/spec.c (and the user resolution in runtime/oci/user.c it drives). */
#include "tests/unit/helpers/berth_test.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/manifest.h"
#include "lib/util.h"
#include "runtime/oci/spec.h"

/* containerd 1.6.20's spec for `ctr run --rootfs DIR c1 echo hi` in namespace "default"
 * (root.path rewritten to the default), plus the default PATH env. */
static const char expected_default[] =
    "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},"
    "\"args\":[\"echo\",\"hi\"],"
    "\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],"
    "\"cwd\":\"/\",\"capabilities\":{"
    "\"bounding\":[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_FOWNER\","
    "\"CAP_MKNOD\",\"CAP_NET_RAW\",\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETFCAP\","
    "\"CAP_SETPCAP\",\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_KILL\","
    "\"CAP_AUDIT_WRITE\"],"
    "\"effective\":[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_FOWNER\","
    "\"CAP_MKNOD\",\"CAP_NET_RAW\",\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETFCAP\","
    "\"CAP_SETPCAP\",\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_KILL\","
    "\"CAP_AUDIT_WRITE\"],"
    "\"permitted\":[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_FOWNER\","
    "\"CAP_MKNOD\",\"CAP_NET_RAW\",\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETFCAP\","
    "\"CAP_SETPCAP\",\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_KILL\","
    "\"CAP_AUDIT_WRITE\"]},"
    "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],"
    "\"noNewPrivileges\":true},"
    "\"root\":{\"path\":\"rootfs\"},"
    "\"mounts\":["
    "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\","
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
    "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
    "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
    "\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\","
    "\"gid=5\"]},"
    "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\","
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
    "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
    "{\"destination\":\"/run\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
    "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]}],"
    "\"linux\":{\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
    "\"cgroupsPath\":\"/default/c1\","
    "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},"
    "{\"type\":\"mount\"},{\"type\":\"network\"}],"
    "\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\","
    "\"/proc/latency_stats\",\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\","
    "\"/sys/firmware\",\"/proc/scsi\"],"
    "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\","
    "\"/proc/sysrq-trigger\"]}}";

static const char *const echo_hi[] = {"echo", "hi", NULL};

static json_t *build_ok(const struct berth_oci_opts *o)
{
    struct berth_err *err = NULL;
    json_t *spec = NULL;

    assert_ok(berth_oci_spec_build(o, &spec, &err), &err);
    assert_non_null(spec);
    return spec;
}

static void build_fails(const struct berth_oci_opts *o, enum berth_errc code)
{
    struct berth_err *err = NULL;
    json_t *spec = (json_t *)1;

    assert_int_equal(berth_oci_spec_build(o, &spec, &err), -1);
    assert_null(spec);
    assert_err_code(err, code);
}

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

static void write_file(const char *dir, const char *rel, const char *content)
{
    _cleanup_free_ char *path = berth_strdup_printf("%s/%s", dir, rel);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

/* A rootfs with /etc/passwd and /etc/group; returns its path (owned). */
static char *make_rootfs(const char *base)
{
    char *root = berth_strdup_printf("%s/rootfs", base);
    _cleanup_free_ char *etc = berth_strdup_printf("%s/etc", root);

    assert_int_equal(mkdir(root, 0755), 0);
    assert_int_equal(mkdir(etc, 0755), 0);
    write_file(root, "etc/passwd",
               "# comment\n"
               "root:x:0:0:root:/root:/bin/sh\n"
               "\n"
               "www:x:33:44:www:/var/www:/bin/sh\n"
               "broken:x:notanumber:1::/:/bin/sh\n");
    write_file(root, "etc/group",
               "root:x:0:\n"
               "www:x:44:www\n"
               "staff:x:50:other,www\n"
               "mail:x:8:www\n"
               "wheel:x:10:root\n");
    return root;
}

static void test_spec_build_default_matches_containerd(void **state)
{
    struct berth_oci_opts o = {.ns = "default", .id = "c1", .args = echo_hi};
    json_error_t jerr;
    json_t *want = json_loads(expected_default, 0, &jerr);
    json_t *spec = build_ok(&o);
    static const char *const top[] = {"ociVersion", "process", "root", "mounts", "linux"};
    const char *key;
    json_t *v;
    size_t i = 0;

    (void)state;
    assert_non_null(want);
    if (!json_equal(spec, want)) {
        char *s = berth_oci_spec_dump(spec);
        fail_msg("spec differs from containerd's default:\n%s", s);
    }
    /* Go struct order, so dumps diff cleanly against containerd's. */
    json_object_foreach(spec, key, v)
    {
        assert_true(i < BERTH_N(top));
        assert_string_equal(key, top[i++]);
    }
    assert_null(json_object_get(at(spec, "process"), "terminal"));
    assert_null(json_object_get(spec, "hostname"));
    json_decref(want);
    json_decref(spec);
}

static void test_spec_build_without_args_omits_them(void **state)
{
    struct berth_oci_opts o = {.ns = "ns1", .id = "x"};
    json_t *spec = build_ok(&o);

    (void)state;
    assert_null(at(spec, "process/args"));
    assert_string_equal(json_string_value(at(spec, "linux/cgroupsPath")), "/ns1/x");
    json_decref(spec);
}

static void test_spec_build_missing_ns_or_id_is_invalid(void **state)
{
    struct berth_oci_opts o = {.id = "x"};

    (void)state;
    build_fails(&o, BERTH_E_INVALID_ARGUMENT);
    o.ns = "default";
    o.id = "";
    build_fails(&o, BERTH_E_INVALID_ARGUMENT);
    build_fails(NULL, BERTH_E_INVALID_ARGUMENT);
}

static void test_spec_build_image_args_rule(void **state)
{
    char *ep[] = {"/entry", "-v", NULL};
    char *cmd[] = {"serve", "--port", "80", NULL};
    struct berth_image_config img = {.entrypoint = ep, .cmd = cmd};
    static const char *const user_args[] = {"debug", NULL};
    struct berth_oci_opts o = {.ns = "default", .id = "c", .image = &img};
    json_t *spec;

    (void)state;
    spec = build_ok(&o);
    assert_strv_json(at(spec, "process/args"),
                     (const char *const[]){"/entry", "-v", "serve", "--port", "80", NULL});
    json_decref(spec);
    /* Explicit args replace Cmd; the entrypoint stays. */
    o.args = user_args;
    spec = build_ok(&o);
    assert_strv_json(at(spec, "process/args"),
                     (const char *const[]){"/entry", "-v", "debug", NULL});
    json_decref(spec);
    img.entrypoint = NULL;
    spec = build_ok(&o);
    assert_strv_json(at(spec, "process/args"), (const char *const[]){"debug", NULL});
    json_decref(spec);
    o.args = NULL;
    spec = build_ok(&o);
    assert_strv_json(at(spec, "process/args"),
                     (const char *const[]){"serve", "--port", "80", NULL});
    json_decref(spec);
}

static void test_spec_build_env_merge(void **state)
{
    char *ienv[] = {"PATH=/img/bin", "A=1", "B=2", NULL};
    struct berth_image_config img = {.env = ienv};
    static const char *const uenv[] = {"A=9", "C=3", "B", NULL};
    static const char *const bad[] = {"=x", NULL};
    struct berth_oci_opts o = {.ns = "default", .id = "c", .image = &img, .env = uenv};
    json_t *spec;

    (void)state;
    spec = build_ok(&o);
    /* The user's values win, "B" alone unsets B, the image's order is kept. */
    assert_strv_json(at(spec, "process/env"),
                     (const char *const[]){"PATH=/img/bin", "A=9", "C=3", NULL});
    json_decref(spec);
    /* An image without env gets the default PATH. */
    img.env = NULL;
    o.env = NULL;
    o.tty = true;
    spec = build_ok(&o);
    assert_strv_json(
        at(spec, "process/env"),
        (const char *const[]){"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                              "TERM=xterm", NULL});
    assert_true(json_is_true(at(spec, "process/terminal")));
    assert_null(at(spec, "process/consoleSize")); /* size unknown: left to ResizePty */
    json_decref(spec);
    o.console_width = 111;
    o.console_height = 33;
    spec = build_ok(&o);
    assert_int_equal(json_integer_value(at(spec, "process/consoleSize/width")), 111);
    assert_int_equal(json_integer_value(at(spec, "process/consoleSize/height")), 33);
    json_decref(spec);
    o.env = bad;
    build_fails(&o, BERTH_E_INVALID_ARGUMENT);
}

static void test_spec_build_workdir(void **state)
{
    struct berth_image_config img = {.working_dir = "/srv"};
    struct berth_oci_opts o = {.ns = "default", .id = "c", .image = &img};
    json_t *spec;

    (void)state;
    spec = build_ok(&o);
    assert_string_equal(json_string_value(at(spec, "process/cwd")), "/srv");
    json_decref(spec);
    o.cwd = "/override";
    spec = build_ok(&o);
    assert_string_equal(json_string_value(at(spec, "process/cwd")), "/override");
    json_decref(spec);
    o.cwd = "relative";
    build_fails(&o, BERTH_E_INVALID_ARGUMENT);
}

/* Builds with `user` against rootfs and checks uid, gid and additionalGids (-1 ends). */
static void check_user(const char *rootfs, const char *user, int64_t uid, int64_t gid,
                       const int64_t *extra)
{
    struct berth_oci_opts o = {.ns = "default", .id = "c", .rootfs_dir = rootfs, .user = user};
    json_t *spec = build_ok(&o);
    json_t *add = at(spec, "process/user/additionalGids");
    size_t n = 0;

    assert_int_equal(json_integer_value(at(spec, "process/user/uid")), uid);
    assert_int_equal(json_integer_value(at(spec, "process/user/gid")), gid);
    for (; extra && extra[n] >= 0; n++)
        assert_int_equal(json_integer_value(json_array_get(add, n)), extra[n]);
    assert_int_equal(json_array_size(add), n);
    if (n == 0)
        assert_null(add);
    json_decref(spec);
}

static void test_spec_build_user_lookup(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *root = make_rootfs(env->dir);

    check_user(root, "www", 33, 44, (const int64_t[]){50, 8, -1});
    check_user(root, "33", 33, 44, (const int64_t[]){50, 8, -1});
    check_user(root, "www:staff", 33, 50, (const int64_t[]){50, 8, -1});
    check_user(root, "www:7", 33, 7, (const int64_t[]){50, 8, -1});
    check_user(root, "0:mail", 0, 8, (const int64_t[]){10, -1});
    check_user(root, "1000", 1000, 0, NULL); /* no passwd entry: gid 0 */
    check_user(root, "1000:1000", 1000, 1000, NULL);
    check_user(root, NULL, 0, 0, (const int64_t[]){10, -1}); /* root's groups */
}

static void test_spec_build_user_numeric_without_files(void **state)
{
    struct berth_test_env *env = *state;

    check_user(env->dir, "1000", 1000, 0, NULL);
    check_user(env->dir, "5:6", 5, 6, NULL);
    check_user(NULL, "7", 7, 0, NULL);
}

static void test_spec_build_user_errors(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *root = make_rootfs(env->dir);
    struct berth_oci_opts o = {.ns = "default", .id = "c", .rootfs_dir = root};

    o.user = "nobody";
    build_fails(&o, BERTH_E_NOT_FOUND); /* containerd: "no users found" */
    o.user = "www:nogroup";
    build_fails(&o, BERTH_E_NOT_FOUND);
    o.user = "nobody:0";
    build_fails(&o, BERTH_E_NOT_FOUND);
    o.user = "broken";
    build_fails(&o, BERTH_E_NOT_FOUND);
    o.user = "a:b:c";
    build_fails(&o, BERTH_E_INVALID_ARGUMENT);
    o.user = "99999999999";
    build_fails(&o, BERTH_E_NOT_FOUND); /* not an id, so a name nobody has */
    o.rootfs_dir = env->dir;            /* no etc/passwd at all */
    o.user = "www";
    build_fails(&o, BERTH_E_NOT_FOUND);
    o.rootfs_dir = NULL;
    build_fails(&o, BERTH_E_INVALID_ARGUMENT);
}

static void test_spec_build_user_lookup_stays_in_rootfs(void **state)
{
    struct berth_test_env *env = *state;
    _cleanup_free_ char *root = berth_strdup_printf("%s/rootfs", env->dir);
    _cleanup_free_ char *outside = berth_strdup_printf("%s/outside", env->dir);
    _cleanup_free_ char *link = berth_strdup_printf("%s/etc", root);
    struct berth_oci_opts o = {.ns = "default", .id = "c", .rootfs_dir = root, .user = "evil"};

    (void)state;
    assert_int_equal(mkdir(root, 0755), 0);
    assert_int_equal(mkdir(outside, 0755), 0);
    write_file(outside, "passwd", "evil:x:66:66::/:/bin/sh\n");
    /* Absolute and dot-dot symlinks both resolve inside the rootfs, where nothing exists. */
    assert_int_equal(symlink(outside, link), 0);
    build_fails(&o, BERTH_E_NOT_FOUND);
    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink("../../../../../../../../outside", link), 0);
    build_fails(&o, BERTH_E_NOT_FOUND);
    /* Sanity: a symlink that stays inside works. */
    assert_int_equal(unlink(link), 0);
    {
        _cleanup_free_ char *inner = berth_strdup_printf("%s/realetc", root);
        assert_int_equal(mkdir(inner, 0755), 0);
        write_file(inner, "passwd", "evil:x:66:67::/:/bin/sh\n");
        assert_int_equal(symlink("/realetc", link), 0);
    }
    check_user(root, "evil", 66, 67, NULL);
}

static void test_spec_build_net_host(void **state)
{
    struct berth_oci_opts o = {.ns = "default", .id = "c", .net_host = true};
    json_t *spec = build_ok(&o), *ns = at(spec, "linux/namespaces"), *m, *env;
    size_t i, n = json_array_size(at(spec, "mounts"));
    bool hostname_env = false;

    (void)state;
    assert_int_equal(json_array_size(ns), 4);
    json_array_foreach(ns, i, m)
    {
        assert_string_not_equal(json_string_value(at(m, "type")), "network");
    }
    assert_int_equal(n, 9);
    m = json_array_get(at(spec, "mounts"), 7);
    assert_string_equal(json_string_value(at(m, "destination")), "/etc/hosts");
    assert_string_equal(json_string_value(at(m, "type")), "bind");
    assert_string_equal(json_string_value(at(m, "source")), "/etc/hosts");
    assert_strv_json(at(m, "options"), (const char *const[]){"rbind", "ro", NULL});
    m = json_array_get(at(spec, "mounts"), 8);
    assert_string_equal(json_string_value(at(m, "destination")), "/etc/resolv.conf");
    assert_string_equal(json_string_value(at(m, "source")), "/etc/resolv.conf");
    json_array_foreach(at(spec, "process/env"), i, env)
    {
        if (strncmp(json_string_value(env), "HOSTNAME=", 9) == 0)
            hostname_env = true;
    }
    assert_true(hostname_env);
    json_decref(spec);
}

static void test_spec_build_privileged(void **state)
{
    struct berth_oci_opts o = {.ns = "default", .id = "c", .privileged = true, .seccomp = true};
    json_t *spec = build_ok(&o), *sys, *dev;
    unsigned long long mask = 0;
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");

    (void)state;
    assert_non_null(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "CapEff: %llx", &mask) == 1)
            break;
    fclose(f);
    assert_int_equal(json_array_size(at(spec, "process/capabilities/bounding")),
                     __builtin_popcountll(mask & ((1ULL << 41) - 1)));
    assert_true(json_equal(at(spec, "process/capabilities/bounding"),
                           at(spec, "process/capabilities/effective")));
    assert_null(at(spec, "linux/maskedPaths"));
    assert_null(at(spec, "linux/readonlyPaths"));
    assert_null(at(spec, "linux/seccomp"));
    dev = json_array_get(at(spec, "linux/resources/devices"), 0);
    assert_int_equal(json_array_size(at(spec, "linux/resources/devices")), 1);
    assert_true(json_is_true(at(dev, "allow")));
    assert_string_equal(json_string_value(at(dev, "access")), "rwm");
    sys = json_array_get(at(spec, "mounts"), 5);
    assert_string_equal(json_string_value(at(sys, "destination")), "/sys");
    assert_strv_json(at(sys, "options"),
                     (const char *const[]){"nosuid", "noexec", "nodev", "rw", NULL});
    json_decref(spec);
}

static void test_spec_build_resources_and_root(void **state)
{
    struct berth_oci_opts o = {.ns = "default",
                               .id = "c",
                               .cpus = 1.5,
                               .memory_limit = 1 << 20,
                               .readonly_rootfs = true,
                               .root_path = "/bundle/rootfs",
                               .hostname = "box",
                               .seccomp = true,
                               .default_devices = true};
    json_t *spec = build_ok(&o);

    (void)state;
    assert_int_equal(json_integer_value(at(spec, "linux/resources/cpu/quota")), 150000);
    assert_int_equal(json_integer_value(at(spec, "linux/resources/cpu/period")), 100000);
    assert_int_equal(json_integer_value(at(spec, "linux/resources/memory/limit")), 1 << 20);
    assert_true(json_is_true(at(spec, "root/readonly")));
    assert_string_equal(json_string_value(at(spec, "root/path")), "/bundle/rootfs");
    assert_string_equal(json_string_value(at(spec, "hostname")), "box");
    assert_true(json_is_object(at(spec, "linux/seccomp")));
    assert_int_equal(json_array_size(at(spec, "linux/resources/devices")), 10);
    json_decref(spec);
    o.cpus = -1;
    build_fails(&o, BERTH_E_INVALID_ARGUMENT);
    o.cpus = 0;
    o.memory_limit = -5;
    build_fails(&o, BERTH_E_INVALID_ARGUMENT);
}

static void test_spec_build_mounts_and_annotations(void **state)
{
    static const char *const mounts[] = {"type=bind,src=/tmp,dst=/mnt,options=rbind:ro",
                                         "type=tmpfs,destination=/scratch", NULL};
    static const char *const ann[] = {"a=b", "x=", NULL};
    struct berth_oci_opts o = {.ns = "default", .id = "c", .mounts = mounts, .annotations = ann};
    json_t *spec = build_ok(&o), *m;
    static const char *const bad_mounts[] = {
        "type=bind,src=/tmp",         /* no destination */
        "type=bind,src=/tmp,dst=rel", /* relative destination */
        "type=bind,bogus=1,dst=/mnt", /* unknown key */
        "type=bind,dst",              /* no '=' */
    };

    (void)state;
    m = json_array_get(at(spec, "mounts"), 7);
    assert_string_equal(json_string_value(at(m, "destination")), "/mnt");
    assert_string_equal(json_string_value(at(m, "type")), "bind");
    assert_string_equal(json_string_value(at(m, "source")), "/tmp");
    assert_strv_json(at(m, "options"), (const char *const[]){"rbind", "ro", NULL});
    m = json_array_get(at(spec, "mounts"), 8);
    assert_string_equal(json_string_value(at(m, "destination")), "/scratch");
    assert_null(at(m, "source"));
    assert_string_equal(json_string_value(at(spec, "annotations/a")), "b");
    assert_string_equal(json_string_value(at(spec, "annotations/x")), "");
    json_decref(spec);

    for (size_t i = 0; i < BERTH_N(bad_mounts); i++) {
        const char *one[] = {bad_mounts[i], NULL};
        o.mounts = one;
        o.annotations = NULL;
        build_fails(&o, BERTH_E_INVALID_ARGUMENT);
    }
    o.mounts = NULL;
    o.annotations = (const char *const[]){"novalue", NULL};
    build_fails(&o, BERTH_E_INVALID_ARGUMENT);
    o.annotations = (const char *const[]){"=v", NULL};
    build_fails(&o, BERTH_E_INVALID_ARGUMENT);
}

static void test_spec_build_annotation_keys_sorted_like_go(void **state)
{
    static const char *const ann[] = {"zeta=1", "alpha=2", "mid=3", "alpha=4", NULL};
    struct berth_oci_opts o = {.ns = "default", .id = "c", .annotations = ann};
    json_t *spec = build_ok(&o), *v;
    static const char *const want[] = {"alpha", "mid", "zeta"};
    const char *key;
    size_t i = 0;

    (void)state;
    /* Go's encoding/json writes map keys sorted; containerd's annotations are a map. */
    json_object_foreach(at(spec, "annotations"), key, v)
    {
        assert_true(i < BERTH_N(want));
        assert_string_equal(key, want[i++]);
    }
    assert_int_equal(i, BERTH_N(want));
    assert_string_equal(json_string_value(at(spec, "annotations/alpha")), "4");
    json_decref(spec);
}

static void test_spec_dump_round_trips(void **state)
{
    struct berth_oci_opts o = {.ns = "default", .id = "c1", .args = echo_hi, .seccomp = true};
    json_t *spec = build_ok(&o), *back;
    char *s = berth_oci_spec_dump(spec);
    json_error_t jerr;

    (void)state;
    assert_true(strncmp(s, "{\n    \"ociVersion\": \"1.0.2-dev\"", 31) == 0);
    back = json_loads(s, 0, &jerr);
    assert_non_null(back);
    assert_true(json_equal(spec, back));
    free(s);
    json_decref(back);
    json_decref(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_build_default_matches_containerd),
        cmocka_unit_test(test_spec_build_without_args_omits_them),
        cmocka_unit_test(test_spec_build_missing_ns_or_id_is_invalid),
        cmocka_unit_test(test_spec_build_image_args_rule),
        cmocka_unit_test(test_spec_build_env_merge),
        cmocka_unit_test(test_spec_build_workdir),
        cmocka_unit_test_setup_teardown(test_spec_build_user_lookup, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_spec_build_user_numeric_without_files,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_spec_build_user_errors, berth_test_setup_tmpdir,
                                        berth_test_teardown_tmpdir),
        cmocka_unit_test_setup_teardown(test_spec_build_user_lookup_stays_in_rootfs,
                                        berth_test_setup_tmpdir, berth_test_teardown_tmpdir),
        cmocka_unit_test(test_spec_build_net_host),
        cmocka_unit_test(test_spec_build_privileged),
        cmocka_unit_test(test_spec_build_resources_and_root),
        cmocka_unit_test(test_spec_build_mounts_and_annotations),
        cmocka_unit_test(test_spec_build_annotation_keys_sorted_like_go),
        cmocka_unit_test(test_spec_dump_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
