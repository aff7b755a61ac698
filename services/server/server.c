/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC C core transport. Calls move through tagged batches on one completion queue drained
 * by a few CQ threads. Unary handlers that never wait run right on the CQ thread; the others
 * run on a fixed worker pool. Streaming handlers get a thread of their own (a stream may live
 * as long as the client wants) and send asynchronously: messages queue on the call and the CQ
 * thread starts the next send when the previous one completes, so a stream costs no thread
 * hand-off per message.
 *
 * References: a unary call holds one (its final batch, which also carries
 * RECV_CLOSE_ON_SERVER). A stream holds three: an early lone RECV_CLOSE_ON_SERVER batch (it
 * reports cancellation without any send), the final batch, and the handler thread.
 */
#define BERTH_LOG_SUBSYS "server"

#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h> /* insecure server credentials live here in 1.51 */
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/log.h"
#include "services/server/server-internal.h"

#define MAX_MSG       (16 << 20) /* containerd's limit, both ways */
#define PENDING_CALLS 16         /* request_call tags kept posted */
#define SENDQ_MAX     256        /* queued stream messages before send blocks */
#define SENDQ_LOW     64         /* ... and the level at which it resumes */

enum tag_kind { TAG_NEW, TAG_RECV, TAG_CLOSE, TAG_FINAL, TAG_SEND, TAG_RECVOP, TAG_SHUTDOWN };

struct tag {
    enum tag_kind kind;
    void *p;
};

struct pending {
    struct tag tag;
    grpc_call *gc;
    grpc_call_details details;
    grpc_metadata_array md;
};

struct berth_stream {
    struct berth_call *call;
};

struct sendq {
    grpc_byte_buffer *bb;
    struct sendq *next;
};

struct berth_call {
    struct berth_server *srv;
    grpc_call *gc;
    char *method, *ns, *lease;
    int64_t deadline;
    const struct berth_method *m;
    const ProtobufCMessageDescriptor *in_desc;
    struct tag t_recv, t_close, t_final, t_send, t_recvop;
    grpc_byte_buffer *recv_bb, *send_bb;
    int close_cancelled;
    atomic_bool cancelled;
    atomic_int refs;
    bool sent_md;
    bool streaming;
    ProtobufCMessage *req;
    struct berth_stream st;
    char *status_msg;

    /* streams: everything below is guarded by mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct sendq *sq_head, *sq_tail;
    size_t sq_len;
    grpc_byte_buffer *inflight_bb, *recvop_bb;
    bool send_inflight, send_failed, handler_done;
    bool producer_waiting; /* the handler sleeps until the queue drains to SENDQ_LOW */
    bool recv_done, recv_ok;
    struct berth_err *final_err;

    struct berth_call *next; /* worker queue */
};

struct berth_server {
    grpc_server *gs;
    grpc_completion_queue *cq;
    const struct berth_service *const *svcs;
    size_t n_svcs;
    void *app;
    unsigned n_cq, n_workers;
    int64_t grace_ms;
    pthread_t *cq_threads, *workers;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* workers wait for calls; wait() waits for shutdown */
    struct berth_call *qhead, *qtail;
    bool stopping;      /* no new request_call posts */
    bool shutdown_done; /* TAG_SHUTDOWN arrived */
    bool workers_stop;
    atomic_int live_streams;
    struct tag t_shutdown;
};

bool berth_svc_ctx_done(const struct berth_svc_ctx *ctx)
{
    if (ctx->call && atomic_load(&ctx->call->cancelled))
        return true;
    return ctx->deadline_mono_ns && berth_mono_ns() >= ctx->deadline_mono_ns;
}

