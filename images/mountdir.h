/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where to read or write a snapshot's files given its mounts (shared by layer extraction in
 * images/unpack.c and the Diff service): a single overlay mount with an upperdir is used
 * through its upperdir, a single bind mount through its source (writable binds only when
 * writing), and anything else is mounted on a temp dir under <tmp_root>/tmpmounts.
 */
#ifndef BERTH_IMAGES_MOUNTDIR_H
#define BERTH_IMAGES_MOUNTDIR_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "snapshots/snapshotter.h"

struct berth_mountdir {
    char *dir;      /* the directory to use */
    char *tmpmount; /* non-NULL: dir is a temp mount that berth_image_mountdir_release undoes */
    bool overlay;   /* dir is an overlay upperdir (whiteouts as 0/0 devices, opaque xattrs) */
    char **lowers;  /* overlay only: its lowerdirs, nearest first, NULL-terminated (or NULL) */
};

enum {
    /* The caller only reads: read-only binds are used directly, temp mounts get "ro"
     * (otherwise a "ro" bind is temp-mounted, where writing fails). */
    BERTH_MOUNTDIR_READONLY = 1 << 0,
    /* Always temp-mount (never use an upperdir or a bind source directly). */
    BERTH_MOUNTDIR_MOUNT = 1 << 1,
};

/* Resolves m[0..n) into d (zeroed on entry) per flags (BERTH_MOUNTDIR_*). what names the
 * caller in messages and temp dir names ("apply", "diff"). n == 0 is INVALID_ARGUMENT;
 * mkdtemp/mount failures INTERNAL. On failure d holds nothing. */
int berth_image_mountdir_resolve(const struct berth_mount *m, size_t n, const char *tmp_root,
                                 const char *what, unsigned flags, struct berth_mountdir *d,
                                 struct berth_err **err);
/* Unmounts and removes a temp mount (errors ignored: a lazy unmount finishes later) and frees
 * d's fields. Safe on a zeroed d. */
void berth_image_mountdir_release(struct berth_mountdir *d);

#endif
