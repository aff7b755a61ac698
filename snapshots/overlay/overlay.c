/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The overlayfs snapshotter (plugin id "overlayfs"), laid out as containerd's:
 * <root>/snapshots/<id>/fs is the layer (the upperdir while active), <id>/work the overlay
 * workdir of an active snapshot. Mounts are valid for the host kernel as they are: a snapshot
 * with no parent is a bind of its fs, a view of one parent a read-only bind of that parent, and
 * everything else one overlay mount with lowerdir listing parents nearest first.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshots/snapshots-internal.h"
#include "snapshots/storage/storage.h"

struct ovl {
    struct berth_snap_base base;
    bool index_off; /* /sys/module/overlay/parameters/index exists: add index=off */
};

/* overlay needs d_type to find whiteouts; xfs with ftype=0 and some others lack it. */
static int check_d_type(const char *dir, struct berth_err **err)
{
    _cleanup_free_ char *probe = berth_strdup_printf("%s/d_type-probe", dir);
    bool ok = false;
    struct dirent *de;
    DIR *d;

    if (mkdir(probe, 0700) < 0 && errno != EEXIST)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "mkdir \"%s\"", probe);
    d = opendir(dir);
    if (!d) {
        rmdir(probe);
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open \"%s\"", dir);
    }
    while ((de = readdir(d)))
        if (strcmp(de->d_name, "d_type-probe") == 0)
            ok = de->d_type == DT_DIR;
    closedir(d);
    rmdir(probe);
    if (!ok)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "\"%s\" does not support d_type: overlayfs needs it", dir);
    return 0;
}

static int ovl_open(const char *root, void **state, struct berth_err **err)
{
    struct ovl *o = berth_xcalloc(1, sizeof(*o));

    *state = NULL;
    if (berth_snap_base_open(&o->base, root, "fs", err) < 0) {
        free(o);
        return -1;
    }
    if (check_d_type(o->base.root, err) < 0) {
        berth_snap_base_close(&o->base);
        free(o);
        return -1;
    }
    o->index_off = access("/sys/module/overlay/parameters/index", F_OK) == 0;
    *state = o;
    return 0;
}

static void ovl_close(void *state)
{
    struct ovl *o = state;

    if (!o)
        return;
    berth_snap_base_close(&o->base);
    free(o);
}

static int ovl_populate(struct berth_snap_base *b, const char *tmp, enum berth_snap_kind kind,
                        uint64_t parent_id, struct berth_err **err)
{
    _cleanup_free_ char *fs = berth_strdup_printf("%s/fs", tmp);
    _cleanup_free_ char *work = berth_strdup_printf("%s/work", tmp);

    if (mkdir(fs, 0755) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "mkdir \"%s\"", fs);
    if (kind == BERTH_SNAP_ACTIVE && mkdir(work, 0711) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "mkdir \"%s\"", work);
    if (parent_id) {
        /* The new upper layer's root takes the owner of the parent's top layer. */
        _cleanup_free_ char *pfs = berth_snap_base_data_path(b, parent_id);
        struct stat st;
        if (stat(pfs, &st) == 0 && chown(fs, st.st_uid, st.st_gid) < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "chown \"%s\"", fs);
    }
    return 0;
}

static void mounts_for(struct ovl *o, const struct berth_snap_rec *r, const uint64_t *pids,
                       size_t np, struct berth_mount **out, size_t *n)
{
    struct berth_mount *m = berth_xcalloc(1, sizeof(*m));
    bool active = r->info.kind == BERTH_SNAP_ACTIVE;

    *out = m;
    *n = 1;
    if (np == 0) {
        m->type = berth_xstrdup("bind");
        m->source = berth_snap_base_data_path(&o->base, r->id);
        berth_mount_add_option(m, active ? "rw" : "ro");
        berth_mount_add_option(m, "rbind");
        return;
    }
    if (!active && np == 1) {
        m->type = berth_xstrdup("bind");
        m->source = berth_snap_base_data_path(&o->base, pids[0]);
        berth_mount_add_option(m, "ro");
        berth_mount_add_option(m, "rbind");
        return;
    }
    m->type = berth_xstrdup("overlay");
    m->source = berth_xstrdup("overlay");
    if (o->index_off)
        berth_mount_add_option(m, "index=off");
    if (active) {
        _cleanup_free_ char *work =
            berth_strdup_printf("workdir=%s/%" PRIu64 "/work", o->base.snapdir, r->id);
        _cleanup_free_ char *upper =
            berth_strdup_printf("upperdir=%s/%" PRIu64 "/fs", o->base.snapdir, r->id);
        berth_mount_add_option(m, work);
        berth_mount_add_option(m, upper);
    }
    {
        _cleanup_free_ char *lower = berth_xstrdup("lowerdir=");
        for (size_t i = 0; i < np; i++) {
            char *next = berth_strdup_printf("%s%s%s/%" PRIu64 "/fs", lower, i ? ":" : "",
                                             o->base.snapdir, pids[i]);
            free(lower);
            lower = next;
        }
        berth_mount_add_option(m, lower);
    }
}

