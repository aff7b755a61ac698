/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for services/streaming/server.c, remotecommand.c and portforward.c: a real server on
 * loopback with a test backend that runs real processes (sh through posix_spawn, stdio on
 * pipes), plays the shim's attach socket and dials a local listener; the client side speaks
 * SPDY with the codec (spdy.c), as client-go does.
 */
#include "tests/unit/helpers/berth_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "runtime/shim/attach.h"
#include "services/streaming/spdy.h"
#include "services/streaming/stream.h"
#include "services/streaming/websocket.h"

extern char **environ;

/* ---- the test backend ---- */

struct proc {
    pid_t pid;
    bool reaped;
    int status;
};

static struct {
    pthread_mutex_t mu;
    int resizes;
    uint16_t last_w, last_h;
    int attach_peer; /* the "shim" end of the last attach */
    bool attach_stdin, attach_once;
    int releases, kills;
    struct berth_stream_server *srv;
    bool notify_exits; /* report exits through berth_stream_server_exec_exited */
} be = {.mu = PTHREAD_MUTEX_INITIALIZER, .attach_peer = -1};

struct waiter_arg {
    struct proc *p;
    char exec_id[40];
};

static void *waiter(void *arg)
{
    struct waiter_arg *w = arg;
    int st;

    waitpid(w->p->pid, &st, 0);
    pthread_mutex_lock(&be.mu);
    w->p->reaped = true;
    w->p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    pthread_mutex_unlock(&be.mu);
    if (be.notify_exits)
        berth_stream_server_exec_exited(be.srv, "ctr", w->exec_id, (uint32_t)w->p->status);
    free(w);
    return NULL;
}

static int t_exec_start(void *udata, const struct berth_stream_request *req, const char *exec_id,
                        struct berth_stream_io *io, struct berth_err **err)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    struct proc *p = berth_xcalloc(1, sizeof(*p));
    struct waiter_arg *w = berth_xcalloc(1, sizeof(*w));
    pthread_t th;

    (void)udata;
    if (strcmp(req->id, "ctr") != 0) {
        free(p);
        free(w);
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "container \"%s\" is in CONTAINER_EXITED state", req->id);
    }
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0)
        abort();
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, er[1], 2);
    if (posix_spawn(&p->pid, "/bin/sh", &fa, NULL, req->cmd, environ) != 0)
        abort();
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    close(er[1]);
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(er[0], F_SETFL, O_NONBLOCK);
    io->in_fd = req->in ? in[1] : (close(in[1]), -1);
    io->out_fd = req->out ? out[0] : (close(out[0]), -1);
    io->err_fd = req->err ? er[0] : (close(er[0]), -1);
    io->handle = p;
    w->p = p;
    snprintf(w->exec_id, sizeof(w->exec_id), "%s", exec_id);
    pthread_create(&th, NULL, waiter, w);
    pthread_detach(th);
    return 0;
}

static int t_exec_state(void *udata, void *handle, uint32_t *status, struct berth_err **err)
{
    struct proc *p = handle;
    int r;

    (void)udata;
    (void)err;
    pthread_mutex_lock(&be.mu);
    r = p->reaped;
    *status = (uint32_t)p->status;
    pthread_mutex_unlock(&be.mu);
    return r;
}

static int t_attach_open(void *udata, const struct berth_stream_request *req,
                         struct berth_stream_io *io, struct berth_err **err)
{
    int sp[2];

    (void)udata;
    (void)req;
    (void)err;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
        abort();
    fcntl(sp[0], F_SETFL, O_NONBLOCK);
    pthread_mutex_lock(&be.mu);
    be.attach_peer = sp[1];
    pthread_mutex_unlock(&be.mu);
    io->attach_fd = sp[0];
    io->stdin_open = be.attach_stdin;
    io->stdin_once = be.attach_once;
    io->handle = berth_xcalloc(1, sizeof(struct proc));
    return 0;
}

static int t_resize(void *udata, void *handle, uint16_t w, uint16_t h, struct berth_err **err)
{
    (void)udata;
    (void)handle;
    (void)err;
    pthread_mutex_lock(&be.mu);
    be.resizes++;
    be.last_w = w;
    be.last_h = h;
    pthread_mutex_unlock(&be.mu);
    return 0;
}

static void t_release(void *udata, void *handle, bool kill_it)
{
    struct proc *p = handle;

    (void)udata;
    pthread_mutex_lock(&be.mu);
    be.releases++;
    if (kill_it) {
        be.kills++;
        if (p->pid > 0 && !p->reaped)
            kill(p->pid, SIGKILL);
    }
    pthread_mutex_unlock(&be.mu);
    /* The waiter thread owns the reaping; the proc struct is leaked on purpose only if the
     * waiter still runs, which it does not by the time tests end. */
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&be.mu);
        bool done = p->pid == 0 || p->reaped;
        pthread_mutex_unlock(&be.mu);
        if (done)
            break;
        usleep(10000);
    }
    free(p);
}

static int t_port_dial(void *udata, const char *sandbox_id, uint16_t port, int *fd,
                       struct berth_err **err)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    (void)udata;
    (void)sandbox_id;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = errno;
        close(s);
        return berth_err_set(err, BERTH_E_UNAVAILABLE, e, "failed to connect to localhost:%u",
                             port);
    }
    fcntl(s, F_SETFL, O_NONBLOCK);
    *fd = s;
    return 0;
}

