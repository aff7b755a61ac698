/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mark and sweep over the metadata store, then backend cleanup (see gc.h). Nodes are named by
 * their record keys ("cb/<ns>/<digest>", "ci/<ns>/<ref>", "s/<ns>/<sn>/<key>", "l/<ns>/<id>"),
 * so the sweep is a scan of those prefixes deleting every key the mark did not reach.
 */
#include "metadata/gc.h"

#include <string.h>

#include "api/berth/records.pb-c.h" /* to tell a sweepable record that cannot be decoded */
#include "lib/labels.h"
#include "lib/strset.h"
#include "metadata/containers.h"
#include "metadata/content.h"
#include "metadata/images.h"
#include "metadata/keys.h"
#include "metadata/leases.h"
#include "metadata/namespaces.h"
#include "metadata/snapshots.h"

/* mark states in a struct berth_strset */
enum { KEPT = 1, FOLLOWED = 2 };

/* ---- marking ---- */

struct marker {
    struct berth_meta_txn *txn;
    struct berth_content_store *content;
    int64_t now_ns;
    struct berth_strset marked;
    char **stack; /* keys still to follow */
    size_t n_stack, cap_stack;
    /* Records that cannot be decoded might reference anything in their namespace, so the
     * sweep leaves those namespaces alone (all of them for a key of unknown shape). Kept
     * across a re-mark: the union is the safe side. */
    struct berth_strset corrupt; /* their keys */
    struct berth_strset unswept; /* their namespaces */
    bool unswept_all;
    char first_corrupt[128];
};

/* Marks key; follow = its references are traversed too (not for a flat lease's resources). */
static void mark(struct marker *m, const char *key, bool follow)
{
    unsigned char prev = berth_strset_raise(&m->marked, key, follow ? FOLLOWED : KEPT);

    if (!follow || prev == FOLLOWED)
        return;
    if (m->n_stack == m->cap_stack) {
        m->cap_stack = m->cap_stack ? m->cap_stack * 2 : 64;
        m->stack = berth_xrealloc(m->stack, m->cap_stack * sizeof(char *));
    }
    m->stack[m->n_stack++] = berth_xstrdup(key);
}

static void mark_content(struct marker *m, const char *ns, const char *digest, bool follow)
{
    char key[BERTH_KEY_MAX];
    int n = snprintf(key, sizeof(key), BERTH_KEY_CONTENT_BLOBS "%s/%s", ns, digest);
    if (n > 0 && n < BERTH_KEY_MAX && *digest)
        mark(m, key, follow);
}

static void mark_snapshot(struct marker *m, const char *ns, const char *sn, size_t snlen,
                          const char *skey, bool follow)
{
    char key[BERTH_KEY_MAX];
    int n = snprintf(key, sizeof(key), BERTH_KEY_SNAPSHOTS "%s/%.*s/%s", ns, (int)snlen, sn, skey);
    if (n > 0 && n < BERTH_KEY_MAX && snlen && *skey)
        mark(m, key, follow);
}

static void mark_ingest(struct marker *m, const char *ns, const char *ref, bool follow)
{
    char key[BERTH_KEY_MAX];
    int n = snprintf(key, sizeof(key), BERTH_KEY_CONTENT_INGESTS "%s/%s", ns, ref);
    if (n > 0 && n < BERTH_KEY_MAX && *ref)
        mark(m, key, follow);
}

bool berth_gc_label_is_content_ref(const char *key)
{
    size_t n = strlen(BERTH_LABEL_GC_REF_CONTENT);
    return strncmp(key, BERTH_LABEL_GC_REF_CONTENT, n) == 0 &&
           (key[n] == '\0' || key[n] == '.' || key[n] == '/');
}

size_t berth_gc_label_snapshot_ref(const char *key)
{
    size_t n = strlen(BERTH_LABEL_GC_REF_SNAPSHOT);
    if (strncmp(key, BERTH_LABEL_GC_REF_SNAPSHOT, n) != 0)
        return 0;
    return strcspn(key + n, "/");
}

