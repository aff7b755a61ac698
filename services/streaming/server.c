/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The streaming server's loop: listener, one-time tokens, worker pool, HTTP upgrade and the
 * SPDY connection under every session (stream table, frames in and out, idle and closing
 * timers). Sessions (remotecommand.c, portforward.c) see streams and bytes, not frames.
 */
#define BERTH_LOG_SUBSYS "stream"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "services/streaming/http.h"
#include "services/streaming/stream-internal.h"
#include "services/streaming/websocket.h"

#define TOKEN_MAX        1000
#define TOKEN_TTL_NS     (60 * 1000000000LL)
#define HTTP_HEAD_MAX    8192
#define HTTP_TIMEOUT_NS  (10 * 1000000000LL) /* a request head must arrive within this */
#define CLOSE_GRACE_NS   (1000000000LL)      /* after GOAWAY: the client's close, or this */
#define WORKERS_MAX      4
#define WORKER_IDLE_SECS 30
#define MAX_CONNS        1024
#define WS_MESSAGE_MAX   (16u << 20) /* as SPDY's largest DATA frame */

struct token {
    char tok[9];
    int64_t expires;
    struct berth_stream_request *req;
};

struct stream_exit_slot {
    struct stream_exit_slot *next;
    char *container_id, *exec_id;
    bool exited, told;
    uint32_t status;
    void (*cb)(void *arg);
    void *arg;
};

struct stream_server {
    struct berth_stream_opts o;
    char *base_url; /* http://addr:port */
    uint16_t port;
    int ep;
    struct stream_watch listener, wake;
    pthread_t loop;
    bool loop_started;
    struct stream_conn *conns;
    size_t n_conns;

    pthread_mutex_t mu; /* tokens, jobs, done queue, exit slots, stopping */
    bool stopping;
    struct token *tokens;
    size_t n_tokens;
    struct stream_job *jobs, **jobs_tail, *done, **done_tail;
    pthread_cond_t job_cond, idle_cond;
    int n_workers, n_idle;
    struct stream_exit_slot *slots;
    bool exits_pending;
    void **deferred; /* freed after the current epoll batch */
    size_t n_deferred, cap_deferred;
};

void stream_defer_free(struct stream_server *s, void *p)
{
    if (!p)
        return;
    berth_vec_push(s->deferred, s->n_deferred, s->cap_deferred, p);
}

static void run_deferred(struct stream_server *s)
{
    for (size_t i = 0; i < s->n_deferred; i++)
        free(s->deferred[i]);
    s->n_deferred = 0;
}

int64_t stream_now(void)
{
    return berth_mono_ns();
}

const struct berth_stream_backend *stream_backend(struct stream_server *s)
{
    return &s->o.backend;
}

void berth_stream_request_free(struct berth_stream_request *r)
{
    if (!r)
        return;
    free(r->id);
    berth_strv_free(r->cmd);
    free(r->ports);
    free(r);
}

/* ---- epoll ---- */

void stream_watch_set(struct stream_server *s, struct stream_watch *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};

    if (w->fd < 0 || events == w->events)
        return;
    if (events == 0) {
        epoll_ctl(s->ep, EPOLL_CTL_DEL, w->fd, NULL);
    } else if (epoll_ctl(s->ep, w->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->fd, &ev) < 0) {
        log_warn_errno(errno, "watch fd %d", w->fd);
        return;
    }
    w->events = events;
}

void stream_watch_close(struct stream_server *s, struct stream_watch *w)
{
    if (w->fd < 0)
        return;
    stream_watch_set(s, w, 0);
    close(w->fd);
    w->fd = -1;
}

static void wake_loop(struct stream_server *s)
{
    uint64_t one = 1;
    ssize_t r = write(s->wake.fd, &one, sizeof(one));
    (void)r; /* a full counter still wakes the loop */
}

/* ---- worker pool ---- */

static void *worker_main(void *arg)
{
    struct stream_server *s = arg;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        struct stream_job *j;
        while (!s->jobs && !s->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += WORKER_IDLE_SECS;
            s->n_idle++;
            int r = pthread_cond_timedwait(&s->job_cond, &s->mu, &ts);
            s->n_idle--;
            if (r == ETIMEDOUT && !s->jobs)
                goto out;
        }
        if (!s->jobs)
            break; /* stopping and nothing queued */
        j = s->jobs;
        s->jobs = j->next;
        if (!s->jobs)
            s->jobs_tail = &s->jobs;
        pthread_mutex_unlock(&s->mu);
        j->run(s, j);
        pthread_mutex_lock(&s->mu);
        j->next = NULL;
        *s->done_tail = j;
        s->done_tail = &j->next;
        wake_loop(s);
    }
out:
    s->n_workers--;
    pthread_cond_broadcast(&s->idle_cond);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

void stream_job_submit(struct stream_server *s, struct stream_job *j)
{
    pthread_attr_t attr;
    pthread_t th;

    j->next = NULL;
    pthread_mutex_lock(&s->mu);
    *s->jobs_tail = j;
    s->jobs_tail = &j->next;
    if (s->n_idle > 0) {
        pthread_cond_signal(&s->job_cond);
    } else if (s->n_workers < WORKERS_MAX) {
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 << 10);
        if (pthread_create(&th, &attr, worker_main, s) == 0)
            s->n_workers++;
        else if (s->n_workers == 0)
            log_error("no worker thread for the streaming server: jobs wait");
        pthread_attr_destroy(&attr);
    }
    pthread_mutex_unlock(&s->mu);
}

static void run_done_jobs(struct stream_server *s)
{
    struct stream_job *list;

    pthread_mutex_lock(&s->mu);
    list = s->done;
    s->done = NULL;
    s->done_tail = &s->done;
    pthread_mutex_unlock(&s->mu);
    while (list) {
        struct stream_job *j = list;
        list = j->next;
        j->done(s, j);
    }
}