static struct berth_stream_server *srv_start(int64_t token_ttl_ms)
{
    struct berth_stream_opts o = {
        .address = "127.0.0.1",
        .token_ttl_ms = token_ttl_ms,
        .idle_timeout_ms = 60000,
        .backend = {.exec_start = t_exec_start,
                    .exec_state = t_exec_state,
                    .attach_open = t_attach_open,
                    .resize = t_resize,
                    .release = t_release,
                    .port_dial = t_port_dial},
    };
    struct berth_stream_server *s = NULL;
    _cleanup_err_ struct berth_err *e = NULL;

    assert_int_equal(berth_stream_server_start(&o, &s, &e), 0);
    be.srv = s;
    return s;
}

static char *url_for(struct berth_stream_server *s, enum berth_stream_kind kind, const char *id,
                     const char *cmd, bool in, bool out, bool err, bool tty)
{
    struct berth_stream_request *r = berth_xcalloc(1, sizeof(*r));
    _cleanup_err_ struct berth_err *e = NULL;
    char *url = NULL;

    r->kind = kind;
    r->id = berth_xstrdup(id);
    if (cmd) {
        r->cmd = berth_xcalloc(4, sizeof(char *));
        r->cmd[0] = berth_xstrdup("sh");
        r->cmd[1] = berth_xstrdup("-c");
        r->cmd[2] = berth_xstrdup(cmd);
    }
    r->in = in;
    r->out = out;
    r->err = err;
    r->tty = tty;
    assert_int_equal(berth_stream_server_url(s, r, &url, &e), 0);
    return url;
}

/* ---- the client ---- */

struct client {
    int fd;
    struct berth_buf in;
    struct berth_spdy_decoder *dec;
    struct berth_spdy_encoder *enc;
    char head[2048];
};

static int dial_url(const char *url)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    unsigned port;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_int_equal(sscanf(url, "http://127.0.0.1:%u/", &port), 1);
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the server closed: the test's reads will tell */
        b += w;
        n -= (size_t)w;
    }
}

/* Reads the HTTP response head into c->head; the rest stays in c->in. Returns the status. */
static int read_head(struct client *c)
{
    for (;;) {
        const char *end;
        uint8_t *p = berth_buf_reserve(&c->in, 4096);
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        ssize_t n;
        assert_true(poll(&pf, 1, 5000) > 0);
        n = recv(c->fd, p, 4096, 0);
        if (n <= 0)
            return -1;
        berth_buf_commit(&c->in, (size_t)n);
        end = memmem(berth_buf_head(&c->in), berth_buf_pending(&c->in), "\r\n\r\n", 4);
        if (end) {
            size_t hl = (size_t)(end - (const char *)berth_buf_head(&c->in)) + 4;
            assert_true(hl < sizeof(c->head));
            memcpy(c->head, berth_buf_head(&c->in), hl);
            c->head[hl] = 0;
            berth_buf_consume(&c->in, hl);
            return atoi(c->head + 9);
        }
    }
}

static int http_request(struct client *c, const char *url, const char *extra)
{
    const char *path = strchr(url + 7, '/');
    char req[2048];

    c->fd = dial_url(url);
    c->dec = berth_spdy_decoder_new();
    c->enc = berth_spdy_encoder_new();
    snprintf(req, sizeof(req),
             "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Go-http-client/1.1\r\n"
             "Content-Length: 0\r\n%s\r\n",
             path, extra);
    send_all(c->fd, req, strlen(req));
    return read_head(c);
}

#define UPGRADE_EXEC                                                                               \
    "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"                                                 \
    "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"                                             \
    "X-Stream-Protocol-Version: v3.channel.k8s.io\r\n"                                             \
    "X-Stream-Protocol-Version: v2.channel.k8s.io\r\n"                                             \
    "X-Stream-Protocol-Version: channel.k8s.io\r\n"
#define UPGRADE_PF                                                                                 \
    "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: "                      \
    "portforward.k8s.io\r\n"

static void client_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    berth_buf_clear(&c->in);
    berth_spdy_decoder_free(c->dec);
    berth_spdy_encoder_free(c->enc);
}

static void open_stream(struct client *c, uint32_t id, const char *type, const char *port,
                        const char *rid, uint8_t flags)
{
    struct berth_spdy_header h[3] = {{(char *)"streamType", (char *)type, 0}};
    struct berth_buf out = BERTH_BUF_INIT;
    size_t n = 1;

    if (port)
        h[n++] = (struct berth_spdy_header){(char *)"port", (char *)port, 0};
    if (rid)
        h[n++] = (struct berth_spdy_header){(char *)"requestID", (char *)rid, 0};
    berth_spdy_encode_syn_stream(c->enc, &out, id, 0, 0, flags, h, n);
    send_all(c->fd, berth_buf_head(&out), berth_buf_pending(&out));
    berth_buf_clear(&out);
}

static void send_data(struct client *c, uint32_t id, const void *p, size_t n, bool fin)
{
    struct berth_buf out = BERTH_BUF_INIT;

    berth_spdy_encode_data(&out, id, fin ? BERTH_SPDY_FLAG_FIN : 0, p, n);
    send_all(c->fd, berth_buf_head(&out), berth_buf_pending(&out));
    berth_buf_clear(&out);
}

/* What the client saw, per stream id (< 64). */
struct seen {
    struct berth_buf data[64];
    bool fin[64], rst[64], reply[64];
    uint32_t rst_status[64];
    bool goaway, closed;
    uint32_t pings[8];
    size_t n_pings;
};

static void seen_clear(struct seen *s)
{
    for (int i = 0; i < 64; i++)
        berth_buf_clear(&s->data[i]);
}

