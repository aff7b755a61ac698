/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API socket, owned here rather than by gRPC core: 1.51 stops accepting for good after
 * one failed accept (EMFILE; grpc/grpc#16058) and has no connection limit. One thread runs an
 * epoll loop that accepts, closes what is over the connection cap, waits (without a thread per
 * connection) for each new connection's HTTP/2 preface, and hands the connection to gRPC
 * (grpc_server_add_channel_from_fd) only once the preface is there, so a client that connects
 * and sends nothing, or sends something else, costs a slot for preface_ms at most. Out of
 * descriptors, it drops the oldest waiting connection through a reserve descriptor and pauses
 * accepting briefly instead of spinning or giving up.
 *
 * Connections handed over are counted by descriptor and inode: gRPC closes them without
 * telling us, so a descriptor whose inode changed (or that is closed) has gone.
 */
#define BERTH_LOG_SUBSYS "server"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "services/server/server-internal.h"

#define PREFACE     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN 24
#define KEY_LISTEN  UINT64_MAX
#define KEY_STOP    (UINT64_MAX - 1)
#define PAUSE_MS    100 /* no accepting after running out of descriptors */
#define SWEEP_MS    100 /* recount open connections at most this often when full */

struct conn {
    int fd;
    dev_t dev;
    ino_t ino;
};

struct pend {
    int fd;
    int64_t deadline;
};

struct berth_listener {
    struct berth_listener_opts o;
    char *path;
    int lfd, efd, stop_fd, reserve_fd;
    pthread_t thread;
    bool started, stopped, paused;
    int64_t pause_until, next_tick, last_sweep;

    pthread_mutex_t mu; /* n_conns, n_pend and st: read by other threads */
    struct conn *conns;
    size_t n_conns;
    struct pend *pend;
    size_t n_pend;
    struct berth_listener_stats st;
    struct berth_ratelimit *rl;
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int berth_listener_open(const struct berth_listener_opts *opts, struct berth_listener **out,
                        struct berth_err **err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct berth_listener *l;
    struct stat sb;

    *out = NULL;
    if (strlen(opts->path) >= sizeof(sa.sun_path))
        return berth_err_set(err, BERTH_E_INVALID_ARGUMENT, 0, "socket path \"%s\" is too long",
                             opts->path);
    strcpy(sa.sun_path, opts->path);
    l = berth_xcalloc(1, sizeof(*l));
    l->o = *opts;
    l->path = berth_xstrdup(opts->path);
    l->o.path = l->path;
    l->lfd = l->efd = l->stop_fd = l->reserve_fd = -1;
    pthread_mutex_init(&l->mu, NULL);
    l->conns = berth_xcalloc(opts->max_conns, sizeof(*l->conns));
    l->pend = berth_xcalloc(opts->max_conns, sizeof(*l->pend));
    l->st.max = opts->max_conns;
    l->rl = berth_ratelimit_new(8, 10 * 1000000000LL);

    /* The caller checked that no live server answers here: a socket left by a crash goes;
     * anything else at the path is not ours to remove. */
    if (lstat(l->path, &sb) == 0 && S_ISSOCK(sb.st_mode))
        unlink(l->path);
    l->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (l->lfd < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "socket");
        goto fail;
    }
    if (bind(l->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        berth_err_set(err, BERTH_E_UNAVAILABLE, errno, "cannot listen on \"%s\"", l->path);
        goto fail;
    }
    /* Bound, not yet listening: nobody can connect before the mode is tight. */
    if (chmod(l->path, 0660) < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "chmod socket \"%s\"", l->path);
        goto fail_unlink;
    }
    if (opts->socket_gid != (unsigned)-1 && chown(l->path, 0, opts->socket_gid) < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "chown socket \"%s\"", l->path);
        goto fail_unlink;
    }
    if (listen(l->lfd, 4096) < 0) {
        berth_err_set(err, BERTH_E_UNAVAILABLE, errno, "listen on \"%s\"", l->path);
        goto fail_unlink;
    }
    l->efd = epoll_create1(EPOLL_CLOEXEC);
    l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (l->efd < 0 || l->stop_fd < 0 || l->reserve_fd < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "set up the accept loop");
        goto fail_unlink;
    }
    if (epoll_ctl(l->efd, EPOLL_CTL_ADD, l->lfd,
                  &(struct epoll_event){.events = EPOLLIN, .data.u64 = KEY_LISTEN}) < 0 ||
        epoll_ctl(l->efd, EPOLL_CTL_ADD, l->stop_fd,
                  &(struct epoll_event){.events = EPOLLIN, .data.u64 = KEY_STOP}) < 0) {
        berth_err_set(err, BERTH_E_INTERNAL, errno, "epoll_ctl");
        goto fail_unlink;
    }
    *out = l;
    return 0;

