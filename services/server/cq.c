/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The completion-queue loop and where handlers run. Unary handlers that never wait run right
 * on the CQ thread; listings that match filters run on a small pool of their own and the
 * other unary handlers (writes) on the worker pool. Streaming handlers get a thread of
 * their own (a stream may live as long as the client wants), up to a bound. Admission keeps
 * one client from exhausting the daemon: past max_calls calls in flight or max_stream_threads
 * streams, a call is answered RESOURCE_EXHAUSTED before anything is read or decoded, and a
 * call whose request message does not arrive within the request timeout is cancelled.
 */
#define BERTH_LOG_SUBSYS "server"

#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/support/alloc.h> /* gpr_free for the peer string */
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "services/server/server-internal.h"

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

/* The connection a call came on: berthd hands connections to the core by descriptor, which
 * names them "fd:N". */
static int call_conn_fd(grpc_call *gc)
{
    char *peer = grpc_call_get_peer(gc);
    int fd = -1;

    if (peer && berth_str_has_prefix(peer, "fd:"))
        fd = atoi(peer + 3);
    gpr_free(peer);
    return fd;
}

/* Takes a place among the connection's calls (or streams); false when it has none left. */
static bool load_take(struct berth_server *srv, int fd, bool stream)
{
    struct conn_load *l = NULL;
    unsigned *n;
    bool ok;

    if (fd < 0)
        return true;
    pthread_mutex_lock(&srv->load_mu);
    for (size_t i = 0; i < srv->n_loads && !l; i++)
        if (srv->loads[i].fd == fd)
            l = &srv->loads[i];
    if (!l) {
        if (srv->n_loads == srv->cap_loads) {
            srv->cap_loads = srv->cap_loads ? srv->cap_loads * 2 : 64;
            srv->loads = berth_xrealloc(srv->loads, srv->cap_loads * sizeof(*srv->loads));
        }
        l = &srv->loads[srv->n_loads++];
        *l = (struct conn_load){.fd = fd};
    }
    n = stream ? &l->streams : &l->calls;
    ok = *n < srv->max_per_conn;
    if (ok)
        (*n)++;
    if (!l->calls && !l->streams)
        *l = srv->loads[--srv->n_loads];
    pthread_mutex_unlock(&srv->load_mu);
    return ok;
}

/* Takes a place among the calls (or streaming calls) in flight, in all and on the call's
 * connection; RESOURCE_EXHAUSTED naming the bound when there is none. */
static int admit(struct berth_server *srv, int fd, bool stream, struct berth_err **err)
{
    atomic_uint *in_flight = stream ? &srv->live_streams : &srv->calls;
    atomic_ullong *refused = stream ? &srv->refused_streams : &srv->refused_calls;
    unsigned limit = stream ? srv->max_stream_threads : srv->max_calls;
    const char *what = stream ? "streaming calls" : "calls";

    if (atomic_fetch_add(in_flight, 1) >= limit) {
        atomic_fetch_sub(in_flight, 1);
        atomic_fetch_add(refused, 1);
        return berth_err_set(err, BERTH_E_RESOURCE_EXHAUSTED, 0, "too many %s in flight (limit %u)",
                             what, limit);
    }
    if (!load_take(srv, fd, stream)) {
        atomic_fetch_sub(in_flight, 1);
        atomic_fetch_add(refused, 1);
        return berth_err_set(err, BERTH_E_RESOURCE_EXHAUSTED, 0,
                             "too many %s in flight on this connection (limit %u)", what,
                             srv->max_per_conn);
    }
    return 0;
}

void berth_cq_load_release(struct berth_server *srv, int fd, bool stream)
{
    if (fd < 0)
        return;
    pthread_mutex_lock(&srv->load_mu);
    for (size_t i = 0; i < srv->n_loads; i++) {
        struct conn_load *l = &srv->loads[i];
        if (l->fd != fd)
            continue;
        if (stream && l->streams)
            l->streams--;
        else if (!stream && l->calls)
            l->calls--;
        if (!l->calls && !l->streams)
            *l = srv->loads[--srv->n_loads];
        break;
    }
    pthread_mutex_unlock(&srv->load_mu);
}

static void release_stream_slot(struct berth_call *c)
{
    if (c->stream_thread) {
        c->stream_thread = false;
        atomic_fetch_sub(&c->srv->live_streams, 1);
        berth_cq_load_release(c->srv, c->conn_fd, true);
    }
}

