/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diff service (containerd's "walking" differ). Apply extracts a layer blob of the caller's
 * namespace into the mounts it is given (images/apply): a single overlay mount with an upperdir
 * is written straight into the upperdir in overlay whiteout format, a single writable bind
 * mount straight into its source; anything else is mounted on a temp dir under
 * <state>/tmpmounts and extracted in native format. The reply is the uncompressed layer's
 * descriptor (the diff ID the client checks). Diff makes a layer from two mount sets
 * (images/diff): the right side's overlay upperdir is read directly when the left side shows
 * exactly its lowerdirs (a View of the parent), binds are read through their source and other
 * mounts are temp-mounted read-only under <state>/tmpmounts; the tar (gzip'd unless plain tar is
 * asked for) goes through a namespaced ingest (metadata/ingest.h) and is recorded in the
 * namespace with the label containerd.io/uncompressed and the lease of the call.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/random.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/services/diff/v1/diff.pb-c.h"
#include "images/apply.h"
#include "images/diff.h"
#include "images/mountdir.h"
#include "lib/digest.h"
#include "metadata/content.h"
#include "metadata/ingest.h"
#include "services/services.h"
#include "snapshots/snapshotter.h"

#define LAYER_TAR "application/vnd.oci.image.layer.v1.tar"

/* Media types Apply knows; the compression is sniffed from the bytes anyway, as containerd
 * does, so these only gate what is "not implemented" (encrypted layers, unknown types). */
static const char *const known_media_types[] = {
    LAYER_TAR,
    LAYER_TAR "+gzip",
    LAYER_TAR "+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
};

static bool media_type_known(const char *mt)
{
    for (size_t i = 0; i < BERTH_N(known_media_types); i++)
        if (strcmp(mt, known_media_types[i]) == 0)
            return true;
    return false;
}

static int diff_apply(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Diff__V1__ApplyRequest *req = (const void *)in;
    Containerd__Services__Diff__V1__ApplyResponse resp =
        CONTAINERD__SERVICES__DIFF__V1__APPLY_RESPONSE__INIT;
    Containerd__Types__Descriptor applied = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    struct berth_services *app = berth_svc_app(ctx);
    _cleanup_(berth_content_info_freep) struct berth_content_info *info = NULL;
    _cleanup_close_ int blob = -1, dirfd = -1;
    struct berth_mount *mounts = NULL;
    struct berth_mountdir t = {0};
    struct berth_apply_opts opts = {.mode = BERTH_APPLY_NATIVE};
    const char *digest, *mt;
    char diff_id[72];
    int64_t blob_size, size = 0;
    int ret = -1;

    if (!req->diff)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "apply: diff descriptor must be set");
    digest = req->diff->digest ? req->diff->digest : "";
    mt = req->diff->media_type ? req->diff->media_type : "";
    if (!media_type_known(mt))
        return berth_err_set(err, BERTH_E_NOT_IMPLEMENTED, 0,
                             "apply: unsupported media type \"%s\"", mt);
    if (berth_digest_validate(digest, err) < 0)
        return berth_err_wrap(err, "apply");
    {
        _cleanup_txn_ struct berth_meta_txn *txn = NULL;
        if (berth_meta_txn_begin_read(app->db, &txn, err) < 0 ||
            berth_meta_content_get(txn, ctx->ns, digest, &info, err) < 0)
            return berth_err_wrap(err, "apply");
    }
    if (!app->content)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "apply: no content store");
    if (berth_content_blob_open(app->content, digest, &blob, &blob_size, err) < 0)
        return berth_err_wrap(err, "apply");

    berth_mounts_from_pb(req->mounts, req->n_mounts, &mounts);
    if (berth_image_mountdir_resolve(mounts, req->n_mounts, app->state, "apply", 0, &t, err) < 0)
        goto out;
    if (t.overlay) {
        opts.mode = BERTH_APPLY_OVERLAY;
        opts.lowers = (const char *const *)t.lowers;
    }
    dirfd = open(t.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        berth_err_set(err, errno == ENOENT ? BERTH_E_INVALID_ARGUMENT : BERTH_E_INTERNAL, errno,
                      "apply: open \"%s\"", t.dir);
        goto out;
    }
    if (berth_apply_layer_opts(blob, dirfd, &opts, diff_id, &size, err) < 0) {
        berth_err_wrap(err, "apply %s", digest);
        goto out;
    }
    if (req->sync_fs && syncfs(dirfd) < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "apply: syncfs \"%s\"", t.dir);
        goto out;
    }
    applied.media_type = (char *)LAYER_TAR;
    applied.digest = diff_id;
    applied.size = size;
    resp.applied = &applied;
    berth_svc_pack(out, &resp.base);
    ret = 0;
