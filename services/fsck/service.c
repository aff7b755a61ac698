/* SPDX-License-Identifier: Apache-2.0 */
/* Fsck service (berth.services.fsck.v1, berth's own): Check runs the checker (fsck/fsck.h) on
 * the stores berthd has open, while it serves; the checker takes the GC lock itself. Global,
 * so the namespace header is optional. */
#include "api/berth/services/fsck/v1/fsck.pb-c.h"
#include "fsck/fsck.h"
#include "services/services.h"

static int fsck_check(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                      struct berth_bytes *out, struct berth_err **err)
{
    static const char *const names[] = {"overlayfs", "native"};
    const Berth__Services__Fsck__V1__CheckRequest *req = (const void *)in;
    Berth__Services__Fsck__V1__CheckResponse resp = BERTH__SERVICES__FSCK__V1__CHECK_RESPONSE__INIT;
    struct berth_services *app = berth_svc_app(ctx);
    struct berth_snapshotter *snaps[BERTH_N(names)];
    struct berth_fsck_stores s = {.db = app->db,
                                  .content = app->content,
                                  .snapshotters = snaps,
                                  .root = app->root,
                                  .state = app->state,
                                  .runtime = app->runtime,
                                  .live = true};
    struct berth_fsck_opts o = {.verify = req->verify, .repair = req->repair};
    struct berth_fsck_report r;

    if (!app->db)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "no metadata store");
    for (size_t i = 0; i < BERTH_N(names) && app->snapshotters; i++) {
        _cleanup_err_ struct berth_err *e = NULL;
        if (berth_snap_registry_get(app->snapshotters, names[i], &snaps[s.n_snapshotters], &e) == 0)
            s.n_snapshotters++;
    }
    if (berth_fsck_run(&s, &o, &r, err) < 0)
        return berth_err_wrap(err, "fsck");
    berth_fsck_report_to_pb(&r, &resp);
    berth_svc_pack(out, &resp.base);
    berth_fsck_pb_clear(&resp);
    berth_fsck_report_clear(&r);
    return 0;
}

static const struct berth_method methods[] = {
    {"Check", BERTH_UNARY, BERTH_NS_OPTIONAL, .unary = fsck_check},
};

const struct berth_service berth_svc_fsck = {&berth__services__fsck__v1__fsck__descriptor, methods,
                                             BERTH_N(methods)};
