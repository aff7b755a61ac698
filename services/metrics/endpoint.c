/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The metrics HTTP endpoint: one thread, one poll loop over the listening socket, a stop
 * eventfd and at most BERTH_METRICS_MAX_CONNS connections, each with a deadline for its whole
 * exchange (request head in, response out), a bound on the head and non-blocking writes, so
 * no client (slow, silent, flooding, garbage) holds the loop or another client up. The
 * request head parser is the CRI streaming server's (services/streaming/http.h).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/util.h"
#include "services/metrics/metrics.h"
#include "services/streaming/http.h"

#define METRICS_PATH "/v1/metrics"
#define CONTENT_TYPE "Content-Type: text/plain; version=0.0.4; charset=utf-8"

struct conn {
    int fd; /* -1: free slot */
    int64_t deadline;
    bool writing;
    struct berth_buf in, out;
};

struct berth_metrics_endpoint {
    struct berth_metrics *reg; /* borrowed */
    int listen_fd, stop_fd, port;
    int64_t timeout_ns;
    pthread_t thread;
    struct conn conns[BERTH_METRICS_MAX_CONNS];
};

int berth_metrics_address_parse(const char *address, char **host, char **port,
                                struct berth_err **err)
{
    const char *colon, *h = address;
    size_t hl;
    long v = 0;

    if (host)
        *host = NULL;
    if (port)
        *port = NULL;
    colon = address ? strrchr(address, ':') : NULL;
    if (!colon || !colon[1] || strlen(colon + 1) > 5)
        goto bad;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            goto bad;
        v = v * 10 + (*p - '0');
    }
    if (v > 65535)
        goto bad;
    hl = (size_t)(colon - address);
    if (hl && address[0] == '[') { /* "[::1]:1338" */
        if (hl < 3 || address[hl - 1] != ']')
            goto bad;
        h = address + 1;
        hl -= 2;
    } else if (memchr(address, ':', hl)) { /* an IPv6 address without brackets */
        goto bad;
    }
    if (host)
        *host = berth_xstrndup(h, hl);
    if (port)
        *port = berth_xstrdup(colon + 1);
    return 0;
bad:
    return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                         "metrics address \"%s\" is not host:port (e.g. \"127.0.0.1:1338\")",
                         address ? address : "");
}

static int listen_on(const char *address, int *port_out, struct berth_err **err)
{
    _cleanup_free_ char *host = NULL, *port = NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc, fd = -1, saved = 0;

    if (berth_metrics_address_parse(address, &host, &port, err) < 0)
        return -1;
    rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
    if (rc != 0)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "metrics address \"%s\": %s",
                             address, gai_strerror(rc));
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int one = 1;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return berth_err_set(err, BERTH_E_UNAVAILABLE, saved, "listen on metrics address \"%s\"",
                             address);
    {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        *port_out = 0;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                                 : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return fd;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->writing = false;
    berth_buf_clear(&c->in);
    berth_buf_clear(&c->out);
}

/* A response with a plain-text body (errors). */
static void respond_text(struct conn *c, int status, const char *const *headers, const char *body)
{
    berth_http_response(&c->out, status, headers, body);
    c->writing = true;
}

static void respond_metrics(struct berth_metrics_endpoint *e, struct conn *c)
{
    struct berth_buf body = BERTH_BUF_INIT;
    char len[64];
    const char *headers[] = {CONTENT_TYPE, len, NULL};

    berth_metrics_render(e->reg, &body);
    snprintf(len, sizeof(len), "Content-Length: %zu", berth_buf_pending(&body));
    berth_http_response(&c->out, 200, headers, NULL);
    berth_buf_append(&c->out, berth_buf_head(&body), berth_buf_pending(&body));
    berth_buf_clear(&body);
    c->writing = true;
}

/* The head is in (or cannot be): answer. */
static void handle(struct berth_metrics_endpoint *e, struct conn *c)
{
    static const char *const close_hdr[] = {"Connection: close", NULL};
    static const char *const allow_hdr[] = {"Allow: GET", "Connection: close", NULL};
    struct berth_http_request req;
    _cleanup_err_ struct berth_err *err = NULL;
    ssize_t n = berth_http_request_parse(berth_buf_head(&c->in), berth_buf_pending(&c->in),
                                         BERTH_METRICS_MAX_HEAD, &req, &err);
    size_t plen;

    if (n == 0)
        return; /* more to come */
    if (n < 0) {
        respond_text(c, 400, close_hdr, "bad request\n");
        return;
    }
    plen = strcspn(req.path, "?");
    if (strlen(METRICS_PATH) != plen || strncmp(req.path, METRICS_PATH, plen) != 0)
        respond_text(c, 404, close_hdr, "404 page not found\n");
    else if (strcmp(req.method, "GET") != 0)
        respond_text(c, 405, allow_hdr, "method not allowed\n");
    else
        respond_metrics(e, c);
    berth_http_request_clear(&req);
}

