/* SPDX-License-Identifier: Apache-2.0 */
/*
 * linux.* options: namespaces, sysctls, the CRI's resources (containerd 1.6 pkg/cri/opts
 * WithResources, with its swap/hugetlb controller probes) and devices (oci.WithDevices,
 * WithHostDevices, WithAllDevicesAllowed).
 */
#include "runtime/oci/opts.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h> /* major(), minor() */

#include "lib/util.h"
#include "runtime/oci/oci-internal.h"

#define OCI_CGROUP2_MAGIC 0x63677270 /* CGROUP2_SUPER_MAGIC, linux/magic.h */

static const char *const ns_types[] = {"pid", "network", "mount",  "ipc",
                                       "uts", "user",    "cgroup", "time"};

static int ns_check(const char *type, struct berth_err **err)
{
    for (size_t i = 0; type && i < BERTH_N(ns_types); i++)
        if (strcmp(type, ns_types[i]) == 0)
            return 0;
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "unknown namespace type \"%s\"",
                         type ? type : "");
}

/* Index of the namespace entry of `type` in arr, or -1. */
static ssize_t ns_find(json_t *arr, const char *type)
{
    size_t i;
    json_t *n;

    json_array_foreach(arr, i, n)
    {
        const char *t = json_string_value(json_object_get(n, "type"));
        if (t && strcmp(t, type) == 0)
            return (ssize_t)i;
    }
    return -1;
}

int berth_oci_with_namespace(json_t *spec, const char *type, const char *path,
                             struct berth_err **err)
{
    json_t *arr, *n;
    ssize_t at;

    if (oci_check_spec(spec, err) < 0 || ns_check(type, err) < 0)
        return -1;
    arr = oci_arr(oci_obj(spec, oci_order_spec, "linux"), oci_order_linux, "namespaces");
    n = json_pack("{s:s}", "type", type);
    if (path && path[0])
        json_object_set_new(n, "path", json_string(path));
    at = ns_find(arr, type);
    if (at >= 0)
        json_array_set_new(arr, (size_t)at, n);
    else
        json_array_append_new(arr, n);
    return 0;
}

int berth_oci_without_namespace(json_t *spec, const char *type, struct berth_err **err)
{
    json_t *l, *arr;
    ssize_t at;

    if (oci_check_spec(spec, err) < 0 || ns_check(type, err) < 0)
        return -1;
    l = oci_obj(spec, oci_order_spec, "linux");
    arr = json_object_get(l, "namespaces");
    while ((at = ns_find(arr, type)) >= 0)
        json_array_remove(arr, (size_t)at);
    oci_drop_empty(l, "namespaces");
    return 0;
}

int berth_oci_with_sysctls(json_t *spec, const struct berth_labels *kv, struct berth_err **err)
{
    json_t *m;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    if (!kv || kv->n == 0)
        return 0;
    m = oci_obj(oci_obj(spec, oci_order_spec, "linux"), oci_order_linux, "sysctl");
    for (size_t i = 0; i < kv->n; i++)
        oci_map_set(m, kv->keys[i], json_string(kv->vals[i]));
    return 0;
}

/* ---- resources ---- */

static bool cgroup_unified(void)
{
    struct statfs sf;

    return statfs("/sys/fs/cgroup", &sf) == 0 && (unsigned long)sf.f_type == OCI_CGROUP2_MAGIC;
}

/* The cgroup v2 path of this process ("0::/path" in /proc/self/cgroup); caller frees. */
static char *self_cgroup2_path(void)
{
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    char *out = NULL;
    FILE *f = fopen("/proc/self/cgroup", "re");

    if (!f)
        return NULL;
    while (!out && getline(&line, &cap, f) > 0)
        if (berth_str_has_prefix(line, "0::")) {
            line[strcspn(line, "\n")] = '\0';
            out = berth_xstrdup(line + 3);
        }
    fclose(f);
    return out;
}

