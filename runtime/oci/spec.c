/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The default Linux OCI spec of containerd 1.6 (oci/spec.go populateDefaultUnixSpec,
 * oci/mounts.go) with the image config and ctr-style options applied in ctr's order
 * (cmd/ctr/commands/run/run_unix.go). All values are decided first, then the JSON is
 * emitted once in the Go structs' field order so dumps match containerd's byte for byte.
 */
#include "runtime/oci/spec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "images/manifest.h" /* struct berth_image_config (header only: no link dependency) */
#include "lib/util.h"
#include "runtime/oci/oci-internal.h"
#include "runtime/oci/seccomp.h"

#define OCI_VERSION      "1.0.2-dev" /* runtime-spec version containerd 1.6 vendors */
#define OCI_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define OCI_CFS_PERIOD   100000

/* containerd's defaultUnixCaps, in its order. */
static const char *const default_caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};

/* Capability numbers 0..40 (linux/capability.h) for the privileged "all current caps". */
static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

static const char *const masked_paths[] = {
    "/proc/acpi",          "/proc/asound",     "/proc/kcore",       "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/sys/firmware",       "/proc/scsi",
};

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static const char *const namespaces[] = {"pid", "ipc", "uts", "mount", "network"};

#define OPTS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* oci/mounts.go defaultMounts(). */
static const struct {
    const char *dst, *type, *src;
    const char *const *options;
} default_mounts[] = {
    {"/proc", "proc", "proc", OPTS("nosuid", "noexec", "nodev")},
    {"/dev", "tmpfs", "tmpfs", OPTS("nosuid", "strictatime", "mode=755", "size=65536k")},
    {"/dev/pts", "devpts", "devpts",
     OPTS("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")},
    {"/dev/shm", "tmpfs", "shm", OPTS("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")},
    {"/dev/mqueue", "mqueue", "mqueue", OPTS("nosuid", "noexec", "nodev")},
    {"/sys", "sysfs", "sysfs", OPTS("nosuid", "noexec", "nodev", "ro")},
    {"/run", "tmpfs", "tmpfs", OPTS("nosuid", "strictatime", "mode=755", "size=65536k")},
};

/* The cgroup allow rules ctr run adds (null, zero, full, tty, random, urandom, console,
 * pts (any minor), ptmx); minor -1 means any. */
static const struct {
    int64_t major, minor;
} default_devices[] = {
    {1, 3}, {1, 8}, {1, 7}, {5, 0}, {1, 5}, {1, 9}, {5, 1}, {136, -1}, {5, 2},
};

static void append_strv(json_t *arr, const char *const *v)
{
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(arr, json_string(v[i]));
}

static json_t *strv_json(const char *const *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; (n == SIZE_MAX ? v && v[i] : i < n); i++)
        json_array_append_new(arr, json_string(v[i]));
    return arr;
}

/* ---- env: containerd's replaceOrAppendEnvValues ---- */

struct envv {
    char **v; /* NULL-terminated */
    size_t n;
};

static size_t env_key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* "K=V" replaces K in place or appends; "K" without '=' removes K. */
static void env_set(struct envv *e, const char *kv)
{
    size_t klen = env_key_len(kv);
    bool unset = kv[klen] != '=';

    for (size_t i = 0; i < e->n; i++) {
        if (env_key_len(e->v[i]) != klen || strncmp(e->v[i], kv, klen) != 0)
            continue;
        free(e->v[i]);
        if (unset) {
            memmove(&e->v[i], &e->v[i + 1], (e->n - i) * sizeof(char *));
            e->n--;
        } else {
            e->v[i] = berth_xstrdup(kv);
        }
        return;
    }
    if (unset)
        return;
    e->v = berth_xrealloc(e->v, (e->n + 2) * sizeof(char *));
    e->v[e->n++] = berth_xstrdup(kv);
    e->v[e->n] = NULL;
}

static int build_env(const struct berth_oci_opts *o, struct envv *e, struct berth_err **err)
{
    const struct berth_image_config *img = o->image;
    char host[256];

    e->v = berth_xcalloc(1, sizeof(char *));
    e->n = 0;
    /* WithImageConfig: the image's env, or the default PATH when it has none. */
    if (img && img->env && img->env[0]) {
        for (size_t i = 0; img->env[i]; i++)
            env_set(e, img->env[i]);
    } else {
        env_set(e, OCI_DEFAULT_PATH);
    }
    for (size_t i = 0; o->env && o->env[i]; i++) {
        if (o->env[i][0] == '\0' || o->env[i][0] == '=')
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid env entry \"%s\"",
                                 o->env[i]);
        env_set(e, o->env[i]);
    }
    if (o->tty)
        env_set(e, "TERM=xterm");
    if (o->net_host) {
        _cleanup_free_ char *kv = NULL;
        if (gethostname(host, sizeof(host)) < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "gethostname");
        host[sizeof(host) - 1] = '\0';
        kv = berth_strdup_printf("HOSTNAME=%s", host);
        env_set(e, kv);
    }
    return 0;
}

