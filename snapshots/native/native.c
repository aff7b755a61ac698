/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The native snapshotter (plugin id "native"): <root>/snapshots/<id> is the snapshot's
 * filesystem itself. Prepare with a parent copies the parent's tree (owners, modes, times,
 * xattrs best effort); a view of a parent copies nothing and binds the parent read-only.
 * Mounts are always one bind mount.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "snapshots/snapshots-internal.h"
#include "snapshots/storage/storage.h"

static int nat_open(const char *root, void **state, struct berth_err **err)
{
    struct berth_snap_base *b = berth_xcalloc(1, sizeof(*b));

    *state = NULL;
    if (berth_snap_base_open(b, root, "", err) < 0) {
        free(b);
        return -1;
    }
    *state = b;
    return 0;
}

static void nat_close(void *state)
{
    if (!state)
        return;
    berth_snap_base_close(state);
    free(state);
}

static int nat_populate(struct berth_snap_base *b, const char *tmp, enum berth_snap_kind kind,
                        uint64_t parent_id, struct berth_err **err)
{
    _cleanup_free_ char *src = NULL;

    if (!parent_id || kind != BERTH_SNAP_ACTIVE)
        return 0;
    src = berth_snap_base_data_path(b, parent_id);
    return berth_snap_copy_tree(src, tmp, err);
}

static void mounts_for(struct berth_snap_base *b, const struct berth_snap_rec *r,
                       const uint64_t *pids, size_t np, struct berth_mount **out, size_t *n)
{
    struct berth_mount *m = berth_xcalloc(1, sizeof(*m));
    bool active = r->info.kind == BERTH_SNAP_ACTIVE;

    m->type = berth_xstrdup("bind");
    /* A view binds its parent; active and committed snapshots their own directory. */
    m->source =
        berth_snap_base_data_path(b, r->info.kind == BERTH_SNAP_VIEW && np ? pids[0] : r->id);
    berth_mount_add_option(m, "rbind");
    berth_mount_add_option(m, active ? "rw" : "ro");
    *out = m;
    *n = 1;
}

static int create(struct berth_snap_base *b, enum berth_snap_kind kind, const char *key,
                  const char *parent, const struct berth_labels *labels,
                  struct berth_mount **mounts, size_t *n, struct berth_err **err)
{
    _cleanup_free_ uint64_t *pids = NULL;
    struct berth_snap_rec r;
    size_t np = 0;

    *mounts = NULL;
    *n = 0;
    if (berth_snap_base_create(b, kind, key, parent, labels, nat_populate, &r, &pids, &np, err) < 0)
        return -1;
    mounts_for(b, &r, pids, np, mounts, n);
    berth_snap_rec_clear(&r);
    return 0;
}

static int nat_prepare(void *state, const char *key, const char *parent,
                       const struct berth_labels *labels, struct berth_mount **mounts, size_t *n,
                       struct berth_err **err)
{
    return create(state, BERTH_SNAP_ACTIVE, key, parent, labels, mounts, n, err);
}

static int nat_view(void *state, const char *key, const char *parent,
                    const struct berth_labels *labels, struct berth_mount **mounts, size_t *n,
                    struct berth_err **err)
{
    return create(state, BERTH_SNAP_VIEW, key, parent, labels, mounts, n, err);
}

static int nat_mounts(void *state, const char *key, struct berth_mount **mounts, size_t *n,
                      struct berth_err **err)
{
    _cleanup_free_ uint64_t *pids = NULL;
    struct berth_snap_rec r;
    size_t np = 0;

    *mounts = NULL;
    *n = 0;
    if (berth_snap_base_get(state, key, &r, &pids, &np, err) < 0)
        return -1;
    mounts_for(state, &r, pids, np, mounts, n);
    berth_snap_rec_clear(&r);
    return 0;
}

static int nat_commit(void *state, const char *name, const char *key,
                      const struct berth_labels *labels, struct berth_err **err)
{
    return berth_snap_base_commit(state, name, key, labels, err);
}

static int nat_remove(void *state, const char *key, struct berth_err **err)
{
    return berth_snap_base_remove(state, key, err);
}

static int nat_stat(void *state, const char *key, struct berth_snap_info *out,
                    struct berth_err **err)
{
    return berth_snap_base_stat(state, key, out, err);
}

static int nat_update(void *state, const struct berth_snap_info *info, char *const *paths, size_t n,
                      struct berth_snap_info *out, struct berth_err **err)
{
    return berth_snap_base_update(state, info, paths, n, out, err);
}

static int nat_walk(void *state, const struct berth_filter *filter, berth_snap_walk_fn fn,
                    void *arg, struct berth_err **err)
{
    return berth_snap_base_walk(state, filter, fn, arg, err);
}

static int nat_usage(void *state, const char *key, struct berth_snap_usage *out,
                     struct berth_err **err)
{
    return berth_snap_base_usage(state, key, out, err);
}

static int nat_cleanup(void *state, struct berth_err **err)
{
    return berth_snap_base_cleanup(state, err);
}

static int nat_check(void *state, bool in_flight, berth_snap_check_fn fn, void *arg,
                     struct berth_err **err)
{
    return berth_snap_base_check(state, in_flight, fn, arg, err);
}

const struct berth_snapshotter_ops berth_snap_native_ops = {
    .name = "native",
    .open = nat_open,
    .close = nat_close,
    .prepare = nat_prepare,
    .view = nat_view,
    .mounts = nat_mounts,
    .commit = nat_commit,
    .remove = nat_remove,
    .stat = nat_stat,
    .update = nat_update,
    .walk = nat_walk,
    .usage = nat_usage,
    .cleanup = nat_cleanup,
    .check = nat_check,
};
