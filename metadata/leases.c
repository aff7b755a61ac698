/* SPDX-License-Identifier: Apache-2.0 */
/* Lease records and their resources (see leases.h). */
#include "metadata/leases.h"

#include <string.h>

#include "api/berth/records.pb-c.h"
#include "lib/digest.h"
#include "lib/rfc3339.h"
#include "metadata/keys.h"
#include "metadata/namespaces.h"
#include "metadata/record.h"

typedef Berth__Records__V1__Lease rec_t;
DEFINE_PB_CLEANUP(rec_t, rec_freep)

struct berth_lease *berth_lease_new(void)
{
    return berth_xcalloc(1, sizeof(struct berth_lease));
}

void berth_lease_free(struct berth_lease *l)
{
    if (!l)
        return;
    free(l->id);
    berth_labels_clear(&l->labels);
    free(l);
}

void berth_leases_free(struct berth_lease **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        berth_lease_free(v[i]);
    free(v);
}

void berth_lease_resources_free(struct berth_lease_resource *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].id);
        free(v[i].type);
    }
    free(v);
}

int berth_lease_id_validate(const char *id, struct berth_err **err)
{
    size_t len = id ? strlen(id) : 0;

    if (len == 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "lease id must not be empty");
    if (len > BERTH_LEASE_ID_MAX)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "lease id \"%.64s...\" is longer than %d bytes", id,
                             BERTH_LEASE_ID_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        /* '/' separates key components; space and controls would make ids unprintable. */
        if (c <= ' ' || c >= 0x7f || c == '/')
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "lease id \"%s\": only printable ASCII without '/' or spaces", id);
    }
    return 0;
}

/* True when the first '/'-separated component of type (head bytes long) is name. */
static bool head_is(const char *type, size_t head, const char *name)
{
    return head == strlen(name) && strncmp(type, name, head) == 0;
}

int berth_lease_resource_validate(const char *type, const char *id, struct berth_err **err)
{
    const char *slash;
    size_t head;

    if (!type)
        type = "";
    slash = strchr(type, '/');
    head = slash ? (size_t)(slash - type) : strlen(type);
    if (head_is(type, head, BERTH_LEASE_RES_SNAPSHOTS)) {
        if (!slash || !slash[1] || strchr(slash + 1, '/'))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "invalid snapshot resource type \"%s\"", type);
    } else if (head_is(type, head, BERTH_LEASE_RES_CONTENT) ||
               head_is(type, head, BERTH_LEASE_RES_INGESTS)) {
        if (slash)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid resource type \"%s\"",
                                 type);
    } else {
        return berth_err_set(err, BERTH_E_NOT_IMPLEMENTED, 0,
                             "resource type \"%s\" not supported yet", type);
    }
    if (!id || !*id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "resource id must not be empty (type \"%s\")", type);
    if (strcmp(type, BERTH_LEASE_RES_CONTENT) == 0 && berth_digest_validate(id, err) < 0)
        return berth_err_wrap(err, "invalid content resource id");
    return 0;
}

static int store(struct berth_meta_txn *txn, const char *key, const struct berth_lease *l,
                 struct berth_err **err)
{
    rec_t r = BERTH__RECORDS__V1__LEASE__INIT;
    _cleanup_free_ void **labels = NULL;

    r.created_ns = l->created_ns;
    berth_labels_to_pb(&l->labels, &berth__records__v1__lease__labels_entry__descriptor, &labels,
                       &r.n_labels);
    r.labels = (Berth__Records__V1__Lease__LabelsEntry **)labels;
    return berth_meta_put_pb(txn, key, &r.base, err);
}

static struct berth_lease *from_rec(const char *id, const rec_t *r)
{
    struct berth_lease *l = berth_lease_new();

    l->id = berth_xstrdup(id);
    berth_labels_from_pb(&l->labels, (void *const *)r->labels, r->n_labels);
    l->created_ns = r->created_ns;
    return l;
}

/* Validates ns-relative id and builds its record key. */
static int lease_key(char key[BERTH_KEY_MAX], const char *ns, const char *id,
                     struct berth_err **err)
{
    if (berth_lease_id_validate(id, err) < 0)
        return -1;
    berth_key_obj(key, BERTH_KEY_LEASES, ns, id);
    return 0;
}

static int not_found(const char *id, struct berth_err **err)
{
    return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "lease \"%s\"", id);
}

int berth_meta_leases_create(struct berth_meta_txn *txn, const char *ns, struct berth_lease *l,
                             struct berth_err **err)
{
    char key[BERTH_KEY_MAX];

