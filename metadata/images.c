/* SPDX-License-Identifier: Apache-2.0 */
/* Image records (see images.h). */
#include "metadata/images.h"

#include <string.h>

#include "api/berth/records.pb-c.h"
#include "lib/digest.h"
#include "lib/fieldpath.h"
#include "metadata/keys.h"
#include "metadata/namespaces.h"
#include "metadata/record.h"

typedef Berth__Records__V1__Image rec_t;
DEFINE_PB_CLEANUP(rec_t, rec_freep)

void berth_descriptor_clear(struct berth_descriptor *d)
{
    free(d->media_type);
    free(d->digest);
    berth_labels_clear(&d->annotations);
    memset(d, 0, sizeof(*d));
}

static char *dup_or_null(const char *s)
{
    return s && *s ? berth_xstrdup(s) : NULL;
}

void berth_descriptor_copy(struct berth_descriptor *dst, const struct berth_descriptor *src)
{
    struct berth_descriptor d = {0};

    d.media_type = dup_or_null(src->media_type);
    d.digest = dup_or_null(src->digest);
    d.size = src->size;
    berth_labels_copy(&d.annotations, &src->annotations);
    berth_descriptor_clear(dst);
    *dst = d;
}

struct berth_image *berth_image_new(void)
{
    return berth_xcalloc(1, sizeof(struct berth_image));
}

void berth_image_free(struct berth_image *im)
{
    if (!im)
        return;
    free(im->name);
    berth_labels_clear(&im->labels);
    berth_descriptor_clear(&im->target);
    free(im);
}

void berth_images_free(struct berth_image **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        berth_image_free(v[i]);
    free(v);
}

static struct berth_image *from_rec(const rec_t *r)
{
    struct berth_image *im = berth_image_new();

    im->name = berth_xstrdup(r->name);
    berth_labels_from_pb(&im->labels, (void *const *)r->labels, r->n_labels);
    im->target.media_type = dup_or_null(r->target_media_type);
    im->target.digest = dup_or_null(r->target_digest);
    im->target.size = r->target_size;
    berth_labels_from_pb(&im->target.annotations, (void *const *)r->target_annotations,
                         r->n_target_annotations);
    im->created_ns = r->created_ns;
    im->updated_ns = r->updated_ns;
    return im;
}

static int store(struct berth_meta_txn *txn, const char *key, const struct berth_image *im,
                 struct berth_err **err)
{
    rec_t r = BERTH__RECORDS__V1__IMAGE__INIT;
    _cleanup_free_ void **labels = NULL, **annotations = NULL;

    r.name = im->name;
    r.target_media_type = im->target.media_type ? im->target.media_type : (char *)"";
    r.target_digest = im->target.digest ? im->target.digest : (char *)"";
    r.target_size = im->target.size;
    r.created_ns = im->created_ns;
    r.updated_ns = im->updated_ns;
    berth_labels_to_pb(&im->labels, &berth__records__v1__image__labels_entry__descriptor, &labels,
                       &r.n_labels);
    r.labels = (Berth__Records__V1__Image__LabelsEntry **)labels;
    berth_labels_to_pb(&im->target.annotations,
                       &berth__records__v1__image__target_annotations_entry__descriptor,
                       &annotations, &r.n_target_annotations);
    r.target_annotations = (Berth__Records__V1__Image__TargetAnnotationsEntry **)annotations;
    return berth_meta_put_pb(txn, key, &r.base, err);
}

static int validate_name(const char *name, struct berth_err **err)
{
    if (!name || !*name)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "image name must not be empty");
    if (strlen(name) > BERTH_IMAGE_NAME_MAX)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "image name \"%.64s...\" longer than %d bytes", name,
                             BERTH_IMAGE_NAME_MAX);
    if (strchr(name, '\n'))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "image name \"%s\" contains a newline", name);
    return 0;
}

static int validate(const struct berth_image *im, struct berth_err **err)
{
    if (validate_name(im->name, err) < 0)
        return -1;
    if (berth_labels_validate(&im->labels, err) < 0)
        return berth_err_wrap(err, "image \"%s\"", im->name);
    if (berth_labels_validate(&im->target.annotations, err) < 0)
        return berth_err_wrap(err, "image \"%s\": target annotations", im->name);
    if (berth_digest_validate(im->target.digest, err) < 0)
        return berth_err_wrap(err, "image \"%s\": target digest", im->name);
    if (im->target.size <= 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "image \"%s\": target size %lld must be greater than zero", im->name,
                             (long long)im->target.size);
    if (!im->target.media_type || !*im->target.media_type)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "image \"%s\": target mediatype must be set", im->name);
    return 0;
}

static int load(struct berth_meta_txn *txn, const char *ns, const char *name,
                struct berth_image **out, char key[BERTH_KEY_MAX], struct berth_err **err)
{
    _cleanup_(rec_freep) rec_t *r = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    *out = NULL;
    if (validate_name(name, err) < 0)
        return -1;
    berth_key_obj(key, BERTH_KEY_IMAGES, ns, name);
    if (berth_meta_get_pb(txn, key, &berth__records__v1__image__descriptor, (ProtobufCMessage **)&r,
                          &e) < 0) {
        if (e->code == BERTH_E_NOT_FOUND)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "image \"%s\"", name);
        *err = steal_ptr(e);
        return -1;
    }
    *out = from_rec(r);
    return 0;
}

int berth_meta_images_get(struct berth_meta_txn *txn, const char *ns, const char *name,
                          struct berth_image **out, struct berth_err **err)
{
    char key[BERTH_KEY_MAX];
    return load(txn, ns, name, out, key, err);
}