/* The references a record's labels carry. */
static void mark_label_refs(struct marker *m, const char *ns, const struct berth_labels *l)
{
    for (size_t i = 0; i < l->n; i++) {
        size_t snlen;
        if (berth_gc_label_is_content_ref(l->keys[i]))
            mark_content(m, ns, l->vals[i], true);
        else if ((snlen = berth_gc_label_snapshot_ref(l->keys[i])) > 0)
            mark_snapshot(m, ns, l->keys[i] + strlen(BERTH_LABEL_GC_REF_SNAPSHOT), snlen,
                          l->vals[i], true);
    }
}

/* Splits "<prefix><ns>/<rest>" (ns has no '/'); false if key has no such shape. */
static bool split_ns(const char *key, const char *prefix, char ns[BERTH_KEY_MAX], const char **rest)
{
    const char *p = key + strlen(prefix), *slash = strchr(p, '/');
    if (!slash || slash == p || (size_t)(slash - p) >= BERTH_KEY_MAX)
        return false;
    memcpy(ns, p, (size_t)(slash - p));
    ns[slash - p] = '\0';
    *rest = slash + 1;
    return true;
}

/* Record kinds whose keys are "<prefix><ns>/...". */
static const char *const ns_kinds[] = {
    BERTH_KEY_CONTAINERS,      BERTH_KEY_LEASES,    BERTH_KEY_LEASE_RES, BERTH_KEY_CONTENT_BLOBS,
    BERTH_KEY_CONTENT_INGESTS, BERTH_KEY_SNAPSHOTS, BERTH_KEY_IMAGES,
};

/* The namespace of a record key into ns; false if key has no "<kind><ns>/" shape. */
static bool key_ns(const char *key, char ns[BERTH_KEY_MAX])
{
    const char *rest;

    for (size_t i = 0; i < BERTH_N(ns_kinds); i++)
        if (berth_str_has_prefix(key, ns_kinds[i]))
            return split_ns(key, ns_kinds[i], ns, &rest);
    return false;
}

/* The marker's corrupt-record hook (berth_meta_txn_set_corrupt_hook on every txn it reads). */
static void corrupt_cb(void *arg, const char *key)
{
    struct marker *m = arg;
    char ns[BERTH_KEY_MAX];

    if (berth_strset_has(&m->corrupt, key))
        return;
    berth_strset_add(&m->corrupt, key);
    if (!m->first_corrupt[0])
        snprintf(m->first_corrupt, sizeof(m->first_corrupt), "%s", key);
    /* A namespace record holds only labels: nothing for the GC to protect. */
    if (berth_str_has_prefix(key, BERTH_KEY_NS_PREFIX))
        return;
    if (key_ns(key, ns))
        berth_strset_add(&m->unswept, ns);
    else
        m->unswept_all = true;
}

static bool unswept(const struct marker *m, const char *key)
{
    char ns[BERTH_KEY_MAX];

    if (m->unswept_all)
        return true;
    return key_ns(key, ns) && berth_strset_has(&m->unswept, ns);
}

/* For a get that failed: a record that cannot be decoded is reported (and its namespace left
 * unswept), absent ones and bad references (a label's bad digest) have no references; -1 for
 * anything else, with *err. */
static int follow_failed(struct marker *m, const char *key, struct berth_err **e,
                         struct berth_err **err)
{
    if ((*e)->code == BERTH_E_DATA_LOSS)
        berth_meta_txn_report_corrupt(m->txn, key);
    else if ((*e)->code != BERTH_E_NOT_FOUND && (*e)->code != BERTH_E_INVALID_ARGUMENT)
        return *err = steal_ptr(*e), -1;
    return 0;
}

