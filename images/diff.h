/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Making a layer from two directory trees (containerd's walking differ, archive/diff): the
 * changes that turn lower into upper, as an OCI layer tar written with libarchive (PAX),
 * optionally gzip'd (zlib), streamed to a caller's sink while the uncompressed tar is
 * SHA-256'd (the layer's diff ID). Entries come in a depth-first walk with names sorted
 * bytewise, so the same trees always give the same bytes (with a fixed source_date_epoch).
 * Depends on lib/, libarchive and zlib.
 */
#ifndef BERTH_IMAGES_DIFF_H
#define BERTH_IMAGES_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* Receives the next len bytes of the (compressed) layer. Returns 0, or -1 with *err. */
typedef int (*berth_diff_sink_fn)(void *arg, const void *data, size_t len, struct berth_err **err);

struct berth_diff_opts {
    bool gzip; /* compress the tar (gzip, no name, mtime 0) */
    /* upper is an overlayfs upperdir: its entries are exactly the changes, a 0/0 character
     * device is a deletion (".wh.<name>") and a directory with trusted.overlay.opaque=y is
     * opaque (".wh..wh..opq"); lower is not read. Otherwise both trees are walked together:
     * what upper adds or changes (type, mode, owner, size, mtime, link target, device, or for
     * same-stat regular files without sub-second mtimes, the content) is written, what it
     * lacks becomes a whiteout; nothing is ever opaque. */
    bool upper_is_overlay;
    /* >= 0: mtimes later than this (seconds since the epoch) are clamped to it. -1: unset. */
    int64_t source_date_epoch;
};

/* Writes the layer of changes from lower (NULL: an empty tree) to upper into sink.
 * diff_id_out gets "sha256:<hex>" of the uncompressed tar, *tar_size (may be NULL) its length.
 * Owners, modes, mtimes, xattrs (but trusted.overlay.*), symlinks, devices and hardlinks (a
 * second link to an inode already written becomes a hardlink entry) are kept. INVALID_ARGUMENT
 * if upper is not a directory; INTERNAL for I/O errors; sink errors are passed on. */
int berth_diff_write(const char *lower, const char *upper, const struct berth_diff_opts *opts,
                     berth_diff_sink_fn sink, void *arg, char diff_id_out[72], int64_t *tar_size,
                     struct berth_err **err);

#endif
