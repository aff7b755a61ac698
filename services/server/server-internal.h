/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pieces of the transport shared by its files: dispatch.c (lookup, header checks, decoding;
 * also used by berth_server_invoke), call.c (one call: references, sends, receives, the final
 * status), cq.c (the completion-queue loop, workers, stream threads, admission), listener.c
 * (the socket: accept, connection cap, preface check) and server.c (life cycle, channel args).
 */
#ifndef BERTH_SERVICES_SERVER_INTERNAL_H
#define BERTH_SERVICES_SERVER_INTERNAL_H

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>

#include "lib/ratelimit.h"
#include "services/server/server.h"

bool berth_server_knows_service(const struct berth_service *const *svcs, size_t n,
                                const char *path);
/* NOT_IMPLEMENTED with grpc-go's wording ("unknown service X" / "unknown method M for
 * service X"); always returns -1. */
int berth_server_unknown_method(const struct berth_service *const *svcs, size_t n, const char *path,
                                struct berth_err **err);
/* FAILED_PRECONDITION for a missing namespace, INVALID_ARGUMENT for a bad one. */
int berth_server_check_ns(const struct berth_method *m, const char *ns, struct berth_err **err);
/* INVALID_ARGUMENT when body is not a valid desc message. */
int berth_server_decode(const ProtobufCMessageDescriptor *desc, const void *body, size_t len,
                        ProtobufCMessage **out, struct berth_err **err);

/* ---- metrics (metrics.c) ---- */

/* One method's series, pre-registered: a call bumps these and looks nothing up. */
struct method_metrics {
    struct berth_counter *started, *received, *sent;
    struct berth_counter *handled[BERTH_GRPC_N_CODES];
    struct berth_histogram *seconds; /* NULL without grpc_histogram */
};

/* Registers the families and every method's series; srv->mm then has one entry per method
 * of srv->svcs, in order. ALREADY_EXISTS when m has the families. */
int berth_server_metrics_init(struct berth_server *srv, struct berth_metrics *m, bool histogram,
                              struct berth_err **err);
/* The series of a method of srv->svcs; NULL when metrics are off or m is not one of them. */
struct method_metrics *berth_server_method_metrics(const struct berth_server *srv,
                                                   const struct berth_method *m);
/* The call ended with grpc_code (call.c): handled_total and the handling time. */
void berth_server_metrics_handled(struct berth_call *c, int grpc_code);

/* ---- calls (call.c, cq.c) ---- */

enum tag_kind { TAG_NEW, TAG_RECV, TAG_CLOSE, TAG_FINAL, TAG_SEND, TAG_RECVOP, TAG_SHUTDOWN };

struct tag {
    enum tag_kind kind;
    void *p;
};

struct sendq {
    grpc_byte_buffer *bb;
    struct sendq *next;
};

struct berth_stream {
    struct berth_call *call;
};

struct berth_call {
    struct berth_server *srv;
    grpc_call *gc;
    char *method, *ns, *lease;
    int64_t deadline;
    int64_t started; /* CLOCK_MONOTONIC ns */
    const struct berth_method *m;
    struct method_metrics *mm; /* m's series; NULL when metrics are off */
    const ProtobufCMessageDescriptor *in_desc;
    struct tag t_recv, t_close, t_final, t_send, t_recvop;
    grpc_byte_buffer *recv_bb, *send_bb;
    int close_cancelled;
    atomic_bool cancelled;
    atomic_int refs;
    bool sent_md;
    bool streaming;
    bool early_close;   /* a unary call with its own RECV_CLOSE_ON_SERVER batch (worker pool) */
    bool counted;       /* holds one of srv->calls and of its connection's calls */
    bool stream_thread; /* holds one of srv->live_streams and of its connection's streams */
    int conn_fd;        /* the connection's descriptor ("fd:N" peer); -1 = unknown */
    ProtobufCMessage *req;
    struct berth_stream st;
    char *status_msg;
    enum berth_errc status_code; /* of the error sent (unary calls log it once the final
                                  * batch is done) */
    bool log_pending;            /* unary error to log once we know whether the client cancelled */

    /* calls waiting for their request message (srv->await_mu) */
    struct berth_call *await_prev, *await_next;
    bool awaiting;

    /* streams: everything below is guarded by mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct sendq *sq_head, *sq_tail;
    size_t sq_len;
    grpc_byte_buffer *inflight_bb, *recvop_bb;
    bool send_inflight, send_failed, handler_done;
    bool producer_waiting; /* the handler sleeps until the queue drains to SENDQ_LOW */
    bool recv_done, recv_ok;
    struct berth_err *final_err;

    struct berth_call *next; /* worker queue */
};

struct berth_listener;

/* What one connection holds: HTTP/2 clients that never acknowledge our SETTINGS are not held
 * to MAX_CONCURRENT_STREAMS by the core, so the same bound is applied here, per connection,
 * to calls in flight and to streaming calls. */
struct conn_load {
    int fd;
    unsigned calls, streams;
};

/* Threads running unary calls off the CQ thread, from one queue (guarded by srv->mu). They are
 * made when a call finds no idle one, up to max, and end after BERTH_POOL_IDLE_NS without work:
 * an idle daemon keeps none (each would hold a stack and, in glibc, maybe an arena). */
