/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The default spec (containerd 1.6 oci/spec.go, oci/mounts.go), the ordered-JSON helpers
 * every option uses, and the process options (args, env, cwd, tty, user) plus the small
 * top-level ones (hostname, root, annotations, cgroups path). Security options live in
 * opts-security.c, mounts in opts-mounts.c, namespaces/resources/devices in opts-linux.c.
 */
#include "runtime/oci/opts.h"

#include <inttypes.h>
#include <string.h>

#include "images/manifest.h" /* struct berth_image_config (header only: no link dependency) */
#include "lib/util.h"
#include "runtime/oci/oci-internal.h"

#define OCI_VERSION      "1.0.2-dev" /* runtime-spec version containerd 1.6 vendors */
#define OCI_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const char *const oci_order_spec[] = {
    "ociVersion",  "process", "root",    "hostname", "domainname", "mounts", "hooks",
    "annotations", "linux",   "solaris", "windows",  "vm",         NULL,
};
const char *const oci_order_process[] = {
    "terminal",
    "consoleSize",
    "user",
    "args",
    "commandLine",
    "env",
    "cwd",
    "capabilities",
    "rlimits",
    "noNewPrivileges",
    "apparmorProfile",
    "oomScoreAdj",
    "selinuxLabel",
    NULL,
};
const char *const oci_order_user[] = {"uid", "gid", "umask", "additionalGids", "username", NULL};
const char *const oci_order_caps[] = {"bounding",  "effective", "inheritable",
                                      "permitted", "ambient",   NULL};
const char *const oci_order_root[] = {"path", "readonly", NULL};
const char *const oci_order_linux[] = {
    "uidMappings",   "gidMappings", "sysctl",   "resources",         "cgroupsPath",
    "namespaces",    "devices",     "seccomp",  "rootfsPropagation", "maskedPaths",
    "readonlyPaths", "mountLabel",  "intelRdt", "personality",       NULL,
};
const char *const oci_order_resources[] = {
    "devices",        "memory",  "cpu",  "pids",    "blockIO",
    "hugepageLimits", "network", "rdma", "unified", NULL,
};
const char *const oci_order_memory[] = {
    "limit",      "reservation",      "swap",         "kernel", "kernelTCP",
    "swappiness", "disableOOMKiller", "useHierarchy", NULL,
};
const char *const oci_order_cpu[] = {
    "shares", "quota", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems", NULL,
};

/* containerd's defaultUnixCaps, in its order. */
static const char *const default_caps[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
    NULL,
};

static const char *const masked_paths[] = {
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
    NULL,
};

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static const char *const default_namespaces[] = {"pid", "ipc", "uts", "mount", "network"};

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

/* ---- ordered JSON helpers ---- */

static size_t order_index(const char *const *order, const char *key)
{
    for (size_t i = 0; order && order[i]; i++)
        if (strcmp(order[i], key) == 0)
            return i;
    return SIZE_MAX;
}

void oci_set(json_t *obj, const char *const *order, const char *key, json_t *val)
{
    size_t pos = order_index(order, key);
    bool later = false;
    json_t *tmp, *v;
    const char *k;

    if (json_object_get(obj, key) || pos == SIZE_MAX) {
        json_object_set_new(obj, key, val);
        return;
    }
    for (size_t i = pos + 1; order[i] && !later; i++)
        later = json_object_get(obj, order[i]) != NULL;
    if (!later) {
        json_object_set_new(obj, key, val);
        return;
    }
    /* jansson only appends, so rebuild the object in Go's order. */
    tmp = json_object();
    for (size_t i = 0; order[i]; i++) {
        if (i == pos)
            json_object_set_new(tmp, key, val);
        else if ((v = json_object_get(obj, order[i])))
            json_object_set(tmp, order[i], v);
    }
    json_object_foreach(obj, k, v)
    {
        if (!json_object_get(tmp, k))
            json_object_set(tmp, k, v);
    }
    json_object_clear(obj);
    json_object_update(obj, tmp);
    json_decref(tmp);
}

