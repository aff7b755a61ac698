/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Composable OCI spec options, containerd's oci.SpecOpts and the CRI's customopts: each
 * berth_oci_with_X applies one thing to a jansson spec in place. New keys are inserted in the
 * Go runtime-spec struct order and map keys (annotations, sysctl, unified) kept sorted, so a
 * spec dumps like containerd's JSON whatever order the options ran in. berth_oci_spec_build
 * (spec.h) is a composition of these. See docs/oci.md.
 *
 * Conventions for every option: `spec` is borrowed and modified in place; all other pointers
 * are borrowed for the call; string vectors are NULL-terminated. They return 0, or -1 with
 * *err set and the spec possibly half-modified (callers discard it on failure). A NULL or
 * non-object spec is BERTH_E_INVALID_ARGUMENT. Allocation failure aborts.
 */
#ifndef BERTH_RUNTIME_OCI_OPTS_H
#define BERTH_RUNTIME_OCI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h> /* json_t in the API */

#include "lib/err.h"
#include "lib/labels.h"

/* images/manifest.h (berth_image_config_parse); only read. */
struct berth_image_config;

/* The default Linux spec of containerd 1.6 (oci.populateDefaultUnixSpec + defaultMounts):
 * ociVersion, process (uid/gid 0, cwd "/", the 14 default caps, RLIMIT_NOFILE 1024,
 * noNewPrivileges), root.path "rootfs", the 7 default mounts, deny-all device rule,
 * cgroupsPath "/<ns>/<id>", pid/ipc/uts/mount/network namespaces, masked and readonly paths.
 * No env (WithImageConfig or berth_oci_with_env add PATH), no args. Returns a new reference
 * owned by the caller, or NULL when ns or id is NULL or empty. */
json_t *berth_oci_default_spec(const char *ns, const char *id);

/* ---- process ---- */

/* containerd's WithImageConfigArgs minus the user: env = the image's env (or the default
 * PATH when it has none) with the spec's current env applied on top; args = Entrypoint+Cmd
 * (removed when both are empty); cwd = WorkingDir or "/". INVALID_ARGUMENT for a NULL image
 * or a relative WorkingDir. The user is applied separately (berth_oci_with_user). */
int berth_oci_with_image_config(json_t *spec, const struct berth_image_config *img,
                                struct berth_err **err);

/* Replaces process.args (NULL or empty removes them). */
int berth_oci_with_process_args(json_t *spec, const char *const *args, struct berth_err **err);

/* The kubelet/CRI rule (containerd customopts.WithProcessArgs): command non-empty ->
 * command + args; else entrypoint (unless it is exactly [""]) + (args if non-empty, else
 * the image Cmd). img may be NULL (no image defaults). INVALID_ARGUMENT "no command
 * specified" when the result is empty. */
int berth_oci_with_cri_args(json_t *spec, const struct berth_image_config *img,
                            const char *const *command, const char *const *args,
                            struct berth_err **err);

/* containerd's replaceOrAppendEnvValues: "K=V" replaces K in place or appends; "K" without
 * '=' removes K. INVALID_ARGUMENT naming an empty entry or one starting with '='. */
int berth_oci_with_env(json_t *spec, const char *const *kv, struct berth_err **err);

/* INVALID_ARGUMENT when cwd is NULL or not absolute. */
int berth_oci_with_cwd(json_t *spec, const char *cwd, struct berth_err **err);

/* Sets the top-level hostname; NULL or "" removes it. */
int berth_oci_with_hostname(json_t *spec, const char *h, struct berth_err **err);

/* tty: process.terminal true and TERM=xterm (replaced or appended); !tty removes terminal. */
int berth_oci_with_tty(json_t *spec, bool tty, struct berth_err **err);

/* process.consoleSize (only meaningful with a terminal); 0x0 removes it. */
int berth_oci_with_console_size(json_t *spec, unsigned width, unsigned height,
                                struct berth_err **err);