/* ---- exec exits ---- */

struct stream_exit_slot *stream_exit_register(struct stream_server *s, const char *container_id,
                                              const char *exec_id, void (*cb)(void *arg), void *arg)
{
    struct stream_exit_slot *x = berth_xcalloc(1, sizeof(*x));

    x->container_id = berth_xstrdup(container_id);
    x->exec_id = berth_xstrdup(exec_id);
    x->cb = cb;
    x->arg = arg;
    pthread_mutex_lock(&s->mu);
    x->next = s->slots;
    s->slots = x;
    pthread_mutex_unlock(&s->mu);
    return x;
}

void stream_exit_unregister(struct stream_server *s, struct stream_exit_slot *slot)
{
    if (!slot)
        return;
    pthread_mutex_lock(&s->mu);
    for (struct stream_exit_slot **pp = &s->slots; *pp; pp = &(*pp)->next)
        if (*pp == slot) {
            *pp = slot->next;
            break;
        }
    pthread_mutex_unlock(&s->mu);
    free(slot->container_id);
    free(slot->exec_id);
    free(slot);
}

bool stream_exit_get(struct stream_server *s, struct stream_exit_slot *slot, uint32_t *status)
{
    bool r;

    pthread_mutex_lock(&s->mu);
    r = slot->exited;
    *status = slot->status;
    pthread_mutex_unlock(&s->mu);
    return r;
}

void berth_stream_server_exec_exited(struct berth_stream_server *bs, const char *container_id,
                                     const char *exec_id, uint32_t status)
{
    struct stream_server *s = (struct stream_server *)bs;
    bool hit = false;

    if (!s || !container_id || !exec_id)
        return;
    pthread_mutex_lock(&s->mu);
    for (struct stream_exit_slot *x = s->slots; x; x = x->next)
        if (!x->exited && !strcmp(x->exec_id, exec_id) && !strcmp(x->container_id, container_id)) {
            x->exited = true;
            x->status = status;
            hit = true;
        }
    if (hit) {
        s->exits_pending = true;
        wake_loop(s);
    }
    pthread_mutex_unlock(&s->mu);
}

static void run_exits(struct stream_server *s)
{
    for (;;) {
        struct stream_exit_slot *hit = NULL;
        pthread_mutex_lock(&s->mu);
        s->exits_pending = false;
        for (struct stream_exit_slot *x = s->slots; x; x = x->next)
            if (x->exited && !x->told) {
                x->told = true;
                hit = x;
                break;
            }
        pthread_mutex_unlock(&s->mu);
        if (!hit)
            return;
        hit->cb(hit->arg); /* may unregister hit */
    }
}

/* ---- tokens ---- */

static void token_new(char out[9])
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t b[6];

    berth_random(b, sizeof(b));
    for (int i = 0; i < 2; i++) {
        uint32_t v = (uint32_t)b[3 * i] << 16 | (uint32_t)b[3 * i + 1] << 8 | b[3 * i + 2];
        for (int k = 0; k < 4; k++)
            out[4 * i + k] = b64url[(v >> (18 - 6 * k)) & 63];
    }
    out[8] = 0;
}

static void tokens_sweep_locked(struct stream_server *s, int64_t now)
{
    size_t w = 0;

    for (size_t i = 0; i < s->n_tokens; i++) {
        if (s->tokens[i].expires <= now)
            berth_stream_request_free(s->tokens[i].req);
        else
            s->tokens[w++] = s->tokens[i];
    }
    s->n_tokens = w;
}

static const char *kind_path(enum berth_stream_kind k)
{
    return k == BERTH_STREAM_EXEC ? "exec" : k == BERTH_STREAM_ATTACH ? "attach" : "portforward";
}

int berth_stream_server_url(struct berth_stream_server *bs, struct berth_stream_request *req,
                            char **url, struct berth_err **err)
{
    struct stream_server *s = (struct stream_server *)bs;
    int64_t now = stream_now();
    int64_t ttl = s->o.token_ttl_ms > 0 ? s->o.token_ttl_ms * 1000000 : TOKEN_TTL_NS;
    enum berth_stream_kind kind = req->kind; /* req is the loop's once in the table */
    char tok[9];
    bool unique = false;

    pthread_mutex_lock(&s->mu);
    tokens_sweep_locked(s, now);
    if (s->n_tokens >= TOKEN_MAX) {
        pthread_mutex_unlock(&s->mu);
        berth_stream_request_free(req);
        return berth_err_set(err, BERTH_E_RESOURCE_EXHAUSTED, 0,
                             "maximum number of in-flight requests exceeded");
    }
    for (int tries = 0; tries < 10 && !unique; tries++) {
        token_new(tok);
        unique = true;
        for (size_t i = 0; i < s->n_tokens; i++)
            if (!strcmp(s->tokens[i].tok, tok))
                unique = false;
    }
    if (!unique) {
        pthread_mutex_unlock(&s->mu);
        berth_stream_request_free(req);
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "no unique streaming token");
    }
    if (!s->tokens)
        s->tokens = berth_xcalloc(TOKEN_MAX, sizeof(*s->tokens));
    memcpy(s->tokens[s->n_tokens].tok, tok, sizeof(tok));
    s->tokens[s->n_tokens].expires = now + ttl;
    s->tokens[s->n_tokens].req = req;
    s->n_tokens++;
    pthread_mutex_unlock(&s->mu);
    *url = berth_strdup_printf("%s/%s/%s", s->base_url, kind_path(kind), tok);
    return 0;
}

/* Takes the token's request out of the cache whatever its state (tokens are single use);
 * NULL when unknown, expired or of another kind. */