struct list_acc {
    struct berth_meta_txn *txn;
    const struct berth_filter *filter;
    struct berth_image **v;
    size_t n, cap;
};

static int list_cb(const char *key, const void *val, size_t len, void *arg, struct berth_err **err)
{
    struct list_acc *acc = arg;
    _cleanup_(rec_freep) rec_t *r = NULL;
    struct berth_image *im;

    r = berth__records__v1__image__unpack(NULL, len, val);
    if (!r) { /* one bad record must not hide the others */
        berth_meta_txn_report_corrupt(acc->txn, key);
        return 0;
    }
    im = from_rec(r);
    if (acc->filter && !berth_filter_match(acc->filter, berth_image_filter_field, im)) {
        berth_image_free(im);
        return 0;
    }
    berth_vec_push(acc->v, acc->n, acc->cap, im);
    return 0;
}

int berth_meta_images_list(struct berth_meta_txn *txn, const char *ns,
                           const struct berth_filter *filter, struct berth_image ***out,
                           size_t *n_out, struct berth_err **err)
{
    struct list_acc acc = {.txn = txn, .filter = filter};
    char prefix[BERTH_KEY_MAX];

    *out = NULL;
    *n_out = 0;
    berth_key_obj(prefix, BERTH_KEY_IMAGES, ns, NULL);
    if (berth_meta_scan(txn, prefix, list_cb, &acc, err) < 0) {
        berth_images_free(acc.v, acc.n);
        return -1;
    }
    *out = acc.v;
    *n_out = acc.n;
    return 0;
}

int berth_meta_images_create(struct berth_meta_txn *txn, const char *ns, struct berth_image *im,
                             struct berth_err **err)
{
    char key[BERTH_KEY_MAX];

    if (validate(im, err) < 0)
        return -1;
    if (berth_meta_namespaces_ensure(txn, ns, err) < 0)
        return -1;
    berth_key_obj(key, BERTH_KEY_IMAGES, ns, im->name);
    if (berth_meta_exists(txn, key))
        return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "image \"%s\"", im->name);
    im->created_ns = im->updated_ns = berth_now_ns();
    return store(txn, key, im, err);
}

static int apply_path(struct berth_image *cur, const struct berth_image *im, const char *path,
                      struct berth_err **err)
{
    const char *k;

    if (berth_fieldpath_label_key(path, "labels", &k)) {
        berth_labels_set(&cur->labels, k, berth_labels_get(&im->labels, k));
    } else if (berth_fieldpath_label_key(path, "annotations", &k)) {
        berth_labels_set(&cur->target.annotations, k, berth_labels_get(&im->target.annotations, k));
    } else if (strcmp(path, "labels") == 0) {
        berth_labels_copy(&cur->labels, &im->labels);
    } else if (strcmp(path, "annotations") == 0) {
        berth_labels_copy(&cur->target.annotations, &im->target.annotations);
    } else if (strcmp(path, "target") == 0) {
        berth_descriptor_copy(&cur->target, &im->target);
    } else {
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "cannot update \"%s\" field on image \"%s\"", path, im->name);
    }
    return 0;
}

int berth_meta_images_update(struct berth_meta_txn *txn, const char *ns,
                             const struct berth_image *im, char *const *paths, size_t n_paths,
                             struct berth_image **out, struct berth_err **err)
{
    static char *const all[] = {"labels", "target"};
    _cleanup_(berth_image_freep) struct berth_image *cur = NULL;
    char key[BERTH_KEY_MAX];

    if (out)
        *out = NULL;
    if (load(txn, ns, im->name, &cur, key, err) < 0)
        return -1;
    if (n_paths == 0) {
        paths = all;
        n_paths = BERTH_N(all);
    }
    for (size_t i = 0; i < n_paths; i++)
        if (apply_path(cur, im, paths[i], err) < 0)
            return -1;
    if (validate(cur, err) < 0)
        return -1;
    cur->updated_ns = berth_now_ns();
    if (store(txn, key, cur, err) < 0)
        return -1;
    if (out)
        *out = steal_ptr(cur);
    return 0;
}

int berth_meta_images_delete(struct berth_meta_txn *txn, const char *ns, const char *name,
                             const char *target_digest, struct berth_err **err)
{
    _cleanup_(berth_image_freep) struct berth_image *cur = NULL;
    char key[BERTH_KEY_MAX];

    if (load(txn, ns, name, &cur, key, err) < 0)
        return -1;
    if (target_digest && *target_digest &&
        strcmp(cur->target.digest ? cur->target.digest : "", target_digest) != 0)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "image \"%s\" has target \"%s\", not \"%s\"", name,
                             cur->target.digest ? cur->target.digest : "", target_digest);
    berth_meta_txn_mark_dirty(txn); /* its content may now be collectable */
    return berth_meta_del(txn, key, err);
}

const char *berth_image_filter_field(void *obj, const char *const *path, size_t n, bool *present)
{
    const struct berth_image *im = obj;
    const char *v = NULL;

    *present = false;
    if (n == 0)
        return NULL;
    if (strcmp(path[0], "labels") == 0)
        return berth_filter_labels_lookup(&im->labels, path + 1, n - 1, present);
    if (strcmp(path[0], "annotations") == 0)
        return berth_filter_labels_lookup(&im->target.annotations, path + 1, n - 1, present);
    if (n == 1 && strcmp(path[0], "name") == 0)
        v = im->name;
    else if (n == 2 && strcmp(path[0], "target") == 0 && strcmp(path[1], "digest") == 0)
        v = im->target.digest;
    else if (n == 2 && strcmp(path[0], "target") == 0 && strcmp(path[1], "mediatype") == 0)
        v = im->target.media_type;
    *present = v && *v;
    return v ? v : "";
}
