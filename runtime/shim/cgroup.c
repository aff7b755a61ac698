/* SPDX-License-Identifier: Apache-2.0 */
/* The container's cgroup as seen from /proc/<init pid>/cgroup: its member pids (Task.Pids)
 * on cgroup v1, v2 and this machine's hybrid layout (v1 controllers + cgroup2 at
 * /sys/fs/cgroup/unified), and its usage (Task.Stats) as containerd's cgroups v1/v2 Metrics. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/cgroups/v1/metrics.pb-c.h"
#include "api/cgroups/v2/metrics.pb-c.h"
#include "runtime/shim/shim-internal.h"

/* The procs file of pid's cgroup: the v1 "pids" (else "memory") hierarchy, else the v2 one. */
static int procs_path(pid_t pid, char *buf, size_t len, struct berth_err **err)
{
    char path[64], line[1024], v1[1024] = "", v2[1024] = "";
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
                             "open \"%s\"", path);
    while (fgets(line, sizeof(line), f)) {
        char *ctrl = strchr(line, ':'), *cg;
        if (!ctrl || !(cg = strchr(ctrl + 1, ':')))
            continue;
        *cg++ = '\0';
        cg[strcspn(cg, "\n")] = '\0';
        ctrl++;
        if (!*ctrl)
            snprintf(v2, sizeof(v2), "%s", cg);
        else if (strcmp(ctrl, "pids") == 0 || (strcmp(ctrl, "memory") == 0 && !v1[0]))
            snprintf(v1, sizeof(v1), "%s:%s", ctrl, cg);
    }
    fclose(f);
    if (v1[0]) {
        char *colon = strchr(v1, ':');
        *colon = '\0';
        snprintf(buf, len, "/sys/fs/cgroup/%s%s/cgroup.procs", v1, colon + 1);
        return 0;
    }
    if (v2[0]) {
        const char *root = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0
                               ? "/sys/fs/cgroup"
                               : "/sys/fs/cgroup/unified";
        snprintf(buf, len, "%s%s/cgroup.procs", root, v2);
        return 0;
    }
    return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "no cgroup for pid %d", (int)pid);
}

int shim_cgroup_pids(pid_t pid, uint32_t **pids, size_t *n, struct berth_err **err)
{
    char path[1200], line[32];
    size_t cap = 0;
    FILE *f;

    *pids = NULL;
    *n = 0;
    if (procs_path(pid, path, sizeof(path), err) < 0)
        return -1;
    f = fopen(path, "re");
    if (!f)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open \"%s\"", path);
    while (fgets(line, sizeof(line), f)) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *pids = berth_xrealloc(*pids, cap * sizeof(**pids));
        }
        (*pids)[(*n)++] = (uint32_t)strtoul(line, NULL, 10);
    }
    fclose(f);
    return 0;
}

/* Where each controller of a /proc/<pid>/cgroup file lives (paths relative to the root). */
struct cg_paths {
    char memory[512], cpuacct[512], cpu[512], pids[512], v2[512];
};

/* Sets dst to "<hierarchy dir>/<cgroup>" when the comma list ctrls holds name. */
static void cg_match(const char *ctrls, const char *cg, const char *name, char *dst, size_t len)
{
    size_t n = strlen(name);

    for (const char *c = ctrls; *c;) {
        size_t l = strcspn(c, ",");
        if (l == n && strncmp(c, name, n) == 0) {
            snprintf(dst, len, "%s%s", ctrls, cg);
            return;
        }
        c += l;
        if (*c == ',')
            c++;
    }
}

