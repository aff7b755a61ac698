/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Content service: blobs and ingests of the caller's namespace. Bytes live in the global
 * content store (content/store.h) under backend refs "<ns>/<ref>"; which blobs and ingests a
 * namespace holds, with labels and expiry, lives in metadata/content.h, and Write goes through
 * the namespaced ingest (metadata/ingest.h), which shares blobs across namespaces as
 * containerd does. As in containerd, Delete only drops the namespace's record (the file goes
 * when a GC finds nobody holds it), and a containerd-lease header ties committed blobs
 * ("content") and open ingests ("ingests") to that lease.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/events/content.pb-c.h"
#include "api/services/content/v1/content.pb-c.h"
#include "api/timestamp.h"
#include "content/store.h"
#include "google/protobuf/empty.pb-c.h"
#include "lib/digest.h"
#include "lib/filters.h"
#include "metadata/content.h"
#include "metadata/ingest.h"
#include "metadata/leases.h"
#include "metadata/record.h"
#include "services/services.h"

typedef Containerd__Services__Content__V1__Info info_pb;
typedef Containerd__Services__Content__V1__Status status_pb;
typedef Containerd__Services__Content__V1__WriteContentRequest write_req;
DEFINE_PB_CLEANUP(write_req, write_req_freep)

#define LIST_CHUNK 100       /* infos per List message, as containerd */
#define READ_CHUNK (1 << 20) /* bytes per Read message, as containerd */

static struct berth_content_store *cstore(const struct berth_svc_ctx *ctx)
{
    return berth_svc_app(ctx)->content;
}

static int check_digest(const char *digest, struct berth_err **err)
{
    if (berth_digest_validate(digest, NULL) < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "\"%s\" failed validation",
                             digest ? digest : "");
    return 0;
}

/* An Info message borrowing the record's strings; free(o->labels) releases what it owns. */
struct info_out {
    info_pb pb;
    Google__Protobuf__Timestamp created, updated;
    void **labels;
};

static void info_out_init(struct info_out *o, const struct berth_content_info *i)
{
    containerd__services__content__v1__info__init(&o->pb);
    o->pb.digest = i->digest;
    o->pb.size = i->size;
    o->pb.created_at = berth_pb_ts_or_null(&o->created, i->created_ns);
    o->pb.updated_at = berth_pb_ts_or_null(&o->updated, i->updated_ns);
    berth_labels_to_pb(&i->labels,
                       &containerd__services__content__v1__info__labels_entry__descriptor,
                       &o->labels, &o->pb.n_labels);
    o->pb.labels = (Containerd__Services__Content__V1__Info__LabelsEntry **)o->labels;
}

/* A Status message borrowing st's strings; ref is the client ref (the "<ns>/" cut off). */
struct status_out {
    status_pb pb;
    Google__Protobuf__Timestamp started, updated;
};

static void status_out_init(struct status_out *o, const struct berth_content_status *st,
                            const char *ref)
{
    containerd__services__content__v1__status__init(&o->pb);
    o->pb.ref = (char *)ref;
    o->pb.offset = st->offset;
    o->pb.total = st->total;
    o->pb.expected = st->expected ? st->expected : (char *)"";
    o->pb.started_at = berth_pb_ts_or_null(&o->started, st->started_ns);
    o->pb.updated_at = berth_pb_ts_or_null(&o->updated, st->updated_ns);
}

static char *backend_ref(const struct berth_svc_ctx *ctx, const char *ref)
{
    return berth_strdup_printf("%s/%s", ctx->ns, ref);
}

/* The mutations this service queues on the group-commit writer (writes go through
 * metadata/ingest.h). */
struct content_op {
    const struct berth_svc_ctx *ctx;
    const char *digest;
    struct berth_content_info *info; /* update input */
    char *const *paths;
    size_t n_paths;
    struct berth_content_info *result; /* update output */
};

