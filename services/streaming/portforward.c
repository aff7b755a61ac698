/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Port-forward sessions (portforward.k8s.io over SPDY, streaming.md §5): the client opens an
 * error and a data stream per forwarded TCP connection, paired by the requestid header; a
 * worker dials the port inside the pod's network namespace and the loop copies both ways.
 * One connection carries any number of pairs at once and lives until the client leaves.
 */
#define BERTH_LOG_SUBSYS "stream"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "services/streaming/stream-internal.h"

enum pair_state { PAIR_WAIT, PAIR_DIALING, PAIR_OPEN, PAIR_DONE };

struct pf_session;

struct pf_pair {
    struct pf_pair *next;
    struct pf_session *p;
    int refs; /* the session's list, plus a dial in flight */
    int64_t request_id;
    uint16_t port;
    struct spdy_stream *data, *error;
    int64_t deadline; /* both streams must have come by then */
    enum pair_state state;
    struct stream_watch sock;
    struct berth_buf to_pod;
    bool client_fin, shut_wr;
};

struct pf_session {
    int refs; /* the connection's, plus one per pair */
    struct stream_server *srv;
    struct stream_conn *c; /* NULL once the connection is gone */
    struct berth_stream_request *req;
    struct pf_pair *pairs;
};

static void pf_put(struct pf_session *p)
{
    if (--p->refs > 0)
        return;
    berth_stream_request_free(p->req);
    stream_defer_free(p->srv, p);
}

static void pair_put(struct pf_pair *x)
{
    struct pf_session *p = x->p;

    if (--x->refs > 0)
        return;
    stream_watch_close(p->srv, &x->sock);
    berth_buf_clear(&x->to_pod);
    stream_defer_free(p->srv, x);
    pf_put(p);
}

/* Takes x out of the session; its streams are left as they are. */
static void pair_end(struct pf_session *p, struct pf_pair *x)
{
    if (x->state == PAIR_DONE)
        return;
    x->state = PAIR_DONE;
    stream_watch_close(p->srv, &x->sock);
    for (struct pf_pair **pp = &p->pairs; *pp; pp = &(*pp)->next)
        if (*pp == x) {
            *pp = x->next;
            break;
        }
    if (x->data)
        x->data->owner = NULL;
    if (x->error)
        x->error->owner = NULL;
    pair_put(x);
    /* WebSocket channels cannot end one by one: the connection ends with the last pair. */
    if (p->c && p->c->ws && !p->pairs)
        stream_conn_finish(p->c);
}

/* Failure text on the error stream, then both streams closed: the client prints it and
 * ends its whole session (streaming.md §5). */
static void pair_fail(struct pf_session *p, struct pf_pair *x, const char *msg)
{
    struct stream_conn *c = p->c;

    if (c && x->error)
        stream_conn_data(c, x->error, msg, strlen(msg), true);
    if (c && x->data)
        stream_conn_fin(c, x->data);
    pair_end(p, x);
}

/* The pod's side reset or refused our writes: both streams reset, no text, the session goes
 * on (kubernetes#111825). */
static void pair_reset(struct pf_session *p, struct pf_pair *x)
{
    if (p->c) {
        stream_conn_rst(p->c, x->data, BERTH_SPDY_CANCEL);
        stream_conn_rst(p->c, x->error, BERTH_SPDY_CANCEL);
    }
    pair_end(p, x);
}

static void pair_update(struct pf_session *p, struct pf_pair *x);

static void pair_pump_out(struct pf_session *p, struct pf_pair *x)
{
    while (x->sock.fd >= 0 && berth_buf_pending(&x->to_pod) > 0) {
        ssize_t n = send(x->sock.fd, berth_buf_head(&x->to_pod), berth_buf_pending(&x->to_pod),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            pair_reset(p, x);
            return;
        }
        berth_buf_consume(&x->to_pod, (size_t)n);
    }
    if (x->client_fin && !x->shut_wr && berth_buf_pending(&x->to_pod) == 0 && x->sock.fd >= 0) {
        shutdown(x->sock.fd, SHUT_WR);
        x->shut_wr = true;
    }
    pair_update(p, x);
}

static void pair_update(struct pf_session *p, struct pf_pair *x)
{
    uint32_t ev = 0;
    bool held = false;

    if (x->state != PAIR_OPEN || x->sock.fd < 0)
        return;
    if (p->c && !p->c->out_full)
        ev |= EPOLLIN;
    if (berth_buf_pending(&x->to_pod) > 0)
        ev |= EPOLLOUT;
    stream_watch_set(p->srv, &x->sock, ev ? ev : EPOLLRDHUP);
    if (!p->c || !p->c->input_held)
        return;
    for (struct pf_pair *y = p->pairs; y; y = y->next)
        if (berth_buf_pending(&y->to_pod) >= STREAM_SINK_HIGH)
            held = true;
    if (!held)
        stream_conn_resume_input(p->c);
}

