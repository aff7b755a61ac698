/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl images import/export/mount/unmount. import streams the archive (a file or stdin)
 * over berth's Transfer/Import call, which does the whole import and unpack inside berthd;
 * export writes Transfer/Export's OCI archive to a file or stdout. mount resolves the image's
 * top chain ID client-side (Images.Get + Content.Read, images/walk.h), makes a view (or
 * with --rw an active snapshot) keyed by the target path under a lease and mounts it.
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/berth/services/images/v1/transfer.pb-c.h"
#include "api/services/leases/v1/leases.pb-c.h"
#include "api/services/snapshots/v1/snapshots.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "images/walk.h"
#include "lib/sha256.h"
#include "snapshots/snapshotter.h"

#define T_SVC "/berth.services.images.v1.Transfer/"
#define CHUNK (4 << 20) /* bytes per Import message */

typedef Berth__Services__Images__V1__ImportResponse import_resp_t;
DEFINE_PB_CLEANUP(import_resp_t, import_resp_freep)

static void progress(int64_t sent, int64_t total, int64_t *last_ns, bool done)
{
    int64_t now = berth_mono_ns();

    if (!done && now - *last_ns < 100000000) /* at most 10 updates a second */
        return;
    *last_ns = now;
    if (total > 0)
        fprintf(stderr, "\rimporting: %.1f / %.1f MiB (%d%%)", sent / 1048576.0, total / 1048576.0,
                (int)(sent * 100 / total));
    else
        fprintf(stderr, "\rimporting: %.1f MiB", sent / 1048576.0);
    if (done)
        fputc('\n', stderr);
}

