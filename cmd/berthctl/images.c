/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl images (alias i): ls, create, rm, label over the containerd Images service, sending
 * what `ctr images` sends (labels.<key> update masks, `sync` on the last delete), and the
 * client-side image walk run and images mount use. import, export, mount and unmount live in
 * transfer.c.
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/services/images/v1/images.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "images/walk.h"

#define I_SVC "/containerd.services.images.v1.Images/"

typedef Containerd__Services__Images__V1__Image image_t;
typedef Containerd__Services__Images__V1__Image__LabelsEntry image_label_t;
typedef Containerd__Services__Images__V1__ListImagesResponse list_resp_t;
DEFINE_PB_CLEANUP(list_resp_t, list_resp_freep)

static void images_print(struct berthctl *ctl, const list_resp_t *resp, bool quiet)
{
    static const char *const header[] = {"REF", "TYPE", "DIGEST", "SIZE", "LABELS"};
    _cleanup_(berthctl_table_freep) struct berthctl_table *t = NULL;
    struct berthctl_json j;

    if (quiet) {
        for (size_t i = 0; i < resp->n_images; i++)
            fprintf(ctl->out, "%s\n", resp->images[i]->name);
        return;
    }
    if (ctl->format == BERTHCTL_FORMAT_JSON) {
        berthctl_json_init(&j, ctl->out);
        berthctl_json_arr_begin(&j);
        for (size_t i = 0; i < resp->n_images; i++)
            berthctl_json_pb(&j, &resp->images[i]->base);
        berthctl_json_arr_end(&j);
        berthctl_json_end(&j);
        return;
    }
    t = berthctl_table_new(BERTH_N(header), header);
    for (size_t i = 0; i < resp->n_images; i++) {
        const image_t *im = resp->images[i];
        const Containerd__Types__Descriptor *d = im->target;
        _cleanup_free_ char *labels =
            berthctl_str_map_join(im->n_labels, (const void *const *)im->labels);
        _cleanup_free_ char *size = berth_strdup_printf("%" PRId64, d ? d->size : 0);
        const char *row[] = {im->name, d ? d->media_type : "", d ? d->digest : "", size,
                             *labels ? labels : "-"};
        berthctl_table_add(t, row);
    }
    berthctl_table_print(t, ctl->out);
}

