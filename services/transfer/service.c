/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transfer service (berth.services.images.v1, berth's own): Import reads an image archive the
 * client streams and hands it to images/import.c piece by piece through a read callback (no
 * temp file, and never a client-named path); Export streams images/export.c's OCI archive
 * back in pieces of up to 1 MiB. Both run on the call's stream thread, which may block.
 * Image create/update events are published as the Images service does.
 */
#include <string.h>

#include "api/berth/services/images/v1/transfer.pb-c.h"
#include "api/events/image.pb-c.h"
#include "api/services/images/v1/images.pb-c.h"
#include "images/export.h"
#include "images/import.h"
#include "images/pull.h"
#define BERTH_LOG_SUBSYS "transfer"
#include "lib/log.h"
#include "metadata/record.h"
#include "services/events/publish.h"
#include "services/services.h"

typedef Berth__Services__Images__V1__ImportRequest import_req;
DEFINE_PB_CLEANUP(import_req, import_req_freep)

#define SEND_CHUNK (1 << 20)

static void stores_from(const struct berth_svc_ctx *ctx, struct berth_image_stores *st)
{
    struct berth_services *app = berth_svc_app(ctx);

    st->db = app->db;
    st->content = app->content;
    st->snapshotters = app->snapshotters;
    st->tmp_dir = app->state;
}

/* Feeds libarchive from the request stream: each message's data, kept alive until the next
 * call asks for more. */
struct stream_reader {
    struct berth_stream *st;
    import_req *cur;
    bool first_pending; /* the first message's data has not been handed out yet */
    bool eof;
};

static ssize_t stream_read_cb(void *arg, const void **buf, struct berth_err **err)
{
    struct stream_reader *r = arg;

    for (;;) {
        if (r->first_pending) {
            r->first_pending = false;
            if (r->cur->data.len) {
                *buf = r->cur->data.data;
                return (ssize_t)r->cur->data.len;
            }
        }
        if (r->eof)
            return 0;
        if (r->cur)
            protobuf_c_message_free_unpacked(&r->cur->base, NULL);
        r->cur = NULL;
        if (berth_stream_recv(r->st, (ProtobufCMessage **)&r->cur, err) < 0)
            return -1;
        if (!r->cur) {
            r->eof = true;
            return 0;
        }
        if (r->cur->data.len) {
            *buf = r->cur->data.data;
            return (ssize_t)r->cur->data.len;
        }
    }
}

static int parse_platform(const char *s, struct berth_platform *p, bool *set,
                          struct berth_err **err)
{
    *set = s && *s;
    return *set ? berth_platform_parse(s, p, err) : 0;
}

/* An image import or pull wrote: its create/update event published, and img (with its target
 * d) filled for the reply, borrowing im's strings. */
static void image_written(struct berth_svc_ctx *ctx, const struct berth_image *im, bool created,
                          Berth__Services__Images__V1__ImportedImage *img,
                          Containerd__Types__Descriptor *d)
{
    berth_publish_image(ctx, created ? "/images/create" : "/images/update", im);
    berth__services__images__v1__imported_image__init(img);
    containerd__types__descriptor__init(d);
    d->media_type = im->target.media_type;
    d->digest = im->target.digest;
    d->size = im->target.size;
    img->name = im->name;
    img->target = d;
    img->created = created;
}

static int transfer_import(struct berth_svc_ctx *ctx, struct berth_stream *st,
                           struct berth_err **err)
{
    Berth__Services__Images__V1__ImportResponse resp =
        BERTH__SERVICES__IMAGES__V1__IMPORT_RESPONSE__INIT;
    struct stream_reader r = {.st = st};
    struct berth_import_opts opts = {.ns = ctx->ns};
    struct berth_import_result res = {0};
    struct berth_platform plat = {0};
    struct berth_image_stores stores;
    const Berth__Services__Images__V1__ImportOptions *o;
    /* The options come with the first message, which the reader frees once it moves on to the
     * next: the import must own what it reads after that (the index name at its very end). */
    _cleanup_free_ char *snapshotter = NULL, *index_name = NULL, *base_name = NULL;
    bool has_plat = false;
    int ret = -1;

    stores_from(ctx, &stores);
    if (!stores.content)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "import: no content store");
    if (berth_stream_recv(st, (ProtobufCMessage **)&r.cur, err) < 0)
        return -1;
    if (!r.cur)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "import: empty request stream");
    o = r.cur->options;
    if (o) {
        if (parse_platform(o->platform, &plat, &has_plat, err) < 0)
            goto out;
        opts.platform = has_plat ? &plat : NULL;
        opts.all_platforms = o->all_platforms;
        opts.no_unpack = o->no_unpack;
        opts.snapshotter = snapshotter = o->snapshotter ? berth_xstrdup(o->snapshotter) : NULL;
        opts.index_name = index_name = o->index_name ? berth_xstrdup(o->index_name) : NULL;
        opts.base_name = base_name = o->base_name ? berth_xstrdup(o->base_name) : NULL;
    }
    r.first_pending = true;
    if (berth_image_import(&stores, &opts, stream_read_cb, &r, &res, err) < 0)
        goto out;
    /* drain anything the client sent past the archive's end */
    for (const void *b; !r.eof;)
        if (stream_read_cb(&r, &b, err) < 0)
            goto out;
    {
        Berth__Services__Images__V1__ImportedImage *imgs = berth_xcalloc(res.n + 1, sizeof(*imgs));
        Berth__Services__Images__V1__ImportedImage **ptrs = berth_xcalloc(res.n + 1, sizeof(*ptrs));
        Containerd__Types__Descriptor *ds = berth_xcalloc(res.n + 1, sizeof(*ds));

        for (size_t i = 0; i < res.n; i++) {
            image_written(ctx, res.images[i], res.created[i], &imgs[i], &ds[i]);
            ptrs[i] = &imgs[i];
        }
        resp.images = ptrs;
        resp.n_images = res.n;
        ret = berth_stream_send(st, &resp.base, err);
        free(imgs);
        free(ptrs);
        free(ds);
    }
