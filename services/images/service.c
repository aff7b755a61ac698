/* SPDX-License-Identifier: Apache-2.0 */
/* Images service: CRUD over image records (metadata/images) in the caller's namespace, with
 * containerd's /images/{create,update,delete} events (payloads in the images service package).
 * Delete with `sync` runs a GC pass and waits for it (containerd's images.SynchronousDelete). */
#include <string.h>

#include "api/services/images/v1/images.pb-c.h"
#include "api/timestamp.h"
#include "google/protobuf/empty.pb-c.h"
#include "lib/filters.h"
#include "metadata/images.h"
#include "metadata/record.h"
#include "services/events/publish.h"
#include "services/services.h"

typedef Containerd__Services__Images__V1__Image image_pb;

/* An Image message borrowing every string from a record. */
struct image_out {
    image_pb pb;
    Containerd__Types__Descriptor target;
    Google__Protobuf__Timestamp created, updated;
    void **labels, **annotations;
};

static void image_out_init(struct image_out *o, const struct berth_image *im)
{
    containerd__services__images__v1__image__init(&o->pb);
    containerd__types__descriptor__init(&o->target);
    o->pb.name = im->name;
    berth_labels_to_pb(&im->labels,
                       &containerd__services__images__v1__image__labels_entry__descriptor,
                       &o->labels, &o->pb.n_labels);
    o->pb.labels = (Containerd__Services__Images__V1__Image__LabelsEntry **)o->labels;
    o->target.media_type = im->target.media_type ? im->target.media_type : (char *)"";
    o->target.digest = im->target.digest ? im->target.digest : (char *)"";
    o->target.size = im->target.size;
    berth_labels_to_pb(&im->target.annotations,
                       &containerd__types__descriptor__annotations_entry__descriptor,
                       &o->annotations, &o->target.n_annotations);
    o->target.annotations = (Containerd__Types__Descriptor__AnnotationsEntry **)o->annotations;
    o->pb.target = &o->target;
    o->pb.created_at = berth_pb_ts_or_null(&o->created, im->created_ns);
    o->pb.updated_at = berth_pb_ts_or_null(&o->updated, im->updated_ns);
}

static void image_out_clear(struct image_out *o)
{
    free(o->labels);
    free(o->annotations);
}

static struct berth_image *image_from_pb(const image_pb *pb)
{
    struct berth_image *im = berth_image_new();

    im->name = berth_xstrdup(pb->name ? pb->name : "");
    berth_labels_from_pb(&im->labels, (void *const *)pb->labels, pb->n_labels);
    if (pb->target) {
        const Containerd__Types__Descriptor *t = pb->target;
        if (t->media_type && *t->media_type)
            im->target.media_type = berth_xstrdup(t->media_type);
        if (t->digest && *t->digest)
            im->target.digest = berth_xstrdup(t->digest);
        im->target.size = t->size;
        berth_labels_from_pb(&im->target.annotations, (void *const *)t->annotations,
                             t->n_annotations);
    }
    return im;
}

static void reply_image(const struct berth_image *im, ProtobufCMessage *resp, image_pb **slot,
                        struct berth_bytes *out)
{
    struct image_out o;

    image_out_init(&o, im);
    *slot = &o.pb;
    berth_svc_pack(out, resp);
    image_out_clear(&o);
}

static int images_get(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Images__V1__GetImageRequest *req = (const void *)in;
    Containerd__Services__Images__V1__GetImageResponse resp =
        CONTAINERD__SERVICES__IMAGES__V1__GET_IMAGE_RESPONSE__INIT;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_(berth_image_freep) struct berth_image *im = NULL;

    if (berth_meta_txn_begin_read(berth_svc_app(ctx)->db, &txn, err) < 0 ||
        berth_meta_images_get(txn, ctx->ns, req->name, &im, err) < 0)
        return -1;
    reply_image(im, &resp.base, &resp.image, out);
    return 0;
}