/* Answers a stream that will not reach its handler: gives back its slot and the handler's
 * reference. */
static void stream_reject(struct berth_call *c, struct berth_err *e)
{
    release_stream_slot(c);
    pthread_mutex_lock(&c->mu);
    berth_call_finish(c, e, NULL);
    pthread_mutex_unlock(&c->mu);
    berth_err_free(&e);
    berth_call_unref(c); /* no handler will run */
}

/* Runs a call's handler on the current thread and finishes it (or, for a stream with sends
 * still queued, leaves the final batch to the last send completion). */
static void call_run(struct berth_call *c)
{
    struct berth_svc_ctx ctx;
    struct berth_err *e = NULL;
    struct berth_bytes out = {0};
    int64_t t0 = berth_mono_ns();
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
    /* An import, pull or unpack leaves megabytes of freed buffers in the arenas: ask the
     * listener's tick for a trim soon rather than in up to 30 s. */
    if (berth_mono_ns() - t0 >= LONG_CALL_NS)
        atomic_store(&c->srv->long_call_done, true);
    if (!c->streaming) {
        berth_call_finish(c, ret < 0 ? e : NULL, &out);
        berth_err_free(&e);
        berth_bytes_clear(&out);
        return;
    }
    pthread_mutex_lock(&c->mu);
    c->handler_done = true;
    c->final_err = ret < 0 ? steal_ptr(e) : NULL;
    berth_err_free(&e);
    if (!c->send_inflight)
        berth_call_finish(c, c->final_err, NULL);
    pthread_mutex_unlock(&c->mu);
    berth_call_unref(c); /* the handler's reference */
}

static void *stream_thread(void *arg)
{
    struct berth_call *c = arg;
    struct berth_server *srv = c->srv;
    int fd = c->conn_fd;

    /* The slot is given back after the handler, from copies: after call_run the call may be
     * gone. */
    c->stream_thread = false;
    call_run(c);
    berth_cq_load_release(srv, fd, true);
    atomic_fetch_sub(&srv->live_streams, 1);
    return NULL;
}

void *berth_worker_main(void *arg)
{
    struct berth_pool *pool = arg;
    struct berth_server *srv = pool->srv;

    pthread_mutex_lock(&srv->mu);
    for (;;) {
        struct berth_call *c;
        if (!pool->head && !srv->workers_stop) {
            struct timespec until;
            int rc = 0;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_sec += BERTH_POOL_IDLE_NS / 1000000000LL;
            pool->idle++;
            while (!pool->head && !srv->workers_stop && rc != ETIMEDOUT)
                rc = pthread_cond_timedwait(&pool->cv, &srv->mu, &until);
            pool->idle--;
        }
        if (!pool->head)
            break; /* idle too long, or stopping */
        c = pool->head;
        pool->head = c->next;
        if (!pool->head)
            pool->tail = NULL;
        pthread_mutex_unlock(&srv->mu);
        call_run(c);
        pthread_mutex_lock(&srv->mu);
    }
    /* Detached: nothing of the server is touched once the lock is given back. */
    if (--pool->live == 0)
        pthread_cond_broadcast(&pool->gone);
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

/* Queues a unary call for the pool, making a thread when none waits. With no thread at all
 * (the first could not be made) the caller runs the call itself: late beats never. The queue
 * then holds only this call, since a thread ends only when the queue is empty. */
static void pool_queue(struct berth_pool *pool, struct berth_call *c)
{
    struct berth_server *srv = pool->srv;
    bool inline_run = false;

    pthread_mutex_lock(&srv->mu);
    c->next = NULL;
    if (pool->tail)
        pool->tail->next = c;
    else
        pool->head = c;
    pool->tail = c;
    if (pool->idle > 0) {
        pthread_cond_signal(&pool->cv);
    } else if (pool->live < pool->max) {
        pthread_attr_t attr;
        pthread_t t;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, berth_worker_main, pool) == 0) {
            pool->live++;
        } else if (pool->live == 0) {
            pool->head = c->next;
            if (!pool->head)
                pool->tail = NULL;
            inline_run = true;
        }
        pthread_attr_destroy(&attr);
    }
    pthread_mutex_unlock(&srv->mu);
    if (inline_run)
        call_run(c);
}

