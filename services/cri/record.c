/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container records behind CRI sandboxes and containers (containerd's shape: kind label,
 * JSON metadata extension, spec Any, runtime and options, snapshot), and their snapshots.
 * The record is written before its snapshot so a GC pass in between finds the snapshot
 * referenced; removal goes the other way round.
 */
#include <jansson.h>
#include <string.h>

#include "api/runtime/runc/options/oci.pb-c.h"
#include "lib/log.h"
#include "lib/util.h"
#include "metadata/containers.h"
#include "metadata/snapshots.h"
#include "services/cri/cri-internal.h"
#include "services/cri/record.h"
#include "snapshots/mount.h"

#define SPEC_TYPE_URL "types.containerd.io/opencontainers/runtime-spec/1/Spec"

static int create_fn(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    return berth_meta_containers_create(txn, CRI_NS, arg, err);
}

/* Runtime options of the handler as containerd.runc.v1.Options (absent when empty). */
static void runtime_options(const struct berth_cri_runtime *rt, struct berth_any *out)
{
    Containerd__Runc__V1__Options o = CONTAINERD__RUNC__V1__OPTIONS__INIT;
    size_t len;

    memset(out, 0, sizeof(*out));
    if (!rt->binary_name && !rt->root && !rt->systemd_cgroup)
        return;
    if (rt->binary_name)
        o.binary_name = (char *)rt->binary_name;
    if (rt->root)
        o.root = (char *)rt->root;
    o.systemd_cgroup = rt->systemd_cgroup;
    len = protobuf_c_message_get_packed_size(&o.base);
    out->present = true;
    out->type_url = berth_xstrdup("containerd.runc.v1.Options");
    out->value.data = berth_xmalloc(len ? len : 1);
    out->value.len = protobuf_c_message_pack(&o.base, out->value.data);
}

static void any_json(struct berth_any *a, const char *type, const char *json)
{
    a->present = true;
    a->type_url = berth_xstrdup(type);
    a->value.len = strlen(json);
    a->value.data = berth_xmalloc(a->value.len + 1);
    memcpy(a->value.data, json, a->value.len + 1);
}

int cri_record_create(struct berth_cri *c, const struct cri_record *r, struct berth_err **err)
{
    _cleanup_(berth_container_freep) struct berth_container *rec = berth_container_new();
    struct berth_snapshotter *sn;
    struct berth_mount *m = NULL;
    struct berth_any ext = {0};
    size_t n = 0;
    _cleanup_free_ char *spec = berth_oci_spec_dump(r->spec);

    rec->id = berth_xstrdup(r->id);
    rec->image = berth_xstrdup(r->image_name ? r->image_name : "");
    rec->runtime_name =
        berth_xstrdup(r->runtime->runtime_type ? r->runtime->runtime_type
                                               : berth_rt_default_runtime(c->svc->runtime));
    runtime_options(r->runtime, &rec->runtime_options);
    rec->snapshotter = berth_xstrdup(c->snapshotter);
    rec->snapshot_key = berth_xstrdup(r->id);
    rec->sandbox = berth_xstrdup(r->sandbox_id ? r->sandbox_id : "");
    any_json(&rec->spec, SPEC_TYPE_URL, spec);
    if (r->labels)
        berth_labels_copy(&rec->labels, r->labels);
    berth_labels_set(&rec->labels, CRI_LABEL_KIND, r->kind);
    any_json(&ext, r->ext_type, r->ext_json);
    berth_container_ext_set(rec, r->ext_name, &ext);
    berth_any_clear(&ext);

    if (berth_snap_registry_get(c->svc->snapshotters, c->snapshotter, &sn, err) < 0)
        return -1;
    if (berth_meta_update(c->svc->db, create_fn, rec, err) < 0)
        return berth_err_wrap(err, "record of \"%s\"", r->id);
    if (berth_meta_snapshots_create(c->svc->db, sn, CRI_NS, NULL, BERTH_SNAP_ACTIVE, r->id,
                                    r->parent_snapshot, NULL, &m, &n, err) < 0) {
        _cleanup_err_ struct berth_err *e = NULL;
        berth_err_wrap(err, "snapshot of \"%s\" on %s", r->id,
                       r->parent_snapshot ? r->parent_snapshot : "nothing");
        if (cri_record_delete(c, r->id, &e) < 0)
            log_warn("ns=%s id=%s undo record: %s", CRI_NS, r->id, e->msg);
        return -1;
    }
    berth_mounts_free(m, n);
    return 0;
}

