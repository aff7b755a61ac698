/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image records: a name, labels and the target descriptor (key "i/<ns>/<name>", value
 * berth.records.v1.Image). Validation follows containerd 1.6: the name is non-empty (not an
 * identifier: '/', ':' and '@' are fine; here also at most BERTH_IMAGE_NAME_MAX bytes with no
 * newline), the target digest parses, the target size is > 0 and its media type non-empty;
 * labels fit the 4096-byte rule. Timestamps are set here. Calls run in a caller-owned txn.
 */
#ifndef BERTH_METADATA_IMAGES_H
#define BERTH_METADATA_IMAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/filters.h"
#include "lib/labels.h"
#include "metadata/db.h"

/* Longest image name accepted (keeps "i/<ns>/<name>" under LMDB's key limit). */
#define BERTH_IMAGE_NAME_MAX 400

/* An OCI descriptor (containerd.types.Descriptor). Owns every field. */
struct berth_descriptor {
    char *media_type;
    char *digest;
    int64_t size;
    struct berth_labels annotations;
};
void berth_descriptor_clear(struct berth_descriptor *d); /* frees fields, leaves d zeroed */
void berth_descriptor_copy(struct berth_descriptor *dst, const struct berth_descriptor *src);

struct berth_image { /* owns every field */
    char *name;
    struct berth_labels labels;
    struct berth_descriptor target;
    int64_t created_ns, updated_ns;
};

struct berth_image *berth_image_new(void);
void berth_image_free(struct berth_image *im); /* NULL-safe */
DEFINE_CLEANUP(struct berth_image *, berth_image_free)
void berth_images_free(struct berth_image **v, size_t n); /* NULL-safe */

/* NOT_FOUND if absent; INVALID_ARGUMENT for an empty or malformed name. *out caller-owned. */
int berth_meta_images_get(struct berth_meta_txn *txn, const char *ns, const char *name,
                          struct berth_image **out, struct berth_err **err);
/* Images of ns matching filter (NULL = all; fields name, target.digest, target.mediatype,
 * labels.<k>, annotations.<k>), sorted by name. *out (array of *n_out) caller-owned:
 * berth_images_free. */
int berth_meta_images_list(struct berth_meta_txn *txn, const char *ns,
                           const struct berth_filter *filter, struct berth_image ***out,
                           size_t *n_out, struct berth_err **err);
/* Creates the namespace implicitly. ALREADY_EXISTS if the name is taken, INVALID_ARGUMENT for
 * a bad record. On success im->created_ns/updated_ns hold the stored values. */
int berth_meta_images_create(struct berth_meta_txn *txn, const char *ns, struct berth_image *im,
                             struct berth_err **err);
/* Changes the fields named in paths ("labels", "labels.<k>", "target", "annotations",
 * "annotations.<k>"); no paths replace labels and target (annotations included). NOT_FOUND,
 * INVALID_ARGUMENT (unknown path, invalid result). *out (if non-NULL) gets the stored record. */
int berth_meta_images_update(struct berth_meta_txn *txn, const char *ns,
                             const struct berth_image *im, char *const *paths, size_t n_paths,
                             struct berth_image **out, struct berth_err **err);
/* NOT_FOUND if absent. If target_digest is non-NULL and non-empty, the image is only deleted
 * when its target has that digest (FAILED_PRECONDITION otherwise, as containerd 2.x). */
int berth_meta_images_delete(struct berth_meta_txn *txn, const char *ns, const char *name,
                             const char *target_digest, struct berth_err **err);

/* Filter field adaptor for images. */
const char *berth_image_filter_field(void *obj, const char *const *path, size_t n, bool *present);

#endif