/* A Dockerfile USER value ("uid", "uid:gid", "name", "name:group", mixed; NULL or "" = root)
 * resolved against <rootfs_dir>/etc/passwd and /etc/group (symlinks stay inside rootfs_dir,
 * which may be NULL when only numeric forms are used), as containerd's WithUser. Sets uid,
 * gid and replaces additionalGids with the groups listing the user as a member
 * (WithAdditionalGIDs; removed when none). INVALID_ARGUMENT for a malformed value or a name
 * without rootfs_dir; NOT_FOUND for an unknown user or group name (or a missing file a name
 * needs); INTERNAL for I/O errors. */
int berth_oci_with_user(json_t *spec, const char *rootfs_dir, const char *user,
                        struct berth_err **err);

/* Numeric uid and gid (containerd WithUserID when gid is -1: the uid's passwd entry gives the
 * gid, 0 without one). additionalGids are left alone. INVALID_ARGUMENT for an id outside
 * [0, 2^32), gid below -1; INTERNAL for I/O errors. rootfs_dir may be NULL (gid 0). */
int berth_oci_with_uid_gid(json_t *spec, const char *rootfs_dir, int64_t uid, int64_t gid,
                           struct berth_err **err);

/* Merges gids into additionalGids like containerd's WithSupplementalGroups: deduplicated and
 * sorted ascending. INVALID_ARGUMENT for a gid outside [0, 2^32). */
int berth_oci_with_additional_gids(json_t *spec, const int64_t *gids, size_t n,
                                   struct berth_err **err);

/* Capabilities (bounding, effective, permitted) from the spec's current set, then the CRI's
 * add/drop (containerd customopts.WithCapabilities): "ALL" in add (any case) first sets every
 * capability this process holds, "ALL" in drop clears them, then single names are added and
 * dropped. Names may lack the "CAP_" prefix and are case-insensitive. Ambient is cleared.
 * INVALID_ARGUMENT naming an unknown capability; INTERNAL if /proc/self/status is unreadable. */
int berth_oci_with_capabilities(json_t *spec, const char *const *add, const char *const *drop,
                                struct berth_err **err);

/* containerd's WithPrivileged + WithHostDevices + WithAllDevicesAllowed: every capability this
 * process holds (bounding/effective/permitted), no masked/readonly paths, sysfs and cgroup
 * mounts rw, seccomp, apparmor profile and selinux label removed, every host device under
 * /dev added to linux.devices and one "allow all" cgroup rule. INTERNAL for /proc or /dev
 * read errors. */
int berth_oci_with_privileged(json_t *spec, struct berth_err **err);

/* Adds every device node under /dev to linux.devices (oci.WithHostDevices; no cgroup rule). */
int berth_oci_with_host_devices(json_t *spec, struct berth_err **err);

/* Replaces linux.resources.devices with one rule allowing rwm on every device. */
int berth_oci_with_all_devices_allowed(json_t *spec, struct berth_err **err);

/* Replace linux.maskedPaths / linux.readonlyPaths; NULL or empty leaves none (the key is
 * removed, as Go's omitempty renders an empty list). */
int berth_oci_with_masked_paths(json_t *spec, const char *const *v, struct berth_err **err);
int berth_oci_with_readonly_paths(json_t *spec, const char *const *v, struct berth_err **err);

/* process.noNewPrivileges true, or removed (false). */
int berth_oci_with_no_new_privs(json_t *spec, bool on, struct berth_err **err);

/* root.readonly true, or removed (false). */
int berth_oci_with_readonly_rootfs(json_t *spec, bool ro, struct berth_err **err);

/* root.path (bundle-relative or absolute). INVALID_ARGUMENT for NULL or "". */
int berth_oci_with_root_path(json_t *spec, const char *path, struct berth_err **err);

/* Merges labels into annotations (existing keys replaced), keys kept sorted. */
int berth_oci_with_annotations(json_t *spec, const struct berth_labels *a, struct berth_err **err);