static struct berth_stream_request *token_take(struct stream_server *s, const char *tok,
                                               enum berth_stream_kind kind)
{
    struct berth_stream_request *req = NULL;
    int64_t now = stream_now();

    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n_tokens; i++) {
        if (strcmp(s->tokens[i].tok, tok) != 0)
            continue;
        req = s->tokens[i].req;
        if (s->tokens[i].expires <= now || req->kind != kind) {
            berth_stream_request_free(req);
            req = NULL;
        }
        s->tokens[i] = s->tokens[--s->n_tokens];
        break;
    }
    pthread_mutex_unlock(&s->mu);
    return req;
}

/* ---- connections: output ---- */

static void conn_update_events(struct stream_conn *c)
{
    uint32_t ev = 0;

    if (c->w.fd < 0)
        return;
    if (!c->input_held && !c->peer_gone)
        ev |= EPOLLIN;
    if (berth_buf_pending(&c->out) > 0)
        ev |= EPOLLOUT;
    if (c->phase == CONN_CLOSING && !c->peer_gone)
        ev |= EPOLLIN; /* drain until the client closes */
    stream_watch_set(c->srv, &c->w, ev ? ev : EPOLLRDHUP);
}

static void conn_free(struct stream_conn *c)
{
    struct stream_server *s = c->srv;

    if (c->ops && c->ops->abort)
        c->ops->abort(c);
    stream_watch_close(s, &c->w);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
    while (c->streams) {
        struct spdy_stream *st = c->streams;
        c->streams = st->next;
        free(st);
    }
    berth_buf_clear(&c->in);
    berth_buf_clear(&c->out);
    berth_buf_clear(&c->ws_msg);
    berth_spdy_decoder_free(c->dec);
    berth_spdy_encoder_free(c->enc);
    free(c->proto);
    stream_defer_free(s, c);
}

void stream_conn_flush(struct stream_conn *c)
{
    while (berth_buf_pending(&c->out) > 0 && c->w.fd >= 0) {
        ssize_t n = send(c->w.fd, berth_buf_head(&c->out), berth_buf_pending(&c->out),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            /* The client is gone: nothing more can be sent. */
            berth_buf_consume(&c->out, berth_buf_pending(&c->out));
            c->peer_gone = true;
            break;
        }
        berth_buf_consume(&c->out, (size_t)n);
        c->idle_at = stream_now() + c->srv->o.idle_timeout_ms * 1000000;
        if (c->phase == CONN_CLOSING)
            c->close_at = stream_now() + CLOSE_GRACE_NS; /* still moving: not stuck */
    }
    if (c->out_full && berth_buf_pending(&c->out) < STREAM_OUT_LOW) {
        c->out_full = false;
        if (c->ops && c->ops->out_ready)
            c->ops->out_ready(c);
    }
    if (!c->out_full && berth_buf_pending(&c->out) >= STREAM_OUT_HIGH)
        c->out_full = true;
    conn_update_events(c);
}

struct spdy_stream *stream_conn_find(struct stream_conn *c, uint32_t id)
{
    for (struct spdy_stream *st = c->streams; st; st = st->next)
        if (st->id == id)
            return st;
    return NULL;
}

void stream_conn_reply(struct stream_conn *c, struct spdy_stream *st)
{
    if (!c->ws)
        berth_spdy_encode_syn_reply(c->enc, &c->out, st->id, 0, NULL, 0);
}

struct spdy_stream *stream_conn_channel(struct stream_conn *c, uint32_t channel,
                                        enum stream_type type)
{
    struct spdy_stream *st = berth_xcalloc(1, sizeof(*st));

    st->id = channel;
    st->type = type;
    st->next = c->streams;
    c->streams = st;
    return st;
}

/* One WebSocket message on st's channel: binary [channel]+bytes, or text in base64 mode
 * ['0'+channel]+base64(bytes). */
static void ws_message(struct stream_conn *c, struct spdy_stream *st, const void *p, size_t len)
{
    uint8_t ch = (uint8_t)st->id;

    if (c->ws_base64) {
        _cleanup_free_ char *b = berth_base64(p, len);
        ch = (uint8_t)('0' + ch);
        berth_ws_encode(&c->out, BERTH_WS_TEXT, &ch, 1, b, strlen(b));
    } else {
        berth_ws_encode(&c->out, BERTH_WS_BINARY, &ch, 1, p, len);
    }
}

void stream_conn_data(struct stream_conn *c, struct spdy_stream *st, const void *p, size_t len,
                      bool fin)
{
    const uint8_t *b = p;

    if (!st || st->local_fin)
        return;
    do {
        size_t n = len > STREAM_CHUNK ? STREAM_CHUNK : len;
        bool last = n == len;
        if (c->ws) {
            /* v4 channels have no end of their own: a FIN without bytes sends nothing */
            if (n > 0 || !fin)
                ws_message(c, st, b, n);
        } else {
            berth_spdy_encode_data(&c->out, st->id, (fin && last) ? BERTH_SPDY_FLAG_FIN : 0, b, n);
        }
        b += n;
        len -= n;
    } while (len > 0);
    if (fin)
        st->local_fin = true;
    if (berth_buf_pending(&c->out) >= STREAM_OUT_HIGH)
        c->out_full = true;
}