static void on_sock(struct stream_server *s, struct stream_watch *w, uint32_t events)
{
    struct pf_pair *x = w->owner;
    struct pf_session *p = x->p;

    (void)s;
    if (events & EPOLLOUT) {
        pair_pump_out(p, x);
        if (x->state != PAIR_OPEN)
            return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        for (int i = 0; i < 8 && !p->c->out_full; i++) {
            ssize_t n = stream_conn_data_from_fd(p->c, x->data, x->sock.fd);
            if (n < 0 && errno == EAGAIN)
                break;
            if (n < 0 && (errno == ECONNRESET || errno == EPIPE)) {
                pair_reset(p, x);
                break;
            }
            if (n <= 0) {
                /* The pod closed: data ends, then error with nothing on it. */
                stream_conn_fin(p->c, x->data);
                stream_conn_fin(p->c, x->error);
                pair_end(p, x);
                break;
            }
        }
    }
    stream_conn_flush(p->c);
    if (x->state == PAIR_OPEN)
        pair_update(p, x);
}

/* ---- dialing ---- */

struct dial_job {
    struct stream_job j;
    struct pf_pair *x;
    char *sandbox_id;
    uint16_t port;
    int fd, rc;
    struct berth_err *err;
};

static void dial_run(struct stream_server *s, struct stream_job *j)
{
    struct dial_job *d = (struct dial_job *)j;
    const struct berth_stream_backend *b = stream_backend(s);

    d->rc = b->port_dial(b->udata, d->sandbox_id, d->port, &d->fd, &d->err);
}

static void dial_done(struct stream_server *s, struct stream_job *j)
{
    struct dial_job *d = (struct dial_job *)j;
    struct pf_pair *x = d->x;
    struct pf_session *p = x->p;

    (void)s;
    if (x->state != PAIR_DIALING || !p->c) {
        if (d->rc == 0)
            close(d->fd);
    } else if (d->rc < 0) {
        _cleanup_free_ char *msg = berth_strdup_printf(
            "error forwarding port %u to pod %s, uid : %s", x->port, p->req->id, d->err->msg);
        log_debug("%s", msg);
        pair_fail(p, x, msg);
        stream_conn_flush(p->c);
    } else {
        x->state = PAIR_OPEN;
        x->sock = (struct stream_watch){.fd = d->fd, .cb = on_sock, .owner = x};
        pair_pump_out(p, x);
        if (p->c)
            stream_conn_flush(p->c);
    }
    berth_err_free(&d->err);
    free(d->sandbox_id);
    free(d);
    pair_put(x);
}

static void pair_dial(struct pf_session *p, struct pf_pair *x)
{
    struct dial_job *d = berth_xcalloc(1, sizeof(*d));

    x->state = PAIR_DIALING;
    x->refs++;
    d->j.run = dial_run;
    d->j.done = dial_done;
    d->x = x;
    d->sandbox_id = berth_xstrdup(p->req->id);
    d->port = x->port;
    d->fd = -1;
    stream_job_submit(p->srv, &d->j);
}

/* ---- session hooks ---- */

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

static bool pf_stream_open(struct stream_conn *c, struct spdy_stream *st,
                           const struct berth_spdy_frame *f)
{
    struct pf_session *p = c->sess;
    const struct berth_spdy_header *ht = berth_spdy_frame_header(f, "streamtype");
    const struct berth_spdy_header *hp = berth_spdy_frame_header(f, "port");
    const struct berth_spdy_header *hr = berth_spdy_frame_header(f, "requestid");
    struct pf_pair *x;
    uint64_t port, rid;
    bool is_data;

    if (!ht || !hp || !parse_u64(hp->value, 65535, &port) || port == 0)
        return false;
    if (!strcmp(ht->value, "data"))
        is_data = true;
    else if (!strcmp(ht->value, "error"))
        is_data = false;
    else
        return false;
    if (hr) {
        if (!parse_u64(hr->value, INT64_MAX, &rid))
            return false;
    } else {
        /* Very old clients: error gets id n, data n + 2. */
        rid = is_data ? st->id - 2 : st->id;
    }
    for (x = p->pairs; x; x = x->next)
        if (x->request_id == (int64_t)rid)
            break;
    if (x && (is_data ? x->data : x->error))
        return false; /* a second stream of one kind for one request */
    if (x && x->port != port)
        return false;
    if (!x) {
        x = berth_xcalloc(1, sizeof(*x));
        x->p = p;
        x->refs = 1;
        p->refs++;
        x->request_id = (int64_t)rid;
        x->port = (uint16_t)port;
        x->sock.fd = -1;
        x->deadline = stream_now() + STREAM_CREATE_TIMEOUT_NS;
        x->next = p->pairs;
        p->pairs = x;
        stream_conn_tick_at(c, x->deadline);
    }
    st->type = is_data ? ST_PF_DATA : ST_ERROR;
    st->owner = x;
    if (is_data)
        x->data = st;
    else
        x->error = st;
    stream_conn_reply(c, st);
    if (x->data && x->error && x->state == PAIR_WAIT)
        pair_dial(p, x);
    return true;
}