static int update_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct content_op *op = arg;

    berth_content_info_free(op->result); /* a retried batch must not leak */
    op->result = NULL;
    return berth_meta_content_update(txn, op->ctx->ns, op->info, op->paths, op->n_paths,
                                     &op->result, err);
}

static int delete_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct content_op *op = arg;

    if (berth_meta_content_delete(txn, op->ctx->ns, op->digest, err) < 0)
        return -1;
    return berth_meta_leases_detach(txn, op->ctx->ns, op->ctx->lease, BERTH_LEASE_RES_CONTENT,
                                    op->digest, err);
}

static int content_info(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Content__V1__InfoRequest *req = (const void *)in;
    Containerd__Services__Content__V1__InfoResponse resp =
        CONTAINERD__SERVICES__CONTENT__V1__INFO_RESPONSE__INIT;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_(berth_content_info_freep) struct berth_content_info *i = NULL;
    struct info_out o;

    if (check_digest(req->digest, err) < 0)
        return -1;
    if (berth_meta_txn_begin_read(berth_svc_app(ctx)->db, &txn, err) < 0 ||
        berth_meta_content_get(txn, ctx->ns, req->digest, &i, err) < 0)
        return -1;
    info_out_init(&o, i);
    resp.info = &o.pb;
    berth_svc_pack(out, &resp.base);
    free(o.labels);
    return 0;
}

static int content_update(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                          struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Content__V1__UpdateRequest *req = (const void *)in;
    Containerd__Services__Content__V1__UpdateResponse resp =
        CONTAINERD__SERVICES__CONTENT__V1__UPDATE_RESPONSE__INIT;
    struct berth_content_info info = {0};
    struct content_op op = {.ctx = ctx, .info = &info};
    struct info_out o;
    int ret;

    if (!req->info)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "info must be set");
    if (check_digest(req->info->digest, err) < 0)
        return -1;
    info.digest = req->info->digest; /* borrowed */
    berth_labels_from_pb(&info.labels, (void *const *)req->info->labels, req->info->n_labels);
    if (req->update_mask) {
        op.paths = req->update_mask->paths;
        op.n_paths = req->update_mask->n_paths;
    }
    ret = berth_meta_update(berth_svc_app(ctx)->db, update_cb, &op, err);
    berth_labels_clear(&info.labels);
    if (ret < 0) {
        berth_content_info_free(op.result);
        return -1;
    }
    info_out_init(&o, op.result);
    resp.info = &o.pb;
    berth_svc_pack(out, &resp.base);
    free(o.labels);
    berth_content_info_free(op.result);
    return 0;
}

static int content_list(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_stream *st, struct berth_err **err)
{
    const Containerd__Services__Content__V1__ListContentRequest *req = (const void *)in;
    _cleanup_(berth_filter_freep) struct berth_filter *f = NULL;
    struct berth_content_info **v = NULL;
    size_t n = 0;
    int ret = 0;

    if (berth_filter_parse((const char *const *)req->filters, req->n_filters, &f, err) < 0)
        return -1;
    berth_svc_filter_watch(f, ctx);
    {
        _cleanup_txn_ struct berth_meta_txn *txn = NULL;
        if (berth_meta_txn_begin_read(berth_svc_app(ctx)->db, &txn, err) < 0 ||
            berth_meta_content_list(txn, ctx->ns, f, &v, &n, err) < 0)
            return -1;
    }
    if (berth_svc_filter_check(f, ctx, "content", err) < 0) {
        berth_content_infos_free(v, n);
        return -1;
    }
    for (size_t at = 0; at < n && ret == 0; at += LIST_CHUNK) {
        Containerd__Services__Content__V1__ListContentResponse msg =
            CONTAINERD__SERVICES__CONTENT__V1__LIST_CONTENT_RESPONSE__INIT;
        size_t cnt = n - at < LIST_CHUNK ? n - at : LIST_CHUNK;
        struct info_out *outs = berth_xcalloc(cnt, sizeof(*outs));
        info_pb **ptrs = berth_xcalloc(cnt, sizeof(*ptrs));

        for (size_t i = 0; i < cnt; i++) {
            info_out_init(&outs[i], v[at + i]);
            ptrs[i] = &outs[i].pb;
        }
        msg.info = ptrs;
        msg.n_info = cnt;
        ret = berth_stream_send(st, &msg.base, err);
        for (size_t i = 0; i < cnt; i++)
            free(outs[i].labels);
        free(outs);
        free(ptrs);
    }
    berth_content_infos_free(v, n);
    return ret;
}

