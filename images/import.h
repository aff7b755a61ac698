/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image import (containerd's images import, done in the daemon): an OCI image layout or a
 * `docker save` archive is read as one tar stream through libarchive (optionally gzip/zstd
 * compressed), every blob going straight into the content store through a writer that checks
 * its digest, with no temp copy of the archive. Then the image records are written, the gc.ref
 * labels set on content as containerd's client does, and the chosen platform is unpacked into
 * a snapshotter (images/apply.h) under chain IDs. Everything happens under a lease created for
 * the import (gc.expire 24 h) and deleted at the end, so a concurrent GC never frees half an
 * import and a crash leaves only lease-held things. Depends on content/, metadata/,
 * snapshots/, images/{manifest,walk,reference,apply}.h and libarchive.
 */
#ifndef BERTH_IMAGES_IMPORT_H
#define BERTH_IMAGES_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "content/store.h"
#include "images/manifest.h"
#include "images/walk.h"
#include "metadata/db.h"
#include "metadata/images.h"
#include "snapshots/snapshotter.h"

/* The stores an import or unpack works on; all borrowed. */
struct berth_image_stores {
    struct berth_meta_db *db;
    struct berth_content_store *content;
    struct berth_snap_registry *snapshotters;
    const char *tmp_dir; /* where temp mounts go if a layer needs one (<state>) */
};

struct berth_import_opts {
    const char *ns;                        /* namespace, required */
    const struct berth_platform *platform; /* NULL: the host's */
    bool all_platforms;                    /* reference (gc labels) every manifest */
    bool no_unpack;
    const char *snapshotter; /* NULL/"": BERTH_SNAP_DEFAULT */
    const char *index_name;  /* non-NULL: also an image of that name for the whole index */
    const char *base_name;   /* prefix for bare "org.opencontainers.image.ref.name" tags */
};

/* Supplies the next piece of the archive: *buf (borrowed until the next call) and its length
 * as return value; 0 at the end; -1 with *err on failure. */
typedef ssize_t (*berth_import_read_fn)(void *arg, const void **buf, struct berth_err **err);

struct berth_import_result {
    struct berth_image **images; /* the image records as stored */
    bool *created;               /* per image: created (true) or updated */
    size_t n;
};
void berth_import_result_clear(struct berth_import_result *r); /* NULL-safe */

/* Label on the leases berthd takes for its own imports. */
#define BERTH_LABEL_IN_FLIGHT "berth.io/in-flight"
/* Deletes every lease berthd took for an import (label BERTH_LABEL_IN_FLIGHT) in every
 * namespace. Imports run inside berthd, so at start-up none can still be running: what such a
 * lease holds is the debris of a crash, and the next GC pass frees it. *released gets the
 * number of leases deleted. */
int berth_image_leases_release_stale(struct berth_meta_db *db, size_t *released,
                                     struct berth_err **err);

/*
 * Imports the archive read from rd into opts->ns. Image names come from the index.json
 * annotations io.containerd.image.name or org.opencontainers.image.ref.name (a bare tag is
 * prefixed with base_name, or skipped without one) or docker RepoTags, normalized with
 * images/reference.h; an existing image of that name is retargeted. Errors: INVALID_ARGUMENT
 * for a corrupt archive or document, an archive that is neither layout, a blob named in a
 * manifest but missing, an archive naming no image (and no index_name); FAILED_PRECONDITION
 * for a blob whose digest or size does not match its name or descriptor, for a layer whose
 * uncompressed digest differs from the config's diff ID (its extract snapshot is removed),
 * for no manifest matching the platform; the errors of the stores. The import lease is
 * deleted in every case; on failure what was written is unreferenced (a GC removes it).
 * On success *out (zeroed first) is filled; the caller clears it.
 */
int berth_image_import(const struct berth_image_stores *st, const struct berth_import_opts *opts,
                       berth_import_read_fn rd, void *arg, struct berth_import_result *out,
                       struct berth_err **err);
/* Same, reading a file descriptor to EOF. */
int berth_image_import_fd(const struct berth_image_stores *st, const struct berth_import_opts *opts,
                          int fd, struct berth_import_result *out, struct berth_err **err);

/*
 * Unpacks the image whose root descriptor is target (index or manifest, in ns's content)
 * for platform (NULL: host) into snapshotter (NULL: default), as containerd's unpacker: per
 * layer, an existing committed snapshot named by its chain ID is kept; otherwise one is
 * prepared as "extract-<nanos>-<rand> <chainID>", the layer applied, its diff ID checked and
 * committed as the chain ID; then the layer blob gets containerd.io/uncompressed and the
 * config containerd.io/gc.ref.snapshot.<snapshotter> = the top chain ID. lease (NULL/"": none)
 * holds the snapshots made. *top_out (may be NULL) gets the top chain ID, caller-owned.
 * Errors as berth_image_import's unpack part, NOT_FOUND for missing content.
 */
int berth_image_unpack(const struct berth_image_stores *st, const char *ns, const char *lease,
                       const struct berth_descriptor *target, const struct berth_platform *platform,
                       const char *snapshotter, char **top_out, struct berth_err **err);

/* Reads a whole blob of ns (at most max bytes) into *out (caller clears). NOT_FOUND when ns
 * holds no record of digest or the file is gone, OUT_OF_RANGE when larger than max. */
int berth_image_blob_read(const struct berth_image_stores *st, const char *ns, const char *digest,
                          size_t max, struct berth_bytes *out, struct berth_err **err);

/* The blob source (images/walk.h) over ns's content: berth_image_blob_read. src is usable
 * while s, st and ns live (src.arg points at s). */
struct berth_image_local_source {
    struct berth_blob_source src;
    const struct berth_image_stores *st; /* borrowed */
    const char *ns;                      /* borrowed */
};
void berth_image_local_source_init(struct berth_image_local_source *s,
                                   const struct berth_image_stores *st, const char *ns);

/* Writes the image record name -> target in ns as containerd's clients do (Create, or on
 * AlreadyExists Update): an existing record gets the new target and, when labels is non-NULL,
 * exactly those labels; without labels it keeps its own. *out gets the stored record
 * (caller-owned), *created whether it is new. The errors of metadata/images.h. */
int berth_image_record_put(struct berth_meta_txn *txn, const char *ns, const char *name,
                           const struct berth_descriptor *target, const struct berth_labels *labels,
                           struct berth_image **out, bool *created, struct berth_err **err);

#endif
