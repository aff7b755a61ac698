/* SPDX-License-Identifier: Apache-2.0 */
/* The container's cgroup as seen from /proc/<init pid>/cgroup: its member pids (Task.Pids)
 * on cgroup v1, v2 and this machine's hybrid layout (v1 controllers + cgroup2 at
 * /sys/fs/cgroup/unified). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

int shim_cgroup_stats(pid_t pid, struct berth_bytes *value, const char **type_url,
                      struct berth_err **err)
{
    return berth_err_set(err, BERTH_E_NOT_IMPLEMENTED, 0, "stats are not implemented yet");
}
