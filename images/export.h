/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image export: images of a namespace written as one OCI image layout tar stream (oci-layout,
 * blobs/sha256/<hex>, index.json naming each image with io.containerd.image.name and
 * org.opencontainers.image.ref.name), as `ctr images export` makes, so both `ctr images
 * import` and berth's import take it back. Multi-platform indexes keep their blob but only the
 * manifests of the chosen platform (or all) are written (images/walk.h). Depends on
 * images/import.h (stores, blob reads), images/walk.h, metadata/ and libarchive.
 */
#ifndef BERTH_IMAGES_EXPORT_H
#define BERTH_IMAGES_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "images/import.h"

/* Receives the next len bytes of the archive (buf borrowed for the call); 0 or -1 with *err. */
typedef int (*berth_export_write_fn)(void *arg, const void *buf, size_t len,
                                     struct berth_err **err);

struct berth_export_opts {
    const char *ns;                        /* required */
    const struct berth_platform *platform; /* NULL: the host's */
    bool all_platforms;
};

/* Writes the archive of images names[0..n) of opts->ns through wr. Errors: INVALID_ARGUMENT
 * for no names; NOT_FOUND naming a missing image or a blob the chosen platform needs;
 * FAILED_PRECONDITION when an index has no manifest for the platform; wr's errors (the stream
 * is then incomplete). */
int berth_image_export(const struct berth_image_stores *st, const struct berth_export_opts *opts,
                       char *const *names, size_t n, berth_export_write_fn wr, void *arg,
                       struct berth_err **err);

#endif