static int create(struct ovl *o, enum berth_snap_kind kind, const char *key, const char *parent,
                  const struct berth_labels *labels, struct berth_mount **mounts, size_t *n,
                  struct berth_err **err)
{
    _cleanup_free_ uint64_t *pids = NULL;
    struct berth_snap_rec r;
    size_t np = 0;

    *mounts = NULL;
    *n = 0;
    if (berth_snap_base_create(&o->base, kind, key, parent, labels, ovl_populate, &r, &pids, &np,
                               err) < 0)
        return -1;
    mounts_for(o, &r, pids, np, mounts, n);
    berth_snap_rec_clear(&r);
    return 0;
}

static int ovl_prepare(void *state, const char *key, const char *parent,
                       const struct berth_labels *labels, struct berth_mount **mounts, size_t *n,
                       struct berth_err **err)
{
    return create(state, BERTH_SNAP_ACTIVE, key, parent, labels, mounts, n, err);
}

static int ovl_view(void *state, const char *key, const char *parent,
                    const struct berth_labels *labels, struct berth_mount **mounts, size_t *n,
                    struct berth_err **err)
{
    return create(state, BERTH_SNAP_VIEW, key, parent, labels, mounts, n, err);
}

static int ovl_mounts(void *state, const char *key, struct berth_mount **mounts, size_t *n,
                      struct berth_err **err)
{
    struct ovl *o = state;
    _cleanup_free_ uint64_t *pids = NULL;
    struct berth_snap_rec r;
    size_t np = 0;

    *mounts = NULL;
    *n = 0;
    if (berth_snap_base_get(&o->base, key, &r, &pids, &np, err) < 0)
        return -1;
    if (r.info.kind == BERTH_SNAP_COMMITTED) {
        /* A committed layer mounts read-only like a view of itself. */
        pids = berth_xrealloc(pids, (np + 1) * sizeof(uint64_t));
        memmove(pids + 1, pids, np * sizeof(uint64_t));
        pids[0] = r.id;
        np++;
    }
    mounts_for(o, &r, pids, np, mounts, n);
    berth_snap_rec_clear(&r);
    return 0;
}

static int ovl_commit(void *state, const char *name, const char *key,
                      const struct berth_labels *labels, struct berth_err **err)
{
    struct ovl *o = state;
    return berth_snap_base_commit(&o->base, name, key, labels, err);
}

static int ovl_remove(void *state, const char *key, struct berth_err **err)
{
    struct ovl *o = state;
    return berth_snap_base_remove(&o->base, key, err);
}

static int ovl_stat(void *state, const char *key, struct berth_snap_info *out,
                    struct berth_err **err)
{
    struct ovl *o = state;
    return berth_snap_base_stat(&o->base, key, out, err);
}

static int ovl_update(void *state, const struct berth_snap_info *info, char *const *paths, size_t n,
                      struct berth_snap_info *out, struct berth_err **err)
{
    struct ovl *o = state;
    return berth_snap_base_update(&o->base, info, paths, n, out, err);
}

static int ovl_walk(void *state, const struct berth_filter *filter, berth_snap_walk_fn fn,
                    void *arg, struct berth_err **err)
{
    struct ovl *o = state;
    return berth_snap_base_walk(&o->base, filter, fn, arg, err);
}

static int ovl_usage(void *state, const char *key, struct berth_snap_usage *out,
                     struct berth_err **err)
{
    struct ovl *o = state;
    return berth_snap_base_usage(&o->base, key, out, err);
}

static int ovl_cleanup(void *state, struct berth_err **err)
{
    struct ovl *o = state;
    return berth_snap_base_cleanup(&o->base, err);
}

static int ovl_check(void *state, bool in_flight, berth_snap_check_fn fn, void *arg,
                     struct berth_err **err)
{
    return berth_snap_base_check(&((struct ovl *)state)->base, in_flight, fn, arg, err);
}

const struct berth_snapshotter_ops berth_snap_overlay_ops = {
    .name = "overlayfs",
    .open = ovl_open,
    .close = ovl_close,
    .prepare = ovl_prepare,
    .view = ovl_view,
    .mounts = ovl_mounts,
    .commit = ovl_commit,
    .remove = ovl_remove,
    .stat = ovl_stat,
    .update = ovl_update,
    .walk = ovl_walk,
    .usage = ovl_usage,
    .cleanup = ovl_cleanup,
    .check = ovl_check,
};
