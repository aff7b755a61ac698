/* SPDX-License-Identifier: Apache-2.0 */
/* Container records (see containers.h). */
#include "metadata/containers.h"

#include <string.h>

#include "api/berth/records.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "lib/fieldpath.h"
#include "lib/ident.h"
#include "metadata/keys.h"
#include "metadata/namespaces.h"

typedef Berth__Records__V1__Container rec_t;
DEFINE_PB_CLEANUP(rec_t, rec_freep)

struct berth_container *berth_container_new(void)
{
    return berth_xcalloc(1, sizeof(struct berth_container));
}

void berth_container_free(struct berth_container *c)
{
    if (!c)
        return;
    free(c->id);
    free(c->image);
    free(c->runtime_name);
    free(c->snapshotter);
    free(c->snapshot_key);
    free(c->sandbox);
    berth_any_clear(&c->runtime_options);
    berth_any_clear(&c->spec);
    berth_labels_clear(&c->labels);
    for (size_t i = 0; i < c->n_ext; i++) {
        free(c->ext[i].name);
        berth_any_clear(&c->ext[i].value);
    }
    free(c->ext);
    free(c);
}

void berth_containers_free(struct berth_container **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        berth_container_free(v[i]);
    free(v);
}

const struct berth_any *berth_container_ext_get(const struct berth_container *c, const char *name)
{
    for (size_t i = 0; i < c->n_ext; i++)
        if (strcmp(c->ext[i].name, name) == 0)
            return &c->ext[i].value;
    return NULL;
}

void berth_container_ext_set(struct berth_container *c, const char *name,
                             const struct berth_any *value)
{
    size_t i = 0;

    while (i < c->n_ext && strcmp(c->ext[i].name, name) < 0)
        i++;
    if (i < c->n_ext && strcmp(c->ext[i].name, name) == 0) {
        berth_any_clear(&c->ext[i].value);
        if (value) {
            berth_any_copy(&c->ext[i].value, value);
            return;
        }
        free(c->ext[i].name);
        memmove(&c->ext[i], &c->ext[i + 1], (c->n_ext - i - 1) * sizeof(c->ext[0]));
        c->n_ext--;
        return;
    }
    if (!value)
        return;
    c->ext = berth_xrealloc(c->ext, (c->n_ext + 1) * sizeof(c->ext[0]));
    memmove(&c->ext[i + 1], &c->ext[i], (c->n_ext - i) * sizeof(c->ext[0]));
    c->ext[i].name = berth_xstrdup(name);
    berth_any_copy(&c->ext[i].value, value);
    c->n_ext++;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? berth_xstrdup(s) : NULL;
}

static struct berth_container *from_rec(const rec_t *r)
{
    struct berth_container *c = berth_container_new();

    c->id = berth_xstrdup(r->id);
    c->image = dup_or_null(r->image);
    c->runtime_name = dup_or_null(r->runtime_name);
    c->snapshotter = dup_or_null(r->snapshotter);
    c->snapshot_key = dup_or_null(r->snapshot_key);
    c->sandbox = dup_or_null(r->sandbox);
    berth_any_from_pb(&c->runtime_options, r->runtime_options);
    berth_any_from_pb(&c->spec, r->spec);
    berth_labels_from_pb(&c->labels, (void *const *)r->labels, r->n_labels);
    for (size_t i = 0; i < r->n_extensions; i++) {
        struct berth_any a;
        berth_any_from_pb(&a, r->extensions[i]->value);
        a.present = true;
        berth_container_ext_set(c, r->extensions[i]->key, &a);
        berth_any_clear(&a);
    }
    c->created_ns = r->created_ns;
    c->updated_ns = r->updated_ns;
    return c;
}

static int store(struct berth_meta_txn *txn, const char *key, const struct berth_container *c,
                 struct berth_err **err)
{
    rec_t r = BERTH__RECORDS__V1__CONTAINER__INIT;
    Google__Protobuf__Any opts, spec;
    _cleanup_free_ void **labels = NULL;
    _cleanup_free_ Berth__Records__V1__Container__ExtensionsEntry *ents = NULL;
    _cleanup_free_ Berth__Records__V1__Container__ExtensionsEntry **entp = NULL;
    _cleanup_free_ Google__Protobuf__Any *anys = NULL;

    r.id = c->id;
    r.image = c->image ? c->image : (char *)"";
    r.runtime_name = c->runtime_name ? c->runtime_name : (char *)"";
    r.snapshotter = c->snapshotter ? c->snapshotter : (char *)"";
    r.snapshot_key = c->snapshot_key ? c->snapshot_key : (char *)"";
    r.sandbox = c->sandbox ? c->sandbox : (char *)"";
    r.runtime_options = berth_any_to_pb(&c->runtime_options, &opts);
    r.spec = berth_any_to_pb(&c->spec, &spec);
    r.created_ns = c->created_ns;
    r.updated_ns = c->updated_ns;
    berth_labels_to_pb(&c->labels, &berth__records__v1__container__labels_entry__descriptor,
                       &labels, &r.n_labels);
    r.labels = (Berth__Records__V1__Container__LabelsEntry **)labels;
    ents = berth_xcalloc(c->n_ext, sizeof(*ents));
    entp = berth_xcalloc(c->n_ext, sizeof(*entp));
    anys = berth_xcalloc(c->n_ext, sizeof(*anys));
    for (size_t i = 0; i < c->n_ext; i++) {
        berth__records__v1__container__extensions_entry__init(&ents[i]);
        ents[i].key = c->ext[i].name;
        ents[i].value = berth_any_to_pb(&c->ext[i].value, &anys[i]);
        entp[i] = &ents[i];
    }
    r.n_extensions = c->n_ext;
    r.extensions = entp;
    return berth_meta_put_pb(txn, key, &r.base, err);
}