static char *slice_dup(grpc_slice s)
{
    return berth_xstrndup((const char *)GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
}

static void sendq_drop(struct berth_call *c)
{
    while (c->sq_head) {
        struct sendq *q = c->sq_head;
        c->sq_head = q->next;
        grpc_byte_buffer_destroy(q->bb);
        free(q);
    }
    c->sq_tail = NULL;
    c->sq_len = 0;
}

static void call_unref(struct berth_call *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    grpc_call_unref(c->gc);
    if (c->req)
        protobuf_c_message_free_unpacked(c->req, NULL);
    if (c->recv_bb)
        grpc_byte_buffer_destroy(c->recv_bb);
    if (c->recvop_bb)
        grpc_byte_buffer_destroy(c->recvop_bb);
    if (c->send_bb)
        grpc_byte_buffer_destroy(c->send_bb);
    if (c->inflight_bb)
        grpc_byte_buffer_destroy(c->inflight_bb);
    sendq_drop(c);
    berth_err_free(&c->final_err);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->method);
    free(c->ns);
    free(c->lease);
    free(c->status_msg);
    free(c);
}

static grpc_byte_buffer *bytes_to_bb(const void *data, size_t len)
{
    grpc_slice s = grpc_slice_from_copied_buffer(data, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

static grpc_byte_buffer *msg_to_bb(const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(len);
    grpc_byte_buffer *bb;

    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

/* Sends the final status (and the unary response, if any). Consumes the final reference.
 * For streams the caller holds c->mu. */
static void call_finish(struct berth_call *c, const struct berth_err *e,
                        const struct berth_bytes *out)
{
    grpc_op ops[4];
    size_t n = 0;
    grpc_slice details;
    grpc_call_error rc;

    memset(ops, 0, sizeof(ops));
    if (!c->sent_md) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->sent_md = true;
    }
    if (!e && out) {
        c->send_bb = bytes_to_bb(out->data, out->len);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = c->send_bb;
        n++;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    if (e) {
        c->status_msg = berth_err_status_message(e);
        ops[n].data.send_status_from_server.status = (grpc_status_code)berth_errc_to_grpc(e->code);
        /* The core copies the details at start_batch. */
        details = grpc_slice_from_static_string(c->status_msg);
        ops[n].data.send_status_from_server.status_details = &details;
        if (e->code == BERTH_E_INTERNAL)
            log_warn("%s ns=%s: %s: %s", c->method, c->ns ? c->ns : "-", berth_errc_name(e->code),
                     c->status_msg);
        else
            log_info("%s ns=%s: %s: %s", c->method, c->ns ? c->ns : "-", berth_errc_name(e->code),
                     c->status_msg);
    } else {
        ops[n].data.send_status_from_server.status = GRPC_STATUS_OK;
    }
    n++;
    if (!c->streaming) {
        ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        ops[n].data.recv_close_on_server.cancelled = &c->close_cancelled;
        n++;
    }
    rc = grpc_call_start_batch(c->gc, ops, n, &c->t_final, NULL);
    if (rc != GRPC_CALL_OK) {
        log_error("%s: start final batch: grpc call error %d", c->method, rc);
        call_unref(c);
    }
}

/* Starts sending bb (owned from here on); caller holds c->mu and no send is in flight. */
static void start_send_locked(struct berth_call *c, grpc_byte_buffer *bb)
{
    grpc_op ops[2];
    size_t n = 0;

    memset(ops, 0, sizeof(ops));
    if (!c->sent_md) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->sent_md = true;
    }
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = bb;
    /* More messages queued behind this one: let the transport coalesce them into fewer
     * writes. The last queued message goes out unbuffered, which flushes the lot, so a quiet
     * stream (events) never holds a message back. */
    if (c->sq_head)
        ops[n].flags = GRPC_WRITE_BUFFER_HINT;
    n++;
    c->inflight_bb = bb;
    c->send_inflight = true;
    if (grpc_call_start_batch(c->gc, ops, n, &c->t_send, NULL) != GRPC_CALL_OK) {
        c->inflight_bb = NULL;
        c->send_inflight = false;
        c->send_failed = true;
        grpc_byte_buffer_destroy(bb);
    }
}

/* CQ thread: a stream send completed; start the next one or the deferred final batch. */
static void on_send_done(struct berth_call *c, bool ok)
{
    atomic_fetch_add(&c->refs, 1); /* the final batch may complete before we unlock */
    pthread_mutex_lock(&c->mu);
    grpc_byte_buffer_destroy(c->inflight_bb);
    c->inflight_bb = NULL;
    c->send_inflight = false;
    if (!ok) {
        c->send_failed = true;
        sendq_drop(c);
    }
    if (!c->send_failed && c->sq_head) {
        struct sendq *q = c->sq_head;
        c->sq_head = q->next;
        if (!c->sq_head)
            c->sq_tail = NULL;
        c->sq_len--;
        start_send_locked(c, q->bb);
        free(q);
    }
    if (c->handler_done && !c->send_inflight)
        call_finish(c, c->final_err, NULL);
    /* Wake the producer only at the low-water mark: waking it per message would cost two
     * context switches for every message sent. */
    if (c->producer_waiting && (c->send_failed || c->sq_len <= SENDQ_LOW)) {
        c->producer_waiting = false;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    call_unref(c);
}

static int stream_send_bb(struct berth_stream *st, grpc_byte_buffer *bb, struct berth_err **err)
{
    struct berth_call *c = st->call;
    bool failed;

    pthread_mutex_lock(&c->mu);
    if (c->send_failed) {
        pthread_mutex_unlock(&c->mu);
        grpc_byte_buffer_destroy(bb);
        return berth_err_set(err, BERTH_E_CANCELED, 0, "client went away");
    }
    if (!c->send_inflight) {
        start_send_locked(c, bb);
    } else {
        struct sendq *q = berth_xmalloc(sizeof(*q));
        q->bb = bb;
        q->next = NULL;
        if (c->sq_tail)
            c->sq_tail->next = q;
        else
            c->sq_head = q;
        c->sq_tail = q;
        c->sq_len++;
    }
    while (!c->send_failed && c->sq_len >= SENDQ_MAX) {
        c->producer_waiting = true;
        pthread_cond_wait(&c->cv, &c->mu);
    }
    failed = c->send_failed;
    pthread_mutex_unlock(&c->mu);
    if (failed)
        return berth_err_set(err, BERTH_E_CANCELED, 0, "client went away");
    return 0;
}

int berth_stream_send(struct berth_stream *st, const ProtobufCMessage *msg, struct berth_err **err)
{
    return stream_send_bb(st, msg_to_bb(msg), err);
}

int berth_stream_send_bytes(struct berth_stream *st, const void *data, size_t len,
                            struct berth_err **err)
{
    return stream_send_bb(st, bytes_to_bb(data, len), err);
}

static int bb_decode(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb,
                     ProtobufCMessage **out, struct berth_err **err)
{
    grpc_byte_buffer_reader r;
    grpc_slice s;
    int ret;

    if (!grpc_byte_buffer_reader_init(&r, bb))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "cannot read request body");
    s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    ret = berth_server_decode(desc, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s), out, err);
    grpc_slice_unref(s);
    return ret;
}

int berth_stream_recv(struct berth_stream *st, ProtobufCMessage **out, struct berth_err **err)
{
    struct berth_call *c = st->call;
    grpc_op op;
    grpc_byte_buffer *bb;
    bool ok;
    int ret;

    *out = NULL;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->recvop_bb;
    pthread_mutex_lock(&c->mu);
    c->recv_done = false;
    if (grpc_call_start_batch(c->gc, &op, 1, &c->t_recvop, NULL) != GRPC_CALL_OK) {
        pthread_mutex_unlock(&c->mu);
        return berth_err_set(err, BERTH_E_CANCELED, 0, "client went away");
    }
    while (!c->recv_done)
        pthread_cond_wait(&c->cv, &c->mu);
    ok = c->recv_ok;
    bb = steal_ptr(c->recvop_bb);
    pthread_mutex_unlock(&c->mu);
    if (!ok) {
        if (bb)
            grpc_byte_buffer_destroy(bb);
        return berth_err_set(err, BERTH_E_CANCELED, 0, "client went away");
    }
    if (!bb)
        return 0; /* end of the client's stream */
    ret = bb_decode(c->in_desc, bb, out, err);
    grpc_byte_buffer_destroy(bb);
    return ret;
}

static void call_ctx(struct berth_call *c, struct berth_svc_ctx *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->method = c->method;
    ctx->ns = c->ns;
    ctx->lease = c->lease;
    ctx->deadline_mono_ns = c->deadline;
    ctx->app = c->srv->app;
    ctx->call = c;
}

/* Runs a call's handler on the current thread and finishes it (or, for a stream with sends
 * still queued, leaves the final batch to the last send completion). */
static void call_run(struct berth_call *c)
{
    struct berth_svc_ctx ctx;
    struct berth_err *e = NULL;
    struct berth_bytes out = {0};
    int ret = 0;

    call_ctx(c, &ctx);
    if (berth_svc_ctx_done(&ctx)) {
        bool cancelled = atomic_load(&c->cancelled);
        berth_err_set(&e, cancelled ? BERTH_E_CANCELED : BERTH_E_DEADLINE_EXCEEDED, 0, "%s",
                      cancelled ? "call cancelled" : "deadline exceeded");
        ret = -1;
    } else {
        switch (c->m->kind) {
        case BERTH_UNARY:
            ret = c->m->unary(&ctx, c->req, &out, &e);
            break;
        case BERTH_SERVER_STREAM:
            ret = c->m->server_stream(&ctx, c->req, &c->st, &e);
            break;
        case BERTH_BIDI_STREAM:
            ret = c->m->bidi(&ctx, &c->st, &e);
            break;
        }
    }
    if (ret < 0 && !e)
        berth_err_set(&e, BERTH_E_INTERNAL, 0, "handler failed without an error");
    if (!c->streaming) {
        call_finish(c, ret < 0 ? e : NULL, &out);
        berth_err_free(&e);
        berth_bytes_clear(&out);
        return;
    }
    pthread_mutex_lock(&c->mu);
    c->handler_done = true;
    c->final_err = ret < 0 ? steal_ptr(e) : NULL;
    berth_err_free(&e);
    if (!c->send_inflight)
        call_finish(c, c->final_err, NULL);
    pthread_mutex_unlock(&c->mu);
    call_unref(c); /* the handler's reference */
}

static void *stream_thread(void *arg)
{
    struct berth_call *c = arg;
    struct berth_server *srv = c->srv;

    call_run(c);
    atomic_fetch_sub(&srv->live_streams, 1);
    return NULL;
}

static void *worker_main(void *arg)
{
    struct berth_server *srv = arg;

    pthread_mutex_lock(&srv->mu);
    for (;;) {
        struct berth_call *c;
        while (!srv->qhead && !srv->workers_stop)
            pthread_cond_wait(&srv->cv, &srv->mu);
        if (!srv->qhead)
            break;
        c = srv->qhead;
        srv->qhead = c->next;
        if (!srv->qhead)
            srv->qtail = NULL;
        pthread_mutex_unlock(&srv->mu);
        call_run(c);
        pthread_mutex_lock(&srv->mu);
    }
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

static void dispatch(struct berth_call *c)
{
    struct berth_server *srv = c->srv;
    pthread_attr_t attr;
    pthread_t t;

    if (!c->streaming) {
        if (c->m->nonblocking) {
            call_run(c);
            return;
        }
        pthread_mutex_lock(&srv->mu);
        c->next = NULL;
        if (srv->qtail)
            srv->qtail->next = c;
        else
            srv->qhead = c;
        srv->qtail = c;
        pthread_cond_signal(&srv->cv);
        pthread_mutex_unlock(&srv->mu);
        return;
    }
    atomic_fetch_add(&srv->live_streams, 1);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, stream_thread, c) != 0) {
        struct berth_err *e = NULL;
        atomic_fetch_sub(&srv->live_streams, 1);
        berth_err_set(&e, BERTH_E_RESOURCE_EXHAUSTED, errno, "start stream thread");
        pthread_mutex_lock(&c->mu);
        call_finish(c, e, NULL);
        pthread_mutex_unlock(&c->mu);
        berth_err_free(&e);
        call_unref(c); /* the handler's reference: no handler will run */
    }
    pthread_attr_destroy(&attr);
}

