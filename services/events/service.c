/* SPDX-License-Identifier: Apache-2.0 */
/* Events service: Publish and Forward into the exchange, Subscribe streams envelopes out of it
 * (every namespace unless the filters say otherwise, as containerd does). */
#include <string.h>

#include "api/services/events/v1/events.pb-c.h"
#include "api/timestamp.h"
#include "google/protobuf/empty.pb-c.h"
#include "lib/ident.h"
#include "services/services.h"

DEFINE_CLEANUP(struct berth_events_sub *, berth_events_unsubscribe)

/* How often a quiet stream checks whether its client is still there. */
#define POLL_MS 250

static int reply_empty(struct berth_bytes *out)
{
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    berth_svc_pack(out, &empty.base);
    return 0;
}

static int events_publish(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                          struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Events__V1__PublishRequest *req = (const void *)in;
    Containerd__Types__Envelope env = CONTAINERD__TYPES__ENVELOPE__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    int64_t now = berth_now_ns();

    if (berth_events_validate_topic(req->topic, err) < 0)
        return -1;
    if (!req->event)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "event must be set");
    env.timestamp = berth_pb_ts_set(&ts, now);
    env.namespace_ = (char *)ctx->ns;
    env.topic = req->topic;
    env.event = req->event;
    berth_events_forward(berth_svc_app(ctx)->events, &env);
    return reply_empty(out);
}

static int events_forward(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                          struct berth_bytes *out, struct berth_err **err)
{
    const Containerd__Services__Events__V1__ForwardRequest *req = (const void *)in;
    const Containerd__Types__Envelope *env = req->envelope;

    if (!env)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "envelope must be set");
    if (berth_ident_validate(env->namespace_, err) < 0)
        return berth_err_wrap(err, "envelope namespace");
    if (berth_events_validate_topic(env->topic, err) < 0)
        return -1;
    if (!env->timestamp || (env->timestamp->seconds == 0 && env->timestamp->nanos == 0))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "envelope timestamp must be set");
    if (!env->event)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "envelope event must be set");
    berth_events_forward(berth_svc_app(ctx)->events, env);
    return reply_empty(out);
}

static int events_subscribe(struct berth_svc_ctx *ctx, const ProtobufCMessage *in,
                            struct berth_stream *st, struct berth_err **err)
{
    const Containerd__Services__Events__V1__SubscribeRequest *req = (const void *)in;
    _cleanup_(berth_filter_freep) struct berth_filter *f = NULL;
    _cleanup_(berth_events_unsubscribep) struct berth_events_sub *sub = NULL;
    struct berth_events *ex = berth_svc_app(ctx)->events;

    if (!ex)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "events are not enabled");
    if (berth_filter_parse((const char *const *)req->filters, req->n_filters, &f, err) < 0)
        return -1;
    /* A costly filter over a big payload stops when the client goes away. */
    berth_svc_filter_watch(f, ctx);
    if (berth_events_subscribe(ex, f, 0, &sub, err) < 0)
        return -1;
    f = NULL; /* owned by the subscription now */
    for (;;) {
        struct berth_bytes env = {0};
        int r = berth_events_sub_next(sub, POLL_MS, &env, err);
        if (r < 0)
            return -1;
        if (r == 0) {
            if (berth_svc_ctx_done(ctx))
                return 0;
            continue;
        }
        r = berth_stream_send_bytes(st, env.data, env.len, err);
        berth_bytes_clear(&env);
        if (r < 0)
            return -1;
    }
}

static const struct berth_method methods[] = {
    {"Publish", BERTH_UNARY, BERTH_NS_REQUIRED, .unary = events_publish},
    {"Forward", BERTH_UNARY, BERTH_NS_OPTIONAL, .unary = events_forward},
    {"Subscribe", BERTH_SERVER_STREAM, BERTH_NS_OPTIONAL, .server_stream = events_subscribe},
};

const struct berth_service berth_svc_events = {
    &containerd__services__events__v1__events__descriptor, methods, BERTH_N(methods)};