/* ---- process ---- */

/* Entrypoint + (explicit args, else Cmd), as containerd's WithImageConfigArgs. */
static json_t *build_args(const struct berth_oci_opts *o)
{
    const struct berth_image_config *img = o->image;
    json_t *args = json_array();
    bool explicit_args = o->args && o->args[0];

    if (img && img->entrypoint)
        append_strv(args, (const char *const *)img->entrypoint);
    if (explicit_args)
        append_strv(args, o->args);
    else if (img && img->cmd)
        append_strv(args, (const char *const *)img->cmd);
    if (json_array_size(args) == 0) {
        json_decref(args);
        return NULL;
    }
    return args;
}

/* Names of the capabilities this process holds (what WithAllCurrentCapabilities grants). */
static json_t *current_caps(struct berth_err **err)
{
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    unsigned long long mask = 0;
    bool found = false;
    FILE *f = fopen("/proc/self/status", "re");
    json_t *arr;

    if (!f) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "open \"/proc/self/status\"");
        return NULL;
    }
    while (getline(&line, &cap, f) > 0)
        if (sscanf(line, "CapEff: %llx", &mask) == 1) {
            found = true;
            break;
        }
    fclose(f);
    if (!found) {
        berth_err_set(err, BERTH_E_INTERNAL, 0, "no CapEff in \"/proc/self/status\"");
        return NULL;
    }
    arr = json_array();
    for (size_t i = 0; i < BERTH_N(cap_names); i++)
        if (mask & (1ULL << i))
            json_array_append_new(arr, json_string(cap_names[i]));
    return arr;
}

static int build_process(const struct berth_oci_opts *o, json_t **out, struct berth_err **err)
{
    const struct berth_image_config *img = o->image;
    struct envv env = {0};
    struct oci_user u;
    json_t *p, *user, *caps, *capset = NULL, *args, *rl, *rlimits;
    const char *cwd = "/";
    int ret = -1;

    *out = NULL;
    if (o->cwd && o->cwd[0])
        cwd = o->cwd;
    else if (img && img->working_dir && img->working_dir[0])
        cwd = img->working_dir;
    if (cwd[0] != '/')
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "cwd \"%s\" is not absolute", cwd);
    if (oci_user_resolve(o->rootfs_dir,
                         o->user && o->user[0] ? o->user
                         : img                 ? img->user
                                               : NULL,
                         &u, err) < 0)
        return -1;
    if (build_env(o, &env, err) < 0)
        goto out;
    if (o->privileged) {
        capset = current_caps(err);
        if (!capset)
            goto out;
    } else {
        capset = strv_json(default_caps, BERTH_N(default_caps));
    }

    p = json_object();
    if (o->tty)
        json_object_set_new(p, "terminal", json_true());
    if (o->tty && o->console_width && o->console_height)
        json_object_set_new(p, "consoleSize",
                            json_pack("{s:I,s:I}", "height", (json_int_t)o->console_height, "width",
                                      (json_int_t)o->console_width));
    user = json_object();
    json_object_set_new(user, "uid", json_integer(u.uid));
    json_object_set_new(user, "gid", json_integer(u.gid));
    if (u.n_additional) {
        json_t *g = json_array();
        for (size_t i = 0; i < u.n_additional; i++)
            json_array_append_new(g, json_integer(u.additional_gids[i]));
        json_object_set_new(user, "additionalGids", g);
    }
    json_object_set_new(p, "user", user);
    args = build_args(o);
    if (args)
        json_object_set_new(p, "args", args);
    json_object_set_new(p, "env", strv_json((const char *const *)env.v, env.n));
    json_object_set_new(p, "cwd", json_string(cwd));
    caps = json_object();
    json_object_set_new(caps, "bounding", json_deep_copy(capset));
    json_object_set_new(caps, "effective", json_deep_copy(capset));
    json_object_set_new(caps, "permitted", json_deep_copy(capset));
    json_object_set_new(p, "capabilities", caps);
    rl = json_object();
    json_object_set_new(rl, "type", json_string("RLIMIT_NOFILE"));
    json_object_set_new(rl, "hard", json_integer(1024));
    json_object_set_new(rl, "soft", json_integer(1024));
    rlimits = json_array();
    json_array_append_new(rlimits, rl);
    json_object_set_new(p, "rlimits", rlimits);
    json_object_set_new(p, "noNewPrivileges", json_true());
    *out = p;
    ret = 0;
