/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container and pod stats read straight from the kernel for the CRI's ContainerStats,
 * ListContainerStats and PodSandboxStats: cgroup cpu/memory/pids counters (cgroup v1, v2 and
 * the v1 + /sys/fs/cgroup/unified hybrid), the interfaces of a process's network namespace
 * (/proc/<pid>/net/dev) and the disk usage of a directory tree (writable layer, image fs).
 * No shim call per container. Depends on lib/ only; never logs.
 */
#ifndef BERTH_RUNTIME_STATS_STATS_H
#define BERTH_RUNTIME_STATS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* pid_t */

#include "lib/err.h"

/* How the cgroup file system under a root is laid out. */
enum berth_cg_mode {
    BERTH_CG_V1,     /* one v1 hierarchy per controller: <root>/memory, <root>/cpuacct, ... */
    BERTH_CG_HYBRID, /* v1 hierarchies plus cgroup2 at <root>/unified (systemd "hybrid") */
    BERTH_CG_V2,     /* <root> is the cgroup2 mount */
};

/* Detects the layout under root (normally "/sys/fs/cgroup") from the files there, so a fake
 * tree in a temp dir detects like the real one: <root>/cgroup.controllers means V2,
 * <root>/unified/cgroup.controllers HYBRID, a v1 controller directory (memory, cpuacct, cpu,
 * pids, "cpu,cpuacct") V1. NOT_FOUND when none of these is there. */
int berth_cg_detect(const char *root, enum berth_cg_mode *out, struct berth_err **err);

/* The cgroup, relative to each hierarchy's root, that runc makes for an OCI
 * linux.cgroupsPath: "/k8s.io/<id>" as is (cleaned: empty and "." components dropped, ".."
 * stopping at the root, as runc's securejoin does; a path without a leading '/' is taken from
 * the root too); the systemd form "slice:prefix:name" as runc's systemd driver names it:
 * <expanded slice>/<prefix>-<name>.scope (or /<name> when name ends in ".slice"), where
 * "a-b.slice" expands to "/a.slice/a-b.slice" and an empty slice means "system.slice".
 * runc also prefixes the systemd form with PID 1's own cgroup (minus "init.scope"); that is
 * "/" on hosts where PID 1 is in the root cgroup and is not applied here.
 * INVALID_ARGUMENT for an empty path or a bad slice name. *out ("/a/b", "/" for the root) is
 * owned by the caller on success. */
int berth_cg_path_resolve(const char *cgroups_path, char **out, struct berth_err **err);

/* One sample of a cgroup's counters. A has_* flag is false when that controller is not there
 * for this cgroup (not mounted, not enabled in a v2 parent's subtree_control); its fields are
 * then 0. */
struct berth_cg_stats {
    int64_t timestamp_ns; /* CLOCK_REALTIME when the read began */
    uint64_t cpu_usage_ns, cpu_user_ns, cpu_system_ns;
    uint64_t mem_usage;       /* v1 memory.usage_in_bytes, v2 memory.current */
    uint64_t mem_working_set; /* usage - inactive file pages (0 when that is negative) */
    uint64_t mem_rss;         /* v1 total_rss, v2 anon (as containerd's CRI reports RssBytes) */
    uint64_t mem_cache;       /* v1 total_cache, v2 file */
    uint64_t mem_available;   /* limit - working set, 0 if no limit (or working set > limit) */
    uint64_t mem_limit;       /* 0 when unlimited ("max", or above 2^62 as the kernel rounds) */
    uint64_t page_faults, major_page_faults; /* v1 total_pgfault/total_pgmajfault, v2 pgfault/
                                                pgmajfault */
    uint64_t pids_current, pids_limit;       /* pids_limit 0 when "max" */
    bool has_cpu, has_mem, has_pids;
};

/* Reads the stats of the cgroup that runc made for cgroups_path (see berth_cg_path_resolve)
 * under root laid out as mode. v1 cpu from cpuacct.usage and cpuacct.stat (USER_HZ ticks
 * converted to ns), v2 from cpu.stat usage_usec/user_usec/system_usec; working set as
 * kubelet/cadvisor/containerd compute it (v1 total_inactive_file, v2 inactive_file). On the
 * hybrid layout each controller is read from its v1 hierarchy, or from <root>/unified when
 * cgroup2 owns it there. A pod's stats are those of its cgroup, the parent of its containers'.
 * NOT_FOUND when the cgroup exists in none of the hierarchies read; INVALID_ARGUMENT for a bad
 * cgroups_path; INTERNAL when a file is there but cannot be read or parsed. *out is filled in
 * only on success. */
int berth_cg_stats_read(const char *root, enum berth_cg_mode mode, const char *cgroups_path,
                        struct berth_cg_stats *out, struct berth_err **err);

/* The counters of one network interface (the CRI's NetworkUsage/NetworkInterfaceUsage). */
struct berth_net_stats {
    char *name; /* owned */
    uint64_t rx_bytes, rx_errors, tx_bytes, tx_errors;
};

/* The interfaces of the network namespace of pid, from /proc/<pid>/net/dev, in file order,
 * "lo" left out. NOT_FOUND when the process is gone; INTERNAL for an unreadable or malformed
 * file. On success *out (free with berth_net_stats_free; NULL when *n is 0) and *n are set. */
int berth_net_stats_read_pid(pid_t pid, struct berth_net_stats **out, size_t *n,
                             struct berth_err **err);
/* The same from a file in /proc/net/dev format at path (NOT_FOUND when it is missing). */
int berth_net_stats_read_file(const char *path, struct berth_net_stats **out, size_t *n,
                              struct berth_err **err);
/* Frees the n entries of v and v itself; NULL-safe. */
void berth_net_stats_free(struct berth_net_stats *v, size_t n);

/* du of the tree at path, as containerd's snapshot usage counts it: every inode once (hard
 * links counted once), st_blocks * 512 bytes each, the top directory included. Symlinks are
 * not followed and the walk stays on path's file system (a mount point below is neither
 * counted nor entered). Entries that vanish during the walk are skipped, as a running
 * container's upperdir changes under it. NOT_FOUND when path does not exist; INTERNAL for any
 * other failure (naming the entry). *bytes and *inodes are set only on success. */
int berth_dir_usage(const char *path, uint64_t *bytes, uint64_t *inodes, struct berth_err **err);

#endif
