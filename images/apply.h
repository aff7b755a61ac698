/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer extraction (containerd's diff/apply + archive/tar.go): a layer blob, gzip, zstd or
 * plain tar (sniffed, not taken from the media type), is streamed through libarchive straight
 * into a directory, with no temp copy, while the uncompressed stream (tar padding and anything
 * after the end-of-archive marker included) is SHA-256'd: that digest is the layer's diff ID.
 * Every path is resolved beneath the root directory fd (lib/beneath.h), so nothing
 * a layer says can write outside it. Depends on lib/ and libarchive only.
 */
#ifndef BERTH_IMAGES_APPLY_H
#define BERTH_IMAGES_APPLY_H

#include <stdint.h>

#include "lib/err.h"

enum berth_apply_mode {
    /* Whiteouts delete their target; an opaque marker deletes every entry of its directory not
     * written by this layer (native snapshots, temp-mounted rootfs). */
    BERTH_APPLY_NATIVE,
    /* Writing into an overlayfs upperdir: `.wh.<name>` becomes a 0/0 character device `<name>`,
     * `.wh..wh..opq` the xattr trusted.overlay.opaque=y on its directory. */
    BERTH_APPLY_OVERLAY,
};

struct berth_apply_opts {
    enum berth_apply_mode mode;
    /* OVERLAY only (may be NULL): the lower directories, nearest first, NULL-terminated. A
     * parent directory the layer does not list but needs is created with the mode, owner and
     * times of the first lower that has it, so the copied-up dir does not mask them. */
    const char *const *lowers;
};

/* Extracts the layer read from blob_fd (from its current offset to EOF) into root_dirfd.
 * digest_out gets "sha256:<hex>" of the uncompressed stream, *size_out (may be NULL) its
 * length. Absolute entry names are taken relative to the root. INVALID_ARGUMENT naming the
 * entry for anything that would leave the root: a ".." that escapes, a parent that resolves
 * through a symlink pointing out of the root (or absolute), a hardlink target outside the
 * root, a whiteout naming "." or ".."; also for unsupported entry types and corrupt or
 * truncated archives. INTERNAL for I/O errors. On failure the directory may be partly written:
 * the caller removes the snapshot. Not chdir-based, so safe to run in several threads. */
int berth_apply_layer(int blob_fd, int root_dirfd, enum berth_apply_mode mode, char digest_out[72],
                      int64_t *size_out, struct berth_err **err);
/* Same with options (opts NULL = NATIVE, no lowers). */
int berth_apply_layer_opts(int blob_fd, int root_dirfd, const struct berth_apply_opts *opts,
                           char digest_out[72], int64_t *size_out, struct berth_err **err);

#endif
