/* SPDX-License-Identifier: Apache-2.0 */
/* Task events to the daemon: Events.Forward calls on $TTRPC_ADDRESS made from the loop without
 * ever blocking it (a non-blocking socket, framed with ttrpc/frame.h; the blocking
 * ttrpc/client.h would need a reader thread). Best effort like containerd's shim: events
 * queue while the daemon is away, each is retried over up to MAX_TRIES connections with a
 * growing delay, and the oldest is dropped past MAX_QUEUED. */
#define BERTH_LOG_SUBSYS "shim.events"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>

#include "api/google/rpc/status.pb-c.h"
#include "api/services/ttrpc/events/v1/events.pb-c.h"
#include "api/timestamp.h"
#include "api/ttrpc/ttrpc.pb-c.h"
#include "lib/log.h"
#include "runtime/shim/shim-internal.h"

#define MAX_QUEUED   256
#define MAX_TRIES    5
#define CALL_TIMEOUT (5LL * 1000 * 1000 * 1000)

static void event_free(struct shim_event *e)
{
    berth_bytes_clear(&e->req);
    free(e);
}

static void pop_event(struct shim_events *ev, struct shim_event *e)
{
    struct shim_event **pp = &ev->head;

    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (!*pp)
        return;
    *pp = e->next;
    if (ev->tail == &e->next)
        ev->tail = pp;
    ev->n--;
    event_free(e);
}

static void arm_timer(struct shim *s)
{
    struct itimerspec its = {0};

    if (s->ev.backoff_ms < 100)
        s->ev.backoff_ms = 100;
    its.it_value.tv_sec = s->ev.backoff_ms / 1000;
    its.it_value.tv_nsec = (long)(s->ev.backoff_ms % 1000) * 1000000L;
    timerfd_settime(s->ev.timer.fd, 0, &its, NULL);
    if (s->ev.backoff_ms < 5000)
        s->ev.backoff_ms *= 2;
}

static void disconnect(struct shim *s)
{
    struct shim_events *ev = &s->ev;
    struct shim_event *e, *next;

    if (ev->sock.fd >= 0) {
        shim_unwatch(s, &ev->sock);
        close(ev->sock.fd);
        ev->sock.fd = -1;
    }
    berth_ttrpc_wbuf_clear(&ev->out);
    berth_ttrpc_reader_clear(&ev->rd);
    for (e = ev->head; e; e = next) {
        next = e->next;
        if (e->stream_id && ++e->tries >= MAX_TRIES) {
            log_warn("dropping an event after %d attempts", e->tries);
            pop_event(ev, e);
            continue;
        }
        e->stream_id = 0;
    }
    if (ev->head)
        arm_timer(s);
}

static void update_watch(struct shim *s)
{
    struct shim_events *ev = &s->ev;
    uint32_t want = EPOLLIN | (berth_ttrpc_wbuf_pending(&ev->out) ? EPOLLOUT : 0);

    if (ev->sock.fd >= 0 && want != ev->sock.events)
        shim_watch(s, &ev->sock, want);
}

static void flush(struct shim *s)
{
    struct shim_events *ev = &s->ev;

    while (berth_ttrpc_wbuf_pending(&ev->out)) {
        ssize_t n = send(ev->sock.fd, ev->out.data + ev->out.off,
                         berth_ttrpc_wbuf_pending(&ev->out), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            disconnect(s);
            return;
        }
        berth_ttrpc_wbuf_consume(&ev->out, (size_t)n);
    }
    update_watch(s);
}

static bool try_connect(struct shim *s)
{
    struct shim_events *ev = &s->ev;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (ev->sock.fd >= 0)
        return true;
    if (strlen(ev->address) >= sizeof(sa.sun_path))
        return false;
    strcpy(sa.sun_path, ev->address);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return false;
    }
    ev->sock.fd = fd;
    ev->sock.events = 0;
    ev->next_id = 1;
    shim_watch(s, &ev->sock, EPOLLIN);
    return true;
}

/* Sends every queued event not yet on the wire. */
static void kick(struct shim *s)
{
    struct shim_events *ev = &s->ev;

    if (!ev->head)
        return;
    if (!try_connect(s)) {
        struct itimerspec cur;
        timerfd_gettime(ev->timer.fd, &cur);
        if (!cur.it_value.tv_sec && !cur.it_value.tv_nsec)
            arm_timer(s);
        return;
    }
    for (struct shim_event *e = ev->head; e; e = e->next) {
        _cleanup_err_ struct berth_err *err = NULL;
        if (e->stream_id)
            continue;
        e->stream_id = ev->next_id;
        ev->next_id += 2;
        if (berth_ttrpc_frame_append(&ev->out, e->stream_id, BERTH_TTRPC_REQUEST, 0, e->req.data,
                                     e->req.len, &err) < 0)
            e->tries = MAX_TRIES; /* too big: can't ever go */
    }
    flush(s);
}

