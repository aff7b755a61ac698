/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshotter interface (containerd's snapshots.Snapshotter) as an ops table, the mounts
 * a snapshotter hands out, and the registry of backends berthd opens. Backends know nothing
 * about namespaces: metadata/snapshots.h maps client keys to backend names. Each backend keeps
 * its own LMDB store (snapshots/storage/) under its root.
 */
#ifndef BERTH_SNAPSHOTS_SNAPSHOTTER_H
#define BERTH_SNAPSHOTS_SNAPSHOTTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/filters.h"
#include "lib/labels.h"
#include "lib/util.h"
#include "snapshots/mount.h"

/* containerd.services.snapshots.v1.Kind values. */
enum berth_snap_kind {
    BERTH_SNAP_UNKNOWN = 0,
    BERTH_SNAP_VIEW = 1,
    BERTH_SNAP_ACTIVE = 2,
    BERTH_SNAP_COMMITTED = 3,
};
/* "view", "active", "committed" ("unknown" otherwise): the filter and CLI spelling. */
const char *berth_snap_kind_name(enum berth_snap_kind k);

struct berth_snap_info { /* owns every field */
    char *name;
    char *parent; /* NULL: none */
    enum berth_snap_kind kind;
    struct berth_labels labels;
    int64_t created_ns, updated_ns;
};
void berth_snap_info_clear(struct berth_snap_info *info); /* NULL-safe; leaves it zeroed */
/* Filter adaptor (containerd's snapshots fields): kind, name, parent, labels.<k>. name and
 * parent always count as present. */
const char *berth_snap_info_filter_field(void *obj, const char *const *path, size_t n,
                                         bool *present);

/* Applies a labels update from src onto dst: paths "labels" (all) or "labels.<k>" (one key,
 * an empty/absent value deletes it); n == 0 means "labels". INVALID_ARGUMENT for any other path
 * or when the result breaks the label size rule (name only goes into messages). */
int berth_snap_labels_update(struct berth_labels *dst, const struct berth_labels *src,
                             char *const *paths, size_t n, const char *name,
                             struct berth_err **err);
/* The labels a backend gets: only those prefixed "containerd.io/snapshot/" and the key
 * "containerd.io/snapshot.ref" (containerd's metadata layer filters the same way). all may be
 * NULL; out is replaced. */
void berth_snap_backend_labels(const struct berth_labels *all, struct berth_labels *out);

struct berth_snap_usage {
    int64_t size;   /* bytes */
    int64_t inodes; /* files, dirs, links... */
};

/* Called by walk for each snapshot: info borrowed for the call. Return 0 to go on, 1 to stop,
 * -1 with *err to fail. */
typedef int (*berth_snap_walk_fn)(const struct berth_snap_info *info, void *arg,
                                  struct berth_err **err);

/* What a backend's check (berth_snapshotter_ops.check) found. */
enum berth_snap_problem {
    BERTH_SNAP_BROKEN = 1, /* a record whose directory, data or parent is missing or wrong */
    BERTH_SNAP_STRAY,      /* a directory in the backend's root that no record names */
};
/* Called once per problem: what is the record's name (BROKEN) or the directory's path (STRAY),
 * problem a lowercase sentence; both borrowed for the call. */
typedef void (*berth_snap_check_fn)(void *arg, enum berth_snap_problem p, const char *what,
                                    const char *problem);

/*
 * A backend. Names are backend names (the metadata layer passes "<ns>/<seq>/<key>"); every
 * call is thread-safe. Errors: NOT_FOUND for a missing key or parent, ALREADY_EXISTS for a
 * taken key/name, INVALID_ARGUMENT when a parent is not committed, FAILED_PRECONDITION for
 * committing a non-active snapshot or removing one with children. Out-parameters are owned by
 * the caller on success only.
 */
struct berth_snapshotter_ops {
    const char *name; /* plugin id: "overlayfs", "native" */
    /* Opens (creating) the backend rooted at root (created if missing). *state is the handle. */
    int (*open)(const char *root, void **state, struct berth_err **err);
    void (*close)(void *state); /* NULL-safe */
    /* New active (prepare) or view snapshot key on parent (NULL/"" = none). */
    int (*prepare)(void *state, const char *key, const char *parent,
                   const struct berth_labels *labels, struct berth_mount **mounts, size_t *n,
                   struct berth_err **err);
    int (*view)(void *state, const char *key, const char *parent, const struct berth_labels *labels,
                struct berth_mount **mounts, size_t *n, struct berth_err **err);
    int (*mounts)(void *state, const char *key, struct berth_mount **mounts, size_t *n,
                  struct berth_err **err);
    /* Active key becomes committed name; labels (may be NULL) replace its labels. */
    int (*commit)(void *state, const char *name, const char *key, const struct berth_labels *labels,
                  struct berth_err **err);
    int (*remove)(void *state, const char *key, struct berth_err **err);
    int (*stat)(void *state, const char *key, struct berth_snap_info *out, struct berth_err **err);
    /* Labels only: paths "labels" or "labels.<k>" (n == 0: replace all labels). */
    int (*update)(void *state, const struct berth_snap_info *info, char *const *paths, size_t n,
                  struct berth_snap_info *out, struct berth_err **err);
    /* Every snapshot matching filter (NULL: all), in name order. One whose record cannot be
     * decoded comes with only its name and kind UNKNOWN: the caller must leave it alone. */
    int (*walk)(void *state, const struct berth_filter *filter, berth_snap_walk_fn fn, void *arg,
                struct berth_err **err);
    /* Active: computed now; committed: recorded at commit; view: zero. */
    int (*usage)(void *state, const char *key, struct berth_snap_usage *out,
                 struct berth_err **err);
    /* Removes directories no snapshot record refers to (crash leftovers). */
    int (*cleanup)(void *state, struct berth_err **err);
    /* fsck: checks every record against its directory and parent, and every directory against
     * the records, in one read transaction of the backend's store, calling fn per problem.
     * in_flight: creations may be running, so a recent temp dir is theirs, not a leftover.
     * Changes nothing; errors only for a store or directory that cannot be read. */
    int (*check)(void *state, bool in_flight, berth_snap_check_fn fn, void *arg,
                 struct berth_err **err);
};

extern const struct berth_snapshotter_ops berth_snap_overlay_ops;
extern const struct berth_snapshotter_ops berth_snap_native_ops;

/* An opened backend. */
struct berth_snapshotter {
    const struct berth_snapshotter_ops *ops; /* borrowed (static) */
    void *state;
};

/* The backends berthd serves, opened under <root>/snapshots/<name>/. */
struct berth_snap_registry;
/* Opens every built-in backend (overlayfs, native) under <root>/snapshots/<name>. A backend
 * that fails to open (e.g. overlay on a filesystem without d_type) is left out and its error
 * kept for introspection, except DATA_LOSS (its store is damaged, e.g. a truncated data.mdb),
 * which fails the whole call. *out is owned by the caller (berth_snap_registry_close). */
int berth_snap_registry_open(const char *root, struct berth_snap_registry **out,
                             struct berth_err **err);
void berth_snap_registry_close(struct berth_snap_registry *reg); /* NULL-safe */
/* The opened backend called name, borrowed for the registry's life; INVALID_ARGUMENT
 * "snapshotter not loaded: <name>" when unknown or failed to open. */
int berth_snap_registry_get(struct berth_snap_registry *reg, const char *name,
                            struct berth_snapshotter **out, struct berth_err **err);
/* The open error of backend name (borrowed), or NULL if it opened (or is unknown). */
const struct berth_err *berth_snap_registry_init_err(struct berth_snap_registry *reg,
                                                     const char *name);

#define BERTH_SNAP_DEFAULT "overlayfs"

#endif
