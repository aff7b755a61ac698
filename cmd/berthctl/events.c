/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berthctl events [FILTER...]: Events/Subscribe, printed like `ctr events` (one line per
 * event: time, namespace, topic, payload as JSON) or, with --format json, one JSON object per
 * line. Runs until interrupted or until the server ends the stream.
 */
#include "cmd/berthctl/berthctl-internal.h"

#include <getopt.h>

#include "api/registry.h"
#include "api/services/events/v1/events.pb-c.h"

static int print_event(const ProtobufCMessage *msg, void *arg)
{
    struct berthctl *ctl = arg;
    const Containerd__Types__Envelope *env = (const void *)msg;
    struct berthctl_json j;
    char when[64] = "";

    if (env->timestamp)
        berthctl_time_format(env->timestamp->seconds, env->timestamp->nanos, when, sizeof(when));
    if (ctl->format == BERTHCTL_FORMAT_JSON) {
        berthctl_json_init(&j, ctl->out);
        berthctl_json_compact(&j);
        berthctl_json_obj_begin(&j);
        berthctl_json_key(&j, "timestamp");
        berthctl_json_str(&j, when);
        berthctl_json_key(&j, "namespace");
        berthctl_json_str(&j, env->namespace_);
        berthctl_json_key(&j, "topic");
        berthctl_json_str(&j, env->topic);
        if (env->event) {
            berthctl_json_key(&j, "event");
            berthctl_json_pb(&j, &env->event->base);
        }
        berthctl_json_obj_end(&j);
        berthctl_json_end(&j);
    } else {
        fprintf(ctl->out, "%s %s %s ", when, env->namespace_, env->topic);
        berthctl_json_init(&j, ctl->out);
        berthctl_json_compact(&j);
        if (env->event)
            berthctl_json_pb(&j, &env->event->base);
        else
            berthctl_json_null(&j);
        berthctl_json_end(&j);
    }
    fflush(ctl->out);
    return 0;
}

static int events_run(struct berthctl *ctl, int argc, char **argv, struct berth_err **err)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    Containerd__Services__Events__V1__SubscribeRequest req =
        CONTAINERD__SERVICES__EVENTS__V1__SUBSCRIBE_REQUEST__INIT;
    int c;

    berthctl_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        if (c == 'h')
            return berthctl_usage(ctl, err, "help requested");
        return berthctl_bad_option(ctl, c, argv, err);
    }
    req.n_filters = (size_t)(argc - optind);
    req.filters = argv + optind;
    /* A subscription lives as long as the user wants: no deadline. */
    berth_client_set_timeout(ctl->client, 0);
    return berth_client_server_stream(
        ctl->client, "/containerd.services.events.v1.Events/Subscribe", &req.base,
        &containerd__types__envelope__descriptor, print_event, ctl, err);
}

const struct berthctl_noun berthctl_events_noun = {
    "events",
    NULL,
    "stream events (like ctr events)",
    "usage: berthctl events [FILTER...]\n"
    "  filters: topic==/containers/create, namespace==default, event.id==c1, topic~=^/tasks/\n",
    events_run,
};
