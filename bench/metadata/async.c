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
    int client, kind;
    bool busy; /* a call is out */
    grpc_call *call;
    grpc_byte_buffer *send, *recv;
    grpc_metadata_array init_md, trail_md;
    grpc_status_code status;
    grpc_slice details;
    int64_t t0;
};

struct driver {
    const struct bench_async_opts *o;
    grpc_channel **ch; /* one per client, or a single shared one */
    size_t n_ch;
    grpc_completion_queue *cq;
    grpc_metadata md;
    bench_async_next_fn next;
    bench_async_done_fn done;
    void *arg;
};

static int slot_start(struct driver *d, struct slot *s)
{
    struct bench_async_call c = {0};
    grpc_op ops[6];
    grpc_slice body, method;
    gpr_timespec deadline = gpr_inf_future(GPR_CLOCK_REALTIME);
    int client = s->client;

    memset(s, 0, sizeof(*s));
    s->client = client;
    d->next(client, d->arg, &c);
    s->kind = c.kind;
    body = grpc_slice_from_copied_buffer((const char *)c.body, c.len);
    free(c.body);
    s->send = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    grpc_metadata_array_init(&s->init_md);
    grpc_metadata_array_init(&s->trail_md);
    if (d->o->call_timeout_ms > 0)
        deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                gpr_time_from_millis(d->o->call_timeout_ms, GPR_TIMESPAN));
    method = grpc_slice_from_static_string(c.method);
    s->call =
        grpc_channel_create_call(d->ch[d->n_ch > 1 ? (size_t)client : 0], NULL,
                                 GRPC_PROPAGATE_DEFAULTS, d->cq, method, NULL, deadline, NULL);
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = d->o->ns ? 1 : 0;
    ops[0].data.send_initial_metadata.metadata = d->o->ns ? &d->md : NULL;
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
    if (grpc_call_start_batch(s->call, ops, 6, s, NULL) == GRPC_CALL_OK) {
        s->busy = true;
        return 0;
    }
    grpc_call_unref(s->call);
    grpc_byte_buffer_destroy(s->send);
    grpc_metadata_array_destroy(&s->init_md);
    grpc_metadata_array_destroy(&s->trail_md);
    return -1;
}

/* The call's gRPC status; an OK call without a response message counts as a local failure. */
static int slot_finish(struct slot *s, bool success)
{
    int status = success ? (int)s->status : -1;

    s->busy = false;
    if (status == GRPC_STATUS_OK && !s->recv)
        status = -1;
    if (s->recv)
        grpc_byte_buffer_destroy(s->recv);
    grpc_byte_buffer_destroy(s->send);
    grpc_metadata_array_destroy(&s->init_md);
    grpc_metadata_array_destroy(&s->trail_md);
    grpc_slice_unref(s->details);
    grpc_call_unref(s->call);
    return status;
}

static grpc_channel *channel_new(const char *target, bool own_connection)
{
    /* A local subchannel pool gives the channel a connection of its own: gRPC core otherwise
     * shares one subchannel (one connection) among channels with the same target and args. */
    grpc_arg a[2] = {
        {GRPC_ARG_INTEGER, (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = 16 << 20}},
        {GRPC_ARG_INTEGER, (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, {.integer = 1}},
    };
    grpc_channel_args args = {own_connection ? 2 : 1, a};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, &args);

    grpc_channel_credentials_release(creds);
    return ch;
}

