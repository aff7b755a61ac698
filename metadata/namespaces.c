/* SPDX-License-Identifier: Apache-2.0 */
/* Namespace records (see namespaces.h). */
#include "metadata/namespaces.h"

#include <string.h>

#include "api/berth/records.pb-c.h"
#include "lib/fieldpath.h"
#include "lib/ident.h"
#include "metadata/keys.h"
#include "metadata/record.h"

DEFINE_PB_CLEANUP(Berth__Records__V1__Namespace, ns_rec_freep)

const struct berth_ns_scoped_kind berth_ns_scoped_kinds[] = {
    {BERTH_KEY_CONTENT_BLOBS, "blobs"},
    {BERTH_KEY_CONTAINERS, "containers"},
    {BERTH_KEY_IMAGES, "images"},
    {BERTH_KEY_SNAPSHOTS, "snapshots"},
    {NULL, NULL},
};

const char *const berth_ns_owned_prefixes[] = {
    BERTH_KEY_LEASES,
    BERTH_KEY_LEASE_RES,
    BERTH_KEY_CONTENT_INGESTS,
    NULL,
};

static int ns_put(struct berth_meta_txn *txn, const char *key, const struct berth_labels *labels,
                  int64_t created, struct berth_err **err)
{
    Berth__Records__V1__Namespace rec = BERTH__RECORDS__V1__NAMESPACE__INIT;
    _cleanup_free_ void **entries = NULL;
    int ret;

    berth_labels_to_pb(labels, &berth__records__v1__namespace__labels_entry__descriptor, &entries,
                       &rec.n_labels);
    rec.labels = (Berth__Records__V1__Namespace__LabelsEntry **)entries;
    rec.updated_ns = berth_now_ns();
    rec.created_ns = created ? created : rec.updated_ns;
    ret = berth_meta_put_pb(txn, key, &rec.base, err);
    return ret;
}

static int ns_load(struct berth_meta_txn *txn, const char *name, const char *key,
                   Berth__Records__V1__Namespace **rec, struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;

    if (berth_meta_get_pb(txn, key, &berth__records__v1__namespace__descriptor,
                          (ProtobufCMessage **)rec, &e) == 0)
        return 0;
    if (e->code == BERTH_E_NOT_FOUND)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "namespace \"%s\"", name);
    *err = steal_ptr(e);
    return -1;
}

int berth_meta_namespaces_ensure(struct berth_meta_txn *txn, const char *name,
                                 struct berth_err **err)
{
    char key[BERTH_KEY_MAX];
    struct berth_labels none = {0};

    if (berth_ident_validate(name, err) < 0)
        return berth_err_wrap(err, "namespace");
    berth_key_ns(key, name);
    if (berth_meta_exists(txn, key))
        return 0;
    return ns_put(txn, key, &none, 0, err);
}

int berth_meta_namespaces_create(struct berth_meta_txn *txn, const char *name,
                                 const struct berth_labels *labels, struct berth_err **err)
{
    char key[BERTH_KEY_MAX];

    if (berth_ident_validate(name, err) < 0)
        return berth_err_wrap(err, "namespace");
    if (berth_labels_validate(labels, err) < 0)
        return berth_err_wrap(err, "namespace \"%s\"", name);
    berth_key_ns(key, name);
    if (berth_meta_exists(txn, key))
        return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "namespace \"%s\"", name);
    return ns_put(txn, key, labels, 0, err);
}

int berth_meta_namespaces_get(struct berth_meta_txn *txn, const char *name,
                              struct berth_labels *labels, struct berth_err **err)
{
    _cleanup_(ns_rec_freep) Berth__Records__V1__Namespace *rec = NULL;
    char key[BERTH_KEY_MAX];

    if (berth_ident_validate(name, err) < 0)
        return berth_err_wrap(err, "namespace");
    berth_key_ns(key, name);
    if (ns_load(txn, name, key, &rec, err) < 0)
        return -1;
    berth_labels_from_pb(labels, (void *const *)rec->labels, rec->n_labels);
    return 0;
}

struct list_acc {
    char **names;
    size_t n, cap;
};

static int list_cb(const char *key, const void *val, size_t len, void *arg, struct berth_err **err)
{
    struct list_acc *acc = arg;

    if (acc->n + 2 > acc->cap) {
        acc->cap = acc->cap ? acc->cap * 2 : 8;
        acc->names = berth_xrealloc(acc->names, acc->cap * sizeof(char *));
    }
    acc->names[acc->n++] = berth_xstrdup(key + strlen(BERTH_KEY_NS_PREFIX));
    acc->names[acc->n] = NULL;
    return 0;
}

int berth_meta_namespaces_list(struct berth_meta_txn *txn, char ***names, struct berth_err **err)
{
    struct list_acc acc = {0};

    *names = NULL;
    if (berth_meta_scan(txn, BERTH_KEY_NS_PREFIX, list_cb, &acc, err) < 0) {
        berth_strv_free(acc.names);
        return -1;
    }
    if (!acc.names)
        acc.names = berth_xcalloc(1, sizeof(char *));
    *names = acc.names;
    return 0;
}

