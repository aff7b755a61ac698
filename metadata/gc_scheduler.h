/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The GC scheduler (containerd's gc/scheduler, plugin io.containerd.gc.v1.scheduler): one
 * thread that runs berth_meta_gc_run after a startup delay, after deletions and after enough
 * mutations (reported by the metadata writer's hook), and on explicit request (sync deletes,
 * the berth GC service), spacing passes so GC takes at most pause_threshold of wall time.
 * Logs one line per pass.
 */
#ifndef BERTH_METADATA_GC_SCHEDULER_H
#define BERTH_METADATA_GC_SCHEDULER_H

#include <stdint.h>

#include "metadata/gc.h"

/* Series the scheduler counts into (borrowed, each may be NULL; lib/metrics.h). The pause is
 * the time a pass holds others up: its group-commit write (sweep and commit: writers wait)
 * plus its backend cleanup (under the GC lock, exclusive). */
struct berth_gc_metrics {
    struct berth_counter *passes_ok, *passes_failed;
    struct berth_histogram *pause_seconds;
    /* records swept */
    struct berth_counter *leases, *snapshots, *content, *ingests;
    /* backend objects removed */
    struct berth_counter *blobs, *backend_ingests, *backend_snapshots;
};

struct berth_gc_sched_opts {
    double pause_threshold;     /* 0.02; fraction of wall time GC may take (0 < x <= 0.5) */
    int64_t deletion_threshold; /* 0: any deletion schedules a pass; n: n deletions force one */
    int64_t mutation_threshold; /* 100: this many mutations schedule a pass (0: never) */
    int64_t schedule_delay_ms;  /* 0: delay between scheduling and running a pass */
    int64_t startup_delay_ms;   /* 100: first pass after start-up */
    const struct berth_gc_metrics *metrics; /* NULL: none; borrowed, outlives the scheduler */
};
/* containerd's defaults. */
void berth_gc_sched_opts_default(struct berth_gc_sched_opts *o);

struct berth_gc_scheduler;

/* Installs the write hook on db and starts the thread. be is copied (its pointees borrowed
 * and must outlive the scheduler). *out owned by the caller: berth_gc_scheduler_stop.
 * INVALID_ARGUMENT for options out of range, INTERNAL if the thread cannot start. */
int berth_gc_scheduler_start(struct berth_meta_db *db, const struct berth_gc_backends *be,
                             const struct berth_gc_sched_opts *opts,
                             struct berth_gc_scheduler **out, struct berth_err **err);
/* Stops the thread (waiting for a running pass), removes the hook, frees s. NULL-safe. Call
 * it before closing db or the backends, after the server stopped. */
void berth_gc_scheduler_stop(struct berth_gc_scheduler *s);
/* Asks for a pass that starts after this call and waits for it. *stats (may be NULL) gets its
 * result. The pass's error, or UNAVAILABLE when the scheduler stops first. */
int berth_gc_scheduler_run(struct berth_gc_scheduler *s, struct berth_gc_stats *stats,
                           struct berth_err **err);

#endif