static int load(struct berth_meta_txn *txn, const char *ns, const char *id, const char *key,
                struct berth_container **out, struct berth_err **err)
{
    _cleanup_(rec_freep) rec_t *r = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    if (berth_meta_get_pb(txn, key, &berth__records__v1__container__descriptor,
                          (ProtobufCMessage **)&r, &e) < 0) {
        if (e->code == BERTH_E_NOT_FOUND)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "container \"%s\"", id);
        *err = steal_ptr(e);
        return -1;
    }
    *out = from_rec(r);
    return 0;
}

static int validate(const struct berth_container *c, struct berth_err **err)
{
    if (berth_ident_validate(c->id, err) < 0)
        return berth_err_wrap(err, "container");
    if (berth_labels_validate(&c->labels, err) < 0)
        return berth_err_wrap(err, "container \"%s\"", c->id);
    for (size_t i = 0; i < c->n_ext; i++)
        if (!c->ext[i].name[0])
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "container \"%s\": extension key must not be empty", c->id);
    if (!c->runtime_name || !*c->runtime_name)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "container \"%s\": runtime name must be set", c->id);
    if (!c->spec.present)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "container \"%s\": spec must be set",
                             c->id);
    if (c->snapshot_key && *c->snapshot_key && (!c->snapshotter || !*c->snapshotter))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "container \"%s\": snapshotter must be set with a snapshot key",
                             c->id);
    return 0;
}

int berth_meta_containers_get(struct berth_meta_txn *txn, const char *ns, const char *id,
                              struct berth_container **out, struct berth_err **err)
{
    char key[BERTH_KEY_MAX];

    *out = NULL;
    if (berth_ident_validate(id, err) < 0)
        return berth_err_wrap(err, "container");
    berth_key_obj(key, BERTH_KEY_CONTAINERS, ns, id);
    return load(txn, ns, id, key, out, err);
}

struct list_acc {
    struct berth_meta_txn *txn;
    const struct berth_filter *filter;
    struct berth_container **v;
    size_t n, cap;
    size_t limit; /* 0: no limit */
    bool more;
};

static int list_cb(const char *key, const void *val, size_t len, void *arg, struct berth_err **err)
{
    struct list_acc *acc = arg;
    _cleanup_(rec_freep) rec_t *r = NULL;
    struct berth_container *c;

    if (acc->limit && acc->n == acc->limit) {
        acc->more = true;
        return 1;
    }
    r = berth__records__v1__container__unpack(NULL, len, val);
    if (!r) { /* one bad record must not hide the others */
        berth_meta_txn_report_corrupt(acc->txn, key);
        return 0;
    }
    c = from_rec(r);
    if (acc->filter && !berth_filter_match(acc->filter, berth_container_filter_field, c)) {
        berth_container_free(c);
        return 0;
    }
    berth_vec_push(acc->v, acc->n, acc->cap, c);
    return 0;
}

int berth_meta_containers_list_page(struct berth_meta_txn *txn, const char *ns,
                                    const struct berth_filter *filter, const char *after_id,
                                    size_t limit, struct berth_container ***out, size_t *n_out,
                                    bool *more, struct berth_err **err)
{
    struct list_acc acc = {.txn = txn, .filter = filter, .limit = limit};
    char prefix[BERTH_KEY_MAX], after[BERTH_KEY_MAX] = "";

    *out = NULL;
    *n_out = 0;
    berth_key_obj(prefix, BERTH_KEY_CONTAINERS, ns, NULL);
    if (after_id)
        berth_key_obj(after, BERTH_KEY_CONTAINERS, ns, after_id);
    if (berth_meta_scan_after(txn, prefix, after, list_cb, &acc, err) < 0) {
        berth_containers_free(acc.v, acc.n);
        return -1;
    }
    *out = acc.v;
    *n_out = acc.n;
    if (more)
        *more = acc.more;
    return 0;
}

int berth_meta_containers_list(struct berth_meta_txn *txn, const char *ns,
                               const struct berth_filter *filter, struct berth_container ***out,
                               size_t *n_out, struct berth_err **err)
{
    return berth_meta_containers_list_page(txn, ns, filter, NULL, 0, out, n_out, NULL, err);
}

int berth_meta_containers_create(struct berth_meta_txn *txn, const char *ns,
                                 struct berth_container *c, struct berth_err **err)
{
    char key[BERTH_KEY_MAX];