struct berth_pool {
    struct berth_server *srv;
    const char *name;
    pthread_cond_t cv;   /* a call was queued, or the pool stops (CLOCK_MONOTONIC) */
    pthread_cond_t gone; /* the last thread of a stopping pool ended */
    struct berth_call *head, *tail;
    unsigned max;  /* threads at most */
    unsigned live; /* threads running */
    unsigned idle; /* of those, waiting for a call */
};

#define BERTH_POOL_IDLE_NS (10 * 1000000000LL)
#define LONG_CALL_NS       (1000000000LL)

struct berth_server {
    grpc_server *gs;
    grpc_completion_queue *cq;
    grpc_server_credentials *creds; /* insecure: handed to every accepted connection */
    struct berth_listener *listener;
    const struct berth_service *const *svcs;
    size_t n_svcs;
    void *app;
    unsigned n_cq;
    unsigned max_calls, max_stream_threads, max_per_conn;
    int64_t grace_ms, request_timeout_ns;
    pthread_t *cq_threads;
    /* writes and other unary calls that wait; listings that match filters apart, so a client
     * busy listing can never hold the writers up */
    struct berth_pool workers, listers;

    pthread_mutex_t mu;
    pthread_cond_t cv;  /* wait() waits for shutdown */
    bool stopping;      /* no new request_call posts */
    bool shutdown_done; /* TAG_SHUTDOWN arrived */
    bool workers_stop;
    atomic_uint live_streams;  /* stream handler threads running */
    atomic_uint calls;         /* calls admitted and not yet freed */
    atomic_ullong calls_total; /* every call received since start, refused ones too */
    atomic_ullong refused_calls, refused_streams;
    atomic_bool long_call_done; /* a handler ran LONG_CALL_NS or more since the last trim */
    struct tag t_shutdown;

    pthread_mutex_t load_mu; /* loads: one entry per connection with calls */
    struct conn_load *loads;
    size_t n_loads, cap_loads;

    pthread_mutex_t await_mu; /* calls waiting for their request message */
    struct berth_call *await_head;

    struct method_metrics *mm; /* per method of svcs, in order; NULL: metrics off */
    size_t *mm_base;           /* per service: the index of its first method in mm */

    struct berth_ratelimit *log_rl; /* repeated identical call errors and grpc log lines */
    int64_t last_trim_ns;
    size_t trim_conns;     /* connections open at the last trim (or the most since) */
    uint64_t trim_calls;   /* calls_total at the last trim */
    uint64_t trim_refused; /* refused calls and streams at the last trim */
};

/* cq.c: gives back a call's place among its connection's calls or streams. */
void berth_cq_load_release(struct berth_server *srv, int fd, bool stream);

/* call.c */
char *berth_call_slice_dup(grpc_slice s);
void berth_call_unref(struct berth_call *c);
/* Sends the final status (and the unary response, if any). Consumes the final reference.
 * For streams the caller holds c->mu. */
void berth_call_finish(struct berth_call *c, const struct berth_err *e,
                       const struct berth_bytes *out);
/* CQ thread: a stream send completed. */
void berth_call_on_send_done(struct berth_call *c, bool ok);
/* CQ thread: the final batch completed; logs a unary call's error now that it is known
 * whether the client cancelled. */
void berth_call_on_final(struct berth_call *c);
int berth_call_bb_decode(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb,
                         ProtobufCMessage **out, struct berth_err **err);
/* Logs one failed call (rate-limited per method, code and message). */
void berth_call_log_error(struct berth_call *c, enum berth_errc code, const char *msg);

/* cq.c */
void *berth_cq_main(void *arg);
void *berth_worker_main(void *arg);
void berth_cq_post_request(struct berth_server *srv);
/* Cancels calls whose request message has not arrived within the request timeout. */
void berth_cq_reap_stalled(struct berth_server *srv, int64_t now_ns);

/* ---- the socket (listener.c) ---- */

struct berth_listener_opts {
    const char *path;                   /* unix socket path; a stale socket there is replaced */
    unsigned socket_gid;                /* (unsigned)-1 = leave the group as is */
    unsigned max_conns;                 /* connections served at once; more are closed at accept */
    int64_t preface_ms;                 /* time a new connection has to send the HTTP/2 preface */
    int64_t tick_ms;                    /* how often tick runs */
    void (*on_conn)(void *arg, int fd); /* a connection that sent the preface (owns fd) */
    void (*tick)(void *arg, int64_t now_ns);
    void *arg;
};

/* Binds and listens (mode 0660, group set) without accepting yet. INTERNAL/UNAVAILABLE with
 * the path on failure. */
int berth_listener_open(const struct berth_listener_opts *opts, struct berth_listener **out,
                        struct berth_err **err);
/* Starts the accept thread. */
int berth_listener_start(struct berth_listener *l, struct berth_err **err);
/* Stops accepting: closes the listening socket, unlinks its path, drops connections that have
 * not sent their preface, joins the thread. Idempotent. */
void berth_listener_stop(struct berth_listener *l);
void berth_listener_free(struct berth_listener *l); /* NULL-safe; stops first */
/* Connections open: waiting for their preface, or handed over and not yet seen closed
 * (recounted once per tick, and at once when the cap is reached). */
size_t berth_listener_conns(struct berth_listener *l);
/* Counters for tests and metrics. */
struct berth_listener_stats {
    uint64_t accepted, refused_full, refused_preface, timed_out, emfile;
    size_t open, max;
};
void berth_listener_stats(struct berth_listener *l, struct berth_listener_stats *out);

#endif
