/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer downloads of a pull (see pull.h): workers take layers in order; a layer whose parent
 * chain is applied when its download starts streams through a pipe into an extractor thread
 * while its bytes go to the ingest (the transfer engine holds the transfer while the pipe is
 * full); the pull's own thread applies the others in order from the stored blob.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "content/store.h"
#include "images/images-internal.h"
#include "images/pull-internal.h"

#define PIPE_SIZE    (1 << 20)
#define BLOB_RETRIES 3 /* resumes after a connection cut mid-body */

/* The sink of a layer download: the ingest, and the extractor's pipe when streaming. */
struct layer_sink {
    struct pull *pl;
    struct layer *l;
    struct berth_meta_ingest *w;
    int64_t off;
    int pipe_wr; /* -1 when not streaming (or the extractor stopped reading) */
    uint8_t *pend;
    size_t pend_len, pend_cap;
    struct berth_err *err;
    struct berth_http_sink s;
};

static void sink_unpipe(struct layer_sink *ls)
{
    berth_closep(&ls->pipe_wr);
    ls->pend_len = 0;
    ls->s.wait_fd = -1;
}

/* Writes what the pipe takes; true when all of [buf, len) went in (or the pipe is gone). */
static bool pipe_push(struct layer_sink *ls, const uint8_t *buf, size_t len, size_t *done)
{
    *done = 0;
    while (*done < len) {
        ssize_t n = write(ls->pipe_wr, buf + *done, len - *done);
        if (n > 0) {
            *done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return false;
        sink_unpipe(ls); /* EPIPE: the extractor failed; the blob still gets stored */
        return true;
    }
    return true;
}

static enum berth_http_sink_ret sink_data(void *arg, const void *buf, size_t len)
{
    struct layer_sink *ls = arg;
    size_t done;

    if (ls->off + (int64_t)len > ls->l->desc->d.size) {
        berth_err_set(&ls->err, BERTH_E_FAILED_PRECONDITION, 0,
                      "%s: layer %s is larger than its descriptor's %" PRId64 " bytes",
                      ls->pl->name, ls->l->desc->d.digest, ls->l->desc->d.size);
        return BERTH_HTTP_SINK_ABORT;
    }
    if (berth_meta_ingest_write(ls->w, ls->off, buf, len, &ls->err) < 0)
        return BERTH_HTTP_SINK_ABORT;
    berth_counter_add(ls->pl->p->metrics.bytes, len);
    ls->off += (int64_t)len;
    atomic_store(&ls->l->offset, ls->off);
    if (ls->pipe_wr < 0)
        return BERTH_HTTP_SINK_OK;
    if (pipe_push(ls, buf, len, &done))
        return BERTH_HTTP_SINK_OK;
    if (ls->pend_cap < len - done) {
        ls->pend_cap = len - done;
        ls->pend = berth_xrealloc(ls->pend, ls->pend_cap);
    }
    memcpy(ls->pend, (const uint8_t *)buf + done, len - done);
    ls->pend_len = len - done;
    ls->s.wait_fd = ls->pipe_wr;
    return BERTH_HTTP_SINK_WAIT;
}

static enum berth_http_sink_ret sink_drain(void *arg)
{
    struct layer_sink *ls = arg;
    size_t done;

    if (ls->pipe_wr < 0 || pipe_push(ls, ls->pend, ls->pend_len, &done)) {
        ls->pend_len = 0;
        return BERTH_HTTP_SINK_OK;
    }
    memmove(ls->pend, ls->pend + done, ls->pend_len - done);
    ls->pend_len -= done;
    return BERTH_HTTP_SINK_WAIT;
}

/* The extractor of a streamed layer: applies from the pipe, then waits for the download's
 * verdict before committing the snapshot. */
struct extract {
    struct pull *pl;
    struct layer *l;
    int fd;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int verdict; /* 0 pending, 1 blob committed, -1 download failed */
    struct berth_err *err;
};

static int extract_gate(void *arg, struct berth_err **err)
{
    struct extract *x = arg;
    int v;

    pthread_mutex_lock(&x->mu);
    while (!x->verdict)
        pthread_cond_wait(&x->cond, &x->mu);
    v = x->verdict;
    pthread_mutex_unlock(&x->mu);
    if (v < 0)
        return berth_err_set(err, BERTH_E_CANCELED, 0, "download of %s failed",
                             x->l->desc->d.digest);
    return 0;
}

static void *extract_main(void *arg)
{
    struct extract *x = arg;
    struct pull *pl = x->pl;

    if (berth_image_unpack_layer(pl->p->st, pl->sn, pl->o->ns, pl->lease, x->fd,
                                 x->l->desc->d.digest, x->l->diff_id, x->l->chain, x->l->parent,
                                 extract_gate, x, &x->err) < 0) {
        /* A layer the extractor refused still has to reach the store (the coordinator then
         * reports it from the blob): read the pipe to its end so the download never waits
         * on a reader that left. */
        static char sink[65536];
        ssize_t n;
        while ((n = read(x->fd, sink, sizeof(sink))) > 0 || (n < 0 && errno == EINTR))
            ;
    }
    berth_closep(&x->fd);
    return NULL;
}

static void extract_verdict(struct extract *x, int v)
{
    pthread_mutex_lock(&x->mu);
    x->verdict = v;
    pthread_cond_signal(&x->cond);
    pthread_mutex_unlock(&x->mu);
}

static bool layer_applied_below(struct pull *pl, size_t i)
{
    bool ok;
    pthread_mutex_lock(&pl->mu);
    ok = pl->applied_upto >= i;
    pthread_mutex_unlock(&pl->mu);
    return ok;
}

static char *chain_key(const struct pull *pl, const char *chain)
{
    return berth_strdup_printf("snap:%s/%s/%s", pl->o->ns, pl->sn_name, chain);
}

/* Downloads layer l (index i) into the namespace, streaming it into its snapshot when its
 * parent is applied. Sets l->streaming when the snapshot was made on the way. */
static int layer_fetch(struct pull *pl, size_t i, struct layer *l, struct berth_err **err)
{
    const struct berth_descriptor *d = &l->desc->d;
    _cleanup_free_ char *bkey = berth_strdup_printf("blob:%s", d->digest), *ckey = NULL;
    struct layer_sink ls = {.pl = pl, .l = l, .pipe_wr = -1};
    struct extract x = {.pl = pl, .l = l, .fd = -1};
    pthread_t xt;
    bool xt_started = false, own_chain = false;
    int ret = -1;

    pull_digest_touched(pl, d->digest);
    /* Another pull fetching the same blob: wait for it, then look again. */
    while (!pull_inflight_acquire(pl->p, bkey, true))
        if (atomic_load(&pl->cancel))
            return berth_err_set(err, BERTH_E_CANCELED, 0, "%s: canceled", pl->name);
    {
        int64_t off = 0;
        int b = pull_blob_begin(pl, d, &ls.w, &off, err);
        if (b != 0) {
            pull_inflight_release(pl->p, bkey);
            if (b > 0)
                pull_event_push(pl, "layer", d->digest, BERTH_PULL_EXISTS, d->size, d->size);
            return b < 0 ? -1 : 0;
        }
        ls.off = off;
    }
    atomic_store(&l->offset, ls.off);
    /* Stream into the extractor when the parent chain is there and nobody else makes it. */
    if (!pl->o->no_unpack && ls.off == 0 && layer_applied_below(pl, i)) {
        ckey = chain_key(pl, l->chain);
        own_chain = pull_inflight_acquire(pl->p, ckey, false);
    }
    if (own_chain) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) == 0) {
            (void)fcntl(fds[1], F_SETPIPE_SZ, PIPE_SIZE);
            (void)fcntl(fds[1], F_SETFL, O_NONBLOCK);
            ls.pipe_wr = fds[1];
            x.fd = fds[0];
            pthread_mutex_init(&x.mu, NULL);
            pthread_cond_init(&x.cond, NULL);
            if (pthread_create(&xt, NULL, extract_main, &x) == 0) {
                xt_started = true;
            } else {
                berth_closep(&ls.pipe_wr);
                berth_closep(&x.fd);
            }
        }
    }
    ls.s =
        (struct berth_http_sink){.data = sink_data, .drain = sink_drain, .arg = &ls, .wait_fd = -1};
    pthread_mutex_lock(&pl->mu);
    l->downloading = true;
    pthread_mutex_unlock(&pl->mu);
    pull_event_push(pl, "layer", d->digest, BERTH_PULL_DOWNLOADING, ls.off, d->size);
    for (int attempt = 0;; attempt++) {
        int64_t got = 0;
        if (berth_registry_fetch_blob(pl->remote, d, ls.off, &ls.s, &got, err) == 0)
            break;
        if (ls.err) { /* the sink's own reason beats "aborted by sink" */
            berth_err_free(err);
            *err = steal_ptr(ls.err);
        }
        /* A cut after some progress resumes from the ingest's offset, without the pipe. */
        if (got > 0 && attempt < BLOB_RETRIES && (*err)->code == BERTH_E_UNAVAILABLE &&
            !atomic_load(&pl->cancel)) {
            berth_err_free(err);
            sink_unpipe(&ls);
            continue;
        }
        goto out;
    }
    sink_unpipe(&ls); /* EOF for the extractor */
    if (ls.off != d->size) {
        berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                      "%s: layer %s: got %" PRId64 " bytes, its descriptor says %" PRId64, pl->name,
                      d->digest, ls.off, d->size);
        goto out;
    }
    if (pull_ingest_commit(pl, d, &ls.w, err) < 0)
        goto out;
    pull_event_push(pl, "layer", d->digest, BERTH_PULL_DONE, d->size, d->size);
    ret = 0;
