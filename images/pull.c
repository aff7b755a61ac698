/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry pulls (see pull.h). The calling thread resolves, walks the documents, then
 * coordinates (pull-layer.c: workers download, at most max_concurrent_downloads at once, and
 * the calling thread applies in order), then writes the records. This file holds the puller,
 * progress events, the blob ingests, the documents' source and the records. Cross-pull
 * deduplication goes through the puller's in-flight table: one owner per
 * blob digest and per (namespace, snapshotter, chain ID), the others wait on its condition.
 */
#include "images/pull.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "images/images-internal.h"
#include "images/pull-internal.h"
#include "images/reference.h"
#include "images/walk.h"
#include "metadata/content.h"

#define DEFAULT_DOWNLOADS 3
#define SOURCE_PREFIX     "containerd.io/distribution.source."

/* ---- the puller and its in-flight table ---- */

int berth_puller_new(const struct berth_image_stores *st, const struct berth_puller_opts *o,
                     struct berth_puller **out, struct berth_err **err)
{
    struct berth_puller *p = berth_xcalloc(1, sizeof(*p));
    struct berth_http_opts ho = {.user_agent = "berth/" BERTH_VERSION,
                                 .progress_timeout_ns = o ? o->progress_timeout_ns : 0};

    *out = NULL;
    p->st = st;
    p->config_path = berth_xstrdup(o && o->config_path ? o->config_path : "");
    p->downloads =
        o && o->max_concurrent_downloads ? o->max_concurrent_downloads : DEFAULT_DOWNLOADS;
    if (o && o->metrics)
        p->metrics = *o->metrics;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    if (berth_http_new(&ho, &p->http, err) < 0) {
        berth_puller_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

void berth_puller_stop(struct berth_puller *p)
{
    if (!p)
        return;
    atomic_store(&p->stopping, true);
    berth_http_stop(p->http); /* a transfer in progress, even of a document, ends now */
}

void berth_puller_free(struct berth_puller *p)
{
    if (!p)
        return;
    berth_http_free(p->http);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p->config_path);
    free(p);
}

/* Becomes the owner of key (returns true) or, when another pull owns it, waits until that
 * one ends and returns false: the caller looks again at what the owner made. */
bool pull_inflight_acquire(struct berth_puller *p, const char *key, bool wait)
{
    struct inflight *f;

    pthread_mutex_lock(&p->mu);
    for (f = p->inflight; f; f = f->next)
        if (!strcmp(f->key, key))
            break;
    if (!f) {
        f = berth_xcalloc(1, sizeof(*f));
        f->key = berth_xstrdup(key);
        f->next = p->inflight;
        p->inflight = f;
        pthread_mutex_unlock(&p->mu);
        return true;
    }
    if (!wait) {
        pthread_mutex_unlock(&p->mu);
        return false;
    }
    f->waiters++;
    while (!f->done)
        pthread_cond_wait(&p->cond, &p->mu);
    if (--f->waiters == 0)
        free(f->key), free(f);
    pthread_mutex_unlock(&p->mu);
    return false;
}

void pull_inflight_release(struct berth_puller *p, const char *key)
{
    pthread_mutex_lock(&p->mu);
    for (struct inflight **fp = &p->inflight; *fp; fp = &(*fp)->next) {
        struct inflight *f = *fp;
        if (strcmp(f->key, key))
            continue;
        *fp = f->next;
        f->done = true;
        if (f->waiters == 0)
            free(f->key), free(f);
        break;
    }
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

/* ---- one pull ---- */

const char *berth_pull_state_name(enum berth_pull_state s)
{
    static const char *const names[] = {"waiting", "downloading", "exists",
                                        "done",    "unpacking",   "unpacked"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

void berth_pull_result_clear(struct berth_pull_result *r)
{
    if (!r)
        return;
    berth_image_free(r->image);
    free(r->top_chain_id);
    memset(r, 0, sizeof(*r));
}

void pull_fail_locked(struct pull *pl, struct berth_err **e)
{
    if (!pl->err)
        pl->err = steal_ptr(*e);
    else
        berth_err_free(e);
    atomic_store(&pl->cancel, true);
    pthread_cond_broadcast(&pl->cond);
}

bool pull_canceled(const struct pull *pl)
{
    return atomic_load(&pl->p->stopping) ||
           (pl->o->is_canceled && pl->o->is_canceled(pl->o->cancel_arg));
}

void pull_event_push_locked(struct pull *pl, const char *kind, const char *digest,
                            enum berth_pull_state s, int64_t off, int64_t total)
{
    struct event *ev;

    if (!pl->o->progress)
        return;
    ev = berth_xcalloc(1, sizeof(*ev));
    ev->kind = berth_xstrdup(kind);
    ev->digest = berth_xstrdup(digest);
    ev->state = s;
    ev->offset = off;
    ev->total = total;
    *pl->ev_tail = ev;
    pl->ev_tail = &ev->next;
}

void pull_event_push(struct pull *pl, const char *kind, const char *digest, enum berth_pull_state s,
                     int64_t off, int64_t total)
{
    pthread_mutex_lock(&pl->mu);
    pull_event_push_locked(pl, kind, digest, s, off, total);
    pthread_cond_broadcast(&pl->cond);
    pthread_mutex_unlock(&pl->mu);
}

/* Hands queued events to the progress callback; called on the pull's own thread, mu held
 * (dropped around the callback). */
void pull_events_flush_locked(struct pull *pl)
{
    while (pl->ev_head) {
        struct event *ev = pl->ev_head;
        struct berth_pull_event pe = {.kind = ev->kind,
                                      .digest = ev->digest,
                                      .state = ev->state,
                                      .offset = ev->offset,
                                      .total = ev->total};
        pl->ev_head = ev->next;
        if (!pl->ev_head)
            pl->ev_tail = &pl->ev_head;
        pthread_mutex_unlock(&pl->mu);
        pl->o->progress(pl->o->progress_arg, &pe);
        free(ev->kind);
        free(ev->digest);
        free(ev);
        pthread_mutex_lock(&pl->mu);
    }
}

static void label_add(struct pull *pl, const char *digest, const char *key, const char *val)
{
    pthread_mutex_lock(&pl->mu);
    pl->labels = berth_xrealloc(pl->labels, (pl->n_labels + 1) * sizeof(*pl->labels));
    pl->labels[pl->n_labels].digest = berth_xstrdup(digest);
    pl->labels[pl->n_labels].key = berth_xstrdup(key);
    pl->labels[pl->n_labels++].val = berth_xstrdup(val);
    pthread_mutex_unlock(&pl->mu);
}

void pull_digest_touched(struct pull *pl, const char *digest)
{
    pthread_mutex_lock(&pl->mu);
    for (size_t i = 0; i < pl->n_digests; i++)
        if (!strcmp(pl->digests[i], digest)) {
            pthread_mutex_unlock(&pl->mu);
            return;
        }
    pl->digests = berth_xrealloc(pl->digests, (pl->n_digests + 1) * sizeof(char *));
    pl->digests[pl->n_digests++] = berth_xstrdup(digest);
    pthread_mutex_unlock(&pl->mu);
}

const char *pull_kind_of(const struct berth_descriptor *d)
{
    switch (berth_oci_media_kind(d->media_type)) {
    case BERTH_OCI_INDEX:
        return "index";
    case BERTH_OCI_MANIFEST:
        return "manifest";
    case BERTH_OCI_CONFIG:
        return "config";
    default:
        return "layer";
    }
}

/* ---- writing a blob ---- */

/* The ingest ref of d: containerd's "<kind>-<digest>" (remotes.MakeRefKey), so a pull resumes
 * what an earlier one, or ctr pull in the same namespace, left. Caller-owned. */
static char *ingest_ref(const struct berth_descriptor *d)
{
    return berth_strdup_printf("%s-%s", pull_kind_of(d), d->digest);
}

void pull_ingest_drop(struct pull *pl, const struct berth_descriptor *d,
                      struct berth_meta_ingest **w)
{
    _cleanup_free_ char *ref = ingest_ref(d);
    _cleanup_err_ struct berth_err *e = NULL;

    berth_meta_ingest_close(steal_ptr(*w));
    (void)berth_meta_ingest_abort(pl->p->st->db, pl->p->st->content, pl->o->ns, pl->lease, ref, &e);
}

static int ingest_open(struct pull *pl, const struct berth_descriptor *d,
                       struct berth_meta_ingest **w, struct berth_err **err)
{
    _cleanup_free_ char *ref = ingest_ref(d);
    struct berth_meta_ingest_opts io = {.ns = pl->o->ns,
                                        .lease = pl->lease,
                                        .ref = ref,
                                        .total = d->size,
                                        .expected = d->digest,
                                        .keep_expiry = true};

    return berth_meta_ingest_open(pl->p->st->db, pl->p->st->content, &io, w, err);
}

/* Commits w as d; drops the ingest when its bytes are not d's. */
int pull_ingest_commit(struct pull *pl, const struct berth_descriptor *d,
                       struct berth_meta_ingest **w, struct berth_err **err)
{
    _cleanup_free_ char *digest = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    bool existed = false;

    if (berth_meta_ingest_commit(*w, d->size, d->digest, NULL, &digest, &existed, &e) == 0 ||
        e->code == BERTH_E_ALREADY_EXISTS) {
        *w = NULL;
        return 0;
    }
    *err = steal_ptr(e);
    berth_err_wrap(err, "%s", pl->name);
    if ((*err)->code == BERTH_E_FAILED_PRECONDITION)
        pull_ingest_drop(pl, d, w);
    return -1;
}

/* Opens d's ingest. Returns 1 when the namespace now has the blob (nothing to fetch: it was
 * there, or the store had it and the shared writer committed it), 0 with *w open to write
 * from its offset, -1 on error. */
int pull_blob_begin(struct pull *pl, const struct berth_descriptor *d, struct berth_meta_ingest **w,
                    int64_t *offset, struct berth_err **err)
{
    _cleanup_err_ struct berth_err *e = NULL;
    struct berth_content_status st;

    *w = NULL;
    *offset = 0;
    for (int64_t delay_ms = 8;; delay_ms = delay_ms < 256 ? delay_ms * 2 : 256) {
        if (ingest_open(pl, d, w, &e) == 0)
            break;
        if (e->code == BERTH_E_ALREADY_EXISTS)
            return 1;
        /* A client of the content API writing the same ref (ctr pull in this namespace):
         * wait for it, as containerd's own clients do, unless the pull ends meanwhile. */
        if (e->code != BERTH_E_UNAVAILABLE || atomic_load(&pl->cancel) || pull_canceled(pl)) {
            *err = steal_ptr(e);
            return berth_err_wrap(err, "%s", pl->name);
        }
        berth_err_free(&e);
        {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = delay_ms * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    if (berth_meta_ingest_status(*w, &st, err) < 0) {
        berth_meta_ingest_close(steal_ptr(*w));
        return -1;
    }
    *offset = st.offset;
    berth_content_status_clear(&st);
    if (*offset == d->size && d->size > 0) { /* shared from another namespace, or complete */
        if (pull_ingest_commit(pl, d, w, err) < 0)
            return -1;
        return 1;
    }
    if (*offset > d->size)
        *offset = 0; /* junk: start over (a write at 0 truncates) */
    return 0;
}

/* ---- documents: the walk's blob source ---- */

/* A document from the registry, its bytes counted as fetched. */
static int fetch_doc(struct pull *pl, const struct berth_descriptor *d, size_t max,
                     struct berth_bytes *out, struct berth_err **err)
{
    if (berth_registry_fetch_doc(pl->remote, d, max, out, err) < 0)
        return -1;
    berth_counter_add(pl->p->metrics.bytes, out->len);
    return 0;
}

static int source_read(void *arg, const struct berth_descriptor *d, size_t max,
                       struct berth_bytes *out, struct berth_err **err)
{
    struct pull *pl = arg;
    struct berth_meta_ingest *w = NULL;
    struct berth_bytes doc = {0};
    _cleanup_free_ char *bkey = NULL;
    const char *kind = pull_kind_of(d);
    int64_t off;
    int ret;

    if (pull_canceled(pl))
        return berth_err_set(err, BERTH_E_CANCELED, 0, "%s: pull canceled", pl->name);
    if (strcmp(kind, "config") && max > BERTH_REGISTRY_MANIFEST_MAX)
        max = BERTH_REGISTRY_MANIFEST_MAX;
    if (d->size > (int64_t)max)
        return berth_err_set(err, BERTH_E_OUT_OF_RANGE, 0,
                             "%s: %s %s of %" PRId64 " bytes is larger than %zu", pl->name, kind,
                             d->digest, d->size, max);
    pull_digest_touched(pl, d->digest);
    bkey = berth_strdup_printf("blob:%s", d->digest);
    /* Another pull fetching the same document: wait for it, then look again. */
    while (!pull_inflight_acquire(pl->p, bkey, true))
        ;
    ret = pull_blob_begin(pl, d, &w, &off, err);
    if (ret == 0) {
        pull_event_push(pl, kind, d->digest, BERTH_PULL_DOWNLOADING, 0, d->size);
        if (fetch_doc(pl, d, max, &doc, err) < 0 ||
            berth_meta_ingest_write(w, 0, doc.data, doc.len, err) < 0 ||
            pull_ingest_commit(pl, d, &w, err) < 0) {
            /* A document is small: nothing worth resuming, so leave no ingest behind (a commit
             * that refused the bytes dropped it already). */
            if (w)
                pull_ingest_drop(pl, d, &w);
            berth_bytes_clear(&doc);
            pull_inflight_release(pl->p, bkey);
            return -1;
        }
        pull_inflight_release(pl->p, bkey);
        pull_event_push(pl, kind, d->digest, BERTH_PULL_DONE, d->size, d->size);
        *out = doc;
        return 0;
    }
    pull_inflight_release(pl->p, bkey);
    if (ret < 0)
        return -1;
    pull_event_push(pl, kind, d->digest, BERTH_PULL_EXISTS, d->size, d->size);
    return berth_image_blob_read(pl->p->st, pl->o->ns, d->digest, max, out, err);
}

/* ---- records ---- */

struct records_op {
    struct pull *pl;
    const struct berth_descriptor *target;
    struct berth_pull_result *res;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* cur ("a,b") with repo added, sorted and without duplicates, as containerd joins the
 * repositories of a distribution-source label. Caller-owned. */
static char *source_join(const char *cur, const char *repo)
{
    _cleanup_free_ char *copy = berth_xstrdup(cur ? cur : "");
    char **v = NULL, *save = NULL, *out;
    size_t n = 0, len = 0;

    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        v = berth_xrealloc(v, (n + 1) * sizeof(char *));
        v[n++] = t;
    }
    v = berth_xrealloc(v, (n + 1) * sizeof(char *));
    v[n++] = (char *)repo;
    qsort(v, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    out = berth_xcalloc(1, len + 1);
    for (size_t i = 0; i < n; i++) {
        if (i && !strcmp(v[i], v[i - 1]))
            continue;
        if (*out)
            strcat(out, ",");
        strcat(out, v[i]);
    }
    free(v);
    return out;
}

static int records_cb(struct berth_meta_txn *txn, void *arg, struct berth_err **err)
{
    struct records_op *op = arg;
    struct pull *pl = op->pl;
    const char *ns = pl->o->ns;
    _cleanup_free_ char *skey =
        berth_strdup_printf(SOURCE_PREFIX "%s", berth_registry_source_host(pl->remote));

    berth_image_free(op->res->image); /* a retried batch starts over */
    op->res->image = NULL;
    for (size_t i = 0; i < pl->n_labels; i++)
        if (berth_meta_content_label_set(txn, ns, pl->labels[i].digest, pl->labels[i].key,
                                         pl->labels[i].val, err) < 0)
            return -1;
    for (size_t i = 0; i < pl->n_digests; i++) {
        _cleanup_(berth_content_info_freep) struct berth_content_info *ci = NULL;
        _cleanup_free_ char *val = NULL;
        _cleanup_err_ struct berth_err *e2 = NULL;
        if (berth_meta_content_get(txn, ns, pl->digests[i], &ci, &e2) < 0) {
            if (e2->code == BERTH_E_NOT_FOUND) /* a layer not fetched (snapshot existed) */
                continue;
            return *err = steal_ptr(e2), -1;
        }
        val = source_join(berth_labels_get(&ci->labels, skey), berth_registry_repo(pl->remote));
        if (strlen(skey) + strlen(val) > 4096) /* containerd skips what the label rule refuses */
            continue;
        if (berth_meta_content_label_set(txn, ns, pl->digests[i], skey, val, err) < 0)
            return -1;
    }
    return berth_image_record_put(txn, ns, pl->name, op->target, pl->o->labels, &op->res->image,
                                  &op->res->created, err);
}

/* ---- the pull ---- */

static void pull_clear(struct pull *pl)
{
    berth_registry_free(pl->remote);
    free(pl->name);
    free(pl->layers);
    while (pl->ev_head) {
        struct event *ev = pl->ev_head;
        pl->ev_head = ev->next;
        free(ev->kind);
        free(ev->digest);
        free(ev);
    }
    for (size_t i = 0; i < pl->n_labels; i++) {
        free(pl->labels[i].digest);
        free(pl->labels[i].key);
        free(pl->labels[i].val);
    }
    free(pl->labels);
    for (size_t i = 0; i < pl->n_digests; i++)
        free(pl->digests[i]);
    free(pl->digests);
    berth_err_free(&pl->err);
    pthread_cond_destroy(&pl->cond);
    pthread_mutex_destroy(&pl->mu);
}

/* Queues the gc.ref labels containerd's fetch handlers set on the walked documents. */
static void doc_labels(struct pull *pl, const struct berth_image_walk *w)
{
    char key[96];

    for (size_t i = 0; i < w->n_indexes; i++) {
        const struct berth_oci_index *ix = w->indexes[i].index;
        for (size_t j = 0; j < ix->n_manifests; j++) {
            bool nested = berth_oci_media_kind(ix->manifests[j].d.media_type) == BERTH_OCI_INDEX;
            snprintf(key, sizeof(key),
                     nested ? "containerd.io/gc.ref.content.%zu"
                            : "containerd.io/gc.ref.content.m.%zu",
                     j);
            label_add(pl, w->indexes[i].desc.digest, key, ix->manifests[j].d.digest);
        }
    }
    label_add(pl, w->manifest_desc.d.digest, "containerd.io/gc.ref.content.config",
              w->manifest->config.d.digest);
    for (size_t i = 0; i < w->manifest->n_layers; i++) {
        snprintf(key, sizeof(key), "containerd.io/gc.ref.content.l.%zu", i);
        label_add(pl, w->manifest_desc.d.digest, key, w->manifest->layers[i].d.digest);
    }
}

static int layers_plan(struct pull *pl, const struct berth_image_walk *w, struct berth_err **err)
{
    pl->n_layers = w->manifest->n_layers;
    pl->layers = berth_xcalloc(pl->n_layers ? pl->n_layers : 1, sizeof(*pl->layers));
    for (size_t i = 0; i < pl->n_layers; i++) {
        struct layer *l = &pl->layers[i];
        bool have = false;
        l->desc = &w->manifest->layers[i];
        l->diff_id = w->config->diff_ids[i];
        l->chain = w->chain_ids[i];
        l->parent = i ? w->chain_ids[i - 1] : NULL;
        l->need_blob = true;
        if (!pl->o->no_unpack) {
            if (berth_image_snapshot_committed(pl->p->st, pl->o->ns, pl->sn_name, l->chain, &have,
                                               err) < 0)
                return -1;
            /* A committed chain needs nothing; containerd's unpacker does not fetch it. */
            l->need_blob = !have;
            if (have)
                pull_event_push(pl, "layer", l->desc->d.digest, BERTH_PULL_EXISTS, l->desc->d.size,
                                l->desc->d.size);
        }
    }
    return 0;
}

int berth_image_pull(struct berth_puller *p, const struct berth_pull_opts *o,
                     struct berth_pull_result *out, struct berth_err **err)
{
    struct pull pl = {.p = p, .o = o};
    struct berth_image_ref ref = {0};
    struct berth_registry_opts ro = {.http = p->http,
                                     .config_path = p->config_path,
                                     .plain_http = o->plain_http,
                                     .creds = o->creds};
    struct berth_descriptor target = {0};
    struct berth_image_walk w = {0};
    struct berth_blob_source src = {.read = source_read, .arg = &pl};
    pthread_t workers[16];
    size_t n_workers = 0;
    bool leased = false;
    int ret = -1;
    int64_t t0 = berth_mono_ns();

    memset(out, 0, sizeof(*out));
    if (atomic_load(&p->stopping))
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "pull %s: berthd is stopping", o->ref);
    pthread_mutex_init(&pl.mu, NULL);
    pthread_cond_init(&pl.cond, NULL);
    pl.ev_tail = &pl.ev_head;
    atomic_init(&pl.cancel, false);
    ro.cancel = &pl.cancel;
    if (berth_image_ref_parse(o->ref, &ref, err) < 0)
        goto out;
    pl.name = berth_image_ref_string(&ref);
    pl.sn_name = o->snapshotter && *o->snapshotter ? o->snapshotter : BERTH_SNAP_DEFAULT;
    if (!o->no_unpack) {
        if (!p->st->snapshotters) {
            berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "no snapshotter loaded");
            goto out;
        }
        if (berth_snap_registry_get(p->st->snapshotters, pl.sn_name, &pl.sn, err) < 0)
            goto out;
    }
    if (berth_registry_open(&ro, &ref, &pl.remote, err) < 0)
        goto out;
    if (berth_image_lease_begin(p->st, o->ns, "pull", pl.lease, err) < 0)
        goto out;
    leased = true;
    if (berth_registry_resolve(pl.remote, &target, err) < 0)
        goto out;
    /* The walk fetches (and stores) every document it reads. */
    if (berth_image_walk(&src, &target, o->platform, &w, err) < 0) {
        berth_err_wrap(err, "%s", pl.name);
        goto out;
    }
    doc_labels(&pl, &w);
    if (layers_plan(&pl, &w, err) < 0)
        goto out;
    {
        size_t want = p->downloads < 16 ? p->downloads : 16;
        if (want > pl.n_layers)
            want = pl.n_layers;
        for (; n_workers < want; n_workers++)
            if (pthread_create(&workers[n_workers], NULL, pull_worker_main, &pl) != 0)
                break;
        if (pl.n_layers && !n_workers) {
            berth_err_set(err, BERTH_E_INTERNAL, errno, "start a download thread");
            goto out;
        }
    }
    ret = pull_coordinate(&pl, err);
    for (size_t i = 0; i < n_workers; i++)
        pthread_join(workers[i], NULL);
    n_workers = 0;
    if (ret == 0 && pl.err) { /* a worker failed after the coordinator finished */
        *err = steal_ptr(pl.err);
        ret = -1;
    }
    if (ret < 0)
        goto out;
    ret = -1;
    if (!o->no_unpack && pl.n_layers) {
        _cleanup_free_ char *gckey =
            berth_strdup_printf("containerd.io/gc.ref.snapshot.%s", pl.sn_name);
        label_add(&pl, w.manifest->config.d.digest, gckey, w.chain_ids[pl.n_layers - 1]);
        out->top_chain_id = berth_xstrdup(w.chain_ids[pl.n_layers - 1]);
    }
    {
        struct records_op op = {.pl = &pl, .target = &target, .res = out};
        if (berth_meta_update(p->st->db, records_cb, &op, err) < 0)
            goto out;
    }
    ret = 0;
out:
    if (n_workers) {
        atomic_store(&pl.cancel, true);
        for (size_t i = 0; i < n_workers; i++)
            pthread_join(workers[i], NULL);
    }
    if (leased)
        berth_image_lease_end(p->st, o->ns, pl.lease);
    if (ret < 0) {
        berth_pull_result_clear(out);
        /* Every error names the reference (a connection error names only the host). */
        if (pl.name && *err && !strstr((*err)->msg, pl.name))
            berth_err_wrap(err, "pull %s", pl.name);
    }
    berth_image_walk_clear(&w);
    berth_descriptor_clear(&target);
    berth_image_ref_clear(&ref);
    pull_clear(&pl);
    berth_counter_inc(ret == 0 ? p->metrics.ok : p->metrics.failed);
    berth_histogram_observe(p->metrics.seconds, (double)(berth_mono_ns() - t0) / 1e9);
    return ret;
}
