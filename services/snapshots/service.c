/* SPDX-License-Identifier: Apache-2.0 */
/* Snapshots service: thin adapter over metadata/snapshots (the namespacing layer) and the
 * backend registry. The request's snapshotter field picks the backend ("" = overlayfs).
 * Prepare, Commit and Remove publish /snapshot/{prepare,commit,remove} after they succeed. */
#include <string.h>

#include "api/events/snapshot.pb-c.h"
#include "api/services/snapshots/v1/snapshots.pb-c.h"
#include "api/timestamp.h"
#include "google/protobuf/empty.pb-c.h"
#include "lib/filters.h"
#include "metadata/record.h"
#include "metadata/snapshots.h"
#include "services/services.h"

typedef Containerd__Services__Snapshots__V1__Info info_pb;

/* Messages built on the stack around borrowed strings. */
struct info_out {
    info_pb pb;
    Google__Protobuf__Timestamp created, updated;
    void **labels;
};

static void info_out_init(struct info_out *o, const struct berth_snap_info *info)
{
    containerd__services__snapshots__v1__info__init(&o->pb);
    o->pb.name = info->name;
    o->pb.parent = info->parent ? info->parent : (char *)"";
    o->pb.kind = (Containerd__Services__Snapshots__V1__Kind)info->kind;
    o->pb.created_at = berth_pb_ts_or_null(&o->created, info->created_ns);
    o->pb.updated_at = berth_pb_ts_or_null(&o->updated, info->updated_ns);
    berth_labels_to_pb(&info->labels,
                       &containerd__services__snapshots__v1__info__labels_entry__descriptor,
                       &o->labels, &o->pb.n_labels);
    o->pb.labels = (Containerd__Services__Snapshots__V1__Info__LabelsEntry **)o->labels;
}

static int resolve(struct berth_svc_ctx *ctx, const char *name, struct berth_snapshotter **out,
                   struct berth_err **err)
{
    return berth_snap_registry_get(berth_svc_app(ctx)->snapshotters,
                                   name && *name ? name : BERTH_SNAP_DEFAULT, out, err);
}

static void publish(struct berth_svc_ctx *ctx, const char *topic, const ProtobufCMessage *ev)
{
    struct berth_events *ex = berth_svc_app(ctx)->events;
    if (ex)
        berth_events_publish(ex, ctx->ns, topic, ev);
}

static void pack_mounts(struct berth_bytes *out, ProtobufCMessage *resp,
                        Containerd__Types__Mount ***field, size_t *n_field,
                        const struct berth_mount *m, size_t n)
{
    Containerd__Types__Mount **pbs = NULL;

    berth_mounts_to_pb(m, n, &pbs);
    *field = pbs;
    *n_field = n;
    berth_svc_pack(out, resp);
    free(pbs);
}

static int create(struct berth_svc_ctx *ctx, enum berth_snap_kind kind, const char *snapshotter,
                  const char *key, const char *parent, void *const *labels, size_t n_labels,
                  struct berth_mount **m, size_t *n, struct berth_err **err)
{
    struct berth_snapshotter *sn;
    struct berth_labels l = {0};
    int ret;

    if (resolve(ctx, snapshotter, &sn, err) < 0)
        return -1;
    berth_labels_from_pb(&l, labels, n_labels);
    ret = berth_meta_snapshots_create(berth_svc_app(ctx)->db, sn, ctx->ns, ctx->lease, kind, key,
                                      parent, &l, m, n, err);
    berth_labels_clear(&l);
    return ret;
}

static int snapshots_prepare(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                             struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Snapshots__V1__PrepareSnapshotRequest *req = (const void *)in;
    Containerd__Services__Snapshots__V1__PrepareSnapshotResponse resp =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_RESPONSE__INIT;
    Containerd__Events__SnapshotPrepare ev = CONTAINERD__EVENTS__SNAPSHOT_PREPARE__INIT;
    struct berth_mount *m = NULL;
    size_t n = 0;

    if (create(ctx, BERTH_SNAP_ACTIVE, req->snapshotter, req->key, req->parent,
               (void *const *)req->labels, req->n_labels, &m, &n, err) < 0)
        return -1;
    pack_mounts(out, &resp.base, &resp.mounts, &resp.n_mounts, m, n);
    berth_mounts_free(m, n);
    ev.key = req->key;
    ev.parent = req->parent;
    ev.snapshotter =
        req->snapshotter && *req->snapshotter ? req->snapshotter : (char *)BERTH_SNAP_DEFAULT;
    publish(ctx, "/snapshot/prepare", &ev.base);
    return 0;
}