static void post_request(struct berth_server *srv)
{
    struct pending *p = berth_xcalloc(1, sizeof(*p));
    grpc_call_error rc;

    p->tag.kind = TAG_NEW;
    p->tag.p = p;
    grpc_call_details_init(&p->details);
    grpc_metadata_array_init(&p->md);
    rc = grpc_server_request_call(srv->gs, &p->gc, &p->details, &p->md, srv->cq, srv->cq, &p->tag);
    if (rc != GRPC_CALL_OK) {
        log_error("request_call: grpc call error %d", rc);
        grpc_call_details_destroy(&p->details);
        grpc_metadata_array_destroy(&p->md);
        free(p);
    }
}

/* Answers a call that never reaches a handler (unary-style: one reference). */
static void reject(struct berth_call *c, struct berth_err *e)
{
    call_finish(c, e, NULL);
    berth_err_free(&e);
}

static void on_new_call(struct berth_server *srv, struct pending *p)
{
    struct berth_call *c = berth_xcalloc(1, sizeof(*c));
    gpr_timespec now, left;
    grpc_op op;
    struct berth_err *e = NULL;

    c->srv = srv;
    c->gc = p->gc;
    c->method = slice_dup(p->details.method);
    for (size_t i = 0; i < p->md.count; i++) {
        if (grpc_slice_str_cmp(p->md.metadata[i].key, "containerd-namespace") == 0) {
            free(c->ns);
            c->ns = slice_dup(p->md.metadata[i].value);
        } else if (grpc_slice_str_cmp(p->md.metadata[i].key, "containerd-lease") == 0) {
            free(c->lease);
            c->lease = slice_dup(p->md.metadata[i].value);
        }
    }
    if (p->details.deadline.tv_sec != INT64_MAX) {
        now = gpr_now(p->details.deadline.clock_type);
        left = gpr_time_sub(p->details.deadline, now);
        c->deadline = berth_mono_ns() + (int64_t)left.tv_sec * 1000000000LL + left.tv_nsec;
        if (c->deadline == 0)
            c->deadline = 1;
    }
    grpc_call_details_destroy(&p->details);
    grpc_metadata_array_destroy(&p->md);
    free(p);

    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->st.call = c;
    c->t_recv = (struct tag){TAG_RECV, c};
    c->t_close = (struct tag){TAG_CLOSE, c};
    c->t_final = (struct tag){TAG_FINAL, c};
    c->t_send = (struct tag){TAG_SEND, c};
    c->t_recvop = (struct tag){TAG_RECVOP, c};
    atomic_store(&c->refs, 1);

    c->m = berth_server_find(srv->svcs, srv->n_svcs, c->method, &c->in_desc);
    if (!c->m) {
        berth_server_unknown_method(srv->svcs, srv->n_svcs, c->method, &e);
        reject(c, e);
        return;
    }
    if (berth_server_check_ns(c->m, c->ns, &e) < 0) {
        reject(c, e);
        return;
    }
    if (c->m->kind != BERTH_UNARY) {
        c->streaming = true;
        atomic_store(&c->refs, 3);
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        op.data.recv_close_on_server.cancelled = &c->close_cancelled;
        if (grpc_call_start_batch(c->gc, &op, 1, &c->t_close, NULL) != GRPC_CALL_OK)
            atomic_fetch_sub(&c->refs, 1);
    }
    if (c->m->kind == BERTH_BIDI_STREAM) {
        dispatch(c);
        return;
    }
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->recv_bb;
    if (grpc_call_start_batch(c->gc, &op, 1, &c->t_recv, NULL) != GRPC_CALL_OK) {
        berth_err_set(&e, BERTH_E_INTERNAL, 0, "cannot read request");
        reject(c, e);
        if (c->streaming)
            call_unref(c); /* no handler will run */
    }
}

