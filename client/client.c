/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The synchronous client (client.h) over the gRPC core API: one channel per client, one pluck
 * completion queue per call (so calls on one channel may run from any number of threads), the
 * containerd-namespace/containerd-lease headers, and gRPC status -> berth_errc translation.
 */
#include "client/client.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h> /* grpc_insecure_credentials_create */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h> /* gpr_free for grpc_slice_to_c_string */
#include <grpc/support/time.h>

#include "lib/proc.h"
#include "lib/status.h" /* berth_grpc_to_errc */

struct berth_client {
    grpc_channel *ch;
    char *target;  /* what grpc dials */
    char *address; /* what the user gave, for messages */
    pthread_mutex_t mu;
    char *ns;           /* under mu; NULL: no header */
    char *lease;        /* under mu; NULL: no header */
    int64_t timeout_ms; /* under mu; 0: no deadline */
};

/* The process serving a unix socket, told apart from a later one by its start time. */
struct peer {
    pid_t pid; /* 0: unknown */
    unsigned long long start;
};

/* One call in flight. Receive-side storage must outlive each batch, so it lives here. */
struct call {
    grpc_completion_queue *cq;
    grpc_call *call;
    /* A call without a deadline on a unix socket: the server process, checked every second
     * while the call waits (see call_batch). */
    struct peer peer;
    grpc_metadata md[2];
    size_t n_md;
    grpc_metadata_array init_md, trail_md;
    grpc_status_code status;
    grpc_slice details;
};

enum berth_errc berth_client_errc(int grpc_status)
{
    return berth_grpc_to_errc(grpc_status);
}

char *berth_client_target_for(const char *address, struct berth_err **err)
{
    static const char *const schemes[] = {"unix:", "unix-abstract:", "dns:", "ipv4:", "ipv6:"};

    if (!address || !*address) {
        berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "empty address");
        return NULL;
    }
    for (size_t i = 0; i < BERTH_N(schemes); i++)
        if (berth_str_has_prefix(address, schemes[i]))
            return berth_xstrdup(address);
    if (address[0] == '@')
        return berth_strdup_printf("unix-abstract:%s", address + 1);
    return berth_strdup_printf("unix:%s", address);
}