    if (validate(c, err) < 0)
        return -1;
    if (berth_meta_namespaces_ensure(txn, ns, err) < 0)
        return -1;
    berth_key_obj(key, BERTH_KEY_CONTAINERS, ns, c->id);
    if (berth_meta_exists(txn, key))
        return berth_err_set(err, BERTH_E_ALREADY_EXISTS, 0, "container \"%s\"", c->id);
    c->created_ns = c->updated_ns = berth_now_ns();
    return store(txn, key, c, err);
}

static bool str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static void replace_str(char **dst, const char *src)
{
    free(*dst);
    *dst = dup_or_null(src);
}

static int apply_path(struct berth_container *cur, const struct berth_container *c,
                      const char *path, struct berth_err **err)
{
    const char *k;

    if (berth_fieldpath_label_key(path, "labels", &k)) {
        berth_labels_set(&cur->labels, k, berth_labels_get(&c->labels, k));
    } else if (berth_fieldpath_label_key(path, "extensions", &k)) {
        berth_container_ext_set(cur, k, berth_container_ext_get(c, k));
    } else if (strcmp(path, "labels") == 0) {
        berth_labels_copy(&cur->labels, &c->labels);
    } else if (strcmp(path, "spec") == 0) {
        berth_any_clear(&cur->spec);
        berth_any_copy(&cur->spec, &c->spec);
    } else if (strcmp(path, "extensions") == 0) {
        while (cur->n_ext)
            berth_container_ext_set(cur, cur->ext[0].name, NULL);
        for (size_t i = 0; i < c->n_ext; i++)
            berth_container_ext_set(cur, c->ext[i].name, &c->ext[i].value);
    } else if (strcmp(path, "image") == 0) {
        replace_str(&cur->image, c->image);
    } else if (strcmp(path, "snapshotkey") == 0) {
        replace_str(&cur->snapshot_key, c->snapshot_key);
    } else {
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "cannot update \"%s\" field on container \"%s\"", path, c->id);
    }
    return 0;
}

int berth_meta_containers_update(struct berth_meta_txn *txn, const char *ns,
                                 const struct berth_container *c, char *const *paths,
                                 size_t n_paths, struct berth_container **out,
                                 struct berth_err **err)
{
    static char *const all[] = {"labels", "spec", "extensions", "image", "snapshotkey"};
    _cleanup_(berth_container_freep) struct berth_container *cur = NULL;
    char key[BERTH_KEY_MAX];

    if (out)
        *out = NULL;
    if (!c->id || !*c->id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "must specify a container id");
    if (berth_ident_validate(c->id, err) < 0)
        return berth_err_wrap(err, "container");
    berth_key_obj(key, BERTH_KEY_CONTAINERS, ns, c->id);
    if (load(txn, ns, c->id, key, &cur, err) < 0)
        return -1;
    if (n_paths == 0) {
        if (!str_eq(cur->snapshotter, c->snapshotter))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "container \"%s\": snapshotter field is immutable", c->id);
        if (!str_eq(cur->runtime_name, c->runtime_name))
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "container \"%s\": runtime name field is immutable", c->id);
        paths = all;
        n_paths = BERTH_N(all);
    }
    for (size_t i = 0; i < n_paths; i++)
        if (apply_path(cur, c, paths[i], err) < 0)
            return -1;
    if (validate(cur, err) < 0)
        return -1;
    cur->updated_ns = berth_now_ns();
    if (store(txn, key, cur, err) < 0)
        return -1;
    if (out)
        *out = steal_ptr(cur);
    return 0;
}

int berth_meta_containers_delete(struct berth_meta_txn *txn, const char *ns, const char *id,
                                 struct berth_err **err)
{
    char key[BERTH_KEY_MAX];
    _cleanup_err_ struct berth_err *e = NULL;

    if (berth_ident_validate(id, err) < 0)
        return berth_err_wrap(err, "container");
    berth_key_obj(key, BERTH_KEY_CONTAINERS, ns, id);
    if (berth_meta_del(txn, key, &e) < 0) {
        if (e->code == BERTH_E_NOT_FOUND)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "container \"%s\"", id);
        *err = steal_ptr(e);
        return -1;
    }
    berth_meta_txn_mark_dirty(txn); /* its snapshot may now be collectable */
    return 0;
}

const char *berth_container_filter_field(void *obj, const char *const *path, size_t n,
                                         bool *present)
{
    const struct berth_container *c = obj;
    const char *v = NULL;

    *present = false;
    if (n == 0)
        return NULL;
    if (strcmp(path[0], "labels") == 0)
        return berth_filter_labels_lookup(&c->labels, path + 1, n - 1, present);
    if (n == 1 && strcmp(path[0], "id") == 0)
        v = c->id;
    else if (n == 1 && strcmp(path[0], "image") == 0)
        v = c->image;
    else if (n == 2 && strcmp(path[0], "runtime") == 0 && strcmp(path[1], "name") == 0)
        v = c->runtime_name;
    *present = v && *v;
    return v ? v : "";
}
