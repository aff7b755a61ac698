/* SPDX-License-Identifier: Apache-2.0 */
/* Content blob and ingest records (see content.h). */
#include "metadata/content.h"

#include <inttypes.h>
#include <string.h>

#include "api/berth/records.pb-c.h"
#include "lib/digest.h"
#include "lib/fieldpath.h"
#include "metadata/keys.h"
#include "metadata/namespaces.h"
#include "metadata/record.h"

typedef Berth__Records__V1__ContentBlob blob_t;
typedef Berth__Records__V1__ContentIngest ingest_t;
DEFINE_PB_CLEANUP(blob_t, blob_freep)
DEFINE_PB_CLEANUP(ingest_t, ingest_freep)

void berth_content_info_free(struct berth_content_info *i)
{
    if (!i)
        return;
    free(i->digest);
    berth_labels_clear(&i->labels);
    free(i);
}

void berth_content_infos_free(struct berth_content_info **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        berth_content_info_free(v[i]);
    free(v);
}

/* "cb/<ns>/<digest>"; false if it does not fit. */
static bool blob_key(char key[BERTH_KEY_MAX], const char *ns, const char *digest)
{
    int n = snprintf(key, BERTH_KEY_MAX, BERTH_KEY_CONTENT_BLOBS "%s/%s", ns, digest);
    return n > 0 && n < BERTH_KEY_MAX;
}

static int check_digest_key(char key[BERTH_KEY_MAX], const char *ns, const char *digest,
                            struct berth_err **err)
{
    if (berth_digest_validate(digest, err) < 0)
        return -1;
    if (!blob_key(key, ns, digest))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "digest \"%.32s...\" is too long",
                             digest);
    return 0;
}

static struct berth_content_info *from_rec(const char *digest, const blob_t *r)
{
    struct berth_content_info *i = berth_xcalloc(1, sizeof(*i));

    i->digest = berth_xstrdup(digest);
    i->size = r->size;
    berth_labels_from_pb(&i->labels, (void *const *)r->labels, r->n_labels);
    i->created_ns = r->created_ns;
    i->updated_ns = r->updated_ns;
    return i;
}

static int store(struct berth_meta_txn *txn, const char *key, const struct berth_content_info *i,
                 struct berth_err **err)
{
    blob_t r = BERTH__RECORDS__V1__CONTENT_BLOB__INIT;
    _cleanup_free_ void **labels = NULL;

    r.size = i->size;
    r.created_ns = i->created_ns;
    r.updated_ns = i->updated_ns;
    berth_labels_to_pb(&i->labels, &berth__records__v1__content_blob__labels_entry__descriptor,
                       &labels, &r.n_labels);
    r.labels = (Berth__Records__V1__ContentBlob__LabelsEntry **)labels;
    return berth_meta_put_pb(txn, key, &r.base, err);
}

static int load(struct berth_meta_txn *txn, const char *key, const char *digest,
                struct berth_content_info **out, struct berth_err **err)
{
    _cleanup_(blob_freep) blob_t *r = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    if (berth_meta_get_pb(txn, key, &berth__records__v1__content_blob__descriptor,
                          (ProtobufCMessage **)&r, &e) < 0) {
        if (e->code == BERTH_E_NOT_FOUND)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "content %s", digest);
        *err = steal_ptr(e);
        return -1;
    }
    *out = from_rec(digest, r);
    return 0;
}

int berth_meta_content_get(struct berth_meta_txn *txn, const char *ns, const char *digest,
                           struct berth_content_info **out, struct berth_err **err)
{
    char key[BERTH_KEY_MAX];

    *out = NULL;
    if (check_digest_key(key, ns, digest, err) < 0)
        return -1;
    return load(txn, key, digest, out, err);
}

