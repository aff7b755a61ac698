/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gRPC transport: a gRPC C core server on a unix socket we accept on ourselves, with
 * limits on connections, streams and calls, completion-queue threads, a worker pool,
 * dispatch by full method path, the containerd-namespace/containerd-lease headers,
 * deadlines, cancellation and the one table mapping berth error classes to gRPC status codes.
 * Handlers are plain functions over protobuf-c messages (see struct berth_method) and never see
 * a grpc_* type, so tests can call them without a socket.
 */
#ifndef BERTH_SERVICES_SERVER_H
#define BERTH_SERVICES_SERVER_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/metrics.h"
#include "lib/status.h" /* the errc <-> gRPC code table */
#include "lib/util.h"

struct berth_call;   /* opaque: one in-flight RPC */
struct berth_server; /* opaque */

/* What a handler knows about its call. Everything is borrowed for the handler's duration. */
struct berth_svc_ctx {
    const char *method;       /* "/containerd.services.containers.v1.Containers/Get" */
    const char *ns;           /* containerd-namespace header, validated; NULL if absent */
    const char *lease;        /* containerd-lease header; NULL if absent */
    int64_t deadline_mono_ns; /* CLOCK_MONOTONIC deadline; 0 = none */
    void *app;                /* the services' shared state (struct berth_services) */
    struct berth_call *call;  /* NULL when called without a transport (tests) */
};

/* True once the client went away or the deadline passed. */
bool berth_svc_ctx_done(const struct berth_svc_ctx *ctx);

enum berth_method_kind {
    BERTH_UNARY,
    BERTH_SERVER_STREAM, /* one request, many responses */
    BERTH_BIDI_STREAM,   /* requests and responses interleaved (also client-streaming) */
};

/* A stream handed to streaming handlers. */
struct berth_stream;
/* Queues one message for sending and returns; it blocks only while too many messages are
 * queued (back-pressure). CANCELED once the client went away. */
int berth_stream_send(struct berth_stream *st, const ProtobufCMessage *msg, struct berth_err **err);
/* Sends one already packed message (len may be 0); CANCELED if the client went away. */
int berth_stream_send_bytes(struct berth_stream *st, const void *data, size_t len,
                            struct berth_err **err);
/* Receives the next request: *out is NULL at the end of the client's stream. INVALID_ARGUMENT
 * for an undecodable message, CANCELED if the client went away. *out owned by the caller. */
int berth_stream_recv(struct berth_stream *st, ProtobufCMessage **out, struct berth_err **err);

typedef int (*berth_unary_fn)(struct berth_svc_ctx *ctx, const ProtobufCMessage *req,
                              struct berth_bytes *out, struct berth_err **err);
typedef int (*berth_server_stream_fn)(struct berth_svc_ctx *ctx, const ProtobufCMessage *req,
                                      struct berth_stream *st, struct berth_err **err);
typedef int (*berth_bidi_stream_fn)(struct berth_svc_ctx *ctx, struct berth_stream *st,
                                    struct berth_err **err);

#define BERTH_NS_OPTIONAL false
#define BERTH_NS_REQUIRED true

struct berth_method {
    const char *name; /* RPC name as in the proto: "Get" */
    enum berth_method_kind kind;
    bool ns_required; /* missing header: FAILED_PRECONDITION */
    /* Unary only: the handler never waits (reads from an LMDB snapshot, no writer, no I/O
     * beyond the map), so it runs on the completion-queue thread with no hand-off. */
    bool nonblocking;
    /* Unary only: a listing that may match a client's filter (and then take long). A call
     * whose request carries a filter ("filters"/"filter" not empty) runs on the listing pool,
     * apart from writes, so no client busy listing holds the writers up; one without runs
     * where .nonblocking says. */
    bool listing;
    berth_unary_fn unary;
    berth_server_stream_fn server_stream;
    berth_bidi_stream_fn bidi;
};

struct berth_service {
    const ProtobufCServiceDescriptor *desc; /* full name and input/output types */
    const struct berth_method *methods;     /* methods not listed answer UNIMPLEMENTED */
    size_t n_methods;
};

/* Packs msg into out (which owns the buffer). */
void berth_svc_pack(struct berth_bytes *out, const ProtobufCMessage *msg);

/* berth_errc_to_grpc() and berth_err_status_message() live in lib/status.h. */