static int content_delete(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                          struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Content__V1__DeleteContentRequest *req = (const void *)in;
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    struct content_op op = {.ctx = ctx, .digest = req->digest};
    struct berth_events *ex = berth_svc_app(ctx)->events;

    if (check_digest(req->digest, err) < 0)
        return -1;
    if (berth_meta_update(berth_svc_app(ctx)->db, delete_cb, &op, err) < 0)
        return -1;
    if (ex) {
        Containerd__Events__ContentDelete ev = CONTAINERD__EVENTS__CONTENT_DELETE__INIT;
        ev.digest = req->digest;
        berth_events_publish(ex, ctx->ns, "/content/delete", &ev.base);
    }
    berth_svc_pack(out, &empty.base);
    return 0;
}

static int content_read(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_stream *st, struct berth_err **err)
{
    const Containerd__Services__Content__V1__ReadContentRequest *req = (const void *)in;
    _cleanup_(berth_content_info_freep) struct berth_content_info *i = NULL;
    _cleanup_free_ uint8_t *buf = NULL;
    _cleanup_close_ int fd = -1;
    int64_t size, offset = req->offset, want = req->size, end;

    if (check_digest(req->digest, err) < 0)
        return -1;
    {
        _cleanup_txn_ struct berth_meta_txn *txn = NULL;
        if (berth_meta_txn_begin_read(berth_svc_app(ctx)->db, &txn, err) < 0 ||
            berth_meta_content_get(txn, ctx->ns, req->digest, &i, err) < 0)
            return -1;
    }
    if (berth_content_blob_open(cstore(ctx), req->digest, &fd, &size, err) < 0)
        return -1;
    if (offset < 0)
        offset = 0;
    if (offset > size)
        return berth_err_set(err, BERTH_E_OUT_OF_RANGE, 0,
                             "read of %s past object length %" PRId64 " bytes", req->digest, size);
    end = want <= 0 || offset + want > size ? size : offset + want;
    buf = berth_xmalloc(READ_CHUNK);
    while (offset < end) {
        Containerd__Services__Content__V1__ReadContentResponse msg =
            CONTAINERD__SERVICES__CONTENT__V1__READ_CONTENT_RESPONSE__INIT;
        size_t len = end - offset < READ_CHUNK ? (size_t)(end - offset) : READ_CHUNK;
        ssize_t n = pread(fd, buf, len, offset);

        if (n < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "read %s", req->digest);
        if (n == 0)
            return berth_err_set(err, BERTH_E_DATA_LOSS, 0, "blob %s is shorter than recorded",
                                 req->digest);
        msg.offset = offset;
        msg.data.data = buf;
        msg.data.len = (size_t)n;
        /* CANCELED when the client stops reading mid-stream, which ctr does routinely. */
        if (berth_stream_send(st, &msg.base, err) < 0)
            return -1;
        offset += n;
    }
    return 0;
}

static int content_status(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                          struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Content__V1__StatusRequest *req = (const void *)in;
    Containerd__Services__Content__V1__StatusResponse resp =
        CONTAINERD__SERVICES__CONTENT__V1__STATUS_RESPONSE__INIT;
    _cleanup_free_ char *bref = NULL;
    struct berth_content_status st;
    struct status_out o;

    if (!req->ref || !*req->ref)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "ref must not be empty");
    bref = backend_ref(ctx, req->ref);
    if (berth_content_ingest_status(cstore(ctx), bref, &st, err) < 0)
        return -1;
    status_out_init(&o, &st, req->ref);
    resp.status = &o.pb;
    berth_svc_pack(out, &resp.base);
    berth_content_status_clear(&st);
    return 0;
}

