/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CRI streaming server: the HTTP endpoint behind the URLs CRI Exec, Attach and PortForward
 * return (kubelet proxies kubectl's SPDY/3.1 sessions to it; crictl dials it directly; older
 * WebSocket clients of the channel.k8s.io protocols pass through kubelet too). One
 * thread runs an epoll loop over every connection, process pipe and forwarded socket; the
 * calls that wait on a shim or enter a network namespace run on a few worker threads
 * (created on demand, gone when idle) and report back to the loop. The runtime side is a
 * table of callbacks (struct berth_stream_backend), so this folder knows nothing of the CRI's
 * stores: services/cri/streaming.c implements it.
 *
 * Protocol facts: ../shared/reference/streaming.md (tokens §1, upgrade §2, SPDY §3,
 * remotecommand §4, port-forward §5, attach §8).
 */
#ifndef BERTH_SERVICES_STREAMING_STREAM_H
#define BERTH_SERVICES_STREAMING_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

enum berth_stream_kind {
    BERTH_STREAM_EXEC,
    BERTH_STREAM_ATTACH,
    BERTH_STREAM_PORTFORWARD,
};

/* What a CRI Exec/Attach/PortForward call asked for, kept behind a one-time token. */
struct berth_stream_request {
    enum berth_stream_kind kind;
    char *id;   /* container id (exec, attach) or sandbox id (port-forward) */
    char **cmd; /* exec: argv, NULL-terminated */
    bool tty, in, out, err;
    /* exec with tty: the client's terminal size when the exec starts (0: not known), set by
     * the server from the first resize message, so the process sees it from the start. */
    uint16_t width, height;
    /* port-forward: the ports the call named (WebSocket clients get one channel pair each;
     * SPDY clients name theirs per stream) */
    uint16_t *ports;
    size_t n_ports;
};
void berth_stream_request_free(struct berth_stream_request *r); /* NULL-safe */

/* What the backend opened for a session; the server owns every fd (non-blocking) after a
 * successful call. */
struct berth_stream_io {
    int in_fd;       /* exec: where the client's stdin goes (-1: none) */
    int out_fd;      /* exec: the process's stdout (the tty's output with a tty); -1: none */
    int err_fd;      /* exec: the process's stderr; -1: none */
    int attach_fd;   /* attach: the shim's attach socket (runtime/shim/attach.h packets) */
    bool stdin_open; /* attach: the container has a stdin the client may write */
    bool stdin_once; /* attach: the client's stdin EOF closes the container's stdin */
    void *handle;    /* the backend's, given back to resize/exec_state/release */
};

/*
 * The runtime. Every callback runs on a worker thread and may block (shim calls, connect);
 * none is called for a session after release. Errors name the object; their message reaches
 * the client (remotecommand's InternalError, port-forward's error stream).
 */
struct berth_stream_backend {
    void *udata;
    /* Starts req->cmd in container req->id as exec process exec_id (chosen by the server, a
     * 32-hex identifier) with the streams req asks for; fills io (in/out/err fds, handle). */
    int (*exec_start)(void *udata, const struct berth_stream_request *req, const char *exec_id,
                      struct berth_stream_io *io, struct berth_err **err);
    /* Exit of a started exec: 1 with *status once it has exited, 0 while it runs. */
    int (*exec_state)(void *udata, void *handle, uint32_t *status, struct berth_err **err);
    /* Joins container req->id's stdio: io->attach_fd, stdin_open, stdin_once, handle. */
    int (*attach_open)(void *udata, const struct berth_stream_request *req,
                       struct berth_stream_io *io, struct berth_err **err);
    /* Resizes the session's terminal (the exec's, or the container's for an attach). */
    int (*resize)(void *udata, void *handle, uint16_t width, uint16_t height,
                  struct berth_err **err);
    /* The session ended: kill (when `kill`, the client left while the exec ran) and forget
     * the process, free the handle. Never fails (logs what it could not undo). */
    void (*release)(void *udata, void *handle, bool kill);
    /* Connects to TCP port on localhost inside sandbox_id's network (127.0.0.1, then ::1);
     * *fd connected and non-blocking. */
    int (*port_dial)(void *udata, const char *sandbox_id, uint16_t port, int *fd,
                     struct berth_err **err);
};

struct berth_stream_opts {
    const char *address;     /* listen address (IPv4 or IPv6 literal); "" = 127.0.0.1 */
    uint16_t port;           /* 0: a free port */
    int64_t idle_timeout_ms; /* a connection with no frame for this long is closed */
    int64_t token_ttl_ms;    /* 0: one minute */
    struct berth_stream_backend backend;
};

struct berth_stream_server;

/* Binds and listens (the URL then carries the port the kernel chose) and starts the loop
 * thread. *out owned by the caller. INVALID_ARGUMENT for an address that is not an IP
 * literal; UNAVAILABLE when the bind fails (naming address and port). */
int berth_stream_server_start(const struct berth_stream_opts *o, struct berth_stream_server **out,
                              struct berth_err **err);
/* Stops the loop (connections closed, running execs killed), joins every thread and frees.
 * NULL-safe. */
void berth_stream_server_free(struct berth_stream_server *s);

/* Keeps req (owned by the server from now on, even on failure) behind a new one-time token
 * and returns the URL for it (caller-owned), e.g. http://127.0.0.1:38411/exec/Ab3_x-9Q.
 * RESOURCE_EXHAUSTED when 1000 requests wait already. */
int berth_stream_server_url(struct berth_stream_server *s, struct berth_stream_request *req,
                            char **url, struct berth_err **err);

/* The runtime saw exec process exec_id of container_id exit (any thread; never blocks).
 * Ignored unless a session of this server runs that exec. */
void berth_stream_server_exec_exited(struct berth_stream_server *s, const char *container_id,
                                     const char *exec_id, uint32_t status);

/* The port the server listens on. */
uint16_t berth_stream_server_port(const struct berth_stream_server *s);

#endif