/* Starts the lone RECV_CLOSE_ON_SERVER batch that reports a client's cancel (or the
 * shutdown's cancel-all) while the handler runs. The caller counted its reference; it is given
 * back when the batch cannot start. */
static bool start_close(struct berth_call *c)
{
    grpc_op op;

    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->close_cancelled;
    if (grpc_call_start_batch(c->gc, &op, 1, &c->t_close, NULL) == GRPC_CALL_OK)
        return true;
    atomic_fetch_sub(&c->refs, 1);
    return false;
}

/* True when a listing's request carries a filter ("filters" or "filter", non-empty). Without
 * one a listing is a bounded read and stays on the CQ thread. */
static bool has_filter(const ProtobufCMessage *req)
{
    static const char *const names[] = {"filters", "filter"};

    for (size_t i = 0; i < BERTH_N(names); i++) {
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(req->descriptor, names[i]);
        const char *base = (const char *)req;
        if (!f || f->type != PROTOBUF_C_TYPE_STRING)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (*(const size_t *)(base + f->quantifier_offset) > 0)
                return true;
        } else {
            const char *v = *(const char *const *)(base + f->offset);
            if (v && *v)
                return true;
        }
    }
    return false;
}

static void dispatch(struct berth_call *c)
{
    struct berth_server *srv = c->srv;
    pthread_attr_t attr;
    pthread_t t;
    int rc;

    if (!c->streaming) {
        struct berth_pool *pool;
        if (c->m->nonblocking && (!c->m->listing || !has_filter(c->req))) {
            call_run(c);
            return;
        }
        /* A call for a pool may run long (a costly filter): it watches for its client
         * cancelling, or the shutdown cancelling all calls, while it runs, as a stream does.
         * Nothing else holds a reference yet (no final batch before a handler). */
        atomic_store(&c->refs, 2);
        c->early_close = start_close(c);
        pool = c->m->listing ? &srv->listers : &srv->workers;
        pool_queue(pool, c);
        return;
    }
    /* The stream slot was taken at admission; the thread gives it back. */
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &attr, stream_thread, c);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        struct berth_err *e = NULL;
        berth_err_set(&e, BERTH_E_RESOURCE_EXHAUSTED, rc, "start stream thread");
        stream_reject(c, e);
    }
}

/* A posted request_call: what the core fills in when a call arrives. */
struct pending {
    struct tag tag;
    grpc_call *gc;
    grpc_call_details details;
    grpc_metadata_array md;
};

void berth_cq_post_request(struct berth_server *srv)
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

/* Answers a call that never reaches a handler. */
static void reject(struct berth_call *c, struct berth_err *e)
{
    if (c->streaming) {
        stream_reject(c, e);
        return;
    }
    berth_call_finish(c, e, NULL);
    berth_err_free(&e);
}

/* A header value as a C string; INVALID_ARGUMENT when it holds a NUL byte, which would cut
 * it short ("ab\0cd" naming namespace "ab"). */
static int header_dup(grpc_slice v, const char *name, char **out, struct berth_err **err)
{
    free(*out);
    *out = NULL;
    if (memchr(GRPC_SLICE_START_PTR(v), 0, GRPC_SLICE_LENGTH(v)))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "%s header has a NUL byte", name);
    *out = berth_call_slice_dup(v);
    return 0;
}

static void await_add(struct berth_call *c)
{
    struct berth_server *srv = c->srv;

    pthread_mutex_lock(&srv->await_mu);
    c->awaiting = true;
    c->await_prev = NULL;
    c->await_next = srv->await_head;
    if (srv->await_head)
        srv->await_head->await_prev = c;
    srv->await_head = c;
    pthread_mutex_unlock(&srv->await_mu);
}

static void await_remove(struct berth_call *c)
{
    struct berth_server *srv = c->srv;

    pthread_mutex_lock(&srv->await_mu);
    if (c->awaiting) {
        if (c->await_prev)
            c->await_prev->await_next = c->await_next;
        else
            srv->await_head = c->await_next;
        if (c->await_next)
            c->await_next->await_prev = c->await_prev;
        c->awaiting = false;
    }
    pthread_mutex_unlock(&srv->await_mu);
}

