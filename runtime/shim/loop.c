/* SPDX-License-Identifier: Apache-2.0 */
/* The long-lived shim: one epoll loop, no threads. It owns the ttrpc listener and
 * connections (ttrpc/server.h's state machine), a signalfd for SIGCHLD (the shim is a child
 * subreaper, so container processes started by runc are reparented to it and reaped here),
 * the stdin/console copies, the CRI log copies (crilog.c) and the event publisher. */
#define BERTH_LOG_SUBSYS "shim"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/prctl.h> /* PR_SET_CHILD_SUBREAPER */
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "lib/log.h"
#include "runtime/shim/shim-internal.h"
#include "runtime/shim/shim.h"

struct conn_slot {
    struct shim_fd f; /* first: epoll data.ptr points here */
    struct berth_ttrpc_conn *conn;
    struct shim *s;
    struct conn_slot *prev, *next; /* s->conns */
};

void shim_watch(struct shim *s, struct shim_fd *f, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = f};

    if (epoll_ctl(s->ep, f->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, f->fd, &ev) < 0)
        log_warn_errno(errno, "watch fd %d", f->fd);
    f->events = events;
}

void shim_unwatch(struct shim *s, struct shim_fd *f)
{
    if (f->events)
        epoll_ctl(s->ep, EPOLL_CTL_DEL, f->fd, NULL);
    f->events = 0;
}

struct shim_proc *shim_proc_find(struct shim *s, const char *exec_id)
{
    for (struct shim_proc *p = s->procs; p; p = p->next)
        if ((!exec_id || !*exec_id) ? !p->exec_id : (p->exec_id && !strcmp(p->exec_id, exec_id)))
            return p;
    return NULL;
}

struct shim_proc *shim_init(struct shim *s)
{
    return shim_proc_find(s, NULL);
}

void shim_proc_free(struct shim_proc *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_waiters; i++)
        berth_ttrpc_pending_free(p->waiters[i]);
    free(p->waiters);
    free(p->exec_id);
    free(p->stdin_uri);
    free(p->stdout_uri);
    free(p->stderr_uri);
    if (p->spec_path)
        unlink(p->spec_path);
    free(p->spec_path);
    if (p->in_fifo.fd >= 0)
        close(p->in_fifo.fd);
    if (p->in_pipe.fd >= 0)
        close(p->in_pipe.fd);
    if (p->console.fd >= 0)
        close(p->console.fd);
    if (p->console_out.fd >= 0)
        close(p->console_out.fd);
    if (p->log_out.fd >= 0)
        close(p->log_out.fd);
    if (p->log_err.fd >= 0)
        close(p->log_err.fd);
    berth_buf_clear(&p->in_pend);
    berth_buf_clear(&p->out_pend);
    if (p->crilog) {
        berth_shim_crilog_flush(p->crilog, BERTH_SHIM_CRILOG_STDOUT);
        berth_shim_crilog_flush(p->crilog, BERTH_SHIM_CRILOG_STDERR);
        berth_shim_crilog_close(p->crilog);
    }
    free(p);
}

static void fd_close(struct shim *s, struct shim_fd *f)
{
    if (f->fd < 0)
        return;
    shim_unwatch(s, f);
    close(f->fd);
    f->fd = -1;
}

/* epoll interest: none unwatches (a registered fd would still report EPOLLHUP). */
static void watch_set(struct shim *s, struct shim_fd *f, uint32_t events)
{
    if (f->fd < 0)
        return;
    if (!events)
        shim_unwatch(s, f);
    else if (events != f->events)
        shim_watch(s, f, events);
}

void shim_proc_rewatch(struct shim *s, struct shim_proc *p)
{
    bool in_busy = berth_buf_pending(&p->in_pend) > 0;
    /* A CRI-logged output also waits for attach clients over their high-water mark. */
    bool out_busy = berth_buf_pending(&p->out_pend) > 0 || (p->crilog && shim_attach_blocked(s));

    /* Sources wait while their destination holds pending bytes. */
    watch_set(s, &p->in_fifo, in_busy ? 0 : EPOLLIN);
    watch_set(s, &p->in_pipe, in_busy ? EPOLLOUT : 0);
    watch_set(s, &p->console,
              (!out_busy && !p->console_eof ? EPOLLIN : 0) |
                  (in_busy && p->terminal ? EPOLLOUT : 0));
    watch_set(s, &p->console_out, berth_buf_pending(&p->out_pend) ? EPOLLOUT : 0);
    watch_set(s, &p->log_out, out_busy ? 0 : EPOLLIN);
    watch_set(s, &p->log_err, out_busy ? 0 : EPOLLIN);
    if (!p->exec_id)
        shim_attach_rewatch(s); /* attach clients' stdin waits for in_pend too */
}