json_t *oci_obj(json_t *obj, const char *const *order, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (json_is_object(v))
        return v;
    v = json_object();
    oci_set(obj, order, key, v);
    return v;
}

json_t *oci_arr(json_t *obj, const char *const *order, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (json_is_array(v))
        return v;
    v = json_array();
    oci_set(obj, order, key, v);
    return v;
}

static int strcmp_p(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void oci_map_set(json_t *map, const char *k, json_t *v)
{
    _cleanup_free_ const char **keys = NULL;
    const char *last = NULL, *key;
    json_t *tmp, *val;
    size_t n = 0;

    if (json_object_get(map, k)) {
        json_object_set_new(map, k, v);
        return;
    }
    json_object_foreach(map, key, val)
    {
        last = key;
    }
    if (!last || strcmp(last, k) < 0) {
        json_object_set_new(map, k, v);
        return;
    }
    json_object_set_new(map, k, v);
    keys = berth_xcalloc(json_object_size(map), sizeof(*keys));
    json_object_foreach(map, key, val)
    {
        keys[n++] = key;
    }
    qsort(keys, n, sizeof(*keys), strcmp_p);
    tmp = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set(tmp, keys[i], json_object_get(map, keys[i]));
    json_object_clear(map); /* keys[] pointed into map: not used past here */
    json_object_update(map, tmp);
    json_decref(tmp);
}

void oci_drop_empty(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if ((json_is_array(v) && json_array_size(v) == 0) ||
        (json_is_object(v) && json_object_size(v) == 0))
        json_object_del(obj, key);
}

int oci_check_spec(const json_t *spec, struct berth_err **err)
{
    if (!json_is_object(spec))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "spec is not a JSON object");
    return 0;
}

static json_t *strv_json(const char *const *v)
{
    json_t *arr = json_array();

    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(arr, json_string(v[i]));
    return arr;
}

static json_t *process_of(json_t *spec)
{
    return oci_obj(spec, oci_order_spec, "process");
}

void oci_mount_append(json_t *spec, const char *dst, const char *type, const char *src,
                      const char *const *options)
{
    json_t *m = json_object();

    json_object_set_new(m, "destination", json_string(dst));
    if (type && type[0])
        json_object_set_new(m, "type", json_string(type));
    if (src && src[0])
        json_object_set_new(m, "source", json_string(src));
    if (options && options[0])
        json_object_set_new(m, "options", strv_json(options));
    json_array_append_new(oci_arr(spec, oci_order_spec, "mounts"), m);
}

/* ---- the default spec ---- */

