/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl gc: runs a garbage-collection pass now (berth.services.gc.v1.GC/Run, berth's own
 * RPC) and prints what it removed and how long it held the metadata writer.
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <inttypes.h>

#include "api/berth/services/gc/v1/gc.pb-c.h"

typedef Berth__Services__Gc__V1__RunResponse run_resp_t;

static double ms(int64_t ns)
{
    return (double)ns / 1e6;
}

static int gc_run(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    Berth__Services__Gc__V1__RunRequest req = BERTH__SERVICES__GC__V1__RUN_REQUEST__INIT;
    _cleanup_(berthctl_pb_freep) ProtobufCMessage *m = NULL;
    const run_resp_t *r;

    if (argc > 1)
        return berthctl_usage(ctl, err, "gc: unexpected argument \"%s\"", argv[1]);
    if (berth_client_unary(ctl->client, "/berth.services.gc.v1.GC/Run", &req.base,
                           &berth__services__gc__v1__run_response__descriptor, &m, err) < 0)
        return berth_err_wrap(err, "gc");
    r = (const run_resp_t *)m;
    if (ctl->format == BERTHCTL_FORMAT_JSON) {
        struct berthctl_json j;
        berthctl_json_init(&j, ctl->out);
        berthctl_json_pb(&j, m);
        berthctl_json_end(&j);
        return 0;
    }
    fprintf(ctl->out,
            "removed records: %" PRIu64 " leases, %" PRIu64 " snapshots, %" PRIu64
            " content, %" PRIu64 " ingests\n",
            r->leases, r->snapshots, r->content, r->ingests);
    fprintf(ctl->out,
            "removed from backends: %" PRIu64 " blobs, %" PRIu64 " ingests, %" PRIu64
            " snapshots\n",
            r->blobs, r->backend_ingests, r->backend_snapshots);
    fprintf(ctl->out,
            "held the metadata writer %.3f ms (sweep %.3f ms%s); mark %.3f ms, backend cleanup "
            "%.3f ms, total %.3f ms\n",
            ms(r->write_ns), ms(r->sweep_ns), r->remarked ? ", marked again" : "", ms(r->mark_ns),
            ms(r->cleanup_ns), ms(r->total_ns));
    return 0;
}

const struct berthctl_noun berthctl_gc_noun = {
    .name = "gc",
    .alias = NULL,
    .summary = "run a garbage-collection pass now",
    .usage = "usage: berthctl [global options] gc\n"
             "\n"
             "Runs a GC pass (GC is global: the namespace does not matter) and prints the\n"
             "records and backend objects it removed and how long it held the metadata writer.\n",
    .run = gc_run,
};