out:
    pthread_mutex_lock(&pl->mu);
    l->downloading = false;
    pthread_mutex_unlock(&pl->mu);
    sink_unpipe(&ls);
    if (ls.w && ret < 0 && ((*err)->code == BERTH_E_FAILED_PRECONDITION || ls.off == 0)) {
        /* Bytes that are not the blob, or none: drop the ingest rather than resume it. */
        pull_ingest_drop(pl, d, &ls.w);
    }
    berth_meta_ingest_close(ls.w);
    pull_inflight_release(pl->p, bkey);
    if (xt_started) {
        extract_verdict(&x, ret == 0 ? 1 : -1);
        pthread_join(xt, NULL);
        if (ret == 0 && !x.err) {
            l->streaming = true;
            pull_event_push(pl, "layer", d->digest, BERTH_PULL_UNPACKED, d->size, d->size);
        }
        /* An extraction failure is not final: the coordinator applies from the blob. */
        berth_err_free(&x.err);
        pthread_cond_destroy(&x.cond);
        pthread_mutex_destroy(&x.mu);
    }
    berth_closep(&x.fd);
    if (own_chain)
        pull_inflight_release(pl->p, ckey);
    free(ls.pend);
    berth_err_free(&ls.err);
    return ret;
}

void *pull_worker_main(void *arg)
{
    struct pull *pl = arg;

    for (;;) {
        struct berth_err *e = NULL;
        struct layer *l = NULL;
        size_t i;

        pthread_mutex_lock(&pl->mu);
        while (pl->next_layer < pl->n_layers && !pl->layers[pl->next_layer].need_blob)
            pl->next_layer++;
        if (pl->err || pl->next_layer >= pl->n_layers) {
            pthread_mutex_unlock(&pl->mu);
            return NULL;
        }
        i = pl->next_layer++;
        l = &pl->layers[i];
        l->state = L_FETCHING;
        pthread_mutex_unlock(&pl->mu);
        if (layer_fetch(pl, i, l, &e) < 0) {
            pthread_mutex_lock(&pl->mu);
            l->state = L_FAILED;
            pull_fail_locked(pl, &e);
            pthread_mutex_unlock(&pl->mu);
            return NULL;
        }
        pthread_mutex_lock(&pl->mu);
        l->state = l->streaming ? L_APPLIED : L_STORED;
        pthread_cond_broadcast(&pl->cond);
        pthread_mutex_unlock(&pl->mu);
    }
}

