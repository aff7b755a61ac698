/* SPDX-License-Identifier: Apache-2.0 */
/* cgroup counters for the CRI stats calls: the layout under /sys/fs/cgroup, the cgroup runc
 * makes for an OCI cgroupsPath (cgroupfs and systemd namings), and the v1/v2 files behind
 * each counter, combined as containerd's CRI does (pkg/cri/server/container_stats_list_linux
 * .go). The shim's Task.Stats reader (runtime/shim/cgroup.c) starts from a pid instead and
 * must stay free of this library, so the two do not share code. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h> /* PATH_MAX */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"
#include "runtime/stats/stats.h"

/* Above 2^62 a memory limit means "none": v1 reports 2^63-1 rounded down to a page, v2 "max".
 * The same cut containerd's CRI (isMemoryUnlimited) and cadvisor use. */
#define CG_UNLIMITED (UINT64_C(1) << 62)
/* What cg_parse_u64 gives for "max". */
#define CG_MAX UINT64_MAX

static bool cg_is(const char *path, mode_t type)
{
    struct stat st;

    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == type;
}

static bool cg_is_at(const char *root, const char *rel, mode_t type)
{
    char path[PATH_MAX];

    if (snprintf(path, sizeof(path), "%s/%s", root, rel) >= (int)sizeof(path))
        return false;
    return cg_is(path, type);
}

int berth_cg_detect(const char *root, enum berth_cg_mode *out, struct berth_err **err)
{
    static const char *const v1_dirs[] = {"memory", "cpuacct", "cpu", "pids", "cpu,cpuacct"};

    if (cg_is_at(root, "cgroup.controllers", S_IFREG)) {
        *out = BERTH_CG_V2;
        return 0;
    }
    if (cg_is_at(root, "unified/cgroup.controllers", S_IFREG)) {
        *out = BERTH_CG_HYBRID;
        return 0;
    }
    for (size_t i = 0; i < BERTH_N(v1_dirs); i++)
        if (cg_is_at(root, v1_dirs[i], S_IFDIR)) {
            *out = BERTH_CG_V1;
            return 0;
        }
    return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "no cgroup hierarchy under \"%s\"", root);
}

/* Appends the components of src to the clean absolute path dst (length *len, room for
 * strlen(dst) + strlen(src) + 2): empty and "." components dropped, ".." removing the last
 * component but never going above the root, as Go's filepath.Join("/", src) cleans. */
static void path_append_clean(char *dst, size_t *len, const char *src)
{
    while (*src) {
        size_t n = strcspn(src, "/");

        if ((n == 1 && src[0] == '.') || n == 0) {
            /* nothing */
        } else if (n == 2 && src[0] == '.' && src[1] == '.') {
            while (*len > 0 && dst[*len - 1] != '/')
                (*len)--;
            if (*len > 0)
                (*len)--;
        } else {
            dst[(*len)++] = '/';
            memcpy(dst + *len, src, n);
            *len += n;
        }
        src += n;
        if (*src == '/')
            src++;
    }
    dst[*len] = '\0';
}

/* runc's ExpandSlice: "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice", "-.slice" -> "". */
static int slice_expand(const char *slice, char **out, struct berth_err **err)
{
    static const char suffix[] = ".slice";
    size_t sl = strlen(slice), base = sl - (sizeof(suffix) - 1);
    _cleanup_free_ char *path = NULL;
    size_t len = 0;

    *out = NULL;
    if (sl <= sizeof(suffix) - 1 || strcmp(slice + base, suffix) != 0 || strchr(slice, '/'))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid slice name \"%s\"", slice);
    if (base == 1 && slice[0] == '-') {
        *out = berth_xstrdup("");
        return 0;
    }
    /* Each of the (at most sl) levels is "/" + a prefix of slice + ".slice". */
    path = berth_xmalloc((sl + 1) * (sl + sizeof(suffix) + 1) + 1);
    for (size_t i = 0; i <= base; i++) {
        if (i < base && slice[i] != '-')
            continue;
        /* slice[0..i) is the prefix up to this component: an empty component ("a--b",
         * "-a", "a-") is refused as systemd and runc refuse it. */
        if (i == 0 || slice[i - 1] == '-')
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid slice name \"%s\"",
                                 slice);
        len += (size_t)sprintf(path + len, "/%.*s%s", (int)i, slice, suffix);
    }
    *out = steal_ptr(path);
    return 0;
}

