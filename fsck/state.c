/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fsck of what lives outside the stores: task bundles under <state>/tasks/<ns>/<id>, pod
 * network namespaces under <state>/netns, and overlay mounts of snapshot directories (from
 * /proc/self/mountinfo). Each is an orphan when nothing names it any more.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h> /* the CRI sandbox extension, where a pod's netns path is kept */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "fsck/fsck-internal.h"
#include "lib/fs.h"
#include "metadata/containers.h"
#include "metadata/keys.h"
#include "metadata/namespaces.h"
#include "runtime/cni/netns.h"
#include "runtime/v2/runtime.h"

/* services/cri's extension holding a sandbox's metadata JSON (cri-internal.h), as containerd's
 * CRI plugin names it; its Metadata.NetNSPath is the pod's netns. */
#define CRI_EXT_SANDBOX "io.cri-containerd.sandbox.metadata"

/* ---- bundles ---- */

/* A bundle with no container record whose task still runs is not ours to remove: berthd's
 * task table says so while it runs, the init pid the shim wrote says so when it is stopped
 * (containers outlive berthd). */
static bool task_alive(struct fsck_ctx *c, const char *ns, const char *id, const char *bundle)
{
    _cleanup_free_ char *pid = NULL;
    long p;

    if (c->s->runtime) {
        struct berth_rt_task *t = NULL;
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_rt_task_get(c->s->runtime, ns, id, &t, &e) == 0) {
            berth_rt_task_put(t);
            return true;
        }
        return false;
    }
    pid = berth_rt_bundle_read(bundle, "init.pid");
    p = pid ? strtol(pid, NULL, 10) : 0;
    return p > 0 && (kill((pid_t)p, 0) == 0 || errno == EPERM);
}

static int check_bundles(struct fsck_ctx *c, struct berth_err **err)
{
    _cleanup_free_ char *tasks = berth_strdup_printf("%s/tasks", c->s->state);
    DIR *nsd = opendir(tasks);
    struct dirent *nse;

    if (!nsd)
        return errno == ENOENT ? 0
                               : berth_err_set(err, BERTH_E_INTERNAL, errno, "open \"%s\"", tasks);
    while ((nse = readdir(nsd))) {
        _cleanup_free_ char *nsdir = NULL;
        struct dirent *ide;
        DIR *idd;

        if (nse->d_name[0] == '.')
            continue;
        nsdir = berth_strdup_printf("%s/%s", tasks, nse->d_name);
        if (!(idd = opendir(nsdir)))
            continue;
        while ((ide = readdir(idd))) {
            _cleanup_free_ char *b = NULL;
            char key[BERTH_KEY_MAX];
            int n;

            if (strcmp(ide->d_name, ".") == 0 || strcmp(ide->d_name, "..") == 0)
                continue;
            b = berth_strdup_printf("%s/%s", nsdir, ide->d_name);
            if (ide->d_name[0] == '.') {
                fsck_add(c, BERTH_FSCK_ORPHAN, "bundle", b,
                         "removal that did not finish (berthd's start-up removes it too)");
                continue;
            }
            n = snprintf(key, sizeof(key), BERTH_KEY_CONTAINERS "%s/%s", nse->d_name, ide->d_name);
            if (n > 0 && n < BERTH_KEY_MAX && berth_meta_exists(c->txn, key))
                continue;
            if (task_alive(c, nse->d_name, ide->d_name, b))
                fsck_add(c, BERTH_FSCK_INFO, "bundle", b,
                         "its task runs but its container record is gone");
            else
                fsck_add(c, BERTH_FSCK_ORPHAN, "bundle", b, "no container record and no task");
        }
        closedir(idd);
    }
    closedir(nsd);
    return 0;
}

/* ---- pod network namespaces ---- */

struct netns_scan {
    struct berth_meta_txn *txn;
    struct berth_strset *paths;
};