/* The fd stdin bytes go to: the pipe, or the pty master of a terminal; NULL when gone. */
static struct shim_fd *stdin_dst(struct shim_proc *p)
{
    if (p->in_ended)
        return NULL;
    if (p->terminal)
        return p->console.fd >= 0 ? &p->console : NULL;
    return p->in_pipe.fd >= 0 ? &p->in_pipe : NULL;
}

/* write() that reports "no room" as 0: -1 only for a real error (errno set). */
static ssize_t write_some(int fd, const uint8_t *buf, size_t len)
{
    for (;;) {
        ssize_t n = write(fd, buf, len);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN ? 0 : -1;
    }
}

/* The stdin destination failed (EPIPE: nobody reads the process's stdin any more): the copy
 * ends, what is pending and what comes later is discarded. */
static void stdin_copy_end(struct shim *s, struct shim_proc *p)
{
    berth_buf_clear(&p->in_pend);
    p->in_ended = true;
    p->in_close_pending = false;
    fd_close(s, &p->in_fifo);
    fd_close(s, &p->in_pipe);
    shim_proc_rewatch(s, p);
}

void shim_stdin_write(struct shim *s, struct shim_proc *p, const uint8_t *buf, size_t len)
{
    struct shim_fd *dst = stdin_dst(p);

    if (!dst || !len)
        return;
    if (berth_buf_pending(&p->in_pend) == 0) {
        ssize_t n = write_some(dst->fd, buf, len);
        if (n < 0) {
            stdin_copy_end(s, p);
            return;
        }
        buf += n;
        len -= (size_t)n;
        if (!len)
            return;
    }
    berth_buf_append(&p->in_pend, buf, len);
    shim_proc_rewatch(s, p);
}

/* The stdin destination has room (or failed): writes what is pending. */
static void stdin_flush(struct shim *s, struct shim_proc *p, uint32_t events)
{
    struct shim_fd *dst = stdin_dst(p);
    ssize_t n;

    if (!dst || !berth_buf_pending(&p->in_pend))
        return;
    n = write_some(dst->fd, berth_buf_head(&p->in_pend), berth_buf_pending(&p->in_pend));
    /* no room although the fd hung up: nobody will ever make room */
    if (n < 0 || (n == 0 && (events & (EPOLLHUP | EPOLLERR)))) {
        stdin_copy_end(s, p);
        return;
    }
    berth_buf_consume(&p->in_pend, (size_t)n);
    if (berth_buf_pending(&p->in_pend))
        return;
    berth_buf_clear(&p->in_pend);
    if (p->in_close_pending) {
        p->in_close_pending = false;
        if (p->terminal)
            shim_stdin_write(s, p, (const uint8_t *)"\x04", 1);
        else
            fd_close(s, &p->in_pipe);
    }
    shim_proc_rewatch(s, p);
}

/* How much a CloseIO takes from the stdin FIFO before closing it: what a writer had put in
 * it (a FIFO holds 64 KiB unless resized) must still reach the process. */
#define STDIN_CLOSE_READS 64