/* Applies layer l from the stored blob unless its chain is committed (by another pull
 * meanwhile, for instance). Runs on the pull's thread. */
static int layer_apply(struct pull *pl, struct layer *l, struct berth_err **err)
{
    _cleanup_free_ char *ckey = chain_key(pl, l->chain);
    bool have = false;
    int ret = 0;

    for (;;) {
        bool own = pull_inflight_acquire(pl->p, ckey, true);
        if (berth_image_snapshot_committed(pl->p->st, pl->o->ns, pl->sn_name, l->chain, &have,
                                           err) < 0) {
            if (own)
                pull_inflight_release(pl->p, ckey);
            return -1;
        }
        if (have || !own) {
            if (own)
                pull_inflight_release(pl->p, ckey);
            if (have)
                return 0;
            continue;
        }
        break;
    }
    pull_event_push(pl, "layer", l->desc->d.digest, BERTH_PULL_UNPACKING, 0, l->desc->d.size);
    {
        _cleanup_close_ int fd = -1;
        int64_t size;
        ret = berth_content_blob_open(pl->p->st->content, l->desc->d.digest, &fd, &size, err);
        if (ret == 0)
            ret = berth_image_unpack_layer(pl->p->st, pl->sn, pl->o->ns, pl->lease, fd,
                                           l->desc->d.digest, l->diff_id, l->chain, l->parent, NULL,
                                           NULL, err);
    }
    pull_inflight_release(pl->p, ckey);
    if (ret == 0)
        pull_event_push(pl, "layer", l->desc->d.digest, BERTH_PULL_UNPACKED, l->desc->d.size,
                        l->desc->d.size);
    return ret;
}