static void on_recv(struct berth_call *c, bool ok)
{
    struct berth_err *e = NULL;
    grpc_byte_buffer *bb = steal_ptr(c->recv_bb);

    if (!ok)
        berth_err_set(&e, BERTH_E_CANCELED, 0, "client went away before sending its request");
    else if (!bb)
        berth_err_set(&e, BERTH_E_INVALID_ARGUMENT, 0, "request message missing");
    else
        bb_decode(c->in_desc, bb, &c->req, &e);
    if (bb)
        grpc_byte_buffer_destroy(bb);
    if (e) {
        if (c->streaming) {
            pthread_mutex_lock(&c->mu);
            call_finish(c, e, NULL);
            pthread_mutex_unlock(&c->mu);
            berth_err_free(&e);
            call_unref(c); /* no handler will run */
            return;
        }
        reject(c, e);
        return;
    }
    dispatch(c);
}

static void *cq_main(void *arg)
{
    struct berth_server *srv = arg;

    for (;;) {
        grpc_event ev =
            grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        struct tag *t;
        struct berth_call *c;

        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        t = ev.tag;
        switch (t->kind) {
        case TAG_NEW: {
            struct pending *p = t->p;
            bool stopping;
            pthread_mutex_lock(&srv->mu);
            stopping = srv->stopping;
            pthread_mutex_unlock(&srv->mu);
            if (!ev.success) {
                grpc_call_details_destroy(&p->details);
                grpc_metadata_array_destroy(&p->md);
                free(p);
                break;
            }
            if (!stopping)
                post_request(srv);
            on_new_call(srv, p);
            break;
        }
        case TAG_RECV:
            on_recv(t->p, ev.success);
            break;
        case TAG_CLOSE:
            c = t->p;
            if (c->close_cancelled || !ev.success)
                atomic_store(&c->cancelled, true);
            call_unref(c);
            break;
        case TAG_FINAL:
            call_unref(t->p);
            break;
        case TAG_SEND:
            on_send_done(t->p, ev.success);
            break;
        case TAG_RECVOP:
            c = t->p;
            pthread_mutex_lock(&c->mu);
            c->recv_done = true;
            c->recv_ok = ev.success;
            pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&c->mu);
            break;
        case TAG_SHUTDOWN:
            pthread_mutex_lock(&srv->mu);
            srv->shutdown_done = true;
            pthread_cond_broadcast(&srv->cv);
            pthread_mutex_unlock(&srv->mu);
            break;
        }
    }
    return NULL;
}
static char *socket_path(const char *address)
{
    if (berth_str_has_prefix(address, "unix://"))
        return berth_xstrdup(address + 7);
    if (berth_str_has_prefix(address, "unix:"))
        return berth_xstrdup(address + 5);
    if (address[0] == '/')
        return berth_xstrdup(address);
    return NULL;
}