void shim_stdin_close(struct shim *s, struct shim_proc *p)
{
    if (p->in_fifo.fd >= 0 && !p->in_ended) {
        uint8_t buf[16384];
        for (int i = 0; i < STDIN_CLOSE_READS; i++) {
            ssize_t n = read(p->in_fifo.fd, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            if (berth_buf_pending(&p->in_pend))
                berth_buf_append(&p->in_pend, buf, (size_t)n);
            else
                shim_stdin_write(s, p, buf, (size_t)n);
        }
    }
    fd_close(s, &p->in_fifo);
    if (berth_buf_pending(&p->in_pend) && stdin_dst(p)) {
        p->in_close_pending = true;
    } else if (p->terminal) {
        /* A terminal's stdin ends with EOT, as a user would type it. */
        shim_stdin_write(s, p, (const uint8_t *)"\x04", 1);
    } else {
        fd_close(s, &p->in_pipe);
    }
    shim_proc_rewatch(s, p);
}

/* The stdout FIFO of a terminal has room: writes what is pending, then lets the master be
 * read again. A failing FIFO ends the copy (later output is discarded). */
static void console_out_flush(struct shim *s, struct shim_proc *p)
{
    ssize_t n;

    if (p->console_out.fd < 0 || !berth_buf_pending(&p->out_pend))
        return;
    n = write_some(p->console_out.fd, berth_buf_head(&p->out_pend),
                   berth_buf_pending(&p->out_pend));
    if (n < 0) {
        log_warn_errno(errno, "process %s: terminal output copy ended",
                       p->exec_id ? p->exec_id : "init");
        berth_buf_clear(&p->out_pend);
        fd_close(s, &p->console_out);
    } else {
        berth_buf_consume(&p->out_pend, (size_t)n);
        if (!berth_buf_pending(&p->out_pend))
            berth_buf_clear(&p->out_pend);
    }
    /* The terminal ended and all it said is out: the reader sees EOF now, not at Delete. */
    if (p->console_eof && !berth_buf_pending(&p->out_pend))
        fd_close(s, &p->console_out);
    shim_proc_rewatch(s, p);
}

static int open_fifo_or_file(const char *uri, int flags_fifo, int flags_file, int *fd,
                             struct berth_err **err)
{
    enum berth_shim_io_kind kind;
    const char *path;

    *fd = -1;
    if (berth_shim_io_parse(uri, &kind, &path, err) < 0)
        return -1;
    if (kind == BERTH_SHIM_IO_NONE)
        return 0;
    if (kind == BERTH_SHIM_IO_CRILOG)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "\"%s\": a CRI log is only allowed as the init process's stdout (and "
                             "then stderr)",
                             uri);
    if (kind == BERTH_SHIM_IO_ATTACH)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "\"%s\": attach is only allowed as the init process's stdin", uri);
    *fd = open(path, (kind == BERTH_SHIM_IO_FIFO ? flags_fifo : flags_file) | O_CLOEXEC, 0644);
    if (*fd < 0)
        return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
                             "open stdio \"%s\"", path);
    return 0;
}

/* A pipe whose write end (*wfd, blocking: the process waits for the shim as it would for a
 * full FIFO) goes to the process and whose read end f the loop copies into the log. */
static int log_pipe(struct shim *s, struct shim_fd *f, int *wfd, struct berth_err **err)
{
    int pp[2];

    if (pipe2(pp, O_CLOEXEC) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "log pipe");
    fcntl(pp[0], F_SETFL, O_NONBLOCK);
    f->fd = pp[0];
    *wfd = pp[1];
    shim_watch(s, f, EPOLLIN);
    return 0;
}

/* stdout is crilog://: stderr must name the same log or nothing (a terminal has one output,
 * its stderr is ignored as runc ignores it). */
static int log_open(struct shim *s, struct shim_proc *p, int fds[3], struct berth_err **err)
{
    _cleanup_free_ char *path = NULL, *err_path = NULL;
    int64_t max, err_max;
    bool with_err = false;

    if (p->exec_id)
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                             "exec \"%s\": a CRI log is only for the init process", p->exec_id);
    if (berth_shim_crilog_uri_parse(p->stdout_uri, &path, &max, err) < 0)
        return -1;
    if (!p->terminal && *p->stderr_uri) {
        if (berth_shim_crilog_uri_parse(p->stderr_uri, &err_path, &err_max, err) < 0)
            return -1;
        if (strcmp(path, err_path) != 0 || err_max != max)
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "stderr \"%s\" is not the CRI log of stdout \"%s\"", p->stderr_uri,
                                 p->stdout_uri);
        with_err = true;
    }
    if (berth_shim_crilog_open(path, max, &p->crilog, err) < 0 || shim_attach_open(s, p, err) < 0)
        return -1;
    if (p->terminal)
        return 0; /* on_console copies the pty master's output */
    if (log_pipe(s, &p->log_out, &fds[1], err) < 0 ||
        (with_err && log_pipe(s, &p->log_err, &fds[2], err) < 0))
        return -1;
    return 0;
}