int berth_meta_content_put(struct berth_meta_txn *txn, const char *ns,
                           const struct berth_content_info *info, struct berth_err **err)
{
    _cleanup_(berth_content_info_freep) struct berth_content_info *cur = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    struct berth_content_info rec = *info;
    char key[BERTH_KEY_MAX];

    if (check_digest_key(key, ns, info->digest, err) < 0)
        return -1;
    if (info->size < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "content %s: negative size %" PRId64,
                             info->digest, info->size);
    if (berth_labels_validate(&info->labels, err) < 0)
        return berth_err_wrap(err, "content %s", info->digest);
    if (berth_meta_namespaces_ensure(txn, ns, err) < 0)
        return -1;
    rec.updated_ns = berth_now_ns();
    rec.created_ns = rec.updated_ns;
    if (load(txn, key, info->digest, &cur, &e) == 0)
        rec.created_ns = cur->created_ns;
    else if (e->code != BERTH_E_NOT_FOUND)
        return *err = steal_ptr(e), -1;
    return store(txn, key, &rec, err);
}

int berth_meta_content_delete(struct berth_meta_txn *txn, const char *ns, const char *digest,
                              struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;
    char key[BERTH_KEY_MAX];

    if (check_digest_key(key, ns, digest, err) < 0)
        return -1;
    if (berth_meta_del(txn, key, &e) < 0) {
        if (e->code == BERTH_E_NOT_FOUND)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "content %s", digest);
        *err = steal_ptr(e);
        return -1;
    }
    berth_meta_txn_mark_dirty(txn); /* the blob file goes with the next GC */
    return 0;
}

int berth_meta_content_update(struct berth_meta_txn *txn, const char *ns,
                              const struct berth_content_info *info, char *const *paths,
                              size_t n_paths, struct berth_content_info **out,
                              struct berth_err **err)
{
    _cleanup_(berth_content_info_freep) struct berth_content_info *cur = NULL;
    char key[BERTH_KEY_MAX];

    if (out)
        *out = NULL;
    if (check_digest_key(key, ns, info->digest, err) < 0)
        return -1;
    if (load(txn, key, info->digest, &cur, err) < 0)
        return -1;
    if (n_paths == 0) {
        berth_labels_copy(&cur->labels, &info->labels);
    }
    for (size_t i = 0; i < n_paths; i++) {
        const char *k;

        if (berth_fieldpath_label_key(paths[i], "labels", &k))
            berth_labels_set(&cur->labels, k, berth_labels_get(&info->labels, k));
        else if (strcmp(paths[i], "labels") == 0)
            berth_labels_copy(&cur->labels, &info->labels);
        else
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "cannot update \"%s\" field on content info %s", paths[i],
                                 info->digest);
    }
    /* An empty value means "remove" everywhere in containerd; a replaced set may carry one. */
    for (size_t i = 0; i < cur->labels.n;)
        if (!*cur->labels.vals[i])
            berth_labels_del(&cur->labels, cur->labels.keys[i]);
        else
            i++;
    if (berth_labels_validate(&cur->labels, err) < 0)
        return berth_err_wrap(err, "content %s", info->digest);
    cur->updated_ns = berth_now_ns();
    if (store(txn, key, cur, err) < 0)
        return -1;
    if (out)
        *out = steal_ptr(cur);
    return 0;
}

struct list_acc {
    struct berth_meta_txn *txn;
    const struct berth_filter *filter;
    size_t skip; /* prefix length to strip from keys */
    struct berth_content_info **v;
    size_t n, cap;
};

static int list_cb(const char *key, const void *val, size_t len, void *arg, struct berth_err **err)
{
    struct list_acc *acc = arg;
    _cleanup_(blob_freep) blob_t *r = NULL;
    struct berth_content_info *i;

    r = berth__records__v1__content_blob__unpack(NULL, len, val);
    if (!r) { /* one bad record must not hide the others */
        berth_meta_txn_report_corrupt(acc->txn, key);
        return 0;
    }
    i = from_rec(key + acc->skip, r);
    if (acc->filter && !berth_filter_match(acc->filter, berth_content_info_filter_field, i)) {
        berth_content_info_free(i);
        return 0;
    }
    berth_vec_push(acc->v, acc->n, acc->cap, i);
    return 0;
}