int berth_client_open(const char *address, const char *ns, int64_t timeout_ms,
                      struct berth_client **out, struct berth_err **err)
{
    grpc_arg args[5] = {
        {GRPC_ARG_INTEGER,
         (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
         {.integer = BERTH_CLIENT_MAX_MSG}},
        {GRPC_ARG_INTEGER,
         (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
         {.integer = BERTH_CLIENT_MAX_MSG}},
        /* Short reconnect backoff: a daemon that comes up is reachable again quickly. */
        {GRPC_ARG_INTEGER, (char *)GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, {.integer = 100}},
        {GRPC_ARG_INTEGER, (char *)GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, {.integer = 1000}},
        {GRPC_ARG_STRING,
         (char *)GRPC_ARG_PRIMARY_USER_AGENT_STRING,
         {.string = (char *)"berth-client/" BERTH_VERSION}},
    };
    grpc_channel_args cargs = {BERTH_N(args), args};
    grpc_channel_credentials *creds;
    struct berth_client *c;
    char *target;

    *out = NULL;
    target = berth_client_target_for(address, err);
    if (!target)
        return -1;
    grpc_init();
    c = berth_xcalloc(1, sizeof(*c));
    c->target = target;
    c->address = berth_xstrdup(address);
    c->ns = ns ? berth_xstrdup(ns) : NULL;
    c->timeout_ms = timeout_ms;
    pthread_mutex_init(&c->mu, NULL);
    creds = grpc_insecure_credentials_create();
    c->ch = grpc_channel_create(target, creds, &cargs);
    grpc_channel_credentials_release(creds);
    if (!c->ch) {
        berth_client_close(c);
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "create channel for \"%s\"", address);
    }
    *out = c;
    return 0;
}

void berth_client_close(struct berth_client *c)
{
    if (!c)
        return;
    if (c->ch)
        grpc_channel_destroy(c->ch);
    pthread_mutex_destroy(&c->mu);
    free(c->target);
    free(c->address);
    free(c->ns);
    free(c->lease);
    free(c);
    grpc_shutdown();
}

static void set_str_locked(struct berth_client *c, char **field, const char *v)
{
    char *copy = v ? berth_xstrdup(v) : NULL;

    pthread_mutex_lock(&c->mu);
    free(*field);
    *field = copy;
    pthread_mutex_unlock(&c->mu);
}

void berth_client_set_namespace(struct berth_client *c, const char *ns)
{
    set_str_locked(c, &c->ns, ns);
}

void berth_client_set_lease(struct berth_client *c, const char *lease)
{
    set_str_locked(c, &c->lease, lease);
}

void berth_client_set_timeout(struct berth_client *c, int64_t timeout_ms)
{
    pthread_mutex_lock(&c->mu);
    c->timeout_ms = timeout_ms;
    pthread_mutex_unlock(&c->mu);
}

const char *berth_client_target(const struct berth_client *c)
{
    return c->target;
}

static void call_add_md(struct call *k, const char *key, const char *val)
{
    k->md[k->n_md].key = grpc_slice_from_static_string(key);
    k->md[k->n_md].value = grpc_slice_from_copied_string(val);
    k->n_md++;
}

/* The start time of process pid (clock ticks since boot); 0 when it is gone. */
static unsigned long long proc_start(pid_t pid)
{
    struct berth_proc_stat st;

    return berth_proc_stat_read(pid, &st) == 0 ? st.start : 0;
}

/* Who serves the unix socket of target ("unix:<path>"): a connection of our own, asked for
 * its peer's credentials, then closed. Leaves p->pid 0 when that cannot be known. */
static void peer_probe(const char *target, struct peer *p)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct ucred cred;
    socklen_t len = sizeof(cred);
    int fd;

    p->pid = 0;
    if (!berth_str_has_prefix(target, "unix:") || strlen(target + 5) >= sizeof(sa.sun_path))
        return;
    strcpy(sa.sun_path, target + 5);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0) {
        p->pid = cred.pid;
        p->start = proc_start(cred.pid);
        if (!p->start)
            p->pid = 0;
    }
    close(fd);
}

/* Snapshot the per-client settings under the lock, then create the call. */
static int call_begin(struct berth_client *c, const char *method, struct call *k,
                      struct berth_err **err)
{
    gpr_timespec deadline = gpr_inf_future(GPR_CLOCK_MONOTONIC);
    grpc_slice mslice;

    memset(k, 0, sizeof(*k));
    grpc_metadata_array_init(&k->init_md);
    grpc_metadata_array_init(&k->trail_md);
    k->details = grpc_empty_slice();
    pthread_mutex_lock(&c->mu);
    if (c->ns)
        call_add_md(k, "containerd-namespace", c->ns);
    if (c->lease)
        call_add_md(k, "containerd-lease", c->lease);
    if (c->timeout_ms > 0)
        deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                gpr_time_from_millis(c->timeout_ms, GPR_TIMESPAN));
    pthread_mutex_unlock(&c->mu);
    if (gpr_time_cmp(deadline, gpr_inf_future(GPR_CLOCK_MONOTONIC)) == 0)
        peer_probe(c->target, &k->peer);

    k->cq = grpc_completion_queue_create_for_pluck(NULL);
    mslice = grpc_slice_from_copied_string(method);
    k->call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, k->cq, mslice, NULL,
                                       deadline, NULL);
    grpc_slice_unref(mslice);
    if (!k->call)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "create call %s", method);
    return 0;
}

