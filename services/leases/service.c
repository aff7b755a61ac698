/* SPDX-License-Identifier: Apache-2.0 */
/* Leases service: thin adapter over metadata/leases in the caller's namespace. Delete with
 * `sync` runs a GC pass and waits for it; expired leases stay listed until a GC pass sweeps
 * them, as in containerd. containerd publishes no lease events, so neither do we. */
#include <inttypes.h>
#include <stdio.h>
#include <sys/random.h> /* getrandom() for generated lease ids */

#include "api/services/leases/v1/leases.pb-c.h"
#include "api/timestamp.h"
#include "google/protobuf/empty.pb-c.h"
#include "lib/filters.h"
#include "metadata/leases.h"
#include "metadata/record.h"
#include "services/services.h"

typedef Containerd__Services__Leases__V1__Lease lease_pb;
typedef Containerd__Services__Leases__V1__Resource resource_pb;

/* A Lease message borrowing the record's strings; free(o->labels) releases what it owns. */
struct lease_out {
    lease_pb pb;
    Google__Protobuf__Timestamp created;
    void **labels;
};

static void lease_out_init(struct lease_out *o, const struct berth_lease *l)
{
    containerd__services__leases__v1__lease__init(&o->pb);
    o->pb.id = l->id;
    o->pb.created_at = berth_pb_ts_or_null(&o->created, l->created_ns);
    berth_labels_to_pb(&l->labels,
                       &containerd__services__leases__v1__lease__labels_entry__descriptor,
                       &o->labels, &o->pb.n_labels);
    o->pb.labels = (Containerd__Services__Leases__V1__Lease__LabelsEntry **)o->labels;
}

/* "<unix nanoseconds>-<4 url-safe base64 chars>", the shape ctr and containerd generate. A
 * failed getrandom() only makes the id less unique (as in Go's WithRandomID). */
static void generate_id(char buf[64])
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t r[3] = {0};
    uint32_t v;

    (void)!getrandom(r, sizeof(r), GRND_NONBLOCK);
    v = (uint32_t)r[0] << 16 | (uint32_t)r[1] << 8 | r[2];
    snprintf(buf, 64, "%" PRId64 "-%c%c%c%c", berth_now_ns(), b64url[v >> 18 & 63],
             b64url[v >> 12 & 63], b64url[v >> 6 & 63], b64url[v & 63]);
}

struct lease_write {
    const char *ns;
    struct berth_lease *lease; /* create */
    const char *id;            /* the others */
    const char *type, *rid;
};

static int create_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct lease_write *w = arg;
    return berth_meta_leases_create(txn, w->ns, w->lease, err);
}

static int delete_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct lease_write *w = arg;
    return berth_meta_leases_delete(txn, w->ns, w->id, err);
}

static int add_resource_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct lease_write *w = arg;
    return berth_meta_leases_add_resource(txn, w->ns, w->id, w->type, w->rid, err);
}

static int delete_resource_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct lease_write *w = arg;
    return berth_meta_leases_delete_resource(txn, w->ns, w->id, w->type, w->rid, err);
}

static int leases_create(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                         struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Leases__V1__CreateRequest *req = (const void *)in;
    Containerd__Services__Leases__V1__CreateResponse resp =
        CONTAINERD__SERVICES__LEASES__V1__CREATE_RESPONSE__INIT;
    _cleanup_(berth_lease_freep) struct berth_lease *l = berth_lease_new();
    struct lease_write w = {.ns = ctx->ns, .lease = l};
    bool generated = !req->id || !*req->id;
    struct lease_out o;
    int ret;

    berth_labels_from_pb(&l->labels, (void *const *)req->labels, req->n_labels);
    for (int attempt = 0;; attempt++) {
        _cleanup_err_ struct berth_err *e = NULL;
        char id[64];

        free(l->id);
        if (generated) {
            generate_id(id);
            l->id = berth_xstrdup(id);
        } else {
            l->id = berth_xstrdup(req->id);
        }
        ret = berth_meta_update(berth_svc_app(ctx)->db, create_cb, &w, &e);
        if (ret == 0)
            break;
        /* A generated id colliding is our problem, not the client's: draw another. */
        if (!generated || e->code != BERTH_E_ALREADY_EXISTS || attempt == 2) {
            *err = steal_ptr(e);
            return -1;
        }
    }
    lease_out_init(&o, l);
    resp.lease = &o.pb;
    berth_svc_pack(out, &resp.base);
    free(o.labels);
    return 0;
}

static int leases_delete(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                         struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Leases__V1__DeleteRequest *req = (const void *)in;
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    struct lease_write w = {.ns = ctx->ns, .id = req->id};

    if (berth_meta_update(berth_svc_app(ctx)->db, delete_cb, &w, err) < 0)
        return -1;
    if (req->sync && berth_svc_app(ctx)->gc &&
        berth_gc_scheduler_run(berth_svc_app(ctx)->gc, NULL, err) < 0)
        return -1;
    berth_svc_pack(out, &empty.base);
    return 0;
}