static int netns_cb(const char *key, const void *val, size_t len, void *arg, struct berth_err **err)
{
    struct netns_scan *a = arg;
    _cleanup_(berth_container_freep) struct berth_container *ct = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    const struct berth_any *ext;
    const char *rest = key + strlen(BERTH_KEY_CONTAINERS), *slash = strchr(rest, '/');
    json_t *j, *p;

    (void)val, (void)len, (void)err;
    if (!slash)
        return 0;
    {
        _cleanup_free_ char *ns = berth_xstrndup(rest, (size_t)(slash - rest));
        /* a record that cannot be decoded is reported by the store check */
        if (berth_meta_containers_get(a->txn, ns, slash + 1, &ct, &e) < 0)
            return 0;
    }
    ext = berth_container_ext_get(ct, CRI_EXT_SANDBOX);
    if (!ext || !ext->present)
        return 0;
    j = json_loadb((const char *)ext->value.data, ext->value.len, 0, NULL);
    p = json_object_get(json_object_get(j, "Metadata"), "NetNSPath");
    if (json_is_string(p) && *json_string_value(p))
        berth_strset_add(a->paths, json_string_value(p));
    json_decref(j);
    return 0;
}

static int check_netns(struct fsck_ctx *c, struct berth_err **err)
{
    _cleanup_free_ char *dir = berth_strdup_printf("%s/netns", c->s->state);
    struct berth_strset paths = {0};
    struct netns_scan a = {c->txn, &paths};
    struct dirent *de;
    DIR *d;

    if (berth_meta_scan(c->txn, BERTH_KEY_CONTAINERS, netns_cb, &a, err) < 0)
        return -1;
    if (!(d = opendir(dir))) {
        berth_strset_clear(&paths);
        return errno == ENOENT ? 0
                               : berth_err_set(err, BERTH_E_INTERNAL, errno, "open \"%s\"", dir);
    }
    while ((de = readdir(d))) {
        _cleanup_free_ char *path = NULL;
        if (de->d_name[0] == '.')
            continue;
        path = berth_strdup_printf("%s/%s", dir, de->d_name);
        if (berth_strset_has(&paths, path))
            continue;
        /* RunPodSandbox creates the netns before the sandbox's record (the spec names it), so
         * while berthd runs a fresh one may be a sandbox in flight: only say so. */
        if (c->s->live)
            fsck_add(c, BERTH_FSCK_INFO, "netns", path,
                     "no sandbox record names it (a sandbox being created, or an orphan: check "
                     "offline to repair)");
        else
            fsck_add(c, BERTH_FSCK_ORPHAN, "netns", path, "no sandbox record names it");
    }
    closedir(d);
    berth_strset_clear(&paths);
    return 0;
}

/* ---- mounts of snapshot directories ---- */

/* The snapshot directory "<root>/snapshots/<sn>/snapshots/<id>" a layer path lies in, or NULL. */
static char *snapshot_dir_of(const char *root, const char *path)
{
    size_t n = strlen(root);
    const char *p, *q;

    if (strncmp(path, root, n) != 0 || !berth_str_has_prefix(path + n, "/snapshots/"))
        return NULL;
    p = path + n + strlen("/snapshots/");
    if (!(q = strchr(p, '/')) || !berth_str_has_prefix(q, "/snapshots/"))
        return NULL;
    q += strlen("/snapshots/");
    q += strcspn(q, "/");
    return berth_xstrndup(path, (size_t)(q - path));
}

/* Whether target lies in the bundle of a container that has a record: its rootfs, which the
 * container's task uses whatever state its snapshot is in (that is reported on its own). */
static bool in_live_bundle(struct fsck_ctx *c, const char *state, const char *target)
{
    const char *rest, *slash;
    char key[BERTH_KEY_MAX];
    int n;

    if (!state || !berth_str_has_prefix(target, state) ||
        !berth_str_has_prefix(target + strlen(state), "/tasks/"))
        return false;
    rest = target + strlen(state) + strlen("/tasks/");
    if (!(slash = strchr(rest, '/')))
        return false;
    n = snprintf(key, sizeof(key), BERTH_KEY_CONTAINERS "%.*s/%.*s", (int)(slash - rest), rest,
                 (int)strcspn(slash + 1, "/"), slash + 1);
    return n > 0 && n < BERTH_KEY_MAX && berth_meta_exists(c->txn, key);
}