json_t *berth_oci_default_spec(const char *ns, const char *id)
{
    _cleanup_free_ char *cg = NULL;
    json_t *spec, *p, *caps, *l, *nss, *deny;

    if (!ns || !ns[0] || !id || !id[0])
        return NULL;
    cg = berth_strdup_printf("/%s/%s", ns, id);
    spec = json_object();
    json_object_set_new(spec, "ociVersion", json_string(OCI_VERSION));

    p = json_object();
    json_object_set_new(p, "user", json_pack("{s:i,s:i}", "uid", 0, "gid", 0));
    json_object_set_new(p, "cwd", json_string("/"));
    caps = json_object();
    json_object_set_new(caps, "bounding", strv_json(default_caps));
    json_object_set_new(caps, "effective", strv_json(default_caps));
    json_object_set_new(caps, "permitted", strv_json(default_caps));
    json_object_set_new(p, "capabilities", caps);
    json_object_set_new(
        p, "rlimits",
        json_pack("[{s:s,s:i,s:i}]", "type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024));
    json_object_set_new(p, "noNewPrivileges", json_true());
    json_object_set_new(spec, "process", p);
    json_object_set_new(spec, "root", json_pack("{s:s}", "path", "rootfs"));
    for (size_t i = 0; i < BERTH_N(default_mounts); i++)
        oci_mount_append(spec, default_mounts[i].dst, default_mounts[i].type, default_mounts[i].src,
                         default_mounts[i].options);

    l = json_object();
    deny = json_pack("{s:b,s:s}", "allow", 0, "access", "rwm");
    json_object_set_new(l, "resources", json_pack("{s:[o]}", "devices", deny));
    json_object_set_new(l, "cgroupsPath", json_string(cg));
    nss = json_array();
    for (size_t i = 0; i < BERTH_N(default_namespaces); i++)
        json_array_append_new(nss, json_pack("{s:s}", "type", default_namespaces[i]));
    json_object_set_new(l, "namespaces", nss);
    json_object_set_new(l, "maskedPaths", strv_json(masked_paths));
    json_object_set_new(l, "readonlyPaths", strv_json(readonly_paths));
    json_object_set_new(spec, "linux", l);
    return spec;
}

/* ---- env: containerd's replaceOrAppendEnvValues ---- */

static size_t env_key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* "K=V" replaces K in place or appends; "K" without '=' removes K. */
static void env_set(json_t *env, const char *kv)
{
    size_t klen = env_key_len(kv);
    bool unset = kv[klen] != '=';

    for (size_t i = 0; i < json_array_size(env); i++) {
        const char *cur = json_string_value(json_array_get(env, i));
        if (!cur || env_key_len(cur) != klen || strncmp(cur, kv, klen) != 0)
            continue;
        if (unset)
            json_array_remove(env, i);
        else
            json_array_set_new(env, i, json_string(kv));
        return;
    }
    if (!unset)
        json_array_append_new(env, json_string(kv));
}

static int env_check(const char *const *kv, struct berth_err **err)
{
    for (size_t i = 0; kv && kv[i]; i++)
        if (kv[i][0] == '\0' || kv[i][0] == '=')
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid env entry \"%s\"",
                                 kv[i]);
    return 0;
}

int berth_oci_with_env(json_t *spec, const char *const *kv, struct berth_err **err)
{
    json_t *env;

    if (oci_check_spec(spec, err) < 0 || env_check(kv, err) < 0)
        return -1;
    if (!kv || !kv[0])
        return 0;
    env = oci_arr(process_of(spec), oci_order_process, "env");
    for (size_t i = 0; kv[i]; i++)
        env_set(env, kv[i]);
    return 0;
}

/* ---- args, image config ---- */

static void set_args(json_t *spec, json_t *args)
{
    json_t *p = process_of(spec);

    if (json_array_size(args) == 0) {
        json_decref(args);
        json_object_del(p, "args");
        return;
    }
    oci_set(p, oci_order_process, "args", args);
}

static void append_strv(json_t *arr, char *const *v)
{
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(arr, json_string(v[i]));
}

int berth_oci_with_process_args(json_t *spec, const char *const *args, struct berth_err **err)
{
    if (oci_check_spec(spec, err) < 0)
        return -1;
    set_args(spec, strv_json(args));
    return 0;
}

int berth_oci_with_cri_args(json_t *spec, const struct berth_image_config *img,
                            const char *const *command, const char *const *args,
                            struct berth_err **err)
{
    json_t *out;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    out = json_array();
    if (command && command[0]) {
        append_strv(out, (char *const *)command);
        append_strv(out, (char *const *)args);
    } else {
        /* An image ENTRYPOINT [""] means "no entrypoint" (moby's commit.go rule). */
        if (img && img->entrypoint &&
            !(img->entrypoint[0] && img->entrypoint[0][0] == '\0' && !img->entrypoint[1]))
            append_strv(out, img->entrypoint);
        if (args && args[0])
            append_strv(out, (char *const *)args);
        else if (img)
            append_strv(out, img->cmd);
    }
    if (json_array_size(out) == 0) {
        json_decref(out);
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "no command specified");
    }
    set_args(spec, out);
    return 0;
}

