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

#endif