int shim_stdio_open(struct shim *s, struct shim_proc *p, int fds[3], struct berth_err **err)
{
    enum berth_shim_io_kind kind;
    const char *path;
    int out_flags = O_WRONLY | O_CREAT | O_APPEND;

    fds[0] = fds[1] = fds[2] = -1;
    /* stdin: a FIFO is copied through a pipe so CloseIO can close it; a file is handed over. */
    if (berth_shim_io_parse(p->stdin_uri, &kind, &path, err) < 0)
        return -1;
    if (kind == BERTH_SHIM_IO_FIFO) {
        int pp[2];
        p->in_fifo.fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (p->in_fifo.fd < 0)
            return berth_err_set(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_INTERNAL, errno,
                                 "open stdin \"%s\"", path);
        if (!p->terminal) {
            if (pipe2(pp, O_CLOEXEC) < 0)
                return berth_err_set(err, BERTH_E_INTERNAL, errno, "stdin pipe");
            fds[0] = pp[0];
            p->in_pipe.fd = pp[1];
            fcntl(p->in_pipe.fd, F_SETFL, O_NONBLOCK);
        }
        shim_watch(s, &p->in_fifo, EPOLLIN);
    } else if (kind == BERTH_SHIM_IO_FILE) {
        fds[0] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[0] < 0)
            return berth_err_set(err, BERTH_E_NOT_FOUND, errno, "open stdin \"%s\"", path);
    } else if (kind == BERTH_SHIM_IO_CRILOG) {
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "stdin \"%s\" cannot be a CRI log",
                             p->stdin_uri);
    } else if (kind == BERTH_SHIM_IO_ATTACH) {
        /* Fed by attach clients: the process gets a pipe (or its terminal) the shim holds. */
        enum berth_shim_io_kind out_kind;
        bool once;
        if (berth_shim_attach_uri_parse(p->stdin_uri, &once, err) < 0)
            return -1;
        if (p->exec_id || berth_shim_io_parse(p->stdout_uri, &out_kind, &path, err) < 0 ||
            out_kind != BERTH_SHIM_IO_CRILOG) {
            berth_err_free(err);
            return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0,
                                 "stdin \"%s\" needs the init process's stdout to be a CRI log",
                                 p->stdin_uri);
        }
        if (!p->terminal) {
            int pp[2];
            if (pipe2(pp, O_CLOEXEC) < 0)
                return berth_err_set(err, BERTH_E_INTERNAL, errno, "stdin pipe");
            fds[0] = pp[0];
            p->in_pipe.fd = pp[1];
            fcntl(p->in_pipe.fd, F_SETFL, O_NONBLOCK);
        }
    }
    if (berth_shim_io_parse(p->stdout_uri, &kind, &path, err) < 0)
        return -1;
    if (kind == BERTH_SHIM_IO_CRILOG)
        return log_open(s, p, fds, err);
    /* stdout/stderr FIFOs are handed to the process itself (O_RDWR never blocks on open and
     * the client's reader sees EOF once the process and its children are gone): no copy. */
    if (p->terminal)
        return open_fifo_or_file(p->stdout_uri, O_RDWR | O_NONBLOCK, out_flags, &p->console_out.fd,
                                 err);
    if (open_fifo_or_file(p->stdout_uri, O_RDWR, out_flags, &fds[1], err) < 0 ||
        open_fifo_or_file(p->stderr_uri, O_RDWR, out_flags, &fds[2], err) < 0)
        return -1;
    return 0;
}

int shim_console_recv(struct shim *s, struct shim_proc *p, int sock, struct berth_err **err)
{
    char cbuf[CMSG_SPACE(sizeof(int))], name[256];
    struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *c;
    _cleanup_close_ int conn = -1;
    struct pollfd pf = {.fd = sock, .events = POLLIN};

    if (poll(&pf, 1, 5000) <= 0)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "runtime sent no console");
    conn = accept4(sock, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "accept console socket");
    if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) < 0)
        return berth_err_set(err, BERTH_E_INTERNAL, errno, "receive console");
    c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS)
        return berth_err_set(err, BERTH_E_INTERNAL, 0, "runtime sent no console fd");
    memcpy(&p->console.fd, CMSG_DATA(c), sizeof(int));
    fcntl(p->console.fd, F_SETFL, O_NONBLOCK);
    shim_watch(s, &p->console, EPOLLIN);
    return 0;
}