void berth_cq_reap_stalled(struct berth_server *srv, int64_t now_ns)
{
    pthread_mutex_lock(&srv->await_mu);
    for (struct berth_call *c = srv->await_head; c; c = c->await_next) {
        char msg[128], note[BERTH_RATELIMIT_NOTE_MAX];
        uint64_t held;
        if (now_ns - c->started < srv->request_timeout_ns)
            continue;
        /* Cancelling completes the pending receive; on_recv then takes the call off this
         * list (it waits for await_mu), so it stays valid while we hold the lock. */
        snprintf(msg, sizeof(msg), "request message not received within %lld ms",
                 (long long)(srv->request_timeout_ns / 1000000));
        c->started = INT64_MAX / 2; /* cancel once */
        grpc_call_cancel_with_status(c->gc, GRPC_STATUS_DEADLINE_EXCEEDED, msg, NULL);
        if (berth_ratelimit_pass(srv->log_rl, "stalled-request", 15, &held))
            log_info("%s ns=%s: %s: cancelled%s", c->method, c->ns ? c->ns : "-", msg,
                     berth_ratelimit_note(held, note));
    }
    pthread_mutex_unlock(&srv->await_mu);
}

static void on_new_call(struct berth_server *srv, struct pending *p)
{
    struct berth_call *c = berth_xcalloc(1, sizeof(*c));
    gpr_timespec now, left;
    grpc_op op;
    struct berth_err *e = NULL;

    atomic_fetch_add(&srv->calls_total, 1);
    c->srv = srv;
    c->gc = p->gc;
    c->conn_fd = call_conn_fd(p->gc);
    c->started = berth_mono_ns();
    c->method = berth_call_slice_dup(p->details.method);
    for (size_t i = 0; i < p->md.count && !e; i++) {
        if (grpc_slice_str_cmp(p->md.metadata[i].key, "containerd-namespace") == 0)
            header_dup(p->md.metadata[i].value, "containerd-namespace", &c->ns, &e);
        else if (grpc_slice_str_cmp(p->md.metadata[i].key, "containerd-lease") == 0)
            header_dup(p->md.metadata[i].value, "containerd-lease", &c->lease, &e);
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
    /* The method before anything can refuse the call, so that the refusals (bad headers,
     * admission) count against it as well: started_total - handled_total is then exactly the
     * calls in flight. */
    c->m = berth_server_find(srv->svcs, srv->n_svcs, c->method, &c->in_desc);
    c->mm = berth_server_method_metrics(srv, c->m);
    if (c->mm)
        berth_counter_inc(c->mm->started);

    if (e) {
        reject(c, e);
        return;
    }
    /* Admission first: past the bound a call costs one status and nothing else. */
    if (admit(srv, c->conn_fd, false, &e) < 0) {
        reject(c, e);
        return;
    }
    c->counted = true;
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
        if (admit(srv, c->conn_fd, true, &e) < 0) {
            reject(c, e);
            return;
        }
        c->stream_thread = true;
        c->streaming = true;
        atomic_store(&c->refs, 3);
        start_close(c);
    }
    if (c->m->kind == BERTH_BIDI_STREAM) {
        dispatch(c);
        return;
    }
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->recv_bb;
    await_add(c);
    if (grpc_call_start_batch(c->gc, &op, 1, &c->t_recv, NULL) != GRPC_CALL_OK) {
        await_remove(c);
        berth_err_set(&e, BERTH_E_INTERNAL, 0, "cannot read request");
        reject(c, e);
    }
}

static void on_recv(struct berth_call *c, bool ok)
{
    struct berth_err *e = NULL;
    grpc_byte_buffer *bb = steal_ptr(c->recv_bb);

    await_remove(c);
    if (!ok)
        berth_err_set(&e, BERTH_E_CANCELED, 0, "client went away before sending its request");
    else if (!bb)
        /* Either the client half-closed without a message or it cancelled the call; the
         * final batch tells which, and only the first is logged (call.c). */
        berth_err_set(&e, BERTH_E_INVALID_ARGUMENT, 0, "request message missing");
    else if (berth_call_bb_decode(c->in_desc, bb, &c->req, &e) == 0 && c->mm)
        berth_counter_inc(c->mm->received);
    if (bb)
        grpc_byte_buffer_destroy(bb);
    if (e) {
        reject(c, e);
        return;
    }
    dispatch(c);
}

void *berth_cq_main(void *arg)
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
                berth_cq_post_request(srv);
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
            berth_call_unref(c);
            break;
        case TAG_FINAL:
            berth_call_on_final(t->p);
            break;
        case TAG_SEND:
            berth_call_on_send_done(t->p, ev.success);
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