/* Reads frames until done(s) or the connection closes; false on a 5 s stall. */
static bool pump(struct client *c, struct seen *s, bool (*done)(struct seen *s, void *arg),
                 void *arg)
{
    for (;;) {
        struct berth_spdy_frame f;
        _cleanup_err_ struct berth_err *e = NULL;
        ssize_t n;
        while ((n = berth_spdy_decode(c->dec, berth_buf_head(&c->in), berth_buf_pending(&c->in), &f,
                                      &e)) > 0) {
            uint32_t id = f.stream_id & 63;
            switch (f.type) {
            case BERTH_SPDY_DATA:
                berth_buf_append(&s->data[id], f.data, f.len);
                if (f.flags & BERTH_SPDY_FLAG_FIN)
                    s->fin[id] = true;
                break;
            case BERTH_SPDY_SYN_REPLY:
                s->reply[id] = true;
                break;
            case BERTH_SPDY_RST_STREAM:
                s->rst[id] = true;
                s->rst_status[id] = f.status;
                break;
            case BERTH_SPDY_GOAWAY:
                s->goaway = true;
                break;
            case BERTH_SPDY_PING:
                if (s->n_pings < 8)
                    s->pings[s->n_pings++] = f.id;
                break;
            default:
                break;
            }
            berth_buf_consume(&c->in, (size_t)n);
        }
        assert_true(n == 0);
        if (done && done(s, arg))
            return true;
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        if (poll(&pf, 1, 5000) <= 0)
            return false;
        uint8_t *p = berth_buf_reserve(&c->in, 65536);
        ssize_t r = recv(c->fd, p, 65536, 0);
        if (r <= 0) {
            s->closed = true;
            return done ? done(s, arg) : true;
        }
        berth_buf_commit(&c->in, (size_t)r);
    }
}

static bool until_closed(struct seen *s, void *arg)
{
    (void)arg;
    return s->closed;
}

static bool until_goaway(struct seen *s, void *arg)
{
    (void)arg;
    return s->goaway || s->closed;
}

static bool until_replies(struct seen *s, void *arg)
{
    const uint32_t *ids = arg;
    for (; *ids; ids++)
        if (!s->reply[*ids] && !s->rst[*ids])
            return s->closed;
    return true;
}

static bool until_bytes(struct seen *s, void *arg)
{
    const size_t *want = arg; /* {stream id, bytes} */
    return berth_buf_pending(&s->data[want[0]]) >= want[1] || s->closed;
}

/* The bytes of b are exactly want. */
static void assert_buf(const struct berth_buf *b, const char *want)
{
    size_t n = berth_buf_pending(b);
    char *got = berth_xcalloc(1, n + 1);
    if (n)
        memcpy(got, berth_buf_head(b), n);
    assert_string_equal(got, want);
    free(got);
}

static void assert_data(struct seen *s, uint32_t id, const char *want)
{
    assert_buf(&s->data[id], want);
}

/* ---- tests ---- */

static void test_exec_exit_code_and_streams(void **state)
{
    struct berth_stream_server *s = srv_start(0);
    _cleanup_free_ char *url = url_for(s, BERTH_STREAM_EXEC, "ctr",
                                       "echo out; echo err >&2; exit 3", false, true, true, false);
    struct client c = {0};
    struct seen sn = {0};

    (void)state;
    assert_int_equal(http_request(&c, url, UPGRADE_EXEC), 101);
    assert_non_null(strstr(c.head, "HTTP/1.1 101 Switching Protocols\r\n"));
    assert_non_null(strstr(c.head, "\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n"));
    assert_null(strstr(c.head, "Content-Length"));
    open_stream(&c, 1, "error", NULL, NULL, 0);
    open_stream(&c, 3, "stdout", NULL, NULL, 0);
    open_stream(&c, 5, "stderr", NULL, NULL, 0);
    assert_true(pump(&c, &sn, until_goaway, NULL));
    assert_true(sn.reply[1] && sn.reply[3] && sn.reply[5]);
    assert_data(&sn, 3, "out\n");
    assert_data(&sn, 5, "err\n");
    assert_true(sn.fin[3] && sn.fin[5]);
    assert_data(&sn, 1,
                "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with "
                "non-zero exit code: error executing command [sh -c echo out; echo err >&2; exit "
                "3], exit code 3\",\"reason\":\"NonZeroExitCode\",\"details\":{\"causes\":[{"
                "\"reason\":\"ExitCode\",\"message\":\"3\"}]}}");
    assert_true(sn.fin[1] || sn.rst[1]);
    client_close(&c);
    seen_clear(&sn);
    berth_stream_server_free(s);
}

static bool until_fin3(struct seen *s, void *arg)
{
    (void)arg;
    return (s->fin[3] && s->goaway) || s->closed;
}

static void test_exec_stdin_eof_and_success(void **state)
{
    struct berth_stream_server *s = srv_start(0);
    _cleanup_free_ char *url =
        url_for(s, BERTH_STREAM_EXEC, "ctr", "sleep 0.3; wc -c", true, true, false, false);
    struct client c = {0};
    struct seen sn = {0};
    static uint8_t big[8 << 20];
    char want[32];

    (void)state;
    be.notify_exits = true;
    memset(big, 'x', sizeof(big));
    assert_int_equal(http_request(&c, url, UPGRADE_EXEC), 101);
    open_stream(&c, 1, "error", NULL, NULL, 0);
    open_stream(&c, 3, "stdin", NULL, NULL, 0);
    open_stream(&c, 5, "stdout", NULL, NULL, 0);
    /* 8 MiB in 32 KiB frames as client-go writes them, then FIN: the process sees EOF. The
     * reader starts late, so the server holds input, resumes it while handling frames and
     * holds it again, many times over. */
    for (size_t off = 0; off < sizeof(big); off += 32768)
        send_data(&c, 3, big + off, 32768, false);
    send_data(&c, 3, NULL, 0, true);
    assert_true(pump(&c, &sn, until_goaway, NULL));
    snprintf(want, sizeof(want), "%zu\n", sizeof(big));
    assert_data(&sn, 5, want);
    assert_data(&sn, 1, "{\"metadata\":{},\"status\":\"Success\"}");
    be.notify_exits = false;
    client_close(&c);
    seen_clear(&sn);
    berth_stream_server_free(s);
    (void)until_fin3;
}