void berth_namespaces_free(struct berth_namespace *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        berth_labels_clear(&v[i].labels);
    }
    free(v);
}

struct full_acc {
    struct berth_meta_txn *txn;
    struct berth_namespace *v;
    size_t n, cap;
};

static int list_full_cb(const char *key, const void *val, size_t len, void *arg,
                        struct berth_err **err)
{
    _cleanup_(ns_rec_freep) Berth__Records__V1__Namespace *rec = NULL;
    struct full_acc *acc = arg;
    struct berth_namespace *ns;

    rec = berth__records__v1__namespace__unpack(NULL, len, val);
    if (!rec) { /* one bad record must not hide the others */
        berth_meta_txn_report_corrupt(acc->txn, key);
        return 0;
    }
    if (acc->n == acc->cap) {
        acc->cap = acc->cap ? acc->cap * 2 : 8;
        acc->v = berth_xrealloc(acc->v, acc->cap * sizeof(*acc->v));
    }
    ns = &acc->v[acc->n++];
    memset(ns, 0, sizeof(*ns));
    ns->name = berth_xstrdup(key + strlen(BERTH_KEY_NS_PREFIX));
    berth_labels_from_pb(&ns->labels, (void *const *)rec->labels, rec->n_labels);
    return 0;
}

int berth_meta_namespaces_list_labels(struct berth_meta_txn *txn, struct berth_namespace **out,
                                      size_t *n_out, struct berth_err **err)
{
    struct full_acc acc = {.txn = txn};

    *out = NULL;
    *n_out = 0;
    if (berth_meta_scan(txn, BERTH_KEY_NS_PREFIX, list_full_cb, &acc, err) < 0) {
        berth_namespaces_free(acc.v, acc.n);
        return -1;
    }
    *out = acc.v;
    *n_out = acc.n;
    return 0;
}

int berth_meta_namespaces_update(struct berth_meta_txn *txn, const char *name,
                                 const struct berth_labels *labels, char *const *paths,
                                 size_t n_paths, struct berth_err **err)
{
    _cleanup_(ns_rec_freep) Berth__Records__V1__Namespace *rec = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    struct berth_labels cur = {0};
    char key[BERTH_KEY_MAX];
    int64_t created = 0;
    int ret = -1;

    if (berth_ident_validate(name, err) < 0)
        return berth_err_wrap(err, "namespace");
    berth_key_ns(key, name);
    if (ns_load(txn, name, key, &rec, &e) == 0) {
        berth_labels_from_pb(&cur, (void *const *)rec->labels, rec->n_labels);
        created = rec->created_ns;
    } else if (e->code != BERTH_E_NOT_FOUND) {
        *err = steal_ptr(e);
        return -1;
    }

    if (n_paths == 0) {
        berth_labels_copy(&cur, labels);
    } else {
        for (size_t i = 0; i < n_paths; i++) {
            const char *k;
            if (!berth_fieldpath_label_key(paths[i], "labels", &k)) {
                berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                              "cannot update \"%s\" field on namespace \"%s\"", paths[i], name);
                goto out;
            }
            berth_labels_set(&cur, k, berth_labels_get(labels, k));
        }
    }
    if (berth_labels_validate(&cur, err) < 0) {
        berth_err_wrap(err, "namespace \"%s\"", name);
        goto out;
    }
    ret = ns_put(txn, key, &cur, created, err);
out:
    berth_labels_clear(&cur);
    return ret;
}

int berth_meta_namespaces_delete(struct berth_meta_txn *txn, const char *name,
                                 struct berth_err **err)
{
    char key[BERTH_KEY_MAX], still[256] = "";
    size_t off = 0;

    if (berth_ident_validate(name, err) < 0)
        return berth_err_wrap(err, "namespace");
    berth_key_ns(key, name);
    if (!berth_meta_exists(txn, key))
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "namespace \"%s\"", name);
    for (const struct berth_ns_scoped_kind *k = berth_ns_scoped_kinds; k->prefix; k++) {
        char prefix[BERTH_KEY_MAX];
        berth_key_obj(prefix, k->prefix, name, NULL);
        if (berth_meta_has_prefix(txn, prefix)) {
            int n = snprintf(still + off, sizeof(still) - off, "%s%s", off ? ", " : "", k->what);
            if (n > 0 && (size_t)n < sizeof(still) - off)
                off += (size_t)n;
        }
    }
    if (off)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "namespace \"%s\" must be empty, but it still has %s", name, still);
    for (const char *const *p = berth_ns_owned_prefixes; *p; p++) {
        char prefix[BERTH_KEY_MAX];
        berth_key_obj(prefix, *p, name, NULL);
        if (berth_meta_del_prefix(txn, prefix, NULL, err) < 0)
            return -1;
    }
    return berth_meta_del(txn, key, err);
}