int berth_server_new(const struct berth_server_opts *opts, const struct berth_service *const *svcs,
                     size_t n_svcs, void *app, struct berth_server **out, struct berth_err **err)
{
    struct berth_server *srv;
    grpc_arg args[2] = {
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = MAX_MSG}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, {.integer = MAX_MSG}},
    };
    grpc_channel_args cargs = {2, args};
    grpc_server_credentials *creds;
    _cleanup_free_ char *path = socket_path(opts->address);
    _cleanup_free_ char *target = NULL;
    int port;

    *out = NULL;
    if (!path)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "address \"%s\" is not a unix socket path", opts->address);
    target = berth_strdup_printf("unix:%s", path);
    grpc_init();
    srv = berth_xcalloc(1, sizeof(*srv));
    srv->svcs = svcs;
    srv->n_svcs = n_svcs;
    srv->app = app;
    srv->n_cq = opts->cq_threads ? opts->cq_threads : 1;
    srv->n_workers = opts->worker_threads ? opts->worker_threads : 32;
    srv->grace_ms = opts->grace_ms ? opts->grace_ms : 5000;
    srv->t_shutdown = (struct tag){TAG_SHUTDOWN, srv};
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->cv, NULL);
    srv->gs = grpc_server_create(&cargs, NULL);
    srv->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(srv->gs, srv->cq, NULL);
    creds = grpc_insecure_server_credentials_create();
    port = grpc_server_add_http2_port(srv->gs, target, creds);
    grpc_server_credentials_release(creds);
    if (port == 0) {
        berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "cannot listen on \"%s\"", path);
        berth_server_free(srv);
        return -1;
    }
    /* Bound now, not yet accepting: tighten the mode before anyone can connect. */
    if (chmod(path, 0660) < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "chmod socket \"%s\"", path);
        berth_server_free(srv);
        return -1;
    }
    if (opts->socket_gid != (unsigned)-1 && chown(path, 0, opts->socket_gid) < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "chown socket \"%s\"", path);
        berth_server_free(srv);
        return -1;
    }
    *out = srv;
    return 0;
}