static void test_exec_large_output(void **state)
{
    struct berth_stream_server *s = srv_start(0);
    _cleanup_free_ char *url = url_for(s, BERTH_STREAM_EXEC, "ctr", "head -c 20971520 /dev/zero",
                                       false, true, false, false);
    struct client c = {0};
    struct seen sn = {0};

    (void)state;
    assert_int_equal(http_request(&c, url, UPGRADE_EXEC), 101);
    open_stream(&c, 1, "error", NULL, NULL, 0);
    open_stream(&c, 3, "stdout", NULL, NULL, 0);
    assert_true(pump(&c, &sn, until_goaway, NULL));
    assert_int_equal(berth_buf_pending(&sn.data[3]), 20971520);
    assert_true(sn.fin[3]);
    client_close(&c);
    seen_clear(&sn);
    berth_stream_server_free(s);
}

static void test_tokens_single_use_and_expiry(void **state)
{
    struct berth_stream_server *s = srv_start(300);
    _cleanup_free_ char *url =
        url_for(s, BERTH_STREAM_EXEC, "ctr", "true", false, true, false, false);
    _cleanup_free_ char *old =
        url_for(s, BERTH_STREAM_EXEC, "ctr", "true", false, true, false, false);
    _cleanup_free_ char *att = NULL;
    struct client c = {0}, c2 = {0}, c3 = {0}, c4 = {0}, c5 = {0};
    const char *tok;

    (void)state;
    tok = strrchr(url, '/') + 1;
    assert_int_equal(strlen(tok), 8);
    for (const char *p = tok; *p; p++)
        assert_non_null(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
    /* An exec token on /attach/ is 404 and gone. */
    att = berth_strdup_printf("%.*s/attach/%s", (int)(strstr(url, "/exec/") - url), url, tok);
    assert_int_equal(http_request(&c, att, UPGRADE_EXEC), 404);
    assert_non_null(strstr(c.head, "Content-Length: 19"));
    assert_int_equal(http_request(&c2, url, UPGRADE_EXEC), 404);
    /* Expired (300 ms here) is 404. */
    usleep(400000);
    assert_int_equal(http_request(&c3, old, UPGRADE_EXEC), 404);
    /* Unknown paths too, and a method other than GET/POST. */
    {
        _cleanup_free_ char *bad =
            berth_strdup_printf("%.*s/logs/abcdefgh", (int)(strstr(url, "/exec/") - url), url);
        assert_int_equal(http_request(&c4, bad, UPGRADE_EXEC), 404);
        assert_non_null(strstr(c4.head, "404 Not Found"));
    }
    c5.fd = dial_url(url);
    send_all(c5.fd, "GARBAGE\r\n\r\n", 11);
    assert_int_equal(read_head(&c5), 400);
    client_close(&c);
    client_close(&c2);
    client_close(&c3);
    client_close(&c4);
    client_close(&c5);
    berth_stream_server_free(s);
}

static void test_bad_upgrades(void **state)
{
    struct berth_stream_server *s = srv_start(0);
    _cleanup_free_ char *u1 =
        url_for(s, BERTH_STREAM_EXEC, "ctr", "true", false, true, false, false);
    _cleanup_free_ char *u2 =
        url_for(s, BERTH_STREAM_EXEC, "ctr", "true", false, true, false, false);
    _cleanup_free_ char *u3 =
        url_for(s, BERTH_STREAM_EXEC, "ctr", "true", false, true, false, false);
    _cleanup_free_ char *u4 =
        url_for(s, BERTH_STREAM_PORTFORWARD, "pod", NULL, false, false, false, false);
    struct client c1 = {0}, c2 = {0}, c3 = {0}, c4 = {0};

    (void)state;
    /* No protocol in common: 403 listing ours. */
    assert_int_equal(http_request(&c1, u1,
                                  "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                                  "X-Stream-Protocol-Version: v9.channel.k8s.io\r\n"),
                     403);
    assert_non_null(strstr(c1.head, "X-Accepted-Stream-Protocol-Versions: v4.channel.k8s.io\r\n"));
    assert_non_null(strstr(c1.head, "X-Accepted-Stream-Protocol-Versions: channel.k8s.io\r\n"));
    /* No version header: 400. */
    assert_int_equal(http_request(&c2, u2, "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"), 400);
    /* No upgrade headers: 400. */
    assert_int_equal(http_request(&c3, u3, "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"),
                     400);
    /* Port-forward without a version: an empty 200, as the Go handler writes nothing. */
    assert_int_equal(http_request(&c4, u4, "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"), 200);
    client_close(&c1);
    client_close(&c2);
    client_close(&c3);
    client_close(&c4);
    berth_stream_server_free(s);
}

static void test_ping_echo_and_bad_ids(void **state)
{
    struct berth_stream_server *s = srv_start(0);
    _cleanup_free_ char *url =
        url_for(s, BERTH_STREAM_EXEC, "ctr", "sleep 30", true, true, false, false);
    struct client c = {0};
    struct seen sn = {0};
    struct berth_buf out = BERTH_BUF_INIT;
    uint32_t ids[] = {1, 3, 8, 0};

    (void)state;
    assert_int_equal(http_request(&c, url, UPGRADE_EXEC), 101);
    berth_spdy_encode_ping(&out, 1);
    send_all(c.fd, berth_buf_head(&out), berth_buf_pending(&out));
    berth_buf_clear(&out);
    open_stream(&c, 1, "error", NULL, NULL, 0);
    open_stream(&c, 3, "stdin", NULL, NULL, 0);
    /* Ids must increase and be odd: 3 again and 8 are refused, the session goes on. */
    open_stream(&c, 3, "stdout", NULL, NULL, 0);
    open_stream(&c, 8, "stdout", NULL, NULL, 0);
    assert_true(pump(&c, &sn, until_replies, ids));
    assert_int_equal(sn.n_pings, 1);
    assert_int_equal(sn.pings[0], 1);
    assert_true(sn.rst[8]);
    assert_int_equal(sn.rst_status[8], BERTH_SPDY_PROTOCOL_ERROR);
    /* The client leaves mid-exec: the exec is killed and released. */
    pthread_mutex_lock(&be.mu);
    int kills = be.kills;
    pthread_mutex_unlock(&be.mu);
    open_stream(&c, 5, "stdout", NULL, NULL, 0);
    usleep(200000);
    client_close(&c);
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&be.mu);
        bool k = be.kills > kills;
        pthread_mutex_unlock(&be.mu);
        if (k)
            break;
        usleep(20000);
    }
    pthread_mutex_lock(&be.mu);
    assert_true(be.kills > kills);
    pthread_mutex_unlock(&be.mu);
    seen_clear(&sn);
    berth_stream_server_free(s);
}

