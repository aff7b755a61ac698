/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image walk: from an image's root descriptor (an index or a manifest) through nested
 * indexes to the manifest of one platform, its config and the chain IDs of its layers, over
 * any blob source (the namespace's local content in berthd, Content.Read in berthctl, a
 * registry, an archive). containerd: core/images/image.go (Manifest, Config, RootFS) and
 * core/images/handlers.go (the platform filter). Pure data code: images/manifest.h and lib/;
 * no metadata/ or content/ calls, so berthctl links it as well as berthd.
 *
 * Error classes, the same for every caller:
 *   NOT_FOUND            a blob the walk needs is absent (the source's error, naming the digest)
 *   OUT_OF_RANGE         an index, manifest or config larger than BERTH_IMAGE_DOC_MAX
 *   FAILED_PRECONDITION  "no manifest for platform <os/arch[/variant]> in <index digest>"
 *                        (containerd says NOT_FOUND "no match for platform in manifest"; berth
 *                        keeps FAILED_PRECONDITION: the image exists, it just does not fit)
 *   INVALID_ARGUMENT     a malformed document, a document that is neither an index nor a
 *                        manifest where one is needed, an index nested deeper than
 *                        BERTH_IMAGE_INDEX_DEPTH_MAX, a manifest whose layer count differs
 *                        from its config's diff_ids
 *   anything else the source returns (UNAVAILABLE from a client, INTERNAL for I/O)
 */
#ifndef BERTH_IMAGES_WALK_H
#define BERTH_IMAGES_WALK_H

#include <stdbool.h>
#include <stddef.h>

#include "images/manifest.h"
#include "lib/err.h"
#include "lib/util.h" /* struct berth_bytes */

/* Indexes may nest this deep below the root (root = depth 0): an index at depth 9 is
 * INVALID_ARGUMENT. containerd has no limit; berth bounds the recursion. */
#define BERTH_IMAGE_INDEX_DEPTH_MAX 8
/* Largest index, manifest or config the walk reads (registries cap manifests at 4 MiB; 8 MiB
 * is what import, unpack, export and berthctl have always allowed). */
#define BERTH_IMAGE_DOC_MAX (8 << 20)

/* Where the walk reads documents from. */
struct berth_blob_source {
    /* Reads the whole blob d (at most max bytes) into *out (zeroed by the caller, which clears
     * it after a success). NOT_FOUND naming the digest when absent, OUT_OF_RANGE when larger
     * than max. Called from the walking thread only; the walker never caches. */
    int (*read)(void *arg, const struct berth_descriptor *d, size_t max, struct berth_bytes *out,
                struct berth_err **err);
    void *arg;
};

/* An index the walk went through, and which of its manifests it followed. */
struct berth_image_walk_index {
    struct berth_descriptor desc;  /* as referenced by the root or the parent index */
    struct berth_oci_index *index; /* parsed */
    size_t chosen;                 /* position in index->manifests of the entry followed */
};

/* The result of berth_image_walk; owns every field. Zero it before the call, clear it with
 * berth_image_walk_clear (also after a failure). */
struct berth_image_walk {
    struct berth_oci_desc manifest_desc; /* the chosen manifest, with its index platform */
    struct berth_oci_manifest *manifest;
    struct berth_image_config *config;
    char **chain_ids;                       /* NULL-terminated, one per layer */
    struct berth_image_walk_index *indexes; /* root first, n_indexes of them (0: no index) */
    size_t n_indexes;
};
void berth_image_walk_clear(struct berth_image_walk *w); /* NULL-safe; leaves w zeroed */

/*
 * The manifest of target for platform (NULL: the host's): target itself when it is a
 * manifest, else the best match of each index on the way down, by berth_platform_rank (lowest
 * rank wins, ties go to the first in index order; an entry without a platform ranks 0).
 * A descriptor without a known media type is read and sniffed. *out is zeroed first and owned
 * by the caller on success (berth_oci_desc_clear). Errors as listed above.
 */
int berth_image_resolve_manifest(const struct berth_blob_source *src,
                                 const struct berth_descriptor *target,
                                 const struct berth_platform *platform, struct berth_oci_desc *out,
                                 struct berth_err **err);

/*
 * berth_image_resolve_manifest, then the manifest, its config (berth_image_config_parse) and
 * the chain IDs of the config's diff IDs. A manifest without layers is fine here (callers that
 * need one say so). *out must be zeroed; on failure it may be partly filled (clear it).
 */
int berth_image_walk(const struct berth_blob_source *src, const struct berth_descriptor *target,
                     const struct berth_platform *platform, struct berth_image_walk *out,
                     struct berth_err **err);

/* What berth_image_walk_all calls; either may be NULL. A callback's -1 (with *err) stops the
 * walk and is returned as is. Everything passed is borrowed for the call. */
struct berth_image_visitor {
    /* Before following entry i of the index desc (only the entries that match). */
    int (*index_entry_cb)(void *arg, const struct berth_descriptor *index, size_t i,
                          const struct berth_oci_desc *entry, struct berth_err **err);
    /* For each manifest reached, parsed. */
    int (*manifest_cb)(void *arg, const struct berth_descriptor *desc,
                       const struct berth_oci_manifest *m, struct berth_err **err);
    void *arg;
};

struct berth_image_walk_opts {
    const struct berth_platform *platform; /* NULL: the host's */
    bool all_platforms;                    /* follow every entry of every index */
    /* FAILED_PRECONDITION when a non-empty index has no entry for the platform (export);
     * otherwise such an index is walked without following anything (import). */
    bool require_match;
};

/*
 * Walks every manifest of target that matches opts->platform (berth_platform_rank >= 0, or any
 * entry without a platform), depth first in index order, calling v's callbacks; for export
 * and import, which keep every compatible manifest, not only the best. An index entry whose
 * media type names a config or a layer is passed to index_entry_cb but not read (nor is such
 * a target). Errors as listed above, and the callbacks'.
 */
int berth_image_walk_all(const struct berth_blob_source *src, const struct berth_descriptor *target,
                         const struct berth_image_walk_opts *opts,
                         const struct berth_image_visitor *v, struct berth_err **err);

#endif
