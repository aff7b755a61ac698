/* SPDX-License-Identifier: Apache-2.0 */
/* The async driver (see async.h): gRPC core directly, every call one batch. */
#include "bench/metadata/async.h"

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <string.h>

#include "lib/util.h"

struct slot {
    grpc_call *call;
    grpc_byte_buffer *send, *recv;
    grpc_metadata_array init_md, trail_md;
    grpc_status_code status;
    grpc_slice details;
    int64_t t0;
};

struct driver {
    grpc_channel *ch;
    grpc_completion_queue *cq;
    grpc_slice method;
    grpc_metadata md;
    bench_async_req_fn make;
    void *arg;
    uint64_t seq;
};

static int slot_start(struct driver *d, struct slot *s)
{
    grpc_op ops[6];
    uint8_t *buf = NULL;
    size_t len = 0;
    grpc_slice body;

    memset(s, 0, sizeof(*s));
    d->make(d->seq++, d->arg, &buf, &len);
    body = grpc_slice_from_copied_buffer((const char *)buf, len);
    free(buf);
    s->send = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    grpc_metadata_array_init(&s->init_md);
    grpc_metadata_array_init(&s->trail_md);
    s->call = grpc_channel_create_call(d->ch, NULL, GRPC_PROPAGATE_DEFAULTS, d->cq, d->method, NULL,
                                       gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = 1;
    ops[0].data.send_initial_metadata.metadata = &d->md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &s->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &s->trail_md;
    ops[5].data.recv_status_on_client.status = &s->status;
    ops[5].data.recv_status_on_client.status_details = &s->details;
    s->t0 = berth_mono_ns();
    return grpc_call_start_batch(s->call, ops, 6, s, NULL) == GRPC_CALL_OK ? 0 : -1;
}

static bool slot_finish(struct slot *s)
{
    bool ok = s->status == GRPC_STATUS_OK && s->recv;

    if (s->recv)
        grpc_byte_buffer_destroy(s->recv);
    grpc_byte_buffer_destroy(s->send);
    grpc_metadata_array_destroy(&s->init_md);
    grpc_metadata_array_destroy(&s->trail_md);
    grpc_slice_unref(s->details);
    grpc_call_unref(s->call);
    return ok;
}

int bench_async_run(const char *target, const char *ns, const char *method, int inflight,
                    int64_t deadline_mono_ns, bench_async_req_fn make, void *arg,
                    struct bench_async_result *res, struct berth_err **err)
{
    grpc_arg a[1] = {
        {GRPC_ARG_INTEGER, (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = 16 << 20}}};
    grpc_channel_args args = {1, a};
    grpc_channel_credentials *creds;
    struct driver d = {.make = make, .arg = arg};
    struct slot *slots = berth_xcalloc((size_t)inflight, sizeof(*slots));
    size_t cap = 1 << 16;
    int outstanding = 0;

    memset(res, 0, sizeof(*res));
    res->lat_ns = berth_xmalloc(cap * sizeof(uint64_t));
    grpc_init();
    creds = grpc_insecure_credentials_create();
    d.ch = grpc_channel_create(target, creds, &args);
    grpc_channel_credentials_release(creds);
    d.cq = grpc_completion_queue_create_for_next(NULL);
    d.method = grpc_slice_from_copied_string(method);
    d.md.key = grpc_slice_from_static_string("containerd-namespace");
    d.md.value = grpc_slice_from_copied_string(ns);

    for (int i = 0; i < inflight; i++) {
        if (slot_start(&d, &slots[i]) < 0) {
            berth_err_set(err, BERTH_E_INTERNAL, 0, "start call");
            break;
        }
        outstanding++;
    }
    while (outstanding > 0) {
        grpc_event ev = grpc_completion_queue_next(
            d.cq,
            gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(5, GPR_TIMESPAN)),
            NULL);
        struct slot *s;
        int64_t now;

        if (ev.type == GRPC_QUEUE_TIMEOUT) {
            berth_err_set(err, BERTH_E_DEADLINE_EXCEEDED, 0, "no completion for 5 s");
            break;
        }
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        s = ev.tag;
        now = berth_mono_ns();
        if (slot_finish(s) && ev.success)
            res->ops++;
        else
            res->errors++;
        if (res->n_lat == cap) {
            cap *= 2;
            res->lat_ns = berth_xrealloc(res->lat_ns, cap * sizeof(uint64_t));
        }
        res->lat_ns[res->n_lat++] = (uint64_t)(now - s->t0);
        outstanding--;
        if (now < deadline_mono_ns) {
            if (slot_start(&d, s) == 0)
                outstanding++;
            else
                res->errors++;
        }
    }
    grpc_slice_unref(d.method);
    grpc_slice_unref(d.md.value);
    grpc_completion_queue_shutdown(d.cq);
    while (grpc_completion_queue_next(d.cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(d.cq);
    grpc_channel_destroy(d.ch);
    grpc_shutdown();
    free(slots);
    return *err ? -1 : 0;
}