int berth_cg_path_resolve(const char *cgroups_path, char **out, struct berth_err **err)
{
    _cleanup_free_ char *raw = NULL;
    char *clean;
    size_t len = 0;

    *out = NULL;
    if (!cgroups_path || !*cgroups_path)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "empty cgroups path");
    /* runc reads "slice:prefix:name" when its systemd driver is on; a cgroupfs path never
     * looks like that (relative, exactly three ':'-separated fields). */
    const char *c1 = strchr(cgroups_path, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (cgroups_path[0] != '/' && c2 && !strchr(c2 + 1, ':')) {
        _cleanup_free_ char *slice = berth_xstrndup(cgroups_path, (size_t)(c1 - cgroups_path));
        _cleanup_free_ char *prefix = berth_xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
        _cleanup_free_ char *spath = NULL;
        const char *name = c2 + 1;
        size_t nl = strlen(name);

        if (!*name || strchr(name, '/') || strchr(prefix, '/'))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "invalid systemd cgroups path \"%s\"", cgroups_path);
        if (slice_expand(*slice ? slice : "system.slice", &spath, err) < 0)
            return berth_err_wrap(err, "cgroups path \"%s\"", cgroups_path);
        if (nl > 6 && strcmp(name + nl - 6, ".slice") == 0)
            raw = berth_strdup_printf("%s/%s", spath, name);
        else
            raw = berth_strdup_printf("%s/%s-%s.scope", spath, prefix, name);
    } else {
        raw = berth_xstrdup(cgroups_path);
    }
    clean = berth_xmalloc(strlen(raw) + 2);
    path_append_clean(clean, &len, raw);
    if (len == 0)
        strcpy(clean, "/");
    *out = clean;
    return 0;
}

/* Reads dir/name whole into *out (NUL-terminated, caller-owned). 1 when the file is missing
 * (ENOENT; ENODEV when the cgroup went away while open): the controller or counter is not
 * there. */
static int cg_slurp(const char *dir, const char *name, char **out, struct berth_err **err)
{
    _cleanup_close_ int fd = -1;
    _cleanup_free_ char *buf = NULL;
    size_t len = 0, cap = 0;
    char path[PATH_MAX];

    *out = NULL;
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "path too long: \"%s\"", dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENODEV
                   ? 1
                   : berth_err_set(err, BERTH_E_INTERNAL, errno, "open \"%s\"", path);
    for (;;) {
        ssize_t r;

        if (cap - len < 512) {
            cap = cap ? cap * 2 : 4096;
            buf = berth_xrealloc(buf, cap);
        }
        r = read(fd, buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == ENODEV)
            return 1;
        if (r < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "read \"%s\"", path);
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    *out = steal_ptr(buf);
    return 0;
}

/* A single-value file ("123\n" or "max\n" -> CG_MAX). 1 when missing. */
static int cg_read_u64(const char *dir, const char *name, uint64_t *v, struct berth_err **err)
{
    _cleanup_free_ char *buf = NULL;
    char *end;
    int r = cg_slurp(dir, name, &buf, err);

    if (r != 0)
        return r;
    buf[strcspn(buf, "\n")] = '\0';
    if (strcmp(buf, "max") == 0) {
        *v = CG_MAX;
        return 0;
    }
    errno = 0;
    *v = strtoull(buf, &end, 10);
    if (buf[0] < '0' || buf[0] > '9' || *end || errno)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "parse \"%s/%s\": \"%s\"", dir, name, buf);
    return 0;
}

struct cg_key {
    const char *key;
    uint64_t *dst;
};

/* A "key value" per line file into the keys asked for; other keys and lines are skipped
 * (kernels add keys over time). 1 when missing. */
static int cg_read_keyed(const char *dir, const char *name, const struct cg_key *keys, size_t n,
                         struct berth_err **err)
{
    _cleanup_free_ char *buf = NULL;
    int r = cg_slurp(dir, name, &buf, err);

    if (r != 0)
        return r;
    for (char *line = buf, *next; *line; line = next) {
        char *sp, *end;

        next = line + strcspn(line, "\n");
        if (*next)
            *next++ = '\0';
        sp = strchr(line, ' ');
        if (!sp)
            continue;
        *sp++ = '\0';
        for (size_t i = 0; i < n; i++) {
            uint64_t v;

            if (strcmp(line, keys[i].key) != 0)
                continue;
            errno = 0;
            v = strtoull(sp, &end, 10);
            if (!errno && end != sp)
                *keys[i].dst = v;
            break;
        }
    }
    return 0;
}

