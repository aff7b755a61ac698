/* SPDX-License-Identifier: Apache-2.0 */
/* Namespaces service: thin adapter over metadata/namespaces. The namespace travels in the
 * request body here, not in the header. */
#include <string.h>

#include "api/services/namespaces/v1/namespace.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "metadata/namespaces.h"
#include "metadata/record.h"
#include "services/events/publish.h"
#include "services/services.h"

typedef Containerd__Services__Namespaces__V1__Namespace ns_pb;

/* A Namespace message borrowing name and labels. */
struct ns_out {
    ns_pb pb;
    void **entries;
};

static void ns_out_init(struct ns_out *o, const char *name, const struct berth_labels *labels)
{
    containerd__services__namespaces__v1__namespace__init(&o->pb);
    o->pb.name = (char *)name;
    berth_labels_to_pb(labels,
                       &containerd__services__namespaces__v1__namespace__labels_entry__descriptor,
                       &o->entries, &o->pb.n_labels);
    o->pb.labels = (Containerd__Services__Namespaces__V1__Namespace__LabelsEntry **)o->entries;
}

static int ns_get_labels(struct berth_services *app, const char *name, struct berth_labels *labels,
                         struct berth_err **err)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    if (berth_meta_txn_begin_read(app->db, &txn, err) < 0)
        return -1;
    if (berth_meta_namespaces_get(txn, name, labels, &e) == 0)
        return 0;
    /* containerd answers Get on a namespace nothing was written to yet with no labels. */
    if (e->code == BERTH_E_NOT_FOUND)
        return 0;
    *err = steal_ptr(e);
    return -1;
}

/* Answers with the namespace as stored now, and publishes topic (if any) with those labels. */
static int reply_ns(struct berth_svc_ctx *ctx, const char *name, const char *topic,
                    ProtobufCMessage *resp, ns_pb **slot, struct berth_bytes *out,
                    struct berth_err **err)
{
    struct berth_labels labels = {0};
    struct ns_out o;

    if (ns_get_labels(berth_svc_app(ctx), name, &labels, err) < 0)
        return -1;
    if (topic)
        berth_publish_namespace(ctx, topic, name, &labels);
    ns_out_init(&o, name, &labels);
    *slot = &o.pb;
    berth_svc_pack(out, resp);
    free(o.entries);
    berth_labels_clear(&labels);
    return 0;
}

static int ns_get(struct berth_svc_ctx *ctx, const ProtobufCMessage *in, struct berth_bytes *out,
                  struct berth_err **err)
{
    const Containerd__Services__Namespaces__V1__GetNamespaceRequest *req = (const void *)in;
    Containerd__Services__Namespaces__V1__GetNamespaceResponse resp =
        CONTAINERD__SERVICES__NAMESPACES__V1__GET_NAMESPACE_RESPONSE__INIT;

    return reply_ns(ctx, req->name, NULL, &resp.base, &resp.namespace_, out, err);
}

static int ns_list(struct berth_svc_ctx *ctx, const ProtobufCMessage *in, struct berth_bytes *out,
                   struct berth_err **err)
{
    Containerd__Services__Namespaces__V1__ListNamespacesResponse resp =
        CONTAINERD__SERVICES__NAMESPACES__V1__LIST_NAMESPACES_RESPONSE__INIT;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_free_ struct ns_out *outs = NULL;
    _cleanup_free_ ns_pb **ptrs = NULL;
    struct berth_namespace *v = NULL;
    size_t n = 0;

    /* The request's filter is ignored, as containerd ignores it. */
    if (berth_meta_txn_begin_read(berth_svc_app(ctx)->db, &txn, err) < 0 ||
        berth_meta_namespaces_list_labels(txn, &v, &n, err) < 0)
        return -1;
    outs = berth_xcalloc(n ? n : 1, sizeof(*outs));
    ptrs = berth_xcalloc(n ? n : 1, sizeof(*ptrs));
    for (size_t i = 0; i < n; i++) {
        ns_out_init(&outs[i], v[i].name, &v[i].labels);
        ptrs[i] = &outs[i].pb;
    }
    resp.n_namespaces = n;
    resp.namespaces = ptrs;
    berth_svc_pack(out, &resp.base);
    for (size_t i = 0; i < n; i++)
        free(outs[i].entries);
    berth_namespaces_free(v, n);
    return 0;
}