bool berth_oci_cgroup_swap_available(void)
{
    _cleanup_free_ char *p = NULL;
    _cleanup_free_ char *cg = NULL;

    /* containerd's SwapControllerAvailable: v1 memsw file, or the v2 file of our own cgroup
     * (the root cgroup has no memory.swap.max). */
    if (!cgroup_unified())
        return access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0;
    cg = self_cgroup2_path();
    if (!cg)
        return false;
    p = berth_strdup_printf("/sys/fs/cgroup%s/memory.swap.max", cg);
    return access(p, F_OK) == 0;
}

/* Whether a comma-separated list holds word. */
static bool csv_has(const char *list, const char *word)
{
    size_t n = strlen(word);

    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, word, n) == 0)
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

bool berth_oci_cgroup_hugetlb_available(void)
{
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    bool found = false;
    FILE *f;

    if (cgroup_unified()) {
        f = fopen("/sys/fs/cgroup/cgroup.controllers", "re");
        if (!f)
            return false;
        if (getline(&line, &cap, f) > 0) {
            char *save = NULL;
            for (char *w = strtok_r(line, " \n", &save); w && !found;
                 w = strtok_r(NULL, " \n", &save))
                found = strcmp(w, "hugetlb") == 0;
        }
        fclose(f);
        return found;
    }
    /* v1 or hybrid: a cgroup (v1) mount carrying the hugetlb controller. */
    f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return false;
    while (!found && getline(&line, &cap, f) > 0) {
        char *sep = strstr(line, " - "), *save = NULL, *fstype, *src, *opts;
        if (!sep)
            continue;
        fstype = strtok_r(sep + 3, " \n", &save);
        src = fstype ? strtok_r(NULL, " \n", &save) : NULL;
        opts = src ? strtok_r(NULL, " \n", &save) : NULL;
        found = opts && strcmp(fstype, "cgroup") == 0 && csv_has(opts, "hugetlb");
    }
    fclose(f);
    return found;
}

static int resources_check(const struct berth_oci_resources *r, struct berth_err **err)
{
    if (!r)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "no resources");
    if (r->cpu_period < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid cpu period %" PRId64,
                             r->cpu_period);
    if (r->cpu_shares < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid cpu shares %" PRId64,
                             r->cpu_shares);
    if (r->oom_score_adj != INT64_MIN && (r->oom_score_adj < -1000 || r->oom_score_adj > 1000))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid oom score adj %" PRId64,
                             r->oom_score_adj);
    for (size_t i = 0; i < r->n_hugepages; i++)
        if (!r->hugepages[i].page_size || !r->hugepages[i].page_size[0])
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "hugepage limit without a page size");
    return 0;
}

/* Applies r to a LinuxResources object (WithResources). */
static void resources_apply(json_t *res, const struct berth_oci_resources *r)
{
    json_t *mem = oci_obj(res, oci_order_resources, "memory");
    json_t *cpu = oci_obj(res, oci_order_resources, "cpu");
    bool swap = (r->memory_limit || r->memory_swap_limit) && berth_oci_cgroup_swap_available();

    if (r->cpu_period)
        oci_set(cpu, oci_order_cpu, "period", json_integer(r->cpu_period));
    if (r->cpu_quota)
        oci_set(cpu, oci_order_cpu, "quota", json_integer(r->cpu_quota));
    if (r->cpu_shares)
        oci_set(cpu, oci_order_cpu, "shares", json_integer(r->cpu_shares));
    if (r->cpuset_cpus && r->cpuset_cpus[0])
        oci_set(cpu, oci_order_cpu, "cpus", json_string(r->cpuset_cpus));
    if (r->cpuset_mems && r->cpuset_mems[0])
        oci_set(cpu, oci_order_cpu, "mems", json_string(r->cpuset_mems));
    if (r->memory_limit) {
        oci_set(mem, oci_order_memory, "limit", json_integer(r->memory_limit));
        /* Equal swap and memory limits keep the container from swapping by default. */
        if (!r->memory_swap_limit && swap)
            oci_set(mem, oci_order_memory, "swap", json_integer(r->memory_limit));
    }
    if (r->memory_swap_limit && swap)
        oci_set(mem, oci_order_memory, "swap", json_integer(r->memory_swap_limit));
    if (r->n_hugepages && berth_oci_cgroup_hugetlb_available()) {
        json_t *hp = oci_arr(res, oci_order_resources, "hugepageLimits");
        for (size_t i = 0; i < r->n_hugepages; i++)
            json_array_append_new(hp, json_pack("{s:s,s:I}", "pageSize", r->hugepages[i].page_size,
                                                "limit", (json_int_t)r->hugepages[i].limit));
    }
    if (r->unified && r->unified->n) {
        json_t *u = oci_obj(res, oci_order_resources, "unified");
        for (size_t i = 0; i < r->unified->n; i++)
            oci_map_set(u, r->unified->keys[i], json_string(r->unified->vals[i]));
    }
}