void shim_events_init(struct shim *s, const char *address)
{
    struct shim_events *ev = &s->ev;

    memset(ev, 0, sizeof(*ev));
    ev->tail = &ev->head;
    ev->sock = (struct shim_fd){.kind = FD_EVENTS, .fd = -1};
    ev->timer = (struct shim_fd){.kind = FD_TIMER, .fd = -1};
    if (!address || !*address)
        return;
    if (berth_str_has_prefix(address, "unix://"))
        address += 7;
    ev->address = berth_xstrdup(address);
    ev->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (ev->timer.fd >= 0)
        shim_watch(s, &ev->timer, EPOLLIN);
}

void shim_events_publish(struct shim *s, const char *topic, const ProtobufCMessage *msg)
{
    Containerd__Services__Events__Ttrpc__V1__ForwardRequest fr =
        CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
    Containerd__Types__Envelope env = CONTAINERD__TYPES__ENVELOPE__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    Ttrpc__Request req = TTRPC__REQUEST__INIT;
    Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT, *kvs[1] = {&kv};
    struct berth_bytes payload = {0}, value = {0};
    struct shim_event *e;
    int64_t now = berth_now_ns();

    if (!s->ev.address || s->ev.timer.fd < 0)
        return;
    berth_ttrpc_pack(&value, msg);
    any.type_url = (char *)msg->descriptor->name; /* bare type URL, as containerd sends */
    any.value.data = value.data;
    any.value.len = value.len;
    env.timestamp = berth_pb_ts_set(&ts, now);
    env.namespace_ = (char *)s->ns;
    env.topic = (char *)topic;
    env.event = &any;
    fr.envelope = &env;
    berth_ttrpc_pack(&payload, &fr.base);
    berth_bytes_clear(&value);
    req.service = "containerd.services.events.ttrpc.v1.Events";
    req.method = "Forward";
    req.payload.data = payload.data;
    req.payload.len = payload.len;
    req.timeout_nano = CALL_TIMEOUT;
    kv.key = BERTH_TTRPC_NS_KEY;
    kv.value = (char *)s->ns;
    req.metadata = kvs;
    req.n_metadata = 1;
    e = berth_xcalloc(1, sizeof(*e));
    berth_ttrpc_pack(&e->req, &req.base);
    berth_bytes_clear(&payload);
    if (s->ev.n >= MAX_QUEUED && s->ev.head && !s->ev.head->stream_id) {
        log_warn("event queue full: dropping the oldest event");
        pop_event(&s->ev, s->ev.head);
    }
    *s->ev.tail = e;
    s->ev.tail = &e->next;
    s->ev.n++;
    kick(s);
}

static void on_response(struct shim *s, struct berth_ttrpc_frame *f)
{
    Ttrpc__Response *resp;

    for (struct shim_event *e = s->ev.head; e; e = e->next) {
        if (e->stream_id != f->hdr.stream_id)
            continue;
        resp = ttrpc__response__unpack(NULL, f->hdr.length, f->payload);
        if (resp && resp->status && resp->status->code != 0)
            log_warn("events forward: %s", resp->status->message);
        if (resp)
            ttrpc__response__free_unpacked(resp, NULL);
        pop_event(&s->ev, e);
        s->ev.backoff_ms = 0;
        return;
    }
}

void shim_events_on_io(struct shim *s, uint32_t events)
{
    struct shim_events *ev = &s->ev;
    uint8_t buf[1024];

    if (events & EPOLLOUT)
        flush(s);
    if (ev->sock.fd < 0 || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    for (;;) {
        ssize_t n = recv(ev->sock.fd, buf, sizeof(buf), MSG_DONTWAIT);
        size_t off = 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            disconnect(s);
            return;
        }
        while (off < (size_t)n) {
            _cleanup_err_ struct berth_err *err = NULL;
            struct berth_ttrpc_frame f = {0};
            size_t used = 0;
            int r = berth_ttrpc_reader_feed(&ev->rd, buf + off, (size_t)n - off, &used, &f, &err);
            off += used;
            if (r == 1 && f.hdr.type == BERTH_TTRPC_RESPONSE)
                on_response(s, &f);
            berth_ttrpc_frame_clear(&f);
            if (r == 0)
                break;
        }
    }
}

void shim_events_on_timer(struct shim *s)
{
    uint64_t ticks;

    if (read(s->ev.timer.fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
        return;
    kick(s);
}

void shim_events_drain(struct shim *s, int timeout_ms)
{
    int64_t deadline = berth_mono_ns() + (int64_t)timeout_ms * 1000000;

    kick(s);
    while (s->ev.head && s->ev.sock.fd >= 0) {
        int64_t left = (deadline - berth_mono_ns()) / 1000000;
        struct pollfd p = {.fd = s->ev.sock.fd, .events = POLLIN};
        if (left <= 0)
            break;
        if (berth_ttrpc_wbuf_pending(&s->ev.out))
            p.events |= POLLOUT;
        if (poll(&p, 1, (int)left) <= 0)
            break;
        shim_events_on_io(s, (p.revents & POLLIN ? EPOLLIN : 0) |
                                 (p.revents & POLLOUT ? EPOLLOUT : 0) |
                                 (p.revents & (POLLHUP | POLLERR) ? EPOLLHUP : 0));
    }
}