static int cg_paths_read(const char *proc_cgroup, struct cg_paths *cp, struct berth_err **err)
{
    char line[1200];
    FILE *f = fopen(proc_cgroup, "re");

    memset(cp, 0, sizeof(*cp));
    if (!f)
        return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
                             "open \"%s\"", proc_cgroup);
    while (fgets(line, sizeof(line), f)) {
        char *ctrl = strchr(line, ':'), *cg;
        if (!ctrl || !(cg = strchr(ctrl + 1, ':')))
            continue;
        *cg++ = '\0';
        cg[strcspn(cg, "\n")] = '\0';
        ctrl++;
        if (!*ctrl) {
            snprintf(cp->v2, sizeof(cp->v2), "%s", cg);
            continue;
        }
        cg_match(ctrl, cg, "memory", cp->memory, sizeof(cp->memory));
        cg_match(ctrl, cg, "cpuacct", cp->cpuacct, sizeof(cp->cpuacct));
        cg_match(ctrl, cg, "cpu", cp->cpu, sizeof(cp->cpu));
        cg_match(ctrl, cg, "pids", cp->pids, sizeof(cp->pids));
    }
    fclose(f);
    return 0;
}

static FILE *cg_open(const char *root, const char *dir, const char *file)
{
    char path[1400];

    if (!dir[0])
        return NULL;
    snprintf(path, sizeof(path), "%s/%s/%s", root, dir, file);
    return fopen(path, "re");
}

/* A single-value file: a number, or "max" (-> max_value). false when missing or malformed. */
static bool cg_u64(const char *root, const char *dir, const char *file, uint64_t max_value,
                   uint64_t *v)
{
    FILE *f = cg_open(root, dir, file);
    char buf[32], *end;
    bool ok = false;

    if (!f)
        return false;
    if (fgets(buf, sizeof(buf), f)) {
        buf[strcspn(buf, "\n")] = '\0';
        if (strcmp(buf, "max") == 0) {
            *v = max_value;
            ok = true;
        } else if (buf[0] >= '0' && buf[0] <= '9') {
            errno = 0;
            *v = strtoull(buf, &end, 10);
            ok = errno == 0 && *end == '\0';
        }
    }
    fclose(f);
    return ok;
}

/* Keyed "name value" lines into the uint64 fields of msg named like the keys (after the
 * aliases: pairs of file key, field name). Unknown keys are skipped. */
static void cg_keyed(const char *root, const char *dir, const char *file, ProtobufCMessage *msg,
                     const char *const *aliases)
{
    FILE *f = cg_open(root, dir, file);
    char line[256];

    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        char *sp = strchr(line, ' '), *end;
        const ProtobufCFieldDescriptor *fd;
        const char *key = line;
        uint64_t v;

        if (!sp)
            continue;
        *sp++ = '\0';
        for (size_t i = 0; aliases && aliases[i]; i += 2)
            if (strcmp(aliases[i], key) == 0) {
                key = aliases[i + 1];
                break;
            }
        fd = protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, key);
        if (!fd || fd->type != PROTOBUF_C_TYPE_UINT64 || fd->label == PROTOBUF_C_LABEL_REPEATED)
            continue;
        errno = 0;
        v = strtoull(sp, &end, 10);
        if (errno == 0 && end != sp)
            *(uint64_t *)((char *)msg + fd->offset) = v;
    }
    fclose(f);
}

/* v1 memory.<prefix>{usage_in_bytes,limit_in_bytes,max_usage_in_bytes,failcnt}. */
static bool cg_v1_mem_entry(const char *root, const char *dir, const char *prefix,
                            Io__Containerd__Cgroups__V1__MemoryEntry *e)
{
    static const char *const files[] = {"usage_in_bytes", "limit_in_bytes", "max_usage_in_bytes",
                                        "failcnt"};
    uint64_t *dst[] = {&e->usage, &e->limit, &e->max, &e->failcnt};
    bool any = false;
    char name[96];

    for (size_t i = 0; i < BERTH_N(files); i++) {
        snprintf(name, sizeof(name), "memory.%s%s", prefix, files[i]);
        any |= cg_u64(root, dir, name, UINT64_MAX, dst[i]);
    }
    return any;
}