int bench_async_drive(const struct bench_async_opts *o, bench_async_next_fn next,
                      bench_async_done_fn done, void *arg, struct berth_err **err)
{
    struct driver d = {.o = o, .next = next, .done = done, .arg = arg};
    struct slot *slots = berth_xcalloc((size_t)o->clients, sizeof(*slots));
    int outstanding = 0;

    grpc_init();
    d.n_ch = o->own_connections ? (size_t)o->clients : 1;
    d.ch = berth_xcalloc(d.n_ch, sizeof(*d.ch));
    for (size_t i = 0; i < d.n_ch; i++)
        d.ch[i] = channel_new(o->target, o->own_connections);
    d.cq = grpc_completion_queue_create_for_next(NULL);
    d.md.key = grpc_slice_from_static_string("containerd-namespace");
    d.md.value = grpc_slice_from_copied_string(o->ns ? o->ns : "");

    for (int i = 0; i < o->clients; i++) {
        slots[i].client = i;
        if (slot_start(&d, &slots[i]) < 0) {
            berth_err_set(err, BERTH_E_INTERNAL, 0, "start call");
            break;
        }
        outstanding++;
    }
    while (outstanding > 0) {
        grpc_event ev = grpc_completion_queue_next(
            d.cq,
            gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(60, GPR_TIMESPAN)),
            NULL);
        struct slot *s;
        int64_t now;
        int status;

        if (ev.type == GRPC_QUEUE_TIMEOUT) {
            berth_err_set(err, BERTH_E_DEADLINE_EXCEEDED, 0, "no completion for 60 s");
            break;
        }
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        s = ev.tag;
        now = berth_mono_ns();
        status = slot_finish(s, ev.success);
        done(s->client, s->kind, status, now - s->t0, arg);
        outstanding--;
        if (now < o->deadline_mono_ns) {
            if (slot_start(&d, s) == 0)
                outstanding++;
            else
                done(s->client, s->kind, -1, 0, arg);
        }
    }
    /* after a timeout calls are still out: cancel them and collect their completions */
    for (int i = 0; i < o->clients; i++)
        if (slots[i].busy)
            grpc_call_cancel(slots[i].call, NULL);
    while (outstanding > 0) {
        grpc_event ev = grpc_completion_queue_next(d.cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);

        if (ev.type != GRPC_OP_COMPLETE)
            break;
        slot_finish(ev.tag, ev.success);
        outstanding--;
    }
    grpc_slice_unref(d.md.value);
    grpc_completion_queue_shutdown(d.cq);
    while (grpc_completion_queue_next(d.cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(d.cq);
    for (size_t i = 0; i < d.n_ch; i++)
        grpc_channel_destroy(d.ch[i]);
    grpc_shutdown();
    free(d.ch);
    free(slots);
    return *err ? -1 : 0;
}

/* ---- bench_async_run: one method, `inflight` calls on one channel */

struct run_ctx {
    const char *method;
    bench_async_req_fn make;
    void *arg;
    uint64_t seq;
    struct bench_async_result *res;
    size_t cap;
};

static void run_next_cb(int client, void *arg, struct bench_async_call *out)
{
    struct run_ctx *r = arg;

    out->method = r->method;
    out->kind = 0;
    r->make(r->seq++, r->arg, &out->body, &out->len);
}

static void run_done_cb(int client, int kind, int grpc_status, int64_t lat_ns, void *arg)
{
    struct run_ctx *r = arg;
    struct bench_async_result *res = r->res;

    if (grpc_status == GRPC_STATUS_OK)
        res->ops++;
    else
        res->errors++;
    if (lat_ns <= 0)
        return; /* a call that could not start */
    if (res->n_lat == r->cap) {
        r->cap *= 2;
        res->lat_ns = berth_xrealloc(res->lat_ns, r->cap * sizeof(uint64_t));
    }
    res->lat_ns[res->n_lat++] = (uint64_t)lat_ns;
}

int bench_async_run(const char *target, const char *ns, const char *method, int inflight,
                    int64_t deadline_mono_ns, bench_async_req_fn make, void *arg,
                    struct bench_async_result *res, struct berth_err **err)
{
    struct bench_async_opts o = {.target = target,
                                 .ns = ns,
                                 .clients = inflight,
                                 .own_connections = false,
                                 .deadline_mono_ns = deadline_mono_ns};
    struct run_ctx r = {.method = method, .make = make, .arg = arg, .res = res, .cap = 1 << 16};

    memset(res, 0, sizeof(*res));
    res->lat_ns = berth_xmalloc(r.cap * sizeof(uint64_t));
    return bench_async_drive(&o, run_next_cb, run_done_cb, &r, err);
}

int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

uint64_t bench_percentile(const uint64_t *v, size_t n, double p)
{
    size_t rank;

    if (n == 0)
        return 0;
    rank = (size_t)(p * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}