/* Follows one marked node's references. A record that vanished has none. */
static int follow(struct marker *m, const char *key, struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;
    char ns[BERTH_KEY_MAX];
    const char *rest;

    if (berth_str_has_prefix(key, BERTH_KEY_CONTENT_BLOBS)) {
        _cleanup_(berth_content_info_freep) struct berth_content_info *i = NULL;
        if (!split_ns(key, BERTH_KEY_CONTENT_BLOBS, ns, &rest))
            return 0;
        if (berth_meta_content_get(m->txn, ns, rest, &i, &e) < 0)
            return follow_failed(m, key, &e, err);
        mark_label_refs(m, ns, &i->labels);
    } else if (berth_str_has_prefix(key, BERTH_KEY_SNAPSHOTS)) {
        _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = NULL;
        const char *slash;
        if (!split_ns(key, BERTH_KEY_SNAPSHOTS, ns, &rest) || !(slash = strchr(rest, '/')))
            return 0;
        {
            _cleanup_free_ char *sn = berth_xstrndup(rest, (size_t)(slash - rest));
            if (berth_meta_snapshots_get(m->txn, ns, sn, slash + 1, &s, &e) < 0)
                return follow_failed(m, key, &e, err);
        }
        if (s->info.parent)
            mark_snapshot(m, ns, rest, (size_t)(slash - rest), s->info.parent, true);
        mark_label_refs(m, ns, &s->info.labels);
    } else if (berth_str_has_prefix(key, BERTH_KEY_CONTENT_INGESTS)) {
        /* An ingest keeps the blob it is expected to become (if it already exists): a shared
         * ingest names it in its record, a backend ingest in its "expected" file. */
        _cleanup_(berth_content_ingest_freep) struct berth_content_ingest *in = NULL;
        _cleanup_free_ char *bref = NULL;
        struct berth_content_status st = {0};
        if (!split_ns(key, BERTH_KEY_CONTENT_INGESTS, ns, &rest))
            return 0;
        if (berth_meta_content_ingest_get(m->txn, ns, rest, &in, &e) < 0)
            return follow_failed(m, key, &e, err);
        if (in->expected)
            mark_content(m, ns, in->expected, true);
        if (!m->content)
            return 0;
        bref = berth_strdup_printf("%s/%s", ns, rest);
        if (berth_content_ingest_status(m->content, bref, &st, &e) == 0) {
            if (st.expected)
                mark_content(m, ns, st.expected, true);
            berth_content_status_clear(&st);
        }
    }
    return 0;
}