out:
    if (r.cur)
        protobuf_c_message_free_unpacked(&r.cur->base, NULL);
    berth_import_result_clear(&res);
    berth_platform_clear(&plat);
    return ret;
}

/* Coalesces libarchive's writes into messages of SEND_CHUNK bytes. */
struct stream_writer {
    struct berth_stream *st;
    uint8_t *buf;
    size_t len;
};

static int flush(struct stream_writer *w, struct berth_err **err)
{
    Berth__Services__Images__V1__ExportResponse msg =
        BERTH__SERVICES__IMAGES__V1__EXPORT_RESPONSE__INIT;

    if (!w->len)
        return 0;
    msg.data.data = w->buf;
    msg.data.len = w->len;
    w->len = 0;
    return berth_stream_send(w->st, &msg.base, err);
}

static int stream_write_cb(void *arg, const void *buf, size_t len, struct berth_err **err)
{
    struct stream_writer *w = arg;
    const uint8_t *p = buf;

    while (len) {
        size_t n = SEND_CHUNK - w->len < len ? SEND_CHUNK - w->len : len;
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        p += n;
        len -= n;
        if (w->len == SEND_CHUNK && flush(w, err) < 0)
            return -1;
    }
    return 0;
}

static int transfer_export(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                           struct berth_stream *st, struct berth_err **err)
{
    const Berth__Services__Images__V1__ExportRequest *req = (const void *)in;
    struct stream_writer w = {.st = st};
    struct berth_export_opts opts = {.ns = ctx->ns, .all_platforms = req->all_platforms};
    struct berth_platform plat = {0};
    struct berth_image_stores stores;
    bool has_plat = false;
    int ret = -1;

    stores_from(ctx, &stores);
    if (!stores.content)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "export: no content store");
    if (parse_platform(req->platform, &plat, &has_plat, err) < 0)
        return -1;
    opts.platform = has_plat ? &plat : NULL;
    w.buf = berth_xmalloc(SEND_CHUNK);
    if (berth_image_export(&stores, &opts, req->names, req->n_names, stream_write_cb, &w, err) ==
            0 &&
        flush(&w, err) == 0)
        ret = 0;
    free(w.buf);
    berth_platform_clear(&plat);
    return ret;
}

struct pull_stream {
    struct berth_svc_ctx *ctx;
    struct berth_stream *st;
    bool detach;           /* the pull outlives the call */
    struct berth_err *err; /* the first send failure (the client went away) */
};