static void on_stdin(struct shim *s, struct shim_proc *p)
{
    uint8_t buf[32768];
    ssize_t n;

    if (berth_buf_pending(&p->in_pend))
        return; /* not watched meanwhile; a stale event of this batch */
    n = read(p->in_fifo.fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        /* The client closed its end: the process sees EOF (a terminal keeps its master). */
        fd_close(s, &p->in_fifo);
        if (!p->terminal)
            fd_close(s, &p->in_pipe);
        return;
    }
    shim_stdin_write(s, p, buf, (size_t)n);
}

/* Reports (at most every LOG_DROPS_EVERY_NS) that the CRI log dropped lines. */
#define LOG_DROPS_EVERY_NS (10 * 1000000000LL)
static void log_drops_report(struct shim_proc *p)
{
    struct berth_shim_crilog_drops d;
    int64_t now;

    berth_shim_crilog_get_drops(p->crilog, &d);
    if (d.lines == p->log_drops_told)
        return;
    now = berth_mono_ns();
    if (p->log_drops_told_ns && now - p->log_drops_told_ns < LOG_DROPS_EVERY_NS)
        return;
    log_warn_errno(d.last_errno, "container log \"%s\": %llu lines (%llu bytes) dropped so far",
                   berth_shim_crilog_path(p->crilog), (unsigned long long)d.lines,
                   (unsigned long long)d.bytes);
    p->log_drops_told = d.lines;
    p->log_drops_told_ns = now;
}

/* Copies up to max_reads reads of one log pipe into the log. At EOF the stream's partial
 * line is written and the pipe closed. */
static void log_pump(struct shim *s, struct shim_proc *p, struct shim_fd *f,
                     enum berth_shim_crilog_stream stream, int max_reads)
{
    uint8_t buf[16384];

    for (int i = 0; i < max_reads && f->fd >= 0; i++) {
        ssize_t n = read(f->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            log_debug("container log \"%s\": %s ended", berth_shim_crilog_path(p->crilog),
                      stream == BERTH_SHIM_CRILOG_STDOUT ? "stdout" : "stderr");
            berth_shim_crilog_flush(p->crilog, stream);
            shim_unwatch(s, f);
            close(f->fd);
            f->fd = -1;
            break;
        }
        berth_shim_crilog_feed(p->crilog, stream, buf, (size_t)n);
        shim_attach_output(s,
                           stream == BERTH_SHIM_CRILOG_STDOUT ? BERTH_SHIM_ATTACH_STDOUT
                                                              : BERTH_SHIM_ATTACH_STDERR,
                           buf, (size_t)n);
    }
    log_drops_report(p);
}

