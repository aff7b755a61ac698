/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Update-mask field paths (google.protobuf.FieldMask entries sent by Update RPCs). containerd
 * treats "labels.<key>" specially: everything after the first "labels." is one label key, dots
 * and slashes included. No allocation, no deps.
 */
#ifndef BERTH_LIB_FIELDPATH_H
#define BERTH_LIB_FIELDPATH_H

#include <stdbool.h>

/* If path is "<prefix>.<rest>" with a non-empty rest, sets *key to rest (borrowed: points
 * into path) and returns true; otherwise returns false and leaves *key alone. Only the first
 * "<prefix>." is stripped, so "labels.containerd.io/gc.ref.snapshot.overlayfs" yields
 * "containerd.io/gc.ref.snapshot.overlayfs". Typical prefixes: "labels", "extensions",
 * "annotations". key may be NULL to only test. */
bool berth_fieldpath_label_key(const char *path, const char *prefix, const char **key);

#endif