out:
    berth_closep(&dirfd);
    berth_image_mountdir_release(&t);
    berth_mounts_free(mounts, req->n_mounts);
    return ret;
}

/* ---- Diff ---- */

#define UNCOMPRESSED_LABEL "containerd.io/uncompressed"

struct diff_sink {
    struct berth_meta_ingest *w;
    int64_t offset;
};

static int sink_cb(void *arg, const void *data, size_t len, struct berth_err **err)
{
    struct diff_sink *s = arg;

    if (berth_meta_ingest_write(s->w, s->offset, data, len, err) < 0)
        return -1;
    s->offset += (int64_t)len;
    return 0;
}

struct record_op {
    const struct berth_svc_ctx *ctx;
    struct berth_content_info *info;
};

/* The namespace had the blob already: merge the labels over its record's (the commit left the
 * record as it was, and the lease holds it). */
static int merge_labels_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct record_op *op = arg;
    _cleanup_(berth_content_info_freep) struct berth_content_info *cur = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    struct berth_content_info merged = *op->info;

    berth_labels_init(&merged.labels);
    if (berth_meta_content_get(txn, op->ctx->ns, op->info->digest, &cur, &e) == 0)
        berth_labels_copy(&merged.labels, &cur->labels);
    else if (e->code != BERTH_E_NOT_FOUND)
        return *err = steal_ptr(e), -1;
    for (size_t i = 0; i < op->info->labels.n; i++)
        berth_labels_set(&merged.labels, op->info->labels.keys[i], op->info->labels.vals[i]);
    int ret = berth_meta_content_put(txn, op->ctx->ns, &merged, err);
    berth_labels_clear(&merged.labels);
    return ret;
}

static const char *opt_value(const struct berth_mount *m, const char *key)
{
    size_t len = strlen(key);

    for (size_t i = 0; i < m->n_options; i++)
        if (strncmp(m->options[i], key, len) == 0 && m->options[i][len] == '=')
            return m->options[i] + len + 1;
    return NULL;
}

static bool is_type(const struct berth_mount *m, const char *type)
{
    return m->type && strcmp(m->type, type) == 0;
}

/* Whether the left mounts show exactly the lowerdirs of a single right overlay mount (a View
 * of the right snapshot's parent), so that its upperdir is the whole difference. */
static bool left_is_lowers(const struct berth_mount *l, size_t nl, const struct berth_mount *r,
                           size_t nr)
{
    const char *rl;

    if (nr != 1 || !is_type(r, "overlay") || !opt_value(r, "upperdir"))
        return false;
    rl = opt_value(r, "lowerdir");
    if (nl == 0)
        return !rl;
    if (nl != 1 || !rl)
        return false;
    if (is_type(l, "overlay") && !opt_value(l, "upperdir"))
        return opt_value(l, "lowerdir") && strcmp(opt_value(l, "lowerdir"), rl) == 0;
    return is_type(l, "bind") && l->source && !strchr(rl, ':') && strcmp(l->source, rl) == 0;
}

static char *diff_ref(const Containerd__Services__Diff__V1__DiffRequest *req)
{
    uint32_t r = 0;

    if (req->ref && *req->ref)
        return berth_xstrdup(req->ref);
    if (getrandom(&r, sizeof(r), 0) < 0)
        r = (uint32_t)berth_now_ns();
    return berth_strdup_printf("diff-%" PRId64 "-%08x", berth_now_ns(), r);
}

static int diff_diff(struct berth_svc_ctx *ctx, const ProtobufCMessage *in, struct berth_bytes *out,
                     struct berth_err **err)
{
    const Containerd__Services__Diff__V1__DiffRequest *req = (const void *)in;
    Containerd__Services__Diff__V1__DiffResponse resp =
        CONTAINERD__SERVICES__DIFF__V1__DIFF_RESPONSE__INIT;
    Containerd__Types__Descriptor desc = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    struct berth_services *app = berth_svc_app(ctx);
    _cleanup_free_ char *ref = NULL, *committed = NULL;
    struct berth_mount *left = NULL, *right = NULL;
    struct berth_mountdir lower = {0}, upper = {0};
    struct berth_diff_opts opts = {.gzip = true, .source_date_epoch = -1};
    struct berth_content_info info = {0};
    struct diff_sink sink = {0};
    const char *mt = req->media_type && *req->media_type ? req->media_type : LAYER_TAR "+gzip";
    char diff_id[72], digest[72];
    int ret = -1;