int berth_meta_content_list(struct berth_meta_txn *txn, const char *ns,
                            const struct berth_filter *f, struct berth_content_info ***out,
                            size_t *n, struct berth_err **err)
{
    struct list_acc acc = {.txn = txn, .filter = f};
    char prefix[BERTH_KEY_MAX];

    *out = NULL;
    *n = 0;
    berth_key_obj(prefix, BERTH_KEY_CONTENT_BLOBS, ns, NULL);
    acc.skip = strlen(prefix);
    if (berth_meta_scan(txn, prefix, list_cb, &acc, err) < 0) {
        berth_content_infos_free(acc.v, acc.n);
        return -1;
    }
    *out = acc.v;
    *n = acc.n;
    return 0;
}

struct ref_acc {
    const char *digest;
    bool found;
};

static int ref_cb(const char *key, const void *val, size_t len, void *arg, struct berth_err **err)
{
    struct ref_acc *acc = arg;
    const char *slash = strchr(key + strlen(BERTH_KEY_CONTENT_BLOBS), '/');

    if (slash && strcmp(slash + 1, acc->digest) == 0) {
        acc->found = true;
        return 1;
    }
    return 0;
}

int berth_meta_content_referenced(struct berth_meta_txn *txn, const char *digest, bool *out,
                                  struct berth_err **err)
{
    struct ref_acc acc = {.digest = digest};

    *out = false;
    if (berth_meta_scan(txn, BERTH_KEY_CONTENT_BLOBS, ref_cb, &acc, err) < 0)
        return -1;
    *out = acc.found;
    return 0;
}

int berth_meta_content_ns_empty(struct berth_meta_txn *txn, const char *ns, bool *out,
                                struct berth_err **err)
{
    char prefix[BERTH_KEY_MAX];

    berth_key_obj(prefix, BERTH_KEY_CONTENT_BLOBS, ns, NULL);
    *out = !berth_meta_has_prefix(txn, prefix);
    return 0;
}

void berth_content_ingest_free(struct berth_content_ingest *i)
{
    if (!i)
        return;
    free(i->ref);
    free(i->expected);
    free(i);
}

void berth_content_ingests_free(struct berth_content_ingest **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        berth_content_ingest_free(v[i]);
    free(v);
}

static int ingest_key(char key[BERTH_KEY_MAX], const char *ns, const char *ref,
                      struct berth_err **err)
{
    int n;

    if (!ref || !*ref)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "ref must not be empty");
    n = snprintf(key, BERTH_KEY_MAX, BERTH_KEY_CONTENT_INGESTS "%s/%s", ns, ref);
    if (n < 0 || n >= BERTH_KEY_MAX)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "ref \"%.64s...\" is too long", ref);
    return 0;
}

int berth_meta_content_ingest_put(struct berth_meta_txn *txn, const char *ns,
                                  const struct berth_content_ingest *in, struct berth_err **err)
{
    _cleanup_(ingest_freep) ingest_t *old = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    ingest_t r = BERTH__RECORDS__V1__CONTENT_INGEST__INIT;
    char key[BERTH_KEY_MAX];

    if (ingest_key(key, ns, in->ref, err) < 0)
        return -1;
    if (berth_meta_namespaces_ensure(txn, ns, err) < 0)
        return -1;
    r.expires_ns = in->expires_ns;
    r.created_ns = in->created_ns ? in->created_ns : berth_now_ns();
    r.expected = in->expected ? in->expected : (char *)"";
    if (berth_meta_get_pb(txn, key, &berth__records__v1__content_ingest__descriptor,
                          (ProtobufCMessage **)&old, &e) == 0)
        r.created_ns = old->created_ns;
    else if (e->code != BERTH_E_NOT_FOUND)
        return *err = steal_ptr(e), -1;
    return berth_meta_put_pb(txn, key, &r.base, err);
}

int berth_meta_content_ingest_get(struct berth_meta_txn *txn, const char *ns, const char *ref,
                                  struct berth_content_ingest **out, struct berth_err **err)
{
    _cleanup_(ingest_freep) ingest_t *r = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    char key[BERTH_KEY_MAX];
    struct berth_content_ingest *i;

