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

struct berth_services {
    struct berth_meta_db *db;                 /* borrowed */
    const char *root;                         /* borrowed */
    const char *state;                        /* borrowed */
    struct berth_events *events;              /* borrowed; NULL: nothing is published */
    struct berth_content_store *content;      /* borrowed; the blob store (<root>/content) */
    struct berth_snap_registry *snapshotters; /* borrowed; NULL: no snapshotter loaded */
    struct berth_rt *runtime;                 /* borrowed; NULL: Tasks answers UNAVAILABLE */
    struct berth_gc_scheduler *gc;            /* borrowed; NULL: no GC (sync deletes return) */
};

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

/* Every service berthd registers: the implemented ones and, so that clients get
 * "unknown method" rather than "unknown service", every other containerd service of the API
 * with no methods yet. *out is a static array. */
size_t berth_services_all(const struct berth_service *const **out);

/* Convenience for handlers. */
static inline struct berth_services *berth_svc_app(const struct berth_svc_ctx *ctx)
{
    return (struct berth_services *)ctx->app;
}

#endif
