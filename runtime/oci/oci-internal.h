/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime/oci private helpers: user/group resolution against a rootfs (user.c), ordered JSON
 * editing and the tables the options share (opts.c).
 */
#ifndef BERTH_RUNTIME_OCI_INTERNAL_H
#define BERTH_RUNTIME_OCI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h> /* json_t in the helpers */

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

/* Field orders of the Go runtime-spec structs (specs-go/config.go), NULL-terminated. */
extern const char *const oci_order_spec[];
extern const char *const oci_order_process[];
extern const char *const oci_order_user[];
extern const char *const oci_order_caps[];
extern const char *const oci_order_root[];
extern const char *const oci_order_linux[];
extern const char *const oci_order_resources[];
extern const char *const oci_order_memory[];
extern const char *const oci_order_cpu[];

/* Sets obj[key] = val (stolen). A present key keeps its place; a new one goes where `order`
 * puts it among the keys present (keys `order` does not name end up last). */
void oci_set(json_t *obj, const char *const *order, const char *key, json_t *val);
/* obj[key] as an object/array, created (in order) when absent or of another type. Borrowed. */
json_t *oci_obj(json_t *obj, const char *const *order, const char *key);
json_t *oci_arr(json_t *obj, const char *const *order, const char *key);
/* Sets map[k] = v (stolen) keeping the keys in strcmp order, as Go encodes maps. */
void oci_map_set(json_t *map, const char *k, json_t *v);
/* Removes obj[key] when it is an empty array or object (Go's omitempty). */
void oci_drop_empty(json_t *obj, const char *key);

/* INVALID_ARGUMENT unless spec is a JSON object. */
int oci_check_spec(const json_t *spec, struct berth_err **err);

/* Names of the capabilities the calling process holds in CapEff (known names only), what
 * containerd's cap.Current() grants. NULL + INTERNAL when /proc/self/status is unreadable. */
json_t *oci_current_caps(struct berth_err **err);

/* Appends a mount to spec.mounts without looking for one at the same destination (ctr's
 * --mount and WithHostHostsFile). options NULL or empty: no options key. */
void oci_mount_append(json_t *spec, const char *dst, const char *type, const char *src,
                      const char *const *options);

/* Go's filepath.Clean of p ("/a//b/../c/" -> "/a/c"); caller frees. */
char *oci_path_clean(const char *p);

/* The mount of `mountinfo` (a /proc/<pid>/mountinfo file) holding path (clean, absolute): the
 * longest mount point containing it, the later of equals (the one on top). *mountpoint and
 * *optional (the optional fields, space-separated: "shared:1 master:2") are owned by the
 * caller on success. NOT_FOUND when no mount holds path, INTERNAL when the file is unreadable. */
int oci_mount_lookup(const char *mountinfo, const char *path, char **mountpoint, char **optional,
                     struct berth_err **err);

/* The privileged settings without host devices (WithPrivileged alone), for the ctr path. */
int oci_privileged_core(json_t *spec, struct berth_err **err);

#endif