int berthctl_images_import(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const struct option opts[] = {{"platform", required_argument, NULL, 'p'},
                                         {"all-platforms", no_argument, NULL, 'a'},
                                         {"no-unpack", no_argument, NULL, 'n'},
                                         {"snapshotter", required_argument, NULL, 's'},
                                         {"index-name", required_argument, NULL, 'i'},
                                         {"base-name", required_argument, NULL, 'b'},
                                         {0}};
    _cleanup_(berth_client_bidi_freep) struct berth_client_bidi *b = NULL;
    _cleanup_(import_resp_freep) import_resp_t *resp = NULL;
    _cleanup_close_ int fd = -1;
    _cleanup_free_ uint8_t *buf = NULL;
    Berth__Services__Images__V1__ImportOptions o =
        BERTH__SERVICES__IMAGES__V1__IMPORT_OPTIONS__INIT;
    Berth__Services__Images__V1__ImportRequest req =
        BERTH__SERVICES__IMAGES__V1__IMPORT_REQUEST__INIT;
    int64_t total = 0, sent = 0, last = 0;
    bool show = false;
    struct stat sb;
    int c;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            o.platform = optarg;
            break;
        case 'a':
            o.all_platforms = true;
            break;
        case 'n':
            o.no_unpack = true;
            break;
        case 's':
            o.snapshotter = optarg;
            break;
        case 'i':
            o.index_name = optarg;
            break;
        case 'b':
            o.base_name = optarg;
            break;
        default:
            return berthctl_bad_option(ctl, c, argv, err);
        }
    }
    if (argc - optind != 1)
        return berthctl_usage(ctl, err, "images import: want exactly one FILE (or -)");
    if (o.platform && *o.platform) {
        struct berth_platform p;
        if (berth_platform_parse(o.platform, &p, err) < 0) {
            ctl->usage_error = true;
            return -1;
        }
        berth_platform_clear(&p);
    }
    if (strcmp(argv[optind], "-") == 0) {
        fd = dup(STDIN_FILENO);
    } else {
        fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
                                 "open \"%s\"", argv[optind]);
    }
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
        total = sb.st_size;
    show = isatty(STDERR_FILENO) && total > (64 << 20);
    buf = berth_xmalloc(CHUNK);
    berthctl_long_call(ctl);
    if (berth_client_bidi_open(ctl->client, T_SVC "Import", &b, err) < 0)
        return -1;
    req.options = &o;
    for (;;) {
        size_t got = 0;
        while (got < CHUNK) {
            ssize_t n = read(fd, buf + got, CHUNK - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return berth_err_set(err, BERTH_E_INTERNAL, errno, "read \"%s\"", argv[optind]);
            if (n == 0)
                break;
            got += (size_t)n;
        }
        if (got == 0 && !req.options)
            break;
        req.data.data = buf;
        req.data.len = got;
        if (berth_client_bidi_send(b, &req.base, err) < 0)
            return -1;
        req.options = NULL;
        sent += (int64_t)got;
        if (show)
            progress(sent, total, &last, false);
        if (got < CHUNK)
            break;
    }
    if (show)
        progress(sent, total, &last, true);
    if (berth_client_bidi_close_send(b, err) < 0 ||
        berth_client_bidi_recv(b, &berth__services__images__v1__import_response__descriptor,
                               (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    if (!resp)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "import: no reply");
    if (berth_client_bidi_close(b, err) < 0)
        return -1;
    for (size_t i = 0; i < resp->n_images; i++) {
        const Berth__Services__Images__V1__ImportedImage *im = resp->images[i];
        fprintf(ctl->out, "%s %s\n", im->name, im->target ? im->target->digest : "");
    }
    return 0;
}

struct export_sink {
    int fd;
    struct berth_err *err;
};

static int export_cb(const ProtobufCMessage *msg, void *arg)
{
    const Berth__Services__Images__V1__ExportResponse *r = (const void *)msg;
    struct export_sink *s = arg;
    size_t done = 0;

    while (done < r->data.len) {
        ssize_t n = write(s->fd, r->data.data + done, r->data.len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            berth_err_set(&s->err, BERTH_E_INTERNAL, errno, "write archive");
            return 1;
        }
        done += (size_t)n;
    }
    return 0;
}

int berthctl_images_export(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const struct option opts[] = {
        {"platform", required_argument, NULL, 'p'}, {"all-platforms", no_argument, NULL, 'a'}, {0}};
    Berth__Services__Images__V1__ExportRequest req =
        BERTH__SERVICES__IMAGES__V1__EXPORT_REQUEST__INIT;
    struct export_sink s = {.fd = -1};
    _cleanup_free_ char *tmp = NULL;
    const char *file;
    int c, ret;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
        if (c == 'p')
            req.platform = optarg;
        else if (c == 'a')
            req.all_platforms = true;
        else
            return berthctl_bad_option(ctl, c, argv, err);
    }
    if (argc - optind < 2)
        return berthctl_usage(ctl, err, "images export: want FILE|- NAME...");
    berthctl_long_call(ctl);
    file = argv[optind];
    req.names = argv + optind + 1;
    req.n_names = (size_t)(argc - optind - 1);
    if (strcmp(file, "-") == 0) {
        s.fd = STDOUT_FILENO;
    } else {
        /* written next to the target and renamed at the end: no half archive under FILE */
        tmp = berth_strdup_printf("%s.partial", file);
        s.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (s.fd < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "create \"%s\"", tmp);
    }
    ret = berth_client_server_stream(ctl->client, T_SVC "Export", &req.base,
                                     &berth__services__images__v1__export_response__descriptor,
                                     export_cb, &s, err);
    if (ret == 0 && s.err) {
        *err = steal_ptr(s.err);
        ret = -1;
    }
    if (tmp) {
        if (close(s.fd) < 0 && ret == 0)
            ret = berth_err_set(err, BERTH_E_INTERNAL, errno, "close \"%s\"", tmp);
        if (ret == 0 && rename(tmp, file) < 0)
            ret = berth_err_set(err, BERTH_E_INTERNAL, errno, "rename to \"%s\"", file);
        if (ret < 0)
            unlink(tmp);
    }
    berth_err_free(&s.err);
    return ret;
}

/* ---- mount ---- */

/* The top chain ID of image name for platform p. */
static int top_chain(struct berthctl *ctl, const char *name, const struct berth_platform *p,
                     char **out, struct berth_err **err)
{
    _cleanup_(berth_image_walk_clear) struct berth_image_walk w = {0};

    *out = NULL;
    if (berthctl_image_walk(ctl, name, p, &w, err) < 0)
        return -1;
    if (w.manifest->n_layers == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "image \"%s\" has no layers", name);
    *out = berth_xstrdup(w.chain_ids[w.manifest->n_layers - 1]);
    return 0;
}

/* Lease id for a mount target: leases may not contain '/'. */
static char *mount_lease(const char *target)
{
    char d[72];

    berth_sha256_digest_buf(target, strlen(target), d);
    return berth_strdup_printf("mount-%.16s", d + 7);
}

int berthctl_images_mount(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const struct option opts[] = {{"platform", required_argument, NULL, 'p'},
                                         {"snapshotter", required_argument, NULL, 's'},
                                         {"rw", no_argument, NULL, 'w'},
                                         {0}};
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *lr = NULL, *sr = NULL;
    _cleanup_free_ char *top = NULL, *lease = NULL;
    _cleanup_(berth_platform_clear) struct berth_platform p = {0};
    Containerd__Services__Leases__V1__CreateRequest lc =
        CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__INIT;
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest pr =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
    const Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *resp;
    const char *sn = getenv("BERTH_SNAPSHOTTER"), *plat = NULL;
    struct berth_mount *mounts = NULL;
    char target[PATH_MAX];
    bool rw = false;
    int c, ret;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
        if (c == 'p')
            plat = optarg;
        else if (c == 's')
            sn = optarg;
        else if (c == 'w')
            rw = true;
        else
            return berthctl_bad_option(ctl, c, argv, err);
    }
    if (argc - optind != 2)
        return berthctl_usage(ctl, err, "images mount: want NAME TARGET");
    if (!sn || !*sn)
        sn = BERTH_SNAP_DEFAULT;
    if (plat) {
        if (berth_platform_parse(plat, &p, err) < 0) {
            ctl->usage_error = true;
            return -1;
        }
    } else {
        berth_platform_host(&p);
    }
    if (!realpath(argv[optind + 1], target))
        return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
                             "mount target \"%s\"", argv[optind + 1]);
    if (top_chain(ctl, argv[optind], &p, &top, err) < 0)
        return -1;
    /* The lease keeps the snapshot from the GC while it is mounted (ctr does the same). */
    lease = mount_lease(target);
    lc.id = lease;
    if (berth_client_unary(ctl->client, "/containerd.services.leases.v1.Leases/Create", &lc.base,
                           &containerd__services__leases__v1__create_response__descriptor, &lr,
                           err) < 0)
        return -1;
    berth_client_set_lease(ctl->client, lease);
    pr.snapshotter = (char *)sn;
    pr.key = target;
    pr.parent = top;
    ret = berth_client_unary(
        ctl->client,
        rw ? "/containerd.services.snapshots.v1.Snapshots/Prepare"
           : "/containerd.services.snapshots.v1.Snapshots/View",
        &pr.base, &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor, &sr,
        err);
    berth_client_set_lease(ctl->client, NULL);
    if (ret < 0) {
        if ((*err)->code == BERTH_E_NOT_FOUND)
            berth_err_wrap(err, "image \"%s\" is not unpacked in %s", argv[optind], sn);
        return -1;
    }
    resp = (const void *)sr;
    berth_mounts_from_pb(resp->mounts, resp->n_mounts, &mounts);
    ret = berth_mount_all(mounts, resp->n_mounts, target, err);
    berth_mounts_free(mounts, resp->n_mounts);
    if (ret < 0)
        return -1;
    fprintf(ctl->out, "%s\n", target);
    return 0;
}

