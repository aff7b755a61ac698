/* SPDX-License-Identifier: Apache-2.0 */
/* Containers service: CRUD over container records (metadata/containers) in the caller's
 * namespace. Writes go through the group-commit writer; reads use their own snapshot. */
#include "api/services/containers/v1/containers.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "lib/filters.h"
#include "services/containers/convert.h"
#include "services/events/publish.h"
#include "services/services.h"

static int reply_container(const struct berth_container *c, ProtobufCMessage *resp,
                           container_pb **slot, struct berth_bytes *out)
{
    struct container_out o;

    container_out_init(&o, c);
    *slot = &o.pb;
    berth_svc_pack(out, resp);
    container_out_clear(&o);
    return 0;
}

static int containers_get(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                          struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Containers__V1__GetContainerRequest *req = (const void *)in;
    Containerd__Services__Containers__V1__GetContainerResponse resp =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_RESPONSE__INIT;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_(berth_container_freep) struct berth_container *c = NULL;

    if (berth_meta_txn_begin_read(berth_svc_app(ctx)->db, &txn, err) < 0 ||
        berth_meta_containers_get(txn, ctx->ns, req->id, &c, err) < 0)
        return -1;
    return reply_container(c, &resp.base, &resp.container, out);
}

/* Runs a filtered list in one read snapshot. */
static int list_matching(struct berth_svc_ctx *ctx, char *const *filters, size_t n_filters,
                         struct berth_container ***v, size_t *n, struct berth_err **err)
{
    _cleanup_(berth_filter_freep) struct berth_filter *f = NULL;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;

    if (berth_filter_parse((const char *const *)filters, n_filters, &f, err) < 0)
        return -1;
    if (berth_meta_txn_begin_read(berth_svc_app(ctx)->db, &txn, err) < 0)
        return -1;
    berth_svc_filter_watch(f, ctx);
    if (berth_meta_containers_list(txn, ctx->ns, f, v, n, err) < 0)
        return -1;
    if (berth_svc_filter_check(f, ctx, "containers", err) < 0) {
        berth_containers_free(*v, *n);
        *v = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

static int containers_list(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                           struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Containers__V1__ListContainersRequest *req = (const void *)in;
    Containerd__Services__Containers__V1__ListContainersResponse resp =
        CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_RESPONSE__INIT;
    struct berth_container **v = NULL;
    struct container_out *outs;
    container_pb **ptrs;
    size_t n = 0;

    if (list_matching(ctx, req->filters, req->n_filters, &v, &n, err) < 0)
        return -1;
    outs = berth_xcalloc(n, sizeof(*outs));
    ptrs = berth_xcalloc(n, sizeof(*ptrs));
    for (size_t i = 0; i < n; i++) {
        container_out_init(&outs[i], v[i]);
        ptrs[i] = &outs[i].pb;
    }
    resp.n_containers = n;
    resp.containers = ptrs;
    berth_svc_pack(out, &resp.base);
    for (size_t i = 0; i < n; i++)
        container_out_clear(&outs[i]);
    free(outs);
    free(ptrs);
    berth_containers_free(v, n);
    return 0;
}

/* Containers per read transaction in ListStream: bounds memory and how long a slow client
 * can pin an LMDB snapshot, and lets decoding overlap with sending. */
#define STREAM_PAGE 256

static int containers_list_stream(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                                  struct berth_stream *st, struct berth_err **err)
{
    const Containerd__Services__Containers__V1__ListContainersRequest *req = (const void *)in;
    _cleanup_(berth_filter_freep) struct berth_filter *f = NULL;
    _cleanup_free_ char *last = NULL;
    bool more = true;
    int ret = 0;

    if (berth_filter_parse((const char *const *)req->filters, req->n_filters, &f, err) < 0)
        return -1;
    berth_svc_filter_watch(f, ctx);
    while (more && ret == 0) {
        struct berth_meta_txn *txn = NULL;
        struct berth_container **v = NULL;
        size_t n = 0;

        if (berth_meta_txn_begin_read(berth_svc_app(ctx)->db, &txn, err) < 0)
            return -1;
        ret =
            berth_meta_containers_list_page(txn, ctx->ns, f, last, STREAM_PAGE, &v, &n, &more, err);
        berth_meta_txn_abort(txn);
        if (ret == 0)
            ret = berth_svc_filter_check(f, ctx, "containers", err);
        /* One container per message, as containerd sends them. */
        for (size_t i = 0; i < n && ret == 0; i++) {
            Containerd__Services__Containers__V1__ListContainerMessage msg =
                CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINER_MESSAGE__INIT;
            struct container_out o;
            container_out_init(&o, v[i]);
            msg.container = &o.pb;
            ret = berth_stream_send(st, &msg.base, err);
            container_out_clear(&o);
        }
        if (n) {
            free(last);
            last = berth_xstrdup(v[n - 1]->id);
        }
        berth_containers_free(v, n);
    }
    return ret;
}

struct write_op {
    const char *ns;
    struct berth_container *c; /* in: request record; out (update): the stored record */
    char *const *paths;
    size_t n_paths;
    struct berth_container *result;
};

static int create_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct write_op *op = arg;
    return berth_meta_containers_create(txn, op->ns, op->c, err);
}

static int update_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct write_op *op = arg;
    berth_container_free(op->result); /* a retried batch must not leak */
    op->result = NULL;
    return berth_meta_containers_update(txn, op->ns, op->c, op->paths, op->n_paths, &op->result,
                                        err);
}