static const char *status_field(void *obj, const char *const *path, size_t n, bool *present)
{
    const status_pb *s = obj;

    *present = false;
    if (n == 1 && strcmp(path[0], "ref") == 0) {
        *present = *s->ref != '\0';
        return s->ref;
    }
    if (n == 1 && strcmp(path[0], "expected") == 0) {
        *present = *s->expected != '\0';
        return s->expected;
    }
    return NULL;
}

static int content_list_statuses(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                                 struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Content__V1__ListStatusesRequest *req = (const void *)in;
    Containerd__Services__Content__V1__ListStatusesResponse resp =
        CONTAINERD__SERVICES__CONTENT__V1__LIST_STATUSES_RESPONSE__INIT;
    _cleanup_(berth_filter_freep) struct berth_filter *f = NULL;
    _cleanup_free_ char *prefix = NULL;
    _cleanup_free_ struct status_out *outs = NULL;
    _cleanup_free_ status_pb **ptrs = NULL;
    struct berth_content_status *v = NULL;
    size_t n = 0, plen;

    if (berth_filter_parse((const char *const *)req->filters, req->n_filters, &f, err) < 0)
        return -1;
    prefix = berth_strdup_printf("%s/", ctx->ns);
    plen = strlen(prefix);
    if (berth_content_ingest_list(cstore(ctx), prefix, &v, &n, err) < 0)
        return -1;
    berth_svc_filter_watch(f, ctx);
    outs = berth_xcalloc(n ? n : 1, sizeof(*outs));
    ptrs = berth_xcalloc(n ? n : 1, sizeof(*ptrs));
    for (size_t i = 0; i < n; i++) {
        status_out_init(&outs[resp.n_statuses], &v[i], v[i].ref + plen);
        if (!berth_filter_match(f, status_field, &outs[resp.n_statuses].pb))
            continue;
        ptrs[resp.n_statuses] = &outs[resp.n_statuses].pb;
        resp.n_statuses++;
    }
    if (berth_svc_filter_check(f, ctx, "ingests", err) < 0) {
        berth_content_statuses_free(v, n);
        return -1;
    }
    resp.statuses = ptrs;
    berth_svc_pack(out, &resp.base);
    berth_content_statuses_free(v, n);
    return 0;
}

/* Whether the caller's namespace holds digest: 1 yes, 0 no, -1 on errors. */
static int ns_has(struct berth_svc_ctx *ctx, const char *digest, struct berth_err **err)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_(berth_content_info_freep) struct berth_content_info *i = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    if (berth_meta_txn_begin_read(berth_svc_app(ctx)->db, &txn, err) < 0)
        return -1;
    if (berth_meta_content_get(txn, ctx->ns, digest, &i, &e) == 0)
        return 1;
    if (e->code != BERTH_E_NOT_FOUND)
        return *err = steal_ptr(e), -1;
    return 0;
}

/* One Write session (see containerd.md §10 item 11). */
struct write_session {
    struct berth_svc_ctx *ctx;
    char *ref, *expected;
    int64_t total;
    struct berth_meta_ingest *w;
    bool committed;
    char *digest; /* after commit */
    int64_t final_offset;
};