/* Why an overlay mount at target with these super options is an orphan, or NULL. */
static const char *mount_orphan(struct fsck_ctx *c, const char *root, const char *state,
                                const char *target, char *opts)
{
    bool ours = false, gone = false;
    char *save = NULL;

    for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
        char *v = strchr(o, '=');
        char *save2 = NULL;
        if (!v || (!berth_str_has_prefix(o, "lowerdir=") && !berth_str_has_prefix(o, "upperdir=")))
            continue;
        for (char *dir = strtok_r(v + 1, ":", &save2); dir; dir = strtok_r(NULL, ":", &save2)) {
            _cleanup_free_ char *sd = snapshot_dir_of(root, dir);
            struct stat sb;
            if (!sd)
                continue;
            ours = true;
            gone = gone || stat(sd, &sb) < 0 || berth_strset_has(&c->stray, sd);
        }
    }
    /* A container's rootfs is never an orphan: unmounting it would pull the ground from under
     * a running task (a missing snapshot is reported for the snapshot). */
    if (!ours || in_live_bundle(c, state, target))
        return NULL;
    if (gone)
        return "mounts a snapshot that no longer exists";
    if (!state || c->s->live)
        return NULL;
    /* While berthd is stopped, its only mounts of snapshots are task rootfs in bundles (an
     * orphan bundle's goes with it). Anything else under state is a temporary mount (diff,
     * apply, mount helpers) a crash left. */
    if (berth_str_has_prefix(target, state) && target[strlen(state)] == '/' &&
        !berth_str_has_prefix(target + strlen(state), "/tasks/"))
        return "temporary mount of a snapshot that berthd did not undo";
    return NULL;
}

static int check_mounts(struct fsck_ctx *c, struct berth_err **err)
{
    _cleanup_free_ char *root = realpath(c->s->root, NULL);
    _cleanup_free_ char *state = c->s->state ? realpath(c->s->state, NULL) : NULL;
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    FILE *f;

    (void)err;
    if (!root || !(f = fopen("/proc/self/mountinfo", "re")))
        return 0; /* no root yet, or no /proc: nothing of ours can be mounted */
    while (getline(&line, &cap, f) > 0) {
        /* id parent maj:min root target options [optional...] - fstype source superopts */
        char target[4096], fstype[64], opts[8192];
        const char *sep = strstr(line, " - "), *why;
        if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", target) != 1 ||
            sscanf(sep + 3, "%63s %*s %8191s", fstype, opts) != 2 || strcmp(fstype, "overlay") != 0)
            continue;
        berth_mountinfo_unescape(target);
        berth_mountinfo_unescape(opts);
        if ((why = mount_orphan(c, root, state, target, opts)))
            fsck_add(c, BERTH_FSCK_ORPHAN, "mount", target, "%s", why);
    }
    fclose(f);
    return 0;
}

int fsck_check_state(struct fsck_ctx *c, struct berth_err **err)
{
    if (c->s->state && (check_bundles(c, err) < 0 || check_netns(c, err) < 0))
        return -1;
    return c->s->root ? check_mounts(c, err) : 0;
}

void fsck_repair_state(struct fsck_ctx *c)
{
    for (size_t i = 0; i < c->r->n; i++) {
        const struct berth_fsck_finding *f = &c->r->v[i];
        _cleanup_err_ struct berth_err *e = NULL;

        if (f->cls != BERTH_FSCK_ORPHAN)
            continue;
        if (strcmp(f->kind, "mount") == 0)
            (void)umount2(f->id, MNT_DETACH);
        else if (strcmp(f->kind, "netns") == 0)
            (void)berth_netns_remove(f->id, &e);
        else if (strcmp(f->kind, "bundle") == 0)
            berth_rt_bundle_remove(f->id); /* unmounts a rootfs left mounted first */
    }
}
