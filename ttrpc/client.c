/* SPDX-License-Identifier: Apache-2.0 */
/* Blocking ttrpc client. Calls take a stream id and write their Request frame under one write
 * lock (so ids reach the server in increasing order, as it requires), then sleep on a condition
 * variable; one reader thread decodes Response frames and hands each to the waiter registered
 * under its stream id. Responses nobody waits for (timed-out calls) are dropped. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "api/ttrpc/ttrpc.pb-c.h" /* ttrpc.Request/Response envelopes */
#include "lib/status.h"
#include "ttrpc/client.h"
#include "ttrpc/frame.h"
#include "ttrpc/server.h" /* BERTH_TTRPC_NS_KEY, berth_ttrpc_pack */

/* One call waiting for its response; lives on the caller's stack. */
struct waiter {
    uint32_t id;
    bool done;
    int code;  /* google.rpc.Code of the response */
    char *msg; /* status message */
    struct berth_bytes payload;
    struct waiter *next;
};

struct berth_ttrpc_client {
    int fd;
    char *path;          /* for messages */
    pthread_mutex_t wmu; /* serializes id allocation + frame writes */
    pthread_mutex_t mu;  /* everything below */
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    uint32_t next_id;
    struct waiter *waiters;
    bool dead;
    int callers; /* calls in progress; close waits for them */
    pthread_t reader;
};

DEFINE_PB_CLEANUP(Ttrpc__Response, response_freep)

static void mono_deadline(int64_t deadline_ns, struct timespec *ts)
{
    ts->tv_sec = deadline_ns / 1000000000;
    ts->tv_nsec = deadline_ns % 1000000000;
}

static void mark_dead_locked(struct berth_ttrpc_client *c)
{
    c->dead = true;
    pthread_cond_broadcast(&c->cond);
}

/* Hands a decoded response (or a frame-level failure) to the waiter for id, if any. */
static void deliver(struct berth_ttrpc_client *c, uint32_t id, int code, const char *msg,
                    const ProtobufCBinaryData *payload)
{
    pthread_mutex_lock(&c->mu);
    for (struct waiter *w = c->waiters; w; w = w->next) {
        if (w->id != id || w->done)
            continue;
        w->done = true;
        w->code = code;
        w->msg = berth_xstrdup(msg ? msg : "");
        if (payload && payload->len) {
            w->payload.data = berth_xmalloc(payload->len);
            memcpy(w->payload.data, payload->data, payload->len);
            w->payload.len = payload->len;
        }
        pthread_cond_broadcast(&c->cond);
        break;
    }
    pthread_mutex_unlock(&c->mu);
}

static void on_frame(struct berth_ttrpc_client *c, const struct berth_ttrpc_frame *f)
{
    _cleanup_(response_freep) Ttrpc__Response *resp = NULL;

    if (f->hdr.type != BERTH_TTRPC_RESPONSE)
        return; /* data frames only belong to streaming calls, which this client never opens */
    resp = ttrpc__response__unpack(NULL, f->hdr.length, f->payload);
    if (!resp) {
        deliver(c, f->hdr.stream_id, BERTH_GRPC_INTERNAL, "ttrpc: invalid response message", NULL);
        return;
    }
    /* A missing status means OK (an empty Status packs to nothing in some encoders). */
    deliver(c, f->hdr.stream_id, resp->status ? resp->status->code : BERTH_GRPC_OK,
            resp->status ? resp->status->message : "", &resp->payload);
}

