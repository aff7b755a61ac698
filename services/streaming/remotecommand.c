/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exec and attach sessions: Kubernetes' remotecommand protocol (v1 to v4) over one SPDY
 * connection (streaming.md §4, §8). The client opens error, stdin, stdout, stderr and resize
 * streams; once every stream the stored request implies has arrived, a worker starts the exec
 * (or joins the container's stdio); then the loop copies bytes both ways with backpressure and
 * ends the session with the exit status on the error stream.
 */
#define BERTH_LOG_SUBSYS "stream"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "runtime/shim/attach.h"
#include "services/streaming/stream-internal.h"

/* After the exit, output still open is read until it ends or stays quiet this long (children
 * that daemonized can hold a pipe forever: containerd#7832). */
#define DRAIN_QUIET_NS (1000000000LL)
/* Exit polling when the outputs ended but no exit event came. */
#define EXIT_POLL_NS   (500000000LL)
#define RESIZE_BUF_MAX 4096
/* A tty exec waits this long for the client's first size, so the process starts with it
 * (client-go sends it as soon as the streams exist). */
#define FIRST_SIZE_WAIT_NS (1000000000LL)

enum rc_state { RC_WAIT_STREAMS, RC_STARTING, RC_RUNNING, RC_DONE };

struct rc_session {
    int refs; /* the connection's, plus one per job in flight */
    struct stream_server *srv;
    struct stream_conn *c; /* NULL once the connection is gone */
    struct berth_stream_request *req;
    int version;
    enum rc_state state;
    struct spdy_stream *s_error, *s_in, *s_out, *s_err, *s_resize;
    int expected, arrived;
    int64_t create_deadline, size_deadline;

    struct stream_watch in_w, out_w, err_w, att_w;
    void *handle;
    bool has_handle;
    /* exec */
    char exec_id[33];
    struct stream_exit_slot *slot;
    bool exited, polling;
    uint32_t status;
    int64_t quiet_since, next_poll;
    /* stdin from the client, waiting for the process (or attach socket) to take it */
    struct berth_buf in;
    bool in_fin;     /* the client ended stdin */
    bool in_done;    /* stdin closed towards the process */
    bool stdin_open; /* attach: the container takes stdin */
    bool stdin_once; /* attach */
    /* resize */
    struct berth_buf rbuf;
    bool resize_broken, resize_want, resize_busy;
    uint16_t rw, rh;
};

static const struct stream_session_ops rc_ops;
static void rc_check_done(struct rc_session *r);
static void rc_start(struct rc_session *r);

static bool is_exec(const struct rc_session *r)
{
    return r->req->kind == BERTH_STREAM_EXEC;
}

/* Every stream is there: start, unless a tty exec still waits for its first size. */
static void rc_maybe_start(struct rc_session *r)
{
    int64_t now = stream_now();

    if (r->state != RC_WAIT_STREAMS || r->arrived < r->expected)
        return;
    if (is_exec(r) && r->req->tty && r->s_resize && !r->resize_want && !r->resize_broken) {
        if (!r->size_deadline)
            r->size_deadline = now + FIRST_SIZE_WAIT_NS;
        if (now < r->size_deadline) {
            stream_conn_tick_at(r->c, r->size_deadline);
            return;
        }
    }
    if (r->resize_want && is_exec(r)) {
        r->req->width = r->rw;
        r->req->height = r->rh;
        r->resize_want = false; /* applied at creation */
    }
    rc_start(r);
}

static void rc_put(struct rc_session *r)
{
    if (--r->refs > 0)
        return;
    stream_exit_unregister(r->srv, r->slot);
    stream_watch_close(r->srv, &r->in_w);
    stream_watch_close(r->srv, &r->out_w);
    stream_watch_close(r->srv, &r->err_w);
    stream_watch_close(r->srv, &r->att_w);
    berth_buf_clear(&r->in);
    berth_buf_clear(&r->rbuf);
    berth_stream_request_free(r->req);
    stream_defer_free(r->srv, r);
}

/* ---- jobs ---- */

struct rc_job {
    struct stream_job j;
    struct rc_session *r;
    struct berth_stream_io io;
    struct berth_err *err;
    int rc;
    uint32_t status;
    uint16_t w, h;
    void *handle;
    bool kill;
};

static void release_run(struct stream_server *s, struct stream_job *j)
{
    struct rc_job *rj = (struct rc_job *)j;
    const struct berth_stream_backend *b = stream_backend(s);

    b->release(b->udata, rj->handle, rj->kill);
}

static void job_free_done(struct stream_server *s, struct stream_job *j)
{
    (void)s;
    free(j);
}

/* Hands the backend's handle back (once), killing a running exec when asked. */
static void rc_release(struct rc_session *r, bool kill)
{
    struct rc_job *rj;

    if (!r->has_handle)
        return;
    r->has_handle = false;
    rj = berth_xcalloc(1, sizeof(*rj));
    rj->j.run = release_run;
    rj->j.done = job_free_done;
    rj->handle = r->handle;
    rj->kill = kill;
    stream_job_submit(r->srv, &rj->j);
}

/* ---- finishing ---- */

static char *status_json(const char *status, const char *message, const char *reason,
                         json_t *details, int code)
{
    json_t *o = json_object();
    char *text;

    json_object_set_new(o, "metadata", json_object());
    json_object_set_new(o, "status", json_string(status));
    if (message)
        json_object_set_new(o, "message", json_string(message));
    if (reason)
        json_object_set_new(o, "reason", json_string(reason));
    if (details)
        json_object_set_new(o, "details", details);
    if (code)
        json_object_set_new(o, "code", json_integer(code));
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* Ends the session: outputs closed, the result on the error stream (v4: a metav1.Status; older
 * versions: text on failure only), every stream we still hold reset, GOAWAY. failure: an
 * internal error message, or NULL for the exit status (exec) / success (attach). */
static void rc_finish(struct rc_session *r, const char *failure)
{
    struct stream_conn *c = r->c;
    _cleanup_free_ char *msg = NULL;

    if (r->state == RC_DONE || !c)
        return;
    r->state = RC_DONE;
    stream_watch_close(r->srv, &r->out_w);
    stream_watch_close(r->srv, &r->err_w);
    stream_watch_close(r->srv, &r->att_w);
    stream_watch_close(r->srv, &r->in_w);
    stream_conn_fin(c, r->s_out);
    stream_conn_fin(c, r->s_err);
    if (failure) {
        if (r->version >= 4) {
            json_t *d = json_pack("{s:[{s:s}]}", "causes", "message", failure);
            _cleanup_free_ char *m = berth_strdup_printf("Internal error occurred: %s", failure);
            msg = status_json("Failure", m, "InternalError", d, 500);
        } else {
            msg = berth_xstrdup(failure);
        }
    } else if (is_exec(r) && r->status != 0) {
        uint32_t code = r->status > 255 ? 255 : r->status;
        char n[16];
        size_t off = 0;
        char cmd[512];
        cmd[0] = 0;
        for (size_t i = 0; r->req->cmd && r->req->cmd[i]; i++)
            off += (size_t)snprintf(cmd + off, off < sizeof(cmd) ? sizeof(cmd) - off : 0, "%s%s",
                                    i ? " " : "", r->req->cmd[i]);
        snprintf(n, sizeof(n), "%u", code);
        if (r->version >= 4) {
            json_t *d = json_pack("{s:[{s:s,s:s}]}", "causes", "reason", "ExitCode", "message", n);
            _cleanup_free_ char *m = berth_strdup_printf(
                "command terminated with non-zero exit code: error executing command [%s], exit "
                "code %u",
                cmd, code);
            msg = status_json("Failure", m, "NonZeroExitCode", d, 0);
        } else {
            msg = berth_strdup_printf("command terminated with non-zero exit code: error "
                                      "executing command [%s], exit code %u",
                                      cmd, code);
        }
    } else if (r->version >= 4) {
        msg = status_json("Success", NULL, NULL, NULL, 0);
    }
    if (r->s_error) {
        if (msg)
            stream_conn_data(c, r->s_error, msg, strlen(msg), false);
        /* The client needs EOF (FIN or RST) on error after stdout/stderr (streaming.md §4). */
        stream_conn_fin(c, r->s_error);
    }
    for (struct spdy_stream *st = c->streams; st; st = st->next)
        if (!st->local_fin || !st->remote_fin)
            stream_conn_rst(c, st, BERTH_SPDY_CANCEL);
    stream_conn_finish(c);
    rc_release(r, is_exec(r) && !r->exited);
}

/* ---- stdin ---- */

/* Moves held stdin towards the process or the attach socket; closes it after the client's
 * EOF. Releases the connection's input once below the mark. */
static void rc_pump_in(struct rc_session *r)
{
    int fd = is_exec(r) ? r->in_w.fd : r->att_w.fd;
    struct stream_watch *w = is_exec(r) ? &r->in_w : &r->att_w;
    bool blocked = false;

    if (r->state != RC_RUNNING)
        return;
    if (!is_exec(r) && !r->stdin_open) {
        berth_buf_consume(&r->in, berth_buf_pending(&r->in)); /* not taken: dropped */
        r->in_fin = false;
    }
    while (fd >= 0 && !r->in_done && berth_buf_pending(&r->in) > 0) {
        size_t n = berth_buf_pending(&r->in);
        ssize_t w_n;
        if (is_exec(r)) {
            w_n = write(fd, berth_buf_head(&r->in), n);
        } else {
            uint8_t tag = BERTH_SHIM_ATTACH_STDIN;
            if (n > BERTH_SHIM_ATTACH_DATA_MAX)
                n = BERTH_SHIM_ATTACH_DATA_MAX;
            struct iovec iov[2] = {{&tag, 1}, {(void *)berth_buf_head(&r->in), n}};
            struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
            w_n = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w_n > 0)
                w_n -= 1;
        }
        if (w_n < 0 && errno == EINTR)
            continue;
        if (w_n < 0 && errno == EAGAIN) {
            blocked = true;
            break;
        }
        if (w_n < 0) {
            /* The process closed its stdin: what the client sends goes nowhere. */
            berth_buf_consume(&r->in, berth_buf_pending(&r->in));
            r->in_done = true;
            break;
        }
        berth_buf_consume(&r->in, (size_t)w_n);
    }
    if (r->in_done)
        berth_buf_consume(&r->in, berth_buf_pending(&r->in));
    if (!blocked && r->in_fin && !r->in_done && berth_buf_pending(&r->in) == 0) {
        r->in_done = true;
        if (is_exec(r)) {
            stream_watch_close(r->srv, &r->in_w); /* the shim reads EOF */
        } else {
            uint8_t eof = BERTH_SHIM_ATTACH_STDIN_END;
            if (send(fd, &eof, 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno == EAGAIN) {
                r->in_done = false;
                blocked = true;
            } else if (!(r->stdin_once && !r->req->tty)) {
                /* Only stdin_once without a tty hands EOF to the container; otherwise the
                 * client's EOF detaches this session (containerd's Attach). */
                rc_finish(r, NULL);
                return;
            }
        }
    }
    if (is_exec(r)) {
        if (r->in_w.fd >= 0)
            stream_watch_set(r->srv, &r->in_w, blocked ? EPOLLOUT : 0);
    } else if (r->att_w.fd >= 0) {
        uint32_t ev = r->c && !r->c->out_full ? EPOLLIN : 0;
        stream_watch_set(r->srv, w, ev | (blocked ? EPOLLOUT : 0) | EPOLLRDHUP);
    }
    if (r->c && r->c->input_held && berth_buf_pending(&r->in) < STREAM_SINK_HIGH)
        stream_conn_resume_input(r->c);
}

/* ---- resize ---- */

static void resize_run(struct stream_server *s, struct stream_job *j)
{
    struct rc_job *rj = (struct rc_job *)j;
    const struct berth_stream_backend *b = stream_backend(s);

    rj->rc = b->resize(b->udata, rj->handle, rj->w, rj->h, &rj->err);
}

static void rc_resize_kick(struct rc_session *r);

static void resize_done(struct stream_server *s, struct stream_job *j)
{
    struct rc_job *rj = (struct rc_job *)j;
    struct rc_session *r = rj->r;

    (void)s;
    if (rj->rc < 0)
        log_debug("resize %s: %s", r->req->id, rj->err->msg);
    berth_err_free(&rj->err);
    free(rj);
    r->resize_busy = false;
    rc_resize_kick(r);
    rc_put(r);
}

static void rc_resize_kick(struct rc_session *r)
{
    struct rc_job *rj;

    if (!r->resize_want || r->resize_busy || r->state != RC_RUNNING || !r->has_handle)
        return;
    r->resize_want = false;
    r->resize_busy = true;
    rj = berth_xcalloc(1, sizeof(*rj));
    rj->j.run = resize_run;
    rj->j.done = resize_done;
    rj->r = r;
    rj->handle = r->handle;
    rj->w = r->rw;
    rj->h = r->rh;
    r->refs++;
    stream_job_submit(r->srv, &rj->j);
}

/* The resize stream is a sequence of JSON objects {"Width":w,"Height":h}, split or joined
 * across frames at will; the latest size wins. Garbage ends resize handling (as in Go). */
static void rc_resize_feed(struct rc_session *r, const uint8_t *p, size_t len)
{
    if (r->resize_broken)
        return;
    berth_buf_append(&r->rbuf, p, len);
    for (;;) {
        const char *b = (const char *)berth_buf_head(&r->rbuf);
        size_t n = berth_buf_pending(&r->rbuf), skip = 0;
        json_error_t e;
        json_t *o;
        while (skip < n &&
               (b[skip] == ' ' || b[skip] == '\n' || b[skip] == '\r' || b[skip] == '\t'))
            skip++;
        berth_buf_consume(&r->rbuf, skip);
        b += skip;
        n -= skip;
        if (n == 0)
            break;
        o = json_loadb(b, n, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &e);
        if (!o) {
            if (json_error_code(&e) == json_error_premature_end_of_input && n < RESIZE_BUF_MAX)
                break; /* the rest comes later */
            log_debug("resize stream of %s: %s: ignored from now on", r->req->id, e.text);
            r->resize_broken = true;
            berth_buf_clear(&r->rbuf);
            return;
        }
        berth_buf_consume(&r->rbuf, (size_t)e.position);
        json_int_t w = json_integer_value(json_object_get(o, "Width"));
        json_int_t h = json_integer_value(json_object_get(o, "Height"));
        json_decref(o);
        if (w > 0 && h > 0 && w <= 65535 && h <= 65535) {
            r->rw = (uint16_t)w;
            r->rh = (uint16_t)h;
            r->resize_want = true;
        }
    }
    rc_maybe_start(r);
    rc_resize_kick(r);
}

/* ---- outputs ---- */

static void rc_pause_outputs(struct rc_session *r)
{
    bool full = !r->c || r->c->out_full;

    if (r->out_w.fd >= 0)
        stream_watch_set(r->srv, &r->out_w, full ? 0 : EPOLLIN);
    if (r->err_w.fd >= 0)
        stream_watch_set(r->srv, &r->err_w, full ? 0 : EPOLLIN);
    if (r->att_w.fd >= 0)
        stream_watch_set(r->srv, &r->att_w,
                         (full ? 0 : EPOLLIN) | (r->att_w.events & EPOLLOUT) | EPOLLRDHUP);
}

static void on_output(struct stream_server *s, struct stream_watch *w, uint32_t events)
{
    struct rc_session *r = w->owner;
    struct spdy_stream *st = w == &r->out_w ? r->s_out : r->s_err;

    (void)s;
    (void)events;
    for (int i = 0; i < 8 && !r->c->out_full; i++) {
        ssize_t n = stream_conn_data_from_fd(r->c, st, w->fd);
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            stream_watch_close(r->srv, w);
            stream_conn_fin(r->c, st);
            break;
        }
        r->quiet_since = stream_now();
    }
    stream_conn_flush(r->c);
    rc_pause_outputs(r);
    rc_check_done(r);
}

static void on_attach(struct stream_server *s, struct stream_watch *w, uint32_t events)
{
    struct rc_session *r = w->owner;
    uint8_t buf[BERTH_SHIM_ATTACH_DATA_MAX + 1];

    (void)s;
    if (events & EPOLLOUT)
        rc_pump_in(r);
    if (r->state != RC_RUNNING || r->att_w.fd < 0)
        return;
    for (int i = 0; i < 16 && !r->c->out_full; i++) {
        ssize_t n = recv(w->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            /* The shim closed: the container ended (or dropped this client). */
            rc_finish(r, NULL);
            return;
        }
        if (buf[0] == BERTH_SHIM_ATTACH_STDOUT && r->req->out)
            stream_conn_data(r->c, r->s_out, buf + 1, (size_t)n - 1, false);
        else if (buf[0] == BERTH_SHIM_ATTACH_STDERR && r->req->err)
            stream_conn_data(r->c, r->s_err, buf + 1, (size_t)n - 1, false);
    }
    stream_conn_flush(r->c);
    rc_pause_outputs(r);
}

static void on_stdin_room(struct stream_server *s, struct stream_watch *w, uint32_t events)
{
    (void)s;
    (void)events;
    rc_pump_in(w->owner);
}

/* The exec is over once it exited and its outputs ended (or went quiet after the exit). */
static void rc_check_done(struct rc_session *r)
{
    if (r->state != RC_RUNNING || !is_exec(r) || !r->c)
        return;
    if (!r->exited) {
        if (r->out_w.fd < 0 && r->err_w.fd < 0) {
            if (!r->next_poll)
                r->next_poll = stream_now() + EXIT_POLL_NS / 5;
            stream_conn_tick_at(r->c, r->next_poll);
        }
        return;
    }
    if (r->out_w.fd >= 0 || r->err_w.fd >= 0) {
        stream_conn_tick_at(r->c, r->quiet_since + DRAIN_QUIET_NS);
        return;
    }
    rc_finish(r, NULL);
}

static void on_exit_event(void *arg)
{
    struct rc_session *r = arg;
    uint32_t st;

    if (r->exited || !r->slot || !stream_exit_get(r->srv, r->slot, &st))
        return;
    r->exited = true;
    r->status = st;
    r->quiet_since = stream_now();
    rc_check_done(r);
}

struct poll_job {
    struct rc_job rj;
};

static void poll_run(struct stream_server *s, struct stream_job *j)
{
    struct rc_job *rj = (struct rc_job *)j;
    const struct berth_stream_backend *b = stream_backend(s);

    rj->rc = b->exec_state(b->udata, rj->handle, &rj->status, &rj->err);
}

static void poll_done(struct stream_server *s, struct stream_job *j)
{
    struct rc_job *rj = (struct rc_job *)j;
    struct rc_session *r = rj->r;

    (void)s;
    r->polling = false;
    if (rj->rc < 0 && r->c && r->state == RC_RUNNING) {
        rc_finish(r, rj->err->msg);
    } else if (rj->rc == 1 && !r->exited) {
        r->exited = true;
        r->status = rj->status;
        r->quiet_since = stream_now();
        rc_check_done(r);
    } else if (r->c && r->state == RC_RUNNING) {
        r->next_poll = stream_now() + EXIT_POLL_NS;
        stream_conn_tick_at(r->c, r->next_poll);
    }
    berth_err_free(&rj->err);
    free(rj);
    rc_put(r);
}

/* ---- start ---- */

static void start_run(struct stream_server *s, struct stream_job *j)
{
    struct rc_job *rj = (struct rc_job *)j;
    const struct berth_stream_backend *b = stream_backend(s);

    rj->io = (struct berth_stream_io){.in_fd = -1, .out_fd = -1, .err_fd = -1, .attach_fd = -1};
    if (rj->r->req->kind == BERTH_STREAM_EXEC)
        rj->rc = b->exec_start(b->udata, rj->r->req, rj->r->exec_id, &rj->io, &rj->err);
    else
        rj->rc = b->attach_open(b->udata, rj->r->req, &rj->io, &rj->err);
}

static void start_done(struct stream_server *s, struct stream_job *j)
{
    struct rc_job *rj = (struct rc_job *)j;
    struct rc_session *r = rj->r;

    if (rj->rc == 0) {
        r->handle = rj->io.handle;
        r->has_handle = true;
        r->in_w = (struct stream_watch){.fd = rj->io.in_fd, .cb = on_stdin_room, .owner = r};
        r->out_w = (struct stream_watch){.fd = rj->io.out_fd, .cb = on_output, .owner = r};
        r->err_w = (struct stream_watch){.fd = rj->io.err_fd, .cb = on_output, .owner = r};
        r->att_w = (struct stream_watch){.fd = rj->io.attach_fd, .cb = on_attach, .owner = r};
        r->stdin_open = rj->io.stdin_open;
        r->stdin_once = rj->io.stdin_once;
    }
    if (!r->c || r->state != RC_STARTING) {
        /* The client left while the exec started: kill it. */
        rc_release(r, true);
    } else if (rj->rc < 0) {
        log_info("%s in %s failed: %s", is_exec(r) ? "exec" : "attach", r->req->id, rj->err->msg);
        rc_finish(r, rj->err->msg);
    } else {
        r->state = RC_RUNNING;
        r->quiet_since = stream_now();
        if (is_exec(r) && !r->req->in)
            stream_watch_close(s, &r->in_w);
        rc_pause_outputs(r);
        rc_pump_in(r);
        rc_resize_kick(r);
        on_exit_event(r); /* an exit that came before the fds were in place */
        rc_check_done(r);
        if (r->c)
            stream_conn_flush(r->c);
    }
    berth_err_free(&rj->err);
    free(rj);
    rc_put(r);
}

static void rc_start(struct rc_session *r)
{
    struct rc_job *rj = berth_xcalloc(1, sizeof(*rj));

    r->state = RC_STARTING;
    if (is_exec(r)) {
        berth_random_hex(r->exec_id, 16);
        r->slot = stream_exit_register(r->srv, r->req->id, r->exec_id, on_exit_event, r);
    }
    rj->j.run = start_run;
    rj->j.done = start_done;
    rj->r = r;
    r->refs++;
    stream_job_submit(r->srv, &rj->j);
}

/* ---- session hooks ---- */

static bool rc_stream_open(struct stream_conn *c, struct spdy_stream *st,
                           const struct berth_spdy_frame *f)
{
    struct rc_session *r = c->sess;
    const struct berth_spdy_header *h = berth_spdy_frame_header(f, "streamtype");
    struct spdy_stream **slot = NULL;
    bool wanted = false;

    if (!h)
        return false;
    if (!strcmp(h->value, "error")) {
        st->type = ST_ERROR;
        slot = &r->s_error;
        wanted = true;
    } else if (!strcmp(h->value, "stdin")) {
        st->type = ST_STDIN;
        slot = &r->s_in;
        wanted = r->req->in;
    } else if (!strcmp(h->value, "stdout")) {
        st->type = ST_STDOUT;
        slot = &r->s_out;
        wanted = r->req->out;
    } else if (!strcmp(h->value, "stderr")) {
        st->type = ST_STDERR;
        slot = &r->s_err;
        wanted = r->req->err;
    } else if (!strcmp(h->value, "resize")) {
        st->type = ST_RESIZE;
        slot = &r->s_resize;
        wanted = r->req->tty && r->version >= 3;
    }
    if (slot && *slot)
        return false; /* a second stream of one type */
    stream_conn_reply(c, st);
    if (!slot)
        return true; /* unknown types are answered, not counted */
    *slot = st;
    if (r->version == 1 && st->type == ST_STDIN)
        stream_conn_fin(c, st); /* v1 clients expect the server's side closed at once */
    if (wanted)
        r->arrived++;
    rc_maybe_start(r);
    return true;
}

static void rc_stream_data(struct stream_conn *c, struct spdy_stream *st, const uint8_t *p,
                           size_t len, bool fin)
{
    struct rc_session *r = c->sess;

    if (st->type == ST_RESIZE) {
        if (len)
            rc_resize_feed(r, p, len);
        return;
    }
    if (st->type != ST_STDIN || st != r->s_in || r->state == RC_DONE)
        return;
    if (!r->in_done && !r->in_fin)
        berth_buf_append(&r->in, p, len);
    if (fin && r->version >= 2)
        r->in_fin = true;
    if (berth_buf_pending(&r->in) >= STREAM_SINK_HIGH)
        c->input_held = true;
    rc_pump_in(r);
}

static void rc_stream_reset(struct stream_conn *c, struct spdy_stream *st)
{
    struct rc_session *r = c->sess;

    if (st == r->s_in && r->version >= 2) {
        r->in_fin = true;
        rc_pump_in(r);
    }
}

static void rc_out_ready(struct stream_conn *c)
{
    struct rc_session *r = c->sess;

    rc_pause_outputs(r);
}

static int64_t rc_tick(struct stream_conn *c, int64_t now)
{
    struct rc_session *r = c->sess;

    if (r->state == RC_WAIT_STREAMS) {
        rc_maybe_start(r);
        if (r->state != RC_WAIT_STREAMS)
            return 0;
        if (now >= r->create_deadline) {
            log_info("%s session for %s: timed out waiting for client to create streams",
                     is_exec(r) ? "exec" : "attach", r->req->id);
            rc_finish(r, "timed out waiting for client to create streams");
            return 0;
        }
        return r->size_deadline && r->size_deadline < r->create_deadline ? r->size_deadline
                                                                         : r->create_deadline;
    }
    if (r->state != RC_RUNNING || !is_exec(r))
        return 0;
    if (r->exited && (r->out_w.fd >= 0 || r->err_w.fd >= 0)) {
        if (c->out_full) {
            r->quiet_since = now; /* the client is slow, the process is not quiet */
        } else if (now - r->quiet_since >= DRAIN_QUIET_NS) {
            stream_watch_close(r->srv, &r->out_w);
            stream_watch_close(r->srv, &r->err_w);
        }
        rc_check_done(r);
        return r->state == RC_RUNNING ? r->quiet_since + DRAIN_QUIET_NS : 0;
    }
    if (!r->exited && r->out_w.fd < 0 && r->err_w.fd < 0 && !r->polling && now >= r->next_poll) {
        struct rc_job *rj = berth_xcalloc(1, sizeof(*rj));
        rj->j.run = poll_run;
        rj->j.done = poll_done;
        rj->r = r;
        rj->handle = r->handle;
        r->polling = true;
        r->refs++;
        stream_job_submit(r->srv, &rj->j);
    }
    return 0;
}

static void rc_abort(struct stream_conn *c)
{
    struct rc_session *r = c->sess;

    if (!r)
        return;
    c->sess = NULL;
    r->c = NULL;
    stream_watch_close(r->srv, &r->in_w);
    stream_watch_close(r->srv, &r->out_w);
    stream_watch_close(r->srv, &r->err_w);
    stream_watch_close(r->srv, &r->att_w);
    if (r->state != RC_DONE) {
        log_info("%s session for %s ended before the %s did: connection closed",
                 is_exec(r) ? "exec" : "attach", r->req->id, is_exec(r) ? "process" : "container");
        r->state = RC_DONE;
    }
    /* A running exec whose client left is killed, as containerd cancels it. */
    rc_release(r, is_exec(r) && !r->exited);
    rc_put(r);
}

static const struct stream_session_ops rc_ops = {
    .stream_open = rc_stream_open,
    .stream_data = rc_stream_data,
    .stream_reset = rc_stream_reset,
    .out_ready = rc_out_ready,
    .tick = rc_tick,
    .abort = rc_abort,
};

void stream_remotecommand_begin(struct stream_conn *c, struct berth_stream_request *req,
                                int version)
{
    struct rc_session *r = berth_xcalloc(1, sizeof(*r));

    r->refs = 1;
    r->srv = c->srv;
    r->c = c;
    r->req = req;
    r->version = version;
    r->in_w.fd = r->out_w.fd = r->err_w.fd = r->att_w.fd = -1;
    r->expected = 1 + req->in + req->out + req->err + (req->tty && version >= 3);
    r->create_deadline = stream_now() + STREAM_CREATE_TIMEOUT_NS;
    c->ops = &rc_ops;
    c->sess = r;
    stream_conn_tick_at(c, r->create_deadline);
}

void stream_remotecommand_ws_channels(struct stream_conn *c)
{
    struct rc_session *r = c->sess;
    struct spdy_stream *first;

    /* Channels 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize: all there at once. */
    r->s_error = stream_conn_channel(c, 3, ST_ERROR);
    if (r->req->in)
        r->s_in = stream_conn_channel(c, 0, ST_STDIN);
    if (r->req->out)
        r->s_out = stream_conn_channel(c, 1, ST_STDOUT);
    if (r->req->err)
        r->s_err = stream_conn_channel(c, 2, ST_STDERR);
    if (r->req->tty)
        r->s_resize = stream_conn_channel(c, 4, ST_RESIZE);
    /* The server speaks first: an empty message on its lowest writable channel. */
    first = r->s_out ? r->s_out : r->s_err ? r->s_err : r->s_error;
    stream_conn_data(c, first, NULL, 0, false);
    r->arrived = r->expected;
    /* No waiting for a first size: these clients may never send one. */
    r->size_deadline = stream_now();
    rc_maybe_start(r);
}