/* Returns true when it read something (more may follow). */
static bool on_console(struct shim *s, struct shim_proc *p)
{
    uint8_t buf[16384];
    ssize_t n;

    /* The stdout FIFO is full: the master is read again once it took the pending bytes. */
    if (p->console_eof || berth_buf_pending(&p->out_pend))
        return false;
    n = read(p->console.fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return false;
    if (n <= 0) {
        /* EIO: every holder of the pty slave is gone. */
        p->console_eof = true;
        if (!berth_buf_pending(&p->out_pend))
            fd_close(s, &p->console_out); /* EOF for the stdout FIFO's reader */
        shim_proc_rewatch(s, p);
        if (p->crilog) {
            log_debug("container log \"%s\": terminal ended", berth_shim_crilog_path(p->crilog));
            berth_shim_crilog_flush(p->crilog, BERTH_SHIM_CRILOG_STDOUT);
        }
        return false;
    }
    if (p->crilog) {
        berth_shim_crilog_feed(p->crilog, BERTH_SHIM_CRILOG_STDOUT, buf, (size_t)n);
        shim_attach_output(s, BERTH_SHIM_ATTACH_STDOUT, buf, (size_t)n);
        log_drops_report(p);
    } else if (p->console_out.fd >= 0) {
        berth_buf_append(&p->out_pend, buf, (size_t)n);
        console_out_flush(s, p);
    }
    return true;
}

/* How much of a CRI log's pipes (16 KiB reads) is copied before an exit is reported: all a
 * dead container left in them; the bound only matters when a process outside its pid
 * namespace still holds a pipe and keeps writing. */
#define LOG_DRAIN_READS 64

void shim_log_drain(struct shim *s, struct shim_proc *p)
{
    if (!p->crilog)
        return;
    if (p->terminal) {
        for (int i = 0; i < LOG_DRAIN_READS * 4 && p->console.fd >= 0; i++)
            if (!on_console(s, p))
                break;
        return;
    }
    log_pump(s, p, &p->log_out, BERTH_SHIM_CRILOG_STDOUT, LOG_DRAIN_READS);
    log_pump(s, p, &p->log_err, BERTH_SHIM_CRILOG_STDERR, LOG_DRAIN_READS);
}

int shim_log_reopen(struct shim *s, struct shim_proc *p, struct berth_err **err)
{
    (void)s;
    if (!p->crilog)
        return berth_err_set(err, BERTH_E_FAILED_PRECONDITION, 0,
                             "process has no CRI log to reopen");
    return berth_shim_crilog_reopen(p->crilog, err);
}

static struct shim_proc *proc_of_fd(struct shim *s, struct shim_fd *f)
{
    for (struct shim_proc *p = s->procs; p; p = p->next)
        if (&p->in_fifo == f || &p->in_pipe == f || &p->console == f || &p->console_out == f ||
            &p->log_out == f || &p->log_err == f)
            return p;
    return NULL;
}

static void reap(struct shim *s)
{
    struct signalfd_siginfo si;
    int st;
    pid_t pid;

    while (read(s->sig.fd, &si, sizeof(si)) == sizeof(si))
        ;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        if (pid == s->bg_delete) {
            s->bg_delete = 0;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                log_warn("%s delete --force %s failed (status %d)", s->runtime, s->id, st);
            continue;
        }
        for (struct shim_proc *p = s->procs; p; p = p->next) {
            if (p->pid != pid || p->exited)
                continue;
            p->exited = true;
            p->status = SHIM_STOPPED;
            p->exit_status = berth_shim_wait_status(st);
            p->exited_ns = berth_now_ns();
            /* Drain what the terminal or the log pipes still hold before the exit is
             * reported: kubelet reads the log once it sees the exit. */
            if (p->crilog) {
                shim_log_drain(s, p);
                /* attach clients get what is queued, then EOF: the container ended */
                if (!p->exec_id)
                    shim_attach_end(s);
            } else if (p->console.fd >= 0)
                on_console(s, p);
            shim_proc_exited(s, p);
            break;
        }
    }
}

static void wake_cb(struct berth_ttrpc_conn *conn, void *udata)
{
    struct conn_slot *cs = udata;

    shim_watch(cs->s, &cs->f, EPOLLIN | EPOLLOUT);
}

static void conn_drop(struct shim *s, struct conn_slot *cs)
{
    shim_unwatch(s, &cs->f);
    berth_ttrpc_conn_close(cs->conn);
    if (cs->prev)
        cs->prev->next = cs->next;
    else
        s->conns = cs->next;
    if (cs->next)
        cs->next->prev = cs->prev;
    free(cs);
    s->n_conns--;
}

static void on_accept(struct shim *s)
{
    for (;;) {
        _cleanup_err_ struct berth_err *e = NULL;
        struct conn_slot *cs;
        int fd = accept4(s->listen.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd < 0)
            return;
        cs = berth_xcalloc(1, sizeof(*cs));
        cs->f = (struct shim_fd){.kind = FD_CONN, .fd = fd};
        cs->s = s;
        if (berth_ttrpc_conn_new(s->srv, fd, &cs->conn, &e) < 0) {
            log_warn("%s", e->msg);
            free(cs);
            continue;
        }
        berth_ttrpc_conn_set_udata(cs->conn, cs);
        cs->next = s->conns;
        if (s->conns)
            s->conns->prev = cs;
        s->conns = cs;
        s->n_conns++;
        shim_watch(s, &cs->f, EPOLLIN);
    }
}

static void on_conn(struct shim *s, struct conn_slot *cs, uint32_t events)
{
    _cleanup_err_ struct berth_err *e = NULL;
    int rc = 0;
    uint32_t want;

    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        rc = berth_ttrpc_conn_on_readable(cs->conn, &e);
    if (rc == 0 && (events & EPOLLOUT))
        rc = berth_ttrpc_conn_on_writable(cs->conn, &e);
    if (rc < 0) {
        if (e->code != BERTH_E_UNAVAILABLE)
            log_warn("%s", e->msg);
        conn_drop(s, cs);
        return;
    }
    want = (berth_ttrpc_conn_wants_read(cs->conn) ? EPOLLIN : 0) |
           (berth_ttrpc_conn_wants_write(cs->conn) ? EPOLLOUT : 0);
    if (want != cs->f.events)
        shim_watch(s, &cs->f, want ? want : EPOLLIN);
}