static int images_list(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(list_resp_freep) list_resp_t *resp = NULL;
    Containerd__Services__Images__V1__ListImagesRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__LIST_IMAGES_REQUEST__INIT;
    bool quiet = false;

    if (berthctl_quiet_opt(ctl, argc, argv, &quiet, err) < 0)
        return -1;
    /* remaining arguments are filters, OR'ed as ctr does */
    req.filters = argv + optind;
    req.n_filters = (size_t)(argc - optind);
    if (berth_client_unary(ctl->client, I_SVC "List", &req.base,
                           &containerd__services__images__v1__list_images_response__descriptor,
                           (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    images_print(ctl, resp, quiet);
    return 0;
}

/* create NAME DIGEST SIZE [MEDIATYPE]: an image record pointing at existing content. */
static int images_create(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
    Containerd__Services__Images__V1__CreateImageRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__CREATE_IMAGE_REQUEST__INIT;
    image_t im = CONTAINERD__SERVICES__IMAGES__V1__IMAGE__INIT;
    Containerd__Types__Descriptor d = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    char *end = NULL;

    if (argc < 4 || argc > 5)
        return berthctl_usage(ctl, err, "images create: want NAME DIGEST SIZE [MEDIATYPE]");
    d.size = strtoll(argv[3], &end, 10);
    if (!*argv[3] || *end)
        return berthctl_usage(ctl, err, "images create: invalid size \"%s\"", argv[3]);
    d.digest = argv[2];
    d.media_type = argc == 5 ? argv[4] : (char *)"application/vnd.oci.image.manifest.v1+json";
    im.name = argv[1];
    im.target = &d;
    req.image = &im;
    if (berth_client_unary(ctl->client, I_SVC "Create", &req.base,
                           &containerd__services__images__v1__create_image_response__descriptor,
                           &resp, err) < 0)
        return -1;
    fprintf(ctl->out, "%s\n", argv[1]);
    return 0;
}

/* Like ctr: a missing image is a warning; other failures fail the command at the end. */
static int images_remove(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const struct option opts[] = {{"sync", no_argument, NULL, 's'}, {0}};
    Containerd__Services__Images__V1__DeleteImageRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__DELETE_IMAGE_REQUEST__INIT;
    bool sync = false;
    int c;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:s", opts, NULL)) != -1) {
        if (c != 's')
            return berthctl_bad_option(ctl, c, argv, err);
        sync = true;
    }
    if (optind >= argc)
        return berthctl_usage(ctl, err, "images rm: missing image name");
    for (int i = optind; i < argc; i++) {
        _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
        _cleanup_err_ struct berth_err *e = NULL;

        req.name = argv[i];
        req.sync = sync && i == argc - 1;
        if (berth_client_unary(ctl->client, I_SVC "Delete", &req.base,
                               &google__protobuf__empty__descriptor, &resp, &e) == 0) {
            fprintf(ctl->out, "%s\n", argv[i]);
            continue;
        }
        if (e->code == BERTH_E_NOT_FOUND) {
            fprintf(stderr, "berthctl: warning: image \"%s\" not found\n", argv[i]);
            continue;
        }
        fprintf(stderr, "berthctl: remove image \"%s\": %s\n", argv[i], e->msg);
        ctl->exit_code = 1;
    }
    return 0;
}

static int images_label(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    _cleanup_(berthctl_kvs_clear) struct berthctl_kvs kv = {0};
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *resp = NULL;
    _cleanup_free_ image_label_t *storage = NULL;
    _cleanup_free_ image_label_t **labels = NULL;
    _cleanup_strv_ char **paths = NULL;
    Containerd__Services__Images__V1__UpdateImageRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__UPDATE_IMAGE_REQUEST__INIT;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    image_t im = CONTAINERD__SERVICES__IMAGES__V1__IMAGE__INIT;
    size_t n = 0;

    if (argc < 2)
        return berthctl_usage(ctl, err, "images label: missing image name");
    for (int i = 2; i < argc; i++)
        if (berthctl_kvs_add(&kv, argv[i], false, err) < 0) {
            ctl->usage_error = true;
            return -1;
        }
    if (kv.n == 0) {
        Containerd__Services__Images__V1__GetImageRequest g =
            CONTAINERD__SERVICES__IMAGES__V1__GET_IMAGE_REQUEST__INIT;
        Containerd__Services__Images__V1__GetImageResponse *gr = NULL;
        g.name = argv[1];
        if (berth_client_unary(ctl->client, I_SVC "Get", &g.base,
                               &containerd__services__images__v1__get_image_response__descriptor,
                               (ProtobufCMessage **)&gr, err) < 0)
            return -1;
        if (gr->image && gr->image->n_labels) {
            _cleanup_free_ char *s =
                berthctl_str_map_join(gr->image->n_labels, (const void *const *)gr->image->labels);
            fprintf(ctl->out, "%s\n", s);
        }
        protobuf_c_message_free_unpacked(&gr->base, NULL);
        return 0;
    }
    storage = berth_xcalloc(kv.n, sizeof(*storage));
    labels = berth_xcalloc(kv.n, sizeof(*labels));
    paths = berth_xcalloc(kv.n + 1, sizeof(char *));
    for (size_t i = 0; i < kv.n; i++) {
        image_label_t init = CONTAINERD__SERVICES__IMAGES__V1__IMAGE__LABELS_ENTRY__INIT;
        paths[i] = berth_strdup_printf("labels.%s", kv.keys[i]);
        if (!*kv.vals[i])
            continue; /* absent from the map: the mask path deletes it */
        storage[n] = init;
        storage[n].key = kv.keys[i];
        storage[n].value = kv.vals[i];
        labels[n] = &storage[n];
        n++;
    }
    im.name = argv[1];
    im.n_labels = n;
    im.labels = labels;
    mask.n_paths = kv.n;
    mask.paths = paths;
    req.image = &im;
    req.update_mask = &mask;
    if (berth_client_unary(ctl->client, I_SVC "Update", &req.base,
                           &containerd__services__images__v1__update_image_response__descriptor,
                           &resp, err) < 0)
        return -1;
    fprintf(ctl->out, "%s\n", argv[1]);
    return 0;
}

int berthctl_image_walk(struct berthctl *ctl, const char *name, const struct berth_platform *p,
                        struct berth_image_walk *out, struct berth_err **err)
{
    Containerd__Services__Images__V1__GetImageRequest g =
        CONTAINERD__SERVICES__IMAGES__V1__GET_IMAGE_REQUEST__INIT;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *gr_msg = NULL;
    const Containerd__Services__Images__V1__GetImageResponse *gr;
    struct berth_descriptor target = {0};
    struct berth_blob_source src;

    g.name = (char *)name;
    if (berth_client_unary(ctl->client, I_SVC "Get", &g.base,
                           &containerd__services__images__v1__get_image_response__descriptor,
                           &gr_msg, err) < 0)
        return berth_err_wrap(err, "image \"%s\"", name);
    gr = (const void *)gr_msg;
    if (!gr->image || !gr->image->target || !gr->image->target->digest)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "image \"%s\" has no target", name);
    /* borrowed from the response for the walk */
    target.media_type = gr->image->target->media_type;
    target.digest = gr->image->target->digest;
    target.size = gr->image->target->size;
    berthctl_blob_source_init(ctl, &src);
    if (berth_image_walk(&src, &target, p, out, err) < 0)
        return berth_err_wrap(err, "image \"%s\"", name);
    return 0;
}

static const struct berthctl_verb images_verbs[] = {
    {"ls", "list", images_list},
    {"create", NULL, images_create},
    {"rm", "remove", images_remove},
    {"label", NULL, images_label},
    {"pull", NULL, berthctl_images_pull},
    {"import", NULL, berthctl_images_import},
    {"export", NULL, berthctl_images_export},
    {"mount", NULL, berthctl_images_mount},
    {"unmount", "umount", berthctl_images_unmount},
};

static int images_run(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    return berthctl_dispatch(ctl, images_verbs, BERTH_N(images_verbs), argc - 1, argv + 1, err);
}

const struct berthctl_noun berthctl_images_noun = {
    .name = "images",
    .alias = "i",
    .summary = "manage images",
    .usage = "usage: berthctl [global options] images|i COMMAND\n"
             "\n"
             "commands:\n"
             "  ls|list [-q] [FILTER...]            list images (-q: names only)\n"
             "  create NAME DIGEST SIZE [MEDIATYPE] record an image pointing at content\n"
             "  rm|remove [--sync] NAME...          remove images\n"
             "  label NAME [KEY=VALUE...]           set labels (empty value deletes); none: show\n"
             "  pull [--platform P] [--no-unpack] [--snapshotter S] [-u USER[:PASSWORD]]\n"
             "       [--plain-http] [--detach] [--format table|json] REF\n"
             "                                      pull from a registry (inside berthd)\n"
             "  import [--platform P] [--all-platforms] [--no-unpack] [--snapshotter S]\n"
             "         [--index-name N] [--base-name B] FILE|-\n"
             "                                      import an OCI layout or docker-save archive\n"
             "  export [--platform P] [--all-platforms] FILE|- NAME...\n"
             "                                      write images as an OCI archive\n"
             "  mount [--rw] [--platform P] [--snapshotter S] NAME TARGET\n"
             "                                      mount an unpacked image on TARGET\n"
             "  unmount|umount [--rm] [--snapshotter S] TARGET\n"
             "                                      unmount (--rm: and remove the snapshot)\n",
    .run = images_run,
};