    if (lease_key(key, ns, l->id, err) < 0)
        return -1;
    for (size_t i = 0; i < l->labels.n; i++)
        if (!l->labels.keys[i][0])
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "lease \"%s\": label key must not be empty", l->id);
    if (berth_meta_namespaces_ensure(txn, ns, err) < 0)
        return -1;
    if (berth_meta_exists(txn, key))
        return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "lease \"%s\"", l->id);
    l->created_ns = berth_now_ns();
    return store(txn, key, l, err);
}

int berth_meta_leases_get(struct berth_meta_txn *txn, const char *ns, const char *id,
                          struct berth_lease **out, struct berth_err **err)
{
    _cleanup_(rec_freep) rec_t *r = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    char key[BERTH_KEY_MAX];

    *out = NULL;
    if (lease_key(key, ns, id, err) < 0)
        return -1;
    if (berth_meta_get_pb(txn, key, &berth__records__v1__lease__descriptor, (ProtobufCMessage **)&r,
                          &e) < 0) {
        if (e->code == BERTH_E_NOT_FOUND)
            return not_found(id, err);
        *err = steal_ptr(e);
        return -1;
    }
    *out = from_rec(id, r);
    return 0;
}

struct list_acc {
    struct berth_meta_txn *txn;
    const struct berth_filter *filter;
    size_t prefix_len;
    struct berth_lease **v;
    size_t n, cap;
};

static int list_cb(const char *key, const void *val, size_t len, void *arg, struct berth_err **err)
{
    struct list_acc *acc = arg;
    _cleanup_(rec_freep) rec_t *r = NULL;
    struct berth_lease *l;

    r = berth__records__v1__lease__unpack(NULL, len, val);
    if (!r) { /* one bad record must not hide the others */
        berth_meta_txn_report_corrupt(acc->txn, key);
        return 0;
    }
    l = from_rec(key + acc->prefix_len, r);
    if (acc->filter && !berth_filter_match(acc->filter, berth_lease_filter_field, l)) {
        berth_lease_free(l);
        return 0;
    }
    berth_vec_push(acc->v, acc->n, acc->cap, l);
    return 0;
}

int berth_meta_leases_list(struct berth_meta_txn *txn, const char *ns,
                           const struct berth_filter *filter, struct berth_lease ***out,
                           size_t *n_out, struct berth_err **err)
{
    struct list_acc acc = {.txn = txn, .filter = filter};
    char prefix[BERTH_KEY_MAX];

    *out = NULL;
    *n_out = 0;
    berth_key_obj(prefix, BERTH_KEY_LEASES, ns, NULL);
    acc.prefix_len = strlen(prefix);
    if (berth_meta_scan(txn, prefix, list_cb, &acc, err) < 0) {
        berth_leases_free(acc.v, acc.n);
        return -1;
    }
    *out = acc.v;
    *n_out = acc.n;
    return 0;
}

int berth_meta_leases_delete(struct berth_meta_txn *txn, const char *ns, const char *id,
                             struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;
    char key[BERTH_KEY_MAX], prefix[BERTH_KEY_MAX];

    if (lease_key(key, ns, id, err) < 0)
        return -1;
    if (berth_meta_del(txn, key, &e) < 0) {
        if (e->code == BERTH_E_NOT_FOUND)
            return not_found(id, err);
        *err = steal_ptr(e);
        return -1;
    }
    if (!berth_key_lease_res(prefix, ns, id, NULL, NULL))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "lease \"%s\": key too long", id);
    berth_meta_txn_mark_dirty(txn); /* what it held may now be collectable */
    return berth_meta_del_prefix(txn, prefix, NULL, err);
}

/* Checks the lease exists (NOT_FOUND otherwise, worded as containerd's header path when
 * header is set), then the resource, and builds the resource key. */
static int resource_key(struct berth_meta_txn *txn, const char *ns, const char *id,
                        const char *type, const char *rid, bool header, char key[BERTH_KEY_MAX],
                        struct berth_err **err)
{
    char lkey[BERTH_KEY_MAX];

    if (lease_key(lkey, ns, id, err) < 0)
        return -1;
    if (!berth_meta_exists(txn, lkey))
        return header ? berth_err_set(err, BERTH_E_NOT_FOUND, 0, "lease \"%s\" does not exist", id)
                      : not_found(id, err);
    if (berth_lease_resource_validate(type, rid, err) < 0)
        return -1;
    if (!berth_key_lease_res(key, ns, id, type, rid))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "lease \"%s\": resource \"%s\" id of %zu bytes is too long", id, type,
                             strlen(rid));
    return 0;
}

int berth_meta_leases_add_resource(struct berth_meta_txn *txn, const char *ns, const char *id,
                                   const char *type, const char *rid, struct berth_err **err)
{
    char key[BERTH_KEY_MAX];

    if (resource_key(txn, ns, id, type, rid, false, key, err) < 0)
        return -1;
    return berth_meta_put(txn, key, "", 0, err);
}