ssize_t stream_conn_data_from_fd(struct stream_conn *c, struct spdy_stream *st, int fd)
{
    uint8_t *p;
    size_t got = 0;
    ssize_t n;

    if (c->ws) {
        uint8_t tmp[STREAM_CHUNK];
        do
            n = read(fd, tmp, sizeof(tmp));
        while (n < 0 && errno == EINTR);
        if (n > 0 && st && !st->local_fin)
            stream_conn_data(c, st, tmp, (size_t)n, false);
        return n;
    }
    p = berth_buf_reserve(&c->out, 8 + STREAM_CHUNK);
    /* Fill one frame with what is there: a writer that trickles small writes (busybox writes
     * 4 KiB at a time) should not cost a frame, and the client a wake-up, per write. */
    while (got < STREAM_CHUNK) {
        n = read(fd, p + 8 + got, STREAM_CHUNK - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got == 0)
        return n; /* 0 at EOF, -1 with errno */
    if (st && !st->local_fin) {
        berth_spdy_data_header(p, st->id, 0, (uint32_t)got);
        berth_buf_commit(&c->out, 8 + got);
        if (berth_buf_pending(&c->out) >= STREAM_OUT_HIGH)
            c->out_full = true;
    }
    return (ssize_t)got; /* an EOF right after is seen by the next call */
}

void stream_conn_fin(struct stream_conn *c, struct spdy_stream *st)
{
    if (!st || st->local_fin)
        return;
    if (!c->ws)
        berth_spdy_encode_data(&c->out, st->id, BERTH_SPDY_FLAG_FIN, NULL, 0);
    st->local_fin = true;
}

void stream_conn_rst(struct stream_conn *c, struct spdy_stream *st, uint32_t status)
{
    if (!st || (st->local_fin && st->remote_fin))
        return;
    if (!c->ws)
        berth_spdy_encode_rst_stream(&c->out, st->id, status);
    st->local_fin = st->remote_fin = true;
}

/* The last frame of a session: GOAWAY, or a WebSocket close with code (1000 normal). */
static void conn_goodbye(struct stream_conn *c, uint32_t spdy_status, uint16_t ws_code)
{
    if (c->phase != CONN_SPDY)
        return;
    if (!c->ws) {
        berth_spdy_encode_goaway(&c->out, c->last_id, spdy_status);
    } else if (!c->ws_close_sent) {
        uint8_t code[2] = {(uint8_t)(ws_code >> 8), (uint8_t)ws_code};
        berth_ws_encode(&c->out, BERTH_WS_CLOSE, code, 2, NULL, 0);
        c->ws_close_sent = true;
    }
}

void stream_conn_finish(struct stream_conn *c)
{
    if (c->phase == CONN_CLOSING)
        return;
    conn_goodbye(c, 0, 1000);
    c->phase = CONN_CLOSING;
    c->close_at = stream_now() + CLOSE_GRACE_NS;
    stream_conn_flush(c);
}

void stream_conn_resume_input(struct stream_conn *c);

void stream_conn_tick_at(struct stream_conn *c, int64_t at)
{
    if (at > 0 && (c->next_tick == 0 || at < c->next_tick))
        c->next_tick = at;
}

/* ---- connections: HTTP ---- */

static void http_reply(struct stream_conn *c, int status, const char *const *headers,
                       const char *body)
{
    berth_http_response(&c->out, status, headers, body);
    c->phase = CONN_CLOSING;
    c->close_at = stream_now() + CLOSE_GRACE_NS;
    stream_conn_flush(c);
}

static const char *const exec_protocols[] = {"v4.channel.k8s.io", "v3.channel.k8s.io",
                                             "v2.channel.k8s.io", "channel.k8s.io", NULL};
static const char *const pf_protocols[] = {"portforward.k8s.io", NULL};

static void list_join(char *buf, size_t cap, char *const *v)
{
    size_t off = 0;

    buf[0] = 0;
    for (size_t i = 0; v && v[i]; i++)
        off += (size_t)snprintf(buf + off, off < cap ? cap - off : 0, "%s%s", i ? " " : "", v[i]);
}

static const char *const ws_exec_protocols[] = {"v4.channel.k8s.io", "v4.base64.channel.k8s.io",
                                                "channel.k8s.io", "base64.channel.k8s.io", NULL};
static const char *const ws_pf_protocols[] = {"v4.channel.k8s.io", "v4.base64.channel.k8s.io",
                                              NULL};

/* A WebSocket upgrade (RFC 6455) for the legacy channel protocols kubelet passes through from
 * non-Go clients (streaming.md §6). A client naming no subprotocol gets binary channels. */
static void ws_route(struct stream_conn *c, struct berth_http_request *rq,
                     struct berth_stream_request *req, enum berth_stream_kind kind)
{
    const char *proto = "";
    _cleanup_free_ char *accept = NULL, *acc_h = NULL, *proto_h = NULL;

    if (!rq->connection_upgrade || !rq->ws_key || !*rq->ws_key) {
        berth_stream_request_free(req);
        http_reply(c, 400, NULL,
                   "unable to upgrade: a WebSocket upgrade needs Connection: Upgrade and "
                   "Sec-WebSocket-Key");
        return;
    }
    if (!rq->ws_version || strcmp(rq->ws_version, "13") != 0) {
        const char *h[] = {"Sec-WebSocket-Version: 13", NULL};
        berth_stream_request_free(req);
        http_reply(c, 400, h, "unable to upgrade: only WebSocket version 13 is spoken");
        return;
    }
    if (rq->ws_protocols[0]) {
        proto = berth_http_negotiate(rq->ws_protocols, kind == BERTH_STREAM_PORTFORWARD
                                                           ? ws_pf_protocols
                                                           : ws_exec_protocols);
        if (!proto) {
            berth_stream_request_free(req);
            http_reply(c, 400, NULL, "unable to upgrade: no WebSocket subprotocol in common");
            return;
        }
    }
    if (kind == BERTH_STREAM_PORTFORWARD && req->n_ports == 0) {
        berth_stream_request_free(req);
        http_reply(c, 400, NULL,
                   "unable to upgrade: a WebSocket port-forward needs the ports in the "
                   "PortForward request");
        return;
    }
    accept = berth_ws_accept(rq->ws_key);
    acc_h = berth_strdup_printf("Sec-WebSocket-Accept: %s", accept);
    proto_h = *proto ? berth_strdup_printf("Sec-WebSocket-Protocol: %s", proto) : NULL;
    {
        const char *h[] = {"Upgrade: websocket", "Connection: Upgrade", acc_h, proto_h, NULL};
        berth_http_response(&c->out, 101, h, NULL);
    }
    c->phase = CONN_SPDY;
    c->ws = true;
    c->ws_msg_op = -1;
    c->ws_base64 = strstr(proto, "base64") != NULL;
    c->proto = berth_strdup_printf("websocket %s", *proto ? proto : "channel.k8s.io");
    c->idle_at = stream_now() + c->srv->o.idle_timeout_ms * 1000000;
    log_debug("%s session for %s (%s)", kind_path(kind), req->id, c->proto);
    if (kind == BERTH_STREAM_PORTFORWARD) {
        stream_portforward_begin(c, req);
        stream_portforward_ws_channels(c);
    } else {
        stream_remotecommand_begin(c, req, !strncmp(proto, "v4.", 3) ? 4 : 1);
        stream_remotecommand_ws_channels(c);
    }
    stream_conn_flush(c);
}

/* The request head is in; answers it. */
static void http_route(struct stream_conn *c, struct berth_http_request *rq)
{
    struct stream_server *s = c->srv;
    enum berth_stream_kind kind;
    const char *rest = NULL, *proto;
    const char *const *server_protos;
    struct berth_stream_request *req;
    char hdr[160];

    if (!strncmp(rq->path, "/exec/", 6)) {
        kind = BERTH_STREAM_EXEC;
        rest = rq->path + 6;
    } else if (!strncmp(rq->path, "/attach/", 8)) {
        kind = BERTH_STREAM_ATTACH;
        rest = rq->path + 8;
    } else if (!strncmp(rq->path, "/portforward/", 13)) {
        kind = BERTH_STREAM_PORTFORWARD;
        rest = rq->path + 13;
    }
    if (!rest || strlen(rest) != 8 || strchr(rest, '/')) {
        http_reply(c, 404, NULL, "404 page not found\n");
        return;
    }
    if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "POST") != 0) {
        http_reply(c, 405, NULL, "405 method not allowed\n");
        return;
    }
    if (!(req = token_take(s, rest, kind))) {
        http_reply(c, 404, NULL, "404 page not found\n");
        return;
    }
    if (rq->upgrade && !strcasecmp(rq->upgrade, "websocket")) {
        ws_route(c, rq, req, kind);
        return;
    }
    server_protos = kind == BERTH_STREAM_PORTFORWARD ? pf_protocols : exec_protocols;
    if (!rq->stream_protocols[0]) {
        berth_stream_request_free(req);
        if (kind == BERTH_STREAM_PORTFORWARD)
            http_reply(c, 200, NULL, "");
        else
            http_reply(c, 400, NULL, "unable to upgrade: X-Stream-Protocol-Version is required");
        return;
    }
    if (!(proto = berth_http_negotiate(rq->stream_protocols, server_protos))) {
        char body[1024], cl[512], sv[256];
        const char *h[8];
        char hv[4][80];
        size_t nh = 0;
        list_join(cl, sizeof(cl), rq->stream_protocols);
        list_join(sv, sizeof(sv), (char *const *)server_protos);
        snprintf(body, sizeof(body),
                 "unable to upgrade: unable to negotiate protocol: client supports [%s], server "
                 "accepts [%s]",
                 cl, sv);
        for (size_t i = 0; server_protos[i] && nh < 4; i++, nh++) {
            snprintf(hv[nh], sizeof(hv[nh]), "X-Accepted-Stream-Protocol-Versions: %s",
                     server_protos[i]);
            h[nh] = hv[nh];
        }
        h[nh] = NULL;
        berth_stream_request_free(req);
        http_reply(c, 403, h, body);
        return;
    }
    if (!rq->connection_upgrade || !rq->upgrade ||
        !berth_http_has_token(rq->upgrade, strlen(rq->upgrade), "spdy/3.1")) {
        berth_stream_request_free(req);
        http_reply(c, 400, NULL,
                   "unable to upgrade: missing upgrade headers in request (Connection: Upgrade "
                   "and Upgrade: SPDY/3.1)");
        return;
    }
    c->proto = berth_xstrdup(proto);
    snprintf(hdr, sizeof(hdr), "X-Stream-Protocol-Version: %s", proto);
    {
        const char *h[] = {"Connection: Upgrade", "Upgrade: SPDY/3.1", hdr, NULL};
        berth_http_response(&c->out, 101, h, NULL);
    }
    c->phase = CONN_SPDY;
    c->dec = berth_spdy_decoder_new();
    c->enc = berth_spdy_encoder_new();
    c->idle_at = stream_now() + s->o.idle_timeout_ms * 1000000;
    log_debug("%s session for %s (%s)", kind_path(kind), req->id, proto);
    if (kind == BERTH_STREAM_PORTFORWARD) {
        stream_portforward_begin(c, req);
    } else {
        int version = !strcmp(proto, "v4.channel.k8s.io")   ? 4
                      : !strcmp(proto, "v3.channel.k8s.io") ? 3
                      : !strcmp(proto, "v2.channel.k8s.io") ? 2
                                                            : 1;
        stream_remotecommand_begin(c, req, version);
    }
    stream_conn_flush(c);
}