/* Reports the bytes of the layers being downloaded. mu held. */
static void progress_tick_locked(struct pull *pl)
{
    for (size_t i = 0; i < pl->n_layers; i++) {
        struct layer *l = &pl->layers[i];
        if (l->downloading)
            pull_event_push_locked(pl, "layer", l->desc->d.digest, BERTH_PULL_DOWNLOADING,
                                   atomic_load(&l->offset), l->desc->d.size);
    }
}

/* The pull's thread while workers download: applies in order, reports progress, watches the
 * caller's cancel. */
int pull_coordinate(struct pull *pl, struct berth_err **err)
{
    int64_t next_tick = berth_mono_ns() + TICK_MS * 1000000LL;

    pthread_mutex_lock(&pl->mu);
    for (;;) {
        struct layer *l;
        pull_events_flush_locked(pl);
        if (pl->err)
            break;
        if (pull_canceled(pl)) {
            struct berth_err *e = NULL;
            berth_err_set(&e, BERTH_E_CANCELED, 0, "%s: pull canceled", pl->name);
            pull_fail_locked(pl, &e);
            break;
        }
        if (pl->applied_upto >= pl->n_layers)
            break;
        l = &pl->layers[pl->applied_upto];
        if (l->state == L_APPLIED || (l->state == L_STORED && pl->o->no_unpack) || !l->need_blob) {
            l->state = L_APPLIED;
            pl->applied_upto++;
            continue;
        }
        if (l->state == L_STORED) {
            struct berth_err *e = NULL;
            pthread_mutex_unlock(&pl->mu);
            if (layer_apply(pl, l, &e) < 0) {
                berth_err_wrap(&e, "%s: unpack layer %s", pl->name, l->desc->d.digest);
                pthread_mutex_lock(&pl->mu);
                pull_fail_locked(pl, &e);
                break;
            }
            pthread_mutex_lock(&pl->mu);
            l->state = L_APPLIED;
            pl->applied_upto++;
            continue;
        }
        if (berth_mono_ns() >= next_tick) {
            progress_tick_locked(pl);
            next_tick = berth_mono_ns() + TICK_MS * 1000000LL;
            continue;
        }
        {
            struct timespec ts = berth_timespec_in(CLOCK_REALTIME, TICK_MS);
            pthread_cond_timedwait(&pl->cond, &pl->mu, &ts);
        }
    }
    pull_events_flush_locked(pl);
    if (pl->err) {
        *err = steal_ptr(pl->err);
        pthread_mutex_unlock(&pl->mu);
        return -1;
    }
    pthread_mutex_unlock(&pl->mu);
    return 0;
}