out:
    json_decref(capset);
    berth_strv_free(env.v);
    free(u.additional_gids);
    return ret;
}

/* ---- mounts ---- */

static json_t *mount_json(const char *dst, const char *type, const char *src, json_t *options)
{
    json_t *m = json_object();

    json_object_set_new(m, "destination", json_string(dst));
    if (type && type[0])
        json_object_set_new(m, "type", json_string(type));
    if (src && src[0])
        json_object_set_new(m, "source", json_string(src));
    if (options && json_array_size(options))
        json_object_set_new(m, "options", options);
    else
        json_decref(options);
    return m;
}

/* ctr's --mount syntax: comma-separated key=value with keys type, source|src,
 * destination|dst and options (colon-separated). */
static int parse_mount(const char *spec, json_t **out, struct berth_err **err)
{
    _cleanup_free_ char *copy = berth_xstrdup(spec);
    _cleanup_free_ char *type = NULL;
    _cleanup_free_ char *src = NULL;
    _cleanup_free_ char *dst = NULL;
    json_t *options = json_array();
    char *save = NULL;

    *out = NULL;
    for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(f, '=');
        if (!eq)
            goto bad;
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(f, "type") == 0) {
            free(type);
            type = berth_xstrdup(v);
        } else if (strcmp(f, "source") == 0 || strcmp(f, "src") == 0) {
            free(src);
            src = berth_xstrdup(v);
        } else if (strcmp(f, "destination") == 0 || strcmp(f, "dst") == 0) {
            free(dst);
            dst = berth_xstrdup(v);
        } else if (strcmp(f, "options") == 0) {
            _cleanup_free_ char *ov = berth_xstrdup(v);
            char *s2 = NULL;
            for (char *opt = strtok_r(ov, ":", &s2); opt; opt = strtok_r(NULL, ":", &s2))
                json_array_append_new(options, json_string(opt));
        } else {
            goto bad;
        }
    }
    if (!dst || dst[0] != '/')
        goto bad;
    *out = mount_json(dst, type, src, options);
    return 0;
bad:
    json_decref(options);
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid mount \"%s\"", spec);
}

static int build_mounts(const struct berth_oci_opts *o, json_t **out, struct berth_err **err)
{
    json_t *mounts = json_array(), *m;

    *out = NULL;
    for (size_t i = 0; i < BERTH_N(default_mounts); i++) {
        json_t *opts = json_array();
        for (size_t j = 0; default_mounts[i].options[j]; j++) {
            const char *opt = default_mounts[i].options[j];
            /* WithWriteableSysfs */
            if (o->privileged && strcmp(default_mounts[i].dst, "/sys") == 0 &&
                strcmp(opt, "ro") == 0)
                opt = "rw";
            json_array_append_new(opts, json_string(opt));
        }
        json_array_append_new(mounts, mount_json(default_mounts[i].dst, default_mounts[i].type,
                                                 default_mounts[i].src, opts));
    }
    for (size_t i = 0; o->mounts && o->mounts[i]; i++) {
        if (parse_mount(o->mounts[i], &m, err) < 0) {
            json_decref(mounts);
            return -1;
        }
        json_array_append_new(mounts, m);
    }
    if (o->net_host) {
        /* WithHostHostsFile, WithHostResolvconf */
        json_array_append_new(mounts, mount_json("/etc/hosts", "bind", "/etc/hosts",
                                                 strv_json(OPTS("rbind", "ro"), SIZE_MAX)));
        json_array_append_new(mounts, mount_json("/etc/resolv.conf", "bind", "/etc/resolv.conf",
                                                 strv_json(OPTS("rbind", "ro"), SIZE_MAX)));
    }
    *out = mounts;
    return 0;
}

/* ---- linux ---- */

static json_t *device_rule(bool allow, const char *type, int64_t major, int64_t minor)
{
    json_t *d = json_object();

    json_object_set_new(d, "allow", json_boolean(allow));
    if (type)
        json_object_set_new(d, "type", json_string(type));
    if (major >= 0)
        json_object_set_new(d, "major", json_integer(major));
    if (minor >= 0)
        json_object_set_new(d, "minor", json_integer(minor));
    json_object_set_new(d, "access", json_string("rwm"));
    return d;
}