static int delete_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct write_op *op = arg;
    return berth_meta_containers_delete(txn, op->ns, op->c->id, err);
}

static int containers_create(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                             struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Containers__V1__CreateContainerRequest *req = (const void *)in;
    Containerd__Services__Containers__V1__CreateContainerResponse resp =
        CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_RESPONSE__INIT;
    _cleanup_(berth_container_freep) struct berth_container *c = NULL;
    struct write_op op = {.ns = ctx->ns};

    if (!req->container)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "container must be set");
    c = container_from_pb(req->container);
    op.c = c;
    if (berth_meta_update(berth_svc_app(ctx)->db, create_cb, &op, err) < 0)
        return -1;
    berth_publish_container(ctx, "/containers/create", c);
    return reply_container(c, &resp.base, &resp.container, out);
}

static int containers_update(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                             struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Containers__V1__UpdateContainerRequest *req = (const void *)in;
    Containerd__Services__Containers__V1__UpdateContainerResponse resp =
        CONTAINERD__SERVICES__CONTAINERS__V1__UPDATE_CONTAINER_RESPONSE__INIT;
    _cleanup_(berth_container_freep) struct berth_container *c = NULL;
    struct write_op op = {.ns = ctx->ns};
    int ret;

    if (!req->container)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "container must be set");
    c = container_from_pb(req->container);
    op.c = c;
    if (req->update_mask) {
        op.paths = req->update_mask->paths;
        op.n_paths = req->update_mask->n_paths;
    }
    if (berth_meta_update(berth_svc_app(ctx)->db, update_cb, &op, err) < 0) {
        berth_container_free(op.result);
        return -1;
    }
    berth_publish_container(ctx, "/containers/update", op.result);
    ret = reply_container(op.result, &resp.base, &resp.container, out);
    berth_container_free(op.result);
    return ret;
}

static int containers_delete(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                             struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Containers__V1__DeleteContainerRequest *req = (const void *)in;
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    struct berth_container key = {.id = req->id};
    struct write_op op = {.ns = ctx->ns, .c = &key};

    if (berth_meta_update(berth_svc_app(ctx)->db, delete_cb, &op, err) < 0)
        return -1;
    /* A shim a crash mid-create left for this id (one that holds no task) would outlive the
     * record for good: shut it down now. A real task is left alone, as containerd does. */
    if (berth_svc_app(ctx)->runtime)
        berth_rt_task_reap(berth_svc_app(ctx)->runtime, ctx->ns, req->id);
    berth_publish_container(ctx, "/containers/delete", &key);
    berth_svc_pack(out, &empty.base);
    return 0;
}

static const struct berth_method methods[] = {
    {"Get", BERTH_UNARY, BERTH_NS_REQUIRED, .nonblocking = true, .unary = containers_get},
    /* Not on the completion-queue thread: a `~=` filter may take long over many records. */
    {"List", BERTH_UNARY, BERTH_NS_REQUIRED, .nonblocking = true, .listing = true,
     .unary = containers_list},
    {"ListStream", BERTH_SERVER_STREAM, BERTH_NS_REQUIRED, .server_stream = containers_list_stream},
    {"Create", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = containers_create},
    {"Update", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = containers_update},
    {"Delete", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = containers_delete},
};

const struct berth_service berth_svc_containers = {
    &containerd__services__containers__v1__containers__descriptor, methods, BERTH_N(methods)};
