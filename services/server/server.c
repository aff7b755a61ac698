/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's life cycle and the HTTP/2 limits it runs with. Calls move through tagged
 * batches on one completion queue drained by a few CQ threads (cq.c, call.c); connections come
 * from our own accept loop (listener.c), which also runs the once-a-second housekeeping:
 * cancelling calls whose request never came and giving freed memory back to the system.
 */
#define BERTH_LOG_SUBSYS "server"

#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>    /* grpc_server_add_channel_from_fd */
#include <grpc/grpc_security.h> /* insecure server credentials live here in 1.51 */
#include <grpc/support/log.h>
#include <grpc/support/time.h>
#include <malloc.h> /* malloc_trim */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/log.h"
#include "services/server/server-internal.h"

#define MAX_MSG       (16 << 20) /* containerd's limit, both ways */
#define PENDING_CALLS 16         /* request_call tags kept posted */
#define TICK_MS       1000
#define TRIM_EVERY_NS (30 * 1000000000LL)

/* gRPC core's own log lines go through ours: one line each, with what a client sent escaped
 * (a header value must not forge log lines), and repeats of one source line collapsed. The
 * core's log hook takes no argument, hence the one static. */
static struct berth_ratelimit *grpc_log_rl;

static void grpc_log_cb(gpr_log_func_args *a)
{
    char key[256], note[BERTH_RATELIMIT_NOTE_MAX];
    uint64_t held = 0;
    enum berth_log_level lvl = a->severity == GPR_LOG_SEVERITY_ERROR  ? BERTH_LOG_WARN
                               : a->severity == GPR_LOG_SEVERITY_INFO ? BERTH_LOG_DEBUG
                                                                      : BERTH_LOG_TRACE;
    int n;

    if (!berth_log_enabled(lvl))
        return;
    n = snprintf(key, sizeof(key), "%s:%d", a->file ? a->file : "", a->line);
    if (grpc_log_rl &&
        !berth_ratelimit_pass(grpc_log_rl, key, n > 0 && (size_t)n < sizeof(key) ? (size_t)n : 0,
                              &held))
        return;
    berth_log_write(lvl, "grpc", 0, "%s (%s:%d)%s", a->message, a->file ? a->file : "?", a->line,
                    berth_ratelimit_note(held, note));
}

static char *socket_path(const char *address)
{
    if (berth_str_has_prefix(address, "unix://"))
        return berth_xstrdup(address + 7);
    if (berth_str_has_prefix(address, "unix:"))
        return berth_xstrdup(address + 5);
    if (address[0] == '/')
        return berth_xstrdup(address);
    return NULL;
}

static void pool_init(struct berth_pool *pool)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pool->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&pool->gone, NULL);
}

static void pool_destroy(struct berth_pool *pool)
{
    pthread_cond_destroy(&pool->cv);
    pthread_cond_destroy(&pool->gone);
}

/* Listener thread: a connection sent its preface; gRPC owns it from here. */
static void on_conn(void *arg, int fd)
{
    struct berth_server *srv = arg;

    grpc_server_add_channel_from_fd(srv->gs, fd, srv->creds);
}

/* Listener thread, once a second. */
static void on_tick(void *arg, int64_t now)
{
    struct berth_server *srv = arg;
    size_t conns = berth_listener_conns(srv->listener);
    uint64_t total = atomic_load(&srv->calls_total);
    uint64_t refused = atomic_load(&srv->refused_calls) + atomic_load(&srv->refused_streams);
    bool burst_over;

    berth_cq_reap_stalled(srv, now);
    /* glibc keeps freed heap in its arenas: after a burst (a flood of connections, calls or
     * streams) that is most of the daemon's RSS for good. Give it back every 30 s, and soon
     * after a burst: many connections gone, many calls done and few left, many calls refused
     * (a flood still holding its admitted calls open), or a long call done (an import). */
    burst_over = conns + 8 <= srv->trim_conns ||
                 (total - srv->trim_calls >= 1000 && atomic_load(&srv->calls) < 64) ||
                 refused - srv->trim_refused >= 1000 || atomic_load(&srv->long_call_done);
    if (now - srv->last_trim_ns >= TRIM_EVERY_NS ||
        (burst_over && now - srv->last_trim_ns >= 2000000000LL)) {
        atomic_store(&srv->long_call_done, false);
        malloc_trim(0);
        srv->last_trim_ns = now;
        srv->trim_conns = conns;
        srv->trim_calls = total;
        srv->trim_refused = refused;
    } else if (conns > srv->trim_conns) {
        srv->trim_conns = conns;
    }
}

/* The connection limit for a wanted value (0 = the default): at most half of the current
 * RLIMIT_NOFILE soft limit, at least 4. */