static void call_end(struct call *k)
{
    grpc_event ev;

    if (k->call)
        grpc_call_unref(k->call);
    if (k->cq) {
        grpc_completion_queue_shutdown(k->cq);
        do {
            ev = grpc_completion_queue_pluck(k->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        } while (ev.type != GRPC_QUEUE_SHUTDOWN);
        grpc_completion_queue_destroy(k->cq);
    }
    for (size_t i = 0; i < k->n_md; i++)
        grpc_slice_unref(k->md[i].value);
    grpc_metadata_array_destroy(&k->init_md);
    grpc_metadata_array_destroy(&k->trail_md);
    grpc_slice_unref(k->details);
}

/* Starts one batch and waits for it. *ok gets the batch's success flag.
 * gRPC core 1.51 can miss the end of a connection whose server was killed mid-stream (the
 * socket reads EOF, yet a pending receive never completes), and a call without a deadline
 * would then wait forever. So such a call checks every second that the server process it
 * started with still runs, and cancels itself (UNAVAILABLE) once it does not. */
static int call_batch(struct call *k, const grpc_op *ops, size_t n, void *tag, bool *ok,
                      struct berth_err **err)
{
    grpc_call_error rc;
    grpc_event ev;

    rc = grpc_call_start_batch(k->call, ops, n, tag, NULL);
    if (rc != GRPC_CALL_OK) /* a bug: no completion will come */
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "start batch: %s",
                             grpc_call_error_to_string(rc));
    for (;;) {
        gpr_timespec until = gpr_inf_future(GPR_CLOCK_REALTIME);
        if (k->peer.pid)
            until = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                 gpr_time_from_millis(1000, GPR_TIMESPAN));
        ev = grpc_completion_queue_pluck(k->cq, tag, until, NULL);
        if (ev.type != GRPC_QUEUE_TIMEOUT)
            break;
        if (proc_start(k->peer.pid) != k->peer.start) {
            grpc_call_cancel_with_status(k->call, GRPC_STATUS_UNAVAILABLE,
                                         "the server process exited during the call", NULL);
            k->peer.pid = 0;
        }
    }
    if (ev.type != GRPC_OP_COMPLETE)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "completion queue: unexpected event %d",
                             (int)ev.type);
    if (ok)
        *ok = ev.success != 0;
    return 0;
}

static void op_send_md(grpc_op *op, struct call *k)
{
    memset(op, 0, sizeof(*op));
    op->op = GRPC_OP_SEND_INITIAL_METADATA;
    op->data.send_initial_metadata.count = k->n_md;
    op->data.send_initial_metadata.metadata = k->md;
}

static void op_simple(grpc_op *op, grpc_op_type type)
{
    memset(op, 0, sizeof(*op));
    op->op = type;
}

static void op_recv_status(grpc_op *op, struct call *k)
{
    op_simple(op, GRPC_OP_RECV_STATUS_ON_CLIENT);
    op->data.recv_status_on_client.trailing_metadata = &k->trail_md;
    op->data.recv_status_on_client.status = &k->status;
    op->data.recv_status_on_client.status_details = &k->details;
}

static char *details_str(const struct call *k)
{
    char *g = grpc_slice_to_c_string(k->details);
    char *s = berth_xstrdup(g);

    gpr_free(g);
    return s;
}

/* Turns a completed non-OK call into *err. A connection that never came up gets the address. */
static int status_err(struct berth_client *c, const struct call *k, const char *method,
                      struct berth_err **err)
{
    _cleanup_free_ char *d = details_str(k);
    enum berth_errc code = berth_client_errc(k->status);

    if (!*d) {
        free(d);
        d = berth_strdup_printf("%s: grpc status %d", method, (int)k->status);
    }
    if (code == BERTH_E_UNAVAILABLE &&
        grpc_channel_check_connectivity_state(c->ch, 0) != GRPC_CHANNEL_READY)
        return berth_err_set(err, code, 0, "connect to \"%s\": %s", c->address, d);
    if (code == BERTH_E_DEADLINE_EXCEEDED) /* grpc's own text names nothing */
        return berth_err_set(err, code, 0, "%s: %s", method, d);
    return berth_err_set(err, code, 0, "%s", d);
}