int berthctl_images_unmount(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const struct option opts[] = {
        {"rm", no_argument, NULL, 'r'}, {"snapshotter", required_argument, NULL, 's'}, {0}};
    _cleanup_free_ char *lease = NULL;
    const char *sn = getenv("BERTH_SNAPSHOTTER");
    char target[PATH_MAX];
    bool rm = false;
    int c;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
        if (c == 'r')
            rm = true;
        else if (c == 's')
            sn = optarg;
        else
            return berthctl_bad_option(ctl, c, argv, err);
    }
    if (argc - optind != 1)
        return berthctl_usage(ctl, err, "images unmount: want TARGET");
    if (!sn || !*sn)
        sn = BERTH_SNAP_DEFAULT;
    if (!realpath(argv[optind], target))
        return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
                             "mount target \"%s\"", argv[optind]);
    if (berth_unmount(target, err) < 0)
        return -1;
    if (rm) {
        Containerd__Services__Snapshots__V1__RemoveSnapshotRequest r =
            CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
        Containerd__Services__Leases__V1__DeleteRequest d =
            CONTAINERD__SERVICES__LEASES__V1__DELETE_REQUEST__INIT;
        _cleanup_(berthctl_pb_freep) ProtobufCMessage *r1 = NULL, *r2 = NULL;
        r.snapshotter = (char *)sn;
        r.key = target;
        if (berth_client_unary(ctl->client, "/containerd.services.snapshots.v1.Snapshots/Remove",
                               &r.base, &google__protobuf__empty__descriptor, &r1, err) < 0)
            return -1;
        lease = mount_lease(target);
        d.id = lease;
        _cleanup_err_ struct berth_err *e = NULL;
        (void)berth_client_unary(ctl->client, "/containerd.services.leases.v1.Leases/Delete",
                                 &d.base, &google__protobuf__empty__descriptor, &r2, &e);
    }
    fprintf(ctl->out, "%s\n", target);
    return 0;
}
