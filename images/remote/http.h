/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registry transfer engine: every HTTP request of every pull runs on one libcurl multi
 * handle driven by one I/O thread, so connections (and HTTP/2 streams where the registry
 * offers h2) are reused across layers and across pulls. A pull worker calls
 * berth_http_do(), which blocks that worker until its request ends; the bytes of a body go
 * to the request's sink on the I/O thread as they arrive. A sink may ask for the transfer to
 * pause until a file descriptor is writable (a layer streaming into its unpacker through a
 * pipe): the engine stops reading that transfer, polls the descriptor and calls the sink's
 * drain. Redirects are not followed here (the caller decides where credentials may go).
 * Depends on lib/, images/remote/hosts.h and libcurl.
 */
#ifndef BERTH_IMAGES_REMOTE_HTTP_H
#define BERTH_IMAGES_REMOTE_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/util.h"

struct berth_registry_host;

struct berth_http;

struct berth_http_opts {
    const char *user_agent;      /* NULL: "berth" */
    int64_t progress_timeout_ns; /* a transfer that moves no byte for this long ends; 0: 5 min */
    int64_t connect_timeout_ns;  /* 0: 30 s */
};

/* Makes the engine. Its I/O thread starts with the first transfer and ends after 30 s without
 * one. INTERNAL when libcurl cannot start. *out is owned by the caller: berth_http_free. */
int berth_http_new(const struct berth_http_opts *o, struct berth_http **out,
                   struct berth_err **err);
/* Ends every transfer (their callers get CANCELED) and refuses new ones; the thread exits.
 * Idempotent, NULL-safe; berth_http_free still has to follow. */
void berth_http_stop(struct berth_http *h);
/* berth_http_stop, then joins the thread and frees. NULL-safe. */
void berth_http_free(struct berth_http *h);

/* The answer of the server, filled before the first body byte reaches the sink. */
struct berth_http_resp {
    long status;
    int64_t content_length; /* -1 when the server sent none */
    char *content_type;     /* parameters cut off; NULL when absent */
    char *docker_digest;    /* Docker-Content-Digest */
    char *location;
    char *www_authenticate; /* every WWW-Authenticate value, joined with ", " */
    char *content_range;
    int64_t retry_after_s; /* -1 when absent */
    /* The body when the request has no sink or the status is not 2xx (at most max_body,
     * the rest dropped; body_truncated tells). */
    struct berth_bytes body;
    bool body_truncated;
};
void berth_http_resp_clear(struct berth_http_resp *r); /* NULL-safe; leaves r zeroed */

/* What a sink answers. */
enum berth_http_sink_ret {
    BERTH_HTTP_SINK_OK = 0, /* took the bytes */
    BERTH_HTTP_SINK_WAIT,   /* took them, but hold the transfer until wait_fd is writable */
    BERTH_HTTP_SINK_ABORT,  /* end the transfer; the sink keeps its own error */
};

struct berth_http_sink {
    /* Called on the I/O thread once the headers of a 2xx answer are in (may be NULL);
     * BERTH_HTTP_SINK_ABORT ends the transfer. */
    enum berth_http_sink_ret (*start)(void *arg, const struct berth_http_resp *resp);
    /* Called on the I/O thread with each piece of a 2xx body. */
    enum berth_http_sink_ret (*data)(void *arg, const void *buf, size_t len);
    /* After WAIT: called when wait_fd is writable; OK resumes the transfer, WAIT keeps it held. */
    enum berth_http_sink_ret (*drain)(void *arg);
    void *arg;
    int wait_fd; /* the descriptor WAIT waits on (the sink sets it before answering WAIT) */
};

struct berth_http_req {
    const char *method; /* "GET" or "HEAD" */
    const char *url;
    const struct berth_registry_host *host; /* TLS settings and extra headers; may be NULL */
    const char *const *headers;             /* more "Name: value" lines, NULL-terminated */
    struct berth_http_sink *sink;           /* NULL: the body goes to resp->body */
    size_t max_body;                        /* 0: 64 KiB */
    const atomic_bool *cancel;              /* non-NULL: the transfer ends once it is true */
};

/*
 * Runs req and waits for it. Returns 0 once an answer (any status) arrived whole, with *resp
 * filled (caller clears). Errors, naming the URL's host: UNAVAILABLE for a name that does not
 * resolve, a refused or unreachable connection, a connection cut mid-body, a TLS failure
 * ("certificate ... does not verify"); DEADLINE_EXCEEDED when no byte moved for the progress
 * timeout; CANCELED when *req->cancel became true or the engine is freed; OUT_OF_RANGE for a
 * body without a sink over max_body; the sink's abort reported as CANCELED "aborted by sink"
 * (the sink holds the real error); INTERNAL when the I/O thread cannot start. Thread-safe: any
 * number of callers at once.
 */
int berth_http_do(struct berth_http *h, const struct berth_http_req *req,
                  struct berth_http_resp *resp, struct berth_err **err);

/* "host[:port]" of url (what follows "://" up to the path, query or fragment) into buf of cap
 * bytes (cut to fit); returns buf. */
const char *berth_http_url_host(const char *url, char *buf, size_t cap);

/* Counters since start (for logs and metrics). */
struct berth_http_stats {
    uint64_t requests, bytes, connections;
};
void berth_http_stats(struct berth_http *h, struct berth_http_stats *out);

#endif
