/* SPDX-License-Identifier: Apache-2.0 */
/* The GC scheduler thread (see gc_scheduler.h). */
#define BERTH_LOG_SUBSYS "gc"

#include "metadata/gc_scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"

#define MS 1000000LL

struct berth_gc_scheduler {
    struct berth_meta_db *db; /* borrowed */
    struct berth_gc_backends be;
    struct berth_gc_sched_opts opts;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the thread waits for work or its deadline (CLOCK_MONOTONIC) */
    pthread_cond_t done_cv; /* berth_gc_scheduler_run waits for its pass */
    bool stopping;

    uint64_t mutations, deletions; /* since the last pass started */
    bool scheduled;
    int64_t next_mono;     /* when the scheduled pass runs */
    uint64_t req_seq;      /* explicit requests so far */
    uint64_t done_seq;     /* requests the last finished pass answered */
    int64_t last_end_mono; /* when the last pass ended */
    int64_t avg_ns;        /* moving average of pass durations */
    uint64_t passes;
    struct berth_gc_stats last_stats;
    struct berth_err *last_err;
};

void berth_gc_sched_opts_default(struct berth_gc_sched_opts *o)
{
    o->pause_threshold = 0.02;
    o->metrics = NULL;
    o->deletion_threshold = 0;
    o->mutation_threshold = 100;
    o->schedule_delay_ms = 0;
    o->startup_delay_ms = 100;
}

/* The gap after a pass that keeps GC at pause_threshold of wall time (containerd:
 * avg/threshold - avg). */
static int64_t min_gap(const struct berth_gc_scheduler *s)
{
    return (int64_t)((double)s->avg_ns / s->opts.pause_threshold) - s->avg_ns;
}

/* Called with mu held after new writes were counted. */
static void maybe_schedule(struct berth_gc_scheduler *s)
{
    int64_t now = berth_mono_ns(), at = now + s->opts.schedule_delay_ms * MS;
    bool want;

    if (s->opts.deletion_threshold > 0 && s->deletions >= (uint64_t)s->opts.deletion_threshold) {
        /* Enough deletions: run soon even if a later pass is already scheduled. */
        if (!s->scheduled || at < s->next_mono) {
            s->scheduled = true;
            s->next_mono = at;
            pthread_cond_signal(&s->cv);
        }
        return;
    }
    if (s->scheduled)
        return;
    want = (s->opts.deletion_threshold == 0 && s->deletions > 0) ||
           (s->opts.mutation_threshold > 0 && s->mutations >= (uint64_t)s->opts.mutation_threshold);
    if (!want)
        return;
    if (s->passes && at < s->last_end_mono + min_gap(s))
        at = s->last_end_mono + min_gap(s);
    s->scheduled = true;
    s->next_mono = at;
    pthread_cond_signal(&s->cv);
}

/* The metadata writer's hook: cheap, never blocks on anything but mu. */
static void write_hook_cb(void *arg, size_t mutations, size_t dirty)
{
    struct berth_gc_scheduler *s = arg;

    pthread_mutex_lock(&s->mu);
    s->mutations += mutations;
    s->deletions += dirty;
    maybe_schedule(s);
    pthread_mutex_unlock(&s->mu);
}

static void log_pass(const struct berth_gc_stats *st, const struct berth_err *e)
{
    char corrupt[256] = "";

    /* Still one line per pass: records that cannot be decoded ride along with it. */
    if (st->corrupt || st->corrupt_backend) {
        char ns[32] = "all";
        if (st->unswept_namespaces != SIZE_MAX)
            snprintf(ns, sizeof(ns), "%zu", st->unswept_namespaces);
        snprintf(corrupt, sizeof(corrupt),
                 "; left in place: %zu record(s) that cannot be decoded (e.g. \"%.100s\"), "
                 "%s namespace(s) unswept for them, %zu snapshotter record(s)",
                 st->corrupt, st->first_corrupt, ns, st->corrupt_backend);
    }
    if (e) {
        log_error("pass failed after %.3f ms: %s%s", (double)st->total_ns / MS, e->msg, corrupt);
        return;
    }
    berth_log_write(*corrupt ? BERTH_LOG_WARN : BERTH_LOG_INFO, BERTH_LOG_SUBSYS, 0,
                    "pass removed %zu leases, %zu snapshots, %zu content, %zu ingests; backends: "
                    "%zu blobs, %zu ingests, %zu snapshots; write txn %.3f ms (sweep %.3f ms%s), "
                    "mark %.3f ms, cleanup %.3f ms, total %.3f ms%s",
                    st->leases, st->snapshots, st->content, st->ingests, st->blobs,
                    st->backend_ingests, st->backend_snapshots, (double)st->write_ns / MS,
                    (double)st->sweep_ns / MS, st->remarked ? ", remarked" : "",
                    (double)st->mark_ns / MS, (double)st->cleanup_ns / MS,
                    (double)st->total_ns / MS, corrupt);
}