static void *reader_main(void *arg)
{
    struct berth_ttrpc_client *c = arg;
    struct berth_ttrpc_reader rd = {0};
    uint8_t *buf = berth_xmalloc(65536);

    for (;;) {
        ssize_t n = read(c->fd, buf, 65536);
        size_t pos = 0, used;

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        while (pos < (size_t)n) {
            _cleanup_err_ struct berth_err *e = NULL;
            struct berth_ttrpc_frame f = {0};
            int rc = berth_ttrpc_reader_feed(&rd, buf + pos, (size_t)n - pos, &used, &f, &e);

            pos += used;
            if (rc > 0) {
                on_frame(c, &f);
                berth_ttrpc_frame_clear(&f);
            } else if (rc < 0 && e->code == BERTH_E_RESOURCE_EXHAUSTED) {
                deliver(c, f.hdr.stream_id, BERTH_GRPC_RESOURCE_EXHAUSTED, e->msg, NULL);
            }
        }
    }
    berth_ttrpc_reader_clear(&rd);
    free(buf);
    pthread_mutex_lock(&c->mu);
    mark_dead_locked(c);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static const char *strip_scheme(const char *address)
{
    if (berth_str_has_prefix(address, "unix://"))
        return address + strlen("unix://");
    if (berth_str_has_prefix(address, "unix:"))
        return address + strlen("unix:");
    return address;
}

int berth_ttrpc_client_dial(const char *address, int64_t timeout_ms,
                            struct berth_ttrpc_client **out, struct berth_err **err)
{
    _cleanup_close_ int fd = -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *path = strip_scheme(address ? address : "");
    int64_t deadline = berth_mono_ns() + timeout_ms * 1000000;
    socklen_t salen;
    struct berth_ttrpc_client *c;
    pthread_condattr_t ca;

    *out = NULL;
    if (!*path || strlen(path) >= sizeof(sa.sun_path))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "invalid ttrpc address \"%s\"",
                             address ? address : "");
    memcpy(sa.sun_path, path, strlen(path));
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + (path[0] != '@'));

    for (;;) {
        int e;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "create socket");
        if (connect(fd, (struct sockaddr *)&sa, salen) == 0)
            break;
        e = errno;
        berth_closep(&fd);
        if (e == EINTR)
            continue;
        if ((e != ENOENT && e != ECONNREFUSED && e != EAGAIN) || berth_mono_ns() >= deadline)
            return berth_err_set(err, BERTH_E_UNAVAILABLE, e, "dial ttrpc \"%s\"", address);
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    }

    c = berth_xcalloc(1, sizeof(*c));
    c->fd = steal_fd(fd);
    c->path = berth_xstrdup(address);
    c->next_id = 1;
    pthread_mutex_init(&c->wmu, NULL);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&c->reader, NULL, reader_main, c) != 0) {
        int e = errno;
        close(c->fd);
        free(c->path);
        free(c);
        return berth_err_set(err, BERTH_E_INTERNAL, e, "start ttrpc reader thread");
    }
    *out = c;
    return 0;
}

void berth_ttrpc_client_close(struct berth_ttrpc_client *c)
{
    if (!c)
        return;
    /* Wakes the reader (read returns 0), which fails every waiter with UNAVAILABLE. */
    shutdown(c->fd, SHUT_RDWR);
    pthread_join(c->reader, NULL);
    pthread_mutex_lock(&c->mu);
    while (c->callers > 0)
        pthread_cond_wait(&c->cond, &c->mu);
    pthread_mutex_unlock(&c->mu);
    close(c->fd);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->wmu);
    free(c->path);
    free(c);
}

/* Writes all of data before deadline (0 = none). Returns the bytes written; sets *e. */
static size_t write_all(int fd, const uint8_t *data, size_t len, int64_t deadline, int *e)
{
    size_t done = 0;

    *e = 0;
    while (done < len) {
        ssize_t n = send(fd, data + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            done += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            *e = errno;
            return done;
        }
        int wait_ms = -1;
        if (deadline) {
            int64_t left = deadline - berth_mono_ns();
            if (left <= 0) {
                *e = ETIMEDOUT;
                return done;
            }
            wait_ms = (int)((left + 999999) / 1000000);
        }
        poll(&(struct pollfd){.fd = fd, .events = POLLOUT}, 1, wait_ms);
    }
    return done;
}