static int stats_v1(const char *root, const struct cg_paths *cp, struct berth_bytes *value,
                    struct berth_err **err)
{
    static const char *const mem_aliases[] = {"pgpgin",
                                              "pg_pg_in",
                                              "pgpgout",
                                              "pg_pg_out",
                                              "pgfault",
                                              "pg_fault",
                                              "pgmajfault",
                                              "pg_maj_fault",
                                              "total_pgpgin",
                                              "total_pg_pg_in",
                                              "total_pgpgout",
                                              "total_pg_pg_out",
                                              "total_pgfault",
                                              "total_pg_fault",
                                              "total_pgmajfault",
                                              "total_pg_maj_fault",
                                              "hierarchical_memsw_limit",
                                              "hierarchical_swap_limit",
                                              NULL};
    Io__Containerd__Cgroups__V1__Metrics m = IO__CONTAINERD__CGROUPS__V1__METRICS__INIT;
    Io__Containerd__Cgroups__V1__PidsStat pids = IO__CONTAINERD__CGROUPS__V1__PIDS_STAT__INIT;
    Io__Containerd__Cgroups__V1__CPUStat cpu = IO__CONTAINERD__CGROUPS__V1__CPUSTAT__INIT;
    Io__Containerd__Cgroups__V1__CPUUsage usage = IO__CONTAINERD__CGROUPS__V1__CPUUSAGE__INIT;
    Io__Containerd__Cgroups__V1__Throttle thr = IO__CONTAINERD__CGROUPS__V1__THROTTLE__INIT;
    Io__Containerd__Cgroups__V1__MemoryStat mem = IO__CONTAINERD__CGROUPS__V1__MEMORY_STAT__INIT;
    Io__Containerd__Cgroups__V1__MemoryEntry me[4];
    Io__Containerd__Cgroups__V1__MemoryEntry **mp[] = {&mem.usage, &mem.swap, &mem.kernel,
                                                       &mem.kernel_tcp};
    static const char *const mprefix[] = {"", "memsw.", "kmem.", "kmem.tcp."};
    _cleanup_free_ uint64_t *percpu = NULL;

    if (!cp->memory[0] && !cp->cpuacct[0] && !cp->pids[0])
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "no cgroup v1 memory, cpuacct or pids");
    if (cp->pids[0]) {
        cg_u64(root, cp->pids, "pids.current", 0, &pids.current);
        /* "max" is no limit: 0, as containerd reports it. */
        cg_u64(root, cp->pids, "pids.max", 0, &pids.limit);
        m.pids = &pids;
    }
    if (cp->cpuacct[0] || cp->cpu[0]) {
        FILE *f = cg_open(root, cp->cpuacct, "cpuacct.usage_percpu");
        static const char *const stat_aliases[] = {"user", "user", "system", "kernel", NULL};
        long hz = sysconf(_SC_CLK_TCK);

        cg_u64(root, cp->cpuacct, "cpuacct.usage", 0, &usage.total);
        if (f) {
            /* One line of space-separated counters. strtoull, not fscanf: scanf would pull
             * glibc's whole scanf/float machinery into the static shim. */
            char line[4096];
            size_t cap = 0;
            if (fgets(line, sizeof(line), f)) {
                char *p = line, *end;
                for (;;) {
                    unsigned long long v = strtoull(p, &end, 10);
                    if (end == p)
                        break;
                    if (usage.n_per_cpu == cap) {
                        cap = cap ? cap * 2 : 8;
                        percpu = berth_xrealloc(percpu, cap * sizeof(*percpu));
                    }
                    percpu[usage.n_per_cpu++] = v;
                    p = end;
                }
            }
            fclose(f);
            usage.per_cpu = percpu;
        }
        /* cpuacct.stat counts USER_HZ ticks; CPUUsage is in nanoseconds. */
        cg_keyed(root, cp->cpuacct, "cpuacct.stat", &usage.base, stat_aliases);
        if (hz > 0) {
            usage.user *= 1000000000ULL / (uint64_t)hz;
            usage.kernel *= 1000000000ULL / (uint64_t)hz;
        }
        cg_keyed(root, cp->cpu, "cpu.stat", &thr.base,
                 (const char *const[]){"nr_periods", "periods", "nr_throttled", "throttled_periods",
                                       NULL});
        cpu.usage = &usage;
        cpu.throttling = &thr;
        m.cpu = &cpu;
    }
    if (cp->memory[0]) {
        cg_keyed(root, cp->memory, "memory.stat", &mem.base, mem_aliases);
        for (size_t i = 0; i < BERTH_N(me); i++) {
            io__containerd__cgroups__v1__memory_entry__init(&me[i]);
            if (cg_v1_mem_entry(root, cp->memory, mprefix[i], &me[i]))
                *mp[i] = &me[i];
        }
        m.memory = &mem;
    }
    berth_ttrpc_pack(value, &m.base);
    return 0;
}