static void test_malformed_frame_closes(void **state)
{
    struct berth_stream_server *s = srv_start(0);
    _cleanup_free_ char *url =
        url_for(s, BERTH_STREAM_EXEC, "ctr", "true", false, true, false, false);
    struct client c = {0};
    struct seen sn = {0};
    /* A PING with flags set: spdystream treats it as fatal, so do we. */
    static const uint8_t bad[] = {0x80, 0x03, 0x00, 0x06, 0x01, 0x00, 0x00, 0x04, 0, 0, 0, 1};

    (void)state;
    assert_int_equal(http_request(&c, url, UPGRADE_EXEC), 101);
    send_all(c.fd, bad, sizeof(bad));
    assert_true(pump(&c, &sn, until_closed, NULL));
    assert_true(sn.goaway);
    client_close(&c);
    seen_clear(&sn);
    berth_stream_server_free(s);
}

/* Older clients: v1 (channel.k8s.io) and v3 get text on the error stream on failure only. */
static void test_exec_older_protocols(void **state)
{
    struct berth_stream_server *s = srv_start(0);
    _cleanup_free_ char *u1 =
        url_for(s, BERTH_STREAM_EXEC, "ctr", "echo v1; exit 2", false, true, false, false);
    _cleanup_free_ char *u3 =
        url_for(s, BERTH_STREAM_EXEC, "ctr", "echo v3", false, true, false, false);
    struct client c1 = {0}, c3 = {0};
    struct seen s1 = {0}, s3 = {0};

    (void)state;
    assert_int_equal(http_request(&c1, u1,
                                  "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                                  "X-Stream-Protocol-Version: channel.k8s.io\r\n"),
                     101);
    assert_non_null(strstr(c1.head, "X-Stream-Protocol-Version: channel.k8s.io\r\n"));
    open_stream(&c1, 1, "error", NULL, NULL, 0);
    open_stream(&c1, 3, "stdout", NULL, NULL, 0);
    assert_true(pump(&c1, &s1, until_goaway, NULL));
    assert_data(&s1, 3, "v1\n");
    assert_data(&s1, 1,
                "command terminated with non-zero exit code: error executing command [sh -c "
                "echo v1; exit 2], exit code 2");
    /* v5 first (newer client-go), then v3: v3 is chosen; success leaves error empty. */
    assert_int_equal(http_request(&c3, u3,
                                  "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                                  "X-Stream-Protocol-Version: v5.channel.k8s.io\r\n"
                                  "X-Stream-Protocol-Version: v3.channel.k8s.io\r\n"),
                     101);
    assert_non_null(strstr(c3.head, "X-Stream-Protocol-Version: v3.channel.k8s.io\r\n"));
    open_stream(&c3, 1, "error", NULL, NULL, 0);
    open_stream(&c3, 3, "stdout", NULL, NULL, 0);
    assert_true(pump(&c3, &s3, until_goaway, NULL));
    assert_data(&s3, 3, "v3\n");
    assert_data(&s3, 1, "");
    assert_true(s3.fin[1] || s3.rst[1]);
    client_close(&c1);
    client_close(&c3);
    seen_clear(&s1);
    seen_clear(&s3);
    berth_stream_server_free(s);
}

static void test_exec_failure_is_internal_error(void **state)
{
    struct berth_stream_server *s = srv_start(0);
    _cleanup_free_ char *url =
        url_for(s, BERTH_STREAM_EXEC, "gone", "true", false, true, false, false);
    struct client c = {0};
    struct seen sn = {0};

    (void)state;
    assert_int_equal(http_request(&c, url, UPGRADE_EXEC), 101);
    open_stream(&c, 1, "error", NULL, NULL, 0);
    open_stream(&c, 3, "stdout", NULL, NULL, 0);
    assert_true(pump(&c, &sn, until_goaway, NULL));
    assert_data(&sn, 1,
                "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"Internal error occurred: "
                "container \\\"gone\\\" is in CONTAINER_EXITED state\",\"reason\":"
                "\"InternalError\",\"details\":{\"causes\":[{\"message\":\"container "
                "\\\"gone\\\" is in CONTAINER_EXITED state\"}]},\"code\":500}");
    client_close(&c);
    seen_clear(&sn);
    berth_stream_server_free(s);
}

static void test_tty_resize(void **state)
{
    struct berth_stream_server *s = srv_start(0);
    _cleanup_free_ char *url = url_for(s, BERTH_STREAM_EXEC, "ctr", "cat", true, true, false, true);
    struct client c = {0};
    struct seen sn = {0};
    static const char r1[] = "{\"Width\":80,\"Height\":24}\n{\"Width\":1";
    static const char r2[] = "00,\"Height\":30}\n";

    (void)state;
    pthread_mutex_lock(&be.mu);
    be.resizes = 0;
    pthread_mutex_unlock(&be.mu);
    assert_int_equal(http_request(&c, url, UPGRADE_EXEC), 101);
    open_stream(&c, 1, "error", NULL, NULL, 0);
    open_stream(&c, 3, "stdin", NULL, NULL, 0);
    open_stream(&c, 5, "stdout", NULL, NULL, 0);
    open_stream(&c, 7, "resize", NULL, NULL, 0);
    send_data(&c, 7, r1, strlen(r1), false);
    send_data(&c, 7, r2, strlen(r2), false);
    send_data(&c, 3, "hi\n", 3, true);
    assert_true(pump(&c, &sn, until_goaway, NULL));
    assert_data(&sn, 5, "hi\n");
    pthread_mutex_lock(&be.mu);
    assert_true(be.resizes >= 1);
    assert_int_equal(be.last_w, 100);
    assert_int_equal(be.last_h, 30);
    pthread_mutex_unlock(&be.mu);
    client_close(&c);
    seen_clear(&sn);
    berth_stream_server_free(s);
}

static void test_attach_stdin_once(void **state)
{
    struct berth_stream_server *s = srv_start(0);
    _cleanup_free_ char *url =
        url_for(s, BERTH_STREAM_ATTACH, "ctr", NULL, true, true, true, false);
    struct client c = {0};
    struct seen sn = {0};
    uint8_t pkt[64];
    ssize_t n;
    int peer;

    (void)state;
    be.attach_stdin = be.attach_once = true;
    assert_int_equal(http_request(&c, url, UPGRADE_EXEC), 101);
    open_stream(&c, 1, "error", NULL, NULL, 0);
    open_stream(&c, 3, "stdin", NULL, NULL, 0);
    open_stream(&c, 5, "stdout", NULL, NULL, 0);
    open_stream(&c, 7, "stderr", NULL, NULL, 0);
    send_data(&c, 3, "echo -n hello\n", 14, true);
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&be.mu);
        peer = be.attach_peer;
        pthread_mutex_unlock(&be.mu);
        if (peer >= 0)
            break;
        usleep(10000);
    }
    assert_true(peer >= 0);
    /* The "shim" gets the stdin packet, then EOF; answers output and closes. */
    n = recv(peer, pkt, sizeof(pkt), 0);
    assert_int_equal(n, 15);
    assert_int_equal(pkt[0], BERTH_SHIM_ATTACH_STDIN);
    assert_memory_equal(pkt + 1, "echo -n hello\n", 14);
    n = recv(peer, pkt, sizeof(pkt), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pkt[0], BERTH_SHIM_ATTACH_STDIN_END);
    pkt[0] = BERTH_SHIM_ATTACH_STDOUT;
    memcpy(pkt + 1, "hello", 5);
    assert_int_equal(send(peer, pkt, 6, 0), 6);
    close(peer);
    be.attach_peer = -1;
    assert_true(pump(&c, &sn, until_goaway, NULL));
    assert_data(&sn, 5, "hello");
    assert_data(&sn, 7, "");
    assert_data(&sn, 1, "{\"metadata\":{},\"status\":\"Success\"}");
    client_close(&c);
    seen_clear(&sn);
    berth_stream_server_free(s);
}