static unsigned conn_limit(unsigned wanted)
{
    struct rlimit rl;
    rlim_t half;

    if (wanted == 0)
        wanted = BERTH_SERVER_DEFAULT_MAX_CONNS;
    /* Half the descriptors at most: the rest are for the store, content, shims and runc. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        half = rl.rlim_cur / 2;
        if (half < 4)
            half = 4;
        if (half < wanted)
            wanted = (unsigned)half;
    }
    return wanted;
}

int berth_server_new(const struct berth_server_opts *opts, const struct berth_service *const *svcs,
                     size_t n_svcs, void *app, struct berth_server **out, struct berth_err **err)
{
    struct berth_server *srv;
    int64_t keepalive = opts->keepalive_ms ? opts->keepalive_ms : 120000;
    grpc_arg args[] = {
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = MAX_MSG}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, {.integer = MAX_MSG}},
        /* Advertised to every client; what one connection can open at once. */
        {GRPC_ARG_INTEGER,
         GRPC_ARG_MAX_CONCURRENT_STREAMS,
         {.integer = (int)(opts->max_streams_per_conn ? opts->max_streams_per_conn
                                                      : BERTH_SERVER_DEFAULT_STREAMS_PER_CONN)}},
        /* No ping strikes: in 1.51 every PING that arrives after the strike limit (while the
         * GOAWAY waits to be written) adds a child to the connection's close error, and each
         * addition copies the whole error tree: a flood of 20,000 PINGs on 16 connections
         * held 1.4 GB. Without strikes a PING costs one queued ack, and the transport stops
         * reading a connection with 10,000 acks unwritten. */
        {GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_MAX_PING_STRIKES, {.integer = 0}},
        /* A client that stops reading while a call is open is found by keepalive; one with
         * no calls at all is closed when idle. */
        {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS, {.integer = (int)keepalive}},
        {GRPC_ARG_INTEGER,
         GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
         {.integer = (int)(opts->keepalive_timeout_ms ? opts->keepalive_timeout_ms : 20000)}},
        /* ... as often as it takes: 1.51 stops keepalive pings after two without data sent,
         * which would leave a quiet stream's dead client undetected. */
        {GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, {.integer = 0}},
        {GRPC_ARG_INTEGER,
         GRPC_ARG_MAX_CONNECTION_IDLE_MS,
         {.integer = (int)(opts->idle_timeout_ms ? opts->idle_timeout_ms : 600000)}},
    };
    grpc_channel_args cargs = {BERTH_N(args), args};
    struct berth_listener_opts lopts = {0};
    _cleanup_free_ char *path = socket_path(opts->address);

    *out = NULL;
    if (!path)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "address \"%s\" is not a unix socket path", opts->address);
    /* Someone who turned tracers on wants every line. */
    if (!grpc_log_rl && !getenv("GRPC_TRACE"))
        grpc_log_rl = berth_ratelimit_new(64, 10 * 1000000000LL);
    gpr_set_log_function(grpc_log_cb);
    if (!getenv("GRPC_VERBOSITY"))
        gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
    grpc_init();
    srv = berth_xcalloc(1, sizeof(*srv));
    srv->svcs = svcs;
    srv->n_svcs = n_svcs;
    srv->app = app;
    srv->n_cq = opts->cq_threads ? opts->cq_threads : 1;
    srv->workers = (struct berth_pool){
        .srv = srv, .name = "worker", .max = opts->worker_threads ? opts->worker_threads : 32};
    srv->listers = (struct berth_pool){
        .srv = srv, .name = "listing", .max = opts->listing_threads ? opts->listing_threads : 8};
    pool_init(&srv->workers);
    pool_init(&srv->listers);
    srv->grace_ms = opts->grace_ms ? opts->grace_ms : 5000;
    srv->max_calls = opts->max_calls ? opts->max_calls : BERTH_SERVER_DEFAULT_MAX_CALLS;
    srv->max_stream_threads =
        opts->max_stream_calls ? opts->max_stream_calls : BERTH_SERVER_DEFAULT_STREAM_CALLS;
    srv->max_per_conn = opts->max_streams_per_conn ? opts->max_streams_per_conn
                                                   : BERTH_SERVER_DEFAULT_STREAMS_PER_CONN;
    srv->request_timeout_ns =
        (opts->request_timeout_ms ? opts->request_timeout_ms : 20000) * 1000000LL;
    srv->t_shutdown = (struct tag){TAG_SHUTDOWN, srv};
    srv->log_rl = berth_ratelimit_new(256, 10 * 1000000000LL);
    srv->last_trim_ns = berth_mono_ns();
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->cv, NULL);
    pthread_mutex_init(&srv->await_mu, NULL);
    pthread_mutex_init(&srv->load_mu, NULL);
    srv->gs = grpc_server_create(&cargs, NULL);
    srv->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(srv->gs, srv->cq, NULL);
    srv->creds = grpc_insecure_server_credentials_create();

    if (opts->metrics &&
        berth_server_metrics_init(srv, opts->metrics, opts->metrics_histogram, err) < 0) {
        berth_server_free(srv);
        return -1;
    }
    lopts.path = path;
    lopts.socket_gid = opts->socket_gid;
    lopts.max_conns = conn_limit(opts->max_connections);
    lopts.preface_ms = opts->preface_timeout_ms ? opts->preface_timeout_ms : 10000;
    lopts.tick_ms = TICK_MS;
    lopts.on_conn = on_conn;
    lopts.tick = on_tick;
    lopts.arg = srv;
    if (berth_listener_open(&lopts, &srv->listener, err) < 0) {
        berth_server_free(srv);
        return -1;
    }
    *out = srv;
    return 0;
}

