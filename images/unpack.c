/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unpacking an image into a snapshotter (containerd's unpacker, run in the daemon): the image
 * walk (images/walk.h) over the namespace's content, per layer prepare/apply/check/commit,
 * the content labels that tie the result together for the GC. Layers are extracted straight into
 * the directory the snapshot's mounts name (an overlay upperdir or a bind source); only other mount
 * shapes are temp-mounted under <tmp_dir>/tmpmounts.
 */
#include "images/import.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h> /* getrandom() for extract keys */
#include <sys/stat.h>
#include <unistd.h>

#include "images/apply.h"
#include "images/images-internal.h"
#include "images/mountdir.h"
#include "metadata/content.h"
#include "metadata/leases.h"
#include "metadata/snapshots.h"

int berth_image_blob_read(const struct berth_image_stores *st, const char *ns, const char *digest,
                          size_t max, struct berth_bytes *out, struct berth_err **err)
{
    _cleanup_(berth_content_info_freep) struct berth_content_info *info = NULL;
    _cleanup_close_ int fd = -1;
    int64_t size;
    size_t got = 0;

    memset(out, 0, sizeof(*out));
    {
        _cleanup_txn_ struct berth_meta_txn *txn = NULL;
        if (berth_meta_txn_begin_read(st->db, &txn, err) < 0 ||
            berth_meta_content_get(txn, ns, digest, &info, err) < 0)
            return -1;
    }
    if (berth_content_blob_open(st->content, digest, &fd, &size, err) < 0)
        return -1;
    if (size < 0 || (uint64_t)size > max)
        return berth_err_set(err, BERTH_E_OUT_OF_RANGE, 0, "blob %s too large (%" PRId64 ")",
                             digest, size);
    out->data = berth_xmalloc(size ? (size_t)size : 1);
    while (got < (size_t)size) {
        ssize_t n = pread(fd, out->data + got, (size_t)size - got, (off_t)got);
        if (n <= 0) {
            berth_bytes_clear(out);
            return berth_err_set(err, BERTH_E_INTERNAL, n < 0 ? errno : 0, "read blob %s", digest);
        }
        got += (size_t)n;
    }
    out->len = got;
    return 0;
}

static int local_read_cb(void *arg, const struct berth_descriptor *d, size_t max,
                         struct berth_bytes *out, struct berth_err **err)
{
    const struct berth_image_local_source *s = arg;
    return berth_image_blob_read(s->st, s->ns, d->digest, max, out, err);
}

void berth_image_local_source_init(struct berth_image_local_source *s,
                                   const struct berth_image_stores *st, const char *ns)
{
    s->src.read = local_read_cb;
    s->src.arg = s;
    s->st = st;
    s->ns = ns;
}

/* ---- applying a layer into a snapshot's mounts ---- */

static int apply_into(const struct berth_image_stores *st, int blob_fd, const struct berth_mount *m,
                      size_t n, char diff_id[72], struct berth_err **err)
{
    _cleanup_close_ int dfd = -1;
    struct berth_mountdir d;
    struct berth_apply_opts o = {.mode = BERTH_APPLY_NATIVE};
    int ret;

    if (berth_image_mountdir_resolve(m, n, st->tmp_dir, "unpack", 0, &d, err) < 0)
        return -1;
    if (d.overlay) {
        o.mode = BERTH_APPLY_OVERLAY;
        o.lowers = (const char *const *)d.lowers;
    }
    dfd = open(d.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        ret = berth_err_set(err, BERTH_E_INTERNAL, errno, "open \"%s\"", d.dir);
    else
        ret = berth_apply_layer_opts(blob_fd, dfd, &o, diff_id, NULL, err);
    berth_closep(&dfd);
    berth_image_mountdir_release(&d);
    return ret;
}

/* ---- the unpack ---- */

struct label_op {
    const char *ns;
    const char *digest, *key, *val;
};

static int label_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct label_op *op = arg;
    return berth_meta_content_label_set(txn, op->ns, op->digest, op->key, op->val, err);
}

static int label_set(const struct berth_image_stores *st, const char *ns, const char *digest,
                     const char *key, const char *val, struct berth_err **err)
{
    struct label_op op = {.ns = ns, .digest = digest, .key = key, .val = val};
    return berth_meta_update(st->db, label_cb, &op, err);
}

int berth_image_snapshot_committed(const struct berth_image_stores *st, const char *ns,
                                   const char *sn, const char *key, bool *out,
                                   struct berth_err **err)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    *out = false;
    if (berth_meta_txn_begin_read(st->db, &txn, err) < 0)
        return -1;
    if (berth_meta_snapshots_get(txn, ns, sn, key, &s, &e) < 0)
        return e->code == BERTH_E_NOT_FOUND ? 0 : (*err = steal_ptr(e), -1);
    *out = s->info.kind == BERTH_SNAP_COMMITTED;
    return 0;
}