static int mark_leases(struct marker *m, const char *ns, struct berth_err **err)
{
    struct berth_lease **v = NULL;
    size_t n = 0;
    int ret = 0;

    if (berth_meta_leases_list(m->txn, ns, NULL, &v, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n && ret == 0; i++) {
        struct berth_lease_resource *r = NULL;
        size_t nr = 0;
        char key[BERTH_KEY_MAX];
        bool flat;

        if (berth_lease_expired(v[i], m->now_ns))
            continue; /* not a root: the sweep takes the lease itself */
        berth_key_obj(key, BERTH_KEY_LEASES, ns, v[i]->id);
        mark(m, key, false);
        flat = berth_labels_get(&v[i]->labels, BERTH_LABEL_GC_FLAT) != NULL;
        ret = berth_meta_leases_list_resources(m->txn, ns, v[i]->id, &r, &nr, err);
        for (size_t j = 0; j < nr && ret == 0; j++) {
            const char *sn;
            if (strcmp(r[j].type, BERTH_LEASE_RES_CONTENT) == 0)
                mark_content(m, ns, r[j].id, !flat);
            else if (strcmp(r[j].type, BERTH_LEASE_RES_INGESTS) == 0)
                mark_ingest(m, ns, r[j].id, !flat);
            else if (berth_str_has_prefix(r[j].type, BERTH_LEASE_RES_SNAPSHOTS "/")) {
                sn = r[j].type + strlen(BERTH_LEASE_RES_SNAPSHOTS "/");
                mark_snapshot(m, ns, sn, strlen(sn), r[j].id, !flat);
            }
        }
        berth_lease_resources_free(r, nr);
    }
    berth_leases_free(v, n);
    return ret;
}

static int mark_images_containers(struct marker *m, const char *ns, struct berth_err **err)
{
    struct berth_image **im = NULL;
    struct berth_container **c = NULL;
    size_t n_im = 0, n_c = 0;

    if (berth_meta_images_list(m->txn, ns, NULL, &im, &n_im, err) < 0)
        return -1;
    for (size_t i = 0; i < n_im; i++) {
        if (im[i]->target.digest)
            mark_content(m, ns, im[i]->target.digest, true);
        mark_label_refs(m, ns, &im[i]->labels);
    }
    berth_images_free(im, n_im);
    if (berth_meta_containers_list(m->txn, ns, NULL, &c, &n_c, err) < 0)
        return -1;
    for (size_t i = 0; i < n_c; i++) {
        if (c[i]->snapshotter && c[i]->snapshot_key)
            mark_snapshot(m, ns, c[i]->snapshotter, strlen(c[i]->snapshotter), c[i]->snapshot_key,
                          true);
        mark_label_refs(m, ns, &c[i]->labels);
    }
    berth_containers_free(c, n_c);
    return 0;
}

static int mark_content_ingests(struct marker *m, const char *ns, struct berth_err **err)
{
    struct berth_content_info **ci = NULL;
    struct berth_content_ingest **in = NULL;
    size_t n_ci = 0, n_in = 0;

    if (berth_meta_content_list(m->txn, ns, NULL, &ci, &n_ci, err) < 0)
        return -1;
    for (size_t i = 0; i < n_ci; i++)
        if (berth_labels_get(&ci[i]->labels, BERTH_LABEL_GC_ROOT))
            mark_content(m, ns, ci[i]->digest, true);
    berth_content_infos_free(ci, n_ci);
    if (berth_meta_content_ingest_list(m->txn, ns, &in, &n_in, err) < 0)
        return -1;
    /* Only an expiry in the future makes an ingest a root; 0 means a lease holds it. */
    for (size_t i = 0; i < n_in; i++)
        if (in[i]->expires_ns > m->now_ns)
            mark_ingest(m, ns, in[i]->ref, true);
    berth_content_ingests_free(in, n_in);
    return 0;
}

struct snap_root_arg {
    struct marker *m;
    size_t skip;
};

static int snap_root_cb(const char *key, const void *val, size_t len, void *arg,
                        struct berth_err **err)
{
    struct snap_root_arg *a = arg;
    char ns[BERTH_KEY_MAX];
    const char *rest, *slash;
    _cleanup_(berth_snapshot_freep) struct berth_snapshot *s = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    (void)val, (void)len, (void)err;
    if (!split_ns(key, BERTH_KEY_SNAPSHOTS, ns, &rest) || !(slash = strchr(rest, '/')))
        return 0;
    {
        _cleanup_free_ char *sn = berth_xstrndup(rest, (size_t)(slash - rest));
        if (berth_meta_snapshots_get(a->m->txn, ns, sn, slash + 1, &s, &e) < 0) {
            if (e->code == BERTH_E_DATA_LOSS) /* might be a root: its namespace stays */
                berth_meta_txn_report_corrupt(a->m->txn, key);
            return 0;
        }
    }
    if (berth_labels_get(&s->info.labels, BERTH_LABEL_GC_ROOT))
        mark(a->m, key, true);
    return 0;
}

/* Forgets the marks (not what was found corrupt). */
static void marker_clear(struct marker *m)
{
    for (size_t i = 0; i < m->n_stack; i++)
        free(m->stack[i]);
    free(m->stack);
    m->stack = NULL;
    m->n_stack = m->cap_stack = 0;
    berth_strset_clear(&m->marked);
}

/* Marks everything live as seen by m->txn into m->marked. */
static int mark_all(struct marker *m, struct berth_err **err)
{
    _cleanup_(berth_strv_freep) char **nss = NULL;
    struct snap_root_arg sa = {.m = m};

    if (berth_meta_namespaces_list(m->txn, &nss, err) < 0)
        return -1;
    for (char **ns = nss; *ns; ns++) {
        char prefix[BERTH_KEY_MAX];
        if (mark_leases(m, *ns, err) < 0 || mark_images_containers(m, *ns, err) < 0 ||
            mark_content_ingests(m, *ns, err) < 0)
            return -1;
        berth_key_obj(prefix, BERTH_KEY_SNAPSHOTS, *ns, NULL);
        if (berth_meta_scan(m->txn, prefix, snap_root_cb, &sa, err) < 0)
            return -1;
    }
    while (m->n_stack) {
        _cleanup_free_ char *key = m->stack[--m->n_stack];
        if (follow(m, key, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- sweeping ---- */

struct sweep {
    uint64_t snap_id;
    struct berth_meta_txn *txn; /* the writer's, while sweep_cb runs */
    struct marker *m;
    struct berth_gc_stats *stats;
    char **doomed; /* keys to delete, collected before deleting */
    size_t n_doomed;
};

/* Whether a record the sweep would delete can be decoded: one that cannot is left in place
 * (and its namespace unswept) even where nothing references it. */
static bool decodes(const char *key, const void *val, size_t len)
{
    static const struct {
        const char *prefix;
        const ProtobufCMessageDescriptor *desc;
    } kinds[] = {
        {BERTH_KEY_LEASES, &berth__records__v1__lease__descriptor},
        {BERTH_KEY_SNAPSHOTS, &berth__records__v1__snapshot__descriptor},
        {BERTH_KEY_CONTENT_BLOBS, &berth__records__v1__content_blob__descriptor},
        {BERTH_KEY_CONTENT_INGESTS, &berth__records__v1__content_ingest__descriptor},
    };

    for (size_t i = 0; i < BERTH_N(kinds); i++) {
        ProtobufCMessage *msg;
        if (!berth_str_has_prefix(key, kinds[i].prefix))
            continue;
        msg = protobuf_c_message_unpack(kinds[i].desc, NULL, len, val);
        if (!msg)
            return false;
        protobuf_c_message_free_unpacked(msg, NULL);
        return true;
    }
    return true;
}

static int collect_cb(const char *key, const void *val, size_t len, void *arg,
                      struct berth_err **err)
{
    struct sweep *sw = arg;

    (void)err;
    if (berth_strset_get(&sw->m->marked, key))
        return 0;
    if (!decodes(key, val, len)) {
        berth_meta_txn_report_corrupt(sw->txn, key);
        return 0;
    }
    sw->doomed = berth_xrealloc(sw->doomed, (sw->n_doomed + 1) * sizeof(char *));
    sw->doomed[sw->n_doomed++] = berth_xstrdup(key);
    return 0;
}

static void doomed_clear(struct sweep *sw)
{
    for (size_t i = 0; i < sw->n_doomed; i++)
        free(sw->doomed[i]);
    free(sw->doomed);
    sw->doomed = NULL;
    sw->n_doomed = 0;
}

/* Deletes one unmarked record. The GC's own deletes are not marked dirty: they must not
 * schedule another pass. */
static int sweep_one(struct sweep *sw, struct berth_meta_txn *txn, const char *key,
                     struct berth_err **err)
{
    char ns[BERTH_KEY_MAX];
    const char *rest, *slash;

    if (berth_str_has_prefix(key, BERTH_KEY_LEASES)) {
        char prefix[BERTH_KEY_MAX];
        if (!split_ns(key, BERTH_KEY_LEASES, ns, &rest) ||
            !berth_key_lease_res(prefix, ns, rest, NULL, NULL))
            return 0;
        if (berth_meta_del(txn, key, err) < 0 || berth_meta_del_prefix(txn, prefix, NULL, err) < 0)
            return -1;
        sw->stats->leases++;
    } else if (berth_str_has_prefix(key, BERTH_KEY_SNAPSHOTS)) {
        _cleanup_free_ char *sn = NULL;
        if (!split_ns(key, BERTH_KEY_SNAPSHOTS, ns, &rest) || !(slash = strchr(rest, '/')))
            return 0;
        sn = berth_xstrndup(rest, (size_t)(slash - rest));
        if (berth_meta_snapshots_sweep(txn, ns, sn, slash + 1, err) < 0)
            return -1;
        sw->stats->snapshots++;
    } else {
        if (berth_meta_del(txn, key, err) < 0)
            return -1;
        if (berth_str_has_prefix(key, BERTH_KEY_CONTENT_BLOBS))
            sw->stats->content++;
        else
            sw->stats->ingests++;
    }
    return 0;
}

static int sweep_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    static const char *const kinds[] = {BERTH_KEY_LEASES, BERTH_KEY_SNAPSHOTS,
                                        BERTH_KEY_CONTENT_BLOBS, BERTH_KEY_CONTENT_INGESTS};
    struct sweep *sw = arg;
    int64_t t0 = berth_mono_ns();
    int ret = -1;

    /* A retried batch runs us again: count from zero. */
    sw->stats->leases = sw->stats->snapshots = sw->stats->content = sw->stats->ingests = 0;
    sw->txn = txn;
    berth_meta_txn_set_corrupt_hook(txn, corrupt_cb, sw->m);
    if (!berth_meta_txn_unchanged_since(txn, sw->snap_id)) {
        /* Something was written after the read snapshot: it may reference what the mark
         * found dead, so mark again here, where nothing can change underneath. */
        marker_clear(sw->m);
        sw->m->txn = txn;
        sw->stats->remarked = true;
        if (mark_all(sw->m, err) < 0)
            goto out;
    }
    for (size_t k = 0; k < BERTH_N(kinds); k++)
        if (berth_meta_scan(txn, kinds[k], collect_cb, sw, err) < 0)
            goto out;
    /* Only now is every corrupt record of the pass known. */
    for (size_t i = 0; i < sw->n_doomed; i++)
        if (!unswept(sw->m, sw->doomed[i]) && sweep_one(sw, txn, sw->doomed[i], err) < 0)
            goto out;
    ret = 0;
out:
    doomed_clear(sw);
    sw->stats->sweep_ns = berth_mono_ns() - t0;
    return ret;
}

/* ---- backend cleanup ---- */

struct ref_scan {
    struct berth_strset *set;
    size_t skip;                   /* strlen of the kind prefix */
    struct berth_strset *expected; /* ingests: the blobs shared ingests will record */
};

/* Collects "<rest after ns/>" of every key into the set (digests, ingest refs). */
static int digest_cb(const char *key, const void *val, size_t len, void *arg,
                     struct berth_err **err)
{
    struct ref_scan *rs = arg;
    const char *slash = strchr(key + rs->skip, '/');

    (void)val, (void)len, (void)err;
    if (slash)
        berth_strset_raise(rs->set, slash + 1, KEPT);
    return 0;
}

/* Collects "<ns>/<ref>", the backend ref, of every ingest record, and the blob a shared ingest
 * will record (it has no backend ingest naming it). */
static int bref_cb(const char *key, const void *val, size_t len, void *arg, struct berth_err **err)
{
    struct ref_scan *rs = arg;
    Berth__Records__V1__ContentIngest *r;

    (void)err;
    berth_strset_raise(rs->set, key + rs->skip, KEPT);
    r = berth__records__v1__content_ingest__unpack(NULL, len, val);
    if (r && r->expected && *r->expected)
        berth_strset_raise(rs->expected, r->expected, KEPT);
    if (r)
        berth__records__v1__content_ingest__free_unpacked(r, NULL);
    return 0;
}

static int content_cleanup(struct berth_meta_db *db, struct berth_content_store *cs,
                           struct berth_gc_stats *stats, struct berth_err **err)
{
    _cleanup_txn_ struct berth_meta_txn *txn = NULL;
    _cleanup_(berth_strv_freep) char **blobs = NULL;
    struct berth_content_status *ing = NULL;
    struct berth_strset digests = {0}, brefs = {0};
    struct ref_scan rd = {&digests, strlen(BERTH_KEY_CONTENT_BLOBS), NULL};
    struct ref_scan ri = {&brefs, strlen(BERTH_KEY_CONTENT_INGESTS), &digests};
    size_t n_ing = 0;
    int ret = -1;

    if (berth_meta_txn_begin_read(db, &txn, err) < 0 ||
        berth_meta_scan(txn, BERTH_KEY_CONTENT_BLOBS, digest_cb, &rd, err) < 0 ||
        berth_meta_scan(txn, BERTH_KEY_CONTENT_INGESTS, bref_cb, &ri, err) < 0)
        goto out;
    berth_meta_txn_abort(steal_ptr(txn));
    if (berth_content_ingest_list(cs, NULL, &ing, &n_ing, err) < 0)
        goto out;
    for (size_t i = 0; i < n_ing; i++) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_strset_get(&brefs, ing[i].ref)) {
            if (ing[i].expected) /* a live ingest keeps the blob it will become */
                berth_strset_raise(&digests, ing[i].expected, KEPT);
            continue;
        }
        /* UNAVAILABLE: a writer holds it right now; the next pass gets it. */
        if (berth_content_ingest_abort(cs, ing[i].ref, &e) == 0)
            stats->backend_ingests++;
    }
    if (berth_content_blob_list(cs, &blobs, err) < 0)
        goto out;
    for (char **b = blobs; *b; b++) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_strset_get(&digests, *b))
            continue;
        if (berth_content_blob_delete(cs, *b, &e) == 0) {
            stats->blobs++;
        } else if (e->code != BERTH_E_NOT_FOUND) {
            *err = steal_ptr(e);
            goto out;
        }
    }
    ret = 0;
out:
    berth_content_statuses_free(ing, n_ing);
    berth_strset_clear(&digests);
    berth_strset_clear(&brefs);
    return ret;
}