/* Called with srv->mu held and workers_stop set: waits for the pool's threads to end. */
static void pool_drain(struct berth_pool *pool)
{
    pthread_cond_broadcast(&pool->cv);
    while (pool->live > 0)
        pthread_cond_wait(&pool->gone, &pool->srv->mu);
}

int berth_server_start(struct berth_server *srv, struct berth_err **err)
{
    grpc_server_start(srv->gs);
    for (int i = 0; i < PENDING_CALLS; i++)
        berth_cq_post_request(srv);
    srv->cq_threads = berth_xcalloc(srv->n_cq, sizeof(pthread_t));
    for (unsigned i = 0; i < srv->n_cq; i++)
        if (pthread_create(&srv->cq_threads[i], NULL, berth_cq_main, srv) != 0)
            return berth_err_set(err, BERTH_E_INTERNAL, errno, "start completion queue thread");
    return berth_listener_start(srv->listener, err);
}

void berth_server_shutdown(struct berth_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    if (srv->stopping) {
        pthread_mutex_unlock(&srv->mu);
        return;
    }
    srv->stopping = true;
    pthread_mutex_unlock(&srv->mu);
    /* No connection is handed to the core after this: it must not race the shutdown. */
    berth_listener_stop(srv->listener);
    grpc_server_shutdown_and_notify(srv->gs, srv->cq, &srv->t_shutdown);
}

void berth_server_wait(struct berth_server *srv)
{
    struct timespec until;
    bool cancelled = false;

    until = berth_timespec_in(CLOCK_REALTIME, srv->grace_ms);
    pthread_mutex_lock(&srv->mu);
    while (!srv->shutdown_done) {
        if (cancelled) {
            pthread_cond_wait(&srv->cv, &srv->mu);
            continue;
        }
        if (pthread_cond_timedwait(&srv->cv, &srv->mu, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&srv->mu);
            log_warn("calls still in flight after %lld ms, cancelling them",
                     (long long)srv->grace_ms);
            grpc_server_cancel_all_calls(srv->gs);
            cancelled = true;
            pthread_mutex_lock(&srv->mu);
        }
    }
    pthread_mutex_unlock(&srv->mu);
    /* Stream threads finish their last ops while the CQ still runs. */
    while (atomic_load(&srv->live_streams) > 0)
        usleep(1000);
    pthread_mutex_lock(&srv->mu);
    srv->workers_stop = true;
    pool_drain(&srv->workers);
    pool_drain(&srv->listers);
    pthread_mutex_unlock(&srv->mu);
    grpc_server_destroy(srv->gs);
    srv->gs = NULL;
    grpc_completion_queue_shutdown(srv->cq);
    for (unsigned i = 0; srv->cq_threads && i < srv->n_cq; i++)
        pthread_join(srv->cq_threads[i], NULL);
}

void berth_server_free(struct berth_server *srv)
{
    if (!srv)
        return;
    berth_listener_free(srv->listener);
    if (srv->gs) {
        /* never started (or start failed early): nothing in flight */
        grpc_server_shutdown_and_notify(srv->gs, srv->cq, &srv->t_shutdown);
        grpc_server_cancel_all_calls(srv->gs);
        for (;;) {
            grpc_event ev =
                grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            if (ev.type == GRPC_OP_COMPLETE && ev.tag == &srv->t_shutdown)
                break;
        }
        grpc_server_destroy(srv->gs);
        grpc_completion_queue_shutdown(srv->cq);
        while (grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
               GRPC_QUEUE_SHUTDOWN)
            ;
    }
    grpc_completion_queue_destroy(srv->cq);
    grpc_server_credentials_release(srv->creds);
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->cv);
    pool_destroy(&srv->workers);
    pool_destroy(&srv->listers);
    pthread_mutex_destroy(&srv->await_mu);
    pthread_mutex_destroy(&srv->load_mu);
    free(srv->loads);
    free(srv->mm);
    free(srv->mm_base);
    berth_ratelimit_free(srv->log_rl);
    free(srv->cq_threads);
    free(srv);
    grpc_shutdown();
}

void berth_server_stats(struct berth_server *srv, struct berth_server_stats *out)
{
    struct berth_listener_stats ls;

    berth_listener_stats(srv->listener, &ls);
    memset(out, 0, sizeof(*out));
    out->conns_open = ls.open;
    out->conns_max = ls.max;
    out->conns_accepted = ls.accepted;
    out->conns_refused = ls.refused_full;
    out->conns_bad_preface = ls.refused_preface + ls.timed_out;
    out->accept_emfile = ls.emfile;
    out->calls_in_flight = atomic_load(&srv->calls);
    out->calls_total = atomic_load(&srv->calls_total);
    out->calls_refused = atomic_load(&srv->refused_calls);
    out->streams_running = (unsigned)atomic_load(&srv->live_streams);
    out->streams_refused = atomic_load(&srv->refused_streams);
}