static int stats_v2(const char *root, const struct cg_paths *cp, struct berth_bytes *value,
                    struct berth_err **err)
{
    Io__Containerd__Cgroups__V2__Metrics m = IO__CONTAINERD__CGROUPS__V2__METRICS__INIT;
    Io__Containerd__Cgroups__V2__PidsStat pids = IO__CONTAINERD__CGROUPS__V2__PIDS_STAT__INIT;
    Io__Containerd__Cgroups__V2__CPUStat cpu = IO__CONTAINERD__CGROUPS__V2__CPUSTAT__INIT;
    Io__Containerd__Cgroups__V2__MemoryStat mem = IO__CONTAINERD__CGROUPS__V2__MEMORY_STAT__INIT;
    const char *dir = cp->v2;

    if (!dir[0])
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "no cgroup v2 path");
    /* The root cgroup is "/": keep a non-empty relative dir for cg_open. */
    if (strcmp(dir, "/") == 0)
        dir = ".";
    cg_u64(root, dir, "pids.current", 0, &pids.current);
    cg_u64(root, dir, "pids.max", 0, &pids.limit);
    cg_keyed(root, dir, "cpu.stat", &cpu.base, NULL);
    cg_keyed(root, dir, "memory.stat", &mem.base, NULL);
    cg_u64(root, dir, "memory.current", 0, &mem.usage);
    cg_u64(root, dir, "memory.max", UINT64_MAX, &mem.usage_limit);
    cg_u64(root, dir, "memory.swap.current", 0, &mem.swap_usage);
    cg_u64(root, dir, "memory.swap.max", UINT64_MAX, &mem.swap_limit);
    cg_u64(root, dir, "memory.peak", 0, &mem.max_usage);
    cg_u64(root, dir, "memory.swap.peak", 0, &mem.swap_max_usage);
    m.pids = &pids;
    m.cpu = &cpu;
    m.memory = &mem;
    berth_ttrpc_pack(value, &m.base);
    return 0;
}

int shim_cgroup_stats_at(const char *root, bool unified, const char *proc_cgroup,
                         struct berth_bytes *value, const char **type_url, struct berth_err **err)
{
    struct cg_paths cp;

    *value = (struct berth_bytes){0};
    if (cg_paths_read(proc_cgroup, &cp, err) < 0)
        return -1;
    if (unified) {
        *type_url = "io.containerd.cgroups.v2.Metrics";
        return stats_v2(root, &cp, value, err);
    }
    *type_url = "io.containerd.cgroups.v1.Metrics";
    return stats_v1(root, &cp, value, err);
}

int shim_cgroup_stats(pid_t pid, struct berth_bytes *value, const char **type_url,
                      struct berth_err **err)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    /* Hybrid hosts mount cgroup2 at /sys/fs/cgroup/unified for hugetlb only: report v1 there. */
    return shim_cgroup_stats_at("/sys/fs/cgroup",
                                access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0, path, value,
                                type_url, err);
}