/* ---- WebSocket clients ---- */

static int ws_request(struct client *c, const char *url, const char *proto)
{
    char extra[512];

    snprintf(extra, sizeof(extra),
             "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n%s%s%s",
             proto ? "Sec-WebSocket-Protocol: " : "", proto ? proto : "", proto ? "\r\n" : "");
    return http_request(c, url, extra);
}

static void ws_send(struct client *c, uint8_t channel, const void *p, size_t n, bool b64)
{
    static const uint8_t m[4] = {1, 2, 3, 4};
    struct berth_buf msg = BERTH_BUF_INIT, out = BERTH_BUF_INIT;

    if (b64) {
        char *e = berth_base64(p, n);
        uint8_t ch = (uint8_t)('0' + channel);
        berth_buf_append(&msg, &ch, 1);
        berth_buf_append(&msg, e, strlen(e));
        free(e);
    } else {
        berth_buf_append(&msg, &channel, 1);
        berth_buf_append(&msg, p, n);
    }
    berth_ws_encode_masked(&out, b64 ? BERTH_WS_TEXT : BERTH_WS_BINARY, true, berth_buf_head(&msg),
                           berth_buf_pending(&msg), m);
    send_all(c->fd, berth_buf_head(&out), berth_buf_pending(&out));
    berth_buf_clear(&msg);
    berth_buf_clear(&out);
}

struct ws_seen {
    struct berth_buf ch[8];
    int messages[8];
    bool closed_frame, eof;
};