    if (strcmp(mt, LAYER_TAR) == 0)
        opts.gzip = false;
    else if (strcmp(mt, LAYER_TAR "+gzip") != 0)
        return berth_err_set(err, BERTH_E_NOT_IMPLEMENTED, 0, "diff: unsupported media type \"%s\"",
                             mt);
    if (req->n_right == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "diff: no right mounts given");
    if (req->source_date_epoch)
        opts.source_date_epoch =
            req->source_date_epoch->seconds < 0 ? 0 : req->source_date_epoch->seconds;
    berth_labels_init(&info.labels);
    for (size_t i = 0; i < req->n_labels; i++)
        berth_labels_set(&info.labels, req->labels[i]->key ? req->labels[i]->key : "",
                         req->labels[i]->value ? req->labels[i]->value : "");
    if (berth_labels_validate(&info.labels, err) < 0) {
        berth_labels_clear(&info.labels);
        return berth_err_wrap(err, "diff");
    }
    if (!app->content) {
        berth_labels_clear(&info.labels);
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "diff: no content store");
    }
    berth_mounts_from_pb(req->left, req->n_left, &left);
    berth_mounts_from_pb(req->right, req->n_right, &right);
    /* the left side is read as a whole tree: an overlay is mounted, never read via upperdir */
    if (req->n_left &&
        berth_image_mountdir_resolve(left, req->n_left, app->state, "diff",
                                     BERTH_MOUNTDIR_READONLY |
                                         (is_type(left, "overlay") ? BERTH_MOUNTDIR_MOUNT : 0),
                                     &lower, err) < 0)
        goto out;
    /* the upperdir holds exactly the changes only if the left side is the overlay's lowers */
    unsigned flags = BERTH_MOUNTDIR_READONLY;
    if (is_type(right, "overlay") && !left_is_lowers(left, req->n_left, right, req->n_right))
        flags |= BERTH_MOUNTDIR_MOUNT;
    if (berth_image_mountdir_resolve(right, req->n_right, app->state, "diff", flags, &upper, err) <
        0)
        goto out;
    opts.upper_is_overlay = upper.overlay;
    ref = diff_ref(req);
    {
        struct berth_meta_ingest_opts o = {.ns = ctx->ns, .lease = ctx->lease, .ref = ref};
        if (berth_meta_ingest_open(app->db, app->content, &o, &sink.w, err) < 0) {
            berth_err_wrap(err, "diff");
            goto out;
        }
    }
    if (berth_diff_write(lower.dir, upper.dir, &opts, sink_cb, &sink, diff_id, NULL, err) < 0) {
        _cleanup_err_ struct berth_err *e = NULL;
        berth_meta_ingest_close(steal_ptr(sink.w));
        (void)berth_meta_ingest_abort(app->db, app->content, ctx->ns, ctx->lease, ref, &e);
        goto out;
    }
    berth_meta_ingest_digest(sink.w, digest);
    info.digest = digest;
    info.size = sink.offset;
    berth_labels_set(&info.labels, UNCOMPRESSED_LABEL, diff_id);
    {
        _cleanup_err_ struct berth_err *e = NULL;
        int r =
            berth_meta_ingest_commit(sink.w, sink.offset, NULL, &info.labels, &committed, NULL, &e);
        if (r < 0 && e->code != BERTH_E_ALREADY_EXISTS) {
            _cleanup_err_ struct berth_err *e2 = NULL;
            berth_meta_ingest_close(steal_ptr(sink.w));
            (void)berth_meta_ingest_abort(app->db, app->content, ctx->ns, ctx->lease, ref, &e2);
            *err = steal_ptr(e);
            berth_err_wrap(err, "diff: commit");
            goto out;
        }
        sink.w = NULL; /* consumed on success and on ALREADY_EXISTS */
        if (r < 0) {
            struct record_op op = {ctx, &info};
            if (berth_meta_update(app->db, merge_labels_cb, &op, err) < 0) {
                berth_err_wrap(err, "diff: record %s", digest);
                goto out;
            }
        }
    }
    desc.media_type = (char *)mt;
    desc.digest = digest;
    desc.size = sink.offset;
    resp.diff = &desc;
    berth_svc_pack(out, &resp.base);
    ret = 0;
out:
    berth_labels_clear(&info.labels);
    berth_image_mountdir_release(&lower);
    berth_image_mountdir_release(&upper);
    berth_mounts_free(left, req->n_left);
    berth_mounts_free(right, req->n_right);
    return ret;
}

static const struct berth_method methods[] = {
    {"Apply", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = diff_apply},
    {"Diff", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = diff_diff},
};

const struct berth_service berth_svc_diff = {&containerd__services__diff__v1__diff__descriptor,
                                             methods, BERTH_N(methods)};