struct ext_update {
    const char *id, *name, *type, *json;
};

static int ext_update_fn(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct ext_update *u = arg;
    _cleanup_(berth_container_freep) struct berth_container *rec = NULL;
    _cleanup_free_ char *path = berth_strdup_printf("extensions.%s", u->name);
    char *paths[1] = {path};
    struct berth_any a = {0};
    int ret;

    if (berth_meta_containers_get(txn, CRI_NS, u->id, &rec, err) < 0)
        return -1;
    any_json(&a, u->type, u->json);
    berth_container_ext_set(rec, u->name, &a);
    berth_any_clear(&a);
    ret = berth_meta_containers_update(txn, CRI_NS, rec, paths, 1, NULL, err);
    return ret;
}

int cri_record_set_ext(struct berth_cri *c, const char *id, const char *name, const char *type,
                       const char *json, struct berth_err **err)
{
    struct ext_update u = {id, name, type, json};

    return berth_meta_update(c->svc->db, ext_update_fn, &u, err);
}

static int delete_fn(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;

    if (berth_meta_containers_delete(txn, CRI_NS, arg, &e) < 0 && e->code != BERTH_E_NOT_FOUND) {
        *err = steal_ptr(e);
        return -1;
    }
    berth_meta_txn_mark_dirty(txn);
    return 0;
}

int cri_record_delete(struct berth_cri *c, const char *id, struct berth_err **err)
{
    struct berth_snapshotter *sn;
    _cleanup_err_ struct berth_err *e = NULL;

    if (berth_snap_registry_get(c->svc->snapshotters, c->snapshotter, &sn, &e) == 0 &&
        berth_meta_snapshots_remove(c->svc->db, sn, CRI_NS, NULL, id, &e) < 0 &&
        e->code != BERTH_E_NOT_FOUND)
        log_warn("ns=%s id=%s remove snapshot: %s", CRI_NS, id, e->msg);
    return berth_meta_update(c->svc->db, delete_fn, (void *)id, err);
}

int cri_record_load(struct berth_cri *c, const char *id, struct berth_container **out,
                    struct berth_err **err)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;

    if (berth_meta_txn_begin_read(c->svc->db, &txn, err) < 0)
        return -1;
    return berth_meta_containers_get(txn, CRI_NS, id, out, err);
}

json_t *cri_record_spec(struct berth_cri *c, const char *id, char **runtime, struct berth_err **err)
{
    _cleanup_(berth_container_freep) struct berth_container *rec = NULL;
    json_t *spec;

    if (cri_record_load(c, id, &rec, err) < 0)
        return NULL;
    spec = rec->spec.present
               ? json_loadb((const char *)rec->spec.value.data, rec->spec.value.len, 0, NULL)
               : NULL;
    if (!spec) {
        berth_err_set(err, BERTH_E_DATA_LOSS, 0, "record of \"%s\" holds no readable spec", id);
        return NULL;
    }
    if (runtime)
        *runtime = berth_xstrdup(rec->runtime_name ? rec->runtime_name : "");
    return spec;
}

/* ---- config (de)serialisation for the metadata extension ---- */

char *cri_msg_b64(const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    _cleanup_free_ uint8_t *buf = berth_xmalloc(len ? len : 1);

    protobuf_c_message_pack(m, buf);
    return berth_base64(buf, len);
}

ProtobufCMessage *cri_msg_from_b64(const ProtobufCMessageDescriptor *d, const char *b64)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    ProtobufCMessage *m;

    if (!b64 || berth_base64_decode(b64, &buf, &len) < 0)
        return NULL;
    m = protobuf_c_message_unpack(d, NULL, len, buf);
    free(buf);
    return m;
}