static int backend_cleanup(struct berth_meta_db *db, const struct berth_gc_backends *be,
                           struct berth_gc_stats *stats, struct berth_err **err)
{
    if (be->content && content_cleanup(db, be->content, stats, err) < 0)
        return -1;
    for (size_t i = 0; i < be->n_snapshotters; i++) {
        size_t n = 0, bad = 0;
        int r = berth_meta_snapshots_backend_gc(db, be->snapshotters[i], &n, &bad, err);
        stats->corrupt_backend += bad;
        if (r < 0)
            return berth_err_wrap(err, "snapshotter %s", be->snapshotters[i]->ops->name);
        stats->backend_snapshots += n;
    }
    return 0;
}

int berth_meta_gc_run(struct berth_meta_db *db, const struct berth_gc_backends *be, int64_t now_ns,
                      struct berth_gc_stats *stats, struct berth_err **err)
{
    static const struct berth_gc_backends none = {0};
    struct berth_gc_stats local;
    struct marker m = {.now_ns = now_ns};
    struct sweep sw = {.m = &m};
    int64_t t0 = berth_mono_ns(), t;
    int ret = -1;

    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof(*stats));
    if (!be)
        be = &none;
    sw.stats = stats;
    m.content = be->content;
    {
        _cleanup_txn_ struct berth_meta_txn *txn = NULL;
        if (berth_meta_txn_begin_read(db, &txn, err) < 0)
            goto out;
        berth_meta_txn_set_corrupt_hook(txn, corrupt_cb, &m);
        m.txn = txn;
        sw.snap_id = berth_meta_txn_snapshot_id(txn);
        if (mark_all(&m, err) < 0)
            goto out;
        m.txn = NULL;
    }
    stats->mark_ns = berth_mono_ns() - t0;
    t = berth_mono_ns();
    if (berth_meta_update(db, sweep_cb, &sw, err) < 0)
        goto out;
    stats->write_ns = berth_mono_ns() - t;
    t = berth_mono_ns();
    berth_meta_gc_lock_exclusive(db);
    ret = backend_cleanup(db, be, stats, err);
    berth_meta_gc_unlock(db);
    stats->cleanup_ns = berth_mono_ns() - t;
out:
    stats->corrupt = m.corrupt.n;
    stats->unswept_namespaces = m.unswept_all ? SIZE_MAX : m.unswept.n;
    snprintf(stats->first_corrupt, sizeof(stats->first_corrupt), "%s", m.first_corrupt);
    marker_clear(&m);
    berth_strset_clear(&m.corrupt);
    berth_strset_clear(&m.unswept);
    stats->total_ns = berth_mono_ns() - t0;
    return ret;
}
