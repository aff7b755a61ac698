/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the streaming server's files share. server.c owns the loop, the listener, the token
 * cache, the worker pool, HTTP and the SPDY connection (frames in and out, stream table);
 * remotecommand.c runs exec and attach sessions over a connection's streams, portforward.c
 * port-forward sessions. Everything here runs on the loop thread unless it says otherwise.
 */
#ifndef BERTH_SERVICES_STREAMING_INTERNAL_H
#define BERTH_SERVICES_STREAMING_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "services/streaming/spdy.h"
#include "services/streaming/stream.h"

/* A connection's output above this stops its sources (process pipes, sockets) from being
 * read; below the low mark they are read again. */
#define STREAM_OUT_HIGH (1u << 20)
#define STREAM_OUT_LOW  (256u << 10)
/* A sink (stdin, a forwarded socket) holding more than this stops frame processing. */
#define STREAM_SINK_HIGH (1u << 20)
/* Payload of one DATA frame the server sends (streaming.md §9 trap 13). */
#define STREAM_CHUNK (32u << 10)
/* Kubernetes' fixed stream-creation timeout. */
#define STREAM_CREATE_TIMEOUT_NS (30 * 1000000000LL)

struct stream_server;
struct stream_conn;

/* An fd in the loop's epoll set; data.ptr points here. */
struct stream_watch {
    int fd;
    uint32_t events; /* registered events, 0: not registered */
    void (*cb)(struct stream_server *s, struct stream_watch *w, uint32_t events);
    void *owner;
};
void stream_watch_set(struct stream_server *s, struct stream_watch *w, uint32_t events);
/* Unregisters and closes w->fd (if >= 0); sets it to -1. */
void stream_watch_close(struct stream_server *s, struct stream_watch *w);
/* free(p) once the current epoll batch is handled: memory holding a stream_watch must not go
 * while an event for it may still be in the batch. */
void stream_defer_free(struct stream_server *s, void *p);

/* Blocking work for a worker thread: run() there, done() back on the loop (which frees). */
struct stream_job {
    struct stream_job *next;
    void (*run)(struct stream_server *s, struct stream_job *j);
    void (*done)(struct stream_server *s, struct stream_job *j);
};
void stream_job_submit(struct stream_server *s, struct stream_job *j);

enum stream_type {
    ST_OTHER,
    ST_ERROR,
    ST_STDIN,
    ST_STDOUT,
    ST_STDERR,
    ST_RESIZE,
    ST_PF_DATA,
};

/* One SPDY stream the client opened. */
struct spdy_stream {
    struct spdy_stream *next;
    uint32_t id;
    enum stream_type type;
    bool remote_fin; /* the client sends no more (FIN or RST) */
    bool local_fin;  /* we send no more (FIN or RST sent) */
    void *owner;     /* the session's (port-forward pair) */
};

/* Session hooks a connection calls; each session kind implements them. */
struct stream_session_ops {
    /* A SYN_STREAM: return false to refuse it (RST_STREAM sent by the caller). */
    bool (*stream_open)(struct stream_conn *c, struct spdy_stream *st,
                        const struct berth_spdy_frame *f);
    /* DATA for st (len may be 0) and whether it carried FIN. A sink that cannot take more
     * sets c->input_held: frames then wait until it calls stream_conn_resume_input. */
    void (*stream_data)(struct stream_conn *c, struct spdy_stream *st, const uint8_t *p, size_t len,
                        bool fin);
    /* The client reset st. */
    void (*stream_reset)(struct stream_conn *c, struct spdy_stream *st);
    /* The output buffer has room again (after being over STREAM_OUT_HIGH). */
    void (*out_ready)(struct stream_conn *c);
    /* Deadline work; returns the next deadline (mono ns, 0: none). */
    int64_t (*tick)(struct stream_conn *c, int64_t now);
    /* The connection is going away (client left, error, idle, shutdown): release everything;
     * jobs in flight must find the session dead. */
    void (*abort)(struct stream_conn *c);
};