/* Merges kv into linux.sysctl, keys kept sorted. */
int berth_oci_with_sysctls(json_t *spec, const struct berth_labels *kv, struct berth_err **err);

/* linux.cgroupsPath; NULL or "" removes it. */
int berth_oci_with_cgroups_path(json_t *spec, const char *path, struct berth_err **err);

/* process.oomScoreAdj. INVALID_ARGUMENT outside [-1000, 1000]. */
int berth_oci_with_oom_score_adj(json_t *spec, int64_t v, struct berth_err **err);

/* Removes process.rlimits (the CRI's WithoutDefaultSecuritySettings part). */
int berth_oci_with_rlimits_cleared(json_t *spec, struct berth_err **err);

/* Removes process.apparmorProfile. */
int berth_oci_without_apparmor(json_t *spec, struct berth_err **err);

/* A new reference to spec.process (what Exec sends as the process spec), or NULL when the
 * spec has none. */
json_t *berth_oci_process_json(const json_t *spec);

/* ---- mounts (opts-mounts.c) ---- */

struct berth_oci_mount {
    const char *dst;            /* required, absolute */
    const char *src;            /* NULL/"": no source key */
    const char *type;           /* NULL/"": no type key */
    const char *const *options; /* NULL-terminated; NULL: no options key */
};

/* Adds a mount; one with the same destination (compared after cleaning the path) is replaced
 * in place. INVALID_ARGUMENT for a missing or relative destination. */
int berth_oci_with_mount(json_t *spec, const struct berth_oci_mount *m, struct berth_err **err);

/* Removes every mount whose cleaned destination is dst (none is fine). INVALID_ARGUMENT for a
 * NULL or empty dst. */
int berth_oci_without_mount(json_t *spec, const char *dst, struct berth_err **err);

enum {
    BERTH_OCI_PROPAGATION_PRIVATE = 0,
    BERTH_OCI_PROPAGATION_HOST_TO_CONTAINER = 1, /* rslave */
    BERTH_OCI_PROPAGATION_BIDIRECTIONAL = 2,     /* rshared */
};

struct berth_oci_bind {
    const char *host_path, *container_path;
    bool readonly;
    int propagation; /* BERTH_OCI_PROPAGATION_* (CRI MountPropagation values) */
};

/* A CRI Mount, as containerd's customopts.WithMounts does one: host_path's symlinks are
 * resolved (realpath), the mount is {type bind, options rbind, rprivate|rslave|rshared,
 * ro|rw} replacing one at the same destination; binding /dev also drops the mounts already
 * under /dev/ (apply binds fewest-path-components first, as containerd sorts them).
 * rslave needs the host mount holding host_path to be shared or slave and sets
 * linux.rootfsPropagation "rslave" unless already rshared/rslave; rshared needs it shared and
 * sets "rshared" (ensureSharedOrSlave/ensureShared, from /proc/self/mountinfo).
 * NOT_FOUND when host_path does not exist; INVALID_ARGUMENT for empty paths, a relative
 * container path or an unknown propagation; FAILED_PRECONDITION when the host mount's
 * propagation does not allow the requested one; INTERNAL for other I/O errors. */
int berth_oci_with_bind(json_t *spec, const struct berth_oci_bind *b, struct berth_err **err);

/* ---- namespaces, resources, devices (opts-linux.c) ---- */

/* Adds a namespace of `type` (pid, network, mount, ipc, uts, user, cgroup, time) or, when one
 * exists, sets its path; path NULL or "" means a new namespace (removes the path).
 * INVALID_ARGUMENT for an unknown type. */
int berth_oci_with_namespace(json_t *spec, const char *type, const char *path,
                             struct berth_err **err);

/* Removes the namespace of `type` (the container shares the host's). Absent is fine.
 * INVALID_ARGUMENT for an unknown type. */
int berth_oci_without_namespace(json_t *spec, const char *type, struct berth_err **err);

