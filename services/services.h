/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The services berthd serves over gRPC, and the state they share (passed as ctx->app). Each
 * service lives in its own folder as a thin adapter: decode, validate, call the store, encode.
 */
#ifndef BERTH_SERVICES_SERVICES_H
#define BERTH_SERVICES_SERVICES_H

#include <stddef.h>
#include <stdint.h>

#include "content/store.h"
#include "metadata/db.h"
#include "runtime/v2/runtime.h"
#include "metadata/gc_scheduler.h"
#include "services/events/exchange.h"
#include "services/server/server.h"
#include "snapshots/snapshotter.h"

struct berth_cri;
struct berth_svc_metrics;

struct berth_services {
    struct berth_meta_db *db;                 /* borrowed */
    const char *root;                         /* borrowed */
    const char *state;                        /* borrowed */
    struct berth_events *events;              /* borrowed; NULL: nothing is published */
    struct berth_content_store *content;      /* borrowed; the blob store (<root>/content) */
    struct berth_snap_registry *snapshotters; /* borrowed; NULL: no snapshotter loaded */
    struct berth_rt *runtime;                 /* borrowed; NULL: Tasks answers UNAVAILABLE */
    struct berth_gc_scheduler *gc;            /* borrowed; NULL: no GC (sync deletes return) */
    struct berth_puller *puller;              /* borrowed; NULL: Transfer.Pull is UNAVAILABLE */
    struct berth_cri *cri;                    /* borrowed; NULL: the CRI answers UNAVAILABLE */
    struct berth_svc_metrics *metrics;        /* borrowed; NULL: no metrics ([metrics] off) */
    bool stopping; /* set (atomically) when berthd starts to stop: Health answers NOT_SERVING */
};

static inline bool berth_services_stopping(const struct berth_services *app)
{
    return app && __atomic_load_n(&app->stopping, __ATOMIC_ACQUIRE);
}

extern const struct berth_service berth_svc_version;
extern const struct berth_service berth_svc_namespaces;
extern const struct berth_service berth_svc_containers;
extern const struct berth_service berth_svc_introspection;
extern const struct berth_service berth_svc_leases;
extern const struct berth_service berth_svc_events;
extern const struct berth_service berth_svc_images;
extern const struct berth_service berth_svc_diff;
extern const struct berth_service berth_svc_snapshots;
extern const struct berth_service berth_svc_content;
extern const struct berth_service berth_svc_transfer; /* berth.services.images.v1 */
extern const struct berth_service berth_svc_tasks;
extern const struct berth_service berth_svc_gc;
extern const struct berth_service berth_svc_fsck;        /* berth.services.fsck.v1, berth's own */
extern const struct berth_service berth_svc_cri_runtime; /* runtime.v1.RuntimeService */
extern const struct berth_service berth_svc_cri_image;   /* runtime.v1.ImageService */
extern const struct berth_service berth_svc_health;      /* grpc.health.v1.Health */

/* Every service berthd registers: the implemented ones and, so that clients get
 * "unknown method" rather than "unknown service", every other containerd service of the API
 * with no methods yet. *out is a static array. */
size_t berth_services_all(const struct berth_service *const **out);

/* ---- listings with a filter (services/listing.c) ----
 * A `~=` filter may cost tens of ms per record, so a listing can outlive its call; methods
 * that match a client's filter are therefore never .nonblocking. Set the watch before listing
 * and check after it:
 *     berth_svc_filter_watch(f, ctx);
 *     ... list, matching with f ...
 *     if (berth_svc_filter_check(f, ctx, "containers", err) < 0) return -1; */
struct berth_filter;
/* From now on the end of ctx's call as berth_svc_ctx_done sees it (the deadline passed; the
 * client went away or the server cancelled the call, which the transport reports for streams)
 * stops matching with f (berth_filter_set_stop). ctx is borrowed and must outlive every later
 * match with f. f == NULL (no filtering at all, which costs nothing) is a no-op. */
void berth_svc_filter_watch(struct berth_filter *f, const struct berth_svc_ctx *ctx);
/* 0 unless f was stopped by its watch; then -1 with DEADLINE_EXCEEDED ("deadline exceeded
 * while listing <what>") when ctx's deadline has passed, else CANCELED ("call cancelled while
 * listing <what>"). The partial result must then be dropped. NULL-safe (0). */
int berth_svc_filter_check(const struct berth_filter *f, const struct berth_svc_ctx *ctx,
                           const char *what, struct berth_err **err);

/* Convenience for handlers. */
static inline struct berth_services *berth_svc_app(const struct berth_svc_ctx *ctx)
{
    return (struct berth_services *)ctx->app;
}

#endif