int berth_oci_with_resources(json_t *spec, const struct berth_oci_resources *r,
                             struct berth_err **err)
{
    if (oci_check_spec(spec, err) < 0 || resources_check(r, err) < 0)
        return -1;
    resources_apply(oci_obj(oci_obj(spec, oci_order_spec, "linux"), oci_order_linux, "resources"),
                    r);
    if (r->oom_score_adj != INT64_MIN)
        return berth_oci_with_oom_score_adj(spec, r->oom_score_adj, err);
    return 0;
}

json_t *berth_oci_resources_json(const struct berth_oci_resources *r, struct berth_err **err)
{
    json_t *res;

    if (resources_check(r, err) < 0)
        return NULL;
    res = json_object();
    resources_apply(res, r);
    return res;
}

/* ---- devices ---- */

static json_t *linux_of(json_t *spec)
{
    return oci_obj(spec, oci_order_spec, "linux");
}

static json_t *cgroup_devices_of(json_t *spec)
{
    return oci_arr(oci_obj(linux_of(spec), oci_order_linux, "resources"), oci_order_resources,
                   "devices");
}

int berth_oci_with_all_devices_allowed(json_t *spec, struct berth_err **err)
{
    if (oci_check_spec(spec, err) < 0)
        return -1;
    oci_set(oci_obj(linux_of(spec), oci_order_linux, "resources"), oci_order_resources, "devices",
            json_pack("[{s:b,s:s}]", "allow", 1, "access", "rwm"));
    return 0;
}

/* containerd's DeviceFromPath: lstat, block or char node with a non-zero major. Returns 1
 * (not a device), 0 with *st filled, or -1 with errno. */
static int device_stat(const char *path, struct stat *st)
{
    if (lstat(path, st) < 0)
        return -1;
    if ((!S_ISBLK(st->st_mode) && !S_ISCHR(st->st_mode)) || major(st->st_rdev) == 0)
        return 1;
    return 0;
}

struct dev_walk {
    json_t *devices; /* linux.devices */
    json_t *rules;   /* linux.resources.devices, NULL: no cgroup rules (host devices) */
    const char *access;
};

static void device_add(struct dev_walk *w, const char *cpath, const struct stat *st)
{
    const char *type = S_ISBLK(st->st_mode) ? "b" : "c";
    json_int_t maj = (json_int_t)major(st->st_rdev), min = (json_int_t)minor(st->st_rdev);

    json_array_append_new(
        w->devices, json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "path", cpath, "type", type, "major",
                              maj, "minor", min, "fileMode", (json_int_t)(st->st_mode & 07777),
                              "uid", (json_int_t)st->st_uid, "gid", (json_int_t)st->st_gid));
    if (w->rules)
        json_array_append_new(w->rules, json_pack("{s:b,s:s,s:I,s:I,s:s}", "allow", 1, "type", type,
                                                  "major", maj, "minor", min, "access", w->access));
}

static int dirent_cmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name); /* Go's os.ReadDir order */
}