/* Working set, limit and available from usage, inactive file pages and the raw limit. */
static void mem_finish(struct berth_cg_stats *s, uint64_t inactive_file, uint64_t raw_limit)
{
    s->mem_working_set = inactive_file < s->mem_usage ? s->mem_usage - inactive_file : 0;
    s->mem_limit = raw_limit > CG_UNLIMITED ? 0 : raw_limit;
    /* containerd subtracts unchecked; a working set over the limit would wrap around. */
    s->mem_available = s->mem_limit > s->mem_working_set ? s->mem_limit - s->mem_working_set : 0;
    s->has_mem = true;
}

static int cpu_v1(const char *dir, struct berth_cg_stats *s, struct berth_err **err)
{
    uint64_t user = 0, sys = 0;
    const struct cg_key keys[] = {{"user", &user}, {"system", &sys}};
    long hz = sysconf(_SC_CLK_TCK);
    int r = cg_read_u64(dir, "cpuacct.usage", &s->cpu_usage_ns, err);

    if (r != 0)
        return r;
    if (cg_read_keyed(dir, "cpuacct.stat", keys, BERTH_N(keys), err) < 0)
        return -1;
    /* cpuacct.stat counts USER_HZ ticks. */
    if (hz > 0) {
        s->cpu_user_ns = user * (UINT64_C(1000000000) / (uint64_t)hz);
        s->cpu_system_ns = sys * (UINT64_C(1000000000) / (uint64_t)hz);
    }
    s->has_cpu = true;
    return 0;
}

static int cpu_v2(const char *dir, struct berth_cg_stats *s, struct berth_err **err)
{
    uint64_t usage = 0, user = 0, sys = 0;
    const struct cg_key keys[] = {
        {"usage_usec", &usage}, {"user_usec", &user}, {"system_usec", &sys}};
    int r = cg_read_keyed(dir, "cpu.stat", keys, BERTH_N(keys), err);

    if (r != 0)
        return r;
    s->cpu_usage_ns = usage * 1000;
    s->cpu_user_ns = user * 1000;
    s->cpu_system_ns = sys * 1000;
    s->has_cpu = true;
    return 0;
}

static int mem_v1(const char *dir, struct berth_cg_stats *s, struct berth_err **err)
{
    uint64_t inactive = 0, limit = CG_MAX;
    const struct cg_key keys[] = {{"total_inactive_file", &inactive},
                                  {"total_rss", &s->mem_rss},
                                  {"total_cache", &s->mem_cache},
                                  {"total_pgfault", &s->page_faults},
                                  {"total_pgmajfault", &s->major_page_faults}};
    int r = cg_read_u64(dir, "memory.usage_in_bytes", &s->mem_usage, err);

    if (r != 0)
        return r;
    if (cg_read_u64(dir, "memory.limit_in_bytes", &limit, err) < 0 ||
        cg_read_keyed(dir, "memory.stat", keys, BERTH_N(keys), err) < 0)
        return -1;
    mem_finish(s, inactive, limit);
    return 0;
}

static int mem_v2(const char *dir, struct berth_cg_stats *s, struct berth_err **err)
{
    uint64_t inactive = 0, limit = CG_MAX;
    /* RSS is anon on v2, as cadvisor and containerd's CRI report it. */
    const struct cg_key keys[] = {{"inactive_file", &inactive},
                                  {"anon", &s->mem_rss},
                                  {"file", &s->mem_cache},
                                  {"pgfault", &s->page_faults},
                                  {"pgmajfault", &s->major_page_faults}};
    int r = cg_read_u64(dir, "memory.current", &s->mem_usage, err);

    if (r != 0)
        return r;
    if (cg_read_u64(dir, "memory.max", &limit, err) < 0 ||
        cg_read_keyed(dir, "memory.stat", keys, BERTH_N(keys), err) < 0)
        return -1;
    mem_finish(s, inactive, limit);
    return 0;
}

