/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod network namespaces (containerd pkg/netns): a fresh netns pinned by a bind mount on a file,
 * removed by unmounting and unlinking it, and a way to run code inside one. berthd's own threads
 * never change namespace: every unshare/setns happens on a short-lived thread of its own.
 * Depends on lib/ only.
 */
#ifndef BERTH_RUNTIME_CNI_NETNS_H
#define BERTH_RUNTIME_CNI_NETNS_H

#include "lib/err.h"

/* Creates a new network namespace bind-mounted at <dir>/<name> (dir and its parents created
 * 0711; the file is created O_EXCL). name NULL picks containerd's "cni-<random uuid>".
 * *path (owned by the caller) is the full path. ALREADY_EXISTS when the file exists; INTERNAL
 * (or PERMISSION_DENIED without CAP_SYS_ADMIN) otherwise, with nothing left behind. */
int berth_netns_create(const char *dir, const char *name, char **path, struct berth_err **err);

/* Unmounts (MNT_DETACH) and unlinks path. An absent path, or a file that is not a mount point,
 * is fine. INTERNAL when the unmount or unlink fails otherwise. */
int berth_netns_remove(const char *path, struct berth_err **err);

/* Runs fn(arg) on a dedicated thread that joined the network namespace at path (setns), and
 * waits for it; the thread ends with it, so no other code ever runs in that namespace. Returns
 * fn's result when fn returns >= 0. NOT_FOUND when path does not exist; INVALID_ARGUMENT when
 * it is not a network namespace; INTERNAL when fn returns < 0 (the error carries the errno fn
 * left, if any) or the thread cannot start. */
int berth_netns_enter_run(const char *path, int (*fn)(void *), void *arg, struct berth_err **err);

#endif