struct ns_write {
    const char *name;
    struct berth_labels labels;
    char *const *paths;
    size_t n_paths;
};

static int create_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct ns_write *w = arg;
    return berth_meta_namespaces_create(txn, w->name, &w->labels, err);
}

static int update_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct ns_write *w = arg;
    return berth_meta_namespaces_update(txn, w->name, &w->labels, w->paths, w->n_paths, err);
}

static int delete_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct ns_write *w = arg;
    return berth_meta_namespaces_delete(txn, w->name, err);
}

static int ns_write(struct berth_svc_ctx *ctx, const ns_pb *ns, char *const *paths, size_t n_paths,
                    berth_meta_update_fn fn, struct berth_err **err)
{
    struct ns_write w = {.paths = paths, .n_paths = n_paths};
    int ret;

    if (!ns)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "namespace must be set");
    w.name = ns->name;
    berth_labels_from_pb(&w.labels, (void *const *)ns->labels, ns->n_labels);
    ret = berth_meta_update(berth_svc_app(ctx)->db, fn, &w, err);
    berth_labels_clear(&w.labels);
    return ret;
}

static int ns_create(struct berth_svc_ctx *ctx, const ProtobufCMessage *in, struct berth_bytes *out,
                     struct berth_err **err)
{
    const Containerd__Services__Namespaces__V1__CreateNamespaceRequest *req = (const void *)in;
    Containerd__Services__Namespaces__V1__CreateNamespaceResponse resp =
        CONTAINERD__SERVICES__NAMESPACES__V1__CREATE_NAMESPACE_RESPONSE__INIT;

    if (ns_write(ctx, req->namespace_, NULL, 0, create_cb, err) < 0)
        return -1;
    return reply_ns(ctx, req->namespace_->name, "/namespaces/create", &resp.base, &resp.namespace_,
                    out, err);
}

static int ns_update(struct berth_svc_ctx *ctx, const ProtobufCMessage *in, struct berth_bytes *out,
                     struct berth_err **err)
{
    const Containerd__Services__Namespaces__V1__UpdateNamespaceRequest *req = (const void *)in;
    Containerd__Services__Namespaces__V1__UpdateNamespaceResponse resp =
        CONTAINERD__SERVICES__NAMESPACES__V1__UPDATE_NAMESPACE_RESPONSE__INIT;
    char *const *paths = req->update_mask ? req->update_mask->paths : NULL;
    size_t n = req->update_mask ? req->update_mask->n_paths : 0;

    if (ns_write(ctx, req->namespace_, paths, n, update_cb, err) < 0)
        return -1;
    return reply_ns(ctx, req->namespace_->name, "/namespaces/update", &resp.base, &resp.namespace_,
                    out, err);
}

static int ns_delete(struct berth_svc_ctx *ctx, const ProtobufCMessage *in, struct berth_bytes *out,
                     struct berth_err **err)
{
    const Containerd__Services__Namespaces__V1__DeleteNamespaceRequest *req = (const void *)in;
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    ns_pb ns = CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__INIT;

    ns.name = req->name;
    if (ns_write(ctx, &ns, NULL, 0, delete_cb, err) < 0)
        return -1;
    berth_publish_namespace(ctx, "/namespaces/delete", req->name, NULL);
    berth_svc_pack(out, &empty.base);
    return 0;
}

static const struct berth_method methods[] = {
    {"Get", BERTH_UNARY, BERTH_NS_OPTIONAL, .nonblocking = true, .unary = ns_get},
    {"List", BERTH_UNARY, BERTH_NS_OPTIONAL, .nonblocking = true, .unary = ns_list},
    {"Create", BERTH_UNARY, BERTH_NS_OPTIONAL, .unary = ns_create},
    {"Update", BERTH_UNARY, BERTH_NS_OPTIONAL, .unary = ns_update},
    {"Delete", BERTH_UNARY, BERTH_NS_OPTIONAL, .unary = ns_delete},
};

const struct berth_service berth_svc_namespaces = {
    &containerd__services__namespaces__v1__namespaces__descriptor, methods, BERTH_N(methods)};