static json_t *build_resources(const struct berth_oci_opts *o)
{
    json_t *r = json_object(), *devs = json_array();

    if (o->privileged) {
        json_array_append_new(devs, device_rule(true, NULL, -1, -1)); /* WithAllDevicesAllowed */
    } else {
        json_array_append_new(devs, device_rule(false, NULL, -1, -1));
        if (o->default_devices)
            for (size_t i = 0; i < BERTH_N(default_devices); i++)
                json_array_append_new(devs, device_rule(true, "c", default_devices[i].major,
                                                        default_devices[i].minor));
    }
    json_object_set_new(r, "devices", devs);
    if (o->memory_limit > 0) {
        json_t *mem = json_object();
        json_object_set_new(mem, "limit", json_integer(o->memory_limit));
        json_object_set_new(r, "memory", mem);
    }
    if (o->cpus > 0) {
        json_t *cpu = json_object();
        json_object_set_new(cpu, "quota", json_integer((json_int_t)(o->cpus * OCI_CFS_PERIOD)));
        json_object_set_new(cpu, "period", json_integer(OCI_CFS_PERIOD));
        json_object_set_new(r, "cpu", cpu);
    }
    return r;
}

static int build_linux(const struct berth_oci_opts *o, const json_t *spec, json_t **out,
                       struct berth_err **err)
{
    json_t *l = json_object(), *ns = json_array();
    _cleanup_free_ char *cg = berth_strdup_printf("/%s/%s", o->ns, o->id);

    *out = NULL;
    json_object_set_new(l, "resources", build_resources(o));
    json_object_set_new(l, "cgroupsPath", json_string(cg));
    for (size_t i = 0; i < BERTH_N(namespaces); i++) {
        json_t *n;
        if (o->net_host && strcmp(namespaces[i], "network") == 0)
            continue;
        n = json_object();
        json_object_set_new(n, "type", json_string(namespaces[i]));
        json_array_append_new(ns, n);
    }
    json_object_set_new(l, "namespaces", ns);
    if (o->seccomp && !o->privileged) {
        json_t *sc;
        if (berth_oci_seccomp_default_profile(spec, &sc, err) < 0) {
            json_decref(l);
            return -1;
        }
        json_object_set_new(l, "seccomp", sc);
    }
    if (!o->privileged) {
        json_object_set_new(l, "maskedPaths", strv_json(masked_paths, BERTH_N(masked_paths)));
        json_object_set_new(l, "readonlyPaths", strv_json(readonly_paths, BERTH_N(readonly_paths)));
    }
    *out = l;
    return 0;
}

static int build_annotations(const struct berth_oci_opts *o, json_t **out, struct berth_err **err)
{
    json_t *a = json_object();

    *out = NULL;
    for (size_t i = 0; o->annotations && o->annotations[i]; i++) {
        const char *kv = o->annotations[i];
        const char *eq = strchr(kv, '=');
        _cleanup_free_ char *k = NULL;
        if (!eq || eq == kv) {
            json_decref(a);
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid annotation \"%s\"", kv);
        }
        k = berth_xstrndup(kv, (size_t)(eq - kv));
        json_object_set_new(a, k, json_string(eq + 1));
    }
    *out = a;
    return 0;
}

int berth_oci_spec_build(const struct berth_oci_opts *o, json_t **out, struct berth_err **err)
{
    json_t *spec = NULL, *part, *root;

    *out = NULL;
    if (!o || !o->ns || !o->ns[0] || !o->id || !o->id[0])
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "spec needs a namespace and a container id");
    if (!(o->cpus >= 0) || isinf(o->cpus))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid cpus %g", o->cpus);
    if (o->memory_limit < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid memory limit %lld",
                             (long long)o->memory_limit);

    spec = json_object();
    json_object_set_new(spec, "ociVersion", json_string(OCI_VERSION));
    if (build_process(o, &part, err) < 0)
        goto fail;
    json_object_set_new(spec, "process", part);
    root = json_object();
    json_object_set_new(root, "path",
                        json_string(o->root_path && o->root_path[0] ? o->root_path : "rootfs"));
    if (o->readonly_rootfs)
        json_object_set_new(root, "readonly", json_true());
    json_object_set_new(spec, "root", root);
    if (o->hostname && o->hostname[0])
        json_object_set_new(spec, "hostname", json_string(o->hostname));
    if (build_mounts(o, &part, err) < 0)
        goto fail;
    json_object_set_new(spec, "mounts", part);
    if (build_annotations(o, &part, err) < 0)
        goto fail;
    if (json_object_size(part))
        json_object_set_new(spec, "annotations", part);
    else
        json_decref(part);
    if (build_linux(o, spec, &part, err) < 0)
        goto fail;
    json_object_set_new(spec, "linux", part);
    *out = spec;
    return 0;
fail:
    json_decref(spec);
    return -1;
}

char *berth_oci_spec_dump(const json_t *spec)
{
    char *s = json_dumps(spec, JSON_INDENT(4));

    if (!s)
        abort();
    return s;
}
