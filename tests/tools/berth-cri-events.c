/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berth-cri-events: subscribes to runtime.v1 RuntimeService/GetContainerEvents (what kubelet's
 * evented PLEG does; crictl 1.26 has no command for it) and prints one line per event:
 *
 *   <TYPE> <container id> <container state or -> <pod sandbox state or ->
 *
 *   berth-cri-events -a SOCK [-n COUNT] [--timeout MS]
 *
 * Prints "ready" once the call is issued, exits 0 after COUNT events (default 1), 1 on an error
 * or when the timeout (default 10000 ms) ends the stream first.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/cri/runtime/v1/api.pb-c.h"
#include "client/client.h"

struct seen {
    long want, got;
};

static const char *event_name(Runtime__V1__ContainerEventType t)
{
    static const char *const names[] = {"CREATED", "STARTED", "STOPPED", "DELETED"};
    return (unsigned)t < 4 ? names[t] : "?";
}

static int on_event(const ProtobufCMessage *msg, void *arg)
{
    const Runtime__V1__ContainerEventResponse *ev = (const void *)msg;
    struct seen *s = arg;
    const char *cs = "-", *ps = "-";

    if (ev->n_containers_statuses)
        cs = protobuf_c_enum_descriptor_get_value(&runtime__v1__container_state__descriptor,
                                                  (int)ev->containers_statuses[0]->state)
                 ->name;
    if (ev->pod_sandbox_status)
        ps = protobuf_c_enum_descriptor_get_value(&runtime__v1__pod_sandbox_state__descriptor,
                                                  (int)ev->pod_sandbox_status->state)
                 ->name;
    printf("%s %s %s %s\n", event_name(ev->container_event_type), ev->container_id, cs, ps);
    fflush(stdout);
    return ++s->got >= s->want;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"address", required_argument, NULL, 'a'},
        {"count", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    Runtime__V1__GetEventsRequest req = RUNTIME__V1__GET_EVENTS_REQUEST__INIT;
    struct berth_client *c = NULL;
    struct berth_err *err = NULL;
    struct seen s = {.want = 1};
    const char *address = NULL;
    long timeout_ms = 10000;
    int o, ret;

    while ((o = getopt_long(argc, argv, "a:n:t:", opts, NULL)) != -1) {
        if (o == 'a')
            address = optarg;
        else if (o == 'n')
            s.want = strtol(optarg, NULL, 10);
        else if (o == 't')
            timeout_ms = strtol(optarg, NULL, 10);
        else
            return 2;
    }
    if (!address || s.want < 1) {
        fprintf(stderr, "usage: berth-cri-events -a SOCK [-n COUNT] [--timeout MS]\n");
        return 2;
    }
    if (berth_client_open(address, NULL, timeout_ms, &c, &err) < 0) {
        fprintf(stderr, "berth-cri-events: %s\n", err->msg);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    ret = berth_client_server_stream(c, "/runtime.v1.RuntimeService/GetContainerEvents", &req.base,
                                     &runtime__v1__container_event_response__descriptor, on_event,
                                     &s, &err);
    if (ret < 0)
        fprintf(stderr, "berth-cri-events: %s\n", err->msg);
    berth_err_free(&err);
    berth_client_close(c);
    return ret == 0 && s.got >= s.want ? 0 : 1;
}
