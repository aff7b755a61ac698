/* SPDX-License-Identifier: Apache-2.0 */
/* ttrpc server connections: non-blocking reads fed to the frame reader, dispatch by
 * service/method name, responses queued in an output buffer and written as the socket allows.
 * Protocol errors are answered the way containerd/ttrpc's server answers them (same codes and
 * wording), so Go clients see familiar errors. Single-threaded by design: no locks. */
#define BERTH_LOG_SUBSYS "ttrpc"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "api/ttrpc/ttrpc.pb-c.h" /* ttrpc.Request/Response envelopes */
#include "lib/log.h"
#include "lib/status.h"
#include "ttrpc/frame.h"
#include "ttrpc/server.h"

/* Stop reading from a client that leaves this much output unread. */
#define OUT_HIGH_WATER (16u << 20)

struct berth_ttrpc_server {
    const struct berth_ttrpc_service *const *svcs; /* borrowed */
    size_t n;
    void *app; /* borrowed */
    berth_ttrpc_wake_fn wake;
};

struct berth_ttrpc_conn {
    struct berth_ttrpc_server *srv; /* borrowed */
    int fd;
    int refs; /* the owner's reference plus one per pending call */
    bool closed;
    struct berth_ttrpc_reader rd;
    struct berth_ttrpc_wbuf out;
    uint32_t last_request_id;
    void *udata; /* borrowed */
};

struct berth_ttrpc_pending {
    struct berth_ttrpc_conn *conn; /* holds a reference */
    uint32_t stream_id;            /* 0 once answered */
    /* The call's context while its handler runs (a handler may reply, or drop the handle,
     * before it returns); NULL after. */
    struct berth_ttrpc_ctx *ctx;
};

DEFINE_PB_CLEANUP(Ttrpc__Request, request_freep)
static inline void msg_freep(ProtobufCMessage **p)
{
    if (*p)
        protobuf_c_message_free_unpacked(*p, NULL);
}

void berth_ttrpc_pack(struct berth_bytes *out, const ProtobufCMessage *msg)
{
    out->len = protobuf_c_message_get_packed_size(msg);
    out->data = out->len ? berth_xmalloc(out->len) : NULL;
    if (out->len)
        protobuf_c_message_pack(msg, out->data);
}

struct berth_ttrpc_server *berth_ttrpc_server_new(const struct berth_ttrpc_service *const *svcs,
                                                  size_t n, void *app)
{
    struct berth_ttrpc_server *srv = berth_xcalloc(1, sizeof(*srv));

    srv->svcs = svcs;
    srv->n = n;
    srv->app = app;
    return srv;
}

void berth_ttrpc_server_set_wake(struct berth_ttrpc_server *srv, berth_ttrpc_wake_fn fn)
{
    srv->wake = fn;
}

void berth_ttrpc_server_free(struct berth_ttrpc_server *srv)
{
    free(srv);
}

static void conn_unref(struct berth_ttrpc_conn *conn)
{
    if (--conn->refs > 0)
        return;
    berth_ttrpc_reader_clear(&conn->rd);
    berth_ttrpc_wbuf_clear(&conn->out);
    free(conn);
}

int berth_ttrpc_conn_new(struct berth_ttrpc_server *srv, int fd, struct berth_ttrpc_conn **out,
                         struct berth_err **err)
{
    struct berth_ttrpc_conn *conn;
    int flags;

    *out = NULL;
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return berth_err_set(err, BERTH_E_INTERNAL, e, "make ttrpc connection non-blocking");
    }
    conn = berth_xcalloc(1, sizeof(*conn));
    conn->srv = srv;
    conn->fd = fd;
    conn->refs = 1;
    *out = conn;
    return 0;
}

int berth_ttrpc_conn_fd(const struct berth_ttrpc_conn *conn)
{
    return conn->fd;
}

void berth_ttrpc_conn_set_udata(struct berth_ttrpc_conn *conn, void *udata)
{
    conn->udata = udata;
}

void *berth_ttrpc_conn_udata(const struct berth_ttrpc_conn *conn)
{
    return conn->udata;
}

