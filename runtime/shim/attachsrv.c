/* SPDX-License-Identifier: Apache-2.0 */
/* The attach socket (attach.h) in the shim's epoll loop: accepts clients on <bundle>/attach,
 * fans every chunk of the init process's output out to them (the CRI log gets it from loop.c)
 * and feeds their stdin packets to the process. A slow client holds the process's output back
 * (as containerd's writer group does) instead of losing it, within bounds: reading stops
 * while a queue is over ATT_HIGH and resumes below ATT_LOW; a queue stuck for ATT_STALL_NS
 * costs the client its connection. */
#define BERTH_LOG_SUBSYS "shim.attach"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h> /* umask */
#include <sys/timerfd.h>

#include "lib/log.h"
#include "runtime/shim/attach.h"
#include "runtime/shim/shim-internal.h"
#include "runtime/shim/shim.h"

#define ATT_HIGH         (1024 * 1024) /* a queue over this stops the process's output */
#define ATT_LOW          (256 * 1024)  /* ... until every queue is below this */
#define ATT_STALL_NS     (10 * 1000000000LL)
#define ATT_END_FLUSH_MS 1000
#define ATT_READS        16 /* client packets read per event: one client cannot starve the loop */

/* A packet shared by the queues of every client it goes to. */
struct att_pkt {
    int refs;
    size_t len;
    uint8_t data[];
};

struct att_node {
    struct att_node *next;
    struct att_pkt *pkt;
};

struct att_client {
    struct shim_fd f; /* first: epoll data.ptr points here */
    struct att_client *next;
    struct att_node *head, **tail;
    size_t queued;       /* bytes in the queue */
    int64_t progress_ns; /* when the queue last moved (or became non-empty) */
    bool gone;           /* the peer cannot take output any more: read what it sent, then drop */
    bool dead;           /* closed; freed after the loop's batch (its event may still be in it) */
};

struct shim_attach {
    struct shim_fd listen; /* FD_ATTACH_LISTEN */
    struct shim_fd timer;  /* FD_ATTACH_TIMER: stall checks while a queue is not empty */
    char *path;            /* <bundle>/attach, to unlink */
    struct att_client *clients, *dead;
    bool has_stdin; /* stdin is attach://: client stdin goes to the process */
    bool once;      /* ... and a client's STDIN_END closes it (not with a terminal) */
    bool blocked;   /* the process's output is not read (a queue went over ATT_HIGH) */
    bool ended;     /* the process's output ended: clients are closed at once */
    bool timer_armed;
    struct shim_attach *retired; /* closed ones, freed with their clients after the batch */
};

static void pkt_unref(struct att_pkt *p)
{
    if (--p->refs == 0)
        free(p);
}

static void queue_clear(struct att_client *c)
{
    while (c->head) {
        struct att_node *n = c->head;
        c->head = n->next;
        pkt_unref(n->pkt);
        free(n);
    }
    c->tail = &c->head;
    c->queued = 0;
}