    *out = NULL;
    if (ingest_key(key, ns, ref, err) < 0)
        return -1;
    if (berth_meta_get_pb(txn, key, &berth__records__v1__content_ingest__descriptor,
                          (ProtobufCMessage **)&r, &e) < 0) {
        if (e->code == BERTH_E_NOT_FOUND)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "ref \"%s\"", ref);
        *err = steal_ptr(e);
        return -1;
    }
    i = berth_xcalloc(1, sizeof(*i));
    i->ref = berth_xstrdup(ref);
    i->expires_ns = r->expires_ns;
    i->created_ns = r->created_ns;
    i->expected = r->expected && *r->expected ? berth_xstrdup(r->expected) : NULL;
    *out = i;
    return 0;
}

int berth_meta_content_ingest_delete(struct berth_meta_txn *txn, const char *ns, const char *ref,
                                     struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;
    char key[BERTH_KEY_MAX];

    if (ingest_key(key, ns, ref, err) < 0)
        return -1;
    if (berth_meta_del(txn, key, &e) < 0) {
        if (e->code == BERTH_E_NOT_FOUND)
            return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "ref \"%s\"", ref);
        *err = steal_ptr(e);
        return -1;
    }
    return 0;
}

struct ingest_acc {
    struct berth_meta_txn *txn;
    size_t skip;
    struct berth_content_ingest **v;
    size_t n, cap;
};

static int ingest_cb(const char *key, const void *val, size_t len, void *arg,
                     struct berth_err **err)
{
    struct ingest_acc *acc = arg;
    _cleanup_(ingest_freep) ingest_t *r = NULL;
    struct berth_content_ingest *i;

    r = berth__records__v1__content_ingest__unpack(NULL, len, val);
    if (!r) { /* one bad record must not hide the others */
        berth_meta_txn_report_corrupt(acc->txn, key);
        return 0;
    }
    i = berth_xcalloc(1, sizeof(*i));
    i->ref = berth_xstrdup(key + acc->skip);
    i->expires_ns = r->expires_ns;
    i->created_ns = r->created_ns;
    i->expected = r->expected && *r->expected ? berth_xstrdup(r->expected) : NULL;
    berth_vec_push(acc->v, acc->n, acc->cap, i);
    return 0;
}

int berth_meta_content_ingest_list(struct berth_meta_txn *txn, const char *ns,
                                   struct berth_content_ingest ***out, size_t *n,
                                   struct berth_err **err)
{
    struct ingest_acc acc = {.txn = txn};
    char prefix[BERTH_KEY_MAX];

    *out = NULL;
    *n = 0;
    if (ns)
        berth_key_obj(prefix, BERTH_KEY_CONTENT_INGESTS, ns, NULL);
    else
        snprintf(prefix, sizeof(prefix), "%s", BERTH_KEY_CONTENT_INGESTS);
    acc.skip = strlen(prefix);
    if (berth_meta_scan(txn, prefix, ingest_cb, &acc, err) < 0) {
        berth_content_ingests_free(acc.v, acc.n);
        return -1;
    }
    *out = acc.v;
    *n = acc.n;
    return 0;
}

const char *berth_content_info_filter_field(void *obj, const char *const *path, size_t n,
                                            bool *present)
{
    const struct berth_content_info *i = obj;

    *present = false;
    if (n == 0)
        return NULL;
    if (strcmp(path[0], "labels") == 0)
        return berth_filter_labels_lookup(&i->labels, path + 1, n - 1, present);
    if (n == 1 && strcmp(path[0], "digest") == 0) {
        *present = i->digest && *i->digest;
        return i->digest;
    }
    return NULL;
}

int berth_meta_content_label_set(struct berth_meta_txn *txn, const char *ns, const char *digest,
                                 const char *key, const char *val, struct berth_err **err)
{
    struct berth_content_info info = {.digest = (char *)digest};
    _cleanup_free_ char *path = berth_strdup_printf("labels.%s", key);
    char *paths[] = {path};
    int r;

    berth_labels_set(&info.labels, key, val);
    r = berth_meta_content_update(txn, ns, &info, paths, 1, NULL, err);
    berth_labels_clear(&info.labels);
    return r;
}