bool berth_ttrpc_conn_wants_write(const struct berth_ttrpc_conn *conn)
{
    return !conn->closed && berth_ttrpc_wbuf_pending(&conn->out) > 0;
}

bool berth_ttrpc_conn_wants_read(const struct berth_ttrpc_conn *conn)
{
    return !conn->closed && berth_ttrpc_wbuf_pending(&conn->out) < OUT_HIGH_WATER;
}

void berth_ttrpc_conn_close(struct berth_ttrpc_conn *conn)
{
    if (!conn)
        return;
    conn->closed = true;
    berth_closep(&conn->fd);
    conn_unref(conn);
}

static int io_err(int e, const char *what, struct berth_err **err)
{
    if (e == EPIPE || e == ECONNRESET)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "ttrpc connection closed by peer");
    return berth_err_set(err, BERTH_E_INTERNAL, e, "%s ttrpc connection", what);
}

static int flush(struct berth_ttrpc_conn *conn, struct berth_err **err)
{
    while (berth_ttrpc_wbuf_pending(&conn->out) > 0) {
        ssize_t n = send(conn->fd, conn->out.data + conn->out.off,
                         berth_ttrpc_wbuf_pending(&conn->out), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return io_err(errno, "write", err);
        }
        berth_ttrpc_wbuf_consume(&conn->out, (size_t)n);
    }
    return 0;
}

/* Queues a Response frame. A response too large for one frame becomes RESOURCE_EXHAUSTED. */
static void queue_response(struct berth_ttrpc_conn *conn, uint32_t id, int code, const char *msg,
                           const void *payload, size_t len)
{
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
    _cleanup_err_ struct berth_err *e = NULL;
    struct berth_bytes b = {0};

    st.code = code;
    st.message = (char *)(msg ? msg : "");
    resp.status = &st; /* always present, even for OK, as Go's server sends it */
    resp.payload.data = (uint8_t *)payload;
    resp.payload.len = len;
    berth_ttrpc_pack(&b, &resp.base);
    if (berth_ttrpc_frame_append(&conn->out, id, BERTH_TTRPC_RESPONSE, 0, b.data, b.len, &e) < 0) {
        berth_bytes_clear(&b);
        queue_response(conn, id, BERTH_GRPC_RESOURCE_EXHAUSTED, e->msg, NULL, 0);
        return;
    }
    berth_bytes_clear(&b);
}

static void queue_error(struct berth_ttrpc_conn *conn, uint32_t id, const struct berth_err *e)
{
    _cleanup_free_ char *msg = NULL;

    if (!e) {
        queue_response(conn, id, BERTH_GRPC_UNKNOWN, "handler failed without an error", NULL, 0);
        return;
    }
    msg = berth_err_status_message(e);
    queue_response(conn, id, berth_errc_to_grpc(e->code), msg, NULL, 0);
}

const char *berth_ttrpc_ctx_metadata(const struct berth_ttrpc_ctx *ctx, const char *key)
{
    const Ttrpc__Request *req = ctx->request;

    if (!req)
        return NULL;
    for (size_t i = 0; i < req->n_metadata; i++)
        if (req->metadata[i]->key && strcmp(req->metadata[i]->key, key) == 0)
            return req->metadata[i]->value;
    return NULL;
}

struct berth_ttrpc_pending *berth_ttrpc_ctx_defer(struct berth_ttrpc_ctx *ctx)
{
    struct berth_ttrpc_pending *p;

    if (ctx->deferred)
        return ctx->deferred;
    p = berth_xcalloc(1, sizeof(*p));
    p->conn = ctx->conn;
    p->stream_id = ctx->stream_id;
    p->ctx = ctx;
    p->conn->refs++;
    ctx->deferred = p;
    return p;
}

struct berth_ttrpc_conn *berth_ttrpc_pending_conn(const struct berth_ttrpc_pending *p)
{
    return p->conn;
}