static int write_commit(struct write_session *s, const write_req *req, struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;
    _cleanup_free_ char *digest = NULL;
    struct berth_labels labels = {0};
    struct berth_content_status st;
    int64_t offset;
    int ret;

    berth_labels_from_pb(&labels, (void *const *)req->labels, req->n_labels);
    if (berth_labels_validate(&labels, err) < 0) {
        berth_labels_clear(&labels);
        return berth_err_wrap(err, "commit ref \"%s\"", s->ref);
    }
    if (berth_meta_ingest_status(s->w, &st, err) < 0) {
        berth_labels_clear(&labels);
        return -1;
    }
    offset = st.offset;
    berth_content_status_clear(&st);
    ret = berth_meta_ingest_commit(s->w, s->total, s->expected, &labels, &digest, NULL, &e);
    berth_labels_clear(&labels);
    if (ret == 0 || e->code == BERTH_E_ALREADY_EXISTS)
        s->w = NULL; /* consumed */
    if (ret < 0)
        return *err = steal_ptr(e), -1; /* ALREADY_EXISTS: the namespace had it */
    s->committed = true;
    s->final_offset = offset;
    s->digest = steal_ptr(digest);
    return 0;
}

static int write_step(struct write_session *s, const write_req *req,
                      Containerd__Services__Content__V1__WriteContentResponse *resp,
                      char digest[72], struct berth_err **err)
{
    struct berth_content_status st;

    resp->action = req->action;
    if (req->expected && *req->expected) {
        if (check_digest(req->expected, err) < 0)
            return -1;
        free(s->expected);
        s->expected = berth_xstrdup(req->expected);
        if (!s->committed) {
            _cleanup_err_ struct berth_err *e = NULL;
            int has = ns_has(s->ctx, req->expected, err);
            if (has < 0)
                return -1;
            if (has) {
                /* The namespace has the blob: this ingest is pointless (containerd aborts it
                 * too). Only the namespace counts: one in the store is shared at open. */
                berth_meta_ingest_close(steal_ptr(s->w));
                (void)berth_meta_ingest_abort(berth_svc_app(s->ctx)->db, cstore(s->ctx), s->ctx->ns,
                                              s->ctx->lease, s->ref, &e);
                return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "content %s", req->expected);
            }
        }
    }
    if (req->total > 0)
        s->total = req->total;
    if (s->committed) {
        /* The writer is gone; report what was committed. */
        resp->offset = s->final_offset;
        resp->total = s->total;
        snprintf(digest, 72, "%s", s->digest);
        resp->digest = digest;
        if (req->action != CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__STAT)
            return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                                 "ref \"%s\" was already committed", s->ref);
        return 0;
    }
    if (berth_meta_ingest_status(s->w, &st, err) < 0)
        return -1;
    resp->offset = st.offset;
    switch (req->action) {
    case CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__STAT:
        if (s->total > 0 && berth_meta_ingest_truncate_total(s->w, s->total, err) < 0)
            break;
        resp->total = s->total ? s->total : st.total;
        resp->started_at = berth_pb_ts_or_null(resp->started_at, st.started_ns);
        resp->updated_at = berth_pb_ts_or_null(resp->updated_at, st.updated_ns);
        berth_meta_ingest_digest(s->w, digest);
        resp->digest = digest;
        berth_content_status_clear(&st);
        return 0;
    case CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__WRITE:
    case CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT:
        if (req->offset > 0 && req->offset != st.offset) {
            berth_err_set(err, BERTH_E_OUT_OF_RANGE, 0,
                          "write @%" PRId64 " must occur at current offset %" PRId64, req->offset,
                          st.offset);
            break;
        }
        /* Offset 0 on a non-empty ingest starts it over (containerd truncates). */
        if ((req->offset == 0 && st.offset > 0) || req->data.len > 0) {
            if (berth_meta_ingest_write(s->w, req->offset ? st.offset : 0, req->data.data,
                                        req->data.len, err) < 0)
                break;
            resp->offset = (req->offset ? st.offset : 0) + (int64_t)req->data.len;
        }
        if (req->action == CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT) {
            if (write_commit(s, req, err) < 0)
                break;
            snprintf(digest, 72, "%s", s->digest);
        } else {
            berth_meta_ingest_digest(s->w, digest);
        }
        resp->digest = digest;
        berth_content_status_clear(&st);
        return 0;
    default:
        berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "unknown write action %d",
                      (int)req->action);
        break;
    }
    berth_content_status_clear(&st);
    return -1;
}