struct berth_oci_hugepage_limit {
    const char *page_size; /* "2MB", "1GB" */
    uint64_t limit;
};

/* CRI LinuxContainerResources. Zero (NULL) fields are unset, except oom_score_adj, which is
 * unset only at INT64_MIN (0 is a real value). */
struct berth_oci_resources {
    int64_t cpu_period, cpu_quota, cpu_shares, memory_limit;
    int64_t oom_score_adj; /* INT64_MIN: unset */
    int64_t memory_swap_limit;
    const char *cpuset_cpus, *cpuset_mems;
    const struct berth_oci_hugepage_limit *hugepages;
    size_t n_hugepages;
    const struct berth_labels *unified; /* cgroup v2 files, merged */
};

/* containerd's customopts.WithResources + WithOOMScoreAdj: linux.resources.cpu and .memory
 * always exist afterwards (as containerd leaves them, possibly empty); period, quota, shares,
 * cpus, mems, limit set when non-zero; memory.swap = swap limit, or = limit when only a limit
 * is given, and only when the host has a swap controller; hugepage limits appended when the
 * hugetlb controller exists (skipped otherwise: containerd's default
 * tolerate_missing_hugetlb_controller; check berth_oci_cgroup_hugetlb_available to refuse
 * instead); unified merged; process.oomScoreAdj unless oom_score_adj is INT64_MIN.
 * INVALID_ARGUMENT for negative period or shares, an out-of-range oom_score_adj, or a
 * hugepage limit without a page size. */
int berth_oci_with_resources(json_t *spec, const struct berth_oci_resources *r,
                             struct berth_err **err);

/* The LinuxResources object with_resources would produce on an empty resources object (cpu,
 * memory, hugepageLimits, unified; no devices, no oom), for a live Update through the shim.
 * Same errors; NULL on failure, else a new reference owned by the caller. */
json_t *berth_oci_resources_json(const struct berth_oci_resources *r, struct berth_err **err);

/* Host capabilities with_resources consults (read afresh each call). */
bool berth_oci_cgroup_swap_available(void);
bool berth_oci_cgroup_hugetlb_available(void);

/* A CRI Device (containerd oci.WithDevices): host_path is resolved (symlinks followed); a
 * device node becomes a linux.devices entry at container_path (the resolved host path when
 * NULL/"") plus an allow rule with `permissions` in linux.resources.devices; a directory adds
 * every device beneath it the way containerd walks one (pts, shm, fd, mqueue, .lxc,
 * .lxd-mounts, .udev and "console" skipped, symlinks and non-devices ignored) under
 * container_path/<name>. permissions: a non-empty subset of "rwm" (NULL/"" = "rwm").
 * NOT_FOUND naming a missing host_path; INVALID_ARGUMENT naming a path that is no device
 * (nor directory), or bad permissions; INTERNAL for other I/O errors. */
int berth_oci_with_device(json_t *spec, const char *host_path, const char *container_path,
                          const char *permissions, struct berth_err **err);

/* ---- seccomp ---- */

/* linux.seccomp = containerd's default profile (seccomp.h) for the spec's bounding set, so
 * apply it after the capabilities. FAILED_PRECONDITION when libseccomp does not know the
 * native architecture. */
int berth_oci_with_seccomp_default(json_t *spec, struct berth_err **err);

/* Removes linux.seccomp. */
int berth_oci_with_seccomp_unconfined(json_t *spec, struct berth_err **err);

/* linux.seccomp from an OCI LinuxSeccomp JSON file (CRI "localhost/<path>"), keeping the
 * fields runtime-spec knows in its order, as Go's decoding does. NOT_FOUND naming a missing
 * file; INVALID_ARGUMENT naming a file that is not a JSON object, lacks a string
 * defaultAction or has a mistyped architectures/flags/syscalls; INTERNAL for read errors. */
int berth_oci_with_seccomp_file(json_t *spec, const char *path, struct berth_err **err);

#endif