static void unlink_waiter_locked(struct berth_ttrpc_client *c, struct waiter *w)
{
    for (struct waiter **pp = &c->waiters; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    if (--c->callers == 0)
        pthread_cond_broadcast(&c->cond);
}

int berth_ttrpc_client_call_bytes(struct berth_ttrpc_client *c, const char *service,
                                  const char *method, const void *req, size_t req_len,
                                  struct berth_bytes *resp, int64_t timeout_ms, const char *ns,
                                  const struct berth_ttrpc_md *md, size_t n_md,
                                  struct berth_err **err)
{
    Ttrpc__Request r = TTRPC__REQUEST__INIT;
    _cleanup_free_ Ttrpc__KeyValue *kvs = berth_xcalloc(n_md + 1, sizeof(*kvs));
    _cleanup_free_ Ttrpc__KeyValue **kvp = berth_xcalloc(n_md + 1, sizeof(*kvp));
    _cleanup_free_ char *wmsg = NULL;
    struct berth_ttrpc_wbuf frame = {0};
    struct berth_bytes packed = {0};
    struct waiter w = {0};
    int64_t deadline = timeout_ms > 0 ? berth_mono_ns() + timeout_ms * 1000000 : 0;
    size_t nkv = 0, sent;
    int wr_errno, ret = 0;
    bool dead;

    if (resp)
        *resp = (struct berth_bytes){0};
    r.service = (char *)service;
    r.method = (char *)method;
    r.payload.data = (uint8_t *)req;
    r.payload.len = req_len;
    if (timeout_ms > 0)
        r.timeout_nano = timeout_ms * 1000000;
    if (ns) {
        ttrpc__key_value__init(&kvs[nkv]);
        kvs[nkv].key = (char *)BERTH_TTRPC_NS_KEY;
        kvs[nkv].value = (char *)ns;
        kvp[nkv] = &kvs[nkv];
        nkv++;
    }
    for (size_t i = 0; i < n_md && nkv < n_md + 1; i++, nkv++) {
        ttrpc__key_value__init(&kvs[nkv]);
        kvs[nkv].key = (char *)md[i].key;
        kvs[nkv].value = (char *)md[i].value;
        kvp[nkv] = &kvs[nkv];
    }
    r.n_metadata = nkv;
    r.metadata = kvp;
    berth_ttrpc_pack(&packed, &r.base);

    pthread_mutex_lock(&c->wmu);
    pthread_mutex_lock(&c->mu);
    if (c->dead || c->next_id > UINT32_MAX - 2) {
        pthread_mutex_unlock(&c->mu);
        pthread_mutex_unlock(&c->wmu);
        berth_bytes_clear(&packed);
        return berth_err_set(err, BERTH_E_UNAVAILABLE, 0, "%s/%s on \"%s\": ttrpc: closed", service,
                             method, c->path);
    }
    w.id = c->next_id;
    if (berth_ttrpc_frame_append(&frame, w.id, BERTH_TTRPC_REQUEST, 0, packed.data, packed.len,
                                 err) < 0) {
        pthread_mutex_unlock(&c->mu);
        pthread_mutex_unlock(&c->wmu);
        berth_bytes_clear(&packed);
        return berth_err_wrap(err, "%s/%s", service, method);
    }
    berth_bytes_clear(&packed);
    c->next_id += 2;
    w.next = c->waiters;
    c->waiters = &w;
    c->callers++;
    pthread_mutex_unlock(&c->mu);
    sent = write_all(c->fd, frame.data, frame.len, deadline, &wr_errno);
    if (sent > 0 && sent < frame.len)
        shutdown(c->fd, SHUT_RDWR); /* half a frame on the wire: the stream is unusable */
    pthread_mutex_unlock(&c->wmu);
    berth_ttrpc_wbuf_clear(&frame);

    pthread_mutex_lock(&c->mu);
    if (wr_errno == 0) {
        while (!w.done && !c->dead) {
            if (!deadline) {
                pthread_cond_wait(&c->cond, &c->mu);
                continue;
            }
            struct timespec ts;
            mono_deadline(deadline, &ts);
            if (pthread_cond_timedwait(&c->cond, &c->mu, &ts) == ETIMEDOUT)
                break;
        }
    }
    dead = c->dead;
    unlink_waiter_locked(c, &w);
    pthread_mutex_unlock(&c->mu);
    wmsg = w.msg;

    if (w.done && w.code == BERTH_GRPC_OK) {
        if (resp)
            *resp = w.payload;
        else
            berth_bytes_clear(&w.payload);
        return 0;
    }
    berth_bytes_clear(&w.payload);
    if (w.done)
        ret = berth_err_set(err, berth_grpc_to_errc(w.code), 0, "%s", w.msg);
    else if (wr_errno == ETIMEDOUT || (wr_errno == 0 && !dead))
        ret = berth_err_set(err, BERTH_E_DEADLINE_EXCEEDED, 0, "%s/%s: context deadline exceeded",
                            service, method);
    else
        ret = berth_err_set(err, BERTH_E_UNAVAILABLE, wr_errno, "%s/%s on \"%s\": ttrpc: closed",
                            service, method, c->path);
    return ret;
}

int berth_ttrpc_client_call(struct berth_ttrpc_client *c, const char *service, const char *method,
                            const ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                            int64_t timeout_ms, const char *ns, struct berth_err **err)
{
    struct berth_bytes in = {0}, out = {0};
    int ret;

    if (resp)
        *resp = NULL;
    berth_ttrpc_pack(&in, req);
    ret = berth_ttrpc_client_call_bytes(c, service, method, in.data, in.len, &out, timeout_ms, ns,
                                        NULL, 0, err);
    berth_bytes_clear(&in);
    if (ret < 0)
        return ret;
    if (resp_desc && resp) {
        *resp = protobuf_c_message_unpack(resp_desc, NULL, out.len, out.data);
        if (!*resp)
            ret = berth_err_set(err, BERTH_E_INTERNAL, 0, "%s/%s: invalid %s in response", service,
                                method, resp_desc->name);
    }
    berth_bytes_clear(&out);
    return ret;
}