static void on_readable(struct berth_metrics_endpoint *e, struct conn *c)
{
    for (;;) {
        uint8_t *p = berth_buf_reserve(&c->in, 2048);
        ssize_t n = read(c->fd, p, 2048);
        if (n > 0) {
            berth_buf_commit(&c->in, (size_t)n);
            /* One byte past the limit is enough to tell an oversized head. */
            if (berth_buf_pending(&c->in) > BERTH_METRICS_MAX_HEAD + 1)
                break;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        conn_close(c); /* EOF or error before a whole head */
        return;
    }
    handle(e, c);
}

static void on_writable(struct conn *c)
{
    while (berth_buf_pending(&c->out)) {
        ssize_t n = send(c->fd, berth_buf_head(&c->out), berth_buf_pending(&c->out), MSG_NOSIGNAL);
        if (n > 0) {
            berth_buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        break;
    }
    /* All sent (or the client went away): one response per connection. */
    conn_close(c);
}

static void on_accept(struct berth_metrics_endpoint *e, int64_t now)
{
    for (;;) {
        int fd = accept4(e->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        struct conn *slot = NULL;

        if (fd < 0)
            return; /* EAGAIN, or EMFILE and friends: the next poll tries again */
        for (size_t i = 0; i < BERTH_METRICS_MAX_CONNS && !slot; i++)
            if (e->conns[i].fd < 0)
                slot = &e->conns[i];
        if (!slot) {
            close(fd); /* full: a scraper retries; holding it would let a flood pin memory */
            continue;
        }
        slot->fd = fd;
        slot->deadline = now + e->timeout_ns;
        slot->writing = false;
    }
}

static void *endpoint_main(void *arg)
{
    struct berth_metrics_endpoint *e = arg;
    struct pollfd pfd[BERTH_METRICS_MAX_CONNS + 2];
    struct conn *who[BERTH_METRICS_MAX_CONNS + 2];

    for (;;) {
        int64_t now = berth_mono_ns(), next = INT64_MAX;
        nfds_t n = 0;
        int timeout;

        pfd[n++] = (struct pollfd){.fd = e->stop_fd, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = e->listen_fd, .events = POLLIN};
        for (size_t i = 0; i < BERTH_METRICS_MAX_CONNS; i++) {
            struct conn *c = &e->conns[i];
            if (c->fd < 0)
                continue;
            if (now >= c->deadline) {
                conn_close(c); /* slow or silent client */
                continue;
            }
            if (c->deadline < next)
                next = c->deadline;
            who[n] = c;
            pfd[n++] = (struct pollfd){.fd = c->fd, .events = c->writing ? POLLOUT : POLLIN};
        }
        timeout = next == INT64_MAX ? -1 : (int)((next - now) / 1000000 + 1);
        if (poll(pfd, n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[0].revents)
            break;
        now = berth_mono_ns();
        for (nfds_t i = 2; i < n; i++) {
            struct conn *c = who[i];
            if (!pfd[i].revents || c->fd < 0)
                continue;
            if (c->writing)
                on_writable(c);
            else
                on_readable(e, c);
            if (c->fd >= 0 && c->writing && (pfd[i].revents & POLLIN))
                on_writable(c); /* answered just now: try to send at once */
        }
        if (pfd[1].revents & POLLIN)
            on_accept(e, now);
    }
    return NULL;
}

int berth_metrics_endpoint_start(const char *address, struct berth_metrics *reg, int64_t timeout_ms,
                                 struct berth_metrics_endpoint **out, struct berth_err **err)
{
    struct berth_metrics_endpoint *e;
    int rc;

    *out = NULL;
    e = berth_xcalloc(1, sizeof(*e));
    e->reg = reg;
    e->stop_fd = -1;
    e->timeout_ns = (timeout_ms > 0 ? timeout_ms : BERTH_METRICS_TIMEOUT_MS) * 1000000LL;
    for (size_t i = 0; i < BERTH_METRICS_MAX_CONNS; i++)
        e->conns[i].fd = -1;
    e->listen_fd = listen_on(address, &e->port, err);
    if (e->listen_fd < 0) {
        free(e);
        return -1;
    }
    e->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (e->stop_fd < 0) {
        rc = errno;
        close(e->listen_fd);
        free(e);
        return berth_err_set(err, BERTH_E_INTERNAL, rc, "metrics endpoint: eventfd");
    }
    rc = pthread_create(&e->thread, NULL, endpoint_main, e);
    if (rc != 0) {
        close(e->listen_fd);
        close(e->stop_fd);
        free(e);
        return berth_err_set(err, BERTH_E_INTERNAL, rc, "metrics endpoint: start thread");
    }
    *out = e;
    return 0;
}

int berth_metrics_endpoint_port(const struct berth_metrics_endpoint *e)
{
    return e->port;
}

void berth_metrics_endpoint_stop(struct berth_metrics_endpoint *e)
{
    uint64_t one = 1;

    if (!e)
        return;
    if (write(e->stop_fd, &one, sizeof(one)) < 0) {
        /* an eventfd write fails only on overflow, which one write cannot reach */
    }
    pthread_join(e->thread, NULL);
    for (size_t i = 0; i < BERTH_METRICS_MAX_CONNS; i++)
        conn_close(&e->conns[i]);
    close(e->listen_fd);
    close(e->stop_fd);
    free(e);
}
