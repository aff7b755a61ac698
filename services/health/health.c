/* SPDX-License-Identifier: Apache-2.0 */
/*
 * grpc.health.v1.Health, as containerd serves it: the server ("" or any service berthd
 * registers) is SERVING while berthd serves and NOT_SERVING once it stops. dockerd's containerd
 * client polls Check every 100 ms after its event stream broke and subscribes again only once
 * it answers SERVING, so without this service dockerd never learned of an exit after berthd
 * restarted.
 */
#include <poll.h>
#include <string.h>

#include "api/grpc/health/v1/health.pb-c.h"
#include "services/services.h"

#define WATCH_POLL_MS 200

/* SERVING, NOT_SERVING, or -1 for a service berthd does not know. */
static int status_of(const struct berth_svc_ctx *ctx, const char *service)
{
    const struct berth_service *const *all;
    size_t n = berth_services_all(&all);
    bool known = !service || !*service;

    for (size_t i = 0; i < n && !known; i++)
        if (!strcmp(all[i]->desc->name, service))
            known = true;
    if (!known)
        return -1;
    return berth_services_stopping(berth_svc_app(ctx))
               ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
               : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
}

static int health_check(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_bytes *out, struct berth_err **err)
{
    const Grpc__Health__V1__HealthCheckRequest *req = (const void *)in;
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    int st = status_of(ctx, req->service);

    if (st < 0)
        return berth_err_set(err, BERTH_E_NOT_FOUND, 0, "unknown service \"%s\"", req->service);
    resp.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)st;
    berth_svc_pack(out, &resp.base);
    return 0;
}

/* The status now, then each change (berthd stopping), until the client leaves. */
static int health_watch(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                        struct berth_stream *stream, struct berth_err **err)
{
    const Grpc__Health__V1__HealthCheckRequest *req = (const void *)in;
    int sent = -2;

    for (;;) {
        Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
        int st = status_of(ctx, req->service);
        if (st < 0)
            st = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
        if (st != sent) {
            resp.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)st;
            if (berth_stream_send(stream, &resp.base, err) < 0)
                return -1;
            sent = st;
        }
        if (berth_svc_ctx_done(ctx) ||
            (st == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING &&
             berth_services_stopping(berth_svc_app(ctx))))
            return 0;
        (void)poll(NULL, 0, WATCH_POLL_MS);
    }
}

static const struct berth_method methods[] = {
    {"Check", BERTH_UNARY, BERTH_NS_OPTIONAL, .nonblocking = true, .unary = health_check},
    {"Watch", BERTH_SERVER_STREAM, BERTH_NS_OPTIONAL, .server_stream = health_watch},
};

const struct berth_service berth_svc_health = {&grpc__health__v1__health__descriptor, methods,
                                               BERTH_N(methods)};