int berth_oci_with_image_config(json_t *spec, const struct berth_image_config *img,
                                struct berth_err **err)
{
    json_t *p, *env, *old, *v, *args;
    const char *cwd;
    size_t i;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    if (!img)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "no image config");
    cwd = img->working_dir && img->working_dir[0] ? img->working_dir : "/";
    if (cwd[0] != '/')
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "image working dir \"%s\" is not absolute", cwd);
    p = process_of(spec);
    /* The image's env is the base and whatever the spec already holds overrides it. */
    env = json_array();
    if (img->env && img->env[0]) {
        for (i = 0; img->env[i]; i++)
            env_set(env, img->env[i]);
    } else {
        env_set(env, OCI_DEFAULT_PATH);
    }
    old = json_object_get(p, "env");
    json_array_foreach(old, i, v)
    {
        if (json_is_string(v))
            env_set(env, json_string_value(v));
    }
    oci_set(p, oci_order_process, "env", env);
    args = json_array();
    append_strv(args, img->entrypoint);
    append_strv(args, img->cmd);
    set_args(spec, args);
    oci_set(p, oci_order_process, "cwd", json_string(cwd));
    return 0;
}

/* ---- small process and top-level options ---- */

int berth_oci_with_cwd(json_t *spec, const char *cwd, struct berth_err **err)
{
    if (oci_check_spec(spec, err) < 0)
        return -1;
    if (!cwd || cwd[0] != '/')
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "cwd \"%s\" is not absolute",
                             cwd ? cwd : "");
    oci_set(process_of(spec), oci_order_process, "cwd", json_string(cwd));
    return 0;
}

int berth_oci_with_hostname(json_t *spec, const char *h, struct berth_err **err)
{
    if (oci_check_spec(spec, err) < 0)
        return -1;
    if (h && h[0])
        oci_set(spec, oci_order_spec, "hostname", json_string(h));
    else
        json_object_del(spec, "hostname");
    return 0;
}

int berth_oci_with_tty(json_t *spec, bool tty, struct berth_err **err)
{
    json_t *p;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    p = process_of(spec);
    if (!tty) {
        json_object_del(p, "terminal");
        return 0;
    }
    oci_set(p, oci_order_process, "terminal", json_true());
    env_set(oci_arr(p, oci_order_process, "env"), "TERM=xterm");
    return 0;
}

int berth_oci_with_console_size(json_t *spec, unsigned width, unsigned height,
                                struct berth_err **err)
{
    json_t *p;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    p = process_of(spec);
    if (!width && !height) {
        json_object_del(p, "consoleSize");
        return 0;
    }
    oci_set(p, oci_order_process, "consoleSize",
            json_pack("{s:I,s:I}", "height", (json_int_t)height, "width", (json_int_t)width));
    return 0;
}

static json_t *user_of(json_t *spec)
{
    json_t *u = oci_obj(process_of(spec), oci_order_process, "user");

    /* uid and gid are not omitempty in Go: always present. */
    if (!json_object_get(u, "uid"))
        oci_set(u, oci_order_user, "uid", json_integer(0));
    if (!json_object_get(u, "gid"))
        oci_set(u, oci_order_user, "gid", json_integer(0));
    return u;
}

int berth_oci_with_user(json_t *spec, const char *rootfs_dir, const char *user,
                        struct berth_err **err)
{
    struct oci_user u;
    json_t *ju, *g;

    if (oci_check_spec(spec, err) < 0 || oci_user_resolve(rootfs_dir, user, &u, err) < 0)
        return -1;
    ju = user_of(spec);
    oci_set(ju, oci_order_user, "uid", json_integer(u.uid));
    oci_set(ju, oci_order_user, "gid", json_integer(u.gid));
    if (u.n_additional) {
        g = json_array();
        for (size_t i = 0; i < u.n_additional; i++)
            json_array_append_new(g, json_integer(u.additional_gids[i]));
        oci_set(ju, oci_order_user, "additionalGids", g);
    } else {
        json_object_del(ju, "additionalGids");
    }
    free(u.additional_gids);
    return 0;
}

static bool id_ok(int64_t v)
{
    return v >= 0 && v <= (int64_t)UINT32_MAX;
}

