/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by images/import.c, unpack.c and export.c; not part of the module's API. */
#ifndef BERTH_IMAGES_INTERNAL_H
#define BERTH_IMAGES_INTERNAL_H

#include "images/import.h"

/* Creates a lease "<what>-<nanos>-<rand>" in ns expiring in 24 h; id receives it. */
int berth_image_lease_begin(const struct berth_image_stores *st, const char *ns, const char *what,
                            char id[64], struct berth_err **err);
/* Deletes it (errors ignored: an expiring lease is collected anyway). */
void berth_image_lease_end(const struct berth_image_stores *st, const char *ns, const char *id);

/* Whether ns has a committed snapshot named key in snapshotter sn. */
int berth_image_snapshot_committed(const struct berth_image_stores *st, const char *ns,
                                   const char *sn, const char *key, bool *out,
                                   struct berth_err **err);

/* Unpacks one layer read from fd (a blob, or a pipe fed while it downloads) as containerd's
 * unpacker: an active snapshot "extract-<nanos>-<rand> <chain>" on parent, the layer applied,
 * its diff ID checked, then gate (may be NULL) asked, then committed as chain and the layer
 * blob labelled containerd.io/uncompressed. A commit losing to an equal snapshot made
 * meanwhile is success. On failure the active snapshot is removed. FAILED_PRECONDITION for a
 * wrong diff ID; the apply's and the stores' errors; gate's error. */
int berth_image_unpack_layer(const struct berth_image_stores *st, struct berth_snapshotter *sn,
                             const char *ns, const char *lease, int fd, const char *digest,
                             const char *diff_id, const char *chain, const char *parent,
                             int (*gate)(void *arg, struct berth_err **err), void *gate_arg,
                             struct berth_err **err);

#endif