/* ---- connections: SPDY frames in ---- */

/* Protocol violation: the connection ends (spdystream does the same on a bad frame). */
static void conn_fail(struct stream_conn *c, const char *why)
{
    log_debug("streaming connection closed: %s", why);
    conn_goodbye(c, 1 /* PROTOCOL_ERROR */, 1002 /* protocol error */);
    if (c->ops && c->ops->abort) {
        c->ops->abort(c);
        c->ops = NULL;
    }
    c->phase = CONN_CLOSING;
    c->close_at = stream_now() + CLOSE_GRACE_NS;
    stream_conn_flush(c);
}

static void on_frame(struct stream_conn *c, const struct berth_spdy_frame *f)
{
    struct spdy_stream *st;

    switch (f->type) {
    case BERTH_SPDY_SYN_STREAM:
        if (f->stream_id <= c->last_id || !(f->stream_id & 1)) {
            /* Ids strictly increase and the client's are odd; refuse without tracking. */
            berth_spdy_encode_rst_stream(&c->out, f->stream_id, BERTH_SPDY_PROTOCOL_ERROR);
            return;
        }
        c->last_id = f->stream_id;
        st = berth_xcalloc(1, sizeof(*st));
        st->id = f->stream_id;
        st->remote_fin = (f->flags & BERTH_SPDY_FLAG_FIN) != 0;
        st->local_fin = (f->flags & BERTH_SPDY_FLAG_UNIDIRECTIONAL) != 0;
        st->next = c->streams;
        c->streams = st;
        if (c->phase != CONN_SPDY || !c->ops || !c->ops->stream_open(c, st, f))
            stream_conn_rst(c, st, BERTH_SPDY_CANCEL);
        return;
    case BERTH_SPDY_DATA:
        st = stream_conn_find(c, f->stream_id);
        if (!st || st->remote_fin)
            return; /* spdystream drops data for streams it does not know as well */
        if (f->flags & BERTH_SPDY_FLAG_FIN)
            st->remote_fin = true;
        if (c->ops)
            c->ops->stream_data(c, st, f->data, f->len, (f->flags & BERTH_SPDY_FLAG_FIN) != 0);
        return;
    case BERTH_SPDY_HEADERS:
        st = stream_conn_find(c, f->stream_id);
        if (st && !st->remote_fin && (f->flags & BERTH_SPDY_FLAG_FIN)) {
            st->remote_fin = true;
            if (c->ops)
                c->ops->stream_data(c, st, NULL, 0, true);
        }
        return;
    case BERTH_SPDY_RST_STREAM:
        st = stream_conn_find(c, f->stream_id);
        if (st && !(st->remote_fin && st->local_fin)) {
            st->remote_fin = st->local_fin = true;
            if (c->ops && c->ops->stream_reset)
                c->ops->stream_reset(c, st);
        }
        return;
    case BERTH_SPDY_PING:
        if (f->id & 1) /* the client's: echo; ours would be even, and we send none */
            berth_spdy_encode_ping(&c->out, f->id);
        return;
    case BERTH_SPDY_GOAWAY:
        /* Nothing new will come; what is open finishes (the client closes the socket next). */
        return;
    case BERTH_SPDY_SYN_REPLY:
    case BERTH_SPDY_SETTINGS:
    case BERTH_SPDY_WINDOW_UPDATE:
        return; /* no server streams; no flow control (streaming.md §3) */
    }
}

