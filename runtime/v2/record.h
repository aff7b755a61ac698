/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A task from a container record (containerd 1.6 services/tasks local.go Create): the record's
 * spec, runtime and runtime options, the rootfs from its snapshot, then berth_rt_task_create.
 * The runtime manager knows nothing about metadata, so this sits on top of it in a library of
 * its own (berth_runtime_record: berth_runtime + berth_metadata + berth_snapshots), shared by
 * the Tasks service and the CRI.
 */
#ifndef BERTH_RUNTIME_V2_RECORD_H
#define BERTH_RUNTIME_V2_RECORD_H

#include "metadata/db.h"
#include "runtime/v2/runtime.h"
#include "snapshots/snapshotter.h"

struct berth_rt_record_create { /* all borrowed */
    const char *ns, *id;        /* container record ns/id; the task gets the same id */
    struct berth_rt_io io;
    const char *runtime_path;             /* optional explicit shim binary */
    const Google__Protobuf__Any *options; /* NULL: the record's runtime options */
    const struct berth_mount *rootfs;     /* n_rootfs 0: the mounts of the record's */
    size_t n_rootfs;                      /* snapshotter/snapshot key (none without a key) */
};

/*
 * Creates the task of container record o->ns/o->id, in this order of checks:
 * INVALID_ARGUMENT for options the API registry knows whose bytes Go's protobuf would refuse
 * (a NUL byte or invalid UTF-8 in a string, malformed bytes: the shim's protobuf-c would cut
 * or accept them); NOT_FOUND for no record; INVALID_ARGUMENT for bad runtime options of the
 * record when o->options is NULL (they came in unchecked through Containers.Create, as in
 * containerd); UNAVAILABLE "no runtime loaded" when rt is NULL (so a caller without a runtime
 * still reports argument errors first); FAILED_PRECONDITION for a record without a spec; the
 * errors of the snapshot's mounts (INVALID_ARGUMENT for a snapshotter not loaded, NOT_FOUND
 * for no snapshot); then those of berth_rt_task_create. snaps may be NULL (no snapshotter).
 * *pid = the init pid.
 */
int berth_rt_task_create_from_record(struct berth_rt *rt, struct berth_meta_db *db,
                                     struct berth_snap_registry *snaps,
                                     const struct berth_rt_record_create *o, uint32_t *pid,
                                     struct berth_err **err);

#endif