int berth_oci_with_uid_gid(json_t *spec, const char *rootfs_dir, int64_t uid, int64_t gid,
                           struct berth_err **err)
{
    json_t *ju;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    if (!id_ok(uid))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid uid %" PRId64, uid);
    if (gid != -1 && !id_ok(gid))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid gid %" PRId64, gid);
    if (gid == -1) {
        /* WithUserID: the passwd entry of uid, if any, decides the gid. */
        _cleanup_free_ char *s = berth_strdup_printf("%" PRId64, uid);
        struct oci_user u;
        if (oci_user_resolve(rootfs_dir, s, &u, err) < 0)
            return -1;
        gid = u.gid;
        free(u.additional_gids);
    }
    ju = user_of(spec);
    oci_set(ju, oci_order_user, "uid", json_integer(uid));
    oci_set(ju, oci_order_user, "gid", json_integer(gid));
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int berth_oci_with_additional_gids(json_t *spec, const int64_t *gids, size_t n,
                                   struct berth_err **err)
{
    _cleanup_free_ int64_t *all = NULL;
    json_t *ju, *old, *v, *arr;
    size_t i, m = 0;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    for (i = 0; i < n; i++)
        if (!id_ok(gids[i]))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid gid %" PRId64, gids[i]);
    if (n == 0)
        return 0;
    ju = user_of(spec);
    old = json_object_get(ju, "additionalGids");
    all = berth_xcalloc(json_array_size(old) + n, sizeof(*all));
    json_array_foreach(old, i, v)
    {
        if (json_is_integer(v))
            all[m++] = json_integer_value(v);
    }
    for (i = 0; i < n; i++)
        all[m++] = gids[i];
    /* containerd's mergeGids: a set, sorted ascending. */
    qsort(all, m, sizeof(*all), cmp_i64);
    arr = json_array();
    for (i = 0; i < m; i++)
        if (i == 0 || all[i] != all[i - 1])
            json_array_append_new(arr, json_integer(all[i]));
    oci_set(ju, oci_order_user, "additionalGids", arr);
    return 0;
}

int berth_oci_with_readonly_rootfs(json_t *spec, bool ro, struct berth_err **err)
{
    json_t *root;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    root = oci_obj(spec, oci_order_spec, "root");
    if (ro)
        oci_set(root, oci_order_root, "readonly", json_true());
    else
        json_object_del(root, "readonly");
    return 0;
}

int berth_oci_with_root_path(json_t *spec, const char *path, struct berth_err **err)
{
    if (oci_check_spec(spec, err) < 0)
        return -1;
    if (!path || !path[0])
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "empty root path");
    oci_set(oci_obj(spec, oci_order_spec, "root"), oci_order_root, "path", json_string(path));
    return 0;
}

int berth_oci_with_annotations(json_t *spec, const struct berth_labels *a, struct berth_err **err)
{
    json_t *ann;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    if (!a || a->n == 0)
        return 0;
    ann = oci_obj(spec, oci_order_spec, "annotations");
    for (size_t i = 0; i < a->n; i++)
        oci_map_set(ann, a->keys[i], json_string(a->vals[i]));
    return 0;
}

int berth_oci_with_cgroups_path(json_t *spec, const char *path, struct berth_err **err)
{
    json_t *l;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    l = oci_obj(spec, oci_order_spec, "linux");
    if (path && path[0])
        oci_set(l, oci_order_linux, "cgroupsPath", json_string(path));
    else
        json_object_del(l, "cgroupsPath");
    return 0;
}

int berth_oci_with_oom_score_adj(json_t *spec, int64_t v, struct berth_err **err)
{
    if (oci_check_spec(spec, err) < 0)
        return -1;
    if (v < -1000 || v > 1000)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid oom score adj %" PRId64, v);
    oci_set(process_of(spec), oci_order_process, "oomScoreAdj", json_integer(v));
    return 0;
}

int berth_oci_with_rlimits_cleared(json_t *spec, struct berth_err **err)
{
    if (oci_check_spec(spec, err) < 0)
        return -1;
    json_object_del(process_of(spec), "rlimits");
    return 0;
}

json_t *berth_oci_process_json(const json_t *spec)
{
    json_t *p = json_object_get(spec, "process");

    return json_is_object(p) ? json_incref(p) : NULL;
}