static int snapshots_view(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                          struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Snapshots__V1__ViewSnapshotRequest *req = (const void *)in;
    Containerd__Services__Snapshots__V1__ViewSnapshotResponse resp =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__VIEW_SNAPSHOT_RESPONSE__INIT;
    struct berth_mount *m = NULL;
    size_t n = 0;

    if (create(ctx, BERTH_SNAP_VIEW, req->snapshotter, req->key, req->parent,
               (void *const *)req->labels, req->n_labels, &m, &n, err) < 0)
        return -1;
    pack_mounts(out, &resp.base, &resp.mounts, &resp.n_mounts, m, n);
    berth_mounts_free(m, n);
    return 0;
}

static int snapshots_mounts(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                            struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Snapshots__V1__MountsRequest *req = (const void *)in;
    Containerd__Services__Snapshots__V1__MountsResponse resp =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__MOUNTS_RESPONSE__INIT;
    struct berth_snapshotter *sn;
    struct berth_mount *m = NULL;
    size_t n = 0;

    if (resolve(ctx, req->snapshotter, &sn, err) < 0 ||
        berth_meta_snapshots_mounts(berth_svc_app(ctx)->db, sn, ctx->ns, req->key, &m, &n, err) < 0)
        return -1;
    pack_mounts(out, &resp.base, &resp.mounts, &resp.n_mounts, m, n);
    berth_mounts_free(m, n);
    return 0;
}

static int snapshots_commit(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                            struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Snapshots__V1__CommitSnapshotRequest *req = (const void *)in;
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    Containerd__Events__SnapshotCommit ev = CONTAINERD__EVENTS__SNAPSHOT_COMMIT__INIT;
    struct berth_snapshotter *sn;
    struct berth_labels l = {0};
    int ret;

    if (resolve(ctx, req->snapshotter, &sn, err) < 0)
        return -1;
    berth_labels_from_pb(&l, (void *const *)req->labels, req->n_labels);
    ret = berth_meta_snapshots_commit(berth_svc_app(ctx)->db, sn, ctx->ns, ctx->lease, req->name,
                                      req->key, &l, err);
    berth_labels_clear(&l);
    if (ret < 0)
        return -1;
    berth_svc_pack(out, &empty.base);
    ev.key = req->key;
    ev.name = req->name;
    ev.snapshotter = (char *)sn->ops->name;
    publish(ctx, "/snapshot/commit", &ev.base);
    return 0;
}

static int snapshots_remove(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                            struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Snapshots__V1__RemoveSnapshotRequest *req = (const void *)in;
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    Containerd__Events__SnapshotRemove ev = CONTAINERD__EVENTS__SNAPSHOT_REMOVE__INIT;
    struct berth_snapshotter *sn;

    if (resolve(ctx, req->snapshotter, &sn, err) < 0 ||
        berth_meta_snapshots_remove(berth_svc_app(ctx)->db, sn, ctx->ns, ctx->lease, req->key,
                                    err) < 0)
        return -1;
    berth_svc_pack(out, &empty.base);
    ev.key = req->key;
    ev.snapshotter = (char *)sn->ops->name;
    publish(ctx, "/snapshot/remove", &ev.base);
    return 0;
}

static int snapshots_stat(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                          struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Snapshots__V1__StatSnapshotRequest *req = (const void *)in;
    Containerd__Services__Snapshots__V1__StatSnapshotResponse resp =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_RESPONSE__INIT;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = NULL;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_snapshotter *sn;
    struct info_out o;

    if (resolve(ctx, req->snapshotter, &sn, err) < 0 ||
        berth_meta_txn_begin_read(berth_svc_app(ctx)->db, &txn, err) < 0 ||
        berth_meta_snapshots_get(txn, ctx->ns, sn->ops->name, req->key, &s, err) < 0)
        return -1;
    info_out_init(&o, &s->info);
    resp.info = &o.pb;
    berth_svc_pack(out, &resp.base);
    free(o.labels);
    return 0;
}

struct update_op {
    const char *ns, *sn;
    struct berth_snap_info info;
    char *const *paths;
    size_t n_paths;
    struct berth_snapshot *out;
};

static int update_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct update_op *op = arg;
    berth_snapshot_free(steal_ptr(op->out));
    return berth_meta_snapshots_update(txn, op->ns, op->sn, &op->info, op->paths, op->n_paths,
                                       &op->out, err);
}

static int snapshots_update(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                            struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Snapshots__V1__UpdateSnapshotRequest *req = (const void *)in;
    Containerd__Services__Snapshots__V1__UpdateSnapshotResponse resp =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__UPDATE_SNAPSHOT_RESPONSE__INIT;
    struct update_op op = {.ns = ctx->ns};
    struct berth_snapshotter *sn;
    struct info_out o;
    int ret;

    if (resolve(ctx, req->snapshotter, &sn, err) < 0)
        return -1;
    if (!req->info || !req->info->name || !*req->info->name)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "snapshot name must be set");
    op.sn = sn->ops->name;
    op.info.name = req->info->name; /* borrowed */
    berth_labels_from_pb(&op.info.labels, (void *const *)req->info->labels, req->info->n_labels);
    if (req->update_mask) {
        op.paths = req->update_mask->paths;
        op.n_paths = req->update_mask->n_paths;
    }
    ret = berth_meta_update(berth_svc_app(ctx)->db, update_cb, &op, err);
    berth_labels_clear(&op.info.labels);
    if (ret < 0) {
        berth_snapshot_free(op.out);
        return -1;
    }
    info_out_init(&o, &op.out->info);
    resp.info = &o.pb;
    berth_svc_pack(out, &resp.base);
    free(o.labels);
    berth_snapshot_free(op.out);
    return 0;
}