static void remove_quietly(const struct berth_image_stores *st, struct berth_snapshotter *sn,
                           const char *ns, const char *lease, const char *key)
{
    _cleanup_err_ struct berth_err *e = NULL;
    (void)berth_meta_snapshots_remove(st->db, sn, ns, lease, key, &e);
}

int berth_image_unpack_layer(const struct berth_image_stores *st, struct berth_snapshotter *sn,
                             const char *ns, const char *lease, int fd, const char *digest,
                             const char *diff_id, const char *chain, const char *parent,
                             int (*gate)(void *arg, struct berth_err **err), void *gate_arg,
                             struct berth_err **err)
{
    _cleanup_free_ char *key = NULL;
    struct berth_mount *mounts = NULL;
    size_t n = 0;
    uint16_t r = 0;
    char got[72];

    (void)!getrandom(&r, sizeof(r), GRND_NONBLOCK);
    key = berth_strdup_printf("extract-%" PRId64 "-%04x %s", berth_now_ns(), r, chain);
    if (berth_meta_snapshots_create(st->db, sn, ns, lease, BERTH_SNAP_ACTIVE, key, parent, NULL,
                                    &mounts, &n, err) < 0)
        return -1;
    if (apply_into(st, fd, mounts, n, got, err) < 0) {
        berth_mounts_free(mounts, n);
        remove_quietly(st, sn, ns, lease, key);
        return berth_err_wrap(err, "apply layer %s", digest);
    }
    berth_mounts_free(mounts, n);
    if (strcmp(got, diff_id) != 0) {
        remove_quietly(st, sn, ns, lease, key);
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "wrong diff id %s calculated on extraction of %s, expected %s", got,
                             digest, diff_id);
    }
    if (gate && gate(gate_arg, err) < 0) { /* the caller's last word (streamed: the blob) */
        remove_quietly(st, sn, ns, lease, key);
        return -1;
    }
    if (berth_meta_snapshots_commit(st->db, sn, ns, lease, chain, key, NULL, err) < 0) {
        bool done = false;
        _cleanup_err_ struct berth_err *e = NULL;
        remove_quietly(st, sn, ns, lease, key);
        /* Someone else unpacked the same layer meanwhile: theirs is as good. */
        if ((*err)->code == BERTH_E_ALREADY_EXISTS &&
            berth_image_snapshot_committed(st, ns, sn->ops->name, chain, &done, &e) == 0 && done) {
            berth_err_free(err);
            return 0;
        }
        return -1;
    }
    return label_set(st, ns, digest, "containerd.io/uncompressed", diff_id, err);
}

int berth_image_unpack(const struct berth_image_stores *st, const char *ns, const char *lease,
                       const struct berth_descriptor *target, const struct berth_platform *platform,
                       const char *snapshotter, char **top_out, struct berth_err **err)
{
    _cleanup_(berth_image_walk_clear) struct berth_image_walk w = {0};
    _cleanup_free_ char *gckey = NULL;
    struct berth_image_local_source src;
    struct berth_snapshotter *sn = NULL;
    const char *parent = NULL;

    if (top_out)
        *top_out = NULL;
    if (!snapshotter || !*snapshotter)
        snapshotter = BERTH_SNAP_DEFAULT;
    if (!st->snapshotters)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "no snapshotter loaded");
    if (berth_snap_registry_get(st->snapshotters, snapshotter, &sn, err) < 0)
        return -1;
    berth_image_local_source_init(&src, st, ns);
    if (berth_image_walk(&src.src, target, platform, &w, err) < 0)
        return -1;
    for (size_t i = 0; i < w.manifest->n_layers; i++) {
        bool have = false;
        if (berth_image_snapshot_committed(st, ns, snapshotter, w.chain_ids[i], &have, err) < 0)
            return -1;
        if (!have) {
            const char *digest = w.manifest->layers[i].d.digest;
            _cleanup_close_ int fd = -1;
            int64_t size;
            if (berth_content_blob_open(st->content, digest, &fd, &size, err) < 0 ||
                berth_image_unpack_layer(st, sn, ns, lease, fd, digest, w.config->diff_ids[i],
                                         w.chain_ids[i], parent, NULL, NULL, err) < 0)
                return -1;
        }
        parent = w.chain_ids[i];
    }
    if (w.manifest->n_layers == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "image has no layers");
    gckey = berth_strdup_printf("containerd.io/gc.ref.snapshot.%s", snapshotter);
    if (label_set(st, ns, w.manifest->config.d.digest, gckey, parent, err) < 0)
        return -1;
    if (top_out)
        *top_out = berth_xstrdup(parent);
    return 0;
}
