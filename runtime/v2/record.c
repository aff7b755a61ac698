/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Task creation from a container record: reads the record in a read txn, checks the options
 * the shim will decode, finds the rootfs mounts and hands everything to the manager. Built
 * into berth_runtime_record, not berth_runtime (see record.h).
 */
#include "runtime/v2/record.h"

#include "api/pbcheck.h"  /* task options are client bytes the shim decodes */
#include "api/registry.h" /* which option types we can check */
#include "metadata/containers.h"
#include "metadata/record.h" /* berth_any_to_pb */
#include "metadata/snapshots.h"

/* The shim decodes the options (containerd.runc.v1.Options) with protobuf-c, which would cut
 * binary_name or root at a NUL byte and accept invalid UTF-8: check them as Go's protobuf
 * would. Types the API registry does not know are other runtimes' business and pass as they
 * are, as containerd passes them. INVALID_ARGUMENT naming the field. */
static int check_options(const Google__Protobuf__Any *opts, const char *what,
                         struct berth_err **err)
{
    const ProtobufCMessageDescriptor *d;

    if (!opts || !opts->type_url || !(d = berth_api_find_message(opts->type_url)))
        return 0;
    if (berth_pb_check(d, opts->value.data, opts->value.len, err) < 0)
        return berth_err_wrap(err, "%s (%s)", what, d->name);
    return 0;
}

static int rootfs_of(struct berth_meta_db *db, struct berth_snap_registry *snaps, const char *ns,
                     const struct berth_container *c, struct berth_mount **m, size_t *n,
                     struct berth_err **err)
{
    struct berth_snapshotter *sn;

    if (!c->snapshot_key || !*c->snapshot_key)
        return 0;
    if (berth_snap_registry_get(snaps, c->snapshotter ? c->snapshotter : "", &sn, err) < 0 ||
        berth_meta_snapshots_mounts(db, sn, ns, c->snapshot_key, m, n, err) < 0)
        return berth_err_wrap(err, "rootfs of container \"%s\"", c->id);
    return 0;
}

int berth_rt_task_create_from_record(struct berth_rt *rt, struct berth_meta_db *db,
                                     struct berth_snap_registry *snaps,
                                     const struct berth_rt_record_create *o, uint32_t *pid,
                                     struct berth_err **err)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_(berth_container_freep) struct berth_container *c = NULL;
    struct berth_rt_create_opts co = {0};
    struct berth_mount *mounts = NULL;
    Google__Protobuf__Any rec_opts;
    size_t n_mounts = 0;
    int ret;

    *pid = 0;
    if (check_options(o->options, "task options", err) < 0)
        return -1;
    if (berth_meta_txn_begin_read(db, &txn, err) < 0 ||
        berth_meta_containers_get(txn, o->ns, o->id, &c, err) < 0)
        return -1;
    berth_meta_txn_abort(steal_ptr(txn));
    /* Without task options the container's runtime options go to the shim: they came in
     * through Containers.Create, which stores them unchecked (as containerd does). */
    if (!o->options &&
        check_options(berth_any_to_pb(&c->runtime_options, &rec_opts), "runtime options", err) < 0)
        return berth_err_wrap(err, "container \"%s\"", c->id);
    if (!rt)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "no runtime loaded");
    if (!c->spec.present || c->spec.value.len == 0)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0, "container \"%s\" has no spec",
                             c->id);
    if (o->n_rootfs == 0 && rootfs_of(db, snaps, o->ns, c, &mounts, &n_mounts, err) < 0)
        return -1;

    co.ns = o->ns;
    co.id = c->id;
    co.runtime = c->runtime_name;
    co.runtime_path = o->runtime_path;
    co.spec = c->spec.value.data;
    co.spec_len = c->spec.value.len;
    co.rootfs = o->n_rootfs > 0 ? o->rootfs : mounts;
    co.n_rootfs = o->n_rootfs > 0 ? o->n_rootfs : n_mounts;
    co.stdin_path = o->io.stdin_path;
    co.stdout_path = o->io.stdout_path;
    co.stderr_path = o->io.stderr_path;
    co.terminal = o->io.terminal;
    co.options = o->options ? o->options : berth_any_to_pb(&c->runtime_options, &rec_opts);
    ret = berth_rt_task_create(rt, &co, pid, err);
    berth_mounts_free(mounts, n_mounts);
    return ret;
}