/* A whole message from the client: the channel, then its bytes, to that channel's stream. */
static void ws_deliver(struct stream_conn *c, uint8_t *m, size_t len)
{
    struct spdy_stream *st;
    _cleanup_free_ unsigned char *dec = NULL;
    size_t n = len - 1;
    uint8_t ch;

    if (len == 0)
        return;
    ch = c->ws_base64 ? (uint8_t)(m[0] - '0') : m[0];
    st = stream_conn_find(c, ch);
    if (!st || st->remote_fin || !c->ops)
        return; /* a channel this session does not read */
    if (c->ws_base64 && n > 0) {
        _cleanup_free_ char *text = berth_xmalloc(n + 1);
        memcpy(text, m + 1, n);
        text[n] = 0;
        if (berth_base64_decode(text, &dec, &n) < 0) {
            conn_fail(c, "bad base64 in a WebSocket message");
            return;
        }
        c->ops->stream_data(c, st, dec, n, false);
    } else {
        c->ops->stream_data(c, st, m + 1, n, false);
    }
}

/* WebSocket frames from c->in: messages put together and delivered, pings answered, a close
 * answered and the session ended as if the client left. */
static void ws_process(struct stream_conn *c)
{
    const char *bad = NULL;

    c->processing = true;
    while (!c->input_held && c->w.fd >= 0 && c->phase == CONN_SPDY) {
        struct berth_ws_frame f;
        _cleanup_err_ struct berth_err *e = NULL;
        ssize_t n = berth_ws_decode((uint8_t *)berth_buf_head(&c->in), berth_buf_pending(&c->in),
                                    WS_MESSAGE_MAX, &f, &e);
        if (n == 0)
            break;
        if (n < 0) {
            log_info("streaming connection (%s) dropped: %s", c->proto, e->msg);
            berth_buf_consume(&c->in, berth_buf_pending(&c->in));
            c->processing = false;
            conn_fail(c, e->msg);
            return;
        }
        berth_buf_consume(&c->in, (size_t)n);
        if (f.opcode == BERTH_WS_PING) {
            berth_ws_encode(&c->out, BERTH_WS_PONG, NULL, 0, f.payload, f.len);
            continue;
        }
        if (f.opcode == BERTH_WS_PONG)
            continue;
        if (f.opcode == BERTH_WS_CLOSE) {
            /* The client is done: end what runs as when it disconnects, and answer. */
            if (c->ops && c->ops->abort) {
                c->ops->abort(c);
                c->ops = NULL;
            }
            conn_goodbye(c, 0, 1000);
            c->phase = CONN_CLOSING;
            c->close_at = stream_now() + CLOSE_GRACE_NS;
            break;
        }
        if (f.opcode != BERTH_WS_CONTINUATION) {
            if (c->ws_msg_op >= 0) {
                bad = "a new WebSocket message inside a fragmented one";
                break;
            }
            c->ws_msg_op = f.opcode;
        } else if (c->ws_msg_op < 0) {
            bad = "a WebSocket continuation without a message";
            break;
        }
        if (f.fin && berth_buf_pending(&c->ws_msg) == 0) {
            ws_deliver(c, f.payload, f.len); /* the usual case: one frame, no copy */
        } else if (berth_buf_pending(&c->ws_msg) + f.len > WS_MESSAGE_MAX) {
            bad = "WebSocket message over 16 MiB";
            break;
        } else {
            berth_buf_append(&c->ws_msg, f.payload, f.len);
            if (f.fin) {
                ws_deliver(c, (uint8_t *)berth_buf_head(&c->ws_msg), berth_buf_pending(&c->ws_msg));
                berth_buf_clear(&c->ws_msg);
            }
        }
        if (f.fin)
            c->ws_msg_op = -1;
    }
    c->processing = false;
    if (bad) {
        log_info("streaming connection (%s) dropped: %s", c->proto, bad);
        conn_fail(c, bad);
    }
}