static int write_open(struct write_session *s, const write_req *first, struct berth_err **err)
{
    struct berth_meta_ingest_opts o = {.ns = s->ctx->ns, .lease = s->ctx->lease};

    if (!first->ref || !*first->ref)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "first message must have a reference");
    s->ref = berth_xstrdup(first->ref);
    s->total = first->total;
    if (first->expected && *first->expected) {
        if (check_digest(first->expected, err) < 0)
            return -1;
        s->expected = berth_xstrdup(first->expected);
    }
    if (first->total < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "ref \"%s\": negative total",
                             s->ref);
    o.ref = s->ref;
    o.total = first->total;
    o.expected = s->expected;
    return berth_meta_ingest_open(berth_svc_app(s->ctx)->db, cstore(s->ctx), &o, &s->w, err);
}

static int content_write(struct berth_svc_ctx *ctx, struct berth_stream *st, struct berth_err **err)
{
    _cleanup_(write_req_freep) write_req *req = NULL;
    struct write_session s = {.ctx = ctx};
    int ret = -1;

    if (berth_stream_recv(st, (ProtobufCMessage **)&req, err) < 0)
        return -1;
    if (!req)
        return 0; /* the client closed without asking anything */
    if (write_open(&s, req, err) < 0)
        goto out;
    for (;;) {
        Containerd__Services__Content__V1__WriteContentResponse resp =
            CONTAINERD__SERVICES__CONTENT__V1__WRITE_CONTENT_RESPONSE__INIT;
        Google__Protobuf__Timestamp started, updated;
        char digest[72] = "";

        resp.started_at = &started;
        resp.updated_at = &updated;
        if (write_step(&s, req, &resp, digest, err) < 0)
            goto out;
        if (resp.action != CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__STAT || s.committed) {
            resp.started_at = NULL;
            resp.updated_at = NULL;
        }
        if (berth_stream_send(st, &resp.base, err) < 0)
            goto out;
        protobuf_c_message_free_unpacked(&req->base, NULL);
        req = NULL;
        if (berth_stream_recv(st, (ProtobufCMessage **)&req, err) < 0)
            goto out;
        if (!req)
            break;
    }
    ret = 0;
out:
    berth_meta_ingest_close(s.w); /* keeps an unfinished ingest for a later resume */
    free(s.ref);
    free(s.expected);
    free(s.digest);
    return ret;
}

static int content_abort(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                         struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Content__V1__AbortRequest *req = (const void *)in;
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;

    if (!req->ref || !*req->ref)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "ref must not be empty");
    if (berth_meta_ingest_abort(berth_svc_app(ctx)->db, cstore(ctx), ctx->ns, ctx->lease, req->ref,
                                err) < 0)
        return -1;
    berth_svc_pack(out, &empty.base);
    return 0;
}

static const struct berth_method methods[] = {
    {"Info", BERTH_UNARY, BERTH_NS_REQUIRED, .nonblocking = true, .unary = content_info},
    {"Update", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = content_update},
    {"List", BERTH_SERVER_STREAM, BERTH_NS_REQUIRED, .server_stream = content_list},
    {"Delete", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = content_delete},
    {"Read", BERTH_SERVER_STREAM, BERTH_NS_REQUIRED, .server_stream = content_read},
    {"Status", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = content_status},
    {"ListStatuses", BERTH_UNARY, BERTH_NS_REQUIRED, .listing = true,
     .unary = content_list_statuses},
    {"Write", BERTH_BIDI_STREAM, BERTH_NS_REQUIRED, .bidi = content_write},
    {"Abort", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = content_abort},
};

const struct berth_service berth_svc_content = {
    &containerd__services__content__v1__content__descriptor, methods, BERTH_N(methods)};
