/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What pull.c (the puller, the documents, the records) and pull-layer.c (layer downloads,
 * streaming extraction, the coordinating loop) share; not part of the module's API.
 */
#ifndef BERTH_IMAGES_PULL_INTERNAL_H
#define BERTH_IMAGES_PULL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "images/pull.h"
#include "images/registry.h"
#include "metadata/ingest.h"

#define TICK_MS 200 /* progress reports and cancel checks */

struct inflight {
    struct inflight *next;
    char *key;
    unsigned waiters;
    bool done;
};

struct berth_puller {
    const struct berth_image_stores *st;
    struct berth_http *http;
    char *config_path;
    unsigned downloads;
    struct berth_pull_metrics metrics; /* series borrowed; all NULL without metrics */
    pthread_mutex_t mu;
    pthread_cond_t cond; /* an in-flight entry ended */
    struct inflight *inflight;
    atomic_bool stopping; /* berth_puller_stop */
};

enum layer_state {
    L_PENDING = 0, /* not taken by a worker */
    L_FETCHING,
    L_STORED,  /* the blob is in the namespace; not applied yet */
    L_APPLIED, /* its chain is committed (or nothing to unpack) */
    L_FAILED,
};

struct layer {
    const struct berth_oci_desc *desc;
    const char *diff_id, *chain, *parent;
    enum layer_state state;
    bool need_blob;      /* false: the chain is committed already, nothing to fetch */
    bool streaming;      /* unpacked while downloading */
    atomic_llong offset; /* bytes in the ingest (progress) */
    bool downloading;    /* report progress */
};

struct event {
    struct event *next;
    char *kind, *digest;
    enum berth_pull_state state;
    int64_t offset, total;
};

/* Label updates made at the end, in one transaction. */
struct label_set {
    char *digest, *key, *val;
};

struct pull {
    struct berth_puller *p;
    const struct berth_pull_opts *o;
    struct berth_registry *remote;
    struct berth_snapshotter *sn;
    const char *sn_name;
    char lease[64];
    char *name; /* the normalized reference */
    atomic_bool cancel;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* a layer changed state, an event queued */
    struct layer *layers;
    size_t n_layers, next_layer, applied_upto;
    struct event *ev_head, **ev_tail;
    struct berth_err *err; /* the first failure */
    struct label_set *labels;
    size_t n_labels;
    char **digests; /* every blob this pull touched, for distribution.source */
    size_t n_digests;
};

/* ---- pull.c ---- */

/* Becomes the owner of key (true) or, with wait, waits until the owner ends (false: the
 * caller looks again at what the owner made); without wait, false at once. */
bool pull_inflight_acquire(struct berth_puller *p, const char *key, bool wait);
void pull_inflight_release(struct berth_puller *p, const char *key);
/* Queues a progress event for the pull's thread (nothing without a progress callback). mu
 * held. */
void pull_event_push_locked(struct pull *pl, const char *kind, const char *digest,
                            enum berth_pull_state s, int64_t off, int64_t total);
/* The same taking mu, and waking the pull's thread. */
void pull_event_push(struct pull *pl, const char *kind, const char *digest, enum berth_pull_state s,
                     int64_t off, int64_t total);
/* Hands queued events to the progress callback; the pull's thread, mu held (dropped around
 * the callback). */
void pull_events_flush_locked(struct pull *pl);
/* Records the pull's first error (*e taken) and cancels the rest. mu held. */
void pull_fail_locked(struct pull *pl, struct berth_err **e);
/* The caller cancelled, or the puller is stopping. */
bool pull_canceled(const struct pull *pl);
/* Remembers a blob the pull touched (for the distribution-source label). */
void pull_digest_touched(struct pull *pl, const char *digest);
/* "index", "manifest", "config" or "layer". */
const char *pull_kind_of(const struct berth_descriptor *d);
/* Opens d's ingest: 1 when the namespace now has the blob (nothing to fetch), 0 with *w open
 * to write from *offset, -1 on error. */
int pull_blob_begin(struct pull *pl, const struct berth_descriptor *d, struct berth_meta_ingest **w,
                    int64_t *offset, struct berth_err **err);
/* Forgets d's ingest: closes *w (may be NULL; left NULL) and removes its partial bytes and
 * record, errors ignored (an ingest left over expires). */
void pull_ingest_drop(struct pull *pl, const struct berth_descriptor *d,
                      struct berth_meta_ingest **w);
/* Commits w as d; drops the ingest when its bytes are not d's. */
int pull_ingest_commit(struct pull *pl, const struct berth_descriptor *d,
                       struct berth_meta_ingest **w, struct berth_err **err);

/* ---- pull-layer.c ---- */

/* A download worker: takes layers in order until none is left or the pull failed. */
void *pull_worker_main(void *arg);
/* The pull's thread while workers download: applies layers in order (from the blob when they
 * were not streamed), reports progress, watches the caller's cancel. */
int pull_coordinate(struct pull *pl, struct berth_err **err);

#endif