/* Decodes and handles the frames held in c->in until it runs out or a sink fills. Not
 * re-entered: a sink that drains while a frame is handled (stream_conn_resume_input) only
 * clears input_held, and this loop goes on. */
static void conn_process(struct stream_conn *c)
{
    if (c->processing)
        return;
    if (c->ws) {
        ws_process(c);
        stream_conn_flush(c);
        return;
    }
    c->processing = true;
    while (!c->input_held && c->w.fd >= 0 && c->phase != CONN_HTTP && c->dec) {
        struct berth_spdy_frame f;
        _cleanup_err_ struct berth_err *e = NULL;
        ssize_t n;

        n = berth_spdy_decode(c->dec, berth_buf_head(&c->in), berth_buf_pending(&c->in), &f, &e);
        if (n == 0)
            break;
        if (n < 0) {
            berth_buf_consume(&c->in, berth_buf_pending(&c->in));
            berth_spdy_decoder_free(c->dec);
            c->dec = NULL;
            if (c->phase == CONN_SPDY) {
                log_info("streaming connection (%s) dropped: %s", c->proto, e->msg);
                conn_fail(c, e->msg);
            }
            break;
        }
        /* Consumed first: f's payload stays where it is (consuming moves no bytes, and
         * nothing is read into c->in while a frame is handled). */
        berth_buf_consume(&c->in, (size_t)n);
        if (c->phase == CONN_SPDY)
            on_frame(c, &f);
    }
    c->processing = false;
    stream_conn_flush(c);
}

void stream_conn_resume_input(struct stream_conn *c)
{
    if (!c->input_held)
        return;
    c->input_held = false;
    conn_process(c);
}

static void on_conn(struct stream_server *s, struct stream_watch *w, uint32_t events)
{
    struct stream_conn *c = w->owner;
    int64_t now = stream_now();

    if (events & EPOLLOUT)
        stream_conn_flush(c);
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) && !c->input_held) {
        /* Read what is there, bounded so one client cannot starve the loop. */
        for (int i = 0; i < 16 && !c->peer_gone; i++) {
            uint8_t *p;
            ssize_t n;
            if (c->phase == CONN_HTTP && berth_buf_pending(&c->in) > HTTP_HEAD_MAX)
                break;
            p = berth_buf_reserve(&c->in, 65536);
            n = recv(c->w.fd, p, 65536, MSG_DONTWAIT);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                break;
            if (n <= 0) {
                c->peer_gone = true;
                break;
            }
            berth_buf_commit(&c->in, (size_t)n);
            c->idle_at = now + s->o.idle_timeout_ms * 1000000;
            if (berth_buf_pending(&c->in) > (4u << 20))
                break; /* a frame at a time is enough to go on with */
        }
        if (c->phase == CONN_HTTP) {
            struct berth_http_request rq = {0};
            _cleanup_err_ struct berth_err *e = NULL;
            ssize_t n = berth_http_request_parse(berth_buf_head(&c->in), berth_buf_pending(&c->in),
                                                 HTTP_HEAD_MAX, &rq, &e);
            if (n < 0) {
                http_reply(c, 400, NULL, e->msg);
            } else if (n > 0) {
                berth_buf_consume(&c->in, (size_t)n);
                http_route(c, &rq);
            } else if (c->peer_gone) {
                conn_free(c);
                return;
            }
            berth_http_request_clear(&rq);
        }
        if (c->phase != CONN_HTTP)
            conn_process(c);
        if (c->phase == CONN_CLOSING && !c->input_held)
            berth_buf_consume(&c->in, berth_buf_pending(&c->in));
    }
    if (c->peer_gone) {
        if (c->phase == CONN_CLOSING || c->phase == CONN_HTTP) {
            conn_free(c);
            return;
        }
        /* The client left mid-session: the session ends (a running exec is killed). */
        conn_fail(c, "client closed the connection");
        conn_free(c);
        return;
    }
    if (c->phase == CONN_CLOSING && berth_buf_pending(&c->out) == 0 && c->w.fd >= 0)
        shutdown(c->w.fd, SHUT_WR);
    conn_update_events(c);
}

static void on_accept(struct stream_server *s, struct stream_watch *w, uint32_t events)
{
    (void)events;
    for (int i = 0; i < 64; i++) {
        struct stream_conn *c;
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                log_warn_errno(errno, "streaming server accept");
            return;
        }
        if (s->n_conns >= MAX_CONNS) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = berth_xcalloc(1, sizeof(*c));
        c->srv = s;
        c->w = (struct stream_watch){.fd = fd, .cb = on_conn, .owner = c};
        c->phase = CONN_HTTP;
        c->close_at = stream_now() + HTTP_TIMEOUT_NS; /* the head must come by then */
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        stream_watch_set(s, &c->w, EPOLLIN | EPOLLRDHUP);
    }
}

/* ---- the loop ---- */

static void on_wake(struct stream_server *s, struct stream_watch *w, uint32_t events)
{
    uint64_t v;
    ssize_t r = read(w->fd, &v, sizeof(v));

    (void)r;
    (void)events;
    run_done_jobs(s);
    run_exits(s);
}