/* Sends what the client's socket takes. False when the peer is gone. */
static bool queue_send(struct att_client *c)
{
    while (c->head) {
        struct att_node *n = c->head;
        ssize_t r = send(c->f.fd, n->pkt->data, n->pkt->len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return true;
        if (r < 0) {
            queue_clear(c);
            return false;
        }
        c->queued -= n->pkt->len;
        c->progress_ns = berth_mono_ns();
        c->head = n->next;
        if (!c->head)
            c->tail = &c->head;
        pkt_unref(n->pkt);
        free(n);
    }
    return true;
}

/* The init process; NULL while Create is still opening its stdio. */
static struct shim_proc *att_proc(struct shim *s)
{
    return shim_init(s);
}

/* Client stdin is read only while the process's stdin holds nothing pending. */
static bool stdin_ready(struct shim *s)
{
    struct shim_proc *p = att_proc(s);

    return !p || !berth_buf_pending(&p->in_pend);
}

static void client_watch(struct shim *s, struct att_client *c)
{
    uint32_t ev = (stdin_ready(s) ? EPOLLIN : 0) | (!c->gone && c->queued ? EPOLLOUT : 0);

    if (c->dead)
        return;
    if (!ev)
        shim_unwatch(s, &c->f);
    else if (ev != c->f.events)
        shim_watch(s, &c->f, ev);
}

void shim_attach_rewatch(struct shim *s)
{
    if (!s->att)
        return;
    for (struct att_client *c = s->att->clients; c; c = c->next)
        client_watch(s, c);
}

static void client_drop(struct shim *s, struct att_client *c)
{
    struct shim_attach *a = s->att;

    for (struct att_client **pp = &a->clients; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    shim_unwatch(s, &c->f);
    close(c->f.fd);
    c->f.fd = -1;
    queue_clear(c);
    c->dead = true;
    c->next = a->dead;
    a->dead = c;
}

/* Re-evaluates the high/low water marks and the stall timer after queues changed. */
static void queues_changed(struct shim *s)
{
    struct shim_attach *a = s->att;
    struct itimerspec its = {0};
    size_t max = 0;
    bool was = a->blocked;

    for (struct att_client *c = a->clients; c; c = c->next)
        if (c->queued > max)
            max = c->queued;
    if (max > ATT_HIGH)
        a->blocked = true;
    else if (max < ATT_LOW)
        a->blocked = false;
    if (max > 0) {
        its.it_value.tv_sec = 1;
        its.it_interval.tv_sec = 1;
    }
    if (a->timer.fd >= 0 && a->timer_armed != (max > 0)) {
        timerfd_settime(a->timer.fd, 0, &its, NULL);
        a->timer_armed = max > 0;
    }
    if (was != a->blocked && att_proc(s))
        shim_proc_rewatch(s, att_proc(s));
}

bool shim_attach_blocked(const struct shim *s)
{
    return s->att && s->att->blocked;
}

void shim_attach_output(struct shim *s, enum berth_shim_attach_type type, const uint8_t *buf,
                        size_t len)
{
    struct shim_attach *a = s->att;
    bool queued = false;

    if (!a || a->ended || !a->clients)
        return;
    while (len > 0) {
        size_t n = len > BERTH_SHIM_ATTACH_DATA_MAX ? BERTH_SHIM_ATTACH_DATA_MAX : len;
        struct att_pkt *p = berth_xmalloc(sizeof(*p) + n + 1);

        p->refs = 1; /* ours, until every client has it */
        p->len = n + 1;
        p->data[0] = (uint8_t)type;
        memcpy(p->data + 1, buf, n);
        for (struct att_client *c = a->clients; c; c = c->next) {
            struct att_node *node;
            if (c->gone)
                continue;
            node = berth_xmalloc(sizeof(*node));
            node->next = NULL;
            node->pkt = p;
            p->refs++;
            if (!c->head)
                c->progress_ns = berth_mono_ns();
            *c->tail = node;
            c->tail = &node->next;
            c->queued += p->len;
            if (c->head == node && !queue_send(c))
                c->gone = true;
            if (c->queued)
                queued = true;
            client_watch(s, c);
        }
        pkt_unref(p);
        buf += n;
        len -= n;
    }
    if (queued || a->blocked)
        queues_changed(s);
}

/* One packet from a client. False: drop the client (EOF, malformed packet). */
static bool client_packet(struct shim *s, struct att_client *c, const uint8_t *pkt, size_t len)
{
    struct shim_attach *a = s->att;
    struct shim_proc *p = att_proc(s);
    enum berth_shim_attach_type type;
    const uint8_t *data;
    size_t dlen;

    if (!berth_shim_attach_packet_split(pkt, len, true, &type, &data, &dlen)) {
        log_warn("container %s: attach client sent a malformed packet (%zu bytes, type %d): "
                 "disconnected",
                 s->id, len, len ? pkt[0] : -1);
        return false;
    }
    if (!a->has_stdin || !p)
        return true; /* created without stdin: discarded */
    if (type == BERTH_SHIM_ATTACH_STDIN)
        shim_stdin_write(s, p, data, dlen);
    else if (a->once && !p->terminal && p->in_pipe.fd >= 0) {
        log_debug("container %s: attach client ended stdin (stdin_once): closing it", s->id);
        shim_stdin_close(s, p); /* the process reads EOF */
    }
    return true;
}

static void on_client(struct shim *s, struct att_client *c, uint32_t events)
{
    static uint8_t buf[BERTH_SHIM_ATTACH_PACKET_MAX + 1];

    if ((events & EPOLLOUT) && !c->gone && !queue_send(c))
        c->gone = true;
    if (events & (EPOLLHUP | EPOLLERR)) {
        /* the peer closed: what it sent is still read below (or once stdin has room) */
        c->gone = true;
        queue_clear(c);
    }
    for (int i = 0;
         i < ATT_READS && stdin_ready(s) && (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLOUT));
         i++) {
        /* MSG_TRUNC: the real length of a packet too long for buf, to refuse it */
        ssize_t n = recv(c->f.fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        /* 0: EOF, or an empty packet (which SEQPACKET cannot tell apart): drop either way */
        if (n <= 0 || !client_packet(s, c, buf, (size_t)n)) {
            log_debug("container %s: attach client left", s->id);
            client_drop(s, c);
            queues_changed(s);
            return;
        }
    }
    client_watch(s, c);
    queues_changed(s);
}

static void on_accept(struct shim *s)
{
    struct shim_attach *a = s->att;

    for (;;) {
        struct att_client *c;
        int fd = accept4(a->listen.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd < 0)
            return;
        if (a->ended) {
            close(fd); /* reads EOF: the container has ended */
            continue;
        }
        c = berth_xcalloc(1, sizeof(*c));
        c->f = (struct shim_fd){.kind = FD_ATTACH_CLIENT, .fd = fd};
        c->tail = &c->head;
        c->next = a->clients;
        a->clients = c;
        log_debug("container %s: attach client connected", s->id);
        client_watch(s, c);
    }
}

static void on_timer(struct shim *s)
{
    struct shim_attach *a = s->att;
    uint64_t ticks;
    int64_t now = berth_mono_ns();
    struct att_client *next;

    if (read(a->timer.fd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
        return;
    for (struct att_client *c = a->clients; c; c = next) {
        next = c->next;
        if (c->queued && now - c->progress_ns >= ATT_STALL_NS) {
            log_warn("container %s: attach client took no output for %llds (%zu bytes queued): "
                     "disconnected",
                     s->id, (long long)(ATT_STALL_NS / 1000000000LL), c->queued);
            client_drop(s, c);
        }
    }
    queues_changed(s);
}

void shim_attach_on_event(struct shim *s, struct shim_fd *f, uint32_t events)
{
    /* f may belong to an attach closed earlier in this batch: its fds are -1 by now */
    if (!s->att || f->fd < 0)
        return;
    switch (f->kind) {
    case FD_ATTACH_LISTEN:
        on_accept(s);
        break;
    case FD_ATTACH_TIMER:
        on_timer(s);
        break;
    case FD_ATTACH_CLIENT: {
        struct att_client *c = (struct att_client *)f;
        if (!c->dead)
            on_client(s, c, events);
        break;
    }
    default:
        break;
    }
}

static void free_dead(struct shim_attach *a)
{
    while (a->dead) {
        struct att_client *c = a->dead;
        a->dead = c->next;
        free(c);
    }
}

void shim_attach_gc(struct shim *s)
{
    while (s->att_retired) {
        struct shim_attach *a = s->att_retired;
        s->att_retired = a->retired;
        free_dead(a);
        free(a->path);
        free(a);
    }
    if (s->att)
        free_dead(s->att);
}

void shim_attach_end(struct shim *s)
{
    struct shim_attach *a = s->att;
    int64_t deadline = berth_mono_ns() + ATT_END_FLUSH_MS * 1000000LL;

    if (!a || a->ended)
        return;
    a->ended = true;
    /* What is queued still goes out, for at most ATT_END_FLUSH_MS: then EOF tells every
     * client that the container ended. */
    for (;;) {
        struct pollfd pfd[64];
        nfds_t n = 0;
        int64_t left = (deadline - berth_mono_ns()) / 1000000;

        for (struct att_client *c = a->clients; c; c = c->next) {
            if (c->gone || !c->queued)
                continue;
            if (!queue_send(c))
                c->gone = true;
            else if (c->queued && n < BERTH_N(pfd))
                pfd[n++] = (struct pollfd){.fd = c->f.fd, .events = POLLOUT};
        }
        if (n == 0 || left <= 0 || (poll(pfd, n, (int)left) < 0 && errno != EINTR))
            break;
    }
    while (a->clients)
        client_drop(s, a->clients);
    queues_changed(s);
}

int shim_attach_open(struct shim *s, struct shim_proc *init, struct berth_err **err)
{
    _cleanup_close_ int dirfd = -1;
    struct shim_attach *a;
    struct sockaddr_un sa;
    socklen_t salen;
    mode_t old;
    int rc;

    shim_attach_close(s);
    a = berth_xcalloc(1, sizeof(*a));
    a->listen = (struct shim_fd){.kind = FD_ATTACH_LISTEN, .fd = -1};
    a->timer = (struct shim_fd){.kind = FD_ATTACH_TIMER, .fd = -1};
    a->path = berth_strdup_printf("%s/" BERTH_SHIM_ATTACH_SOCKET, s->bundle);
    s->att = a;
    if (*init->stdin_uri && berth_str_has_prefix(init->stdin_uri, BERTH_SHIM_ATTACH_SCHEME)) {
        if (berth_shim_attach_uri_parse(init->stdin_uri, &a->once, err) < 0)
            return -1;
        a->has_stdin = true;
    }
    dirfd = open(s->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "open bundle \"%s\"", s->bundle);
    unlinkat(dirfd, BERTH_SHIM_ATTACH_SOCKET, 0); /* a previous task's */
    a->listen.fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (a->listen.fd < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "attach socket");
    salen = berth_shim_attach_sockaddr(dirfd, &sa);
    /* 0600 from the start: no window in which another user could connect (single thread) */
    old = umask(0177);
    rc = bind(a->listen.fd, (struct sockaddr *)&sa, salen);
    umask(old);
    if (rc < 0 || listen(a->listen.fd, 16) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "listen on \"%s\"", a->path);
    a->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (a->timer.fd < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "attach timer");
    shim_watch(s, &a->listen, EPOLLIN);
    shim_watch(s, &a->timer, EPOLLIN);
    return 0;
}

void shim_attach_close(struct shim *s)
{
    struct shim_attach *a = s->att;

    if (!a)
        return;
    while (a->clients)
        client_drop(s, a->clients);
    if (a->listen.fd >= 0) {
        shim_unwatch(s, &a->listen);
        close(a->listen.fd);
        a->listen.fd = -1;
        unlink(a->path);
    }
    if (a->timer.fd >= 0) {
        shim_unwatch(s, &a->timer);
        close(a->timer.fd);
        a->timer.fd = -1;
    }
    /* freed by shim_attach_gc: an event of the loop's current batch may point into it */
    a->retired = s->att_retired;
    s->att_retired = a;
    s->att = NULL;
}
