/* SPDX-License-Identifier: Apache-2.0 */
/* GC service (berth.services.gc.v1, berth's own): Run asks the scheduler (metadata/
 * gc_scheduler.h) for a pass, waits for it and returns its counts and timings. GC is global,
 * so the namespace header is optional. UNAVAILABLE when berthd runs without a scheduler. */
#include "api/berth/services/gc/v1/gc.pb-c.h"
#include "services/services.h"

static int gc_run(struct berth_svc_ctx *ctx, const ProtobufCMessage *in, struct berth_bytes *out,
                  struct berth_err **err)
{
    Berth__Services__Gc__V1__RunResponse resp = BERTH__SERVICES__GC__V1__RUN_RESPONSE__INIT;
    struct berth_gc_scheduler *gc = berth_svc_app(ctx)->gc;
    struct berth_gc_stats st;

    (void)in;
    if (!gc)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "garbage collection is not running");
    if (berth_gc_scheduler_run(gc, &st, err) < 0)
        return -1;
    resp.leases = st.leases;
    resp.snapshots = st.snapshots;
    resp.content = st.content;
    resp.ingests = st.ingests;
    resp.blobs = st.blobs;
    resp.backend_ingests = st.backend_ingests;
    resp.backend_snapshots = st.backend_snapshots;
    resp.write_ns = st.write_ns;
    resp.sweep_ns = st.sweep_ns;
    resp.mark_ns = st.mark_ns;
    resp.cleanup_ns = st.cleanup_ns;
    resp.total_ns = st.total_ns;
    resp.remarked = st.remarked;
    berth_svc_pack(out, &resp.base);
    return 0;
}

static const struct berth_method methods[] = {
    {"Run", BERTH_UNARY, BERTH_NS_OPTIONAL, .unary = gc_run},
};

const struct berth_service berth_svc_gc = {&berth__services__gc__v1__gc__descriptor, methods,
                                           BERTH_N(methods)};