int berth_shim_serve(struct shim *s, int listen_fd)
{
    static const struct berth_ttrpc_service *const svcs[] = {&shim_task_service};
    struct epoll_event evs[16];
    sigset_t mask;

    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->sig =
        (struct shim_fd){.kind = FD_SIGNAL, .fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)};
    s->listen = (struct shim_fd){.kind = FD_LISTEN, .fd = listen_fd};
    if (s->ep < 0 || s->sig.fd < 0) {
        log_error_errno(errno, "set up the event loop");
        return 1;
    }
    fcntl(listen_fd, F_SETFL, O_NONBLOCK);
    shim_watch(s, &s->sig, EPOLLIN);
    shim_watch(s, &s->listen, EPOLLIN);
    s->srv = berth_ttrpc_server_new(svcs, BERTH_N(svcs), s);
    berth_ttrpc_server_set_wake(s->srv, wake_cb);
    shim_events_init(s, getenv("TTRPC_ADDRESS"));

    /* Leave once Shutdown was accepted and its answer is written (or its caller gone), and
     * the background runc delete is done (no runc state or cgroup left behind). */
    while (!(s->shutdown && s->n_conns == 0 && s->bg_delete <= 0)) {
        int n = epoll_wait(s->ep, evs, BERTH_N(evs), s->shutdown ? 100 : -1);
        if (n < 0 && errno != EINTR) {
            log_error_errno(errno, "epoll_wait");
            break;
        }
        if (n == 0 && s->shutdown && s->bg_delete <= 0)
            break;
        for (int i = 0; i < n; i++) {
            struct shim_fd *f = evs[i].data.ptr;
            switch (f->kind) {
            case FD_LISTEN:
                on_accept(s);
                break;
            case FD_SIGNAL:
                reap(s);
                break;
            case FD_CONN:
                on_conn(s, (struct conn_slot *)f, evs[i].events);
                /* A slot may be freed: events of the batch refer to fds, not slots we touch
                 * again, except another slot; epoll returns each fd at most once. */
                break;
            case FD_EVENTS:
                shim_events_on_io(s, evs[i].events);
                break;
            case FD_TIMER:
                shim_events_on_timer(s);
                break;
            case FD_STDIN: {
                struct shim_proc *p = proc_of_fd(s, f);
                if (p)
                    on_stdin(s, p);
                break;
            }
            case FD_STDIN_PIPE: {
                struct shim_proc *p = proc_of_fd(s, f);
                if (p)
                    stdin_flush(s, p, evs[i].events);
                break;
            }
            case FD_CONSOLE: {
                /* One fd, two copies: stdin waiting for room, output to read. */
                struct shim_proc *p = proc_of_fd(s, f);
                if (p && (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
                    stdin_flush(s, p, evs[i].events);
                if (p && p->console.fd >= 0 && (f->events & EPOLLIN))
                    on_console(s, p);
                break;
            }
            case FD_ATTACH_LISTEN:
            case FD_ATTACH_CLIENT:
            case FD_ATTACH_TIMER:
                shim_attach_on_event(s, f, evs[i].events);
                break;
            case FD_CONSOLE_OUT: {
                struct shim_proc *p = proc_of_fd(s, f);
                if (p)
                    console_out_flush(s, p);
                break;
            }
            case FD_LOG_OUT:
            case FD_LOG_ERR: {
                /* One read at a time: a chatty container must not starve the loop. */
                struct shim_proc *p = proc_of_fd(s, f);
                if (p && f->fd >= 0)
                    log_pump(s, p, f,
                             f->kind == FD_LOG_OUT ? BERTH_SHIM_CRILOG_STDOUT
                                                   : BERTH_SHIM_CRILOG_STDERR,
                             1);
                break;
            }
            }
        }
        shim_attach_gc(s);
    }
    /* A client that never closed its connection (the 100 ms after Shutdown passed): its
     * connection goes with us. */
    while (s->conns)
        conn_drop(s, s->conns);
    shim_attach_close(s);
    shim_attach_gc(s);
    shim_events_drain(s, 2000);
    unlink(s->socket_path);
    return 0;
}
