/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One call: its references, its sends and receives, its final status and the one log line a
 * failed call gets.
 *
 * References: a unary call that runs on the CQ thread holds one (its final batch, which also
 * carries RECV_CLOSE_ON_SERVER). One that runs on the worker pool holds two: an early lone
 * RECV_CLOSE_ON_SERVER batch (it reports cancellation while the handler runs) and the final
 * batch. A stream holds three: the early close batch, the final batch and the handler thread.
 *
 * Streams send asynchronously: messages queue on the call and the CQ thread starts the next
 * send when the previous one completes, so a stream costs no thread hand-off per message.
 */
#define BERTH_LOG_SUBSYS "server"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "services/server/server-internal.h"

#define SENDQ_MAX 256 /* queued stream messages before send blocks */
#define SENDQ_LOW 64  /* ... and the level at which it resumes */

bool berth_svc_ctx_done(const struct berth_svc_ctx *ctx)
{
    if (ctx->call && atomic_load(&ctx->call->cancelled))
        return true;
    return ctx->deadline_mono_ns && berth_mono_ns() >= ctx->deadline_mono_ns;
}

char *berth_call_slice_dup(grpc_slice s)
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

void berth_call_unref(struct berth_call *c)
{
    struct berth_server *srv = c->srv;

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
    if (c->counted) {
        atomic_fetch_sub(&srv->calls, 1);
        berth_cq_load_release(srv, c->conn_fd, false);
    }
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

void berth_call_log_error(struct berth_call *c, enum berth_errc code, const char *msg)
{
    enum berth_log_level lvl =
        code == BERTH_E_INTERNAL || code == BERTH_E_DATA_LOSS ? BERTH_LOG_WARN : BERTH_LOG_INFO;
    char key[512], note[BERTH_RATELIMIT_NOTE_MAX];
    uint64_t held = 0;
    int n;

    if (!berth_log_enabled(lvl))
        return;
    /* A client retrying the same bad call forever (kubelet does) costs one line per interval:
     * the key is what the line would say apart from the time. */
    n = snprintf(key, sizeof(key), "%s\n%s\n%d\n%s", c->method, c->ns ? c->ns : "", (int)code, msg);
    if (!berth_ratelimit_pass(c->srv->log_rl, key,
                              n > 0 && (size_t)n < sizeof(key) ? (size_t)n : sizeof(key) - 1,
                              &held))
        return;
    berth_log_write(lvl, BERTH_LOG_SUBSYS, 0, "%s ns=%s: %s: %s%s", c->method, c->ns ? c->ns : "-",
                    berth_errc_name(code), msg, berth_ratelimit_note(held, note));
}

void berth_call_finish(struct berth_call *c, const struct berth_err *e,
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
    if (!e && out && c->mm)
        berth_counter_inc(c->mm->sent);
    berth_server_metrics_handled(c, e ? berth_errc_to_grpc(e->code) : BERTH_GRPC_OK);
    if (!e && out) {
        c->send_bb = bytes_to_bb(out->data, out->len);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = c->send_bb;
        n++;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    if (e) {
        c->status_msg = berth_err_status_message(e);
        c->status_code = e->code;
        ops[n].data.send_status_from_server.status = (grpc_status_code)berth_errc_to_grpc(e->code);
        /* The core copies the details at start_batch. */
        details = grpc_slice_from_static_string(c->status_msg);
        ops[n].data.send_status_from_server.status_details = &details;
        /* A unary call's error is logged when its final batch is done: only then is it known
         * whether the client had cancelled (a cancelled call is not the server's error). */
        if (c->streaming)
            berth_call_log_error(c, c->status_code, c->status_msg);
        else
            c->log_pending = true;
    } else {
        ops[n].data.send_status_from_server.status = GRPC_STATUS_OK;
    }
    n++;
    if (!c->streaming && !c->early_close) {
        ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        ops[n].data.recv_close_on_server.cancelled = &c->close_cancelled;
        n++;
    }
    rc = grpc_call_start_batch(c->gc, ops, n, &c->t_final, NULL);
    if (rc != GRPC_CALL_OK) {
        log_error("%s: start final batch: grpc call error %d", c->method, rc);
        berth_call_unref(c);
    }
}

void berth_call_on_final(struct berth_call *c)
{
    if (c->log_pending) {
        if (c->close_cancelled || atomic_load(&c->cancelled))
            log_debug("%s ns=%s: cancelled by the client", c->method, c->ns ? c->ns : "-");
        else
            berth_call_log_error(c, c->status_code, c->status_msg);
    }
    berth_call_unref(c);
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

void berth_call_on_send_done(struct berth_call *c, bool ok)
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
        berth_call_finish(c, c->final_err, NULL);
    /* Wake the producer only at the low-water mark: waking it per message would cost two
     * context switches for every message sent. */
    if (c->producer_waiting && (c->send_failed || c->sq_len <= SENDQ_LOW)) {
        c->producer_waiting = false;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    berth_call_unref(c);
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
    if (c->mm)
        berth_counter_inc(c->mm->sent);
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

int berth_call_bb_decode(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb,
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
    ret = berth_call_bb_decode(c->in_desc, bb, out, err);
    grpc_byte_buffer_destroy(bb);
    if (ret == 0 && c->mm)
        berth_counter_inc(c->mm->received);
    return ret;
}