void berth_ttrpc_pending_free(struct berth_ttrpc_pending *p)
{
    if (!p)
        return;
    if (p->ctx) /* gone before its handler returned */
        p->ctx->deferred = NULL;
    conn_unref(p->conn);
    free(p);
}

void berth_ttrpc_pending_reply(struct berth_ttrpc_pending *p, const void *payload, size_t len,
                               const struct berth_err *e)
{
    struct berth_ttrpc_conn *conn = p->conn;
    _cleanup_err_ struct berth_err *ferr = NULL;

    if (p->ctx)
        p->ctx->answered = true;
    if (!conn->closed && p->stream_id != 0) {
        if (e)
            queue_error(conn, p->stream_id, e);
        else
            queue_response(conn, p->stream_id, BERTH_GRPC_OK, NULL, payload, len);
        /* A write error surfaces as EOF/HUP in the owner's loop; nothing to report here. */
        (void)flush(conn, &ferr);
        if (berth_ttrpc_conn_wants_write(conn) && conn->srv->wake)
            conn->srv->wake(conn, conn->udata);
    }
    berth_ttrpc_pending_free(p);
}

void berth_ttrpc_pending_reply_msg(struct berth_ttrpc_pending *p, const ProtobufCMessage *msg)
{
    struct berth_bytes b = {0};

    if (msg)
        berth_ttrpc_pack(&b, msg);
    berth_ttrpc_pending_reply(p, b.data, b.len, NULL);
    berth_bytes_clear(&b);
}

static const struct berth_ttrpc_method *find_method(const struct berth_ttrpc_server *srv,
                                                    const char *service, const char *method,
                                                    bool *service_known)
{
    *service_known = false;
    for (size_t i = 0; i < srv->n; i++) {
        const struct berth_ttrpc_service *s = srv->svcs[i];
        if (strcmp(s->name, service) != 0)
            continue;
        *service_known = true;
        for (size_t j = 0; j < s->n_methods; j++)
            if (strcmp(s->methods[j].name, method) == 0)
                return &s->methods[j];
    }
    return NULL;
}

static void handle_request(struct berth_ttrpc_conn *conn, const struct berth_ttrpc_frame *f)
{
    _cleanup_(request_freep) Ttrpc__Request *req = NULL;
    _cleanup_(msg_freep) ProtobufCMessage *in = NULL;
    _cleanup_err_ struct berth_err *e = NULL;
    struct berth_bytes out = {0};
    const struct berth_ttrpc_method *m;
    struct berth_ttrpc_ctx ctx = {0};
    uint32_t id = f->hdr.stream_id;
    bool service_known;
    int rc;

    req = ttrpc__request__unpack(NULL, f->hdr.length, f->payload);
    if (!req) {
        queue_response(conn, id, BERTH_GRPC_INVALID_ARGUMENT,
                       "unmarshal request error: invalid ttrpc.Request", NULL, 0);
        return;
    }
    m = find_method(conn->srv, req->service, req->method, &service_known);
    if (!m) {
        _cleanup_free_ char *msg = service_known ? berth_strdup_printf("method %s", req->method)
                                                 : berth_strdup_printf("service %s", req->service);
        queue_response(conn, id, BERTH_GRPC_UNIMPLEMENTED, msg, NULL, 0);
        return;
    }
    in = protobuf_c_message_unpack(m->input, NULL, req->payload.len, req->payload.data);
    if (!in) {
        _cleanup_free_ char *msg =
            berth_strdup_printf("ttrpc: error unmarshalling payload: invalid %s", m->input->name);
        queue_response(conn, id, BERTH_GRPC_INTERNAL, msg, NULL, 0);
        return;
    }

    ctx.service = req->service;
    ctx.method = req->method;
    ctx.stream_id = id;
    ctx.app = conn->srv->app;
    ctx.conn = conn;
    ctx.request = req;
    ctx.ns = berth_ttrpc_ctx_metadata(&ctx, BERTH_TTRPC_NS_KEY);
    if (req->timeout_nano > 0)
        ctx.deadline_mono_ns = berth_mono_ns() + req->timeout_nano;

    rc = m->handler(&ctx, in, &out, &e);
    if (ctx.deferred) /* ctx ends here; the handle lives on */
        ctx.deferred->ctx = NULL;
    if (ctx.answered) {
        /* the handler replied through its handle already: one answer per call */
    } else if (rc < 0) {
        if (ctx.deferred) /* the handler gave up after all; its handle becomes a no-op */
            ctx.deferred->stream_id = 0;
        queue_error(conn, id, e);
    } else if (!ctx.deferred) {
        queue_response(conn, id, BERTH_GRPC_OK, NULL, out.data, out.len);
    }
    berth_bytes_clear(&out);
}