#define LIST_CHUNK 100 /* infos per List message, as containerd sends */

static int snapshots_list(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                          struct berth_stream *st, struct berth_err **err)
{
    const Containerd__Services__Snapshots__V1__ListSnapshotsRequest *req = (const void *)in;
    _cleanup_(berth_filter_freep) struct berth_filter *f = NULL;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_snapshotter *sn;
    struct berth_snapshot **v = NULL;
    size_t n = 0;
    int ret = 0;

    if (resolve(ctx, req->snapshotter, &sn, err) < 0 ||
        berth_filter_parse((const char *const *)req->filters, req->n_filters, &f, err) < 0 ||
        berth_meta_txn_begin_read(berth_svc_app(ctx)->db, &txn, err) < 0)
        return -1;
    berth_svc_filter_watch(f, ctx);
    if (berth_meta_snapshots_list(txn, ctx->ns, sn->ops->name, f, &v, &n, err) < 0)
        return -1;
    berth_meta_txn_abort(steal_ptr(txn));
    if (berth_svc_filter_check(f, ctx, "snapshots", err) < 0) {
        berth_snapshots_free(v, n);
        return -1;
    }
    for (size_t off = 0; off < n && ret == 0; off += LIST_CHUNK) {
        Containerd__Services__Snapshots__V1__ListSnapshotsResponse resp =
            CONTAINERD__SERVICES__SNAPSHOTS__V1__LIST_SNAPSHOTS_RESPONSE__INIT;
        size_t cnt = n - off < LIST_CHUNK ? n - off : LIST_CHUNK;
        struct info_out *outs = berth_xcalloc(cnt, sizeof(*outs));
        info_pb **ptrs = berth_xcalloc(cnt, sizeof(*ptrs));

        for (size_t i = 0; i < cnt; i++) {
            info_out_init(&outs[i], &v[off + i]->info);
            ptrs[i] = &outs[i].pb;
        }
        resp.info = ptrs;
        resp.n_info = cnt;
        ret = berth_stream_send(st, &resp.base, err);
        for (size_t i = 0; i < cnt; i++)
            free(outs[i].labels);
        free(outs);
        free(ptrs);
    }
    berth_snapshots_free(v, n);
    return ret;
}

static int snapshots_usage(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                           struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Snapshots__V1__UsageRequest *req = (const void *)in;
    Containerd__Services__Snapshots__V1__UsageResponse resp =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__USAGE_RESPONSE__INIT;
    struct berth_snapshotter *sn;
    struct berth_snap_usage u = {0};

    if (resolve(ctx, req->snapshotter, &sn, err) < 0 ||
        berth_meta_snapshots_usage(berth_svc_app(ctx)->db, sn, ctx->ns, req->key, &u, err) < 0)
        return -1;
    resp.size = u.size;
    resp.inodes = u.inodes;
    berth_svc_pack(out, &resp.base);
    return 0;
}

static int snapshots_cleanup(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                             struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Snapshots__V1__CleanupRequest *req = (const void *)in;
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    struct berth_snapshotter *sn;

    /* Only orphan directories: unreferenced backend snapshots are the GC's to take (a
     * Prepare in flight has its backend snapshot before its record). */
    if (resolve(ctx, req->snapshotter, &sn, err) < 0 || sn->ops->cleanup(sn->state, err) < 0)
        return -1;
    berth_svc_pack(out, &empty.base);
    return 0;
}

static const struct berth_method methods[] = {
    {"Prepare", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = snapshots_prepare},
    {"View", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = snapshots_view},
    {"Mounts", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = snapshots_mounts},
    {"Commit", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = snapshots_commit},
    {"Remove", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = snapshots_remove},
    {"Stat", BERTH_UNARY, BERTH_NS_REQUIRED, .nonblocking = true, .unary = snapshots_stat},
    {"Update", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = snapshots_update},
    {"List", BERTH_SERVER_STREAM, BERTH_NS_REQUIRED, .server_stream = snapshots_list},
    {"Usage", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = snapshots_usage},
    {"Cleanup", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = snapshots_cleanup},
};

const struct berth_service berth_svc_snapshots = {
    &containerd__services__snapshots__v1__snapshots__descriptor, methods, BERTH_N(methods)};