struct stream_conn {
    struct stream_watch w;
    struct stream_server *srv;
    struct stream_conn *prev, *next;
    enum { CONN_HTTP, CONN_SPDY, CONN_CLOSING } phase;
    struct berth_buf in, out;
    struct berth_spdy_decoder *dec;
    struct berth_spdy_encoder *enc;
    struct spdy_stream *streams;
    uint32_t last_id;  /* highest stream id the client opened */
    int64_t idle_at;   /* close when nothing moved until then (mono ns) */
    int64_t close_at;  /* CONN_CLOSING: hard close then */
    int64_t next_tick; /* session deadline, 0: none */
    bool input_held;   /* a sink is full: frames wait in `in` */
    bool out_full;     /* output over STREAM_OUT_HIGH: sources paused */
    bool peer_gone;    /* read EOF or GOAWAY from the client */
    bool processing;   /* conn_process is running (it is not re-entered) */
    /* The session (exactly one per connection after the upgrade). */
    const struct stream_session_ops *ops;
    void *sess;
    char *proto; /* negotiated X-Stream-Protocol-Version (or WebSocket subprotocol) */
    /* WebSocket instead of SPDY: streams are channels (id = channel number), each message
     * starts with its channel (a byte; an ASCII digit + base64 in text mode). */
    bool ws, ws_base64, ws_close_sent;
    struct berth_buf ws_msg; /* a fragmented message being put together */
    int ws_msg_op;           /* its opcode, -1: none */
};

/* Frames out. */
void stream_conn_reply(struct stream_conn *c, struct spdy_stream *st);
void stream_conn_data(struct stream_conn *c, struct spdy_stream *st, const void *p, size_t len,
                      bool fin);
/* Reads what fd holds, up to STREAM_CHUNK bytes, straight into one DATA frame on st. Returns
 * bytes read (> 0), 0 at EOF, -1 with errno (EAGAIN: nothing now). st NULL: the bytes are
 * dropped. */
ssize_t stream_conn_data_from_fd(struct stream_conn *c, struct spdy_stream *st, int fd);
void stream_conn_fin(struct stream_conn *c, struct spdy_stream *st);
void stream_conn_rst(struct stream_conn *c, struct spdy_stream *st, uint32_t status);
/* Sends what is queued; the session is over: GOAWAY, then close once the output drained and
 * the client closed (or a second passed). */
void stream_conn_finish(struct stream_conn *c);
/* A sink drained: process held frames again. */
void stream_conn_resume_input(struct stream_conn *c);
/* Asks for tick() at `at` (mono ns) or earlier. */
void stream_conn_tick_at(struct stream_conn *c, int64_t at);
/* The connection's writes are flushed opportunistically; sessions call this after queuing. */
void stream_conn_flush(struct stream_conn *c);

struct spdy_stream *stream_conn_find(struct stream_conn *c, uint32_t id);

const struct berth_stream_backend *stream_backend(struct stream_server *s);
int64_t stream_now(void);

/* Exec exit slots (server.c): registered before an exec starts, filled by any thread. */
struct stream_exit_slot;
struct stream_exit_slot *stream_exit_register(struct stream_server *s, const char *container_id,
                                              const char *exec_id, void (*cb)(void *arg),
                                              void *arg);
void stream_exit_unregister(struct stream_server *s, struct stream_exit_slot *slot);
/* true and *status once the exit arrived. */
bool stream_exit_get(struct stream_server *s, struct stream_exit_slot *slot, uint32_t *status);

/* Session constructors: called after the 101 with the token's request (ownership passes). */
void stream_remotecommand_begin(struct stream_conn *c, struct berth_stream_request *req,
                                int version);
void stream_portforward_begin(struct stream_conn *c, struct berth_stream_request *req);
/* WebSocket: every channel exists at once; these open them after the matching _begin. */
void stream_remotecommand_ws_channels(struct stream_conn *c);
void stream_portforward_ws_channels(struct stream_conn *c);
/* A channel (WebSocket) added to c's stream table. */
struct spdy_stream *stream_conn_channel(struct stream_conn *c, uint32_t channel,
                                        enum stream_type type);

#endif