static void count_pass(const struct berth_gc_metrics *m, const struct berth_gc_stats *st,
                       const struct berth_err *e)
{
    if (!m)
        return;
    berth_counter_inc(e ? m->passes_failed : m->passes_ok);
    berth_histogram_observe(m->pause_seconds, (double)(st->write_ns + st->cleanup_ns) / 1e9);
    berth_counter_add(m->leases, st->leases);
    berth_counter_add(m->snapshots, st->snapshots);
    berth_counter_add(m->content, st->content);
    berth_counter_add(m->ingests, st->ingests);
    berth_counter_add(m->blobs, st->blobs);
    berth_counter_add(m->backend_ingests, st->backend_ingests);
    berth_counter_add(m->backend_snapshots, st->backend_snapshots);
}

static void timespec_at(struct timespec *ts, int64_t mono_ns)
{
    ts->tv_sec = mono_ns / 1000000000LL;
    ts->tv_nsec = mono_ns % 1000000000LL;
}

static void *sched_main(void *arg)
{
    struct berth_gc_scheduler *s = arg;

    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        struct berth_gc_stats st;
        struct berth_err *e = NULL;
        uint64_t answering;
        int64_t now = berth_mono_ns();

        if (s->req_seq == s->done_seq && !(s->scheduled && now >= s->next_mono)) {
            if (s->scheduled) {
                struct timespec ts;
                timespec_at(&ts, s->next_mono);
                pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            } else {
                pthread_cond_wait(&s->cv, &s->mu);
            }
            continue;
        }
        answering = s->req_seq;
        s->scheduled = false;
        s->mutations = s->deletions = 0;
        pthread_mutex_unlock(&s->mu);

        (void)berth_meta_gc_run(s->db, &s->be, berth_now_ns(), &st, &e);
        log_pass(&st, e);
        count_pass(s->opts.metrics, &st, e);

        pthread_mutex_lock(&s->mu);
        s->avg_ns = s->passes ? (s->avg_ns * 3 + st.total_ns) / 4 : st.total_ns;
        s->passes++;
        s->last_end_mono = berth_mono_ns();
        s->done_seq = answering;
        s->last_stats = st;
        berth_err_free(&s->last_err);
        s->last_err = e;
        pthread_cond_broadcast(&s->done_cv);
        maybe_schedule(s); /* writes that came in during the pass */
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int berth_gc_scheduler_start(struct berth_meta_db *db, const struct berth_gc_backends *be,
                             const struct berth_gc_sched_opts *opts,
                             struct berth_gc_scheduler **out, struct berth_err **err)
{
    struct berth_gc_scheduler *s;
    pthread_condattr_t ca;
    int rc;

    *out = NULL;
    if (!(opts->pause_threshold > 0 && opts->pause_threshold <= 0.5))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "gc pause_threshold %g is outside (0, 0.5]", opts->pause_threshold);
    if (opts->deletion_threshold < 0 || opts->mutation_threshold < 0 ||
        opts->schedule_delay_ms < 0 || opts->startup_delay_ms < 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "gc thresholds and delays must not be negative");
    s = berth_xcalloc(1, sizeof(*s));
    s->db = db;
    if (be)
        s->be = *be;
    s->opts = *opts;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&s->done_cv, NULL);
    s->scheduled = true; /* the start-up pass */
    s->next_mono = berth_mono_ns() + opts->startup_delay_ms * MS;
    berth_meta_db_set_write_hook(db, write_hook_cb, s);
    rc = pthread_create(&s->thread, NULL, sched_main, s);
    if (rc) {
        berth_meta_db_set_write_hook(db, NULL, NULL);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        pthread_cond_destroy(&s->done_cv);
        free(s);
        return berth_err_set(err, BERTH_E_INTERNAL, rc, "start gc scheduler");
    }
    *out = s;
    return 0;
}

void berth_gc_scheduler_stop(struct berth_gc_scheduler *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    berth_meta_db_set_write_hook(s->db, NULL, NULL);
    berth_err_free(&s->last_err);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->done_cv);
    free(s);
}

int berth_gc_scheduler_run(struct berth_gc_scheduler *s, struct berth_gc_stats *stats,
                           struct berth_err **err)
{
    uint64_t want;
    int ret = 0;

    pthread_mutex_lock(&s->mu);
    want = ++s->req_seq;
    pthread_cond_signal(&s->cv);
    while (s->done_seq < want && !s->stopping)
        pthread_cond_wait(&s->done_cv, &s->mu);
    if (s->done_seq < want) {
        ret = berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "gc scheduler is stopping");
    } else {
        if (stats)
            *stats = s->last_stats;
        if (s->last_err) {
            if (err)
                *err = berth_err_dup(s->last_err);
            ret = -1;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return ret;
}
