/* SPDX-License-Identifier: Apache-2.0 */
/* runtime/oci private helpers: user/group resolution against a rootfs (user.c). */
#ifndef BERTH_RUNTIME_OCI_INTERNAL_H
#define BERTH_RUNTIME_OCI_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct oci_user {
    uint32_t uid, gid;
    uint32_t *additional_gids; /* owned; NULL when n_additional == 0 */
    size_t n_additional;
};

/* Resolves a Dockerfile USER value as containerd's WithUser + WithAdditionalGIDs do, reading
 * <rootfs>/etc/passwd and <rootfs>/etc/group beneath rootfs (symlinks cannot leave it).
 * rootfs may be NULL: then only numeric forms work. user NULL or "" means root (0:0; the
 * supplementary groups of "root" are still looked up). BERTH_E_INVALID_ARGUMENT for a
 * malformed value or a name without rootfs, BERTH_E_NOT_FOUND for an unknown name or a missing
 * file a name needs, BERTH_E_INTERNAL for I/O errors. On success fills *out (caller frees
 * out->additional_gids). */
int oci_user_resolve(const char *rootfs, const char *user, struct oci_user *out,
                     struct berth_err **err);

#endif