static bool skipped_dir(const char *name)
{
    static const char *const skip[] = {"pts",  "shm",         "fd",   "mqueue",
                                       ".lxc", ".lxd-mounts", ".udev"};

    for (size_t i = 0; i < BERTH_N(skip); i++)
        if (strcmp(name, skip[i]) == 0)
            return true;
    return false;
}

/* containerd's getDevices over a directory: dir is a host path, cdir the container path
 * prefix (NULL: devices keep their host paths). */
static int device_walk_dir(struct dev_walk *w, const char *dir, const char *cdir,
                           struct berth_err **err)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, dirent_cmp), ret = 0;

    if (n < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "read device directory \"%s\"", dir);
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        _cleanup_free_ char *hp = NULL;
        _cleanup_free_ char *cp = NULL;
        struct stat st;
        int r;

        if (ret < 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        hp = berth_strdup_printf("%s/%s", dir, name);
        cp = cdir ? berth_strdup_printf("%s/%s", cdir, name) : NULL;
        if (lstat(hp, &st) < 0) {
            if (errno != ENOENT) /* raced with a removal: skipped, as containerd does */
                ret = berth_err_set(err, BERTH_E_INTERNAL, errno, "stat \"%s\"", hp);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (!skipped_dir(name))
                ret = device_walk_dir(w, hp, cp, err);
            continue;
        }
        if (strcmp(name, "console") == 0)
            continue;
        r = device_stat(hp, &st);
        if (r == 0)
            device_add(w, cp ? cp : hp, &st);
        else if (r < 0 && errno != ENOENT)
            ret = berth_err_set(err, BERTH_E_INTERNAL, errno, "stat \"%s\"", hp);
    }
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
    return ret;
}

int berth_oci_with_host_devices(json_t *spec, struct berth_err **err)
{
    struct dev_walk w;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    w = (struct dev_walk){.devices = oci_arr(linux_of(spec), oci_order_linux, "devices")};
    if (device_walk_dir(&w, "/dev", NULL, err) < 0)
        return -1;
    oci_drop_empty(linux_of(spec), "devices");
    return 0;
}

static int access_check(const char *p, struct berth_err **err)
{
    for (const char *c = p; *c; c++)
        if ((*c != 'r' && *c != 'w' && *c != 'm') || strchr(c + 1, *c))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "invalid device permissions \"%s\"", p);
    return 0;
}

int berth_oci_with_device(json_t *spec, const char *host_path, const char *container_path,
                          const char *permissions, struct berth_err **err)
{
    _cleanup_free_ char *real = NULL;
    const char *cpath = container_path && container_path[0] ? container_path : NULL;
    struct dev_walk w;
    struct stat st;
    int r;

    if (oci_check_spec(spec, err) < 0)
        return -1;
    if (!permissions || !permissions[0])
        permissions = "rwm";
    if (access_check(permissions, err) < 0)
        return -1;
    if (!host_path || !host_path[0])
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "empty device host path");
    if (cpath && cpath[0] != '/')
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "device container path \"%s\" is not absolute", cpath);
    real = realpath(host_path, NULL);
    if (!real || stat(real, &st) < 0)
        return berth_err_set(
            err, errno == ENOENT || errno == ENOTDIR ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
            "device \"%s\"", host_path);
    w = (struct dev_walk){.devices = oci_arr(linux_of(spec), oci_order_linux, "devices"),
                          .rules = cgroup_devices_of(spec),
                          .access = permissions};
    if (S_ISDIR(st.st_mode)) {
        r = device_walk_dir(&w, real, cpath, err);
    } else {
        r = device_stat(real, &st);
        if (r == 1)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "\"%s\" is not a device",
                                 host_path);
        if (r < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "stat \"%s\"", real);
        device_add(&w, cpath ? cpath : real, &st);
    }
    oci_drop_empty(linux_of(spec), "devices");
    return r < 0 ? -1 : 0;
}