static void handle_frame(struct berth_ttrpc_conn *conn, const struct berth_ttrpc_frame *f)
{
    _cleanup_err_ struct berth_err *e = NULL;

    if (berth_ttrpc_check_from_client(&f->hdr, &conn->last_request_id, &e) < 0) {
        /* Answered on the offending id so the client knows which stream was bad. */
        queue_response(conn, f->hdr.stream_id, BERTH_GRPC_INVALID_ARGUMENT, e->msg, NULL, 0);
        return;
    }
    switch (f->hdr.type) {
    case BERTH_TTRPC_REQUEST:
        handle_request(conn, f);
        break;
    case BERTH_TTRPC_DATA:
        /* Only unary methods exist here, so no stream ever accepts data. */
        queue_response(conn, f->hdr.stream_id, BERTH_GRPC_INVALID_ARGUMENT,
                       "StreamID is no longer active", NULL, 0);
        break;
    default: /* a response from a client means nothing; ignore it like containerd */
        break;
    }
}

static void process(struct berth_ttrpc_conn *conn, const uint8_t *data, size_t len)
{
    size_t pos = 0, used;

    while (pos < len) {
        _cleanup_err_ struct berth_err *e = NULL;
        struct berth_ttrpc_frame f = {0};
        int rc = berth_ttrpc_reader_feed(&conn->rd, data + pos, len - pos, &used, &f, &e);

        pos += used;
        if (rc > 0) {
            handle_frame(conn, &f);
            berth_ttrpc_frame_clear(&f);
        } else if (rc < 0) {
            if (e->code == BERTH_E_RESOURCE_EXHAUSTED)
                queue_response(conn, f.hdr.stream_id, BERTH_GRPC_RESOURCE_EXHAUSTED, e->msg, NULL,
                               0);
            /* Unknown message types are skipped for forward compatibility. */
        }
    }
}

int berth_ttrpc_conn_on_readable(struct berth_ttrpc_conn *conn, struct berth_err **err)
{
    /* 8 KiB a read: every stack page this touches stays resident for the life of a shim, and
     * Task API requests are small; big frames just take more rounds. */
    uint8_t buf[8192];

    /* Bounded, so one busy client can't starve the rest of a level-triggered loop. */
    for (int round = 0; round < 128; round++) {
        ssize_t n = read(conn->fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return io_err(errno, "read", err);
        }
        if (n == 0)
            return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "ttrpc connection closed by peer%s",
                                 berth_ttrpc_reader_partial(&conn->rd) ? " mid-frame" : "");
        process(conn, buf, (size_t)n);
        if ((size_t)n < sizeof(buf) || !berth_ttrpc_conn_wants_read(conn))
            break;
    }
    return flush(conn, err);
}

int berth_ttrpc_conn_on_writable(struct berth_ttrpc_conn *conn, struct berth_err **err)
{
    return flush(conn, err);
}

int berth_ttrpc_server_listen(const char *path, int *fd_out, struct berth_err **err)
{
    _cleanup_close_ int fd = -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    *fd_out = -1;
    if (strlen(path) >= sizeof(sa.sun_path))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "socket path \"%s\" is too long",
                             path);
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "create socket \"%s\"", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "remove stale socket \"%s\"", path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "bind \"%s\"", path);
    if (chmod(path, 0600) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "chmod \"%s\"", path);
    if (listen(fd, 128) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "listen on \"%s\"", path);
    *fd_out = steal_fd(fd);
    return 0;
}

