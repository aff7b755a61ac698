/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the snapshot backends and their store (not for use outside snapshots/):
 * label <-> protobuf map conversion, and the filesystem chores every backend needs (mkdir,
 * recursive remove and copy, disk usage).
 */
#ifndef BERTH_SNAPSHOTS_INTERNAL_H
#define BERTH_SNAPSHOTS_INTERNAL_H

#include <protobuf-c/protobuf-c.h>
#include <sys/types.h>

#include "snapshots/snapshotter.h"

/* Same contract as metadata/record.h's berth_labels_{from,to}_pb (kept here so snapshots/
 * does not depend on metadata/). */
void berth_snap_labels_from_pb(struct berth_labels *l, void *const *entries, size_t n);
void berth_snap_labels_to_pb(const struct berth_labels *l,
                             const ProtobufCMessageDescriptor *entry_desc, void ***out_entries,
                             size_t *n_out);

/* Copies the contents of directory src into the existing directory dst: files, dirs,
 * symlinks, device nodes, fifos, with modes, ownership, times and (best effort) xattrs. */
int berth_snap_copy_tree(const char *src, const char *dst, struct berth_err **err);
/* Disk usage of the tree at path (st_blocks * 512 per distinct inode) and inode count. */
int berth_snap_disk_usage(const char *path, struct berth_snap_usage *out, struct berth_err **err);

/*
 * The part every directory-per-snapshot backend shares (base.c): the store in <root>/metadata,
 * snapshot directories <root>/snapshots/<id>, creation through a temp dir new-XXXXXX renamed on
 * success, removal through rm-<id>, usage, walk and cleanup. Backends add what goes into a new
 * directory and how mounts look. data_subdir is where a snapshot's files live inside its
 * directory ("fs" for overlay, "" for native).
 */
struct berth_snap_base {
    char *root;    /* <backend root> */
    char *snapdir; /* <root>/snapshots */
    const char *data_subdir;
    struct berth_snap_store *store;
};
int berth_snap_base_open(struct berth_snap_base *b, const char *root, const char *data_subdir,
                         struct berth_err **err);
void berth_snap_base_close(struct berth_snap_base *b);
/* "<snapdir>/<id>/<data_subdir>", malloc'd. */
char *berth_snap_base_data_path(const struct berth_snap_base *b, uint64_t id);
/* Fills the new snapshot's temp dir before its record is written. parent_id 0: no parent. */
typedef int (*berth_snap_populate_fn)(struct berth_snap_base *b, const char *tmpdir,
                                      enum berth_snap_kind kind, uint64_t parent_id,
                                      struct berth_err **err);
/* Creates key; on success *rec is the record and *pids, *np the parent chain ids nearest first
 * (to be freed with free()). */
struct berth_snap_rec;
int berth_snap_base_create(struct berth_snap_base *b, enum berth_snap_kind kind, const char *key,
                           const char *parent, const struct berth_labels *labels,
                           berth_snap_populate_fn populate, struct berth_snap_rec *rec,
                           uint64_t **pids, size_t *np, struct berth_err **err);
/* Record and parent chain of key, for computing mounts. NOT_FOUND. */
int berth_snap_base_get(struct berth_snap_base *b, const char *key, struct berth_snap_rec *rec,
                        uint64_t **pids, size_t *np, struct berth_err **err);
int berth_snap_base_commit(struct berth_snap_base *b, const char *name, const char *key,
                           const struct berth_labels *labels, struct berth_err **err);
int berth_snap_base_remove(struct berth_snap_base *b, const char *key, struct berth_err **err);
int berth_snap_base_stat(struct berth_snap_base *b, const char *key, struct berth_snap_info *out,
                         struct berth_err **err);
int berth_snap_base_update(struct berth_snap_base *b, const struct berth_snap_info *info,
                           char *const *paths, size_t n, struct berth_snap_info *out,
                           struct berth_err **err);
int berth_snap_base_walk(struct berth_snap_base *b, const struct berth_filter *filter,
                         berth_snap_walk_fn fn, void *arg, struct berth_err **err);
int berth_snap_base_usage(struct berth_snap_base *b, const char *key, struct berth_snap_usage *out,
                          struct berth_err **err);
int berth_snap_base_cleanup(struct berth_snap_base *b, struct berth_err **err);
int berth_snap_base_check(struct berth_snap_base *b, bool in_flight, berth_snap_check_fn fn,
                          void *arg, struct berth_err **err);

#endif