static void pf_stream_data(struct stream_conn *c, struct spdy_stream *st, const uint8_t *d,
                           size_t len, bool fin)
{
    struct pf_session *p = c->sess;
    struct pf_pair *x = st->owner;

    if (!x || st != x->data || x->state == PAIR_DONE)
        return; /* the error stream carries nothing from the client */
    berth_buf_append(&x->to_pod, d, len);
    if (fin)
        x->client_fin = true;
    if (berth_buf_pending(&x->to_pod) >= STREAM_SINK_HIGH)
        c->input_held = true;
    if (x->state == PAIR_OPEN)
        pair_pump_out(p, x);
}

static void pf_stream_reset(struct stream_conn *c, struct spdy_stream *st)
{
    struct pf_session *p = c->sess;
    struct pf_pair *x = st->owner;

    if (x && st == x->data)
        pair_reset(p, x);
}

static void pf_out_ready(struct stream_conn *c)
{
    struct pf_session *p = c->sess;

    for (struct pf_pair *x = p->pairs; x; x = x->next)
        pair_update(p, x);
}

static int64_t pf_tick(struct stream_conn *c, int64_t now)
{
    struct pf_session *p = c->sess;
    int64_t next = 0;

    for (struct pf_pair *x = p->pairs, *nx; x; x = nx) {
        nx = x->next;
        if (x->state != PAIR_WAIT)
            continue;
        if (x->deadline <= now) {
            if (x->error)
                pair_fail(p, x, "timed out waiting for streams");
            else {
                stream_conn_rst(c, x->data, BERTH_SPDY_CANCEL);
                pair_end(p, x);
            }
        } else if (!next || x->deadline < next) {
            next = x->deadline;
        }
    }
    return next;
}

static void pf_abort(struct stream_conn *c)
{
    struct pf_session *p = c->sess;

    if (!p)
        return;
    c->sess = NULL;
    p->c = NULL;
    while (p->pairs)
        pair_end(p, p->pairs);
    pf_put(p); /* dials in flight hold their pair, which holds p */
}

static const struct stream_session_ops pf_ops = {
    .stream_open = pf_stream_open,
    .stream_data = pf_stream_data,
    .stream_reset = pf_stream_reset,
    .out_ready = pf_out_ready,
    .tick = pf_tick,
    .abort = pf_abort,
};

void stream_portforward_begin(struct stream_conn *c, struct berth_stream_request *req)
{
    struct pf_session *p = berth_xcalloc(1, sizeof(*p));

    p->refs = 1;
    p->srv = c->srv;
    p->c = c;
    p->req = req;
    c->ops = &pf_ops;
    c->sess = p;
}

void stream_portforward_ws_channels(struct stream_conn *c)
{
    struct pf_session *p = c->sess;

    /* Port i: channel 2i carries data, 2i+1 errors; each starts with the port, uint16 LE. */
    for (size_t i = 0; i < p->req->n_ports; i++) {
        struct pf_pair *x = berth_xcalloc(1, sizeof(*x));
        uint8_t port_le[2] = {(uint8_t)p->req->ports[i], (uint8_t)(p->req->ports[i] >> 8)};

        x->p = p;
        x->refs = 1;
        p->refs++;
        x->request_id = (int64_t)i;
        x->port = p->req->ports[i];
        x->sock.fd = -1;
        x->next = p->pairs;
        p->pairs = x;
        x->data = stream_conn_channel(c, (uint32_t)(2 * i), ST_PF_DATA);
        x->error = stream_conn_channel(c, (uint32_t)(2 * i + 1), ST_ERROR);
        x->data->owner = x->error->owner = x;
        stream_conn_data(c, x->data, port_le, 2, false);
        stream_conn_data(c, x->error, port_le, 2, false);
        pair_dial(p, x);
    }
}