static int images_list(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                       struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Images__V1__ListImagesRequest *req = (const void *)in;
    Containerd__Services__Images__V1__ListImagesResponse resp =
        CONTAINERD__SERVICES__IMAGES__V1__LIST_IMAGES_RESPONSE__INIT;
    _cleanup_(berth_filter_freep) struct berth_filter *f = NULL;
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    struct berth_image **v = NULL;
    struct image_out *outs;
    image_pb **ptrs;
    size_t n = 0;

    if (berth_filter_parse((const char *const *)req->filters, req->n_filters, &f, err) < 0)
        return -1;
    if (berth_meta_txn_begin_read(berth_svc_app(ctx)->db, &txn, err) < 0)
        return -1;
    berth_svc_filter_watch(f, ctx);
    if (berth_meta_images_list(txn, ctx->ns, f, &v, &n, err) < 0)
        return -1;
    if (berth_svc_filter_check(f, ctx, "images", err) < 0) {
        berth_images_free(v, n);
        return -1;
    }
    outs = berth_xcalloc(n ? n : 1, sizeof(*outs));
    ptrs = berth_xcalloc(n ? n : 1, sizeof(*ptrs));
    for (size_t i = 0; i < n; i++) {
        image_out_init(&outs[i], v[i]);
        ptrs[i] = &outs[i].pb;
    }
    resp.n_images = n;
    resp.images = ptrs;
    berth_svc_pack(out, &resp.base);
    for (size_t i = 0; i < n; i++)
        image_out_clear(&outs[i]);
    free(outs);
    free(ptrs);
    berth_images_free(v, n);
    return 0;
}

struct write_op {
    const char *ns;
    struct berth_image *im;
    char *const *paths;
    size_t n_paths;
    const char *target_digest;
    struct berth_image *result;
};

static int create_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct write_op *op = arg;
    return berth_meta_images_create(txn, op->ns, op->im, err);
}

static int update_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct write_op *op = arg;
    berth_image_free(op->result); /* a retried batch must not leak */
    op->result = NULL;
    return berth_meta_images_update(txn, op->ns, op->im, op->paths, op->n_paths, &op->result, err);
}

static int delete_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct write_op *op = arg;
    return berth_meta_images_delete(txn, op->ns, op->im->name, op->target_digest, err);
}

static int images_create(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                         struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Images__V1__CreateImageRequest *req = (const void *)in;
    Containerd__Services__Images__V1__CreateImageResponse resp =
        CONTAINERD__SERVICES__IMAGES__V1__CREATE_IMAGE_RESPONSE__INIT;
    _cleanup_(berth_image_freep) struct berth_image *im = NULL;
    struct write_op op = {.ns = ctx->ns};

    if (!req->image)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "image must be set");
    im = image_from_pb(req->image);
    op.im = im;
    if (berth_meta_update(berth_svc_app(ctx)->db, create_cb, &op, err) < 0)
        return -1;
    berth_publish_image(ctx, "/images/create", im);
    reply_image(im, &resp.base, &resp.image, out);
    return 0;
}

static int images_update(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                         struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Images__V1__UpdateImageRequest *req = (const void *)in;
    Containerd__Services__Images__V1__UpdateImageResponse resp =
        CONTAINERD__SERVICES__IMAGES__V1__UPDATE_IMAGE_RESPONSE__INIT;
    _cleanup_(berth_image_freep) struct berth_image *im = NULL;
    struct write_op op = {.ns = ctx->ns};

    if (!req->image)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "image must be set");
    im = image_from_pb(req->image);
    op.im = im;
    if (req->update_mask) {
        op.paths = req->update_mask->paths;
        op.n_paths = req->update_mask->n_paths;
    }
    if (berth_meta_update(berth_svc_app(ctx)->db, update_cb, &op, err) < 0) {
        berth_image_free(op.result);
        return -1;
    }
    berth_publish_image(ctx, "/images/update", op.result);
    reply_image(op.result, &resp.base, &resp.image, out);
    berth_image_free(op.result);
    return 0;
}

static int images_delete(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                         struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Images__V1__DeleteImageRequest *req = (const void *)in;
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    struct berth_image key = {.name = req->name};
    struct write_op op = {.ns = ctx->ns, .im = &key};

    if (req->target)
        op.target_digest = req->target->digest;
    if (berth_meta_update(berth_svc_app(ctx)->db, delete_cb, &op, err) < 0)
        return -1;
    berth_publish_image(ctx, "/images/delete", &key);
    if (req->sync && berth_svc_app(ctx)->gc &&
        berth_gc_scheduler_run(berth_svc_app(ctx)->gc, NULL, err) < 0)
        return -1;
    berth_svc_pack(out, &empty.base);
    return 0;
}

static const struct berth_method methods[] = {
    {"Get", BERTH_UNARY, BERTH_NS_REQUIRED, .nonblocking = true, .unary = images_get},
    /* Not on the completion-queue thread: a `~=` filter may take long over many records. */
    {"List", BERTH_UNARY, BERTH_NS_REQUIRED, .nonblocking = true, .listing = true,
     .unary = images_list},
    {"Create", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = images_create},
    {"Update", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = images_update},
    {"Delete", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = images_delete},
};

const struct berth_service berth_svc_images = {
    &containerd__services__images__v1__images__descriptor, methods, BERTH_N(methods)};