int berth_server_start(struct berth_server *srv, struct berth_err **err)
{
    grpc_server_start(srv->gs);
    for (int i = 0; i < PENDING_CALLS; i++)
        post_request(srv);
    srv->cq_threads = berth_xcalloc(srv->n_cq, sizeof(pthread_t));
    srv->workers = berth_xcalloc(srv->n_workers, sizeof(pthread_t));
    for (unsigned i = 0; i < srv->n_cq; i++)
        if (pthread_create(&srv->cq_threads[i], NULL, cq_main, srv) != 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "start completion queue thread");
    for (unsigned i = 0; i < srv->n_workers; i++)
        if (pthread_create(&srv->workers[i], NULL, worker_main, srv) != 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "start worker thread");
    return 0;
}

void berth_server_shutdown(struct berth_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    if (srv->stopping) {
        pthread_mutex_unlock(&srv->mu);
        return;
    }
    srv->stopping = true;
    pthread_mutex_unlock(&srv->mu);
    grpc_server_shutdown_and_notify(srv->gs, srv->cq, &srv->t_shutdown);
}

void berth_server_wait(struct berth_server *srv)
{
    struct timespec until;
    bool cancelled = false;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += srv->grace_ms / 1000;
    until.tv_nsec += (srv->grace_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&srv->mu);
    while (!srv->shutdown_done) {
        if (cancelled) {
            pthread_cond_wait(&srv->cv, &srv->mu);
            continue;
        }
        if (pthread_cond_timedwait(&srv->cv, &srv->mu, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&srv->mu);
            log_warn("calls still in flight after %lld ms, cancelling them",
                     (long long)srv->grace_ms);
            grpc_server_cancel_all_calls(srv->gs);
            cancelled = true;
            pthread_mutex_lock(&srv->mu);
        }
    }
    pthread_mutex_unlock(&srv->mu);
    /* Stream threads finish their last ops while the CQ still runs. */
    while (atomic_load(&srv->live_streams) > 0)
        usleep(1000);
    pthread_mutex_lock(&srv->mu);
    srv->workers_stop = true;
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
    for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
        pthread_join(srv->workers[i], NULL);
    grpc_server_destroy(srv->gs);
    srv->gs = NULL;
    grpc_completion_queue_shutdown(srv->cq);
    for (unsigned i = 0; srv->cq_threads && i < srv->n_cq; i++)
        pthread_join(srv->cq_threads[i], NULL);
}

void berth_server_free(struct berth_server *srv)
{
    if (!srv)
        return;
    if (srv->gs) {
        /* never started (or start failed early): nothing in flight */
        grpc_server_shutdown_and_notify(srv->gs, srv->cq, &srv->t_shutdown);
        grpc_server_cancel_all_calls(srv->gs);
        for (;;) {
            grpc_event ev =
                grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            if (ev.type == GRPC_OP_COMPLETE && ev.tag == &srv->t_shutdown)
                break;
        }
        grpc_server_destroy(srv->gs);
        grpc_completion_queue_shutdown(srv->cq);
        while (grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
               GRPC_QUEUE_SHUTDOWN)
            ;
    }
    grpc_completion_queue_destroy(srv->cq);
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->cv);
    free(srv->cq_threads);
    free(srv->workers);
    free(srv);
    grpc_shutdown();
}