static grpc_byte_buffer *bb_from_bytes(const void *data, size_t len)
{
    grpc_slice s = grpc_slice_from_copied_buffer(data, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);

    grpc_slice_unref(s);
    return bb;
}

static grpc_byte_buffer *bb_from_msg(const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    grpc_slice s = grpc_slice_malloc(len);
    grpc_byte_buffer *bb;

    protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
    bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

/* Flattens (and destroys) a received buffer. */
static grpc_slice bb_take(grpc_byte_buffer *bb)
{
    grpc_byte_buffer_reader r;
    grpc_slice s = grpc_empty_slice();

    if (grpc_byte_buffer_reader_init(&r, bb)) {
        s = grpc_byte_buffer_reader_readall(&r);
        grpc_byte_buffer_reader_destroy(&r);
    }
    grpc_byte_buffer_destroy(bb);
    return s;
}

/* The six-op unary batch. Returns 0 once the call completed (status in k), -1 on a local
 * failure. *recv gets the response buffer (or NULL); the caller destroys it. */
static int unary_call(struct berth_client *c, const char *method, grpc_byte_buffer *send,
                      struct call *k, grpc_byte_buffer **recv, struct berth_err **err)
{
    grpc_op ops[6];

    *recv = NULL;
    if (call_begin(c, method, k, err) < 0)
        return -1;
    op_send_md(&ops[0], k);
    op_simple(&ops[1], GRPC_OP_SEND_MESSAGE);
    ops[1].data.send_message.send_message = send;
    op_simple(&ops[2], GRPC_OP_SEND_CLOSE_FROM_CLIENT);
    op_simple(&ops[3], GRPC_OP_RECV_INITIAL_METADATA);
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &k->init_md;
    op_simple(&ops[4], GRPC_OP_RECV_MESSAGE);
    ops[4].data.recv_message.recv_message = recv;
    op_recv_status(&ops[5], k);
    /* The batch's success flag is irrelevant: RECV_STATUS always reports the outcome. */
    return call_batch(k, ops, BERTH_N(ops), k, NULL, err);
}

int berth_client_unary(struct berth_client *c, const char *method, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                       struct berth_err **err)
{
    grpc_byte_buffer *send = bb_from_msg(req), *recv = NULL;
    struct call k;
    grpc_slice body;
    int ret;

    *resp = NULL;
    ret = unary_call(c, method, send, &k, &recv, err);
    grpc_byte_buffer_destroy(send);
    if (ret == 0 && k.status != GRPC_STATUS_OK)
        ret = status_err(c, &k, method, err);
    if (ret == 0) {
        body = recv ? bb_take(steal_ptr(recv)) : grpc_empty_slice();
        *resp = protobuf_c_message_unpack(resp_desc, NULL, GRPC_SLICE_LENGTH(body),
                                          GRPC_SLICE_START_PTR(body));
        grpc_slice_unref(body);
        if (!*resp)
            ret = berth_err_set(err, BERTH_E_INTERNAL, 0, "%s: decode %s", method, resp_desc->name);
    }
    if (recv)
        grpc_byte_buffer_destroy(recv);
    call_end(&k);
    return ret;
}

int berth_client_unary_raw(struct berth_client *c, const char *method, const void *body, size_t len,
                           struct berth_bytes *resp, int *grpc_status, char **details,
                           struct berth_err **err)
{
    grpc_byte_buffer *send = bb_from_bytes(body, len), *recv = NULL;
    struct call k;
    grpc_slice s;
    int ret;

    resp->data = NULL;
    resp->len = 0;
    *details = NULL;
    ret = unary_call(c, method, send, &k, &recv, err);
    grpc_byte_buffer_destroy(send);
    if (ret == 0) {
        *grpc_status = (int)k.status;
        *details = details_str(&k);
        if (recv) {
            s = bb_take(steal_ptr(recv));
            resp->len = GRPC_SLICE_LENGTH(s);
            resp->data = resp->len ? berth_xmalloc(resp->len) : NULL;
            if (resp->len)
                memcpy(resp->data, GRPC_SLICE_START_PTR(s), resp->len);
            grpc_slice_unref(s);
        }
    }
    if (recv)
        grpc_byte_buffer_destroy(recv);
    call_end(&k);
    return ret;
}

/* Reads stream messages until the end, a callback stop or a decode failure. */
static int stream_read(struct call *k, const ProtobufCMessageDescriptor *resp_desc,
                       berth_client_stream_fn cb, void *arg, bool *stopped, struct berth_err **err)
{
    grpc_byte_buffer *recv = NULL;
    ProtobufCMessage *m;
    grpc_op op;
    grpc_slice s;
    int r;

    for (;;) {
        op_simple(&op, GRPC_OP_RECV_MESSAGE);
        op.data.recv_message.recv_message = &recv;
        if (call_batch(k, &op, 1, &recv, NULL, err) < 0)
            return -1;
        if (!recv)
            return 0; /* end of stream (or failure: the status tells) */
        s = bb_take(steal_ptr(recv));
        m = protobuf_c_message_unpack(resp_desc, NULL, GRPC_SLICE_LENGTH(s),
                                      GRPC_SLICE_START_PTR(s));
        grpc_slice_unref(s);
        if (!m) {
            grpc_call_cancel(k->call, NULL);
            return berth_err_set(err, BERTH_E_INTERNAL, 0, "decode %s", resp_desc->name);
        }
        r = cb(m, arg);
        protobuf_c_message_free_unpacked(m, NULL);
        if (r) {
            grpc_call_cancel(k->call, NULL);
            *stopped = true;
            return 0;
        }
    }
}

int berth_client_server_stream(struct berth_client *c, const char *method,
                               const ProtobufCMessage *req,
                               const ProtobufCMessageDescriptor *resp_desc,
                               berth_client_stream_fn cb, void *arg, struct berth_err **err)
{
    grpc_byte_buffer *send = bb_from_msg(req);
    bool stopped = false;
    struct call k;
    grpc_op ops[4];
    int ret;

    ret = call_begin(c, method, &k, err);
    if (ret == 0) {
        op_send_md(&ops[0], &k);
        op_simple(&ops[1], GRPC_OP_SEND_MESSAGE);
        ops[1].data.send_message.send_message = send;
        op_simple(&ops[2], GRPC_OP_SEND_CLOSE_FROM_CLIENT);
        op_simple(&ops[3], GRPC_OP_RECV_INITIAL_METADATA);
        ops[3].data.recv_initial_metadata.recv_initial_metadata = &k.init_md;
        ret = call_batch(&k, ops, BERTH_N(ops), &k, NULL, err);
    }
    if (ret == 0)
        ret = stream_read(&k, resp_desc, cb, arg, &stopped, err);
    /* Always collect the status so the call is complete before it is released. A call that
     * failed locally (say, a header grpc refused) may never have gone out: cancel it first, or
     * the status would only arrive at the deadline. */
    if (k.call) {
        if (ret < 0)
            grpc_call_cancel(k.call, NULL);
        op_recv_status(&ops[0], &k);
        if (call_batch(&k, ops, 1, &k.status, NULL, ret < 0 ? NULL : err) < 0)
            ret = -1;
        else if (ret == 0 && !stopped && k.status != GRPC_STATUS_OK)
            ret = status_err(c, &k, method, err);
    }
    grpc_byte_buffer_destroy(send);
    call_end(&k);
    return ret;
}

/* A bidirectional stream: one struct call driven one batch at a time. */
struct berth_client_bidi {
    struct berth_client *c; /* borrowed */
    char *method;
    struct call k;
    bool got_md, closed, finished;
};

int berth_client_bidi_open(struct berth_client *c, const char *method,
                           struct berth_client_bidi **out, struct berth_err **err)
{
    struct berth_client_bidi *b = berth_xcalloc(1, sizeof(*b));
    grpc_op op;
    bool ok = false;

    *out = NULL;
    b->c = c;
    b->method = berth_xstrdup(method);
    if (call_begin(c, method, &b->k, err) < 0 ||
        (op_send_md(&op, &b->k), call_batch(&b->k, &op, 1, b, &ok, err)) < 0) {
        berth_client_bidi_free(b);
        return -1;
    }
    *out = b;
    return 0;
}

/* Collects the final status; 0 if OK, else the mapped error. */
static int bidi_finish(struct berth_client_bidi *b, struct berth_err **err)
{
    grpc_op op;

    if (!b->finished) {
        op_recv_status(&op, &b->k);
        if (call_batch(&b->k, &op, 1, &b->k.status, NULL, err) < 0)
            return -1;
        b->finished = true;
    }
    if (b->k.status != GRPC_STATUS_OK)
        return status_err(b->c, &b->k, b->method, err);
    return 0;
}

int berth_client_bidi_send(struct berth_client_bidi *b, const ProtobufCMessage *msg,
                           struct berth_err **err)
{
    grpc_byte_buffer *send = bb_from_msg(msg);
    grpc_op op;
    bool ok = false;
    int ret;

    op_simple(&op, GRPC_OP_SEND_MESSAGE);
    op.data.send_message.send_message = send;
    ret = call_batch(&b->k, &op, 1, send, &ok, err);
    grpc_byte_buffer_destroy(send);
    if (ret == 0 && !ok) /* the call is over: its status says why */
        ret = bidi_finish(b, err) < 0
                  ? -1
                  : berth_err_set(err, BERTH_E_INTERNAL, 0, "%s: stream ended", b->method);
    return ret;
}

int berth_client_bidi_recv(struct berth_client_bidi *b, const ProtobufCMessageDescriptor *desc,
                           ProtobufCMessage **out, struct berth_err **err)
{
    grpc_byte_buffer *recv = NULL;
    grpc_op ops[2];
    size_t n = 0;
    grpc_slice s;

    *out = NULL;
    if (!b->got_md) {
        op_simple(&ops[n], GRPC_OP_RECV_INITIAL_METADATA);
        ops[n++].data.recv_initial_metadata.recv_initial_metadata = &b->k.init_md;
        b->got_md = true;
    }
    op_simple(&ops[n], GRPC_OP_RECV_MESSAGE);
    ops[n++].data.recv_message.recv_message = &recv;
    if (call_batch(&b->k, ops, n, &recv, NULL, err) < 0)
        return -1;
    if (!recv)
        return bidi_finish(b, err);
    s = bb_take(steal_ptr(recv));
    *out = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    if (!*out)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "%s: decode %s", b->method, desc->name);
    return 0;
}

int berth_client_bidi_close(struct berth_client_bidi *b, struct berth_err **err)
{
    grpc_op op;

    if (!b->closed && !b->finished) {
        op_simple(&op, GRPC_OP_SEND_CLOSE_FROM_CLIENT);
        if (call_batch(&b->k, &op, 1, &b->closed, NULL, err) < 0)
            return -1;
    }
    b->closed = true;
    return bidi_finish(b, err);
}

int berth_client_bidi_close_send(struct berth_client_bidi *b, struct berth_err **err)
{
    grpc_op op;

    if (b->closed || b->finished)
        return 0;
    op_simple(&op, GRPC_OP_SEND_CLOSE_FROM_CLIENT);
    if (call_batch(&b->k, &op, 1, &b->closed, NULL, err) < 0)
        return -1;
    b->closed = true;
    return 0;
}

void berth_client_bidi_free(struct berth_client_bidi *b)
{
    if (!b)
        return;
    if (b->k.call && !b->finished) {
        _cleanup_err_ struct berth_err *e = NULL;
        grpc_call_cancel(b->k.call, NULL);
        (void)bidi_finish(b, &e);
    }
    call_end(&b->k);
    free(b->method);
    free(b);
}