/* Reads server frames (unmasked, unfragmented) until until(s) or EOF; false on a 5 s stall. */
static bool ws_pump(struct client *c, struct ws_seen *s, bool b64,
                    bool (*until)(struct ws_seen *s, void *arg), void *arg)
{
    for (;;) {
        for (;;) {
            const uint8_t *b = berth_buf_head(&c->in);
            size_t have = berth_buf_pending(&c->in), hl = 2;
            uint64_t n;
            if (have < 2)
                break;
            assert_int_equal(b[1] & 0x80, 0); /* servers do not mask */
            n = b[1] & 0x7f;
            if (n == 126) {
                if (have < 4)
                    break;
                n = (uint64_t)b[2] << 8 | b[3];
                hl = 4;
            } else if (n == 127) {
                if (have < 10)
                    break;
                n = 0;
                for (int i = 0; i < 8; i++)
                    n = n << 8 | b[2 + i];
                hl = 10;
            }
            if (have < hl + n)
                break;
            if ((b[0] & 0x0f) == BERTH_WS_CLOSE) {
                s->closed_frame = true;
            } else if (n > 0) {
                const uint8_t *pl = b + hl;
                int ch = b64 ? pl[0] - '0' : pl[0];
                assert_true(ch >= 0 && ch < 8);
                s->messages[ch]++;
                if (b64) {
                    char *t = berth_xcalloc(1, n);
                    unsigned char *d = NULL;
                    size_t dl = 0;
                    memcpy(t, pl + 1, n - 1);
                    assert_int_equal(berth_base64_decode(t, &d, &dl), 0);
                    berth_buf_append(&s->ch[ch], d, dl);
                    free(t);
                    free(d);
                } else {
                    berth_buf_append(&s->ch[ch], pl + 1, n - 1);
                }
            }
            berth_buf_consume(&c->in, hl + n);
        }
        if (until(s, arg))
            return true;
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        if (poll(&pf, 1, 5000) <= 0)
            return false;
        uint8_t *p = berth_buf_reserve(&c->in, 65536);
        ssize_t r = recv(c->fd, p, 65536, 0);
        if (r <= 0) {
            s->eof = true;
            return until(s, arg);
        }
        berth_buf_commit(&c->in, (size_t)r);
    }
}

static bool ws_until_close(struct ws_seen *s, void *arg)
{
    (void)arg;
    return s->closed_frame || s->eof;
}

static bool ws_until_bytes(struct ws_seen *s, void *arg)
{
    const size_t *want = arg; /* {channel, bytes} */
    return berth_buf_pending(&s->ch[want[0]]) >= want[1] || s->eof;
}

static void ws_seen_clear(struct ws_seen *s)
{
    for (int i = 0; i < 8; i++)
        berth_buf_clear(&s->ch[i]);
}

static void assert_ch(struct ws_seen *s, int ch, const char *want)
{
    assert_buf(&s->ch[ch], want);
}

static void test_ws_exec_binary_v4(void **state)
{
    struct berth_stream_server *s = srv_start(0);
    _cleanup_free_ char *url = url_for(s, BERTH_STREAM_EXEC, "ctr",
                                       "echo out; echo err >&2; exit 3", false, true, true, false);
    struct client c = {0};
    struct ws_seen sn = {0};

    (void)state;
    assert_int_equal(ws_request(&c, url, "v4.channel.k8s.io"), 101);
    assert_non_null(strstr(c.head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_non_null(strstr(c.head, "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n"));
    assert_true(ws_pump(&c, &sn, false, ws_until_close, NULL));
    assert_true(sn.closed_frame);
    assert_ch(&sn, 1, "out\n");
    assert_ch(&sn, 2, "err\n");
    assert_non_null(strstr((const char *)berth_buf_head(&sn.ch[3]),
                           "\"reason\":\"ExitCode\",\"message\":\"3\""));
    client_close(&c);
    ws_seen_clear(&sn);
    berth_stream_server_free(s);
}

static void test_ws_exec_base64_stdin(void **state)
{
    struct berth_stream_server *s = srv_start(0);
    _cleanup_free_ char *url =
        url_for(s, BERTH_STREAM_EXEC, "ctr", "head -c 5", true, true, false, false);
    struct client c = {0};
    struct ws_seen sn = {0};

    (void)state;
    assert_int_equal(ws_request(&c, url, "v4.base64.channel.k8s.io"), 101);
    ws_send(&c, 0, "hel", 3, true);
    ws_send(&c, 0, "lo", 2, true);
    assert_true(ws_pump(&c, &sn, true, ws_until_close, NULL));
    assert_ch(&sn, 1, "hello");
    assert_ch(&sn, 3, "{\"metadata\":{},\"status\":\"Success\"}");
    client_close(&c);
    ws_seen_clear(&sn);
    berth_stream_server_free(s);
}

static void test_ws_bad_upgrades(void **state)
{
    struct berth_stream_server *s = srv_start(0);
    _cleanup_free_ char *u1 =
        url_for(s, BERTH_STREAM_EXEC, "ctr", "true", false, true, false, false);
    _cleanup_free_ char *u2 =
        url_for(s, BERTH_STREAM_PORTFORWARD, "pod", NULL, false, false, false, false);
    struct client c1 = {0}, c2 = {0};

    (void)state;
    assert_int_equal(ws_request(&c1, u1, "v9.channel.k8s.io"), 400);
    /* a WebSocket port-forward needs ports in the CRI request */
    assert_int_equal(ws_request(&c2, u2, NULL), 400);
    client_close(&c1);
    client_close(&c2);
    berth_stream_server_free(s);
}

static void *echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0)
        send_all(fd, buf, (size_t)n);
    close(fd);
    return NULL;
}

static void *echo_server(void *arg)
{
    int lfd = *(int *)arg;
    for (;;) {
        pthread_t th;
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_create(&th, NULL, echo_conn, (void *)(intptr_t)fd);
        pthread_detach(th);
    }
}