fail_unlink:
    unlink(l->path);
fail:
    l->stopped = true;
    berth_listener_free(l);
    return -1;
}

/* Drops handed-over connections gRPC has closed since (descriptor closed or reused). */
static void sweep(struct berth_listener *l, int64_t now)
{
    size_t j = 0;

    l->last_sweep = now;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->n_conns; i++) {
        struct stat sb;
        struct conn *c = &l->conns[i];
        if (fstat(c->fd, &sb) < 0 || sb.st_ino != c->ino || sb.st_dev != c->dev ||
            !S_ISSOCK(sb.st_mode))
            continue;
        l->conns[j++] = *c;
    }
    l->n_conns = j;
    pthread_mutex_unlock(&l->mu);
}

/* Counts one event in st (other threads read it). */
static void bump(struct berth_listener *l, uint64_t *counter)
{
    pthread_mutex_lock(&l->mu);
    (*counter)++;
    pthread_mutex_unlock(&l->mu);
}

static void pend_drop(struct berth_listener *l, size_t i)
{
    epoll_ctl(l->efd, EPOLL_CTL_DEL, l->pend[i].fd, NULL);
    close(l->pend[i].fd);
    pthread_mutex_lock(&l->mu);
    l->pend[i] = l->pend[--l->n_pend];
    pthread_mutex_unlock(&l->mu);
}

static void pause_accepting(struct berth_listener *l, int64_t now)
{
    l->paused = true;
    l->pause_until = now + PAUSE_MS * 1000000LL;
    epoll_ctl(l->efd, EPOLL_CTL_MOD, l->lfd,
              &(struct epoll_event){.events = 0, .data.u64 = KEY_LISTEN});
}

static void resume_accepting(struct berth_listener *l)
{
    l->paused = false;
    epoll_ctl(l->efd, EPOLL_CTL_MOD, l->lfd,
              &(struct epoll_event){.events = EPOLLIN, .data.u64 = KEY_LISTEN});
}

/* Out of descriptors: the kernel keeps the connection queued and epoll keeps reporting it, so
 * drain one through the reserve descriptor (its client sees the connection close at once
 * rather than hang) and stop accepting for a moment. */
static void out_of_fds(struct berth_listener *l, int errnum, int64_t now)
{
    char note[BERTH_RATELIMIT_NOTE_MAX];
    uint64_t held;
    int fd;

    bump(l, &l->st.emfile);
    close_fd(&l->reserve_fd);
    fd = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        close(fd);
    l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pause_accepting(l, now);
    if (berth_ratelimit_pass(l->rl, "emfile", 6, &held))
        log_warn("accept on \"%s\": %s: connection closed, accepting again in %d ms%s", l->path,
                 strerror(errnum), PAUSE_MS, berth_ratelimit_note(held, note));
}

static void on_accept(struct berth_listener *l, int64_t now)
{
    for (int round = 0; round < 64; round++) {
        int fd = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        char note[BERTH_RATELIMIT_NOTE_MAX];
        uint64_t held;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                out_of_fds(l, errno, now);
                return;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                /* ENOBUFS, ENOMEM: the listener stays; try again shortly */
                if (berth_ratelimit_pass(l->rl, "accept", 6, &held))
                    log_warn_errno(errno, "accept on \"%s\"", l->path);
                pause_accepting(l, now);
            }
            return;
        }
        /* The descriptor may be one gRPC closed: that connection is gone. */
        for (size_t i = 0; i < l->n_conns; i++)
            if (l->conns[i].fd == fd) {
                pthread_mutex_lock(&l->mu);
                l->conns[i] = l->conns[--l->n_conns];
                pthread_mutex_unlock(&l->mu);
                break;
            }
        if (l->n_conns + l->n_pend >= l->o.max_conns && now - l->last_sweep >= SWEEP_MS * 1000000LL)
            sweep(l, now);
        if (l->n_conns + l->n_pend >= l->o.max_conns) {
            bump(l, &l->st.refused_full);
            close(fd);
            if (berth_ratelimit_pass(l->rl, "full", 4, &held))
                log_warn("connection refused: %zu connections open (limit %u)%s",
                         l->n_conns + l->n_pend, l->o.max_conns, berth_ratelimit_note(held, note));
            continue;
        }
        /* Edge-triggered: the preface is only peeked at, so level-triggered would spin on a
         * partial one. */
        if (epoll_ctl(l->efd, EPOLL_CTL_ADD, fd,
                      &(struct epoll_event){.events = EPOLLIN | EPOLLRDHUP | EPOLLET,
                                            .data.u64 = (uint64_t)fd}) < 0) {
            close(fd);
            continue;
        }
        pthread_mutex_lock(&l->mu);
        l->pend[l->n_pend++] = (struct pend){fd, now + l->o.preface_ms * 1000000LL};
        l->st.accepted++;
        pthread_mutex_unlock(&l->mu);
    }
}