int berth_meta_leases_delete_resource(struct berth_meta_txn *txn, const char *ns, const char *id,
                                      const char *type, const char *rid, struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;
    char key[BERTH_KEY_MAX];

    if (resource_key(txn, ns, id, type, rid, false, key, err) < 0)
        return -1;
    if (berth_meta_del(txn, key, &e) < 0 && e->code != BERTH_E_NOT_FOUND) {
        *err = steal_ptr(e);
        return -1;
    }
    if (!e)
        berth_meta_txn_mark_dirty(txn); /* the resource may now be collectable */
    return 0;
}

struct res_acc {
    size_t prefix_len;
    struct berth_lease_resource *v;
    size_t n, cap;
};

/* Splits "<type>/<rid>" (type "content", "ingests" or "snapshots/<snapshotter>"). */
static int res_cb(const char *key, const void *val, size_t len, void *arg, struct berth_err **err)
{
    struct res_acc *acc = arg;
    const char *rest = key + acc->prefix_len, *sep = strchr(rest, '/');

    if (sep && berth_str_has_prefix(rest, BERTH_LEASE_RES_SNAPSHOTS "/"))
        sep = strchr(sep + 1, '/');
    if (!sep || !sep[1])
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "corrupt lease resource key \"%s\"", key);
    if (acc->n == acc->cap) {
        acc->cap = acc->cap ? acc->cap * 2 : 16;
        acc->v = berth_xrealloc(acc->v, acc->cap * sizeof(*acc->v));
    }
    acc->v[acc->n].type = berth_xstrndup(rest, (size_t)(sep - rest));
    acc->v[acc->n].id = berth_xstrdup(sep + 1);
    acc->n++;
    return 0;
}

int berth_meta_leases_list_resources(struct berth_meta_txn *txn, const char *ns, const char *id,
                                     struct berth_lease_resource **out, size_t *n_out,
                                     struct berth_err **err)
{
    struct res_acc acc = {0};
    char key[BERTH_KEY_MAX], prefix[BERTH_KEY_MAX];

    *out = NULL;
    *n_out = 0;
    if (lease_key(key, ns, id, err) < 0)
        return -1;
    if (!berth_meta_exists(txn, key))
        return not_found(id, err);
    if (!berth_key_lease_res(prefix, ns, id, NULL, NULL))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "lease \"%s\": key too long", id);
    acc.prefix_len = strlen(prefix);
    /* Key order is containerd's listing order: "content" < "ingests" < "snapshots/...". */
    if (berth_meta_scan(txn, prefix, res_cb, &acc, err) < 0) {
        berth_lease_resources_free(acc.v, acc.n);
        return -1;
    }
    *out = acc.v;
    *n_out = acc.n;
    return 0;
}

int berth_meta_leases_attach(struct berth_meta_txn *txn, const char *ns, const char *lease_id,
                             const char *type, const char *rid, struct berth_err **err)
{
    char key[BERTH_KEY_MAX];

    if (!lease_id || !*lease_id)
        return 0;
    if (resource_key(txn, ns, lease_id, type, rid, true, key, err) < 0)
        return -1;
    return berth_meta_put(txn, key, "", 0, err);
}

int berth_meta_leases_detach(struct berth_meta_txn *txn, const char *ns, const char *lease_id,
                             const char *type, const char *rid, struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;
    char key[BERTH_KEY_MAX];

    if (!lease_id || !*lease_id)
        return 0;
    /* containerd's remove*Lease helpers succeed whatever is missing. */
    if (resource_key(txn, ns, lease_id, type, rid, true, key, &e) < 0) {
        if (e->code == BERTH_E_NOT_FOUND)
            return 0;
        *err = steal_ptr(e);
        return -1;
    }
    if (berth_meta_del(txn, key, &e) < 0 && e->code != BERTH_E_NOT_FOUND) {
        *err = steal_ptr(e);
        return -1;
    }
    return 0;
}

bool berth_lease_expired(const struct berth_lease *l, int64_t now_ns)
{
    const char *v = berth_labels_get(&l->labels, BERTH_LABEL_GC_EXPIRE);
    struct berth_err *e = NULL;
    int64_t exp;

    if (!v)
        return false;
    if (berth_rfc3339_parse(v, &exp, &e) < 0) {
        berth_err_free(&e);
        return false;
    }
    return now_ns > exp;
}

const char *berth_lease_filter_field(void *obj, const char *const *path, size_t n, bool *present)
{
    const struct berth_lease *l = obj;

    *present = false;
    if (n == 0)
        return NULL;
    if (strcmp(path[0], "labels") == 0)
        return berth_filter_labels_lookup(&l->labels, path + 1, n - 1, present);
    if (n == 1 && strcmp(path[0], "id") == 0) {
        *present = l->id && *l->id;
        return l->id ? l->id : "";
    }
    return NULL;
}