static void test_portforward_pairs(void **state)
{
    struct berth_stream_server *s = srv_start(0);
    _cleanup_free_ char *url =
        url_for(s, BERTH_STREAM_PORTFORWARD, "pod", NULL, false, false, false, false);
    struct client c = {0};
    struct seen sn = {0};
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), closed_port;
    char port[16], cport[16];
    pthread_t th;
    size_t want[2];

    (void)state;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 16), 0);
    getsockname(lfd, (struct sockaddr *)&a, &al);
    snprintf(port, sizeof(port), "%u", ntohs(a.sin_port));
    pthread_create(&th, NULL, echo_server, &lfd);
    {
        /* A port nobody listens on: bind, note, close. */
        int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in b = {.sin_family = AF_INET};
        socklen_t bl = sizeof(b);
        b.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(t, (struct sockaddr *)&b, sizeof(b));
        getsockname(t, (struct sockaddr *)&b, &bl);
        closed_port = ntohs(b.sin_port);
        close(t);
        snprintf(cport, sizeof(cport), "%d", closed_port);
    }
    assert_int_equal(http_request(&c, url, UPGRADE_PF), 101);
    assert_non_null(strstr(c.head, "X-Stream-Protocol-Version: portforward.k8s.io"));
    /* Two requests at once, interleaved. */
    open_stream(&c, 1, "error", port, "0", BERTH_SPDY_FLAG_FIN);
    open_stream(&c, 3, "error", port, "1", BERTH_SPDY_FLAG_FIN);
    open_stream(&c, 5, "data", port, "0", 0);
    open_stream(&c, 7, "data", port, "1", 0);
    send_data(&c, 5, "ping-0", 6, false);
    send_data(&c, 7, "ping-1", 6, true);
    want[0] = 7;
    want[1] = 6;
    assert_true(pump(&c, &sn, until_bytes, want));
    want[0] = 5;
    assert_true(pump(&c, &sn, until_bytes, want));
    assert_data(&sn, 5, "ping-0");
    assert_data(&sn, 7, "ping-1");
    /* The refused port: text on the error stream, both closed; the session lives on. */
    open_stream(&c, 9, "error", cport, "2", BERTH_SPDY_FLAG_FIN);
    open_stream(&c, 11, "data", cport, "2", 0);
    want[0] = 9;
    want[1] = 10;
    assert_true(pump(&c, &sn, until_bytes, want));
    assert_non_null(memmem(berth_buf_head(&sn.data[9]), berth_buf_pending(&sn.data[9]),
                           "error forwarding port", 21));
    /* A bad port header is refused with RST. */
    open_stream(&c, 13, "data", "0", "3", 0);
    uint32_t ids[] = {13, 0};
    assert_true(pump(&c, &sn, until_replies, ids));
    assert_true(sn.rst[13]);
    assert_false(sn.closed);
    client_close(&c);
    shutdown(lfd, SHUT_RDWR);
    close(lfd);
    pthread_join(th, NULL);
    seen_clear(&sn);
    berth_stream_server_free(s);
}

static void test_ws_portforward(void **state)
{
    struct berth_stream_server *s = srv_start(0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct berth_stream_request *r = berth_xcalloc(1, sizeof(*r));
    _cleanup_err_ struct berth_err *e = NULL;
    _cleanup_free_ char *url = NULL;
    struct client c = {0};
    struct ws_seen sn = {0};
    pthread_t th;
    size_t want[2] = {0, 2 + 4};

    (void)state;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 16), 0);
    getsockname(lfd, (struct sockaddr *)&a, &al);
    pthread_create(&th, NULL, echo_server, &lfd);
    r->kind = BERTH_STREAM_PORTFORWARD;
    r->id = berth_xstrdup("pod");
    r->ports = berth_xcalloc(1, sizeof(uint16_t));
    r->ports[0] = ntohs(a.sin_port);
    r->n_ports = 1;
    assert_int_equal(berth_stream_server_url(s, r, &url, &e), 0);
    assert_int_equal(ws_request(&c, url, "v4.channel.k8s.io"), 101);
    ws_send(&c, 0, "ping", 4, false);
    assert_true(ws_pump(&c, &sn, false, ws_until_bytes, want));
    /* each channel starts with the port, little-endian */
    assert_int_equal(berth_buf_head(&sn.ch[0])[0], ntohs(a.sin_port) & 0xff);
    assert_int_equal(berth_buf_head(&sn.ch[0])[1], ntohs(a.sin_port) >> 8);
    assert_memory_equal(berth_buf_head(&sn.ch[0]) + 2, "ping", 4);
    assert_int_equal(berth_buf_pending(&sn.ch[1]), 2);
    client_close(&c);
    shutdown(lfd, SHUT_RDWR);
    close(lfd);
    pthread_join(th, NULL);
    ws_seen_clear(&sn);
    berth_stream_server_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_exit_code_and_streams),
        cmocka_unit_test(test_exec_stdin_eof_and_success),
        cmocka_unit_test(test_exec_large_output),
        cmocka_unit_test(test_tokens_single_use_and_expiry),
        cmocka_unit_test(test_bad_upgrades),
        cmocka_unit_test(test_ping_echo_and_bad_ids),
        cmocka_unit_test(test_malformed_frame_closes),
        cmocka_unit_test(test_exec_older_protocols),
        cmocka_unit_test(test_exec_failure_is_internal_error),
        cmocka_unit_test(test_tty_resize),
        cmocka_unit_test(test_attach_stdin_once),
        cmocka_unit_test(test_portforward_pairs),
        cmocka_unit_test(test_ws_exec_binary_v4),
        cmocka_unit_test(test_ws_exec_base64_stdin),
        cmocka_unit_test(test_ws_bad_upgrades),
        cmocka_unit_test(test_ws_portforward),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