/* Timers: returns the next deadline over all connections. */
static int64_t run_timers(struct stream_server *s, int64_t now)
{
    int64_t next = 0;

    for (struct stream_conn *c = s->conns, *nx; c; c = nx) {
        nx = c->next;
        if ((c->phase == CONN_CLOSING || c->phase == CONN_HTTP) && c->close_at <= now) {
            conn_free(c);
            continue;
        }
        if (c->phase == CONN_SPDY && c->idle_at <= now) {
            log_info("streaming session for %s idle for %lld ms: closed", c->proto,
                     (long long)s->o.idle_timeout_ms);
            for (struct spdy_stream *st = c->streams; st; st = st->next)
                stream_conn_rst(c, st, BERTH_SPDY_CANCEL);
            conn_fail(c, "idle");
            continue;
        }
        if (c->next_tick && c->next_tick <= now) {
            c->next_tick = 0;
            if (c->ops && c->ops->tick)
                stream_conn_tick_at(c, c->ops->tick(c, now));
            stream_conn_flush(c);
        }
        int64_t d = c->phase == CONN_SPDY ? c->idle_at : c->close_at;
        if (c->next_tick && c->next_tick < d)
            d = c->next_tick;
        if (!next || d < next)
            next = d;
    }
    return next;
}

static void *loop_main(void *arg)
{
    struct stream_server *s = arg;
    struct epoll_event ev[64];

    for (;;) {
        int64_t now = stream_now(), next;
        int timeout = -1, n;

        next = run_timers(s, now);
        pthread_mutex_lock(&s->mu);
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
        if (next)
            timeout = next <= now ? 0 : (int)((next - now) / 1000000 + 1);
        n = epoll_wait(s->ep, ev, 64, timeout);
        for (int i = 0; i < n; i++) {
            struct stream_watch *w = ev[i].data.ptr;
            /* A watch closed earlier in this batch has fd -1; its memory lives until
             * the batch ends (stream_defer_free). */
            if (w->fd >= 0 && w->cb)
                w->cb(s, w, ev[i].events);
        }
        run_deferred(s);
    }
    run_deferred(s);
    return NULL;
}

static int listen_on(struct stream_server *s, const char *addr, uint16_t port,
                     struct berth_err **err)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    int fd, one = 1;
    char host[INET6_ADDRSTRLEN + 2];

    if (!addr || !*addr)
        addr = "127.0.0.1";
    if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons(port);
        sl = sizeof(struct sockaddr_in);
        snprintf(host, sizeof(host), "%s", addr);
    } else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
        sl = sizeof(struct sockaddr_in6);
        snprintf(host, sizeof(host), "[%s]", addr);
    } else {
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "stream server address \"%s\" is not an IP address", addr);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, errno, "stream server socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0) {
        int e = errno;
        close(fd);
        return berth_err_set(err, BERTH_E_UNAVAILABLE, e, "stream server: listen on %s:%u", host,
                             port);
    }
    sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
    s->base_url = berth_strdup_printf("http://%s:%u", host, s->port);
    s->listener = (struct stream_watch){.fd = fd, .cb = on_accept};
    return 0;
}

int berth_stream_server_start(const struct berth_stream_opts *o, struct berth_stream_server **out,
                              struct berth_err **err)
{
    struct stream_server *s = berth_xcalloc(1, sizeof(*s));

    s->o = *o;
    s->o.address = NULL;
    if (s->o.idle_timeout_ms <= 0)
        s->o.idle_timeout_ms = 4 * 3600 * 1000LL;
    s->listener.fd = s->wake.fd = s->ep = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->job_cond, NULL);
    pthread_cond_init(&s->idle_cond, NULL);
    s->jobs_tail = &s->jobs;
    s->done_tail = &s->done;
    if (listen_on(s, o->address, o->port, err) < 0)
        goto fail;
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->wake = (struct stream_watch){.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), .cb = on_wake};
    if (s->ep < 0 || s->wake.fd < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "stream server epoll");
        goto fail;
    }
    stream_watch_set(s, &s->listener, EPOLLIN);
    stream_watch_set(s, &s->wake, EPOLLIN);
    if (pthread_create(&s->loop, NULL, loop_main, s) != 0) {
        berth_err_set(err, BERTH_E_INTERNAL, 0, "stream server thread");
        goto fail;
    }
    s->loop_started = true;
    log_info("streaming server on %s", s->base_url);
    *out = (struct berth_stream_server *)s;
    return 0;
fail:
    berth_stream_server_free((struct berth_stream_server *)s);
    return -1;
}

uint16_t berth_stream_server_port(const struct berth_stream_server *bs)
{
    return ((const struct stream_server *)bs)->port;
}

void berth_stream_server_free(struct berth_stream_server *bs)
{
    struct stream_server *s = (struct stream_server *)bs;

    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->job_cond);
    pthread_mutex_unlock(&s->mu);
    if (s->loop_started) {
        wake_loop(s);
        pthread_join(s->loop, NULL);
    }
    /* Sessions end (their release jobs are queued), then the workers run what is queued. */
    while (s->conns)
        conn_free(s->conns);
    pthread_mutex_lock(&s->mu);
    pthread_cond_broadcast(&s->job_cond);
    while (s->n_workers > 0)
        pthread_cond_wait(&s->idle_cond, &s->mu);
    pthread_mutex_unlock(&s->mu);
    /* Jobs queued after the last worker left run here. */
    while (s->jobs) {
        struct stream_job *j = s->jobs;
        s->jobs = j->next;
        j->run(s, j);
        j->next = NULL;
        *s->done_tail = j;
        s->done_tail = &j->next;
    }
    s->jobs_tail = &s->jobs;
    run_done_jobs(s);
    run_deferred(s);
    free(s->deferred);
    for (size_t i = 0; i < s->n_tokens; i++)
        berth_stream_request_free(s->tokens[i].req);
    free(s->tokens);
    while (s->slots)
        stream_exit_unregister(s, s->slots);
    stream_watch_close(s, &s->listener);
    stream_watch_close(s, &s->wake);
    if (s->ep >= 0)
        close(s->ep);
    free(s->base_url);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->job_cond);
    pthread_cond_destroy(&s->idle_cond);
    free(s);
}