/* A waiting connection has data (or hung up): hand it over once the whole preface is there. */
static void on_pending(struct berth_listener *l, int fd)
{
    char buf[PREFACE_LEN];
    struct stat sb;
    size_t i;
    ssize_t n;

    for (i = 0; i < l->n_pend && l->pend[i].fd != fd; i++)
        ;
    if (i == l->n_pend)
        return;
    n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0 || memcmp(buf, PREFACE, (size_t)n) != 0) {
        if (n > 0) {
            bump(l, &l->st.refused_preface);
            log_debug("connection closed: it did not start with the HTTP/2 preface");
        }
        pend_drop(l, i);
        return;
    }
    if (n < PREFACE_LEN)
        return; /* the rest follows */
    if (fstat(fd, &sb) < 0) {
        pend_drop(l, i);
        return;
    }
    epoll_ctl(l->efd, EPOLL_CTL_DEL, fd, NULL);
    pthread_mutex_lock(&l->mu);
    l->pend[i] = l->pend[--l->n_pend];
    l->conns[l->n_conns++] = (struct conn){fd, sb.st_dev, sb.st_ino};
    pthread_mutex_unlock(&l->mu);
    l->o.on_conn(l->o.arg, fd);
}

static void expire_pending(struct berth_listener *l, int64_t now)
{
    for (size_t i = 0; i < l->n_pend;) {
        if (now < l->pend[i].deadline) {
            i++;
            continue;
        }
        bump(l, &l->st.timed_out);
        pend_drop(l, i);
    }
}

static int wait_ms(struct berth_listener *l, int64_t now)
{
    int64_t until = l->next_tick;

    for (size_t i = 0; i < l->n_pend; i++)
        if (l->pend[i].deadline < until)
            until = l->pend[i].deadline;
    if (l->paused && l->pause_until < until)
        until = l->pause_until;
    if (until <= now)
        return 0;
    return (int)((until - now + 999999) / 1000000);
}

static void *listener_main(void *arg)
{
    struct berth_listener *l = arg;
    struct epoll_event evs[64];

    l->next_tick = berth_mono_ns() + l->o.tick_ms * 1000000LL;
    for (;;) {
        int64_t now = berth_mono_ns();
        int n = epoll_wait(l->efd, evs, BERTH_N(evs), wait_ms(l, now));

        now = berth_mono_ns();
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == KEY_STOP)
                return NULL;
            if (evs[i].data.u64 == KEY_LISTEN)
                on_accept(l, now);
            else
                on_pending(l, (int)evs[i].data.u64);
        }
        expire_pending(l, now);
        if (l->paused && now >= l->pause_until)
            resume_accepting(l);
        if (now >= l->next_tick) {
            sweep(l, now);
            if (l->o.tick)
                l->o.tick(l->o.arg, now);
            l->next_tick = now + l->o.tick_ms * 1000000LL;
        }
    }
}

int berth_listener_start(struct berth_listener *l, struct berth_err **err)
{
    int rc = pthread_create(&l->thread, NULL, listener_main, l);

    if (rc != 0)
        return berth_err_set(err, BERTH_E_INTERNAL, rc, "start accept thread");
    l->started = true;
    return 0;
}

void berth_listener_stop(struct berth_listener *l)
{
    if (l->stopped)
        return;
    l->stopped = true;
    /* New connections fail at once (ENOENT), as they did when gRPC owned the socket. */
    unlink(l->path);
    if (l->started) {
        if (eventfd_write(l->stop_fd, 1) < 0)
            log_warn_errno(errno, "stop the accept loop");
        pthread_join(l->thread, NULL);
    }
    close_fd(&l->lfd);
    while (l->n_pend)
        pend_drop(l, 0);
}

void berth_listener_free(struct berth_listener *l)
{
    if (!l)
        return;
    berth_listener_stop(l);
    close_fd(&l->lfd);
    close_fd(&l->efd);
    close_fd(&l->stop_fd);
    close_fd(&l->reserve_fd);
    pthread_mutex_destroy(&l->mu);
    berth_ratelimit_free(l->rl);
    free(l->conns);
    free(l->pend);
    free(l->path);
    free(l);
}

size_t berth_listener_conns(struct berth_listener *l)
{
    size_t n;

    pthread_mutex_lock(&l->mu);
    n = l->n_conns + l->n_pend;
    pthread_mutex_unlock(&l->mu);
    return n;
}

void berth_listener_stats(struct berth_listener *l, struct berth_listener_stats *out)
{
    pthread_mutex_lock(&l->mu);
    *out = l->st;
    out->open = l->n_conns + l->n_pend;
    pthread_mutex_unlock(&l->mu);
}
