/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diff service (containerd's "walking" differ). Apply extracts a layer blob of the caller's
 * namespace into the mounts it is given (images/apply): a single overlay mount with an upperdir
 * is written straight into the upperdir in overlay whiteout format, a single writable bind
 * mount straight into its source; anything else is mounted on a temp dir under
 * <state>/tmpmounts and extracted in native format. The reply is the uncompressed layer's
 * descriptor (the diff ID the client checks). Diff (making a layer from two mount sets) is not
 * implemented yet: UNIMPLEMENTED.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/services/diff/v1/diff.pb-c.h"
#include "images/apply.h"
#include "lib/digest.h"
#include "metadata/content.h"
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

static const char *mount_option(const struct berth_mount *m, const char *key)
{
    size_t len = strlen(key);

    for (size_t i = 0; i < m->n_options; i++)
        if (strncmp(m->options[i], key, len) == 0 && m->options[i][len] == '=')
            return m->options[i] + len + 1;
    return NULL;
}

static bool mount_has_flag(const struct berth_mount *m, const char *flag)
{
    for (size_t i = 0; i < m->n_options; i++)
        if (strcmp(m->options[i], flag) == 0)
            return true;
    return false;
}

/* Splits a lowerdir= value ("a:b:c", nearest first) into a NULL-terminated vector. */
static char **split_lowers(const char *s)
{
    size_t n = 1, i = 0;
    char **v;

    for (const char *p = s; *p; p++)
        n += *p == ':';
    v = berth_xcalloc(n + 1, sizeof(char *));
    while (*s) {
        const char *c = strchr(s, ':');
        size_t len = c ? (size_t)(c - s) : strlen(s);
        if (len)
            v[i++] = berth_xstrndup(s, len);
        s += len + (c ? 1 : 0);
    }
    return v;
}

struct apply_target {
    char *dir;      /* where to extract */
    char *tmpmount; /* non-NULL: dir is a temp mount to undo */
    struct berth_apply_opts opts;
    char **lowers;
};

static void apply_target_clear(struct apply_target *t)
{
    if (t->tmpmount) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_unmount(t->tmpmount, &e) == 0)
            rmdir(t->tmpmount);
        free(t->tmpmount);
    }
    free(t->dir);
    berth_strv_free(t->lowers);
}

static int choose_target(const struct berth_services *app, const struct berth_mount *m, size_t n,
                         struct apply_target *t, struct berth_err **err)
{
    if (n == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "apply: no mounts given");
    if (n == 1 && strcmp(m[0].type ? m[0].type : "", "overlay") == 0 &&
        mount_option(m, "upperdir")) {
        const char *lower = mount_option(m, "lowerdir");
        t->dir = berth_xstrdup(mount_option(m, "upperdir"));
        t->opts.mode = BERTH_APPLY_OVERLAY;
        if (lower) {
            t->lowers = split_lowers(lower);
            t->opts.lowers = (const char *const *)t->lowers;
        }
        return 0;
    }
    t->opts.mode = BERTH_APPLY_NATIVE;
    if (n == 1 && strcmp(m[0].type ? m[0].type : "", "bind") == 0 && !mount_has_flag(m, "ro") &&
        m[0].source && *m[0].source) {
        t->dir = berth_xstrdup(m[0].source);
        return 0;
    }
    /* anything else: mount it and extract into the mount point */
    _cleanup_free_ char *base =
        berth_strdup_printf("%s/tmpmounts", app->state ? app->state : "/tmp");
    if (mkdir(base, 0700) < 0 && errno != EEXIST)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "apply: mkdir \"%s\"", base);
    _cleanup_free_ char *dir = berth_strdup_printf("%s/apply-XXXXXX", base);
    if (!mkdtemp(dir))
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "apply: mkdtemp under \"%s\"", base);
    if (berth_mount_all(m, n, dir, err) < 0) {
        rmdir(dir);
        return berth_err_wrap(err, "apply: mount");
    }
    t->tmpmount = berth_xstrdup(dir);
    t->dir = steal_ptr(dir);
    return 0;
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
    struct apply_target t = {0};
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
    if (choose_target(app, mounts, req->n_mounts, &t, err) < 0)
        goto out;
    dirfd = open(t.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        berth_err_set(err, errno == ENOENT ? BERTH_E_INVALID_ARGUMENT : BERTH_E_INTERNAL, errno,
                      "apply: open \"%s\"", t.dir);
        goto out;
    }
    if (berth_apply_layer_opts(blob, dirfd, &t.opts, diff_id, &size, err) < 0) {
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
    apply_target_clear(&t);
    berth_mounts_free(mounts, req->n_mounts);
    return ret;
}

static const struct berth_method methods[] = {
    {"Apply", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = diff_apply},
};

const struct berth_service berth_svc_diff = {&containerd__services__diff__v1__diff__descriptor,
                                             methods, BERTH_N(methods)};