/* serve(): one slot per connection, the epoll data pointer. */
struct slot {
    struct berth_ttrpc_conn *conn;
    uint32_t events; /* what epoll currently watches */
};

static void slot_drop(int ep, struct slot **slots, size_t *n, size_t i)
{
    struct slot *s = slots[i];

    epoll_ctl(ep, EPOLL_CTL_DEL, berth_ttrpc_conn_fd(s->conn), NULL);
    berth_ttrpc_conn_close(s->conn);
    free(s);
    slots[i] = slots[--*n];
}

int berth_ttrpc_server_serve(struct berth_ttrpc_server *srv, int listen_fd, int stop_fd,
                             struct berth_err **err)
{
    static char listen_tag, stop_tag;
    _cleanup_close_ int ep = -1;
    _cleanup_free_ struct slot **slots = NULL;
    size_t n = 0, cap = 0;
    struct epoll_event ev, evs[64];
    int ret = 0;

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "epoll_create1");
    ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &listen_tag};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "watch ttrpc listener");
    ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &stop_tag};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, stop_fd, &ev) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "watch stop fd");

    for (;;) {
        int k = epoll_wait(ep, evs, BERTH_N(evs), -1);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            ret = berth_err_set(err, BERTH_E_INTERNAL, errno, "epoll_wait");
            break;
        }
        for (int i = 0; i < k; i++) {
            if (evs[i].data.ptr == &stop_tag)
                goto out;
            if (evs[i].data.ptr == &listen_tag) {
                for (;;) {
                    _cleanup_err_ struct berth_err *e = NULL;
                    struct berth_ttrpc_conn *conn;
                    struct slot *s;
                    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                    if (fd < 0) {
                        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                            errno != ECONNABORTED)
                            log_warn_errno(errno, "accept ttrpc connection");
                        break;
                    }
                    if (berth_ttrpc_conn_new(srv, fd, &conn, &e) < 0) {
                        log_warn("%s", e->msg);
                        continue;
                    }
                    s = berth_xcalloc(1, sizeof(*s));
                    s->conn = conn;
                    s->events = EPOLLIN;
                    berth_ttrpc_conn_set_udata(conn, s);
                    ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = s};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        log_warn_errno(errno, "watch ttrpc connection");
                        berth_ttrpc_conn_close(conn);
                        free(s);
                        continue;
                    }
                    if (n == cap) {
                        cap = cap ? cap * 2 : 8;
                        slots = berth_xrealloc(slots, cap * sizeof(*slots));
                    }
                    slots[n++] = s;
                }
                continue;
            }
            {
                _cleanup_err_ struct berth_err *e = NULL;
                struct slot *s = evs[i].data.ptr;
                int rc = 0;

                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    rc = berth_ttrpc_conn_on_readable(s->conn, &e);
                if (rc == 0 && (evs[i].events & EPOLLOUT))
                    rc = berth_ttrpc_conn_on_writable(s->conn, &e);
                if (rc < 0) {
                    if (e->code != BERTH_E_UNAVAILABLE)
                        log_warn("%s", e->msg);
                    for (size_t j = 0; j < n; j++)
                        if (slots[j] == s) {
                            slot_drop(ep, slots, &n, j);
                            break;
                        }
                }
            }
        }
        /* Handlers may have queued output on any connection (deferred replies): re-arm. */
        for (size_t j = 0; j < n; j++) {
            struct slot *s = slots[j];
            uint32_t want = (berth_ttrpc_conn_wants_read(s->conn) ? EPOLLIN : 0) |
                            (berth_ttrpc_conn_wants_write(s->conn) ? EPOLLOUT : 0);
            if (want == s->events)
                continue;
            ev = (struct epoll_event){.events = want, .data.ptr = s};
            if (epoll_ctl(ep, EPOLL_CTL_MOD, berth_ttrpc_conn_fd(s->conn), &ev) == 0)
                s->events = want;
        }
    }
out:
    while (n > 0)
        slot_drop(ep, slots, &n, n - 1);
    return ret;
}