static int leases_list(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                       struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Leases__V1__ListRequest *req = (const void *)in;
    Containerd__Services__Leases__V1__ListResponse resp =
        CONTAINERD__SERVICES__LEASES__V1__LIST_RESPONSE__INIT;
    _cleanup_(berth_filter_freep) struct berth_filter *f = NULL;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_lease **v = NULL;
    struct lease_out *outs;
    lease_pb **ptrs;
    size_t n = 0;

    if (berth_filter_parse((const char *const *)req->filters, req->n_filters, &f, err) < 0 ||
        berth_meta_txn_begin_read(berth_svc_app(ctx)->db, &txn, err) < 0)
        return -1;
    berth_svc_filter_watch(f, ctx);
    if (berth_meta_leases_list(txn, ctx->ns, f, &v, &n, err) < 0)
        return -1;
    if (berth_svc_filter_check(f, ctx, "leases", err) < 0) {
        berth_leases_free(v, n);
        return -1;
    }
    outs = berth_xcalloc(n, sizeof(*outs));
    ptrs = berth_xcalloc(n, sizeof(*ptrs));
    for (size_t i = 0; i < n; i++) {
        lease_out_init(&outs[i], v[i]);
        ptrs[i] = &outs[i].pb;
    }
    resp.n_leases = n;
    resp.leases = ptrs;
    berth_svc_pack(out, &resp.base);
    for (size_t i = 0; i < n; i++)
        free(outs[i].labels);
    free(outs);
    free(ptrs);
    berth_leases_free(v, n);
    return 0;
}

/* AddResource and DeleteResource share their request layout. */
static int resource_write(struct berth_svc_ctx *ctx, const char *id, const resource_pb *r,
                          berth_meta_update_fn fn, struct berth_bytes *out, struct berth_err **err)
{
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    struct lease_write w = {.ns = ctx->ns, .id = id};

    if (!r)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "resource must be set");
    w.type = r->type;
    w.rid = r->id;
    if (berth_meta_update(berth_svc_app(ctx)->db, fn, &w, err) < 0)
        return -1;
    berth_svc_pack(out, &empty.base);
    return 0;
}

static int leases_add_resource(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                               struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Leases__V1__AddResourceRequest *req = (const void *)in;
    return resource_write(ctx, req->id, req->resource, add_resource_cb, out, err);
}

static int leases_delete_resource(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                                  struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Leases__V1__DeleteResourceRequest *req = (const void *)in;
    return resource_write(ctx, req->id, req->resource, delete_resource_cb, out, err);
}

static int leases_list_resources(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                                 struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Leases__V1__ListResourcesRequest *req = (const void *)in;
    Containerd__Services__Leases__V1__ListResourcesResponse resp =
        CONTAINERD__SERVICES__LEASES__V1__LIST_RESOURCES_RESPONSE__INIT;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_lease_resource *v = NULL;
    resource_pb *pbs;
    resource_pb **ptrs;
    size_t n = 0;

    if (berth_meta_txn_begin_read(berth_svc_app(ctx)->db, &txn, err) < 0 ||
        berth_meta_leases_list_resources(txn, ctx->ns, req->id, &v, &n, err) < 0)
        return -1;
    pbs = berth_xcalloc(n, sizeof(*pbs));
    ptrs = berth_xcalloc(n, sizeof(*ptrs));
    for (size_t i = 0; i < n; i++) {
        containerd__services__leases__v1__resource__init(&pbs[i]);
        pbs[i].id = v[i].id;
        pbs[i].type = v[i].type;
        ptrs[i] = &pbs[i];
    }
    resp.n_resources = n;
    resp.resources = ptrs;
    berth_svc_pack(out, &resp.base);
    free(pbs);
    free(ptrs);
    berth_lease_resources_free(v, n);
    return 0;
}

static const struct berth_method methods[] = {
    {"Create", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = leases_create},
    {"Delete", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = leases_delete},
    /* Not on the completion-queue thread: a `~=` filter may take long over many records. */
    {"List", BERTH_UNARY, BERTH_NS_REQUIRED, .nonblocking = true, .listing = true,
     .unary = leases_list},
    {"AddResource", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = leases_add_resource},
    {"DeleteResource", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = leases_delete_resource},
    {"ListResources", BERTH_UNARY, BERTH_NS_REQUIRED, .nonblocking = true,
     .unary = leases_list_resources},
};

const struct berth_service berth_svc_leases = {
    &containerd__services__leases__v1__leases__descriptor, methods, BERTH_N(methods)};
