/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mounts as snapshotters hand them out (containerd.types.Mount): the struct, its protobuf
 * conversion and mount(2)/umount2(2). Split from snapshotter.h so berth-shim links only this
 * (snapshotter.c pulls in filters, hence regcomp); snapshotter.h includes it.
 */
#ifndef BERTH_SNAPSHOTS_MOUNT_H
#define BERTH_SNAPSHOTS_MOUNT_H

#include <stddef.h>

#include "api/types/mount.pb-c.h"
#include "lib/err.h"

/* A mount as containerd.types.Mount; owns every string. */
struct berth_mount {
    char *type, *source, *target;
    char **options;
    size_t n_options;
};
/* Frees n mounts and the array. NULL-safe. */
void berth_mounts_free(struct berth_mount *m, size_t n);
/* Appends a copy of opt to m's options. */
void berth_mount_add_option(struct berth_mount *m, const char *opt);
/* Builds pb messages borrowing m's strings: *out_pbs is an array of n pointers into one block;
 * free(*out_pbs) releases everything it allocated. */
void berth_mounts_to_pb(const struct berth_mount *m, size_t n, Containerd__Types__Mount ***out_pbs);
/* Deep copy of n pb mounts; *out owned by the caller (berth_mounts_free). */
void berth_mounts_from_pb(Containerd__Types__Mount *const *pbs, size_t n, struct berth_mount **out);
/* Mounts m[0..n) on target as the host kernel would ("bind" / "rbind" option -> MS_BIND|MS_REC,
 * "ro" -> a read-only remount, other known flags mapped, the rest passed as data). Only a single
 * mount is supported for n > 1 (INVALID_ARGUMENT otherwise). Sets errno-carrying INTERNAL on
 * failure. Needs CAP_SYS_ADMIN. */
int berth_mount_all(const struct berth_mount *m, size_t n, const char *target,
                    struct berth_err **err);
/* Unmounts target (lazily if busy) . */
int berth_unmount(const char *target, struct berth_err **err);

#endif