/* pids.current/pids.max have the same names and format on v1 and v2. */
static int pids_read(const char *dir, struct berth_cg_stats *s, struct berth_err **err)
{
    uint64_t limit = CG_MAX;
    int r = cg_read_u64(dir, "pids.current", &s->pids_current, err);

    if (r != 0)
        return r;
    if (cg_read_u64(dir, "pids.max", &limit, err) < 0)
        return -1;
    s->pids_limit = limit == CG_MAX ? 0 : limit;
    s->has_pids = true;
    return 0;
}

/* One controller: where a v1 layout mounts it (a combined "cpu,cpuacct" when systemd joined
 * them; its "cpuacct" symlink may be missing on hand-made mounts), its cgroup2 name and the
 * readers for either version. */
struct cg_ctrl {
    const char *v1[3];
    const char *v2;
    int (*read_v1)(const char *dir, struct berth_cg_stats *s, struct berth_err **err);
    int (*read_v2)(const char *dir, struct berth_cg_stats *s, struct berth_err **err);
};

static const struct cg_ctrl cg_ctrls[] = {
    {{"cpuacct", "cpu,cpuacct", "cpuacct,cpu"}, "cpu", cpu_v1, cpu_v2},
    {{"memory", NULL, NULL}, "memory", mem_v1, mem_v2},
    {{"pids", NULL, NULL}, "pids", pids_read, pids_read},
};

/* Whether the space-separated list in <root>/unified/cgroup.controllers names ctrl. */
static bool unified_has(const char *root, const char *ctrl)
{
    _cleanup_free_ char *list = NULL;
    char dir[PATH_MAX];
    size_t n = strlen(ctrl);

    if (snprintf(dir, sizeof(dir), "%s/unified", root) >= (int)sizeof(dir) ||
        cg_slurp(dir, "cgroup.controllers", &list, NULL) != 0)
        return false;
    for (const char *p = list; *p;) {
        size_t l = strcspn(p, " \n");
        if (l == n && strncmp(p, ctrl, n) == 0)
            return true;
        p += l;
        p += strspn(p, " \n");
    }
    return false;
}

/* Finds the hierarchy holding c: sets *hier to its root and *v2. false when none does. */
static bool ctrl_hierarchy(const char *root, enum berth_cg_mode mode, const struct cg_ctrl *c,
                           char *hier, size_t len, bool *v2)
{
    *v2 = mode == BERTH_CG_V2;
    if (*v2) {
        snprintf(hier, len, "%s", root);
        return true;
    }
    for (size_t i = 0; i < BERTH_N(c->v1) && c->v1[i]; i++) {
        if (snprintf(hier, len, "%s/%s", root, c->v1[i]) < (int)len && cg_is(hier, S_IFDIR))
            return true;
    }
    /* Hybrid: a controller no v1 hierarchy has may be cgroup2's (hugetlb is, on this
     * project's machines; on others memory or pids can be). */
    if (mode == BERTH_CG_HYBRID && unified_has(root, c->v2)) {
        snprintf(hier, len, "%s/unified", root);
        *v2 = true;
        return true;
    }
    return false;
}

int berth_cg_stats_read(const char *root, enum berth_cg_mode mode, const char *cgroups_path,
                        struct berth_cg_stats *out, struct berth_err **err)
{
    _cleanup_free_ char *cg = NULL;
    struct berth_cg_stats s = {0};
    bool found = false;

    if (berth_cg_path_resolve(cgroups_path, &cg, err) < 0)
        return -1;
    s.timestamp_ns = berth_now_ns();
    for (size_t i = 0; i < BERTH_N(cg_ctrls); i++) {
        const struct cg_ctrl *c = &cg_ctrls[i];
        char hier[PATH_MAX], dir[PATH_MAX];
        bool v2;
        int r;

        if (!ctrl_hierarchy(root, mode, c, hier, sizeof(hier), &v2))
            continue;
        if (snprintf(dir, sizeof(dir), "%s%s", hier, cg) >= (int)sizeof(dir))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "cgroup path too long: \"%s\"",
                                 cg);
        if (!cg_is(dir, S_IFDIR))
            continue;
        found = true;
        r = v2 ? c->read_v2(dir, &s, err) : c->read_v1(dir, &s, err);
        if (r < 0)
            return berth_err_wrap(err, "cgroup \"%s\"", cg);
    }
    if (!found)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "cgroup \"%s\" not found under \"%s\"", cg,
                             root);
    *out = s;
    return 0;
}
