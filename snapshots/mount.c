/* SPDX-License-Identifier: Apache-2.0 */
/* Mounts (see mount.h): protobuf conversion and mount(2). Depends on lib/ only, so berth-shim
 * can link it without the rest of snapshots/. */
#include "snapshots/mount.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mount.h>

#include "lib/util.h"

void berth_mounts_free(struct berth_mount *m, size_t n)
{
    if (!m)
        return;
    for (size_t i = 0; i < n; i++) {
        free(m[i].type);
        free(m[i].source);
        free(m[i].target);
        for (size_t j = 0; j < m[i].n_options; j++)
            free(m[i].options[j]);
        free(m[i].options);
    }
    free(m);
}

void berth_mount_add_option(struct berth_mount *m, const char *opt)
{
    m->options = berth_xrealloc(m->options, (m->n_options + 1) * sizeof(char *));
    m->options[m->n_options++] = berth_xstrdup(opt);
}

void berth_mounts_to_pb(const struct berth_mount *m, size_t n, Containerd__Types__Mount ***out_pbs)
{
    void **arr = berth_xcalloc(1, n * sizeof(void *) + n * sizeof(Containerd__Types__Mount) + 1);
    Containerd__Types__Mount *pbs = (Containerd__Types__Mount *)(arr + n);

    for (size_t i = 0; i < n; i++) {
        containerd__types__mount__init(&pbs[i]);
        pbs[i].type = m[i].type ? m[i].type : (char *)"";
        pbs[i].source = m[i].source ? m[i].source : (char *)"";
        pbs[i].target = m[i].target ? m[i].target : (char *)"";
        pbs[i].options = m[i].options;
        pbs[i].n_options = m[i].n_options;
        arr[i] = &pbs[i];
    }
    *out_pbs = (Containerd__Types__Mount **)arr;
}

void berth_mounts_from_pb(Containerd__Types__Mount *const *pbs, size_t n, struct berth_mount **out)
{
    struct berth_mount *m = berth_xcalloc(n ? n : 1, sizeof(*m));

    for (size_t i = 0; i < n; i++) {
        m[i].type = berth_xstrdup(pbs[i]->type ? pbs[i]->type : "");
        m[i].source = berth_xstrdup(pbs[i]->source ? pbs[i]->source : "");
        if (pbs[i]->target && *pbs[i]->target)
            m[i].target = berth_xstrdup(pbs[i]->target);
        for (size_t j = 0; j < pbs[i]->n_options; j++)
            berth_mount_add_option(&m[i], pbs[i]->options[j]);
    }
    *out = m;
}

static const struct {
    const char *name;
    bool clear;
    unsigned long flag;
} mount_flags[] = {
    {"ro", false, MS_RDONLY},        {"rw", true, MS_RDONLY},
    {"bind", false, MS_BIND},        {"rbind", false, MS_BIND | MS_REC},
    {"nosuid", false, MS_NOSUID},    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},      {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS}, {"async", true, MS_SYNCHRONOUS},
    {"noatime", false, MS_NOATIME},  {"relatime", false, MS_RELATIME},
    {"defaults", false, 0},
};

int berth_mount_all(const struct berth_mount *m, size_t n, const char *target,
                    struct berth_err **err)
{
    unsigned long flags = 0;
    _cleanup_free_ char *data = NULL;
    size_t dlen = 0;

    if (n != 1)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "expected exactly one mount, got %zu", n);
    for (size_t i = 0; i < m->n_options; i++) {
        const char *o = m->options[i];
        bool known = false;
        for (size_t j = 0; j < BERTH_N(mount_flags); j++) {
            if (strcmp(o, mount_flags[j].name) != 0)
                continue;
            if (mount_flags[j].clear)
                flags &= ~mount_flags[j].flag;
            else
                flags |= mount_flags[j].flag;
            known = true;
        }
        if (known)
            continue;
        data = berth_xrealloc(data, dlen + strlen(o) + 2);
        if (dlen)
            data[dlen++] = ',';
        memcpy(data + dlen, o, strlen(o) + 1);
        dlen += strlen(o);
    }
    if (flags & MS_BIND) {
        /* Read-only bind mounts need a remount: the first mount ignores MS_RDONLY. */
        if (mount(m->source, target, NULL, flags & (MS_BIND | MS_REC), NULL) < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "bind mount \"%s\" on \"%s\"",
                                 m->source, target);
        if ((flags & ~(MS_BIND | MS_REC)) &&
            mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | (flags & ~(MS_BIND | MS_REC)), NULL) <
                0) {
            int e = errno;
            umount2(target, MNT_DETACH);
            return berth_err_set(err, BERTH_E_INTERNAL, e, "remount \"%s\"", target);
        }
        return 0;
    }
    if (mount(m->source, target, m->type, flags, data) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "mount %s \"%s\" on \"%s\"", m->type,
                             m->source, target);
    return 0;
}

int berth_unmount(const char *target, struct berth_err **err)
{
    if (umount2(target, 0) == 0)
        return 0;
    if (errno == EBUSY && umount2(target, MNT_DETACH) == 0)
        return 0;
    return berth_err_set(err, BERTH_E_INTERNAL, errno, "unmount \"%s\"", target);
}
