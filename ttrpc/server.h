/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ttrpc server: a per-connection state machine (read, decode, dispatch, queue responses) meant
 * to sit inside someone else's single-threaded epoll loop (the shim's), plus a small epoll
 * loop of its own (berth_ttrpc_server_serve) for berthd's <address>.ttrpc endpoint. Handlers
 * mirror services/server's berth_method: protobuf-c request in, packed bytes out, berth_err on
 * failure (mapped to a google.rpc.Status with lib/status.h). Unary RPCs only; a handler may
 * defer its answer (berth_ttrpc_ctx_defer) and reply later from the same loop thread.
 */
#ifndef BERTH_TTRPC_SERVER_H
#define BERTH_TTRPC_SERVER_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/util.h"

/* The metadata key containerd puts the namespace under on ttrpc calls. */
#define BERTH_TTRPC_NS_KEY "containerd-namespace-ttrpc"

struct berth_ttrpc_server;  /* opaque: services + app pointer */
struct berth_ttrpc_conn;    /* opaque: one accepted connection */
struct berth_ttrpc_pending; /* opaque: a deferred call waiting for its answer */

/* What a handler knows about its call. Everything is borrowed for the handler's duration. */
struct berth_ttrpc_ctx {
    const char *service;      /* "containerd.task.v2.Task" */
    const char *method;       /* "Create" */
    const char *ns;           /* containerd-namespace-ttrpc metadata; NULL if absent */
    int64_t deadline_mono_ns; /* CLOCK_MONOTONIC deadline from timeout_nano; 0 = none */
    uint32_t stream_id;
    void *app; /* from berth_ttrpc_server_new */
    struct berth_ttrpc_conn *conn;
    const void *request;                  /* internal: the decoded ttrpc.Request */
    struct berth_ttrpc_pending *deferred; /* internal */
    bool answered; /* internal: a deferred handle replied before the handler returned */
};

/* First value of a request metadata key, or NULL. Borrowed for the handler's duration. */
const char *berth_ttrpc_ctx_metadata(const struct berth_ttrpc_ctx *ctx, const char *key);

/* Returns 0 with *out holding the packed response (may be empty), or -1 with *err set. */
typedef int (*berth_ttrpc_unary_fn)(struct berth_ttrpc_ctx *ctx, const ProtobufCMessage *req,
                                    struct berth_bytes *out, struct berth_err **err);

struct berth_ttrpc_method {
    const char *name;                        /* "Create" */
    const ProtobufCMessageDescriptor *input; /* request type, decoded before the call */
    berth_ttrpc_unary_fn handler;
};

struct berth_ttrpc_service {
    const char *name; /* full proto name: "containerd.task.v2.Task" */
    const struct berth_ttrpc_method *methods;
    size_t n_methods;
};

/*
 * Takes the call out of the normal flow: the handler then returns 0 without filling *out and
 * answers later with berth_ttrpc_pending_reply (e.g. Task.Wait when the process exits). The
 * handle is owned by the caller until replied to or freed. If the connection closes first,
 * the reply is silently dropped.
 */
struct berth_ttrpc_pending *berth_ttrpc_ctx_defer(struct berth_ttrpc_ctx *ctx);
/* Answers a deferred call with payload (e == NULL) or the error e, then frees p. Must run on
 * the loop thread. It writes what the socket takes at once; if bytes remain, the server's wake
 * callback (berth_ttrpc_server_set_wake) is called so the loop can watch for EPOLLOUT. */
void berth_ttrpc_pending_reply(struct berth_ttrpc_pending *p, const void *payload, size_t len,
                               const struct berth_err *e);
/* Same, packing msg (which may be NULL for an empty payload). */
void berth_ttrpc_pending_reply_msg(struct berth_ttrpc_pending *p, const ProtobufCMessage *msg);
/* Drops a deferred call without answering. NULL-safe. */
void berth_ttrpc_pending_free(struct berth_ttrpc_pending *p);
/* The connection the deferred call came in on (valid while p lives). */
struct berth_ttrpc_conn *berth_ttrpc_pending_conn(const struct berth_ttrpc_pending *p);

/* Packs msg into out (which then owns the buffer); helper for handlers. */
void berth_ttrpc_pack(struct berth_bytes *out, const ProtobufCMessage *msg);

/* Creates a server over services (borrowed; they must outlive it). Never fails. */
struct berth_ttrpc_server *berth_ttrpc_server_new(const struct berth_ttrpc_service *const *svcs,
                                                  size_t n, void *app);
/* Called when a connection gets output to write outside on_readable/on_writable (a deferred
 * reply). udata is the connection's berth_ttrpc_conn_set_udata value. */
typedef void (*berth_ttrpc_wake_fn)(struct berth_ttrpc_conn *conn, void *udata);
void berth_ttrpc_server_set_wake(struct berth_ttrpc_server *srv, berth_ttrpc_wake_fn fn);
/* Frees the server (after every connection is closed). NULL-safe. */
void berth_ttrpc_server_free(struct berth_ttrpc_server *srv);

/* Wraps an accepted socket (made non-blocking; the connection owns fd from now on, even on
 * failure). *out is owned by the caller; release it with berth_ttrpc_conn_close. */
int berth_ttrpc_conn_new(struct berth_ttrpc_server *srv, int fd, struct berth_ttrpc_conn **out,
                         struct berth_err **err);
int berth_ttrpc_conn_fd(const struct berth_ttrpc_conn *conn);
void berth_ttrpc_conn_set_udata(struct berth_ttrpc_conn *conn, void *udata);
void *berth_ttrpc_conn_udata(const struct berth_ttrpc_conn *conn);
/*
 * Reads what is available, decodes frames, runs handlers and queues (and tries to write) their
 * responses. Returns 0 to keep the connection, -1 when it is finished: UNAVAILABLE when the
 * peer closed it, another class on a fatal I/O error. The caller then closes it. Malformed
 * frames are answered with an error Status on their stream and never end the connection.
 */
int berth_ttrpc_conn_on_readable(struct berth_ttrpc_conn *conn, struct berth_err **err);
/* Writes queued output; same return convention as on_readable. */
int berth_ttrpc_conn_on_writable(struct berth_ttrpc_conn *conn, struct berth_err **err);
/* True while output is queued (watch EPOLLOUT). */
bool berth_ttrpc_conn_wants_write(const struct berth_ttrpc_conn *conn);
/* False while too much output is queued (a client that doesn't read its responses): stop
 * watching EPOLLIN until the queue drains. */
bool berth_ttrpc_conn_wants_read(const struct berth_ttrpc_conn *conn);
/* Closes the socket and releases the connection (deferred calls still held keep its memory
 * alive until replied/freed). The caller removes the fd from its epoll first. NULL-safe. */
void berth_ttrpc_conn_close(struct berth_ttrpc_conn *conn);

/* Creates a listening unix socket at path (a stale socket file is replaced; mode 0600).
 * *fd_out is owned by the caller. */
int berth_ttrpc_server_listen(const char *path, int *fd_out, struct berth_err **err);
/* Serves listen_fd on the calling thread with its own epoll loop until stop_fd (e.g. an
 * eventfd) becomes readable; then closes every connection (not listen_fd) and returns 0. */
int berth_ttrpc_server_serve(struct berth_ttrpc_server *srv, int listen_fd, int stop_fd,
                             struct berth_err **err);

#endif