/* Defaults of the limits below, and why:
 * - connections: 1024 (and never more than half the process's descriptor limit): kubelet,
 *   dockerd and monitoring hold a few each, every ctr call one briefly; the rest of the
 *   descriptors stay for the store, content ingests, shims and runc.
 * - streams per connection: 128, advertised as HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (Go
 *   clients queue past it; the RFC's floor is 100).
 * - streaming calls: 1024 at once in all (each has a handler thread while it lasts: an idle
 *   Content/Write or Subscribe holds one); past it RESOURCE_EXHAUSTED.
 * - calls in flight: 4096 in all; past it RESOURCE_EXHAUSTED before anything is decoded. */
#define BERTH_SERVER_DEFAULT_MAX_CONNS        1024
#define BERTH_SERVER_DEFAULT_STREAMS_PER_CONN 128
#define BERTH_SERVER_DEFAULT_STREAM_CALLS     1024
#define BERTH_SERVER_DEFAULT_MAX_CALLS        4096

struct berth_server_opts {
    const char *address;      /* "unix:/run/berth/berthd.sock" or a plain path */
    unsigned cq_threads;      /* 0 = 1 */
    unsigned worker_threads;  /* 0 = 32 */
    unsigned listing_threads; /* methods marked .listing; 0 = 8 */
    unsigned socket_gid;      /* group owning the socket; (unsigned)-1 = leave as is */
    int64_t grace_ms;         /* how long shutdown waits for in-flight calls; 0 = 5000 */
    /* Limits; 0 = the default. */
    unsigned max_connections;      /* capped at half of RLIMIT_NOFILE */
    unsigned max_streams_per_conn; /* HTTP/2 MAX_CONCURRENT_STREAMS */
    unsigned max_stream_calls;     /* streaming calls served at once */
    unsigned max_calls;            /* calls in flight */
    int64_t preface_timeout_ms;    /* a new connection's HTTP/2 preface; 10000 */
    int64_t request_timeout_ms;    /* a call's request message after its headers; 20000 */
    int64_t idle_timeout_ms;       /* a connection with no calls; 600000 */
    int64_t keepalive_ms;          /* pings on connections with calls; 120000 */
    int64_t keepalive_timeout_ms;  /* ... and how long their ack may take; 20000 */
    /* Prometheus families of go-grpc-prometheus (grpc_server_started_total, _handled_total,
     * _msg_received_total, _msg_sent_total and, with metrics_histogram,
     * grpc_server_handling_seconds), every method of every service registered at
     * berth_server_new so a call only bumps counters it already holds. NULL: none. Borrowed;
     * it must outlive the server. */
    struct berth_metrics *metrics;
    bool metrics_histogram;
};

/* Creates the server, binds the socket (mode 0660; a stale socket at the path is replaced,
 * so check first that no live server answers there) and registers services (borrowed; they
 * must outlive the server). Does not accept connections yet. ALREADY_EXISTS when opts->metrics
 * already holds the gRPC families. */
int berth_server_new(const struct berth_server_opts *opts, const struct berth_service *const *svcs,
                     size_t n_svcs, void *app, struct berth_server **out, struct berth_err **err);
/* Starts accepting connections and calls (spawns the CQ, worker and accept threads). */
int berth_server_start(struct berth_server *srv, struct berth_err **err);
/* Stops accepting (the socket file goes at once), lets in-flight calls finish (cancelling
 * them after the grace period). Returns once the accept thread is joined; berth_server_wait
 * blocks until the rest is done. Call from one thread (the daemon's signal loop). */
void berth_server_shutdown(struct berth_server *srv);
/* Waits for shutdown to complete and joins every thread. */
void berth_server_wait(struct berth_server *srv);
/* Frees everything (after wait). NULL-safe. */
void berth_server_free(struct berth_server *srv);

/* Counters for tests, logs and metrics. */
struct berth_server_stats {
    size_t conns_open, conns_max;
    uint64_t conns_accepted, conns_refused, conns_bad_preface, accept_emfile;
    unsigned calls_in_flight, streams_running;
    uint64_t calls_total, calls_refused, streams_refused;
};
void berth_server_stats(struct berth_server *srv, struct berth_server_stats *out);

/* Looks up a method by full path (for tests and the dispatcher). NULL if unknown. */
const struct berth_method *berth_server_find(const struct berth_service *const *svcs, size_t n,
                                             const char *path,
                                             const ProtobufCMessageDescriptor **in_desc);

/* Runs a unary method the way the transport would, minus the socket: header checks, request
 * decode, handler. For tests. On success *out holds the packed response. */
int berth_server_invoke(const struct berth_service *const *svcs, size_t n, const char *path,
                        const char *ns_header, const void *body, size_t len, void *app,
                        struct berth_bytes *out, struct berth_err **err);

#endif