static void pull_progress(void *arg, const struct berth_pull_event *ev)
{
    struct pull_stream *ps = arg;
    Berth__Services__Images__V1__PullResponse msg =
        BERTH__SERVICES__IMAGES__V1__PULL_RESPONSE__INIT;
    Berth__Services__Images__V1__PullProgress pr = BERTH__SERVICES__IMAGES__V1__PULL_PROGRESS__INIT;

    if (ps->err)
        return;
    pr.kind = (char *)ev->kind;
    pr.digest = (char *)ev->digest;
    pr.state = (char *)berth_pull_state_name(ev->state);
    pr.offset = ev->offset;
    pr.total = ev->total;
    msg.progress = &pr;
    (void)berth_stream_send(ps->st, &msg.base, &ps->err);
}

static bool pull_canceled(void *arg)
{
    struct pull_stream *ps = arg;
    return !ps->detach && (ps->err || berth_svc_ctx_done(ps->ctx));
}

static int transfer_pull(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                         struct berth_stream *st, struct berth_err **err)
{
    const Berth__Services__Images__V1__PullRequest *req = (const void *)in;
    Berth__Services__Images__V1__PullResponse resp =
        BERTH__SERVICES__IMAGES__V1__PULL_RESPONSE__INIT;
    Berth__Services__Images__V1__ImportedImage img;
    Containerd__Types__Descriptor d;
    struct pull_stream ps = {.ctx = ctx, .st = st, .detach = req->detach};
    struct berth_registry_creds creds = {0};
    struct berth_pull_opts o = {.ns = ctx->ns,
                                .ref = req->ref,
                                .no_unpack = req->no_unpack,
                                .snapshotter = req->snapshotter,
                                .plain_http = req->plain_http,
                                .is_canceled = pull_canceled,
                                .cancel_arg = &ps,
                                .progress = pull_progress,
                                .progress_arg = &ps};
    struct berth_pull_result res = {0};
    struct berth_platform plat = {0};
    struct berth_labels labels;
    bool has_plat = false;
    int ret = -1;

    if (!berth_svc_app(ctx)->puller)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "pull: no registry client");
    if (!req->ref || !*req->ref)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "pull: ref must not be empty");
    if (parse_platform(req->platform, &plat, &has_plat, err) < 0)
        return -1;
    o.platform = has_plat ? &plat : NULL;
    if (req->auth && ((req->auth->username && *req->auth->username) ||
                      (req->auth->secret && *req->auth->secret))) {
        creds.username = req->auth->username;
        creds.secret = req->auth->secret;
        o.creds = &creds;
    }
    berth_labels_init(&labels);
    berth_labels_from_pb(&labels, (void *const *)req->labels, req->n_labels);
    if (berth_labels_validate(&labels, err) < 0)
        goto out;
    o.labels = req->n_labels ? &labels : NULL;
    if (berth_image_pull(berth_svc_app(ctx)->puller, &o, &res, err) < 0) {
        if (ps.err && !ps.detach && (*err)->code == BERTH_E_CANCELED) { /* the client left */
            berth_err_free(err);
            *err = steal_ptr(ps.err);
        }
        goto out;
    }
    log_info("pulled ns=%s image=%s target=%s", ctx->ns, res.image->name, res.image->target.digest);
    image_written(ctx, res.image, res.created, &img, &d);
    resp.image = &img;
    resp.top_chain_id = res.top_chain_id ? res.top_chain_id : (char *)"";
    ret = berth_stream_send(st, &resp.base, err);
out:
    berth_err_free(&ps.err);
    berth_pull_result_clear(&res);
    berth_labels_clear(&labels);
    berth_platform_clear(&plat);
    return ret;
}

static const struct berth_method methods[] = {
    {"Import", BERTH_BIDI_STREAM, BERTH_NS_REQUIRED, .bidi = transfer_import},
    {"Export", BERTH_SERVER_STREAM, BERTH_NS_REQUIRED, .server_stream = transfer_export},
    {"Pull", BERTH_SERVER_STREAM, BERTH_NS_REQUIRED, .server_stream = transfer_pull},
};

const struct berth_service berth_svc_transfer = {&berth__services__images__v1__transfer__descriptor,
                                                 methods, BERTH_N(methods)};
